/* Unit tests for lib/oci/reference.c: Docker's reference grammar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include "kiln/reference.h"

#define D64 "e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582"
#define F64 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define F128 F64 F64

struct good {
        const char *in;
        const char *domain, *path, *tag, *digest;
        const char *familiar;
};

/* Parsed without flags: no tag is implied. */
static const struct good goods[] = {
        /* normalization to Docker Hub */
        { "busybox", "docker.io", "library/busybox", NULL, NULL, "busybox" },
        { "library/busybox", "docker.io", "library/busybox", NULL, NULL, "busybox" },
        { "docker.io/busybox", "docker.io", "library/busybox", NULL, NULL, "busybox" },
        { "docker.io/library/busybox", "docker.io", "library/busybox", NULL, NULL, "busybox" },
        { "index.docker.io/busybox", "docker.io", "library/busybox", NULL, NULL, "busybox" },
        { "index.docker.io/docker/docker", "docker.io", "docker/docker", NULL, NULL, "docker/docker" },
        { "docker.io/library/foo/bar", "docker.io", "library/foo/bar", NULL, NULL, "library/foo/bar" },
        { "busybox:latest", "docker.io", "library/busybox", "latest", NULL, "busybox:latest" },
        { "user/app:1", "docker.io", "user/app", "1", NULL, "user/app:1" },
        { "test_com", "docker.io", "library/test_com", NULL, NULL, "test_com" },
        { "test_com/foo", "docker.io", "test_com/foo", NULL, NULL, "test_com/foo" },
        /* the familiar form must not read back as another registry */
        { "index.docker.io/20.1/app:1.2", "docker.io", "20.1/app", "1.2", NULL,
          "docker.io/20.1/app:1.2" },
        { "docker.io/localhost/app", "docker.io", "localhost/app", NULL, NULL,
          "docker.io/localhost/app" },
        { "docker.io/library/a.b", "docker.io", "library/a.b", NULL, NULL, "a.b" },
        { "busybox@sha256:" D64, "docker.io", "library/busybox", NULL, "sha256:" D64,
          "busybox@sha256:" D64 },
        /* domains */
        { "localhost/foo", "localhost", "foo", NULL, NULL, "localhost/foo" },
        { "localhost:5000/foo/bar:tag@sha256:" D64, "localhost:5000", "foo/bar", "tag",
          "sha256:" D64, "localhost:5000/foo/bar:tag@sha256:" D64 },
        { "test.com:tag", "docker.io", "library/test.com", "tag", NULL, "test.com:tag" },
        { "test.com:5000", "docker.io", "library/test.com", "5000", NULL, "test.com:5000" },
        { "test.com/repo:tag", "test.com", "repo", "tag", NULL, "test.com/repo:tag" },
        { "test:5000/repo", "test:5000", "repo", NULL, NULL, "test:5000/repo" },
        { "test:5000/repo:tag", "test:5000", "repo", "tag", NULL, "test:5000/repo:tag" },
        { "test:5000/repo@sha256:" F64, "test:5000", "repo", NULL, "sha256:" F64,
          "test:5000/repo@sha256:" F64 },
        { "sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
          "some-long-tag", NULL, "sub-dom1.foo.com/bar/baz/quux:some-long-tag" },
        { "b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io",
          "test.example.com/my-app", "test.example.com", NULL,
          "b.gcr.io/test.example.com/my-app:test.example.com" },
        { "xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", NULL,
          "xn--n3h.com/myimage:xn--n3h.com" },
        { "xn--7o8h.com/myimage:xn--7o8h.com@sha512:" F128, "xn--7o8h.com", "myimage",
          "xn--7o8h.com", "sha512:" F128, "xn--7o8h.com/myimage:xn--7o8h.com@sha512:" F128 },
        { "foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080", NULL,
          "foo_bar.com:8080" },
        { "foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080", NULL,
          "foo/foo_bar.com:8080" },
        { "192.168.1.1", "docker.io", "library/192.168.1.1", NULL, NULL, "192.168.1.1" },
        { "192.168.1.1:5000", "docker.io", "library/192.168.1.1", "5000", NULL,
          "192.168.1.1:5000" },
        { "192.168.1.1/repo", "192.168.1.1", "repo", NULL, NULL, "192.168.1.1/repo" },
        { "192.168.1.1:5000/repo", "192.168.1.1:5000", "repo", NULL, NULL,
          "192.168.1.1:5000/repo" },
        { "[2001:db8::1]/repo", "[2001:db8::1]", "repo", NULL, NULL, "[2001:db8::1]/repo" },
        { "[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag", NULL,
          "[2001:db8:1:2:3:4:5:6]/repo:tag" },
        { "[2001:db8::1]:5000/repo:tag@sha256:" F64, "[2001:db8::1]:5000", "repo", "tag",
          "sha256:" F64, "[2001:db8::1]:5000/repo:tag@sha256:" F64 },
        { "[::1]:5000/repo", "[::1]:5000", "repo", NULL, NULL, "[::1]:5000/repo" },
        { "[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", NULL, NULL,
          "[fc00::1]:5000/docker/docker" },
        /* an upper-case first component is a domain, as in Docker */
        { "Foo/bar", "Foo", "bar", NULL, NULL, "Foo/bar" },
        { "DOCKER/docker", "DOCKER", "docker", NULL, NULL, "DOCKER/docker" },
        /* tags keep their case */
        { "lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase", NULL,
          "lowercase:Uppercase" },
        { "a:_tag.-x", "docker.io", "library/a", "_tag.-x", NULL, "a:_tag.-x" },
        /* separators */
        { "a__b/c.d/e---f/g_h", "docker.io", "a__b/c.d/e---f/g_h", NULL, NULL,
          "a__b/c.d/e---f/g_h" },
        /* a name made of hex is a name here; callers check IDs first */
        { "docker.io/" D64, "docker.io", "library/" D64, NULL, NULL, D64 },
        { D64, "docker.io", "library/" D64, NULL, NULL, D64 },
};

static void test_good(void **state)
{
        for (size_t i = 0; i < KILN_ARRAY_SIZE(goods); i++) {
                const struct good *g = &goods[i];
                struct kiln_error e = { 0 };
                _cleanup_(kiln_reference_freep) struct kiln_reference *r = NULL;
                int ret = kiln_reference_parse(g->in, 0, &r, &e);
                if (ret < 0)
                        fail_msg("'%s': %s", g->in, e.msg);
                assert_string_equal(r->domain, g->domain);
                if (g->path)
                        assert_string_equal(r->path, g->path);
                if (g->tag)
                        assert_string_equal(r->tag, g->tag);
                else
                        assert_null(r->tag);
                if (g->digest)
                        assert_string_equal(r->digest, g->digest);
                else
                        assert_null(r->digest);
                if (g->familiar) {
                        _cleanup_free_ char *f = kiln_reference_familiar(r);
                        assert_string_equal(f, g->familiar);
                }

                /* the canonical and familiar strings parse back to the same */
                _cleanup_free_ char *s = kiln_reference_string(r);
                _cleanup_free_ char *f = kiln_reference_familiar(r);
                _cleanup_(kiln_reference_freep) struct kiln_reference *r2 = NULL, *r3 = NULL;
                assert_int_equal(kiln_reference_parse(s, 0, &r2, NULL), 0);
                assert_int_equal(kiln_reference_parse(f, 0, &r3, NULL), 0);
                _cleanup_free_ char *s2 = kiln_reference_string(r2);
                _cleanup_free_ char *s3 = kiln_reference_string(r3);
                assert_string_equal(s, s2);
                assert_string_equal(s, s3);
        }
}

struct bad {
        const char *in;
        const char *msg;
};

static const struct bad bads[] = {
        { "", "invalid reference format: empty reference" },
        { ":justtag", "invalid reference format" },
        { ":tag", "invalid reference format" },
        { "@sha256:" F64, "invalid reference format" },
        { "a@sha256:short", "invalid reference format: invalid digest 'sha256:short': "
                            "sha256 needs 64 hex characters, got 5" },
        { "validname@invaliddigest:" F64,
          "invalid reference format: invalid digest 'invaliddigest:" F64
          "': unsupported algorithm" },
        { "repo@sha256:" F64 "f", "invalid reference format: invalid digest 'sha256:" F64
                                  "f': sha256 needs 64 hex characters, got 65" },
        { "repo@" F64, "invalid reference format: invalid digest '" F64 "': no algorithm" },
        { "foo/", "invalid reference format" },
        { "foo//bar", "invalid reference format" },
        { "docker///docker", "invalid reference format" },
        { "docker.io/docker///docker", "invalid reference format" },
        { "foo/bar/", "invalid reference format" },
        { "/foo", "invalid reference format" },
        { "localhost/", "invalid reference format" },
        { "https://github.com/docker/docker", "invalid reference format" },
        { "-docker", "invalid reference format" },
        { "-docker/docker", "invalid reference format" },
        { "-docker.io/docker/docker", "invalid reference format" },
        { "docker-/docker", "invalid reference format" },
        { "a..b", "invalid reference format" },
        { "a___b", "invalid reference format" },
        { "a._b", "invalid reference format" },
        { "a.", "invalid reference format" },
        { "aa/asdf$$^/aa", "invalid reference format" },
        { "foo:", "invalid reference format" },
        { "foo:.tag", "invalid reference format" },
        { "foo:-tag", "invalid reference format" },
        { "foo:ta/g", "invalid reference format" },
        { "foo:t@g", "invalid reference format: invalid digest 'g': no algorithm" },
        { "foo:tag:tag", "invalid reference format" },
        { "foo bar", "invalid reference format" },
        { "[2001:db8::1]", "invalid reference format" },
        { "[2001:db8::1]:5000", "invalid reference format" },
        { "[2001:db8::1]:tag", "invalid reference format" },
        { "[fe80::1%eth0]:5000/repo", "invalid reference format" },
        { "[fe80::1%@invalidzone]:5000/repo", "invalid reference format" },
        { "[2001:db8:3:4::192.0.2.33]:5000/debian", "invalid reference format" },
        { "fc00::1:5000/debian", "invalid reference format" },
        { "[]/repo", "invalid reference format" },
        { "host:/repo", "invalid reference format" },
        { "host:50a/repo", "invalid reference format" },
        { "ho_st.com/repo", "invalid reference format" },
        { "-host.com/repo", "invalid reference format" },
        { "host-.com/repo", "invalid reference format" },
        { "host..com/repo", "invalid reference format" },
        /* upper case in the path */
        { "Uppercase:tag", "invalid reference format: repository name must be lowercase" },
        { "Foo", "invalid reference format: repository name must be lowercase" },
        { "docker/Docker", "invalid reference format: repository name must be lowercase" },
        { "docker.io/docker/Docker", "invalid reference format: repository name must be lowercase" },
        { "test:5000/Uppercase/lowercase:tag",
          "invalid reference format: repository name must be lowercase" },
        { "Foo/Bar", "invalid reference format: repository name must be lowercase" },
};

static void test_bad(void **state)
{
        for (size_t i = 0; i < KILN_ARRAY_SIZE(bads); i++) {
                struct kiln_error e = { 0 };
                struct kiln_reference *r = NULL;
                int ret = kiln_reference_parse(bads[i].in, 0, &r, &e);
                if (ret != -KILN_EFORMAT)
                        fail_msg("'%s' parsed (%d)", bads[i].in, ret);
                assert_null(r);
                if (strcmp(e.msg, bads[i].msg) != 0)
                        fail_msg("'%s': got '%s', want '%s'", bads[i].in, e.msg, bads[i].msg);
        }
        /* no crash without an error record or a string */
        struct kiln_reference *r = NULL;
        assert_int_equal(kiln_reference_parse("A", 0, &r, NULL), -KILN_EFORMAT);
        assert_int_equal(kiln_reference_parse(NULL, 0, &r, NULL), -KILN_EFORMAT);
        assert_null(r);
}

static void test_lengths(void **state)
{
        struct kiln_error e = { 0 };
        char buf[8192];
        struct kiln_reference *r = NULL;

        /* Docker's own pair: 128 components is too long, 127 fits with a domain */
        buf[0] = 0;
        for (int i = 0; i < 128; i++)
                strcat(buf, "a/");
        strcat(buf, "a:tag");
        assert_int_equal(kiln_reference_parse(buf, 0, &r, &e), -KILN_EFORMAT);
        assert_string_equal(e.msg, "invalid reference format: repository name must not be "
                                   "more than 255 characters");
        buf[0] = 0;
        for (int i = 0; i < 127; i++)
                strcat(buf, "a/");
        strcat(buf, "a:tag-puts-this-over-max");
        assert_int_equal(kiln_reference_parse(buf, 0, &r, &e), 0);
        assert_string_equal(r->domain, "docker.io");
        assert_int_equal(strlen(r->path), 255);
        kiln_reference_free(r);
        r = NULL;

        /* the limit counts the normalized path: library/ + 247 = 255 */
        memset(buf, 'a', 247);
        buf[247] = 0;
        assert_int_equal(kiln_reference_parse(buf, 0, &r, &e), 0);
        kiln_reference_free(r);
        r = NULL;
        memset(buf, 'a', 248);
        buf[248] = 0;
        assert_int_equal(kiln_reference_parse(buf, 0, &r, &e), -KILN_EFORMAT);
        /* and not the domain */
        size_t n = (size_t)snprintf(buf, sizeof(buf), "%0200d.example.com/", 0);
        memset(buf + n, 'b', 255);
        buf[n + 255] = 0;
        assert_int_equal(kiln_reference_parse(buf, 0, &r, &e), 0);
        assert_int_equal(strlen(r->domain), 212);
        kiln_reference_free(r);
        r = NULL;

        /* tags: 128 characters at most */
        strcpy(buf, "a:");
        memset(buf + 2, 't', 128);
        buf[130] = 0;
        assert_int_equal(kiln_reference_parse(buf, 0, &r, &e), 0);
        assert_int_equal(strlen(r->tag), 128);
        kiln_reference_free(r);
        r = NULL;
        strcat(buf, "t");
        assert_int_equal(kiln_reference_parse(buf, 0, &r, &e), -KILN_EFORMAT);
        assert_string_equal(e.msg, "invalid reference format");

        /* the input limit */
        memset(buf, 'a', sizeof(buf) - 1);
        buf[sizeof(buf) - 1] = 0;
        assert_int_equal(kiln_reference_parse(buf, 0, &r, &e), -KILN_EFORMAT);
        assert_string_equal(e.msg, "invalid reference format: reference is too long");
        assert_null(r);
}

static void test_flags(void **state)
{
        struct kiln_error e = { 0 };
        _cleanup_(kiln_reference_freep) struct kiln_reference *a = NULL, *b = NULL, *c = NULL,
                                                              *d = NULL;
        assert_int_equal(kiln_reference_parse("busybox", KILN_REF_DEFAULT_TAG, &a, &e), 0);
        assert_string_equal(a->tag, "latest");
        _cleanup_free_ char *s = kiln_reference_string(a);
        assert_string_equal(s, "docker.io/library/busybox:latest");
        _cleanup_free_ char *repo = kiln_reference_repository(a);
        assert_string_equal(repo, "docker.io/library/busybox");
        _cleanup_free_ char *fr = kiln_reference_familiar_repository(a);
        assert_string_equal(fr, "busybox");
        _cleanup_free_ char *f = kiln_reference_familiar(a);
        assert_string_equal(f, "busybox:latest");

        /* a digest alone implies no tag; a tag and a digest are both kept */
        assert_int_equal(kiln_reference_parse("busybox@sha256:" D64, KILN_REF_DEFAULT_TAG, &b, &e), 0);
        assert_null(b->tag);
        _cleanup_free_ char *sb = kiln_reference_string(b);
        assert_string_equal(sb, "docker.io/library/busybox@sha256:" D64);
        assert_int_equal(kiln_reference_parse("gcr.io/library/busybox:1@sha256:" D64,
                                              KILN_REF_DEFAULT_TAG, &c, &e), 0);
        _cleanup_free_ char *sc = kiln_reference_string(c);
        assert_string_equal(sc, "gcr.io/library/busybox:1@sha256:" D64);
        _cleanup_free_ char *fc = kiln_reference_familiar_repository(c);
        assert_string_equal(fc, "gcr.io/library/busybox");

        struct kiln_reference *x = NULL;
        assert_int_equal(kiln_reference_parse("busybox@sha256:" D64, KILN_REF_NO_DIGEST, &x, &e),
                         -KILN_EFORMAT);
        assert_string_equal(e.msg, "invalid reference format: a digest is not allowed here");
        assert_null(x);
        assert_int_equal(kiln_reference_parse("localhost:5000/x:y",
                                              KILN_REF_NO_DIGEST | KILN_REF_DEFAULT_TAG, &d, &e), 0);
        _cleanup_free_ char *fd = kiln_reference_familiar(d);
        assert_string_equal(fd, "localhost:5000/x:y");
}

static void test_id_prefix(void **state)
{
        assert_true(kiln_reference_is_id_prefix("a"));
        assert_true(kiln_reference_is_id_prefix("0123456789ab"));
        assert_true(kiln_reference_is_id_prefix(D64));
        assert_true(kiln_reference_is_id_prefix("sha256:" D64));
        assert_true(kiln_reference_is_id_prefix("sha256:e669"));
        assert_false(kiln_reference_is_id_prefix(""));
        assert_false(kiln_reference_is_id_prefix(NULL));
        assert_false(kiln_reference_is_id_prefix("sha256:"));
        assert_false(kiln_reference_is_id_prefix(D64 "0"));
        assert_false(kiln_reference_is_id_prefix("E669"));
        assert_false(kiln_reference_is_id_prefix("busybox"));
        assert_false(kiln_reference_is_id_prefix("abcg"));
        assert_false(kiln_reference_is_id_prefix("sha512:abc"));
        assert_false(kiln_reference_is_id_prefix("abc:latest"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_good),
                cmocka_unit_test(test_bad),
                cmocka_unit_test(test_lengths),
                cmocka_unit_test(test_flags),
                cmocka_unit_test(test_id_prefix),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
