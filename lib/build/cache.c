/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The build cache's step keys. A step's key is sha256 of its parent's key
 * (or of the base image's manifest digest), the instruction after
 * expansion with its flags, and what it reads: the content hash of COPY/ADD
 * sources (kiln_buildctx_hash: no mtimes), the source stage's key for
 * --from, the config and ARGs a RUN sees. The executor (executor.c, "build
 * cache" section) looks keys up in the store's build_cache table. See
 * docs/internals/build.md ("Cache").
 */
#include <string.h>
#include "build-internal.h"
#include "kiln/buildctx.h"
#include "kiln/digest.h"
#include "kiln/dockerfile.h"

char *bcache_key(const char *parent, const char *what)
{
        struct kiln_buf b = KILN_BUF_INIT;
        kiln_buf_printf(&b, "kiln-build-cache-v1\n%s\n%s", parent ? parent : "", what);
        struct kiln_digest d;
        kiln_digest_buf(KILN_DIGEST_SHA256, b.data, b.len, &d);
        kiln_buf_free(&b);
        return kiln_xstrdup(d.str);
}

/* a length-prefixed string, so that no two sequences serialize alike */
static void put(struct kiln_buf *b, const char *tag, const char *s)
{
        if (!s)
                kiln_buf_printf(b, "%s:-\n", tag);
        else
                kiln_buf_printf(b, "%s:%zu:%s\n", tag, strlen(s), s);
}

static void put_strv(struct kiln_buf *b, const char *tag, char *const *v)
{
        if (!v) {
                kiln_buf_printf(b, "%s:none\n", tag);
                return;
        }
        size_t n = 0;
        while (v[n])
                n++;
        kiln_buf_printf(b, "%s:%zu\n", tag, n);
        for (size_t i = 0; i < n; i++)
                put(b, "-", v[i]);
}

void bcache_instruction_text(struct kiln_buf *b, const struct kiln_df_instruction *in)
{
        put(b, "cmd", kiln_df_cmd_name(in->cmd));
        for (size_t k = 0; k < in->n_flags; k++) {
                put(b, "flag", in->flags[k].name);
                put(b, "=", in->flags[k].value);
        }
        put_strv(b, "cmdline", in->cmdline);
        kiln_buf_printf(b, "shell:%d json:%d\n", in->prepend_shell, in->json);
        for (size_t k = 0; k < in->n_kvs; k++) {
                put(b, "key", in->kvs[k].key);
                put(b, "value", in->kvs[k].value);
        }
        for (size_t k = 0; k < in->n_arg_list; k++) {
                put(b, "arg", in->arg_list[k].key);
                put(b, "default", in->arg_list[k].value);
        }
        put_strv(b, "sources", in->sources);
        put(b, "dest", in->dest);
        put(b, "value", in->value);
        put_strv(b, "list", in->list);
        put(b, "expression", in->expression);
        if (in->health) {
                const struct kiln_df_health *h = in->health;
                put_strv(b, "health", h->test);
                kiln_buf_printf(b, "%lld %lld %lld %lld %d\n", (long long)h->interval_ns, (long long)h->timeout_ns,
                                (long long)h->start_period_ns, (long long)h->start_interval_ns, h->retries);
        }
        for (size_t k = 0; k < in->n_heredocs; k++) {
                put(b, "heredoc", in->heredocs[k].name);
                put(b, "body", in->heredocs[k].content);
                kiln_buf_printf(b, "%llu %d %d\n", (unsigned long long)in->heredocs[k].fd, in->heredocs[k].expand,
                                in->heredocs[k].chomp);
        }
}

int bcache_sources_hash(const struct kiln_buildctx *ctx, char *const *patterns, char out[72])
{
        char **paths = NULL;
        int r = 0;
        for (size_t k = 0; patterns && patterns[k]; k++) {
                char **m = NULL;
                r = kiln_buildctx_glob(ctx, patterns[k], 0, &m, NULL);
                if (r < 0)
                        break;
                for (size_t i = 0; m[i]; i++)
                        kiln_strv_push(&paths, m[i]);
                kiln_strv_free(m);
        }
        if (r >= 0 && !paths)
                r = -ENOENT;
        if (r >= 0)
                r = kiln_buildctx_hash(ctx, paths, out, NULL);
        kiln_strv_free(paths);
        return r;
}
