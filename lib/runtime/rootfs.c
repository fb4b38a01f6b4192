/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container's root filesystem: mount propagation, the rootfs bind,
 * spec.mounts, /dev nodes and links, pivot_root, then (finalize) sysctls,
 * read-only and masked paths and a read-only root.
 *
 * Safety model (docs/internals/runtime-rootfs.md): every destination is
 * resolved inside the rootfs with openat2(RESOLVE_IN_ROOT) to an O_PATH fd,
 * and every mount is made with the new mount API (fsopen/fsmount or
 * open_tree) and attached with move_mount() onto that fd, so no path is
 * resolved again between the check and the mount. Mount attributes (ro,
 * nosuid, ...) are set with mount_setattr() on the detached mount before it
 * is attached, which also keeps flags a user namespace has locked (only the
 * bits asked for are touched).
 */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kiln/fs.h"
#include "runtime-internal.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* ------------------------------------------------------------------ */
/* small helpers                                                       */
/* ------------------------------------------------------------------ */

static const char *jstr(json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);
        return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * Lexically clean an absolute or relative container path into a path
 * relative to the rootfs: "", "." and ".." components are dropped or
 * clamped at the root. Resolution of symlinks happens later, in the kernel,
 * confined to the root (RESOLVE_IN_ROOT), so this only makes the last
 * component a real name.
 */
static char *clean_path(const char *path)
{
        size_t n = strlen(path);
        char *out = kiln_xmalloc(n + 1);
        size_t o = 0;
        const char *p = path;
        while (*p) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *e = strchr(p, '/');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                if (len == 1 && p[0] == '.') {
                        /* skip */
                } else if (len == 2 && p[0] == '.' && p[1] == '.') {
                        while (o > 0 && out[o - 1] != '/')
                                o--;
                        if (o > 0)
                                o--; /* the '/' before it */
                } else {
                        if (o)
                                out[o++] = '/';
                        memcpy(out + o, p, len);
                        o += len;
                }
                p += len;
        }
        out[o] = 0;
        return out;
}

/* One line from the kernel's fs_context log (read on an fsopen fd), if any. */
static void fs_log(int fsfd, char *buf, size_t len)
{
        buf[0] = 0;
        if (fsfd < 0)
                return;
        ssize_t n = read(fsfd, buf, len - 1);
        if (n <= 2) {
                buf[0] = 0;
                return;
        }
        buf[n] = 0;
        char *nl = strchr(buf, '\n');
        if (nl)
                *nl = 0;
        /* "e message" / "w message": keep the text only */
        if (buf[1] == ' ')
                memmove(buf, buf + 2, strlen(buf + 2) + 1);
}

/* ------------------------------------------------------------------ */
/* mount options                                                       */
/* ------------------------------------------------------------------ */

enum opt_kind {
        OPT_SET,     /* set a mount attribute */
        OPT_CLR,     /* clear one */
        OPT_RSET,    /* set recursively (rro, rnosuid, ...) */
        OPT_RCLR,
        OPT_ATIME,   /* atime mode: value is MOUNT_ATTR_{RELATIME,NOATIME,STRICTATIME} */
        OPT_SB,      /* a superblock flag given to fsconfig (sync, dirsync, ...) */
        OPT_NONE,    /* the default anyway (async, nomand, ...) */
        OPT_PROP,    /* propagation */
        OPT_RPROP,
        OPT_BIND,
        OPT_RBIND,
        OPT_REMOUNT,
        OPT_UNSUPPORTED,
};

struct opt_def {
        const char *name;
        enum opt_kind kind;
        uint64_t value;
};

static const struct opt_def opt_defs[] = {
        { "ro", OPT_SET, MOUNT_ATTR_RDONLY },
        { "rw", OPT_CLR, MOUNT_ATTR_RDONLY },
        { "nosuid", OPT_SET, MOUNT_ATTR_NOSUID },
        { "suid", OPT_CLR, MOUNT_ATTR_NOSUID },
        { "nodev", OPT_SET, MOUNT_ATTR_NODEV },
        { "dev", OPT_CLR, MOUNT_ATTR_NODEV },
        { "noexec", OPT_SET, MOUNT_ATTR_NOEXEC },
        { "exec", OPT_CLR, MOUNT_ATTR_NOEXEC },
        { "nosymfollow", OPT_SET, MOUNT_ATTR_NOSYMFOLLOW },
        { "symfollow", OPT_CLR, MOUNT_ATTR_NOSYMFOLLOW },
        { "nodiratime", OPT_SET, MOUNT_ATTR_NODIRATIME },
        { "diratime", OPT_CLR, MOUNT_ATTR_NODIRATIME },
        { "rro", OPT_RSET, MOUNT_ATTR_RDONLY },
        { "rrw", OPT_RCLR, MOUNT_ATTR_RDONLY },
        { "rnosuid", OPT_RSET, MOUNT_ATTR_NOSUID },
        { "rsuid", OPT_RCLR, MOUNT_ATTR_NOSUID },
        { "rnodev", OPT_RSET, MOUNT_ATTR_NODEV },
        { "rdev", OPT_RCLR, MOUNT_ATTR_NODEV },
        { "rnoexec", OPT_RSET, MOUNT_ATTR_NOEXEC },
        { "rexec", OPT_RCLR, MOUNT_ATTR_NOEXEC },
        { "noatime", OPT_ATIME, MOUNT_ATTR_NOATIME },
        { "atime", OPT_ATIME, MOUNT_ATTR_RELATIME },
        { "relatime", OPT_ATIME, MOUNT_ATTR_RELATIME },
        { "norelatime", OPT_ATIME, MOUNT_ATTR_RELATIME },
        { "strictatime", OPT_ATIME, MOUNT_ATTR_STRICTATIME },
        { "nostrictatime", OPT_ATIME, MOUNT_ATTR_RELATIME },
        { "sync", OPT_SB, 0 },
        { "dirsync", OPT_SB, 0 },
        { "mand", OPT_SB, 0 },
        { "lazytime", OPT_SB, 0 },
        { "async", OPT_NONE, 0 },
        { "nomand", OPT_NONE, 0 },
        { "nolazytime", OPT_NONE, 0 },
        { "defaults", OPT_NONE, 0 },
        { "tmpcopyup", OPT_NONE, 0 }, /* crun's tmpfs copy-up: not implemented, ignored */
        { "private", OPT_PROP, MS_PRIVATE },
        { "rprivate", OPT_RPROP, MS_PRIVATE },
        { "shared", OPT_PROP, MS_SHARED },
        { "rshared", OPT_RPROP, MS_SHARED },
        { "slave", OPT_PROP, MS_SLAVE },
        { "rslave", OPT_RPROP, MS_SLAVE },
        { "unbindable", OPT_PROP, MS_UNBINDABLE },
        { "runbindable", OPT_RPROP, MS_UNBINDABLE },
        { "bind", OPT_BIND, 0 },
        { "rbind", OPT_RBIND, 0 },
        { "remount", OPT_REMOUNT, 0 },
        { "idmap", OPT_UNSUPPORTED, 0 },
        { "ridmap", OPT_UNSUPPORTED, 0 },
};

struct mount_opts {
        uint64_t set, clr;        /* attributes on the top mount */
        uint64_t rset, rclr;      /* attributes on the whole tree */
        int atime;                /* -1: untouched */
        uint64_t prop;            /* 0: none */
        bool prop_rec;
        bool bind, rbind, remount;
        char **sb;                /* superblock flags (fsconfig SET_FLAG) */
        size_t n_sb;
        char **data;              /* "key=value" or "key" for the filesystem */
        size_t n_data;
};

static void mount_opts_free(struct mount_opts *o)
{
        for (size_t i = 0; i < o->n_sb; i++)
                free(o->sb[i]);
        for (size_t i = 0; i < o->n_data; i++)
                free(o->data[i]);
        free(o->sb);
        free(o->data);
}

static void push(char ***v, size_t *n, const char *s)
{
        *v = kiln_xrealloc(*v, (*n + 1) * sizeof(char *));
        (*v)[(*n)++] = kiln_xstrdup(s);
}

static int parse_one_opt(struct mount_opts *o, const char *s, struct kiln_error *err)
{
        for (size_t i = 0; i < KILN_ARRAY_SIZE(opt_defs); i++) {
                const struct opt_def *d = &opt_defs[i];
                if (strcmp(d->name, s))
                        continue;
                switch (d->kind) {
                case OPT_SET: o->set |= d->value; o->clr &= ~d->value; break;
                case OPT_CLR: o->clr |= d->value; o->set &= ~d->value; break;
                case OPT_RSET: o->rset |= d->value; o->rclr &= ~d->value; break;
                case OPT_RCLR: o->rclr |= d->value; o->rset &= ~d->value; break;
                case OPT_ATIME: o->atime = (int)d->value; break;
                case OPT_SB: push(&o->sb, &o->n_sb, s); break;
                case OPT_NONE: break;
                case OPT_PROP: o->prop = d->value; o->prop_rec = false; break;
                case OPT_RPROP: o->prop = d->value; o->prop_rec = true; break;
                case OPT_BIND: o->bind = true; break;
                case OPT_RBIND: o->bind = o->rbind = true; break;
                case OPT_REMOUNT: o->remount = true; break;
                case OPT_UNSUPPORTED:
                        return kiln_err(err, -KILN_EUNSUPPORTED,
                                        "mount option '%s' is not supported", s);
                }
                return 0;
        }
        if (!*s)
                return 0;
        push(&o->data, &o->n_data, s);
        return 0;
}

static int parse_opts(json_t *options, struct mount_opts *o, struct kiln_error *err)
{
        *o = (struct mount_opts){ .atime = -1 };
        if (options && !json_is_array(options))
                return kiln_err(err, -KILN_EFORMAT, "mount options: not an array");
        size_t i;
        json_t *v;
        json_array_foreach(options, i, v) {
                if (!json_is_string(v))
                        return kiln_err(err, -KILN_EFORMAT, "mount options: not a string");
                int r = parse_one_opt(o, json_string_value(v), err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Apply the attribute part of o to the (detached or attached) mount mfd. */
static int apply_attrs(int mfd, const struct mount_opts *o)
{
        if (o->rset || o->rclr) {
                struct mount_attr a = { .attr_set = o->rset, .attr_clr = o->rclr };
                if (mount_setattr(mfd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
                        return -errno;
        }
        if (o->set || o->clr || o->atime >= 0) {
                struct mount_attr a = { .attr_set = o->set, .attr_clr = o->clr };
                if (o->atime >= 0) {
                        a.attr_set |= (uint64_t)o->atime;
                        a.attr_clr |= MOUNT_ATTR__ATIME;
                }
                if (mount_setattr(mfd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
                        return -errno;
        }
        return 0;
}

static int apply_prop(int mfd, uint64_t prop, bool rec)
{
        if (!prop)
                return 0;
        struct mount_attr a = { .propagation = prop };
        if (mount_setattr(mfd, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &a, sizeof(a)) < 0)
                return -errno;
        return 0;
}

static int attach(int mfd, int tfd)
{
        if (move_mount(mfd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return -errno;
        return 0;
}

/*
 * Clone the tree at src (a host path, relative to the cwd when not
 * absolute) as a detached mount. *ret_mfd only on success.
 */
static int clone_tree(int dirfd, const char *src, bool recursive, int *ret_mfd)
{
        unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
        if (!*src)
                flags |= AT_EMPTY_PATH;
        int fd = open_tree(dirfd, src, flags);
        if (fd < 0)
                return -errno;
        *ret_mfd = fd;
        return 0;
}

/*
 * Make a new filesystem of type with the data options of o, as a detached
 * mount with o's attributes. On failure *msg holds the kernel's reason when
 * it gave one.
 */
static int make_fs(const char *type, const char *source, const struct mount_opts *o,
                   int *ret_mfd, char *msg, size_t msglen)
{
        msg[0] = 0;
        _cleanup_close_ int fsfd = fsopen(type, FSOPEN_CLOEXEC);
        if (fsfd < 0)
                return -errno;
        if (source && *source && fsconfig(fsfd, FSCONFIG_SET_STRING, "source", source, 0) < 0)
                goto fail;
        for (size_t i = 0; i < o->n_data; i++) {
                _cleanup_free_ char *kv = kiln_xstrdup(o->data[i]);
                char *eq = strchr(kv, '=');
                int r;
                if (eq) {
                        *eq = 0;
                        r = fsconfig(fsfd, FSCONFIG_SET_STRING, kv, eq + 1, 0);
                } else {
                        r = fsconfig(fsfd, FSCONFIG_SET_FLAG, kv, NULL, 0);
                }
                if (r < 0)
                        goto fail;
        }
        for (size_t i = 0; i < o->n_sb; i++)
                if (fsconfig(fsfd, FSCONFIG_SET_FLAG, o->sb[i], NULL, 0) < 0)
                        goto fail;
        if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                goto fail;
        unsigned attrs = (unsigned)((o->set | o->rset) & ~(uint64_t)MOUNT_ATTR__ATIME);
        if (o->atime >= 0)
                attrs |= (unsigned)o->atime;
        int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
        if (mfd < 0)
                goto fail;
        *ret_mfd = mfd;
        return 0;
fail:;
        int r = -errno;
        fs_log(fsfd, msg, msglen);
        return r;
}

/* ------------------------------------------------------------------ */
/* destinations inside the rootfs                                      */
/* ------------------------------------------------------------------ */

/*
 * Create (when missing) and open the mount point for dest inside rootfd:
 * a directory, or an empty file when is_file. Returns an O_PATH fd of the
 * resolved target; nothing outside the rootfs can be reached. A dangling
 * symlink at dest (Ubuntu's /etc/resolv.conf -> ../run/systemd/resolve/
 * stub-resolv.conf) is followed inside the root and its target created,
 * as runc and crun do.
 */
static int open_mountpoint(int rootfd, const char *dest, bool is_file, bool create)
{
        _cleanup_free_ char *rel = clean_path(dest);
        for (int hops = 0;; hops++) {
                if (!*rel || !create)
                        return kiln_fs_open_in_root(rootfd, rel, O_PATH, 0);
                const char *base;
                _cleanup_close_ int pfd = kiln_fs_open_parent_in_root(rootfd, rel, true, &base);
                if (pfd < 0)
                        return pfd;
                int r = is_file ? mknodat(pfd, base, S_IFREG | 0644, 0) : mkdirat(pfd, base, 0755);
                if (r < 0 && errno != EEXIST)
                        return -errno;
                int fd = kiln_fs_open_in_root(rootfd, rel, O_PATH, 0);
                if (fd != -ENOENT)
                        return fd;
                /* a symlink whose target is missing: create the target */
                char target[PATH_MAX];
                ssize_t n = readlinkat(pfd, base, target, sizeof(target) - 1);
                if (n <= 0)
                        return fd;
                if (hops >= 40)
                        return -ELOOP;
                target[n] = 0;
                /* relative targets are joined to dest's directory lexically
                 * (the kernel still confines the result to the root) */
                _cleanup_free_ char *joined = target[0] == '/'
                        ? kiln_xstrdup(target)
                        : kiln_xasprintf("%.*s%s", (int)(base - rel), rel, target);
                free(rel);
                rel = clean_path(joined);
        }
}

/* ------------------------------------------------------------------ */
/* cgroup mounts                                                       */
/* ------------------------------------------------------------------ */

struct cg_mnt {
        char *root;     /* field 4 of mountinfo */
        char *point;    /* field 5 */
        char *fstype;
        char *super;    /* super options */
};

static void unescape_octal(char *s)
{
        char *o = s;
        for (char *p = s; *p;) {
                if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7' &&
                    p[3] >= '0' && p[3] <= '7') {
                        *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                        p += 4;
                } else {
                        *o++ = *p++;
                }
        }
        *o = 0;
}

/* Split a mountinfo line into fields; returns the index of "-" or -1. */
static int mountinfo_fields(char *line, char **f, int max, int *ret_n)
{
        int n = 0, dash = -1;
        char *save = NULL;
        for (char *t = strtok_r(line, " \n", &save); t && n < max; t = strtok_r(NULL, " \n", &save)) {
                if (dash < 0 && !strcmp(t, "-"))
                        dash = n;
                f[n++] = t;
        }
        *ret_n = n;
        return dash;
}

static int load_cgroup_mounts(struct cg_mnt **ret, size_t *ret_n)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        struct cg_mnt *v = NULL;
        size_t n = 0;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
                char *fl[64];
                int nf;
                int dash = mountinfo_fields(line, fl, 64, &nf);
                if (dash < 5 || dash + 3 >= nf)
                        continue;
                const char *type = fl[dash + 1];
                if (strcmp(type, "cgroup") && strcmp(type, "cgroup2"))
                        continue;
                v = kiln_xrealloc(v, (n + 1) * sizeof(*v));
                v[n].root = kiln_xstrdup(fl[3]);
                v[n].point = kiln_xstrdup(fl[4]);
                unescape_octal(v[n].root);
                unescape_octal(v[n].point);
                v[n].fstype = kiln_xstrdup(type);
                v[n].super = kiln_xstrdup(fl[dash + 3]);
                n++;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static void cg_mnts_free(struct cg_mnt *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].root);
                free(v[i].point);
                free(v[i].fstype);
                free(v[i].super);
        }
        free(v);
}

/* Does the comma list `list` contain `word`? */
static bool list_has(const char *list, const char *word)
{
        size_t wl = strlen(word);
        for (const char *p = list; p && *p;) {
                const char *e = strchr(p, ',');
                size_t l = e ? (size_t)(e - p) : strlen(p);
                if (l == wl && !strncmp(p, word, wl))
                        return true;
                p = e ? e + 1 : NULL;
        }
        return false;
}

/* The host mount of the hierarchy "ctrls" ("" for cgroup2). */
static const struct cg_mnt *find_cg_mnt(const struct cg_mnt *v, size_t n, const char *ctrls)
{
        for (size_t i = 0; i < n; i++) {
                if (!*ctrls) {
                        if (!strcmp(v[i].fstype, "cgroup2"))
                                return &v[i];
                        continue;
                }
                if (strcmp(v[i].fstype, "cgroup"))
                        continue;
                bool all = true;
                _cleanup_free_ char *c = kiln_xstrdup(ctrls);
                char *save = NULL;
                for (char *t = strtok_r(c, ",", &save); t; t = strtok_r(NULL, ",", &save))
                        if (!list_has(v[i].super, t))
                                all = false;
                if (all)
                        return &v[i];
        }
        return NULL;
}

/*
 * Mount one hierarchy at dirfd/name: a fresh cgroup filesystem when the
 * container is in a cgroup namespace below the host mount's root (the kernel
 * roots it at the namespace's cgroup), otherwise a bind of the container's
 * own cgroup directory from the host mount.
 */
static int mount_cg_hierarchy(int dirfd, const char *name, const char *ctrls, const char *cgpath,
                              const struct cg_mnt *m, const struct mount_opts *o,
                              struct kiln_error *err)
{
        if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
                return kiln_err(err, -errno, "mount cgroup: mkdir '%s': %s", name, strerror(errno));
        _cleanup_close_ int tfd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
        if (tfd < 0)
                return kiln_err(err, -errno, "mount cgroup: open '%s': %s", name, strerror(errno));
        _cleanup_close_ int mfd = -1;
        int r;
        size_t rl = strlen(m->root);
        bool below = !strcmp(m->root, "/") ||
                     (!strncmp(cgpath, m->root, rl) && (cgpath[rl] == '/' || !cgpath[rl]));
        if (!below || kiln_startswith(m->root, "/..")) {
                /* in a cgroup namespace: a new mount is rooted at its cgroup */
                struct mount_opts fo = { .set = o->set | o->rset | MOUNT_ATTR_NOSUID |
                                                MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                                         .atime = -1 };
                _cleanup_free_ char *c = kiln_xstrdup(ctrls);
                char *save = NULL;
                for (char *t = strtok_r(c, ",", &save); t; t = strtok_r(NULL, ",", &save))
                        push(&fo.data, &fo.n_data, t);
                char msg[256];
                r = make_fs(*ctrls ? "cgroup" : "cgroup2", "cgroup", &fo, &mfd, msg, sizeof(msg));
                mount_opts_free(&fo);
                if (r < 0)
                        return kiln_err(err, r, "mount cgroup '%s': %s", ctrls,
                                        msg[0] ? msg : kiln_strerror(r));
        } else {
                const char *sub = cgpath + (strcmp(m->root, "/") ? rl : 0);
                _cleanup_free_ char *src = kiln_xasprintf("%s%s", m->point, sub);
                r = clone_tree(AT_FDCWD, src, false, &mfd);
                if (r < 0)
                        return kiln_err(err, r, "bind cgroup '%s': %s", src, kiln_strerror(r));
                /* read-only unless the mount says "rw" explicitly (runc binds
                 * these read-only too) */
                struct mount_opts ao = { .set = o->set | o->rset | MOUNT_ATTR_NOSUID |
                                                MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                                         .atime = -1 };
                if (!((o->clr | o->rclr) & MOUNT_ATTR_RDONLY))
                        ao.set |= MOUNT_ATTR_RDONLY;
                r = apply_attrs(mfd, &ao);
                if (r < 0)
                        return kiln_err(err, r, "bind cgroup '%s': set attributes: %s", src,
                                        kiln_strerror(r));
        }
        r = attach(mfd, tfd);
        if (r < 0)
                return kiln_err(err, r, "mount cgroup '%s': %s", name, kiln_strerror(r));
        return 0;
}

/*
 * The spec's "cgroup" mount, translated for the host:
 *  - unified (v2) host: a cgroup2 mount (a recursive bind of /sys/fs/cgroup
 *    when the kernel refuses, e.g. a user namespace without a cgroup one);
 *  - v1 or hybrid: a tmpfs with one directory a hierarchy, each holding the
 *    container's own cgroup (see mount_cg_hierarchy), symlinks for
 *    co-mounted controllers ("cpu" -> "cpu,cpuacct"), then the tmpfs itself
 *    made read-only when the mount asked for "ro".
 */
static int mount_cgroup(int tfd, const char *dest, const struct mount_opts *o,
                        struct kiln_error *err)
{
        struct statfs sfs;
        int r;
        char msg[256];
        if (statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) {
                _cleanup_close_ int mfd = -1;
                r = make_fs("cgroup2", "cgroup", o, &mfd, msg, sizeof(msg));
                if (r == -EPERM || r == -EBUSY) {
                        r = clone_tree(AT_FDCWD, "/sys/fs/cgroup", true, &mfd);
                        if (r == 0)
                                r = apply_attrs(mfd, o);
                }
                if (r < 0)
                        return kiln_err(err, r, "mount cgroup2 on '%s': %s", dest,
                                        msg[0] ? msg : kiln_strerror(r));
                r = attach(mfd, tfd);
                if (r < 0)
                        return kiln_err(err, r, "mount cgroup2 on '%s': %s", dest, kiln_strerror(r));
                return 0;
        }

        /* v1 / hybrid */
        struct mount_opts to = { .set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                                 .atime = -1 };
        push(&to.data, &to.n_data, "mode=755");
        _cleanup_close_ int tmfd = -1;
        r = make_fs("tmpfs", "tmpfs", &to, &tmfd, msg, sizeof(msg));
        mount_opts_free(&to);
        if (r < 0)
                return kiln_err(err, r, "mount cgroup tmpfs on '%s': %s", dest,
                                msg[0] ? msg : kiln_strerror(r));
        r = attach(tmfd, tfd);
        if (r < 0)
                return kiln_err(err, r, "mount cgroup tmpfs on '%s': %s", dest, kiln_strerror(r));
        /* tmfd is the attached tmpfs: its root is where the hierarchies go */
        _cleanup_close_ int dirfd = openat(tmfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return kiln_err(err, -errno, "mount cgroup on '%s': %s", dest, strerror(errno));

        struct cg_mnt *mnts = NULL;
        size_t n_mnts = 0;
        r = load_cgroup_mounts(&mnts, &n_mnts);
        if (r < 0)
                return kiln_err(err, r, "mount cgroup: read mountinfo: %s", kiln_strerror(r));
        _cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
        if (!f) {
                r = -errno;
                cg_mnts_free(mnts, n_mnts);
                return kiln_err(err, r, "mount cgroup: /proc/self/cgroup: %s", strerror(-r));
        }
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        r = 0;
        while (r == 0 && getline(&line, &cap, f) > 0) {
                line[strcspn(line, "\n")] = 0;
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = 0;
                const char *ctrls = c1 + 1, *cgpath = c2 + 1;
                const struct cg_mnt *m = find_cg_mnt(mnts, n_mnts, ctrls);
                if (!m) {
                        kiln_warn("cgroup hierarchy '%s' is not mounted on the host: skipped",
                                  *ctrls ? ctrls : "unified");
                        continue;
                }
                const char *name = !*ctrls ? "unified"
                                   : kiln_startswith(ctrls, "name=") ? ctrls + 5 : ctrls;
                if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
                        continue;
                r = mount_cg_hierarchy(dirfd, name, ctrls, cgpath, m, o, err);
                if (r == 0 && strchr(name, ',')) {
                        _cleanup_free_ char *c = kiln_xstrdup(name);
                        char *save = NULL;
                        for (char *t = strtok_r(c, ",", &save); t; t = strtok_r(NULL, ",", &save))
                                (void)symlinkat(name, dirfd, t);
                }
        }
        cg_mnts_free(mnts, n_mnts);
        if (r < 0)
                return r;
        r = apply_attrs(tmfd, o);
        if (r < 0)
                return kiln_err(err, r, "mount cgroup on '%s': set attributes: %s", dest,
                                kiln_strerror(r));
        return 0;
}

/* ------------------------------------------------------------------ */
/* spec.mounts                                                         */
/* ------------------------------------------------------------------ */

static int mount_entry(int rootfd, json_t *m, size_t idx, struct kiln_error *err)
{
        const char *dest = jstr(m, "destination");
        const char *type = jstr(m, "type");
        const char *source = jstr(m, "source");
        if (!dest || !*dest)
                return kiln_err(err, -KILN_EFORMAT, "mounts[%zu]: no destination", idx);
        struct mount_opts o;
        int r = parse_opts(json_object_get(m, "options"), &o, err);
        if (r < 0) {
                mount_opts_free(&o);
                return kiln_err_prefix(err, r, "mount on '%s': ", dest);
        }
        bool is_bind = o.bind || (type && (!strcmp(type, "bind") || !strcmp(type, "rbind")));
        if (type && !strcmp(type, "rbind"))
                o.rbind = true;
        char msg[256] = "";
        _cleanup_close_ int tfd = -1;
        _cleanup_close_ int mfd = -1;
        _cleanup_close_ int sfd = -1;

        if (o.remount && !is_bind) {
                /* change the attributes of what is mounted there already */
                tfd = open_mountpoint(rootfd, dest, false, false);
                if (tfd < 0) {
                        r = kiln_err(err, tfd, "remount '%s': %s", dest, kiln_strerror(tfd));
                        goto out;
                }
                r = apply_attrs(tfd, &o);
                if (r == 0)
                        r = apply_prop(tfd, o.prop, o.prop_rec);
                if (r < 0)
                        r = kiln_err(err, r, "remount '%s': %s", dest, kiln_strerror(r));
                goto out;
        }

        if (is_bind) {
                if (!source || !*source) {
                        r = kiln_err(err, -KILN_EFORMAT, "bind mount on '%s': no source", dest);
                        goto out;
                }
                /* the source is a host path, relative to the bundle (our cwd) */
                sfd = open(source, O_PATH | O_CLOEXEC);
                struct stat st;
                if (sfd < 0 || fstat(sfd, &st) < 0) {
                        r = kiln_err(err, -errno, "bind mount '%s' on '%s': %s", source, dest,
                                     strerror(errno));
                        goto out;
                }
                tfd = open_mountpoint(rootfd, dest, !S_ISDIR(st.st_mode), true);
                if (tfd < 0) {
                        r = kiln_err(err, tfd, "bind mount on '%s': mount point: %s", dest,
                                     kiln_strerror(tfd));
                        goto out;
                }
                if (o.n_sb)
                        kiln_warn("bind mount on '%s': '%s' ignored (a superblock option)", dest,
                                  o.sb[0]);
                r = clone_tree(sfd, "", o.rbind, &mfd);
                if (r == 0)
                        r = apply_attrs(mfd, &o);
                if (r < 0) {
                        r = kiln_err(err, r, "bind mount '%s' on '%s': %s", source, dest,
                                     kiln_strerror(r));
                        goto out;
                }
        } else {
                if (!type || !*type) {
                        r = kiln_err(err, -KILN_EFORMAT, "mount on '%s': no type", dest);
                        goto out;
                }
                tfd = open_mountpoint(rootfd, dest, false, true);
                if (tfd < 0) {
                        r = kiln_err(err, tfd, "mount %s on '%s': mount point: %s", type, dest,
                                     kiln_strerror(tfd));
                        goto out;
                }
                if (!strcmp(type, "cgroup") || !strcmp(type, "cgroup2")) {
                        r = mount_cgroup(tfd, dest, &o, err);
                        goto out;
                }
                r = make_fs(type, source, &o, &mfd, msg, sizeof(msg));
                if (r == -EPERM && !strcmp(type, "sysfs")) {
                        /* a user namespace without its own network namespace may not
                         * mount sysfs: bind the host's, read-only */
                        r = clone_tree(AT_FDCWD, "/sys", true, &mfd);
                        if (r == 0) {
                                struct mount_opts so = { .rset = o.set | o.rset | MOUNT_ATTR_RDONLY,
                                                         .atime = -1 };
                                r = apply_attrs(mfd, &so);
                        }
                }
                if (r < 0) {
                        if (r == -ENODEV)
                                r = kiln_err(err, r, "mount on '%s': unknown filesystem type '%s'",
                                             dest, type);
                        else
                                r = kiln_err(err, r, "mount %s on '%s': %s", type, dest,
                                             msg[0] ? msg : kiln_strerror(r));
                        goto out;
                }
        }
        r = attach(mfd, tfd);
        if (r < 0) {
                r = kiln_err(err, r, "mount %s on '%s': %s", is_bind ? "bind" : type, dest,
                             kiln_strerror(r));
                goto out;
        }
        r = apply_prop(mfd, o.prop, o.prop_rec);
        if (r < 0)
                r = kiln_err(err, r, "mount on '%s': set propagation: %s", dest, kiln_strerror(r));
out:
        mount_opts_free(&o);
        return r;
}

/* ------------------------------------------------------------------ */
/* devices                                                             */
/* ------------------------------------------------------------------ */

struct dev_node {
        const char *path;
        char type;
        unsigned major, minor;
        mode_t mode;
        uid_t uid;
        gid_t gid;
};

static const struct dev_node default_devices[] = {
        { "/dev/null", 'c', 1, 3, 0666, 0, 0 },
        { "/dev/zero", 'c', 1, 5, 0666, 0, 0 },
        { "/dev/full", 'c', 1, 7, 0666, 0, 0 },
        { "/dev/random", 'c', 1, 8, 0666, 0, 0 },
        { "/dev/urandom", 'c', 1, 9, 0666, 0, 0 },
        { "/dev/tty", 'c', 5, 0, 0666, 0, 0 },
};

/*
 * Create one node inside the rootfs. When mknod is not permitted (a user
 * namespace), *bind_mode is set and from then on the host's node at the same
 * path is bind-mounted onto an empty file, as runc does.
 */
static int make_device(int rootfd, const struct dev_node *d, bool *bind_mode,
                       struct kiln_error *err)
{
        _cleanup_free_ char *rel = clean_path(d->path);
        if (!*rel)
                return kiln_err(err, -EINVAL, "device '%s': bad path", d->path);
        mode_t fmt;
        switch (d->type) {
        case 'c': case 'u': fmt = S_IFCHR; break;
        case 'b': fmt = S_IFBLK; break;
        case 'p': fmt = S_IFIFO; break;
        default:
                return kiln_err(err, -KILN_EFORMAT, "device '%s': unknown type '%c'", d->path,
                                d->type);
        }
        const char *base;
        _cleanup_close_ int pfd = kiln_fs_open_parent_in_root(rootfd, rel, true, &base);
        if (pfd < 0)
                return kiln_err(err, pfd, "device '%s': %s", d->path, kiln_strerror(pfd));
        /* a FIFO needs no privilege: always made, never bound from the host */
        if (!*bind_mode || fmt == S_IFIFO) {
                mode_t old = umask(0);
                int r = mknodat(pfd, base, fmt | (d->mode & 07777), makedev(d->major, d->minor));
                int e = errno;
                umask(old);
                if (r < 0 && e == EEXIST)
                        return 0; /* like runc: an existing node is kept */
                if (r < 0 && (e != EPERM || fmt == S_IFIFO))
                        return kiln_err(err, -e, "mknod '%s': %s", d->path, strerror(e));
                if (r == 0) {
                        if (fchownat(pfd, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
                                return kiln_err(err, -errno, "chown '%s': %s", d->path,
                                                strerror(errno));
                        return 0;
                }
                *bind_mode = true;
        }
        if (mknodat(pfd, base, S_IFREG | 0644, 0) < 0 && errno != EEXIST)
                return kiln_err(err, -errno, "device '%s': create mount point: %s", d->path,
                                strerror(errno));
        _cleanup_close_ int tfd = kiln_fs_open_in_root(rootfd, rel, O_PATH, 0);
        if (tfd < 0)
                return kiln_err(err, tfd, "device '%s': %s", d->path, kiln_strerror(tfd));
        _cleanup_close_ int mfd = -1;
        int r = clone_tree(AT_FDCWD, d->path, false, &mfd);
        if (r == 0)
                r = attach(mfd, tfd);
        if (r < 0)
                return kiln_err(err, r, "bind device '%s' from the host: %s", d->path,
                                kiln_strerror(r));
        return 0;
}

static int parse_device(json_t *j, struct dev_node *d, struct kiln_error *err)
{
        const char *path = jstr(j, "path");
        const char *type = jstr(j, "type");
        if (!path || !type || strlen(type) != 1)
                return kiln_err(err, -KILN_EFORMAT, "linux.devices: entry without path or type");
        json_t *mj = json_object_get(j, "major"), *nj = json_object_get(j, "minor");
        if (type[0] != 'p' && (!json_is_integer(mj) || !json_is_integer(nj)))
                return kiln_err(err, -KILN_EFORMAT, "linux.devices '%s': no major/minor", path);
        json_t *fm = json_object_get(j, "fileMode");
        json_t *u = json_object_get(j, "uid"), *g = json_object_get(j, "gid");
        *d = (struct dev_node){
                .path = path,
                .type = type[0],
                .major = (unsigned)json_integer_value(mj),
                .minor = (unsigned)json_integer_value(nj),
                .mode = json_is_integer(fm) ? (mode_t)json_integer_value(fm) : 0666,
                .uid = json_is_integer(u) ? (uid_t)json_integer_value(u) : 0,
                .gid = json_is_integer(g) ? (gid_t)json_integer_value(g) : 0,
        };
        return 0;
}

/* Is /dev a tmpfs the spec mounts? */
static bool spec_dev_is_tmpfs(json_t *mounts)
{
        size_t i;
        json_t *m;
        bool found = false;
        json_array_foreach(mounts, i, m) {
                const char *dest = jstr(m, "destination");
                if (!dest)
                        continue;
                _cleanup_free_ char *rel = clean_path(dest);
                if (strcmp(rel, "dev"))
                        continue;
                const char *type = jstr(m, "type");
                found = type && !strcmp(type, "tmpfs"); /* the last mount on /dev wins */
        }
        return found;
}

static int setup_dev(int rootfd, json_t *spec, struct kiln_error *err)
{
        json_t *linux_ = json_object_get(spec, "linux");
        json_t *devices = json_object_get(linux_, "devices");
        bool tmpfs_dev = spec_dev_is_tmpfs(json_object_get(spec, "mounts"));
        bool bind_mode = false;
        int r;
        if (tmpfs_dev) {
                for (size_t i = 0; i < KILN_ARRAY_SIZE(default_devices); i++) {
                        r = make_device(rootfd, &default_devices[i], &bind_mode, err);
                        if (r < 0)
                                return r;
                }
        }
        size_t i;
        json_t *j;
        json_array_foreach(devices, i, j) {
                struct dev_node d;
                r = parse_device(j, &d, err);
                if (r < 0)
                        return r;
                r = make_device(rootfd, &d, &bind_mode, err);
                if (r < 0)
                        return r;
        }
        if (!tmpfs_dev)
                return 0;

        _cleanup_close_ int devfd = kiln_fs_open_in_root(rootfd, "dev", O_RDONLY | O_DIRECTORY, 0);
        if (devfd < 0)
                return kiln_err(err, devfd, "open /dev in the rootfs: %s", kiln_strerror(devfd));
        static const struct { const char *name, *target; } links[] = {
                { "fd", "/proc/self/fd" },
                { "stdin", "/proc/self/fd/0" },
                { "stdout", "/proc/self/fd/1" },
                { "stderr", "/proc/self/fd/2" },
        };
        for (size_t k = 0; k < KILN_ARRAY_SIZE(links); k++)
                if (symlinkat(links[k].target, devfd, links[k].name) < 0 && errno != EEXIST)
                        return kiln_err(err, -errno, "symlink /dev/%s: %s", links[k].name,
                                        strerror(errno));
        /* /dev/ptmx must be the devpts instance's: replace whatever is there */
        if (unlinkat(devfd, "ptmx", 0) < 0 && errno != ENOENT)
                return kiln_err(err, -errno, "remove /dev/ptmx: %s", strerror(errno));
        if (symlinkat("pts/ptmx", devfd, "ptmx") < 0)
                return kiln_err(err, -errno, "symlink /dev/ptmx: %s", strerror(errno));
        return 0;
}

/* ------------------------------------------------------------------ */
/* propagation and pivot                                               */
/* ------------------------------------------------------------------ */

static int parse_propagation(const char *s, unsigned long *ret)
{
        static const struct { const char *name; unsigned long flags; } props[] = {
                { "private", MS_PRIVATE },         { "rprivate", MS_PRIVATE | MS_REC },
                { "shared", MS_SHARED },           { "rshared", MS_SHARED | MS_REC },
                { "slave", MS_SLAVE },             { "rslave", MS_SLAVE | MS_REC },
                { "unbindable", MS_UNBINDABLE },   { "runbindable", MS_UNBINDABLE | MS_REC },
        };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(props); i++)
                if (!strcmp(s, props[i].name)) {
                        *ret = props[i].flags;
                        return 0;
                }
        return -EINVAL;
}

/*
 * pivot_root refuses a new root whose parent mount is shared. With a
 * shared rootfsPropagation, make the mount holding the rootfs directory
 * private (only that one, not the tree).
 */
static int make_parent_private(const char *root, struct kiln_error *err)
{
        _cleanup_free_ char *parent = kiln_xasprintf("%s/..", root);
        struct statx stx;
        if (statx(AT_FDCWD, parent, 0, STATX_MNT_ID, &stx) < 0 || !(stx.stx_mask & STATX_MNT_ID))
                return 0; /* best effort: pivot_root says more if it matters */
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return 0;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
                char *fl[64];
                int nf;
                (void)mountinfo_fields(line, fl, 64, &nf);
                if (nf < 5 || strtoull(fl[0], NULL, 10) != stx.stx_mnt_id)
                        continue;
                unescape_octal(fl[4]);
                if (mount(NULL, fl[4], NULL, MS_PRIVATE, NULL) < 0)
                        return kiln_err(err, -errno, "make '%s' private: %s", fl[4],
                                        strerror(errno));
                return 0;
        }
        return 0;
}

static int do_pivot(const char *root, struct kiln_error *err)
{
        _cleanup_close_ int oldfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (oldfd < 0)
                return kiln_err(err, -errno, "open /: %s", strerror(errno));
        /* reopened by path: crosses into the bind and anything mounted on it */
        _cleanup_close_ int newfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (newfd < 0)
                return kiln_err(err, -errno, "open rootfs '%s': %s", root, strerror(errno));
        if (fchdir(newfd) < 0)
                return kiln_err(err, -errno, "chdir rootfs: %s", strerror(errno));
        if (syscall(SYS_pivot_root, ".", ".") < 0) {
                int e = errno;
                if (e == EINVAL) {
                        struct statfs sfs;
                        bool ramfs = statfs("/", &sfs) == 0 &&
                                     (sfs.f_type == 0x858458f6 /* RAMFS_MAGIC */ ||
                                      sfs.f_type == 0x01021994 /* TMPFS_MAGIC */);
                        return kiln_err(err, -e,
                                        "pivot_root: %s (use --no-pivot)",
                                        ramfs ? "the current root is the initramfs rootfs"
                                              : "the new root or its parent mount is shared");
                }
                return kiln_err(err, -e, "pivot_root: %s", strerror(e));
        }
        /* the old root is now stacked under "."; detach it without
         * propagating the unmount to the host */
        if (fchdir(oldfd) < 0)
                return kiln_err(err, -errno, "chdir old root: %s", strerror(errno));
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                return kiln_err(err, -errno, "make old root rslave: %s", strerror(errno));
        if (umount2(".", MNT_DETACH) < 0)
                return kiln_err(err, -errno, "detach old root: %s", strerror(errno));
        if (fchdir(newfd) < 0 || chdir("/") < 0)
                return kiln_err(err, -errno, "chdir /: %s", strerror(errno));
        return 0;
}

static int do_move_chroot(const char *root, struct kiln_error *err)
{
        if (chdir(root) < 0)
                return kiln_err(err, -errno, "chdir rootfs '%s': %s", root, strerror(errno));
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
                return kiln_err(err, -errno, "move rootfs to /: %s", strerror(errno));
        if (chroot(".") < 0)
                return kiln_err(err, -errno, "chroot: %s", strerror(errno));
        if (chdir("/") < 0)
                return kiln_err(err, -errno, "chdir /: %s", strerror(errno));
        return 0;
}

int kiln_rootfs_prepare(json_t *spec, bool no_pivot, struct kiln_error *err)
{
        json_t *rootj = json_object_get(spec, "root");
        const char *rootpath = jstr(rootj, "path");
        if (!rootpath || !*rootpath)
                return kiln_err(err, -KILN_EFORMAT, "spec: no root.path");
        /* an absolute path, as runc makes it: a lookup of "." would stay on
         * the directory under the bind mount made below instead of entering it */
        _cleanup_free_ char *root = realpath(rootpath, NULL);
        if (!root)
                return kiln_err(err, -errno, "rootfs '%s': %s", rootpath, strerror(errno));
        json_t *linux_ = json_object_get(spec, "linux");
        json_t *mounts = json_object_get(spec, "mounts");
        if (mounts && !json_is_array(mounts))
                return kiln_err(err, -KILN_EFORMAT, "spec: mounts is not an array");

        /* 1. propagation of the whole tree */
        unsigned long prop = MS_PRIVATE | MS_REC;
        const char *propname = jstr(linux_, "rootfsPropagation");
        if (propname && *propname && parse_propagation(propname, &prop) < 0)
                return kiln_err(err, -KILN_EFORMAT, "spec: unknown rootfsPropagation '%s'",
                                propname);
        if (mount(NULL, "/", NULL, prop, NULL) < 0)
                return kiln_err(err, -errno, "make / %s: %s", propname ? propname : "rprivate",
                                strerror(errno));
        if (prop & MS_SHARED) {
                int r = make_parent_private(root, err);
                if (r < 0)
                        return r;
        }

        /* 2. the rootfs becomes a mount point */
        if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
                return kiln_err(err, -errno, "bind rootfs '%s': %s", root, strerror(errno));
        _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return kiln_err(err, -errno, "open rootfs '%s': %s", root, strerror(errno));

        /* 3. spec.mounts, in order */
        size_t i;
        json_t *m;
        json_array_foreach(mounts, i, m) {
                if (!json_is_object(m))
                        return kiln_err(err, -KILN_EFORMAT, "spec: mounts[%zu] is not an object", i);
                int r = mount_entry(rootfd, m, i, err);
                if (r < 0)
                        return r;
        }

        /* 4. devices and /dev links */
        int r = setup_dev(rootfd, spec, err);
        if (r < 0)
                return r;

        /* 5. switch root */
        r = no_pivot ? do_move_chroot(root, err) : do_pivot(root, err);
        if (r < 0)
                return r;
        if (propname && *propname && (prop & (MS_SHARED | MS_SLAVE | MS_UNBINDABLE)) &&
            mount(NULL, "/", NULL, prop, NULL) < 0)
                return kiln_err(err, -errno, "make / %s: %s", propname, strerror(errno));
        return 0;
}

/* ------------------------------------------------------------------ */
/* finalize                                                            */
/* ------------------------------------------------------------------ */

static int write_sysctl(const char *key, const char *value, struct kiln_error *err)
{
        if (!*key || strchr(key, '/') || strstr(key, "..") || key[0] == '.')
                return kiln_err(err, -EINVAL, "sysctl '%s': invalid key", key);
        _cleanup_free_ char *path = kiln_xasprintf("/proc/sys/%s", key);
        for (char *p = path + strlen("/proc/sys/"); *p; p++)
                if (*p == '.')
                        *p = '/';
        _cleanup_close_ int procfd = open("/proc/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (procfd < 0)
                return kiln_err(err, -errno, "sysctl '%s': /proc/sys: %s", key, strerror(errno));
        _cleanup_close_ int fd = kiln_fs_open_in_root(procfd, path + strlen("/proc/sys/"),
                                                      O_WRONLY | O_TRUNC, 0);
        if (fd < 0)
                return kiln_err(err, fd, "sysctl '%s': %s", key, kiln_strerror(fd));
        int r = kiln_fs_write_all(fd, value, strlen(value));
        if (r < 0)
                return kiln_err(err, r, "sysctl '%s' = '%s': %s", key, value, kiln_strerror(r));
        return 0;
}

static int readonly_path(int rootfd, const char *path, struct kiln_error *err)
{
        _cleanup_free_ char *rel = clean_path(path);
        _cleanup_close_ int fd = kiln_fs_open_in_root(rootfd, rel, O_PATH, 0);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return kiln_err(err, fd, "readonly path '%s': %s", path, kiln_strerror(fd));
        _cleanup_close_ int mfd = -1;
        int r = clone_tree(fd, "", true, &mfd);
        if (r == 0) {
                struct mount_opts o = { .rset = MOUNT_ATTR_RDONLY, .atime = -1 };
                r = apply_attrs(mfd, &o);
        }
        if (r == 0)
                r = attach(mfd, fd);
        if (r < 0)
                return kiln_err(err, r, "readonly path '%s': %s", path, kiln_strerror(r));
        return 0;
}

static int masked_path(int rootfd, const char *path, struct kiln_error *err)
{
        _cleanup_free_ char *rel = clean_path(path);
        _cleanup_close_ int fd = kiln_fs_open_in_root(rootfd, rel, O_PATH, 0);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return kiln_err(err, fd, "masked path '%s': %s", path, kiln_strerror(fd));
        struct stat st;
        if (fstat(fd, &st) < 0)
                return kiln_err(err, -errno, "masked path '%s': %s", path, strerror(errno));
        _cleanup_close_ int mfd = -1;
        int r;
        char msg[256];
        if (S_ISDIR(st.st_mode)) {
                struct mount_opts o = { .set = MOUNT_ATTR_RDONLY, .atime = -1 };
                r = make_fs("tmpfs", "tmpfs", &o, &mfd, msg, sizeof(msg));
        } else {
                _cleanup_close_ int nullfd = kiln_fs_open_in_root(rootfd, "dev/null", O_PATH, 0);
                r = nullfd < 0 ? nullfd : clone_tree(nullfd, "", false, &mfd);
        }
        if (r == 0)
                r = attach(mfd, fd);
        if (r < 0)
                return kiln_err(err, r, "masked path '%s': %s", path, kiln_strerror(r));
        return 0;
}

static int path_list(json_t *list, const char *what, int rootfd,
                     int (*fn)(int, const char *, struct kiln_error *), struct kiln_error *err)
{
        if (list && !json_is_array(list))
                return kiln_err(err, -KILN_EFORMAT, "spec: linux.%s is not an array", what);
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) {
                if (!json_is_string(v))
                        return kiln_err(err, -KILN_EFORMAT, "spec: linux.%s[%zu] is not a string",
                                        what, i);
                int r = fn(rootfd, json_string_value(v), err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int kiln_rootfs_finalize(json_t *spec, struct kiln_error *err)
{
        json_t *linux_ = json_object_get(spec, "linux");
        int r;

        /* sysctls first: linux.readonlyPaths usually holds /proc/sys */
        json_t *sysctl = json_object_get(linux_, "sysctl");
        if (sysctl && !json_is_object(sysctl))
                return kiln_err(err, -KILN_EFORMAT, "spec: linux.sysctl is not an object");
        const char *key;
        json_t *val;
        json_object_foreach(sysctl, key, val) {
                if (!json_is_string(val))
                        return kiln_err(err, -KILN_EFORMAT, "sysctl '%s': value is not a string",
                                        key);
                r = write_sysctl(key, json_string_value(val), err);
                if (r < 0)
                        return r;
        }

        _cleanup_close_ int rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return kiln_err(err, -errno, "open /: %s", strerror(errno));
        r = path_list(json_object_get(linux_, "readonlyPaths"), "readonlyPaths", rootfd,
                      readonly_path, err);
        if (r < 0)
                return r;
        r = path_list(json_object_get(linux_, "maskedPaths"), "maskedPaths", rootfd, masked_path,
                      err);
        if (r < 0)
                return r;

        if (json_is_true(json_object_get(json_object_get(spec, "root"), "readonly"))) {
                /* only the root mount: /dev, /proc, tmpfs mounts stay as they are;
                 * mount_setattr touches RDONLY alone, so locked flags are kept */
                struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
                if (mount_setattr(rootfd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
                        return kiln_err(err, -errno, "remount / read-only: %s", strerror(errno));
        }
        return 0;
}
