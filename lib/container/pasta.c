/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rootless network: pasta (Debian's passt package), as podman 5 uses.
 * The container gets a named network namespace (netns.c); pasta, started
 * from kiln's user namespace, joins it, gives it a tap device with the
 * host's addresses and routes (--config-net), carries its traffic through
 * ordinary sockets of the host, and listens on the published host ports
 * (-p) to forward them in. Nothing is forwarded from the namespace back to
 * the host's own ports (-T none -U none) and the gateway is not mapped to
 * the host (--no-map-gw), so the host's loopback services stay out of reach.
 * pasta writes its pid to ROOT/containers/<id>/pasta.pid; teardown stops it.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include "container-internal.h"
#include "kiln/fs.h"

bool ctr_pasta_available(void)
{
        _cleanup_free_ char *p = ctr_net_tool_path("pasta");
        return p != NULL;
}

bool ctr_net_is_pasta(json_t *doc)
{
        const char *m = json_string_value(json_object_get(json_object_get(doc, "HostConfig"), "NetworkMode"));
        return m && !strcmp(m, "pasta");
}

/* A free port on ip (any address when empty): the kernel's choice. */
static int free_port(const char *ip, bool udp)
{
        struct sockaddr_in a = { .sin_family = AF_INET };
        if (ip && *ip && inet_pton(AF_INET, ip, &a.sin_addr) != 1)
                return -EINVAL;
        int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        socklen_t len = sizeof(a);
        int r = bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0
                        ? -errno
                        : ntohs(a.sin_port);
        close(fd);
        return r;
}

static char *pidfile_path(struct kiln_store *s, const char *id)
{
        _cleanup_free_ char *dir = ctr_dir(s, id);
        return kiln_xasprintf("%s/pasta.pid", dir);
}

int ctr_pasta_setup(struct kiln_store *s, json_t *doc, struct kiln_error *err)
{
        const char *id = json_string_value(json_object_get(doc, "Id"));
        _cleanup_free_ char *nspath = ctr_net_netns_path(id);
        _cleanup_free_ char *pidfile = pidfile_path(s, id);
        if (!ctr_pasta_available())
                return kiln_err(err, -ENOENT, "network: pasta not found (install passt)");
        ctr_pasta_teardown(s, doc); /* an earlier start's */
        int r = ctr_netns_create(nspath, NULL, err);
        if (r < 0)
                return r;

        /* -p: docker's PortBindings, random host ports chosen now */
        json_t *ports = ctr_net_wanted_bindings(doc);
        json_t *actual = json_object();
        _cleanup_strv_free_ char **argv = NULL;
        const char *fixed[] = { "pasta", "--config-net", "--quiet", "--netns", nspath, "--netns-only",
                                "--no-map-gw", "-T", "none", "-U", "none", "-P", pidfile };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(fixed); i++)
                kiln_strv_push_take(&argv, kiln_xstrdup(fixed[i]));
        bool tcp = false, udp = false;
        const char *key;
        json_t *list;
        json_object_foreach(ports, key, list)
        {
                unsigned cport = 0;
                char proto[8] = "tcp";
                if (sscanf(key, "%u/%7s", &cport, proto) < 1 || !cport || cport > 65535) {
                        r = kiln_err(err, -EINVAL, "network: invalid port '%s'", key);
                        goto fail;
                }
                bool is_udp = !strcmp(proto, "udp");
                json_t *out = json_array();
                json_object_set_new(actual, key, out);
                size_t i;
                json_t *b;
                json_array_foreach(list, i, b)
                {
                        const char *hip = json_string_value(json_object_get(b, "HostIp"));
                        const char *hport = json_string_value(json_object_get(b, "HostPort"));
                        int hp = hport && *hport ? atoi(hport) : 0;
                        if (!hp && (hp = free_port(hip, is_udp)) < 0) {
                                r = kiln_err(err, hp, "network: no free host port for %s: %s", key,
                                             kiln_strerror(hp));
                                goto fail;
                        }
                        bool any = !hip || !*hip || !strcmp(hip, "0.0.0.0");
                        kiln_strv_push_take(&argv, kiln_xstrdup(is_udp ? "-u" : "-t"));
                        kiln_strv_push_take(&argv, any ? kiln_xasprintf("%d:%u", hp, cport)
                                                   : kiln_xasprintf("%s/%d:%u", hip, hp, cport));
                        char hps[16];
                        snprintf(hps, sizeof(hps), "%d", hp);
                        json_array_append_new(out, json_pack("{s:s, s:s}", "HostIp", any ? "0.0.0.0" : hip,
                                                             "HostPort", hps));
                        if (is_udp)
                                udp = true;
                        else
                                tcp = true;
                }
        }
        if (!tcp) {
                kiln_strv_push_take(&argv, kiln_xstrdup("-t"));
                kiln_strv_push_take(&argv, kiln_xstrdup("none"));
        }
        if (!udp) {
                kiln_strv_push_take(&argv, kiln_xstrdup("-u"));
                kiln_strv_push_take(&argv, kiln_xstrdup("none"));
        }
        /* pasta goes to the background once the namespace is set up */
        if ((r = ctr_net_run_tool((const char *const *)argv, NULL, err)) < 0) {
                if (access("/dev/net/tun", R_OK | W_OK) < 0)
                        kiln_err(err, r, "network: pasta needs /dev/net/tun readable and writable by this user "
                                         "(it is mode 0666 on a standard Debian system)");
                goto fail;
        }
        json_t *ns = json_pack("{s:s, s:s, s:i, s:s, s:s}", "SandboxKey", nspath, "IPAddress", "",
                               "IPPrefixLen", 0, "Gateway", "", "MacAddress", "");
        json_object_set_new(ns, "Ports", actual);
        json_object_set_new(doc, "NetworkSettings", ns);
        json_decref(ports);
        return 0;
fail:
        json_decref(ports);
        json_decref(actual);
        ctr_netns_remove(nspath);
        unlink(pidfile);
        return r;
}

void ctr_pasta_teardown(struct kiln_store *s, json_t *doc)
{
        const char *id = json_string_value(json_object_get(doc, "Id"));
        if (!id)
                return;
        _cleanup_free_ char *pidfile = pidfile_path(s, id);
        char buf[32] = "";
        _cleanup_close_ int fd = open(pidfile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        ssize_t len = fd >= 0 ? kiln_fs_read_full(fd, buf, sizeof(buf) - 1) : -1;
        if (len > 0) {
                buf[len] = 0;
                pid_t pid = (pid_t)atoi(buf);
                /* only the pasta it started: the pid's program must be pasta */
                char p[64], comm[32] = "";
                snprintf(p, sizeof(p), "/proc/%d/comm", (int)pid);
                _cleanup_close_ int cfd = pid > 0 ? open(p, O_RDONLY | O_CLOEXEC) : -1;
                ssize_t cn = cfd >= 0 ? kiln_fs_read_full(cfd, comm, sizeof(comm) - 1) : -1;
                if (cn > 0 && (kiln_startswith(comm, "pasta") || kiln_startswith(comm, "passt")))
                        kill(pid, SIGTERM);
        }
        unlink(pidfile);
        _cleanup_free_ char *nspath = ctr_net_netns_path(id);
        ctr_netns_remove(nspath);
        json_t *ns = json_object_get(doc, "NetworkSettings");
        if (json_is_object(ns))
                json_object_set_new(ns, "Ports", json_object());
}
