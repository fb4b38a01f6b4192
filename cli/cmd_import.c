/* SPDX-License-Identifier: Apache-2.0 */
/* kiln import: a root filesystem (tar, directory or stdin) becomes an image. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "cli.h"
#include "kiln/image.h"
#include "kiln/layer.h"
#include "kiln/reference.h"

/* SOURCE_DATE_EPOCH, or -1 when unset; -2 when set but invalid. */
static int64_t source_date_epoch(void)
{
        const char *e = getenv("SOURCE_DATE_EPOCH");
        if (!e || !*e)
                return -1;
        char *end;
        long long v = strtoll(e, &end, 10);
        if (*end || v < 0)
                return -2;
        return v;
}

static int check_platform(const char *platform, const char **ret_variant)
{
        /* only the host's platform: an image for another one could not run here */
        _cleanup_free_ char *p = kiln_xstrdup(platform);
        char *os = p, *arch = strchr(p, '/');
        if (!arch)
                return -EINVAL;
        *arch++ = 0;
        char *variant = strchr(arch, '/');
        if (variant)
                *variant++ = 0;
        if (strcmp(os, kiln_platform_os()) || strcmp(arch, kiln_platform_arch()))
                return -KILN_EUNSUPPORTED;
        *ret_variant = variant ? platform + (variant - p) : NULL;
        return 0;
}

int cmd_import(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "change", required_argument, NULL, 'c' },
                { "message", required_argument, NULL, 'm' },
                { "platform", required_argument, NULL, 'P' },
                { "compression", required_argument, NULL, 'C' },
                { "compression-level", required_argument, NULL, 'L' },
                { "quiet", no_argument, NULL, 'q' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("import");
        _cleanup_strv_free_ char **changes = kiln_xcalloc(1, sizeof(char *));
        size_t nchanges = 0;
        const char *message = NULL, *platform = NULL, *variant = NULL;
        struct kiln_layer_create_opts opts = KILN_LAYER_CREATE_OPTS_INIT;
        bool quiet = false;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "c:m:q", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'c':
                        kiln_strv_push(&changes, optarg);
                        nchanges++;
                        break;
                case 'm':
                        message = optarg;
                        break;
                case 'P':
                        platform = optarg;
                        break;
                case 'C':
                        if (kiln_compression_parse(optarg, &opts.compression) < 0)
                                return cli_usage_error("import",
                                                       "invalid --compression '%s': use gzip, zstd or none",
                                                       optarg);
                        break;
                case 'L': {
                        char *end;
                        long l = strtol(optarg, &end, 10);
                        if (*end || l < 1 || l > 22)
                                return cli_usage_error("import", "invalid --compression-level '%s'",
                                                       optarg);
                        opts.level = (int)l;
                        break;
                }
                case 'q':
                        quiet = true;
                        break;
                }
        }
        int nargs = argc - optind;
        if (nargs < 1 || nargs > 2)
                return cli_usage_error("import", "\"kiln import\" requires 1 or 2 arguments");
        const char *source = argv[optind];
        const char *name = nargs == 2 ? argv[optind + 1] : NULL;
        struct kiln_error err = { 0 };

        if (name) {
                _cleanup_(kiln_reference_freep) struct kiln_reference *ref = NULL;
                if (kiln_reference_parse(name, KILN_REF_DEFAULT_TAG | KILN_REF_NO_DIGEST, &ref,
                                         &err) < 0)
                        return cli_fail("%s: %s", name, err.msg);
        }
        if (platform) {
                int r = check_platform(platform, &variant);
                if (r == -EINVAL)
                        return cli_usage_error("import", "invalid --platform '%s': use os/arch[/variant]",
                                               platform);
                if (r < 0)
                        return cli_fail("--platform %s: only the host platform %s/%s is supported",
                                        platform, kiln_platform_os(), kiln_platform_arch());
        }
        int64_t sde = source_date_epoch();
        if (sde == -2)
                return cli_fail("SOURCE_DATE_EPOCH='%s': not a non-negative integer",
                                getenv("SOURCE_DATE_EPOCH"));
        opts.source_date_epoch = sde;

        /* the config edits are checked before any work is done */
        json_t *cfg = json_object();
        for (size_t i = 0; i < nchanges; i++) {
                if (cli_apply_change(cfg, changes[i], &err) < 0) {
                        json_decref(cfg);
                        return cli_fail_err(&err);
                }
        }

        if (kiln_startswith(source, "http://") || kiln_startswith(source, "https://")) {
                json_decref(cfg);
                return cli_fail("import %s: importing from a URL is not supported yet; download it "
                                "first",
                                source);
        }
        _cleanup_close_ int src_fd = -1;
        bool is_dir = false;
        if (!strcmp(source, "-")) {
                src_fd = dup(STDIN_FILENO);
        } else {
                src_fd = open(source, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                struct stat st;
                if (src_fd >= 0 && fstat(src_fd, &st) == 0 && S_ISDIR(st.st_mode)) {
                        close(src_fd);
                        src_fd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        is_dir = true;
                }
        }
        if (src_fd < 0) {
                json_decref(cfg);
                return cli_fail("import %s: %s", source, strerror(errno));
        }

        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r) {
                json_decref(cfg);
                return r;
        }

        struct kiln_blob_writer *w;
        r = kiln_blob_writer_new(store, &w, &err);
        if (r < 0) {
                json_decref(cfg);
                return cli_fail_err(&err);
        }
        struct kiln_layer_info info;
        if (is_dir)
                r = kiln_layer_create_dir(src_fd, kiln_blob_writer_fd(w), &opts, &info, &err);
        else
                r = kiln_layer_convert(src_fd, kiln_blob_writer_fd(w), &opts, &info, &err);
        if (r < 0) {
                kiln_blob_writer_abort(w);
                json_decref(cfg);
                return cli_fail("import %s: %s", source, err.msg);
        }
        r = kiln_blob_writer_commit_known(w, &info.digest, &err);
        if (r >= 0)
                r = kiln_store_layer_record(store, &info.digest, &info.diff_id,
                                            info.uncompressed_size, &err);
        if (r < 0) {
                json_decref(cfg);
                return cli_fail_err(&err);
        }

        /* the image config */
        int64_t now = sde >= 0 ? sde : (int64_t)time(NULL);
        char created[64];
        kiln_format_rfc3339(now, created, sizeof(created));
        json_t *config = json_object();
        json_object_set_new(config, "created", json_string(created));
        json_object_set_new(config, "architecture", json_string(kiln_platform_arch()));
        if (variant)
                json_object_set_new(config, "variant", json_string(variant));
        json_object_set_new(config, "os", json_string(kiln_platform_os()));
        json_object_set_new(config, "config", cfg);
        json_t *rootfs = json_object();
        json_object_set_new(rootfs, "type", json_string("layers"));
        json_t *diff_ids = json_array();
        json_array_append_new(diff_ids, json_string(info.diff_id.str));
        json_object_set_new(rootfs, "diff_ids", diff_ids);
        json_object_set_new(config, "rootfs", rootfs);
        json_t *hist = json_object();
        json_object_set_new(hist, "created", json_string(created));
        _cleanup_free_ char *created_by = kiln_xasprintf("kiln import %s", source);
        json_object_set_new(hist, "created_by", json_string(created_by));
        _cleanup_free_ char *comment =
                message ? kiln_xstrdup(message) : kiln_xasprintf("Imported from %s", source);
        json_object_set_new(hist, "comment", json_string(comment));
        json_t *history = json_array();
        json_array_append_new(history, hist);
        json_object_set_new(config, "history", history);

        size_t clen;
        _cleanup_free_ char *craw = kiln_json_dump(config, &clen);
        json_decref(config);
        struct kiln_descriptor cdesc = { .media_type = (char *)KILN_MT_OCI_CONFIG, .size = (int64_t)clen };
        r = kiln_store_blob_put(store, craw, clen, &cdesc.digest, &err);
        if (r < 0)
                return cli_fail_err(&err);

        struct kiln_descriptor ldesc = {
                .media_type = (char *)kiln_compression_media_type(info.compression),
                .digest = info.digest,
                .size = info.size,
        };
        _cleanup_free_ char *mraw = NULL;
        size_t mlen;
        r = kiln_manifest_build(&cdesc, &ldesc, 1, NULL, &mraw, &mlen);
        if (r < 0)
                return cli_fail("import: cannot build manifest: %s", kiln_strerror(r));
        struct kiln_digest mdigest;
        r = kiln_store_blob_put(store, mraw, mlen, &mdigest, &err);
        if (r < 0)
                return cli_fail_err(&err);
        const char *names[1] = { name };
        r = kiln_store_image_add(store, &mdigest, names, name ? 1 : 0, NULL, &err);
        if (r < 0)
                return cli_fail_err(&err);
        printf("%s\n", cdesc.digest.str);
        (void)quiet;
        return 0;
}
