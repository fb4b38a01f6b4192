/* SPDX-License-Identifier: Apache-2.0 */
/* Named network namespaces: a new namespace kept alive by a bind mount of
 * its nsfs file (as `ip netns add`), for the bridge and pasta networks. */
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include "container-internal.h"
#include "kiln/fs.h"

void ctr_netns_remove(const char *path)
{
        umount2(path, MNT_DETACH);
        unlink(path);
}

int ctr_netns_create(const char *path, struct kiln_error *err)
{
        _cleanup_free_ char *dir = kiln_xstrdup(path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                int r = kiln_fs_mkdir_p(AT_FDCWD, dir, 0755);
                if (r < 0)
                        return kiln_err(err, r, "network: %s: %s", dir, kiln_strerror(r));
        }
        ctr_netns_remove(path); /* an earlier run's */
        int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
        if (fd < 0)
                return kiln_err(err, -errno, "network: %s: %s", path, strerror(errno));
        close(fd);
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return kiln_err(err, -errno, "pipe: %s", strerror(errno));
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(p[0]);
                close(p[1]);
                unlink(path);
                return kiln_err(err, -e, "fork: %s", strerror(e));
        }
        if (pid == 0) {
                int e = 0;
                if (unshare(CLONE_NEWNET) < 0)
                        e = errno;
                else if (mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) < 0)
                        e = errno;
                (void)!write(p[1], &e, sizeof(e));
                _exit(e ? 1 : 0);
        }
        close(p[1]);
        int e = EIO;
        if (read(p[0], &e, sizeof(e)) != sizeof(e))
                e = EIO;
        close(p[0]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        if (e) {
                unlink(path);
                return kiln_err(err, -e, "network: create network namespace %s: %s", path, strerror(e));
        }
        return 0;
}
