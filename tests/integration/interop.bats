#!/usr/bin/env bats
# Interop with the real peer tools (Debian packages from make deps):
# oci-image-tool validates the store, skopeo reads images out of it, umoci
# unpacks them to the tree kiln unpacks, and layers umoci writes apply in
# kiln to the tree umoci has.

load helpers

setup() {
	setup_store
	# a rootfs with the awkward cases: owners, modes, hardlinks, long names,
	# symlinks, a fifo, a device, xattrs
	rich="$BATS_TEST_TMPDIR/rich"
	cp -a "$(busybox_rootfs)" "$rich"
	mkdir -p "$rich/data/deep/$(printf 'd%.0s' $(seq 1 120))"
	echo long > "$rich/data/deep/$(printf 'd%.0s' $(seq 1 120))/$(printf 'f%.0s' $(seq 1 150))"
	echo hello > "$rich/data/hello"
	ln "$rich/data/hello" "$rich/data/hardlink"
	ln -s ../data/hello "$rich/data/symlink"
	chown 1000:1000 "$rich/data/hello"
	chmod 4755 "$rich/data/hello"
	mkfifo "$rich/data/fifo"
	mknod "$rich/data/null" c 1 3 2>/dev/null || true
	setfattr -n user.kiln -v test "$rich/data/hello" 2>/dev/null || true
	chmod 1777 "$rich/data/deep"
}

@test "oci-image-tool validates the store's layout, index, manifests and configs" {
	command -v oci-image-tool >/dev/null || skip "oci-image-tool not installed (make deps)"
	# oci-image-tool 1.0.0-rc predates image-spec 1.1 and refuses the
	# tar+zstd layer media type, so only gzip and plain layers here
	kiln import "$rich" rich:1 >/dev/null
	kiln import --compression none "$(busybox_rootfs)" plain:1 >/dev/null
	run oci-image-tool validate --type image "$KILN_ROOT/oci"
	echo "$output"
	[ "$status" -eq 0 ]
	run oci-image-tool validate --type image --ref name=docker.io/library/rich:1 "$KILN_ROOT/oci"
	[ "$status" -eq 0 ]
	run oci-image-tool validate --type imageIndex "$KILN_ROOT/oci/index.json"
	[ "$status" -eq 0 ]
	m=$(kiln inspect --format '{{.Digest}}' rich:1)
	run oci-image-tool validate --type manifest "$KILN_ROOT/oci/blobs/sha256/${m#sha256:}"
	[ "$status" -eq 0 ]
	c=$(kiln inspect --format '{{.Id}}' rich:1)
	run oci-image-tool validate --type config "$KILN_ROOT/oci/blobs/sha256/${c#sha256:}"
	[ "$status" -eq 0 ]
}

@test "skopeo copies an image out of the store unchanged" {
	command -v skopeo >/dev/null || skip "skopeo not installed (make deps)"
	kiln import "$rich" rich:1 >/dev/null
	out="$BATS_TEST_TMPDIR/skopeo-out"
	run skopeo copy "oci:$KILN_ROOT/oci:docker.io/library/rich:1" "oci:$out:copied"
	echo "$output"
	[ "$status" -eq 0 ]
	m=$(kiln inspect --format '{{.Digest}}' rich:1)
	jq -e --arg m "$m" '.manifests[0].digest == $m' "$out/index.json"
	run skopeo inspect "oci:$KILN_ROOT/oci:docker.io/library/rich:1"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e --arg m "$m" '.Digest == $m and (.Layers | length) == 1'
	# and a zstd image
	kiln import --compression zstd "$(busybox_rootfs)" zst:1 >/dev/null
	run skopeo copy "oci:$KILN_ROOT/oci:docker.io/library/zst:1" "dir:$BATS_TEST_TMPDIR/zdir"
	[ "$status" -eq 0 ]
}

@test "umoci unpack of a kiln image gives the tree kiln unpacks" {
	command -v umoci >/dev/null || skip "umoci not installed (make deps)"
	kiln import "$rich" rich:1 >/dev/null
	run umoci unpack --image "$KILN_ROOT/oci:docker.io/library/rich:1" "$BATS_TEST_TMPDIR/bundle"
	echo "$output"
	[ "$status" -eq 0 ]
	run kiln image unpack rich:1 "$BATS_TEST_TMPDIR/kiln-unpack"
	[ "$status" -eq 0 ]
	tree_listing "$BATS_TEST_TMPDIR/bundle/rootfs" > "$BATS_TEST_TMPDIR/umoci.list"
	tree_listing "$BATS_TEST_TMPDIR/kiln-unpack" > "$BATS_TEST_TMPDIR/kiln.list"
	tree_listing "$rich" > "$BATS_TEST_TMPDIR/source.list"
	diff -u "$BATS_TEST_TMPDIR/umoci.list" "$BATS_TEST_TMPDIR/kiln.list"
	diff -u "$BATS_TEST_TMPDIR/source.list" "$BATS_TEST_TMPDIR/kiln.list"
	if getfattr -n user.kiln "$rich/data/hello" >/dev/null 2>&1; then
		[ "$(getfattr --only-values -n user.kiln "$BATS_TEST_TMPDIR/kiln-unpack/data/hello")" = test ]
	fi
}

@test "layers umoci writes (with whiteouts) apply in kiln to umoci's tree" {
	command -v umoci >/dev/null || skip "umoci not installed (make deps)"
	lay="$BATS_TEST_TMPDIR/layout"
	umoci init --layout "$lay"
	umoci new --image "$lay:t"
	umoci unpack --image "$lay:t" "$BATS_TEST_TMPDIR/b1"
	cp -a "$rich/." "$BATS_TEST_TMPDIR/b1/rootfs/"
	umoci repack --image "$lay:t" "$BATS_TEST_TMPDIR/b1"
	# a second layer: delete a file, replace a directory's content, add one
	rm -rf "$BATS_TEST_TMPDIR/b1/rootfs/data/hello" "$BATS_TEST_TMPDIR/b1/rootfs/usr/sbin"
	mkdir "$BATS_TEST_TMPDIR/b1/rootfs/usr/sbin"
	echo new > "$BATS_TEST_TMPDIR/b1/rootfs/usr/sbin/only"
	echo added > "$BATS_TEST_TMPDIR/b1/rootfs/added"
	umoci repack --image "$lay:t" "$BATS_TEST_TMPDIR/b1"
	umoci unpack --image "$lay:t" "$BATS_TEST_TMPDIR/b2"
	manifest=$(jq -r '.manifests[0].digest' "$lay/index.json")
	mkdir "$BATS_TEST_TMPDIR/k"
	for l in $(jq -r '.layers[].digest' "$lay/blobs/sha256/${manifest#sha256:}"); do
		run kiln layer apply "$lay/blobs/sha256/${l#sha256:}" "$BATS_TEST_TMPDIR/k"
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"digest: $l"* ]]
	done
	[ ! -e "$BATS_TEST_TMPDIR/k/data/hello" ]
	[ -e "$BATS_TEST_TMPDIR/k/data/hardlink" ]
	diff -u <(tree_listing "$BATS_TEST_TMPDIR/b2/rootfs") <(tree_listing "$BATS_TEST_TMPDIR/k")
}

@test "a kiln diff layer applies in umoci's view the same way" {
	command -v umoci >/dev/null || skip "umoci not installed (make deps)"
	lower="$BATS_TEST_TMPDIR/lower"; upper="$BATS_TEST_TMPDIR/upper"
	cp -a "$rich" "$lower"; cp -a "$rich" "$upper"
	rm -rf "$upper/data/hello" "$upper/usr/bin"
	mkdir "$upper/usr/bin"; echo x > "$upper/usr/bin/x"
	echo changed > "$upper/data/hardlink"
	run kiln layer create --compression gzip "$lower" "$BATS_TEST_TMPDIR/l1.tgz"
	[ "$status" -eq 0 ]
	run kiln layer diff "$lower" "$upper" "$BATS_TEST_TMPDIR/l2.tgz"
	[ "$status" -eq 0 ]
	mkdir "$BATS_TEST_TMPDIR/applied"
	kiln layer apply "$BATS_TEST_TMPDIR/l1.tgz" "$BATS_TEST_TMPDIR/applied" >/dev/null
	kiln layer apply "$BATS_TEST_TMPDIR/l2.tgz" "$BATS_TEST_TMPDIR/applied" >/dev/null
	diff -u <(tree_listing "$upper") <(tree_listing "$BATS_TEST_TMPDIR/applied")
	# GNU tar reads the layer and sees the whiteouts as plain files
	tar -tzf "$BATS_TEST_TMPDIR/l2.tgz" | grep -q 'data/.wh.hello'
}
