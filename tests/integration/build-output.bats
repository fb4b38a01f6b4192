#!/usr/bin/env bats
# kiln build: -o/--output, --squash/--squash-all, --progress, -f - and a
# Dockerfile on stdin.

bats_require_minimum_version 1.5.0
load helpers

PTYDRIVE="$BATS_TEST_DIRNAME/ptydrive.py"

setup() {
	setup_store
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	import_busybox bb:1 >/dev/null
	CTX="$BATS_TEST_TMPDIR/ctx"
	mkdir -p "$CTX/sub"
	echo hello > "$CTX/a.txt"
	echo nested > "$CTX/sub/s.txt"
	# a base file deleted, a file added then deleted in a later step, a
	# file added and changed later
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1
ENV A=1
COPY a.txt /a.txt
RUN rm /bin/vi && mkdir /d && echo one > /d/f && echo keep > /keep
RUN rm /a.txt && echo two > /d/f
CMD ["cat", "/d/f"]
EOF
}

teardown() {
	remove_containers
}

# the image records of the store (names and IDs)
images() {
	kiln images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort
}

# field of an OCI archive: the manifest or config (python, no extraction)
oci_json() { # FILE manifest|config|index
	python3 - "$1" "$2" <<'EOF'
import json, sys, tarfile
t = tarfile.open(sys.argv[1])
blob = lambda d: json.load(t.extractfile("blobs/sha256/" + d.split(":")[1]))
idx = json.load(t.extractfile("index.json"))
m = blob(idx["manifests"][0]["digest"])
print(json.dumps({"index": idx, "manifest": m, "config": blob(m["config"]["digest"])}[sys.argv[2]], sort_keys=True))
EOF
}

# entries of layer N (0-based; -1 the last) of an OCI archive, sorted
oci_layer_list() { # FILE N
	python3 - "$1" "$2" <<'EOF'
import io, json, sys, tarfile
t = tarfile.open(sys.argv[1])
blob = lambda d: t.extractfile("blobs/sha256/" + d.split(":")[1]).read()
idx = json.load(t.extractfile("index.json"))
m = json.loads(blob(idx["manifests"][0]["digest"]))
l = tarfile.open(fileobj=io.BytesIO(blob(m["layers"][int(sys.argv[2])]["digest"])))
for name in sorted(e.name for e in l.getmembers()):
    print(name)
EOF
}

@test "build -o type=local: the final filesystem in a directory, owned by the caller; without -t nothing is stored" {
	before=$(images)
	run -0 --separate-stderr kiln build -o "type=local,dest=$BATS_TEST_TMPDIR/out" "$CTX"
	[[ "$output" == sha256:* ]]
	[ "$(cat "$BATS_TEST_TMPDIR/out/d/f")" = two ]
	[ "$(cat "$BATS_TEST_TMPDIR/out/keep")" = keep ]
	[ -x "$BATS_TEST_TMPDIR/out/bin/busybox" ]
	[ ! -e "$BATS_TEST_TMPDIR/out/a.txt" ]
	[ ! -e "$BATS_TEST_TMPDIR/out/bin/vi" ]
	[ ! -e "$BATS_TEST_TMPDIR/out/bin/.wh.vi" ]
	[ "$(find "$BATS_TEST_TMPDIR/out" ! -user 0 | wc -l)" -eq 0 ]
	# not stored: no new image, no config blob of that ID, nothing in tmp
	[ "$(images)" = "$before" ]
	[ ! -e "$KILN_ROOT/oci/blobs/sha256/${output#sha256:}" ]
	[ -z "$(find "$KILN_ROOT/tmp" -mindepth 1 ! -name '*.lock')" ]
	# the build cache kept the layers: a rebuild is CACHED and the same ID
	id=$output
	run -0 --separate-stderr kiln build --progress=plain -o "$BATS_TEST_TMPDIR/out2" "$CTX"
	[ "$output" = "$id" ]
	[ "$(grep -c ' CACHED$' <<<"$stderr")" -eq 5 ]
	[ "$(cat "$BATS_TEST_TMPDIR/out2/d/f")" = two ]
	# with -t: exported and stored, the same image
	run -0 kiln build -q -t both:1 -o "$BATS_TEST_TMPDIR/out3" "$CTX"
	[ "$output" = "$id" ]
	[ "$(kiln inspect --format '{{.Id}}' both:1)" = "$id" ]
	[ "$(cat "$BATS_TEST_TMPDIR/out3/d/f")" = two ]
	# an existing directory is merged into; its other files stay
	echo mine > "$BATS_TEST_TMPDIR/out3/mine"
	run -0 kiln build -q -o "$BATS_TEST_TMPDIR/out3" "$CTX"
	[ "$(cat "$BATS_TEST_TMPDIR/out3/mine")" = mine ]
}

@test "build -o type=local: files owned by the caller, not as in the image (docker's local exporter); a tar keeps them" {
	printf 'FROM bb:1\nRUN touch /o && chown 123:456 /o\n' > "$CTX/Dockerfile"
	run -0 kiln build -q -o "$BATS_TEST_TMPDIR/out" "$CTX"
	[ "$(stat -c %u:%g "$BATS_TEST_TMPDIR/out/o")" = "$(id -u):$(id -g)" ]
	run -0 kiln build -q -o "type=tar,dest=$BATS_TEST_TMPDIR/o.tar" "$CTX"
	run -0 tar tvf "$BATS_TEST_TMPDIR/o.tar" --numeric-owner
	[[ "$output" == *' 123/456 '*' o'* ]]
}

@test "build -o type=tar: the filesystem as a tar to a file or to stdout (-o -); the ID is not mixed in" {
	run -0 kiln build -q -o "type=tar,dest=$BATS_TEST_TMPDIR/fs.tar" "$CTX"
	id=$output
	tar tf "$BATS_TEST_TMPDIR/fs.tar" | sed 's,^\./,,; s,/$,,' | sort > "$BATS_TEST_TMPDIR/list1"
	grep -qx 'd/f' "$BATS_TEST_TMPDIR/list1"
	grep -qx 'bin/busybox' "$BATS_TEST_TMPDIR/list1"
	! grep -q 'a\.txt\|bin/vi$\|\.wh\.' "$BATS_TEST_TMPDIR/list1"
	[ "$(tar xOf "$BATS_TEST_TMPDIR/fs.tar" d/f 2>/dev/null || tar xOf "$BATS_TEST_TMPDIR/fs.tar" ./d/f)" = two ]
	# -o - and type=tar,dest=- write the same tar to stdout, nothing else
	kiln build -q -o - "$CTX" > "$BATS_TEST_TMPDIR/stdout.tar"
	cmp "$BATS_TEST_TMPDIR/fs.tar" "$BATS_TEST_TMPDIR/stdout.tar"
	kiln build -o type=tar,dest=- "$CTX" > "$BATS_TEST_TMPDIR/stdout2.tar" 2>"$BATS_TEST_TMPDIR/err"
	cmp "$BATS_TEST_TMPDIR/fs.tar" "$BATS_TEST_TMPDIR/stdout2.tar"
	# without -q the ID goes to stderr then
	grep -qx "$id" "$BATS_TEST_TMPDIR/err"
	# a tar is never written to a terminal
	run -1 python3 "$PTYDRIVE" -- "$KILN" build -q -o - "$CTX"
	[[ "$output" == *"refusing to write a tar to a terminal"* ]]
}

@test "build -o type=oci: an OCI layout tarball skopeo and umoci read; -t names it; the ID is its config" {
	run -0 kiln build -q -t app:2 -o "type=oci,dest=$BATS_TEST_TMPDIR/img.tar" "$CTX"
	id=$output
	tar tf "$BATS_TEST_TMPDIR/img.tar" | grep -qx oci-layout
	[ "$(oci_json "$BATS_TEST_TMPDIR/img.tar" index | jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]')" = 2 ]
	[ "$(oci_json "$BATS_TEST_TMPDIR/img.tar" index | jq -r '.manifests[0].annotations["io.containerd.image.name"]')" = docker.io/library/app:2 ]
	[ "$(oci_json "$BATS_TEST_TMPDIR/img.tar" manifest | jq -r .config.digest)" = "$id" ]
	# the same manifest as the stored image
	[ "$(oci_json "$BATS_TEST_TMPDIR/img.tar" manifest | jq -r '.layers | length')" -eq 4 ]
	skopeo copy --quiet "oci-archive:$BATS_TEST_TMPDIR/img.tar" "oci:$BATS_TEST_TMPDIR/layout:x"
	umoci unpack --image "$BATS_TEST_TMPDIR/layout:x" "$BATS_TEST_TMPDIR/bundle" >/dev/null
	[ "$(cat "$BATS_TEST_TMPDIR/bundle/rootfs/d/f")" = two ]
	[ ! -e "$BATS_TEST_TMPDIR/bundle/rootfs/bin/vi" ]
	[ ! -e "$BATS_TEST_TMPDIR/bundle/rootfs/a.txt" ]
	# without -t: not stored, name= names it; --format docker: schema2 inside
	before=$(images)
	run -0 kiln build -q --format docker -o "type=oci,dest=$BATS_TEST_TMPDIR/d.tar,name=x/y:z" "$CTX"
	[ "$(images)" = "$before" ]
	[ "$(oci_json "$BATS_TEST_TMPDIR/d.tar" index | jq -r '.manifests[0].mediaType')" = application/vnd.docker.distribution.manifest.v2+json ]
	[ "$(oci_json "$BATS_TEST_TMPDIR/d.tar" index | jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]')" = z ]
	skopeo inspect --raw "oci-archive:$BATS_TEST_TMPDIR/d.tar" | jq -e '.config.mediaType == "application/vnd.docker.container.image.v1+json"'
	# several outputs at once
	run -0 kiln build -q -o "type=oci,dest=$BATS_TEST_TMPDIR/o2.tar" -o "$BATS_TEST_TMPDIR/dir" "$CTX"
	[ "$(cat "$BATS_TEST_TMPDIR/dir/d/f")" = two ]
	tar tf "$BATS_TEST_TMPDIR/o2.tar" | grep -qx index.json
}

@test "build -o: bad values are one line before anything is built; a failed output stores nothing" {
	before=$(store_state)
	for o in type=zip,dest=x type=local type=tar,dest= dest=x type=local,dest=- type=tar,dest=x,foo=1 \
		type=tar,dest=x,name=a type=docker,dest=x ""; do
		run -125 --separate-stderr kiln build -o "$o" "$CTX"
		[ "${#stderr_lines[@]}" -eq 2 ]
		[[ "${stderr_lines[0]}" == Error:* ]]
		[[ "$stderr" != *'#1 '* ]]
	done
	run -125 --separate-stderr kiln build -o type=zip,dest=x "$CTX"
	[ "${stderr_lines[0]}" = 'Error: --output: unknown output type "zip" (expected local, tar or oci)' ]
	run -125 --separate-stderr kiln build -o type=local "$CTX"
	[ "${stderr_lines[0]}" = 'Error: --output type=local: missing dest=' ]
	run -125 kiln build -o - -o type=oci,dest=- "$CTX"
	[[ "$output" == *'only one output can go to standard output'* ]]
	[ "$(store_state)" = "$before" ]
	# an output that cannot be written: one line, no image stored with -t
	touch "$BATS_TEST_TMPDIR/file"
	run -1 --separate-stderr kiln build -q -t notstored:1 -o "$BATS_TEST_TMPDIR/file/sub" "$CTX"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *'--output '*'/file/sub'* ]]
	run kiln inspect notstored:1
	[ "$status" -ne 0 ]
}

@test "build --squash: the final stage's new layers become one; deletions stay deleted; history as podman" {
	run -0 kiln build -q -t plain:1 "$CTX"
	run -0 kiln build -q -t sq:1 --squash -o "type=oci,dest=$BATS_TEST_TMPDIR/sq.tar" "$CTX"
	# base (1 layer) + 1
	[ "$(kiln inspect --format '{{json .RootFS.Layers}}' sq:1 | jq length)" -eq 2 ]
	[ "$(kiln inspect --format '{{index .RootFS.Layers 0}}' sq:1)" = "$(kiln inspect --format '{{index .RootFS.Layers 0}}' bb:1)" ]
	cfgj=$(oci_json "$BATS_TEST_TMPDIR/sq.tar" config)
	# diff_ids == non-empty history entries; the base's entry unchanged;
	# the stage's entries empty_layer but the last (CMD), as podman 4.3
	[ "$(jq '.rootfs.diff_ids | length' <<<"$cfgj")" -eq "$(jq '[.history[] | select(.empty_layer != true)] | length' <<<"$cfgj")" ]
	[ "$(jq -c '[.history[] | .empty_layer // false]' <<<"$cfgj")" = '[false,true,true,true,true,false]' ]
	[[ "$(jq -r '.history[5].created_by' <<<"$cfgj")" == '/bin/sh -c #(nop) CMD ["cat", "/d/f"]' ]]
	[ "$(jq -c .config.Env <<<"$cfgj")" = "$(kiln inspect --format '{{json .Config.Env}}' plain:1)" ]
	# the squashed layer: what changed against the base, a whiteout for the
	# deleted base file, nothing of a.txt (added and deleted)
	run -0 oci_layer_list "$BATS_TEST_TMPDIR/sq.tar" 1
	[ "$output" = "bin
bin/.wh.vi
d
d/f
keep" ]
	run -0 kiln run --rm sq:1
	[ "$output" = two ]
	run kiln run --rm sq:1 ls /bin/vi /a.txt
	[ "$status" -ne 0 ]
	# the same files as without --squash
	run -0 kiln run --rm sq:1 sh -c 'find / -xdev | sort | md5sum'
	a=$output
	run -0 kiln run --rm plain:1 sh -c 'find / -xdev | sort | md5sum'
	[ "$output" = "$a" ]
}

@test "build --squash-all: one layer with everything; the base's history is dropped (buildah bud --squash)" {
	run -0 kiln build -q -t sqa:1 --squash-all -o "type=oci,dest=$BATS_TEST_TMPDIR/sqa.tar" "$CTX"
	[ "$(kiln inspect --format '{{json .RootFS.Layers}}' sqa:1 | jq length)" -eq 1 ]
	cfgj=$(oci_json "$BATS_TEST_TMPDIR/sqa.tar" config)
	[ "$(jq -c '[.history[] | .empty_layer // false]' <<<"$cfgj")" = '[true,true,true,true,false]' ]
	[[ "$(jq -r '.history[0].created_by' <<<"$cfgj")" == *'ENV A=1'* ]]
	run -0 oci_layer_list "$BATS_TEST_TMPDIR/sqa.tar" 0
	[[ "$output" == *$'\nbin/busybox\n'* ]]
	[[ "$output" == *$'\nd/f\n'* ]]
	[[ "$output" != *vi* ]]
	[[ "$output" != *a.txt* ]]
	[[ "$output" != *.wh.* ]]
	run -0 kiln run --rm sqa:1
	[ "$output" = two ]
	# a multi-stage build squashes only the final stage; a stage without
	# new layers is left as it is
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1 AS build
RUN echo built > /out
FROM bb:1
COPY --from=build /out /out
RUN echo more >> /out
EOF
	run -0 kiln build -q -t ms:1 --squash "$CTX"
	[ "$(kiln inspect --format '{{json .RootFS.Layers}}' ms:1 | jq length)" -eq 2 ]
	run -0 kiln run --rm ms:1 cat /out
	[ "$output" = "built
more" ]
	printf 'FROM bb:1\nENV X=1\n' > "$CTX/Dockerfile"
	run -0 kiln build -q -t noop:1 --squash "$CTX"
	[ "$(kiln inspect --format '{{.RootFS.Layers}}' noop:1)" = "$(kiln inspect --format '{{.RootFS.Layers}}' bb:1)" ]
}

@test "build --progress=plain: a #N line per step, RUN output as #N lines live, DONE times, CACHED" {
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1
COPY a.txt /a.txt
RUN echo out-line; echo err-line >&2; printf no-newline
CMD ["x"]
EOF
	run -0 --separate-stderr kiln build --progress=plain "$CTX"
	[ "${stderr_lines[0]}" = '#1 [stage-0 1/4] FROM bb:1' ]
	[[ "${stderr_lines[1]}" =~ ^'#1 DONE '[0-9]+\.[0-9]s$ ]]
	[ "${stderr_lines[2]}" = '#2 [stage-0 2/4] COPY a.txt /a.txt' ]
	[[ "${stderr_lines[3]}" =~ ^'#2 DONE '[0-9]+\.[0-9]s$ ]]
	[ "${stderr_lines[4]}" = '#3 [stage-0 3/4] RUN echo out-line; echo err-line >&2; printf no-newline' ]
	[ "${stderr_lines[5]}" = '#3 out-line' ]
	[ "${stderr_lines[6]}" = '#3 err-line' ]
	[ "${stderr_lines[7]}" = '#3 no-newline' ]
	[[ "${stderr_lines[8]}" =~ ^'#3 DONE '[0-9]+\.[0-9]s$ ]]
	[ "${stderr_lines[9]}" = '#4 [stage-0 4/4] CMD ["x"]' ]
	# auto on a pipe is plain; a rebuild is CACHED with no DONE line
	run -0 --separate-stderr kiln build "$CTX"
	[ "${stderr_lines[2]}" = '#2 [stage-0 2/4] COPY a.txt /a.txt CACHED' ]
	[ "${stderr_lines[3]}" = '#3 [stage-0 3/4] RUN echo out-line; echo err-line >&2; printf no-newline CACHED' ]
	[[ "$stderr" != *$'\e'* ]]
	# quiet and -q: only the ID
	for q in --progress=quiet -q; do
		run -0 --separate-stderr kiln build --no-cache "$q" "$CTX"
		[ -z "$stderr" ]
		[[ "$output" == sha256:* ]]
	done
	run -125 kiln build --progress=fancy "$CTX"
	[[ "$output" == *'--progress fancy: expected auto, plain, tty or quiet'* ]]
	# a failing RUN: its output, then ERROR
	printf 'FROM bb:1\nRUN echo before-fail; exit 7\n' > "$CTX/Dockerfile"
	run -1 --separate-stderr kiln build --progress=plain "$CTX"
	[[ "$stderr" == *$'#2 before-fail\n#2 ERROR '* ]]
	[[ "$stderr" == *'exit code: 7'* ]]
}

@test "build --progress=tty on a terminal: a live view with ticking time and the last lines; a failed step's whole output" {
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1
RUN for i in 1 2 3 4 5 6 7 8 9 10; do echo tick-$i; done; sleep 1; echo late
RUN for i in $(seq 1 30); do echo fail-$i; done; exit 3
EOF
	# auto is tty on a terminal: the running step is redrawn with its
	# elapsed time and its last output lines, then collapses to one line
	run -1 python3 "$PTYDRIVE" 'expect:\[\+\] Building' 'expect:tick-10' exit -- "$KILN" build "$CTX"
	[[ "$output" == *$'\e[J'* ]]
	# the running step's time ticks: several different values were drawn
	ticks=$(grep -o '#2 \[stage-0 2/3\] RUN .* [0-9]*\.[0-9]s$' <<<"$output" | grep -v DONE | grep -o '[0-9]*\.[0-9]s$' | sort -u | wc -l)
	[ "$ticks" -ge 3 ]
	# only the last lines are shown while it runs
	[[ "$output" == *tick-10* ]]
	# finished: one line with DONE and the time
	[[ "$output" =~ '#2 [stage-0 2/3] RUN '[^$'\n']*' DONE '[0-9]+\.[0-9]s ]]
	# the failing step: every line of its output, in order, after ERROR
	[[ "$output" =~ '#3 [stage-0 3/3] RUN '[^$'\n']*' ERROR ' ]]
	errpart=${output##*ERROR }
	for i in $(seq 1 30); do
		[[ "$errpart" == *"#3 fail-$i"$'\n'* ]]
	done
	[[ "$output" == *'Dockerfile:3: '*'exit code: 3'* ]]
	# --progress=plain on a terminal is plain
	printf 'FROM bb:1\n' > "$CTX/Dockerfile"
	run -0 python3 "$PTYDRIVE" exit -- "$KILN" build --progress=plain "$CTX"
	[[ "$output" != *$'\e['* ]]
	[[ "$output" == *'#1 [stage-0 1/1] FROM bb:1'* ]]
}

@test "build -f -: the Dockerfile from stdin with a context directory and its .dockerignore" {
	echo secret > "$CTX/ign.txt"
	printf 'ign.txt\n' > "$CTX/.dockerignore"
	run -0 kiln build -q -t fstdin:1 -f - "$CTX" <<'EOF'
FROM bb:1
COPY . /ctx/
EOF
	run -0 kiln run --rm fstdin:1 ls /ctx
	[ "$output" = "Dockerfile
a.txt
sub" ]
	# errors name "Dockerfile"
	run -1 kiln build -q -f - "$CTX" <<<$'FROM bb:1\nRUNN x'
	[[ "$output" == *'Dockerfile:2: unknown instruction: RUNN'* ]]
	run -125 kiln build -f - - <<<'FROM bb:1'
	[[ "$output" == *"stdin can't be both the build context and the Dockerfile"* ]]
}

@test "build -: a Dockerfile on stdin (not a tar) has an empty context; a tar, compressed or not, is the context" {
	run -0 kiln build -q -t empty:1 - <<'EOF'
FROM bb:1
RUN echo from-stdin > /f
EOF
	run -0 kiln run --rm empty:1 cat /f
	[ "$output" = from-stdin ]
	# the context is empty: COPY finds nothing
	run -1 kiln build -q - <<<$'FROM bb:1\nCOPY a.txt /'
	[[ "$output" == *'Dockerfile:2: '* ]]
	[[ "$output" == *a.txt* ]]
	[ -z "$(find "$KILN_ROOT/tmp" -mindepth 1 -maxdepth 1 -name 'build-ctx-*')" ]
	# a tar on stdin is still the context, gzip or zstd compressed too
	printf 'FROM bb:1\nCOPY a.txt /a.txt\n' > "$CTX/Dockerfile"
	tar -C "$CTX" -cf "$BATS_TEST_TMPDIR/c.tar" .
	gzip -c "$BATS_TEST_TMPDIR/c.tar" > "$BATS_TEST_TMPDIR/c.tgz"
	zstd -q -c "$BATS_TEST_TMPDIR/c.tar" > "$BATS_TEST_TMPDIR/c.tzst"
	for f in c.tar c.tgz c.tzst; do
		run -0 kiln build -q -t "tarctx:${f#c.}" - < "$BATS_TEST_TMPDIR/$f"
		run -0 kiln run --rm "tarctx:${f#c.}" cat /a.txt
		[ "$output" = hello ]
	done
}

@test "build -f FILE outside the context: <Dockerfile>.dockerignore beside it wins over the context's" {
	mkdir -p "$BATS_TEST_TMPDIR/dfdir"
	echo a > "$CTX/x.txt"
	echo b > "$CTX/y.txt"
	printf 'x.txt\n' > "$CTX/.dockerignore"
	printf 'FROM bb:1\nCOPY . /c/\n' > "$BATS_TEST_TMPDIR/dfdir/My.Dockerfile"
	run -0 kiln build -q -t outside:1 -f "$BATS_TEST_TMPDIR/dfdir/My.Dockerfile" "$CTX"
	run -0 kiln run --rm outside:1 ls /c
	[[ "$output" != *x.txt* ]]
	[[ "$output" == *y.txt* ]]
	printf 'y.txt\n' > "$BATS_TEST_TMPDIR/dfdir/My.Dockerfile.dockerignore"
	run -0 kiln build -q -t outside:2 -f "$BATS_TEST_TMPDIR/dfdir/My.Dockerfile" "$CTX"
	run -0 kiln run --rm outside:2 ls /c
	[[ "$output" == *x.txt* ]]
	[[ "$output" != *y.txt* ]]
	# errors name the file as given
	printf 'FROM bb:1\nRUNN x\n' > "$BATS_TEST_TMPDIR/dfdir/My.Dockerfile"
	run -1 kiln build -q -f "$BATS_TEST_TMPDIR/dfdir/My.Dockerfile" "$CTX"
	[[ "$output" == *'My.Dockerfile:2: unknown instruction: RUNN'* ]]
}

@test "build: RUN steps as root and as a USER finish while the progress threads run (ids set in the child without glibc's thread list)" {
	# regression: the container init (a raw clone of the threaded build)
	# waited forever in glibc's setresuid for the progress reader thread
	{
		echo 'FROM bb:1'
		for i in 1 2 3 4 5 6; do
			echo 'USER nobody'
			echo "RUN id -u > /tmp/u$i; echo step-$i"
			echo 'USER root'
			echo "RUN id -u >> /tmp/u$i; echo root-$i"
		done
	} > "$CTX/Dockerfile"
	for p in plain tty; do
		run -0 --separate-stderr timeout 300 "$KILN" build --no-cache --progress=$p -t ids:$p "$CTX"
		[ "$p" = tty ] || [[ "$stderr" == *'#23 step-6'* ]]
	done
	run -0 kiln run --rm ids:plain cat /tmp/u6
	[ "$output" = "65534
0" ]
}
