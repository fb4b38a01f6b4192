/* Unit tests for lib/build/dockerfile.c and expand.c: BuildKit's parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include "kiln/dockerfile.h"

/* ---- a compact dump: one line an instruction ---- */

static void quote(struct kiln_buf *b, const char *s)
{
        kiln_buf_puts(b, "\"");
        for (; *s; s++) {
                if (*s == '"' || *s == '\\')
                        kiln_buf_printf(b, "\\%c", *s);
                else if (*s == '\n')
                        kiln_buf_puts(b, "\\n");
                else if (*s == '\t')
                        kiln_buf_puts(b, "\\t");
                else
                        kiln_buf_append(b, s, 1);
        }
        kiln_buf_puts(b, "\"");
}

/* "run [--mount=x --link] json "a" "b"" */
static char *dump(const struct kiln_dockerfile *df)
{
        struct kiln_buf b = KILN_BUF_INIT;
        for (size_t i = 0; i < df->n_instructions; i++) {
                const struct kiln_df_instruction *in = &df->instructions[i];
                if (i)
                        kiln_buf_puts(&b, "\n");
                for (const char *c = kiln_df_cmd_name(in->cmd); *c; c++)
                        kiln_buf_printf(&b, "%c", *c - 'A' + 'a');
                if (in->n_flags) {
                        kiln_buf_puts(&b, " [");
                        for (size_t f = 0; f < in->n_flags; f++)
                                kiln_buf_printf(&b, "%s--%s%s%s", f ? " " : "", in->flags[f].name,
                                                in->flags[f].value ? "=" : "",
                                                in->flags[f].value ? in->flags[f].value : "");
                        kiln_buf_puts(&b, "]");
                }
                if (in->json)
                        kiln_buf_puts(&b, " json");
                for (char **a = in->args; *a; a++) {
                        kiln_buf_puts(&b, " ");
                        quote(&b, *a);
                }
        }
        return kiln_buf_steal(&b);
}

static struct kiln_dockerfile *parse_ok(const char *text)
{
        struct kiln_dockerfile *df = NULL;
        struct kiln_error e = { 0 };
        int r = kiln_dockerfile_parse(text, strlen(text), NULL, &df, &e);
        if (r < 0)
                fail_msg("parse failed: %s\n--- input:\n%s", e.msg, text);
        return df;
}

struct pcase {
        const char *in;
        const char *dump;
};

static const struct pcase parses[] = {
        { "FROM busybox\nRUN echo hi\n", "from \"busybox\"\nrun \"echo hi\"" },
        /* keywords in any case, AS kept as written in args */
        { "from busybox AS Build\nrun [\"a\", \"b\"]\nCmD x",
          "from \"busybox\" \"AS\" \"Build\"\nrun json \"a\" \"b\"\ncmd \"x\"" },
        /* leading blanks, blank lines, comments anywhere */
        { "\n\n  # c\n   FROM x\n\n\t RUN a\n# end", "from \"x\"\nrun \"a\"" },
        /* continuations keep the blanks on both sides of the join */
        { "FROM x\nRUN a \\\n  b\n", "from \"x\"\nrun \"a   b\"" },
        { "FROM x\nRUN a\\\nb\n", "from \"x\"\nrun \"ab\"" },
        { "FROM x\nRUN a \\  \t\n  b\n", "from \"x\"\nrun \"a   b\"" },
        /* a comment line or an empty line inside a continuation is dropped */
        { "FROM x\nRUN a \\\n# c\n  b\n", "from \"x\"\nrun \"a   b\"" },
        { "FROM x\nRUN a \\\n   # indented comment\n  b\n", "from \"x\"\nrun \"a   b\"" },
        { "FROM x\nRUN a \\\n\n  \n  b\n", "from \"x\"\nrun \"a   b\"" },
        /* continuation at the end of the file */
        { "FROM x\nRUN a \\", "from \"x\"\nrun \"a\"" },
        { "FROM x\nRUN a \\\n", "from \"x\"\nrun \"a\"" },
        /* an escaped escape does not continue */
        { "FROM x\nRUN a \\\\\nRUN b", "from \"x\"\nrun \"a \\\\\\\\\"\nrun \"b\"" },
        /* a lone escape on a line continues too */
        { "FROM x\nRUN a \\\n\\\n b", "from \"x\"\nrun \"a  b\"" },
        /* CRLF */
        { "FROM x\r\nRUN a \\\r\n b\r\n", "from \"x\"\nrun \"a  b\"" },
        /* the escape directive */
        { "# escape=`\nFROM x\nRUN a `\n  b\n", "from \"x\"\nrun \"a   b\"" },
        { "# escape=`\nFROM x\nRUN dir c:\\\nRUN b", "from \"x\"\nrun \"dir c:\\\\\"\nrun \"b\"" },
        { "#  ESCAPE =  ` \nFROM x\nRUN a `\nb", "from \"x\"\nrun \"a b\"" },
        { "# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN a `\nb", "from \"x\"\nrun \"a b\"" },
        { "#escape=\\\nFROM x", "from \"x\"" },
        /* directives only at the very top */
        { "# comment\n# escape=`\nFROM x\nRUN a `\nRUN b", "from \"x\"\nrun \"a `\"\nrun \"b\"" },
        { "\n# escape=`\nFROM x\nRUN a `\nRUN b", "from \"x\"\nrun \"a `\"\nrun \"b\"" },
        { "# foo=bar\n# escape=`\nFROM x\nRUN a `\nRUN b", "from \"x\"\nrun \"a `\"\nrun \"b\"" },
        { "FROM x\n# escape=`\nRUN a `\nRUN b", "from \"x\"\nrun \"a `\"\nrun \"b\"" },
        /* byte order mark */
        { "\xEF\xBB\xBF" "FROM x\n", "from \"x\"" },
        /* JSON or not */
        { "FROM x\nCMD [\"a\", 'b']", "from \"x\"\ncmd \"[\\\"a\\\", 'b']\"" },
        { "FROM x\nCMD [\"a\" \"b\"]", "from \"x\"\ncmd \"[\\\"a\\\" \\\"b\\\"]\"" },
        { "FROM x\nCMD [\"a\"", "from \"x\"\ncmd \"[\\\"a\\\"\"" },
        { "FROM x\nCMD [\"a\"] b", "from \"x\"\ncmd \"[\\\"a\\\"] b\"" },
        { "FROM x\nCMD [\"a\\u0041\\u00e9\", \"\\t\"]", "from \"x\"\ncmd json \"aA\xc3\xa9\" \"\\t\"" },
        { "FROM x\nCMD [\"\\ud83d\\ude00\", \"\\ud800\"]",
          "from \"x\"\ncmd json \"\xf0\x9f\x98\x80\" \"\xef\xbf\xbd\"" },
        { "FROM x\nCMD [ \"echo\" , \\\n\"x\" ]", "from \"x\"\ncmd json \"echo\" \"x\"" },
        { "FROM x\nCMD []", "from \"x\"\ncmd json" },
        { "FROM x\nENTRYPOINT [\"/bin/sh\", \"-c\"]", "from \"x\"\nentrypoint json \"/bin/sh\" \"-c\"" },
        { "FROM x\nCMD {\"a\": 1}", "from \"x\"\ncmd \"{\\\"a\\\": 1}\"" },
        { "FROM x\nCMD [\"a\" \\\n]", "from \"x\"\ncmd json \"a\"" },
        { "FROM x\nCMD [\"a\\x\"]", "from \"x\"\ncmd \"[\\\"a\\\\x\\\"]\"" },
        { "FROM x\nSHELL [\"powershell\", \"-command\"]", "from \"x\"\nshell json \"powershell\" \"-command\"" },
        /* COPY/ADD/VOLUME: JSON or words */
        { "FROM x\nCOPY a  b\t/c/", "from \"x\"\ncopy \"a\" \"b\" \"/c/\"" },
        { "FROM x\nCOPY [\"a b\", \"/c d/\"]", "from \"x\"\ncopy json \"a b\" \"/c d/\"" },
        { "FROM x\nADD \"a b\" /c", "from \"x\"\nadd \"\\\"a\" \"b\\\"\" \"/c\"" },
        { "FROM x\nVOLUME [\"/a\", \" /b \"]", "from \"x\"\nvolume json \"/a\" \" /b \"" },
        { "FROM x\nVOLUME /a /b", "from \"x\"\nvolume \"/a\" \"/b\"" },
        /* flags */
        { "FROM x\nCOPY --from=build --chown=1:1 --link a b /d/",
          "from \"x\"\ncopy [--from=build --chown=1:1 --link] \"a\" \"b\" \"/d/\"" },
        { "FROM x\nCOPY --exclude=*.md --exclude=.git . /",
          "from \"x\"\ncopy [--exclude=*.md --exclude=.git] \".\" \"/\"" },
        { "FROM x\nRUN --mount=\"type=cache,target=/root/.cache\" --network=none make",
          "from \"x\"\nrun [--mount=type=cache,target=/root/.cache --network=none] \"make\"" },
        { "FROM x\nRUN --mount=type=secret,id='a b' cat",
          "from \"x\"\nrun [--mount=type=secret,id=a b] \"cat\"" },
        { "FROM x\nRUN --mount=a\\ b x", "from \"x\"\nrun [--mount=a b] \"x\"" },
        { "FROM x\nRUN -- --not-a-flag", "from \"x\"\nrun \"--not-a-flag\"" },
        { "FROM x\nRUN -x --y", "from \"x\"\nrun \"-x --y\"" },
        { "FROM x\nRUN --network=host", "from \"x\"\nrun [--network=host]" },
        { "FROM --platform=linux/amd64 x AS b", "from [--platform=linux/amd64] \"x\" \"AS\" \"b\"" },
        { "FROM x\nADD --checksum=sha256:abc --keep-git-dir=true --unpack=false a /",
          "from \"x\"\nadd [--checksum=sha256:abc --keep-git-dir=true --unpack=false] \"a\" \"/\"" },
        { "FROM x\nCOPY --parents --link=FALSE a /", "from \"x\"\ncopy [--parents --link=FALSE] \"a\" \"/\"" },
        /* flags of instructions BuildKit never checks are kept, not refused */
        { "FROM x\nSTOPSIGNAL --foo SIGKILL", "from \"x\"\nstopsignal [--foo] \"SIGKILL\"" },
        { "FROM x\nARG --foo a", "from \"x\"\narg [--foo] \"a\"" },
        /* ENV and LABEL: key, value, delimiter triples as BuildKit's AST */
        { "FROM x\nENV A=1 B=\"two words\" C=", "from \"x\"\nenv \"A\" \"1\" \"=\" \"B\" \"\\\"two words\\\"\" \"=\" \"C\" \"\" \"=\"" },
        { "FROM x\nENV A b c  d", "from \"x\"\nenv \"A\" \"b c  d\" \"\"" },
        { "FROM x\nENV A=a\\ b", "from \"x\"\nenv \"A\" \"a\\\\ b\" \"=\"" },
        { "FROM x\nENV A='x y'z", "from \"x\"\nenv \"A\" \"'x y'z\" \"=\"" },
        { "FROM x\nENV A=\"a \\\"q\\\" b\"", "from \"x\"\nenv \"A\" \"\\\"a \\\\\\\"q\\\\\\\" b\\\"\" \"=\"" },
        { "FROM x\nLABEL \"a b\"=c d=e=f", "from \"x\"\nlabel \"\\\"a b\\\"\" \"c\" \"=\" \"d\" \"e=f\" \"=\"" },
        { "FROM x\nLABEL maintainer me", "from \"x\"\nlabel \"maintainer\" \"me\" \"\"" },
        /* ARG words */
        { "ARG A\nARG B=1 C=\"x y\"\nFROM x", "arg \"A\"\narg \"B=1\" \"C=\\\"x y\\\"\"\nfrom \"x\"" },
        /* whole-rest instructions */
        { "FROM x\nUSER a b\nWORKDIR /a b\nMAINTAINER Me <me@x>",
          "from \"x\"\nuser \"a b\"\nworkdir \"/a b\"\nmaintainer \"Me <me@x>\"" },
        { "FROM x\nEXPOSE 8080 80/udp\t443", "from \"x\"\nexpose \"8080\" \"80/udp\" \"443\"" },
        /* HEALTHCHECK */
        { "FROM x\nHEALTHCHECK NONE", "from \"x\"\nhealthcheck \"NONE\"" },
        { "FROM x\nHEALTHCHECK --interval=5m CMD curl -f http://x/ || exit 1",
          "from \"x\"\nhealthcheck [--interval=5m] \"CMD\" \"curl -f http://x/ || exit 1\"" },
        { "FROM x\nHEALTHCHECK CMD [\"curl\", \"-f\"]", "from \"x\"\nhealthcheck json \"CMD\" \"curl\" \"-f\"" },
        /* ONBUILD: the wrapped keyword and its arguments */
        { "FROM x\nONBUILD RUN echo hi", "from \"x\"\nonbuild \"RUN\" \"echo hi\"" },
        { "FROM x\nonbuild copy --from=a b c", "from \"x\"\nonbuild \"copy\" \"b\" \"c\"" },
        { "FROM x\nONBUILD ENV a=b", "from \"x\"\nonbuild \"ENV\" \"a\" \"b\" \"=\"" },
        /* instruction after a heredoc-looking word of an instruction without heredocs */
        { "FROM x\nRUN \"<<NOHEREDOC\"\nRUN b", "from \"x\"\nrun \"\\\"<<NOHEREDOC\\\"\"\nrun \"b\"" },
        { "FROM x\nRUN [\"cat\", \"<<EOF\"]\nRUN b", "from \"x\"\nrun json \"cat\" \"<<EOF\"\nrun \"b\"" },
        /* non-ASCII in flags: BuildKit writes each byte as a rune (Latin-1) */
        { "FROM x\nCOPY --from=\xc3\xa9 a b", "from \"x\"\ncopy [--from=\xc3\x83\xc2\xa9] \"a\" \"b\"" },
        /* the Kelvin sign lowercases to k */
        { "FROM x\nWOR\xe2\x84\xaa" "DIR /a", "from \"x\"\nworkdir \"/a\"" },
        /* a line of exactly 64 KiB - 1 bytes plus its newline is fine */
};

static void test_parse_table(void **state)
{
        for (size_t i = 0; i < KILN_ARRAY_SIZE(parses); i++) {
                struct kiln_dockerfile *df = parse_ok(parses[i].in);
                char *d = dump(df);
                if (strcmp(d, parses[i].dump) != 0)
                        fail_msg("case %zu:\n--- input:\n%s\n--- want:\n%s\n--- got:\n%s", i, parses[i].in,
                                 parses[i].dump, d);
                free(d);
                kiln_dockerfile_free(df);
        }
}

struct ecase {
        const char *in;
        const char *msg;
};

static const struct ecase errors[] = {
        { "FROM x\nRUNN echo\n", "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)" },
        { "FROM x\ncopyy a b\n", "Dockerfile:2: unknown instruction: copyy (did you mean copy?)" },
        { "FROM x\nFOOBARBAZ\n", "Dockerfile:2: unknown instruction: FOOBARBAZ" },
        { "FROM x\n\n\nRUN a \\\n  b\nBOGUS c", "Dockerfile:6: unknown instruction: BOGUS" },
        { "FROM x\n\\\n", "Dockerfile:2: unknown instruction: " },
        { "FROM\n", "Dockerfile:1: FROM requires either one or three arguments" },
        { "FROM a b\n", "Dockerfile:1: FROM requires either one or three arguments" },
        { "FROM a AS b c\n", "Dockerfile:1: FROM requires either one or three arguments" },
        { "FROM a AS 1x\n",
          "Dockerfile:1: invalid name for build stage: \"1x\", name can't start with a number or contain symbols" },
        { "FROM a AS b$c\n",
          "Dockerfile:1: invalid name for build stage: \"b$c\", name can't start with a number or contain symbols" },
        { "FROM --platform x\n", "Dockerfile:1: missing a value on flag: --platform" },
        { "FROM --plaform=x a\n", "Dockerfile:1: unknown flag: --plaform (did you mean platform?)" },
        { "FROM x\nENV PATH\n", "Dockerfile:2: ENV must have two arguments" },
        { "FROM x\nLABEL a\n", "Dockerfile:2: LABEL must have two arguments" },
        { "FROM x\nENV a=1 b\n",
          "Dockerfile:2: Syntax error - can't find = in \"b\". Must be of the form: name=value" },
        { "FROM x\nENV =1\n", "Dockerfile:2: ENV names can not be blank" },
        { "FROM x\nLABEL =1\n", "Dockerfile:2: LABEL names can not be blank" },
        { "FROM x\nENV\n", "Dockerfile:2: ENV requires at least one argument" },
        { "FROM x\nLABEL\n", "Dockerfile:2: LABEL requires at least one argument" },
        { "FROM x\nENV --foo a=b\n", "Dockerfile:2: unknown flag: --foo" },
        { "FROM x\nCOPY a\n",
          "Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined" },
        { "FROM x\nADD\n",
          "Dockerfile:2: ADD requires at least two arguments, but only one was provided. Destination could not be determined" },
        { "FROM x\nCOPY --fromm=a b c\n", "Dockerfile:2: unknown flag: --fromm (did you mean from?)" },
        { "FROM x\nCOPY --checksum=x a b\n", "Dockerfile:2: unknown flag: --checksum" },
        { "FROM x\nCOPY --from a b\n", "Dockerfile:2: missing a value on flag: --from" },
        { "FROM x\nCOPY --link=maybe a b\n", "Dockerfile:2: expecting boolean value for flag --link, not: maybe" },
        { "FROM x\nCOPY --link= a b\n", "Dockerfile:2: missing a value on flag: --link" },
        { "FROM x\nCOPY --from=a --from=b c d\n", "Dockerfile:2: duplicate flag specified: --from" },
        { "FROM x\nCOPY --link --link a b\n", "Dockerfile:2: duplicate flag specified: --link" },
        { "FROM x\nRUN --mount\n", "Dockerfile:2: missing a value on flag: --mount" },
        { "FROM x\nRUN --mnt=x y\n", "Dockerfile:2: unknown flag: --mnt (did you mean mount?)" },
        { "FROM x\nRUN <<EOF\necho\n", "Dockerfile:2: unterminated heredoc" },
        { "FROM x\nRUN <<A <<B\na\nA\nb\n", "Dockerfile:2: unterminated heredoc" },
        { "FROM x\nCOPY a <<EOF\nx\nEOF\n", "Dockerfile:2: COPY cannot accept a heredoc as a destination" },
        { "FROM x\nSHELL /bin/sh -c\n", "Dockerfile:2: SHELL requires the arguments to be in JSON form" },
        { "FROM x\nSHELL []\n", "Dockerfile:2: SHELL requires at least one argument" },
        { "FROM x\nSHELL\n", "Dockerfile:2: SHELL requires at least one argument" },
        { "FROM x\nCMD [\"a\", 1]\n",
          "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only" },
        { "FROM x\nCMD [ \"echo\", [ \"nested json\" ] ]\n",
          "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only" },
        { "FROM x\nVOLUME [null]\n",
          "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only" },
        { "FROM x\nHEALTHCHECK\n", "Dockerfile:2: HEALTHCHECK requires at least one argument" },
        { "FROM x\nHEALTHCHECK NONE x\n", "Dockerfile:2: HEALTHCHECK NONE takes no arguments" },
        { "FROM x\nHEALTHCHECK FOO x\n", "Dockerfile:2: Unknown type \"FOO\" in HEALTHCHECK (try CMD)" },
        { "FROM x\nHEALTHCHECK CMD\n", "Dockerfile:2: Missing command after HEALTHCHECK CMD" },
        { "FROM x\nHEALTHCHECK CMD []\n", "Dockerfile:2: Missing command after HEALTHCHECK CMD" },
        { "FROM x\nHEALTHCHECK --interval=1us CMD x\n",
          "Dockerfile:2: Interval \"interval\" cannot be less than 1ms" },
        { "FROM x\nHEALTHCHECK --timeout=-1s CMD x\n",
          "Dockerfile:2: Interval \"timeout\" cannot be less than 1ms" },
        { "FROM x\nHEALTHCHECK --interval=5x CMD x\n",
          "Dockerfile:2: time: unknown unit \"x\" in duration \"5x\"" },
        { "FROM x\nHEALTHCHECK --start-period=5 CMD x\n",
          "Dockerfile:2: time: missing unit in duration \"5\"" },
        { "FROM x\nHEALTHCHECK --retries=-1 CMD x\n", "Dockerfile:2: --retries cannot be negative (-1)" },
        { "FROM x\nHEALTHCHECK --retries=abc CMD x\n",
          "Dockerfile:2: strconv.ParseInt: parsing \"abc\": invalid syntax" },
        { "FROM x\nHEALTHCHECK --retries=3000000000 CMD x\n",
          "Dockerfile:2: strconv.ParseInt: parsing \"3000000000\": value out of range" },
        { "FROM x\nHEALTHCHECK --retry=1 CMD x\n", "Dockerfile:2: unknown flag: --retry" },
        { "FROM x\nONBUILD\n", "Dockerfile:2: ONBUILD requires at least one argument" },
        { "FROM x\nONBUILD ONBUILD RUN x\n", "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed" },
        { "FROM x\nONBUILD from y\n", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger" },
        { "FROM x\nONBUILD MAINTAINER y\n", "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger" },
        { "FROM x\nONBUILD ENV a\n", "Dockerfile:2: ENV must have two arguments" },
        { "FROM x\nWORKDIR\n", "Dockerfile:2: WORKDIR requires exactly one argument" },
        { "FROM x\nUSER\n", "Dockerfile:2: USER requires exactly one argument" },
        { "FROM x\nSTOPSIGNAL\n", "Dockerfile:2: STOPSIGNAL requires exactly one argument" },
        { "FROM x\nMAINTAINER\n", "Dockerfile:2: MAINTAINER requires exactly one argument" },
        { "FROM x\nUSER --x a\n", "Dockerfile:2: unknown flag: --x" },
        { "FROM x\nVOLUME [\"\"]\n", "Dockerfile:2: VOLUME specified can not be an empty string" },
        { "FROM x\nVOLUME\n", "Dockerfile:2: VOLUME requires at least one argument" },
        { "FROM x\nEXPOSE\n", "Dockerfile:2: EXPOSE requires at least one argument" },
        { "FROM x\nARG\n", "Dockerfile:2: ARG requires at least one argument" },
        { "FROM x\nARG =a\n", "Dockerfile:2: ARG names can not be blank" },
        { "RUN x\n", "Dockerfile:1: no build stage in current context" },
        { "ARG a\nENV b=c\nFROM x\n", "Dockerfile:2: no build stage in current context" },
        { "", "Dockerfile:1: file with no instructions" },
        { "# only a comment\n\n", "Dockerfile:2: file with no instructions" },
        { "# escape=x\nFROM a\n", "Dockerfile:1: invalid escape token 'x' does not match ` or \\" },
        { "# escape=   \nFROM a\n", "Dockerfile:1: invalid escape token ' ' does not match ` or \\" },
        { "# escape=`\n# escape=\\\nFROM a", "Dockerfile:2: only one escape parser directive can be used" },
        { "# syntax=a\n# SYNTAX=b\nFROM a", "Dockerfile:2: only one syntax parser directive can be used" },
        /* BuildKit reads the whole file before checking instructions */
        { "FROM x\nRUNN y\nRUN <<EOF\n", "Dockerfile:3: unterminated heredoc" },
        { "FROM x\nRUNN y\nENV a\n", "Dockerfile:3: ENV must have two arguments" },
        /* USER takes no heredoc: the body lines are instructions */
        { "FROM x\nUSER <<INVALID\nINVALID\n", "Dockerfile:3: unknown instruction: INVALID" },
        { "FROM x\nCMD [\"a\\u0000\"]\n", "Dockerfile:2: NUL characters in JSON strings are not supported" },
};

static void test_errors(void **state)
{
        for (size_t i = 0; i < KILN_ARRAY_SIZE(errors); i++) {
                struct kiln_dockerfile *df = NULL;
                struct kiln_error e = { 0 };
                int r = kiln_dockerfile_parse(errors[i].in, strlen(errors[i].in), NULL, &df, &e);
                if (r >= 0)
                        fail_msg("case %zu: parsed, want '%s'", i, errors[i].msg);
                assert_int_equal(r, -KILN_EFORMAT);
                assert_null(df);
                if (strcmp(e.msg, errors[i].msg) != 0)
                        fail_msg("case %zu:\n want '%s'\n got  '%s'", i, errors[i].msg, e.msg);
        }
}

static void test_error_limits(void **state)
{
        struct kiln_dockerfile *df = NULL;
        struct kiln_error e = { 0 };
        /* a line up to 64 KiB with its newline is accepted, longer is not */
        size_t n = 65536 + 16;
        char *big = kiln_xmalloc(n + 1);
        memcpy(big, "FROM x\nLABEL a=", 15);
        size_t upto = 7 + 65535; /* the second line: 65535 bytes and a newline */
        memset(big + 15, 'b', upto - 15);
        big[upto] = '\n';
        big[upto + 1] = 0;
        assert_int_equal(kiln_dockerfile_parse(big, upto + 1, NULL, &df, &e), 0);
        kiln_dockerfile_free(df);
        df = NULL;
        big[upto] = 'b';
        big[upto + 1] = '\n';
        assert_int_equal(kiln_dockerfile_parse(big, upto + 2, NULL, &df, &e), -KILN_ETOOBIG);
        assert_string_equal(e.msg, "Dockerfile:2: dockerfile line greater than max allowed size of 65535");
        free(big);

        /* the file name in messages, NUL bytes */
        assert_int_equal(kiln_dockerfile_parse("FROM x\nNOPE", 11, "Containerfile", &df, &e), -KILN_EFORMAT);
        assert_string_equal(e.msg, "Containerfile:2: unknown instruction: NOPE (did you mean COPY?)");
        assert_int_equal(kiln_dockerfile_parse("FROM x\0", 7, NULL, &df, &e), -KILN_EFORMAT);
        assert_string_equal(e.msg, "Dockerfile: the file contains a NUL byte");
        assert_null(df);
}

static void test_directives_and_lines(void **state)
{
        struct kiln_dockerfile *df = parse_ok(
                "# syntax = docker/dockerfile:1.7  \n"
                "# check=skip=all\n"
                "# escape=`\n"
                "\n"
                "# the base\n"
                "FROM busybox AS Base\n"
                "#\n"
                "# doc for run\n"
                "RUN a `\n"
                "  b `\n"
                "\n"
                "  c\n"
                "COPY . /\n");
        assert_string_equal(df->syntax, "docker/dockerfile:1.7");
        assert_string_equal(df->check, "skip=all");
        assert_int_equal(df->escape, '`');
        assert_int_equal(df->n_instructions, 3);
        const struct kiln_df_instruction *from = &df->instructions[0], *run = &df->instructions[1];
        assert_int_equal(from->start_line, 6);
        assert_int_equal(from->end_line, 6);
        assert_string_equal(from->keyword, "FROM");
        assert_string_equal(from->base, "busybox");
        assert_string_equal(from->stage_name, "base");
        assert_string_equal(from->comments[0], "the base");
        assert_null(from->comments[1]);
        assert_int_equal(run->start_line, 9);
        assert_int_equal(run->end_line, 12);
        assert_string_equal(run->original, "RUN a   b   c");
        assert_string_equal(run->comments[0], "doc for run");
        assert_null(run->comments[1]);
        assert_string_equal(run->cmdline[0], "a   b   c");
        assert_true(run->prepend_shell);
        assert_int_equal(kiln_strv_len(df->warnings), 1);
        assert_string_equal(df->warnings[0], "Empty continuation line found in: RUN a   b   c");
        assert_int_equal(df->n_stages, 1);
        assert_string_equal(df->stages[0].name, "base");
        assert_int_equal(df->stages[0].first, 1);
        assert_int_equal(df->stages[0].count, 2);
        kiln_dockerfile_free(df);
}

static void test_stages(void **state)
{
        struct kiln_dockerfile *df = parse_ok("ARG A=1\nARG B\nFROM a AS one\nRUN x\nFROM one\nFROM b AS Two\nRUN y\nRUN z\n");
        assert_int_equal(df->n_meta_args, 2);
        assert_int_equal(df->n_stages, 3);
        assert_string_equal(df->stages[0].name, "one");
        assert_int_equal(df->stages[0].from, 2);
        assert_int_equal(df->stages[0].count, 1);
        assert_null(df->stages[1].name);
        assert_int_equal(df->stages[1].count, 0);
        assert_string_equal(df->stages[2].name, "two");
        assert_int_equal(df->stages[2].first, 6);
        assert_int_equal(df->stages[2].count, 2);
        const struct kiln_df_instruction *a = &df->instructions[0];
        assert_string_equal(a->arg_list[0].key, "A");
        assert_string_equal(a->arg_list[0].value, "1");
        assert_null(df->instructions[1].arg_list[0].value);
        kiln_dockerfile_free(df);
}

static void test_typed(void **state)
{
        struct kiln_dockerfile *df = parse_ok(
                "FROM x\n"
                "ENV A=1 B=\"two words\"\n"
                "ENV LEGACY some value\n"
                "LABEL \"com.example.a\"=x\n"
                "EXPOSE 8080 80/udp 443\n"
                "VOLUME [\"/a\", \" /b \"]\n"
                "HEALTHCHECK --interval=1m30s --timeout=3s --start-period=.5s --start-interval=1.5ms --retries=3 CMD curl -f x\n"
                "COPY --from=b --chown=1:2 --chmod=755 --link --exclude=a --exclude=b src1 src2 /dst/\n"
                "ENTRYPOINT\n"
                "CMD\n"
                "RUN [\"/bin/echo\", \"hi\"]\n"
                "ONBUILD RUN echo $HOME\n"
                "ARG X Y=\"q\"\n"
                "SHELL [\"/bin/bash\", \"-c\"]\n"
                "STOPSIGNAL SIGTERM\n");
        const struct kiln_df_instruction *in = df->instructions;
        assert_int_equal(in[1].n_kvs, 2);
        assert_string_equal(in[1].kvs[1].key, "B");
        assert_string_equal(in[1].kvs[1].value, "\"two words\"");
        assert_false(in[1].kvs[1].no_delim);
        assert_string_equal(in[2].kvs[0].key, "LEGACY");
        assert_string_equal(in[2].kvs[0].value, "some value");
        assert_true(in[2].kvs[0].no_delim);
        assert_string_equal(in[3].kvs[0].key, "\"com.example.a\"");
        /* EXPOSE sorted as strings, as BuildKit does */
        assert_string_equal(in[4].list[0], "443");
        assert_string_equal(in[4].list[1], "80/udp");
        assert_string_equal(in[4].list[2], "8080");
        assert_string_equal(in[5].list[1], "/b");
        const struct kiln_df_health *h = in[6].health;
        assert_string_equal(h->test[0], "CMD-SHELL");
        assert_string_equal(h->test[1], "curl -f x");
        assert_null(h->test[2]);
        assert_int_equal(h->interval_ns, 90000000000LL);
        assert_int_equal(h->timeout_ns, 3000000000LL);
        assert_int_equal(h->start_period_ns, 500000000LL);
        assert_int_equal(h->start_interval_ns, 1500000LL);
        assert_int_equal(h->retries, 3);
        const struct kiln_df_instruction *cp = &in[7];
        assert_string_equal(kiln_df_flag_value(cp, "from"), "b");
        assert_string_equal(kiln_df_flag_value(cp, "chmod"), "755");
        assert_true(kiln_df_flag_bool(cp, "link"));
        assert_false(kiln_df_flag_bool(cp, "parents"));
        assert_true(kiln_df_flag_used(cp, "chown"));
        assert_null(kiln_df_flag_value(cp, "parents"));
        const char **ex = kiln_df_flag_values(cp, "exclude");
        assert_string_equal(ex[0], "a");
        assert_string_equal(ex[1], "b");
        assert_null(ex[2]);
        free(ex);
        assert_string_equal(cp->sources[0], "src1");
        assert_string_equal(cp->sources[1], "src2");
        assert_null(cp->sources[2]);
        assert_string_equal(cp->dest, "/dst/");
        assert_int_equal(cp->n_inline_sources, 0);
        assert_null(in[8].cmdline); /* ENTRYPOINT without arguments */
        assert_non_null(in[9].cmdline);
        assert_null(in[9].cmdline[0]);
        assert_string_equal(in[10].cmdline[1], "hi");
        assert_false(in[10].prepend_shell);
        assert_string_equal(in[11].expression, "RUN echo $HOME");
        assert_string_equal(in[12].arg_list[1].key, "Y");
        assert_string_equal(in[12].arg_list[1].value, "\"q\"");
        assert_string_equal(in[13].cmdline[0], "/bin/bash");
        assert_string_equal(in[14].value, "SIGTERM");
        kiln_dockerfile_free(df);

        df = parse_ok("FROM x\nHEALTHCHECK NONE\nHEALTHCHECK CMD [\"a\", \"b\"]\nHEALTHCHECK cmd --x");
        assert_string_equal(df->instructions[1].health->test[0], "NONE");
        assert_string_equal(df->instructions[2].health->test[0], "CMD");
        assert_string_equal(df->instructions[2].health->test[2], "b");
        assert_string_equal(df->instructions[3].health->test[0], "CMD-SHELL");
        assert_string_equal(df->instructions[3].health->test[1], "--x");
        kiln_dockerfile_free(df);
}

/* ---- heredocs ---- */

struct hdoc {
        const char *name, *content;
        uint64_t fd;
        bool expand, chomp;
};

struct hcase {
        const char *in;   /* "FROM x\n" is prepended */
        size_t n;
        struct hdoc docs[3];
        unsigned end_line;
};

static const struct hcase heredocs[] = {
        { "RUN <<EOF\necho hi\nEOF\n", 1, { { "EOF", "echo hi\n", 0, true, false } }, 4 },
        { "RUN <<EMPTY\nEMPTY\n", 1, { { "EMPTY", "", 0, true, false } }, 3 },
        { "RUN 3<<EOF\nx\nEOF", 1, { { "EOF", "x\n", 3, true, false } }, 4 },
        { "RUN <<INDENT\n\tfoo\n\tbar\nINDENT\n", 1, { { "INDENT", "\tfoo\n\tbar\n", 0, true, false } }, 5 },
        { "RUN <<-UNINDENT\n\tbaz\n\t\tquux\nUNINDENT\n", 1,
          { { "UNINDENT", "baz\nquux\n", 0, true, true } }, 5 },
        { "RUN <<-END\n\tbaz\n\t\tEND\n", 1, { { "END", "baz\n", 0, true, true } }, 4 },
        /* without "-" a tab-indented terminator is body */
        { "RUN <<END\n\tEND\nEND\n", 1, { { "END", "\tEND\n", 0, true, false } }, 4 },
        { "RUN <<-'NOEXPAND'\n\t$NAME\nNOEXPAND\n", 1, { { "NOEXPAND", "$NAME\n", 0, false, true } }, 4 },
        { "RUN <<\"EOF\"\n$X\nEOF\n", 1, { { "EOF", "$X\n", 0, false, false } }, 4 },
        { "RUN <<eo'f'\necho foo\neof\n", 1, { { "eof", "echo foo\n", 0, false, false } }, 4 },
        { "RUN <<eo\\'f\necho foo\neo'f\n", 1, { { "eo'f", "echo foo\n", 0, true, false } }, 4 },
        { "RUN <<'e'o\\'f\necho foo\neo'f\n", 1, { { "eo'f", "echo foo\n", 0, false, false } }, 4 },
        { "RUN <<'one two'\necho bar\none two\n", 1, { { "one two", "echo bar\n", 0, false, false } }, 4 },
        { "RUN <<$EOF\n$EOF\n", 1, { { "$EOF", "", 0, true, false } }, 3 },
        { "RUN <<  EOF\nEOF\n", 1, { { "EOF", "", 0, true, false } }, 3 },
        { "RUN <<  EOF  > foo\nEOF\n", 1, { { "EOF", "", 0, true, false } }, 3 },
        { "RUN <<COMPLEX python3\nprint('x')\nCOMPLEX\n", 1, { { "COMPLEX", "print('x')\n", 0, true, false } }, 4 },
        { "RUN <<COMMENT\n# internal comment\necho # trailing\nCOMMENT\n", 1,
          { { "COMMENT", "# internal comment\necho # trailing\n", 0, true, false } }, 5 },
        { "RUN --mount=type=cache,target=/foo <<MOUNT\necho hello\nMOUNT\n", 1,
          { { "MOUNT", "echo hello\n", 0, true, false } }, 4 },
        { "RUN <<A cat && <<-B cat\nx\nA\n\ty\n\tB\n", 2,
          { { "A", "x\n", 0, true, false }, { "B", "y\n", 0, true, true } }, 6 },
        { "RUN <<EOF \\\n  cat\nbody\nEOF\n", 1, { { "EOF", "body\n", 0, true, false } }, 5 },
        { "RUN <<EOF\r\nx\r\nEOF\r\n", 1, { { "EOF", "x\r\n", 0, true, false } }, 4 },
        { "COPY <<FILE1 <<FILE2 /dest\ncontent 1\nFILE1\ncontent 2\nFILE2\n", 2,
          { { "FILE1", "content 1\n", 0, true, false }, { "FILE2", "content 2\n", 0, true, false } }, 6 },
        { "COPY <<X <<Y /dest\nY\nX\nX\nY\n", 2,
          { { "X", "Y\n", 0, true, false }, { "Y", "X\n", 0, true, false } }, 6 },
        { "COPY <<file.txt /dest\nhello world\nfile.txt\n", 1,
          { { "file.txt", "hello world\n", 0, true, false } }, 4 },
        { "ADD <<EOF /x\n\"q\"\n'r'\nEOF\n", 1, { { "EOF", "\"q\"\n'r'\n", 0, true, false } }, 5 },
        /* "<<-" with a blank after it is no heredoc, nor is "<" alone */
        { "RUN cat <<- EOF\n", 0, { { 0 } }, 2 },
        { "RUN a < b << c <<\n", 1, { { "c", "", 0, true, false } }, 0 },
        /* a quoted << is not one either */
        { "RUN echo '<<EOF'\n", 0, { { 0 } }, 2 },
        /* an unbalanced quote in the line: BuildKit finds no heredoc at all */
        { "RUN echo ' <<EOF\n", 0, { { 0 } }, 2 },
        /* the escape directive does not change heredoc lexing */
        { "ONBUILD RUN <<EOF\necho\nEOF\n", 1, { { "EOF", "echo\n", 0, true, false } }, 4 },
};

static void test_heredocs(void **state)
{
        for (size_t i = 0; i < KILN_ARRAY_SIZE(heredocs); i++) {
                const struct hcase *c = &heredocs[i];
                _cleanup_free_ char *text = kiln_xasprintf("FROM x\n%s", c->in);
                struct kiln_dockerfile *df = NULL;
                struct kiln_error e = { 0 };
                int r = kiln_dockerfile_parse(text, strlen(text), NULL, &df, &e);
                if (c->end_line == 0) {
                        /* "RUN a < b << c <<": c waits for its terminator */
                        assert_int_equal(r, -KILN_EFORMAT);
                        assert_string_equal(e.msg, "Dockerfile:2: unterminated heredoc");
                        continue;
                }
                if (r < 0)
                        fail_msg("case %zu: %s", i, e.msg);
                const struct kiln_df_instruction *in = &df->instructions[1];
                if (in->n_heredocs != c->n)
                        fail_msg("case %zu: want %zu heredocs, got %zu", i, c->n, in->n_heredocs);
                for (size_t k = 0; k < c->n; k++) {
                        const struct kiln_df_heredoc *h = &in->heredocs[k];
                        assert_string_equal(h->name, c->docs[k].name);
                        if (strcmp(h->content, c->docs[k].content) != 0)
                                fail_msg("case %zu doc %zu: content '%s'", i, k, h->content);
                        assert_int_equal(h->fd, c->docs[k].fd);
                        if (h->expand != c->docs[k].expand || h->chomp != c->docs[k].chomp)
                                fail_msg("case %zu doc %zu: expand %d chomp %d", i, k, h->expand, h->chomp);
                }
                if (in->end_line != c->end_line)
                        fail_msg("case %zu: end line %u", i, in->end_line);
                assert_int_equal(df->n_instructions, 2);
                kiln_dockerfile_free(df);
        }
}

static void test_heredoc_sources(void **state)
{
        struct kiln_dockerfile *df = parse_ok(
                "FROM x\n"
                "COPY --chmod=644 <<A a.txt <<'B' /dir/\n"
                "\t$X\n"
                "A\n"
                "$Y\n"
                "B\n"
                "ONBUILD COPY <<-EOF /f\n"
                "\tbody\n"
                "EOF\n"
                "COPY [\"<<EOF\", \"/j\"]\n"
                "RUN after\n");
        const struct kiln_df_instruction *cp = &df->instructions[1];
        assert_int_equal(cp->n_inline_sources, 2);
        assert_string_equal(cp->inline_sources[0]->name, "A");
        assert_string_equal(cp->inline_sources[0]->content, "\t$X\n");
        assert_true(cp->inline_sources[0]->expand);
        assert_string_equal(cp->inline_sources[1]->name, "B");
        assert_false(cp->inline_sources[1]->expand);
        assert_string_equal(cp->sources[0], "a.txt");
        assert_null(cp->sources[1]);
        assert_string_equal(cp->dest, "/dir/");
        /* the trigger keeps the raw body and terminator, to be parsed again */
        const struct kiln_df_instruction *ob = &df->instructions[2];
        assert_string_equal(ob->expression, "COPY <<-EOF /f\n\tbody\nEOF");
        assert_string_equal(ob->heredocs[0].content, "body\n");
        _cleanup_free_ char *trigger = kiln_xasprintf("FROM x\n%s", ob->expression);
        struct kiln_dockerfile *again = parse_ok(trigger);
        assert_string_equal(again->instructions[1].heredocs[0].content, "body\n");
        kiln_dockerfile_free(again);
        /* JSON form: a heredoc word with no body */
        const struct kiln_df_instruction *j = &df->instructions[3];
        assert_int_equal(j->n_inline_sources, 1);
        assert_string_equal(j->inline_sources[0]->content, "");
        assert_int_equal(df->n_instructions, 5);
        kiln_dockerfile_free(df);
}

/* ---- expansion ---- */

static const char *const env[][2] = {
        { "HOME", "/root" }, { "U", "app" }, { "PORTS", "80 443/udp" }, { "DIR", "/root/.cache" },
        { "EMPTY", "" }, { "PLAT", "linux/arm64" }, { "TAG", "1.2" }, { "SP", "a b" },
};

static bool lookup(void *userdata, const char *name, const char **ret)
{
        for (size_t i = 0; i < KILN_ARRAY_SIZE(env); i++)
                if (strcmp(env[i][0], name) == 0) {
                        *ret = env[i][1];
                        return true;
                }
        return false;
}

static void test_expand(void **state)
{
        struct kiln_dockerfile *df = parse_ok(
                "ARG TAG\n"
                "FROM --platform=$PLAT busybox:${TAG:-latest}\n"
                "ENV A=$HOME/x B=\"$SP  c\" C='$HOME' D\\ E=1\n"
                "ENV LEGACY \"quoted $U\" rest\n"
                "LABEL \"$U.label\"=\"${U}\"\n"
                "COPY --from=$U --chown=$U:$U --chmod=${EMPTY:-644} $HOME/a \"$SP\" /dst/$U/\n"
                "ADD --checksum=sha256:$TAG <<A <<'B' /x\n"
                "$HOME 'q' \"d\" \\$U\n"
                "A\n"
                "$HOME\n"
                "B\n"
                "EXPOSE $PORTS 22\n"
                "WORKDIR $HOME/$U\n"
                "USER ${U}:${U}\n"
                "VOLUME [\"$DIR\", \"/v\"]\n"
                "STOPSIGNAL SIG$EMPTY${X:-TERM}\n"
                "RUN --mount=type=cache,target=$DIR,id=\"x\" --network=$U echo $HOME\n"
                "CMD echo $HOME\n"
                "ARG Z=$U-${TAG}\n");
        struct kiln_df_instruction *in = df->instructions;
        struct kiln_error e = { 0 };
        for (size_t i = 0; i < df->n_instructions; i++)
                if (kiln_df_expand(&in[i], df->escape, NULL, lookup, NULL, &e) < 0)
                        fail_msg("instruction %zu: %s", i, e.msg);
        assert_string_equal(in[1].base, "busybox:1.2");
        assert_string_equal(kiln_df_flag_value(&in[1], "platform"), "linux/arm64");
        assert_string_equal(in[2].kvs[0].value, "/root/x");
        assert_string_equal(in[2].kvs[1].value, "a b  c");
        assert_string_equal(in[2].kvs[2].value, "$HOME");
        assert_string_equal(in[2].kvs[3].key, "D E");
        assert_string_equal(in[3].kvs[0].value, "quoted app rest");
        assert_string_equal(in[4].kvs[0].key, "app.label");
        assert_string_equal(in[4].kvs[0].value, "app");
        const struct kiln_df_instruction *cp = &in[5];
        assert_string_equal(kiln_df_flag_value(cp, "from"), "$U"); /* never expanded */
        assert_string_equal(kiln_df_flag_value(cp, "chown"), "app:app");
        assert_string_equal(kiln_df_flag_value(cp, "chmod"), "644");
        assert_string_equal(cp->sources[0], "/root/a");
        assert_string_equal(cp->sources[1], "a b");
        assert_string_equal(cp->dest, "/dst/app/");
        const struct kiln_df_instruction *add = &in[6];
        assert_string_equal(kiln_df_flag_value(add, "checksum"), "sha256:1.2");
        /* heredoc bodies: quotes stay, escapes of $ work, quoted delimiters stay raw */
        assert_string_equal(add->inline_sources[0]->content, "/root 'q' \"d\" $U\n");
        assert_string_equal(add->inline_sources[1]->content, "$HOME\n");
        assert_string_equal(in[7].list[0], "80");
        assert_string_equal(in[7].list[1], "443/udp");
        assert_string_equal(in[7].list[2], "22");
        assert_null(in[7].list[3]);
        assert_string_equal(in[8].value, "/root/app");
        assert_string_equal(in[9].value, "app:app");
        assert_string_equal(in[10].list[0], "/root/.cache");
        assert_string_equal(in[11].value, "SIGTERM");
        /* RUN: only the mount values; the command and other flags stay */
        const struct kiln_df_instruction *run = &in[12];
        assert_string_equal(kiln_df_flag_value(run, "mount"), "type=cache,target=/root/.cache,id=x");
        assert_string_equal(kiln_df_flag_value(run, "network"), "$U");
        assert_string_equal(run->cmdline[0], "echo $HOME");
        assert_string_equal(in[13].cmdline[0], "echo $HOME");
        assert_string_equal(in[14].arg_list[0].value, "app-1.2");
        assert_string_equal(in[14].arg_list[0].key, "Z");
        kiln_dockerfile_free(df);
}

static void test_expand_table(void **state)
{
        assert_true(kiln_df_cmd_expands(KILN_DF_ADD));
        assert_true(kiln_df_cmd_expands(KILN_DF_COPY));
        assert_true(kiln_df_cmd_expands(KILN_DF_ENV));
        assert_true(kiln_df_cmd_expands(KILN_DF_EXPOSE));
        assert_true(kiln_df_cmd_expands(KILN_DF_FROM));
        assert_true(kiln_df_cmd_expands(KILN_DF_LABEL));
        assert_true(kiln_df_cmd_expands(KILN_DF_STOPSIGNAL));
        assert_true(kiln_df_cmd_expands(KILN_DF_USER));
        assert_true(kiln_df_cmd_expands(KILN_DF_VOLUME));
        assert_true(kiln_df_cmd_expands(KILN_DF_WORKDIR));
        assert_true(kiln_df_cmd_expands(KILN_DF_ARG));
        assert_true(kiln_df_cmd_expands(KILN_DF_RUN));
        assert_false(kiln_df_cmd_expands(KILN_DF_ONBUILD));
        assert_false(kiln_df_cmd_expands(KILN_DF_CMD));
        assert_false(kiln_df_cmd_expands(KILN_DF_ENTRYPOINT));
        assert_false(kiln_df_cmd_expands(KILN_DF_SHELL));
        assert_false(kiln_df_cmd_expands(KILN_DF_HEALTHCHECK));
        assert_false(kiln_df_cmd_expands(KILN_DF_MAINTAINER));
        assert_string_equal(kiln_df_cmd_name(KILN_DF_HEALTHCHECK), "HEALTHCHECK");
        assert_null(kiln_df_cmd_name(KILN_DF__MAX));
}

static void test_expand_errors(void **state)
{
        struct kiln_dockerfile *df = parse_ok("FROM x\n\nWORKDIR ${X:?need X}\nENV a=\"b\nUSER ${U\n");
        struct kiln_error e = { 0 };
        assert_int_equal(kiln_df_expand(&df->instructions[1], '\\', NULL, lookup, NULL, &e), -KILN_EFORMAT);
        assert_string_equal(e.msg, "Dockerfile:3: failed to process \"${X:?need X}\": X: need X");
        assert_int_equal(kiln_df_expand(&df->instructions[2], '\\', "Containerfile", lookup, NULL, &e),
                         -KILN_EFORMAT);
        assert_string_equal(e.msg, "Containerfile:4: failed to process \"\\\"b\": unexpected end of statement while looking for matching double-quote");
        assert_int_equal(kiln_df_expand(&df->instructions[3], '\\', NULL, NULL, NULL, &e), -KILN_EFORMAT);
        assert_string_equal(e.msg, "Dockerfile:5: failed to process \"${U\": unsupported modifier (\xef\xbf\xbd) in substitution");
        kiln_dockerfile_free(df);

        /* the escape directive applies to expansion */
        df = parse_ok("# escape=`\nFROM x\nWORKDIR c:\\a`$U\n");
        assert_int_equal(kiln_df_expand(&df->instructions[1], df->escape, NULL, lookup, NULL, &e), 0);
        assert_string_equal(df->instructions[1].value, "c:\\a$U");
        kiln_dockerfile_free(df);
}

static void test_mount_fields(void **state)
{
        static const struct {
                const char *in;
                const char *out[5]; /* {"!"}: an error */
        } t[] = {
                { "type=cache,target=/x", { "type=cache", "target=/x" } },
                { "Type=Bind,Source=$U,ro", { "type=Bind", "source=app", "ro" } },
                { "type=bind,\"source=a,b\",ro", { "type=bind", "source=a,b", "ro" } },
                { "\"a\"\"b\",c", { "a\"b", "c" } },
                { "target=${DIR}/sub", { "target=/root/.cache/sub" } },
                { "a,,b", { "a", "", "b" } },
                { "", { NULL } },
                { "a\"b", { "!" } },
                { "\"ab", { "!" } },
                { "\"a\"b", { "!" } },
                { "target=${X:?}", { "!" } },
        };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(t); i++) {
                char **f = NULL;
                struct kiln_error e = { 0 };
                int r = kiln_df_mount_fields(t[i].in, '\\', lookup, NULL, &f, &e);
                if (t[i].out[0] && strcmp(t[i].out[0], "!") == 0) {
                        assert_int_equal(r, -KILN_EFORMAT);
                        continue;
                }
                if (r < 0)
                        fail_msg("case %zu: %s", i, e.msg);
                size_t n = 0;
                while (t[i].out[n])
                        n++;
                assert_int_equal(kiln_strv_len(f), n);
                for (size_t k = 0; k < n; k++)
                        assert_string_equal(f[k], t[i].out[k]);
                kiln_strv_free(f);
        }
        /* without a lookup values are left as written */
        char **f = NULL;
        assert_int_equal(kiln_df_mount_fields("target=$U", '\\', NULL, NULL, &f, NULL), 0);
        assert_string_equal(f[0], "target=$U");
        kiln_strv_free(f);
}

static void test_durations(void **state)
{
        static const struct {
                const char *in;
                int64_t ns;
                bool ok;
        } t[] = {
                { "0", 0, true }, { "1h30m", 5400000000000LL, true }, { "1.5s", 1500000000LL, true },
                { "300ms", 300000000LL, true }, { "-1s", -1000000000LL, true }, { "+2m", 120000000000LL, true },
                { ".5s", 500000000LL, true }, { "1.s", 1000000000LL, true }, { "1\xc2\xb5s", 1000LL, true },
                { "1\xce\xbcs", 1000LL, true }, { "2us", 2000LL, true }, { "7ns", 7LL, true },
                { "1h1m1s1ms1us1ns", 3661001001001LL, true }, { "2562047h47m16.854775807s", INT64_MAX, true },
                { "", 0, false }, { "1", 0, false }, { "s", 0, false }, { ".s", 0, false },
                { "1d", 0, false }, { "1s2", 0, false }, { "-", 0, false }, { "9999999999h", 0, false },
                { "3000000h", 0, false },
        };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(t); i++) {
                int64_t ns = -42;
                int r = kiln_go_parse_duration(t[i].in, &ns, NULL);
                if (t[i].ok) {
                        if (r < 0 || ns != t[i].ns)
                                fail_msg("case %zu %s: got %d %lld", i, t[i].in, r, (long long)ns);
                } else if (r >= 0) {
                        fail_msg("case %zu %s: parsed as %lld", i, t[i].in, (long long)ns);
                }
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_table),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_error_limits),
                cmocka_unit_test(test_directives_and_lines),
                cmocka_unit_test(test_stages),
                cmocka_unit_test(test_typed),
                cmocka_unit_test(test_heredocs),
                cmocka_unit_test(test_heredoc_sources),
                cmocka_unit_test(test_expand),
                cmocka_unit_test(test_expand_table),
                cmocka_unit_test(test_expand_errors),
                cmocka_unit_test(test_mount_fields),
                cmocka_unit_test(test_durations),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
