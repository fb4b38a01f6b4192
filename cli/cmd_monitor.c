/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln container cleanup: the exit command a detached container's
 * kiln-monitor runs once the container's process has exited (hidden: not
 * for users). It records the exit and tears the container down.
 */
#include <string.h>
#include "cli.h"
#include "kiln/container.h"

int cmd_container_cleanup(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "exit-code", required_argument, NULL, 'c' },
                { "oom", no_argument, NULL, 'o' },
                { "finished-at", required_argument, NULL, 't' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("container cleanup");
        int code = 255;
        bool oom = false;
        const char *finished_at = NULL;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'c': {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || end == optarg || v < 0 || v > 255)
                                return cli_usage_error("container cleanup", "invalid --exit-code '%s'",
                                                       optarg);
                        code = (int)v;
                        break;
                }
                case 'o':
                        oom = true;
                        break;
                case 't':
                        finished_at = optarg;
                        break;
                }
        }
        if (argc - optind != 1)
                return cli_usage_error("container cleanup",
                                       "\"kiln container cleanup\" requires exactly 1 argument");
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        r = kiln_container_cleanup(store, argv[optind], code, oom, finished_at, &err);
        return r < 0 ? cli_fail_err(&err) : 0;
}
