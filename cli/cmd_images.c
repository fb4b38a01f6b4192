/* SPDX-License-Identifier: Apache-2.0 */
/* kiln images, tag, rmi, history, image prune. */
#include <fnmatch.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "kiln/image.h"
#include "kiln/reference.h"

/* Split a full name into familiar repository and tag (caller frees both). */
static void split_name(const char *full, char **ret_repo, char **ret_tag)
{
        _cleanup_(kiln_reference_freep) struct kiln_reference *ref = NULL;
        if (kiln_reference_parse(full, 0, &ref, NULL) < 0) {
                *ret_repo = kiln_xstrdup(full);
                *ret_tag = kiln_xstrdup("<none>");
                return;
        }
        *ret_repo = kiln_reference_familiar_repository(ref);
        *ret_tag = kiln_xstrdup(ref->tag ? ref->tag : "<none>");
}

static char *familiar(const char *full)
{
        _cleanup_(kiln_reference_freep) struct kiln_reference *ref = NULL;
        if (kiln_reference_parse(full, 0, &ref, NULL) < 0)
                return kiln_xstrdup(full);
        return kiln_reference_familiar(ref);
}

static char *short_id(const struct kiln_digest *d, bool no_trunc)
{
        if (no_trunc)
                return kiln_xstrdup(d->str);
        char id[16];
        kiln_digest_short(d, id, sizeof(id));
        return kiln_xstrdup(id);
}

json_t *cli_repo_digests(const struct kiln_image *img)
{
        json_t *a = json_array();
        for (size_t i = 0; i < img->n_names; i++) {
                _cleanup_free_ char *repo = NULL, *tag = NULL;
                split_name(img->names[i], &repo, &tag);
                _cleanup_free_ char *rd = kiln_xasprintf("%s@%s", repo, img->manifest_digest.str);
                bool dup = false;
                size_t j;
                json_t *e;
                json_array_foreach(a, j, e) if (!strcmp(json_string_value(e), rd)) dup = true;
                if (!dup)
                        json_array_append_new(a, json_string(rd));
        }
        return a;
}

struct images_filter {
        int dangling; /* -1 any, 0 tagged only, 1 untagged only */
        char **references;
};

static bool match_reference(const char *pattern, const char *full)
{
        _cleanup_free_ char *fam = familiar(full);
        _cleanup_free_ char *repo = NULL, *tag = NULL;
        split_name(full, &repo, &tag);
        /* as docker: the pattern is matched against the familiar name with
         * and without its tag; '*' does not cross '/' */
        return fnmatch(pattern, fam, FNM_PATHNAME) == 0 || fnmatch(pattern, repo, FNM_PATHNAME) == 0 ||
               fnmatch(pattern, full, FNM_PATHNAME) == 0;
}

int cmd_images(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "all", no_argument, NULL, 'a' },       { "digests", no_argument, NULL, 'D' },
                { "filter", required_argument, NULL, 'f' }, { "format", required_argument, NULL, 'F' },
                { "no-trunc", no_argument, NULL, 'N' },  { "quiet", no_argument, NULL, 'q' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("images");
        bool digests = false, no_trunc = false, quiet = false;
        const char *format = NULL;
        struct images_filter filter = { .dangling = -1 };
        _cleanup_strv_free_ char **refs = kiln_xcalloc(1, sizeof(char *));
        int c, ex;
        while ((c = cli_getopt(argc, argv, "af:q", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'a':
                        break;
                case 'D':
                        digests = true;
                        break;
                case 'N':
                        no_trunc = true;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'F':
                        format = optarg;
                        break;
                case 'f':
                        if (kiln_startswith(optarg, "dangling=")) {
                                bool b;
                                if (cli_parse_bool(optarg + 9, &b) < 0)
                                        return cli_usage_error("images", "invalid filter '%s'", optarg);
                                filter.dangling = b;
                        } else if (kiln_startswith(optarg, "reference=")) {
                                kiln_strv_push(&refs, optarg + 10);
                        } else {
                                return cli_usage_error("images",
                                                       "invalid filter '%s': use dangling= or reference=",
                                                       optarg);
                        }
                        break;
                }
        }
        if (argc - optind > 1)
                return cli_usage_error("images", "\"kiln images\" requires at most 1 argument");
        const char *repo_arg = optind < argc ? argv[optind] : NULL;
        _cleanup_free_ char *want_repo = NULL, *want_tag = NULL;
        if (repo_arg) {
                _cleanup_(kiln_reference_freep) struct kiln_reference *ref = NULL;
                struct kiln_error perr = { 0 };
                if (kiln_reference_parse(repo_arg, KILN_REF_NO_DIGEST, &ref, &perr) < 0)
                        return cli_fail("%s: %s", repo_arg, perr.msg);
                want_repo = kiln_reference_repository(ref);
                want_tag = ref->tag ? kiln_xstrdup(ref->tag) : NULL;
        }

        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        struct kiln_image **v;
        size_t n;
        r = kiln_store_image_list(store, &v, &n, &err);
        if (r < 0)
                return cli_fail_err(&err);

        bool json_out = format && !strcmp(format, "json");
        bool table = !format || !strcmp(format, "table") || kiln_startswith(format, "table ");
        const char *tmpl = format && kiln_startswith(format, "table ") ? format + 6 : NULL;
        if (format && !json_out && !table)
                tmpl = format;
        json_t *jarr = json_array();
        struct cli_table t;
        static const char *const hdr[] = { "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE" };
        static const char *const hdrd[] = { "REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED",
                                            "SIZE" };
        cli_table_init(&t, digests ? 6 : 5, digests ? hdrd : hdr);
        struct kiln_buf out = KILN_BUF_INIT;
        int64_t now = (int64_t)time(NULL);
        char **seen_ids = kiln_xcalloc(1, sizeof(char *));

        for (size_t i = 0; i < n; i++) {
                struct kiln_image *img = v[i];
                if (filter.dangling == 1 && img->n_names)
                        continue;
                if (filter.dangling == 0 && !img->n_names)
                        continue;
                char created[64], ago[64], size[32];
                kiln_format_rfc3339(img->created, created, sizeof(created));
                kiln_format_ago(img->created, now, ago, sizeof(ago));
                kiln_format_size(img->size, size, sizeof(size));
                _cleanup_free_ char *id = short_id(&img->config_digest, no_trunc);

                /* the rows: one per name, or one <none> row */
                size_t rows = img->n_names ? img->n_names : 1;
                json_t *names = json_array();
                bool any = false;
                for (size_t k = 0; k < rows; k++) {
                        const char *full = img->n_names ? img->names[k] : NULL;
                        _cleanup_free_ char *repo = NULL, *tag = NULL;
                        if (full)
                                split_name(full, &repo, &tag);
                        else {
                                repo = kiln_xstrdup("<none>");
                                tag = kiln_xstrdup("<none>");
                        }
                        if (want_repo) {
                                if (!full)
                                        continue;
                                _cleanup_(kiln_reference_freep) struct kiln_reference *ref = NULL;
                                if (kiln_reference_parse(full, 0, &ref, NULL) < 0)
                                        continue;
                                _cleanup_free_ char *rr = kiln_reference_repository(ref);
                                if (strcmp(rr, want_repo) || (want_tag && strcmp(want_tag, tag)))
                                        continue;
                        }
                        if (refs[0]) {
                                bool m = false;
                                for (size_t q = 0; refs[q] && full; q++)
                                        m = m || match_reference(refs[q], full);
                                if (!m)
                                        continue;
                        }
                        any = true;
                        if (full)
                                json_array_append_new(names, json_string(full));
                        if (quiet || json_out)
                                continue;
                        if (tmpl) {
                                json_t *o = json_object();
                                json_object_set_new(o, "ID", json_string(id));
                                json_object_set_new(o, "Repository", json_string(repo));
                                json_object_set_new(o, "Tag", json_string(tag));
                                json_object_set_new(o, "Digest", json_string(img->manifest_digest.str));
                                json_object_set_new(o, "CreatedSince", json_string(ago));
                                json_object_set_new(o, "CreatedAt", json_string(created));
                                json_object_set_new(o, "Size", json_string(size));
                                r = cli_format_template(tmpl, o, &out, &err);
                                json_decref(o);
                                if (r < 0)
                                        break;
                                kiln_buf_puts(&out, "\n");
                                continue;
                        }
                        if (digests) {
                                const char *cells[] = { repo, tag, img->manifest_digest.str, id, ago, size };
                                cli_table_add(&t, cells);
                        } else {
                                const char *cells[] = { repo, tag, id, ago, size };
                                cli_table_add(&t, cells);
                        }
                }
                if (!any || r < 0) {
                        json_decref(names);
                        if (r < 0)
                                break;
                        continue;
                }
                if (quiet) {
                        bool dup = false;
                        for (char **s = seen_ids; *s; s++)
                                dup = dup || !strcmp(*s, id);
                        if (!dup) {
                                kiln_buf_printf(&out, "%s\n", id);
                                kiln_strv_push(&seen_ids, id);
                        }
                }
                if (json_out) {
                        json_t *o = json_object();
                        json_object_set_new(o, "Id", json_string(img->config_digest.str));
                        json_object_set_new(o, "ParentId", json_string(""));
                        json_t *tags = json_array();
                        size_t q;
                        json_t *e;
                        json_array_foreach(names, q, e)
                        {
                                char *f = familiar(json_string_value(e));
                                json_array_append_new(tags, json_string(f));
                                free(f);
                        }
                        json_object_set_new(o, "RepoTags", tags);
                        json_object_set_new(o, "RepoDigests", cli_repo_digests(img));
                        json_object_set_new(o, "Names", json_incref(names));
                        json_object_set_new(o, "Digest", json_string(img->manifest_digest.str));
                        json_object_set_new(o, "Size", json_integer(img->size));
                        json_object_set_new(o, "Created", json_integer(img->created));
                        json_object_set_new(o, "CreatedAt", json_string(created));
                        json_object_set_new(o, "Dangling", json_boolean(img->n_names == 0));
                        json_object_set_new(o, "MediaType", json_string(img->manifest_media_type));
                        json_array_append_new(jarr, o);
                }
                json_decref(names);
        }
        kiln_strv_free(seen_ids);
        if (r < 0) {
                cli_table_free(&t);
                json_decref(jarr);
                kiln_buf_free(&out);
                kiln_image_list_free(v, n);
                return cli_fail_err(&err);
        }
        if (json_out) {
                char *s = json_dumps(jarr, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
                printf("%s\n", s);
                free(s);
        } else if (quiet || tmpl) {
                fputs(out.data ? out.data : "", stdout);
        } else {
                cli_table_print(&t, stdout);
        }
        cli_table_free(&t);
        json_decref(jarr);
        kiln_buf_free(&out);
        kiln_image_list_free(v, n);
        return 0;
}

int cmd_tag(struct cli_ctx *ctx, int argc, char **argv)
{
        const struct cli_command *cmd = cli_find_command("tag");
        int c, ex;
        while ((c = cli_getopt(argc, argv, "", NULL, cmd, &ex)) != -1)
                if (c == -2)
                        return ex;
        if (argc - optind != 2)
                return cli_usage_error("tag", "\"kiln tag\" requires exactly 2 arguments");
        struct kiln_error err = { 0 };
        {
                _cleanup_(kiln_reference_freep) struct kiln_reference *ref = NULL;
                if (kiln_reference_parse(argv[optind + 1], KILN_REF_DEFAULT_TAG | KILN_REF_NO_DIGEST,
                                         &ref, &err) < 0)
                        return cli_fail("%s: %s", argv[optind + 1], err.msg);
        }
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        _cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
        r = kiln_store_image_lookup(store, argv[optind], &img, &err);
        if (r >= 0)
                r = kiln_store_tag(store, img, argv[optind + 1], &err);
        if (r < 0)
                return cli_fail_err(&err);
        return 0;
}

static int run_gc(struct kiln_store *store, int64_t *ret_freed)
{
        struct kiln_error err = { 0 };
        struct kiln_gc_report rep;
        int r = kiln_store_gc(store, &rep, &err);
        if (r < 0)
                return cli_fail_err(&err);
        if (ret_freed)
                *ret_freed = rep.bytes_freed;
        return 0;
}

int cmd_rmi(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "force", no_argument, NULL, 'f' },
                { "no-prune", no_argument, NULL, 'N' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("rmi");
        bool force = false, prune = true;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "f", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'f':
                        force = true;
                        break;
                case 'N':
                        prune = false;
                        break;
                }
        }
        if (optind >= argc)
                return cli_usage_error("rmi", "\"kiln rmi\" requires at least 1 argument");
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        int status = 0;
        bool removed = false;
        for (int i = optind; i < argc; i++) {
                struct kiln_error err = { 0 };
                char **untagged = NULL, **deleted = NULL;
                r = kiln_store_image_remove(store, argv[i], force, &untagged, &deleted, &err);
                if (r < 0) {
                        status = cli_fail_err(&err);
                        continue;
                }
                for (char **s = untagged; *s; s++) {
                        _cleanup_free_ char *f = familiar(*s);
                        printf("Untagged: %s\n", f);
                }
                for (char **s = deleted; *s; s++) {
                        printf("Deleted: %s\n", *s);
                        removed = true;
                }
                kiln_strv_free(untagged);
                kiln_strv_free(deleted);
        }
        if (removed && prune) {
                r = run_gc(store, NULL);
                if (r)
                        status = r;
        }
        return status;
}

static int prune(struct cli_ctx *ctx, int argc, char **argv, const char *cmdname);

int cmd_image_prune(struct cli_ctx *ctx, int argc, char **argv)
{
        return prune(ctx, argc, argv, "image prune");
}

int cmd_system_prune(struct cli_ctx *ctx, int argc, char **argv)
{
        return prune(ctx, argc, argv, "system prune");
}

static int prune(struct cli_ctx *ctx, int argc, char **argv, const char *cmdname)
{
        static const struct option longopts[] = {
                { "all", no_argument, NULL, 'a' },
                { "force", no_argument, NULL, 'f' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command(cmdname);
        bool all = false, force = false;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "af", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'a':
                        all = true;
                        break;
                case 'f':
                        force = true;
                        break;
                }
        }
        if (optind < argc)
                return cli_usage_error(cmdname, "\"kiln %s\" accepts no arguments", cmdname);
        if (!force && !cli_confirm(all ? "all images" : "all dangling images"))
                return 0;
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        char **deleted = NULL;
        r = kiln_store_image_prune(store, all, &deleted, &err);
        if (r < 0)
                return cli_fail_err(&err);
        if (deleted[0]) {
                printf("Deleted Images:\n");
                for (char **s = deleted; *s; s++)
                        printf("deleted: %s\n", *s);
                printf("\n");
        }
        kiln_strv_free(deleted);
        int64_t freed = 0;
        r = run_gc(store, &freed);
        if (r)
                return r;
        char size[32];
        kiln_format_size(freed, size, sizeof(size));
        printf("Total reclaimed space: %s\n", size);
        return 0;
}

int cmd_history(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "format", required_argument, NULL, 'F' }, { "human", required_argument, NULL, 'H' },
                { "no-trunc", no_argument, NULL, 'N' },     { "quiet", no_argument, NULL, 'q' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("history");
        bool no_trunc = false, quiet = false, human = true;
        const char *format = NULL;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "q", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'N':
                        no_trunc = true;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'F':
                        format = optarg;
                        break;
                case 'H':
                        if (cli_parse_bool(optarg, &human) < 0)
                                return cli_usage_error("history", "invalid --human '%s'", optarg);
                        break;
                }
        }
        if (argc - optind != 1)
                return cli_usage_error("history", "\"kiln history\" requires exactly 1 argument");
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        _cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
        _cleanup_(kiln_config_freep) struct kiln_config *cfg = NULL;
        r = kiln_store_image_lookup(store, argv[optind], &img, &err);
        if (r >= 0)
                r = kiln_store_image_load(store, img, &m, &cfg, &err);
        if (r < 0)
                return cli_fail_err(&err);

        /* rows oldest first, matched to layers; printed newest first */
        size_t nrows = cfg->n_history ? cfg->n_history : m->n_layers;
        json_t *rows = json_array();
        size_t layer = 0;
        int64_t now = (int64_t)time(NULL);
        for (size_t i = 0; i < nrows; i++) {
                const struct kiln_history *h = cfg->n_history ? &cfg->history[i] : NULL;
                bool empty = h ? h->empty_layer : false;
                int64_t size = 0;
                if (!empty && layer < m->n_layers) {
                        int64_t us;
                        if (kiln_store_layer_lookup(store, &m->layers[layer].digest, NULL, &us) == 0)
                                size = us;
                        else
                                size = m->layers[layer].size;
                        layer++;
                }
                json_t *o = json_object();
                const char *created = h && h->created ? h->created : cfg->created;
                json_object_set_new(o, "created", json_string(created ? created : ""));
                json_object_set_new(o, "created_by", json_string(h && h->created_by ? h->created_by : ""));
                json_object_set_new(o, "size", json_integer(size));
                json_object_set_new(o, "comment", json_string(h && h->comment ? h->comment : ""));
                json_array_insert_new(rows, 0, o);
        }
        if (format && !strcmp(format, "json")) {
                json_t *arr = json_array();
                size_t i;
                json_t *o;
                json_array_foreach(rows, i, o)
                {
                        json_t *e = json_object();
                        json_object_set_new(e, "id",
                                            json_string(i == 0 ? img->config_digest.str : "<missing>"));
                        json_object_set_new(e, "created", json_incref(json_object_get(o, "created")));
                        json_object_set_new(e, "createdBy", json_incref(json_object_get(o, "created_by")));
                        json_object_set_new(e, "size", json_incref(json_object_get(o, "size")));
                        json_object_set_new(e, "comment", json_incref(json_object_get(o, "comment")));
                        json_array_append_new(arr, e);
                }
                char *s = json_dumps(arr, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
                printf("%s\n", s);
                free(s);
                json_decref(arr);
                json_decref(rows);
                return 0;
        }
        struct cli_table t;
        static const char *const hdr[] = { "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT" };
        cli_table_init(&t, 5, quiet ? NULL : hdr);
        size_t i;
        json_t *o;
        _cleanup_free_ char *id = short_id(&img->config_digest, no_trunc);
        json_array_foreach(rows, i, o)
        {
                const char *idc = i == 0 ? id : "<missing>";
                if (quiet) {
                        printf("%s\n", idc);
                        continue;
                }
                const char *created = json_string_value(json_object_get(o, "created"));
                char when[64], size[32];
                int64_t ct = kiln_parse_rfc3339(created);
                if (human)
                        kiln_format_ago(ct, now, when, sizeof(when));
                else
                        snprintf(when, sizeof(when), "%s", created);
                int64_t sz = json_integer_value(json_object_get(o, "size"));
                if (human)
                        kiln_format_size(sz, size, sizeof(size));
                else
                        snprintf(size, sizeof(size), "%lld", (long long)sz);
                const char *by = json_string_value(json_object_get(o, "created_by"));
                _cleanup_free_ char *byc = NULL;
                if (!no_trunc && strlen(by) > 45)
                        byc = kiln_xasprintf("%.44s…", by);
                else
                        byc = kiln_xstrdup(by);
                const char *cells[] = { idc, when, byc, size,
                                        json_string_value(json_object_get(o, "comment")) };
                cli_table_add(&t, cells);
        }
        if (!quiet)
                cli_table_print(&t, stdout);
        cli_table_free(&t);
        json_decref(rows);
        return 0;
}
