/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build's predefined ARGs and platforms (lib/build/predef.c):
 * containerd's platform specifiers, BuildKit's automatic platform ARGs
 * (TARGETPLATFORM, BUILDARCH, ...) and Docker's proxy ARGs. See
 * docs/internals/build.md ("Predefined ARGs and platforms").
 */
#pragma once

#include <jansson.h>
#include "kiln/base.h"

/* An OCI platform, normalised as containerd's platforms package does. */
struct build_platform {
        char os[32];
        char arch[32];
        char variant[16];
};

/*
 * Parse a platform specifier as containerd's platforms.Parse: "OS",
 * "ARCH", "OS/ARCH" or "OS/ARCH/VARIANT" (components [A-Za-z0-9_-]+),
 * case-insensitive, with its aliases normalised (x86_64 and x86-64 are
 * amd64, aarch64 is arm64, armhf is arm/v7, i386 is 386, macos is darwin;
 * amd64/v1 and arm64/v8 drop the variant). A lone OS gets the host's
 * architecture, a lone architecture the host's OS. -EINVAL with a message
 * naming the specifier when it is none of these.
 */
int build_platform_parse(const char *spec, struct build_platform *ret, struct kiln_error *err);
/* The platform kiln runs on (linux/amd64 here). */
void build_platform_host(struct build_platform *ret);
/* "os/arch[/variant]" into out. */
void build_platform_format(const struct build_platform *p, char *out, size_t n);
bool build_platform_equal(const struct build_platform *a, const struct build_platform *b);
/*
 * A --platform value (kiln build --platform, FROM --platform) checked
 * against the host: 0 when spec names the host platform, else
 * -KILN_EUNSUPPORTED "platform linux/arm64 is not supported: kiln builds
 * for the host platform linux/amd64 only" (or the parse error).
 */
int build_platform_check(const char *spec, struct kiln_error *err);

/* BuildKit's automatic platform ARGs: TARGETPLATFORM, TARGETOS,
 * TARGETARCH, TARGETVARIANT, BUILDPLATFORM, BUILDOS, BUILDARCH,
 * BUILDVARIANT (NULL-terminated, static). */
extern const char *const build_platform_arg_names[];
/* Docker's predefined proxy ARGs: HTTP_PROXY, http_proxy, HTTPS_PROXY,
 * https_proxy, FTP_PROXY, ftp_proxy, NO_PROXY, no_proxy, ALL_PROXY,
 * all_proxy (NULL-terminated, static). */
extern const char *const build_proxy_arg_names[];
bool build_is_platform_arg(const char *name);
bool build_is_proxy_arg(const char *name);

/*
 * Set the platform ARGs in scope (the global ARG scope of a build): the
 * target and the build platform are both the host's; a --build-arg of
 * the same name (in build_args, name -> string) overrides one, as in
 * BuildKit.
 */
void build_platform_args(json_t *scope, const struct build_platform *target, json_t *build_args);
