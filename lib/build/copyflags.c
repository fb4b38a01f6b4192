/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build: COPY/ADD --exclude and --parents (BuildKit's dockerfile 1.7
 * flags), and wildcards in COPY --from sources. The executor (executor.c,
 * do_copy) applies them; these are the pieces that do not need its state.
 * See docs/internals/build.md ("COPY and ADD flags").
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "copyflags.h"
#include "kiln/fs.h"

size_t build_glob_base_comps(const char *clean)
{
        size_t n = 0;
        const char *p = clean;
        if (!strcmp(clean, "."))
                return 0;
        for (const char *s = clean;; s++) {
                if (*s == '/' || !*s) {
                        _cleanup_free_ char *comp = kiln_xstrndup(p, (size_t)(s - p));
                        if (kiln_buildctx_has_wildcards(comp))
                                return n;
                        if (*comp)
                                n++;
                        p = s + 1;
                        if (!*s)
                                return n;
                }
        }
}

const char *build_path_skip(const char *path, size_t n)
{
        while (n > 0 && *path) {
                const char *sl = strchr(path, '/');
                path = sl ? sl + 1 : path + strlen(path);
                n--;
        }
        return path;
}

void build_parents_split(const char *src, char **ret_pattern, char **ret_prefix)
{
        const char *piv = strstr(src, "/./");
        if (!piv) {
                *ret_pattern = kiln_xstrdup(src);
                *ret_prefix = kiln_xstrdup(".");
                return;
        }
        _cleanup_free_ char *before = kiln_xstrndup(src, (size_t)(piv - src));
        *ret_pattern = kiln_xasprintf("%s/%s", before, piv + 3);
        /* context-relative: a leading "/" is the root */
        char *c = kiln_buildctx_clean_abs(*before ? before : "/");
        if (!strcmp(c, "/")) {
                free(c);
                c = kiln_xstrdup(".");
        } else {
                memmove(c, c + 1, strlen(c));
        }
        *ret_prefix = c;
}

const char *build_parents_kept(const char *prefix, const char *match)
{
        if (!strcmp(prefix, "."))
                return match;
        size_t n = strlen(prefix);
        if (strncmp(match, prefix, n))
                return NULL;
        if (!match[n])
                return ".";
        return match[n] == '/' ? match + n + 1 : NULL;
}

int build_exclude_new(const char *const *patterns, struct kiln_dockerignore **ret, struct kiln_error *err)
{
        *ret = NULL;
        if (!patterns || !patterns[0])
                return 0;
        int r = kiln_dockerignore_new((char *const *)patterns, ret, err);
        return r < 0 ? kiln_err_prefix(err, r, "--exclude: ") : 0;
}

/* ---- wildcards in a rootfs ---- */

struct rglob {
        const char *pat; /* the part with wildcards */
        size_t pat_comps;
        const char *base; /* "" for the root */
        char **out;
        struct kiln_error *err;
};

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t count_comps(const char *p)
{
        size_t n = 1;
        for (; *p; p++)
                n += *p == '/';
        return n;
}

static int rglob_dir(struct rglob *g, int dfd, const char *rel)
{
        int fd = dup(dfd);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                return kiln_err(g->err, -e, "/%s%s%s: %s", g->base, *rel ? "/" : "", rel, strerror(e));
        }
        char **names = NULL;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        kiln_strv_push(&names, de->d_name);
        closedir(d);
        size_t n = kiln_strv_len(names);
        if (n)
                qsort(names, n, sizeof(*names), cmp_str);
        int r = 0;
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *rpath = *rel ? kiln_xasprintf("%s/%s", rel, names[i]) : kiln_xstrdup(names[i]);
                int m = kiln_buildctx_path_match(g->pat, rpath);
                if (m < 0) {
                        r = kiln_err(g->err, m, "'%s': syntax error in pattern", g->pat);
                        break;
                }
                if (m) {
                        kiln_strv_push_take(&g->out, kiln_xasprintf("/%s%s%s", g->base, *g->base ? "/" : "", rpath));
                        continue;
                }
                struct stat st;
                if (count_comps(rpath) >= g->pat_comps || fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISDIR(st.st_mode))
                        continue;
                int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0)
                        continue;
                r = rglob_dir(g, sub, rpath);
                close(sub);
        }
        kiln_strv_free(names);
        return r;
}

int build_root_glob(int rootfd, const char *pattern, char ***ret_paths, struct kiln_error *err)
{
        _cleanup_free_ char *clean = kiln_buildctx_clean_abs(pattern);
        const char *c = clean + 1; /* without the leading "/" */
        size_t k = build_glob_base_comps(*c ? c : ".");
        const char *rest = build_path_skip(c, k);
        _cleanup_free_ char *base = kiln_xstrndup(c, rest > c ? (size_t)(rest - c - 1) : 0);
        if (kiln_buildctx_path_match(rest, "") < 0)
                return kiln_err(err, -KILN_EFORMAT, "'%s': syntax error in pattern", pattern);
        _cleanup_close_ int dfd = *base ? kiln_fs_open_in_root(rootfd, base, O_RDONLY | O_DIRECTORY, 0)
                                        : fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return kiln_err(err, dfd == -1 ? -errno : dfd, "/%s: %s", base, kiln_strerror(dfd == -1 ? -errno : dfd));
        struct rglob g = { rest, count_comps(rest), base, NULL, err };
        int r = rglob_dir(&g, dfd, "");
        if (r < 0) {
                kiln_strv_free(g.out);
                return r;
        }
        size_t n = kiln_strv_len(g.out);
        *ret_paths = g.out ? g.out : kiln_xcalloc(1, sizeof(char *));
        return (int)n;
}
