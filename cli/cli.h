/* SPDX-License-Identifier: Apache-2.0 */
/* Shared pieces of the kiln command line. */
#pragma once

#include <getopt.h>
#include "kiln/base.h"
#include "kiln/store.h"

/* Exit codes, as docker's CLI: 1 for a failed operation, 125 for misuse. */
#define EXIT_USAGE 125

struct cli_ctx {
        const char *root; /* --root or NULL for the default */
        const char *prog; /* "kiln" */
};

struct cli_command {
        const char *name;
        int (*run)(struct cli_ctx *ctx, int argc, char **argv);
        const char *summary;
        const char *usage; /* full --help text */
};

/* Print "Error: msg" to stderr; returns 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For a kiln_error: "Error: <msg>"; returns 1. */
int cli_fail_err(const struct kiln_error *err);
/* Usage error: "Error: msg\nSee 'kiln CMD --help'."; returns 125. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Open the store (creating it); prints and returns non-zero on failure. */
int cli_open_store(struct cli_ctx *ctx, struct kiln_store **ret);
/* docker's prune prompt ("WARNING! This will remove WHAT. Are you sure you
 * want to continue? [y/N]") on a terminal; true (go on) when stdin is not
 * one, as docker. */
bool cli_confirm(const char *what);

/*
 * getopt_long wrapper used by every command: handles -h/--help (prints
 * usage, *ret_exit = 0) and unknown options (*ret_exit = 125). Returns the
 * option character, or -1 at the end of options, or -2 when the command
 * must exit with *ret_exit.
 */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               const struct cli_command *cmd, int *ret_exit);

/* Lookup of the current command's descriptor (for help and errors). */
const struct cli_command *cli_find_command(const char *name);

/*
 * The tail of `kiln stop|kill|rm|volume rm ...`: requires at least one
 * argument after the options, opens the store, runs op on each, prints the
 * argument when op succeeds and one error line when it fails (docker's
 * output). Returns the exit code: 0, 1 when any failed, 125 for no argument.
 */
typedef int (*cli_arg_op)(struct kiln_store *s, const char *arg, void *ud, struct kiln_error *err);
int cli_for_each_arg(struct cli_ctx *ctx, const char *cmdname, int argc, char **argv, cli_arg_op op,
                     void *ud);

/* An image's RepoDigests as docker shows them: "repository@manifest-digest"
 * once per distinct repository of its names (cli/cmd_images.c). */
json_t *cli_repo_digests(const struct kiln_image *img);

/* Parse "true"/"false"/"1"/"0". */
int cli_parse_bool(const char *s, bool *ret);

/* A tiny Go-template subset for --format: {{.A.B}}, {{json .A}}, {{.A}} of
 * a JSON object; literal text and \n, \t kept. */
int cli_format_template(const char *tmpl, json_t *obj, struct kiln_buf *out,
                        struct kiln_error *err);

/* A table printer: column widths computed from all rows, 3 spaces apart. */
struct cli_table {
        size_t ncols;
        size_t nrows;
        char ***rows; /* rows[0] is the header */
};
void cli_table_init(struct cli_table *t, size_t ncols, const char *const *header);
void cli_table_add(struct cli_table *t, const char *const *cells);
void cli_table_print(struct cli_table *t, FILE *f);
void cli_table_free(struct cli_table *t);

/* Lines of tab-separated cells aligned as docker's --format "table ..."
 * output (Go's tabwriter, padding 3): each cell a tab ends is padded to its
 * column's widest cell plus 3, at least minwidth; the text after a line's
 * last tab is printed as it is. */
void cli_tabwrite(const char *text, size_t minwidth, FILE *f);

/* Commands */
int cmd_import(struct cli_ctx *ctx, int argc, char **argv);
int cmd_images(struct cli_ctx *ctx, int argc, char **argv);
int cmd_tag(struct cli_ctx *ctx, int argc, char **argv);
int cmd_rmi(struct cli_ctx *ctx, int argc, char **argv);
int cmd_inspect(struct cli_ctx *ctx, int argc, char **argv);
int cmd_history(struct cli_ctx *ctx, int argc, char **argv);
int cmd_image(struct cli_ctx *ctx, int argc, char **argv);
int cmd_image_prune(struct cli_ctx *ctx, int argc, char **argv);
int cmd_system_prune(struct cli_ctx *ctx, int argc, char **argv);
int cmd_system(struct cli_ctx *ctx, int argc, char **argv);
int cmd_system_df(struct cli_ctx *ctx, int argc, char **argv);
int cmd_fsck(struct cli_ctx *ctx, int argc, char **argv);
int cmd_gc(struct cli_ctx *ctx, int argc, char **argv);
int cmd_version(struct cli_ctx *ctx, int argc, char **argv);
int cmd_layer(struct cli_ctx *ctx, int argc, char **argv);
int cmd_layer_create(struct cli_ctx *ctx, int argc, char **argv);
int cmd_layer_diff(struct cli_ctx *ctx, int argc, char **argv);
int cmd_layer_apply(struct cli_ctx *ctx, int argc, char **argv);
int cmd_image_unpack(struct cli_ctx *ctx, int argc, char **argv);
/* cli/cmd_runtime.c: `kiln runtime ...` and the kiln-runtime binary name.
 * argv[0] is "runtime" or "kiln-runtime"; global runc options follow. */
int cmd_runtime(struct cli_ctx *ctx, int argc, char **argv);

/* cli/cmd_container.c */
int cmd_run(struct cli_ctx *ctx, int argc, char **argv);
int cmd_create(struct cli_ctx *ctx, int argc, char **argv);
int cmd_start(struct cli_ctx *ctx, int argc, char **argv);
int cmd_ps(struct cli_ctx *ctx, int argc, char **argv);
int cmd_logs(struct cli_ctx *ctx, int argc, char **argv);
int cmd_stop(struct cli_ctx *ctx, int argc, char **argv);
int cmd_kill(struct cli_ctx *ctx, int argc, char **argv);
int cmd_rm(struct cli_ctx *ctx, int argc, char **argv);
int cmd_wait(struct cli_ctx *ctx, int argc, char **argv);
int cmd_port(struct cli_ctx *ctx, int argc, char **argv);
int cmd_exec(struct cli_ctx *ctx, int argc, char **argv);
int cmd_container(struct cli_ctx *ctx, int argc, char **argv);
int cmd_container_prune(struct cli_ctx *ctx, int argc, char **argv);
/* cli/cmd_monitor.c: the exit command of a detached container's kiln-monitor */
int cmd_container_cleanup(struct cli_ctx *ctx, int argc, char **argv);
int cmd_healthcheck(struct cli_ctx *ctx, int argc, char **argv);
int cmd_healthcheck_run(struct cli_ctx *ctx, int argc, char **argv);
/* cli/cmd_volume.c */
int cmd_volume(struct cli_ctx *ctx, int argc, char **argv);
int cmd_volume_create(struct cli_ctx *ctx, int argc, char **argv);
int cmd_volume_ls(struct cli_ctx *ctx, int argc, char **argv);
int cmd_volume_inspect(struct cli_ctx *ctx, int argc, char **argv);
int cmd_volume_rm(struct cli_ctx *ctx, int argc, char **argv);
int cmd_volume_prune(struct cli_ctx *ctx, int argc, char **argv);
/* cli/cmd_ctrmisc.c */
int cmd_commit(struct cli_ctx *ctx, int argc, char **argv);
int cmd_build(struct cli_ctx *ctx, int argc, char **argv);
int cmd_builder(struct cli_ctx *ctx, int argc, char **argv);
int cmd_builder_prune(struct cli_ctx *ctx, int argc, char **argv);
int cmd_diff(struct cli_ctx *ctx, int argc, char **argv);
int cmd_export(struct cli_ctx *ctx, int argc, char **argv);
int cmd_top(struct cli_ctx *ctx, int argc, char **argv);
int cmd_stats(struct cli_ctx *ctx, int argc, char **argv);

/* --change handling shared by import (and later commit) */
int cli_apply_change(json_t *config, const char *change, struct kiln_error *err);
/* A Go duration ("30s", "1m30s", "500ms", "1.5h") in nanoseconds; -EINVAL if bad. */
int cli_parse_duration(const char *s, int64_t *ret_ns);
/* cli/cmd_cp.c */
int cmd_cp(struct cli_ctx *ctx, int argc, char **argv);

/* cli/cloned.c. CVE-2019-5736: re-execute this process from a sealed
 * in-memory copy of the binary (once; returns 0 when already sealed, or a
 * negative errno when that cannot be done). $KILN_SELF_EXE keeps the path of
 * the real binary. */
int cli_ensure_cloned_binary(void);
