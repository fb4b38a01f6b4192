/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --change: a Dockerfile instruction applied to an image config, as
 * `docker import --change` and `docker commit --change` do.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include "cli.h"

/* Split s into words the way Dockerfile ENV/LABEL do: whitespace separates,
 * double and single quotes group (and are removed), backslash escapes. */
static char **split_words(const char *s, struct kiln_error *err)
{
        char **v = kiln_xcalloc(1, sizeof(char *));
        size_t n = 0;
        const char *p = s;
        for (;;) {
                while (isspace((unsigned char)*p))
                        p++;
                if (!*p)
                        break;
                struct kiln_buf w = KILN_BUF_INIT;
                char quote = 0;
                for (; *p; p++) {
                        if (quote) {
                                if (*p == quote) {
                                        quote = 0;
                                } else if (*p == '\\' && quote == '"' && p[1]) {
                                        p++;
                                        kiln_buf_append(&w, p, 1);
                                } else {
                                        kiln_buf_append(&w, p, 1);
                                }
                                continue;
                        }
                        if (isspace((unsigned char)*p))
                                break;
                        if (*p == '"' || *p == '\'') {
                                quote = *p;
                        } else if (*p == '\\' && p[1]) {
                                p++;
                                kiln_buf_append(&w, p, 1);
                        } else {
                                kiln_buf_append(&w, p, 1);
                        }
                }
                if (quote) {
                        kiln_buf_free(&w);
                        kiln_strv_free(v);
                        kiln_err(err, -EINVAL, "unmatched quote in '%s'", s);
                        return NULL;
                }
                v = kiln_xrealloc(v, (n + 2) * sizeof(char *));
                v[n++] = kiln_buf_steal(&w);
                v[n] = NULL;
        }
        return v;
}

/* A JSON array of strings, or NULL when s is not one. */
static json_t *exec_form(const char *s)
{
        while (isspace((unsigned char)*s))
                s++;
        if (*s != '[')
                return NULL;
        json_t *j = json_loads(s, 0, NULL);
        if (!json_is_array(j)) {
                json_decref(j);
                return NULL;
        }
        size_t i;
        json_t *e;
        json_array_foreach(j, i, e) if (!json_is_string(e))
        {
                json_decref(j);
                return NULL;
        }
        return j;
}

/* CMD/ENTRYPOINT: exec form as is, shell form through /bin/sh -c. */
static json_t *command_value(const char *rest)
{
        json_t *j = exec_form(rest);
        if (j)
                return j;
        j = json_array();
        json_array_append_new(j, json_string("/bin/sh"));
        json_array_append_new(j, json_string("-c"));
        json_array_append_new(j, json_string(rest));
        return j;
}

/* Parse k=v pairs (or the legacy "k v" form when legacy_ok). */
static int key_values(const char *instr, const char *rest, bool legacy_ok, json_t **ret,
                      struct kiln_error *err)
{
        json_t *pairs = json_array(); /* [[k, v], ...] in order */
        _cleanup_strv_free_ char **w = split_words(rest, err);
        if (!w) {
                json_decref(pairs);
                return -EINVAL;
        }
        if (!w[0]) {
                json_decref(pairs);
                return kiln_err(err, -EINVAL, "%s requires at least one argument", instr);
        }
        if (!strchr(w[0], '=')) {
                if (!legacy_ok || !w[1]) {
                        json_decref(pairs);
                        return kiln_err(err, -EINVAL, "%s names must be followed by '=' and a value: '%s'",
                                        instr, rest);
                }
                /* legacy: the rest of the line, after the key, is the value */
                const char *p = rest;
                while (isspace((unsigned char)*p))
                        p++;
                p += strcspn(p, " \t");
                while (isspace((unsigned char)*p))
                        p++;
                json_t *pair = json_array();
                json_array_append_new(pair, json_string(w[0]));
                json_array_append_new(pair, json_string(p));
                json_array_append_new(pairs, pair);
        } else {
                for (size_t i = 0; w[i]; i++) {
                        char *eq = strchr(w[i], '=');
                        if (!eq || eq == w[i]) {
                                json_decref(pairs);
                                return kiln_err(err, -EINVAL, "%s: invalid key=value '%s'", instr, w[i]);
                        }
                        *eq = 0;
                        json_t *pair = json_array();
                        json_array_append_new(pair, json_string(w[i]));
                        json_array_append_new(pair, json_string(eq + 1));
                        json_array_append_new(pairs, pair);
                }
        }
        *ret = pairs;
        return 0;
}

static json_t *obj_member(json_t *config, const char *key)
{
        json_t *o = json_object_get(config, key);
        if (!json_is_object(o)) {
                o = json_object();
                json_object_set_new(config, key, o);
        }
        return o;
}

static int set_env(json_t *config, const char *k, const char *v)
{
        json_t *env = json_object_get(config, "Env");
        if (!json_is_array(env)) {
                env = json_array();
                json_object_set_new(config, "Env", env);
        }
        size_t klen = strlen(k);
        _cleanup_free_ char *entry = kiln_xasprintf("%s=%s", k, v);
        size_t i;
        json_t *e;
        json_array_foreach(env, i, e)
        {
                const char *s = json_string_value(e);
                if (s && !strncmp(s, k, klen) && s[klen] == '=') {
                        json_array_set_new(env, i, json_string(entry));
                        return 0;
                }
        }
        json_array_append_new(env, json_string(entry));
        return 0;
}

int cli_parse_duration(const char *s, int64_t *ret_ns)
{
        static const struct {
                const char *unit;
                double ns;
        } units[] = { { "ns", 1 },      { "us", 1e3 },   { "\xc2\xb5s", 1e3 }, { "ms", 1e6 },
                      { "s", 1e9 },     { "m", 60e9 },   { "h", 3600e9 } };
        const char *p = s;
        bool neg = false;
        if (*p == '-' || *p == '+')
                neg = *p++ == '-';
        if (!strcmp(p, "0")) {
                *ret_ns = 0;
                return 0;
        }
        if (!*p)
                return -EINVAL;
        double total = 0;
        while (*p) {
                if (!isdigit((unsigned char)*p) && *p != '.')
                        return -EINVAL;
                char *end;
                double v = strtod(p, &end);
                if (end == p)
                        return -EINVAL;
                p = end;
                size_t best = 0, best_len = 0;
                for (size_t i = 0; i < KILN_ARRAY_SIZE(units); i++) {
                        size_t l = strlen(units[i].unit);
                        /* "ms" before "m": the longest unit that matches */
                        if (!strncmp(p, units[i].unit, l) && l > best_len) {
                                best = i;
                                best_len = l;
                        }
                }
                if (!best_len)
                        return -EINVAL; /* Go: missing unit in duration */
                total += v * units[best].ns;
                p += best_len;
        }
        if (total > 9.2e18)
                return -ERANGE;
        *ret_ns = (int64_t)(neg ? -total : total);
        return 0;
}

/* HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--retries=N] CMD ...|NONE */
static int healthcheck(json_t *config, const char *change, const char *rest, struct kiln_error *err)
{
        json_t *hc = json_object();
        const char *p = rest;
        while (!strncmp(p, "--", 2)) {
                size_t n = strcspn(p, " \t");
                _cleanup_free_ char *opt = kiln_xstrndup(p, n);
                p += n;
                while (isspace((unsigned char)*p))
                        p++;
                char *eq = strchr(opt, '=');
                if (!eq) {
                        json_decref(hc);
                        return kiln_err(err, -EINVAL, "invalid change '%s': %s needs =VALUE", change, opt);
                }
                *eq = 0;
                const char *v = eq + 1;
                static const char *const dur[][2] = { { "--interval", "Interval" },
                                                      { "--timeout", "Timeout" },
                                                      { "--start-period", "StartPeriod" } };
                bool done = false;
                for (size_t i = 0; i < KILN_ARRAY_SIZE(dur) && !done; i++) {
                        if (strcmp(opt, dur[i][0]))
                                continue;
                        int64_t ns;
                        if (cli_parse_duration(v, &ns) < 0 || ns < 0) {
                                json_decref(hc);
                                return kiln_err(err, -EINVAL, "invalid change '%s': %s: invalid duration '%s'",
                                                change, opt, v);
                        }
                        json_object_set_new(hc, dur[i][1], json_integer(ns));
                        done = true;
                }
                if (!done && !strcmp(opt, "--retries")) {
                        char *end;
                        long r = strtol(v, &end, 10);
                        if (!*v || *end || r < 0 || r > INT32_MAX) {
                                json_decref(hc);
                                return kiln_err(err, -EINVAL, "invalid change '%s': invalid --retries '%s'",
                                                change, v);
                        }
                        json_object_set_new(hc, "Retries", json_integer(r));
                        done = true;
                }
                if (!done) {
                        json_decref(hc);
                        return kiln_err(err, -EINVAL, "invalid change '%s': unknown flag %s", change, opt);
                }
        }
        size_t n = strcspn(p, " \t");
        if (n == 4 && !strncasecmp(p, "NONE", 4) && !p[4]) {
                json_object_clear(hc);
                json_object_set_new(hc, "Test", json_pack("[s]", "NONE"));
        } else if (n == 3 && !strncasecmp(p, "CMD", 3) && p[3]) {
                const char *cmd = p + 3;
                while (isspace((unsigned char)*cmd))
                        cmd++;
                json_t *ef = exec_form(cmd);
                if (ef) {
                        json_array_insert_new(ef, 0, json_string("CMD"));
                        json_object_set_new(hc, "Test", ef);
                } else {
                        json_object_set_new(hc, "Test", json_pack("[ss]", "CMD-SHELL", cmd));
                }
        } else {
                json_decref(hc);
                return kiln_err(err, -EINVAL, "invalid change '%s': HEALTHCHECK needs CMD or NONE",
                                change);
        }
        json_object_set_new(config, "Healthcheck", hc);
        return 0;
}

int cli_apply_change(json_t *config, const char *change, struct kiln_error *err)
{
        const char *p = change;
        while (isspace((unsigned char)*p))
                p++;
        size_t n = strcspn(p, " \t\n");
        _cleanup_free_ char *instr = kiln_xstrndup(p, n);
        for (char *c = instr; *c; c++)
                *c = (char)toupper((unsigned char)*c);
        const char *rest = p + n;
        while (isspace((unsigned char)*rest))
                rest++;
        _cleanup_free_ char *trimmed = kiln_xstrdup(rest);
        for (size_t l = strlen(trimmed); l > 0 && isspace((unsigned char)trimmed[l - 1]); l--)
                trimmed[l - 1] = 0;
        rest = trimmed;

        if (!strcmp(instr, "CMD") || !strcmp(instr, "ENTRYPOINT")) {
                json_object_set_new(config, !strcmp(instr, "CMD") ? "Cmd" : "Entrypoint",
                                    *rest ? command_value(rest) : json_array());
                return 0;
        }
        if (!*rest)
                return kiln_err(err, -EINVAL, "invalid change '%s': %s requires an argument",
                                change, instr);
        if (!strcmp(instr, "ENV") || !strcmp(instr, "LABEL")) {
                json_t *pairs;
                int r = key_values(instr, rest, !strcmp(instr, "ENV"), &pairs, err);
                if (r < 0)
                        return kiln_err_prefix(err, r, "invalid change '%s': ", change);
                size_t i;
                json_t *pair;
                json_array_foreach(pairs, i, pair)
                {
                        const char *k = json_string_value(json_array_get(pair, 0));
                        const char *v = json_string_value(json_array_get(pair, 1));
                        if (!strcmp(instr, "ENV"))
                                set_env(config, k, v);
                        else
                                json_object_set_new(obj_member(config, "Labels"), k, json_string(v));
                }
                json_decref(pairs);
                return 0;
        }
        if (!strcmp(instr, "EXPOSE")) {
                _cleanup_strv_free_ char **w = split_words(rest, err);
                if (!w)
                        return -EINVAL;
                json_t *ports = obj_member(config, "ExposedPorts");
                for (size_t i = 0; w[i]; i++) {
                        char *slash = strchr(w[i], '/');
                        const char *proto = slash ? slash + 1 : "tcp";
                        if (slash)
                                *slash = 0;
                        char *end;
                        long lo = strtol(w[i], &end, 10), hi = lo;
                        if (*end == '-')
                                hi = strtol(end + 1, &end, 10);
                        if (*end || lo < 1 || hi > 65535 || hi < lo ||
                            (strcasecmp(proto, "tcp") && strcasecmp(proto, "udp") &&
                             strcasecmp(proto, "sctp")))
                                return kiln_err(err, -EINVAL, "invalid change '%s': invalid port '%s'",
                                                change, w[i]);
                        for (long port = lo; port <= hi; port++) {
                                _cleanup_free_ char *key = kiln_xasprintf("%ld/%s", port, proto);
                                for (char *c = key; *c; c++)
                                        *c = (char)tolower((unsigned char)*c);
                                json_object_set_new(ports, key, json_object());
                        }
                }
                return 0;
        }
        if (!strcmp(instr, "VOLUME")) {
                json_t *arr = exec_form(rest);
                json_t *vols = obj_member(config, "Volumes");
                if (arr) {
                        size_t i;
                        json_t *e;
                        json_array_foreach(arr, i, e)
                                json_object_set_new(vols, json_string_value(e), json_object());
                        json_decref(arr);
                } else {
                        _cleanup_strv_free_ char **w = split_words(rest, err);
                        if (!w)
                                return -EINVAL;
                        for (size_t i = 0; w[i]; i++)
                                json_object_set_new(vols, w[i], json_object());
                }
                return 0;
        }
        if (!strcmp(instr, "WORKDIR")) {
                const char *cur = json_string_value(json_object_get(config, "WorkingDir"));
                _cleanup_free_ char *wd = NULL;
                if (rest[0] == '/')
                        wd = kiln_xstrdup(rest);
                else
                        wd = kiln_xasprintf("%s/%s", cur && *cur ? cur : "", rest);
                json_object_set_new(config, "WorkingDir", json_string(wd));
                return 0;
        }
        if (!strcmp(instr, "USER")) {
                json_object_set_new(config, "User", json_string(rest));
                return 0;
        }
        if (!strcmp(instr, "STOPSIGNAL")) {
                json_object_set_new(config, "StopSignal", json_string(rest));
                return 0;
        }
        if (!strcmp(instr, "HEALTHCHECK"))
                return healthcheck(config, change, rest, err);
        if (!strcmp(instr, "ONBUILD")) {
                json_t *ob = json_object_get(config, "OnBuild");
                if (!json_is_array(ob)) {
                        ob = json_array();
                        json_object_set_new(config, "OnBuild", ob);
                }
                json_array_append_new(ob, json_string(rest));
                return 0;
        }
        return kiln_err(err, -EINVAL,
                        "invalid change '%s': %s is not one of CMD, ENTRYPOINT, ENV, EXPOSE, "
                        "HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR",
                        change, instr);
}
