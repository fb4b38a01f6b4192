/* SPDX-License-Identifier: Apache-2.0 */
/* Container records: a JSON document per container, indexed by ID and name. */
#include <string.h>
#include "store-internal.h"

static int container_put(struct kiln_store *s, const char *id, const char *name,
                         const struct kiln_digest *image, json_t *doc, struct kiln_error *err);

static bool is_hex_prefix(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

int kiln_store_container_put(struct kiln_store *s, const char *id, const char *name,
                             const struct kiln_digest *image, json_t *doc,
                             struct kiln_error *err)
{
        /* a container's record changes at every start and stop: in WAL mode
         * NORMAL keeps it consistent through any crash, and a power loss can
         * at worst bring back the previous state of a container */
        sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
        int r = container_put(s, id, name, image, doc, err);
        sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
        return r;
}

static int container_put(struct kiln_store *s, const char *id, const char *name,
                         const struct kiln_digest *image, json_t *doc, struct kiln_error *err)
{
        int r = store_begin(s, err);
        if (r < 0)
                return r;
        sqlite3_stmt *st;
        r = store_prepare(s, "SELECT id FROM containers WHERE name = ? AND id != ?", &st, err);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW)
                        r = kiln_err(err, -KILN_ECONFLICT,
                                     "the container name \"%s\" is already in use by container %.12s",
                                     name, (const char *)sqlite3_column_text(st, 0));
                sqlite3_finalize(st);
        }
        _cleanup_free_ char *text = NULL;
        if (r >= 0) {
                text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
                r = store_prepare(s,
                                  "INSERT INTO containers(id, name, image, created, doc) "
                                  "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO UPDATE SET "
                                  "name = excluded.name, image = excluded.image, doc = excluded.doc",
                                  &st, err);
        }
        if (r >= 0) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, image->str, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 4, store_now());
                sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
                if (sqlite3_step(st) != SQLITE_DONE)
                        r = store_sql_err(s, err, "save container");
                sqlite3_finalize(st);
        }
        if (r >= 0)
                return store_commit(s, err);
        store_rollback(s);
        return r;
}

static int load_doc(sqlite3_stmt *st, int col, json_t **ret, struct kiln_error *err)
{
        json_error_t je;
        json_t *j = json_loads((const char *)sqlite3_column_text(st, col), 0, &je);
        if (!j)
                return kiln_err(err, -KILN_ECORRUPT, "container record: %s", je.text);
        *ret = j;
        return 0;
}

int kiln_store_container_get(struct kiln_store *s, const char *what, char **ret_id,
                             json_t **ret_doc, struct kiln_error *err)
{
        sqlite3_stmt *st;
        /* exact name or ID first, then a unique ID prefix */
        int r = store_prepare(s, "SELECT id, doc FROM containers WHERE id = ?1 OR name = ?1", &st, err);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, what, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
                json_t *doc;
                r = load_doc(st, 1, &doc, err);
                if (r >= 0) {
                        if (ret_id)
                                *ret_id = kiln_xstrdup((const char *)sqlite3_column_text(st, 0));
                        *ret_doc = doc;
                }
                sqlite3_finalize(st);
                return r;
        }
        sqlite3_finalize(st);
        if (is_hex_prefix(what)) {
                _cleanup_free_ char *pattern = kiln_xasprintf("%s*", what);
                r = store_prepare(s, "SELECT id, doc FROM containers WHERE id GLOB ? LIMIT 2", &st, err);
                if (r < 0)
                        return r;
                sqlite3_bind_text(st, 1, pattern, -1, SQLITE_STATIC);
                int n = 0;
                json_t *doc = NULL;
                char *id = NULL;
                while (sqlite3_step(st) == SQLITE_ROW) {
                        if (n++ == 0) {
                                r = load_doc(st, 1, &doc, err);
                                id = kiln_xstrdup((const char *)sqlite3_column_text(st, 0));
                        }
                }
                sqlite3_finalize(st);
                if (n == 1 && r >= 0) {
                        if (ret_id)
                                *ret_id = id;
                        else
                                free(id);
                        *ret_doc = doc;
                        return 0;
                }
                json_decref(doc);
                free(id);
                if (r < 0)
                        return r;
                if (n > 1)
                        return kiln_err(err, -KILN_ECONFLICT, "container ID prefix '%s' is ambiguous",
                                        what);
        }
        return kiln_err(err, -KILN_ENOTFOUND, "no such container: %s", what);
}

int kiln_store_container_list(struct kiln_store *s, json_t **ret, struct kiln_error *err)
{
        sqlite3_stmt *st;
        int r = store_prepare(s, "SELECT doc FROM containers ORDER BY created DESC, rowid DESC", &st,
                              err);
        if (r < 0)
                return r;
        json_t *arr = json_array();
        while (sqlite3_step(st) == SQLITE_ROW) {
                json_t *doc;
                if (load_doc(st, 0, &doc, NULL) == 0)
                        json_array_append_new(arr, doc);
        }
        sqlite3_finalize(st);
        *ret = arr;
        return 0;
}

static int container_delete(struct kiln_store *s, const char *id, struct kiln_error *err);

int kiln_store_container_delete(struct kiln_store *s, const char *id, struct kiln_error *err)
{
        /* as container_put: NORMAL keeps the database consistent through any
         * crash; a power loss can at worst bring the record back, and a
         * record without its directory is removed by `kiln rm` as usual */
        sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
        int r = container_delete(s, id, err);
        sqlite3_exec(s->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
        return r;
}

static int container_delete(struct kiln_store *s, const char *id, struct kiln_error *err)
{
        int r = store_begin(s, err);
        if (r < 0)
                return r;
        sqlite3_stmt *st;
        r = store_prepare(s, "DELETE FROM containers WHERE id = ?", &st, err);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                if (sqlite3_step(st) != SQLITE_DONE)
                        r = store_sql_err(s, err, "delete container");
                sqlite3_finalize(st);
        }
        if (r >= 0)
                return store_commit(s, err);
        store_rollback(s);
        return r;
}

int kiln_store_container_count_for_image(struct kiln_store *s, const struct kiln_digest *image)
{
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM containers WHERE image = ?", -1, &st,
                               NULL) != SQLITE_OK)
                return -EIO;
        sqlite3_bind_text(st, 1, image->str, -1, SQLITE_STATIC);
        int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_finalize(st);
        return n;
}
