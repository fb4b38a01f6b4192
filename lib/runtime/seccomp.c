/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading an OCI linux.seccomp object, compiled with libseccomp following
 * runc's rules: unknown syscall names are skipped, rules whose action equals the
 * default action are skipped, several conditions on the same argument
 * become separate rules (OR) while conditions on different arguments form
 * one rule (AND). NO_NEW_PRIVS is left to the caller (the runtime sets it
 * as process.noNewPrivileges says), so the filter can be loaded earlier by
 * a process with CAP_SYS_ADMIN.
 *
 * Compiling Docker's default profile (~300 syscalls, ~1000 BPF
 * instructions) costs milliseconds of CPU, so the runtime compiles in its
 * own process, before clone, through a cache of ready programs
 * (STATE_ROOT/.seccomp-cache/<sha256>.bpf), and the container's init only
 * hands the program to seccomp(2).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kiln/digest.h"
#include "kiln/fs.h"
#include "kiln/runtime.h"
#include "runtime-internal.h"

/* The kernel's limit on a classic BPF program (BPF_MAXINSNS). */
#define PROG_MAX_INSNS 4096u
#define CACHE_DIR ".seccomp-cache"

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

/* An OCI action name (+ errno for ERRNO/TRACE) to a libseccomp action. */
static int parse_action(const char *name, json_t *errno_ret, uint32_t *ret)
{
        uint32_t e = EPERM;
        if (json_is_integer(errno_ret)) {
                json_int_t v = json_integer_value(errno_ret);
                if (v < 0 || v > 0xffff)
                        return -EINVAL;
                e = (uint32_t)v;
        }
        if (!strcmp(name, "SCMP_ACT_ALLOW"))
                *ret = SCMP_ACT_ALLOW;
        else if (!strcmp(name, "SCMP_ACT_ERRNO"))
                *ret = SCMP_ACT_ERRNO(e);
        else if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD"))
                *ret = SCMP_ACT_KILL_THREAD;
        else if (!strcmp(name, "SCMP_ACT_KILL_PROCESS"))
                *ret = SCMP_ACT_KILL_PROCESS;
        else if (!strcmp(name, "SCMP_ACT_TRAP"))
                *ret = SCMP_ACT_TRAP;
        else if (!strcmp(name, "SCMP_ACT_TRACE"))
                *ret = SCMP_ACT_TRACE(e);
        else if (!strcmp(name, "SCMP_ACT_LOG"))
                *ret = SCMP_ACT_LOG;
        else if (!strcmp(name, "SCMP_ACT_NOTIFY"))
                return -KILN_EUNSUPPORTED;
        else
                return -EINVAL;
        return 0;
}

static const struct {
        const char *name;
        uint32_t token;
} arches[] = {
        { "SCMP_ARCH_NATIVE", SCMP_ARCH_NATIVE },     { "SCMP_ARCH_X86", SCMP_ARCH_X86 },
        { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },     { "SCMP_ARCH_X32", SCMP_ARCH_X32 },
        { "SCMP_ARCH_ARM", SCMP_ARCH_ARM },           { "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 },
        { "SCMP_ARCH_MIPS", SCMP_ARCH_MIPS },         { "SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64 },
        { "SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32 }, { "SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL },
        { "SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64 }, { "SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32 },
        { "SCMP_ARCH_PPC", SCMP_ARCH_PPC },           { "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64 },
        { "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE },   { "SCMP_ARCH_S390", SCMP_ARCH_S390 },
        { "SCMP_ARCH_S390X", SCMP_ARCH_S390X },
#ifdef SCMP_ARCH_RISCV64
        { "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64 },
#endif
#ifdef SCMP_ARCH_LOONGARCH64
        { "SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64 },
#endif
};

static const struct {
        const char *name;
        enum scmp_compare op;
} cmp_ops[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
        { "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
        { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

/* Parse syscalls[idx].args into conds (at most 6 per index, 6 indexes). */
static int parse_args(json_t *args, struct scmp_arg_cmp *conds, size_t *ret_n, bool *ret_same_index,
                      size_t idx, struct kiln_error *err)
{
        size_t n = 0, i;
        unsigned count[6] = { 0 };
        bool same = false;
        json_t *a;
        if (json_array_size(args) > 36)
                return kiln_err(err, -EINVAL, "seccomp: syscalls[%zu]: too many args", idx);
        json_array_foreach(args, i, a) {
                json_t *index = json_object_get(a, "index");
                json_t *op = json_object_get(a, "op");
                json_t *v1 = json_object_get(a, "value");
                json_t *v2 = json_object_get(a, "valueTwo");
                if (!json_is_integer(index) || json_integer_value(index) < 0 ||
                    json_integer_value(index) > 5 || !json_is_string(op))
                        return kiln_err(err, -EINVAL, "seccomp: syscalls[%zu].args[%zu]: invalid", idx, i);
                size_t k;
                for (k = 0; k < KILN_ARRAY_SIZE(cmp_ops); k++)
                        if (!strcmp(cmp_ops[k].name, json_string_value(op)))
                                break;
                if (k == KILN_ARRAY_SIZE(cmp_ops))
                        return kiln_err(err, -EINVAL, "seccomp: syscalls[%zu].args[%zu]: unknown op '%s'",
                                        idx, i, json_string_value(op));
                unsigned ix = (unsigned)json_integer_value(index);
                if (++count[ix] > 1)
                        same = true;
                conds[n++] = (struct scmp_arg_cmp){
                        .arg = ix,
                        .op = cmp_ops[k].op,
                        /* jansson integers are signed 64-bit; the bits are what count */
                        .datum_a = json_is_integer(v1) ? (scmp_datum_t)json_integer_value(v1) : 0,
                        .datum_b = json_is_integer(v2) ? (scmp_datum_t)json_integer_value(v2) : 0,
                };
        }
        *ret_n = n;
        *ret_same_index = same;
        return 0;
}

#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif

/* The OCI flags, the libseccomp attribute that asks for each (so the
 * compile step checks the kernel supports it) and the seccomp(2) flag
 * libseccomp's seccomp_load would pass for it. */
static const struct {
        const char *name;
        enum scmp_filter_attr attr;
        unsigned flag;
} filter_flags[] = {
        { "SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC, SECCOMP_FILTER_FLAG_TSYNC },
        { "SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG, SECCOMP_FILTER_FLAG_LOG },
        { "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB, SECCOMP_FILTER_FLAG_SPEC_ALLOW },
};

/*
 * Build the libseccomp filter the object describes; *ret_flags gets the
 * seccomp(2) flags of its "flags".
 */
static int build_filter(json_t *seccomp, scmp_filter_ctx *ret, unsigned *ret_flags,
                        struct kiln_error *err)
{
        if (!json_is_object(seccomp))
                return kiln_err(err, -EINVAL, "seccomp: not an object");
        json_t *def = json_object_get(seccomp, "defaultAction");
        if (!json_is_string(def))
                return kiln_err(err, -EINVAL, "seccomp: defaultAction missing");
        uint32_t def_act;
        int r = parse_action(json_string_value(def), json_object_get(seccomp, "defaultErrnoRet"), &def_act);
        if (r < 0)
                return kiln_err(err, r, "seccomp: defaultAction '%s': %s", json_string_value(def),
                                r == -KILN_EUNSUPPORTED ? "not supported" : "unknown action");

        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(def_act);
        if (!ctx)
                return kiln_err(err, -ENOMEM, "seccomp: cannot initialise the filter");
        /* no_new_privs is the runtime's business (process.noNewPrivileges) */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return kiln_err(err, r, "seccomp: cannot clear the nnp attribute: %s", strerror(-r));

        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(seccomp, "architectures"), i, v) {
                const char *name = json_string_value(v);
                size_t k;
                for (k = 0; name && k < KILN_ARRAY_SIZE(arches); k++)
                        if (!strcmp(arches[k].name, name))
                                break;
                if (!name || k == KILN_ARRAY_SIZE(arches))
                        return kiln_err(err, -EINVAL, "seccomp: unknown architecture '%s'", name ? name : "");
                r = seccomp_arch_add(ctx, arches[k].token);
                if (r < 0 && r != -EEXIST)
                        return kiln_err(err, r, "seccomp: architecture %s: %s", name, strerror(-r));
        }
        unsigned flags = 0;
        json_array_foreach(json_object_get(seccomp, "flags"), i, v) {
                const char *name = json_string_value(v);
                size_t k;
                for (k = 0; name && k < KILN_ARRAY_SIZE(filter_flags); k++)
                        if (!strcmp(filter_flags[k].name, name))
                                break;
                if (!name || k == KILN_ARRAY_SIZE(filter_flags))
                        return kiln_err(err, -KILN_EUNSUPPORTED, "seccomp: unsupported flag '%s'",
                                        name ? name : "");
                r = seccomp_attr_set(ctx, filter_flags[k].attr, 1);
                if (r < 0)
                        return kiln_err(err, r, "seccomp: flag %s: %s", name, strerror(-r));
                flags |= filter_flags[k].flag;
        }

        json_t *call;
        json_array_foreach(json_object_get(seccomp, "syscalls"), i, call) {
                json_t *action = json_object_get(call, "action");
                if (!json_is_string(action))
                        return kiln_err(err, -EINVAL, "seccomp: syscalls[%zu]: action missing", i);
                uint32_t act;
                r = parse_action(json_string_value(action), json_object_get(call, "errnoRet"), &act);
                if (r < 0)
                        return kiln_err(err, r, "seccomp: syscalls[%zu]: action '%s': %s", i,
                                        json_string_value(action),
                                        r == -KILN_EUNSUPPORTED ? "not supported" : "unknown action");
                /* libseccomp refuses rules that repeat the default action */
                if (act == def_act)
                        continue;
                struct scmp_arg_cmp conds[36];
                size_t n_conds = 0;
                bool same_index = false;
                r = parse_args(json_object_get(call, "args"), conds, &n_conds, &same_index, i, err);
                if (r < 0)
                        return r;
                size_t j;
                json_t *name;
                json_array_foreach(json_object_get(call, "names"), j, name) {
                        if (!json_is_string(name))
                                return kiln_err(err, -EINVAL, "seccomp: syscalls[%zu].names[%zu]: not a string",
                                                i, j);
                        int nr = seccomp_syscall_resolve_name(json_string_value(name));
                        if (nr == __NR_SCMP_ERROR)
                                continue; /* not known on this architecture/libseccomp */
                        if (n_conds == 0 || !same_index) {
                                r = seccomp_rule_add_array(ctx, act, nr, (unsigned)n_conds,
                                                           n_conds ? conds : NULL);
                        } else {
                                /* conditions on the same argument: one rule each (OR) */
                                r = 0;
                                for (size_t k = 0; k < n_conds && r >= 0; k++)
                                        r = seccomp_rule_add_array(ctx, act, nr, 1, &conds[k]);
                        }
                        if (r < 0)
                                return kiln_err(err, r, "seccomp: cannot add a rule for %s: %s",
                                                json_string_value(name), strerror(-r));
                }
        }
        *ret = TAKE_PTR(ctx);
        *ret_flags = flags;
        return 0;
}

/* A program's size is sane: whole instructions, 1..BPF_MAXINSNS of them. */
static bool prog_size_ok(size_t len)
{
        return len > 0 && len % sizeof(struct sock_filter) == 0 &&
               len / sizeof(struct sock_filter) <= PROG_MAX_INSNS;
}

/* Compile with libseccomp and export the BPF (2.5 has no in-memory export:
 * through a memfd). */
static int compile_prog(json_t *seccomp, struct kiln_seccomp_prog *p, struct kiln_error *err)
{
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        unsigned flags = 0;
        int r = build_filter(seccomp, &ctx, &flags, err);
        if (r < 0)
                return r;
        _cleanup_close_ int mfd = memfd_create("kiln-seccomp", MFD_CLOEXEC);
        if (mfd < 0)
                return kiln_err(err, -errno, "seccomp: memfd: %s", strerror(errno));
        r = seccomp_export_bpf(ctx, mfd);
        if (r < 0)
                return kiln_err(err, r, "seccomp: cannot export the filter: %s", strerror(-r));
        if (lseek(mfd, 0, SEEK_SET) < 0)
                return kiln_err(err, -errno, "seccomp: memfd: %s", strerror(errno));
        char *data = NULL;
        size_t len = 0;
        r = kiln_fs_read_fd(mfd, PROG_MAX_INSNS * sizeof(struct sock_filter) + 1, &data, &len);
        if (r < 0)
                return kiln_err(err, r, "seccomp: read the exported filter: %s", kiln_strerror(r));
        if (!prog_size_ok(len)) {
                free(data);
                return kiln_err(err, -E2BIG, "seccomp: the filter has %zu bytes, not 1..%u instructions",
                                len, PROG_MAX_INSNS);
        }
        p->filter = (struct sock_filter *)data;
        p->n = len / sizeof(struct sock_filter);
        p->flags = flags;
        return 0;
}

/*
 * The cache key: what the compiled program depends on — the object
 * (canonical JSON: compact, sorted keys), the native architecture, the
 * libseccomp version, and the kernel release (libseccomp probes the
 * kernel's seccomp API level, which can change what it accepts).
 */
static void cache_key(json_t *seccomp, char hex[65])
{
        _cleanup_free_ char *canon = json_dumps(seccomp, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        const struct scmp_version *ver = seccomp_version();
        struct utsname u;
        if (uname(&u) < 0)
                memset(&u, 0, sizeof(u));
        struct kiln_buf b = KILN_BUF_INIT;
        kiln_buf_printf(&b, "kiln-seccomp-bpf 1\narch %08x\nlibseccomp %u.%u.%u\nkernel %s\n",
                        seccomp_arch_native(), ver ? ver->major : 0, ver ? ver->minor : 0,
                        ver ? ver->micro : 0, u.release);
        kiln_buf_printf(&b, "%s", canon ? canon : "");
        struct kiln_digest d;
        kiln_digest_buf(KILN_DIGEST_SHA256, b.data, b.len, &d);
        kiln_buf_free(&b);
        snprintf(hex, 65, "%s", kiln_digest_hex(&d));
}

/* The cache directory, created 0700; -1 (no cache) when it is not a
 * directory of ours. */
static int open_cache_dir(const char *dir)
{
        if (kiln_fs_mkdir_p(AT_FDCWD, dir, 0700) < 0)
                return -1;
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -1;
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
            ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)) {
                close(fd);
                return -1;
        }
        return fd;
}

/* Read a cached program: a regular file of ours (a symlink, a fifo or
 * another owner's file is refused), whole instructions. */
static int cache_read(int dfd, const char *name, struct kiln_seccomp_prog *p)
{
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || !prog_size_ok((size_t)st.st_size))
                return -KILN_ECORRUPT;
        char *data = NULL;
        size_t len = 0;
        int r = kiln_fs_read_fd(fd, PROG_MAX_INSNS * sizeof(struct sock_filter) + 1, &data, &len);
        if (r < 0)
                return r;
        if (len != (size_t)st.st_size) {
                free(data);
                return -KILN_ECORRUPT;
        }
        p->filter = (struct sock_filter *)data;
        p->n = len / sizeof(struct sock_filter);
        return 0;
}

/* The seccomp(2) flags of the object's "flags" (validated by the compile
 * that made the cached program). */
static int object_flags(json_t *seccomp, unsigned *ret)
{
        unsigned flags = 0;
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(seccomp, "flags"), i, v) {
                const char *name = json_string_value(v);
                size_t k;
                for (k = 0; name && k < KILN_ARRAY_SIZE(filter_flags); k++)
                        if (!strcmp(filter_flags[k].name, name))
                                break;
                if (!name || k == KILN_ARRAY_SIZE(filter_flags))
                        return -KILN_EUNSUPPORTED;
                flags |= filter_flags[k].flag;
        }
        *ret = flags;
        return 0;
}

int kiln_seccomp_compile(json_t *seccomp, const char *cache_dir, struct kiln_seccomp_prog **ret,
                         struct kiln_error *err)
{
        if (!seccomp || json_is_null(seccomp)) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_object(seccomp))
                return kiln_err(err, -EINVAL, "seccomp: not an object");
        struct kiln_seccomp_prog *p = kiln_xcalloc(1, sizeof(*p));
        _cleanup_close_ int dfd = cache_dir ? open_cache_dir(cache_dir) : -1;
        char hex[65], name[80];
        if (dfd >= 0) {
                cache_key(seccomp, hex);
                snprintf(name, sizeof(name), "%s.bpf", hex);
                if (object_flags(seccomp, &p->flags) == 0 && cache_read(dfd, name, p) == 0) {
                        p->from_cache = true;
                        *ret = p;
                        return 0;
                }
        }
        int r = compile_prog(seccomp, p, err);
        if (r < 0) {
                kiln_seccomp_prog_free(p);
                return r;
        }
        /* a failed cache write only costs the next run a compile */
        if (dfd >= 0)
                (void)kiln_fs_write_replace(dfd, name, p->filter, p->n * sizeof(struct sock_filter), 0600);
        *ret = p;
        return 0;
}

int kiln_seccomp_install(const struct kiln_seccomp_prog *p, struct kiln_error *err)
{
        if (!p)
                return 0;
        struct sock_fprog fp = { .len = (unsigned short)p->n, .filter = p->filter };
        long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &fp);
        if (r < 0 && errno == ENOSYS && p->flags == 0)
                r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0);
        if (r < 0)
                return kiln_err(err, -errno, "seccomp: cannot load the filter: %s", strerror(errno));
        if (r > 0) /* TSYNC: the thread that could not be synchronised */
                return kiln_err(err, -ESRCH, "seccomp: cannot synchronise thread %ld", r);
        return 0;
}

void kiln_seccomp_prog_free(struct kiln_seccomp_prog *p)
{
        if (!p)
                return;
        free(p->filter);
        free(p);
}

int kiln_seccomp_load(json_t *seccomp, struct kiln_error *err)
{
        _cleanup_(kiln_seccomp_prog_freep) struct kiln_seccomp_prog *p = NULL;
        int r = kiln_seccomp_compile(seccomp, NULL, &p, err);
        if (r < 0)
                return r;
        return kiln_seccomp_install(p, err);
}

char *kiln_seccomp_cache_dir(const char *state_root)
{
        return kiln_xasprintf("%s/" CACHE_DIR, state_root);
}
