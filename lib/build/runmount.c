/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUN --mount (BuildKit's semantics): type=cache (a persistent directory in
 * ROOT/build-cache-mounts, flock for sharing=locked/private), type=secret
 * (a file on a private tmpfs, bind-mounted read-only), type=bind (a copy of
 * a context path, or a read-only bind of a stage/image path; rw binds get a
 * throwaway copy) and type=tmpfs. None of them ends up in the layer: the
 * mount points this code makes in the rootfs are removed from the step's
 * upper dir after the RUN. See docs/internals/build.md ("RUN --mount").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <ctype.h>
#include <dirent.h>
#include "kiln/buildctx.h"
#include "kiln/container.h"
#include "kiln/digest.h"
#include "kiln/fs.h"
#include "runmount.h"

#define SECRET_MAX (500 * 1024) /* BuildKit's limit for one secret */

/* a path in the rootfs this code touched for a mount point */
struct mpath {
        char *rel;      /* relative to the rootfs root */
        bool created;   /* made here (else: an existing ancestor) */
        bool file;      /* a file mount point */
        mode_t mode;    /* existing ancestor: its stat */
        uid_t uid;
        gid_t gid;
};

struct kiln_runmounts {
        struct kiln_mount_req *reqs;
        size_t n;
        struct mpath *paths;
        size_t n_paths;
        int *locks;          /* cache lock fds */
        size_t n_locks;
        char **views;        /* from= roots to unmount */
        bool *views_mounted;
        size_t n_views;
        char **tmps;         /* temporary dirs to remove */
        size_t n_tmps;
        char *secret_dir;    /* the private tmpfs (mounted) */
        const struct kiln_runmount_env *env;
        unsigned seq;
};

static char *target_abs(const struct kiln_runmount_env *env, const char *t)
{
        if (t[0] == '/')
                return kiln_buildctx_clean_abs(t);
        _cleanup_free_ char *j = kiln_xasprintf("%s/%s", env->workdir && *env->workdir ? env->workdir : "/", t);
        return kiln_buildctx_clean_abs(j);
}

static char *new_tmp(struct kiln_runmounts *m, const char *what)
{
        char *d = kiln_xasprintf("%s/mnt-%u-%s", m->env->tmp, m->seq++, what);
        if (mkdir(d, 0700) < 0) {
                free(d);
                return NULL;
        }
        m->tmps = kiln_xrealloc(m->tmps, (m->n_tmps + 1) * sizeof(*m->tmps));
        m->tmps[m->n_tmps++] = d;
        return d;
}

static void add_req(struct kiln_runmounts *m, const char *type, char *source, char *dest, bool ro, const char *opt)
{
        m->reqs = kiln_xrealloc(m->reqs, (m->n + 1) * sizeof(*m->reqs));
        struct kiln_mount_req *r = &m->reqs[m->n++];
        *r = (struct kiln_mount_req){ .type = kiln_xstrdup(type), .source = source, .destination = dest, .readonly = ro };
        if (opt) {
                r->options = NULL;
                kiln_strv_push(&r->options, opt);
        }
}

static void add_path(struct kiln_runmounts *m, const char *rel, bool created, bool file, const struct stat *sb)
{
        m->paths = kiln_xrealloc(m->paths, (m->n_paths + 1) * sizeof(*m->paths));
        m->paths[m->n_paths++] = (struct mpath){
                .rel = kiln_xstrdup(rel),
                .created = created,
                .file = file,
                .mode = sb ? sb->st_mode : 0,
                .uid = sb ? sb->st_uid : 0,
                .gid = sb ? sb->st_gid : 0,
        };
}

/*
 * Make the mount point dest (absolute, clean) in rootfs, recording which
 * components existed (with their stat) and which were made here. A symlink
 * on the way is left to the runtime (which resolves it in the root); what
 * lies behind it is not tracked.
 */
static int make_mount_point(struct kiln_runmounts *m, int rootfd, const char *dest, bool file, struct kiln_error *err)
{
        if (!strcmp(dest, "/"))
                return kiln_err(err, -EINVAL, "mount target \"/\" is not allowed");
        _cleanup_free_ char *rel = kiln_xstrdup(dest + 1);
        bool creating = false;
        for (char *p = rel;; p++) {
                bool last = !*p;
                if (*p != '/' && !last)
                        continue;
                char save = *p;
                *p = 0;
                struct stat sb;
                if (!creating && fstatat(rootfd, rel, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
                        if (S_ISLNK(sb.st_mode)) {
                                *p = save;
                                break; /* the runtime resolves it; nothing tracked below */
                        }
                        add_path(m, rel, false, false, &sb);
                } else {
                        creating = true;
                        int r;
                        if (last && file) {
                                const char *base;
                                _cleanup_close_ int pfd = kiln_fs_open_parent_in_root(rootfd, rel, true, &base);
                                if (pfd < 0)
                                        r = pfd;
                                else {
                                        int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
                                        r = fd < 0 ? -errno : 0;
                                        if (fd >= 0)
                                                close(fd);
                                }
                        } else {
                                _cleanup_free_ char *px = kiln_xasprintf("%s/x", rel);
                                const char *base;
                                int pfd = kiln_fs_open_parent_in_root(rootfd, px, true, &base);
                                r = pfd < 0 ? pfd : 0;
                                if (pfd >= 0)
                                        close(pfd);
                        }
                        if (r < 0)
                                return kiln_err(err, r, "mount point %s: %s", dest, kiln_strerror(r));
                        add_path(m, rel, true, last && file, NULL);
                }
                *p = save;
                if (last)
                        break;
        }
        return 0;
}

/* ---- the --mount fields ---- */

struct mspec {
        char *type, *target, *source, *from, *id, *sharing, *mode, *uid, *gid, *size, *required;
        bool ro, rw;
};

static void mspec_clear(struct mspec *s)
{
        free(s->type);
        free(s->target);
        free(s->source);
        free(s->from);
        free(s->id);
        free(s->sharing);
        free(s->mode);
        free(s->uid);
        free(s->gid);
        free(s->size);
        free(s->required);
}

static int parse_bool(const char *v, bool *ret)
{
        if (!v || !strcasecmp(v, "true") || !strcmp(v, "1")) {
                *ret = true;
                return 0;
        }
        if (!strcasecmp(v, "false") || !strcmp(v, "0")) {
                *ret = false;
                return 0;
        }
        return -EINVAL;
}

static int parse_fields(const char *value, char escape, struct mspec *s, struct kiln_error *err)
{
        _cleanup_strv_free_ char **f = NULL;
        int r = kiln_df_mount_fields(value, escape, NULL, NULL, &f, err);
        if (r < 0)
                return r;
        for (size_t k = 0; f[k]; k++) {
                char *eq = strchr(f[k], '=');
                _cleanup_free_ char *key = eq ? kiln_xstrndup(f[k], (size_t)(eq - f[k])) : kiln_xstrdup(f[k]);
                for (char *c = key; *c; c++)
                        *c = (char)tolower((unsigned char)*c);
                const char *v = eq ? eq + 1 : NULL;
                char **slot = NULL;
                if (!strcmp(key, "type"))
                        slot = &s->type;
                else if (!strcmp(key, "target") || !strcmp(key, "dst") || !strcmp(key, "destination"))
                        slot = &s->target;
                else if (!strcmp(key, "source") || !strcmp(key, "src"))
                        slot = &s->source;
                else if (!strcmp(key, "from"))
                        slot = &s->from;
                else if (!strcmp(key, "id"))
                        slot = &s->id;
                else if (!strcmp(key, "sharing"))
                        slot = &s->sharing;
                else if (!strcmp(key, "mode"))
                        slot = &s->mode;
                else if (!strcmp(key, "uid"))
                        slot = &s->uid;
                else if (!strcmp(key, "gid"))
                        slot = &s->gid;
                else if (!strcmp(key, "size"))
                        slot = &s->size;
                else if (!strcmp(key, "required"))
                        slot = &s->required;
                else if (!strcmp(key, "ro") || !strcmp(key, "readonly") || !strcmp(key, "rw") ||
                         !strcmp(key, "readwrite")) {
                        bool b;
                        if (parse_bool(v, &b) < 0)
                                return kiln_err(err, -EINVAL, "invalid value for %s: %s", key, v);
                        if (!strcmp(key, "ro") || !strcmp(key, "readonly"))
                                s->ro = b, s->rw = !b;
                        else
                                s->rw = b, s->ro = !b;
                        continue;
                } else if (!strcmp(key, "env") || !strcmp(key, "bind-propagation") || !strcmp(key, "bind-nonrecursive")) {
                        return kiln_err(err, -KILN_EUNSUPPORTED, "RUN --mount option %s is not supported yet", key);
                } else {
                        return kiln_err(err, -EINVAL, "unexpected key '%s' in '%s'", key, f[k]);
                }
                if (!v)
                        return kiln_err(err, -EINVAL, "invalid field '%s' must be a key=value pair", f[k]);
                free(*slot);
                *slot = kiln_xstrdup(v);
        }
        if (!s->type)
                s->type = kiln_xstrdup("bind");
        return 0;
}

static int parse_num(const char *what, const char *v, int base, unsigned long max, unsigned long *ret,
                     struct kiln_error *err)
{
        char *end;
        errno = 0;
        unsigned long n = strtoul(v, &end, base);
        if (!*v || *end || errno || n > max)
                return kiln_err(err, -EINVAL, "invalid %s: %s", what, v);
        *ret = n;
        return 0;
}

/* mode (octal), uid, gid with defaults */
static int owner_mode(const struct mspec *s, mode_t dmode, mode_t *mode, uid_t *uid, gid_t *gid, struct kiln_error *err)
{
        unsigned long n;
        *mode = dmode;
        *uid = 0;
        *gid = 0;
        if (s->mode) {
                if (parse_num("mode", s->mode, 8, 07777, &n, err) < 0)
                        return -EINVAL;
                *mode = (mode_t)n;
        }
        if (s->uid) {
                if (parse_num("uid", s->uid, 10, UINT32_MAX - 1, &n, err) < 0)
                        return -EINVAL;
                *uid = (uid_t)n;
        }
        if (s->gid) {
                if (parse_num("gid", s->gid, 10, UINT32_MAX - 1, &n, err) < 0)
                        return -EINVAL;
                *gid = (gid_t)n;
        }
        return 0;
}

/* ---- type=cache ---- */

static int setup_cache(struct kiln_runmounts *m, const struct mspec *s, const char *dest, struct kiln_error *err)
{
        if (s->from || s->source)
                return kiln_err(err, -KILN_EUNSUPPORTED, "RUN --mount=type=cache with from= or source= is not supported yet");
        const char *sharing = s->sharing ? s->sharing : "shared";
        if (strcmp(sharing, "shared") && strcmp(sharing, "private") && strcmp(sharing, "locked"))
                return kiln_err(err, -EINVAL, "unrecognized sharing mode \"%s\" (expected shared, private or locked)", sharing);
        mode_t mode;
        uid_t uid;
        gid_t gid;
        if (owner_mode(s, 0755, &mode, &uid, &gid, err) < 0)
                return -EINVAL;
        /* the id (default: the target) names the cache; the dir is its hash */
        const char *id = s->id && *s->id ? s->id : dest;
        struct kiln_digest d;
        kiln_digest_buf(KILN_DIGEST_SHA256, id, strlen(id), &d);
        _cleanup_free_ char *top = kiln_xasprintf("%s/build-cache-mounts", m->env->store_root);
        _cleanup_free_ char *dir = kiln_xasprintf("%s/%.32s", top, kiln_digest_hex(&d));
        if ((mkdir(top, 0700) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST))
                return kiln_err(err, -errno, "cache mount %s: %s", dir, strerror(errno));
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return kiln_err(err, -errno, "cache mount %s: %s", dir, strerror(errno));
        kiln_fs_write_replace(dfd, "id", id, strlen(id), 0600); /* for listing and prune */
        int lfd = openat(dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lfd < 0)
                return kiln_err(err, -errno, "cache mount lock: %s", strerror(errno));
        m->locks = kiln_xrealloc(m->locks, (m->n_locks + 1) * sizeof(*m->locks));
        m->locks[m->n_locks++] = lfd;
        _cleanup_free_ char *data = NULL;
        if (!strcmp(sharing, "private")) {
                if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
                        /* in use: this RUN gets a fresh one, not kept */
                        char *t = new_tmp(m, "cache");
                        if (!t)
                                return kiln_err(err, -errno, "cache mount: mkdir: %s", strerror(errno));
                        data = kiln_xasprintf("%s/data", t);
                }
        } else {
                int op = !strcmp(sharing, "locked") ? LOCK_EX : LOCK_SH;
                int r = flock(lfd, op | LOCK_NB);
                if (r < 0 && errno == EWOULDBLOCK) {
                        if (m->env->wait_begin)
                                m->env->wait_begin(m->env->ud);
                        while ((r = flock(lfd, op)) < 0 && errno == EINTR)
                                ;
                        int e = errno;
                        if (m->env->wait_end)
                                m->env->wait_end(m->env->ud);
                        errno = e;
                }
                if (r < 0)
                        return kiln_err(err, -errno, "cache mount lock: %s", strerror(errno));
        }
        if (!data)
                data = kiln_xasprintf("%s/data", dir);
        if (mkdir(data, mode) == 0) {
                if (chmod(data, mode) < 0 || chown(data, uid, gid) < 0)
                        return kiln_err(err, -errno, "cache mount %s: %s", data, strerror(errno));
        } else if (errno != EEXIST) {
                return kiln_err(err, -errno, "cache mount %s: %s", data, strerror(errno));
        }
        add_req(m, "bind", TAKE_PTR(data), kiln_xstrdup(dest), s->ro, NULL);
        return 0;
}

/* ---- type=secret ---- */

/* the --secret value for id: its content */
static int secret_value(const struct kiln_runmount_env *env, const char *id, char **ret, size_t *ret_len,
                        struct kiln_error *err)
{
        *ret = NULL;
        for (size_t k = 0; env->secrets && env->secrets[k]; k++) {
                _cleanup_free_ char *sid = NULL, *src = NULL, *ev = NULL, *type = NULL;
                _cleanup_free_ char *copy = kiln_xstrdup(env->secrets[k]);
                char *save = NULL;
                for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
                        char *eq = strchr(f, '=');
                        if (!eq)
                                continue;
                        *eq++ = 0;
                        if (!strcmp(f, "id"))
                                free(sid), sid = kiln_xstrdup(eq);
                        else if (!strcmp(f, "src") || !strcmp(f, "source"))
                                free(src), src = kiln_xstrdup(eq);
                        else if (!strcmp(f, "env"))
                                free(ev), ev = kiln_xstrdup(eq);
                        else if (!strcmp(f, "type"))
                                free(type), type = kiln_xstrdup(eq);
                }
                if (!sid || strcmp(sid, id))
                        continue;
                if (type && !strcmp(type, "env") && !ev)
                        ev = TAKE_PTR(src);
                if (!src && !ev)
                        ev = kiln_xstrdup(sid);
                if (src) {
                        int r = kiln_fs_read_file(AT_FDCWD, src, SECRET_MAX, ret, ret_len);
                        if (r < 0)
                                return kiln_err(err, r, "secret %s: %s: %s", id, src, kiln_strerror(r));
                        return 0;
                }
                const char *v = getenv(ev);
                if (!v)
                        return 0; /* not set: as if not given */
                *ret = kiln_xstrdup(v);
                *ret_len = strlen(v);
                return 0;
        }
        return 0;
}

static int setup_secret(struct kiln_runmounts *m, const struct mspec *s, const char *dest, struct kiln_error *err)
{
        bool required = false;
        if (s->required && parse_bool(s->required, &required) < 0)
                return kiln_err(err, -EINVAL, "invalid value for required: %s", s->required);
        mode_t mode;
        uid_t uid;
        gid_t gid;
        if (owner_mode(s, 0400, &mode, &uid, &gid, err) < 0)
                return -EINVAL;
        _cleanup_free_ char *id = s->id && *s->id ? kiln_xstrdup(s->id) : NULL;
        if (!id) {
                const char *sl = strrchr(dest, '/');
                id = kiln_xstrdup(sl ? sl + 1 : dest);
        }
        _cleanup_free_ char *val = NULL;
        size_t len = 0;
        int r = secret_value(m->env, id, &val, &len, err);
        if (r < 0)
                return r;
        if (!val) {
                if (required)
                        return kiln_err(err, -KILN_ENOTFOUND, "secret %s: not provided (kiln build --secret id=%s,src=FILE)", id, id);
                return 1; /* skipped, as BuildKit does */
        }
        if (!m->secret_dir) {
                _cleanup_free_ char *d = kiln_xasprintf("%s/mnt-secrets", m->env->tmp);
                if (mkdir(d, 0700) < 0)
                        return kiln_err(err, -errno, "secrets: mkdir: %s", strerror(errno));
                if (mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700,size=16m") < 0) {
                        int e = errno;
                        rmdir(d);
                        return kiln_err(err, -e, "secrets: mount tmpfs: %s", strerror(e));
                }
                m->secret_dir = TAKE_PTR(d);
        }
        _cleanup_free_ char *file = kiln_xasprintf("%s/%u", m->secret_dir, m->seq++);
        _cleanup_close_ int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || kiln_fs_write_all(fd, val, len) < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
                return kiln_err(err, -errno, "secret %s: %s", id, strerror(errno));
        explicit_bzero(val, len);
        add_req(m, "bind", TAKE_PTR(file), kiln_xstrdup(dest), true, NULL);
        return 0;
}

/* ---- type=bind ---- */

static bool ctx_skip(void *ud, const char *rel, bool is_dir)
{
        const char **a = ud;
        struct kiln_buildctx *ctx = (struct kiln_buildctx *)a[0];
        const char *base = a[1];
        _cleanup_free_ char *full = strcmp(base, ".") ? kiln_xasprintf("%s/%s", base, rel) : kiln_xstrdup(rel);
        return kiln_buildctx_is_excluded(ctx, full, is_dir) == KILN_BUILDCTX_EXCLUDED;
}

static int setup_bind(struct kiln_runmounts *m, const struct mspec *s, const char *dest, struct kiln_error *err)
{
        const char *src = s->source && *s->source ? s->source : ".";
        _cleanup_close_ int sfd = -1;
        _cleanup_free_ char *canon = NULL;
        int r;
        if (s->from) {
                char *root = NULL;
                bool mounted = false;
                r = m->env->from_root(m->env->ud, s->from, &root, &mounted, err);
                if (r < 0)
                        return r;
                m->views = kiln_xrealloc(m->views, (m->n_views + 1) * sizeof(*m->views));
                m->views_mounted = kiln_xrealloc(m->views_mounted, (m->n_views + 1) * sizeof(*m->views_mounted));
                m->views[m->n_views] = root;
                m->views_mounted[m->n_views++] = mounted;
                _cleanup_close_ int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (rfd < 0)
                        return kiln_err(err, -errno, "%s: %s", root, strerror(errno));
                const char *p = src;
                while (*p == '/')
                        p++;
                sfd = *p && strcmp(p, ".") ? kiln_fs_open_in_root(rfd, p, O_PATH, 0) : dup(rfd);
                if (sfd < 0)
                        return kiln_err(err, sfd, "bind source %s: not found in %s", src, s->from);
                if (!s->rw) {
                        /* a read-only bind of the resolved path itself */
                        char lnk[64], path[PATH_MAX];
                        snprintf(lnk, sizeof(lnk), "/proc/self/fd/%d", sfd);
                        ssize_t n = readlink(lnk, path, sizeof(path) - 1);
                        if (n < 0)
                                return kiln_err(err, -errno, "bind source %s: %s", src, strerror(errno));
                        path[n] = 0;
                        add_req(m, "bind", kiln_xstrdup(path), kiln_xstrdup(dest), true, NULL);
                        return 0;
                }
        } else {
                r = kiln_buildctx_resolve(m->env->ctx, src, 0, &sfd, &canon, err);
                if (r < 0)
                        return r;
        }
        /* a private copy: the context (with .dockerignore) or an rw bind */
        struct stat sb;
        if (fstat(sfd, &sb) < 0)
                return kiln_err(err, -errno, "bind source %s: %s", src, strerror(errno));
        char *t = new_tmp(m, "bind");
        if (!t)
                return kiln_err(err, -errno, "bind: mkdir: %s", strerror(errno));
        _cleanup_close_ int tfd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (tfd < 0)
                return kiln_err(err, -errno, "%s: %s", t, strerror(errno));
        const char *sk[2] = { (const char *)m->env->ctx, canon };
        struct kiln_copy_opts co = { 0 };
        if (!s->from) {
                co.skip = ctx_skip;
                co.ud = sk;
        } else {
                co.uid = sb.st_uid;
                co.gid = sb.st_gid;
        }
        r = kiln_copy_tree_at(sfd, &sb, false, tfd, "src", &co, NULL, err);
        if (r < 0)
                return r;
        add_req(m, "bind", kiln_xasprintf("%s/src", t), kiln_xstrdup(dest), !s->rw, NULL);
        return 0;
}

/* ---- type=tmpfs ---- */

static int setup_tmpfs(struct kiln_runmounts *m, const struct mspec *s, const char *dest, struct kiln_error *err)
{
        _cleanup_free_ char *opt = NULL;
        if (s->size) {
                for (const char *c = s->size; *c; c++)
                        if (!strchr("0123456789kKmMgGbB", *c))
                                return kiln_err(err, -EINVAL, "invalid tmpfs size: %s", s->size);
                opt = kiln_xasprintf("size=%s", s->size);
                /* tmpfs takes k, m, g; drop a trailing b ("64mb") */
                size_t l = strlen(opt);
                if (l > 6 && (opt[l - 1] == 'b' || opt[l - 1] == 'B') && !strchr("0123456789", opt[l - 2]))
                        opt[l - 1] = 0;
        }
        add_req(m, "tmpfs", NULL, kiln_xstrdup(dest), false, opt);
        return 0;
}

/* ---- the whole RUN ---- */

int kiln_runmounts_setup(const struct kiln_runmount_env *env, const struct kiln_df_instruction *in,
                         const char *rootfs, struct kiln_runmounts **ret, struct kiln_error *err)
{
        struct kiln_runmounts *m = kiln_xcalloc(1, sizeof(*m));
        m->env = env;
        *ret = NULL;
        _cleanup_free_ const char **vals = kiln_df_flag_values(in, "mount");
        _cleanup_close_ int rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r = rootfd < 0 ? kiln_err(err, -errno, "%s: %s", rootfs, strerror(errno)) : 0;
        for (size_t k = 0; r >= 0 && vals && vals[k]; k++) {
                struct mspec s = { 0 };
                r = parse_fields(vals[k], env->escape, &s, err);
                _cleanup_free_ char *dest = NULL;
                if (r >= 0 && !strcmp(s.type, "ssh")) {
                        r = kiln_err(err, -KILN_EUNSUPPORTED, "RUN --mount=type=ssh is not supported yet");
                } else if (r >= 0 && !strcmp(s.type, "secret") && !s.target) {
                        if (!s.id || !*s.id)
                                r = kiln_err(err, -EINVAL, "secret mount needs an id or a target");
                        else
                                dest = kiln_xasprintf("/run/secrets/%s", s.id);
                } else if (r >= 0 && (!s.target || !*s.target)) {
                        r = kiln_err(err, -EINVAL, "mount type=%s: target is required", s.type);
                }
                if (r >= 0 && !dest)
                        dest = target_abs(env, s.target);
                size_t before = m->n;
                if (r < 0)
                        ;
                else if (!strcmp(s.type, "cache"))
                        r = setup_cache(m, &s, dest, err);
                else if (!strcmp(s.type, "secret"))
                        r = setup_secret(m, &s, dest, err);
                else if (!strcmp(s.type, "bind"))
                        r = setup_bind(m, &s, dest, err);
                else if (!strcmp(s.type, "tmpfs"))
                        r = setup_tmpfs(m, &s, dest, err);
                else
                        r = kiln_err(err, -EINVAL, "unsupported mount type \"%s\"", s.type);
                if (r >= 0 && m->n > before) {
                        /* a file mount point for file sources (secrets, file binds) */
                        struct kiln_mount_req *q = &m->reqs[m->n - 1];
                        struct stat sb;
                        bool file = q->source && stat(q->source, &sb) == 0 && !S_ISDIR(sb.st_mode);
                        r = make_mount_point(m, rootfd, dest, file, err);
                }
                if (r > 0)
                        r = 0;
                mspec_clear(&s);
        }
        if (r < 0) {
                kiln_runmounts_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

/*
 * dest (absolute, clean) with its symlinks followed inside the root, as the
 * runtime would resolve them (".." stops at the root, an absolute target
 * starts again from it); the part from the first missing component on is
 * kept as written. At most 40 symlinks (-ELOOP). Caller frees *ret.
 */
static int resolve_in_root(int rootfd, const char *dest, char **ret)
{
        _cleanup_free_ char *todo = kiln_xstrdup(dest);
        struct kiln_buf done = KILN_BUF_INIT; /* resolved so far: "/a/b", symlink-free */
        kiln_buf_puts(&done, "");
        int hops = 0;
        char *p = todo;
        while (*p) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                char *slash = strchr(p, '/');
                size_t n = slash ? (size_t)(slash - p) : strlen(p);
                char *rest = slash ? slash : p + n;
                if (n == 1 && p[0] == '.') {
                        p = rest;
                        continue;
                }
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        char *last = done.len ? strrchr(done.data, '/') : NULL;
                        if (last) {
                                done.len = (size_t)(last - done.data);
                                done.data[done.len] = 0;
                        }
                        p = rest;
                        continue;
                }
                _cleanup_free_ char *cand = kiln_xasprintf("%s/%.*s", done.len ? done.data : "", (int)n, p);
                struct stat sb;
                if (fstatat(rootfd, cand + 1, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
                        /* missing: the rest as written */
                        _cleanup_free_ char *all = kiln_xasprintf("%s%s", cand, rest);
                        kiln_buf_free(&done);
                        *ret = kiln_buildctx_clean_abs(all);
                        return 0;
                }
                if (!S_ISLNK(sb.st_mode)) {
                        kiln_buf_free(&done);
                        kiln_buf_puts(&done, cand);
                        p = rest;
                        continue;
                }
                if (++hops > 40) {
                        kiln_buf_free(&done);
                        return -ELOOP;
                }
                char target[PATH_MAX];
                ssize_t tl = readlinkat(rootfd, cand + 1, target, sizeof(target) - 1);
                if (tl < 0) {
                        int e = -errno;
                        kiln_buf_free(&done);
                        return e;
                }
                target[tl] = 0;
                if (target[0] == '/') {
                        kiln_buf_free(&done);
                        kiln_buf_puts(&done, "");
                }
                char *next = kiln_xasprintf("%s%s", target, rest);
                free(todo);
                todo = next;
                p = todo;
        }
        *ret = done.len ? kiln_buf_steal(&done) : (kiln_buf_free(&done), kiln_xstrdup("/"));
        return 0;
}

int kiln_runmounts_add_file(struct kiln_runmounts *m, const char *rootfs, const char *source, const char *dest,
                            struct kiln_error *err)
{
        _cleanup_close_ int rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return kiln_err(err, -errno, "%s: %s", rootfs, strerror(errno));
        /* a symlink (Ubuntu's /etc/resolv.conf -> ../run/systemd/...) is
         * followed in the root, so that the mount point is made, and removed
         * again, where the RUN will see the file */
        _cleanup_free_ char *real = NULL;
        int r = resolve_in_root(rootfd, dest, &real);
        if (r < 0)
                return kiln_err(err, r, "mount point %s: %s", dest, kiln_strerror(r));
        if (!strcmp(real, "/"))
                return kiln_err(err, -EISDIR, "mount point %s: resolves to /", dest);
        r = make_mount_point(m, rootfd, real, true, err);
        if (r < 0)
                return r;
        add_req(m, "bind", kiln_xstrdup(source), TAKE_PTR(real), false, NULL);
        return 0;
}

const struct kiln_mount_req *kiln_runmounts_reqs(const struct kiln_runmounts *m, size_t *ret_n)
{
        *ret_n = m ? m->n : 0;
        return m ? m->reqs : NULL;
}

static bool is_opaque(int dfd, const char *rel)
{
        _cleanup_close_ int fd = openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return true;
        char v[4];
        return fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v)) > 0;
}

void kiln_runmounts_clean_upper(struct kiln_runmounts *m, const char *upper)
{
        if (!m || !m->n_paths)
                return;
        _cleanup_close_ int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ufd < 0)
                return;
        /* twice: one mount's ancestors can be another's mount point */
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = m->n_paths; i-- > 0;) {
                        struct mpath *p = &m->paths[i];
                        struct stat sb;
                        if (fstatat(ufd, p->rel, &sb, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                        if (p->created) {
                                if (p->file && S_ISREG(sb.st_mode) && sb.st_size == 0)
                                        unlinkat(ufd, p->rel, 0);
                                else if (S_ISDIR(sb.st_mode))
                                        unlinkat(ufd, p->rel, AT_REMOVEDIR); /* only when empty */
                        } else if (S_ISDIR(sb.st_mode) && sb.st_mode == p->mode && sb.st_uid == p->uid &&
                                   sb.st_gid == p->gid && !is_opaque(ufd, p->rel)) {
                                /* a parent only copied up for the mount point */
                                unlinkat(ufd, p->rel, AT_REMOVEDIR);
                        }
                }
        }
}

void kiln_runmounts_free(struct kiln_runmounts *m)
{
        if (!m)
                return;
        for (size_t i = 0; i < m->n; i++) {
                free(m->reqs[i].type);
                free(m->reqs[i].source);
                free(m->reqs[i].destination);
                kiln_strv_free(m->reqs[i].options);
        }
        free(m->reqs);
        for (size_t i = 0; i < m->n_paths; i++)
                free(m->paths[i].rel);
        free(m->paths);
        for (size_t i = 0; i < m->n_locks; i++)
                close(m->locks[i]); /* releases the flock */
        free(m->locks);
        for (size_t i = 0; i < m->n_views; i++) {
                if (m->views_mounted[i]) {
                        umount2(m->views[i], MNT_DETACH);
                        rmdir(m->views[i]);
                }
                free(m->views[i]);
        }
        free(m->views);
        free(m->views_mounted);
        if (m->secret_dir) {
                umount2(m->secret_dir, MNT_DETACH);
                rmdir(m->secret_dir);
                free(m->secret_dir);
        }
        for (size_t i = 0; i < m->n_tmps; i++) {
                kiln_fs_rm_rf_at(AT_FDCWD, m->tmps[i]);
                free(m->tmps[i]);
        }
        free(m->tmps);
        free(m);
}
