#!/bin/bash
# Container start latency: kiln run vs crun/runc on a ready bundle and podman run,
# same machine, same busybox image, one run; plus 100 containers in a row and the
# RSS of a detached container's monitor.
#   bench/run.sh [KILN_BINARY]     env: RUNS=20
# Needs: hyperfine, crun, runc, podman (+conmon), jq, busybox-static. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
KILN=$(readlink -f "${1:-build/cli/kiln}")
RUNS=${RUNS:-20}
W=$(mktemp -d /tmp/kiln-bench-run.XXXXXX)
export KILN_ROOT="$W/store" KILN_RUNTIME_ROOT="$W/rt"
cleanup() {
	for id in $("$KILN" ps -aq --no-trunc 2>/dev/null); do "$KILN" rm -f "$id" >/dev/null 2>&1 || true; done
	[ -n "${P:-}" ] && "${P[@]}" system reset -f >/dev/null 2>&1 || true
	umount "$W/store/containers"/*/rootfs 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

scripts/busybox-rootfs.sh "$W/rootfs" >/dev/null
"$KILN" import "$W/rootfs" bench/bb:1 >/dev/null

# a ready bundle for crun and runc, made by kiln's spec generator
mkdir -p "$W/bundle"
cp -a "$W/rootfs" "$W/bundle/rootfs"
(cd "$W/bundle" && "$KILN" runtime spec >/dev/null)
jq '.process.terminal = false | .process.args = ["true"]' "$W/bundle/config.json" >"$W/c.json"
mv "$W/c.json" "$W/bundle/config.json"
# crun 1.8.1 refuses hybrid cgroups while cgroup2 lists hugetlb (PEERS.md)
if [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
	mkdir -p /sys/fs/cgroup/hugetlb
	mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb || true
fi

# podman with a configuration this machine accepts (nofile/nproc at the hard limits)
hard=$(ulimit -Hn)
cat >"$W/containers.conf" <<C
[containers]
default_ulimits = ["nofile=$hard:$hard", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
C
export CONTAINERS_CONF="$W/containers.conf"
P=(podman --root "$W/podman" --runroot "$W/podman-run" --storage-driver vfs --cgroup-manager cgroupfs --events-backend file)
tar -C "$W/rootfs" -cf "$W/bb.tar" .
have_podman=0
if command -v podman >/dev/null && "${P[@]}" import "$W/bb.tar" localhost/bb:1 >/dev/null 2>&1 &&
	"${P[@]}" run --rm --network none localhost/bb:1 true >/dev/null 2>&1; then
	have_podman=1
fi

# the bundle kiln run itself makes (Docker's seccomp profile, masked paths, all
# the mounts): crun on it is the like-for-like floor for kiln run
# (its spec joins the network namespace kiln's start makes: made here)
cid=$("$KILN" create --network none bench/bb:1 true)
cb="$KILN_ROOT/containers/$cid"
nsp=$(jq -r '.linux.namespaces[] | select(.type == "network") | .path // empty' "$cb/config.json")
if [ -n "$nsp" ]; then
	mkdir -p "$(dirname "$nsp")"
	touch "$nsp"
	unshare --net="$nsp" true
fi

cmds=(-n "kiln run --rm IMG true" "$KILN run --rm bench/bb:1 true"
	-n "crun run (kiln's container bundle)" "crun run --bundle $cb kb-crun-c"
	-n "kiln run --rm --network none IMG true" "$KILN run --rm --network none bench/bb:1 true"
	-n "crun run (ready bundle)" "crun run --bundle $W/bundle kb-crun"
	-n "runc run (ready bundle)" "runc run --bundle $W/bundle kb-runc"
	-n "kiln runtime run (ready bundle)" "$KILN runtime --root $W/krt run --bundle $W/bundle kb-kiln")
if [ "$have_podman" = 1 ]; then
	cmds+=(-n "podman run --rm --network none IMG true" "${P[*]} run --rm --network none localhost/bb:1 true")
	# each tool's default network: kiln's bridge, podman's (a veth on its bridge)
	if "${P[@]}" run --rm localhost/bb:1 true >/dev/null 2>&1; then
		cmds+=(-n "podman run --rm IMG true" "${P[*]} run --rm localhost/bb:1 true")
	fi
fi
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$W/start.json" "${cmds[@]}"
python3 - "$W/start.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
# like for like: a ready bundle has a new network namespace with loopback
# only, as --network none; the default networks are compared separately
k = r["kiln run --rm --network none IMG true"]
kd = r["kiln run --rm IMG true"]
print("\nmeans: " + ", ".join("%s %.1f ms" % (n, v * 1000) for n, v in r.items()))
print("kiln run --network none / crun bundle: %.2fx" % (k / r["crun run (ready bundle)"]))
print("kiln run --network none / crun on kiln's container bundle: %.2fx" % (k / r["crun run (kiln's container bundle)"]))
print("runc bundle / kiln run --network none: %.2fx" % (r["runc run (ready bundle)"] / k))
if "podman run --rm --network none IMG true" in r:
    print("podman run / kiln run, both --network none: %.1fx" % (r["podman run --rm --network none IMG true"] / k))
if "podman run --rm IMG true" in r:
    print("podman run / kiln run, both on their default bridge: %.1fx" % (r["podman run --rm IMG true"] / kd))
PY

echo
echo "== 100 containers in a row"
/usr/bin/time -f "kiln: 100 x run --rm true: %e s" bash -c "for i in \$(seq 100); do $KILN run --rm bench/bb:1 true; done"
/usr/bin/time -f "crun: 100 x run of a ready bundle: %e s" bash -c "for i in \$(seq 100); do crun run --bundle $W/bundle kb-crun-\$i; done"

echo
echo "== a detached container's monitor"
id=$("$KILN" run -d bench/bb:1 sleep 60)
sleep 0.5
mon=$("$KILN" inspect --format '{{.State.MonitorPid}}' "$id")
echo "monitor pid $mon: $(awk '/VmRSS/ {print $2, $3}' /proc/$mon/status) RSS, $(awk '/Pss:/ {s+=$2} END {print s " kB"}' /proc/$mon/smaps_rollup) PSS"
"$KILN" rm -f "$id" >/dev/null
