/* SPDX-License-Identifier: Apache-2.0 */
/* kiln commit, diff, export, top, stats. */
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
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

/* ---- stats ---- */

#define STATS_INTERVAL_MS 1000
static const char stats_default_format[] =
        "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/* A container stats follows, and its previous sample (for CPU %). */
struct stats_target {
        char *id;
        char *container; /* as the user named it, or the short ID */
        bool have_prev, alive;
        uint64_t prev_cpu, prev_sys;
};

struct stats_ctx {
        struct stats_target *t;
        size_t n;
        bool all, explicit, no_trunc;
        int64_t host_memory;
};

static struct stats_target *stats_find(struct stats_ctx *sc, const char *id)
{
        for (size_t i = 0; i < sc->n; i++)
                if (!strcmp(sc->t[i].id, id))
                        return &sc->t[i];
        return NULL;
}

static struct stats_target *stats_add(struct stats_ctx *sc, const char *id, const char *container)
{
        sc->t = kiln_xrealloc(sc->t, (sc->n + 1) * sizeof(*sc->t));
        struct stats_target *t = &sc->t[sc->n++];
        *t = (struct stats_target){ .id = kiln_xstrdup(id), .container = kiln_xstrdup(container) };
        return t;
}

static void stats_free(struct stats_ctx *sc)
{
        for (size_t i = 0; i < sc->n; i++) {
                free(sc->t[i].id);
                free(sc->t[i].container);
        }
        free(sc->t);
}

/* go-units BytesSize: binary units, 4 significant digits ("1.516MiB"). */
static void size_binary(double v, char *out, size_t n)
{
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
        size_t u = 0;
        while (v >= 1024.0 && u + 1 < KILN_ARRAY_SIZE(units)) {
                v /= 1024.0;
                u++;
        }
        snprintf(out, n, "%.4g%s", v, units[u]);
}

/* go-units HumanSizeWithPrecision(v, 3): decimal units ("12.3kB"). */
static void size_decimal(double v, char *out, size_t n)
{
        static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB" };
        size_t u = 0;
        while (v >= 1000.0 && u + 1 < KILN_ARRAY_SIZE(units)) {
                v /= 1000.0;
                u++;
        }
        snprintf(out, n, "%.3g%s", v, units[u]);
}

/*
 * One row as docker's stats formatter shows it: every field a string.
 * running: st holds a sample (CPU % against the target's previous one,
 * which it then replaces); stopped: docker's zeros; invalid (a running
 * container whose cgroup could not be read): "--".
 */
static json_t *stats_row(struct stats_ctx *sc, struct stats_target *t, const char *name, bool running,
                         const struct kiln_container_stats *st)
{
        char cpu[32] = "0.00%", mem[80] = "0B / 0B", memp[32] = "0.00%", net[80] = "0B / 0B",
             blk[80] = "0B / 0B", pids[32] = "0";
        if (running && !st) {
                snprintf(cpu, sizeof(cpu), "--");
                snprintf(mem, sizeof(mem), "-- / --");
                snprintf(memp, sizeof(memp), "--");
                snprintf(net, sizeof(net), "--");
                snprintf(blk, sizeof(blk), "--");
                snprintf(pids, sizeof(pids), "--");
                t->have_prev = false;
        } else if (running) {
                double pct = 0;
                if (t->have_prev && st->system_cpu_ns > t->prev_sys && st->cpu_usage_ns > t->prev_cpu)
                        pct = (double)(st->cpu_usage_ns - t->prev_cpu) /
                              (double)(st->system_cpu_ns - t->prev_sys) * st->online_cpus * 100.0;
                t->prev_cpu = st->cpu_usage_ns;
                t->prev_sys = st->system_cpu_ns;
                t->have_prev = true;
                snprintf(cpu, sizeof(cpu), "%.2f%%", pct);
                /* docker: usage without the inactive file cache; an unlimited
                 * container's limit is the host's memory */
                double usage = st->memory_usage > 0 ? (double)st->memory_usage : 0;
                if ((double)st->memory_inactive_file < usage)
                        usage -= (double)st->memory_inactive_file;
                double limit = st->memory_limit > 0 ? (double)st->memory_limit : 0;
                if (sc->host_memory > 0 && (limit <= 0 || limit > (double)sc->host_memory))
                        limit = (double)sc->host_memory;
                char u[32], l[32];
                size_binary(usage, u, sizeof(u));
                size_binary(limit, l, sizeof(l));
                snprintf(mem, sizeof(mem), "%s / %s", u, l);
                snprintf(memp, sizeof(memp), "%.2f%%", limit > 0 ? usage / limit * 100.0 : 0.0);
                char a[32], b[32];
                size_decimal((double)st->net_rx, a, sizeof(a));
                size_decimal((double)st->net_tx, b, sizeof(b));
                snprintf(net, sizeof(net), "%s / %s", a, b);
                size_decimal((double)st->blkio_read, a, sizeof(a));
                size_decimal((double)st->blkio_write, b, sizeof(b));
                snprintf(blk, sizeof(blk), "%s / %s", a, b);
                snprintf(pids, sizeof(pids), "%lld", (long long)(st->pids_current > 0 ? st->pids_current : 0));
        } else {
                t->have_prev = false;
        }
        char id[80];
        snprintf(id, sizeof(id), "%.*s", sc->no_trunc ? 64 : 12, t->id);
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "BlockIO", blk, "CPUPerc", cpu,
                         "Container", t->container, "ID", id, "MemPerc", memp, "MemUsage", mem,
                         "Name", name && *name ? name : "--", "NetIO", net, "PIDs", pids);
}

/* The containers to show now, each with a fresh sample (or none), as rows.
 * Targets gone from the store (or, without -a, no longer running when
 * following all containers) drop out. */
static json_t *stats_collect(struct kiln_store *store, struct stats_ctx *sc)
{
        json_t *rows = json_array();
        json_t *docs = json_array();
        if (sc->explicit) {
                for (size_t i = 0; i < sc->n; i++) {
                        json_t *d;
                        if (kiln_container_inspect(store, sc->t[i].id, &d, NULL) == 0)
                                json_array_append_new(docs, d);
                }
        } else {
                json_t *all;
                if (kiln_container_list(store, &all, NULL) == 0) {
                        size_t i;
                        json_t *d;
                        json_array_foreach(all, i, d)
                        {
                                if (sc->all || json_is_true(json_object_get(json_object_get(d, "State"), "Running")))
                                        json_array_append(docs, d);
                        }
                        json_decref(all);
                }
        }
        for (size_t i = 0; i < sc->n; i++)
                sc->t[i].alive = false;
        size_t i;
        json_t *d;
        json_array_foreach(docs, i, d)
        {
                const char *id = json_string_value(json_object_get(d, "Id"));
                if (!id)
                        continue;
                struct stats_target *t = stats_find(sc, id);
                if (!t) {
                        char sid[80];
                        snprintf(sid, sizeof(sid), "%.*s", sc->no_trunc ? 64 : 12, id);
                        t = stats_add(sc, id, sid);
                }
                t->alive = true;
                bool running = json_is_true(json_object_get(json_object_get(d, "State"), "Running"));
                struct kiln_container_stats st;
                bool ok = running && kiln_container_stats(store, id, &st, NULL) == 0;
                if (running && !ok) {
                        /* it may have exited meanwhile: then it is a stopped one */
                        json_t *again;
                        if (kiln_container_inspect(store, id, &again, NULL) == 0) {
                                running = json_is_true(json_object_get(json_object_get(again, "State"), "Running"));
                                json_decref(again);
                        }
                        if (!running && !sc->all && !sc->explicit) {
                                t->alive = false;
                                continue;
                        }
                }
                json_array_append_new(rows, stats_row(sc, t, json_string_value(json_object_get(d, "Name")),
                                                      running, ok ? &st : NULL));
        }
        json_decref(docs);
        /* forget the ones gone */
        size_t k = 0;
        for (size_t j = 0; j < sc->n; j++) {
                if (sc->t[j].alive) {
                        sc->t[k++] = sc->t[j];
                } else {
                        free(sc->t[j].id);
                        free(sc->t[j].container);
                }
        }
        sc->n = k;
        return rows;
}

/* Render rows with the template (and, for a table, its header line). */
static int stats_render(json_t *rows, const char *tmpl, bool table, struct kiln_buf *out,
                        struct kiln_error *err)
{
        struct kiln_buf text = KILN_BUF_INIT;
        int r = 0;
        if (table) {
                json_t *hdr = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Container",
                                        "CONTAINER", "Name", "NAME", "ID", "CONTAINER ID", "CPUPerc",
                                        "CPU %", "MemUsage", "MEM USAGE / LIMIT", "MemPerc", "MEM %",
                                        "NetIO", "NET I/O", "BlockIO", "BLOCK I/O", "PIDs", "PIDS");
                r = cli_format_template(tmpl, hdr, &text, err);
                json_decref(hdr);
                kiln_buf_puts(&text, "\n");
        }
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
                if (r < 0)
                        break;
                if (!strcmp(tmpl, "{{json .}}")) {
                        /* docker's order: the fields sorted, no spaces */
                        char *s = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
                        kiln_buf_puts(&text, s);
                        free(s);
                } else {
                        r = cli_format_template(tmpl, row, &text, err);
                }
                kiln_buf_puts(&text, "\n");
        }
        if (r >= 0 && text.len) {
                if (table) {
                        char *p = NULL;
                        size_t len = 0;
                        FILE *f = open_memstream(&p, &len);
                        if (!f) {
                                kiln_buf_free(&text);
                                return kiln_err(err, -errno, "stats: %s", strerror(errno));
                        }
                        cli_tabwrite(text.data, 10, f);
                        fclose(f);
                        kiln_buf_append(out, p, len);
                        free(p);
                } else {
                        kiln_buf_append(out, text.data, text.len);
                }
        }
        kiln_buf_free(&text);
        return r;
}

/* Wait ms milliseconds; true when SIGINT, SIGTERM or SIGHUP came meanwhile. */
static bool stats_wait(const sigset_t *set, long ms)
{
        struct timespec end, now;
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += ms / 1000;
        end.tv_nsec += (ms % 1000) * 1000000L;
        if (end.tv_nsec >= 1000000000L) {
                end.tv_sec++;
                end.tv_nsec -= 1000000000L;
        }
        for (;;) {
                clock_gettime(CLOCK_MONOTONIC, &now);
                long left = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000L;
                if (left <= 0)
                        return false;
                struct timespec ts = { left / 1000, (left % 1000) * 1000000L };
                int sig = sigtimedwait(set, NULL, &ts);
                if (sig > 0)
                        return true;
                if (sig < 0 && errno != EINTR && errno != EAGAIN)
                        return false;
        }
}

int cmd_stats(struct cli_ctx *ctx, int argc, char **argv)
{
        static const struct option longopts[] = {
                { "no-stream", no_argument, NULL, 'N' },
                { "no-trunc", no_argument, NULL, 'T' },
                { "format", required_argument, NULL, 'F' },
                { "all", no_argument, NULL, 'a' },
                { 0 },
        };
        const struct cli_command *cmd = cli_find_command("stats");
        const char *format = NULL;
        bool no_stream = false;
        struct stats_ctx sc = { 0 };
        int c, ex;
        while ((c = cli_getopt(argc, argv, "a", longopts, cmd, &ex)) != -1) {
                switch (c) {
                case -2:
                        return ex;
                case 'F':
                        format = optarg;
                        break;
                case 'N':
                        no_stream = true;
                        break;
                case 'T':
                        sc.no_trunc = true;
                        break;
                case 'a':
                        sc.all = true;
                        break;
                }
        }
        /* docker's formats: table (default), "table TEMPLATE", json, TEMPLATE */
        bool table = !format || !*format || !strcmp(format, "table") || kiln_startswith(format, "table ");
        const char *tmpl = !format || !*format || !strcmp(format, "table") ? stats_default_format
                           : kiln_startswith(format, "table ")           ? format + 6
                           : !strcmp(format, "json")                     ? "{{json .}}"
                                                                         : format;
        struct kiln_error err = { 0 };
        {
                /* a bad template fails now, not after the first interval */
                struct kiln_buf probe = KILN_BUF_INIT;
                struct stats_target t = { .id = "", .container = "" };
                json_t *one = json_array();
                json_array_append_new(one, stats_row(&sc, &t, "", false, NULL));
                int r = stats_render(one, tmpl, table, &probe, &err);
                json_decref(one);
                kiln_buf_free(&probe);
                if (r < 0)
                        return cli_fail_err(&err);
        }
        _cleanup_(kiln_store_closep) struct kiln_store *store = NULL;
        int r = cli_open_store(ctx, &store);
        if (r)
                return r;
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        sc.host_memory = pages > 0 && psz > 0 ? (int64_t)pages * psz : 0;
        sc.explicit = optind < argc;
        for (int i = optind; i < argc; i++) {
                json_t *d;
                if (kiln_container_inspect(store, argv[i], &d, &err) < 0) {
                        stats_free(&sc);
                        return cli_fail_err(&err);
                }
                const char *id = json_string_value(json_object_get(d, "Id"));
                if (id && !stats_find(&sc, id))
                        stats_add(&sc, id, argv[i]);
                json_decref(d);
        }
        /* Ctrl-C, SIGTERM, a closed terminal: stop between two frames, exit 0 */
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGHUP);
        sigprocmask(SIG_BLOCK, &stop, NULL);
        bool tty = isatty(STDOUT_FILENO);
        /* CPU % is a rate: a first sample, then one an interval later */
        json_decref(stats_collect(store, &sc));
        bool first = true, stopped = stats_wait(&stop, STATS_INTERVAL_MS);
        while (!stopped) {
                json_t *rows = stats_collect(store, &sc);
                struct kiln_buf frame = KILN_BUF_INIT, text = KILN_BUF_INIT;
                r = json_array_size(rows) || !no_stream ? stats_render(rows, tmpl, table, &text, &err) : 0;
                json_decref(rows);
                if (r < 0) {
                        kiln_buf_free(&text);
                        stats_free(&sc);
                        return cli_fail_err(&err);
                }
                if (tty && !no_stream) {
                        /* docker: redraw in place, from the top left; each line
                         * erased to its end, and what is below the table */
                        kiln_buf_puts(&frame, first ? "\033[2J\033[H" : "\033[H");
                        for (const char *l = text.data ? text.data : ""; *l;) {
                                size_t ll = strcspn(l, "\n");
                                kiln_buf_append(&frame, l, ll);
                                kiln_buf_puts(&frame, "\033[K\n");
                                l += ll + (l[ll] == '\n');
                        }
                        kiln_buf_puts(&frame, "\033[J");
                } else if (text.len) {
                        kiln_buf_append(&frame, text.data, text.len);
                }
                kiln_buf_free(&text);
                if (frame.len) {
                        fwrite(frame.data, 1, frame.len, stdout);
                        fflush(stdout);
                }
                kiln_buf_free(&frame);
                first = false;
                if (no_stream || (sc.explicit && !sc.n))
                        break;
                stopped = stats_wait(&stop, STATS_INTERVAL_MS);
        }
        stats_free(&sc);
        return 0;
}
