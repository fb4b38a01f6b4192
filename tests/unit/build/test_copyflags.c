/* Unit tests for COPY/ADD's flags and URL helpers (lib/build/copyflags.c,
 * lib/build/fetch.c) and the filtered context hash (buildctx.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kiln/buildctx.h"
#include "kiln/fs.h"
#include "lib/build/copyflags.h"
#include "lib/build/fetch.h"

static char *mktmp(void)
{
        char *d = kiln_xstrdup("/tmp/kiln-test-copyflags-XXXXXX");
        assert_non_null(mkdtemp(d));
        return d;
}

static void put(const char *dir, const char *rel, const char *content)
{
        char *p = kiln_xasprintf("%s/%s", dir, rel);
        for (char *s = strchr(p + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                mkdir(p, 0755);
                *s = '/';
        }
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
        free(p);
}

static void test_url_basename(void **state)
{
        static const struct {
                const char *url, *want;
        } cases[] = {
                { "http://h/file.txt", "file.txt" },
                { "https://h:8080/a/b/c.tar.gz", "c.tar.gz" },
                { "http://h/a/b/", "b" },            /* path.Base drops trailing slashes */
                { "http://h/a/file?x=1&y=/z", "file" }, /* the query is not the path */
                { "http://h/a/file#frag/x", "file" },
                { "http://h/dir/q%20x", "q x" },     /* percent-decoded */
                { "http://h/dir/q%2520x", "q%20x" },
                { "http://h/a%2Fb", "b" },           /* as Go: the decoded path is split */
                { "http://h/%zz", "%zz" },           /* not an escape: kept */
                { "http://h", NULL },
                { "http://h/", NULL },
                { "http://h?x=/y", NULL },
                { "http://h/.", NULL },
                { "http://h/..", NULL },
                { "http://h/a%00b", NULL },
                { "not a url", NULL },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *got = build_url_basename(cases[i].url);
                if (cases[i].want) {
                        assert_non_null(got);
                        assert_string_equal(got, cases[i].want);
                } else {
                        assert_null(got);
                }
                free(got);
        }
}

static void test_url_kinds(void **state)
{
        assert_true(build_is_http_url("http://h/x"));
        assert_true(build_is_http_url("https://h/x"));
        assert_false(build_is_http_url("ftp://h/x"));   /* a context path, as BuildKit */
        assert_false(build_is_http_url("HTTP://h/x"));
        assert_false(build_is_http_url("x/http://y"));
        assert_true(build_is_git_url("git://h/r"));
        assert_true(build_is_git_url("git@github.com:o/r.git"));
        assert_true(build_is_git_url("https://h/o/r.git"));
        assert_true(build_is_git_url("https://h/o/r.git#main"));
        assert_false(build_is_git_url("https://h/o/r.git.tar"));
        assert_false(build_is_git_url("https://h/o/file"));
        assert_false(build_is_git_url("dir/r.git"));
}

static void test_glob_base(void **state)
{
        assert_int_equal(build_glob_base_comps("."), 0);
        assert_int_equal(build_glob_base_comps("*.txt"), 0);
        assert_int_equal(build_glob_base_comps("a/b/*.c"), 2);
        assert_int_equal(build_glob_base_comps("a/b*/c"), 1);
        assert_int_equal(build_glob_base_comps("a/b/c"), 3);
        assert_int_equal(build_glob_base_comps("a/\\*/[x]"), 2); /* an escaped '*' is no wildcard */
        assert_string_equal(build_path_skip("a/b/c", 0), "a/b/c");
        assert_string_equal(build_path_skip("a/b/c", 2), "c");
        assert_string_equal(build_path_skip("a/b/c", 3), "");
        assert_string_equal(build_path_skip("a/b/c", 9), "");
}

static void test_parents(void **state)
{
        static const struct {
                const char *src, *pattern, *prefix;
        } cases[] = {
                { "x/a.txt", "x/a.txt", "." },
                { "./x/./y/*.txt", "./x/y/*.txt", "x" },
                { "/a/./b/c", "/a/b/c", "a" },
                { "/./b", "/b", "." },
                { "a/b/./c/./d", "a/b/c/./d", "a/b" }, /* the first pivot counts */
                { "../x/./y", "../x/y", "x" },         /* cleaned as an absolute path */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *pat, *pre;
                build_parents_split(cases[i].src, &pat, &pre);
                assert_string_equal(pat, cases[i].pattern);
                assert_string_equal(pre, cases[i].prefix);
                free(pat);
                free(pre);
        }
        assert_string_equal(build_parents_kept(".", "x/y/a"), "x/y/a");
        assert_string_equal(build_parents_kept("x", "x/y/a"), "y/a");
        assert_string_equal(build_parents_kept("x", "x"), ".");
        assert_null(build_parents_kept("x", "xy/a"));
        assert_null(build_parents_kept("x/y", "x"));
}

static void test_root_glob(void **state)
{
        char *d = mktmp();
        put(d, "d/one.conf", "1");
        put(d, "d/two.conf", "2");
        put(d, "d/sub/three.conf", "3");
        put(d, "d/note.txt", "n");
        put(d, "etc/x.conf", "e");
        char *l = kiln_xasprintf("%s/d/link", d);
        assert_int_equal(symlink("/etc", l), 0); /* resolved inside the root */
        free(l);
        int rfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(rfd >= 0);
        char **m = NULL;
        struct kiln_error e = { 0 };
        assert_int_equal(build_root_glob(rfd, "/d/*.conf", &m, &e), 2);
        assert_string_equal(m[0], "/d/one.conf");
        assert_string_equal(m[1], "/d/two.conf");
        kiln_strv_free(m);
        assert_int_equal(build_root_glob(rfd, "d/*/*.conf", &m, &e), 1); /* symlinks are not walked */
        assert_string_equal(m[0], "/d/sub/three.conf");
        kiln_strv_free(m);
        assert_int_equal(build_root_glob(rfd, "/d/link/*.conf", &m, &e), 1); /* the base is resolved */
        assert_string_equal(m[0], "/d/link/x.conf");
        kiln_strv_free(m);
        assert_int_equal(build_root_glob(rfd, "/../d/[ns]*", &m, &e), 2);
        assert_string_equal(m[0], "/d/note.txt");
        assert_string_equal(m[1], "/d/sub");
        kiln_strv_free(m);
        assert_int_equal(build_root_glob(rfd, "/*", &m, &e), 2);
        assert_string_equal(m[0], "/d");
        kiln_strv_free(m);
        assert_int_equal(build_root_glob(rfd, "/d/*.none", &m, &e), 0);
        assert_null(m[0]);
        kiln_strv_free(m);
        assert_true(build_root_glob(rfd, "/nope/*", &m, &e) < 0);
        assert_true(build_root_glob(rfd, "/d/[", &m, &e) < 0);
        close(rfd);
        kiln_fs_rm_rf_at(AT_FDCWD, d);
        free(d);
}

static bool skip_logs_and_tmp(void *ud, size_t i, const char *rel, bool is_dir)
{
        (void)ud;
        (void)i;
        return (!is_dir && strstr(rel, ".log")) || (is_dir && !strcmp(rel, "tmp"));
}

static bool skip_none(void *ud, size_t i, const char *rel, bool is_dir)
{
        return false;
}

static void test_hash_filtered(void **state)
{
        char *d = mktmp();
        put(d, "src/a", "alpha");
        put(d, "src/x.log", "noise");
        put(d, "src/tmp/t", "temp");
        put(d, "src/b/c", "gamma");
        struct kiln_buildctx *ctx = NULL;
        struct kiln_error e = { 0 };
        assert_int_equal(kiln_buildctx_open_dir(d, NULL, &ctx, &e), 0);
        char *paths[] = { "src", NULL };
        char h0[KILN_BUILDCTX_HASH_MAX], h1[KILN_BUILDCTX_HASH_MAX], h2[KILN_BUILDCTX_HASH_MAX];
        assert_int_equal(kiln_buildctx_hash(ctx, paths, h0, &e), 0);
        assert_int_equal(kiln_buildctx_hash_filtered(ctx, paths, skip_none, NULL, h1, &e), 0);
        assert_string_equal(h0, h1); /* nothing dropped: the same hash */
        assert_int_equal(kiln_buildctx_hash_filtered(ctx, paths, skip_logs_and_tmp, NULL, h1, &e), 0);
        assert_string_not_equal(h0, h1);
        /* what is dropped does not count, a dropped directory's files neither */
        put(d, "src/x.log", "other noise");
        put(d, "src/tmp/t", "other temp");
        put(d, "src/tmp/u", "new");
        assert_int_equal(kiln_buildctx_hash_filtered(ctx, paths, skip_logs_and_tmp, NULL, h2, &e), 0);
        assert_string_equal(h1, h2);
        put(d, "src/b/c", "changed");
        assert_int_equal(kiln_buildctx_hash_filtered(ctx, paths, skip_logs_and_tmp, NULL, h2, &e), 0);
        assert_string_not_equal(h1, h2);
        kiln_buildctx_free(ctx);
        kiln_fs_rm_rf_at(AT_FDCWD, d);
        free(d);
}

static void test_exclude_matcher(void **state)
{
        struct kiln_dockerignore *ig = NULL;
        struct kiln_error e = { 0 };
        assert_int_equal(build_exclude_new(NULL, &ig, &e), 0);
        assert_null(ig);
        const char *pats[] = { "*.txt", "dir2", "**/*.mp3", "!dir3/keep.mp3", NULL };
        assert_int_equal(build_exclude_new(pats, &ig, &e), 0);
        assert_true(kiln_dockerignore_matches(ig, "a.txt"));
        assert_false(kiln_dockerignore_matches(ig, "sub/a.txt")); /* '*' stays in one component */
        assert_true(kiln_dockerignore_matches(ig, "dir2/x"));    /* a parent matches */
        assert_true(kiln_dockerignore_matches(ig, "dir3/x.mp3"));
        assert_false(kiln_dockerignore_matches(ig, "dir3/keep.mp3"));
        kiln_dockerignore_free(ig);
        const char *bad[] = { "[", NULL };
        assert_true(build_exclude_new(bad, &ig, &e) < 0);
        assert_non_null(strstr(e.msg, "--exclude: "));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_url_basename),
                cmocka_unit_test(test_url_kinds),
                cmocka_unit_test(test_glob_base),
                cmocka_unit_test(test_parents),
                cmocka_unit_test(test_root_glob),
                cmocka_unit_test(test_hash_filtered),
                cmocka_unit_test(test_exclude_matcher),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
