/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Manifests, indexes and image configs: parse and validate, keeping the
 * exact bytes (a digest covers bytes, not a JSON value), and build new OCI
 * manifests. See include/kiln/image.h and docs/internals/oci.md.
 */
#include <string.h>
#include "kiln/image.h"
#include "oci-internal.h"

/*
 * Size check and JSON decoding shared by the three parsers. Duplicate keys
 * are rejected: two parsers reading the same signed bytes must not see
 * different values. Non-UTF-8 and "\u0000" in strings are rejected by
 * jansson as well.
 */
static int load_doc(const char *what, const void *data, size_t len, json_t **ret,
                    struct kiln_error *err)
{
        if (len > KILN_DOC_MAX)
                return kiln_err(err, -KILN_ETOOBIG, "%s: %zu bytes is over the limit of %d", what,
                                len, KILN_DOC_MAX);
        if (!data && len > 0)
                return kiln_err(err, -EINVAL, "%s: no data", what);
        json_error_t jerr;
        json_t *root = json_loadb(data ? data : "", len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return kiln_err(err, -KILN_EFORMAT, "%s: invalid JSON at line %d column %d: %s",
                                what, jerr.line, jerr.column, jerr.text);
        if (!json_is_object(root)) {
                json_decref(root);
                return kiln_err(err, -KILN_EFORMAT, "%s: not a JSON object", what);
        }
        *ret = root;
        return 0;
}

/* NUL-terminated copy of the exact input bytes, and their digest. */
static void keep_raw(const void *data, size_t len, char **ret_raw, size_t *ret_len,
                     struct kiln_digest *ret_digest)
{
        char *raw = kiln_xmalloc(len + 1);
        if (len)
                memcpy(raw, data, len);
        raw[len] = 0;
        kiln_digest_buf(KILN_DIGEST_SHA256, raw, len, ret_digest);
        *ret_raw = raw;
        *ret_len = len;
}

/* schemaVersion must be the integer 2; a manifest's 1 is Docker's schema1. */
static int check_schema_version(json_t *root, bool manifest, struct kiln_error *err)
{
        json_t *v = oci_member(root, "schemaVersion");
        if (!v)
                return kiln_err(err, -KILN_EFORMAT, "missing schemaVersion");
        if (!json_is_integer(v))
                return kiln_err(err, -KILN_EFORMAT, "schemaVersion: must be an integer");
        json_int_t n = json_integer_value(v);
        if (n == 1 && manifest)
                return kiln_err(err, -KILN_EUNSUPPORTED,
                                "schemaVersion: must be 2, got 1 (docker schema1 is not supported)");
        if (n != 2)
                return kiln_err(err, -KILN_EFORMAT,
                                "schemaVersion: must be 2, got %" JSON_INTEGER_FORMAT, n);
        return 0;
}

static bool is_exact(const char *mt, const char *a, const char *b)
{
        return strcmp(mt, a) == 0 || strcmp(mt, b) == 0;
}

/*
 * The document's media type. The hint (what the transport said) may carry
 * parameters ("; charset=utf-8"), which are dropped; the document's own
 * mediaType must be one of the two known types exactly. When both are
 * there they must agree. Docker's formats always carry mediaType, so a
 * Docker hint with a document lacking it is an error; an OCI document
 * without one is fine and gets the hint, or the OCI type.
 */
static int resolve_media_type(json_t *root, const char *hint, bool index, char **ret,
                              struct kiln_error *err)
{
        const char *oci = index ? KILN_MT_OCI_INDEX : KILN_MT_OCI_MANIFEST;
        const char *docker = index ? KILN_MT_DOCKER_LIST : KILN_MT_DOCKER_MANIFEST;
        const char *kind = index ? "an image index" : "an image manifest";
        const char *base = NULL;
        const char *mt;
        int r;

        if (hint) {
                bool ok = index ? kiln_media_type_is_index(hint) : kiln_media_type_is_manifest(hint);
                if (!ok)
                        return kiln_err(err, -KILN_EFORMAT, "media type '%.80s' is not %s", hint,
                                        kind);
                /* the parameter-free spelling of the hint */
                base = kiln_startswith(hint, oci) ? oci : docker;
        }
        if ((r = oci_opt_string(root, "", "mediaType", &mt, err)) < 0)
                return r;
        if (mt) {
                if (!is_exact(mt, oci, docker))
                        return kiln_err(err, -KILN_EFORMAT, "mediaType: '%.80s' is not %s", mt, kind);
                if (base && strcmp(mt, base) != 0)
                        return kiln_err(err, -KILN_EFORMAT,
                                        "mediaType '%s' does not match the expected '%s'", mt, base);
                *ret = kiln_xstrdup(mt);
                return 0;
        }
        if (base && strcmp(base, docker) == 0)
                return kiln_err(err, -KILN_EFORMAT, "missing mediaType (required for %s)",
                                index ? "docker manifest lists" : "docker schema2 manifests");
        *ret = kiln_xstrdup(base ? base : oci);
        return 0;
}

/* An optional descriptor member ("subject"); *ret stays NULL when absent. */
static int opt_descriptor(json_t *root, const char *key, struct kiln_descriptor **ret,
                          struct kiln_error *err)
{
        json_t *v = oci_member(root, key);
        if (!v)
                return 0;
        struct kiln_descriptor *d = kiln_xcalloc(1, sizeof(*d));
        int r = kiln_descriptor_from_json(v, key, d, err);
        if (r < 0) {
                free(d);
                return r;
        }
        *ret = d;
        return 0;
}

/*
 * A required array of descriptors: *ret gets n entries; on failure the
 * ones parsed so far stay in *ret with *ret_n counting them, for the
 * caller's destructor.
 */
static int descriptor_array(json_t *root, const char *key, struct kiln_descriptor **ret,
                            size_t *ret_n, struct kiln_error *err)
{
        json_t *v = oci_member(root, key);
        if (!v)
                return kiln_err(err, -KILN_EFORMAT, "missing %s", key);
        if (!json_is_array(v))
                return kiln_err(err, -KILN_EFORMAT, "%s: must be an array", key);
        *ret = kiln_xcalloc(json_array_size(v), sizeof(**ret));
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
                char path[OCI_PATH_MAX];
                snprintf(path, sizeof(path), "%s[%zu]", key, i);
                int r = kiln_descriptor_from_json(e, path, &(*ret)[i], err);
                if (r < 0)
                        return r;
                (*ret_n)++;
        }
        return 0;
}

/* ---- manifests ---- */

void kiln_manifest_free(struct kiln_manifest *m)
{
        if (!m)
                return;
        free(m->raw);
        free(m->media_type);
        kiln_descriptor_clear(&m->config);
        for (size_t i = 0; i < m->n_layers; i++)
                kiln_descriptor_clear(&m->layers[i]);
        free(m->layers);
        kiln_descriptor_clear(m->subject);
        free(m->subject);
        free(m->artifact_type);
        json_decref(m->annotations);
        free(m);
}

static int manifest_fields(json_t *root, const char *hint, struct kiln_manifest *m,
                           struct kiln_error *err)
{
        const char *artifact_type;
        int r;

        if ((r = check_schema_version(root, true, err)) < 0 ||
            (r = resolve_media_type(root, hint, false, &m->media_type, err)) < 0)
                return r;
        json_t *config = oci_member(root, "config");
        if (!config)
                return kiln_err(err, -KILN_EFORMAT, "missing config");
        if ((r = kiln_descriptor_from_json(config, "config", &m->config, err)) < 0 ||
            (r = descriptor_array(root, "layers", &m->layers, &m->n_layers, err)) < 0 ||
            (r = opt_descriptor(root, "subject", &m->subject, err)) < 0 ||
            (r = oci_opt_string(root, "", "artifactType", &artifact_type, err)) < 0 ||
            (r = oci_annotations(root, "", &m->annotations, err)) < 0)
                return r;
        m->artifact_type = kiln_xstrdup(artifact_type);
        return 0;
}

int kiln_manifest_parse(const void *data, size_t len, const char *media_type_hint,
                        struct kiln_manifest **ret, struct kiln_error *err)
{
        json_auto_t *root = NULL;
        int r = load_doc("manifest", data, len, &root, err);
        if (r < 0)
                return r;
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *m = kiln_xcalloc(1, sizeof(*m));
        if ((r = manifest_fields(root, media_type_hint, m, err)) < 0)
                return kiln_err_prefix(err, r, "manifest: ");
        keep_raw(data, len, &m->raw, &m->raw_len, &m->digest);
        *ret = TAKE_PTR(m);
        return 0;
}

/* ---- indexes ---- */

void kiln_index_free(struct kiln_index *ix)
{
        if (!ix)
                return;
        free(ix->raw);
        free(ix->media_type);
        for (size_t i = 0; i < ix->n_manifests; i++)
                kiln_descriptor_clear(&ix->manifests[i]);
        free(ix->manifests);
        json_decref(ix->annotations);
        free(ix);
}

static int index_fields(json_t *root, const char *hint, struct kiln_index *ix,
                        struct kiln_error *err)
{
        int r;
        if ((r = check_schema_version(root, false, err)) < 0 ||
            (r = resolve_media_type(root, hint, true, &ix->media_type, err)) < 0 ||
            (r = descriptor_array(root, "manifests", &ix->manifests, &ix->n_manifests, err)) < 0 ||
            (r = oci_annotations(root, "", &ix->annotations, err)) < 0)
                return r;
        /* subject and artifactType are allowed (OCI 1.1) and only type-checked */
        const char *artifact_type;
        json_t *subject = oci_member(root, "subject");
        struct kiln_descriptor d;
        if ((r = oci_opt_string(root, "", "artifactType", &artifact_type, err)) < 0)
                return r;
        if (subject) {
                if ((r = kiln_descriptor_from_json(subject, "subject", &d, err)) < 0)
                        return r;
                kiln_descriptor_clear(&d);
        }
        return 0;
}

int kiln_index_parse(const void *data, size_t len, const char *media_type_hint,
                     struct kiln_index **ret, struct kiln_error *err)
{
        json_auto_t *root = NULL;
        int r = load_doc("index", data, len, &root, err);
        if (r < 0)
                return r;
        _cleanup_(kiln_index_freep) struct kiln_index *ix = kiln_xcalloc(1, sizeof(*ix));
        if ((r = index_fields(root, media_type_hint, ix, err)) < 0)
                return kiln_err_prefix(err, r, "index: ");
        keep_raw(data, len, &ix->raw, &ix->raw_len, &ix->digest);
        *ret = TAKE_PTR(ix);
        return 0;
}

/* ---- image configs ---- */

void kiln_config_free(struct kiln_config *c)
{
        if (!c)
                return;
        free(c->raw);
        json_decref(c->json);
        free(c->diff_ids);
        for (size_t i = 0; i < c->n_history; i++) {
                free(c->history[i].created);
                free(c->history[i].created_by);
                free(c->history[i].author);
                free(c->history[i].comment);
        }
        free(c->history);
        free(c);
}

static int config_rootfs(json_t *root, struct kiln_config *c, struct kiln_error *err)
{
        const char *type;
        int r;
        json_t *rootfs = oci_member(root, "rootfs");
        if (!rootfs)
                return kiln_err(err, -KILN_EFORMAT, "missing rootfs");
        if (!json_is_object(rootfs))
                return kiln_err(err, -KILN_EFORMAT, "rootfs: must be an object");
        if ((r = oci_req_string(rootfs, "rootfs", "type", &type, err)) < 0)
                return r;
        if (strcmp(type, "layers") != 0)
                return kiln_err(err, -KILN_EFORMAT, "rootfs.type: must be 'layers', got '%.80s'",
                                type);
        /* Docker omits an empty diff_ids (omitempty): absent means no layers. */
        json_t *ids = oci_member(rootfs, "diff_ids");
        if (!ids)
                return 0;
        if (!json_is_array(ids))
                return kiln_err(err, -KILN_EFORMAT, "rootfs.diff_ids: must be an array");
        c->diff_ids = kiln_xcalloc(json_array_size(ids), sizeof(*c->diff_ids));
        size_t i;
        json_t *e;
        json_array_foreach(ids, i, e) {
                if (!json_is_string(e))
                        return kiln_err(err, -KILN_EFORMAT,
                                        "rootfs.diff_ids[%zu]: must be a string", i);
                if ((r = kiln_digest_parse(json_string_value(e), &c->diff_ids[i], err)) < 0)
                        return kiln_err_prefix(err, r, "rootfs.diff_ids[%zu]: ", i);
                c->n_diff_ids++;
        }
        return 0;
}

static int config_history(json_t *root, struct kiln_config *c, struct kiln_error *err)
{
        json_t *history = oci_member(root, "history");
        if (!history)
                return 0;
        if (!json_is_array(history))
                return kiln_err(err, -KILN_EFORMAT, "history: must be an array");
        c->history = kiln_xcalloc(json_array_size(history), sizeof(*c->history));
        size_t i;
        json_t *e;
        json_array_foreach(history, i, e) {
                char path[OCI_PATH_MAX];
                const char *created, *created_by, *author, *comment;
                int r;
                snprintf(path, sizeof(path), "history[%zu]", i);
                if (!json_is_object(e))
                        return kiln_err(err, -KILN_EFORMAT, "%s: must be an object", path);
                if ((r = oci_opt_string(e, path, "created", &created, err)) < 0 ||
                    (r = oci_opt_string(e, path, "created_by", &created_by, err)) < 0 ||
                    (r = oci_opt_string(e, path, "author", &author, err)) < 0 ||
                    (r = oci_opt_string(e, path, "comment", &comment, err)) < 0)
                        return r;
                json_t *empty = oci_member(e, "empty_layer");
                if (empty && !json_is_boolean(empty))
                        return kiln_err(err, -KILN_EFORMAT, "%s.empty_layer: must be a boolean",
                                        path);
                c->history[i] = (struct kiln_history){
                        .created = kiln_xstrdup(created),
                        .created_by = kiln_xstrdup(created_by),
                        .author = kiln_xstrdup(author),
                        .comment = kiln_xstrdup(comment),
                        .empty_layer = empty && json_is_true(empty),
                };
                c->n_history++;
        }
        return 0;
}

static int config_fields(json_t *root, struct kiln_config *c, struct kiln_error *err)
{
        const char *os_version;
        int r;
        if ((r = oci_req_string(root, "", "architecture", &c->architecture, err)) < 0 ||
            (r = oci_req_string(root, "", "os", &c->os, err)) < 0 ||
            (r = oci_opt_string(root, "", "variant", &c->variant, err)) < 0 ||
            (r = oci_opt_string(root, "", "os.version", &os_version, err)) < 0 ||
            (r = oci_opt_string_array(root, "", "os.features", err)) < 0 ||
            (r = oci_opt_string(root, "", "created", &c->created, err)) < 0 ||
            (r = oci_opt_string(root, "", "author", &c->author, err)) < 0)
                return r;
        c->config = oci_member(root, "config");
        if (c->config && !json_is_object(c->config))
                return kiln_err(err, -KILN_EFORMAT, "config: must be an object");
        if ((r = config_rootfs(root, c, err)) < 0 || (r = config_history(root, c, err)) < 0)
                return r;
        return 0;
}

int kiln_config_parse(const void *data, size_t len, struct kiln_config **ret,
                      struct kiln_error *err)
{
        json_t *root = NULL;
        int r = load_doc("config", data, len, &root, err);
        if (r < 0)
                return r;
        _cleanup_(kiln_config_freep) struct kiln_config *c = kiln_xcalloc(1, sizeof(*c));
        c->json = root; /* owned by c from here on */
        if ((r = config_fields(root, c, err)) < 0)
                return kiln_err_prefix(err, r, "config: ");
        keep_raw(data, len, &c->raw, &c->raw_len, &c->digest);
        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- building ---- */

int kiln_manifest_build(const struct kiln_descriptor *config,
                        const struct kiln_descriptor *layers, size_t n_layers,
                        json_t *annotations, char **ret, size_t *ret_len)
{
        if (!config || (n_layers > 0 && !layers) || !ret ||
            (annotations && !json_is_object(annotations)))
                return -EINVAL;

        json_auto_t *root = json_object();
        if (!root || json_object_set_new(root, "schemaVersion", json_integer(2)) < 0 ||
            json_object_set_new(root, "mediaType", json_string(KILN_MT_OCI_MANIFEST)) < 0)
                return -ENOMEM;
        /* a NULL from to_json (an incomplete descriptor) makes set_new fail */
        if (json_object_set_new(root, "config", kiln_descriptor_to_json(config)) < 0)
                return -EINVAL;
        json_t *arr = json_array(); /* owned by root once set, freed on failure */
        if (json_object_set_new(root, "layers", arr) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n_layers; i++)
                if (json_array_append_new(arr, kiln_descriptor_to_json(&layers[i])) < 0)
                        return -EINVAL;
        if (annotations && json_object_size(annotations) > 0) {
                const char *key;
                json_t *val;
                json_object_foreach(annotations, key, val) {
                        if (!json_is_string(val))
                                return -EINVAL;
                }
                if (json_object_set_new(root, "annotations", oci_sorted_copy(annotations)) < 0)
                        return -EINVAL;
        }

        size_t len;
        char *s = kiln_json_dump(root, &len);
        if (!s)
                return -ENOMEM;
        if (len > KILN_DOC_MAX) {
                free(s);
                return -KILN_ETOOBIG;
        }
        *ret = s;
        if (ret_len)
                *ret_len = len;
        return 0;
}
