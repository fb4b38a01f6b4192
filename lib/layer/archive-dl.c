/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libarchive, loaded when first used.
 *
 * Linking libarchive makes every kiln process load it and what it needs
 * (libxml2, ICU, libstdc++, nettle, acl, lzma, lz4, bz2): about 1.4 ms of
 * dynamic loading and relocation at each start on the project's VMs, paid by
 * `kiln run`, `kiln ps` and every other command that never reads or writes a
 * tar stream. kiln is not linked against it; these wrappers (one per function
 * kiln calls, same prototypes as <archive.h>/<archive_entry.h>, hidden) dlopen
 * libarchive.so.13 on the first call and forward. A missing library is fatal
 * with a message, as a missing DT_NEEDED library would be.
 *
 * A function not listed here fails to link: add a W() line (return type,
 * name, parameters, arguments; WV() for void functions).
 */
#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define ARCHIVE_SONAME "libarchive.so.13"

static void *lib;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_open(void)
{
        lib = dlopen(ARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
}

static void *sym(const char *name)
{
        pthread_once(&lib_once, lib_open);
        void *p = lib ? dlsym(lib, name) : NULL;
        if (!p) {
                const char *e = dlerror();
                fprintf(stderr, "kiln: %s: %s\n", lib ? name : ARCHIVE_SONAME,
                        e ? e : "cannot load");
                abort();
        }
        return p;
}

/* the pointer is resolved once; a race resolves the same value twice */
#define W(ret, name, params, args)                                                    \
        __attribute__((visibility("hidden"))) ret name params                         \
        {                                                                              \
                static __typeof__(&name) fn;                                           \
                __typeof__(&name) f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);          \
                if (!f) {                                                              \
                        f = (__typeof__(&name))sym(#name);                             \
                        __atomic_store_n(&fn, f, __ATOMIC_RELEASE);                    \
                }                                                                      \
                return f args;                                                         \
        }
#define WV(name, params, args)                                                        \
        __attribute__((visibility("hidden"))) void name params                        \
        {                                                                              \
                static __typeof__(&name) fn;                                           \
                __typeof__(&name) f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);          \
                if (!f) {                                                              \
                        f = (__typeof__(&name))sym(#name);                             \
                        __atomic_store_n(&fn, f, __ATOMIC_RELEASE);                    \
                }                                                                      \
                f args;                                                                \
        }

WV(archive_entry_copy_pathname, (struct archive_entry *a0, const char *a1), (a0, a1))
WV(archive_entry_copy_stat, (struct archive_entry *a0, const struct stat *a1), (a0, a1))
WV(archive_entry_copy_symlink, (struct archive_entry *a0, const char *a1), (a0, a1))
W(__LA_MODE_T, archive_entry_filetype, (struct archive_entry *a0), (a0))
WV(archive_entry_free, (struct archive_entry *a0), (a0))
W(la_int64_t, archive_entry_gid, (struct archive_entry *a0), (a0))
W(const char *, archive_entry_hardlink, (struct archive_entry *a0), (a0))
W(__LA_MODE_T, archive_entry_mode, (struct archive_entry *a0), (a0))
W(time_t, archive_entry_mtime, (struct archive_entry *a0), (a0))
W(int, archive_entry_mtime_is_set, (struct archive_entry *a0), (a0))
W(long, archive_entry_mtime_nsec, (struct archive_entry *a0), (a0))
W(struct archive_entry *, archive_entry_new, (void), ())
W(const char *, archive_entry_pathname, (struct archive_entry *a0), (a0))
W(dev_t, archive_entry_rdevmajor, (struct archive_entry *a0), (a0))
W(dev_t, archive_entry_rdevminor, (struct archive_entry *a0), (a0))
WV(archive_entry_set_gid, (struct archive_entry *a0, la_int64_t a1), (a0, a1))
WV(archive_entry_set_hardlink, (struct archive_entry *a0, const char *a1), (a0, a1))
WV(archive_entry_set_mode, (struct archive_entry *a0, __LA_MODE_T a1), (a0, a1))
WV(archive_entry_set_mtime, (struct archive_entry *a0, time_t a1, long a2), (a0, a1, a2))
WV(archive_entry_set_nlink, (struct archive_entry *a0, unsigned int a1), (a0, a1))
WV(archive_entry_set_pathname, (struct archive_entry *a0, const char *a1), (a0, a1))
WV(archive_entry_set_rdevmajor, (struct archive_entry *a0, dev_t a1), (a0, a1))
WV(archive_entry_set_rdevminor, (struct archive_entry *a0, dev_t a1), (a0, a1))
WV(archive_entry_set_size, (struct archive_entry *a0, la_int64_t a1), (a0, a1))
WV(archive_entry_set_symlink, (struct archive_entry *a0, const char *a1), (a0, a1))
WV(archive_entry_set_uid, (struct archive_entry *a0, la_int64_t a1), (a0, a1))
W(la_int64_t, archive_entry_size, (struct archive_entry *a0), (a0))
W(const struct stat *, archive_entry_stat, (struct archive_entry *a0), (a0))
W(const char *, archive_entry_symlink, (struct archive_entry *a0), (a0))
W(la_int64_t, archive_entry_uid, (struct archive_entry *a0), (a0))
WV(archive_entry_xattr_add_entry, (struct archive_entry *a0, const char *a1, const void *a2, size_t a3), (a0, a1, a2, a3))
W(int, archive_entry_xattr_next, (struct archive_entry *a0, const char **a1, const void **a2, size_t *a3), (a0, a1, a2, a3))
W(int, archive_entry_xattr_reset, (struct archive_entry *a0), (a0))
W(int, archive_errno, (struct archive *a0), (a0))
W(const char *, archive_error_string, (struct archive *a0), (a0))
W(la_ssize_t, archive_read_data, (struct archive *a0, void *a1, size_t a2), (a0, a1, a2))
W(int, archive_read_data_block, (struct archive *a0, const void **a1, size_t *a2, la_int64_t *a3), (a0, a1, a2, a3))
W(int, archive_read_free, (struct archive *a0), (a0))
W(struct archive *, archive_read_new, (void), ())
W(int, archive_read_next_header, (struct archive *a0, struct archive_entry **a1), (a0, a1))
W(int, archive_read_open, (struct archive *a0, void *a1, archive_open_callback *a2, archive_read_callback *a3, archive_close_callback *a4), (a0, a1, a2, a3, a4))
W(int, archive_read_open_fd, (struct archive *a0, int a1, size_t a2), (a0, a1, a2))
W(int, archive_read_support_filter_all, (struct archive *a0), (a0))
W(int, archive_read_support_filter_bzip2, (struct archive *a0), (a0))
W(int, archive_read_support_filter_gzip, (struct archive *a0), (a0))
W(int, archive_read_support_filter_xz, (struct archive *a0), (a0))
W(int, archive_read_support_filter_zstd, (struct archive *a0), (a0))
W(int, archive_read_support_format_gnutar, (struct archive *a0), (a0))
W(int, archive_read_support_format_tar, (struct archive *a0), (a0))
W(const char *, archive_version_string, (void), ())
W(int, archive_write_add_filter_by_name, (struct archive *a0, const char *a1), (a0, a1))
W(int, archive_write_close, (struct archive *a0), (a0))
W(la_ssize_t, archive_write_data, (struct archive *a0, const void *a1, size_t a2), (a0, a1, a2))
W(int, archive_write_free, (struct archive *a0), (a0))
W(int, archive_write_header, (struct archive *a0, struct archive_entry *a1), (a0, a1))
W(struct archive *, archive_write_new, (void), ())
W(int, archive_write_open2, (struct archive *a0, void *a1, archive_open_callback *a2, archive_write_callback *a3, archive_close_callback *a4, archive_free_callback *a5), (a0, a1, a2, a3, a4, a5))
W(int, archive_write_open_fd, (struct archive *a0, int a1), (a0, a1))
W(int, archive_write_set_bytes_in_last_block, (struct archive *a0, int a1), (a0, a1))
W(int, archive_write_set_bytes_per_block, (struct archive *a0, int a1), (a0, a1))
W(int, archive_write_set_format_pax_restricted, (struct archive *a0), (a0))
W(int, archive_write_set_options, (struct archive *a0, const char *a1), (a0, a1))

/* variadic: formatted here, passed on as one string */
__attribute__((visibility("hidden"))) void archive_set_error(struct archive *a, int err,
                                                             const char *fmt, ...)
{
        static __typeof__(&archive_set_error) fn;
        __typeof__(&archive_set_error) f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);
        if (!f) {
                f = (__typeof__(&archive_set_error))sym("archive_set_error");
                __atomic_store_n(&fn, f, __ATOMIC_RELEASE);
        }
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        f(a, err, "%s", msg);
}
