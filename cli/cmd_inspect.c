/* SPDX-License-Identifier: Apache-2.0 */
/* kiln inspect: docker-compatible JSON description of images. */
#include <string.h>
#include "cli.h"
#include "kiln/container.h"
#include "kiln/image.h"
#include "kiln/reference.h"

static json_t *image_json(struct kiln_store *store, const struct kiln_image *img,
                          struct kiln_error *err)
{
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
        _cleanup_(kiln_config_freep) struct kiln_config *cfg = NULL;
        if (kiln_store_image_load(store, img, &m, &cfg, err) < 0)
                return NULL;
        json_t *o = json_object();
        json_object_set_new(o, "Id", json_string(img->config_digest.str));
        json_t *tags = json_array();
        for (size_t i = 0; i < img->n_names; i++) {
                _cleanup_(kiln_reference_freep) struct kiln_reference *ref = NULL;
                if (kiln_reference_parse(img->names[i], 0, &ref, NULL) < 0)
                        continue;
                _cleanup_free_ char *f = kiln_reference_familiar(ref);
                json_array_append_new(tags, json_string(f));
        }
        json_object_set_new(o, "RepoTags", tags);
        json_object_set_new(o, "RepoDigests", cli_repo_digests(img));
        json_object_set_new(o, "Parent", json_string(""));
        const char *comment = "";
        if (cfg->n_history && cfg->history[cfg->n_history - 1].comment)
                comment = cfg->history[cfg->n_history - 1].comment;
        json_t *jc = json_object_get(cfg->json, "comment");
        if (json_is_string(jc))
                comment = json_string_value(jc);
        json_object_set_new(o, "Comment", json_string(comment));
        json_object_set_new(o, "Created", json_string(cfg->created ? cfg->created : ""));
        json_object_set_new(o, "Author", json_string(cfg->author ? cfg->author : ""));
        json_t *conf = cfg->config ? json_deep_copy(cfg->config) : json_object();
        json_object_set_new(o, "Config", conf);
        json_object_set_new(o, "Architecture", json_string(cfg->architecture));
        if (cfg->variant)
                json_object_set_new(o, "Variant", json_string(cfg->variant));
        json_object_set_new(o, "Os", json_string(cfg->os));
        json_object_set_new(o, "Size", json_integer(img->size));
        json_t *rootfs = json_object();
        json_object_set_new(rootfs, "Type", json_string("layers"));
        json_t *layers = json_array();
        for (size_t i = 0; i < cfg->n_diff_ids; i++)
                json_array_append_new(layers, json_string(cfg->diff_ids[i].str));
        json_object_set_new(rootfs, "Layers", layers);
        json_object_set_new(o, "RootFS", rootfs);
        /* kiln's own additions: the stored manifest and its blobs */
        json_object_set_new(o, "Digest", json_string(img->manifest_digest.str));
        json_object_set_new(o, "ManifestMediaType", json_string(m->media_type));
        json_t *blobs = json_array();
        for (size_t i = 0; i < m->n_layers; i++)
                json_array_append_new(blobs, kiln_descriptor_to_json(&m->layers[i]));
        json_object_set_new(o, "Layers", blobs);
        json_t *names = json_array();
        for (size_t i = 0; i < img->n_names; i++)
                json_array_append_new(names, json_string(img->names[i]));
        json_object_set_new(o, "Names", names);
        return o;
}

int cmd_inspect(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "format", required_argument, NULL, 'f' },
                { "type", required_argument, NULL, 'T' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("inspect");
        const char *format = NULL, *type = NULL;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "f:", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'f':
                        format = optarg;
                        break;
                case 'T':
                        if (strcmp(optarg, "image") && strcmp(optarg, "container"))
                                return cli_usage_error("inspect", "--type %s: use image or container", optarg);
                        type = optarg;
                        break;
                }
        }
        if (optind >= argc)
                return cli_usage_error("inspect", "\"kiln inspect\" requires at least 1 argument");
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        json_t *arr = json_array();
        int status = 0;
        struct kiln_buf out = KILN_BUF_INIT;
        for (int i = optind; i < argc; i++) {
                struct kiln_error err = { 0 };
                json_t *o = NULL;
                /* as docker: a container of that name or ID first, then an image */
                if (!type || !strcmp(type, "container")) {
                        r = kiln_container_inspect(store, argv[i], &o, &err);
                        if (r < 0 && type) {
                                status = cli_fail_err(&err);
                                continue;
                        }
                        if (o)
                                json_object_del(o, "RunOpts");
                }
                if (!o) {
                        kiln_error_clear(&err);
                        _cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
                        r = kiln_store_image_lookup(store, argv[i], &img, &err);
                        o = r >= 0 ? image_json(store, img, &err) : NULL;
                        if (!o && !type && r == -KILN_ENOTFOUND)
                                kiln_err(&err, r, "no such object: %s", argv[i]);
                }
                if (!o) {
                        status = cli_fail_err(&err);
                        continue;
                }
                if (format) {
                        r = cli_format_template(format, o, &out, &err);
                        json_decref(o);
                        if (r < 0) {
                                kiln_buf_free(&out);
                                json_decref(arr);
                                return cli_fail_err(&err);
                        }
                        kiln_buf_puts(&out, "\n");
                } else {
                        json_array_append_new(arr, o);
                }
        }
        if (format) {
                fputs(out.data ? out.data : "", stdout);
        } else {
                char *s = json_dumps(arr, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
                printf("%s\n", s);
                free(s);
        }
        kiln_buf_free(&out);
        json_decref(arr);
        return status;
}
