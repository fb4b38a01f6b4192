# Shared by tests/integration/build-corpus.bats, build-buildah.bats and
# tests/build-corpus/update.sh: build a corpus case and describe the result.
# See tests/build-corpus/README.md for the layout of a case.
# Needs KILN (the binary), KILN_ROOT and KILN_RUNTIME_ROOT set by the caller.

CORPUS_DIR=${CORPUS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
CORPUS_PY="$CORPUS_DIR/corpus.py"
# the base every case builds FROM (its Dockerfiles say corpus/bb:1)
CORPUS_BASE=corpus/bb:1
# files of a case directory that are not part of its build context
CORPUS_META="expected.json expected.tree expected.err build.args buildah.skip buildah.diff buildah.args setup.sh pre.Dockerfile needs-debian README.md"
# the realistic base of cases with a needs-debian file: Debian 12 minbase
CORPUS_DEBIAN=corpus/debian:12

corpus_cases() {
	local d
	for d in "$CORPUS_DIR"/*/; do
		[ -f "$d/Dockerfile" ] && basename "$d"
	done
}

# corpus_ctx CASE DEST: the case's context in DEST (setup.sh run inside it)
corpus_ctx() {
	local case=$1 dest=$2 f
	rm -rf "$dest"
	cp -a "$CORPUS_DIR/$case" "$dest"
	for f in $CORPUS_META; do rm -f "$dest/$f"; done
	if [ -f "$CORPUS_DIR/$case/setup.sh" ]; then
		(cd "$dest" && bash "$CORPUS_DIR/$case/setup.sh") || return 1
	fi
}

# corpus_args CASE CTX: the case's extra build flags (build.args, one a
# line; @CTX@ stands for the context's path)
corpus_args() {
	local f="$CORPUS_DIR/$1/build.args"
	[ -f "$f" ] && grep -v '^[[:space:]]*\(#\|$\)' "$f" | sed "s|@CTX@|$2|g"
	return 0
}

# corpus_base_rootfs DIR: the busybox rootfs the base image is made of
corpus_base_tar() {
	local out=$1
	[ -f "$out" ] && return 0
	"$CORPUS_DIR/../../scripts/busybox-rootfs.sh" "$out.d" >/dev/null
	tar --numeric-owner -C "$out.d" -cf "$out" .
	rm -rf "$out.d"
}

# corpus_needs_debian CASE: does the case build FROM the Debian base?
corpus_needs_debian() {
	[ -f "$CORPUS_DIR/$1/needs-debian" ]
}

# corpus_debian_rootfs: print the Debian rootfs directory (made once by
# scripts/debian-rootfs.sh, shared with build-debian.bats); status 2, the
# reason on stderr, when it cannot be made here (no debootstrap, no mirror)
corpus_debian_rootfs() {
	"$CORPUS_DIR/../../scripts/debian-rootfs.sh"
}

# kiln_import_base TAR: the base image in kiln's store
kiln_import_base() {
	"$KILN" import -q "$1" "$CORPUS_BASE" >/dev/null
}

# kiln_case_build CASE CTX TAG: pre.Dockerfile (tagged corpus/CASE-pre:1) then
# the Dockerfile; stderr of the failing build in CTX.err
kiln_case_build() {
	local case=$1 ctx=$2 tag=$3
	local -a args
	mapfile -t args < <(corpus_args "$case" "$ctx")
	if [ -f "$CORPUS_DIR/$case/pre.Dockerfile" ]; then
		"$KILN" build -q "${args[@]}" -f "$CORPUS_DIR/$case/pre.Dockerfile" \
			-t "corpus/$case-pre:1" "$ctx" >/dev/null 2>"$ctx.err" || return 1
	fi
	"$KILN" build -q "${args[@]}" -t "$tag" "$ctx" >/dev/null 2>"$ctx.err"
}

# kiln_config IMAGE OUT: the image's config blob
kiln_config() {
	local id
	id=$("$KILN" inspect --type image --format '{{.Id}}' "$1") || return 1
	cp "$KILN_ROOT/oci/blobs/sha256/${id#sha256:}" "$2"
}

# kiln_rootfs IMAGE DIR: the image's file system (kiln create + kiln export)
kiln_rootfs() {
	local img=$1 dir=$2 c
	c=$("$KILN" create "$img" true) || return 1
	mkdir -p "$dir"
	"$KILN" export "$c" | tar --numeric-owner --same-owner -xpf - -C "$dir"
	local rc=${PIPESTATUS[0]}
	"$KILN" rm "$c" >/dev/null
	return "$rc"
}

# kiln_describe IMAGE BASE_ROOTFS BASE_CONFIG OUTPREFIX [--buildah]:
# OUTPREFIX.json and OUTPREFIX.tree
kiln_describe() {
	local img=$1 base_root=$2 base_cfg=$3 out=$4
	kiln_config "$img" "$out.cfg" || return 1
	python3 "$CORPUS_PY" config "$out.cfg" "$base_cfg" ${5:-} >"$out.json" || return 1
	rm -rf "$out.root"
	kiln_rootfs "$img" "$out.root" || return 1
	python3 "$CORPUS_PY" tree "$out.root" "$base_root" >"$out.tree" || return 1
	rm -rf "$out.root"
}

# the last "Error: ..." line kiln printed
corpus_error_line() {
	grep '^Error: ' "$1" | tail -n 1
}

# ---- buildah (tests/integration/build-buildah.bats) ----
# BUILDAH_ROOT (a private store) must be set by the caller.

# overlay: a third faster than vfs here (vfs copies the rootfs per layer)
BUILDAH_DRIVER=${BUILDAH_DRIVER:-overlay}

buildah_() {
	buildah --root "$BUILDAH_ROOT/root" --runroot "$BUILDAH_ROOT/run" --storage-driver "$BUILDAH_DRIVER" "$@"
}

# buildah_cleanup: remove buildah's private store (its overlay mounts too)
buildah_cleanup() {
	buildah_ rm -a >/dev/null 2>&1 || true
	buildah_ rmi -a -f >/dev/null 2>&1 || true
	umount -R "$BUILDAH_ROOT/root/overlay" 2>/dev/null || true
	rm -rf "$BUILDAH_ROOT"
}

# buildah_import_base [IMAGE]: kiln's base image (same config, same layers)
# into buildah's store, copied by skopeo from kiln's store (an OCI layout)
buildah_import_base() {
	local img=${1:-$CORPUS_BASE}
	skopeo copy -q "oci:$KILN_ROOT/oci:docker.io/$img" \
		"containers-storage:[$BUILDAH_DRIVER@$BUILDAH_ROOT/root+$BUILDAH_ROOT/run]docker.io/$img" >/dev/null
}

# buildah_rootfs IMAGE DIR: a copy of the image's file system
buildah_rootfs() {
	local c mnt rc=0
	c=$(buildah_ from --pull-never -q "$1") || return 1
	mnt=$(buildah_ mount "$c") && cp -a "$mnt" "$2" || rc=1
	buildah_ umount "$c" >/dev/null || true
	buildah_ rm "$c" >/dev/null || true
	return "$rc"
}

# buildah_case_build CASE CTX TAG: as kiln_case_build, with buildah bud
# (buildah.args, when the case has one, instead of build.args: a flag
# buildah spells differently)
buildah_case_build() {
	local case=$1 ctx=$2 tag=$3
	local -a args
	if [ -f "$CORPUS_DIR/$case/buildah.args" ]; then
		mapfile -t args < <(grep -v '^[[:space:]]*\(#\|$\)' "$CORPUS_DIR/$case/buildah.args" | sed "s|@CTX@|$ctx|g")
	else
		mapfile -t args < <(corpus_args "$case" "$ctx")
	fi
	local -a bud=(bud --pull-never --layers --isolation chroot --network host -q "${args[@]}")
	if [ -f "$CORPUS_DIR/$case/pre.Dockerfile" ]; then
		buildah_ "${bud[@]}" -f "$CORPUS_DIR/$case/pre.Dockerfile" \
			-t "corpus/$case-pre:1" "$ctx" >/dev/null 2>"$ctx.berr" || return 1
	fi
	buildah_ "${bud[@]}" -t "$tag" "$ctx" >/dev/null 2>"$ctx.berr"
}

# buildah_describe IMAGE BASE_ROOTFS BASE_CONFIG OUTPREFIX: as kiln_describe
buildah_describe() {
	local img=$1 base_root=$2 base_cfg=$3 out=$4 c mnt rc=0
	buildah_ inspect --type image --format '{{.Config}}' "$img" >"$out.cfg" || return 1
	python3 "$CORPUS_PY" config "$out.cfg" "$base_cfg" --buildah >"$out.json" || return 1
	c=$(buildah_ from --pull-never -q "$img") || return 1
	mnt=$(buildah_ mount "$c") || rc=1
	[ "$rc" -ne 0 ] || python3 "$CORPUS_PY" tree "$mnt" "$base_root" >"$out.tree" || rc=1
	buildah_ umount "$c" >/dev/null || true
	buildah_ rm "$c" >/dev/null || true
	return "$rc"
}
