/* Unit tests for lib/build/predef.c: containerd's platform specifiers,
 * the host check, the predefined ARG names and the platform ARGs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include "kiln/image.h"
#include "lib/build/predef.h"

static void test_parse_table(void **state)
{
        (void)state;
        static const struct {
                const char *in, *out; /* out NULL: an error */
        } t[] = {
                { "linux/amd64", "linux/amd64" },
                { "linux/x86_64", "linux/amd64" },
                { "linux/x86-64", "linux/amd64" },
                { "LINUX/AMD64", "linux/amd64" },
                { "linux/amd64/v1", "linux/amd64" },
                { "linux/amd64/v3", "linux/amd64/v3" },
                { "linux/aarch64", "linux/arm64" },
                { "linux/arm64/v8", "linux/arm64/v8" }, /* containerd keeps v8 given as a variant */
                { "linux/arm64/8", "linux/arm64/v8" },
                { "linux/arm", "linux/arm" },
                { "linux/arm/7", "linux/arm/v7" },
                { "linux/arm/6", "linux/arm/v6" },
                { "linux/armhf", "linux/arm" },
                { "linux/armel", "linux/arm/v6" },
                { "linux/i386", "linux/386" },
                { "macos/arm64", "darwin/arm64" },
                { "windows/amd64", "windows/amd64" },
                { "arm64", "linux/arm64" },
                { "x86_64", "linux/amd64" },
                { "nosuch", NULL },
                { "linux/am d64", NULL },
                { "linux//amd64", NULL },
                { "linux/amd64/v1/x", NULL },
                { "", NULL },
                { "/amd64", NULL },
        };
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
                struct build_platform p;
                struct kiln_error err = { 0 };
                int r = build_platform_parse(t[i].in, &p, &err);
                if (!t[i].out) {
                        if (r >= 0)
                                fail_msg("%s: parsed", t[i].in);
                        assert_non_null(strstr(err.msg, t[i].in));
                        continue;
                }
                if (r < 0)
                        fail_msg("%s: %s", t[i].in, err.msg);
                char s[96];
                build_platform_format(&p, s, sizeof(s));
                if (strcmp(s, t[i].out))
                        fail_msg("%s: got %s, want %s", t[i].in, s, t[i].out);
        }
}

static void test_lone_os_gets_host_arch(void **state)
{
        (void)state;
        struct build_platform p;
        assert_int_equal(build_platform_parse("linux", &p, NULL), 0);
        assert_string_equal(p.os, "linux");
        assert_string_equal(p.arch, kiln_platform_arch());
}

static void test_check_host(void **state)
{
        (void)state;
        struct build_platform host;
        build_platform_host(&host);
        char hs[96];
        build_platform_format(&host, hs, sizeof(hs));
        assert_int_equal(build_platform_check(hs, NULL), 0);
        assert_int_equal(build_platform_check(host.arch, NULL), 0);
        assert_int_equal(build_platform_check("linux", NULL), 0);
        const char *other = strcmp(host.arch, "s390x") ? "linux/s390x" : "linux/amd64";
        struct kiln_error err = { 0 };
        assert_int_equal(build_platform_check(other, &err), -KILN_EUNSUPPORTED);
        char want[256];
        snprintf(want, sizeof(want), "platform %s is not supported: kiln builds for the host platform %s only",
                 other, hs);
        assert_string_equal(err.msg, want);
        /* arm64 and arm64/v8 are the same platform; so are arm and arm/v7 */
        struct build_platform a, b;
        build_platform_parse("linux/arm64", &a, NULL);
        build_platform_parse("linux/arm64/v8", &b, NULL);
        assert_true(build_platform_equal(&a, &b));
        build_platform_parse("linux/arm", &a, NULL);
        build_platform_parse("linux/arm/v7", &b, NULL);
        assert_true(build_platform_equal(&a, &b));
        build_platform_parse("linux/arm/v6", &b, NULL);
        assert_false(build_platform_equal(&a, &b));
}

static void test_names(void **state)
{
        (void)state;
        assert_true(build_is_proxy_arg("HTTP_PROXY"));
        assert_true(build_is_proxy_arg("all_proxy"));
        assert_false(build_is_proxy_arg("Http_Proxy"));
        assert_true(build_is_platform_arg("TARGETVARIANT"));
        assert_true(build_is_platform_arg("BUILDPLATFORM"));
        assert_false(build_is_platform_arg("TARGETSTAGE"));
}

static void test_platform_args(void **state)
{
        (void)state;
        json_t *scope = json_object();
        json_t *given = json_pack("{s:s}", "TARGETOS", "other");
        struct build_platform t;
        build_platform_parse("linux/arm/v6", &t, NULL);
        build_platform_args(scope, &t, given);
        assert_string_equal(json_string_value(json_object_get(scope, "TARGETPLATFORM")), "linux/arm/v6");
        assert_string_equal(json_string_value(json_object_get(scope, "TARGETOS")), "other");
        assert_string_equal(json_string_value(json_object_get(scope, "TARGETARCH")), "arm");
        assert_string_equal(json_string_value(json_object_get(scope, "TARGETVARIANT")), "v6");
        assert_string_equal(json_string_value(json_object_get(scope, "BUILDARCH")), kiln_platform_arch());
        assert_string_equal(json_string_value(json_object_get(scope, "BUILDOS")), "linux");
        assert_int_equal(json_object_size(scope), 8);
        json_decref(scope);
        json_decref(given);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_table),     cmocka_unit_test(test_lone_os_gets_host_arch),
                cmocka_unit_test(test_check_host),      cmocka_unit_test(test_names),
                cmocka_unit_test(test_platform_args),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
