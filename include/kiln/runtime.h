/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime: OCI runtime-spec generation (image config + run flags ->
 * config.json) and an OCI runtime with runc's lifecycle (create, start,
 * state, kill, delete, run, exec) that consumes a bundle.
 *
 * Layering: kiln's containers (lib/container, `kiln run`) make a bundle with
 * kiln_spec_generate(), then drive it with the kiln_rt_* functions; the
 * same functions back `kiln runtime ...`, the runc-compatible command line
 * that podman, containerd or a user can call directly.
 */
#pragma once

#include <jansson.h>
#include <sys/types.h>
#include "kiln/base.h"

/* ------------------------------------------------------------------ */
/* Spec generation                                                     */
/* ------------------------------------------------------------------ */

/* One -v/--mount/--tmpfs request, already resolved to host paths. */
struct kiln_mount_req {
        char *type;        /* "bind" or "tmpfs" (volumes arrive as bind) */
        char *source;      /* host path for bind; NULL for tmpfs */
        char *destination; /* absolute path in the container */
        bool readonly;
        char **options;    /* extra mount options (NULL-terminated), may be NULL:
                            * e.g. "size=64m", "mode=1777", "rprivate", "nosuid" */
};

/* One uid or gid mapping range (user namespaces). */
struct kiln_id_map {
        uint32_t container_id;
        uint32_t host_id;
        uint32_t size;
};

enum kiln_netns_mode {
        KILN_NETNS_PRIVATE = 0, /* a new network namespace (bridge/none/pasta decide what is in it) */
        KILN_NETNS_HOST,        /* the host's */
        KILN_NETNS_PATH,        /* join netns_path */
};

/*
 * Everything `kiln run` flags say about the container's spec. Strings and
 * vectors are borrowed (owned by the caller); NULL means "not given".
 */
struct kiln_run_opts {
        const char *id;          /* container ID (hex), used for cgroupsPath and hostname */
        char *const *env;        /* -e/--env-file entries "K=V" (a bare "K" is resolved by the
                                  * caller from its environment before this point) */
        const char *workdir;     /* -w */
        const char *user;        /* -u user[:group], names resolved in the rootfs */
        char *const *entrypoint; /* --entrypoint: NULL = image's; an empty vector or {""} = none */
        char *const *cmd;        /* arguments after the image: NULL = image's CMD */
        const char *hostname;    /* -h; NULL: the first 12 characters of id */
        bool read_only;          /* --read-only root */
        bool tty;                /* -t: process.terminal */
        bool privileged;
        char *const *cap_add;    /* names with or without "CAP_", or "ALL" */
        char *const *cap_drop;
        bool no_new_privileges;
        const char *seccomp;     /* NULL: default profile; "unconfined"; or a path to OCI or
                                  * Docker-format seccomp JSON */
        int64_t memory;          /* bytes; 0: no limit */
        int64_t memory_swap;     /* memory+swap bytes; 0: not set; -1: unlimited */
        double cpus;             /* 0: no quota */
        uint64_t cpu_shares;     /* 0: not set */
        int64_t pids_limit;      /* 0: not set; -1: unlimited */
        const struct kiln_mount_req *mounts;
        size_t n_mounts;
        enum kiln_netns_mode netns;
        const char *netns_path;  /* for KILN_NETNS_PATH */
        bool userns;             /* a user namespace with the maps below */
        const struct kiln_id_map *uid_maps;
        size_t n_uid_maps;
        const struct kiln_id_map *gid_maps;
        size_t n_gid_maps;
        const char *cgroup_parent; /* default "kiln" */
        char *const *annotations;  /* "k=v" */
        bool rootless;            /* running without root: no cgroups unless delegated,
                                   * sysfs bind-mounted, no device nodes made */
};

/*
 * Build an OCI runtime-spec (1.0.2) document for a container:
 *   image_config: the image config's "config" object (Env, Cmd, Entrypoint,
 *                 WorkingDir, User, Volumes, StopSignal, ...) or NULL;
 *   rootfs:       the container's root filesystem on the host, read (never
 *                 written) to resolve user and group names in /etc/passwd
 *                 and /etc/group; the spec's root.path is set to it.
 * The result follows Docker's defaults point by point: namespaces (mount,
 * pid, uts, ipc, net, cgroup; user when asked), Docker's default capability
 * set, its default seccomp profile, masked and read-only paths, /proc, /dev
 * (tmpfs), /dev/pts, /dev/shm, /dev/mqueue, /sys (ro), default rlimits
 * capped at the caller's hard limits, PATH defaulting to Docker's, and
 * HOME from the user's passwd entry. Docker's rules for ENTRYPOINT/CMD:
 * --entrypoint resets the image's CMD, given args replace CMD.
 * Errors: -KILN_EFORMAT / -KILN_ENOTFOUND with a message
 * ("unable to find user app: no matching entries in passwd file"), or
 * -EINVAL "no command specified" when the result has no args.
 * Caller owns *ret_spec (json_decref).
 */
int kiln_spec_generate(json_t *image_config, const struct kiln_run_opts *opts,
                       const char *rootfs, json_t **ret_spec, struct kiln_error *err);

/* Docker's default capability set, as "CAP_*" names (static, NULL-terminated). */
const char *const *kiln_spec_default_caps(void);
/* All capabilities the running kernel knows, as "CAP_*" (static, NULL-terminated). */
const char *const *kiln_spec_all_caps(void);

/*
 * Docker's default seccomp profile as an OCI linux.seccomp object for the
 * host architecture, given the capability set the process will have (some
 * syscalls are allowed only with CAP_SYS_ADMIN, CAP_SYS_PTRACE, ...).
 */
json_t *kiln_spec_default_seccomp(char *const *caps);

/*
 * Read a seccomp profile file: OCI (linux.seccomp: defaultAction,
 * architectures, syscalls[].names/action/args) or Docker's format
 * (defaultAction, archMap, syscalls[].names/includes/excludes). Returns an
 * OCI linux.seccomp object.
 */
int kiln_spec_load_seccomp(const char *path, char *const *caps, json_t **ret,
                           struct kiln_error *err);

/* A minimal spec like `runc spec` / `crun spec` (sh in ./rootfs, terminal). */
json_t *kiln_spec_example(bool rootless);

/* ------------------------------------------------------------------ */
/* The OCI runtime (runc's lifecycle)                                  */
/* ------------------------------------------------------------------ */

/*
 * State lives in STATE_ROOT/<id>/state.json (runc keeps /run/runc; kiln's
 * default is /run/kiln/runtime as root, $XDG_RUNTIME_DIR/kiln/runtime
 * otherwise). IDs: [A-Za-z0-9][A-Za-z0-9_.-]{0,1023}.
 */
char *kiln_rt_default_state_root(void);

struct kiln_rt_create_opts {
        const char *bundle;          /* directory with config.json; NULL = cwd */
        const char *pid_file;        /* write the container's init pid there */
        const char *console_socket;  /* AF_UNIX path: send the pty master (SCM_RIGHTS) */
        int preserve_fds;            /* pass fds 3..3+n-1 to the process */
        /* stdio of the container process; -1 = inherit the caller's */
        int stdin_fd, stdout_fd, stderr_fd;
        bool no_pivot;               /* MS_MOVE + chroot instead of pivot_root */
        bool no_new_keyring;
        /* kiln_rt_run: SIGINT, SIGTERM, SIGHUP or SIGQUIT to the caller kill
         * the container (SIGKILL) and kiln_rt_run fails with -EINTR, instead
         * of being forwarded (a build's RUN: Ctrl-C ends the build even when
         * the container's PID 1 ignores it) */
        bool kill_on_signal;
};
#define KILN_RT_CREATE_OPTS_INIT { NULL, NULL, NULL, 0, -1, -1, -1, false, false, false }

/*
 * Create the container: namespaces, cgroup, rootfs, everything up to the
 * execve of process.args, then wait until kiln_rt_start(). Returns when the
 * container is "created"; its init is a child of the caller (set
 * PR_SET_CHILD_SUBREAPER before, to keep it when the caller's parent must
 * reap it). *ret_pid (may be NULL) gets the init's host pid.
 */
int kiln_rt_create(const char *state_root, const char *id,
                   const struct kiln_rt_create_opts *opts, pid_t *ret_pid,
                   struct kiln_error *err);

/*
 * Optional, for callers about to create a container: start paying, in a
 * background thread, the RCU grace period the kernel makes the first move of
 * a process into a cgroup wait for (5-20 ms), so that it overlaps with the
 * caller's own work before kiln_rt_create. Changes no cgroup membership (it
 * moves this process to the cgroup it is already in). Root only; a no-op when
 * called again. kiln_rt_create/exec join the thread before they clone or fork;
 * a caller that forks first must call kiln_rt_cgroup_warm_done() before.
 */
void kiln_rt_cgroup_warm(void);
void kiln_rt_cgroup_warm_done(void);

/* Let a created container execve its process. */
int kiln_rt_start(const char *state_root, const char *id, struct kiln_error *err);

/*
 * create + start, then wait: *ret_status gets the exit status in
 * Docker's terms (the code, or 128+N for signal N). With detach, return
 * once started (the caller reaps).
 */
int kiln_rt_run(const char *state_root, const char *id, const struct kiln_rt_create_opts *opts,
                bool detach, int *ret_status, struct kiln_error *err);

/* runtime-spec state: ociVersion, id, status (creating|created|running|
 * stopped), pid, bundle, annotations. Caller owns *ret. */
int kiln_rt_state(const char *state_root, const char *id, json_t **ret, struct kiln_error *err);

/* Signal the init process (all: every process in the container's cgroup). */
int kiln_rt_kill(const char *state_root, const char *id, int sig, bool all,
                 struct kiln_error *err);

/* Remove a stopped container's state and cgroup; force: kill it first. */
int kiln_rt_delete(const char *state_root, const char *id, bool force, struct kiln_error *err);

struct kiln_rt_exec_opts {
        json_t *process;            /* an OCI process object (args, env, cwd, user, terminal,
                                     * capabilities, noNewPrivileges, ...) */
        const char *console_socket;
        const char *pid_file;
        int stdin_fd, stdout_fd, stderr_fd;
        bool detach;
};

/* Run a process inside a running container: join all its namespaces and
 * its cgroup, apply the process's user, caps, seccomp. *ret_status as for
 * kiln_rt_run (not set with detach). */
int kiln_rt_exec(const char *state_root, const char *id, const struct kiln_rt_exec_opts *opts,
                 int *ret_status, struct kiln_error *err);

/* IDs of the containers under state_root (NULL-terminated, caller frees). */
int kiln_rt_list(const char *state_root, char ***ret, struct kiln_error *err);

/* Host pids of the container's processes (from its cgroup). */
int kiln_rt_pids(const char *state_root, const char *id, pid_t **ret, size_t *ret_n,
                 struct kiln_error *err);

/* `runc features`-style JSON describing what this runtime supports. */
json_t *kiln_rt_features(void);

/* Parse a signal name or number ("TERM", "SIGKILL", "9"); -EINVAL if bad. */
int kiln_signal_parse(const char *s);
/* Exit status in Docker's terms from a waitpid() status. */
int kiln_wait_status_to_exit(int wstatus);
