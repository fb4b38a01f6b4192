/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store maintenance: garbage collection, fsck and disk usage. gc and fsck
 * hold the store lock exclusively, so no writer is between writing a blob
 * and recording the image that references it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "kiln/fs.h"
#include "store-internal.h"

/* Is this blob digest string referenced by any image or build cache entry? */
bool store_blob_referenced(struct kiln_store *s, const char *digest)
{
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db,
                               "SELECT 1 FROM images WHERE manifest_digest = ?1 "
                               "UNION ALL SELECT 1 FROM image_blobs WHERE blob = ?1 "
                               "UNION ALL SELECT 1 FROM build_cache WHERE blob = ?1 LIMIT 1",
                               -1, &st, NULL) != SQLITE_OK)
                return true; /* when in doubt, keep */
        sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc != SQLITE_DONE;
}

bool store_diff_id_referenced(struct kiln_store *s, const char *diff_id)
{
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM image_layers WHERE diff_id = ?1 "
                               "UNION ALL SELECT 1 FROM build_cache WHERE diff_id = ?1 LIMIT 1", -1,
                               &st, NULL) != SQLITE_OK)
                return true;
        sqlite3_bind_text(st, 1, diff_id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc != SQLITE_DONE;
}

static bool unpacked_recorded(struct kiln_store *s, const char *diff_id)
{
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM unpacked WHERE diff_id = ?", -1, &st, NULL) !=
            SQLITE_OK)
                return true;
        sqlite3_bind_text(st, 1, diff_id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_ROW;
}

static bool is_hex(const char *s, size_t n)
{
        if (strlen(s) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

typedef int (*entry_fn)(struct kiln_store *s, int dirfd, const char *name, void *ud);

/* Call fn for each entry of dirfd/path (not . and ..). */
static int for_each_entry(struct kiln_store *s, int parentfd, const char *path, entry_fn fn,
                          void *ud)
{
        int fd = openat(parentfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        /* collect first: fn may remove entries */
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                names = kiln_xrealloc(names, (n + 1) * sizeof(char *));
                names[n++] = kiln_xstrdup(de->d_name);
        }
        int r = 0;
        for (size_t i = 0; i < n; i++) {
                if (r >= 0)
                        r = fn(s, dirfd(d), names[i], ud);
                free(names[i]);
        }
        free(names);
        closedir(d);
        return r;
}

static int64_t entry_size(int dirfd, const char *name)
{
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        return (int64_t)st.st_blocks * 512;
}

/* Disk usage of a tree (allocated blocks, hardlinks counted once per dir walk). */
int64_t store_tree_size(int parentfd, const char *name)
{
        struct stat st;
        if (fstatat(parentfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        int64_t total = (int64_t)st.st_blocks * 512;
        if (!S_ISDIR(st.st_mode))
                return total;
        int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return total;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return total;
        }
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        total += store_tree_size(dirfd(d), de->d_name);
        closedir(d);
        return total;
}

/* ---- gc ---- */

struct gc_ctx {
        struct kiln_gc_report rep;
        const char *alg;
};

static int gc_blob(struct kiln_store *s, int dirfd, const char *name, void *ud)
{
        struct gc_ctx *g = ud;
        _cleanup_free_ char *digest = kiln_xasprintf("%s:%s", g->alg, name);
        if (store_blob_referenced(s, digest))
                return 0;
        int64_t sz = entry_size(dirfd, name);
        if (unlinkat(dirfd, name, 0) == 0) {
                g->rep.blobs_removed++;
                g->rep.bytes_freed += sz;
        }
        return 0;
}

static int gc_layer(struct kiln_store *s, int dirfd, const char *name, void *ud)
{
        struct gc_ctx *g = ud;
        _cleanup_free_ char *diff_id = kiln_xasprintf("sha256:%s", name);
        if (is_hex(name, 64) && store_diff_id_referenced(s, diff_id) && unpacked_recorded(s, diff_id))
                return 0;
        int64_t sz = store_tree_size(dirfd, name);
        if (kiln_fs_rm_rf_at(dirfd, name) == 0) {
                g->rep.layers_removed++;
                g->rep.bytes_freed += sz;
        }
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, "DELETE FROM unpacked WHERE diff_id = ?", -1, &st, NULL) ==
            SQLITE_OK) {
                sqlite3_bind_text(st, 1, diff_id, -1, SQLITE_STATIC);
                sqlite3_step(st);
                sqlite3_finalize(st);
        }
        return 0;
}

static int gc_tmp(struct kiln_store *s, int dirfd, const char *name, void *ud)
{
        /* under the exclusive lock no writer is active: every temp is stale.
         * Unpack lock files may be held by a waiting unpacker: keep those. */
        if (kiln_endswith(name, ".lock"))
                return 0;
        kiln_fs_rm_rf_at(dirfd, name);
        return 0;
}

int kiln_store_gc(struct kiln_store *s, struct kiln_gc_report *ret, struct kiln_error *err)
{
        int r = store_lock(s, LOCK_EX, err);
        if (r < 0)
                return r;
        /* index.json must not name anything about to go */
        r = store_begin(s, err);
        if (r < 0)
                return r;
        r = store_write_index(s, err);
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        r = store_commit(s, err);
        if (r < 0)
                return r;

        struct gc_ctx g = { 0 };
        g.alg = "sha256";
        r = for_each_entry(s, s->layout_fd, "blobs/sha256", gc_blob, &g);
        if (r >= 0) {
                g.alg = "sha512";
                r = for_each_entry(s, s->layout_fd, "blobs/sha512", gc_blob, &g);
        }
        if (r >= 0)
                r = store_exec(s,
                               "DELETE FROM layer_blobs WHERE blob NOT IN "
                               "(SELECT blob FROM image_blobs) AND blob NOT IN "
                               "(SELECT blob FROM build_cache WHERE blob IS NOT NULL)",
                               err);
        if (r >= 0)
                r = for_each_entry(s, s->root_fd, "layers", gc_layer, &g);
        if (r >= 0)
                r = store_exec(s,
                               "DELETE FROM unpacked WHERE diff_id NOT IN "
                               "(SELECT diff_id FROM image_layers) AND diff_id NOT IN "
                               "(SELECT diff_id FROM build_cache WHERE diff_id IS NOT NULL)",
                               err);
        if (r >= 0)
                r = for_each_entry(s, s->root_fd, "tmp", gc_tmp, &g);
        store_lock(s, LOCK_SH, NULL);
        if (r < 0)
                return r == -1 ? r : kiln_err(err, r, "gc: %s", kiln_strerror(r));
        if (ret)
                *ret = g.rep;
        return 0;
}

/* ---- fsck ---- */

struct fsck_ctx {
        struct kiln_fsck_report rep;
        bool repair;
        const char *alg;
        enum kiln_digest_alg algid;
};

__attribute__((format(printf, 3, 0))) static void add_message(struct fsck_ctx *f, const char *prefix,
                                                             const char *fmt, va_list ap)
{
        char *m, *full;
        if (vasprintf(&m, fmt, ap) < 0)
                abort();
        full = kiln_xasprintf("%s%s", prefix, m);
        free(m);
        kiln_strv_push_take(&f->rep.messages, full);
}

static void problem(struct fsck_ctx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct fsck_ctx *f, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        add_message(f, "", fmt, ap);
        va_end(ap);
        f->rep.problems++;
}

/* Leftovers of an interrupted write: harmless, reported, removed on repair. */
static void garbage(struct fsck_ctx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void garbage(struct fsck_ctx *f, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        add_message(f, "garbage: ", fmt, ap);
        va_end(ap);
        f->rep.garbage++;
}

void kiln_fsck_report_clear(struct kiln_fsck_report *r)
{
        if (!r)
                return;
        kiln_strv_free(r->messages);
        memset(r, 0, sizeof(*r));
}

static int fsck_blob(struct kiln_store *s, int dirfd, const char *name, void *ud)
{
        struct fsck_ctx *f = ud;
        size_t hexlen = f->algid == KILN_DIGEST_SHA512 ? 128 : 64;
        f->rep.blobs_checked++;
        if (!is_hex(name, hexlen)) {
                problem(f, "blobs/%s/%s: not a blob name%s", f->alg, name,
                        f->repair ? " (removed)" : "");
                if (f->repair && kiln_fs_rm_rf_at(dirfd, name) == 0)
                        f->rep.repaired++;
                return 0;
        }
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct kiln_digest got;
        int r = fd < 0 ? -errno : kiln_digest_fd(f->algid, fd, &got, NULL);
        if (r < 0 || strcmp(kiln_digest_hex(&got), name) != 0) {
                f->rep.blobs_corrupt++;
                problem(f, "blob %s:%s: %s%s", f->alg, name,
                        r < 0 ? kiln_strerror(r) : "content does not match its digest",
                        f->repair ? " (removed)" : "");
                if (f->repair && unlinkat(dirfd, name, 0) == 0)
                        f->rep.repaired++;
        }
        return 0;
}

static int fsck_layer_dir(struct kiln_store *s, int dirfd, const char *name, void *ud)
{
        struct fsck_ctx *f = ud;
        f->rep.layers_checked++;
        _cleanup_free_ char *diff_id = kiln_xasprintf("sha256:%s", name);
        if (is_hex(name, 64) && unpacked_recorded(s, diff_id))
                return 0;
        garbage(f, "layers/%s: unpacked layer not recorded (interrupted unpack)%s", name,
                f->repair ? " (removed)" : "");
        if (f->repair)
                kiln_fs_rm_rf_at(dirfd, name);
        return 0;
}

static int fsck_tmp(struct kiln_store *s, int dirfd, const char *name, void *ud)
{
        struct fsck_ctx *f = ud;
        if (kiln_endswith(name, ".lock"))
                return 0;
        garbage(f, "tmp/%s: leftover of an interrupted write%s", name,
                f->repair ? " (removed)" : "");
        if (f->repair)
                kiln_fs_rm_rf_at(dirfd, name);
        return 0;
}

/* Check one image: documents readable and valid, every blob present. */
static bool fsck_image(struct kiln_store *s, struct fsck_ctx *f, const struct kiln_image *img)
{
        struct kiln_error e = { 0 };
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
        _cleanup_(kiln_config_freep) struct kiln_config *c = NULL;
        int r = kiln_store_image_load(s, img, &m, &c, &e);
        if (r < 0) {
                if (r == -KILN_ENOTFOUND)
                        f->rep.blobs_missing++;
                problem(f, "image %s: %s", img->manifest_digest.str, e.msg);
                return false;
        }
        bool ok = true;
        for (size_t i = 0; i < m->n_layers; i++) {
                if (!kiln_store_blob_exists(s, &m->layers[i].digest)) {
                        f->rep.blobs_missing++;
                        problem(f, "image %s: layer %s: missing", img->manifest_digest.str,
                                m->layers[i].digest.str);
                        ok = false;
                }
        }
        if (c->n_diff_ids != m->n_layers) {
                problem(f, "image %s: config lists %zu diff_ids for %zu layers",
                        img->manifest_digest.str, c->n_diff_ids, m->n_layers);
                ok = false;
        }
        return ok;
}

int kiln_store_fsck(struct kiln_store *s, bool repair, struct kiln_fsck_report *ret,
                    struct kiln_error *err)
{
        int r = store_lock(s, LOCK_EX, err);
        if (r < 0)
                return r;
        struct fsck_ctx f = { .repair = repair };

        /* the layout files */
        _cleanup_free_ char *lay = NULL;
        size_t len;
        if (kiln_fs_read_file(s->layout_fd, "oci-layout", 4096, &lay, &len) < 0 ||
            !strstr(lay, "\"imageLayoutVersion\""))
                problem(&f, "oci/oci-layout: missing or invalid%s", repair ? " (rewritten)" : "");

        /* blobs: re-hash every one */
        f.alg = "sha256";
        f.algid = KILN_DIGEST_SHA256;
        r = for_each_entry(s, s->layout_fd, "blobs/sha256", fsck_blob, &f);
        if (r >= 0) {
                f.alg = "sha512";
                f.algid = KILN_DIGEST_SHA512;
                r = for_each_entry(s, s->layout_fd, "blobs/sha512", fsck_blob, &f);
        }
        if (r < 0) {
                kiln_fsck_report_clear(&f.rep);
                store_lock(s, LOCK_SH, NULL);
                return kiln_err(err, r, "fsck: blobs: %s", kiln_strerror(r));
        }

        /* images: every reference resolves */
        struct kiln_image **v = NULL;
        size_t n = 0;
        r = kiln_store_image_list(s, &v, &n, err);
        if (r < 0) {
                kiln_fsck_report_clear(&f.rep);
                store_lock(s, LOCK_SH, NULL);
                return r;
        }
        char **broken = NULL;
        size_t nbroken = 0;
        for (size_t i = 0; i < n; i++) {
                f.rep.images_checked++;
                if (!fsck_image(s, &f, v[i])) {
                        f.rep.images_broken++;
                        broken = kiln_xrealloc(broken, (nbroken + 1) * sizeof(char *));
                        broken[nbroken++] = kiln_xstrdup(v[i]->manifest_digest.str);
                }
        }
        kiln_image_list_free(v, n);

        /* index.json matches the database */
        _cleanup_free_ char *ix = NULL;
        bool index_ok = kiln_fs_read_file(s->layout_fd, "index.json", KILN_DOC_MAX, &ix, &len) == 0;
        if (index_ok) {
                _cleanup_(kiln_index_freep) struct kiln_index *parsed = NULL;
                index_ok = kiln_index_parse(ix, len, KILN_MT_OCI_INDEX, &parsed, NULL) == 0;
                for (size_t i = 0; index_ok && i < parsed->n_manifests; i++)
                        if (!store_blob_referenced(s, parsed->manifests[i].digest.str) ||
                            !kiln_store_blob_exists(s, &parsed->manifests[i].digest))
                                index_ok = false;
        }
        if (!index_ok)
                problem(&f, "oci/index.json: does not match the store's images%s",
                        repair ? " (rewritten)" : "");

        r = for_each_entry(s, s->root_fd, "layers", fsck_layer_dir, &f);
        if (r >= 0)
                r = for_each_entry(s, s->root_fd, "tmp", fsck_tmp, &f);

        if (repair && r >= 0) {
                r = store_begin(s, err);
                for (size_t i = 0; r >= 0 && i < nbroken; i++) {
                        r = store_delete_image_rows(s, broken[i], err);
                        if (r >= 0)
                                f.rep.repaired++;
                }
                if (r >= 0 && (lay == NULL || !strstr(lay, "\"imageLayoutVersion\""))) {
                        static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
                        r = kiln_fs_write_atomic(s->layout_fd, "oci-layout", layout,
                                                 sizeof(layout) - 1, 0644);
                        if (r >= 0)
                                f.rep.repaired++;
                }
                if (r >= 0) {
                        r = store_write_index(s, err);
                        if (r >= 0 && !index_ok)
                                f.rep.repaired++;
                }
                if (r >= 0)
                        r = store_commit(s, err);
                else
                        store_rollback(s);
        }
        for (size_t i = 0; i < nbroken; i++)
                free(broken[i]);
        free(broken);
        store_lock(s, LOCK_SH, NULL);
        if (r < 0) {
                kiln_fsck_report_clear(&f.rep);
                return r;
        }
        if (ret)
                *ret = f.rep;
        else
                kiln_fsck_report_clear(&f.rep);
        return 0;
}

/* ---- df ---- */

int kiln_store_df(struct kiln_store *s, struct kiln_df_report *ret, struct kiln_error *err)
{
        struct kiln_df_report d = { 0 };
        sqlite3_stmt *st;
        int r = store_prepare(s,
                              "SELECT count(*), (SELECT count(DISTINCT manifest_digest) FROM tags) "
                              "FROM images",
                              &st, err);
        if (r < 0)
                return r;
        if (sqlite3_step(st) == SQLITE_ROW) {
                d.images = (uint64_t)sqlite3_column_int64(st, 0);
                d.images_active_names = (uint64_t)sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);

        /* sizes of the blobs images use: each blob once; reclaimable are
         * those only untagged images use */
        r = store_prepare(s,
                          "SELECT blob, max(manifest_digest IN (SELECT manifest_digest FROM tags)) "
                          "FROM (SELECT manifest_digest, blob FROM image_blobs UNION "
                          "SELECT manifest_digest, manifest_digest FROM images) GROUP BY blob",
                          &st, err);
        if (r < 0)
                return r;
        while (sqlite3_step(st) == SQLITE_ROW) {
                struct kiln_digest dg;
                if (kiln_digest_parse((const char *)sqlite3_column_text(st, 0), &dg, NULL) < 0)
                        continue;
                char path[200];
                store_blob_path(&dg, path, sizeof(path));
                struct stat stt;
                if (fstatat(s->layout_fd, path, &stt, 0) < 0)
                        continue;
                d.images_size += stt.st_size;
                if (!sqlite3_column_int(st, 1))
                        d.reclaimable += stt.st_size;
        }
        sqlite3_finalize(st);

        r = store_prepare(s, "SELECT count(*), coalesce(sum(size), 0) FROM unpacked", &st, err);
        if (r < 0)
                return r;
        if (sqlite3_step(st) == SQLITE_ROW) {
                d.layers_unpacked = (uint64_t)sqlite3_column_int64(st, 0);
                d.layers_size = sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);

        static const char *const algs[] = { "blobs/sha256", "blobs/sha512" };
        for (size_t a = 0; a < 2; a++) {
                int fd = openat(s->layout_fd, algs[a], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                DIR *dir = fdopendir(fd);
                if (!dir) {
                        close(fd);
                        continue;
                }
                struct dirent *de;
                while ((de = readdir(dir))) {
                        struct stat stt;
                        if (de->d_name[0] == '.' ||
                            fstatat(dirfd(dir), de->d_name, &stt, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                        d.blobs++;
                        d.blobs_size += stt.st_size;
                }
                closedir(dir);
        }
        *ret = d;
        return 0;
}
