/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of lib/runtime/rootfs.c. Each test forks a child that unshares its
 * mount (and UTS) namespace, runs kiln_rootfs_prepare/finalize on a spec
 * built here, and checks from inside what a container would see. The child
 * reports the first failed check as a line on a pipe and a non-zero exit;
 * the parent asserts, then checks the host side (nothing created outside
 * the rootfs, no mount leaked into its namespace).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kiln/fs.h"
#include "../../../lib/runtime/runtime-internal.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static char tmp[256];     /* /tmp/kiln-rootfs-XXXXXX */
static char bundle[512];  /* tmp/bundle, with rootfs/ (busybox) */
static char datadir[512]; /* tmp/data: a bind source */
static char marker[512];  /* tmp/marker: must stay unreachable */
static bool usable;

static int report_fd = -1;

/* In the child: report a failed check and return 1. */
__attribute__((format(printf, 1, 2))) static int report(const char *fmt, ...)
{
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n > 0 && report_fd >= 0)
                (void)!write(report_fd, buf, (size_t)KILN_MIN(n, (int)sizeof(buf) - 1));
        return 1;
}

#define CHECK(cond, ...)                                                                           \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        return report(__VA_ARGS__);                                                  \
        } while (0)

typedef int (*check_fn)(void);

/*
 * Run prepare (+ finalize) on spec_text in a child; expect_prepare_err: the
 * expected negative code from prepare/finalize (0: success, then check()).
 * Returns the child's exit status; *msg gets what it reported.
 */
static int write_plain(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        ssize_t n = write(fd, text, strlen(text));
        close(fd);
        return n == (ssize_t)strlen(text) ? 0 : -1;
}

static bool in_userns;

static int run_child(const char *spec_text, bool no_pivot, check_fn check, int expect_err,
                     char *msg, size_t msglen)
{
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(p[0]);
                report_fd = p[1];
                if (in_userns) {
                        /* root in a new user namespace mapped to the caller's root
                         * only: mknod is refused, sysfs without a netns too */
                        if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID |
                                    CLONE_NEWIPC) < 0)
                                _exit(report("unshare userns: %s", strerror(errno)));
                        if (write_plain("/proc/self/setgroups", "deny") < 0 ||
                            write_plain("/proc/self/uid_map", "0 0 1") < 0 ||
                            write_plain("/proc/self/gid_map", "0 0 1") < 0)
                                _exit(report("id maps: %s", strerror(errno)));
                        pid_t inner = fork(); /* pid 1 of the new pid namespace */
                        if (inner < 0)
                                _exit(report("fork: %s", strerror(errno)));
                        if (inner > 0) {
                                int ist;
                                if (waitpid(inner, &ist, 0) != inner)
                                        _exit(report("waitpid: %s", strerror(errno)));
                                _exit(WIFEXITED(ist) ? WEXITSTATUS(ist) : 99);
                        }
                } else if (unshare(CLONE_NEWNS | CLONE_NEWUTS) < 0) {
                        _exit(report("unshare: %s", strerror(errno)));
                }
                if (chdir(bundle) < 0)
                        _exit(report("chdir bundle: %s", strerror(errno)));
                json_error_t je;
                json_t *spec = json_loads(spec_text, 0, &je);
                if (!spec)
                        _exit(report("bad test spec: %s (line %d)", je.text, je.line));
                struct kiln_error err = { 0 };
                int r = kiln_rootfs_prepare(spec, no_pivot, &err);
                if (r == 0)
                        r = kiln_rootfs_finalize(spec, &err);
                if (r != expect_err)
                        _exit(report("prepare/finalize returned %d, want %d: %s", r, expect_err,
                                   err.msg));
                if (r < 0) {
                        /* report the message so the parent can look at it */
                        (void)!write(report_fd, err.msg, strlen(err.msg));
                        _exit(0);
                }
                _exit(check ? check() : 0);
        }
        close(p[1]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        ssize_t n = read(p[0], msg, msglen - 1);
        msg[n > 0 ? n : 0] = 0;
        close(p[0]);
        if (!WIFEXITED(status))
                return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        return WEXITSTATUS(status);
}

/* No mount in the parent's namespace mentions our temp directory. */
static void assert_no_leaked_mounts(void)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        assert_non_null(f);
        char line[4096];
        while (fgets(line, sizeof(line), f)) {
                if (strstr(line, tmp))
                        fail_msg("mount leaked into the parent: %s", line);
        }
        fclose(f);
}

#define RUN_OK(spec, no_pivot, check)                                                              \
        do {                                                                                       \
                char _msg[1024];                                                                   \
                int _st = run_child(spec, no_pivot, check, 0, _msg, sizeof(_msg));                 \
                if (_st != 0)                                                                      \
                        fail_msg("child exit %d: %s", _st, _msg);                                  \
                assert_no_leaked_mounts();                                                         \
        } while (0)

static int setup(void **state)
{
        (void)state;
        if (geteuid() != 0)
                return 0;
        strcpy(tmp, "/tmp/kiln-rootfs-XXXXXX");
        if (!mkdtemp(tmp))
                return -1;
        snprintf(bundle, sizeof(bundle), "%s/bundle", tmp);
        snprintf(datadir, sizeof(datadir), "%s/data", tmp);
        snprintf(marker, sizeof(marker), "%s/marker", tmp);
        if (mkdir(bundle, 0755) < 0 || mkdir(datadir, 0755) < 0)
                return -1;
        if (kiln_fs_write_atomic(AT_FDCWD, marker, "x", 1, 0644) < 0)
                return -1;
        char hello[600];
        snprintf(hello, sizeof(hello), "%s/hello", datadir);
        if (kiln_fs_write_atomic(AT_FDCWD, hello, "hello", 5, 0644) < 0)
                return -1;
        const char *data = getenv("KILN_TEST_DATA");
        char cmd[2048];
        if (data)
                snprintf(cmd, sizeof(cmd), "%s/../../scripts/busybox-rootfs.sh %s/rootfs", data,
                         bundle);
        else
                snprintf(cmd, sizeof(cmd), "/work/main/scripts/busybox-rootfs.sh %s/rootfs",
                         bundle);
        if (system(cmd) != 0)
                return 0; /* no busybox: tests skip */
        /* can we make a mount namespace at all? */
        pid_t pid = fork();
        if (pid == 0)
                _exit(unshare(CLONE_NEWNS) == 0 ? 0 : 1);
        int st;
        waitpid(pid, &st, 0);
        usable = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        if (tmp[0])
                (void)kiln_fs_rm_rf_at(AT_FDCWD, tmp);
        return 0;
}

#define REQUIRE_ROOT()                                                                             \
        do {                                                                                       \
                if (!usable)                                                                       \
                        skip();                                                                    \
        } while (0)

/* ------------------------------------------------------------------ */

static const char full_spec_fmt[] =
        "{\"ociVersion\":\"1.0.2\","
        " \"root\":{\"path\":\"rootfs\",\"readonly\":true},"
        " \"mounts\":["
        "  {\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\","
        "   \"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
        "  {\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
        "   \"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
        "  {\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
        "   \"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
        "  {\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
        "   \"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
        "  {\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\","
        "   \"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]},"
        "  {\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\","
        "   \"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
        "  {\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
        "   \"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
        "  {\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"%s\","
        "   \"options\":[\"rbind\",\"ro\",\"tmpcopyup\"]},"
        "  {\"destination\":\"/small\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
        "   \"options\":[\"size=1m\",\"rprivate\"]},"
        "  {\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[]}"
        " ],"
        " \"linux\":{"
        "  \"devices\":[{\"path\":\"/dev/testdev\",\"type\":\"c\",\"major\":1,\"minor\":3,"
        "               \"fileMode\":384,\"uid\":1,\"gid\":2},"
        "              {\"path\":\"/dev/sub/fifo\",\"type\":\"p\",\"fileMode\":420}],"
        "  \"maskedPaths\":[\"/proc/kcore\",\"/proc/timer_list\",\"/proc/scsi\",\"/proc/acpi\",\"/no/such/path\"],"
        "  \"readonlyPaths\":[\"/proc/sys\",\"/proc/sysrq-trigger\",\"/no/such\"],"
        "  \"sysctl\":{\"kernel.hostname\":\"kilntest\"}"
        " }}";

static int expect_erofs_create(const char *path)
{
        int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd >= 0) {
                close(fd);
                return report("%s: created, want EROFS", path);
        }
        if (errno != EROFS)
                return report("%s: %s, want EROFS", path, strerror(errno));
        return 0;
}

static int write_ok(const char *path)
{
        int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
                return report("%s: %s, want writable", path, strerror(errno));
        ssize_t n = write(fd, "x", 1);
        close(fd);
        return n == 1 ? 0 : report("%s: write failed", path);
}

static int check_full(void)
{
        struct stat st;
        struct statfs sfs;
        char buf[256];

        CHECK(stat("/proc/self", &st) == 0, "/proc/self: %s", strerror(errno));
        CHECK(stat("/bin/busybox", &st) == 0, "/bin/busybox missing after pivot");

        /* host files are gone */
        CHECK(stat(marker, &st) < 0 && errno == ENOENT, "host marker %s visible", marker);
        CHECK(stat(bundle, &st) < 0 && errno == ENOENT, "host bundle %s visible", bundle);

        /* devices */
        CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
                      minor(st.st_rdev) == 3,
              "/dev/null is not char 1:3");
        CHECK((st.st_mode & 0777) == 0666, "/dev/null mode %o", st.st_mode & 0777);
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        CHECK(fd >= 0 && write(fd, "x", 1) == 1, "/dev/null not writable: %s", strerror(errno));
        close(fd);
        const char *names[] = { "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
                                "/dev/tty" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(names); i++)
                CHECK(stat(names[i], &st) == 0 && S_ISCHR(st.st_mode), "%s missing", names[i]);
        CHECK(stat("/dev/testdev", &st) == 0 && S_ISCHR(st.st_mode) && (st.st_mode & 07777) == 0600 &&
                      st.st_uid == 1 && st.st_gid == 2,
              "/dev/testdev wrong (mode %o uid %u gid %u)", st.st_mode, st.st_uid, st.st_gid);
        CHECK(stat("/dev/sub/fifo", &st) == 0 && S_ISFIFO(st.st_mode), "/dev/sub/fifo missing");
        ssize_t n = readlink("/dev/ptmx", buf, sizeof(buf) - 1);
        CHECK(n == 8 && !memcmp(buf, "pts/ptmx", 8), "/dev/ptmx is not a link to pts/ptmx");
        n = readlink("/dev/fd", buf, sizeof(buf) - 1);
        CHECK(n == 13 && !memcmp(buf, "/proc/self/fd", 13), "/dev/fd link wrong");
        n = readlink("/dev/stderr", buf, sizeof(buf) - 1);
        CHECK(n == 15 && !memcmp(buf, "/proc/self/fd/2", 15), "/dev/stderr link wrong");
        CHECK(stat("/dev/pts/ptmx", &st) == 0 && S_ISCHR(st.st_mode), "/dev/pts/ptmx missing");
        CHECK(statfs("/dev/shm", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC, "/dev/shm not tmpfs");
        CHECK(stat("/dev/mqueue", &st) == 0, "/dev/mqueue missing");

        /* /sys read-only; the cgroup tree there, read-only too */
        CHECK(stat("/sys/kernel", &st) == 0, "/sys not mounted");
        if (expect_erofs_create("/sys/kiln-test"))
                return 1;
        bool have_cg = stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0 ||
                       stat("/sys/fs/cgroup/memory/memory.limit_in_bytes", &st) == 0 ||
                       stat("/sys/fs/cgroup/unified/cgroup.procs", &st) == 0;
        CHECK(have_cg, "/sys/fs/cgroup holds no cgroup hierarchy");
        if (stat("/sys/fs/cgroup/memory", &st) == 0) {
                CHECK(mkdir("/sys/fs/cgroup/memory/kiln-test", 0755) < 0 && errno == EROFS,
                      "cgroup memory hierarchy writable (%s)", strerror(errno));
        }
        CHECK(mkdir("/sys/fs/cgroup/kiln-test", 0755) < 0 && errno == EROFS,
              "/sys/fs/cgroup writable (%s)", strerror(errno));

        /* ro bind */
        fd = open("/data/hello", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0, "/data/hello: %s", strerror(errno));
        n = read(fd, buf, sizeof(buf));
        close(fd);
        CHECK(n == 5 && !memcmp(buf, "hello", 5), "/data/hello content");
        if (expect_erofs_create("/data/new"))
                return 1;

        /* tmpfs size=1m */
        struct statvfs sv;
        CHECK(statvfs("/small", &sv) == 0 && (uint64_t)sv.f_blocks * sv.f_frsize == 1048576,
              "/small is not a 1m tmpfs");

        /* masked and read-only paths, sysctl */
        fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                n = read(fd, buf, sizeof(buf));
                close(fd);
                CHECK(n == 0, "/proc/kcore not masked (read %zd)", n);
        } else {
                CHECK(errno == EACCES || errno == ENOENT, "/proc/kcore: %s", strerror(errno));
        }
        /* a masked file that exists everywhere: /dev/null over it */
        CHECK(stat("/proc/timer_list", &st) == 0 && S_ISCHR(st.st_mode) &&
                      st.st_rdev == makedev(1, 3),
              "/proc/timer_list not masked by /dev/null");
        fd = open("/proc/timer_list", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 0, "/proc/timer_list readable");
        close(fd);
        if (stat("/proc/acpi", &st) == 0) {
                CHECK(statfs("/proc/acpi", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC,
                      "/proc/acpi not masked by a tmpfs");
                if (expect_erofs_create("/proc/acpi/x"))
                        return 1;
        }
        fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
        CHECK(fd < 0 && errno == EROFS, "/proc/sys writable (%s)", fd < 0 ? strerror(errno) : "opened");
        char host[64];
        CHECK(gethostname(host, sizeof(host)) == 0 && !strcmp(host, "kilntest"),
              "sysctl kernel.hostname not applied");

        /* read-only root, writable mounts */
        CHECK(mkdir("/newdir", 0755) < 0 && errno == EROFS, "/ writable (%s)", strerror(errno));
        if (write_ok("/tmp/x") || write_ok("/dev/shm/x") || write_ok("/dev/x"))
                return 1;
        return 0;
}

static void test_full_spec(void **state)
{
        (void)state;
        REQUIRE_ROOT();
        char spec[8192];
        snprintf(spec, sizeof(spec), full_spec_fmt, datadir);
        RUN_OK(spec, false, check_full);
}

/* ------------------------------------------------------------------ */

static int check_minimal(void)
{
        struct stat st;
        CHECK(stat("/proc/self", &st) == 0, "/proc/self: %s", strerror(errno));
        CHECK(stat("/bin/busybox", &st) == 0, "/bin/busybox missing");
        CHECK(stat(marker, &st) < 0 && errno == ENOENT, "host marker visible");
        CHECK(stat(tmp, &st) < 0 && errno == ENOENT, "host temp dir visible");
        CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "/dev/null missing");
        /* root.readonly not set: / writable */
        if (write_ok("/rootfile"))
                return 1;
        unlink("/rootfile");
        /* a bind of a single file, relative to the bundle */
        char buf[16];
        int fd = open("/etc/hello", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0, "/etc/hello: %s", strerror(errno));
        ssize_t n = read(fd, buf, sizeof(buf));
        close(fd);
        CHECK(n == 5 && !memcmp(buf, "hello", 5), "/etc/hello content");
        return 0;
}

static const char minimal_spec[] =
        "{\"root\":{\"path\":\"rootfs\"},"
        " \"mounts\":["
        "  {\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
        "  {\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"mode=755\"]},"
        "  {\"destination\":\"/etc/hello\",\"type\":\"none\",\"source\":\"../data/hello\","
        "   \"options\":[\"bind\",\"ro\",\"nosuid\"]}"
        " ]}";

static void test_pivot_minimal(void **state)
{
        (void)state;
        REQUIRE_ROOT();
        RUN_OK(minimal_spec, false, check_minimal);
        /* the file mount point was created inside the rootfs, nowhere else */
        char p[600];
        snprintf(p, sizeof(p), "%s/rootfs/etc/hello", bundle);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISREG(st.st_mode) && st.st_size == 0);
}

static void test_no_pivot(void **state)
{
        (void)state;
        REQUIRE_ROOT();
        RUN_OK(minimal_spec, true, check_minimal);
}

/* ------------------------------------------------------------------ */

static int check_evil(void)
{
        struct stat st;
        /* /etc -> "/" inside the rootfs: /etc/evil is /evil of the container */
        CHECK(stat("/evil", &st) == 0 && S_ISDIR(st.st_mode), "/evil not in the rootfs");
        struct statfs sfs;
        CHECK(statfs("/evil", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC, "/evil is not the tmpfs");
        CHECK(statfs("/evil2", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC, "/evil2 is not the tmpfs");
        CHECK(statfs("/x", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC, "/x is not the tmpfs");
        CHECK(statfs("/evil3", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC, "/evil3 is not the tmpfs");
        return 0;
}

static void test_symlink_escape(void **state)
{
        (void)state;
        REQUIRE_ROOT();
        /* a bare rootfs whose /etc points at "/" and /up at "../../../../" */
        char root[600], p[700];
        snprintf(root, sizeof(root), "%s/evilroot", bundle);
        assert_int_equal(mkdir(root, 0755), 0);
        snprintf(p, sizeof(p), "%s/etc", root);
        assert_int_equal(symlink("/", p), 0);
        snprintf(p, sizeof(p), "%s/up", root);
        assert_int_equal(symlink("../../../../", p), 0);
        snprintf(p, sizeof(p), "%s/abs", root);
        assert_int_equal(symlink("/../../../..", p), 0);
        /* what an escape would create on the host */
        const char *host_paths[] = { "/evil", "/evil2", "/evil3", "/x" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(host_paths); i++)
                assert_int_equal(access(host_paths[i], F_OK), -1);
        char tmpx[600];
        snprintf(tmpx, sizeof(tmpx), "%s/x", tmp);

        const char spec[] =
                "{\"root\":{\"path\":\"evilroot\"},"
                " \"mounts\":["
                "  {\"destination\":\"/etc/evil\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"},"
                "  {\"destination\":\"/up/evil2\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"},"
                "  {\"destination\":\"abs/evil3\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"},"
                "  {\"destination\":\"../../x\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}"
                " ]}";
        RUN_OK(spec, false, check_evil);

        for (size_t i = 0; i < KILN_ARRAY_SIZE(host_paths); i++)
                if (access(host_paths[i], F_OK) == 0)
                        fail_msg("%s created on the host", host_paths[i]);
        assert_int_equal(access(tmpx, F_OK), -1);
        snprintf(p, sizeof(p), "%s/x", bundle);
        assert_int_equal(access(p, F_OK), -1);
        /* everything landed inside the rootfs */
        const char *inside[] = { "evil", "evil2", "evil3", "x" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(inside); i++) {
                snprintf(p, sizeof(p), "%s/%s", root, inside[i]);
                if (access(p, F_OK) != 0)
                        fail_msg("%s not created inside the rootfs", p);
        }
}

/* ------------------------------------------------------------------ */

static void expect_error(const char *spec, int code, const char *needle)
{
        char msg[1024];
        int st = run_child(spec, false, NULL, code, msg, sizeof(msg));
        if (st != 0)
                fail_msg("child exit %d: %s", st, msg);
        if (needle && !strstr(msg, needle))
                fail_msg("error '%s' does not mention '%s'", msg, needle);
        assert_no_leaked_mounts();
}

static void test_errors(void **state)
{
        (void)state;
        REQUIRE_ROOT();
        expect_error("{\"root\":{\"path\":\"rootfs\"},\"mounts\":[{\"destination\":\"/mnt\","
                     "\"type\":\"bind\",\"source\":\"../data\",\"options\":[\"rbind\",\"idmap\"]}]}",
                     -KILN_EUNSUPPORTED, "idmap");
        expect_error("{\"root\":{\"path\":\"rootfs\"},\"mounts\":[{\"destination\":\"/mnt\","
                     "\"type\":\"nosuchfs\",\"source\":\"x\"}]}",
                     -ENODEV, "unknown filesystem type");
        expect_error("{\"root\":{\"path\":\"rootfs\"},\"mounts\":[{\"destination\":\"/mnt\","
                     "\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"bogus=1\"]}]}",
                     -EINVAL, "/mnt");
        expect_error("{\"root\":{\"path\":\"rootfs\"},\"mounts\":[{\"destination\":\"/proc\","
                     "\"type\":\"proc\",\"source\":\"proc\"}],"
                     "\"linux\":{\"sysctl\":{\"kernel/../../x\":\"1\"}}}",
                     -EINVAL, "invalid key");
        expect_error("{\"root\":{\"path\":\"rootfs\"},\"mounts\":[{\"destination\":\"/proc\","
                     "\"type\":\"proc\",\"source\":\"proc\"}],"
                     "\"linux\":{\"sysctl\":{\"..kernel.hostname\":\"1\"}}}",
                     -EINVAL, "invalid key");
        expect_error("{\"root\":{\"path\":\"no-such-rootfs\"}}", -ENOENT, "no-such-rootfs");
        expect_error("{\"root\":{\"path\":\"rootfs\"},\"linux\":{\"rootfsPropagation\":\"weird\"}}",
                     -KILN_EFORMAT, "rootfsPropagation");
}

/* rootfsPropagation "rslave" and a shared "/" still pivot */
static int check_prop(void)
{
        struct stat st;
        CHECK(stat("/bin/busybox", &st) == 0, "/bin/busybox missing");
        CHECK(stat(marker, &st) < 0, "host marker visible");
        return 0;
}

static void test_propagation(void **state)
{
        (void)state;
        REQUIRE_ROOT();
        RUN_OK("{\"root\":{\"path\":\"rootfs\"},\"linux\":{\"rootfsPropagation\":\"rslave\"}}",
               false, check_prop);
        RUN_OK("{\"root\":{\"path\":\"rootfs\"},\"linux\":{\"rootfsPropagation\":\"rshared\"}}",
               false, check_prop);
}

/* ------------------------------------------------------------------ */

static const char userns_spec_fmt[] =
        "{\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
        " \"mounts\":["
        "  {\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
        "  {\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
        "   \"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
        "  {\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
        "   \"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\"]},"
        "  {\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\","
        "   \"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
        "  {\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
        "   \"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
        "  {\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"%s\","
        "   \"options\":[\"rbind\",\"ro\"]},"
        "  {\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}"
        " ],"
        " \"linux\":{"
        "  \"devices\":[{\"path\":\"/dev/fifo\",\"type\":\"p\",\"fileMode\":420}],"
        "  \"maskedPaths\":[\"/proc/timer_list\",\"/proc/acpi\"],"
        "  \"readonlyPaths\":[\"/proc/sys\"]"
        " }}";

static int check_userns(void)
{
        struct stat st;
        char buf[64];
        CHECK(getpid() == 1, "not pid 1 of a new pid namespace");
        CHECK(stat("/proc/self", &st) == 0, "/proc/self: %s", strerror(errno));
        CHECK(stat(marker, &st) < 0 && errno == ENOENT, "host marker visible");
        /* devices are bind mounts of the host's nodes */
        CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3),
              "/dev/null is not char 1:3");
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        CHECK(fd >= 0 && write(fd, "x", 1) == 1, "/dev/null not writable: %s", strerror(errno));
        close(fd);
        fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf), "/dev/zero");
        close(fd);
        CHECK(stat("/dev/fifo", &st) == 0 && S_ISFIFO(st.st_mode), "/dev/fifo not a fifo");
        ssize_t n = readlink("/dev/ptmx", buf, sizeof(buf) - 1);
        CHECK(n == 8 && !memcmp(buf, "pts/ptmx", 8), "/dev/ptmx is not a link to pts/ptmx");
        /* sysfs (or the bind of the host's) read-only */
        CHECK(stat("/sys/kernel", &st) == 0, "/sys not mounted");
        if (expect_erofs_create("/sys/kiln-test"))
                return 1;
        if (expect_erofs_create("/data/new"))
                return 1;
        fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
        CHECK(fd < 0 && errno == EROFS, "/proc/sys writable (%s)", fd < 0 ? strerror(errno) : "opened");
        CHECK(mkdir("/newdir", 0755) < 0 && errno == EROFS, "/ writable (%s)", strerror(errno));
        if (write_ok("/tmp/x") || write_ok("/dev/x"))
                return 1;
        return 0;
}

static void test_userns(void **state)
{
        (void)state;
        REQUIRE_ROOT();
        char spec[4096];
        snprintf(spec, sizeof(spec), userns_spec_fmt, datadir);
        in_userns = true;
        char msg[1024];
        int st = run_child(spec, false, check_userns, 0, msg, sizeof(msg));
        in_userns = false;
        if (st != 0 && strstr(msg, "unshare userns"))
                skip(); /* user namespaces disabled here */
        if (st != 0)
                fail_msg("child exit %d: %s", st, msg);
        assert_no_leaked_mounts();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full_spec),
                cmocka_unit_test(test_pivot_minimal),
                cmocka_unit_test(test_no_pivot),
                cmocka_unit_test(test_symlink_escape),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_propagation),
                cmocka_unit_test(test_userns),
        };
        return cmocka_run_group_tests_name("rootfs", tests, setup, teardown);
}
