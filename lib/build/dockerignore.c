/* SPDX-License-Identifier: Apache-2.0 */
/*
 * .dockerignore: the file format of moby/patternmatcher/ignorefile and the
 * matcher of moby/patternmatcher, as BuildKit applies them to a context.
 *
 * patternmatcher sorts each cleaned pattern into one of four kinds while
 * translating it to a Go regular expression: exact (no wildcard at all),
 * prefix (a trailing double star: a string prefix test), suffix (a
 * pattern starting with a double star: a string suffix test, whatever
 * follows, unless a later wildcard makes it a regexp) and regexp. The
 * regexp is what Go would compile from the translation: a star is
 * "[^/]*", '?' is "[^/]", a double star is an optional group of any
 * characters ending in '/' (or ".*" at the end), "[...]" stays a class,
 * a backslash an escape, '^' an anchor and ".+()|{}$" are quoted. Rather than carry a regexp engine, the
 * translation is compiled here to a small token program and run as an NFA
 * over runes (linear time, no backtracking), reproducing Go's regexp
 * semantics for everything the translation can produce: '.' does not match
 * '\n', negated classes do, invalid UTF-8 bytes are U+FFFD.
 */
#include <string.h>
#include "buildctx-internal.h"

#define IGNORE_MAX_LINE 65535
#define IGNORE_MAX_PATTERNS 100000

enum tok_kind {
        T_LIT,     /* one rune */
        T_ANY1,    /* one rune but '/' */
        T_STAR,    /* any run of runes but '/' */
        T_DOTSTAR, /* any run of runes but '\n' */
        T_SPLIT,   /* epsilon to the next token and to target */
        T_BEGIN,   /* only at the start of the text */
        T_CLASS,   /* one rune in (or, negated, not in) the ranges */
};

struct range {
        uint32_t lo, hi;
};

struct tok {
        enum tok_kind kind;
        uint32_t rune;
        size_t target;
        bool negated;
        struct range *ranges;
        size_t nranges;
};

enum pm_type { PM_EXACT, PM_PREFIX, PM_SUFFIX, PM_REGEXP };

struct pm_pattern {
        char *text;    /* cleaned, without the '!' */
        char *display; /* as listed: with the '!' */
        bool exclusion;
        enum pm_type type;
        struct tok *toks;
        size_t ntok;
};

struct kiln_dockerignore {
        struct pm_pattern *p;
        size_t n;
        bool exclusions;             /* some pattern is an exception */
        bool only_prefix_exceptions; /* no exception holds a wildcard */
};

/* ---- compiling a pattern ---- */

struct prog {
        struct tok *t;
        size_t n, cap;
};

static struct tok *emit(struct prog *p, enum tok_kind k, uint32_t rune)
{
        if (p->n == p->cap) {
                p->cap = p->cap ? p->cap * 2 : 16;
                p->t = kiln_xrealloc(p->t, p->cap * sizeof(*p->t));
        }
        struct tok *t = &p->t[p->n++];
        memset(t, 0, sizeof(*t));
        t->kind = k;
        t->rune = rune;
        return t;
}

static void prog_free(struct tok *t, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(t[i].ranges);
        free(t);
}

static void add_range(struct tok *t, uint32_t lo, uint32_t hi)
{
        t->ranges = kiln_xrealloc(t->ranges, (t->nranges + 1) * sizeof(*t->ranges));
        t->ranges[t->nranges++] = (struct range){ lo, hi };
}

/* Characters patternmatcher quotes in the regexp (literal there). */
static bool should_escape(uint32_t c)
{
        return c < 0x80 && strchr(".+()|{}$", (int)c) && c != 0;
}

static bool is_ascii_alnum(uint32_t c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A cursor over the runes of a pattern. */
struct cur {
        const char *s;
        size_t n, pos;
};

static bool cur_eof(const struct cur *c)
{
        return c->pos >= c->n;
}

static uint32_t cur_peek(const struct cur *c)
{
        uint32_t r;
        if (cur_eof(c))
                return (uint32_t)-1;
        utf8_decode(c->s + c->pos, c->n - c->pos, &r);
        return r;
}

static uint32_t cur_next(struct cur *c)
{
        uint32_t r;
        c->pos += utf8_decode(c->s + c->pos, c->n - c->pos, &r);
        return r;
}

/* Perl classes Go's regexp knows: \d \s \w (and negated \D \S \W). */
static bool perl_class(uint32_t e, struct tok *t)
{
        switch (e | 0x20) {
        case 'd':
                add_range(t, '0', '9');
                break;
        case 's':
                add_range(t, '\t', '\n');
                add_range(t, '\f', '\r');
                add_range(t, ' ', ' ');
                break;
        case 'w':
                add_range(t, '0', '9');
                add_range(t, 'A', 'Z');
                add_range(t, '_', '_');
                add_range(t, 'a', 'z');
                break;
        default:
                return false;
        }
        return true;
}

/* The rune a one-character Go regexp escape stands for; -1 if none. */
static int64_t escape_rune(uint32_t e)
{
        if (e < 0x80 && !is_ascii_alnum(e))
                return e; /* punctuation quotes itself */
        switch (e) {
        case 'a': return 7;
        case 'f': return '\f';
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case 'v': return '\v';
        default: return -1;
        }
}

static int bad(struct kiln_error *err, const char *pat, const char *why)
{
        return kiln_err(err, -KILN_EFORMAT, "dockerignore: pattern '%s': %s", pat, why);
}

/* One member of a class: a rune, or an escape; *ret_perl for \d \s \w. */
static int class_char(struct cur *c, struct tok *t, const char *pat, uint32_t *ret,
                      bool *ret_perl, struct kiln_error *err)
{
        *ret_perl = false;
        if (cur_eof(c))
                return bad(err, pat, "missing closing ]");
        uint32_t ch = cur_next(c);
        if (ch != '\\') {
                /* '*', '?' and '[' are taken literally here, as filepath.Match
                 * reads them; Go's regexp would see the translation. */
                *ret = ch;
                return 0;
        }
        if (cur_eof(c))
                return bad(err, pat, "trailing backslash");
        uint32_t e = cur_next(c);
        int64_t r = escape_rune(e);
        if (r >= 0) {
                *ret = (uint32_t)r;
                return 0;
        }
        if ((e == 'd' || e == 's' || e == 'w') && perl_class(e, t)) {
                *ret_perl = true;
                return 0;
        }
        return bad(err, pat, "unsupported escape in a character class");
}

static int compile_class(struct cur *c, struct tok *t, const char *pat, struct kiln_error *err)
{
        if (cur_peek(c) == '^') {
                cur_next(c);
                t->negated = true;
        }
        bool first = true;
        for (;;) {
                if (cur_eof(c))
                        return bad(err, pat, "missing closing ]");
                if (cur_peek(c) == ']' && !first) {
                        cur_next(c);
                        return 0;
                }
                first = false;
                uint32_t lo, hi;
                bool perl;
                int r = class_char(c, t, pat, &lo, &perl, err);
                if (r < 0)
                        return r;
                if (perl)
                        continue;
                hi = lo;
                /* "a-z"; a '-' before the closing ']' is literal */
                if (cur_peek(c) == '-' && c->pos + 1 < c->n && c->s[c->pos + 1] != ']') {
                        cur_next(c);
                        r = class_char(c, t, pat, &hi, &perl, err);
                        if (r < 0)
                                return r;
                        if (perl || hi < lo)
                                return bad(err, pat, "invalid character class range");
                }
                add_range(t, lo, hi);
        }
}

static int compile(struct pm_pattern *pm, struct kiln_error *err)
{
        struct cur c = { pm->text, strlen(pm->text), 0 };
        struct prog p = { 0 };
        enum pm_type type = PM_EXACT;
        int r = 0;
        for (size_t i = 0; !cur_eof(&c); i++) {
                uint32_t ch = cur_next(&c);
                if (ch == '*') {
                        if (cur_peek(&c) == '*') {
                                cur_next(&c);
                                if (cur_peek(&c) == '/')
                                        cur_next(&c); /* a '/' after a double star goes with it */
                                if (cur_eof(&c)) {
                                        if (type == PM_EXACT) {
                                                type = PM_PREFIX;
                                        } else {
                                                emit(&p, T_DOTSTAR, 0);
                                                type = PM_REGEXP;
                                        }
                                } else {
                                        /* an optional group: any run, then '/' */
                                        struct tok *s = emit(&p, T_SPLIT, 0);
                                        s->target = p.n + 2;
                                        emit(&p, T_DOTSTAR, 0);
                                        emit(&p, T_LIT, '/');
                                        type = PM_REGEXP;
                                }
                                if (i == 0)
                                        type = PM_SUFFIX;
                        } else {
                                emit(&p, T_STAR, 0);
                                type = PM_REGEXP;
                        }
                } else if (ch == '?') {
                        emit(&p, T_ANY1, 0);
                        type = PM_REGEXP;
                } else if (should_escape(ch)) {
                        emit(&p, T_LIT, ch);
                } else if (ch == '\\') {
                        if (cur_eof(&c)) {
                                r = bad(err, pm->text, "trailing backslash");
                                goto fail;
                        }
                        uint32_t e = cur_next(&c);
                        int64_t lit = escape_rune(e);
                        if (lit >= 0) {
                                emit(&p, T_LIT, (uint32_t)lit);
                        } else {
                                struct tok *t = emit(&p, T_CLASS, 0);
                                if (!perl_class(e | 0x20, t)) {
                                        r = bad(err, pm->text, "unsupported escape");
                                        goto fail;
                                }
                                t->negated = e >= 'A' && e <= 'Z';
                        }
                        type = PM_REGEXP;
                } else if (ch == '[') {
                        struct tok *t = emit(&p, T_CLASS, 0);
                        r = compile_class(&c, t, pm->text, err);
                        if (r < 0)
                                goto fail;
                        type = PM_REGEXP;
                } else if (ch == ']') {
                        emit(&p, T_LIT, ch);
                        type = PM_REGEXP;
                } else if (ch == '^') {
                        /* unquoted: the regexp sees a start anchor */
                        emit(&p, T_BEGIN, 0);
                } else {
                        emit(&p, T_LIT, ch);
                }
        }
        pm->type = type;
        if (type == PM_REGEXP) {
                pm->toks = p.t;
                pm->ntok = p.n;
        } else {
                prog_free(p.t, p.n);
        }
        return 0;
fail:
        prog_free(p.t, p.n);
        return r;
}

/* ---- running a pattern ---- */

static bool class_has(const struct tok *t, uint32_t r)
{
        bool in = false;
        for (size_t i = 0; i < t->nranges && !in; i++)
                in = t->ranges[i].lo <= r && r <= t->ranges[i].hi;
        return in != t->negated;
}

/* Add state i and everything reachable from it without input. */
static void closure(const struct tok *t, size_t nt, uint8_t *set, size_t *stack, size_t i,
                    bool at_start)
{
        size_t sp = 0;
        stack[sp++] = i;
        while (sp > 0) {
                size_t s = stack[--sp];
                if (set[s])
                        continue;
                set[s] = 1;
                if (s == nt)
                        continue;
                switch (t[s].kind) {
                case T_STAR:
                case T_DOTSTAR:
                        stack[sp++] = s + 1;
                        break;
                case T_SPLIT:
                        stack[sp++] = s + 1;
                        stack[sp++] = t[s].target;
                        break;
                case T_BEGIN:
                        if (at_start)
                                stack[sp++] = s + 1;
                        break;
                default:
                        break;
                }
        }
}

static bool prog_match(const struct tok *t, size_t nt, const char *s, size_t n)
{
        /* every state is pushed at most twice per closure round */
        uint8_t *cur = kiln_xcalloc(nt + 1, 1), *nxt = kiln_xcalloc(nt + 1, 1);
        size_t *stack = kiln_xmalloc((2 * nt + 2) * sizeof(size_t));
        closure(t, nt, cur, stack, 0, true);
        bool ok = false;
        size_t pos = 0;
        for (;;) {
                if (pos == n) {
                        ok = cur[nt];
                        break;
                }
                uint32_t r;
                pos += utf8_decode(s + pos, n - pos, &r);
                memset(nxt, 0, nt + 1);
                bool any = false;
                for (size_t i = 0; i < nt; i++) {
                        if (!cur[i])
                                continue;
                        size_t to = SIZE_MAX;
                        switch (t[i].kind) {
                        case T_LIT:
                                if (r == t[i].rune)
                                        to = i + 1;
                                break;
                        case T_ANY1:
                                if (r != '/')
                                        to = i + 1;
                                break;
                        case T_STAR:
                                if (r != '/')
                                        to = i;
                                break;
                        case T_DOTSTAR:
                                if (r != '\n')
                                        to = i;
                                break;
                        case T_CLASS:
                                if (class_has(&t[i], r))
                                        to = i + 1;
                                break;
                        default:
                                break;
                        }
                        if (to != SIZE_MAX) {
                                closure(t, nt, nxt, stack, to, false);
                                any = true;
                        }
                }
                uint8_t *tmp = cur;
                cur = nxt;
                nxt = tmp;
                if (!any)
                        break;
        }
        free(cur);
        free(nxt);
        free(stack);
        return ok;
}

static bool pattern_match(const struct pm_pattern *pm, const char *path, size_t n)
{
        size_t tn = strlen(pm->text);
        switch (pm->type) {
        case PM_EXACT:
                return n == tn && memcmp(path, pm->text, n) == 0;
        case PM_PREFIX:
                if (tn < 2)
                        return false;
                return n >= tn - 2 && memcmp(path, pm->text, tn - 2) == 0;
        case PM_SUFFIX: {
                const char *suf = pm->text + 2;
                size_t sn = tn - 2;
                if (n >= sn && memcmp(path + n - sn, suf, sn) == 0)
                        return true;
                /* a double star, '/' and "foo" also matches "foo" itself */
                return sn > 0 && suf[0] == '/' && n == sn - 1 && memcmp(path, suf + 1, n) == 0;
        }
        case PM_REGEXP:
                return prog_match(pm->toks, pm->ntok, path, n);
        }
        return false;
}

/* ---- the pattern list ---- */

void kiln_dockerignore_free(struct kiln_dockerignore *ig)
{
        if (!ig)
                return;
        for (size_t i = 0; i < ig->n; i++) {
                free(ig->p[i].text);
                free(ig->p[i].display);
                prog_free(ig->p[i].toks, ig->p[i].ntok);
        }
        free(ig->p);
        free(ig);
}

size_t kiln_dockerignore_count(const struct kiln_dockerignore *ig)
{
        return ig ? ig->n : 0;
}

const char *kiln_dockerignore_pattern(const struct kiln_dockerignore *ig, size_t i)
{
        return ig && i < ig->n ? ig->p[i].display : NULL;
}

/* The pattern less a trailing "/" + double star or "/" + star (fsutil's
 * patternWithoutTrailingGlob). */
static size_t without_trailing_glob(const char *s)
{
        size_t n = strlen(s);
        if (n >= 3 && !strcmp(s + n - 3, "/**"))
                n -= 3;
        if (n >= 2 && !strncmp(s + n - 2, "/*", 2))
                n -= 2;
        return n;
}

/* Add one pattern as patternmatcher.New does. */
static int add_pattern(struct kiln_dockerignore *ig, const char *raw, size_t rawlen,
                       struct kiln_error *err)
{
        size_t n = rawlen;
        const char *s = go_trim_space(raw, &n);
        if (n == 0)
                return 0;
        if (ig->n >= IGNORE_MAX_PATTERNS)
                return kiln_err(err, -KILN_ETOOBIG, "dockerignore: more than %d patterns",
                                IGNORE_MAX_PATTERNS);
        _cleanup_free_ char *tmp = kiln_xstrndup(s, n);
        _cleanup_free_ char *p = kiln_buildctx_clean(tmp);
        if (go_path_match(p, strlen(p), ".", 1) < 0)
                return bad(err, p, "syntax error in pattern");
        struct pm_pattern pm = { 0 };
        const char *body = p;
        if (p[0] == '!') {
                if (!p[1])
                        return kiln_err(err, -KILN_EFORMAT,
                                        "dockerignore: illegal exclusion pattern: \"!\"");
                pm.exclusion = true;
                body = p + 1;
        }
        pm.text = kiln_xstrdup(body);
        int r = compile(&pm, err);
        if (r < 0) {
                free(pm.text);
                return r;
        }
        pm.display = kiln_xstrdup(p);
        ig->p = kiln_xrealloc(ig->p, (ig->n + 1) * sizeof(*ig->p));
        ig->p[ig->n++] = pm;
        if (pm.exclusion) {
                ig->exclusions = true;
                size_t k = without_trailing_glob(pm.text);
                for (size_t i = 0; i < k; i++)
                        if (strchr("*[]?^\\", pm.text[i]))
                                ig->only_prefix_exceptions = false;
        }
        return 0;
}

int kiln_dockerignore_new(char *const *patterns, struct kiln_dockerignore **ret,
                          struct kiln_error *err)
{
        struct kiln_dockerignore *ig = kiln_xcalloc(1, sizeof(*ig));
        ig->only_prefix_exceptions = true;
        for (size_t i = 0; patterns && patterns[i]; i++) {
                int r = add_pattern(ig, patterns[i], strlen(patterns[i]), err);
                if (r < 0) {
                        kiln_dockerignore_free(ig);
                        return r;
                }
        }
        *ret = ig;
        return 0;
}

int kiln_dockerignore_parse(const char *data, size_t len, struct kiln_dockerignore **ret,
                            struct kiln_error *err)
{
        _cleanup_strv_free_ char **lines = NULL;
        size_t pos = 0;
        unsigned lineno = 0;
        while (pos < len) {
                const char *nl = memchr(data + pos, '\n', len - pos);
                size_t end = nl ? (size_t)(nl - data) : len;
                const char *line = data + pos;
                size_t n = end - pos;
                pos = nl ? end + 1 : len;
                lineno++;
                if (n > IGNORE_MAX_LINE)
                        return kiln_err(err, -KILN_ETOOBIG, "dockerignore: line %u: too long",
                                        lineno);
                if (n > 0 && line[n - 1] == '\r')
                        n--;
                if (lineno == 1 && n >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) {
                        line += 3;
                        n -= 3;
                }
                if (memchr(line, 0, n))
                        return kiln_err(err, -KILN_EFORMAT, "dockerignore: line %u: NUL byte",
                                        lineno);
                /* a comment only when '#' is the very first character */
                if (n > 0 && line[0] == '#')
                        continue;
                const char *s = go_trim_space(line, &n);
                if (n == 0)
                        continue;
                bool invert = s[0] == '!';
                if (invert) {
                        s++;
                        n--;
                        s = go_trim_space(s, &n);
                }
                _cleanup_free_ char *pat = NULL;
                if (n > 0) {
                        _cleanup_free_ char *raw = kiln_xstrndup(s, n);
                        pat = kiln_buildctx_clean(raw);
                        if (pat[0] == '/' && pat[1]) {
                                char *t = kiln_xstrdup(pat + 1);
                                free(pat);
                                pat = t;
                        }
                } else {
                        pat = kiln_xstrdup("");
                }
                kiln_strv_push_take(&lines, invert ? kiln_xasprintf("!%s", pat) : TAKE_PTR(pat));
        }
        return kiln_dockerignore_new(lines, ret, err);
}

bool kiln_dockerignore_matches(const struct kiln_dockerignore *ig, const char *relpath)
{
        if (!ig || ig->n == 0)
                return false;
        _cleanup_free_ char *file = kiln_buildctx_clean(relpath);
        const char *f = file;
        while (f[0] == '/')
                f++;
        if (!strcmp(f, ".") || !f[0])
                return false;
        size_t n = strlen(f);
        bool matched = false;
        for (size_t i = 0; i < ig->n; i++) {
                const struct pm_pattern *pm = &ig->p[i];
                /* last match wins: only a pattern that could change the
                 * answer is tried */
                if (pm->exclusion != matched)
                        continue;
                bool m = pattern_match(pm, f, n);
                /* or one of the parent directories */
                for (size_t k = 0; !m && k < n; k++)
                        if (f[k] == '/')
                                m = pattern_match(pm, f, k);
                if (m)
                        matched = !pm->exclusion;
        }
        return matched;
}

bool kiln_dockerignore_walk_excluded_dir(const struct kiln_dockerignore *ig,
                                         const char *reldir)
{
        if (!ig || !ig->exclusions)
                return false;
        if (!ig->only_prefix_exceptions)
                return true;
        _cleanup_free_ char *dir = kiln_buildctx_clean(reldir);
        const char *d = dir;
        while (d[0] == '/')
                d++;
        size_t dn = strlen(d);
        for (size_t i = 0; i < ig->n; i++) {
                const struct pm_pattern *pm = &ig->p[i];
                if (!pm->exclusion)
                        continue;
                /* pattern + "/" starts with dir + "/" */
                size_t k = without_trailing_glob(pm->text);
                if (k >= dn && !memcmp(pm->text, d, dn) && (k == dn || pm->text[dn] == '/'))
                        return true;
        }
        return false;
}
