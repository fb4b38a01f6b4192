/* SPDX-License-Identifier: Apache-2.0 */
/* Error records and warnings: see include/kiln/base.h. */
#include <string.h>
#include "kiln/base.h"

static const char *const kiln_messages[] = {
        [KILN_EFORMAT - KILN_EBASE] = "malformed input",
        [KILN_EDIGEST - KILN_EBASE] = "digest mismatch",
        [KILN_ENOTFOUND - KILN_EBASE] = "not found",
        [KILN_ETOOBIG - KILN_EBASE] = "too large",
        [KILN_EUNSAFE - KILN_EBASE] = "path escapes its root",
        [KILN_ECORRUPT - KILN_EBASE] = "store is corrupt",
        [KILN_ECONFLICT - KILN_EBASE] = "conflict",
        [KILN_EINUSE - KILN_EBASE] = "in use",
        [KILN_EUNSUPPORTED - KILN_EBASE] = "not supported",
};

const char *kiln_strerror(int code)
{
        if (code < 0)
                code = -code;
        if (code > KILN_EBASE && code < KILN_ELAST) {
                const char *m = kiln_messages[code - KILN_EBASE];
                return m ? m : "unknown error";
        }
        return strerror(code);
}

__attribute__((format(printf, 3, 0))) static void set_msg(struct kiln_error *err, int code,
                                                         const char *fmt, va_list ap)
{
        err->code = code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        /* one line: fold any newline a message part brought in */
        for (char *p = err->msg; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
}

int kiln_err(struct kiln_error *err, int code, const char *fmt, ...)
{
        if (err) {
                va_list ap;
                va_start(ap, fmt);
                set_msg(err, code, fmt, ap);
                va_end(ap);
        }
        return code;
}

int kiln_err_prefix(struct kiln_error *err, int code, const char *fmt, ...)
{
        if (!err)
                return code;
        char prefix[KILN_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        char old[KILN_ERROR_MAX];
        if (err->msg[0])
                snprintf(old, sizeof(old), "%s", err->msg);
        else
                snprintf(old, sizeof(old), "%s", kiln_strerror(code));
        snprintf(err->msg, sizeof(err->msg), "%s%s", prefix, old);
        err->code = code;
        return code;
}

void kiln_error_clear(struct kiln_error *err)
{
        if (err) {
                err->code = 0;
                err->msg[0] = 0;
        }
}

static kiln_warn_fn warn_fn;
static void *warn_ud;

void kiln_set_warn_handler(kiln_warn_fn fn, void *userdata)
{
        warn_fn = fn;
        warn_ud = userdata;
}

void kiln_warn(const char *fmt, ...)
{
        if (!warn_fn)
                return;
        char msg[KILN_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        warn_fn(warn_ud, msg);
}
