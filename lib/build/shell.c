/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Docker's shell-word expander: a C rendering of BuildKit's
 * frontend/dockerfile/shell lexer (Lex.ProcessWord / ProcessWords).
 *
 * The word is read rune by rune (invalid UTF-8 reads as U+FFFD, as Go's
 * text/scanner does). Outside quotes the escape character makes the next
 * rune literal; '...' is literal; "..." expands $ and honours escapes of
 * " $ and the escape character only; $NAME, ${NAME} and the ${NAME<op>word}
 * forms expand through the caller's lookup. ProcessWords additionally
 * splits at white space that came from the word itself or from a variable,
 * never inside quotes or after an escape.
 *
 * The ${X#p} ${X%p} ${X/p/r} patterns are BuildKit's shell patterns (only
 * '*' and '?', no brackets) matched with Go's regexp semantics (leftmost
 * first, '.' does not match a newline) by a small Pike VM, so the time is
 * linear in pattern x value.
 */
#include <string.h>
#include "build-internal.h"
#include "kiln/dockerfile.h"

#define EOF_RUNE (-1)
/* ${a:-${b:-${c...}}}: C recursion, unlike Go's growable stacks */
#define NEST_MAX 200
/* how much of the word an error message quotes */
#define QUOTE_MAX 256

struct lex {
        const struct kiln_shell *sh;
        int32_t esc;
        bool raw_escapes; /* dynamically scoped, as in BuildKit */
        const char *s;
        size_t n, pos;
        unsigned depth;
        char *error; /* the inner message, malloc'ed */
};

struct words {
        struct kiln_buf buf;
        char **words;
        size_t n;
        bool in_word;
};

static int32_t peek(struct lex *l)
{
        if (l->pos >= l->n)
                return EOF_RUNE;
        size_t w;
        return go_decode_rune(l->s + l->pos, l->n - l->pos, &w);
}

static int32_t next(struct lex *l)
{
        if (l->pos >= l->n)
                return EOF_RUNE;
        size_t w;
        int32_t r = go_decode_rune(l->s + l->pos, l->n - l->pos, &w);
        l->pos += w;
        return r;
}

static int fail(struct lex *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct lex *l, const char *fmt, ...)
{
        if (!l->error) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(&l->error, fmt, ap) < 0)
                        l->error = NULL;
                va_end(ap);
                if (!l->error)
                        l->error = kiln_xstrdup("out of memory");
        }
        return -KILN_EFORMAT;
}

/* string(rune) as Go prints it: an invalid rune (EOF) is U+FFFD */
static void rune_str(int32_t r, char out[8])
{
        struct kiln_buf b = KILN_BUF_INIT;
        go_put_rune(&b, r);
        snprintf(out, 8, "%s", b.data);
        kiln_buf_free(&b);
}

/* ---- words (ProcessWords) ---- */

static void words_push(struct words *w)
{
        w->words = kiln_xrealloc(w->words, (w->n + 2) * sizeof(char *));
        w->words[w->n++] = kiln_buf_steal(&w->buf);
        w->words[w->n] = NULL;
}

static void words_add_raw_char(struct words *w, int32_t r)
{
        go_put_rune(&w->buf, r);
        w->in_word = true;
}

static void words_add_char(struct words *w, int32_t r)
{
        if (go_is_space(r) && w->in_word) {
                if (w->buf.len) {
                        words_push(w);
                        w->in_word = false;
                }
        } else if (!go_is_space(r)) {
                words_add_raw_char(w, r);
        }
}

static void words_add_string(struct words *w, const char *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                size_t wd;
                int32_t r = go_decode_rune(s + i, n - i, &wd);
                words_add_char(w, r);
                i += wd;
        }
}

static void words_add_raw_string(struct words *w, const char *s, size_t n)
{
        kiln_buf_append(&w->buf, s, n);
        w->in_word = true;
}

static void words_free(struct words *w)
{
        kiln_buf_free(&w->buf);
        kiln_strv_free(w->words);
        w->words = NULL;
        w->n = 0;
}

static bool getenv_(struct lex *l, const char *name, const char **ret)
{
        const char *v = NULL;
        if (!l->sh->lookup || !l->sh->lookup(l->sh->userdata, name, &v) || !v) {
                *ret = "";
                return false;
        }
        *ret = v;
        return true;
}

/* ---- shell patterns: '*' '?' and escapes, Go regexp semantics ---- */

enum { P_LIT, P_ANY, P_STAR };
struct pitem {
        int kind;
        int32_t r;
};

struct runes {
        int32_t *r;
        size_t *off; /* byte offset of each rune, off[n] = length */
        size_t n;
};

static void runes_of(const char *s, struct runes *out)
{
        size_t n = strlen(s);
        out->r = kiln_xcalloc(n + 1, sizeof(int32_t));
        out->off = kiln_xcalloc(n + 1, sizeof(size_t));
        out->n = 0;
        for (size_t i = 0; i < n;) {
                size_t w;
                out->off[out->n] = i;
                out->r[out->n++] = go_decode_rune(s + i, n - i, &w);
                i += w;
        }
        out->off[out->n] = n;
}

static void runes_free(struct runes *r)
{
        free(r->r);
        free(r->off);
}

/* convertShellPatternToRegex, into items instead of a regexp */
static int pattern_compile(struct lex *l, const int32_t *p, size_t np, const char *text,
                           struct pitem **ret, size_t *ret_n)
{
        struct pitem *it = kiln_xcalloc(np + 1, sizeof(*it));
        size_t n = 0;
        for (size_t i = 0; i < np; i++) {
                int32_t t = p[i];
                if (t == '*') {
                        it[n++] = (struct pitem){ P_STAR, 0 };
                        continue;
                }
                if (t == '?') {
                        it[n++] = (struct pitem){ P_ANY, 0 };
                        continue;
                }
                if (t == '\\') {
                        int32_t nx = i + 1 < np ? p[i + 1] : EOF_RUNE;
                        if (nx == '}' || nx == '/')
                                continue;
                        i++;
                        if (nx != '*' && nx != '?' && nx != '\\') {
                                char rs[8];
                                rune_str(nx, rs);
                                free(it);
                                return fail(l, "invalid pattern (%s) in substitution: invalid escape '\\%s'",
                                            text, rs);
                        }
                        t = nx;
                }
                it[n++] = (struct pitem){ P_LIT, t };
        }
        *ret = it;
        *ret_n = n;
        return 0;
}

struct thread {
        size_t state;
        size_t start;
};

struct tlist {
        struct thread *t;
        size_t n;
        unsigned char *seen;
};

static void tl_push(struct tlist *tl, size_t state, size_t start)
{
        tl->t[tl->n++] = (struct thread){ state, start };
}

/* the closure of entering state i; state np is the match */
static void pv_add(const struct pitem *it, size_t np, bool greedy, struct tlist *tl, size_t i,
                   size_t start)
{
        if (greedy) {
                for (;;) {
                        if (tl->seen[i])
                                return;
                        tl->seen[i] = 1;
                        tl_push(tl, i, start);
                        if (i == np || it[i].kind != P_STAR)
                                return;
                        i++;
                }
        }
        size_t j = i;
        while (j < np && !tl->seen[j] && it[j].kind == P_STAR)
                tl->seen[j++] = 1;
        if (!tl->seen[j] && (j == np || it[j].kind != P_STAR)) {
                tl->seen[j] = 1;
                tl_push(tl, j, start);
        }
        while (j > i)
                tl_push(tl, --j, start);
}

/*
 * Find the leftmost-first match of the pattern in v[from..], anchored at
 * from or not. Returns true with the rune range [*ms, *me).
 */
static bool pv_find(const struct pitem *it, size_t np, bool greedy, const int32_t *v, size_t nv,
                    size_t from, bool anchored, size_t *ms, size_t *me)
{
        struct tlist a = { kiln_xcalloc(np + 1, sizeof(struct thread)), 0, kiln_xcalloc(np + 1, 1) };
        struct tlist b = { kiln_xcalloc(np + 1, sizeof(struct thread)), 0, kiln_xcalloc(np + 1, 1) };
        struct tlist *cl = &a, *nl = &b;
        bool matched = false;
        for (size_t k = from;; k++) {
                if (!matched && (!anchored || k == from))
                        pv_add(it, np, greedy, cl, 0, k);
                if (cl->n == 0)
                        break;
                nl->n = 0;
                memset(nl->seen, 0, np + 1);
                for (size_t j = 0; j < cl->n; j++) {
                        struct thread t = cl->t[j];
                        if (t.state == np) {
                                matched = true;
                                *ms = t.start;
                                *me = k;
                                break; /* cut off the lower priorities */
                        }
                        if (k == nv)
                                continue;
                        int32_t c = v[k];
                        const struct pitem *p = &it[t.state];
                        if (p->kind == P_LIT ? c == p->r : c != '\n')
                                pv_add(it, np, greedy, nl, p->kind == P_STAR ? t.state : t.state + 1,
                                       t.start);
                }
                if (k == nv)
                        break;
                struct tlist *tmp = cl;
                cl = nl;
                nl = tmp;
        }
        free(a.t);
        free(a.seen);
        free(b.t);
        free(b.seen);
        return matched;
}

/* reversePattern: reverse, keeping each "\x" escape pair in order */
static void reverse_pattern(const int32_t *p, size_t n, int32_t *out)
{
        if (n == 0)
                return;
        size_t last = n - 1;
        for (size_t i = 0; i <= last;) {
                size_t o = last - i;
                if (p[i] == '\\' && i != last) {
                        out[o - 1] = p[i];
                        out[o] = p[i + 1];
                        i += 2;
                } else {
                        out[o] = p[i];
                        i++;
                }
        }
}

/* ${X#p} ${X##p} ${X%p} ${X%%p} */
static int trim_affix(struct lex *l, const char *pattern, const char *value, bool greedy,
                      bool suffix, struct kiln_buf *out)
{
        struct runes p, v;
        runes_of(pattern, &p);
        runes_of(value, &v);
        int r = 0;
        struct pitem *it = NULL;
        size_t nit = 0;
        if (suffix) {
                int32_t *rp = kiln_xcalloc(p.n + 1, sizeof(int32_t));
                reverse_pattern(p.r, p.n, rp);
                free(p.r);
                p.r = rp;
                for (size_t i = 0; i < v.n / 2; i++) {
                        int32_t t = v.r[i];
                        v.r[i] = v.r[v.n - 1 - i];
                        v.r[v.n - 1 - i] = t;
                }
        }
        r = pattern_compile(l, p.r, p.n, pattern, &it, &nit);
        if (r < 0)
                goto out;
        size_t ms = 0, me = 0;
        if (!pv_find(it, nit, greedy, v.r, v.n, 0, true, &ms, &me))
                me = 0;
        if (suffix) {
                /* the rest, reversed back (Go goes through []rune here) */
                for (size_t i = v.n; i > me; i--)
                        go_put_rune(out, v.r[i - 1]);
        } else {
                kiln_buf_puts(out, value + v.off[me]);
        }
out:
        free(it);
        runes_free(&p);
        runes_free(&v);
        return r;
}

/* Go's Regexp.Expand for a regexp without groups: $0 is the match */
static void expand_template(struct kiln_buf *out, const char *tpl, const char *match, size_t mlen)
{
        while (*tpl) {
                const char *d = strchr(tpl, '$');
                if (!d) {
                        kiln_buf_puts(out, tpl);
                        return;
                }
                kiln_buf_append(out, tpl, (size_t)(d - tpl));
                tpl = d + 1;
                if (*tpl == '$') {
                        kiln_buf_puts(out, "$");
                        tpl++;
                        continue;
                }
                const char *s = tpl;
                bool brace = *s == '{';
                if (brace)
                        s++;
                size_t i = 0, len = strlen(s);
                while (i < len) {
                        size_t w;
                        int32_t r = go_decode_rune(s + i, len - i, &w);
                        if (!go_is_name_rune(r))
                                break;
                        i += w;
                }
                if (i == 0 || (brace && s[i] != '}')) {
                        kiln_buf_puts(out, "$");
                        continue;
                }
                bool zero = i == 1 && s[0] == '0';
                tpl = s + i + (brace ? 1 : 0);
                if (zero)
                        kiln_buf_append(out, match, mlen);
        }
}

/* ${X/p/r} and ${X//p/r} */
static int replace(struct lex *l, const char *pattern, const char *repl, const char *value, bool all,
                   struct kiln_buf *out)
{
        struct runes p, v;
        runes_of(pattern, &p);
        runes_of(value, &v);
        struct pitem *it = NULL;
        size_t nit = 0;
        int r = pattern_compile(l, p.r, p.n, pattern, &it, &nit);
        if (r < 0)
                goto out;
        size_t ms, me;
        if (!all) {
                if (pv_find(it, nit, true, v.r, v.n, 0, false, &ms, &me)) {
                        kiln_buf_append(out, value, v.off[ms]);
                        kiln_buf_puts(out, repl);
                        kiln_buf_puts(out, value + v.off[me]);
                } else {
                        kiln_buf_puts(out, value);
                }
                goto out;
        }
        /* Regexp.ReplaceAllString */
        size_t last = 0, search = 0;
        while (search <= v.n) {
                if (!pv_find(it, nit, true, v.r, v.n, search, false, &ms, &me))
                        break;
                kiln_buf_append(out, value + v.off[last], v.off[ms] - v.off[last]);
                if (me > last || ms == 0)
                        expand_template(out, repl, value + v.off[ms], v.off[me] - v.off[ms]);
                last = me;
                search = search + 1 > me ? search + 1 : me;
        }
        kiln_buf_puts(out, value + v.off[last]);
out:
        free(it);
        runes_free(&p);
        runes_free(&v);
        return r;
}

/* ---- the lexer ---- */

static int process_stop_on(struct lex *l, int32_t stop, bool raw_escapes, struct kiln_buf *result,
                           struct words *w);

static bool is_special_param(int32_t r)
{
        switch (r) {
        case '@': case '*': case '#': case '?': case '-': case '$': case '!': case '0':
                return true;
        }
        return false;
}

static char *process_name(struct lex *l)
{
        struct kiln_buf name = KILN_BUF_INIT;
        while (peek(l) != EOF_RUNE) {
                int32_t r = peek(l);
                if (name.len == 0 && r >= '0' && r <= '9') {
                        while (peek(l) >= '0' && peek(l) <= '9')
                                go_put_rune(&name, next(l));
                        return kiln_buf_steal(&name);
                }
                if (name.len == 0 && is_special_param(r)) {
                        go_put_rune(&name, next(l));
                        return kiln_buf_steal(&name);
                }
                if (!go_is_name_rune(r))
                        break;
                go_put_rune(&name, next(l));
        }
        return kiln_buf_steal(&name);
}

static int process_dollar(struct lex *l, struct kiln_buf *out)
{
        next(l);
        if (peek(l) != '{') {
                _cleanup_free_ char *name = process_name(l);
                if (!*name) {
                        kiln_buf_puts(out, "$");
                        return 0;
                }
                const char *v;
                bool set = getenv_(l, name, &v);
                if (!set && l->sh->skip_unset)
                        kiln_buf_printf(out, "$%s", name);
                else
                        kiln_buf_puts(out, v);
                return 0;
        }
        next(l);
        switch (peek(l)) {
        case EOF_RUNE:
                return fail(l, "syntax error: missing '}'");
        case '{': case '}': case ':':
                return fail(l, "syntax error: bad substitution");
        }
        _cleanup_free_ char *name = process_name(l);
        int32_t ch = next(l);
        char chs[16];
        rune_str(ch, chs);
        bool null_is_unset = false;
        const char *v;

        switch (ch) {
        case '}': {
                bool set = getenv_(l, name, &v);
                if (!set && l->sh->skip_unset)
                        kiln_buf_printf(out, "${%s}", name);
                else
                        kiln_buf_puts(out, v);
                return 0;
        }
        case ':':
                null_is_unset = true;
                ch = next(l);
                rune_str(ch, chs + strlen(chs));
                /* fall through */
        case '+': case '-': case '?': case '#': case '%': {
                bool raw = ch == '#' || ch == '%';
                if (null_is_unset && raw)
                        return fail(l, "unsupported modifier (%s) in substitution", chs);
                struct kiln_buf word = KILN_BUF_INIT;
                int r = process_stop_on(l, '}', raw, &word, NULL);
                if (r < 0) {
                        kiln_buf_free(&word);
                        if (peek(l) == EOF_RUNE) {
                                free(l->error);
                                l->error = NULL;
                                return fail(l, "syntax error: missing '}'");
                        }
                        return r;
                }
                const char *wd = word.data ? word.data : "";
                bool set = getenv_(l, name, &v);
                if (l->sh->skip_unset && !set) {
                        kiln_buf_printf(out, "${%s%s%s}", name, chs, wd);
                        kiln_buf_free(&word);
                        return 0;
                }
                r = 0;
                switch (ch) {
                case '-':
                        kiln_buf_puts(out, (!set || (null_is_unset && !*v)) ? wd : v);
                        break;
                case '+':
                        if (!(!set || (null_is_unset && !*v)))
                                kiln_buf_puts(out, wd);
                        break;
                case '?':
                        if (!set)
                                r = fail(l, "%s: %s", name, *wd ? wd : "is not allowed to be unset");
                        else if (null_is_unset && !*v)
                                r = fail(l, "%s: %s", name, *wd ? wd : "is not allowed to be empty");
                        else
                                kiln_buf_puts(out, v);
                        break;
                case '%': case '#': {
                        bool greedy = false;
                        if (*wd == (char)ch) {
                                greedy = true;
                                wd++;
                        }
                        r = trim_affix(l, wd, v, greedy, ch == '%', out);
                        break;
                }
                default:
                        r = fail(l, "unsupported modifier (%s) in substitution", chs);
                }
                kiln_buf_free(&word);
                return r;
        }
        case '/': {
                bool all = peek(l) == '/';
                if (all)
                        next(l);
                struct kiln_buf pat = KILN_BUF_INIT, rep = KILN_BUF_INIT;
                int r = process_stop_on(l, '/', true, &pat, NULL);
                if (r < 0) {
                        if (peek(l) == EOF_RUNE) {
                                free(l->error);
                                l->error = NULL;
                                r = fail(l, "syntax error: missing '/' in ${}");
                        }
                        goto done;
                }
                r = process_stop_on(l, '}', true, &rep, NULL);
                if (r < 0) {
                        if (peek(l) == EOF_RUNE) {
                                free(l->error);
                                l->error = NULL;
                                r = fail(l, "syntax error: missing '}'");
                        }
                        goto done;
                }
                const char *ps = pat.data ? pat.data : "", *rs = rep.data ? rep.data : "";
                bool set = getenv_(l, name, &v);
                if (l->sh->skip_unset && !set) {
                        kiln_buf_printf(out, "${%s/%s/%s}", name, ps, rs);
                        goto done;
                }
                r = replace(l, ps, rs, v, all, out);
        done:
                kiln_buf_free(&pat);
                kiln_buf_free(&rep);
                return r;
        }
        default:
                return fail(l, "unsupported modifier (%s) in substitution", chs);
        }
}

static int process_single_quote(struct lex *l, struct kiln_buf *out)
{
        int32_t ch = next(l);
        if (l->sh->raw_quotes)
                go_put_rune(out, ch);
        for (;;) {
                ch = next(l);
                if (ch == EOF_RUNE)
                        return fail(l, "unexpected end of statement while looking for matching single-quote");
                if (ch == '\'') {
                        if (l->sh->raw_quotes)
                                go_put_rune(out, ch);
                        return 0;
                }
                go_put_rune(out, ch);
        }
}

static int process_double_quote(struct lex *l, struct kiln_buf *out)
{
        int32_t ch = next(l);
        if (l->sh->raw_quotes)
                go_put_rune(out, ch);
        for (;;) {
                int32_t p = peek(l);
                if (p == EOF_RUNE)
                        return fail(l, "unexpected end of statement while looking for matching double-quote");
                if (p == '"') {
                        ch = next(l);
                        if (l->sh->raw_quotes)
                                go_put_rune(out, ch);
                        return 0;
                }
                if (p == '$') {
                        int r = process_dollar(l, out);
                        if (r < 0)
                                return r;
                        continue;
                }
                ch = next(l);
                if (ch == l->esc) {
                        if (l->raw_escapes)
                                go_put_rune(out, ch);
                        int32_t q = peek(l);
                        if (q == EOF_RUNE)
                                continue;
                        if (q == '"' || q == '$' || q == l->esc)
                                ch = next(l);
                }
                go_put_rune(out, ch);
        }
}

/* "<<" and the blanks after it stay one word (heredoc detection) */
static void process_possible_heredoc(struct lex *l, struct kiln_buf *out)
{
        next(l);
        if (peek(l) != '<') {
                kiln_buf_puts(out, "<");
                return;
        }
        next(l);
        kiln_buf_puts(out, "<<");
        while (peek(l) == '\t' || peek(l) == '\r' || peek(l) == ' ')
                go_put_rune(out, next(l));
}

static int process_stop_on(struct lex *l, int32_t stop, bool raw_escapes, struct kiln_buf *result,
                           struct words *w)
{
        if (++l->depth > NEST_MAX) {
                l->depth--;
                return fail(l, "substitutions nested too deeply");
        }
        bool saved = l->raw_escapes;
        l->raw_escapes = raw_escapes;
        int r = 0;
        while (peek(l) != EOF_RUNE) {
                int32_t ch = peek(l);
                if (stop != EOF_RUNE && ch == stop) {
                        next(l);
                        goto out;
                }
                bool special = ch == '$' || ch == '<' ||
                               (!l->sh->skip_process_quotes && (ch == '\'' || ch == '"'));
                if (special) {
                        struct kiln_buf tmp = KILN_BUF_INIT;
                        if (ch == '$')
                                r = process_dollar(l, &tmp);
                        else if (ch == '<')
                                process_possible_heredoc(l, &tmp);
                        else if (ch == '\'')
                                r = process_single_quote(l, &tmp);
                        else
                                r = process_double_quote(l, &tmp);
                        if (r < 0) {
                                kiln_buf_free(&tmp);
                                goto out;
                        }
                        if (tmp.len)
                                kiln_buf_append(result, tmp.data, tmp.len);
                        if (w) {
                                if (ch == '$')
                                        words_add_string(w, tmp.data ? tmp.data : "", tmp.len);
                                else
                                        words_add_raw_string(w, tmp.data ? tmp.data : "", tmp.len);
                        }
                        kiln_buf_free(&tmp);
                        continue;
                }
                ch = next(l);
                if (ch == l->esc) {
                        if (l->raw_escapes) {
                                if (w)
                                        words_add_raw_char(w, ch);
                                go_put_rune(result, ch);
                        }
                        ch = next(l);
                        if (ch == EOF_RUNE)
                                break;
                        if (w)
                                words_add_raw_char(w, ch);
                } else if (w) {
                        words_add_char(w, ch);
                }
                go_put_rune(result, ch);
        }
        if (stop != EOF_RUNE) {
                char rs[8];
                rune_str(stop, rs);
                r = fail(l, "unexpected end of statement while looking for matching %s", rs);
        }
out:
        l->raw_escapes = saved;
        l->depth--;
        return r;
}

static int process(const struct kiln_shell *sh, const char *word, struct kiln_buf *result,
                   struct words *w, struct kiln_error *err)
{
        struct lex l = {
                .sh = sh,
                .esc = sh->escape ? (unsigned char)sh->escape : '\\',
                .raw_escapes = sh->raw_escapes,
                .s = word,
                .n = strlen(word),
        };
        int r = process_stop_on(&l, EOF_RUNE, sh->raw_escapes, result, w);
        if (r < 0) {
                /* a long word is cut so that the reason still fits the message */
                struct kiln_buf q = KILN_BUF_INIT;
                _cleanup_free_ char *head = kiln_xstrndup(word, QUOTE_MAX);
                go_quote(&q, head);
                kiln_err(err, r, "failed to process %s%s: %s", q.data, l.n > QUOTE_MAX ? "..." : "",
                         l.error ? l.error : "error");
                kiln_buf_free(&q);
        }
        free(l.error);
        return r;
}

int kiln_shell_word(const struct kiln_shell *sh, const char *word, char **ret,
                    struct kiln_error *err)
{
        struct kiln_buf result = KILN_BUF_INIT;
        int r = process(sh, word, &result, NULL, err);
        if (r < 0) {
                kiln_buf_free(&result);
                return r;
        }
        *ret = kiln_buf_steal(&result);
        return 0;
}

int kiln_shell_words(const struct kiln_shell *sh, const char *word, char ***ret,
                     struct kiln_error *err)
{
        struct kiln_buf result = KILN_BUF_INIT;
        struct words w = { KILN_BUF_INIT, NULL, 0, false };
        int r = process(sh, word, &result, &w, err);
        kiln_buf_free(&result);
        if (r < 0) {
                words_free(&w);
                return r;
        }
        if (w.buf.len)
                words_push(&w);
        kiln_buf_free(&w.buf);
        *ret = w.words ? w.words : kiln_xcalloc(1, sizeof(char *));
        return 0;
}
