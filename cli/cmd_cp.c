/* SPDX-License-Identifier: Apache-2.0 */
/* kiln cp: copy files between a container and the host (docker cp). */
#include <string.h>
#include "cli.h"
#include "kiln/container.h"

#define CP_USAGE                                                                               \
        "Usage:  kiln cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"                           \
        "        kiln cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH\n\n"                         \
        "Copy files/folders between a container and the local filesystem.\n"                  \
        "Use '-' as the source to read a tar archive from stdin and extract it to a\n"        \
        "directory in the container; '-' as the destination streams a tar of the\n"           \
        "container source to stdout. Paths in the container are resolved inside its\n"        \
        "root filesystem. The container may be running or stopped.\n\n"                       \
        "Options:\n"                                                                           \
        "  -a, --archive       Archive mode (copy all uid/gid information)\n"                  \
        "  -L, --follow-link   Always follow symbol link in SRC_PATH\n"                        \
        "  -q, --quiet         Suppress progress output during copy. Progress output is\n"     \
        "                      automatically suppressed if no terminal is attached\n"

/* Used until the command table has its entry (same text). */
static const struct cli_command cp_fallback = {
        "cp", cmd_cp, "Copy files/folders between a container and the local filesystem", CP_USAGE,
};

/* docker's splitCpArg: an absolute path, or anything starting with "." or
 * without a colon, is local; otherwise CONTAINER:PATH. */
static bool split_arg(const char *arg, char **ret_ctr, const char **ret_path)
{
        const char *colon = strchr(arg, ':');
        if (arg[0] == '/' || arg[0] == '.' || !colon)
                return false;
        *ret_ctr = kiln_xstrndup(arg, (size_t)(colon - arg));
        *ret_path = colon + 1;
        return true;
}

int cmd_cp(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "archive", no_argument, NULL, 'a' },
                { "follow-link", no_argument, NULL, 'L' },
                { "quiet", no_argument, NULL, 'q' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("cp");
        if (!cmd)
                cmd = &cp_fallback;
        unsigned flags = 0;
        bool quiet = false;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "aLq", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'a':
                        flags |= KILN_CP_ARCHIVE;
                        break;
                case 'L':
                        flags |= KILN_CP_FOLLOW_LINK;
                        break;
                case 'q':
                        quiet = true;
                        break;
                }
        }
        if (argc - optind != 2)
                return cli_usage_error("cp", "\"kiln cp\" requires exactly 2 arguments");
        const char *src = argv[optind], *dst = argv[optind + 1];
        _cleanup_free_ char *sctr = NULL, *dctr = NULL;
        const char *spath = src, *dpath = dst;
        bool from = split_arg(src, &sctr, &spath);
        bool to = split_arg(dst, &dctr, &dpath);
        if (from && to)
                return cli_fail("copying between containers is not supported");
        if (!from && !to)
                return cli_fail("must specify at least one container source");
        if ((from && !*sctr) || (to && !*dctr))
                return cli_fail("no container name given");
        if ((from && !*spath) || (to && !*dpath))
                return cli_fail("filepath may not be empty");
        /* progress output only to a terminal, as docker */
        quiet = quiet || !isatty(STDERR_FILENO);

        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        int64_t bytes = 0;
        bool stream;
        if (from) {
                stream = !strcmp(dst, "-");
                r = kiln_container_copy_out(store, sctr, spath, stream ? NULL : dst, STDOUT_FILENO, flags,
                                            &bytes, &err);
        } else {
                stream = !strcmp(src, "-");
                r = kiln_container_copy_in(store, dctr, stream ? NULL : src, STDIN_FILENO, dpath, flags,
                                           &bytes, &err);
        }
        if (r < 0)
                return cli_fail_err(&err);
        if (!quiet && !stream) {
                char size[32];
                kiln_format_size(bytes, size, sizeof(size));
                fprintf(stderr, "Successfully copied %s to %s\n", size, dst);
        }
        return 0;
}
