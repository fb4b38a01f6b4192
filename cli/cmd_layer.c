/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer plumbing (kiln layer create|diff|apply) and kiln image unpack: the
 * layer engine on its own, the way umoci exposes its repack and unpack.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "kiln/fs.h"
#include "kiln/image.h"
#include "kiln/layer.h"

static int open_out(const char *path)
{
        if (!strcmp(path, "-"))
                return dup(STDOUT_FILENO);
        return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

static int open_dir(const char *path)
{
        return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void print_info(const char *digest, const char *diff_id, int64_t size, int64_t usize,
                       uint64_t entries, FILE *f)
{
        fprintf(f, "digest: %s\ndiff_id: %s\nsize: %lld\nuncompressed_size: %lld\nentries: %llu\n",
                digest, diff_id, (long long)size, (long long)usize, (unsigned long long)entries);
}

static int parse_create_opt(int c, struct kiln_layer_create_opts *opts, const char *cmd)
{
        char *end;
        long v;
        switch (c) {
        case 'C':
                if (kiln_compression_parse(optarg, &opts->compression) < 0)
                        return cli_usage_error(cmd, "invalid --compression '%s'", optarg);
                return 0;
        case 'L':
                v = strtol(optarg, &end, 10);
                if (*end || v < 1 || v > 22)
                        return cli_usage_error(cmd, "invalid --level '%s'", optarg);
                opts->level = (int)v;
                return 0;
        case 'T':
                v = strtol(optarg, &end, 10);
                if (*end || v < 0 || v > 256)
                        return cli_usage_error(cmd, "invalid --threads '%s'", optarg);
                opts->threads = (int)v;
                return 0;
        case 'S':
                v = strtol(optarg, &end, 10);
                if (*end || v < 0)
                        return cli_usage_error(cmd, "invalid --source-date-epoch '%s'", optarg);
                opts->source_date_epoch = v;
                return 0;
        }
        return -1;
}

static const struct option create_longopts[] = {
        { "compression", required_argument, NULL, 'C' },
        { "level", required_argument, NULL, 'L' },
        { "threads", required_argument, NULL, 'T' },
        { "source-date-epoch", required_argument, NULL, 'S' },
        { "overlay", no_argument, NULL, 'O' },
        { 0 },
};

int cmd_layer_create(struct cli_ctx *ctx, int argc, char **argv)
{
        const struct cli_command *cmd = cli_find_command("layer create");
        struct kiln_layer_create_opts opts = KILN_LAYER_CREATE_OPTS_INIT;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "", create_longopts, cmd, &ex)) != -1) {
                if (c == -2)
                        return ex;
                int r = parse_create_opt(c, &opts, "layer create");
                if (r > 0)
                        return r;
        }
        if (argc - optind != 2)
                return cli_usage_error("layer create", "\"kiln layer create\" requires DIR and OUTPUT");
        _cleanup_close_ int src = open_dir(argv[optind]);
        if (src < 0)
                return cli_fail("layer create: %s: %s", argv[optind], strerror(errno));
        _cleanup_close_ int out = open_out(argv[optind + 1]);
        if (out < 0)
                return cli_fail("layer create: %s: %s", argv[optind + 1], strerror(errno));
        struct kiln_error err = { 0 };
        struct kiln_layer_info info;
        if (kiln_layer_create_dir(src, out, &opts, &info, &err) < 0)
                return cli_fail("layer create %s: %s", argv[optind], err.msg);
        print_info(info.digest.str, info.diff_id.str, info.size, info.uncompressed_size,
                   info.n_entries, strcmp(argv[optind + 1], "-") ? stdout : stderr);
        return 0;
}

int cmd_layer_diff(struct cli_ctx *ctx, int argc, char **argv)
{
        const struct cli_command *cmd = cli_find_command("layer diff");
        struct kiln_layer_create_opts opts = KILN_LAYER_CREATE_OPTS_INIT;
        unsigned flags = 0;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "", create_longopts, cmd, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'O') {
                        flags |= KILN_DIFF_OVERLAY;
                        continue;
                }
                int r = parse_create_opt(c, &opts, "layer diff");
                if (r > 0)
                        return r;
        }
        if (argc - optind != 3)
                return cli_usage_error("layer diff", "\"kiln layer diff\" requires LOWER, UPPER and OUTPUT");
        _cleanup_close_ int lower = open_dir(argv[optind]);
        if (lower < 0)
                return cli_fail("layer diff: %s: %s", argv[optind], strerror(errno));
        _cleanup_close_ int upper = open_dir(argv[optind + 1]);
        if (upper < 0)
                return cli_fail("layer diff: %s: %s", argv[optind + 1], strerror(errno));
        _cleanup_close_ int out = open_out(argv[optind + 2]);
        if (out < 0)
                return cli_fail("layer diff: %s: %s", argv[optind + 2], strerror(errno));
        struct kiln_error err = { 0 };
        struct kiln_layer_info info;
        if (kiln_layer_create_diff(lower, upper, flags, out, &opts, &info, &err) < 0)
                return cli_fail("layer diff: %s", err.msg);
        print_info(info.digest.str, info.diff_id.str, info.size, info.uncompressed_size,
                   info.n_entries, strcmp(argv[optind + 2], "-") ? stdout : stderr);
        return 0;
}

int cmd_layer_apply(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "overlay-whiteouts", no_argument, NULL, 'O' },
                { "no-same-owner", no_argument, NULL, 'N' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("layer apply");
        struct kiln_layer_apply_opts opts = { .preserve_owner = geteuid() == 0 };
        int c, ex;
        while ((c = cli_getopt(argc, argv, "", longopts, cmd, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'O')
                        opts.overlay_whiteouts = true;
                if (c == 'N')
                        opts.preserve_owner = false;
        }
        if (argc - optind != 2)
                return cli_usage_error("layer apply", "\"kiln layer apply\" requires LAYER and DIR");
        const char *src = argv[optind];
        _cleanup_close_ int in = !strcmp(src, "-") ? dup(STDIN_FILENO)
                                                   : open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (in < 0)
                return cli_fail("layer apply: %s: %s", src, strerror(errno));
        if (kiln_fs_mkdir_p(AT_FDCWD, argv[optind + 1], 0755) < 0)
                return cli_fail("layer apply: %s: %s", argv[optind + 1], strerror(errno));
        _cleanup_close_ int dir = open_dir(argv[optind + 1]);
        if (dir < 0)
                return cli_fail("layer apply: %s: %s", argv[optind + 1], strerror(errno));
        struct kiln_error err = { 0 };
        struct kiln_layer_apply_info info;
        if (kiln_layer_apply(in, dir, &opts, &info, &err) < 0)
                return cli_fail("layer apply %s: %s", src, err.msg);
        print_info(info.digest.str, info.diff_id.str, info.size, info.uncompressed_size,
                   info.n_entries, stdout);
        return 0;
}

int cmd_layer(struct cli_ctx *ctx, int argc, char **argv);

int cmd_image_unpack(struct cli_ctx *ctx, int argc, char **argv)
{
        const struct cli_command *cmd = cli_find_command("image unpack");
        int c, ex;
        while ((c = cli_getopt(argc, argv, "", NULL, cmd, &ex)) != -1)
                if (c == -2)
                        return ex;
        if (argc - optind != 2)
                return cli_usage_error("image unpack", "\"kiln image unpack\" requires IMAGE and DIR");
        const char *dest = argv[optind + 1];
        struct stat st;
        if (lstat(dest, &st) == 0) {
                if (!S_ISDIR(st.st_mode))
                        return cli_fail("image unpack: %s: not a directory", dest);
                _cleanup_close_ int d = open_dir(dest);
                /* refuse to merge into a populated tree: the result would not be the image */
                if (d >= 0) {
                        DIR *dd = fdopendir(dup(d));
                        struct dirent *de;
                        bool empty = true;
                        while (dd && (de = readdir(dd)))
                                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                                        empty = false;
                        if (dd)
                                closedir(dd);
                        if (!empty)
                                return cli_fail("image unpack: %s: directory is not empty", dest);
                }
        }
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
        if (kiln_fs_mkdir_p(AT_FDCWD, dest, 0755) < 0)
                return cli_fail("image unpack: %s: %s", dest, strerror(errno));
        _cleanup_close_ int dir = open_dir(dest);
        if (dir < 0)
                return cli_fail("image unpack: %s: %s", dest, strerror(errno));
        struct kiln_layer_apply_opts opts = { .preserve_owner = geteuid() == 0 };
        for (size_t i = 0; i < m->n_layers; i++) {
                _cleanup_close_ int fd = -1;
                r = kiln_store_blob_open(store, &m->layers[i].digest, &fd, NULL, &err);
                if (r < 0)
                        return cli_fail_err(&err);
                struct kiln_layer_apply_info info;
                r = kiln_layer_apply(fd, dir, &opts, &info, &err);
                if (r < 0)
                        return cli_fail("image unpack: layer %s: %s", m->layers[i].digest.str, err.msg);
                if (!kiln_digest_equal(&info.digest, &m->layers[i].digest) ||
                    !kiln_digest_equal(&info.diff_id, &cfg->diff_ids[i]))
                        return cli_fail("image unpack: layer %s: digest mismatch", m->layers[i].digest.str);
        }
        return 0;
}
