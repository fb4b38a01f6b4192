/* Unit tests for lib/runtime/spec.c, seccomp_profile.c and seccomp.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kiln/fs.h"
#include "kiln/runtime.h"
#include "lib/runtime/runtime-internal.h"

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- fixtures ---- */

static char *data_path(const char *name)
{
        const char *d = getenv("KILN_TEST_DATA");
        return kiln_xasprintf("%s/spec/%s", d ? d : "tests/data", name);
}

static json_t *load_data(const char *name)
{
        _cleanup_free_ char *p = data_path(name);
        json_error_t e;
        json_t *j = json_load_file(p, 0, &e);
        if (!j)
                fail_msg("%s: %s", p, e.text);
        return j;
}

/* A temporary rootfs with etc/passwd and etc/group (either may be NULL). */
static char *make_rootfs(const char *passwd, const char *group)
{
        char tmpl[] = "/tmp/kiln-spec-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        int fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(mkdirat(fd, "etc", 0755), 0);
        if (passwd)
                assert_int_equal(kiln_fs_write_atomic(fd, "etc/passwd", passwd, strlen(passwd), 0644), 0);
        if (group)
                assert_int_equal(kiln_fs_write_atomic(fd, "etc/group", group, strlen(group), 0644), 0);
        close(fd);
        return kiln_xstrdup(tmpl);
}

static void rm_rootfs(char *path)
{
        kiln_fs_rm_rf_at(AT_FDCWD, path);
        free(path);
}

static const char ALPINE_PASSWD[] = "root:x:0:0:root:/root:/bin/ash\n"
                                    "bin:x:1:1:bin:/bin:/sbin/nologin\n"
                                    "app:x:1000:1000:App,,,:/home/app:/bin/sh\n"
                                    "# a comment\n"
                                    "\n"
                                    "svc:x:999:999::/var/lib/svc:/bin/false\n";
static const char ALPINE_GROUP[] = "root:x:0:root\n"
                                   "bin:x:1:root,bin,daemon\n"
                                   "app:x:1000:\n"
                                   "docker:x:998:app\n"
                                   "video:x:27:svc,app\n"
                                   "svc:x:999:\n";

/* ---- the (image config, opts) documents ---- */

struct owned_opts {
        struct kiln_run_opts o;
        char **strvs[8];
        size_t n_strvs;
        struct kiln_mount_req *mounts;
        struct kiln_id_map *uid_maps, *gid_maps;
};

static char **json_strv(struct owned_opts *oo, json_t *a)
{
        if (!json_is_array(a))
                return NULL;
        char **v = kiln_xcalloc(json_array_size(a) + 1, sizeof(char *));
        size_t i;
        json_t *s;
        json_array_foreach(a, i, s) v[i] = kiln_xstrdup(json_string_value(s));
        assert_true(oo->n_strvs < 8);
        oo->strvs[oo->n_strvs++] = v;
        return v;
}

static struct kiln_id_map *json_maps(json_t *a, size_t *n)
{
        *n = json_array_size(a);
        if (!*n)
                return NULL;
        struct kiln_id_map *m = kiln_xcalloc(*n, sizeof(*m));
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e) {
                m[i].container_id = (uint32_t)json_integer_value(json_object_get(e, "container_id"));
                m[i].host_id = (uint32_t)json_integer_value(json_object_get(e, "host_id"));
                m[i].size = (uint32_t)json_integer_value(json_object_get(e, "size"));
        }
        return m;
}

/* struct kiln_run_opts from the "opts" object of a test document (borrows j). */
static void opts_from_json(json_t *j, struct owned_opts *oo)
{
        memset(oo, 0, sizeof(*oo));
        struct kiln_run_opts *o = &oo->o;
        o->id = json_string_value(json_object_get(j, "id"));
        o->env = json_strv(oo, json_object_get(j, "env"));
        o->workdir = json_string_value(json_object_get(j, "workdir"));
        o->user = json_string_value(json_object_get(j, "user"));
        o->entrypoint = json_strv(oo, json_object_get(j, "entrypoint"));
        o->cmd = json_strv(oo, json_object_get(j, "cmd"));
        o->hostname = json_string_value(json_object_get(j, "hostname"));
        o->read_only = json_is_true(json_object_get(j, "read_only"));
        o->tty = json_is_true(json_object_get(j, "tty"));
        o->privileged = json_is_true(json_object_get(j, "privileged"));
        o->cap_add = json_strv(oo, json_object_get(j, "cap_add"));
        o->cap_drop = json_strv(oo, json_object_get(j, "cap_drop"));
        o->no_new_privileges = json_is_true(json_object_get(j, "no_new_privileges"));
        o->seccomp = json_string_value(json_object_get(j, "seccomp"));
        o->memory = json_integer_value(json_object_get(j, "memory"));
        o->memory_swap = json_integer_value(json_object_get(j, "memory_swap"));
        o->cpus = json_number_value(json_object_get(j, "cpus"));
        o->cpu_shares = (uint64_t)json_integer_value(json_object_get(j, "cpu_shares"));
        o->pids_limit = json_integer_value(json_object_get(j, "pids_limit"));
        json_t *mounts = json_object_get(j, "mounts");
        o->n_mounts = json_array_size(mounts);
        if (o->n_mounts) {
                oo->mounts = kiln_xcalloc(o->n_mounts, sizeof(*oo->mounts));
                size_t i;
                json_t *m;
                json_array_foreach(mounts, i, m) {
                        oo->mounts[i].type = (char *)json_string_value(json_object_get(m, "type"));
                        oo->mounts[i].source = (char *)json_string_value(json_object_get(m, "source"));
                        oo->mounts[i].destination = (char *)json_string_value(json_object_get(m, "destination"));
                        oo->mounts[i].readonly = json_is_true(json_object_get(m, "readonly"));
                        oo->mounts[i].options = json_strv(oo, json_object_get(m, "options"));
                }
                o->mounts = oo->mounts;
        }
        const char *net = json_string_value(json_object_get(j, "netns"));
        o->netns = !net ? KILN_NETNS_PRIVATE : !strcmp(net, "host") ? KILN_NETNS_HOST : KILN_NETNS_PATH;
        o->netns_path = json_string_value(json_object_get(j, "netns_path"));
        o->userns = json_is_true(json_object_get(j, "userns"));
        o->rootless = json_is_true(json_object_get(j, "rootless"));
        oo->uid_maps = json_maps(json_object_get(j, "uid_maps"), &o->n_uid_maps);
        oo->gid_maps = json_maps(json_object_get(j, "gid_maps"), &o->n_gid_maps);
        o->uid_maps = oo->uid_maps;
        o->gid_maps = oo->gid_maps;
        o->cgroup_parent = json_string_value(json_object_get(j, "cgroup_parent"));
        o->annotations = json_strv(oo, json_object_get(j, "annotations"));
}

static void owned_opts_done(struct owned_opts *oo)
{
        for (size_t i = 0; i < oo->n_strvs; i++)
                kiln_strv_free(oo->strvs[i]);
        free(oo->mounts);
        free(oo->uid_maps);
        free(oo->gid_maps);
}

/*
 * Every key of want must be in got with an equal value ("$ABSENT": must be
 * missing; "$ROOTFS": the rootfs path; "$ALL_CAPS": kiln_spec_all_caps()).
 * Keys of got that want does not name are not compared here.
 */
static int compare(json_t *want, json_t *got, const char *rootfs, const char *path)
{
        int bad = 0;
        const char *key;
        json_t *w;
        json_object_foreach(want, key, w) {
                _cleanup_free_ char *p = kiln_xasprintf("%s.%s", path, key);
                json_t *g = json_object_get(got, key);
                const char *ws = json_string_value(w);
                if (ws && !strcmp(ws, "$ABSENT")) {
                        if (g) {
                                print_error("%s: should be absent\n", p);
                                bad++;
                        }
                        continue;
                }
                if (!g) {
                        print_error("%s: missing\n", p);
                        bad++;
                        continue;
                }
                if (json_is_object(w)) {
                        bad += compare(w, g, rootfs, p);
                        continue;
                }
                json_t *exp = json_incref(w);
                if (ws && !strcmp(ws, "$ROOTFS")) {
                        json_decref(exp);
                        exp = json_string(rootfs);
                } else if (ws && !strcmp(ws, "$ALL_CAPS")) {
                        json_decref(exp);
                        exp = json_array();
                        for (const char *const *c = kiln_spec_all_caps(); *c; c++)
                                json_array_append_new(exp, json_string(*c));
                }
                if (!json_equal(exp, g)) {
                        char *a = json_dumps(exp, JSON_COMPACT), *b = json_dumps(g, JSON_COMPACT);
                        print_error("%s:\n  want %s\n  got  %s\n", p, a, b);
                        free(a);
                        free(b);
                        bad++;
                }
                json_decref(exp);
        }
        return bad;
}

static void run_document(const char *name)
{
        json_t *doc = load_data(name);
        char *rootfs = make_rootfs(json_string_value(json_object_get(doc, "passwd")),
                                   json_string_value(json_object_get(doc, "group")));
        struct owned_opts oo;
        opts_from_json(json_object_get(doc, "opts"), &oo);
        struct kiln_error e = { 0 };
        json_t *spec = NULL;
        int r = kiln_spec_generate(json_object_get(doc, "image"), &oo.o, rootfs, &spec, &e);
        if (r < 0)
                fail_msg("%s: %d %s", name, r, e.msg);
        int bad = compare(json_object_get(doc, "expected"), spec, rootfs, name);
        if (bad)
                fail_msg("%s: %d fields differ", name, bad);
        json_decref(spec);
        owned_opts_done(&oo);
        rm_rootfs(rootfs);
        json_decref(doc);
}

static void test_doc_basic(void **state) { run_document("basic.json"); }
static void test_doc_flags(void **state) { run_document("flags.json"); }
static void test_doc_privileged(void **state) { run_document("privileged.json"); }
static void test_doc_userns(void **state) { run_document("userns.json"); }

/* ---- helpers for the targeted tests ---- */

static json_t *gen(json_t *image, const struct kiln_run_opts *o, const char *rootfs, int want_r,
                   struct kiln_error *e)
{
        json_t *spec = NULL;
        int r = kiln_spec_generate(image, o, rootfs, &spec, e);
        if (r != want_r)
                fail_msg("kiln_spec_generate: got %d want %d (%s)", r, want_r, e->msg);
        if (r < 0)
                assert_null(spec);
        return spec;
}

static char *dump(json_t *j)
{
        return json_dumps(j, JSON_COMPACT);
}

static void assert_json(json_t *got, const char *want_text)
{
        json_error_t je;
        json_t *want = json_loads(want_text, JSON_DECODE_ANY, &je);
        assert_non_null(want);
        if (!json_equal(want, got)) {
                char *g = dump(got);
                fail_msg("want %s\ngot  %s", want_text, g);
        }
        json_decref(want);
}

/* ---- ENTRYPOINT / CMD ---- */

static void test_entrypoint_cmd(void **state)
{
        char *rootfs = make_rootfs(ALPINE_PASSWD, ALPINE_GROUP);
        json_t *both = json_pack("{s:[s,s], s:[s,s]}", "Entrypoint", "/ep", "-x", "Cmd", "c1", "c2");
        json_t *cmd_only = json_pack("{s:[s], s:n}", "Cmd", "sh", "Entrypoint");
        json_t *ep_only = json_pack("{s:[s]}", "Entrypoint", "/ep");
        json_t *none = json_pack("{s:[]}", "Cmd");
        char *args[] = { "a1", "a2", NULL };
        char *ep[] = { "/new", NULL };
        char *empty_str[] = { "", NULL };
        char *empty_vec[] = { NULL };
        static const struct {
                int image; /* 0 both, 1 cmd_only, 2 ep_only, 3 none, 4 NULL config */
                int entry; /* 0 image's, 1 /new, 2 {""}, 3 {} */
                bool args;
                const char *want; /* NULL: no command specified */
        } m[] = {
                { 0, 0, false, "[\"/ep\",\"-x\",\"c1\",\"c2\"]" },
                { 0, 0, true, "[\"/ep\",\"-x\",\"a1\",\"a2\"]" },
                /* --entrypoint resets the image's CMD */
                { 0, 1, false, "[\"/new\"]" },
                { 0, 1, true, "[\"/new\",\"a1\",\"a2\"]" },
                /* --entrypoint "" (the CLI's [""]): no entrypoint, CMD reset too */
                { 0, 2, false, NULL },
                { 0, 2, true, "[\"a1\",\"a2\"]" },
                /* API-style empty entrypoint: none, but the image's CMD stays (moby merge()) */
                { 0, 3, false, "[\"c1\",\"c2\"]" },
                { 1, 0, false, "[\"sh\"]" },
                { 1, 0, true, "[\"a1\",\"a2\"]" },
                { 2, 0, false, "[\"/ep\"]" },
                { 2, 0, true, "[\"/ep\",\"a1\",\"a2\"]" },
                { 3, 0, false, NULL },
                { 3, 0, true, "[\"a1\",\"a2\"]" },
                { 4, 0, false, NULL },
                { 4, 1, false, "[\"/new\"]" },
        };
        json_t *images[] = { both, cmd_only, ep_only, none, NULL };
        char **entries[] = { NULL, ep, empty_str, empty_vec };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(m); i++) {
                struct kiln_run_opts o = { .id = ID64 };
                o.entrypoint = entries[m[i].entry];
                o.cmd = m[i].args ? args : NULL;
                struct kiln_error e = { 0 };
                json_t *spec = gen(images[m[i].image], &o, rootfs, m[i].want ? 0 : -EINVAL, &e);
                if (!m[i].want) {
                        assert_string_equal(e.msg, "no command specified");
                        continue;
                }
                assert_json(json_object_get(json_object_get(spec, "process"), "args"), m[i].want);
                json_decref(spec);
        }
        json_decref(both);
        json_decref(cmd_only);
        json_decref(ep_only);
        json_decref(none);
        rm_rootfs(rootfs);
}

/* ---- users ---- */

static void check_user(const char *rootfs, const char *image_user, const char *user, const char *want_user,
                       const char *want_home)
{
        json_t *img = json_pack("{s:[s]}", "Cmd", "true");
        if (image_user)
                json_object_set_new(img, "User", json_string(image_user));
        struct kiln_run_opts o = { .id = ID64, .user = user };
        struct kiln_error e = { 0 };
        json_t *spec = gen(img, &o, rootfs, 0, &e);
        json_t *proc = json_object_get(spec, "process");
        assert_json(json_object_get(proc, "user"), want_user);
        _cleanup_free_ char *home = kiln_xasprintf("HOME=%s", want_home);
        size_t i;
        json_t *v;
        bool found = false;
        json_array_foreach(json_object_get(proc, "env"), i, v) if (!strcmp(json_string_value(v), home)) found = true;
        if (!found)
                fail_msg("%s not in env of user %s", home, user ? user : image_user ? image_user : "(none)");
        json_decref(spec);
        json_decref(img);
}

static void test_user_resolution(void **state)
{
        char *rootfs = make_rootfs(ALPINE_PASSWD, ALPINE_GROUP);
        check_user(rootfs, NULL, NULL, "{\"uid\":0,\"gid\":0,\"additionalGids\":[0,1]}", "/root");
        check_user(rootfs, "app", NULL, "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000,998,27]}",
                   "/home/app");
        /* -u overrides the image's User */
        check_user(rootfs, "app", "svc", "{\"uid\":999,\"gid\":999,\"additionalGids\":[999,27]}", "/var/lib/svc");
        /* a uid with a passwd entry gets the entry's gid, home and groups */
        check_user(rootfs, NULL, "1000", "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000,998,27]}",
                   "/home/app");
        /* an explicit group: no supplementary groups */
        check_user(rootfs, NULL, "app:video", "{\"uid\":1000,\"gid\":27,\"additionalGids\":[27]}", "/home/app");
        check_user(rootfs, NULL, "app:4242", "{\"uid\":1000,\"gid\":4242,\"additionalGids\":[4242]}", "/home/app");
        /* numeric ids need no entry */
        check_user(rootfs, NULL, "4321", "{\"uid\":4321,\"gid\":0,\"additionalGids\":[0]}", "/");
        check_user(rootfs, NULL, "4321:77", "{\"uid\":4321,\"gid\":77,\"additionalGids\":[77]}", "/");

        json_t *img = json_pack("{s:[s]}", "Cmd", "true");
        struct kiln_error e = { 0 };
        struct kiln_run_opts o = { .id = ID64, .user = "nosuch" };
        gen(img, &o, rootfs, -KILN_ENOTFOUND, &e);
        assert_string_equal(e.msg, "unable to find user nosuch: no matching entries in passwd file");
        o.user = "app:nogroup";
        gen(img, &o, rootfs, -KILN_ENOTFOUND, &e);
        assert_string_equal(e.msg, "unable to find group nogroup: no matching entries in group file");
        o.user = "99999999999";
        gen(img, &o, rootfs, -EINVAL, &e);
        rm_rootfs(rootfs);

        /* no /etc at all: root works, names do not */
        char tmpl[] = "/tmp/kiln-spec-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        o.user = NULL;
        json_t *spec = gen(img, &o, tmpl, 0, &e);
        assert_json(json_object_get(json_object_get(spec, "process"), "user"),
                    "{\"uid\":0,\"gid\":0,\"additionalGids\":[0]}");
        json_decref(spec);
        o.user = "app";
        gen(img, &o, tmpl, -KILN_ENOTFOUND, &e);
        rmdir(tmpl);
        json_decref(img);
}

/* /etc/passwd a symlink to a host file: resolved inside the rootfs, never outside. */
static void test_user_symlink_escape(void **state)
{
        char outside[] = "/tmp/kiln-spec-host-XXXXXX";
        assert_non_null(mkdtemp(outside));
        _cleanup_free_ char *host_passwd = kiln_xasprintf("%s/passwd", outside);
        static const char hostdata[] = "hostonly:x:4444:4444::/home/hostonly:/bin/sh\n";
        assert_int_equal(kiln_fs_write_atomic(AT_FDCWD, host_passwd, hostdata, strlen(hostdata), 0644), 0);

        char *rootfs = make_rootfs(NULL, NULL);
        _cleanup_free_ char *link = kiln_xasprintf("%s/etc/passwd", rootfs);
        assert_int_equal(symlink(host_passwd, link), 0);
        static const char hostgroup[] = "hostgrp:x:4444:hostonly\n";
        _cleanup_free_ char *host_group = kiln_xasprintf("%s/group", outside);
        assert_int_equal(kiln_fs_write_atomic(AT_FDCWD, host_group, hostgroup, strlen(hostgroup), 0644), 0);
        _cleanup_free_ char *link2 = kiln_xasprintf("%s/etc/group", rootfs);
        _cleanup_free_ char *dotdot = kiln_xasprintf("../../../../../../../..%s", host_group);
        assert_int_equal(symlink(dotdot, link2), 0);

        json_t *img = json_pack("{s:[s]}", "Cmd", "true");
        struct kiln_error e = { 0 };
        struct kiln_run_opts o = { .id = ID64, .user = "hostonly" };
        gen(img, &o, rootfs, -KILN_ENOTFOUND, &e);
        assert_string_equal(e.msg, "unable to find user hostonly: no matching entries in passwd file");
        /* nor a host group through ../ */
        o.user = "0:hostgrp";
        gen(img, &o, rootfs, -KILN_ENOTFOUND, &e);
        assert_string_equal(e.msg, "unable to find group hostgrp: no matching entries in group file");
        /* a link to itself (absolute /etc/group seen from inside) is a loop, not the host's file */
        _cleanup_free_ char *link3 = kiln_xasprintf("%s/etc/group", rootfs);
        unlink(link3);
        assert_int_equal(symlink("/etc/group", link3), 0);
        gen(img, &o, rootfs, -ELOOP, &e);
        assert_non_null(strstr(e.msg, "/etc/group"));
        /* a FIFO as /etc/group must not block (read as empty) */
        unlink(link3);
        assert_int_equal(mkfifo(link3, 0644), 0);

        /* the same link target inside the rootfs is what is read */
        _cleanup_free_ char *inside_dir = kiln_xasprintf("%s%s", rootfs, outside);
        assert_int_equal(kiln_fs_mkdir_p(AT_FDCWD, inside_dir, 0755), 0);
        static const char inside[] = "hostonly:x:5555:5555::/in:/bin/sh\n";
        _cleanup_free_ char *inside_file = kiln_xasprintf("%s/passwd", inside_dir);
        assert_int_equal(kiln_fs_write_atomic(AT_FDCWD, inside_file, inside, strlen(inside), 0644), 0);
        o.user = "hostonly";
        json_t *spec = gen(img, &o, rootfs, 0, &e);
        assert_int_equal(json_integer_value(json_object_get(
                                 json_object_get(json_object_get(spec, "process"), "user"), "uid")),
                         5555);
        json_decref(spec);

        json_decref(img);
        rm_rootfs(rootfs);
        kiln_fs_rm_rf_at(AT_FDCWD, outside);
}

/* ---- environment, cwd ---- */

static void test_env(void **state)
{
        char *rootfs = make_rootfs(ALPINE_PASSWD, ALPINE_GROUP);
        struct kiln_error e = { 0 };
        /* image without PATH: Docker's default; no HOME in passwd for uid 4321: "/" */
        json_t *img = json_pack("{s:[s], s:[s,s,s]}", "Cmd", "x", "Env", "A=1", "B=2", "HOME=/img");
        char *env[] = { "B=3", "C=4", "A", NULL };
        struct kiln_run_opts o = { .id = "shortid", .env = env, .tty = true, .user = "4321" };
        json_t *spec = gen(img, &o, rootfs, 0, &e);
        assert_json(json_object_get(json_object_get(spec, "process"), "env"),
                    "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
                    "\"HOSTNAME=shortid\",\"TERM=xterm\",\"B=3\",\"HOME=/img\",\"C=4\"]");
        assert_string_equal(json_string_value(json_object_get(spec, "hostname")), "shortid");
        json_decref(spec);
        json_decref(img);

        /* image PATH wins over the default; -e PATH over both; HOME from passwd */
        img = json_pack("{s:[s], s:[s]}", "Cmd", "x", "Env", "PATH=/opt/bin");
        o = (struct kiln_run_opts){ .id = ID64, .user = "app" };
        spec = gen(img, &o, rootfs, 0, &e);
        assert_json(json_object_get(json_object_get(spec, "process"), "env"),
                    "[\"PATH=/opt/bin\",\"HOSTNAME=0123456789ab\",\"HOME=/home/app\"]");
        json_decref(spec);
        char *env2[] = { "PATH=/x", "HOME=/h", NULL };
        o.env = env2;
        spec = gen(img, &o, rootfs, 0, &e);
        assert_json(json_object_get(json_object_get(spec, "process"), "env"),
                    "[\"PATH=/x\",\"HOSTNAME=0123456789ab\",\"HOME=/h\"]");
        json_decref(spec);
        char *bad[] = { "=x", NULL };
        o.env = bad;
        gen(img, &o, rootfs, -EINVAL, &e);

        /* cwd: -w, then WorkingDir, then "/"; relative is refused */
        json_t *img2 = json_pack("{s:[s], s:s}", "Cmd", "x", "WorkingDir", "/img/dir/");
        o = (struct kiln_run_opts){ .id = ID64 };
        spec = gen(img2, &o, rootfs, 0, &e);
        assert_string_equal(json_string_value(json_object_get(json_object_get(spec, "process"), "cwd")),
                            "/img/dir");
        json_decref(spec);
        o.workdir = "rel";
        gen(img2, &o, rootfs, -EINVAL, &e);
        assert_string_equal(e.msg, "the working directory 'rel' is invalid, it needs to be an absolute path");
        o.workdir = NULL;
        spec = gen(img, &o, rootfs, 0, &e);
        assert_string_equal(json_string_value(json_object_get(json_object_get(spec, "process"), "cwd")), "/");
        json_decref(spec);
        json_decref(img);
        json_decref(img2);
        rm_rootfs(rootfs);
}

/* ---- capabilities ---- */

static json_t *caps_of(json_t *spec, const char *set)
{
        return json_object_get(json_object_get(json_object_get(spec, "process"), "capabilities"), set);
}

static void test_caps(void **state)
{
        char *rootfs = make_rootfs(ALPINE_PASSWD, ALPINE_GROUP);
        json_t *img = json_pack("{s:[s]}", "Cmd", "x");
        struct kiln_error e = { 0 };

        const char *const *def = kiln_spec_default_caps();
        assert_int_equal(kiln_strv_len((char *const *)def), 14);
        const char *const *all = kiln_spec_all_caps();
        assert_true(kiln_strv_len((char *const *)all) >= 38);
        assert_string_equal(all[0], "CAP_CHOWN");

        char *drop_all[] = { "all", NULL };
        char *add_two[] = { "net_admin", "CAP_SYS_TIME", "Net_Admin", NULL };
        struct kiln_run_opts o = { .id = ID64, .cap_drop = drop_all, .cap_add = add_two };
        json_t *spec = gen(img, &o, rootfs, 0, &e);
        assert_json(caps_of(spec, "bounding"), "[\"CAP_NET_ADMIN\",\"CAP_SYS_TIME\"]");
        assert_json(caps_of(spec, "effective"), "[\"CAP_NET_ADMIN\",\"CAP_SYS_TIME\"]");
        assert_json(caps_of(spec, "permitted"), "[\"CAP_NET_ADMIN\",\"CAP_SYS_TIME\"]");
        assert_null(caps_of(spec, "inheritable"));
        assert_null(caps_of(spec, "ambient"));
        /* the seccomp profile follows the caps: CAP_SYS_TIME opens settimeofday */
        char *s = dump(json_object_get(json_object_get(spec, "linux"), "seccomp"));
        assert_non_null(strstr(s, "\"settimeofday\""));
        free(s);
        json_decref(spec);

        char *add_all[] = { "ALL", NULL };
        char *drop_some[] = { "sys_admin", "CAP_NET_RAW", NULL };
        o = (struct kiln_run_opts){ .id = ID64, .cap_add = add_all, .cap_drop = drop_some };
        spec = gen(img, &o, rootfs, 0, &e);
        assert_int_equal(json_array_size(caps_of(spec, "bounding")), kiln_strv_len((char *const *)all) - 2);
        s = dump(caps_of(spec, "bounding"));
        assert_null(strstr(s, "SYS_ADMIN"));
        assert_null(strstr(s, "NET_RAW"));
        assert_non_null(strstr(s, "CAP_SYS_MODULE"));
        free(s);
        json_decref(spec);

        char *unknown[] = { "CAP_FLY", NULL };
        o = (struct kiln_run_opts){ .id = ID64, .cap_add = unknown };
        gen(img, &o, rootfs, -EINVAL, &e);
        assert_string_equal(e.msg, "unknown capability: \"CAP_FLY\"");

        /* a non-root user keeps the sets in the spec like dockerd; execve clears them */
        o = (struct kiln_run_opts){ .id = ID64, .user = "app" };
        spec = gen(img, &o, rootfs, 0, &e);
        assert_int_equal(json_array_size(caps_of(spec, "effective")), 14);
        json_decref(spec);

        o = (struct kiln_run_opts){ .id = ID64, .privileged = true, .cap_drop = drop_all };
        spec = gen(img, &o, rootfs, 0, &e);
        assert_int_equal(json_array_size(caps_of(spec, "bounding")), kiln_strv_len((char *const *)all));
        assert_null(json_object_get(json_object_get(spec, "linux"), "seccomp"));
        assert_non_null(json_object_get(json_object_get(spec, "linux"), "devices"));
        json_decref(spec);
        json_decref(img);
        rm_rootfs(rootfs);
}

/* ---- rlimits ---- */

static void test_rlimits(void **state)
{
        char *rootfs = make_rootfs(NULL, NULL);
        json_t *img = json_pack("{s:[s]}", "Cmd", "x");
        struct kiln_error e = { 0 };
        struct kiln_run_opts o = { .id = ID64 };
        struct rlimit rl;
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
        json_t *spec = gen(img, &o, rootfs, 0, &e);
        json_t *rls = json_object_get(json_object_get(spec, "process"), "rlimits");
        assert_int_equal(json_array_size(rls), 1);
        json_t *nf = json_array_get(rls, 0);
        assert_string_equal(json_string_value(json_object_get(nf, "type")), "RLIMIT_NOFILE");
        uint64_t hard = (uint64_t)json_integer_value(json_object_get(nf, "hard"));
        uint64_t soft = (uint64_t)json_integer_value(json_object_get(nf, "soft"));
        assert_true(hard <= 1048576 && soft == hard);
        if (rl.rlim_max != RLIM_INFINITY)
                assert_true(hard <= rl.rlim_max);
        if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= 1048576)
                assert_int_equal(hard, 1048576);
        json_decref(spec);

        /* lower the hard limit in a child: the spec follows it */
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct rlimit low = { 512, 777 };
                if (setrlimit(RLIMIT_NOFILE, &low) < 0)
                        _exit(2);
                json_t *s2 = NULL;
                if (kiln_spec_generate(img, &o, rootfs, &s2, NULL) < 0)
                        _exit(3);
                json_t *l = json_array_get(json_object_get(json_object_get(s2, "process"), "rlimits"), 0);
                _exit(json_integer_value(json_object_get(l, "hard")) == 777 &&
                              json_integer_value(json_object_get(l, "soft")) == 777
                              ? 0
                              : 4);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        json_decref(img);
        rm_rootfs(rootfs);
}

/* ---- mounts, namespaces and other options ---- */

static void test_mount_errors_and_options(void **state)
{
        char *rootfs = make_rootfs(NULL, NULL);
        json_t *img = json_pack("{s:[s]}", "Cmd", "x");
        struct kiln_error e = { 0 };
        struct kiln_mount_req rel = { .type = "bind", .source = "/a", .destination = "rel" };
        struct kiln_run_opts o = { .id = ID64, .mounts = &rel, .n_mounts = 1 };
        gen(img, &o, rootfs, -EINVAL, &e);
        struct kiln_mount_req weird = { .type = "nfs", .destination = "/x" };
        o.mounts = &weird;
        gen(img, &o, rootfs, -EINVAL, &e);

        /* a user /dev replaces /dev and everything below it; a user /dev/shm replaces that one */
        char *bopts[] = { "bind", "rslave", "nosuid", "ro", NULL };
        struct kiln_mount_req ms[] = {
                { .type = "bind", .source = "/hostdev", .destination = "/dev/", .options = bopts },
                { .type = "tmpfs", .destination = "/tmp", .readonly = true },
        };
        o.mounts = ms;
        o.n_mounts = 2;
        json_t *spec = gen(img, &o, rootfs, 0, &e);
        json_t *mounts = json_object_get(spec, "mounts");
        size_t i;
        json_t *m;
        json_array_foreach(mounts, i, m) {
                const char *d = json_string_value(json_object_get(m, "destination"));
                assert_false(kiln_startswith(d, "/dev/"));
        }
        assert_int_equal(json_array_size(mounts), 5);
        assert_json(json_array_get(mounts, 3),
                    "{\"destination\":\"/dev\",\"type\":\"bind\",\"source\":\"/hostdev\","
                    "\"options\":[\"bind\",\"ro\",\"rslave\",\"nosuid\"]}");
        assert_json(json_object_get(json_array_get(mounts, 4), "options"),
                    "[\"noexec\",\"nosuid\",\"nodev\",\"rprivate\",\"ro\"]");
        json_decref(spec);

        char *ann[] = { "noequals", NULL };
        o = (struct kiln_run_opts){ .id = ID64, .annotations = ann };
        gen(img, &o, rootfs, -EINVAL, &e);

        /* rootless without maps: the caller's ids; a private netns keeps sysfs */
        o = (struct kiln_run_opts){ .id = ID64, .rootless = true, .memory_swap = -1, .pids_limit = -1 };
        spec = gen(img, &o, rootfs, 0, &e);
        json_t *lx = json_object_get(spec, "linux");
        json_t *um = json_array_get(json_object_get(lx, "uidMappings"), 0);
        assert_int_equal(json_integer_value(json_object_get(um, "hostID")), geteuid());
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(spec, "mounts"), 3), "type")),
                            "sysfs");
        assert_json(json_object_get(json_object_get(lx, "resources"), "memory"), "{\"swap\":-1}");
        assert_json(json_object_get(json_object_get(lx, "resources"), "pids"), "{\"limit\":-1}");
        assert_null(json_object_get(json_object_get(lx, "sysctl"), "net.ipv4.ping_group_range"));
        json_decref(spec);

        /* -h empty and net=host: the host's name */
        char host[256] = "";
        gethostname(host, sizeof(host) - 1);
        o = (struct kiln_run_opts){ .id = ID64, .netns = KILN_NETNS_HOST, .cgroup_parent = "a/b" };
        spec = gen(img, &o, rootfs, 0, &e);
        assert_string_equal(json_string_value(json_object_get(spec, "hostname")), host);
        assert_string_equal(json_string_value(json_object_get(json_object_get(spec, "linux"), "cgroupsPath")),
                            "/a/b/" ID64);
        json_decref(spec);
        o = (struct kiln_run_opts){ .id = ID64, .netns = KILN_NETNS_PATH };
        gen(img, &o, rootfs, -EINVAL, &e);
        assert_int_equal(kiln_spec_generate(img, NULL, rootfs, &spec, &e), -EINVAL);
        json_decref(img);
        rm_rootfs(rootfs);
}

/* ---- seccomp profiles ---- */

static bool seccomp_allows(json_t *sc, const char *name)
{
        size_t i, j;
        json_t *call, *n;
        json_array_foreach(json_object_get(sc, "syscalls"), i, call) {
                if (strcmp(json_string_value(json_object_get(call, "action")), "SCMP_ACT_ALLOW"))
                        continue;
                json_array_foreach(json_object_get(call, "names"), j, n) if (!strcmp(json_string_value(n), name)) return true;
        }
        return false;
}

static void test_default_seccomp(void **state)
{
        json_t *sc = kiln_spec_default_seccomp(NULL);
        assert_non_null(sc);
        assert_string_equal(json_string_value(json_object_get(sc, "defaultAction")), "SCMP_ACT_ERRNO");
        assert_int_equal(json_integer_value(json_object_get(sc, "defaultErrnoRet")), 1);
#if defined(__x86_64__)
        assert_json(json_object_get(sc, "architectures"),
                    "[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"]");
        assert_true(seccomp_allows(sc, "arch_prctl"));
        assert_true(seccomp_allows(sc, "modify_ldt"));
#elif defined(__aarch64__)
        assert_json(json_object_get(sc, "architectures"), "[\"SCMP_ARCH_AARCH64\",\"SCMP_ARCH_ARM\"]");
#endif
        static const char *const allowed[] = { "read", "write", "openat", "execve", "clone", "futex" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(allowed); i++)
                assert_true(seccomp_allows(sc, allowed[i]));
        static const char *const denied[] = { "kexec_load", "mount", "umount2", "unshare", "setns", "reboot",
                                              "init_module", "bpf", "settimeofday", "open_by_handle_at",
                                              "s390_runtime_instr", "io_uring_setup" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(denied); i++)
                if (seccomp_allows(sc, denied[i]))
                        fail_msg("%s allowed by default", denied[i]);
        /* clone only without namespace flags; clone3 answers ENOSYS */
        char *s = dump(sc);
        assert_non_null(strstr(s, "{\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,"
                                  "\"value\":2114060288,\"valueTwo\":0,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}"));
        assert_non_null(strstr(s, "{\"names\":[\"clone3\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38}"));
        assert_null(strstr(s, "includes"));
        free(s);
        json_decref(sc);

        /* CAP_SYS_ADMIN opens mount & co and lifts the clone restriction */
        char *caps[] = { "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_BOOT", NULL };
        sc = kiln_spec_default_seccomp(caps);
        assert_true(seccomp_allows(sc, "mount"));
        assert_true(seccomp_allows(sc, "setns"));
        assert_true(seccomp_allows(sc, "reboot"));
        assert_true(seccomp_allows(sc, "process_vm_readv"));
        assert_false(seccomp_allows(sc, "kexec_load"));
        assert_false(seccomp_allows(sc, "init_module"));
        s = dump(sc);
        assert_null(strstr(s, "\"clone3\"],\"action\":\"SCMP_ACT_ERRNO\""));
        free(s);
        json_decref(sc);
}

static void test_load_seccomp_file(void **state)
{
        _cleanup_free_ char *p = data_path("docker-profile.json");
        char *caps[] = { "CAP_SYS_CHROOT", "CAP_KILL", NULL };
        struct kiln_error e = { 0 };
        json_t *sc = NULL;
        assert_int_equal(kiln_spec_load_seccomp(p, caps, &sc, &e), 0);
#if defined(__x86_64__)
        assert_json(sc, "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,"
                        "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],"
                        "\"syscalls\":["
                        "{\"names\":[\"read\",\"write\",\"exit_group\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                        "{\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13},"
                        "{\"names\":[\"chroot\"],\"action\":\"SCMP_ACT_ALLOW\"},"
                        "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\","
                        "\"args\":[{\"index\":0,\"value\":8,\"valueTwo\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}");
#endif
        json_decref(sc);

        /* an OCI object loads as is; a whole config.json's linux.seccomp too */
        char dir[] = "/tmp/kiln-spec-sc-XXXXXX";
        assert_non_null(mkdtemp(dir));
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        static const char oci[] = "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
                                  "\"architectures\":[\"SCMP_ARCH_X86_64\"],"
                                  "\"syscalls\":[{\"names\":[\"kexec_load\"],\"action\":\"SCMP_ACT_KILL\"}]}}}";
        assert_int_equal(kiln_fs_write_atomic(dfd, "oci.json", oci, strlen(oci), 0644), 0);
        _cleanup_free_ char *ocip = kiln_xasprintf("%s/oci.json", dir);
        assert_int_equal(kiln_spec_load_seccomp(ocip, NULL, &sc, &e), 0);
        assert_json(sc, "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
                        "\"syscalls\":[{\"names\":[\"kexec_load\"],\"action\":\"SCMP_ACT_KILL\"}]}");
        json_decref(sc);

        static const struct {
                const char *body, *msg;
        } bad[] = {
                { "{", "line 1" },
                { "{\"syscalls\":[]}", "defaultAction missing" },
                { "{\"defaultAction\":\"SCMP_ACT_MAYBE\"}", "unknown defaultAction 'SCMP_ACT_MAYBE'" },
                { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86\"],"
                  "\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\"}]}",
                  "both 'architectures' and 'archMap'" },
                { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"x\"],\"action\":\"NOPE\"}]}",
                  "syscalls[0]: unknown action 'NOPE'" },
                { "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"x\"],\"action\":\"SCMP_ACT_KILL\","
                  "\"args\":[{\"index\":9,\"op\":\"SCMP_CMP_EQ\"}]}]}",
                  "syscalls[0].args[0]: invalid" },
        };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                assert_int_equal(kiln_fs_write_atomic(dfd, "bad.json", bad[i].body, strlen(bad[i].body), 0644), 0);
                _cleanup_free_ char *bp = kiln_xasprintf("%s/bad.json", dir);
                sc = NULL;
                assert_int_equal(kiln_spec_load_seccomp(bp, NULL, &sc, &e), -KILN_EFORMAT);
                assert_null(sc);
                if (!strstr(e.msg, bp) || !strstr(e.msg, bad[i].msg))
                        fail_msg("case %zu: %s", i, e.msg);
        }
        _cleanup_free_ char *missing = kiln_xasprintf("%s/missing.json", dir);
        assert_int_equal(kiln_spec_load_seccomp(missing, NULL, &sc, &e), -ENOENT);
        assert_non_null(strstr(e.msg, missing));

        /* --security-opt seccomp=FILE through kiln_spec_generate */
        char *rootfs = make_rootfs(NULL, NULL);
        json_t *img = json_pack("{s:[s]}", "Cmd", "x");
        struct kiln_run_opts o = { .id = ID64, .seccomp = ocip };
        json_t *spec = gen(img, &o, rootfs, 0, &e);
        assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(spec, "linux"), "seccomp"),
                                                              "defaultAction")),
                            "SCMP_ACT_ALLOW");
        json_decref(spec);
        o.seccomp = missing;
        gen(img, &o, rootfs, -ENOENT, &e);
        json_decref(img);
        rm_rootfs(rootfs);
        close(dfd);
        kiln_fs_rm_rf_at(AT_FDCWD, dir);
}

/* ---- kiln_seccomp_load ---- */

/* Run fn in a forked child; returns its exit code. */
static int in_child(int (*fn)(void))
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(fn());
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (!WIFEXITED(st))
                fail_msg("child died: status %d", st);
        return WEXITSTATUS(st);
}

static int child_deny_getcwd(void)
{
        if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return 10;
        json_t *sc = json_pack("{s:s, s:[{s:[s], s:s, s:i}, {s:[s,s], s:s, s:[{s:i, s:i, s:s}]}, "
                               "{s:[s], s:s}]}",
                               "defaultAction", "SCMP_ACT_ALLOW", "syscalls",
                               "names", "getcwd", "action", "SCMP_ACT_ERRNO", "errnoRet", EPERM,
                               "names", "no_such_syscall_xyz", "dup3", "action", "SCMP_ACT_ERRNO", "args",
                               "index", 2, "value", 12345, "op", "SCMP_CMP_EQ",
                               "names", "mkdirat", "action", "SCMP_ACT_ALLOW");
        struct kiln_error e = { 0 };
        if (kiln_seccomp_load(sc, &e) < 0)
                return 11;
        char buf[256];
        errno = 0;
        if (getcwd(buf, sizeof(buf)) || errno != EPERM)
                return 12;
        char dir[] = "/tmp/kiln-spec-mkdir-XXXXXX";
        if (!mkdtemp(dir))
                return 13;
        _cleanup_free_ char *sub = kiln_xasprintf("%s/d", dir);
        if (mkdir(sub, 0755) < 0)
                return 14;
        rmdir(sub);
        rmdir(dir);
        /* dup3 with flags 12345 is denied, a plain one is not */
        int fd = dup3(0, 100, 0);
        if (fd < 0)
                return 15;
        close(fd);
        errno = 0;
        if (dup3(0, 101, 12345) >= 0 || errno != EPERM)
                return 16;
        return 0;
}

static int child_default_profile(void)
{
        if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return 10;
        json_t *sc = kiln_spec_default_seccomp(NULL);
        struct kiln_error e = { 0 };
        if (kiln_seccomp_load(sc, &e) < 0)
                return 11;
        /* NNP is not set by the loader */
        if (geteuid() == 0 && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0)
                return 12;
        char buf[256];
        if (!getcwd(buf, sizeof(buf)))
                return 13;
        errno = 0;
        if (syscall(SYS_unshare, 0x10000000 /* CLONE_NEWUSER */) == 0 || errno != EPERM)
                return 14;
        pid_t p = fork();
        if (p < 0)
                return 15;
        if (p == 0)
                _exit(0);
        waitpid(p, NULL, 0);
        return 0;
}

static int child_bad_objects(void)
{
        struct kiln_error e = { 0 };
        json_t *a = json_pack("{s:s}", "defaultAction", "SCMP_ACT_WHAT");
        if (kiln_seccomp_load(a, &e) != -EINVAL)
                return 1;
        json_t *b = json_pack("{s:s, s:[s]}", "defaultAction", "SCMP_ACT_ALLOW", "architectures", "SCMP_ARCH_VAX");
        if (kiln_seccomp_load(b, &e) != -EINVAL || !strstr(e.msg, "SCMP_ARCH_VAX"))
                return 2;
        json_t *c = json_pack("{s:s, s:[s]}", "defaultAction", "SCMP_ACT_ALLOW", "flags", "SECCOMP_FILTER_FLAG_NOPE");
        if (kiln_seccomp_load(c, &e) != -KILN_EUNSUPPORTED)
                return 3;
        if (kiln_seccomp_load(NULL, &e) != 0)
                return 4;
        return 0;
}

static void test_seccomp_load(void **state)
{
        assert_int_equal(in_child(child_deny_getcwd), 0);
        assert_int_equal(in_child(child_default_profile), 0);
        assert_int_equal(in_child(child_bad_objects), 0);
}

/* ---- kiln_spec_example ---- */

static void test_example(void **state)
{
        json_t *s = kiln_spec_example(false);
        assert_json(json_object_get(json_object_get(s, "process"), "args"), "[\"sh\"]");
        assert_true(json_is_true(json_object_get(json_object_get(s, "process"), "terminal")));
        assert_json(json_object_get(s, "root"), "{\"path\":\"rootfs\",\"readonly\":true}");
        assert_json(json_object_get(json_object_get(json_object_get(s, "process"), "capabilities"), "bounding"),
                    "[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]");
        json_t *lx = json_object_get(s, "linux");
        assert_json(json_array_get(json_object_get(lx, "namespaces"), 1), "{\"type\":\"network\"}");
        assert_int_equal(json_array_size(json_object_get(lx, "readonlyPaths")), 5);
        assert_null(json_object_get(lx, "uidMappings"));
        assert_int_equal(json_array_size(json_object_get(s, "mounts")), 7);
        json_decref(s);

        s = kiln_spec_example(true);
        lx = json_object_get(s, "linux");
        char *d = dump(json_object_get(lx, "namespaces"));
        assert_null(strstr(d, "network"));
        assert_non_null(strstr(d, "{\"type\":\"user\"}"));
        free(d);
        json_t *um = json_array_get(json_object_get(lx, "uidMappings"), 0);
        assert_int_equal(json_integer_value(json_object_get(um, "hostID")), geteuid());
        assert_int_equal(json_integer_value(json_object_get(um, "size")), 1);
        assert_null(json_object_get(lx, "resources"));
        d = dump(json_object_get(s, "mounts"));
        assert_non_null(strstr(d, "{\"destination\":\"/sys\",\"type\":\"bind\",\"source\":\"/sys\","
                                  "\"options\":[\"rbind\",\"nosuid\",\"noexec\",\"nodev\",\"ro\"]}"));
        assert_null(strstr(d, "gid=5"));
        free(d);
        json_decref(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_doc_basic),
                cmocka_unit_test(test_doc_flags),
                cmocka_unit_test(test_doc_privileged),
                cmocka_unit_test(test_doc_userns),
                cmocka_unit_test(test_entrypoint_cmd),
                cmocka_unit_test(test_user_resolution),
                cmocka_unit_test(test_user_symlink_escape),
                cmocka_unit_test(test_env),
                cmocka_unit_test(test_caps),
                cmocka_unit_test(test_rlimits),
                cmocka_unit_test(test_mount_errors_and_options),
                cmocka_unit_test(test_default_seccomp),
                cmocka_unit_test(test_load_seccomp_file),
                cmocka_unit_test(test_seccomp_load),
                cmocka_unit_test(test_example),
        };
        return cmocka_run_group_tests_name("spec", tests, NULL, NULL);
}
