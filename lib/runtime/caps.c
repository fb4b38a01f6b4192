/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Capabilities of the container process: the name table and applying an
 * OCI process.capabilities object (bounding, effective, inheritable,
 * permitted, ambient) with capset(2) and prctl(2) directly — the five sets
 * are plain bit masks, libcap would add nothing but a conversion.
 */
#include <linux/capability.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "rt-process.h"

/* Index = capability number (linux/capability.h). */
static const char *const cap_names[] = {
        "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
        "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
        "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
        "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
};

int kiln_cap_from_name(const char *name)
{
        if (!name)
                return -1;
        const char *n = name;
        if (!strncasecmp(n, "CAP_", 4))
                n += 4;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(cap_names); i++)
                if (!strcasecmp(cap_names[i] + 4, n))
                        return (int)i;
        return -1;
}

/* The number of the last capability the kernel knows (CAP_LAST_CAP as a
 * fallback); capabilities past it are silently ignored, as runc does. */
static int last_cap(void)
{
        static int cached = -1;
        if (cached >= 0)
                return cached;
        int v = CAP_LAST_CAP;
        FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
        if (f) {
                int x;
                if (fscanf(f, "%d", &x) == 1 && x > 0 && x < 64)
                        v = x;
                fclose(f);
        }
        cached = v;
        return v;
}

/* Names of one set to a mask; unknown names are an error, known names the
 * kernel lacks are skipped. */
static int set_to_mask(json_t *set, const char *what, uint64_t *ret, struct kiln_error *err)
{
        uint64_t m = 0;
        if (set && !json_is_null(set)) {
                if (!json_is_array(set))
                        return kiln_err(err, -EINVAL, "capabilities.%s: not an array", what);
                size_t i;
                json_t *v;
                json_array_foreach(set, i, v)
                {
                        const char *s = json_string_value(v);
                        int c = kiln_cap_from_name(s);
                        if (c < 0)
                                return kiln_err(err, -EINVAL, "unknown capability \"%s\"",
                                                s ? s : "(not a string)");
                        if (c <= last_cap())
                                m |= 1ULL << c;
                }
        }
        *ret = m;
        return 0;
}

static int capget_masks(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
        struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct d[2];
        memset(d, 0, sizeof(d));
        if (syscall(SYS_capget, &h, d) < 0)
                return -errno;
        *eff = d[0].effective | ((uint64_t)d[1].effective << 32);
        *prm = d[0].permitted | ((uint64_t)d[1].permitted << 32);
        *inh = d[0].inheritable | ((uint64_t)d[1].inheritable << 32);
        return 0;
}

static int capset_masks(uint64_t eff, uint64_t prm, uint64_t inh)
{
        struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct d[2];
        d[0].effective = (uint32_t)eff;
        d[1].effective = (uint32_t)(eff >> 32);
        d[0].permitted = (uint32_t)prm;
        d[1].permitted = (uint32_t)(prm >> 32);
        d[0].inheritable = (uint32_t)inh;
        d[1].inheritable = (uint32_t)(inh >> 32);
        if (syscall(SYS_capset, &h, d) < 0)
                return -errno;
        return 0;
}

int kiln_caps_apply(json_t *capabilities, struct kiln_error *err)
{
        uint64_t bnd = 0, eff = 0, inh = 0, prm = 0, amb = 0;
        int r;
        if (capabilities && !json_is_null(capabilities) && !json_is_object(capabilities))
                return kiln_err(err, -EINVAL, "process.capabilities: not an object");
        if ((r = set_to_mask(json_object_get(capabilities, "bounding"), "bounding", &bnd, err)) < 0 ||
            (r = set_to_mask(json_object_get(capabilities, "effective"), "effective", &eff, err)) < 0 ||
            (r = set_to_mask(json_object_get(capabilities, "inheritable"), "inheritable", &inh,
                             err)) < 0 ||
            (r = set_to_mask(json_object_get(capabilities, "permitted"), "permitted", &prm, err)) < 0 ||
            (r = set_to_mask(json_object_get(capabilities, "ambient"), "ambient", &amb, err)) < 0)
                return r;

        /* After a setuid with PR_SET_KEEPCAPS the effective set is empty but
         * the permitted set is kept: raise effective to permitted so that
         * dropping from the bounding set (CAP_SETPCAP) is allowed. */
        uint64_t cur_eff = 0, cur_prm = 0, cur_inh = 0;
        if ((r = capget_masks(&cur_eff, &cur_prm, &cur_inh)) < 0)
                return kiln_err(err, r, "capget: %s", strerror(-r));
        if (cur_eff != cur_prm && (r = capset_masks(cur_prm, cur_prm, cur_inh)) < 0)
                return kiln_err(err, r, "capset: %s", strerror(-r));

        for (int c = 0; c <= last_cap(); c++) {
                if (bnd & (1ULL << c))
                        continue;
                if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) <= 0)
                        continue;
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
                        r = -errno;
                        return kiln_err(err, r, "drop %s from the bounding set: %s",
                                        cap_names[c], strerror(-r));
                }
        }
        /* The effective set must be a subset of permitted. */
        if ((r = capset_masks(eff & prm, prm, inh)) < 0)
                return kiln_err(err, r, "capset: %s", strerror(-r));
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return kiln_err(err, -errno, "clear ambient capabilities: %s", strerror(errno));
        for (int c = 0; c <= last_cap(); c++) {
                if (!(amb & (1ULL << c)))
                        continue;
                /* an ambient capability must be permitted and inheritable;
                 * runc ignores the ones that are not */
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM)
                        return kiln_err(err, -errno, "raise ambient %s: %s", cap_names[c],
                                        strerror(errno));
        }
        return 0;
}

/* Name of capability c ("CAP_CHOWN"), NULL past the table. */
const char *kiln_cap_name(int c)
{
        if (c < 0 || (size_t)c >= KILN_ARRAY_SIZE(cap_names))
                return NULL;
        return cap_names[c];
}
