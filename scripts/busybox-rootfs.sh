#!/bin/bash
# Make a minimal root filesystem from Debian's busybox-static in DIR:
# /bin/busybox, a link per applet, /etc/passwd and /etc/group (busybox-static
# has no adduser), and the usual empty directories.
#   scripts/busybox-rootfs.sh DIR
set -euo pipefail
dir=${1:?usage: busybox-rootfs.sh DIR}
bb=/bin/busybox
if [ ! -x "$bb" ] || ! "$bb" --list-full >/dev/null 2>&1; then
	echo "busybox-rootfs: $bb missing: apt-get install busybox-static (make deps)" >&2
	exit 1
fi
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,tmp,proc,sys,dev,var/tmp,run}
chmod 1777 "$dir/tmp" "$dir/var/tmp"
chmod 700 "$dir/root"
install -m 0755 "$bb" "$dir/bin/busybox"
"$bb" --list-full | while read -r applet; do
	[ "$applet" = "bin/busybox" ] && continue
	target="$dir/$applet"
	[ -e "$target" ] || [ -L "$target" ] && continue
	mkdir -p "$(dirname "$target")"
	# relative link to /bin/busybox
	depth=$(echo "$applet" | tr -cd '/' | wc -c)
	rel=$(printf '../%.0s' $(seq 1 "$depth"))bin/busybox
	ln -s "$rel" "$target"
done
cat >"$dir/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$dir/etc/group" <<'G'
root:x:0:
daemon:x:1:
nogroup:x:65534:
G
echo "kiln" >"$dir/etc/hostname"
: >"$dir/etc/hosts"
: >"$dir/etc/resolv.conf"
