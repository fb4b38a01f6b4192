#!/usr/bin/env bats
# --userns=auto and --uidmap/--gidmap as root: the container runs in its own
# user namespace; its root filesystem is an overlay of idmapped mounts of the
# shared layers, so the image's files show their own owners inside and what
# the container writes is stored with the unmapped ids (as a root container
# would have written it).

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	# podman's convention: --userns=auto takes ranges of user "containers"
	ADDED_SUBID=
	if ! grep -q '^containers:' /etc/subuid 2>/dev/null || ! grep -q '^containers:' /etc/subgid 2>/dev/null; then
		echo "containers:3000000:1000000" >>/etc/subuid
		echo "containers:3000000:1000000" >>/etc/subgid
		ADDED_SUBID=1
	fi
	export ADDED_SUBID
}

teardown_file() {
	if [ -n "${ADDED_SUBID:-}" ]; then
		sed -i '/^containers:3000000:1000000$/d' /etc/subuid /etc/subgid
	fi
}

setup() {
	setup_store
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	# the container's root must reach the store (as docker's /var/lib/docker)
	chmod o+x "$BATS_RUN_TMPDIR"
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	import_busybox bb:1 >/dev/null
}

teardown() {
	remove_containers
}

# first host id of user "containers" in /etc/subuid
sub_start() {
	grep '^containers:' /etc/subuid | head -1 | cut -d: -f2
}

@test "--userns=auto: own user namespace, image owners kept, writes stored unmapped" {
	run -0 kiln run --name u1 --userns=auto bb:1 sh -c \
		'cat /proc/self/uid_map; stat -c %u:%g /bin/busybox; touch /by-root; mkdir /d; rm /bin/ls'
	read -r inner host size <<<"${lines[0]}"
	[ "$inner" = 0 ] && [ "$size" = 65536 ]
	[ "$host" -ge "$(sub_start)" ]
	[ "${lines[1]}" = 0:0 ]
	run -0 kiln run --rm --userns=auto -u 1000:1000 bb:1 sh -c 'touch /tmp/x; stat -c %u /tmp/x'
	[ "$output" = 1000 ]
	# the upper dir holds the container's view of the ids, not the host's
	upper=$(kiln inspect --format '{{.GraphDriver.Data.UpperDir}}' u1)
	[ "$(stat -c %u:%g "$upper/by-root")" = 0:0 ]
	[ "$(stat -c %u:%g "$upper/d")" = 0:0 ]
	[ "$(stat -c %t:%T "$upper/bin/ls")" = 0:0 ] # a whiteout
	run -0 kiln inspect --format '{{.HostConfig.UsernsMode}} {{index .HostConfig.IDMappings.UidMap 0}}' u1
	[ "$output" = "auto 0:$host:65536" ]
	run -0 kiln diff u1
	[[ "$output" == *"A /by-root"* && "$output" == *"D /bin/ls"* ]]
	kiln commit u1 bb:committed >/dev/null
	run -0 kiln run --rm bb:committed sh -c 'stat -c %u:%g /by-root; ls /bin/ls 2>&1 || true'
	[ "${lines[0]}" = 0:0 ]
	[[ "${lines[1]}" == *"No such file"* ]]
}

@test "--userns=auto: each container its own range, reused after rm" {
	kiln run -d --name ua --userns=auto bb:1 sleep 60 >/dev/null
	kiln run -d --name ub --userns=auto:size=1000 bb:1 sleep 60 >/dev/null
	ra=$(kiln inspect --format '{{index .HostConfig.IDMappings.UidMap 0}}' ua)
	rb=$(kiln inspect --format '{{index .HostConfig.IDMappings.UidMap 0}}' ub)
	[ "$ra" != "$rb" ]
	IFS=: read -r _ ha sa <<<"$ra"
	IFS=: read -r _ hb sb <<<"$rb"
	[ "$sb" = 1000 ]
	# disjoint
	[ $((ha + sa)) -le "$hb" ] || [ $((hb + sb)) -le "$ha" ]
	kiln rm -f ua >/dev/null
	kiln run -d --name uc --userns=auto bb:1 sleep 60 >/dev/null
	[ "$(kiln inspect --format '{{index .HostConfig.IDMappings.UidMap 0}}' uc)" = "$ra" ]
}

@test "--uidmap/--gidmap: the given maps; the gid map follows the uid map" {
	s=$(( $(sub_start) + 500000 ))
	run -0 kiln run --rm --uidmap "0:$s:2000" bb:1 sh -c 'cat /proc/self/uid_map /proc/self/gid_map'
	[ "$(echo "${lines[0]}" | tr -s ' ' | sed 's/^ //')" = "0 $s 2000" ]
	[ "$(echo "${lines[1]}" | tr -s ' ' | sed 's/^ //')" = "0 $s 2000" ]
	run -0 kiln run --rm --uidmap "0:$s:2000" --gidmap "0:$((s + 5000)):3000" bb:1 cat /proc/self/gid_map
	[ "$(echo "$output" | tr -s ' ' | sed 's/^ //')" = "0 $((s + 5000)) 3000" ]
	run -125 kiln run --rm --uidmap 0:x:1 bb:1 true
	[[ "$output" == *"invalid --uidmap '0:x:1'"* ]]
	run -125 kiln run --rm --userns=keep-id bb:1 true
	echo "$output"
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"--userns=keep-id"* ]]
}

@test "--userns: root inside is not root of the host; exec and cp work" {
	# a host file only root may read stays closed to the container's root
	run kiln run --rm --userns=auto -v /etc/shadow:/shadow:ro bb:1 cat /shadow
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	run -0 kiln run --rm --userns=auto bb:1 sh -c 'mknod /dev/x c 1 3 2>&1; echo rc=$?'
	[[ "$output" == *"rc=1"* ]]
	kiln run -d --name ue --userns=auto -w /made/here bb:1 sleep 60 >/dev/null
	run -0 kiln exec ue sh -c 'id -u; pwd; cat /proc/self/uid_map'
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = /made/here ]
	echo payload >"$BATS_TEST_TMPDIR/f"
	run -0 kiln cp "$BATS_TEST_TMPDIR/f" ue:/tmp/f
	run -0 kiln exec ue stat -c '%u:%g %s' /tmp/f
	[ "$output" = "0:0 8" ]
}
