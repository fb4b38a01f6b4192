/* SPDX-License-Identifier: Apache-2.0 */
/* kiln run, create, start, ps, logs, stop, kill, rm, wait, exec, restart, container prune,
 * healthcheck run. */
#include <ctype.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "cli.h"
#include "kiln/container.h"
#include "kiln/fs.h"

/* A growable NULL-terminated vector of owned strings. */
struct strv {
        char **v;
        size_t n;
};

static void strv_add(struct strv *s, const char *x)
{
        s->v = kiln_xrealloc(s->v, (s->n + 2) * sizeof(char *));
        s->v[s->n++] = kiln_xstrdup(x);
        s->v[s->n] = NULL;
}

static void strv_clear(struct strv *s)
{
        kiln_strv_free(s->v);
        s->v = NULL;
        s->n = 0;
}

/* "64m", "1g", "512k", "1024" (bytes) -> bytes; -1 when invalid */
static int64_t parse_size(const char *s)
{
        char *end;
        double v = strtod(s, &end);
        if (end == s || v < 0)
                return -1;
        int64_t mul = 1;
        switch (tolower((unsigned char)*end)) {
        case 0:
                break;
        case 'b':
                break;
        case 'k':
                mul = 1024;
                break;
        case 'm':
                mul = 1024 * 1024;
                break;
        case 'g':
                mul = 1024LL * 1024 * 1024;
                break;
        case 't':
                mul = 1024LL * 1024 * 1024 * 1024;
                break;
        default:
                return -1;
        }
        if (*end && end[1] && !(tolower((unsigned char)end[1]) == 'b' && !end[2]))
                return -1;
        return (int64_t)(v * (double)mul);
}

/* -e K=V, or -e K taking K's value from our environment (dropped if unset) */
static void add_env(struct strv *env, const char *e)
{
        if (strchr(e, '=')) {
                strv_add(env, e);
                return;
        }
        const char *v = getenv(e);
        if (v) {
                _cleanup_free_ char *kv = kiln_xasprintf("%s=%s", e, v);
                strv_add(env, kv);
        }
}

static int read_env_file(struct strv *env, const char *path)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r = kiln_fs_read_file(AT_FDCWD, path, 1 << 20, &data, &len);
        if (r < 0)
                return cli_fail("--env-file %s: %s", path, kiln_strerror(r));
        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                while (isspace((unsigned char)*line))
                        line++;
                size_t l = strlen(line);
                while (l && (line[l - 1] == '\r' || isspace((unsigned char)line[l - 1])))
                        line[--l] = 0;
                if (!*line || *line == '#')
                        continue;
                add_env(env, line);
        }
        return 0;
}

struct mounts {
        struct kiln_mount_req *m;
        size_t n;
};

static void mounts_add(struct mounts *ms, const char *type, const char *src, const char *dst,
                       bool ro, struct strv *options)
{
        ms->m = kiln_xrealloc(ms->m, (ms->n + 1) * sizeof(*ms->m));
        struct kiln_mount_req *q = &ms->m[ms->n++];
        memset(q, 0, sizeof(*q));
        q->type = kiln_xstrdup(type);
        q->source = src ? kiln_xstrdup(src) : NULL;
        q->destination = kiln_xstrdup(dst);
        q->readonly = ro;
        q->options = options ? options->v : NULL;
        if (options) {
                options->v = NULL;
                options->n = 0;
        }
}

static void mounts_free(struct mounts *ms)
{
        for (size_t i = 0; i < ms->n; i++) {
                free(ms->m[i].type);
                free(ms->m[i].source);
                free(ms->m[i].destination);
                kiln_strv_free(ms->m[i].options);
        }
        free(ms->m);
}

/* -v HOST:CTR[:ro|rw], -v NAME:CTR[:ro] (a named volume), -v CTR (an anonymous one) */
static int parse_volume(struct mounts *ms, const char *spec)
{
        _cleanup_free_ char *s = kiln_xstrdup(spec);
        char *parts[4] = { 0 };
        int n = 0;
        char *save = NULL;
        for (char *p = strtok_r(s, ":", &save); p && n < 4; p = strtok_r(NULL, ":", &save))
                parts[n++] = p;
        if (n == 1) {
                if (parts[0][0] != '/')
                        return cli_usage_error("run", "invalid volume '%s': the container path must be absolute",
                                               spec);
                mounts_add(ms, "volume", NULL, parts[0], false, NULL);
                return 0;
        }
        if (n < 2 || n > 3)
                return cli_usage_error("run", "invalid volume '%s': use SOURCE:CONTAINER-DIR[:ro]", spec);
        if (parts[1][0] != '/')
                return cli_usage_error("run", "invalid volume '%s': the container path must be absolute",
                                       spec);
        bool ro = false;
        if (n == 3) {
                _cleanup_free_ char *o = kiln_xstrdup(parts[2]);
                char *s2 = NULL;
                for (char *p = strtok_r(o, ",", &s2); p; p = strtok_r(NULL, ",", &s2)) {
                        if (!strcmp(p, "ro"))
                                ro = true;
                        else if (!strcmp(p, "rw") || !strcmp(p, "z") || !strcmp(p, "Z") ||
                                 !strcmp(p, "rprivate") || !strcmp(p, "private") || !strcmp(p, "nocopy"))
                                ;
                        else
                                return cli_usage_error("run", "invalid volume option '%s' in '%s'", p, spec);
                }
        }
        if (parts[0][0] != '/') {
                mounts_add(ms, "volume", parts[0], parts[1], ro, NULL);
                return 0;
        }
        struct stat st;
        if (stat(parts[0], &st) < 0) {
                /* docker creates a missing host directory */
                if (kiln_fs_mkdir_p(AT_FDCWD, parts[0], 0755) < 0)
                        return cli_fail("volume '%s': %s", spec, strerror(errno));
        }
        mounts_add(ms, "bind", parts[0], parts[1], ro, NULL);
        return 0;
}

/* --mount type=bind|tmpfs,source=,target=,readonly,tmpfs-size=,tmpfs-mode= */
static int parse_mount(struct mounts *ms, const char *spec)
{
        _cleanup_free_ char *s = kiln_xstrdup(spec);
        const char *type = "volume", *src = NULL, *dst = NULL;
        bool ro = false;
        struct strv opts = { 0 };
        char *save = NULL;
        for (char *kv = strtok_r(s, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(kv, '=');
                const char *v = eq ? eq + 1 : "";
                if (eq)
                        *eq = 0;
                if (!strcmp(kv, "type"))
                        type = v;
                else if (!strcmp(kv, "source") || !strcmp(kv, "src"))
                        src = v;
                else if (!strcmp(kv, "target") || !strcmp(kv, "destination") || !strcmp(kv, "dst"))
                        dst = v;
                else if (!strcmp(kv, "readonly") || !strcmp(kv, "ro"))
                        ro = !eq || !strcmp(v, "true") || !strcmp(v, "1");
                else if (!strcmp(kv, "tmpfs-size")) {
                        _cleanup_free_ char *o = kiln_xasprintf("size=%s", v);
                        strv_add(&opts, o);
                } else if (!strcmp(kv, "tmpfs-mode")) {
                        _cleanup_free_ char *o = kiln_xasprintf("mode=%s", v);
                        strv_add(&opts, o);
                } else if (!strcmp(kv, "bind-propagation")) {
                        strv_add(&opts, v);
                } else {
                        strv_clear(&opts);
                        return cli_usage_error("run", "invalid --mount field '%s' in '%s'", kv, spec);
                }
        }
        if (!dst || dst[0] != '/') {
                strv_clear(&opts);
                return cli_usage_error("run", "invalid --mount '%s': target must be an absolute path", spec);
        }
        if (!strcmp(type, "bind")) {
                if (!src || src[0] != '/') {
                        strv_clear(&opts);
                        return cli_usage_error("run", "invalid --mount '%s': bind source must be an absolute path",
                                               spec);
                }
                struct stat st;
                if (stat(src, &st) < 0) {
                        strv_clear(&opts);
                        return cli_fail("invalid mount config for type \"bind\": bind source path does not exist: %s",
                                        src);
                }
                mounts_add(ms, "bind", src, dst, ro, &opts);
        } else if (!strcmp(type, "tmpfs")) {
                mounts_add(ms, "tmpfs", NULL, dst, ro, &opts);
        } else if (!strcmp(type, "volume")) {
                strv_clear(&opts);
                mounts_add(ms, "volume", src && *src ? src : NULL, dst, ro, NULL);
        } else {
                strv_clear(&opts);
                return cli_fail("--mount type=%s: only bind, volume and tmpfs are supported", type);
        }
        return 0;
}

/* --tmpfs /path[:opts] */
static int parse_tmpfs(struct mounts *ms, const char *spec)
{
        _cleanup_free_ char *s = kiln_xstrdup(spec);
        char *colon = strchr(s, ':');
        struct strv opts = { 0 };
        if (colon) {
                *colon = 0;
                char *save = NULL;
                for (char *o = strtok_r(colon + 1, ",", &save); o; o = strtok_r(NULL, ",", &save))
                        strv_add(&opts, o);
        }
        if (s[0] != '/') {
                strv_clear(&opts);
                return cli_usage_error("run", "invalid --tmpfs '%s': the path must be absolute", spec);
        }
        mounts_add(ms, "tmpfs", NULL, s, false, &opts);
        return 0;
}

struct run_args {
        struct kiln_container_opts o;
        struct strv env, cap_add, cap_drop, labels, cmd, entrypoint, publish;
        struct mounts mounts;
        bool detach, tty, interactive;
        bool entrypoint_set;
        struct kiln_id_map uidmap[32], gidmap[32];
        size_t n_uidmap, n_gidmap;
};

static void run_args_free(struct run_args *a)
{
        strv_clear(&a->env);
        strv_clear(&a->cap_add);
        strv_clear(&a->cap_drop);
        strv_clear(&a->labels);
        strv_clear(&a->cmd);
        strv_clear(&a->entrypoint);
        strv_clear(&a->publish);
        mounts_free(&a->mounts);
}

/* Parse run/create flags and IMAGE [CMD...]. Returns 0, or an exit code. */
static int parse_run(const char *cmdname, int argc, char **argv, struct run_args *a)
{
        enum {
                O_RM = 1000, O_NAME, O_ENVFILE, O_ENTRYPOINT, O_READONLY, O_TMPFS, O_MOUNT,
                O_INIT, O_CAPADD, O_CAPDROP, O_PRIV, O_SECOPT, O_USERNS, O_MEMSWAP, O_CPUS,
                O_PIDS, O_NETWORK, O_STOPSIG, O_STOPTIMEOUT, O_PULL, O_PLATFORM,
                O_HCMD, O_HINTERVAL, O_HTIMEOUT, O_HRETRIES, O_HSTART, O_NOHC, O_UIDMAP, O_GIDMAP,
        };
        static const struct option longopts[] = {
                { "detach", no_argument, NULL, 'd' },
                { "interactive", no_argument, NULL, 'i' },
                { "tty", no_argument, NULL, 't' },
                { "rm", no_argument, NULL, O_RM },
                { "name", required_argument, NULL, O_NAME },
                { "env", required_argument, NULL, 'e' },
                { "env-file", required_argument, NULL, O_ENVFILE },
                { "workdir", required_argument, NULL, 'w' },
                { "user", required_argument, NULL, 'u' },
                { "entrypoint", required_argument, NULL, O_ENTRYPOINT },
                { "hostname", required_argument, NULL, 'h' },
                { "read-only", no_argument, NULL, O_READONLY },
                { "tmpfs", required_argument, NULL, O_TMPFS },
                { "volume", required_argument, NULL, 'v' },
                { "mount", required_argument, NULL, O_MOUNT },
                { "init", no_argument, NULL, O_INIT },
                { "cap-add", required_argument, NULL, O_CAPADD },
                { "cap-drop", required_argument, NULL, O_CAPDROP },
                { "privileged", no_argument, NULL, O_PRIV },
                { "security-opt", required_argument, NULL, O_SECOPT },
                { "userns", required_argument, NULL, O_USERNS },
                { "uidmap", required_argument, NULL, O_UIDMAP },
                { "gidmap", required_argument, NULL, O_GIDMAP },
                { "memory", required_argument, NULL, 'm' },
                { "memory-swap", required_argument, NULL, O_MEMSWAP },
                { "cpus", required_argument, NULL, O_CPUS },
                { "cpu-shares", required_argument, NULL, 'c' },
                { "pids-limit", required_argument, NULL, O_PIDS },
                { "network", required_argument, NULL, O_NETWORK },
                { "net", required_argument, NULL, O_NETWORK },
                { "publish", required_argument, NULL, 'p' },
                { "publish-all", no_argument, NULL, 'P' },
                { "stop-signal", required_argument, NULL, O_STOPSIG },
                { "stop-timeout", required_argument, NULL, O_STOPTIMEOUT },
                { "label", required_argument, NULL, 'l' },
                { "pull", required_argument, NULL, O_PULL },
                { "platform", required_argument, NULL, O_PLATFORM },
                { "health-cmd", required_argument, NULL, O_HCMD },
                { "health-interval", required_argument, NULL, O_HINTERVAL },
                { "health-timeout", required_argument, NULL, O_HTIMEOUT },
                { "health-retries", required_argument, NULL, O_HRETRIES },
                { "health-start-period", required_argument, NULL, O_HSTART },
                { "no-healthcheck", no_argument, NULL, O_NOHC },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command(cmdname);
        a->o.stop_timeout = -1;
        int c, ex;
        /* '+': options end at the image name; -h is --hostname here, as docker */
        optind = 0;
        while ((c = getopt_long(argc, argv, "+:dite:w:u:h:v:m:c:p:Pl:", longopts, NULL)) != -1) {
                switch (c) {
                case 'd':
                        a->detach = true;
                        break;
                case 'i':
                        a->interactive = true;
                        break;
                case 't':
                        a->tty = true;
                        break;
                case O_RM:
                        a->o.auto_remove = true;
                        break;
                case O_NAME:
                        a->o.name = optarg;
                        break;
                case 'e':
                        add_env(&a->env, optarg);
                        break;
                case O_ENVFILE:
                        if ((ex = read_env_file(&a->env, optarg)))
                                return ex;
                        break;
                case 'w':
                        if (optarg[0] != '/')
                                return cli_usage_error(cmdname, "the working directory '%s' is invalid, it needs to be an absolute path",
                                                       optarg);
                        a->o.run.workdir = optarg;
                        break;
                case 'u':
                        a->o.run.user = optarg;
                        break;
                case O_ENTRYPOINT:
                        a->entrypoint_set = true;
                        strv_clear(&a->entrypoint);
                        if (*optarg)
                                strv_add(&a->entrypoint, optarg);
                        break;
                case 'h':
                        a->o.run.hostname = optarg;
                        break;
                case O_READONLY:
                        a->o.run.read_only = true;
                        break;
                case O_TMPFS:
                        if ((ex = parse_tmpfs(&a->mounts, optarg)))
                                return ex;
                        break;
                case 'v':
                        if ((ex = parse_volume(&a->mounts, optarg)))
                                return ex;
                        break;
                case O_MOUNT:
                        if ((ex = parse_mount(&a->mounts, optarg)))
                                return ex;
                        break;
                case O_INIT:
                        a->o.init = true;
                        break;
                case O_CAPADD:
                        strv_add(&a->cap_add, optarg);
                        break;
                case O_CAPDROP:
                        strv_add(&a->cap_drop, optarg);
                        break;
                case O_PRIV:
                        a->o.run.privileged = true;
                        break;
                case O_SECOPT:
                        if (kiln_startswith(optarg, "seccomp=") || kiln_startswith(optarg, "seccomp:"))
                                a->o.run.seccomp = optarg + 8;
                        else if (!strcmp(optarg, "no-new-privileges") ||
                                 !strcmp(optarg, "no-new-privileges:true") ||
                                 !strcmp(optarg, "no-new-privileges=true"))
                                a->o.run.no_new_privileges = true;
                        else if (!strcmp(optarg, "no-new-privileges:false") ||
                                 !strcmp(optarg, "no-new-privileges=false"))
                                a->o.run.no_new_privileges = false;
                        else if (kiln_startswith(optarg, "label") || kiln_startswith(optarg, "apparmor"))
                                fprintf(stderr, "Warning: --security-opt %s: no SELinux or AppArmor support, ignored\n",
                                        optarg);
                        else
                                return cli_usage_error(cmdname, "invalid --security-opt '%s'", optarg);
                        break;
                case O_USERNS:
                        if (strcmp(optarg, "host") && strcmp(optarg, "") && strcmp(optarg, "auto") &&
                            !kiln_startswith(optarg, "auto:size="))
                        {
                                cli_fail("--userns=%s: kiln supports host, auto and auto:size=N", optarg);
                                return EXIT_USAGE;
                        }
                        a->o.userns = optarg;
                        break;
                case O_UIDMAP:
                case O_GIDMAP: {
                        bool uid = c == O_UIDMAP;
                        size_t *n = uid ? &a->n_uidmap : &a->n_gidmap;
                        if (*n >= 32)
                                return cli_usage_error(cmdname, "too many --%s values", uid ? "uidmap" : "gidmap");
                        if (kiln_id_map_parse(optarg, uid ? &a->uidmap[*n] : &a->gidmap[*n]) < 0)
                                return cli_usage_error(cmdname, "invalid --%s '%s': expected CONTAINER:HOST:SIZE",
                                                       uid ? "uidmap" : "gidmap", optarg);
                        (*n)++;
                        break;
                }
                case 'm':
                        a->o.run.memory = parse_size(optarg);
                        if (a->o.run.memory < 6 * 1024 * 1024)
                                return cli_usage_error(cmdname, "invalid --memory '%s': minimum is 6MB", optarg);
                        break;
                case O_MEMSWAP:
                        if (!strcmp(optarg, "-1")) {
                                a->o.run.memory_swap = -1;
                        } else {
                                a->o.run.memory_swap = parse_size(optarg);
                                if (a->o.run.memory_swap <= 0)
                                        return cli_usage_error(cmdname, "invalid --memory-swap '%s'", optarg);
                        }
                        break;
                case O_CPUS: {
                        char *end;
                        double v = strtod(optarg, &end);
                        if (*end || v <= 0)
                                return cli_usage_error(cmdname, "invalid --cpus '%s'", optarg);
                        a->o.run.cpus = v;
                        break;
                }
                case 'c': {
                        char *end;
                        unsigned long v = strtoul(optarg, &end, 10);
                        if (*end || v < 2)
                                return cli_usage_error(cmdname, "invalid --cpu-shares '%s'", optarg);
                        a->o.run.cpu_shares = v;
                        break;
                }
                case O_PIDS: {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || v < -1 || v == 0)
                                return cli_usage_error(cmdname, "invalid --pids-limit '%s'", optarg);
                        a->o.run.pids_limit = v;
                        break;
                }
                case O_NETWORK:
                        if (!strcmp(optarg, "none") || !strcmp(optarg, "host") || !strcmp(optarg, "bridge") ||
                            !strcmp(optarg, "pasta") || (kiln_startswith(optarg, "container:") && optarg[10]))
                                a->o.network = optarg;
                        else if (!strcmp(optarg, "default"))
                                a->o.network = NULL;
                        else {
                                cli_fail(!strcmp(optarg, "container:")
                                                 ? "--network container: needs a container name or ID%s"
                                                 : "network %s not found (kiln has bridge, none, host, pasta and container:NAME|ID)",
                                         !strcmp(optarg, "container:") ? "" : optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'P':
                        a->o.publish_all = true;
                        break;
                case 'p':
                        strv_add(&a->publish, optarg);
                        break;
                case O_STOPSIG:
                        if (kiln_signal_parse(optarg) <= 0)
                                return cli_usage_error(cmdname, "invalid --stop-signal '%s'", optarg);
                        a->o.stop_signal = optarg;
                        break;
                case O_STOPTIMEOUT: {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || v < -1)
                                return cli_usage_error(cmdname, "invalid --stop-timeout '%s'", optarg);
                        a->o.stop_timeout = (int)v;
                        break;
                }
                case 'l':
                        strv_add(&a->labels, optarg);
                        break;
                case O_PULL:
                        if (strcmp(optarg, "never") && strcmp(optarg, "missing"))
                                return cli_fail("--pull=%s: pulling is not supported yet", optarg);
                        break;
                case O_PLATFORM:
                        break;
                case O_HCMD:
                        a->o.health_cmd = optarg;
                        break;
                case O_HINTERVAL:
                case O_HTIMEOUT:
                case O_HSTART: {
                        int64_t ns;
                        const char *flag = c == O_HINTERVAL ? "--health-interval"
                                           : c == O_HTIMEOUT ? "--health-timeout"
                                                             : "--health-start-period";
                        if (cli_parse_duration(optarg, &ns) < 0)
                                return cli_usage_error(cmdname, "invalid argument \"%s\" for \"%s\" flag: "
                                                       "invalid duration", optarg, flag);
                        if (ns < 0 || (ns > 0 && ns < 1000000 && c != O_HSTART))
                                return cli_usage_error(cmdname, "%s cannot be less than 1ms", flag);
                        if (c == O_HINTERVAL)
                                a->o.health_interval = ns;
                        else if (c == O_HTIMEOUT)
                                a->o.health_timeout = ns;
                        else
                                a->o.health_start_period = ns;
                        break;
                }
                case O_HRETRIES: {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (!*optarg || *end || v < 0 || v > INT32_MAX)
                                return cli_usage_error(cmdname, "invalid --health-retries '%s'", optarg);
                        a->o.health_retries = (int)v;
                        break;
                }
                case O_NOHC:
                        a->o.no_healthcheck = true;
                        break;
                case '?':
                        if (optopt)
                                return cli_usage_error(cmdname, "unknown shorthand flag: '%c' in -%c", optopt, optopt);
                        if (!strcmp(argv[optind - 1], "--help")) {
                                fputs(cmd->usage, stdout);
                                return -1;
                        }
                        return cli_usage_error(cmdname, "unknown flag: %s", argv[optind - 1]);
                case ':':
                        return cli_usage_error(cmdname, "flag needs an argument: %s", argv[optind - 1]);
                }
        }
        if (optind >= argc)
                return cli_usage_error(cmdname, "\"kiln %s\" requires at least 1 argument", cmdname);
        if (a->o.no_healthcheck && (a->o.health_cmd || a->o.health_interval || a->o.health_timeout ||
                                    a->o.health_retries || a->o.health_start_period))
                return cli_usage_error(cmdname, "--no-healthcheck conflicts with --health-* options");
        a->o.image = argv[optind];
        for (int i = optind + 1; i < argc; i++)
                strv_add(&a->cmd, argv[i]);
        a->o.run.env = a->env.v;
        a->o.run.cap_add = a->cap_add.v;
        a->o.run.cap_drop = a->cap_drop.v;
        a->o.labels = a->labels.v;
        a->o.publish = a->publish.v;
        a->o.run.uid_maps = a->uidmap;
        a->o.run.n_uid_maps = a->n_uidmap;
        a->o.run.gid_maps = a->gidmap;
        a->o.run.n_gid_maps = a->n_gidmap;
        a->o.run.cmd = a->cmd.n ? a->cmd.v : NULL;
        static char *const no_entrypoint[] = { NULL };
        if (a->entrypoint_set)
                a->o.run.entrypoint = a->entrypoint.n ? a->entrypoint.v : no_entrypoint;
        a->o.run.mounts = a->mounts.m;
        a->o.run.n_mounts = a->mounts.n;
        a->o.run.tty = a->tty;
        a->o.interactive = a->interactive;
        a->o.run.rootless = geteuid() != 0;
        if (a->tty && !a->detach && !isatty(STDIN_FILENO) && a->interactive)
                return cli_fail("the input device is not a TTY");
        return 0;
}

static bool wants_help(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                if (argv[i][0] != '-')
                        return false;
                if (!strcmp(argv[i], "--help"))
                        return true;
        }
        return false;
}

static int run_or_create(struct cli_ctx *ctx, int argc, char **argv, bool start)
{
        const char *cmdname = start ? "run" : "create";
        if (wants_help(argc, argv)) {
                fputs(cli_find_command(cmdname)->usage, stdout);
                return 0;
        }
        struct run_args a = { 0 };
        int ex = parse_run(cmdname, argc, argv, &a);
        if (ex) {
                run_args_free(&a);
                return ex < 0 ? 0 : ex;
        }
        /* attached: a Ctrl-C from now on is the container's (forwarded once it
         * runs), never the end of kiln halfway through the start. Blocked
         * before any thread exists: a thread with the signals open would
         * take a process-directed SIGINT and die of it, with kiln */
        if (start && !a.detach)
                kiln_container_block_proxied_signals();
        /* run: the container's cgroup attach waits for an RCU grace period;
         * pay it in the background while the container is made */
        if (start)
                kiln_rt_cgroup_warm();
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r) {
                run_args_free(&a);
                return EXIT_USAGE;
        }
        struct kiln_error err = { 0 };
        _cleanup_free_ char *id = NULL;
        r = kiln_container_create(store, &a.o, &id, &err);
        if (r < 0) {
                run_args_free(&a);
                cli_fail_err(&err);
                return EXIT_USAGE;
        }
        if (!start) {
                printf("%s\n", id);
                run_args_free(&a);
                return 0;
        }
        unsigned flags = (a.detach ? 0 : KILN_START_ATTACH) | (a.interactive ? KILN_START_STDIN : 0);
        int status = 0;
        r = kiln_container_start(store, id, flags, &status, &err);
        bool detach = a.detach, auto_rm = a.o.auto_remove;
        run_args_free(&a);
        if (r < 0) {
                cli_fail_err(&err);
                /* --rm: a container that could not start goes too (docker) */
                if (auto_rm)
                        kiln_container_remove(store, id, true, true, NULL);
                /* as docker: the command could not be found (127) or run (126) */
                if (strstr(err.msg, "container init: exec:"))
                        return r == -ENOENT || strstr(err.msg, "not found") ||
                                               strstr(err.msg, "No such file")
                                       ? 127
                                       : 126;
                return EXIT_USAGE;
        }
        if (detach) {
                printf("%s\n", id);
                return 0;
        }
        return status;
}

int cmd_run(struct cli_ctx *ctx, int argc, char **argv)
{
        return run_or_create(ctx, argc, argv, true);
}

int cmd_create(struct cli_ctx *ctx, int argc, char **argv)
{
        return run_or_create(ctx, argc, argv, false);
}

int cmd_start(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "attach", no_argument, NULL, 'a' },
                { "interactive", no_argument, NULL, 'i' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("start");
        bool attach = false, inter = false;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "ai", longopts, cmd, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'a')
                        attach = true;
                if (c == 'i')
                        inter = true;
        }
        if (optind >= argc)
                return cli_usage_error("start", "\"kiln start\" requires at least 1 argument");
        if (attach)
                kiln_container_block_proxied_signals(); /* as run: see run_or_create */
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        int status = 0, result = 0;
        for (int i = optind; i < argc; i++) {
                struct kiln_error err = { 0 };
                unsigned flags = (attach ? KILN_START_ATTACH : 0) | (inter ? KILN_START_STDIN : 0);
                r = kiln_container_start(store, argv[i], flags, &status, &err);
                if (r < 0)
                        result = cli_fail_err(&err);
                else if (attach)
                        result = status;
                else
                        printf("%s\n", argv[i]);
        }
        return result;
}

/* docker ps's PORTS: "0.0.0.0:8080->80/tcp, 81/tcp" (caller frees). */
static char *ports_text(json_t *d)
{
        struct kiln_buf b = KILN_BUF_INIT;
        const char *key;
        json_t *list;
        json_object_foreach(json_object_get(json_object_get(d, "NetworkSettings"), "Ports"), key, list)
        {
                if (!json_array_size(list)) {
                        kiln_buf_printf(&b, "%s%s", b.len ? ", " : "", key);
                        continue;
                }
                size_t i;
                json_t *bd;
                json_array_foreach(list, i, bd) kiln_buf_printf(
                        &b, "%s%s:%s->%s", b.len ? ", " : "",
                        json_string_value(json_object_get(bd, "HostIp")) ?: "0.0.0.0",
                        json_string_value(json_object_get(bd, "HostPort")) ?: "", key);
        }
        return b.data ? kiln_buf_steal(&b) : kiln_xstrdup("");
}

/* "Up 5 seconds", "Exited (0) 3 minutes ago", "Created" */
static void status_text(json_t *st, char *out, size_t n)
{
        const char *status = json_string_value(json_object_get(st, "Status"));
        int64_t now = (int64_t)time(NULL);
        if (json_is_true(json_object_get(st, "Running"))) {
                int64_t t = kiln_parse_rfc3339(json_string_value(json_object_get(st, "StartedAt")));
                char ago[64];
                kiln_format_ago(t, now, ago, sizeof(ago));
                /* "5 seconds ago" -> "Up 5 seconds" */
                char *p = strstr(ago, " ago");
                if (p)
                        *p = 0;
                /* docker's health suffix */
                const char *h = json_string_value(json_object_get(json_object_get(st, "Health"), "Status"));
                snprintf(out, n, "Up %s%s", ago,
                         !h                           ? ""
                         : !strcmp(h, "healthy")      ? " (healthy)"
                         : !strcmp(h, "unhealthy")    ? " (unhealthy)"
                                                      : " (health: starting)");
        } else if (status && !strcmp(status, "exited")) {
                int64_t t = kiln_parse_rfc3339(json_string_value(json_object_get(st, "FinishedAt")));
                char ago[64];
                kiln_format_ago(t, now, ago, sizeof(ago));
                snprintf(out, n, "Exited (%lld) %s", (long long)json_integer_value(json_object_get(st, "ExitCode")),
                         ago);
        } else {
                snprintf(out, n, "Created");
        }
}

int cmd_ps(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "all", no_argument, NULL, 'a' },
                { "quiet", no_argument, NULL, 'q' },
                { "no-trunc", no_argument, NULL, 'N' },
                { "format", required_argument, NULL, 'F' },
                { "latest", no_argument, NULL, 'l' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("ps");
        bool all = false, quiet = false, no_trunc = false, latest = false;
        const char *format = NULL;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "aql", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'a':
                        all = true;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'N':
                        no_trunc = true;
                        break;
                case 'F':
                        format = optarg;
                        break;
                case 'l':
                        latest = true;
                        all = true;
                        break;
                }
        }
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        json_t *list;
        r = kiln_container_list(store, &list, &err);
        if (r < 0)
                return cli_fail_err(&err);
        json_t *out = json_array();
        struct cli_table t;
        static const char *const hdr[] = { "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES" };
        cli_table_init(&t, 7, hdr);
        size_t i;
        json_t *d;
        int64_t now = (int64_t)time(NULL);
        json_array_foreach(list, i, d)
        {
                json_t *st = json_object_get(d, "State");
                if (!all && !json_is_true(json_object_get(st, "Running")))
                        continue;
                if (latest && json_array_size(out) >= 1)
                        break;
                const char *id = json_string_value(json_object_get(d, "Id"));
                char sid[16];
                snprintf(sid, sizeof(sid), "%.12s", id);
                struct kiln_buf cmdline = KILN_BUF_INIT;
                kiln_buf_puts(&cmdline, json_string_value(json_object_get(d, "Path")) ?: "");
                size_t k;
                json_t *arg;
                json_array_foreach(json_object_get(d, "Args"), k, arg) kiln_buf_printf(&cmdline, " %s",
                                                                                       json_string_value(arg));
                char status[96], created[64];
                status_text(st, status, sizeof(status));
                kiln_format_ago(kiln_parse_rfc3339(json_string_value(json_object_get(d, "Created"))), now,
                                created, sizeof(created));
                json_t *o = json_object();
                json_object_set_new(o, "Id", json_string(id));
                json_object_set_new(o, "Names", json_pack("[O]", json_object_get(d, "Name")));
                json_object_set(o, "Image", json_object_get(d, "ImageName"));
                json_object_set(o, "ImageID", json_object_get(d, "Image"));
                json_object_set_new(o, "Command", json_string(cmdline.data ? cmdline.data : ""));
                json_object_set(o, "Created", json_object_get(d, "Created"));
                json_object_set(o, "State", json_object_get(st, "Status"));
                json_object_set_new(o, "Status", json_string(status));
                json_object_set(o, "Pid", json_object_get(st, "Pid"));
                json_object_set(o, "ExitCode", json_object_get(st, "ExitCode"));
                json_object_set(o, "Labels", json_object_get(json_object_get(d, "Config"), "Labels"));
                json_array_append_new(out, o);
                if (quiet) {
                        printf("%s\n", no_trunc ? id : sid);
                } else if (!format || !strcmp(format, "table")) {
                        _cleanup_free_ char *cq = NULL;
                        if (!no_trunc && cmdline.len > 20)
                                cq = kiln_xasprintf("\"%.19s…\"", cmdline.data);
                        else
                                cq = kiln_xasprintf("\"%s\"", cmdline.data ? cmdline.data : "");
                        _cleanup_free_ char *pt = ports_text(d);
                        const char *cells[] = { no_trunc ? id : sid,
                                                json_string_value(json_object_get(d, "ImageName")), cq,
                                                created, status, pt,
                                                json_string_value(json_object_get(d, "Name")) };
                        cli_table_add(&t, cells);
                } else if (strcmp(format, "json")) {
                        struct kiln_buf line = KILN_BUF_INIT;
                        json_t *tv = json_object();
                        json_object_set_new(tv, "ID", json_string(no_trunc ? id : sid));
                        json_object_set(tv, "Image", json_object_get(d, "ImageName"));
                        json_object_set_new(tv, "Command", json_string(cmdline.data ? cmdline.data : ""));
                        json_object_set_new(tv, "CreatedAt", json_incref(json_object_get(d, "Created")));
                        json_object_set_new(tv, "Status", json_string(status));
                        {
                                char *pt = ports_text(d);
                                json_object_set_new(tv, "Ports", json_string(pt));
                                free(pt);
                        }
                        json_object_set(tv, "State", json_object_get(st, "Status"));
                        json_object_set(tv, "Names", json_object_get(d, "Name"));
                        r = cli_format_template(format, tv, &line, &err);
                        json_decref(tv);
                        if (r >= 0)
                                printf("%s\n", line.data ? line.data : "");
                        kiln_buf_free(&line);
                }
                kiln_buf_free(&cmdline);
        }
        if (!quiet) {
                if (format && !strcmp(format, "json")) {
                        char *s = json_dumps(out, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
                        printf("%s\n", s);
                        free(s);
                } else if (!format || !strcmp(format, "table")) {
                        cli_table_print(&t, stdout);
                }
        }
        cli_table_free(&t);
        json_decref(out);
        json_decref(list);
        return r < 0 ? cli_fail_err(&err) : 0;
}

/* One json-file log line to our stdout/stderr. */
static void print_log_line(const char *line, bool timestamps)
{
        json_t *o = json_loads(line, 0, NULL);
        if (!o)
                return;
        const char *log = json_string_value(json_object_get(o, "log"));
        const char *stream = json_string_value(json_object_get(o, "stream"));
        const char *time_ = json_string_value(json_object_get(o, "time"));
        FILE *f = stream && !strcmp(stream, "stderr") ? stderr : stdout;
        if (log) {
                if (timestamps && time_)
                        fprintf(f, "%s ", time_);
                fputs(log, f);
                fflush(f);
        }
        json_decref(o);
}

int cmd_logs(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "follow", no_argument, NULL, 'f' },
                { "tail", required_argument, NULL, 'n' },
                { "timestamps", no_argument, NULL, 't' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("logs");
        bool follow = false, ts = false;
        long tail = -1;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "fn:t", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'f':
                        follow = true;
                        break;
                case 't':
                        ts = true;
                        break;
                case 'n': {
                        char *end;
                        if (!strcmp(optarg, "all")) {
                                tail = -1;
                                break;
                        }
                        tail = strtol(optarg, &end, 10);
                        if (*end || tail < 0)
                                return cli_usage_error("logs", "invalid --tail '%s'", optarg);
                        break;
                }
                }
        }
        if (argc - optind != 1)
                return cli_usage_error("logs", "\"kiln logs\" requires exactly 1 argument");
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        json_t *doc;
        r = kiln_container_inspect(store, argv[optind], &doc, &err);
        if (r < 0)
                return cli_fail_err(&err);
        _cleanup_free_ char *id = kiln_xstrdup(json_string_value(json_object_get(doc, "Id")));
        json_decref(doc);
        _cleanup_free_ char *path = kiln_container_log_path(store, id);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT && !follow)
                        return 0;
        }
        /* --tail: count lines first */
        long skip = 0;
        if (f && tail >= 0) {
                long lines = 0;
                int ch;
                while ((ch = getc(f)) != EOF)
                        if (ch == '\n')
                                lines++;
                skip = lines > tail ? lines - tail : 0;
                rewind(f);
        }
        char *line = NULL;
        size_t cap = 0;
        for (;;) {
                while (f && getline(&line, &cap, f) > 0) {
                        if (skip > 0) {
                                skip--;
                                continue;
                        }
                        print_log_line(line, ts);
                }
                if (!follow)
                        break;
                /* follow while the container runs */
                json_t *d;
                if (kiln_container_inspect(store, id, &d, NULL) < 0)
                        break;
                bool run = json_is_true(json_object_get(json_object_get(d, "State"), "Running"));
                json_decref(d);
                if (!run) {
                        /* a last read of what the monitor flushed at exit */
                        while (f && getline(&line, &cap, f) > 0)
                                print_log_line(line, ts);
                        break;
                }
                if (f)
                        clearerr(f);
                else
                        f = fopen(path, "re");
                usleep(50000);
        }
        free(line);
        return 0;
}

struct stop_args {
        int timeout;
        bool restart;
};

static int stop_one(struct kiln_store *s, const char *what, void *ud, struct kiln_error *err)
{
        struct stop_args *a = ud;
        int r = kiln_container_stop(s, what, a->timeout, err);
        if (r >= 0 && a->restart)
                r = kiln_container_start(s, what, 0, NULL, err);
        return r;
}

static int kill_one(struct kiln_store *s, const char *what, void *ud, struct kiln_error *err)
{
        return kiln_container_kill(s, what, *(int *)ud, err);
}

struct rm_args {
        bool force, volumes;
};

static int rm_one(struct kiln_store *s, const char *what, void *ud, struct kiln_error *err)
{
        struct rm_args *a = ud;
        return kiln_container_remove(s, what, a->force, a->volumes, err);
}

int cmd_stop(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "time", required_argument, NULL, 't' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command(argv[0] && !strcmp(argv[0], "restart") ? "restart" : "stop");
        int timeout = -1;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "t:", longopts, cmd, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 't') {
                        char *end;
                        timeout = (int)strtol(optarg, &end, 10);
                        if (*end || timeout < 0)
                                return cli_usage_error(cmd->name, "invalid --time '%s'", optarg);
                }
        }
        struct stop_args a = { timeout, !strcmp(cmd->name, "restart") };
        return cli_for_each_arg(ctx, cmd->name, argc, argv, stop_one, &a);
}

int cmd_kill(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "signal", required_argument, NULL, 's' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("kill");
        int sig = SIGKILL;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "s:", longopts, cmd, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 's') {
                        sig = kiln_signal_parse(optarg);
                        if (sig <= 0)
                                return cli_usage_error("kill", "invalid signal '%s'", optarg);
                }
        }
        return cli_for_each_arg(ctx, "kill", argc, argv, kill_one, &sig);
}

int cmd_rm(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "force", no_argument, NULL, 'f' },
                { "volumes", no_argument, NULL, 'v' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("rm");
        bool force = false, volumes = false;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "fv", longopts, cmd, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'f')
                        force = true;
                if (c == 'v')
                        volumes = true;
        }
        struct rm_args a = { force, volumes };
        return cli_for_each_arg(ctx, "rm", argc, argv, rm_one, &a);
}

int cmd_wait(struct cli_ctx *ctx, int argc, char **argv)
{
        const struct cli_command *cmd = cli_find_command("wait");
        int c, ex;
        while ((c = cli_getopt(argc, argv, "", NULL, cmd, &ex)) != -1)
                if (c == -2)
                        return ex;
        if (optind >= argc)
                return cli_usage_error("wait", "\"kiln wait\" requires at least 1 argument");
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        int result = 0;
        for (int i = optind; i < argc; i++) {
                struct kiln_error err = { 0 };
                int status;
                if (kiln_container_wait(store, argv[i], &status, &err) < 0)
                        result = cli_fail_err(&err);
                else
                        printf("%d\n", status);
        }
        return result;
}

/* kiln port CONTAINER [PRIVATE_PORT[/PROTO]]: "80/tcp -> 0.0.0.0:8080" lines. */
int cmd_port(struct cli_ctx *ctx, int argc, char **argv)
{
        const struct cli_command *cmd = cli_find_command("port");
        int c, ex;
        while ((c = cli_getopt(argc, argv, "", NULL, cmd, &ex)) != -1)
                if (c == -2)
                        return ex;
        if (optind >= argc || argc - optind > 2)
                return cli_usage_error("port", "\"kiln port\" requires 1 or 2 arguments");
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        json_t *doc = NULL;
        if (kiln_container_inspect(store, argv[optind], &doc, &err) < 0)
                return cli_fail_err(&err);
        _cleanup_free_ char *want = NULL;
        if (optind + 1 < argc)
                want = strchr(argv[optind + 1], '/') ? kiln_xstrdup(argv[optind + 1])
                                                     : kiln_xasprintf("%s/tcp", argv[optind + 1]);
        json_t *ports = json_object_get(json_object_get(doc, "NetworkSettings"), "Ports");
        const char *key;
        json_t *list;
        bool any = false;
        json_object_foreach(ports, key, list)
        {
                if (want && strcmp(want, key))
                        continue;
                size_t i;
                json_t *b;
                json_array_foreach(list, i, b)
                {
                        const char *ip = json_string_value(json_object_get(b, "HostIp"));
                        const char *hp = json_string_value(json_object_get(b, "HostPort"));
                        if (want)
                                printf("%s:%s\n", ip && *ip ? ip : "0.0.0.0", hp ? hp : "");
                        else
                                printf("%s -> %s:%s\n", key, ip && *ip ? ip : "0.0.0.0", hp ? hp : "");
                        any = true;
                }
        }
        json_decref(doc);
        if (want && !any)
                return cli_fail("no public port '%s' published for %s", want, argv[optind]);
        return 0;
}

int cmd_exec(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "interactive", no_argument, NULL, 'i' }, { "tty", no_argument, NULL, 't' },
                { "user", required_argument, NULL, 'u' },  { "env", required_argument, NULL, 'e' },
                { "workdir", required_argument, NULL, 'w' }, { "detach", no_argument, NULL, 'd' },
                { "privileged", no_argument, NULL, 'P' },  { 0 },
        };
        const struct cli_command *cmd = cli_find_command("exec");
        struct kiln_container_exec_opts o = { 0 };
        struct strv env = { 0 };
        int c, ex;
        while ((c = cli_getopt(argc, argv, "+itu:e:w:d", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        strv_clear(&env);
                        return ex;
                case 'i':
                        o.interactive = true;
                        break;
                case 't':
                        o.tty = true;
                        break;
                case 'u':
                        o.user = optarg;
                        break;
                case 'e':
                        add_env(&env, optarg);
                        break;
                case 'w':
                        o.workdir = optarg;
                        break;
                case 'd':
                        o.detach = true;
                        break;
                case 'P':
                        o.privileged = true;
                        break;
                }
        }
        if (argc - optind < 2) {
                strv_clear(&env);
                return cli_usage_error("exec", "\"kiln exec\" requires at least 2 arguments");
        }
        o.env = env.v;
        o.args = argv + optind + 1;
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r) {
                strv_clear(&env);
                return r;
        }
        struct kiln_error err = { 0 };
        int status = 0;
        r = kiln_container_exec(store, argv[optind], &o, &status, &err);
        strv_clear(&env);
        if (r < 0) {
                cli_fail_err(&err);
                return r == -ENOENT ? 127 : 126;
        }
        return status;
}

int cmd_healthcheck_run(struct cli_ctx *ctx, int argc, char **argv)
{
        const struct cli_command *cmd = cli_find_command("healthcheck run");
        int c, ex;
        while ((c = cli_getopt(argc, argv, "", NULL, cmd, &ex)) != -1)
                if (c == -2)
                        return ex;
        if (argc - optind != 1)
                return cli_usage_error("healthcheck run",
                                       "\"kiln healthcheck run\" requires exactly 1 argument");
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        if (cli_open_store(ctx, &store))
                return EXIT_USAGE;
        struct kiln_error err = { 0 };
        bool healthy = false;
        if (kiln_container_healthcheck_run(store, argv[optind], &healthy, &err) < 0) {
                cli_fail_err(&err);
                return EXIT_USAGE; /* podman: 125 for an error */
        }
        if (healthy)
                return 0;
        /* podman: "unhealthy" (also while starting) and status 1 */
        printf("unhealthy\n");
        return 1;
}

int cmd_container_prune(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "force", no_argument, NULL, 'f' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("container prune");
        int c, ex;
        while ((c = cli_getopt(argc, argv, "f", longopts, cmd, &ex)) != -1)
                if (c == -2)
                        return ex;
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        json_t *list;
        r = kiln_container_list(store, &list, &err);
        if (r < 0)
                return cli_fail_err(&err);
        size_t i;
        json_t *d;
        bool header = false;
        json_array_foreach(list, i, d)
        {
                if (json_is_true(json_object_get(json_object_get(d, "State"), "Running")))
                        continue;
                const char *id = json_string_value(json_object_get(d, "Id"));
                if (kiln_container_remove(store, id, false, false, &err) < 0) {
                        cli_fail_err(&err);
                        continue;
                }
                if (!header)
                        printf("Deleted Containers:\n");
                header = true;
                printf("%s\n", id);
        }
        json_decref(list);
        if (header)
                printf("\n");
        return 0;
}
