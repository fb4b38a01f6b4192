/* SPDX-License-Identifier: Apache-2.0 */
/* The context object, shared by buildctx.c and buildctx-tar.c (not installed). */
#pragma once
#include <jansson.h>

#include <sys/stat.h>
#include "kiln/buildctx.h"

struct kiln_buildctx {
        int dirfd;
        char *path;
        bool owned; /* a private directory (tar context): removed on free */
        struct kiln_dockerignore *ig;
        /* file content digests by dev:ino, valid while size, mtime and
         * ctime are the same (kiln_buildctx_set_checksum_cache) */
        char *sums_path;
        json_t *sums;
        bool sums_dirty;
};

/* Read and parse the ignore file dirfd/path into ctx->ig. */
int buildctx_load_ignore(struct kiln_buildctx *ctx, int dirfd, const char *path,
                         struct kiln_error *err);

/* kiln_buildctx_resolve, also giving the stat of what was found. */
int buildctx_resolve(const struct kiln_buildctx *ctx, const char *relpath, unsigned flags,
                     int *ret_fd, char **ret_canonical, struct stat *ret_st,
                     struct kiln_error *err);
