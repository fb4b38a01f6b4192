/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seccomp profiles: Docker's default profile (as compact tables, the same
 * data as moby's profiles/seccomp/default.json) and the conversion of a
 * Docker-format or OCI profile into an OCI linux.seccomp object for this
 * host: architectures from archMap, syscall groups filtered by
 * includes/excludes (caps, arches, minKernel) exactly as moby's
 * setupSeccomp() does.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/utsname.h>

#include "kiln/fs.h"
#include "kiln/runtime.h"
#include "runtime-internal.h"

/* Largest profile file read (Docker's default profile is ~14 KiB). */
#define SECCOMP_PROFILE_MAX (4u << 20)

/* Docker's architecture names (Go's GOARCH spelling) for this build, and the
 * libseccomp/OCI name of the native architecture. */
#if defined(__x86_64__) && defined(__ILP32__)
#define NATIVE_ARCH "x32"
#define NATIVE_SCMP "SCMP_ARCH_X32"
#elif defined(__x86_64__)
#define NATIVE_ARCH "amd64"
#define NATIVE_SCMP "SCMP_ARCH_X86_64"
#elif defined(__i386__)
#define NATIVE_ARCH "x86"
#define NATIVE_SCMP "SCMP_ARCH_X86"
#elif defined(__aarch64__)
#define NATIVE_ARCH "arm64"
#define NATIVE_SCMP "SCMP_ARCH_AARCH64"
#elif defined(__arm__)
#define NATIVE_ARCH "arm"
#define NATIVE_SCMP "SCMP_ARCH_ARM"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ARCH "ppc64le"
#define NATIVE_SCMP "SCMP_ARCH_PPC64LE"
#elif defined(__s390x__)
#define NATIVE_ARCH "s390x"
#define NATIVE_SCMP "SCMP_ARCH_S390X"
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH "riscv64"
#define NATIVE_SCMP "SCMP_ARCH_RISCV64"
#elif defined(__loongarch64)
#define NATIVE_ARCH "loong64"
#define NATIVE_SCMP "SCMP_ARCH_LOONGARCH64"
#else
#define NATIVE_ARCH "unknown"
#define NATIVE_SCMP "SCMP_ARCH_NATIVE"
#endif

/* ---- Docker's default profile ---- */

/* archMap: native architecture -> the sub-architectures also allowed. */
static const struct {
        const char *arch, *subs; /* subs: space-separated */
} default_arch_map[] = {
        { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86 SCMP_ARCH_X32" },
        { "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM" },
        { "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS SCMP_ARCH_MIPS64N32" },
        { "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPS SCMP_ARCH_MIPS64" },
        { "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL SCMP_ARCH_MIPSEL64N32" },
        { "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_MIPSEL SCMP_ARCH_MIPSEL64" },
        { "SCMP_ARCH_S390X", "SCMP_ARCH_S390" },
        { "SCMP_ARCH_RISCV64", NULL },
        { "SCMP_ARCH_LOONGARCH64", NULL },
};

/* The unconditional allowlist. */
static const char default_allow[] =
        "accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown "
        "chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime "
        "clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect "
        "copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old "
        "epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit "
        "exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir "
        "fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr "
        "flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 "
        "fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv "
        "futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid "
        "geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp "
        "getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 "
        "getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid "
        "gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init "
        "inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents "
        "io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule "
        "landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat "
        "listen listmount listxattr listxattrat llistxattr _llseek lremovexattr lseek lsetxattr "
        "lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret mincore "
        "mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr "
        "mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend "
        "mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock "
        "munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 "
        "pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll "
        "ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 "
        "pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv "
        "recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat "
        "rename renameat renameat2 restart_syscall riscv_hwprobe rmdir rseq rt_sigaction "
        "rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait "
        "rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam "
        "sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval "
        "sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam "
        "sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop "
        "semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 "
        "setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority "
        "setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 "
        "setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid "
        "setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd "
        "signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 "
        "statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time "
        "timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime "
        "timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime "
        "timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat "
        "uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid "
        "write writev"
        ;

/* CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET */
#define CLONE_NS_MASK 2114060288ull

/*
 * The conditional groups, in the profile's order. Lists are space-separated;
 * NULL means "no condition". At most one argument condition per rule is
 * needed by the default profile.
 */
struct default_rule {
        const char *names;
        const char *action;   /* NULL: SCMP_ACT_ALLOW */
        int errno_ret;        /* 0: none */
        const char *op;       /* argument condition, NULL: none */
        unsigned index;
        uint64_t value;
        const char *inc_arches, *inc_caps, *inc_min_kernel;
        const char *exc_arches, *exc_caps;
};

static const struct default_rule default_rules[] = {
        { .names = "process_vm_readv process_vm_writev ptrace", .inc_min_kernel = "4.8" },
        /* every address family but AF_ALG (38) and AF_VSOCK (40) */
        { .names = "socket", .op = "SCMP_CMP_LT", .index = 0, .value = 38 },
        { .names = "socket", .op = "SCMP_CMP_EQ", .index = 0, .value = 39 },
        { .names = "socket", .op = "SCMP_CMP_GT", .index = 0, .value = 40 },
        { .names = "personality", .op = "SCMP_CMP_EQ", .value = 0x0 },
        { .names = "personality", .op = "SCMP_CMP_EQ", .value = 0x0008 },
        { .names = "personality", .op = "SCMP_CMP_EQ", .value = 0x20000 },
        { .names = "personality", .op = "SCMP_CMP_EQ", .value = 0x20008 },
        { .names = "personality", .op = "SCMP_CMP_EQ", .value = 0xffffffff },
        { .names = "sync_file_range2 swapcontext", .inc_arches = "ppc64le" },
        { .names = "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
          .inc_arches = "arm arm64" },
        { .names = "arch_prctl", .inc_arches = "amd64 x32" },
        { .names = "modify_ldt", .inc_arches = "amd64 x32 x86" },
        { .names = "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr",
          .inc_arches = "s390 s390x" },
        { .names = "riscv_flush_icache", .inc_arches = "riscv64" },
        { .names = "open_by_handle_at", .inc_caps = "CAP_DAC_READ_SEARCH" },
        { .names = "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie "
                   "lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr "
                   "move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname "
                   "sethostname setns syslog umount umount2 unshare",
          .inc_caps = "CAP_SYS_ADMIN" },
        /* clone without any CLONE_NEW* flag (s390 swaps the first two arguments) */
        { .names = "clone", .op = "SCMP_CMP_MASKED_EQ", .index = 0, .value = CLONE_NS_MASK,
          .exc_caps = "CAP_SYS_ADMIN", .exc_arches = "s390 s390x" },
        { .names = "clone", .op = "SCMP_CMP_MASKED_EQ", .index = 1, .value = CLONE_NS_MASK,
          .inc_arches = "s390 s390x", .exc_caps = "CAP_SYS_ADMIN" },
        /* clone3's flags are behind a pointer: ENOSYS makes libcs fall back to clone */
        { .names = "clone3", .action = "SCMP_ACT_ERRNO", .errno_ret = ENOSYS,
          .exc_caps = "CAP_SYS_ADMIN" },
        { .names = "reboot", .inc_caps = "CAP_SYS_BOOT" },
        { .names = "chroot", .inc_caps = "CAP_SYS_CHROOT" },
        { .names = "delete_module init_module finit_module", .inc_caps = "CAP_SYS_MODULE" },
        { .names = "acct", .inc_caps = "CAP_SYS_PACCT" },
        { .names = "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
          .inc_caps = "CAP_SYS_PTRACE" },
        { .names = "iopl ioperm", .inc_caps = "CAP_SYS_RAWIO" },
        { .names = "settimeofday stime clock_settime clock_settime64", .inc_caps = "CAP_SYS_TIME" },
        { .names = "vhangup", .inc_caps = "CAP_SYS_TTY_CONFIG" },
        { .names = "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
          .inc_caps = "CAP_SYS_NICE" },
        { .names = "syslog", .inc_caps = "CAP_SYSLOG" },
        { .names = "bpf", .inc_caps = "CAP_BPF" },
        { .names = "perf_event_open", .inc_caps = "CAP_PERFMON" },
};

/* ---- helpers ---- */

/* A JSON array of the words of a space-separated list. */
static json_t *words_array(const char *list)
{
        json_t *a = json_array();
        const char *p = list;
        while (p && *p) {
                while (*p == ' ')
                        p++;
                const char *e = strchrnul(p, ' ');
                if (e > p)
                        json_array_append_new(a, json_stringn(p, (size_t)(e - p)));
                p = e;
        }
        return a;
}

static void set_words(json_t *obj, const char *key, const char *list)
{
        if (list)
                json_object_set_new(obj, key, words_array(list));
}

/* The default profile in Docker's own format (archMap, includes/excludes). */
static json_t *default_profile_docker(void)
{
        json_t *p = json_object();
        json_object_set_new(p, "defaultAction", json_string("SCMP_ACT_ERRNO"));
        json_object_set_new(p, "defaultErrnoRet", json_integer(EPERM));
        json_t *am = json_array();
        for (size_t i = 0; i < KILN_ARRAY_SIZE(default_arch_map); i++) {
                json_t *e = json_object();
                json_object_set_new(e, "architecture", json_string(default_arch_map[i].arch));
                json_object_set_new(e, "subArchitectures",
                                    default_arch_map[i].subs ? words_array(default_arch_map[i].subs)
                                                             : json_null());
                json_array_append_new(am, e);
        }
        json_object_set_new(p, "archMap", am);

        json_t *sc = json_array();
        json_t *allow = json_object();
        set_words(allow, "names", default_allow);
        json_object_set_new(allow, "action", json_string("SCMP_ACT_ALLOW"));
        json_array_append_new(sc, allow);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(default_rules); i++) {
                const struct default_rule *r = &default_rules[i];
                json_t *s = json_object();
                set_words(s, "names", r->names);
                json_object_set_new(s, "action", json_string(r->action ? r->action : "SCMP_ACT_ALLOW"));
                if (r->errno_ret)
                        json_object_set_new(s, "errnoRet", json_integer(r->errno_ret));
                if (r->op) {
                        json_t *arg = json_object();
                        json_object_set_new(arg, "index", json_integer(r->index));
                        json_object_set_new(arg, "value", json_integer((json_int_t)r->value));
                        json_object_set_new(arg, "valueTwo", json_integer(0));
                        json_object_set_new(arg, "op", json_string(r->op));
                        json_t *args = json_array();
                        json_array_append_new(args, arg);
                        json_object_set_new(s, "args", args);
                }
                if (r->inc_arches || r->inc_caps || r->inc_min_kernel) {
                        json_t *inc = json_object();
                        set_words(inc, "arches", r->inc_arches);
                        set_words(inc, "caps", r->inc_caps);
                        if (r->inc_min_kernel)
                                json_object_set_new(inc, "minKernel", json_string(r->inc_min_kernel));
                        json_object_set_new(s, "includes", inc);
                }
                if (r->exc_arches || r->exc_caps) {
                        json_t *exc = json_object();
                        set_words(exc, "arches", r->exc_arches);
                        set_words(exc, "caps", r->exc_caps);
                        json_object_set_new(s, "excludes", exc);
                }
                json_array_append_new(sc, s);
        }
        json_object_set_new(p, "syscalls", sc);
        return p;
}

static const char *const actions[] = {
        "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
};
static const char *const ops[] = {
        "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
        "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};

static bool in_list(const char *const *list, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(list[i], s))
                        return true;
        return false;
}

static bool strv_has(char *const *v, const char *s)
{
        for (; v && *v; v++)
                if (!strcmp(*v, s))
                        return true;
        return false;
}

/* Does the JSON array of strings contain s? */
static bool json_has(json_t *arr, const char *s)
{
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), s)) return true;
        return false;
}

/* "4.8" or "5.10.2" -> comparable number; -1 if malformed. */
static long kernel_version(const char *s)
{
        long part[3] = { 0, 0, 0 };
        int n = 0;
        const char *p = s;
        while (n < 3) {
                if (*p < '0' || *p > '9')
                        break;
                char *end;
                part[n++] = strtol(p, &end, 10);
                p = end;
                if (*p != '.')
                        break;
                p++;
        }
        if (n < 2)
                return -1;
        return part[0] * 1000000 + part[1] * 1000 + part[2];
}

/* Is the running kernel at least min? <0: malformed min. */
static int kernel_at_least(const char *min)
{
        long want = kernel_version(min);
        if (want < 0)
                return -KILN_EFORMAT;
        struct utsname u;
        if (uname(&u) < 0)
                return -errno;
        long have = kernel_version(u.release);
        return have >= want;
}

/* Should this syscall group be kept for the host and these caps? */
static int group_applies(json_t *call, char *const *caps, const char *what, size_t idx,
                         struct kiln_error *err)
{
        json_t *exc = json_object_get(call, "excludes");
        json_t *inc = json_object_get(call, "includes");
        if (exc && !json_is_object(exc) && !json_is_null(exc))
                return kiln_err(err, -KILN_EFORMAT, "%s: syscalls[%zu].excludes: not an object", what, idx);
        if (inc && !json_is_object(inc) && !json_is_null(inc))
                return kiln_err(err, -KILN_EFORMAT, "%s: syscalls[%zu].includes: not an object", what, idx);
        if (json_is_object(exc)) {
                if (json_has(json_object_get(exc, "arches"), NATIVE_ARCH))
                        return 0;
                size_t i;
                json_t *c;
                json_array_foreach(json_object_get(exc, "caps"), i, c) if (json_is_string(c) && strv_has(caps, json_string_value(c))) return 0;
                json_t *mk = json_object_get(exc, "minKernel");
                if (json_is_string(mk)) {
                        int r = kernel_at_least(json_string_value(mk));
                        if (r < 0)
                                return kiln_err(err, r, "%s: syscalls[%zu]: invalid minKernel '%s'", what,
                                                idx, json_string_value(mk));
                        if (r)
                                return 0;
                }
        }
        if (json_is_object(inc)) {
                json_t *ar = json_object_get(inc, "arches");
                if (json_array_size(ar) > 0 && !json_has(ar, NATIVE_ARCH))
                        return 0;
                size_t i;
                json_t *c;
                json_array_foreach(json_object_get(inc, "caps"), i, c) if (!json_is_string(c) || !strv_has(caps, json_string_value(c))) return 0;
                json_t *mk = json_object_get(inc, "minKernel");
                if (json_is_string(mk)) {
                        int r = kernel_at_least(json_string_value(mk));
                        if (r < 0)
                                return kiln_err(err, r, "%s: syscalls[%zu]: invalid minKernel '%s'", what,
                                                idx, json_string_value(mk));
                        if (!r)
                                return 0;
                }
        }
        return 1;
}

/* Validate and copy one syscalls[] entry's OCI fields. */
static int convert_call(json_t *call, const char *what, size_t idx, json_t **ret,
                        struct kiln_error *err)
{
        json_t *name = json_object_get(call, "name");
        json_t *names = json_object_get(call, "names");
        if (name && json_array_size(names) > 0)
                return kiln_err(err, -KILN_EFORMAT,
                                "%s: syscalls[%zu]: both 'name' and 'names' are specified", what, idx);
        json_t *out_names = json_array();
        if (name) {
                if (!json_is_string(name)) {
                        json_decref(out_names);
                        return kiln_err(err, -KILN_EFORMAT, "%s: syscalls[%zu].name: not a string", what, idx);
                }
                json_array_append(out_names, name);
        } else if (names && !json_is_null(names)) {
                size_t i;
                json_t *n;
                if (!json_is_array(names)) {
                        json_decref(out_names);
                        return kiln_err(err, -KILN_EFORMAT, "%s: syscalls[%zu].names: not an array", what, idx);
                }
                json_array_foreach(names, i, n) {
                        if (!json_is_string(n)) {
                                json_decref(out_names);
                                return kiln_err(err, -KILN_EFORMAT,
                                                "%s: syscalls[%zu].names[%zu]: not a string", what, idx, i);
                        }
                        json_array_append(out_names, n);
                }
        }
        json_t *out = json_object();
        json_object_set_new(out, "names", out_names);

        json_t *action = json_object_get(call, "action");
        if (!json_is_string(action) || !in_list(actions, KILN_ARRAY_SIZE(actions), json_string_value(action))) {
                json_decref(out);
                return kiln_err(err, -KILN_EFORMAT, "%s: syscalls[%zu]: unknown action '%s'", what, idx,
                                json_is_string(action) ? json_string_value(action) : "");
        }
        json_object_set(out, "action", action);
        json_t *eret = json_object_get(call, "errnoRet");
        if (eret && !json_is_null(eret)) {
                if (!json_is_integer(eret) || json_integer_value(eret) < 0 ||
                    json_integer_value(eret) > 4095) {
                        json_decref(out);
                        return kiln_err(err, -KILN_EFORMAT, "%s: syscalls[%zu].errnoRet: invalid", what, idx);
                }
                json_object_set(out, "errnoRet", eret);
        }
        json_t *args = json_object_get(call, "args");
        if (args && !json_is_null(args)) {
                if (!json_is_array(args)) {
                        json_decref(out);
                        return kiln_err(err, -KILN_EFORMAT, "%s: syscalls[%zu].args: not an array", what, idx);
                }
                json_t *oargs = json_array();
                size_t i;
                json_t *a;
                json_array_foreach(args, i, a) {
                        json_t *index = json_object_get(a, "index");
                        json_t *value = json_object_get(a, "value");
                        json_t *value2 = json_object_get(a, "valueTwo");
                        json_t *op = json_object_get(a, "op");
                        if (!json_is_integer(index) || json_integer_value(index) < 0 ||
                            json_integer_value(index) > 5 || (value && !json_is_integer(value)) ||
                            (value2 && !json_is_integer(value2)) || !json_is_string(op) ||
                            !in_list(ops, KILN_ARRAY_SIZE(ops), json_string_value(op))) {
                                json_decref(oargs);
                                json_decref(out);
                                return kiln_err(err, -KILN_EFORMAT, "%s: syscalls[%zu].args[%zu]: invalid",
                                                what, idx, i);
                        }
                        json_t *oa = json_object();
                        json_object_set(oa, "index", index);
                        json_object_set_new(oa, "value", value ? json_incref(value) : json_integer(0));
                        json_object_set_new(oa, "valueTwo", value2 ? json_incref(value2) : json_integer(0));
                        json_object_set(oa, "op", op);
                        json_array_append_new(oargs, oa);
                }
                json_object_set_new(out, "args", oargs);
        }
        *ret = out;
        return 0;
}

/*
 * Docker-format (or OCI) profile -> OCI linux.seccomp for this host and caps,
 * as moby's setupSeccomp(). what names the source in messages.
 */
static int profile_to_oci(json_t *profile, char *const *caps, const char *what, json_t **ret,
                          struct kiln_error *err)
{
        if (!json_is_object(profile))
                return kiln_err(err, -KILN_EFORMAT, "%s: not a JSON object", what);
        json_t *def = json_object_get(profile, "defaultAction");
        if (!json_is_string(def))
                return kiln_err(err, -KILN_EFORMAT, "%s: defaultAction missing", what);
        if (!in_list(actions, KILN_ARRAY_SIZE(actions), json_string_value(def)))
                return kiln_err(err, -KILN_EFORMAT, "%s: unknown defaultAction '%s'", what,
                                json_string_value(def));
        json_t *archs = json_object_get(profile, "architectures");
        json_t *amap = json_object_get(profile, "archMap");
        if (json_array_size(archs) > 0 && json_array_size(amap) > 0)
                return kiln_err(err, -KILN_EFORMAT,
                                "%s: both 'architectures' and 'archMap' are specified, use either", what);
        json_t *syscalls = json_object_get(profile, "syscalls");
        if (syscalls && !json_is_array(syscalls) && !json_is_null(syscalls))
                return kiln_err(err, -KILN_EFORMAT, "%s: syscalls: not an array", what);

        json_t *out = json_object();
        json_object_set(out, "defaultAction", def);
        json_t *der = json_object_get(profile, "defaultErrnoRet");
        if (json_is_integer(der))
                json_object_set(out, "defaultErrnoRet", der);

        json_t *oarch = json_array();
        if (json_is_array(archs)) {
                size_t i;
                json_t *a;
                json_array_foreach(archs, i, a) if (json_is_string(a)) json_array_append(oarch, a);
        } else if (json_is_array(amap)) {
                size_t i;
                json_t *m;
                json_array_foreach(amap, i, m) {
                        json_t *a = json_object_get(m, "architecture");
                        if (!json_is_string(a) || strcmp(json_string_value(a), NATIVE_SCMP))
                                continue;
                        json_array_append(oarch, a);
                        size_t j;
                        json_t *s;
                        json_array_foreach(json_object_get(m, "subArchitectures"), j, s) if (json_is_string(s)) json_array_append(oarch, s);
                        break;
                }
        }
        if (json_array_size(oarch) > 0)
                json_object_set_new(out, "architectures", oarch);
        else
                json_decref(oarch);
        static const char *const copied[] = { "flags", "listenerPath", "listenerMetadata" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(copied); i++) {
                json_t *v = json_object_get(profile, copied[i]);
                if (v && !json_is_null(v))
                        json_object_set(out, copied[i], v);
        }

        json_t *osc = json_array();
        size_t i;
        json_t *call;
        json_array_foreach(syscalls, i, call) {
                if (!json_is_object(call)) {
                        json_decref(osc);
                        json_decref(out);
                        return kiln_err(err, -KILN_EFORMAT, "%s: syscalls[%zu]: not an object", what, i);
                }
                json_t *oc = NULL;
                int r = convert_call(call, what, i, &oc, err);
                if (r == 0) {
                        r = group_applies(call, caps, what, i, err);
                        if (r > 0)
                                json_array_append(osc, oc);
                        json_decref(oc);
                }
                if (r < 0) {
                        json_decref(osc);
                        json_decref(out);
                        return r;
                }
        }
        json_object_set_new(out, "syscalls", osc);
        *ret = out;
        return 0;
}

json_t *kiln_spec_default_seccomp(char *const *caps)
{
        json_t *docker = default_profile_docker();
        json_t *out = NULL;
        if (!caps)
                caps = (char *const *)kiln_spec_default_caps();
        int r = profile_to_oci(docker, caps, "default seccomp profile", &out, NULL);
        json_decref(docker);
        return r < 0 ? NULL : out;
}

int kiln_spec_load_seccomp(const char *path, char *const *caps, json_t **ret, struct kiln_error *err)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = kiln_fs_read_file(AT_FDCWD, path, SECCOMP_PROFILE_MAX, &data, &len);
        if (r == -KILN_ETOOBIG)
                return kiln_err(err, r, "seccomp profile %s: larger than %u bytes", path,
                                SECCOMP_PROFILE_MAX);
        if (r < 0)
                return kiln_err(err, r, "seccomp profile %s: %s", path, kiln_strerror(r));
        json_error_t jerr;
        json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc)
                return kiln_err(err, -KILN_EFORMAT, "seccomp profile %s: line %d: %s", path, jerr.line,
                                jerr.text);
        /* a whole OCI config.json: use its linux.seccomp */
        json_t *prof = doc;
        json_t *linux_ = json_object_get(doc, "linux");
        if (json_is_object(linux_) && !json_object_get(doc, "defaultAction"))
                prof = json_object_get(linux_, "seccomp");
        _cleanup_free_ char *what = kiln_xasprintf("seccomp profile %s", path);
        if (!caps)
                caps = (char *const *)kiln_spec_default_caps();
        json_t *out = NULL;
        r = profile_to_oci(prof, caps, what, &out, err);
        json_decref(doc);
        if (r < 0)
                return r;
        *ret = out;
        return 0;
}
