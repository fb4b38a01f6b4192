/* Unit tests for lib/oci/digest.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <string.h>
#include "kiln/digest.h"

#define SHA256_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA512_ABC                                                                                 \
        "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"                 \
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"

static void test_parse(void **state)
{
        struct kiln_error e = { 0 };
        struct kiln_digest d;

        assert_int_equal(kiln_digest_parse(SHA256_ABC, &d, &e), 0);
        assert_int_equal(d.alg, KILN_DIGEST_SHA256);
        assert_string_equal(d.str, SHA256_ABC);
        assert_string_equal(kiln_digest_hex(&d), &SHA256_ABC[7]);
        assert_int_equal(kiln_digest_parse(SHA512_ABC, &d, &e), 0);
        assert_int_equal(d.alg, KILN_DIGEST_SHA512);
        assert_string_equal(kiln_digest_alg_name(d.alg), "sha512");
        assert_string_equal(kiln_digest_alg_name(KILN_DIGEST_SHA256), "sha256");

        static const struct {
                const char *in, *msg;
        } bad[] = {
                { "xyz", "invalid digest 'xyz': no algorithm" },
                { ":abc", "invalid digest ':abc': no algorithm" },
                { "", "invalid digest '': no algorithm" },
                { "md5:abc", "invalid digest 'md5:abc': unsupported algorithm" },
                { "sha256:abc", "invalid digest 'sha256:abc': sha256 needs 64 hex characters, got 3" },
                { "sha256:", "invalid digest 'sha256:': sha256 needs 64 hex characters, got 0" },
                { "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
                  "invalid digest 'sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD': "
                  "not lowercase hex" },
                { "sha256:zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                  "invalid digest 'sha256:zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad': "
                  "not lowercase hex" },
                { "SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                  "invalid digest 'SHA256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad': "
                  "unsupported algorithm" },
        };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                assert_int_equal(kiln_digest_parse(bad[i].in, &d, &e), -KILN_EFORMAT);
                assert_string_equal(e.msg, bad[i].msg);
        }
        assert_int_equal(kiln_digest_parse(NULL, &d, &e), -KILN_EFORMAT);
        assert_int_equal(kiln_digest_parse("x", &d, NULL), -KILN_EFORMAT);
}

static void test_compute(void **state)
{
        struct kiln_digest a, b;
        kiln_digest_buf(KILN_DIGEST_SHA256, "", 0, &a);
        assert_string_equal(a.str, SHA256_EMPTY);
        kiln_digest_buf(KILN_DIGEST_SHA256, "abc", 3, &a);
        assert_string_equal(a.str, SHA256_ABC);
        kiln_digest_buf(KILN_DIGEST_SHA512, "abc", 3, &b);
        assert_string_equal(b.str, SHA512_ABC);
        assert_false(kiln_digest_equal(&a, &b));

        /* streaming in pieces gives the same digest */
        _cleanup_(kiln_hasher_freep) struct kiln_hasher *h = kiln_hasher_new(KILN_DIGEST_SHA256);
        kiln_hasher_update(h, "a", 1);
        kiln_hasher_update(h, "", 0);
        kiln_hasher_update(h, "bc", 2);
        kiln_hasher_final(h, &b);
        assert_true(kiln_digest_equal(&a, &b));

        char s[13];
        kiln_digest_short(&a, s, sizeof(s));
        assert_string_equal(s, "ba7816bf8f01");

        struct kiln_digest p;
        assert_int_equal(kiln_digest_parse(a.str, &p, NULL), 0);
        assert_true(kiln_digest_equal(&a, &p));
}

static void test_fd(void **state)
{
        char path[] = "/tmp/kiln-digest-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        unlink(path);
        /* more than the 1 MiB read buffer */
        size_t n = (1 << 20) + 12345;
        _cleanup_free_ char *buf = kiln_xmalloc(n);
        for (size_t i = 0; i < n; i++)
                buf[i] = (char)(i * 7);
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        struct kiln_digest a, b;
        int64_t size = -1;
        assert_int_equal(kiln_digest_fd(KILN_DIGEST_SHA256, fd, &a, &size), 0);
        assert_int_equal(size, (int64_t)n);
        kiln_digest_buf(KILN_DIGEST_SHA256, buf, n, &b);
        assert_true(kiln_digest_equal(&a, &b));
        close(fd);
        assert_int_equal(kiln_digest_fd(KILN_DIGEST_SHA256, fd, &a, &size), -EBADF);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_compute),
                cmocka_unit_test(test_fd),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
