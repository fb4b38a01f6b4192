/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `kiln run --network bridge`: the kiln0 bridge (10.88.0.1/16), addresses
 * from a lease file, a named network namespace per container with a veth
 * pair into the bridge, and nftables for outbound NAT and -p/--publish.
 *
 *   /run/kiln/netns/<id>            the container's netns (a bind mount of
 *                                   its nsfs file; the spec joins it by path)
 *   ROOT/network/kiln0/leases       {"10.88.0.2": "<id>", ...}; changed only
 *                                   under flock(leases.lock), replaced atomically
 *   nft table ip kiln               prerouting/output (dnat a published port),
 *                                   postrouting (masquerade); a container's
 *                                   rules carry comment "kiln:<id12>"
 *
 * The links and rules are made by running iproute2's `ip` and nftables'
 * `nft` (execv, no shell); their stderr becomes the error message. The
 * setup happens at every start (the monitor, before the runtime creates the
 * container) and is undone when the container finishes or is removed.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "container-internal.h"
#include "kiln/fs.h"

#define BRIDGE "kiln0"
#define GATEWAY "10.88.0.1"
#define SUBNET_BASE 0x0a580000u /* 10.88.0.0 */
#define SUBNET_PREFIX 16
#define NETNS_DIR "/run/kiln/netns"
#define NFT_TABLE "kiln"
#define OUTPUT_MAX (1u << 20)

bool ctr_net_is_bridge(json_t *doc)
{
        const char *m = json_string_value(json_object_get(json_object_get(doc, "HostConfig"), "NetworkMode"));
        return m && !strcmp(m, "bridge");
}

char *ctr_net_netns_path(const char *id)
{
        if (kiln_in_userns()) {
                /* rootless: /run is not ours; beside the containers' state */
                _cleanup_free_ char *rt = kiln_container_state_root();
                return kiln_xasprintf("%s/netns/%s", rt, id);
        }
        return kiln_xasprintf("%s/%s", NETNS_DIR, id);
}

/* ---- running ip and nft ---- */

char *ctr_net_tool_path(const char *name)
{
        static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };
        for (size_t i = 0; i < KILN_ARRAY_SIZE(dirs); i++) {
                char *p = kiln_xasprintf("%s/%s", dirs[i], name);
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

/*
 * Run argv[0] (ip or nft, found in the sbin/bin directories) with argv,
 * inside the network namespace nsfd when >= 0. *ret_out (may be NULL) gets
 * its stdout. A failure (exit status != 0) is -EIO with its stderr.
 */
static int run_tool(int nsfd, const char *const *argv, char **ret_out, struct kiln_error *err)
{
        _cleanup_free_ char *path = ctr_net_tool_path(argv[0]);
        if (!path)
                return kiln_err(err, -ENOENT, "network: %s not found (install %s)", argv[0],
                                !strcmp(argv[0], "ip") ? "iproute2" : "nftables");
        int outp[2], errp[2];
        if (pipe2(outp, O_CLOEXEC) < 0)
                return kiln_err(err, -errno, "pipe: %s", strerror(errno));
        if (pipe2(errp, O_CLOEXEC) < 0) {
                int e = errno;
                close(outp[0]);
                close(outp[1]);
                return kiln_err(err, -e, "pipe: %s", strerror(e));
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(outp[0]);
                close(outp[1]);
                close(errp[0]);
                close(errp[1]);
                return kiln_err(err, -e, "fork: %s", strerror(e));
        }
        if (pid == 0) {
                if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0)
                        _exit(126);
                int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (nul < 0 || dup2(nul, 0) < 0 || dup2(outp[1], 1) < 0 || dup2(errp[1], 2) < 0)
                        _exit(126);
                char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
                execve(path, (char *const *)argv, env);
                _exit(127);
        }
        close(outp[1]);
        close(errp[1]);
        struct kiln_buf out = KILN_BUF_INIT;
        char buf[4096];
        ssize_t n;
        while ((n = read(outp[0], buf, sizeof(buf))) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (out.len < OUTPUT_MAX)
                        kiln_buf_append(&out, buf, (size_t)n);
        }
        close(outp[0]);
        char ebuf[1024];
        ssize_t en = kiln_fs_read_full(errp[0], ebuf, sizeof(ebuf) - 1);
        close(errp[0]);
        ebuf[en > 0 ? en : 0] = 0;
        int ws = 0;
        while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
                kiln_buf_free(&out);
                for (char *p = ebuf; *p; p++)
                        if (*p == '\n')
                                *p = (p[1] ? ' ' : 0);
                struct kiln_buf cmd = KILN_BUF_INIT;
                for (size_t i = 0; argv[i]; i++)
                        kiln_buf_printf(&cmd, "%s%s", i ? " " : "", argv[i]);
                int r = kiln_err(err, -EIO, "network: %s: %s", cmd.data,
                                 ebuf[0] ? ebuf
                                 : WIFEXITED(ws) && WEXITSTATUS(ws) == 126 ? "cannot enter the network namespace"
                                                                           : "failed");
                kiln_buf_free(&cmd);
                return r;
        }
        if (ret_out)
                *ret_out = kiln_buf_steal(&out);
        else
                kiln_buf_free(&out);
        return 0;
}

int ctr_net_run_tool(const char *const *argv, char **ret_out, struct kiln_error *err)
{
        return run_tool(-1, argv, ret_out, err);
}

#define IP(...) run_tool(-1, (const char *const[]){ "ip", __VA_ARGS__, NULL }, NULL, err)
#define IPNS(fd, ...) run_tool(fd, (const char *const[]){ "ip", __VA_ARGS__, NULL }, NULL, err)

static void write_sysctl(const char *path, const char *value)
{
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        (void)!write(fd, value, strlen(value));
        close(fd);
}

static void ip4_str(uint32_t a, char out[16])
{
        snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static bool ip4_parse(const char *s, uint32_t *ret)
{
        unsigned a, b, c, d;
        char tail;
        if (sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 ||
            c > 255 || d > 255)
                return false;
        *ret = a << 24 | b << 16 | c << 8 | d;
        return true;
}

/* An "A.B.C.D/N" that overlaps 10.88.0.0/16. */
static bool overlaps_subnet(const char *cidr)
{
        char a[32];
        snprintf(a, sizeof(a), "%s", cidr);
        char *slash = strchr(a, '/');
        unsigned prefix = 32;
        if (slash) {
                *slash = 0;
                prefix = (unsigned)atoi(slash + 1);
        }
        uint32_t ip;
        if (!ip4_parse(a, &ip) || prefix > 32)
                return false;
        unsigned p = prefix < SUBNET_PREFIX ? prefix : SUBNET_PREFIX;
        uint32_t mask = p ? ~0u << (32 - p) : 0;
        return (ip & mask) == (SUBNET_BASE & mask);
}

/* The host already uses 10.88.0.0/16 (an address or a route not on kiln0)? */
static int check_subnet_free(struct kiln_error *err)
{
        _cleanup_free_ char *addrs = NULL, *routes = NULL;
        int r = run_tool(-1, (const char *const[]){ "ip", "-4", "-o", "addr", "show", NULL }, &addrs, err);
        if (r < 0)
                return r;
        r = run_tool(-1, (const char *const[]){ "ip", "-4", "route", "show", "table", "all", NULL }, &routes, err);
        if (r < 0)
                return r;
        char *save = NULL;
        for (char *line = strtok_r(addrs, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                /* "2: eth0    inet 192.0.2.2/24 brd ..." */
                char dev[64] = "", cidr[64] = "";
                if (sscanf(line, "%*d: %63s inet %63s", dev, cidr) != 2)
                        continue;
                if (strcmp(dev, BRIDGE) && overlaps_subnet(cidr))
                        return kiln_err(err, -KILN_ECONFLICT,
                                        "network: cannot create bridge %s with 10.88.0.0/16: the host "
                                        "already uses %s on %s",
                                        BRIDGE, cidr, dev);
        }
        save = NULL;
        for (char *line = strtok_r(routes, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                /* "10.88.0.0/16 dev x ..." or "local 10.88.0.1 dev ..." */
                char first[64] = "", second[64] = "";
                sscanf(line, "%63s %63s", first, second);
                const char *dst = (!strcmp(first, "local") || !strcmp(first, "broadcast") ||
                                   !strcmp(first, "unicast"))
                                          ? second
                                          : first;
                const char *dv = strstr(line, " dev ");
                char dev[64] = "";
                if (dv)
                        sscanf(dv + 5, "%63s", dev);
                if (strcmp(dst, "default") && strcmp(dev, BRIDGE) && overlaps_subnet(dst))
                        return kiln_err(err, -KILN_ECONFLICT,
                                        "network: cannot create bridge %s with 10.88.0.0/16: the host "
                                        "already routes %s%s%s",
                                        BRIDGE, dst, dev[0] ? " via " : "", dev);
        }
        return 0;
}

/* kiln0 with 10.88.0.1/16, up; forwarding on; the nft table. Under the lease lock. */
static int ensure_bridge(struct kiln_error *err)
{
        int r;
        /* not /sys/class/net: sysfs shows the netns it was mounted in */
        if (run_tool(-1, (const char *const[]){ "ip", "link", "show", BRIDGE, NULL }, NULL, NULL) < 0) {
                if ((r = check_subnet_free(err)) < 0)
                        return r;
                if ((r = IP("link", "add", BRIDGE, "type", "bridge")) < 0)
                        return r;
        }
        _cleanup_free_ char *addrs = NULL;
        r = run_tool(-1, (const char *const[]){ "ip", "-4", "-o", "addr", "show", "dev", BRIDGE, NULL },
                     &addrs, err);
        if (r < 0)
                return r;
        if (!strstr(addrs, " " GATEWAY "/16 ")) {
                if ((r = check_subnet_free(err)) < 0)
                        return r;
                if ((r = IP("addr", "add", GATEWAY "/16", "dev", BRIDGE)) < 0)
                        return r;
        }
        if ((r = IP("link", "set", BRIDGE, "up")) < 0)
                return r;
        write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
        /* 127.0.0.1:PORT DNATed to a container leaves through kiln0 with a
         * loopback source: allowed only with route_localnet (as docker0) */
        write_sysctl("/proc/sys/net/ipv4/conf/" BRIDGE "/route_localnet", "1");
        if (run_tool(-1, (const char *const[]){ "nft", "list", "table", "ip", NFT_TABLE, NULL }, NULL,
                     NULL) == 0)
                return 0;
        static const char table[] =
                "add table ip " NFT_TABLE "\n"
                "add chain ip " NFT_TABLE " prerouting { type nat hook prerouting priority -100; }\n"
                "add chain ip " NFT_TABLE " output { type nat hook output priority -100; }\n"
                "add chain ip " NFT_TABLE " postrouting { type nat hook postrouting priority 100; }\n"
                "add rule ip " NFT_TABLE " postrouting ip saddr 10.88.0.0/16 oifname != \"" BRIDGE "\" masquerade\n"
                "add rule ip " NFT_TABLE " postrouting oifname \"" BRIDGE "\" ip saddr 127.0.0.0/8 masquerade\n";
        return run_tool(-1, (const char *const[]){ "nft", table, NULL }, NULL, err);
}

/* ---- leases ---- */

static int lease_lock(struct kiln_store *s, char **ret_dir, struct kiln_error *err)
{
        char *dir = kiln_xasprintf("%s/network/" BRIDGE, kiln_store_root(s));
        int r = kiln_fs_mkdir_p(AT_FDCWD, dir, 0700);
        if (r < 0) {
                kiln_err(err, r, "network: %s: %s", dir, kiln_strerror(r));
                free(dir);
                return r;
        }
        _cleanup_free_ char *lp = kiln_xasprintf("%s/leases.lock", dir);
        int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || flock(fd, LOCK_EX) < 0) {
                r = kiln_err(err, -errno, "network: %s: %s", lp, strerror(errno));
                if (fd >= 0)
                        close(fd);
                free(dir);
                return r;
        }
        *ret_dir = dir;
        return fd;
}

static json_t *leases_load(const char *dir)
{
        _cleanup_free_ char *p = kiln_xasprintf("%s/leases", dir);
        _cleanup_free_ char *text = NULL;
        size_t len;
        json_t *j = NULL;
        if (kiln_fs_read_file(AT_FDCWD, p, 16u << 20, &text, &len) == 0)
                j = json_loadb(text, len, 0, NULL);
        if (!json_is_object(j)) {
                json_decref(j);
                j = json_object();
        }
        return j;
}

static int leases_save(const char *dir, json_t *j, struct kiln_error *err)
{
        size_t len;
        _cleanup_free_ char *text = kiln_json_dump(j, &len);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r = dfd < 0 ? -errno : kiln_fs_write_replace(dfd, "leases", text, len, 0600);
        if (r < 0)
                return kiln_err(err, r, "network: %s/leases: %s", dir, kiln_strerror(r));
        return 0;
}

/* The address leased to id (an existing lease is kept), under the lock. */
static int lease_acquire(const char *dir, const char *id, uint32_t *ret, struct kiln_error *err)
{
        json_t *j = leases_load(dir);
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
                uint32_t a;
                if (json_is_string(v) && !strcmp(json_string_value(v), id) && ip4_parse(k, &a)) {
                        json_decref(j);
                        *ret = a;
                        return 0;
                }
        }
        for (uint32_t a = SUBNET_BASE + 2; a < SUBNET_BASE + 0xffff; a++) {
                char s[16];
                ip4_str(a, s);
                if (json_object_get(j, s))
                        continue;
                json_object_set_new(j, s, json_string(id));
                int r = leases_save(dir, j, err);
                json_decref(j);
                if (r < 0)
                        return r;
                *ret = a;
                return 0;
        }
        json_decref(j);
        return kiln_err(err, -ENOSPC, "network: no free address in 10.88.0.0/16");
}

static void lease_release(const char *dir, const char *id)
{
        json_t *j = leases_load(dir);
        const char *k;
        json_t *v;
        void *tmp;
        bool changed = false;
        json_object_foreach_safe(j, tmp, k, v)
        {
                if (json_is_string(v) && !strcmp(json_string_value(v), id)) {
                        json_object_del(j, k);
                        changed = true;
                }
        }
        if (changed)
                leases_save(dir, j, NULL);
        json_decref(j);
}

/* ---- the namespace ---- */

/* ---- nft rules of one container ---- */

static void nft_delete_rules(const char *id)
{
        _cleanup_free_ char *out = NULL;
        if (run_tool(-1, (const char *const[]){ "nft", "-a", "list", "table", "ip", NFT_TABLE, NULL },
                     &out, NULL) < 0)
                return;
        char tag[64];
        snprintf(tag, sizeof(tag), "comment \"kiln:%.12s\"", id);
        char chain[64] = "";
        char *save = NULL;
        for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                while (*line == ' ' || *line == '\t')
                        line++;
                if (kiln_startswith(line, "chain ")) {
                        sscanf(line + 6, "%63s", chain);
                        continue;
                }
                const char *h = strstr(line, "# handle ");
                if (!h || !strstr(line, tag) || !chain[0])
                        continue;
                char handle[32];
                if (sscanf(h + 9, "%31s", handle) != 1)
                        continue;
                run_tool(-1, (const char *const[]){ "nft", "delete", "rule", "ip", NFT_TABLE, chain,
                                                    "handle", handle, NULL },
                         NULL, NULL);
        }
}

static int nft_add_ports(const char *id, const char *caddr, json_t *bindings, struct kiln_error *err)
{
        struct kiln_buf b = KILN_BUF_INIT;
        const char *key;
        json_t *list;
        json_object_foreach(bindings, key, list)
        {
                unsigned cport = 0;
                char proto[8] = "tcp";
                if (sscanf(key, "%u/%7s", &cport, proto) < 1)
                        continue;
                size_t i;
                json_t *bd;
                json_array_foreach(list, i, bd)
                {
                        const char *hip = json_string_value(json_object_get(bd, "HostIp"));
                        const char *hport = json_string_value(json_object_get(bd, "HostPort"));
                        if (!hport)
                                continue;
                        _cleanup_free_ char *match =
                                hip && *hip && strcmp(hip, "0.0.0.0")
                                        ? kiln_xasprintf("ip daddr %s", hip)
                                        : kiln_xstrdup("fib daddr type local");
                        for (int c = 0; c < 2; c++)
                                kiln_buf_printf(&b,
                                                "add rule ip " NFT_TABLE " %s %s %s dport %s dnat to %s:%u "
                                                "comment \"kiln:%.12s\"\n",
                                                c ? "output" : "prerouting", match, proto, hport, caddr,
                                                cport, id);
                }
        }
        int r = 0;
        if (b.len)
                r = run_tool(-1, (const char *const[]){ "nft", b.data, NULL }, NULL, err);
        kiln_buf_free(&b);
        return r;
}

/* ---- -p/--publish ---- */

int ctr_net_port_bindings(char *const *publish, json_t **ret, struct kiln_error *err)
{
        json_t *ports = json_object();
        for (size_t i = 0; publish && publish[i]; i++) {
                _cleanup_free_ char *s = kiln_xstrdup(publish[i]);
                const char *proto = "tcp";
                char *slash = strrchr(s, '/');
                if (slash) {
                        *slash = 0;
                        proto = slash + 1;
                        if (strcmp(proto, "tcp") && strcmp(proto, "udp")) {
                                json_decref(ports);
                                return kiln_err(err, -EINVAL, "invalid -p '%s': protocol must be tcp or udp",
                                                publish[i]);
                        }
                }
                /* [IP:]HOSTPORT:CTRPORT */
                char *fields[4] = { NULL };
                size_t n = 0;
                for (char *f = s; n < 4;) {
                        fields[n++] = f;
                        char *c = strchr(f, ':');
                        if (!c)
                                break;
                        *c = 0;
                        f = c + 1;
                }
                const char *hip = n == 3 ? fields[0] : "0.0.0.0";
                const char *hport = n == 3 ? fields[1] : n == 2 ? fields[0] : NULL;
                const char *cport = n == 3 ? fields[2] : n == 2 ? fields[1] : NULL;
                uint32_t dummy;
                char *end;
                unsigned long hp = hport ? strtoul(hport, &end, 10) : 0;
                bool hp_ok = hport && *hport && !*end && hp >= 1 && hp <= 65535;
                unsigned long cp = cport ? strtoul(cport, &end, 10) : 0;
                bool cp_ok = cport && *cport && !*end && cp >= 1 && cp <= 65535;
                if (n < 2 || n > 3 || !hp_ok || !cp_ok || !ip4_parse(hip, &dummy)) {
                        json_decref(ports);
                        return kiln_err(err, -EINVAL,
                                        "invalid -p '%s': expected [IPv4:]HOSTPORT:CONTAINERPORT[/tcp|udp] "
                                        "(single ports, a host port given)",
                                        publish[i]);
                }
                char key[32], hps[8];
                snprintf(key, sizeof(key), "%lu/%s", cp, proto);
                snprintf(hps, sizeof(hps), "%lu", hp);
                json_t *list = json_object_get(ports, key);
                if (!list) {
                        list = json_array();
                        json_object_set_new(ports, key, list);
                }
                json_array_append_new(list, json_pack("{s:s, s:s}", "HostIp", hip, "HostPort", hps));
        }
        *ret = ports;
        return 0;
}

/* ---- setup and teardown ---- */

static void write_hosts(struct kiln_store *s, json_t *doc, const char *addr)
{
        const char *id = json_string_value(json_object_get(doc, "Id"));
        const char *hn = json_string_value(json_object_get(json_object_get(doc, "Config"), "Hostname"));
        _cleanup_free_ char *dir = ctr_dir(s, id);
        _cleanup_free_ char *hosts = kiln_xasprintf(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                "ff02::2\tip6-allrouters\n%s\t%s\n",
                addr, hn ? hn : "");
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                kiln_fs_write_replace(dfd, "hosts", hosts, strlen(hosts), 0644);
}

static json_t *empty_settings(const char *id)
{
        _cleanup_free_ char *ns = ctr_net_netns_path(id);
        return json_pack("{s:s, s:s, s:i, s:s, s:s, s:{}}", "SandboxKey", ns, "IPAddress", "",
                         "IPPrefixLen", 0, "Gateway", "", "MacAddress", "", "Ports");
}

int ctr_net_setup(struct kiln_store *s, json_t *doc, struct kiln_error *err)
{
        if (ctr_net_is_pasta(doc))
                return ctr_pasta_setup(s, doc, err);
        if (!ctr_net_is_bridge(doc))
                return 0;
        const char *id = json_string_value(json_object_get(doc, "Id"));
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int lfd = lease_lock(s, &dir, err);
        if (lfd < 0)
                return lfd;
        uint32_t addr = 0;
        int r = ensure_bridge(err);
        if (r >= 0)
                r = lease_acquire(dir, id, &addr, err);
        if (r < 0)
                return r;
        char caddr[16], cidr[24], mac[24], host_if[16], self[16];
        ip4_str(addr, caddr);
        snprintf(cidr, sizeof(cidr), "%s/%d", caddr, SUBNET_PREFIX);
        /* docker's: 02:42 and the IPv4 address */
        snprintf(mac, sizeof(mac), "02:42:%02x:%02x:%02x:%02x", addr >> 24, (addr >> 16) & 255,
                 (addr >> 8) & 255, addr & 255);
        snprintf(host_if, sizeof(host_if), "kv%.12s", id);
        snprintf(self, sizeof(self), "%d", (int)getpid());
        _cleanup_free_ char *nspath = ctr_net_netns_path(id);
        _cleanup_close_ int nsfd = -1;
        run_tool(-1, (const char *const[]){ "ip", "link", "del", host_if, NULL }, NULL, NULL);
        nft_delete_rules(id);
        r = ctr_netns_create(nspath, err);
        if (r < 0)
                goto fail;
        nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0) {
                r = kiln_err(err, -errno, "network: %s: %s", nspath, strerror(errno));
                goto fail;
        }
        /* made inside the namespace; the peer goes to ours (this process's) */
        if ((r = IPNS(nsfd, "link", "add", "eth0", "address", mac, "type", "veth", "peer", "name",
                      host_if, "netns", self)) < 0 ||
            (r = IPNS(nsfd, "link", "set", "lo", "up")) < 0 ||
            (r = IPNS(nsfd, "addr", "add", cidr, "dev", "eth0")) < 0 ||
            (r = IPNS(nsfd, "link", "set", "eth0", "up")) < 0 ||
            (r = IPNS(nsfd, "route", "add", "default", "via", GATEWAY)) < 0 ||
            (r = IP("link", "set", host_if, "master", BRIDGE, "up")) < 0)
                goto fail;
        json_t *ports = json_object_get(json_object_get(doc, "HostConfig"), "PortBindings");
        if (json_is_object(ports) && (r = nft_add_ports(id, caddr, ports, err)) < 0)
                goto fail;
        write_hosts(s, doc, caddr);
        json_t *ns = empty_settings(id);
        json_object_set_new(ns, "IPAddress", json_string(caddr));
        json_object_set_new(ns, "IPPrefixLen", json_integer(SUBNET_PREFIX));
        json_object_set_new(ns, "Gateway", json_string(GATEWAY));
        json_object_set_new(ns, "MacAddress", json_string(mac));
        json_object_set_new(ns, "Bridge", json_string(BRIDGE));
        if (json_is_object(ports))
                json_object_set(ns, "Ports", ports);
        json_object_set_new(doc, "NetworkSettings", ns);
        return 0;
fail:
        nft_delete_rules(id);
        run_tool(-1, (const char *const[]){ "ip", "link", "del", host_if, NULL }, NULL, NULL);
        ctr_netns_remove(nspath);
        lease_release(dir, id);
        return r;
}

void ctr_net_teardown(struct kiln_store *s, json_t *doc)
{
        if (ctr_net_is_pasta(doc)) {
                ctr_pasta_teardown(s, doc);
                return;
        }
        if (!ctr_net_is_bridge(doc))
                return;
        const char *id = json_string_value(json_object_get(doc, "Id"));
        if (!id)
                return;
        nft_delete_rules(id);
        char host_if[16];
        snprintf(host_if, sizeof(host_if), "kv%.12s", id);
        _cleanup_free_ char *nspath = ctr_net_netns_path(id);
        /* the veth goes with the namespace; delete it now rather than when
         * the kernel gets round to freeing the namespace */
        run_tool(-1, (const char *const[]){ "ip", "link", "del", host_if, NULL }, NULL, NULL);
        ctr_netns_remove(nspath);
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int lfd = lease_lock(s, &dir, NULL);
        if (lfd >= 0)
                lease_release(dir, id);
        json_object_set_new(doc, "NetworkSettings", empty_settings(id));
}
