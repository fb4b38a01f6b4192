/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A build context sent as a tar stream (`kiln build - < ctx.tar`):
 * unpacked into a private directory, then used like a directory context.
 *
 * libarchive (loaded lazily, lib/layer/archive-dl.c) reads the stream and
 * its compression (gzip, bzip2, xz, zstd); writing is ours. Every entry's
 * parent is opened inside the root (kiln_fs_open_parent_in_root, openat2
 * RESOLVE_IN_ROOT), the entry is created relative to that fd with
 * O_EXCL | O_NOFOLLOW after any old entry of that name is removed, and
 * names with ".." are refused: a hostile tar cannot write outside the
 * directory, through a symlink it planted or otherwise. Whiteout names
 * mean nothing here (a context is not a layer). Directory modes and times
 * are set at the end so that a read-only directory does not stop its own
 * entries. After unpacking, the ignore file is read from the tree and the
 * entries it excludes are removed, so the directory holds the context
 * exactly as a directory context's walks see it.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include "kiln/fs.h"
#include "buildctx-internal.h"
#include "buildctx-ctx.h"

#define TAR_DEFAULT_MAX_SIZE (64LL << 30)
#define TAR_DEFAULT_MAX_ENTRIES 10000000ULL
#define TAR_CHUNK (1024 * 1024)

KILN_DEFINE_CLEANUP(struct archive *, archive_read_free)

struct dirmeta {
        char *path;
        mode_t mode;
        uid_t uid;
        gid_t gid;
        struct timespec mtime;
};

struct unpack {
        int rootfd;
        bool chown;
        int64_t written, max_size;
        struct dirmeta *dirs;
        size_t ndirs;
        struct kiln_error *err;
};

static int tar_err(struct archive *a, struct kiln_error *err)
{
        const char *m = archive_error_string(a);
        return kiln_err(err, -KILN_EFORMAT, "build context tar: %s", m ? m : "unreadable");
}

/* Remove whatever is at pfd/base (a directory with its content). */
static int clear_slot(int pfd, const char *base, bool keep_dir)
{
        struct stat st;
        if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (S_ISDIR(st.st_mode))
                return keep_dir ? 1 : kiln_fs_rm_rf_at(pfd, base);
        if (unlinkat(pfd, base, 0) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int write_file(struct unpack *u, struct archive *a, int pfd, const char *base,
                      const char *path, struct archive_entry *e)
{
        _cleanup_close_ int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                                                           O_CLOEXEC, 0600);
        if (fd < 0)
                return kiln_err(u->err, -errno, "build context tar: '%s': %s", path,
                                kiln_strerror(errno));
        for (;;) {
                const void *buf;
                size_t len;
                la_int64_t off;
                int r = archive_read_data_block(a, &buf, &len, &off);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return tar_err(a, u->err);
                u->written += (int64_t)len;
                if (u->written > u->max_size)
                        return kiln_err(u->err, -KILN_ETOOBIG,
                                        "build context tar: more than %lld bytes",
                                        (long long)u->max_size);
                if (lseek(fd, off, SEEK_SET) < 0)
                        return kiln_err(u->err, -errno, "build context tar: '%s': %s", path,
                                        kiln_strerror(errno));
                r = kiln_fs_write_all(fd, buf, len);
                if (r < 0)
                        return kiln_err(u->err, r, "build context tar: '%s': %s", path,
                                        kiln_strerror(r));
        }
        /* sparse files: the size includes trailing holes */
        if (ftruncate(fd, archive_entry_size(e)) < 0)
                return kiln_err(u->err, -errno, "build context tar: '%s': %s", path,
                                kiln_strerror(errno));
        if (u->chown && fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
                return kiln_err(u->err, -errno, "build context tar: chown '%s': %s", path,
                                kiln_strerror(errno));
        if (fchmod(fd, archive_entry_mode(e) & 07777) < 0)
                return kiln_err(u->err, -errno, "build context tar: chmod '%s': %s", path,
                                kiln_strerror(errno));
        struct timespec ts[2] = { { 0, UTIME_OMIT },
                                  { archive_entry_mtime(e), archive_entry_mtime_nsec(e) } };
        (void)futimens(fd, ts);
        return 0;
}

static int unpack_entry(struct unpack *u, struct archive *a, struct archive_entry *e)
{
        const char *raw = archive_entry_pathname(e);
        if (!raw)
                return kiln_err(u->err, -KILN_EFORMAT, "build context tar: entry without a name");
        size_t rawlen = strlen(raw);
        if (rawlen >= 4096)
                return kiln_err(u->err, -ENAMETOOLONG, "build context tar: name too long");
        char path[4096];
        if (kiln_fs_path_normalize(raw, path) < 0)
                return kiln_err(u->err, -KILN_EUNSAFE,
                                "build context tar: '%s': outside the build context", raw);
        mode_t type = archive_entry_filetype(e);
        if (!path[0])
                return 0; /* the root itself */
        const char *base;
        _cleanup_close_ int pfd = kiln_fs_open_parent_in_root(u->rootfd, path, true, &base);
        if (pfd < 0)
                return kiln_err(u->err, pfd, "build context tar: '%s': %s", path,
                                kiln_strerror(pfd));
        int r;
        const char *hl = archive_entry_hardlink(e);
        if (hl) {
                char tpath[4096];
                if (strlen(hl) >= sizeof(tpath) || kiln_fs_path_normalize(hl, tpath) < 0 ||
                    !tpath[0])
                        return kiln_err(u->err, -KILN_EUNSAFE,
                                        "build context tar: '%s': bad hardlink target '%s'", path,
                                        hl);
                const char *tbase;
                _cleanup_close_ int tfd = kiln_fs_open_parent_in_root(u->rootfd, tpath, false,
                                                                       &tbase);
                if (tfd < 0)
                        return kiln_err(u->err, tfd, "build context tar: '%s': hardlink target '%s': %s",
                                        path, hl, kiln_strerror(tfd));
                r = clear_slot(pfd, base, false);
                if (r < 0)
                        return kiln_err(u->err, r, "build context tar: '%s': %s", path,
                                        kiln_strerror(r));
                if (linkat(tfd, tbase, pfd, base, 0) < 0)
                        return kiln_err(u->err, -errno,
                                        "build context tar: '%s': hardlink to '%s': %s", path, hl,
                                        kiln_strerror(errno));
                return 0;
        }
        switch (type) {
        case AE_IFDIR: {
                r = clear_slot(pfd, base, true);
                if (r < 0)
                        return kiln_err(u->err, r, "build context tar: '%s': %s", path,
                                        kiln_strerror(r));
                if (r == 0 && mkdirat(pfd, base, 0700) < 0)
                        return kiln_err(u->err, -errno, "build context tar: mkdir '%s': %s", path,
                                        kiln_strerror(errno));
                u->dirs = kiln_xrealloc(u->dirs, (u->ndirs + 1) * sizeof(*u->dirs));
                u->dirs[u->ndirs++] = (struct dirmeta){
                        kiln_xstrdup(path),
                        archive_entry_mode(e) & 07777,
                        (uid_t)archive_entry_uid(e),
                        (gid_t)archive_entry_gid(e),
                        { archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
                };
                return 0;
        }
        case AE_IFREG:
                r = clear_slot(pfd, base, false);
                if (r < 0)
                        return kiln_err(u->err, r, "build context tar: '%s': %s", path,
                                        kiln_strerror(r));
                return write_file(u, a, pfd, base, path, e);
        case AE_IFLNK: {
                const char *target = archive_entry_symlink(e);
                if (!target)
                        return kiln_err(u->err, -KILN_EFORMAT,
                                        "build context tar: '%s': symlink without a target", path);
                r = clear_slot(pfd, base, false);
                if (r < 0)
                        return kiln_err(u->err, r, "build context tar: '%s': %s", path,
                                        kiln_strerror(r));
                /* the target is kept as is: lookups resolve it inside the
                 * context and refuse one that leaves it */
                if (symlinkat(target, pfd, base) < 0)
                        return kiln_err(u->err, -errno, "build context tar: symlink '%s': %s",
                                        path, kiln_strerror(errno));
                if (u->chown)
                        (void)fchownat(pfd, base, (uid_t)archive_entry_uid(e),
                                       (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW);
                struct timespec ts[2] = { { 0, UTIME_OMIT },
                                          { archive_entry_mtime(e), archive_entry_mtime_nsec(e) } };
                (void)utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
                return 0;
        }
        default:
                kiln_warn("build context tar: '%s': device, fifo or socket skipped", path);
                return 0;
        }
}

/* Apply directory modes, owners and times, deepest last-created first. */
static void finish_dirs(struct unpack *u)
{
        for (size_t i = u->ndirs; i-- > 0;) {
                struct dirmeta *d = &u->dirs[i];
                int fd = kiln_fs_open_in_root(u->rootfd, d->path,
                                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
                if (fd < 0)
                        continue; /* replaced by a later entry */
                if (u->chown)
                        (void)fchown(fd, d->uid, d->gid);
                (void)fchmod(fd, d->mode);
                struct timespec ts[2] = { { 0, UTIME_OMIT }, d->mtime };
                (void)futimens(fd, ts);
                close(fd);
        }
}

/* Remove from the tree what the ignore rules exclude. */
static int prune(const struct kiln_buildctx *ctx, int dfd, const char *ctxpath, unsigned depth)
{
        if (depth > 2048)
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -1;
        _cleanup_strv_free_ char **names = NULL;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        kiln_strv_push(&names, de->d_name);
        closedir(d);
        int r = 0;
        for (size_t i = 0; names && names[i] && r == 0; i++) {
                struct stat st;
                if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                _cleanup_free_ char *cpath = strcmp(ctxpath, ".")
                                                     ? kiln_xasprintf("%s/%s", ctxpath, names[i])
                                                     : kiln_xstrdup(names[i]);
                bool isdir = S_ISDIR(st.st_mode);
                bool excluded = kiln_dockerignore_matches(ctx->ig, cpath);
                if (excluded && !(isdir && kiln_dockerignore_walk_excluded_dir(ctx->ig, cpath))) {
                        r = kiln_fs_rm_rf_at(dfd, names[i]);
                        continue;
                }
                if (!isdir)
                        continue;
                _cleanup_close_ int sub = openat(dfd, names[i],
                                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0)
                        return -errno;
                r = prune(ctx, sub, cpath, depth + 1);
                /* an excluded directory stays only as a parent of kept entries */
                if (r == 0 && excluded && unlinkat(dfd, names[i], AT_REMOVEDIR) < 0 &&
                    errno != ENOTEMPTY && errno != EEXIST)
                        r = -errno;
        }
        return r;
}

int kiln_buildctx_open_tar(int fd, const char *tmpdir, const char *dockerfile,
                           const struct kiln_buildctx_tar_opts *opts,
                           struct kiln_buildctx **ret, struct kiln_error *err)
{
        _cleanup_(kiln_buildctx_freep) struct kiln_buildctx *ctx = kiln_xcalloc(1, sizeof(*ctx));
        ctx->dirfd = -1;
        ctx->path = kiln_xasprintf("%s/kiln-buildctx-XXXXXX", tmpdir);
        if (!mkdtemp(ctx->path))
                return kiln_err(err, -errno, "build context: mkdtemp in '%s': %s", tmpdir,
                                kiln_strerror(errno));
        ctx->owned = true;
        ctx->dirfd = open(ctx->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (ctx->dirfd < 0)
                return kiln_err(err, -errno, "build context '%s': %s", ctx->path,
                                kiln_strerror(errno));

        struct unpack u = {
                .rootfd = ctx->dirfd,
                .chown = geteuid() == 0,
                .max_size = opts && opts->max_size > 0 ? opts->max_size : TAR_DEFAULT_MAX_SIZE,
                .err = err,
        };
        uint64_t max_entries = opts && opts->max_entries ? opts->max_entries
                                                         : TAR_DEFAULT_MAX_ENTRIES;
        int r = 0;
        {
                _cleanup_(archive_read_freep) struct archive *a = archive_read_new();
                if (!a)
                        return kiln_err(err, -ENOMEM, "build context tar: out of memory");
                archive_read_support_filter_all(a);
                archive_read_support_format_tar(a);
                archive_read_support_format_gnutar(a);
                if (archive_read_open_fd(a, fd, TAR_CHUNK) != ARCHIVE_OK) {
                        r = tar_err(a, err);
                        goto done;
                }
                uint64_t n = 0;
                for (;;) {
                        struct archive_entry *e;
                        int ar = archive_read_next_header(a, &e);
                        if (ar == ARCHIVE_EOF)
                                break;
                        if (ar < ARCHIVE_WARN) {
                                r = tar_err(a, err);
                                goto done;
                        }
                        if (++n > max_entries) {
                                r = kiln_err(err, -KILN_ETOOBIG,
                                             "build context tar: more than %llu entries",
                                             (unsigned long long)max_entries);
                                goto done;
                        }
                        r = unpack_entry(&u, a, e);
                        if (r < 0)
                                goto done;
                }
        }
        finish_dirs(&u);
        {
                /* the ignore file, looked up inside the unpacked tree */
                _cleanup_free_ char *df = NULL;
                if (!dockerfile)
                        df = kiln_xstrdup("Dockerfile");
                else if (strcmp(dockerfile, "-") != 0)
                        df = kiln_xstrdup(dockerfile);
                _cleanup_free_ char *cand1 = df ? kiln_xasprintf("%s.dockerignore", df) : NULL;
                const char *cands[] = { cand1, ".dockerignore", ".containerignore" };
                for (size_t i = 0; i < KILN_ARRAY_SIZE(cands); i++) {
                        if (!cands[i])
                                continue;
                        int ifd = kiln_fs_open_in_root(ctx->dirfd, cands[i], O_RDONLY | O_NOCTTY, 0);
                        if (ifd < 0)
                                continue;
                        _cleanup_free_ char *data = NULL;
                        size_t len = 0;
                        r = kiln_fs_read_fd(ifd, 16 * 1024 * 1024, &data, &len);
                        close(ifd);
                        if (r < 0) {
                                r = kiln_err(err, r, "build context: read '%s': %s", cands[i],
                                             kiln_strerror(r));
                                goto done;
                        }
                        r = kiln_dockerignore_parse(data, len, &ctx->ig, err);
                        if (r < 0) {
                                r = kiln_err_prefix(err, r, "build context: %s: ", cands[i]);
                                goto done;
                        }
                        break;
                }
                if (ctx->ig && kiln_dockerignore_count(ctx->ig) > 0) {
                        r = prune(ctx, ctx->dirfd, ".", 0);
                        if (r < 0) {
                                r = kiln_err(err, r, "build context: applying .dockerignore: %s",
                                             kiln_strerror(r));
                                goto done;
                        }
                }
        }
done:
        for (size_t i = 0; i < u.ndirs; i++)
                free(u.dirs[i].path);
        free(u.dirs);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ctx);
        return 0;
}
