#!/usr/bin/env bats
# kiln runtime: the runc-compatible OCI runtime, driven through the real
# binary, and against crun, runc and podman.

load helpers

setup() {
	[ "$(id -u)" = 0 ] || skip "the runtime tests need root"
	STATE="$BATS_TEST_TMPDIR/state"
	BUNDLE="$BATS_TEST_TMPDIR/bundle"
	mkdir -p "$BUNDLE"
	ROOTFS=$(busybox_rootfs)
}

teardown() {
	# leave no container behind
	if [ -d "${STATE:-/nonexistent}" ]; then
		for id in $("$KILN" runtime --root "$STATE" list -q 2>/dev/null); do
			"$KILN" runtime --root "$STATE" delete -f "$id" >/dev/null 2>&1 || true
		done
	fi
}

rt() {
	"$KILN" runtime --root "$STATE" "$@"
}

# A bundle from `kiln runtime spec` on the shared busybox rootfs, running
# the given command without a terminal.
make_bundle() {
	rm -f "$BUNDLE/config.json"
	(cd "$BUNDLE" && "$KILN" runtime spec)
	local args
	args=$(printf '%s\n' "$@" | jq -R . | jq -s -c .)
	jq --arg root "$ROOTFS" --argjson args "$args" \
		'.root.path = $root | .process.terminal = false | .process.args = $args' \
		"$BUNDLE/config.json" >"$BUNDLE/c.tmp"
	mv "$BUNDLE/c.tmp" "$BUNDLE/config.json"
}

edit_config() {
	jq "$1" "$BUNDLE/config.json" >"$BUNDLE/c.tmp"
	mv "$BUNDLE/c.tmp" "$BUNDLE/config.json"
}

# create detached from bats' output pipe (the init inherits stdio)
create_detached() {
	rt create --bundle "$BUNDLE" "$1" </dev/null >"$BATS_TEST_TMPDIR/$1.out" 2>"$BATS_TEST_TMPDIR/$1.err"
}

crun_hybrid_quirk() {
	# crun 1.8.1 refuses hybrid cgroups while cgroup2 lists hugetlb (PEERS.md)
	if [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
		mkdir -p /sys/fs/cgroup/hugetlb
		mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb || true
	fi
}

@test "runtime: --version and features" {
	run rt --version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "kiln-runtime version "* ]]
	[ "${lines[1]}" = "spec: 1.0.2" ]
	run rt features
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.ociVersionMax == "1.0.2" and (.hooks | index("poststop")) and .linux.seccomp.enabled'
}

@test "runtime: spec writes config.json and refuses to overwrite it" {
	cd "$BUNDLE"
	run "$KILN" runtime spec
	[ "$status" -eq 0 ]
	jq -e '.ociVersion and .process.args == ["sh"] and .root.path == "rootfs"' config.json
	run "$KILN" runtime spec
	[ "$status" -eq 1 ]
	[[ "$output" == *"exists"* ]]
	run "$KILN" runtime spec --rootless --bundle "$BATS_TEST_TMPDIR"
	[ "$status" -eq 0 ]
	jq -e '.linux.namespaces | map(.type) | index("user")' "$BATS_TEST_TMPDIR/config.json"
}

@test "runtime: run echo hello" {
	make_bundle echo hello
	run rt run --bundle "$BUNDLE" c1
	[ "$status" -eq 0 ]
	[ "$output" = "hello" ]
	# run deletes the container
	run rt state c1
	[ "$status" -eq 1 ]
}

@test "runtime: run returns the container's exit status" {
	make_bundle sh -c 'exit 3'
	run rt run -b "$BUNDLE" c1
	[ "$status" -eq 3 ]
	make_bundle sh -c 'kill -9 $$; sleep 1'
	# pid 1 cannot SIGKILL itself from inside its namespace: a child can't either;
	# kill the init from the host instead
	make_bundle sleep 30
	rt run -b "$BUNDLE" c2 </dev/null >/dev/null 2>&1 &
	local runner=$!
	for _ in $(seq 50); do
		[ "$(rt state c2 2>/dev/null | jq -r .status)" = running ] && break
		sleep 0.1
	done
	rt kill c2 KILL
	wait $runner || status=$?
	[ "$status" -eq 137 ]
}

@test "runtime: the container has its own pid namespace, hostname and cwd" {
	make_bundle sh -c 'ps -o pid,args; hostname; pwd'
	edit_config '.hostname = "boxy" | .process.cwd = "/tmp"'
	run rt run -b "$BUNDLE" c1
	[ "$status" -eq 0 ]
	echo "$output"
	# the only processes are the container's: pid 1 is the command
	[[ "${lines[1]}" =~ ^\ *1\ +ps ]] || [[ "${lines[1]}" =~ ^\ *1\ +sh ]]
	[ "$(echo "$output" | grep -c -E '^ *[0-9]+ ')" -le 2 ]
	[ "${lines[-2]}" = "boxy" ]
	[ "${lines[-1]}" = "/tmp" ]
}

@test "runtime: capabilities follow the spec (Docker's default set)" {
	make_bundle grep Cap /proc/self/status
	local caps='["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW","CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"]'
	edit_config ".process.capabilities = {bounding: $caps, effective: $caps, permitted: $caps, inheritable: [], ambient: []}"
	run rt run -b "$BUNDLE" c1
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "$output" == *"CapEff:	00000000a80425fb"* ]]
	[[ "$output" == *"CapBnd:	00000000a80425fb"* ]]
	[[ "$output" == *"CapInh:	0000000000000000"* ]]
}

@test "runtime: a non-root user keeps only the given capabilities" {
	make_bundle sh -c 'id -u; id -g; grep CapEff /proc/self/status'
	edit_config '.process.user = {uid: 1000, gid: 1000, additionalGids: [5]}'
	run rt run -b "$BUNDLE" c1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = 1000 ]
	# as runc: without ambient capabilities a non-root process has none
	[[ "${lines[2]}" == *"CapEff:	0000000000000000" ]]
	local caps='["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"]'
	edit_config ".process.capabilities.inheritable = $caps | .process.capabilities.ambient = $caps"
	run rt run -b "$BUNDLE" c2
	[ "$status" -eq 0 ]
	[[ "${lines[2]}" == *"CapEff:	0000000020000420" ]]
}

@test "runtime: create, start, state, kill, delete" {
	make_bundle sleep 30
	edit_config '.annotations = {"org.test": "yes"}'
	create_detached c1
	run rt state c1
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --arg b "$BUNDLE" '.status == "created" and .id == "c1" and .pid > 0 and .bundle == $b and .annotations["org.test"] == "yes" and .ociVersion == "1.0.2"'
	local pid
	pid=$(echo "$output" | jq .pid)
	run rt list --format json
	echo "$output" | jq -e 'length == 1 and .[0].id == "c1"'
	run rt start c1
	[ "$status" -eq 0 ]
	run rt state c1
	echo "$output" | jq -e '.status == "running"'
	run rt ps --format json c1
	[ "$status" -eq 0 ]
	[ "$output" = "[$pid]" ]
	run rt start c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"already running"* ]]
	run rt delete c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"not stopped"* ]]
	run rt kill c1 KILL
	[ "$status" -eq 0 ]
	for _ in $(seq 50); do
		[ "$(rt state c1 | jq -r .status)" = stopped ] && break
		sleep 0.1
	done
	run rt state c1
	echo "$output" | jq -e '.status == "stopped"'
	run rt kill c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"container not running"* ]]
	run rt delete c1
	[ "$status" -eq 0 ]
	[ ! -e "$STATE/c1" ]
	[ ! -e /sys/fs/cgroup/pids/kiln/c1 ]
	[ ! -e /sys/fs/cgroup/kiln/c1 ]
	run rt state c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"does not exist"* ]]
}

@test "runtime: exec runs inside the container's namespaces" {
	make_bundle sleep 30
	edit_config '.hostname = "execbox"'
	create_detached c1
	rt start c1
	run rt exec c1 cat /etc/hostname
	[ "$status" -eq 0 ]
	[ "$output" = "kiln" ]
	run rt exec c1 hostname
	[ "$output" = "execbox" ]
	run rt exec --cwd /tmp -e FOO=bar c1 sh -c 'pwd; echo $FOO; ps -o pid,args | grep -c sleep'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = /tmp ]
	[ "${lines[1]}" = bar ]
	run rt exec c1 sh -c 'exit 7'
	[ "$status" -eq 7 ]
	run rt exec c1 no-such-program
	[ "$status" -eq 1 ]
	[[ "$output" == *"executable file not found"* ]]
	run rt exec -u 1000:1000 c1 id -u
	[ "$output" = 1000 ]
	rt delete -f c1
	[ ! -e "$STATE/c1" ]
}

@test "runtime: errors from the container init reach the caller and the json log" {
	make_bundle true
	edit_config '.process.cwd = "/does/not/exist"'
	run rt --log "$BATS_TEST_TMPDIR/log.json" --log-format json run -b "$BUNDLE" c1
	[ "$status" -eq 1 ]
	[[ "$output" == "Error: container init: "*"/does/not/exist"* ]]
	jq -e 'select(.level == "error") | .msg | contains("/does/not/exist")' "$BATS_TEST_TMPDIR/log.json"
	jq -e '.time' "$BATS_TEST_TMPDIR/log.json"
	[ ! -e "$STATE/c1" ]
	make_bundle no-such-binary
	run rt run -b "$BUNDLE" c1
	[ "$status" -eq 1 ]
	[[ "$output" == *'exec: "no-such-binary": executable file not found in $PATH'* ]]
}

@test "runtime: rlimits above the hard limit fail clearly" {
	make_bundle true
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" != unlimited ] || skip "no hard NOFILE limit"
	edit_config ".process.rlimits = [{type: \"RLIMIT_NOFILE\", soft: 1024, hard: $((hard + 1000))}]"
	run rt run -b "$BUNDLE" c1
	if capsh --has-p=cap_sys_resource 2>/dev/null; then
		skip "CAP_SYS_RESOURCE held: raising is allowed"
	fi
	[ "$status" -eq 1 ]
	[[ "$output" == *"RLIMIT_NOFILE"*"hard limit"* ]]
}

@test "runtime: no host fd leaks into the container (CVE-2024-21626)" {
	make_bundle ls /proc/self/fd
	run rt run -b "$BUNDLE" c1 5</etc/hostname 7>/dev/null
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | tr '\n' ' ')" = "0 1 2 3 " ]
	# --preserve-fds passes exactly the given ones
	make_bundle ls /proc/self/fd
	run rt run --preserve-fds 1 -b "$BUNDLE" c2 3</etc/hostname 7>/dev/null
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | tr '\n' ' ')" = "0 1 2 3 4 " ]
	# exec too; and the cwd is inside the container
	make_bundle sleep 30
	create_detached c3
	run rt exec c3 sh -c 'ls /proc/self/fd; readlink /proc/self/cwd' 9</etc/hostname
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | tr '\n' ' ')" = "0 1 2 3 / " ]
}

@test "runtime: the container cannot overwrite the runtime binary (CVE-2019-5736)" {
	local real
	real=$(readlink -f "$KILN")
	local before
	before=$(sha256sum "$real" | cut -d' ' -f1)
	make_bundle sh -c 'echo x > /proc/self/exe; echo x > /proc/1/exe; true'
	run rt run -b "$BUNDLE" c1
	# the created container's pid 1 is the runtime's init: try it via exec
	make_bundle sleep 30
	create_detached c2
	run rt exec c2 sh -c 'echo x > /proc/1/exe && echo WROTE; cat /proc/1/exe >/dev/null 2>&1 && echo READ; true'
	echo "$output"
	[[ "$output" != *WROTE* ]]
	[[ "$output" != *READ* ]]
	# the init runs from a sealed memfd copy, not from the host file
	local pid
	pid=$(rt state c2 | jq .pid)
	[[ "$(readlink /proc/$pid/exe)" == "/memfd:"* ]]
	rt delete -f c2
	[ "$(sha256sum "$real" | cut -d' ' -f1)" = "$before" ]
}

@test "runtime: hooks (createRuntime, poststart, poststop) get the state on stdin" {
	make_bundle sleep 30
	local log="$BATS_TEST_TMPDIR/hooks.log"
	cat >"$BATS_TEST_TMPDIR/hook.sh" <<EOF
#!/bin/sh
printf '%s ' "\$1" >>$log
cat >>$log
echo >>$log
EOF
	chmod +x "$BATS_TEST_TMPDIR/hook.sh"
	local h="$BATS_TEST_TMPDIR/hook.sh"
	edit_config ".hooks = {createRuntime: [{path: \"$h\", args: [\"hook\", \"createRuntime\"]}], poststart: [{path: \"$h\", args: [\"hook\", \"poststart\"]}], poststop: [{path: \"$h\", args: [\"hook\", \"poststop\"], timeout: 5}]}"
	create_detached c1
	rt start c1
	rt delete -f c1
	cat "$log"
	grep '^createRuntime {' "$log" | sed 's/^createRuntime //' | jq -e '.id == "c1" and .status == "creating" and .pid > 0'
	grep '^poststart {' "$log" | sed 's/^poststart //' | jq -e '.status == "running"'
	grep '^poststop {' "$log" | sed 's/^poststop //' | jq -e '.status == "stopped"'
	# a failing createRuntime hook fails create and undoes it
	edit_config '.hooks = {createRuntime: [{path: "/bin/false"}]}'
	run rt create -b "$BUNDLE" c2 </dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"createRuntime hook /bin/false: exit status 1"* ]]
	[ ! -e "$STATE/c2" ]
}

@test "runtime: a terminal through --console-socket" {
	command -v python3 >/dev/null || skip "python3 needed for the console socket"
	make_bundle sh -c 'tty; echo done'
	edit_config '.process.terminal = true'
	local sock="$BATS_TEST_TMPDIR/console.sock"
	# receive the pty master and print what the container writes
	python3 - "$sock" >"$BATS_TEST_TMPDIR/console.out" 2>&1 <<'EOF' &
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
fds = array.array("i")
msg, anc, _, _ = c.recvmsg(1024, socket.CMSG_LEN(fds.itemsize))
for level, typ, data in anc:
    fds.frombytes(data[:fds.itemsize])
fd = fds[0]
out = b""
while b"done" not in out:
    try:
        d = os.read(fd, 1024)
    except OSError:
        break
    if not d:
        break
    out += d
sys.stdout.write(out.decode())
EOF
	local py=$!
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	rt create -b "$BUNDLE" --console-socket "$sock" c1 </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/c1.err"
	rt start c1
	wait $py
	cat "$BATS_TEST_TMPDIR/console.out"
	grep -q '^/dev/pts/0' "$BATS_TEST_TMPDIR/console.out"
	grep -q done "$BATS_TEST_TMPDIR/console.out"
}

@test "runtime: crun runs a bundle kiln made, kiln runs one crun made" {
	command -v crun >/dev/null || skip "crun not installed"
	crun_hybrid_quirk
	make_bundle echo hi-from-crun
	run crun --root "$BATS_TEST_TMPDIR/crun" run -b "$BUNDLE" k2c
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "hi-from-crun" ]

	rm -f "$BUNDLE/config.json"
	(cd "$BUNDLE" && crun spec)
	edit_config ".root.path = \"$ROOTFS\" | .process.args = [\"echo\", \"hi\"] | .process.terminal = false"
	run rt run -b "$BUNDLE" c2k
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "hi" ]
}

@test "runtime: runc runs a bundle kiln made" {
	command -v runc >/dev/null || skip "runc not installed"
	make_bundle echo hi-from-runc
	run runc --root "$BATS_TEST_TMPDIR/runc" run -b "$BUNDLE" k2r
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "hi-from-runc" ]
}

@test "runtime: podman --runtime kiln-runtime" {
	command -v podman >/dev/null || skip "podman not installed"
	command -v conmon >/dev/null || [ -x /usr/libexec/podman/conmon ] || skip "conmon not installed"
	local bin="$BATS_TEST_TMPDIR/bin"
	mkdir -p "$bin"
	ln -s "$(readlink -f "$KILN")" "$bin/kiln-runtime"
	local hard
	hard=$(ulimit -Hn)
	cat >"$BATS_TEST_TMPDIR/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$hard:$hard", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
	export CONTAINERS_CONF="$BATS_TEST_TMPDIR/containers.conf"
	local proot="$BATS_TEST_TMPDIR/podman-root" prun="$BATS_TEST_TMPDIR/podman-run"
	local P=(podman --root "$proot" --runroot "$prun" --storage-driver vfs
		--cgroup-manager cgroupfs --events-backend file --runtime "$bin/kiln-runtime")
	tar -C "$ROOTFS" -cf "$BATS_TEST_TMPDIR/bb.tar" .
	run "${P[@]}" import "$BATS_TEST_TMPDIR/bb.tar" localhost/kiln-bb:latest
	if [ "$status" -ne 0 ]; then
		skip "podman cannot import here: ${lines[-1]}"
	fi
	run "${P[@]}" run --rm --network none localhost/kiln-bb:latest echo hi
	echo "$output"
	if [ "$status" -ne 0 ] && [[ "$output" != *kiln* ]] && [[ "$output" == *"conmon"* || "$output" == *"netavark"* || "$output" == *"slirp"* ]]; then
		"${P[@]}" system reset -f >/dev/null 2>&1 || true
		skip "podman cannot run here: ${lines[-1]}"
	fi
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "hi" ]
	run "${P[@]}" run --rm --network none localhost/kiln-bb:latest sh -c 'exit 5'
	[ "$status" -eq 5 ]
	"${P[@]}" rmi -a -f >/dev/null 2>&1 || true
	rm -rf "$proot" 2>/dev/null || true
}

@test "runtime: root.path \".\" and \"rootfs\" relative to the bundle (runtime-tools' bundles)" {
	# the runtime-tools validation suite puts config.json inside the rootfs
	# and sets root.path to "."; a lookup of "." would miss the bind mount
	local b="$BATS_TEST_TMPDIR/dot"
	cp -a "$ROOTFS" "$b"
	(cd "$b" && "$KILN" runtime spec)
	jq '.root.path = "." | .process.terminal = false | .process.args = ["echo","dot"]' \
		"$b/config.json" >"$b/c.tmp" && mv "$b/c.tmp" "$b/config.json"
	run rt run --bundle "$b" dotroot
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "dot" ]
	mkdir -p "$BATS_TEST_TMPDIR/rel"
	ln -s "$ROOTFS" "$BATS_TEST_TMPDIR/rel/rootfs"
	(cd "$BATS_TEST_TMPDIR/rel" && "$KILN" runtime spec)
	jq '.process.terminal = false | .process.args = ["echo","rel"]' \
		"$BATS_TEST_TMPDIR/rel/config.json" >"$BATS_TEST_TMPDIR/rel/c" && mv "$BATS_TEST_TMPDIR/rel/c" "$BATS_TEST_TMPDIR/rel/config.json"
	run rt run --bundle "$BATS_TEST_TMPDIR/rel" relroot
	[ "$status" -eq 0 ]
	[ "$output" = "rel" ]
}

@test "runtime: hostname in a UTS namespace joined by path" {
	command -v unshare >/dev/null || skip "unshare missing"
	unshare --uts sleep 30 &
	local holder=$!
	sleep 0.2
	make_bundle hostname
	edit_config "(.linux.namespaces |= map(if .type == \"uts\" then .path = \"/proc/$holder/ns/uts\" else . end)) | .hostname = \"joined\""
	run rt run --bundle "$BUNDLE" utsjoin
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "joined" ]
}
