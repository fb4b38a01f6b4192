/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image documents: descriptors, manifests, indexes (manifest lists) and image
 * configs, for both the OCI image spec v1.1 and Docker schema2 media types.
 *
 * Parsed documents keep the raw bytes they came from: a digest covers exact
 * bytes, so a document is never re-serialized to be stored or sent.
 * Every parser enforces a size limit (KILN_DOC_MAX) and validates required
 * fields; errors are one line ("manifest: layers[2].digest: invalid digest").
 */
#pragma once

#include <jansson.h>
#include "kiln/base.h"
#include "kiln/digest.h"

#define KILN_DOC_MAX (4 * 1024 * 1024) /* manifests, indexes, configs */

/* Media types */
#define KILN_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define KILN_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define KILN_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define KILN_MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define KILN_MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define KILN_MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define KILN_MT_OCI_LAYER_NONDIST "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define KILN_MT_OCI_LAYER_NONDIST_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define KILN_MT_OCI_LAYER_NONDIST_ZSTD "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
#define KILN_MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"
#define KILN_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define KILN_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define KILN_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define KILN_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define KILN_MT_DOCKER_LAYER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

#define KILN_ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"

/* What a layer media type says about its compression. */
enum kiln_mt_compression {
        KILN_MT_COMP_UNKNOWN = -1, /* not a layer media type */
        KILN_MT_COMP_NONE = 0,
        KILN_MT_COMP_GZIP = 1,
        KILN_MT_COMP_ZSTD = 2,
};
enum kiln_mt_compression kiln_media_type_layer_compression(const char *mt);
bool kiln_media_type_is_manifest(const char *mt);
bool kiln_media_type_is_index(const char *mt);

struct kiln_platform {
        char *architecture;
        char *os;
        char *variant;    /* may be NULL */
        char *os_version; /* may be NULL */
};

struct kiln_descriptor {
        char *media_type;
        struct kiln_digest digest;
        int64_t size;
        char *artifact_type;             /* may be NULL */
        json_t *annotations;             /* object or NULL; owned */
        struct kiln_platform *platform;  /* may be NULL; owned */
};

struct kiln_manifest {
        char *raw;  /* exact bytes (NUL-terminated copy) */
        size_t raw_len;
        struct kiln_digest digest; /* of raw */
        char *media_type; /* from the document, or the hint when absent */
        struct kiln_descriptor config;
        struct kiln_descriptor *layers;
        size_t n_layers;
        struct kiln_descriptor *subject; /* may be NULL */
        char *artifact_type;             /* may be NULL */
        json_t *annotations;             /* may be NULL */
};

struct kiln_index {
        char *raw;
        size_t raw_len;
        struct kiln_digest digest;
        char *media_type;
        struct kiln_descriptor *manifests;
        size_t n_manifests;
        json_t *annotations;
};

/* One entry of the config's "history" array. */
struct kiln_history {
        char *created;    /* RFC 3339 or NULL */
        char *created_by; /* or NULL */
        char *author;
        char *comment;
        bool empty_layer;
};

struct kiln_config {
        char *raw;
        size_t raw_len;
        struct kiln_digest digest; /* the image ID */
        json_t *json;              /* the whole document (owned) */
        const char *architecture;  /* point into json */
        const char *os;
        const char *variant;       /* may be NULL */
        const char *created;       /* may be NULL */
        const char *author;        /* may be NULL */
        json_t *config;            /* the "config" object, or NULL (borrowed) */
        struct kiln_digest *diff_ids;
        size_t n_diff_ids;
        struct kiln_history *history;
        size_t n_history;
};

/*
 * Parse a manifest (OCI or Docker schema2). media_type_hint is the type the
 * transport reported (e.g. a descriptor's mediaType or Content-Type) and may
 * be NULL; when the document carries its own mediaType the two must agree.
 * Returns -KILN_EFORMAT / -KILN_ETOOBIG with a message.
 */
int kiln_manifest_parse(const void *data, size_t len, const char *media_type_hint,
                        struct kiln_manifest **ret, struct kiln_error *err);
void kiln_manifest_free(struct kiln_manifest *m);
KILN_DEFINE_CLEANUP(struct kiln_manifest *, kiln_manifest_free)

/* Parse an OCI index or Docker manifest list. */
int kiln_index_parse(const void *data, size_t len, const char *media_type_hint,
                     struct kiln_index **ret, struct kiln_error *err);
void kiln_index_free(struct kiln_index *ix);
KILN_DEFINE_CLEANUP(struct kiln_index *, kiln_index_free)

/* Parse an image config (OCI or Docker; same JSON shape). */
int kiln_config_parse(const void *data, size_t len, struct kiln_config **ret,
                      struct kiln_error *err);
void kiln_config_free(struct kiln_config *c);
KILN_DEFINE_CLEANUP(struct kiln_config *, kiln_config_free)

/*
 * Parse one descriptor object (used by the parsers above and by the store's
 * index.json reader). path names the field in error messages.
 */
int kiln_descriptor_from_json(json_t *obj, const char *path,
                              struct kiln_descriptor *ret, struct kiln_error *err);
/* Descriptor to a new JSON object (keys in spec order). */
json_t *kiln_descriptor_to_json(const struct kiln_descriptor *d);
/* Free the members of a descriptor (not the struct itself). */
void kiln_descriptor_clear(struct kiln_descriptor *d);
/* Deep copy. */
void kiln_descriptor_copy(struct kiln_descriptor *dst, const struct kiln_descriptor *src);

/*
 * Serialize a new OCI image manifest (schemaVersion 2, mediaType set) from a
 * config descriptor and layer descriptors; annotations may be NULL.
 * Output is compact JSON with keys in spec order. Caller frees *ret.
 */
int kiln_manifest_build(const struct kiln_descriptor *config,
                        const struct kiln_descriptor *layers, size_t n_layers,
                        json_t *annotations, char **ret, size_t *ret_len);

/* Serialize a JSON document compactly with keys in insertion order. */
char *kiln_json_dump(json_t *j, size_t *ret_len);

/* The platform this binary runs on, in OCI/Go terms ("amd64", "linux"). */
const char *kiln_platform_arch(void);
const char *kiln_platform_os(void);
