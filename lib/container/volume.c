/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Volumes: ROOT/volumes/<name>/_data with ROOT/volumes/<name>/volume.json
 * ({"Name","Driver":"local","Mountpoint","CreatedAt","Labels","Anonymous"}).
 * A volume's directory is created with mkdir, which is atomic, so two
 * processes creating the same name get one volume. A volume used for the
 * first time is filled from the image's content at its mount point, as
 * Docker does.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "container-internal.h"
#include "kiln/fs.h"
#include "kiln/layer.h"

static bool valid_volume_name(const char *n)
{
        /* docker: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
        if (!n || !n[0] || !n[1] || strlen(n) > 255)
                return false;
        for (const char *p = n; *p; p++) {
                bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                             (*p >= '0' && *p <= '9');
                if (!alnum && (p == n || (*p != '_' && *p != '.' && *p != '-')))
                        return false;
        }
        return true;
}

static char *volumes_dir(struct kiln_store *s)
{
        return kiln_xasprintf("%s/volumes", kiln_store_root(s));
}

static int read_meta(struct kiln_store *s, const char *name, json_t **ret, struct kiln_error *err)
{
        _cleanup_free_ char *vd = volumes_dir(s);
        _cleanup_free_ char *p = kiln_xasprintf("%s/%s/volume.json", vd, name);
        json_error_t je;
        json_t *j = json_load_file(p, 0, &je);
        if (!j) {
                struct stat st;
                _cleanup_free_ char *d = kiln_xasprintf("%s/%s", vd, name);
                if (stat(d, &st) < 0)
                        return kiln_err(err, -KILN_ENOTFOUND, "no such volume: %s", name);
                return kiln_err(err, -KILN_ECORRUPT, "volume %s: volume.json: %s", name, je.text);
        }
        *ret = j;
        return 0;
}

int kiln_volume_create(struct kiln_store *s, const char *name, char *const *labels, bool anonymous,
                       json_t **ret, struct kiln_error *err)
{
        char gen[65];
        if (!name) {
                unsigned char b[32];
                if (getrandom(b, sizeof(b), 0) != sizeof(b))
                        for (size_t i = 0; i < sizeof(b); i++)
                                b[i] = (unsigned char)random();
                for (size_t i = 0; i < 32; i++)
                        snprintf(gen + 2 * i, 3, "%02x", b[i]);
                name = gen;
        } else if (!valid_volume_name(name)) {
                return kiln_err(err, -EINVAL,
                                "invalid volume name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name);
        }
        _cleanup_free_ char *vd = volumes_dir(s);
        int r = kiln_fs_mkdir_p(AT_FDCWD, vd, 0700);
        if (r < 0)
                return kiln_err(err, r, "volumes: %s", kiln_strerror(r));
        _cleanup_free_ char *d = kiln_xasprintf("%s/%s", vd, name);
        if (mkdir(d, 0700) < 0) {
                if (errno == EEXIST) {
                        /* docker: creating an existing volume returns it */
                        json_t *j;
                        /* a racing creator may not have written volume.json yet */
                        for (int i = 0; i < 50; i++) {
                                if (read_meta(s, name, &j, NULL) == 0) {
                                        if (ret)
                                                *ret = j;
                                        else
                                                json_decref(j);
                                        return 0;
                                }
                                usleep(10000);
                        }
                        return read_meta(s, name, ret, err);
                }
                return kiln_err(err, -errno, "volume %s: %s", name, strerror(errno));
        }
        _cleanup_free_ char *data = kiln_xasprintf("%s/_data", d);
        if (mkdir(data, 0755) < 0) {
                r = kiln_err(err, -errno, "volume %s: %s", name, strerror(errno));
                kiln_fs_rm_rf_at(AT_FDCWD, d);
                return r;
        }
        char now[64];
        ctr_now_rfc3339(now, sizeof(now));
        json_t *j = json_object();
        json_object_set_new(j, "Name", json_string(name));
        json_object_set_new(j, "Driver", json_string("local"));
        json_object_set_new(j, "Mountpoint", json_string(data));
        json_object_set_new(j, "CreatedAt", json_string(now));
        json_t *l = json_object();
        for (size_t i = 0; labels && labels[i]; i++) {
                _cleanup_free_ char *kv = kiln_xstrdup(labels[i]);
                char *eq = strchr(kv, '=');
                if (eq)
                        *eq++ = 0;
                json_object_set_new(l, kv, json_string(eq ? eq : ""));
        }
        json_object_set_new(j, "Labels", l);
        json_object_set_new(j, "Scope", json_string("local"));
        json_object_set_new(j, "Anonymous", json_boolean(anonymous));
        size_t len;
        _cleanup_free_ char *text = kiln_json_dump(j, &len);
        _cleanup_close_ int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r = dfd < 0 ? -errno : kiln_fs_write_atomic(dfd, "volume.json", text, len, 0600);
        if (r < 0) {
                json_decref(j);
                kiln_fs_rm_rf_at(AT_FDCWD, d);
                return kiln_err(err, r, "volume %s: %s", name, kiln_strerror(r));
        }
        if (ret)
                *ret = j;
        else
                json_decref(j);
        return 0;
}

int kiln_volume_inspect(struct kiln_store *s, const char *name, json_t **ret, struct kiln_error *err)
{
        if (!valid_volume_name(name))
                return kiln_err(err, -KILN_ENOTFOUND, "no such volume: %s", name);
        return read_meta(s, name, ret, err);
}

int kiln_volume_list(struct kiln_store *s, json_t **ret, struct kiln_error *err)
{
        _cleanup_free_ char *vd = volumes_dir(s);
        json_t *arr = json_array();
        DIR *d = opendir(vd);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        json_t *j;
                        if (read_meta(s, de->d_name, &j, NULL) == 0)
                                json_array_append_new(arr, j);
                }
                closedir(d);
        }
        *ret = arr;
        return 0;
}

/* Names of the containers whose Mounts use this volume (caller frees). */
static char **users_of(struct kiln_store *s, const char *name)
{
        json_t *list;
        char **v = kiln_xcalloc(1, sizeof(char *));
        if (kiln_store_container_list(s, &list, NULL) < 0)
                return v;
        size_t i, k;
        json_t *c, *m;
        json_array_foreach(list, i, c) json_array_foreach(json_object_get(c, "Mounts"), k, m)
        {
                const char *t = json_string_value(json_object_get(m, "Type"));
                const char *nm = json_string_value(json_object_get(m, "Name"));
                if (t && nm && !strcmp(t, "volume") && !strcmp(nm, name)) {
                        kiln_strv_push(&v, json_string_value(json_object_get(c, "Name")));
                }
        }
        json_decref(list);
        return v;
}

int kiln_volume_remove(struct kiln_store *s, const char *name, bool force, struct kiln_error *err)
{
        json_t *j;
        int r = kiln_volume_inspect(s, name, &j, err);
        if (r < 0)
                return r;
        json_decref(j);
        _cleanup_strv_free_ char **users = users_of(s, name);
        if (users[0] && !force)
                return kiln_err(err, -KILN_EINUSE, "remove %s: volume is in use by container %s", name,
                                users[0]);
        _cleanup_free_ char *vd = volumes_dir(s);
        _cleanup_free_ char *d = kiln_xasprintf("%s/%s", vd, name);
        r = kiln_fs_rm_rf_at(AT_FDCWD, d);
        if (r < 0)
                return kiln_err(err, r, "remove volume %s: %s", name, kiln_strerror(r));
        return 0;
}

int kiln_volume_prune(struct kiln_store *s, bool all, char ***ret_removed, struct kiln_error *err)
{
        json_t *list;
        int r = kiln_volume_list(s, &list, err);
        if (r < 0)
                return r;
        char **removed = kiln_xcalloc(1, sizeof(char *));
        size_t n = 0;
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
                const char *name = json_string_value(json_object_get(v, "Name"));
                /* docker prunes anonymous volumes unless --all */
                if (!all && !json_is_true(json_object_get(v, "Anonymous")))
                        continue;
                _cleanup_strv_free_ char **users = users_of(s, name);
                if (users[0])
                        continue;
                if (kiln_volume_remove(s, name, false, NULL) == 0) {
                        kiln_strv_push(&removed, name);
                        n++;
                }
        }
        json_decref(list);
        if (ret_removed)
                *ret_removed = removed;
        else
                kiln_strv_free(removed);
        return (int)n;
}

/*
 * Fill an empty volume with the image's content at dest (inside rootfs),
 * the way docker does on a volume's first use: a tar of that directory is
 * streamed from a child process and applied into the volume.
 */
int ctr_volume_fill(const char *rootfs, const char *dest, const char *voldata, struct kiln_error *err)
{
        _cleanup_close_ int vfd = open(voldata, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (vfd < 0)
                return kiln_err(err, -errno, "volume %s: %s", voldata, strerror(errno));
        DIR *d = fdopendir(dup(vfd));
        bool empty = true;
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        empty = false;
        if (d)
                closedir(d);
        if (!empty)
                return 0;
        _cleanup_close_ int rfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                return kiln_err(err, -errno, "%s: %s", rootfs, strerror(errno));
        _cleanup_close_ int sfd = kiln_fs_open_in_root(rfd, dest, O_RDONLY | O_DIRECTORY, 0);
        if (sfd < 0)
                return 0; /* nothing there in the image: the volume starts empty */
        /* the directory's own owner and mode become the volume's */
        struct stat st;
        if (fstat(sfd, &st) == 0) {
                (void)!fchown(vfd, st.st_uid, st.st_gid);
                (void)!fchmod(vfd, st.st_mode & 07777);
        }
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return kiln_err(err, -errno, "pipe: %s", strerror(errno));
        pid_t pid = fork();
        if (pid < 0) {
                close(p[0]);
                close(p[1]);
                return kiln_err(err, -errno, "fork: %s", strerror(errno));
        }
        if (pid == 0) {
                close(p[0]);
                struct kiln_layer_create_opts lo = KILN_LAYER_CREATE_OPTS_INIT;
                lo.compression = KILN_COMPRESSION_NONE;
                struct kiln_layer_info info;
                int cr = kiln_layer_create_dir(sfd, p[1], &lo, &info, NULL);
                _exit(cr < 0 ? 1 : 0);
        }
        close(p[1]);
        struct kiln_layer_apply_opts ao = { .preserve_owner = geteuid() == 0 };
        struct kiln_layer_apply_info ai;
        int r = kiln_layer_apply(p[0], vfd, &ao, &ai, err);
        close(p[0]);
        int ws;
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
                ;
        if (r >= 0 && !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0))
                r = kiln_err(err, -EIO, "volume: copying %s from the image failed", dest);
        return r;
}
