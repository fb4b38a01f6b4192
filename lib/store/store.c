/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opening the store: the directory layout, the OCI layout files, the
 * SQLite database (WAL) and the store lock. See include/kiln/store.h.
 */
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include "kiln/fs.h"
#include "store-internal.h"

#define OCI_LAYOUT "{\"imageLayoutVersion\":\"1.0.0\"}"
#define EMPTY_INDEX "{\"schemaVersion\":2,\"mediaType\":\"" KILN_MT_OCI_INDEX "\",\"manifests\":[]}"

static const char schema_sql[] =
        "CREATE TABLE IF NOT EXISTS images ("
        "  manifest_digest TEXT PRIMARY KEY,"
        "  config_digest TEXT NOT NULL,"
        "  media_type TEXT NOT NULL,"
        "  manifest_size INTEGER NOT NULL,"
        "  created INTEGER NOT NULL,"
        "  size INTEGER NOT NULL,"
        "  added INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS images_config ON images(config_digest);"
        "CREATE TABLE IF NOT EXISTS tags ("
        "  name TEXT PRIMARY KEY,"
        "  manifest_digest TEXT NOT NULL,"
        "  tagged INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS tags_manifest ON tags(manifest_digest);"
        /* every blob an image needs (config and layers), for gc and fsck */
        "CREATE TABLE IF NOT EXISTS image_blobs ("
        "  manifest_digest TEXT NOT NULL,"
        "  blob TEXT NOT NULL,"
        "  PRIMARY KEY (manifest_digest, blob));"
        "CREATE INDEX IF NOT EXISTS image_blobs_blob ON image_blobs(blob);"
        /* the layers of an image in order, with their diffIDs */
        "CREATE TABLE IF NOT EXISTS image_layers ("
        "  manifest_digest TEXT NOT NULL,"
        "  idx INTEGER NOT NULL,"
        "  blob TEXT NOT NULL,"
        "  diff_id TEXT NOT NULL,"
        "  PRIMARY KEY (manifest_digest, idx));"
        "CREATE INDEX IF NOT EXISTS image_layers_diff ON image_layers(diff_id);"
        /* what a layer blob holds, once known */
        "CREATE TABLE IF NOT EXISTS layer_blobs ("
        "  blob TEXT PRIMARY KEY,"
        "  diff_id TEXT NOT NULL,"
        "  uncompressed_size INTEGER NOT NULL);"
        /* layers unpacked under ROOT/layers/<hex> */
        "CREATE TABLE IF NOT EXISTS unpacked ("
        "  diff_id TEXT PRIMARY KEY,"
        "  size INTEGER NOT NULL,"
        "  unpacked INTEGER NOT NULL);"
        "PRAGMA user_version = 1;";

/* version 2: containers */
static const char schema_v2_sql[] =
        "CREATE TABLE IF NOT EXISTS containers ("
        "  id TEXT PRIMARY KEY,"
        "  name TEXT NOT NULL UNIQUE,"
        "  image TEXT NOT NULL,"
        "  created INTEGER NOT NULL,"
        "  doc TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS containers_image ON containers(image);"
        "PRAGMA user_version = 2;";

/* version 3: the build cache (lib/store/buildcache.c); blob, media_type and
 * diff_id are NULL for a step that made no layer */
static const char schema_v3_sql[] =
        "CREATE TABLE IF NOT EXISTS build_cache ("
        "  key TEXT PRIMARY KEY,"
        "  blob TEXT,"
        "  media_type TEXT,"
        "  diff_id TEXT,"
        "  size INTEGER NOT NULL,"
        "  history TEXT NOT NULL,"
        "  created INTEGER NOT NULL,"
        "  last_used INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS build_cache_blob ON build_cache(blob);"
        "CREATE INDEX IF NOT EXISTS build_cache_diff ON build_cache(diff_id);"
        "PRAGMA user_version = 3;";
#define SCHEMA_VERSION 3

int64_t store_now(void)
{
        return (int64_t)time(NULL);
}

char *kiln_store_default_root(void)
{
        const char *e = getenv("KILN_ROOT");
        if (e && *e)
                return kiln_xstrdup(e);
        if (geteuid() == 0)
                return kiln_xstrdup("/var/lib/kiln");
        e = getenv("XDG_DATA_HOME");
        if (e && *e == '/')
                return kiln_xasprintf("%s/kiln", e);
        e = getenv("HOME");
        if (!e || !*e) {
                struct passwd *pw = getpwuid(geteuid());
                e = pw ? pw->pw_dir : "/";
        }
        return kiln_xasprintf("%s/.local/share/kiln", e);
}

int store_sql_err(struct kiln_store *s, struct kiln_error *err, const char *what)
{
        int code = sqlite3_errcode(s->db);
        int r = (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? -EBUSY
                : code == SQLITE_FULL                          ? -ENOSPC
                : code == SQLITE_READONLY                      ? -EROFS
                : code == SQLITE_CORRUPT                       ? -KILN_ECORRUPT
                                                               : -EIO;
        return kiln_err(err, r, "store database: %s: %s", what, sqlite3_errmsg(s->db));
}

int store_exec(struct kiln_store *s, const char *sql, struct kiln_error *err)
{
        if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
                return store_sql_err(s, err, sql);
        return 0;
}

int store_prepare(struct kiln_store *s, const char *sql, sqlite3_stmt **ret,
                  struct kiln_error *err)
{
        if (sqlite3_prepare_v2(s->db, sql, -1, ret, NULL) != SQLITE_OK)
                return store_sql_err(s, err, "prepare");
        return 0;
}

int store_begin(struct kiln_store *s, struct kiln_error *err)
{
        if (s->readonly)
                return kiln_err(err, -EROFS, "store %s is open read-only", s->root);
        return store_exec(s, "BEGIN IMMEDIATE", err);
}

int store_commit(struct kiln_store *s, struct kiln_error *err)
{
        return store_exec(s, "COMMIT", err);
}

void store_rollback(struct kiln_store *s)
{
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * A writable connection does not checkpoint when it closes. By default the
 * last connection to close copies the WAL into the database (fsync of the
 * WAL, of the database, and of the directory when the next one creates the
 * WAL again) and deletes the WAL and -shm; every kiln command paid that,
 * `kiln run --rm` included, though nothing needs it: a WAL is as durable as
 * the database (each commit is synced per `synchronous`), and SQLite still
 * checkpoints as the WAL grows. The WAL and -shm files simply stay beside
 * kiln.db. The first connection after they were left rebuilds the WAL index
 * by reading the whole WAL (about 0.5 ms a MiB here), hence a checkpoint
 * every 256 pages (1 MiB) rather than SQLite's 1000.
 */
#define WAL_CHECKPOINT_PAGES 256
static void db_setup(struct kiln_store *s)
{
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        sqlite3_wal_autocheckpoint(s->db, WAL_CHECKPOINT_PAGES);
}

int store_lock(struct kiln_store *s, int mode, struct kiln_error *err)
{
        if (s->lock_mode == mode || (mode == LOCK_SH && s->lock_mode == LOCK_EX))
                return 0;
        if (s->lock_fd < 0)
                return kiln_err(err, -EROFS, "store %s is open read-only", s->root);
        while (flock(s->lock_fd, mode) < 0) {
                if (errno == EINTR)
                        continue;
                return kiln_err(err, -errno, "lock store %s: %s", s->root, strerror(errno));
        }
        s->lock_mode = mode;
        return 0;
}

void kiln_store_release_lock(struct kiln_store *s)
{
        if (s->lock_fd >= 0 && s->lock_mode) {
                flock(s->lock_fd, LOCK_UN);
                s->lock_mode = 0;
        }
}

void kiln_store_db_suspend(struct kiln_store *s)
{
        if (s && s->db) {
                sqlite3_close_v2(s->db);
                s->db = NULL;
        }
}

int kiln_store_db_resume(struct kiln_store *s, struct kiln_error *err)
{
        if (s->db)
                return 0;
        _cleanup_free_ char *dbpath = kiln_xasprintf("%s/kiln.db", s->root);
        int oflags = s->readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        if (sqlite3_open_v2(dbpath, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
                int r = kiln_err(err, -EIO, "store %s: database: %s", s->root,
                                 s->db ? sqlite3_errmsg(s->db) : "cannot open");
                sqlite3_close_v2(s->db);
                s->db = NULL;
                return r;
        }
        sqlite3_busy_timeout(s->db, 60000);
        if (!s->readonly) {
                db_setup(s);
                sqlite3_exec(s->db, "PRAGMA synchronous=FULL;", NULL, NULL, NULL);
        }
        return 0;
}

static int open_dir(int dirfd, const char *name, bool create, int *ret)
{
        if (create && mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
                return -errno;
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret = fd;
        return 0;
}

static int ensure_file(int dirfd, const char *name, const char *content)
{
        struct stat st;
        if (fstatat(dirfd, name, &st, 0) == 0)
                return 0;
        if (errno != ENOENT)
                return -errno;
        return kiln_fs_write_atomic(dirfd, name, content, strlen(content), 0644);
}

int kiln_store_open(const char *root, unsigned flags, struct kiln_store **ret,
                    struct kiln_error *err)
{
        bool ro = flags & KILN_STORE_READONLY;
        struct kiln_store *s = kiln_xcalloc(1, sizeof(*s));
        s->root = kiln_xstrdup(root);
        s->root_fd = s->layout_fd = s->tmp_fd = s->layers_fd = s->lock_fd = -1;
        s->containers_fd = -1;
        s->readonly = ro;
        int r;

        if (!ro) {
                r = kiln_fs_mkdir_p(AT_FDCWD, root, 0700);
                if (r < 0) {
                        kiln_err(err, r, "store %s: cannot create: %s", root, kiln_strerror(r));
                        goto fail;
                }
        }
        r = open_dir(AT_FDCWD, root, false, &s->root_fd);
        if (r < 0) {
                kiln_err(err, r, "store %s: %s", root, kiln_strerror(r));
                goto fail;
        }
        if (!ro) {
                s->lock_fd = openat(s->root_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                if (s->lock_fd < 0) {
                        r = -errno;
                        kiln_err(err, r, "store %s: lock file: %s", root, strerror(errno));
                        goto fail;
                }
        }
        const char *what = "oci";
        r = open_dir(s->root_fd, "oci", !ro, &s->layout_fd);
        if (r >= 0) {
                what = "tmp";
                r = open_dir(s->root_fd, "tmp", !ro, &s->tmp_fd);
                /* builds and unpacks make whole trees in tmp (random names)
                 * and delete them: on ext4 without a journal, creating
                 * files where thousands were just deleted scans every
                 * recently deleted inode of the block group (recently_deleted(),
                 * ~150 us a file). Spread out, each tree gets another group:
                 * a COPY of 2,000 files went from 1.5-3.9 s to 0.3-0.9 s. */
                if (r >= 0 && !ro)
                        (void)kiln_fs_spread_subdirs(s->tmp_fd);
        }
        if (r >= 0) {
                what = "layers";
                r = open_dir(s->root_fd, "layers", !ro, &s->layers_fd);
        }
        if (r >= 0) {
                what = "containers";
                r = open_dir(s->root_fd, "containers", !ro, &s->containers_fd);
                if (r == -ENOENT && ro)
                        r = 0;
        }
        if (r >= 0 && !ro) {
                what = "oci/blobs/sha256";
                r = kiln_fs_mkdir_p(s->layout_fd, "blobs/sha256", 0755);
        }
        if (r >= 0 && !ro) {
                what = "oci/oci-layout";
                r = ensure_file(s->layout_fd, "oci-layout", OCI_LAYOUT);
        }
        if (r >= 0 && !ro) {
                what = "oci/index.json";
                r = ensure_file(s->layout_fd, "index.json", EMPTY_INDEX);
        }
        if (r < 0) {
                kiln_err(err, r, "store %s: %s: %s", root, what, kiln_strerror(r));
                goto fail;
        }

        char *dbpath = kiln_xasprintf("%s/kiln.db", root);
        int oflags = ro ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        int orc = sqlite3_open_v2(dbpath, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
        free(dbpath);
        if (orc != SQLITE_OK) {
                r = kiln_err(err, -EIO, "store %s: database: %s", root,
                             s->db ? sqlite3_errmsg(s->db) : "cannot open");
                goto fail;
        }
        sqlite3_busy_timeout(s->db, 60000);
        if (!ro) {
                db_setup(s);
                /* WAL: readers never block the writer; FULL sync: a committed
                 * transaction survives a crash of the machine, not only of kiln */
                r = store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                  "PRAGMA foreign_keys=OFF;", err);
                if (r < 0)
                        goto fail;
                int version = 0;
                sqlite3_stmt *st;
                if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
                        if (sqlite3_step(st) == SQLITE_ROW)
                                version = sqlite3_column_int(st, 0);
                        sqlite3_finalize(st);
                }
                if (version > SCHEMA_VERSION) {
                        r = kiln_err(err, -KILN_EUNSUPPORTED,
                                     "store %s: database schema %d is newer than this kiln", root,
                                     version);
                        goto fail;
                }
                if (version < SCHEMA_VERSION) {
                        r = store_begin(s, err);
                        if (r >= 0 && version < 1)
                                r = store_exec(s, schema_sql, err);
                        if (r >= 0 && version < 2)
                                r = store_exec(s, schema_v2_sql, err);
                        if (r >= 0 && version < 3)
                                r = store_exec(s, schema_v3_sql, err);
                        if (r >= 0)
                                r = store_commit(s, err);
                        else
                                store_rollback(s);
                        if (r < 0)
                                goto fail;
                }
        }
        *ret = s;
        return 0;
fail:
        kiln_store_close(s);
        return r;
}

void kiln_store_close(struct kiln_store *s)
{
        if (!s)
                return;
        if (s->db)
                sqlite3_close_v2(s->db);
        kiln_closep(&s->root_fd);
        kiln_closep(&s->layout_fd);
        kiln_closep(&s->tmp_fd);
        kiln_closep(&s->layers_fd);
        kiln_closep(&s->containers_fd);
        kiln_closep(&s->lock_fd); /* drops the flock */
        free(s->root);
        free(s);
}

const char *kiln_store_root(const struct kiln_store *s)
{
        return s->root;
}

int kiln_store_containers_fd(const struct kiln_store *s)
{
        return s->containers_fd;
}

int kiln_store_layout_fd(const struct kiln_store *s)
{
        return s->layout_fd;
}

void store_blob_path(const struct kiln_digest *d, char *out, size_t outlen)
{
        snprintf(out, outlen, "blobs/%s/%s", kiln_digest_alg_name(d->alg), kiln_digest_hex(d));
}
