/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interfaces between the parts of lib/runtime:
 *   spec.c, seccomp_profile.c  spec generation, default seccomp profile
 *   seccomp.c                  loading an OCI linux.seccomp object (libseccomp)
 *   cgroup.c                   cgroup v1 (and hybrid) and v2 management
 *   rootfs.c                   mounts, devices, pivot_root, masked/readonly paths
 *   rt.c, process.c, caps.c    the lifecycle (create/start/state/kill/delete/run/exec),
 *                              the container init, capabilities
 */
#pragma once

#include <jansson.h>
#include <sys/types.h>
#include "kiln/base.h"
#include "kiln/runtime.h"

/* ---- seccomp.c ---- */

struct sock_filter;

/* A compiled seccomp filter: a classic BPF program for seccomp(2). */
struct kiln_seccomp_prog {
        struct sock_filter *filter; /* n instructions */
        size_t n;
        unsigned flags;             /* SECCOMP_FILTER_FLAG_* of the object's flags */
        bool from_cache;            /* read from the cache rather than compiled */
};

/*
 * Compile an OCI linux.seccomp object (defaultAction, defaultErrnoRet,
 * architectures, flags, syscalls[].names/action/errnoRet/args) with
 * libseccomp into a BPF program. Unknown syscall names are skipped (as runc
 * does); an unknown action is an error; SCMP_ACT_NOTIFY is not supported.
 * *ret is NULL for a NULL or json null object.
 *
 * With cache_dir (STATE_ROOT/.seccomp-cache; made 0700), a program compiled
 * earlier is read from cache_dir/<hex>.bpf instead, hex being the sha256 of
 * the canonical JSON of the object, the native architecture, the libseccomp
 * version and the kernel release. A cache file that is not a regular file
 * owned by the caller (a symlink, say) or whose length is not whole
 * instructions is ignored and replaced (kiln_fs_write_replace, 0600).
 * Caller frees *ret with kiln_seccomp_prog_free.
 */
int kiln_seccomp_compile(json_t *seccomp, const char *cache_dir, struct kiln_seccomp_prog **ret,
                         struct kiln_error *err);
/*
 * Install a compiled program in the calling thread (all threads with
 * TSYNC) with seccomp(2), with its flags; prog NULL installs nothing. Needs
 * no_new_privs or CAP_SYS_ADMIN; no libseccomp call, no allocation.
 */
int kiln_seccomp_install(const struct kiln_seccomp_prog *prog, struct kiln_error *err);
void kiln_seccomp_prog_free(struct kiln_seccomp_prog *prog);
KILN_DEFINE_CLEANUP(struct kiln_seccomp_prog *, kiln_seccomp_prog_free)
/* The cache directory below a runtime state root (caller frees). */
char *kiln_seccomp_cache_dir(const char *state_root);

/*
 * Compile (no cache) and install in one go, for callers that load a filter
 * into themselves. Must run after no_new_privs is set or with CAP_SYS_ADMIN.
 */
int kiln_seccomp_load(json_t *seccomp, struct kiln_error *err);

/* ---- cgroup.c ---- */

struct kiln_cgroup;

/* 2 when /sys/fs/cgroup is cgroup2 (unified), 1 for v1 or hybrid. */
int kiln_cgroup_mode(void);

/*
 * Create (or reuse) the cgroup at path — the spec's linux.cgroupsPath, an
 * absolute path below each hierarchy's root such as "/kiln/<id>" — in every
 * controller kiln uses (v1: memory, cpu, cpuacct, pids, devices, freezer,
 * blkio, cpuset — the ones mounted; v2: the unified tree with the needed
 * controllers enabled in the parents' cgroup.subtree_control) and apply
 * resources (the spec's linux.resources, may be NULL): memory.limit,
 * memory.swap (memory+swap as in the spec), memory.reservation,
 * cpu.shares/quota/period, pids.limit, blockIO weight. v1 cpuset.cpus/mems
 * are copied from the parent when empty. Caller frees with kiln_cgroup_free.
 */
int kiln_cgroup_create(const char *path, json_t *resources, struct kiln_cgroup **ret,
                       struct kiln_error *err);
/* Open an existing container cgroup (exec, kill --all, stats, delete). */
int kiln_cgroup_open(const char *path, struct kiln_cgroup **ret, struct kiln_error *err);
/* Move pid into the cgroup (every hierarchy). */
int kiln_cgroup_enter(struct kiln_cgroup *cg, pid_t pid, struct kiln_error *err);
/* Pids in the cgroup (v1: the memory or pids hierarchy). Caller frees. */
int kiln_cgroup_pids(struct kiln_cgroup *cg, pid_t **ret, size_t *ret_n);
/* Send sig to every process in the cgroup (freezing first where possible). */
int kiln_cgroup_signal_all(struct kiln_cgroup *cg, int sig);

struct kiln_cgroup_stats {
        int64_t memory_usage;     /* bytes, -1 unknown */
        int64_t memory_limit;     /* bytes, -1 unlimited/unknown */
        uint64_t cpu_usage_ns;
        int64_t pids_current;
        int64_t pids_limit;       /* -1 max */
        uint64_t oom_kills;       /* processes the OOM killer killed in this cgroup */
        uint64_t blkio_read_bytes, blkio_write_bytes;
        /* page cache that may be reclaimed first: memory.stat's inactive_file
         * (v2) or total_inactive_file (v1); docker leaves it out of "usage" */
        uint64_t memory_inactive_file;
};
int kiln_cgroup_stats(struct kiln_cgroup *cg, struct kiln_cgroup_stats *ret);
/* Remove the cgroup directories (must be empty of processes; waits briefly). */
int kiln_cgroup_destroy(struct kiln_cgroup *cg, struct kiln_error *err);
void kiln_cgroup_free(struct kiln_cgroup *cg);
/* Join the thread kiln_rt_cgroup_warm() started, if this process has one;
 * before any fork or clone. */
void kiln_cgroup_warm_wait(void);
KILN_DEFINE_CLEANUP(struct kiln_cgroup *, kiln_cgroup_free)
/*
 * Tests only: treat v2_root (a cgroup2 mount, e.g. /sys/fs/cgroup/unified on
 * a hybrid host) as the root of a pure cgroup v2 system, so the v2 code can
 * run where /sys/fs/cgroup is v1. NULL restores detection. Not thread-safe.
 */
void kiln_cgroup_set_v2_root_for_tests(const char *v2_root);

/* ---- rootfs.c ---- */

/*
 * Called by the container init inside its new mount namespace (and user
 * namespace, if any), with the bundle as cwd: make the mount tree private
 * (or linux.rootfsPropagation), bind root.path onto itself, mount
 * spec.mounts in order inside it (every destination resolved inside the
 * rootfs, symlinks in the rootfs cannot lead out), create /dev nodes
 * (linux.devices plus the defaults null, zero, full, random, urandom, tty,
 * ptmx -> pts/ptmx; bind-mounted from the host in a user namespace),
 * /dev/fd, /dev/stdin, /dev/stdout, /dev/stderr links, then pivot_root
 * (MS_MOVE + chroot when no_pivot) and chdir("/").
 */
int kiln_rootfs_prepare(json_t *spec, bool no_pivot, struct kiln_error *err);

/*
 * After prepare, still as root in the container: linux.readonlyPaths
 * (bind + remount ro), linux.maskedPaths (/dev/null over files, an empty
 * read-only tmpfs over directories), root.readonly (remount / ro), and
 * linux.sysctl.
 */
int kiln_rootfs_finalize(json_t *spec, struct kiln_error *err);

/* ---- caps.c ---- */

/* Apply process.capabilities (bounding, effective, inheritable, permitted,
 * ambient) by name. Call after switching user with PR_SET_KEEPCAPS. */
int kiln_caps_apply(json_t *capabilities, struct kiln_error *err);
/* Capability name ("CAP_CHOWN" or "chown") to number; -1 if unknown. */
int kiln_cap_from_name(const char *name);
