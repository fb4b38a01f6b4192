/* Unit tests for lib/build/shell.c: Docker's shell-word expander. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include "kiln/dockerfile.h"

/* the environment every table runs with */
static const char *const env[][2] = {
        { "PWD", "/home" },
        { "SHELL", "bash" },
        { "KOREAN", "한국어" },
        { "NULL", "" },
        { "FOO", "a b  c" },
        { "V", "foo.tar.gz" },
        { "P", "/usr/local/bin" },
        { "NL", "a\nb" },
        { "DOLLAR", "x$1y" },
        { "STAR", "a*b" },
};

static char longv[20001];

static bool lookup(void *userdata, const char *name, const char **ret)
{
        if (strcmp(name, "LONG") == 0) {
                *ret = longv;
                return true;
        }
        for (size_t i = 0; i < KILN_ARRAY_SIZE(env); i++)
                if (strcmp(env[i][0], name) == 0) {
                        *ret = env[i][1];
                        return true;
                }
        return false;
}

struct wcase {
        const char *in;
        const char *out; /* NULL: an error */
};

/* ProcessWord with '\\' as escape and the default flags */
static const struct wcase words_backslash[] = {
        /* plain text, quotes, escapes */
        { "hello", "hello" },
        { "he'll'o", "hello" },
        { "he'llo", NULL },
        { "he\\'llo", "he'llo" },
        { "he\\\\'llo", NULL },
        { "abc\\tdef", "abctdef" },
        { "\"abc\\tdef\"", "abc\\tdef" },
        { "\"abc\\\\tdef\"", "abc\\tdef" },
        { "'abc\\tdef'", "abc\\tdef" },
        { "hello\\", "hello" },
        { "hello\\\\", "hello\\" },
        { "\"hello", NULL },
        { "\"hello\\\"", NULL },
        { "\"hel'lo\"", "hel'lo" },
        { "'hello", NULL },
        { "'hello\\'", "hello\\" },
        { "'hello\\there'", "hello\\there" },
        { "\"''\"", "''" },
        { "'\"x\"'", "\"x\"" },
        { "a\\ b", "a b" },
        { "  spaced  out ", "  spaced  out " },
        { "\"a\\\"b\"", "a\"b" },
        { "\"a\\b\"", "a\\b" },
        { "\"tail\\", NULL },
        /* $NAME */
        { "$.", "$." },
        { "$", "$" },
        { "he$1x", "hex" },
        { "he$.x", "he$.x" },
        { "he$pwd.", "he." },
        { "he$PWD", "he/home" },
        { "he$PWD-x", "he/home-x" },
        { "$PWD_x", "" },
        { "he\\$PWD", "he$PWD" },
        { "he\\\\$PWD", "he\\/home" },
        { "\"he\\$PWD\"", "he$PWD" },
        { "\"he\\\\$PWD\"", "he\\/home" },
        { "'$PWD'", "$PWD" },
        { "'\\$PWD'", "\\$PWD" },
        { "\"he'$PWD'\"", "he'/home'" },
        { "$KOREAN", "한국어" },
        { "안녕$KOREAN", "안녕한국어" },
        { "안'녕'하세요", "안녕하세요" },
        { "안'녕하세요", NULL },
        { "$DOLLAR", "x$1y" },
        /* ${NAME} */
        { "\\${}", "${}" },
        { "he\\${}xx", "he${}xx" },
        { "${}", NULL },
        { "he${}xx", NULL },
        { "he${hi}xx", "hexx" },
        { "he${PWD}", "he/home" },
        { "\"he${PWD}\"", "he/home" },
        { "'he${XX}'", "he${XX}" },
        { "he${.}", NULL },
        { "he${PWD", NULL },
        { "${{aaa}", NULL },
        { "${aaa}}", "}" },
        { "${:}", NULL },
        { "${:-bbb}", NULL },
        { "${:+bbb}", NULL },
        /* -, :-, +, :+ */
        { "he${XXX:-000}xx", "he000xx" },
        { "he${PWD:-000}xx", "he/homexx" },
        { "he${XXX:-$PWD}xx", "he/homexx" },
        { "he${XXX:-${PWD:-yyy}}xx", "he/homexx" },
        { "he${XXX:-${YYY:-yyy}}xx", "heyyyxx" },
        { "${XXX-dflt}", "dflt" },
        { "${NULL-dflt}", "" },
        { "${NULL:-dflt}", "dflt" },
        { "he${XXX:+${PWD}}xx", "hexx" },
        { "he${PWD:+${XXX}}xx", "hexx" },
        { "he${PWD:+${SHELL}}xx", "hebashxx" },
        { "he${XXX:+000}xx", "hexx" },
        { "he${PWD:+000}xx", "he000xx" },
        { "${NULL+set}", "set" },
        { "${NULL:+set}", "" },
        { "${XXX+set}", "" },
        { "he${PWD:+${PWD}:}xx", "he/home:xx" },
        { "he${XXX:-\\$PWD:}xx", "he$PWD:xx" },
        { "he${XXX:-\\${PWD}z}xx", "he${PWDz}xx" },
        { "${aaa:-bbb}}", "bbb}" },
        { "${aaa:-bbb", NULL },
        { "${aaa:-bbb {foo}", "bbb {foo" },
        { "${aaa:-bbb ${foo}", NULL },
        { "${aaa:-a\\}b}", "a}b" },
        { "${aaa:-'x}'}", "x}" },
        { "${aaa:-\"$PWD\"}", "/home" },
        /* ?, :? */
        { "he${XXX?}", NULL },
        { "he${XXX:?}", NULL },
        { "he${PWD?}", "he/home" },
        { "he${PWD:?}", "he/home" },
        { "he${NULL?}", "he" },
        { "he${NULL:?}", NULL },
        /* unsupported modifiers */
        { "he${XXX:YYY}", NULL },
        { "he${PWD:=000}xx", NULL },
        { "${PWD=x}", NULL },
        { "${PWD:#x}", NULL },
        { "${PWD:%x}", NULL },
        /* positional and special parameters are never set */
        { "$1", "" },
        { "${1:-bbb}", "bbb" },
        { "${9:+bbb}", "" },
        { "$999aaa", "aaa" },
        { "${999:-bbb}aaa", "bbbaaa" },
        { "$001aaa", "aaa" },
        { "$@", "" },
        { "$@@@", "@@" },
        { "${@:-bbb}aaa", "bbbaaa" },
        { "$*", "" },
        { "${#}", "" },
        { "${#:-bbb}", "bbb" },
        { "${?:+bbb}", "" },
        { "$-", "" },
        { "$$", "" },
        { "${$:-bbb}", "bbb" },
        { "$!", "" },
        { "$0", "" },
        { "${0:-bbb}", "bbb" },
        /* # ## % %% */
        { "${V#*.}", "tar.gz" },
        { "${V##*.}", "gz" },
        { "${V%.*}", "foo.tar" },
        { "${V%%.*}", "foo" },
        { "${V#x}", "foo.tar.gz" },
        { "${V%gz}", "foo.tar." },
        { "${V#foo}", ".tar.gz" },
        { "${V#???}", ".tar.gz" },
        { "${V%???}", "foo.tar" },
        { "${V##*}", "" },
        { "${V#*}", "foo.tar.gz" },
        { "${V%%*}", "" },
        { "${P##*/}", "bin" },
        { "${P%/*}", "/usr/local" },
        { "${P#/*/}", "local/bin" },
        { "${P##/*/}", "bin" },
        { "${UNSET#x}", "" },
        { "${NL#*b}", "a\nb" },
        { "${NL#a?}", "a\nb" },
        { "${STAR#a\\*}", "b" },
        { "${STAR#a\\?}", "a*b" },
        { "${V#f\\*}", "foo.tar.gz" },
        { "${V#\\x}", NULL },
        { "${V%.gz\\}", NULL },
        { "${KOREAN#?}", "국어" },
        { "${KOREAN%?}", "한국" },
        /* / // */
        { "${V/tar/zip}", "foo.zip.gz" },
        { "${V//o/0}", "f00.tar.gz" },
        { "${V/o/0}", "f0o.tar.gz" },
        { "${V/#foo/bar}", "foo.tar.gz" },
        { "${V/?/X}", "Xoo.tar.gz" },
        { "${V//*/X}", "X" },
        { "${V/.*/}", "foo" },
        { "${V//./-}", "foo-tar-gz" },
        { "${V/nomatch/X}", "foo.tar.gz" },
        { "${V/a/\\/}", "foo.t\\/r.gz" },
        { "${V/\\//X}", "foo.tar.gz" },
        { "${P//\\//_}", "_usr_local_bin" },
        { "${V//o/$}", "f$$.tar.gz" },
        { "${UNSET/a/b}", "" },
        { "${V/a}", NULL },
        { "${V/a/b", NULL },
        { "${V//x\\y/z}", NULL },
        { "${STAR//\\*/+}", "a+b" },
};

static void run_word_table(const struct wcase *t, size_t n, const struct kiln_shell *sh)
{
        for (size_t i = 0; i < n; i++) {
                char *out = NULL;
                struct kiln_error e = { 0 };
                int r = kiln_shell_word(sh, t[i].in, &out, &e);
                if (t[i].out) {
                        if (r < 0 || strcmp(out, t[i].out) != 0)
                                fail_msg("case %zu %s: want '%s' got '%s' (%s)", i, t[i].in, t[i].out,
                                         out ? out : "(error)", e.msg);
                } else {
                        if (r >= 0)
                                fail_msg("case %zu %s: want an error, got '%s'", i, t[i].in, out);
                        assert_int_equal(r, -KILN_EFORMAT);
                        assert_true(strncmp(e.msg, "failed to process \"", 19) == 0);
                        assert_null(out);
                }
                free(out);
        }
}

static void test_word(void **state)
{
        struct kiln_shell sh = { .lookup = lookup };
        run_word_table(words_backslash, KILN_ARRAY_SIZE(words_backslash), &sh);
}

/* "# escape=`": the backtick escapes, the backslash is a plain character */
static const struct wcase words_backtick[] = {
        { "he`$PWD", "he$PWD" },
        { "he\\$PWD", "he\\/home" },
        { "c:\\windows\\", "c:\\windows\\" },
        { "a` b", "a b" },
        { "\"a`\"b\"", "a\"b" },
        { "\"a\\\"b\"", NULL },
        { "hello`", "hello" },
        { "hello``", "hello`" },
        { "\"a``b\"", "a`b" },
        { "${X:-a`}b}", "a}b" },
};

static void test_word_backtick(void **state)
{
        struct kiln_shell sh = { .escape = '`', .lookup = lookup };
        run_word_table(words_backtick, KILN_ARRAY_SIZE(words_backtick), &sh);
}

static void test_word_modes(void **state)
{
        struct kiln_shell raw_q = { .lookup = lookup, .raw_quotes = true };
        static const struct wcase rq[] = {
                { "'a' \"b\"", "'a' \"b\"" },
                { "\"$PWD\"x", "\"/home\"x" },
                { "'$PWD'", "'$PWD'" },
        };
        run_word_table(rq, KILN_ARRAY_SIZE(rq), &raw_q);

        struct kiln_shell raw_e = { .lookup = lookup, .raw_escapes = true };
        static const struct wcase re[] = {
                { "a\\ b", "a\\ b" },
                { "\\$PWD", "\\$PWD" },
                { "\"\\$PWD\"", "\\$PWD" },
                { "x\\", "x\\" },
                /* the word of :- is read without raw escapes, as BuildKit does */
                { "${X:-a\\b}", "ab" },
        };
        run_word_table(re, KILN_ARRAY_SIZE(re), &raw_e);

        struct kiln_shell skip = { .lookup = lookup, .skip_unset = true };
        static const struct wcase su[] = {
                { "$X ${X} ${X:-d} $PWD", "$X ${X} ${X:-d} /home" },
                { "${X/a/b}", "${X/a/b}" },
                { "${X?err}", "${X?err}" },
                { "${NULL:-d}", "d" },
        };
        run_word_table(su, KILN_ARRAY_SIZE(su), &skip);

        struct kiln_shell noq = { .lookup = lookup, .skip_process_quotes = true };
        static const struct wcase nq[] = {
                { "'$PWD'", "'/home'" },
                { "\"$PWD\"", "\"/home\"" },
                { "it's", "it's" },
                { "a\\$PWD", "a$PWD" },
        };
        run_word_table(nq, KILN_ARRAY_SIZE(nq), &noq);

        /* no lookup at all: everything is unset */
        struct kiln_shell none = { 0 };
        static const struct wcase nn[] = {
                { "$PWD${PWD:-x}", "x" },
                { "${PWD:?}", NULL },
        };
        run_word_table(nn, KILN_ARRAY_SIZE(nn), &none);
}

struct wscase {
        const char *in;
        const char *out[6]; /* NULL-terminated; {"!"} for an error */
};

static const struct wscase words_split[] = {
        { "a b c", { "a", "b", "c" } },
        { "  a   b  ", { "a", "b" } },
        { "", { NULL } },
        { "   ", { NULL } },
        { "'a b' c", { "a b", "c" } },
        { "\"a b\" c", { "a b", "c" } },
        { "a\\ b", { "a b" } },
        { "$FOO", { "a", "b", "c" } },
        { "\"$FOO\"", { "a b  c" } },
        { "x$FOO", { "xa", "b", "c" } },
        { "${FOO}y", { "a", "b", "cy" } },
        { "'' a", { "a" } },
        { "a'' b", { "a", "b" } },
        { "a\tb\nc", { "a", "b", "c" } },
        { "<< EOF", { "<< EOF" } },
        { "a <<-EOF", { "a", "<<-EOF" } },
        { "80/tcp $NULL 443", { "80/tcp", "443" } },
        { "pre${X:-a b}", { "prea", "b" } },
        { "'unterminated", { "!" } },
};

static void test_words(void **state)
{
        struct kiln_shell sh = { .lookup = lookup };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(words_split); i++) {
                const struct wscase *c = &words_split[i];
                char **out = NULL;
                struct kiln_error e = { 0 };
                int r = kiln_shell_words(&sh, c->in, &out, &e);
                if (c->out[0] && strcmp(c->out[0], "!") == 0) {
                        assert_int_equal(r, -KILN_EFORMAT);
                        assert_null(out);
                        continue;
                }
                if (r < 0)
                        fail_msg("case %zu %s: %s", i, c->in, e.msg);
                size_t n = 0;
                while (c->out[n])
                        n++;
                if (kiln_strv_len(out) != n)
                        fail_msg("case %zu %s: want %zu words, got %zu", i, c->in, n, kiln_strv_len(out));
                for (size_t k = 0; k < n; k++)
                        assert_string_equal(out[k], c->out[k]);
                kiln_strv_free(out);
        }
}

static void test_errors(void **state)
{
        struct kiln_shell sh = { .lookup = lookup };
        static const struct {
                const char *in, *msg;
        } t[] = {
                { "${X:?}", "failed to process \"${X:?}\": X: is not allowed to be unset" },
                { "${X?}", "failed to process \"${X?}\": X: is not allowed to be unset" },
                { "${NULL:?}", "failed to process \"${NULL:?}\": NULL: is not allowed to be empty" },
                { "${X:?set X $PWD}", "failed to process \"${X:?set X $PWD}\": X: set X /home" },
                { "${NULL:?must be set}", "failed to process \"${NULL:?must be set}\": NULL: must be set" },
                { "${}", "failed to process \"${}\": syntax error: bad substitution" },
                { "${", "failed to process \"${\": syntax error: missing '}'" },
                { "${X:-a", "failed to process \"${X:-a\": syntax error: missing '}'" },
                { "${X:=a}", "failed to process \"${X:=a}\": unsupported modifier (:=) in substitution" },
                { "${X.}", "failed to process \"${X.}\": unsupported modifier (.) in substitution" },
                { "'a", "failed to process \"'a\": unexpected end of statement while looking for matching single-quote" },
                { "\"a", "failed to process \"\\\"a\": unexpected end of statement while looking for matching double-quote" },
                { "${V/a}", "failed to process \"${V/a}\": syntax error: missing '/' in ${}" },
                { "${V#\\x}", "failed to process \"${V#\\\\x}\": invalid pattern (\\x) in substitution: invalid escape '\\x'" },
                { "${V:#x}", "failed to process \"${V:#x}\": unsupported modifier (:#) in substitution" },
        };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(t); i++) {
                char *out = NULL;
                struct kiln_error e = { 0 };
                assert_int_equal(kiln_shell_word(&sh, t[i].in, &out, &e), -KILN_EFORMAT);
                assert_string_equal(e.msg, t[i].msg);
        }
}

/* deep nesting fails cleanly instead of exhausting the stack */
static void test_nesting(void **state)
{
        struct kiln_shell sh = { .lookup = lookup };
        char buf[8192] = "";
        for (int i = 0; i < 1000; i++)
                strcat(buf, "${X:-");
        for (int i = 0; i < 1000; i++)
                strcat(buf, "}");
        char *out = NULL;
        struct kiln_error e = { 0 };
        assert_int_equal(kiln_shell_word(&sh, buf, &out, &e), -KILN_EFORMAT);
        assert_non_null(strstr(e.msg, "nested too deeply"));

        /* and patterns stay linear: many stars on a long value */
        char pat[4096] = "${LONG//";
        for (int i = 0; i < 500; i++)
                strcat(pat, "*a");
        strcat(pat, "b/x}");
        memset(longv, 'a', sizeof(longv) - 1);
        assert_int_equal(kiln_shell_word(&sh, pat, &out, &e), 0);
        assert_int_equal(strlen(out), sizeof(longv) - 1); /* no 'b': unchanged */
        free(out);
        /* ${LONG##*a} and ${LONG%%a*} empty it, ${LONG#a} drops one */
        assert_int_equal(kiln_shell_word(&sh, "${LONG##*a}${LONG%%a*}", &out, &e), 0);
        assert_string_equal(out, "");
        free(out);
        assert_int_equal(kiln_shell_word(&sh, "${LONG#a}", &out, &e), 0);
        assert_int_equal(strlen(out), sizeof(longv) - 2);
        free(out);
        memset(longv, 0, sizeof(longv));
}

/* invalid UTF-8 reads as U+FFFD, as Go's scanner does */
static void test_utf8(void **state)
{
        struct kiln_shell sh = { .lookup = lookup };
        char *out = NULL;
        assert_int_equal(kiln_shell_word(&sh, "a\xff" "b", &out, NULL), 0);
        assert_string_equal(out, "a\xef\xbf\xbd" "b");
        free(out);
        /* a name ends at an invalid byte */
        assert_int_equal(kiln_shell_word(&sh, "$PWD\xff", &out, NULL), 0);
        assert_string_equal(out, "/home\xef\xbf\xbd");
        free(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_word),
                cmocka_unit_test(test_word_backtick),
                cmocka_unit_test(test_word_modes),
                cmocka_unit_test(test_words),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_nesting),
                cmocka_unit_test(test_utf8),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
