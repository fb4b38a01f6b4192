/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "log" string of docker's json-file format, escaped by hand: shared by
 * kiln-monitor (a static program without jansson) and the in-process
 * monitor in lib/container, so both write the same bytes for the same output.
 */
#include <string.h>
#include "jsonlog.h"

/* Length of the valid UTF-8 sequence at p (n bytes available), 0 if none. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
        unsigned char c = p[0];
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                if (c == 0xe0)
                        lo = 0xa0;
                else if (c == 0xed)
                        hi = 0x9f; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f; /* nothing above U+10FFFF */
        } else {
                return 0;
        }
        if (n < len || p[1] < lo || p[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
        return len;
}

/* Escape data into dst as a JSON string body; returns the length. */
size_t kiln_jsonlog_escape(char *dst, const unsigned char *p, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        char *o = dst;
        for (size_t i = 0; i < n;) {
                unsigned char c = p[i];
                if (c >= 0x80) {
                        size_t l = utf8_len(p + i, n - i);
                        if (!l) {
                                memcpy(o, "\\ufffd", 6);
                                o += 6;
                                i++;
                        } else if (l == 3 && c == 0xe2 && p[i + 1] == 0x80 &&
                                   (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
                                memcpy(o, p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
                                o += 6;
                                i += 3;
                        } else {
                                memcpy(o, p + i, l);
                                o += l;
                                i += l;
                        }
                        continue;
                }
                switch (c) {
                case '"':
                        *o++ = '\\';
                        *o++ = '"';
                        break;
                case '\\':
                        *o++ = '\\';
                        *o++ = '\\';
                        break;
                case '\n':
                        *o++ = '\\';
                        *o++ = 'n';
                        break;
                case '\r':
                        *o++ = '\\';
                        *o++ = 'r';
                        break;
                case '\t':
                        *o++ = '\\';
                        *o++ = 't';
                        break;
                default:
                        if (c < 0x20) {
                                memcpy(o, "\\u00", 4);
                                o[4] = hex[c >> 4];
                                o[5] = hex[c & 15];
                                o += 6;
                        } else {
                                *o++ = (char)c;
                        }
                }
                i++;
        }
        return (size_t)(o - dst);
}

