/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The build cache's table (schema version 3): a step key -> the layer and
 * history entry the step produced. Entries are written after the build
 * succeeded and its blobs are committed, under the shared store lock, so
 * gc (exclusive) never sees a committed cached blob without its row.
 * See docs/internals/build.md ("Cache").
 */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "kiln/fs.h"
#include "store-internal.h"

void kiln_cache_entry_clear(struct kiln_cache_entry *e)
{
        if (!e)
                return;
        free(e->media_type);
        free(e->history);
        *e = (struct kiln_cache_entry){ 0 };
}

static const char *col(sqlite3_stmt *st, int i)
{
        return (const char *)sqlite3_column_text(st, i);
}

int kiln_store_cache_get(struct kiln_store *s, const char *key, struct kiln_cache_entry *ret,
                         struct kiln_error *err)
{
        int r = store_lock(s, LOCK_SH, err);
        if (r < 0)
                return r;
        sqlite3_stmt *st;
        r = store_prepare(s, "SELECT blob, media_type, diff_id, size, history FROM build_cache WHERE key = ?",
                          &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
                r = rc == SQLITE_DONE ? kiln_err(err, -KILN_ENOTFOUND, "build cache: no entry %s", key)
                                      : store_sql_err(s, err, "build cache lookup");
                sqlite3_finalize(st);
                return r;
        }
        struct kiln_cache_entry e = { 0 };
        if (col(st, 0)) {
                e.has_layer = true;
                if (kiln_digest_parse(col(st, 0), &e.blob, NULL) < 0 || !col(st, 2) ||
                    kiln_digest_parse(col(st, 2), &e.diff_id, NULL) < 0)
                        r = kiln_err(err, -KILN_ECORRUPT, "build cache: entry %s: bad digest", key);
                e.media_type = kiln_xstrdup(col(st, 1) ? col(st, 1) : KILN_MT_OCI_LAYER_GZIP);
        }
        e.size = sqlite3_column_int64(st, 3);
        e.history = kiln_xstrdup(col(st, 4) ? col(st, 4) : "{}");
        sqlite3_finalize(st);
        if (r >= 0 && e.has_layer && !kiln_store_blob_exists(s, &e.blob))
                r = kiln_err(err, -KILN_ENOTFOUND, "build cache: entry %s: blob %s is gone", key, e.blob.str);
        if (r < 0) {
                kiln_cache_entry_clear(&e);
                return r;
        }
        *ret = e;
        return 0;
}

int kiln_store_cache_record(struct kiln_store *s, const struct kiln_cache_record *v, size_t n,
                            struct kiln_error *err)
{
        if (!n)
                return 0;
        int r = store_lock(s, LOCK_SH, err);
        if (r >= 0)
                r = store_begin(s, err);
        if (r < 0)
                return r;
        sqlite3_stmt *put = NULL, *touch = NULL;
        r = store_prepare(s,
                          "INSERT OR REPLACE INTO build_cache(key, blob, media_type, diff_id, size, history, "
                          "created, last_used) VALUES (?,?,?,?,?,?,?,?)",
                          &put, err);
        if (r >= 0)
                r = store_prepare(s, "UPDATE build_cache SET last_used = ? WHERE key = ?", &touch, err);
        int64_t now = store_now();
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const struct kiln_cache_entry *e = v[i].e;
                sqlite3_stmt *st = e ? put : touch;
                sqlite3_reset(st);
                sqlite3_clear_bindings(st);
                if (!e) {
                        sqlite3_bind_int64(st, 1, now);
                        sqlite3_bind_text(st, 2, v[i].key, -1, SQLITE_STATIC);
                } else {
                        sqlite3_bind_text(st, 1, v[i].key, -1, SQLITE_STATIC);
                        if (e->has_layer) {
                                sqlite3_bind_text(st, 2, e->blob.str, -1, SQLITE_STATIC);
                                sqlite3_bind_text(st, 3, e->media_type, -1, SQLITE_STATIC);
                                sqlite3_bind_text(st, 4, e->diff_id.str, -1, SQLITE_STATIC);
                        }
                        sqlite3_bind_int64(st, 5, e->size);
                        sqlite3_bind_text(st, 6, e->history ? e->history : "{}", -1, SQLITE_STATIC);
                        sqlite3_bind_int64(st, 7, now);
                        sqlite3_bind_int64(st, 8, now);
                }
                if (sqlite3_step(st) != SQLITE_DONE)
                        r = store_sql_err(s, err, "record build cache");
        }
        sqlite3_finalize(put);
        sqlite3_finalize(touch);
        if (r >= 0)
                r = store_commit(s, err);
        else
                store_rollback(s);
        return r;
}

int kiln_store_cache_prune(struct kiln_store *s, bool all, struct kiln_cache_prune_report *ret,
                           struct kiln_error *err)
{
        int r = store_lock(s, LOCK_EX, err);
        if (r < 0)
                return r;
        struct kiln_cache_prune_report rep = { 0 };
        char **blobs = NULL, **diffs = NULL;
        r = store_begin(s, err);
        if (r >= 0) {
                const char *where = all ? "" : " WHERE blob IS NOT NULL AND blob NOT IN (SELECT blob FROM image_blobs)";
                _cleanup_free_ char *q = kiln_xasprintf("SELECT blob, diff_id FROM build_cache%s", where);
                _cleanup_free_ char *d = kiln_xasprintf("DELETE FROM build_cache%s", where);
                sqlite3_stmt *st;
                r = store_prepare(s, q, &st, err);
                if (r >= 0) {
                        while (sqlite3_step(st) == SQLITE_ROW) {
                                rep.entries++;
                                if (col(st, 0))
                                        kiln_strv_push(&blobs, col(st, 0));
                                if (col(st, 1))
                                        kiln_strv_push(&diffs, col(st, 1));
                        }
                        sqlite3_finalize(st);
                }
                if (r >= 0)
                        r = store_exec(s, d, err);
                if (r >= 0)
                        r = store_commit(s, err);
                else
                        store_rollback(s);
        }
        /* then what nothing references any more: blobs, their layer_blobs
         * rows, unpacked layers */
        for (size_t i = 0; r >= 0 && blobs && blobs[i]; i++) {
                struct kiln_digest dg;
                if (kiln_digest_parse(blobs[i], &dg, NULL) < 0 || store_blob_referenced(s, blobs[i]))
                        continue;
                char path[200];
                store_blob_path(&dg, path, sizeof(path));
                struct stat stt;
                if (fstatat(s->layout_fd, path, &stt, AT_SYMLINK_NOFOLLOW) == 0 && unlinkat(s->layout_fd, path, 0) == 0) {
                        rep.blobs_removed++;
                        rep.bytes_freed += stt.st_size;
                }
                sqlite3_stmt *st;
                if (sqlite3_prepare_v2(s->db, "DELETE FROM layer_blobs WHERE blob = ?", -1, &st, NULL) == SQLITE_OK) {
                        sqlite3_bind_text(st, 1, blobs[i], -1, SQLITE_STATIC);
                        sqlite3_step(st);
                        sqlite3_finalize(st);
                }
        }
        for (size_t i = 0; r >= 0 && diffs && diffs[i]; i++) {
                struct kiln_digest dg;
                if (kiln_digest_parse(diffs[i], &dg, NULL) < 0 || store_diff_id_referenced(s, diffs[i]))
                        continue;
                const char *hex = kiln_digest_hex(&dg);
                sqlite3_stmt *st;
                if (sqlite3_prepare_v2(s->db, "DELETE FROM unpacked WHERE diff_id = ?", -1, &st, NULL) == SQLITE_OK) {
                        sqlite3_bind_text(st, 1, diffs[i], -1, SQLITE_STATIC);
                        sqlite3_step(st);
                        sqlite3_finalize(st);
                }
                struct stat stt;
                if (fstatat(s->layers_fd, hex, &stt, AT_SYMLINK_NOFOLLOW) == 0) {
                        int64_t sz = store_tree_size(s->layers_fd, hex);
                        if (kiln_fs_rm_rf_at(s->layers_fd, hex) == 0) {
                                rep.layers_removed++;
                                rep.bytes_freed += sz;
                        }
                }
        }
        kiln_strv_free(blobs);
        kiln_strv_free(diffs);
        store_lock(s, LOCK_SH, NULL);
        if (r < 0)
                return r;
        if (ret)
                *ret = rep;
        return 0;
}
