/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layer engine: create OCI layer tars (from a directory, or from the
 * difference of a lower and an upper tree, an overlayfs upper dir included),
 * compress them, and apply them safely to a directory.
 *
 * Created tars are deterministic: entries in byte-wise sorted path order,
 * PAX headers where ustar cannot hold a value, uid/gid/mode/xattrs kept,
 * hardlinks as tar hardlinks, uname/gname empty, mtimes clamped to
 * SOURCE_DATE_EPOCH when given, atime/ctime never written. The same tree
 * gives the same diffID and (for a given compression and level) digest.
 *
 * diffID (sha256 of the uncompressed tar) and digest (sha256 of the bytes
 * written) are computed in the same streaming pass with bounded memory.
 */
#pragma once

#include "kiln/base.h"
#include "kiln/digest.h"

enum kiln_compression {
        KILN_COMPRESSION_NONE = 0,
        KILN_COMPRESSION_GZIP = 1,
        KILN_COMPRESSION_ZSTD = 2,
};

/* "none", "gzip", "zstd" <-> enum; parse returns -KILN_EFORMAT. */
const char *kiln_compression_name(enum kiln_compression c);
int kiln_compression_parse(const char *s, enum kiln_compression *ret);
/* Detect from the first bytes (gzip 1f 8b, zstd 28 b5 2f fd, else none). */
enum kiln_compression kiln_compression_detect(const void *buf, size_t len);
/* OCI layer media type for a compression. */
const char *kiln_compression_media_type(enum kiln_compression c);

struct kiln_layer_create_opts {
        enum kiln_compression compression;
        int level;                /* 0 = the codec's default (gzip 6, zstd 3) */
        int threads;              /* compression threads; 0 = all CPUs */
        int64_t source_date_epoch; /* < 0: keep mtimes; else clamp to it */
};
#define KILN_LAYER_CREATE_OPTS_INIT { KILN_COMPRESSION_GZIP, 0, 0, -1 }

struct kiln_layer_info {
        struct kiln_digest digest;  /* of the bytes written (compressed) */
        struct kiln_digest diff_id; /* of the uncompressed tar */
        int64_t size;               /* bytes written */
        int64_t uncompressed_size;
        uint64_t n_entries;
        enum kiln_compression compression;
};

/*
 * Write a layer holding the whole tree under src_dirfd to out_fd.
 * Sockets are skipped (with a warning); everything else is kept.
 */
int kiln_layer_create_dir(int src_dirfd, int out_fd,
                          const struct kiln_layer_create_opts *opts,
                          struct kiln_layer_info *ret, struct kiln_error *err);

enum {
        /* upper is an overlayfs upper dir: 0/0 char devices are whiteouts,
         * trusted.overlay.opaque=y / user.overlay.opaque=y mark opaque dirs */
        KILN_DIFF_OVERLAY = 1 << 0,
};

/*
 * Write a layer holding the changes that turn lower into upper: added and
 * changed entries in full, removed ones as ".wh.NAME", directories whose
 * lower content is hidden as ".wh..wh..opq". lower_dirfd may be -1 (empty).
 * With KILN_DIFF_OVERLAY only upper is walked (the overlay upper dir holds
 * exactly the changes), and lower is consulted to tell apart changed from
 * new entries and to drop whiteouts of entries lower never had.
 * Without it, entries are compared by type, mode, owner, size, mtime, link
 * target, xattrs and, when sizes and mtimes match, content.
 */
int kiln_layer_create_diff(int lower_dirfd, int upper_dirfd, unsigned flags,
                           int out_fd, const struct kiln_layer_create_opts *opts,
                           struct kiln_layer_info *ret, struct kiln_error *err);

/*
 * Re-write any tar stream (none/gzip/zstd/bzip2/xz, detected) as a
 * normalized layer: entry order kept, names normalized (leading "/" and
 * "./" dropped), PAX format, compressed per opts. Entries with ".."
 * components are refused (-KILN_EUNSAFE). Used by `kiln import` of a tar.
 */
int kiln_layer_convert(int in_fd, int out_fd,
                       const struct kiln_layer_create_opts *opts,
                       struct kiln_layer_info *ret, struct kiln_error *err);

struct kiln_layer_apply_opts {
        /* Keep ownership from the tar (true when root); otherwise files are
         * owned by the caller. */
        bool preserve_owner;
        /* Whiteouts are kept as overlayfs whiteouts (0/0 char devices and
         * opaque xattrs) instead of being applied by deletion: use when
         * unpacking a layer on its own to be an overlay lowerdir. */
        bool overlay_whiteouts;
        /* Limit on the uncompressed bytes (0 = none). */
        int64_t max_size;
        /* A plain tar archive, not a layer (ADD of a local archive): any
         * compression libarchive reads (gzip, bzip2, xz, zstd), ".wh."
         * names are ordinary files (no whiteouts). */
        bool plain_archive;
        /* Every entry owned by uid:gid (ADD --chown), over preserve_owner. */
        bool force_owner;
        uid_t uid;
        gid_t gid;
};

/*
 * Is the file read from fd (at its current offset) a tar archive, plain or
 * compressed with gzip, bzip2, xz or zstd, as Docker's builder decides
 * (content, not name: a valid first tar header)? 1 yes, 0 no, < 0 error.
 */
int kiln_layer_is_tar_archive(int fd, struct kiln_error *err);

struct kiln_layer_apply_info {
        struct kiln_digest digest;  /* of the bytes read (as given) */
        struct kiln_digest diff_id; /* of the decompressed tar */
        int64_t size;
        int64_t uncompressed_size;
        uint64_t n_entries;
        uint64_t n_skipped; /* device nodes not permitted, ... (warned) */
        enum kiln_compression compression;
};

/*
 * Apply the layer read from in_fd (compression detected) onto root_dirfd.
 * Every path is resolved inside the root: "../", absolute paths, symlinks
 * planted by an earlier entry and written through, hardlinks to files
 * outside: none can touch anything outside the root (-KILN_EUNSAFE names the
 * entry). Whiteouts delete; ".wh..wh..opq" empties the directory of what
 * lower layers put there. Device nodes that cannot be created are skipped
 * with a warning. The stream is read to its end so that digest and diff_id
 * cover all of it; a truncated or garbage stream is -KILN_EFORMAT.
 * On failure the root may hold a partial result: callers unpack into a
 * temporary directory and rename.
 */
int kiln_layer_apply(int in_fd, int root_dirfd,
                     const struct kiln_layer_apply_opts *opts,
                     struct kiln_layer_apply_info *ret, struct kiln_error *err);
