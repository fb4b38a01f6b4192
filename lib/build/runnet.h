/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network of a RUN step (lib/build/runnet.c): RUN --network= or kiln
 * build --network, default | host | none. default is a network namespace
 * of the step's own with its own /etc/hosts and /etc/resolv.conf
 * (kiln_build_net_create in lib/container/buildnet.c): on kiln's bridge as
 * root, through pasta rootless, as kiln run; when that cannot be made, one
 * warning a build and loopback only. See docs/internals/build.md ("RUN
 * --network").
 */
#pragma once

#include <signal.h>
#include "kiln/build.h"
#include "kiln/container.h"
#include "kiln/runtime.h"

struct build_runnet {
        enum kiln_netns_mode netns;   /* for kiln_run_opts.netns */
        struct kiln_build_net *net;   /* default on the bridge: netns_path, hosts, resolv.conf */
        char *hosts_path;             /* the files to bind-mount (in the step's dir) */
        char *resolv_path;
        sigset_t old_mask;
        bool masked;
};

/* "default", "host", "none" -> mode; -EINVAL otherwise. */
int build_network_parse(const char *s, enum kiln_build_network *ret);

/*
 * Prepare the step's network: mode, in the step directory dir (hosts and
 * resolv.conf written there), hostname for /etc/hosts. While the step's
 * namespace exists, SIGINT, SIGTERM, SIGHUP and SIGQUIT are held (and
 * forwarded to the RUN by the runtime), so that build_runnet_done always
 * releases the address and the namespace before one of them ends kiln.
 * *fallback_warned: set once the bridge failed; later steps go straight
 * to loopback only (warn(ud, msg) was called once).
 */
int build_runnet_setup(struct kiln_store *s, enum kiln_build_network mode, const char *dir, const char *hostname,
                       bool *fallback_warned, void (*warn)(void *ud, const char *msg), void *ud,
                       struct build_runnet *rn, struct kiln_error *err);
/* Undo build_runnet_setup (namespace removed, lease released, signal mask
 * restored: a held signal then takes effect). Idempotent. */
void build_runnet_done(struct build_runnet *rn);
