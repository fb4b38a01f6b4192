#!/usr/bin/env bats
# The store: fsck and repair, garbage collection, parallel writers, and
# kill -9 at many points of an import.

load helpers

setup() { setup_store; }

@test "fsck is clean on a new and on a used store" {
	run kiln fsck
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 problems"* ]]
	import_busybox a:1 >/dev/null
	run kiln fsck
	[ "$status" -eq 0 ]
	[[ "$output" == "checked 3 blobs, 1 images, 0 unpacked layers: 0 problems, 0 leftovers" ]]
}

@test "fsck finds a corrupt blob; --repair removes it and the broken image" {
	import_busybox a:1 >/dev/null
	kiln import -c 'CMD ["x"]' "$(busybox_rootfs)" b:1 >/dev/null
	layer=$(kiln inspect --format '{{json .Layers}}' a:1 | jq -r '.[0].digest')
	f="$KILN_ROOT/oci/blobs/sha256/${layer#sha256:}"
	printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
	run kiln fsck
	[ "$status" -eq 1 ]
	[[ "$output" == *"blob $layer: content does not match its digest"* ]]
	run kiln fsck --repair
	[ "$status" -eq 0 ]
	[ ! -e "$f" ]
	run kiln images -q
	[ -z "$output" ]
	run kiln fsck
	[ "$status" -eq 0 ]
}

@test "fsck notices a missing blob and a damaged index.json" {
	import_busybox a:1 >/dev/null
	cfg=$(kiln inspect --format '{{.Id}}' a:1)
	rm "$KILN_ROOT/oci/blobs/sha256/${cfg#sha256:}"
	echo garbage > "$KILN_ROOT/oci/index.json"
	run kiln fsck
	[ "$status" -eq 1 ]
	[[ "$output" == *"image sha256:"* ]]
	[[ "$output" == *"index.json"* ]]
	run kiln fsck --repair
	[ "$status" -eq 0 ]
	jq -e '.manifests == []' "$KILN_ROOT/oci/index.json"
}

@test "a blob is never reachable half written: reading one verifies it" {
	import_busybox a:1 >/dev/null
	m=$(kiln inspect --format '{{.Digest}}' a:1)
	echo '{}' > "$KILN_ROOT/oci/blobs/sha256/${m#sha256:}"
	run kiln inspect a:1
	[ "$status" -eq 1 ]
	[[ "$output" == *"digest mismatch"* ]]
}

@test "parallel imports, tags and removals on one store stay consistent" {
	rootfs=$(busybox_rootfs)
	pids=()
	for i in $(seq 1 8); do
		"$KILN" import -c "CMD [\"$i\"]" "$rootfs" "par:$i" >/dev/null 2>"$BATS_TEST_TMPDIR/err.$i" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	cat "$BATS_TEST_TMPDIR"/err.* >&2 || true
	run kiln images -q
	[ "${#lines[@]}" -eq 8 ]
	pids=()
	for i in $(seq 1 8); do
		( "$KILN" tag "par:$i" "other:$i" && "$KILN" rmi "par:$i" ) >/dev/null &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	run kiln images --format '{{.Repository}}'
	[ "${#lines[@]}" -eq 8 ]
	[[ "$output" != *par* ]]
	[ "$(jq '.manifests | length' "$KILN_ROOT/oci/index.json")" -eq 8 ]
	run kiln fsck
	[ "$status" -eq 0 ]
	# gc racing imports never removes what an import is about to reference
	pids=()
	for i in $(seq 1 4); do
		"$KILN" import -c "CMD [\"g$i\"]" "$rootfs" "gc:$i" >/dev/null &
		pids+=($!)
		"$KILN" image prune -f >/dev/null &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	run kiln fsck
	[ "$status" -eq 0 ]
	run kiln images --format '{{.Repository}}:{{.Tag}}'
	for i in 1 2 3 4; do [[ "$output" == *"gc:$i"* ]]; done
}

@test "kill -9 at many points of an import leaves the old state or the new" {
	rootfs=$(busybox_rootfs)
	big="$BATS_TEST_TMPDIR/big"
	cp -a "$rootfs" "$big"
	head -c 30000000 /dev/urandom > "$big/blob.bin"
	import_busybox base:1 >/dev/null
	for delay in 0.001 0.005 0.01 0.02 0.04 0.07 0.1 0.15 0.2 0.3 0.5 0.8; do
		"$KILN" import "$big" victim:1 >/dev/null 2>&1 &
		pid=$!
		sleep "$delay"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		run kiln fsck
		echo "after $delay: $output"
		[ "$status" -eq 0 ]
		# either the image is there whole, or not at all
		if kiln inspect victim:1 >/dev/null 2>&1; then
			rm -rf "$BATS_TEST_TMPDIR/u"
			kiln image unpack victim:1 "$BATS_TEST_TMPDIR/u"
			cmp "$big/blob.bin" "$BATS_TEST_TMPDIR/u/blob.bin"
			kiln rmi victim:1 >/dev/null
		fi
		run kiln images -q
		[ "${#lines[@]}" -ge 1 ]
	done
	# leftovers are swept by gc
	kiln system prune -f >/dev/null
	[ -z "$(find "$KILN_ROOT/tmp" -mindepth 1 ! -name '*.lock')" ]
	run kiln fsck
	[[ "$output" == *"0 leftovers"* ]]
}

@test "index.json is a valid OCI image layout index at every step" {
	import_busybox a:1 >/dev/null
	kiln tag a:1 b:2
	jq -e '.schemaVersion == 2 and .mediaType == "application/vnd.oci.image.index.v1+json"' "$KILN_ROOT/oci/index.json"
	jq -e '[.manifests[].annotations["org.opencontainers.image.ref.name"]] == ["docker.io/library/a:1","docker.io/library/b:2"]' "$KILN_ROOT/oci/index.json"
	jq -e '.imageLayoutVersion == "1.0.0"' "$KILN_ROOT/oci/oci-layout"
}
