#!/usr/bin/env bats
# Every config.json kiln generates passes the validate package of
# opencontainers/runtime-tools (Debian's golang-github-opencontainers-
# runtime-tools-dev, built here in GOPATH mode), the runtime-spec JSON
# schema included; and crun runs a container bundle kiln made.

load helpers

setup_file() {
	command -v go >/dev/null || return 0
	[ -d /usr/share/gocode/src/github.com/opencontainers/runtime-tools/validate ] || return 0
	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$BATS_FILE_TMPDIR/gocache" \
		go build -o "$BATS_FILE_TMPDIR/kiln-spec-validate" "$BATS_TEST_DIRNAME/../runtime-tools/validate.go"
}

setup() {
	[ -x "$BATS_FILE_TMPDIR/kiln-spec-validate" ] ||
		skip "go or golang-github-opencontainers-runtime-tools-dev missing (make deps)"
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	setup_store
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	import_busybox bb:1 >/dev/null
}

teardown() {
	remove_containers
}

validate() {
	"$BATS_FILE_TMPDIR/kiln-spec-validate" --host-specific "$@" 2>&1 | grep -v 'level=warning'
	return "${PIPESTATUS[0]}"
}

@test "the bundles of containers created with every kind of flag validate" {
	while IFS= read -r flags; do
		id=$(kiln create $flags bb:1 true)
		run validate "$KILN_ROOT/containers/$id"
		echo "[$flags] $output"
		[ "$status" -eq 0 ]
		kiln rm "$id" >/dev/null
	done <<'FLAGS'

--privileged
-m 64m --memory-swap 128m --cpus 1.5 -c 512 --pids-limit 50
--read-only --tmpfs /scratch:size=1m -v /tmp:/hosttmp:ro --mount type=tmpfs,target=/t
-u daemon --cap-drop ALL --cap-add NET_BIND_SERVICE
--network host
--network none --security-opt seccomp=unconfined --security-opt no-new-privileges
-t -e A=1 -w /app -h host1 --entrypoint /bin/sh -l a=b
FLAGS
}

@test "kiln runtime spec and spec --rootless validate" {
	b="$BATS_TEST_TMPDIR/b"
	mkdir -p "$b/rootfs"
	(cd "$b" && kiln runtime spec)
	run validate "$b"
	echo "$output"
	[ "$status" -eq 0 ]
	rm "$b/config.json"
	(cd "$b" && kiln runtime spec --rootless)
	run validate "$b"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "a broken bundle is reported by the validator (the check is real)" {
	b="$BATS_TEST_TMPDIR/b"
	mkdir -p "$b/rootfs"
	(cd "$b" && kiln runtime spec)
	jq '.process.cwd = "relative" | .ociVersion = "two"' "$b/config.json" > "$b/c" && mv "$b/c" "$b/config.json"
	run validate "$b"
	[ "$status" -ne 0 ]
}

@test "crun runs a container bundle kiln generated" {
	command -v crun >/dev/null || skip "crun not installed"
	if [ -d /sys/fs/cgroup/unified ] && ! mountpoint -q /sys/fs/cgroup/hugetlb; then
		mkdir -p /sys/fs/cgroup/hugetlb
		mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb || true
	fi
	command -v unshare >/dev/null || skip "unshare not installed"
	id=$(kiln create --name forcrun bb:1 sh -c 'echo from crun; hostname')
	# kiln mounts the overlay at create; crun gets the same bundle. The spec
	# joins /run/kiln/netns/ID, which kiln start makes: here the test does
	ns=/run/kiln/netns/$id
	mkdir -p /run/kiln/netns && touch "$ns" && unshare --net="$ns" true
	run crun --root "$BATS_TEST_TMPDIR/crun" run --bundle "$KILN_ROOT/containers/$id" "crun-$id"
	umount "$ns" && rm -f "$ns"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "from crun" ]
	[ "${lines[1]}" = "${id:0:12}" ]
	kiln rm forcrun >/dev/null
}
