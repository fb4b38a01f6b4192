/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading an OCI linux.seccomp object with libseccomp, following runc's
 * rules: unknown syscall names are skipped, rules whose action equals the
 * default action are skipped, several conditions on the same argument
 * become separate rules (OR) while conditions on different arguments form
 * one rule (AND). NO_NEW_PRIVS is left to the caller (the runtime sets it
 * as process.noNewPrivileges says), so the filter can be loaded earlier by
 * a process with CAP_SYS_ADMIN.
 */
#include <errno.h>
#include <seccomp.h>
#include <string.h>

#include "kiln/runtime.h"
#include "runtime-internal.h"

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

/* An OCI action name (+ errno for ERRNO/TRACE) to a libseccomp action. */
static int parse_action(const char *name, json_t *errno_ret, uint32_t *ret)
{
        uint32_t e = EPERM;
        if (json_is_integer(errno_ret)) {
                json_int_t v = json_integer_value(errno_ret);
                if (v < 0 || v > 0xffff)
                        return -EINVAL;
                e = (uint32_t)v;
        }
        if (!strcmp(name, "SCMP_ACT_ALLOW"))
                *ret = SCMP_ACT_ALLOW;
        else if (!strcmp(name, "SCMP_ACT_ERRNO"))
                *ret = SCMP_ACT_ERRNO(e);
        else if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD"))
                *ret = SCMP_ACT_KILL_THREAD;
        else if (!strcmp(name, "SCMP_ACT_KILL_PROCESS"))
                *ret = SCMP_ACT_KILL_PROCESS;
        else if (!strcmp(name, "SCMP_ACT_TRAP"))
                *ret = SCMP_ACT_TRAP;
        else if (!strcmp(name, "SCMP_ACT_TRACE"))
                *ret = SCMP_ACT_TRACE(e);
        else if (!strcmp(name, "SCMP_ACT_LOG"))
                *ret = SCMP_ACT_LOG;
        else if (!strcmp(name, "SCMP_ACT_NOTIFY"))
                return -KILN_EUNSUPPORTED;
        else
                return -EINVAL;
        return 0;
}

static const struct {
        const char *name;
        uint32_t token;
} arches[] = {
        { "SCMP_ARCH_NATIVE", SCMP_ARCH_NATIVE },     { "SCMP_ARCH_X86", SCMP_ARCH_X86 },
        { "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },     { "SCMP_ARCH_X32", SCMP_ARCH_X32 },
        { "SCMP_ARCH_ARM", SCMP_ARCH_ARM },           { "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 },
        { "SCMP_ARCH_MIPS", SCMP_ARCH_MIPS },         { "SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64 },
        { "SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32 }, { "SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL },
        { "SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64 }, { "SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32 },
        { "SCMP_ARCH_PPC", SCMP_ARCH_PPC },           { "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64 },
        { "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE },   { "SCMP_ARCH_S390", SCMP_ARCH_S390 },
        { "SCMP_ARCH_S390X", SCMP_ARCH_S390X },
#ifdef SCMP_ARCH_RISCV64
        { "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64 },
#endif
#ifdef SCMP_ARCH_LOONGARCH64
        { "SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64 },
#endif
};

static const struct {
        const char *name;
        enum scmp_compare op;
} cmp_ops[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
        { "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
        { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

/* Parse syscalls[idx].args into conds (at most 6 per index, 6 indexes). */
static int parse_args(json_t *args, struct scmp_arg_cmp *conds, size_t *ret_n, bool *ret_same_index,
                      size_t idx, struct kiln_error *err)
{
        size_t n = 0, i;
        unsigned count[6] = { 0 };
        bool same = false;
        json_t *a;
        if (json_array_size(args) > 36)
                return kiln_err(err, -EINVAL, "seccomp: syscalls[%zu]: too many args", idx);
        json_array_foreach(args, i, a) {
                json_t *index = json_object_get(a, "index");
                json_t *op = json_object_get(a, "op");
                json_t *v1 = json_object_get(a, "value");
                json_t *v2 = json_object_get(a, "valueTwo");
                if (!json_is_integer(index) || json_integer_value(index) < 0 ||
                    json_integer_value(index) > 5 || !json_is_string(op))
                        return kiln_err(err, -EINVAL, "seccomp: syscalls[%zu].args[%zu]: invalid", idx, i);
                size_t k;
                for (k = 0; k < KILN_ARRAY_SIZE(cmp_ops); k++)
                        if (!strcmp(cmp_ops[k].name, json_string_value(op)))
                                break;
                if (k == KILN_ARRAY_SIZE(cmp_ops))
                        return kiln_err(err, -EINVAL, "seccomp: syscalls[%zu].args[%zu]: unknown op '%s'",
                                        idx, i, json_string_value(op));
                unsigned ix = (unsigned)json_integer_value(index);
                if (++count[ix] > 1)
                        same = true;
                conds[n++] = (struct scmp_arg_cmp){
                        .arg = ix,
                        .op = cmp_ops[k].op,
                        /* jansson integers are signed 64-bit; the bits are what count */
                        .datum_a = json_is_integer(v1) ? (scmp_datum_t)json_integer_value(v1) : 0,
                        .datum_b = json_is_integer(v2) ? (scmp_datum_t)json_integer_value(v2) : 0,
                };
        }
        *ret_n = n;
        *ret_same_index = same;
        return 0;
}

static const struct {
        const char *name;
        enum scmp_filter_attr attr;
} filter_flags[] = {
        { "SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC },
        { "SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG },
        { "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB },
};

int kiln_seccomp_load(json_t *seccomp, struct kiln_error *err)
{
        if (!seccomp || json_is_null(seccomp))
                return 0;
        if (!json_is_object(seccomp))
                return kiln_err(err, -EINVAL, "seccomp: not an object");
        json_t *def = json_object_get(seccomp, "defaultAction");
        if (!json_is_string(def))
                return kiln_err(err, -EINVAL, "seccomp: defaultAction missing");
        uint32_t def_act;
        int r = parse_action(json_string_value(def), json_object_get(seccomp, "defaultErrnoRet"), &def_act);
        if (r < 0)
                return kiln_err(err, r, "seccomp: defaultAction '%s': %s", json_string_value(def),
                                r == -KILN_EUNSUPPORTED ? "not supported" : "unknown action");

        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(def_act);
        if (!ctx)
                return kiln_err(err, -ENOMEM, "seccomp: cannot initialise the filter");
        /* no_new_privs is the runtime's business (process.noNewPrivileges) */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return kiln_err(err, r, "seccomp: cannot clear the nnp attribute: %s", strerror(-r));

        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(seccomp, "architectures"), i, v) {
                const char *name = json_string_value(v);
                size_t k;
                for (k = 0; name && k < KILN_ARRAY_SIZE(arches); k++)
                        if (!strcmp(arches[k].name, name))
                                break;
                if (!name || k == KILN_ARRAY_SIZE(arches))
                        return kiln_err(err, -EINVAL, "seccomp: unknown architecture '%s'", name ? name : "");
                r = seccomp_arch_add(ctx, arches[k].token);
                if (r < 0 && r != -EEXIST)
                        return kiln_err(err, r, "seccomp: architecture %s: %s", name, strerror(-r));
        }
        json_array_foreach(json_object_get(seccomp, "flags"), i, v) {
                const char *name = json_string_value(v);
                size_t k;
                for (k = 0; name && k < KILN_ARRAY_SIZE(filter_flags); k++)
                        if (!strcmp(filter_flags[k].name, name))
                                break;
                if (!name || k == KILN_ARRAY_SIZE(filter_flags))
                        return kiln_err(err, -KILN_EUNSUPPORTED, "seccomp: unsupported flag '%s'",
                                        name ? name : "");
                r = seccomp_attr_set(ctx, filter_flags[k].attr, 1);
                if (r < 0)
                        return kiln_err(err, r, "seccomp: flag %s: %s", name, strerror(-r));
        }

        json_t *call;
        json_array_foreach(json_object_get(seccomp, "syscalls"), i, call) {
                json_t *action = json_object_get(call, "action");
                if (!json_is_string(action))
                        return kiln_err(err, -EINVAL, "seccomp: syscalls[%zu]: action missing", i);
                uint32_t act;
                r = parse_action(json_string_value(action), json_object_get(call, "errnoRet"), &act);
                if (r < 0)
                        return kiln_err(err, r, "seccomp: syscalls[%zu]: action '%s': %s", i,
                                        json_string_value(action),
                                        r == -KILN_EUNSUPPORTED ? "not supported" : "unknown action");
                /* libseccomp refuses rules that repeat the default action */
                if (act == def_act)
                        continue;
                struct scmp_arg_cmp conds[36];
                size_t n_conds = 0;
                bool same_index = false;
                r = parse_args(json_object_get(call, "args"), conds, &n_conds, &same_index, i, err);
                if (r < 0)
                        return r;
                size_t j;
                json_t *name;
                json_array_foreach(json_object_get(call, "names"), j, name) {
                        if (!json_is_string(name))
                                return kiln_err(err, -EINVAL, "seccomp: syscalls[%zu].names[%zu]: not a string",
                                                i, j);
                        int nr = seccomp_syscall_resolve_name(json_string_value(name));
                        if (nr == __NR_SCMP_ERROR)
                                continue; /* not known on this architecture/libseccomp */
                        if (n_conds == 0 || !same_index) {
                                r = seccomp_rule_add_array(ctx, act, nr, (unsigned)n_conds,
                                                           n_conds ? conds : NULL);
                        } else {
                                /* conditions on the same argument: one rule each (OR) */
                                r = 0;
                                for (size_t k = 0; k < n_conds && r >= 0; k++)
                                        r = seccomp_rule_add_array(ctx, act, nr, 1, &conds[k]);
                        }
                        if (r < 0)
                                return kiln_err(err, r, "seccomp: cannot add a rule for %s: %s",
                                                json_string_value(name), strerror(-r));
                }
        }
        r = seccomp_load(ctx);
        if (r < 0)
                return kiln_err(err, r, "seccomp: cannot load the filter: %s", strerror(-r));
        return 0;
}
