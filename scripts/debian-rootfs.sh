#!/bin/bash
# The Debian bookworm rootfs of the tests' realistic base image, made by
# `debootstrap --variant=minbase` from the mirror apt is configured with
# (tests/integration/debian-mirror.py; KILN_TEST_DEBIAN_MIRROR names another)
# once, and kept: $KILN_TEST_CACHE (default /var/cache/kiln-tests)/
# debian-bookworm-minbase/rootfs, with a "done" file saying from which mirror
# and when. The same place, layout and lock as tests/integration/build-debian.bats,
# so the two share one debootstrap. KILN_TEST_DEBIAN_REFRESH=1 makes it again.
#   scripts/debian-rootfs.sh      (root) prints the rootfs directory;
#   exit 2 (with the reason on stderr) when it cannot be made here.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
suite=bookworm
if ! command -v debootstrap >/dev/null; then
	echo "debootstrap is not installed (make deps installs it)" >&2
	exit 2
fi
if ! mirror=${KILN_TEST_DEBIAN_MIRROR:-$(python3 "$here/tests/integration/debian-mirror.py" "$suite")}; then
	echo "no Debian mirror in /etc/apt/sources.list or sources.list.d" >&2
	exit 2
fi
cache=${KILN_TEST_CACHE:-/var/cache/kiln-tests}
dir=$cache/debian-$suite-minbase
log=$cache/debootstrap-$suite.log
mkdir -p "$cache"
make_rootfs() {
	if [ -z "${KILN_TEST_DEBIAN_REFRESH:-}" ] && [ -f "$dir/done" ]; then
		return 0
	fi
	rm -rf "$dir.tmp"
	if ! debootstrap --variant=minbase "$suite" "$dir.tmp/rootfs" "$mirror" >"$log" 2>&1; then
		rm -rf "$dir.tmp"
		return 1
	fi
	echo "$mirror $(date -u +%FT%TZ)" >"$dir.tmp/done"
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
}
if ! (flock 9 && make_rootfs) 9>"$cache/debian-$suite.lock"; then
	echo "debootstrap could not make a $suite rootfs from $mirror (mirror unreachable?): $(grep -E '^(E|W):' "$log" | tail -n 1) (see $log)" >&2
	exit 2
fi
echo "$dir/rootfs"
