/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for lib/build's pattern code: the input is a
 * .dockerignore text, a NUL byte, then paths one a line. Beyond "no crash,
 * no leak", it checks invariants: a failed parse says why, Clean is
 * idempotent, Match of a pattern against itself never crashes and errors
 * only for a pattern Match rejects everywhere.
 */
#include <stdint.h>
#include <string.h>
#include "kiln/buildctx.h"

#define MAX_PATHS 64
#define MAX_PATTERNS 32

static void check_clean(const char *s)
{
        char *a = kiln_buildctx_clean(s);
        char *b = kiln_buildctx_clean(a);
        if (strcmp(a, b) != 0 || !a[0])
                __builtin_trap();
        free(a);
        free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *d = (const char *)data;
        const char *nul = memchr(d, 0, size);
        size_t ilen = nul ? (size_t)(nul - d) : size;

        struct kiln_error err = { 0 };
        struct kiln_dockerignore *ig = NULL;
        int r = kiln_dockerignore_parse(d, ilen, &ig, &err);
        if (r < 0 && (!err.msg[0] || ig))
                __builtin_trap();

        /* the paths */
        char *rest = nul ? kiln_xstrndup(nul + 1, size - ilen - 1) : kiln_xstrdup("");
        char *paths[MAX_PATHS];
        size_t np = 0;
        for (char *save = NULL, *p = strtok_r(rest, "\n", &save); p && np < MAX_PATHS;
             p = strtok_r(NULL, "\n", &save))
                paths[np++] = p;

        for (size_t i = 0; i < np; i++) {
                check_clean(paths[i]);
                if (ig) {
                        bool m = kiln_dockerignore_matches(ig, paths[i]);
                        (void)kiln_dockerignore_walk_excluded_dir(ig, paths[i]);
                        /* "." and "" are never excluded */
                        if (m && (!strcmp(paths[i], ".") || !paths[i][0]))
                                __builtin_trap();
                }
        }

        /* the ignore lines as filepath.Match patterns against the paths */
        char *lines = kiln_xstrndup(d, ilen);
        size_t npat = 0;
        for (char *save = NULL, *p = strtok_r(lines, "\n", &save); p && npat < MAX_PATTERNS;
             p = strtok_r(NULL, "\n", &save), npat++) {
                int self = kiln_buildctx_path_match(p, p);
                int empty = kiln_buildctx_path_match(p, "");
                /* a bad pattern is bad whatever the name */
                if ((self < 0) != (empty < 0))
                        __builtin_trap();
                (void)kiln_buildctx_has_wildcards(p);
                for (size_t i = 0; i < np; i++) {
                        int m = kiln_buildctx_path_match(p, paths[i]);
                        if ((m < 0) != (self < 0))
                                __builtin_trap();
                }
        }
        free(lines);
        if (ig)
                for (size_t i = 0; i < kiln_dockerignore_count(ig); i++)
                        check_clean(kiln_dockerignore_pattern(ig, i));
        kiln_dockerignore_free(ig);
        free(rest);
        return 0;
}
