/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln runtime / kiln-runtime: the OCI runtime with runc's command line, so
 * podman (--runtime), conmon, containerd or a user can drive it:
 *   kiln-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND ...
 * Errors: "Error: ..." on stderr, and a line in the --log file (runc's JSON
 * {"level":"error","msg":...,"time":...} with --log-format json, which
 * podman and conmon read back), exit status 1.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include "cli.h"
#include "kiln-config.h"
#include "kiln/fs.h"
#include "kiln/runtime.h"

#define RUNTIME_SPEC_VERSION "1.0.2"

struct rt_ctx {
        const char *prog;       /* "kiln runtime" or "kiln-runtime" */
        char *root;             /* state root */
        const char *log_file;
        bool log_json;
        bool debug;
        char **argv0;           /* the process's argv, for the re-exec */
};

static struct rt_ctx *g_rt;

static void log_line(const char *level, const char *msg)
{
        if (!g_rt || !g_rt->log_file)
                return;
        int fd = open(g_rt->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        char ts[64];
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        struct tm tm;
        gmtime_r(&now.tv_sec, &tm);
        size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + n, sizeof(ts) - n, ".%09ldZ", now.tv_nsec);
        char *line;
        if (g_rt->log_json) {
                json_t *j = json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", ts);
                char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
                json_decref(j);
                line = kiln_xasprintf("%s\n", s ? s : "");
                free(s);
        } else {
                json_t *q = json_string(msg);
                char *s = json_dumps(q, JSON_ENCODE_ANY);
                json_decref(q);
                line = kiln_xasprintf("time=\"%s\" level=%s msg=%s\n", ts, level, s ? s : "\"\"");
                free(s);
        }
        if (kiln_fs_write_all(fd, line, strlen(line)) < 0) {
        }
        free(line);
        close(fd);
}

__attribute__((format(printf, 1, 2))) static int rt_fail(const char *fmt, ...)
{
        char msg[KILN_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_line("error", msg);
        fprintf(stderr, "Error: %s\n", msg);
        return 1;
}

static int rt_fail_err(const struct kiln_error *err)
{
        return rt_fail("%s", err->msg[0] ? err->msg : kiln_strerror(err->code));
}

static void warn_handler(void *ud, const char *msg)
{
        log_line("warning", msg);
        fprintf(stderr, "Warning: %s\n", msg);
}

static void maybe_clone(void)
{
        int r = cli_ensure_cloned_binary();
        if (r < 0 && g_rt->debug)
                fprintf(stderr, "kiln-runtime: not running from a sealed copy: %s\n", strerror(-r));
}

static const char runtime_usage[] =
        "Usage:  kiln-runtime [GLOBAL OPTIONS] COMMAND [OPTIONS] ARGS\n"
        "        kiln runtime [GLOBAL OPTIONS] COMMAND [OPTIONS] ARGS\n\n"
        "An OCI runtime with runc's command line.\n\n"
        "Commands:\n"
        "  create     Create a container from a bundle\n"
        "  start      Run the user process of a created container\n"
        "  run        Create and start a container, wait for it (unless --detach)\n"
        "  state      Print the state of a container (JSON)\n"
        "  kill       Send a signal to the container's init (default SIGTERM)\n"
        "  delete     Delete a stopped container (--force: kill it first)\n"
        "  exec       Run a process in a running container\n"
        "  ps         List the processes of a container\n"
        "  list, ls   List containers\n"
        "  spec       Write an example config.json\n"
        "  features   Print what this runtime supports (JSON)\n\n"
        "Global options:\n"
        "      --root DIR          State directory (default /run/kiln/runtime as root)\n"
        "      --log FILE          Append errors and warnings to FILE\n"
        "      --log-format FMT    text (default) or json\n"
        "      --debug             More output\n"
        "      --systemd-cgroup    Accepted for compatibility; systemd is not supported\n"
        "      --rootless VALUE    Accepted for compatibility (true|false|auto)\n"
        "  -v, --version           Print the version\n"
        "  -h, --help              Print this help\n";

static const struct cli_command c_create = {
        "runtime create", NULL, "Create a container",
        "Usage:  kiln-runtime create [OPTIONS] ID\n\n"
        "Create a container from a bundle; it waits for 'start' before running\n"
        "process.args.\n\n"
        "Options:\n"
        "  -b, --bundle DIR         Bundle directory (default: current directory)\n"
        "      --pid-file FILE      Write the init's pid to FILE\n"
        "      --console-socket S   AF_UNIX socket to receive the pty master\n"
        "      --preserve-fds N     Pass N more fds (3 .. 3+N-1) to the process\n"
        "      --no-pivot           Use MS_MOVE and chroot instead of pivot_root\n"
        "      --no-new-keyring     Keep the caller's session keyring\n"
};
static const struct cli_command c_run = {
        "runtime run", NULL, "Create and start a container",
        "Usage:  kiln-runtime run [OPTIONS] ID\n\n"
        "Create and start a container; without --detach wait for it, forward signals,\n"
        "delete it afterwards and exit with its status.\n\n"
        "Options:\n"
        "  -b, --bundle DIR         Bundle directory (default: current directory)\n"
        "      --pid-file FILE      Write the init's pid to FILE\n"
        "      --console-socket S   AF_UNIX socket to receive the pty master\n"
        "  -d, --detach             Return once the container runs\n"
        "      --preserve-fds N     Pass N more fds to the process\n"
        "      --no-pivot           Use MS_MOVE and chroot instead of pivot_root\n"
        "      --no-new-keyring     Keep the caller's session keyring\n"
};
static const struct cli_command c_simple = { "runtime", NULL, "", "" };
static const struct cli_command c_start = { "runtime start", NULL, "",
                                            "Usage:  kiln-runtime start ID\n" };
static const struct cli_command c_state = { "runtime state", NULL, "",
                                            "Usage:  kiln-runtime state ID\n" };
static const struct cli_command c_kill = {
        "runtime kill", NULL, "",
        "Usage:  kiln-runtime kill [OPTIONS] ID [SIGNAL]\n\n"
        "Send SIGNAL (name or number, default SIGTERM) to the container's init.\n\n"
        "Options:\n"
        "  -a, --all   Signal every process in the container's cgroup\n"
};
static const struct cli_command c_delete = {
        "runtime delete", NULL, "",
        "Usage:  kiln-runtime delete [OPTIONS] ID\n\n"
        "Options:\n"
        "  -f, --force   Kill the container (SIGKILL) if it still runs\n"
};
static const struct cli_command c_exec = {
        "runtime exec", NULL, "",
        "Usage:  kiln-runtime exec [OPTIONS] ID [COMMAND [ARGS...]]\n\n"
        "Run a process in a running container.\n\n"
        "Options:\n"
        "  -p, --process FILE       An OCI process object (JSON) to run\n"
        "      --console-socket S   AF_UNIX socket to receive the pty master\n"
        "      --pid-file FILE      Write the process's pid to FILE\n"
        "  -d, --detach             Do not wait for the process\n"
        "  -t, --tty                Allocate a pseudo-TTY\n"
        "      --cwd DIR            Working directory in the container\n"
        "  -e, --env K=V            Set an environment variable (repeatable)\n"
        "  -u, --user UID[:GID]     User to run as\n"
        "      --additional-gids G  Additional group (repeatable)\n"
        "  -c, --cap CAP            Add a capability (repeatable)\n"
        "      --no-new-privs       Set no_new_privs\n"
};
static const struct cli_command c_ps = {
        "runtime ps", NULL, "",
        "Usage:  kiln-runtime ps [OPTIONS] ID [PS OPTIONS]\n\n"
        "Options:\n"
        "  -f, --format FMT   table (default) or json (an array of pids)\n"
};
static const struct cli_command c_list = {
        "runtime list", NULL, "",
        "Usage:  kiln-runtime list [OPTIONS]\n\n"
        "Options:\n"
        "  -f, --format FMT   table (default) or json\n"
        "  -q, --quiet        Print only IDs\n"
};
static const struct cli_command c_spec = {
        "runtime spec", NULL, "",
        "Usage:  kiln-runtime spec [OPTIONS]\n\n"
        "Write an example config.json (sh in ./rootfs) into the bundle directory.\n\n"
        "Options:\n"
        "  -b, --bundle DIR   Where to write config.json (default: current directory)\n"
        "      --rootless     A spec for a rootless container (user namespace)\n"
};

static int parse_int_arg(const char *s, int *ret)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || *end || v < 0 || v > 1 << 20)
                return -EINVAL;
        *ret = (int)v;
        return 0;
}

/* create and run share their options */
static int create_or_run(int argc, char **argv, bool run)
{
        static const struct option lo[] = {
                { "bundle", required_argument, NULL, 'b' },
                { "pid-file", required_argument, NULL, 'P' },
                { "console-socket", required_argument, NULL, 'C' },
                { "preserve-fds", required_argument, NULL, 'F' },
                { "no-pivot", no_argument, NULL, 'N' },
                { "no-new-keyring", no_argument, NULL, 'K' },
                { "detach", no_argument, NULL, 'd' },
                { "no-subreaper", no_argument, NULL, 'S' },
                { "keep", no_argument, NULL, 'k' },
                { 0 },
        };
        const struct cli_command *cmd = run ? &c_run : &c_create;
        struct kiln_rt_create_opts o = KILN_RT_CREATE_OPTS_INIT;
        bool detach = false;
        int c, ex;
        optind = 1;
        while ((c = cli_getopt(argc, argv, run ? "+b:d" : "+b:", lo, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'b':
                        o.bundle = optarg;
                        break;
                case 'P':
                        o.pid_file = optarg;
                        break;
                case 'C':
                        o.console_socket = optarg;
                        break;
                case 'F':
                        if (parse_int_arg(optarg, &o.preserve_fds) < 0)
                                return rt_fail("invalid --preserve-fds: %s", optarg);
                        break;
                case 'N':
                        o.no_pivot = true;
                        break;
                case 'K':
                        o.no_new_keyring = true;
                        break;
                case 'd':
                        if (!run)
                                return cli_usage_error(cmd->name, "unknown flag: --detach");
                        detach = true;
                        break;
                default:
                        break;
                }
        }
        if (optind + 1 != argc)
                return rt_fail("%s requires exactly 1 argument (the container id)",
                               run ? "run" : "create");
        const char *id = argv[optind];
        maybe_clone();
        /* the init's cgroup attach may wait for an RCU grace period: start
         * it in the background (joined before clone) */
        kiln_rt_cgroup_warm();
        struct kiln_error err = { 0 };
        if (!run)
                return kiln_rt_create(g_rt->root, id, &o, NULL, &err) < 0 ? rt_fail_err(&err) : 0;
        /* keep the init as our child's child when we exit first (-d):
         * reaping then falls to our parent, as with runc */
        if (!detach)
                prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        int status = 0;
        if (kiln_rt_run(g_rt->root, id, &o, detach, &status, &err) < 0)
                return rt_fail_err(&err);
        return detach ? 0 : status;
}

static int one_id(int argc, char **argv, const struct cli_command *cmd, const char **ret)
{
        static const struct option lo[] = { { 0 } };
        int c, ex;
        optind = 1;
        while ((c = cli_getopt(argc, argv, "+", lo, cmd, &ex)) != -1)
                if (c == -2)
                        return ex;
        if (optind + 1 != argc)
                return rt_fail("%s requires exactly 1 argument (the container id)", argv[0]);
        *ret = argv[optind];
        return -1;
}

static int do_start(int argc, char **argv)
{
        const char *id = NULL;
        int ex = one_id(argc, argv, &c_start, &id);
        if (ex >= 0)
                return ex;
        struct kiln_error err = { 0 };
        return kiln_rt_start(g_rt->root, id, &err) < 0 ? rt_fail_err(&err) : 0;
}

static int do_state(int argc, char **argv)
{
        const char *id = NULL;
        int ex = one_id(argc, argv, &c_state, &id);
        if (ex >= 0)
                return ex;
        struct kiln_error err = { 0 };
        json_t *st = NULL;
        if (kiln_rt_state(g_rt->root, id, &st, &err) < 0)
                return rt_fail_err(&err);
        char *s = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(st);
        return 0;
}

static int do_kill(int argc, char **argv)
{
        static const struct option lo[] = { { "all", no_argument, NULL, 'a' }, { 0 } };
        bool all = false;
        int c, ex;
        optind = 1;
        while ((c = cli_getopt(argc, argv, "+a", lo, &c_kill, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'a')
                        all = true;
        }
        if (optind >= argc || argc - optind > 2)
                return rt_fail("kill requires the container id and an optional signal");
        const char *id = argv[optind];
        int sig = SIGTERM;
        if (optind + 1 < argc) {
                sig = kiln_signal_parse(argv[optind + 1]);
                if (sig < 0)
                        return rt_fail("invalid signal \"%s\"", argv[optind + 1]);
        }
        struct kiln_error err = { 0 };
        return kiln_rt_kill(g_rt->root, id, sig, all, &err) < 0 ? rt_fail_err(&err) : 0;
}

static int do_delete(int argc, char **argv)
{
        static const struct option lo[] = { { "force", no_argument, NULL, 'f' }, { 0 } };
        bool force = false;
        int c, ex;
        optind = 1;
        while ((c = cli_getopt(argc, argv, "+f", lo, &c_delete, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'f')
                        force = true;
        }
        if (optind >= argc)
                return rt_fail("delete requires at least 1 argument (the container id)");
        int rc = 0;
        for (int i = optind; i < argc; i++) {
                struct kiln_error err = { 0 };
                int r = kiln_rt_delete(g_rt->root, argv[i], force, &err);
                /* runc: deleting a missing container with --force succeeds */
                if (r == -KILN_ENOTFOUND && force)
                        continue;
                if (r < 0)
                        rc = rt_fail_err(&err);
        }
        return rc;
}

/* The container's config.json (from its bundle), for exec's defaults. */
static json_t *container_config(const char *id)
{
        json_t *st = NULL;
        if (kiln_rt_state(g_rt->root, id, &st, NULL) < 0)
                return NULL;
        const char *bundle = json_string_value(json_object_get(st, "bundle"));
        json_t *cfg = NULL;
        if (bundle) {
                _cleanup_free_ char *p = kiln_xasprintf("%s/config.json", bundle);
                cfg = json_load_file(p, 0, NULL);
        }
        json_decref(st);
        return cfg;
}

static int do_exec(int argc, char **argv)
{
        static const struct option lo[] = {
                { "process", required_argument, NULL, 'p' },
                { "console-socket", required_argument, NULL, 'C' },
                { "pid-file", required_argument, NULL, 'P' },
                { "detach", no_argument, NULL, 'd' },
                { "tty", no_argument, NULL, 't' },
                { "cwd", required_argument, NULL, 'w' },
                { "env", required_argument, NULL, 'e' },
                { "user", required_argument, NULL, 'u' },
                { "additional-gids", required_argument, NULL, 'g' },
                { "cap", required_argument, NULL, 'c' },
                { "no-new-privs", no_argument, NULL, 'n' },
                { "apparmor", required_argument, NULL, 'A' },
                { "process-label", required_argument, NULL, 'L' },
                { "preserve-fds", required_argument, NULL, 'F' },
                { 0 },
        };
        struct kiln_rt_exec_opts o = { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 };
        const char *process_file = NULL, *cwd = NULL, *user = NULL;
        bool tty = false, nnp = false;
        json_t *envs = json_array(), *caps = json_array(), *gids = json_array();
        int c, ex, rc = 0;
        optind = 1;
        while ((c = cli_getopt(argc, argv, "+p:dtw:e:u:c:", lo, &c_exec, &ex)) != -1) {
                switch (c) {
                case -2:
                        rc = ex;
                        goto out;
                case 'p':
                        process_file = optarg;
                        break;
                case 'C':
                        o.console_socket = optarg;
                        break;
                case 'P':
                        o.pid_file = optarg;
                        break;
                case 'd':
                        o.detach = true;
                        break;
                case 't':
                        tty = true;
                        break;
                case 'w':
                        cwd = optarg;
                        break;
                case 'e':
                        json_array_append_new(envs, json_string(optarg));
                        break;
                case 'u':
                        user = optarg;
                        break;
                case 'g': {
                        int g;
                        if (parse_int_arg(optarg, &g) < 0) {
                                rc = rt_fail("invalid --additional-gids: %s", optarg);
                                goto out;
                        }
                        json_array_append_new(gids, json_integer(g));
                        break;
                }
                case 'c':
                        json_array_append_new(caps, json_string(optarg));
                        break;
                case 'n':
                        nnp = true;
                        break;
                case 'F': {
                        int n;
                        if (parse_int_arg(optarg, &n) < 0 || n != 0) {
                                rc = rt_fail("exec --preserve-fds is not supported");
                                goto out;
                        }
                        break;
                }
                default:
                        break;
                }
        }
        if (optind >= argc) {
                rc = rt_fail("exec requires the container id");
                goto out;
        }
        const char *id = argv[optind];
        json_t *process;
        if (process_file) {
                json_error_t je;
                process = json_load_file(process_file, 0, &je);
                if (!json_is_object(process)) {
                        json_decref(process);
                        rc = rt_fail("process file %s: %s", process_file, je.text);
                        goto out;
                }
        } else {
                if (optind + 1 >= argc) {
                        rc = rt_fail("exec requires a command (or --process)");
                        goto out;
                }
                process = json_object();
                json_t *args = json_array();
                for (int i = optind + 1; i < argc; i++)
                        json_array_append_new(args, json_string(argv[i]));
                json_object_set_new(process, "args", args);
                json_object_set_new(process, "terminal", json_boolean(tty));
                json_t *cfg = container_config(id);
                json_t *cproc = json_object_get(cfg, "process");
                if (json_array_size(envs)) {
                        json_t *env = json_deep_copy(json_object_get(cproc, "env"));
                        if (!json_is_array(env)) {
                                json_decref(env);
                                env = json_array();
                        }
                        json_array_extend(env, envs);
                        json_object_set_new(process, "env", env);
                }
                if (cwd)
                        json_object_set_new(process, "cwd", json_string(cwd));
                if (user) {
                        unsigned long uid = 0, gid = 0;
                        char *end;
                        uid = strtoul(user, &end, 10);
                        if (*end == ':')
                                gid = strtoul(end + 1, &end, 10);
                        if (*end || end == user) {
                                json_decref(cfg);
                                json_decref(process);
                                rc = rt_fail("invalid --user \"%s\": want UID[:GID]", user);
                                goto out;
                        }
                        json_t *u = json_pack("{s:I, s:I}", "uid", (json_int_t)uid, "gid",
                                              (json_int_t)gid);
                        if (json_array_size(gids))
                                json_object_set(u, "additionalGids", gids);
                        json_object_set_new(process, "user", u);
                }
                if (json_array_size(caps)) {
                        json_t *cc = json_deep_copy(json_object_get(cproc, "capabilities"));
                        if (!json_is_object(cc)) {
                                json_decref(cc);
                                cc = json_object();
                        }
                        static const char *const sets[] = { "bounding", "effective", "permitted",
                                                            "inheritable", "ambient" };
                        for (size_t s = 0; s < KILN_ARRAY_SIZE(sets); s++) {
                                json_t *a = json_object_get(cc, sets[s]);
                                if (!json_is_array(a)) {
                                        a = json_array();
                                        json_object_set_new(cc, sets[s], a);
                                }
                                size_t i;
                                json_t *v;
                                json_array_foreach(caps, i, v)
                                {
                                        const char *n = json_string_value(v);
                                        char *full = strncasecmp(n, "CAP_", 4)
                                                             ? kiln_xasprintf("CAP_%s", n)
                                                             : kiln_xstrdup(n);
                                        for (char *q = full; *q; q++)
                                                if (*q >= 'a' && *q <= 'z')
                                                        *q = (char)(*q - 'a' + 'A');
                                        json_array_append_new(a, json_string(full));
                                        free(full);
                                }
                        }
                        json_object_set_new(process, "capabilities", cc);
                }
                if (nnp)
                        json_object_set_new(process, "noNewPrivileges", json_true());
                json_decref(cfg);
        }
        o.process = process;
        maybe_clone();
        kiln_rt_cgroup_warm(); /* as for create; joined before the fork */
        struct kiln_error err = { 0 };
        int status = 0;
        int r = kiln_rt_exec(g_rt->root, id, &o, &status, &err);
        json_decref(process);
        if (r < 0)
                rc = rt_fail_err(&err);
        else
                rc = o.detach ? 0 : status;
out:
        json_decref(envs);
        json_decref(caps);
        json_decref(gids);
        return rc;
}

static int do_ps(int argc, char **argv)
{
        static const struct option lo[] = { { "format", required_argument, NULL, 'f' }, { 0 } };
        const char *format = "table";
        int c, ex;
        optind = 1;
        while ((c = cli_getopt(argc, argv, "+f:", lo, &c_ps, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'f')
                        format = optarg;
        }
        if (optind >= argc)
                return rt_fail("ps requires the container id");
        if (strcmp(format, "table") && strcmp(format, "json"))
                return rt_fail("invalid format option \"%s\"", format);
        const char *id = argv[optind];
        pid_t *pids = NULL;
        size_t n = 0;
        struct kiln_error err = { 0 };
        if (kiln_rt_pids(g_rt->root, id, &pids, &n, &err) < 0)
                return rt_fail_err(&err);
        if (!strcmp(format, "json")) {
                json_t *a = json_array();
                for (size_t i = 0; i < n; i++)
                        json_array_append_new(a, json_integer(pids[i]));
                char *s = json_dumps(a, JSON_COMPACT);
                puts(s);
                free(s);
                json_decref(a);
                free(pids);
                return 0;
        }
        /* table: ps's own output filtered to the container's pids, as runc */
        struct kiln_buf cmd = KILN_BUF_INIT;
        kiln_buf_puts(&cmd, "ps");
        if (optind + 1 < argc) {
                for (int i = optind + 1; i < argc; i++) {
                        /* single-quote each ps option */
                        kiln_buf_puts(&cmd, " '");
                        for (const char *p = argv[i]; *p; p++) {
                                if (*p == '\'')
                                        kiln_buf_puts(&cmd, "'\\''");
                                else
                                        kiln_buf_append(&cmd, p, 1);
                        }
                        kiln_buf_puts(&cmd, "'");
                }
        } else {
                kiln_buf_puts(&cmd, " -ef");
        }
        FILE *p = popen(cmd.data, "r");
        kiln_buf_free(&cmd);
        if (!p) {
                free(pids);
                return rt_fail("run ps: %s", strerror(errno));
        }
        char line[8192];
        int pid_col = -1;
        bool header = true;
        while (fgets(line, sizeof(line), p)) {
                if (header) {
                        fputs(line, stdout);
                        _cleanup_free_ char *h = kiln_xstrdup(line);
                        char *save = NULL;
                        int col = 0;
                        for (char *t = strtok_r(h, " \t\n", &save); t;
                             t = strtok_r(NULL, " \t\n", &save), col++)
                                if (!strcmp(t, "PID"))
                                        pid_col = col;
                        header = false;
                        continue;
                }
                if (pid_col < 0)
                        continue;
                _cleanup_free_ char *l = kiln_xstrdup(line);
                char *save = NULL, *t = strtok_r(l, " \t\n", &save);
                for (int col = 0; t && col < pid_col; col++)
                        t = strtok_r(NULL, " \t\n", &save);
                if (!t)
                        continue;
                long v = strtol(t, NULL, 10);
                for (size_t i = 0; i < n; i++)
                        if (pids[i] == (pid_t)v)
                                fputs(line, stdout);
        }
        pclose(p);
        free(pids);
        if (pid_col < 0)
                return rt_fail("couldn't find PID field in ps output");
        return 0;
}

static int do_list(int argc, char **argv)
{
        static const struct option lo[] = { { "format", required_argument, NULL, 'f' },
                                            { "quiet", no_argument, NULL, 'q' },
                                            { 0 } };
        const char *format = "table";
        bool quiet = false;
        int c, ex;
        optind = 1;
        while ((c = cli_getopt(argc, argv, "+f:q", lo, &c_list, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'f')
                        format = optarg;
                if (c == 'q')
                        quiet = true;
        }
        if (strcmp(format, "table") && strcmp(format, "json"))
                return rt_fail("invalid format option \"%s\"", format);
        char **ids = NULL;
        struct kiln_error err = { 0 };
        if (kiln_rt_list(g_rt->root, &ids, &err) < 0)
                return rt_fail_err(&err);
        json_t *all = json_array();
        for (size_t i = 0; ids[i]; i++) {
                json_t *st = NULL;
                if (kiln_rt_state(g_rt->root, ids[i], &st, NULL) == 0)
                        json_array_append_new(all, st);
        }
        kiln_strv_free(ids);
        if (quiet) {
                size_t i;
                json_t *st;
                json_array_foreach(all, i, st) puts(json_string_value(json_object_get(st, "id")));
        } else if (!strcmp(format, "json")) {
                char *s = json_dumps(all, JSON_COMPACT | JSON_PRESERVE_ORDER);
                puts(s);
                free(s);
        } else {
                static const char *const hdr[] = { "ID", "PID", "STATUS", "BUNDLE", "CREATED",
                                                   "OWNER" };
                struct cli_table t;
                cli_table_init(&t, 6, hdr);
                size_t i;
                json_t *st;
                json_array_foreach(all, i, st)
                {
                        char pid[32];
                        snprintf(pid, sizeof(pid), "%lld",
                                 (long long)json_integer_value(json_object_get(st, "pid")));
                        const char *owner = json_string_value(json_object_get(st, "owner"));
                        const char *row[] = {
                                json_string_value(json_object_get(st, "id")),
                                pid,
                                json_string_value(json_object_get(st, "status")),
                                json_string_value(json_object_get(st, "bundle")),
                                json_string_value(json_object_get(st, "created")),
                                owner && *owner ? owner : "root",
                        };
                        cli_table_add(&t, row);
                }
                cli_table_print(&t, stdout);
                cli_table_free(&t);
        }
        json_decref(all);
        return 0;
}

static int do_spec(int argc, char **argv)
{
        static const struct option lo[] = { { "bundle", required_argument, NULL, 'b' },
                                            { "rootless", no_argument, NULL, 'r' },
                                            { 0 } };
        const char *bundle = ".";
        bool rootless = false;
        int c, ex;
        optind = 1;
        while ((c = cli_getopt(argc, argv, "+b:", lo, &c_spec, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'b')
                        bundle = optarg;
                if (c == 'r')
                        rootless = true;
        }
        if (optind != argc)
                return rt_fail("spec takes no arguments");
        _cleanup_free_ char *path = kiln_xasprintf("%s/config.json", bundle);
        if (access(path, F_OK) == 0)
                return rt_fail("file %s exists: remove it first", path);
        json_t *spec = kiln_spec_example(rootless);
        if (!spec)
                return rt_fail("cannot generate an example spec");
        char *s = json_dumps(spec, JSON_INDENT(8) | JSON_PRESERVE_ORDER);
        json_decref(spec);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0) {
                free(s);
                return rt_fail("create %s: %s", path, strerror(errno));
        }
        int r = kiln_fs_write_all(fd, s, strlen(s));
        if (r == 0)
                r = kiln_fs_write_all(fd, "\n", 1);
        close(fd);
        free(s);
        return r < 0 ? rt_fail("write %s: %s", path, strerror(-r)) : 0;
}

static int do_features(int argc, char **argv)
{
        json_t *f = kiln_rt_features();
        char *s = json_dumps(f, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(f);
        return 0;
}

static int dispatch(const char *cmd, int argc, char **argv)
{
        if (!strcmp(cmd, "create"))
                return create_or_run(argc, argv, false);
        if (!strcmp(cmd, "run"))
                return create_or_run(argc, argv, true);
        if (!strcmp(cmd, "start"))
                return do_start(argc, argv);
        if (!strcmp(cmd, "state"))
                return do_state(argc, argv);
        if (!strcmp(cmd, "kill"))
                return do_kill(argc, argv);
        if (!strcmp(cmd, "delete") || !strcmp(cmd, "rm"))
                return do_delete(argc, argv);
        if (!strcmp(cmd, "exec"))
                return do_exec(argc, argv);
        if (!strcmp(cmd, "ps"))
                return do_ps(argc, argv);
        if (!strcmp(cmd, "list") || !strcmp(cmd, "ls"))
                return do_list(argc, argv);
        if (!strcmp(cmd, "spec"))
                return do_spec(argc, argv);
        if (!strcmp(cmd, "features"))
                return do_features(argc, argv);
        if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume") || !strcmp(cmd, "update") ||
            !strcmp(cmd, "checkpoint") || !strcmp(cmd, "restore") || !strcmp(cmd, "events"))
                return rt_fail("%s: not supported by kiln-runtime yet", cmd);
        fprintf(stderr, "Error: unknown command \"%s\"\n%s", cmd, runtime_usage);
        return 1;
}

int cmd_runtime(struct cli_ctx *ctx, int argc, char **argv)
{
        struct rt_ctx rt = { .prog = ctx->prog, .argv0 = argv };
        g_rt = &rt;
        kiln_set_warn_handler(warn_handler, NULL);
        int i = 1, rc;
        const char *root = NULL;
        for (; i < argc; i++) {
                const char *a = argv[i];
                const char *val = NULL;
                /* --opt VALUE and --opt=VALUE */
#define OPT_VAL(name)                                                                              \
        ((!strcmp(a, name) && i + 1 < argc && (val = argv[++i])) ||                                \
         (kiln_startswith(a, name "=") && (val = a + strlen(name) + 1)))
                if (OPT_VAL("--root")) {
                        root = val;
                } else if (OPT_VAL("--log")) {
                        rt.log_file = val;
                } else if (OPT_VAL("--log-format")) {
                        if (!strcmp(val, "json"))
                                rt.log_json = true;
                        else if (strcmp(val, "text") != 0) {
                                fprintf(stderr, "Error: unknown log format \"%s\"\n", val);
                                return 1;
                        }
                } else if (!strcmp(a, "--debug")) {
                        rt.debug = true;
                } else if (!strcmp(a, "--systemd-cgroup")) {
                        return rt_fail("--systemd-cgroup: systemd is not available; use cgroupfs");
                } else if (!strcmp(a, "--rootless") || kiln_startswith(a, "--rootless=")) {
                        /* runc: --rootless true|false|auto; decided from the euid here */
                        if (!strcmp(a, "--rootless") && i + 1 < argc &&
                            (!strcmp(argv[i + 1], "true") || !strcmp(argv[i + 1], "false") ||
                             !strcmp(argv[i + 1], "auto")))
                                i++;
                } else if (OPT_VAL("--criu")) {
                        /* accepted, unused */
                } else if (!strcmp(a, "-v") || !strcmp(a, "--version")) {
                        printf("kiln-runtime version %s\nspec: %s\n", KILN_VERSION,
                               RUNTIME_SPEC_VERSION);
                        return 0;
                } else if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "help")) {
                        fputs(runtime_usage, stdout);
                        return 0;
                } else if (a[0] == '-') {
                        fprintf(stderr, "Error: unknown global option %s\n", a);
                        return 1;
                } else {
                        break;
                }
#undef OPT_VAL
        }
        if (i >= argc) {
                fputs(runtime_usage, stderr);
                return 1;
        }
        rt.root = root ? kiln_xstrdup(root) : kiln_rt_default_state_root();
        (void)c_simple;
        rc = dispatch(argv[i], argc - i, argv + i);
        free(rt.root);
        g_rt = NULL;
        return rc;
}
