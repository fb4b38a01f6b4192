# Shared setup for the bats suites: each test gets its own store root.
# KILN points at the binary under test (make check sets the ASan build).

REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
KILN=${KILN:-$REPO_ROOT/build/cli/kiln}

# A busybox rootfs, built once per test file.
busybox_rootfs() {
	local dir="$BATS_FILE_TMPDIR/busybox-rootfs"
	if [ ! -d "$dir" ]; then
		"$REPO_ROOT/scripts/busybox-rootfs.sh" "$dir.tmp" >/dev/null
		mv "$dir.tmp" "$dir"
	fi
	echo "$dir"
}

setup_store() {
	export KILN_ROOT="$BATS_TEST_TMPDIR/store"
	mkdir -p "$KILN_ROOT"
}

kiln() {
	"$KILN" "$@"
}

# Remove every container of the test's store (a teardown's job).
remove_containers() {
	for id in $("$KILN" ps -aq --no-trunc 2>/dev/null); do
		"$KILN" rm -f "$id" >/dev/null 2>&1 || true
	done
}

# Import the busybox rootfs as NAME (default busybox:latest); prints the ID.
import_busybox() {
	local name=${1:-busybox:latest}
	"$KILN" import "$(busybox_rootfs)" "$name"
}

# A digest of the store's observable state: index.json, blob names, db rows.
store_state() {
	(
		cd "$KILN_ROOT" || exit 1
		cat oci/index.json
		find oci/blobs -type f | sort
		find layers -mindepth 1 -maxdepth 1 | sort
		find tmp -mindepth 1 ! -name '*.lock' | sort
	) | sha256sum
}

# Listing of a tree: type, mode, owner, size, link target, content hash.
tree_listing() {
	local dir=$1
	(
		cd "$dir" || exit 1
		find . -mindepth 1 ! -path './.wh*' -printf '%p %y %m %U:%G ' \
			-a \( -type l -printf '%l' -o -type f -printf '%s' -o -printf '-' \) -printf '\n' | sort
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum
	)
}
