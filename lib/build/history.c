/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build: the created_by of history entries. buildah (imagebuilder's
 * StageExecutor.getCreatedBy) is the reference: metadata steps are
 * "/bin/sh -c #(nop) " + the original line, RUN "/bin/sh -c " + the line
 * after its keyword with the "|N K=V" prefix of the stage's build args, ARG
 * the names of the stage's args. COPY/ADD stay in executor.c.
 */
#include <stdlib.h>
#include <string.h>
#include "kiln/base.h"
#include "build-internal.h"
#include "history.h"

/* the logical line without its leading blanks */
static const char *original(const struct kiln_df_instruction *in)
{
        const char *o = in->original ? in->original : "";
        while (*o == ' ' || *o == '\t')
                o++;
        return o;
}

char *build_history_nop(const struct kiln_df_instruction *in)
{
        return kiln_xasprintf("/bin/sh -c #(nop) %s", original(in));
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the sorted "K" (or "K=V") strings of args with a value */
static char **args_sorted(json_t *args, json_t *env, bool values)
{
        char **v = NULL;
        size_t n = 0;
        const char *key;
        json_t *val;
        json_object_foreach(args, key, val) {
                if (!json_is_string(val))
                        continue;
                const char *s = json_string_value(val);
                size_t kl = strlen(key), i;
                json_t *e;
                json_array_foreach(env, i, e) { /* a value in the image's Env wins */
                        const char *es = json_string_value(e);
                        if (es && !strncmp(es, key, kl) && es[kl] == '=') {
                                s = es + kl + 1;
                                break;
                        }
                }
                v = kiln_xrealloc(v, (n + 2) * sizeof(*v));
                v[n++] = values ? kiln_xasprintf("%s=%s", key, s) : kiln_xstrdup(key);
                v[n] = NULL;
        }
        if (n)
                qsort(v, n, sizeof(*v), cmp_str);
        return v;
}

static void join(struct kiln_buf *b, char **v)
{
        for (size_t k = 0; v && v[k]; k++)
                kiln_buf_printf(b, "%s%s", k ? " " : "", v[k]);
}

char *build_history_arg(json_t *args)
{
        _cleanup_strv_free_ char **v = args_sorted(args, NULL, false);
        struct kiln_buf b = KILN_BUF_INIT;
        kiln_buf_puts(&b, "/bin/sh -c #(nop) ARG ");
        join(&b, v);
        return kiln_buf_steal(&b);
}

char *build_history_run(const struct kiln_df_instruction *in, json_t *args, json_t *env)
{
        _cleanup_strv_free_ char **v = args_sorted(args, env, true);
        struct kiln_buf b = KILN_BUF_INIT;
        if (v && v[0]) {
                size_t n = 0;
                while (v[n])
                        n++;
                kiln_buf_printf(&b, "|%zu ", n);
                join(&b, v);
                kiln_buf_puts(&b, " ");
        }
        /* imagebuilder cuts "RUN " (four bytes) off the original line */
        const char *o = original(in);
        size_t skip = strlen(in->keyword ? in->keyword : "RUN") + 1;
        o = strlen(o) > skip ? o + skip : "";
        kiln_buf_printf(&b, "/bin/sh -c %s", o);
        return kiln_buf_steal(&b);
}

char *build_history_label(const char *key, const char *value)
{
        struct kiln_buf b = KILN_BUF_INIT;
        kiln_buf_puts(&b, "/bin/sh -c #(nop) LABEL ");
        go_quote(&b, key);
        kiln_buf_puts(&b, "=");
        go_quote(&b, value);
        return kiln_buf_steal(&b);
}
