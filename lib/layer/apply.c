/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln_layer_apply: unpack a layer onto a directory, safely.
 *
 * Input pipeline: in_fd -> sha256 (digest) -> our own gzip/zstd decoder ->
 * sha256 (diff_id) -> libarchive's tar reader (through a read callback).
 * After the tar's end marker the rest of the stream is drained through the
 * hashers so that both digests cover every byte.
 *
 * Every path is resolved inside the root with openat2(RESOLVE_IN_ROOT)
 * (kiln_fs_open_parent_in_root), the final component is handled relative
 * to the parent fd without following it, files are created O_EXCL |
 * O_NOFOLLOW after the old entry is removed.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <zlib.h>
#include <zstd.h>
#include "kiln/fs.h"
#include "layer-internal.h"


/* ---- input: raw bytes -> decoder -> tar bytes ---- */

struct layer_in {
        int fd;
        enum kiln_compression c;
        struct kiln_hasher *raw_h, *tar_h;
        unsigned char *ibuf, *obuf;
        size_t ilen, ipos;
        bool ieof;
        z_stream z;
        bool z_init, member_done;
        ZSTD_DStream *zd;
        bool frame_done;
        int64_t raw_bytes, tar_bytes, max_size;
        int error;
        char msg[256];
};

static void layer_in_done(struct layer_in *in)
{
        kiln_hasher_free(in->raw_h);
        kiln_hasher_free(in->tar_h);
        free(in->ibuf);
        free(in->obuf);
        if (in->z_init)
                inflateEnd(&in->z);
        ZSTD_freeDStream(in->zd);
}

static ssize_t in_fail(struct layer_in *in, int code, const char *msg)
{
        if (!in->error) {
                in->error = code;
                snprintf(in->msg, sizeof in->msg, "%s", msg);
        }
        return code;
}

static int fill(struct layer_in *in)
{
        if (in->ipos < in->ilen || in->ieof)
                return 0;
        ssize_t n = kiln_fs_read_full(in->fd, in->ibuf, LAYER_IO_CHUNK);
        if (n < 0) {
                char m[128];
                snprintf(m, sizeof m, "layer: read: %s", kiln_strerror((int)n));
                return (int)in_fail(in, (int)n, m);
        }
        in->ipos = 0;
        in->ilen = (size_t)n;
        if (n == 0)
                in->ieof = true;
        kiln_hasher_update(in->raw_h, in->ibuf, (size_t)n);
        in->raw_bytes += n;
        return 0;
}

/* Next chunk of tar bytes in *ret; returns its length, 0 at the end. */
static ssize_t produce(struct layer_in *in, const void **ret)
{
        if (in->error)
                return in->error;
        ssize_t got = 0;
        for (;;) {
                if (fill(in) < 0)
                        return in->error;
                if (in->c == KILN_COMPRESSION_NONE) {
                        *ret = in->ibuf + in->ipos;
                        got = (ssize_t)(in->ilen - in->ipos);
                        in->ipos = in->ilen;
                        break;
                }
                if (in->c == KILN_COMPRESSION_GZIP) {
                        if (in->member_done) {
                                if (in->ipos == in->ilen && in->ieof)
                                        return 0;
                                /* another gzip member follows */
                                inflateReset(&in->z);
                                in->member_done = false;
                        }
                        if (in->ipos == in->ilen && in->ieof)
                                return in_fail(in, -KILN_EFORMAT, "layer: truncated gzip stream");
                        in->z.next_in = in->ibuf + in->ipos;
                        in->z.avail_in = (uInt)(in->ilen - in->ipos);
                        in->z.next_out = in->obuf;
                        in->z.avail_out = LAYER_IO_CHUNK;
                        int zr = inflate(&in->z, Z_NO_FLUSH);
                        in->ipos = in->ilen - in->z.avail_in;
                        if (zr == Z_STREAM_END)
                                in->member_done = true;
                        else if (zr != Z_OK && zr != Z_BUF_ERROR)
                                return in_fail(in, -KILN_EFORMAT, zr == Z_MEM_ERROR
                                                       ? "layer: gzip: out of memory"
                                                       : "layer: corrupt gzip stream");
                        got = (ssize_t)(LAYER_IO_CHUNK - in->z.avail_out);
                        *ret = in->obuf;
                        if (got > 0)
                                break;
                        continue;
                }
                /* zstd */
                if (in->ipos == in->ilen && in->ieof) {
                        if (!in->frame_done)
                                return in_fail(in, -KILN_EFORMAT, "layer: truncated zstd stream");
                        return 0;
                }
                ZSTD_inBuffer zi = { in->ibuf, in->ilen, in->ipos };
                ZSTD_outBuffer zo = { in->obuf, LAYER_IO_CHUNK, 0 };
                size_t zr = ZSTD_decompressStream(in->zd, &zo, &zi);
                if (ZSTD_isError(zr)) {
                        char m[160];
                        snprintf(m, sizeof m, "layer: corrupt zstd stream: %s", ZSTD_getErrorName(zr));
                        return in_fail(in, -KILN_EFORMAT, m);
                }
                in->ipos = zi.pos;
                in->frame_done = zr == 0;
                *ret = in->obuf;
                got = (ssize_t)zo.pos;
                if (got > 0)
                        break;
        }
        if (got == 0)
                return 0;
        kiln_hasher_update(in->tar_h, *ret, (size_t)got);
        in->tar_bytes += got;
        if (in->max_size > 0 && in->tar_bytes > in->max_size) {
                char m[128];
                snprintf(m, sizeof m, "layer: over the size limit of %" PRId64 " bytes", in->max_size);
                return in_fail(in, -KILN_ETOOBIG, m);
        }
        return got;
}

static la_ssize_t read_cb(struct archive *a, void *client, const void **buf)
{
        struct layer_in *in = client;
        ssize_t n = produce(in, buf);
        if (n < 0) {
                archive_set_error(a, EIO, "%s", in->msg);
                return -1;
        }
        return n;
}

/* ---- applying entries ---- */

struct deferred_dir {
        char *path;
        mode_t mode;
        struct timespec mtime;
};

struct applier {
        int root;
        const struct kiln_layer_apply_opts *opts;
        struct archive *a;
        struct strset created;
        struct deferred_dir *dirs;
        size_t n_dirs, cap_dirs;
        uint64_t n_entries, n_skipped;
        /* last parent directory opened, valid until anything is removed */
        char *cache_path;
        int cache_fd;
        bool cache_sgid; /* the cached parent has the setgid bit */
        /* to skip chown/chmod of new files that already have what the tar
         * says: syscalls dominate applying many small files */
        uid_t euid;
        gid_t egid;
        mode_t umask;
        struct kiln_error *err;
};

static void cache_drop(struct applier *ap)
{
        free(ap->cache_path);
        ap->cache_path = NULL;
        if (ap->cache_fd >= 0)
                close(ap->cache_fd);
        ap->cache_fd = -1;
}

static int entry_err(struct applier *ap, int r, const char *path, const char *what)
{
        return kiln_err(ap->err, r, "layer: entry '%s': %s: %s", path, what, kiln_strerror(r));
}

/* The parent of path (normalized, not ""), created if missing. Returns a
 * borrowed fd (owned by the cache). */
static int parent_of(struct applier *ap, const char *path, bool mkparents, const char **ret_base)
{
        const char *slash = strrchr(path, '/');
        size_t plen = slash ? (size_t)(slash - path) : 0;
        if (ap->cache_path && strlen(ap->cache_path) == plen &&
            !memcmp(ap->cache_path, path, plen)) {
                *ret_base = slash ? slash + 1 : path;
                return ap->cache_fd;
        }
        const char *base;
        int fd = kiln_fs_open_parent_in_root(ap->root, path, mkparents, &base);
        if (fd < 0)
                return fd;
        cache_drop(ap);
        ap->cache_path = kiln_xstrndup(path, plen);
        ap->cache_fd = fd;
        struct stat st;
        ap->cache_sgid = fstat(fd, &st) < 0 || (st.st_mode & S_ISGID);
        *ret_base = base;
        return fd;
}

static int remove_at(struct applier *ap, int pfd, const char *base)
{
        int r = kiln_fs_rm_rf_at(pfd, base);
        cache_drop(ap); /* pfd may be the cached fd: closed here */
        return r;
}

static int set_xattrs(struct applier *ap, struct archive_entry *e, int fd, int pfd,
                      const char *base, const char *path)
{
        const char *name;
        const void *val;
        size_t size;
        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK) {
                if (layer_xattr_is_overlay(name)) {
                        kiln_warn("layer: entry '%s': overlay xattr %s dropped", path, name);
                        continue;
                }
                int r;
                if (fd >= 0) {
                        r = fsetxattr(fd, name, val, size, 0);
                } else {
                        char p[64 + NAME_MAX];
                        snprintf(p, sizeof p, "/proc/self/fd/%d/%s", pfd, base);
                        r = lsetxattr(p, name, val, size, 0);
                }
                if (r < 0) {
                        if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP ||
                            errno == EINVAL || errno == ERANGE) {
                                kiln_warn("layer: entry '%s': xattr %s not set: %s", path, name,
                                          strerror(errno));
                                continue;
                        }
                        return entry_err(ap, -errno, path, name);
                }
        }
        return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
        ts[1].tv_sec = archive_entry_mtime(e);
        ts[1].tv_nsec = archive_entry_mtime_is_set(e) ? archive_entry_mtime_nsec(e) : 0;
        if (ts[1].tv_nsec < 0 || ts[1].tv_nsec > 999999999)
                ts[1].tv_nsec = 0;
        ts[0] = ts[1];
}

static int set_meta_fresh(struct applier *ap, struct archive_entry *e, int fd, int pfd,
                          const char *base, const char *path, bool is_link, bool is_dir,
                          bool fresh);

/* Owner, then mode (chown clears setuid), then xattrs (capabilities after
 * chown and after the data), then times. fd < 0: use pfd/base. */
static int set_meta(struct applier *ap, struct archive_entry *e, int fd, int pfd,
                    const char *base, const char *path, bool is_link, bool is_dir)
{
        return set_meta_fresh(ap, e, fd, pfd, base, path, is_link, is_dir, false);
}

/* fresh: fd is a regular file just created here with the entry's mode */
static int set_meta_fresh(struct applier *ap, struct archive_entry *e, int fd, int pfd,
                          const char *base, const char *path, bool is_link, bool is_dir,
                          bool fresh)
{
        bool chowned = false;
        if (ap->opts->preserve_owner || ap->opts->force_owner) {
                uid_t uid = ap->opts->force_owner ? ap->opts->uid : (uid_t)archive_entry_uid(e);
                gid_t gid = ap->opts->force_owner ? ap->opts->gid : (gid_t)archive_entry_gid(e);
                /* a new file is ours already unless the directory is setgid */
                if (!(fresh && uid == ap->euid && gid == ap->egid && !ap->cache_sgid)) {
                        int r = fd >= 0 ? fchown(fd, uid, gid)
                                        : fchownat(pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW);
                        if (r < 0) {
                                if (errno == EINVAL && kiln_in_userns())
                                        return kiln_err(ap->err, -EINVAL,
                                                        "layer: entry '%s': uid %u or gid %u is not mapped in the "
                                                        "user namespace (give this user a larger range in "
                                                        "/etc/subuid and /etc/subgid)",
                                                        path, (unsigned)uid, (unsigned)gid);
                                return entry_err(ap, -errno, path, "chown");
                        }
                        chowned = true;
                }
        }
        mode_t mode = archive_entry_mode(e) & 07777;
        /* open() gave a new file its mode unless the umask cut bits or a
         * chown cleared setuid/setgid */
        bool mode_ok = fresh && !chowned && (mode & ap->umask) == 0 && (mode & 07000) == 0;
        if (!is_link && !is_dir && !mode_ok) {
                int r = fd >= 0 ? fchmod(fd, mode) : fchmodat(pfd, base, mode, 0);
                if (r < 0)
                        return entry_err(ap, -errno, path, "chmod");
        }
        int r = set_xattrs(ap, e, fd, pfd, base, path);
        if (r < 0)
                return r;
        struct timespec ts[2];
        entry_times(e, ts);
        if (is_dir) {
                if (ap->n_dirs == ap->cap_dirs) {
                        ap->cap_dirs = ap->cap_dirs ? ap->cap_dirs * 2 : 64;
                        ap->dirs = kiln_xrealloc(ap->dirs, ap->cap_dirs * sizeof(*ap->dirs));
                }
                ap->dirs[ap->n_dirs++] = (struct deferred_dir){ kiln_xstrdup(path), mode, ts[1] };
                return 0;
        }
        r = fd >= 0 ? futimens(fd, ts) : utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
        if (r < 0)
                return entry_err(ap, -errno, path, "set times");
        return 0;
}

static int write_file_data(struct applier *ap, int fd, const char *path, int64_t size)
{
        int64_t pos = 0;
        for (;;) {
                const void *buf;
                size_t len;
                la_int64_t off;
                int ar = archive_read_data_block(ap->a, &buf, &len, &off);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar < ARCHIVE_WARN)
                        return -EIO; /* the caller reports the archive error */
                if (off < 0 || off > size || (int64_t)len > size - off)
                        return kiln_err(ap->err, -KILN_EFORMAT, "layer: entry '%s': bad data block", path);
                if (off != pos && lseek(fd, off, SEEK_SET) < 0)
                        return entry_err(ap, -errno, path, "seek");
                int r = kiln_fs_write_all(fd, buf, len);
                if (r < 0)
                        return entry_err(ap, r, path, "write");
                pos = off + (int64_t)len;
        }
        if (pos < size && ftruncate(fd, size) < 0)
                return entry_err(ap, -errno, path, "truncate");
        return 0;
}

static bool bad_name(const char *s)
{
        return !*s || !strcmp(s, ".") || !strcmp(s, "..") || strchr(s, '/');
}

/* Remove what lower layers put under dirfd (path prefix) and keep what
 * this layer created. */
static int prune(struct applier *ap, int dirfd, const char *prefix, unsigned depth)
{
        if (depth > 4096)
                return -ELOOP;
        int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return -errno;
        }
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d)) && r >= 0) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *p = *prefix ? kiln_xasprintf("%s/%s", prefix, de->d_name)
                                                 : kiln_xstrdup(de->d_name);
                if (!strset_has(&ap->created, p)) {
                        r = kiln_fs_rm_rf_at(dirfd, de->d_name);
                        continue;
                }
                _cleanup_close_ int sub = openat(dirfd, de->d_name,
                                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0)
                        r = prune(ap, sub, p, depth + 1);
        }
        closedir(d);
        return r;
}

static int apply_opaque(struct applier *ap, const char *path, const char *dir)
{
        const char *base;
        if (ap->opts->overlay_whiteouts) {
                int pfd = parent_of(ap, path, true, &base);
                if (pfd < 0)
                        return entry_err(ap, pfd, path, "open directory");
                /* overlayfs mounted in a user namespace (rootless) reads
                 * user.overlay.* ("userxattr"), elsewhere trusted.overlay.* */
                const char *key = kiln_in_userns() ? "user.overlay.opaque" : "trusted.overlay.opaque";
                if (fsetxattr(pfd, key, "y", 1, 0) < 0)
                        return entry_err(ap, -errno, path, key);
                strset_add(&ap->created, path);
                return 0;
        }
        int pfd = parent_of(ap, path, false, &base);
        if (pfd == -ENOENT || pfd == -ENOTDIR)
                return 0;
        if (pfd < 0)
                return entry_err(ap, pfd, path, "open directory");
        cache_drop(ap);
        pfd = kiln_fs_open_parent_in_root(ap->root, path, false, &base);
        if (pfd < 0)
                return entry_err(ap, pfd, path, "open directory");
        int r = prune(ap, pfd, dir, 0);
        close(pfd);
        if (r < 0)
                return entry_err(ap, r, path, "opaque directory");
        return 0;
}

static int apply_whiteout(struct applier *ap, const char *path, const char *dir, const char *name)
{
        if (bad_name(name))
                return kiln_err(ap->err, -KILN_EUNSAFE, "layer: entry '%s': bad whiteout name", path);
        _cleanup_free_ char *victim = *dir ? kiln_xasprintf("%s/%s", dir, name) : kiln_xstrdup(name);
        /* whiteouts hide lower layers only, not this layer's own entries */
        if (strset_has(&ap->created, victim))
                return 0;
        const char *base;
        if (ap->opts->overlay_whiteouts) {
                int pfd = parent_of(ap, victim, true, &base);
                if (pfd < 0)
                        return entry_err(ap, pfd, path, "open parent");
                int r = remove_at(ap, pfd, base);
                if (r < 0)
                        return entry_err(ap, r, path, "remove");
                pfd = parent_of(ap, victim, true, &base);
                if (pfd < 0)
                        return entry_err(ap, pfd, path, "open parent");
                if (mknodat(pfd, base, S_IFCHR | 0, makedev(0, 0)) < 0)
                        return entry_err(ap, -errno, path, "create whiteout");
                strset_add(&ap->created, victim);
                return 0;
        }
        int pfd = parent_of(ap, victim, false, &base);
        if (pfd == -ENOENT || pfd == -ENOTDIR)
                return 0;
        if (pfd < 0)
                return entry_err(ap, pfd, path, "open parent");
        int r = remove_at(ap, pfd, base);
        if (r < 0)
                return entry_err(ap, r, path, "remove");
        return 0;
}

static int apply_entry(struct applier *ap, struct archive_entry *e)
{
        const char *name = archive_entry_pathname(e);
        if (!name)
                return kiln_err(ap->err, -KILN_EFORMAT, "layer: entry without a name");
        size_t nlen = strlen(name);
        _cleanup_free_ char *path = kiln_xmalloc(nlen + 1);
        if (kiln_fs_path_normalize(name, path) < 0)
                return kiln_err(ap->err, -KILN_EUNSAFE, "layer: entry '%s': path leaves the root", name);
        ap->n_entries++;
        if (!*path)
                return 0; /* the root itself: its metadata is the caller's */
        const char *slash = strrchr(path, '/');
        const char *bname = slash ? slash + 1 : path;
        _cleanup_free_ char *dir = slash ? kiln_xstrndup(path, (size_t)(slash - path)) : kiln_xstrdup("");

        if (!ap->opts->plain_archive && kiln_startswith(bname, ".wh.")) {
                if (!strcmp(bname, ".wh..wh..opq"))
                        return apply_opaque(ap, path, dir);
                if (kiln_startswith(bname, ".wh..wh.")) {
                        kiln_warn("layer: entry '%s': aufs metadata skipped", path);
                        ap->n_skipped++;
                        return 0;
                }
                return apply_whiteout(ap, path, dir, bname + 4);
        }

        mode_t type = archive_entry_filetype(e);
        const char *hl = archive_entry_hardlink(e);
        if (type == AE_IFSOCK || (!hl && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK &&
                                  type != AE_IFCHR && type != AE_IFBLK && type != AE_IFIFO)) {
                kiln_warn("layer: entry '%s': unsupported type skipped", path);
                ap->n_skipped++;
                return 0;
        }

        /* hardlink target: inside the root, present, not a directory */
        _cleanup_free_ char *tpath = NULL;
        _cleanup_close_ int tpfd = -1;
        const char *tbase = NULL;
        struct stat tst;
        if (hl) {
                tpath = kiln_xmalloc(strlen(hl) + 1);
                if (kiln_fs_path_normalize(hl, tpath) < 0 || !*tpath)
                        return kiln_err(ap->err, -KILN_EUNSAFE,
                                        "layer: entry '%s': hardlink target '%s' leaves the root", path, hl);
                tpfd = kiln_fs_open_parent_in_root(ap->root, tpath, false, &tbase);
                if (tpfd < 0)
                        return kiln_err(ap->err, tpfd, "layer: entry '%s': hardlink target '%s': %s",
                                        path, hl, kiln_strerror(tpfd));
                if (fstatat(tpfd, tbase, &tst, AT_SYMLINK_NOFOLLOW) < 0)
                        return kiln_err(ap->err, -errno, "layer: entry '%s': hardlink target '%s': %s",
                                        path, hl, kiln_strerror(-errno));
                if (S_ISDIR(tst.st_mode))
                        return kiln_err(ap->err, -KILN_EFORMAT,
                                        "layer: entry '%s': hardlink to directory '%s'", path, hl);
        }

        const char *base;
        int pfd = parent_of(ap, path, true, &base);
        if (pfd < 0)
                return entry_err(ap, pfd, path, "open parent");
        if (type == AE_IFREG && !hl) {
                /* the common case first: a new file, no stat, no removal */
                mode_t cmode = archive_entry_mode(e) & 07777;
                _cleanup_close_ int fd = openat(pfd, base,
                                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                                cmode);
                if (fd >= 0) {
                        strset_add(&ap->created, path);
                        int r = write_file_data(ap, fd, path, archive_entry_size(e));
                        if (r < 0)
                                return r;
                        return set_meta_fresh(ap, e, fd, pfd, base, path, false, false, true);
                }
                if (errno != EEXIST)
                        return entry_err(ap, -errno, path, "create");
        }
        struct stat est;
        bool exists = fstatat(pfd, base, &est, AT_SYMLINK_NOFOLLOW) == 0;
        bool merge = exists && type == AE_IFDIR && !hl && S_ISDIR(est.st_mode);
        if (exists && hl && est.st_dev == tst.st_dev && est.st_ino == tst.st_ino) {
                strset_add(&ap->created, path);
                return 0; /* already that link */
        }
        if (exists && !merge) {
                int r = remove_at(ap, pfd, base);
                if (r < 0)
                        return entry_err(ap, r, path, "remove old entry");
                pfd = parent_of(ap, path, true, &base);
                if (pfd < 0)
                        return entry_err(ap, pfd, path, "open parent");
        }
        strset_add(&ap->created, path);

        if (hl) {
                if (linkat(tpfd, tbase, pfd, base, 0) < 0)
                        return entry_err(ap, -errno, path, "link");
                return 0;
        }
        int r = 0;
        switch (type) {
        case AE_IFREG: {
                _cleanup_close_ int fd = openat(pfd, base,
                                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd < 0)
                        return entry_err(ap, -errno, path, "create");
                r = write_file_data(ap, fd, path, archive_entry_size(e));
                if (r < 0)
                        return r;
                return set_meta(ap, e, fd, pfd, base, path, false, false);
        }
        case AE_IFDIR: {
                if (!merge && mkdirat(pfd, base, 0700) < 0)
                        return entry_err(ap, -errno, path, "mkdir");
                _cleanup_close_ int fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return entry_err(ap, -errno, path, "open directory");
                return set_meta(ap, e, fd, pfd, base, path, false, true);
        }
        case AE_IFLNK: {
                const char *target = archive_entry_symlink(e);
                if (!target)
                        return kiln_err(ap->err, -KILN_EFORMAT, "layer: entry '%s': symlink without target", path);
                if (symlinkat(target, pfd, base) < 0)
                        return entry_err(ap, -errno, path, "symlink");
                return set_meta(ap, e, -1, pfd, base, path, true, false);
        }
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO: {
                dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
                if (mknodat(pfd, base, type | 0600, dev) < 0) {
                        if (errno == EPERM && type != AE_IFIFO) {
                                kiln_warn("layer: entry '%s': device node not permitted, skipped", path);
                                ap->n_skipped++;
                                return 0;
                        }
                        return entry_err(ap, -errno, path, "mknod");
                }
                return set_meta(ap, e, -1, pfd, base, path, false, false);
        }
        }
        return 0;
}

/* Directories' modes and times last: creating their contents changed them. */
static int finish_dirs(struct applier *ap)
{
        for (size_t i = 0; i < ap->n_dirs; i++) {
                struct deferred_dir *d = &ap->dirs[i];
                _cleanup_close_ int fd = kiln_fs_open_in_root(ap->root, d->path,
                                                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
                if (fd < 0)
                        continue; /* replaced or removed by a later entry */
                if (fchmod(fd, d->mode) < 0)
                        return entry_err(ap, -errno, d->path, "chmod");
                struct timespec ts[2] = { d->mtime, d->mtime };
                if (futimens(fd, ts) < 0)
                        return entry_err(ap, -errno, d->path, "set times");
        }
        return 0;
}

/* The process umask, read without changing it (umask() would race with
 * other threads creating files). */
static mode_t current_umask(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        while (f && fgets(line, sizeof(line), f)) {
                unsigned int m;
                if (sscanf(line, "Umask: %o", &m) == 1)
                        return (mode_t)m;
        }
        return 07777; /* unknown: always chmod */
}

static int archive_fail(struct applier *ap, struct layer_in *in, const char *what)
{
        if (in->error)
                return kiln_err(ap->err, in->error, "%s", in->msg);
        return layer_archive_err(ap->a, ap->err, what);
}

/* The compressions Docker's builder reads for ADD: gzip, bzip2, xz, zstd. */
void layer_archive_support_filters(struct archive *a)
{
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_bzip2(a);
        archive_read_support_filter_xz(a);
        archive_read_support_filter_zstd(a);
}

int kiln_layer_is_tar_archive(int fd, struct kiln_error *err)
{
        struct archive *a = archive_read_new();
        if (!a)
                return kiln_err(err, -ENOMEM, "cannot allocate archive reader");
        layer_archive_support_filters(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
        int r = 0;
        if (archive_read_open_fd(a, fd, 64 * 1024) == ARCHIVE_OK) {
                struct archive_entry *e;
                int ar = archive_read_next_header(a, &e);
                r = ar == ARCHIVE_OK || ar == ARCHIVE_WARN;
        }
        archive_read_free(a);
        return r;
}

int kiln_layer_apply(int in_fd, int root_dirfd, const struct kiln_layer_apply_opts *opts,
                     struct kiln_layer_apply_info *ret, struct kiln_error *err)
{
        struct kiln_layer_apply_opts def = { 0 };
        if (!opts)
                opts = &def;
        struct layer_in in = {
                .fd = in_fd,
                .raw_h = kiln_hasher_new(KILN_DIGEST_SHA256),
                .tar_h = kiln_hasher_new(KILN_DIGEST_SHA256),
                .ibuf = kiln_xmalloc(LAYER_IO_CHUNK),
                .max_size = opts->max_size,
        };
        struct applier ap = { .root = root_dirfd, .opts = opts, .cache_fd = -1, .err = err };
        ap.euid = geteuid();
        ap.egid = getegid();
        ap.umask = current_umask();
        int r = fill(&in);
        if (r < 0) {
                r = kiln_err(err, in.error, "%s", in.msg);
                goto out;
        }
        if (in.ilen == 0) {
                r = kiln_err(err, -KILN_EFORMAT, "layer: empty input");
                goto out;
        }
        in.c = opts->plain_archive ? KILN_COMPRESSION_NONE : kiln_compression_detect(in.ibuf, in.ilen);
        if (!opts->plain_archive && in.c == KILN_COMPRESSION_NONE && in.ilen >= 3 && !memcmp(in.ibuf, "BZh", 3)) {
                r = kiln_err(err, -KILN_EUNSUPPORTED, "layer: bzip2 layers are not supported");
                goto out;
        }
        if (!opts->plain_archive && in.c == KILN_COMPRESSION_NONE && in.ilen >= 6 && !memcmp(in.ibuf, "\xfd" "7zXZ\0", 6)) {
                r = kiln_err(err, -KILN_EUNSUPPORTED, "layer: xz layers are not supported");
                goto out;
        }
        if (in.c == KILN_COMPRESSION_GZIP) {
                in.obuf = kiln_xmalloc(LAYER_IO_CHUNK);
                if (inflateInit2(&in.z, 15 + 16) != Z_OK) {
                        r = kiln_err(err, -ENOMEM, "layer: gzip init failed");
                        goto out;
                }
                in.z_init = true;
        } else if (in.c == KILN_COMPRESSION_ZSTD) {
                in.obuf = kiln_xmalloc(LAYER_IO_CHUNK);
                in.zd = ZSTD_createDStream();
                if (!in.zd) {
                        r = kiln_err(err, -ENOMEM, "layer: zstd init failed");
                        goto out;
                }
                /* a window over 128 MiB is refused (memory bound) */
                ZSTD_DCtx_setParameter(in.zd, ZSTD_d_windowLogMax, 27);
        }

        ap.a = archive_read_new();
        if (!ap.a) {
                r = kiln_err(err, -ENOMEM, "layer: cannot allocate archive reader");
                goto out;
        }
        archive_read_support_format_tar(ap.a);
        archive_read_support_format_gnutar(ap.a);
        if (opts->plain_archive)
                layer_archive_support_filters(ap.a); /* libarchive decodes */
        if (archive_read_open(ap.a, &in, NULL, read_cb, NULL) != ARCHIVE_OK) {
                r = archive_fail(&ap, &in, NULL);
                goto out;
        }
        for (;;) {
                struct archive_entry *e;
                int ar = archive_read_next_header(ap.a, &e);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar < ARCHIVE_WARN) {
                        r = archive_fail(&ap, &in, NULL);
                        goto out;
                }
                r = apply_entry(&ap, e);
                if (r == -EIO && (in.error || archive_errno(ap.a)))
                        r = archive_fail(&ap, &in, archive_entry_pathname(e));
                if (r < 0)
                        goto out;
        }
        /* drain what the tar reader left (end padding, trailing blocks) */
        for (;;) {
                const void *p;
                ssize_t n = produce(&in, &p);
                if (n < 0) {
                        r = kiln_err(err, in.error, "%s", in.msg);
                        goto out;
                }
                if (n == 0)
                        break;
        }
        r = finish_dirs(&ap);
        if (r < 0)
                goto out;
        struct kiln_layer_apply_info info = {
                .size = in.raw_bytes,
                .uncompressed_size = in.tar_bytes,
                .n_entries = ap.n_entries,
                .n_skipped = ap.n_skipped,
                .compression = in.c,
        };
        kiln_hasher_final(in.raw_h, &info.digest);
        kiln_hasher_final(in.tar_h, &info.diff_id);
        if (ret)
                *ret = info;
        r = 0;
out:
        if (ap.a)
                archive_read_free(ap.a);
        cache_drop(&ap);
        for (size_t i = 0; i < ap.n_dirs; i++)
                free(ap.dirs[i].path);
        free(ap.dirs);
        strset_free(&ap.created);
        layer_in_done(&in);
        return r;
}
