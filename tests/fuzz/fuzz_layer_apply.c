/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the input is a layer (tar, maybe gzip/zstd), applied
 * to a fresh directory that is removed afterwards. A sentinel directory
 * next to it must stay empty: anything there was written outside the root.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "kiln/fs.h"
#include "kiln/layer.h"

static char base[64];
static int base_fd = -1;

static void quiet(void *u, const char *m)
{
        (void)u;
        (void)m;
}

static void check_sentinel(void)
{
        /* base holds only "root" and "sentinel" (empty) */
        int s = openat(base_fd, "sentinel", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s < 0)
                abort();
        int d = openat(s, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        close(s);
        DIR *dir = fdopendir(d);
        struct dirent *de;
        while ((de = readdir(dir)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        abort(); /* written outside the root */
        closedir(dir);
        d = openat(base_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        dir = fdopendir(d);
        while ((de = readdir(dir)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
                    strcmp(de->d_name, "root") && strcmp(de->d_name, "sentinel"))
                        abort();
        closedir(dir);
}

static void cleanup(void)
{
        if (base_fd >= 0)
                kiln_fs_rm_rf_at(AT_FDCWD, base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (base_fd < 0) {
                kiln_set_warn_handler(quiet, NULL);
                snprintf(base, sizeof base, "/tmp/kiln-fuzz-layer-XXXXXX");
                if (!mkdtemp(base))
                        abort();
                base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (base_fd < 0 || mkdirat(base_fd, "sentinel", 0755) < 0)
                        abort();
                atexit(cleanup);
        }
        if (mkdirat(base_fd, "root", 0755) < 0)
                abort();
        int root = openat(base_fd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int in = memfd_create("layer", MFD_CLOEXEC);
        if (root < 0 || in < 0 || kiln_fs_write_all(in, data, size) < 0)
                abort();
        lseek(in, 0, SEEK_SET);
        struct kiln_layer_apply_opts o = {
                .preserve_owner = true,
                .overlay_whiteouts = size > 0 && (data[size - 1] & 1),
                .max_size = 64 << 20,
        };
        struct kiln_error err = { 0 };
        struct kiln_layer_apply_info info;
        int r = kiln_layer_apply(in, root, &o, &info, &err);
        if (r < 0 && (!err.msg[0] || strchr(err.msg, '\n')))
                abort(); /* errors come with one line */
        close(in);
        close(root);
        check_sentinel();
        kiln_fs_rm_rf_at(base_fd, "root");
        return 0;
}
