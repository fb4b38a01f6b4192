/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUN --mount for the executor (lib/build/runmount.c): BuildKit's
 * type=cache, secret, bind and tmpfs turned into runtime mount requests,
 * with the mount points made in the step's rootfs and removed from its
 * upper dir again after the RUN. See docs/internals/build.md ("RUN --mount").
 */
#pragma once

#include "kiln/buildctx.h"
#include "kiln/dockerfile.h"
#include "kiln/runtime.h"

struct kiln_runmount_env {
        const char *store_root;        /* ROOT: cache mounts live in ROOT/build-cache-mounts */
        const char *tmp;               /* the build's private tmp dir */
        struct kiln_buildctx *ctx;     /* the context (bind mounts without from=) */
        char *const *secrets;          /* kiln build --secret values ("id=X,src=F", "id=X,env=V") */
        char escape;                   /* the Dockerfile's escape character */
        const char *workdir;           /* relative targets are relative to it */
        /* mount stage or image `from` read-only; *ret_path stays valid until
         * kiln_runmounts_free(), which unmounts it when *ret_mounted */
        int (*from_root)(void *ud, const char *from, char **ret_path, bool *ret_mounted,
                         struct kiln_error *err);
        /* around a wait for a cache mount's lock (may be NULL): stages on
         * threads let go of the scheduler's lock meanwhile */
        void (*wait_begin)(void *ud);
        void (*wait_end)(void *ud);
        void *ud;
};

struct kiln_runmounts;

/* Parse every --mount of the RUN, prepare sources (cache dirs and their
 * locks, secret files on a private tmpfs, copies of bind sources) and
 * make the mount points in rootfs. On error nothing is left behind. */
int kiln_runmounts_setup(const struct kiln_runmount_env *env, const struct kiln_df_instruction *in,
                         const char *rootfs, struct kiln_runmounts **ret, struct kiln_error *err);
/* One more bind mount of the host file source on dest (absolute, clean)
 * in rootfs, its mount point made and cleaned as those of --mount: what
 * RUN on the bridge gets for /etc/hosts and /etc/resolv.conf. */
int kiln_runmounts_add_file(struct kiln_runmounts *m, const char *rootfs, const char *source, const char *dest,
                            struct kiln_error *err);
const struct kiln_mount_req *kiln_runmounts_reqs(const struct kiln_runmounts *m, size_t *ret_n);
/* After the RUN: remove from upper the mount points setup made (and the
 * copied-up parents that stayed unchanged), as BuildKit leaves none. */
void kiln_runmounts_clean_upper(struct kiln_runmounts *m, const char *upper);
/* Unlock cache mounts, unmount and remove temporaries. Takes NULL. */
void kiln_runmounts_free(struct kiln_runmounts *m);
