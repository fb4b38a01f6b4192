/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container networks (as root; a non-root kiln keeps the runtime's private
 * namespace). HostConfig.NetworkMode is docker's:
 *
 *   bridge          the default: the kiln0 bridge (10.88.0.1/16), an address
 *                   from the lease file, a veth pair into the bridge, nftables
 *                   for outbound NAT and -p/--publish/-P
 *   none            loopback only
 *   host            the host's namespace (nothing to do here)
 *   container:<id>  the namespace of another (running) container
 *
 * For bridge, none and container: the spec joins /run/kiln/netns/<id>, made
 * here at every start (a bind mount of an nsfs file) and removed when the
 * container finishes or is removed. RunOpts.Network records what create
 * decided: {"Bridge","Subnet","Default","Sandbox"}.
 *
 *   /run/kiln/netns/<id>                 the container's netns
 *   /run/kiln/network/<bridge>/leases    {"10.88.0.2": "<id>", ..., "_next": ADDR}; host-wide
 *                                        (the bridge is), changed only under
 *                                        flock(leases.lock), replaced atomically;
 *                                        a lease whose netns is gone is stale
 *   nft table ip kiln                    prerouting/output (dnat a published
 *                                        port), postrouting (masquerade); a
 *                                        container's rules carry comment
 *                                        "kiln:<id12>"
 *
 * KILN_BRIDGE and KILN_BRIDGE_SUBNET (read at create) pick another bridge and
 * subnet; its nft table is then "kiln_<bridge>".
 *
 * The links and rules are made by running iproute2's `ip` and nftables'
 * `nft` (execve, no shell, batched: about four runs a start); their stderr
 * becomes the error message.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "container-internal.h"
#include "kiln/fs.h"

#define DEFAULT_BRIDGE "kiln0"
#define DEFAULT_SUBNET "10.88.0.0/16"
#define NETNS_DIR "/run/kiln/netns"
#define LEASE_DIR "/run/kiln/network"
#define OUTPUT_MAX (1u << 20)
#define MAX_PORTS 4096 /* published ports a container (ranges expand) */

/* A bridge: its name, subnet, gateway (the subnet's first address), nft table. */
struct netcfg {
        char bridge[IFNAMSIZ];
        uint32_t base;
        unsigned prefix;
        char subnet[24];
        char gateway[16];
        char table[32];
};

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

static uint32_t prefix_mask(unsigned p)
{
        return p ? ~0u << (32 - p) : 0;
}

static int netcfg_parse(const char *bridge, const char *subnet, struct netcfg *c,
                        struct kiln_error *err)
{
        size_t bl = strlen(bridge);
        if (bl == 0 || bl >= IFNAMSIZ || strspn(bridge, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != bl)
                return kiln_err(err, -EINVAL,
                                "KILN_BRIDGE '%s': a bridge name is 1 to 15 of [a-zA-Z0-9_.-]", bridge);
        char a[32];
        snprintf(a, sizeof(a), "%s", subnet);
        char *slash = strchr(a, '/');
        char *end = NULL;
        unsigned long p = slash ? strtoul(slash + 1, &end, 10) : 0;
        if (slash)
                *slash = 0;
        uint32_t ip;
        if (!slash || end == slash + 1 || *end || p < 8 || p > 28 || !ip4_parse(a, &ip))
                return kiln_err(err, -EINVAL,
                                "KILN_BRIDGE_SUBNET '%s': expected an IPv4 network A.B.C.D/N with N from 8 to 28",
                                subnet);
        snprintf(c->bridge, sizeof(c->bridge), "%s", bridge);
        c->prefix = (unsigned)p;
        c->base = ip & prefix_mask(c->prefix);
        char base[16];
        ip4_str(c->base, base);
        snprintf(c->subnet, sizeof(c->subnet), "%s/%u", base, c->prefix);
        ip4_str(c->base + 1, c->gateway);
        if (!strcmp(bridge, DEFAULT_BRIDGE)) {
                snprintf(c->table, sizeof(c->table), "kiln");
        } else {
                snprintf(c->table, sizeof(c->table), "kiln_%s", bridge);
                for (char *q = c->table; *q; q++)
                        if (*q == '-' || *q == '.')
                                *q = '_';
        }
        return 0;
}

static json_t *net_opts(json_t *doc)
{
        return json_object_get(json_object_get(doc, "RunOpts"), "Network");
}

/* The bridge a container was created for (records from before RunOpts.Network: kiln0). */
static void netcfg_of(json_t *doc, struct netcfg *c)
{
        json_t *no = net_opts(doc);
        const char *b = json_string_value(json_object_get(no, "Bridge"));
        const char *sn = json_string_value(json_object_get(no, "Subnet"));
        if (!b || !sn || netcfg_parse(b, sn, c, NULL) < 0)
                netcfg_parse(DEFAULT_BRIDGE, DEFAULT_SUBNET, c, NULL);
}

int ctr_net_config(bool is_default, json_t **ret, struct kiln_error *err)
{
        const char *b = getenv("KILN_BRIDGE");
        const char *sn = getenv("KILN_BRIDGE_SUBNET");
        struct netcfg c;
        int r = netcfg_parse(b && *b ? b : DEFAULT_BRIDGE, sn && *sn ? sn : DEFAULT_SUBNET, &c, err);
        if (r < 0)
                return r;
        *ret = json_pack("{s:s, s:s, s:b, s:b}", "Bridge", c.bridge, "Subnet", c.subnet, "Default",
                         is_default, "Sandbox", 1);
        return 0;
}

const char *ctr_net_mode(json_t *doc)
{
        const char *m = json_string_value(json_object_get(json_object_get(doc, "HostConfig"), "NetworkMode"));
        return m ? m : "";
}

bool ctr_net_is_bridge(json_t *doc)
{
        return !strcmp(ctr_net_mode(doc), "bridge");
}

/* kiln makes the namespace at /run/kiln/netns/<id> (bridge records from
 * before RunOpts.Network.Sandbox did too) */
static bool has_sandbox(json_t *doc)
{
        json_t *sb = json_object_get(net_opts(doc), "Sandbox");
        return sb ? json_is_true(sb) : ctr_net_is_bridge(doc);
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
 * inside the network namespace nsfd when >= 0, with input (may be NULL; at
 * most a pipe's buffer) on its stdin. *ret_out (may be NULL) gets its
 * stdout. A failure (exit status != 0) is -EIO with its stderr.
 */
static int run_tool(int nsfd, const char *const *argv, const char *input, char **ret_out,
                    struct kiln_error *err)
{
        _cleanup_free_ char *path = ctr_net_tool_path(argv[0]);
        if (!path)
                return kiln_err(err, -ENOENT, "network: %s not found (install %s)", argv[0],
                                !strcmp(argv[0], "ip") ? "iproute2" : "nftables");
        int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, inp[2] = { -1, -1 };
        int e = 0;
        if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
            (input && pipe2(inp, O_CLOEXEC) < 0))
                e = errno;
        if (!e && input) {
                size_t len = strlen(input);
                if (len > 65536 || kiln_fs_write_all(inp[1], input, len) < 0)
                        e = len > 65536 ? E2BIG : errno;
        }
        if (inp[1] >= 0)
                close(inp[1]);
        pid_t pid = -1;
        if (!e) {
                fflush(NULL);
                pid = fork();
                if (pid < 0)
                        e = errno;
        }
        if (e) {
                for (int *fd = (int[]){ outp[0], outp[1], errp[0], errp[1], inp[0], -2 }; *fd != -2; fd++)
                        if (*fd >= 0)
                                close(*fd);
                return kiln_err(err, -e, "network: run %s: %s", argv[0], strerror(e));
        }
        if (pid == 0) {
                if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0)
                        _exit(126);
                int in = inp[0] >= 0 ? inp[0] : open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (in < 0 || dup2(in, 0) < 0 || dup2(outp[1], 1) < 0 || dup2(errp[1], 2) < 0)
                        _exit(126);
                /* pasta stays behind as a daemon: no fd of ours goes with it */
                close_range(3, ~0U, 0);
                char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
                execve(path, (char *const *)argv, env);
                _exit(127);
        }
        close(outp[1]);
        close(errp[1]);
        if (inp[0] >= 0)
                close(inp[0]);
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
                /* one line: the tool's message, newlines folded */
                size_t el = strlen(ebuf);
                while (el && (ebuf[el - 1] == '\n' || ebuf[el - 1] == ' '))
                        ebuf[--el] = 0;
                for (char *p = ebuf; *p; p++)
                        if (*p == '\n' || *p == '\t')
                                *p = ' ';
                struct kiln_buf cmd = KILN_BUF_INIT;
                for (size_t i = 0; argv[i]; i++) {
                        /* an nft script or -batch input is not worth quoting whole */
                        const char *a = argv[i];
                        kiln_buf_printf(&cmd, "%s%.*s%s", i ? " " : "", (int)strcspn(a, "\n"), a,
                                        strchr(a, '\n') ? "..." : "");
                }
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

#define TOOL(...) ((const char *const[]){ __VA_ARGS__, NULL })

int ctr_net_run_tool(const char *const *argv, char **ret_out, struct kiln_error *err)
{
        return run_tool(-1, argv, NULL, ret_out, err);
}

static void write_sysctl(const char *path, const char *value)
{
        (void)kiln_fs_write_existing(path, value, strlen(value));
}

/* An "A.B.C.D/N" that overlaps the bridge's subnet. */
static bool overlaps_subnet(const struct netcfg *c, const char *cidr)
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
        uint32_t mask = prefix_mask(prefix < c->prefix ? prefix : c->prefix);
        return (ip & mask) == (c->base & mask);
}

/* The host already uses the subnet (an address or a route not on the bridge)? */
static int check_subnet_free(const struct netcfg *c, struct kiln_error *err)
{
        _cleanup_free_ char *addrs = NULL, *routes = NULL;
        int r = run_tool(-1, TOOL("ip", "-4", "-o", "addr", "show"), NULL, &addrs, err);
        if (r < 0)
                return r;
        r = run_tool(-1, TOOL("ip", "-4", "route", "show", "table", "all"), NULL, &routes, err);
        if (r < 0)
                return r;
        char *save = NULL;
        for (char *line = strtok_r(addrs, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                /* "2: eth0    inet 192.0.2.2/24 brd ..." */
                char dev[64] = "", cidr[64] = "";
                if (sscanf(line, "%*d: %63s inet %63s", dev, cidr) != 2)
                        continue;
                if (strcmp(dev, c->bridge) && overlaps_subnet(c, cidr))
                        return kiln_err(err, -KILN_ECONFLICT,
                                        "network: cannot create bridge %s with %s: the host "
                                        "already uses %s on %s",
                                        c->bridge, c->subnet, cidr, dev);
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
                if (strcmp(dst, "default") && strcmp(dev, c->bridge) && overlaps_subnet(c, dst))
                        return kiln_err(err, -KILN_ECONFLICT,
                                        "network: cannot create bridge %s with %s: the host "
                                        "already routes %s%s%s",
                                        c->bridge, c->subnet, dst, dev[0] ? " via " : "", dev);
        }
        return 0;
}

/* The bridge with its gateway address (brought up with the veth later);
 * forwarding on. Under the lease lock. */
static int ensure_bridge(const struct netcfg *c, struct kiln_error *err)
{
        int r;
        char gw[32];
        snprintf(gw, sizeof(gw), "%s/%u", c->gateway, c->prefix);
        /* the bridge and its address, asked of the kernel in-process
         * (getifaddrs: netlink of our own network namespace; not sysfs,
         * which shows the netns it was mounted in) */
        bool have_link = false, have_addr = false;
        uint32_t gwa = 0;
        ip4_parse(c->gateway, &gwa);
        struct ifaddrs *ifa = NULL;
        if (getifaddrs(&ifa) == 0) {
                for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
                        if (!i->ifa_name || strcmp(i->ifa_name, c->bridge))
                                continue;
                        have_link = true;
                        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && i->ifa_netmask) {
                                uint32_t a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
                                uint32_t m = ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
                                if (a == gwa && m == prefix_mask(c->prefix))
                                        have_addr = true;
                        }
                }
                freeifaddrs(ifa);
        }
        if (!have_link) {
                if ((r = check_subnet_free(c, err)) < 0)
                        return r;
                if ((r = run_tool(-1, TOOL("ip", "link", "add", c->bridge, "type", "bridge"), NULL, NULL, err)) < 0)
                        return r;
        }
        if (!have_addr) {
                if ((r = check_subnet_free(c, err)) < 0)
                        return r;
                if ((r = run_tool(-1, TOOL("ip", "addr", "add", gw, "dev", c->bridge), NULL, NULL, err)) < 0)
                        return r;
        }
        write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
        /* 127.0.0.1:PORT DNATed to a container leaves through the bridge with
         * a loopback source: allowed only with route_localnet (as docker0) */
        _cleanup_free_ char *rl = kiln_xasprintf("/proc/sys/net/ipv4/conf/%s/route_localnet", c->bridge);
        write_sysctl(rl, "1");
        return 0;
}

/* ---- leases ---- */

static int lease_lock(const struct netcfg *c, char **ret_dir, struct kiln_error *err)
{
        char *dir = kiln_xasprintf("%s/%s", LEASE_DIR, c->bridge);
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

/*
 * The address leased to id (an existing lease is kept), under the lock: the
 * lowest free one. A lease whose container's namespace is gone (a monitor
 * killed before its cleanup, a reboot) is stale and reused: the namespace
 * is made under this same lock and removed before its lease is released.
 */
static int lease_acquire(const struct netcfg *c, const char *dir, const char *id, uint32_t *ret,
                         struct kiln_error *err)
{
        json_t *j = leases_load(dir);
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(j, tmp, k, v)
        {
                uint32_t a;
                const char *owner = json_string_value(v);
                if (*k == '_')
                        continue; /* _next: the allocation cursor */
                if (owner && !strcmp(owner, id) && ip4_parse(k, &a)) {
                        json_decref(j);
                        *ret = a;
                        return 0;
                }
                _cleanup_free_ char *ns = owner && strlen(owner) == 64 && !strchr(owner, '/')
                                                  ? ctr_net_netns_path(owner)
                                                  : NULL;
                struct stat st;
                if (!ns || lstat(ns, &st) < 0)
                        json_object_del(j, k);
        }
        /* in turn from the last one given, wrapping (docker's serial IPAM) */
        uint32_t last = c->base + (uint32_t)(~prefix_mask(c->prefix)); /* broadcast */
        uint32_t first = c->base + 2, next = first;
        const char *cur = json_string_value(json_object_get(j, "_next"));
        if (cur && ip4_parse(cur, &next) && (next < first || next >= last))
                next = first;
        for (uint32_t n = 0, a = next; n < last - first; n++, a = a + 1 >= last ? first : a + 1) {
                char s[16];
                ip4_str(a, s);
                if (json_object_get(j, s))
                        continue;
                json_object_set_new(j, s, json_string(id));
                char nx[16];
                ip4_str(a + 1 >= last ? first : a + 1, nx);
                json_object_set_new(j, "_next", json_string(nx));
                int r = leases_save(dir, j, err);
                json_decref(j);
                if (r < 0)
                        return r;
                *ret = a;
                return 0;
        }
        json_decref(j);
        return kiln_err(err, -ENOSPC, "network: no free address in %s", c->subnet);
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

void ctr_netns_remove(const char *path)
{
        umount2(path, MNT_DETACH);
        unlink(path);
}

/* lo up, in the current network namespace (as docker: also with --network none) */
static int loopback_up(void)
{
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        int r = 0;
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                r = -errno;
        else if (!(ifr.ifr_flags & IFF_UP)) {
                ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
                if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                        r = -errno;
        }
        close(fd);
        return r;
}

/*
 * A network namespace at path, kept alive by a bind mount of an nsfs file:
 * a new one with lo up (join == NULL), or the one at join (another
 * container's /proc/PID/ns/net).
 */
int ctr_netns_create(const char *path, const char *join, struct kiln_error *err)
{
        _cleanup_free_ char *nsdir = kiln_xstrdup(path);
        char *slash = strrchr(nsdir, '/');
        if (slash && slash != nsdir)
                *slash = 0;
        int r = kiln_fs_mkdir_p(AT_FDCWD, nsdir, 0755);
        if (r < 0)
                return kiln_err(err, r, "network: %s: %s", nsdir, kiln_strerror(r));
        ctr_netns_remove(path); /* an earlier run's */
        int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
        if (fd < 0)
                return kiln_err(err, -errno, "network: %s: %s", path, strerror(errno));
        close(fd);
        if (join) {
                if (mount(join, path, "none", MS_BIND, NULL) < 0) {
                        int e = errno;
                        unlink(path);
                        return kiln_err(err, -e, "network: join %s: %s", join, strerror(e));
                }
                return 0;
        }
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return kiln_err(err, -errno, "pipe: %s", strerror(errno));
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(p[0]);
                close(p[1]);
                unlink(path);
                return kiln_err(err, -e, "fork: %s", strerror(e));
        }
        if (pid == 0) {
                int e = 0;
                if (unshare(CLONE_NEWNET) < 0)
                        e = errno;
                else if ((e = -loopback_up()) != 0)
                        ;
                else if (mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) < 0)
                        e = errno;
                (void)!write(p[1], &e, sizeof(e));
                _exit(e ? 1 : 0);
        }
        close(p[1]);
        int e = EIO;
        if (read(p[0], &e, sizeof(e)) != sizeof(e))
                e = EIO;
        close(p[0]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        if (e) {
                unlink(path);
                return kiln_err(err, -e, "network: create network namespace %s: %s", path, strerror(e));
        }
        return 0;
}

/* ---- -p/--publish ---- */

/* docker's ParsePortRange: "N" or "A-B", 1..65535 here */
static bool port_range(const char *s, unsigned *lo, unsigned *hi)
{
        char *end;
        if (!*s || !(*s >= '0' && *s <= '9'))
                return false;
        unsigned long a = strtoul(s, &end, 10), b = a;
        if (*end == '-') {
                const char *t = end + 1;
                if (!(*t >= '0' && *t <= '9'))
                        return false;
                b = strtoul(t, &end, 10);
        }
        if (*end || a < 1 || a > 65535 || b < a || b > 65535)
                return false;
        *lo = (unsigned)a;
        *hi = (unsigned)b;
        return true;
}

static void add_binding(json_t *ports, unsigned cport, const char *proto, const char *hip,
                        const char *hport)
{
        char key[32];
        snprintf(key, sizeof(key), "%u/%s", cport, proto);
        json_t *list = json_object_get(ports, key);
        if (!json_is_array(list)) {
                list = json_array();
                json_object_set_new(ports, key, list);
        }
        json_array_append_new(list, json_pack("{s:s, s:s}", "HostIp", hip, "HostPort", hport));
}

/* One -p value, docker's forms (nat.ParsePortSpec) and messages. */
static int parse_publish(const char *spec, json_t *ports, size_t *count, struct kiln_error *err)
{
        _cleanup_free_ char *s = kiln_xstrdup(spec);
        /* [IP:][HOSTPORT:]CTRPORT[/PROTO]; an IP may itself hold colons ([::1]) */
        char *cpart = strrchr(s, ':');
        char *hport = NULL, *hip = NULL;
        if (cpart) {
                *cpart++ = 0;
                char *h = strrchr(s, ':');
                if (h) {
                        *h++ = 0;
                        hport = h;
                        hip = s;
                } else {
                        hport = s;
                }
        } else {
                cpart = s;
        }
        const char *proto = "tcp";
        char *slash = strchr(cpart, '/');
        if (slash) {
                *slash = 0;
                if (slash[1])
                        proto = slash + 1;
        }
        if (hip && *hip) {
                size_t l = strlen(hip);
                if (hip[0] == '[' && hip[l - 1] == ']') {
                        hip[l - 1] = 0;
                        hip++;
                }
                uint32_t dummy;
                if (strchr(hip, ':')) {
                        struct in6_addr a6;
                        if (inet_pton(AF_INET6, hip, &a6) == 1)
                                return kiln_err(err, -EINVAL,
                                                "invalid -p '%s': kiln publishes on IPv4 addresses only", spec);
                        return kiln_err(err, -EINVAL, "invalid IP address: %s", hip);
                }
                if (!ip4_parse(hip, &dummy))
                        return kiln_err(err, -EINVAL, "invalid IP address: %s", hip);
        }
        if (!*cpart)
                return kiln_err(err, -EINVAL, "no port specified: %s<empty>", spec);
        unsigned clo, chi, hlo = 0, hhi = 0;
        if (!port_range(cpart, &clo, &chi))
                return kiln_err(err, -EINVAL, "invalid containerPort: %s", cpart);
        if (hport && *hport && !port_range(hport, &hlo, &hhi))
                return kiln_err(err, -EINVAL, "invalid hostPort: %s", hport);
        if (hport && *hport && hhi - hlo != chi - clo && chi != clo)
                return kiln_err(err, -EINVAL,
                                "invalid ranges specified for container and host Ports: %s and %s", cpart,
                                hport);
        if (!strcasecmp(proto, "tcp"))
                proto = "tcp";
        else if (!strcasecmp(proto, "udp"))
                proto = "udp";
        else
                return kiln_err(err, -EINVAL, !strcmp(proto, "sctp")
                                                      ? "invalid proto: %s (kiln publishes tcp and udp)"
                                                      : "invalid proto: %s",
                                proto);
        *count += chi - clo + 1;
        if (*count > MAX_PORTS)
                return kiln_err(err, -E2BIG, "invalid -p '%s': more than %u published ports", spec, MAX_PORTS);
        const char *ip = hip && *hip ? hip : "";
        for (unsigned p = clo; p <= chi; p++) {
                char hp[16] = "";
                if (hport && *hport) {
                        if (chi != clo || hlo == hhi)
                                snprintf(hp, sizeof(hp), "%u", hlo + (p - clo));
                        else
                                snprintf(hp, sizeof(hp), "%u-%u", hlo, hhi); /* one port from the range */
                }
                add_binding(ports, p, proto, ip, hp);
        }
        return 0;
}

int ctr_net_port_bindings(char *const *publish, json_t **ret, struct kiln_error *err)
{
        json_t *ports = json_object();
        size_t count = 0;
        for (size_t i = 0; publish && publish[i]; i++) {
                int r = parse_publish(publish[i], ports, &count, err);
                if (r < 0) {
                        json_decref(ports);
                        return r;
                }
        }
        *ret = ports;
        return 0;
}

/* ---- host ports and nft rules ---- */

struct used_port {
        uint32_t ip; /* 0: every local address */
        unsigned port;
        bool udp;
};

struct used_ports {
        struct used_port *v;
        size_t n, cap;
};

static void used_add(struct used_ports *u, uint32_t ip, unsigned port, bool udp)
{
        if (u->n == u->cap) {
                u->cap = u->cap ? 2 * u->cap : 32;
                u->v = kiln_xrealloc(u->v, u->cap * sizeof(*u->v));
        }
        u->v[u->n++] = (struct used_port){ ip, port, udp };
}

static bool used_has(const struct used_ports *u, uint32_t ip, unsigned port, bool udp)
{
        for (size_t i = 0; i < u->n; i++)
                if (u->v[i].port == port && u->v[i].udp == udp &&
                    (u->v[i].ip == ip || !u->v[i].ip || !ip))
                        return true;
        return false;
}

/* Can this process bind ip:port (as docker reserves a published port)? */
static int bind_test(uint32_t ip, unsigned port, bool udp)
{
        int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(ip) };
        int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
        close(fd);
        return r;
}

static void ephemeral_range(unsigned *lo, unsigned *hi)
{
        *lo = 32768;
        *hi = 60999;
        _cleanup_free_ char *t = NULL;
        size_t len;
        unsigned a, b;
        if (kiln_fs_read_file(AT_FDCWD, "/proc/sys/net/ipv4/ip_local_port_range", 256, &t, &len) == 0 &&
            sscanf(t, "%u %u", &a, &b) == 2 && a >= 1 && a <= b && b <= 65535) {
                *lo = a;
                *hi = b;
        }
}

/*
 * Parse `nft -a list table`: the handles of id's rules (into del, as nft
 * commands) and the host ports the other containers' dnat rules use.
 */
static void nft_scan(const struct netcfg *c, const char *listing, const char *id, struct kiln_buf *del,
                     struct used_ports *used)
{
        _cleanup_free_ char *out = kiln_xstrdup(listing ? listing : "");
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
                if (!h || !chain[0] || !strstr(line, "comment \"kiln:"))
                        continue;
                if (strstr(line, tag)) {
                        char handle[32];
                        if (del && sscanf(h + 9, "%31s", handle) == 1)
                                kiln_buf_printf(del, "delete rule ip %s %s handle %s\n", c->table, chain,
                                                handle);
                        continue;
                }
                if (!used || strcmp(chain, "prerouting"))
                        continue;
                bool udp = strstr(line, "udp dport ") != NULL;
                const char *dp = strstr(line, udp ? "udp dport " : "tcp dport ");
                unsigned port;
                if (!dp || sscanf(dp + 10, "%u", &port) != 1)
                        continue;
                uint32_t ip = 0;
                const char *da = strstr(line, "ip daddr ");
                char ipbuf[32];
                if (da && sscanf(da + 9, "%31s", ipbuf) == 1)
                        ip4_parse(ipbuf, &ip);
                used_add(used, ip, port, udp);
        }
}

/* A host port for one binding: HostPort "N", "A-B" (the first free) or ""
 * (a free one from the ephemeral range, from a random start). */
static int pick_port(const char *hip_s, uint32_t hip, const char *hport, bool udp,
                     struct used_ports *used, unsigned *ret, struct kiln_error *err)
{
        const char *ip_s = hip_s && *hip_s ? hip_s : "0.0.0.0";
        unsigned lo, hi;
        bool any = !hport || !*hport;
        if (any) {
                ephemeral_range(&lo, &hi);
        } else if (!port_range(hport, &lo, &hi)) {
                return kiln_err(err, -EINVAL, "invalid hostPort: %s", hport);
        }
        unsigned n = hi - lo + 1, start = 0;
        if (any) {
                uint32_t rnd = 0;
                if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                        rnd = (uint32_t)random();
                start = rnd % n;
        }
        int last = 0;
        for (unsigned i = 0; i < n; i++) {
                unsigned p = lo + (start + i) % n;
                if (used_has(used, hip, p, udp)) {
                        last = -EADDRINUSE;
                        continue;
                }
                int r = bind_test(hip, p, udp);
                if (r == 0) {
                        used_add(used, hip, p, udp);
                        *ret = p;
                        return 0;
                }
                last = r;
                if (r != -EADDRINUSE && r != -EACCES)
                        break;
        }
        if (any)
                return kiln_err(err, -EADDRINUSE, "no free host port for %s in %u-%u", ip_s, lo, hi);
        if (lo == hi && last == -EADDRINUSE && used_has(used, hip, lo, udp))
                return kiln_err(err, -EADDRINUSE, "Bind for %s:%u failed: port is already allocated", ip_s, lo);
        if (lo == hi)
                return kiln_err(err, last ? last : -EIO, "listen %s4 %s:%u: bind: %s", udp ? "udp" : "tcp", ip_s,
                                lo, last == -EADDRINUSE ? "address already in use" /* go's words */
                                    : last               ? strerror(-last)
                                                         : "failed");
        return kiln_err(err, -EADDRINUSE, "Bind for %s:%s failed: all ports are allocated", ip_s, hport);
}

/*
 * The nft table (made when missing; postrouting rewritten), id's old rules
 * deleted, a host port picked for each of want's bindings and its dnat
 * rules added, all in one nft transaction under the lease lock. *ret_ports
 * gets NetworkSettings.Ports.
 */
static int nft_apply(const struct netcfg *c, const char *id, const char *caddr, json_t *want,
                     json_t **ret_ports, struct kiln_error *err)
{
        struct kiln_buf b = KILN_BUF_INIT;
        struct used_ports used = { 0 };
        json_t *ports = json_object();
        int r = 0;
        /* one listing: is the table there, id's stale rules, the ports in use */
        _cleanup_free_ char *listing = NULL;
        run_tool(-1, TOOL("nft", "-a", "list", "table", "ip", c->table), NULL, &listing, NULL);
        nft_scan(c, listing, id, &b, &used);
        _cleanup_free_ char *masq = kiln_xasprintf("ip saddr %s oifname != \"%s\" masquerade", c->subnet,
                                                   c->bridge);
        if (!listing || !strstr(listing, masq))
                kiln_buf_printf(&b,
                                "add table ip %1$s\n"
                                "add chain ip %1$s prerouting { type nat hook prerouting priority -100; }\n"
                                "add chain ip %1$s output { type nat hook output priority -100; }\n"
                                "add chain ip %1$s postrouting { type nat hook postrouting priority 100; }\n"
                                "flush chain ip %1$s postrouting\n"
                                "add rule ip %1$s postrouting ip saddr %2$s oifname != \"%3$s\" masquerade\n"
                                "add rule ip %1$s postrouting oifname \"%3$s\" ip saddr 127.0.0.0/8 masquerade\n",
                                c->table, c->subnet, c->bridge);
        const char *key;
        json_t *list;
        json_object_foreach(want, key, list)
        {
                unsigned cport = 0;
                char proto[8] = "tcp";
                if (sscanf(key, "%u/%7s", &cport, proto) < 1)
                        continue;
                bool udp = !strcmp(proto, "udp");
                size_t i;
                json_t *bd;
                json_array_foreach(list, i, bd)
                {
                        const char *hip_s = json_string_value(json_object_get(bd, "HostIp"));
                        const char *hport = json_string_value(json_object_get(bd, "HostPort"));
                        uint32_t hip = 0;
                        if (hip_s && *hip_s && !ip4_parse(hip_s, &hip)) {
                                r = kiln_err(err, -EINVAL, "invalid IP address: %s", hip_s);
                                goto out;
                        }
                        unsigned hp = 0;
                        if ((r = pick_port(hip_s, hip, hport, udp, &used, &hp, err)) < 0)
                                goto out;
                        char ipbuf[16];
                        ip4_str(hip, ipbuf);
                        char hps[8];
                        snprintf(hps, sizeof(hps), "%u", hp);
                        json_t *l = json_object_get(ports, key);
                        if (!json_is_array(l)) {
                                l = json_array();
                                json_object_set_new(ports, key, l);
                        }
                        json_array_append_new(l, json_pack("{s:s, s:s}", "HostIp", ipbuf, "HostPort", hps));
                        _cleanup_free_ char *match = hip ? kiln_xasprintf("ip daddr %s", ipbuf)
                                                         : kiln_xstrdup("fib daddr type local");
                        for (int k = 0; k < 2; k++)
                                kiln_buf_printf(&b,
                                                "add rule ip %s %s %s %s dport %u dnat to %s:%u "
                                                "comment \"kiln:%.12s\"\n",
                                                c->table, k ? "output" : "prerouting", match, proto, hp,
                                                caddr, cport, id);
                }
        }
        /* the script goes through a pipe filled before nft runs: less than its buffer */
        if (b.len > 60000) {
                r = kiln_err(err, -E2BIG, "network: too many published ports");
                goto out;
        }
        if (b.len) /* nothing to change: no nft transaction (10 ms) */
                r = run_tool(-1, TOOL("nft", "-f", "-"), b.data, NULL, err);
out:
        kiln_buf_free(&b);
        free(used.v);
        if (r < 0) {
                json_decref(ports);
                return r;
        }
        *ret_ports = ports;
        return 0;
}

static void nft_delete_rules(const struct netcfg *c, const char *id)
{
        _cleanup_free_ char *out = NULL;
        if (run_tool(-1, TOOL("nft", "-a", "list", "table", "ip", c->table), NULL, &out, NULL) < 0)
                return;
        struct kiln_buf del = KILN_BUF_INIT;
        nft_scan(c, out, id, &del, NULL);
        if (del.len && del.len < 60000)
                run_tool(-1, TOOL("nft", "-f", "-"), del.data, NULL, NULL);
        kiln_buf_free(&del);
}

/* ---- setup and teardown ---- */

static void write_ctr_file(struct kiln_store *s, const char *id, const char *name, const char *data)
{
        _cleanup_free_ char *dir = ctr_dir(s, id);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                kiln_fs_write_replace(dfd, name, data, strlen(data), 0644);
}

static void write_hosts(struct kiln_store *s, json_t *doc, const char *addr)
{
        const char *id = json_string_value(json_object_get(doc, "Id"));
        const char *hn = json_string_value(json_object_get(json_object_get(doc, "Config"), "Hostname"));
        _cleanup_free_ char *hosts = kiln_xasprintf(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                "ff02::2\tip6-allrouters\n%s\t%s\n",
                addr, hn ? hn : "");
        write_ctr_file(s, id, "hosts", hosts);
}

static json_t *empty_settings(const char *id, bool sandbox)
{
        _cleanup_free_ char *ns = sandbox ? ctr_net_netns_path(id) : kiln_xstrdup("");
        return json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:{}, s:{}}", "SandboxKey", ns, "IPAddress", "",
                         "IPPrefixLen", 0, "Gateway", "", "MacAddress", "", "Bridge", "", "Ports",
                         "Networks");
}

json_t *ctr_net_empty_settings(json_t *doc)
{
        return empty_settings(json_string_value(json_object_get(doc, "Id")), has_sandbox(doc));
}

/* The bindings to make: HostConfig.PortBindings, and with PublishAllPorts
 * every exposed port that has none, on a random host port (docker's -P). */
json_t *ctr_net_wanted_bindings(json_t *doc)
{
        json_t *hc = json_object_get(doc, "HostConfig");
        json_t *pb = json_object_get(hc, "PortBindings");
        json_t *want = json_is_object(pb) ? json_deep_copy(pb) : json_object();
        if (json_is_true(json_object_get(hc, "PublishAllPorts"))) {
                const char *key;
                json_t *v;
                json_object_foreach(json_object_get(json_object_get(doc, "Config"), "ExposedPorts"), key, v)
                {
                        _cleanup_free_ char *k = strchr(key, '/') ? kiln_xstrdup(key)
                                                                  : kiln_xasprintf("%s/tcp", key);
                        if (!json_object_get(want, k))
                                json_object_set_new(want, k, json_pack("[{s:s, s:s}]", "HostIp", "",
                                                                       "HostPort", ""));
                }
        }
        return want;
}

static int bridge_setup(struct kiln_store *s, json_t *doc, const struct netcfg *c, json_t *want,
                        struct kiln_error *err)
{
        const char *id = json_string_value(json_object_get(doc, "Id"));
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int lfd = lease_lock(c, &dir, err);
        if (lfd < 0)
                return lfd;
        uint32_t addr = 0;
        int r = ensure_bridge(c, err);
        if (r >= 0)
                r = lease_acquire(c, dir, id, &addr, err);
        if (r < 0)
                return r;
        char caddr[16], cidr[24], mac[24], host_if[IFNAMSIZ], self[16];
        ip4_str(addr, caddr);
        snprintf(cidr, sizeof(cidr), "%s/%u", caddr, c->prefix);
        /* docker's: 02:42 and the IPv4 address */
        snprintf(mac, sizeof(mac), "02:42:%02x:%02x:%02x:%02x", addr >> 24, (addr >> 16) & 255,
                 (addr >> 8) & 255, addr & 255);
        snprintf(host_if, sizeof(host_if), "kv%.12s", id);
        snprintf(self, sizeof(self), "%d", (int)getpid());
        _cleanup_free_ char *nspath = ctr_net_netns_path(id);
        _cleanup_close_ int nsfd = -1;
        json_t *ports = NULL;
        _cleanup_free_ char *in_ns = kiln_xasprintf(
                "link add eth0 address %s type veth peer name %s netns %s\n"
                "addr add %s dev eth0\n"
                "link set eth0 up\n"
                "route add default via %s\n",
                mac, host_if, self, cidr, c->gateway);
        _cleanup_free_ char *on_host = kiln_xasprintf("link set %s up\nlink set %s master %s up\n",
                                                      c->bridge, host_if, c->bridge);
        r = ctr_netns_create(nspath, NULL, err);
        if (r < 0)
                goto fail;
        nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0) {
                r = kiln_err(err, -errno, "network: %s: %s", nspath, strerror(errno));
                goto fail;
        }
        /* made inside the namespace; the peer goes to ours (this process's) */
        r = run_tool(nsfd, TOOL("ip", "-batch", "-"), in_ns, NULL, err);
        if (r < 0) {
                /* a veth left by a run that was killed: delete it, once */
                if (run_tool(-1, TOOL("ip", "link", "del", host_if), NULL, NULL, NULL) == 0) {
                        kiln_error_clear(err);
                        run_tool(nsfd, TOOL("ip", "link", "del", "eth0"), NULL, NULL, NULL);
                        r = run_tool(nsfd, TOOL("ip", "-batch", "-"), in_ns, NULL, err);
                }
        }
        if (r < 0 || (r = run_tool(-1, TOOL("ip", "-batch", "-"), on_host, NULL, err)) < 0)
                goto fail;
        if ((r = nft_apply(c, id, caddr, want, &ports, err)) < 0)
                goto fail;
        write_hosts(s, doc, caddr);
        json_t *ns = empty_settings(id, true);
        json_object_set_new(ns, "IPAddress", json_string(caddr));
        json_object_set_new(ns, "IPPrefixLen", json_integer(c->prefix));
        json_object_set_new(ns, "Gateway", json_string(c->gateway));
        json_object_set_new(ns, "MacAddress", json_string(mac));
        json_object_set_new(ns, "Bridge", json_string(c->bridge));
        /* exposed but unpublished ports are listed too, as docker: null */
        const char *key;
        json_t *v;
        json_object_foreach(json_object_get(json_object_get(doc, "Config"), "ExposedPorts"), key, v)
        {
                _cleanup_free_ char *k = strchr(key, '/') ? kiln_xstrdup(key) : kiln_xasprintf("%s/tcp", key);
                if (!json_object_get(ports, k))
                        json_object_set_new(ports, k, json_null());
        }
        json_object_set_new(ns, "Ports", ports);
        json_object_set_new(json_object_get(ns, "Networks"), "bridge",
                            json_pack("{s:s, s:s, s:i, s:s, s:s}", "IPAddress", caddr, "Gateway",
                                      c->gateway, "IPPrefixLen", (int)c->prefix, "MacAddress", mac,
                                      "NetworkID", c->bridge));
        json_object_set_new(doc, "NetworkSettings", ns);
        return 0;
fail:
        if (json_object_size(want))
                nft_delete_rules(c, id);
        run_tool(-1, TOOL("ip", "link", "del", host_if), NULL, NULL, NULL);
        ctr_netns_remove(nspath);
        lease_release(dir, id);
        return r;
}

/* --network container:ID: that container's namespace, hostname files and all */
static int join_setup(struct kiln_store *s, json_t *doc, const char *target, struct kiln_error *err)
{
        const char *id = json_string_value(json_object_get(doc, "Id"));
        json_t *t = NULL;
        int r = kiln_container_inspect(s, target, &t, err);
        if (r < 0)
                return r;
        json_t *st = json_object_get(t, "State");
        pid_t pid = (pid_t)json_integer_value(json_object_get(st, "Pid"));
        if (!json_is_true(json_object_get(st, "Running")) || pid <= 0) {
                json_decref(t);
                return kiln_err(err, -KILN_ECONFLICT, "cannot join network of a non running container: %s",
                                target);
        }
        _cleanup_free_ char *src = kiln_xasprintf("/proc/%d/ns/net", (int)pid);
        _cleanup_free_ char *nspath = ctr_net_netns_path(id);
        r = ctr_netns_create(nspath, src, err);
        if (r < 0) {
                json_decref(t);
                return r;
        }
        /* docker shares the other container's /etc/hosts and resolv.conf */
        static const char *const files[] = { "hosts", "resolv.conf" };
        _cleanup_free_ char *tdir = ctr_dir(s, target);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(files); i++) {
                _cleanup_free_ char *p = kiln_xasprintf("%s/%s", tdir, files[i]);
                _cleanup_free_ char *data = NULL;
                size_t len;
                if (kiln_fs_read_file(AT_FDCWD, p, 1u << 20, &data, &len) == 0)
                        write_ctr_file(s, id, files[i], data);
        }
        json_t *ns = empty_settings(id, true);
        json_decref(t);
        json_object_set_new(doc, "NetworkSettings", ns);
        return 0;
}

int ctr_net_setup(struct kiln_store *s, json_t *doc, struct kiln_error *err)
{
        if (!has_sandbox(doc))
                return 0;
        const char *id = json_string_value(json_object_get(doc, "Id"));
        const char *mode = ctr_net_mode(doc);
        _cleanup_free_ char *nspath = ctr_net_netns_path(id);
        if (kiln_startswith(mode, "container:"))
                return join_setup(s, doc, mode + 10, err);
        if (!strcmp(mode, "pasta"))
                return ctr_pasta_setup(s, doc, err);
        if (strcmp(mode, "bridge")) {
                int r = ctr_netns_create(nspath, NULL, err); /* none: loopback only */
                if (r >= 0)
                        json_object_set_new(doc, "NetworkSettings", empty_settings(id, true));
                return r;
        }
        struct netcfg c;
        netcfg_of(doc, &c);
        json_t *want = ctr_net_wanted_bindings(doc);
        int r = bridge_setup(s, doc, &c, want, err);
        bool fallback = r < 0 && json_is_true(json_object_get(net_opts(doc), "Default")) &&
                        json_object_size(want) == 0;
        json_decref(want);
        if (!fallback)
                return r;
        /* the default network, not asked for by name: loopback only, and say so */
        kiln_warn("bridge network unavailable (%s): container %.12s has loopback only",
                  err ? err->msg : kiln_strerror(r), id);
        kiln_error_clear(err);
        r = ctr_netns_create(nspath, NULL, err);
        if (r >= 0)
                json_object_set_new(doc, "NetworkSettings", empty_settings(id, true));
        return r;
}

void ctr_net_teardown(struct kiln_store *s, json_t *doc)
{
        (void)s;
        if (!has_sandbox(doc))
                return;
        const char *id = json_string_value(json_object_get(doc, "Id"));
        if (!id)
                return;
        _cleanup_free_ char *nspath = ctr_net_netns_path(id);
        if (ctr_net_is_pasta(doc)) {
                ctr_pasta_teardown(s, doc);
                json_object_set_new(doc, "NetworkSettings", empty_settings(id, true));
                return;
        }
        if (!ctr_net_is_bridge(doc)) {
                ctr_netns_remove(nspath);
                json_object_set_new(doc, "NetworkSettings", empty_settings(id, true));
                return;
        }
        struct netcfg c;
        netcfg_of(doc, &c);
        json_t *want = ctr_net_wanted_bindings(doc);
        if (json_object_size(want))
                nft_delete_rules(&c, id);
        json_decref(want);
        /* The veth pair goes with the namespace: the kernel deletes both ends
         * once the namespace is freed, in the background. Deleting it here
         * would wait for RCU grace periods (15-25 ms measured here). A start
         * that still finds it deletes it first (bridge_setup), and addresses
         * are handed out in turn, not the lowest free one, so a lingering
         * peer never holds an address a new container was given. */
        ctr_netns_remove(nspath);
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int lfd = lease_lock(&c, &dir, NULL);
        if (lfd >= 0)
                lease_release(dir, id);
        json_object_set_new(doc, "NetworkSettings", empty_settings(id, true));
}
