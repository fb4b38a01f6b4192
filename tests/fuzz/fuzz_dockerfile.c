/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for lib/build: parse the input as a Dockerfile, then
 * expand every instruction and run the shell lexer over every argument,
 * flag value and heredoc body in all its modes. Beyond "no crash, no leak":
 * a failure always says why and leaves no result, line ranges are sane.
 */
#include <stdint.h>
#include <string.h>
#include "kiln/dockerfile.h"

static bool lookup(void *userdata, const char *name, const char **ret)
{
        static const char *const env[][2] = {
                { "A", "a" }, { "SP", "x  y" }, { "E", "" }, { "P", "/usr/local/bin" },
                { "Q", "'\"$\\`" }, { "STAR", "*?*" }, { "NL", "a\nb" },
        };
        for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
                if (strcmp(env[i][0], name) == 0) {
                        *ret = env[i][1];
                        return true;
                }
        /* the input itself may name a variable: give it its own name */
        if (userdata && strcmp(name, (const char *)userdata) == 0) {
                *ret = name;
                return true;
        }
        return false;
}

static void lex_all(const char *s, char escape)
{
        /* each switch alone, none, all, and no lookup */
        static const unsigned modes[] = { 0, 1, 2, 4, 8, 15, 16, 31 };
        for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
                unsigned mode = modes[m];
                struct kiln_shell sh = {
                        .escape = escape,
                        .raw_quotes = mode & 1,
                        .raw_escapes = mode & 2,
                        .skip_process_quotes = mode & 4,
                        .skip_unset = mode & 8,
                        .lookup = (mode & 16) ? NULL : lookup,
                };
                struct kiln_error e = { 0 };
                char *w = NULL;
                if (kiln_shell_word(&sh, s, &w, &e) < 0) {
                        if (!e.msg[0] || w)
                                __builtin_trap();
                } else {
                        free(w);
                }
                char **v = NULL;
                if (kiln_shell_words(&sh, s, &v, NULL) == 0) {
                        if (!v)
                                __builtin_trap();
                        kiln_strv_free(v);
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct kiln_dockerfile *df = NULL;
        struct kiln_error err = { 0 };
        if (kiln_dockerfile_parse((const char *)data, size, NULL, &df, &err) < 0) {
                if (!err.msg[0] || df)
                        __builtin_trap();
                /* still exercise the lexer on the raw text, a line at a time */
                char *s = kiln_xstrndup((const char *)data, size < 1024 ? size : 1024);
                lex_all(s, '\\');
                free(s);
                return 0;
        }
        for (size_t i = 0; i < df->n_instructions; i++) {
                struct kiln_df_instruction *in = &df->instructions[i];
                if (in->start_line < 1 || in->end_line < in->start_line || !in->args || !in->original)
                        __builtin_trap();
                for (char **a = in->args; *a; a++) {
                        lex_all(*a, df->escape);
                        char **f = NULL;
                        if (kiln_df_mount_fields(*a, df->escape, lookup, NULL, &f, NULL) == 0)
                                kiln_strv_free(f);
                }
                for (size_t k = 0; k < in->n_flags; k++)
                        if (in->flags[k].value)
                                lex_all(in->flags[k].value, df->escape);
                for (size_t k = 0; k < in->n_heredocs; k++)
                        if (strlen(in->heredocs[k].content) < 4096)
                                lex_all(in->heredocs[k].content, '\\');
                const char **ex = kiln_df_flag_values(in, "exclude");
                free(ex);
                (void)kiln_df_flag_bool(in, "link");
                (void)kiln_df_cmd_expands(in->cmd);
                struct kiln_error e = { 0 };
                const char *name = in->args[0] ? in->args[0] : "";
                if (kiln_df_expand(in, df->escape, NULL, lookup, (void *)name, &e) < 0 && !e.msg[0])
                        __builtin_trap();
        }
        for (size_t s = 0; s < df->n_stages; s++)
                if (df->stages[s].first + df->stages[s].count > df->n_instructions)
                        __builtin_trap();
        kiln_dockerfile_free(df);
        return 0;
}
