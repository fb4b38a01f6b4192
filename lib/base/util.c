/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation and string helpers. */
#include <string.h>
#include "kiln/base.h"

static void oom(void)
{
        static const char m[] = "kiln: out of memory\n";
        (void)!write(2, m, sizeof(m) - 1);
        abort();
}

void *kiln_xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *kiln_xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                oom();
        return p;
}

void *kiln_xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                oom();
        return p;
}

char *kiln_xstrdup(const char *s)
{
        if (!s)
                return NULL;
        char *p = strdup(s);
        if (!p)
                oom();
        return p;
}

char *kiln_xstrndup(const char *s, size_t n)
{
        char *p = strndup(s, n);
        if (!p)
                oom();
        return p;
}

char *kiln_xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *p;
        va_start(ap, fmt);
        int r = vasprintf(&p, fmt, ap);
        va_end(ap);
        if (r < 0)
                oom();
        return p;
}

void kiln_strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

size_t kiln_strv_len(char *const *v)
{
        size_t n = 0;
        if (v)
                while (v[n])
                        n++;
        return n;
}

void kiln_strv_push_take(char ***v, char *s)
{
        size_t n = kiln_strv_len(*v);
        *v = kiln_xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = s;
        (*v)[n + 1] = NULL;
}

void kiln_strv_push(char ***v, const char *s)
{
        kiln_strv_push_take(v, kiln_xstrdup(s));
}

bool kiln_startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool kiln_endswith(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}
