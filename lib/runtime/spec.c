/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI runtime-spec generation: an image config plus `kiln run` flags become
 * a config.json the way dockerd builds one (moby daemon/oci_linux.go,
 * daemon/pkg/oci/defaults.go, the containerd spec options it applies):
 * default mounts, namespaces, capabilities, masked/read-only paths, device
 * cgroup rules, seccomp, user/group resolution in the rootfs, ENTRYPOINT
 * and CMD merging, environment defaults. See docs/internals/runtime-spec.md.
 */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <dirent.h>

#include "kiln/fs.h"
#include "kiln/runtime.h"
#include "runtime-internal.h"

#define OCI_VERSION "1.0.2"
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* podman's default RLIMIT_NOFILE; kiln caps it at the caller's hard limit */
#define NOFILE_DEFAULT 1048576ull
/* /etc/passwd and /etc/group larger than this are refused */
#define ETC_FILE_MAX (8u << 20)
#define ID_MAX 2147483647L
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* ------------------------------------------------------------------ */
/* capabilities                                                        */
/* ------------------------------------------------------------------ */

static const char *const default_caps[] = {
        "CAP_CHOWN",      "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
        "CAP_MKNOD",      "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
        "CAP_SETFCAP",    "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
        "CAP_KILL",       "CAP_AUDIT_WRITE",  NULL,
};

/* Every capability name, by number (linux/capability.h). */
static const char *const cap_names[] = {
        "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
        "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
        "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
        "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
};

static const char *all_caps[KILN_ARRAY_SIZE(cap_names) + 1];
static size_t n_all_caps;
static pthread_once_t all_caps_once = PTHREAD_ONCE_INIT;

static void all_caps_init(void)
{
        long last = (long)KILN_ARRAY_SIZE(cap_names) - 1;
        _cleanup_free_ char *s = NULL;
        size_t len;
        if (kiln_fs_read_file(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", 64, &s, &len) == 0) {
                char *end;
                long v = strtol(s, &end, 10);
                if (end != s && v >= 0 && v < last)
                        last = v;
        }
        for (long i = 0; i <= last; i++)
                all_caps[n_all_caps++] = cap_names[i];
        all_caps[n_all_caps] = NULL;
}

const char *const *kiln_spec_default_caps(void)
{
        return default_caps;
}

const char *const *kiln_spec_all_caps(void)
{
        pthread_once(&all_caps_once, all_caps_init);
        return all_caps;
}

static bool strv_contains(char *const *v, const char *s)
{
        for (; v && *v; v++)
                if (!strcmp(*v, s))
                        return true;
        return false;
}

/* Append a copy of s to the NULL-terminated vector *v (of length *n). */
static void strv_push(char ***v, size_t *n, const char *s)
{
        *v = kiln_xrealloc(*v, (*n + 2) * sizeof(char *));
        (*v)[(*n)++] = kiln_xstrdup(s);
        (*v)[*n] = NULL;
}

static bool cap_known(const char *c)
{
        for (size_t i = 0; i < KILN_ARRAY_SIZE(cap_names); i++)
                if (!strcmp(cap_names[i], c))
                        return true;
        return false;
}

static char **strv_new(void)
{
        return kiln_xcalloc(1, sizeof(char *));
}

/*
 * Upper-case, add "CAP_", check the name is known to kiln and the kernel
 * ("ALL" passes through), as moby's NormalizeLegacyCapabilities.
 */
static int normalize_caps(char *const *in, char ***ret, struct kiln_error *err)
{
        _cleanup_strv_free_ char **out = strv_new();
        size_t n = 0;
        const char *const *known = kiln_spec_all_caps();
        for (; in && *in; in++) {
                bool prefix = strncasecmp(*in, "CAP_", 4) && strcasecmp(*in, "ALL");
                _cleanup_free_ char *c = kiln_xasprintf("%s%s", prefix ? "CAP_" : "", *in);
                for (char *p = c; *p; p++)
                        *p = (char)toupper((unsigned char)*p);
                if (strcmp(c, "ALL")) {
                        if (!cap_known(c))
                                return kiln_err(err, -EINVAL, "unknown capability: \"%s\"", c);
                        if (!strv_contains((char *const *)known, c))
                                return kiln_err(err, -EINVAL,
                                                "capability not supported by your kernel or not "
                                                "available in the current environment: \"%s\"", c);
                }
                if (!strv_contains(out, c))
                        strv_push(&out, &n, c);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* moby's TweakCapabilities: the capability set of the container. */
static int tweak_caps(const struct kiln_run_opts *opts, char ***ret, struct kiln_error *err)
{
        _cleanup_strv_free_ char **out = strv_new();
        size_t n = 0;
        if (opts->privileged) {
                for (const char *const *c = kiln_spec_all_caps(); *c; c++)
                        strv_push(&out, &n, *c);
                *ret = TAKE_PTR(out);
                return 0;
        }
        _cleanup_strv_free_ char **add = NULL, **drop = NULL;
        int r = normalize_caps(opts->cap_drop, &drop, err);
        if (r < 0)
                return r;
        r = normalize_caps(opts->cap_add, &add, err);
        if (r < 0)
                return r;
        if (strv_contains(add, "ALL")) {
                for (const char *const *c = kiln_spec_all_caps(); *c; c++)
                        if (!strv_contains(drop, *c))
                                strv_push(&out, &n, *c);
        } else if (strv_contains(drop, "ALL")) {
                for (char **c = add; *c; c++)
                        strv_push(&out, &n, *c);
        } else {
                for (const char *const *c = default_caps; *c; c++)
                        if (!strv_contains(drop, *c))
                                strv_push(&out, &n, *c);
                for (char **c = add; *c; c++)
                        if (!strv_contains(out, *c))
                                strv_push(&out, &n, *c);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static json_t *strv_to_json(char *const *v)
{
        json_t *a = json_array();
        for (; v && *v; v++)
                json_array_append_new(a, json_string(*v));
        return a;
}

/* ------------------------------------------------------------------ */
/* users and groups                                                    */
/* ------------------------------------------------------------------ */

struct user_info {
        uint32_t uid, gid;
        char *home;
        uint32_t *gids; /* additionalGids: the primary gid first */
        size_t n_gids;
};

static void user_info_done(struct user_info *u)
{
        free(u->home);
        free(u->gids);
}

/* Parse a decimal id; -1 if s is not one (no sign, no spaces), -2 if out of range. */
static long parse_id(const char *s)
{
        if (!*s)
                return -1;
        long v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -1;
                if (v > ID_MAX)
                        return -2;
                v = v * 10 + (*p - '0');
        }
        return v > ID_MAX ? -2 : v;
}

/*
 * Read ROOTFS/etc/NAME, resolved inside the rootfs (symlinks cannot lead
 * out). A missing file (or one that is not a regular file) reads as empty.
 */
static int read_etc(int rootfd, const char *name, char **ret, struct kiln_error *err)
{
        _cleanup_free_ char *path = kiln_xasprintf("etc/%s", name);
        _cleanup_close_ int fd = kiln_fs_open_in_root(rootfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
        if (fd == -ENOENT || fd == -ENOTDIR) {
                *ret = kiln_xstrdup("");
                return 0;
        }
        if (fd < 0)
                return kiln_err(err, fd, "cannot open /etc/%s in the rootfs: %s", name, kiln_strerror(fd));
        struct stat st;
        if (fstat(fd, &st) < 0)
                return kiln_err(err, -errno, "cannot stat /etc/%s in the rootfs: %s", name, strerror(errno));
        if (!S_ISREG(st.st_mode)) {
                *ret = kiln_xstrdup("");
                return 0;
        }
        size_t len;
        int r = kiln_fs_read_fd(fd, ETC_FILE_MAX, ret, &len);
        if (r < 0)
                return kiln_err(err, r, "cannot read /etc/%s in the rootfs: %s", name, kiln_strerror(r));
        return 0;
}

/* Split one line of a colon-separated file into at most max fields (in place). */
static size_t split_fields(char *line, char **f, size_t max)
{
        size_t n = 0;
        f[n++] = line;
        for (char *p = line; *p && n < max; p++)
                if (*p == ':') {
                        *p = 0;
                        f[n++] = p + 1;
                }
        return n;
}

/* Iterate the lines of buf (modified in place); skips blank and comment lines. */
static char *next_line(char **cursor)
{
        while (*cursor && **cursor) {
                char *line = *cursor;
                char *nl = strchr(line, '\n');
                if (nl) {
                        *nl = 0;
                        *cursor = nl + 1;
                } else {
                        *cursor = line + strlen(line);
                }
                while (*line == ' ' || *line == '\t')
                        line++;
                size_t l = strlen(line);
                while (l && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
                        line[--l] = 0;
                if (*line && *line != '#')
                        return line;
        }
        return NULL;
}

static void add_gid(struct user_info *u, uint32_t gid)
{
        for (size_t i = 0; i < u->n_gids; i++)
                if (u->gids[i] == gid)
                        return;
        u->gids = kiln_xrealloc(u->gids, (u->n_gids + 1) * sizeof(*u->gids));
        u->gids[u->n_gids++] = gid;
}

/*
 * Docker's user resolution (moby/sys/user GetExecUser): "user", "uid",
 * "user:group", "uid:gid". Names must exist in the rootfs's passwd/group;
 * numeric ids need no entry. Without an explicit group, the groups whose
 * member list names the user are the supplementary groups.
 */
static int resolve_user(int rootfd, const char *spec, struct user_info *ret, struct kiln_error *err)
{
        _cleanup_free_ char *user = kiln_xstrdup(spec ? spec : "");
        char *group = strchr(user, ':');
        if (group)
                *group++ = 0;
        struct user_info u = { .uid = 0, .gid = 0 };

        _cleanup_free_ char *passwd = NULL, *groupf = NULL;
        int r = read_etc(rootfd, "passwd", &passwd, err);
        if (r < 0)
                return r;
        long uid_arg = parse_id(user);
        _cleanup_free_ char *matched = NULL, *home = NULL;
        char *cur = passwd, *line;
        while ((line = next_line(&cur))) {
                char *f[7];
                if (split_fields(line, f, 7) < 7)
                        continue;
                long puid = parse_id(f[2]), pgid = parse_id(f[3]);
                if (puid < 0 || pgid < 0)
                        continue;
                bool match = *user ? (!strcmp(f[0], user) || (uid_arg >= 0 && puid == uid_arg))
                                   : puid == 0;
                if (!match)
                        continue;
                u.uid = (uint32_t)puid;
                u.gid = (uint32_t)pgid;
                matched = kiln_xstrdup(f[0]);
                home = kiln_xstrdup(f[5]);
                break;
        }
        if (!matched && *user) {
                if (uid_arg == -1)
                        return kiln_err(err, -KILN_ENOTFOUND,
                                        "unable to find user %s: no matching entries in passwd file", user);
                if (uid_arg < 0)
                        return kiln_err(err, -EINVAL, "invalid user %s: uids and gids must be in range 0-%ld",
                                        user, ID_MAX);
                u.uid = (uint32_t)uid_arg;
        }

        if (group || matched) {
                r = read_etc(rootfd, "group", &groupf, err);
                if (r < 0)
                        return r;
        }
        long gid_arg = group ? parse_id(group) : -1;
        bool group_found = false;
        _cleanup_free_ uint32_t *sgids = NULL;
        size_t n_sgids = 0;
        if (group && !*group)
                return kiln_err(err, -EINVAL, "invalid user %s: empty group", spec);
        cur = groupf;
        while ((group || matched) && (line = next_line(&cur))) {
                char *f[4];
                if (split_fields(line, f, 4) < 4)
                        continue;
                long g = parse_id(f[2]);
                if (g < 0)
                        continue;
                if (group) {
                        if (gid_arg == -1 ? !strcmp(f[0], group) : g == gid_arg) {
                                u.gid = (uint32_t)g;
                                group_found = true;
                                break;
                        }
                        continue;
                }
                /* membership: the user's name in the comma-separated list */
                for (char *m = f[3]; *m;) {
                        char *e = strchrnul(m, ',');
                        size_t l = (size_t)(e - m);
                        while (l && m[l - 1] == ' ')
                                l--;
                        while (l && *m == ' ')
                                m++, l--;
                        if (l == strlen(matched) && !strncmp(m, matched, l)) {
                                sgids = kiln_xrealloc(sgids, (n_sgids + 1) * sizeof(*sgids));
                                sgids[n_sgids++] = (uint32_t)g;
                                break;
                        }
                        m = *e ? e + 1 : e;
                }
        }
        if (group && !group_found) {
                if (gid_arg == -1)
                        return kiln_err(err, -KILN_ENOTFOUND,
                                        "unable to find group %s: no matching entries in group file", group);
                if (gid_arg < 0)
                        return kiln_err(err, -EINVAL, "invalid group %s: uids and gids must be in range 0-%ld",
                                        group, ID_MAX);
                u.gid = (uint32_t)gid_arg;
        }
        u.home = home && *home ? TAKE_PTR(home) : kiln_xstrdup("/");
        add_gid(&u, u.gid);
        for (size_t i = 0; i < n_sgids; i++)
                add_gid(&u, sgids[i]);
        *ret = u;
        return 0;
}

/* ------------------------------------------------------------------ */
/* small helpers                                                       */
/* ------------------------------------------------------------------ */

/* Go's path.Clean for absolute paths: "//a/./b/../c/" -> "/a/c". */
static char *clean_abs_path(const char *p)
{
        size_t n = strlen(p);
        char *out = kiln_xmalloc(n + 2);
        size_t o = 0;
        out[o++] = '/';
        const char *s = p;
        while (*s) {
                while (*s == '/')
                        s++;
                if (!*s)
                        break;
                const char *e = strchrnul(s, '/');
                size_t l = (size_t)(e - s);
                if (l == 1 && s[0] == '.') {
                        /* skip */
                } else if (l == 2 && s[0] == '.' && s[1] == '.') {
                        while (o > 1 && out[o - 1] != '/')
                                o--;
                        if (o > 1)
                                o--;
                } else {
                        if (o > 1)
                                out[o++] = '/';
                        memcpy(out + o, s, l);
                        o += l;
                }
                s = e;
        }
        out[o] = 0;
        return out;
}

static size_t path_depth(const char *p)
{
        size_t d = 0;
        for (; *p; p++)
                if (*p == '/')
                        d++;
        return d;
}

/* Replace the entry with kv's key in env (or append); a bare "K" removes K. */
static void env_set(char ***env, size_t *n, const char *kv)
{
        const char *eq = strchr(kv, '=');
        size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
        for (size_t i = 0; i < *n; i++) {
                if (!strncmp((*env)[i], kv, klen) && (*env)[i][klen] == '=') {
                        if (eq) {
                                free((*env)[i]);
                                (*env)[i] = kiln_xstrdup(kv);
                        } else {
                                free((*env)[i]);
                                memmove(&(*env)[i], &(*env)[i + 1], (*n - i) * sizeof(char *));
                                (*n)--;
                        }
                        return;
                }
        }
        if (eq)
                strv_push(env, n, kv);
}

static bool env_has(char *const *env, const char *key)
{
        size_t l = strlen(key);
        for (; env && *env; env++)
                if (!strncmp(*env, key, l) && (*env)[l] == '=')
                        return true;
        return false;
}

/* Image config array of strings ("Cmd", "Entrypoint", "Env") -> vector; NULL if absent. */
static int config_strv(json_t *cfg, const char *key, char ***ret, struct kiln_error *err)
{
        json_t *a = json_object_get(cfg, key);
        if (!a || json_is_null(a)) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_array(a))
                return kiln_err(err, -KILN_EFORMAT, "image config: %s: not an array", key);
        char **v = kiln_xcalloc(json_array_size(a) + 1, sizeof(char *));
        size_t i;
        json_t *s;
        json_array_foreach(a, i, s) {
                if (!json_is_string(s)) {
                        kiln_strv_free(v);
                        return kiln_err(err, -KILN_EFORMAT, "image config: %s[%zu]: not a string", key, i);
                }
                v[i] = kiln_xstrdup(json_string_value(s));
        }
        *ret = v;
        return 0;
}

static const char *config_str(json_t *cfg, const char *key)
{
        const char *s = json_string_value(json_object_get(cfg, key));
        return s && *s ? s : NULL;
}

static json_t *mount_new(const char *dest, const char *type, const char *source, const char *options)
{
        json_t *m = json_object();
        json_object_set_new(m, "destination", json_string(dest));
        json_object_set_new(m, "type", json_string(type));
        json_object_set_new(m, "source", json_string(source));
        if (options) {
                _cleanup_free_ char *o = kiln_xstrdup(options);
                json_t *a = json_array();
                char *save = NULL;
                for (char *t = strtok_r(o, ",", &save); t; t = strtok_r(NULL, ",", &save))
                        json_array_append_new(a, json_string(t));
                json_object_set_new(m, "options", a);
        }
        return m;
}

static bool json_strarr_has(json_t *a, const char *s)
{
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) if (!strcmp(json_string_value(v), s)) return true;
        return false;
}

static void json_strarr_remove(json_t *a, const char *s)
{
        for (size_t i = 0; i < json_array_size(a);) {
                if (!strcmp(json_string_value(json_array_get(a, i)), s))
                        json_array_remove(a, i);
                else
                        i++;
        }
}

static bool is_propagation(const char *o)
{
        static const char *const p[] = { "private", "rprivate", "shared", "rshared",
                                         "slave",   "rslave",   "unbindable", "runbindable" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(p); i++)
                if (!strcmp(p[i], o))
                        return true;
        return false;
}

/*
 * The group a mount option belongs to, for "last one wins" merging (moby's
 * MergeTmpfsOptions): flags and their negations share a group, key=value
 * options are grouped by key.
 */
static char *option_group(const char *o)
{
        static const char *const pairs[][2] = {
                { "exec", "noexec" },       { "suid", "nosuid" },         { "dev", "nodev" },
                { "ro", "rw" },             { "atime", "noatime" },       { "diratime", "nodiratime" },
                { "relatime", "norelatime" }, { "strictatime", "nostrictatime" },
                { "sync", "async" },        { "mand", "nomand" },         { "bind", "rbind" },
        };
        if (is_propagation(o))
                return kiln_xstrdup("propagation");
        for (size_t i = 0; i < KILN_ARRAY_SIZE(pairs); i++)
                if (!strcmp(o, pairs[i][0]) || !strcmp(o, pairs[i][1]))
                        return kiln_xstrdup(pairs[i][0]);
        const char *eq = strchr(o, '=');
        return eq ? kiln_xstrndup(o, (size_t)(eq - o) + 1) : kiln_xstrdup(o);
}

/* Merge options: for each group only the last occurrence stays, at its position. */
static json_t *merge_options(char **opts, size_t n)
{
        json_t *out = json_array();
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *g = option_group(opts[i]);
                bool later = false;
                for (size_t j = i + 1; j < n && !later; j++) {
                        _cleanup_free_ char *g2 = option_group(opts[j]);
                        later = !strcmp(g, g2);
                }
                if (!later)
                        json_array_append_new(out, json_string(opts[i]));
        }
        return out;
}

/* One -v/--mount/--tmpfs request as an OCI mount, Docker's options. */
static int user_mount(const struct kiln_mount_req *req, json_t **ret, struct kiln_error *err)
{
        if (!req->destination || req->destination[0] != '/')
                return kiln_err(err, -EINVAL, "invalid mount destination '%s': not an absolute path",
                                req->destination ? req->destination : "");
        _cleanup_free_ char *dest = clean_abs_path(req->destination);
        _cleanup_strv_free_ char **o = strv_new();
        size_t n = 0;
        json_t *m;
        if (req->type && !strcmp(req->type, "tmpfs")) {
                static const char *const base[] = { "noexec", "nosuid", "nodev", "rprivate" };
                for (size_t i = 0; i < KILN_ARRAY_SIZE(base); i++)
                        strv_push(&o, &n, base[i]);
                for (char *const *x = req->options; x && *x; x++)
                        strv_push(&o, &n, *x);
                if (req->readonly)
                        strv_push(&o, &n, "ro");
                m = mount_new(dest, "tmpfs", "tmpfs", NULL);
                json_object_set_new(m, "options", merge_options(o, n));
        } else if (req->type && !strcmp(req->type, "bind")) {
                if (!req->source || req->source[0] != '/')
                        return kiln_err(err, -EINVAL, "invalid mount source '%s' for %s: not an absolute path",
                                        req->source ? req->source : "", dest);
                const char *bind = "rbind", *prop = "rprivate";
                bool ro = req->readonly;
                _cleanup_strv_free_ char **extra = strv_new();
                size_t ne = 0;
                for (char *const *x = req->options; x && *x; x++) {
                        if (!strcmp(*x, "bind") || !strcmp(*x, "rbind"))
                                bind = *x;
                        else if (is_propagation(*x))
                                prop = *x;
                        else if (!strcmp(*x, "ro"))
                                ro = true;
                        else if (!strcmp(*x, "rw"))
                                ro = req->readonly;
                        else if (!strv_contains(extra, *x))
                                strv_push(&extra, &ne, *x);
                }
                strv_push(&o, &n, bind);
                strv_push(&o, &n, ro ? "ro" : "rw");
                strv_push(&o, &n, prop);
                for (char **x = extra; *x; x++)
                        strv_push(&o, &n, *x);
                m = mount_new(dest, "bind", req->source, NULL);
                json_object_set_new(m, "options", strv_to_json(o));
        } else {
                return kiln_err(err, -EINVAL, "unsupported mount type '%s' for %s",
                                req->type ? req->type : "", dest);
        }
        *ret = m;
        return 0;
}

static bool id_mapped(const struct kiln_id_map *maps, size_t n, uint32_t id)
{
        for (size_t i = 0; i < n; i++)
                if (id >= maps[i].container_id && id - maps[i].container_id < maps[i].size)
                        return true;
        return false;
}

static json_t *id_maps_json(const struct kiln_id_map *maps, size_t n)
{
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
                json_t *m = json_object();
                json_object_set_new(m, "containerID", json_integer(maps[i].container_id));
                json_object_set_new(m, "hostID", json_integer(maps[i].host_id));
                json_object_set_new(m, "size", json_integer(maps[i].size));
                json_array_append_new(a, m);
        }
        return a;
}

static json_t *ns_new(const char *type, const char *path)
{
        json_t *n = json_object();
        json_object_set_new(n, "type", json_string(type));
        if (path)
                json_object_set_new(n, "path", json_string(path));
        return n;
}

static json_t *dev_rule(bool allow, const char *type, int64_t major, int64_t minor, const char *access)
{
        json_t *d = json_object();
        json_object_set_new(d, "allow", json_boolean(allow));
        if (type)
                json_object_set_new(d, "type", json_string(type));
        if (major >= 0) /* an absent number is the wildcard; -1 is not valid JSON for runtimes */
                json_object_set_new(d, "major", json_integer(major));
        if (minor >= 0)
                json_object_set_new(d, "minor", json_integer(minor));
        json_object_set_new(d, "access", json_string(access));
        return d;
}

static const char *const masked_paths[] = {
        "/proc/acpi",        "/proc/asound",       "/proc/interrupts", "/proc/kcore",
        "/proc/keys",        "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi",
        "/proc/timer_list",  "/proc/timer_stats",  "/sys/devices/virtual/powercap",
        "/sys/firmware",
};
static const char *const readonly_paths[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static json_t *cstr_array(const char *const *v, size_t n)
{
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_string(v[i]));
        return a;
}

/* RLIMIT_NOFILE: podman's 1048576, never above what the caller may set. */
static json_t *default_rlimits(void)
{
        struct rlimit rl;
        uint64_t v = NOFILE_DEFAULT;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
            (uint64_t)rl.rlim_max < v)
                v = (uint64_t)rl.rlim_max;
        json_t *a = json_array();
        json_t *r = json_object();
        json_object_set_new(r, "type", json_string("RLIMIT_NOFILE"));
        json_object_set_new(r, "hard", json_integer((json_int_t)v));
        json_object_set_new(r, "soft", json_integer((json_int_t)v));
        json_array_append_new(a, r);
        return a;
}

static bool sysctl_exists(const char *rel)
{
        _cleanup_free_ char *p = kiln_xasprintf("/proc/sys/%s", rel);
        return access(p, F_OK) == 0;
}

/* ------------------------------------------------------------------ */
/* kiln_spec_generate                                                  */
/* ------------------------------------------------------------------ */

static int build_args(json_t *cfg, const struct kiln_run_opts *opts, json_t **ret, struct kiln_error *err)
{
        _cleanup_strv_free_ char **img_entry = NULL, **img_cmd = NULL;
        int r = config_strv(cfg, "Entrypoint", &img_entry, err);
        if (r < 0)
                return r;
        r = config_strv(cfg, "Cmd", &img_cmd, err);
        if (r < 0)
                return r;
        /* moby's merge() + mergeAndVerifyConfig() */
        char *const *entry, *const *cmd = opts->cmd;
        if (kiln_strv_len(opts->entrypoint) == 0) {
                if (kiln_strv_len(cmd) == 0)
                        cmd = img_cmd;
                entry = opts->entrypoint ? opts->entrypoint : img_entry;
        } else {
                entry = opts->entrypoint;
        }
        if (kiln_strv_len(entry) == 1 && !entry[0][0])
                entry = NULL;
        if (kiln_strv_len(entry) == 0 && kiln_strv_len(cmd) == 0)
                return kiln_err(err, -EINVAL, "no command specified");
        json_t *a = strv_to_json(entry);
        for (char *const *c = cmd; c && *c; c++)
                json_array_append_new(a, json_string(*c));
        *ret = a;
        return 0;
}

static int build_env(json_t *cfg, const struct kiln_run_opts *opts, const char *hostname,
                     const char *home, json_t **ret, struct kiln_error *err)
{
        _cleanup_strv_free_ char **img_env = NULL;
        int r = config_strv(cfg, "Env", &img_env, err);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **env = strv_new();
        size_t n = 0;
        _cleanup_free_ char *hn = kiln_xasprintf("HOSTNAME=%s", hostname);
        strv_push(&env, &n, "PATH=" DEFAULT_PATH);
        strv_push(&env, &n, hn);
        if (opts->tty)
                strv_push(&env, &n, "TERM=xterm");
        for (char **e = img_env; e && *e; e++)
                env_set(&env, &n, *e);
        for (char *const *e = opts->env; e && *e; e++) {
                if (!**e || **e == '=')
                        return kiln_err(err, -EINVAL, "invalid environment variable '%s'", *e);
                env_set(&env, &n, *e);
        }
        if (!env_has(env, "HOME")) {
                _cleanup_free_ char *h = kiln_xasprintf("HOME=%s", home);
                strv_push(&env, &n, h);
        }
        *ret = strv_to_json(env);
        return 0;
}

static int build_mounts(const struct kiln_run_opts *opts, json_t **ret, struct kiln_error *err)
{
        json_t *user = json_array();
        for (size_t i = 0; i < opts->n_mounts; i++) {
                json_t *m = NULL;
                int r = user_mount(&opts->mounts[i], &m, err);
                if (r < 0) {
                        json_decref(user);
                        return r;
                }
                /* stable sort by depth, parents before children (moby's sortMounts) */
                size_t d = path_depth(json_string_value(json_object_get(m, "destination")));
                size_t pos = json_array_size(user);
                while (pos > 0 &&
                       path_depth(json_string_value(json_object_get(json_array_get(user, pos - 1),
                                                                    "destination"))) > d)
                        pos--;
                json_array_insert_new(user, pos, m);
        }
        /* a new user namespace, or kiln's own (rootless kiln runs in one) */
        bool userns = opts->userns || opts->rootless || kiln_in_userns();
        bool sys_bind = userns && opts->netns != KILN_NETNS_PRIVATE;

        json_t *defs = json_array();
        json_array_append_new(defs, mount_new("/proc", "proc", "proc", "nosuid,noexec,nodev"));
        json_array_append_new(defs, mount_new("/dev", "tmpfs", "tmpfs",
                                              "nosuid,strictatime,mode=755,size=65536k"));
        /* gid=5 fails in a user namespace that does not map gid 5 */
        bool tty_gid = !userns || (opts->n_gid_maps ? id_mapped(opts->gid_maps, opts->n_gid_maps, 5)
                                                    : (!opts->userns && !opts->rootless && kiln_id_mapped(true, 5)));
        json_array_append_new(defs, mount_new("/dev/pts", "devpts", "devpts",
                                              tty_gid ? "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"
                                                      : "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620"));
        if (sys_bind)
                /* sysfs can only be mounted by the owner of the network namespace */
                json_array_append_new(defs, mount_new("/sys", "bind", "/sys", "rbind,nosuid,noexec,nodev,ro"));
        else
                json_array_append_new(defs, mount_new("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
        json_array_append_new(defs, mount_new("/sys/fs/cgroup", "cgroup", "cgroup", "ro,nosuid,noexec,nodev"));
        json_array_append_new(defs, mount_new("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
        json_array_append_new(defs, mount_new("/dev/shm", "tmpfs", "shm",
                                              "nosuid,noexec,nodev,mode=1777,size=65536k"));

        json_t *out = json_array();
        bool user_dev = false;
        size_t i;
        json_t *m;
        json_array_foreach(user, i, m) if (!strcmp(json_string_value(json_object_get(m, "destination")), "/dev")) user_dev = true;
        json_array_foreach(defs, i, m) {
                const char *dest = json_string_value(json_object_get(m, "destination"));
                bool overridden = false;
                size_t j;
                json_t *um;
                json_array_foreach(user, j, um) if (!strcmp(json_string_value(json_object_get(um, "destination")), dest)) overridden = true;
                if (overridden || (user_dev && kiln_startswith(dest, "/dev/")))
                        continue;
                json_t *o = json_object_get(m, "options");
                /* --read-only: the default mounts but these become read-only too */
                if (opts->read_only && strcmp(dest, "/proc") && strcmp(dest, "/dev") &&
                    strcmp(dest, "/dev/pts") && strcmp(dest, "/dev/shm") && strcmp(dest, "/dev/mqueue") &&
                    !json_strarr_has(o, "ro"))
                        json_array_append_new(o, json_string("ro"));
                if (opts->privileged && !strcmp(dest, "/sys"))
                        json_strarr_remove(o, "ro");
                /* privileged, or a user namespace: cgroupfs stays writable (as dockerd) */
                if ((opts->privileged || userns) &&
                    !strcmp(json_string_value(json_object_get(m, "type")), "cgroup"))
                        json_strarr_remove(o, "ro");
                json_array_append(out, m);
        }
        json_array_extend(out, user);
        json_decref(defs);
        json_decref(user);
        *ret = out;
        return 0;
}

static json_t *build_resources(const struct kiln_run_opts *opts)
{
        json_t *res = json_object();
        json_t *devs = json_array();
        if (opts->privileged) {
                json_array_append_new(devs, dev_rule(true, NULL, -2, -2, "rwm"));
        } else {
                json_array_append_new(devs, dev_rule(false, NULL, -2, -2, "rwm"));
                json_array_append_new(devs, dev_rule(true, "c", -1, -1, "m"));
                json_array_append_new(devs, dev_rule(true, "b", -1, -1, "m"));
                static const int cdevs[][2] = {
                        { 1, 3 }, { 1, 5 }, { 1, 7 }, { 1, 8 }, { 1, 9 },
                        { 5, 0 }, { 5, 1 }, { 5, 2 }, { 136, -1 }, { 10, 200 },
                };
                for (size_t i = 0; i < KILN_ARRAY_SIZE(cdevs); i++)
                        json_array_append_new(devs, dev_rule(true, "c", cdevs[i][0], cdevs[i][1], "rwm"));
        }
        json_object_set_new(res, "devices", devs);

        if (opts->memory > 0 || opts->memory_swap != 0) {
                json_t *mem = json_object();
                if (opts->memory > 0)
                        json_object_set_new(mem, "limit", json_integer(opts->memory));
                int64_t swap = opts->memory_swap;
                /* dockerd: without --memory-swap, swap may be as large as memory */
                if (swap == 0 && opts->memory > 0)
                        swap = opts->memory * 2;
                if (swap != 0)
                        json_object_set_new(mem, "swap", json_integer(swap < 0 ? -1 : swap));
                json_object_set_new(res, "memory", mem);
        }
        if (opts->cpu_shares || opts->cpus > 0) {
                json_t *cpu = json_object();
                if (opts->cpu_shares)
                        json_object_set_new(cpu, "shares", json_integer((json_int_t)opts->cpu_shares));
                if (opts->cpus > 0) {
                        /* dockerd: quota = NanoCPUs * period / 1e9 */
                        int64_t nano = (int64_t)(opts->cpus * 1e9 + 0.5);
                        json_object_set_new(cpu, "quota", json_integer(nano * 100000 / 1000000000));
                        json_object_set_new(cpu, "period", json_integer(100000));
                }
                json_object_set_new(res, "cpu", cpu);
        }
        if (opts->pids_limit) {
                json_t *p = json_object();
                json_object_set_new(p, "limit", json_integer(opts->pids_limit > 0 ? opts->pids_limit : -1));
                json_object_set_new(res, "pids", p);
        }
        return res;
}

/* linux.devices for --privileged: every device node under the host's /dev. */
static void host_devices(json_t *out, int fd, const char *prefix, unsigned depth)
{
        if (depth > 8)
                return;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue; /* ., .., .udev, .lxc, .lxd-mounts */
                _cleanup_free_ char *path = kiln_xasprintf("%s/%s", prefix, de->d_name);
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        if (depth == 0 && (!strcmp(de->d_name, "pts") || !strcmp(de->d_name, "shm") ||
                                           !strcmp(de->d_name, "mqueue") || !strcmp(de->d_name, "fd")))
                                continue;
                        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0)
                                host_devices(out, sub, path, depth + 1);
                        continue;
                }
                if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
                        continue;
                /* the runtime makes these itself */
                if (!strcmp(path, "/dev/console") || !strcmp(path, "/dev/ptmx") || !strcmp(path, "/dev/tty"))
                        continue;
                json_t *dev = json_object();
                json_object_set_new(dev, "path", json_string(path));
                json_object_set_new(dev, "type", json_string(S_ISCHR(st.st_mode) ? "c" : "b"));
                json_object_set_new(dev, "major", json_integer(major(st.st_rdev)));
                json_object_set_new(dev, "minor", json_integer(minor(st.st_rdev)));
                json_object_set_new(dev, "fileMode", json_integer(st.st_mode & 07777));
                json_object_set_new(dev, "uid", json_integer(st.st_uid));
                json_object_set_new(dev, "gid", json_integer(st.st_gid));
                json_array_append_new(out, dev);
        }
        closedir(d);
}

int kiln_spec_generate(json_t *image_config, const struct kiln_run_opts *opts, const char *rootfs,
                       json_t **ret_spec, struct kiln_error *err)
{
        if (!opts || !opts->id || !*opts->id || !rootfs)
                return kiln_err(err, -EINVAL, "spec: container id and rootfs are required");
        if (image_config && !json_is_object(image_config) && !json_is_null(image_config))
                return kiln_err(err, -KILN_EFORMAT, "image config: not an object");
        json_t *cfg = json_is_object(image_config) ? image_config : NULL;
        if (opts->netns == KILN_NETNS_PATH && (!opts->netns_path || opts->netns_path[0] != '/'))
                return kiln_err(err, -EINVAL, "network namespace path '%s': not an absolute path",
                                opts->netns_path ? opts->netns_path : "");

        _cleanup_close_ int rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return kiln_err(err, -errno, "rootfs %s: %s", rootfs, strerror(errno));

        /* hostname: -h, the host's with --network host (as dockerd), else the short id */
        char hostbuf[HOST_NAME_MAX + 1] = "";
        _cleanup_free_ char *hostname = NULL;
        if (opts->hostname && *opts->hostname)
                hostname = kiln_xstrdup(opts->hostname);
        else if (opts->netns == KILN_NETNS_HOST && gethostname(hostbuf, sizeof(hostbuf) - 1) == 0)
                hostname = kiln_xstrdup(hostbuf);
        else
                hostname = kiln_xstrndup(opts->id, 12);

        const char *user_spec = opts->user && *opts->user ? opts->user : config_str(cfg, "User");
        struct user_info u = { 0 };
        int r = resolve_user(rootfd, user_spec, &u, err);
        if (r < 0)
                return r;

        json_t *spec = json_object();
        json_t *args = NULL, *env = NULL, *mounts = NULL;
        _cleanup_strv_free_ char **caps = NULL;
        _cleanup_free_ char *cwd = NULL, *cgpath = NULL;
        r = build_args(cfg, opts, &args, err);
        if (r >= 0)
                r = build_env(cfg, opts, hostname, u.home, &env, err);
        if (r >= 0)
                r = tweak_caps(opts, &caps, err);
        if (r >= 0)
                r = build_mounts(opts, &mounts, err);
        if (r < 0)
                goto fail;

        const char *cwd_in = opts->workdir && *opts->workdir ? opts->workdir : config_str(cfg, "WorkingDir");
        if (cwd_in && cwd_in[0] != '/') {
                r = kiln_err(err, -EINVAL,
                             "the working directory '%s' is invalid, it needs to be an absolute path", cwd_in);
                goto fail;
        }
        cwd = clean_abs_path(cwd_in ? cwd_in : "/");

        json_object_set_new(spec, "ociVersion", json_string(OCI_VERSION));

        json_t *proc = json_object();
        json_object_set_new(proc, "terminal", json_boolean(opts->tty));
        json_t *user = json_object();
        json_object_set_new(user, "uid", json_integer(u.uid));
        json_object_set_new(user, "gid", json_integer(u.gid));
        json_t *gids = json_array();
        for (size_t i = 0; i < u.n_gids; i++)
                json_array_append_new(gids, json_integer(u.gids[i]));
        json_object_set_new(user, "additionalGids", gids);
        json_object_set_new(proc, "user", user);
        json_object_set_new(proc, "args", TAKE_PTR(args));
        json_object_set_new(proc, "env", TAKE_PTR(env));
        json_object_set_new(proc, "cwd", json_string(cwd));
        json_t *capsj = json_object();
        json_object_set_new(capsj, "bounding", strv_to_json(caps));
        json_object_set_new(capsj, "effective", strv_to_json(caps));
        json_object_set_new(capsj, "permitted", strv_to_json(caps));
        json_object_set_new(proc, "capabilities", capsj);
        json_object_set_new(proc, "rlimits", default_rlimits());
        json_object_set_new(proc, "noNewPrivileges", json_boolean(opts->no_new_privileges));
        json_object_set_new(spec, "process", proc);

        json_t *root = json_object();
        json_object_set_new(root, "path", json_string(rootfs));
        json_object_set_new(root, "readonly", json_boolean(opts->read_only));
        json_object_set_new(spec, "root", root);
        json_object_set_new(spec, "hostname", json_string(hostname));
        json_object_set_new(spec, "mounts", TAKE_PTR(mounts));

        json_t *lx = json_object();
        bool userns = opts->userns || opts->rootless;
        if (userns) {
                if (opts->n_uid_maps || opts->n_gid_maps) {
                        json_object_set_new(lx, "uidMappings", id_maps_json(opts->uid_maps, opts->n_uid_maps));
                        json_object_set_new(lx, "gidMappings", id_maps_json(opts->gid_maps, opts->n_gid_maps));
                } else {
                        /* rootless without maps: the caller's own ids as root (runc spec --rootless) */
                        struct kiln_id_map um = { 0, (uint32_t)geteuid(), 1 }, gm = { 0, (uint32_t)getegid(), 1 };
                        json_object_set_new(lx, "uidMappings", id_maps_json(&um, 1));
                        json_object_set_new(lx, "gidMappings", id_maps_json(&gm, 1));
                }
        }
        if (opts->privileged && !opts->rootless && !kiln_in_userns()) {
                json_t *devices = json_array();
                int dfd = open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd >= 0)
                        host_devices(devices, dfd, "/dev", 0);
                json_object_set_new(lx, "devices", devices);
        }
        if (opts->netns == KILN_NETNS_PRIVATE) {
                json_t *sysctl = json_object();
                /* dockerd: unprivileged ICMP echo and low ports in a private netns */
                if (!userns && !kiln_in_userns() && sysctl_exists("net/ipv4/ping_group_range"))
                        json_object_set_new(sysctl, "net.ipv4.ping_group_range", json_string("0 2147483647"));
                if (sysctl_exists("net/ipv4/ip_unprivileged_port_start"))
                        json_object_set_new(sysctl, "net.ipv4.ip_unprivileged_port_start", json_string("0"));
                json_object_set_new(lx, "sysctl", sysctl);
        }
        json_object_set_new(lx, "resources", build_resources(opts));
        const char *parent = opts->cgroup_parent && *opts->cgroup_parent ? opts->cgroup_parent : "kiln";
        while (*parent == '/')
                parent++;
        cgpath = *parent ? kiln_xasprintf("/%s/%s", parent, opts->id)
                                              : kiln_xasprintf("/%s", opts->id);
        json_object_set_new(lx, "cgroupsPath", json_string(cgpath));

        /* dockerd's order: mount, network, uts, pid, ipc, user, cgroup */
        json_t *ns = json_array();
        json_array_append_new(ns, ns_new("mount", NULL));
        if (opts->netns == KILN_NETNS_PRIVATE)
                json_array_append_new(ns, ns_new("network", NULL));
        else if (opts->netns == KILN_NETNS_PATH)
                json_array_append_new(ns, ns_new("network", opts->netns_path));
        json_array_append_new(ns, ns_new("uts", NULL));
        json_array_append_new(ns, ns_new("pid", NULL));
        json_array_append_new(ns, ns_new("ipc", NULL));
        if (userns)
                json_array_append_new(ns, ns_new("user", NULL));
        json_array_append_new(ns, ns_new("cgroup", NULL));
        json_object_set_new(lx, "namespaces", ns);

        if (!opts->seccomp || strcmp(opts->seccomp, "unconfined")) {
                if (!opts->privileged) {
                        json_t *sc = NULL;
                        if (opts->seccomp)
                                r = kiln_spec_load_seccomp(opts->seccomp, caps, &sc, err);
                        else if (!(sc = kiln_spec_default_seccomp(caps)))
                                r = kiln_err(err, -ENOMEM, "cannot build the default seccomp profile");
                        if (r < 0) {
                                json_decref(lx);
                                goto fail;
                        }
                        json_object_set_new(lx, "seccomp", sc);
                }
        }
        if (!opts->privileged) {
                json_object_set_new(lx, "maskedPaths", cstr_array(masked_paths, KILN_ARRAY_SIZE(masked_paths)));
                json_object_set_new(lx, "readonlyPaths",
                                    cstr_array(readonly_paths, KILN_ARRAY_SIZE(readonly_paths)));
        }
        json_object_set_new(spec, "linux", lx);

        if (opts->annotations && *opts->annotations) {
                json_t *an = json_object();
                for (char *const *a = opts->annotations; *a; a++) {
                        const char *eq = strchr(*a, '=');
                        if (!eq || eq == *a) {
                                json_decref(an);
                                r = kiln_err(err, -EINVAL, "invalid annotation '%s': expected key=value", *a);
                                goto fail;
                        }
                        _cleanup_free_ char *k = kiln_xstrndup(*a, (size_t)(eq - *a));
                        json_object_set_new(an, k, json_string(eq + 1));
                }
                json_object_set_new(spec, "annotations", an);
        }
        user_info_done(&u);
        *ret_spec = spec;
        return 0;
fail:
        json_decref(args);
        json_decref(env);
        json_decref(mounts);
        json_decref(spec);
        user_info_done(&u);
        return r;
}

/* ------------------------------------------------------------------ */
/* kiln_spec_example                                                   */
/* ------------------------------------------------------------------ */

static bool cgroup2_unified(void)
{
        struct statfs sf;
        return statfs("/sys/fs/cgroup", &sf) == 0 && (unsigned long)sf.f_type == CGROUP2_SUPER_MAGIC;
}

json_t *kiln_spec_example(bool rootless)
{
        static const char *const ex_caps[] = { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" };
        static const char *const ex_masked[] = {
                "/proc/acpi",        "/proc/asound",     "/proc/kcore",        "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                "/sys/firmware",     "/proc/scsi",       "/sys/devices/virtual/tpm",
        };
        json_t *s = json_object();
        json_object_set_new(s, "ociVersion", json_string(OCI_VERSION));
        json_t *p = json_object();
        json_object_set_new(p, "terminal", json_true());
        json_t *u = json_object();
        json_object_set_new(u, "uid", json_integer(0));
        json_object_set_new(u, "gid", json_integer(0));
        json_object_set_new(p, "user", u);
        json_t *args = json_array();
        json_array_append_new(args, json_string("sh"));
        json_object_set_new(p, "args", args);
        json_t *env = json_array();
        json_array_append_new(env, json_string("PATH=" DEFAULT_PATH));
        json_array_append_new(env, json_string("TERM=xterm"));
        json_object_set_new(p, "env", env);
        json_object_set_new(p, "cwd", json_string("/"));
        json_t *c = json_object();
        json_object_set_new(c, "bounding", cstr_array(ex_caps, 3));
        json_object_set_new(c, "effective", cstr_array(ex_caps, 3));
        json_object_set_new(c, "permitted", cstr_array(ex_caps, 3));
        json_object_set_new(p, "capabilities", c);
        json_t *rl = json_array();
        json_t *r = json_object();
        json_object_set_new(r, "type", json_string("RLIMIT_NOFILE"));
        json_object_set_new(r, "hard", json_integer(1024));
        json_object_set_new(r, "soft", json_integer(1024));
        json_array_append_new(rl, r);
        json_object_set_new(p, "rlimits", rl);
        json_object_set_new(p, "noNewPrivileges", json_true());
        json_object_set_new(s, "process", p);
        json_t *root = json_object();
        json_object_set_new(root, "path", json_string("rootfs"));
        json_object_set_new(root, "readonly", json_true());
        json_object_set_new(s, "root", root);
        json_object_set_new(s, "hostname", json_string("kiln"));

        json_t *m = json_array();
        json_array_append_new(m, mount_new("/proc", "proc", "proc", NULL));
        json_array_append_new(m, mount_new("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
        /* rootless: no uid=/gid= options (the ids may not be mapped) */
        json_array_append_new(m, mount_new("/dev/pts", "devpts", "devpts",
                                           rootless ? "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620"
                                                    : "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
        json_array_append_new(m, mount_new("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
        json_array_append_new(m, mount_new("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
        if (rootless)
                json_array_append_new(m, mount_new("/sys", "bind", "/sys", "rbind,nosuid,noexec,nodev,ro"));
        else
                json_array_append_new(m, mount_new("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
        json_array_append_new(m, mount_new("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid,noexec,nodev,relatime,ro"));
        json_object_set_new(s, "mounts", m);

        json_t *lx = json_object();
        if (rootless) {
                struct kiln_id_map um = { 0, (uint32_t)geteuid(), 1 }, gm = { 0, (uint32_t)getegid(), 1 };
                json_object_set_new(lx, "uidMappings", id_maps_json(&um, 1));
                json_object_set_new(lx, "gidMappings", id_maps_json(&gm, 1));
        } else {
                json_t *res = json_object();
                json_t *devs = json_array();
                json_array_append_new(devs, dev_rule(false, NULL, -2, -2, "rwm"));
                json_object_set_new(res, "devices", devs);
                json_object_set_new(lx, "resources", res);
        }
        json_t *ns = json_array();
        json_array_append_new(ns, ns_new("pid", NULL));
        if (!rootless)
                json_array_append_new(ns, ns_new("network", NULL));
        json_array_append_new(ns, ns_new("ipc", NULL));
        json_array_append_new(ns, ns_new("uts", NULL));
        json_array_append_new(ns, ns_new("mount", NULL));
        if (cgroup2_unified())
                json_array_append_new(ns, ns_new("cgroup", NULL));
        if (rootless)
                json_array_append_new(ns, ns_new("user", NULL));
        json_object_set_new(lx, "namespaces", ns);
        json_object_set_new(lx, "maskedPaths", cstr_array(ex_masked, KILN_ARRAY_SIZE(ex_masked)));
        json_object_set_new(lx, "readonlyPaths", cstr_array(readonly_paths, KILN_ARRAY_SIZE(readonly_paths)));
        json_object_set_new(s, "linux", lx);
        return s;
}
