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
