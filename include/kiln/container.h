/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln's containers: a writable instance of an image.
 *
 *   ROOT/containers/<id>/upper, work   the overlay's own layers
 *   ROOT/containers/<id>/rootfs        the overlay mount (lowerdirs: the
 *                                      image's unpacked layers in the store)
 *   ROOT/containers/<id>/config.json   the runtime spec (the directory is the bundle)
 *   ROOT/containers/<id>/hostname, hosts, resolv.conf
 *   ROOT/containers/<id>/ctr.log       the log: one JSON object a line,
 *                                      docker's json-file format
 *                                      {"log":"...\n","stream":"stdout","time":"RFC3339Nano"}
 *
 * The record (a JSON document in the store) follows `docker inspect`'s
 * shape: Id, Name, Created, Path, Args, Image, ImageName, Config,
 * HostConfig, State {Status, Running, Pid, ExitCode, OOMKilled, StartedAt,
 * FinishedAt, Error, Health {Status, FailingStreak, Log} when Config has a
 * Healthcheck}, Mounts, plus kiln's RunOpts (what is needed to start it
 * again).
 *
 * No daemon: a container runs under its monitor — the `kiln run` process
 * itself in the foreground, or a small detached process for -d — which
 * copies the output to the log, waits for the exit and records it.
 */
#pragma once

#include <jansson.h>
#include <sys/stat.h>
#include "kiln/runtime.h"
#include "kiln/store.h"

struct kiln_container_opts {
        const char *image;          /* reference, ID or digest */
        const char *name;           /* NULL: generated (adjective_name) */
        struct kiln_run_opts run;   /* spec options (run.id is set here) */
        bool auto_remove;           /* --rm */
        bool interactive;           /* -i: stdin reaches the container */
        char *const *labels;        /* "k=v" */
        const char *stop_signal;    /* NULL: the image's, else SIGTERM */
        int stop_timeout;           /* seconds; < 0: 10 */
        const char *network;        /* "bridge" (kiln0, see lib/container/network.c),
                                     * "none" (loopback only), "host", "container:NAME|ID",
                                     * or NULL: as root the bridge (falling back to
                                     * loopback only when it cannot be set up), else a
                                     * private netns (loopback only) */
        char *const *publish;       /* -p, docker's forms: [IP:][HOSTPORT:]CTRPORT[/tcp|udp],
                                     * ranges; needs the bridge */
        bool publish_all;           /* -P: every EXPOSEd port on a random host port */
        bool init;                  /* --init: kiln-init is PID 1 and runs the command
                                     * (bind-mounted read-only at KILN_CONTAINER_INIT_PATH) */
        /* healthcheck: overrides of the image's (0 / NULL: the image's) */
        const char *health_cmd;     /* --health-cmd: Test ["CMD-SHELL", health_cmd] */
        int64_t health_interval;    /* nanoseconds */
        int64_t health_timeout;
        int64_t health_start_period;
        int health_retries;
        bool no_healthcheck;        /* --no-healthcheck: Test ["NONE"] */
        /* --userns: NULL/"host" (none), "auto[:size=N]" (a free range of the
         * subordinate ids of user "containers"), or run.uid_maps/gid_maps set
         * (--uidmap/--gidmap). Root only; layers are idmapped, not copied. */
        const char *userns;
};

/* "CONTAINER:HOST:SIZE" -> map (podman's --uidmap form); -EINVAL if bad. */
int kiln_id_map_parse(const char *s, struct kiln_id_map *out);

/* Where --init puts kiln-init in the container (docker's tini: /dev/init). */
#define KILN_CONTAINER_INIT_PATH "/dev/init"

/* Create the container: record, directories, overlay rootfs, bundle.
 * Prints nothing; *ret_id gets the 64-hex ID (caller frees). */
int kiln_container_create(struct kiln_store *s, const struct kiln_container_opts *opts,
                          char **ret_id, struct kiln_error *err);

enum {
        KILN_START_ATTACH = 1 << 0, /* wait in the foreground, output to our stdio */
        KILN_START_STDIN = 1 << 1,  /* give the container our stdin */
};

/*
 * Start a created or stopped container. Attached: this process is the
 * monitor; returns when the container exits, with *ret_status its exit
 * code (Docker's terms), and removes it afterwards when it was created
 * with auto_remove. While it runs, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1
 * and SIGUSR2 sent to this process are forwarded to the container's
 * process (docker's sig-proxy); the caller's signal mask is restored after,
 * and such signals that came once the process had exited are dropped. A
 * caller that blocks these signals (kiln_container_block_proxied_signals)
 * before creating the container gets those sent meanwhile forwarded too.
 * Detached: a monitor process is left running and this returns once the
 * container's process has started.
 */
int kiln_container_start(struct kiln_store *s, const char *what, unsigned flags,
                         int *ret_status, struct kiln_error *err);

/* Block the signals an attached start forwards (see kiln_container_start),
 * so that one sent before the container runs waits for it instead of
 * killing this process and leaving the container half started. */
void kiln_container_block_proxied_signals(void);

/*
 * Record that the container's process exited: exit_code (Docker's terms),
 * oom (the OOM killer struck), finished_at (RFC 3339; NULL: now). Deletes
 * the runtime state, unmounts the rootfs, and removes the container when
 * it was created with auto_remove. What a detached container's monitor
 * runs last (`kiln container cleanup`). A record that is no longer running
 * is left alone; one another live monitor owns is refused (-KILN_ECONFLICT).
 */
int kiln_container_cleanup(struct kiln_store *s, const char *what, int exit_code, bool oom,
                           const char *finished_at, struct kiln_error *err);

/* Signal the container's init (SIGKILL, SIGTERM, ...). */
int kiln_container_kill(struct kiln_store *s, const char *what, int sig, struct kiln_error *err);
/* Stop: the stop signal, then SIGKILL after timeout seconds (< 0: the
 * container's own timeout). A stopped container is fine. */
int kiln_container_stop(struct kiln_store *s, const char *what, int timeout, struct kiln_error *err);
/* Wait until it stops; *ret_status its exit code. */
int kiln_container_wait(struct kiln_store *s, const char *what, int *ret_status,
                        struct kiln_error *err);
/* Remove: refuses a running container unless force (killed first);
 * volumes: also its anonymous volumes (docker rm -v). */
int kiln_container_remove(struct kiln_store *s, const char *what, bool force, bool volumes,
                          struct kiln_error *err);

/* The record with its state refreshed from the runtime. Caller owns *ret. */
int kiln_container_inspect(struct kiln_store *s, const char *what, json_t **ret,
                           struct kiln_error *err);
/* All records, refreshed, newest first. */
int kiln_container_list(struct kiln_store *s, json_t **ret, struct kiln_error *err);

/*
 * One sample of a container's resource use, the figures docker's stats
 * endpoint reports: cumulative counters from the container's cgroup, its
 * network namespace's interfaces and, taken at the same moment, the host's
 * CPU time, so that two samples give docker's CPU %:
 *   (cpu delta / system delta) * online_cpus * 100.
 * A container that is not running has no cgroup: the call fails with
 * -KILN_ECONFLICT.
 */
struct kiln_container_stats {
        uint64_t cpu_usage_ns;
        int64_t memory_usage;  /* bytes, -1 unknown (the cgroup's, cache included) */
        int64_t memory_limit;  /* bytes, -1 unlimited or unknown */
        int64_t pids_current;
        uint64_t oom_kills;
        uint64_t memory_inactive_file; /* reclaimable cache docker subtracts from usage */
        uint64_t system_cpu_ns;        /* the host's CPU time, all CPUs (/proc/stat) */
        unsigned online_cpus;
        uint64_t blkio_read, blkio_write; /* bytes */
        uint64_t net_rx, net_tx;          /* bytes, every interface but lo */
};
int kiln_container_stats(struct kiln_store *s, const char *what, struct kiln_container_stats *ret,
                         struct kiln_error *err);

/* The log file's path (caller frees). */
char *kiln_container_log_path(struct kiln_store *s, const char *id);

/* Run a command in a running container (docker exec). */
struct kiln_container_exec_opts {
        char *const *args;
        char *const *env;       /* "K=V" added to the container's env */
        const char *user;       /* user[:group], resolved in the container */
        const char *workdir;
        bool tty;
        bool interactive;
        bool detach;
        bool privileged;
        bool capture;           /* not a tty: stdout and stderr go to output_fd */
        int output_fd;
        pid_t *ret_pid;         /* with detach, not tty: the process's pid, a child of
                                 * the caller, who waits for it */
};
int kiln_container_exec(struct kiln_store *s, const char *what,
                        const struct kiln_container_exec_opts *opts, int *ret_status,
                        struct kiln_error *err);

/*
 * Run the container's healthcheck once now (docker's rules): the command
 * in the container, killed after its Timeout; State.Health's Status,
 * FailingStreak and Log (the last 5 results, output capped at 4 KiB)
 * updated and saved. *ret_healthy: the resulting Status is "healthy".
 * Errors: no healthcheck defined (-EINVAL, "container X has no defined
 * healthcheck"), not running (-KILN_ECONFLICT).
 */
int kiln_container_healthcheck_run(struct kiln_store *s, const char *what, bool *ret_healthy,
                                   struct kiln_error *err);

/* Docker's defaults for a healthcheck's unset fields. */
#define KILN_HEALTH_INTERVAL_NS (30LL * 1000000000LL)
#define KILN_HEALTH_TIMEOUT_NS (30LL * 1000000000LL)
#define KILN_HEALTH_RETRIES 3

/* ---- a container's changes ---- */

/* The config object a commit starts from: the image's "config" with what
 * the container was run with (Env, Cmd, Entrypoint, WorkingDir, User,
 * Labels). The caller may edit it (--change) and pass it to commit. */
int kiln_container_commit_config(struct kiln_store *s, const char *what, json_t **ret,
                                 struct kiln_error *err);

/* The container's changes (its overlay upper dir) become one new layer on
 * top of its image's; names (full or short references) point at the new
 * image. *ret_id (may be NULL) gets the new image ID. */
int kiln_container_commit(struct kiln_store *s, const char *what, json_t *config,
                          const char *message, const char *author, const char *const *names,
                          size_t n_names, char **ret_id, struct kiln_error *err);

/* Changed paths: an array of {"Path": "/etc/x", "Kind": 0 changed | 1 added | 2 deleted}
 * in directory order (docker diff's C/A/D). */
int kiln_container_diff(struct kiln_store *s, const char *what, json_t **ret,
                        struct kiln_error *err);

/* The container's whole filesystem as an uncompressed tar to out_fd. */
int kiln_container_export(struct kiln_store *s, const char *what, int out_fd,
                          struct kiln_error *err);

/* ---- volumes ----
 * ROOT/volumes/<name>/_data, metadata in volume.json. A kiln_mount_req of
 * type "volume" names one (source NULL: a new anonymous volume); it is
 * created when missing and filled from the image on first use. */

/* Create (or return the existing) volume; name NULL: a random 64-hex name. */
int kiln_volume_create(struct kiln_store *s, const char *name, char *const *labels, bool anonymous,
                       json_t **ret, struct kiln_error *err);
int kiln_volume_inspect(struct kiln_store *s, const char *name, json_t **ret, struct kiln_error *err);
int kiln_volume_list(struct kiln_store *s, json_t **ret, struct kiln_error *err);
/* Refused while a container uses it unless force. */
int kiln_volume_remove(struct kiln_store *s, const char *name, bool force, struct kiln_error *err);
/* Remove unused volumes (anonymous ones only unless all); returns the count. */
int kiln_volume_prune(struct kiln_store *s, bool all, char ***ret_removed, struct kiln_error *err);

/* The runtime state root kiln uses for its own containers. */
char *kiln_container_state_root(void);

/* Rootless (euid != 0): join, or first make, the user's user and mount
 * namespaces (lib/container/rootless.c), after which kiln is uid 0 there.
 * KILN_ROOT and KILN_RUNTIME_ROOT are set to the user's defaults when unset.
 * A no-op for root. Call before any thread exists. */
int kiln_rootless_enter(struct kiln_error *err);

/* ---- kiln cp ---- */

enum {
        KILN_CP_ARCHIVE = 1 << 0,     /* -a: keep the source's uid/gid */
        KILN_CP_FOLLOW_LINK = 1 << 1, /* -L: follow a symlink at the source path */
};

/*
 * Copy into the container `what` (running or stopped) at ctr_dest, with
 * docker cp's rules: the host path src (a file, a directory, or "DIR/." for
 * its contents), or, when src is NULL, a tar read from tar_fd and extracted
 * into ctr_dest, which must be a directory. Every path in the container is
 * resolved inside its root filesystem (symlinks included), so nothing
 * outside it is read or written. Owner: 0:0, or the source's with
 * KILN_CP_ARCHIVE. A stopped container's rootfs is mounted for the copy and
 * unmounted after. *ret_bytes (may be NULL) gets the bytes of file data.
 */
int kiln_container_copy_in(struct kiln_store *s, const char *what, const char *src, int tar_fd,
                           const char *ctr_dest, unsigned flags, int64_t *ret_bytes,
                           struct kiln_error *err);

/*
 * Copy ctr_src out of the container `what` to the host path dest, or, when
 * dest is NULL, write it as an uncompressed tar to tar_fd (entries named
 * after the source's last component; its contents only for "DIR/.").
 * Owner of files written: the caller, or the source's with KILN_CP_ARCHIVE.
 */
int kiln_container_copy_out(struct kiln_store *s, const char *what, const char *ctr_src,
                            const char *dest, int tar_fd, unsigned flags, int64_t *ret_bytes,
                            struct kiln_error *err);

/*
 * The copy engine of kiln cp, for build's COPY/ADD: copy the object src_fd
 * (an O_PATH fd, st its stat) to dst_parent/name with cp's safe rules (every
 * change by name relative to a directory fd, never through a final
 * symlink; a file is created under its own name when nothing is there
 * (O_EXCL|O_NOFOLLOW: a build step's upper dir is its own), else written to
 * a temporary name and renamed over the target; data copied in the kernel
 * (copy_file_range, sendfile) where it can; an existing directory is merged
 * into). With contents and a directory source, its entries go into
 * dst_parent/name (created 0755 and owned by o->uid:o->gid when missing;
 * o->mode does not apply to it, as BuildKit's copy makes it with MkdirAll
 * before copying the contents). Everything written is owned by o->uid:o->gid, has the permission
 * bits o->mode when it is not 0, and keeps the source's times. o->skip (may
 * be NULL) is asked about every entry below the source (relpath relative to
 * it, "a/b"); true leaves it (and a directory's subtree) out. Files of the
 * source that are hard links of each other are hard links of each other in
 * the copy (as BuildKit's and buildah's COPY; up to 4096 such inodes).
 */
struct kiln_copy_opts {
        uid_t uid;
        gid_t gid;
        mode_t mode;
        bool (*skip)(void *ud, const char *relpath, bool is_dir);
        void *ud;
};
int kiln_copy_tree_at(int src_fd, const struct stat *st, bool contents, int dst_parent, const char *name,
                      const struct kiln_copy_opts *o, int64_t *ret_bytes, struct kiln_error *err);

/*
 * A network for one RUN step of kiln build: a network namespace of its own
 * made by the same code as `kiln run`'s default network — as root on
 * kiln's bridge (lib/container/network.c: kiln0 or KILN_BRIDGE, a veth
 * into it, an address from the host-wide lease file, outbound NAT),
 * rootless through pasta (lib/container/pasta.c, the host's addresses, no
 * way back to the host's loopback) — plus the /etc/hosts and
 * /etc/resolv.conf texts the step is given (bind-mounted by the build,
 * never part of a layer). hostname goes into hosts with the address
 * (127.0.1.1 with pasta). Made by kiln_build_net_create (an error when the
 * network cannot be set up: the caller decides on a fallback), undone by
 * kiln_build_net_free (pasta stopped, the namespace, and with it the veth,
 * removed; the lease released; takes NULL).
 */
struct kiln_build_net {
        char *netns_path;  /* the namespace to join (KILN_NETNS_PATH) */
        char *address;     /* the step's IPv4 address on the bridge ("" with pasta) */
        char *gateway;     /* the bridge's address ("" with pasta) */
        char *hosts;       /* /etc/hosts text */
        char *resolv_conf; /* /etc/resolv.conf text: the host's without loopback resolvers */
        struct kiln_store *store;
        json_t *doc;       /* the container-shaped record network.c works on */
};
int kiln_build_net_create(struct kiln_store *s, const char *hostname, struct kiln_build_net **ret,
                          struct kiln_error *err);
void kiln_build_net_free(struct kiln_build_net *n);
