/* SPDX-License-Identifier: Apache-2.0 */
/* Private parts of the store shared by the files of lib/store. */
#pragma once

#include <sqlite3.h>
#include "kiln/store.h"

struct kiln_store {
        char *root;
        int root_fd;   /* ROOT */
        int layout_fd; /* ROOT/oci */
        int tmp_fd;    /* ROOT/tmp */
        int layers_fd; /* ROOT/layers */
        int containers_fd; /* ROOT/containers */
        int lock_fd;   /* ROOT/lock (flock) */
        int lock_mode; /* 0, LOCK_SH or LOCK_EX as held now */
        bool readonly;
        sqlite3 *db;
};

/* Hold the store lock shared (writers) or exclusive (gc, fsck). */
int store_lock(struct kiln_store *s, int mode, struct kiln_error *err);

/* sqlite helpers: the error message names the failing statement's purpose */
int store_exec(struct kiln_store *s, const char *sql, struct kiln_error *err);
int store_prepare(struct kiln_store *s, const char *sql, sqlite3_stmt **ret,
                  struct kiln_error *err);
int store_sql_err(struct kiln_store *s, struct kiln_error *err, const char *what);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK */
int store_begin(struct kiln_store *s, struct kiln_error *err);
int store_commit(struct kiln_store *s, struct kiln_error *err);
void store_rollback(struct kiln_store *s);

/* Regenerate ROOT/oci/index.json from the database (inside a transaction
 * when called by a writer, so writers are serialized). */
int store_write_index(struct kiln_store *s, struct kiln_error *err);

/* Path of a blob relative to the layout: "blobs/sha256/<hex>". */
void store_blob_path(const struct kiln_digest *d, char *out, size_t outlen);

/* Remove an image's rows (not its tags). */
int store_delete_image_rows(struct kiln_store *s, const char *manifest_digest,
                            struct kiln_error *err);

int64_t store_now(void);

/* Referenced by an image or a build cache entry (gc keeps it)? When in
 * doubt (a database error), true. */
bool store_blob_referenced(struct kiln_store *s, const char *digest);
bool store_diff_id_referenced(struct kiln_store *s, const char *diff_id);
/* Disk usage of parentfd/name (allocated blocks, recursively). */
int64_t store_tree_size(int parentfd, const char *name);
