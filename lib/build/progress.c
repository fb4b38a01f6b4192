/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build --progress=plain|tty|quiet (include/kiln/progress.h). One
 * mutex guards everything; every write is one write(2) of whole lines, so
 * stages built by several threads never mix within a line.
 *
 * The build forks (RUN's container) while this module's threads run: the
 * reader of RUN output and the tty ticker are started once, with the
 * reporter (never next to a fork), and they allocate only while holding
 * the mutex, which a pthread_atfork handler takes around every fork, so a
 * child never inherits a lock (malloc's, the sanitizers') held by them.
 * See docs/internals/build.md ("Progress").
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "kiln/progress.h"

#define LIVE_LINES 6                  /* output lines shown under a running step (tty) */
#define OUT_MAX (4u * 1024 * 1024)    /* output kept per step for a failure report (tty) */
#define LINE_MAX_PLAIN (64u * 1024)   /* a longer line without '\n' is cut (plain) */

struct pstep {
        unsigned n;
        char *title; /* "[stage i/n] text" */
        double start;
        bool failed_output_cut;
        struct kiln_buf out;     /* tty: the output so far (its tail when over OUT_MAX) */
        struct kiln_buf partial; /* plain: a line not ended yet */
        int rfd, wfd;            /* kiln_progress_pipe_open(); rfd is polled by the reader */
        bool eof;                /* the reader saw the end of rfd */
};

/* the mutex of every reporter (there is one a build), also taken around
 * fork() */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Only in the process that made the reporters: a child made by a raw
 * clone(2) (the runtime's container init) has a copy of the mutex in the
 * state it was, and no threads of ours. */
static pid_t mu_pid;
static __thread bool mu_forking;

static void fork_prepare(void)
{
        if (getpid() != mu_pid)
                return;
        pthread_mutex_lock(&mu);
        mu_forking = true;
}

static void fork_done(void)
{
        if (!mu_forking)
                return;
        mu_forking = false;
        pthread_mutex_unlock(&mu);
}

static void atfork_register(void)
{
        mu_pid = getpid();
        pthread_atfork(fork_prepare, fork_done, fork_done);
}

struct kiln_progress {
        enum kiln_progress_mode mode;
        int fd;
        pthread_cond_t cv;     /* the ticker's wake-up */
        pthread_cond_t eof_cv; /* a pipe reached its end */
        int wake[2];           /* tells the reader the set of pipes changed */
        pthread_t reader;
        bool has_reader;
        struct pstep **steps; /* running steps, in start order */
        size_t n_steps;
        unsigned live_lines;  /* tty: lines of the live view on the screen */
        unsigned n_done;
        double t0;
        pthread_t ticker;
        bool has_ticker, stop;
};

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int kiln_progress_mode_parse(const char *s, int fd, enum kiln_progress_mode *ret)
{
        if (!strcmp(s, "auto"))
                *ret = isatty(fd) ? KILN_PROGRESS_TTY : KILN_PROGRESS_PLAIN;
        else if (!strcmp(s, "plain"))
                *ret = KILN_PROGRESS_PLAIN;
        else if (!strcmp(s, "tty"))
                *ret = KILN_PROGRESS_TTY;
        else if (!strcmp(s, "quiet"))
                *ret = KILN_PROGRESS_QUIET;
        else
                return -EINVAL;
        return 0;
}

enum kiln_progress_mode kiln_progress_get_mode(const struct kiln_progress *p)
{
        return p ? p->mode : KILN_PROGRESS_QUIET;
}

static void write_whole(int fd, const char *data, size_t len)
{
        while (len) {
                ssize_t n = write(fd, data, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return; /* a closed terminal or pipe: progress is lost, the build goes on */
                data += n;
                len -= (size_t)n;
        }
}

static struct pstep *find_step(struct kiln_progress *p, unsigned n)
{
        for (size_t i = 0; i < p->n_steps; i++)
                if (p->steps[i]->n == n)
                        return p->steps[i];
        return NULL;
}

static void step_free(struct pstep *s)
{
        if (!s)
                return;
        free(s->title);
        kiln_buf_free(&s->out);
        kiln_buf_free(&s->partial);
        free(s);
}

static void remove_step(struct kiln_progress *p, struct pstep *s)
{
        for (size_t i = 0; i < p->n_steps; i++)
                if (p->steps[i] == s) {
                        memmove(&p->steps[i], &p->steps[i + 1], (p->n_steps - i - 1) * sizeof(*p->steps));
                        p->n_steps--;
                        break;
                }
        step_free(s);
}

/* ---- tty ---- */

static unsigned term_width(int fd)
{
        struct winsize ws;
        if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
                return ws.ws_col;
        return 80;
}

/* one screen line: control characters dropped, cut to fit (at a UTF-8
 * character boundary) so that no line wraps and the view can be redrawn */
static void put_cut(struct kiln_buf *b, const char *s, size_t len, unsigned width)
{
        unsigned cols = 0;
        for (size_t i = 0; i < len && cols + 1 < width; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '\t')
                        c = ' ';
                if (c < 0x20 || c == 0x7f)
                        continue;
                if ((c & 0xc0) != 0x80)
                        cols++; /* a character starts here */
                kiln_buf_append(b, &c, 1);
        }
        /* a multi-byte character cut in its middle is dropped */
        size_t end = b->len, k = end;
        while (k > 0 && ((unsigned char)b->data[k - 1] & 0xc0) == 0x80)
                k--;
        if (k > 0 && (unsigned char)b->data[k - 1] >= 0xc0) {
                unsigned char lead = (unsigned char)b->data[k - 1];
                size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
                if (end - (k - 1) < need) {
                        b->len = k - 1;
                        b->data[b->len] = 0;
                }
        }
        kiln_buf_puts(b, "\n");
}

/* the last n lines of s (the text after the last '\n' counts as one) */
static const char *tail_lines(const struct kiln_buf *s, unsigned n)
{
        if (!s->len)
                return "";
        size_t i = s->len;
        if (s->data[i - 1] == '\n')
                i--;
        while (i > 0) {
                if (s->data[i - 1] == '\n' && --n == 0)
                        break;
                i--;
        }
        return s->data + i;
}

/*
 * Redraw: erase the live view, print `permanent` (whole lines that stay on
 * the screen above it), then the live view again. One write.
 */
static void tty_render(struct kiln_progress *p, const char *permanent)
{
        struct kiln_buf b = KILN_BUF_INIT;
        unsigned width = term_width(p->fd);
        if (p->live_lines)
                kiln_buf_printf(&b, "\r\033[%uA\033[J", p->live_lines);
        else
                kiln_buf_puts(&b, "\r\033[J");
        if (permanent)
                kiln_buf_puts(&b, permanent);
        unsigned lines = 0;
        if (p->n_steps && !p->stop) {
                double t = now();
                char *head = kiln_xasprintf("[+] Building %.1fs (%u done, %zu running)", t - p->t0, p->n_done,
                                            p->n_steps);
                kiln_buf_puts(&b, "\033[1m");
                put_cut(&b, head, strlen(head), width);
                b.len--; /* the bold ends before the newline */
                kiln_buf_puts(&b, "\033[0m\n");
                free(head);
                lines++;
                for (size_t i = 0; i < p->n_steps; i++) {
                        struct pstep *s = p->steps[i];
                        /* the title cut to fit, the ticking time always shown */
                        char *l = kiln_xasprintf("#%u %s", s->n, s->title);
                        char tm[32];
                        int tl = snprintf(tm, sizeof(tm), " %.1fs\n", t - s->start);
                        put_cut(&b, l, strlen(l), width > (unsigned)tl + 10 ? width - (unsigned)tl + 1 : width);
                        b.len--;
                        kiln_buf_puts(&b, tm);
                        free(l);
                        lines++;
                        const char *o = tail_lines(&s->out, LIVE_LINES);
                        while (*o) {
                                const char *nl = strchr(o, '\n');
                                size_t len = nl ? (size_t)(nl - o) : strlen(o);
                                kiln_buf_puts(&b, "\033[2m   ");
                                put_cut(&b, o, len, width > 4 ? width - 3 : width);
                                b.len--;
                                kiln_buf_puts(&b, "\033[0m\n");
                                lines++;
                                o = nl ? nl + 1 : o + len;
                        }
                }
        }
        p->live_lines = lines;
        write_whole(p->fd, b.data, b.len);
        kiln_buf_free(&b);
}

static void *ticker_main(void *ud)
{
        struct kiln_progress *p = ud;
        pthread_mutex_lock(&mu);
        while (!p->stop) {
                if (!p->n_steps) {
                        pthread_cond_wait(&p->cv, &mu);
                        continue;
                }
                tty_render(p, NULL);
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_nsec += 100 * 1000 * 1000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&p->cv, &mu, &ts);
        }
        pthread_mutex_unlock(&mu);
        return NULL;
}

/* ---- the reporter ---- */

static void *reader_main(void *ud);

/* a thread with every signal blocked (they are the build's) */
static bool start_thread(pthread_t *t, void *(*fn)(void *), void *ud)
{
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        bool ok = pthread_create(t, NULL, fn, ud) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return ok;
}

struct kiln_progress *kiln_progress_new(enum kiln_progress_mode mode, int fd)
{
        pthread_once(&atfork_once, atfork_register);
        struct kiln_progress *p = kiln_xcalloc(1, sizeof(*p));
        p->mode = fd < 0 ? KILN_PROGRESS_QUIET : mode;
        p->fd = fd;
        p->t0 = now();
        p->wake[0] = p->wake[1] = -1;
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&p->cv, &ca);
        pthread_condattr_destroy(&ca);
        pthread_cond_init(&p->eof_cv, NULL);
        if (p->mode == KILN_PROGRESS_QUIET)
                return p;
        /* both threads now, while nothing forks (see the top) */
        if (pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) == 0)
                p->has_reader = start_thread(&p->reader, reader_main, p);
        if (p->mode == KILN_PROGRESS_TTY)
                p->has_ticker = start_thread(&p->ticker, ticker_main, p);
        return p;
}

static void wake_reader(struct kiln_progress *p)
{
        if (p->wake[1] >= 0) {
                ssize_t k = write(p->wake[1], "x", 1);
                (void)k; /* a full pipe wakes it as well */
        }
}

void kiln_progress_free(struct kiln_progress *p)
{
        if (!p)
                return;
        pthread_mutex_lock(&mu);
        for (size_t i = 0; i < p->n_steps; i++) /* the end of every pipe */
                if (p->steps[i]->wfd >= 0) {
                        close(p->steps[i]->wfd);
                        p->steps[i]->wfd = -1;
                }
        p->stop = true;
        pthread_cond_broadcast(&p->cv);
        wake_reader(p);
        pthread_mutex_unlock(&mu);
        if (p->has_ticker)
                pthread_join(p->ticker, NULL);
        if (p->has_reader)
                pthread_join(p->reader, NULL);
        pthread_mutex_lock(&mu);
        if (p->mode == KILN_PROGRESS_TTY && p->live_lines)
                tty_render(p, NULL); /* clears the live view */
        pthread_mutex_unlock(&mu);
        for (size_t i = 0; i < p->n_steps; i++) {
                if (p->steps[i]->rfd >= 0)
                        close(p->steps[i]->rfd);
                step_free(p->steps[i]);
        }
        free(p->steps);
        if (p->wake[0] >= 0) {
                close(p->wake[0]);
                close(p->wake[1]);
        }
        pthread_cond_destroy(&p->cv);
        pthread_cond_destroy(&p->eof_cv);
        free(p);
}

/* plain: "#N LINE\n" for every complete line of data (the rest is kept) */
static void plain_output(struct kiln_progress *p, struct pstep *s, const char *data, size_t len, bool flush)
{
        struct kiln_buf b = KILN_BUF_INIT;
        kiln_buf_append(&s->partial, data, len);
        size_t start = 0;
        for (size_t i = 0; i < s->partial.len; i++) {
                if (s->partial.data[i] != '\n' && i - start < LINE_MAX_PLAIN)
                        continue;
                kiln_buf_printf(&b, "#%u ", s->n);
                kiln_buf_append(&b, s->partial.data + start, i - start);
                kiln_buf_puts(&b, "\n");
                start = s->partial.data[i] == '\n' ? i + 1 : i;
        }
        if (flush && start < s->partial.len) {
                kiln_buf_printf(&b, "#%u ", s->n);
                kiln_buf_append(&b, s->partial.data + start, s->partial.len - start);
                kiln_buf_puts(&b, "\n");
                start = s->partial.len;
        }
        if (start) {
                memmove(s->partial.data, s->partial.data + start, s->partial.len - start);
                s->partial.len -= start;
                s->partial.data[s->partial.len] = 0;
        }
        if (b.len)
                write_whole(p->fd, b.data, b.len);
        kiln_buf_free(&b);
}

void kiln_progress_step_begin(struct kiln_progress *p, unsigned n, const char *stage, size_t i, size_t total,
                              const char *text, bool cached)
{
        if (!p || p->mode == KILN_PROGRESS_QUIET)
                return;
        pthread_mutex_lock(&mu);
        char *title = kiln_xasprintf("[%s %zu/%zu] %s", stage, i, total, text);
        if (p->mode == KILN_PROGRESS_PLAIN) {
                char *l = kiln_xasprintf("#%u %s%s\n", n, title, cached ? " CACHED" : "");
                write_whole(p->fd, l, strlen(l));
                free(l);
        } else if (cached) {
                char *l = kiln_xasprintf("#%u %s CACHED\n", n, title);
                p->n_done++;
                tty_render(p, l);
                free(l);
        }
        if (!cached && !find_step(p, n)) {
                struct pstep *s = kiln_xcalloc(1, sizeof(*s));
                s->n = n;
                s->title = TAKE_PTR(title);
                s->start = now();
                s->rfd = s->wfd = -1;
                p->steps = kiln_xrealloc(p->steps, (p->n_steps + 1) * sizeof(*p->steps));
                p->steps[p->n_steps++] = s;
                if (p->mode == KILN_PROGRESS_TTY) {
                        tty_render(p, NULL);
                        pthread_cond_broadcast(&p->cv);
                }
        }
        free(title);
        pthread_mutex_unlock(&mu);
}

/* with the mutex held */
static void output_locked(struct kiln_progress *p, struct pstep *s, const char *data, size_t len)
{
        if (p->mode == KILN_PROGRESS_PLAIN) {
                plain_output(p, s, data, len, false);
                return;
        }
        kiln_buf_append(&s->out, data, len);
        if (s->out.len > OUT_MAX) { /* keep the tail, from a line start */
                size_t cut = s->out.len - OUT_MAX / 2;
                while (cut < s->out.len && s->out.data[cut - 1] != '\n')
                        cut++;
                memmove(s->out.data, s->out.data + cut, s->out.len - cut);
                s->out.len -= cut;
                s->out.data[s->out.len] = 0;
                s->failed_output_cut = true;
        }
}

void kiln_progress_step_output(struct kiln_progress *p, unsigned n, const char *data, size_t len)
{
        if (!p || p->mode == KILN_PROGRESS_QUIET || !len)
                return;
        pthread_mutex_lock(&mu);
        struct pstep *s = find_step(p, n);
        if (s)
                output_locked(p, s, data, len);
        pthread_mutex_unlock(&mu);
}

void kiln_progress_step_end(struct kiln_progress *p, unsigned n, bool ok)
{
        if (!p || p->mode == KILN_PROGRESS_QUIET)
                return;
        kiln_progress_pipe_close(p, n);
        pthread_mutex_lock(&mu);
        struct pstep *s = find_step(p, n);
        if (!s) {
                pthread_mutex_unlock(&mu);
                return;
        }
        double el = now() - s->start;
        if (p->mode == KILN_PROGRESS_PLAIN) {
                plain_output(p, s, "", 0, true);
                char *l = kiln_xasprintf("#%u %s %.1fs\n", n, ok ? "DONE" : "ERROR", el);
                write_whole(p->fd, l, strlen(l));
                free(l);
        } else {
                struct kiln_buf b = KILN_BUF_INIT;
                kiln_buf_printf(&b, "#%u %s %s %.1fs\n", n, s->title, ok ? "DONE" : "ERROR", el);
                if (!ok) { /* the whole output of the failing step */
                        if (s->failed_output_cut)
                                kiln_buf_printf(&b, "#%u [... earlier output cut ...]\n", n);
                        const char *o = s->out.data ? s->out.data : "";
                        while (*o) {
                                const char *nl = strchr(o, '\n');
                                size_t len = nl ? (size_t)(nl - o) : strlen(o);
                                kiln_buf_printf(&b, "#%u ", n);
                                kiln_buf_append(&b, o, len);
                                kiln_buf_puts(&b, "\n");
                                o = nl ? nl + 1 : o + len;
                        }
                }
                p->n_done++;
                remove_step(p, s);
                tty_render(p, b.data);
                kiln_buf_free(&b);
                pthread_mutex_unlock(&mu);
                return;
        }
        remove_step(p, s);
        pthread_mutex_unlock(&mu);
}

void kiln_progress_message(struct kiln_progress *p, const char *fmt, ...)
{
        if (!p || p->mode == KILN_PROGRESS_QUIET)
                return;
        va_list ap;
        va_start(ap, fmt);
        char *m = NULL;
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        if (!m)
                return;
        size_t len = strlen(m);
        char *l = len && m[len - 1] == '\n' ? m : kiln_xasprintf("%s\n", m);
        pthread_mutex_lock(&mu);
        if (p->mode == KILN_PROGRESS_TTY)
                tty_render(p, l);
        else
                write_whole(p->fd, l, strlen(l));
        pthread_mutex_unlock(&mu);
        if (l != m)
                free(l);
        free(m);
}

/* ---- a process's output through a pipe ---- */

/*
 * The one reader thread: polls the read end of every step's pipe (and the
 * wake pipe), reads into its stack and hands the bytes over under the
 * mutex. A pipe's end (every writer gone) marks its step eof.
 */
static void *reader_main(void *ud)
{
        struct kiln_progress *p = ud;
        struct pollfd *pf = NULL;
        unsigned *ns = NULL;
        size_t cap = 0;
        char buf[8192];
        pthread_mutex_lock(&mu);
        for (;;) {
                size_t k = 1;
                if (cap < p->n_steps + 1) { /* allocations only under the mutex */
                        cap = p->n_steps + 8;
                        pf = kiln_xrealloc(pf, cap * sizeof(*pf));
                        ns = kiln_xrealloc(ns, cap * sizeof(*ns));
                }
                pf[0] = (struct pollfd){ .fd = p->wake[0], .events = POLLIN };
                for (size_t i = 0; i < p->n_steps; i++)
                        if (p->steps[i]->rfd >= 0 && !p->steps[i]->eof) {
                                pf[k] = (struct pollfd){ .fd = p->steps[i]->rfd, .events = POLLIN };
                                ns[k++] = p->steps[i]->n;
                        }
                if (p->stop && k == 1)
                        break;
                pthread_mutex_unlock(&mu);
                int r = poll(pf, k, -1);
                if (r < 0 && errno != EINTR) {
                        pthread_mutex_lock(&mu);
                        break;
                }
                if (r > 0 && pf[0].revents) {
                        while (read(p->wake[0], buf, sizeof(buf)) > 0)
                                ;
                }
                for (size_t i = 1; r > 0 && i < k; i++) {
                        if (!pf[i].revents)
                                continue;
                        /* the fd stays open until its step is eof (pipe_close waits) */
                        ssize_t got = read(pf[i].fd, buf, sizeof(buf));
                        if (got < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        pthread_mutex_lock(&mu);
                        struct pstep *s = find_step(p, ns[i]);
                        if (s && got > 0) {
                                output_locked(p, s, buf, (size_t)got);
                        } else if (s) {
                                s->eof = true;
                                pthread_cond_broadcast(&p->eof_cv);
                        }
                        pthread_mutex_unlock(&mu);
                }
                pthread_mutex_lock(&mu);
        }
        /* nothing will read any more: whoever waits for an end stops waiting */
        for (size_t i = 0; i < p->n_steps; i++)
                p->steps[i]->eof = true;
        pthread_cond_broadcast(&p->eof_cv);
        free(pf);
        free(ns);
        pthread_mutex_unlock(&mu);
        return NULL;
}

int kiln_progress_pipe_open(struct kiln_progress *p, unsigned n, int *ret_wfd)
{
        if (!p || p->mode == KILN_PROGRESS_QUIET || !p->has_reader)
                return -EINVAL;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pthread_mutex_lock(&mu);
        struct pstep *s = find_step(p, n);
        int r = 0;
        if (!s || s->rfd >= 0 || p->stop) {
                r = -EINVAL;
        } else {
                s->rfd = fds[0];
                s->wfd = fds[1];
                s->eof = false;
                wake_reader(p);
        }
        pthread_mutex_unlock(&mu);
        if (r < 0) {
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        *ret_wfd = fds[1];
        return 0;
}

void kiln_progress_pipe_close(struct kiln_progress *p, unsigned n)
{
        if (!p)
                return;
        pthread_mutex_lock(&mu);
        struct pstep *s = find_step(p, n);
        if (s && s->rfd >= 0) {
                if (s->wfd >= 0)
                        close(s->wfd);
                s->wfd = -1;
                /* everything written before the last writer went is read */
                while (!s->eof)
                        pthread_cond_wait(&p->eof_cv, &mu);
                close(s->rfd);
                s->rfd = -1;
        }
        pthread_mutex_unlock(&mu);
}
