/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for lib/oci/reference.c. Beyond "no crash", it checks
 * that whatever parses round-trips: the canonical and the familiar strings
 * parse back to the same canonical string.
 */
#include <stdint.h>
#include <string.h>
#include "kiln/reference.h"

/* Parse s again and check it normalizes to want. */
static void check_round_trip(const char *s, const char *want)
{
        struct kiln_reference *r = NULL;
        if (kiln_reference_parse(s, 0, &r, NULL) < 0)
                __builtin_trap();
        char *again = kiln_reference_string(r);
        if (strcmp(again, want) != 0)
                __builtin_trap();
        free(again);
        kiln_reference_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* a C string: stop at the first NUL, as any caller would */
        char *s = kiln_xstrndup((const char *)data, size);
        (void)kiln_reference_is_id_prefix(s);

        static const unsigned flag_sets[] = {
                0,
                KILN_REF_DEFAULT_TAG,
                KILN_REF_NO_DIGEST,
                KILN_REF_DEFAULT_TAG | KILN_REF_NO_DIGEST,
        };
        for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
                struct kiln_error err = { 0 };
                struct kiln_reference *r = NULL;
                if (kiln_reference_parse(s, flag_sets[i], &r, &err) < 0) {
                        /* every failure says why */
                        if (!err.msg[0] || r)
                                __builtin_trap();
                        continue;
                }
                if (!r->domain || !r->path || !*r->domain || !*r->path)
                        __builtin_trap();
                if ((flag_sets[i] & KILN_REF_NO_DIGEST) && r->digest)
                        __builtin_trap();
                if ((flag_sets[i] & KILN_REF_DEFAULT_TAG) && !r->tag && !r->digest)
                        __builtin_trap();
                char *canon = kiln_reference_string(r);
                char *familiar = kiln_reference_familiar(r);
                char *repo = kiln_reference_repository(r);
                char *frepo = kiln_reference_familiar_repository(r);
                check_round_trip(canon, canon);
                check_round_trip(familiar, canon);
                free(canon);
                free(familiar);
                free(repo);
                free(frepo);
                kiln_reference_free(r);
        }
        free(s);
        return 0;
}
