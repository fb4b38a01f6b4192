/* SPDX-License-Identifier: Apache-2.0 */
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include "cli.h"
#include "kiln/fs.h"

#define CLONED_ENV "_KILN_CLONED"

/*
 * CVE-2019-5736: run the container from a sealed in-memory copy of this
 * binary, so that nothing in a container can write to the host's file
 * through /proc/<pid>/exe. Re-executes the process once (guarded by an
 * environment variable) and returns only when already sealed or on error.
 */
int cli_ensure_cloned_binary(void)
{
        int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return -errno;
        int seals = fcntl(self, F_GET_SEALS);
        const int want = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
        if (seals >= 0 && (seals & want) == want) {
                close(self);
                unsetenv(CLONED_ENV);
                return 0;
        }
        if (getenv(CLONED_ENV)) {
                /* we were re-executed but are not sealed: do not loop */
                close(self);
                unsetenv(CLONED_ENV);
                return -ENOTSUP;
        }
        int mfd = memfd_create("kiln", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0) {
                close(self);
                return -errno;
        }
        struct stat st;
        if (fstat(self, &st) < 0) {
                close(self);
                close(mfd);
                return -errno;
        }
        /* only what the loader maps: the debug sections after the last
         * PT_LOAD segment are most of the file (a quarter of it is loaded) */
        ElfW(Ehdr) eh;
        off_t end = st.st_size;
        bool trimmed = false;
        if (pread(self, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) && !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
            eh.e_phentsize == sizeof(ElfW(Phdr)) && eh.e_phnum > 0 && eh.e_phnum < 256) {
                ElfW(Phdr) ph[256];
                size_t phsz = (size_t)eh.e_phnum * sizeof(ElfW(Phdr));
                if (pread(self, ph, phsz, (off_t)eh.e_phoff) == (ssize_t)phsz) {
                        off_t last = (off_t)(eh.e_phoff + phsz);
                        for (size_t i = 0; i < eh.e_phnum; i++)
                                if (ph[i].p_type != PT_NULL && (off_t)(ph[i].p_offset + ph[i].p_filesz) > last)
                                        last = (off_t)(ph[i].p_offset + ph[i].p_filesz);
                        if (last > 0 && last < end) {
                                end = last;
                                trimmed = true;
                        }
                }
        }
        off_t left = end;
        while (left > 0) {
                ssize_t n = sendfile(mfd, self, NULL, (size_t)left);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        close(self);
                        close(mfd);
                        return -EIO;
                }
                left -= n;
        }
        close(self);
        if (trimmed) {
                /* no section headers in the copy: say so in its ELF header */
                eh.e_shoff = 0;
                eh.e_shnum = 0;
                eh.e_shstrndx = SHN_UNDEF;
                if (pwrite(mfd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh)) {
                        close(mfd);
                        return -EIO;
                }
        }
        if (fcntl(mfd, F_ADD_SEALS, want) < 0) {
                close(mfd);
                return -errno;
        }
        /* the whole command line of the process (cmd_runtime sees a tail) */
        char *cmdline = NULL;
        size_t len = 0;
        int r = kiln_fs_read_file(AT_FDCWD, "/proc/self/cmdline", 1 << 20, &cmdline, &len);
        if (r < 0) {
                close(mfd);
                return r;
        }
        size_t argc = 0;
        for (size_t i = 0; i < len; i++)
                argc += cmdline[i] == 0;
        char **argv = kiln_xcalloc(argc + 1, sizeof(char *));
        for (size_t i = 0, k = 0; i < len && k < argc; k++) {
                argv[k] = cmdline + i;
                i += strlen(cmdline + i) + 1;
        }
        setenv(CLONED_ENV, "1", 1);
        /* where kiln really is (kiln-monitor, kiln-init live beside it):
         * /proc/self/exe is the memfd from now on */
        if (!getenv("KILN_SELF_EXE")) {
                char self_path[PATH_MAX];
                ssize_t sn = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
                if (sn > 0) {
                        self_path[sn] = 0;
                        setenv("KILN_SELF_EXE", self_path, 1);
                }
        }
        extern char **environ;
        fexecve(mfd, argv, environ);
        int e = errno;
        free(argv);
        free(cmdline);
        close(mfd);
        unsetenv(CLONED_ENV);
        return -e;
}

