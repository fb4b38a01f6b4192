/* SPDX-License-Identifier: Apache-2.0 */
/* kiln build: ONBUILD triggers of a base image (lib/build/onbuild.c). */
#pragma once

#include <jansson.h>
#include "kiln/base.h"
#include "kiln/dockerfile.h"

/*
 * Parse a base image's config.OnBuild (an array of strings) as BuildKit
 * does: "FROM scratch" then every trigger on its own line(s), through
 * kiln_dockerfile_parse(). The triggers are instructions[1 ..] of *ret_df
 * (all in its single stage). A trigger that is not one instruction of a
 * stage (FROM, ONBUILD, MAINTAINER, bad syntax) is an error naming it.
 */
int build_onbuild_parse(json_t *triggers, struct kiln_dockerfile **ret_df, struct kiln_error *err);
