/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image references, parsed with Docker's reference grammar
 * (distribution/reference): [domain/]path[:tag][@digest].
 *
 *   busybox                  -> docker.io/library/busybox:latest
 *   user/app                 -> docker.io/user/app:latest
 *   localhost:5000/a/b:tag   -> domain localhost:5000, path a/b, tag "tag"
 *   x@sha256:<64 hex>        -> digest only, no implied tag
 *
 * A first component is a domain when it contains '.' or ':' or is
 * "localhost", or has upper-case letters; "index.docker.io" becomes
 * "docker.io". Path components are lowercase [a-z0-9] with separators
 * '.', '_', '__', '-'+ between; the path is at most 255 characters;
 * a tag is [\w][\w.-]{0,127}.
 */
#pragma once

#include "kiln/base.h"

struct kiln_reference {
        char *domain; /* "docker.io", "localhost:5000" */
        char *path;   /* "library/busybox" */
        char *tag;    /* NULL when absent (or when only a digest was given) */
        char *digest; /* "sha256:..." or NULL */
};

/* Flags for kiln_reference_parse. */
enum {
        /* Add ":latest" when neither tag nor digest is given. */
        KILN_REF_DEFAULT_TAG = 1 << 0,
        /* Reject a reference that has a digest. */
        KILN_REF_NO_DIGEST = 1 << 1,
};

/*
 * Parse s into a normalized reference. On failure returns -KILN_EFORMAT and
 * a message such as "invalid reference format: repository name must be
 * lowercase". Caller frees *ret with kiln_reference_free().
 */
int kiln_reference_parse(const char *s, unsigned flags,
                         struct kiln_reference **ret, struct kiln_error *err);

void kiln_reference_free(struct kiln_reference *r);
KILN_DEFINE_CLEANUP(struct kiln_reference *, kiln_reference_free)

/* "docker.io/library/busybox:latest[@sha256:...]" (caller frees). */
char *kiln_reference_string(const struct kiln_reference *r);
/* "docker.io/library/busybox" (caller frees). */
char *kiln_reference_repository(const struct kiln_reference *r);
/* Docker's short form: "busybox:latest", "user/app:1", "localhost:5000/x:y". */
char *kiln_reference_familiar(const struct kiln_reference *r);
/* Short form of the repository alone: "busybox", "localhost:5000/x". */
char *kiln_reference_familiar_repository(const struct kiln_reference *r);

/*
 * Whether s looks like a (possibly abbreviated) image ID: 1..64 lowercase
 * hex characters, optionally prefixed with "sha256:".
 */
bool kiln_reference_is_id_prefix(const char *s);
