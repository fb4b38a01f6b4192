/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image references with Docker's grammar and normalization (the semantics
 * of distribution/reference ParseNormalizedNamed), written as a small
 * hand-rolled scanner rather than regular expressions:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path
 *   domain     := host [ ":" port ]
 *   host       := domain-component ( "." domain-component )* | "[" ipv6 "]"
 *   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
 *   port       := [0-9]+
 *   ipv6       := [a-fA-F0-9:]+
 *   path       := path-component ( "/" path-component )*
 *   path-component := [a-z0-9]+ ( separator [a-z0-9]+ )*
 *   separator  := "." | "_" | "__" | "-"+
 *   tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *
 * See docs/internals/oci.md for the normalization rules.
 */
#include <string.h>
#include "kiln/digest.h"
#include "kiln/reference.h"

#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DEFAULT_DOMAIN "index.docker.io"
#define OFFICIAL_PREFIX "library/"
#define NAME_TOTAL_MAX 255 /* of the path */
#define TAG_MAX 128
/* No valid reference comes near this (255 + tag + sha512 digest < 600). */
#define REFERENCE_INPUT_MAX 4096

#define INVALID "invalid reference format"

static bool is_lower_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool has_upper(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (s[i] >= 'A' && s[i] <= 'Z')
                        return true;
        return false;
}

/* One domain component: alphanumerics with inner '-' (not at either end). */
static bool valid_domain_component(const char *s, size_t n)
{
        if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
                return false;
        for (size_t i = 1; i + 1 < n; i++)
                if (!is_alnum(s[i]) && s[i] != '-')
                        return false;
        return true;
}

/* domain := host [":" port]; host is a dotted name or a bracketed IPv6. */
static bool valid_domain(const char *s, size_t n)
{
        size_t hostlen;
        if (n == 0)
                return false;
        if (s[0] == '[') {
                const char *close = memchr(s, ']', n);
                if (!close || close == s + 1)
                        return false;
                for (const char *p = s + 1; p < close; p++)
                        if (!is_hex(*p) && *p != ':')
                                return false;
                hostlen = (size_t)(close - s) + 1;
        } else {
                /* the host ends at the port separator, if any */
                const char *colon = memchr(s, ':', n);
                hostlen = colon ? (size_t)(colon - s) : n;
                size_t start = 0;
                for (size_t i = 0; i <= hostlen; i++) {
                        if (i == hostlen || s[i] == '.') {
                                if (!valid_domain_component(s + start, i - start))
                                        return false;
                                start = i + 1;
                        }
                }
        }
        if (hostlen == n)
                return true;
        if (s[hostlen] != ':' || hostlen + 1 == n)
                return false;
        for (size_t i = hostlen + 1; i < n; i++)
                if (!is_digit(s[i]))
                        return false;
        return true;
}

/* path-component: [a-z0-9]+ joined by ".", "_", "__" or a run of "-". */
static bool valid_path_component(const char *s, size_t n)
{
        size_t i = 0;
        if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
                return false;
        while (i < n) {
                if (is_lower_alnum(s[i])) {
                        i++;
                        continue;
                }
                /* a separator, which must sit between two alphanumerics */
                size_t sep = i;
                if (s[i] == '.') {
                        i++;
                } else if (s[i] == '_') {
                        i++;
                        if (i < n && s[i] == '_')
                                i++;
                } else if (s[i] == '-') {
                        while (i < n && s[i] == '-')
                                i++;
                } else {
                        return false;
                }
                if (i >= n || !is_lower_alnum(s[i]) || !is_lower_alnum(s[sep - 1]))
                        return false;
        }
        return true;
}

static bool valid_path(const char *s, size_t n)
{
        size_t start = 0;
        for (size_t i = 0; i <= n; i++) {
                if (i == n || s[i] == '/') {
                        if (!valid_path_component(s + start, i - start))
                                return false;
                        start = i + 1;
                }
        }
        return true;
}

static bool valid_tag(const char *s, size_t n)
{
        if (n == 0 || n > TAG_MAX)
                return false;
        if (!is_alnum(s[0]) && s[0] != '_')
                return false;
        for (size_t i = 1; i < n; i++)
                if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
                        return false;
        return true;
}

/*
 * Docker's splitDockerDomain: the first component is a registry when it
 * looks like a host name (has '.' or ':', or is "localhost") or has an
 * upper-case letter (path components never may). Otherwise the reference
 * is on Docker Hub.
 */
static void split_domain(const char *s, const char **ret_domain, size_t *ret_domain_len,
                         const char **ret_rest)
{
        const char *slash = strchr(s, '/');
        if (slash) {
                size_t n = (size_t)(slash - s);
                if (memchr(s, '.', n) || memchr(s, ':', n) ||
                    (n == 9 && memcmp(s, "localhost", 9) == 0) || has_upper(s, n)) {
                        *ret_domain = s;
                        *ret_domain_len = n;
                        *ret_rest = slash + 1;
                        return;
                }
        }
        *ret_domain = DEFAULT_DOMAIN;
        *ret_domain_len = strlen(DEFAULT_DOMAIN);
        *ret_rest = s;
}

int kiln_reference_parse(const char *s, unsigned flags, struct kiln_reference **ret,
                         struct kiln_error *err)
{
        if (!s || !*s)
                return kiln_err(err, -KILN_EFORMAT, INVALID ": empty reference");
        if (strnlen(s, REFERENCE_INPUT_MAX + 1) > REFERENCE_INPUT_MAX)
                return kiln_err(err, -KILN_EFORMAT, INVALID ": reference is too long");

        const char *domain, *rest;
        size_t domain_len;
        split_domain(s, &domain, &domain_len, &rest);
        if (domain_len == strlen(LEGACY_DEFAULT_DOMAIN) &&
            memcmp(domain, LEGACY_DEFAULT_DOMAIN, domain_len) == 0) {
                domain = DEFAULT_DOMAIN;
                domain_len = strlen(DEFAULT_DOMAIN);
        }
        bool hub = domain_len == strlen(DEFAULT_DOMAIN) &&
                   memcmp(domain, DEFAULT_DOMAIN, domain_len) == 0;

        /* rest = path [":" tag] ["@" digest]; the path has neither ':' nor '@' */
        size_t path_len = strcspn(rest, ":@");
        const char *tag = NULL, *digest = NULL;
        size_t tag_len = 0;
        if (rest[path_len] == ':') {
                tag = rest + path_len + 1;
                tag_len = strcspn(tag, "@");
                if (tag[tag_len] == '@')
                        digest = tag + tag_len + 1;
        } else if (rest[path_len] == '@') {
                digest = rest + path_len + 1;
        }

        /* Single-component names on Docker Hub live under "library/". */
        bool add_library = hub && !memchr(rest, '/', path_len);

        /*
         * Upper case in the path gets its own message, before any other
         * check, as Docker reports it.
         */
        if (has_upper(rest, path_len))
                return kiln_err(err, -KILN_EFORMAT,
                                INVALID ": repository name must be lowercase");
        if (!valid_domain(domain, domain_len) || !valid_path(rest, path_len))
                return kiln_err(err, -KILN_EFORMAT, INVALID);
        if (tag && !valid_tag(tag, tag_len))
                return kiln_err(err, -KILN_EFORMAT, INVALID);

        struct kiln_digest d;
        if (digest) {
                int r = kiln_digest_parse(digest, &d, err);
                if (r < 0)
                        return kiln_err_prefix(err, -KILN_EFORMAT, INVALID ": ");
                if (flags & KILN_REF_NO_DIGEST)
                        return kiln_err(err, -KILN_EFORMAT,
                                        INVALID ": a digest is not allowed here");
        }

        /*
         * distribution/reference limits the (normalized) path, not the
         * domain: "docker.io/library/" + 247 characters is still valid.
         */
        size_t full_path_len = path_len + (add_library ? strlen(OFFICIAL_PREFIX) : 0);
        if (full_path_len > NAME_TOTAL_MAX)
                return kiln_err(err, -KILN_EFORMAT,
                                INVALID ": repository name must not be more than %d characters",
                                NAME_TOTAL_MAX);

        struct kiln_reference *r = kiln_xcalloc(1, sizeof(*r));
        r->domain = kiln_xstrndup(domain, domain_len);
        r->path = kiln_xasprintf("%s%.*s", add_library ? OFFICIAL_PREFIX : "", (int)path_len,
                                 rest);
        if (tag)
                r->tag = kiln_xstrndup(tag, tag_len);
        else if (!digest && (flags & KILN_REF_DEFAULT_TAG))
                r->tag = kiln_xstrdup("latest");
        if (digest)
                r->digest = kiln_xstrdup(d.str);
        *ret = r;
        return 0;
}

void kiln_reference_free(struct kiln_reference *r)
{
        if (!r)
                return;
        free(r->domain);
        free(r->path);
        free(r->tag);
        free(r->digest);
        free(r);
}

/* name + optional ":tag" and "@digest" */
static char *with_suffixes(const char *name, const struct kiln_reference *r)
{
        return kiln_xasprintf("%s%s%s%s%s", name, r->tag ? ":" : "", r->tag ? r->tag : "",
                              r->digest ? "@" : "", r->digest ? r->digest : "");
}

char *kiln_reference_repository(const struct kiln_reference *r)
{
        return kiln_xasprintf("%s/%s", r->domain, r->path);
}

char *kiln_reference_string(const struct kiln_reference *r)
{
        _cleanup_free_ char *name = kiln_reference_repository(r);
        return with_suffixes(name, r);
}

/*
 * Docker's familiar name: Docker Hub's domain is dropped, and so is
 * "library/" when what remains is a single component ("library/a/b" stays).
 * Unlike Docker, the domain is kept when the short form would read back as
 * another registry: "docker.io/20.1/app" stays as is, since "20.1/app"
 * names the registry "20.1".
 */
char *kiln_reference_familiar_repository(const struct kiln_reference *r)
{
        if (strcmp(r->domain, DEFAULT_DOMAIN) != 0)
                return kiln_reference_repository(r);
        const char *p = r->path;
        if (kiln_startswith(p, OFFICIAL_PREFIX) && !strchr(p + strlen(OFFICIAL_PREFIX), '/'))
                return kiln_xstrdup(p + strlen(OFFICIAL_PREFIX));
        const char *rest;
        size_t n;
        split_domain(p, &p, &n, &rest);
        if (rest != r->path)
                return kiln_reference_repository(r);
        return kiln_xstrdup(r->path);
}

char *kiln_reference_familiar(const struct kiln_reference *r)
{
        _cleanup_free_ char *name = kiln_reference_familiar_repository(r);
        return with_suffixes(name, r);
}

bool kiln_reference_is_id_prefix(const char *s)
{
        if (!s)
                return false;
        if (kiln_startswith(s, "sha256:"))
                s += 7;
        size_t n = strlen(s);
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
                        return false;
        return true;
}
