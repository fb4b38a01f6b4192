/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which parts of which instruction BuildKit expands, and the expansion of
 * a parsed instruction in place (dockerfile2llb's dispatch: Expand() with
 * ProcessWord, ExpandRaw() for heredoc sources, ProcessWords for EXPOSE),
 * plus RUN --mount's CSV fields.
 */
#include <string.h>
#include "build-internal.h"
#include "kiln/dockerfile.h"

bool kiln_df_cmd_expands(enum kiln_df_cmd cmd)
{
        switch (cmd) {
        case KILN_DF_ADD: case KILN_DF_ARG: case KILN_DF_COPY: case KILN_DF_ENV:
        case KILN_DF_EXPOSE: case KILN_DF_FROM: case KILN_DF_LABEL: case KILN_DF_RUN:
        case KILN_DF_STOPSIGNAL: case KILN_DF_USER: case KILN_DF_VOLUME: case KILN_DF_WORKDIR:
                return true;
        default:
                return false;
        }
}

static bool unset_all(void *userdata, const char *name, const char **ret)
{
        return false;
}

struct ctx {
        struct kiln_shell sh;
        const char *filename;
        unsigned line;
        struct kiln_error *err;
};

static int located(struct ctx *c, int r, struct kiln_error *e)
{
        return kiln_err(c->err, r, "%s:%u: %s", c->filename, c->line, e->msg);
}

/* expand *s in place with ProcessWord */
static int word(struct ctx *c, const struct kiln_shell *sh, char **s)
{
        if (!*s)
                return 0;
        struct kiln_error e = { 0 };
        char *out = NULL;
        int r = kiln_shell_word(sh, *s, &out, &e);
        if (r < 0)
                return located(c, r, &e);
        free(*s);
        *s = out;
        return 0;
}

static int flag_words(struct ctx *c, struct kiln_df_instruction *in, const char *name)
{
        for (size_t i = 0; i < in->n_flags; i++) {
                if (strcmp(in->flags[i].name, name) != 0 || !in->flags[i].value)
                        continue;
                int r = word(c, &c->sh, &in->flags[i].value);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* encoding/csv: one record, ',' separated, RFC 4180 quotes, no lazy quotes */
static int csv_fields(const char *s, char ***ret, struct kiln_error *err)
{
        char **v = kiln_xcalloc(1, sizeof(char *));
        if (!*s) {
                *ret = v;
                return 0;
        }
        for (;;) {
                struct kiln_buf f = KILN_BUF_INIT;
                if (*s == '"') {
                        s++;
                        for (;;) {
                                if (!*s)
                                        goto bad_quote;
                                if (*s == '"') {
                                        if (s[1] == '"') {
                                                kiln_buf_puts(&f, "\"");
                                                s += 2;
                                                continue;
                                        }
                                        s++;
                                        if (*s && *s != ',')
                                                goto bad_quote;
                                        break;
                                }
                                kiln_buf_append(&f, s++, 1);
                        }
                } else {
                        const char *e = s;
                        while (*e && *e != ',') {
                                if (*e == '"') {
                                        kiln_buf_free(&f);
                                        kiln_strv_free(v);
                                        return kiln_err(err, -KILN_EFORMAT,
                                                        "failed to parse csv mounts: bare \" in non-quoted-field");
                                }
                                e++;
                        }
                        kiln_buf_append(&f, s, (size_t)(e - s));
                        s = e;
                }
                kiln_strv_push_take(&v, kiln_buf_steal(&f));
                if (!*s)
                        break;
                s++; /* the ',' */
                continue;
        bad_quote:
                kiln_buf_free(&f);
                kiln_strv_free(v);
                return kiln_err(err, -KILN_EFORMAT,
                                "failed to parse csv mounts: extraneous or missing \" in quoted-field");
        }
        *ret = v;
        return 0;
}

int kiln_df_mount_fields(const char *mount, char escape, kiln_shell_lookup_fn lookup,
                         void *userdata, char ***ret, struct kiln_error *err)
{
        char **fields = NULL;
        int r = csv_fields(mount, &fields, err);
        if (r < 0)
                return r;
        struct kiln_shell sh = { .escape = escape, .lookup = lookup, .userdata = userdata };
        for (char **f = fields; *f; f++) {
                char *eq = strchr(*f, '=');
                size_t kl = eq ? (size_t)(eq - *f) : strlen(*f);
                for (size_t i = 0; i < kl; i++)
                        if ((*f)[i] >= 'A' && (*f)[i] <= 'Z')
                                (*f)[i] = (char)((*f)[i] - 'A' + 'a');
                if (!eq || !lookup)
                        continue;
                char *val = NULL;
                r = kiln_shell_word(&sh, eq + 1, &val, err);
                if (r < 0) {
                        kiln_strv_free(fields);
                        return r;
                }
                char *nf = kiln_xasprintf("%.*s=%s", (int)kl, *f, val);
                free(val);
                free(*f);
                *f = nf;
        }
        *ret = fields;
        return 0;
}

/* write the fields back as one CSV record */
static char *csv_join(char **fields)
{
        struct kiln_buf b = KILN_BUF_INIT;
        for (char **f = fields; *f; f++) {
                if (f != fields)
                        kiln_buf_puts(&b, ",");
                if (strpbrk(*f, ",\"\r\n") || (**f == ' ')) {
                        kiln_buf_puts(&b, "\"");
                        for (const char *c = *f; *c; c++) {
                                if (*c == '"')
                                        kiln_buf_puts(&b, "\"");
                                kiln_buf_append(&b, c, 1);
                        }
                        kiln_buf_puts(&b, "\"");
                } else {
                        kiln_buf_puts(&b, *f);
                }
        }
        return kiln_buf_steal(&b);
}

int kiln_df_expand(struct kiln_df_instruction *in, char escape, const char *filename,
                   kiln_shell_lookup_fn lookup, void *userdata, struct kiln_error *err)
{
        struct ctx c = {
                .sh = { .escape = escape ? escape : '\\', .lookup = lookup, .userdata = userdata },
                .filename = filename ? filename : "Dockerfile",
                .line = in->start_line,
                .err = err,
        };
        int r = 0;
        switch (in->cmd) {
        case KILN_DF_ENV:
        case KILN_DF_LABEL:
                for (size_t i = 0; i < in->n_kvs && r >= 0; i++) {
                        r = word(&c, &c.sh, &in->kvs[i].key);
                        if (r >= 0)
                                r = word(&c, &c.sh, &in->kvs[i].value);
                }
                return r;
        case KILN_DF_ARG:
                for (size_t i = 0; i < in->n_arg_list && r >= 0; i++)
                        r = word(&c, &c.sh, &in->arg_list[i].value);
                return r;
        case KILN_DF_ADD:
        case KILN_DF_COPY: {
                if ((r = flag_words(&c, in, "chown")) < 0 || (r = flag_words(&c, in, "chmod")) < 0)
                        return r;
                if (in->cmd == KILN_DF_ADD && (r = flag_words(&c, in, "checksum")) < 0)
                        return r;
                for (char **s = in->sources; s && *s; s++)
                        if ((r = word(&c, &c.sh, s)) < 0)
                                return r;
                if ((r = word(&c, &c.sh, &in->dest)) < 0)
                        return r;
                struct kiln_shell raw = c.sh;
                raw.escape = '\\';
                raw.skip_process_quotes = true;
                for (size_t i = 0; i < in->n_inline_sources; i++) {
                        struct kiln_df_heredoc *h = in->inline_sources[i];
                        if (!h->expand)
                                continue;
                        /* one heredoc may be named twice: expand it once */
                        bool seen = false;
                        for (size_t k = 0; k < i; k++)
                                seen = seen || in->inline_sources[k] == h;
                        if (!seen && (r = word(&c, &raw, &h->content)) < 0)
                                return r;
                }
                return 0;
        }
        case KILN_DF_EXPOSE: {
                char **out = kiln_xcalloc(1, sizeof(char *));
                for (char **p = in->list; p && *p; p++) {
                        struct kiln_error e = { 0 };
                        char **w = NULL;
                        r = kiln_shell_words(&c.sh, *p, &w, &e);
                        if (r < 0) {
                                kiln_strv_free(out);
                                return located(&c, r, &e);
                        }
                        for (char **x = w; *x; x++)
                                kiln_strv_push(&out, *x);
                        kiln_strv_free(w);
                }
                kiln_strv_free(in->list);
                in->list = out;
                return 0;
        }
        case KILN_DF_FROM:
                if ((r = word(&c, &c.sh, &in->base)) < 0)
                        return r;
                return flag_words(&c, in, "platform");
        case KILN_DF_USER:
        case KILN_DF_WORKDIR:
        case KILN_DF_STOPSIGNAL:
                return word(&c, &c.sh, &in->value);
        case KILN_DF_VOLUME:
                for (char **p = in->list; p && *p; p++)
                        if ((r = word(&c, &c.sh, p)) < 0)
                                return r;
                return 0;
        case KILN_DF_RUN:
                for (size_t i = 0; i < in->n_flags; i++) {
                        if (strcmp(in->flags[i].name, "mount") != 0 || !in->flags[i].value)
                                continue;
                        struct kiln_error e = { 0 };
                        char **fields = NULL;
                        r = kiln_df_mount_fields(in->flags[i].value, c.sh.escape,
                                                 lookup ? lookup : unset_all, userdata, &fields, &e);
                        if (r < 0)
                                return located(&c, r, &e);
                        free(in->flags[i].value);
                        in->flags[i].value = csv_join(fields);
                        kiln_strv_free(fields);
                }
                return 0;
        default:
                return 0;
        }
}
