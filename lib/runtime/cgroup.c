/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v1 (and hybrid) and v2 management for the runtime: create a
 * container's cgroup, apply linux.resources, move processes in, list and
 * signal them, read statistics, remove it. See docs/internals/runtime-cgroups.md
 * for the v1/v2 mapping.
 *
 * Paths: linux.cgroupsPath is taken below each hierarchy's root. "/kiln/x"
 * and "kiln/x" mean the same (unlike runc, a relative path is NOT taken
 * relative to the caller's own cgroup: kiln's callers always pass absolute
 * ones, and the caller's cgroup differs per hierarchy on hybrid hosts).
 * ".." components and the root itself are refused.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>

#include "kiln/fs.h"
#include "runtime-internal.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CG_FS_ROOT "/sys/fs/cgroup"
#define CG_READ_MAX (16u << 20) /* cgroup.procs of a big cgroup; mountinfo */

enum cg_ctrl {
        C_MEMORY,
        C_CPU,
        C_CPUACCT,
        C_CPUSET,
        C_PIDS,
        C_DEVICES,
        C_FREEZER,
        C_BLKIO,
        C_SYSTEMD, /* v1 name=systemd (optional) */
        C_UNIFIED, /* v2: the only one; hybrid: the cgroup2 mount (optional) */
        C__MAX,
};

static const char *const ctrl_names[C__MAX] = {
        [C_MEMORY] = "memory",   [C_CPU] = "cpu",         [C_CPUACCT] = "cpuacct",
        [C_CPUSET] = "cpuset",   [C_PIDS] = "pids",       [C_DEVICES] = "devices",
        [C_FREEZER] = "freezer", [C_BLKIO] = "blkio",     [C_SYSTEMD] = "name=systemd",
        [C_UNIFIED] = "unified",
};

static bool ctrl_optional(enum cg_ctrl c) { return c == C_SYSTEMD || c == C_UNIFIED; }

struct kiln_cgroup {
        int mode;           /* 1 (v1/hybrid) or 2 */
        char *path;         /* "/kiln/x", normalized, for messages */
        char *dir[C__MAX];  /* the cgroup's directory in each hierarchy; NULL: not there.
                             * v2 uses dir[C_UNIFIED] only. */
};

/* Tests point the code at a cgroup2 mount of their own (see the header). */
static char *test_v2_root;

void kiln_cgroup_set_v2_root_for_tests(const char *v2_root)
{
        free(test_v2_root);
        test_v2_root = v2_root ? kiln_xstrdup(v2_root) : NULL;
}

int kiln_cgroup_mode(void)
{
        if (test_v2_root)
                return 2;
        struct statfs sfs;
        if (statfs(CG_FS_ROOT, &sfs) == 0 && (unsigned long)sfs.f_type == CGROUP2_SUPER_MAGIC)
                return 2;
        return 1;
}

/* ---- small file helpers ---- */

static char *join(const char *dir, const char *file)
{
        return kiln_xasprintf("%s/%s", dir, file);
}

/* One write(2) of value: cgroup files take one value per write. */
static int cg_write(const char *dir, const char *file, const char *value)
{
        _cleanup_free_ char *p = join(dir, file);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t len = strlen(value);
        ssize_t n;
        do
                n = write(fd, value, len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t)n != len)
                return -EIO;
        return 0;
}

static int cg_read(const char *dir, const char *file, char **ret)
{
        _cleanup_free_ char *p = join(dir, file);
        size_t len;
        return kiln_fs_read_file(AT_FDCWD, p, CG_READ_MAX, ret, &len);
}

static bool cg_exists(const char *dir, const char *file)
{
        _cleanup_free_ char *p = join(dir, file);
        return access(p, F_OK) == 0;
}

/* Read the first line of a file, trailing newline removed. */
static int cg_read_line(const char *dir, const char *file, char **ret)
{
        char *s = NULL;
        int r = cg_read(dir, file, &s);
        if (r < 0)
                return r;
        s[strcspn(s, "\n")] = 0;
        *ret = s;
        return 0;
}

/* A number or "max" (-1). Values at or above 2^62 (v1's "unlimited",
 * 9223372036854771712) read as -1 too. */
static int cg_read_i64(const char *dir, const char *file, int64_t *ret)
{
        _cleanup_free_ char *s = NULL;
        int r = cg_read_line(dir, file, &s);
        if (r < 0)
                return r;
        if (!strcmp(s, "max")) {
                *ret = -1;
                return 0;
        }
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s)
                return -KILN_EFORMAT;
        *ret = v >= (1LL << 62) ? -1 : (int64_t)v;
        return 0;
}

/* "key N" lines (memory.events, memory.oom_control, cpu.stat): the value of key. */
static int cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret)
{
        _cleanup_free_ char *s = NULL;
        int r = cg_read(dir, file, &s);
        if (r < 0)
                return r;
        size_t kl = strlen(key);
        for (char *line = s; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = 0;
                if (!strncmp(line, key, kl) && line[kl] == ' ') {
                        *ret = strtoull(line + kl + 1, NULL, 10);
                        return 0;
                }
                line = nl ? nl + 1 : NULL;
        }
        return -ENOENT;
}

static void msleep(unsigned ms)
{
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* ---- hierarchy discovery ---- */

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_mountinfo(char *s)
{
        char *w = s;
        for (char *r = s; *r;) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
                        r += 4;
                } else {
                        *w++ = *r++;
                }
        }
        *w = 0;
}

/*
 * Fill roots[] with each hierarchy's mount point. v2: roots[C_UNIFIED] only.
 * v1/hybrid: every v1 controller kiln uses, name=systemd, and the cgroup2
 * mount when there is one; the first mount of each wins.
 */
static int find_roots(int mode, char *roots[C__MAX])
{
        if (mode == 2) {
                roots[C_UNIFIED] = kiln_xstrdup(test_v2_root ? test_v2_root : CG_FS_ROOT);
                return 0;
        }
        _cleanup_free_ char *mi = NULL;
        size_t len;
        int r = kiln_fs_read_file(AT_FDCWD, "/proc/self/mountinfo", CG_READ_MAX, &mi, &len);
        if (r < 0)
                return r;
        char *save = NULL;
        for (char *line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
                char *f[6] = { 0 };
                char *sp = NULL, *tok = strtok_r(line, " ", &sp);
                int i = 0;
                for (; tok && i < 5; tok = strtok_r(NULL, " ", &sp))
                        f[i++] = tok;
                if (i < 5)
                        continue;
                char *mountpoint = f[4];
                while (tok && strcmp(tok, "-"))
                        tok = strtok_r(NULL, " ", &sp);
                if (!tok)
                        continue;
                char *fstype = strtok_r(NULL, " ", &sp);
                char *source = strtok_r(NULL, " ", &sp);
                char *opts = strtok_r(NULL, " ", &sp);
                if (!fstype || !source || !opts)
                        continue;
                if (!strcmp(fstype, "cgroup2")) {
                        if (!roots[C_UNIFIED]) {
                                unescape_mountinfo(mountpoint);
                                roots[C_UNIFIED] = kiln_xstrdup(mountpoint);
                        }
                        continue;
                }
                if (strcmp(fstype, "cgroup"))
                        continue;
                char *osave = NULL;
                for (char *o = strtok_r(opts, ",", &osave); o; o = strtok_r(NULL, ",", &osave)) {
                        for (int c = 0; c < C_UNIFIED; c++) {
                                if (strcmp(o, ctrl_names[c]) || roots[c])
                                        continue;
                                unescape_mountinfo(mountpoint);
                                roots[c] = kiln_xstrdup(mountpoint);
                        }
                }
        }
        return 0;
}

static void free_roots(char *roots[C__MAX])
{
        for (int c = 0; c < C__MAX; c++) {
                free(roots[c]);
                roots[c] = NULL;
        }
}

/* "/kiln/x", "kiln//x/" -> "kiln/x"; refuses "..", "" and "/". */
static int normalize_path(const char *path, char **ret, struct kiln_error *err)
{
        if (!path || !*path)
                return kiln_err(err, -EINVAL, "cgroup path is empty");
        if (strlen(path) > PATH_MAX / 2)
                return kiln_err(err, -KILN_ETOOBIG, "cgroup path is too long");
        _cleanup_free_ char *out = kiln_xmalloc(strlen(path) + 1);
        int r = kiln_fs_path_normalize(path, out);
        if (r < 0)
                return kiln_err(err, -EINVAL, "cgroup path '%s': '..' is not allowed", path);
        size_t n = strlen(out);
        while (n > 0 && out[n - 1] == '/')
                out[--n] = 0;
        if (n == 0 || !strcmp(out, "."))
                return kiln_err(err, -EINVAL, "cgroup path '%s' names the root cgroup", path);
        *ret = TAKE_PTR(out);
        return 0;
}

static struct kiln_cgroup *cg_new(int mode, const char *rel)
{
        struct kiln_cgroup *cg = kiln_xcalloc(1, sizeof(*cg));
        cg->mode = mode;
        cg->path = kiln_xasprintf("/%s", rel);
        return cg;
}

void kiln_cgroup_free(struct kiln_cgroup *cg)
{
        if (!cg)
                return;
        for (int c = 0; c < C__MAX; c++)
                free(cg->dir[c]);
        free(cg->path);
        free(cg);
}

/* The directory that holds controller c's files (v2: the one directory). */
static const char *cdir(const struct kiln_cgroup *cg, enum cg_ctrl c)
{
        return cg->mode == 2 ? cg->dir[C_UNIFIED] : cg->dir[c];
}

/* ---- resources ---- */

struct resources {
        int64_t mem_limit;      /* 0 unset, -1 unlimited */
        int64_t mem_swap;       /* memory+swap; 0 unset, -1 unlimited */
        int64_t mem_reservation;
        int64_t swappiness;     /* -1 unset */
        bool disable_oom;
        uint64_t cpu_shares;    /* 0 unset */
        int64_t cpu_quota;      /* 0 unset, -1 unlimited */
        uint64_t cpu_period;    /* 0 unset */
        const char *cpus, *mems;
        int64_t pids_limit;     /* 0 unset, -1 unlimited */
        uint64_t blkio_weight;  /* 0 unset */
        json_t *devices;        /* borrowed array, NULL: leave devices alone */
        json_t *unified;        /* borrowed object (v2 only) */
};

/* An integer member: *ret untouched when absent; error when not an integer. */
static int get_int(json_t *obj, const char *key, const char *where, int64_t min, int64_t *ret,
                   struct kiln_error *err)
{
        json_t *v = json_object_get(obj, key);
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_integer(v))
                return kiln_err(err, -EINVAL, "linux.resources.%s.%s: not an integer", where, key);
        json_int_t i = json_integer_value(v);
        if (i < min)
                return kiln_err(err, -EINVAL,
                                "linux.resources.%s.%s: invalid value %lld (must be %s)", where,
                                key, (long long)i,
                                min == -1 ? "-1 for unlimited or a positive number" :
                                            "a positive number");
        *ret = (int64_t)i;
        return 0;
}

static int get_str(json_t *obj, const char *key, const char *where, const char **ret,
                   struct kiln_error *err)
{
        json_t *v = json_object_get(obj, key);
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return kiln_err(err, -EINVAL, "linux.resources.%s.%s: not a string", where, key);
        const char *s = json_string_value(v);
        if (strchr(s, '\n'))
                return kiln_err(err, -EINVAL, "linux.resources.%s.%s: invalid value", where, key);
        *ret = s;
        return 0;
}

/* Parse one device rule into the v1 form "c 1:3 rwm" (and its parts). */
struct dev_rule {
        bool allow;
        char type;        /* 'a', 'b', 'c' */
        int64_t major;    /* -1: any */
        int64_t minor;
        unsigned access;  /* BPF_DEVCG_ACC_* bits */
        char line[64];
};

static int parse_dev_rule(json_t *d, size_t idx, struct dev_rule *out, struct kiln_error *err)
{
        if (!json_is_object(d))
                return kiln_err(err, -EINVAL, "linux.resources.devices[%zu]: not an object", idx);
        json_t *allow = json_object_get(d, "allow");
        if (!json_is_boolean(allow))
                return kiln_err(err, -EINVAL, "linux.resources.devices[%zu].allow: missing or not a boolean", idx);
        out->allow = json_is_true(allow);
        const char *type = "a", *access = "rwm";
        int r;
        char where[48];
        snprintf(where, sizeof(where), "devices[%zu]", idx);
        if ((r = get_str(d, "type", where, &type, err)) < 0 ||
            (r = get_str(d, "access", where, &access, err)) < 0)
                return r;
        if (!*type)
                type = "a";
        if (strlen(type) != 1 || !strchr("abc", type[0]))
                return kiln_err(err, -EINVAL, "linux.resources.devices[%zu].type: '%s' is not a, b or c", idx, type);
        out->type = type[0];
        out->major = out->minor = -1;
        if ((r = get_int(d, "major", where, -1, &out->major, err)) < 0 ||
            (r = get_int(d, "minor", where, -1, &out->minor, err)) < 0)
                return r;
        if (out->major > UINT32_MAX || out->minor > UINT32_MAX)
                return kiln_err(err, -EINVAL, "linux.resources.devices[%zu]: device number out of range", idx);
        if (!*access)
                access = "rwm";
        out->access = 0;
        for (const char *p = access; *p; p++) {
                unsigned bit = *p == 'r' ? BPF_DEVCG_ACC_READ :
                               *p == 'w' ? BPF_DEVCG_ACC_WRITE :
                               *p == 'm' ? BPF_DEVCG_ACC_MKNOD : 0;
                if (!bit || (out->access & bit))
                        return kiln_err(err, -EINVAL, "linux.resources.devices[%zu].access: '%s' is not a combination of r, w, m", idx, access);
                out->access |= bit;
        }
        char maj[24] = "*", min[24] = "*";
        if (out->major >= 0)
                snprintf(maj, sizeof(maj), "%" PRId64, out->major);
        if (out->minor >= 0)
                snprintf(min, sizeof(min), "%" PRId64, out->minor);
        snprintf(out->line, sizeof(out->line), "%c %s:%s %s%s%s", out->type, maj, min,
                 (out->access & BPF_DEVCG_ACC_READ) ? "r" : "",
                 (out->access & BPF_DEVCG_ACC_WRITE) ? "w" : "",
                 (out->access & BPF_DEVCG_ACC_MKNOD) ? "m" : "");
        return 0;
}

static int parse_resources(json_t *res, struct resources *o, struct kiln_error *err)
{
        memset(o, 0, sizeof(*o));
        o->swappiness = -1;
        if (!res || json_is_null(res))
                return 0;
        if (!json_is_object(res))
                return kiln_err(err, -EINVAL, "linux.resources: not an object");
        int r;
        json_t *m = json_object_get(res, "memory");
        if (m && !json_is_null(m)) {
                if (!json_is_object(m))
                        return kiln_err(err, -EINVAL, "linux.resources.memory: not an object");
                if ((r = get_int(m, "limit", "memory", -1, &o->mem_limit, err)) < 0 ||
                    (r = get_int(m, "swap", "memory", -1, &o->mem_swap, err)) < 0 ||
                    (r = get_int(m, "reservation", "memory", -1, &o->mem_reservation, err)) < 0 ||
                    (r = get_int(m, "swappiness", "memory", 0, &o->swappiness, err)) < 0)
                        return r;
                if (o->swappiness > 100)
                        return kiln_err(err, -EINVAL, "linux.resources.memory.swappiness: invalid value %" PRId64 " (0-100)", o->swappiness);
                json_t *d = json_object_get(m, "disableOOMKiller");
                if (d && !json_is_null(d) && !json_is_boolean(d))
                        return kiln_err(err, -EINVAL, "linux.resources.memory.disableOOMKiller: not a boolean");
                o->disable_oom = json_is_true(d);
                if (o->mem_limit > 0 && o->mem_swap > 0 && o->mem_swap < o->mem_limit)
                        return kiln_err(err, -EINVAL,
                                        "linux.resources.memory: swap (memory+swap, %" PRId64 ") is lower than limit (%" PRId64 ")",
                                        o->mem_swap, o->mem_limit);
        }
        json_t *c = json_object_get(res, "cpu");
        if (c && !json_is_null(c)) {
                if (!json_is_object(c))
                        return kiln_err(err, -EINVAL, "linux.resources.cpu: not an object");
                int64_t shares = 0, period = 0;
                if ((r = get_int(c, "shares", "cpu", 0, &shares, err)) < 0 ||
                    (r = get_int(c, "quota", "cpu", -1, &o->cpu_quota, err)) < 0 ||
                    (r = get_int(c, "period", "cpu", 0, &period, err)) < 0 ||
                    (r = get_str(c, "cpus", "cpu", &o->cpus, err)) < 0 ||
                    (r = get_str(c, "mems", "cpu", &o->mems, err)) < 0)
                        return r;
                o->cpu_shares = (uint64_t)shares;
                o->cpu_period = (uint64_t)period;
        }
        json_t *p = json_object_get(res, "pids");
        if (p && !json_is_null(p)) {
                if (!json_is_object(p))
                        return kiln_err(err, -EINVAL, "linux.resources.pids: not an object");
                if ((r = get_int(p, "limit", "pids", -1, &o->pids_limit, err)) < 0)
                        return r;
        }
        json_t *b = json_object_get(res, "blockIO");
        if (b && !json_is_null(b)) {
                if (!json_is_object(b))
                        return kiln_err(err, -EINVAL, "linux.resources.blockIO: not an object");
                int64_t w = 0;
                if ((r = get_int(b, "weight", "blockIO", 0, &w, err)) < 0)
                        return r;
                if (w != 0 && (w < 10 || w > 1000))
                        return kiln_err(err, -EINVAL, "linux.resources.blockIO.weight: invalid value %" PRId64 " (10-1000)", w);
                o->blkio_weight = (uint64_t)w;
        }
        json_t *d = json_object_get(res, "devices");
        if (d && !json_is_null(d)) {
                if (!json_is_array(d))
                        return kiln_err(err, -EINVAL, "linux.resources.devices: not an array");
                size_t i;
                json_t *e;
                json_array_foreach(d, i, e) {
                        struct dev_rule dr;
                        if ((r = parse_dev_rule(e, i, &dr, err)) < 0)
                                return r;
                }
                o->devices = d;
        }
        json_t *u = json_object_get(res, "unified");
        if (u && !json_is_null(u)) {
                if (!json_is_object(u))
                        return kiln_err(err, -EINVAL, "linux.resources.unified: not an object");
                const char *k;
                json_t *v;
                json_object_foreach(u, k, v) {
                        if (!*k || strchr(k, '/') || k[0] == '.' || !json_is_string(v))
                                return kiln_err(err, -EINVAL, "linux.resources.unified: invalid entry '%s'", k);
                }
                if (json_object_size(u))
                        o->unified = u;
        }
        return 0;
}

static int write_err(const struct kiln_cgroup *cg, const char *dir, const char *file,
                     const char *value, int r, struct kiln_error *err)
{
        return kiln_err(err, r, "cgroup %s: write '%s' to %s/%s: %s", cg->path, value, dir, file,
                        kiln_strerror(r));
}

/* Write value to file in dir; on failure fill err. */
static int set(const struct kiln_cgroup *cg, const char *dir, const char *file, const char *value,
               struct kiln_error *err)
{
        int r = cg_write(dir, file, value);
        if (r < 0)
                return write_err(cg, dir, file, value, r, err);
        return 0;
}

static int set_i64(const struct kiln_cgroup *cg, const char *dir, const char *file, int64_t v,
                   struct kiln_error *err)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRId64, v);
        return set(cg, dir, file, buf, err);
}

static int need_ctrl(const struct kiln_cgroup *cg, enum cg_ctrl c, const char *what,
                     struct kiln_error *err)
{
        if (cdir(cg, c))
                return 0;
        return kiln_err(err, -KILN_EUNSUPPORTED,
                        "cgroup %s: %s needs the %s controller, which is not mounted", cg->path,
                        what, ctrl_names[c]);
}

static int v1_apply(struct kiln_cgroup *cg, const struct resources *o, struct kiln_error *err)
{
        int r;
        const char *mem = cg->dir[C_MEMORY];
        if (o->mem_limit || o->mem_swap || o->mem_reservation || o->disable_oom ||
            o->swappiness >= 0) {
                if ((r = need_ctrl(cg, C_MEMORY, "linux.resources.memory", err)) < 0)
                        return r;
        }
        int64_t limit = o->mem_limit, swap = o->mem_swap;
        bool memsw = mem && cg_exists(mem, "memory.memsw.limit_in_bytes");
        if (limit == -1 && swap == 0 && memsw)
                swap = -1; /* unlimited memory: unlimited swap too, as runc does */
        if (swap != 0 && !memsw)
                return kiln_err(err, -KILN_EUNSUPPORTED,
                                "cgroup %s: linux.resources.memory.swap is set but this kernel has no swap accounting (memory.memsw.limit_in_bytes is missing; boot with swapaccount=1)",
                                cg->path);
        if (limit != 0 && swap != 0) {
                /* the kernel keeps memsw >= memory at every step: memsw can go
                 * first only when the new memsw is not below the current memory
                 * limit (runc's order) */
                int64_t cur = 0;
                if ((r = cg_read_i64(mem, "memory.limit_in_bytes", &cur)) < 0)
                        return kiln_err(err, r, "cgroup %s: read memory.limit_in_bytes: %s", cg->path, kiln_strerror(r));
                bool memsw_first = swap == -1 || (cur != -1 && cur <= swap);
                if (memsw_first) {
                        if ((r = set_i64(cg, mem, "memory.memsw.limit_in_bytes", swap, err)) < 0 ||
                            (r = set_i64(cg, mem, "memory.limit_in_bytes", limit, err)) < 0)
                                return r;
                } else {
                        if ((r = set_i64(cg, mem, "memory.limit_in_bytes", limit, err)) < 0 ||
                            (r = set_i64(cg, mem, "memory.memsw.limit_in_bytes", swap, err)) < 0)
                                return r;
                }
        } else if (limit != 0) {
                if ((r = set_i64(cg, mem, "memory.limit_in_bytes", limit, err)) < 0)
                        return r;
        } else if (swap != 0) {
                if ((r = set_i64(cg, mem, "memory.memsw.limit_in_bytes", swap, err)) < 0)
                        return r;
        }
        if (o->mem_reservation &&
            (r = set_i64(cg, mem, "memory.soft_limit_in_bytes", o->mem_reservation, err)) < 0)
                return r;
        if (o->swappiness >= 0 &&
            (r = set_i64(cg, mem, "memory.swappiness", o->swappiness, err)) < 0)
                return r;
        if (o->disable_oom && (r = set(cg, mem, "memory.oom_control", "1", err)) < 0)
                return r;

        if (o->cpu_shares || o->cpu_quota || o->cpu_period) {
                if ((r = need_ctrl(cg, C_CPU, "linux.resources.cpu", err)) < 0)
                        return r;
                const char *cpu = cg->dir[C_CPU];
                if (o->cpu_shares) {
                        if ((r = set_i64(cg, cpu, "cpu.shares", (int64_t)o->cpu_shares, err)) < 0)
                                return r;
                }
                if (o->cpu_period &&
                    (r = set_i64(cg, cpu, "cpu.cfs_period_us", (int64_t)o->cpu_period, err)) < 0)
                        return r;
                if (o->cpu_quota &&
                    (r = set_i64(cg, cpu, "cpu.cfs_quota_us", o->cpu_quota, err)) < 0)
                        return r;
        }
        if (o->cpus && *o->cpus) {
                if ((r = need_ctrl(cg, C_CPUSET, "linux.resources.cpu.cpus", err)) < 0 ||
                    (r = set(cg, cg->dir[C_CPUSET], "cpuset.cpus", o->cpus, err)) < 0)
                        return r;
        }
        if (o->mems && *o->mems) {
                if ((r = need_ctrl(cg, C_CPUSET, "linux.resources.cpu.mems", err)) < 0 ||
                    (r = set(cg, cg->dir[C_CPUSET], "cpuset.mems", o->mems, err)) < 0)
                        return r;
        }
        if (o->pids_limit) {
                if ((r = need_ctrl(cg, C_PIDS, "linux.resources.pids", err)) < 0)
                        return r;
                r = o->pids_limit < 0 ? set(cg, cg->dir[C_PIDS], "pids.max", "max", err) :
                                        set_i64(cg, cg->dir[C_PIDS], "pids.max", o->pids_limit, err);
                if (r < 0)
                        return r;
        }
        if (o->blkio_weight) {
                const char *blk = cg->dir[C_BLKIO];
                const char *file = NULL;
                if (blk && cg_exists(blk, "blkio.bfq.weight"))
                        file = "blkio.bfq.weight";
                else if (blk && cg_exists(blk, "blkio.weight"))
                        file = "blkio.weight";
                if (!file)
                        kiln_warn("cgroup %s: the kernel does not support block I/O weight (no blkio.weight or blkio.bfq.weight); weight discarded",
                                  cg->path);
                else if ((r = set_i64(cg, blk, file, (int64_t)o->blkio_weight, err)) < 0)
                        return r;
        }
        if (o->devices) {
                if ((r = need_ctrl(cg, C_DEVICES, "linux.resources.devices", err)) < 0)
                        return r;
                const char *dev = cg->dir[C_DEVICES];
                /* start from an empty allow list, then apply the rules in order */
                if ((r = set(cg, dev, "devices.deny", "a", err)) < 0)
                        return r;
                size_t i;
                json_t *e;
                json_array_foreach(o->devices, i, e) {
                        struct dev_rule dr;
                        if ((r = parse_dev_rule(e, i, &dr, err)) < 0)
                                return r;
                        if ((r = set(cg, dev, dr.allow ? "devices.allow" : "devices.deny",
                                     dr.line, err)) < 0)
                                return r;
                }
        }
        if (o->unified)
                return kiln_err(err, -KILN_EUNSUPPORTED,
                                "cgroup %s: linux.resources.unified needs cgroup v2", cg->path);
        return 0;
}

/* ---- v2 device control: a BPF_PROG_TYPE_CGROUP_DEVICE program ---- */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
        struct bpf_insn i = { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
        return i;
}

/*
 * Build the filter: r2 = device type, r3 = requested access, r4 = major,
 * r5 = minor; the rules are tested last to first, the first match decides
 * (later rules override earlier ones, as v1's sequential writes do);
 * nothing matching: deny. Like runc's devicefilter, a rule matches only when
 * the requested access is a subset of the rule's.
 */
static int build_dev_prog(json_t *rules, struct bpf_insn **ret, size_t *ret_n)
{
        size_t n_rules = json_array_size(rules);
        size_t cap = 6 + n_rules * 10 + 2;
        struct bpf_insn *p = kiln_xcalloc(cap, sizeof(*p));
        size_t n = 0;
        /* ctx: struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; } */
        p[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0);
        p[n++] = insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
        p[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_1, 0, 0);
        p[n++] = insn(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
        p[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0);
        p[n++] = insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0);
        for (size_t k = n_rules; k-- > 0;) {
                struct dev_rule dr;
                if (parse_dev_rule(json_array_get(rules, k), k, &dr, NULL) < 0) {
                        free(p);
                        return -EINVAL;
                }
                struct bpf_insn blk[10];
                size_t b = 0;
                /* jump offsets are filled in once the block's length is known:
                 * every test jumps to the end of the block (off = remaining) */
                size_t jumps[4], nj = 0;
                if (dr.type != 'a') {
                        jumps[nj++] = b;
                        blk[b++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0,
                                        dr.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
                }
                unsigned all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
                if (dr.access != all) {
                        /* requested & ~rule must be 0 */
                        blk[b++] = insn(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
                        blk[b++] = insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0,
                                        (int32_t)(~dr.access & all));
                        jumps[nj++] = b;
                        blk[b++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_1, 0, 0, 0);
                }
                if (dr.major >= 0) {
                        jumps[nj++] = b;
                        blk[b++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int32_t)dr.major);
                }
                if (dr.minor >= 0) {
                        jumps[nj++] = b;
                        blk[b++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)dr.minor);
                }
                blk[b++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, dr.allow ? 1 : 0);
                blk[b++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
                for (size_t j = 0; j < nj; j++)
                        blk[jumps[j]].off = (int16_t)(b - jumps[j] - 1);
                memcpy(p + n, blk, b * sizeof(*blk));
                n += b;
                if (nj == 0)
                        goto done; /* matches everything: earlier rules are unreachable */
        }
        p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
        p[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
done:
        *ret = p;
        *ret_n = n;
        return 0;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
        return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int v2_devices_apply(struct kiln_cgroup *cg, json_t *rules, struct kiln_error *err)
{
        _cleanup_free_ struct bpf_insn *prog = NULL;
        size_t n = 0;
        int r = build_dev_prog(rules, &prog, &n);
        if (r < 0)
                return kiln_err(err, r, "cgroup %s: invalid device rules", cg->path);
        char log[4096] = "";
        union bpf_attr attr;
        memset(&attr, 0, sizeof(attr));
        attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
        attr.insns = (uint64_t)(uintptr_t)prog;
        attr.insn_cnt = (uint32_t)n;
        attr.license = (uint64_t)(uintptr_t) "Apache";
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = sizeof(log);
        attr.log_level = 1;
        _cleanup_close_ int pfd = (int)sys_bpf(BPF_PROG_LOAD, &attr);
        if (pfd < 0) {
                r = -errno;
                log[strcspn(log, "\n")] = 0;
                return kiln_err(err, r, "cgroup %s: load the device filter (eBPF): %s%s%s", cg->path,
                                kiln_strerror(r), log[0] ? ": " : "", log);
        }
        _cleanup_close_ int cfd = open(cg->dir[C_UNIFIED], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cfd < 0)
                return kiln_err(err, -errno, "cgroup %s: open %s: %m", cg->path, cg->dir[C_UNIFIED]);

        /* programs attached before (a reused cgroup) are detached after the new one is in */
        uint32_t old[64];
        uint32_t n_old = 0;
        memset(&attr, 0, sizeof(attr));
        attr.query.target_fd = (uint32_t)cfd;
        attr.query.attach_type = BPF_CGROUP_DEVICE;
        attr.query.prog_ids = (uint64_t)(uintptr_t)old;
        attr.query.prog_cnt = KILN_ARRAY_SIZE(old);
        if (sys_bpf(BPF_PROG_QUERY, &attr) == 0)
                n_old = attr.query.prog_cnt;

        memset(&attr, 0, sizeof(attr));
        attr.target_fd = (uint32_t)cfd;
        attr.attach_bpf_fd = (uint32_t)pfd;
        attr.attach_type = BPF_CGROUP_DEVICE;
        attr.attach_flags = BPF_F_ALLOW_MULTI;
        if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0) {
                r = -errno;
                return kiln_err(err, r, "cgroup %s: attach the device filter: %s", cg->path,
                                kiln_strerror(r));
        }
        for (uint32_t i = 0; i < n_old && i < KILN_ARRAY_SIZE(old); i++) {
                memset(&attr, 0, sizeof(attr));
                attr.prog_id = old[i];
                int ofd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
                if (ofd < 0)
                        continue;
                memset(&attr, 0, sizeof(attr));
                attr.target_fd = (uint32_t)cfd;
                attr.attach_bpf_fd = (uint32_t)ofd;
                attr.attach_type = BPF_CGROUP_DEVICE;
                (void)sys_bpf(BPF_PROG_DETACH, &attr);
                close(ofd);
        }
        return 0;
}

/* Is controller name listed in dir's cgroup.controllers? */
static bool v2_has_controller(const char *dir, const char *name)
{
        _cleanup_free_ char *s = NULL;
        if (cg_read_line(dir, "cgroup.controllers", &s) < 0)
                return false;
        char *save = NULL;
        for (char *t = strtok_r(s, " ", &save); t; t = strtok_r(NULL, " ", &save))
                if (!strcmp(t, name))
                        return true;
        return false;
}

static int v2_need(const struct kiln_cgroup *cg, const char *name, const char *what,
                   struct kiln_error *err)
{
        if (v2_has_controller(cg->dir[C_UNIFIED], name))
                return 0;
        _cleanup_free_ char *have = NULL;
        (void)cg_read_line(cg->dir[C_UNIFIED], "cgroup.controllers", &have);
        return kiln_err(err, -KILN_EUNSUPPORTED,
                        "cgroup %s: %s needs the cgroup v2 '%s' controller, which is not enabled (available: %s)",
                        cg->path, what, name, have && *have ? have : "none");
}

static int v2_apply(struct kiln_cgroup *cg, const struct resources *o, struct kiln_error *err)
{
        const char *d = cg->dir[C_UNIFIED];
        int r;
        char buf[64];
        if (o->mem_limit || o->mem_swap || o->mem_reservation) {
                if ((r = v2_need(cg, "memory", "linux.resources.memory", err)) < 0)
                        return r;
        }
        if (o->mem_limit && (r = o->mem_limit < 0 ? set(cg, d, "memory.max", "max", err) :
                                                    set_i64(cg, d, "memory.max", o->mem_limit, err)) < 0)
                return r;
        if (o->mem_swap) {
                /* the spec's swap is memory+swap; v2 limits swap alone */
                if (!cg_exists(d, "memory.swap.max"))
                        return kiln_err(err, -KILN_EUNSUPPORTED,
                                        "cgroup %s: linux.resources.memory.swap is set but this kernel has no swap accounting (memory.swap.max is missing)",
                                        cg->path);
                if (o->mem_swap < 0)
                        r = set(cg, d, "memory.swap.max", "max", err);
                else if (o->mem_limit <= 0)
                        return kiln_err(err, -EINVAL,
                                        "cgroup %s: linux.resources.memory.swap needs a memory limit on cgroup v2",
                                        cg->path);
                else
                        r = set_i64(cg, d, "memory.swap.max", o->mem_swap - o->mem_limit, err);
                if (r < 0)
                        return r;
        }
        if (o->mem_reservation &&
            (r = o->mem_reservation < 0 ? set(cg, d, "memory.low", "max", err) :
                                          set_i64(cg, d, "memory.low", o->mem_reservation, err)) < 0)
                return r;
        if (o->disable_oom)
                kiln_warn("cgroup %s: disableOOMKiller has no cgroup v2 equivalent; ignored", cg->path);
        if (o->swappiness >= 0)
                kiln_warn("cgroup %s: memory.swappiness has no cgroup v2 equivalent; ignored", cg->path);

        if (o->cpu_shares || o->cpu_quota || o->cpu_period) {
                if ((r = v2_need(cg, "cpu", "linux.resources.cpu", err)) < 0)
                        return r;
        }
        if (o->cpu_shares) {
                uint64_t s = KILN_MIN(KILN_MAX(o->cpu_shares, 2), 262144);
                uint64_t w = 1 + ((s - 2) * 9999) / 262142;
                if ((r = set_i64(cg, d, "cpu.weight", (int64_t)w, err)) < 0)
                        return r;
        }
        if (o->cpu_quota || o->cpu_period) {
                uint64_t period = o->cpu_period ? o->cpu_period : 100000;
                if (o->cpu_quota > 0)
                        snprintf(buf, sizeof(buf), "%" PRId64 " %" PRIu64, o->cpu_quota, period);
                else
                        snprintf(buf, sizeof(buf), "max %" PRIu64, period);
                if ((r = set(cg, d, "cpu.max", buf, err)) < 0)
                        return r;
        }
        if ((o->cpus && *o->cpus) || (o->mems && *o->mems)) {
                if ((r = v2_need(cg, "cpuset", "linux.resources.cpu.cpus/mems", err)) < 0)
                        return r;
                if (o->cpus && *o->cpus && (r = set(cg, d, "cpuset.cpus", o->cpus, err)) < 0)
                        return r;
                if (o->mems && *o->mems && (r = set(cg, d, "cpuset.mems", o->mems, err)) < 0)
                        return r;
        }
        if (o->pids_limit) {
                if ((r = v2_need(cg, "pids", "linux.resources.pids", err)) < 0)
                        return r;
                if ((r = o->pids_limit < 0 ? set(cg, d, "pids.max", "max", err) :
                                             set_i64(cg, d, "pids.max", o->pids_limit, err)) < 0)
                        return r;
        }
        if (o->blkio_weight) {
                const char *file = cg_exists(d, "io.bfq.weight") ? "io.bfq.weight" :
                                   cg_exists(d, "io.weight")     ? "io.weight" : NULL;
                if (!file)
                        kiln_warn("cgroup %s: the io controller has no weight here (no io.weight or io.bfq.weight); block I/O weight discarded",
                                  cg->path);
                else {
                        /* io.weight is 1-10000 (default 100), blkio 10-1000 (default 500):
                         * map as runc does; io.bfq.weight takes 1-1000 directly */
                        uint64_t w = o->blkio_weight;
                        if (!strcmp(file, "io.weight"))
                                w = 1 + (w - 10) * 9999 / 990;
                        snprintf(buf, sizeof(buf), "default %" PRIu64, w);
                        if ((r = set(cg, d, file, buf, err)) < 0)
                                return r;
                }
        }
        if (o->devices && (r = v2_devices_apply(cg, o->devices, err)) < 0)
                return r;
        if (o->unified) {
                const char *k;
                json_t *v;
                json_object_foreach(o->unified, k, v) {
                        if ((r = set(cg, d, k, json_string_value(v), err)) < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- create / open ---- */

/* v1 cpuset: an empty cpuset.cpus/mems takes the parent's, or tasks cannot join. */
static int cpuset_init(const struct kiln_cgroup *cg, const char *parent, const char *dir,
                       struct kiln_error *err)
{
        static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(files); i++) {
                _cleanup_free_ char *cur = NULL, *par = NULL;
                int r = cg_read_line(dir, files[i], &cur);
                if (r < 0)
                        return kiln_err(err, r, "cgroup %s: read %s/%s: %s", cg->path, dir, files[i], kiln_strerror(r));
                if (*cur)
                        continue;
                r = cg_read_line(parent, files[i], &par);
                if (r < 0)
                        return kiln_err(err, r, "cgroup %s: read %s/%s: %s", cg->path, parent, files[i], kiln_strerror(r));
                if (!*par)
                        continue;
                if ((r = set(cg, dir, files[i], par, err)) < 0)
                        return r;
        }
        return 0;
}

/* v2: enable the controllers kiln uses (those available) in dir's subtree_control. */
static int v2_enable_subtree(const struct kiln_cgroup *cg, const char *dir, const struct resources *o,
                             struct kiln_error *err)
{
        static const char *const want[] = { "cpuset", "cpu", "io", "memory", "pids" };
        _cleanup_free_ char *have = NULL, *on = NULL;
        if (cg_read_line(dir, "cgroup.controllers", &have) < 0)
                return 0; /* nothing to delegate */
        (void)cg_read_line(dir, "cgroup.subtree_control", &on);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(want); i++) {
                if (!v2_has_controller(dir, want[i]))
                        continue;
                /* already on? */
                bool enabled = false;
                if (on) {
                        _cleanup_free_ char *copy = kiln_xstrdup(on);
                        char *save = NULL;
                        for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
                                if (!strcmp(t, want[i]))
                                        enabled = true;
                }
                if (enabled)
                        continue;
                char val[32];
                snprintf(val, sizeof(val), "+%s", want[i]);
                int r = cg_write(dir, "cgroup.subtree_control", val);
                if (r >= 0)
                        continue;
                bool needed = (!strcmp(want[i], "memory") && (o->mem_limit || o->mem_swap || o->mem_reservation)) ||
                              (!strcmp(want[i], "cpu") && (o->cpu_shares || o->cpu_quota || o->cpu_period)) ||
                              (!strcmp(want[i], "pids") && o->pids_limit) ||
                              (!strcmp(want[i], "cpuset") && ((o->cpus && *o->cpus) || (o->mems && *o->mems)));
                if (!needed) {
                        kiln_warn("cgroup %s: cannot enable %s in %s/cgroup.subtree_control: %s",
                                  cg->path, want[i], dir, kiln_strerror(r));
                        continue;
                }
                return kiln_err(err, r, "cgroup %s: enable %s in %s/cgroup.subtree_control: %s%s",
                                cg->path, want[i], dir, kiln_strerror(r),
                                r == -EBUSY ? " (the cgroup has processes of its own: cgroup v2 allows controllers only in cgroups without them)" : "");
        }
        return 0;
}

/*
 * mkdir -p root/rel. For each level below root: v1 cpuset levels get their
 * parent's cpus/mems; v2 levels above the leaf get the controllers enabled.
 * *ret_created: whether the leaf was made now.
 */
static int make_dirs(const struct kiln_cgroup *cg, enum cg_ctrl c, const char *root, const char *rel,
                     const struct resources *o, bool *ret_created, struct kiln_error *err)
{
        _cleanup_free_ char *full = kiln_xasprintf("%s/%s", root, rel);
        size_t rootlen = strlen(root);
        bool created = false;
        int r;
        if (cg->mode == 2 && (r = v2_enable_subtree(cg, root, o, err)) < 0)
                return r;
        for (size_t i = rootlen + 1;; i++) {
                if (full[i] != '/' && full[i] != 0)
                        continue;
                char ch = full[i];
                full[i] = 0;
                created = false;
                if (mkdir(full, 0755) == 0)
                        created = true;
                else if (errno != EEXIST)
                        return kiln_err(err, -errno, "cgroup %s: mkdir %s: %m", cg->path, full);
                if (c == C_CPUSET) {
                        _cleanup_free_ char *parent = kiln_xstrdup(full);
                        *strrchr(parent, '/') = 0;
                        if ((r = cpuset_init(cg, parent, full, err)) < 0) {
                                if (created)
                                        (void)rmdir(full);
                                return r;
                        }
                }
                if (ch == 0)
                        break;
                if (cg->mode == 2 && (r = v2_enable_subtree(cg, full, o, err)) < 0)
                        return r;
                full[i] = ch;
        }
        *ret_created = created;
        return 0;
}

static int rm_tree(const char *dir);

int kiln_cgroup_create(const char *path, json_t *resources, struct kiln_cgroup **ret,
                       struct kiln_error *err)
{
        _cleanup_free_ char *rel = NULL;
        int r = normalize_path(path, &rel, err);
        if (r < 0)
                return r;
        struct resources o;
        if ((r = parse_resources(resources, &o, err)) < 0)
                return r;
        int mode = kiln_cgroup_mode();
        char *roots[C__MAX] = { 0 };
        if ((r = find_roots(mode, roots)) < 0)
                return kiln_err(err, r, "cgroup: read /proc/self/mountinfo: %s", kiln_strerror(r));
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = cg_new(mode, rel);
        bool created[C__MAX] = { 0 };
        bool any = false;
        for (int c = 0; c < C__MAX; c++) {
                if (!roots[c] || (mode == 2 && c != C_UNIFIED))
                        continue;
                struct kiln_error sub = { 0 };
                r = make_dirs(cg, c, roots[c], rel, &o, &created[c], &sub);
                if (r < 0 && mode == 1 && ctrl_optional(c)) {
                        kiln_warn("%s (skipped)", sub.msg);
                        continue;
                }
                if (r < 0) {
                        if (err)
                                *err = sub;
                        goto fail;
                }
                cg->dir[c] = kiln_xasprintf("%s/%s", roots[c], rel);
                if (!ctrl_optional(c) || mode == 2)
                        any = true;
        }
        if (!any) {
                r = kiln_err(err, -KILN_EUNSUPPORTED,
                             "cgroup %s: no cgroup hierarchy is mounted (looked for v1 controllers and cgroup2)",
                             cg->path);
                goto fail;
        }
        r = mode == 2 ? v2_apply(cg, &o, err) : v1_apply(cg, &o, err);
        if (r < 0)
                goto fail;
        free_roots(roots);
        *ret = TAKE_PTR(cg);
        return 0;
fail:
        /* remove only the leaves made now; parents may be shared */
        for (int c = 0; c < C__MAX; c++)
                if (created[c] && cg->dir[c])
                        (void)rm_tree(cg->dir[c]);
        free_roots(roots);
        return r;
}

int kiln_cgroup_open(const char *path, struct kiln_cgroup **ret, struct kiln_error *err)
{
        _cleanup_free_ char *rel = NULL;
        int r = normalize_path(path, &rel, err);
        if (r < 0)
                return r;
        int mode = kiln_cgroup_mode();
        char *roots[C__MAX] = { 0 };
        if ((r = find_roots(mode, roots)) < 0)
                return kiln_err(err, r, "cgroup: read /proc/self/mountinfo: %s", kiln_strerror(r));
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = cg_new(mode, rel);
        bool any = false;
        for (int c = 0; c < C__MAX; c++) {
                if (!roots[c] || (mode == 2 && c != C_UNIFIED))
                        continue;
                char *d = kiln_xasprintf("%s/%s", roots[c], rel);
                struct stat st;
                if (stat(d, &st) < 0 || !S_ISDIR(st.st_mode)) {
                        free(d);
                        continue;
                }
                cg->dir[c] = d;
                if (!ctrl_optional(c) || mode == 2)
                        any = true;
        }
        free_roots(roots);
        if (!any)
                return kiln_err(err, -KILN_ENOTFOUND, "cgroup %s: not found", cg->path);
        *ret = TAKE_PTR(cg);
        return 0;
}

/* ---- enter / pids / signal ---- */

int kiln_cgroup_enter(struct kiln_cgroup *cg, pid_t pid, struct kiln_error *err)
{
        if (!cg || pid <= 0)
                return kiln_err(err, -EINVAL, "cgroup: enter: invalid arguments");
        char buf[24];
        snprintf(buf, sizeof(buf), "%d", (int)pid);
        for (int c = 0; c < C__MAX; c++) {
                if (!cg->dir[c])
                        continue;
                int r = cg_write(cg->dir[c], "cgroup.procs", buf);
                if (r >= 0)
                        continue;
                if (cg->mode == 1 && ctrl_optional(c) &&
                    (r == -EACCES || r == -ENOENT || r == -EPERM || r == -EBUSY || r == -EOPNOTSUPP)) {
                        kiln_warn("cgroup %s: cannot join the %s hierarchy: %s (skipped)", cg->path,
                                  ctrl_names[c], kiln_strerror(r));
                        continue;
                }
                return kiln_err(err, r, "cgroup %s: move pid %d into %s: %s%s", cg->path, (int)pid,
                                cg->dir[c], kiln_strerror(r),
                                r == -ESRCH ? " (no such process)" : "");
        }
        return 0;
}

/* The directory to read membership from: v1 memory, then pids, then any. */
static const char *procs_dir(const struct kiln_cgroup *cg)
{
        if (cg->mode == 2)
                return cg->dir[C_UNIFIED];
        static const enum cg_ctrl order[] = { C_MEMORY, C_PIDS, C_FREEZER, C_CPU, C_CPUACCT,
                                              C_DEVICES, C_BLKIO, C_CPUSET, C_SYSTEMD, C_UNIFIED };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(order); i++)
                if (cg->dir[order[i]])
                        return cg->dir[order[i]];
        return NULL;
}

struct pidset {
        pid_t *v;
        size_t n, cap;
};

static bool pidset_has(const struct pidset *s, pid_t p)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i] == p)
                        return true;
        return false;
}

static void pidset_add(struct pidset *s, pid_t p)
{
        if (pidset_has(s, p))
                return;
        if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 16;
                s->v = kiln_xrealloc(s->v, s->cap * sizeof(*s->v));
        }
        s->v[s->n++] = p;
}

/* Pids in dir and every cgroup below it (depth-limited). */
static int collect_pids(const char *dir, struct pidset *s, int depth)
{
        if (depth > 64)
                return -ELOOP;
        _cleanup_free_ char *procs = NULL;
        int r = cg_read(dir, "cgroup.procs", &procs);
        if (r < 0)
                return r;
        char *save = NULL;
        for (char *t = strtok_r(procs, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
                long v = strtol(t, NULL, 10);
                if (v > 0)
                        pidset_add(s, (pid_t)v);
        }
        DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        struct dirent *de;
        r = 0;
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *sub = join(dir, de->d_name);
                int q = collect_pids(sub, s, depth + 1);
                if (q < 0 && q != -ENOENT && r == 0)
                        r = q;
        }
        closedir(d);
        return r;
}

int kiln_cgroup_pids(struct kiln_cgroup *cg, pid_t **ret, size_t *ret_n)
{
        if (!cg || !ret || !ret_n)
                return -EINVAL;
        const char *dir = procs_dir(cg);
        if (!dir)
                return -KILN_ENOTFOUND;
        struct pidset s = { 0 };
        int r = collect_pids(dir, &s, 0);
        if (r < 0) {
                free(s.v);
                return r;
        }
        *ret = s.v;
        *ret_n = s.n;
        return 0;
}

/* Freeze (true) or thaw the cgroup; false when there is no freezer. */
static bool set_frozen(struct kiln_cgroup *cg, bool frozen)
{
        const char *dir;
        if (cg->mode == 2) {
                dir = cg->dir[C_UNIFIED];
                if (!dir || cg_write(dir, "cgroup.freeze", frozen ? "1" : "0") < 0)
                        return false;
                if (!frozen)
                        return true;
                for (int i = 0; i < 100; i++) {
                        uint64_t v = 0;
                        if (cg_read_keyed(dir, "cgroup.events", "frozen", &v) == 0 && v == 1)
                                return true;
                        msleep(10);
                }
                return true; /* partly frozen: still better than nothing */
        }
        dir = cg->dir[C_FREEZER];
        if (!dir || cg_write(dir, "freezer.state", frozen ? "FROZEN" : "THAWED") < 0)
                return false;
        if (!frozen)
                return true;
        for (int i = 0; i < 100; i++) {
                _cleanup_free_ char *st = NULL;
                if (cg_read_line(dir, "freezer.state", &st) == 0 && !strcmp(st, "FROZEN"))
                        return true;
                /* FREEZING: ask again, as runc does */
                (void)cg_write(dir, "freezer.state", "FROZEN");
                msleep(10);
        }
        return true;
}

int kiln_cgroup_signal_all(struct kiln_cgroup *cg, int sig)
{
        if (!cg || sig < 0 || sig >= NSIG)
                return -EINVAL;
        if (cg->mode == 2 && sig == SIGKILL && cg->dir[C_UNIFIED] &&
            cg_write(cg->dir[C_UNIFIED], "cgroup.kill", "1") == 0)
                return 0;
        const char *dir = procs_dir(cg);
        if (dir) {
                /* empty (the usual case when a stopped container is deleted):
                 * nothing in it can fork, so there is nothing to freeze */
                struct pidset pre = { 0 };
                int pr = collect_pids(dir, &pre, 0);
                free(pre.v);
                if (pr == 0 && pre.n == 0)
                        return 0;
        }
        bool frozen = set_frozen(cg, true);
        int r = 0;
        struct pidset done = { 0 };
        for (int pass = 0; pass < 5 && dir; pass++) {
                struct pidset now = { 0 };
                r = collect_pids(dir, &now, 0);
                if (r < 0) {
                        free(now.v);
                        break;
                }
                size_t fresh = 0;
                for (size_t i = 0; i < now.n; i++) {
                        if (pidset_has(&done, now.v[i]))
                                continue;
                        fresh++;
                        if (kill(now.v[i], sig) < 0 && errno != ESRCH && r == 0)
                                r = -errno;
                        pidset_add(&done, now.v[i]);
                }
                free(now.v);
                /* frozen: nothing new can appear; otherwise look again for
                 * children forked while we walked */
                if (fresh == 0 || frozen)
                        break;
        }
        free(done.v);
        if (frozen)
                set_frozen(cg, false);
        if (!dir)
                return -KILN_ENOTFOUND;
        return r == -ENOENT ? 0 : r;
}

/* ---- stats ---- */

/* Sum "MAJ:MIN Read N" / "MAJ:MIN Write N" lines (v1 blkio). */
static void v1_blkio(const char *dir, uint64_t *rd, uint64_t *wr)
{
        _cleanup_free_ char *s = NULL;
        if (cg_read(dir, "blkio.throttle.io_service_bytes_recursive", &s) < 0 &&
            cg_read(dir, "blkio.throttle.io_service_bytes", &s) < 0)
                return;
        char *save = NULL;
        for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char dev[32], op[16];
                unsigned long long v;
                if (sscanf(l, "%31s %15s %llu", dev, op, &v) != 3)
                        continue;
                if (!strcmp(op, "Read"))
                        *rd += v;
                else if (!strcmp(op, "Write"))
                        *wr += v;
        }
}

/* io.stat lines "MAJ:MIN rbytes=N wbytes=N ..." (v2). */
static void v2_io(const char *dir, uint64_t *rd, uint64_t *wr)
{
        _cleanup_free_ char *s = NULL;
        if (cg_read(dir, "io.stat", &s) < 0)
                return;
        char *save = NULL;
        for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *fs = NULL;
                for (char *t = strtok_r(l, " ", &fs); t; t = strtok_r(NULL, " ", &fs)) {
                        if (kiln_startswith(t, "rbytes="))
                                *rd += strtoull(t + 7, NULL, 10);
                        else if (kiln_startswith(t, "wbytes="))
                                *wr += strtoull(t + 7, NULL, 10);
                }
        }
}

int kiln_cgroup_stats(struct kiln_cgroup *cg, struct kiln_cgroup_stats *ret)
{
        if (!cg || !ret)
                return -EINVAL;
        struct kiln_cgroup_stats s = {
                .memory_usage = -1, .memory_limit = -1, .pids_current = -1, .pids_limit = -1,
        };
        int64_t v;
        uint64_t u;
        const char *d;
        if (cg->mode == 2) {
                d = cg->dir[C_UNIFIED];
                if (!d)
                        return -KILN_ENOTFOUND;
                if (cg_read_i64(d, "memory.current", &v) == 0)
                        s.memory_usage = v;
                if (cg_read_i64(d, "memory.max", &v) == 0)
                        s.memory_limit = v;
                if (cg_read_keyed(d, "cpu.stat", "usage_usec", &u) == 0)
                        s.cpu_usage_ns = u * 1000;
                if (cg_read_i64(d, "pids.current", &v) == 0)
                        s.pids_current = v;
                if (cg_read_i64(d, "pids.max", &v) == 0)
                        s.pids_limit = v;
                if (cg_read_keyed(d, "memory.events", "oom_kill", &u) == 0)
                        s.oom_kills = u;
                if (cg_read_keyed(d, "memory.stat", "inactive_file", &u) == 0)
                        s.memory_inactive_file = u;
                v2_io(d, &s.blkio_read_bytes, &s.blkio_write_bytes);
        } else {
                if ((d = cg->dir[C_MEMORY])) {
                        if (cg_read_i64(d, "memory.usage_in_bytes", &v) == 0)
                                s.memory_usage = v;
                        if (cg_read_i64(d, "memory.limit_in_bytes", &v) == 0)
                                s.memory_limit = v;
                        if (cg_read_keyed(d, "memory.oom_control", "oom_kill", &u) == 0)
                                s.oom_kills = u;
                        if (cg_read_keyed(d, "memory.stat", "total_inactive_file", &u) == 0)
                                s.memory_inactive_file = u;
                }
                if ((d = cg->dir[C_CPUACCT]) && cg_read_i64(d, "cpuacct.usage", &v) == 0 && v >= 0)
                        s.cpu_usage_ns = (uint64_t)v;
                if ((d = cg->dir[C_PIDS])) {
                        if (cg_read_i64(d, "pids.current", &v) == 0)
                                s.pids_current = v;
                        if (cg_read_i64(d, "pids.max", &v) == 0)
                                s.pids_limit = v;
                }
                if ((d = cg->dir[C_BLKIO]))
                        v1_blkio(d, &s.blkio_read_bytes, &s.blkio_write_bytes);
        }
        *ret = s;
        return 0;
}

/* ---- destroy ---- */

/* rmdir dir and the cgroups below it, deepest first. Missing is fine. */
static int rm_tree(const char *dir)
{
        DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *sub = join(dir, de->d_name);
                int q = rm_tree(sub);
                if (q < 0 && r == 0)
                        r = q;
        }
        closedir(d);
        if (rmdir(dir) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

int kiln_cgroup_destroy(struct kiln_cgroup *cg, struct kiln_error *err)
{
        if (!cg)
                return kiln_err(err, -EINVAL, "cgroup: destroy: no cgroup");
        int res[C__MAX] = { 0 };
        /* processes that just got SIGKILL leave the cgroup a moment later:
         * retry the busy hierarchies together, ~1 s in all */
        for (unsigned attempt = 0, wait = 10; attempt < 8; attempt++, wait *= 2) {
                bool busy = false;
                for (int c = 0; c < C__MAX; c++) {
                        if (!cg->dir[c] || (attempt > 0 && res[c] != -EBUSY))
                                continue;
                        res[c] = rm_tree(cg->dir[c]);
                        busy |= res[c] == -EBUSY;
                }
                if (!busy || attempt == 7)
                        break;
                msleep(KILN_MIN(wait, 200u));
        }
        for (int c = 0; c < C__MAX; c++)
                if (res[c] < 0)
                        return kiln_err(err, res[c], "cgroup %s: remove %s: %s%s", cg->path,
                                        cg->dir[c], kiln_strerror(res[c]),
                                        res[c] == -EBUSY ? " (processes are still in it)" : "");
        return 0;
}

/*
 * Warming the cgroup attach path.
 *
 * Moving a process into a cgroup (a write to cgroup.procs, any hierarchy,
 * v1 or v2) takes the kernel's global cgroup_threadgroup_rwsem for writing.
 * After a quiet period that write lock first waits for an RCU grace period
 * (rcu_sync_enter: 5-20 ms on this project's VMs, most of a container start);
 * another write within about one grace period of the last one does not.
 * kiln_rt_cgroup_warm() pays that wait in a background thread while the
 * caller does its own work (store, overlay, spec), by writing our own pid to
 * the cgroup.procs of the cgroup we are already in: a move to the same
 * cgroup, which the kernel skips (no controller's attach callback runs), so
 * only the lock's state changes. The init's real attach then finds the lock
 * warm. Best effort: any failure just leaves the attach as slow as before.
 *
 * The thread uses only open/read/write/close on stack buffers (no malloc,
 * no stdio) and is joined (kiln_cgroup_warm_wait) before the runtime forks
 * or clones.
 */

static pthread_t warm_thread;
static pid_t warm_owner; /* the process that started it (a forked child has no thread) */

static bool warm_write(const char *dir, const char *rel, const char *pid, size_t pid_len)
{
        char path[PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s%s%scgroup.procs", dir, rel,
                         rel[0] && rel[strlen(rel) - 1] != '/' ? "/" : "");
        if (n < 0 || (size_t)n >= sizeof(path))
                return false;
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return false;
        bool ok = write(fd, pid, pid_len) == (ssize_t)pid_len;
        close(fd);
        return ok;
}

static void *warm_main(void *arg)
{
        (void)arg;
        char buf[4096];
        int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        ssize_t len = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (len <= 0)
                return NULL;
        buf[len] = 0;
        char pid[24];
        int pid_len = snprintf(pid, sizeof(pid), "%d", (int)getpid());
        /* "ID:CONTROLLERS:PATH" lines, split in place */
        const char *ctrls[32], *rels[32];
        size_t n = 0;
        for (char *line = buf, *next; line && *line && n < 32; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2 || c2[1] != '/')
                        continue;
                *c2 = 0;
                ctrls[n] = c1 + 1;
                rels[n++] = c2 + 1;
        }
        /* the lock is global, any hierarchy warms it: those without
         * controllers first (cgroup2, name=systemd), then a v1 controller */
        for (size_t i = 0; i < n; i++)
                if (!*ctrls[i] && (warm_write(CG_FS_ROOT "/unified", rels[i], pid, (size_t)pid_len) ||
                                   warm_write(CG_FS_ROOT, rels[i], pid, (size_t)pid_len)))
                        return NULL;
        for (size_t i = 0; i < n; i++)
                if (!strcmp(ctrls[i], "name=systemd") &&
                    warm_write(CG_FS_ROOT "/systemd", rels[i], pid, (size_t)pid_len))
                        return NULL;
        for (size_t i = 0; i < n; i++) {
                char dir[128];
                if (!*ctrls[i] || strchr(ctrls[i], ',') || strchr(ctrls[i], '='))
                        continue;
                snprintf(dir, sizeof(dir), CG_FS_ROOT "/%s", ctrls[i]);
                if (warm_write(dir, rels[i], pid, (size_t)pid_len))
                        return NULL;
        }
        return NULL;
}

void kiln_rt_cgroup_warm(void)
{
        if (warm_owner == getpid() || geteuid() != 0 || kiln_in_userns())
                return;
        /* the thread takes no signal: a process-directed one (a Ctrl-C kiln
         * forwards) would otherwise be delivered to it and kill kiln */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&warm_thread, NULL, warm_main, NULL) == 0)
                warm_owner = getpid();
        pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void kiln_cgroup_warm_wait(void)
{
        if (warm_owner == 0)
                return;
        if (warm_owner == getpid())
                pthread_join(warm_thread, NULL);
        warm_owner = 0;
}

void kiln_rt_cgroup_warm_done(void)
{
        kiln_cgroup_warm_wait();
}
