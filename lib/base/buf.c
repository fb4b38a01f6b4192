/* SPDX-License-Identifier: Apache-2.0 */
/* Growable byte buffer. */
#include <string.h>
#include "kiln/base.h"

static void reserve(struct kiln_buf *b, size_t extra)
{
        size_t need = b->len + extra + 1;
        if (need <= b->cap)
                return;
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need)
                cap *= 2;
        b->data = kiln_xrealloc(b->data, cap);
        b->cap = cap;
}

void kiln_buf_append(struct kiln_buf *b, const void *data, size_t len)
{
        reserve(b, len);
        if (len)
                memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = 0;
}

void kiln_buf_puts(struct kiln_buf *b, const char *s)
{
        kiln_buf_append(b, s, strlen(s));
}

void kiln_buf_printf(struct kiln_buf *b, const char *fmt, ...)
{
        va_list ap, ap2;
        va_start(ap, fmt);
        va_copy(ap2, ap);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n > 0) {
                reserve(b, (size_t)n);
                vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
                b->len += (size_t)n;
        }
        va_end(ap2);
}

char *kiln_buf_steal(struct kiln_buf *b)
{
        if (!b->data)
                return kiln_xstrdup("");
        char *p = b->data;
        b->data = NULL;
        b->len = b->cap = 0;
        return p;
}

void kiln_buf_free(struct kiln_buf *b)
{
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}
