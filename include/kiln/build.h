/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build: the executor. Runs a parsed Dockerfile's stages against a
 * build context and stores the target stage as an image. See
 * docs/internals/build.md ("Executor") and docs/guide/build.md.
 */
#pragma once

#include "kiln/base.h"
#include "kiln/buildctx.h"
#include "kiln/dockerfile.h"
#include "kiln/store.h"

/* kiln build --network: what RUN steps get unless they say RUN --network= */
enum kiln_build_network {
        KILN_BUILD_NETWORK_DEFAULT = 0, /* a netns of the step's own, as kiln run: kiln's bridge
                                           as root, pasta rootless; /etc/hosts and resolv.conf
                                           bind-mounted */
        KILN_BUILD_NETWORK_HOST,        /* the host's network namespace */
        KILN_BUILD_NETWORK_NONE,        /* a private network namespace (lo only) */
};

struct kiln_build_opts {
        const char *const *tags;       /* full references to point at the result */
        size_t n_tags;
        char *const *build_args;       /* "K=V", NULL-terminated (may be NULL) */
        char *const *labels;           /* "K=V" added to the final config (may be NULL) */
        const char *target;            /* stage name or NULL: the last stage */
        enum kiln_build_network network; /* RUN steps without --network= */
        const char *platform;          /* --platform: NULL or the host's (any other is refused
                                          before anything runs) */
        char *const *secrets;          /* --secret "id=X,src=FILE" | "id=X,env=VAR" (RUN --mount=type=secret) */
        bool no_cache;                 /* run every step (the cache is still updated) */
        int compression;               /* enum kiln_compression of new layers (0 = none; the
                                          CLI's default is gzip) */
        int compression_level;         /* 0: the codec's default */
        int progress_fd;               /* step lines and RUN output; -1: discarded */
        bool docker_format;            /* --format docker: Docker schema2 manifest and config
                                          (keeps Healthcheck, Shell, OnBuild); else OCI */
        bool has_source_date_epoch;    /* reproducible: config and history "created" are
                                          source_date_epoch, layer mtimes clamped to it */
        int64_t source_date_epoch;
        unsigned jobs;                 /* stages built at once, each as soon as the
                                          stages it needs are done: 1 = one after
                                          the other (in order); 0 = no limit */
};

/*
 * Build: every stage the target needs (FROM a stored image, scratch, or an
 * earlier stage; stages that do not need each other at once, up to
 * o->jobs, on threads: see lib/build/stages.h), then store the target stage's layers,
 * config and OCI manifest as an image named by o->tags. Nothing is stored
 * unless everything succeeded (the layers are kept uncommitted in the
 * store's tmp until the end; temporaries are removed either way; base
 * layers may be unpacked, as kiln run does). *ret_id (malloc'ed) gets the
 * image ID ("sha256:..."). Errors: one line, "Dockerfile:LINE: ..." for a
 * failing step.
 */
int kiln_build(struct kiln_store *s, struct kiln_buildctx *ctx, struct kiln_dockerfile *df,
               const struct kiln_build_opts *o, char **ret_id, struct kiln_error *err);
