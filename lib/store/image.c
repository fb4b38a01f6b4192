/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Images and tags: the metadata in SQLite, and index.json regenerated from
 * it inside the same write transaction.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include "kiln/fs.h"
#include "store-internal.h"

void kiln_image_free(struct kiln_image *img)
{
        if (!img)
                return;
        free(img->manifest_media_type);
        for (size_t i = 0; i < img->n_names; i++)
                free(img->names[i]);
        free(img->names);
        free(img);
}

void kiln_image_list_free(struct kiln_image **v, size_t n)
{
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                kiln_image_free(v[i]);
        free(v);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
        const unsigned char *t = sqlite3_column_text(st, i);
        return t ? (const char *)t : "";
}

#define IMAGE_COLS "manifest_digest, config_digest, media_type, created, size, added"

/* Build a kiln_image from a row of IMAGE_COLS and load its names. */
static int image_from_row(struct kiln_store *s, sqlite3_stmt *st, struct kiln_image **ret,
                          struct kiln_error *err)
{
        _cleanup_(kiln_image_freep) struct kiln_image *img = kiln_xcalloc(1, sizeof(*img));
        if (kiln_digest_parse(col_text(st, 0), &img->manifest_digest, NULL) < 0 ||
            kiln_digest_parse(col_text(st, 1), &img->config_digest, NULL) < 0)
                return kiln_err(err, -KILN_ECORRUPT, "store database: invalid digest in images");
        img->manifest_media_type = kiln_xstrdup(col_text(st, 2));
        img->created = sqlite3_column_int64(st, 3);
        img->size = sqlite3_column_int64(st, 4);
        img->added = sqlite3_column_int64(st, 5);

        sqlite3_stmt *q;
        int r = store_prepare(s, "SELECT name FROM tags WHERE manifest_digest = ? ORDER BY name",
                              &q, err);
        if (r < 0)
                return r;
        sqlite3_bind_text(q, 1, img->manifest_digest.str, -1, SQLITE_STATIC);
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                img->names = kiln_xrealloc(img->names, (img->n_names + 1) * sizeof(char *));
                img->names[img->n_names++] = kiln_xstrdup(col_text(q, 0));
        }
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE)
                return store_sql_err(s, err, "read tags");
        *ret = TAKE_PTR(img);
        return 0;
}

/* Run a query returning IMAGE_COLS rows; bind one optional text parameter. */
static int query_images(struct kiln_store *s, const char *sql, const char *param,
                        struct kiln_image ***ret, size_t *ret_n, struct kiln_error *err)
{
        sqlite3_stmt *st;
        int r = store_prepare(s, sql, &st, err);
        if (r < 0)
                return r;
        if (param)
                sqlite3_bind_text(st, 1, param, -1, SQLITE_TRANSIENT);
        struct kiln_image **v = NULL;
        size_t n = 0;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct kiln_image *img = NULL;
                r = image_from_row(s, st, &img, err);
                if (r < 0) {
                        sqlite3_finalize(st);
                        kiln_image_list_free(v, n);
                        return r;
                }
                v = kiln_xrealloc(v, (n + 1) * sizeof(*v));
                v[n++] = img;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                kiln_image_list_free(v, n);
                return store_sql_err(s, err, "read images");
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int kiln_store_image_list(struct kiln_store *s, struct kiln_image ***ret, size_t *ret_n,
                          struct kiln_error *err)
{
        return query_images(s,
                            "SELECT " IMAGE_COLS " FROM images ORDER BY created DESC, added DESC, "
                            "manifest_digest",
                            NULL, ret, ret_n, err);
}

static int get_one(struct kiln_store *s, const char *sql, const char *param,
                   struct kiln_image **ret, struct kiln_error *err)
{
        struct kiln_image **v;
        size_t n;
        int r = query_images(s, sql, param, &v, &n, err);
        if (r < 0)
                return r;
        if (n == 0) {
                free(v);
                return -KILN_ENOTFOUND;
        }
        *ret = v[0];
        for (size_t i = 1; i < n; i++)
                kiln_image_free(v[i]);
        free(v);
        return 0;
}

int kiln_store_image_lookup(struct kiln_store *s, const char *what, struct kiln_image **ret,
                            struct kiln_error *err)
{
        int r;
        if (!what || !*what)
                return kiln_err(err, -KILN_EFORMAT, "empty image name");

        /* full manifest or config digest */
        if (kiln_startswith(what, "sha256:") || kiln_startswith(what, "sha512:")) {
                struct kiln_digest d;
                if (kiln_digest_parse(what, &d, NULL) == 0) {
                        r = get_one(s, "SELECT " IMAGE_COLS " FROM images WHERE config_digest = ?1 "
                                       "OR manifest_digest = ?1 ORDER BY added DESC",
                                    d.str, ret, err);
                        if (r != -KILN_ENOTFOUND)
                                return r;
                        return kiln_err(err, -KILN_ENOTFOUND, "no such image: %s", what);
                }
        }

        /* a name */
        _cleanup_(kiln_reference_freep) struct kiln_reference *ref = NULL;
        struct kiln_error perr = { 0 };
        int pr = kiln_reference_parse(what, KILN_REF_DEFAULT_TAG, &ref, &perr);
        if (pr == 0) {
                if (ref->digest) {
                        r = get_one(s, "SELECT " IMAGE_COLS " FROM images WHERE manifest_digest = ?",
                                    ref->digest, ret, err);
                        if (r != -KILN_ENOTFOUND)
                                return r;
                } else {
                        _cleanup_free_ char *name = kiln_reference_string(ref);
                        r = get_one(s, "SELECT " IMAGE_COLS " FROM images WHERE manifest_digest = "
                                       "(SELECT manifest_digest FROM tags WHERE name = ?)",
                                    name, ret, err);
                        if (r != -KILN_ENOTFOUND)
                                return r;
                }
        }

        /* an ID prefix */
        if (kiln_reference_is_id_prefix(what)) {
                const char *hex = strchr(what, ':') ? strchr(what, ':') + 1 : what;
                _cleanup_free_ char *pattern = kiln_xasprintf("sha256:%s*", hex);
                struct kiln_image **v;
                size_t n;
                r = query_images(s,
                                 "SELECT " IMAGE_COLS " FROM images WHERE config_digest GLOB ?1 "
                                 "ORDER BY added DESC",
                                 pattern, &v, &n, err);
                if (r < 0)
                        return r;
                bool ambiguous = false;
                for (size_t i = 1; i < n; i++)
                        if (!kiln_digest_equal(&v[i]->config_digest, &v[0]->config_digest))
                                ambiguous = true;
                if (n > 0 && !ambiguous) {
                        *ret = v[0];
                        for (size_t i = 1; i < n; i++)
                                kiln_image_free(v[i]);
                        free(v);
                        return 0;
                }
                kiln_image_list_free(v, n);
                if (ambiguous)
                        return kiln_err(err, -KILN_ECONFLICT,
                                        "image ID prefix '%s' is ambiguous", what);
        }
        if (pr < 0 && !kiln_reference_is_id_prefix(what))
                return kiln_err(err, pr, "%s", perr.msg);
        return kiln_err(err, -KILN_ENOTFOUND, "no such image: %s", what);
}

int kiln_store_image_load(struct kiln_store *s, const struct kiln_image *img,
                          struct kiln_manifest **ret_manifest, struct kiln_config **ret_config,
                          struct kiln_error *err)
{
        _cleanup_free_ char *raw = NULL;
        size_t len;
        int r = kiln_store_blob_read(s, &img->manifest_digest, KILN_DOC_MAX, &raw, &len, err);
        if (r < 0)
                return r;
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
        r = kiln_manifest_parse(raw, len, img->manifest_media_type, &m, err);
        if (r < 0)
                return kiln_err_prefix(err, r, "image %s: ", img->manifest_digest.str);
        if (ret_config) {
                _cleanup_free_ char *craw = NULL;
                size_t clen;
                r = kiln_store_blob_read(s, &m->config.digest, KILN_DOC_MAX, &craw, &clen, err);
                if (r < 0)
                        return r;
                r = kiln_config_parse(craw, clen, ret_config, err);
                if (r < 0)
                        return kiln_err_prefix(err, r, "image %s: ", img->manifest_digest.str);
        }
        if (ret_manifest)
                *ret_manifest = TAKE_PTR(m);
        return 0;
}

/* ---- index.json ---- */

int store_write_index(struct kiln_store *s, struct kiln_error *err)
{
        json_t *manifests = json_array();
        sqlite3_stmt *st;
        /* tagged images, one entry per name, then untagged ones */
        int r = store_prepare(s,
                              "SELECT name, md, mt, ms FROM ("
                              "SELECT t.name AS name, i.manifest_digest AS md, i.media_type AS mt, "
                              "i.manifest_size AS ms, i.added AS added "
                              "FROM tags t JOIN images i USING (manifest_digest) "
                              "UNION ALL "
                              "SELECT NULL, manifest_digest, media_type, manifest_size, added "
                              "FROM images "
                              "WHERE manifest_digest NOT IN (SELECT manifest_digest FROM tags)) "
                              "ORDER BY name IS NULL, name, added, md",
                              &st, err);
        if (r < 0) {
                json_decref(manifests);
                return r;
        }
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                json_t *d = json_object();
                json_object_set_new(d, "mediaType", json_string(col_text(st, 2)));
                json_object_set_new(d, "digest", json_string(col_text(st, 1)));
                json_object_set_new(d, "size", json_integer(sqlite3_column_int64(st, 3)));
                if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
                        json_t *a = json_object();
                        json_object_set_new(a, KILN_ANNOTATION_REF_NAME,
                                            json_string(col_text(st, 0)));
                        json_object_set_new(a, "io.containerd.image.name",
                                            json_string(col_text(st, 0)));
                        json_object_set_new(d, "annotations", a);
                }
                json_array_append_new(manifests, d);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
                json_decref(manifests);
                return store_sql_err(s, err, "read images for index.json");
        }
        json_t *ix = json_object();
        json_object_set_new(ix, "schemaVersion", json_integer(2));
        json_object_set_new(ix, "mediaType", json_string(KILN_MT_OCI_INDEX));
        json_object_set_new(ix, "manifests", manifests);
        size_t len;
        _cleanup_free_ char *data = kiln_json_dump(ix, &len);
        json_decref(ix);
        r = kiln_fs_write_atomic(s->layout_fd, "index.json", data, len, 0644);
        if (r < 0)
                return kiln_err(err, r, "store: write index.json: %s", kiln_strerror(r));
        return 0;
}

/* Commit a write transaction after regenerating index.json. */
static int finish_write(struct kiln_store *s, int r, struct kiln_error *err)
{
        if (r >= 0)
                r = store_write_index(s, err);
        if (r >= 0)
                r = store_commit(s, err);
        if (r < 0) {
                store_rollback(s);
                /* index.json may have been written for the rolled-back state */
                struct kiln_error ignored;
                if (store_begin(s, &ignored) == 0) {
                        store_write_index(s, &ignored);
                        store_commit(s, &ignored);
                }
        }
        return r;
}

static int bind_exec(struct kiln_store *s, const char *sql, const char *a, const char *b,
                     int64_t c, struct kiln_error *err)
{
        sqlite3_stmt *st;
        int r = store_prepare(s, sql, &st, err);
        if (r < 0)
                return r;
        if (a)
                sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
        if (b)
                sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, c);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                return store_sql_err(s, err, "update");
        return 0;
}

int kiln_store_layer_record(struct kiln_store *s, const struct kiln_digest *blob,
                            const struct kiln_digest *diff_id, int64_t uncompressed_size,
                            struct kiln_error *err)
{
        if (s->readonly)
                return kiln_err(err, -EROFS, "store %s is open read-only", s->root);
        return bind_exec(s,
                         "INSERT OR REPLACE INTO layer_blobs(blob, diff_id, uncompressed_size) "
                         "VALUES (?1, ?2, ?3)",
                         blob->str, diff_id->str, uncompressed_size, err);
}

int kiln_store_layer_lookup(struct kiln_store *s, const struct kiln_digest *blob,
                            struct kiln_digest *ret_diff_id, int64_t *ret_uncompressed_size)
{
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db,
                               "SELECT diff_id, uncompressed_size FROM layer_blobs WHERE blob = ?",
                               -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        sqlite3_bind_text(st, 1, blob->str, -1, SQLITE_STATIC);
        int r = -KILN_ENOTFOUND;
        if (sqlite3_step(st) == SQLITE_ROW) {
                struct kiln_digest d;
                if (kiln_digest_parse(col_text(st, 0), &d, NULL) == 0) {
                        if (ret_diff_id)
                                *ret_diff_id = d;
                        if (ret_uncompressed_size)
                                *ret_uncompressed_size = sqlite3_column_int64(st, 1);
                        r = 0;
                }
        }
        sqlite3_finalize(st);
        return r;
}

static int set_tag(struct kiln_store *s, const char *name, const char *manifest,
                   struct kiln_error *err)
{
        return bind_exec(s,
                         "INSERT OR REPLACE INTO tags(name, manifest_digest, tagged) "
                         "VALUES (?1, ?2, ?3)",
                         name, manifest, store_now(), err);
}

/* Normalize a user-given name into a full reference string. */
static int normalize_name(const char *name, char **ret, struct kiln_error *err)
{
        _cleanup_(kiln_reference_freep) struct kiln_reference *ref = NULL;
        int r = kiln_reference_parse(name, KILN_REF_DEFAULT_TAG | KILN_REF_NO_DIGEST, &ref, err);
        if (r < 0)
                return r;
        *ret = kiln_reference_string(ref);
        return 0;
}

int kiln_store_image_add(struct kiln_store *s, const struct kiln_digest *manifest,
                         const char *const *names, size_t n_names, struct kiln_image **ret,
                         struct kiln_error *err)
{
        int r = store_lock(s, LOCK_SH, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *raw = NULL;
        size_t len;
        r = kiln_store_blob_read(s, manifest, KILN_DOC_MAX, &raw, &len, err);
        if (r < 0)
                return r;
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
        r = kiln_manifest_parse(raw, len, NULL, &m, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *craw = NULL;
        size_t clen;
        r = kiln_store_blob_read(s, &m->config.digest, KILN_DOC_MAX, &craw, &clen, err);
        if (r < 0)
                return kiln_err_prefix(err, r, "image %s: config: ", manifest->str);
        _cleanup_(kiln_config_freep) struct kiln_config *c = NULL;
        r = kiln_config_parse(craw, clen, &c, err);
        if (r < 0)
                return r;
        if (c->n_diff_ids != m->n_layers)
                return kiln_err(err, -KILN_EFORMAT,
                                "image %s: config has %zu diff_ids but the manifest %zu layers",
                                manifest->str, c->n_diff_ids, m->n_layers);
        for (size_t i = 0; i < m->n_layers; i++)
                if (!kiln_store_blob_exists(s, &m->layers[i].digest))
                        return kiln_err(err, -KILN_ENOTFOUND, "image %s: layer %s: not in the store",
                                        manifest->str, m->layers[i].digest.str);

        _cleanup_strv_free_ char **full = kiln_xcalloc(n_names + 1, sizeof(char *));
        for (size_t i = 0; i < n_names; i++) {
                r = normalize_name(names[i], &full[i], err);
                if (r < 0)
                        return r;
        }

        int64_t created = c->created ? kiln_parse_rfc3339(c->created) : 0;
        if (created < 0)
                created = 0;

        r = store_begin(s, err);
        if (r < 0)
                return r;
        /* size: uncompressed sizes where known, else the blob sizes */
        int64_t size = 0;
        for (size_t i = 0; i < m->n_layers && r >= 0; i++) {
                sqlite3_stmt *st;
                r = store_prepare(s, "SELECT uncompressed_size FROM layer_blobs WHERE blob = ?", &st,
                                  err);
                if (r < 0)
                        break;
                sqlite3_bind_text(st, 1, m->layers[i].digest.str, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW)
                        size += sqlite3_column_int64(st, 0);
                else
                        size += m->layers[i].size;
                sqlite3_finalize(st);
        }
        if (r >= 0) {
                sqlite3_stmt *st;
                r = store_prepare(s,
                                  "INSERT INTO images(manifest_digest, config_digest, media_type, "
                                  "manifest_size, created, size, added) VALUES (?,?,?,?,?,?,?) "
                                  "ON CONFLICT(manifest_digest) DO NOTHING",
                                  &st, err);
                if (r >= 0) {
                        sqlite3_bind_text(st, 1, manifest->str, -1, SQLITE_STATIC);
                        sqlite3_bind_text(st, 2, m->config.digest.str, -1, SQLITE_STATIC);
                        sqlite3_bind_text(st, 3, m->media_type, -1, SQLITE_STATIC);
                        sqlite3_bind_int64(st, 4, (int64_t)len);
                        sqlite3_bind_int64(st, 5, created);
                        sqlite3_bind_int64(st, 6, size);
                        sqlite3_bind_int64(st, 7, store_now());
                        if (sqlite3_step(st) != SQLITE_DONE)
                                r = store_sql_err(s, err, "insert image");
                        sqlite3_finalize(st);
                }
        }
        for (size_t i = 0; r >= 0 && i <= m->n_layers; i++) {
                const char *blob = i == 0 ? m->config.digest.str : m->layers[i - 1].digest.str;
                r = bind_exec(s,
                              "INSERT OR IGNORE INTO image_blobs(manifest_digest, blob) "
                              "VALUES (?1, ?2)",
                              manifest->str, blob, 0, err);
        }
        for (size_t i = 0; r >= 0 && i < m->n_layers; i++) {
                sqlite3_stmt *st;
                r = store_prepare(s,
                                  "INSERT OR REPLACE INTO image_layers(manifest_digest, idx, blob, "
                                  "diff_id) VALUES (?,?,?,?)",
                                  &st, err);
                if (r < 0)
                        break;
                sqlite3_bind_text(st, 1, manifest->str, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, (int64_t)i);
                sqlite3_bind_text(st, 3, m->layers[i].digest.str, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 4, c->diff_ids[i].str, -1, SQLITE_STATIC);
                if (sqlite3_step(st) != SQLITE_DONE)
                        r = store_sql_err(s, err, "insert image layer");
                sqlite3_finalize(st);
        }
        for (size_t i = 0; r >= 0 && i < n_names; i++)
                r = set_tag(s, full[i], manifest->str, err);
        r = finish_write(s, r, err);
        if (r < 0)
                return r;
        if (ret) {
                r = get_one(s, "SELECT " IMAGE_COLS " FROM images WHERE manifest_digest = ?",
                            manifest->str, ret, err);
                if (r == -KILN_ENOTFOUND)
                        return kiln_err(err, -KILN_ECORRUPT, "image %s vanished", manifest->str);
        }
        return r;
}

int kiln_store_tag(struct kiln_store *s, const struct kiln_image *img, const char *name,
                   struct kiln_error *err)
{
        _cleanup_free_ char *full = NULL;
        int r = normalize_name(name, &full, err);
        if (r < 0)
                return r;
        r = store_begin(s, err);
        if (r < 0)
                return r;
        /* the image may have been removed since it was looked up */
        sqlite3_stmt *st;
        r = store_prepare(s, "SELECT 1 FROM images WHERE manifest_digest = ?", &st, err);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, img->manifest_digest.str, -1, SQLITE_STATIC);
                if (sqlite3_step(st) != SQLITE_ROW)
                        r = kiln_err(err, -KILN_ENOTFOUND, "no such image: %s",
                                     img->config_digest.str);
                sqlite3_finalize(st);
        }
        if (r >= 0)
                r = set_tag(s, full, img->manifest_digest.str, err);
        return finish_write(s, r, err);
}

static int changes(struct kiln_store *s)
{
        return sqlite3_changes(s->db);
}

int kiln_store_untag(struct kiln_store *s, const char *name, struct kiln_error *err)
{
        _cleanup_free_ char *full = NULL;
        int r = normalize_name(name, &full, err);
        if (r < 0)
                return r;
        r = store_begin(s, err);
        if (r < 0)
                return r;
        r = bind_exec(s, "DELETE FROM tags WHERE name = ?1", full, NULL, 0, err);
        if (r >= 0 && changes(s) == 0)
                r = kiln_err(err, -KILN_ENOTFOUND, "no such tag: %s", name);
        return finish_write(s, r, err);
}

int store_delete_image_rows(struct kiln_store *s, const char *manifest_digest,
                            struct kiln_error *err)
{
        static const char *const sqls[] = {
                "DELETE FROM images WHERE manifest_digest = ?1",
                "DELETE FROM image_blobs WHERE manifest_digest = ?1",
                "DELETE FROM image_layers WHERE manifest_digest = ?1",
                "DELETE FROM tags WHERE manifest_digest = ?1",
        };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(sqls); i++) {
                int r = bind_exec(s, sqls[i], manifest_digest, NULL, 0, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Manifest digests sharing this config digest (the same image ID). */
static int count_tags(struct kiln_store *s, const char *manifest, int *ret, struct kiln_error *err)
{
        sqlite3_stmt *st;
        int r = store_prepare(s, "SELECT count(*) FROM tags WHERE manifest_digest = ?", &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, manifest, -1, SQLITE_STATIC);
        *ret = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_finalize(st);
        return 0;
}

int kiln_store_image_remove(struct kiln_store *s, const char *what, bool force,
                            char ***ret_untagged, char ***ret_deleted, struct kiln_error *err)
{
        _cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
        int r = kiln_store_image_lookup(s, what, &img, err);
        if (r < 0)
                return r;

        /* was it named by one of its names? */
        _cleanup_free_ char *byname = NULL;
        {
                _cleanup_(kiln_reference_freep) struct kiln_reference *ref = NULL;
                if (kiln_reference_parse(what, KILN_REF_DEFAULT_TAG, &ref, NULL) == 0 &&
                    !ref->digest) {
                        _cleanup_free_ char *full = kiln_reference_string(ref);
                        for (size_t i = 0; i < img->n_names; i++)
                                if (!strcmp(img->names[i], full)) {
                                        byname = TAKE_PTR(full);
                                        break;
                                }
                }
        }

        char **untagged = NULL, **deleted = NULL;
        r = store_begin(s, err);
        if (r < 0)
                return r;
        int ntags = 0;
        r = count_tags(s, img->manifest_digest.str, &ntags, err);
        int nctr = kiln_store_container_count_for_image(s, &img->manifest_digest);
        if (r >= 0 && nctr > 0 && !(byname && ntags > 1)) {
                /* as docker: a container keeps its image; -f only untags */
                if (!force) {
                        char id[16];
                        kiln_digest_short(&img->config_digest, id, sizeof(id));
                        r = kiln_err(err, -KILN_EINUSE,
                                     "conflict: unable to remove %s%s%s (must be forced) - image %s is "
                                     "used by %d container%s",
                                     byname ? "repository reference \"" : "", byname ? what : id,
                                     byname ? "\"" : "", id, nctr, nctr > 1 ? "s" : "");
                } else {
                        for (size_t i = 0; r >= 0 && i < img->n_names; i++) {
                                r = bind_exec(s, "DELETE FROM tags WHERE name = ?1", img->names[i],
                                              NULL, 0, err);
                                if (r >= 0)
                                        kiln_strv_push(&untagged, img->names[i]);
                        }
                }
        } else if (r >= 0 && byname && ntags > 1) {
                /* just drop this name */
                r = bind_exec(s, "DELETE FROM tags WHERE name = ?1", byname, NULL, 0, err);
                if (r >= 0)
                        kiln_strv_push(&untagged, byname);
        } else if (r >= 0) {
                if (!byname && ntags > 1 && !force) {
                        char id[16];
                        kiln_digest_short(&img->config_digest, id, sizeof(id));
                        r = kiln_err(err, -KILN_EINUSE,
                                     "conflict: unable to delete %s (must be forced) - image is "
                                     "referenced in multiple repositories",
                                     id);
                } else {
                        for (size_t i = 0; i < img->n_names; i++)
                                kiln_strv_push(&untagged, img->names[i]);
                        r = store_delete_image_rows(s, img->manifest_digest.str, err);
                        if (r >= 0)
                                kiln_strv_push(&deleted, img->config_digest.str);
                }
        }
        r = finish_write(s, r, err);
        if (r < 0) {
                kiln_strv_free(untagged);
                kiln_strv_free(deleted);
                return r;
        }
        if (ret_untagged)
                *ret_untagged = untagged ? untagged : kiln_xcalloc(1, sizeof(char *));
        else
                kiln_strv_free(untagged);
        if (ret_deleted)
                *ret_deleted = deleted ? deleted : kiln_xcalloc(1, sizeof(char *));
        else
                kiln_strv_free(deleted);
        return 0;
}

int kiln_store_image_prune(struct kiln_store *s, bool all, char ***ret_deleted,
                           struct kiln_error *err)
{
        int r = store_begin(s, err);
        if (r < 0)
                return r;
        sqlite3_stmt *st;
        char **deleted = NULL;
        int count = 0;
        r = store_prepare(s,
                          all ? "SELECT manifest_digest, config_digest FROM images WHERE "
                                "manifest_digest NOT IN (SELECT image FROM containers)"
                              : "SELECT manifest_digest, config_digest FROM images WHERE "
                                "manifest_digest NOT IN (SELECT manifest_digest FROM tags) AND "
                                "manifest_digest NOT IN (SELECT image FROM containers)",
                          &st, err);
        if (r >= 0) {
                char **victims = NULL;
                while (sqlite3_step(st) == SQLITE_ROW) {
                        kiln_strv_push(&victims, col_text(st, 0));
                        kiln_strv_push(&deleted, col_text(st, 1));
                }
                sqlite3_finalize(st);
                for (size_t i = 0; r >= 0 && victims && victims[i]; i++) {
                        r = store_delete_image_rows(s, victims[i], err);
                        count++;
                }
                kiln_strv_free(victims);
        }
        r = finish_write(s, r, err);
        if (r < 0) {
                kiln_strv_free(deleted);
                return r;
        }
        if (ret_deleted)
                *ret_deleted = deleted ? deleted : kiln_xcalloc(1, sizeof(char *));
        else
                kiln_strv_free(deleted);
        return count;
}
