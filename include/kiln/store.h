/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The content store.
 *
 *   ROOT/oci/            an OCI image layout (oci-layout, index.json,
 *                        blobs/<alg>/<hex>), valid at every moment
 *   ROOT/kiln.db         SQLite (WAL): images, tags, layers
 *   ROOT/layers/<hex>/   one unpacked tree per diffID (an overlay lowerdir)
 *   ROOT/tmp/            ingest and unpack temporaries (same filesystem)
 *   ROOT/lock            flock: shared by writers, exclusive for gc/fsck
 *
 * Blobs are written to ROOT/tmp, fsynced, verified and renamed into place;
 * metadata changes are one SQLite transaction, after which index.json is
 * rewritten atomically from the database. A crash leaves the old state or
 * the new one; kiln_store_fsck() checks it.
 */
#pragma once

#include "kiln/base.h"
#include "kiln/digest.h"
#include "kiln/image.h"
#include "kiln/reference.h"

struct kiln_store;

/* The default root: /var/lib/kiln as root, $XDG_DATA_HOME/kiln (or
 * ~/.local/share/kiln) otherwise; KILN_ROOT overrides. Caller frees. */
char *kiln_store_default_root(void);

enum {
        KILN_STORE_READONLY = 1 << 0, /* do not create anything */
};

/* Open (creating when missing) the store at root. */
int kiln_store_open(const char *root, unsigned flags, struct kiln_store **ret,
                    struct kiln_error *err);
void kiln_store_close(struct kiln_store *s);
KILN_DEFINE_CLEANUP(struct kiln_store *, kiln_store_close)

const char *kiln_store_root(const struct kiln_store *s);
/* dirfd of ROOT/oci */
int kiln_store_layout_fd(const struct kiln_store *s);

/* Drop the store lock a writer holds (after its writes are recorded), so a
 * long-running command (a container in the foreground) does not hold back
 * gc. Later writes take it again. */
void kiln_store_release_lock(struct kiln_store *s);

/*
 * Close the database connection before fork() and open it again after:
 * SQLite connections must not cross a fork, even unused ones (the child's
 * copy shares lock and WAL-index state with the parent's).
 */
void kiln_store_db_suspend(struct kiln_store *s);
int kiln_store_db_resume(struct kiln_store *s, struct kiln_error *err);


/* ---- blobs ---- */

struct kiln_blob_writer;

/* Start writing a blob; data goes through kiln_blob_writer_write (or the
 * raw fd, after which call kiln_blob_writer_rehash). */
int kiln_blob_writer_new(struct kiln_store *s, struct kiln_blob_writer **ret,
                         struct kiln_error *err);
int kiln_blob_writer_write(struct kiln_blob_writer *w, const void *data, size_t len);
/* The temp file's fd, for producers that write themselves (O_RDWR). */
int kiln_blob_writer_fd(struct kiln_blob_writer *w);
/*
 * fsync, verify against expected (may be NULL: computed) and move into
 * place. Content written through the fd is re-hashed from the file.
 * Writer is consumed (freed) either way.
 */
int kiln_blob_writer_commit(struct kiln_blob_writer *w,
                            const struct kiln_digest *expected,
                            struct kiln_digest *ret, int64_t *ret_size,
                            struct kiln_error *err);
/* Commit when the digest is already known (computed while streaming);
 * the content is trusted, not re-hashed. */
int kiln_blob_writer_commit_known(struct kiln_blob_writer *w,
                                  const struct kiln_digest *digest,
                                  struct kiln_error *err);
void kiln_blob_writer_abort(struct kiln_blob_writer *w);

/* Store a buffer as a blob. */
int kiln_store_blob_put(struct kiln_store *s, const void *data, size_t len,
                        struct kiln_digest *ret, struct kiln_error *err);
bool kiln_store_blob_exists(struct kiln_store *s, const struct kiln_digest *d);
/* Open a blob read-only; *ret_size may be NULL. */
int kiln_store_blob_open(struct kiln_store *s, const struct kiln_digest *d,
                         int *ret_fd, int64_t *ret_size, struct kiln_error *err);
/* Read a small blob (<= max) and verify its digest. */
int kiln_store_blob_read(struct kiln_store *s, const struct kiln_digest *d,
                         size_t max, char **ret, size_t *ret_len,
                         struct kiln_error *err);

/* ---- images ---- */

struct kiln_image {
        struct kiln_digest manifest_digest;
        struct kiln_digest config_digest; /* the image ID */
        char *manifest_media_type;
        int64_t created;   /* from the config, seconds since the epoch; 0 unknown */
        int64_t size;      /* uncompressed size of all layers */
        int64_t added;     /* when stored */
        char **names;      /* full references "docker.io/library/x:tag", sorted */
        size_t n_names;
};
void kiln_image_free(struct kiln_image *img);
KILN_DEFINE_CLEANUP(struct kiln_image *, kiln_image_free)
void kiln_image_list_free(struct kiln_image **v, size_t n);

/*
 * Record an image whose manifest, config and layer blobs are already in the
 * store (verified present), and point the given names (full references,
 * may be NULL/0) at it. Names that pointed elsewhere move (the old image
 * stays, possibly untagged, as docker does).
 */
int kiln_store_image_add(struct kiln_store *s, const struct kiln_digest *manifest,
                         const char *const *names, size_t n_names,
                         struct kiln_image **ret, struct kiln_error *err);

/*
 * Find an image by name ("busybox", "x:tag", "name@sha256:..."), by ID or
 * unique ID prefix (config digest, "sha256:" optional), or by manifest
 * digest. -KILN_ENOTFOUND: "no such image: X"; ambiguous prefix: -KILN_ECONFLICT.
 */
int kiln_store_image_lookup(struct kiln_store *s, const char *what,
                            struct kiln_image **ret, struct kiln_error *err);

/* All images, newest first. */
int kiln_store_image_list(struct kiln_store *s, struct kiln_image ***ret,
                          size_t *ret_n, struct kiln_error *err);

/* Load an image's manifest and config documents. */
int kiln_store_image_load(struct kiln_store *s, const struct kiln_image *img,
                          struct kiln_manifest **ret_manifest,
                          struct kiln_config **ret_config, struct kiln_error *err);

/* Point name (a full reference) at img. */
int kiln_store_tag(struct kiln_store *s, const struct kiln_image *img,
                   const char *name, struct kiln_error *err);
/* Remove a name; -KILN_ENOTFOUND when absent. */
int kiln_store_untag(struct kiln_store *s, const char *name, struct kiln_error *err);

/*
 * docker rmi semantics for one argument `what`:
 *  - a name: untag it; the image is deleted when no name is left;
 *  - an ID: delete the image; refused (-KILN_EINUSE) while it has more than
 *    one name unless force, in which case all names go too.
 * ret_untagged / ret_deleted (may be NULL) receive what happened
 * (NULL-terminated string vectors: names untagged, IDs deleted).
 * Blobs are not removed here; kiln_store_gc does that.
 */
int kiln_store_image_remove(struct kiln_store *s, const char *what, bool force,
                            char ***ret_untagged, char ***ret_deleted,
                            struct kiln_error *err);

/* Remove untagged images, or with all every image (as `image prune -a`);
 * images a container uses are kept. Returns the number removed; deleted
 * IDs in *ret_deleted (may be NULL). */
int kiln_store_image_prune(struct kiln_store *s, bool all, char ***ret_deleted,
                           struct kiln_error *err);

/* ---- layers ---- */

/*
 * Remember that the layer blob `blob` holds the tar with this diffID and
 * uncompressed size (from creating or pulling it), so image sizes and
 * unpacking need not decompress it again.
 */
int kiln_store_layer_record(struct kiln_store *s, const struct kiln_digest *blob,
                            const struct kiln_digest *diff_id,
                            int64_t uncompressed_size, struct kiln_error *err);

/* What kiln_store_layer_record remembered of a layer blob:
 * -KILN_ENOTFOUND when nothing is known. */
int kiln_store_layer_lookup(struct kiln_store *s, const struct kiln_digest *blob,
                            struct kiln_digest *ret_diff_id, int64_t *ret_uncompressed_size);

/*
 * Make sure the layer with this blob digest / diffID is unpacked under
 * ROOT/layers/<diffid hex> (overlay whiteouts, ready as a lowerdir) and
 * return that path (caller frees). Unpacks once; concurrent callers wait.
 */
int kiln_store_layer_unpack(struct kiln_store *s, const struct kiln_descriptor *layer,
                            const struct kiln_digest *diff_id, char **ret_path,
                            struct kiln_error *err);

/* ---- containers ----
 * A container's record is a JSON document (lib/container owns its shape)
 * indexed by ID (64 hex), a unique name and the image's manifest digest. */

/* Insert or replace. A name used by another container: -KILN_ECONFLICT
 * 'the container name "NAME" is already in use by container ID'. */
int kiln_store_container_put(struct kiln_store *s, const char *id, const char *name,
                             const struct kiln_digest *image, json_t *doc,
                             struct kiln_error *err);
/* By full ID, unique ID prefix, or name. -KILN_ENOTFOUND "no such container: X".
 * *ret_id (may be NULL) gets the full ID. Caller owns *ret_doc. */
int kiln_store_container_get(struct kiln_store *s, const char *what, char **ret_id,
                             json_t **ret_doc, struct kiln_error *err);
/* All records, newest first: an array of documents. */
int kiln_store_container_list(struct kiln_store *s, json_t **ret, struct kiln_error *err);
int kiln_store_container_delete(struct kiln_store *s, const char *id, struct kiln_error *err);
/* Number of containers created from the image with this manifest digest. */
int kiln_store_container_count_for_image(struct kiln_store *s, const struct kiln_digest *image);
/* ROOT/containers (created on open). */
int kiln_store_containers_fd(const struct kiln_store *s);

/* ---- maintenance ---- */

struct kiln_gc_report {
        uint64_t blobs_removed;
        uint64_t layers_removed;
        int64_t bytes_freed;
};
/* Remove blobs and unpacked layers no image references, and stale temps. */
int kiln_store_gc(struct kiln_store *s, struct kiln_gc_report *ret,
                  struct kiln_error *err);

struct kiln_fsck_report {
        uint64_t blobs_checked;
        uint64_t blobs_corrupt;   /* content does not match the digest */
        uint64_t blobs_missing;   /* referenced but absent */
        uint64_t images_checked;
        uint64_t images_broken;   /* a document unreadable or a blob missing */
        uint64_t layers_checked;
        uint64_t layers_broken;   /* unpacked layer incomplete */
        uint64_t problems;        /* total */
        uint64_t garbage;         /* leftovers of interrupted writes: not
                                   * problems, removed by gc and --repair */
        uint64_t repaired;
        char **messages;          /* one line per problem, NULL-terminated */
};
void kiln_fsck_report_clear(struct kiln_fsck_report *r);
/* Re-hash every blob, check every reference; with repair, remove what is
 * corrupt (blobs, images that cannot be read, partial layers). */
int kiln_store_fsck(struct kiln_store *s, bool repair, struct kiln_fsck_report *ret,
                    struct kiln_error *err);

struct kiln_df_report {
        uint64_t images, images_active_names;
        int64_t images_size;   /* bytes of blobs referenced by images */
        int64_t reclaimable;   /* bytes of blobs only untagged images use */
        uint64_t layers_unpacked;
        int64_t layers_size;
        uint64_t blobs;
        int64_t blobs_size;
};
int kiln_store_df(struct kiln_store *s, struct kiln_df_report *ret,
                  struct kiln_error *err);

/* ---- the build cache ----
 * key (a build step's cache key, "sha256:...") -> the step's result: its
 * layer (blob, media type, diffID, blob size; none for a step that made no
 * layer) and its history entry (JSON). Cached layers count as referenced
 * for gc; kiln_store_cache_prune removes entries and then their blobs. */

struct kiln_cache_entry {
        bool has_layer;
        struct kiln_digest blob;
        char *media_type;
        struct kiln_digest diff_id;
        int64_t size;
        char *history;     /* the history entry, a JSON object */
};
void kiln_cache_entry_clear(struct kiln_cache_entry *e);

/* Look up key; -KILN_ENOTFOUND when absent (or its blob is gone). Takes
 * the store lock shared, so gc and prune wait until this process is done
 * with what it found. */
int kiln_store_cache_get(struct kiln_store *s, const char *key,
                         struct kiln_cache_entry *ret, struct kiln_error *err);

/* One step's outcome for kiln_store_cache_record: e NULL for a hit (only
 * last_used is updated), else the entry to store (the layer blob must be
 * committed already). */
struct kiln_cache_record {
        const char *key;
        const struct kiln_cache_entry *e;
};
/* Record a build's steps in one transaction. */
int kiln_store_cache_record(struct kiln_store *s, const struct kiln_cache_record *v,
                            size_t n, struct kiln_error *err);

struct kiln_cache_prune_report {
        uint64_t entries;
        uint64_t blobs_removed;
        uint64_t layers_removed;
        int64_t bytes_freed;
};
/* Remove cache entries: all, or (all == false) those whose layer no image
 * uses. Then remove their blobs and unpacked layers nothing else uses. */
int kiln_store_cache_prune(struct kiln_store *s, bool all,
                           struct kiln_cache_prune_report *ret, struct kiln_error *err);
