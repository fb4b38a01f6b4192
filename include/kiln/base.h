/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln base: errors, cleanup helpers, growable buffers, warnings.
 *
 * Conventions (see docs/internals/base.md):
 *  - functions return int: 0 (or a count) on success, -errno or -KILN_E... on
 *    failure;
 *  - boundary functions fill an optional struct kiln_error with one lowercase
 *    line naming what failed and why;
 *  - outputs are ret_* parameters, written only on success;
 *  - the library never prints and never exits: warnings go through the
 *    handler set with kiln_set_warn_handler().
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* kiln's own error codes, returned negated like -errno values. */
enum {
        KILN_EBASE = 4096,
        KILN_EFORMAT,   /* malformed input document or archive */
        KILN_EDIGEST,   /* content does not match its digest */
        KILN_ENOTFOUND, /* no such image, tag, blob or layer */
        KILN_ETOOBIG,   /* input over a size limit */
        KILN_EUNSAFE,   /* a path would leave its root */
        KILN_ECORRUPT,  /* the store is inconsistent */
        KILN_ECONFLICT, /* the operation conflicts with the store's state */
        KILN_EINUSE,    /* still referenced (image used by a tag or child) */
        KILN_EUNSUPPORTED,
        KILN_ELAST,
};

#define KILN_ERROR_MAX 1024

/* One line describing a failure; msg is always NUL-terminated. */
struct kiln_error {
        int code;               /* negative, as returned */
        char msg[KILN_ERROR_MAX];
};

/* Describe a kiln or errno code (positive or negative). Static string. */
const char *kiln_strerror(int code);

/*
 * Record an error: formats into err->msg when err is non-NULL and returns
 * code (which must be negative) so callers can `return kiln_err(...)`.
 * If err already holds a message it is replaced.
 */
int kiln_err(struct kiln_error *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/*
 * Prefix an existing error message with context ("pull 'app': ") and return
 * code. If err holds no message yet, the message becomes the prefix plus
 * kiln_strerror(code).
 */
int kiln_err_prefix(struct kiln_error *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Clear an error record. */
void kiln_error_clear(struct kiln_error *err);

/* Warnings (a device node skipped, ...) go to this handler; default: none. */
typedef void (*kiln_warn_fn)(void *userdata, const char *msg);
void kiln_set_warn_handler(kiln_warn_fn fn, void *userdata);
void kiln_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- cleanup helpers (systemd style) ---- */

static inline void kiln_freep(void *p) { free(*(void **)p); }
static inline void kiln_closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
static inline void kiln_fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(kiln_freep)
#define _cleanup_close_ _cleanup_(kiln_closep)
#define _cleanup_fclose_ _cleanup_(kiln_fclosep)

/* Define a cleanup function `name##p` for a destructor taking NULL. */
#define KILN_DEFINE_CLEANUP(type, func)                                        \
        static inline void func##p(type *p)                                    \
        {                                                                      \
                if (*p)                                                        \
                        func(*p);                                              \
        }

#define TAKE_PTR(p)                                                            \
        ({                                                                     \
                __typeof__(p) _p_ = (p);                                       \
                (p) = NULL;                                                    \
                _p_;                                                           \
        })
#define TAKE_FD(fd)                                                            \
        ({                                                                     \
                int _fd_ = (fd);                                               \
                (fd) = -1;                                                     \
                _fd_;                                                          \
        })

#define KILN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KILN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KILN_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Allocation that aborts on OOM: used for small bookkeeping only. */
void *kiln_xmalloc(size_t n);
void *kiln_xcalloc(size_t n, size_t size);
void *kiln_xrealloc(void *p, size_t n);
char *kiln_xstrdup(const char *s);
char *kiln_xstrndup(const char *s, size_t n);
char *kiln_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Free a NULL-terminated string vector. */
void kiln_strv_free(char **v);
size_t kiln_strv_len(char *const *v);
/* Append a copy of s to the NULL-terminated vector *v (*v may be NULL). */
void kiln_strv_push(char ***v, const char *s);
/* Append s itself (taking ownership) to the NULL-terminated vector *v. */
void kiln_strv_push_take(char ***v, char *s);
KILN_DEFINE_CLEANUP(char **, kiln_strv_free)
#define _cleanup_strv_free_ _cleanup_(kiln_strv_freep)

/* ---- growable byte buffer ---- */

struct kiln_buf {
        char *data; /* always NUL-terminated when non-NULL */
        size_t len;
        size_t cap;
};

#define KILN_BUF_INIT { NULL, 0, 0 }

void kiln_buf_append(struct kiln_buf *b, const void *data, size_t len);
void kiln_buf_puts(struct kiln_buf *b, const char *s);
void kiln_buf_printf(struct kiln_buf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Hand the data over (caller frees); the buffer becomes empty. */
char *kiln_buf_steal(struct kiln_buf *b);
void kiln_buf_free(struct kiln_buf *b);
#define _cleanup_buf_ _cleanup_(kiln_buf_free)

/* ---- small string helpers ---- */
bool kiln_startswith(const char *s, const char *prefix);
bool kiln_endswith(const char *s, const char *suffix);

/* ---- user namespaces (lib/base/userns.c) ---- */
/* Are we in a user namespace other than the initial one (rootless kiln)? */
bool kiln_in_userns(void);
/* Is this uid (gid) mapped in our user namespace? */
bool kiln_id_mapped(bool gid, uint32_t id);
/* The path of kiln's binary: $KILN_SELF_EXE (set when kiln re-executed
 * itself from a sealed memfd), else /proc/self/exe. NULL if unknown. */
char *kiln_self_exe(void);

/* Format a byte count the way docker does ("1.23MB", "512B"). */
void kiln_format_size(int64_t bytes, char *out, size_t outlen);
/* "2 hours ago" style relative time, like docker images CREATED. */
void kiln_format_ago(int64_t then, int64_t now, char *out, size_t outlen);
/* RFC 3339 UTC with nanoseconds trimmed: "2024-01-02T03:04:05Z". */
void kiln_format_rfc3339(int64_t t, char *out, size_t outlen);
/* Parse RFC 3339 (fractional seconds and offsets accepted); -1 on error. */
int64_t kiln_parse_rfc3339(const char *s);
