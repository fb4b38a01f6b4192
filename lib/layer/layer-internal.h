/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the files of lib/layer (not installed). */
#pragma once

#include <sys/stat.h>
#include <archive.h>
#include <archive_entry.h>
#include "kiln/layer.h"

/* I/O chunk size for file data and (de)compression buffers. */
#define LAYER_IO_CHUNK (1024 * 1024)

/* ---- output pipeline: tar bytes -> sha256 (diff_id) -> codec -> sha256 -> fd ---- */
struct layer_sink;

int layer_sink_new(int out_fd, const struct kiln_layer_create_opts *opts,
                   struct layer_sink **ret, struct kiln_error *err);
void layer_sink_free(struct layer_sink *s);
KILN_DEFINE_CLEANUP(struct layer_sink *, layer_sink_free)

/* A libarchive writer (restricted pax, unblocked, SCHILY xattrs) whose
 * bytes go through s. The archive does not own s. */
struct archive *layer_sink_archive(struct layer_sink *s, struct kiln_error *err);
/* Close the archive (trailer), flush the codec, fill ret. */
int layer_sink_finish(struct layer_sink *s, struct archive *a, uint64_t n_entries,
                      struct kiln_layer_info *ret, struct kiln_error *err);
/* The first error the pipeline met (0 if none). */
int layer_sink_error(struct layer_sink *s);

KILN_DEFINE_CLEANUP(struct archive *, archive_write_free)

/* Enable the read filters of plain archives (gzip, bzip2, xz, zstd). */
void layer_archive_support_filters(struct archive *a);

/* ---- parallel deterministic gzip (pgzip.c) ----
 * Fixed 128 KiB blocks, each raw deflate with the previous 32 KiB as the
 * dictionary, joined behind zlib's gzip header: the bytes do not depend on
 * the thread count. emit is called on the caller's thread only, in order,
 * with the gzip stream; a negative return stops the stream with that code. */
#define PGZIP_BLOCK (128 * 1024) /* a constant: the output depends on it */
#define PGZIP_DICT (32 * 1024)   /* deflate's window */
typedef int (*pgzip_emit_fn)(void *ctx, const void *p, size_t n);
struct pgzip;

/* Blocks of at least PGZIP_STORE_MIN bytes that pgz_incompressible() calls
 * random are stored, not deflated: sum over byte values of count^2 x 256
 * <= n^2 x 1.02 (a Renyi entropy of at least ~7.97 bits a byte), in integers
 * so every machine decides alike. Part of the format, as PGZIP_BLOCK. */
#define PGZIP_STORE_MIN 4096
bool pgz_incompressible(const unsigned char *p, size_t n);

/* level 1-9; threads 0 = online CPUs (capped at 64), 1 = no threads. */
int pgzip_new(int level, int threads, pgzip_emit_fn emit, void *emit_ctx,
              struct pgzip **ret, struct kiln_error *err);
/* Feed input (may call emit). Returns 0 or the first error, sticky. */
int pgzip_write(struct pgzip *z, const void *p, size_t n);
/* Compress the rest and write the trailer. */
int pgzip_finish(struct pgzip *z);
/* One line for a failure of pgzip itself; "" when emit failed. */
const char *pgzip_errmsg(const struct pgzip *z);
/* Stops and joins the threads; takes NULL. */
void pgzip_free(struct pgzip *z);
KILN_DEFINE_CLEANUP(struct pgzip *, pgzip_free)

/* ---- small sets ---- */

/* A set of strings (paths). */
struct strset {
        char **slots;
        size_t n, cap;
};
bool strset_add(struct strset *s, const char *str); /* true if newly added */
bool strset_has(const struct strset *s, const char *str);
void strset_free(struct strset *s);

/* (dev, ino) -> first path, for hardlinks. */
struct inomap {
        struct inomap_slot {
                dev_t dev;
                ino_t ino;
                char *path;
        } *slots;
        size_t n, cap;
};
const char *inomap_get(const struct inomap *m, dev_t dev, ino_t ino);
void inomap_put(struct inomap *m, dev_t dev, ino_t ino, const char *path);
void inomap_free(struct inomap *m);

/* Is this xattr overlayfs bookkeeping (trusted.overlay.*, user.overlay.*)? */
bool layer_xattr_is_overlay(const char *name);

/* Map a libarchive failure to a one-line "layer: ..." error. */
int layer_archive_err(struct archive *a, struct kiln_error *err, const char *what);
