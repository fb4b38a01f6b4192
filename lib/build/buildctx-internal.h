/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the build-context files of lib/build (not installed). */
#pragma once

#include <stdint.h>
#include "kiln/buildctx.h"

#define UTF8_RUNE_ERROR 0xFFFDu

/* Decode one rune of s[0..n) as Go's utf8.DecodeRuneInString does: an
 * invalid or truncated sequence is (U+FFFD, 1); n == 0 gives (U+FFFD, 0).
 * Returns the byte length. */
size_t utf8_decode(const char *s, size_t n, uint32_t *ret);

/* Go's filepath.Match on counted strings: 1, 0 or -KILN_EFORMAT. */
int go_path_match(const char *pat, size_t pn, const char *name, size_t nn);

/* Go's strings.TrimSpace (Unicode white space) of s[0..*n): returns the
 * start, updates *n. */
const char *go_trim_space(const char *s, size_t *n);
