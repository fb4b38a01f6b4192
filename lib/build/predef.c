/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Predefined ARGs and platforms for kiln build. Platform specifiers follow
 * containerd's platforms package (Parse, normalizeOS, normalizeArch); the
 * automatic platform ARGs follow BuildKit (dockerfile2llb's defaultArgs);
 * the proxy ARGs follow Docker's builder (builtinAllowedBuildArgs). See
 * docs/internals/build.md ("Predefined ARGs and platforms").
 */
#include <string.h>
#include <strings.h>
#include "kiln/image.h"
#include "predef.h"

const char *const build_platform_arg_names[] = {
        "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
        "BUILDPLATFORM",  "BUILDOS",  "BUILDARCH",  "BUILDVARIANT",
        NULL,
};

const char *const build_proxy_arg_names[] = {
        "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
        "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy",
        NULL,
};

static bool in_list(const char *const *list, const char *name)
{
        for (size_t i = 0; list[i]; i++)
                if (!strcmp(list[i], name))
                        return true;
        return false;
}

bool build_is_platform_arg(const char *name)
{
        return in_list(build_platform_arg_names, name);
}

bool build_is_proxy_arg(const char *name)
{
        return in_list(build_proxy_arg_names, name);
}

/* containerd's knownOS and knownArch (platforms/database.go) */
static const char *const known_os[] = {
        "aix",   "android", "darwin",  "dragonfly", "freebsd", "hurd",    "illumos", "ios", "js",
        "linux", "nacl",    "netbsd",  "openbsd",   "plan9",   "solaris", "wasip1",  "windows", "zos",
        NULL,
};
static const char *const known_arch[] = {
        "386",    "amd64",   "amd64p32", "arm",    "armbe",   "arm64",      "arm64be",   "loong64",
        "mips",   "mipsle",  "mips64",   "mips64le", "mips64p32", "mips64p32le", "ppc",   "ppc64",
        "ppc64le", "riscv",  "riscv64",  "s390",   "s390x",   "sparc",      "sparc64",   "wasm",
        NULL,
};

static void lower(char *s)
{
        for (; *s; s++)
                if (*s >= 'A' && *s <= 'Z')
                        *s = (char)(*s - 'A' + 'a');
}

static void normalize_os(char *os)
{
        lower(os);
        if (!strcmp(os, "macos"))
                strcpy(os, "darwin");
}

/* containerd's normalizeArch */
static void normalize_arch(char arch[32], char variant[16])
{
        lower(arch);
        lower(variant);
        if (!strcmp(arch, "i386")) {
                strcpy(arch, "386");
                variant[0] = 0;
        } else if (!strcmp(arch, "x86_64") || !strcmp(arch, "x86-64") || !strcmp(arch, "amd64")) {
                strcpy(arch, "amd64");
                if (!strcmp(variant, "v1"))
                        variant[0] = 0;
        } else if (!strcmp(arch, "aarch64") || !strcmp(arch, "arm64")) {
                strcpy(arch, "arm64");
                if (!strcmp(variant, "8") || !strcmp(variant, "v8") || !strcmp(variant, "v8.0"))
                        variant[0] = 0;
        } else if (!strcmp(arch, "armhf")) {
                strcpy(arch, "arm");
                strcpy(variant, "v7");
        } else if (!strcmp(arch, "armel")) {
                strcpy(arch, "arm");
                strcpy(variant, "v6");
        } else if (!strcmp(arch, "arm")) {
                if (!variant[0] || !strcmp(variant, "7"))
                        strcpy(variant, "v7");
                else if (!strcmp(variant, "5") || !strcmp(variant, "6") || !strcmp(variant, "8"))
                        snprintf(variant, 16, "v%c", variant[0]);
        }
}

void build_platform_host(struct build_platform *ret)
{
        *ret = (struct build_platform){ 0 };
        snprintf(ret->os, sizeof(ret->os), "%s", kiln_platform_os());
        snprintf(ret->arch, sizeof(ret->arch), "%s", kiln_platform_arch());
        normalize_arch(ret->arch, ret->variant);
}

static bool valid_component(const char *s, size_t n)
{
        if (!n)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '-'))
                        return false;
        }
        return true;
}

int build_platform_parse(const char *spec, struct build_platform *ret, struct kiln_error *err)
{
        const char *parts[4] = { 0 };
        size_t lens[4] = { 0 }, n = 0;
        const char *p = spec;
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t)(slash - p) : strlen(p);
                if (n == 3 || !valid_component(p, len) || len >= 16 + (n < 2 ? 16 : 0))
                        return kiln_err(err, -EINVAL, "%s: invalid platform specifier", spec);
                parts[n] = p;
                lens[n++] = len;
                if (!slash)
                        break;
                p = slash + 1;
        }
        struct build_platform host, pl = { 0 };
        build_platform_host(&host);
        char a[32] = "", v[16] = "";
        switch (n) {
        case 1: {
                char one[32];
                snprintf(one, sizeof(one), "%.*s", (int)lens[0], parts[0]);
                char os[32];
                snprintf(os, sizeof(os), "%s", one);
                normalize_os(os);
                if (in_list(known_os, os)) {
                        snprintf(pl.os, sizeof(pl.os), "%s", os);
                        snprintf(pl.arch, sizeof(pl.arch), "%s", host.arch);
                        snprintf(pl.variant, sizeof(pl.variant), "%s", host.variant);
                        break;
                }
                snprintf(a, sizeof(a), "%s", one);
                normalize_arch(a, v);
                if (!in_list(known_arch, a))
                        return kiln_err(err, -EINVAL, "%s: unknown operating system or architecture", spec);
                snprintf(pl.os, sizeof(pl.os), "%s", host.os);
                snprintf(pl.arch, sizeof(pl.arch), "%s", a);
                snprintf(pl.variant, sizeof(pl.variant), "%s", v);
                break;
        }
        case 2:
                snprintf(pl.os, sizeof(pl.os), "%.*s", (int)lens[0], parts[0]);
                normalize_os(pl.os);
                snprintf(pl.arch, sizeof(pl.arch), "%.*s", (int)lens[1], parts[1]);
                normalize_arch(pl.arch, pl.variant);
                if (!strcmp(pl.arch, "arm") && !strcmp(pl.variant, "v7"))
                        pl.variant[0] = 0; /* containerd: os/arm is arm/v7, shown without it */
                break;
        default:
                snprintf(pl.os, sizeof(pl.os), "%.*s", (int)lens[0], parts[0]);
                normalize_os(pl.os);
                snprintf(pl.arch, sizeof(pl.arch), "%.*s", (int)lens[1], parts[1]);
                snprintf(pl.variant, sizeof(pl.variant), "%.*s", (int)lens[2], parts[2]);
                normalize_arch(pl.arch, pl.variant);
                if (!strcmp(pl.arch, "arm64") && !pl.variant[0])
                        strcpy(pl.variant, "v8");
                break;
        }
        *ret = pl;
        return 0;
}

void build_platform_format(const struct build_platform *p, char *out, size_t n)
{
        snprintf(out, n, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
}

/* compared as containerd's matcher for the host: arm64/v8 is arm64, arm is arm/v7 */
static void canonical(const struct build_platform *p, struct build_platform *c)
{
        *c = *p;
        if (!strcmp(c->arch, "arm64") && !strcmp(c->variant, "v8"))
                c->variant[0] = 0;
        if (!strcmp(c->arch, "arm") && !c->variant[0])
                strcpy(c->variant, "v7");
}

bool build_platform_equal(const struct build_platform *a, const struct build_platform *b)
{
        struct build_platform x, y;
        canonical(a, &x);
        canonical(b, &y);
        return !strcmp(x.os, y.os) && !strcmp(x.arch, y.arch) && !strcmp(x.variant, y.variant);
}

int build_platform_check(const char *spec, struct kiln_error *err)
{
        struct build_platform p, host;
        int r = build_platform_parse(spec, &p, err);
        if (r < 0)
                return r;
        build_platform_host(&host);
        if (build_platform_equal(&p, &host))
                return 0;
        char ps[96], hs[96];
        build_platform_format(&p, ps, sizeof(ps));
        build_platform_format(&host, hs, sizeof(hs));
        return kiln_err(err, -KILN_EUNSUPPORTED,
                        "platform %s is not supported: kiln builds for the host platform %s only", ps, hs);
}

static void set_arg(json_t *scope, json_t *build_args, const char *name, const char *value)
{
        json_t *given = json_object_get(build_args, name);
        json_object_set_new(scope, name, json_is_string(given) ? json_incref(given) : json_string(value));
}

void build_platform_args(json_t *scope, const struct build_platform *target, json_t *build_args)
{
        struct build_platform host;
        build_platform_host(&host);
        char tp[96], bp[96];
        build_platform_format(target, tp, sizeof(tp));
        build_platform_format(&host, bp, sizeof(bp));
        set_arg(scope, build_args, "TARGETPLATFORM", tp);
        set_arg(scope, build_args, "TARGETOS", target->os);
        set_arg(scope, build_args, "TARGETARCH", target->arch);
        set_arg(scope, build_args, "TARGETVARIANT", target->variant);
        set_arg(scope, build_args, "BUILDPLATFORM", bp);
        set_arg(scope, build_args, "BUILDOS", host.os);
        set_arg(scope, build_args, "BUILDARCH", host.arch);
        set_arg(scope, build_args, "BUILDVARIANT", host.variant);
}
