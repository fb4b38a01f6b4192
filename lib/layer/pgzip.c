/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parallel, deterministic gzip (the way pigz does it).
 *
 * The input is cut into fixed PGZ_BLOCK-byte blocks. Each block is
 * compressed on its own as raw deflate (windowBits -15, memLevel 8, the
 * default strategy) with the 32 KiB of input before it as the preset
 * dictionary, and ends with Z_SYNC_FLUSH (the last one with Z_FINISH), so
 * the compressed blocks concatenate into one deflate stream. The stream is
 * wrapped in the gzip header zlib writes for deflateInit2(windowBits 31)
 * (mtime 0, no name, XFL per level, OS 3) and a trailer with the CRC-32
 * (per-block CRCs joined with crc32_combine) and the size mod 2^32.
 *
 * A block whose bytes look random (pgz_incompressible: already compressed
 * data, random bytes) is written as stored deflate blocks instead: deflate
 * would spend ~25 ms a MiB on it (zlib, any level) to save nothing. The test
 * is integer arithmetic on the block's byte counts, so the choice, like
 * everything else here, depends on the input only.
 *
 * Block boundaries depend only on the input, never on the thread count, so
 * the output is the same byte for byte with 1 or 64 threads. A block is
 * submitted only when more input arrives or at finish: the last block is
 * always a non-empty one (unless the input is empty) and carries BFINAL.
 *
 * Threads: the caller's thread fills blocks and writes the results, in
 * order, through the emit callback; `workers` threads compress. At most
 * 2 x workers blocks are in flight (a ring of slots), so memory is bounded:
 * about 2 x workers x 300 KiB plus a 270 KiB deflate state per worker. With
 * one thread no worker is started and blocks are compressed inline.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <zlib.h>
#include "layer-internal.h"

#define PGZ_BLOCK PGZIP_BLOCK
#define PGZ_DICT PGZIP_DICT
#define PGZ_MAX_THREADS 64

struct pgz_slot {
        unsigned char *in;   /* PGZ_DICT bytes of dictionary, then the block */
        size_t dict_len, len;
        unsigned char *out;
        size_t out_len, out_cap;
        uLong crc;           /* of the block's data */
        bool last;
        bool done;           /* compressed (under the lock) */
        int error;           /* compression failed: -ENOMEM / -EIO */
};

struct pgz_worker {
        struct pgzip *z;
        pthread_t tid;
        z_stream strm;
        bool strm_init, started;
};

struct pgzip {
        int level;
        pgzip_emit_fn emit;
        void *emit_ctx;

        struct pgz_slot *slots;
        size_t n_slots;

        /* Sequence numbers of blocks (slot = seq % n_slots): blocks below
         * n_submitted are queued or compressed, n_submitted is the one being
         * filled; next_take is the next for a worker; next_emit the next to
         * be written. Only the caller's thread changes n_submitted (under
         * the lock) and next_emit. */
        uint64_t n_submitted, next_take, next_emit;
        bool filling;        /* slot(n_submitted) holds a block being filled */

        struct pgz_worker *workers;
        size_t n_workers;    /* 0: compress inline with strm0 */
        z_stream strm0;
        bool strm0_init;
        pthread_mutex_t lock;
        pthread_cond_t work_cv, done_cv;
        bool stop;

        bool header_done, finished;
        uLong crc;
        uint32_t isize;
        int error;
        char errmsg[256];
};

static struct pgz_slot *slot_of(struct pgzip *z, uint64_t seq)
{
        return &z->slots[seq % z->n_slots];
}

static int deflate_init(z_stream *strm, int level)
{
        memset(strm, 0, sizeof(*strm));
        return deflateInit2(strm, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK ? 0 : -ENOMEM;
}

bool pgz_incompressible(const unsigned char *p, size_t n)
{
        if (n < PGZIP_STORE_MIN)
                return false;
        /* four tables: consecutive increments of one counter would stall */
        uint32_t h[4][256];
        memset(h, 0, sizeof h);
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
                h[0][p[i]]++;
                h[1][p[i + 1]]++;
                h[2][p[i + 2]]++;
                h[3][p[i + 3]]++;
        }
        for (; i < n; i++)
                h[0][p[i]]++;
        uint64_t sq = 0;
        for (int c = 0; c < 256; c++) {
                uint64_t k = (uint64_t)h[0][c] + h[1][c] + h[2][c] + h[3][c];
                sq += k * k;
        }
        uint64_t nn = (uint64_t)n * n;
        return sq * 256 <= nn + nn / 50;
}

/* The block as stored deflate blocks (65,535 bytes at most each), which
 * start and end on a byte boundary as a sync-flushed block does; the last
 * one of the stream has BFINAL. */
static void store_slot(struct pgz_slot *sl)
{
        const unsigned char *p = sl->in + PGZ_DICT;
        size_t n = sl->len, need = n + 5 * (n / 65535 + 1);
        if (sl->out_cap < need) {
                unsigned char *o = realloc(sl->out, need);
                if (!o) {
                        sl->error = -ENOMEM;
                        return;
                }
                sl->out = o;
                sl->out_cap = need;
        }
        unsigned char *o = sl->out;
        size_t off = 0;
        do {
                size_t k = KILN_MIN(n, (size_t)65535);
                o[off++] = sl->last && k == n ? 1 : 0; /* BFINAL, BTYPE 00, padding */
                o[off++] = (unsigned char)k;
                o[off++] = (unsigned char)(k >> 8);
                o[off++] = (unsigned char)~k;
                o[off++] = (unsigned char)(~k >> 8);
                memcpy(o + off, p, k);
                off += k;
                p += k;
                n -= k;
        } while (n > 0);
        sl->out_len = off;
}

/* Compress one block into its out buffer (any thread; touches only the slot
 * and strm). */
static void compress_slot(struct pgz_slot *sl, z_stream *strm)
{
        sl->out_len = 0;
        sl->error = 0;
        sl->crc = crc32(crc32(0L, Z_NULL, 0), sl->in + PGZ_DICT, (uInt)sl->len);
        if (pgz_incompressible(sl->in + PGZ_DICT, sl->len)) {
                store_slot(sl);
                return;
        }
        if (deflateReset(strm) != Z_OK) {
                sl->error = -EIO;
                return;
        }
        if (sl->dict_len &&
            deflateSetDictionary(strm, sl->in + PGZ_DICT - sl->dict_len, (uInt)sl->dict_len) != Z_OK) {
                sl->error = -EIO;
                return;
        }
        strm->next_in = sl->in + PGZ_DICT;
        strm->avail_in = (uInt)sl->len;
        int flush = sl->last ? Z_FINISH : Z_SYNC_FLUSH;
        for (;;) {
                if (sl->out_cap - sl->out_len < 64) {
                        size_t cap = sl->out_cap * 2;
                        unsigned char *p = realloc(sl->out, cap);
                        if (!p) {
                                sl->error = -ENOMEM;
                                return;
                        }
                        sl->out = p;
                        sl->out_cap = cap;
                }
                strm->next_out = sl->out + sl->out_len;
                strm->avail_out = (uInt)(sl->out_cap - sl->out_len);
                int zr = deflate(strm, flush);
                sl->out_len = sl->out_cap - strm->avail_out;
                if (sl->last) {
                        if (zr == Z_STREAM_END)
                                return;
                        if (zr != Z_OK) {
                                sl->error = -EIO;
                                return;
                        }
                } else {
                        /* a sync flush is complete when deflate leaves
                         * output space; Z_BUF_ERROR: nothing was left */
                        if (zr == Z_BUF_ERROR && strm->avail_in == 0)
                                return;
                        if (zr != Z_OK) {
                                sl->error = -EIO;
                                return;
                        }
                        if (strm->avail_in == 0 && strm->avail_out != 0)
                                return;
                }
        }
}

static void *worker_main(void *arg)
{
        struct pgz_worker *w = arg;
        struct pgzip *z = w->z;
        pthread_mutex_lock(&z->lock);
        for (;;) {
                while (!z->stop && z->next_take >= z->n_submitted)
                        pthread_cond_wait(&z->work_cv, &z->lock);
                if (z->stop)
                        break;
                struct pgz_slot *sl = slot_of(z, z->next_take++);
                pthread_mutex_unlock(&z->lock);
                compress_slot(sl, &w->strm);
                pthread_mutex_lock(&z->lock);
                sl->done = true;
                pthread_cond_broadcast(&z->done_cv);
        }
        pthread_mutex_unlock(&z->lock);
        return NULL;
}

static int fail(struct pgzip *z, int code, const char *what)
{
        z->error = code;
        snprintf(z->errmsg, sizeof z->errmsg, "layer: gzip compression failed: %s", what);
        return code;
}

static int emit(struct pgzip *z, const void *p, size_t n)
{
        if (n == 0)
                return 0;
        int r = z->emit(z->emit_ctx, p, n);
        if (r < 0) {
                /* the callback describes its own failure */
                z->error = r;
                z->errmsg[0] = 0;
        }
        return r;
}

/* Write the compressed block next_emit (done) and release its slot. */
static int emit_slot(struct pgzip *z, struct pgz_slot *sl)
{
        int r;
        if (sl->error)
                return fail(z, sl->error, sl->error == -ENOMEM ? "out of memory" : "deflate error");
        if (!z->header_done) {
                /* what zlib writes for windowBits 31: no flags, mtime 0,
                 * XFL 2 at level 9, 4 at level 1, else 0; OS 3 (Unix) */
                unsigned char h[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0,
                                        z->level == 9 ? 2 : z->level < 2 ? 4 : 0, 3 };
                r = emit(z, h, sizeof h);
                if (r < 0)
                        return r;
                z->header_done = true;
        }
        r = emit(z, sl->out, sl->out_len);
        if (r < 0)
                return r;
        z->crc = crc32_combine(z->crc, sl->crc, (z_off_t)sl->len);
        z->isize += (uint32_t)sl->len;
        z->next_emit++;
        return 0;
}

/*
 * Write the compressed blocks that are ready, in order. Waits (blocks) for
 * the oldest one while more than `keep` blocks are outstanding: keep =
 * n_slots - 1 frees a slot for the next block, keep = 0 writes everything.
 */
static int drain(struct pgzip *z, uint64_t keep)
{
        while (z->next_emit < z->n_submitted) {
                struct pgz_slot *sl = slot_of(z, z->next_emit);
                bool must = z->n_submitted - z->next_emit > keep;
                if (z->n_workers) {
                        pthread_mutex_lock(&z->lock);
                        while (must && !sl->done)
                                pthread_cond_wait(&z->done_cv, &z->lock);
                        bool done = sl->done;
                        pthread_mutex_unlock(&z->lock);
                        if (!done)
                                return 0;
                }
                int r = emit_slot(z, sl);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Hand the block being filled to the workers (or compress it here). */
static int submit(struct pgzip *z, bool last)
{
        struct pgz_slot *sl = slot_of(z, z->n_submitted);
        sl->last = last;
        sl->done = false;
        z->filling = false;
        if (!z->n_workers) {
                compress_slot(sl, &z->strm0);
                sl->done = true;
                z->n_submitted++;
        } else {
                pthread_mutex_lock(&z->lock);
                z->n_submitted++;
                pthread_cond_signal(&z->work_cv);
                pthread_mutex_unlock(&z->lock);
        }
        return drain(z, last ? 0 : z->n_slots - 1);
}

/* Start a new block in slot(n_submitted), its dictionary the tail of the
 * previous block (still intact: n_slots >= 2 and nothing reuses it yet). */
static int start_block(struct pgzip *z)
{
        int r = drain(z, z->n_slots - 1);
        if (r < 0)
                return r;
        struct pgz_slot *sl = slot_of(z, z->n_submitted);
        sl->dict_len = 0;
        sl->len = 0;
        if (z->n_submitted > 0) {
                struct pgz_slot *prev = slot_of(z, z->n_submitted - 1);
                /* blocks are submitted only when full, so prev holds a
                 * whole PGZ_BLOCK >= PGZ_DICT bytes */
                memcpy(sl->in, prev->in + PGZ_DICT + prev->len - PGZ_DICT, PGZ_DICT);
                sl->dict_len = PGZ_DICT;
        }
        z->filling = true;
        return 0;
}

int pgzip_write(struct pgzip *z, const void *data, size_t n)
{
        const unsigned char *p = data;
        if (z->error)
                return z->error;
        if (z->finished)
                return fail(z, -EINVAL, "write after finish");
        while (n > 0) {
                int r;
                if (!z->filling && (r = start_block(z)) < 0)
                        return r;
                struct pgz_slot *sl = slot_of(z, z->n_submitted);
                if (sl->len == PGZ_BLOCK) {
                        /* full and more input follows: not the last */
                        if ((r = submit(z, false)) < 0)
                                return r;
                        continue;
                }
                size_t k = KILN_MIN(n, PGZ_BLOCK - sl->len);
                memcpy(sl->in + PGZ_DICT + sl->len, p, k);
                sl->len += k;
                p += k;
                n -= k;
        }
        return 0;
}

int pgzip_finish(struct pgzip *z)
{
        int r;
        if (z->error)
                return z->error;
        if (z->finished)
                return fail(z, -EINVAL, "finished twice");
        /* empty input: one empty final block */
        if (!z->filling && (r = start_block(z)) < 0)
                return r;
        if ((r = submit(z, true)) < 0)
                return r;
        unsigned char t[8];
        uint32_t c = (uint32_t)z->crc;
        for (int i = 0; i < 4; i++) {
                t[i] = (unsigned char)(c >> (8 * i));
                t[4 + i] = (unsigned char)(z->isize >> (8 * i));
        }
        if ((r = emit(z, t, sizeof t)) < 0)
                return r;
        z->finished = true;
        return 0;
}

const char *pgzip_errmsg(const struct pgzip *z)
{
        return z->errmsg;
}

void pgzip_free(struct pgzip *z)
{
        if (!z)
                return;
        if (z->workers) {
                pthread_mutex_lock(&z->lock);
                z->stop = true;
                pthread_cond_broadcast(&z->work_cv);
                pthread_mutex_unlock(&z->lock);
                for (size_t i = 0; i < z->n_workers; i++)
                        if (z->workers[i].started)
                                pthread_join(z->workers[i].tid, NULL);
                for (size_t i = 0; i < z->n_workers; i++)
                        if (z->workers[i].strm_init)
                                deflateEnd(&z->workers[i].strm);
                free(z->workers);
                pthread_cond_destroy(&z->done_cv);
                pthread_cond_destroy(&z->work_cv);
                pthread_mutex_destroy(&z->lock);
        }
        if (z->strm0_init)
                deflateEnd(&z->strm0);
        for (size_t i = 0; z->slots && i < z->n_slots; i++) {
                free(z->slots[i].in);
                free(z->slots[i].out);
        }
        free(z->slots);
        free(z);
}

int pgzip_new(int level, int threads, pgzip_emit_fn emit_fn, void *emit_ctx,
              struct pgzip **ret, struct kiln_error *err)
{
        if (level < 1 || level > 9)
                return kiln_err(err, -EINVAL, "layer: gzip level %d out of range 1-9", level);
        if (threads <= 0)
                threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (threads < 1)
                threads = 1;
        if (threads > PGZ_MAX_THREADS)
                threads = PGZ_MAX_THREADS;

        _cleanup_(pgzip_freep) struct pgzip *z = kiln_xcalloc(1, sizeof(*z));
        z->level = level;
        z->emit = emit_fn;
        z->emit_ctx = emit_ctx;
        z->crc = crc32(0L, Z_NULL, 0);
        /* inline: two slots (the block being filled and its predecessor,
         * whose tail is the dictionary); else 2 blocks in flight a worker */
        z->n_slots = threads == 1 ? 2 : 2 * (size_t)threads;
        z->slots = kiln_xcalloc(z->n_slots, sizeof(*z->slots));
        size_t out_cap = deflateBound(NULL, PGZ_BLOCK) + 256;
        for (size_t i = 0; i < z->n_slots; i++) {
                z->slots[i].in = malloc(PGZ_DICT + PGZ_BLOCK);
                z->slots[i].out = malloc(out_cap);
                z->slots[i].out_cap = out_cap;
                if (!z->slots[i].in || !z->slots[i].out)
                        return kiln_err(err, -ENOMEM, "layer: gzip: out of memory");
        }
        if (threads == 1) {
                if (deflate_init(&z->strm0, level) < 0)
                        return kiln_err(err, -ENOMEM, "layer: gzip init failed");
                z->strm0_init = true;
                *ret = TAKE_PTR(z);
                return 0;
        }

        z->workers = kiln_xcalloc((size_t)threads, sizeof(*z->workers));
        z->n_workers = (size_t)threads;
        pthread_mutex_init(&z->lock, NULL);
        pthread_cond_init(&z->work_cv, NULL);
        pthread_cond_init(&z->done_cv, NULL);
        for (size_t i = 0; i < z->n_workers; i++) {
                z->workers[i].z = z;
                if (deflate_init(&z->workers[i].strm, level) < 0)
                        return kiln_err(err, -ENOMEM, "layer: gzip init failed");
                z->workers[i].strm_init = true;
        }
        /* workers take no signals: they stay with the caller's threads */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int e = 0;
        for (size_t i = 0; i < z->n_workers && !e; i++) {
                e = pthread_create(&z->workers[i].tid, NULL, worker_main, &z->workers[i]);
                z->workers[i].started = e == 0;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (e)
                return kiln_err(err, -e, "layer: gzip: cannot start compression threads: %s",
                                kiln_strerror(-e));
        *ret = TAKE_PTR(z);
        return 0;
}
