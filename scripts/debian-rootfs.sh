#!/bin/bash
# A minimal Debian 12 (bookworm) root filesystem as a tar, from Debian's
# mirror with debootstrap --variant=minbase, for the tests' realistic base
# image. Made once and kept: a second call with the same OUT returns at once.
#   scripts/debian-rootfs.sh OUT.tar [MIRROR]   (root; exit 2: mirror unreachable)
set -euo pipefail
out=${1:?usage: debian-rootfs.sh OUT.tar [MIRROR]}
mirror=${2:-http://deb.debian.org/debian}
[ -s "$out" ] && exit 0
command -v debootstrap >/dev/null || { echo "debian-rootfs: debootstrap missing (make deps)" >&2; exit 1; }
if ! curl -sfI --max-time 10 "$mirror/dists/bookworm/Release" >/dev/null; then
	echo "debian-rootfs: $mirror is not reachable" >&2
	exit 2
fi
mkdir -p "$(dirname "$out")"
dir=$(mktemp -d "$out.XXXXXX.d")
trap 'rm -rf "$dir"' EXIT
debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1 || {
	tail -n 20 "$dir.log" >&2
	rm -f "$dir.log"
	exit 1
}
rm -f "$dir.log"
# what debootstrap leaves that is about this host, not the image
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/log/*.log
: >"$dir/etc/resolv.conf"
: >"$dir/etc/hostname"
tar --numeric-owner --xattrs -C "$dir" -cf "$out.tmp" .
mv "$out.tmp" "$out"
