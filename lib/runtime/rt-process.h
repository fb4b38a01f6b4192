/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the lifecycle (rt.c, process.c, caps.c): the sync protocol
 * between the runtime and the container's init, the setup of the container
 * process that create and exec share, hooks, the console and the terminal
 * copy loop.
 */
#pragma once

#include <jansson.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#include "runtime-internal.h"

/* ---- sync messages on a SOCK_SEQPACKET pair (one message a datagram) ---- */

enum {
        KILN_SYNC_GO = 1, /* runtime -> init: carry on (value: init's host pid) */
        KILN_SYNC_READY,  /* init -> runtime: set up, waiting on the exec fifo */
        KILN_SYNC_ERROR,  /* init -> runtime: msg says what failed; value: -errno */
        KILN_SYNC_PID,    /* exec helper -> runtime: value is the process's pid */
};

struct kiln_sync_msg {
        int32_t type;
        int32_t value;
        char msg[KILN_ERROR_MAX];
};

int kiln_sync_send(int fd, int type, int value, const char *msg);
/* 1 with a message, 0 at EOF (peer closed or exec'd), -errno. */
int kiln_sync_recv(int fd, struct kiln_sync_msg *ret);
/* Child side: send err as a KILN_SYNC_ERROR and _exit(1). */
__attribute__((noreturn)) void kiln_sync_fail(int fd, const struct kiln_error *err);

/* ---- the container process (child side; never returns errors to a user
 * directly: they travel over the sync socket) ---- */

/* Unblock every signal and set every disposition back to the default. */
void kiln_proc_reset_signals(void);
/* Mark every fd >= from close-on-exec (CVE-2024-21626: no host fd may reach
 * the container process). */
int kiln_proc_cloexec_from(int from);
/* dup2 the given fds (-1: keep) onto 0, 1, 2. */
int kiln_proc_setup_stdio(const int fds[3], struct kiln_error *err);
/* process.rlimits; never above the hard limit unless CAP_SYS_RESOURCE allows. */
int kiln_proc_rlimits(json_t *process, struct kiln_error *err);
/* process.oomScoreAdj */
int kiln_proc_oom_score(json_t *process, struct kiln_error *err);
/* process.terminal: open a pty from the current /dev/ptmx, make its slave the
 * controlling tty and stdio, send the master over sock (SCM_RIGHTS). */
int kiln_proc_setup_console(int sock, json_t *process, struct kiln_error *err);

/*
 * User, capabilities, cwd, no_new_privs and seccomp, in that safe order:
 * without noNewPrivileges the filter (compiled by the runtime before the
 * fork, see kiln_seccomp_compile; may be NULL) is installed first, while
 * CAP_SYS_ADMIN is still held; with it, installing is left to
 * kiln_proc_exec (as late as possible). *ret_path gets args[0] resolved
 * through the process's PATH.
 */
int kiln_proc_finalize(json_t *process, const struct kiln_seccomp_prog *seccomp, char **ret_path,
                       struct kiln_error *err);
/* Install the filter left pending by finalize (if any) and execve. On
 * failure print "exec failed: ..." to stderr and _exit(127 or 126). */
__attribute__((noreturn)) void kiln_proc_exec(json_t *process, const struct kiln_seccomp_prog *seccomp,
                                              const char *path);

/* Resolve args[0] through PATH from env ("K=V" entries). */
int kiln_proc_find_exec(const char *arg0, json_t *env, char **ret, struct kiln_error *err);

/* ---- hooks ---- */

/* Run the hooks of one kind (hooks.<kind>, an array, may be NULL) with state
 * on stdin, each within its timeout. */
int kiln_hooks_run(json_t *hooks, const char *kind, const char *state, struct kiln_error *err);

/* ---- fds over sockets ---- */
int kiln_send_fd(int sock, int fd, const char *name);
int kiln_recv_fd(int sock, int *ret_fd);

/* ---- waiting ---- */

/* The signals run and exec forward to the container while waiting. */
void kiln_rt_forward_sigset(sigset_t *set);

/*
 * Wait for pid (a child of the caller) to exit, forwarding the signals of
 * kiln_rt_forward_sigset() to it; those signals (and SIGCHLD) must be
 * blocked by the caller. With master >= 0, also copy between the caller's
 * stdin/stdout and the pty master, with the caller's terminal in raw mode
 * and SIGWINCH copying its size. *ret_wstatus gets the waitpid() status.
 * This is the loop `kiln run -it` uses.
 */
int kiln_rt_tty_proxy(pid_t pid, int master, int *ret_wstatus, int *kill_signal, struct kiln_error *err);

/* ---- caps.c ---- */
const char *kiln_cap_name(int c);

/*
 * setgroups/setresgid/setresuid as bare system calls, for the container's
 * processes. glibc's wrappers change the credentials of every thread of
 * the process by signalling the threads on its list and waiting for them;
 * in a child made by a raw clone(2) of a multi-threaded parent (kiln
 * build's progress reader, parallel stages) that list names the parent's
 * threads, which do not exist there, and the wait never ends. The child
 * has one thread, so the bare call is the same change.
 */
static inline int rt_setgroups(size_t n, const gid_t *groups)
{
        return (int)syscall(SYS_setgroups, n, groups);
}

static inline int rt_setresgid(gid_t r, gid_t e, gid_t s)
{
        return (int)syscall(SYS_setresgid, r, e, s);
}

static inline int rt_setresuid(uid_t r, uid_t e, uid_t s)
{
        return (int)syscall(SYS_setresuid, r, e, s);
}
