/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Go's path/filepath.Match and filepath.Clean, reimplemented from their
 * documented behaviour and Go's test tables (Unix: '/' separates, '\'
 * escapes). Strings are handled as bytes, with runes decoded where Go
 * decodes them ('?' and character classes), so invalid UTF-8 behaves as in
 * Go: each bad byte is one U+FFFD rune.
 *
 * The matcher splits the pattern into chunks, each a run of stars followed
 * by literal text, and matches the chunk after a star at the leftmost
 * position where it fits, never letting a star cross a '/'. A malformed
 * pattern is an error whatever the name: chunks not reached are checked
 * for syntax before "no match" is returned.
 */
#include <string.h>
#include "buildctx-internal.h"

size_t utf8_decode(const char *s, size_t n, uint32_t *ret)
{
        const unsigned char *p = (const unsigned char *)s;
        if (n == 0) {
                *ret = UTF8_RUNE_ERROR;
                return 0;
        }
        unsigned c = p[0];
        if (c < 0x80) {
                *ret = c;
                return 1;
        }
        size_t len;
        unsigned lo = 0x80, hi = 0xBF; /* the range of the second byte */
        uint32_t r;
        if (c >= 0xC2 && c <= 0xDF) {
                len = 2;
                r = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
                len = 3;
                r = c & 0x0F;
                if (c == 0xE0)
                        lo = 0xA0; /* no overlong forms */
                else if (c == 0xED)
                        hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
                len = 4;
                r = c & 0x07;
                if (c == 0xF0)
                        lo = 0x90;
                else if (c == 0xF4)
                        hi = 0x8F; /* nothing above U+10FFFF */
        } else {
                *ret = UTF8_RUNE_ERROR;
                return 1;
        }
        if (n < len || p[1] < lo || p[1] > hi) {
                *ret = UTF8_RUNE_ERROR;
                return 1;
        }
        r = (r << 6) | (p[1] & 0x3F);
        for (size_t i = 2; i < len; i++) {
                if (p[i] < 0x80 || p[i] > 0xBF) {
                        *ret = UTF8_RUNE_ERROR;
                        return 1;
                }
                r = (r << 6) | (p[i] & 0x3F);
        }
        *ret = r;
        return len;
}

static bool is_go_space(uint32_t r)
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

const char *go_trim_space(const char *s, size_t *n)
{
        size_t len = *n;
        while (len > 0) {
                uint32_t r;
                size_t k = utf8_decode(s, len, &r);
                if (!is_go_space(r)) /* an invalid byte (U+FFFD) is not space */
                        break;
                s += k;
                len -= k;
        }
        while (len > 0) {
                /* find the start of the last rune */
                size_t start = len - 1;
                while (start > 0 && len - start < 4 &&
                       ((unsigned char)s[start] & 0xC0) == 0x80)
                        start--;
                uint32_t r;
                size_t k = utf8_decode(s + start, len - start, &r);
                if (start + k != len) {
                        k = 1; /* a stray continuation byte: one invalid rune */
                        start = len - 1;
                        r = UTF8_RUNE_ERROR;
                }
                if (!is_go_space(r))
                        break;
                len = start;
        }
        *n = len;
        return s;
}

/* One chunk: leading stars, then text up to the next star outside a class. */
static void scan_chunk(const char **pat, size_t *pn, bool *star, const char **chunk,
                       size_t *cn)
{
        const char *p = *pat;
        size_t n = *pn;
        *star = false;
        while (n > 0 && p[0] == '*') {
                p++;
                n--;
                *star = true;
        }
        bool inrange = false;
        size_t i;
        for (i = 0; i < n; i++) {
                if (p[i] == '\\') {
                        if (i + 1 < n)
                                i++;
                } else if (p[i] == '[') {
                        inrange = true;
                } else if (p[i] == ']') {
                        inrange = false;
                } else if (p[i] == '*' && !inrange) {
                        break;
                }
        }
        *chunk = p;
        *cn = i;
        *pat = p + i;
        *pn = n - i;
}

/* A character of a class, maybe escaped; the class must go on after it. */
static int get_esc(const char **c, size_t *cn, uint32_t *ret)
{
        const char *p = *c;
        size_t n = *cn;
        if (n == 0 || p[0] == '-' || p[0] == ']')
                return -KILN_EFORMAT;
        if (p[0] == '\\') {
                p++;
                n--;
                if (n == 0)
                        return -KILN_EFORMAT;
        }
        uint32_t r;
        size_t k = utf8_decode(p, n, &r);
        if (r == UTF8_RUNE_ERROR && k == 1)
                return -KILN_EFORMAT;
        if (n - k == 0)
                return -KILN_EFORMAT;
        *c = p + k;
        *cn = n - k;
        *ret = r;
        return 0;
}

/*
 * Match a chunk at the start of s. 1 with *rest set, 0, or -KILN_EFORMAT.
 * After a mismatch the rest of the chunk is still parsed, for its syntax.
 */
static int match_chunk(const char *c, size_t cn, const char *s, size_t sn, const char **rest,
                       size_t *rest_n)
{
        bool failed = false;
        while (cn > 0) {
                if (!failed && sn == 0)
                        failed = true;
                switch (c[0]) {
                case '[': {
                        uint32_t r = 0;
                        if (!failed) {
                                size_t k = utf8_decode(s, sn, &r);
                                s += k;
                                sn -= k;
                        }
                        c++;
                        cn--;
                        bool negated = false;
                        if (cn > 0 && c[0] == '^') {
                                negated = true;
                                c++;
                                cn--;
                        }
                        bool match = false;
                        size_t nrange = 0;
                        for (;;) {
                                if (cn > 0 && c[0] == ']' && nrange > 0) {
                                        c++;
                                        cn--;
                                        break;
                                }
                                uint32_t lo, hi;
                                if (get_esc(&c, &cn, &lo) < 0)
                                        return -KILN_EFORMAT;
                                hi = lo;
                                if (c[0] == '-') {
                                        c++;
                                        cn--;
                                        if (get_esc(&c, &cn, &hi) < 0)
                                                return -KILN_EFORMAT;
                                }
                                if (lo <= r && r <= hi)
                                        match = true;
                                nrange++;
                        }
                        if (match == negated)
                                failed = true;
                        break;
                }
                case '?':
                        if (!failed) {
                                if (s[0] == '/')
                                        failed = true;
                                uint32_t r;
                                size_t k = utf8_decode(s, sn, &r);
                                s += k;
                                sn -= k;
                        }
                        c++;
                        cn--;
                        break;
                case '\\':
                        c++;
                        cn--;
                        if (cn == 0)
                                return -KILN_EFORMAT;
                        /* fallthrough */
                default:
                        if (!failed) {
                                if (c[0] != s[0])
                                        failed = true;
                                s++;
                                sn--;
                        }
                        c++;
                        cn--;
                        break;
                }
        }
        if (failed)
                return 0;
        *rest = s;
        *rest_n = sn;
        return 1;
}

int go_path_match(const char *pat, size_t pn, const char *name, size_t nn)
{
next:
        while (pn > 0) {
                bool star;
                const char *chunk;
                size_t cn;
                scan_chunk(&pat, &pn, &star, &chunk, &cn);
                if (star && cn == 0)
                        /* a trailing star takes the rest unless it holds a '/' */
                        return memchr(name, '/', nn) ? 0 : 1;
                const char *t;
                size_t tn;
                int r = match_chunk(chunk, cn, name, nn, &t, &tn);
                /* the last chunk must use up the name */
                if (r == 1 && (tn == 0 || pn > 0)) {
                        name = t;
                        nn = tn;
                        continue;
                }
                if (r < 0)
                        return r;
                if (star) {
                        /* try the chunk after skipping i+1 bytes; never skip a '/' */
                        for (size_t i = 0; i < nn && name[i] != '/'; i++) {
                                r = match_chunk(chunk, cn, name + i + 1, nn - i - 1, &t, &tn);
                                if (r == 1) {
                                        if (pn == 0 && tn > 0)
                                                continue;
                                        name = t;
                                        nn = tn;
                                        goto next;
                                }
                                if (r < 0)
                                        return r;
                        }
                }
                /* no match: the rest of the pattern must still be well formed */
                while (pn > 0) {
                        scan_chunk(&pat, &pn, &star, &chunk, &cn);
                        if (match_chunk(chunk, cn, "", 0, &t, &tn) < 0)
                                return -KILN_EFORMAT;
                }
                return 0;
        }
        return nn == 0;
}

int kiln_buildctx_path_match(const char *pattern, const char *name)
{
        return go_path_match(pattern, strlen(pattern), name, strlen(name));
}

bool kiln_buildctx_has_wildcards(const char *p)
{
        for (size_t i = 0; p[i]; i++) {
                if (p[i] == '\\') {
                        if (!p[++i])
                                break;
                } else if (p[i] == '*' || p[i] == '?' || p[i] == '[') {
                        return true;
                }
        }
        return false;
}

char *kiln_buildctx_clean(const char *path)
{
        size_t n = strlen(path);
        if (n == 0)
                return kiln_xstrdup(".");
        bool rooted = path[0] == '/';
        char *out = kiln_xmalloc(n + 2);
        size_t r = 0, w = 0, dotdot = 0;
        if (rooted) {
                out[w++] = '/';
                r = 1;
                dotdot = 1;
        }
        while (r < n) {
                if (path[r] == '/') {
                        r++;
                } else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
                        r++;
                } else if (path[r] == '.' && path[r + 1] == '.' &&
                           (r + 2 == n || path[r + 2] == '/')) {
                        r += 2;
                        if (w > dotdot) {
                                /* drop the last element */
                                w--;
                                while (w > dotdot && out[w] != '/')
                                        w--;
                        } else if (!rooted) {
                                /* a leading ".." of a relative path stays */
                                if (w > 0)
                                        out[w++] = '/';
                                out[w++] = '.';
                                out[w++] = '.';
                                dotdot = w;
                        }
                } else {
                        if ((rooted && w != 1) || (!rooted && w != 0))
                                out[w++] = '/';
                        for (; r < n && path[r] != '/'; r++)
                                out[w++] = path[r];
                }
        }
        if (w == 0)
                out[w++] = '.';
        out[w] = 0;
        return out;
}

char *kiln_buildctx_clean_abs(const char *path)
{
        if (path[0] == '/')
                return kiln_buildctx_clean(path);
        _cleanup_free_ char *a = kiln_xasprintf("/%s", path);
        return kiln_buildctx_clean(a);
}
