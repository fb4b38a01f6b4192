/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compression names and the output pipeline of layer creation: libarchive
 * writes tar bytes to a custom writer that hashes them (diff_id),
 * compresses them (parallel block gzip, pgzip.c, or libzstd streaming; both
 * multi-threaded with output independent of the thread count), hashes the
 * compressed bytes (digest) and writes them to the output fd, in order, on
 * the caller's thread. Memory is bounded by the codec's buffers; nothing is
 * held for the whole layer.
 *
 * The diff_id hash of a big write (file data: LAYER_IO_CHUNK at a time) runs
 * on a helper thread while the same bytes go through the codec and to the
 * fd, joined before the write returns: sha256 (~1.7 GB/s with SHA-NI) no
 * longer adds to the write time of an uncompressed layer. The thread starts
 * at the first big write only.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <string.h>
#include <zstd.h>
#include "kiln/digest.h"
#include "kiln/fs.h"
#include "layer-internal.h"

const char *kiln_compression_name(enum kiln_compression c)
{
        switch (c) {
        case KILN_COMPRESSION_NONE:
                return "none";
        case KILN_COMPRESSION_GZIP:
                return "gzip";
        case KILN_COMPRESSION_ZSTD:
                return "zstd";
        }
        return "unknown";
}

int kiln_compression_parse(const char *s, enum kiln_compression *ret)
{
        enum kiln_compression c;
        if (!s)
                return -KILN_EFORMAT;
        if (!strcmp(s, "none") || !strcmp(s, "uncompressed"))
                c = KILN_COMPRESSION_NONE;
        else if (!strcmp(s, "gzip"))
                c = KILN_COMPRESSION_GZIP;
        else if (!strcmp(s, "zstd"))
                c = KILN_COMPRESSION_ZSTD;
        else
                return -KILN_EFORMAT;
        *ret = c;
        return 0;
}

enum kiln_compression kiln_compression_detect(const void *buf, size_t len)
{
        const unsigned char *p = buf;
        if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
                return KILN_COMPRESSION_GZIP;
        if (len >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
                return KILN_COMPRESSION_ZSTD;
        return KILN_COMPRESSION_NONE;
}

const char *kiln_compression_media_type(enum kiln_compression c)
{
        switch (c) {
        case KILN_COMPRESSION_NONE:
                return "application/vnd.oci.image.layer.v1.tar";
        case KILN_COMPRESSION_GZIP:
                return "application/vnd.oci.image.layer.v1.tar+gzip";
        case KILN_COMPRESSION_ZSTD:
                return "application/vnd.oci.image.layer.v1.tar+zstd";
        }
        return NULL;
}

/* Hashes one buffer at a time on its own thread (see the top comment). */
struct hash_worker {
        pthread_t tid;
        pthread_mutex_t lock;
        pthread_cond_t cv;
        struct kiln_hasher *h;
        const void *p;
        size_t n;
        bool busy, quit;
};

/* Every this many bytes written to a file, its writeback is started. */
#define WRITEBACK_KICK (8 * 1024 * 1024)

/* Writes at least this big are hashed on the helper thread. */
#define HASH_ASYNC_MIN (64 * 1024)

static void *hash_main(void *arg)
{
        struct hash_worker *hw = arg;
        pthread_mutex_lock(&hw->lock);
        for (;;) {
                while (!hw->busy && !hw->quit)
                        pthread_cond_wait(&hw->cv, &hw->lock);
                if (!hw->busy)
                        break;
                pthread_mutex_unlock(&hw->lock);
                kiln_hasher_update(hw->h, hw->p, hw->n);
                pthread_mutex_lock(&hw->lock);
                hw->busy = false;
                pthread_cond_broadcast(&hw->cv);
        }
        pthread_mutex_unlock(&hw->lock);
        return NULL;
}

/* A started worker hashing into h, or NULL (then the caller hashes inline). */
static struct hash_worker *hash_worker_new(struct kiln_hasher *h)
{
        struct hash_worker *hw = kiln_xcalloc(1, sizeof(*hw));
        hw->h = h;
        pthread_mutex_init(&hw->lock, NULL);
        pthread_cond_init(&hw->cv, NULL);
        /* no signals on the helper: they stay with the caller's threads */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int e = pthread_create(&hw->tid, NULL, hash_main, hw);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (e) {
                pthread_cond_destroy(&hw->cv);
                pthread_mutex_destroy(&hw->lock);
                free(hw);
                return NULL;
        }
        return hw;
}

static void hash_worker_start(struct hash_worker *hw, const void *p, size_t n)
{
        pthread_mutex_lock(&hw->lock);
        hw->p = p;
        hw->n = n;
        hw->busy = true;
        pthread_cond_broadcast(&hw->cv);
        pthread_mutex_unlock(&hw->lock);
}

static void hash_worker_wait(struct hash_worker *hw)
{
        pthread_mutex_lock(&hw->lock);
        while (hw->busy)
                pthread_cond_wait(&hw->cv, &hw->lock);
        pthread_mutex_unlock(&hw->lock);
}

static void hash_worker_free(struct hash_worker *hw)
{
        if (!hw)
                return;
        pthread_mutex_lock(&hw->lock);
        hw->quit = true;
        pthread_cond_broadcast(&hw->cv);
        pthread_mutex_unlock(&hw->lock);
        pthread_join(hw->tid, NULL); /* after the buffer it may be hashing */
        pthread_cond_destroy(&hw->cv);
        pthread_mutex_destroy(&hw->lock);
        free(hw);
}

struct layer_sink {
        int out_fd;
        struct hash_worker *hw; /* diff_id hashing of big writes; NULL until one */
        bool hw_failed;         /* could not start: hash inline */
        int64_t kick_from;      /* writeback started below this offset; -1: out_fd is no file */
        enum kiln_compression c;
        struct kiln_hasher *tar_h, *out_h;
        struct pgzip *gz;
        ZSTD_CCtx *zc;
        unsigned char *obuf;
        size_t obuf_size;
        int64_t tar_bytes, out_bytes;
        int error;
        char errmsg[256];
};

void layer_sink_free(struct layer_sink *s)
{
        if (!s)
                return;
        hash_worker_free(s->hw); /* before the hasher it uses */
        kiln_hasher_free(s->tar_h);
        kiln_hasher_free(s->out_h);
        /* stops and joins the gzip threads, finished or not */
        pgzip_free(s->gz);
        ZSTD_freeCCtx(s->zc);
        free(s->obuf);
        free(s);
}

int layer_sink_error(struct layer_sink *s)
{
        return s->error;
}

static int emit(struct layer_sink *s, const void *p, size_t n)
{
        if (n == 0)
                return 0;
        if (s->out_h) /* NULL uncompressed: the digest is the diff_id */
                kiln_hasher_update(s->out_h, p, n);
        int r = kiln_fs_write_all(s->out_fd, p, n);
        if (r < 0) {
                s->error = r;
                snprintf(s->errmsg, sizeof s->errmsg, "layer: write: %s", kiln_strerror(r));
                return r;
        }
        s->out_bytes += (int64_t)n;
        /* start the disk writes of what is written so far: the blob's
         * fsync at commit then waits for the tail only, not for the
         * whole layer */
        if (s->kick_from >= 0 && s->out_bytes - s->kick_from >= WRITEBACK_KICK) {
                if (sync_file_range(s->out_fd, s->kick_from, s->out_bytes - s->kick_from, SYNC_FILE_RANGE_WRITE) < 0)
                        s->kick_from = -1; /* not a file: never again */
                else
                        s->kick_from = s->out_bytes;
        }
        return 0;
}

static int gzip_emit(void *ctx, const void *p, size_t n)
{
        return emit(ctx, p, n);
}

static int gzip_fail(struct layer_sink *s, int r)
{
        /* emit() already described a write failure */
        if (!s->error) {
                s->error = r;
                snprintf(s->errmsg, sizeof s->errmsg, "%s", pgzip_errmsg(s->gz));
        }
        return r;
}

static int codec_fail(struct layer_sink *s, const char *what)
{
        s->error = -EIO;
        snprintf(s->errmsg, sizeof s->errmsg, "layer: %s compression failed: %s",
                 kiln_compression_name(s->c), what);
        return s->error;
}

/* Feed n bytes of tar (or nothing, with finish) through the codec. */
static int sink_push(struct layer_sink *s, const void *data, size_t n, bool finish)
{
        int r;
        if (s->error)
                return s->error;
        switch (s->c) {
        case KILN_COMPRESSION_NONE:
                return emit(s, data, n);
        case KILN_COMPRESSION_GZIP:
                r = n ? pgzip_write(s->gz, data, n) : 0;
                if (r >= 0 && finish)
                        r = pgzip_finish(s->gz);
                return r < 0 ? gzip_fail(s, r) : 0;
        case KILN_COMPRESSION_ZSTD: {
                ZSTD_inBuffer in = { data, n, 0 };
                for (;;) {
                        ZSTD_outBuffer out = { s->obuf, s->obuf_size, 0 };
                        size_t left = ZSTD_compressStream2(s->zc, &out, &in,
                                                           finish ? ZSTD_e_end : ZSTD_e_continue);
                        if (ZSTD_isError(left))
                                return codec_fail(s, ZSTD_getErrorName(left));
                        r = emit(s, s->obuf, out.pos);
                        if (r < 0)
                                return r;
                        if (finish ? left == 0 : in.pos == in.size)
                                return 0;
                }
        }
        }
        return -EINVAL;
}

int layer_sink_new(int out_fd, const struct kiln_layer_create_opts *opts,
                   struct layer_sink **ret, struct kiln_error *err)
{
        struct kiln_layer_create_opts def = KILN_LAYER_CREATE_OPTS_INIT;
        if (!opts)
                opts = &def;
        _cleanup_(layer_sink_freep) struct layer_sink *s = kiln_xcalloc(1, sizeof(*s));
        s->out_fd = out_fd;
        struct stat ost;
        s->kick_from = fstat(out_fd, &ost) == 0 && S_ISREG(ost.st_mode) ? lseek(out_fd, 0, SEEK_CUR) : -1;
        s->c = opts->compression;
        s->tar_h = kiln_hasher_new(KILN_DIGEST_SHA256);
        /* uncompressed, the blob is the tar: one hash pass, not two */
        s->out_h = s->c == KILN_COMPRESSION_NONE ? NULL : kiln_hasher_new(KILN_DIGEST_SHA256);
        switch (s->c) {
        case KILN_COMPRESSION_NONE:
                break;
        case KILN_COMPRESSION_GZIP: {
                int level = opts->level ? opts->level : 6;
                /* fixed blocks, gzip header mtime 0, no name: the same bytes
                 * give the same output whatever the thread count */
                int r = pgzip_new(level, opts->threads, gzip_emit, s, &s->gz, err);
                if (r < 0)
                        return r;
                break;
        }
        case KILN_COMPRESSION_ZSTD: {
                int level = opts->level ? opts->level : 3;
                if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
                        return kiln_err(err, -EINVAL, "layer: zstd level %d out of range", level);
                s->zc = ZSTD_createCCtx();
                if (!s->zc)
                        return kiln_err(err, -ENOMEM, "layer: zstd init failed");
                ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel, level);
                ZSTD_CCtx_setParameter(s->zc, ZSTD_c_checksumFlag, 0);
                int threads = opts->threads > 0 ? opts->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
                if (threads < 1)
                        threads = 1;
                if (threads > 64)
                        threads = 64;
                /* Always multi-threaded mode (even with one worker): its
                 * output does not depend on the worker count, so the digest
                 * is the same on every machine. A fixed job size bounds
                 * memory to about workers x 3 MiB. */
                if (!ZSTD_isError(ZSTD_CCtx_setParameter(s->zc, ZSTD_c_nbWorkers, threads)))
                        ZSTD_CCtx_setParameter(s->zc, ZSTD_c_jobSize, 2 * 1024 * 1024);
                s->obuf_size = ZSTD_CStreamOutSize();
                break;
        }
        default:
                return kiln_err(err, -EINVAL, "layer: unknown compression %d", (int)s->c);
        }
        if (s->obuf_size)
                s->obuf = kiln_xmalloc(s->obuf_size);
        *ret = TAKE_PTR(s);
        return 0;
}

static la_ssize_t sink_write_cb(struct archive *a, void *client, const void *buf, size_t len)
{
        struct layer_sink *s = client;
        if (len >= HASH_ASYNC_MIN && !s->hw && !s->hw_failed) {
                s->hw = hash_worker_new(s->tar_h);
                s->hw_failed = !s->hw;
        }
        int r;
        if (len >= HASH_ASYNC_MIN && s->hw) {
                /* hashed while the codec and the fd take the same bytes;
                 * libarchive may reuse buf once this returns */
                hash_worker_start(s->hw, buf, len);
                r = sink_push(s, buf, len, false);
                hash_worker_wait(s->hw);
        } else {
                kiln_hasher_update(s->tar_h, buf, len);
                r = sink_push(s, buf, len, false);
        }
        s->tar_bytes += (int64_t)len;
        if (r < 0) {
                archive_set_error(a, EIO, "%s", s->errmsg);
                return -1;
        }
        return (la_ssize_t)len;
}

struct archive *layer_sink_archive(struct layer_sink *s, struct kiln_error *err)
{
        struct archive *a = archive_write_new();
        if (!a) {
                kiln_err(err, -ENOMEM, "layer: cannot allocate archive writer");
                return NULL;
        }
        /* restricted pax: plain ustar headers unless a value does not fit
         * (long names, big sizes, xattrs), then a pax extended header */
        if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
            archive_write_set_options(a, "pax:xattrheader=SCHILY") != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
            archive_write_open2(a, s, NULL, sink_write_cb, NULL, NULL) != ARCHIVE_OK) {
                kiln_err(err, -EIO, "layer: archive writer: %s", archive_error_string(a));
                archive_write_free(a);
                return NULL;
        }
        return a;
}

int layer_sink_finish(struct layer_sink *s, struct archive *a, uint64_t n_entries,
                      struct kiln_layer_info *ret, struct kiln_error *err)
{
        if (archive_write_close(a) != ARCHIVE_OK) {
                if (s->error)
                        return kiln_err(err, s->error, "%s", s->errmsg);
                return kiln_err(err, -EIO, "layer: %s", archive_error_string(a));
        }
        if (sink_push(s, NULL, 0, true) < 0)
                return kiln_err(err, s->error, "%s", s->errmsg);
        struct kiln_layer_info info = { 0 };
        kiln_hasher_final(s->tar_h, &info.diff_id);
        if (s->out_h)
                kiln_hasher_final(s->out_h, &info.digest);
        else
                info.digest = info.diff_id;
        info.size = s->out_bytes;
        info.uncompressed_size = s->tar_bytes;
        info.n_entries = n_entries;
        info.compression = s->c;
        if (ret)
                *ret = info;
        return 0;
}

int layer_archive_err(struct archive *a, struct kiln_error *err, const char *what)
{
        const char *m = archive_error_string(a);
        int e = archive_errno(a);
        if (!m)
                m = "unknown error";
        if (strstr(m, "runcated"))
                return kiln_err(err, -KILN_EFORMAT, "layer: truncated tar archive%s%s",
                                what ? ": " : "", what ? what : "");
        if (strstr(m, "Unrecognized archive format") || strstr(m, "Damaged tar") ||
            strstr(m, "checksum"))
                return kiln_err(err, -KILN_EFORMAT, "layer: not a tar archive%s%s (%s)",
                                what ? ": " : "", what ? what : "", m);
        if (e == ENOMEM)
                return kiln_err(err, -ENOMEM, "layer: %s%s%s", what ? what : "", what ? ": " : "", m);
        return kiln_err(err, -KILN_EFORMAT, "layer: %s%s%s", what ? what : "", what ? ": " : "", m);
}
