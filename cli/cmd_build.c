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
#include "kiln/reference.h"

#define DOCKERFILE_MAX (16 * 1024 * 1024)

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
                { "jobs", required_argument, NULL, 'j' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("build");
        _cleanup_strv_free_ char **tags = NULL, **args = NULL, **labels = NULL, **secrets = NULL;
        const char *file = NULL, *target = NULL, *iidfile = NULL, *platform = NULL;
        bool quiet = false, no_cache = false, docker_format = false;
        enum kiln_build_network network = KILN_BUILD_NETWORK_DEFAULT;
        enum kiln_compression compression = KILN_COMPRESSION_GZIP;
        int compression_level = 0;
        /* stages at once: the online CPUs, at least 2 (a RUN mostly waits) */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned jobs = ncpu > 2 ? (unsigned)ncpu : 2;
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        bool sde_flag = false;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "t:f:q", longopts, cmd, &ex)) != -1) {
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

        /* the Dockerfile: -f (relative to the current directory), else
         * CONTEXT/Dockerfile (or Containerfile) */
        _cleanup_free_ char *dfdata = NULL;
        size_t dflen = 0;
        _cleanup_free_ char *dfpath = NULL;
        bool stdin_ctx = !strcmp(context, "-");
        if (file && !strcmp(file, "-"))
                return cli_fail("-f -: a Dockerfile on stdin is not supported yet");
        _cleanup_(kiln_buildctx_freep) struct kiln_buildctx *bctx = NULL;
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        if (stdin_ctx) {
                _cleanup_free_ char *tmp = kiln_xasprintf("%s/tmp", kiln_store_root(store));
                r = kiln_buildctx_open_tar(0, tmp, file ? file : "Dockerfile", NULL, &bctx, &err);
                if (r < 0)
                        return cli_fail("context: %s", err.msg);
                const char *name = file ? file : "Dockerfile";
                r = kiln_fs_read_file(kiln_buildctx_dirfd(bctx), name, DOCKERFILE_MAX, &dfdata, &dflen);
                if (r == -ENOENT && !file)
                        r = kiln_fs_read_file(kiln_buildctx_dirfd(bctx), "Containerfile", DOCKERFILE_MAX, &dfdata,
                                              &dflen);
                if (r < 0)
                        return cli_fail("%s: not found in the context: %s", name, kiln_strerror(r));
        } else {
                struct stat sb;
                if (stat(context, &sb) < 0 || !S_ISDIR(sb.st_mode))
                        return cli_fail("unable to prepare context: path \"%s\" not found or not a directory", context);
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
                /* .dockerignore: <Dockerfile>.dockerignore beside it, else in the context */
                r = kiln_buildctx_open_dir(context, dfpath, &bctx, &err);
                if (r < 0)
                        return cli_fail("context: %s", err.msg);
                /* unchanged files are not read again to key the cache */
                _cleanup_free_ char *sums = kiln_xasprintf("%s/build-checksums.json", kiln_store_root(store));
                kiln_buildctx_set_checksum_cache(bctx, sums);
        }
        _cleanup_(kiln_dockerfile_freep) struct kiln_dockerfile *df = NULL;
        const char *shown = file ? file : "Dockerfile";
        const char *slash = strrchr(shown, '/');
        if (kiln_dockerfile_parse(dfdata, dflen, slash ? slash + 1 : shown, &df, &err) < 0)
                return cli_fail_err(&err);
        for (size_t i = 0; df->warnings && df->warnings[i] && !quiet; i++)
                fprintf(stderr, "warning: %s\n", df->warnings[i]);

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
                .progress_fd = quiet ? -1 : STDERR_FILENO,
                .docker_format = docker_format,
                .has_source_date_epoch = epoch >= 0,
                .source_date_epoch = epoch,
                .jobs = jobs,
        };
        _cleanup_free_ char *id = NULL;
        r = kiln_build(store, bctx, df, &o, &id, &err);
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
        printf("%s\n", id);
        return 0;
}
