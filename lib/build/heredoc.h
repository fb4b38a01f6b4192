/* SPDX-License-Identifier: Apache-2.0 */
/* kiln build: heredocs of RUN and COPY/ADD (lib/build/heredoc.c). */
#pragma once

#include "kiln/base.h"
#include "kiln/dockerfile.h"
#include "kiln/runtime.h"

/*
 * The argv of a shell-form RUN with heredocs, as BuildKit builds it:
 *  - the command is one heredoc alone ("RUN <<EOF"): a body starting with
 *    "#!" is written as DIR/pipes/NAME (0755), *ret_mount is set to a
 *    read-only bind of DIR/pipes on /dev/pipes and argv is
 *    {"/dev/pipes/NAME"}; any other body is run as SHELL + body;
 *  - otherwise SHELL + the command line followed, for each heredoc, by
 *    "\n" + body + name: the shell reads its own heredocs (so a quoted
 *    delimiter turns expansion off, as in sh).
 * *ret_mount is zeroed when not used (its strings are malloc'ed: free with
 * build_mount_req_clear()).
 */
int build_run_heredoc_argv(char *const *shell, const struct kiln_df_instruction *in, const char *dir,
                           char ***ret_argv, struct kiln_mount_req *ret_mount, struct kiln_error *err);
void build_mount_req_clear(struct kiln_mount_req *m);

/*
 * COPY/ADD <<NAME: write the body (already expanded unless the delimiter
 * was quoted) to DIR/NAME with mode 0644 and return an O_PATH fd to it in
 * *ret_fd, to be copied as a context file named NAME.
 */
int build_inline_source(const struct kiln_df_heredoc *h, const char *dir, int *ret_fd, struct kiln_error *err);
