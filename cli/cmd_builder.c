/* SPDX-License-Identifier: Apache-2.0 */
/* kiln builder prune: remove build cache entries and the layers only they kept. */
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "kiln/store.h"

int cmd_builder_prune(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "all", no_argument, NULL, 'a' },
                { "force", no_argument, NULL, 'f' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("builder prune");
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
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind < argc)
                return cli_usage_error("builder prune", "\"kiln builder prune\" accepts no arguments");
        if (!force && !cli_confirm(all ? "all build cache" : "all dangling build cache"))
                return 0;
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        struct kiln_cache_prune_report rep = { 0 };
        if (kiln_store_cache_prune(store, all, &rep, &err) < 0)
                return cli_fail_err(&err);
        char size[32];
        kiln_format_size(rep.bytes_freed, size, sizeof(size));
        printf("Deleted build cache entries: %llu\n", (unsigned long long)rep.entries);
        printf("Total reclaimed space: %s\n", size);
        return 0;
}
