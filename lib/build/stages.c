/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build: the stage graph, made before anything runs so that stages
 * that do not need each other can be built at once (parallel.c). It
 * follows what the executor resolves (executor.c): FROM with the global
 * ARGs, COPY/ADD --from as written, RUN --mount from= expanded with the
 * stage's scope. See docs/internals/build.md ("Stages in parallel").
 */
#include <string.h>
#include "stages.h"

int build_find_stage(const struct kiln_dockerfile *df, const char *name, size_t before)
{
        for (size_t i = 0; i < before && i < df->n_stages; i++)
                if (df->stages[i].name && !strcasecmp(df->stages[i].name, name))
                        return (int)i;
        char *end;
        errno = 0;
        unsigned long n = strtoul(name, &end, 10);
        if (*name && !*end && !errno && n < before && n < df->n_stages)
                return (int)n;
        return -1;
}

/* A stage's variables as the Dockerfile shows them: ENV first, then ARG
 * (as the executor's stage_lookup). */
struct scope {
        json_t *env;
        json_t *args;
};

static bool scope_lookup(void *ud, const char *name, const char **ret)
{
        struct scope *sc = ud;
        const char *v = json_string_value(json_object_get(sc->env, name));
        if (!v)
                v = json_string_value(json_object_get(sc->args, name));
        if (!v)
                return false;
        *ret = v;
        return true;
}

static bool meta_lookup(void *ud, const char *name, const char **ret)
{
        const char *v = json_string_value(json_object_get(ud, name));
        if (!v)
                return false;
        *ret = v;
        return true;
}

static char *expand_word(const struct kiln_dockerfile *df, const char *word, kiln_shell_lookup_fn lookup, void *ud)
{
        struct kiln_shell sh = { .escape = df->escape, .lookup = lookup, .userdata = ud };
        char *out = NULL;
        if (kiln_shell_word(&sh, word, &out, NULL) < 0)
                return NULL;
        return out;
}

static void add_dep(const struct kiln_dockerfile *df, struct build_graph *g, size_t i, const char *name)
{
        int j = name ? build_find_stage(df, name, i) : -1;
        if (j >= 0)
                g->dep[i * g->n + (size_t)j] = true;
}

/* ARG: --build-arg, else the default (expanded), else the global value
 * (as the executor's declare_args) */
static void scope_arg(const struct kiln_dockerfile *df, struct scope *sc, const struct kiln_df_instruction *in,
                      json_t *meta_args, json_t *build_args)
{
        for (size_t k = 0; k < in->n_arg_list; k++) {
                const struct kiln_df_arg *a = &in->arg_list[k];
                json_t *v = json_object_get(build_args, a->key);
                char *dflt = a->value ? expand_word(df, a->value, scope_lookup, sc) : NULL;
                if (v)
                        json_object_set(sc->args, a->key, v);
                else if (dflt)
                        json_object_set_new(sc->args, a->key, json_string(dflt));
                else if (json_is_string(json_object_get(meta_args, a->key)))
                        json_object_set(sc->args, a->key, json_object_get(meta_args, a->key));
                else
                        json_object_set_new(sc->args, a->key, json_null());
                free(dflt);
        }
}

static void scope_env(const struct kiln_dockerfile *df, struct scope *sc, const struct kiln_df_instruction *in)
{
        /* all values of one ENV are expanded with the scope before it */
        json_t *add = json_object();
        for (size_t k = 0; k < in->n_kvs; k++) {
                char *key = expand_word(df, in->kvs[k].key, scope_lookup, sc);
                char *val = expand_word(df, in->kvs[k].value, scope_lookup, sc);
                if (key && val)
                        json_object_set_new(add, key, json_string(val));
                free(key);
                free(val);
        }
        json_object_update(sc->env, add);
        json_decref(add);
}

static void mount_deps(const struct kiln_dockerfile *df, struct build_graph *g, size_t i,
                       const struct kiln_df_instruction *in, struct scope *sc)
{
        const char **mounts = kiln_df_flag_values(in, "mount");
        for (size_t k = 0; mounts && mounts[k]; k++) {
                char **f = NULL;
                if (kiln_df_mount_fields(mounts[k], df->escape, scope_lookup, sc, &f, NULL) < 0)
                        continue;
                for (size_t m = 0; f[m]; m++)
                        if (!strncmp(f[m], "from=", 5) && f[m][5])
                                add_dep(df, g, i, f[m] + 5);
                kiln_strv_free(f);
        }
        free(mounts);
}

void build_graph_make(const struct kiln_dockerfile *df, json_t *meta_args, json_t *build_args, size_t target,
                      struct build_graph *g)
{
        size_t n = df->n_stages;
        *g = (struct build_graph){
                .n = n,
                .dep = kiln_xcalloc(n * n + 1, sizeof(bool)),
                .reach = kiln_xcalloc(n * n + 1, sizeof(bool)),
                .needed = kiln_xcalloc(n + 1, sizeof(bool)),
        };
        json_t **envs = kiln_xcalloc(n + 1, sizeof(json_t *));
        for (size_t i = 0; i < n; i++) {
                const struct kiln_df_stage *ds = &df->stages[i];
                const struct kiln_df_instruction *fromin = &df->instructions[ds->from];
                struct scope sc = { .env = NULL, .args = json_object() };
                char *base = fromin->base ? expand_word(df, fromin->base, meta_lookup, meta_args) : NULL;
                int j = base ? build_find_stage(df, base, i) : -1;
                free(base);
                if (j >= 0) {
                        g->dep[i * n + (size_t)j] = true;
                        sc.env = json_deep_copy(envs[j]); /* an earlier stage's ENVs are inherited */
                } else {
                        sc.env = json_object();
                }
                for (size_t k = ds->first; k < ds->first + ds->count; k++) {
                        const struct kiln_df_instruction *in = &df->instructions[k];
                        switch (in->cmd) {
                        case KILN_DF_ARG:
                                scope_arg(df, &sc, in, meta_args, build_args);
                                break;
                        case KILN_DF_ENV:
                                scope_env(df, &sc, in);
                                break;
                        case KILN_DF_COPY:
                        case KILN_DF_ADD:
                                add_dep(df, g, i, kiln_df_flag_value(in, "from"));
                                break;
                        case KILN_DF_RUN:
                                mount_deps(df, g, i, in, &sc);
                                break;
                        default:
                                break;
                        }
                }
                envs[i] = sc.env;
                json_decref(sc.args);
        }
        for (size_t i = 0; i < n; i++)
                json_decref(envs[i]);
        free(envs);

        /* deps point to earlier stages only: one pass each way */
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < i; j++)
                        if (g->dep[i * n + j]) {
                                g->reach[i * n + j] = true;
                                for (size_t k = 0; k < j; k++)
                                        if (g->reach[j * n + k])
                                                g->reach[i * n + k] = true;
                        }
        if (target < n) {
                g->needed[target] = true;
                for (size_t j = 0; j < target; j++)
                        g->needed[j] = g->reach[target * n + j];
        }
}

void build_graph_free(struct build_graph *g)
{
        free(g->dep);
        free(g->reach);
        free(g->needed);
        *g = (struct build_graph){ 0 };
}

bool build_graph_parallel(const struct build_graph *g)
{
        for (size_t a = 0; a < g->n; a++)
                for (size_t b = a + 1; b < g->n; b++)
                        if (g->needed[a] && g->needed[b] && !g->reach[b * g->n + a])
                                return true;
        return false;
}

size_t build_graph_count(const struct build_graph *g)
{
        size_t c = 0;
        for (size_t i = 0; i < g->n; i++)
                c += g->needed[i];
        return c;
}
