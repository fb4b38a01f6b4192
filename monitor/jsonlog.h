/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

/*
 * Escape n bytes of container output as the body of a JSON string: '"',
 * '\\', \n, \r, \t as usual, other control characters as \u00XX, U+2028 and
 * U+2029 escaped, valid UTF-8 kept, every invalid byte as \ufffd (as docker
 * does). dst needs room for 6 * n bytes. Returns the length written.
 */
size_t kiln_jsonlog_escape(char *dst, const unsigned char *p, size_t n);
