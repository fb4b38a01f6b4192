/* SPDX-License-Identifier: Apache-2.0 */
/* kiln build: a Dockerfile and a context directory (or a tar on stdin)
 * become an image (lib/build/executor.c). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "kiln/layer.h"
#include "kiln/build.h"
#include "kiln/fs.h"
#include "kiln/progress.h"
#include "kiln/reference.h"

#define DOCKERFILE_MAX (16 * 1024 * 1024)

/* stdin into fd (a context can be large: no limit but the disk's) */
static int copy_stdin(int fd)
{
        char buf[65536];
        for (;;) {
                ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                int r = kiln_fs_write_all(fd, buf, (size_t)n);
                if (r < 0)
                        return r;
        }
}

struct outv {
        struct kiln_build_output *v;
        size_t n;
};

static void outv_clear(struct outv *o)
{
        for (size_t i = 0; i < o->n; i++)
                kiln_build_output_clear(&o->v[i]);
        free(o->v);
}

int cmd_build(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "tag", required_argument, NULL, 't' },
                { "file", required_argument, NULL, 'f' },
                { "build-arg", required_argument, NULL, 'A' },
                { "target", required_argument, NULL, 'T' },
                { "iidfile", required_argument, NULL, 'I' },
                { "quiet", no_argument, NULL, 'q' },
                { "no-cache", no_argument, NULL, 'C' },
                { "label", required_argument, NULL, 'l' },
                { "network", required_argument, NULL, 'N' },
                { "platform", required_argument, NULL, 'P' },
                { "secret", required_argument, NULL, 'S' },
                { "format", required_argument, NULL, 'F' },
                { "source-date-epoch", required_argument, NULL, 'E' },
                { "compression", required_argument, NULL, 'Z' },
                { "compression-level", required_argument, NULL, 'z' },
                { "output", required_argument, NULL, 'o' },
                { "squash", no_argument, NULL, 'Q' },
                { "squash-all", no_argument, NULL, 'W' },
                { "progress", required_argument, NULL, 'G' },
                { "jobs", required_argument, NULL, 'j' },
                { "pull", optional_argument, NULL, 'p' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("build");
        _cleanup_strv_free_ char **tags = NULL, **args = NULL, **labels = NULL, **secrets = NULL;
        const char *file = NULL, *target = NULL, *iidfile = NULL, *platform = NULL;
        bool quiet = false, no_cache = false, docker_format = false;
        enum kiln_build_network network = KILN_BUILD_NETWORK_DEFAULT;
        /* uncompressed, as buildah and podman keep built layers (see
         * docs/internals/build.md, "Writing layers") */
        enum kiln_compression compression = KILN_COMPRESSION_NONE;
        int compression_level = 0;
        /* stages at once: the online CPUs, at least 2 (a RUN mostly waits) */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned jobs = ncpu > 2 ? (unsigned)ncpu : 2;
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        bool sde_flag = false;
        __attribute__((cleanup(outv_clear))) struct outv outs = { 0 };
        enum kiln_build_squash squash = KILN_BUILD_SQUASH_NONE;
        const char *progress = "auto";
        int c, ex;
        while ((c = cli_getopt(argc, argv, "t:f:qo:", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 't': {
                        struct kiln_error err = { 0 };
                        _cleanup_(kiln_reference_freep) struct kiln_reference *ref = NULL;
                        if (kiln_reference_parse(optarg, KILN_REF_DEFAULT_TAG | KILN_REF_NO_DIGEST, &ref, &err) < 0)
                                return cli_usage_error("build", "invalid tag \"%s\": %s", optarg, err.msg);
                        kiln_strv_push_take(&tags, kiln_reference_string(ref));
                        break;
                }
                case 'f':
                        file = optarg;
                        break;
                case 'A':
                        if (strchr(optarg, '=')) {
                                kiln_strv_push(&args, optarg);
                        } else if (getenv(optarg)) {
                                /* docker: a bare name takes its value from the environment */
                                kiln_strv_push_take(&args, kiln_xasprintf("%s=%s", optarg, getenv(optarg)));
                        }
                        break;
                case 'T':
                        target = optarg;
                        break;
                case 'I':
                        iidfile = optarg;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'C':
                        no_cache = true;
                        break;
                case 'l':
                        kiln_strv_push(&labels, optarg);
                        break;
                case 'S':
                        if (!strstr(optarg, "id="))
                                return cli_usage_error("build", "--secret %s: expected id=NAME[,src=FILE|,env=VAR]", optarg);
                        kiln_strv_push(&secrets, optarg);
                        break;
                case 'N':
                        if (!strcmp(optarg, "default"))
                                network = KILN_BUILD_NETWORK_DEFAULT;
                        else if (!strcmp(optarg, "host"))
                                network = KILN_BUILD_NETWORK_HOST;
                        else if (!strcmp(optarg, "none"))
                                network = KILN_BUILD_NETWORK_NONE;
                        else
                                return cli_usage_error("build", "--network %s: expected default, host or none", optarg);
                        break;
                case 'P':
                        platform = optarg;
                        break;
                case 'F':
                        if (!strcmp(optarg, "docker"))
                                docker_format = true;
                        else if (!strcmp(optarg, "oci"))
                                docker_format = false;
                        else
                                return cli_usage_error("build", "--format %s: expected oci or docker", optarg);
                        break;
                case 'E':
                        sde = optarg;
                        sde_flag = true;
                        break;
                case 'Z':
                        if (kiln_compression_parse(optarg, &compression) < 0)
                                return cli_usage_error("build", "invalid --compression '%s': use gzip, zstd or none",
                                                       optarg);
                        break;
                case 'o': {
                        struct kiln_error err = { 0 };
                        struct kiln_build_output out;
                        if (kiln_build_output_parse(optarg, &out, &err) < 0)
                                return cli_usage_error("build", "%s", err.msg);
                        outs.v = kiln_xrealloc(outs.v, (outs.n + 1) * sizeof(*outs.v));
                        outs.v[outs.n++] = out;
                        break;
                }
                case 'Q':
                        squash = KILN_BUILD_SQUASH_NEW;
                        break;
                case 'W':
                        squash = KILN_BUILD_SQUASH_ALL;
                        break;
                case 'G':
                        progress = optarg;
                        break;
                case 'z': {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || v < 1 || v > 19)
                                return cli_usage_error("build", "invalid --compression-level '%s'", optarg);
                        compression_level = (int)v;
                        break;
                }
                case 'j': {
                        char *end;
                        errno = 0;
                        long v = strtol(optarg, &end, 10);
                        if (!*optarg || *end || errno || v < 0 || v > 1024)
                                return cli_usage_error("build", "invalid --jobs '%s': expected 0 (no limit) to 1024",
                                                       optarg);
                        jobs = (unsigned)v;
                        break;
                }
                case 'p':
                        /* docker's --pull (always), podman's --pull=always|missing|never|newer;
                         * images come from the local store only until kiln can pull */
                        if (!optarg || !strcmp(optarg, "true") || !strcmp(optarg, "always") ||
                            !strcmp(optarg, "newer"))
                                return cli_usage_error("build", "--pull%s%s: kiln does not pull images yet "
                                                       "(base images come from the local store; "
                                                       "--pull=missing or never)",
                                                       optarg ? "=" : "", optarg ? optarg : "");
                        if (strcmp(optarg, "missing") && strcmp(optarg, "never") && strcmp(optarg, "false"))
                                return cli_usage_error("build", "invalid --pull '%s': expected always, "
                                                       "missing, never or newer", optarg);
                        break;
                default:
                        return EXIT_USAGE;
                }
        }
        int64_t epoch = -1;
        if (sde && (*sde || sde_flag)) {
                char *end;
                errno = 0;
                long long v = strtoll(sde, &end, 10);
                if (!*sde || *end || errno || v < 0)
                        return cli_usage_error("build", "%s %s: expected a number of seconds since 1970",
                                               sde_flag ? "--source-date-epoch" : "SOURCE_DATE_EPOCH", sde);
                epoch = v;
        }
        if (optind + 1 != argc)
                return cli_usage_error("build", "\"kiln build\" requires exactly 1 argument (the context)");
        const char *context = argv[optind];
        struct kiln_error err = { 0 };
        bool stdin_ctx = !strcmp(context, "-");
        bool stdin_df = file && !strcmp(file, "-");
        if (stdin_ctx && stdin_df)
                return cli_usage_error("build", "-f -: stdin can't be both the build context and the Dockerfile");
        if (quiet)
                progress = "quiet";
        enum kiln_progress_mode pmode;
        if (kiln_progress_mode_parse(progress, STDERR_FILENO, &pmode) < 0)
                return cli_usage_error("build", "--progress %s: expected auto, plain, tty or quiet", progress);
        /* outputs: what can be checked is checked before building */
        bool out_stdout = false;
        for (size_t i = 0; i < outs.n; i++) {
                if (strcmp(outs.v[i].dest, "-"))
                        continue;
                if (out_stdout)
                        return cli_usage_error("build", "--output: only one output can go to standard output");
                if (isatty(STDOUT_FILENO))
                        return cli_fail("--output %s: refusing to write a tar to a terminal: redirect standard output or give dest=FILE",
                                        outs.v[i].type == KILN_BUILD_OUTPUT_OCI ? "type=oci,dest=-" : "-");
                out_stdout = true;
        }

        /* the Dockerfile: -f (relative to the current directory; "-":
         * stdin), else CONTEXT/Dockerfile (or Containerfile) */
        _cleanup_free_ char *dfdata = NULL;
        size_t dflen = 0;
        _cleanup_free_ char *dfpath = NULL;
        _cleanup_free_ char *empty_ctx = NULL; /* a Dockerfile on stdin: an empty context */
        _cleanup_(kiln_buildctx_freep) struct kiln_buildctx *bctx = NULL;
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        _cleanup_free_ char *tmp = kiln_xasprintf("%s/tmp", kiln_store_root(store));
        if (stdin_ctx) {
                /* docker: a tar (plain or compressed) on stdin is the
                 * context, anything else is a Dockerfile with an empty
                 * context; decided by content */
                mkdir(tmp, 0700);
                _cleanup_close_ int fd = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
                if (fd < 0)
                        return cli_fail("context: %s: %s", tmp, strerror(errno));
                r = copy_stdin(fd);
                if (r < 0)
                        return cli_fail("context: read stdin: %s", kiln_strerror(r));
                r = lseek(fd, 0, SEEK_SET) < 0 ? -errno : kiln_layer_is_tar_archive(fd, &err);
                if (r < 0)
                        return cli_fail("context: %s", err.msg[0] ? err.msg : kiln_strerror(r));
                if (lseek(fd, 0, SEEK_SET) < 0)
                        return cli_fail("context: %s", strerror(errno));
                if (r > 0) {
                        r = kiln_buildctx_open_tar(fd, tmp, file ? file : "Dockerfile", NULL, &bctx, &err);
                        if (r < 0)
                                return cli_fail("context: %s", err.msg);
                        const char *name = file ? file : "Dockerfile";
                        r = kiln_fs_read_file(kiln_buildctx_dirfd(bctx), name, DOCKERFILE_MAX, &dfdata, &dflen);
                        if (r == -ENOENT && !file)
                                r = kiln_fs_read_file(kiln_buildctx_dirfd(bctx), "Containerfile", DOCKERFILE_MAX,
                                                      &dfdata, &dflen);
                        if (r < 0)
                                return cli_fail("%s: not found in the context: %s", name, kiln_strerror(r));
                } else {
                        /* as docker, -f does not apply: the Dockerfile is stdin */
                        file = NULL;
                        r = kiln_fs_read_fd(fd, DOCKERFILE_MAX, &dfdata, &dflen);
                        if (r < 0)
                                return cli_fail("Dockerfile from stdin: %s", kiln_strerror(r));
                        empty_ctx = kiln_xasprintf("%s/build-ctx-XXXXXX", tmp);
                        if (!mkdtemp(empty_ctx)) {
                                free(TAKE_PTR(empty_ctx));
                                return cli_fail("context: %s: %s", tmp, strerror(errno));
                        }
                        r = kiln_buildctx_open_dir(empty_ctx, "-", &bctx, &err);
                        if (r < 0) {
                                rmdir(empty_ctx);
                                return cli_fail("context: %s", err.msg);
                        }
                }
        } else {
                struct stat sb;
                if (stat(context, &sb) < 0 || !S_ISDIR(sb.st_mode))
                        return cli_fail("unable to prepare context: path \"%s\" not found or not a directory", context);
                if (stdin_df) {
                        r = kiln_fs_read_fd(STDIN_FILENO, DOCKERFILE_MAX, &dfdata, &dflen);
                        if (r < 0)
                                return cli_fail("-f -: read the Dockerfile from stdin: %s", kiln_strerror(r));
                        dfpath = kiln_xstrdup("-");
                } else {
                        if (file) {
                                dfpath = kiln_xstrdup(file);
                        } else {
                                dfpath = kiln_xasprintf("%s/Dockerfile", context);
                                if (access(dfpath, F_OK) < 0) {
                                        _cleanup_free_ char *alt = kiln_xasprintf("%s/Containerfile", context);
                                        if (access(alt, F_OK) == 0) {
                                                free(dfpath);
                                                dfpath = TAKE_PTR(alt);
                                        }
                                }
                        }
                        r = kiln_fs_read_file(AT_FDCWD, dfpath, DOCKERFILE_MAX, &dfdata, &dflen);
                        if (r < 0)
                                return cli_fail("failed to read %s: %s", dfpath, kiln_strerror(r));
                }
                /* .dockerignore: <Dockerfile>.dockerignore beside it, else in the context */
                r = kiln_buildctx_open_dir(context, dfpath, &bctx, &err);
                if (r < 0)
                        return cli_fail("context: %s", err.msg);
                /* unchanged files are not read again to key the cache */
                _cleanup_free_ char *sums = kiln_xasprintf("%s/build-checksums.json", kiln_store_root(store));
                kiln_buildctx_set_checksum_cache(bctx, sums);
        }
        _cleanup_(kiln_dockerfile_freep) struct kiln_dockerfile *df = NULL;
        const char *shown = file && !stdin_df ? file : "Dockerfile";
        const char *slash = strrchr(shown, '/');
        r = kiln_dockerfile_parse(dfdata, dflen, slash ? slash + 1 : shown, &df, &err);
        if (r < 0) {
                if (empty_ctx)
                        rmdir(empty_ctx);
                return cli_fail_err(&err);
        }
        for (size_t i = 0; df->warnings && df->warnings[i] && !quiet; i++)
                fprintf(stderr, "warning: %s\n", df->warnings[i]);

        _cleanup_(kiln_progress_freep) struct kiln_progress *prog = kiln_progress_new(pmode, STDERR_FILENO);
        struct kiln_build_opts o = {
                .tags = (const char *const *)tags,
                .n_tags = kiln_strv_len(tags),
                .build_args = args,
                .labels = labels,
                .target = target,
                .network = network,
                .platform = platform,
                .secrets = secrets,
                .no_cache = no_cache,
                .compression = (int)compression,
                .compression_level = compression_level,
                .progress_fd = -1,
                .progress = prog,
                .docker_format = docker_format,
                .has_source_date_epoch = epoch >= 0,
                .source_date_epoch = epoch,
                .outputs = outs.v,
                .n_outputs = outs.n,
                /* docker: -o without -t exports the image without storing it */
                .no_store = outs.n && !tags,
                .squash = squash,
                .jobs = jobs,
        };
        _cleanup_free_ char *id = NULL;
        r = kiln_build(store, bctx, df, &o, &id, &err);
        kiln_progress_free(TAKE_PTR(prog)); /* the live view is gone before the last lines */
        if (empty_ctx) {
                kiln_buildctx_free(TAKE_PTR(bctx));
                rmdir(empty_ctx);
        }
        if (r < 0)
                return cli_fail_err(&err);
        if (iidfile) {
                r = kiln_fs_write_replace(AT_FDCWD, iidfile, id, strlen(id), 0644);
                if (r < 0)
                        return cli_fail("--iidfile %s: %s", iidfile, kiln_strerror(r));
        }
        if (!quiet) {
                for (size_t i = 0; tags && tags[i]; i++)
                        fprintf(stderr, "Successfully tagged %s\n", tags[i]);
        }
        /* the ID on stdout, unless an output is written there */
        if (!out_stdout)
                printf("%s\n", id);
        else if (!quiet)
                fprintf(stderr, "%s\n", id);
        return 0;
}
