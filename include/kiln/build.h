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

/* -o/--output: where the result goes besides (or instead of) the store */
enum kiln_build_output_type {
        KILN_BUILD_OUTPUT_LOCAL, /* the target's filesystem written into a directory */
        KILN_BUILD_OUTPUT_TAR,   /* that filesystem as an uncompressed tar */
        KILN_BUILD_OUTPUT_OCI,   /* the image as an OCI image-layout tarball (oci-archive) */
};

struct kiln_build_output {
        enum kiln_build_output_type type;
        char *dest; /* a path; "-" (tar, oci): standard output */
        char *name; /* oci: the image name for index.json's annotations, or NULL */
};

/*
 * Parse one -o value as docker build does: "type=local,dest=DIR",
 * "type=tar,dest=FILE|-", "type=oci,dest=FILE|-[,name=REF]", or the
 * shorthands "DIR" (local) and "-" (tar on standard output). Errors are one
 * line ("unknown output type ..."); nothing is checked on disk.
 * ret's strings are malloc'ed: kiln_build_output_clear().
 */
int kiln_build_output_parse(const char *spec, struct kiln_build_output *ret, struct kiln_error *err);
void kiln_build_output_clear(struct kiln_build_output *o);

/* --squash / --squash-all */
enum kiln_build_squash {
        KILN_BUILD_SQUASH_NONE = 0,
        KILN_BUILD_SQUASH_NEW, /* the final stage's new layers as one (podman/docker --squash) */
        KILN_BUILD_SQUASH_ALL, /* every layer, the base's too, as one (podman --squash-all) */
};

struct kiln_progress;

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
        const struct kiln_build_output *outputs; /* -o: written after the build, before the store */
        size_t n_outputs;
        bool no_store;                 /* -o without -t: the image (config, manifest, name) is not
                                          stored, only the build cache's layers are */
        enum kiln_build_squash squash;
        struct kiln_progress *progress; /* step lines and RUN output (progress.c); overrides
                                           progress_fd when set */
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
 * failing step. With o->outputs the result is also written there (before
 * anything is stored); with o->no_store the image itself (config,
 * manifest, tags) is not stored, only the build cache's layers are.
 */
int kiln_build(struct kiln_store *s, struct kiln_buildctx *ctx, struct kiln_dockerfile *df,
               const struct kiln_build_opts *o, char **ret_id, struct kiln_error *err);
