/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build: the output format. --format oci (the default) writes an OCI
 * manifest and config and, as buildah does, leaves out what the OCI config
 * has no field for (Healthcheck, Shell, OnBuild), with buildah's warnings;
 * --format docker writes a Docker schema2 manifest whose config keeps
 * them. See docs/internals/build.md ("Executor").
 */
#include <string.h>
#include "format.h"

char *build_oci_warning(const char *instruction, json_t *value)
{
        if (!strcmp(instruction, "HEALTHCHECK"))
                return kiln_xstrdup("HEALTHCHECK is not supported for OCI image format and will be ignored. "
                                    "Must use `docker` format");
        if (strcmp(instruction, "SHELL") && strcmp(instruction, "ONBUILD"))
                return NULL;
        /* buildah prints the Go value: [/bin/sh -c] for SHELL, the text for ONBUILD */
        struct kiln_buf b = KILN_BUF_INIT;
        if (json_is_array(value)) {
                size_t i;
                json_t *e;
                kiln_buf_puts(&b, "[");
                json_array_foreach(value, i, e) kiln_buf_printf(&b, "%s%s", i ? " " : "", json_string_value(e) ?: "");
                kiln_buf_puts(&b, "]");
        } else {
                kiln_buf_puts(&b, json_string_value(value) ?: "");
        }
        _cleanup_free_ char *v = kiln_buf_steal(&b);
        return kiln_xasprintf("%s is not supported for OCI image format, %s will be ignored. Must use `docker` format",
                              instruction, v);
}

void build_config_oci(json_t *cfg)
{
        json_t *c = json_object_get(cfg, "config");
        if (!json_is_object(c))
                return;
        json_object_del(c, "Healthcheck");
        json_object_del(c, "Shell");
        json_object_del(c, "OnBuild");
}

int build_manifest(bool docker, const struct kiln_descriptor *config, const struct kiln_descriptor *layers,
                   size_t n_layers, char **ret, size_t *ret_len)
{
        char *raw = NULL;
        size_t len = 0;
        int r = kiln_manifest_build(config, layers, n_layers, NULL, &raw, &len);
        if (r < 0 || !docker) {
                *ret = raw;
                *ret_len = len;
                return r;
        }
        json_t *m = json_loadb(raw, len, 0, NULL);
        free(raw);
        if (!m)
                return -ENOMEM;
        json_object_set_new(m, "mediaType", json_string(KILN_MT_DOCKER_MANIFEST));
        json_object_set_new(json_object_get(m, "config"), "mediaType", json_string(KILN_MT_DOCKER_CONFIG));
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(m, "layers"), i, l) {
                const char *mt = json_string_value(json_object_get(l, "mediaType"));
                if (mt && !strcmp(mt, KILN_MT_OCI_LAYER_GZIP))
                        json_object_set_new(l, "mediaType", json_string(KILN_MT_DOCKER_LAYER));
                else if (mt && !strcmp(mt, KILN_MT_OCI_LAYER))
                        json_object_set_new(l, "mediaType",
                                            json_string("application/vnd.docker.image.rootfs.diff.tar"));
        }
        *ret = kiln_json_dump(m, ret_len);
        json_decref(m);
        return *ret ? 0 : -ENOMEM;
}
