#!/usr/bin/env bats
# A container's changes: diff, commit, export; and top, stats.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_store
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	import_busybox bb:1 >/dev/null
}

teardown() {
	remove_containers
}

@test "diff lists added, changed and deleted paths" {
	kiln run --name d1 bb:1 sh -c 'echo hi > /etc/greeting; rm /bin/vi; mkdir /newdir'
	run kiln diff d1
	[ "$status" -eq 0 ]
	[[ "$output" == *"A /etc/greeting"* ]]
	[[ "$output" == *"C /etc"* ]]
	[[ "$output" == *"D /bin/vi"* ]]
	[[ "$output" == *"A /newdir"* ]]
}

@test "commit makes an image with the changes as a new layer and --change applied" {
	kiln run --name c1 -e KEPT=1 bb:1 sh -c 'echo hi > /etc/greeting; rm /bin/vi'
	run kiln commit -m "added greeting" -a "Ada" -c 'CMD ["cat","/etc/greeting"]' -c 'LABEL step=2' c1 greet:1
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
	run kiln run --rm greet:1
	[ "$output" = "hi" ]
	run kiln run --rm greet:1 sh -c 'test -e /bin/vi || echo gone; echo $KEPT'
	[ "${lines[0]}" = "gone" ]
	[ "${lines[1]}" = "1" ]
	run kiln inspect --format '{{json .RootFS.Layers}}' greet:1
	echo "$output" | jq -e 'length == 2'
	run kiln inspect --format '{{.Author}} {{.Config.Labels.step}}' greet:1
	[ "$output" = "Ada 2" ]
	run kiln history greet:1
	[[ "${lines[1]}" == *"added greeting"* ]]
	# the new layer is an OCI layer with a whiteout, readable by umoci
	if command -v umoci >/dev/null; then
		umoci unpack --image "$KILN_ROOT/oci:docker.io/library/greet:1" "$BATS_TEST_TMPDIR/b" >/dev/null
		[ "$(cat "$BATS_TEST_TMPDIR/b/rootfs/etc/greeting")" = "hi" ]
		[ ! -e "$BATS_TEST_TMPDIR/b/rootfs/bin/vi" ]
	fi
	run kiln fsck
	[ "$status" -eq 0 ]
}

@test "export writes the container's filesystem as a tar" {
	kiln run --name e1 bb:1 sh -c 'echo data > /exported'
	kiln export -o "$BATS_TEST_TMPDIR/e1.tar" e1
	tar -tf "$BATS_TEST_TMPDIR/e1.tar" | grep -qx 'exported'
	tar -tf "$BATS_TEST_TMPDIR/e1.tar" | grep -qx 'bin/busybox'
	run kiln export e1 -o /nonexistent/dir/x.tar
	[ "$status" -eq 1 ]
}

@test "top and stats of a running container" {
	kiln run -d --name t1 -m 64m bb:1 sleep 30 >/dev/null
	run kiln top t1
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^UID\ +PID\ +PPID\ +TIME\ +CMD$ ]]
	[[ "$output" == *"sleep 30"* ]]
	run kiln stats --no-stream --format json t1
	echo "$output" | jq -e '(.PIDs | tonumber) >= 1 and (.MemUsage | endswith(" / 64MiB"))'
	run kiln stats --no-stream t1
	[[ "$output" == *"64MiB"* ]]
	run kiln top nosuch
	[ "$status" -eq 1 ]
}
