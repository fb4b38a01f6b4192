/* Unit tests for lib/build/stages.c: the stage graph kiln build schedules
 * stages from (which stage needs which, what the target needs, whether
 * two of them can run at once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>
#include "kiln/dockerfile.h"
#include "lib/build/stages.h"

/* The graph of text for target (SIZE_MAX: the last stage), as
 * "i:j,k i2:... | needed | parallel": each stage with the stages it needs
 * directly. build_args: "K=V" pairs, NULL-terminated (may be NULL). */
static char *graph(const char *text, size_t target, const char *const *build_args)
{
        struct kiln_dockerfile *df = NULL;
        struct kiln_error err = { 0 };
        int r = kiln_dockerfile_parse(text, strlen(text), "Dockerfile", &df, &err);
        if (r < 0)
                fail_msg("parse: %s", err.msg);
        json_t *bargs = json_object();
        for (size_t k = 0; build_args && build_args[k]; k++) {
                char *kv = strdup(build_args[k]);
                char *eq = strchr(kv, '=');
                *eq = 0;
                json_object_set_new(bargs, kv, json_string(eq + 1));
                free(kv);
        }
        /* the global ARGs, as the executor declares them */
        json_t *meta = json_object();
        for (size_t i = 0; i < df->n_meta_args; i++) {
                const struct kiln_df_instruction *in = &df->instructions[i];
                for (size_t k = 0; k < in->n_arg_list; k++) {
                        json_t *v = json_object_get(bargs, in->arg_list[k].key);
                        json_object_set_new(meta, in->arg_list[k].key,
                                            v ? json_incref(v)
                                              : in->arg_list[k].value ? json_string(in->arg_list[k].value)
                                                                      : json_null());
                }
        }
        struct build_graph g;
        build_graph_make(df, meta, bargs, target == SIZE_MAX ? df->n_stages - 1 : target, &g);
        struct kiln_buf b = KILN_BUF_INIT;
        for (size_t i = 0; i < g.n; i++) {
                kiln_buf_printf(&b, "%s%zu:", i ? " " : "", i);
                bool first = true;
                for (size_t j = 0; j < g.n; j++)
                        if (g.dep[i * g.n + j]) {
                                kiln_buf_printf(&b, "%s%zu", first ? "" : ",", j);
                                first = false;
                        }
        }
        kiln_buf_puts(&b, " |");
        for (size_t i = 0; i < g.n; i++)
                if (g.needed[i])
                        kiln_buf_printf(&b, " %zu", i);
        kiln_buf_printf(&b, " | %s", build_graph_parallel(&g) ? "parallel" : "serial");
        size_t count = 0;
        for (size_t i = 0; i < g.n; i++)
                count += g.needed[i];
        assert_int_equal(build_graph_count(&g), count);
        build_graph_free(&g);
        json_decref(meta);
        json_decref(bargs);
        kiln_dockerfile_free(df);
        return kiln_buf_steal(&b);
}

#define GRAPH(text, target, args, want)                                                                               \
        do {                                                                                                          \
                char *got_ = graph(text, target, args);                                                               \
                if (strcmp(got_, want))                                                                               \
                        fail_msg("%s\n got: %s\nwant: %s", text, got_, want);                                         \
                free(got_);                                                                                           \
        } while (0)

static void test_from_and_copy(void **state)
{
        (void)state;
        /* FROM a stage by name (any case) or index; COPY --from */
        GRAPH("FROM img AS base\n"
              "FROM Base AS a\n"
              "FROM img AS b\n"
              "COPY --from=0 /x /x\n"
              "FROM img\n"
              "COPY --from=a /x /x\n"
              "COPY --from=B /y /y\n",
              SIZE_MAX, NULL, "0: 1:0 2:0 3:1,2 | 0 1 2 3 | parallel");
        /* an image, not a stage; a stage named later is not a dependency */
        GRAPH("FROM img AS a\n"
              "COPY --from=later /x /x\n"
              "FROM img AS later\n"
              "COPY --from=other/image:1 /x /x\n",
              SIZE_MAX, NULL, "0: 1: | 1 | serial");
        /* a chain is never parallel */
        GRAPH("FROM img AS a\nFROM a AS b\nFROM b\nCOPY --from=a /x /x\n", SIZE_MAX, NULL,
              "0: 1:0 2:0,1 | 0 1 2 | serial");
}

static void test_needed(void **state)
{
        (void)state;
        /* only what the target needs */
        GRAPH("FROM img AS a\nFROM img AS b\nFROM img AS c\nCOPY --from=a /x /x\n", SIZE_MAX, NULL,
              "0: 1: 2:0 | 0 2 | serial");
        GRAPH("FROM img AS a\nFROM img AS b\nCOPY --from=a /x /x\nFROM img AS c\nCOPY --from=a /x /x\n"
              "FROM img\nCOPY --from=b /x /x\nCOPY --from=c /x /x\n",
              1, NULL, "0: 1:0 2:0 3:1,2 | 0 1 | serial");
        GRAPH("FROM img AS a\nFROM img AS b\nCOPY --from=a /x /x\nFROM img AS c\nCOPY --from=a /x /x\n"
              "FROM img\nCOPY --from=b /x /x\nCOPY --from=c /x /x\n",
              SIZE_MAX, NULL, "0: 1:0 2:0 3:1,2 | 0 1 2 3 | parallel");
        /* transitively */
        GRAPH("FROM img AS a\nFROM img AS b\nFROM a AS c\nFROM img AS d\nCOPY --from=c /x /x\n", SIZE_MAX, NULL,
              "0: 1: 2:0 3:2 | 0 2 3 | serial");
}

static void test_args(void **state)
{
        (void)state;
        /* FROM expands the global ARGs (and --build-arg) */
        GRAPH("ARG BASE=a\nFROM img AS a\nFROM img AS b\nFROM ${BASE}\n", SIZE_MAX, NULL,
              "0: 1: 2:0 | 0 2 | serial");
        static const char *const use_b[] = { "BASE=b", NULL };
        GRAPH("ARG BASE=a\nFROM img AS a\nFROM img AS b\nFROM ${BASE}\n", SIZE_MAX, use_b,
              "0: 1: 2:1 | 1 2 | serial");
        /* a stage's ARG is not seen by FROM */
        GRAPH("FROM img AS a\nARG BASE=a\nFROM $BASE\n", SIZE_MAX, NULL, "0: 1: | 1 | serial");
        /* COPY --from is never expanded (BuildKit) */
        GRAPH("ARG S=a\nFROM img AS a\nFROM img\nARG S\nCOPY --from=$S /x /x\n", SIZE_MAX, NULL,
              "0: 1: | 1 | serial");
}

static void test_mounts(void **state)
{
        (void)state;
        /* RUN --mount from=, expanded with the stage's ARG and ENV */
        GRAPH("FROM img AS a\nFROM img AS b\nFROM img\nARG S=a\nRUN --mount=from=$S,target=/m true\n", SIZE_MAX,
              NULL, "0: 1: 2:0 | 0 2 | serial");
        static const char *const use_b[] = { "S=b", NULL };
        GRAPH("FROM img AS a\nFROM img AS b\nFROM img\nARG S=a\nRUN --mount=from=$S,target=/m true\n", SIZE_MAX,
              use_b, "0: 1: 2:1 | 1 2 | serial");
        /* the global value of an ARG redeclared without a default */
        GRAPH("ARG S=b\nFROM img AS a\nFROM img AS b\nFROM img\nARG S\nRUN --mount=type=bind,from=${S} true\n",
              SIZE_MAX, NULL, "0: 1: 2:1 | 1 2 | serial");
        /* ENV wins over ARG; an ENV is expanded itself; ENVs of the stage it is FROM */
        GRAPH("FROM img AS a\nFROM img AS b\nFROM img AS c\nENV S=b\nARG S=a\nRUN --mount=from=$S,target=/m true\n"
              "FROM img\nARG T=c\nENV S=$T\nRUN --mount=from=$S,target=/m true\n",
              SIZE_MAX, NULL, "0: 1: 2:1 3:2 | 1 2 3 | serial");
        GRAPH("FROM img AS a\nFROM img AS b\nFROM img AS base\nENV S=b\nFROM base\n"
              "RUN --mount=type=cache,from=$S,target=/m --mount=from=a,target=/n true\n",
              SIZE_MAX, NULL, "0: 1: 2: 3:0,1,2 | 0 1 2 3 | parallel");
        /* unknown variables and bad syntax leave the edge out */
        GRAPH("FROM img AS a\nFROM img\nRUN --mount=from=$NOPE,target=/m --mount=from=${a:?},target=/n true\n",
              SIZE_MAX, NULL, "0: 1: | 1 | serial");
}

/* ---- the scheduler (parallel.c), with stage bodies that only record ---- */

struct fake {
        struct build_sched *s;
        const struct build_graph *g;
        int done[8];
        int runs[8];
        int fail;        /* this stage fails (-1: none) */
        int wait_cancel; /* this stage waits to be cancelled (-1: none) */
        int claim_from, claim_what; /* stage claim_from claims claim_what (-1: none) */
};

static int fake_stage(void *ud, size_t idx, struct kiln_error *err)
{
        struct fake *f = ud;
        f->runs[idx]++;
        /* everything it needs is done when it starts */
        for (size_t j = 0; j < idx; j++)
                if (f->g->dep[idx * f->g->n + j] && !f->done[j])
                        return kiln_err(err, -EINVAL, "stage %zu started before %zu", idx, j);
        if ((int)idx == f->claim_from) {
                int c = build_sched_claim(f->s, (size_t)f->claim_what);
                if (c == 1) {
                        f->runs[f->claim_what]++;
                        f->done[f->claim_what] = 1;
                        build_sched_finish(f->s, (size_t)f->claim_what, 0, err);
                } else if (c < 0) {
                        return kiln_err(err, c, "claim");
                }
        }
        if ((int)idx == f->fail)
                return kiln_err(err, -EIO, "Dockerfile:%zu: stage %zu failed", idx + 1, idx);
        if ((int)idx == f->wait_cancel) {
                for (int k = 0; k < 500 && !build_sched_cancelled(f->s); k++) {
                        build_sched_unlock(f->s);
                        usleep(10000);
                        build_sched_lock(f->s);
                }
                if (!build_sched_cancelled(f->s))
                        return kiln_err(err, -ETIMEDOUT, "never cancelled");
                return kiln_err(err, -ECANCELED, "cancelled");
        }
        /* let the others in between */
        build_sched_unlock(f->s);
        usleep(1000);
        build_sched_lock(f->s);
        f->done[idx] = 1;
        return 0;
}

static int sched(const char *text, unsigned jobs, struct fake *f, struct kiln_error *err)
{
        struct kiln_dockerfile *df = NULL;
        assert_int_equal(kiln_dockerfile_parse(text, strlen(text), "Dockerfile", &df, err), 0);
        json_t *none = json_object();
        struct build_graph g;
        build_graph_make(df, none, none, df->n_stages - 1, &g);
        f->g = &g;
        f->s = build_sched_new(&g, jobs);
        int r = build_sched_run(f->s, fake_stage, f, err);
        build_sched_free(f->s);
        build_graph_free(&g);
        json_decref(none);
        kiln_dockerfile_free(df);
        return r;
}

static const char diamond[] = "FROM img AS a\nFROM img AS b\nFROM a AS c\nFROM img AS unused\n"
                              "FROM img\nCOPY --from=b /x /x\nCOPY --from=c /x /x\n";

static void test_sched_order(void **state)
{
        (void)state;
        for (unsigned jobs = 0; jobs < 4; jobs++) {
                struct fake f = { .fail = -1, .wait_cancel = -1, .claim_from = -1, .claim_what = -1 };
                struct kiln_error err = { 0 };
                assert_int_equal(sched(diamond, jobs, &f, &err), 0);
                /* each needed stage once, the unused one never */
                static const int want[] = { 1, 1, 1, 0, 1 };
                for (size_t i = 0; i < 5; i++)
                        assert_int_equal(f.runs[i], want[i]);
        }
}

static void test_sched_first_failure(void **state)
{
        (void)state;
        /* b fails while a waits: a is stopped, b's error is the build's */
        struct fake f = { .fail = 1, .wait_cancel = 0, .claim_from = -1, .claim_what = -1 };
        struct kiln_error err = { 0 };
        int r = sched(diamond, 2, &f, &err);
        assert_int_equal(r, -EIO);
        assert_string_equal(err.msg, "Dockerfile:2: stage 1 failed");
        assert_int_equal(f.runs[2], 0); /* c (after a) never started */
        assert_int_equal(f.runs[4], 0);
}

static void test_sched_claim(void **state)
{
        (void)state;
        /* a stage the graph does not show: built by the stage that claims it */
        struct fake f = { .fail = -1, .wait_cancel = -1, .claim_from = 2, .claim_what = 3 };
        struct kiln_error err = { 0 };
        assert_int_equal(sched(diamond, 2, &f, &err), 0);
        assert_int_equal(f.runs[3], 1);
        /* one another thread builds is waited for, not built twice */
        struct fake g = { .fail = -1, .wait_cancel = -1, .claim_from = 1, .claim_what = 0 };
        assert_int_equal(sched(diamond, 2, &g, &err), 0);
        assert_int_equal(g.runs[0], 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_from_and_copy),
                cmocka_unit_test(test_needed),
                cmocka_unit_test(test_args),
                cmocka_unit_test(test_mounts),
                cmocka_unit_test(test_sched_order),
                cmocka_unit_test(test_sched_first_failure),
                cmocka_unit_test(test_sched_claim),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
