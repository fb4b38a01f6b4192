/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln-init: a minimal init for containers (`kiln run --init`), in the
 * manner of tini (docker's --init). kiln bind-mounts it read-only at
 * /dev/init and runs `/dev/init -- CMD ARGS...` as the container's PID 1.
 *
 * It
 *   - spawns CMD as its only child, in a process group of its own that
 *     becomes the terminal's foreground group when stdin is a terminal;
 *   - forwards every signal it receives (but SIGCHLD) to the child, or to
 *     the child's process group with -g;
 *   - reaps every process that ends up as its child (orphans reparented
 *     to PID 1), so no zombies pile up;
 *   - exits, once the child has exited, with its exit code, or 128+N when
 *     signal N ended it (127 / 126 when CMD is not found / cannot run).
 *
 * Statically linked: it runs inside any image, with or without a libc.
 * No dynamic allocation. When not PID 1 it makes itself a child
 * subreaper so orphans still come to it.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define NAME "kiln-init"

static void usage(FILE *f)
{
        fputs("Usage: " NAME " [-g] [--] COMMAND [ARG...]\n\n"
              "Run COMMAND as the child of a minimal init: signals are forwarded to it,\n"
              "zombies are reaped, and the exit status is COMMAND's (128+N on signal N).\n\n"
              "Options:\n"
              "  -g          Forward signals to the child's process group\n"
              "  -h, --help  Show this help\n",
              f);
}

/* Synchronous signals stay unblocked: they are about this process's own faults. */
static const int sync_signals[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS };

/* In the child: own process group, the terminal's foreground, the
 * caller's signal mask and dispositions, then exec. Never returns. */
static void child_exec(char **argv, const sigset_t *orig_mask, const struct sigaction *orig_ttin,
                       const struct sigaction *orig_ttou)
{
        if (setpgid(0, 0) < 0)
                fprintf(stderr, NAME ": setpgid: %s\n", strerror(errno));
        /* SIGTTOU is ignored here still, so a background group may take the terminal */
        if (tcsetpgrp(STDIN_FILENO, getpgrp()) < 0 && errno != ENOTTY && errno != ENXIO &&
            errno != EBADF)
                fprintf(stderr, NAME ": tcsetpgrp: %s\n", strerror(errno));
        sigaction(SIGTTIN, orig_ttin, NULL);
        sigaction(SIGTTOU, orig_ttou, NULL);
        sigprocmask(SIG_SETMASK, orig_mask, NULL);
        execvp(argv[0], argv);
        int e = errno;
        fprintf(stderr, NAME ": exec %s: %s\n", argv[0], strerror(e));
        /* as a shell (and tini): 127 not found, 126 found but not runnable */
        _exit(e == ENOENT || e == ENOTDIR ? 127 : e == EACCES || e == ENOEXEC || e == EPERM ? 126 : 1);
}

/* Reap everything that has exited; returns true once the child is among them. */
static bool reap(pid_t child, int *status)
{
        bool child_gone = false;
        for (;;) {
                int st;
                pid_t p = waitpid(-1, &st, WNOHANG);
                if (p > 0) {
                        if (p == child) {
                                *status = st;
                                child_gone = true;
                        }
                        continue;
                }
                if (p < 0 && errno == EINTR)
                        continue;
                if (p < 0 && errno != ECHILD)
                        fprintf(stderr, NAME ": waitpid: %s\n", strerror(errno));
                return child_gone;
        }
}

int main(int argc, char **argv)
{
        bool group = false;
        int i = 1;
        for (; i < argc && argv[i][0] == '-'; i++) {
                if (!strcmp(argv[i], "--")) {
                        i++;
                        break;
                }
                if (!strcmp(argv[i], "-g")) {
                        group = true;
                } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                } else {
                        fprintf(stderr, NAME ": unknown option '%s'\n", argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        if (i >= argc) {
                fputs(NAME ": no command given\n", stderr);
                usage(stderr);
                return 2;
        }
        char **cmd = argv + i;

        if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
                fprintf(stderr, NAME ": warning: not PID 1 and cannot become a subreaper: %s\n",
                        strerror(errno));

        /* every signal but the synchronous ones is blocked and taken with
         * sigwaitinfo; a PID 1 without handlers would otherwise drop them */
        sigset_t wait_set, orig_mask;
        sigfillset(&wait_set);
        for (size_t k = 0; k < sizeof(sync_signals) / sizeof(sync_signals[0]); k++)
                sigdelset(&wait_set, sync_signals[k]);
        sigdelset(&wait_set, SIGTTIN);
        sigdelset(&wait_set, SIGTTOU);
        if (sigprocmask(SIG_SETMASK, &wait_set, &orig_mask) < 0) {
                fprintf(stderr, NAME ": sigprocmask: %s\n", strerror(errno));
                return 1;
        }
        /* ignored so the child may take the terminal's foreground */
        struct sigaction ign = { .sa_handler = SIG_IGN }, orig_ttin, orig_ttou;
        sigemptyset(&ign.sa_mask);
        if (sigaction(SIGTTIN, &ign, &orig_ttin) < 0 || sigaction(SIGTTOU, &ign, &orig_ttou) < 0) {
                fprintf(stderr, NAME ": sigaction: %s\n", strerror(errno));
                return 1;
        }

        pid_t child = fork();
        if (child < 0) {
                fprintf(stderr, NAME ": fork: %s\n", strerror(errno));
                return 1;
        }
        if (child == 0)
                child_exec(cmd, &orig_mask, &orig_ttin, &orig_ttou);

        int status = 0;
        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&wait_set, &si);
                if (sig < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, NAME ": sigwaitinfo: %s\n", strerror(errno));
                        return 1;
                }
                if (sig == SIGCHLD) {
                        if (reap(child, &status))
                                break;
                        continue;
                }
                /* forward; the child may be gone already and not yet reaped */
                if (kill(group ? -child : child, sig) < 0 && errno != ESRCH)
                        fprintf(stderr, NAME ": forward signal %d: %s\n", sig, strerror(errno));
        }
        /* reap what else has exited meanwhile; the kernel ends the rest of
         * the PID namespace when PID 1 exits */
        int unused;
        reap(child, &unused);
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return 1;
}
