#!/usr/bin/env bats
# images, tag, rmi, image prune, history, inspect, system df.

load helpers

setup() { setup_store; }

@test "images: -q, --no-trunc, --digests, json, templates and filters" {
	id=$(import_busybox busybox:latest)
	kiln tag busybox localhost:5000/team/app:v2
	run kiln images -q
	[ "$status" -eq 0 ]
	[ "$output" = "${id:7:12}" ]
	run kiln images -q --no-trunc
	[ "$output" = "$id" ]
	run kiln images --digests
	[[ "${lines[0]}" =~ DIGEST ]]
	[[ "$output" == *"localhost:5000/team/app   v2"* ]]
	run kiln images --format json
	echo "$output" | jq -e --arg id "$id" '.[0].Id == $id and (.[0].RepoTags | sort) == ["busybox:latest","localhost:5000/team/app:v2"]'
	run kiln images --format '{{.Repository}}:{{.Tag}}'
	[ "${#lines[@]}" -eq 2 ]
	[[ "$output" == *"busybox:latest"* ]]
	run kiln images busybox
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == busybox* ]]
	run kiln images localhost:5000/team/app:v1
	[ "${#lines[@]}" -eq 1 ]
	run kiln images --filter 'reference=localhost:5000/*/*'
	[ "${#lines[@]}" -eq 2 ]
	run kiln images --filter dangling=true -q
	[ -z "$output" ]
}

@test "tag: short and full names, retagging moves the name" {
	id1=$(import_busybox one:1)
	id2=$(kiln import -c 'CMD ["x"]' "$(busybox_rootfs)" two:1)
	kiln tag one:1 docker.io/library/shared:x
	run kiln inspect --format '{{.Id}}' shared:x
	[ "$output" = "$id1" ]
	kiln tag two:1 shared:x
	run kiln inspect --format '{{.Id}}' shared:x
	[ "$output" = "$id2" ]
	run kiln tag "${id1:7:8}" byprefix
	[ "$status" -eq 0 ]
	run kiln inspect --format '{{.Id}}' byprefix:latest
	[ "$output" = "$id1" ]
	run kiln tag nosuch:1 x:1
	[ "$status" -eq 1 ]
	[ "$output" = "Error: no such image: nosuch:1" ]
	run kiln tag one:1 'UPPER:1'
	[ "$status" -eq 1 ]
}

@test "rmi: untag, delete, refuse an ID with several names unless -f" {
	id=$(import_busybox a:1)
	kiln tag a:1 b:1
	run kiln rmi "$id"
	[ "$status" -eq 1 ]
	[[ "$output" == *"must be forced"* ]]
	run kiln rmi a:1
	[ "$status" -eq 0 ]
	[ "$output" = "Untagged: a:1" ]
	run kiln images -q
	[ "$output" = "${id:7:12}" ]
	run kiln rmi b:1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "Untagged: b:1" ]
	[ "${lines[1]}" = "Deleted: $id" ]
	run kiln images -q
	[ -z "$output" ]
	# blobs and index entries are gone
	[ "$(find "$KILN_ROOT/oci/blobs" -type f | wc -l)" -eq 0 ]
	jq -e '.manifests == []' "$KILN_ROOT/oci/index.json"
	id=$(import_busybox c:1)
	kiln tag c:1 d:1
	run kiln rmi -f "${id:7:12}"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Untagged: c:1"* && "$output" == *"Untagged: d:1"* && "$output" == *"Deleted: $id"* ]]
	run kiln rmi nothere
	[ "$status" -eq 1 ]
	[ "$output" = "Error: no such image: nothere" ]
}

@test "rmi keeps blobs another image still uses" {
	import_busybox a:1 >/dev/null
	kiln import -c 'CMD ["sh"]' "$(busybox_rootfs)" b:1 >/dev/null
	kiln rmi a:1
	run kiln image unpack b:1 "$BATS_TEST_TMPDIR/u"
	[ "$status" -eq 0 ]
	[ -x "$BATS_TEST_TMPDIR/u/bin/busybox" ]
	run kiln fsck
	[ "$status" -eq 0 ]
}

@test "image prune removes dangling images; -a removes all" {
	import_busybox keep:1 >/dev/null
	id=$(kiln import -c 'CMD ["y"]' "$(busybox_rootfs)" moved:1)
	kiln import -c 'CMD ["z"]' "$(busybox_rootfs)" moved:1 >/dev/null
	run kiln images --filter dangling=true -q --no-trunc
	[ "$output" = "$id" ]
	run kiln image prune -f
	[ "$status" -eq 0 ]
	[[ "$output" == *"deleted: $id"* ]]
	[[ "$output" == *"Total reclaimed space:"* ]]
	run kiln images -q
	[ "${#lines[@]}" -eq 2 ]
	run kiln image prune -a -f
	run kiln images -q
	[ -z "$output" ]
	run kiln system prune -f
	[ "$status" -eq 0 ]
}

@test "history shows the steps newest first" {
	import_busybox h:1 >/dev/null
	run kiln history h:1
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^IMAGE\ +CREATED\ +CREATED\ BY\ +SIZE\ +COMMENT$ ]]
	[[ "${lines[1]}" == *"kiln import"* ]]
	run kiln history --format json h:1
	echo "$output" | jq -e '.[0].createdBy | startswith("kiln import")'
	run kiln history -q h:1
	[ "${#lines[@]}" -eq 1 ]
}

@test "inspect: several images, a missing one fails with exit 1" {
	import_busybox a:1 >/dev/null
	run kiln inspect a:1 nosuch
	[ "$status" -eq 1 ]
	[[ "$output" == *"Error: no such object: nosuch"* ]]
	run kiln inspect --format '{{json .RootFS}}' a:1
	echo "$output" | jq -e '.Type == "layers"'
	run kiln image inspect --format '{{.Architecture}}/{{.Os}}' a:1
	[ "$output" = "$(kiln version --format '{{.OsArch}}' | awk -F/ '{print $2"/"$1}')" ]
}

@test "system df counts images and reclaimable space" {
	import_busybox a:1 >/dev/null
	run kiln system df
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^TYPE ]]
	[[ "${lines[1]}" =~ ^Images\ +1\ +1 ]]
	run kiln system df --format json
	echo "$output" | jq -e '.Images == 1 and .ImagesSize > 0 and .ImagesReclaimable == 0'
}

@test "image ls/rm/tag aliases work" {
	import_busybox a:1 >/dev/null
	run kiln image ls -q
	[ "${#lines[@]}" -eq 1 ]
	run kiln image tag a:1 b:1
	[ "$status" -eq 0 ]
	run kiln image rm b:1
	[ "$output" = "Untagged: b:1" ]
	run kiln image frob
	[ "$status" -eq 125 ]
}
