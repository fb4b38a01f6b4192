/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: lib/build/history.c, created_by as buildah writes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "kiln/dockerfile.h"
#include "../../../lib/build/history.h"

/* instruction k of a parsed Dockerfile */
static struct kiln_dockerfile *parse(const char *text)
{
        struct kiln_dockerfile *df = NULL;
        struct kiln_error err = { 0 };
        assert_int_equal(kiln_dockerfile_parse(text, strlen(text), "Dockerfile", &df, &err), 0);
        return df;
}

static void nop_is_the_line_as_written(void **state)
{
        (void)state;
        struct kiln_dockerfile *df = parse("FROM x\nENV A=b C=\"d e\" \\\n    F=g\\ h\n  workdir $X/sub\n"
                                           "CMD [\"a\", \"b\"]\n");
        const char *want[] = { "/bin/sh -c #(nop) ENV A=b C=\"d e\"     F=g\\ h", "/bin/sh -c #(nop) workdir $X/sub",
                               "/bin/sh -c #(nop) CMD [\"a\", \"b\"]" };
        for (size_t k = 0; k < 3; k++) {
                char *s = build_history_nop(&df->instructions[k + 1]);
                assert_string_equal(s, want[k]);
                free(s);
        }
        kiln_dockerfile_free(df);
}

static void arg_names_the_args_with_values(void **state)
{
        (void)state;
        json_t *args = json_pack("{s:s, s:n, s:s}", "ZED", "1", "NOVALUE", "ALPHA", "");
        char *s = build_history_arg(args);
        assert_string_equal(s, "/bin/sh -c #(nop) ARG ALPHA ZED");
        free(s);
        json_decref(args);
        args = json_object();
        s = build_history_arg(args);
        assert_string_equal(s, "/bin/sh -c #(nop) ARG ");
        free(s);
        json_decref(args);
}

static void run_has_the_args_prefix(void **state)
{
        (void)state;
        struct kiln_dockerfile *df = parse("FROM x\nRUN --network=none echo $A\nRUN [\"/bin/echo\", \"x\"]\n");
        json_t *args = json_pack("{s:s, s:s, s:n}", "B", "arg", "A", "1", "C");
        json_t *env = json_pack("[s, s]", "PATH=/bin", "B=env");
        char *s = build_history_run(&df->instructions[1], args, env);
        assert_string_equal(s, "|2 A=1 B=env /bin/sh -c --network=none echo $A");
        free(s);
        json_t *none = json_object();
        s = build_history_run(&df->instructions[2], none, NULL);
        assert_string_equal(s, "/bin/sh -c [\"/bin/echo\", \"x\"]");
        free(s);
        json_decref(none);
        json_decref(args);
        json_decref(env);
        kiln_dockerfile_free(df);
}

static void label_is_go_quoted(void **state)
{
        (void)state;
        char *s = build_history_label("from.cli", "a \"b\"");
        assert_string_equal(s, "/bin/sh -c #(nop) LABEL \"from.cli\"=\"a \\\"b\\\"\"");
        free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(nop_is_the_line_as_written),
                cmocka_unit_test(arg_names_the_args_with_values),
                cmocka_unit_test(run_has_the_args_prefix),
                cmocka_unit_test(label_is_go_quoted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
