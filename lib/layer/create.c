/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer creation: walk a tree (or the difference of two trees, or an
 * overlayfs upper dir) in a fixed order and write a deterministic tar
 * through the output pipeline of compress.c.
 *
 * Order: depth first; the entries of a directory sorted byte-wise by their
 * name in the tar (so ".wh.x" sorts as ".wh.x"), a directory's own header
 * before its contents, the opaque marker right after its directory.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include "kiln/fs.h"
#include "layer-internal.h"

#define WALK_MAX_DEPTH 512
#define XATTR_LIST_MAX_BYTES (1 << 20)

struct pending_dir {
        int parent_fd;
        const char *name;
        const char *path;
        struct stat st;
};

struct walker {
        struct archive *a;
        struct layer_sink *sink;
        int64_t sde;
        struct inomap links;
        uint64_t n_entries;
        char *buf;
        struct kiln_error *err;
        /* non-overlay diff: unchanged ancestors written only if a
         * descendant is */
        struct pending_dir *pending;
        size_t n_pending, cap_pending;
};

KILN_DEFINE_CLEANUP(struct archive_entry *, archive_entry_free)

static int walk_fail(struct walker *w, int r, const char *path, const char *what)
{
        return kiln_err(w->err, r, "layer: '%s': %s: %s", path, what, kiln_strerror(r));
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in dirfd (without . and ..), sorted byte-wise. */
static int read_names(int dirfd, char ***ret, size_t *ret_n)
{
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        char **v = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        errno = 0;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        v = kiln_xrealloc(v, cap * sizeof(char *));
                }
                v[n++] = kiln_xstrdup(de->d_name);
        }
        closedir(d);
        if (n)
                qsort(v, n, sizeof(char *), cmp_str);
        *ret = v;
        *ret_n = n;
        return 0;
}

static void free_names(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

/* xattr access on dirfd/name without following a final symlink */
static ssize_t x_list(int fd, int dirfd, const char *name, char *buf, size_t size)
{
        if (fd >= 0)
                return flistxattr(fd, buf, size);
        char p[64 + NAME_MAX];
        snprintf(p, sizeof p, "/proc/self/fd/%d/%s", dirfd, name);
        return llistxattr(p, buf, size);
}

static ssize_t x_get(int fd, int dirfd, const char *name, const char *key, void *buf,
                     size_t size)
{
        if (fd >= 0)
                return fgetxattr(fd, key, buf, size);
        char p[64 + NAME_MAX];
        snprintf(p, sizeof p, "/proc/self/fd/%d/%s", dirfd, name);
        return lgetxattr(p, key, buf, size);
}

struct xattrs {
        char **names;
        size_t n;
        char *list;
};

static void xattrs_free(struct xattrs *x)
{
        free(x->names);
        free(x->list);
        *x = (struct xattrs){ 0 };
}

/* The xattrs of an entry, overlayfs' own left out, names sorted. */
static int xattrs_read(int fd, int dirfd, const char *name, struct xattrs *ret)
{
        struct xattrs x = { 0 };
        ssize_t n = x_list(fd, dirfd, name, NULL, 0);
        if (n < 0)
                return errno == ENOTSUP || errno == EOPNOTSUPP ? 0 : -errno;
        if (n == 0) {
                *ret = x;
                return 0;
        }
        if (n > XATTR_LIST_MAX_BYTES)
                return -E2BIG;
        x.list = kiln_xmalloc((size_t)n + 1);
        n = x_list(fd, dirfd, name, x.list, (size_t)n);
        if (n < 0) {
                int r = -errno;
                xattrs_free(&x);
                return r;
        }
        x.list[n] = 0;
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(x.list + i) + 1) {
                if (layer_xattr_is_overlay(x.list + i))
                        continue;
                x.names = kiln_xrealloc(x.names, (x.n + 1) * sizeof(char *));
                x.names[x.n++] = x.list + i;
        }
        if (x.n)
                qsort(x.names, x.n, sizeof(char *), cmp_str);
        *ret = x;
        return 0;
}

static int add_xattrs(struct archive_entry *e, int fd, int dirfd, const char *name)
{
        struct xattrs x;
        int r = xattrs_read(fd, dirfd, name, &x);
        if (r < 0)
                return r;
        char *val = NULL;
        for (size_t i = 0; i < x.n; i++) {
                ssize_t n = x_get(fd, dirfd, name, x.names[i], NULL, 0);
                if (n < 0) {
                        if (errno == ENODATA)
                                continue;
                        r = -errno;
                        break;
                }
                val = kiln_xrealloc(val, (size_t)n + 1);
                n = x_get(fd, dirfd, name, x.names[i], val, (size_t)n);
                if (n < 0) {
                        r = -errno;
                        break;
                }
                archive_entry_xattr_add_entry(e, x.names[i], val, (size_t)n);
        }
        free(val);
        xattrs_free(&x);
        return r;
}

static void set_common(struct walker *w, struct archive_entry *e, const char *path,
                       const struct stat *st)
{
        archive_entry_set_pathname(e, path);
        archive_entry_set_mode(e, st->st_mode);
        archive_entry_set_uid(e, st->st_uid);
        archive_entry_set_gid(e, st->st_gid);
        int64_t mt = st->st_mtim.tv_sec;
        if (w->sde >= 0 && mt > w->sde)
                mt = w->sde;
        /* whole seconds: sub-second times would force a pax header */
        archive_entry_set_mtime(e, (time_t)mt, 0);
}

static int write_header(struct walker *w, struct archive_entry *e, const char *path)
{
        int r = archive_write_header(w->a, e);
        if (r < ARCHIVE_WARN) {
                if (layer_sink_error(w->sink))
                        return kiln_err(w->err, layer_sink_error(w->sink), "layer: '%s': write failed", path);
                return kiln_err(w->err, -EIO, "layer: '%s': %s", path, archive_error_string(w->a));
        }
        w->n_entries++;
        return 0;
}

static int write_data(struct walker *w, int fd, const char *path, int64_t size)
{
        int64_t left = size;
        while (left > 0) {
                size_t want = (size_t)KILN_MIN(left, (int64_t)LAYER_IO_CHUNK);
                ssize_t n = kiln_fs_read_full(fd, w->buf, want);
                if (n < 0)
                        return walk_fail(w, (int)n, path, "read");
                if (n == 0) {
                        /* the file shrank while we read it: keep the tar
                         * consistent with the size in its header */
                        kiln_warn("layer: '%s': file shrank while being read", path);
                        memset(w->buf, 0, want);
                        n = (ssize_t)want;
                }
                la_ssize_t wr = archive_write_data(w->a, w->buf, (size_t)n);
                if (wr < 0)
                        return kiln_err(w->err, layer_sink_error(w->sink) ? layer_sink_error(w->sink) : -EIO,
                                        "layer: '%s': write failed: %s", path,
                                        archive_error_string(w->a));
                left -= n;
        }
        return 0;
}

/* Write one entry (no recursion). Sockets are skipped with a warning. */
static int write_entry(struct walker *w, int dirfd, const char *name, const char *path,
                       const struct stat *st)
{
        if (S_ISSOCK(st->st_mode)) {
                kiln_warn("layer: '%s': socket skipped", path);
                return 0;
        }
        _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
        _cleanup_close_ int fd = -1;
        set_common(w, e, path, st);
        if (S_ISREG(st->st_mode)) {
                const char *first = st->st_nlink > 1 ? inomap_get(&w->links, st->st_dev, st->st_ino) : NULL;
                if (first) {
                        archive_entry_set_hardlink(e, first);
                        archive_entry_set_size(e, 0);
                        return write_header(w, e, path);
                }
                fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME | O_NOCTTY);
                if (fd < 0 && errno == EPERM)
                        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return walk_fail(w, -errno, path, "open");
                archive_entry_set_size(e, st->st_size);
                posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        } else if (S_ISDIR(st->st_mode)) {
                fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return walk_fail(w, -errno, path, "open");
        } else if (S_ISLNK(st->st_mode)) {
                char target[PATH_MAX + 1];
                ssize_t n = readlinkat(dirfd, name, target, PATH_MAX);
                if (n < 0)
                        return walk_fail(w, -errno, path, "readlink");
                target[n] = 0;
                archive_entry_set_symlink(e, target);
        } else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
                archive_entry_set_rdevmajor(e, major(st->st_rdev));
                archive_entry_set_rdevminor(e, minor(st->st_rdev));
        }
        int r = add_xattrs(e, fd, dirfd, name);
        if (r < 0)
                return walk_fail(w, r, path, "xattrs");
        r = write_header(w, e, path);
        if (r < 0)
                return r;
        if (S_ISREG(st->st_mode)) {
                r = write_data(w, fd, path, st->st_size);
                if (r < 0)
                        return r;
                if (st->st_nlink > 1)
                        inomap_put(&w->links, st->st_dev, st->st_ino, path);
        }
        return 0;
}

static int write_whiteout(struct walker *w, const char *dir, const char *wname)
{
        _cleanup_free_ char *path = kiln_xasprintf("%s%s%s", dir ? dir : "", dir ? "/" : "", wname);
        _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, path);
        archive_entry_set_mode(e, S_IFREG | 0);
        archive_entry_set_size(e, 0);
        archive_entry_set_mtime(e, 0, 0);
        return write_header(w, e, path);
}

static int flush_pending(struct walker *w)
{
        for (size_t i = 0; i < w->n_pending; i++) {
                struct pending_dir *p = &w->pending[i];
                int r = write_entry(w, p->parent_fd, p->name, p->path, &p->st);
                if (r < 0)
                        return r;
        }
        w->n_pending = 0;
        return 0;
}

static char *join(const char *prefix, const char *name)
{
        return prefix ? kiln_xasprintf("%s/%s", prefix, name) : kiln_xstrdup(name);
}

static int open_subdir(int dirfd, const char *name)
{
        if (dirfd < 0)
                return -EBADF;
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* Everything under dirfd, whose path in the tar is prefix (NULL: root). */
static int walk_tree(struct walker *w, int dirfd, const char *prefix, unsigned depth)
{
        if (depth > WALK_MAX_DEPTH)
                return kiln_err(w->err, -KILN_ETOOBIG, "layer: '%s': tree deeper than %d", prefix,
                                WALK_MAX_DEPTH);
        char **names;
        size_t n;
        int r = read_names(dirfd, &names, &n);
        if (r < 0)
                return walk_fail(w, r, prefix ? prefix : ".", "read directory");
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *path = join(prefix, names[i]);
                struct stat st;
                if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = walk_fail(w, -errno, path, "stat");
                        break;
                }
                r = write_entry(w, dirfd, names[i], path, &st);
                if (r < 0 || !S_ISDIR(st.st_mode))
                        continue;
                _cleanup_close_ int sub = open_subdir(dirfd, names[i]);
                if (sub < 0) {
                        r = walk_fail(w, sub, path, "open");
                        break;
                }
                r = walk_tree(w, sub, path, depth + 1);
        }
        free_names(names, n);
        return r;
}

/* ---- diff ---- */

enum item_kind { ITEM_UPPER, ITEM_LOWER_ONLY, ITEM_BOTH, ITEM_WHITEOUT };

struct item {
        char *outname; /* name in the tar, for sorting */
        const char *name;
        enum item_kind kind;
};

static int cmp_item(const void *a, const void *b)
{
        return strcmp(((const struct item *)a)->outname, ((const struct item *)b)->outname);
}

static void free_items(struct item *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i].outname);
        free(v);
}

static bool lower_has(int ldirfd, const char *name, struct stat *st)
{
        struct stat tmp;
        return ldirfd >= 0 && fstatat(ldirfd, name, st ? st : &tmp, AT_SYMLINK_NOFOLLOW) == 0;
}

static bool is_opaque(int dirfd, const char *name)
{
        char v[8];
        const char *keys[] = { "trusted.overlay.opaque", "user.overlay.opaque" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(keys); i++) {
                ssize_t n = x_get(-1, dirfd, name, keys[i], v, sizeof v);
                if (n == 1 && v[0] == 'y')
                        return true;
        }
        return false;
}

static int walk_overlay(struct walker *w, int udirfd, int ldirfd, const char *prefix,
                        unsigned depth)
{
        if (depth > WALK_MAX_DEPTH)
                return kiln_err(w->err, -KILN_ETOOBIG, "layer: '%s': tree deeper than %d", prefix,
                                WALK_MAX_DEPTH);
        char **names;
        size_t n;
        int r = read_names(udirfd, &names, &n);
        if (r < 0)
                return walk_fail(w, r, prefix ? prefix : ".", "read directory");
        struct item *items = kiln_xcalloc(n ? n : 1, sizeof(*items));
        for (size_t i = 0; i < n; i++) {
                struct stat st;
                items[i].name = names[i];
                items[i].kind = ITEM_UPPER;
                if (fstatat(udirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
                        items[i].kind = ITEM_WHITEOUT;
                        items[i].outname = kiln_xasprintf(".wh.%s", names[i]);
                } else {
                        items[i].outname = kiln_xstrdup(names[i]);
                }
        }
        qsort(items, n, sizeof(*items), cmp_item);
        for (size_t i = 0; i < n && r >= 0; i++) {
                const char *name = items[i].name;
                _cleanup_free_ char *path = join(prefix, name);
                if (items[i].kind == ITEM_WHITEOUT) {
                        /* a whiteout of something lower never had is noise */
                        if (lower_has(ldirfd, name, NULL))
                                r = write_whiteout(w, prefix, items[i].outname);
                        continue;
                }
                struct stat st;
                if (fstatat(udirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = walk_fail(w, -errno, path, "stat");
                        break;
                }
                r = write_entry(w, udirfd, name, path, &st);
                if (r < 0 || !S_ISDIR(st.st_mode))
                        continue;
                struct stat lst;
                bool opaque = is_opaque(udirfd, name);
                bool lower_dir = lower_has(ldirfd, name, &lst) && S_ISDIR(lst.st_mode);
                if (opaque && lower_dir) {
                        r = write_whiteout(w, path, ".wh..wh..opq");
                        if (r < 0)
                                break;
                }
                _cleanup_close_ int usub = open_subdir(udirfd, name);
                if (usub < 0) {
                        r = walk_fail(w, usub, path, "open");
                        break;
                }
                _cleanup_close_ int lsub = opaque || !lower_dir ? -1 : open_subdir(ldirfd, name);
                r = walk_overlay(w, usub, lsub, path, depth + 1);
        }
        free_items(items, n);
        free_names(names, n);
        return r;
}

static int xattrs_equal(int lfd, int ldirfd, const char *name, int ufd, int udirfd)
{
        struct xattrs lx = { 0 }, ux = { 0 };
        int r = xattrs_read(lfd, ldirfd, name, &lx);
        if (r == 0)
                r = xattrs_read(ufd, udirfd, name, &ux);
        if (r < 0)
                goto out;
        r = lx.n == ux.n;
        for (size_t i = 0; r == 1 && i < lx.n; i++) {
                if (strcmp(lx.names[i], ux.names[i])) {
                        r = 0;
                        break;
                }
                char lv[4096], uv[4096];
                ssize_t a = x_get(lfd, ldirfd, name, lx.names[i], lv, sizeof lv);
                ssize_t b = x_get(ufd, udirfd, name, ux.names[i], uv, sizeof uv);
                r = a == b && (a < 0 || memcmp(lv, uv, (size_t)a) == 0);
        }
out:
        xattrs_free(&lx);
        xattrs_free(&ux);
        return r;
}

static int content_equal(struct walker *w, int ldirfd, int udirfd, const char *name, off_t size)
{
        _cleanup_close_ int a = openat(ldirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int b = openat(udirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (a < 0 || b < 0)
                return 0;
        size_t half = LAYER_IO_CHUNK / 2;
        for (off_t done = 0; done < size;) {
                ssize_t na = kiln_fs_read_full(a, w->buf, half);
                ssize_t nb = kiln_fs_read_full(b, w->buf + half, half);
                if (na <= 0 || na != nb || memcmp(w->buf, w->buf + half, (size_t)na))
                        return 0;
                done += na;
        }
        return 1;
}

/* 1 if lower and upper entry (same type) differ, 0 if not, <0 on error */
static int entry_changed(struct walker *w, int ldirfd, int udirfd, const char *name,
                         const struct stat *l, const struct stat *u)
{
        if (l->st_mode != u->st_mode || l->st_uid != u->st_uid || l->st_gid != u->st_gid)
                return 1;
        if ((S_ISCHR(u->st_mode) || S_ISBLK(u->st_mode)) && l->st_rdev != u->st_rdev)
                return 1;
        if (l->st_mtim.tv_sec != u->st_mtim.tv_sec || l->st_mtim.tv_nsec != u->st_mtim.tv_nsec)
                return 1;
        if (S_ISREG(u->st_mode) && l->st_size != u->st_size)
                return 1;
        if (S_ISLNK(u->st_mode)) {
                char a[PATH_MAX + 1], b[PATH_MAX + 1];
                ssize_t na = readlinkat(ldirfd, name, a, PATH_MAX);
                ssize_t nb = readlinkat(udirfd, name, b, PATH_MAX);
                if (na != nb || na < 0 || memcmp(a, b, (size_t)na))
                        return 1;
        }
        _cleanup_close_ int lfd = -1, ufd = -1;
        if (S_ISREG(u->st_mode) || S_ISDIR(u->st_mode)) {
                int fl = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(u->st_mode) ? O_DIRECTORY : 0);
                lfd = openat(ldirfd, name, fl);
                ufd = openat(udirfd, name, fl);
                if (lfd < 0 || ufd < 0)
                        return 1;
        }
        int r = xattrs_equal(lfd, ldirfd, name, ufd, udirfd);
        if (r <= 0)
                return r < 0 ? r : 1;
        if (S_ISREG(u->st_mode) && !content_equal(w, ldirfd, udirfd, name, u->st_size))
                return 1;
        return 0;
}

static int walk_diff(struct walker *w, int ldirfd, int udirfd, const char *prefix,
                     unsigned depth)
{
        if (depth > WALK_MAX_DEPTH)
                return kiln_err(w->err, -KILN_ETOOBIG, "layer: '%s': tree deeper than %d", prefix,
                                WALK_MAX_DEPTH);
        char **ln = NULL, **un = NULL;
        size_t nl = 0, nu = 0;
        int r = read_names(ldirfd, &ln, &nl);
        if (r >= 0)
                r = read_names(udirfd, &un, &nu);
        if (r < 0) {
                free_names(ln, nl);
                return walk_fail(w, r, prefix ? prefix : ".", "read directory");
        }
        struct item *items = kiln_xcalloc(nl + nu + 1, sizeof(*items));
        size_t n = 0, i = 0, j = 0;
        while (i < nl || j < nu) {
                int c = i == nl ? 1 : j == nu ? -1 : strcmp(ln[i], un[j]);
                if (c < 0) {
                        items[n].name = ln[i++];
                        items[n].kind = ITEM_LOWER_ONLY;
                        items[n].outname = kiln_xasprintf(".wh.%s", items[n].name);
                } else {
                        items[n].name = un[j++];
                        items[n].kind = c == 0 ? ITEM_BOTH : ITEM_UPPER;
                        items[n].outname = kiln_xstrdup(items[n].name);
                        if (c == 0)
                                i++;
                }
                n++;
        }
        qsort(items, n, sizeof(*items), cmp_item);
        for (size_t k = 0; k < n && r >= 0; k++) {
                const char *name = items[k].name;
                _cleanup_free_ char *path = join(prefix, name);
                if (items[k].kind == ITEM_LOWER_ONLY) {
                        r = flush_pending(w);
                        if (r >= 0)
                                r = write_whiteout(w, prefix, items[k].outname);
                        continue;
                }
                struct stat ust, lst;
                if (fstatat(udirfd, name, &ust, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = walk_fail(w, -errno, path, "stat");
                        break;
                }
                bool both = items[k].kind == ITEM_BOTH &&
                            fstatat(ldirfd, name, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
                            (lst.st_mode & S_IFMT) == (ust.st_mode & S_IFMT);
                if (!both || !S_ISDIR(ust.st_mode)) {
                        if (both) {
                                r = entry_changed(w, ldirfd, udirfd, name, &lst, &ust);
                                if (r <= 0) {
                                        if (r < 0)
                                                r = walk_fail(w, r, path, "compare");
                                        continue;
                                }
                        }
                        r = flush_pending(w);
                        if (r >= 0)
                                r = write_entry(w, udirfd, name, path, &ust);
                        if (r < 0 || !S_ISDIR(ust.st_mode))
                                continue;
                        _cleanup_close_ int sub = open_subdir(udirfd, name);
                        r = sub < 0 ? walk_fail(w, sub, path, "open") : walk_tree(w, sub, path, depth + 1);
                        continue;
                }
                /* a directory on both sides */
                r = entry_changed(w, ldirfd, udirfd, name, &lst, &ust);
                if (r < 0) {
                        r = walk_fail(w, r, path, "compare");
                        break;
                }
                size_t mark = w->n_pending;
                if (r) {
                        r = flush_pending(w);
                        if (r >= 0)
                                r = write_entry(w, udirfd, name, path, &ust);
                        if (r < 0)
                                break;
                        mark = 0;
                } else {
                        if (w->n_pending == w->cap_pending) {
                                w->cap_pending = w->cap_pending ? w->cap_pending * 2 : 16;
                                w->pending = kiln_xrealloc(w->pending, w->cap_pending * sizeof(*w->pending));
                        }
                        w->pending[w->n_pending++] = (struct pending_dir){ udirfd, name, path, ust };
                }
                _cleanup_close_ int usub = open_subdir(udirfd, name);
                _cleanup_close_ int lsub = open_subdir(ldirfd, name);
                if (usub < 0 || lsub < 0) {
                        r = walk_fail(w, usub < 0 ? usub : lsub, path, "open");
                        break;
                }
                r = walk_diff(w, lsub, usub, path, depth + 1);
                /* nothing below changed: forget the unchanged dir */
                if (w->n_pending > mark)
                        w->n_pending = mark;
        }
        free_items(items, n);
        free_names(ln, nl);
        free_names(un, nu);
        return r;
}

static int create_common(int lower_dirfd, int upper_dirfd, int mode, int out_fd,
                         const struct kiln_layer_create_opts *opts,
                         struct kiln_layer_info *ret, struct kiln_error *err)
{
        struct kiln_layer_create_opts def = KILN_LAYER_CREATE_OPTS_INIT;
        if (!opts)
                opts = &def;
        _cleanup_(layer_sink_freep) struct layer_sink *sink = NULL;
        int r = layer_sink_new(out_fd, opts, &sink, err);
        if (r < 0)
                return r;
        _cleanup_(archive_write_freep) struct archive *a = layer_sink_archive(sink, err);
        if (!a)
                return -EIO;
        _cleanup_free_ char *buf = kiln_xmalloc(LAYER_IO_CHUNK);
        struct walker w = {
                .a = a, .sink = sink, .sde = opts->source_date_epoch, .buf = buf, .err = err,
        };
        if (mode == 0)
                r = walk_tree(&w, upper_dirfd, NULL, 0);
        else if (mode == 1)
                r = walk_overlay(&w, upper_dirfd, lower_dirfd, NULL, 0);
        else
                r = walk_diff(&w, lower_dirfd, upper_dirfd, NULL, 0);
        inomap_free(&w.links);
        free(w.pending);
        if (r < 0)
                return r;
        return layer_sink_finish(sink, a, w.n_entries, ret, err);
}

int kiln_layer_create_dir(int src_dirfd, int out_fd, const struct kiln_layer_create_opts *opts,
                          struct kiln_layer_info *ret, struct kiln_error *err)
{
        return create_common(-1, src_dirfd, 0, out_fd, opts, ret, err);
}

int kiln_layer_create_diff(int lower_dirfd, int upper_dirfd, unsigned flags, int out_fd,
                           const struct kiln_layer_create_opts *opts,
                           struct kiln_layer_info *ret, struct kiln_error *err)
{
        if (flags & KILN_DIFF_OVERLAY)
                return create_common(lower_dirfd, upper_dirfd, 1, out_fd, opts, ret, err);
        if (lower_dirfd < 0)
                return create_common(-1, upper_dirfd, 0, out_fd, opts, ret, err);
        return create_common(lower_dirfd, upper_dirfd, 2, out_fd, opts, ret, err);
}
