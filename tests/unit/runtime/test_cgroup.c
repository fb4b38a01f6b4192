/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of lib/runtime/cgroup.c. They need root and a writable cgroup
 * tree: v1/hybrid (this machine type) runs the v1 tests against the real
 * controllers and the v2 tests against the cgroup2 mount (hybrid's
 * /sys/fs/cgroup/unified, through kiln_cgroup_set_v2_root_for_tests); on a
 * pure v2 host the v1 tests skip and the v2 tests use /sys/fs/cgroup.
 * Every cgroup lives under /kiln-test/<pid>-<n>; teardown kills and removes
 * it even when a test fails.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "kiln/base.h"
#include "kiln/fs.h"
#include "lib/runtime/runtime-internal.h"

static char cur_path[256];
static int counter;
static char *v2_root; /* the cgroup2 mount (hybrid: unified; v2: /sys/fs/cgroup) */
static bool v2_mode_test;

/* Mount point of a v1 controller ("memory") or of cgroup2 (NULL). */
static char *mount_of(const char *ctrl)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return NULL;
        char line[4096], *res = NULL;
        while (!res && fgets(line, sizeof(line), f)) {
                char *sep = strstr(line, " - ");
                if (!sep)
                        continue;
                char mp[1024], fstype[64], src[256], opts[1024];
                if (sscanf(line, "%*s %*s %*s %*s %1023s", mp) != 1 ||
                    sscanf(sep + 3, "%63s %255s %1023s", fstype, src, opts) != 3)
                        continue;
                if (!ctrl) {
                        if (!strcmp(fstype, "cgroup2"))
                                res = strdup(mp);
                        continue;
                }
                if (strcmp(fstype, "cgroup"))
                        continue;
                char *save = NULL;
                for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
                        if (!strcmp(o, ctrl))
                                res = strdup(mp);
        }
        fclose(f);
        return res;
}

static char *cgdir(const char *ctrl)
{
        _cleanup_free_ char *m = mount_of(ctrl);
        if (!m)
                return NULL;
        return kiln_xasprintf("%s%s", m, cur_path);
}

static char *read_in(const char *ctrl, const char *file)
{
        _cleanup_free_ char *d = cgdir(ctrl);
        if (!d)
                return NULL;
        _cleanup_free_ char *p = kiln_xasprintf("%s/%s", d, file);
        char *s = NULL;
        size_t n;
        if (kiln_fs_read_file(AT_FDCWD, p, 1 << 20, &s, &n) < 0)
                return NULL;
        s[strcspn(s, "\n")] = 0;
        return s;
}

static void assert_file(const char *ctrl, const char *file, const char *want)
{
        _cleanup_free_ char *s = read_in(ctrl, file);
        assert_non_null(s);
        if (strcmp(s, want))
                fail_msg("%s/%s: got '%s', want '%s'", ctrl ? ctrl : "cgroup2", file, s, want);
}

static json_t *J(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, 0, &e);
        if (!j)
                fail_msg("bad test json: %s", e.text);
        return j;
}

static void reap_all(void)
{
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

static int setup(void **state)
{
        (void)state;
        snprintf(cur_path, sizeof(cur_path), "/kiln-test/%d-%d", (int)getpid(), ++counter);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        struct kiln_cgroup *cg = NULL;
        if (kiln_cgroup_open(cur_path, &cg, NULL) == 0) {
                kiln_cgroup_signal_all(cg, SIGKILL);
                for (int i = 0; i < 50; i++) {
                        reap_all();
                        pid_t *p = NULL;
                        size_t n = 0;
                        if (kiln_cgroup_pids(cg, &p, &n) < 0 || n == 0) {
                                free(p);
                                break;
                        }
                        free(p);
                        usleep(10000);
                }
                kiln_cgroup_destroy(cg, NULL);
                kiln_cgroup_free(cg);
        }
        reap_all();
        kiln_cgroup_set_v2_root_for_tests(NULL);
        return 0;
}

static bool have_v1(void)
{
        if (geteuid() != 0 || kiln_cgroup_mode() != 1) {
                print_message("skipped: needs root and cgroup v1/hybrid\n");
                return false;
        }
        _cleanup_free_ char *m = mount_of("memory");
        if (!m) {
                print_message("skipped: no v1 memory controller\n");
                return false;
        }
        return true;
}

/* ---- children that wait for a go byte ---- */

struct child {
        pid_t pid;
        int go;    /* write a byte to start it */
        int ready; /* it writes a byte (or an int) back */
};

typedef int (*child_fn)(int ready_fd);

static struct child spawn(child_fn fn)
{
        int a[2], b[2];
        assert_int_equal(pipe2(a, O_CLOEXEC), 0);
        assert_int_equal(pipe2(b, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(a[1]);
                close(b[0]);
                char c;
                if (read(a[0], &c, 1) != 1)
                        _exit(100);
                _exit(fn(b[1]));
        }
        close(a[0]);
        close(b[1]);
        struct child ch = { pid, a[1], b[0] };
        return ch;
}

static void go(struct child *ch)
{
        assert_int_equal(write(ch->go, "g", 1), 1);
}

static void child_close(struct child *ch)
{
        close(ch->go);
        close(ch->ready);
}

static int fn_pause(int ready)
{
        char big_unused = 'r';
        (void)!write(ready, &big_unused, 1);
        for (;;)
                pause();
        return 0;
}

static int fn_touch_then_pause(int ready)
{
        size_t n = 8u << 20;
        char *p = malloc(n);
        if (!p)
                return 1;
        memset(p, 1, n);
        (void)!write(ready, "r", 1);
        for (;;)
                pause();
        return 0;
}

static int fn_hog(int ready)
{
        (void)ready;
        size_t n = 200u << 20;
        char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return 2;
        for (size_t i = 0; i < n; i += 4096)
                p[i] = 1;
        return 0; /* survived: the limit is not enforced */
}

static int fn_forker(int ready)
{
        int ok = 0, e = 0;
        for (int i = 0; i < 50; i++) {
                pid_t p = fork();
                if (p < 0) {
                        e = errno;
                        break;
                }
                if (p == 0) {
                        for (;;)
                                pause();
                }
                ok++;
        }
        int msg[2] = { ok, e };
        (void)!write(ready, msg, sizeof(msg));
        for (;;)
                pause();
        return 0;
}

static int fn_devices(int ready)
{
        int res[2];
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        res[0] = fd >= 0 ? 0 : errno;
        if (fd >= 0)
                close(fd);
        fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
        res[1] = fd >= 0 ? 0 : errno;
        if (fd >= 0)
                close(fd);
        (void)!write(ready, res, sizeof(res));
        return 0;
}

static void wait_ready(struct child *ch)
{
        char c;
        assert_int_equal(read(ch->ready, &c, 1), 1);
}

static bool has_pid(struct kiln_cgroup *cg, pid_t pid)
{
        pid_t *p = NULL;
        size_t n = 0;
        assert_int_equal(kiln_cgroup_pids(cg, &p, &n), 0);
        bool found = false;
        for (size_t i = 0; i < n; i++)
                if (p[i] == pid)
                        found = true;
        free(p);
        return found;
}

/* ---- v1 tests ---- */

static void test_create_v1_files(void **state)
{
        (void)state;
        if (!have_v1())
                return;
        struct kiln_error err = { 0 };
        json_t *res = J("{\"memory\":{\"limit\":67108864},\"pids\":{\"limit\":20},"
                        "\"cpu\":{\"shares\":512,\"quota\":50000,\"period\":100000}}");
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = NULL;
        int r = kiln_cgroup_create(cur_path, res, &cg, &err);
        json_decref(res);
        if (r < 0)
                fail_msg("create: %s", err.msg);
        assert_file("memory", "memory.limit_in_bytes", "67108864");
        assert_file("pids", "pids.max", "20");
        assert_file("cpu", "cpu.shares", "512");
        assert_file("cpu", "cpu.cfs_quota_us", "50000");
        assert_file("cpu", "cpu.cfs_period_us", "100000");
        _cleanup_free_ char *cpus = read_in("cpuset", "cpuset.cpus");
        _cleanup_free_ char *mems = read_in("cpuset", "cpuset.mems");
        if (cpus) { /* cpuset mounted: initialised from the parent */
                assert_true(cpus[0] != 0);
                assert_non_null(mems);
                assert_true(mems[0] != 0);
        }
        /* the same cgroup again, no resources: reused */
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *again = NULL;
        assert_int_equal(kiln_cgroup_create(cur_path, NULL, &again, &err), 0);
        assert_file("memory", "memory.limit_in_bytes", "67108864");
}

static void test_swap_order(void **state)
{
        (void)state;
        if (!have_v1())
                return;
        struct kiln_error err = { 0 };
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = NULL;
        json_t *res = J("{\"memory\":{\"limit\":67108864,\"swap\":134217728,\"reservation\":33554432}}");
        int r = kiln_cgroup_create(cur_path, res, &cg, &err);
        json_decref(res);
        if (r == -KILN_EUNSUPPORTED) {
                assert_non_null(strstr(err.msg, "swap"));
                print_message("skipped: no swap accounting here (%s)\n", err.msg);
                return;
        }
        if (r < 0)
                fail_msg("create: %s", err.msg);
        assert_file("memory", "memory.limit_in_bytes", "67108864");
        assert_file("memory", "memory.memsw.limit_in_bytes", "134217728");
        assert_file("memory", "memory.soft_limit_in_bytes", "33554432");
        /* lowering both: memory first, then memsw */
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg2 = NULL;
        res = J("{\"memory\":{\"limit\":33554432,\"swap\":33554432}}");
        r = kiln_cgroup_create(cur_path, res, &cg2, &err);
        json_decref(res);
        if (r < 0)
                fail_msg("lower: %s", err.msg);
        assert_file("memory", "memory.limit_in_bytes", "33554432");
        assert_file("memory", "memory.memsw.limit_in_bytes", "33554432");
        /* raising both: memsw first */
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg3 = NULL;
        res = J("{\"memory\":{\"limit\":268435456,\"swap\":536870912}}");
        r = kiln_cgroup_create(cur_path, res, &cg3, &err);
        json_decref(res);
        if (r < 0)
                fail_msg("raise: %s", err.msg);
        assert_file("memory", "memory.limit_in_bytes", "268435456");
        assert_file("memory", "memory.memsw.limit_in_bytes", "536870912");
        /* unlimited */
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg4 = NULL;
        res = J("{\"memory\":{\"limit\":-1}}");
        r = kiln_cgroup_create(cur_path, res, &cg4, &err);
        json_decref(res);
        if (r < 0)
                fail_msg("unlimited: %s", err.msg);
        struct kiln_cgroup_stats st;
        assert_int_equal(kiln_cgroup_stats(cg4, &st), 0);
        assert_int_equal(st.memory_limit, -1);
}

static void test_enter_pids_stats(void **state)
{
        (void)state;
        if (!have_v1())
                return;
        struct kiln_error err = { 0 };
        json_t *res = J("{\"memory\":{\"limit\":67108864},\"pids\":{\"limit\":20}}");
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = NULL;
        int r = kiln_cgroup_create(cur_path, res, &cg, &err);
        json_decref(res);
        if (r < 0)
                fail_msg("create: %s", err.msg);
        struct child ch = spawn(fn_touch_then_pause);
        if (kiln_cgroup_enter(cg, ch.pid, &err) < 0)
                fail_msg("enter: %s", err.msg);
        go(&ch);
        wait_ready(&ch);
        assert_true(has_pid(cg, ch.pid));
        /* every hierarchy it was created in has the child */
        static const char *const ctrls[] = { "memory", "pids", "cpu", "cpuacct", "freezer", "devices", "blkio" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(ctrls); i++) {
                _cleanup_free_ char *procs = read_in(ctrls[i], "cgroup.procs");
                if (!procs)
                        continue;
                assert_int_equal(atoi(procs), ch.pid);
        }
        struct kiln_cgroup_stats st;
        assert_int_equal(kiln_cgroup_stats(cg, &st), 0);
        assert_true(st.memory_usage > 0);
        assert_int_equal(st.memory_limit, 67108864);
        assert_true(st.pids_current >= 1);
        assert_int_equal(st.pids_limit, 20);
        assert_true(st.cpu_usage_ns > 0);
        assert_int_equal(st.oom_kills, 0);

        /* open finds the same thing */
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *o = NULL;
        assert_int_equal(kiln_cgroup_open(cur_path, &o, &err), 0);
        assert_true(has_pid(o, ch.pid));

        /* destroy refuses while the process is inside */
        r = kiln_cgroup_destroy(cg, &err);
        assert_int_equal(r, -EBUSY);
        assert_non_null(strstr(err.msg, "still in it"));

        kill(ch.pid, SIGKILL);
        assert_int_equal(waitpid(ch.pid, NULL, 0), ch.pid);
        child_close(&ch);
        if (kiln_cgroup_destroy(cg, &err) < 0)
                fail_msg("destroy: %s", err.msg);
}

static void test_oom_kill(void **state)
{
        (void)state;
        if (!have_v1())
                return;
        struct kiln_error err = { 0 };
        _cleanup_free_ char *memsw = NULL;
        {
                _cleanup_free_ char *m = mount_of("memory");
                _cleanup_free_ char *p = kiln_xasprintf("%s/memory.memsw.limit_in_bytes", m);
                if (access(p, F_OK) == 0)
                        memsw = kiln_xstrdup("\"swap\":33554432,");
        }
        _cleanup_free_ char *txt = kiln_xasprintf("{\"memory\":{%s\"limit\":33554432}}", memsw ? memsw : "");
        json_t *res = J(txt);
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = NULL;
        int r = kiln_cgroup_create(cur_path, res, &cg, &err);
        json_decref(res);
        if (r < 0)
                fail_msg("create: %s", err.msg);
        struct child ch = spawn(fn_hog);
        if (kiln_cgroup_enter(cg, ch.pid, &err) < 0)
                fail_msg("enter: %s", err.msg);
        go(&ch);
        int ws = 0;
        assert_int_equal(waitpid(ch.pid, &ws, 0), ch.pid);
        child_close(&ch);
        if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) {
                print_message("skipped: the memory controller did not enforce the limit here\n");
                return;
        }
        assert_true(WIFSIGNALED(ws));
        assert_int_equal(WTERMSIG(ws), SIGKILL);
        struct kiln_cgroup_stats st;
        assert_int_equal(kiln_cgroup_stats(cg, &st), 0);
        assert_true(st.oom_kills >= 1);
}

static void test_pids_limit(void **state)
{
        (void)state;
        if (!have_v1())
                return;
        struct kiln_error err = { 0 };
        json_t *res = J("{\"pids\":{\"limit\":5}}");
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = NULL;
        int r = kiln_cgroup_create(cur_path, res, &cg, &err);
        json_decref(res);
        if (r < 0)
                fail_msg("create: %s", err.msg);
        struct child ch = spawn(fn_forker);
        if (kiln_cgroup_enter(cg, ch.pid, &err) < 0)
                fail_msg("enter: %s", err.msg);
        go(&ch);
        int msg[2];
        assert_int_equal(read(ch.ready, msg, sizeof(msg)), (ssize_t)sizeof(msg));
        /* the forker is one of the 5: four forks succeed, the next (6th process) fails */
        assert_int_equal(msg[0], 4);
        assert_int_equal(msg[1], EAGAIN);
        struct kiln_cgroup_stats st;
        assert_int_equal(kiln_cgroup_stats(cg, &st), 0);
        assert_int_equal(st.pids_current, 5);
        pid_t *p = NULL;
        size_t n = 0;
        assert_int_equal(kiln_cgroup_pids(cg, &p, &n), 0);
        assert_int_equal(n, 5);
        free(p);
        /* kill them all, grandchildren included */
        assert_int_equal(kiln_cgroup_signal_all(cg, SIGKILL), 0);
        int ws;
        assert_int_equal(waitpid(ch.pid, &ws, 0), ch.pid);
        assert_true(WIFSIGNALED(ws));
        child_close(&ch);
        for (int i = 0; i < 100; i++) {
                reap_all();
                assert_int_equal(kiln_cgroup_pids(cg, &p, &n), 0);
                free(p);
                if (n == 0)
                        break;
                usleep(10000);
        }
        assert_int_equal(n, 0);
        if (kiln_cgroup_destroy(cg, &err) < 0)
                fail_msg("destroy: %s", err.msg);
}

static void test_signal_all(void **state)
{
        (void)state;
        if (!have_v1())
                return;
        struct kiln_error err = { 0 };
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = NULL;
        if (kiln_cgroup_create(cur_path, NULL, &cg, &err) < 0)
                fail_msg("create: %s", err.msg);
        struct child ch[3];
        for (int i = 0; i < 3; i++) {
                ch[i] = spawn(fn_pause);
                if (kiln_cgroup_enter(cg, ch[i].pid, &err) < 0)
                        fail_msg("enter: %s", err.msg);
                go(&ch[i]);
                wait_ready(&ch[i]);
        }
        assert_int_equal(kiln_cgroup_signal_all(cg, SIGTERM), 0);
        for (int i = 0; i < 3; i++) {
                int ws;
                assert_int_equal(waitpid(ch[i].pid, &ws, 0), ch[i].pid);
                assert_true(WIFSIGNALED(ws));
                assert_int_equal(WTERMSIG(ws), SIGTERM);
                child_close(&ch[i]);
        }
        /* the freezer is thawed again */
        _cleanup_free_ char *fr = read_in("freezer", "freezer.state");
        if (fr)
                assert_string_equal(fr, "THAWED");
        /* an empty cgroup: nothing to do */
        assert_int_equal(kiln_cgroup_signal_all(cg, SIGKILL), 0);
}

static void test_destroy_all_hierarchies(void **state)
{
        (void)state;
        if (!have_v1())
                return;
        struct kiln_error err = { 0 };
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = NULL;
        if (kiln_cgroup_create(cur_path, NULL, &cg, &err) < 0)
                fail_msg("create: %s", err.msg);
        static const char *const ctrls[] = { "memory", "cpu", "cpuacct", "cpuset", "pids",
                                             "devices", "freezer", "blkio", "name=systemd" };
        char *dirs[KILN_ARRAY_SIZE(ctrls) + 1] = { 0 };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(ctrls); i++) {
                dirs[i] = cgdir(ctrls[i]);
                if (dirs[i] && access(dirs[i], F_OK) != 0)
                        fail_msg("%s: not created", dirs[i]);
        }
        _cleanup_free_ char *uroot = mount_of(NULL);
        if (uroot)
                dirs[KILN_ARRAY_SIZE(ctrls)] = kiln_xasprintf("%s%s", uroot, cur_path);
        /* a nested cgroup below (a container with its own cgroups) goes too */
        _cleanup_free_ char *mem = cgdir("memory");
        _cleanup_free_ char *nested = kiln_xasprintf("%s/inner/deeper", mem);
        assert_int_equal(kiln_fs_mkdir_p(AT_FDCWD, nested, 0755), 0);
        if (kiln_cgroup_destroy(cg, &err) < 0)
                fail_msg("destroy: %s", err.msg);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(dirs); i++) {
                if (dirs[i] && access(dirs[i], F_OK) == 0)
                        fail_msg("%s: still there", dirs[i]);
                free(dirs[i]);
        }
        /* the shared parent stays */
        _cleanup_free_ char *m = mount_of("memory");
        _cleanup_free_ char *parent = kiln_xasprintf("%s/kiln-test", m);
        assert_int_equal(access(parent, F_OK), 0);
        /* destroying twice is fine; open now fails */
        assert_int_equal(kiln_cgroup_destroy(cg, &err), 0);
        struct kiln_cgroup *o = NULL;
        assert_int_equal(kiln_cgroup_open(cur_path, &o, &err), -KILN_ENOTFOUND);
}

static void test_devices_v1(void **state)
{
        (void)state;
        if (!have_v1())
                return;
        struct kiln_error err = { 0 };
        json_t *res = J("{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
                        "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rwm\"},"
                        "{\"allow\":true,\"type\":\"c\",\"major\":-1,\"minor\":-1,\"access\":\"m\"}]}");
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = NULL;
        int r = kiln_cgroup_create(cur_path, res, &cg, &err);
        json_decref(res);
        if (r < 0)
                fail_msg("create: %s", err.msg);
        _cleanup_free_ char *d = cgdir("devices");
        _cleanup_free_ char *p = kiln_xasprintf("%s/devices.list", d);
        _cleanup_free_ char *list = NULL;
        size_t n;
        assert_int_equal(kiln_fs_read_file(AT_FDCWD, p, 1 << 16, &list, &n), 0);
        assert_non_null(strstr(list, "c 1:3 rwm"));
        assert_non_null(strstr(list, "c *:* m"));
        assert_null(strstr(list, "a *:* rwm"));
        struct child ch = spawn(fn_devices);
        if (kiln_cgroup_enter(cg, ch.pid, &err) < 0)
                fail_msg("enter: %s", err.msg);
        go(&ch);
        int got[2];
        assert_int_equal(read(ch.ready, got, sizeof(got)), (ssize_t)sizeof(got));
        waitpid(ch.pid, NULL, 0);
        child_close(&ch);
        assert_int_equal(got[0], 0);     /* /dev/null allowed */
        assert_int_equal(got[1], EPERM); /* /dev/zero denied */
}

/* ---- errors ---- */

static void test_open_missing(void **state)
{
        (void)state;
        struct kiln_error err = { 0 };
        struct kiln_cgroup *cg = NULL;
        _cleanup_free_ char *p = kiln_xasprintf("/kiln-test/missing-%d", (int)getpid());
        assert_int_equal(kiln_cgroup_open(p, &cg, &err), -KILN_ENOTFOUND);
        assert_null(cg);
        assert_non_null(strstr(err.msg, "not found"));
        assert_non_null(strstr(err.msg, p));
}

static void test_invalid(void **state)
{
        (void)state;
        struct kiln_error err = { 0 };
        struct kiln_cgroup *cg = NULL;
        static const struct {
                const char *json, *msg;
        } bad[] = {
                { "{\"memory\":{\"limit\":-5}}", "memory.limit: invalid value -5" },
                { "{\"memory\":{\"limit\":\"64m\"}}", "memory.limit: not an integer" },
                { "{\"memory\":{\"limit\":67108864,\"swap\":1048576}}", "lower than limit" },
                { "{\"memory\":{\"reservation\":-2}}", "memory.reservation" },
                { "{\"pids\":{\"limit\":-3}}", "pids.limit" },
                { "{\"cpu\":{\"quota\":-7}}", "cpu.quota" },
                { "{\"cpu\":{\"shares\":-1}}", "cpu.shares" },
                { "{\"blockIO\":{\"weight\":5}}", "blockIO.weight" },
                { "{\"devices\":[{\"allow\":true,\"type\":\"x\"}]}", "devices[0].type" },
                { "{\"devices\":[{\"allow\":true,\"access\":\"rwz\"}]}", "devices[0].access" },
                { "{\"devices\":[{\"type\":\"c\"}]}", "devices[0].allow" },
                { "[]", "linux.resources: not an object" },
        };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                json_t *res = J(bad[i].json);
                kiln_error_clear(&err);
                int r = kiln_cgroup_create(cur_path, res, &cg, &err);
                json_decref(res);
                if (r != -EINVAL || !strstr(err.msg, bad[i].msg))
                        fail_msg("%s: got %d '%s', want -EINVAL '%s'", bad[i].json, r, err.msg, bad[i].msg);
                assert_null(cg);
        }
        /* nothing was created for them */
        _cleanup_free_ char *d = cgdir("memory");
        if (d)
                assert_int_not_equal(access(d, F_OK), 0);
        assert_int_equal(kiln_cgroup_create("/kiln-test/../escape", NULL, &cg, &err), -EINVAL);
        assert_non_null(strstr(err.msg, ".."));
        assert_int_equal(kiln_cgroup_create("/", NULL, &cg, &err), -EINVAL);
        assert_int_equal(kiln_cgroup_create("", NULL, &cg, &err), -EINVAL);
        assert_int_equal(kiln_cgroup_open("//", &cg, &err), -EINVAL);
        assert_null(cg);
}

static void test_relative_path(void **state)
{
        (void)state;
        if (geteuid() != 0)
                return;
        struct kiln_error err = { 0 };
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = NULL;
        if (kiln_cgroup_create(cur_path + 1, NULL, &cg, &err) < 0) /* "kiln-test/..." */
                fail_msg("create: %s", err.msg);
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *o = NULL;
        assert_int_equal(kiln_cgroup_open(cur_path, &o, &err), 0);
}

/* ---- v2 (against the cgroup2 mount) ---- */

static bool use_v2(void)
{
        if (geteuid() != 0 || !v2_root) {
                print_message("skipped: needs root and a cgroup2 mount\n");
                return false;
        }
        if (v2_mode_test)
                kiln_cgroup_set_v2_root_for_tests(v2_root);
        assert_int_equal(kiln_cgroup_mode(), 2);
        return true;
}

static void test_v2_lifecycle(void **state)
{
        (void)state;
        if (!use_v2())
                return;
        struct kiln_error err = { 0 };
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = NULL;
        if (kiln_cgroup_create(cur_path, NULL, &cg, &err) < 0)
                fail_msg("create: %s", err.msg);
        _cleanup_free_ char *dir = kiln_xasprintf("%s%s", v2_root, cur_path);
        assert_int_equal(access(dir, F_OK), 0);
        struct child ch[2];
        for (int i = 0; i < 2; i++) {
                ch[i] = spawn(fn_pause);
                if (kiln_cgroup_enter(cg, ch[i].pid, &err) < 0)
                        fail_msg("enter: %s", err.msg);
                go(&ch[i]);
                wait_ready(&ch[i]);
                assert_true(has_pid(cg, ch[i].pid));
        }
        /* /proc/PID/cgroup shows the unified path */
        char pp[64];
        snprintf(pp, sizeof(pp), "/proc/%d/cgroup", (int)ch[0].pid);
        _cleanup_free_ char *pc = NULL;
        size_t n;
        assert_int_equal(kiln_fs_read_file(AT_FDCWD, pp, 1 << 16, &pc, &n), 0);
        _cleanup_free_ char *want = kiln_xasprintf("0::%s\n", cur_path);
        assert_non_null(strstr(pc, want));

        struct kiln_cgroup_stats st;
        assert_int_equal(kiln_cgroup_stats(cg, &st), 0);
        assert_true(st.cpu_usage_ns > 0); /* cpu.stat is always there */

        /* SIGTERM: freeze (cgroup.freeze), signal, thaw */
        assert_int_equal(kiln_cgroup_signal_all(cg, SIGTERM), 0);
        int ws;
        assert_int_equal(waitpid(ch[0].pid, &ws, 0), ch[0].pid);
        assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGTERM);
        assert_int_equal(waitpid(ch[1].pid, &ws, 0), ch[1].pid);
        assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGTERM);
        child_close(&ch[0]);
        child_close(&ch[1]);
        _cleanup_free_ char *fz = NULL;
        _cleanup_free_ char *fzp = kiln_xasprintf("%s/cgroup.freeze", dir);
        if (kiln_fs_read_file(AT_FDCWD, fzp, 64, &fz, &n) == 0)
                assert_int_equal(fz[0], '0');

        /* SIGKILL: cgroup.kill */
        struct child k = spawn(fn_pause);
        assert_int_equal(kiln_cgroup_enter(cg, k.pid, &err), 0);
        go(&k);
        wait_ready(&k);
        assert_int_equal(kiln_cgroup_signal_all(cg, SIGKILL), 0);
        assert_int_equal(waitpid(k.pid, &ws, 0), k.pid);
        assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
        child_close(&k);

        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *o = NULL;
        assert_int_equal(kiln_cgroup_open(cur_path, &o, &err), 0);
        if (kiln_cgroup_destroy(o, &err) < 0)
                fail_msg("destroy: %s", err.msg);
        assert_int_not_equal(access(dir, F_OK), 0);
}

static void test_v2_missing_controller(void **state)
{
        (void)state;
        if (!use_v2())
                return;
        _cleanup_free_ char *ctl = NULL;
        _cleanup_free_ char *p = kiln_xasprintf("%s/cgroup.controllers", v2_root);
        size_t n;
        assert_int_equal(kiln_fs_read_file(AT_FDCWD, p, 4096, &ctl, &n), 0);
        if (strstr(ctl, "pids")) {
                /* a real v2 host: the limit is applied */
                struct kiln_error err = { 0 };
                json_t *res = J("{\"pids\":{\"limit\":7},\"cpu\":{\"shares\":1024}}");
                _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = NULL;
                int r = kiln_cgroup_create(cur_path, res, &cg, &err);
                json_decref(res);
                if (r < 0)
                        fail_msg("create: %s", err.msg);
                assert_file(NULL, "pids.max", "7"); /* NULL: cgroup2 */
                if (strstr(ctl, "cpu "))
                        assert_file(NULL, "cpu.weight", "39");
                return;
        }
        struct kiln_error err = { 0 };
        struct kiln_cgroup *cg = NULL;
        json_t *res = J("{\"pids\":{\"limit\":7}}");
        int r = kiln_cgroup_create(cur_path, res, &cg, &err);
        json_decref(res);
        assert_int_equal(r, -KILN_EUNSUPPORTED);
        assert_non_null(strstr(err.msg, "'pids' controller"));
        assert_null(cg);
        /* and the leaf it made is gone again */
        _cleanup_free_ char *dir = kiln_xasprintf("%s%s", v2_root, cur_path);
        assert_int_not_equal(access(dir, F_OK), 0);
}

static void test_v2_devices_bpf(void **state)
{
        (void)state;
        if (!use_v2())
                return;
        struct kiln_error err = { 0 };
        json_t *res = J("{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
                        "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rw\"},"
                        "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":5,\"access\":\"w\"}]}");
        _cleanup_(kiln_cgroup_freep) struct kiln_cgroup *cg = NULL;
        int r = kiln_cgroup_create(cur_path, res, &cg, &err);
        json_decref(res);
        if (r == -EPERM || r == -EINVAL || r == -ENOSYS) {
                print_message("skipped: eBPF device filters unavailable: %s\n", err.msg);
                return;
        }
        if (r < 0)
                fail_msg("create: %s", err.msg);
        struct child ch = spawn(fn_devices);
        if (kiln_cgroup_enter(cg, ch.pid, &err) < 0)
                fail_msg("enter: %s", err.msg);
        go(&ch);
        int got[2];
        assert_int_equal(read(ch.ready, got, sizeof(got)), (ssize_t)sizeof(got));
        waitpid(ch.pid, NULL, 0);
        child_close(&ch);
        assert_int_equal(got[0], 0);     /* /dev/null: rw allowed */
        assert_int_equal(got[1], EPERM); /* /dev/zero: write only, read denied */
}

int main(void)
{
        /* grandchildren reparent to us, so zombies do not pin the cgroups */
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        if (kiln_cgroup_mode() == 2) {
                v2_root = kiln_xstrdup("/sys/fs/cgroup");
        } else {
                v2_root = mount_of(NULL);
                v2_mode_test = v2_root != NULL;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_create_v1_files, setup, teardown),
                cmocka_unit_test_setup_teardown(test_swap_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_enter_pids_stats, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oom_kill, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pids_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_signal_all, setup, teardown),
                cmocka_unit_test_setup_teardown(test_destroy_all_hierarchies, setup, teardown),
                cmocka_unit_test_setup_teardown(test_devices_v1, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_relative_path, setup, teardown),
                cmocka_unit_test_setup_teardown(test_v2_lifecycle, setup, teardown),
                cmocka_unit_test_setup_teardown(test_v2_missing_controller, setup, teardown),
                cmocka_unit_test_setup_teardown(test_v2_devices_bpf, setup, teardown),
        };
        int r = cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
        /* the shared test parent, when empty */
        static const char *const ctrls[] = { "memory", "cpu", "cpuacct", "cpuset", "pids",
                                             "devices", "freezer", "blkio", "name=systemd" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(ctrls) + 1; i++) {
                _cleanup_free_ char *m = mount_of(i < KILN_ARRAY_SIZE(ctrls) ? ctrls[i] : NULL);
                if (!m)
                        continue;
                _cleanup_free_ char *p = kiln_xasprintf("%s/kiln-test", m);
                (void)rmdir(p);
        }
        free(v2_root);
        return r;
}
