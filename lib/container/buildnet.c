/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network of a kiln build RUN step (include/kiln/container.h,
 * kiln_build_net_create): network.c's bridge setup as root, pasta.c's
 * rootless network otherwise, driven by a container-shaped record that
 * exists only in memory. Its ID is 64 random hex digits, so that
 * network.c's lease file treats it as any container's (a lease whose
 * namespace is gone is stale) and its veth ("kv" + 12 hex) never collides
 * with a container's. pasta keeps its pid file in ROOT/containers/<id>,
 * made here for the step and removed with it.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "container-internal.h"
#include "kiln/fs.h"

static void random_id(char out[65])
{
        uint8_t raw[32];
        size_t got = 0;
        while (got < sizeof(raw)) {
                ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        /* no entropy source at all: pid and time, still unique enough per host */
                        snprintf((char *)raw, sizeof(raw), "%d-%ld", (int)getpid(), (long)time(NULL));
                        break;
                }
                got += (size_t)n;
        }
        for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

int kiln_build_net_create(struct kiln_store *s, const char *hostname, struct kiln_build_net **ret,
                          struct kiln_error *err)
{
        char id[65];
        random_id(id);
        /* rootless kiln is uid 0 in its own user namespace: not root */
        bool pasta = geteuid() != 0 || kiln_in_userns();
        json_t *netopts = NULL;
        int r;
        if (pasta) {
                if (!ctr_pasta_available())
                        return kiln_err(err, -ENOENT, "network: pasta not found (install passt)");
                netopts = json_pack("{s:b, s:b}", "Default", 0, "Sandbox", 1);
        } else if ((r = ctr_net_config(false, &netopts, err)) < 0) {
                return r;
        }
        json_t *doc = json_pack("{s:s, s:{s:s}, s:{s:o}, s:{s:s}}", "Id", id, "HostConfig", "NetworkMode",
                                pasta ? "pasta" : "bridge", "RunOpts", "Network", netopts, "Config", "Hostname",
                                hostname ? hostname : "");
        _cleanup_free_ char *dir = pasta ? ctr_dir(s, id) : NULL;
        r = dir ? kiln_fs_mkdir_p(AT_FDCWD, dir, 0700) : 0;
        if (r < 0)
                kiln_err(err, r, "network: %s: %s", dir, kiln_strerror(r));
        else
                r = ctr_net_setup(s, doc, err);
        if (r < 0) {
                if (dir)
                        kiln_fs_rm_rf_at(AT_FDCWD, dir);
                json_decref(doc);
                return r;
        }
        json_t *ns = json_object_get(doc, "NetworkSettings");
        struct kiln_build_net *n = kiln_xcalloc(1, sizeof(*n));
        n->store = s;
        n->doc = doc;
        n->netns_path = ctr_net_netns_path(id);
        n->address = kiln_xstrdup(json_string_value(json_object_get(ns, "IPAddress")) ?: "");
        n->gateway = kiln_xstrdup(json_string_value(json_object_get(ns, "Gateway")) ?: "");
        /* docker's container hosts file, with the step's own name (on its
         * address; with pasta, which has the host's, docker's 127.0.1.1) */
        n->hosts = kiln_xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                                  "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                                  "ff02::2\tip6-allrouters\n%s\t%s\n",
                                  *n->address ? n->address : "127.0.1.1", hostname ? hostname : "");
        n->resolv_conf = ctr_resolv_conf(false);
        *ret = n;
        return 0;
}

void kiln_build_net_free(struct kiln_build_net *n)
{
        if (!n)
                return;
        ctr_net_teardown(n->store, n->doc);
        if (ctr_net_is_pasta(n->doc)) {
                _cleanup_free_ char *dir = ctr_dir(n->store, json_string_value(json_object_get(n->doc, "Id")));
                kiln_fs_rm_rf_at(AT_FDCWD, dir);
        }
        json_decref(n->doc);
        free(n->netns_path);
        free(n->address);
        free(n->gateway);
        free(n->hosts);
        free(n->resolv_conf);
        free(n);
}
