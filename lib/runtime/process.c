/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container process: what the init (create) and an exec'd process share
 * between fork and execve — stdio, rlimits, the console, user, capabilities,
 * cwd, no_new_privs, seccomp, PATH lookup — plus the sync messages, hooks and
 * the terminal copy loop. Child-side functions report through a
 * struct kiln_error; the caller sends it to the runtime over the sync socket.
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include "kiln/fs.h"
#include "rt-process.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* ---- sync ---- */

int kiln_sync_send(int fd, int type, int value, const char *msg)
{
        struct kiln_sync_msg m;
        memset(&m, 0, sizeof(m));
        m.type = type;
        m.value = value;
        if (msg)
                snprintf(m.msg, sizeof(m.msg), "%s", msg);
        for (;;) {
                ssize_t n = send(fd, &m, sizeof(m), MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                return n == (ssize_t)sizeof(m) ? 0 : -EIO;
        }
}

int kiln_sync_recv(int fd, struct kiln_sync_msg *ret)
{
        struct kiln_sync_msg m;
        for (;;) {
                ssize_t n = recv(fd, &m, sizeof(m), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno == ECONNRESET ? 0 : -errno;
                if (n == 0)
                        return 0;
                if (n != (ssize_t)sizeof(m))
                        return -EPROTO;
                m.msg[sizeof(m.msg) - 1] = 0;
                *ret = m;
                return 1;
        }
}

void kiln_sync_fail(int fd, const struct kiln_error *err)
{
        kiln_sync_send(fd, KILN_SYNC_ERROR, err->code ? err->code : -EIO,
                       err->msg[0] ? err->msg : kiln_strerror(err->code));
        _exit(1);
}

/* ---- fds ---- */

int kiln_send_fd(int sock, int fd, const char *name)
{
        char buf[CMSG_SPACE(sizeof(int))];
        memset(buf, 0, sizeof(buf));
        const char *data = name && *name ? name : "/dev/ptmx";
        struct iovec iov = { .iov_base = (void *)data, .iov_len = strlen(data) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf,
                             .msg_controllen = sizeof(buf) };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
        for (;;) {
                if (sendmsg(sock, &mh, MSG_NOSIGNAL) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

int kiln_recv_fd(int sock, int *ret_fd)
{
        char buf[CMSG_SPACE(sizeof(int))];
        char data[4096];
        struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf,
                             .msg_controllen = sizeof(buf) };
        ssize_t n;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                    c->cmsg_len == CMSG_LEN(sizeof(int))) {
                        memcpy(ret_fd, CMSG_DATA(c), sizeof(int));
                        return 0;
                }
        }
        return -EBADMSG;
}

int kiln_proc_cloexec_from(int from)
{
        if (syscall(SYS_close_range, (unsigned)from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
                return 0;
        /* older kernels: walk /proc/self/fd */
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                return -errno;
        int dfd = dirfd(d);
        struct dirent *e;
        while ((e = readdir(d))) {
                char *end;
                long fd = strtol(e->d_name, &end, 10);
                if (*end || e->d_name[0] == '.' || fd < from || fd == dfd)
                        continue;
                int fl = fcntl((int)fd, F_GETFD);
                if (fl >= 0)
                        fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC);
        }
        closedir(d);
        return 0;
}

void kiln_proc_reset_signals(void)
{
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        for (int s = 1; s < NSIG; s++)
                if (s != SIGKILL && s != SIGSTOP)
                        sigaction(s, &sa, NULL);
}

int kiln_proc_setup_stdio(const int fds[3], struct kiln_error *err)
{
        /* move sources out of 0..2 first so one dup2 cannot clobber another */
        int src[3];
        for (int i = 0; i < 3; i++) {
                src[i] = fds[i];
                if (src[i] >= 0 && src[i] < 3 && src[i] != i) {
                        src[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                        if (src[i] < 0)
                                return kiln_err(err, -errno, "stdio: %s", strerror(errno));
                }
        }
        for (int i = 0; i < 3; i++) {
                if (src[i] < 0)
                        continue;
                if (src[i] == i) {
                        int fl = fcntl(i, F_GETFD);
                        if (fl >= 0)
                                fcntl(i, F_SETFD, fl & ~FD_CLOEXEC);
                        continue;
                }
                if (dup2(src[i], i) < 0)
                        return kiln_err(err, -errno, "stdio: dup2: %s", strerror(errno));
        }
        return 0;
}

/* ---- rlimits and oom ---- */

static const struct {
        const char *name;
        int res;
} rlimit_names[] = {
        { "RLIMIT_CPU", RLIMIT_CPU },       { "RLIMIT_FSIZE", RLIMIT_FSIZE },
        { "RLIMIT_DATA", RLIMIT_DATA },     { "RLIMIT_STACK", RLIMIT_STACK },
        { "RLIMIT_CORE", RLIMIT_CORE },     { "RLIMIT_RSS", RLIMIT_RSS },
        { "RLIMIT_NPROC", RLIMIT_NPROC },   { "RLIMIT_NOFILE", RLIMIT_NOFILE },
        { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_AS", RLIMIT_AS },
        { "RLIMIT_LOCKS", RLIMIT_LOCKS },   { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
        { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
        { "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

int kiln_proc_rlimits(json_t *process, struct kiln_error *err)
{
        json_t *rl = json_object_get(process, "rlimits");
        size_t i;
        json_t *v;
        if (!rl)
                return 0;
        if (!json_is_array(rl))
                return kiln_err(err, -EINVAL, "process.rlimits: not an array");
        json_array_foreach(rl, i, v)
        {
                const char *type = json_string_value(json_object_get(v, "type"));
                json_t *jh = json_object_get(v, "hard"), *js = json_object_get(v, "soft");
                int res = -1;
                for (size_t k = 0; type && k < KILN_ARRAY_SIZE(rlimit_names); k++)
                        if (!strcmp(type, rlimit_names[k].name))
                                res = rlimit_names[k].res;
                if (res < 0)
                        return kiln_err(err, -EINVAL, "process.rlimits: unknown type \"%s\"",
                                        type ? type : "");
                if (!json_is_integer(jh) || !json_is_integer(js))
                        return kiln_err(err, -EINVAL, "process.rlimits %s: soft and hard must be integers",
                                        type);
                struct rlimit r = { .rlim_cur = (rlim_t)json_integer_value(js),
                                    .rlim_max = (rlim_t)json_integer_value(jh) };
                /* json integers are signed: -1 (or 2^64-1 wrapped) means infinity */
                if (json_integer_value(js) < 0)
                        r.rlim_cur = RLIM_INFINITY;
                if (json_integer_value(jh) < 0)
                        r.rlim_max = RLIM_INFINITY;
                if (r.rlim_cur > r.rlim_max)
                        return kiln_err(err, -EINVAL, "process.rlimits %s: soft %llu above hard %llu",
                                        type, (unsigned long long)r.rlim_cur,
                                        (unsigned long long)r.rlim_max);
                if (setrlimit(res, &r) < 0) {
                        int e = errno;
                        struct rlimit cur;
                        getrlimit(res, &cur);
                        if (e == EPERM && r.rlim_max > cur.rlim_max)
                                return kiln_err(err, -EPERM,
                                                "setrlimit %s: hard limit %llu is above the current hard "
                                                "limit %llu (raising it needs CAP_SYS_RESOURCE)",
                                                type, (unsigned long long)r.rlim_max,
                                                (unsigned long long)cur.rlim_max);
                        return kiln_err(err, -e, "setrlimit %s: %s", type, strerror(e));
                }
        }
        return 0;
}

int kiln_proc_oom_score(json_t *process, struct kiln_error *err)
{
        json_t *o = json_object_get(process, "oomScoreAdj");
        if (!json_is_integer(o))
                return 0;
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(o));
        _cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, buf, (size_t)n) != n)
                return kiln_err(err, -errno, "set oom_score_adj to %s: %s", buf, strerror(errno));
        return 0;
}

/* ---- console ---- */

int kiln_proc_setup_console(int sock, json_t *process, struct kiln_error *err)
{
        _cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return kiln_err(err, -errno, "open /dev/ptmx: %s", strerror(errno));
        if (unlockpt(master) < 0)
                return kiln_err(err, -errno, "unlockpt: %s", strerror(errno));
        char name[128];
        if (ptsname_r(master, name, sizeof(name)) != 0)
                return kiln_err(err, -errno, "ptsname: %s", strerror(errno));
        _cleanup_close_ int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return kiln_err(err, -errno, "open %s: %s", name, strerror(errno));
        json_t *cs = json_object_get(process, "consoleSize");
        if (json_is_object(cs)) {
                struct winsize ws = {
                        .ws_row = (unsigned short)json_integer_value(json_object_get(cs, "height")),
                        .ws_col = (unsigned short)json_integer_value(json_object_get(cs, "width")),
                };
                ioctl(slave, TIOCSWINSZ, &ws);
        }
        if (ioctl(slave, TIOCSCTTY, 0) < 0)
                return kiln_err(err, -errno, "make %s the controlling terminal: %s", name,
                                strerror(errno));
        for (int i = 0; i < 3; i++)
                if (dup2(slave, i) < 0)
                        return kiln_err(err, -errno, "dup2 tty: %s", strerror(errno));
        int r = kiln_send_fd(sock, master, name);
        if (r < 0)
                return kiln_err(err, r, "send the pty master over the console socket: %s",
                                strerror(-r));
        return 0;
}

/* ---- user, caps, cwd, nnp, seccomp ---- */

static const char default_path[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

int kiln_proc_find_exec(const char *arg0, json_t *env, char **ret, struct kiln_error *err)
{
        if (!arg0 || !*arg0)
                return kiln_err(err, -EINVAL, "process.args[0] is empty");
        if (strchr(arg0, '/')) {
                struct stat st;
                if (stat(arg0, &st) < 0)
                        return kiln_err(err, -errno, "exec: \"%s\": %s", arg0, strerror(errno));
                if (S_ISDIR(st.st_mode))
                        return kiln_err(err, -EACCES, "exec: \"%s\": is a directory", arg0);
                *ret = kiln_xstrdup(arg0);
                return 0;
        }
        const char *path = default_path;
        size_t i;
        json_t *v;
        json_array_foreach(env, i, v)
        {
                const char *s = json_string_value(v);
                if (s && kiln_startswith(s, "PATH="))
                        path = s + 5;
        }
        _cleanup_free_ char *p = kiln_xstrdup(path);
        char *save = NULL;
        bool denied = false;
        for (char *dir = strtok_r(p, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *cand = kiln_xasprintf("%s/%s", *dir ? dir : ".", arg0);
                struct stat st;
                if (stat(cand, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (access(cand, X_OK) < 0) {
                        denied = true;
                        continue;
                }
                *ret = TAKE_PTR(cand);
                return 0;
        }
        if (denied)
                return kiln_err(err, -EACCES, "exec: \"%s\": permission denied", arg0);
        return kiln_err(err, -ENOENT, "exec: \"%s\": executable file not found in $PATH", arg0);
}

static int setup_user(json_t *user, struct kiln_error *err)
{
        uid_t uid = (uid_t)json_integer_value(json_object_get(user, "uid"));
        gid_t gid = (gid_t)json_integer_value(json_object_get(user, "gid"));
        json_t *ag = json_object_get(user, "additionalGids");
        size_t n = json_is_array(ag) ? json_array_size(ag) : 0;
        if (n > 65536)
                return kiln_err(err, -E2BIG, "process.user.additionalGids: too many groups");
        _cleanup_free_ gid_t *groups = kiln_xcalloc(n + 1, sizeof(gid_t));
        for (size_t i = 0; i < n; i++)
                groups[i] = (gid_t)json_integer_value(json_array_get(ag, i));
        /* setgroups is denied in a user namespace whose setgroups file says
         * "deny" (rootless without newgidmap): keep going without it then */
        if (rt_setgroups(n, groups) < 0 && !(errno == EPERM && n == 0))
                return kiln_err(err, -errno, "setgroups: %s", strerror(errno));
        json_t *um = json_object_get(user, "umask");
        if (json_is_integer(um))
                umask((mode_t)json_integer_value(um) & 0777);
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return kiln_err(err, -errno, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
        if (rt_setresgid(gid, gid, gid) < 0)
                return kiln_err(err, -errno, "setresgid %u: %s", (unsigned)gid, strerror(errno));
        if (rt_setresuid(uid, uid, uid) < 0)
                return kiln_err(err, -errno, "setresuid %u: %s", (unsigned)uid, strerror(errno));
        prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
        return 0;
}

int kiln_proc_finalize(json_t *process, const struct kiln_seccomp_prog *seccomp, char **ret_path,
                       struct kiln_error *err)
{
        int r;
        bool nnp = json_is_true(json_object_get(process, "noNewPrivileges"));
        /* apparmorProfile / selinuxLabel: not supported here; an empty or
         * absent value is fine, a set one is ignored like runc does on hosts
         * without those LSMs */

        /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
         * now, before the capabilities go. The filter then also covers the
         * setup that follows, which the default profile allows. */
        if (seccomp && !nnp) {
                if ((r = kiln_seccomp_install(seccomp, err)) < 0)
                        return r;
        }
        json_t *user = json_object_get(process, "user");
        if ((r = setup_user(user, err)) < 0)
                return r;
        if ((r = kiln_caps_apply(json_object_get(process, "capabilities"), err)) < 0)
                return r;
        const char *cwd = json_string_value(json_object_get(process, "cwd"));
        if (!cwd || !*cwd)
                cwd = "/";
        if (cwd[0] != '/')
                return kiln_err(err, -EINVAL, "process.cwd \"%s\" is not an absolute path", cwd);
        if (chdir(cwd) < 0)
                return kiln_err(err, -errno, "chdir to cwd (\"%s\") set in config.json failed: %s",
                                cwd, strerror(errno));
        /* the cwd must be inside the container's root (CVE-2024-21626) */
        char buf[4096];
        if (!getcwd(buf, sizeof(buf)) || buf[0] != '/')
                return kiln_err(err, -EPERM, "current working directory is outside of the container root");
        if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return kiln_err(err, -errno, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        json_t *args = json_object_get(process, "args");
        return kiln_proc_find_exec(json_string_value(json_array_get(args, 0)),
                                   json_object_get(process, "env"), ret_path, err);
}

void kiln_proc_exec(json_t *process, const struct kiln_seccomp_prog *seccomp, const char *path)
{
        struct kiln_error err = { 0 };
        bool nnp = json_is_true(json_object_get(process, "noNewPrivileges"));
        json_t *args = json_object_get(process, "args"), *env = json_object_get(process, "env");
        size_t na = json_array_size(args), ne = json_is_array(env) ? json_array_size(env) : 0;
        char **argv = kiln_xcalloc(na + 1, sizeof(char *));
        char **envp = kiln_xcalloc(ne + 1, sizeof(char *));
        for (size_t i = 0; i < na; i++)
                argv[i] = (char *)json_string_value(json_array_get(args, i));
        size_t k = 0;
        for (size_t i = 0; i < ne; i++) {
                const char *s = json_string_value(json_array_get(env, i));
                if (s)
                        envp[k++] = (char *)s;
        }
        /* with no_new_privs the filter goes in as late as possible: only
         * execve runs under it from here */
        if (nnp && seccomp && kiln_seccomp_install(seccomp, &err) < 0) {
                fprintf(stderr, "exec failed: %s\n", err.msg);
                _exit(126);
        }
        execve(path, argv, envp);
        int e = errno;
        fprintf(stderr, "exec failed: %s: %s\n", path, strerror(e));
        _exit(e == ENOENT ? 127 : 126);
}

/* ---- hooks ---- */

static int run_hook(json_t *hook, const char *kind, const char *state, struct kiln_error *err)
{
        const char *path = json_string_value(json_object_get(hook, "path"));
        if (!path || path[0] != '/')
                return kiln_err(err, -EINVAL, "%s hook: path must be absolute", kind);
        json_t *args = json_object_get(hook, "args"), *env = json_object_get(hook, "env");
        json_t *to = json_object_get(hook, "timeout");
        long timeout = json_is_integer(to) ? (long)json_integer_value(to) : 0;
        if (json_is_integer(to) && timeout <= 0)
                return kiln_err(err, -EINVAL, "%s hook %s: timeout must be positive", kind, path);
        size_t na = json_is_array(args) ? json_array_size(args) : 0;
        size_t ne = json_is_array(env) ? json_array_size(env) : 0;
        _cleanup_free_ char **argv = kiln_xcalloc(na + 2, sizeof(char *));
        _cleanup_free_ char **envp = kiln_xcalloc(ne + 1, sizeof(char *));
        for (size_t i = 0; i < na; i++)
                argv[i] = (char *)json_string_value(json_array_get(args, i));
        if (!na)
                argv[0] = (char *)path;
        for (size_t i = 0; i < ne; i++)
                envp[i] = (char *)json_string_value(json_array_get(env, i));
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return kiln_err(err, -errno, "%s hook: pipe: %s", kind, strerror(errno));
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(p[0]);
                close(p[1]);
                return kiln_err(err, -e, "%s hook: fork: %s", kind, strerror(e));
        }
        if (pid == 0) {
                kiln_proc_reset_signals();
                dup2(p[0], 0);
                dup2(2, 1); /* a hook's output goes to the runtime's stderr */
                kiln_proc_cloexec_from(3);
                execve(path, argv, envp);
                fprintf(stderr, "%s hook %s: %s\n", kind, path, strerror(errno));
                _exit(127);
        }
        close(p[0]);
        /* the hook may not read its stdin at all: ignore EPIPE */
        sigset_t pipe_set, old;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
        kiln_fs_write_all(p[1], state, strlen(state));
        close(p[1]);
        struct timespec zero = { 0, 0 };
        while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
                ;
        pthread_sigmask(SIG_SETMASK, &old, NULL);

        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        int ws;
        for (;;) {
                pid_t w = waitpid(pid, &ws, timeout ? WNOHANG : 0);
                if (w == pid)
                        break;
                if (w < 0 && errno != EINTR)
                        return kiln_err(err, -errno, "%s hook %s: waitpid: %s", kind, path,
                                        strerror(errno));
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (timeout && now.tv_sec - start.tv_sec >= timeout) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &ws, 0);
                        return kiln_err(err, -ETIMEDOUT, "%s hook %s: timed out after %ld s",
                                        kind, path, timeout);
                }
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
                return 0;
        if (WIFEXITED(ws))
                return kiln_err(err, -EIO, "%s hook %s: exit status %d", kind, path,
                                WEXITSTATUS(ws));
        return kiln_err(err, -EIO, "%s hook %s: killed by signal %d", kind, path, WTERMSIG(ws));
}

int kiln_hooks_run(json_t *hooks, const char *kind, const char *state, struct kiln_error *err)
{
        json_t *list = json_object_get(hooks, kind);
        if (!list)
                return 0;
        if (!json_is_array(list))
                return kiln_err(err, -EINVAL, "hooks.%s: not an array", kind);
        size_t i;
        json_t *h;
        json_array_foreach(list, i, h)
        {
                int r = run_hook(h, kind, state, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- waiting and the terminal ---- */

void kiln_rt_forward_sigset(sigset_t *set)
{
        sigemptyset(set);
        static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(sigs); i++)
                sigaddset(set, sigs[i]);
}

static void copy_winsize(int from, int to)
{
        struct winsize ws;
        if (ioctl(from, TIOCGWINSZ, &ws) == 0)
                ioctl(to, TIOCSWINSZ, &ws);
}

/* Copy what is readable from in to out; false at EOF or error. */
static bool pump(int in, int out)
{
        char buf[16384];
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return true;
        if (n <= 0)
                return false;
        return kiln_fs_write_all(out, buf, (size_t)n) == 0;
}

int kiln_rt_tty_proxy(pid_t pid, int master, int *ret_wstatus, int *kill_signal, struct kiln_error *err)
{
        sigset_t set;
        kiln_rt_forward_sigset(&set);
        sigaddset(&set, SIGCHLD);
        _cleanup_close_ int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                return kiln_err(err, -errno, "signalfd: %s", strerror(errno));
        struct termios saved;
        bool raw = false;
        if (master >= 0 && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
                struct termios t = saved;
                cfmakeraw(&t);
                t.c_oflag |= OPOST; /* keep \n -> \r\n on output, as runc does */
                if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
                        raw = true;
                copy_winsize(STDIN_FILENO, master);
        }
        bool in_open = master >= 0, out_open = master >= 0;
        int ws = 0;
        bool exited = false;
        /* an exit may have happened before the signalfd existed */
        if (waitpid(pid, &ws, WNOHANG) == pid)
                exited = true;
        while (!exited || out_open) {
                struct pollfd p[3] = {
                        { sfd, POLLIN, 0 },
                        { out_open ? master : -1, POLLIN, 0 },
                        { in_open ? STDIN_FILENO : -1, POLLIN, 0 },
                };
                if (exited) {
                        /* drain what is left on the pty, without waiting */
                        p[0].fd = -1;
                        p[2].fd = -1;
                }
                int n = poll(p, 3, exited ? 0 : -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                if (exited && n == 0)
                        break;
                if (p[0].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                                if ((int)si.ssi_signo == SIGCHLD)
                                        continue;
                                if ((int)si.ssi_signo == SIGWINCH && master >= 0) {
                                        copy_winsize(STDIN_FILENO, master);
                                        continue;
                                }
                                int sig = (int)si.ssi_signo;
                                if (kill_signal && (sig == SIGINT || sig == SIGTERM || sig == SIGHUP ||
                                                    sig == SIGQUIT)) {
                                        if (!*kill_signal)
                                                *kill_signal = sig;
                                        sig = SIGKILL;
                                }
                                kill(pid, sig);
                        }
                        if (!exited && waitpid(pid, &ws, WNOHANG) == pid)
                                exited = true;
                }
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        if (!pump(master, STDOUT_FILENO))
                                out_open = false;
                }
                if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
                        if (!pump(STDIN_FILENO, master)) {
                                in_open = false;
                                /* stdin ended: send EOF (^D) to the terminal */
                                char eot = 4;
                                if (write(master, &eot, 1) < 0) {
                                }
                        }
                }
        }
        if (!exited) {
                while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
                        ;
        }
        if (raw)
                tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        *ret_wstatus = ws;
        return 0;
}
