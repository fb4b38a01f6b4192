/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the document parsers of lib/oci/image.c: manifests
 * (with and without a media type hint), indexes and configs. What parses
 * must keep its exact bytes and digest them, its descriptors must survive
 * to_json/from_json, and a manifest rebuilt from them must parse again.
 */
#include <stdint.h>
#include <string.h>
#include "kiln/image.h"

static const char *const hints[] = {
        NULL,
        KILN_MT_OCI_MANIFEST,
        KILN_MT_DOCKER_MANIFEST,
        KILN_MT_OCI_INDEX,
        KILN_MT_DOCKER_LIST,
        "application/json",
};

static void check_raw(const char *raw, size_t raw_len, const struct kiln_digest *d,
                      const uint8_t *data, size_t size)
{
        struct kiln_digest want;
        if (raw_len != size || memcmp(raw, data, size) != 0 || raw[size] != 0)
                __builtin_trap();
        kiln_digest_buf(KILN_DIGEST_SHA256, data, size, &want);
        if (!kiln_digest_equal(d, &want))
                __builtin_trap();
}

/* to_json, then from_json, gives the same JSON again. */
static void check_descriptor(const struct kiln_descriptor *d)
{
        struct kiln_descriptor copy, back;
        kiln_descriptor_copy(&copy, d);
        json_t *j = kiln_descriptor_to_json(&copy);
        if (!j)
                __builtin_trap();
        if (kiln_descriptor_from_json(j, "x", &back, NULL) < 0)
                __builtin_trap();
        json_t *j2 = kiln_descriptor_to_json(&back);
        if (!j2 || !json_equal(j, j2))
                __builtin_trap();
        json_decref(j);
        json_decref(j2);
        kiln_descriptor_clear(&back);
        kiln_descriptor_clear(&copy);
}

static void fuzz_manifest(const uint8_t *data, size_t size, const char *hint)
{
        struct kiln_error err = { 0 };
        struct kiln_manifest *m = NULL;
        if (kiln_manifest_parse(data, size, hint, &m, &err) < 0) {
                if (!err.msg[0] || m)
                        __builtin_trap();
                return;
        }
        check_raw(m->raw, m->raw_len, &m->digest, data, size);
        if (!kiln_media_type_is_manifest(m->media_type))
                __builtin_trap();
        check_descriptor(&m->config);
        for (size_t i = 0; i < m->n_layers; i++) {
                check_descriptor(&m->layers[i]);
                (void)kiln_media_type_layer_compression(m->layers[i].media_type);
        }
        if (m->subject)
                check_descriptor(m->subject);

        char *built = NULL;
        size_t len = 0;
        int r = kiln_manifest_build(&m->config, m->layers, m->n_layers, m->annotations, &built,
                                    &len);
        if (r == -KILN_ETOOBIG) { /* only near KILN_DOC_MAX: mediaType may be added */
                kiln_manifest_free(m);
                return;
        }
        if (r < 0)
                __builtin_trap();
        struct kiln_manifest *again = NULL;
        if (kiln_manifest_parse(built, len, KILN_MT_OCI_MANIFEST, &again, NULL) < 0)
                __builtin_trap();
        if (again->n_layers != m->n_layers ||
            !kiln_digest_equal(&again->config.digest, &m->config.digest))
                __builtin_trap();
        kiln_manifest_free(again);
        free(built);
        kiln_manifest_free(m);
}

static void fuzz_index(const uint8_t *data, size_t size, const char *hint)
{
        struct kiln_index *ix = NULL;
        struct kiln_error err = { 0 };
        if (kiln_index_parse(data, size, hint, &ix, &err) < 0) {
                if (!err.msg[0] || ix)
                        __builtin_trap();
                return;
        }
        check_raw(ix->raw, ix->raw_len, &ix->digest, data, size);
        for (size_t i = 0; i < ix->n_manifests; i++)
                check_descriptor(&ix->manifests[i]);
        kiln_index_free(ix);
}

static void fuzz_config(const uint8_t *data, size_t size)
{
        struct kiln_config *c = NULL;
        struct kiln_error err = { 0 };
        if (kiln_config_parse(data, size, &c, &err) < 0) {
                if (!err.msg[0] || c)
                        __builtin_trap();
                return;
        }
        check_raw(c->raw, c->raw_len, &c->digest, data, size);
        if (!c->architecture || !c->os || (c->n_diff_ids && !c->diff_ids))
                __builtin_trap();
        for (size_t i = 0; i < c->n_history; i++)
                (void)c->history[i].empty_layer;
        kiln_config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
                fuzz_manifest(data, size, hints[i]);
                fuzz_index(data, size, hints[i]);
        }
        fuzz_config(data, size);
        return 0;
}
