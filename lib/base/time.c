/* SPDX-License-Identifier: Apache-2.0 */
/* Sizes and times formatted the way docker prints them. */
#include <string.h>
#include <time.h>
#include "kiln/base.h"

void kiln_format_size(int64_t bytes, char *out, size_t outlen)
{
        /* docker uses decimal units (go-units HumanSize), 3 significant digits */
        static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
        double v = (double)bytes;
        size_t u = 0;
        while (v >= 1000.0 && u + 1 < KILN_ARRAY_SIZE(units)) {
                v /= 1000.0;
                u++;
        }
        if (u == 0)
                snprintf(out, outlen, "%lldB", (long long)bytes);
        else
                snprintf(out, outlen, "%.3g%s", v, units[u]);
}

void kiln_format_ago(int64_t then, int64_t now, char *out, size_t outlen)
{
        if (then <= 0) {
                snprintf(out, outlen, "N/A");
                return;
        }
        int64_t d = now - then;
        if (d < 0)
                d = 0;
        if (d < 1)
                snprintf(out, outlen, "Less than a second ago");
        else if (d < 60)
                snprintf(out, outlen, "%lld seconds ago", (long long)d);
        else if (d < 120)
                snprintf(out, outlen, "About a minute ago");
        else if (d < 3600)
                snprintf(out, outlen, "%lld minutes ago", (long long)(d / 60));
        else if (d < 7200)
                snprintf(out, outlen, "About an hour ago");
        else if (d < 86400 * 2)
                snprintf(out, outlen, "%lld hours ago", (long long)(d / 3600));
        else if (d < 86400 * 7 * 2)
                snprintf(out, outlen, "%lld days ago", (long long)(d / 86400));
        else if (d < 86400 * 30 * 2)
                snprintf(out, outlen, "%lld weeks ago", (long long)(d / (86400 * 7)));
        else if (d < 86400 * 365 * 2)
                snprintf(out, outlen, "%lld months ago", (long long)(d / (86400 * 30)));
        else
                snprintf(out, outlen, "%lld years ago", (long long)(d / (86400 * 365)));
}

void kiln_format_rfc3339(int64_t t, char *out, size_t outlen)
{
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t kiln_parse_rfc3339(const char *s)
{
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -1;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -1;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        long off = 0;
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1;
                int hh, mm;
                if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
                        return -1;
                off = sign * (hh * 3600L + mm * 60L);
                p += 6;
        } else {
                return -1;
        }
        if (*p)
                return -1;
        return (int64_t)timegm(&tm) - off;
}
