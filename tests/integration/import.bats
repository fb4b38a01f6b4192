#!/usr/bin/env bats
# kiln import: directories, tars in every compression, stdin, --change,
# determinism, and bad input that must leave the store as it was.

load helpers

setup() { setup_store; }

@test "import a directory, then list and inspect it" {
	run import_busybox busybox:1
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
	id=$output
	run kiln images
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^REPOSITORY\ +TAG\ +IMAGE\ ID\ +CREATED\ +SIZE$ ]]
	[[ "${lines[1]}" =~ ^busybox\ +1\ +${id:7:12}\  ]]
	run kiln inspect --format '{{.Id}}' busybox:1
	[ "$output" = "$id" ]
	run kiln inspect busybox:1
	echo "$output" | jq -e '.[0].Os == "linux" and (.[0].RootFS.Layers | length) == 1'
	echo "$output" | jq -e '.[0].RepoTags == ["busybox:1"]'
}

@test "import tars: plain, gzip, zstd, xz, bzip2 and stdin give the same diff_id" {
	rootfs=$(busybox_rootfs)
	tar -C "$rootfs" -cf "$BATS_TEST_TMPDIR/r.tar" .
	gzip -k "$BATS_TEST_TMPDIR/r.tar"
	zstd -q -k "$BATS_TEST_TMPDIR/r.tar"
	xz -k "$BATS_TEST_TMPDIR/r.tar"
	bzip2 -k "$BATS_TEST_TMPDIR/r.tar"
	for f in r.tar r.tar.gz r.tar.zst r.tar.xz r.tar.bz2; do
		run kiln import "$BATS_TEST_TMPDIR/$f" "t:${f//./-}"
		[ "$status" -eq 0 ]
	done
	run kiln import - t:stdin < "$BATS_TEST_TMPDIR/r.tar.gz"
	[ "$status" -eq 0 ]
	run bash -c "'$KILN' images --format json | jq -r '.[].Names[]' | sort"
	[ "${#lines[@]}" -eq 6 ]
	n=$(for t in t:r-tar t:r-tar-gz t:r-tar-zst t:r-tar-xz t:r-tar-bz2 t:stdin; do
		"$KILN" inspect --format '{{json .RootFS.Layers}}' "$t"; done | sort -u | wc -l)
	[ "$n" -eq 1 ]
}

@test "import --change sets the config like docker import" {
	run kiln import \
		-c 'CMD ["/bin/sh", "-c", "echo hi"]' \
		-c 'ENTRYPOINT /bin/entry' \
		-c 'ENV A=1 B="two words"' \
		-c 'ENV LEGACY value with spaces' \
		-c 'WORKDIR /app' -c 'WORKDIR sub' \
		-c 'USER 1000:1000' \
		-c 'LABEL org.example.x=y "quoted key"=v' \
		-c 'EXPOSE 80 53/udp 8000-8001' \
		-c 'VOLUME ["/data"]' \
		-c 'STOPSIGNAL SIGINT' \
		-m "my message" \
		"$(busybox_rootfs)" changed
	[ "$status" -eq 0 ]
	run kiln inspect --format '{{json .Config}}' changed
	c=$output
	echo "$c" | jq -e '.Cmd == ["/bin/sh","-c","echo hi"]'
	echo "$c" | jq -e '.Entrypoint == ["/bin/sh","-c","/bin/entry"]'
	echo "$c" | jq -e '.Env == ["A=1","B=two words","LEGACY=value with spaces"]'
	echo "$c" | jq -e '.WorkingDir == "/app/sub"'
	echo "$c" | jq -e '.User == "1000:1000"'
	echo "$c" | jq -e '.Labels == {"org.example.x":"y","quoted key":"v"}'
	echo "$c" | jq -e '.ExposedPorts | keys == ["53/udp","80/tcp","8000/tcp","8001/tcp"]'
	echo "$c" | jq -e '.Volumes == {"/data":{}}'
	echo "$c" | jq -e '.StopSignal == "SIGINT"'
	run kiln inspect --format '{{.Comment}}' changed
	[ "$output" = "my message" ]
}

@test "an invalid --change is refused before anything is stored" {
	before=$(store_state)
	run kiln import -c 'FROM busybox' "$(busybox_rootfs)" bad
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "Error: invalid change 'FROM busybox'"* ]]
	run kiln import -c 'EXPOSE 99999' "$(busybox_rootfs)" bad
	[ "$status" -eq 1 ]
	[ "$(store_state)" = "$before" ]
}

@test "the same tree gives the same digests (SOURCE_DATE_EPOCH)" {
	export SOURCE_DATE_EPOCH=1700000000
	run import_busybox a:1
	id1=$output
	run kiln inspect --format '{{.Digest}}' a:1
	d1=$output
	# the same source again: the same image, byte for byte
	run import_busybox a:2
	[ "$output" = "$id1" ]
	run kiln inspect --format '{{.Digest}}' a:2
	[ "$output" = "$d1" ]
	# a copy with a newer mtime (clamped) in another place: the same layer
	cp -a "$(busybox_rootfs)" "$BATS_TEST_TMPDIR/copy"
	touch "$BATS_TEST_TMPDIR/copy/bin/busybox"
	run kiln import "$BATS_TEST_TMPDIR/copy" b:1
	[ "$(kiln inspect --format '{{json .Layers}}' b:1)" = "$(kiln inspect --format '{{json .Layers}}' a:1)" ]
	run kiln inspect --format '{{.Created}}' b:1
	[ "$output" = "2023-11-14T22:13:20Z" ]
}

@test "zstd and none compression record the right media types" {
	run kiln import --compression zstd "$(busybox_rootfs)" z:1
	[ "$status" -eq 0 ]
	run kiln inspect --format '{{json .Layers}}' z:1
	echo "$output" | jq -e '.[0].mediaType == "application/vnd.oci.image.layer.v1.tar+zstd"'
	run kiln import --compression none "$(busybox_rootfs)" n:1
	run kiln inspect --format '{{json .Layers}}' n:1
	echo "$output" | jq -e '.[0].mediaType == "application/vnd.oci.image.layer.v1.tar"'
	run kiln import --compression lz4 "$(busybox_rootfs)" n:2
	[ "$status" -eq 125 ]
}

@test "bad input: truncated, garbage, empty, traversal, missing file — one line, store unchanged" {
	import_busybox base:1 >/dev/null
	before=$(store_state)
	rootfs=$(busybox_rootfs)
	tar -C "$rootfs" -czf "$BATS_TEST_TMPDIR/good.tgz" .
	head -c 20000 "$BATS_TEST_TMPDIR/good.tgz" > "$BATS_TEST_TMPDIR/trunc.tgz"
	head -c 100000 /dev/urandom > "$BATS_TEST_TMPDIR/garbage"
	: > "$BATS_TEST_TMPDIR/empty"
	python3 - "$BATS_TEST_TMPDIR/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"owned\n"
    ti = tarfile.TarInfo("../../../../tmp/kiln-evil-escape")
    ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
PY
	for f in trunc.tgz garbage empty evil.tar does-not-exist; do
		run kiln import "$BATS_TEST_TMPDIR/$f" bad:1
		echo "$f: $output"
		[ "$status" -eq 1 ]
		[ "${#lines[@]}" -eq 1 ]
		[[ "${lines[0]}" == "Error: import $BATS_TEST_TMPDIR/$f: "* ]]
		[ "$(store_state)" = "$before" ]
	done
	[ ! -e /tmp/kiln-evil-escape ]
	run kiln import "$BATS_TEST_TMPDIR/good.tgz" "Bad/Name"
	[ "$status" -eq 1 ]
	[[ "$output" == *"must be lowercase"* ]]
	run kiln fsck
	[ "$status" -eq 0 ]
}

@test "import from a URL is refused clearly" {
	run kiln import http://127.0.0.1:1/x.tar
	[ "$status" -eq 1 ]
	[[ "$output" == *"not supported"* ]]
}

@test "--platform accepts only the host platform" {
	arch=$(kiln version --format '{{.OsArch}}')
	run kiln import --platform "$arch" "$(busybox_rootfs)" p:1
	[ "$status" -eq 0 ]
	run kiln import --platform linux/s390x "$(busybox_rootfs)" p:2
	[ "$status" -eq 1 ]
	[[ "$output" == *"only the host platform"* ]]
}
