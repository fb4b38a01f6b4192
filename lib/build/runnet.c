/* SPDX-License-Identifier: Apache-2.0 */
/* RUN's network (see runnet.h and docs/internals/build.md, "RUN --network"). */
#include <fcntl.h>
#include <string.h>
#include "kiln/fs.h"
#include "runnet.h"

int build_network_parse(const char *s, enum kiln_build_network *ret)
{
        if (!strcmp(s, "default"))
                *ret = KILN_BUILD_NETWORK_DEFAULT;
        else if (!strcmp(s, "host"))
                *ret = KILN_BUILD_NETWORK_HOST;
        else if (!strcmp(s, "none"))
                *ret = KILN_BUILD_NETWORK_NONE;
        else
                return -EINVAL;
        return 0;
}

/* rootless kiln is uid 0 in its own user namespace: not root */
static bool is_root(void)
{
        return geteuid() == 0 && !kiln_in_userns();
}

int build_runnet_setup(struct kiln_store *s, enum kiln_build_network mode, const char *dir, const char *hostname,
                       bool *fallback_warned, void (*warn)(void *ud, const char *msg), void *ud,
                       struct build_runnet *rn, struct kiln_error *err)
{
        *rn = (struct build_runnet){ .netns = KILN_NETNS_HOST };
        if (mode == KILN_BUILD_NETWORK_HOST)
                return 0;
        if (mode == KILN_BUILD_NETWORK_NONE) {
                rn->netns = KILN_NETNS_PRIVATE; /* the runtime brings lo up */
                return 0;
        }
        if (*fallback_warned) {
                rn->netns = KILN_NETNS_PRIVATE;
                return 0;
        }
        sigset_t hold;
        sigemptyset(&hold);
        sigaddset(&hold, SIGINT);
        sigaddset(&hold, SIGTERM);
        sigaddset(&hold, SIGHUP);
        sigaddset(&hold, SIGQUIT);
        pthread_sigmask(SIG_BLOCK, &hold, &rn->old_mask);
        rn->masked = true;
        struct kiln_error nerr = { 0 };
        int r = kiln_build_net_create(s, hostname, &rn->net, &nerr);
        if (r < 0) {
                /* as kiln run's default network: loopback only, and say so once */
                build_runnet_done(rn);
                *fallback_warned = true;
                _cleanup_free_ char *msg = kiln_xasprintf("%s network unavailable (%s): RUN steps have loopback only",
                                                          is_root() ? "bridge" : "pasta",
                                                          nerr.msg[0] ? nerr.msg : kiln_strerror(r));
                if (warn)
                        warn(ud, msg);
                rn->netns = KILN_NETNS_PRIVATE;
                return 0;
        }
        rn->netns = KILN_NETNS_PATH;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r = dfd < 0 ? -errno : kiln_fs_write_replace(dfd, "hosts", rn->net->hosts, strlen(rn->net->hosts), 0644);
        if (r >= 0)
                r = kiln_fs_write_replace(dfd, "resolv.conf", rn->net->resolv_conf, strlen(rn->net->resolv_conf),
                                          0644);
        if (r < 0) {
                build_runnet_done(rn);
                return kiln_err(err, r, "build: %s/hosts: %s", dir, kiln_strerror(r));
        }
        rn->hosts_path = kiln_xasprintf("%s/hosts", dir);
        rn->resolv_path = kiln_xasprintf("%s/resolv.conf", dir);
        return 0;
}

void build_runnet_done(struct build_runnet *rn)
{
        kiln_build_net_free(rn->net);
        rn->net = NULL;
        free(rn->hosts_path);
        free(rn->resolv_path);
        rn->hosts_path = rn->resolv_path = NULL;
        if (rn->masked)
                pthread_sigmask(SIG_SETMASK, &rn->old_mask, NULL);
        rn->masked = false;
}
