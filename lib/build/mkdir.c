/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build: directories a step creates in the rootfs (WORKDIR, RUN's
 * missing working directory, ADD's archive destination), owned as BuildKit
 * makes them (its MkdirAll with a chowner): every directory the call
 * creates gets the owner, existing ones are left as they are.
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "kiln/fs.h"
#include "build-internal.h"

/* Create abs (and its missing parents) in the rootfs; the directories it
 * creates are owned by uid:gid. */
int build_mkdir_in_root(int rootfd, const char *abs, uid_t uid, gid_t gid)
{
        if (!strcmp(abs, "/"))
                return 0;
        /* the first missing component: from there on, the directories are new */
        _cleanup_free_ char *prefix = kiln_xstrdup(abs + 1);
        size_t first_new = SIZE_MAX;
        for (char *p = prefix;; p++) {
                if (*p != '/' && *p)
                        continue;
                char c = *p;
                *p = 0;
                _cleanup_close_ int fd = kiln_fs_open_in_root(rootfd, prefix, O_PATH | O_CLOEXEC, 0);
                *p = c;
                if (fd < 0) {
                        first_new = (size_t)(p - prefix);
                        break;
                }
                if (!c)
                        break;
        }
        if (first_new == SIZE_MAX)
                return 0;
        _cleanup_free_ char *px = kiln_xasprintf("%s/x", abs + 1);
        const char *base;
        int fd = kiln_fs_open_parent_in_root(rootfd, px, true, &base);
        if (fd < 0)
                return fd;
        close(fd);
        if (uid == 0 && gid == 0)
                return 0;
        /* chown the new ones: every prefix that ends at or after first_new */
        for (char *p = prefix;; p++) {
                if (*p != '/' && *p)
                        continue;
                char c = *p;
                if ((size_t)(p - prefix) >= first_new) {
                        *p = 0;
                        _cleanup_close_ int dfd = kiln_fs_open_in_root(rootfd, prefix, O_PATH | O_CLOEXEC, 0);
                        *p = c;
                        if (dfd < 0 || fchownat(dfd, "", uid, gid, AT_EMPTY_PATH) < 0)
                                return -errno;
                }
                if (!c)
                        break;
        }
        return 0;
}
