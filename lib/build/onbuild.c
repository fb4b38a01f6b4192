/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build: ONBUILD. The triggers stored in a base image's config fire
 * when a stage is built FROM it: right after FROM, in order, each parsed
 * again from its text (the parser needs a FROM line in front), expanded in
 * the stage's scope and dispatched as if written there; the new image's
 * config does not keep them. See docs/internals/build.md ("Executor").
 */
#include <string.h>
#include "onbuild.h"

int build_onbuild_parse(json_t *triggers, struct kiln_dockerfile **ret_df, struct kiln_error *err)
{
        struct kiln_buf buf = KILN_BUF_INIT;
        kiln_buf_puts(&buf, "FROM scratch\n");
        size_t i, n = 0;
        json_t *t;
        json_array_foreach(triggers, i, t) {
                const char *s = json_string_value(t);
                if (!s)
                        continue;
                kiln_buf_printf(&buf, "%s\n", s);
                n++;
        }
        _cleanup_free_ char *text = kiln_buf_steal(&buf);
        struct kiln_dockerfile *df = NULL;
        struct kiln_error perr = { 0 };
        int r = kiln_dockerfile_parse(text, strlen(text), "ONBUILD", &df, &perr);
        if (r < 0) {
                r = kiln_err(err, r, "ONBUILD triggers: %s", perr.msg);
                kiln_error_clear(&perr);
                return r;
        }
        if (df->n_stages != 1 || df->n_instructions != n + 1) {
                for (size_t k = 1; k < df->n_instructions; k++)
                        if (df->instructions[k].cmd == KILN_DF_FROM) {
                                r = kiln_err(err, -KILN_EFORMAT, "ONBUILD trigger %s: FROM is not allowed",
                                             df->instructions[k].original);
                                kiln_dockerfile_free(df);
                                return r;
                        }
                kiln_dockerfile_free(df);
                return kiln_err(err, -KILN_EFORMAT, "ONBUILD triggers: %zu triggers parsed as another count", n);
        }
        for (size_t k = 1; k < df->n_instructions; k++) {
                enum kiln_df_cmd c = df->instructions[k].cmd;
                if (c == KILN_DF_ONBUILD || c == KILN_DF_MAINTAINER) {
                        r = kiln_err(err, -KILN_EFORMAT, "ONBUILD trigger %s: %s is not allowed",
                                     df->instructions[k].original, kiln_df_cmd_name(c));
                        kiln_dockerfile_free(df);
                        return r;
                }
        }
        *ret_df = df;
        return 0;
}
