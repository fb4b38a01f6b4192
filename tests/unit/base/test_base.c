/* Unit tests for lib/base. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include "kiln/base.h"
#include "kiln/fs.h"

static void test_err(void **state)
{
        struct kiln_error e = { 0 };
        assert_int_equal(kiln_err(&e, -KILN_EDIGEST, "blob %s: digest mismatch", "x"), -KILN_EDIGEST);
        assert_string_equal(e.msg, "blob x: digest mismatch");
        kiln_err_prefix(&e, -KILN_EDIGEST, "pull '%s': ", "app");
        assert_string_equal(e.msg, "pull 'app': blob x: digest mismatch");
        kiln_error_clear(&e);
        kiln_err_prefix(&e, -ENOENT, "open: ");
        assert_string_equal(e.msg, "open: No such file or directory");
        assert_string_equal(kiln_strerror(-KILN_EUNSAFE), "path escapes its root");
        assert_int_equal(kiln_err(NULL, -EIO, "x"), -EIO);
        kiln_err(&e, -EIO, "two\nlines");
        assert_string_equal(e.msg, "two lines");
}

static void test_buf(void **state)
{
        _cleanup_buf_ struct kiln_buf b = KILN_BUF_INIT;
        for (int i = 0; i < 1000; i++)
                kiln_buf_printf(&b, "%d,", i);
        assert_true(kiln_startswith(b.data, "0,1,2,"));
        assert_true(kiln_endswith(b.data, "999,"));
        kiln_buf_puts(&b, "");
        char *s = kiln_buf_steal(&b);
        assert_null(b.data);
        free(s);
}

static void test_format(void **state)
{
        char out[64];
        kiln_format_size(512, out, sizeof out);
        assert_string_equal(out, "512B");
        kiln_format_size(4260000, out, sizeof out);
        assert_string_equal(out, "4.26MB");
        kiln_format_ago(100, 100 + 3 * 3600, out, sizeof out);
        assert_string_equal(out, "3 hours ago");
        kiln_format_rfc3339(0, out, sizeof out);
        assert_string_equal(out, "1970-01-01T00:00:00Z");
        assert_int_equal(kiln_parse_rfc3339("2024-01-02T03:04:05Z"), 1704164645);
        assert_int_equal(kiln_parse_rfc3339("2024-01-02T03:04:05.123456789+01:00"), 1704164645 - 3600);
        assert_int_equal(kiln_parse_rfc3339("garbage"), -1);
        assert_int_equal(kiln_parse_rfc3339("2024-01-02T03:04:05"), -1);
}

static void test_normalize(void **state)
{
        char out[256];
        assert_int_equal(kiln_fs_path_normalize("/a//b/./c/", out), 0);
        assert_string_equal(out, "a/b/c");
        assert_int_equal(kiln_fs_path_normalize("./", out), 0);
        assert_string_equal(out, "");
        assert_int_equal(kiln_fs_path_normalize("a/../b", out), -KILN_EUNSAFE);
        assert_int_equal(kiln_fs_path_normalize("..", out), -KILN_EUNSAFE);
        assert_int_equal(kiln_fs_path_normalize("a/..b", out), 0);
        assert_string_equal(out, "a/..b");
}

static void test_fs(void **state)
{
        char tmpl[] = "/tmp/kiln-test-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        _cleanup_close_ int dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(kiln_fs_mkdir_p(dfd, "a/b/c", 0755), 0);
        assert_int_equal(kiln_fs_write_atomic(dfd, "a/b/f", "hello", 5, 0644), 0);
        char *data;
        size_t len;
        assert_int_equal(kiln_fs_read_file(dfd, "a/b/f", 100, &data, &len), 0);
        assert_int_equal(len, 5);
        assert_string_equal(data, "hello");
        free(data);
        assert_int_equal(kiln_fs_read_file(dfd, "a/b/f", 3, &data, &len), -KILN_ETOOBIG);
        /* a symlink pointing out of the root resolves inside it */
        assert_int_equal(symlinkat("/etc", dfd, "a/evil"), 0);
        assert_int_equal(symlinkat("../../../../..", dfd, "a/up"), 0);
        int fd = kiln_fs_open_in_root(dfd, "a/evil/passwd", O_RDONLY, 0);
        assert_true(fd < 0);
        fd = kiln_fs_open_in_root(dfd, "a/up/a/b/f", O_RDONLY, 0);
        assert_true(fd >= 0);
        close(fd);
        fd = kiln_fs_open_in_root(dfd, "a/evil/newfile", O_WRONLY | O_CREAT, 0644);
        assert_true(fd < 0); /* <root>/etc does not exist */
        struct stat st;
        assert_int_equal(stat("/etc/newfile", &st), -1);
        const char *base;
        int pfd = kiln_fs_open_parent_in_root(dfd, "x/y/z/file", true, &base);
        assert_true(pfd >= 0);
        assert_string_equal(base, "file");
        close(pfd);
        assert_int_equal(fstatat(dfd, "x/y/z", &st, 0), 0);
        assert_true(S_ISDIR(st.st_mode));
        /* an unwritable directory is still removed */
        assert_int_equal(chmod(tmpl, 0755), 0);
        assert_int_equal(fchmodat(dfd, "a/b", 0500, 0), 0);
        close(dfd);
        dfd = -1;
        assert_int_equal(kiln_fs_rm_rf_at(AT_FDCWD, tmpl), 0);
        assert_int_equal(stat(tmpl, &st), -1);
}

/* The parallel remover: a big directory (threads), nested ones, a symlink
 * to a directory outside (removed, not followed), a file and a missing
 * name; what is outside stays. */
static void test_rm_rf_parallel(void **state)
{
        char tmpl[] = "/tmp/kiln-test-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        _cleanup_close_ int dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(kiln_fs_mkdir_p(dfd, "outside", 0755), 0);
        assert_int_equal(kiln_fs_write_atomic(dfd, "outside/keep", "k", 1, 0644), 0);
        assert_int_equal(kiln_fs_mkdir_p(dfd, "t/big", 0755), 0);
        assert_int_equal(kiln_fs_mkdir_p(dfd, "t/a/b/c", 0755), 0);
        char name[64];
        for (int i = 0; i < 500; i++) {
                snprintf(name, sizeof name, "t/big/f%d", i);
                assert_int_equal(kiln_fs_write_atomic(dfd, name, "x", 1, 0644), 0);
        }
        for (int i = 0; i < 40; i++) {
                snprintf(name, sizeof name, "t/a/b/c/g%d", i);
                assert_int_equal(kiln_fs_write_atomic(dfd, name, "y", 1, 0644), 0);
        }
        char out[512];
        snprintf(out, sizeof out, "%s/outside", tmpl);
        assert_int_equal(symlinkat(out, dfd, "t/big/link"), 0);
        assert_int_equal(symlinkat("../../outside", dfd, "t/a/rel"), 0);
        assert_int_equal(fchmodat(dfd, "t/a/b", 0500, 0), 0);
        assert_int_equal(kiln_fs_rm_rf_parallel_at(dfd, "t", 8), 0);
        struct stat st;
        assert_int_equal(fstatat(dfd, "t", &st, AT_SYMLINK_NOFOLLOW), -1);
        assert_int_equal(fstatat(dfd, "outside/keep", &st, 0), 0);
        /* missing: fine; a file: removed; one thread: the same */
        assert_int_equal(kiln_fs_rm_rf_parallel_at(dfd, "t", 8), 0);
        assert_int_equal(kiln_fs_write_atomic(dfd, "file", "z", 1, 0644), 0);
        assert_int_equal(kiln_fs_rm_rf_parallel_at(dfd, "file", 8), 0);
        assert_int_equal(fstatat(dfd, "file", &st, 0), -1);
        assert_int_equal(kiln_fs_rm_rf_parallel_at(AT_FDCWD, tmpl, 1), 0);
        assert_int_equal(stat(tmpl, &st), -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_err),
                cmocka_unit_test(test_buf),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_normalize),
                cmocka_unit_test(test_fs),
                cmocka_unit_test(test_rm_rf_parallel),
        };
        return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
