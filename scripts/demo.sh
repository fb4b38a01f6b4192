#!/bin/bash
# make demo: build a busybox base image from Debian's busybox-static, import
# it into the store, tag it, list it, inspect it and verify the store.
#   scripts/demo.sh PATH/TO/kiln
set -euo pipefail
cd "$(dirname "$0")/.."
KILN=$(realpath "${1:-build/cli/kiln}")
work=$(mktemp -d /tmp/kiln-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT

step() {
	printf '\n\033[1m$'
	printf ' %q' kiln "${@:2}"
	printf '\033[0m\n'
	"$@"
}

echo "kiln demo — store: $("$KILN" version --format '{{.Version}}') at ${KILN_ROOT:-/var/lib/kiln (default)}"
# a re-run replaces what the last one made
"$KILN" rmi -f hello:demo busybox:demo kiln.local/base/busybox:1 >/dev/null 2>&1 || true
scripts/busybox-rootfs.sh "$work/rootfs"
echo "made a busybox root filesystem: $(find "$work/rootfs" | wc -l) entries"
step "$KILN" import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
	--message "busybox base from Debian's busybox-static" "$work/rootfs" busybox:demo
step "$KILN" tag busybox:demo kiln.local/base/busybox:1
step "$KILN" images
step "$KILN" inspect --format 'ID {{.Id}}  layers {{json .RootFS.Layers}}  cmd {{json .Config.Cmd}}' busybox:demo
step "$KILN" history busybox:demo
if [ "$(id -u)" -eq 0 ]; then
	step "$KILN" run --rm busybox:demo sh -c 'echo "hello from a kiln container: $(hostname), pid $$, $(id -un)"'
	# examples/hello: a two-stage Dockerfile on that base, then its program
	"$KILN" rmi -f hello:demo >/dev/null 2>&1 || true
	step "$KILN" build -t hello:demo --build-arg BASE=busybox:demo examples/hello
	step "$KILN" run --rm hello:demo
	step "$KILN" history hello:demo
	# a second build of the same context: every step from the cache
	step "$KILN" build -t hello:demo --build-arg BASE=busybox:demo examples/hello
fi
step "$KILN" system df
step "$KILN" fsck
echo
echo "demo done: 'kiln images' lists busybox:demo and hello:demo; 'kiln rmi hello:demo busybox:demo kiln.local/base/busybox:1' removes them."
