/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kiln build front end: the Dockerfile parser and Docker's shell-word
 * expander, with BuildKit's behaviour (frontend/dockerfile/parser,
 * instructions and shell). See docs/internals/build.md.
 *
 * The parser turns a Dockerfile into a flat list of typed instructions,
 * grouped into stages. It does no variable expansion: the executor owns the
 * ARG/ENV scopes and calls kiln_df_expand() on each instruction, just before
 * dispatching it, with a lookup callback over the current scope.
 *
 *   struct kiln_dockerfile *df = NULL;
 *   if (kiln_dockerfile_parse(buf, len, "Dockerfile", &df, &err) < 0)
 *           ... err.msg is "Dockerfile:7: unknown instruction: RUNN"
 *   for each stage s, for i in [s->first, s->first + s->count):
 *           struct kiln_df_instruction *in = &df->instructions[i];
 *           kiln_df_expand(in, df->escape, lookup, scope, &err);
 *           ... dispatch in->cmd
 *   kiln_dockerfile_free(df);
 *
 * All strings are NUL-terminated and owned by the structure they sit in.
 * String vectors are NULL-terminated (kiln_strv_*), never NULL themselves
 * where documented "always set".
 */
#pragma once

#include "kiln/base.h"

/* ---- the shell-word expander (lib/build/shell.c) ---- */

/*
 * Look a variable up: return true and set *ret_value (borrowed; it must
 * stay valid until the expansion call returns) when the variable is set,
 * false when it is unset. An empty value is "set".
 */
typedef bool (*kiln_shell_lookup_fn)(void *userdata, const char *name, const char **ret_value);

/*
 * One lexer configuration, as BuildKit's shell.Lex. Zero-initialise and set
 * escape (0 means '\\'), lookup (NULL: every variable is unset) and the
 * flags you need; the defaults are what BuildKit uses for instructions.
 */
struct kiln_shell {
        char escape;              /* '\\' or '`' (the "# escape=" directive) */
        bool raw_quotes;          /* keep ' and " in the result */
        bool raw_escapes;         /* keep the escape characters in the result */
        bool skip_process_quotes; /* ' and " are ordinary characters */
        bool skip_unset;          /* leave $X, ${X...} of unset X as written */
        kiln_shell_lookup_fn lookup;
        void *userdata;
};

/*
 * ProcessWord: expand one word ($X, ${X}, ${X:-w}, ${X-w}, ${X:+w}, ${X+w},
 * ${X:?m}, ${X?m}, ${X#p}, ${X##p}, ${X%p}, ${X%%p}, ${X/p/r}, ${X//p/r}),
 * remove quotes and escapes, keep the spaces. *ret is malloc'ed.
 * Errors (-KILN_EFORMAT) read like BuildKit's:
 * `failed to process "${X:?}": X: is not allowed to be empty`.
 */
int kiln_shell_word(const struct kiln_shell *sh, const char *word, char **ret,
                    struct kiln_error *err);

/*
 * ProcessWords: the same expansion, then split into words at white space
 * outside quotes and escapes (a variable's value is split too, a quoted
 * empty string gives no word). *ret is a malloc'ed NULL-terminated vector.
 */
int kiln_shell_words(const struct kiln_shell *sh, const char *word, char ***ret,
                     struct kiln_error *err);

/* ---- the Dockerfile ---- */

enum kiln_df_cmd {
        KILN_DF_ADD,
        KILN_DF_ARG,
        KILN_DF_CMD,
        KILN_DF_COPY,
        KILN_DF_ENTRYPOINT,
        KILN_DF_ENV,
        KILN_DF_EXPOSE,
        KILN_DF_FROM,
        KILN_DF_HEALTHCHECK,
        KILN_DF_LABEL,
        KILN_DF_MAINTAINER,
        KILN_DF_ONBUILD,
        KILN_DF_RUN,
        KILN_DF_SHELL,
        KILN_DF_STOPSIGNAL,
        KILN_DF_USER,
        KILN_DF_VOLUME,
        KILN_DF_WORKDIR,
        KILN_DF__MAX,
};

/* "RUN", "COPY", ... (upper case); NULL when out of range. */
const char *kiln_df_cmd_name(enum kiln_df_cmd cmd);

/* A builder flag as written: "--name=value" or "--name" (value NULL). */
struct kiln_df_flag {
        char *name;  /* without the leading "--" */
        char *value; /* NULL for a bare flag ("--link") */
};

/* A heredoc attached to RUN, COPY or ADD (or ONBUILD of those). */
struct kiln_df_heredoc {
        char *name;    /* the delimiter word, quotes removed ("EOF") */
        char *content; /* the body, every line with its newline; with <<-
                          the leading tabs of each line are already gone */
        uint64_t fd;   /* "3<<EOF" gives 3; 0 when not given */
        bool expand;   /* false when any part of the delimiter was quoted */
        bool chomp;    /* "<<-": leading tabs stripped */
};

/* ENV/LABEL pair. Key and value are as written (quotes still in them):
 * kiln_df_expand() removes quotes and expands. */
struct kiln_df_kv {
        char *key;
        char *value;
        bool no_delim; /* the legacy "ENV key value" form */
};

/* ARG name[=default]. */
struct kiln_df_arg {
        char *key;
        char *value; /* NULL when there is no "=" */
};

/* HEALTHCHECK. */
struct kiln_df_health {
        char **test;            /* {"NONE"}, {"CMD", argv...} or {"CMD-SHELL", cmd} */
        int64_t interval_ns;    /* 0: not set */
        int64_t timeout_ns;
        int64_t start_period_ns;
        int64_t start_interval_ns;
        int retries;            /* 0: not set */
};

struct kiln_df_instruction {
        enum kiln_df_cmd cmd;
        char *keyword;         /* as written: "run", "Run", "RUN" */
        char *original;        /* the logical line: continuations joined,
                                  comments inside them dropped, as BuildKit's
                                  Node.Original */
        unsigned start_line;   /* 1-based first line */
        unsigned end_line;     /* last line, heredoc bodies included */
        char **comments;       /* the comment lines just above (without "#") */

        struct kiln_df_flag *flags; /* every flag as written, in order */
        size_t n_flags;
        char **args;           /* BuildKit's node arguments (always set): the
                                  JSON array items, or the words / whole rest of
                                  the line, depending on the instruction */
        bool json;             /* exec (JSON array) form */
        struct kiln_df_heredoc *heredocs;
        size_t n_heredocs;

        /* ---- typed views, filled for the instruction named ---- */

        /* RUN, CMD, ENTRYPOINT, SHELL: argv for the JSON form, a single
         * string (args joined with spaces) for the shell form; empty for
         * "RUN []"/"CMD"; NULL for an ENTRYPOINT without arguments. */
        char **cmdline;
        bool prepend_shell;    /* shell form: run through SHELL */

        /* ENV, LABEL */
        struct kiln_df_kv *kvs;
        size_t n_kvs;
        /* ARG */
        struct kiln_df_arg *arg_list;
        size_t n_arg_list;

        /* COPY, ADD: sources (paths, URLs) and destination; heredoc sources
         * (COPY <<EOF /x) are in inline_sources, pointing into heredocs. */
        char **sources;
        char *dest;
        struct kiln_df_heredoc **inline_sources;
        size_t n_inline_sources;

        /* FROM */
        char *base;            /* image or stage name */
        char *stage_name;      /* lowercased "AS" name; NULL when none */

        /* MAINTAINER, USER, WORKDIR, STOPSIGNAL: the single argument */
        char *value;
        /* EXPOSE (sorted as BuildKit sorts them), VOLUME (trimmed) */
        char **list;
        /* HEALTHCHECK */
        struct kiln_df_health *health;
        /* ONBUILD: the trigger text stored in the image config
         * (heredocs appended); parse it again when the trigger fires. */
        char *expression;
};

/* Named flag lookups on a parsed instruction. */
/* The last value given for --name (NULL if absent; "" can be a value). */
const char *kiln_df_flag_value(const struct kiln_df_instruction *in, const char *name);
/* A bool flag: true for "--name", "--name=true" (any case). */
bool kiln_df_flag_bool(const struct kiln_df_instruction *in, const char *name);
/* Was --name given at all? */
bool kiln_df_flag_used(const struct kiln_df_instruction *in, const char *name);
/* Every value of a repeatable flag (--mount, --exclude, --device); the
 * pointers are borrowed, the vector is malloc'ed (free it with free()). */
const char **kiln_df_flag_values(const struct kiln_df_instruction *in, const char *name);

struct kiln_df_stage {
        char *name;    /* lowercased AS name or NULL (alias of instructions[first]) */
        size_t from;   /* index of the FROM instruction */
        size_t first;  /* first instruction after FROM */
        size_t count;  /* instructions up to the next FROM */
};

struct kiln_dockerfile {
        char *filename;                    /* for messages: "Dockerfile" */
        char escape;                       /* '\\' or '`' */
        char *syntax;                      /* "# syntax=" value or NULL (ignored) */
        char *check;                       /* "# check=" value or NULL */
        struct kiln_df_instruction *instructions;
        size_t n_instructions;
        size_t n_meta_args;                /* ARGs before the first FROM:
                                              instructions[0 .. n_meta_args) */
        struct kiln_df_stage *stages;
        size_t n_stages;
        char **warnings;                   /* "Empty continuation line found in: ..." */
};

/*
 * Parse a Dockerfile. filename is only used in messages (NULL gives
 * "Dockerfile"). On failure returns -KILN_EFORMAT (or -KILN_ETOOBIG for a
 * line over 64 KiB) and err->msg is one line, "FILE:LINE: message", with
 * BuildKit's wording. *ret_df is set only on success; free it with
 * kiln_dockerfile_free().
 */
int kiln_dockerfile_parse(const char *data, size_t len, const char *filename,
                          struct kiln_dockerfile **ret_df, struct kiln_error *err);
void kiln_dockerfile_free(struct kiln_dockerfile *df);
KILN_DEFINE_CLEANUP(struct kiln_dockerfile *, kiln_dockerfile_free)

/* ---- expansion: which instructions and what in them ---- */

/*
 * Does BuildKit expand variables in this instruction (with the stage's
 * ARG/ENV scope)? ADD, ARG (default values), COPY, ENV, EXPOSE, FROM (base
 * and --platform, with the global ARGs only), LABEL, RUN (--mount values
 * only), STOPSIGNAL, USER, VOLUME, WORKDIR. Never: CMD, ENTRYPOINT,
 * HEALTHCHECK, MAINTAINER, ONBUILD, SHELL (and RUN's command itself).
 */
bool kiln_df_cmd_expands(enum kiln_df_cmd cmd);

/*
 * Expand in place what BuildKit expands in this instruction, with ProcessWord
 * (single words, quotes removed) unless noted:
 *  ENV, LABEL: every key and value;   ARG: each default value;
 *  ADD, COPY: sources, dest, --chown, --chmod, (ADD) --checksum, and the
 *             bodies of inline heredoc sources whose delimiter was unquoted
 *             (with quotes left alone, '\\' as escape);
 *  EXPOSE: every port with ProcessWords (a word may become several);
 *  FROM: base and --platform;  USER, WORKDIR, STOPSIGNAL: value;
 *  VOLUME: every item;  RUN: the value of every --mount field (see
 *  kiln_df_mount_fields()).
 * Other instructions are left alone. The flags in in->flags are rewritten
 * too so that kiln_df_flag_value() returns the expanded value.
 * COPY --from is not expanded (BuildKit rejects a --from that would change).
 * On error, returns -KILN_EFORMAT with "FILE:LINE: failed to process ..."
 * (filename as given to kiln_df_expand; NULL gives "Dockerfile") and the
 * instruction may be partly expanded.
 */
int kiln_df_expand(struct kiln_df_instruction *in, char escape, const char *filename,
                   kiln_shell_lookup_fn lookup, void *userdata, struct kiln_error *err);

/*
 * Split a RUN --mount value into its CSV fields ("type=cache",
 * "target=/x", "ro") as BuildKit does (quoted fields, "" escapes), and when
 * lookup is non-NULL expand the value part of every key=value field (keys
 * are lowercased, values ProcessWord'ed). *ret is a NULL-terminated vector.
 */
int kiln_df_mount_fields(const char *mount, char escape, kiln_shell_lookup_fn lookup,
                         void *userdata, char ***ret, struct kiln_error *err);

/* Go's time.ParseDuration (HEALTHCHECK options); 0 or -KILN_EFORMAT. */
int kiln_go_parse_duration(const char *s, int64_t *ret_ns, struct kiln_error *err);
