/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build: COPY/ADD --exclude, --parents and sources with wildcards in
 * a --from tree (lib/build/copyflags.c). See docs/internals/build.md
 * ("COPY and ADD flags").
 */
#pragma once

#include "kiln/base.h"
#include "kiln/buildctx.h"

/* How many leading components of a cleaned source ("a/b/x*.c": 2) hold no
 * wildcard: the directory a wildcard source is matched in. */
size_t build_glob_base_comps(const char *clean);
/* path after its first n components ("" when none is left); path has no
 * leading "/". */
const char *build_path_skip(const char *path, size_t n);

/*
 * COPY --parents: split a source at its first "/./" (the pivot). Sets
 * *ret_pattern to the source without the pivot ("x/./y/a*" -> "x/y/a*")
 * and *ret_prefix to the cleaned part before it ("x"), or "." when there
 * is no pivot: what is kept under the destination is a match's path
 * relative to the prefix. Both new strings.
 */
void build_parents_split(const char *src, char **ret_pattern, char **ret_prefix);
/* The part of match (cleaned, no leading "/") kept under the destination:
 * relative to prefix ("." for match == prefix); NULL when match is not
 * under prefix. Points into match or is ".". */
const char *build_parents_kept(const char *prefix, const char *match);

/* --exclude=PATTERN (repeatable) as a .dockerignore matcher; *ret is NULL
 * when there is none. Bad patterns are -KILN_EFORMAT. */
int build_exclude_new(const char *const *patterns, struct kiln_dockerignore **ret, struct kiln_error *err);

/*
 * Expand a COPY --from source with wildcards inside a rootfs (Go
 * filepath.Match per component, as for context sources): the leading
 * components without wildcards must name a directory (resolved inside
 * rootfd), every entry below whose path matches is returned as
 * "/base/rel", a matched directory standing for its subtree; sorted
 * byte-wise per directory, NULL-terminated; returns the count (0 is fine).
 */
int build_root_glob(int rootfd, const char *pattern, char ***ret_paths, struct kiln_error *err);
