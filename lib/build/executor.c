/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build's executor: stages run in order (or, those that do not need
 * each other, at once on threads: parallel.c), each step over an overlay of
 * the stage's layers with a fresh upper dir. RUN runs in a container of the
 * kiln runtime, COPY/ADD/WORKDIR write through the merged view with the
 * safe copy code of kiln cp; the upper dir becomes a layer
 * (KILN_DIFF_OVERLAY). Layer blobs stay uncommitted writers in the store's
 * tmp until the whole build succeeded, so a failed build stores nothing.
 * No cache yet. See docs/internals/build.md ("Executor").
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include "kiln/build.h"
#include "kiln/buildctx.h"
#include "kiln/container.h"
#include "kiln/fs.h"
#include "kiln/image.h"
#include "kiln/layer.h"
#include "kiln/progress.h"
#include "kiln/runtime.h"
#include "build-internal.h"
#include "runmount.h"
#include "add.h"
#include "heredoc.h"
#include "onbuild.h"
#include "format.h"
#include "history.h"
#include "output.h"
#include "stages.h"
#include "predef.h"
#include "runnet.h"
#include "copyflags.h"
#include "fetch.h"

/* A layer this build made: its upper dir (an overlay lowerdir for the
 * next steps) and its blob, not committed before the end. */
struct blayer {
        char *dir;
        struct kiln_blob_writer *w;
        struct kiln_layer_info info;
        bool committed;
};

/* A layer of a stage: from a stored image (desc, unpacked path) or made
 * here (bl >= 0). */
struct slayer {
        struct kiln_descriptor desc;
        char *path;
        int bl;
};

struct bstage {
        const char *label; /* "NAME" or "stage-N" for progress lines */
        json_t *cfg;       /* the whole image config document */
        struct slayer *layers;
        size_t n_layers;
        json_t *args;      /* declared ARGs: name -> string or null */
        bool cmd_set;      /* CMD given in this stage (ENTRYPOINT keeps it) */
        char *ckey;        /* build cache: the key of the last step; NULL: uncacheable */
        json_t *onbuild;   /* the base image's ONBUILD triggers, to fire (onbuild.c) */
        size_t n_base_layers, n_base_hist; /* what FROM gave (--squash keeps them) */
        bool done, busy;
};

struct build {
        struct kiln_store *s;
        struct kiln_buildctx *ctx;
        struct kiln_dockerfile *df;
        const struct kiln_build_opts *o;
        json_t *meta_args;  /* ARGs before the first FROM */
        json_t *build_args; /* --build-arg */
        struct bstage *stages;
        struct blayer *bl;
        size_t n_bl;
        char *tmp;          /* ROOT/tmp/build-XXXXXX */
        char *empty;        /* an empty dir: the lowerdir of a stage without layers */
        char *state_root;
        unsigned step, n_dirs;
        struct kiln_error *err;
        struct cpending *pend; /* build cache: what to record on success */
        size_t n_pend;
        struct kiln_progress *prog; /* o->progress, or a plain one on o->progress_fd, or NULL */
        bool own_prog;
        struct build_sched *sched; /* --jobs: stages on threads (parallel.c); NULL: one after the other */
        json_t *consumed;   /* --build-arg names an ARG of the build declared (predef.c) */
        bool net_fallback;  /* the bridge failed once: RUN on default has loopback only */
        struct build_downloads *dl; /* ADD from URLs (fetch.c) */
};

/* build cache (the "build cache" section below) */
struct cpending;
static int cache_unpack(struct build *b, struct bstage *st);

static const char *fname(struct build *b)
{
        return b->df->filename ? b->df->filename : "Dockerfile";
}

static void progress(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(struct build *b, const char *fmt, ...)
{
        if (!b->prog)
                return;
        /* one write a line: stages on threads write between each other's
         * lines (under the scheduler's lock), never inside one */
        va_list ap;
        va_start(ap, fmt);
        char *m = NULL;
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        if (m)
                kiln_progress_message(b->prog, "%s", m);
        free(m);
}

/* Let go of the scheduler's lock (stages on threads) for a wait or work on
 * the stage's own data; b->err belongs to whoever holds the lock, so the
 * caller keeps its own. */
static struct kiln_error *unlock_build(struct build *b)
{
        struct kiln_error *mine = b->err;
        if (b->sched)
                build_sched_unlock(b->sched);
        return mine;
}

static void lock_build(struct build *b, struct kiln_error *mine)
{
        if (b->sched)
                build_sched_lock(b->sched);
        b->err = mine;
}

/* An error at an instruction: "Dockerfile:7: COPY failed: <msg>" */
static int in_fail(struct build *b, const struct kiln_df_instruction *in, int r)
{
        const char *o = in->original;
        while (*o == ' ' || *o == '\t')
                o++;
        return kiln_err_prefix(b->err, r, "%s:%u: %.200s: ", fname(b), in->start_line, o);
}

/* now, or the SOURCE_DATE_EPOCH of a reproducible build */
static void now_rfc3339(struct build *b, char *out, size_t n)
{
        int64_t t = (int64_t)time(NULL);
        if (b->o->has_source_date_epoch)
                t = b->o->source_date_epoch;
        kiln_format_rfc3339(t, out, n);
}

/* ---- scope: ENV first, then ARG (Docker: ENV overrides an ARG) ---- */

static const char *env_get(json_t *cfg, const char *name)
{
        json_t *env = json_object_get(json_object_get(cfg, "config"), "Env");
        size_t nl = strlen(name), i;
        json_t *e;
        json_array_foreach(env, i, e) {
                const char *s = json_string_value(e);
                if (s && !strncmp(s, name, nl) && s[nl] == '=')
                        return s + nl + 1;
        }
        return NULL;
}

static bool stage_lookup(void *ud, const char *name, const char **ret)
{
        struct bstage *st = ud;
        const char *v = env_get(st->cfg, name);
        if (!v)
                v = json_string_value(json_object_get(st->args, name));
        if (!v)
                return false;
        *ret = v;
        return true;
}

static bool meta_lookup(void *ud, const char *name, const char **ret)
{
        const char *v = json_string_value(json_object_get(ud, name));
        if (!v)
                return false;
        *ret = v;
        return true;
}

/* ARG instructions: --build-arg wins, then the default, then (in a stage,
 * for an ARG without default) the global value. */
static void declare_args(struct build *b, const struct kiln_df_instruction *in, json_t *scope, bool global)
{
        for (size_t k = 0; k < in->n_arg_list; k++) {
                const struct kiln_df_arg *a = &in->arg_list[k];
                json_t *v = json_object_get(b->build_args, a->key);
                json_object_set_new(b->consumed, a->key, json_true());
                if (global && !a->value && !v && build_is_platform_arg(a->key))
                        continue; /* keeps its automatic value (predef.c) */
                if (v)
                        json_object_set(scope, a->key, v);
                else if (a->value)
                        json_object_set_new(scope, a->key, json_string(a->value));
                else if (!global && json_is_string(json_object_get(b->meta_args, a->key)))
                        json_object_set(scope, a->key, json_object_get(b->meta_args, a->key));
                else
                        json_object_set_new(scope, a->key, json_null());
        }
}

/* ---- paths ---- */

/* path relative to the stage's WorkingDir, cleaned */
static char *abs_in_stage(struct bstage *st, const char *path)
{
        if (path[0] == '/')
                return kiln_buildctx_clean_abs(path);
        const char *wd = json_string_value(json_object_get(json_object_get(st->cfg, "config"), "WorkingDir"));
        _cleanup_free_ char *j = kiln_xasprintf("%s/%s", wd && *wd ? wd : "/", path);
        return kiln_buildctx_clean_abs(j);
}

/* ---- layers and views ---- */

static char *new_dir(struct build *b, const char *what)
{
        char *d = kiln_xasprintf("%s/%u-%s", b->tmp, b->n_dirs++, what);
        if (mkdir(d, 0755) < 0) {
                free(d);
                return NULL;
        }
        return d;
}

/* overlay lowerdir= value: top layer first */
static char *lowerdir_of(struct build *b, struct bstage *st)
{
        if (!st->n_layers)
                return kiln_xstrdup(b->empty);
        struct kiln_buf buf = KILN_BUF_INIT;
        for (size_t i = st->n_layers; i-- > 0;) {
                if (buf.len)
                        kiln_buf_puts(&buf, ":");
                kiln_buf_puts(&buf, st->layers[i].path);
        }
        return kiln_buf_steal(&buf);
}

/* A read-only overlay of the lowerdir= value low on a new dir of the build. */
static int mount_view(struct build *b, const char *low, char **ret_path, bool *ret_mounted)
{
        _cleanup_free_ char *data = kiln_xasprintf("lowerdir=%s", low);
        if (strlen(data) >= 4096)
                return kiln_err(b->err, -KILN_ETOOBIG, "too many layers for one overlay mount");
        char *d = new_dir(b, "view");
        if (!d)
                return kiln_err(b->err, -errno, "build: mkdir: %s", strerror(errno));
        if (mount("overlay", d, "overlay", MS_RDONLY, data) < 0) {
                int e = errno;
                rmdir(d);
                free(d);
                return kiln_err(b->err, -e, "build: mount the layers: %s", strerror(e));
        }
        *ret_path = d;
        *ret_mounted = true;
        return 0;
}

/* Mount the stage's layers read-only on dir (or, for a single layer or
 * none, return that dir itself). *ret_path is what to open. */
static int view_mount(struct build *b, struct bstage *st, char **ret_path, bool *ret_mounted)
{
        *ret_mounted = false;
        int cr = cache_unpack(b, st);
        if (cr < 0)
                return cr;
        if (st->n_layers <= 1) {
                *ret_path = kiln_xstrdup(st->n_layers ? st->layers[0].path : b->empty);
                return 0;
        }
        _cleanup_free_ char *low = lowerdir_of(b, st);
        return mount_view(b, low, ret_path, ret_mounted);
}

static void view_unmount(char *path, bool mounted)
{
        if (mounted) {
                umount2(path, MNT_DETACH);
                rmdir(path);
        }
        free(path);
}

struct step {
        char *dir, *upper, *work, *merged;
        bool mounted;
        bool link; /* COPY --link: no overlay, merged is the (empty) upper dir */
};

static void step_done(struct step *sp)
{
        if (sp->mounted)
                umount2(sp->merged, MNT_DETACH);
        sp->mounted = false;
        free(sp->dir);
        free(sp->work);
        free(sp->merged);
        free(sp->upper);
        *sp = (struct step){ 0 };
}

/* COPY --link: a step dir whose upper starts empty and sees no lower
 * layer (sp->merged names the upper itself). */
static int step_begin_link(struct build *b, struct step *sp)
{
        *sp = (struct step){ .link = true };
        sp->dir = new_dir(b, "step");
        if (!sp->dir)
                return kiln_err(b->err, -errno, "build: mkdir: %s", strerror(errno));
        sp->upper = kiln_xasprintf("%s/upper", sp->dir);
        sp->merged = kiln_xstrdup(sp->upper);
        if (mkdir(sp->upper, 0755) < 0)
                return kiln_err(b->err, -errno, "build: mkdir: %s", strerror(errno));
        return 0;
}

/* A step dir with upper, work and merged, the overlay mounted. */
static int step_begin(struct build *b, struct bstage *st, struct step *sp)
{
        *sp = (struct step){ 0 };
        int cr = cache_unpack(b, st);
        if (cr < 0)
                return cr;
        sp->dir = new_dir(b, "step");
        if (!sp->dir)
                return kiln_err(b->err, -errno, "build: mkdir: %s", strerror(errno));
        sp->upper = kiln_xasprintf("%s/upper", sp->dir);
        sp->work = kiln_xasprintf("%s/work", sp->dir);
        sp->merged = kiln_xasprintf("%s/merged", sp->dir);
        if (mkdir(sp->upper, 0755) < 0 || mkdir(sp->work, 0700) < 0 || mkdir(sp->merged, 0755) < 0)
                return kiln_err(b->err, -errno, "build: mkdir: %s", strerror(errno));
        _cleanup_free_ char *low = lowerdir_of(b, st);
        _cleanup_free_ char *data = kiln_xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", low, sp->upper, sp->work);
        if (strlen(data) >= 4096)
                return kiln_err(b->err, -KILN_ETOOBIG, "too many layers for one overlay mount");
        /* a step's upper dir is scratch until its layer blob is written (and
         * that blob is fsynced on its own): "volatile" (Linux 5.10) skips
         * overlayfs's syncs of the upper filesystem, at unmount among others
         * (90 ms after a COPY of 200 MiB here). Refused by older kernels:
         * then without it. */
        _cleanup_free_ char *vdata = kiln_xasprintf("%s,volatile", data);
        if (strlen(vdata) < 4096 && mount("overlay", sp->merged, "overlay", MS_NODEV, vdata) == 0) {
                sp->mounted = true;
                return 0;
        }
        if (mount("overlay", sp->merged, "overlay", MS_NODEV, data) < 0)
                return kiln_err(b->err, -errno, "build: mount overlay: %s", strerror(errno));
        sp->mounted = true;
        return 0;
}

static bool dir_is_empty(const char *path)
{
        DIR *d = opendir(path);
        if (!d)
                return true;
        struct dirent *de;
        bool empty = true;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                        empty = false;
                        break;
                }
        closedir(d);
        return empty;
}

static void history_add(struct build *b, struct bstage *st, const char *created_by, bool empty_layer)
{
        json_t *hist = json_object_get(st->cfg, "history");
        if (!json_is_array(hist)) {
                hist = json_array();
                json_object_set_new(st->cfg, "history", hist);
        }
        char created[64];
        now_rfc3339(b, created, sizeof(created));
        json_t *h = json_object();
        json_object_set_new(h, "created", json_string(created));
        json_object_set_new(h, "created_by", json_string(created_by));
        if (empty_layer)
                json_object_set_new(h, "empty_layer", json_true());
        json_array_append_new(hist, h);
}

/*
 * Unmount the step and turn its upper dir into a layer of the stage
 * (unless optional and nothing changed), with its history entry.
 */
static int step_end(struct build *b, struct bstage *st, struct step *sp, bool optional, const char *created_by)
{
        if (sp->mounted)
                umount2(sp->merged, MNT_DETACH);
        sp->mounted = false;
        if (optional && dir_is_empty(sp->upper)) {
                history_add(b, st, created_by, true);
                return 0;
        }
        _cleanup_free_ char *vpath = NULL;
        bool vm = false;
        int r = 0;
        if (sp->link) /* a --link layer is a diff against nothing */
                vpath = kiln_xstrdup(b->empty);
        else
                r = view_mount(b, st, &vpath, &vm);
        if (r < 0)
                return r;
        struct kiln_blob_writer *w;
        r = kiln_blob_writer_new(b->s, &w, b->err);
        if (r < 0) {
                view_unmount(TAKE_PTR(vpath), vm);
                return r;
        }
        struct kiln_layer_create_opts lo = KILN_LAYER_CREATE_OPTS_INIT;
        lo.compression = (enum kiln_compression)b->o->compression;
        lo.level = b->o->compression_level;
        if (b->o->has_source_date_epoch) /* reproducible: mtimes clamped */
                lo.source_date_epoch = b->o->source_date_epoch;
        struct kiln_layer_info info;
        _cleanup_close_ int lfd = open(vpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int ufd = open(sp->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (lfd < 0 || ufd < 0) {
                r = kiln_err(b->err, -errno, "build: open layer dirs: %s", strerror(errno));
        } else {
                /* tar and compress without the scheduler's lock: the stage's
                 * own dirs and blob */
                struct kiln_error *mine = unlock_build(b);
                if (b->sched)
                        build_sched_work_begin(b->sched);
                r = kiln_layer_create_diff(lfd, ufd, KILN_DIFF_OVERLAY, kiln_blob_writer_fd(w), &lo, &info, mine);
                if (b->sched)
                        build_sched_work_end(b->sched);
                lock_build(b, mine);
        }
        close(TAKE_FD(lfd));
        view_unmount(TAKE_PTR(vpath), vm);
        if (r < 0) {
                kiln_blob_writer_abort(w);
                return r;
        }
        b->bl = kiln_xrealloc(b->bl, (b->n_bl + 1) * sizeof(*b->bl));
        b->bl[b->n_bl] = (struct blayer){ .dir = kiln_xstrdup(sp->upper), .w = w, .info = info };
        st->layers = kiln_xrealloc(st->layers, (st->n_layers + 1) * sizeof(*st->layers));
        st->layers[st->n_layers++] = (struct slayer){ .path = kiln_xstrdup(sp->upper), .bl = (int)b->n_bl };
        b->n_bl++;
        json_t *rootfs = json_object_get(st->cfg, "rootfs");
        json_array_append_new(json_object_get(rootfs, "diff_ids"), json_string(info.diff_id.str));
        history_add(b, st, created_by, false);
        return 0;
}

/* ---- stages ---- */

static void stage_clear(struct bstage *st)
{
        json_decref(st->cfg);
        json_decref(st->args);
        free(st->ckey);
        json_decref(st->onbuild);
        for (size_t i = 0; i < st->n_layers; i++) {
                if (st->layers[i].bl < 0)
                        kiln_descriptor_clear(&st->layers[i].desc);
                free(st->layers[i].path);
        }
        free(st->layers);
        *st = (struct bstage){ 0 };
}

/* The stage's starting point from a stored image. */
/*
 * A base without PATH in its Env gets the default one appended, as Docker's
 * builder and buildah (imagebuilder's FromImage) do: RUN steps and the
 * image's containers then find their commands.
 */
static void env_default_path(struct bstage *st)
{
        json_t *c = json_object_get(st->cfg, "config");
        json_t *env = json_object_get(c, "Env");
        size_t i;
        json_t *v;
        json_array_foreach(env, i, v) {
                if (json_is_string(v) && kiln_startswith(json_string_value(v), "PATH="))
                        return;
        }
        if (!json_is_array(env)) {
                env = json_array();
                json_object_set_new(c, "Env", env);
        }
        json_array_append_new(env, json_string("PATH=" KILN_BUILD_DEFAULT_PATH));
}

static int stage_from_image(struct build *b, struct bstage *st, const char *name)
{
        _cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
        _cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
        _cleanup_(kiln_config_freep) struct kiln_config *c = NULL;
        int r = kiln_store_image_lookup(b->s, name, &img, b->err);
        if (r == -KILN_ENOTFOUND)
                /* until kiln has a registry client (the distribution issue) */
                return kiln_err(b->err, r, "no such image: %s (kiln does not pull images yet: "
                                "kiln import or kiln build it first)", name);
        if (r >= 0)
                r = kiln_store_image_load(b->s, img, &m, &c, b->err);
        if (r < 0)
                return r;
        if (m->n_layers != c->n_diff_ids)
                return kiln_err(b->err, -KILN_ECORRUPT, "image %s: %zu layers but %zu diff_ids", name,
                                m->n_layers, c->n_diff_ids);
        st->layers = kiln_xcalloc(m->n_layers + 1, sizeof(*st->layers));
        for (size_t i = 0; i < m->n_layers; i++) {
                char *path = NULL;
                r = kiln_store_layer_unpack(b->s, &m->layers[i], &c->diff_ids[i], &path, b->err);
                if (r < 0)
                        return r;
                kiln_descriptor_copy(&st->layers[i].desc, &m->layers[i]);
                st->layers[i].path = path;
                st->layers[i].bl = -1;
                st->n_layers++;
        }
        st->cfg = json_deep_copy(c->json);
        st->ckey = bcache_key("FROM", img->manifest_digest.str); /* build cache */
        /* what the base's ONBUILD triggers were for is not inherited */
        json_t *cc = json_object_get(st->cfg, "config");
        if (json_is_object(cc))
                json_object_del(cc, "OnBuild");
        else
                json_object_set_new(st->cfg, "config", json_object());
        env_default_path(st);
        json_t *rootfs = json_object_get(st->cfg, "rootfs");
        if (!json_is_object(rootfs)) {
                rootfs = json_object();
                json_object_set_new(st->cfg, "rootfs", rootfs);
        }
        json_object_set_new(rootfs, "type", json_string("layers"));
        if (!json_is_array(json_object_get(rootfs, "diff_ids")))
                json_object_set_new(rootfs, "diff_ids", json_array());
        if (c->config && json_array_size(json_object_get(c->config, "OnBuild")))
                st->onbuild = json_deep_copy(json_object_get(c->config, "OnBuild"));
        return 0;
}

static void stage_scratch(struct bstage *st)
{
        st->cfg = json_pack("{s:s, s:s, s:{s:[s]}, s:{s:s, s:[]}, s:[]}", "architecture", kiln_platform_arch(), "os",
                            kiln_platform_os(), "config", "Env",
                            "PATH=" KILN_BUILD_DEFAULT_PATH, "rootfs", "type",
                            "layers", "diff_ids", "history");
        st->ckey = bcache_key("FROM", "scratch"); /* build cache */
}

/* Start a stage from another (built) one: the same layers, a copy of its config. */
static void stage_from_stage(struct bstage *st, const struct bstage *from)
{
        st->cfg = json_deep_copy(from->cfg);
        st->layers = kiln_xcalloc(from->n_layers + 1, sizeof(*st->layers));
        for (size_t i = 0; i < from->n_layers; i++) {
                st->layers[i].bl = from->layers[i].bl;
                if (from->layers[i].bl < 0)
                        kiln_descriptor_copy(&st->layers[i].desc, &from->layers[i].desc);
                st->layers[i].path = from->layers[i].path ? kiln_xstrdup(from->layers[i].path) : NULL;
        }
        st->n_layers = from->n_layers;
        st->ckey = from->ckey ? kiln_xstrdup(from->ckey) : NULL; /* build cache */
}

/* An earlier stage named by name or index, or -1. */
static int find_stage(struct build *b, const char *name, size_t before)
{
        return build_find_stage(b->df, name, before);
}

static int build_stage(struct build *b, size_t idx);

/* ---- metadata instructions ---- */

static json_t *cfg_obj(struct bstage *st)
{
        return json_object_get(st->cfg, "config");
}

static json_t *strv_json(char *const *v)
{
        json_t *a = json_array();
        for (size_t i = 0; v && v[i]; i++)
                json_array_append_new(a, json_string(v[i]));
        return a;
}

static json_t *sub_object(json_t *c, const char *key)
{
        json_t *o = json_object_get(c, key);
        if (!json_is_object(o)) {
                o = json_object();
                json_object_set_new(c, key, o);
        }
        return o;
}

static void env_set(struct bstage *st, const char *k, const char *v)
{
        json_t *c = cfg_obj(st);
        json_t *env = json_object_get(c, "Env");
        if (!json_is_array(env)) {
                env = json_array();
                json_object_set_new(c, "Env", env);
        }
        size_t nl = strlen(k), i;
        json_t *e;
        _cleanup_free_ char *kv = kiln_xasprintf("%s=%s", k, v);
        json_array_foreach(env, i, e) {
                const char *s = json_string_value(e);
                if (s && !strncmp(s, k, nl) && s[nl] == '=') {
                        json_array_set_new(env, i, json_string(kv));
                        return;
                }
        }
        json_array_append_new(env, json_string(kv));
}

/* SHELL of the stage, or ["/bin/sh","-c"] (caller frees) */
static char **stage_shell(struct bstage *st)
{
        json_t *sh = json_object_get(cfg_obj(st), "Shell");
        char **v = NULL;
        size_t i;
        json_t *e;
        if (json_array_size(sh)) {
                json_array_foreach(sh, i, e) kiln_strv_push(&v, json_string_value(e) ?: "");
        } else {
                kiln_strv_push(&v, "/bin/sh");
                kiln_strv_push(&v, "-c");
        }
        return v;
}

/* Cmd/Entrypoint value: the argv, or SHELL + the string */
static json_t *command_json(struct bstage *st, const struct kiln_df_instruction *in)
{
        if (!in->prepend_shell)
                return strv_json(in->cmdline);
        _cleanup_strv_free_ char **v = stage_shell(st);
        kiln_strv_push(&v, in->cmdline && in->cmdline[0] ? in->cmdline[0] : "");
        return strv_json(v);
}

/* "KEY k=v k2=v2" with the expanded values (history and progress) */
static int do_metadata(struct build *b, struct bstage *st, struct kiln_df_instruction *in)
{
        json_t *c = cfg_obj(st);
        switch (in->cmd) {
        case KILN_DF_ENV:
                for (size_t k = 0; k < in->n_kvs; k++)
                        env_set(st, in->kvs[k].key, in->kvs[k].value);
                break;
        case KILN_DF_LABEL: {
                json_t *l = sub_object(c, "Labels");
                for (size_t k = 0; k < in->n_kvs; k++)
                        json_object_set_new(l, in->kvs[k].key, json_string(in->kvs[k].value));
                break;
        }
        case KILN_DF_USER:
                json_object_set_new(c, "User", json_string(in->value));
                break;
        case KILN_DF_STOPSIGNAL:
                json_object_set_new(c, "StopSignal", json_string(in->value));
                break;
        case KILN_DF_MAINTAINER:
                json_object_set_new(st->cfg, "author", json_string(in->value));
                break;
        case KILN_DF_EXPOSE: {
                json_t *p = sub_object(c, "ExposedPorts");
                for (size_t k = 0; in->list && in->list[k]; k++) {
                        _cleanup_free_ char *port = strchr(in->list[k], '/')
                                                            ? kiln_xstrdup(in->list[k])
                                                            : kiln_xasprintf("%s/tcp", in->list[k]);
                        json_object_set_new(p, port, json_object());
                }
                break;
        }
        case KILN_DF_VOLUME: {
                json_t *v = sub_object(c, "Volumes");
                for (size_t k = 0; in->list && in->list[k]; k++)
                        json_object_set_new(v, in->list[k], json_object());
                break;
        }
        case KILN_DF_CMD:
                json_object_set_new(c, "Cmd", command_json(st, in));
                st->cmd_set = true;
                break;
        case KILN_DF_ENTRYPOINT:
                if (in->cmdline)
                        json_object_set_new(c, "Entrypoint", command_json(st, in));
                else
                        json_object_del(c, "Entrypoint");
                if (!st->cmd_set)
                        json_object_del(c, "Cmd");
                break;
        case KILN_DF_SHELL:
                json_object_set_new(c, "Shell", strv_json(in->cmdline));
                break;
        case KILN_DF_ONBUILD: {
                json_t *ob = json_object_get(c, "OnBuild");
                if (!json_is_array(ob)) {
                        ob = json_array();
                        json_object_set_new(c, "OnBuild", ob);
                }
                json_array_append_new(ob, json_string(in->expression));
                break;
        }
        case KILN_DF_HEALTHCHECK: {
                const struct kiln_df_health *h = in->health;
                json_t *hc = json_object();
                json_object_set_new(hc, "Test", strv_json(h->test));
                if (h->interval_ns)
                        json_object_set_new(hc, "Interval", json_integer(h->interval_ns));
                if (h->timeout_ns)
                        json_object_set_new(hc, "Timeout", json_integer(h->timeout_ns));
                if (h->start_period_ns)
                        json_object_set_new(hc, "StartPeriod", json_integer(h->start_period_ns));
                if (h->start_interval_ns)
                        json_object_set_new(hc, "StartInterval", json_integer(h->start_interval_ns));
                if (h->retries)
                        json_object_set_new(hc, "Retries", json_integer(h->retries));
                json_object_set_new(c, "Healthcheck", hc);
                break;
        }
        default:
                return kiln_err(b->err, -EINVAL, "internal: not a metadata instruction");
        }
        if (!b->o->docker_format) { /* format.c: buildah's warning, dropped at the end */
                json_t *v = in->cmd == KILN_DF_SHELL ? json_incref(json_object_get(c, "Shell"))
                                                     : json_string(in->expression ? in->expression : "");
                _cleanup_free_ char *w = build_oci_warning(kiln_df_cmd_name(in->cmd), v);
                json_decref(v);
                if (w)
                        progress(b, "WARN: %s\n", w);
        }
        _cleanup_free_ char *by = build_history_nop(in); /* history.c: buildah's text */
        history_add(b, st, by, true);
        return 0;
}

/* ---- WORKDIR ---- */

static void workdir_owner(int rootfd, const char *user, uid_t *ret_uid, gid_t *ret_gid);

static int do_workdir(struct build *b, struct bstage *st, struct kiln_df_instruction *in)
{
        _cleanup_free_ char *wd = abs_in_stage(st, in->value);
        json_object_set_new(cfg_obj(st), "WorkingDir", json_string(wd));
        struct step sp;
        int r = step_begin(b, st, &sp);
        if (r >= 0) {
                _cleanup_close_ int rootfd = open(sp.merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                uid_t uid = 0;
                gid_t gid = 0;
                if (rootfd >= 0)
                        workdir_owner(rootfd, json_string_value(json_object_get(cfg_obj(st), "User")), &uid, &gid);
                r = rootfd < 0 ? -errno : build_mkdir_in_root(rootfd, wd, uid, gid);
                if (r < 0)
                        kiln_err(b->err, r, "%s: %s", wd, kiln_strerror(r));
        }
        if (r >= 0) {
                _cleanup_free_ char *by = build_history_nop(in);
                r = step_end(b, st, &sp, true, by);
        }
        step_done(&sp);
        return r;
}

/* ---- RUN ---- */

/* RUN --mount from=: a stage (built first) or an image, mounted read-only */
struct run_from {
        struct build *b;
        size_t stage_idx;
        struct kiln_error *mine; /* while waiting for a cache mount's lock */
};

static void run_wait_begin(void *ud)
{
        struct run_from *rf = ud;
        rf->mine = unlock_build(rf->b);
}

static void run_wait_end(void *ud)
{
        struct run_from *rf = ud;
        lock_build(rf->b, rf->mine);
}

static int run_from_root(void *ud, const char *from, char **ret_path, bool *ret_mounted, struct kiln_error *err)
{
        struct run_from *rf = ud;
        struct build *b = rf->b;
        (void)err; /* b->err is the same */
        struct bstage tmpst = { 0 };
        struct bstage *fromst;
        int r, j = find_stage(b, from, rf->stage_idx);
        if (j >= 0) {
                r = build_stage(b, (size_t)j);
                fromst = &b->stages[j];
        } else {
                r = stage_from_image(b, &tmpst, from);
                fromst = &tmpst;
        }
        if (r >= 0)
                r = view_mount(b, fromst, ret_path, ret_mounted);
        stage_clear(&tmpst);
        return r;
}

static void run_warn(void *ud, const char *msg)
{
        progress(ud, "warning: %s\n", msg);
}

static int do_run(struct build *b, struct bstage *st, struct kiln_df_instruction *in)
{
        unsigned sn = b->step; /* its progress step (a --mount=from may build a stage) */
        for (size_t k = 0; k < in->n_flags; k++)
                if (strcmp(in->flags[k].name, "network") && strcmp(in->flags[k].name, "mount"))
                        return kiln_err(b->err, -KILN_EUNSUPPORTED, "RUN --%s is not supported yet",
                                        in->flags[k].name);
        enum kiln_build_network netmode = b->o->network;
        const char *net = kiln_df_flag_value(in, "network");
        if (net && build_network_parse(net, &netmode) < 0)
                return kiln_err(b->err, -EINVAL, "RUN --network=%s: expected none, host or default", net);

        _cleanup_strv_free_ char **argv = NULL;
        /* heredoc.c: a "#!" heredoc is a script file on /dev/pipes */
        __attribute__((cleanup(build_mount_req_clear))) struct kiln_mount_req hd_mount = { 0 };
        if (in->n_heredocs && in->prepend_shell) {
                _cleanup_strv_free_ char **sh = stage_shell(st);
                _cleanup_free_ char *hdir = new_dir(b, "heredoc");
                int r = hdir ? build_run_heredoc_argv(sh, in, hdir, &argv, &hd_mount, b->err)
                             : kiln_err(b->err, -errno, "build: mkdir: %s", strerror(errno));
                if (r < 0)
                        return r;
        } else if (in->prepend_shell) {
                argv = stage_shell(st);
                kiln_strv_push(&argv, in->cmdline && in->cmdline[0] ? in->cmdline[0] : "");
        } else {
                for (size_t k = 0; in->cmdline && in->cmdline[k]; k++)
                        kiln_strv_push(&argv, in->cmdline[k]);
        }
        if (!argv || !argv[0])
                return kiln_err(b->err, -EINVAL, "RUN: no command specified");
        _cleanup_free_ char *created_by = NULL;
        if (in->n_heredocs) { /* the command with its bodies (buildah has no heredocs) */
                struct kiln_buf by = KILN_BUF_INIT;
                for (size_t k = 0; argv[k]; k++)
                        kiln_buf_printf(&by, "%s%s", k ? " " : "", argv[k]);
                created_by = kiln_buf_steal(&by);
        } else /* history.c: buildah's text */
                created_by = build_history_run(in, st->args, json_object_get(cfg_obj(st), "Env"));

        /* the ARGs as environment, unless ENV sets the same name */
        _cleanup_strv_free_ char **env = NULL;
        const char *key;
        json_t *v;
        json_object_foreach(st->args, key, v) {
                if (json_is_string(v) && !env_get(st->cfg, key))
                        kiln_strv_push_take(&env, kiln_xasprintf("%s=%s", key, json_string_value(v)));
        }
        /* Docker's predefined proxy ARGs: given with --build-arg, they reach
         * RUN without an ARG line (and stay out of the cache key) */
        json_object_foreach(b->build_args, key, v) {
                if (build_is_proxy_arg(key) && !json_object_get(st->args, key) && !env_get(st->cfg, key))
                        kiln_strv_push_take(&env, kiln_xasprintf("%s=%s", key, json_string_value(v)));
        }

        struct step sp;
        int r = step_begin(b, st, &sp);
        if (r < 0) {
                step_done(&sp);
                return r;
        }
        const char *wd = json_string_value(json_object_get(cfg_obj(st), "WorkingDir"));
        /* mount points the runtime makes in a rootfs that lacks them are
         * not the RUN's changes */
        static const char *const mps[] = { "proc", "dev", "sys" };
        bool had[3];
        {
                _cleanup_close_ int rootfd = open(sp.merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                for (size_t k = 0; k < 3; k++) {
                        struct stat sb;
                        had[k] = rootfd >= 0 && fstatat(rootfd, mps[k], &sb, AT_SYMLINK_NOFOLLOW) == 0;
                }
                if (rootfd >= 0 && wd && *wd) {
                        uid_t uid;
                        gid_t gid;
                        workdir_owner(rootfd, json_string_value(json_object_get(cfg_obj(st), "User")), &uid, &gid);
                        build_mkdir_in_root(rootfd, wd, uid, gid);
                }
        }
        /* RUN --mount (lib/build/runmount.c): sources and mount points, its
         * temporaries in the step's own dir (RUNs of stages at once would
         * clash over the same names in the build's tmp) */
        struct run_from rf = { b, (size_t)(st - b->stages), NULL };
        _cleanup_free_ char *mtmp = kiln_xasprintf("%s/mounts", sp.dir);
        if (mkdir(mtmp, 0700) < 0) {
                r = kiln_err(b->err, -errno, "build: mkdir: %s", strerror(errno));
                step_done(&sp);
                return r;
        }
        struct kiln_runmount_env me = {
                .store_root = kiln_store_root(b->s), .tmp = mtmp, .ctx = b->ctx, .secrets = b->o->secrets,
                .escape = b->df->escape, .workdir = wd, .from_root = run_from_root, .ud = &rf,
                .wait_begin = run_wait_begin, .wait_end = run_wait_end,
        };
        struct kiln_runmounts *rm = NULL;
        r = kiln_runmounts_setup(&me, in, sp.merged, &rm, b->err);
        if (r < 0) {
                step_done(&sp);
                return r;
        }
        char id[40];
        snprintf(id, sizeof(id), "kiln-build-%d-%u", (int)getpid(), sn); /* this step's own number */
        /* the network (runnet.c); on the bridge, /etc/hosts and resolv.conf
         * are bind-mounted: never in the layer */
        char hostname[13];
        snprintf(hostname, sizeof(hostname), "%.12s", id); /* the spec's default hostname */
        struct build_runnet rn;
        r = build_runnet_setup(b->s, netmode, sp.dir, hostname, &b->net_fallback, run_warn, b, &rn, b->err);
        if (r >= 0 && rn.net) {
                r = kiln_runmounts_add_file(rm, sp.merged, rn.hosts_path, "/etc/hosts", b->err);
                if (r >= 0)
                        r = kiln_runmounts_add_file(rm, sp.merged, rn.resolv_path, "/etc/resolv.conf", b->err);
        }
        if (r < 0) {
                build_runnet_done(&rn);
                kiln_runmounts_clean_upper(rm, sp.upper);
                kiln_runmounts_free(rm);
                step_done(&sp);
                return r;
        }
        char *const none_ep[] = { (char *)"", NULL };
        struct kiln_run_opts ro = {
                .id = id,
                .env = env,
                .workdir = wd && *wd ? wd : "/",
                .user = json_string_value(json_object_get(cfg_obj(st), "User")),
                .entrypoint = none_ep,
                .cmd = argv,
                .netns = rn.netns,
                .netns_path = rn.net ? rn.net->netns_path : NULL,
        };
        /* the RUN --mount mounts, and a "#!" heredoc's script after them */
        size_t n_rm = 0;
        const struct kiln_mount_req *rmr = kiln_runmounts_reqs(rm, &n_rm);
        _cleanup_free_ struct kiln_mount_req *all = kiln_xcalloc(n_rm + 1, sizeof(*all));
        if (n_rm)
                memcpy(all, rmr, n_rm * sizeof(*all));
        if (hd_mount.type)
                all[n_rm++] = hd_mount;
        ro.mounts = n_rm ? all : NULL;
        ro.n_mounts = n_rm;
        if (ro.user && !*ro.user)
                ro.user = NULL;
        json_t *spec = NULL;
        int status = 0;
        r = kiln_spec_generate(cfg_obj(st), &ro, sp.merged, &spec, b->err);
        if (r >= 0) {
                size_t slen;
                _cleanup_free_ char *text = kiln_json_dump(spec, &slen);
                json_decref(spec);
                _cleanup_close_ int bfd = open(sp.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                r = bfd < 0 ? -errno : kiln_fs_write_replace(bfd, "config.json", text, slen, 0600);
                if (r < 0)
                        kiln_err(b->err, r, "write config.json: %s", kiln_strerror(r));
        }
        if (r >= 0) {
                _cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
                /* the output goes to the step's progress (progress.c) */
                int out = devnull;
                if (kiln_progress_get_mode(b->prog) != KILN_PROGRESS_QUIET &&
                    kiln_progress_pipe_open(b->prog, sn, &out) < 0)
                        out = devnull;
                struct kiln_rt_create_opts co = KILN_RT_CREATE_OPTS_INIT;
                co.bundle = sp.dir;
                co.stdin_fd = devnull;
                co.stdout_fd = out;
                co.stderr_fd = out;
                co.kill_on_signal = true; /* Ctrl-C ends the build, as docker build */
                if (b->sched) { /* stages on threads: through a helper process (parallel.c) */
                        struct kiln_error *mine = b->err;
                        r = build_sched_run_container(b->sched, b->state_root, id, &co, &status, mine);
                        b->err = mine;
                } else {
                        kiln_rt_delete(b->state_root, id, true, NULL);
                        kiln_store_db_suspend(b->s);
                        r = kiln_rt_run(b->state_root, id, &co, false, &status, b->err);
                        int r2 = kiln_store_db_resume(b->s, r < 0 ? NULL : b->err);
                        kiln_rt_delete(b->state_root, id, true, NULL);
                        if (r >= 0)
                                r = r2;
                }
                kiln_progress_pipe_close(b->prog, sn); /* the container is gone: all read */
        }
        build_runnet_done(&rn); /* the address and namespace go before anything else */
        if (r >= 0 && status != 0)
                r = kiln_err(b->err, -KILN_EFORMAT, "process \"%s\" did not complete successfully: exit code: %d",
                             created_by, status);
        kiln_runmounts_clean_upper(rm, sp.upper);
        kiln_runmounts_free(rm);
        if (r >= 0) {
                for (size_t k = 0; k < 3; k++) {
                        if (had[k])
                                continue;
                        _cleanup_close_ int ufd = open(sp.upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (ufd >= 0)
                                unlinkat(ufd, mps[k], AT_REMOVEDIR); /* only when empty */
                }
                r = step_end(b, st, &sp, false, created_by);
        }
        step_done(&sp);
        return r;
}

/* ---- COPY / ADD ---- */

/* name or number in /etc/passwd or /etc/group of the rootfs: field 2 (and 3) */
static int lookup_id(int rootfd, const char *file, const char *name, uint32_t *ret_id, uint32_t *ret_gid)
{
        _cleanup_close_ int fd = kiln_fs_open_in_root(rootfd, file, O_RDONLY, 0);
        if (fd < 0)
                return -ENOENT;
        _cleanup_free_ char *data = NULL;
        size_t len;
        if (kiln_fs_read_fd(fd, 4 << 20, &data, &len) < 0)
                return -EIO;
        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *f[4] = { 0 };
                char *p = line;
                for (int i = 0; i < 4 && p; i++) {
                        f[i] = p;
                        p = strchr(p, ':');
                        if (p)
                                *p++ = 0;
                }
                if (f[0] && f[2] && !strcmp(f[0], name)) {
                        *ret_id = (uint32_t)strtoul(f[2], NULL, 10);
                        if (ret_gid)
                                *ret_gid = f[3] ? (uint32_t)strtoul(f[3], NULL, 10) : *ret_id;
                        return 0;
                }
        }
        return -ENOENT;
}

static bool is_number(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

static int parse_chown(struct build *b, int rootfd, const char *spec, uid_t *ret_uid, gid_t *ret_gid)
{
        _cleanup_free_ char *u = kiln_xstrdup(spec);
        char *g = strchr(u, ':');
        if (g)
                *g++ = 0;
        uint32_t uid = 0, gid = 0;
        if (is_number(u)) {
                uid = gid = (uint32_t)strtoul(u, NULL, 10);
        } else if (lookup_id(rootfd, "/etc/passwd", u, &uid, &gid) < 0) {
                return kiln_err(b->err, -KILN_ENOTFOUND, "--chown=%s: unable to find user %s", spec, u);
        }
        if (g) {
                if (is_number(g))
                        gid = (uint32_t)strtoul(g, NULL, 10);
                else if (lookup_id(rootfd, "/etc/group", g, &gid, NULL) < 0)
                        return kiln_err(b->err, -KILN_ENOTFOUND, "--chown=%s: unable to find group %s", spec, g);
        }
        *ret_uid = uid;
        *ret_gid = gid;
        return 0;
}

/* the gid of the passwd line whose uid is uid */
static int lookup_gid_of_uid(int rootfd, uint32_t uid, uint32_t *ret_gid)
{
        _cleanup_close_ int fd = kiln_fs_open_in_root(rootfd, "/etc/passwd", O_RDONLY, 0);
        _cleanup_free_ char *data = NULL;
        size_t len;
        if (fd < 0 || kiln_fs_read_fd(fd, 4 << 20, &data, &len) < 0)
                return -ENOENT;
        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                unsigned long u, g;
                if (sscanf(line, "%*[^:]:%*[^:]:%lu:%lu:", &u, &g) == 2 && u == uid) {
                        *ret_gid = (uint32_t)g;
                        return 0;
                }
        }
        return -ENOENT;
}

/*
 * The owner of the directories WORKDIR creates: the stage's USER, as
 * BuildKit and buildah do. A name from the image's /etc/passwd (and
 * /etc/group); a number alone gets the group of its passwd line, else 0.
 * An unknown name (RUN would fail on it) leaves them root's.
 */
static void workdir_owner(int rootfd, const char *user, uid_t *ret_uid, gid_t *ret_gid)
{
        *ret_uid = 0;
        *ret_gid = 0;
        if (!user || !*user)
                return;
        _cleanup_free_ char *u = kiln_xstrdup(user);
        char *g = strchr(u, ':');
        if (g)
                *g++ = 0;
        uint32_t uid = 0, gid = 0;
        if (is_number(u)) {
                uid = (uint32_t)strtoul(u, NULL, 10);
                if (lookup_gid_of_uid(rootfd, uid, &gid) < 0)
                        gid = 0;
        } else if (lookup_id(rootfd, "/etc/passwd", u, &uid, &gid) < 0)
                return;
        if (g) {
                if (is_number(g))
                        gid = (uint32_t)strtoul(g, NULL, 10);
                else if (lookup_id(rootfd, "/etc/group", g, &gid, NULL) < 0)
                        return;
        }
        *ret_uid = uid;
        *ret_gid = gid;
}

struct skip_ctx {
        struct kiln_buildctx *ctx; /* NULL: a --from tree (no ignore rules) */
        const char *base;          /* canonical context path of the source */
        const struct kiln_dockerignore *ex; /* --exclude, relative to the source */
};

/* --exclude: is rel (relative to its source) left out? A directory that
 * an exception ("!dir/keep") may re-enter is walked, not skipped. */
static bool exclude_match(const struct kiln_dockerignore *ex, const char *rel, bool is_dir)
{
        if (!ex || !kiln_dockerignore_matches(ex, rel))
                return false;
        return !is_dir || !kiln_dockerignore_walk_excluded_dir(ex, rel);
}

static bool ctx_skip(void *ud, const char *rel, bool is_dir)
{
        struct skip_ctx *sc = ud;
        if (exclude_match(sc->ex, rel, is_dir))
                return true;
        if (!sc->ctx)
                return false;
        _cleanup_free_ char *full = strcmp(sc->base, ".") ? kiln_xasprintf("%s/%s", sc->base, rel) : kiln_xstrdup(rel);
        return kiln_buildctx_is_excluded(sc->ctx, full, is_dir) == KILN_BUILDCTX_EXCLUDED;
}

/* kiln_copy_tree_at without the scheduler's lock (stages on threads): it
 * writes the stage's own rootfs and reads the context or a finished
 * stage's read-only view; its skip filters only read the ignore rules. */
static int copy_tree(struct build *b, int sfd, const struct stat *st, bool contents, int dfd, const char *name,
                     struct kiln_copy_opts *co)
{
        struct kiln_error *mine = unlock_build(b);
        if (b->sched)
                build_sched_work_begin(b->sched);
        int r = kiln_copy_tree_at(sfd, st, contents, dfd, name, co, NULL, mine);
        if (b->sched)
                build_sched_work_end(b->sched);
        lock_build(b, mine);
        return r;
}

/* Copy one source object to dest (absolute, cleaned) in the rootfs. */
static int copy_one(struct build *b, int rootfd, int sfd, const char *shown, const char *dest, bool dest_dir,
                    struct kiln_copy_opts *co)
{
        struct stat st;
        if (fstat(sfd, &st) < 0)
                return kiln_err(b->err, -errno, "%s: %s", shown, strerror(errno));
        int r;
        if (S_ISDIR(st.st_mode)) {
                /* a directory's contents go into dest */
                if (!strcmp(dest, "/"))
                        return copy_tree(b, sfd, &st, true, rootfd, ".", co);
                const char *base;
                int pfd = kiln_fs_open_parent_in_root(rootfd, dest + 1, true, &base);
                if (pfd < 0)
                        return kiln_err(b->err, pfd, "%s: %s", dest, kiln_strerror(pfd));
                r = copy_tree(b, sfd, &st, true, pfd, base, co);
                close(pfd);
                return r;
        }
        const char *sbase = strrchr(shown, '/') ? strrchr(shown, '/') + 1 : shown;
        if (!dest_dir && strcmp(dest, "/")) {
                _cleanup_close_ int dfd = kiln_fs_open_in_root(rootfd, dest + 1, O_RDONLY | O_DIRECTORY, 0);
                dest_dir = dfd >= 0;
        }
        _cleanup_free_ char *target = dest_dir || !strcmp(dest, "/")
                                              ? kiln_xasprintf("%s/%s", strcmp(dest, "/") ? dest + 1 : "", sbase)
                                              : kiln_xstrdup(dest + 1);
        const char *t = target[0] == '/' ? target + 1 : target;
        const char *base;
        int pfd = kiln_fs_open_parent_in_root(rootfd, t, true, &base);
        if (pfd < 0)
                return kiln_err(b->err, pfd, "%s: %s", dest, kiln_strerror(pfd));
        r = copy_tree(b, sfd, &st, false, pfd, base, co);
        close(pfd);
        return r;
}

/* A COPY/ADD source after expansion: a context path, a path in the --from
 * tree, or a URL; with --parents, what is kept of its path under dest. */
struct csrc {
        char *path;
        char *url;
        char *kept;
};

static void csrcs_free(struct csrc *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].path);
                free(v[i].url);
                free(v[i].kept);
        }
        free(v);
}

static bool src_is_dir(struct build *b, int srcroot, const char *path)
{
        _cleanup_close_ int fd = -1;
        struct stat sb;
        if (srcroot >= 0) {
                while (*path == '/')
                        path++;
                fd = *path ? kiln_fs_open_in_root(srcroot, path, O_PATH, 0) : fcntl(srcroot, F_DUPFD_CLOEXEC, 3);
        } else if (kiln_buildctx_resolve(b->ctx, path, 0, &fd, NULL, NULL) < 0) {
                return false;
        }
        return fd >= 0 && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The sources of a COPY/ADD: wildcards expanded (in the context or in
 * srcroot, the --from tree), a wildcard's matches that are not
 * directories dropped when --exclude names them (relative to the
 * directory the wildcard is matched in: "--exclude=*.txt hom*" leaves
 * home.txt out, as the Dockerfile reference shows; a matched directory is
 * kept and --exclude applies inside it, as BuildKit's tests show), the
 * --parents part worked out. */
static int copy_sources(struct build *b, struct kiln_df_instruction *in, int srcroot,
                        const struct kiln_dockerignore *ex, struct csrc **ret, size_t *ret_n)
{
        bool add = in->cmd == KILN_DF_ADD;
        bool parents = kiln_df_flag_bool(in, "parents");
        struct csrc *v = NULL;
        size_t n = 0;
        int r = 0;
        for (size_t k = 0; r >= 0 && in->sources && in->sources[k]; k++) {
                const char *src = in->sources[k];
                if (add && build_is_http_url(src)) {
                        v = kiln_xrealloc(v, (n + 1) * sizeof(*v));
                        v[n++] = (struct csrc){ .url = kiln_xstrdup(src) };
                        continue;
                }
                _cleanup_free_ char *pat = NULL, *prefix = NULL;
                if (parents)
                        build_parents_split(src, &pat, &prefix);
                else
                        pat = kiln_xstrdup(src);
                _cleanup_free_ char *cabs = kiln_buildctx_clean_abs(pat);
                const char *clean = cabs[1] ? cabs + 1 : ".";
                bool wild = kiln_buildctx_has_wildcards(clean);
                size_t base_comps = build_glob_base_comps(clean);
                char **m = NULL;
                if (srcroot < 0) {
                        r = kiln_buildctx_glob(b->ctx, pat, 0, &m, b->err);
                } else if (wild) {
                        r = build_root_glob(srcroot, pat, &m, b->err);
                        if (r < 0)
                                kiln_err_prefix(b->err, r, "%s: ", src);
                } else {
                        kiln_strv_push(&m, cabs);
                }
                if (r < 0)
                        break;
                for (size_t i = 0; m && m[i]; i++) {
                        const char *rel = m[i][0] == '/' ? (m[i][1] ? m[i] + 1 : ".") : m[i];
                        if (wild && ex && kiln_dockerignore_matches(ex, build_path_skip(rel, base_comps)) &&
                            !src_is_dir(b, srcroot, m[i]))
                                continue;
                        const char *kept = NULL;
                        if (parents) {
                                kept = build_parents_kept(prefix, rel);
                                if (!kept)
                                        continue;
                        }
                        v = kiln_xrealloc(v, (n + 1) * sizeof(*v));
                        v[n++] = (struct csrc){ .path = kiln_xstrdup(m[i]), .kept = kept ? kiln_xstrdup(kept) : NULL };
                }
                kiln_strv_free(m);
        }
        if (r < 0) {
                csrcs_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static bool exclude_skip(void *ud, size_t i, const char *rel, bool is_dir)
{
        (void)i;
        return exclude_match(ud, rel, is_dir);
}

/* The context sources' paths of a source list (borrowed; free the vector). */
static char **ctx_paths(const struct csrc *v, size_t n)
{
        char **p = kiln_xcalloc(n + 1, sizeof(char *));
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                if (v[i].path)
                        p[k++] = v[i].path;
        return p;
}

/* history as docker's builder writes it: file:/dir:/multi: and a content
 * hash of the sources (context files, downloads, heredoc bodies) */
static char *copy_history_what(struct build *b, struct kiln_df_instruction *in, const char *from,
                               const struct csrc *srcs, size_t n, const struct kiln_digest *urls, size_t n_urls,
                               const struct kiln_dockerignore *ex)
{
        if (from) {
                struct kiln_buf wb = KILN_BUF_INIT;
                kiln_buf_printf(&wb, "--from=%s", from);
                for (size_t k = 0; k < n; k++)
                        kiln_buf_printf(&wb, " %s", srcs[k].path);
                return kiln_buf_steal(&wb);
        }
        if (!n) { /* heredocs only: a hash of their bodies */
                _cleanup_(kiln_hasher_freep) struct kiln_hasher *hh = kiln_hasher_new(KILN_DIGEST_SHA256);
                for (size_t k = 0; k < in->n_inline_sources; k++)
                        kiln_hasher_update(hh, in->inline_sources[k]->content, strlen(in->inline_sources[k]->content) + 1);
                struct kiln_digest d;
                kiln_hasher_final(hh, &d);
                return kiln_xasprintf("%s:%s", in->n_inline_sources > 1 ? "multi" : "file", kiln_digest_hex(&d));
        }
        if (n == 1 && n_urls == 1)
                return kiln_xasprintf("file:%s", kiln_digest_hex(&urls[0]));
        char h[KILN_BUILDCTX_HASH_MAX];
        _cleanup_free_ char **paths = ctx_paths(srcs, n);
        if (kiln_buildctx_hash_filtered(b->ctx, paths, ex ? exclude_skip : NULL, (void *)ex, h, NULL) < 0)
                snprintf(h, sizeof(h), "sha256:unknown");
        if (n_urls) { /* context files and downloads */
                _cleanup_(kiln_hasher_freep) struct kiln_hasher *hh = kiln_hasher_new(KILN_DIGEST_SHA256);
                kiln_hasher_update(hh, h, strlen(h) + 1);
                for (size_t k = 0; k < n_urls; k++)
                        kiln_hasher_update(hh, urls[k].str, strlen(urls[k].str) + 1);
                struct kiln_digest d;
                kiln_hasher_final(hh, &d);
                snprintf(h, sizeof(h), "%s", d.str);
        }
        const char *hex = strchr(h, ':') ? strchr(h, ':') + 1 : h;
        const char *kind = "multi";
        if (n == 1) {
                _cleanup_close_ int fd = -1;
                struct stat sb;
                kind = "file";
                if (kiln_buildctx_resolve(b->ctx, srcs[0].path, 0, &fd, NULL, NULL) >= 0 && fstat(fd, &sb) == 0 &&
                    S_ISDIR(sb.st_mode))
                        kind = "dir";
        }
        return kiln_xasprintf("%s:%s", kind, hex);
}

static int do_copy(struct build *b, struct bstage *st, struct kiln_df_instruction *in, size_t stage_idx)
{
        bool add = in->cmd == KILN_DF_ADD;
        const char *cmd = add ? "ADD" : "COPY";
        for (size_t k = 0; k < in->n_flags; k++) {
                const char *f = in->flags[k].name;
                if (strcmp(f, "from") && strcmp(f, "chown") && strcmp(f, "chmod") && strcmp(f, "link") &&
                    strcmp(f, "exclude") && strcmp(f, "parents") && strcmp(f, "checksum"))
                        return kiln_err(b->err, -KILN_EUNSUPPORTED, "%s --%s is not supported yet", cmd, f);
        }
        const char *from = kiln_df_flag_value(in, "from");
        const char *checksum = add ? kiln_df_flag_value(in, "checksum") : NULL;
        bool link = kiln_df_flag_bool(in, "link");
        for (size_t k = 0; in->sources && in->sources[k]; k++) {
                const char *src = in->sources[k];
                if (add && build_is_git_url(src))
                        return kiln_err(b->err, -KILN_EUNSUPPORTED, "ADD from git repositories is not supported");
                if (!add && build_is_http_url(src))
                        return kiln_err(b->err, -EINVAL, "source can't be a URL for COPY");
                if (checksum && !build_is_http_url(src))
                        return kiln_err(b->err, -EINVAL, "checksum can't be specified for non-HTTP(S) sources");
        }
        mode_t mode = 0;
        const char *chmod_s = kiln_df_flag_value(in, "chmod");
        if (chmod_s) {
                char *end;
                unsigned long m = strtoul(chmod_s, &end, 8);
                if (!*chmod_s || *end || m > 07777)
                        return kiln_err(b->err, -EINVAL, "--chmod=%s: only octal modes are supported yet", chmod_s);
                mode = (mode_t)m;
        }
        const char **exv = kiln_df_flag_values(in, "exclude");
        _cleanup_(kiln_dockerignore_freep) struct kiln_dockerignore *ex = NULL;
        int r = build_exclude_new(exv, &ex, b->err);
        free(exv);
        if (r < 0)
                return r;
        const char *destraw = in->dest;
        bool dest_dir = kiln_endswith(destraw, "/") || !strcmp(destraw, ".") || kiln_endswith(destraw, "/.");
        _cleanup_free_ char *dest = abs_in_stage(st, destraw);

        /* the source tree: the context or a stage / image mounted read-only */
        struct bstage tmpst = { 0 };
        struct bstage *fromst = NULL;
        _cleanup_free_ char *vpath = NULL;
        bool vm = false;
        _cleanup_close_ int srcroot = -1;
        /* declared before any goto: clang refuses a jump over a cleanup */
        _cleanup_close_ int rootfd = -1;
        struct csrc *srcs = NULL;
        size_t n = 0;
        struct kiln_digest *url_digests = NULL;
        size_t n_urls = 0;
        if (from) {
                int j = find_stage(b, from, stage_idx);
                if (j >= 0) {
                        r = build_stage(b, (size_t)j);
                        fromst = &b->stages[j];
                } else {
                        r = stage_from_image(b, &tmpst, from);
                        fromst = &tmpst;
                }
                if (r >= 0)
                        r = view_mount(b, fromst, &vpath, &vm);
                if (r >= 0) {
                        srcroot = open(vpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (srcroot < 0)
                                r = kiln_err(b->err, -errno, "%s: %s", vpath, strerror(errno));
                }
                if (r < 0)
                        goto out;
        }

        /* the sources: every match */
        r = copy_sources(b, in, srcroot, ex, &srcs, &n);
        if (r >= 0 && n + in->n_inline_sources > 1 && !dest_dir)
                r = kiln_err(b->err, -EINVAL,
                             "When using %s with more than one source file, the destination must be a directory and end with a /",
                             cmd);
        struct step sp = { 0 };
        struct kiln_copy_opts co = { .mode = mode };
        const char *chown_s = kiln_df_flag_value(in, "chown");
        if (r >= 0 && chown_s && link) {
                /* names are looked up in the stage's files, which a --link
                 * step does not otherwise see */
                _cleanup_free_ char *lpath = NULL;
                bool lm = false;
                r = view_mount(b, st, &lpath, &lm);
                if (r >= 0) {
                        _cleanup_close_ int lfd = open(lpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        r = lfd < 0 ? kiln_err(b->err, -errno, "%s: %s", lpath, strerror(errno))
                                    : parse_chown(b, lfd, chown_s, &co.uid, &co.gid);
                        view_unmount(TAKE_PTR(lpath), lm);
                }
        }
        if (r >= 0)
                r = link ? step_begin_link(b, &sp) : step_begin(b, st, &sp);
        if (r >= 0) {
                rootfd = open(sp.merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (rootfd < 0)
                        r = kiln_err(b->err, -errno, "%s: %s", sp.merged, strerror(errno));
        }
        if (r >= 0 && chown_s && !link)
                r = parse_chown(b, rootfd, chown_s, &co.uid, &co.gid);
        for (size_t k = 0; r >= 0 && k < n; k++) {
                _cleanup_close_ int sfd = -1;
                _cleanup_free_ char *canon = NULL, *kdest = NULL;
                struct skip_ctx sc = { NULL, NULL, ex };
                const char *shown = srcs[k].path;
                const char *tdest = dest;
                bool tdir = dest_dir;
                if (srcs[k].kept) { /* --parents: dest/<kept path> */
                        _cleanup_free_ char *j = kiln_xasprintf("%s/%s", dest, srcs[k].kept);
                        kdest = kiln_buildctx_clean_abs(j);
                        tdest = kdest;
                        tdir = false;
                }
                co.skip = ctx_skip;
                co.ud = &sc;
                if (srcs[k].url) { /* ADD URL (fetch.c): never extracted */
                        const struct build_download *d;
                        r = build_download(&b->dl, srcs[k].url, b->tmp, checksum, &d, b->err);
                        if (r < 0)
                                break;
                        url_digests = kiln_xrealloc(url_digests, (n_urls + 1) * sizeof(*url_digests));
                        url_digests[n_urls++] = d->digest;
                        _cleanup_free_ char *name = build_url_basename(srcs[k].url);
                        if (!name && dest_dir) {
                                r = kiln_err(b->err, -EINVAL, "%s: cannot determine a file name from the URL",
                                             srcs[k].url);
                                break;
                        }
                        sfd = open(d->path, O_PATH | O_CLOEXEC);
                        if (sfd < 0) {
                                r = kiln_err(b->err, -errno, "%s: %s", d->path, strerror(errno));
                                break;
                        }
                        co.skip = NULL;
                        r = copy_one(b, rootfd, sfd, name ? name : "__unnamed__", tdest, tdir, &co);
                        continue;
                }
                if (from) {
                        const char *p = srcs[k].path;
                        while (*p == '/')
                                p++;
                        sfd = *p ? kiln_fs_open_in_root(srcroot, p, O_PATH, 0) : dup(srcroot);
                        if (sfd < 0) {
                                r = kiln_err(b->err, sfd < 0 ? sfd : -errno, "%s: not found in %s", srcs[k].path, from);
                                break;
                        }
                } else {
                        r = kiln_buildctx_resolve(b->ctx, srcs[k].path, 0, &sfd, &canon, b->err);
                        if (r < 0)
                                break;
                        sc.ctx = b->ctx;
                        sc.base = canon;
                        if (add) { /* a local tar archive is extracted (add.c) */
                                r = build_add_archive(sfd, rootfd, tdest, chown_s != NULL, co.uid, co.gid, b->err);
                                if (r < 0)
                                        kiln_err_prefix(b->err, r, "%s: ", srcs[k].path);
                                if (r != 0)
                                        continue;
                        }
                }
                r = copy_one(b, rootfd, sfd, shown, tdest, tdir, &co);
        }
        /* COPY <<EOF: files of mode 0644 (heredoc.c), copied as context files */
        if (r >= 0 && in->n_inline_sources) {
                char *hdir = new_dir(b, "heredoc");
                if (!hdir)
                        r = kiln_err(b->err, -errno, "build: mkdir: %s", strerror(errno));
                co.skip = NULL;
                for (size_t k = 0; r >= 0 && k < in->n_inline_sources; k++) {
                        int sfd = -1;
                        r = build_inline_source(in->inline_sources[k], hdir, &sfd, b->err);
                        if (r >= 0)
                                r = copy_one(b, rootfd, sfd, in->inline_sources[k]->name, dest, dest_dir, &co);
                        if (sfd >= 0)
                                close(sfd);
                }
                free(hdir);
        }
        if (rootfd >= 0)
                close(TAKE_FD(rootfd));
        if (r >= 0) {
                _cleanup_free_ char *what = copy_history_what(b, in, from, srcs, n, url_digests, n_urls, ex);
                /* the destination as written (after expansion), as buildah */
                _cleanup_free_ char *by = kiln_xasprintf("/bin/sh -c #(nop) %s %s in %s ", cmd, what, destraw);
                r = step_end(b, st, &sp, false, by);
        }
        step_done(&sp);
out:
        csrcs_free(srcs, n);
        free(url_digests);
        if (vpath)
                view_unmount(TAKE_PTR(vpath), vm);
        stage_clear(&tmpst);
        return r;
}

/* ---- build cache (keys: cache.c; the table: lib/store/buildcache.c) ---- */

/* A step's outcome, recorded in the store once the build succeeded. */
struct cpending {
        char *key;
        bool hit;      /* only last_used changes */
        int bl;        /* the layer it made (index in b->bl) or -1 */
        char *history; /* its history entry (JSON) */
};

struct cstep {
        char *key;          /* this step's key; NULL: not cacheable */
        bool hit;           /* found in the cache (progress says CACHED) */
        bool skip;          /* its result is applied: run nothing */
        bool record;        /* record the outcome */
        json_t *hist;       /* cached history entry of a metadata step */
        size_t n_layers, n_hist;
        char *next_key;     /* COPY --link: the stage's key after the step (key does not chain it) */
};

/* Cached layers are unpacked (through the store) only when a step needs
 * them as a lowerdir. */
static int cache_unpack(struct build *b, struct bstage *st)
{
        json_t *ids = json_object_get(json_object_get(st->cfg, "rootfs"), "diff_ids");
        for (size_t i = 0; i < st->n_layers; i++) {
                struct slayer *l = &st->layers[i];
                if (l->path || l->bl >= 0)
                        continue;
                struct kiln_digest d;
                const char *id = json_string_value(json_array_get(ids, i));
                if (!id || kiln_digest_parse(id, &d, NULL) < 0)
                        return kiln_err(b->err, -KILN_ECORRUPT, "build cache: layer %zu has no diff_id", i);
                int r = kiln_store_layer_unpack(b->s, &l->desc, &d, &l->path, b->err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void put_json(struct kiln_buf *t, const char *tag, json_t *j)
{
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
        kiln_buf_printf(t, "%s:%zu:%s\n", tag, s ? strlen(s) : 0, s ? s : "");
        free(s);
}

/* COPY/ADD: what the step reads. Context sources: their content after
 * --exclude (the same hash as before these flags when none is given);
 * URLs: the --checksum, else the downloaded content's digest and
 * Last-Modified (downloaded now, once per build, and reused by the step);
 * --from: the stage's key or the image's manifest digest. --link: the
 * absolute destination, since the key does not chain the stage's (which
 * covers WORKDIR). 1: cacheable, 0: not, < 0: error. */
static int copy_key_text(struct build *b, struct bstage *st, struct kiln_df_instruction *in, size_t idx,
                         struct kiln_buf *t)
{
        if (kiln_df_flag_bool(in, "link")) {
                _cleanup_free_ char *d = abs_in_stage(st, in->dest);
                kiln_buf_printf(t, "link-dest:%zu:%s\n", strlen(d), d);
        }
        const char *from = kiln_df_flag_value(in, "from");
        if (!from) {
                const char **exv = kiln_df_flag_values(in, "exclude");
                _cleanup_(kiln_dockerignore_freep) struct kiln_dockerignore *ex = NULL;
                int r = build_exclude_new(exv, &ex, NULL);
                free(exv);
                struct csrc *srcs = NULL;
                size_t n = 0;
                struct kiln_error e = { 0 };
                struct kiln_error *saved = b->err;
                b->err = &e; /* a missing source: the step runs and reports it */
                if (r >= 0)
                        r = copy_sources(b, in, -1, ex, &srcs, &n);
                b->err = saved;
                if (r < 0)
                        return 0;
                _cleanup_free_ char **paths = ctx_paths(srcs, n);
                if (paths[0]) {
                        char h[KILN_BUILDCTX_HASH_MAX];
                        r = kiln_buildctx_hash_filtered(b->ctx, paths, ex ? exclude_skip : NULL, ex, h, NULL);
                        if (r >= 0)
                                kiln_buf_printf(t, "sources:%s\n", h);
                } else if (!n) {
                        r = -ENOENT; /* as before: nothing to copy is not cached */
                }
                const char *checksum = kiln_df_flag_value(in, "checksum");
                for (size_t k = 0; r >= 0 && k < n; k++) {
                        if (!srcs[k].url)
                                continue;
                        if (build_is_git_url(srcs[k].url)) { /* refused by the step */
                                csrcs_free(srcs, n);
                                return 0;
                        }
                        if (checksum && build_is_http_url(srcs[k].url)) {
                                kiln_buf_printf(t, "url:%zu:%s:checksum:%s\n", strlen(srcs[k].url), srcs[k].url,
                                                checksum);
                                continue;
                        }
                        const struct build_download *d;
                        r = build_download(&b->dl, srcs[k].url, b->tmp, NULL, &d, b->err);
                        if (r < 0) {
                                csrcs_free(srcs, n);
                                return r;
                        }
                        kiln_buf_printf(t, "url:%zu:%s:%s:%lld\n", strlen(srcs[k].url), srcs[k].url, d->digest.str,
                                        d->has_mtime ? (long long)d->mtime : -1LL);
                }
                csrcs_free(srcs, n);
                return r < 0 ? 0 : 1;
        }
        int j = find_stage(b, from, idx);
        if (j >= 0) {
                int r = build_stage(b, (size_t)j);
                if (r < 0)
                        return r;
                if (!b->stages[j].ckey)
                        return 0;
                kiln_buf_printf(t, "from-stage:%s\n", b->stages[j].ckey);
        } else {
                _cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
                if (kiln_store_image_lookup(b->s, from, &img, NULL) < 0)
                        return 0;
                kiln_buf_printf(t, "from-image:%s\n", img->manifest_digest.str);
        }
        return 1;
}

/* What a step's key covers besides its parent's key. 1: cacheable,
 * 0: not (the step runs and reports its own error), < 0: error. */
static int cache_step_text(struct build *b, struct bstage *st, struct kiln_df_instruction *in, size_t idx,
                           struct kiln_buf *t)
{
        bcache_instruction_text(t, in);
        /* a reproducible build's times are in what a step stores */
        if (b->o->has_source_date_epoch)
                kiln_buf_printf(t, "source-date-epoch:%lld\n", (long long)b->o->source_date_epoch);
        if (in->cmd == KILN_DF_RUN) {
                /* env, user, workdir, shell are in the config; ARGs are not */
                put_json(t, "config", cfg_obj(st));
                put_json(t, "args", st->args);
                /* the network: RUN --network= is among the flags above;
                 * kiln build --network counts for the RUN steps without it */
                if (!kiln_df_flag_value(in, "network"))
                        kiln_buf_printf(t, "network:%d\n", (int)b->o->network);
                /* what a bind mount shows the RUN: its source's content (a
                 * secret's or a cache mount's content is not part of the key,
                 * as in BuildKit) */
                const char **mounts = kiln_df_flag_values(in, "mount");
                for (size_t k = 0; mounts && mounts[k]; k++) {
                        _cleanup_free_ char *m = kiln_xstrdup(mounts[k]);
                        const char *type = "bind", *src = NULL, *from = NULL;
                        for (char *save = NULL, *f = strtok_r(m, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
                                if (kiln_startswith(f, "type="))
                                        type = f + 5;
                                else if (kiln_startswith(f, "source="))
                                        src = f + 7;
                                else if (kiln_startswith(f, "src="))
                                        src = f + 4;
                                else if (kiln_startswith(f, "from="))
                                        from = f + 5;
                        }
                        if (strcmp(type, "bind"))
                                continue;
                        if (from) {
                                int j = find_stage(b, from, idx);
                                if (j >= 0) {
                                        int r = build_stage(b, (size_t)j);
                                        if (r < 0) {
                                                free(mounts);
                                                return r;
                                        }
                                        if (!b->stages[j].ckey) {
                                                free(mounts);
                                                return 0;
                                        }
                                        kiln_buf_printf(t, "mount-from-stage:%s:%s\n", b->stages[j].ckey,
                                                        src ? src : "/");
                                } else {
                                        _cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
                                        if (kiln_store_image_lookup(b->s, from, &img, NULL) < 0) {
                                                free(mounts);
                                                return 0;
                                        }
                                        kiln_buf_printf(t, "mount-from-image:%s:%s\n", img->manifest_digest.str,
                                                        src ? src : "/");
                                }
                                continue;
                        }
                        char h[KILN_BUILDCTX_HASH_MAX];
                        char *const one[] = { (char *)(src && *src ? src : "."), NULL };
                        if (bcache_sources_hash(b->ctx, one, h) < 0) {
                                free(mounts);
                                return 0;
                        }
                        kiln_buf_printf(t, "mount-context:%s:%s\n", one[0], h);
                }
                free(mounts);
        } else if (in->cmd == KILN_DF_COPY || in->cmd == KILN_DF_ADD) {
                return copy_key_text(b, st, in, idx, t);
        }
        return 1;
}

/* COPY/ADD --link, unless --chown names a user or group: those are read
 * from the stage's /etc/passwd and /etc/group, so the key chains them */
static bool link_key_independent(const struct kiln_df_instruction *in)
{
        if ((in->cmd != KILN_DF_COPY && in->cmd != KILN_DF_ADD) || !kiln_df_flag_bool(in, "link"))
                return false;
        const char *c = kiln_df_flag_value(in, "chown");
        if (!c)
                return true;
        _cleanup_free_ char *u = kiln_xstrdup(c);
        char *g = strchr(u, ':');
        if (g)
                *g++ = 0;
        return is_number(u) && (!g || is_number(g));
}

static bool makes_layer(enum kiln_df_cmd c)
{
        return c == KILN_DF_RUN || c == KILN_DF_COPY || c == KILN_DF_ADD || c == KILN_DF_WORKDIR;
}

/* Before a step: its key, and on a hit the stored result applied (a
 * metadata step still runs, for its config, but keeps its cached history
 * entry). */
static int cache_step_begin(struct build *b, struct bstage *st, struct kiln_df_instruction *in, size_t idx,
                            struct cstep *cs)
{
        *cs = (struct cstep){ .n_layers = st->n_layers,
                              .n_hist = json_array_size(json_object_get(st->cfg, "history")) };
        if (!st->ckey)
                return 0;
        struct kiln_buf t = KILN_BUF_INIT;
        int r = cache_step_text(b, st, in, idx, &t);
        if (r > 0 && link_key_independent(in)) {
                /* BuildKit: a --link layer is reused whatever the layers
                 * under it are; the later steps still chain them */
                cs->key = bcache_key("link", t.data ? t.data : "");
                _cleanup_free_ char *lk = kiln_xasprintf("linked:%s", cs->key);
                cs->next_key = bcache_key(st->ckey, lk);
        } else if (r > 0) {
                cs->key = bcache_key(st->ckey, t.data ? t.data : "");
        }
        kiln_buf_free(&t);
        if (r <= 0)
                return r;
        cs->record = true;

        if (b->o->no_cache)
                return 0;
        struct kiln_cache_entry e;
        if (kiln_store_cache_get(b->s, cs->key, &e, NULL) < 0)
                return 0;
        json_t *h = json_loads(e.history, 0, NULL);
        /* (an entry without created_by: an ARG cached before ARG steps had history) */
        if (!json_is_object(h) || !json_is_string(json_object_get(h, "created_by")) ||
            (e.has_layer && !makes_layer(in->cmd))) {
                json_decref(h);
                kiln_cache_entry_clear(&e);
                return 0;
        }
        cs->hit = true;
        if (!makes_layer(in->cmd)) {
                cs->hist = h;
                kiln_cache_entry_clear(&e);
                return 0;
        }
        if (in->cmd == KILN_DF_WORKDIR) {
                _cleanup_free_ char *wd = abs_in_stage(st, in->value);
                json_object_set_new(cfg_obj(st), "WorkingDir", json_string(wd));
        }
        if (e.has_layer) {
                st->layers = kiln_xrealloc(st->layers, (st->n_layers + 1) * sizeof(*st->layers));
                st->layers[st->n_layers++] = (struct slayer){
                        .desc = { .media_type = TAKE_PTR(e.media_type), .digest = e.blob, .size = e.size },
                        .bl = -1,
                };
                json_array_append_new(json_object_get(json_object_get(st->cfg, "rootfs"), "diff_ids"),
                                      json_string(e.diff_id.str));
        }
        json_t *hist = json_object_get(st->cfg, "history");
        if (!json_is_array(hist)) {
                hist = json_array();
                json_object_set_new(st->cfg, "history", hist);
        }
        json_array_append_new(hist, h);
        cs->skip = true;
        kiln_cache_entry_clear(&e);
        return 0;
}

/* After a step (r: its outcome): remember what to record; the stage's key
 * moves on. */
static int cache_step_end(struct build *b, struct bstage *st, struct cstep *cs, int r)
{
        json_t *hist = json_object_get(st->cfg, "history");
        size_t nh = json_array_size(hist);
        if (r >= 0 && cs->hist && nh == cs->n_hist + 1)
                json_array_set(hist, cs->n_hist, cs->hist);
        if (r >= 0 && cs->record && nh == cs->n_hist + 1) {
                struct cpending p = { .key = kiln_xstrdup(cs->key), .hit = cs->hit, .bl = -1 };
                if (!cs->hit) {
                        if (st->n_layers == cs->n_layers + 1)
                                p.bl = st->layers[st->n_layers - 1].bl;
                        p.history = json_dumps(json_array_get(hist, nh - 1), JSON_COMPACT | JSON_SORT_KEYS);
                }
                b->pend = kiln_xrealloc(b->pend, (b->n_pend + 1) * sizeof(*b->pend));
                b->pend[b->n_pend++] = p;
        }
        free(st->ckey);
        if (cs->next_key) {
                st->ckey = TAKE_PTR(cs->next_key);
                free(cs->key);
                cs->key = NULL;
        } else {
                st->ckey = TAKE_PTR(cs->key);
        }
        json_decref(cs->hist);
        cs->hist = NULL;
        return r;
}

/* The image's "created": that of its last history entry, so that a fully
 * cached rebuild gives the same image ID. */
static void cache_created(struct bstage *st, char *out, size_t n)
{
        json_t *hist = json_object_get(st->cfg, "history");
        const char *c = json_string_value(json_object_get(json_array_get(hist, json_array_size(hist) - 1), "created"));
        if (c && strlen(c) < n)
                snprintf(out, n, "%s", c);
}

/* After the image is stored: commit the layers the cache keeps that the
 * image does not (other stages'), then record every step in one
 * transaction. A failure here leaves the image; it is a warning. */
static void cache_commit(struct build *b)
{
        struct kiln_cache_record *rec = kiln_xcalloc(b->n_pend + 1, sizeof(*rec));
        struct kiln_cache_entry *ent = kiln_xcalloc(b->n_pend + 1, sizeof(*ent));
        size_t n = 0;
        struct kiln_error e = { 0 };
        for (size_t i = 0; i < b->n_pend; i++) {
                struct cpending *p = &b->pend[i];
                rec[n].key = p->key;
                if (p->hit) {
                        n++;
                        continue;
                }
                struct kiln_cache_entry *ce = &ent[n];
                if (p->bl >= 0) {
                        struct blayer *bl = &b->bl[p->bl];
                        if (!bl->committed) {
                                int r = kiln_blob_writer_commit_known(bl->w, &bl->info.digest, &e);
                                bl->w = NULL;
                                bl->committed = true;
                                if (r >= 0)
                                        r = kiln_store_layer_record(b->s, &bl->info.digest, &bl->info.diff_id,
                                                                    bl->info.uncompressed_size, &e);
                                if (r < 0)
                                        break;
                        }
                        ce->has_layer = true;
                        ce->blob = bl->info.digest;
                        ce->media_type = (char *)kiln_compression_media_type(bl->info.compression);
                        ce->diff_id = bl->info.diff_id;
                        ce->size = bl->info.size;
                }
                ce->history = p->history;
                rec[n].e = ce;
                n++;
        }
        if (!e.msg[0])
                kiln_store_cache_record(b->s, rec, n, &e);
        if (e.msg[0])
                progress(b, "warning: build cache not updated: %s\n", e.msg);
        free(rec);
        free(ent);
}

static void cache_free(struct build *b)
{
        for (size_t i = 0; i < b->n_pend; i++) {
                free(b->pend[i].key);
                free(b->pend[i].history);
        }
        free(b->pend);
        b->pend = NULL;
        b->n_pend = 0;
}

/* ---- the stage loop ---- */

static int dispatch(struct build *b, struct bstage *st, struct kiln_df_instruction *in, size_t idx)
{
        int r;
        switch (in->cmd) {
        case KILN_DF_ARG: {
                declare_args(b, in, st->args, false);
                _cleanup_free_ char *by = build_history_arg(st->args); /* as buildah */
                history_add(b, st, by, true);
                r = 0;
                break;
        }
        case KILN_DF_RUN:
                r = do_run(b, st, in);
                break;
        case KILN_DF_COPY:
        case KILN_DF_ADD:
                r = do_copy(b, st, in, idx);
                break;
        case KILN_DF_WORKDIR:
                r = do_workdir(b, st, in);
                break;
        case KILN_DF_FROM:
                r = kiln_err(b->err, -EINVAL, "internal: FROM inside a stage");
                break;
        default:
                r = do_metadata(b, st, in);
                break;
        }
        return r;
}

/* The base image's ONBUILD triggers, right after FROM, in order (onbuild.c).
 * Errors name the FROM line and the trigger. */
static int fire_onbuild(struct build *b, struct bstage *st, const struct kiln_df_instruction *fromin, size_t idx)
{
        if (!st->onbuild)
                return 0;
        _cleanup_(kiln_dockerfile_freep) struct kiln_dockerfile *tdf = NULL;
        int r = build_onbuild_parse(st->onbuild, &tdf, b->err);
        if (r < 0)
                return kiln_err_prefix(b->err, r, "%s:%u: FROM %s: ", fname(b), fromin->start_line, fromin->base);
        for (size_t i = 1; i < tdf->n_instructions; i++) {
                struct kiln_df_instruction *in = &tdf->instructions[i];
                const char *o = in->original;
                while (*o == ' ' || *o == '\t')
                        o++;
                struct kiln_error xerr = { 0 };
                r = kiln_df_expand(in, tdf->escape, "ONBUILD", stage_lookup, st, &xerr);
                if (r < 0) { /* drop the "ONBUILD:LINE: " of the re-parsed text */
                        const char *m = strchr(xerr.msg, ':') ? strchr(xerr.msg, ':') + 1 : xerr.msg;
                        m = strstr(m, ": ") ? strstr(m, ": ") + 2 : xerr.msg;
                        kiln_err(b->err, r, "%s", m);
                }
                unsigned sn = ++b->step;
                _cleanup_free_ char *text = kiln_xasprintf("ONBUILD %s", o);
                kiln_progress_step_begin(b->prog, sn, st->label, 1, 1, text, false);
                if (r >= 0)
                        r = dispatch(b, st, in, idx);
                kiln_progress_step_end(b->prog, sn, r >= 0);
                if (r < 0)
                        return kiln_err_prefix(b->err, r, "%s:%u: FROM %s: ONBUILD %.200s: ", fname(b),
                                               fromin->start_line, fromin->base, o);
        }
        json_decref(st->onbuild);
        st->onbuild = NULL;
        return 0;
}

/* The stage's steps, in order (build_stage: after the stages it needs). */
/* serial builds: the first INT, TERM, HUP or QUIT that arrived (see kiln_build) */
static volatile sig_atomic_t serial_interrupted;
static const int serial_signals[4] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void serial_interrupt(int sig)
{
        if (!serial_interrupted)
                serial_interrupted = sig;
}

static int stage_body(struct build *b, size_t idx)
{
        struct bstage *st = &b->stages[idx];
        if (st->done)
                return 0;
        if (st->busy)
                return kiln_err(b->err, -EINVAL, "stage %zu depends on itself", idx);
        st->busy = true;
        const struct kiln_df_stage *ds = &b->df->stages[idx];
        struct kiln_df_instruction *fromin = &b->df->instructions[ds->from];
        int r = kiln_df_expand(fromin, b->df->escape, fname(b), meta_lookup, b->meta_args, b->err);
        if (r < 0)
                return r;
        size_t total = ds->count + 1;
        b->step++;
        unsigned from_step = b->step;
        _cleanup_free_ char *from_text = kiln_xasprintf("FROM %s", fromin->base);
        kiln_progress_step_begin(b->prog, from_step, st->label, 1, total, from_text, false);
        int j = find_stage(b, fromin->base, idx);
        if (j >= 0) {
                r = build_stage(b, (size_t)j);
                if (r < 0)
                        return r;
                stage_from_stage(st, &b->stages[j]);
        } else if (!strcasecmp(fromin->base, "scratch")) {
                stage_scratch(st);
        } else {
                r = stage_from_image(b, st, fromin->base);
                if (r < 0) {
                        kiln_progress_step_end(b->prog, from_step, false);
                        return kiln_err_prefix(b->err, r, "%s:%u: FROM %s: ", fname(b), fromin->start_line, fromin->base);
                }
        }
        kiln_progress_step_end(b->prog, from_step, true);
        st->args = json_object();
        st->n_base_layers = st->n_layers; /* --squash */
        st->n_base_hist = json_array_size(json_object_get(st->cfg, "history"));
        if (json_array_size(st->onbuild)) {
                /* the triggers' steps are not in the cache's chain of keys */
                free(st->ckey);
                st->ckey = NULL;
        }
        r = fire_onbuild(b, st, fromin, idx);
        if (r < 0)
                return r;
        for (size_t i = ds->first; i < ds->first + ds->count; i++) {
                struct kiln_df_instruction *in = &b->df->instructions[i];
                if (b->sched && build_sched_cancelled(b->sched)) /* another stage failed */
                        return kiln_err(b->err, -ECANCELED, "build cancelled");
                if (serial_interrupted)
                        return kiln_err(b->err, -EINTR, "build interrupted by %s", strsignal(serial_interrupted));
                r = kiln_df_expand(in, b->df->escape, fname(b), stage_lookup, st, b->err);
                if (r < 0)
                        return r;
                struct cstep cs; /* build cache (may build a --from stage first) */
                r = cache_step_begin(b, st, in, idx, &cs);
                if (r < 0)
                        return in_fail(b, in, r);
                unsigned sn = ++b->step; /* (a COPY --from may build a stage: more steps) */
                kiln_progress_step_begin(b->prog, sn, st->label, i - ds->first + 2, total, in->original, cs.hit);
                /* a build cache hit was applied already */
                r = cs.skip ? 0 : dispatch(b, st, in, idx);
                r = cache_step_end(b, st, &cs, r);
                kiln_progress_step_end(b->prog, sn, r >= 0);
                if (r < 0)
                        return in_fail(b, in, r);
        }
        st->busy = false;
        st->done = true;
        return 0;
}

/* A stage, once: with stages on threads, one another thread builds is
 * waited for (parallel.c), one nobody builds yet is built here. */
static int build_stage(struct build *b, size_t idx)
{
        if (!b->sched)
                return stage_body(b, idx);
        struct kiln_error *mine = b->err;
        int c = build_sched_claim(b->sched, idx);
        b->err = mine;
        if (c < 0)
                return kiln_err(b->err, c, "build cancelled");
        if (c == 0)
                return 0;
        int r = stage_body(b, idx);
        build_sched_finish(b->sched, idx, r, b->err);
        return r;
}

/* A stage on a scheduler thread: its own error buffer */
static int stage_job(void *ud, size_t idx, struct kiln_error *err)
{
        struct build *b = ud;
        b->err = err;
        return stage_body(b, idx);
}

/* ---- the result ---- */

/* -o/--output (output.c): the target's image, written before anything is
 * committed to the store */
static int write_outputs(struct build *b, struct bstage *st, const char *craw, size_t clen,
                         const struct kiln_descriptor *cdesc, const char *mraw, size_t mlen,
                         const struct kiln_descriptor *descs);

/* The image of the target stage: config and manifest made in memory, then
 * the -o outputs written, then (unless o->no_store) layers committed and
 * config, manifest and tags stored. */
static int store_result(struct build *b, struct bstage *st, char **ret_id)
{
        json_t *cfg = st->cfg;
        char created[64];
        now_rfc3339(b, created, sizeof(created));
        cache_created(st, created, sizeof(created)); /* build cache */
        json_object_set_new(cfg, "created", json_string(created));
        if (!json_is_string(json_object_get(cfg, "architecture")))
                json_object_set_new(cfg, "architecture", json_string(kiln_platform_arch()));
        if (!json_is_string(json_object_get(cfg, "os")))
                json_object_set_new(cfg, "os", json_string(kiln_platform_os()));
        for (size_t k = 0; b->o->labels && b->o->labels[k]; k++) {
                _cleanup_free_ char *kv = kiln_xstrdup(b->o->labels[k]);
                char *eq = strchr(kv, '=');
                if (eq)
                        *eq++ = 0;
                json_object_set_new(sub_object(cfg_obj(st), "Labels"), kv, json_string(eq ? eq : ""));
                /* buildah records each as a LABEL step; its time is the
                 * image's, so a fully cached rebuild keeps its ID */
                _cleanup_free_ char *by = build_history_label(kv, eq ? eq : "");
                json_t *hist = json_object_get(cfg, "history");
                if (!json_is_array(hist)) {
                        hist = json_array();
                        json_object_set_new(cfg, "history", hist);
                }
                json_array_append_new(hist, json_pack("{s:s, s:s, s:b}", "created", created, "created_by", by,
                                                      "empty_layer", 1));
        }
        _cleanup_free_ struct kiln_descriptor *descs = kiln_xcalloc(st->n_layers + 1, sizeof(*descs));
        for (size_t i = 0; i < st->n_layers; i++) {
                struct slayer *l = &st->layers[i];
                if (l->bl < 0) {
                        descs[i] = l->desc; /* shallow */
                        continue;
                }
                struct blayer *bl = &b->bl[l->bl];
                descs[i] = (struct kiln_descriptor){
                        .media_type = (char *)kiln_compression_media_type(bl->info.compression),
                        .digest = bl->info.digest,
                        .size = bl->info.size,
                };
        }
        _cleanup_free_ char *craw = NULL, *mraw = NULL;
        struct kiln_descriptor cdesc = { .media_type = (char *)(b->o->docker_format ? KILN_MT_DOCKER_CONFIG
                                                                                     : KILN_MT_OCI_CONFIG) };
        if (!b->o->docker_format)
                build_config_oci(cfg);
        size_t clen, mlen = 0;
        craw = kiln_json_dump(cfg, &clen);
        cdesc.size = (int64_t)clen;
        kiln_digest_buf(KILN_DIGEST_SHA256, craw, clen, &cdesc.digest);
        int r = build_manifest(b->o->docker_format, &cdesc, descs, st->n_layers, &mraw, &mlen);
        if (r < 0)
                return kiln_err(b->err, r, "build manifest: %s", kiln_strerror(r));
        if (b->o->n_outputs) {
                r = write_outputs(b, st, craw, clen, &cdesc, mraw, mlen, descs);
                if (r < 0)
                        return r;
        }
        if (!b->o->no_store) {
                for (size_t i = 0; r >= 0 && i < st->n_layers; i++) {
                        struct slayer *l = &st->layers[i];
                        if (l->bl < 0 || b->bl[l->bl].committed)
                                continue;
                        struct blayer *bl = &b->bl[l->bl];
                        r = kiln_blob_writer_commit_known(bl->w, &bl->info.digest, b->err);
                        bl->w = NULL;
                        bl->committed = true;
                        if (r >= 0)
                                r = kiln_store_layer_record(b->s, &bl->info.digest, &bl->info.diff_id,
                                                            bl->info.uncompressed_size, b->err);
                }
                struct kiln_digest cd, md;
                if (r >= 0)
                        r = kiln_store_blob_put(b->s, craw, clen, &cd, b->err);
                if (r >= 0)
                        r = kiln_store_blob_put(b->s, mraw, mlen, &md, b->err);
                if (r >= 0)
                        r = kiln_store_image_add(b->s, &md, b->o->tags, b->o->n_tags, NULL, b->err);
        }
        if (r >= 0)
                *ret_id = kiln_xstrdup(cdesc.digest.str);
        return r;
}

/* ---- outputs (-o, output.c) and --squash ---- */

/* A read-only overlay of layers[0..n) (top last) over the empty dir, so
 * whiteouts are applied even for a single layer; none: the empty dir. */
static int mount_layers(struct build *b, const struct slayer *layers, size_t n, char **ret_path, bool *ret_mounted)
{
        *ret_mounted = false;
        if (!n) {
                *ret_path = kiln_xstrdup(b->empty);
                return 0;
        }
        struct kiln_buf buf = KILN_BUF_INIT;
        for (size_t i = n; i-- > 0;)
                kiln_buf_printf(&buf, "%s:", layers[i].path);
        kiln_buf_puts(&buf, b->empty);
        _cleanup_free_ char *low = kiln_buf_steal(&buf);
        return mount_view(b, low, ret_path, ret_mounted);
}

/* type=local and type=tar: the target stage's filesystem */
static int write_fs_outputs(struct build *b, struct bstage *st)
{
        bool any = false;
        for (size_t i = 0; i < b->o->n_outputs; i++)
                any = any || b->o->outputs[i].type != KILN_BUILD_OUTPUT_OCI;
        if (!any)
                return 0;
        int r = cache_unpack(b, st);
        if (r < 0)
                return r;
        char *path = NULL;
        bool mounted;
        r = mount_layers(b, st->layers, st->n_layers, &path, &mounted);
        if (r < 0)
                return r;
        _cleanup_close_ int rfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                r = kiln_err(b->err, -errno, "build: open the result: %s", strerror(errno));
        for (size_t i = 0; r >= 0 && i < b->o->n_outputs; i++) {
                const struct kiln_build_output *out = &b->o->outputs[i];
                if (out->type == KILN_BUILD_OUTPUT_LOCAL)
                        r = build_output_local(rfd, out->dest, b->err);
                else if (out->type == KILN_BUILD_OUTPUT_TAR)
                        r = build_output_tar(rfd, out->dest,
                                             b->o->has_source_date_epoch ? b->o->source_date_epoch : -1, b->err);
        }
        close(TAKE_FD(rfd));
        view_unmount(path, mounted);
        return r;
}

/* type=oci: the image's blobs, new layers read from their writers' temp
 * files (nothing is committed yet) */
static int write_outputs(struct build *b, struct bstage *st, const char *craw, size_t clen,
                         const struct kiln_descriptor *cdesc, const char *mraw, size_t mlen,
                         const struct kiln_descriptor *descs)
{
        bool any = false;
        for (size_t i = 0; i < b->o->n_outputs; i++)
                any = any || b->o->outputs[i].type == KILN_BUILD_OUTPUT_OCI;
        if (!any)
                return 0;
        struct build_output_image img = {
                .manifest = mraw, .manifest_len = mlen, .config = craw, .config_len = clen,
                .manifest_media_type = b->o->docker_format ? KILN_MT_DOCKER_MANIFEST : KILN_MT_OCI_MANIFEST,
                .config_digest = cdesc->digest, .n_layers = st->n_layers,
                .mtime = b->o->has_source_date_epoch ? b->o->source_date_epoch : (int64_t)time(NULL),
        };
        kiln_digest_buf(KILN_DIGEST_SHA256, mraw, mlen, &img.manifest_digest);
        struct build_output_layer *ls = kiln_xcalloc(st->n_layers + 1, sizeof(*ls));
        for (size_t i = 0; i < st->n_layers; i++)
                ls[i].fd = -1;
        int r = 0;
        for (size_t i = 0; r >= 0 && i < st->n_layers; i++) {
                ls[i].digest = descs[i].digest;
                ls[i].size = descs[i].size;
                struct slayer *l = &st->layers[i];
                if (l->bl >= 0 && b->bl[l->bl].w) {
                        ls[i].fd = fcntl(kiln_blob_writer_fd(b->bl[l->bl].w), F_DUPFD_CLOEXEC, 3);
                        if (ls[i].fd < 0)
                                r = kiln_err(b->err, -errno, "build: dup: %s", strerror(errno));
                } else {
                        r = kiln_store_blob_open(b->s, &descs[i].digest, &ls[i].fd, NULL, b->err);
                }
        }
        img.layers = ls;
        const char *name = b->o->n_tags ? b->o->tags[0] : NULL;
        for (size_t i = 0; r >= 0 && i < b->o->n_outputs; i++) {
                const struct kiln_build_output *out = &b->o->outputs[i];
                if (out->type == KILN_BUILD_OUTPUT_OCI)
                        r = build_output_oci(out->dest, out->name ? out->name : name, &img, b->err);
        }
        for (size_t i = 0; i < st->n_layers; i++)
                if (ls[i].fd >= 0)
                        close(ls[i].fd);
        free(ls);
        return r;
}

/* layers[keep..) of the stage become one new layer: the difference between
 * a view of the kept layers and a view of all of them (content compared,
 * so a base file deleted by a step is a whiteout), or with keep 0 the
 * whole view */
static int squash_layers(struct build *b, struct bstage *st, size_t keep)
{
        int r = cache_unpack(b, st);
        if (r < 0)
                return r;
        char *lpath = NULL, *upath = NULL;
        bool lm = false, um = false;
        r = mount_layers(b, st->layers, keep, &lpath, &lm);
        if (r >= 0)
                r = mount_layers(b, st->layers, st->n_layers, &upath, &um);
        struct kiln_blob_writer *w = NULL;
        if (r >= 0)
                r = kiln_blob_writer_new(b->s, &w, b->err);
        struct kiln_layer_info info;
        if (r >= 0) {
                struct kiln_layer_create_opts lo = KILN_LAYER_CREATE_OPTS_INIT;
                lo.compression = (enum kiln_compression)b->o->compression;
                lo.level = b->o->compression_level;
                if (b->o->has_source_date_epoch)
                        lo.source_date_epoch = b->o->source_date_epoch;
                _cleanup_close_ int lfd = keep ? open(lpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
                _cleanup_close_ int ufd = open(upath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if ((keep && lfd < 0) || ufd < 0)
                        r = kiln_err(b->err, -errno, "open the layers: %s", strerror(errno));
                else if (keep)
                        r = kiln_layer_create_diff(lfd, ufd, 0, kiln_blob_writer_fd(w), &lo, &info, b->err);
                else
                        r = kiln_layer_create_dir(ufd, kiln_blob_writer_fd(w), &lo, &info, b->err);
        }
        if (lpath)
                view_unmount(lpath, lm);
        if (upath)
                view_unmount(upath, um);
        if (r < 0) {
                if (w)
                        kiln_blob_writer_abort(w);
                return r;
        }
        /* the layers kept, then the squashed one (no unpacked dir: the
         * filesystem outputs were written before) */
        for (size_t i = keep; i < st->n_layers; i++) {
                if (st->layers[i].bl < 0)
                        kiln_descriptor_clear(&st->layers[i].desc);
                free(st->layers[i].path);
        }
        b->bl = kiln_xrealloc(b->bl, (b->n_bl + 1) * sizeof(*b->bl));
        b->bl[b->n_bl] = (struct blayer){ .w = w, .info = info };
        st->layers[keep] = (struct slayer){ .bl = (int)b->n_bl++ };
        st->n_layers = keep + 1;
        json_t *ids = json_object_get(json_object_get(st->cfg, "rootfs"), "diff_ids");
        while (json_array_size(ids) > keep)
                json_array_remove(ids, json_array_size(ids) - 1);
        json_array_append_new(ids, json_string(info.diff_id.str));
        return 0;
}

/*
 * --squash: the layers the target stage added on top of its base become
 * one (podman build --squash); --squash-all: every layer (podman
 * --squash-all, buildah bud --squash). History as podman 4.3 / buildah
 * 1.28 write it: the stage's own entries all empty_layer but the last,
 * which carries the layer; --squash-all drops the base's entries.
 */
static int squash_stage(struct build *b, struct bstage *st)
{
        bool all = b->o->squash == KILN_BUILD_SQUASH_ALL;
        size_t keep = all ? 0 : st->n_base_layers, hkeep = st->n_base_hist;
        if (st->n_layers <= keep)
                return 0; /* nothing new */
        if (st->n_layers > keep + 1) {
                int r = squash_layers(b, st, keep);
                if (r < 0)
                        return kiln_err_prefix(b->err, r, "--squash: ");
        }
        json_t *hist = json_object_get(st->cfg, "history");
        if (!json_is_array(hist)) {
                hist = json_array();
                json_object_set_new(st->cfg, "history", hist);
        }
        if (all) {
                for (size_t i = 0; i < hkeep && json_array_size(hist); i++)
                        json_array_remove(hist, 0);
                hkeep = 0;
        }
        if (json_array_size(hist) <= hkeep) { /* nothing of its own: say what the layer is */
                char created[64];
                now_rfc3339(b, created, sizeof(created));
                json_array_append_new(hist, json_pack("{s:s, s:s}", "created", created, "created_by",
                                                      all ? "kiln build --squash-all" : "kiln build --squash"));
        }
        for (size_t i = hkeep; i < json_array_size(hist); i++) {
                json_t *h = json_array_get(hist, i);
                if (i + 1 < json_array_size(hist))
                        json_object_set_new(h, "empty_layer", json_true());
                else
                        json_object_del(h, "empty_layer");
        }
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* FROM --platform of every stage (expanded with the global ARGs, as
 * BuildKit does for all stages) names the host platform: checked before
 * anything runs (predef.c). */
static int check_from_platforms(struct build *b)
{
        for (size_t i = 0; i < b->df->n_stages; i++) {
                const struct kiln_df_instruction *fromin = &b->df->instructions[b->df->stages[i].from];
                const char *raw = kiln_df_flag_value(fromin, "platform");
                if (!raw)
                        continue;
                struct kiln_shell sh = { .escape = b->df->escape, .lookup = meta_lookup, .userdata = b->meta_args };
                _cleanup_free_ char *p = NULL;
                struct kiln_error e = { 0 };
                int r = kiln_shell_word(&sh, raw, &p, &e);
                if (r >= 0)
                        r = build_platform_check(p, &e);
                if (r < 0)
                        return kiln_err(b->err, r, "%s:%u: FROM --platform=%s: %s", fname(b), fromin->start_line,
                                        p ? p : raw, e.msg);
        }
        return 0;
}

/* Docker's warning for --build-arg values no ARG of the build declared
 * (the predefined proxy and platform ARGs need none). */
static void warn_unconsumed(struct build *b)
{
        struct kiln_buf names = KILN_BUF_INIT;
        const char *key;
        json_t *v;
        _cleanup_strv_free_ char **sorted = NULL;
        json_object_foreach(b->build_args, key, v) {
                if (!json_object_get(b->consumed, key) && !build_is_proxy_arg(key) && !build_is_platform_arg(key))
                        kiln_strv_push(&sorted, key);
        }
        if (!sorted)
                return;
        qsort(sorted, kiln_strv_len(sorted), sizeof(char *), cmp_str);
        for (size_t i = 0; sorted[i]; i++)
                kiln_buf_printf(&names, "%s%s", i ? " " : "", sorted[i]);
        progress(b, "[Warning] One or more build-args [%s] were not consumed\n", names.data);
        kiln_buf_free(&names);
}

int kiln_build(struct kiln_store *s, struct kiln_buildctx *ctx, struct kiln_dockerfile *df,
               const struct kiln_build_opts *o, char **ret_id, struct kiln_error *err)
{
        if (!df->n_stages)
                return kiln_err(err, -EINVAL, "%s: no FROM instruction", df->filename ? df->filename : "Dockerfile");
        struct build b = { .s = s, .ctx = ctx, .df = df, .o = o, .err = err, .prog = o->progress };
        if (!b.prog && o->progress_fd >= 0) {
                b.prog = kiln_progress_new(KILN_PROGRESS_PLAIN, o->progress_fd);
                b.own_prog = true;
        }
        int r = 0;
        b.build_args = json_object();
        for (size_t k = 0; o->build_args && o->build_args[k]; k++) {
                _cleanup_free_ char *kv = kiln_xstrdup(o->build_args[k]);
                char *eq = strchr(kv, '=');
                if (eq)
                        *eq++ = 0;
                json_object_set_new(b.build_args, kv, json_string(eq ? eq : ""));
        }
        b.consumed = json_object();
        /* the target platform: the host's, the only one kiln builds for
         * (predef.c); its ARGs are in the global scope, as BuildKit's */
        struct build_platform tplat;
        build_platform_host(&tplat);
        if (o->platform)
                r = build_platform_check(o->platform, err);
        b.meta_args = json_object();
        if (r >= 0)
                build_platform_args(b.meta_args, &tplat, b.build_args);
        for (size_t i = 0; r >= 0 && i < df->n_meta_args; i++) {
                struct kiln_df_instruction *in = &df->instructions[i];
                r = kiln_df_expand(in, df->escape, fname(&b), meta_lookup, b.meta_args, err);
                if (r >= 0)
                        declare_args(&b, in, b.meta_args, true);
        }
        if (r >= 0)
                r = check_from_platforms(&b);
        size_t target = df->n_stages - 1;
        if (r >= 0 && o->target) {
                int t = find_stage(&b, o->target, df->n_stages);
                if (t < 0 || is_number(o->target))
                        r = kiln_err(err, -KILN_ENOTFOUND, "target stage \"%s\" could not be found", o->target);
                else
                        target = (size_t)t;
        }
        b.stages = kiln_xcalloc(df->n_stages, sizeof(*b.stages));
        char **labels = kiln_xcalloc(df->n_stages, sizeof(char *));
        for (size_t i = 0; i < df->n_stages; i++) {
                labels[i] = df->stages[i].name ? kiln_xstrdup(df->stages[i].name) : kiln_xasprintf("stage-%zu", i);
                b.stages[i].label = labels[i];
        }
        if (r >= 0) {
                _cleanup_free_ char *tdir = kiln_xasprintf("%s/tmp", kiln_store_root(s));
                mkdir(tdir, 0700);
                b.tmp = kiln_xasprintf("%s/build-XXXXXX", tdir);
                if (!mkdtemp(b.tmp)) {
                        r = kiln_err(err, -errno, "build: %s: %s", b.tmp, strerror(errno));
                        free(b.tmp);
                        b.tmp = NULL;
                }
        }
        if (r >= 0) {
                b.empty = new_dir(&b, "empty");
                if (!b.empty)
                        r = kiln_err(err, -errno, "build: mkdir: %s", strerror(errno));
        }
        b.state_root = kiln_container_state_root();
        if (r >= 0) {
                /* the stage graph: stages that do not need each other are
                 * built at once, up to o->jobs (stages.c, parallel.c) */
                struct build_graph g;
                build_graph_make(df, b.meta_args, b.build_args, target, &g);
                if (o->jobs != 1 && build_graph_parallel(&g)) {
                        b.sched = build_sched_new(&g, o->jobs);
                        struct kiln_error serr = { 0 };
                        r = build_sched_run(b.sched, stage_job, &b, &serr);
                        b.err = err;
                        if (r < 0 && err)
                                *err = serr;
                        build_sched_free(b.sched);
                        b.sched = NULL;
                } else {
                        /* Ctrl-C between steps: the build fails at the next
                         * one and cleans up (a RUN is killed at once, see
                         * kill_on_signal); the stages on threads have
                         * parallel.c's signal thread instead */
                        struct sigaction sa = { .sa_handler = serial_interrupt }, old[4];
                        sigemptyset(&sa.sa_mask);
                        for (size_t k = 0; k < 4; k++)
                                sigaction(serial_signals[k], &sa, &old[k]);
                        r = build_stage(&b, target);
                        if (r >= 0 && serial_interrupted)
                                r = kiln_err(err, -EINTR, "build interrupted by %s",
                                             strsignal(serial_interrupted));
                        for (size_t k = 0; k < 4; k++)
                                sigaction(serial_signals[k], &old[k], NULL);
                }
                build_graph_free(&g);
        }
        if (r >= 0)
                r = write_fs_outputs(&b, &b.stages[target]);
        if (r >= 0 && o->squash)
                r = squash_stage(&b, &b.stages[target]);
        if (r >= 0)
                r = store_result(&b, &b.stages[target], ret_id);
        if (r >= 0)
                cache_commit(&b); /* build cache: after the image is stored */
        cache_free(&b);
        if (r >= 0)
                warn_unconsumed(&b);
        build_downloads_free(b.dl);

        for (size_t i = 0; i < df->n_stages; i++) {
                stage_clear(&b.stages[i]);
                free(labels[i]);
        }
        free(labels);
        free(b.stages);
        for (size_t i = 0; i < b.n_bl; i++) {
                if (b.bl[i].w)
                        kiln_blob_writer_abort(b.bl[i].w);
                free(b.bl[i].dir);
        }
        free(b.bl);
        if (b.tmp) /* unlinks wait for the disk's discards: overlap them */
                kiln_fs_rm_rf_parallel_at(AT_FDCWD, b.tmp, 16);
        free(b.tmp);
        free(b.empty);
        free(b.state_root);
        if (b.own_prog)
                kiln_progress_free(b.prog);
        json_decref(b.meta_args);
        json_decref(b.build_args);
        json_decref(b.consumed);
        return r;
}
