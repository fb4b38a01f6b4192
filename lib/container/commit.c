/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container's changes: commit (its upper dir becomes a new image layer),
 * diff (A/C/D list of changed paths) and export (its whole filesystem as a
 * tar).
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include "container-internal.h"
#include "kiln/fs.h"
#include "kiln/image.h"
#include "kiln/layer.h"

static const char *gd_data(json_t *doc, const char *key)
{
        return json_string_value(json_object_get(json_object_get(json_object_get(doc, "GraphDriver"), "Data"),
                                                 key));
}

static bool is_vfs(json_t *doc)
{
        const char *d = json_string_value(json_object_get(json_object_get(doc, "GraphDriver"), "Name"));
        return d && !strcmp(d, "vfs");
}

int kiln_container_commit_config(struct kiln_store *s, const char *what, json_t **ret,
                                 struct kiln_error *err)
{
        json_t *doc;
        int r = kiln_store_container_get(s, what, NULL, &doc, err);
        if (r < 0)
                return r;
        _cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
        _cleanup_(kiln_config_freep) struct kiln_config *cfg = NULL;
        r = kiln_store_image_lookup(s, json_string_value(json_object_get(doc, "ImageManifest")), &img, err);
        if (r >= 0)
                r = kiln_store_image_load(s, img, NULL, &cfg, err);
        if (r < 0) {
                json_decref(doc);
                return r;
        }
        /* the image's config, overridden by what the container was run with */
        json_t *c = cfg->config ? json_deep_copy(cfg->config) : json_object();
        json_t *cc = json_object_get(doc, "Config");
        json_t *ro = json_object_get(doc, "RunOpts");
        json_object_set(c, "Env", json_object_get(cc, "Env"));
        if (json_object_get(ro, "Cmd"))
                json_object_set(c, "Cmd", json_object_get(ro, "Cmd"));
        if (json_object_get(ro, "Entrypoint")) {
                json_object_set(c, "Entrypoint", json_object_get(ro, "Entrypoint"));
                if (!json_object_get(ro, "Cmd"))
                        json_object_del(c, "Cmd");
        }
        if (json_object_get(ro, "WorkingDir"))
                json_object_set(c, "WorkingDir", json_object_get(ro, "WorkingDir"));
        if (json_object_get(ro, "User"))
                json_object_set(c, "User", json_object_get(ro, "User"));
        json_t *labels = json_object_get(cc, "Labels");
        if (json_is_object(labels) && json_object_size(labels))
                json_object_set(c, "Labels", labels);
        /* the spec's defaults (HOSTNAME, HOME, TERM) are not the image's */
        json_t *env = json_object_get(c, "Env");
        for (size_t i = json_array_size(env); i-- > 0;) {
                const char *e = json_string_value(json_array_get(env, i));
                if (e && (kiln_startswith(e, "HOSTNAME=") || kiln_startswith(e, "TERM=")))
                        json_array_remove(env, i);
        }
        json_decref(doc);
        *ret = c;
        return 0;
}

int kiln_container_commit(struct kiln_store *s, const char *what, json_t *config,
                          const char *message, const char *author, const char *const *names,
                          size_t n_names, char **ret_id, struct kiln_error *err)
{
        json_t *doc;
        _cleanup_free_ char *craw = NULL, *mraw = NULL;
        int r = kiln_store_container_get(s, what, NULL, &doc, err);
        if (r < 0)
                return r;
        _cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
        _cleanup_(kiln_config_freep) struct kiln_config *cfg = NULL;
        r = kiln_store_image_lookup(s, json_string_value(json_object_get(doc, "ImageManifest")), &img, err);
        if (r >= 0)
                r = kiln_store_image_load(s, img, &m, &cfg, err);
        if (r < 0)
                goto out;

        /* the layer: the overlay upper dir, or the difference of the copy */
        struct kiln_blob_writer *w;
        r = kiln_blob_writer_new(s, &w, err);
        if (r < 0)
                goto out;
        struct kiln_layer_create_opts lo = KILN_LAYER_CREATE_OPTS_INIT;
        struct kiln_layer_info info;
        if (is_vfs(doc)) {
                /* a private copy: compare with the image unpacked afresh */
                char tmpl[] = "/tmp/kiln-commit-XXXXXX";
                if (!mkdtemp(tmpl)) {
                        kiln_blob_writer_abort(w);
                        r = kiln_err(err, -errno, "commit: %s", strerror(errno));
                        goto out;
                }
                _cleanup_close_ int lfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                struct kiln_layer_apply_opts ao = { .preserve_owner = geteuid() == 0 };
                for (size_t i = 0; r >= 0 && i < m->n_layers; i++) {
                        _cleanup_close_ int fd = -1;
                        struct kiln_layer_apply_info ai;
                        r = kiln_store_blob_open(s, &m->layers[i].digest, &fd, NULL, err);
                        if (r >= 0)
                                r = kiln_layer_apply(fd, lfd, &ao, &ai, err);
                }
                _cleanup_close_ int ufd = open(gd_data(doc, "MergedDir"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (r >= 0)
                        r = kiln_layer_create_diff(lfd, ufd, 0, kiln_blob_writer_fd(w), &lo, &info, err);
                kiln_fs_rm_rf_at(AT_FDCWD, tmpl);
        } else {
                /* the image's view (its layers stacked, read-only) tells the diff
                 * which whiteouts hide something and what is new */
                const char *lower = gd_data(doc, "LowerDir");
                char tmpl[] = "/tmp/kiln-commit-lower-XXXXXX";
                bool mounted = false;
                _cleanup_close_ int lfd = -1;
                if (lower && strchr(lower, ':')) {
                        if (!mkdtemp(tmpl)) {
                                r = kiln_err(err, -errno, "commit: %s", strerror(errno));
                        } else {
                                _cleanup_free_ char *data = kiln_xasprintf("lowerdir=%s", lower);
                                if (mount("overlay", tmpl, "overlay", MS_RDONLY, data) < 0)
                                        r = kiln_err(err, -errno, "commit: mount the image's layers: %s",
                                                     strerror(errno));
                                else
                                        mounted = true;
                        }
                        if (r >= 0)
                                lfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                } else if (lower) {
                        lfd = open(lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                }
                _cleanup_close_ int ufd = open(gd_data(doc, "UpperDir"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (r >= 0 && ufd < 0)
                        r = kiln_err(err, -errno, "commit: upper dir: %s", strerror(errno));
                if (r >= 0)
                        r = kiln_layer_create_diff(lfd, ufd, KILN_DIFF_OVERLAY, kiln_blob_writer_fd(w), &lo,
                                                   &info, err);
                if (lfd >= 0) {
                        close(lfd);
                        lfd = -1;
                }
                if (mounted)
                        umount2(tmpl, MNT_DETACH);
                if (mounted || (lower && strchr(lower, ':')))
                        rmdir(tmpl);
        }
        if (r < 0) {
                kiln_blob_writer_abort(w);
                goto out;
        }
        r = kiln_blob_writer_commit_known(w, &info.digest, err);
        if (r >= 0)
                r = kiln_store_layer_record(s, &info.digest, &info.diff_id, info.uncompressed_size, err);
        if (r < 0)
                goto out;

        /* the config: the base's, with the new config object, layer and history */
        json_t *nc = json_deep_copy(cfg->json);
        char created[64];
        ctr_now_rfc3339(created, sizeof(created));
        json_object_set_new(nc, "created", json_string(created));
        if (author)
                json_object_set_new(nc, "author", json_string(author));
        json_object_set(nc, "config", config);
        json_t *rootfs = json_object_get(nc, "rootfs");
        if (!json_is_object(rootfs)) {
                rootfs = json_object();
                json_object_set_new(rootfs, "type", json_string("layers"));
                json_object_set_new(nc, "rootfs", rootfs);
        }
        json_t *diffs = json_object_get(rootfs, "diff_ids");
        if (!json_is_array(diffs)) {
                diffs = json_array();
                json_object_set_new(rootfs, "diff_ids", diffs);
        }
        json_array_append_new(diffs, json_string(info.diff_id.str));
        json_t *hist = json_object_get(nc, "history");
        if (!json_is_array(hist)) {
                hist = json_array();
                json_object_set_new(nc, "history", hist);
        }
        json_t *h = json_object();
        json_object_set_new(h, "created", json_string(created));
        struct kiln_buf by = KILN_BUF_INIT;
        kiln_buf_puts(&by, json_string_value(json_object_get(doc, "Path")) ?: "");
        size_t k;
        json_t *a;
        json_array_foreach(json_object_get(doc, "Args"), k, a) kiln_buf_printf(&by, " %s", json_string_value(a));
        json_object_set_new(h, "created_by", json_string(by.data ? by.data : ""));
        kiln_buf_free(&by);
        if (author)
                json_object_set_new(h, "author", json_string(author));
        if (message)
                json_object_set_new(h, "comment", json_string(message));
        json_array_append_new(hist, h);
        size_t clen;
        craw = kiln_json_dump(nc, &clen);
        json_decref(nc);
        struct kiln_descriptor cdesc = { .media_type = (char *)KILN_MT_OCI_CONFIG, .size = (int64_t)clen };
        r = kiln_store_blob_put(s, craw, clen, &cdesc.digest, err);
        if (r < 0)
                goto out;
        struct kiln_descriptor *layers = kiln_xcalloc(m->n_layers + 1, sizeof(*layers));
        for (size_t i = 0; i < m->n_layers; i++)
                layers[i] = m->layers[i]; /* shallow: the manifest owns them */
        layers[m->n_layers] = (struct kiln_descriptor){
                .media_type = (char *)kiln_compression_media_type(info.compression),
                .digest = info.digest,
                .size = info.size,
        };
        size_t mlen;
        r = kiln_manifest_build(&cdesc, layers, m->n_layers + 1, NULL, &mraw, &mlen);
        free(layers);
        if (r < 0) {
                kiln_err(err, r, "commit: build manifest: %s", kiln_strerror(r));
                goto out;
        }
        struct kiln_digest md;
        r = kiln_store_blob_put(s, mraw, mlen, &md, err);
        if (r >= 0)
                r = kiln_store_image_add(s, &md, names, n_names, NULL, err);
        if (r >= 0 && ret_id)
                *ret_id = kiln_xstrdup(cdesc.digest.str);
out:
        json_decref(doc);
        return r;
}

/* ---- diff ---- */

/* overlayfs marks a deleted path with a 0/0 character device */
static bool is_whiteout(const struct stat *st)
{
        return S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0;
}

/* Does path exist in any lower dir? */
static bool in_lower(char **lowers, const char *path)
{
        for (size_t i = 0; lowers[i]; i++) {
                _cleanup_close_ int fd = open(lowers[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                struct stat st;
                if (fstatat(fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
                        return !(S_ISCHR(st.st_mode) && st.st_rdev == 0);
        }
        return false;
}

static void walk_upper(int dfd, const char *rel, char **lowers, json_t *out)
{
        DIR *d = fdopendir(dup(dfd));
        if (!d)
                return;
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                names = kiln_xrealloc(names, (n + 1) * sizeof(char *));
                names[n++] = kiln_xstrdup(de->d_name);
        }
        closedir(d);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = kiln_xasprintf("%s/%s", rel, names[i]);
                struct stat st;
                if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        goto next;
                json_t *e = json_object();
                json_object_set_new(e, "Path", json_string(path));
                if (is_whiteout(&st)) {
                        json_object_set_new(e, "Kind", json_integer(2));
                        json_array_append_new(out, e);
                        goto next;
                }
                bool existed = in_lower(lowers, path + 1);
                json_object_set_new(e, "Kind", json_integer(existed ? 0 : 1));
                json_array_append_new(out, e);
                if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0) {
                                walk_upper(sub, path, lowers, out);
                                close(sub);
                        }
                }
next:
                free(names[i]);
        }
        free(names);
}

int kiln_container_diff(struct kiln_store *s, const char *what, json_t **ret, struct kiln_error *err)
{
        json_t *doc;
        int r = kiln_store_container_get(s, what, NULL, &doc, err);
        if (r < 0)
                return r;
        if (is_vfs(doc)) {
                json_decref(doc);
                return kiln_err(err, -KILN_EUNSUPPORTED,
                                "diff: container %s has a private copy, not an overlay; diff is not supported for it yet",
                                what);
        }
        const char *upper = gd_data(doc, "UpperDir");
        _cleanup_free_ char *lowerstr = kiln_xstrdup(gd_data(doc, "LowerDir") ?: "");
        char **lowers = kiln_xcalloc(strlen(lowerstr) + 2, sizeof(char *));
        size_t nl = 0;
        char *save = NULL;
        for (char *p = strtok_r(lowerstr, ":", &save); p; p = strtok_r(NULL, ":", &save))
                lowers[nl++] = p;
        _cleanup_close_ int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ufd < 0) {
                free(lowers);
                json_decref(doc);
                return kiln_err(err, -errno, "diff: %s: %s", upper, strerror(errno));
        }
        json_t *out = json_array();
        walk_upper(ufd, "", lowers, out);
        free(lowers);
        json_decref(doc);
        *ret = out;
        return 0;
}

int kiln_container_export(struct kiln_store *s, const char *what, int out_fd, struct kiln_error *err)
{
        json_t *doc;
        int r = kiln_store_container_get(s, what, NULL, &doc, err);
        if (r < 0)
                return r;
        r = ctr_mount_rootfs(s, doc, err);
        if (r < 0) {
                json_decref(doc);
                return r;
        }
        bool running = json_is_true(json_object_get(json_object_get(doc, "State"), "Running"));
        _cleanup_close_ int rfd = open(gd_data(doc, "MergedDir"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct kiln_layer_create_opts lo = KILN_LAYER_CREATE_OPTS_INIT;
        lo.compression = KILN_COMPRESSION_NONE;
        struct kiln_layer_info info;
        r = rfd < 0 ? kiln_err(err, -errno, "export: %s", strerror(errno))
                    : kiln_layer_create_dir(rfd, out_fd, &lo, &info, err);
        if (!running)
                ctr_unmount_rootfs(doc);
        json_decref(doc);
        return r;
}
