/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build -o/--output: parsing docker's -o values, and writing the
 * result as a directory (type=local), a tar of the filesystem (type=tar) or
 * an OCI image-layout tarball (type=oci). The executor hands over a mounted
 * view of the target stage's filesystem and the image's blobs; see
 * docs/internals/build.md ("Outputs").
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "kiln/build.h"
#include "kiln/container.h"
#include "kiln/dockerfile.h"
#include "kiln/fs.h"
#include "kiln/image.h"
#include "kiln/layer.h"
#include "kiln/reference.h"
#include "output.h"

void kiln_build_output_clear(struct kiln_build_output *o)
{
        if (!o)
                return;
        free(o->dest);
        free(o->name);
        *o = (struct kiln_build_output){ 0 };
}

int kiln_build_output_parse(const char *spec, struct kiln_build_output *ret, struct kiln_error *err)
{
        struct kiln_build_output o = { 0 };
        if (!*spec)
                return kiln_err(err, -EINVAL, "--output: empty value");
        /* docker's shorthands: "-" is a tar on stdout, a path is a directory */
        if (!strcmp(spec, "-")) {
                *ret = (struct kiln_build_output){ .type = KILN_BUILD_OUTPUT_TAR, .dest = kiln_xstrdup("-") };
                return 0;
        }
        if (!strchr(spec, '=') && !strchr(spec, ',')) {
                *ret = (struct kiln_build_output){ .type = KILN_BUILD_OUTPUT_LOCAL, .dest = kiln_xstrdup(spec) };
                return 0;
        }
        _cleanup_strv_free_ char **fields = NULL;
        int r = kiln_df_mount_fields(spec, '\\', NULL, NULL, &fields, err);
        if (r < 0)
                return kiln_err_prefix(err, r, "--output %s: ", spec);
        const char *type = NULL, *dest = NULL, *name = NULL;
        for (size_t i = 0; fields && fields[i]; i++) {
                char *f = fields[i], *eq = strchr(f, '=');
                if (!eq)
                        return kiln_err(err, -EINVAL, "--output %s: \"%s\": expected key=value", spec, f);
                *eq = 0;
                const char *v = eq + 1;
                if (!strcmp(f, "type"))
                        type = v;
                else if (!strcmp(f, "dest"))
                        dest = v;
                else if (!strcmp(f, "name"))
                        name = v;
                else
                        return kiln_err(err, -EINVAL, "--output %s: unknown key \"%s\" (kiln knows type, dest and, for oci, name)",
                                        spec, f);
        }
        if (!type)
                return kiln_err(err, -EINVAL, "--output %s: missing type= (local, tar or oci)", spec);
        if (!strcmp(type, "local"))
                o.type = KILN_BUILD_OUTPUT_LOCAL;
        else if (!strcmp(type, "tar"))
                o.type = KILN_BUILD_OUTPUT_TAR;
        else if (!strcmp(type, "oci"))
                o.type = KILN_BUILD_OUTPUT_OCI;
        else if (!strcmp(type, "docker") || !strcmp(type, "image") || !strcmp(type, "registry"))
                return kiln_err(err, -KILN_EUNSUPPORTED,
                                "--output type=%s is not supported: kiln writes local, tar and oci (use -t for the store)",
                                type);
        else
                return kiln_err(err, -EINVAL, "--output: unknown output type \"%s\" (expected local, tar or oci)", type);
        if (!dest || !*dest)
                return kiln_err(err, -EINVAL, "--output type=%s: missing dest=", type);
        if (o.type == KILN_BUILD_OUTPUT_LOCAL && !strcmp(dest, "-"))
                return kiln_err(err, -EINVAL, "--output type=local: dest=- is not a directory (use type=tar for standard output)");
        if (name && o.type != KILN_BUILD_OUTPUT_OCI)
                return kiln_err(err, -EINVAL, "--output type=%s: name= is only for type=oci", type);
        if (name) {
                _cleanup_(kiln_reference_freep) struct kiln_reference *ref = NULL;
                struct kiln_error e = { 0 };
                if (kiln_reference_parse(name, KILN_REF_DEFAULT_TAG | KILN_REF_NO_DIGEST, &ref, &e) < 0)
                        return kiln_err(err, -EINVAL, "--output name=%s: %s", name, e.msg);
        }
        o.dest = kiln_xstrdup(dest);
        o.name = name ? kiln_xstrdup(name) : NULL;
        *ret = o;
        return 0;
}

/* ---- type=local ---- */

int build_output_local(int rootfd, const char *dest, struct kiln_error *err)
{
        /* docker (BuildKit's client) writes the files as the calling user;
         * an existing directory is merged into */
        int r = kiln_fs_mkdir_p(AT_FDCWD, dest, 0755);
        if (r < 0)
                return kiln_err(err, r, "--output %s: %s", dest, kiln_strerror(r));
        _cleanup_close_ int dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return kiln_err(err, -errno, "--output %s: %s", dest, strerror(errno));
        struct stat sb;
        if (fstat(rootfd, &sb) < 0)
                return kiln_err(err, -errno, "--output: stat the result: %s", strerror(errno));
        struct kiln_copy_opts co = { .uid = getuid(), .gid = getgid() };
        r = kiln_copy_tree_at(rootfd, &sb, true, dfd, ".", &co, NULL, err);
        if (r < 0)
                return kiln_err_prefix(err, r, "--output %s: ", dest);
        return 0;
}

/* the destination of a tar: standard output or a new file (written to a
 * temporary name, renamed at the end) */
struct tar_dest {
        int fd;
        char *tmp;
        const char *path;
};

static int tar_dest_open(const char *dest, struct tar_dest *t, struct kiln_error *err)
{
        *t = (struct tar_dest){ .fd = -1, .path = dest };
        if (!strcmp(dest, "-")) {
                t->fd = STDOUT_FILENO;
                return 0;
        }
        t->tmp = kiln_xasprintf("%s.kiln-tmp-%d", dest, (int)getpid());
        t->fd = open(t->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (t->fd < 0) {
                int e = errno;
                free(t->tmp);
                t->tmp = NULL;
                return kiln_err(err, -e, "--output %s: %s", dest, strerror(e));
        }
        return 0;
}

static int tar_dest_close(struct tar_dest *t, int r, struct kiln_error *err)
{
        if (!t->tmp)
                return r;
        if (r >= 0 && fsync(t->fd) < 0)
                r = kiln_err(err, -errno, "--output %s: %s", t->path, strerror(errno));
        close(t->fd);
        if (r >= 0 && rename(t->tmp, t->path) < 0)
                r = kiln_err(err, -errno, "--output %s: %s", t->path, strerror(errno));
        if (r < 0)
                unlink(t->tmp);
        free(t->tmp);
        *t = (struct tar_dest){ .fd = -1 };
        return r;
}

/* ---- type=tar ---- */

int build_output_tar(int rootfd, const char *dest, int64_t source_date_epoch, struct kiln_error *err)
{
        struct tar_dest t;
        int r = tar_dest_open(dest, &t, err);
        if (r < 0)
                return r;
        struct kiln_layer_create_opts lo = KILN_LAYER_CREATE_OPTS_INIT;
        lo.compression = KILN_COMPRESSION_NONE;
        lo.source_date_epoch = source_date_epoch;
        struct kiln_layer_info info;
        r = kiln_layer_create_dir(rootfd, t.fd, &lo, &info, err);
        if (r < 0)
                kiln_err_prefix(err, r, "--output %s: ", dest);
        return tar_dest_close(&t, r, err);
}

/* ---- type=oci ---- */

static int ar_fail(struct archive *a, const char *dest, struct kiln_error *err)
{
        return kiln_err(err, -EIO, "--output %s: %s", dest, archive_error_string(a) ?: "write error");
}

static int ar_entry(struct archive *a, const char *name, mode_t type_mode, int64_t size, time_t mtime)
{
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_mode(e, type_mode);
        archive_entry_set_size(e, size);
        archive_entry_set_mtime(e, mtime, 0);
        int r = archive_write_header(a, e);
        archive_entry_free(e);
        return r == ARCHIVE_OK ? 0 : -EIO;
}

static int ar_buf(struct archive *a, const char *name, const void *data, size_t len, time_t mtime)
{
        if (ar_entry(a, name, AE_IFREG | 0644, (int64_t)len, mtime) < 0)
                return -EIO;
        if (len && archive_write_data(a, data, len) != (la_ssize_t)len)
                return -EIO;
        return 0;
}

/* a blob read with pread from offset 0 (a writer's temp file or a stored
 * blob), exactly size bytes */
static int ar_fd(struct archive *a, const char *name, int fd, int64_t size, time_t mtime)
{
        if (ar_entry(a, name, AE_IFREG | 0644, size, mtime) < 0)
                return -EIO;
        static const size_t bufsz = 1 << 20;
        _cleanup_free_ char *buf = kiln_xmalloc(bufsz);
        int64_t off = 0;
        while (off < size) {
                size_t want = (size_t)KILN_MIN((int64_t)bufsz, size - off);
                ssize_t n = pread(fd, buf, want, off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -KILN_ECORRUPT;
                if (archive_write_data(a, buf, (size_t)n) != n)
                        return -EIO;
                off += n;
        }
        return 0;
}

static void archive_write_freep(struct archive **a)
{
        if (*a)
                archive_write_free(*a);
}

int build_output_oci(const char *dest, const char *name, const struct build_output_image *img,
                     struct kiln_error *err)
{
        time_t mtime = (time_t)img->mtime;
        /* index.json: one manifest; the name (the first -t, or name=) as
         * BuildKit's oci exporter writes it */
        json_t *desc = json_pack("{s:s, s:s, s:I}", "mediaType", img->manifest_media_type, "digest",
                                 img->manifest_digest.str, "size", (json_int_t)img->manifest_len);
        if (name) {
                _cleanup_(kiln_reference_freep) struct kiln_reference *ref = NULL;
                if (kiln_reference_parse(name, KILN_REF_DEFAULT_TAG | KILN_REF_NO_DIGEST, &ref, NULL) >= 0) {
                        _cleanup_free_ char *full = kiln_reference_string(ref);
                        json_object_set_new(desc, "annotations",
                                            json_pack("{s:s, s:s}", "io.containerd.image.name", full,
                                                      "org.opencontainers.image.ref.name",
                                                      ref->tag ? ref->tag : "latest"));
                }
        }
        json_t *index = json_pack("{s:i, s:s, s:[o]}", "schemaVersion", 2, "mediaType", KILN_MT_OCI_INDEX,
                                  "manifests", desc);
        size_t ilen;
        _cleanup_free_ char *itext = kiln_json_dump(index, &ilen);
        json_decref(index);
        static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

        struct tar_dest t;
        int r = tar_dest_open(dest, &t, err);
        if (r < 0)
                return r;
        _cleanup_(archive_write_freep) struct archive *a = archive_write_new();
        if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK || archive_write_open_fd(a, t.fd) != ARCHIVE_OK) {
                r = ar_fail(a, dest, err);
                return tar_dest_close(&t, r, err);
        }
        bool ok = ar_buf(a, "oci-layout", layout, strlen(layout), mtime) == 0 &&
                  ar_buf(a, "index.json", itext, ilen, mtime) == 0 &&
                  ar_entry(a, "blobs", AE_IFDIR | 0755, 0, mtime) == 0 &&
                  ar_entry(a, "blobs/sha256", AE_IFDIR | 0755, 0, mtime) == 0;
        char path[128];
        if (ok) {
                snprintf(path, sizeof(path), "blobs/sha256/%s", img->manifest_digest.str + 7);
                ok = ar_buf(a, path, img->manifest, img->manifest_len, mtime) == 0;
        }
        if (ok) {
                snprintf(path, sizeof(path), "blobs/sha256/%s", img->config_digest.str + 7);
                ok = ar_buf(a, path, img->config, img->config_len, mtime) == 0;
        }
        for (size_t i = 0; ok && i < img->n_layers; i++) {
                const struct build_output_layer *l = &img->layers[i];
                bool seen = false; /* the same blob twice is written once */
                for (size_t j = 0; j < i; j++)
                        seen = seen || !strcmp(img->layers[j].digest.str, l->digest.str);
                if (seen)
                        continue;
                snprintf(path, sizeof(path), "blobs/sha256/%s", l->digest.str + 7);
                int wr = ar_fd(a, path, l->fd, l->size, mtime);
                if (wr == -KILN_ECORRUPT) {
                        r = kiln_err(err, wr, "--output %s: layer %s is shorter than its size", dest, l->digest.str);
                        return tar_dest_close(&t, r, err);
                }
                ok = wr == 0;
        }
        if (ok)
                ok = archive_write_close(a) == ARCHIVE_OK;
        r = ok ? 0 : ar_fail(a, dest, err);
        return tar_dest_close(&t, r, err);
}
