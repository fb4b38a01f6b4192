/* SPDX-License-Identifier: Apache-2.0 */
/* kiln build: the history entries' created_by, as buildah writes them
 * (lib/build/history.c). */
#pragma once

#include <jansson.h>
#include "kiln/dockerfile.h"

/* "/bin/sh -c #(nop) " + the instruction as written (the logical line,
 * variables not expanded): buildah's text for every instruction that is not
 * RUN, COPY nor ADD. Caller frees. */
char *build_history_nop(const struct kiln_df_instruction *in);

/* "/bin/sh -c #(nop) ARG K1 K2": the sorted names of the stage's ARGs that
 * have a value (args: name -> string, or null for no value). Caller frees. */
char *build_history_arg(json_t *args);

/* RUN: "/bin/sh -c " + what follows the keyword as written (flags and the
 * JSON of an exec form included), after "|N K=V ..." (sorted) when the
 * stage's ARGs have values, a value the config's Env sets taking its place.
 * env is the config's Env array (may be NULL). Caller frees. */
char *build_history_run(const struct kiln_df_instruction *in, json_t *args, json_t *env);

/* A --label of the command line: buildah adds it to the last stage as
 * `LABEL "key"="value"` (Go-quoted), a history entry of its own. Caller
 * frees. */
char *build_history_label(const char *key, const char *value);
