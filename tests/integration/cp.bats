#!/usr/bin/env bats
# kiln cp: docker cp's path rules both ways, tar streams, ownership, running
# and stopped containers, and above all that no symlink or tar entry in a
# container makes cp read or write a host path.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_store
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	import_busybox bb:1 >/dev/null
	T=$BATS_TEST_TMPDIR
}

teardown() {
	remove_containers
}

# A running container named $1.
start_ctr() {
	kiln run -d --name "$1" bb:1 sleep 1000 >/dev/null
}

@test "cp a file into a running container and out again" {
	start_ctr cc
	printf 'data\n' >"$T/f"
	chmod 640 "$T/f"
	chown 1234:1234 "$T/f"
	touch -d @1000000000 "$T/f"
	run kiln cp "$T/f" cc:/tmp/f
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run kiln exec cc cat /tmp/f
	[ "$output" = "data" ]
	# docker: owned by the container's root, mode and mtime kept
	run kiln exec cc stat -c '%u:%g %a %Y' /tmp/f
	[ "$output" = "0:0 640 1000000000" ]
	# into an existing directory: under the source's name (a path without "/" too)
	printf 'two\n' >"$T/f"
	kiln cp "$T/f" cc:tmp
	run kiln exec cc cat /tmp/f
	[ "$output" = "two" ]
	# onto a new name and over an existing file
	kiln cp "$T/f" cc:/tmp/g
	kiln cp "$T/f" cc:/etc/hostname
	run kiln exec cc cat /tmp/g /etc/hostname
	[ "$output" = $'two\ntwo' ]
	# out: to a new name, into an existing dir, owned by the caller
	kiln exec cc sh -c 'echo inside >/tmp/o; chown 42:43 /tmp/o; chmod 604 /tmp/o'
	kiln cp cc:/tmp/o "$T/o"
	[ "$(cat "$T/o")" = "inside" ]
	[ "$(stat -c '%u:%g %a' "$T/o")" = "$(id -u):$(id -g) 604" ]
	mkdir "$T/outdir"
	kiln cp cc:/tmp/o "$T/outdir"
	[ "$(cat "$T/outdir/o")" = "inside" ]
	kiln cp cc:/etc/../tmp/./o "$T/outdir/p"
	[ "$(cat "$T/outdir/p")" = "inside" ]
}

@test "-a keeps uid and gid both ways" {
	start_ctr cc
	echo x >"$T/f"
	chown 1234:5678 "$T/f"
	kiln cp -a "$T/f" cc:/tmp/f
	run kiln exec cc stat -c '%u:%g' /tmp/f
	[ "$output" = "1234:5678" ]
	kiln exec cc sh -c 'echo y >/tmp/o; chown 42:43 /tmp/o'
	kiln cp --archive cc:/tmp/o "$T/o"
	[ "$(stat -c '%u:%g' "$T/o")" = "42:43" ]
	kiln cp cc:/tmp/o "$T/o2"
	[ "$(stat -c '%u:%g' "$T/o2")" = "$(id -u):$(id -g)" ]
}

@test "directories: new path, existing directory, DIR/. contents, both ways" {
	start_ctr cc
	mkdir -p "$T/d/sub"
	echo a >"$T/d/a"
	echo b >"$T/d/sub/b"
	ln -s a "$T/d/link"
	chmod 750 "$T/d/sub"
	# DEST missing: created with the contents
	kiln cp "$T/d" cc:/tmp/new
	run kiln exec cc sh -c 'cat /tmp/new/a /tmp/new/sub/b; readlink /tmp/new/link; stat -c %a /tmp/new/sub'
	[ "$output" = $'a\nb\na\n750' ]
	# DEST an existing directory: the directory goes inside it
	kiln cp "$T/d" cc:/tmp/new
	run kiln exec cc cat /tmp/new/d/a
	[ "$output" = "a" ]
	# SRC ending in /. : its contents
	kiln exec cc mkdir /tmp/e
	kiln cp "$T/d/." cc:/tmp/e
	run kiln exec cc sh -c 'cat /tmp/e/a; test ! -e /tmp/e/d && echo nod'
	[ "$output" = $'a\nnod' ]
	# a directory onto a file: refused
	kiln exec cc touch /tmp/file
	run kiln cp "$T/d" cc:/tmp/file
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot copy a directory to a file"* ]]

	# out
	kiln cp cc:/tmp/new "$T/out1"
	[ "$(cat "$T/out1/a" "$T/out1/sub/b")" = $'a\nb' ]
	[ "$(readlink "$T/out1/link")" = "a" ]
	kiln cp cc:/tmp/new "$T/out1"
	[ "$(cat "$T/out1/new/a")" = "a" ]
	mkdir "$T/out2"
	kiln cp cc:/tmp/new/. "$T/out2"
	[ "$(cat "$T/out2/a")" = "a" ]
	[ ! -e "$T/out2/new" ]
	# the whole root
	kiln cp cc:/ "$T/root"
	[ -x "$T/root/bin/busybox" ]
}

@test "trailing slash and missing parent rules" {
	start_ctr cc
	echo x >"$T/f"
	# a file to DEST/ that does not exist: an error, nothing created
	run kiln cp "$T/f" cc:/tmp/nodir/
	[ "$status" -eq 1 ]
	[[ "$output" == *"no such directory"* ]]
	run kiln exec cc test -e /tmp/nodir
	[ "$status" -ne 0 ]
	# parents are not created
	run kiln cp "$T/f" cc:/nonexist/f
	[ "$status" -eq 1 ]
	[ "$output" = "Error: Could not find the file /nonexist in container cc" ]
	# an existing dir with a trailing slash is fine
	kiln cp "$T/f" cc:/tmp/
	run kiln exec cc cat /tmp/f
	[ "$output" = "x" ]
	# a directory source to a missing DEST/: created
	mkdir "$T/d"
	echo a >"$T/d/a"
	kiln cp "$T/d" cc:/tmp/made/
	run kiln exec cc cat /tmp/made/a
	[ "$output" = "a" ]
	# SRC/ must be a directory
	run kiln cp cc:/etc/passwd/ "$T/pw"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a directory"* ]]
	[ ! -e "$T/pw" ]
	run kiln cp "$T/f/" cc:/tmp/y
	[ "$status" -eq 1 ]
	# out: DEST/ must exist
	run kiln cp cc:/etc/passwd "$T/nodir/"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no such directory"* ]]
	[ ! -e "$T/nodir" ]
	run kiln cp cc:/etc/passwd "$T/no/such/file"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no such directory"* ]]
}

@test "tar streams with -" {
	start_ctr cc
	# out: a tar named after the source
	kiln cp cc:/etc - >"$T/etc.tar"
	run tar -tf "$T/etc.tar"
	[[ "$output" == *"etc/passwd"* ]]
	[ "$(kiln cp cc:/etc/passwd - | tar -xOf -)" = "$(kiln exec cc cat /etc/passwd)" ]
	run bash -c "'$KILN' cp cc:/etc/. - | tar -tf -"
	[[ "$output" == *$'\n'"passwd"* ]] || [[ "$output" == "passwd"* ]]
	[[ "$output" != *"etc/"* ]]
	# in: extracted into an existing directory, owned by root unless -a
	mkdir -p "$T/src/sub"
	echo one >"$T/src/one"
	echo two >"$T/src/sub/two"
	chown -R 1234:1234 "$T/src"
	tar -C "$T/src" -cf "$T/in.tar" .
	kiln exec cc mkdir /tmp/t
	kiln cp - cc:/tmp/t <"$T/in.tar"
	run kiln exec cc sh -c 'cat /tmp/t/one /tmp/t/sub/two; stat -c %u:%g /tmp/t/one'
	[ "$output" = $'one\ntwo\n0:0' ]
	kiln exec cc mkdir /tmp/ta
	kiln cp -a - cc:/tmp/ta <"$T/in.tar"
	run kiln exec cc stat -c %u:%g /tmp/ta/sub/two
	[ "$output" = "1234:1234" ]
	# a tar is not a layer: .wh. names are plain files, nothing is deleted
	mkdir "$T/wh"
	echo w >"$T/wh/.wh.one"
	tar -C "$T/wh" -cf "$T/wh.tar" .
	kiln cp - cc:/tmp/t <"$T/wh.tar"
	run kiln exec cc cat /tmp/t/one /tmp/t/.wh.one
	[ "$output" = $'one\nw' ]
	# a gzip'd tar is fine too
	gzip -c "$T/in.tar" >"$T/in.tgz"
	kiln cp - cc:/tmp/t <"$T/in.tgz"
	# DEST must be a directory
	run kiln cp - cc:/tmp/none <"$T/in.tar"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no such directory"* ]]
	run kiln cp - cc:/etc/passwd <"$T/in.tar"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a directory"* ]]
	# not a tar
	echo garbage >"$T/garbage"
	run kiln cp - cc:/tmp/t <"$T/garbage"
	[ "$status" -eq 1 ]
}

@test "into a stopped container, then run it; out of a stopped one" {
	id=$(kiln create --name st bb:1 sh -c 'cat /tmp/hello; stat -c %u:%g /tmp/hello')
	echo hello >"$T/hello"
	before=$(grep -c "$id" /proc/self/mountinfo || true)
	run kiln cp "$T/hello" st:/tmp/hello
	[ "$status" -eq 0 ]
	# the rootfs is left mounted or not as it was found
	[ "$(grep -c "$id" /proc/self/mountinfo || true)" = "$before" ]
	run kiln start -a st
	[ "$status" -eq 0 ]
	[ "$output" = $'hello\n0:0' ]
	# exited: its rootfs is not mounted; cp mounts it for the copy only
	[ "$(grep -c "$id" /proc/self/mountinfo || true)" = "0" ]
	echo again >"$T/hello"
	kiln cp "$T/hello" st:/tmp/hello
	[ "$(grep -c "$id" /proc/self/mountinfo || true)" = "0" ]
	kiln cp st:/tmp/hello "$T/back"
	[ "$(cat "$T/back")" = "again" ]
	[ "$(grep -c "$id" /proc/self/mountinfo || true)" = "0" ]
	run kiln start -a st
	[ "$output" = $'again\n0:0' ]
	# the copy is a change like any other
	run kiln diff st
	[[ "$output" == *"A /tmp/hello"* ]]
}

@test "a symlink in the container never makes cp read a host file" {
	start_ctr cc
	echo host-secret >"$T/secret"
	kiln exec cc sh -c "echo container-marker >>/etc/passwd
		ln -s / /tmp/link
		ln -s ../../../../../../../../.. /tmp/up
		ln -s '$T/secret' /tmp/abs
		ln -s '../../../../../../../..$T/secret' /tmp/rel"
	# /tmp/link -> / resolves to the container's root
	kiln cp cc:/tmp/link/etc/passwd "$T/pw"
	[ "$(cat "$T/pw")" = "$(kiln exec cc cat /etc/passwd)" ]
	grep -q container-marker "$T/pw"
	! cmp -s "$T/pw" /etc/passwd
	kiln cp cc:/tmp/up/etc/passwd "$T/pw2"
	grep -q container-marker "$T/pw2"
	kiln cp cc:/tmp/up/../../../etc/passwd "$T/pw3"
	grep -q container-marker "$T/pw3"
	# a link to a host path is copied as a link, and -L resolves it in the container
	kiln cp cc:/tmp/abs "$T/abs"
	[ -L "$T/abs" ]
	[ "$(readlink "$T/abs")" = "$T/secret" ]
	run kiln cp -L cc:/tmp/abs "$T/abs-L"
	[ "$status" -eq 1 ]
	[[ "$output" == *"Could not find the file /tmp/abs in container cc"* ]]
	[ ! -e "$T/abs-L" ]
	run kiln cp -L cc:/tmp/rel "$T/rel-L"
	[ "$status" -eq 1 ]
	[ ! -e "$T/rel-L" ]
	run kiln cp "cc:/tmp/link$T/secret" "$T/via-link"
	[ "$status" -eq 1 ]
	[ ! -e "$T/via-link" ]
	# as a tar: the same
	run bash -c "'$KILN' cp cc:/tmp/link/etc/passwd - | tar -xOf -"
	[[ "$output" == *container-marker* ]]
	run bash -c "'$KILN' cp -L cc:/tmp/up/etc/. - | tar -tf -"
	[[ "$output" == *passwd* ]]
	# a directory that links out is walked inside the container only
	kiln cp cc:/tmp/link/. "$T/rootcopy"
	[ -x "$T/rootcopy/bin/busybox" ]
	grep -q container-marker "$T/rootcopy/etc/passwd"
	[ ! -e "$T/rootcopy$T/secret" ]
}

@test "a symlink in the container never makes cp write outside the rootfs" {
	start_ctr cc
	mkdir "$T/hostdir"
	echo orig >"$T/victim"
	evil="kiln-cp-evil-$$-$RANDOM"
	[ ! -e "/$evil" ]
	kiln exec cc sh -c "ln -s / /tmp/link
		ln -s ../../../../../../../.. /tmp/up
		ln -s '$T/hostdir' /tmp/hl
		ln -s '$T/victim' /tmp/vl
		ln -s '../../../../../../../../..$T/victim' /tmp/rvl"
	echo payload >"$T/f"
	# /tmp/link/NAME lands in the container's root
	kiln cp "$T/f" "cc:/tmp/link/$evil"
	[ ! -e "/$evil" ]
	run kiln exec cc cat "/$evil"
	[ "$output" = "payload" ]
	kiln cp "$T/f" "cc:/tmp/up/up-$evil"
	[ ! -e "/up-$evil" ]
	run kiln exec cc cat "/up-$evil"
	[ "$output" = "payload" ]
	# a link to a host directory: resolved in the container, where it does not exist
	run kiln cp "$T/f" cc:/tmp/hl/evil
	[ "$status" -eq 1 ]
	run kiln cp "$T/f" cc:/tmp/hl/
	[ "$status" -eq 1 ]
	[ -z "$(ls -A "$T/hostdir")" ]
	# a link to a host file at DEST is replaced, never written through
	kiln cp "$T/f" cc:/tmp/vl
	kiln cp "$T/f" cc:/tmp/rvl
	[ "$(cat "$T/victim")" = "orig" ]
	run kiln exec cc sh -c 'test -L /tmp/vl || cat /tmp/vl /tmp/rvl'
	[ "$output" = $'payload\npayload' ]
	# a directory copied through the link
	mkdir -p "$T/d/sub"
	echo a >"$T/d/sub/a"
	kiln cp "$T/d" "cc:/tmp/link/d-$evil"
	[ ! -e "/d-$evil" ]
	run kiln exec cc cat "/d-$evil/sub/a"
	[ "$output" = "a" ]
	# and a tar extracted through it
	tar -C "$T/d" -cf "$T/d.tar" .
	kiln cp - "cc:/tmp/link/tmp" <"$T/d.tar"
	run kiln exec cc cat /tmp/sub/a
	[ "$output" = "a" ]
	[ -z "$(ls -A "$T/hostdir")" ]
	[ "$(cat "$T/victim")" = "orig" ]
}

@test "a tar on stdin with ../, absolute or linked-out entries stays inside" {
	start_ctr cc
	mkdir "$T/hostdir"
	kiln exec cc mkdir /tmp/x
	python3 - "$T" <<'EOF'
import io, sys, tarfile
T = sys.argv[1]
def tar(name, entries):
    with tarfile.open(f"{T}/{name}", "w") as t:
        for kind, path, arg in entries:
            i = tarfile.TarInfo(path)
            if kind == "file":
                data = arg.encode()
                i.size = len(data)
                t.addfile(i, io.BytesIO(data))
            elif kind == "sym":
                i.type = tarfile.SYMTYPE
                i.linkname = arg
                t.addfile(i)
            elif kind == "hard":
                i.type = tarfile.LNKTYPE
                i.linkname = arg
                t.addfile(i)
tar("dotdot.tar", [("file", "../../../../../../.." + T + "/hostdir/dotdot", "x")])
tar("abs.tar", [("file", T + "/hostdir/abs", "abs")])
tar("sym.tar", [("sym", "l", T + "/hostdir"), ("file", "l/pwned", "pwned"),
                ("sym", "r", "../../../../../../../../.." + T + "/hostdir"), ("file", "r/pwned2", "p2")])
tar("hard.tar", [("hard", "h", "../../../../etc/passwd")])
tar("hardabs.tar", [("hard", "h2", "/etc/passwd")])
EOF
	run kiln cp - cc:/tmp/x <"$T/dotdot.tar"
	[ "$status" -eq 1 ]
	[[ "$output" == *"leaves the destination"* ]]
	# absolute names are relative to DEST
	kiln cp - cc:/tmp/x <"$T/abs.tar"
	run kiln exec cc cat "/tmp/x$T/hostdir/abs"
	[ "$output" = "abs" ]
	# a symlink entry written through: resolved inside DEST
	kiln cp - cc:/tmp/x <"$T/sym.tar" || true
	[ -z "$(ls -A "$T/hostdir")" ]
	run kiln exec cc cat "/tmp/x$T/hostdir/pwned"
	[ "$output" = "pwned" ]
	# hard links may not point out
	run kiln cp - cc:/tmp/x <"$T/hard.tar"
	[ "$status" -eq 1 ]
	# an absolute link target is inside DEST, where it does not exist
	run kiln cp - cc:/tmp/x <"$T/hardabs.tar"
	[ "$status" -eq 1 ]
	run kiln exec cc test -e /tmp/x/h2
	[ "$status" -ne 0 ]
	[ -z "$(ls -A "$T/hostdir")" ]
}

@test "-L follows a symlink at SRC_PATH, both ways" {
	start_ctr cc
	kiln exec cc ln -s /etc/passwd /tmp/pl
	kiln cp cc:/tmp/pl "$T/pl"
	[ -L "$T/pl" ]
	[ "$(readlink "$T/pl")" = "/etc/passwd" ]
	kiln cp -L cc:/tmp/pl "$T/pl-L"
	[ ! -L "$T/pl-L" ]
	[ "$(cat "$T/pl-L")" = "$(kiln exec cc cat /etc/passwd)" ]
	echo x >"$T/f"
	ln -s "$T/f" "$T/hl"
	kiln cp "$T/hl" cc:/tmp/hl
	run kiln exec cc readlink /tmp/hl
	[ "$output" = "$T/f" ]
	kiln cp --follow-link "$T/hl" cc:/tmp/hl2
	run kiln exec cc cat /tmp/hl2
	[ "$output" = "x" ]
}

@test "errors as docker" {
	start_ctr cc
	echo x >"$T/f"
	run kiln cp "$T/f" nosuch:/tmp
	[ "$status" -eq 1 ]
	[ "$output" = "Error: no such container: nosuch" ]
	run kiln cp nosuch:/etc/passwd "$T/o"
	[ "$status" -eq 1 ]
	[ "$output" = "Error: no such container: nosuch" ]
	run kiln cp cc:/nope "$T/o"
	[ "$status" -eq 1 ]
	[ "$output" = "Error: Could not find the file /nope in container cc" ]
	run kiln cp cc:nope "$T/o"
	[ "$output" = "Error: Could not find the file /nope in container cc" ]
	run kiln cp "$T/nope" cc:/tmp
	[ "$status" -eq 1 ]
	[[ "$output" == *"No such file or directory"* ]]
	run kiln cp "$T/f" "$T/g"
	[ "$status" -eq 1 ]
	[ "$output" = "Error: must specify at least one container source" ]
	run kiln cp cc:/etc/passwd cc:/tmp/x
	[ "$status" -eq 1 ]
	[[ "$output" == *"copying between containers is not supported"* ]]
	run kiln cp cc:/etc/passwd
	[ "$status" -eq 125 ]
	run kiln cp --bogus cc:/etc/passwd "$T/o"
	[ "$status" -eq 125 ]
	run kiln cp --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"CONTAINER:SRC_PATH DEST_PATH"* ]]
	# -q is accepted; with no terminal nothing is printed anyway
	run kiln cp -q "$T/f" cc:/tmp/q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "cp into and out of a running container: paths under its volumes and bind mounts are theirs" {
	mkdir "$T/bind"
	echo on-host >"$T/bind/h"
	kiln run -d --name vc -v cpvol:/data -v "$T/bind:/ro:ro" bb:1 sleep 1000 >/dev/null
	echo payload >"$T/f"
	run -0 kiln cp "$T/f" vc:/data/f
	# the volume has it, not the rootfs underneath
	run -0 kiln exec vc cat /data/f
	[ "$output" = payload ]
	vdata=$(kiln volume inspect --format '{{.Mountpoint}}' cpvol)
	[ "$(cat "$vdata/f")" = payload ]
	run -0 kiln cp vc:/ro/h "$T/h.out"
	[ "$(cat "$T/h.out")" = on-host ]
	# a read-only bind mount stays read-only
	run -1 kiln cp "$T/f" vc:/ro/x
	[[ "$output" == *"read-only"* ]]
	[ ! -e "$T/bind/x" ]
	kiln rm -f vc >/dev/null
	kiln volume rm cpvol >/dev/null
}

@test "cp of a stopped container uses its volumes and bind mounts too" {
	mkdir "$T/bind"
	echo on-host >"$T/bind/h"
	kiln create --name sc -v scvol:/data -v "$T/bind:/ro:ro" bb:1 true >/dev/null
	echo payload >"$T/f"
	run -0 kiln cp "$T/f" sc:/data/f
	vdata=$(kiln volume inspect --format '{{.Mountpoint}}' scvol)
	[ "$(cat "$vdata/f")" = payload ]
	# not written into the rootfs under the mount point
	upper=$(kiln inspect --format '{{.GraphDriver.Data.UpperDir}}' sc)
	[ ! -e "$upper/data/f" ]
	run -0 kiln cp sc:/ro/h "$T/h.out"
	[ "$(cat "$T/h.out")" = on-host ]
	run -1 kiln cp "$T/f" sc:/ro/x
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"read-only"* ]]
	[ ! -e "$T/bind/x" ]
	# the data is there when the container runs
	run -0 kiln start -a sc
	kiln rm sc >/dev/null
	run -0 kiln run --rm -v scvol:/data bb:1 cat /data/f
	[ "$output" = payload ]
	kiln volume rm scvol >/dev/null
}
