/* SPDX-License-Identifier: Apache-2.0 */
/* kiln fsck, system df, version. */
#include <archive.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include "cli.h"
#include "kiln-commit.h"
#include "kiln-config.h"
#include "kiln/image.h"

int cmd_fsck(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "repair", no_argument, NULL, 'R' },
                { "quiet", no_argument, NULL, 'q' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("fsck");
        bool repair = false, quiet = false;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "q", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'R':
                        repair = true;
                        break;
                case 'q':
                        quiet = true;
                        break;
                }
        }
        if (optind < argc)
                return cli_usage_error("fsck", "\"kiln fsck\" accepts no arguments");
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        struct kiln_fsck_report rep;
        r = kiln_store_fsck(store, repair, &rep, &err);
        if (r < 0)
                return cli_fail_err(&err);
        for (char **m = rep.messages; m && *m; m++)
                printf("%s\n", *m);
        if (!quiet || rep.problems)
                printf("checked %llu blobs, %llu images, %llu unpacked layers: %llu problems%s, "
                       "%llu leftovers\n",
                       (unsigned long long)rep.blobs_checked, (unsigned long long)rep.images_checked,
                       (unsigned long long)rep.layers_checked, (unsigned long long)rep.problems,
                       repair ? (rep.repaired >= rep.problems ? " (repaired)" : " (not all repaired)")
                              : "",
                       (unsigned long long)rep.garbage);
        bool clean = rep.problems == 0 || (repair && rep.repaired >= rep.problems);
        kiln_fsck_report_clear(&rep);
        return clean ? 0 : 1;
}

int cmd_system_df(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "format", required_argument, NULL, 'F' },
                { "verbose", no_argument, NULL, 'v' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("system df");
        const char *format = NULL;
        bool verbose = false;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "v", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'F':
                        format = optarg;
                        break;
                case 'v':
                        verbose = true;
                        break;
                }
        }
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        struct kiln_df_report d;
        r = kiln_store_df(store, &d, &err);
        if (r < 0)
                return cli_fail_err(&err);
        if (format && !strcmp(format, "json")) {
                json_t *o = json_object();
                json_object_set_new(o, "Images", json_integer((json_int_t)d.images));
                json_object_set_new(o, "ImagesActive", json_integer((json_int_t)d.images_active_names));
                json_object_set_new(o, "ImagesSize", json_integer(d.images_size));
                json_object_set_new(o, "ImagesReclaimable", json_integer(d.reclaimable));
                json_object_set_new(o, "LayersUnpacked", json_integer((json_int_t)d.layers_unpacked));
                json_object_set_new(o, "LayersSize", json_integer(d.layers_size));
                json_object_set_new(o, "Blobs", json_integer((json_int_t)d.blobs));
                json_object_set_new(o, "BlobsSize", json_integer(d.blobs_size));
                char *s = json_dumps(o, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
                printf("%s\n", s);
                free(s);
                json_decref(o);
                return 0;
        }
        char sz[32], rc[32], pct[48], lsz[32], bsz[32], cnt[3][32], act[32];
        kiln_format_size(d.images_size, sz, sizeof(sz));
        kiln_format_size(d.reclaimable, rc, sizeof(rc));
        snprintf(pct, sizeof(pct), "%s (%d%%)", rc,
                 d.images_size ? (int)(d.reclaimable * 100 / d.images_size) : 0);
        kiln_format_size(d.layers_size, lsz, sizeof(lsz));
        kiln_format_size(d.blobs_size, bsz, sizeof(bsz));
        snprintf(cnt[0], sizeof(cnt[0]), "%llu", (unsigned long long)d.images);
        snprintf(act, sizeof(act), "%llu", (unsigned long long)d.images_active_names);
        snprintf(cnt[1], sizeof(cnt[1]), "%llu", (unsigned long long)d.layers_unpacked);
        snprintf(cnt[2], sizeof(cnt[2]), "%llu", (unsigned long long)d.blobs);
        struct cli_table t;
        static const char *const hdr[] = { "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE" };
        cli_table_init(&t, 5, hdr);
        const char *row1[] = { "Images", cnt[0], act, sz, pct };
        const char *row2[] = { "Unpacked layers", cnt[1], cnt[1], lsz, "0B" };
        const char *row3[] = { "Blobs (all)", cnt[2], "", bsz, "" };
        cli_table_add(&t, row1);
        cli_table_add(&t, row2);
        cli_table_add(&t, row3);
        cli_table_print(&t, stdout);
        cli_table_free(&t);
        if (verbose) {
                struct kiln_image **v;
                size_t n;
                if (kiln_store_image_list(store, &v, &n, &err) == 0) {
                        printf("\nImages space usage:\n\n");
                        static const char *const h2[] = { "IMAGE ID", "NAMES", "SIZE" };
                        cli_table_init(&t, 3, h2);
                        for (size_t i = 0; i < n; i++) {
                                char id[16], s2[32];
                                kiln_digest_short(&v[i]->config_digest, id, sizeof(id));
                                kiln_format_size(v[i]->size, s2, sizeof(s2));
                                const char *cells[] = { id, v[i]->n_names ? v[i]->names[0] : "<none>", s2 };
                                cli_table_add(&t, cells);
                        }
                        cli_table_print(&t, stdout);
                        cli_table_free(&t);
                        kiln_image_list_free(v, n);
                }
        }
        return 0;
}

int cmd_version(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "format", required_argument, NULL, 'f' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("version");
        const char *format = NULL;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "f:", longopts, cmd, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'f')
                        format = optarg;
        }
        json_t *o = json_object();
        json_object_set_new(o, "Version", json_string(KILN_VERSION));
        json_object_set_new(o, "GitCommit", json_string(KILN_GIT_COMMIT));
        char osarch[64];
        snprintf(osarch, sizeof(osarch), "%s/%s", kiln_platform_os(), kiln_platform_arch());
        json_object_set_new(o, "OsArch", json_string(osarch));
        json_t *libs = json_object();
        json_object_set_new(libs, "libarchive", json_string(archive_version_string()));
        json_object_set_new(libs, "zstd", json_string(ZSTD_versionString()));
        json_object_set_new(libs, "zlib", json_string(zlibVersion()));
        json_object_set_new(libs, "openssl", json_string(OpenSSL_version(OPENSSL_VERSION)));
        json_object_set_new(libs, "sqlite", json_string(sqlite3_libversion()));
        json_object_set_new(libs, "jansson", json_string(jansson_version_str()));
        json_object_set_new(o, "Libraries", libs);
        if (format && !strcmp(format, "json")) {
                char *s = json_dumps(o, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
                printf("%s\n", s);
                free(s);
        } else if (format) {
                struct kiln_buf out = KILN_BUF_INIT;
                struct kiln_error err = { 0 };
                if (cli_format_template(format, o, &out, &err) < 0) {
                        json_decref(o);
                        return cli_fail_err(&err);
                }
                printf("%s\n", out.data ? out.data : "");
                kiln_buf_free(&out);
        } else {
                printf("kiln version %s\n", KILN_VERSION);
                printf(" Git commit:  %s\n", KILN_GIT_COMMIT);
                printf(" OS/Arch:     %s\n", osarch);
                printf(" libarchive:  %s\n", archive_version_string());
                printf(" zstd:        %s\n", ZSTD_versionString());
                printf(" zlib:        %s\n", zlibVersion());
                printf(" OpenSSL:     %s\n", OpenSSL_version(OPENSSL_VERSION));
                printf(" SQLite:      %s\n", sqlite3_libversion());
                printf(" jansson:     %s\n", jansson_version_str());
        }
        json_decref(o);
        return 0;
}
