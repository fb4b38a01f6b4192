/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI runtime lifecycle with runc's semantics: create, start, state,
 * kill, delete, run, exec, list, pids, features. See
 * docs/internals/runtime.md for the protocol between the runtime and the
 * container's init (sync socket, exec fifo) and the state directory.
 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <time.h>
#include "kiln/fs.h"
#include "rt-process.h"

#define OCI_VERSION "1.0.2"
#define STATE_FILE "state.json"
#define CONFIG_COPY "config.json"
#define FIFO_NAME "exec.fifo"
#define CONFIG_MAX (8u << 20)

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif

/* ------------------------------------------------------------------ */
/* signals and exit statuses                                           */
/* ------------------------------------------------------------------ */

static const struct {
        const char *name;
        int sig;
} signal_names[] = {
        { "HUP", SIGHUP },       { "INT", SIGINT },       { "QUIT", SIGQUIT },
        { "ILL", SIGILL },       { "TRAP", SIGTRAP },     { "ABRT", SIGABRT },
        { "IOT", SIGIOT },       { "BUS", SIGBUS },       { "FPE", SIGFPE },
        { "KILL", SIGKILL },     { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },
        { "USR2", SIGUSR2 },     { "PIPE", SIGPIPE },     { "ALRM", SIGALRM },
        { "TERM", SIGTERM },     { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD },
        { "CLD", SIGCHLD },      { "CONT", SIGCONT },     { "STOP", SIGSTOP },
        { "TSTP", SIGTSTP },     { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU },
        { "URG", SIGURG },       { "XCPU", SIGXCPU },     { "XFSZ", SIGXFSZ },
        { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },     { "WINCH", SIGWINCH },
        { "IO", SIGIO },         { "POLL", SIGPOLL },     { "PWR", SIGPWR },
        { "SYS", SIGSYS },
};

static int parse_small_int(const char *s, int *ret)
{
        if (!*s)
                return -EINVAL;
        int v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9' || v > 1000)
                        return -EINVAL;
                v = v * 10 + (*p - '0');
        }
        *ret = v;
        return 0;
}

int kiln_signal_parse(const char *s)
{
        if (!s || !*s)
                return -EINVAL;
        int n;
        if (parse_small_int(s, &n) == 0)
                return n > 0 && n < NSIG ? n : -EINVAL;
        const char *name = !strncasecmp(s, "SIG", 3) ? s + 3 : s;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(signal_names); i++)
                if (!strcasecmp(name, signal_names[i].name))
                        return signal_names[i].sig;
        if (!strncasecmp(name, "RTMIN", 5) || !strncasecmp(name, "RTMAX", 5)) {
                bool min = !strncasecmp(name, "RTMIN", 5);
                const char *rest = name + 5;
                int off = 0;
                if (*rest) {
                        if (*rest != (min ? '+' : '-') || parse_small_int(rest + 1, &off) < 0)
                                return -EINVAL;
                }
                int sig = min ? SIGRTMIN + off : SIGRTMAX - off;
                return sig >= SIGRTMIN && sig <= SIGRTMAX ? sig : -EINVAL;
        }
        return -EINVAL;
}

int kiln_wait_status_to_exit(int wstatus)
{
        if (WIFEXITED(wstatus))
                return WEXITSTATUS(wstatus);
        if (WIFSIGNALED(wstatus))
                return 128 + WTERMSIG(wstatus);
        if (WIFSTOPPED(wstatus))
                return 128 + WSTOPSIG(wstatus);
        return 255;
}

/* Does linux.resources ask for more than the device rules? */
static bool limits_requested(json_t *res)
{
        const char *k;
        json_t *v;
        json_object_foreach(res, k, v)
        {
                if (!strcmp(k, "devices"))
                        continue;
                if ((json_is_object(v) && json_object_size(v)) || (json_is_array(v) && json_array_size(v)))
                        return true;
        }
        return false;
}

/* Bring "lo" up in our (new) network namespace; failure only means a
 * container without loopback, which it can still set up itself. */
static void loopback_up(void)
{
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return;
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
                ifr.ifr_flags |= IFF_UP;
                if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
                }
        }
        close(fd);
}

/* ------------------------------------------------------------------ */
/* state directory                                                     */
/* ------------------------------------------------------------------ */

char *kiln_rt_default_state_root(void)
{
        if (geteuid() == 0)
                return kiln_xstrdup("/run/kiln/runtime");
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        if (xdg && xdg[0] == '/')
                return kiln_xasprintf("%s/kiln/runtime", xdg);
        return kiln_xasprintf("/tmp/kiln-runtime-%u", (unsigned)geteuid());
}

static int validate_id(const char *id, struct kiln_error *err)
{
        if (!id || !*id)
                return kiln_err(err, -EINVAL, "container id cannot be empty");
        size_t n = strlen(id);
        bool ok = n <= 1024 && ((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z') ||
                                (id[0] >= '0' && id[0] <= '9'));
        for (size_t i = 1; ok && i < n; i++) {
                char c = id[i];
                ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '.' || c == '-';
        }
        if (!ok)
                return kiln_err(err, -EINVAL, "invalid container id format: %s", id);
        return 0;
}

struct ctr {
        char *dir;         /* STATE_ROOT/<id> */
        int dirfd;
        json_t *state;     /* state.json */
        pid_t pid;
        const char *status;
};

static void ctr_free(struct ctr *c)
{
        free(c->dir);
        if (c->dirfd >= 0)
                close(c->dirfd);
        json_decref(c->state);
        memset(c, 0, sizeof(*c));
        c->dirfd = -1;
}

/* Is the recorded init still the same live process? */
static bool init_alive(json_t *state, pid_t pid)
{
        if (pid <= 0)
                return false;
        char st;
        unsigned long long start;
        if (kiln_proc_stat(pid, &st, &start) < 0)
                return false;
        if (st == 'Z' || st == 'X' || st == 'x')
                return false;
        json_t *k = json_object_get(state, "kiln");
        json_t *js = json_object_get(k, "initStartTime");
        if (json_is_integer(js) && (unsigned long long)json_integer_value(js) != start)
                return false; /* the pid was reused */
        return true;
}

static const char *compute_status(struct ctr *c)
{
        if (!init_alive(c->state, c->pid))
                return "stopped";
        if (faccessat(c->dirfd, FIFO_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return "created";
        return "running";
}

static int ctr_load(const char *state_root, const char *id, bool lock, struct ctr *ret,
                    struct kiln_error *err)
{
        int r = validate_id(id, err);
        if (r < 0)
                return r;
        struct ctr c = { .dirfd = -1 };
        c.dir = kiln_xasprintf("%s/%s", state_root, id);
        c.dirfd = open(c.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c.dirfd < 0) {
                r = -errno;
                ctr_free(&c);
                if (r == -ENOENT)
                        return kiln_err(err, -KILN_ENOTFOUND, "container \"%s\" does not exist", id);
                return kiln_err(err, r, "container \"%s\": %s", id, strerror(-r));
        }
        if (lock && flock(c.dirfd, LOCK_EX) < 0) {
                r = -errno;
                ctr_free(&c);
                return kiln_err(err, r, "lock container \"%s\": %s", id, strerror(-r));
        }
        _cleanup_free_ char *data = NULL;
        size_t len;
        r = kiln_fs_read_file(c.dirfd, STATE_FILE, CONFIG_MAX, &data, &len);
        if (r < 0) {
                ctr_free(&c);
                if (r == -ENOENT)
                        return kiln_err(err, -KILN_ENOTFOUND, "container \"%s\" does not exist", id);
                return kiln_err(err, r, "container \"%s\": read state: %s", id, kiln_strerror(r));
        }
        json_error_t je;
        c.state = json_loadb(data, len, 0, &je);
        if (!json_is_object(c.state)) {
                ctr_free(&c);
                return kiln_err(err, -KILN_ECORRUPT, "container \"%s\": state.json: %s", id, je.text);
        }
        c.pid = (pid_t)json_integer_value(json_object_get(c.state, "pid"));
        c.status = compute_status(&c);
        *ret = c;
        return 0;
}

/* May the container's config have hooks of this kind? create records
 * which kinds it has, so start and delete need not parse config.json for
 * nothing; a state without the record (older kiln) says maybe. */
static bool ctr_may_have_hooks(struct ctr *c, const char *kind)
{
        json_t *h = json_object_get(json_object_get(c->state, "kiln"), "hooks");
        if (!json_is_array(h))
                return true;
        size_t i;
        json_t *v;
        json_array_foreach(h, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), kind)) return true;
        return false;
}

static json_t *ctr_config(struct ctr *c)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        if (kiln_fs_read_file(c->dirfd, CONFIG_COPY, CONFIG_MAX, &data, &len) < 0)
                return NULL;
        return json_loadb(data, len, 0, NULL);
}

static const char *ctr_cgroup_path(struct ctr *c)
{
        json_t *k = json_object_get(c->state, "kiln");
        if (json_is_false(json_object_get(k, "cgroup")))
                return NULL;
        return json_string_value(json_object_get(k, "cgroupsPath"));
}

/* The runtime-spec state document hooks get on stdin. */
static char *hook_state(const char *id, const char *status, pid_t pid, const char *bundle,
                        json_t *spec)
{
        json_t *s = json_pack("{s:s, s:s, s:s, s:i, s:s}", "ociVersion", OCI_VERSION, "id", id,
                              "status", status, "pid", (json_int_t)pid, "bundle", bundle);
        json_t *ann = json_object_get(spec, "annotations");
        if (json_is_object(ann))
                json_object_set(s, "annotations", ann);
        char *out = json_dumps(s, JSON_COMPACT);
        json_decref(s);
        return out;
}

/* ------------------------------------------------------------------ */
/* create                                                              */
/* ------------------------------------------------------------------ */

static const struct {
        const char *type;
        int flag;
        const char *proc; /* /proc/<pid>/ns/<proc> */
} ns_types[] = {
        /* the order setns follows for exec: user first, mount last */
        { "user", CLONE_NEWUSER, "user" },   { "ipc", CLONE_NEWIPC, "ipc" },
        { "uts", CLONE_NEWUTS, "uts" },      { "network", CLONE_NEWNET, "net" },
        { "pid", CLONE_NEWPID, "pid" },      { "cgroup", CLONE_NEWCGROUP, "cgroup" },
        { "time", CLONE_NEWTIME, "time" },   { "mount", CLONE_NEWNS, "mnt" },
};

#define MAX_JOIN KILN_ARRAY_SIZE(ns_types)

struct init_args {
        json_t *spec;
        const char *id;
        const char *bundle;
        const struct kiln_rt_create_opts *opts;
        int sync_fd;
        int fifo_fd;
        int console_fd;
        int lock_fd;       /* the state dir, locked by the runtime: closed */
        const struct kiln_seccomp_prog *seccomp; /* compiled by the runtime, may be NULL */
        int new_flags;     /* namespaces asked for, created by clone or unshare */
        int unshare_flags; /* created by the init itself after the user ns */
        int join_fd[MAX_JOIN];
        int join_flag[MAX_JOIN];
        size_t n_join;
};

/* Move fd above the range the container keeps (0..2 and preserved fds). */
static int move_fd_above(int fd, int min)
{
        if (fd < 0 || fd >= min)
                return fd;
        int n = fcntl(fd, F_DUPFD_CLOEXEC, min);
        if (n < 0)
                return fd;
        close(fd);
        return n;
}

static void set_id_zero(void)
{
        if (rt_setresgid(0, 0, 0) < 0 || rt_setresuid(0, 0, 0) < 0) {
        }
}

/* The container's init: runs between clone and execve. Never returns. */
__attribute__((noreturn)) static void init_child(struct init_args *a)
{
        struct kiln_error err = { 0 };
        struct kiln_sync_msg m;
        int r;
        int keep = 3 + (a->opts->preserve_fds > 0 ? a->opts->preserve_fds : 0);

        /* the flock belongs to the runtime, not to the init */
        close(a->lock_fd);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        /* no process of the container may open /proc/<pid>/exe of the
         * runtime while it sets up (CVE-2019-5736); execve resets this */
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        kiln_proc_reset_signals();
        a->sync_fd = move_fd_above(a->sync_fd, keep);
        a->fifo_fd = move_fd_above(a->fifo_fd, keep);
        a->console_fd = move_fd_above(a->console_fd, keep);
        for (size_t i = 0; i < a->n_join; i++)
                a->join_fd[i] = move_fd_above(a->join_fd[i], keep);
        if (setsid() < 0) {
        }

        r = kiln_sync_recv(a->sync_fd, &m);
        if (r <= 0 || m.type != KILN_SYNC_GO)
                _exit(1);
        pid_t host_pid = m.value;
        json_t *spec = a->spec;
        json_t *process = json_object_get(spec, "process");

        if (a->new_flags & CLONE_NEWUSER)
                set_id_zero();
        /* joined namespaces: user first (ns_types order), mount last */
        for (size_t i = 0; i < a->n_join; i++) {
                if (setns(a->join_fd[i], a->join_flag[i]) < 0) {
                        kiln_err(&err, -errno, "join namespace: setns: %s", strerror(errno));
                        kiln_sync_fail(a->sync_fd, &err);
                }
                close(a->join_fd[i]);
                if (a->join_flag[i] == CLONE_NEWUSER) {
                        set_id_zero();
                        if (a->unshare_flags && unshare(a->unshare_flags) < 0) {
                                kiln_err(&err, -errno, "unshare namespaces: %s", strerror(errno));
                                kiln_sync_fail(a->sync_fd, &err);
                        }
                }
        }
        /* the cgroup namespace is made once the runtime moved us into the
         * container's cgroup, so that cgroup is its root */
        if ((a->new_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0) {
                kiln_err(&err, -errno, "unshare the cgroup namespace: %s", strerror(errno));
                kiln_sync_fail(a->sync_fd, &err);
        }

        json_t *hooks = json_object_get(spec, "hooks");
        if (json_object_get(hooks, "createContainer")) {
                _cleanup_free_ char *st = hook_state(a->id, "created", host_pid, a->bundle, spec);
                if (kiln_hooks_run(hooks, "createContainer", st, &err) < 0)
                        kiln_sync_fail(a->sync_fd, &err);
        }

        /* a new network namespace gets its loopback up, as crun does (and
         * docker for --network none) */
        if (a->new_flags & CLONE_NEWNET)
                loopback_up();

        const char *hostname = json_string_value(json_object_get(spec, "hostname"));
        const char *domainname = json_string_value(json_object_get(spec, "domainname"));
        if ((hostname && *hostname) || (domainname && *domainname)) {
                /* a new UTS namespace, or one joined by path (as runc allows) */
                bool own_uts = (a->new_flags & CLONE_NEWUTS) != 0;
                for (size_t k = 0; k < a->n_join && !own_uts; k++)
                        own_uts = a->join_flag[k] == CLONE_NEWUTS;
                if (!own_uts) {
                        kiln_err(&err, -EINVAL, "unable to set hostname without a private UTS namespace");
                        kiln_sync_fail(a->sync_fd, &err);
                }
                if (hostname && *hostname && sethostname(hostname, strlen(hostname)) < 0) {
                        kiln_err(&err, -errno, "sethostname \"%s\": %s", hostname, strerror(errno));
                        kiln_sync_fail(a->sync_fd, &err);
                }
                if (domainname && *domainname && setdomainname(domainname, strlen(domainname)) < 0) {
                        kiln_err(&err, -errno, "setdomainname \"%s\": %s", domainname,
                                 strerror(errno));
                        kiln_sync_fail(a->sync_fd, &err);
                }
        }
        const int stdio[3] = { a->opts->stdin_fd, a->opts->stdout_fd, a->opts->stderr_fd };
        if (kiln_proc_setup_stdio(stdio, &err) < 0)
                kiln_sync_fail(a->sync_fd, &err);
        if (kiln_proc_oom_score(process, &err) < 0)
                kiln_sync_fail(a->sync_fd, &err);
        if (chdir(a->bundle) < 0) {
                kiln_err(&err, -errno, "chdir %s: %s", a->bundle, strerror(errno));
                kiln_sync_fail(a->sync_fd, &err);
        }
        if (kiln_rootfs_prepare(spec, a->opts->no_pivot, &err) < 0)
                kiln_sync_fail(a->sync_fd, &err);
        if (json_is_true(json_object_get(process, "terminal")) &&
            kiln_proc_setup_console(a->console_fd, process, &err) < 0)
                kiln_sync_fail(a->sync_fd, &err);
        if (a->console_fd >= 0)
                close(a->console_fd);
        if (kiln_rootfs_finalize(spec, &err) < 0)
                kiln_sync_fail(a->sync_fd, &err);
        if (kiln_proc_rlimits(process, &err) < 0)
                kiln_sync_fail(a->sync_fd, &err);
        if (!a->opts->no_new_keyring) {
                /* a session keyring of its own, as runc: errors (no keyctl in
                 * the kernel, or in a user namespace) are not fatal */
                _cleanup_free_ char *kr = kiln_xasprintf("_ses.%s", a->id);
                syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, kr, 0, 0, 0);
        }
        /* no host fd survives execve but stdio and the preserved fds */
        for (int fd = 3; fd < keep; fd++) {
                int fl = fcntl(fd, F_GETFD);
                if (fl >= 0)
                        fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
        }
        kiln_proc_cloexec_from(keep);
        _cleanup_free_ char *path = NULL;
        if (kiln_proc_finalize(process, a->seccomp, &path, &err) < 0)
                kiln_sync_fail(a->sync_fd, &err);

        /* from here on the runtime may be gone: errors go to stderr */
        prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
        kiln_sync_send(a->sync_fd, KILN_SYNC_READY, 0, NULL);
        close(a->sync_fd);

        char fifo[64];
        snprintf(fifo, sizeof(fifo), "/proc/self/fd/%d", a->fifo_fd);
        int wfd;
        do
                wfd = open(fifo, O_WRONLY | O_CLOEXEC);
        while (wfd < 0 && errno == EINTR);
        if (wfd < 0) {
                fprintf(stderr, "container init: open exec fifo: %s\n", strerror(errno));
                _exit(1);
        }
        if (write(wfd, "0", 1) != 1) {
                fprintf(stderr, "container init: write exec fifo: %s\n", strerror(errno));
                _exit(1);
        }
        close(wfd);
        close(a->fifo_fd);
        if (json_object_get(hooks, "startContainer")) {
                _cleanup_free_ char *st = hook_state(a->id, "running", host_pid, a->bundle, spec);
                if (kiln_hooks_run(hooks, "startContainer", st, &err) < 0) {
                        fprintf(stderr, "container init: %s\n", err.msg);
                        _exit(1);
                }
        }
        kiln_proc_exec(process, a->seccomp, path);
}

static int validate_spec(json_t *spec, struct kiln_error *err)
{
        const char *v = json_string_value(json_object_get(spec, "ociVersion"));
        if (!v)
                return kiln_err(err, -KILN_EFORMAT, "config.json: ociVersion is missing");
        if (!kiln_startswith(v, "1."))
                return kiln_err(err, -KILN_EUNSUPPORTED,
                                "config.json: unsupported ociVersion \"%s\" (1.x is supported)", v);
        json_t *root = json_object_get(spec, "root");
        if (!json_is_string(json_object_get(root, "path")) ||
            !*json_string_value(json_object_get(root, "path")))
                return kiln_err(err, -KILN_EFORMAT, "config.json: root.path is missing");
        json_t *process = json_object_get(spec, "process");
        if (!json_is_object(process))
                return kiln_err(err, -KILN_EFORMAT, "config.json: process is missing");
        json_t *args = json_object_get(process, "args");
        if (!json_is_array(args) || !json_array_size(args))
                return kiln_err(err, -KILN_EFORMAT, "config.json: process.args must not be empty");
        size_t i;
        json_t *a;
        json_array_foreach(args, i, a) if (!json_is_string(a)) return kiln_err(
                err, -KILN_EFORMAT, "config.json: process.args[%zu] is not a string", i);
        json_t *cwd = json_object_get(process, "cwd");
        if (cwd && (!json_is_string(cwd) || json_string_value(cwd)[0] != '/'))
                return kiln_err(err, -KILN_EFORMAT, "config.json: process.cwd must be an absolute path");
        return 0;
}

static int write_id_map(pid_t pid, const char *file, json_t *maps, struct kiln_error *err)
{
        struct kiln_buf b = KILN_BUF_INIT;
        size_t i;
        json_t *m;
        json_array_foreach(maps, i, m)
        {
                kiln_buf_printf(&b, "%lld %lld %lld\n",
                                (long long)json_integer_value(json_object_get(m, "containerID")),
                                (long long)json_integer_value(json_object_get(m, "hostID")),
                                (long long)json_integer_value(json_object_get(m, "size")));
        }
        if (!b.len)
                return 0;
        int r = 0;
        if (geteuid() != 0) {
                /* unprivileged: the setuid helpers from shadow's uidmap */
                const char *helper = !strcmp(file, "uid_map") ? "newuidmap" : "newgidmap";
                _cleanup_strv_free_ char **argv = kiln_xcalloc(3 * json_array_size(maps) + 3,
                                                                sizeof(char *));
                size_t k = 0;
                argv[k++] = kiln_xstrdup(helper);
                argv[k++] = kiln_xasprintf("%d", (int)pid);
                json_array_foreach(maps, i, m)
                {
                        argv[k++] = kiln_xasprintf("%lld", (long long)json_integer_value(
                                                                   json_object_get(m, "containerID")));
                        argv[k++] = kiln_xasprintf("%lld", (long long)json_integer_value(
                                                                   json_object_get(m, "hostID")));
                        argv[k++] = kiln_xasprintf("%lld", (long long)json_integer_value(
                                                                   json_object_get(m, "size")));
                }
                pid_t h = fork();
                if (h == 0) {
                        execvp(helper, argv);
                        _exit(127);
                }
                int ws = 0;
                if (h < 0 || waitpid(h, &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
                        /* a single mapping of our own id needs no helper */
                        if (json_array_size(maps) == 1) {
                                if (!strcmp(file, "gid_map")) {
                                        char p[64];
                                        snprintf(p, sizeof(p), "/proc/%d/setgroups", (int)pid);
                                        _cleanup_close_ int sfd = open(p, O_WRONLY | O_CLOEXEC);
                                        if (sfd >= 0 && write(sfd, "deny", 4) < 0) {
                                        }
                                }
                                goto direct;
                        }
                        kiln_buf_free(&b);
                        return kiln_err(err, -EPERM, "%s %d failed", helper, (int)pid);
                }
                kiln_buf_free(&b);
                return 0;
        }
direct:;
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d/%s", (int)pid, file);
        int w = kiln_fs_write_existing(p, b.data, b.len);
        if (w < 0)
                r = kiln_err(err, w, "write %s: %s", p, kiln_strerror(w));
        kiln_buf_free(&b);
        return r;
}

/*
 * The device rules of the container's cgroup, as runc and crun build them:
 * the spec's rules, then the devices every container gets (null, zero,
 * full, random, urandom, tty, console, ptmx, the pts, net/tun, mknod of any),
 * then the spec's linux.devices. Returns a new resources object.
 */
static json_t *resources_with_devices(json_t *spec)
{
        json_t *linux_ = json_object_get(spec, "linux");
        json_t *res = json_object_get(linux_, "resources");
        json_t *out = json_is_object(res) ? json_deep_copy(res) : json_object();
        if (geteuid() != 0 || kiln_in_userns())
                return out; /* rootless: no devices controller to speak of */
        json_t *rules = json_array();
        json_array_append_new(rules, json_pack("{s:b, s:s}", "allow", 0, "access", "rwm"));
        json_t *given = json_object_get(res, "devices");
        if (json_is_array(given))
                json_array_extend(rules, given);
        static const struct {
                const char *type;
                int major, minor;
                const char *access;
        } defaults[] = {
                { "c", -1, -1, "m" }, { "b", -1, -1, "m" }, { "c", 1, 3, "rwm" },
                { "c", 1, 8, "rwm" }, { "c", 1, 7, "rwm" }, { "c", 5, 0, "rwm" },
                { "c", 1, 5, "rwm" }, { "c", 1, 9, "rwm" }, { "c", 5, 1, "rwm" },
                { "c", 136, -1, "rwm" }, { "c", 5, 2, "rwm" }, { "c", 10, 200, "rwm" },
        };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(defaults); i++) {
                json_t *r = json_pack("{s:b, s:s, s:s}", "allow", 1, "type", defaults[i].type,
                                      "access", defaults[i].access);
                if (defaults[i].major >= 0)
                        json_object_set_new(r, "major", json_integer(defaults[i].major));
                if (defaults[i].minor >= 0)
                        json_object_set_new(r, "minor", json_integer(defaults[i].minor));
                json_array_append_new(rules, r);
        }
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(linux_, "devices"), i, d)
        {
                const char *type = json_string_value(json_object_get(d, "type"));
                json_t *ma = json_object_get(d, "major"), *mi = json_object_get(d, "minor");
                if (!type || !json_is_integer(ma) || !json_is_integer(mi))
                        continue;
                if (!strcmp(type, "u"))
                        type = "c";
                if (strcmp(type, "c") && strcmp(type, "b"))
                        continue;
                json_array_append_new(rules, json_pack("{s:b, s:s, s:O, s:O, s:s}", "allow", 1,
                                                       "type", type, "major", ma, "minor", mi,
                                                       "access", "rwm"));
        }
        json_object_set_new(out, "devices", rules);
        return out;
}

static int connect_console(const char *path, struct kiln_error *err)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path))
                return kiln_err(err, -ENAMETOOLONG, "console socket path too long: %s", path);
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return kiln_err(err, -errno, "console socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int e = errno;
                close(fd);
                return kiln_err(err, -e, "connect to console socket %s: %s", path, strerror(e));
        }
        return fd;
}

/*
 * The channels between the runtime and the process it starts (create and
 * exec alike): the terminal — sent on to the console socket, or kept here
 * (*ret_console_recv) when there is none — and the sync socket pair.
 * Fds already set are left for the caller's cleanup on failure.
 */
static int open_channels(bool terminal, const char *console_socket, int *ret_console_fd,
                         int *ret_console_recv, int sync_fd[2], struct kiln_error *err)
{
        int r;
        if (terminal && console_socket) {
                if ((r = connect_console(console_socket, err)) < 0)
                        return r;
                *ret_console_fd = r;
        } else if (terminal) {
                int sp[2];
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                        return kiln_err(err, -errno, "socketpair: %s", strerror(errno));
                *ret_console_recv = sp[0];
                *ret_console_fd = sp[1];
        }
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync_fd) < 0)
                return kiln_err(err, -errno, "socketpair: %s", strerror(errno));
        return 0;
}

static char *cgroups_path_for(json_t *spec, const char *id, struct kiln_error *err, int *ret_r)
{
        const char *p = json_string_value(json_object_get(json_object_get(spec, "linux"),
                                                          "cgroupsPath"));
        *ret_r = 0;
        if (!p || !*p)
                return kiln_xasprintf("/kiln/%s", id);
        if (p[0] != '/' && strchr(p, ':')) {
                *ret_r = kiln_err(err, -KILN_EUNSUPPORTED,
                                  "systemd cgroup path \"%s\" is not supported (no systemd; use a "
                                  "cgroupfs path such as /kiln/%s)",
                                  p, id);
                return NULL;
        }
        return p[0] == '/' ? kiln_xstrdup(p) : kiln_xasprintf("/%s", p);
}

/*
 * create proper. own_console: process.terminal without a console socket
 * (run in the foreground): the pty master comes back in *ret_master.
 */
static int do_create(const char *state_root, const char *id, const struct kiln_rt_create_opts *opts,
                     bool own_console, int *ret_master, pid_t *ret_pid, struct kiln_error *err)
{
        int r = validate_id(id, err);
        if (r < 0)
                return r;
        struct kiln_rt_create_opts defaults = KILN_RT_CREATE_OPTS_INIT;
        if (!opts)
                opts = &defaults;
        _cleanup_free_ char *bundle = realpath(opts->bundle ? opts->bundle : ".", NULL);
        if (!bundle)
                return kiln_err(err, -errno, "bundle %s: %s", opts->bundle ? opts->bundle : ".",
                                strerror(errno));
        _cleanup_free_ char *cfg_data = NULL;
        size_t cfg_len;
        _cleanup_free_ char *cfg_path = kiln_xasprintf("%s/config.json", bundle);
        r = kiln_fs_read_file(AT_FDCWD, cfg_path, CONFIG_MAX, &cfg_data, &cfg_len);
        if (r < 0)
                return kiln_err(err, r, "open %s: %s", cfg_path, kiln_strerror(r));
        json_error_t je;
        json_t *spec = json_loadb(cfg_data, cfg_len, 0, &je);
        if (!json_is_object(spec)) {
                json_decref(spec);
                return kiln_err(err, -KILN_EFORMAT, "%s: line %d: %s", cfg_path, je.line, je.text);
        }
        /* from here: everything to undo sits below `fail` */
        pid_t pid = -1;
        int dirfd = -1, fifo_fd = -1, console_fd = -1, console_recv = -1;
        int sync_fd[2] = { -1, -1 };
        struct init_args ia = { .spec = spec, .id = id, .bundle = bundle, .opts = opts,
                                .console_fd = -1 };
        struct kiln_cgroup *cg = NULL;
        bool made_dir = false;
        char *cgpath = NULL, *state_str = NULL, *dir = NULL, *rootfs = NULL;
        json_t *process = json_object_get(spec, "process");
        json_t *linux_ = json_object_get(spec, "linux");
        struct kiln_seccomp_prog *seccomp = NULL;

        if ((r = validate_spec(spec, err)) < 0)
                goto fail;
        /* the filter is compiled here, through the cache, not in the init:
         * libseccomp's compile of a large profile costs milliseconds */
        char *sc_cache = kiln_seccomp_cache_dir(state_root);
        r = kiln_seccomp_compile(json_object_get(linux_, "seccomp"), sc_cache, &seccomp, err);
        free(sc_cache);
        if (r < 0)
                goto fail;
        ia.seccomp = seccomp;
        bool terminal = json_is_true(json_object_get(process, "terminal"));
        if (terminal && !opts->console_socket && !own_console) {
                r = kiln_err(err, -EINVAL,
                             "cannot allocate tty if the runtime will detach without setting console socket");
                goto fail;
        }
        if (!terminal && opts->console_socket) {
                r = kiln_err(err, -EINVAL,
                             "cannot use console socket if the runtime will not detach or allocate tty");
                goto fail;
        }

        /* namespaces */
        int new_flags = 0, join_flags = 0;
        json_t *nss = json_object_get(linux_, "namespaces");
        size_t i;
        json_t *ns;
        int join_tmp[MAX_JOIN];
        for (size_t k = 0; k < MAX_JOIN; k++)
                join_tmp[k] = -1;
        json_array_foreach(nss, i, ns)
        {
                const char *type = json_string_value(json_object_get(ns, "type"));
                const char *path = json_string_value(json_object_get(ns, "path"));
                size_t k;
                for (k = 0; k < MAX_JOIN; k++)
                        if (type && !strcmp(type, ns_types[k].type))
                                break;
                if (k == MAX_JOIN) {
                        r = kiln_err(err, -EINVAL, "config.json: unknown namespace type \"%s\"",
                                     type ? type : "");
                        goto fail;
                }
                if (((new_flags | join_flags) & ns_types[k].flag)) {
                        r = kiln_err(err, -EINVAL, "config.json: duplicate namespace \"%s\"", type);
                        goto fail;
                }
                if (path && *path) {
                        join_tmp[k] = open(path, O_RDONLY | O_CLOEXEC);
                        if (join_tmp[k] < 0) {
                                r = kiln_err(err, -errno, "open %s namespace %s: %s", type, path,
                                             strerror(errno));
                                for (size_t q = 0; q < MAX_JOIN; q++)
                                        if (join_tmp[q] >= 0)
                                                close(join_tmp[q]);
                                goto fail;
                        }
                        join_flags |= ns_types[k].flag;
                } else {
                        new_flags |= ns_types[k].flag;
                }
        }
        int pidns_join = join_tmp[4];
        join_tmp[4] = -1;
        for (size_t k = 0; k < MAX_JOIN; k++) {
                if (join_tmp[k] < 0)
                        continue;
                ia.join_fd[ia.n_join] = join_tmp[k];
                ia.join_flag[ia.n_join++] = ns_types[k].flag;
        }
        if (!(new_flags & CLONE_NEWNS)) {
                r = kiln_err(err, -EINVAL,
                             "config.json: linux.namespaces must include a new mount namespace");
                goto fail_ns;
        }
        int clone_flags = new_flags & ~(CLONE_NEWCGROUP | CLONE_NEWTIME);
        if (join_flags & CLONE_NEWUSER) {
                /* namespaces made after joining the user namespace belong to it */
                ia.unshare_flags = clone_flags & ~CLONE_NEWPID;
                clone_flags &= CLONE_NEWPID;
        }
        ia.new_flags = new_flags;

        /* state directory, lock, exec fifo */
        if ((r = kiln_fs_mkdir_p(AT_FDCWD, state_root, 0700)) < 0) {
                r = kiln_err(err, r, "state directory %s: %s", state_root, strerror(-r));
                goto fail_ns;
        }
        dir = kiln_xasprintf("%s/%s", state_root, id);
        if (mkdir(dir, 0700) < 0) {
                r = errno == EEXIST ? kiln_err(err, -KILN_ECONFLICT, "container with id exists: %s", id)
                                    : kiln_err(err, -errno, "mkdir %s: %s", dir, strerror(errno));
                goto fail_ns;
        }
        made_dir = true;
        dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0 || flock(dirfd, LOCK_EX) < 0) {
                r = kiln_err(err, -errno, "open %s: %s", dir, strerror(errno));
                goto fail_ns;
        }
        if (mkfifoat(dirfd, FIFO_NAME, 0622) < 0 || fchmodat(dirfd, FIFO_NAME, 0622, 0) < 0) {
                r = kiln_err(err, -errno, "exec fifo: %s", strerror(errno));
                goto fail_ns;
        }
        fifo_fd = openat(dirfd, FIFO_NAME, O_PATH | O_CLOEXEC);
        if (fifo_fd < 0) {
                r = kiln_err(err, -errno, "exec fifo: %s", strerror(errno));
                goto fail_ns;
        }
        ia.fifo_fd = fifo_fd;
        ia.lock_fd = dirfd;
        if ((r = open_channels(terminal, opts->console_socket, &console_fd, &console_recv, sync_fd,
                               err)) < 0)
                goto fail_ns;
        ia.console_fd = console_fd;
        ia.sync_fd = sync_fd[1];
        cgpath = cgroups_path_for(spec, id, err, &r);
        if (!cgpath)
                goto fail_ns;

        /* no other thread may be running across setns and clone */
        kiln_cgroup_warm_wait();
        /* a pid namespace to join is entered by the runtime itself for its
         * next child only (pid_for_children), then left again */
        int own_pidns = -1;
        if (pidns_join >= 0) {
                own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
                if (own_pidns < 0 || setns(pidns_join, CLONE_NEWPID) < 0) {
                        r = kiln_err(err, -errno, "join the pid namespace: %s", strerror(errno));
                        if (own_pidns >= 0)
                                close(own_pidns);
                        goto fail_ns;
                }
        }
        /* A new user namespace and a network (ipc, uts) namespace to join,
         * made by the host (docker's bridge with --userns): the child could
         * not join it from inside its new user namespace, which does not own
         * it. The runtime joins it for the clone and comes back (as runc's
         * nsexec joins before it unshares the user namespace). */
        int own_ns[MAX_JOIN], own_flag[MAX_JOIN];
        size_t n_own = 0;
        if ((new_flags & CLONE_NEWUSER) && r >= 0) {
                static const char *const nsname[] = { "net", "ipc", "uts" };
                static const int nsflag[] = { CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS };
                for (size_t k = 0; k < ia.n_join && r >= 0;) {
                        size_t t = 0;
                        while (t < 3 && ia.join_flag[k] != nsflag[t])
                                t++;
                        if (t == 3) {
                                k++;
                                continue;
                        }
                        char p[32];
                        snprintf(p, sizeof(p), "/proc/self/ns/%s", nsname[t]);
                        int ofd = open(p, O_RDONLY | O_CLOEXEC);
                        if (ofd < 0 || setns(ia.join_fd[k], nsflag[t]) < 0) {
                                r = kiln_err(err, -errno, "join the %s namespace: %s", nsname[t], strerror(errno));
                                if (ofd >= 0)
                                        close(ofd);
                                break;
                        }
                        own_ns[n_own] = ofd;
                        own_flag[n_own++] = nsflag[t];
                        close(ia.join_fd[k]);
                        ia.join_fd[k] = ia.join_fd[ia.n_join - 1];
                        ia.join_flag[k] = ia.join_flag[ia.n_join - 1];
                        ia.n_join--;
                }
        }
        pid = r < 0 ? -1 : (pid_t)syscall(SYS_clone, (unsigned long)clone_flags | SIGCHLD, 0, 0, 0, 0);
        if (pid == 0)
                init_child(&ia);
        int clone_errno = r < 0 ? -r : errno;
        for (size_t k = 0; k < n_own; k++) {
                if (setns(own_ns[k], own_flag[k]) < 0) {
                }
                close(own_ns[k]);
        }
        if (own_pidns >= 0) {
                if (setns(own_pidns, CLONE_NEWPID) < 0) {
                }
                close(own_pidns);
        }
        if (pid < 0) {
                if (r >= 0)
                        r = kiln_err(err, -clone_errno, "clone: %s", strerror(clone_errno));
                goto fail_ns;
        }
        close(sync_fd[1]);
        sync_fd[1] = -1;
        if (console_recv >= 0) {
                close(console_fd);
                console_fd = -1;
        }

        /* the runtime's part: id maps, cgroup, createRuntime hooks */
        if (new_flags & CLONE_NEWUSER) {
                if ((r = write_id_map(pid, "uid_map", json_object_get(linux_, "uidMappings"), err)) < 0 ||
                    (r = write_id_map(pid, "gid_map", json_object_get(linux_, "gidMappings"), err)) < 0)
                        goto fail_ns;
        }
        bool use_cgroup = true;
        json_t *resources = resources_with_devices(spec);
        r = kiln_cgroup_create(cgpath, resources, &cg, err);
        json_decref(resources);
        if (r < 0 && (geteuid() != 0 || kiln_in_userns()) && (r == -EACCES || r == -EROFS || r == -EPERM)) {
                /* rootless without a delegated cgroup: go on without one,
                 * saying so when limits were asked for (as podman on v1) */
                if (limits_requested(json_object_get(linux_, "resources")))
                        kiln_warn("rootless: resource limits are not supported without a delegated cgroup, "
                                  "ignored (%s)", err ? err->msg : "");
                kiln_error_clear(err);
                use_cgroup = false;
                r = 0;
        }
        if (r < 0) {
                kiln_err_prefix(err, r, "cgroup: ");
                goto fail_ns;
        }
        if (use_cgroup && (r = kiln_cgroup_enter(cg, pid, err)) < 0) {
                kiln_err_prefix(err, r, "cgroup: ");
                goto fail_ns;
        }
        json_t *hooks = json_object_get(spec, "hooks");
        state_str = hook_state(id, "creating", pid, bundle, spec);
        if ((r = kiln_hooks_run(hooks, "prestart", state_str, err)) < 0 ||
            (r = kiln_hooks_run(hooks, "createRuntime", state_str, err)) < 0)
                goto fail_ns;

        if ((r = kiln_sync_send(sync_fd[0], KILN_SYNC_GO, pid, NULL)) < 0) {
                r = kiln_err(err, r, "container init: %s", strerror(-r));
                goto fail_ns;
        }
        /* while the init sets up: the copy of the config, the init's start time */
        r = kiln_fs_write_replace(dirfd, CONFIG_COPY, cfg_data, cfg_len, 0600);
        if (r < 0) {
                r = kiln_err(err, r, "write state: %s", strerror(-r));
                goto fail_ns;
        }
        unsigned long long start = 0;
        kiln_proc_stat(pid, NULL, &start);
        struct kiln_sync_msg m;
        r = kiln_sync_recv(sync_fd[0], &m);
        if (r == 1 && m.type == KILN_SYNC_ERROR) {
                r = kiln_err(err, m.value < 0 ? m.value : -EIO, "container init: %s", m.msg);
                goto fail_ns;
        }
        if (r <= 0 || m.type != KILN_SYNC_READY) {
                int ws = 0;
                waitpid(pid, &ws, 0);
                r = kiln_err(err, -EIO, "container init exited unexpectedly (status %d)",
                             kiln_wait_status_to_exit(ws));
                pid = -1;
                goto fail_ns;
        }
        int master = -1;
        if (console_recv >= 0 && (r = kiln_recv_fd(console_recv, &master)) < 0) {
                r = kiln_err(err, r, "receive the container's pty: %s", strerror(-r));
                goto fail_ns;
        }

        /* the state file */
        char start_s[64] = "";
        kiln_format_rfc3339((int64_t)time(NULL), start_s, sizeof(start_s));
        const char *rootp = json_string_value(json_object_get(json_object_get(spec, "root"), "path"));
        rootfs = rootp[0] == '/' ? kiln_xstrdup(rootp)
                                                      : kiln_xasprintf("%s/%s", bundle, rootp);
        json_t *st = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:{s:I, s:s, s:b, s:b}}",
                               "ociVersion", OCI_VERSION, "id", id, "status", "created", "pid",
                               (json_int_t)pid, "bundle", bundle, "rootfs", rootfs, "created",
                               start_s, "kiln", "initStartTime", (json_int_t)start, "cgroupsPath",
                               cgpath, "cgroup", use_cgroup, "terminal", terminal);
        json_t *ann = json_object_get(spec, "annotations");
        json_object_set_new(st, "annotations", json_is_object(ann) ? json_deep_copy(ann) : json_object());
        json_t *kinds = json_array();
        static const char *const late_hooks[] = { "poststart", "poststop" };
        for (size_t k = 0; k < KILN_ARRAY_SIZE(late_hooks); k++)
                if (json_object_get(hooks, late_hooks[k]))
                        json_array_append_new(kinds, json_string(late_hooks[k]));
        json_object_set_new(json_object_get(st, "kiln"), "hooks", kinds);
        char *st_str = json_dumps(st, JSON_INDENT(2));
        json_decref(st);
        r = kiln_fs_write_replace(dirfd, STATE_FILE, st_str, strlen(st_str), 0600);
        free(st_str);
        if (r < 0) {
                if (master >= 0)
                        close(master);
                r = kiln_err(err, r, "write state: %s", strerror(-r));
                goto fail_ns;
        }
        if (opts->pid_file) {
                char buf[32];
                int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
                r = kiln_fs_write_atomic(AT_FDCWD, opts->pid_file, buf, (size_t)n, 0644);
                if (r < 0) {
                        if (master >= 0)
                                close(master);
                        r = kiln_err(err, r, "write pid file %s: %s", opts->pid_file, strerror(-r));
                        goto fail_ns;
                }
        }
        if (ret_master)
                *ret_master = master;
        else if (master >= 0)
                close(master);
        if (ret_pid)
                *ret_pid = pid;
        r = 0;
        goto out;

fail_ns:
        for (size_t k = 0; k < ia.n_join; k++)
                if (ia.join_fd[k] >= 0)
                        close(ia.join_fd[k]);
        ia.n_join = 0;
        if (pidns_join >= 0)
                close(pidns_join);
        pidns_join = -1;
fail:
        if (pid > 0) {
                kill(pid, SIGKILL);
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        if (cg) {
                kiln_cgroup_destroy(cg, NULL);
        }
        if (made_dir) {
                _cleanup_free_ char *d = kiln_xasprintf("%s/%s", state_root, id);
                kiln_fs_rm_rf_at(AT_FDCWD, d);
                if (opts->pid_file && pid > 0) {
                }
        }
out:
        for (size_t k = 0; k < ia.n_join; k++)
                if (ia.join_fd[k] >= 0)
                        close(ia.join_fd[k]);
        if (r == 0 && pidns_join >= 0)
                close(pidns_join);
        if (cg)
                kiln_cgroup_free(cg);
        if (dirfd >= 0)
                close(dirfd);
        if (fifo_fd >= 0)
                close(fifo_fd);
        if (console_fd >= 0)
                close(console_fd);
        if (console_recv >= 0)
                close(console_recv);
        if (sync_fd[0] >= 0)
                close(sync_fd[0]);
        if (sync_fd[1] >= 0)
                close(sync_fd[1]);
        free(cgpath);
        free(state_str);
        free(dir);
        free(rootfs);
        kiln_seccomp_prog_free(seccomp);
        json_decref(spec);
        return r;
}

int kiln_rt_create(const char *state_root, const char *id, const struct kiln_rt_create_opts *opts,
                   pid_t *ret_pid, struct kiln_error *err)
{
        return do_create(state_root, id, opts, false, NULL, ret_pid, err);
}

/* ------------------------------------------------------------------ */
/* start, state, kill, delete                                          */
/* ------------------------------------------------------------------ */

int kiln_rt_start(const char *state_root, const char *id, struct kiln_error *err)
{
        struct ctr c;
        int r = ctr_load(state_root, id, true, &c, err);
        if (r < 0)
                return r;
        if (strcmp(c.status, "created") != 0) {
                r = !strcmp(c.status, "stopped")
                            ? kiln_err(err, -KILN_ECONFLICT, "cannot start a container that has stopped")
                            : kiln_err(err, -KILN_ECONFLICT, "cannot start an already running container");
                ctr_free(&c);
                return r;
        }
        /* O_NONBLOCK: the open cannot hang if the init died meanwhile; the
         * init's blocked open for writing completes now */
        _cleanup_close_ int fd = openat(c.dirfd, FIFO_NAME, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
                r = kiln_err(err, -errno, "open exec fifo: %s", strerror(errno));
                ctr_free(&c);
                return r;
        }
        char b = 0;
        for (;;) {
                struct pollfd p = { fd, POLLIN, 0 };
                int n = poll(&p, 1, 100);
                if (n < 0 && errno != EINTR) {
                        r = kiln_err(err, -errno, "exec fifo: %s", strerror(errno));
                        break;
                }
                if (n > 0) {
                        ssize_t k = read(fd, &b, 1);
                        if (k == 1) {
                                r = 0;
                                break;
                        }
                        if (k < 0 && errno == EAGAIN)
                                continue;
                        r = kiln_err(err, -EIO, "container init exited before start");
                        break;
                }
                if (!init_alive(c.state, c.pid)) {
                        r = kiln_err(err, -ESRCH, "container init exited before start");
                        break;
                }
        }
        if (r == 0) {
                unlinkat(c.dirfd, FIFO_NAME, 0);
                json_t *cfg = ctr_may_have_hooks(&c, "poststart") ? ctr_config(&c) : NULL;
                json_t *hooks = json_object_get(cfg, "hooks");
                if (json_object_get(hooks, "poststart")) {
                        struct kiln_error herr = { 0 };
                        _cleanup_free_ char *st = hook_state(
                                id, "running", c.pid,
                                json_string_value(json_object_get(c.state, "bundle")), cfg);
                        /* runtime-spec: a failing poststart hook is a warning */
                        if (kiln_hooks_run(hooks, "poststart", st, &herr) < 0)
                                kiln_warn("%s", herr.msg);
                }
                json_decref(cfg);
        }
        ctr_free(&c);
        return r;
}

int kiln_rt_state(const char *state_root, const char *id, json_t **ret, struct kiln_error *err)
{
        struct ctr c;
        int r = ctr_load(state_root, id, false, &c, err);
        if (r < 0)
                return r;
        json_t *out = json_object();
        static const char *const keys[] = { "ociVersion", "id", NULL, "pid", "bundle", "rootfs",
                                            "created" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(keys); i++) {
                if (!keys[i]) {
                        json_object_set_new(out, "status", json_string(c.status));
                        continue;
                }
                json_t *v = json_object_get(c.state, keys[i]);
                if (v)
                        json_object_set(out, keys[i], v);
        }
        if (!strcmp(c.status, "stopped"))
                json_object_set_new(out, "pid", json_integer(0));
        json_t *ann = json_object_get(c.state, "annotations");
        json_object_set_new(out, "annotations", json_is_object(ann) ? json_deep_copy(ann) : json_object());
        json_object_set_new(out, "owner", json_string(""));
        ctr_free(&c);
        *ret = out;
        return 0;
}

int kiln_rt_kill(const char *state_root, const char *id, int sig, bool all, struct kiln_error *err)
{
        if (sig <= 0 || sig >= NSIG)
                return kiln_err(err, -EINVAL, "invalid signal %d", sig);
        struct ctr c;
        int r = ctr_load(state_root, id, false, &c, err);
        if (r < 0)
                return r;
        const char *cgp = ctr_cgroup_path(&c);
        if (!strcmp(c.status, "stopped") && !(all && cgp)) {
                ctr_free(&c);
                return kiln_err(err, -ESRCH, "container not running");
        }
        if (all && cgp) {
                struct kiln_cgroup *cg = NULL;
                r = kiln_cgroup_open(cgp, &cg, err);
                if (r == 0) {
                        r = kiln_cgroup_signal_all(cg, sig);
                        if (r < 0)
                                kiln_err(err, r, "signal the processes of %s: %s", id, strerror(-r));
                        kiln_cgroup_free(cg);
                }
                if (r < 0 && !strcmp(c.status, "stopped")) {
                        ctr_free(&c);
                        return kiln_err(err, -ESRCH, "container not running");
                }
                if (r == 0 || strcmp(c.status, "stopped") != 0) {
                        /* the init too (it may be outside the cgroup if rootless) */
                        if (strcmp(c.status, "stopped") != 0)
                                kill(c.pid, sig);
                        ctr_free(&c);
                        return 0;
                }
        }
        if (kill(c.pid, sig) < 0) {
                r = -errno;
                ctr_free(&c);
                return r == -ESRCH ? kiln_err(err, r, "container not running")
                                   : kiln_err(err, r, "kill: %s", strerror(-r));
        }
        ctr_free(&c);
        return 0;
}

/* Wait until pid is gone (reaping it if it is our child); false on timeout. */
static bool wait_gone(json_t *state, pid_t pid, int timeout_ms)
{
        for (int t = 0; t < timeout_ms; t += 10) {
                waitpid(pid, NULL, WNOHANG);
                if (!init_alive(state, pid)) {
                        /* it may have turned into our zombie since: reap it */
                        waitpid(pid, NULL, WNOHANG);
                        return true;
                }
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        return false;
}

int kiln_rt_delete(const char *state_root, const char *id, bool force, struct kiln_error *err)
{
        struct ctr c;
        int r = ctr_load(state_root, id, true, &c, err);
        if (r < 0) {
                if (r == -KILN_ENOTFOUND && force) {
                        /* a half-created directory without state.json */
                        int vr = validate_id(id, NULL);
                        if (vr == 0) {
                                _cleanup_free_ char *d = kiln_xasprintf("%s/%s", state_root, id);
                                if (access(d, F_OK) == 0) {
                                        kiln_error_clear(err);
                                        return kiln_fs_rm_rf_at(AT_FDCWD, d);
                                }
                        }
                }
                return r;
        }
        const char *cgp = ctr_cgroup_path(&c);
        if (!strcmp(c.status, "running") && !force) {
                ctr_free(&c);
                return kiln_err(err, -KILN_ECONFLICT,
                                "cannot delete container %s that is not stopped: running", id);
        }
        struct kiln_cgroup *cg = NULL;
        if (cgp && kiln_cgroup_open(cgp, &cg, NULL) < 0)
                cg = NULL;
        if (strcmp(c.status, "stopped") != 0) {
                /* running with force, or created (runc deletes those too) */
                if (cg)
                        kiln_cgroup_signal_all(cg, SIGKILL);
                kill(c.pid, SIGKILL);
                if (!wait_gone(c.state, c.pid, 10000)) {
                        pid_t pid = c.pid;
                        kiln_cgroup_free(cg);
                        ctr_free(&c);
                        return kiln_err(err, -EBUSY, "container %s: init %d did not exit after SIGKILL",
                                        id, (int)pid);
                }
        } else {
                waitpid(c.pid, NULL, WNOHANG);
        }
        if (cg) {
                /* stragglers: processes left after the init in a shared pid ns */
                kiln_cgroup_signal_all(cg, SIGKILL);
                struct kiln_error cerr = { 0 };
                r = kiln_cgroup_destroy(cg, &cerr);
                kiln_cgroup_free(cg);
                if (r < 0) {
                        ctr_free(&c);
                        return kiln_err(err, r, "delete container %s: cgroup: %s", id, cerr.msg);
                }
        }
        json_t *cfg = ctr_may_have_hooks(&c, "poststop") ? ctr_config(&c) : NULL;
        _cleanup_free_ char *st = cfg ? hook_state(id, "stopped", c.pid,
                                                   json_string_value(json_object_get(c.state, "bundle")), cfg)
                                      : NULL;
        r = kiln_fs_rm_rf_at(AT_FDCWD, c.dir);
        if (r < 0) {
                kiln_err(err, r, "remove %s: %s", c.dir, strerror(-r));
                json_decref(cfg);
                ctr_free(&c);
                return r;
        }
        json_t *hooks = json_object_get(cfg, "hooks");
        if (json_object_get(hooks, "poststop")) {
                struct kiln_error herr = { 0 };
                if (kiln_hooks_run(hooks, "poststop", st, &herr) < 0)
                        kiln_warn("%s", herr.msg);
        }
        json_decref(cfg);
        ctr_free(&c);
        return 0;
}

/* ------------------------------------------------------------------ */
/* run                                                                 */
/* ------------------------------------------------------------------ */

int kiln_rt_run(const char *state_root, const char *id, const struct kiln_rt_create_opts *opts,
                bool detach, int *ret_status, struct kiln_error *err)
{
        struct kiln_rt_create_opts defaults = KILN_RT_CREATE_OPTS_INIT;
        if (!opts)
                opts = &defaults;
        sigset_t set, old;
        kiln_rt_forward_sigset(&set);
        sigaddset(&set, SIGCHLD);
        if (!detach)
                pthread_sigmask(SIG_BLOCK, &set, &old);
        pid_t pid = -1;
        int master = -1;
        int r = do_create(state_root, id, opts, !detach && !opts->console_socket, &master, &pid, err);
        if (r < 0)
                goto out;
        r = kiln_rt_start(state_root, id, err);
        if (r < 0) {
                if (master >= 0)
                        close(master);
                kiln_rt_delete(state_root, id, true, NULL);
                goto out;
        }
        if (detach) {
                if (ret_status)
                        *ret_status = 0;
                goto out;
        }
        int ws = 0, ksig = 0;
        r = kiln_rt_tty_proxy(pid, master, &ws, opts->kill_on_signal ? &ksig : NULL, err);
        if (master >= 0)
                close(master);
        struct kiln_error derr = { 0 };
        int dr = kiln_rt_delete(state_root, id, true, &derr);
        if (r == 0 && dr < 0)
                kiln_warn("%s", derr.msg);
        if (r == 0 && ksig)
                r = kiln_err(err, -EINTR, "interrupted by %s", strsignal(ksig));
        if (r == 0 && ret_status)
                *ret_status = kiln_wait_status_to_exit(ws);
out:
        if (!detach) {
                /* drop SIGCHLDs of our own children queued meanwhile */
                struct timespec zero = { 0, 0 };
                sigset_t chld;
                sigemptyset(&chld);
                sigaddset(&chld, SIGCHLD);
                if (!sigismember(&old, SIGCHLD))
                        while (sigtimedwait(&chld, NULL, &zero) > 0)
                                ;
                pthread_sigmask(SIG_SETMASK, &old, NULL);
        }
        return r;
}

/* ------------------------------------------------------------------ */
/* exec                                                                */
/* ------------------------------------------------------------------ */

static bool same_ns(pid_t pid, const char *name)
{
        char a[64], b[64];
        struct stat sa, sb;
        snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid, name);
        snprintf(b, sizeof(b), "/proc/self/ns/%s", name);
        if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
                return true; /* not supported by the kernel: nothing to join */
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

struct exec_args {
        json_t *process;
        const struct kiln_seccomp_prog *seccomp;
        int sync_fd;
        int console_fd;
        int root_fd;
        int ns_fd[MAX_JOIN];
        int ns_flag[MAX_JOIN];
        size_t n_ns;
        const struct kiln_rt_exec_opts *opts;
};

__attribute__((noreturn)) static void exec_child(struct exec_args *a)
{
        struct kiln_error err = { 0 };
        struct kiln_sync_msg m;
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        kiln_proc_reset_signals();
        if (setsid() < 0) {
        }
        a->sync_fd = move_fd_above(a->sync_fd, 3);
        a->console_fd = move_fd_above(a->console_fd, 3);
        a->root_fd = move_fd_above(a->root_fd, 3);
        for (size_t i = 0; i < a->n_ns; i++)
                a->ns_fd[i] = move_fd_above(a->ns_fd[i], 3);
        int r = kiln_sync_recv(a->sync_fd, &m);
        if (r <= 0 || m.type != KILN_SYNC_GO)
                _exit(1);
        /* An unprivileged runtime joins the user namespace first, for the
         * capabilities it gives over the others. The host's root has those
         * already, and joins it last: a namespace the container shares with
         * the host (the bridge's netns, made by the host) is not the
         * container user namespace's, and could not be joined from inside. */
        bool user_last = geteuid() == 0 && !kiln_in_userns();
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < a->n_ns; i++) {
                        bool is_user = a->ns_flag[i] == CLONE_NEWUSER;
                        if (a->ns_fd[i] < 0 || (user_last && is_user != (pass == 1)))
                                continue;
                        if (setns(a->ns_fd[i], a->ns_flag[i]) < 0) {
                                kiln_err(&err, -errno, "setns: %s", strerror(errno));
                                kiln_sync_fail(a->sync_fd, &err);
                        }
                        close(a->ns_fd[i]);
                        a->ns_fd[i] = -1;
                        if (is_user)
                                set_id_zero();
                }
        }
        /* the container's root: where its init lives, pivoted or chrooted */
        if (fchdir(a->root_fd) < 0 || chroot(".") < 0 || chdir("/") < 0) {
                kiln_err(&err, -errno, "enter the container's root: %s", strerror(errno));
                kiln_sync_fail(a->sync_fd, &err);
        }
        close(a->root_fd);
        const int stdio[3] = { a->opts->stdin_fd, a->opts->stdout_fd, a->opts->stderr_fd };
        if (kiln_proc_setup_stdio(stdio, &err) < 0)
                kiln_sync_fail(a->sync_fd, &err);
        if (json_is_true(json_object_get(a->process, "terminal")) &&
            kiln_proc_setup_console(a->console_fd, a->process, &err) < 0)
                kiln_sync_fail(a->sync_fd, &err);
        if (a->console_fd >= 0)
                close(a->console_fd);
        if (kiln_proc_oom_score(a->process, &err) < 0 || kiln_proc_rlimits(a->process, &err) < 0)
                kiln_sync_fail(a->sync_fd, &err);
        kiln_proc_cloexec_from(3);
        _cleanup_free_ char *path = NULL;
        if (kiln_proc_finalize(a->process, a->seccomp, &path, &err) < 0)
                kiln_sync_fail(a->sync_fd, &err);
        /* the sync socket is close-on-exec: the runtime sees EOF on success */
        kiln_proc_exec(a->process, a->seccomp, path);
}

/* Fork exec_child in the pid namespace pidns through an intermediate child
 * that joins it; we become the subreaper, so the process is our child once
 * the intermediate has gone. Returns its pid, or -1 with *ret_errno. */
static pid_t fork_via_child(int pidns, struct exec_args *ea, int *ret_errno)
{
        int p[2];
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 || pipe2(p, O_CLOEXEC) < 0) {
                *ret_errno = errno;
                return -1;
        }
        pid_t mid = fork();
        if (mid == 0) {
                int v = setns(pidns, CLONE_NEWPID) < 0 ? -errno : 0;
                if (!v) {
                        pid_t pid = fork();
                        if (pid == 0)
                                exec_child(ea);
                        v = pid < 0 ? -errno : pid;
                }
                (void)!write(p[1], &v, sizeof(v));
                _exit(0);
        }
        int e = errno;
        close(p[1]);
        int v = -EIO;
        if (mid < 0 || read(p[0], &v, sizeof(v)) != sizeof(v))
                v = mid < 0 ? -e : -EIO;
        close(p[0]);
        if (mid > 0)
                while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
                        ;
        if (v < 0) {
                *ret_errno = -v;
                return -1;
        }
        return (pid_t)v;
}

int kiln_rt_exec(const char *state_root, const char *id, const struct kiln_rt_exec_opts *opts,
                 int *ret_status, struct kiln_error *err)
{
        if (!opts || !json_is_object(opts->process))
                return kiln_err(err, -EINVAL, "exec: no process given");
        struct ctr c;
        int r = ctr_load(state_root, id, false, &c, err);
        if (r < 0)
                return r;
        if (!strcmp(c.status, "stopped")) {
                ctr_free(&c);
                return kiln_err(err, -KILN_ECONFLICT, "cannot exec in a stopped container");
        }
        json_t *cfg = ctr_config(&c);
        json_t *cproc = json_object_get(cfg, "process");
        /* the process object, with the container's settings where unset */
        json_t *process = json_deep_copy(opts->process);
        static const char *const inherit[] = { "env", "cwd", "user", "capabilities",
                                               "noNewPrivileges", "apparmorProfile",
                                               "selinuxLabel", "rlimits" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(inherit); i++)
                if (!json_object_get(process, inherit[i]) && json_object_get(cproc, inherit[i]))
                        json_object_set(process, inherit[i], json_object_get(cproc, inherit[i]));
        json_t *args = json_object_get(process, "args");
        bool terminal = json_is_true(json_object_get(process, "terminal"));
        pid_t pid = -1;
        int sync_fd[2] = { -1, -1 }, console_fd = -1, console_recv = -1, master = -1;
        struct exec_args ea = { .process = process, .console_fd = -1, .root_fd = -1, .opts = opts };
        struct kiln_seccomp_prog *seccomp = NULL;
        struct kiln_cgroup *cg = NULL;
        int own_pidns = -1, pidns = -1;
        sigset_t set, old;
        bool blocked = false;

        if (!json_is_array(args) || !json_array_size(args)) {
                r = kiln_err(err, -EINVAL, "exec: process.args must not be empty");
                goto out;
        }
        {
                _cleanup_free_ char *sc_cache = kiln_seccomp_cache_dir(state_root);
                r = kiln_seccomp_compile(json_object_get(json_object_get(cfg, "linux"), "seccomp"),
                                         sc_cache, &seccomp, err);
                if (r < 0)
                        goto out;
                ea.seccomp = seccomp;
        }
        if (terminal && !opts->console_socket && opts->detach) {
                r = kiln_err(err, -EINVAL,
                             "cannot allocate tty if the runtime will detach without setting console socket");
                goto out;
        }
        char rootp[64];
        snprintf(rootp, sizeof(rootp), "/proc/%d/root", (int)c.pid);
        ea.root_fd = open(rootp, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (ea.root_fd < 0) {
                r = kiln_err(err, -errno, "open %s: %s", rootp, strerror(errno));
                goto out;
        }
        for (size_t k = 0; k < MAX_JOIN; k++) {
                if (same_ns(c.pid, ns_types[k].proc))
                        continue;
                char p[64];
                snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)c.pid, ns_types[k].proc);
                int fd = open(p, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        r = kiln_err(err, -errno, "open %s: %s", p, strerror(errno));
                        goto out;
                }
                if (ns_types[k].flag == CLONE_NEWPID) {
                        pidns = fd;
                        continue;
                }
                if (ns_types[k].flag == CLONE_NEWTIME) {
                        /* a time namespace applies to children: skip, the
                         * init's clocks are the host's anyway unless set */
                        close(fd);
                        continue;
                }
                ea.ns_fd[ea.n_ns] = fd;
                ea.ns_flag[ea.n_ns++] = ns_types[k].flag;
        }
        if ((r = open_channels(terminal, opts->console_socket, &console_fd, &console_recv, sync_fd,
                               err)) < 0)
                goto out;
        ea.console_fd = console_fd;
        ea.sync_fd = sync_fd[1];
        const char *cgp = ctr_cgroup_path(&c);
        if (cgp && (r = kiln_cgroup_open(cgp, &cg, err)) < 0) {
                kiln_err_prefix(err, r, "cgroup: ");
                goto out;
        }
        if (!opts->detach) {
                kiln_rt_forward_sigset(&set);
                sigaddset(&set, SIGCHLD);
                pthread_sigmask(SIG_BLOCK, &set, &old);
                blocked = true;
        }
        int fork_errno = 0;
        kiln_cgroup_warm_wait(); /* no other thread across setns and fork */
        if (pidns >= 0) {
                own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
                /* Our own pid namespace must be ours again after the fork, or
                 * every later child of this process (a hook, the sanitizers'
                 * tracer) would be born in the container's. Going back needs
                 * CAP_SYS_ADMIN over it, which a rootless runtime has not:
                 * then an intermediate child joins and forks instead. */
                if (own_pidns >= 0 && setns(own_pidns, CLONE_NEWPID) < 0) {
                        pid = fork_via_child(pidns, &ea, &fork_errno);
                        goto forked;
                }
                if (own_pidns < 0 || setns(pidns, CLONE_NEWPID) < 0) {
                        r = kiln_err(err, -errno, "join the container's pid namespace: %s",
                                     strerror(errno));
                        goto out;
                }
        }
        pid = fork();
        if (pid == 0)
                exec_child(&ea);
        fork_errno = errno;
        if (own_pidns >= 0 && setns(own_pidns, CLONE_NEWPID) < 0) {
        }
forked:
        if (pid < 0) {
                r = kiln_err(err, -fork_errno, "fork: %s", strerror(fork_errno));
                goto out;
        }
        close(sync_fd[1]);
        sync_fd[1] = -1;
        if (console_recv >= 0) {
                close(console_fd);
                console_fd = -1;
        }
        if (cg && (r = kiln_cgroup_enter(cg, pid, err)) < 0) {
                kiln_err_prefix(err, r, "cgroup: ");
                goto fail_child;
        }
        if ((r = kiln_sync_send(sync_fd[0], KILN_SYNC_GO, pid, NULL)) < 0) {
                r = kiln_err(err, r, "exec: %s", strerror(-r));
                goto fail_child;
        }
        if (console_recv >= 0) {
                /* the pty comes before the exec; a failure shows on the sync socket */
                struct pollfd p[2] = { { console_recv, POLLIN, 0 }, { sync_fd[0], POLLIN, 0 } };
                while (poll(p, 2, -1) < 0 && errno == EINTR)
                        ;
                if (p[0].revents & POLLIN) {
                        if ((r = kiln_recv_fd(console_recv, &master)) < 0) {
                                r = kiln_err(err, r, "receive the pty: %s", strerror(-r));
                                goto fail_child;
                        }
                }
        }
        struct kiln_sync_msg m;
        r = kiln_sync_recv(sync_fd[0], &m);
        if (r == 1 && m.type == KILN_SYNC_ERROR) {
                r = kiln_err(err, m.value < 0 ? m.value : -EIO, "exec: %s", m.msg);
                goto fail_child;
        }
        if (r < 0) {
                r = kiln_err(err, r, "exec: %s", strerror(-r));
                goto fail_child;
        }
        /* EOF: execve happened (or the process ended; its status tells) */
        if (opts->pid_file) {
                char buf[32];
                int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
                r = kiln_fs_write_atomic(AT_FDCWD, opts->pid_file, buf, (size_t)n, 0644);
                if (r < 0) {
                        r = kiln_err(err, r, "write pid file %s: %s", opts->pid_file, strerror(-r));
                        goto fail_child;
                }
        }
        if (opts->detach) {
                r = 0;
                goto out;
        }
        int ws = 0;
        r = kiln_rt_tty_proxy(pid, master, &ws, NULL, err);
        if (r == 0 && ret_status)
                *ret_status = kiln_wait_status_to_exit(ws);
        goto out;

fail_child:
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
out:
        if (blocked) {
                pthread_sigmask(SIG_SETMASK, &old, NULL);
        }
        for (size_t k = 0; k < ea.n_ns; k++)
                close(ea.ns_fd[k]);
        if (ea.root_fd >= 0)
                close(ea.root_fd);
        if (pidns >= 0)
                close(pidns);
        if (own_pidns >= 0)
                close(own_pidns);
        if (master >= 0)
                close(master);
        if (console_fd >= 0)
                close(console_fd);
        if (console_recv >= 0)
                close(console_recv);
        if (sync_fd[0] >= 0)
                close(sync_fd[0]);
        if (sync_fd[1] >= 0)
                close(sync_fd[1]);
        kiln_cgroup_free(cg);
        kiln_seccomp_prog_free(seccomp);
        json_decref(process);
        json_decref(cfg);
        ctr_free(&c);
        return r;
}

/* ------------------------------------------------------------------ */
/* list, pids, features                                                */
/* ------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int kiln_rt_list(const char *state_root, char ***ret, struct kiln_error *err)
{
        DIR *d = opendir(state_root);
        size_t n = 0, cap = 8;
        char **v = kiln_xcalloc(cap, sizeof(char *));
        if (!d) {
                if (errno == ENOENT) {
                        *ret = v;
                        return 0;
                }
                int e = errno;
                free(v);
                return kiln_err(err, -e, "open %s: %s", state_root, strerror(e));
        }
        struct dirent *e;
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.' || validate_id(e->d_name, NULL) < 0)
                        continue;
                char p[1100];
                snprintf(p, sizeof(p), "%s/%s", e->d_name, STATE_FILE);
                if (faccessat(dirfd(d), p, F_OK, 0) < 0)
                        continue;
                if (n + 1 >= cap) {
                        cap *= 2;
                        v = kiln_xrealloc(v, cap * sizeof(char *));
                }
                v[n++] = kiln_xstrdup(e->d_name);
                v[n] = NULL;
        }
        closedir(d);
        qsort(v, n, sizeof(char *), cmp_str);
        *ret = v;
        return (int)n;
}

int kiln_rt_pids(const char *state_root, const char *id, pid_t **ret, size_t *ret_n,
                 struct kiln_error *err)
{
        struct ctr c;
        int r = ctr_load(state_root, id, false, &c, err);
        if (r < 0)
                return r;
        const char *cgp = ctr_cgroup_path(&c);
        if (!cgp) {
                /* no cgroup (rootless): the init alone */
                bool alive = strcmp(c.status, "stopped") != 0;
                pid_t *v = kiln_xcalloc(1, sizeof(pid_t));
                if (alive)
                        v[0] = c.pid;
                *ret = v;
                *ret_n = alive ? 1 : 0;
                ctr_free(&c);
                return 0;
        }
        struct kiln_cgroup *cg = NULL;
        r = kiln_cgroup_open(cgp, &cg, err);
        if (r == 0) {
                r = kiln_cgroup_pids(cg, ret, ret_n);
                if (r < 0)
                        kiln_err(err, r, "pids of %s: %s", id, strerror(-r));
                kiln_cgroup_free(cg);
        }
        ctr_free(&c);
        return r < 0 ? r : 0;
}

json_t *kiln_rt_features(void)
{
        json_t *f = json_pack("{s:s, s:s}", "ociVersionMin", "1.0.0", "ociVersionMax", OCI_VERSION);
        json_object_set_new(f, "hooks",
                            json_pack("[s,s,s,s,s,s]", "prestart", "createRuntime",
                                      "createContainer", "startContainer", "poststart", "poststop"));
        json_object_set_new(
                f, "mountOptions",
                json_pack("[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s]", "async",
                          "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
                          "noatime", "nodev", "nodiratime", "noexec", "norelatime", "nostrictatime",
                          "nosuid", "private", "rbind", "relatime", "remount", "ro", "rprivate",
                          "rshared", "rslave", "runbindable", "rw", "shared", "slave",
                          "strictatime", "suid", "sync"));
        json_t *caps = json_array();
        for (int i = 0; kiln_cap_name(i); i++)
                json_array_append_new(caps, json_string(kiln_cap_name(i)));
        json_t *nsl = json_array();
        static const char *const ns_order[] = { "cgroup", "ipc", "mount", "network", "pid", "user",
                                                "uts" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(ns_order); i++)
                json_array_append_new(nsl, json_string(ns_order[i]));
        json_t *lin = json_object();
        json_object_set_new(lin, "namespaces", nsl);
        json_object_set_new(lin, "capabilities", caps);
        json_object_set_new(lin, "cgroup", json_pack("{s:b, s:b, s:b, s:b}", "v1", 1, "v2", 1,
                                                     "systemd", 0, "systemdUser", 0));
        json_object_set_new(
                lin, "seccomp",
                json_pack("{s:b, s:[s,s,s,s,s,s,s,s], s:[s,s,s,s,s,s,s], s:[s,s,s,s,s,s,s,s,s,s]}",
                          "enabled", 1, "actions", "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO",
                          "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                          "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP", "operators",
                          "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                          "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE", "archs", "SCMP_ARCH_AARCH64",
                          "SCMP_ARCH_ARM", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE",
                          "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_X32",
                          "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"));
        json_object_set_new(lin, "apparmor", json_pack("{s:b}", "enabled", 0));
        json_object_set_new(lin, "selinux", json_pack("{s:b}", "enabled", 0));
        json_object_set_new(f, "linux", lin);
        json_object_set_new(f, "annotations",
                            json_pack("{s:s}", "org.kiln.runtime.version", OCI_VERSION));
        return f;
}
