/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --userns / --uidmap: a container in its own user namespace over the
 * shared, unmapped layers, without copying or chowning them. Each layer and
 * the container's upper/work directories become idmapped mounts (the
 * container's maps), and the overlay is made over those:
 *
 *   open_tree(CLONE) + mount_setattr(MOUNT_ATTR_IDMAP, userns fd) per layer
 *   fsopen("overlay"), fsconfig(SET_FD) lowerdir+ ..., upperdir, workdir
 *   fsconfig(CMD_CREATE) with fsuid/fsgid = the container root's host ids
 *   fsmount + move_mount onto the rootfs directory
 *
 * CMD_CREATE runs with the container root's ids because overlayfs does its
 * own work (the work dir, copy-ups, whiteouts) with the credentials of who
 * created it, and host root has no mapping through the idmapped upper: the
 * kernel would make the overlay read-only. The upper directory keeps the
 * unmapped ids, so diff, commit and export see what root-run containers
 * give. Layers go to overlayfs by fd (lowerdir+, Linux 6.13) or, before
 * that, as /proc/self/fd paths to the same detached mounts.
 */
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <linux/securebits.h>
#include "container-internal.h"
#include "kiln/fs.h"

int kiln_id_map_parse(const char *s, struct kiln_id_map *out)
{
        unsigned long v[3];
        const char *p = s;
        for (int i = 0; i < 3; i++) {
                char *end;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                v[i] = strtoul(p, &end, 10);
                if (v[i] > UINT32_MAX || (i < 2 && *end != ':') || (i == 2 && *end))
                        return -EINVAL;
                p = end + 1;
        }
        if (!v[2] || v[0] + v[2] > (unsigned long)UINT32_MAX + 1 || v[1] + v[2] > (unsigned long)UINT32_MAX + 1)
                return -EINVAL;
        out->container_id = (uint32_t)v[0];
        out->host_id = (uint32_t)v[1];
        out->size = (uint32_t)v[2];
        return 0;
}

json_t *ctr_id_maps_json(const struct kiln_id_map *m, size_t n)
{
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_sprintf("%u:%u:%u", (unsigned)m[i].container_id,
                                                      (unsigned)m[i].host_id, (unsigned)m[i].size));
        return a;
}

size_t ctr_id_maps_from_json(json_t *a, struct kiln_id_map **ret)
{
        size_t n = 0;
        struct kiln_id_map *m = kiln_xcalloc(json_array_size(a) + 1, sizeof(*m));
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v)
        {
                if (json_is_string(v) && kiln_id_map_parse(json_string_value(v), &m[n]) == 0)
                        n++;
        }
        *ret = m;
        return n;
}

static int write_map(pid_t pid, const char *file, const struct kiln_id_map *m, size_t n)
{
        struct kiln_buf b = KILN_BUF_INIT;
        for (size_t i = 0; i < n; i++)
                kiln_buf_printf(&b, "%u %u %u\n", (unsigned)m[i].container_id, (unsigned)m[i].host_id,
                                (unsigned)m[i].size);
        char p[64];
        snprintf(p, sizeof(p), "/proc/%d/%s", (int)pid, file);
        int r = kiln_fs_write_existing(p, b.data, b.len);
        kiln_buf_free(&b);
        return r;
}

/* A user namespace with these maps, as an fd (made by a child that waits). */
static int userns_fd(const struct kiln_id_map *um, size_t nu, const struct kiln_id_map *gm, size_t ng,
                     struct kiln_error *err)
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
        pid_t pid = fork();
        if (pid == 0) {
                close(up[0]);
                close(down[1]);
                char c = unshare(CLONE_NEWUSER) < 0 ? 1 : 0;
                (void)!write(up[1], &c, 1);
                (void)!read(down[0], &c, 1);
                _exit(0);
        }
        close(up[1]);
        close(down[0]);
        char c = 1;
        int r;
        if (pid < 0 || read(up[0], &c, 1) != 1 || c)
                r = kiln_err(err, -EPERM, "user namespace: cannot make one");
        else if ((r = write_map(pid, "uid_map", um, nu)) < 0 || (r = write_map(pid, "gid_map", gm, ng)) < 0)
                r = kiln_err(err, r, "user namespace: write the id maps: %s", kiln_strerror(r));
        else {
                char p[64];
                snprintf(p, sizeof(p), "/proc/%d/ns/user", (int)pid);
                r = open(p, O_RDONLY | O_CLOEXEC);
                if (r < 0)
                        r = kiln_err(err, -errno, "open %s: %s", p, strerror(errno));
        }
        close(up[0]);
        close(down[1]);
        if (pid > 0)
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        return r;
}

static int idmapped_clone(const char *path, int nsfd, struct kiln_error *err)
{
        int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (fd < 0)
                return kiln_err(err, -errno, "idmapped mount of %s: open_tree: %s", path, strerror(errno));
        struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)nsfd };
        if (mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0) {
                int e = errno;
                close(fd);
                return kiln_err(err, -e, "idmapped mount of %s: %s%s", path, strerror(e),
                                e == EINVAL ? " (the filesystem does not support idmapped mounts)" : "");
        }
        return fd;
}

static uint32_t host_of_root(const struct kiln_id_map *m, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (m[i].container_id == 0)
                        return m[i].host_id;
        return 65534;
}

int ctr_mount_idmapped_overlay(const char *lower, const char *upper, const char *work, const char *merged,
                               const struct kiln_id_map *um, size_t nu, const struct kiln_id_map *gm,
                               size_t ng, struct kiln_error *err)
{
        if (kiln_in_userns())
                return kiln_err(err, -EPERM, "--userns and --uidmap are not supported for rootless containers");
        int r = 0, nsfd = -1, rwfd = -1, upfd = -1, wkfd = -1, fsfd = -1, mfd = -1;
        int *lfds = NULL;
        size_t nl = 0;
        _cleanup_free_ char *updir = kiln_xstrdup(upper), *wkdir = kiln_xstrdup(work);
        char *s1 = strrchr(updir, '/'), *s2 = strrchr(wkdir, '/');
        if (!s1 || !s2)
                return kiln_err(err, -EINVAL, "idmapped overlay: upper and work must be absolute");
        *s1 = *s2 = 0;
        if (strcmp(updir, wkdir))
                return kiln_err(err, -EINVAL, "idmapped overlay: upper and work must share a directory");
        if ((nsfd = userns_fd(um, nu, gm, ng, err)) < 0)
                return nsfd;
        /* the layers, top first as in lowerdir= */
        _cleanup_free_ char *lw = kiln_xstrdup(lower);
        for (char *p = lw, *save = NULL, *t; (t = strtok_r(p, ":", &save)); p = NULL)
                nl++;
        lfds = kiln_xcalloc(nl + 1, sizeof(int));
        for (size_t i = 0; i < nl; i++)
                lfds[i] = -1;
        free(lw);
        lw = kiln_xstrdup(lower);
        size_t k = 0;
        for (char *p = lw, *save = NULL, *t; (t = strtok_r(p, ":", &save)); p = NULL) {
                if ((lfds[k] = idmapped_clone(t, nsfd, err)) < 0) {
                        r = lfds[k];
                        goto out;
                }
                k++;
        }
        if ((rwfd = idmapped_clone(updir, nsfd, err)) < 0) {
                r = rwfd;
                goto out;
        }
        upfd = openat(rwfd, s1 + 1, O_PATH | O_DIRECTORY | O_CLOEXEC);
        wkfd = openat(rwfd, s2 + 1, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (upfd < 0 || wkfd < 0) {
                r = kiln_err(err, -errno, "idmapped overlay: %s: %s", upper, strerror(errno));
                goto out;
        }
        fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fsfd < 0) {
                r = kiln_err(err, -errno, "idmapped overlay: fsopen: %s", strerror(errno));
                goto out;
        }
        /* layers by fd (Linux 6.13); before that, by /proc/self/fd paths,
         * which reach the same detached mounts */
        bool by_fd = fsconfig(fsfd, FSCONFIG_SET_FD, "lowerdir+", NULL, lfds[0]) == 0;
        if (by_fd) {
                for (size_t i = 1; i < nl; i++)
                        if (fsconfig(fsfd, FSCONFIG_SET_FD, "lowerdir+", NULL, lfds[i]) < 0) {
                                r = kiln_err(err, -errno, "idmapped overlay: lowerdir+: %s", strerror(errno));
                                goto out;
                        }
                if (fsconfig(fsfd, FSCONFIG_SET_FD, "upperdir", NULL, upfd) < 0 ||
                    fsconfig(fsfd, FSCONFIG_SET_FD, "workdir", NULL, wkfd) < 0) {
                        r = kiln_err(err, -errno, "idmapped overlay: upperdir/workdir: %s", strerror(errno));
                        goto out;
                }
        } else {
                struct kiln_buf lb = KILN_BUF_INIT;
                for (size_t i = 0; i < nl; i++)
                        kiln_buf_printf(&lb, "%s/proc/self/fd/%d", i ? ":" : "", lfds[i]);
                char up[64], wk[64];
                snprintf(up, sizeof(up), "/proc/self/fd/%d", upfd);
                snprintf(wk, sizeof(wk), "/proc/self/fd/%d", wkfd);
                int fr = fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir", lb.data, 0);
                kiln_buf_free(&lb);
                if (fr < 0 || fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", up, 0) < 0 ||
                    fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", wk, 0) < 0) {
                        r = kiln_err(err, -errno, "idmapped overlay: layers: %s", strerror(errno));
                        goto out;
                }
        }
        /* created as the container's root (see above), in a child so that
         * our own credentials never change */
        uint32_t hu = host_of_root(um, nu), hg = host_of_root(gm, ng);
        pid_t pid = fork();
        if (pid == 0) {
                if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP) < 0)
                        _exit(200);
                setfsgid(hg);
                setfsuid(hu);
                _exit(fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ? (errno & 0xff) : 0);
        }
        int ws = 0;
        if (pid < 0 || waitpid(pid, &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws)) {
                int e = pid < 0 ? errno : WIFEXITED(ws) ? WEXITSTATUS(ws) : EIO;
                r = kiln_err(err, -(e == 200 ? EPERM : e), "idmapped overlay: create: %s",
                             strerror(e == 200 ? EPERM : e));
                goto out;
        }
        mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
        if (mfd < 0 || move_mount(mfd, "", AT_FDCWD, merged, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
                r = kiln_err(err, -errno, "idmapped overlay: mount on %s: %s", merged, strerror(errno));
                goto out;
        }
        /* the kernel makes an overlay it cannot write to read-only, silently */
        struct statvfs sv;
        if (statvfs(merged, &sv) == 0 && (sv.f_flag & ST_RDONLY)) {
                umount2(merged, MNT_DETACH);
                r = kiln_err(err, -EROFS, "idmapped overlay on %s came out read-only", merged);
        }
out:
        for (size_t i = 0; i < nl; i++)
                if (lfds[i] >= 0)
                        close(lfds[i]);
        free(lfds);
        int fds[] = { nsfd, rwfd, upfd, wkfd, fsfd, mfd };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(fds); i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        return r;
}

bool ctr_root_host_ids(json_t *doc, uid_t *ret_uid, gid_t *ret_gid)
{
        json_t *idm = json_object_get(json_object_get(doc, "HostConfig"), "IDMappings");
        _cleanup_free_ struct kiln_id_map *um = NULL, *gm = NULL;
        size_t nu = ctr_id_maps_from_json(json_object_get(idm, "UidMap"), &um);
        size_t ng = ctr_id_maps_from_json(json_object_get(idm, "GidMap"), &gm);
        if (!nu)
                return false;
        *ret_uid = host_of_root(um, nu);
        *ret_gid = ng ? host_of_root(gm, ng) : *ret_uid;
        return true;
}

int ctr_as_container_root(json_t *doc, int (*fn)(void *arg, int64_t *out, struct kiln_error *err), void *arg,
                          int64_t *out, struct kiln_error *err)
{
        uid_t hu;
        gid_t hg;
        if (!ctr_root_host_ids(doc, &hu, &hg))
                return fn(arg, out, err);
        struct result {
                int r;
                int64_t out;
                char msg[KILN_ERROR_MAX];
        } res = { .r = -EIO };
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return kiln_err(err, -errno, "pipe: %s", strerror(errno));
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
                close(p[0]);
                struct kiln_error e = { 0 };
                struct result cr = { .r = -EPERM };
                if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP) == 0) {
                        setfsgid(hg);
                        setfsuid(hu);
                        cr.r = fn(arg, &cr.out, &e);
                        memcpy(cr.msg, e.msg, sizeof(cr.msg));
                } else {
                        snprintf(cr.msg, sizeof(cr.msg), "securebits: %s", strerror(errno));
                }
                (void)!write(p[1], &cr, sizeof(cr));
                _exit(0);
        }
        int e = errno;
        close(p[1]);
        if (pid < 0) {
                close(p[0]);
                return kiln_err(err, -e, "fork: %s", strerror(e));
        }
        size_t got = 0;
        ssize_t n;
        while (got < sizeof(res) && (n = read(p[0], (char *)&res + got, sizeof(res) - got)) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                got += (size_t)n;
        }
        close(p[0]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        if (got != sizeof(res))
                return kiln_err(err, -EIO, "the copy process died");
        if (res.r < 0) {
                res.msg[sizeof(res.msg) - 1] = 0;
                return kiln_err(err, res.r, "%s", res.msg[0] ? res.msg : kiln_strerror(res.r));
        }
        if (out)
                *out = res.out;
        return res.r;
}
