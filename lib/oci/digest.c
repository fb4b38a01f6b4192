/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Content digests with OpenSSL's SHA-256/512 (SHA-NI when available).
 *
 * Through the low-level SHA256_* / SHA512_* functions, not EVP: they run the
 * same assembly (chosen by CPU features when libcrypto loads), but the first
 * EVP_DigestInit of a process initializes OpenSSL's library context and
 * providers and reads openssl.cnf, ~1.1 ms of every kiln command that hashes
 * anything (kiln run verifies the image's manifest and config, keys the
 * seccomp cache). Deprecated since OpenSSL 3.0, still provided by it.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <string.h>
#include "kiln/digest.h"

static size_t hex_len(enum kiln_digest_alg alg)
{
        return alg == KILN_DIGEST_SHA512 ? 128 : 64;
}

const char *kiln_digest_alg_name(enum kiln_digest_alg alg)
{
        return alg == KILN_DIGEST_SHA512 ? "sha512" : "sha256";
}

int kiln_digest_parse(const char *s, struct kiln_digest *ret, struct kiln_error *err)
{
        enum kiln_digest_alg alg;
        const char *hex;
        if (!s)
                return kiln_err(err, -KILN_EFORMAT, "invalid digest: empty");
        if (kiln_startswith(s, "sha256:")) {
                alg = KILN_DIGEST_SHA256;
                hex = s + 7;
        } else if (kiln_startswith(s, "sha512:")) {
                alg = KILN_DIGEST_SHA512;
                hex = s + 7;
        } else {
                const char *c = strchr(s, ':');
                if (c && c != s)
                        return kiln_err(err, -KILN_EFORMAT,
                                        "invalid digest '%.80s': unsupported algorithm", s);
                return kiln_err(err, -KILN_EFORMAT, "invalid digest '%.80s': no algorithm", s);
        }
        size_t n = strlen(hex);
        if (n != hex_len(alg))
                return kiln_err(err, -KILN_EFORMAT,
                                "invalid digest '%.80s': %s needs %zu hex characters, got %zu",
                                s, kiln_digest_alg_name(alg), hex_len(alg), n);
        for (size_t i = 0; i < n; i++) {
                char c = hex[i];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                        return kiln_err(err, -KILN_EFORMAT,
                                        "invalid digest '%.80s': not lowercase hex", s);
        }
        ret->alg = alg;
        memcpy(ret->str, s, 7 + n + 1);
        return 0;
}

const char *kiln_digest_hex(const struct kiln_digest *d)
{
        return d->str + 7;
}

bool kiln_digest_equal(const struct kiln_digest *a, const struct kiln_digest *b)
{
        return a->alg == b->alg && strcmp(a->str, b->str) == 0;
}

void kiln_digest_short(const struct kiln_digest *d, char *out, size_t outlen)
{
        snprintf(out, outlen, "%.12s", kiln_digest_hex(d));
}

struct kiln_hasher {
        union {
                SHA256_CTX sha256;
                SHA512_CTX sha512;
        } c;
        enum kiln_digest_alg alg;
};

struct kiln_hasher *kiln_hasher_new(enum kiln_digest_alg alg)
{
        struct kiln_hasher *h = kiln_xcalloc(1, sizeof(*h));
        h->alg = alg;
        if (!(alg == KILN_DIGEST_SHA512 ? SHA512_Init(&h->c.sha512) : SHA256_Init(&h->c.sha256)))
                abort();
        return h;
}

void kiln_hasher_update(struct kiln_hasher *h, const void *data, size_t len)
{
        if (!len)
                return;
        if (h->alg == KILN_DIGEST_SHA512)
                SHA512_Update(&h->c.sha512, data, len);
        else
                SHA256_Update(&h->c.sha256, data, len);
}

void kiln_hasher_final(struct kiln_hasher *h, struct kiln_digest *ret)
{
        unsigned char md[SHA512_DIGEST_LENGTH];
        unsigned int n;
        if (h->alg == KILN_DIGEST_SHA512) {
                SHA512_Final(md, &h->c.sha512);
                n = SHA512_DIGEST_LENGTH;
        } else {
                SHA256_Final(md, &h->c.sha256);
                n = SHA256_DIGEST_LENGTH;
        }
        static const char hx[] = "0123456789abcdef";
        ret->alg = h->alg;
        memcpy(ret->str, kiln_digest_alg_name(h->alg), 6);
        ret->str[6] = ':';
        for (unsigned i = 0; i < n; i++) {
                ret->str[7 + 2 * i] = hx[md[i] >> 4];
                ret->str[7 + 2 * i + 1] = hx[md[i] & 15];
        }
        ret->str[7 + 2 * n] = 0;
}

void kiln_hasher_free(struct kiln_hasher *h)
{
        if (!h)
                return;
        free(h);
}

void kiln_digest_buf(enum kiln_digest_alg alg, const void *data, size_t len,
                     struct kiln_digest *ret)
{
        _cleanup_(kiln_hasher_freep) struct kiln_hasher *h = kiln_hasher_new(alg);
        kiln_hasher_update(h, data, len);
        kiln_hasher_final(h, ret);
}

int kiln_digest_fd(enum kiln_digest_alg alg, int fd, struct kiln_digest *ret,
                   int64_t *ret_size)
{
        _cleanup_(kiln_hasher_freep) struct kiln_hasher *h = kiln_hasher_new(alg);
        size_t bufsz = 1 << 20;
        _cleanup_free_ char *buf = kiln_xmalloc(bufsz);
        int64_t total = 0;
        for (;;) {
                ssize_t n = read(fd, buf, bufsz);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                kiln_hasher_update(h, buf, (size_t)n);
                total += n;
        }
        kiln_hasher_final(h, ret);
        if (ret_size)
                *ret_size = total;
        return 0;
}
