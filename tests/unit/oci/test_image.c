/* Unit tests for lib/oci/descriptor.c and lib/oci/image.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <string.h>
#include "kiln/fs.h"
#include "kiln/image.h"

#define H1 "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0"
#define H2 "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b"
#define HCFG "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"

/* A test document from tests/data/oci (KILN_TEST_DATA is set by meson). */
static char *read_data(const char *name, size_t *ret_len)
{
        const char *dir = getenv("KILN_TEST_DATA");
        assert_non_null(dir);
        _cleanup_free_ char *path = kiln_xasprintf("%s/oci/%s", dir, name);
        char *data = NULL;
        assert_int_equal(kiln_fs_read_file(AT_FDCWD, path, KILN_DOC_MAX, &data, ret_len), 0);
        return data;
}

/* The raw copy is byte-for-byte the input, and the digest is of those bytes. */
static void assert_raw(const char *raw, size_t raw_len, const struct kiln_digest *d,
                       const char *data, size_t len)
{
        assert_int_equal(raw_len, len);
        assert_memory_equal(raw, data, len);
        assert_int_equal(raw[len], 0);
        struct kiln_digest want;
        kiln_digest_buf(KILN_DIGEST_SHA256, data, len, &want);
        assert_string_equal(d->str, want.str);
}

static void test_manifest_oci(void **state)
{
        size_t len;
        _cleanup_free_ char *data = read_data("manifest-oci.json", &len);
        const char *hints[] = { NULL, KILN_MT_OCI_MANIFEST, KILN_MT_OCI_MANIFEST "; charset=utf-8" };
        for (size_t h = 0; h < KILN_ARRAY_SIZE(hints); h++) {
                struct kiln_error e = { 0 };
                _cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
                if (kiln_manifest_parse(data, len, hints[h], &m, &e) < 0)
                        fail_msg("%s", e.msg);
                assert_raw(m->raw, m->raw_len, &m->digest, data, len);
                assert_string_equal(m->media_type, KILN_MT_OCI_MANIFEST);
                assert_string_equal(m->config.media_type, KILN_MT_OCI_CONFIG);
                assert_string_equal(m->config.digest.str, HCFG);
                assert_int_equal(m->config.size, 7023);
                assert_null(m->config.annotations);
                assert_null(m->config.platform);
                assert_int_equal(m->n_layers, 3);
                assert_string_equal(m->layers[0].digest.str, H1);
                assert_int_equal(m->layers[0].size, 32654);
                assert_int_equal(kiln_media_type_layer_compression(m->layers[0].media_type),
                                 KILN_MT_COMP_GZIP);
                assert_int_equal(kiln_media_type_layer_compression(m->layers[1].media_type),
                                 KILN_MT_COMP_ZSTD);
                assert_int_equal(kiln_media_type_layer_compression(m->layers[2].media_type),
                                 KILN_MT_COMP_NONE);
                assert_string_equal(json_string_value(json_object_get(
                                            m->layers[1].annotations,
                                            "org.opencontainers.image.title")),
                                    "layer two");
                assert_null(m->subject);
                assert_null(m->artifact_type);
                assert_int_equal(json_object_size(m->annotations), 2);
        }

        /* a Docker hint does not match an OCI document */
        struct kiln_error e = { 0 };
        struct kiln_manifest *m = NULL;
        assert_int_equal(kiln_manifest_parse(data, len, KILN_MT_DOCKER_MANIFEST, &m, &e),
                         -KILN_EFORMAT);
        assert_string_equal(e.msg, "manifest: mediaType '" KILN_MT_OCI_MANIFEST
                                   "' does not match the expected '" KILN_MT_DOCKER_MANIFEST "'");
        assert_null(m);
}

static void test_manifest_docker(void **state)
{
        size_t len;
        _cleanup_free_ char *data = read_data("manifest-docker.json", &len);
        struct kiln_error e = { 0 };
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL, *m2 = NULL;
        assert_int_equal(kiln_manifest_parse(data, len, NULL, &m, &e), 0);
        assert_raw(m->raw, m->raw_len, &m->digest, data, len);
        assert_string_equal(m->media_type, KILN_MT_DOCKER_MANIFEST);
        assert_string_equal(m->config.media_type, KILN_MT_DOCKER_CONFIG);
        assert_int_equal(m->config.size, 1469);
        assert_int_equal(m->n_layers, 2);
        assert_int_equal(kiln_media_type_layer_compression(m->layers[0].media_type),
                         KILN_MT_COMP_GZIP);
        assert_string_equal(m->layers[1].media_type, KILN_MT_DOCKER_LAYER_FOREIGN);
        assert_int_equal(kiln_manifest_parse(data, len, KILN_MT_DOCKER_MANIFEST, &m2, &e), 0);

        struct kiln_manifest *x = NULL;
        assert_int_equal(kiln_manifest_parse(data, len, KILN_MT_OCI_MANIFEST, &x, &e),
                         -KILN_EFORMAT);
        assert_int_equal(kiln_manifest_parse(data, len, KILN_MT_OCI_INDEX, &x, &e), -KILN_EFORMAT);
        assert_string_equal(e.msg, "manifest: media type '" KILN_MT_OCI_INDEX
                                   "' is not an image manifest");
        assert_null(x);
}

static void test_manifest_artifact(void **state)
{
        size_t len;
        _cleanup_free_ char *data = read_data("manifest-artifact.json", &len);
        struct kiln_error e = { 0 };
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
        assert_int_equal(kiln_manifest_parse(data, len, NULL, &m, &e), 0);
        assert_raw(m->raw, m->raw_len, &m->digest, data, len);
        assert_int_equal(m->n_layers, 0);
        assert_string_equal(m->config.media_type, KILN_MT_OCI_EMPTY);
        assert_int_equal(m->config.size, 2);
        assert_non_null(m->subject);
        assert_int_equal(m->subject->size, 1234);
        assert_string_equal(m->artifact_type, "application/vnd.example.sbom.v1");
}

/* Whitespace, key order and a trailing newline are all kept: they change the digest. */
static void test_manifest_raw(void **state)
{
        const char *a = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" HCFG
                        "\",\"size\":1},\"layers\":[]}";
        const char *b = "\n\t{ \"layers\" : [ ] ,\"config\":{\"size\":1,\"digest\":\"" HCFG
                        "\",  \"mediaType\":\"x\"},\r\n\"schemaVersion\" : 2 }\n\n";
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *ma = NULL, *mb = NULL;
        assert_int_equal(kiln_manifest_parse(a, strlen(a), NULL, &ma, NULL), 0);
        assert_int_equal(kiln_manifest_parse(b, strlen(b), NULL, &mb, NULL), 0);
        assert_raw(ma->raw, ma->raw_len, &ma->digest, a, strlen(a));
        assert_raw(mb->raw, mb->raw_len, &mb->digest, b, strlen(b));
        assert_false(kiln_digest_equal(&ma->digest, &mb->digest));
        /* no mediaType and no hint: OCI */
        assert_string_equal(ma->media_type, KILN_MT_OCI_MANIFEST);

        /* not NUL-terminated input: only len bytes are read */
        char buf[512];
        size_t n = strlen(a);
        memcpy(buf, a, n);
        memset(buf + n, '}', sizeof(buf) - n);
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *mc = NULL;
        assert_int_equal(kiln_manifest_parse(buf, n, NULL, &mc, NULL), 0);
        assert_true(kiln_digest_equal(&ma->digest, &mc->digest));
}

static void test_too_big(void **state)
{
        size_t n = KILN_DOC_MAX + 1;
        _cleanup_free_ char *big = kiln_xmalloc(n);
        memset(big, ' ', n);
        big[0] = '{';
        big[n - 1] = '}';
        struct kiln_error e = { 0 };
        struct kiln_manifest *m = NULL;
        struct kiln_index *ix = NULL;
        struct kiln_config *c = NULL;
        assert_int_equal(kiln_manifest_parse(big, n, NULL, &m, &e), -KILN_ETOOBIG);
        assert_string_equal(e.msg, "manifest: 4194305 bytes is over the limit of 4194304");
        assert_int_equal(kiln_index_parse(big, n, NULL, &ix, &e), -KILN_ETOOBIG);
        assert_int_equal(kiln_config_parse(big, n, &c, &e), -KILN_ETOOBIG);
        assert_string_equal(e.msg, "config: 4194305 bytes is over the limit of 4194304");
        /* exactly at the limit is parsed (and then fails for content) */
        assert_int_equal(kiln_config_parse(big, n - 1, &c, &e), -KILN_EFORMAT);
        assert_string_equal(e.msg, "config: invalid JSON at line 1 column 4194304: "
                                   "string or '}' expected near end of file");
        assert_int_equal(kiln_manifest_parse(NULL, 0, NULL, &m, &e), -KILN_EFORMAT);
        assert_null(m);
        assert_null(ix);
        assert_null(c);
}

/* ---- error paths, one a row ---- */

struct bad {
        const char *doc;
        const char *hint;
        int code;
        const char *msg; /* a trailing '*' matches a prefix */
};

/* Report every mismatch of a table before failing. */
static unsigned check_msg(const char *doc, const char *got, const char *want)
{
        size_t n = strlen(want);
        bool ok = n && want[n - 1] == '*' ? strncmp(got, want, n - 1) == 0 : strcmp(got, want) == 0;
        if (!ok)
                print_error("%s\n  got:  %s\n  want: %s\n", doc, got, want);
        return ok ? 0 : 1;
}

#define CFG "{\"mediaType\":\"" KILN_MT_OCI_CONFIG "\",\"digest\":\"" HCFG "\",\"size\":7}"
#define LAYER "{\"mediaType\":\"" KILN_MT_OCI_LAYER_GZIP "\",\"digest\":\"" H1 "\",\"size\":1}"
/* a manifest with the given extra top-level members and one layer */
#define MAN(extra) "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":[" LAYER "]" extra "}"
/* a manifest whose single layer has the given members */
#define MANL(members) "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":[{" members "}]}"
#define LMT "\"mediaType\":\"" KILN_MT_OCI_LAYER "\""
#define LDG "\"digest\":\"" H1 "\""
#define LSZ "\"size\":3"

static const struct bad bad_manifests[] = {
        { "", NULL, -KILN_EFORMAT, "manifest: invalid JSON at line 1 column 0: *" },
        { "{\"schemaVersion\":2", NULL, -KILN_EFORMAT, "manifest: invalid JSON at line 1 column 18: *" },
        { "{}\n{}", NULL, -KILN_EFORMAT, "manifest: invalid JSON at line 2 column 1: end of file expected*" },
        { "[]", NULL, -KILN_EFORMAT, "manifest: not a JSON object" },
        { "\"x\"", NULL, -KILN_EFORMAT,
          "manifest: invalid JSON at line 1 column 3: '[' or '{' expected near '\"x\"'" },
        { "{\"schemaVersion\":2,\"schemaVersion\":2}", NULL, -KILN_EFORMAT,
          "manifest: invalid JSON at line 1 column 34: duplicate object key*" },
        { "{\"a\":\"\xff\"}", NULL, -KILN_EFORMAT, "manifest: invalid JSON at line 1*" },
        { "{\"a\":\"x\\u0000y\"}", NULL, -KILN_EFORMAT, "manifest: invalid JSON at line 1*" },
        { "{\"config\":" CFG ",\"layers\":[]}", NULL, -KILN_EFORMAT, "manifest: missing schemaVersion" },
        { "{\"schemaVersion\":\"2\"}", NULL, -KILN_EFORMAT, "manifest: schemaVersion: must be an integer" },
        { "{\"schemaVersion\":2.0}", NULL, -KILN_EFORMAT, "manifest: schemaVersion: must be an integer" },
        { "{\"schemaVersion\":1,\"fsLayers\":[]}", NULL, -KILN_EUNSUPPORTED,
          "manifest: schemaVersion: must be 2, got 1 (docker schema1 is not supported)" },
        { "{\"schemaVersion\":3}", NULL, -KILN_EFORMAT, "manifest: schemaVersion: must be 2, got 3" },
        { MAN(",\"mediaType\":5"), NULL, -KILN_EFORMAT, "manifest: mediaType: must be a string" },
        { MAN(",\"mediaType\":\"" KILN_MT_OCI_INDEX "\""), NULL, -KILN_EFORMAT,
          "manifest: mediaType: '" KILN_MT_OCI_INDEX "' is not an image manifest" },
        { MAN(",\"mediaType\":\"" KILN_MT_OCI_MANIFEST "; charset=utf-8\""), NULL, -KILN_EFORMAT,
          "manifest: mediaType: '" KILN_MT_OCI_MANIFEST "; charset=utf-8' is not an image manifest" },
        { MAN(",\"mediaType\":\"" KILN_MT_DOCKER_MANIFEST "\""), KILN_MT_OCI_MANIFEST, -KILN_EFORMAT,
          "manifest: mediaType '" KILN_MT_DOCKER_MANIFEST "' does not match the expected '"
          KILN_MT_OCI_MANIFEST "'" },
        { MAN(""), KILN_MT_DOCKER_MANIFEST, -KILN_EFORMAT,
          "manifest: missing mediaType (required for docker schema2 manifests)" },
        { MAN(""), "application/json", -KILN_EFORMAT,
          "manifest: media type 'application/json' is not an image manifest" },
        { MAN(""), KILN_MT_DOCKER_LIST, -KILN_EFORMAT,
          "manifest: media type '" KILN_MT_DOCKER_LIST "' is not an image manifest" },
        { "{\"schemaVersion\":2,\"layers\":[]}", NULL, -KILN_EFORMAT, "manifest: missing config" },
        { "{\"schemaVersion\":2,\"config\":null,\"layers\":[]}", NULL, -KILN_EFORMAT,
          "manifest: missing config" },
        { "{\"schemaVersion\":2,\"config\":[],\"layers\":[]}", NULL, -KILN_EFORMAT,
          "manifest: config: must be an object" },
        { "{\"schemaVersion\":2,\"config\":{\"digest\":\"" HCFG "\",\"size\":1},\"layers\":[]}", NULL,
          -KILN_EFORMAT, "manifest: config: missing mediaType" },
        { "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"\",\"digest\":\"" HCFG "\",\"size\":1},\"layers\":[]}",
          NULL, -KILN_EFORMAT, "manifest: config.mediaType: must not be empty" },
        { "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:0\",\"size\":1},\"layers\":[]}",
          NULL, -KILN_EFORMAT,
          "manifest: config.digest: invalid digest 'sha256:0': sha256 needs 64 hex characters, got 1" },
        { "{\"schemaVersion\":2,\"config\":" CFG "}", NULL, -KILN_EFORMAT, "manifest: missing layers" },
        { "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":{}}", NULL, -KILN_EFORMAT,
          "manifest: layers: must be an array" },
        { "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":[" LAYER "," LAYER ",{" LMT
          ",\"digest\":\"xyz\"," LSZ "}]}",
          NULL, -KILN_EFORMAT, "manifest: layers[2].digest: invalid digest 'xyz': no algorithm" },
        { "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":[5]}", NULL, -KILN_EFORMAT,
          "manifest: layers[0]: must be an object" },
        { MANL(LDG "," LSZ), NULL, -KILN_EFORMAT, "manifest: layers[0]: missing mediaType" },
        { MANL("\"mediaType\":[]," LDG "," LSZ), NULL, -KILN_EFORMAT,
          "manifest: layers[0].mediaType: must be a string" },
        { MANL(LMT "," LSZ), NULL, -KILN_EFORMAT, "manifest: layers[0]: missing digest" },
        { MANL(LMT ",\"digest\":5," LSZ), NULL, -KILN_EFORMAT,
          "manifest: layers[0].digest: must be a string" },
        { MANL(LMT ",\"digest\":\"md5:d41d8cd98f00b204e9800998ecf8427e\"," LSZ), NULL, -KILN_EFORMAT,
          "manifest: layers[0].digest: invalid digest 'md5:d41d8cd98f00b204e9800998ecf8427e': "
          "unsupported algorithm" },
        { MANL(LMT "," LDG), NULL, -KILN_EFORMAT, "manifest: layers[0]: missing size" },
        { MANL(LMT "," LDG ",\"size\":-1"), NULL, -KILN_EFORMAT,
          "manifest: layers[0].size: must be a non-negative integer" },
        { MANL(LMT "," LDG ",\"size\":1.5"), NULL, -KILN_EFORMAT,
          "manifest: layers[0].size: must be a non-negative integer" },
        { MANL(LMT "," LDG ",\"size\":\"3\""), NULL, -KILN_EFORMAT,
          "manifest: layers[0].size: must be a non-negative integer" },
        { MANL(LMT "," LDG ",\"size\":99999999999999999999"), NULL, -KILN_EFORMAT,
          "manifest: invalid JSON at line 1*" },
        { MANL(LMT "," LDG "," LSZ ",\"urls\":\"http://x\""), NULL, -KILN_EFORMAT,
          "manifest: layers[0].urls: must be an array" },
        { MANL(LMT "," LDG "," LSZ ",\"urls\":[\"http://x\",1]"), NULL, -KILN_EFORMAT,
          "manifest: layers[0].urls[1]: must be a string" },
        { MANL(LMT "," LDG "," LSZ ",\"annotations\":[]"), NULL, -KILN_EFORMAT,
          "manifest: layers[0].annotations: must be an object" },
        { MANL(LMT "," LDG "," LSZ ",\"annotations\":{\"a\":\"b\",\"c\":1}"), NULL, -KILN_EFORMAT,
          "manifest: layers[0].annotations.c: must be a string" },
        { MANL(LMT "," LDG "," LSZ ",\"artifactType\":{}"), NULL, -KILN_EFORMAT,
          "manifest: layers[0].artifactType: must be a string" },
        { MANL(LMT "," LDG "," LSZ ",\"data\":1"), NULL, -KILN_EFORMAT,
          "manifest: layers[0].data: must be a string" },
        { MANL(LMT "," LDG "," LSZ ",\"platform\":\"linux\""), NULL, -KILN_EFORMAT,
          "manifest: layers[0].platform: must be an object" },
        { MANL(LMT "," LDG "," LSZ ",\"platform\":{\"os\":\"linux\"}"), NULL, -KILN_EFORMAT,
          "manifest: layers[0].platform: missing architecture" },
        { MAN(",\"annotations\":{\"a\":true}"), NULL, -KILN_EFORMAT,
          "manifest: annotations.a: must be a string" },
        { MAN(",\"annotations\":\"a\""), NULL, -KILN_EFORMAT, "manifest: annotations: must be an object" },
        { MAN(",\"artifactType\":1"), NULL, -KILN_EFORMAT, "manifest: artifactType: must be a string" },
        { MAN(",\"subject\":{}"), NULL, -KILN_EFORMAT, "manifest: subject: missing mediaType" },
        { MAN(",\"subject\":{" LMT ",\"digest\":\"sha256:\"," LSZ "}"), NULL, -KILN_EFORMAT,
          "manifest: subject.digest: invalid digest 'sha256:': sha256 needs 64 hex characters, got 0" },
};

static void test_manifest_bad(void **state)
{
        unsigned failures = 0;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad_manifests); i++) {
                const struct bad *b = &bad_manifests[i];
                struct kiln_error e = { 0 };
                struct kiln_manifest *m = NULL;
                int r = kiln_manifest_parse(b->doc, strlen(b->doc), b->hint, &m, &e);
                if (r != b->code)
                        fail_msg("%s: got %d (%s), want %d", b->doc, r, e.msg, b->code);
                assert_null(m);
                failures += check_msg(b->doc, e.msg, b->msg);
                /* and without an error record */
                assert_int_equal(kiln_manifest_parse(b->doc, strlen(b->doc), b->hint, &m, NULL),
                                 b->code);
        }
        assert_int_equal(failures, 0);
}

/* Optional members may be JSON null, as Go's encoder writes them. */
static void test_manifest_nulls(void **state)
{
        const char *doc = MAN(",\"mediaType\":null,\"annotations\":null,\"subject\":null,"
                              "\"artifactType\":null");
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
        struct kiln_error e = { 0 };
        assert_int_equal(kiln_manifest_parse(doc, strlen(doc), KILN_MT_OCI_MANIFEST, &m, &e), 0);
        assert_string_equal(m->media_type, KILN_MT_OCI_MANIFEST);
        assert_null(m->annotations);
        assert_null(m->subject);
        assert_null(m->artifact_type);
}

/* ---- indexes ---- */

static void test_index_good(void **state)
{
        size_t len;
        _cleanup_free_ char *oci = read_data("index-oci.json", &len);
        struct kiln_error e = { 0 };
        _cleanup_(kiln_index_freep) struct kiln_index *ix = NULL, *dl = NULL;
        assert_int_equal(kiln_index_parse(oci, len, KILN_MT_OCI_INDEX, &ix, &e), 0);
        assert_raw(ix->raw, ix->raw_len, &ix->digest, oci, len);
        assert_string_equal(ix->media_type, KILN_MT_OCI_INDEX);
        assert_int_equal(ix->n_manifests, 4);
        assert_string_equal(ix->manifests[0].platform->architecture, "ppc64le");
        assert_string_equal(ix->manifests[0].platform->os, "linux");
        assert_null(ix->manifests[0].platform->variant);
        assert_string_equal(ix->manifests[1].platform->variant, "v8");
        assert_string_equal(ix->manifests[2].platform->os_version, "10.0.17763.1457");
        assert_string_equal(json_string_value(json_object_get(ix->manifests[3].annotations,
                                                              "vnd.docker.reference.type")),
                            "attestation-manifest");
        assert_int_equal(json_object_size(ix->annotations), 1);

        _cleanup_free_ char *docker = read_data("list-docker.json", &len);
        assert_int_equal(kiln_index_parse(docker, len, NULL, &dl, &e), 0);
        assert_raw(dl->raw, dl->raw_len, &dl->digest, docker, len);
        assert_string_equal(dl->media_type, KILN_MT_DOCKER_LIST);
        assert_int_equal(dl->n_manifests, 2);
        assert_string_equal(dl->manifests[1].platform->variant, "v7");
        assert_null(dl->annotations);

        struct kiln_index *x = NULL;
        assert_int_equal(kiln_index_parse(docker, len, KILN_MT_OCI_INDEX, &x, &e), -KILN_EFORMAT);
        assert_string_equal(e.msg, "index: mediaType '" KILN_MT_DOCKER_LIST
                                   "' does not match the expected '" KILN_MT_OCI_INDEX "'");
        assert_null(x);

        /* an empty index without mediaType is an OCI index */
        const char *empty = "{\"schemaVersion\":2,\"manifests\":[]}";
        _cleanup_(kiln_index_freep) struct kiln_index *ei = NULL;
        assert_int_equal(kiln_index_parse(empty, strlen(empty), NULL, &ei, &e), 0);
        assert_string_equal(ei->media_type, KILN_MT_OCI_INDEX);
        assert_int_equal(ei->n_manifests, 0);
}

#define MDESC(members) "{\"mediaType\":\"" KILN_MT_OCI_MANIFEST "\",\"digest\":\"" H1 "\",\"size\":5" members "}"
#define IDX(manifests) "{\"schemaVersion\":2,\"manifests\":[" manifests "]}"

static const struct bad bad_indexes[] = {
        { "{", NULL, -KILN_EFORMAT, "index: invalid JSON at line 1 column 1: *" },
        { "[1]", NULL, -KILN_EFORMAT, "index: not a JSON object" },
        { "{\"manifests\":[]}", NULL, -KILN_EFORMAT, "index: missing schemaVersion" },
        { "{\"schemaVersion\":1,\"manifests\":[]}", NULL, -KILN_EFORMAT,
          "index: schemaVersion: must be 2, got 1" },
        { "{\"schemaVersion\":2}", NULL, -KILN_EFORMAT, "index: missing manifests" },
        { "{\"schemaVersion\":2,\"manifests\":{}}", NULL, -KILN_EFORMAT,
          "index: manifests: must be an array" },
        { IDX(MDESC("") "," MDESC(",\"platform\":{\"architecture\":\"amd64\"}")), NULL, -KILN_EFORMAT,
          "index: manifests[1].platform: missing os" },
        { IDX(MDESC(",\"platform\":{\"architecture\":\"amd64\",\"os\":5}")), NULL, -KILN_EFORMAT,
          "index: manifests[0].platform.os: must be a string" },
        { IDX(MDESC(",\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":7}")), NULL,
          -KILN_EFORMAT, "index: manifests[0].platform.variant: must be a string" },
        { IDX(MDESC(",\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"os.version\":1}")), NULL,
          -KILN_EFORMAT, "index: manifests[0].platform.os.version: must be a string" },
        { IDX(MDESC(",\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"os.features\":\"x\"}")),
          NULL, -KILN_EFORMAT, "index: manifests[0].platform.os.features: must be an array" },
        { IDX(MDESC(",\"platform\":[]")), NULL, -KILN_EFORMAT,
          "index: manifests[0].platform: must be an object" },
        { IDX("{\"mediaType\":\"x\",\"digest\":\"sha256:xyz\",\"size\":1}"), NULL, -KILN_EFORMAT,
          "index: manifests[0].digest: invalid digest 'sha256:xyz': sha256 needs 64 hex characters, got 3" },
        { IDX(MDESC("")), KILN_MT_DOCKER_LIST, -KILN_EFORMAT,
          "index: missing mediaType (required for docker manifest lists)" },
        { IDX(MDESC("")), KILN_MT_OCI_MANIFEST, -KILN_EFORMAT,
          "index: media type '" KILN_MT_OCI_MANIFEST "' is not an image index" },
        { MAN(",\"mediaType\":\"" KILN_MT_OCI_MANIFEST "\""), NULL, -KILN_EFORMAT,
          "index: mediaType: '" KILN_MT_OCI_MANIFEST "' is not an image index" },
        { MAN(""), NULL, -KILN_EFORMAT, "index: missing manifests" },
        { "{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"k\":[]}}", NULL, -KILN_EFORMAT,
          "index: annotations.k: must be a string" },
        { "{\"schemaVersion\":2,\"manifests\":[],\"subject\":5}", NULL, -KILN_EFORMAT,
          "index: subject: must be an object" },
        { "{\"schemaVersion\":2,\"manifests\":[],\"artifactType\":5}", NULL, -KILN_EFORMAT,
          "index: artifactType: must be a string" },
};

static void test_index_bad(void **state)
{
        unsigned failures = 0;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad_indexes); i++) {
                const struct bad *b = &bad_indexes[i];
                struct kiln_error e = { 0 };
                struct kiln_index *ix = NULL;
                int r = kiln_index_parse(b->doc, strlen(b->doc), b->hint, &ix, &e);
                if (r != b->code)
                        fail_msg("%s: got %d (%s), want %d", b->doc, r, e.msg, b->code);
                assert_null(ix);
                failures += check_msg(b->doc, e.msg, b->msg);
        }
        assert_int_equal(failures, 0);
}

/* ---- configs ---- */

static void test_config_good(void **state)
{
        size_t len;
        _cleanup_free_ char *data = read_data("config.json", &len);
        struct kiln_error e = { 0 };
        _cleanup_(kiln_config_freep) struct kiln_config *c = NULL;
        assert_int_equal(kiln_config_parse(data, len, &c, &e), 0);
        assert_raw(c->raw, c->raw_len, &c->digest, data, len);
        assert_string_equal(c->architecture, "amd64");
        assert_string_equal(c->os, "linux");
        assert_null(c->variant);
        assert_string_equal(c->created, "2024-01-02T03:04:05.123456789Z");
        assert_string_equal(c->author, "kiln tests <tests@example.com>");
        assert_non_null(c->config);
        assert_string_equal(json_string_value(json_object_get(c->config, "User")), "alice");
        assert_int_equal(c->n_diff_ids, 2);
        assert_string_equal(c->diff_ids[1].str,
                            "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
        assert_int_equal(c->n_history, 3);
        assert_string_equal(c->history[0].comment, "imported");
        assert_false(c->history[0].empty_layer);
        assert_null(c->history[0].author);
        assert_true(c->history[1].empty_layer);
        assert_string_equal(c->history[1].created_by, "/bin/sh -c #(nop) CMD [\"sh\"]");
        assert_string_equal(c->history[2].author, "alice");
        assert_non_null(c->json);

        /* the smallest config: no layers, Docker leaves diff_ids out */
        const char *min = "{\"architecture\":\"arm\",\"variant\":\"v7\",\"os\":\"linux\","
                          "\"config\":null,\"history\":null,\"rootfs\":{\"type\":\"layers\"}}";
        _cleanup_(kiln_config_freep) struct kiln_config *m = NULL;
        assert_int_equal(kiln_config_parse(min, strlen(min), &m, &e), 0);
        assert_string_equal(m->variant, "v7");
        assert_null(m->config);
        assert_int_equal(m->n_diff_ids, 0);
        assert_int_equal(m->n_history, 0);
        assert_null(m->created);
}

#define CONF(extra) "{\"architecture\":\"amd64\",\"os\":\"linux\"" extra "}"
#define ROOTFS ",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}"

static const struct bad bad_configs[] = {
        { "", NULL, -KILN_EFORMAT, "config: invalid JSON at line 1 column 0: *" },
        { "[]", NULL, -KILN_EFORMAT, "config: not a JSON object" },
        { "{\"os\":\"linux\"" ROOTFS "}", NULL, -KILN_EFORMAT, "config: missing architecture" },
        { "{\"architecture\":1,\"os\":\"linux\"" ROOTFS "}", NULL, -KILN_EFORMAT,
          "config: architecture: must be a string" },
        { "{\"architecture\":\"amd64\"" ROOTFS "}", NULL, -KILN_EFORMAT, "config: missing os" },
        { CONF(",\"variant\":1" ROOTFS), NULL, -KILN_EFORMAT, "config: variant: must be a string" },
        { CONF(",\"os.version\":1" ROOTFS), NULL, -KILN_EFORMAT, "config: os.version: must be a string" },
        { CONF(",\"created\":1" ROOTFS), NULL, -KILN_EFORMAT, "config: created: must be a string" },
        { CONF(",\"author\":false" ROOTFS), NULL, -KILN_EFORMAT, "config: author: must be a string" },
        { CONF(",\"config\":[]" ROOTFS), NULL, -KILN_EFORMAT, "config: config: must be an object" },
        { CONF(""), NULL, -KILN_EFORMAT, "config: missing rootfs" },
        { CONF(",\"rootfs\":\"layers\""), NULL, -KILN_EFORMAT, "config: rootfs: must be an object" },
        { CONF(",\"rootfs\":{}"), NULL, -KILN_EFORMAT, "config: rootfs: missing type" },
        { CONF(",\"rootfs\":{\"type\":1}"), NULL, -KILN_EFORMAT, "config: rootfs.type: must be a string" },
        { CONF(",\"rootfs\":{\"type\":\"layer\"}"), NULL, -KILN_EFORMAT,
          "config: rootfs.type: must be 'layers', got 'layer'" },
        { CONF(",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":{}}"), NULL, -KILN_EFORMAT,
          "config: rootfs.diff_ids: must be an array" },
        { CONF(",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" H1 "\",1]}"), NULL, -KILN_EFORMAT,
          "config: rootfs.diff_ids[1]: must be a string" },
        { CONF(",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:abc\"]}"), NULL, -KILN_EFORMAT,
          "config: rootfs.diff_ids[0]: invalid digest 'sha256:abc': sha256 needs 64 hex characters, got 3" },
        { CONF(ROOTFS ",\"history\":{}"), NULL, -KILN_EFORMAT, "config: history: must be an array" },
        { CONF(ROOTFS ",\"history\":[{},1]"), NULL, -KILN_EFORMAT, "config: history[1]: must be an object" },
        { CONF(ROOTFS ",\"history\":[{\"created\":1}]"), NULL, -KILN_EFORMAT,
          "config: history[0].created: must be a string" },
        { CONF(ROOTFS ",\"history\":[{\"created_by\":[]}]"), NULL, -KILN_EFORMAT,
          "config: history[0].created_by: must be a string" },
        { CONF(ROOTFS ",\"history\":[{\"author\":{}}]"), NULL, -KILN_EFORMAT,
          "config: history[0].author: must be a string" },
        { CONF(ROOTFS ",\"history\":[{\"comment\":2}]"), NULL, -KILN_EFORMAT,
          "config: history[0].comment: must be a string" },
        { CONF(ROOTFS ",\"history\":[{\"empty_layer\":\"true\"}]"), NULL, -KILN_EFORMAT,
          "config: history[0].empty_layer: must be a boolean" },
};

static void test_config_bad(void **state)
{
        unsigned failures = 0;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad_configs); i++) {
                const struct bad *b = &bad_configs[i];
                struct kiln_error e = { 0 };
                struct kiln_config *c = NULL;
                int r = kiln_config_parse(b->doc, strlen(b->doc), &c, &e);
                if (r != b->code)
                        fail_msg("%s: got %d (%s), want %d", b->doc, r, e.msg, b->code);
                assert_null(c);
                failures += check_msg(b->doc, e.msg, b->msg);
        }
        assert_int_equal(failures, 0);
}

/* ---- media types, descriptors, building ---- */

static void test_media_types(void **state)
{
        static const struct {
                const char *mt;
                enum kiln_mt_compression c;
        } t[] = {
                { KILN_MT_OCI_LAYER, KILN_MT_COMP_NONE },
                { KILN_MT_OCI_LAYER_GZIP, KILN_MT_COMP_GZIP },
                { KILN_MT_OCI_LAYER_ZSTD, KILN_MT_COMP_ZSTD },
                { KILN_MT_OCI_LAYER_NONDIST, KILN_MT_COMP_NONE },
                { KILN_MT_OCI_LAYER_NONDIST_GZIP, KILN_MT_COMP_GZIP },
                { KILN_MT_OCI_LAYER_NONDIST_ZSTD, KILN_MT_COMP_ZSTD },
                { KILN_MT_DOCKER_LAYER, KILN_MT_COMP_GZIP },
                { KILN_MT_DOCKER_LAYER_FOREIGN, KILN_MT_COMP_GZIP },
                { "application/vnd.docker.image.rootfs.diff.tar", KILN_MT_COMP_NONE },
                { KILN_MT_OCI_LAYER_GZIP "; foo=bar", KILN_MT_COMP_GZIP },
                { KILN_MT_OCI_CONFIG, KILN_MT_COMP_UNKNOWN },
                { KILN_MT_OCI_MANIFEST, KILN_MT_COMP_UNKNOWN },
                { "application/vnd.oci.image.layer.v1.tar+gzip+x", KILN_MT_COMP_UNKNOWN },
                { "application/vnd.oci.image.layer.v1.ta", KILN_MT_COMP_UNKNOWN },
                { "", KILN_MT_COMP_UNKNOWN },
                { NULL, KILN_MT_COMP_UNKNOWN },
        };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(t); i++)
                assert_int_equal(kiln_media_type_layer_compression(t[i].mt), t[i].c);

        assert_true(kiln_media_type_is_manifest(KILN_MT_OCI_MANIFEST));
        assert_true(kiln_media_type_is_manifest(KILN_MT_DOCKER_MANIFEST));
        assert_true(kiln_media_type_is_manifest(KILN_MT_DOCKER_MANIFEST " ; charset=utf-8"));
        assert_false(kiln_media_type_is_manifest(KILN_MT_OCI_INDEX));
        assert_false(kiln_media_type_is_manifest("application/json"));
        assert_false(kiln_media_type_is_manifest(NULL));
        assert_true(kiln_media_type_is_index(KILN_MT_OCI_INDEX));
        assert_true(kiln_media_type_is_index(KILN_MT_DOCKER_LIST));
        assert_false(kiln_media_type_is_index(KILN_MT_OCI_MANIFEST));
        assert_false(kiln_media_type_is_index(""));
}

static void test_descriptor_json(void **state)
{
        const char *in = "{\"platform\":{\"variant\":\"v8\",\"os\":\"linux\",\"architecture\":\"arm64\","
                         "\"os.version\":\"1\",\"os.features\":[\"x\"]},"
                         "\"annotations\":{\"z\":\"1\",\"a\":\"2\",\"m\":\"3\"},\"size\":42,"
                         "\"artifactType\":\"application/x\",\"urls\":[\"https://x\"],"
                         "\"digest\":\"" H1 "\",\"mediaType\":\"" KILN_MT_OCI_MANIFEST "\"}";
        json_auto_t *j = json_loads(in, 0, NULL);
        assert_non_null(j);
        struct kiln_error e = { 0 };
        struct kiln_descriptor d, c;
        assert_int_equal(kiln_descriptor_from_json(j, "manifests[0]", &d, &e), 0);
        assert_int_equal(d.size, 42);
        assert_string_equal(d.artifact_type, "application/x");
        assert_string_equal(d.platform->architecture, "arm64");

        /* keys in spec order, annotations sorted as Go writes a map */
        const char *want = "{\"mediaType\":\"" KILN_MT_OCI_MANIFEST "\",\"digest\":\"" H1 "\","
                           "\"size\":42,\"annotations\":{\"a\":\"2\",\"m\":\"3\",\"z\":\"1\"},"
                           "\"artifactType\":\"application/x\",\"platform\":{\"architecture\":"
                           "\"arm64\",\"os\":\"linux\",\"os.version\":\"1\",\"variant\":\"v8\"}}";
        kiln_descriptor_copy(&c, &d);
        kiln_descriptor_clear(&d);
        assert_null(d.media_type);
        kiln_descriptor_clear(&d); /* twice is fine */
        json_auto_t *out = kiln_descriptor_to_json(&c);
        size_t len;
        _cleanup_free_ char *s = kiln_json_dump(out, &len);
        assert_string_equal(s, want);
        assert_int_equal(len, strlen(want));
        kiln_descriptor_clear(&c);

        /* without a path, messages start at the field */
        json_auto_t *bad = json_loads("{\"mediaType\":\"x\",\"digest\":\"x\",\"size\":1}", 0, NULL);
        assert_int_equal(kiln_descriptor_from_json(bad, NULL, &d, &e), -KILN_EFORMAT);
        assert_string_equal(e.msg, "digest: invalid digest 'x': no algorithm");
        assert_int_equal(kiln_descriptor_from_json(json_array_get(NULL, 0), "", &d, &e),
                         -KILN_EFORMAT);
        assert_string_equal(e.msg, "must be an object");

        /* an incomplete descriptor has no JSON form */
        struct kiln_descriptor empty = { 0 };
        assert_null(kiln_descriptor_to_json(&empty));
        assert_null(kiln_descriptor_to_json(NULL));
        kiln_descriptor_clear(NULL);
}

static void test_manifest_build(void **state)
{
        struct kiln_descriptor config = { .media_type = KILN_MT_OCI_CONFIG, .size = 7 };
        struct kiln_descriptor layers[2] = {
                { .media_type = KILN_MT_OCI_LAYER_GZIP, .size = 1 },
                { .media_type = KILN_MT_OCI_LAYER_ZSTD, .size = 0 },
        };
        assert_int_equal(kiln_digest_parse(HCFG, &config.digest, NULL), 0);
        assert_int_equal(kiln_digest_parse(H1, &layers[0].digest, NULL), 0);
        assert_int_equal(kiln_digest_parse(H2, &layers[1].digest, NULL), 0);
        json_auto_t *ann = json_pack("{s:s,s:s}", "org.opencontainers.image.ref.name", "v1",
                                     "com.example", "x");
        layers[1].annotations = json_pack("{s:s}", "k", "v");

        char *s = NULL;
        size_t len = 0;
        assert_int_equal(kiln_manifest_build(&config, layers, 2, ann, &s, &len), 0);
        const char *want =
                "{\"schemaVersion\":2,\"mediaType\":\"" KILN_MT_OCI_MANIFEST "\","
                "\"config\":{\"mediaType\":\"" KILN_MT_OCI_CONFIG "\",\"digest\":\"" HCFG "\",\"size\":7},"
                "\"layers\":[{\"mediaType\":\"" KILN_MT_OCI_LAYER_GZIP "\",\"digest\":\"" H1 "\",\"size\":1},"
                "{\"mediaType\":\"" KILN_MT_OCI_LAYER_ZSTD "\",\"digest\":\"" H2 "\",\"size\":0,"
                "\"annotations\":{\"k\":\"v\"}}],"
                "\"annotations\":{\"com.example\":\"x\",\"org.opencontainers.image.ref.name\":\"v1\"}}";
        assert_string_equal(s, want);
        assert_int_equal(len, strlen(want));

        /* it parses back to the same descriptors */
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
        struct kiln_error e = { 0 };
        assert_int_equal(kiln_manifest_parse(s, len, KILN_MT_OCI_MANIFEST, &m, &e), 0);
        assert_int_equal(m->n_layers, 2);
        assert_string_equal(m->layers[1].digest.str, H2);
        assert_int_equal(m->config.size, 7);
        struct kiln_digest d;
        kiln_digest_buf(KILN_DIGEST_SHA256, s, len, &d);
        assert_true(kiln_digest_equal(&d, &m->digest));
        free(s);
        json_decref(layers[1].annotations);
        layers[1].annotations = NULL;

        /* no layers, no annotations */
        assert_int_equal(kiln_manifest_build(&config, NULL, 0, NULL, &s, NULL), 0);
        assert_string_equal(s, "{\"schemaVersion\":2,\"mediaType\":\"" KILN_MT_OCI_MANIFEST "\","
                               "\"config\":{\"mediaType\":\"" KILN_MT_OCI_CONFIG "\",\"digest\":\""
                               HCFG "\",\"size\":7},\"layers\":[]}");
        free(s);

        /* invalid input */
        s = NULL;
        assert_int_equal(kiln_manifest_build(NULL, NULL, 0, NULL, &s, NULL), -EINVAL);
        assert_int_equal(kiln_manifest_build(&config, NULL, 1, NULL, &s, NULL), -EINVAL);
        struct kiln_descriptor incomplete = { .size = 1 };
        assert_int_equal(kiln_manifest_build(&config, &incomplete, 1, NULL, &s, NULL), -EINVAL);
        assert_int_equal(kiln_manifest_build(&incomplete, NULL, 0, NULL, &s, NULL), -EINVAL);
        json_auto_t *arr = json_array();
        assert_int_equal(kiln_manifest_build(&config, NULL, 0, arr, &s, NULL), -EINVAL);
        json_auto_t *bad = json_pack("{s:i}", "k", 1);
        assert_int_equal(kiln_manifest_build(&config, NULL, 0, bad, &s, NULL), -EINVAL);
        assert_null(s);
}

static void test_json_dump(void **state)
{
        json_auto_t *j = json_object();
        json_object_set_new(j, "z", json_integer(1));
        json_object_set_new(j, "a", json_string("é/<>"));
        size_t len;
        _cleanup_free_ char *s = kiln_json_dump(j, &len);
        assert_string_equal(s, "{\"z\":1,\"a\":\"é/<>\"}");
        assert_int_equal(len, strlen(s));
        json_auto_t *n = json_integer(5);
        _cleanup_free_ char *t = kiln_json_dump(n, NULL);
        assert_string_equal(t, "5");
        assert_null(kiln_json_dump(NULL, &len));
}

static void test_platform(void **state)
{
        assert_string_equal(kiln_platform_os(), "linux");
        const char *a = kiln_platform_arch();
        assert_non_null(a);
#if defined(__x86_64__)
        assert_string_equal(a, "amd64");
#elif defined(__aarch64__)
        assert_string_equal(a, "arm64");
#endif
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_manifest_oci),
                cmocka_unit_test(test_manifest_docker),
                cmocka_unit_test(test_manifest_artifact),
                cmocka_unit_test(test_manifest_raw),
                cmocka_unit_test(test_too_big),
                cmocka_unit_test(test_manifest_bad),
                cmocka_unit_test(test_manifest_nulls),
                cmocka_unit_test(test_index_good),
                cmocka_unit_test(test_index_bad),
                cmocka_unit_test(test_config_good),
                cmocka_unit_test(test_config_bad),
                cmocka_unit_test(test_media_types),
                cmocka_unit_test(test_descriptor_json),
                cmocka_unit_test(test_manifest_build),
                cmocka_unit_test(test_json_dump),
                cmocka_unit_test(test_platform),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
