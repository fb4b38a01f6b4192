/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build: stages that do not need each other, built at once on
 * threads (kiln build --jobs). The executor's code runs under one big lock;
 * a stage lets go of it only to wait (for its RUN's container, for a cache
 * mount's lock, for a stage another thread builds) or to tar and compress
 * a layer. RUN containers are run by a forked helper process. See
 * stages.h and docs/internals/build.md ("Stages in parallel").
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "stages.h"

enum { ST_PENDING, ST_RUNNING, ST_DONE, ST_FAILED };

struct build_sched {
        const struct build_graph *g;
        unsigned jobs;
        pthread_mutex_t lock;      /* the big lock */
        pthread_cond_t changed;    /* a stage's state changed */
        pthread_rwlock_t forking;  /* write: a helper is being forked; read: work outside the lock */
        int *state;
        bool cancel;               /* __atomic: a stage failed */
        bool have_err;
        struct kiln_error first;   /* the first failure */
        build_stage_fn fn;
        void *ud;
        size_t live;               /* workers not ended yet */
};

struct build_sched *build_sched_new(const struct build_graph *g, unsigned jobs)
{
        struct build_sched *s = kiln_xcalloc(1, sizeof(*s));
        s->g = g;
        s->jobs = jobs;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->changed, NULL);
        pthread_rwlock_init(&s->forking, NULL);
        s->state = kiln_xcalloc(g->n + 1, sizeof(int));
        return s;
}

void build_sched_free(struct build_sched *s)
{
        if (!s)
                return;
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->changed);
        pthread_rwlock_destroy(&s->forking);
        free(s->state);
        free(s);
}

void build_sched_lock(struct build_sched *s)
{
        pthread_mutex_lock(&s->lock);
}

void build_sched_unlock(struct build_sched *s)
{
        pthread_mutex_unlock(&s->lock);
}

bool build_sched_cancelled(struct build_sched *s)
{
        return __atomic_load_n(&s->cancel, __ATOMIC_ACQUIRE);
}

void build_sched_work_begin(struct build_sched *s)
{
        pthread_rwlock_rdlock(&s->forking);
}

void build_sched_work_end(struct build_sched *s)
{
        pthread_rwlock_unlock(&s->forking);
}

void build_sched_finish(struct build_sched *s, size_t idx, int r, const struct kiln_error *err)
{
        s->state[idx] = r < 0 ? ST_FAILED : ST_DONE;
        if (r < 0) {
                /* the first failure is the build's; a stage that fails after
                 * it (stopped, or its container killed) is not */
                if (!s->have_err && r != -ECANCELED && !build_sched_cancelled(s)) {
                        s->have_err = true;
                        s->first = *err;
                        s->first.code = r;
                }
                __atomic_store_n(&s->cancel, true, __ATOMIC_RELEASE);
        }
        pthread_cond_broadcast(&s->changed);
}

int build_sched_claim(struct build_sched *s, size_t idx)
{
        for (;;) {
                if (build_sched_cancelled(s))
                        return -ECANCELED;
                switch (s->state[idx]) {
                case ST_PENDING:
                        s->state[idx] = ST_RUNNING;
                        return 1;
                case ST_DONE:
                        return 0;
                case ST_FAILED:
                        return -ECANCELED;
                default:
                        pthread_cond_wait(&s->changed, &s->lock);
                }
        }
}

/* A needed stage that waits for nothing, or -1; *ret_busy: something still
 * pending or running */
static int pick(struct build_sched *s, bool *ret_busy)
{
        const struct build_graph *g = s->g;
        *ret_busy = false;
        for (size_t i = 0; i < g->n; i++) {
                if (!g->needed[i] || s->state[i] == ST_DONE || s->state[i] == ST_FAILED)
                        continue;
                *ret_busy = true;
                if (s->state[i] != ST_PENDING)
                        continue;
                bool ready = true;
                for (size_t j = 0; j < i && ready; j++)
                        if (g->dep[i * g->n + j] && s->state[j] != ST_DONE)
                                ready = false;
                if (ready)
                        return (int)i;
        }
        return -1;
}

static void *worker(void *arg)
{
        struct build_sched *s = arg;
        struct kiln_error err = { 0 };
        pthread_mutex_lock(&s->lock);
        for (;;) {
                if (build_sched_cancelled(s))
                        break;
                bool busy;
                int i = pick(s, &busy);
                if (i < 0) {
                        if (!busy)
                                break;
                        pthread_cond_wait(&s->changed, &s->lock);
                        continue;
                }
                s->state[i] = ST_RUNNING;
                kiln_error_clear(&err);
                int r = s->fn(s->ud, (size_t)i, &err);
                build_sched_finish(s, (size_t)i, r, &err);
        }
        s->live--;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

/* A signal that ends kiln (Ctrl-C, kill) during the build cancels it: the
 * stages stop, their containers are killed, the build dir is removed. */
static void interrupt(struct build_sched *s, int sig)
{
        pthread_mutex_lock(&s->lock);
        if (!s->have_err && !build_sched_cancelled(s)) {
                s->have_err = true;
                kiln_err(&s->first, -EINTR, "build interrupted by %s", strsignal(sig));
        }
        __atomic_store_n(&s->cancel, true, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
}

int build_sched_run(struct build_sched *s, build_stage_fn fn, void *ud, struct kiln_error *err)
{
        s->fn = fn;
        s->ud = ud;
        size_t n = build_graph_count(s->g);
        if (s->jobs && s->jobs < n)
                n = s->jobs;
        pthread_t *t = kiln_xcalloc(n + 1, sizeof(*t));
        size_t started = 0;
        int r = 0;
        /* the workers (and the helpers they fork) start with these blocked;
         * this thread takes them */
        sigset_t sigs, old;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &sigs, &old);
        for (; started < n; started++) {
                pthread_mutex_lock(&s->lock);
                s->live++;
                pthread_mutex_unlock(&s->lock);
                int e = pthread_create(&t[started], NULL, worker, s);
                if (e) {
                        pthread_mutex_lock(&s->lock);
                        s->live--;
                        pthread_mutex_unlock(&s->lock);
                        if (!started)
                                r = kiln_err(err, -e, "build: start a thread: %s", strerror(e));
                        break;
                }
        }
        for (;;) {
                pthread_mutex_lock(&s->lock);
                size_t live = s->live;
                pthread_mutex_unlock(&s->lock);
                if (!live)
                        break;
                struct timespec tick = { 0, 100 * 1000 * 1000 };
                int sig = sigtimedwait(&sigs, NULL, &tick);
                if (sig > 0 && !sigismember(&old, sig))
                        interrupt(s, sig);
        }
        for (size_t i = 0; i < started; i++)
                pthread_join(t[i], NULL);
        free(t);
        /* one that came after the last look: still the build's end */
        struct timespec zero = { 0, 0 };
        int late;
        while ((late = sigtimedwait(&sigs, NULL, &zero)) > 0)
                if (!sigismember(&old, late) && !s->have_err) {
                        s->have_err = true;
                        kiln_err(&s->first, -EINTR, "build interrupted by %s", strsignal(late));
                }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                return r;
        if (s->have_err) {
                if (err)
                        *err = s->first;
                return s->first.code;
        }
        if (build_sched_cancelled(s))
                return kiln_err(err, -ECANCELED, "build: cancelled");
        for (size_t i = 0; i < s->g->n; i++)
                if (s->g->needed[i] && s->state[i] != ST_DONE)
                        return kiln_err(err, -EIO, "build: stage %zu was not built", i);
        return 0;
}

/* ---- RUN containers, through a helper process ---- */

struct run_result {
        int r;
        int status;
        struct kiln_error err;
};

static int cmp_int(const void *a, const void *b)
{
        return *(const int *)a - *(const int *)b;
}

/* In the helper: close every fd but keep[] (the other stages' pipes, the
 * store's database) */
static void close_others(int *keep, size_t n)
{
        qsort(keep, n, sizeof(*keep), cmp_int);
        unsigned lo = 3;
        for (size_t i = 0; i < n; i++) {
                if (keep[i] < (int)lo)
                        continue;
                if ((unsigned)keep[i] > lo)
                        syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
                lo = (unsigned)keep[i] + 1;
        }
        syscall(SYS_close_range, lo, ~0U, 0);
}

__attribute__((noreturn)) static void helper(int wfd, const char *state_root, const char *id,
                                             const struct kiln_rt_create_opts *co)
{
        int keep[] = { wfd, co->stdin_fd, co->stdout_fd, co->stderr_fd };
        close_others(keep, sizeof(keep) / sizeof(keep[0]));
        /* the stage's thread goes when the build does: so does the helper,
         * and the runtime then kills the container (a forwarded SIGTERM) */
        prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
        struct run_result res = { 0 };
        kiln_rt_delete(state_root, id, true, NULL);
        res.r = kiln_rt_run(state_root, id, co, false, &res.status, &res.err);
        kiln_rt_delete(state_root, id, true, NULL);
        ssize_t w;
        do
                w = write(wfd, &res, sizeof(res));
        while (w < 0 && errno == EINTR);
        _exit(w == (ssize_t)sizeof(res) ? 0 : 1);
}

int build_sched_run_container(struct build_sched *s, const char *state_root, const char *id,
                              const struct kiln_rt_create_opts *co, int *ret_status, struct kiln_error *err)
{
        if (build_sched_cancelled(s))
                return kiln_err(err, -ECANCELED, "build cancelled");
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return kiln_err(err, -errno, "build: pipe: %s", strerror(errno));
        /* no other thread is inside libc's locks while the helper is forked */
        pthread_rwlock_wrlock(&s->forking);
        pid_t pid = fork();
        if (pid == 0)
                helper(p[1], state_root, id, co);
        int fe = errno;
        pthread_rwlock_unlock(&s->forking);
        close(p[1]);
        if (pid < 0) {
                close(p[0]);
                return kiln_err(err, -fe, "build: fork: %s", strerror(fe));
        }

        /* wait without the lock; the helper's result is read by size (other
         * helpers forked meanwhile may hold the pipe's write end as well) */
        pthread_mutex_unlock(&s->lock);
        struct run_result res;
        size_t got = 0;
        bool exited = false, killed = false;
        int ws = 0;
        while (got < sizeof(res)) {
                struct pollfd pfd = { .fd = p[0], .events = POLLIN };
                int pr = poll(&pfd, 1, 100);
                if (pr > 0) {
                        ssize_t n = read(p[0], (char *)&res + got, sizeof(res) - got);
                        if (n > 0) {
                                got += (size_t)n;
                                continue;
                        }
                        if (n == 0 || (errno != EINTR && errno != EAGAIN))
                                break;
                }
                if (exited)
                        break; /* gone, and nothing more came within a poll */
                if (waitpid(pid, &ws, WNOHANG) == pid)
                        exited = true;
                if (!killed && build_sched_cancelled(s)) {
                        /* another stage failed: stop this one's container (it
                         * may not exist yet: try again at the next tick) */
                        pthread_mutex_lock(&s->lock);
                        killed = kiln_rt_kill(state_root, id, SIGKILL, true, NULL) >= 0 ||
                                 kiln_rt_kill(state_root, id, SIGKILL, false, NULL) >= 0;
                        pthread_mutex_unlock(&s->lock);
                }
        }
        close(p[0]);
        if (!exited)
                while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
                        ;
        pthread_mutex_lock(&s->lock);
        if (got < sizeof(res))
                return kiln_err(err, -EIO, "build: the process running the container ended early (%s %d)",
                                WIFSIGNALED(ws) ? "signal" : "exit code",
                                WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
        if (res.r < 0) {
                if (err)
                        *err = res.err;
                return res.r;
        }
        *ret_status = res.status;
        return 0;
}
