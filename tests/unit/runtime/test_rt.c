/* Unit tests of the runtime lifecycle (lib/runtime/rt.c, process.c, caps.c):
 * signal names, exit statuses, capability names, and, as root, whole
 * container lifecycles on a busybox bundle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "kiln/fs.h"
#include "kiln/runtime.h"
#include "../../../lib/runtime/runtime-internal.h"

static void test_signal_parse(void **state)
{
        (void)state;
        assert_int_equal(kiln_signal_parse("TERM"), SIGTERM);
        assert_int_equal(kiln_signal_parse("SIGTERM"), SIGTERM);
        assert_int_equal(kiln_signal_parse("sigterm"), SIGTERM);
        assert_int_equal(kiln_signal_parse("15"), 15);
        assert_int_equal(kiln_signal_parse("KILL"), SIGKILL);
        assert_int_equal(kiln_signal_parse("9"), 9);
        assert_int_equal(kiln_signal_parse("SIGWINCH"), SIGWINCH);
        assert_int_equal(kiln_signal_parse("RTMIN"), SIGRTMIN);
        assert_int_equal(kiln_signal_parse("RTMIN+3"), SIGRTMIN + 3);
        assert_int_equal(kiln_signal_parse("SIGRTMAX-1"), SIGRTMAX - 1);
        assert_true(kiln_signal_parse("") < 0);
        assert_true(kiln_signal_parse("NOPE") < 0);
        assert_true(kiln_signal_parse("0") < 0);
        assert_true(kiln_signal_parse("65") < 0);
        assert_true(kiln_signal_parse("-1") < 0);
        assert_true(kiln_signal_parse("RTMIN+99") < 0);
        assert_true(kiln_signal_parse(NULL) < 0);
}

static void test_wait_status(void **state)
{
        (void)state;
        assert_int_equal(kiln_wait_status_to_exit(0), 0);
        assert_int_equal(kiln_wait_status_to_exit(3 << 8), 3);
        assert_int_equal(kiln_wait_status_to_exit(SIGKILL), 137);
        assert_int_equal(kiln_wait_status_to_exit(SIGTERM), 143);
        /* a real child */
        pid_t p = fork();
        if (p == 0)
                _exit(42);
        int ws;
        waitpid(p, &ws, 0);
        assert_int_equal(kiln_wait_status_to_exit(ws), 42);
}

static void test_cap_names(void **state)
{
        (void)state;
        assert_int_equal(kiln_cap_from_name("CAP_CHOWN"), 0);
        assert_int_equal(kiln_cap_from_name("chown"), 0);
        assert_int_equal(kiln_cap_from_name("cap_net_admin"), 12);
        assert_int_equal(kiln_cap_from_name("CAP_SYS_ADMIN"), 21);
        assert_int_equal(kiln_cap_from_name("CAP_CHECKPOINT_RESTORE"), 40);
        assert_int_equal(kiln_cap_from_name("CAP_NOPE"), -1);
        assert_int_equal(kiln_cap_from_name(""), -1);
        assert_int_equal(kiln_cap_from_name(NULL), -1);
        /* every default capability of the spec module is known here */
        for (const char *const *c = kiln_spec_default_caps(); c && *c; c++)
                assert_true(kiln_cap_from_name(*c) >= 0);
}

static void test_features(void **state)
{
        (void)state;
        json_t *f = kiln_rt_features();
        assert_non_null(f);
        assert_string_equal(json_string_value(json_object_get(f, "ociVersionMin")), "1.0.0");
        json_t *lin = json_object_get(f, "linux");
        assert_true(json_array_size(json_object_get(lin, "namespaces")) >= 7);
        assert_true(json_array_size(json_object_get(lin, "capabilities")) >= 41);
        assert_true(json_is_true(json_object_get(json_object_get(lin, "seccomp"), "enabled")));
        json_decref(f);
}

static void test_bad_ids(void **state)
{
        (void)state;
        struct kiln_error err = { 0 };
        json_t *st = NULL;
        assert_true(kiln_rt_state("/tmp/nonexistent-kiln-root", "../x", &st, &err) < 0);
        assert_non_null(strstr(err.msg, "invalid container id"));
        assert_true(kiln_rt_state("/tmp/nonexistent-kiln-root", "", &st, &err) < 0);
        assert_int_equal(kiln_rt_state("/tmp/nonexistent-kiln-root", "nope", &st, &err),
                         -KILN_ENOTFOUND);
        assert_non_null(strstr(err.msg, "does not exist"));
        char **ids = NULL;
        assert_int_equal(kiln_rt_list("/tmp/nonexistent-kiln-root", &ids, &err), 0);
        assert_null(ids[0]);
        kiln_strv_free(ids);
}

/* ---- lifecycle (root) ---- */

struct fx {
        char dir[64];
        char bundle[128];
        char root[128];
        char rootfs_src[128];
};

static struct fx *g;

static int write_config(const char *argv0, char *const *args, const char *cwd)
{
        json_t *spec = kiln_spec_example(false);
        if (!spec)
                return -1;
        json_t *process = json_object_get(spec, "process");
        json_object_set_new(process, "terminal", json_false());
        json_t *a = json_array();
        json_array_append_new(a, json_string(argv0));
        for (size_t i = 0; args && args[i]; i++)
                json_array_append_new(a, json_string(args[i]));
        json_object_set_new(process, "args", a);
        if (cwd)
                json_object_set_new(process, "cwd", json_string(cwd));
        json_object_set_new(spec, "hostname", json_string("kiln-unit"));
        char path[256];
        snprintf(path, sizeof(path), "%s/config.json", g->bundle);
        int r = json_dump_file(spec, path, JSON_INDENT(2));
        json_decref(spec);
        return r;
}

static int setup_bundle(void **state)
{
        if (geteuid() != 0)
                return 0;
        g = calloc(1, sizeof(*g));
        strcpy(g->dir, "/tmp/kiln-rt-test-XXXXXX");
        if (!mkdtemp(g->dir))
                return -1;
        snprintf(g->bundle, sizeof(g->bundle), "%s/bundle", g->dir);
        snprintf(g->root, sizeof(g->root), "%s/state", g->dir);
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "mkdir -p %s && %s/../scripts/busybox-rootfs.sh %s/rootfs >/dev/null",
                 g->bundle, getenv("KILN_TEST_DATA") ? getenv("KILN_TEST_DATA") : "tests/data",
                 g->bundle);
        /* KILN_TEST_DATA is <src>/tests/data: the script is <src>/scripts */
        snprintf(cmd, sizeof(cmd), "mkdir -p %s && %s/../../scripts/busybox-rootfs.sh %s/rootfs >/dev/null",
                 g->bundle, getenv("KILN_TEST_DATA") ? getenv("KILN_TEST_DATA") : "tests/data",
                 g->bundle);
        if (system(cmd) != 0)
                return -1;
        return 0;
}

static int teardown_bundle(void **state)
{
        if (!g)
                return 0;
        kiln_fs_rm_rf_at(AT_FDCWD, g->dir);
        free(g);
        g = NULL;
        return 0;
}

#define NEED_ROOT()                                                                                \
        do {                                                                                       \
                if (geteuid() != 0 || !g)                                                          \
                        skip();                                                                    \
        } while (0)

static const char *status_of(const char *id, pid_t *ret_pid)
{
        static char buf[32];
        json_t *st = NULL;
        struct kiln_error err = { 0 };
        if (kiln_rt_state(g->root, id, &st, &err) < 0)
                return "error";
        snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(st, "status")));
        if (ret_pid)
                *ret_pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
        json_decref(st);
        return buf;
}

static bool cgroup_exists(const char *path)
{
        struct kiln_cgroup *cg = NULL;
        if (kiln_cgroup_open(path, &cg, NULL) < 0)
                return false;
        kiln_cgroup_free(cg);
        return true;
}

static void test_lifecycle(void **state)
{
        NEED_ROOT();
        char *args[] = { "30", NULL };
        assert_int_equal(write_config("sleep", args, NULL), 0);
        struct kiln_rt_create_opts o = KILN_RT_CREATE_OPTS_INIT;
        o.bundle = g->bundle;
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        o.stdin_fd = o.stdout_fd = devnull;
        struct kiln_error err = { 0 };
        pid_t pid = -1;
        int r = kiln_rt_create(g->root, "life", &o, &pid, &err);
        if (r < 0)
                fail_msg("create: %s", err.msg);
        assert_true(pid > 0);
        pid_t spid = 0;
        assert_string_equal(status_of("life", &spid), "created");
        assert_int_equal(spid, pid);
        /* a second create with the same id fails */
        assert_true(kiln_rt_create(g->root, "life", &o, NULL, &err) < 0);
        assert_non_null(strstr(err.msg, "exists"));
        char **ids = NULL;
        assert_int_equal(kiln_rt_list(g->root, &ids, &err), 1);
        assert_string_equal(ids[0], "life");
        kiln_strv_free(ids);

        /* exec into it: its hostname, its pid namespace */
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        json_t *proc = json_pack("{s:[s,s]}", "args", "cat", "/etc/hostname");
        json_object_set_new(proc, "args", json_pack("[s,s,s]", "sh", "-c", "hostname; echo $$"));
        struct kiln_rt_exec_opts eo = { .process = proc, .stdin_fd = devnull, .stdout_fd = p[1],
                                        .stderr_fd = -1 };
        int status = -1;
        r = kiln_rt_exec(g->root, "life", &eo, &status, &err);
        close(p[1]);
        if (r < 0)
                fail_msg("exec: %s", err.msg);
        assert_int_equal(status, 0);
        char out[256] = "";
        ssize_t n = kiln_fs_read_full(p[0], out, sizeof(out) - 1);
        close(p[0]);
        assert_true(n > 0);
        out[n] = 0;
        assert_non_null(strstr(out, "kiln-unit\n"));
        /* not pid 1 (that's the init), a small pid of the container's namespace */
        int cpid = atoi(strchr(out, '\n') + 1);
        assert_true(cpid > 1 && cpid < 100);
        json_decref(proc);

        /* exec cat /etc/hostname (the rootfs file) */
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        proc = json_pack("{s:[s,s]}", "args", "cat", "/etc/hostname");
        eo.process = proc;
        eo.stdout_fd = p[1];
        r = kiln_rt_exec(g->root, "life", &eo, &status, &err);
        close(p[1]);
        if (r < 0)
                fail_msg("exec: %s", err.msg);
        n = kiln_fs_read_full(p[0], out, sizeof(out) - 1);
        close(p[0]);
        out[n > 0 ? n : 0] = 0;
        assert_string_equal(out, "kiln\n");
        json_decref(proc);
        /* a missing program: a clear error from exec, before anything runs */
        proc = json_pack("{s:[s]}", "args", "no-such-program");
        eo.process = proc;
        eo.stdout_fd = -1;
        assert_true(kiln_rt_exec(g->root, "life", &eo, &status, &err) < 0);
        assert_non_null(strstr(err.msg, "executable file not found"));
        json_decref(proc);

        assert_int_equal(kiln_rt_start(g->root, "life", &err), 0);
        assert_string_equal(status_of("life", NULL), "running");
        assert_true(kiln_rt_start(g->root, "life", &err) < 0);
        /* delete refuses a running container */
        assert_true(kiln_rt_delete(g->root, "life", false, &err) < 0);
        assert_non_null(strstr(err.msg, "not stopped"));
        pid_t *pids = NULL;
        size_t np = 0;
        assert_int_equal(kiln_rt_pids(g->root, "life", &pids, &np, &err), 0);
        assert_int_equal(np, 1);
        assert_int_equal(pids[0], pid);
        free(pids);

        assert_int_equal(kiln_rt_kill(g->root, "life", SIGKILL, false, &err), 0);
        int ws;
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        assert_int_equal(kiln_wait_status_to_exit(ws), 137);
        assert_string_equal(status_of("life", NULL), "stopped");
        assert_true(kiln_rt_kill(g->root, "life", SIGTERM, false, &err) < 0);
        assert_non_null(strstr(err.msg, "not running"));
        assert_true(cgroup_exists("/kiln/life"));
        assert_int_equal(kiln_rt_delete(g->root, "life", false, &err), 0);
        assert_false(cgroup_exists("/kiln/life"));
        char d[256];
        snprintf(d, sizeof(d), "%s/life", g->root);
        assert_int_equal(access(d, F_OK), -1);
        assert_int_equal(kiln_rt_state(g->root, "life", &(json_t *){ NULL }, &err), -KILN_ENOTFOUND);
        close(devnull);
}

static void test_run_exit_code(void **state)
{
        NEED_ROOT();
        char *args[] = { "-c", "exit 3", NULL };
        assert_int_equal(write_config("sh", args, NULL), 0);
        struct kiln_rt_create_opts o = KILN_RT_CREATE_OPTS_INIT;
        o.bundle = g->bundle;
        struct kiln_error err = { 0 };
        int status = -1;
        if (kiln_rt_run(g->root, "run3", &o, false, &status, &err) < 0)
                fail_msg("run: %s", err.msg);
        assert_int_equal(status, 3);
        /* run deletes the container afterwards */
        char d[256];
        snprintf(d, sizeof(d), "%s/run3", g->root);
        assert_int_equal(access(d, F_OK), -1);
}

static void test_force_delete_created(void **state)
{
        NEED_ROOT();
        char *args[] = { "30", NULL };
        assert_int_equal(write_config("sleep", args, NULL), 0);
        struct kiln_rt_create_opts o = KILN_RT_CREATE_OPTS_INIT;
        o.bundle = g->bundle;
        struct kiln_error err = { 0 };
        pid_t pid;
        if (kiln_rt_create(g->root, "fd1", &o, &pid, &err) < 0)
                fail_msg("create: %s", err.msg);
        assert_int_equal(kiln_rt_start(g->root, "fd1", &err), 0);
        assert_int_equal(kiln_rt_delete(g->root, "fd1", true, &err), 0);
        assert_int_equal(kill(pid, 0), -1);
        assert_false(cgroup_exists("/kiln/fd1"));
}

static void test_create_errors(void **state)
{
        NEED_ROOT();
        /* a missing cwd: the init's error comes back, everything is undone */
        char *args[] = { "30", NULL };
        assert_int_equal(write_config("sleep", args, "/no/such/dir"), 0);
        struct kiln_rt_create_opts o = KILN_RT_CREATE_OPTS_INIT;
        o.bundle = g->bundle;
        struct kiln_error err = { 0 };
        assert_true(kiln_rt_create(g->root, "bad1", &o, NULL, &err) < 0);
        assert_non_null(strstr(err.msg, "container init: "));
        assert_non_null(strstr(err.msg, "/no/such/dir"));
        char d[256];
        snprintf(d, sizeof(d), "%s/bad1", g->root);
        assert_int_equal(access(d, F_OK), -1);
        assert_false(cgroup_exists("/kiln/bad1"));

        /* a missing program is reported at create time */
        assert_int_equal(write_config("no-such-program", NULL, NULL), 0);
        assert_true(kiln_rt_create(g->root, "bad2", &o, NULL, &err) < 0);
        assert_non_null(strstr(err.msg, "executable file not found in $PATH"));

        /* no bundle */
        o.bundle = "/nonexistent-bundle";
        assert_true(kiln_rt_create(g->root, "bad3", &o, NULL, &err) < 0);
        /* a terminal without a console socket */
        o.bundle = g->bundle;
        assert_int_equal(write_config("true", NULL, NULL), 0);
        char path[256];
        snprintf(path, sizeof(path), "%s/config.json", g->bundle);
        json_t *spec = json_load_file(path, 0, NULL);
        json_object_set_new(json_object_get(spec, "process"), "terminal", json_true());
        json_dump_file(spec, path, 0);
        json_decref(spec);
        assert_true(kiln_rt_create(g->root, "bad4", &o, NULL, &err) < 0);
        assert_non_null(strstr(err.msg, "console socket"));
}


/* ---- the seccomp program cache (kiln_seccomp_compile) ---- */

static json_t *deny_getcwd_profile(void)
{
        return json_pack("{s:s, s:[s], s:[{s:[s], s:s, s:i}]}", "defaultAction", "SCMP_ACT_ALLOW",
                         "architectures", "SCMP_ARCH_NATIVE", "syscalls", "names", "getcwd",
                         "action", "SCMP_ACT_ERRNO", "errnoRet", EPERM);
}

/* The one .bpf file in dir (its name in ret, 128 bytes); false if not one. */
static bool only_cache_file(const char *dir, char *ret)
{
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "ls -A %s", dir);
        FILE *f = popen(cmd, "r");
        if (!f)
                return false;
        char line[256];
        int n = 0;
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                if (n++ == 0)
                        snprintf(ret, 128, "%s", line);
        }
        pclose(f);
        return n == 1 && strlen(ret) == 64 + 4 && !strcmp(ret + 64, ".bpf");
}

/* In a child: install p, then getcwd must fail with EPERM. */
static int child_install_denies_getcwd(const struct kiln_seccomp_prog *p)
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        _exit(10);
                char buf[256];
                if (!getcwd(buf, sizeof(buf)))
                        _exit(11); /* works before */
                struct kiln_error e = { 0 };
                if (kiln_seccomp_install(p, &e) < 0)
                        _exit(12);
                errno = 0;
                if (getcwd(buf, sizeof(buf)) || errno != EPERM)
                        _exit(13);
                /* the rest is allowed */
                if (getpid() <= 0 || access("/", F_OK) < 0)
                        _exit(14);
                _exit(0);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void test_seccomp_cache(void **state)
{
        (void)state;
        char dir[] = "/tmp/kiln-sc-cache-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char cache[128], name[128], file[300];
        snprintf(cache, sizeof(cache), "%s/state/.seccomp-cache", dir);
        json_t *sc = deny_getcwd_profile();
        struct kiln_error err = { 0 };
        struct kiln_seccomp_prog *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL, *p5 = NULL;

        /* first: compiled and written, 0700 dir, 0600 file */
        if (kiln_seccomp_compile(sc, cache, &p1, &err) < 0)
                fail_msg("compile: %s", err.msg);
        assert_false(p1->from_cache);
        assert_true(p1->n > 0);
        assert_true(only_cache_file(cache, name));
        snprintf(file, sizeof(file), "%s/%s", cache, name);
        struct stat st;
        assert_int_equal(stat(cache, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal((size_t)st.st_size, p1->n * 8);

        /* second: read from the cache, the same program */
        if (kiln_seccomp_compile(sc, cache, &p2, &err) < 0)
                fail_msg("compile: %s", err.msg);
        assert_true(p2->from_cache);
        assert_int_equal(p2->n, p1->n);
        assert_memory_equal(p2->filter, p1->filter, p1->n * 8);
        assert_int_equal(p2->flags, p1->flags);

        /* the cached program behaves like the compiled one */
        assert_int_equal(child_install_denies_getcwd(p1), 0);
        assert_int_equal(child_install_denies_getcwd(p2), 0);

        /* a corrupted file (not whole instructions) is rebuilt */
        int fd = open(file, O_WRONLY | O_APPEND);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "xyz", 3), 3);
        close(fd);
        if (kiln_seccomp_compile(sc, cache, &p3, &err) < 0)
                fail_msg("compile: %s", err.msg);
        assert_false(p3->from_cache);
        assert_memory_equal(p3->filter, p1->filter, p1->n * 8);
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal((size_t)st.st_size, p1->n * 8);

        /* a symlink (to a valid program) is refused and replaced by a file */
        char other[300];
        snprintf(other, sizeof(other), "%s/other.bpf", dir);
        assert_int_equal(rename(file, other), 0);
        assert_int_equal(symlink(other, file), 0);
        if (kiln_seccomp_compile(sc, cache, &p4, &err) < 0)
                fail_msg("compile: %s", err.msg);
        assert_false(p4->from_cache);
        assert_int_equal(lstat(file, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(child_install_denies_getcwd(p4), 0);

        /* an empty file is refused too; another profile gets another file */
        fd = open(file, O_WRONLY | O_TRUNC);
        assert_true(fd >= 0);
        close(fd);
        json_t *sc2 = json_pack("{s:s, s:[s]}", "defaultAction", "SCMP_ACT_ALLOW", "flags",
                                "SECCOMP_FILTER_FLAG_LOG");
        if (kiln_seccomp_compile(sc2, cache, &p5, &err) < 0)
                fail_msg("compile: %s", err.msg);
        assert_false(p5->from_cache);
        assert_true(p5->flags != 0);
        kiln_seccomp_prog_free(p5);
        p5 = NULL;
        if (kiln_seccomp_compile(sc2, cache, &p5, &err) < 0)
                fail_msg("compile: %s", err.msg);
        assert_true(p5->from_cache);
        assert_true(p5->flags != 0);

        /* no object, no program; a bad one is an error */
        struct kiln_seccomp_prog *none = (void *)1;
        assert_int_equal(kiln_seccomp_compile(NULL, cache, &none, &err), 0);
        assert_null(none);
        json_t *bad = json_pack("{s:s}", "defaultAction", "SCMP_ACT_WHAT");
        assert_int_equal(kiln_seccomp_compile(bad, cache, &none, &err), -EINVAL);
        json_decref(bad);

        kiln_seccomp_prog_free(p1);
        kiln_seccomp_prog_free(p2);
        kiln_seccomp_prog_free(p3);
        kiln_seccomp_prog_free(p4);
        kiln_seccomp_prog_free(p5);
        json_decref(sc);
        json_decref(sc2);
        kiln_fs_rm_rf_at(AT_FDCWD, dir);
}

/* A container under a deny-uname profile (getcwd would fail the init's own
 * cwd check): uname says nothing in it, twice (the second run reads the program
 * from the state root's cache), with and without no_new_privs. */
static void test_run_seccomp(void **state)
{
        NEED_ROOT();
        char *args[] = { "-c", "uname -s | grep -q Linux || exit 7", NULL };
        /* without the filter the command succeeds */
        {
                assert_int_equal(write_config("sh", args, NULL), 0);
                struct kiln_rt_create_opts o = KILN_RT_CREATE_OPTS_INIT;
                o.bundle = g->bundle;
                struct kiln_error err = { 0 };
                int status = -1;
                if (kiln_rt_run(g->root, "sc0", &o, false, &status, &err) < 0)
                        fail_msg("run: %s", err.msg);
                assert_int_equal(status, 0);
        }
        for (int nnp = 0; nnp < 2; nnp++) {
                assert_int_equal(write_config("sh", args, NULL), 0);
                char path[256];
                snprintf(path, sizeof(path), "%s/config.json", g->bundle);
                json_t *spec = json_load_file(path, 0, NULL);
                json_t *sc = deny_getcwd_profile();
                json_string_set(json_array_get(json_object_get(json_array_get(json_object_get(sc, "syscalls"), 0),
                                                               "names"), 0),
                                "uname");
                json_object_set_new(json_object_get(spec, "linux"), "seccomp", sc);
                json_object_set_new(json_object_get(spec, "process"), "noNewPrivileges",
                                    json_boolean(nnp));
                assert_int_equal(json_dump_file(spec, path, 0), 0);
                json_decref(spec);
                for (int i = 0; i < 2; i++) {
                        struct kiln_rt_create_opts o = KILN_RT_CREATE_OPTS_INIT;
                        o.bundle = g->bundle;
                        o.stdout_fd = o.stderr_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
                        struct kiln_error err = { 0 };
                        int status = -1;
                        int r = kiln_rt_run(g->root, "sc1", &o, false, &status, &err);
                        close(o.stdout_fd);
                        if (r < 0)
                                fail_msg("run: %s", err.msg);
                        assert_int_equal(status, 7);
                }
        }
        char cache[256], name[128];
        snprintf(cache, sizeof(cache), "%s/.seccomp-cache", g->root);
        assert_true(only_cache_file(cache, name));
        /* the cache directory is not a container */
        char **ids = NULL;
        struct kiln_error err = { 0 };
        assert_int_equal(kiln_rt_list(g->root, &ids, &err), 0);
        kiln_strv_free(ids);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_signal_parse),
                cmocka_unit_test(test_wait_status),
                cmocka_unit_test(test_cap_names),
                cmocka_unit_test(test_features),
                cmocka_unit_test(test_bad_ids),
                cmocka_unit_test(test_lifecycle),
                cmocka_unit_test(test_run_exit_code),
                cmocka_unit_test(test_force_delete_created),
                cmocka_unit_test(test_create_errors),
                cmocka_unit_test(test_seccomp_cache),
                cmocka_unit_test(test_run_seccomp),
        };
        return cmocka_run_group_tests_name("rt", tests, setup_bundle, teardown_bundle);
}
