/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Safe filesystem helpers. Every fd returned is O_CLOEXEC. Paths handed to
 * the *_at functions are relative to a directory fd; none of them follows a
 * path outside that directory unless stated.
 */
#pragma once

#include <sys/types.h>
#include "kiln/base.h"

/*
 * Write data to dirfd/name atomically: a temp file in the same directory,
 * fsync, rename over name, fsync of the directory. Either the old content or
 * the new one is visible afterwards, never a half.
 */
int kiln_fs_write_atomic(int dirfd, const char *name, const void *data,
                         size_t len, mode_t mode);

/*
 * Like kiln_fs_write_atomic without the fsyncs: a reader sees the old
 * content or the new one, and a crash of the process changes nothing, but
 * a power loss may lose the new content. For transient state (runtime
 * state files, a container's generated files), not for the store.
 */
int kiln_fs_write_replace(int dirfd, const char *name, const void *data, size_t len,
                          mode_t mode);

/* mkdir -p of path (relative to dirfd, or absolute). Existing dirs are fine. */
int kiln_fs_mkdir_p(int dirfd, const char *path, mode_t mode);

/*
 * Read a whole regular file of at most max bytes (-KILN_ETOOBIG past that).
 * *ret is NUL-terminated; *ret_len excludes the NUL. Caller frees *ret.
 */
int kiln_fs_read_file(int dirfd, const char *path, size_t max, char **ret,
                      size_t *ret_len);

/* Read all of fd (at most max bytes) into a new buffer. */
int kiln_fs_read_fd(int fd, size_t max, char **ret, size_t *ret_len);

/* Write all of buf to fd, retrying on EINTR and short writes. */
int kiln_fs_write_all(int fd, const void *buf, size_t len);
/* Write buf to the existing file at path (a /proc or /sys knob: no create,
 * no truncate, no temp file). 0 or -errno. */
int kiln_fs_write_existing(const char *path, const void *buf, size_t len);
/* Field 3 (state) and 22 (start time in clock ticks) of /proc/<pid>/stat;
 * either pointer may be NULL. 0 or -errno. */
int kiln_proc_stat(pid_t pid, char *ret_state, unsigned long long *ret_start);

/* Read exactly up to len bytes; returns the number read (short only at EOF). */
ssize_t kiln_fs_read_full(int fd, void *buf, size_t len);

/*
 * Remove dirfd/name recursively without following symlinks and without
 * crossing into other mounts. Missing is not an error.
 */
int kiln_fs_rm_rf_at(int dirfd, const char *name);

/*
 * kiln_fs_rm_rf_at with the files of a directory unlinked by up to threads
 * threads (a directory of 32 files or more; 16 files a thread at least):
 * where an unlink waits for the disk (ext4 with `discard`), the waits
 * overlap. Same safety: names only relative to O_NOFOLLOW directory fds,
 * other mounts left alone (-EBUSY).
 */
int kiln_fs_rm_rf_parallel_at(int dirfd, const char *name, unsigned threads);

/* Both of the above: remove name in dirfd (a non-directory unlinked; a
 * directory made writable, its entries removed by children(fd, st_dev,
 * ud), then itself). */
int kiln_fs_rm_rf_with(int dirfd, const char *name, int (*children)(int dfd, dev_t dev, void *ud), void *ud);

/* fsync a directory by path relative to dirfd. */
int kiln_fs_fsync_dir_at(int dirfd, const char *path);

/*
 * Mark the directory dirfd as the top of independent hierarchies (chattr
 * +T, FS_TOPDIR_FL): ext4's Orlov allocator then places each subdirectory
 * in a block group of its own (picked by a hash of its name) instead of
 * next to dirfd. For a scratch area whose subdirectories have random names
 * (the store's tmp). 0, or -errno (-ENOTTY/-EOPNOTSUPP where the filesystem
 * has no such flag: harmless to ignore).
 */
int kiln_fs_spread_subdirs(int dirfd);

/*
 * Open path inside the tree rooted at rootfd, resolving every component
 * within that root: "..", absolute symlinks and relative symlinks cannot
 * escape (openat2 RESOLVE_IN_ROOT, with a manual walk where openat2 is
 * missing). flags as for openat; O_CLOEXEC is always added.
 */
int kiln_fs_open_in_root(int rootfd, const char *path, int flags, mode_t mode);

/*
 * Open the parent directory of path inside rootfd (resolved as above) and
 * return its fd; *ret_base points into path at the last component, which
 * is never "", "." or "..". The parent must exist unless mkparents is set, in
 * which case missing directories are created with mode 0755.
 */
int kiln_fs_open_parent_in_root(int rootfd, const char *path, bool mkparents,
                                const char **ret_base);

/* Normalize a layer or archive path: strip leading "/" and "./", collapse
 * "//" and "/./"; "-KILN_EUNSAFE" if any ".." component remains. The result is
 * written to out (at least strlen(path)+1 bytes). "" means the root itself. */
int kiln_fs_path_normalize(const char *path, char *out);
