/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build: the stage graph and the scheduler that builds independent
 * stages at once (lib/build/stages.c, lib/build/parallel.c). See
 * docs/internals/build.md ("Stages in parallel").
 */
#pragma once

#include <jansson.h>
#include "kiln/base.h"
#include "kiln/dockerfile.h"
#include "kiln/runtime.h"

/* ---- the stage graph (stages.c): pure, no I/O ---- */

/*
 * The stage of that name (AS names compare case-insensitively) or index
 * among stages[0 .. before), or -1.
 */
int build_find_stage(const struct kiln_dockerfile *df, const char *name, size_t before);

/*
 * Which stage needs which, known before anything runs: the stage a FROM
 * names (its base expanded with the global ARGs), COPY/ADD --from (never
 * expanded, as BuildKit), RUN --mount from= (expanded with the stage's
 * ARGs and ENVs as written in the Dockerfile, ENVs of an earlier stage it
 * is FROM included, those of a base image not). A dependency named in a
 * way this cannot see (a base image's ENV, an ONBUILD trigger) is found by
 * the executor when it gets there, as before.
 */
struct build_graph {
        size_t n;
        bool *dep;    /* n * n: dep[i * n + j]: stage i needs stage j (j < i) */
        bool *reach;  /* n * n: i needs j directly or through others */
        bool *needed; /* n: the target and what it needs */
};

/*
 * Make the graph of df for target. meta_args: the global ARGs after
 * --build-arg (name -> string or null); build_args: --build-arg (name ->
 * string). Never fails on a Dockerfile the executor would reject later: an
 * expansion error just leaves that edge out. Free with build_graph_free.
 */
void build_graph_make(const struct kiln_dockerfile *df, json_t *meta_args, json_t *build_args, size_t target,
                      struct build_graph *g);
void build_graph_free(struct build_graph *g);
/* Can two needed stages run at once (neither needs the other)? */
bool build_graph_parallel(const struct build_graph *g);
/* How many stages are needed. */
size_t build_graph_count(const struct build_graph *g);

/* ---- the scheduler (parallel.c) ---- */

/*
 * Builds the needed stages on up to `jobs` threads, each as soon as the
 * stages it needs are done. The executor's code runs under one lock (the
 * scheduler's "big lock"), which a stage lets go of only where it waits
 * or works without touching shared state: while a RUN's container runs,
 * while a layer is tarred and compressed, while it waits for a cache
 * mount's lock. So the build's shared state (the store handle, the list
 * of layers, step counters, progress lines, the error) needs no lock of
 * its own.
 *
 * The first stage to fail wins: its error is the build's, every other
 * stage stops at its next step, and a RUN container still running is
 * killed (SIGKILL to all its processes) and removed.
 */
struct build_sched;

/* A stage body: called with the lock held; err is the thread's own. */
typedef int (*build_stage_fn)(void *ud, size_t idx, struct kiln_error *err);

struct build_sched *build_sched_new(const struct build_graph *g, unsigned jobs);
void build_sched_free(struct build_sched *s);

/*
 * Run the needed stages on the threads (the calling thread only waits).
 * 0 when all succeeded; else the first failure's code, with its message
 * in err.
 */
int build_sched_run(struct build_sched *s, build_stage_fn fn, void *ud, struct kiln_error *err);

/* The big lock, for a stage that waits or works on its own data. */
void build_sched_lock(struct build_sched *s);
void build_sched_unlock(struct build_sched *s);
/* Has a stage failed (so the others stop)? Any thread, lock or not. */
bool build_sched_cancelled(struct build_sched *s);

/*
 * A stage reached a stage it needs that the graph did not show (or that
 * another thread is building): 1 when the caller is to build it now
 * (marked running; call build_sched_finish after), 0 when it is done
 * (after waiting for the thread building it), -ECANCELED when it failed or
 * the build was cancelled. Called with the lock held.
 */
int build_sched_claim(struct build_sched *s, size_t idx);
/* A claimed stage ended with r (its error in err when r < 0). */
void build_sched_finish(struct build_sched *s, size_t idx, int r, const struct kiln_error *err);

/*
 * Work outside the lock that may take libc's internal locks (malloc,
 * dlopen): no helper process is forked meanwhile (see
 * build_sched_run_container). Call without the big lock.
 */
void build_sched_work_begin(struct build_sched *s);
void build_sched_work_end(struct build_sched *s);

/*
 * kiln_rt_run for a stage thread: the runtime clones its container init,
 * which must not happen while other threads may hold libc's locks, and it
 * waits for SIGCHLD, which in a process with threads any of them may
 * take. So a helper process is forked (with the lock held and no other
 * thread working) and runs the container as the single-threaded build
 * did; the stage waits for it without the lock. When the build is
 * cancelled meanwhile, the container is killed. Called with the lock held;
 * returns with it held (the caller's err pointer stays its own).
 */
int build_sched_run_container(struct build_sched *s, const char *state_root, const char *id,
                              const struct kiln_rt_create_opts *co, int *ret_status, struct kiln_error *err);
