/* SPDX-License-Identifier: Apache-2.0 */
/* kiln commit, diff, export, top, stats. */
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "kiln/container.h"
#include "kiln/fs.h"
#include "kiln/reference.h"

int cmd_commit(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "message", required_argument, NULL, 'm' },
                { "author", required_argument, NULL, 'a' },
                { "change", required_argument, NULL, 'c' },
                { "pause", required_argument, NULL, 'p' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("commit");
        const char *message = NULL, *author = NULL;
        char **changes = kiln_xcalloc(1, sizeof(char *));
        size_t nchanges = 0;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "m:a:c:p", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        kiln_strv_free(changes);
                        return ex;
                case 'm':
                        message = optarg;
                        break;
                case 'a':
                        author = optarg;
                        break;
                case 'c':
                        kiln_strv_push(&changes, optarg);
                        nchanges++;
                        break;
                }
        }
        _cleanup_strv_free_ char **chg = changes;
        int nargs = argc - optind;
        if (nargs < 1 || nargs > 2)
                return cli_usage_error("commit", "\"kiln commit\" requires 1 or 2 arguments");
        const char *name = nargs == 2 ? argv[optind + 1] : NULL;
        struct kiln_error err = { 0 };
        if (name) {
                _cleanup_(kiln_reference_freep) struct kiln_reference *ref = NULL;
                if (kiln_reference_parse(name, KILN_REF_DEFAULT_TAG | KILN_REF_NO_DIGEST, &ref, &err) < 0)
                        return cli_fail("%s: %s", name, err.msg);
        }
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        json_t *config;
        r = kiln_container_commit_config(store, argv[optind], &config, &err);
        if (r < 0)
                return cli_fail_err(&err);
        for (size_t i = 0; i < nchanges; i++) {
                if (cli_apply_change(config, chg[i], &err) < 0) {
                        json_decref(config);
                        return cli_fail_err(&err);
                }
        }
        _cleanup_free_ char *id = NULL;
        const char *names[1] = { name };
        r = kiln_container_commit(store, argv[optind], config, message, author, names, name ? 1 : 0, &id,
                                  &err);
        json_decref(config);
        if (r < 0)
                return cli_fail_err(&err);
        printf("%s\n", id);
        return 0;
}

int cmd_diff(struct cli_ctx *ctx, int argc, char **argv)
{
        const struct cli_command *cmd = cli_find_command("diff");
        int c, ex;
        while ((c = cli_getopt(argc, argv, "", NULL, cmd, &ex)) != -1)
                if (c == -2)
                        return ex;
        if (argc - optind != 1)
                return cli_usage_error("diff", "\"kiln diff\" requires exactly 1 argument");
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        json_t *list;
        r = kiln_container_diff(store, argv[optind], &list, &err);
        if (r < 0)
                return cli_fail_err(&err);
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e)
        {
                static const char kinds[] = "CAD";
                json_int_t k = json_integer_value(json_object_get(e, "Kind"));
                printf("%c %s\n", kinds[k >= 0 && k <= 2 ? k : 0], json_string_value(json_object_get(e, "Path")));
        }
        json_decref(list);
        return 0;
}

int cmd_export(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "output", required_argument, NULL, 'o' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("export");
        const char *output = NULL;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "o:", longopts, cmd, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'o')
                        output = optarg;
        }
        if (argc - optind != 1)
                return cli_usage_error("export", "\"kiln export\" requires exactly 1 argument");
        if (!output && isatty(STDOUT_FILENO))
                return cli_fail("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        _cleanup_close_ int fd = output ? open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
                                        : dup(STDOUT_FILENO);
        if (fd < 0)
                return cli_fail("export: %s: %s", output ? output : "stdout", strerror(errno));
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        if (kiln_container_export(store, argv[optind], fd, &err) < 0) {
                if (output)
                        unlink(output);
                return cli_fail_err(&err);
        }
        return 0;
}

/* /proc/PID/stat fields and the command line, for top. */
static void proc_row(pid_t pid, struct cli_table *t)
{
        char path[64], buf[4096];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_free_ char *statline = NULL;
        size_t len;
        if (kiln_fs_read_file(AT_FDCWD, path, 4096, &statline, &len) < 0)
                return;
        char *rp = strrchr(statline, ')');
        if (!rp)
                return;
        int ppid = 0;
        unsigned long utime = 0, stime = 0;
        unsigned long long starttime = 0;
        char state;
        sscanf(rp + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %llu",
               &state, &ppid, &utime, &stime, &starttime);
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        _cleanup_free_ char *cmdline = NULL;
        if (kiln_fs_read_file(AT_FDCWD, path, sizeof(buf), &cmdline, &len) < 0 || !len) {
                free(cmdline);
                cmdline = NULL;
                char *lp = strchr(statline, '(');
                snprintf(buf, sizeof(buf), "[%.*s]", lp ? (int)(rp - lp - 1) : 0, lp ? lp + 1 : "");
        } else {
                for (size_t i = 0; i + 1 < len; i++)
                        if (!cmdline[i])
                                cmdline[i] = ' ';
                snprintf(buf, sizeof(buf), "%s", cmdline);
        }
        struct stat st;
        snprintf(path, sizeof(path), "/proc/%d", (int)pid);
        char user[32] = "?";
        if (stat(path, &st) == 0) {
                struct passwd *pw = getpwuid(st.st_uid);
                if (pw)
                        snprintf(user, sizeof(user), "%s", pw->pw_name);
                else
                        snprintf(user, sizeof(user), "%u", (unsigned)st.st_uid);
        }
        long hz = sysconf(_SC_CLK_TCK);
        unsigned long secs = (utime + stime) / (unsigned long)(hz > 0 ? hz : 100);
        char pids[16], ppids[16], tm[32];
        snprintf(pids, sizeof(pids), "%d", (int)pid);
        snprintf(ppids, sizeof(ppids), "%d", ppid);
        snprintf(tm, sizeof(tm), "%02lu:%02lu:%02lu", secs / 3600, (secs / 60) % 60, secs % 60);
        const char *cells[] = { user, pids, ppids, tm, buf };
        cli_table_add(t, cells);
}

static int load_running(struct kiln_store *store, const char *what, json_t **ret, struct kiln_error *err)
{
        int r = kiln_container_inspect(store, what, ret, err);
        if (r < 0)
                return r;
        if (!json_is_true(json_object_get(json_object_get(*ret, "State"), "Running"))) {
                json_decref(*ret);
                return kiln_err(err, -KILN_ECONFLICT, "container %s is not running", what);
        }
        return 0;
}

int cmd_top(struct cli_ctx *ctx, int argc, char **argv)
{
        const struct cli_command *cmd = cli_find_command("top");
        int c, ex;
        while ((c = cli_getopt(argc, argv, "", NULL, cmd, &ex)) != -1)
                if (c == -2)
                        return ex;
        if (argc - optind < 1)
                return cli_usage_error("top", "\"kiln top\" requires at least 1 argument");
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        json_t *doc;
        r = load_running(store, argv[optind], &doc, &err);
        if (r < 0)
                return cli_fail_err(&err);
        _cleanup_free_ char *id = kiln_xstrdup(json_string_value(json_object_get(doc, "Id")));
        json_decref(doc);
        _cleanup_free_ char *sr = kiln_container_state_root();
        pid_t *pids = NULL;
        size_t n = 0;
        r = kiln_rt_pids(sr, id, &pids, &n, &err);
        if (r < 0)
                return cli_fail_err(&err);
        struct cli_table t;
        static const char *const hdr[] = { "UID", "PID", "PPID", "TIME", "CMD" };
        cli_table_init(&t, 5, hdr);
        for (size_t i = 0; i < n; i++)
                proc_row(pids[i], &t);
        cli_table_print(&t, stdout);
        cli_table_free(&t);
        free(pids);
        return 0;
}

int cmd_stats(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "no-stream", no_argument, NULL, 'N' },
                { "format", required_argument, NULL, 'F' },
                { "all", no_argument, NULL, 'a' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("stats");
        const char *format = NULL;
        int c, ex;
        while ((c = cli_getopt(argc, argv, "a", longopts, cmd, &ex)) != -1) {
                if (c == -2)
                        return ex;
                if (c == 'F')
                        format = optarg;
        }
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        struct kiln_error err = { 0 };
        json_t *targets = json_array();
        if (optind < argc) {
                for (int i = optind; i < argc; i++) {
                        json_t *d;
                        if (load_running(store, argv[i], &d, &err) < 0) {
                                json_decref(targets);
                                return cli_fail_err(&err);
                        }
                        json_array_append_new(targets, d);
                }
        } else {
                json_t *all;
                if (kiln_container_list(store, &all, &err) < 0) {
                        json_decref(targets);
                        return cli_fail_err(&err);
                }
                size_t i;
                json_t *d;
                json_array_foreach(all, i, d) if (json_is_true(json_object_get(json_object_get(d, "State"), "Running")))
                        json_array_append(targets, d);
                json_decref(all);
        }
        struct cli_table t;
        static const char *const hdr[] = { "CONTAINER ID", "NAME", "CPU TIME", "MEM USAGE / LIMIT", "PIDS" };
        cli_table_init(&t, 5, hdr);
        json_t *out = json_array();
        size_t i;
        json_t *d;
        json_array_foreach(targets, i, d)
        {
                struct kiln_container_stats st = { .memory_usage = -1, .memory_limit = -1 };
                kiln_container_stats(store, json_string_value(json_object_get(d, "Id")), &st, NULL);
                char id[16], cpu[32], mem[64], u[32], l[32], pids[16];
                snprintf(id, sizeof(id), "%.12s", json_string_value(json_object_get(d, "Id")));
                snprintf(cpu, sizeof(cpu), "%.3fs", (double)st.cpu_usage_ns / 1e9);
                kiln_format_size(st.memory_usage > 0 ? st.memory_usage : 0, u, sizeof(u));
                if (st.memory_limit > 0 && st.memory_limit < (int64_t)1 << 60)
                        kiln_format_size(st.memory_limit, l, sizeof(l));
                else
                        snprintf(l, sizeof(l), "unlimited");
                snprintf(mem, sizeof(mem), "%s / %s", u, l);
                snprintf(pids, sizeof(pids), "%lld", (long long)st.pids_current);
                const char *cells[] = { id, json_string_value(json_object_get(d, "Name")), cpu, mem, pids };
                cli_table_add(&t, cells);
                json_t *o = json_object();
                json_object_set_new(o, "ID", json_string(id));
                json_object_set(o, "Name", json_object_get(d, "Name"));
                json_object_set_new(o, "CPUNanoseconds", json_integer((json_int_t)st.cpu_usage_ns));
                json_object_set_new(o, "MemUsage", json_integer(st.memory_usage));
                json_object_set_new(o, "MemLimit", json_integer(st.memory_limit));
                json_object_set_new(o, "PIDs", json_integer(st.pids_current));
                json_object_set_new(o, "OOMKills", json_integer((json_int_t)st.oom_kills));
                json_array_append_new(out, o);
        }
        if (format && !strcmp(format, "json")) {
                char *s = json_dumps(out, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
                printf("%s\n", s);
                free(s);
        } else {
                cli_table_print(&t, stdout);
        }
        cli_table_free(&t);
        json_decref(out);
        json_decref(targets);
        return 0;
}
