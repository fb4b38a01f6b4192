#!/usr/bin/env bats
# Named and anonymous volumes: kiln volume create/ls/inspect/rm/prune,
# -v NAME:/path, data kept across containers, filled from the image on first
# use, image VOLUMEs, rm -v and --rm removing anonymous volumes.

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

@test "volume create, ls, inspect, rm" {
	run kiln volume create data1
	[ "$output" = "data1" ]
	run kiln volume create data1
	[ "$status" -eq 0 ]
	run kiln volume ls
	[[ "${lines[0]}" =~ ^DRIVER\ +VOLUME\ NAME$ ]]
	[[ "$output" == *"local"*"data1"* ]]
	run kiln volume inspect --format '{{.Mountpoint}}' data1
	[ "$output" = "$KILN_ROOT/volumes/data1/_data" ]
	run kiln volume inspect data1
	echo "$output" | jq -e '.[0].Name == "data1" and .[0].Driver == "local"'
	run kiln volume create 'bad/name'
	[ "$status" -eq 1 ]
	run kiln volume rm data1
	[ "$output" = "data1" ]
	run kiln volume inspect data1
	[ "$status" -eq 1 ]
	[[ "$output" == *"no such volume: data1"* ]]
}

@test "a named volume keeps data across containers and is created on use" {
	kiln run --rm -v keep:/data bb:1 sh -c 'echo persisted > /data/f'
	run kiln run --rm -v keep:/data:ro bb:1 cat /data/f
	[ "$output" = "persisted" ]
	run kiln run --rm -v keep:/data:ro bb:1 sh -c 'echo x > /data/g'
	[ "$status" -ne 0 ]
	run kiln volume ls -q
	[ "$output" = "keep" ]
}

@test "a new volume is filled from the image's content at its mount point" {
	run kiln run --rm -v etcvol:/etc bb:1 cat /etc/passwd
	[[ "$output" == *"root:x:0:0"* ]]
	[ -f "$KILN_ROOT/volumes/etcvol/_data/passwd" ]
	# only on first use: a changed volume stays as it is
	echo changed > "$KILN_ROOT/volumes/etcvol/_data/passwd"
	run kiln run --rm -v etcvol:/etc bb:1 cat /etc/passwd
	[ "$output" = "changed" ]
}

@test "a volume in use cannot be removed; prune keeps named volumes without -a" {
	kiln create --name user1 -v busy:/data bb:1 true >/dev/null
	run kiln volume rm busy
	[ "$status" -eq 1 ]
	[[ "$output" == *"in use"* ]]
	kiln rm user1 >/dev/null
	kiln volume create idle >/dev/null
	run kiln volume prune -f
	run kiln volume ls -q
	[[ "$output" == *idle* ]]
	run kiln volume prune -a -f
	[[ "$output" == *"Deleted Volumes"* ]]
	run kiln volume ls -q
	[ -z "$output" ]
}

@test "anonymous volumes: -v /path and image VOLUMEs; rm -v and --rm remove them" {
	kiln import -c 'VOLUME /vol' "$(busybox_rootfs)" withvol:1 >/dev/null
	kiln run --name a1 withvol:1 sh -c 'echo in-anon > /vol/f'
	run kiln inspect --format '{{json .Mounts}}' a1
	echo "$output" | jq -e '.[0].Type == "volume" and .[0].Destination == "/vol" and .[0].Anonymous == true'
	name=$(echo "$output" | jq -r '.[0].Name')
	[ "$(cat "$KILN_ROOT/volumes/$name/_data/f")" = "in-anon" ]
	kiln rm -v a1 >/dev/null
	run kiln volume inspect "$name"
	[ "$status" -eq 1 ]
	kiln run --rm -v /scratch bb:1 sh -c 'echo x > /scratch/y'
	run kiln volume ls -q
	[ -z "$output" ]
}

@test "--mount type=volume" {
	kiln run --rm --mount type=volume,source=mv,target=/m bb:1 sh -c 'echo via-mount > /m/f'
	run kiln run --rm -v mv:/m bb:1 cat /m/f
	[ "$output" = "via-mount" ]
}
