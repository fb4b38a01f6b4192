/* SPDX-License-Identifier: Apache-2.0 */
/* kiln build: ADD's extraction of local tar archives (lib/build/add.c). */
#pragma once

#include <sys/types.h>
#include "kiln/base.h"

/*
 * ADD of a context file: when sfd (any fd, O_PATH is fine) is a regular file
 * holding a tar archive (plain, gzip, bzip2, xz or zstd: by content, as
 * Docker), extract it into the directory dest (absolute, cleaned; created
 * with its parents 0755) of the rootfs rootfd and return 1. Entries keep
 * the archive's owners and modes unless set_owner (--chown: uid:gid for
 * all); existing directories are merged, entries leaving dest are refused
 * (every path is resolved inside dest). Returns 0, with nothing done, when
 * it is not an archive (copy it as COPY would); < 0 on error (err set).
 */
int build_add_archive(int sfd, int rootfd, const char *dest, bool set_owner, uid_t uid, gid_t gid,
                      struct kiln_error *err);
