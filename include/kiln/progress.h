/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build --progress: the step lines and RUN output of a build
 * (lib/build/progress.c). Thread-safe: stages built in parallel report
 * through one object; every line is written whole with one write(2) and
 * names its step ("#N ..."), so lines of two stages never mix.
 *
 *  plain  "#N [STAGE i/n] INSTRUCTION[ CACHED]" when a step starts, its
 *         output as "#N LINE" as it comes, "#N DONE 1.2s" (or "#N ERROR
 *         1.2s") when it ends (cached steps have no end line).
 *  tty    a live view redrawn in place: each running step with its elapsed
 *         time ticking and the last lines of its output; a finished step
 *         collapses to one line with its time; a failed step's whole output
 *         is printed below its line.
 *  quiet  nothing.
 */
#pragma once

#include "kiln/base.h"

enum kiln_progress_mode {
        KILN_PROGRESS_QUIET,
        KILN_PROGRESS_PLAIN,
        KILN_PROGRESS_TTY,
};

struct kiln_progress;

/* "auto", "plain", "tty", "quiet" (and docker's "rawjson" is refused).
 * auto is tty when fd is a terminal, else plain. -EINVAL for others. */
int kiln_progress_mode_parse(const char *s, int fd, enum kiln_progress_mode *ret);

/* A reporter writing to fd (borrowed). tty mode starts a thread that
 * redraws the view every 100 ms while a step runs. */
struct kiln_progress *kiln_progress_new(enum kiln_progress_mode mode, int fd);
/* Stop the ticker, clear the live view (tty); NULL is fine. */
void kiln_progress_free(struct kiln_progress *p);
KILN_DEFINE_CLEANUP(struct kiln_progress *, kiln_progress_free)

enum kiln_progress_mode kiln_progress_get_mode(const struct kiln_progress *p);

/* Step number n (unique in the build) starts: "[stage i/total] text". A
 * cached step is finished at once. */
void kiln_progress_step_begin(struct kiln_progress *p, unsigned n, const char *stage, size_t i, size_t total,
                              const char *text, bool cached);
/* Output of step n (bytes as they come; lines are cut at '\n'). */
void kiln_progress_step_output(struct kiln_progress *p, unsigned n, const char *data, size_t len);
/* Step n ended: ok, or failed (tty: its whole output is printed). */
void kiln_progress_step_end(struct kiln_progress *p, unsigned n, bool ok);

/*
 * A pipe for a process's stdout/stderr whose output becomes step n's: a
 * thread reads it. *ret_wfd is the write end (O_CLOEXEC) for the child;
 * kiln_progress_pipe_close() closes it and waits until everything written
 * was read (call it after the process and its children are gone).
 * 0 or -errno.
 */
int kiln_progress_pipe_open(struct kiln_progress *p, unsigned n, int *ret_wfd);
void kiln_progress_pipe_close(struct kiln_progress *p, unsigned n);

/* A whole line of its own (warnings), "\n" added when missing. */
void kiln_progress_message(struct kiln_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
