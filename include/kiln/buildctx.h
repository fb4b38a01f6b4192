/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The build context: the files a Dockerfile's COPY and ADD read.
 *
 *  - Go path/filepath.Match, the matcher of COPY/ADD source wildcards;
 *  - .dockerignore (moby/patternmatcher as BuildKit uses it): parsing,
 *    matching, and which ignore file a build reads;
 *  - a context opened from a directory or unpacked from a tar stream,
 *    with the ignore rules applied to every lookup, walk and hash, and
 *    every path resolved inside the context (an escape is an error).
 *
 * Paths handed in are context-relative with "/" separators; a leading "/"
 * means the context root. See docs/internals/buildctx.md.
 */
#pragma once

#include <sys/stat.h>
#include "kiln/base.h"

/* ---- Go path/filepath.Match ---- */

/*
 * Match name against pattern with Go's filepath.Match semantics: '*' (any
 * run of non-'/' characters), '?' (one non-'/' character), '[' ['^']
 * ranges ']' (a character class; "a-z" ranges; '\' escapes), '\' escaping
 * the next character. Returns 1 on a match, 0 on none, -KILN_EFORMAT for a
 * malformed pattern (Go's ErrBadPattern: an unclosed class, "[]", "[-]",
 * "[a-]", a trailing '\', ...), whatever name is.
 */
int kiln_buildctx_path_match(const char *pattern, const char *name);

/* Does a COPY source contain an unescaped '*', '?' or '['? (BuildKit's
 * rule for "this source is a wildcard".) */
bool kiln_buildctx_has_wildcards(const char *pattern);

/* Go's filepath.Clean: a new string (caller frees); "" becomes ".". */
char *kiln_buildctx_clean(const char *path);
/* The same for an absolute path ("a/../b" is taken as "/a/../b" -> "/b"). */
char *kiln_buildctx_clean_abs(const char *path);

/* ---- .dockerignore ---- */

struct kiln_dockerignore;

/*
 * Parse the text of a .dockerignore file (moby/patternmatcher/ignorefile):
 * a UTF-8 BOM is dropped, lines starting with '#' are comments, each line
 * is trimmed, empty lines are skipped, a leading '!' makes an exception,
 * patterns are cleaned (filepath.Clean) and a leading '/' is dropped.
 * -KILN_EFORMAT for a malformed pattern or a lone "!", -KILN_ETOOBIG for a
 * line over 64 KiB. *ret is never NULL on success (maybe with no pattern).
 */
int kiln_dockerignore_parse(const char *data, size_t len, struct kiln_dockerignore **ret,
                            struct kiln_error *err);

/* Build a matcher from patterns as given to patternmatcher.New ("!x" for
 * an exception); empty ones are skipped. */
int kiln_dockerignore_new(char *const *patterns, struct kiln_dockerignore **ret,
                          struct kiln_error *err);

void kiln_dockerignore_free(struct kiln_dockerignore *ig);
KILN_DEFINE_CLEANUP(struct kiln_dockerignore *, kiln_dockerignore_free)

/* The cleaned patterns, in order, exceptions with their '!' (owned by ig). */
size_t kiln_dockerignore_count(const struct kiln_dockerignore *ig);
const char *kiln_dockerignore_pattern(const struct kiln_dockerignore *ig, size_t i);

/*
 * Does the pattern list exclude relpath? A pattern matches a path when it
 * matches the path itself or one of its parent directories; the last
 * pattern that matches decides (an exception re-includes). "." and "" are
 * never excluded. ig may be NULL (nothing excluded).
 */
bool kiln_dockerignore_matches(const struct kiln_dockerignore *ig, const char *relpath);

/*
 * For a directory that kiln_dockerignore_matches() excludes: must it
 * still be walked because an exception might re-include something inside
 * it? (BuildKit: yes when some exception holds a wildcard, or when an
 * exception, less a trailing "/ *" or "/ **", lies under the directory.)
 */
bool kiln_dockerignore_walk_excluded_dir(const struct kiln_dockerignore *ig,
                                         const char *reldir);

/*
 * The ignore file a build reads: "<dockerfile>.dockerignore" next to the
 * Dockerfile when it exists, else "<ctx_dir>/.dockerignore", else
 * "<ctx_dir>/.containerignore" (podman's name). dockerfile is the path as
 * given to -f (NULL: "<ctx_dir>/Dockerfile"; "-": stdin, so only the
 * context's files count). *ret_path is a new string, or NULL when there
 * is no ignore file. Returns 0 or -errno of a failed lookup.
 */
int kiln_dockerignore_find(const char *ctx_dir, const char *dockerfile, char **ret_path);

/* ---- the context ---- */

struct kiln_buildctx;

/*
 * Open a directory as the build context. The ignore file is chosen with
 * kiln_dockerignore_find(dir, dockerfile) and parsed now; a malformed one
 * is an error. Nothing else is read until asked.
 */
int kiln_buildctx_open_dir(const char *dir, const char *dockerfile, struct kiln_buildctx **ret,
                           struct kiln_error *err);

struct kiln_buildctx_tar_opts {
        int64_t max_size;     /* bytes of file data; 0 = 64 GiB */
        uint64_t max_entries; /* 0 = 10 million */
};

/*
 * Unpack a context tar read from fd (plain, gzip, bzip2, xz or zstd,
 * detected) into a new private directory (mode 0700) under tmpdir, then
 * open it like a directory context. dockerfile is the Dockerfile's path
 * inside the context (NULL: "Dockerfile"; "-": given separately) and picks
 * the ignore file inside the unpacked tree; entries it excludes are then
 * removed. Entries are unpacked safely: ".." names are refused
 * (-KILN_EUNSAFE), every path is resolved inside the directory, device
 * nodes and fifos are skipped with a warning, owners are kept when root.
 * kiln_buildctx_free() removes the directory.
 */
int kiln_buildctx_open_tar(int fd, const char *tmpdir, const char *dockerfile,
                           const struct kiln_buildctx_tar_opts *opts,
                           struct kiln_buildctx **ret, struct kiln_error *err);

/* Close the context (and remove a tar context's directory). Takes NULL. */
void kiln_buildctx_free(struct kiln_buildctx *ctx);
KILN_DEFINE_CLEANUP(struct kiln_buildctx *, kiln_buildctx_free)

/* The context's root directory fd (owned by ctx) and path. */
int kiln_buildctx_dirfd(const struct kiln_buildctx *ctx);
const char *kiln_buildctx_path(const struct kiln_buildctx *ctx);
/* The parsed ignore rules (NULL when there was no ignore file). */
const struct kiln_dockerignore *kiln_buildctx_ignore(const struct kiln_buildctx *ctx);

enum kiln_buildctx_state {
        KILN_BUILDCTX_INCLUDED = 0,
        KILN_BUILDCTX_EXCLUDED = 1,
        /* a directory excluded itself, walked because an exception may
         * re-include something under it (it exists in the context only
         * as the parent of what is re-included) */
        KILN_BUILDCTX_EXCLUDED_WALKED = 2,
};

/*
 * Is relpath (context-relative, cleaned here) part of the context after
 * the ignore rules? Takes the walk into account: an entry under an
 * excluded directory that is not walked is excluded whatever the later
 * patterns say. Lexical only: symlinks are not resolved.
 */
enum kiln_buildctx_state kiln_buildctx_is_excluded(const struct kiln_buildctx *ctx,
                                                   const char *relpath, bool is_dir);

enum {
        /* do not follow a symlink in the last component */
        KILN_BUILDCTX_NOFOLLOW = 1 << 0,
        /* kiln_buildctx_glob: a wildcard that matches nothing is an error
         * (the classic builder's rule; BuildKit accepts it) */
        KILN_BUILDCTX_GLOB_NONEMPTY = 1 << 1,
};

/*
 * Resolve relpath inside the context and return an O_PATH fd to it.
 * Symlinks are followed as they would be inside the context: an absolute
 * target starts again at the context root, a relative one that climbs
 * above the root with ".." is an escape. "../x" (above the root) and a
 * symlink pointing out are -KILN_EUNSAFE ("outside the build context");
 * a missing or excluded entry (or one reached through an excluded
 * symlink) is -ENOENT. *ret_canonical (optional) gets the resolved path
 * without symlinks ("." for the root).
 */
int kiln_buildctx_resolve(const struct kiln_buildctx *ctx, const char *relpath, unsigned flags,
                          int *ret_fd, char **ret_canonical, struct kiln_error *err);

/*
 * Expand one COPY/ADD source the way BuildKit does. The source is cleaned
 * (a leading "/" is the context root; ".." above the root is
 * -KILN_EUNSAFE). Without wildcards it must exist (-ENOENT "not found")
 * and is returned as cleaned. With wildcards, the leading components
 * without any must name an existing directory; below it every entry of
 * the context whose relative path matches the rest (filepath.Match) is
 * returned, a matched directory standing for its whole subtree; no match
 * is an empty list (an error with KILN_BUILDCTX_GLOB_NONEMPTY). Paths are
 * context-relative, in walk order (names sorted byte-wise within each
 * directory), NULL-terminated; returns their count.
 */
int kiln_buildctx_glob(const struct kiln_buildctx *ctx, const char *pattern, unsigned flags,
                       char ***ret_paths, struct kiln_error *err);

/*
 * Called for each entry of a walk, parents before children, siblings in
 * byte order. relpath is context-relative as the caller named it (the
 * source's path, then "source/child/..."); parent_fd and name locate the
 * entry (O_NOFOLLOW opens are safe: no component is a symlink); st is its
 * lstat (for the top entry, followed unless KILN_BUILDCTX_NOFOLLOW).
 * Return < 0 to stop the walk with that code.
 */
typedef int (*kiln_buildctx_walk_fn)(void *userdata, const char *relpath, int parent_fd,
                                     const char *name, const struct stat *st);

/*
 * Walk the source relpath (resolved as kiln_buildctx_resolve does) and,
 * for a directory, everything under it that the ignore rules keep.
 * Symlinks below the top are reported, not followed. An excluded
 * directory that is walked is reported only just before the first entry
 * under it that is kept. Returns 0 or the first error.
 */
int kiln_buildctx_walk(const struct kiln_buildctx *ctx, const char *relpath, unsigned flags,
                       kiln_buildctx_walk_fn fn, void *userdata, struct kiln_error *err);

/* "sha256:" + 64 hex + NUL */
#define KILN_BUILDCTX_HASH_MAX 72

/*
 * Content hash of a set of sources for the build cache: each source (in
 * the order given, resolved and walked as kiln_buildctx_walk does, top
 * symlinks followed) contributes, per entry, its path, type, permission
 * bits, owner, size and content (files), link target (symlinks) or device
 * number. mtimes, atimes, ctimes and inode numbers do not count. out gets
 * "sha256:<hex>".
 */
int kiln_buildctx_hash(const struct kiln_buildctx *ctx, char *const *paths,
                       char out[KILN_BUILDCTX_HASH_MAX], struct kiln_error *err);
/*
 * The same with a filter (COPY --exclude): skip(ud, i, rel, is_dir) is
 * asked for each entry under paths[i] with its path relative to that
 * source ("a/b"; never for the source itself); an entry it drops is not
 * hashed, a dropped directory with everything under it. The hash of a
 * filter that drops nothing equals kiln_buildctx_hash()'s.
 */
typedef bool (*kiln_buildctx_skip_fn)(void *ud, size_t i, const char *rel, bool is_dir);
int kiln_buildctx_hash_filtered(const struct kiln_buildctx *ctx, char *const *paths,
                                kiln_buildctx_skip_fn skip, void *ud,
                                char out[KILN_BUILDCTX_HASH_MAX], struct kiln_error *err);
/* Remember file content digests in the JSON file at path (read now,
 * written back by kiln_buildctx_free), keyed by device and inode and valid
 * while the size, mtime and ctime are unchanged, so that hashing an
 * unchanged tree reads no file. Not for tar contexts. */
void kiln_buildctx_set_checksum_cache(struct kiln_buildctx *ctx, const char *path);
