/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build: ADD of a local tar archive. Detection is by content (a valid
 * first tar header after gzip/bzip2/xz/zstd decoding), as Docker's builder
 * does; the extraction is kiln_layer_apply() in its plain-archive mode (no
 * whiteouts), rooted at the destination directory so that no entry can
 * leave it. See docs/internals/build.md ("Executor").
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "add.h"
#include "build-internal.h"
#include "kiln/fs.h"
#include "kiln/layer.h"

static int reopen_ro(int fd)
{
        char p[64];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        int r = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        return r < 0 ? -errno : r;
}

int build_add_archive(int sfd, int rootfd, const char *dest, bool set_owner, uid_t uid, gid_t gid,
                      struct kiln_error *err)
{
        struct stat st;
        if (fstat(sfd, &st) < 0)
                return kiln_err(err, -errno, "stat: %s", strerror(errno));
        if (!S_ISREG(st.st_mode) || st.st_size == 0)
                return 0;
        _cleanup_close_ int fd = reopen_ro(sfd);
        if (fd < 0)
                return kiln_err(err, fd, "open: %s", kiln_strerror(fd));
        int r = kiln_layer_is_tar_archive(fd, err);
        if (r <= 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return kiln_err(err, -errno, "seek: %s", strerror(errno));

        /* the destination directory, made with its parents; those it makes
         * are --chown's, as BuildKit's unpack (MkdirAll with the chowner) */
        _cleanup_close_ int dfd = -1;
        while (*dest == '/')
                dest++;
        if (!*dest) {
                dfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        } else {
                _cleanup_free_ char *abs = kiln_xasprintf("/%s", dest);
                r = build_mkdir_in_root(rootfd, abs, set_owner ? uid : 0, set_owner ? gid : 0);
                if (r < 0)
                        return kiln_err(err, r, "/%s: %s", dest, kiln_strerror(r));
                dfd = kiln_fs_open_in_root(rootfd, dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
                if (dfd < 0)
                        return kiln_err(err, dfd, "/%s: %s", dest, kiln_strerror(dfd));
        }
        if (dfd < 0)
                return kiln_err(err, -errno, "dup: %s", strerror(errno));
        struct kiln_layer_apply_opts ao = {
                .preserve_owner = true,
                .plain_archive = true,
                .force_owner = set_owner,
                .uid = uid,
                .gid = gid,
        };
        r = kiln_layer_apply(fd, dfd, &ao, NULL, err);
        return r < 0 ? r : 1;
}
