/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln's containers: records, the overlay root filesystem, the bundle.
 * The monitor (attached or detached) is in monitor.c.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include "container-internal.h"
#include "kiln/fs.h"
#include "kiln/image.h"
#include "kiln/layer.h"

char *kiln_container_state_root(void)
{
        const char *e = getenv("KILN_RUNTIME_ROOT");
        if (e && *e)
                return kiln_xstrdup(e);
        char *rt = kiln_rt_default_state_root();
        /* kiln's own containers live beside, not among, `kiln runtime`'s */
        char *r = kiln_xasprintf("%s-containers", rt);
        free(rt);
        return r;
}

void ctr_now_rfc3339(char *out, size_t n)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char base[32];
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out, n, "%s.%09ldZ", base, ts.tv_nsec);
}

char *ctr_dir(struct kiln_store *s, const char *id)
{
        return kiln_xasprintf("%s/containers/%s", kiln_store_root(s), id);
}

static void random_id(char out[65])
{
        unsigned char b[32];
        if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
                for (size_t i = 0; i < sizeof(b); i++)
                        b[i] = (unsigned char)random();
        }
        static const char hx[] = "0123456789abcdef";
        for (size_t i = 0; i < 32; i++) {
                out[2 * i] = hx[b[i] >> 4];
                out[2 * i + 1] = hx[b[i] & 15];
        }
        out[64] = 0;
}

static char *random_name(int retry)
{
        static const char *const adj[] = {
                "amber", "brave", "calm", "clever", "eager", "fancy", "gentle", "happy", "jolly",
                "keen", "lucid", "merry", "nimble", "proud", "quiet", "rapid", "sharp", "stoic",
                "sunny", "swift", "tender", "vivid", "witty", "zealous",
        };
        static const char *const noun[] = {
                "ada", "babbage", "curie", "dijkstra", "euler", "fermi", "galois", "hopper",
                "hypatia", "kepler", "knuth", "lovelace", "meitner", "noether", "pascal",
                "ritchie", "shannon", "thompson", "turing", "wozniak",
        };
        unsigned char b[3];
        if (getrandom(b, 3, 0) != 3) {
                for (size_t i = 0; i < 3; i++)
                        b[i] = (unsigned char)random();
        }
        /* after a few names already in use, a digit as docker's generator adds */
        if (retry >= 3)
                return kiln_xasprintf("%s_%s%d", adj[b[0] % KILN_ARRAY_SIZE(adj)],
                                      noun[b[1] % KILN_ARRAY_SIZE(noun)], b[2] % 10);
        return kiln_xasprintf("%s_%s", adj[b[0] % KILN_ARRAY_SIZE(adj)],
                              noun[b[1] % KILN_ARRAY_SIZE(noun)]);
}

static bool valid_name(const char *n)
{
        /* docker: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
        if (!n || !n[0] || !n[1] || strlen(n) > 128)
                return false;
        if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') ||
              (n[0] >= '0' && n[0] <= '9')))
                return false;
        for (const char *p = n + 1; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
                        return false;
        return true;
}

static json_t *strv_json(char *const *v)
{
        json_t *a = json_array();
        for (size_t i = 0; v && v[i]; i++)
                json_array_append_new(a, json_string(v[i]));
        return a;
}

char **ctr_json_strv(json_t *a)
{
        size_t n = json_is_array(a) ? json_array_size(a) : 0;
        char **v = kiln_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                const char *s = json_string_value(json_array_get(a, i));
                v[i] = kiln_xstrdup(s ? s : "");
        }
        return v;
}

/* The lowerdirs of an image: unpacked once per diffID in the store,
 * top layer first, ':'-separated. */
static int image_lowerdirs(struct kiln_store *s, struct kiln_manifest *m, struct kiln_config *c,
                           char **ret, struct kiln_error *err)
{
        struct kiln_buf b = KILN_BUF_INIT;
        for (size_t i = m->n_layers; i-- > 0;) {
                char *path = NULL;
                int r = kiln_store_layer_unpack(s, &m->layers[i], &c->diff_ids[i], &path, err);
                if (r < 0) {
                        kiln_buf_free(&b);
                        return r;
                }
                if (b.len)
                        kiln_buf_puts(&b, ":");
                kiln_buf_puts(&b, path);
                free(path);
        }
        *ret = kiln_buf_steal(&b);
        return 0;
}

bool ctr_is_mounted(const char *path)
{
        struct stat a, b;
        _cleanup_free_ char *parent = kiln_xasprintf("%s/..", path);
        if (stat(path, &a) < 0 || stat(parent, &b) < 0)
                return false;
        return a.st_dev != b.st_dev;
}

int ctr_mount_rootfs(struct kiln_store *s, json_t *doc, struct kiln_error *err)
{
        const char *id = json_string_value(json_object_get(doc, "Id"));
        json_t *gd = json_object_get(json_object_get(doc, "GraphDriver"), "Data");
        const char *lower = json_string_value(json_object_get(gd, "LowerDir"));
        const char *upper = json_string_value(json_object_get(gd, "UpperDir"));
        const char *work = json_string_value(json_object_get(gd, "WorkDir"));
        const char *merged = json_string_value(json_object_get(gd, "MergedDir"));
        const char *driver = json_string_value(json_object_get(json_object_get(doc, "GraphDriver"), "Name"));
        if (!lower || !upper || !work || !merged)
                return kiln_err(err, -KILN_ECORRUPT, "container %.12s: no root filesystem recorded", id);
        if (driver && !strcmp(driver, "vfs"))
                return 0; /* a private copy: nothing to mount */
        if (ctr_is_mounted(merged))
                return 0;
        /* --userns, --uidmap: every layer an idmapped mount (idmap.c) */
        json_t *idm = json_object_get(json_object_get(doc, "HostConfig"), "IDMappings");
        if (json_array_size(json_object_get(idm, "UidMap"))) {
                _cleanup_free_ struct kiln_id_map *um = NULL, *gm = NULL;
                size_t nu = ctr_id_maps_from_json(json_object_get(idm, "UidMap"), &um);
                size_t ng = ctr_id_maps_from_json(json_object_get(idm, "GidMap"), &gm);
                int r = ctr_mount_idmapped_overlay(lower, upper, work, merged, um, nu, gm, ng, err);
                return r < 0 ? kiln_err_prefix(err, r, "container %.12s: ", id) : 0;
        }
        /* rootless: overlayfs in a user namespace keeps its xattrs in user.* */
        _cleanup_free_ char *data = kiln_xasprintf("lowerdir=%s,upperdir=%s,workdir=%s%s", lower,
                                                   upper, work, kiln_in_userns() ? ",userxattr" : "");
        if (strlen(data) >= 4096)
                return kiln_err(err, -KILN_ETOOBIG,
                                "container %.12s: too many layers for one overlay mount", id);
        /* --rm: the upper layer is deleted after the exit, so nothing in it
         * needs to reach the disk: "volatile" (Linux 5.10) skips overlayfs's
         * syncs of the upper filesystem, at unmount among others (0.3 of the
         * 0.4 ms an unmount takes here). Refused by older kernels: then
         * without it. */
        if (json_is_true(json_object_get(json_object_get(doc, "HostConfig"), "AutoRemove"))) {
                _cleanup_free_ char *vdata = kiln_xasprintf("%s,volatile", data);
                if (strlen(vdata) < 4096 && mount("overlay", merged, "overlay", MS_NODEV, vdata) == 0)
                        return 0;
        }
        if (mount("overlay", merged, "overlay", MS_NODEV, data) < 0)
                return kiln_err(err, -errno, "container %.12s: mount overlay: %s", id, strerror(errno));
        return 0;
}

void ctr_unmount_rootfs(json_t *doc)
{
        json_t *gd = json_object_get(json_object_get(doc, "GraphDriver"), "Data");
        const char *merged = json_string_value(json_object_get(gd, "MergedDir"));
        const char *driver = json_string_value(json_object_get(json_object_get(doc, "GraphDriver"), "Name"));
        if (!merged || (driver && !strcmp(driver, "vfs")))
                return;
        if (ctr_is_mounted(merged))
                umount2(merged, MNT_DETACH);
}

/* Where overlayfs is missing: a private copy of the image's layers. */
static int copy_rootfs(struct kiln_store *s, struct kiln_manifest *m, const char *dest,
                       struct kiln_error *err)
{
        _cleanup_close_ int dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return kiln_err(err, -errno, "%s: %s", dest, strerror(errno));
        struct kiln_layer_apply_opts ao = { .preserve_owner = geteuid() == 0 };
        for (size_t i = 0; i < m->n_layers; i++) {
                _cleanup_close_ int fd = -1;
                int r = kiln_store_blob_open(s, &m->layers[i].digest, &fd, NULL, err);
                if (r < 0)
                        return r;
                struct kiln_layer_apply_info info;
                r = kiln_layer_apply(fd, dfd, &ao, &info, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int write_file(const char *dir, const char *name, const char *content,
                      struct kiln_error *err)
{
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return kiln_err(err, -errno, "%s: %s", dir, strerror(errno));
        int r = kiln_fs_write_replace(dfd, name, content, strlen(content), 0644);
        if (r < 0)
                return kiln_err(err, r, "%s/%s: %s", dir, name, kiln_strerror(r));
        return 0;
}

/* resolv.conf for the container: the host's, unless it points at a
 * loopback resolver a private network namespace cannot reach. */
char *ctr_resolv_conf(bool host_network)
{
        _cleanup_free_ char *data = NULL;
        size_t len;
        if (kiln_fs_read_file(AT_FDCWD, "/etc/resolv.conf", 65536, &data, &len) < 0)
                return kiln_xstrdup("");
        if (host_network)
                return TAKE_PTR(data);
        struct kiln_buf b = KILN_BUF_INIT;
        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (kiln_startswith(line, "nameserver") &&
                    (strstr(line, "127.") || strstr(line, "::1")))
                        continue;
                kiln_buf_printf(&b, "%s\n", line);
        }
        return kiln_buf_steal(&b);
}

static void free_mount_reqs(struct kiln_mount_req *m, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(m[i].type);
                free(m[i].source);
                free(m[i].destination);
                kiln_strv_free(m[i].options);
        }
        free(m);
}

/*
 * kiln-init for --init: next to kiln's own binary (an install side by side,
 * or a copy), the build tree's init/ beside its cli/, PREFIX/libexec/kiln
 * for the prefix kiln is installed in, then the usual libexec directories.
 * *ret_tried (on failure) lists where it looked. Caller frees.
 */
static char *find_init(char **ret_tried)
{
        static const char *const rel[] = { "kiln-init", "../init/kiln-init", "../libexec/kiln/kiln-init" };
        static const char *const fixed[] = { "/usr/local/libexec/kiln/kiln-init",
                                             "/usr/libexec/kiln/kiln-init" };
        struct kiln_buf tried = KILN_BUF_INIT;
        _cleanup_free_ char *self = kiln_self_exe();
        _cleanup_free_ char *exe = self ? realpath(self, NULL) : NULL;
        char *slash = exe ? strrchr(exe, '/') : NULL;
        if (slash)
                *slash = 0;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(rel) + KILN_ARRAY_SIZE(fixed); i++) {
                _cleanup_free_ char *cand = NULL;
                if (i < KILN_ARRAY_SIZE(rel)) {
                        if (!slash)
                                continue;
                        cand = kiln_xasprintf("%s/%s", exe, rel[i]);
                } else {
                        cand = kiln_xstrdup(fixed[i - KILN_ARRAY_SIZE(rel)]);
                }
                char *real = realpath(cand, NULL);
                struct stat st;
                if (real && stat(real, &st) == 0 && S_ISREG(st.st_mode) && access(real, X_OK) == 0) {
                        kiln_buf_free(&tried);
                        return real;
                }
                free(real);
                kiln_buf_printf(&tried, "%s%s", tried.len ? ", " : "", cand);
        }
        *ret_tried = kiln_buf_steal(&tried);
        return NULL;
}

/* What create decides about the network (network.c does the rest at each start). */
struct net_plan {
        char *mode;         /* HostConfig.NetworkMode */
        bool sandbox;       /* the spec joins /run/kiln/netns/<id>, made at start */
        bool host;
        json_t *bindings;   /* HostConfig.PortBindings */
        json_t *netopts;    /* RunOpts.Network */
        char *hostname;     /* container:ID: the other container's */
};

static void net_plan_free(struct net_plan *p)
{
        free(p->mode);
        free(p->hostname);
        json_decref(p->bindings);
        json_decref(p->netopts);
}

/*
 * --network: as root the default is the bridge (docker's); a non-root kiln
 * keeps its private loopback namespace, and has no bridge. Ports: -p needs
 * the bridge (host discards them with a warning, as docker).
 */
static int net_plan_make(struct kiln_store *s, const struct kiln_container_opts *opts,
                         struct net_plan *p, struct kiln_error *err)
{
        const char *net = opts->network;
        /* rootless kiln is uid 0 in its own user namespace: not root */
        bool root = geteuid() == 0 && !kiln_in_userns();
        bool is_default = !net || !strcmp(net, "default");
        int r = ctr_net_port_bindings(opts->publish, &p->bindings, err);
        if (r < 0)
                return r;
        bool ports = json_object_size(p->bindings) > 0;
        if (is_default && !root && ctr_pasta_available()) {
                /* rootless: pasta (podman's default) */
                p->mode = kiln_xstrdup("pasta");
        } else if (is_default) {
                if (!root)
                        kiln_warn("pasta not found (install passt): the container gets loopback only");
                p->mode = kiln_xstrdup(root ? "bridge" : "private");
        } else if (kiln_startswith(net, "container:")) {
                if (!root)
                        return kiln_err(err, -EPERM, "--network %s: joining another container's network needs root", net);
                if (opts->run.hostname)
                        return kiln_err(err, -EINVAL, "conflicting options: hostname and the network mode");
                if (ports || opts->publish_all)
                        return kiln_err(err, -EINVAL,
                                        "conflicting options: port publishing and the container type network mode");
                _cleanup_free_ char *tid = NULL;
                json_t *t = NULL;
                r = kiln_store_container_get(s, net + 10, &tid, &t, err);
                if (r < 0)
                        return r;
                const char *hn = json_string_value(json_object_get(json_object_get(t, "Config"), "Hostname"));
                p->hostname = hn ? kiln_xstrdup(hn) : NULL;
                json_decref(t);
                p->mode = kiln_xasprintf("container:%s", tid);
        } else if (!strcmp(net, "pasta")) {
                if (root)
                        return kiln_err(err, -EINVAL, "--network pasta is the rootless network; as root use bridge");
                if (!ctr_pasta_available())
                        return kiln_err(err, -ENOENT, "--network pasta: pasta not found (install passt)");
                p->mode = kiln_xstrdup(net);
        } else if (!strcmp(net, "bridge") || !strcmp(net, "none") || !strcmp(net, "host")) {
                if (!strcmp(net, "bridge") && !root)
                        return kiln_err(err, -EPERM, "--network bridge needs root (rootless containers use pasta)");
                p->mode = kiln_xstrdup(net);
        } else {
                return kiln_err(err, -ENOENT, "network %s not found", net);
        }
        bool pasta = !strcmp(p->mode, "pasta");
        bool bridge = !strcmp(p->mode, "bridge") || pasta; /* both publish ports */
        p->host = !strcmp(p->mode, "host");
        if (ports && p->host) {
                kiln_warn("Published ports are discarded when using host network mode");
                json_object_clear(p->bindings);
                ports = false;
        }
        if (ports && !bridge)
                return kiln_err(err, -EINVAL,
                                !strcmp(p->mode, "private")
                                        ? "-p/--publish needs the bridge network, which needs root%s"
                                        : "-p/--publish needs the bridge network (--network %s has no ports to publish)",
                                !strcmp(p->mode, "private") ? "" : p->mode);
        /* none: the runtime's own new namespace (it brings lo up), no
         * namespace file to make and remove at each start */
        p->sandbox = (root && !p->host && strcmp(p->mode, "private") && strcmp(p->mode, "none")) || pasta;
        if (bridge && !pasta)
                return ctr_net_config(is_default, &p->netopts, err);
        p->netopts = json_pack("{s:b}", "Sandbox", p->sandbox);
        return 0;
}

/* The run options as JSON, to start the container again later. */
static json_t *run_opts_json(const struct kiln_container_opts *o)
{
        const struct kiln_run_opts *r = &o->run;
        json_t *j = json_object();
        json_object_set_new(j, "Env", strv_json(r->env));
        if (r->workdir)
                json_object_set_new(j, "WorkingDir", json_string(r->workdir));
        if (r->user)
                json_object_set_new(j, "User", json_string(r->user));
        if (r->entrypoint)
                json_object_set_new(j, "Entrypoint", strv_json(r->entrypoint));
        if (r->cmd)
                json_object_set_new(j, "Cmd", strv_json(r->cmd));
        if (r->hostname)
                json_object_set_new(j, "Hostname", json_string(r->hostname));
        json_object_set_new(j, "Tty", json_boolean(r->tty));
        json_object_set_new(j, "Interactive", json_boolean(o->interactive));
        return j;
}

struct workdir_job {
        const char *merged, *wd;
};

/* mkdir -p of the working directory inside the rootfs (best effort) */
static int make_workdir(void *arg, int64_t *out, struct kiln_error *err)
{
        struct workdir_job *j = arg;
        _cleanup_close_ int rfd = open(j->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *probe = kiln_xasprintf("%s/x", j->wd + 1);
        const char *base;
        int pfd = rfd < 0 ? -EBADF : kiln_fs_open_parent_in_root(rfd, probe, true, &base);
        if (pfd >= 0)
                close(pfd);
        return 0;
}

/* Do two ranges of host ids overlap? */
static bool ranges_overlap(uint32_t a, uint32_t an, uint32_t b, uint32_t bn)
{
        return (uint64_t)a < (uint64_t)b + bn && (uint64_t)b < (uint64_t)a + an;
}

/* --userns=auto: the first block of size host ids in the subordinate ranges
 * of user "containers" (file: /etc/subuid or /etc/subgid) that no other
 * container's maps (key: UidMap or GidMap) use. */
static int auto_range(json_t *ctrs, const char *file, const char *key, uint32_t size, uint32_t *ret,
                      struct kiln_error *err)
{
        struct ctr_id_range r[32];
        size_t n = ctr_sub_ranges(file, "containers", (uint32_t)-1, r, 32);
        if (!n)
                return kiln_err(err, -ENOENT, "--userns=auto: no range for user \"containers\" in %s "
                                              "(add one, e.g. containers:2147483647:2147483648)", file);
        for (size_t i = 0; i < n; i++) {
                for (uint64_t h = r[i].start; h + size <= (uint64_t)r[i].start + r[i].count;) {
                        bool clash = false;
                        size_t k;
                        json_t *c;
                        json_array_foreach(ctrs, k, c)
                        {
                                _cleanup_free_ struct kiln_id_map *m = NULL;
                                size_t nm = ctr_id_maps_from_json(
                                        json_object_get(json_object_get(json_object_get(c, "HostConfig"),
                                                                        "IDMappings"), key), &m);
                                for (size_t j = 0; j < nm && !clash; j++)
                                        if (ranges_overlap((uint32_t)h, size, m[j].host_id, m[j].size)) {
                                                clash = true;
                                                /* on past the range in use */
                                                h = (uint64_t)m[j].host_id + m[j].size;
                                        }
                                if (clash)
                                        break;
                        }
                        if (!clash) {
                                *ret = (uint32_t)h;
                                return 0;
                        }
                }
        }
        return kiln_err(err, -ENOSPC, "--userns=auto: no free block of %u ids left in the ranges of \"containers\" in %s",
                        (unsigned)size, file);
}

/* --userns, --uidmap, --gidmap -> the container's maps (none: 0). */
static int userns_plan(struct kiln_store *s, const struct kiln_container_opts *opts, struct kiln_id_map **um,
                       size_t *nu, struct kiln_id_map **gm, size_t *ng, struct kiln_error *err)
{
        const struct kiln_run_opts *ro = &opts->run;
        const char *u = opts->userns;
        *um = *gm = NULL;
        *nu = *ng = 0;
        bool explicit = ro->n_uid_maps || ro->n_gid_maps;
        if (!explicit && (!u || !*u || !strcmp(u, "host")))
                return 0;
        if (kiln_in_userns())
                return kiln_err(err, -EPERM, "--userns and --uidmap are not supported for rootless containers "
                                             "(they already run in the user's user namespace)");
        if (explicit) {
                if (u && *u && strcmp(u, "host") && strcmp(u, "private"))
                        return kiln_err(err, -EINVAL, "--userns=%s cannot be combined with --uidmap/--gidmap", u);
                /* one given: the other the same (as podman) */
                const struct kiln_id_map *su = ro->n_uid_maps ? ro->uid_maps : ro->gid_maps;
                size_t snu = ro->n_uid_maps ? ro->n_uid_maps : ro->n_gid_maps;
                const struct kiln_id_map *sg = ro->n_gid_maps ? ro->gid_maps : ro->uid_maps;
                size_t sng = ro->n_gid_maps ? ro->n_gid_maps : ro->n_uid_maps;
                *um = kiln_xcalloc(snu, sizeof(**um));
                memcpy(*um, su, snu * sizeof(**um));
                *gm = kiln_xcalloc(sng, sizeof(**gm));
                memcpy(*gm, sg, sng * sizeof(**gm));
                *nu = snu;
                *ng = sng;
                return 0;
        }
        uint32_t size = 65536;
        if (!strcmp(u, "auto")) {
        } else if (kiln_startswith(u, "auto:size=")) {
                char *end;
                unsigned long v = strtoul(u + 10, &end, 10);
                if (*end || v < 1 || v > 1u << 30)
                        return kiln_err(err, -EINVAL, "--userns=%s: invalid size", u);
                size = (uint32_t)v;
        } else {
                return kiln_err(err, -EINVAL, "--userns=%s: kiln supports host, auto and auto:size=N", u);
        }
        json_t *ctrs = NULL;
        int r = kiln_container_list(s, &ctrs, err);
        uint32_t hu = 0, hg = 0;
        if (r >= 0 && (r = auto_range(ctrs, "/etc/subuid", "UidMap", size, &hu, err)) >= 0)
                r = auto_range(ctrs, "/etc/subgid", "GidMap", size, &hg, err);
        json_decref(ctrs);
        if (r < 0)
                return r;
        *um = kiln_xcalloc(1, sizeof(**um));
        *gm = kiln_xcalloc(1, sizeof(**gm));
        **um = (struct kiln_id_map){ 0, hu, size };
        **gm = (struct kiln_id_map){ 0, hg, size };
        *nu = *ng = 1;
        return 0;
}

int kiln_container_create(struct kiln_store *s, const struct kiln_container_opts *opts,
                          char **ret_id, struct kiln_error *err)
{
        _cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
        _cleanup_(kiln_config_freep) struct kiln_config *cfg = NULL;
        int r = kiln_store_image_lookup(s, opts->image, &img, err);
        if (r >= 0)
                r = kiln_store_image_load(s, img, &m, &cfg, err);
        if (r < 0)
                return r;
        if (opts->name && !valid_name(opts->name))
                return kiln_err(err, -EINVAL,
                                "invalid container name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                                opts->name);
        /* --network, -p: decided before anything is made */
        _cleanup_(net_plan_free) struct net_plan net = { 0 };
        if ((r = net_plan_make(s, opts, &net, err)) < 0)
                return r;
        /* --userns: the maps, chosen under a lock until the record is made */
        _cleanup_close_ int userns_lock = -1;
        if (opts->userns && kiln_startswith(opts->userns, "auto")) {
                _cleanup_free_ char *lp = kiln_xasprintf("%s/tmp/userns.lock", kiln_store_root(s));
                userns_lock = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                if (userns_lock < 0 || flock(userns_lock, LOCK_EX) < 0)
                        return kiln_err(err, -errno, "%s: %s", lp, strerror(errno));
        }
        _cleanup_free_ struct kiln_id_map *uid_maps = NULL, *gid_maps = NULL;
        size_t n_uid_maps = 0, n_gid_maps = 0;
        if ((r = userns_plan(s, opts, &uid_maps, &n_uid_maps, &gid_maps, &n_gid_maps, err)) < 0)
                return r;
        json_t *idmappings = n_uid_maps ? json_pack("{s:o, s:o}", "UidMap", ctr_id_maps_json(uid_maps, n_uid_maps),
                                                    "GidMap", ctr_id_maps_json(gid_maps, n_gid_maps))
                                        : NULL;
        /* --init: kiln-init, found before anything is made */
        _cleanup_free_ char *init_path = NULL;
        if (opts->init) {
                _cleanup_free_ char *tried = NULL;
                init_path = find_init(&tried);
                if (!init_path)
                        return kiln_err(err, -ENOENT, "--init: kiln-init not found next to kiln or in %s",
                                        tried);
        }

        char id[65];
        random_id(id);
        _cleanup_free_ char *name = opts->name ? kiln_xstrdup(opts->name) : random_name(0);
        _cleanup_free_ char *dir = ctr_dir(s, id);
        _cleanup_free_ char *upper = kiln_xasprintf("%s/upper", dir);
        _cleanup_free_ char *work = kiln_xasprintf("%s/work", dir);
        _cleanup_free_ char *merged = kiln_xasprintf("%s/rootfs", dir);
        /* the container directory is the bundle: root.path (rootfs/) must be inside it */
        _cleanup_free_ char *bundle = kiln_xstrdup(dir);
        char created[64];
        ctr_now_rfc3339(created, sizeof(created));
        _cleanup_free_ char *lower = NULL, *resolv = NULL, *hosts = NULL, *hostname_file = NULL;
        _cleanup_free_ char *nspath = NULL;

        /* the record first: it reserves the name */
        json_t *doc = json_object();
        json_object_set_new(doc, "Id", json_string(id));
        json_object_set_new(doc, "Name", json_string(name));
        json_object_set_new(doc, "Created", json_string(created));
        json_object_set_new(doc, "Image", json_string(img->config_digest.str));
        json_object_set_new(doc, "ImageName", json_string(opts->image));
        json_object_set_new(doc, "ImageManifest", json_string(img->manifest_digest.str));
        json_t *state = json_object();
        json_object_set_new(state, "Status", json_string("created"));
        json_object_set_new(state, "Running", json_false());
        json_object_set_new(state, "Pid", json_integer(0));
        json_object_set_new(state, "ExitCode", json_integer(0));
        json_object_set_new(state, "OOMKilled", json_false());
        json_object_set_new(state, "Error", json_string(""));
        json_object_set_new(state, "StartedAt", json_string("0001-01-01T00:00:00Z"));
        json_object_set_new(state, "FinishedAt", json_string("0001-01-01T00:00:00Z"));
        json_object_set_new(doc, "State", state);
        /* the maps in the first record: --userns=auto sees them from now on */
        if (idmappings)
                json_object_set_new(doc, "HostConfig", json_pack("{s:O}", "IDMappings", idmappings));
        r = kiln_store_container_put(s, id, name, &img->manifest_digest, doc, err);
        /* a generated name already in use (480 combinations): another one,
         * as docker does, rather than failing the run */
        for (int retry = 1; r == -KILN_ECONFLICT && !opts->name && retry < 10; retry++) {
                kiln_error_clear(err);
                free(name);
                name = random_name(retry);
                json_object_set_new(doc, "Name", json_string(name));
                r = kiln_store_container_put(s, id, name, &img->manifest_digest, doc, err);
        }
        if (r < 0) {
                json_decref(doc);
                return r;
        }

        int cfd = kiln_store_containers_fd(s);
        if (mkdirat(cfd, id, 0700) < 0) {
                r = kiln_err(err, -errno, "container %.12s: %s", id, strerror(errno));
                goto fail;
        }
        if (idmappings) {
                /* the container's root (not host root) must reach its bundle:
                 * search permission down to it, as docker's userns-remap
                 * gives /var/lib/docker (0711); nothing becomes listable */
                _cleanup_free_ char *anc = kiln_xstrdup(kiln_store_root(s));
                for (char *sl = strrchr(anc, '/'); sl && sl != anc; sl = strrchr(anc, '/')) {
                        *sl = 0;
                        struct stat st;
                        if (stat(anc, &st) == 0 && !(st.st_mode & S_IXOTH)) {
                                r = kiln_err(err, -EACCES,
                                             "--userns: the container's root cannot reach the store: %s is not "
                                             "searchable by others (chmod o+x it)", anc);
                                goto fail;
                        }
                }
                _cleanup_free_ char *cdir = kiln_xasprintf("%s/containers", kiln_store_root(s));
                const char *paths[] = { kiln_store_root(s), cdir, dir };
                for (size_t i = 0; i < KILN_ARRAY_SIZE(paths); i++) {
                        struct stat st;
                        if (stat(paths[i], &st) == 0 && !(st.st_mode & S_IXOTH) &&
                            chmod(paths[i], (st.st_mode & 07777) | S_IXOTH) < 0) {
                                r = kiln_err(err, -errno, "chmod %s: %s", paths[i], strerror(errno));
                                goto fail;
                        }
                }
        }
        for (const char *const *sub = (const char *const[]){ "upper", "work", "rootfs", NULL };
             *sub; sub++) {
                _cleanup_free_ char *p = kiln_xasprintf("%s/%s", id, *sub);
                if (mkdirat(cfd, p, 0755) < 0) {
                        r = kiln_err(err, -errno, "container %.12s: %s", id, strerror(errno));
                        goto fail;
                }
        }

        /* root filesystem: overlay of the shared unpacked layers, or a copy */
        r = image_lowerdirs(s, m, cfg, &lower, err);
        if (r < 0)
                goto fail;
        if (!lower[0]) {
                free(lower);
                lower = kiln_xasprintf("%s/empty", dir);
                mkdir(lower, 0755);
        }
        json_t *gd = json_object();
        json_t *gdd = json_object();
        json_object_set_new(gdd, "LowerDir", json_string(lower));
        json_object_set_new(gdd, "UpperDir", json_string(upper));
        json_object_set_new(gdd, "WorkDir", json_string(work));
        json_object_set_new(gdd, "MergedDir", json_string(merged));
        json_object_set_new(gd, "Name", json_string("overlay"));
        json_object_set_new(gd, "Data", gdd);
        json_object_set_new(doc, "GraphDriver", gd);
        /* completed below; the mount needs AutoRemove now */
        json_object_set_new(doc, "HostConfig", json_pack("{s:b}", "AutoRemove", opts->auto_remove));
        if (idmappings)
                json_object_set(json_object_get(doc, "HostConfig"), "IDMappings", idmappings);
        r = ctr_mount_rootfs(s, doc, err);
        if (r < 0 && idmappings)
                goto fail; /* a copy would not have the container's ownership */
        if (r < 0) {
                /* overlayfs unavailable (nested, or not permitted): a private copy */
                kiln_warn("%s; using a private copy of the image instead (slower, more disk)",
                          err ? err->msg : "overlay mount failed");
                kiln_error_clear(err);
                json_object_set_new(gd, "Name", json_string("vfs"));
                r = copy_rootfs(s, m, merged, err);
                if (r < 0)
                        goto fail;
        }
        kiln_store_release_lock(s);

        /* docker creates a missing working directory (owned by root) */
        {
                const char *wd = opts->run.workdir
                                         ? opts->run.workdir
                                         : json_string_value(json_object_get(cfg->config, "WorkingDir"));
                if (wd && wd[0] == '/' && wd[1]) {
                        struct workdir_job job = { merged, wd };
                        ctr_as_container_root(doc, make_workdir, &job, NULL, NULL);
                }
        }

        /* /etc/hostname, /etc/hosts, /etc/resolv.conf as docker provides them */
        char shortid[13];
        snprintf(shortid, sizeof(shortid), "%.12s", id);
        const char *hostname = opts->run.hostname ? opts->run.hostname
                               : net.hostname     ? net.hostname
                                                  : shortid;
        bool host_net = net.host;
        hostname_file = kiln_xasprintf("%s\n", hostname);
        hosts = kiln_xasprintf(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                "ff02::2\tip6-allrouters\n127.0.1.1\t%s\n",
                hostname);
        resolv = ctr_resolv_conf(host_net);
        if ((r = write_file(dir, "hostname", hostname_file, err)) < 0 ||
            (r = write_file(dir, "hosts", hosts, err)) < 0 ||
            (r = write_file(dir, "resolv.conf", resolv, err)) < 0)
                goto fail;

        /* the spec */
        struct kiln_run_opts ro = opts->run;
        ro.id = id;
        if (n_uid_maps) {
                ro.userns = true;
                ro.uid_maps = uid_maps;
                ro.n_uid_maps = n_uid_maps;
                ro.gid_maps = gid_maps;
                ro.n_gid_maps = n_gid_maps;
        }
        ro.hostname = hostname;
        nspath = ctr_net_netns_path(id);
        if (host_net)
                ro.netns = KILN_NETNS_HOST;
        if (net.sandbox) {
                /* made at each start (network.c) */
                ro.netns = KILN_NETNS_PATH;
                ro.netns_path = nspath;
        }
        /* the mounts: the user's (volumes resolved to their directories), the
         * image's VOLUMEs as anonymous volumes, then /etc/hostname, hosts,
         * resolv.conf */
        json_t *image_vols = json_object_get(cfg->config, "Volumes");
        size_t cap = opts->run.n_mounts + 4 + (json_is_object(image_vols) ? json_object_size(image_vols) : 0);
        struct kiln_mount_req *mr = kiln_xcalloc(cap, sizeof(*mr));
        json_t *mounts_rec = json_array();
        size_t nm = 0;
        for (size_t i = 0; i < opts->run.n_mounts && r >= 0; i++) {
                const struct kiln_mount_req *src = &opts->run.mounts[i];
                struct kiln_mount_req *q = &mr[nm++];
                q->destination = kiln_xstrdup(src->destination);
                q->readonly = src->readonly;
                if (src->options) {
                        size_t n = kiln_strv_len(src->options);
                        q->options = kiln_xcalloc(n + 1, sizeof(char *));
                        for (size_t k = 0; k < n; k++)
                                q->options[k] = kiln_xstrdup(src->options[k]);
                }
                json_t *rec = json_object();
                if (!strcmp(src->type, "volume")) {
                        json_t *vol = NULL;
                        r = kiln_volume_create(s, src->source, NULL, src->source == NULL, &vol, err);
                        if (r < 0) {
                                json_decref(rec);
                                break;
                        }
                        const char *mp = json_string_value(json_object_get(vol, "Mountpoint"));
                        r = ctr_volume_fill(merged, src->destination, mp, err);
                        q->type = kiln_xstrdup("bind");
                        q->source = kiln_xstrdup(mp);
                        json_object_set_new(rec, "Type", json_string("volume"));
                        json_object_set(rec, "Name", json_object_get(vol, "Name"));
                        json_object_set_new(rec, "Anonymous", json_boolean(src->source == NULL));
                        json_decref(vol);
                } else {
                        q->type = kiln_xstrdup(src->type);
                        q->source = src->source ? kiln_xstrdup(src->source) : NULL;
                        json_object_set_new(rec, "Type", json_string(src->type));
                }
                json_object_set_new(rec, "Source", json_string(q->source ? q->source : ""));
                json_object_set_new(rec, "Destination", json_string(q->destination));
                json_object_set_new(rec, "RW", json_boolean(!q->readonly));
                json_array_append_new(mounts_rec, rec);
        }
        const char *vpath;
        json_t *vval;
        if (r >= 0 && json_is_object(image_vols)) {
                json_object_foreach(image_vols, vpath, vval)
                {
                        bool covered = false;
                        for (size_t k = 0; k < nm; k++)
                                covered = covered || !strcmp(mr[k].destination, vpath);
                        if (covered || vpath[0] != '/')
                                continue;
                        json_t *vol = NULL;
                        r = kiln_volume_create(s, NULL, NULL, true, &vol, err);
                        if (r < 0)
                                break;
                        const char *mp = json_string_value(json_object_get(vol, "Mountpoint"));
                        r = ctr_volume_fill(merged, vpath, mp, err);
                        struct kiln_mount_req *q = &mr[nm++];
                        q->type = kiln_xstrdup("bind");
                        q->source = kiln_xstrdup(mp);
                        q->destination = kiln_xstrdup(vpath);
                        json_t *rec = json_object();
                        json_object_set_new(rec, "Type", json_string("volume"));
                        json_object_set(rec, "Name", json_object_get(vol, "Name"));
                        json_object_set_new(rec, "Anonymous", json_true());
                        json_object_set_new(rec, "Source", json_string(mp));
                        json_object_set_new(rec, "Destination", json_string(vpath));
                        json_object_set_new(rec, "RW", json_true());
                        json_array_append_new(mounts_rec, rec);
                        json_decref(vol);
                        if (r < 0)
                                break;
                }
        }
        json_object_set_new(doc, "Mounts", mounts_rec);
        if (r < 0) {
                free_mount_reqs(mr, nm);
                goto fail;
        }
        size_t n_user = nm;
        static const char *const etc[] = { "hostname", "hosts", "resolv.conf" };
        for (size_t i = 0; i < 3; i++) {
                /* a user's own -v for the same path wins */
                _cleanup_free_ char *dest = kiln_xasprintf("/etc/%s", etc[i]);
                bool taken = false;
                for (size_t k = 0; k < n_user; k++)
                        taken = taken || !strcmp(mr[k].destination, dest);
                if (taken)
                        continue;
                struct kiln_mount_req *q = &mr[nm++];
                q->type = kiln_xstrdup("bind");
                q->source = kiln_xasprintf("%s/%s", dir, etc[i]);
                q->destination = TAKE_PTR(dest);
        }
        if (init_path) {
                /* as docker's --init (tini at /dev/init), read-only */
                struct kiln_mount_req *q = &mr[nm++];
                q->type = kiln_xstrdup("bind");
                q->source = kiln_xstrdup(init_path);
                q->destination = kiln_xstrdup(KILN_CONTAINER_INIT_PATH);
                q->readonly = true;
        }
        ro.mounts = mr;
        ro.n_mounts = nm;
        json_t *spec = NULL;
        r = kiln_spec_generate(cfg->config, &ro, merged, &spec, err);
        free_mount_reqs(mr, nm);
        if (r < 0)
                goto fail;
        json_t *proc = json_object_get(spec, "process");
        json_t *args = json_object_get(proc, "args");
        /* Path and Args: the command itself, with or without --init (as docker) */
        const char *path0 = json_string_value(json_array_get(args, 0));
        json_object_set_new(doc, "Path", json_string(path0 ? path0 : ""));
        json_t *rest = json_array();
        for (size_t i = 1; i < json_array_size(args); i++)
                json_array_append(rest, json_array_get(args, i));
        json_object_set_new(doc, "Args", rest);
        if (init_path) {
                /* the process runs as "/dev/init -- ARGS..." */
                json_array_insert_new(args, 0, json_string("--"));
                json_array_insert_new(args, 0, json_string(KILN_CONTAINER_INIT_PATH));
        }
        {
                size_t slen;
                _cleanup_free_ char *text = kiln_json_dump(spec, &slen);
                _cleanup_close_ int bfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                r = bfd < 0 ? -errno : kiln_fs_write_replace(bfd, "config.json", text, slen, 0600);
                if (r < 0) {
                        json_decref(spec);
                        kiln_err(err, r, "container %.12s: write config.json: %s", id, kiln_strerror(r));
                        goto fail;
                }
        }

        /* Config and HostConfig in docker's terms */
        json_t *c = json_object();
        json_object_set_new(c, "Hostname", json_string(hostname));
        const char *cuser = opts->run.user ? opts->run.user
                                           : json_string_value(json_object_get(cfg->config, "User"));
        json_object_set_new(c, "User", json_string(cuser ? cuser : ""));
        json_object_set(c, "Env", json_object_get(proc, "env"));
        json_object_set_new(c, "Cmd", opts->run.cmd ? strv_json(opts->run.cmd)
                                                    : json_deep_copy(json_object_get(cfg->config, "Cmd")));
        json_object_set_new(c, "Entrypoint",
                            opts->run.entrypoint ? strv_json(opts->run.entrypoint)
                                                 : json_deep_copy(json_object_get(cfg->config, "Entrypoint")));
        json_object_set(c, "WorkingDir", json_object_get(proc, "cwd"));
        json_object_set_new(c, "Image", json_string(opts->image));
        json_object_set_new(c, "Tty", json_boolean(opts->run.tty));
        json_object_set_new(c, "OpenStdin", json_boolean(opts->interactive));
        json_t *labels = json_deep_copy(json_object_get(cfg->config, "Labels"));
        if (!json_is_object(labels)) {
                json_decref(labels);
                labels = json_object();
        }
        for (size_t i = 0; opts->labels && opts->labels[i]; i++) {
                _cleanup_free_ char *kv = kiln_xstrdup(opts->labels[i]);
                char *eq = strchr(kv, '=');
                if (eq)
                        *eq++ = 0;
                json_object_set_new(labels, kv, json_string(eq ? eq : ""));
        }
        json_object_set_new(c, "Labels", labels);
        /* the image's EXPOSEd ports and the published ones, as docker */
        {
                json_t *exposed = json_object_get(cfg->config, "ExposedPorts");
                exposed = json_is_object(exposed) ? json_deep_copy(exposed) : json_object();
                const char *pk;
                json_t *pv;
                json_object_foreach(net.bindings, pk, pv) json_object_set_new(exposed, pk, json_object());
                if (json_object_size(exposed))
                        json_object_set(c, "ExposedPorts", exposed);
                json_decref(exposed);
        }
        const char *stopsig = opts->stop_signal ? opts->stop_signal
                              : json_string_value(json_object_get(cfg->config, "StopSignal"));
        json_object_set_new(c, "StopSignal", json_string(stopsig ? stopsig : "SIGTERM"));
        json_object_set_new(c, "StopTimeout", json_integer(opts->stop_timeout >= 0 ? opts->stop_timeout : 10));
        json_t *health = json_object_get(cfg->config, "Healthcheck");
        health = json_is_object(health) ? json_deep_copy(health) : json_object();
        if (opts->no_healthcheck)
                json_object_set_new(health, "Test", json_pack("[s]", "NONE"));
        else if (opts->health_cmd)
                json_object_set_new(health, "Test", json_pack("[ss]", "CMD-SHELL", opts->health_cmd));
        if (opts->health_interval > 0)
                json_object_set_new(health, "Interval", json_integer(opts->health_interval));
        if (opts->health_timeout > 0)
                json_object_set_new(health, "Timeout", json_integer(opts->health_timeout));
        if (opts->health_start_period > 0)
                json_object_set_new(health, "StartPeriod", json_integer(opts->health_start_period));
        if (opts->health_retries > 0)
                json_object_set_new(health, "Retries", json_integer(opts->health_retries));
        if (json_object_size(health))
                json_object_set(c, "Healthcheck", health);
        json_decref(health);
        json_object_set_new(doc, "Config", c);
        json_t *hc = json_object();
        json_object_set_new(hc, "AutoRemove", json_boolean(opts->auto_remove));
        json_object_set_new(hc, "ReadonlyRootfs", json_boolean(opts->run.read_only));
        json_object_set_new(hc, "Privileged", json_boolean(opts->run.privileged));
        json_object_set_new(hc, "Init", json_boolean(opts->init));
        json_object_set_new(hc, "NetworkMode", json_string(net.mode));
        json_object_set_new(hc, "Memory", json_integer(opts->run.memory));
        json_object_set_new(hc, "MemorySwap", json_integer(opts->run.memory_swap));
        json_object_set_new(hc, "NanoCpus", json_integer((json_int_t)(opts->run.cpus * 1e9)));
        json_object_set_new(hc, "CpuShares", json_integer((json_int_t)opts->run.cpu_shares));
        json_object_set_new(hc, "PidsLimit", json_integer(opts->run.pids_limit));
        json_object_set_new(hc, "CapAdd", strv_json(opts->run.cap_add));
        json_object_set_new(hc, "CapDrop", strv_json(opts->run.cap_drop));
        json_object_set(hc, "PortBindings", net.bindings);
        json_object_set_new(hc, "PublishAllPorts", json_boolean(opts->publish_all));
        json_object_set_new(hc, "UsernsMode", json_string(n_uid_maps && opts->userns && strcmp(opts->userns, "host")
                                                                  ? opts->userns
                                                                  : n_uid_maps ? "private" : ""));
        if (idmappings)
                json_object_set(hc, "IDMappings", idmappings);
        json_object_set_new(doc, "HostConfig", hc);
        json_t *runopts = run_opts_json(opts);
        json_object_set(runopts, "Network", net.netopts);
        json_object_set_new(doc, "RunOpts", runopts);
        json_object_set_new(doc, "NetworkSettings", ctr_net_empty_settings(doc));
        {
                _cleanup_free_ char *lp = kiln_xasprintf("%s/ctr.log", dir);
                json_object_set_new(doc, "LogPath", json_string(lp));
                _cleanup_free_ char *hp = kiln_xasprintf("%s/hostname", dir);
                json_object_set_new(doc, "HostnamePath", json_string(hp));
                _cleanup_free_ char *hop = kiln_xasprintf("%s/hosts", dir);
                json_object_set_new(doc, "HostsPath", json_string(hop));
                _cleanup_free_ char *rp = kiln_xasprintf("%s/resolv.conf", dir);
                json_object_set_new(doc, "ResolvConfPath", json_string(rp));
                json_object_set_new(doc, "BundlePath", json_string(bundle));
                json_object_set(doc, "CgroupsPath",
                                json_object_get(json_object_get(spec, "linux"), "cgroupsPath"));
        }
        json_decref(spec);
        r = kiln_store_container_put(s, id, name, &img->manifest_digest, doc, err);
        if (r < 0)
                goto fail;
        json_decref(doc);
        json_decref(idmappings);
        *ret_id = kiln_xstrdup(id);
        return 0;
fail:
        ctr_unmount_rootfs(doc);
        kiln_fs_rm_rf_at(cfd, id);
        kiln_store_container_delete(s, id, NULL);
        json_decref(doc);
        json_decref(idmappings);
        return r;
}
