/* SPDX-License-Identifier: Apache-2.0 */
/* kiln build: --format oci|docker (lib/build/format.c). */
#pragma once

#include <jansson.h>
#include "kiln/base.h"
#include "kiln/image.h"

/*
 * What buildah warns when an instruction's setting has no place in an OCI
 * config (HEALTHCHECK, SHELL, ONBUILD), or NULL; *ret is malloc'ed.
 */
char *build_oci_warning(const char *instruction, json_t *value);

/* For the OCI format: drop config.Healthcheck, Shell and OnBuild (buildah
 * writes none of them in an OCI config). */
void build_config_oci(json_t *cfg);

/*
 * The manifest: OCI (kiln_manifest_build) or, with docker, a Docker
 * schema2 manifest (its media type, the Docker config type, gzip layers as
 * rootfs.diff.tar.gzip). 0 or a negative errno code.
 */
int build_manifest(bool docker, const struct kiln_descriptor *config, const struct kiln_descriptor *layers,
                   size_t n_layers, char **ret, size_t *ret_len);
