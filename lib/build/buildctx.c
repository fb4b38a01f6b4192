/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The build context: lookups, COPY source expansion, walks and content
 * hashes, all with the .dockerignore rules applied and every path kept
 * inside the context.
 *
 * Symlinks are resolved by hand, one component at a time relative to
 * directory fds opened O_NOFOLLOW, so that the policy is ours: an
 * absolute target starts again at the context root (as BuildKit resolves
 * it inside its copy of the context), a relative one climbing above the
 * root is an escape and an error, a symlink the ignore rules exclude is
 * not there. The final open goes through kiln_fs_open_in_root (openat2
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) as a second fence against a
 * tree changed under us.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "kiln/digest.h"
#include "kiln/fs.h"
#include "buildctx-internal.h"
#include "buildctx-ctx.h"

#define MAX_SYMLINKS 40
#define MAX_DEPTH 2048
#define IGNORE_FILE_MAX (16 * 1024 * 1024)

/* ---- opening ---- */

static bool exists(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0;
}

int kiln_dockerignore_find(const char *ctx_dir, const char *dockerfile, char **ret_path)
{
        _cleanup_free_ char *cand = NULL;
        if (!dockerfile)
                cand = kiln_xasprintf("%s/Dockerfile.dockerignore", ctx_dir);
        else if (strcmp(dockerfile, "-") != 0)
                cand = kiln_xasprintf("%s.dockerignore", dockerfile);
        if (cand && exists(cand)) {
                *ret_path = TAKE_PTR(cand);
                return 0;
        }
        static const char *const names[] = { ".dockerignore", ".containerignore" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(names); i++) {
                free(cand);
                cand = kiln_xasprintf("%s/%s", ctx_dir, names[i]);
                if (exists(cand)) {
                        *ret_path = TAKE_PTR(cand);
                        return 0;
                }
                if (errno != ENOENT && errno != ENOTDIR)
                        return -errno;
        }
        *ret_path = NULL;
        return 0;
}

int buildctx_load_ignore(struct kiln_buildctx *ctx, int dirfd, const char *path,
                         struct kiln_error *err)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = kiln_fs_read_file(dirfd, path, IGNORE_FILE_MAX, &data, &len);
        if (r < 0)
                return kiln_err(err, r, "build context: read '%s': %s", path, kiln_strerror(r));
        r = kiln_dockerignore_parse(data, len, &ctx->ig, err);
        if (r < 0)
                return kiln_err_prefix(err, r, "build context: %s: ", path);
        return 0;
}

int kiln_buildctx_open_dir(const char *dir, const char *dockerfile, struct kiln_buildctx **ret,
                           struct kiln_error *err)
{
        _cleanup_(kiln_buildctx_freep) struct kiln_buildctx *ctx = kiln_xcalloc(1, sizeof(*ctx));
        ctx->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ctx->dirfd < 0)
                return kiln_err(err, -errno, "build context '%s': %s", dir, kiln_strerror(errno));
        ctx->path = kiln_xstrdup(dir);
        _cleanup_free_ char *ign = NULL;
        int r = kiln_dockerignore_find(dir, dockerfile, &ign);
        if (r < 0)
                return kiln_err(err, r, "build context '%s': %s", dir, kiln_strerror(r));
        if (ign) {
                r = buildctx_load_ignore(ctx, AT_FDCWD, ign, err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(ctx);
        return 0;
}

void kiln_buildctx_free(struct kiln_buildctx *ctx)
{
        if (!ctx)
                return;
        if (ctx->dirfd >= 0)
                close(ctx->dirfd);
        if (ctx->owned && ctx->path)
                (void)kiln_fs_rm_rf_at(AT_FDCWD, ctx->path);
        kiln_dockerignore_free(ctx->ig);
        if (ctx->sums_dirty && ctx->sums_path && json_object_size(ctx->sums) < 500000) {
                _cleanup_free_ char *tmp = kiln_xasprintf("%s.%d.tmp", ctx->sums_path, (int)getpid());
                if (json_dump_file(ctx->sums, tmp, JSON_COMPACT) == 0 && rename(tmp, ctx->sums_path) < 0)
                        unlink(tmp);
        }
        json_decref(ctx->sums);
        free(ctx->sums_path);
        free(ctx->path);
        free(ctx);
}

void kiln_buildctx_set_checksum_cache(struct kiln_buildctx *ctx, const char *path)
{
        if (ctx->owned || !path)
                return; /* a tar context's files are new every time */
        free(ctx->sums_path);
        ctx->sums_path = kiln_xstrdup(path);
        json_decref(ctx->sums);
        ctx->sums = json_load_file(path, 0, NULL);
        if (!json_is_object(ctx->sums)) {
                json_decref(ctx->sums);
                ctx->sums = json_object();
        }
}

int kiln_buildctx_dirfd(const struct kiln_buildctx *ctx)
{
        return ctx->dirfd;
}

const char *kiln_buildctx_path(const struct kiln_buildctx *ctx)
{
        return ctx->path;
}

const struct kiln_dockerignore *kiln_buildctx_ignore(const struct kiln_buildctx *ctx)
{
        return ctx->ig;
}

/* ---- exclusion ---- */

enum kiln_buildctx_state kiln_buildctx_is_excluded(const struct kiln_buildctx *ctx,
                                                   const char *relpath, bool is_dir)
{
        if (!ctx->ig)
                return KILN_BUILDCTX_INCLUDED;
        _cleanup_free_ char *c = kiln_buildctx_clean(relpath);
        char *f = c;
        while (f[0] == '/')
                f++;
        if (!f[0] || !strcmp(f, "."))
                return KILN_BUILDCTX_INCLUDED;
        /* an ancestor excluded and not walked hides everything below it */
        for (char *s = strchr(f, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                bool hidden = kiln_dockerignore_matches(ctx->ig, f) &&
                              !kiln_dockerignore_walk_excluded_dir(ctx->ig, f);
                *s = '/';
                if (hidden)
                        return KILN_BUILDCTX_EXCLUDED;
        }
        if (!kiln_dockerignore_matches(ctx->ig, f))
                return KILN_BUILDCTX_INCLUDED;
        return is_dir && kiln_dockerignore_walk_excluded_dir(ctx->ig, f)
                       ? KILN_BUILDCTX_EXCLUDED_WALKED
                       : KILN_BUILDCTX_EXCLUDED;
}

/* ---- resolving ---- */

/*
 * Clean a source path lexically: a leading "/" is the context root, ".."
 * may not climb above it. *ret is "." for the root.
 */
static int src_clean(const char *in, char **ret, struct kiln_error *err)
{
        size_t n = strlen(in);
        if (n > 4096 * 4)
                return kiln_err(err, -ENAMETOOLONG, "'%.64s...': path too long", in);
        char *out = kiln_xmalloc(n + 2);
        size_t w = 0;
        const char *p = in;
        while (*p) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *e = strchr(p, '/');
                size_t k = e ? (size_t)(e - p) : strlen(p);
                if (k == 1 && p[0] == '.') {
                        /* nothing */
                } else if (k == 2 && p[0] == '.' && p[1] == '.') {
                        if (w == 0) {
                                free(out);
                                return kiln_err(err, -KILN_EUNSAFE,
                                                "'%s': outside the build context", in);
                        }
                        while (w > 0 && out[w - 1] != '/')
                                w--;
                        if (w > 0)
                                w--;
                } else {
                        if (w)
                                out[w++] = '/';
                        memcpy(out + w, p, k);
                        w += k;
                }
                p += k;
        }
        if (w == 0)
                out[w++] = '.';
        out[w] = 0;
        *ret = out;
        return 0;
}

/* Next path component of *rest (skipping "" and "."), NUL-terminated in
 * place; NULL at the end. */
static char *next_comp(char **rest)
{
        char *p = *rest;
        for (;;) {
                while (*p == '/')
                        p++;
                if (!*p) {
                        *rest = p;
                        return NULL;
                }
                char *e = strchr(p, '/');
                if (e)
                        *e = 0;
                char *c = p;
                p = e ? e + 1 : p + strlen(p);
                if (strcmp(c, ".") != 0) {
                        *rest = p;
                        return c;
                }
        }
}

/* Does rest still hold a component other than "."? */
static bool more_comps(const char *rest)
{
        for (const char *p = rest; *p;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        return false;
                const char *e = strchr(p, '/');
                size_t k = e ? (size_t)(e - p) : strlen(p);
                if (!(k == 1 && p[0] == '.'))
                        return true;
                p += k;
        }
        return false;
}

struct rstack {
        char **names;
        int *fds;
        size_t n;
};

static void rstack_pop(struct rstack *s)
{
        s->n--;
        free(s->names[s->n]);
        if (s->fds[s->n] >= 0)
                close(s->fds[s->n]);
}

static void rstack_clear(struct rstack *s)
{
        while (s->n > 0)
                rstack_pop(s);
}

static char *rstack_path(const struct rstack *s, const char *last)
{
        struct kiln_buf b = KILN_BUF_INIT;
        for (size_t i = 0; i < s->n; i++) {
                if (i)
                        kiln_buf_puts(&b, "/");
                kiln_buf_puts(&b, s->names[i]);
        }
        if (last) {
                if (b.len)
                        kiln_buf_puts(&b, "/");
                kiln_buf_puts(&b, last);
        }
        if (!b.len)
                kiln_buf_puts(&b, ".");
        return kiln_buf_steal(&b);
}

int buildctx_resolve(const struct kiln_buildctx *ctx, const char *relpath, unsigned flags,
                     int *ret_fd, char **ret_canonical, struct stat *ret_st,
                     struct kiln_error *err)
{
        _cleanup_free_ char *clean = NULL;
        int r = src_clean(relpath, &clean, err);
        if (r < 0)
                return r;
        struct rstack st = { kiln_xcalloc(MAX_DEPTH, sizeof(char *)),
                             kiln_xcalloc(MAX_DEPTH, sizeof(int)), 0 };
        char *buf = kiln_xstrdup(clean);
        char *rest = buf;
        _cleanup_free_ char *via = NULL; /* the last symlink followed */
        unsigned links = 0;
        char *comp;
        r = 0;
        while ((comp = next_comp(&rest))) {
                int curfd = st.n ? st.fds[st.n - 1] : ctx->dirfd;
                if (!strcmp(comp, "..")) {
                        if (st.n == 0) {
                                r = kiln_err(err, -KILN_EUNSAFE,
                                             "'%s': symlink '%s' points outside the build context",
                                             clean, via ? via : "?");
                                goto out;
                        }
                        rstack_pop(&st);
                        continue;
                }
                bool last = !more_comps(rest);
                struct stat s;
                if (fstatat(curfd, comp, &s, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = -errno;
                        if (r == -ENOENT)
                                r = kiln_err(err, r, "'%s': not found in the build context", clean);
                        else
                                r = kiln_err(err, r, "'%s': %s", clean, kiln_strerror(r));
                        goto out;
                }
                if (S_ISLNK(s.st_mode) && (!last || !(flags & KILN_BUILDCTX_NOFOLLOW))) {
                        if (++links > MAX_SYMLINKS) {
                                r = kiln_err(err, -ELOOP, "'%s': too many levels of symlinks",
                                             clean);
                                goto out;
                        }
                        free(via);
                        via = rstack_path(&st, comp);
                        if (kiln_buildctx_is_excluded(ctx, via, false) != KILN_BUILDCTX_INCLUDED) {
                                r = kiln_err(err, -ENOENT,
                                             "'%s': not found in the build context "
                                             "(symlink '%s' is excluded by .dockerignore)",
                                             clean, via);
                                goto out;
                        }
                        char target[4096];
                        ssize_t n = readlinkat(curfd, comp, target, sizeof(target) - 1);
                        if (n < 0) {
                                r = kiln_err(err, -errno, "'%s': readlink: %s", clean,
                                             kiln_strerror(errno));
                                goto out;
                        }
                        target[n] = 0;
                        if (target[0] == '/')
                                rstack_clear(&st);
                        char *nb = kiln_xasprintf("%s/%s", target, rest);
                        free(buf);
                        buf = rest = nb;
                        continue;
                }
                if (st.n >= MAX_DEPTH) {
                        r = kiln_err(err, -ENAMETOOLONG, "'%s': too deep", clean);
                        goto out;
                }
                int fd = -1;
                if (!last) {
                        if (!S_ISDIR(s.st_mode)) {
                                r = kiln_err(err, -ENOTDIR, "'%s': not a directory: '%s'", clean,
                                             comp);
                                goto out;
                        }
                        fd = openat(curfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0) {
                                r = kiln_err(err, -errno, "'%s': %s", clean, kiln_strerror(errno));
                                goto out;
                        }
                }
                st.names[st.n] = kiln_xstrdup(comp);
                st.fds[st.n++] = fd;
        }
        {
                _cleanup_free_ char *canon = rstack_path(&st, NULL);
                int fd = kiln_fs_open_in_root(ctx->dirfd, strcmp(canon, ".") ? canon : "",
                                              O_PATH | O_NOFOLLOW, 0);
                if (fd < 0) {
                        r = kiln_err(err, fd, "'%s': %s", clean, kiln_strerror(fd));
                        goto out;
                }
                struct stat s;
                if (fstatat(fd, "", &s, AT_EMPTY_PATH) < 0) {
                        r = kiln_err(err, -errno, "'%s': %s", clean, kiln_strerror(errno));
                        close(fd);
                        goto out;
                }
                if (kiln_buildctx_is_excluded(ctx, canon, S_ISDIR(s.st_mode)) ==
                    KILN_BUILDCTX_EXCLUDED) {
                        close(fd);
                        r = kiln_err(err, -ENOENT,
                                     "'%s': not found in the build context (excluded by .dockerignore)",
                                     clean);
                        goto out;
                }
                if (ret_st)
                        *ret_st = s;
                if (ret_canonical)
                        *ret_canonical = TAKE_PTR(canon);
                if (ret_fd)
                        *ret_fd = fd;
                else
                        close(fd);
        }
out:
        rstack_clear(&st);
        free(st.names);
        free(st.fds);
        free(buf);
        return r;
}

int kiln_buildctx_resolve(const struct kiln_buildctx *ctx, const char *relpath, unsigned flags,
                          int *ret_fd, char **ret_canonical, struct kiln_error *err)
{
        return buildctx_resolve(ctx, relpath, flags, ret_fd, ret_canonical, NULL, err);
}

/* ---- walking ---- */

struct frame {
        char *relpath;
        int parent_fd;
        char *name;
        struct stat st;
        bool reported;
};

struct walker {
        const struct kiln_buildctx *ctx;
        kiln_buildctx_walk_fn fn;
        void *userdata;
        struct frame *pending; /* excluded directories walked, not yet reported */
        size_t npending;
        unsigned depth;
        struct kiln_error *err;
};

static char *join(const char *a, const char *b)
{
        if (!strcmp(a, "."))
                return kiln_xstrdup(b);
        return kiln_xasprintf("%s/%s", a, b);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a directory, sorted byte-wise. */
static int list_dir(int dfd, char ***ret, size_t *ret_n)
{
        int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return r;
        }
        char **v = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        errno = 0;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (n + 1 >= cap) {
                        cap = cap ? cap * 2 : 32;
                        v = kiln_xrealloc(v, cap * sizeof(*v));
                }
                v[n++] = kiln_xstrdup(de->d_name);
        }
        closedir(d);
        if (n)
                qsort(v, n, sizeof(*v), cmp_str);
        else
                v = kiln_xcalloc(1, sizeof(*v));
        v[n] = NULL;
        *ret = v;
        *ret_n = n;
        return 0;
}

/* Report the pending excluded directories that now hold a kept entry. */
static int flush_pending(struct walker *w)
{
        for (size_t i = 0; i < w->npending; i++) {
                struct frame *f = &w->pending[i];
                if (f->reported)
                        continue;
                f->reported = true;
                int r = w->fn(w->userdata, f->relpath, f->parent_fd, f->name, &f->st);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int walk_dir(struct walker *w, int dfd, const char *ctxpath, const char *relpath)
{
        if (++w->depth > MAX_DEPTH) {
                w->depth--;
                return kiln_err(w->err, -ENAMETOOLONG, "'%s': too deep", relpath);
        }
        char **names = NULL;
        size_t n = 0;
        int r = list_dir(dfd, &names, &n);
        if (r < 0) {
                w->depth--;
                return kiln_err(w->err, r, "'%s': %s", relpath, kiln_strerror(r));
        }
        for (size_t i = 0; i < n && r == 0; i++) {
                struct stat st;
                if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue; /* gone meanwhile */
                        r = kiln_err(w->err, -errno, "'%s/%s': %s", relpath, names[i],
                                     kiln_strerror(errno));
                        break;
                }
                _cleanup_free_ char *cpath = join(ctxpath, names[i]);
                _cleanup_free_ char *rpath = join(relpath, names[i]);
                bool isdir = S_ISDIR(st.st_mode);
                bool walked = false;
                if (kiln_dockerignore_matches(w->ctx->ig, cpath)) {
                        if (!isdir || !kiln_dockerignore_walk_excluded_dir(w->ctx->ig, cpath))
                                continue;
                        walked = true;
                } else {
                        r = flush_pending(w);
                        if (r != 0)
                                break;
                        r = w->fn(w->userdata, rpath, dfd, names[i], &st);
                        if (r != 0)
                                break;
                }
                if (!isdir)
                        continue;
                int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0) {
                        r = kiln_err(w->err, -errno, "'%s': %s", rpath, kiln_strerror(errno));
                        break;
                }
                if (walked) {
                        w->pending = kiln_xrealloc(w->pending,
                                                   (w->npending + 1) * sizeof(*w->pending));
                        w->pending[w->npending++] = (struct frame){
                                rpath, dfd, names[i], st, false,
                        };
                }
                r = walk_dir(w, sub, cpath, rpath);
                if (walked)
                        w->npending--;
                close(sub);
        }
        kiln_strv_free(names);
        w->depth--;
        return r;
}

/* Walk a resolved source; fn may return > 0 to stop early (returned). */
static int walk_source(const struct kiln_buildctx *ctx, const char *relpath, unsigned flags,
                       kiln_buildctx_walk_fn fn, void *userdata, struct kiln_error *err)
{
        _cleanup_free_ char *clean = NULL, *canon = NULL;
        int r = src_clean(relpath, &clean, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = -1;
        struct stat st;
        r = buildctx_resolve(ctx, clean, flags, &fd, &canon, &st, err);
        if (r < 0)
                return r;
        /* the entry itself, as its parent directory and name */
        _cleanup_close_ int pfd = -1;
        const char *name = ".";
        if (strcmp(canon, ".") != 0) {
                pfd = kiln_fs_open_parent_in_root(ctx->dirfd, canon, false, &name);
                if (pfd < 0)
                        return kiln_err(err, pfd, "'%s': %s", clean, kiln_strerror(pfd));
        }
        int parent = pfd >= 0 ? pfd : ctx->dirfd;
        struct walker w = { ctx, fn, userdata, NULL, 0, 0, err };
        bool walked = kiln_buildctx_is_excluded(ctx, canon, S_ISDIR(st.st_mode)) ==
                      KILN_BUILDCTX_EXCLUDED_WALKED;
        if (walked) {
                w.pending = kiln_xmalloc(sizeof(*w.pending));
                w.pending[w.npending++] = (struct frame){ clean, parent, (char *)name, st, false };
        } else {
                r = fn(userdata, clean, parent, name, &st);
                if (r != 0)
                        return r;
        }
        if (S_ISDIR(st.st_mode)) {
                _cleanup_close_ int dfd = openat(parent, name,
                                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (dfd < 0)
                        r = kiln_err(err, -errno, "'%s': %s", clean, kiln_strerror(errno));
                else
                        r = walk_dir(&w, dfd, canon, clean);
        }
        free(w.pending);
        return r;
}

int kiln_buildctx_walk(const struct kiln_buildctx *ctx, const char *relpath, unsigned flags,
                       kiln_buildctx_walk_fn fn, void *userdata, struct kiln_error *err)
{
        int r = walk_source(ctx, relpath, flags, fn, userdata, err);
        return r > 0 ? 0 : r;
}

/* ---- COPY source expansion ---- */

static int stop_at_first(void *ud, const char *relpath, int parent_fd, const char *name,
                         const struct stat *st)
{
        return 1;
}

/* Does the (excluded, walked) directory hold anything the rules keep? */
static bool has_kept_entry(const struct kiln_buildctx *ctx, const char *ctxpath)
{
        struct kiln_error e = { 0 };
        return walk_source(ctx, ctxpath, KILN_BUILDCTX_NOFOLLOW, stop_at_first, NULL, &e) > 0;
}

static size_t count_comps(const char *p)
{
        size_t n = 1;
        for (; *p; p++)
                n += *p == '/';
        return n;
}

struct globber {
        const struct kiln_buildctx *ctx;
        const char *pat;   /* the part with wildcards, matched against rel */
        size_t pat_comps;
        const char *base;  /* as written, "." for the root */
        char **out;
        struct kiln_error *err;
};

static int glob_dir(struct globber *g, int dfd, const char *ctxpath, const char *rel,
                    unsigned depth)
{
        if (depth > MAX_DEPTH)
                return kiln_err(g->err, -ENAMETOOLONG, "'%s': too deep", ctxpath);
        char **names = NULL;
        size_t n = 0;
        int r = list_dir(dfd, &names, &n);
        if (r < 0)
                return kiln_err(g->err, r, "'%s': %s", ctxpath, kiln_strerror(r));
        for (size_t i = 0; i < n && r == 0; i++) {
                struct stat st;
                if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                _cleanup_free_ char *cpath = join(ctxpath, names[i]);
                _cleanup_free_ char *rpath = rel[0] ? kiln_xasprintf("%s/%s", rel, names[i])
                                                    : kiln_xstrdup(names[i]);
                bool isdir = S_ISDIR(st.st_mode);
                if (kiln_dockerignore_matches(g->ctx->ig, cpath)) {
                        /* an excluded directory is there only as the parent
                         * of something an exception brings back */
                        if (!isdir || !kiln_dockerignore_walk_excluded_dir(g->ctx->ig, cpath) ||
                            !has_kept_entry(g->ctx, cpath))
                                continue;
                }
                int m = go_path_match(g->pat, strlen(g->pat), rpath, strlen(rpath));
                if (m < 0) {
                        r = kiln_err(g->err, m, "'%s': syntax error in pattern", g->pat);
                        break;
                }
                if (m) {
                        kiln_strv_push_take(&g->out, join(g->base, rpath));
                        continue; /* a matched directory stands for its subtree */
                }
                /* '*' never crosses a '/': deeper paths cannot match */
                if (!isdir || count_comps(rpath) >= g->pat_comps)
                        continue;
                int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0)
                        continue;
                r = glob_dir(g, sub, cpath, rpath, depth + 1);
                close(sub);
        }
        kiln_strv_free(names);
        return r;
}

int kiln_buildctx_glob(const struct kiln_buildctx *ctx, const char *pattern, unsigned flags,
                       char ***ret_paths, struct kiln_error *err)
{
        _cleanup_free_ char *clean = NULL;
        int r = src_clean(pattern, &clean, err);
        if (r < 0)
                return kiln_err_prefix(err, r, "copy source: ");
        if (!kiln_buildctx_has_wildcards(clean)) {
                r = buildctx_resolve(ctx, clean, 0, NULL, NULL, NULL, err);
                if (r < 0)
                        return kiln_err_prefix(err, r, "copy source: ");
                char **v = NULL;
                kiln_strv_push(&v, clean);
                *ret_paths = v;
                return 1;
        }
        /* split: the leading components without wildcards name a directory */
        size_t k = 0;
        const char *p = clean;
        for (const char *s = clean;; s++) {
                if (*s == '/' || !*s) {
                        _cleanup_free_ char *comp = kiln_xstrndup(p, (size_t)(s - p));
                        if (kiln_buildctx_has_wildcards(comp))
                                break;
                        k = (size_t)(s - clean);
                        p = s + 1;
                        if (!*s)
                                break;
                }
        }
        _cleanup_free_ char *base = k ? kiln_xstrndup(clean, k) : kiln_xstrdup(".");
        const char *rest = clean + (k ? k + 1 : 0);
        if (go_path_match(rest, strlen(rest), "", 0) < 0)
                return kiln_err(err, -KILN_EFORMAT, "copy source '%s': syntax error in pattern",
                                pattern);
        _cleanup_free_ char *canon = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        r = buildctx_resolve(ctx, base, 0, &fd, &canon, &st, err);
        if (r < 0)
                return kiln_err_prefix(err, r, "copy source '%s': ", pattern);
        struct globber g = { ctx, rest, count_comps(rest), base, NULL, err };
        if (S_ISDIR(st.st_mode)) {
                _cleanup_close_ int dfd = kiln_fs_open_in_root(
                        ctx->dirfd, strcmp(canon, ".") ? canon : "",
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
                if (dfd < 0)
                        return kiln_err(err, dfd, "copy source '%s': %s", pattern,
                                        kiln_strerror(dfd));
                r = glob_dir(&g, dfd, canon, "", 0);
                if (r < 0) {
                        kiln_strv_free(g.out);
                        return r;
                }
        }
        size_t n = kiln_strv_len(g.out);
        if (n == 0 && (flags & KILN_BUILDCTX_GLOB_NONEMPTY))
                return kiln_err(err, -ENOENT, "copy source '%s': no source files were specified",
                                pattern);
        *ret_paths = g.out ? g.out : kiln_xcalloc(1, sizeof(char *));
        return (int)n;
}

/* ---- hashing ---- */

#define HASH_CHUNK (256 * 1024)

struct hashctx {
        struct kiln_hasher *h;
        char *buf; /* HASH_CHUNK bytes */
        struct kiln_error *err;
        struct kiln_buildctx *ctx; /* its checksum cache (may be unset) */
};

static void h_str(struct kiln_hasher *h, const char *s)
{
        char len[32];
        int n = snprintf(len, sizeof(len), "%zu:", strlen(s));
        kiln_hasher_update(h, len, (size_t)n);
        kiln_hasher_update(h, s, strlen(s));
}

static int hash_entry(void *ud, const char *relpath, int parent_fd, const char *name,
                      const struct stat *st)
{
        struct hashctx *hc = ud;
        char hdr[160];
        char type = S_ISREG(st->st_mode)    ? 'f'
                    : S_ISDIR(st->st_mode)  ? 'd'
                    : S_ISLNK(st->st_mode)  ? 'l'
                    : S_ISCHR(st->st_mode)  ? 'c'
                    : S_ISBLK(st->st_mode)  ? 'b'
                    : S_ISFIFO(st->st_mode) ? 'p'
                                            : 's';
        int64_t size = S_ISREG(st->st_mode) ? (int64_t)st->st_size : 0;
        int n = snprintf(hdr, sizeof(hdr), "E%c %o %u %u %lld ", type,
                         (unsigned)(st->st_mode & 07777), (unsigned)st->st_uid,
                         (unsigned)st->st_gid, (long long)size);
        kiln_hasher_update(hc->h, hdr, (size_t)n);
        h_str(hc->h, relpath);
        if (S_ISLNK(st->st_mode)) {
                char target[4096];
                ssize_t k = readlinkat(parent_fd, name, target, sizeof(target) - 1);
                if (k < 0)
                        return kiln_err(hc->err, -errno, "hash '%s': readlink: %s", relpath,
                                        kiln_strerror(errno));
                target[k] = 0;
                h_str(hc->h, target);
        } else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
                n = snprintf(hdr, sizeof(hdr), "%u:%u", major(st->st_rdev), minor(st->st_rdev));
                kiln_hasher_update(hc->h, hdr, (size_t)n);
        } else if (S_ISREG(st->st_mode)) {
                /* the content's own digest: remembered by dev:ino while size,
                 * mtime and ctime stay the same (any write changes ctime) */
                char key[64], stamp[128];
                snprintf(key, sizeof(key), "%llu:%llu", (unsigned long long)st->st_dev,
                         (unsigned long long)st->st_ino);
                snprintf(stamp, sizeof(stamp), "%lld %lld.%09ld %lld.%09ld ", (long long)size,
                         (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
                         st->st_ctim.tv_nsec);
                const char *cached = hc->ctx && hc->ctx->sums
                                             ? json_string_value(json_object_get(hc->ctx->sums, key))
                                             : NULL;
                if (cached && kiln_startswith(cached, stamp)) {
                        h_str(hc->h, cached + strlen(stamp));
                } else {
                        _cleanup_close_ int fd = openat(parent_fd, name,
                                                        O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
                        if (fd < 0)
                                return kiln_err(hc->err, -errno, "hash '%s': %s", relpath,
                                                kiln_strerror(errno));
                        _cleanup_(kiln_hasher_freep) struct kiln_hasher *fh = kiln_hasher_new(KILN_DIGEST_SHA256);
                        int64_t left = size;
                        while (left > 0) {
                                ssize_t k = kiln_fs_read_full(fd, hc->buf,
                                                              (size_t)KILN_MIN(left, (int64_t)HASH_CHUNK));
                                if (k < 0)
                                        return kiln_err(hc->err, (int)k, "hash '%s': read: %s", relpath,
                                                        kiln_strerror((int)k));
                                if (k == 0)
                                        return kiln_err(hc->err, -EIO,
                                                        "hash '%s': file changed while read", relpath);
                                kiln_hasher_update(fh, hc->buf, (size_t)k);
                                left -= k;
                        }
                        struct kiln_digest fd_digest;
                        kiln_hasher_final(fh, &fd_digest);
                        h_str(hc->h, fd_digest.str);
                        if (hc->ctx && hc->ctx->sums) {
                                json_object_set_new(hc->ctx->sums, key,
                                                    json_sprintf("%s%s", stamp, fd_digest.str));
                                hc->ctx->sums_dirty = true;
                        }
                }
        }
        kiln_hasher_update(hc->h, "\n", 1);
        return 0;
}

/* kiln_buildctx_hash_filtered: entries the caller's skip function drops
 * (a dropped directory with everything under it) are not hashed */
struct hfilter {
        struct hashctx *hc;
        const char *top; /* the source as walked (cleaned) */
        size_t index;
        kiln_buildctx_skip_fn skip;
        void *ud;
        char *pruned; /* the relpath of the last dropped directory */
};

static int hash_entry_filtered(void *ud, const char *relpath, int parent_fd, const char *name,
                               const struct stat *st)
{
        struct hfilter *f = ud;
        size_t tl = strlen(f->top);
        const char *rel = NULL;
        if (!strcmp(f->top, "."))
                rel = strcmp(relpath, ".") ? relpath : NULL;
        else if (!strncmp(relpath, f->top, tl) && relpath[tl] == '/')
                rel = relpath + tl + 1;
        if (rel) {
                size_t pl = f->pruned ? strlen(f->pruned) : 0;
                if (f->pruned && !strncmp(relpath, f->pruned, pl) && relpath[pl] == '/')
                        return 0;
                if (f->skip(f->ud, f->index, rel, S_ISDIR(st->st_mode))) {
                        if (S_ISDIR(st->st_mode)) {
                                free(f->pruned);
                                f->pruned = kiln_xstrdup(relpath);
                        }
                        return 0;
                }
        }
        return hash_entry(f->hc, relpath, parent_fd, name, st);
}

int kiln_buildctx_hash(const struct kiln_buildctx *ctx, char *const *paths,
                       char out[KILN_BUILDCTX_HASH_MAX], struct kiln_error *err)
{
        return kiln_buildctx_hash_filtered(ctx, paths, NULL, NULL, out, err);
}

int kiln_buildctx_hash_filtered(const struct kiln_buildctx *ctx, char *const *paths,
                                kiln_buildctx_skip_fn skip, void *ud,
                                char out[KILN_BUILDCTX_HASH_MAX], struct kiln_error *err)
{
        _cleanup_(kiln_hasher_freep) struct kiln_hasher *h = kiln_hasher_new(KILN_DIGEST_SHA256);
        _cleanup_free_ char *buf = kiln_xmalloc(HASH_CHUNK);
        /* the checksum cache is a cache: logically the context is unchanged */
        struct hashctx hc = { h, buf, err, (struct kiln_buildctx *)ctx };
        kiln_hasher_update(h, "kiln-buildctx-hash-v2\n", 22);
        for (size_t i = 0; paths && paths[i]; i++) {
                kiln_hasher_update(h, "S", 1);
                h_str(h, paths[i]);
                int r;
                if (skip) {
                        _cleanup_free_ char *top = NULL;
                        r = src_clean(paths[i], &top, err);
                        if (r < 0)
                                return r;
                        struct hfilter f = { &hc, top, i, skip, ud, NULL };
                        r = walk_source(ctx, paths[i], 0, hash_entry_filtered, &f, err);
                        free(f.pruned);
                } else {
                        r = walk_source(ctx, paths[i], 0, hash_entry, &hc, err);
                }
                if (r < 0)
                        return r;
        }
        struct kiln_digest d;
        kiln_hasher_final(h, &d);
        snprintf(out, KILN_BUILDCTX_HASH_MAX, "%s", d.str);
        return 0;
}
