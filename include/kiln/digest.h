/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Content digests ("sha256:<64 hex>", "sha512:<128 hex>") per the OCI image
 * spec, computed with OpenSSL (SHA-NI where the CPU has it).
 */
#pragma once

#include "kiln/base.h"

enum kiln_digest_alg {
        KILN_DIGEST_SHA256 = 0,
        KILN_DIGEST_SHA512 = 1,
};

/* "sha512:" + 128 hex + NUL */
#define KILN_DIGEST_STR_MAX (7 + 128 + 1)

struct kiln_digest {
        enum kiln_digest_alg alg;
        char str[KILN_DIGEST_STR_MAX]; /* "sha256:abcd..." */
};

/*
 * Parse and validate "alg:hex": algorithm sha256 or sha512, lowercase hex of
 * exactly the algorithm's length. -KILN_EFORMAT with a one-line message
 * otherwise.
 */
int kiln_digest_parse(const char *s, struct kiln_digest *ret,
                      struct kiln_error *err);

/* The hex part of a digest (points into d->str). */
const char *kiln_digest_hex(const struct kiln_digest *d);
/* "sha256" or "sha512" (static). */
const char *kiln_digest_alg_name(enum kiln_digest_alg alg);
bool kiln_digest_equal(const struct kiln_digest *a, const struct kiln_digest *b);
/* First 12 hex characters, as docker shows image IDs; out >= 13 bytes. */
void kiln_digest_short(const struct kiln_digest *d, char *out, size_t outlen);

/* Streaming hasher. */
struct kiln_hasher;
struct kiln_hasher *kiln_hasher_new(enum kiln_digest_alg alg);
void kiln_hasher_update(struct kiln_hasher *h, const void *data, size_t len);
/* Finish; the hasher may not be updated afterwards. */
void kiln_hasher_final(struct kiln_hasher *h, struct kiln_digest *ret);
void kiln_hasher_free(struct kiln_hasher *h);
KILN_DEFINE_CLEANUP(struct kiln_hasher *, kiln_hasher_free)

/* Digest of a buffer. */
void kiln_digest_buf(enum kiln_digest_alg alg, const void *data, size_t len,
                     struct kiln_digest *ret);
/* Digest of everything readable from fd; *ret_size gets the byte count. */
int kiln_digest_fd(enum kiln_digest_alg alg, int fd, struct kiln_digest *ret,
                   int64_t *ret_size);
