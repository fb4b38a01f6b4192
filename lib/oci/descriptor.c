/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Descriptors, media types, compact JSON output and the host platform.
 * See include/kiln/image.h and docs/internals/oci.md.
 */
#include <pthread.h>
#include <string.h>
#include <sys/utsname.h>
#include "kiln/image.h"
#include "oci-internal.h"

/* ---- field helpers shared with image.c ---- */

int oci_opt_string(json_t *obj, const char *path, const char *key, const char **ret,
                   struct kiln_error *err)
{
        json_t *v = oci_member(obj, key);
        if (!v) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return kiln_err(err, -KILN_EFORMAT, "%s%s%s: must be a string", oci_path(path),
                                oci_dot(path), key);
        *ret = json_string_value(v);
        return 0;
}

int oci_req_string(json_t *obj, const char *path, const char *key, const char **ret,
                   struct kiln_error *err)
{
        int r = oci_opt_string(obj, path, key, ret, err);
        if (r < 0)
                return r;
        if (!*ret)
                return kiln_err(err, -KILN_EFORMAT, "%s%smissing %s", oci_path(path),
                                oci_colon(path), key);
        return 0;
}

int oci_opt_string_array(json_t *obj, const char *path, const char *key,
                         struct kiln_error *err)
{
        json_t *v = oci_member(obj, key);
        if (!v)
                return 0;
        if (!json_is_array(v))
                return kiln_err(err, -KILN_EFORMAT, "%s%s%s: must be an array", oci_path(path),
                                oci_dot(path), key);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
                if (!json_is_string(e))
                        return kiln_err(err, -KILN_EFORMAT, "%s%s%s[%zu]: must be a string",
                                        oci_path(path), oci_dot(path), key, i);
        }
        return 0;
}

int oci_annotations(json_t *obj, const char *path, json_t **ret, struct kiln_error *err)
{
        json_t *v = oci_member(obj, "annotations");
        if (!v) {
                *ret = NULL;
                return 0;
        }
        if (!json_is_object(v))
                return kiln_err(err, -KILN_EFORMAT, "%s%sannotations: must be an object",
                                oci_path(path), oci_dot(path));
        const char *key;
        json_t *val;
        json_object_foreach(v, key, val) {
                if (!json_is_string(val))
                        return kiln_err(err, -KILN_EFORMAT,
                                        "%s%sannotations.%.80s: must be a string",
                                        oci_path(path), oci_dot(path), key);
        }
        json_t *copy = json_deep_copy(v);
        if (!copy)
                return kiln_err(err, -ENOMEM, "out of memory");
        *ret = copy;
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *oci_sorted_copy(json_t *obj)
{
        size_t n = json_object_size(obj), i = 0;
        _cleanup_free_ const char **keys = kiln_xcalloc(n, sizeof(*keys));
        const char *key;
        json_t *val;
        json_object_foreach(obj, key, val) {
                keys[i++] = key;
        }
        qsort(keys, n, sizeof(*keys), cmp_str);
        json_t *out = json_object();
        if (!out)
                return NULL;
        for (i = 0; i < n; i++) {
                if (json_object_set_new(out, keys[i], json_deep_copy(json_object_get(obj, keys[i]))) <
                    0) {
                        json_decref(out);
                        return NULL;
                }
        }
        return out;
}

/* ---- media types ---- */

/*
 * Compare a media type to a known one, ignoring parameters and blanks
 * (a Content-Type header may say "...+json; charset=utf-8").
 */
static bool mt_is(const char *mt, const char *want)
{
        if (!mt)
                return false;
        size_t n = strcspn(mt, ";");
        while (n > 0 && (mt[n - 1] == ' ' || mt[n - 1] == '\t'))
                n--;
        return n == strlen(want) && memcmp(mt, want, n) == 0;
}

enum kiln_mt_compression kiln_media_type_layer_compression(const char *mt)
{
        static const struct {
                const char *mt;
                enum kiln_mt_compression comp;
        } table[] = {
                { KILN_MT_OCI_LAYER, KILN_MT_COMP_NONE },
                { KILN_MT_OCI_LAYER_GZIP, KILN_MT_COMP_GZIP },
                { KILN_MT_OCI_LAYER_ZSTD, KILN_MT_COMP_ZSTD },
                { KILN_MT_OCI_LAYER_NONDIST, KILN_MT_COMP_NONE },
                { KILN_MT_OCI_LAYER_NONDIST_GZIP, KILN_MT_COMP_GZIP },
                { KILN_MT_OCI_LAYER_NONDIST_ZSTD, KILN_MT_COMP_ZSTD },
                { KILN_MT_DOCKER_LAYER, KILN_MT_COMP_GZIP },
                { KILN_MT_DOCKER_LAYER_FOREIGN, KILN_MT_COMP_GZIP },
                /* not in Docker's spec, but written by containerd and others */
                { "application/vnd.docker.image.rootfs.diff.tar", KILN_MT_COMP_NONE },
                { "application/vnd.docker.image.rootfs.foreign.diff.tar", KILN_MT_COMP_NONE },
                { "application/vnd.docker.image.rootfs.diff.tar.zstd", KILN_MT_COMP_ZSTD },
        };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(table); i++)
                if (mt_is(mt, table[i].mt))
                        return table[i].comp;
        return KILN_MT_COMP_UNKNOWN;
}

bool kiln_media_type_is_manifest(const char *mt)
{
        return mt_is(mt, KILN_MT_OCI_MANIFEST) || mt_is(mt, KILN_MT_DOCKER_MANIFEST);
}

bool kiln_media_type_is_index(const char *mt)
{
        return mt_is(mt, KILN_MT_OCI_INDEX) || mt_is(mt, KILN_MT_DOCKER_LIST);
}

/* ---- descriptors ---- */

static void platform_free(struct kiln_platform *p)
{
        if (!p)
                return;
        free(p->architecture);
        free(p->os);
        free(p->variant);
        free(p->os_version);
        free(p);
}

static int parse_platform(json_t *obj, const char *path, struct kiln_platform **ret,
                          struct kiln_error *err)
{
        char sub[OCI_PATH_MAX];
        const char *arch, *os, *variant, *os_version;
        int r;

        snprintf(sub, sizeof(sub), "%s%splatform", oci_path(path), oci_dot(path));
        if (!json_is_object(obj))
                return kiln_err(err, -KILN_EFORMAT, "%s: must be an object", sub);
        if ((r = oci_req_string(obj, sub, "architecture", &arch, err)) < 0 ||
            (r = oci_req_string(obj, sub, "os", &os, err)) < 0 ||
            (r = oci_opt_string(obj, sub, "variant", &variant, err)) < 0 ||
            (r = oci_opt_string(obj, sub, "os.version", &os_version, err)) < 0 ||
            (r = oci_opt_string_array(obj, sub, "os.features", err)) < 0 ||
            (r = oci_opt_string_array(obj, sub, "features", err)) < 0)
                return r;

        struct kiln_platform *p = kiln_xcalloc(1, sizeof(*p));
        p->architecture = kiln_xstrdup(arch);
        p->os = kiln_xstrdup(os);
        p->variant = kiln_xstrdup(variant);
        p->os_version = kiln_xstrdup(os_version);
        *ret = p;
        return 0;
}

int kiln_descriptor_from_json(json_t *obj, const char *path, struct kiln_descriptor *ret,
                              struct kiln_error *err)
{
        const char *mt, *digest, *artifact_type, *data;
        struct kiln_digest d;
        int r;

        if (!json_is_object(obj))
                return kiln_err(err, -KILN_EFORMAT, "%s%smust be an object", oci_path(path),
                                oci_colon(path));
        if ((r = oci_req_string(obj, path, "mediaType", &mt, err)) < 0)
                return r;
        if (!*mt)
                return kiln_err(err, -KILN_EFORMAT, "%s%smediaType: must not be empty",
                                oci_path(path), oci_dot(path));
        if ((r = oci_req_string(obj, path, "digest", &digest, err)) < 0)
                return r;
        if ((r = kiln_digest_parse(digest, &d, err)) < 0)
                return kiln_err_prefix(err, -KILN_EFORMAT, "%s%sdigest: ", oci_path(path),
                                       oci_dot(path));

        json_t *size = oci_member(obj, "size");
        if (!size)
                return kiln_err(err, -KILN_EFORMAT, "%s%smissing size", oci_path(path),
                                oci_colon(path));
        if (!json_is_integer(size) || json_integer_value(size) < 0)
                return kiln_err(err, -KILN_EFORMAT, "%s%ssize: must be a non-negative integer",
                                oci_path(path), oci_dot(path));

        /* urls and data are checked for their type; callers read them from raw */
        if ((r = oci_opt_string_array(obj, path, "urls", err)) < 0 ||
            (r = oci_opt_string(obj, path, "artifactType", &artifact_type, err)) < 0 ||
            (r = oci_opt_string(obj, path, "data", &data, err)) < 0)
                return r;

        struct kiln_platform *platform = NULL;
        json_t *p = oci_member(obj, "platform");
        if (p && (r = parse_platform(p, path, &platform, err)) < 0)
                return r;
        json_t *annotations = NULL;
        if ((r = oci_annotations(obj, path, &annotations, err)) < 0) {
                platform_free(platform);
                return r;
        }

        *ret = (struct kiln_descriptor){
                .media_type = kiln_xstrdup(mt),
                .digest = d,
                .size = (int64_t)json_integer_value(size),
                .artifact_type = kiln_xstrdup(artifact_type),
                .annotations = annotations,
                .platform = platform,
        };
        return 0;
}

/* Set key to a new string; false when the value is not valid UTF-8. */
static bool set_string(json_t *obj, const char *key, const char *value)
{
        return json_object_set_new(obj, key, json_string(value)) == 0;
}

json_t *kiln_descriptor_to_json(const struct kiln_descriptor *d)
{
        if (!d || !d->media_type || !d->digest.str[0] || d->size < 0)
                return NULL;
        json_auto_t *o = json_object();
        if (!o || !set_string(o, "mediaType", d->media_type) ||
            !set_string(o, "digest", d->digest.str) ||
            json_object_set_new(o, "size", json_integer(d->size)) < 0)
                return NULL;
        /* Go omits an empty map, so do we. */
        if (d->annotations && json_object_size(d->annotations) > 0 &&
            json_object_set_new(o, "annotations", oci_sorted_copy(d->annotations)) < 0)
                return NULL;
        if (d->artifact_type && !set_string(o, "artifactType", d->artifact_type))
                return NULL;
        if (d->platform) {
                const struct kiln_platform *p = d->platform;
                json_t *po = json_object();
                if (json_object_set_new(o, "platform", po) < 0 || !p->architecture || !p->os ||
                    !set_string(po, "architecture", p->architecture) ||
                    !set_string(po, "os", p->os) ||
                    (p->os_version && !set_string(po, "os.version", p->os_version)) ||
                    (p->variant && !set_string(po, "variant", p->variant)))
                        return NULL;
        }
        return TAKE_PTR(o);
}

void kiln_descriptor_clear(struct kiln_descriptor *d)
{
        if (!d)
                return;
        free(d->media_type);
        free(d->artifact_type);
        json_decref(d->annotations);
        platform_free(d->platform);
        *d = (struct kiln_descriptor){ 0 };
}

void kiln_descriptor_copy(struct kiln_descriptor *dst, const struct kiln_descriptor *src)
{
        *dst = (struct kiln_descriptor){
                .media_type = kiln_xstrdup(src->media_type),
                .digest = src->digest,
                .size = src->size,
                .artifact_type = kiln_xstrdup(src->artifact_type),
        };
        if (src->annotations) {
                dst->annotations = json_deep_copy(src->annotations);
                if (!dst->annotations)
                        abort(); /* out of memory, as kiln_x* do */
        }
        if (src->platform) {
                struct kiln_platform *p = kiln_xcalloc(1, sizeof(*p));
                p->architecture = kiln_xstrdup(src->platform->architecture);
                p->os = kiln_xstrdup(src->platform->os);
                p->variant = kiln_xstrdup(src->platform->variant);
                p->os_version = kiln_xstrdup(src->platform->os_version);
                dst->platform = p;
        }
}

/* ---- output ---- */

char *kiln_json_dump(json_t *j, size_t *ret_len)
{
        if (!j)
                return NULL;
        /* jansson >= 2.8 keeps insertion order; the flag documents intent. */
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        if (s && ret_len)
                *ret_len = strlen(s);
        return s;
}

/* ---- the host platform ---- */

/*
 * The architecture the binary was compiled for, in Go's GOARCH terms: a
 * 32-bit build on a 64-bit kernel runs 32-bit images.
 */
#if defined(__x86_64__)
#define COMPILE_ARCH "amd64"
#elif defined(__aarch64__)
#define COMPILE_ARCH "arm64"
#elif defined(__i386__)
#define COMPILE_ARCH "386"
#elif defined(__arm__)
#define COMPILE_ARCH "arm"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define COMPILE_ARCH "ppc64le"
#elif defined(__powerpc64__)
#define COMPILE_ARCH "ppc64"
#elif defined(__s390x__)
#define COMPILE_ARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#define COMPILE_ARCH "riscv64"
#elif defined(__loongarch64)
#define COMPILE_ARCH "loong64"
#elif defined(__mips64) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define COMPILE_ARCH "mips64le"
#elif defined(__mips64)
#define COMPILE_ARCH "mips64"
#endif

/* Kernel machine names (uname -m) to GOARCH, for targets not listed above. */
static __attribute__((unused)) const char *arch_from_machine(const char *m)
{
        static const struct {
                const char *machine, *arch;
        } table[] = {
                { "x86_64", "amd64" },   { "amd64", "amd64" },     { "aarch64", "arm64" },
                { "arm64", "arm64" },    { "i386", "386" },        { "i486", "386" },
                { "i586", "386" },       { "i686", "386" },        { "ppc64le", "ppc64le" },
                { "ppc64", "ppc64" },    { "s390x", "s390x" },     { "riscv64", "riscv64" },
                { "mips64", "mips64" },  { "loongarch64", "loong64" },
        };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(table); i++)
                if (strcmp(m, table[i].machine) == 0)
                        return table[i].arch;
        if (kiln_startswith(m, "armv"))
                return "arm";
        return m;
}

#ifndef COMPILE_ARCH
static char uname_arch[sizeof(((struct utsname *)0)->machine)];

static void init_uname_arch(void)
{
        struct utsname u;
        snprintf(uname_arch, sizeof(uname_arch), "%s",
                 uname(&u) == 0 ? arch_from_machine(u.machine) : "unknown");
}
#endif

const char *kiln_platform_arch(void)
{
#ifdef COMPILE_ARCH
        return COMPILE_ARCH;
#else
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, init_uname_arch);
        return uname_arch;
#endif
}

const char *kiln_platform_os(void)
{
        return "linux";
}
