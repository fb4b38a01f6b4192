/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rootless kiln, podman's model. A user other than root runs kiln inside one
 * user namespace, where uid 0 is the user and uids 1..N are the user's
 * ranges from /etc/subuid (gids from /etc/subgid), written by the setuid
 * helpers newuidmap/newgidmap of shadow's uidmap package; and inside one
 * mount namespace, where kiln may mount overlays. A small pause process
 * (kiln-monitor --pause) holds both open; the first kiln that needs them
 * makes them and every later kiln joins them, so all of a user's kiln
 * commands see the same mounts, the same ownership and the same containers.
 *
 * Inside, kiln is uid 0 and works as it does for root, except where the
 * kernel keeps the machine's root powers to itself: no cgroups (v1 has no
 * delegation), no device nodes (bound from the host instead), overlayfs
 * with the "userxattr" option, and networks through pasta/slirp4netns.
 *
 * The store is the user's ($XDG_DATA_HOME/kiln, ~/.local/share/kiln) and the
 * runtime state $XDG_RUNTIME_DIR/kiln (or /tmp/kiln-runtime-UID): both are
 * decided before joining (inside, the uid is 0) and passed on in
 * KILN_ROOT / KILN_RUNTIME_ROOT, so that every kiln run from inside agrees.
 */
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include "container-internal.h"
#include "kiln/fs.h"
#include "kiln/store.h"

size_t ctr_sub_ranges(const char *file, const char *name, uint32_t id, struct ctr_id_range *out, size_t max)
{
        FILE *f = fopen(file, "re");
        if (!f)
                return 0;
        char line[512], idstr[16];
        snprintf(idstr, sizeof(idstr), "%u", (unsigned)id);
        size_t n = 0;
        while (n < max && fgets(line, sizeof(line), f)) {
                char *save = NULL, *who = strtok_r(line, ":\n", &save);
                char *start = strtok_r(NULL, ":\n", &save), *count = strtok_r(NULL, ":\n", &save);
                if (!who || !start || !count || *who == '#')
                        continue;
                if (strcmp(who, idstr) && (!name || strcmp(who, name)))
                        continue;
                char *e1, *e2;
                unsigned long s = strtoul(start, &e1, 10), c = strtoul(count, &e2, 10);
                if (*e1 || *e2 || !c || s > UINT32_MAX || c > UINT32_MAX - s)
                        continue;
                out[n].start = (uint32_t)s;
                out[n].count = (uint32_t)c;
                n++;
        }
        fclose(f);
        return n;
}

/* Run newuidmap/newgidmap PID 0 ID 1 1 START COUNT ... */
static int run_map_helper(const char *helper, pid_t pid, uint32_t id, const struct ctr_id_range *r,
                          size_t n, struct kiln_error *err)
{
        char **argv = kiln_xcalloc(5 + 3 * n + 1, sizeof(char *));
        size_t k = 0;
        argv[k++] = kiln_xstrdup(helper);
        argv[k++] = kiln_xasprintf("%d", (int)pid);
        argv[k++] = kiln_xstrdup("0");
        argv[k++] = kiln_xasprintf("%u", (unsigned)id);
        argv[k++] = kiln_xstrdup("1");
        uint32_t inner = 1;
        for (size_t i = 0; i < n; i++) {
                argv[k++] = kiln_xasprintf("%u", (unsigned)inner);
                argv[k++] = kiln_xasprintf("%u", (unsigned)r[i].start);
                argv[k++] = kiln_xasprintf("%u", (unsigned)r[i].count);
                inner += r[i].count;
        }
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0) {
                kiln_strv_free(argv);
                return kiln_err(err, -errno, "pipe: %s", strerror(errno));
        }
        pid_t h = fork();
        if (h == 0) {
                dup2(pfd[1], STDERR_FILENO);
                execvp(helper, argv);
                dprintf(pfd[1], "%s", strerror(errno));
                _exit(127);
        }
        close(pfd[1]);
        kiln_strv_free(argv);
        char msg[512] = "";
        size_t got = 0;
        ssize_t rd;
        while (got < sizeof(msg) - 1 && (rd = read(pfd[0], msg + got, sizeof(msg) - 1 - got)) > 0)
                got += (size_t)rd;
        msg[got] = 0;
        close(pfd[0]);
        int ws = 0;
        if (h < 0 || waitpid(h, &ws, 0) < 0)
                return kiln_err(err, -ECHILD, "%s: cannot run it", helper);
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
                char *nl;
                while ((nl = strchr(msg, '\n')) && nl[1])
                        *nl = ' ';
                if ((nl = strchr(msg, '\n')))
                        *nl = 0;
                return kiln_err(err, -EPERM, "%s: %s", helper,
                                WIFEXITED(ws) && WEXITSTATUS(ws) == 127 && !*msg ? "not found (install uidmap)"
                                                                                 : *msg ? msg : "failed");
        }
        return 0;
}

/* Write the id maps of PID: the user's ranges through the setuid helpers,
 * or, when the user has none, only the user's own ids (written directly). */
static int map_ids(pid_t pid, struct kiln_error *err)
{
        uid_t uid = geteuid();
        gid_t gid = getegid();
        struct passwd *pw = getpwuid(uid);
        const char *name = pw ? pw->pw_name : NULL;
        struct ctr_id_range ur[32], gr[32];
        size_t nu = ctr_sub_ranges("/etc/subuid", name, uid, ur, 32);
        size_t ng = ctr_sub_ranges("/etc/subgid", name, uid, gr, 32);
        int r;
        if (nu) {
                if ((r = run_map_helper("newuidmap", pid, uid, ur, nu, err)) < 0)
                        return r;
        } else {
                char p[64], m[64];
                snprintf(p, sizeof(p), "/proc/%d/uid_map", (int)pid);
                snprintf(m, sizeof(m), "0 %u 1\n", (unsigned)uid);
                if ((r = kiln_fs_write_existing(p, m, strlen(m))) < 0)
                        return kiln_err(err, r, "write %s: %s", p, kiln_strerror(r));
        }
        if (ng) {
                if ((r = run_map_helper("newgidmap", pid, gid, gr, ng, err)) < 0)
                        return r;
        } else {
                char p[64], m[64];
                snprintf(p, sizeof(p), "/proc/%d/setgroups", (int)pid);
                kiln_fs_write_existing(p, "deny", 4);
                snprintf(p, sizeof(p), "/proc/%d/gid_map", (int)pid);
                snprintf(m, sizeof(m), "0 %u 1\n", (unsigned)gid);
                if ((r = kiln_fs_write_existing(p, m, strlen(m))) < 0)
                        return kiln_err(err, r, "write %s: %s", p, kiln_strerror(r));
        }
        if (!nu || !ng)
                kiln_warn("no range for %s in /etc/%s: only uid 0 and gid 0 exist in containers",
                          name ? name : "this user", !nu ? "subuid" : "subgid");
        return 0;
}

/* The start time of pid (field 22 of /proc/PID/stat), to tell a reused
 * pid; 0 when it is gone. */
static unsigned long long proc_starttime(pid_t pid)
{
        unsigned long long st = 0;
        return kiln_proc_stat(pid, NULL, &st) < 0 ? 0 : st;
}

/* The pause process of pidfile if it is still the one recorded. */
static pid_t pause_alive(const char *pidfile)
{
        char buf[64] = "";
        int fd = open(pidfile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        int pid = 0;
        unsigned long long st = 0;
        if (sscanf(buf, "%d %llu", &pid, &st) != 2 || pid <= 0)
                return 0;
        if (proc_starttime(pid) != st)
                return 0;
        return pid;
}

/* Fork the pause process in new user and mount namespaces, map its ids. */
static int pause_create(const char *pidfile, pid_t *ret, struct kiln_error *err)
{
        int up[2], down[2];
        if (pipe2(up, O_CLOEXEC) < 0)
                return kiln_err(err, -errno, "pipe: %s", strerror(errno));
        if (pipe2(down, O_CLOEXEC) < 0) {
                int e = errno;
                close(up[0]);
                close(up[1]);
                return kiln_err(err, -e, "pipe: %s", strerror(e));
        }
        _cleanup_free_ char *self = kiln_self_exe();
        char *helper = self ? ctr_find_monitor(self) : NULL;
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                free(helper);
                return kiln_err(err, -e, "fork: %s", strerror(e));
        }
        if (pid == 0) {
                char c = 0;
                close(up[0]);
                close(down[1]);
                if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
                        c = (char)errno;
                        (void)!write(up[1], &c, 1);
                        _exit(1);
                }
                (void)!write(up[1], &c, 1);
                if (read(down[0], &c, 1) != 1 || c)
                        _exit(1);
                /* nothing mounted here reaches the host (it could not anyway) */
                mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
                setsid();
                if (chdir("/") < 0) {
                }
                int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (nul >= 0) {
                        dup2(nul, 0);
                        dup2(nul, 1);
                        dup2(nul, 2);
                }
                /* it outlives us: nothing of ours (a caller's pipe) stays open */
                close_range(3, ~0U, 0);
                signal(SIGINT, SIG_IGN);
                signal(SIGHUP, SIG_IGN);
                signal(SIGPIPE, SIG_IGN);
                if (helper)
                        execl(helper, "kiln-monitor", "--pause", (char *)NULL);
                /* no kiln-monitor: this process waits instead */
                prctl(PR_SET_NAME, "kiln-pause");
                for (;;)
                        pause();
        }
        free(helper);
        close(up[1]);
        close(down[0]);
        char c = 1;
        int r = 0;
        ssize_t n = read(up[0], &c, 1);
        if (n != 1 || c) {
                int e = n == 1 ? (unsigned char)c : EIO;
                r = kiln_err(err, -e, "cannot make a user namespace: %s%s", strerror(e),
                             e == EPERM || e == ENOSPC ? " (are unprivileged user namespaces enabled? "
                                                          "see /proc/sys/user/max_user_namespaces)"
                                                        : "");
        } else {
                r = map_ids(pid, err);
        }
        c = r < 0 ? 1 : 0;
        (void)!write(down[1], &c, 1);
        close(up[0]);
        close(down[1]);
        if (r < 0) {
                waitpid(pid, NULL, 0);
                return r;
        }
        /* recorded with its start time, so that a reused pid is never joined */
        char tmp[PATH_MAX], line[64];
        snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile);
        snprintf(line, sizeof(line), "%d %llu\n", (int)pid, proc_starttime(pid));
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line) || rename(tmp, pidfile) < 0) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                return kiln_err(err, -e, "write %s: %s", pidfile, strerror(e));
        }
        close(fd);
        *ret = pid;
        return 0;
}

/* $XDG_RUNTIME_DIR/kiln, else /tmp/kiln-run-UID: ours, 0700, no symlink. */
static char *private_run_dir(struct kiln_error *err)
{
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        char *dir = xdg && *xdg == '/' ? kiln_xasprintf("%s/kiln", xdg)
                                       : kiln_xasprintf("/tmp/kiln-run-%u", (unsigned)geteuid());
        struct stat st;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                kiln_err(err, -errno, "mkdir %s: %s", dir, strerror(errno));
                free(dir);
                return NULL;
        }
        if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
            (st.st_mode & 077)) {
                kiln_err(err, -EPERM, "%s: not a private directory of uid %u", dir, (unsigned)geteuid());
                free(dir);
                return NULL;
        }
        return dir;
}

int kiln_rootless_enter(struct kiln_error *err)
{
        if (geteuid() == 0)
                return 0; /* root, or already inside */
        /* decided now: inside, our uid is 0 */
        if (!getenv("KILN_ROOT") || !*getenv("KILN_ROOT")) {
                _cleanup_free_ char *root = kiln_store_default_root();
                setenv("KILN_ROOT", root, 1);
        }
        if (!getenv("KILN_RUNTIME_ROOT") || !*getenv("KILN_RUNTIME_ROOT")) {
                _cleanup_free_ char *rt = kiln_container_state_root();
                setenv("KILN_RUNTIME_ROOT", rt, 1);
        }
        _cleanup_free_ char *dir = private_run_dir(err);
        if (!dir)
                return -EPERM;
        _cleanup_free_ char *lockp = kiln_xasprintf("%s/pause.lock", dir);
        _cleanup_free_ char *pidp = kiln_xasprintf("%s/pause.pid", dir);
        _cleanup_close_ int lfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (lfd < 0 || flock(lfd, LOCK_EX) < 0)
                return kiln_err(err, -errno, "%s: %s", lockp, strerror(errno));
        pid_t pid = pause_alive(pidp);
        int r;
        if (!pid && (r = pause_create(pidp, &pid, err)) < 0)
                return r;
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d/ns/user", (int)pid);
        _cleanup_close_ int ufd = open(p, O_RDONLY | O_CLOEXEC);
        snprintf(p, sizeof(p), "/proc/%d/ns/mnt", (int)pid);
        _cleanup_close_ int mfd = open(p, O_RDONLY | O_CLOEXEC);
        if (ufd < 0 || mfd < 0)
                return kiln_err(err, -errno, "open %s: %s", p, strerror(errno));
        /* setns(CLONE_NEWNS) moves us to the namespace's root: keep our cwd */
        char cwd[PATH_MAX];
        bool have_cwd = getcwd(cwd, sizeof(cwd)) != NULL;
        _cleanup_close_ int cwdfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (setns(ufd, CLONE_NEWUSER) < 0)
                return kiln_err(err, -errno, "join the user namespace of %d: %s", (int)pid, strerror(errno));
        if (setns(mfd, CLONE_NEWNS) < 0)
                return kiln_err(err, -errno, "join the mount namespace of %d: %s", (int)pid, strerror(errno));
        if ((!have_cwd || chdir(cwd) < 0) && cwdfd >= 0 && fchdir(cwdfd) < 0) {
        }
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                return kiln_err(err, -errno, "become uid 0 in the user namespace: %s", strerror(errno));
        if (setgroups(0, NULL) < 0) {
                /* setgroups denied (no subgid range): keep the groups we have */
        }
        return 0;
}
