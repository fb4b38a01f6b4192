/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The few pieces of Go's unicode and utf8 packages the Dockerfile front end
 * needs to behave byte for byte like BuildKit: rune decoding with Go's
 * error rune, unicode.IsSpace, and %q quoting for messages.
 */
#include <string.h>
#include "build-internal.h"

int32_t go_decode_rune(const char *str, size_t n, size_t *ret_width)
{
        const unsigned char *s = (const unsigned char *)str;
        unsigned char c = s[0];
        *ret_width = 1;
        if (c < 0x80)
                return c;
        size_t need;
        int32_t r, min;
        if (c >= 0xC2 && c <= 0xDF) {
                need = 2;
                r = c & 0x1F;
                min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
                need = 3;
                r = c & 0x0F;
                min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
                need = 4;
                r = c & 0x07;
                min = 0x10000;
        } else {
                return RUNE_ERROR;
        }
        if (n < need)
                return RUNE_ERROR;
        for (size_t i = 1; i < need; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return RUNE_ERROR;
                r = (r << 6) | (s[i] & 0x3F);
        }
        if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
                return RUNE_ERROR;
        *ret_width = need;
        return r;
}

void go_put_rune(struct kiln_buf *b, int32_t r)
{
        char o[4];
        if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
                r = RUNE_ERROR;
        if (r < 0x80) {
                o[0] = (char)r;
                kiln_buf_append(b, o, 1);
        } else if (r < 0x800) {
                o[0] = (char)(0xC0 | (r >> 6));
                o[1] = (char)(0x80 | (r & 0x3F));
                kiln_buf_append(b, o, 2);
        } else if (r < 0x10000) {
                o[0] = (char)(0xE0 | (r >> 12));
                o[1] = (char)(0x80 | ((r >> 6) & 0x3F));
                o[2] = (char)(0x80 | (r & 0x3F));
                kiln_buf_append(b, o, 3);
        } else {
                o[0] = (char)(0xF0 | (r >> 18));
                o[1] = (char)(0x80 | ((r >> 12) & 0x3F));
                o[2] = (char)(0x80 | ((r >> 6) & 0x3F));
                o[3] = (char)(0x80 | (r & 0x3F));
                kiln_buf_append(b, o, 4);
        }
}

bool go_is_space(int32_t r)
{
        switch (r) {
        case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
        case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
        case 0x202F: case 0x205F: case 0x3000:
                return true;
        default:
                return r >= 0x2000 && r <= 0x200A;
        }
}

bool go_is_name_rune(int32_t r)
{
        if (r < 0x80)
                return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
                       (r >= '0' && r <= '9') || r == '_';
        /* Latin-1 supplement: only ª µ º and the letters, not × ÷ */
        if (r <= 0xFF)
                return r == 0xAA || r == 0xB5 || r == 0xBA ||
                       (r >= 0xC0 && r != 0xD7 && r != 0xF7);
        if (go_is_space(r))
                return false;
        /* punctuation, symbols, arrows, math, box drawing, dingbats ... */
        if (r >= 0x2000 && r <= 0x2BFF)
                return false;
        /* CJK symbols and punctuation, full-width ASCII punctuation */
        if ((r >= 0x3000 && r <= 0x3004) || (r >= 0x3008 && r <= 0x3020) ||
            (r >= 0xFE30 && r <= 0xFE4F) || (r >= 0xFF01 && r <= 0xFF0F) ||
            (r >= 0xFF1A && r <= 0xFF20) || (r >= 0xFF3B && r <= 0xFF40) ||
            (r >= 0xFF5B && r <= 0xFF65))
                return false;
        /* private use, specials (U+FFFD), emoji and symbols planes */
        if ((r >= 0xE000 && r <= 0xF8FF) || (r >= 0xFFF0 && r <= 0xFFFF) ||
            (r >= 0x1F000 && r <= 0x1FAFF) || r >= 0xF0000)
                return false;
        return true;
}

static bool go_is_print(int32_t r)
{
        if (r < 0x20 || r == 0x7F)
                return false;
        if (r < 0x80)
                return true;
        if (r < 0xA0 || r == 0xAD || r == RUNE_ERROR)
                return r == RUNE_ERROR;
        return !go_is_space(r) && !(r >= 0x200B && r <= 0x200F) &&
               !(r >= 0x2028 && r <= 0x202E) && !(r >= 0x2060 && r <= 0x206F) &&
               r != 0xFEFF && !(r >= 0xFFF9 && r <= 0xFFFB) &&
               !(r >= 0xD800 && r <= 0xDFFF) && !(r >= 0xE000 && r <= 0xF8FF);
}

void go_quote(struct kiln_buf *b, const char *s)
{
        size_t n = strlen(s);
        kiln_buf_puts(b, "\"");
        for (size_t i = 0; i < n;) {
                size_t w;
                int32_t r = go_decode_rune(s + i, n - i, &w);
                if (r == RUNE_ERROR && w == 1) {
                        kiln_buf_printf(b, "\\x%02x", (unsigned char)s[i]);
                } else if (r == '"' || r == '\\') {
                        kiln_buf_printf(b, "\\%c", (char)r);
                } else if (go_is_print(r)) {
                        kiln_buf_append(b, s + i, w);
                } else {
                        switch (r) {
                        case '\a': kiln_buf_puts(b, "\\a"); break;
                        case '\b': kiln_buf_puts(b, "\\b"); break;
                        case '\f': kiln_buf_puts(b, "\\f"); break;
                        case '\n': kiln_buf_puts(b, "\\n"); break;
                        case '\r': kiln_buf_puts(b, "\\r"); break;
                        case '\t': kiln_buf_puts(b, "\\t"); break;
                        case '\v': kiln_buf_puts(b, "\\v"); break;
                        default:
                                if (r < 0x80)
                                        kiln_buf_printf(b, "\\x%02x", (unsigned)r);
                                else if (r < 0x10000)
                                        kiln_buf_printf(b, "\\u%04x", (unsigned)r);
                                else
                                        kiln_buf_printf(b, "\\U%08x", (unsigned)r);
                        }
                }
                i += w;
        }
        kiln_buf_puts(b, "\"");
}
