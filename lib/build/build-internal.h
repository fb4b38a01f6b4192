/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by lib/build: Go's UTF-8 and unicode rules. */
#pragma once

#include "kiln/base.h"

#define RUNE_ERROR 0xFFFD

/*
 * Decode one rune as Go's utf8.DecodeRune: an invalid or truncated
 * sequence, an overlong form, a surrogate or a value over U+10FFFF decodes
 * as RUNE_ERROR with width 1. n must be > 0.
 */
int32_t go_decode_rune(const char *s, size_t n, size_t *ret_width);
/* Append r UTF-8 encoded (invalid runes as U+FFFD), as Go's WriteRune. */
void go_put_rune(struct kiln_buf *b, int32_t r);
/* Go's unicode.IsSpace. */
bool go_is_space(int32_t r);
/* unicode.IsLetter || unicode.IsDigit || '_', approximated for non-ASCII
 * (see docs/internals/build.md). */
bool go_is_name_rune(int32_t r);
/* Append s quoted as Go's %q does. */
void go_quote(struct kiln_buf *b, const char *s);

/* ---- the build cache's keys (cache.c) ---- */

struct kiln_df_instruction;
struct kiln_buildctx;

/* "sha256:<hex>" of parent (may be NULL), "\n", what. Caller frees. */
char *bcache_key(const char *parent, const char *what);
/* Append an expanded instruction as the cache sees it: the command, every
 * flag, and its typed view (argv, pairs, sources, dest, value, ...). */
void bcache_instruction_text(struct kiln_buf *b, const struct kiln_df_instruction *in);
/* Content hash of COPY/ADD context sources (patterns globbed as COPY does)
 * into out; < 0 when a source is missing (the step then runs, uncached,
 * and reports it). */
int bcache_sources_hash(const struct kiln_buildctx *ctx, char *const *patterns, char out[72]);

/* The PATH a build gives a stage whose base has none (Docker's and buildah's). */
#define KILN_BUILD_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- directories a step makes (mkdir.c) ---- */

#include <sys/types.h>
/* Make the absolute path abs (and its missing parents) inside rootfd; the
 * directories this creates are owned by uid:gid (0:0 leaves them root's).
 * Returns 0 or -errno. */
int build_mkdir_in_root(int rootfd, const char *abs, uid_t uid, gid_t gid);
