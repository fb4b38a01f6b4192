/* Unit tests for lib/store: blobs, images, tags, removal, gc, fsck, layers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include "kiln/fs.h"
#include "kiln/image.h"
#include "kiln/layer.h"
#include "kiln/store.h"

struct fixture {
        char root[64];
        struct kiln_store *s;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        strcpy(f->root, "/tmp/kiln-store-test-XXXXXX");
        if (!mkdtemp(f->root))
                return -1;
        struct kiln_error err = { 0 };
        if (kiln_store_open(f->root, 0, &f->s, &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return -1;
        }
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        kiln_store_close(f->s);
        kiln_fs_rm_rf_at(AT_FDCWD, f->root);
        free(f);
        return 0;
}

static int count_files(const char *root, const char *sub)
{
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "find %s/%s -type f | wc -l", root, sub);
        FILE *p = popen(cmd, "r");
        int n = -1;
        if (p) {
                if (fscanf(p, "%d", &n) != 1)
                        n = -1;
                pclose(p);
        }
        return n;
}

/* Make an image with one layer holding a file with `content`; returns the
 * manifest digest. */
static void make_image(struct fixture *f, const char *content, const char *name,
                       struct kiln_digest *ret_manifest, struct kiln_digest *ret_config)
{
        struct kiln_error err = { 0 };
        char dir[] = "/tmp/kiln-store-src-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[128];
        snprintf(path, sizeof(path), "%s/file", dir);
        FILE *fp = fopen(path, "w");
        fputs(content, fp);
        fclose(fp);
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct kiln_blob_writer *w;
        assert_int_equal(kiln_blob_writer_new(f->s, &w, &err), 0);
        struct kiln_layer_create_opts opts = KILN_LAYER_CREATE_OPTS_INIT;
        opts.source_date_epoch = 0;
        struct kiln_layer_info info;
        assert_int_equal(kiln_layer_create_dir(dfd, kiln_blob_writer_fd(w), &opts, &info, &err), 0);
        close(dfd);
        kiln_fs_rm_rf_at(AT_FDCWD, dir);
        struct kiln_digest got;
        int64_t size;
        assert_int_equal(kiln_blob_writer_commit(w, &info.digest, &got, &size, &err), 0);
        assert_true(kiln_digest_equal(&got, &info.digest));
        assert_int_equal(size, info.size);
        assert_int_equal(kiln_store_layer_record(f->s, &info.digest, &info.diff_id,
                                                 info.uncompressed_size, &err), 0);
        char *cfg = kiln_xasprintf("{\"created\":\"2024-01-02T03:04:05Z\",\"architecture\":\"amd64\","
                                   "\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\","
                                   "\"diff_ids\":[\"%s\"]},\"history\":[{\"created_by\":\"test %s\"}]}",
                                   info.diff_id.str, content);
        struct kiln_descriptor cd = { .media_type = (char *)KILN_MT_OCI_CONFIG,
                                      .size = (int64_t)strlen(cfg) };
        assert_int_equal(kiln_store_blob_put(f->s, cfg, strlen(cfg), &cd.digest, &err), 0);
        free(cfg);
        struct kiln_descriptor ld = { .media_type = (char *)KILN_MT_OCI_LAYER_GZIP,
                                      .digest = info.digest, .size = info.size };
        char *m;
        size_t mlen;
        assert_int_equal(kiln_manifest_build(&cd, &ld, 1, NULL, &m, &mlen), 0);
        struct kiln_digest md;
        assert_int_equal(kiln_store_blob_put(f->s, m, mlen, &md, &err), 0);
        free(m);
        const char *names[] = { name };
        struct kiln_image *img = NULL;
        assert_int_equal(kiln_store_image_add(f->s, &md, names, name ? 1 : 0, &img, &err), 0);
        assert_true(kiln_digest_equal(&img->manifest_digest, &md));
        assert_true(kiln_digest_equal(&img->config_digest, &cd.digest));
        assert_int_equal(img->created, 1704164645);
        assert_int_equal(img->size, info.uncompressed_size);
        kiln_image_free(img);
        if (ret_manifest)
                *ret_manifest = md;
        if (ret_config)
                *ret_config = cd.digest;
}

static void test_open_layout(void **state)
{
        struct fixture *f = *state;
        char *data;
        size_t len;
        char p[128];
        snprintf(p, sizeof(p), "%s/oci/oci-layout", f->root);
        assert_int_equal(kiln_fs_read_file(AT_FDCWD, p, 4096, &data, &len), 0);
        assert_string_equal(data, "{\"imageLayoutVersion\":\"1.0.0\"}");
        free(data);
        snprintf(p, sizeof(p), "%s/oci/index.json", f->root);
        assert_int_equal(kiln_fs_read_file(AT_FDCWD, p, 4096, &data, &len), 0);
        assert_non_null(strstr(data, "\"manifests\":[]"));
        free(data);
        /* reopening an existing store works */
        struct kiln_store *s2;
        assert_int_equal(kiln_store_open(f->root, 0, &s2, NULL), 0);
        kiln_store_close(s2);
        assert_int_equal(kiln_store_open(f->root, KILN_STORE_READONLY, &s2, NULL), 0);
        kiln_store_close(s2);
}

static void test_blobs(void **state)
{
        struct fixture *f = *state;
        struct kiln_error err = { 0 };
        struct kiln_digest d, d2;
        assert_int_equal(kiln_store_blob_put(f->s, "hello", 5, &d, &err), 0);
        assert_string_equal(d.str,
                            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_true(kiln_store_blob_exists(f->s, &d));
        assert_int_equal(kiln_store_blob_put(f->s, "hello", 5, &d2, &err), 0); /* idempotent */
        char *data;
        size_t len;
        assert_int_equal(kiln_store_blob_read(f->s, &d, 100, &data, &len, &err), 0);
        assert_int_equal(len, 5);
        assert_memory_equal(data, "hello", 5);
        free(data);
        assert_int_equal(kiln_store_blob_read(f->s, &d, 3, &data, &len, &err), -KILN_ETOOBIG);

        /* a writer verifying against the wrong digest leaves nothing behind */
        struct kiln_blob_writer *w;
        assert_int_equal(kiln_blob_writer_new(f->s, &w, &err), 0);
        assert_int_equal(kiln_blob_writer_write(w, "other", 5), 0);
        assert_int_equal(kiln_blob_writer_commit(w, &d, NULL, NULL, &err), -KILN_EDIGEST);
        assert_non_null(strstr(err.msg, "digest mismatch"));
        assert_int_equal(count_files(f->root, "tmp"), 0);
        assert_int_equal(count_files(f->root, "oci/blobs"), 1);

        /* an absent blob */
        struct kiln_digest missing;
        kiln_digest_buf(KILN_DIGEST_SHA256, "nope", 4, &missing);
        int fd;
        assert_int_equal(kiln_store_blob_open(f->s, &missing, &fd, NULL, &err), -KILN_ENOTFOUND);
        assert_false(kiln_store_blob_exists(f->s, &missing));

        /* aborted writers leave nothing */
        assert_int_equal(kiln_blob_writer_new(f->s, &w, &err), 0);
        kiln_blob_writer_write(w, "x", 1);
        kiln_blob_writer_abort(w);
        assert_int_equal(count_files(f->root, "tmp"), 0);
}

static void test_images_and_tags(void **state)
{
        struct fixture *f = *state;
        struct kiln_error err = { 0 };
        struct kiln_digest m1, c1, m2, c2;
        make_image(f, "one", "busybox", &m1, &c1);
        make_image(f, "two", "localhost:5000/app:v1", &m2, &c2);

        struct kiln_image *img;
        assert_int_equal(kiln_store_image_lookup(f->s, "busybox:latest", &img, &err), 0);
        assert_true(kiln_digest_equal(&img->config_digest, &c1));
        assert_int_equal(img->n_names, 1);
        assert_string_equal(img->names[0], "docker.io/library/busybox:latest");
        kiln_image_free(img);
        assert_int_equal(kiln_store_image_lookup(f->s, "docker.io/library/busybox", &img, &err), 0);
        kiln_image_free(img);
        /* by ID, ID prefix, manifest digest, name@digest */
        assert_int_equal(kiln_store_image_lookup(f->s, c2.str, &img, &err), 0);
        kiln_image_free(img);
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "%.10s", kiln_digest_hex(&c2));
        assert_int_equal(kiln_store_image_lookup(f->s, prefix, &img, &err), 0);
        assert_true(kiln_digest_equal(&img->manifest_digest, &m2));
        kiln_image_free(img);
        assert_int_equal(kiln_store_image_lookup(f->s, m1.str, &img, &err), 0);
        kiln_image_free(img);
        char *byd = kiln_xasprintf("busybox@%s", m1.str);
        assert_int_equal(kiln_store_image_lookup(f->s, byd, &img, &err), 0);
        kiln_image_free(img);
        free(byd);
        assert_int_equal(kiln_store_image_lookup(f->s, "nosuch", &img, &err), -KILN_ENOTFOUND);
        assert_string_equal(err.msg, "no such image: nosuch");

        /* tag, list, untag */
        assert_int_equal(kiln_store_image_lookup(f->s, "busybox", &img, &err), 0);
        assert_int_equal(kiln_store_tag(f->s, img, "extra:1", &err), 0);
        assert_int_equal(kiln_store_tag(f->s, img, "Bad:1", &err), -KILN_EFORMAT);
        kiln_image_free(img);
        struct kiln_image **v;
        size_t n;
        assert_int_equal(kiln_store_image_list(f->s, &v, &n, &err), 0);
        assert_int_equal(n, 2);
        size_t names = 0;
        for (size_t i = 0; i < n; i++)
                names += v[i]->n_names;
        assert_int_equal(names, 3);
        kiln_image_list_free(v, n);
        assert_int_equal(kiln_store_untag(f->s, "extra:1", &err), 0);
        assert_int_equal(kiln_store_untag(f->s, "extra:1", &err), -KILN_ENOTFOUND);

        /* moving a name leaves the old image untagged, prune removes it */
        assert_int_equal(kiln_store_image_lookup(f->s, "localhost:5000/app:v1", &img, &err), 0);
        assert_int_equal(kiln_store_tag(f->s, img, "busybox", &err), 0);
        kiln_image_free(img);
        char **deleted;
        assert_int_equal(kiln_store_image_prune(f->s, false, &deleted, &err), 1);
        assert_string_equal(deleted[0], c1.str);
        kiln_strv_free(deleted);
        struct kiln_gc_report gc;
        assert_int_equal(kiln_store_gc(f->s, &gc, &err), 0);
        assert_int_equal(gc.blobs_removed, 3); /* manifest, config, layer of "one" */
        assert_int_equal(count_files(f->root, "oci/blobs"), 3);
}

static void test_remove(void **state)
{
        struct fixture *f = *state;
        struct kiln_error err = { 0 };
        struct kiln_digest m1, c1;
        make_image(f, "one", "a:1", &m1, &c1);
        struct kiln_image *img;
        assert_int_equal(kiln_store_image_lookup(f->s, "a:1", &img, &err), 0);
        assert_int_equal(kiln_store_tag(f->s, img, "b:1", &err), 0);
        kiln_image_free(img);
        char **untagged, **deleted;
        assert_int_equal(kiln_store_image_remove(f->s, c1.str, false, &untagged, &deleted, &err),
                         -KILN_EINUSE);
        assert_int_equal(kiln_store_image_remove(f->s, "a:1", false, &untagged, &deleted, &err), 0);
        assert_string_equal(untagged[0], "docker.io/library/a:1");
        assert_null(untagged[1]);
        assert_null(deleted[0]);
        kiln_strv_free(untagged);
        kiln_strv_free(deleted);
        assert_int_equal(kiln_store_image_remove(f->s, "b:1", false, &untagged, &deleted, &err), 0);
        assert_string_equal(deleted[0], c1.str);
        kiln_strv_free(untagged);
        kiln_strv_free(deleted);
        assert_int_equal(kiln_store_image_lookup(f->s, c1.str, &img, &err), -KILN_ENOTFOUND);
}

static void test_fsck_and_unpack(void **state)
{
        struct fixture *f = *state;
        struct kiln_error err = { 0 };
        struct kiln_digest m1, c1;
        make_image(f, "content", "a:1", &m1, &c1);
        struct kiln_fsck_report rep;
        assert_int_equal(kiln_store_fsck(f->s, false, &rep, &err), 0);
        assert_int_equal(rep.problems, 0);
        assert_int_equal(rep.blobs_checked, 3);
        assert_int_equal(rep.images_checked, 1);
        kiln_fsck_report_clear(&rep);

        /* unpack the layer once; a second call finds it */
        struct kiln_image *img;
        struct kiln_manifest *m;
        struct kiln_config *c;
        assert_int_equal(kiln_store_image_lookup(f->s, "a:1", &img, &err), 0);
        assert_int_equal(kiln_store_image_load(f->s, img, &m, &c, &err), 0);
        char *path = NULL;
        assert_int_equal(kiln_store_layer_unpack(f->s, &m->layers[0], &c->diff_ids[0], &path, &err), 0);
        char *file = kiln_xasprintf("%s/file", path);
        char *data;
        size_t len;
        assert_int_equal(kiln_fs_read_file(AT_FDCWD, file, 100, &data, &len), 0);
        assert_string_equal(data, "content");
        free(data);
        free(file);
        char *path2 = NULL;
        assert_int_equal(kiln_store_layer_unpack(f->s, &m->layers[0], &c->diff_ids[0], &path2, &err), 0);
        assert_string_equal(path, path2);
        free(path2);
        struct kiln_df_report df;
        assert_int_equal(kiln_store_df(f->s, &df, &err), 0);
        assert_int_equal(df.images, 1);
        assert_int_equal(df.layers_unpacked, 1);
        assert_int_equal(df.blobs, 3);

        /* a wrong diff_id is refused and leaves nothing */
        struct kiln_digest bogus;
        kiln_digest_buf(KILN_DIGEST_SHA256, "x", 1, &bogus);
        char *p3 = NULL;
        assert_int_equal(kiln_store_layer_unpack(f->s, &m->layers[0], &bogus, &p3, &err), -KILN_EDIGEST);
        assert_non_null(strstr(err.msg, "diff_id mismatch"));

        /* corrupt the layer blob: fsck finds it, repair removes blob and image */
        char *blob = kiln_xasprintf("%s/oci/blobs/sha256/%s", f->root, kiln_digest_hex(&m->layers[0].digest));
        FILE *fp = fopen(blob, "r+");
        fseek(fp, 10, SEEK_SET);
        fputc('Z', fp);
        fclose(fp);
        free(blob);
        assert_int_equal(kiln_store_fsck(f->s, false, &rep, &err), 0);
        assert_int_equal(rep.blobs_corrupt, 1);
        assert_true(rep.problems >= 1);
        kiln_fsck_report_clear(&rep);
        assert_int_equal(kiln_store_fsck(f->s, true, &rep, &err), 0);
        assert_true(rep.repaired >= rep.problems);
        kiln_fsck_report_clear(&rep);
        assert_int_equal(kiln_store_fsck(f->s, false, &rep, &err), 0);
        assert_int_equal(rep.problems, 0);
        kiln_fsck_report_clear(&rep);
        struct kiln_image *img2 = NULL;
        assert_int_equal(kiln_store_image_lookup(f->s, "a:1", &img2, &err),
                         -KILN_ENOTFOUND);
        /* gc removes the unpacked layer that no image uses now */
        struct kiln_gc_report gc;
        assert_int_equal(kiln_store_gc(f->s, &gc, &err), 0);
        assert_int_equal(gc.layers_removed, 1);
        struct stat st;
        assert_int_equal(stat(path, &st), -1);
        free(path);
        kiln_manifest_free(m);
        kiln_config_free(c);
        kiln_image_free(img);
}

static void test_image_add_checks(void **state)
{
        struct fixture *f = *state;
        struct kiln_error err = { 0 };
        /* a manifest whose layer is missing */
        static const char cfg[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":"
                                  "{\"type\":\"layers\",\"diff_ids\":[\"sha256:"
                                  "0000000000000000000000000000000000000000000000000000000000000000\"]}}";
        struct kiln_descriptor cd = { .media_type = (char *)KILN_MT_OCI_CONFIG, .size = sizeof(cfg) - 1 };
        assert_int_equal(kiln_store_blob_put(f->s, cfg, sizeof(cfg) - 1, &cd.digest, &err), 0);
        struct kiln_descriptor ld = { .media_type = (char *)KILN_MT_OCI_LAYER_GZIP, .size = 10 };
        kiln_digest_buf(KILN_DIGEST_SHA256, "absent", 6, &ld.digest);
        char *m;
        size_t mlen;
        assert_int_equal(kiln_manifest_build(&cd, &ld, 1, NULL, &m, &mlen), 0);
        struct kiln_digest md;
        assert_int_equal(kiln_store_blob_put(f->s, m, mlen, &md, &err), 0);
        free(m);
        assert_int_equal(kiln_store_image_add(f->s, &md, NULL, 0, NULL, &err), -KILN_ENOTFOUND);
        assert_non_null(strstr(err.msg, "not in the store"));
        /* a blob that is not a manifest */
        struct kiln_digest junk;
        assert_int_equal(kiln_store_blob_put(f->s, "{}", 2, &junk, &err), 0);
        assert_true(kiln_store_image_add(f->s, &junk, NULL, 0, NULL, &err) < 0);
        struct kiln_image **v;
        size_t n;
        assert_int_equal(kiln_store_image_list(f->s, &v, &n, &err), 0);
        assert_int_equal(n, 0);
        kiln_image_list_free(v, n);
}


/* Write a layer (full tree, or the diff lower->upper) into the store. */
static void put_layer(struct fixture *f, const char *lower, const char *upper,
                      struct kiln_descriptor *ret, struct kiln_digest *ret_diff_id)
{
        struct kiln_error err = { 0 };
        int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int lfd = lower ? open(lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        struct kiln_blob_writer *w;
        assert_int_equal(kiln_blob_writer_new(f->s, &w, &err), 0);
        struct kiln_layer_create_opts opts = KILN_LAYER_CREATE_OPTS_INIT;
        struct kiln_layer_info info;
        if (lower)
                assert_int_equal(kiln_layer_create_diff(lfd, ufd, 0, kiln_blob_writer_fd(w), &opts,
                                                        &info, &err), 0);
        else
                assert_int_equal(kiln_layer_create_dir(ufd, kiln_blob_writer_fd(w), &opts, &info, &err), 0);
        close(ufd);
        if (lfd >= 0)
                close(lfd);
        assert_int_equal(kiln_blob_writer_commit_known(w, &info.digest, &err), 0);
        ret->media_type = (char *)KILN_MT_OCI_LAYER_GZIP;
        ret->digest = info.digest;
        ret->size = info.size;
        *ret_diff_id = info.diff_id;
}

static void sh(const char *cmd)
{
        assert_int_equal(system(cmd), 0);
}

/* Two layers, the second deleting a file and making a directory opaque:
 * unpacked once each, they stack as overlayfs lowerdirs to the image's tree. */
static void test_layers_as_overlay_lowerdirs(void **state)
{
        struct fixture *f = *state;
        struct kiln_error err = { 0 };
        char work[] = "/tmp/kiln-store-ovl-XXXXXX";
        assert_non_null(mkdtemp(work));
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "set -e; cd %s; mkdir -p v1/etc v1/opq v2; echo a > v1/etc/keep; echo b > v1/etc/gone;"
                 "echo c > v1/opq/old; cp -a v1/. v2/; rm v2/etc/gone; rm -r v2/opq; mkdir v2/opq;"
                 "echo d > v2/opq/new; echo e > v2/added",
                 work);
        sh(cmd);
        char v1[128], v2[128];
        snprintf(v1, sizeof v1, "%s/v1", work);
        snprintf(v2, sizeof v2, "%s/v2", work);
        struct kiln_descriptor l1, l2;
        struct kiln_digest d1, d2;
        put_layer(f, NULL, v1, &l1, &d1);
        put_layer(f, v1, v2, &l2, &d2);
        char *p1 = NULL, *p2 = NULL;
        assert_int_equal(kiln_store_layer_unpack(f->s, &l1, &d1, &p1, &err), 0);
        assert_int_equal(kiln_store_layer_unpack(f->s, &l2, &d2, &p2, &err), 0);
        /* the second layer keeps its whiteout as a 0/0 char device */
        char *wh = kiln_xasprintf("%s/etc/gone", p2);
        struct stat st;
        assert_int_equal(lstat(wh, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(st.st_rdev, 0);
        free(wh);
        char *mnt = kiln_xasprintf("%s/mnt", work);
        char *opts = kiln_xasprintf("lowerdir=%s:%s", p2, p1);
        assert_int_equal(mkdir(mnt, 0755), 0);
        if (mount("overlay", mnt, "overlay", MS_RDONLY, opts) == 0) {
                snprintf(cmd, sizeof cmd,
                         "cd %s && diff -r v2 mnt && test ! -e mnt/etc/gone && test ! -e mnt/opq/old",
                         work);
                int rc = system(cmd);
                umount(mnt);
                assert_int_equal(rc, 0);
        } else {
                fprintf(stderr, "overlay mount not permitted here (%s): lowerdir check skipped\n",
                        strerror(errno));
        }
        free(mnt);
        free(opts);
        free(p1);
        free(p2);
        kiln_fs_rm_rf_at(AT_FDCWD, work);
}

/* The build cache table: record, look up, gc keeps cached blobs, prune
 * removes entries and then their blobs. */
static void test_build_cache(void **state)
{
        struct fixture *f = *state;
        struct kiln_error err = { 0 };
        struct kiln_digest blob;
        static const char data[] = "pretend this is a layer";
        assert_int_equal(kiln_store_blob_put(f->s, data, sizeof(data) - 1, &blob, &err), 0);
        struct kiln_cache_entry e = { .has_layer = true, .blob = blob, .media_type = (char *)KILN_MT_OCI_LAYER,
                                      .diff_id = blob, .size = sizeof(data) - 1,
                                      .history = (char *)"{\"created_by\":\"RUN x\"}" };
        struct kiln_cache_entry m = { .history = (char *)"{\"created_by\":\"ENV a=b\"}" };
        struct kiln_cache_record rec[] = { { "sha256:key1", &e }, { "sha256:key2", &m } };
        assert_int_equal(kiln_store_cache_record(f->s, rec, 2, &err), 0);

        struct kiln_cache_entry got;
        assert_int_equal(kiln_store_cache_get(f->s, "sha256:key1", &got, &err), 0);
        assert_true(got.has_layer);
        assert_string_equal(got.blob.str, blob.str);
        assert_string_equal(got.media_type, KILN_MT_OCI_LAYER);
        assert_int_equal(got.size, sizeof(data) - 1);
        assert_string_equal(got.history, "{\"created_by\":\"RUN x\"}");
        kiln_cache_entry_clear(&got);
        assert_int_equal(kiln_store_cache_get(f->s, "sha256:key2", &got, &err), 0);
        assert_false(got.has_layer);
        kiln_cache_entry_clear(&got);
        assert_int_equal(kiln_store_cache_get(f->s, "sha256:nope", &got, &err), -KILN_ENOTFOUND);
        /* a hit only touches the entry */
        struct kiln_cache_record touch[] = { { "sha256:key1", NULL } };
        assert_int_equal(kiln_store_cache_record(f->s, touch, 1, &err), 0);

        /* gc keeps a blob only the cache uses */
        struct kiln_gc_report g;
        assert_int_equal(kiln_store_gc(f->s, &g, &err), 0);
        assert_true(kiln_store_blob_exists(f->s, &blob));

        /* prune: entries with a layer no image uses go, then the blob */
        struct kiln_cache_prune_report pr;
        assert_int_equal(kiln_store_cache_prune(f->s, false, &pr, &err), 0);
        assert_int_equal(pr.entries, 1);
        assert_int_equal(pr.blobs_removed, 1);
        assert_int_equal(pr.bytes_freed, sizeof(data) - 1);
        assert_false(kiln_store_blob_exists(f->s, &blob));
        assert_int_equal(kiln_store_cache_get(f->s, "sha256:key2", &got, &err), 0);
        kiln_cache_entry_clear(&got);
        assert_int_equal(kiln_store_cache_prune(f->s, true, &pr, &err), 0);
        assert_int_equal(pr.entries, 1);
        assert_int_equal(kiln_store_cache_get(f->s, "sha256:key2", &got, &err), -KILN_ENOTFOUND);

        /* an entry whose blob went is a miss */
        assert_int_equal(kiln_store_cache_record(f->s, rec, 1, &err), 0);
        assert_int_equal(kiln_store_cache_get(f->s, "sha256:key1", &got, &err), -KILN_ENOTFOUND);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_open_layout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_blobs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_images_and_tags, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fsck_and_unpack, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_add_checks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layers_as_overlay_lowerdirs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_build_cache, setup, teardown),
        };
        return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
