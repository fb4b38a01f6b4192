/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by lib/oci's document parsers (descriptor.c, image.c).
 * Not part of the public API.
 *
 * Messages name the field by its path inside the document: a helper gets
 * the path of the object it looks into ("layers[2]", or "" at the top) and
 * writes "layers[2].size: must be ..." or "layers[2]: missing digest".
 */
#pragma once

#include <jansson.h>
#include "kiln/base.h"

/* Field paths are short ("manifests[123].platform"); longer ones are cut. */
#define OCI_PATH_MAX 128

/*
 * An optional member: NULL when absent or JSON null (Go's decoder, which
 * wrote most images out there, treats both alike).
 */
static inline json_t *oci_member(json_t *obj, const char *key)
{
        json_t *v = json_object_get(obj, key);
        return json_is_null(v) ? NULL : v;
}

/* "path." or "" to put before a key name. */
static inline const char *oci_dot(const char *path)
{
        return path && *path ? "." : "";
}

static inline const char *oci_path(const char *path)
{
        return path ? path : "";
}

/* "path: " or "" to put before a message about the object itself. */
static inline const char *oci_colon(const char *path)
{
        return path && *path ? ": " : "";
}

/* Optional string member; *ret is NULL when absent. */
int oci_opt_string(json_t *obj, const char *path, const char *key, const char **ret,
                   struct kiln_error *err);
/* Required string member. */
int oci_req_string(json_t *obj, const char *path, const char *key, const char **ret,
                   struct kiln_error *err);
/* Optional array of strings (validated only). */
int oci_opt_string_array(json_t *obj, const char *path, const char *key,
                         struct kiln_error *err);
/* Optional "annotations" object of strings; *ret is a deep copy or NULL. */
int oci_annotations(json_t *obj, const char *path, json_t **ret, struct kiln_error *err);
/* A copy of a string-to-string object with keys sorted as Go's encoder does. */
json_t *oci_sorted_copy(json_t *obj);
