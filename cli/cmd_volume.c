/* SPDX-License-Identifier: Apache-2.0 */
/* kiln volume create, ls, inspect, rm, prune. */
#include <string.h>
#include "cli.h"
#include "kiln/container.h"

int cmd_volume_create(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "label", required_argument, NULL, 'l' },
                { "driver", required_argument, NULL, 'd' },
                { "name", required_argument, NULL, 'n' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("volume create");
        _cleanup_strv_free_ char **labels = kiln_xcalloc(1, sizeof(char *));
        const char *name = NULL;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "d:", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'l':
                        kiln_strv_push(&labels, optarg);
                        break;
                case 'd':
                        if (strcmp(optarg, "local"))
                                return cli_fail("volume driver %s: only \"local\" exists", optarg);
                        break;
                case 'n':
                        name = optarg;
                        break;
                }
        }
        if (argc - optind > 1)
                return cli_usage_error("volume create", "\"kiln volume create\" requires at most 1 argument");
        if (optind < argc)
                name = argv[optind];
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        json_t *v;
        if (kiln_volume_create(store, name, labels, false, &v, &err) < 0)
                return cli_fail_err(&err);
        printf("%s\n", json_string_value(json_object_get(v, "Name")));
        json_decref(v);
        return 0;
}

int cmd_volume_ls(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "quiet", no_argument, NULL, 'q' },
                { "format", required_argument, NULL, 'F' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("volume ls");
        bool quiet = false;
        const char *format = NULL;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "q", longopts, cmd, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'q')
                        quiet = true;
                if (c == 'F')
                        format = optarg;
        }
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        json_t *list;
        if (kiln_volume_list(store, &list, &err) < 0)
                return cli_fail_err(&err);
        if (format && !strcmp(format, "json")) {
                char *s = json_dumps(list, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
                printf("%s\n", s);
                free(s);
                json_decref(list);
                return 0;
        }
        struct cli_table t;
        static const char *const hdr[] = { "DRIVER", "VOLUME NAME" };
        cli_table_init(&t, 2, quiet ? NULL : hdr);
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
                if (quiet) {
                        printf("%s\n", json_string_value(json_object_get(v, "Name")));
                        continue;
                }
                const char *cells[] = { "local", json_string_value(json_object_get(v, "Name")) };
                cli_table_add(&t, cells);
        }
        if (!quiet)
                cli_table_print(&t, stdout);
        cli_table_free(&t);
        json_decref(list);
        return 0;
}

int cmd_volume_inspect(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "format", required_argument, NULL, 'f' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("volume inspect");
        const char *format = NULL;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "f:", longopts, cmd, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'f')
                        format = optarg;
        }
        if (optind >= argc)
                return cli_usage_error("volume inspect", "\"kiln volume inspect\" requires at least 1 argument");
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        json_t *arr = json_array();
        int status = 0;
        for (int i = optind; i < argc; i++) {
                struct kiln_error err = { 0 };
                json_t *v;
                if (kiln_volume_inspect(store, argv[i], &v, &err) < 0) {
                        status = cli_fail_err(&err);
                        continue;
                }
                if (format) {
                        struct kiln_buf out = KILN_BUF_INIT;
                        if (cli_format_template(format, v, &out, &err) < 0)
                                status = cli_fail_err(&err);
                        else
                                printf("%s\n", out.data ? out.data : "");
                        kiln_buf_free(&out);
                        json_decref(v);
                } else {
                        json_array_append_new(arr, v);
                }
        }
        if (!format) {
                char *s = json_dumps(arr, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
                printf("%s\n", s);
                free(s);
        }
        json_decref(arr);
        return status;
}

static int volume_rm_one(struct kiln_store *s, const char *name, void *ud, struct kiln_error *err)
{
        return kiln_volume_remove(s, name, *(bool *)ud, err);
}

int cmd_volume_rm(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "force", no_argument, NULL, 'f' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("volume rm");
        bool force = false;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "f", longopts, cmd, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'f')
                        force = true;
        }
        return cli_for_each_arg(ctx, "volume rm", argc, argv, volume_rm_one, &force);
}

int cmd_volume_prune(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "force", no_argument, NULL, 'f' },
                { "all", no_argument, NULL, 'a' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("volume prune");
        bool all = false;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "fa", longopts, cmd, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'a')
                        all = true;
        }
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        char **removed = NULL;
        if (kiln_volume_prune(store, all, &removed, &err) < 0)
                return cli_fail_err(&err);
        if (removed[0]) {
                printf("Deleted Volumes:\n");
                for (char **p = removed; *p; p++)
                        printf("%s\n", *p);
                printf("\n");
        }
        kiln_strv_free(removed);
        return 0;
}

