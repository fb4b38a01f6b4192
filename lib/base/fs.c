/* SPDX-License-Identifier: Apache-2.0 */
/* Safe filesystem helpers: see include/kiln/fs.h. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "kiln/fs.h"

int kiln_fs_write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int kiln_fs_write_existing(const char *path, const void *buf, size_t len)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = kiln_fs_write_all(fd, buf, len);
        close(fd);
        return r;
}

ssize_t kiln_fs_read_full(int fd, void *buf, size_t len)
{
        size_t got = 0;
        while (got < len) {
                ssize_t n = read(fd, (char *)buf + got, len - got);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        return (ssize_t)got;
}

int kiln_fs_fsync_dir_at(int dirfd, const char *path)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

static int write_via_temp(int dirfd, const char *name, const void *data, size_t len,
                          mode_t mode, bool durable);

int kiln_fs_spread_subdirs(int dirfd)
{
        int fl = 0; /* the kernel reads and writes an int, whatever the macro says */
        if (ioctl(dirfd, FS_IOC_GETFLAGS, &fl) < 0)
                return -errno;
        if (fl & FS_TOPDIR_FL)
                return 0;
        fl |= FS_TOPDIR_FL;
        return ioctl(dirfd, FS_IOC_SETFLAGS, &fl) < 0 ? -errno : 0;
}

int kiln_fs_write_atomic(int dirfd, const char *name, const void *data,
                         size_t len, mode_t mode)
{
        return write_via_temp(dirfd, name, data, len, mode, true);
}

int kiln_fs_write_replace(int dirfd, const char *name, const void *data, size_t len,
                          mode_t mode)
{
        return write_via_temp(dirfd, name, data, len, mode, false);
}

static int write_via_temp(int dirfd, const char *name, const void *data, size_t len,
                          mode_t mode, bool durable)
{
        /* temp name in the same directory as name */
        const char *slash = strrchr(name, '/');
        _cleanup_free_ char *dir = slash ? kiln_xstrndup(name, (size_t)(slash - name + 1))
                                         : kiln_xstrdup("");
        const char *base = slash ? slash + 1 : name;
        _cleanup_free_ char *tmp = kiln_xasprintf("%s.%s.tmp-%d-%lx", dir, base,
                                                  (int)getpid(), (unsigned long)random());
        _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        int r = kiln_fs_write_all(fd, data, len);
        if (r == 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r == 0 && durable && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = -errno;
        if (r < 0) {
                unlinkat(dirfd, tmp, 0);
                return r;
        }
        return durable ? kiln_fs_fsync_dir_at(dirfd, dir[0] ? dir : ".") : 0;
}

int kiln_fs_mkdir_p(int dirfd, const char *path, mode_t mode)
{
        _cleanup_free_ char *p = kiln_xstrdup(path);
        size_t n = strlen(p);
        for (size_t i = 1; i <= n; i++) {
                if (p[i] != '/' && p[i] != 0)
                        continue;
                char c = p[i];
                p[i] = 0;
                if (mkdirat(dirfd, p, mode) < 0 && errno != EEXIST)
                        return -errno;
                p[i] = c;
        }
        struct stat st;
        if (fstatat(dirfd, path, &st, 0) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        return 0;
}

int kiln_fs_read_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
        struct kiln_buf b = KILN_BUF_INIT;
        char chunk[65536];
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        kiln_buf_free(&b);
                        return r;
                }
                if (n == 0)
                        break;
                if (b.len + (size_t)n > max) {
                        kiln_buf_free(&b);
                        return -KILN_ETOOBIG;
                }
                kiln_buf_append(&b, chunk, (size_t)n);
        }
        *ret_len = b.len;
        *ret = kiln_buf_steal(&b);
        return 0;
}

int kiln_fs_read_file(int dirfd, const char *path, size_t max, char **ret,
                      size_t *ret_len)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max)
                return -KILN_ETOOBIG;
        return kiln_fs_read_fd(fd, max, ret, ret_len);
}

static int rm_rf_children(int dfd, dev_t dev)
{
        DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return -errno;
        }
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno != ENOENT && r == 0)
                                r = -errno;
                        continue;
                }
                if (S_ISDIR(st.st_mode)) {
                        if (st.st_dev != dev) {
                                /* another mount: leave it alone */
                                if (r == 0)
                                        r = -EBUSY;
                                continue;
                        }
                        int sub = openat(dirfd(d), de->d_name,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0) {
                                if (r == 0)
                                        r = -errno;
                                continue;
                        }
                        int q = rm_rf_children(sub, dev);
                        if (q < 0 && r == 0)
                                r = q;
                        if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 &&
                            errno != ENOENT && r == 0)
                                r = -errno;
                } else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT &&
                           r == 0) {
                        r = -errno;
                }
        }
        closedir(d);
        return r;
}

int kiln_fs_rm_rf_with(int dirfd, const char *name, int (*children)(int dfd, dev_t dev, void *ud), void *ud)
{
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
                return -errno;
        /* a read-only directory cannot lose its entries: make it writable */
        if ((st.st_mode & 0700) != 0700)
                (void)fchmod(sub, st.st_mode | 0700);
        int r = children(sub, st.st_dev, ud);
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

static int rm_rf_children_cb(int dfd, dev_t dev, void *ud)
{
        (void)ud;
        return rm_rf_children(dfd, dev);
}

int kiln_fs_rm_rf_at(int dirfd, const char *name)
{
        return kiln_fs_rm_rf_with(dirfd, name, rm_rf_children_cb, NULL);
}

static int have_openat2 = -1;

static int open_in_root_walk(int rootfd, const char *path, int flags, mode_t mode,
                             unsigned depth);

int kiln_fs_open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
        flags |= O_CLOEXEC;
        if (have_openat2 != 0) {
                struct open_how how = {
                        .flags = (uint64_t)flags,
                        .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
                };
                const char *p = *path ? path : ".";
                for (;;) {
                        long fd = syscall(SYS_openat2, rootfd, p, &how, sizeof(how));
                        if (fd >= 0) {
                                have_openat2 = 1;
                                return (int)fd;
                        }
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        if (errno == ENOSYS && have_openat2 < 0) {
                                have_openat2 = 0;
                                break;
                        }
                        return -errno;
                }
        }
        return open_in_root_walk(rootfd, path, flags, mode, 0);
}

/*
 * Fallback for kernels without openat2: walk component by component with
 * O_NOFOLLOW, resolving symlinks by hand against the root.
 */
static int open_in_root_walk(int rootfd, const char *path, int flags, mode_t mode,
                             unsigned depth)
{
        if (depth > 40)
                return -ELOOP;
        _cleanup_free_ char *buf = kiln_xstrdup(path);
        _cleanup_close_ int cur = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cur < 0)
                return -errno;
        /* stack of parent dir fds for ".." handling, root at bottom */
        char *save = NULL;
        char *comp = strtok_r(buf, "/", &save);
        _cleanup_free_ char *walked = kiln_xstrdup("");
        while (comp) {
                char *next = strtok_r(NULL, "/", &save);
                if (!strcmp(comp, ".")) {
                        comp = next;
                        continue;
                }
                if (!strcmp(comp, "..")) {
                        /* re-walk from the root without the last component */
                        char *s = strrchr(walked, '/');
                        if (s)
                                *s = 0;
                        else
                                walked[0] = 0;
                        int r = open_in_root_walk(rootfd, walked,
                                                  O_RDONLY | O_DIRECTORY, 0, depth + 1);
                        if (r < 0)
                                return r;
                        close(cur);
                        cur = r;
                        comp = next;
                        continue;
                }
                bool last = next == NULL;
                struct stat st;
                if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode) &&
                    !(last && (flags & O_NOFOLLOW))) {
                        char target[4096];
                        ssize_t n = readlinkat(cur, comp, target, sizeof(target) - 1);
                        if (n < 0)
                                return -errno;
                        target[n] = 0;
                        _cleanup_free_ char *np = NULL;
                        if (target[0] == '/')
                                np = kiln_xasprintf("%s%s%s", target, next ? "/" : "",
                                                    next ? next : "");
                        else
                                np = kiln_xasprintf("%s/%s%s%s", walked, target,
                                                    next ? "/" : "", next ? next : "");
                        /* the rest of the path is in np: restart there */
                        if (next) {
                                /* re-append remaining components */
                                char *rest;
                                while ((rest = strtok_r(NULL, "/", &save))) {
                                        char *t = kiln_xasprintf("%s/%s", np, rest);
                                        free(np);
                                        np = t;
                                }
                        }
                        return open_in_root_walk(rootfd, np, flags, mode, depth + 1);
                }
                if (last) {
                        int fd = openat(cur, comp, flags | O_NOFOLLOW, mode);
                        return fd < 0 ? -errno : fd;
                }
                int nfd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (nfd < 0)
                        return -errno;
                close(cur);
                cur = nfd;
                char *t = kiln_xasprintf("%s%s%s", walked, walked[0] ? "/" : "", comp);
                free(walked);
                walked = t;
                comp = next;
        }
        /* the path named the root itself (or only "." components) */
        int fd = openat(cur, ".", flags & ~(O_CREAT | O_EXCL), mode);
        return fd < 0 ? -errno : fd;
}

int kiln_fs_path_normalize(const char *path, char *out)
{
        size_t o = 0;
        const char *p = path;
        while (*p) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *e = strchr(p, '/');
                size_t n = e ? (size_t)(e - p) : strlen(p);
                if (n == 1 && p[0] == '.') {
                        p += n;
                        continue;
                }
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return -KILN_EUNSAFE;
                if (o)
                        out[o++] = '/';
                memcpy(out + o, p, n);
                o += n;
                p += n;
        }
        out[o] = 0;
        return 0;
}

int kiln_fs_open_parent_in_root(int rootfd, const char *path, bool mkparents,
                                const char **ret_base)
{
        const char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
                return -EINVAL;
        _cleanup_free_ char *dir = slash ? kiln_xstrndup(path, (size_t)(slash - path))
                                         : kiln_xstrdup("");
        int fd = kiln_fs_open_in_root(rootfd, dir, O_RDONLY | O_DIRECTORY, 0);
        if (fd == -ENOENT && mkparents) {
                /* create each missing component inside the root */
                _cleanup_free_ char *acc = kiln_xstrdup("");
                char *save = NULL;
                for (char *c = strtok_r(dir, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                        char *t = kiln_xasprintf("%s%s%s", acc, acc[0] ? "/" : "", c);
                        free(acc);
                        acc = t;
                        _cleanup_close_ int pfd = -1;
                        const char *b;
                        pfd = kiln_fs_open_parent_in_root(rootfd, acc, false, &b);
                        if (pfd < 0)
                                return pfd;
                        if (mkdirat(pfd, b, 0755) < 0 && errno != EEXIST)
                                return -errno;
                }
                _cleanup_free_ char *dir2 = slash ? kiln_xstrndup(path, (size_t)(slash - path))
                                                  : kiln_xstrdup("");
                fd = kiln_fs_open_in_root(rootfd, dir2, O_RDONLY | O_DIRECTORY, 0);
        }
        if (fd < 0)
                return fd;
        *ret_base = base;
        return fd;
}

/* Field 3 (state) and 22 (start time in clock ticks) of /proc/<pid>/stat. */
int kiln_proc_stat(pid_t pid, char *ret_state, unsigned long long *ret_start)
{
        char path[64], buf[2048];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = kiln_fs_read_full(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return n < 0 ? (int)n : -EIO;
        buf[n] = 0;
        char *p = strrchr(buf, ')');
        if (!p || p[1] != ' ')
                return -EIO;
        p += 2;
        char state = *p;
        /* p is at field 3; skip to field 22 */
        for (int f = 3; f < 22; f++) {
                p = strchr(p, ' ');
                if (!p)
                        return -EIO;
                p++;
        }
        if (ret_state)
                *ret_state = state;
        if (ret_start)
                *ret_start = strtoull(p, NULL, 10);
        return 0;
}
