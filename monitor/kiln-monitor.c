/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln-monitor: the small program a detached container's monitor becomes
 * (conmon's model). `kiln run -d` / `kiln start` fork a process that
 * creates and starts the container — its init is that process's child —
 * and then execve()s this program, which only needs libc:
 *
 *   - copies the container's output (two pipes, or a pty master) to the
 *     log in docker's json-file format, one {"log","stream","time"} object
 *     a line;
 *   - reaps the init, drains what is left of its output (at most 2 s);
 *   - reads the OOM kills of the container's memory cgroup;
 *   - writes DIR/exit atomically: {"ExitCode":N,"OOMKilled":b,"FinishedAt":T};
 *   - execve()s the exit command (`kiln container cleanup ...`), which
 *     records the exit in the store and tears the container down. It runs
 *     in this same process, so the pid kiln recorded as MonitorPid stays
 *     alive until the record is final.
 *
 *   - with --health-interval, runs `KILN --root ROOT healthcheck run ID`
 *     (KILN: the exit command's program) every interval, the first one
 *     once the start period is over (or after one interval without one),
 *     never two at once; a check still running at the exit is killed.
 *
 * Usage (kiln builds it; not a user command):
 *   kiln-monitor --pid PID --dir DIR [--stdout FD --stderr FD | --pty FD]
 *                [--log FD] [--cgroup PATH]
 *                [--health-interval MS --health-start-period MS
 *                 --health-root ROOT --health-id ID] -- EXIT-COMMAND [ARG...]
 * In EXIT-COMMAND, the argument "@EXIT_CODE@" becomes the exit code (the
 * code, or 128+N for signal N), "@FINISHED_AT@" the time of the exit and
 * "@OOM@" becomes "--oom" when the OOM killer struck, or is dropped.
 *
 * Log escaping: `"` and `\` are escaped, \n \r \t as such, other control
 * characters below 0x20 as \u00XX; valid UTF-8 passes through unchanged
 * (U+2028 and U+2029 escaped as Go does); each byte that is not part of
 * valid UTF-8 becomes \ufffd, as docker's json-file driver writes it — so
 * every line is valid JSON that any reader, jansson included, accepts. A
 * line longer than 16 KiB is split into 16 KiB entries without a trailing
 * "\n", as docker does (the cut moves back to the start of a UTF-8
 * sequence that would otherwise be split).
 *
 * Messages go to stderr, which kiln points at DIR/monitor.log.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jsonlog.h"
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 16384     /* docker's json-file splits longer lines here */
#define DRAIN_MS 2000   /* how long output is read after the init exited */
#define PATH_MAX_ 4096

extern char **environ;

static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void msg(const char *fmt, ...)
{
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n > sizeof(line) - 2)
                n = (int)sizeof(line) - 2;
        line[n++] = '\n';
        (void)!write(STDERR_FILENO, "kiln-monitor: ", 14);
        (void)!write(STDERR_FILENO, line, (size_t)n);
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n) {
                ssize_t w = write(fd, p, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* RFC 3339 with nanoseconds, UTC: what kiln writes everywhere. */
static void now_rfc3339(char *out, size_t n)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
}

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- json-file ---- */

/* One escaped line is at most 6 bytes an input byte plus the frame. */
static char line_buf[6 * CHUNK + 256];

struct stream {
        const char *name; /* "stdout" / "stderr" */
        int fd;           /* read end, -1 once closed */
        size_t len;
        unsigned char buf[CHUNK];
};

static int log_fd = -1;

/* Write buf[0..n) as one log entry and keep the rest. */
static void emit(struct stream *s, size_t n)
{
        if (log_fd >= 0 && n) {
                char t[64];
                now_rfc3339(t, sizeof(t));
                char *o = line_buf;
                memcpy(o, "{\"log\":\"", 8);
                o += 8;
                o += kiln_jsonlog_escape(o, s->buf, n);
                o += sprintf(o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", s->name, t);
                int r = write_all(log_fd, line_buf, (size_t)(o - line_buf));
                if (r < 0) {
                        msg("writing the log: %s", strerror(-r));
                        log_fd = -1;
                }
        }
        memmove(s->buf, s->buf + n, s->len - n);
        s->len -= n;
}

/* A full buffer without a newline: a 16 KiB partial entry, cut before a
 * UTF-8 sequence the cut would split. */
static void emit_partial(struct stream *s)
{
        size_t cut = s->len;
        for (size_t back = 1; back <= 3 && back <= s->len; back++) {
                unsigned char c = s->buf[s->len - back];
                if ((c & 0xc0) == 0x80)
                        continue; /* a continuation byte: look further back */
                size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
                if (need > back && back < s->len)
                        cut = s->len - back;
                break;
        }
        emit(s, cut);
}

static void feed(struct stream *s, const char *data, size_t n)
{
        while (n) {
                size_t room = CHUNK - s->len;
                size_t k = n < room ? n : room;
                const char *nl = memchr(data, '\n', k);
                if (nl)
                        k = (size_t)(nl - data) + 1;
                memcpy(s->buf + s->len, data, k);
                s->len += k;
                data += k;
                n -= k;
                if (nl)
                        emit(s, s->len);
                else if (s->len == CHUNK)
                        emit_partial(s);
        }
}

/* ---- OOM kills ---- */

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
        char *w = s;
        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else {
                        *w++ = *r;
                }
        }
        *w = 0;
}

static bool has_token(const char *list, const char *tok)
{
        size_t n = strlen(tok);
        for (const char *p = list; p && *p;) {
                const char *e = strchr(p, ',');
                size_t l = e ? (size_t)(e - p) : strlen(p);
                if (l == n && !memcmp(p, tok, n))
                        return true;
                p = e ? e + 1 : NULL;
        }
        return false;
}

/* "oom_kill N" of v1 memory.oom_control (the memory hierarchy's mount) or
 * v2 memory.events (the cgroup2 mount), as kiln's cgroup code picks them:
 * a v1 memory hierarchy wins on a hybrid host. */
static bool oom_killed(const char *cg)
{
        if (!cg || !*cg || strstr(cg, ".."))
                return false;
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return false;
        char v1[PATH_MAX_] = "", v2[PATH_MAX_] = "";
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
                /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
                char *sp = NULL, *mp = NULL, *tok = strtok_r(line, " \n", &sp);
                for (int i = 0; tok && i < 4; i++) {
                        tok = strtok_r(NULL, " \n", &sp);
                        if (i == 3)
                                mp = tok;
                }
                while (tok && strcmp(tok, "-"))
                        tok = strtok_r(NULL, " \n", &sp);
                char *fstype = tok ? strtok_r(NULL, " \n", &sp) : NULL;
                char *source = fstype ? strtok_r(NULL, " \n", &sp) : NULL;
                char *opts = source ? strtok_r(NULL, " \n", &sp) : NULL;
                if (!mp || !opts)
                        continue;
                if (!strcmp(fstype, "cgroup") && !v1[0] && has_token(opts, "memory")) {
                        unescape(mp);
                        snprintf(v1, sizeof(v1), "%s/%s/memory.oom_control", mp, cg);
                } else if (!strcmp(fstype, "cgroup2") && !v2[0]) {
                        unescape(mp);
                        snprintf(v2, sizeof(v2), "%s/%s/memory.events", mp, cg);
                }
        }
        free(line);
        fclose(f);
        const char *path = v1[0] ? v1 : v2[0] ? v2 : NULL;
        if (!path)
                return false;
        f = fopen(path, "re");
        if (!f)
                return false;
        char l[256];
        unsigned long long kills = 0;
        while (fgets(l, sizeof(l), f))
                if (sscanf(l, "oom_kill %llu", &kills) == 1)
                        break;
        fclose(f);
        return kills > 0;
}

/* ---- healthchecks ---- */

/* Start `kiln ... healthcheck run ID`, its stdin and stdout on /dev/null,
 * stderr ours (monitor.log); returns its pid, or 0. */
static pid_t run_check(char **av, const sigset_t *mask)
{
        pid_t c = fork();
        if (c < 0) {
                msg("healthcheck: fork: %s", strerror(errno));
                return 0;
        }
        if (c == 0) {
                int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (nul >= 0) {
                        dup2(nul, STDIN_FILENO);
                        dup2(nul, STDOUT_FILENO);
                }
                sigprocmask(SIG_UNBLOCK, mask, NULL);
                signal(SIGPIPE, SIG_DFL);
                execve(av[0], av, environ);
                msg("healthcheck: cannot run %s: %s", av[0], strerror(errno));
                _exit(127);
        }
        return c;
}

/* ---- main ---- */

static int parse_fd(const char *s)
{
        char *end;
        long v = strtol(s, &end, 10);
        if (*end || v < 0 || v > 1 << 20)
                return -1;
        return (int)v;
}

static void usage(void)
{
        msg("usage: kiln-monitor --pid PID --dir DIR [--stdout FD --stderr FD | --pty FD] "
            "[--log FD] [--cgroup PATH] -- EXIT-COMMAND [ARG...]");
        exit(2);
}

static bool alive(pid_t pid)
{
        return kill(pid, 0) == 0 || errno == EPERM;
}

int main(int argc, char **argv)
{
        if (argc == 2 && !strcmp(argv[1], "--pause")) {
                /* rootless kiln's pause process: it only holds the user and
                 * mount namespaces open (lib/container/rootless.c) */
                signal(SIGINT, SIG_IGN);
                signal(SIGHUP, SIG_IGN);
                for (;;)
                        pause();
        }
        pid_t pid = 0;
        const char *dir = NULL, *cgroup = NULL, *hroot = NULL, *hid = NULL;
        long long hinterval = 0, hstart = 0;
        struct stream *out = calloc(1, sizeof(*out)), *err = calloc(1, sizeof(*err));
        if (!out || !err)
                return 1;
        out->name = "stdout";
        err->name = "stderr";
        out->fd = err->fd = -1;
        int i = 1;
        for (; i < argc; i++) {
                const char *a = argv[i];
                if (!strcmp(a, "--")) {
                        i++;
                        break;
                }
                if (i + 1 >= argc)
                        usage();
                const char *v = argv[++i];
                if (!strcmp(a, "--pid"))
                        pid = (pid_t)atoi(v);
                else if (!strcmp(a, "--dir"))
                        dir = v;
                else if (!strcmp(a, "--cgroup"))
                        cgroup = v;
                else if (!strcmp(a, "--stdout") || !strcmp(a, "--pty"))
                        out->fd = parse_fd(v);
                else if (!strcmp(a, "--stderr"))
                        err->fd = parse_fd(v);
                else if (!strcmp(a, "--log"))
                        log_fd = parse_fd(v);
                else if (!strcmp(a, "--health-interval"))
                        hinterval = atoll(v);
                else if (!strcmp(a, "--health-start-period"))
                        hstart = atoll(v);
                else if (!strcmp(a, "--health-root"))
                        hroot = v;
                else if (!strcmp(a, "--health-id"))
                        hid = v;
                else
                        usage();
        }
        if (pid <= 0 || !dir || i >= argc)
                usage();
        char **exit_cmd = argv + i;
        int n_exit = argc - i;

        /* nothing of ours may reach the exit command */
        int fds[] = { out->fd, err->fd, log_fd };
        for (size_t k = 0; k < sizeof(fds) / sizeof(fds[0]); k++)
                if (fds[k] >= 0 && fcntl(fds[k], F_SETFD, FD_CLOEXEC) < 0) {
                        msg("fd %d: %s", fds[k], strerror(errno));
                        if (fds[k] == log_fd)
                                log_fd = -1;
                        else if (fds[k] == out->fd)
                                out->fd = -1;
                        else
                                err->fd = -1;
                }

        /* SIGCHLD for the exit; the others are passed on to the init */
        static const int sigs[] = { SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
        sigset_t mask;
        sigemptyset(&mask);
        for (size_t k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
                sigaddset(&mask, sigs[k]);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        signal(SIGPIPE, SIG_IGN);

        /* periodic healthchecks */
        bool health = hinterval > 0 && hroot && hid;
        pid_t hpid = 0;
        int64_t hnext = now_ms() + (hstart > 0 ? hstart : hinterval);
        char *hargv[] = { exit_cmd[0], "--root", (char *)hroot, "healthcheck", "run", (char *)hid, NULL };

        bool exited = false, orphan = false;
        int wstatus = 0;
        char finished[64] = "";
        int64_t drain_deadline = 0;
        static char buf[CHUNK];
        struct stream *st[2] = { out, err };
        for (;;) {
                if (!exited) {
                        /* reap the init, and whatever else was left to us */
                        for (;;) {
                                int ws;
                                pid_t w = waitpid(-1, &ws, WNOHANG);
                                if (w > 0 && w == hpid) {
                                        hpid = 0;
                                } else if (w == pid) {
                                        wstatus = ws;
                                        exited = true;
                                        now_rfc3339(finished, sizeof(finished));
                                } else if (w < 0 && errno == ECHILD && alive(pid)) {
                                        orphan = true; /* not ours: poll for its end */
                                } else if (w < 0 && errno == ECHILD) {
                                        /* not our child: the status is lost */
                                        msg("process %d is not our child; exit status unknown",
                                            (int)pid);
                                        wstatus = 255 << 8;
                                        exited = true;
                                        now_rfc3339(finished, sizeof(finished));
                                }
                                if (w <= 0)
                                        break;
                        }
                }
                if (exited && out->fd < 0 && err->fd < 0)
                        break;
                struct pollfd p[3];
                int n = 0, idx[2] = { -1, -1 }, idx_sig = -1;
                for (int s = 0; s < 2; s++)
                        if (st[s]->fd >= 0) {
                                idx[s] = n;
                                p[n++] = (struct pollfd){ st[s]->fd, POLLIN, 0 };
                        }
                if (sfd >= 0) {
                        idx_sig = n;
                        p[n++] = (struct pollfd){ sfd, POLLIN, 0 };
                }
                int timeout = sfd >= 0 && !orphan ? -1 : 100;
                if (health && !exited) {
                        int64_t now = now_ms();
                        if (!hpid && now >= hnext) {
                                hpid = run_check(hargv, &mask);
                                hnext = now + hinterval;
                        }
                        int64_t wait = hpid ? 100 : hnext - now; /* reap by SIGCHLD or poll */
                        if (wait < 1)
                                wait = 1;
                        if (timeout < 0 || wait < timeout)
                                timeout = (int)(wait > 1 << 30 ? 1 << 30 : wait);
                }
                if (exited) {
                        int64_t now = now_ms();
                        if (!drain_deadline)
                                drain_deadline = now + DRAIN_MS;
                        if (now >= drain_deadline)
                                break;
                        timeout = (int)(drain_deadline - now);
                }
                if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR) {
                        msg("poll: %s", strerror(errno));
                        break;
                }
                for (int s = 0; s < 2; s++) {
                        if (idx[s] < 0 || !p[idx[s]].revents)
                                continue;
                        ssize_t r = read(st[s]->fd, buf, sizeof(buf));
                        if (r < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (r <= 0) {
                                /* EOF, or EIO from a pty whose other side closed */
                                close(st[s]->fd);
                                st[s]->fd = -1;
                                continue;
                        }
                        feed(st[s], buf, (size_t)r);
                }
                if (idx_sig >= 0 && (p[idx_sig].revents & POLLIN)) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                                if (si.ssi_signo != SIGCHLD && !exited)
                                        kill(pid, (int)si.ssi_signo);
                }
        }
        if (!exited) {
                /* poll failed: still wait for the exit */
                while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
                        ;
                now_rfc3339(finished, sizeof(finished));
        }
        for (int s = 0; s < 2; s++) {
                if (st[s]->len)
                        emit(st[s], st[s]->len);
                if (st[s]->fd >= 0)
                        close(st[s]->fd);
        }
        if (log_fd >= 0)
                close(log_fd);
        if (sfd >= 0)
                close(sfd);

        if (hpid > 0) {
                /* no check may record anything after the exit */
                kill(hpid, SIGKILL);
                while (waitpid(hpid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        int code = WIFEXITED(wstatus)     ? WEXITSTATUS(wstatus)
                   : WIFSIGNALED(wstatus) ? 128 + WTERMSIG(wstatus)
                                          : 255;
        bool oom = oom_killed(cgroup);

        /* DIR/exit: what kiln records should the exit command not run */
        char path[PATH_MAX_], tmp[PATH_MAX_];
        snprintf(path, sizeof(path), "%s/exit", dir);
        snprintf(tmp, sizeof(tmp), "%s/.exit.tmp", dir);
        char doc[256];
        int dl = snprintf(doc, sizeof(doc), "{\"ExitCode\":%d,\"OOMKilled\":%s,\"FinishedAt\":\"%s\"}\n",
                          code, oom ? "true" : "false", finished);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write_all(fd, doc, (size_t)dl) < 0 || fsync(fd) < 0 || close(fd) < 0 ||
            rename(tmp, path) < 0) {
                msg("writing %s: %s", path, strerror(errno));
                unlink(tmp);
        }

        /* the exit command, with the placeholders filled in */
        char code_s[16];
        snprintf(code_s, sizeof(code_s), "%d", code);
        char **av = calloc((size_t)n_exit + 1, sizeof(char *));
        if (!av)
                return 1;
        int k = 0;
        for (int a = 0; a < n_exit; a++) {
                if (!strcmp(exit_cmd[a], "@EXIT_CODE@"))
                        av[k++] = code_s;
                else if (!strcmp(exit_cmd[a], "@FINISHED_AT@"))
                        av[k++] = finished;
                else if (!strcmp(exit_cmd[a], "@OOM@")) {
                        if (oom)
                                av[k++] = "--oom";
                } else
                        av[k++] = exit_cmd[a];
        }
        av[k] = NULL;
        sigprocmask(SIG_UNBLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_DFL);
        execve(av[0], av, environ);
        msg("cannot run the exit command %s: %s", av[0], strerror(errno));
        return 1;
}
