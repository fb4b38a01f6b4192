/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blobs: written to ROOT/tmp, fsynced, verified, renamed into
 * ROOT/oci/blobs/<alg>/<hex>. A blob path exists only with its full,
 * verified content.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "kiln/fs.h"
#include "store-internal.h"

struct kiln_blob_writer {
        struct kiln_store *s;
        int fd;
        char tmpname[64];
        struct kiln_hasher *h;
        int64_t size;
        bool fd_used; /* someone wrote through the raw fd: re-hash */
};

int kiln_blob_writer_new(struct kiln_store *s, struct kiln_blob_writer **ret,
                         struct kiln_error *err)
{
        if (s->readonly)
                return kiln_err(err, -EROFS, "store %s is open read-only", s->root);
        /* writers hold the store lock shared so gc never removes what they
         * are about to reference */
        int r = store_lock(s, LOCK_SH, err);
        if (r < 0)
                return r;
        struct kiln_blob_writer *w = kiln_xcalloc(1, sizeof(*w));
        w->s = s;
        for (int i = 0; i < 100; i++) {
                snprintf(w->tmpname, sizeof(w->tmpname), "blob-%d-%08lx", (int)getpid(),
                         (unsigned long)random());
                w->fd = openat(s->tmp_fd, w->tmpname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                               0644);
                if (w->fd >= 0 || errno != EEXIST)
                        break;
        }
        if (w->fd < 0) {
                r = -errno;
                free(w);
                return kiln_err(err, r, "store %s: create temp blob: %s", s->root,
                                strerror(-r));
        }
        w->h = kiln_hasher_new(KILN_DIGEST_SHA256);
        *ret = w;
        return 0;
}

int kiln_blob_writer_write(struct kiln_blob_writer *w, const void *data, size_t len)
{
        int r = kiln_fs_write_all(w->fd, data, len);
        if (r < 0)
                return r;
        kiln_hasher_update(w->h, data, len);
        w->size += (int64_t)len;
        return 0;
}

int kiln_blob_writer_fd(struct kiln_blob_writer *w)
{
        w->fd_used = true;
        return w->fd;
}

void kiln_blob_writer_abort(struct kiln_blob_writer *w)
{
        if (!w)
                return;
        kiln_closep(&w->fd);
        unlinkat(w->s->tmp_fd, w->tmpname, 0);
        kiln_hasher_free(w->h);
        free(w);
}

/* fsync and rename the temp file to the blob path for d. */
static int place(struct kiln_blob_writer *w, const struct kiln_digest *d,
                 struct kiln_error *err)
{
        struct kiln_store *s = w->s;
        if (fsync(w->fd) < 0)
                return kiln_err(err, -errno, "store: fsync blob %s: %s", d->str, strerror(errno));
        char path[200];
        store_blob_path(d, path, sizeof(path));
        _cleanup_free_ char *dir = kiln_xasprintf("blobs/%s", kiln_digest_alg_name(d->alg));
        int r = kiln_fs_mkdir_p(s->layout_fd, dir, 0755);
        if (r < 0)
                return kiln_err(err, r, "store: %s: %s", dir, kiln_strerror(r));
        /* rename replaces an existing blob of the same digest: same content,
         * unless the old one was corrupt, which this then repairs */
        if (renameat(s->tmp_fd, w->tmpname, s->layout_fd, path) < 0)
                return kiln_err(err, -errno, "store: place blob %s: %s", d->str, strerror(errno));
        r = kiln_fs_fsync_dir_at(s->layout_fd, dir);
        if (r < 0)
                return kiln_err(err, r, "store: fsync %s: %s", dir, kiln_strerror(r));
        return 0;
}

int kiln_blob_writer_commit(struct kiln_blob_writer *w, const struct kiln_digest *expected,
                            struct kiln_digest *ret, int64_t *ret_size,
                            struct kiln_error *err)
{
        struct kiln_digest got;
        int64_t size = w->size;
        int r;
        if (w->fd_used) {
                if (lseek(w->fd, 0, SEEK_SET) < 0) {
                        r = kiln_err(err, -errno, "store: rewind blob: %s", strerror(errno));
                        goto out;
                }
                r = kiln_digest_fd(expected ? expected->alg : KILN_DIGEST_SHA256, w->fd, &got,
                                   &size);
                if (r < 0) {
                        kiln_err(err, r, "store: hash blob: %s", kiln_strerror(r));
                        goto out;
                }
        } else if (expected && expected->alg != KILN_DIGEST_SHA256) {
                if (lseek(w->fd, 0, SEEK_SET) < 0) {
                        r = kiln_err(err, -errno, "store: rewind blob: %s", strerror(errno));
                        goto out;
                }
                r = kiln_digest_fd(expected->alg, w->fd, &got, &size);
                if (r < 0) {
                        kiln_err(err, r, "store: hash blob: %s", kiln_strerror(r));
                        goto out;
                }
        } else {
                kiln_hasher_final(w->h, &got);
        }
        if (expected && !kiln_digest_equal(expected, &got)) {
                r = kiln_err(err, -KILN_EDIGEST, "blob %s: digest mismatch (content is %s)",
                             expected->str, got.str);
                goto out;
        }
        r = place(w, &got, err);
        if (r < 0)
                goto out;
        if (ret)
                *ret = got;
        if (ret_size)
                *ret_size = size;
out:
        kiln_blob_writer_abort(w); /* the temp name is gone after a rename */
        return r;
}

int kiln_blob_writer_commit_known(struct kiln_blob_writer *w, const struct kiln_digest *digest,
                                  struct kiln_error *err)
{
        int r = place(w, digest, err);
        kiln_blob_writer_abort(w);
        return r;
}

int kiln_store_blob_put(struct kiln_store *s, const void *data, size_t len,
                        struct kiln_digest *ret, struct kiln_error *err)
{
        struct kiln_digest d;
        kiln_digest_buf(KILN_DIGEST_SHA256, data, len, &d);
        if (kiln_store_blob_exists(s, &d)) {
                /* the lock still matters: the caller is about to reference it */
                int r = store_lock(s, LOCK_SH, err);
                if (r < 0)
                        return r;
                if (ret)
                        *ret = d;
                return 0;
        }
        struct kiln_blob_writer *w;
        int r = kiln_blob_writer_new(s, &w, err);
        if (r < 0)
                return r;
        r = kiln_blob_writer_write(w, data, len);
        if (r < 0) {
                kiln_blob_writer_abort(w);
                return kiln_err(err, r, "store: write blob: %s", kiln_strerror(r));
        }
        return kiln_blob_writer_commit(w, &d, ret, NULL, err);
}

bool kiln_store_blob_exists(struct kiln_store *s, const struct kiln_digest *d)
{
        char path[200];
        store_blob_path(d, path, sizeof(path));
        struct stat st;
        return fstatat(s->layout_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int kiln_store_blob_open(struct kiln_store *s, const struct kiln_digest *d, int *ret_fd,
                         int64_t *ret_size, struct kiln_error *err)
{
        char path[200];
        store_blob_path(d, path, sizeof(path));
        int fd = openat(s->layout_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno == ENOENT)
                        return kiln_err(err, -KILN_ENOTFOUND, "blob %s: not in the store", d->str);
                return kiln_err(err, -errno, "blob %s: %s", d->str, strerror(errno));
        }
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return kiln_err(err, -KILN_ECORRUPT, "blob %s: not a regular file", d->str);
        }
        *ret_fd = fd;
        if (ret_size)
                *ret_size = st.st_size;
        return 0;
}

int kiln_store_blob_read(struct kiln_store *s, const struct kiln_digest *d, size_t max,
                         char **ret, size_t *ret_len, struct kiln_error *err)
{
        _cleanup_close_ int fd = -1;
        int r = kiln_store_blob_open(s, d, &fd, NULL, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *data = NULL;
        size_t len;
        r = kiln_fs_read_fd(fd, max, &data, &len);
        if (r == -KILN_ETOOBIG)
                return kiln_err(err, r, "blob %s: larger than %zu bytes", d->str, max);
        if (r < 0)
                return kiln_err(err, r, "blob %s: %s", d->str, kiln_strerror(r));
        struct kiln_digest got;
        kiln_digest_buf(d->alg, data, len, &got);
        if (!kiln_digest_equal(&got, d))
                return kiln_err(err, -KILN_EDIGEST, "blob %s: digest mismatch (content is %s)",
                                d->str, got.str);
        *ret = TAKE_PTR(data);
        *ret_len = len;
        return 0;
}
