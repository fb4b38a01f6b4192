/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which user namespace are we in? A rootless kiln runs inside a user
 * namespace of its own (lib/container/rootless.c), where it is uid 0 but
 * not root of the machine: cgroups cannot be made, devices cannot be
 * created, overlayfs keeps its bookkeeping in user.* xattrs.
 */
#include <stdio.h>
#include <unistd.h>
#include <string.h>
#include "kiln/base.h"

/* The lines of /proc/self/{uid,gid}_map: inside == outside for all ids
 * only in the initial user namespace. */
static int read_map(const char *file, uint32_t (*ranges)[3], size_t max)
{
        FILE *f = fopen(file, "re");
        if (!f)
                return -1;
        size_t n = 0;
        unsigned long a, b, c;
        while (n < max && fscanf(f, "%lu %lu %lu", &a, &b, &c) == 3) {
                ranges[n][0] = (uint32_t)a;
                ranges[n][1] = (uint32_t)b;
                ranges[n][2] = (uint32_t)c;
                n++;
        }
        fclose(f);
        return (int)n;
}

bool kiln_in_userns(void)
{
        static int cached = -1;
        if (cached < 0) {
                uint32_t m[8][3];
                int n = read_map("/proc/self/uid_map", m, 8);
                /* no /proc: assume the initial namespace */
                cached = !(n < 0 || (n == 1 && m[0][0] == 0 && m[0][1] == 0 && m[0][2] == UINT32_MAX));
        }
        return cached;
}

bool kiln_id_mapped(bool gid, uint32_t id)
{
        uint32_t m[340][3];
        int n = read_map(gid ? "/proc/self/gid_map" : "/proc/self/uid_map", m, 340);
        if (n < 0)
                return true;
        for (int i = 0; i < n; i++)
                if (id >= m[i][0] && id - m[i][0] < m[i][2])
                        return true;
        return false;
}

char *kiln_self_exe(void)
{
        const char *e = getenv("KILN_SELF_EXE");
        if (e && e[0] == '/')
                return kiln_xstrdup(e);
        char p[4096];
        ssize_t n = readlink("/proc/self/exe", p, sizeof(p) - 1);
        if (n <= 0)
                return NULL;
        p[n] = 0;
        return kiln_xstrdup(p);
}
