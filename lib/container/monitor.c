/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starting, watching and stopping containers. The monitor is the parent of
 * the container's init: it copies the output to the log (docker's
 * json-file format) and, when attached, to its own stdio; it waits for the
 * exit, records the status (and OOM kills) and cleans up. Attached, the
 * `kiln run`/`kiln start -a` process is the monitor. Detached, a process
 * double-forked from it creates and starts the container and then execs
 * kiln-monitor (monitor/kiln-monitor.c, libc only), which does the same
 * copying and waiting and finally execs `kiln container cleanup` to record
 * the exit (kiln_container_cleanup); it leaves the status in
 * ROOT/containers/<id>/exit too, which refresh() reads when that command
 * could not run. Without kiln-monitor the forked process monitors
 * in-process, as in attached mode. No daemon either way. With a
 * healthcheck, kiln-monitor also runs `kiln healthcheck run` every
 * interval (kiln_container_healthcheck_run, at the end of this file).
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include "../runtime/runtime-internal.h"
#include "container-internal.h"
#include "kiln/fs.h"
#include "monitor/jsonlog.h"
#include "monitor/kiln-monitor-path.h"

/* ---- log ---- */

struct log_stream {
        const char *name; /* "stdout" / "stderr" */
        struct kiln_buf pending;
};

/* Append one json-file line per complete line (or per 16 KiB chunk). */
static void log_write(int log_fd, struct log_stream *ls, const char *data, size_t len, bool flush)
{
        if (log_fd < 0)
                return;
        kiln_buf_append(&ls->pending, data, len);
        size_t start = 0;
        for (;;) {
                char *nl = ls->pending.len > start
                                   ? memchr(ls->pending.data + start, '\n', ls->pending.len - start)
                                   : NULL;
                size_t end;
                if (nl)
                        end = (size_t)(nl - ls->pending.data) + 1;
                else if ((flush && ls->pending.len > start) || ls->pending.len - start >= 16384)
                        end = ls->pending.len - start > 16384 ? start + 16384 : ls->pending.len;
                else
                        break;
                char now[64];
                ctr_now_rfc3339(now, sizeof(now));
                /* the same escaping as kiln-monitor: invalid UTF-8 becomes \ufffd
                 * instead of the line being dropped */
                size_t n = end - start;
                _cleanup_free_ char *line = kiln_xmalloc(6 * n + 128);
                char *o = line;
                o += sprintf(o, "{\"log\":\"");
                o += kiln_jsonlog_escape(o, (const unsigned char *)ls->pending.data + start, n);
                o += sprintf(o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", ls->name, now);
                (void)kiln_fs_write_all(log_fd, line, (size_t)(o - line));
                start = end;
        }
        if (start) {
                memmove(ls->pending.data, ls->pending.data + start, ls->pending.len - start);
                ls->pending.len -= start;
                ls->pending.data[ls->pending.len] = 0;
        }
}

/* The process exists and is not a zombie (an orphan's zombie lingers where
 * pid 1 does not reap). */
static bool pid_alive(pid_t pid)
{
        if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM))
                return false;
        char path[64], stat[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno != ENOENT;
        ssize_t n = read(fd, stat, sizeof(stat) - 1);
        close(fd);
        if (n <= 0)
                return true;
        stat[n] = 0;
        const char *rp = strrchr(stat, ')'); /* "pid (comm) S ..." */
        return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

/* ---- terminal ---- */

static struct termios saved_tio;
static bool tio_saved;

static void tty_raw(int fd)
{
        struct termios t;
        if (!isatty(fd) || tcgetattr(fd, &t) < 0)
                return;
        saved_tio = t;
        tio_saved = true;
        cfmakeraw(&t);
        t.c_oflag |= OPOST; /* keep \n -> \r\n on output as docker does */
        tcsetattr(fd, TCSANOW, &t);
}

static void tty_restore(int fd)
{
        if (tio_saved)
                tcsetattr(fd, TCSANOW, &saved_tio);
        tio_saved = false;
}

static void copy_winsize(int from, int to)
{
        struct winsize ws;
        if (ioctl(from, TIOCGWINSZ, &ws) == 0)
                ioctl(to, TIOCSWINSZ, &ws);
}

/* Receive the pty master a runtime sends over the console socket. */
static int recv_fd(int sock)
{
        char buf[256];
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = { buf, sizeof(buf) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                              .msg_controllen = sizeof(cbuf) };
        ssize_t n;
        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(c), sizeof(int));
                        return fd;
                }
        return -EBADMSG;
}

/* A listening console socket at path. */
static int console_listen(const char *path, struct kiln_error *err)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path))
                return kiln_err(err, -ENAMETOOLONG, "console socket path too long: %s", path);
        strcpy(sa.sun_path, path);
        unlink(path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return kiln_err(err, -errno, "console socket: %s", strerror(errno));
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
                int r = -errno;
                close(fd);
                return kiln_err(err, r, "console socket %s: %s", path, strerror(-r));
        }
        return fd;
}

static int console_accept(int lfd, struct kiln_error *err)
{
        struct pollfd p = { lfd, POLLIN, 0 };
        if (poll(&p, 1, 10000) <= 0)
                return kiln_err(err, -ETIMEDOUT, "no terminal from the runtime");
        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
                return kiln_err(err, -errno, "console socket: %s", strerror(errno));
        int m = recv_fd(c);
        close(c);
        if (m < 0)
                return kiln_err(err, m, "console socket: no terminal received: %s", kiln_strerror(m));
        return m;
}

/*
 * The I/O loop: output fds (pipes, or the pty master) to the log and, when
 * attached, to our stdout/stderr; our stdin to the pty (tty) — plain stdin
 * goes to the container directly. Returns when the init has exited and its
 * output is drained. Forwards proxied signals to the init.
 */
struct io_ctx {
        int out_fd, err_fd;   /* read ends; err_fd -1 with a tty */
        int master;           /* pty master or -1 */
        int in_fd;            /* our stdin to copy to the master, or -1 */
        int log_fd;
        bool attach;
        pid_t pid;            /* container init (our child) */
        bool pid1;            /* pid is the init of its pid namespace: see held below */
        int wstatus;
};

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* pid catches, blocks or ignores sig: a signal sent now is not lost by the
 * kernel's rule for a namespace's init (one it does not handle is dropped). */
static bool pid_takes_signal(pid_t pid, int sig)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (kiln_fs_read_file(AT_FDCWD, path, 1 << 16, &text, &len) < 0)
                return true;
        unsigned long long any = 0;
        static const char *const keys[] = { "\nSigBlk:", "\nSigIgn:", "\nSigCgt:" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(keys); i++) {
                const char *p = strstr(text, keys[i]);
                if (!p)
                        return true;
                any |= strtoull(p + strlen(keys[i]), NULL, 16);
        }
        return any & (1ULL << (sig - 1));
}

/* Ms after the start during which a signal for an init that does not take
 * it yet is held: its handlers may not be set up yet (a signal sent while
 * kiln was still starting the container comes right at the start). */
#define HOLD_EARLY_SIGNALS_MS 2000

/* The signals an attached monitor forwards to the container (docker's sig-proxy). */
static const int proxied_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

void kiln_container_block_proxied_signals(void)
{
        sigset_t set;
        sigemptyset(&set);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(proxied_signals); i++)
                sigaddset(&set, proxied_signals[i]);
        sigprocmask(SIG_BLOCK, &set, NULL);
}

static void io_loop(struct io_ctx *io)
{
        sigset_t mask, old_mask;
        sigemptyset(&mask);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(proxied_signals); i++)
                sigaddset(&mask, proxied_signals[i]);
        sigaddset(&mask, SIGWINCH);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, &old_mask);
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

        struct log_stream lout = { "stdout", KILN_BUF_INIT }, lerr = { "stderr", KILN_BUF_INIT };
        int fds[2] = { io->master >= 0 ? io->master : io->out_fd, io->master >= 0 ? -1 : io->err_fd };
        bool exited = false;
        int64_t drain_deadline = 0;
        int64_t hold_until = io->pid1 ? now_ms() + HOLD_EARLY_SIGNALS_MS : 0;
        sigset_t held; /* signals waiting for the init to take them */
        sigemptyset(&held);
        bool any_held = false;
        char buf[65536];
        for (;;) {
                struct pollfd p[4];
                int n = 0, idx_out = -1, idx_err = -1, idx_sig = -1, idx_in = -1;
                if (fds[0] >= 0) {
                        idx_out = n;
                        p[n++] = (struct pollfd){ fds[0], POLLIN, 0 };
                }
                if (fds[1] >= 0) {
                        idx_err = n;
                        p[n++] = (struct pollfd){ fds[1], POLLIN, 0 };
                }
                if (sfd >= 0) {
                        idx_sig = n;
                        p[n++] = (struct pollfd){ sfd, POLLIN, 0 };
                }
                if (io->in_fd >= 0 && io->master >= 0 && !exited) {
                        idx_in = n;
                        p[n++] = (struct pollfd){ io->in_fd, POLLIN, 0 };
                }
                if (exited && fds[0] < 0 && fds[1] < 0)
                        break;
                int timeout = -1;
                if (exited) {
                        struct timespec ts;
                        clock_gettime(CLOCK_MONOTONIC, &ts);
                        int64_t now = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
                        if (!drain_deadline)
                                drain_deadline = now + 2000;
                        if (now >= drain_deadline)
                                break;
                        timeout = (int)(drain_deadline - now);
                } else if (sfd < 0) {
                        timeout = 100;
                } else if (any_held) {
                        timeout = 10;
                }
                int k = poll(p, (nfds_t)n, timeout);
                if (k < 0 && errno != EINTR)
                        break;
                for (int s = 0; s < 2; s++) {
                        int idx = s == 0 ? idx_out : idx_err;
                        if (idx < 0 || !(p[idx].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        ssize_t r = read(fds[s], buf, sizeof(buf));
                        if (r <= 0) {
                                if (r < 0 && (errno == EINTR || errno == EAGAIN))
                                        continue;
                                /* EOF, or EIO from a pty whose slave closed */
                                close(fds[s]);
                                fds[s] = -1;
                                if (s == 0 && io->master >= 0)
                                        io->master = -1;
                                continue;
                        }
                        log_write(io->log_fd, s == 0 ? &lout : &lerr, buf, (size_t)r, false);
                        if (io->attach)
                                (void)kiln_fs_write_all(s == 0 ? STDOUT_FILENO : STDERR_FILENO, buf,
                                                        (size_t)r);
                }
                if (idx_in >= 0 && (p[idx_in].revents & (POLLIN | POLLHUP))) {
                        ssize_t r = read(io->in_fd, buf, sizeof(buf));
                        if (r > 0)
                                (void)kiln_fs_write_all(io->master, buf, (size_t)r);
                        else if (r == 0)
                                io->in_fd = -1; /* stdin closed: send EOF? keep the tty open */
                }
                if (idx_sig >= 0 && (p[idx_sig].revents & POLLIN)) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                                int sig = (int)si.ssi_signo;
                                if (sig == SIGCHLD)
                                        continue;
                                if (sig == SIGWINCH) {
                                        if (io->master >= 0)
                                                copy_winsize(STDIN_FILENO, io->master);
                                        continue;
                                }
                                if (!exited) {
                                        sigaddset(&held, sig);
                                        any_held = true;
                                }
                        }
                }
                /* forward; early on, only what the init is ready to take */
                if (any_held && !exited) {
                        bool early = now_ms() < hold_until;
                        any_held = false;
                        for (size_t i = 0; i < KILN_ARRAY_SIZE(proxied_signals); i++) {
                                int sig = proxied_signals[i];
                                if (!sigismember(&held, sig))
                                        continue;
                                if (early && !pid_takes_signal(io->pid, sig)) {
                                        any_held = true;
                                        continue;
                                }
                                kill(io->pid, sig);
                                sigdelset(&held, sig);
                        }
                }
                if (!exited) {
                        int ws;
                        pid_t w = waitpid(io->pid, &ws, WNOHANG);
                        if (w == io->pid) {
                                io->wstatus = ws;
                                exited = true;
                        } else if (w < 0 && errno == ECHILD &&
                                   ((fds[0] < 0 && fds[1] < 0) || !pid_alive(io->pid))) {
                                /* not our child (an exec): done when its terminal closed */
                                io->wstatus = 0;
                                exited = true;
                                io->pid = 0;
                        }
                }
        }
        if (!exited && io->pid > 0) {
                while (waitpid(io->pid, &io->wstatus, 0) < 0 && errno == EINTR)
                        ;
        }
        log_write(io->log_fd, &lout, "", 0, true);
        log_write(io->log_fd, &lerr, "", 0, true);
        kiln_buf_free(&lout.pending);
        kiln_buf_free(&lerr.pending);
        for (int s = 0; s < 2; s++)
                if (fds[s] >= 0)
                        close(fds[s]);
        if (sfd >= 0) {
                /* a signal that came after the process exited has nobody to go
                 * to: dropped, rather than ending this process (a second
                 * Ctrl-C) before it has recorded the exit and cleaned up */
                struct signalfd_siginfo si;
                while (read(sfd, &si, sizeof(si)) == sizeof(si))
                        ;
                close(sfd);
        }
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
}

/* ---- records ---- */

static int load(struct kiln_store *s, const char *what, char **ret_id, json_t **ret_doc,
                struct kiln_error *err)
{
        return kiln_store_container_get(s, what, ret_id, ret_doc, err);
}

static int save(struct kiln_store *s, json_t *doc, struct kiln_error *err)
{
        struct kiln_digest image;
        if (kiln_digest_parse(json_string_value(json_object_get(doc, "ImageManifest")), &image, err) < 0)
                return -KILN_ECORRUPT;
        return kiln_store_container_put(s, json_string_value(json_object_get(doc, "Id")),
                                        json_string_value(json_object_get(doc, "Name")), &image, doc,
                                        err);
}

static json_t *state_of(json_t *doc)
{
        return json_object_get(doc, "State");
}


/* OOM kills in the container's cgroup, before the runtime removes it. */
static bool oom_killed(json_t *doc)
{
        const char *cg = json_string_value(json_object_get(doc, "CgroupsPath"));
        if (!cg)
                return false;
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *c = NULL;
        if (kiln_cgroup_open(cg, &c, NULL) < 0)
                return false;
        struct kiln_cgroup_stats st;
        if (kiln_cgroup_stats(c, &st) < 0)
                return false;
        return st.oom_kills > 0;
}

static void remove_files(struct kiln_store *s, json_t *doc)
{
        const char *id = json_string_value(json_object_get(doc, "Id"));
        ctr_unmount_rootfs(doc);
        kiln_fs_rm_rf_at(kiln_store_containers_fd(s), id);
}

static void remove_anonymous_volumes(struct kiln_store *s, json_t *doc);

/* ROOT/containers/<id>/exit: kiln-monitor's record of the exit. */
static char *exit_file(struct kiln_store *s, const char *id)
{
        _cleanup_free_ char *dir = ctr_dir(s, id);
        return kiln_xasprintf("%s/exit", dir);
}

/*
 * What the monitor does once the init has exited: the runtime's state, the
 * rootfs mount, the record (or the whole container with AutoRemove).
 * finished_at NULL: now. The exit file goes once the record has the exit.
 */
static int finish(struct kiln_store *s, json_t *doc, int code, bool oom, const char *finished_at,
                  struct kiln_error *err)
{
        const char *id = json_string_value(json_object_get(doc, "Id"));
        _cleanup_free_ char *sr = kiln_container_state_root();
        kiln_rt_delete(sr, id, true, NULL);
        ctr_net_teardown(s, doc);
        ctr_unmount_rootfs(doc);
        json_t *st = state_of(doc);
        char now[64];
        ctr_now_rfc3339(now, sizeof(now));
        json_object_set_new(st, "Status", json_string("exited"));
        json_object_set_new(st, "Running", json_false());
        json_object_set_new(st, "Pid", json_integer(0));
        json_object_set_new(st, "ExitCode", json_integer(code));
        json_object_set_new(st, "OOMKilled", json_boolean(oom));
        json_object_set_new(st, "FinishedAt", json_string(finished_at ? finished_at : now));
        json_object_del(st, "MonitorPid");
        if (json_is_true(json_object_get(json_object_get(doc, "HostConfig"), "AutoRemove"))) {
                /* docker run --rm also removes the container's anonymous volumes */
                remove_files(s, doc);
                kiln_store_container_delete(s, id, NULL);
                remove_anonymous_volumes(s, doc);
                return 0;
        }
        struct kiln_error e = { 0 };
        if (save(s, doc, &e) < 0) {
                kiln_warn("container %.12s: cannot record the exit: %s", id, e.msg);
                return kiln_err(err, -EIO, "container %.12s: cannot record the exit: %s", id,
                                e.msg);
        }
        _cleanup_free_ char *ef = exit_file(s, id);
        unlink(ef);
        return 0;
}

int kiln_container_cleanup(struct kiln_store *s, const char *what, int exit_code, bool oom,
                           const char *finished_at, struct kiln_error *err)
{
        _cleanup_free_ char *id = NULL;
        json_t *doc;
        int r = load(s, what, &id, &doc, err);
        if (r < 0)
                return r;
        json_t *st = state_of(doc);
        if (!json_is_true(json_object_get(st, "Running"))) {
                /* already recorded (a second call): only the exit file is left */
                _cleanup_free_ char *ef = exit_file(s, id);
                unlink(ef);
                json_decref(doc);
                return 0;
        }
        /* the monitor runs this in its own process: a live monitor with another
         * pid means a newer run of the container, not ours to finish */
        pid_t mon = (pid_t)json_integer_value(json_object_get(st, "MonitorPid"));
        if (mon > 0 && mon != getpid() && pid_alive(mon)) {
                json_decref(doc);
                return kiln_err(err, -KILN_ECONFLICT,
                                "container %.12s is monitored by process %d", id, (int)mon);
        }
        if (finished_at && (strlen(finished_at) >= 64 || !*finished_at))
                finished_at = NULL;
        r = finish(s, doc, exit_code, oom, finished_at, err);
        json_decref(doc);
        return r;
}

/* An executable kiln-monitor: $KILN_MONITOR ("none": monitor in-process),
 * beside our binary, in the build tree (build/cli/kiln,
 * build/monitor/kiln-monitor), then the installed one. Caller frees. */
char *ctr_find_monitor(const char *self)
{
        const char *e = getenv("KILN_MONITOR");
        if (e && *e)
                return strcmp(e, "none") && access(e, X_OK) == 0 ? kiln_xstrdup(e) : NULL;
        _cleanup_free_ char *dir = kiln_xstrdup(self);
        char *slash = strrchr(dir, '/');
        if (slash)
                *slash = 0;
        char *cand[] = {
                kiln_xasprintf("%s/kiln-monitor", dir),
                kiln_xasprintf("%s/../monitor/kiln-monitor", dir),
                kiln_xstrdup(KILN_MONITOR_INSTALLED),
                kiln_xasprintf("%s/../libexec/kiln/kiln-monitor", dir),
        };
        char *found = NULL;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(cand); i++) {
                if (!found && slash && access(cand[i], X_OK) == 0)
                        found = TAKE_PTR(cand[i]);
                free(cand[i]);
        }
        return found;
}

static void set_cloexec(int fd, bool on)
{
        if (fd < 0)
                return;
        int f = fcntl(fd, F_GETFD);
        if (f >= 0)
                fcntl(fd, F_SETFD, on ? f | FD_CLOEXEC : f & ~FD_CLOEXEC);
}

/* The container's healthcheck interval in nanoseconds (docker's default
 * when unset), or 0: no healthcheck. */
static int64_t health_interval_ns(json_t *doc)
{
        json_t *hc = json_object_get(json_object_get(doc, "Config"), "Healthcheck");
        const char *kind = json_string_value(json_array_get(json_object_get(hc, "Test"), 0));
        if (!kind || (strcmp(kind, "CMD") && strcmp(kind, "CMD-SHELL")))
                return 0;
        json_int_t v = json_integer_value(json_object_get(hc, "Interval"));
        return v > 0 ? (int64_t)v : KILN_HEALTH_INTERVAL_NS;
}

/*
 * Detached: become kiln-monitor, handing it the init (our child), the
 * output fds, the log and the exit command `kiln --root ROOT container
 * cleanup ...`. Returns only when that is not possible (nothing changed;
 * monitor in-process then), saying why in monitor.log.
 */
static void exec_monitor(struct kiln_store *s, json_t *doc, pid_t pid, int out_fd, int err_fd,
                         int master, int log_fd, const char *dir)
{
        _cleanup_free_ char *self = kiln_self_exe();
        if (!self) {
                kiln_warn("cannot find the kiln binary: monitoring in-process");
                return;
        }
        if (kiln_endswith(self, " (deleted)")) {
                kiln_warn("the kiln binary was replaced: monitoring in-process");
                return;
        }
        _cleanup_free_ char *helper = ctr_find_monitor(self);
        if (!helper) {
                const char *e = getenv("KILN_MONITOR");
                if (e && !strcmp(e, "none"))
                        kiln_warn("KILN_MONITOR=none: monitoring in-process");
                else if (e && *e)
                        kiln_warn("KILN_MONITOR=%s is not executable: monitoring in-process", e);
                else
                        kiln_warn("kiln-monitor not found: monitoring in-process");
                return;
        }
        const char *id = json_string_value(json_object_get(doc, "Id"));
        const char *cg = json_string_value(json_object_get(doc, "CgroupsPath"));
        char pid_s[16], out_s[16], err_s[16], log_s[16];
        snprintf(pid_s, sizeof(pid_s), "%d", (int)pid);
        snprintf(out_s, sizeof(out_s), "%d", master >= 0 ? master : out_fd);
        snprintf(err_s, sizeof(err_s), "%d", err_fd);
        snprintf(log_s, sizeof(log_s), "%d", log_fd);
        const char *argv[40];
        size_t a = 0;
        argv[a++] = helper;
        argv[a++] = "--pid";
        argv[a++] = pid_s;
        argv[a++] = "--dir";
        argv[a++] = dir;
        argv[a++] = master >= 0 ? "--pty" : "--stdout";
        argv[a++] = out_s;
        if (master < 0 && err_fd >= 0) {
                argv[a++] = "--stderr";
                argv[a++] = err_s;
        }
        if (log_fd >= 0) {
                argv[a++] = "--log";
                argv[a++] = log_s;
        }
        if (cg && *cg) {
                argv[a++] = "--cgroup";
                argv[a++] = cg;
        }
        /* periodic healthchecks: kiln-monitor runs `kiln --root ROOT healthcheck run ID` */
        char hi_s[24], hs_s[24];
        int64_t hint = health_interval_ns(doc);
        if (hint > 0) {
                json_t *hc = json_object_get(json_object_get(doc, "Config"), "Healthcheck");
                json_int_t sp = json_integer_value(json_object_get(hc, "StartPeriod"));
                snprintf(hi_s, sizeof(hi_s), "%lld", (long long)(hint / 1000000));
                snprintf(hs_s, sizeof(hs_s), "%lld", (long long)(sp > 0 ? sp / 1000000 : 0));
                argv[a++] = "--health-interval";
                argv[a++] = hi_s;
                argv[a++] = "--health-start-period";
                argv[a++] = hs_s;
                argv[a++] = "--health-root";
                argv[a++] = kiln_store_root(s);
                argv[a++] = "--health-id";
                argv[a++] = id;
        }
        /* the exit command; kiln-monitor fills in the @...@ arguments */
        argv[a++] = "--";
        argv[a++] = self;
        argv[a++] = "--root";
        argv[a++] = kiln_store_root(s);
        argv[a++] = "container";
        argv[a++] = "cleanup";
        argv[a++] = "--exit-code";
        argv[a++] = "@EXIT_CODE@";
        argv[a++] = "@OOM@";
        argv[a++] = "--finished-at";
        argv[a++] = "@FINISHED_AT@";
        argv[a++] = id;
        argv[a] = NULL;
        int fds[] = { out_fd, err_fd, master, log_fd };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(fds); i++)
                set_cloexec(fds[i], false);
        kiln_store_db_suspend(s);
        execv(helper, (char *const *)argv);
        int e = errno;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(fds); i++)
                set_cloexec(fds[i], true);
        kiln_store_db_resume(s, NULL);
        kiln_warn("cannot run %s: %s: monitoring in-process", helper, strerror(e));
}

/* A detached start's warnings (the network falling back, say) go to
 * monitor.log and, until "ok", to the kiln that waits for the start. */
static int report_warn_fd = -1;

static void report_warn(void *userdata, const char *msg)
{
        (void)userdata;
        if (report_warn_fd >= 0)
                dprintf(report_warn_fd, "warning: %s\n", msg);
        fprintf(stderr, "Warning: %s\n", msg);
}

/*
 * Run the container under this process. report_fd (detached) gets "ok\n"
 * or "error: ...\n" once the process started (or failed to).
 */
static int monitor(struct kiln_store *s, json_t *doc, unsigned flags, int report_fd,
                   int *ret_status, struct kiln_error *err)
{
        const char *id = json_string_value(json_object_get(doc, "Id"));
        bool attach = flags & KILN_START_ATTACH;
        bool tty = json_is_true(json_object_get(json_object_get(doc, "Config"), "Tty"));
        _cleanup_free_ char *sr = kiln_container_state_root();
        _cleanup_free_ char *dir = ctr_dir(s, id);
        int r = ctr_mount_rootfs(s, doc, err);
        if (r < 0)
                return r;
        kiln_store_release_lock(s);
        kiln_fs_mkdir_p(AT_FDCWD, sr, 0700);
        kiln_rt_delete(sr, id, true, NULL); /* state from an earlier run */

        _cleanup_free_ char *ef = exit_file(s, id);
        unlink(ef); /* an earlier run's */
        _cleanup_free_ char *logpath = kiln_xasprintf("%s/ctr.log", dir);
        _cleanup_close_ int log_fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        struct kiln_rt_create_opts co = KILN_RT_CREATE_OPTS_INIT;
        _cleanup_free_ char *bundle = kiln_xstrdup(dir);
        co.bundle = bundle;
        int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
        _cleanup_close_ int lsock = -1, nullfd = -1;
        _cleanup_free_ char *sock = NULL;
        if (tty) {
                sock = kiln_xasprintf("%s/%.12s.console", sr, id);
                lsock = console_listen(sock, err);
                if (lsock < 0)
                        return lsock;
                co.console_socket = sock;
        } else {
                if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
                        return kiln_err(err, -errno, "pipe: %s", strerror(errno));
                co.stdout_fd = outp[1];
                co.stderr_fd = errp[1];
                if (flags & KILN_START_STDIN) {
                        co.stdin_fd = STDIN_FILENO;
                } else {
                        nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                        co.stdin_fd = nullfd;
                }
        }
        pid_t pid = 0;
        /* the cgroup warm-up thread (kiln_container_start) ends before
         * anything here forks */
        kiln_rt_cgroup_warm_done();
        /* --network bridge: the namespace the spec joins, made for this run */
        r = ctr_net_setup(s, doc, err);
        if (r < 0) {
                if (outp[0] >= 0)
                        close(outp[0]);
                if (errp[0] >= 0)
                        close(errp[0]);
                if (outp[1] >= 0)
                        close(outp[1]);
                if (errp[1] >= 0)
                        close(errp[1]);
                if (sock)
                        unlink(sock);
                ctr_unmount_rootfs(doc);
                json_object_set_new(state_of(doc), "Error", json_string(err ? err->msg : "network setup failed"));
                save(s, doc, NULL);
                return r;
        }
        r = kiln_rt_create(sr, id, &co, &pid, err);
        if (outp[1] >= 0)
                close(outp[1]);
        if (errp[1] >= 0)
                close(errp[1]);
        if (r < 0) {
                if (outp[0] >= 0)
                        close(outp[0]);
                if (errp[0] >= 0)
                        close(errp[0]);
                if (sock)
                        unlink(sock);
                ctr_net_teardown(s, doc);
                json_object_set_new(state_of(doc), "Error", json_string(err ? err->msg : "create failed"));
                save(s, doc, NULL);
                return r;
        }
        int master = -1;
        if (tty) {
                master = console_accept(lsock, err);
                unlink(sock);
                if (master < 0) {
                        kiln_rt_delete(sr, id, true, NULL);
                        ctr_net_teardown(s, doc);
                        return master;
                }
                if (attach)
                        copy_winsize(STDIN_FILENO, master);
        }
        char now[64];
        ctr_now_rfc3339(now, sizeof(now));
        json_t *st = state_of(doc);
        json_object_set_new(st, "Status", json_string("running"));
        json_object_set_new(st, "Running", json_true());
        json_object_set_new(st, "Pid", json_integer(pid));
        json_object_set_new(st, "MonitorPid", json_integer(getpid()));
        json_object_set_new(st, "StartedAt", json_string(now));
        json_object_set_new(st, "FinishedAt", json_string("0001-01-01T00:00:00Z"));
        json_object_set_new(st, "OOMKilled", json_false());
        json_object_set_new(st, "Error", json_string(""));
        if (health_interval_ns(doc) > 0)
                json_object_set_new(st, "Health", json_pack("{s:s, s:i, s:[]}", "Status", "starting",
                                                            "FailingStreak", 0, "Log"));
        else
                json_object_del(st, "Health");
        json_object_set_new(doc, "LogPath", json_string(logpath));
        r = save(s, doc, err);
        if (r >= 0)
                r = kiln_rt_start(sr, id, err);
        if (r < 0) {
                kiln_rt_delete(sr, id, true, NULL);
                ctr_net_teardown(s, doc);
                json_object_set_new(st, "Status", json_string("exited"));
                json_object_set_new(st, "Running", json_false());
                json_object_set_new(st, "ExitCode", json_integer(125));
                json_object_set_new(st, "Error", json_string(err ? err->msg : "start failed"));
                save(s, doc, NULL);
                return r;
        }
        if (report_fd >= 0) {
                (void)kiln_fs_write_all(report_fd, "ok\n", 3);
                report_warn_fd = -1;
                close(report_fd);
                /* detached: the small kiln-monitor takes over from here */
                exec_monitor(s, doc, pid, tty ? -1 : outp[0], tty ? -1 : errp[0], master, log_fd,
                             dir);
        }
        struct io_ctx io = {
                .out_fd = tty ? -1 : outp[0],
                .err_fd = tty ? -1 : errp[0],
                .master = master,
                .in_fd = tty && attach && (flags & KILN_START_STDIN) ? STDIN_FILENO : -1,
                .log_fd = log_fd,
                .attach = attach,
                .pid = pid,
                .pid1 = true,
        };
        if (io.in_fd >= 0)
                tty_raw(STDIN_FILENO);
        io_loop(&io);
        if (io.in_fd >= 0 || tio_saved)
                tty_restore(STDIN_FILENO);
        bool oom = oom_killed(doc);
        /* another process may have changed the record (rename): reload */
        json_t *fresh = NULL;
        if (kiln_store_container_get(s, id, NULL, &fresh, NULL) == 0) {
                /* healthchecks (other processes) recorded State.Health meanwhile */
                json_t *health = json_object_get(state_of(fresh), "Health");
                if (health)
                        json_object_set(st, "Health", health);
                json_object_set(fresh, "State", st);
                doc = fresh;
        } else {
                json_incref(doc);
        }
        if (ret_status)
                *ret_status = kiln_wait_status_to_exit(io.wstatus);
        finish(s, doc, kiln_wait_status_to_exit(io.wstatus), oom, NULL, NULL);
        json_decref(doc);
        return 0;
}

int kiln_container_start(struct kiln_store *s, const char *what, unsigned flags, int *ret_status,
                         struct kiln_error *err)
{
        _cleanup_free_ char *id = NULL;
        json_t *doc = NULL;
        int r = load(s, what, &id, &doc, err);
        if (r < 0)
                return r;
        json_t *st = state_of(doc);
        if (json_is_true(json_object_get(st, "Running")) &&
            pid_alive((pid_t)json_integer_value(json_object_get(st, "Pid")))) {
                json_decref(doc);
                return kiln_err(err, -KILN_ECONFLICT, "container %s is already running", what);
        }
        /* the first move into a cgroup waits for an RCU grace period: start
         * paying it now, in the background (runtime.h) */
        kiln_rt_cgroup_warm();
        if (flags & KILN_START_ATTACH) {
                r = monitor(s, doc, flags, -1, ret_status, err);
                json_decref(doc);
                return r;
        }
        /* detached: a monitor process of its own, reparented to init */
        int rep[2];
        if (pipe2(rep, O_CLOEXEC) < 0) {
                json_decref(doc);
                return kiln_err(err, -errno, "pipe: %s", strerror(errno));
        }
        kiln_rt_cgroup_warm_done(); /* no thread may cross the fork */
        fflush(NULL);
        kiln_store_db_suspend(s); /* no SQLite connection may cross the fork */
        pid_t child = fork();
        if (child < 0) {
                int e = errno;
                kiln_store_db_resume(s, NULL);
                json_decref(doc);
                return kiln_err(err, -e, "fork: %s", strerror(e));
        }
        if (child == 0) {
                close(rep[0]);
                setsid();
                pid_t g = fork();
                if (g != 0)
                        _exit(g < 0 ? 1 : 0);
                /* the monitor */
                /* the monitor's own warnings go to monitor.log beside the container's log */
                int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
                _cleanup_free_ char *mdir = ctr_dir(s, json_string_value(json_object_get(doc, "Id")));
                _cleanup_free_ char *mlog = kiln_xasprintf("%s/monitor.log", mdir);
                int lfd = open(mlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (nul >= 0) {
                        dup2(nul, 0);
                        dup2(nul, 1);
                        dup2(lfd >= 0 ? lfd : nul, 2);
                }
                prctl(PR_SET_NAME, "kiln-monitor");
                /* keep nothing of the caller's but the report pipe: an inherited
                 * pipe would keep whoever reads the caller's output waiting */
                if (rep[1] != 3) {
                        if (dup2(rep[1], 3) < 0)
                                _exit(1);
                        rep[1] = 3;
                }
                fcntl(3, F_SETFD, FD_CLOEXEC);
                close_range(4, ~0U, 0);
                _cleanup_free_ char *root = kiln_xstrdup(kiln_store_root(s));
                /* the handle's fds are gone with close_range; nothing to close */
                struct kiln_store *ms = NULL;
                struct kiln_error merr = { 0 };
                if (kiln_store_open(root, 0, &ms, &merr) < 0) {
                        dprintf(rep[1], "error: %s\n", merr.msg);
                        _exit(1);
                }
                report_warn_fd = rep[1];
                kiln_set_warn_handler(report_warn, NULL);
                int mr = monitor(ms, doc, flags & ~KILN_START_ATTACH, rep[1], NULL, &merr);
                if (mr < 0)
                        dprintf(rep[1], "error: %s\n", merr.msg);
                kiln_store_close(ms);
                _exit(mr < 0 ? 1 : 0);
        }
        close(rep[1]);
        json_decref(doc);
        r = kiln_store_db_resume(s, err);
        if (r < 0) {
                close(rep[0]);
                return r;
        }
        int ws;
        while (waitpid(child, &ws, 0) < 0 && errno == EINTR)
                ;
        char buf[4 * KILN_ERROR_MAX] = "";
        ssize_t n = kiln_fs_read_full(rep[0], buf, sizeof(buf) - 1);
        close(rep[0]);
        buf[n > 0 ? n : 0] = 0;
        char *msg = buf;
        while (kiln_startswith(msg, "warning: ")) {
                char *end = strchr(msg, '\n');
                if (end)
                        *end = 0;
                kiln_warn("%s", msg + 9);
                msg = end ? end + 1 : msg + strlen(msg);
        }
        if (kiln_startswith(msg, "ok"))
                return 0;
        char *nl = strchr(msg, '\n');
        if (nl)
                *nl = 0;
        return kiln_err(err, -EIO, "%s", kiln_startswith(msg, "error: ") ? msg + 7
                                         : msg[0] ? msg
                                                  : "the container monitor failed");
}

/* Refresh a record's State from the runtime: a container whose monitor is
 * gone and whose init is gone is finished here. */
static void refresh(struct kiln_store *s, json_t *doc)
{
        json_t *st = state_of(doc);
        if (!json_is_true(json_object_get(st, "Running")))
                return;
        pid_t mon = (pid_t)json_integer_value(json_object_get(st, "MonitorPid"));
        pid_t pid = (pid_t)json_integer_value(json_object_get(st, "Pid"));
        if (pid_alive(mon) || pid_alive(pid))
                return;
        /* neither the monitor nor the process exists: what kiln-monitor wrote
         * when its exit command failed, else that the monitor was lost */
        const char *id = json_string_value(json_object_get(doc, "Id"));
        _cleanup_free_ char *ef = id ? exit_file(s, id) : NULL;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        json_t *ex = ef && kiln_fs_read_file(AT_FDCWD, ef, 4096, &text, &len) == 0
                             ? json_loadb(text, len, 0, NULL)
                             : NULL;
        if (json_is_integer(json_object_get(ex, "ExitCode"))) {
                const char *fa = json_string_value(json_object_get(ex, "FinishedAt"));
                finish(s, doc, (int)json_integer_value(json_object_get(ex, "ExitCode")),
                       json_is_true(json_object_get(ex, "OOMKilled")), fa && *fa ? fa : NULL, NULL);
        } else {
                json_object_set_new(st, "Error",
                                    json_string("the container monitor exited unexpectedly"));
                finish(s, doc, 255, false, NULL, NULL);
        }
        json_decref(ex);
}

int kiln_container_inspect(struct kiln_store *s, const char *what, json_t **ret,
                           struct kiln_error *err)
{
        json_t *doc;
        int r = load(s, what, NULL, &doc, err);
        if (r < 0)
                return r;
        refresh(s, doc);
        *ret = doc;
        return 0;
}

int kiln_container_list(struct kiln_store *s, json_t **ret, struct kiln_error *err)
{
        json_t *arr;
        int r = kiln_store_container_list(s, &arr, err);
        if (r < 0)
                return r;
        size_t i;
        json_t *d;
        json_array_foreach(arr, i, d) refresh(s, d);
        *ret = arr;
        return 0;
}

/* The host's CPU time in nanoseconds as docker's daemon counts it: the
 * first seven fields of /proc/stat's "cpu" line (user nice system idle
 * iowait irq softirq), in clock ticks. 0 when unreadable. */
static uint64_t host_cpu_ns(void)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (kiln_fs_read_file(AT_FDCWD, "/proc/stat", 1 << 20, &text, &len) < 0 ||
            !kiln_startswith(text, "cpu "))
                return 0;
        uint64_t ticks = 0;
        char *p = text + 4;
        for (int i = 0; i < 7; i++) {
                char *end;
                unsigned long long v = strtoull(p, &end, 10);
                if (end == p)
                        return 0;
                ticks += v;
                p = end;
        }
        long hz = sysconf(_SC_CLK_TCK);
        return ticks * (1000000000ULL / (uint64_t)(hz > 0 ? hz : 100));
}

/* Bytes received and sent on every interface but lo of pid's network
 * namespace (/proc/PID/net/dev). */
static void net_bytes(pid_t pid, uint64_t *rx, uint64_t *tx)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)pid);
        _cleanup_free_ char *text = NULL;
        size_t len;
        if (pid <= 0 || kiln_fs_read_file(AT_FDCWD, path, 1 << 20, &text, &len) < 0)
                return;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *colon = strchr(line, ':');
                if (!colon)
                        continue; /* the two header lines */
                *colon = 0;
                while (*line == ' ')
                        line++;
                if (!strcmp(line, "lo"))
                        continue;
                /* rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes ... */
                unsigned long long v[9] = { 0 };
                if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                           &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 9) {
                        *rx += v[0];
                        *tx += v[8];
                }
        }
}

int kiln_container_stats(struct kiln_store *s, const char *what, struct kiln_container_stats *ret,
                         struct kiln_error *err)
{
        json_t *doc;
        int r = load(s, what, NULL, &doc, err);
        if (r < 0)
                return r;
        refresh(s, doc);
        json_t *st = state_of(doc);
        if (!json_is_true(json_object_get(st, "Running"))) {
                json_decref(doc);
                return kiln_err(err, -KILN_ECONFLICT, "container %s is not running", what);
        }
        const char *cgp = json_string_value(json_object_get(doc, "CgroupsPath"));
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = NULL;
        struct kiln_cgroup_stats cs = { .memory_usage = -1, .memory_limit = -1 };
        r = cgp ? kiln_cgroup_open(cgp, &cg, err) : kiln_err(err, -KILN_ENOTFOUND, "container %s has no cgroup", what);
        if (r >= 0)
                r = kiln_cgroup_stats(cg, &cs);
        if (r < 0) {
                json_decref(doc);
                return kiln_err_prefix(err, r, "stats %s: ", what);
        }
        struct kiln_container_stats out = {
                .cpu_usage_ns = cs.cpu_usage_ns,
                .memory_usage = cs.memory_usage,
                .memory_limit = cs.memory_limit,
                .pids_current = cs.pids_current,
                .oom_kills = cs.oom_kills,
                .memory_inactive_file = cs.memory_inactive_file,
                .system_cpu_ns = host_cpu_ns(),
                .blkio_read = cs.blkio_read_bytes,
                .blkio_write = cs.blkio_write_bytes,
        };
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        out.online_cpus = ncpu > 0 ? (unsigned)ncpu : 1;
        /* docker counts the container's own interfaces: none with the host's network */
        const char *mode = json_string_value(json_object_get(json_object_get(doc, "HostConfig"), "NetworkMode"));
        if (!mode || strcmp(mode, "host"))
                net_bytes((pid_t)json_integer_value(json_object_get(st, "Pid")), &out.net_rx, &out.net_tx);
        json_decref(doc);
        *ret = out;
        return 0;
}

char *kiln_container_log_path(struct kiln_store *s, const char *id)
{
        _cleanup_free_ char *dir = ctr_dir(s, id);
        return kiln_xasprintf("%s/ctr.log", dir);
}

static bool running(struct kiln_store *s, const char *id)
{
        json_t *doc;
        if (load(s, id, NULL, &doc, NULL) < 0)
                return false;
        refresh(s, doc);
        bool r = json_is_true(json_object_get(state_of(doc), "Running"));
        json_decref(doc);
        return r;
}

int kiln_container_kill(struct kiln_store *s, const char *what, int sig, struct kiln_error *err)
{
        _cleanup_free_ char *id = NULL;
        json_t *doc;
        int r = load(s, what, &id, &doc, err);
        if (r < 0)
                return r;
        refresh(s, doc);
        bool run = json_is_true(json_object_get(state_of(doc), "Running"));
        json_decref(doc);
        if (!run)
                return kiln_err(err, -KILN_ECONFLICT, "container %s is not running", what);
        _cleanup_free_ char *sr = kiln_container_state_root();
        return kiln_rt_kill(sr, id, sig, false, err);
}

int kiln_container_wait(struct kiln_store *s, const char *what, int *ret_status,
                        struct kiln_error *err)
{
        _cleanup_free_ char *id = NULL;
        json_t *doc;
        int r = load(s, what, &id, &doc, err);
        if (r < 0)
                return r;
        json_decref(doc);
        while (running(s, id))
                usleep(20000);
        r = load(s, id, NULL, &doc, err);
        if (r == -KILN_ENOTFOUND) {
                /* removed on exit (--rm) */
                if (ret_status)
                        *ret_status = 0;
                return 0;
        }
        if (r < 0)
                return r;
        if (ret_status)
                *ret_status = (int)json_integer_value(json_object_get(state_of(doc), "ExitCode"));
        json_decref(doc);
        return 0;
}

int kiln_container_stop(struct kiln_store *s, const char *what, int timeout, struct kiln_error *err)
{
        _cleanup_free_ char *id = NULL;
        json_t *doc;
        int r = load(s, what, &id, &doc, err);
        if (r < 0)
                return r;
        refresh(s, doc);
        json_t *cfg = json_object_get(doc, "Config");
        if (timeout < 0)
                timeout = (int)json_integer_value(json_object_get(cfg, "StopTimeout"));
        const char *signame = json_string_value(json_object_get(cfg, "StopSignal"));
        int sig = signame ? kiln_signal_parse(signame) : SIGTERM;
        if (sig <= 0)
                sig = SIGTERM;
        bool run = json_is_true(json_object_get(state_of(doc), "Running"));
        json_decref(doc); /* signame pointed into it */
        if (!run)
                return 0;
        _cleanup_free_ char *sr = kiln_container_state_root();
        kiln_rt_kill(sr, id, sig, false, NULL);
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (running(s, id)) {
                clock_gettime(CLOCK_MONOTONIC, &t);
                if (t.tv_sec - t0.tv_sec >= timeout) {
                        kiln_rt_kill(sr, id, SIGKILL, true, NULL);
                        break;
                }
                usleep(20000);
        }
        while (running(s, id))
                usleep(20000);
        return 0;
}

/* Anonymous volumes a container's record lists. */
static void remove_anonymous_volumes(struct kiln_store *s, json_t *doc)
{
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(doc, "Mounts"), i, m)
        {
                const char *t = json_string_value(json_object_get(m, "Type"));
                if (!t || strcmp(t, "volume") || !json_is_true(json_object_get(m, "Anonymous")))
                        continue;
                const char *name = json_string_value(json_object_get(m, "Name"));
                if (name)
                        kiln_volume_remove(s, name, true, NULL);
        }
}

int kiln_container_remove(struct kiln_store *s, const char *what, bool force, bool volumes,
                          struct kiln_error *err)
{
        _cleanup_free_ char *id = NULL;
        json_t *doc;
        int r = load(s, what, &id, &doc, err);
        if (r < 0)
                return r;
        refresh(s, doc);
        if (json_is_true(json_object_get(state_of(doc), "Running"))) {
                if (!force) {
                        json_decref(doc);
                        return kiln_err(err, -KILN_EINUSE,
                                        "cannot remove container %s: container is running: stop the "
                                        "container before removing or force remove",
                                        what);
                }
                _cleanup_free_ char *sr = kiln_container_state_root();
                kiln_rt_kill(sr, id, SIGKILL, true, NULL);
                while (running(s, id))
                        usleep(20000);
                json_decref(doc);
                if (load(s, id, NULL, &doc, NULL) < 0)
                        return 0; /* --rm removed it */
        }
        _cleanup_free_ char *sr = kiln_container_state_root();
        kiln_rt_delete(sr, id, true, NULL);
        ctr_net_teardown(s, doc);
        remove_files(s, doc);
        r = kiln_store_container_delete(s, id, err);
        if (r >= 0 && volumes)
                remove_anonymous_volumes(s, doc);
        json_decref(doc);
        return r;
}

int kiln_container_exec(struct kiln_store *s, const char *what,
                        const struct kiln_container_exec_opts *opts, int *ret_status,
                        struct kiln_error *err)
{
        _cleanup_free_ char *id = NULL;
        json_t *doc;
        int r = load(s, what, &id, &doc, err);
        if (r < 0)
                return r;
        refresh(s, doc);
        bool run = json_is_true(json_object_get(state_of(doc), "Running"));
        if (!run) {
                json_decref(doc);
                return kiln_err(err, -KILN_ECONFLICT, "container %s is not running", what);
        }
        if (!opts->args || !opts->args[0]) {
                json_decref(doc);
                return kiln_err(err, -EINVAL, "exec: no command given");
        }
        /* the process: the container's own, with the exec's args, user, env, cwd */
        _cleanup_free_ char *dir = ctr_dir(s, id);
        _cleanup_free_ char *cfgpath = kiln_xasprintf("%s/config.json", dir);
        json_error_t je;
        json_t *spec = json_load_file(cfgpath, 0, &je);
        if (!spec) {
                json_decref(doc);
                return kiln_err(err, -KILN_ECORRUPT, "container %.12s: config.json: %s", id, je.text);
        }
        json_t *proc = json_deep_copy(json_object_get(spec, "process"));
        json_t *env = json_object_get(proc, "env");
        for (size_t i = 0; opts->env && opts->env[i]; i++) {
                const char *eq = strchr(opts->env[i], '=');
                size_t kl = eq ? (size_t)(eq - opts->env[i]) : strlen(opts->env[i]);
                size_t k;
                json_t *e;
                bool replaced = false;
                json_array_foreach(env, k, e)
                {
                        const char *sv = json_string_value(e);
                        if (sv && !strncmp(sv, opts->env[i], kl) && sv[kl] == '=') {
                                json_array_set_new(env, k, json_string(opts->env[i]));
                                replaced = true;
                                break;
                        }
                }
                if (!replaced)
                        json_array_append_new(env, json_string(opts->env[i]));
        }
        json_t *args = json_array();
        for (size_t i = 0; opts->args[i]; i++)
                json_array_append_new(args, json_string(opts->args[i]));
        json_object_set_new(proc, "args", args);
        json_object_set_new(proc, "terminal", json_boolean(opts->tty));
        if (opts->workdir)
                json_object_set_new(proc, "cwd", json_string(opts->workdir));
        if (opts->user) {
                /* resolve the user the way run does, in the container's rootfs */
                struct kiln_run_opts ro = { .id = id, .user = opts->user, .cmd = opts->args };
                const char *rootfs = json_string_value(json_object_get(json_object_get(spec, "root"), "path"));
                json_t *tmp = NULL;
                char *const empty_ep[] = { NULL };
                ro.entrypoint = empty_ep;
                r = kiln_spec_generate(NULL, &ro, rootfs, &tmp, err);
                if (r < 0) {
                        json_decref(proc);
                        json_decref(spec);
                        json_decref(doc);
                        return r;
                }
                json_object_set(proc, "user", json_object_get(json_object_get(tmp, "process"), "user"));
                json_decref(tmp);
        }
        if (opts->privileged) {
                json_t *all = json_array();
                for (const char *const *c = kiln_spec_all_caps(); *c; c++)
                        json_array_append_new(all, json_string(*c));
                json_t *caps = json_object();
                static const char *const sets[] = { "bounding", "effective", "permitted" };
                for (size_t i = 0; i < 3; i++)
                        json_object_set(caps, sets[i], all);
                json_decref(all);
                json_object_set_new(proc, "capabilities", caps);
        }
        json_decref(spec);
        json_decref(doc);
        _cleanup_free_ char *sr = kiln_container_state_root();
        struct kiln_rt_exec_opts eo = { .process = proc, .stdin_fd = -1, .stdout_fd = -1,
                                        .stderr_fd = -1, .detach = opts->detach };
        _cleanup_close_ int nul = -1, lsock = -1;
        _cleanup_free_ char *sock = NULL;
        if (!opts->interactive && !opts->tty) {
                nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
                eo.stdin_fd = nul;
        }
        if (opts->tty) {
                char rnd[16];
                snprintf(rnd, sizeof(rnd), "%d", (int)getpid());
                sock = kiln_xasprintf("%s/%.12s-exec-%s.console", sr, id, rnd);
                lsock = console_listen(sock, err);
                if (lsock < 0) {
                        json_decref(proc);
                        return lsock;
                }
                eo.console_socket = sock;
                if (!opts->detach) {
                        /* the runtime waits for the process in a child of ours,
                         * so its status comes back as that child's exit code
                         * while this process copies the terminal */
                        fflush(NULL);
                        kiln_store_db_suspend(s);
                        pid_t helper = fork();
                        if (helper < 0) {
                                int e = errno;
                                kiln_store_db_resume(s, NULL);
                                unlink(sock);
                                json_decref(proc);
                                return kiln_err(err, -e, "fork: %s", strerror(e));
                        }
                        if (helper == 0) {
                                close(lsock);
                                int st = 0;
                                struct kiln_error e2 = { 0 };
                                if (kiln_rt_exec(sr, id, &eo, &st, &e2) < 0) {
                                        fprintf(stderr, "Error: %s\n", e2.msg);
                                        _exit(126);
                                }
                                _exit(st & 0xff);
                        }
                        kiln_store_db_resume(s, NULL);
                        int master = console_accept(lsock, err);
                        unlink(sock);
                        if (master < 0) {
                                kill(helper, SIGKILL);
                                waitpid(helper, NULL, 0);
                                json_decref(proc);
                                return master;
                        }
                        copy_winsize(STDIN_FILENO, master);
                        struct io_ctx io = { .out_fd = -1, .err_fd = -1, .master = master,
                                             .in_fd = opts->interactive ? STDIN_FILENO : -1,
                                             .log_fd = -1, .attach = true, .pid = helper };
                        if (io.in_fd >= 0)
                                tty_raw(STDIN_FILENO);
                        io_loop(&io);
                        tty_restore(STDIN_FILENO);
                        if (ret_status)
                                *ret_status = WIFEXITED(io.wstatus) ? WEXITSTATUS(io.wstatus)
                                                                    : kiln_wait_status_to_exit(io.wstatus);
                        json_decref(proc);
                        return 0;
                }
                eo.detach = true; /* -d -t: started, then left alone */
                _cleanup_free_ char *pidf = kiln_xasprintf("%s.pid", sock);
                eo.pid_file = pidf;
                r = kiln_rt_exec(sr, id, &eo, NULL, err);
                if (r < 0) {
                        unlink(sock);
                        json_decref(proc);
                        return r;
                }
                int master = console_accept(lsock, err);
                unlink(sock);
                unlink(pidf);
                if (master < 0) {
                        json_decref(proc);
                        return master;
                }
                close(master);
                json_decref(proc);
                return 0;
        }
        if (opts->capture) {
                eo.stdout_fd = opts->output_fd;
                eo.stderr_fd = opts->output_fd;
        }
        _cleanup_free_ char *pidf = NULL;
        if (opts->detach && opts->ret_pid) {
                pidf = kiln_xasprintf("%s/%.12s-exec-%d.pid", sr, id, (int)getpid());
                eo.pid_file = pidf;
        }
        r = kiln_rt_exec(sr, id, &eo, ret_status, err);
        json_decref(proc);
        if (r >= 0 && pidf) {
                /* the runtime forked it from this process: our child */
                _cleanup_free_ char *pidtext = NULL;
                size_t plen;
                *opts->ret_pid = kiln_fs_read_file(AT_FDCWD, pidf, 64, &pidtext, &plen) == 0
                                         ? (pid_t)atoi(pidtext)
                                         : 0;
        }
        if (pidf)
                unlink(pidf);
        return r;
}

/* ---- healthchecks ---- */

#define HEALTH_OUTPUT_MAX 4096 /* docker's maxOutputLen */
#define HEALTH_LOG_MAX 5       /* docker's maxLogEntries */

static int64_t mono_ns(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The Go duration docker prints in its timeout message ("30s", "1.5s"). */
static void format_duration(int64_t ns, char *out, size_t n)
{
        if (ns % 1000000000LL == 0)
                snprintf(out, n, "%llds", (long long)(ns / 1000000000LL));
        else
                snprintf(out, n, "%gs", (double)ns / 1e9);
}

/* The command a healthcheck's Test runs, or NULL (none, or NONE). */
static char **health_args(json_t *test)
{
        const char *kind = json_string_value(json_array_get(test, 0));
        size_t n = json_array_size(test);
        if (!kind || n < 2)
                return NULL;
        char **v = kiln_xcalloc(n + 3, sizeof(char *));
        size_t k = 0;
        if (!strcmp(kind, "CMD-SHELL")) {
                const char *c = json_string_value(json_array_get(test, 1));
                if (!c) {
                        free(v);
                        return NULL;
                }
                v[k++] = kiln_xstrdup("/bin/sh");
                v[k++] = kiln_xstrdup("-c");
                v[k++] = kiln_xstrdup(c);
        } else if (!strcmp(kind, "CMD")) {
                for (size_t i = 1; i < n; i++) {
                        const char *a = json_string_value(json_array_get(test, i));
                        v[k++] = kiln_xstrdup(a ? a : "");
                }
        } else {
                free(v);
                return NULL;
        }
        return v;
}

/* Run args in the container, output (up to HEALTH_OUTPUT_MAX) to *out,
 * killed after timeout_ns. Returns the exit code, or -1 on a timeout or
 * when it could not run (the reason in *out), as docker records them. */
static int health_probe(struct kiln_store *s, const char *id, char *const *args, int64_t timeout_ns,
                        struct kiln_buf *out)
{
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) {
                kiln_buf_printf(out, "pipe: %s", strerror(errno));
                return -1;
        }
        pid_t pid = 0;
        struct kiln_error e = { 0 };
        struct kiln_container_exec_opts eo = { .args = args, .detach = true, .capture = true,
                                               .output_fd = p[1], .ret_pid = &pid };
        int r = kiln_container_exec(s, id, &eo, NULL, &e);
        close(p[1]);
        if (r < 0 || pid <= 0) {
                close(p[0]);
                kiln_buf_printf(out, "%s", r < 0 ? e.msg : "exec: no pid");
                return -1;
        }
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        int64_t deadline = mono_ns() + timeout_ns;
        int ws = 0;
        bool exited = false, timed_out = false, eof = false;
        for (;;) {
                char buf[4096];
                ssize_t n;
                while (!eof && (n = read(p[0], buf, sizeof(buf))) >= 0) {
                        if (n == 0)
                                eof = true;
                        else if (out->len < HEALTH_OUTPUT_MAX)
                                kiln_buf_append(out, buf,
                                                KILN_MIN((size_t)n, HEALTH_OUTPUT_MAX - out->len));
                }
                if (exited)
                        break; /* drained what is there; a lingering child may hold the pipe */
                pid_t w = waitpid(pid, &ws, WNOHANG);
                if (w == pid || (w < 0 && errno != EINTR)) {
                        if (w < 0)
                                ws = 255 << 8;
                        exited = true;
                        continue;
                }
                int64_t left = deadline - mono_ns();
                if (left <= 0) {
                        timed_out = true;
                        kill(-pid, SIGKILL); /* the exec'd process leads a session */
                        kill(pid, SIGKILL);
                        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
                                ;
                        break;
                }
                int ms = (int)KILN_MIN(left / 1000000 + 1, 20);
                if (eof) {
                        usleep((useconds_t)ms * 1000);
                } else {
                        struct pollfd pf = { p[0], POLLIN, 0 };
                        poll(&pf, 1, ms);
                }
        }
        close(p[0]);
        if (timed_out) {
                char d[32];
                format_duration(timeout_ns, d, sizeof(d));
                out->len = 0;
                kiln_buf_printf(out, "Health check exceeded timeout (%s)", d);
                return -1;
        }
        return kiln_wait_status_to_exit(ws);
}

static int64_t health_ns(json_t *hc, const char *key, int64_t dflt)
{
        json_int_t v = json_integer_value(json_object_get(hc, key));
        return v > 0 ? (int64_t)v : dflt;
}

int kiln_container_healthcheck_run(struct kiln_store *s, const char *what, bool *ret_healthy,
                                   struct kiln_error *err)
{
        _cleanup_free_ char *id = NULL;
        json_t *doc;
        int r = load(s, what, &id, &doc, err);
        if (r < 0)
                return r;
        refresh(s, doc);
        json_t *hc = json_object_get(json_object_get(doc, "Config"), "Healthcheck");
        char **args = health_args(json_object_get(hc, "Test"));
        if (!args) {
                json_decref(doc);
                return kiln_err(err, -EINVAL, "container %s has no defined healthcheck", what);
        }
        if (!json_is_true(json_object_get(state_of(doc), "Running"))) {
                kiln_strv_free(args);
                json_decref(doc);
                return kiln_err(err, -KILN_ECONFLICT, "container %s is not running", what);
        }
        int64_t timeout = health_ns(hc, "Timeout", KILN_HEALTH_TIMEOUT_NS);
        int64_t start_period = health_ns(hc, "StartPeriod", 0);
        int retries = (int)health_ns(hc, "Retries", KILN_HEALTH_RETRIES);
        char started[64], ended[64];
        ctr_now_rfc3339(started, sizeof(started));
        struct kiln_buf out = KILN_BUF_INIT;
        int code = health_probe(s, id, args, timeout, &out);
        kiln_strv_free(args);
        ctr_now_rfc3339(ended, sizeof(ended));
        json_decref(doc);

        /* the record again: the monitor may have changed it meanwhile */
        r = load(s, id, NULL, &doc, err);
        if (r < 0) {
                kiln_buf_free(&out);
                return r;
        }
        json_t *st = state_of(doc);
        json_t *h = json_object_get(st, "Health");
        if (!json_is_object(h)) {
                h = json_pack("{s:s, s:i, s:[]}", "Status", "starting", "FailingStreak", 0, "Log");
                json_object_set_new(st, "Health", h);
        }
        const char *status = json_string_value(json_object_get(h, "Status"));
        int64_t streak = json_integer_value(json_object_get(h, "FailingStreak"));
        if (code == 0) {
                streak = 0;
                status = "healthy";
        } else {
                /* failures while starting, within the start period, do not count */
                int64_t since = (int64_t)time(NULL) -
                                kiln_parse_rfc3339(json_string_value(json_object_get(st, "StartedAt")));
                bool in_start = status && !strcmp(status, "starting") &&
                                since * 1000000000LL < start_period;
                if (!in_start) {
                        streak++;
                        if (streak >= retries)
                                status = "unhealthy";
                }
        }
        json_object_set_new(h, "Status", json_string(status ? status : "starting"));
        json_object_set_new(h, "FailingStreak", json_integer(streak));
        json_t *log = json_object_get(h, "Log");
        if (!json_is_array(log)) {
                log = json_array();
                json_object_set_new(h, "Log", log);
        }
        json_array_append_new(log, json_pack("{s:s, s:s, s:i, s:s%}", "Start", started, "End", ended,
                                             "ExitCode", code, "Output",
                                             out.data ? out.data : "", out.len));
        while (json_array_size(log) > HEALTH_LOG_MAX)
                json_array_remove(log, 0);
        kiln_buf_free(&out);
        bool healthy = !strcmp(json_string_value(json_object_get(h, "Status")), "healthy");
        /* a container that stopped meanwhile keeps its exit record as is */
        refresh(s, doc);
        r = json_is_true(json_object_get(st, "Running")) ? save(s, doc, err) : 0;
        json_decref(doc);
        if (r < 0)
                return r;
        if (ret_healthy)
                *ret_healthy = healthy;
        return 0;
}
