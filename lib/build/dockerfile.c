/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Dockerfile parser: BuildKit's frontend/dockerfile/parser (lines,
 * directives, continuations, the per-instruction argument shapes, JSON
 * detection, heredocs) followed by its instructions package (argument
 * checks, flags, typed fields), in two passes like BuildKit so that the
 * same error wins when a file has several.
 *
 * Phase 1 reads physical lines into logical "nodes"; phase 2 checks every
 * node and fills the typed fields; then instructions are grouped in stages.
 * See docs/internals/build.md for the rules and the known differences.
 */
#include <string.h>
#include "build-internal.h"
#include "kiln/dockerfile.h"

#define LINE_MAX_BYTES 65536 /* bufio.MaxScanTokenSize */
#define JSON_DEPTH_MAX 10000 /* encoding/json's nesting limit */

static const char *const cmd_names[KILN_DF__MAX] = {
        [KILN_DF_ADD] = "ADD",
        [KILN_DF_ARG] = "ARG",
        [KILN_DF_CMD] = "CMD",
        [KILN_DF_COPY] = "COPY",
        [KILN_DF_ENTRYPOINT] = "ENTRYPOINT",
        [KILN_DF_ENV] = "ENV",
        [KILN_DF_EXPOSE] = "EXPOSE",
        [KILN_DF_FROM] = "FROM",
        [KILN_DF_HEALTHCHECK] = "HEALTHCHECK",
        [KILN_DF_LABEL] = "LABEL",
        [KILN_DF_MAINTAINER] = "MAINTAINER",
        [KILN_DF_ONBUILD] = "ONBUILD",
        [KILN_DF_RUN] = "RUN",
        [KILN_DF_SHELL] = "SHELL",
        [KILN_DF_STOPSIGNAL] = "STOPSIGNAL",
        [KILN_DF_USER] = "USER",
        [KILN_DF_VOLUME] = "VOLUME",
        [KILN_DF_WORKDIR] = "WORKDIR",
};

const char *kiln_df_cmd_name(enum kiln_df_cmd cmd)
{
        return (unsigned)cmd < KILN_DF__MAX ? cmd_names[cmd] : NULL;
}

/* ---- small string helpers with Go's semantics ---- */

static bool is_re_ws(char c) /* reWhitespace: [\t\v\f\r ] */
{
        return c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == ' ';
}

static bool is_re2_s(char c) /* RE2 \s: [\t\n\f\r ] */
{
        return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

/* unicode.IsSpace of a byte taken as a rune (BuildKit's byte loops) */
static bool byte_is_space(unsigned char c)
{
        return go_is_space(c);
}

/* length of the leading unicode white space of s[0..n) */
static size_t lead_space(const char *s, size_t n)
{
        size_t i = 0;
        while (i < n) {
                size_t w;
                int32_t r = go_decode_rune(s + i, n - i, &w);
                if (!go_is_space(r))
                        break;
                i += w;
        }
        return i;
}

/* strings.TrimSpace, into a new string */
static char *trim_space(const char *s, size_t n)
{
        size_t a = lead_space(s, n);
        size_t b = n;
        while (b > a) {
                /* find the start of the last rune */
                size_t st = b - 1;
                while (st > a && ((unsigned char)s[st] & 0xC0) == 0x80 && b - st < 4)
                        st--;
                size_t w;
                int32_t r = go_decode_rune(s + st, b - st, &w);
                if (st + w != b) {
                        /* not a whole rune: the last byte alone is an error rune */
                        st = b - 1;
                        r = RUNE_ERROR;
                }
                if (!go_is_space(r))
                        break;
                b = st;
        }
        return kiln_xstrndup(s + a, b - a);
}

/* strings.ToLower for our keywords: ASCII, and the Kelvin sign is 'k' */
static char *keyword_lower(const char *s)
{
        struct kiln_buf b = KILN_BUF_INIT;
        size_t n = strlen(s);
        for (size_t i = 0; i < n;) {
                size_t w;
                int32_t r = go_decode_rune(s + i, n - i, &w);
                if (r >= 'A' && r <= 'Z')
                        r += 'a' - 'A';
                else if (r == 0x212A)
                        r = 'k';
                if (r == RUNE_ERROR && w == 1)
                        kiln_buf_append(&b, s + i, 1);
                else
                        go_put_rune(&b, r);
                i += w;
        }
        return kiln_buf_steal(&b);
}

static char *ascii_upper(const char *s)
{
        char *u = kiln_xstrdup(s);
        for (char *p = u; *p; p++)
                if (*p >= 'a' && *p <= 'z')
                        *p = (char)(*p - 'a' + 'A');
        return u;
}

static bool ascii_ieq(const char *a, const char *b)
{
        return strcasecmp(a, b) == 0;
}

static void strv_push_n(char ***v, const char *s, size_t n)
{
        kiln_strv_push_take(v, kiln_xstrndup(s, n));
}

static char **strv_new(void)
{
        return kiln_xcalloc(1, sizeof(char *));
}

/* Levenshtein distance (agext/levenshtein default costs), on bytes */
static size_t levenshtein(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        size_t *row = kiln_xcalloc(lb + 1, sizeof(size_t));
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t prev = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t cur = row[j];
                        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
                        size_t v = KILN_MIN(row[j] + 1, row[j - 1] + 1);
                        row[j] = KILN_MIN(v, prev + cost);
                        prev = cur;
                }
        }
        size_t d = row[lb];
        free(row);
        return d;
}

/* suggest.Search: the closest option at distance < 3, or NULL */
static char *suggest(const char *val, const char *const *opts, size_t n, bool case_sensitive)
{
        _cleanup_free_ char *lv = case_sensitive ? kiln_xstrdup(val) : keyword_lower(val);
        if (strlen(lv) > 256)
                return NULL;
        const char *best = NULL;
        size_t mind = 3;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *o = case_sensitive ? kiln_xstrdup(opts[i]) : keyword_lower(opts[i]);
                if (strcmp(lv, o) == 0)
                        return NULL;
                size_t d = levenshtein(lv, o);
                if (d < mind) {
                        best = opts[i];
                        mind = d;
                }
        }
        if (!best)
                return NULL;
        if (case_sensitive)
                return kiln_xstrdup(best);
        /* matchCase: follow the case of what was written */
        _cleanup_free_ char *up = ascii_upper(val);
        if (strcmp(val, lv) == 0)
                return keyword_lower(best);
        if (strcmp(val, up) == 0)
                return ascii_upper(best);
        return kiln_xstrdup(best);
}

/* ---- the parse state ---- */

struct pline {
        const char *s; /* the physical line with its newline */
        size_t n;
};

struct parser {
        const char *filename;
        struct pline *lines;
        size_t n_lines;
        size_t cur; /* next line to read */
        char escape;
        /* the directive parser */
        bool d_done;
        bool seen_syntax, seen_escape, seen_check;
        char *syntax, *check;
        struct kiln_error *err;
};

static int perr(struct parser *p, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int perr(struct parser *p, unsigned line, const char *fmt, ...)
{
        char msg[KILN_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return kiln_err(p->err, -KILN_EFORMAT, "%s:%u: %s", p->filename, line, msg);
}

/* trimNewline: drop every trailing \r and \n */
static size_t trim_newline(const char *s, size_t n)
{
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
                n--;
        return n;
}

static bool is_comment(const char *s, size_t n)
{
        size_t a = lead_space(s, n);
        return a < n && s[a] == '#';
}

/*
 * DirectiveParser.ParseLine: "# name = value" for syntax, escape, check,
 * only until the first line that is not one. Returns 1 for a directive.
 */
static int parse_directive(struct parser *p, const char *s, size_t n, unsigned lineno)
{
        if (p->d_done)
                return 0;
        if (n == 0 || s[0] != '#') {
                p->d_done = true;
                return 0;
        }
        s++, n--;
        size_t a = lead_space(s, n);
        s += a, n -= a;
        size_t i = 0;
        if (!(i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))) {
                p->d_done = true;
                return 0;
        }
        while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                         (s[i] >= '0' && s[i] <= '9')))
                i++;
        size_t name_len = i;
        while (i < n && is_re2_s(s[i]))
                i++;
        if (i >= n || s[i] != '=') {
                p->d_done = true;
                return 0;
        }
        i++;
        size_t vs = i;
        while (i < n && is_re2_s(s[i]))
                i++;
        size_t ve = n;
        if (i == n) {
                /* "\s*(.+?)\s*$" on blanks only: the last blank is the value */
                if (vs == n) {
                        p->d_done = true;
                        return 0;
                }
                vs = n - 1;
        } else {
                vs = i;
                while (ve > vs && is_re2_s(s[ve - 1]))
                        ve--;
        }
        _cleanup_free_ char *name = kiln_xstrndup(s, name_len);
        for (char *c = name; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char)(*c - 'A' + 'a');
        bool *seen;
        char **slot = NULL;
        if (strcmp(name, "syntax") == 0)
                seen = &p->seen_syntax, slot = &p->syntax;
        else if (strcmp(name, "escape") == 0)
                seen = &p->seen_escape;
        else if (strcmp(name, "check") == 0)
                seen = &p->seen_check, slot = &p->check;
        else {
                p->d_done = true;
                return 0;
        }
        if (*seen)
                return perr(p, lineno, "only one %s parser directive can be used", name);
        *seen = true;
        _cleanup_free_ char *value = kiln_xstrndup(s + vs, ve - vs);
        if (!slot) {
                if (strcmp(value, "`") != 0 && strcmp(value, "\\") != 0)
                        return perr(p, lineno, "invalid escape token '%s' does not match ` or \\",
                                    value);
                p->escape = value[0];
                return 1;
        }
        free(*slot);
        *slot = TAKE_PTR(value);
        return 1;
}

/*
 * processLine: trim the newline (and leading blanks of a first line), look
 * for a directive, drop a comment. Returns the length kept of *s (moved).
 */
static int process_line(struct parser *p, const char **s, size_t *n, bool strip, unsigned lineno,
                        bool *directive)
{
        size_t len = trim_newline(*s, *n);
        if (strip) {
                size_t a = lead_space(*s, len);
                *s += a;
                len -= a;
        }
        int r = parse_directive(p, *s, len, lineno);
        if (r < 0)
                return r;
        *directive = r > 0;
        if (is_comment(*s, len))
                len = 0;
        *n = len;
        return 0;
}

/*
 * trimContinuationCharacter: the escape as the last non-blank ([ \t])
 * character, not itself escaped, continues the line. Returns true at the
 * end of the logical line; *n is shortened when continuing.
 */
static bool trim_continuation(const struct parser *p, const char *s, size_t *n)
{
        size_t e = *n;
        while (e && (s[e - 1] == ' ' || s[e - 1] == '\t'))
                e--;
        if (e == 0 || s[e - 1] != p->escape)
                return true;
        if (e >= 2 && s[e - 2] == p->escape)
                return true;
        *n = e - 1;
        return false;
}

/* ---- builder flags (extractBuilderFlags: byte-wise, as BuildKit) ---- */

static void flags_push(char ***flags, struct kiln_buf *w)
{
        kiln_strv_push_take(flags, kiln_buf_steal(w));
}

static void put_byte_rune(struct kiln_buf *b, unsigned char c)
{
        /* BuildKit writes each byte as a rune: bytes >= 0x80 become Latin-1 */
        go_put_rune(b, c);
}

/* returns the rest of the line after the flags (a pointer into line) */
static const char *extract_flags(const char *line, char escape, char ***ret_flags)
{
        enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
        size_t n = strlen(line);
        struct kiln_buf w = KILN_BUF_INIT;
        char **flags = strv_new();
        char quote = 0;
        bool blank_ok = false;
        const char *rest = line + n;
        for (size_t pos = 0; pos <= n; pos++) {
                unsigned char ch = pos < n ? (unsigned char)line[pos] : 0;
                if (phase == IN_SPACES) {
                        if (pos == n)
                                break;
                        if (byte_is_space(ch))
                                continue;
                        if (ch != '-' || pos + 1 == n || line[pos + 1] != '-') {
                                rest = line + pos;
                                goto done;
                        }
                        phase = IN_WORD;
                }
                if (pos == n) {
                        if (!(w.len == 2 && memcmp(w.data, "--", 2) == 0) && (blank_ok || w.len))
                                flags_push(&flags, &w);
                        break;
                }
                if (phase == IN_WORD) {
                        if (byte_is_space(ch)) {
                                phase = IN_SPACES;
                                if (w.len == 2 && memcmp(w.data, "--", 2) == 0) {
                                        rest = line + pos;
                                        goto done;
                                }
                                if (blank_ok || w.len)
                                        flags_push(&flags, &w);
                                kiln_buf_free(&w);
                                blank_ok = false;
                                continue;
                        }
                        if (ch == '\'' || ch == '"') {
                                quote = (char)ch;
                                blank_ok = true;
                                phase = IN_QUOTE;
                                continue;
                        }
                        if (ch == (unsigned char)escape) {
                                if (pos + 1 == n)
                                        continue;
                                pos++;
                                ch = (unsigned char)line[pos];
                        }
                        put_byte_rune(&w, ch);
                        continue;
                }
                /* IN_QUOTE */
                if (ch == (unsigned char)quote) {
                        phase = IN_WORD;
                        continue;
                }
                if (ch == (unsigned char)escape) {
                        if (pos + 1 == n) {
                                phase = IN_WORD;
                                continue;
                        }
                        pos++;
                        ch = (unsigned char)line[pos];
                }
                put_byte_rune(&w, ch);
        }
done:
        kiln_buf_free(&w);
        *ret_flags = flags;
        return rest;
}

/* ---- parseWords: quotes and escapes kept, split at unicode spaces ---- */

static char **parse_words(const char *rest, char escape)
{
        enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
        size_t n = strlen(rest);
        char **words = strv_new();
        struct kiln_buf b = KILN_BUF_INIT;
        int32_t quote = 0, ch = 0;
        bool blank_ok = false;
        size_t w = 0;
        for (size_t pos = 0; pos <= n; pos += w) {
                if (pos != n)
                        ch = go_decode_rune(rest + pos, n - pos, &w);
                if (phase == IN_SPACES) {
                        if (pos == n)
                                break;
                        if (go_is_space(ch))
                                continue;
                        phase = IN_WORD;
                }
                if (pos == n) {
                        if (blank_ok || b.len)
                                kiln_strv_push_take(&words, kiln_buf_steal(&b));
                        break;
                }
                if (phase == IN_WORD) {
                        if (go_is_space(ch)) {
                                phase = IN_SPACES;
                                if (blank_ok || b.len)
                                        kiln_strv_push_take(&words, kiln_buf_steal(&b));
                                kiln_buf_free(&b);
                                blank_ok = false;
                                continue;
                        }
                        if (ch == '\'' || ch == '"') {
                                quote = ch;
                                blank_ok = true;
                                phase = IN_QUOTE;
                        }
                        if (ch == escape) {
                                if (pos + w == n)
                                        continue;
                                go_put_rune(&b, ch);
                                pos += w;
                                ch = go_decode_rune(rest + pos, n - pos, &w);
                        }
                        go_put_rune(&b, ch);
                        continue;
                }
                /* IN_QUOTE */
                if (ch == quote)
                        phase = IN_WORD;
                if (ch == escape && quote != '\'') {
                        if (pos + w == n) {
                                phase = IN_WORD;
                                continue;
                        }
                        pos += w;
                        go_put_rune(&b, ch);
                        ch = go_decode_rune(rest + pos, n - pos, &w);
                }
                go_put_rune(&b, ch);
        }
        kiln_buf_free(&b);
        return words;
}

/* reWhitespace.Split(rest, -1) on a trimmed, non-empty rest */
static char **split_ws(const char *rest)
{
        char **v = strv_new();
        if (!*rest)
                return v;
        const char *s = rest;
        for (;;) {
                const char *e = s;
                while (*e && !is_re_ws(*e))
                        e++;
                strv_push_n(&v, s, (size_t)(e - s));
                if (!*e)
                        break;
                while (*e && is_re_ws(*e))
                        e++;
                s = e;
        }
        return v;
}

/* ---- JSON arrays (encoding/json semantics) ---- */

enum { JSON_OK = 0, JSON_NOT = 1, JSON_NOT_STRINGS = 2, JSON_NUL = 3 };

static bool json_ws(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hex4(const char *s)
{
        int v = 0;
        for (int i = 0; i < 4; i++) {
                char c = s[i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= c - '0';
                else if (c >= 'a' && c <= 'f')
                        v |= c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        v |= c - 'A' + 10;
                else
                        return -1;
        }
        return v;
}

/* Scan a JSON string at *pp ('"'); decode into out when non-NULL. */
static bool json_string(const char **pp, struct kiln_buf *out, bool *nul)
{
        const char *p = *pp + 1;
        for (;;) {
                unsigned char c = (unsigned char)*p;
                if (c == 0)
                        return false;
                if (c == '"')
                        break;
                if (c < 0x20)
                        return false;
                if (c == '\\') {
                        p++;
                        switch (*p) {
                        case '"': case '\\': case '/':
                                if (out)
                                        kiln_buf_append(out, p, 1);
                                p++;
                                continue;
                        case 'b': if (out) kiln_buf_puts(out, "\b"); p++; continue;
                        case 'f': if (out) kiln_buf_puts(out, "\f"); p++; continue;
                        case 'n': if (out) kiln_buf_puts(out, "\n"); p++; continue;
                        case 'r': if (out) kiln_buf_puts(out, "\r"); p++; continue;
                        case 't': if (out) kiln_buf_puts(out, "\t"); p++; continue;
                        case 'u': {
                                size_t avail = strnlen(p + 1, 4);
                                int r = avail == 4 ? hex4(p + 1) : -1;
                                if (r < 0)
                                        return false;
                                p += 5;
                                int32_t rr = r;
                                if (rr >= 0xD800 && rr < 0xE000) {
                                        int r2 = -1;
                                        if (p[0] == '\\' && p[1] == 'u' && strnlen(p + 2, 4) == 4)
                                                r2 = hex4(p + 2);
                                        if (rr < 0xDC00 && r2 >= 0xDC00 && r2 < 0xE000) {
                                                rr = 0x10000 + ((rr - 0xD800) << 10) + (r2 - 0xDC00);
                                                p += 6;
                                        } else {
                                                rr = RUNE_ERROR;
                                        }
                                }
                                if (rr == 0)
                                        *nul = true;
                                if (out)
                                        go_put_rune(out, rr);
                                continue;
                        }
                        default:
                                return false;
                        }
                }
                size_t avail = strnlen(p, 4), w;
                int32_t r = go_decode_rune(p, avail, &w);
                if (out) {
                        if (r == RUNE_ERROR && w == 1)
                                go_put_rune(out, RUNE_ERROR);
                        else
                                kiln_buf_append(out, p, w);
                }
                p += w;
        }
        *pp = p + 1;
        return true;
}

static bool json_number(const char **pp)
{
        const char *p = *pp;
        if (*p == '-')
                p++;
        if (*p == '0')
                p++;
        else if (*p >= '1' && *p <= '9')
                while (*p >= '0' && *p <= '9')
                        p++;
        else
                return false;
        if (*p == '.') {
                p++;
                if (!(*p >= '0' && *p <= '9'))
                        return false;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        if (*p == 'e' || *p == 'E') {
                p++;
                if (*p == '+' || *p == '-')
                        p++;
                if (!(*p >= '0' && *p <= '9'))
                        return false;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        *pp = p;
        return true;
}

/*
 * parseJSON: rest (left-trimmed) must be one JSON array and nothing but
 * blanks after it. JSON_NOT when it is not JSON (shell form then),
 * JSON_NOT_STRINGS when it is but holds something else than strings.
 */
static int parse_json_array(const char *rest, char ***ret)
{
        rest += lead_space(rest, strlen(rest));
        if (*rest != '[')
                return JSON_NOT;
        char *stack = kiln_xmalloc(JSON_DEPTH_MAX + 1);
        size_t depth = 0;
        const char *p = rest;
        char **items = strv_new();
        bool all_strings = true, nul = false, ok = false;
        enum { VALUE, AFTER } st = VALUE;
        for (;;) {
                while (json_ws(*p))
                        p++;
                if (st == VALUE) {
                        bool top_item = depth == 1;
                        char c = *p;
                        if (c == '[' || c == '{') {
                                if (top_item)
                                        all_strings = false;
                                if (depth >= JSON_DEPTH_MAX)
                                        goto out;
                                stack[depth++] = c;
                                p++;
                                while (json_ws(*p))
                                        p++;
                                if (*p == (c == '[' ? ']' : '}')) {
                                        p++;
                                        depth--;
                                        st = AFTER;
                                        continue;
                                }
                                if (c == '{') {
                                        if (*p != '"' || !json_string(&p, NULL, &nul))
                                                goto out;
                                        while (json_ws(*p))
                                                p++;
                                        if (*p++ != ':')
                                                goto out;
                                }
                                continue;
                        }
                        if (c == '"') {
                                struct kiln_buf b = KILN_BUF_INIT;
                                bool n0 = false;
                                if (!json_string(&p, top_item ? &b : NULL, &n0)) {
                                        kiln_buf_free(&b);
                                        goto out;
                                }
                                if (top_item) {
                                        nul = nul || n0;
                                        kiln_strv_push_take(&items, kiln_buf_steal(&b));
                                }
                        } else if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0) {
                                p += 4;
                                all_strings = all_strings && !top_item;
                        } else if (strncmp(p, "false", 5) == 0) {
                                p += 5;
                                all_strings = all_strings && !top_item;
                        } else if (c == '-' || (c >= '0' && c <= '9')) {
                                if (!json_number(&p))
                                        goto out;
                                all_strings = all_strings && !top_item;
                        } else {
                                goto out;
                        }
                        st = AFTER;
                        continue;
                }
                /* AFTER a value */
                if (depth == 0)
                        break;
                char top = stack[depth - 1];
                if (*p == ',') {
                        p++;
                        if (top == '{') {
                                while (json_ws(*p))
                                        p++;
                                if (*p != '"' || !json_string(&p, NULL, &nul))
                                        goto out;
                                while (json_ws(*p))
                                        p++;
                                if (*p++ != ':')
                                        goto out;
                        }
                        st = VALUE;
                        continue;
                }
                if (*p == (top == '[' ? ']' : '}')) {
                        p++;
                        depth--;
                        continue;
                }
                goto out;
        }
        ok = *p == 0;
out:
        free(stack);
        if (!ok) {
                kiln_strv_free(items);
                return JSON_NOT;
        }
        if (!all_strings) {
                kiln_strv_free(items);
                return JSON_NOT_STRINGS;
        }
        if (nul) {
                kiln_strv_free(items);
                return JSON_NUL;
        }
        *ret = items;
        return JSON_OK;
}

/* ---- heredocs ---- */

/*
 * ParseHeredoc on one word: ^(\d*)<<(-?)\s*([^<]*)$, then the name must lex
 * as one word. Returns 1 with *h filled, 0 when the word is no heredoc.
 */
static int parse_heredoc_word(const char *word, struct kiln_df_heredoc *h, struct kiln_error *err)
{
        const char *p = word;
        while (*p >= '0' && *p <= '9')
                p++;
        size_t ndig = (size_t)(p - word);
        if (strncmp(p, "<<", 2) != 0)
                return 0;
        p += 2;
        bool chomp = *p == '-';
        if (chomp)
                p++;
        while (is_re2_s(*p))
                p++;
        if (!*p || strchr(p, '<'))
                return 0;
        struct kiln_shell sh = { .escape = '\\', .skip_unset = true };
        char **words = NULL, **raw = NULL;
        int r = kiln_shell_words(&sh, p, &words, err);
        if (r < 0)
                return r;
        if (kiln_strv_len(words) != 1) {
                kiln_strv_free(words);
                return 0;
        }
        sh.raw_quotes = true;
        r = kiln_shell_words(&sh, p, &raw, err);
        if (r < 0) {
                kiln_strv_free(words);
                return r;
        }
        if (kiln_strv_len(raw) != 1) {
                kiln_strv_free(words);
                kiln_strv_free(raw);
                return kiln_err(err, -KILN_EFORMAT,
                                "internal lexing of heredoc produced inconsistent results: %s", p);
        }
        size_t q1 = 0, q2 = 0;
        for (const char *c = words[0]; *c; c++)
                q1 += *c == '\'' || *c == '"';
        for (const char *c = raw[0]; *c; c++)
                q2 += *c == '\'' || *c == '"';
        uint64_t fd = 0;
        for (size_t i = 0; i < ndig; i++) {
                unsigned d = (unsigned)(word[i] - '0');
                if (fd > (UINT64_MAX - d) / 10) {
                        fd = UINT64_MAX; /* ParseUint saturates on overflow */
                        break;
                }
                fd = fd * 10 + d;
        }
        *h = (struct kiln_df_heredoc){
                .name = kiln_xstrdup(words[0]),
                .fd = fd,
                .expand = q1 == q2,
                .chomp = chomp,
        };
        kiln_strv_free(words);
        kiln_strv_free(raw);
        return 1;
}

static bool is_heredoc_word(const char *word)
{
        struct kiln_df_heredoc h = { 0 };
        int r = parse_heredoc_word(word, &h, NULL);
        free(h.name);
        return r > 0;
}

static void heredoc_free(struct kiln_df_heredoc *h)
{
        free(h->name);
        free(h->content);
}

/* ChompHeredocContent: drop the leading tabs of every line */
static char *chomp_tabs(const char *s)
{
        struct kiln_buf b = KILN_BUF_INIT;
        bool bol = true;
        for (; *s; s++) {
                if (bol && *s == '\t')
                        continue;
                bol = *s == '\n';
                kiln_buf_append(&b, s, 1);
        }
        return kiln_buf_steal(&b);
}

/* ---- instructions ---- */

static void instruction_clear(struct kiln_df_instruction *in)
{
        free(in->keyword);
        free(in->original);
        kiln_strv_free(in->comments);
        for (size_t i = 0; i < in->n_flags; i++) {
                free(in->flags[i].name);
                free(in->flags[i].value);
        }
        free(in->flags);
        kiln_strv_free(in->args);
        for (size_t i = 0; i < in->n_heredocs; i++)
                heredoc_free(&in->heredocs[i]);
        free(in->heredocs);
        kiln_strv_free(in->cmdline);
        for (size_t i = 0; i < in->n_kvs; i++) {
                free(in->kvs[i].key);
                free(in->kvs[i].value);
        }
        free(in->kvs);
        for (size_t i = 0; i < in->n_arg_list; i++) {
                free(in->arg_list[i].key);
                free(in->arg_list[i].value);
        }
        free(in->arg_list);
        kiln_strv_free(in->sources);
        free(in->dest);
        free(in->inline_sources);
        free(in->base);
        free(in->stage_name);
        free(in->value);
        kiln_strv_free(in->list);
        if (in->health)
                kiln_strv_free(in->health->test);
        free(in->health);
        free(in->expression);
        memset(in, 0, sizeof(*in));
}

void kiln_dockerfile_free(struct kiln_dockerfile *df)
{
        if (!df)
                return;
        for (size_t i = 0; i < df->n_instructions; i++)
                instruction_clear(&df->instructions[i]);
        free(df->instructions);
        free(df->stages);
        free(df->filename);
        free(df->syntax);
        free(df->check);
        kiln_strv_free(df->warnings);
        free(df);
}

static int lookup_cmd(const char *keyword)
{
        _cleanup_free_ char *l = keyword_lower(keyword);
        for (int i = 0; i < KILN_DF__MAX; i++) {
                _cleanup_free_ char *n = keyword_lower(cmd_names[i]);
                if (strcmp(l, n) == 0)
                        return i;
        }
        return -1;
}

/*
 * One phase-1 node: the shape BuildKit's line parsers give the arguments.
 * cmd is -1 for an unknown keyword (reported in phase 2).
 */
struct node {
        int cmd;
        char *keyword;
        char *original;
        char **flags;      /* "--name=value" words */
        char **args;
        bool json;
        /* ENV/LABEL: key, value, delim triples as BuildKit's Next chain */
        char **triples;
        /* ONBUILD: the wrapped instruction */
        struct node *child;
};

static void node_free(struct node *n)
{
        if (!n)
                return;
        free(n->keyword);
        free(n->original);
        kiln_strv_free(n->flags);
        kiln_strv_free(n->args);
        kiln_strv_free(n->triples);
        node_free(n->child);
        free(n);
}

/* parseMaybeJSON: err_ret gets a message for an array of non-strings */
static int maybe_json(const char *rest, bool to_list, char ***args, bool *json, const char **msg)
{
        char **items = NULL;
        if (!to_list && !*rest) {
                *args = strv_new();
                return 0;
        }
        int r = parse_json_array(rest, &items);
        if (r == JSON_OK) {
                *args = items;
                *json = true;
                return 0;
        }
        if (r == JSON_NOT_STRINGS) {
                *msg = "when using JSON array syntax, arrays must be comprised of strings only";
                return -1;
        }
        if (r == JSON_NUL) {
                *msg = "NUL characters in JSON strings are not supported";
                return -1;
        }
        if (to_list) {
                *args = split_ws(rest);
        } else {
                *args = strv_new();
                kiln_strv_push(args, rest);
        }
        return 0;
}

/* newNodeFromLine */
static int node_from_line(struct parser *p, const char *line, unsigned lineno, struct node **ret)
{
        struct node *n = kiln_xcalloc(1, sizeof(*n));
        n->original = kiln_xstrdup(line);
        _cleanup_free_ char *trimmed = trim_space(line, strlen(line));
        const char *ws = trimmed;
        while (*ws && !is_re_ws(*ws))
                ws++;
        n->keyword = kiln_xstrndup(trimmed, (size_t)(ws - trimmed));
        _cleanup_free_ char *rest = NULL;
        if (*ws) {
                while (is_re_ws(*ws))
                        ws++;
                const char *after = extract_flags(ws, p->escape, &n->flags);
                rest = trim_space(after, strlen(after));
        } else {
                n->flags = strv_new();
                rest = kiln_xstrdup("");
        }
        n->cmd = lookup_cmd(n->keyword);
        const char *msg = NULL;
        int r = 0;
        switch (n->cmd) {
        case KILN_DF_ADD: case KILN_DF_COPY: case KILN_DF_VOLUME:
                r = maybe_json(rest, true, &n->args, &n->json, &msg);
                break;
        case KILN_DF_CMD: case KILN_DF_ENTRYPOINT: case KILN_DF_RUN: case KILN_DF_SHELL:
                r = maybe_json(rest, false, &n->args, &n->json, &msg);
                break;
        case KILN_DF_ARG:
                n->args = parse_words(rest, p->escape);
                break;
        case KILN_DF_ENV: case KILN_DF_LABEL: {
                const char *key = n->cmd == KILN_DF_ENV ? "ENV" : "LABEL";
                _cleanup_strv_free_ char **words = parse_words(rest, p->escape);
                n->triples = strv_new();
                if (!words[0])
                        break;
                if (!strchr(words[0], '=')) {
                        const char *s = rest;
                        while (*s && !is_re_ws(*s))
                                s++;
                        if (!*s) {
                                r = perr(p, lineno, "%s must have two arguments", key);
                                goto out;
                        }
                        strv_push_n(&n->triples, rest, (size_t)(s - rest));
                        while (is_re_ws(*s))
                                s++;
                        kiln_strv_push(&n->triples, s);
                        kiln_strv_push(&n->triples, "");
                        break;
                }
                for (char **w = words; *w; w++) {
                        char *eq = strchr(*w, '=');
                        if (!eq) {
                                struct kiln_buf q = KILN_BUF_INIT;
                                go_quote(&q, *w);
                                r = perr(p, lineno,
                                         "Syntax error - can't find = in %s. Must be of the form: name=value",
                                         q.data);
                                kiln_buf_free(&q);
                                goto out;
                        }
                        strv_push_n(&n->triples, *w, (size_t)(eq - *w));
                        kiln_strv_push(&n->triples, eq + 1);
                        kiln_strv_push(&n->triples, "=");
                }
                break;
        }
        case KILN_DF_EXPOSE: case KILN_DF_FROM:
                n->args = split_ws(rest);
                break;
        case KILN_DF_HEALTHCHECK: {
                size_t sep = 0, len = strlen(rest);
                while (sep < len && !byte_is_space((unsigned char)rest[sep]))
                        sep++;
                size_t nx = sep;
                while (nx < len && byte_is_space((unsigned char)rest[nx]))
                        nx++;
                if (sep == 0) {
                        n->args = strv_new();
                        break;
                }
                char **cmd = NULL;
                r = maybe_json(rest + nx, false, &cmd, &n->json, &msg);
                if (r < 0)
                        break;
                n->args = strv_new();
                strv_push_n(&n->args, rest, sep);
                for (char **c = cmd; *c; c++)
                        kiln_strv_push(&n->args, *c);
                kiln_strv_free(cmd);
                break;
        }
        case KILN_DF_MAINTAINER: case KILN_DF_STOPSIGNAL: case KILN_DF_USER: case KILN_DF_WORKDIR:
                n->args = strv_new();
                if (*rest)
                        kiln_strv_push(&n->args, rest);
                break;
        case KILN_DF_ONBUILD:
                n->args = strv_new();
                if (*rest) {
                        r = node_from_line(p, rest, lineno, &n->child);
                        if (r < 0)
                                goto out;
                }
                break;
        default: /* unknown: parseIgnore */
                n->args = strv_new();
                break;
        }
        if (r < 0 && msg)
                r = perr(p, lineno, "%s", msg);
        if (r < 0)
                goto out;
        if (!n->args)
                n->args = strv_new();
        *ret = n;
        return 0;
out:
        node_free(n);
        return r;
}

static bool can_contain_heredoc(const struct node *n)
{
        if (n->cmd == KILN_DF_ONBUILD && n->child)
                n = n->child;
        if (n->cmd != KILN_DF_ADD && n->cmd != KILN_DF_COPY && n->cmd != KILN_DF_RUN)
                return false;
        return !n->json;
}

/* heredocsFromLine + reading their bodies */
static int read_heredocs(struct parser *p, const char *line, unsigned start, unsigned *cur_line,
                         struct kiln_df_heredoc **ret, size_t *ret_n, char **ret_raw_tail)
{
        struct kiln_shell sh = { .escape = '\\', .raw_quotes = true, .raw_escapes = true,
                                 .skip_unset = true };
        char **words = NULL;
        struct kiln_df_heredoc *docs = NULL;
        size_t n = 0;
        struct kiln_buf tail = KILN_BUF_INIT;
        int r = 0;
        if (kiln_shell_words(&sh, line, &words, NULL) < 0)
                words = strv_new();
        for (char **w = words; *w; w++) {
                struct kiln_df_heredoc h = { 0 };
                struct kiln_error e = { 0 };
                r = parse_heredoc_word(*w, &h, &e);
                if (r < 0) {
                        r = perr(p, start, "%s", e.msg);
                        goto fail;
                }
                if (r == 0)
                        continue;
                r = 0;
                struct kiln_buf content = KILN_BUF_INIT;
                bool terminated = false;
                while (p->cur < p->n_lines) {
                        struct pline *pl = &p->lines[p->cur++];
                        (*cur_line)++;
                        size_t len = trim_newline(pl->s, pl->n);
                        const char *t = pl->s;
                        if (h.chomp)
                                while (len && *t == '\t')
                                        t++, len--;
                        if (len == strlen(h.name) && memcmp(t, h.name, len) == 0) {
                                terminated = true;
                                break;
                        }
                        kiln_buf_append(&content, pl->s, pl->n);
                }
                if (!terminated) {
                        kiln_buf_free(&content);
                        heredoc_free(&h);
                        r = perr(p, start, "unterminated heredoc");
                        goto fail;
                }
                const char *raw = content.data ? content.data : "";
                /* the ONBUILD expression keeps the raw body and the name */
                kiln_buf_puts(&tail, "\n");
                kiln_buf_puts(&tail, raw);
                kiln_buf_puts(&tail, h.name);
                h.content = h.chomp ? chomp_tabs(raw) : kiln_xstrdup(raw);
                kiln_buf_free(&content);
                docs = kiln_xrealloc(docs, (n + 1) * sizeof(*docs));
                docs[n++] = h;
        }
        kiln_strv_free(words);
        *ret = docs;
        *ret_n = n;
        *ret_raw_tail = kiln_buf_steal(&tail);
        return 0;
fail:
        kiln_strv_free(words);
        for (size_t i = 0; i < n; i++)
                heredoc_free(&docs[i]);
        free(docs);
        kiln_buf_free(&tail);
        return r;
}

/* ---- phase 2: the typed instruction ---- */

enum ftype { F_BOOL, F_STRING, F_STRINGS };
struct fdef {
        const char *name;
        enum ftype type;
};

static const struct fdef add_flags[] = {
        { "chown", F_STRING }, { "chmod", F_STRING }, { "link", F_BOOL },
        { "keep-git-dir", F_BOOL }, { "checksum", F_STRING }, { "unpack", F_BOOL },
        { "exclude", F_STRINGS }, { NULL, 0 },
};
static const struct fdef copy_flags[] = {
        { "chown", F_STRING }, { "from", F_STRING }, { "chmod", F_STRING },
        { "link", F_BOOL }, { "exclude", F_STRINGS }, { "parents", F_BOOL }, { NULL, 0 },
};
static const struct fdef from_flags[] = { { "platform", F_STRING }, { NULL, 0 } };
static const struct fdef run_flags[] = {
        { "mount", F_STRINGS }, { "network", F_STRING }, { "security", F_STRING },
        { "device", F_STRINGS }, { NULL, 0 },
};
static const struct fdef health_flags[] = {
        { "interval", F_STRING }, { "timeout", F_STRING }, { "start-period", F_STRING },
        { "start-interval", F_STRING }, { "retries", F_STRING }, { NULL, 0 },
};
static const struct fdef no_flags[] = { { NULL, 0 } };

/* BFlags.Parse: check the flags against the instruction's definitions */
static int check_flags(struct parser *p, unsigned line, const struct kiln_df_instruction *in,
                       const struct fdef *defs)
{
        size_t ndefs = 0;
        while (defs[ndefs].name)
                ndefs++;
        bool used[16] = { 0 };
        for (size_t i = 0; i < in->n_flags; i++) {
                const struct kiln_df_flag *f = &in->flags[i];
                size_t d;
                for (d = 0; d < ndefs; d++)
                        if (strcmp(defs[d].name, f->name) == 0)
                                break;
                if (d == ndefs) {
                        const char *opts[16];
                        for (size_t k = 0; k < ndefs; k++)
                                opts[k] = defs[k].name;
                        _cleanup_free_ char *s = suggest(f->name, opts, ndefs, true);
                        if (s)
                                return perr(p, line, "unknown flag: --%s (did you mean %s?)", f->name, s);
                        return perr(p, line, "unknown flag: --%s", f->name);
                }
                if (used[d] && defs[d].type != F_STRINGS)
                        return perr(p, line, "duplicate flag specified: --%s", f->name);
                used[d] = true;
                switch (defs[d].type) {
                case F_BOOL:
                        if (f->value && !*f->value)
                                return perr(p, line, "missing a value on flag: --%s", f->name);
                        if (f->value && !ascii_ieq(f->value, "true") && !ascii_ieq(f->value, "false"))
                                return perr(p, line, "expecting boolean value for flag --%s, not: %s",
                                            f->name, f->value);
                        break;
                case F_STRING:
                case F_STRINGS:
                        if (!f->value)
                                return perr(p, line, "missing a value on flag: --%s", f->name);
                        break;
                }
        }
        return 0;
}

const char *kiln_df_flag_value(const struct kiln_df_instruction *in, const char *name)
{
        const char *v = NULL;
        for (size_t i = 0; i < in->n_flags; i++)
                if (strcmp(in->flags[i].name, name) == 0)
                        v = in->flags[i].value ? in->flags[i].value : "";
        return v;
}

bool kiln_df_flag_used(const struct kiln_df_instruction *in, const char *name)
{
        for (size_t i = 0; i < in->n_flags; i++)
                if (strcmp(in->flags[i].name, name) == 0)
                        return true;
        return false;
}

bool kiln_df_flag_bool(const struct kiln_df_instruction *in, const char *name)
{
        bool v = false;
        for (size_t i = 0; i < in->n_flags; i++)
                if (strcmp(in->flags[i].name, name) == 0)
                        v = !in->flags[i].value || ascii_ieq(in->flags[i].value, "true");
        return v;
}

const char **kiln_df_flag_values(const struct kiln_df_instruction *in, const char *name)
{
        const char **v = kiln_xcalloc(in->n_flags + 1, sizeof(char *));
        size_t n = 0;
        for (size_t i = 0; i < in->n_flags; i++)
                if (strcmp(in->flags[i].name, name) == 0)
                        v[n++] = in->flags[i].value ? in->flags[i].value : "";
        return v;
}

/* Go's time.ParseDuration */
int kiln_go_parse_duration(const char *orig, int64_t *ret_ns, struct kiln_error *err)
{
        static const struct {
                const char *u;
                uint64_t ns;
        } units[] = {
                { "ns", 1ULL }, { "us", 1000ULL }, { "\xc2\xb5s", 1000ULL }, { "\xce\xbcs", 1000ULL },
                { "ms", 1000000ULL }, { "s", 1000000000ULL }, { "m", 60000000000ULL },
                { "h", 3600000000000ULL },
        };
        const char *s = orig;
        uint64_t d = 0;
        bool neg = false;
        struct kiln_buf q = KILN_BUF_INIT;
        go_quote(&q, orig);
        int r = 0;
        if (*s == '-' || *s == '+') {
                neg = *s == '-';
                s++;
        }
        if (strcmp(s, "0") == 0) {
                *ret_ns = 0;
                goto out;
        }
        if (!*s) {
                r = kiln_err(err, -KILN_EFORMAT, "time: invalid duration %s", q.data);
                goto out;
        }
        while (*s) {
                uint64_t v = 0, f = 0;
                double scale = 1;
                bool pre = false, post = false, overflow = false;
                if (!(*s == '.' || (*s >= '0' && *s <= '9'))) {
                        r = kiln_err(err, -KILN_EFORMAT, "time: invalid duration %s", q.data);
                        goto out;
                }
                const char *st = s;
                while (*s >= '0' && *s <= '9') {
                        if (v > (UINT64_MAX - 9) / 10 || v * 10 + (uint64_t)(*s - '0') > (1ULL << 63))
                                overflow = true;
                        else
                                v = v * 10 + (uint64_t)(*s - '0');
                        s++;
                }
                if (overflow) {
                        r = kiln_err(err, -KILN_EFORMAT, "time: invalid duration %s", q.data);
                        goto out;
                }
                pre = s != st;
                if (*s == '.') {
                        s++;
                        const char *fs = s;
                        while (*s >= '0' && *s <= '9') {
                                if (f <= (UINT64_MAX - 9) / 10 && scale < 1e18) {
                                        f = f * 10 + (uint64_t)(*s - '0');
                                        scale *= 10;
                                }
                                s++;
                        }
                        post = s != fs;
                }
                if (!pre && !post) {
                        r = kiln_err(err, -KILN_EFORMAT, "time: invalid duration %s", q.data);
                        goto out;
                }
                const char *us = s;
                while (*s && *s != '.' && !(*s >= '0' && *s <= '9'))
                        s++;
                if (us == s) {
                        r = kiln_err(err, -KILN_EFORMAT, "time: missing unit in duration %s", q.data);
                        goto out;
                }
                size_t ul = (size_t)(s - us);
                uint64_t unit = 0;
                for (size_t i = 0; i < KILN_ARRAY_SIZE(units); i++)
                        if (strlen(units[i].u) == ul && memcmp(units[i].u, us, ul) == 0)
                                unit = units[i].ns;
                if (!unit) {
                        _cleanup_free_ char *u = kiln_xstrndup(us, ul);
                        struct kiln_buf uq = KILN_BUF_INIT;
                        go_quote(&uq, u);
                        r = kiln_err(err, -KILN_EFORMAT, "time: unknown unit %s in duration %s",
                                     uq.data, q.data);
                        kiln_buf_free(&uq);
                        goto out;
                }
                if (v > (1ULL << 63) / unit) {
                        r = kiln_err(err, -KILN_EFORMAT, "time: invalid duration %s", q.data);
                        goto out;
                }
                v *= unit;
                if (f > 0) {
                        v += (uint64_t)((double)f * ((double)unit / scale));
                        if (v > (1ULL << 63)) {
                                r = kiln_err(err, -KILN_EFORMAT, "time: invalid duration %s", q.data);
                                goto out;
                        }
                }
                d += v;
                if (d > (1ULL << 63)) {
                        r = kiln_err(err, -KILN_EFORMAT, "time: invalid duration %s", q.data);
                        goto out;
                }
        }
        if (neg)
                *ret_ns = d == (1ULL << 63) ? INT64_MIN : -(int64_t)d;
        else if (d > (uint64_t)INT64_MAX)
                r = kiln_err(err, -KILN_EFORMAT, "time: invalid duration %s", q.data);
        else
                *ret_ns = (int64_t)d;
out:
        kiln_buf_free(&q);
        return r;
}

static int opt_interval(struct parser *p, unsigned line, const struct kiln_df_instruction *in,
                        const char *name, int64_t *ret)
{
        const char *v = kiln_df_flag_value(in, name);
        *ret = 0;
        if (!v || !*v)
                return 0;
        struct kiln_error e = { 0 };
        int64_t d;
        if (kiln_go_parse_duration(v, &d, &e) < 0)
                return perr(p, line, "%s", e.msg);
        if (d == 0)
                return 0;
        if (d < 1000000)
                return perr(p, line, "Interval \"%s\" cannot be less than 1ms", name);
        *ret = d;
        return 0;
}

/* strconv.ParseInt(s, 10, 32) */
static int parse_int32(struct parser *p, unsigned line, const char *s, int64_t *ret)
{
        const char *c = s;
        bool neg = false;
        if (*c == '+' || *c == '-')
                neg = *c++ == '-';
        int64_t v = 0;
        bool range = false;
        if (!*c)
                goto syntax;
        for (; *c; c++) {
                if (*c < '0' || *c > '9')
                        goto syntax;
                if (!range) {
                        v = v * 10 + (*c - '0');
                        if (v > (int64_t)INT32_MAX + 1)
                                range = true;
                }
        }
        if (range || (!neg && v > INT32_MAX))
                return perr(p, line, "strconv.ParseInt: parsing \"%s\": value out of range", s);
        *ret = neg ? -v : v;
        return 0;
syntax:
        return perr(p, line, "strconv.ParseInt: parsing \"%s\": invalid syntax", s);
}

static char **join_args(char **args, bool json)
{
        char **v = strv_new();
        if (!args[0])
                return v;
        if (json) {
                for (char **a = args; *a; a++)
                        kiln_strv_push(&v, *a);
                return v;
        }
        struct kiln_buf b = KILN_BUF_INIT;
        for (char **a = args; *a; a++) {
                if (a != args)
                        kiln_buf_puts(&b, " ");
                kiln_buf_puts(&b, *a);
        }
        kiln_strv_push_take(&v, kiln_buf_steal(&b));
        return v;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool valid_stage_name(const char *s)
{
        if (!(*s >= 'a' && *s <= 'z'))
                return false;
        for (s++; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
                      *s == '_' || *s == '.'))
                        return false;
        return true;
}

/* ParseInstruction for one node, into in (flags, args, heredocs set) */
static int typed(struct parser *p, const struct node *n, struct kiln_df_instruction *in)
{
        unsigned line = in->start_line;
        size_t nargs = kiln_strv_len(in->args);
        const char *cmd = n->cmd >= 0 ? cmd_names[n->cmd] : NULL;
        int r;

        switch (n->cmd) {
        case KILN_DF_ENV:
        case KILN_DF_LABEL:
                if ((r = check_flags(p, line, in, no_flags)) < 0)
                        return r;
                if (nargs == 0)
                        return perr(p, line, "%s requires at least one argument", cmd);
                in->n_kvs = nargs / 3;
                in->kvs = kiln_xcalloc(in->n_kvs + 1, sizeof(*in->kvs));
                for (size_t i = 0; i < in->n_kvs; i++) {
                        if (!*in->args[3 * i])
                                return perr(p, line, "%s names can not be blank", cmd);
                        in->kvs[i].key = kiln_xstrdup(in->args[3 * i]);
                        in->kvs[i].value = kiln_xstrdup(in->args[3 * i + 1]);
                        in->kvs[i].no_delim = !*in->args[3 * i + 2];
                }
                return 0;
        case KILN_DF_MAINTAINER:
        case KILN_DF_WORKDIR:
        case KILN_DF_USER:
                if (nargs != 1)
                        return perr(p, line, "%s requires exactly one argument", cmd);
                if ((r = check_flags(p, line, in, no_flags)) < 0)
                        return r;
                in->value = kiln_xstrdup(in->args[0]);
                return 0;
        case KILN_DF_STOPSIGNAL: /* BuildKit never parses its flags */
                if (nargs != 1)
                        return perr(p, line, "%s requires exactly one argument", cmd);
                in->value = kiln_xstrdup(in->args[0]);
                return 0;
        case KILN_DF_ADD:
        case KILN_DF_COPY: {
                if (nargs < 2)
                        return perr(p, line,
                                    "%s requires at least two arguments, but only one was provided. Destination could not be determined",
                                    cmd);
                if ((r = check_flags(p, line, in, n->cmd == KILN_DF_ADD ? add_flags : copy_flags)) < 0)
                        return r;
                if (is_heredoc_word(in->args[nargs - 1]))
                        return perr(p, line, "%s cannot accept a heredoc as a destination", cmd);
                in->dest = kiln_xstrdup(in->args[nargs - 1]);
                in->sources = strv_new();
                in->inline_sources = kiln_xcalloc(nargs, sizeof(*in->inline_sources));
                for (size_t i = 0; i + 1 < nargs; i++) {
                        struct kiln_df_heredoc h = { 0 };
                        if (parse_heredoc_word(in->args[i], &h, NULL) > 0) {
                                /* the last heredoc of that name, as BuildKit's map */
                                struct kiln_df_heredoc *found = NULL;
                                for (size_t k = 0; k < in->n_heredocs; k++)
                                        if (strcmp(in->heredocs[k].name, h.name) == 0)
                                                found = &in->heredocs[k];
                                if (!found) {
                                        /* JSON form: a heredoc word with no body */
                                        in->heredocs = kiln_xrealloc(in->heredocs,
                                                (in->n_heredocs + 1) * sizeof(*in->heredocs));
                                        /* pointers into heredocs must be rebuilt */
                                        h.content = kiln_xstrdup("");
                                        in->heredocs[in->n_heredocs++] = h;
                                        h.name = NULL;
                                        found = &in->heredocs[in->n_heredocs - 1];
                                }
                                /* store the index for now; pointers fixed below */
                                in->inline_sources[in->n_inline_sources++] =
                                        (struct kiln_df_heredoc *)(uintptr_t)(found - in->heredocs + 1);
                                free(h.name);
                        } else {
                                kiln_strv_push(&in->sources, in->args[i]);
                        }
                }
                for (size_t i = 0; i < in->n_inline_sources; i++)
                        in->inline_sources[i] = &in->heredocs[(uintptr_t)in->inline_sources[i] - 1];
                return 0;
        }
        case KILN_DF_FROM:
                if (nargs == 3 && ascii_ieq(in->args[1], "as")) {
                        in->stage_name = keyword_lower(in->args[2]);
                        if (!valid_stage_name(in->stage_name)) {
                                struct kiln_buf q = KILN_BUF_INIT;
                                go_quote(&q, in->args[2]);
                                r = perr(p, line,
                                         "invalid name for build stage: %s, name can't start with a number or contain symbols",
                                         q.data);
                                kiln_buf_free(&q);
                                return r;
                        }
                } else if (nargs != 1) {
                        return perr(p, line, "FROM requires either one or three arguments");
                }
                if ((r = check_flags(p, line, in, from_flags)) < 0)
                        return r;
                in->base = kiln_xstrdup(in->args[0]);
                return 0;
        case KILN_DF_ONBUILD: {
                if (nargs == 0)
                        return perr(p, line, "ONBUILD requires at least one argument");
                if ((r = check_flags(p, line, in, no_flags)) < 0)
                        return r;
                _cleanup_free_ char *t = trim_space(in->args[0], strlen(in->args[0]));
                _cleanup_free_ char *up = ascii_upper(t);
                _cleanup_free_ char *low = keyword_lower(t);
                if (strcmp(low, "onbuild") == 0)
                        return perr(p, line, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
                if (strcmp(low, "maintainer") == 0 || strcmp(low, "from") == 0)
                        return perr(p, line, "%s isn't allowed as an ONBUILD trigger", up);
                /* (?i)^\s*ONBUILD\s* removed from the original */
                const char *o = in->original;
                while (is_re2_s(*o))
                        o++;
                if (strncasecmp(o, "onbuild", 7) == 0) {
                        o += 7;
                        while (is_re2_s(*o))
                                o++;
                } else {
                        o = in->original;
                }
                in->expression = kiln_xstrdup(o);
                return 0;
        }
        case KILN_DF_RUN:
                if ((r = check_flags(p, line, in, run_flags)) < 0)
                        return r;
                in->cmdline = join_args(in->args, in->json);
                in->prepend_shell = !in->json;
                return 0;
        case KILN_DF_CMD:
        case KILN_DF_ENTRYPOINT:
                if ((r = check_flags(p, line, in, no_flags)) < 0)
                        return r;
                in->cmdline = join_args(in->args, in->json);
                if (n->cmd == KILN_DF_ENTRYPOINT && !in->cmdline[0]) {
                        kiln_strv_free(in->cmdline);
                        in->cmdline = NULL;
                }
                in->prepend_shell = !in->json;
                return 0;
        case KILN_DF_HEALTHCHECK: {
                if (nargs == 0)
                        return perr(p, line, "HEALTHCHECK requires at least one argument");
                _cleanup_free_ char *typ = ascii_upper(in->args[0]);
                in->health = kiln_xcalloc(1, sizeof(*in->health));
                in->health->test = strv_new();
                if (strcmp(typ, "NONE") == 0) {
                        if (nargs != 1)
                                return perr(p, line, "HEALTHCHECK NONE takes no arguments");
                        kiln_strv_push(&in->health->test, "NONE");
                        return 0;
                }
                if ((r = check_flags(p, line, in, health_flags)) < 0)
                        return r;
                if (strcmp(typ, "CMD") != 0) {
                        struct kiln_buf q = KILN_BUF_INIT;
                        go_quote(&q, typ);
                        r = perr(p, line, "Unknown type %s in HEALTHCHECK (try CMD)", q.data);
                        kiln_buf_free(&q);
                        return r;
                }
                _cleanup_strv_free_ char **cmdv = join_args(in->args + 1, in->json);
                if (!cmdv[0])
                        return perr(p, line, "Missing command after HEALTHCHECK CMD");
                kiln_strv_push(&in->health->test, in->json ? "CMD" : "CMD-SHELL");
                for (char **c = cmdv; *c; c++)
                        kiln_strv_push(&in->health->test, *c);
                if ((r = opt_interval(p, line, in, "interval", &in->health->interval_ns)) < 0 ||
                    (r = opt_interval(p, line, in, "timeout", &in->health->timeout_ns)) < 0 ||
                    (r = opt_interval(p, line, in, "start-period", &in->health->start_period_ns)) < 0 ||
                    (r = opt_interval(p, line, in, "start-interval", &in->health->start_interval_ns)) < 0)
                        return r;
                const char *rv = kiln_df_flag_value(in, "retries");
                if (rv && *rv) {
                        int64_t v = 0;
                        if ((r = parse_int32(p, line, rv, &v)) < 0)
                                return r;
                        if (v < 0)
                                return perr(p, line, "--retries cannot be negative (%lld)", (long long)v);
                        in->health->retries = (int)v;
                }
                return 0;
        }
        case KILN_DF_EXPOSE:
                if (nargs == 0)
                        return perr(p, line, "EXPOSE requires at least one argument");
                if ((r = check_flags(p, line, in, no_flags)) < 0)
                        return r;
                in->list = strv_new();
                for (char **a = in->args; *a; a++)
                        kiln_strv_push(&in->list, *a);
                qsort(in->list, nargs, sizeof(char *), cmp_str);
                return 0;
        case KILN_DF_VOLUME:
                if (nargs == 0)
                        return perr(p, line, "VOLUME requires at least one argument");
                if ((r = check_flags(p, line, in, no_flags)) < 0)
                        return r;
                in->list = strv_new();
                for (char **a = in->args; *a; a++) {
                        char *v = trim_space(*a, strlen(*a));
                        if (!*v) {
                                free(v);
                                return perr(p, line, "VOLUME specified can not be an empty string");
                        }
                        kiln_strv_push_take(&in->list, v);
                }
                return 0;
        case KILN_DF_ARG: /* BuildKit never parses its flags */
                if (nargs == 0)
                        return perr(p, line, "ARG requires at least one argument");
                in->arg_list = kiln_xcalloc(nargs + 1, sizeof(*in->arg_list));
                for (size_t i = 0; i < nargs; i++) {
                        char *eq = strchr(in->args[i], '=');
                        if (eq) {
                                if (eq == in->args[i])
                                        return perr(p, line, "ARG names can not be blank");
                                in->arg_list[i].key = kiln_xstrndup(in->args[i], (size_t)(eq - in->args[i]));
                                in->arg_list[i].value = kiln_xstrdup(eq + 1);
                        } else {
                                in->arg_list[i].key = kiln_xstrdup(in->args[i]);
                        }
                        in->n_arg_list++;
                }
                return 0;
        case KILN_DF_SHELL:
                if ((r = check_flags(p, line, in, no_flags)) < 0)
                        return r;
                if (nargs == 0)
                        return perr(p, line, "SHELL requires at least one argument");
                if (!in->json)
                        return perr(p, line, "SHELL requires the arguments to be in JSON form");
                in->cmdline = join_args(in->args, true);
                return 0;
        default: {
                static const char *const names[] = {
                        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM",
                        "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL",
                        "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
                };
                _cleanup_free_ char *s = suggest(in->keyword, names, KILN_ARRAY_SIZE(names), false);
                if (s)
                        return perr(p, line, "unknown instruction: %s (did you mean %s?)", in->keyword, s);
                return perr(p, line, "unknown instruction: %s", in->keyword);
        }
        }
}

/* move a phase-1 node into an instruction (flags split, args for ONBUILD) */
static void fill_from_node(struct node *n, struct kiln_df_instruction *in)
{
        in->cmd = n->cmd >= 0 ? (enum kiln_df_cmd)n->cmd : KILN_DF__MAX;
        in->keyword = TAKE_PTR(n->keyword);
        in->original = TAKE_PTR(n->original);
        in->json = n->json;
        size_t nf = kiln_strv_len(n->flags);
        in->flags = kiln_xcalloc(nf + 1, sizeof(*in->flags));
        for (size_t i = 0; i < nf; i++) {
                const char *a = n->flags[i] + 2; /* every flag word starts with "--" */
                const char *eq = strchr(a, '=');
                in->flags[i].name = eq ? kiln_xstrndup(a, (size_t)(eq - a)) : kiln_xstrdup(a);
                in->flags[i].value = eq ? kiln_xstrdup(eq + 1) : NULL;
        }
        in->n_flags = nf;
        if (n->cmd == KILN_DF_ENV || n->cmd == KILN_DF_LABEL) {
                in->args = TAKE_PTR(n->triples);
        } else if (n->cmd == KILN_DF_ONBUILD) {
                in->args = strv_new();
                if (n->child) {
                        char **cargs = n->child->triples ? n->child->triples : n->child->args;
                        kiln_strv_push(&in->args, n->child->keyword);
                        for (char **a = cargs; a && *a; a++)
                                kiln_strv_push(&in->args, *a);
                        in->json = false; /* ONBUILD's own node has no attributes */
                }
        } else {
                in->args = TAKE_PTR(n->args);
        }
        if (!in->args)
                in->args = strv_new();
}

static void push_warning(struct kiln_dockerfile *df, const char *line)
{
        kiln_strv_push_take(&df->warnings, kiln_xasprintf("Empty continuation line found in: %s", line));
}

int kiln_dockerfile_parse(const char *data, size_t len, const char *filename,
                          struct kiln_dockerfile **ret_df, struct kiln_error *err)
{
        struct parser p = { .filename = filename ? filename : "Dockerfile", .escape = '\\', .err = err };
        struct kiln_dockerfile *df = kiln_xcalloc(1, sizeof(*df));
        df->filename = kiln_xstrdup(p.filename);
        df->warnings = strv_new();
        struct node **nodes = NULL;
        size_t n_nodes = 0;
        struct kiln_df_instruction *ins = NULL;
        char **comments = strv_new();
        int r = 0;

        if (memchr(data, 0, len)) {
                r = kiln_err(err, -KILN_EFORMAT, "%s: the file contains a NUL byte", p.filename);
                goto out;
        }
        /* the physical lines, each with its newline */
        size_t cap = 0;
        for (size_t off = 0; off < len;) {
                const char *nl = memchr(data + off, '\n', len - off);
                size_t l = nl ? (size_t)(nl - (data + off)) + 1 : len - off;
                if (l > LINE_MAX_BYTES || (!nl && l >= LINE_MAX_BYTES)) {
                        r = kiln_err(err, -KILN_ETOOBIG,
                                     "%s:%zu: dockerfile line greater than max allowed size of %d",
                                     p.filename, p.n_lines + 1, LINE_MAX_BYTES - 1);
                        goto out;
                }
                if (p.n_lines == cap) {
                        cap = cap ? cap * 2 : 64;
                        p.lines = kiln_xrealloc(p.lines, cap * sizeof(*p.lines));
                }
                p.lines[p.n_lines++] = (struct pline){ data + off, l };
                off += l;
        }
        if (p.n_lines && p.lines[0].n >= 3 && memcmp(p.lines[0].s, "\xEF\xBB\xBF", 3) == 0) {
                p.lines[0].s += 3;
                p.lines[0].n -= 3;
        }

        unsigned cur_line = 0;
        size_t n_cap = 0;
        struct { unsigned start, end; struct kiln_df_heredoc *docs; size_t n_docs; char *tail;
                 char **comments; } *meta = NULL;
        while (p.cur < p.n_lines) {
                struct pline *pl = &p.lines[p.cur++];
                if (is_comment(pl->s, pl->n)) {
                        _cleanup_free_ char *c = trim_space(pl->s + 1, pl->n - 1);
                        if (!*c) {
                                kiln_strv_free(comments);
                                comments = strv_new();
                        } else {
                                kiln_strv_push(&comments, c);
                        }
                }
                const char *s = pl->s;
                size_t n = pl->n;
                bool directive = false;
                r = process_line(&p, &s, &n, true, cur_line + 1, &directive);
                if (r < 0)
                        goto out_meta;
                if (directive) {
                        size_t cl = kiln_strv_len(comments);
                        if (cl) {
                                free(comments[cl - 1]);
                                comments[cl - 1] = NULL;
                        }
                }
                cur_line++;
                unsigned start = cur_line;
                bool eol = trim_continuation(&p, s, &n);
                if (eol && n == 0)
                        continue;
                struct kiln_buf buf = KILN_BUF_INIT;
                kiln_buf_append(&buf, s, n);
                bool empty_cont = false;
                while (!eol && p.cur < p.n_lines) {
                        struct pline *cl = &p.lines[p.cur++];
                        const char *cs = cl->s;
                        size_t cn = cl->n;
                        r = process_line(&p, &cs, &cn, false, cur_line + 1, &directive);
                        if (r < 0) {
                                kiln_buf_free(&buf);
                                goto out_meta;
                        }
                        cur_line++;
                        if (is_comment(cl->s, cl->n))
                                continue;
                        size_t tl = trim_newline(cs, cn);
                        if (lead_space(cs, tl) == tl) {
                                empty_cont = true;
                                continue;
                        }
                        eol = trim_continuation(&p, cs, &cn);
                        kiln_buf_append(&buf, cs, cn);
                }
                _cleanup_free_ char *line = kiln_buf_steal(&buf);
                if (empty_cont)
                        push_warning(df, line);
                struct node *node = NULL;
                r = node_from_line(&p, line, start, &node);
                if (r < 0)
                        goto out_meta;
                if (n_nodes == n_cap) {
                        n_cap = n_cap ? n_cap * 2 : 32;
                        nodes = kiln_xrealloc(nodes, n_cap * sizeof(*nodes));
                        meta = kiln_xrealloc(meta, n_cap * sizeof(*meta));
                }
                nodes[n_nodes] = node;
                memset(&meta[n_nodes], 0, sizeof(meta[n_nodes]));
                meta[n_nodes].start = start;
                n_nodes++;
                if (can_contain_heredoc(node) && strstr(line, "<<")) {
                        r = read_heredocs(&p, line, start, &cur_line, &meta[n_nodes - 1].docs,
                                          &meta[n_nodes - 1].n_docs, &meta[n_nodes - 1].tail);
                        if (r < 0)
                                goto out_meta;
                }
                meta[n_nodes - 1].end = cur_line;
                meta[n_nodes - 1].comments = TAKE_PTR(comments);
                comments = strv_new();
        }
        if (n_nodes == 0) {
                r = kiln_err(err, -KILN_EFORMAT, "%s:%u: file with no instructions", p.filename,
                             cur_line ? cur_line : 1);
                goto out_meta;
        }

        /* phase 2 */
        ins = kiln_xcalloc(n_nodes, sizeof(*ins));
        size_t n_ins = 0;
        for (size_t i = 0; i < n_nodes; i++) {
                struct kiln_df_instruction *in = &ins[n_ins++];
                fill_from_node(nodes[i], in);
                in->start_line = meta[i].start;
                in->end_line = meta[i].end;
                in->comments = TAKE_PTR(meta[i].comments);
                in->heredocs = TAKE_PTR(meta[i].docs);
                in->n_heredocs = meta[i].n_docs;
                meta[i].n_docs = 0;
                r = typed(&p, nodes[i], in);
                if (r >= 0 && in->cmd == KILN_DF_ONBUILD && in->n_heredocs) {
                        char *e = kiln_xasprintf("%s%s", in->expression, meta[i].tail);
                        free(in->expression);
                        in->expression = e;
                }
                if (r < 0) {
                        df->instructions = ins;
                        df->n_instructions = n_ins;
                        ins = NULL;
                        goto out_meta;
                }
        }
        df->instructions = TAKE_PTR(ins);
        df->n_instructions = n_ins;

        /* stages: ARGs before the first FROM are the meta args */
        for (size_t i = 0; i < n_ins; i++) {
                struct kiln_df_instruction *in = &df->instructions[i];
                if (in->cmd == KILN_DF_FROM) {
                        df->stages = kiln_xrealloc(df->stages, (df->n_stages + 1) * sizeof(*df->stages));
                        df->stages[df->n_stages++] = (struct kiln_df_stage){
                                .name = in->stage_name, .from = i, .first = i + 1, .count = 0,
                        };
                } else if (df->n_stages == 0) {
                        if (in->cmd != KILN_DF_ARG) {
                                r = kiln_err(err, -KILN_EFORMAT, "%s:%u: no build stage in current context",
                                             p.filename, in->start_line);
                                goto out_meta;
                        }
                        df->n_meta_args++;
                } else {
                        df->stages[df->n_stages - 1].count++;
                }
        }
        df->escape = p.escape;
        df->syntax = TAKE_PTR(p.syntax);
        df->check = TAKE_PTR(p.check);
        *ret_df = TAKE_PTR(df);
        r = 0;
out_meta:
        for (size_t i = 0; i < n_nodes; i++) {
                node_free(nodes[i]);
                if (meta) {
                        for (size_t k = 0; k < meta[i].n_docs; k++)
                                heredoc_free(&meta[i].docs[k]);
                        free(meta[i].docs);
                        free(meta[i].tail);
                        kiln_strv_free(meta[i].comments);
                }
        }
        free(nodes);
        free(meta);
out:
        if (ins) {
                for (size_t i = 0; i < n_nodes; i++)
                        instruction_clear(&ins[i]);
                free(ins);
        }
        kiln_strv_free(comments);
        free(p.lines);
        free(p.syntax);
        free(p.check);
        kiln_dockerfile_free(df);
        return r;
}
