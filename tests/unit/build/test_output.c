/* Unit tests for lib/build/output.c (-o values) and lib/build/progress.c
 * (modes, and plain lines from several threads at once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kiln/build.h"
#include "kiln/progress.h"

struct ocase {
        const char *in;
        int type;          /* -1: an error */
        const char *dest;
        const char *name;
        const char *error; /* a part of the message */
};

static const struct ocase ocases[] = {
        { "type=local,dest=out", KILN_BUILD_OUTPUT_LOCAL, "out", NULL, NULL },
        { "type=tar,dest=x.tar", KILN_BUILD_OUTPUT_TAR, "x.tar", NULL, NULL },
        { "type=tar,dest=-", KILN_BUILD_OUTPUT_TAR, "-", NULL, NULL },
        { "type=oci,dest=i.tar", KILN_BUILD_OUTPUT_OCI, "i.tar", NULL, NULL },
        { "type=oci,dest=i.tar,name=a/b:c", KILN_BUILD_OUTPUT_OCI, "i.tar", "a/b:c", NULL },
        { "dest=d,type=local", KILN_BUILD_OUTPUT_LOCAL, "d", NULL, NULL },
        { "\"type=local\",\"dest=a,b\"", KILN_BUILD_OUTPUT_LOCAL, "a,b", NULL, NULL },
        /* docker's shorthands */
        { "-", KILN_BUILD_OUTPUT_TAR, "-", NULL, NULL },
        { "some/dir", KILN_BUILD_OUTPUT_LOCAL, "some/dir", NULL, NULL },
        { "", -1, NULL, NULL, "empty value" },
        { "type=zip,dest=x", -1, NULL, NULL, "unknown output type \"zip\"" },
        { "type=local", -1, NULL, NULL, "missing dest=" },
        { "type=tar,dest=", -1, NULL, NULL, "missing dest=" },
        { "dest=x", -1, NULL, NULL, "missing type=" },
        { "type=local,dest=-", -1, NULL, NULL, "not a directory" },
        { "type=tar,dest=x,compression=gzip", -1, NULL, NULL, "unknown key \"compression\"" },
        { "type=tar,dest=x,name=a", -1, NULL, NULL, "name= is only for type=oci" },
        { "type=oci,dest=x,name=UPPER:x", -1, NULL, NULL, "name=UPPER:x" },
        { "type=docker,dest=x", -1, NULL, NULL, "not supported" },
        { "type=registry", -1, NULL, NULL, "not supported" },
        { "type=local,dest", -1, NULL, NULL, "expected key=value" },
};

static void test_output_parse(void **state)
{
        (void)state;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(ocases); i++) {
                const struct ocase *c = &ocases[i];
                struct kiln_build_output o = { 0 };
                struct kiln_error err = { 0 };
                int r = kiln_build_output_parse(c->in, &o, &err);
                if (c->type < 0) {
                        if (r >= 0 || !strstr(err.msg, c->error))
                                fail_msg("%s: expected an error with \"%s\", got %d \"%s\"", c->in, c->error, r,
                                         err.msg);
                        continue;
                }
                if (r < 0)
                        fail_msg("%s: %s", c->in, err.msg);
                assert_int_equal(o.type, c->type);
                assert_string_equal(o.dest, c->dest);
                if (c->name)
                        assert_string_equal(o.name, c->name);
                else
                        assert_null(o.name);
                kiln_build_output_clear(&o);
        }
}

static void test_progress_mode(void **state)
{
        (void)state;
        enum kiln_progress_mode m;
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        assert_int_equal(kiln_progress_mode_parse("auto", fds[1], &m), 0);
        assert_int_equal(m, KILN_PROGRESS_PLAIN); /* a pipe is no terminal */
        assert_int_equal(kiln_progress_mode_parse("plain", fds[1], &m), 0);
        assert_int_equal(m, KILN_PROGRESS_PLAIN);
        assert_int_equal(kiln_progress_mode_parse("tty", fds[1], &m), 0);
        assert_int_equal(m, KILN_PROGRESS_TTY);
        assert_int_equal(kiln_progress_mode_parse("quiet", fds[1], &m), 0);
        assert_int_equal(m, KILN_PROGRESS_QUIET);
        assert_int_equal(kiln_progress_mode_parse("rawjson", fds[1], &m), -EINVAL);
        assert_int_equal(kiln_progress_mode_parse("", fds[1], &m), -EINVAL);
        close(fds[0]);
        close(fds[1]);
}

/* several stages (threads) report at once, their output in odd chunks:
 * every line is whole and names its step, and each step's lines are in
 * order */
#define N_THREADS 4
#define N_LINES 300

struct worker {
        struct kiln_progress *p;
        unsigned n;
};

static void *worker_main(void *ud)
{
        struct worker *w = ud;
        char label[16];
        snprintf(label, sizeof(label), "s%u", w->n);
        kiln_progress_step_begin(w->p, w->n, label, 2, 3, "RUN work", false);
        int wfd = -1;
        bool piped = w->n % 2 == 0; /* half through a pipe, as RUN's output */
        if (piped)
                assert_int_equal(kiln_progress_pipe_open(w->p, w->n, &wfd), 0);
        char all[N_LINES * 32];
        size_t len = 0;
        for (int i = 0; i < N_LINES; i++)
                len += (size_t)snprintf(all + len, sizeof(all) - len, "step%u-line%03d-%s\n", w->n, i,
                                        i % 7 ? "x" : "a-longer-piece-of-text");
        for (size_t off = 0; off < len;) {
                size_t k = KILN_MIN(len - off, (size_t)(1 + (off * 7919) % 61)); /* cut anywhere */
                if (piped)
                        assert_int_equal(write(wfd, all + off, k), (ssize_t)k);
                else
                        kiln_progress_step_output(w->p, w->n, all + off, k);
                off += k;
        }
        if (piped)
                kiln_progress_pipe_close(w->p, w->n);
        kiln_progress_message(w->p, "warning from %u", w->n);
        kiln_progress_step_end(w->p, w->n, true);
        return NULL;
}

static void test_progress_plain_threads(void **state)
{
        (void)state;
        FILE *f = tmpfile();
        assert_non_null(f);
        struct kiln_progress *p = kiln_progress_new(KILN_PROGRESS_PLAIN, fileno(f));
        pthread_t t[N_THREADS];
        struct worker w[N_THREADS];
        for (unsigned i = 0; i < N_THREADS; i++) {
                w[i] = (struct worker){ p, i + 1 };
                assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
        }
        for (unsigned i = 0; i < N_THREADS; i++)
                pthread_join(t[i], NULL);
        kiln_progress_free(p);
        rewind(f);
        int next[N_THREADS + 1] = { 0 };
        bool begun[N_THREADS + 1] = { false }, done[N_THREADS + 1] = { false };
        char line[256];
        while (fgets(line, sizeof(line), f)) {
                unsigned n;
                int pos = 0;
                assert_int_equal(line[strlen(line) - 1], '\n');
                if (!strncmp(line, "warning from ", 13))
                        continue;
                assert_int_equal(sscanf(line, "#%u %n", &n, &pos), 1);
                assert_true(n >= 1 && n <= N_THREADS);
                const char *rest = line + pos;
                char want[64];
                snprintf(want, sizeof(want), "[s%u 2/3] RUN work\n", n);
                if (!strcmp(rest, want)) {
                        assert_false(begun[n]);
                        begun[n] = true;
                        continue;
                }
                if (!strncmp(rest, "DONE ", 5)) {
                        assert_int_equal(next[n], N_LINES);
                        done[n] = true;
                        continue;
                }
                assert_true(begun[n]);
                snprintf(want, sizeof(want), "step%u-line%03d-%s\n", n, next[n],
                         next[n] % 7 ? "x" : "a-longer-piece-of-text");
                assert_string_equal(rest, want);
                next[n]++;
        }
        for (unsigned i = 1; i <= N_THREADS; i++)
                assert_true(done[i]);
        fclose(f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_output_parse),
                cmocka_unit_test(test_progress_mode),
                cmocka_unit_test(test_progress_plain_threads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
