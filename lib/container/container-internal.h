/* SPDX-License-Identifier: Apache-2.0 */
/* Private parts of lib/container. */
#pragma once

#include "kiln/container.h"

/* ROOT/containers/<id> (caller frees). */
char *ctr_dir(struct kiln_store *s, const char *id);
/* RFC 3339 with nanoseconds, UTC. */
void ctr_now_rfc3339(char *out, size_t n);
/* JSON array of strings -> NULL-terminated vector (caller frees). */
char **ctr_json_strv(json_t *a);
/* Mount the container's overlay (no-op when mounted or a private copy). */
int ctr_mount_rootfs(struct kiln_store *s, json_t *doc, struct kiln_error *err);
void ctr_unmount_rootfs(json_t *doc);
bool ctr_is_mounted(const char *path);

/* /etc/resolv.conf for a container: the host's; without host_network its
 * loopback nameservers are left out (a private netns cannot reach them).
 * Caller frees. */
char *ctr_resolv_conf(bool host_network);

/* Fill an empty volume directory from the image's content at dest. */
int ctr_volume_fill(const char *rootfs, const char *dest, const char *voldata, struct kiln_error *err);

/* network.c: --network bridge (the default as root), none, container:ID;
 * leases, a named netns, nft. */
/* HostConfig.NetworkMode, "" if none recorded. */
const char *ctr_net_mode(json_t *doc);
/* HostConfig.NetworkMode is "bridge". */
bool ctr_net_is_bridge(json_t *doc);
/* /run/kiln/netns/<id>, rootless under the runtime directory (caller frees). */
char *ctr_net_netns_path(const char *id);
/* RunOpts.Network for a bridge container: the bridge and subnet (KILN_BRIDGE,
 * KILN_BRIDGE_SUBNET, else kiln0 and 10.88.0.0/16), whether it is the
 * default network (which falls back to loopback only). Caller owns *ret. */
int ctr_net_config(bool is_default, json_t **ret, struct kiln_error *err);
/* -p values, docker's forms ([IP:][HOSTPORT:]CTRPORT[/PROTO], ranges) and
 * error messages -> docker's PortBindings {"80/tcp":[{"HostIp":"",
 * "HostPort":"8080"}]}; HostPort "" is a random port, "A-B" one from a range.
 * Caller owns *ret. */
int ctr_net_port_bindings(char *const *publish, json_t **ret, struct kiln_error *err);
/* NetworkSettings of a container that is not running (caller owns). */
json_t *ctr_net_empty_settings(json_t *doc);
/* Before the runtime creates the container: the namespace the spec joins
 * (bridge: lease, veth, host ports, nft rules, /etc/hosts); doc's
 * NetworkSettings filled (not saved). No-op for host and for a non-root
 * kiln's private namespace. On failure everything made is undone; the
 * default bridge that cannot be set up falls back to loopback (a warning). */
int ctr_net_setup(struct kiln_store *s, json_t *doc, struct kiln_error *err);
/* Undo ctr_net_setup (idempotent, best effort); NetworkSettings emptied. */
void ctr_net_teardown(struct kiln_store *s, json_t *doc);

/* An executable kiln-monitor beside kiln's binary SELF, in the build tree or
 * installed; $KILN_MONITOR overrides ("none": NULL). Caller frees. */
char *ctr_find_monitor(const char *self);

/* network.c: a network namespace bound on path (its directory made): a new
 * one with lo up (join NULL), or the one at join. */
int ctr_netns_create(const char *path, const char *join, struct kiln_error *err);
void ctr_netns_remove(const char *path);
/* The ports to publish: HostConfig.PortBindings plus, with -P, every
 * exposed port on a random host port (HostPort ""). Caller owns it. */
json_t *ctr_net_wanted_bindings(json_t *doc);

/* pasta.c: the rootless network, pasta (passt package) attached to the
 * container's named network namespace, with -p as its port forwards. */
bool ctr_pasta_available(void);
/* HostConfig.NetworkMode is "pasta". */
bool ctr_net_is_pasta(json_t *doc);
int ctr_pasta_setup(struct kiln_store *s, json_t *doc, struct kiln_error *err);
void ctr_pasta_teardown(struct kiln_store *s, json_t *doc);
/* network.c: an executable from the sbin/bin directories (caller frees). */
char *ctr_net_tool_path(const char *name);
/* Run argv (argv[0] found as above); stdout into *ret_out; exit != 0 is
 * -EIO with its stderr as the message. */
int ctr_net_run_tool(const char *const *argv, char **ret_out, struct kiln_error *err);

/* idmap.c: --userns/--uidmap. Maps as "C:H:S" strings (inspect's form). */
json_t *ctr_id_maps_json(const struct kiln_id_map *m, size_t n);
/* The valid entries of a "C:H:S" array; *ret (caller frees) may be empty. */
size_t ctr_id_maps_from_json(json_t *a, struct kiln_id_map **ret);
/* The overlay of lower (colon list) with upper/work on merged, every layer
 * an idmapped mount with these maps (see idmap.c). */
int ctr_mount_idmapped_overlay(const char *lower, const char *upper, const char *work, const char *merged,
                               const struct kiln_id_map *um, size_t nu, const struct kiln_id_map *gm,
                               size_t ng, struct kiln_error *err);

/* rootless.c: the ranges of user name (or uid id) in /etc/subuid|subgid. */
struct ctr_id_range {
        uint32_t start, count;
};
size_t ctr_sub_ranges(const char *file, const char *name, uint32_t id, struct ctr_id_range *out, size_t max);
/* The host ids of the container's root when it has --userns maps. */
bool ctr_root_host_ids(json_t *doc, uid_t *ret_uid, gid_t *ret_gid);
/* Run fn with our filesystem ids those of the container's root (in a
 * child): the idmapped rootfs of a --userns container is writable only
 * so. Without maps fn runs here. fn's *out and error come back. */
int ctr_as_container_root(json_t *doc, int (*fn)(void *arg, int64_t *out, struct kiln_error *err), void *arg,
                          int64_t *out, struct kiln_error *err);
