/* SPDX-License-Identifier: Apache-2.0 */
/* kiln build -o/--output writers (lib/build/output.c). */
#pragma once

#include "kiln/base.h"
#include "kiln/digest.h"

/* Write the tree under rootfd into the directory dest (made when missing,
 * merged into when it exists), every file owned by the caller, as docker's
 * local exporter does. */
int build_output_local(int rootfd, const char *dest, struct kiln_error *err);

/* The tree under rootfd as an uncompressed tar (owners kept; mtimes
 * clamped to source_date_epoch when >= 0) to dest ("-": standard output;
 * a file is written under a temporary name and renamed). */
int build_output_tar(int rootfd, const char *dest, int64_t source_date_epoch, struct kiln_error *err);

/* A layer blob for the OCI tarball: read from fd with pread (offset 0 to
 * size), the fd is borrowed. */
struct build_output_layer {
        struct kiln_digest digest;
        int64_t size;
        int fd;
};

struct build_output_image {
        const char *manifest, *config; /* the exact bytes */
        size_t manifest_len, config_len;
        const char *manifest_media_type;
        struct kiln_digest manifest_digest, config_digest;
        const struct build_output_layer *layers;
        size_t n_layers;
        int64_t mtime; /* of the tarball's entries */
};

/* The image as an OCI image-layout tarball (oci-layout, index.json,
 * blobs/sha256/...) to dest ("-": standard output). name (may be NULL)
 * goes into index.json's annotations as BuildKit writes them. */
int build_output_oci(const char *dest, const char *name, const struct build_output_image *img,
                     struct kiln_error *err);
