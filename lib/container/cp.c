/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln cp: copy files between a container's root filesystem and the host,
 * with docker cp's path rules.
 *
 * Safety: the container side is attacker-controlled (a running container
 * can change its files while we copy). Its paths are resolved only with
 * kiln_fs_open_in_root / kiln_fs_open_parent_in_root on the rootfs dirfd;
 * below that, every step is one readdir name opened with O_NOFOLLOW (or
 * O_PATH|O_NOFOLLOW and fstat) relative to a directory fd already inside,
 * and every change is made by name relative to a parent dirfd with calls
 * that never follow a final symlink (mkdirat, symlinkat, mknodat, renameat,
 * fchownat/utimensat with AT_SYMLINK_NOFOLLOW) or on an fd (fchown, fchmod,
 * futimens). Files are written to a temporary name and renamed over the
 * target, so an existing symlink at the target is replaced, not written
 * through (build's COPY, kiln_copy_tree_at, creates a file under its own
 * name with O_EXCL|O_NOFOLLOW when nothing is there: one rename less a file).
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "container-internal.h"
#include "kiln/fs.h"

#define CP_MAX_DEPTH 1024
#define CP_BUFSIZE (128 * 1024)
/* internal flag (beside KILN_CP_*): kiln_copy_tree_at, build's COPY into a
 * step's own fresh upper dir, creates new files under their own name */
#define CP_IN_PLACE (1u << 16)

struct cp {
        unsigned flags;
        uid_t uid; /* owner when not KILN_CP_ARCHIVE */
        gid_t gid;
        int64_t bytes;
        struct kiln_error *err;
        /* kiln_copy_tree_at (build's COPY): permission bits of everything
         * written when not 0, and a filter on paths relative to the source */
        mode_t mode;
        bool (*skip)(void *ud, const char *relpath, bool is_dir);
        void *skip_ud;
        const char *rel; /* the directory being copied, relative to the source */
        /* kiln_copy_tree_at: hard links kept, as BuildKit and buildah do: a
         * source inode with several names is written once, its other names
         * link to the copy (an O_PATH fd on it; at most CP_MAX_LINKS) */
        bool keep_links;
        struct cp_link *links;
        size_t n_links;
};

struct cp_link {
        dev_t dev;
        ino_t ino;
        int fd;
};

#define CP_MAX_LINKS 4096

/* What a copy starts from: an O_PATH fd on the object, its stat, the name
 * it gets inside an existing destination directory, and the docker rules'
 * flags. */
struct cp_src {
        int fd;
        struct stat st;
        char *name;
        bool contents; /* "DIR/.": the directory's contents, not itself */
        bool trailing; /* ended with "/": must be a directory */
        const char *shown;
};

/* Where it goes: the parent directory and last component, whether it
 * exists and, when it is a directory (symlinks to one followed inside the
 * root), an fd on it. */
struct cp_dst {
        int parent;
        char *name;
        bool exists;
        int dirfd; /* >= 0: an existing directory */
        bool trailing;
        const char *shown;
};

static void src_done(struct cp_src *x)
{
        if (x->fd >= 0)
                close(x->fd);
        free(x->name);
}

static void dst_done(struct cp_dst *x)
{
        if (x->parent >= 0)
                close(x->parent);
        if (x->dirfd >= 0)
                close(x->dirfd);
        free(x->name);
}

static bool is_dot_or_dotdot(const char *n)
{
        return !strcmp(n, ".") || !strcmp(n, "..");
}

/*
 * A container path, cleaned lexically as docker does: relative to the
 * root, "." dropped, ".." pops (never above the root). *trailing: it ended
 * with "/" or "/."; *contents: it ended with "/." (or is "." or the root).
 */
static int clean_ctr_path(const char *raw, char **ret, bool *trailing, bool *contents)
{
        size_t len = strlen(raw);
        if (len >= PATH_MAX)
                return -ENAMETOOLONG;
        *contents = kiln_endswith(raw, "/.") || !strcmp(raw, ".");
        *trailing = (len && raw[len - 1] == '/') || *contents;
        char *out = kiln_xmalloc(len + 1);
        size_t o = 0;
        const char *p = raw;
        while (*p) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *e = strchr(p, '/');
                size_t n = e ? (size_t)(e - p) : strlen(p);
                if (n == 1 && p[0] == '.') {
                        /* nothing */
                } else if (n == 2 && p[0] == '.' && p[1] == '.') {
                        while (o > 0 && out[o - 1] != '/')
                                o--;
                        if (o > 0)
                                o--;
                } else {
                        if (o)
                                out[o++] = '/';
                        memcpy(out + o, p, n);
                        o += n;
                }
                p += n;
        }
        out[o] = 0;
        if (!o)
                *contents = true; /* the root: its contents */
        *ret = out;
        return 0;
}

/* ---- resolving the two ends ---- */

static int ctr_not_found(struct cp *c, const char *what, const char *path)
{
        return kiln_err(c->err, -KILN_ENOTFOUND, "Could not find the file %s%s in container %s",
                        path[0] == '/' ? "" : "/", path, what);
}

static int resolve_ctr_src(struct cp *c, int rootfd, const char *what, const char *raw,
                           struct cp_src *ret)
{
        _cleanup_free_ char *rel = NULL;
        bool trailing, contents;
        int r = clean_ctr_path(raw, &rel, &trailing, &contents);
        if (r < 0)
                return kiln_err(c->err, r, "%s: %s", raw, kiln_strerror(r));
        ret->trailing = trailing;
        ret->contents = contents;
        ret->shown = raw;
        if (!*rel) {
                ret->fd = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
                ret->name = kiln_xstrdup("/");
        } else {
                const char *base;
                _cleanup_close_ int pfd = kiln_fs_open_parent_in_root(rootfd, rel, false, &base);
                if (pfd < 0)
                        return ctr_not_found(c, what, raw);
                struct stat st;
                if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return ctr_not_found(c, what, raw);
                if (S_ISLNK(st.st_mode) && ((c->flags & KILN_CP_FOLLOW_LINK) || trailing)) {
                        int fd = kiln_fs_open_in_root(rootfd, rel, O_PATH, 0);
                        if (fd < 0)
                                return ctr_not_found(c, what, raw);
                        ret->fd = fd;
                } else {
                        ret->fd = openat(pfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                }
                ret->name = kiln_xstrdup(base);
        }
        if (ret->fd < 0 || fstat(ret->fd, &ret->st) < 0)
                return ctr_not_found(c, what, raw);
        return 0;
}

static int resolve_ctr_dst(struct cp *c, int rootfd, const char *what, const char *raw,
                           struct cp_dst *ret)
{
        _cleanup_free_ char *rel = NULL;
        bool trailing, contents;
        int r = clean_ctr_path(raw, &rel, &trailing, &contents);
        if (r < 0)
                return kiln_err(c->err, r, "%s: %s", raw, kiln_strerror(r));
        ret->trailing = trailing;
        ret->shown = raw;
        if (!*rel) {
                ret->exists = true;
                ret->dirfd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                return ret->dirfd < 0 ? kiln_err(c->err, -errno, "%s: %s", raw, strerror(errno)) : 0;
        }
        const char *base;
        ret->parent = kiln_fs_open_parent_in_root(rootfd, rel, false, &base);
        if (ret->parent < 0) {
                /* docker does not create parent directories */
                _cleanup_free_ char *dir = kiln_xstrdup(rel);
                char *sl = strrchr(dir, '/');
                if (sl)
                        *sl = 0;
                return ctr_not_found(c, what, sl ? dir : rel);
        }
        ret->name = kiln_xstrdup(base);
        struct stat st;
        if (fstatat(ret->parent, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return kiln_err(c->err, -errno, "%s: %s", raw, strerror(errno));
                return 0;
        }
        ret->exists = true;
        if (S_ISDIR(st.st_mode)) {
                ret->dirfd = openat(ret->parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        } else if (S_ISLNK(st.st_mode)) {
                /* a symlink to a directory is that directory, resolved inside the root;
                 * any other symlink is replaced, never written through */
                int fd = kiln_fs_open_in_root(rootfd, rel, O_RDONLY | O_DIRECTORY, 0);
                if (fd >= 0)
                        ret->dirfd = fd;
        }
        return 0;
}

static char *strip_trailing(const char *raw, bool *trailing, bool *contents)
{
        size_t len = strlen(raw);
        *contents = kiln_endswith(raw, "/.") || !strcmp(raw, ".");
        *trailing = (len && raw[len - 1] == '/') || *contents;
        char *p = kiln_xstrdup(raw);
        for (;;) {
                size_t n = strlen(p);
                if (n > 1 && p[n - 1] == '/')
                        p[n - 1] = 0;
                else if (n > 2 && kiln_endswith(p, "/."))
                        p[n - 2] = 0;
                else
                        break;
        }
        return p;
}

static int resolve_host_src(struct cp *c, const char *raw, struct cp_src *ret)
{
        bool trailing, contents;
        _cleanup_free_ char *p = strip_trailing(raw, &trailing, &contents);
        ret->trailing = trailing;
        ret->contents = contents;
        ret->shown = raw;
        bool follow = (c->flags & KILN_CP_FOLLOW_LINK) || trailing;
        ret->fd = open(p, O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
        if (ret->fd < 0 || fstat(ret->fd, &ret->st) < 0)
                return kiln_err(c->err, -errno, "%s: %s", raw, strerror(errno));
        const char *sl = strrchr(p, '/');
        const char *base = sl ? sl + 1 : p;
        if (!*base || is_dot_or_dotdot(base))
                ret->contents = true;
        ret->name = kiln_xstrdup(base);
        return 0;
}

static int resolve_host_dst(struct cp *c, const char *raw, struct cp_dst *ret)
{
        bool trailing, contents;
        _cleanup_free_ char *p = strip_trailing(raw, &trailing, &contents);
        ret->trailing = trailing;
        ret->shown = raw;
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                ret->exists = true;
                ret->dirfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (ret->dirfd < 0)
                        return kiln_err(c->err, -errno, "%s: %s", raw, strerror(errno));
                return 0;
        }
        char *sl = strrchr(p, '/');
        const char *base = sl ? sl + 1 : p;
        _cleanup_free_ char *dir = sl ? kiln_xstrndup(p, (size_t)(sl - p)) : kiln_xstrdup(".");
        if (!*dir) {
                free(dir);
                dir = kiln_xstrdup("/");
        }
        if (is_dot_or_dotdot(base))
                return kiln_err(c->err, -EINVAL, "%s: not a valid destination", raw);
        ret->parent = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ret->parent < 0)
                return kiln_err(c->err, -ENOENT, "%s: no such directory", dir);
        ret->name = kiln_xstrdup(base);
        if (fstatat(ret->parent, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
                ret->exists = true;
        else if (errno != ENOENT)
                return kiln_err(c->err, -errno, "%s: %s", raw, strerror(errno));
        return 0;
}

/* ---- creating entries ---- */

struct meta {
        mode_t mode;
        uid_t uid;
        gid_t gid;
        struct timespec atime, mtime;
};

static struct meta meta_of(const struct stat *st)
{
        return (struct meta){ st->st_mode, st->st_uid, st->st_gid, st->st_atim, st->st_mtim };
}

/* Owner, then mode (chown clears set-id bits), then times. fd < 0: a
 * symlink, changed by name without following it. */
static int set_meta(struct cp *c, int fd, int parent, const char *name, const struct meta *m)
{
        uid_t uid = (c->flags & KILN_CP_ARCHIVE) ? m->uid : c->uid;
        gid_t gid = (c->flags & KILN_CP_ARCHIVE) ? m->gid : c->gid;
        struct timespec ts[2] = { m->atime, m->mtime };
        int r = fd >= 0 ? fchown(fd, uid, gid) : fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW);
        if (r < 0 && !(errno == EPERM && geteuid() != 0))
                return -errno;
        if (fd >= 0) {
                if (fchmod(fd, c->mode ? c->mode : m->mode & 07777) < 0)
                        return -errno;
                if (futimens(fd, ts) < 0)
                        return -errno;
        } else if (utimensat(parent, name, ts, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOTSUP) {
                return -errno;
        }
        return 0;
}

/* A fresh temporary name in parent; the caller creates it with O_EXCL-like calls. */
static void tmp_name(char *buf, size_t n)
{
        static unsigned counter;
        snprintf(buf, n, ".kiln-cp-%d-%u-%08lx", (int)getpid(), counter++, (unsigned long)random());
}

/* Move parent/tmp over parent/name. A directory in the way is removed first
 * (only for entries below the top: the top-level cases are checked before). */
static int put_in_place(int parent, const char *tmp, const char *name)
{
        if (renameat(parent, tmp, parent, name) == 0)
                return 0;
        int e = errno;
        if (e == EISDIR || e == ENOTEMPTY || e == EEXIST) {
                int r = kiln_fs_rm_rf_at(parent, name);
                if (r >= 0 && renameat(parent, tmp, parent, name) == 0)
                        return 0;
                e = r < 0 ? -r : errno;
        }
        unlinkat(parent, tmp, 0);
        return -e;
}

/* Reopen an O_PATH fd for reading (the magic link names the same inode). */
static int reopen(int pathfd, int flags)
{
        char p[64];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", pathfd);
        int fd = open(p, flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

typedef ssize_t (*read_fn)(void *ud, void *buf, size_t n);

static ssize_t read_fd(void *ud, void *buf, size_t n)
{
        ssize_t k;
        do
                k = read(*(int *)ud, buf, n);
        while (k < 0 && errno == EINTR);
        return k < 0 ? -errno : k;
}

/* Copy what is left of the regular file in_fd into out_fd in the kernel:
 * copy_file_range (shared extents where the filesystem can), else sendfile
 * (between different filesystems, e.g. the context's and the step's
 * overlay, copy_file_range says EXDEV); no round trip through user space
 * either way. 0 also when the kernel cannot copy between these two files:
 * the caller's read loop then copies the rest, if any. */
static int copy_in_kernel(struct cp *c, int in_fd, int out_fd)
{
        bool cfr = true;
        int64_t done = 0;
        for (;;) {
                ssize_t n = cfr ? copy_file_range(in_fd, NULL, out_fd, NULL, 1 << 30, 0)
                                : sendfile(out_fd, in_fd, NULL, 1 << 30);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && done == 0 &&
                    (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == EBADF)) {
                        if (!cfr)
                                return 0;
                        cfr = false;
                        continue;
                }
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                done += n;
                c->bytes += n;
        }
}

/* Write a regular file at parent/name from the reader (src_fd: the same
 * source as a regular file's fd, for an in-kernel copy, or -1). With
 * CP_IN_PLACE and nothing at parent/name, the file is created under its
 * own name; otherwise under a temporary name renamed over the target. */
static int write_file(struct cp *c, read_fn rd, void *ud, int src_fd, int parent, const char *name,
                      const struct meta *m)
{
        char tmp[64];
        _cleanup_close_ int fd = -1;
        bool in_place = false;
        if (c->flags & CP_IN_PLACE) {
                /* O_EXCL|O_NOFOLLOW: anything there, a symlink too, takes
                 * the temporary-name path below */
                fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd < 0 && errno != EEXIST)
                        return -errno;
                in_place = fd >= 0;
        }
        for (int i = 0; fd < 0 && i < 100; i++) {
                tmp_name(tmp, sizeof(tmp));
                fd = openat(parent, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd < 0 && errno != EEXIST)
                        return -errno;
        }
        if (fd < 0)
                return -EEXIST;
        int r = src_fd >= 0 ? copy_in_kernel(c, src_fd, fd) : 0;
        _cleanup_free_ char *buf = r >= 0 ? kiln_xmalloc(CP_BUFSIZE) : NULL;
        while (r >= 0) {
                ssize_t n = rd(ud, buf, CP_BUFSIZE);
                if (n < 0) {
                        r = (int)n;
                        break;
                }
                if (n == 0)
                        break;
                r = kiln_fs_write_all(fd, buf, (size_t)n);
                if (r < 0)
                        break;
                c->bytes += n;
        }
        const char *at = in_place ? name : tmp;
        if (r >= 0)
                r = set_meta(c, fd, parent, at, m);
        if (r >= 0 && !in_place)
                r = put_in_place(parent, tmp, name);
        else if (r < 0)
                unlinkat(parent, at, 0);
        return r;
}

static int write_symlink(struct cp *c, const char *target, int parent, const char *name,
                         const struct meta *m)
{
        char tmp[64];
        int i;
        for (i = 0; i < 100; i++) {
                tmp_name(tmp, sizeof(tmp));
                if (symlinkat(target, parent, tmp) == 0)
                        break;
                if (errno != EEXIST)
                        return -errno;
        }
        if (i == 100)
                return -EEXIST;
        int r = set_meta(c, -1, parent, tmp, m);
        if (r >= 0)
                r = put_in_place(parent, tmp, name);
        else
                unlinkat(parent, tmp, 0);
        return r;
}

/* FIFOs and device nodes (devices need CAP_MKNOD; sockets are skipped). */
static int write_node(struct cp *c, int parent, const char *name, const struct meta *m, dev_t rdev)
{
        if (S_ISSOCK(m->mode)) {
                kiln_warn("cp: %s: skipping a socket", name);
                return 0;
        }
        char tmp[64];
        int i;
        for (i = 0; i < 100; i++) {
                tmp_name(tmp, sizeof(tmp));
                if (mknodat(parent, tmp, (m->mode & S_IFMT) | 0600, rdev) == 0)
                        break;
                if (errno != EEXIST)
                        return -errno;
        }
        if (i == 100)
                return -EEXIST;
        /* mode and times through an O_PATH fd checked to be this node */
        int r = 0;
        _cleanup_close_ int pfd = openat(parent, tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (pfd < 0 || fstat(pfd, &st) < 0 || (st.st_mode & S_IFMT) != (m->mode & S_IFMT)) {
                r = -EIO;
        } else {
                uid_t uid = (c->flags & KILN_CP_ARCHIVE) ? m->uid : c->uid;
                gid_t gid = (c->flags & KILN_CP_ARCHIVE) ? m->gid : c->gid;
                char p[64];
                snprintf(p, sizeof(p), "/proc/self/fd/%d", pfd);
                struct timespec ts[2] = { m->atime, m->mtime };
                if ((fchownat(parent, tmp, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && geteuid() == 0) ||
                    chmod(p, c->mode ? c->mode : m->mode & 07777) < 0 || utimensat(AT_FDCWD, p, ts, 0) < 0)
                        r = -errno;
        }
        if (r >= 0)
                r = put_in_place(parent, tmp, name);
        else
                unlinkat(parent, tmp, 0);
        return r;
}

/* parent/name as a directory we can write into: an existing directory is
 * kept (merged into), anything else in the way is replaced. */
static int make_dir(int parent, const char *name)
{
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
                return fd;
        if (errno != ENOENT) {
                int r = kiln_fs_rm_rf_at(parent, name);
                if (r < 0)
                        return r;
        }
        if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
                return -errno;
        fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* ---- copying a tree ---- */

static int copy_node(struct cp *c, int sfd, const struct stat *st, int parent, const char *name,
                     unsigned depth);

/* The entries of the directory sdir (an open directory fd) into ddir. */
static int copy_children(struct cp *c, int sdir, int ddir, unsigned depth)
{
        if (depth > CP_MAX_DEPTH)
                return kiln_err(c->err, -KILN_ETOOBIG, "cp: directories nested too deep");
        int dfd = dup(sdir);
        if (dfd < 0)
                return -errno;
        DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return -errno;
        }
        rewinddir(d);
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (is_dot_or_dotdot(de->d_name))
                        continue;
                names = kiln_xrealloc(names, (n + 1) * sizeof(char *));
                names[n++] = kiln_xstrdup(de->d_name);
        }
        closedir(d);
        int r = 0;
        for (size_t i = 0; i < n; i++) {
                if (r >= 0) {
                        _cleanup_close_ int fd = openat(sdir, names[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
                        struct stat st;
                        if (fd < 0 || fstat(fd, &st) < 0) {
                                if (errno != ENOENT) /* gone meanwhile: fine */
                                        r = kiln_err(c->err, -errno, "%s: %s", names[i], strerror(errno));
                        } else if (c->skip) {
                                const char *parent_rel = c->rel;
                                _cleanup_free_ char *crel = parent_rel && *parent_rel
                                                                    ? kiln_xasprintf("%s/%s", parent_rel, names[i])
                                                                    : kiln_xstrdup(names[i]);
                                if (!c->skip(c->skip_ud, crel, S_ISDIR(st.st_mode))) {
                                        c->rel = crel;
                                        r = copy_node(c, fd, &st, ddir, names[i], depth + 1);
                                        c->rel = parent_rel;
                                }
                        } else {
                                r = copy_node(c, fd, &st, ddir, names[i], depth + 1);
                        }
                }
                free(names[i]);
        }
        free(names);
        return r;
}

static int copy_dir(struct cp *c, int sfd, const struct stat *st, int parent, const char *name,
                    unsigned depth)
{
        _cleanup_close_ int sdir = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sdir < 0)
                return kiln_err(c->err, -errno, "%s: %s", name, strerror(errno));
        _cleanup_close_ int ddir = make_dir(parent, name);
        if (ddir < 0)
                return kiln_err(c->err, ddir, "%s: %s", name, kiln_strerror(ddir));
        int r = copy_children(c, sdir, ddir, depth);
        if (r < 0)
                return r;
        struct meta m = meta_of(st);
        r = set_meta(c, ddir, parent, name, &m);
        return r < 0 ? kiln_err(c->err, r, "%s: %s", name, kiln_strerror(r)) : 0;
}

/* parent/name as one more name of the file fd (an O_PATH fd) is open on */
static int write_link(int fd, int parent, const char *name)
{
        char tmp[64], p[64];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        int i;
        for (i = 0; i < 100; i++) {
                tmp_name(tmp, sizeof(tmp));
                if (linkat(AT_FDCWD, p, parent, tmp, AT_SYMLINK_FOLLOW) == 0)
                        break;
                if (errno != EEXIST)
                        return -errno;
        }
        if (i == 100)
                return -EEXIST;
        return put_in_place(parent, tmp, name);
}

static struct cp_link *find_link(struct cp *c, const struct stat *st)
{
        if (!c->keep_links || st->st_nlink < 2)
                return NULL;
        for (size_t k = 0; k < c->n_links; k++)
                if (c->links[k].dev == st->st_dev && c->links[k].ino == st->st_ino)
                        return &c->links[k];
        return NULL;
}

static void remember_link(struct cp *c, const struct stat *st, int parent, const char *name)
{
        if (!c->keep_links || st->st_nlink < 2 || c->n_links >= CP_MAX_LINKS)
                return;
        int fd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return; /* the next name is then a copy of its own */
        c->links = kiln_xrealloc(c->links, (c->n_links + 1) * sizeof(*c->links));
        c->links[c->n_links++] = (struct cp_link){ .dev = st->st_dev, .ino = st->st_ino, .fd = fd };
}

static int copy_node(struct cp *c, int sfd, const struct stat *st, int parent, const char *name,
                     unsigned depth)
{
        struct meta m = meta_of(st);
        int r;
        if (S_ISDIR(st->st_mode))
                return copy_dir(c, sfd, st, parent, name, depth);
        const struct cp_link *l = S_ISREG(st->st_mode) ? find_link(c, st) : NULL;
        if (l) {
                r = write_link(l->fd, parent, name);
        } else if (S_ISREG(st->st_mode)) {
                _cleanup_close_ int fd = reopen(sfd, O_RDONLY);
                if (fd < 0)
                        return kiln_err(c->err, fd, "%s: %s", name, kiln_strerror(fd));
                r = write_file(c, read_fd, &fd, fd, parent, name, &m);
                if (r >= 0)
                        remember_link(c, st, parent, name);
        } else if (S_ISLNK(st->st_mode)) {
                char target[PATH_MAX + 1];
                ssize_t n = readlinkat(sfd, "", target, sizeof(target));
                if (n < 0 || n > PATH_MAX)
                        return kiln_err(c->err, n < 0 ? -errno : -KILN_ETOOBIG, "%s: readlink: %s", name,
                                        n < 0 ? strerror(errno) : "target too long");
                target[n] = 0;
                r = write_symlink(c, target, parent, name, &m);
        } else {
                r = write_node(c, parent, name, &m, st->st_rdev);
        }
        return r < 0 ? kiln_err(c->err, r, "%s: %s", name, kiln_strerror(r)) : 0;
}

/* docker cp's rules for a source and a destination. */
static int copy_paths(struct cp *c, struct cp_src *src, struct cp_dst *dst)
{
        bool sdir = S_ISDIR(src->st.st_mode);
        if (src->trailing && !sdir)
                return kiln_err(c->err, -ENOTDIR, "%s: not a directory", src->shown);
        if (sdir) {
                if (dst->exists && dst->dirfd < 0)
                        return kiln_err(c->err, -ENOTDIR, "cannot copy a directory to a file: %s",
                                        dst->shown);
                if (dst->dirfd >= 0) {
                        if (src->contents) {
                                _cleanup_close_ int sd = openat(src->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                                if (sd < 0)
                                        return kiln_err(c->err, -errno, "%s: %s", src->shown, strerror(errno));
                                return copy_children(c, sd, dst->dirfd, 0);
                        }
                        return copy_dir(c, src->fd, &src->st, dst->dirfd, src->name, 0);
                }
                return copy_dir(c, src->fd, &src->st, dst->parent, dst->name, 0);
        }
        if (dst->dirfd >= 0) {
                struct stat st;
                if (fstatat(dst->dirfd, src->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                        return kiln_err(c->err, -EISDIR, "cannot overwrite directory %s/%s with non-directory %s",
                                        dst->shown, src->name, src->shown);
                return copy_node(c, src->fd, &src->st, dst->dirfd, src->name, 0);
        }
        if (dst->trailing)
                return kiln_err(c->err, dst->exists ? -ENOTDIR : -ENOENT, "%s: %s", dst->shown,
                                dst->exists ? "not a directory" : "no such directory");
        return copy_node(c, src->fd, &src->st, dst->parent, dst->name, 0);
}

int kiln_copy_tree_at(int src_fd, const struct stat *st, bool contents, int dst_parent, const char *name,
                      const struct kiln_copy_opts *o, int64_t *ret_bytes, struct kiln_error *err)
{
        struct cp c = {
                .flags = CP_IN_PLACE,
                .uid = o->uid,
                .gid = o->gid,
                .err = err,
                .mode = o->mode & 07777,
                .skip = o->skip,
                .skip_ud = o->ud,
                .rel = "",
                .keep_links = true,
        };
        int r;
        if (contents && S_ISDIR(st->st_mode)) {
                _cleanup_close_ int sd = openat(src_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (sd < 0)
                        return kiln_err(err, -errno, "%s: %s", name, strerror(errno));
                struct stat dst;
                bool existed = fstatat(dst_parent, name, &dst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(dst.st_mode);
                _cleanup_close_ int dd = make_dir(dst_parent, name);
                if (dd < 0)
                        return kiln_err(err, dd, "%s: %s", name, kiln_strerror(dd));
                if (!existed && (fchown(dd, o->uid, o->gid) < 0 || fchmod(dd, 0755) < 0))
                        return kiln_err(err, -errno, "%s: %s", name, strerror(errno));
                r = copy_children(&c, sd, dd, 0);
        } else {
                r = copy_node(&c, src_fd, st, dst_parent, name, 0);
        }
        for (size_t k = 0; k < c.n_links; k++)
                close(c.links[k].fd);
        free(c.links);
        if (r >= 0 && ret_bytes)
                *ret_bytes = c.bytes;
        return r;
}

/* ---- tar out ---- */

static int tar_error(struct cp *c, struct archive *a, const char *what)
{
        return kiln_err(c->err, -EIO, "cp: %s: %s", what, archive_error_string(a) ?: "tar write failed");
}

static int tar_node(struct cp *c, struct archive *a, int sfd, const struct stat *st, const char *path,
                    unsigned depth);

static int tar_children(struct cp *c, struct archive *a, int sdir, const char *prefix, unsigned depth)
{
        if (depth > CP_MAX_DEPTH)
                return kiln_err(c->err, -KILN_ETOOBIG, "cp: directories nested too deep");
        int dfd = dup(sdir);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
                if (dfd >= 0)
                        close(dfd);
                return kiln_err(c->err, -errno, "%s: %s", prefix, strerror(errno));
        }
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (is_dot_or_dotdot(de->d_name))
                        continue;
                names = kiln_xrealloc(names, (n + 1) * sizeof(char *));
                names[n++] = kiln_xstrdup(de->d_name);
        }
        closedir(d);
        int r = 0;
        for (size_t i = 0; i < n; i++) {
                if (r >= 0) {
                        _cleanup_close_ int fd = openat(sdir, names[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
                        struct stat st;
                        if (fd >= 0 && fstat(fd, &st) == 0) {
                                _cleanup_free_ char *p = kiln_xasprintf("%s%s%s", prefix, *prefix ? "/" : "",
                                                                        names[i]);
                                r = tar_node(c, a, fd, &st, p, depth + 1);
                        }
                }
                free(names[i]);
        }
        free(names);
        return r;
}

static int tar_node(struct cp *c, struct archive *a, int sfd, const struct stat *st, const char *path,
                    unsigned depth)
{
        if (S_ISSOCK(st->st_mode))
                return 0;
        struct archive_entry *e = archive_entry_new();
        archive_entry_copy_stat(e, st);
        archive_entry_set_nlink(e, 1);
        _cleanup_free_ char *name = S_ISDIR(st->st_mode) ? kiln_xasprintf("%s/", path) : kiln_xstrdup(path);
        archive_entry_copy_pathname(e, name);
        _cleanup_close_ int fd = -1;
        int r = 0;
        if (S_ISLNK(st->st_mode)) {
                char target[PATH_MAX + 1];
                ssize_t n = readlinkat(sfd, "", target, sizeof(target));
                if (n < 0 || n > PATH_MAX) {
                        archive_entry_free(e);
                        return kiln_err(c->err, -EIO, "%s: readlink failed", path);
                }
                target[n] = 0;
                archive_entry_copy_symlink(e, target);
        } else if (S_ISREG(st->st_mode)) {
                fd = reopen(sfd, O_RDONLY);
                if (fd < 0) {
                        archive_entry_free(e);
                        return kiln_err(c->err, fd, "%s: %s", path, kiln_strerror(fd));
                }
        } else if (!S_ISDIR(st->st_mode)) {
                archive_entry_set_size(e, 0);
        }
        if (archive_write_header(a, e) != ARCHIVE_OK)
                r = tar_error(c, a, path);
        archive_entry_free(e);
        if (r < 0)
                return r;
        if (fd >= 0) {
                _cleanup_free_ char *buf = kiln_xmalloc(CP_BUFSIZE);
                int64_t left = st->st_size; /* the header promised this much */
                while (left > 0) {
                        ssize_t n = read_fd(&fd, buf, (size_t)KILN_MIN(left, (int64_t)CP_BUFSIZE));
                        if (n < 0)
                                return kiln_err(c->err, (int)n, "%s: %s", path, kiln_strerror((int)n));
                        if (n == 0) /* shrank meanwhile: pad with zeros */
                                memset(buf, 0, (size_t)(n = KILN_MIN(left, (int64_t)CP_BUFSIZE)));
                        if (archive_write_data(a, buf, (size_t)n) < 0)
                                return tar_error(c, a, path);
                        left -= n;
                        c->bytes += n;
                }
        }
        if (S_ISDIR(st->st_mode)) {
                _cleanup_close_ int sdir = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (sdir < 0)
                        return kiln_err(c->err, -errno, "%s: %s", path, strerror(errno));
                return tar_children(c, a, sdir, path, depth);
        }
        return 0;
}

static int tar_out(struct cp *c, struct cp_src *src, int out_fd)
{
        if (src->trailing && !S_ISDIR(src->st.st_mode))
                return kiln_err(c->err, -ENOTDIR, "%s: not a directory", src->shown);
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        archive_write_set_bytes_in_last_block(a, 1);
        int r = 0;
        if (archive_write_open_fd(a, out_fd) != ARCHIVE_OK) {
                r = tar_error(c, a, "open");
        } else if (S_ISDIR(src->st.st_mode) && src->contents) {
                _cleanup_close_ int sd = openat(src->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                r = sd < 0 ? kiln_err(c->err, -errno, "%s: %s", src->shown, strerror(errno))
                           : tar_children(c, a, sd, "", 0);
        } else {
                r = tar_node(c, a, src->fd, &src->st, src->name, 0);
        }
        if (archive_write_close(a) != ARCHIVE_OK && r >= 0)
                r = tar_error(c, a, "close");
        archive_write_free(a);
        return r;
}

/* ---- tar in ---- */

struct dir_time {
        char *path;
        struct meta m;
};

static ssize_t read_archive(void *ud, void *buf, size_t n)
{
        la_ssize_t k = archive_read_data((struct archive *)ud, buf, n);
        return k < 0 ? -EIO : (ssize_t)k;
}

static int tar_in_entry(struct cp *c, struct archive *a, struct archive_entry *e, int dirfd,
                        struct dir_time **dirs, size_t *ndirs)
{
        const char *raw = archive_entry_pathname(e);
        if (!raw)
                return kiln_err(c->err, -KILN_EFORMAT, "cp: tar entry without a name");
        size_t len = strlen(raw);
        if (len >= PATH_MAX)
                return kiln_err(c->err, -KILN_ETOOBIG, "cp: tar entry name too long");
        _cleanup_free_ char *path = kiln_xmalloc(len + 1);
        if (kiln_fs_path_normalize(raw, path) < 0)
                return kiln_err(c->err, -KILN_EUNSAFE, "cp: tar entry '%s' leaves the destination", raw);
        if (!*path)
                return 0; /* "./": the destination itself */
        const struct stat *st = archive_entry_stat(e);
        struct meta m = meta_of(st);
        const char *base;
        _cleanup_close_ int parent = kiln_fs_open_parent_in_root(dirfd, path, true, &base);
        if (parent < 0)
                return kiln_err(c->err, parent, "cp: %s: %s", path, kiln_strerror(parent));
        int r;
        const char *hl = archive_entry_hardlink(e);
        if (hl) {
                _cleanup_free_ char *t = kiln_xmalloc(strlen(hl) + 1);
                if (strlen(hl) >= PATH_MAX || kiln_fs_path_normalize(hl, t) < 0 || !*t)
                        return kiln_err(c->err, -KILN_EUNSAFE, "cp: tar entry '%s': bad link target '%s'", raw,
                                        hl);
                const char *tbase;
                _cleanup_close_ int tparent = kiln_fs_open_parent_in_root(dirfd, t, false, &tbase);
                struct stat tst;
                if (tparent < 0 || fstatat(tparent, tbase, &tst, AT_SYMLINK_NOFOLLOW) < 0 ||
                    S_ISDIR(tst.st_mode))
                        return kiln_err(c->err, -KILN_EFORMAT, "cp: tar entry '%s': link target '%s' not found",
                                        raw, hl);
                char tmp[64];
                tmp_name(tmp, sizeof(tmp));
                /* flags 0: a symlink target is linked itself, never followed */
                r = linkat(tparent, tbase, parent, tmp, 0) < 0 ? -errno : put_in_place(parent, tmp, base);
        } else {
                switch (st->st_mode & S_IFMT) {
                case S_IFDIR: {
                        _cleanup_close_ int dfd = make_dir(parent, base);
                        r = dfd;
                        if (dfd >= 0) {
                                r = set_meta(c, dfd, parent, base, &m);
                                *dirs = kiln_xrealloc(*dirs, (*ndirs + 1) * sizeof(**dirs));
                                (*dirs)[(*ndirs)++] = (struct dir_time){ kiln_xstrdup(path), m };
                        }
                        break;
                }
                case S_IFREG:
                        r = write_file(c, read_archive, a, -1, parent, base, &m);
                        break;
                case S_IFLNK: {
                        const char *target = archive_entry_symlink(e);
                        r = target ? write_symlink(c, target, parent, base, &m) : -KILN_EFORMAT;
                        break;
                }
                default:
                        r = write_node(c, parent, base, &m, st->st_rdev);
                        break;
                }
        }
        return r < 0 ? kiln_err(c->err, r, "cp: %s: %s", path, kiln_strerror(r)) : 0;
}

static int tar_in(struct cp *c, int in_fd, struct cp_dst *dst)
{
        if (dst->dirfd < 0)
                return kiln_err(c->err, -ENOTDIR, "%s: %s", dst->shown,
                                dst->exists ? "not a directory" : "no such directory");
        struct archive *a = archive_read_new();
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        struct dir_time *dirs = NULL;
        size_t ndirs = 0;
        int r = 0;
        if (archive_read_open_fd(a, in_fd, 64 * 1024) != ARCHIVE_OK) {
                r = kiln_err(c->err, -KILN_EFORMAT, "cp: %s", archive_error_string(a) ?: "not a tar");
        } else {
                struct archive_entry *e;
                int ar;
                while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
                        r = tar_in_entry(c, a, e, dst->dirfd, &dirs, &ndirs);
                        if (r < 0)
                                break;
                }
                if (r >= 0 && ar != ARCHIVE_EOF)
                        r = kiln_err(c->err, -KILN_EFORMAT, "cp: reading the tar: %s",
                                     archive_error_string(a) ?: "bad archive");
        }
        archive_read_free(a);
        /* directory times last: adding entries changed them */
        for (size_t i = ndirs; i-- > 0;) {
                if (r >= 0) {
                        _cleanup_close_ int fd = kiln_fs_open_in_root(
                                dst->dirfd, dirs[i].path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
                        struct timespec ts[2] = { dirs[i].m.atime, dirs[i].m.mtime };
                        if (fd >= 0)
                                futimens(fd, ts);
                }
                free(dirs[i].path);
        }
        free(dirs);
        return r;
}

/* ---- the container ---- */

static const char *gd_data(json_t *doc, const char *key)
{
        return json_string_value(
                json_object_get(json_object_get(json_object_get(doc, "GraphDriver"), "Data"), key));
}

static bool is_running(json_t *doc)
{
        return json_is_true(json_object_get(json_object_get(doc, "State"), "Running"));
}

/* The container's merged rootfs, mounted if it is not; *ret_mounted tells
 * whether we did (and so unmount it after). */
static int open_rootfs(struct kiln_store *s, const char *what, json_t **ret_doc, int *ret_fd,
                       bool *ret_mounted, struct kiln_error *err)
{
        json_t *doc;
        int r = kiln_container_inspect(s, what, &doc, err);
        if (r < 0)
                return r;
        const char *merged = gd_data(doc, "MergedDir");
        if (!merged) {
                json_decref(doc);
                return kiln_err(err, -KILN_ECORRUPT, "container %s: no root filesystem recorded", what);
        }
        bool was = ctr_is_mounted(merged);
        r = ctr_mount_rootfs(s, doc, err);
        if (r < 0) {
                json_decref(doc);
                return r;
        }
        bool mounted = !was && ctr_is_mounted(merged);
        int fd = open(merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                r = kiln_err(err, -errno, "container %s: %s: %s", what, merged, strerror(errno));
                if (mounted)
                        ctr_unmount_rootfs(doc);
                json_decref(doc);
                return r;
        }
        *ret_doc = doc;
        *ret_fd = fd;
        *ret_mounted = mounted;
        return 0;
}

static void close_rootfs(struct kiln_store *s, json_t *doc, int fd, bool mounted)
{
        close(fd);
        if (mounted) {
                /* started meanwhile? then the mount is its root now: keep it */
                json_t *now = NULL;
                const char *id = json_string_value(json_object_get(doc, "Id"));
                if (kiln_container_inspect(s, id, &now, NULL) < 0 || !is_running(now))
                        ctr_unmount_rootfs(doc);
                json_decref(now);
        }
        json_decref(doc);
}

static void cp_init(struct cp *c, unsigned flags, bool into_ctr, struct kiln_error *err)
{
        *c = (struct cp){
                .flags = flags,
                .uid = into_ctr ? 0 : geteuid(),
                .gid = into_ctr ? 0 : getegid(),
                .err = err,
        };
}

/*
 * A path under one of the container's volumes or bind mounts is in the
 * mount's source, as docker mounts them for the copy (running or not; the
 * runtime's /proc, /sys and /dev are never part of a copy). When raw
 * (no ".." components) is under a mount's Destination, *ret_fd is that
 * source directory, *ret_rel the rest of the path ("/" for the mount point
 * itself, a trailing "/." kept) and *ret_rw the mount's RW. Returns 1 then,
 * 0 when the path is the root filesystem's, or a negative error.
 */
static int mount_for_path(json_t *doc, const char *raw, int *ret_fd, char **ret_rel, bool *ret_rw,
                          struct kiln_error *err)
{
        _cleanup_free_ char *p = raw[0] == '/' ? kiln_xstrdup(raw) : kiln_xasprintf("/%s", raw);
        for (const char *q = p; (q = strstr(q, "..")); q += 2)
                if ((q == p || q[-1] == '/') && (q[2] == '/' || !q[2]))
                        return 0;
        json_t *best = NULL;
        size_t best_len = 0;
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(doc, "Mounts"), i, m)
        {
                const char *dst = json_string_value(json_object_get(m, "Destination"));
                const char *src = json_string_value(json_object_get(m, "Source"));
                if (!dst || !src || dst[0] != '/')
                        continue;
                size_t n = strlen(dst);
                while (n > 1 && dst[n - 1] == '/')
                        n--;
                if (n == 1 || strncmp(p, dst, n) || (p[n] && p[n] != '/') || n <= best_len)
                        continue;
                best = m;
                best_len = n;
        }
        if (!best)
                return 0;
        const char *src = json_string_value(json_object_get(best, "Source"));
        int fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return kiln_err(err, -errno, "%s: mount source %s: %s", raw, src, strerror(errno));
        *ret_fd = fd;
        *ret_rel = p[best_len] ? kiln_xstrdup(p + best_len) : kiln_xstrdup("/");
        *ret_rw = !json_is_false(json_object_get(best, "RW"));
        return 1;
}

struct copy_in_job {
        struct cp *c;
        struct cp_src *sx;
        struct cp_dst *dx;
        int rootfd;
        const char *what, *ctr_dest, *src;
        int tar_fd;
};

static int copy_in_job_run(void *arg, int64_t *out, struct kiln_error *err)
{
        struct copy_in_job *j = arg;
        j->c->err = err;
        int r = resolve_ctr_dst(j->c, j->rootfd, j->what, j->ctr_dest, j->dx);
        if (r >= 0)
                r = j->src ? copy_paths(j->c, j->sx, j->dx) : tar_in(j->c, j->tar_fd, j->dx);
        dst_done(j->dx);
        *out = j->c->bytes;
        return r;
}

int kiln_container_copy_in(struct kiln_store *s, const char *what, const char *src, int tar_fd,
                           const char *ctr_dest, unsigned flags, int64_t *ret_bytes,
                           struct kiln_error *err)
{
        struct cp c;
        cp_init(&c, flags, true, err);
        struct cp_src sx = { .fd = -1 };
        struct cp_dst dx = { .parent = -1, .dirfd = -1 };
        int r = 0;
        /* the host side first: a missing source fails before any mount */
        if (src) {
                r = resolve_host_src(&c, src, &sx);
                if (r < 0)
                        goto out;
        }
        json_t *doc;
        int rootfd;
        bool mounted;
        r = open_rootfs(s, what, &doc, &rootfd, &mounted, err);
        if (r < 0)
                goto out;
        {
                uid_t hu;
                gid_t hg;
                if (ctr_root_host_ids(doc, &hu, &hg)) {
                        /* --userns: the container's root, as the host sees it
                         * through the idmapped rootfs */
                        c.uid = hu;
                        c.gid = hg;
                }
                int mfd = -1;
                _cleanup_free_ char *rel = NULL;
                bool rw = true;
                r = mount_for_path(doc, ctr_dest, &mfd, &rel, &rw, err);
                if (r > 0 && !rw) {
                        close(mfd);
                        r = kiln_err(err, -EROFS, "%s: mounted read-only in the container", ctr_dest);
                } else if (r >= 0) {
                        struct copy_in_job job = { &c, &sx, &dx, r > 0 ? mfd : rootfd, what,
                                                   r > 0 ? rel : ctr_dest, src, tar_fd };
                        int64_t bytes = 0;
                        r = r > 0 ? copy_in_job_run(&job, &bytes, err) /* a host directory */
                                  : ctr_as_container_root(doc, copy_in_job_run, &job, &bytes, err);
                        if (r >= 0)
                                c.bytes = bytes;
                        if (mfd >= 0)
                                close(mfd);
                }
        }
        close_rootfs(s, doc, rootfd, mounted);
out:
        src_done(&sx);
        if (r >= 0 && ret_bytes)
                *ret_bytes = c.bytes;
        return r;
}

int kiln_container_copy_out(struct kiln_store *s, const char *what, const char *ctr_src,
                            const char *dest, int tar_fd, unsigned flags, int64_t *ret_bytes,
                            struct kiln_error *err)
{
        struct cp c;
        cp_init(&c, flags, false, err);
        struct cp_src sx = { .fd = -1 };
        struct cp_dst dx = { .parent = -1, .dirfd = -1 };
        json_t *doc;
        int rootfd;
        bool mounted;
        int r = open_rootfs(s, what, &doc, &rootfd, &mounted, err);
        if (r < 0)
                return r;
        int mfd = -1;
        _cleanup_free_ char *rel = NULL;
        bool rw = true;
        r = mount_for_path(doc, ctr_src, &mfd, &rel, &rw, err);
        if (r >= 0)
                r = resolve_ctr_src(&c, r > 0 ? mfd : rootfd, what, r > 0 ? rel : ctr_src, &sx);
        if (r >= 0 && dest)
                r = resolve_host_dst(&c, dest, &dx);
        if (r >= 0)
                r = dest ? copy_paths(&c, &sx, &dx) : tar_out(&c, &sx, tar_fd);
        dst_done(&dx);
        src_done(&sx);
        if (mfd >= 0)
                close(mfd);
        close_rootfs(s, doc, rootfd, mounted);
        if (r >= 0 && ret_bytes)
                *ret_bytes = c.bytes;
        return r;
}
