#!/usr/bin/env bats
# kiln build: the executor and the build cache.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_store
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	import_busybox bb:1 >/dev/null
	CTX="$BATS_TEST_TMPDIR/ctx"
	mkdir -p "$CTX/sub"
	echo hello > "$CTX/a.txt"
	echo nested > "$CTX/sub/s.txt"
}

teardown() {
	remove_containers
}

cfg() {
	kiln inspect --format "{{json .Config.$1}}" "$2"
}

@test "build: metadata instructions end up in the config and history" {
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
ENV A=b C="d e"
LABEL k=v other="x y"
WORKDIR /app
WORKDIR sub
USER nobody
EXPOSE 80 53/udp
VOLUME /data
STOPSIGNAL SIGINT
ENTRYPOINT ["echo"]
CMD ["hi"]
EOF2
	run -0 kiln build -q -t meta:1 "$CTX"
	[[ "$output" == sha256:* ]]
	[ "$(cfg Env meta:1)" = '["A=b","C=d e"]' ] || [[ "$(cfg Env meta:1)" == *'"A=b","C=d e"'* ]]
	[ "$(cfg Labels meta:1)" = '{"k":"v","other":"x y"}' ]
	[ "$(cfg WorkingDir meta:1)" = '"/app/sub"' ]
	[ "$(cfg User meta:1)" = '"nobody"' ]
	[ "$(cfg ExposedPorts meta:1)" = '{"53/udp":{},"80/tcp":{}}' ]
	[ "$(cfg Volumes meta:1)" = '{"/data":{}}' ]
	[ "$(cfg StopSignal meta:1)" = '"SIGINT"' ]
	[ "$(cfg Entrypoint meta:1)" = '["echo"]' ]
	[ "$(cfg Cmd meta:1)" = '["hi"]' ]
	run -0 kiln history --no-trunc meta:1
	[[ "$output" == *'/bin/sh -c #(nop) ENV A=b C="d e"'* ]]
	[[ "$output" == *'/bin/sh -c #(nop) WORKDIR sub'* ]]
	run -0 kiln run --rm meta:1
	[ "$output" = hi ]
	run -0 kiln run --rm --entrypoint pwd meta:1
	[ "$output" = /app/sub ]
}

@test "build: ENTRYPOINT resets an inherited CMD, SHELL and shell-form CMD" {
	printf 'FROM bb:1\nCMD ["base"]\n' > "$CTX/Dockerfile"
	kiln build -q -t base:1 "$CTX"
	printf 'FROM base:1\nENTRYPOINT ["ls"]\n' > "$CTX/Dockerfile"
	kiln build -q -t child:1 "$CTX"
	[ "$(cfg Cmd child:1)" = null ]
	printf 'FROM bb:1\nSHELL ["/bin/sh","-ec"]\nCMD echo $0\n' > "$CTX/Dockerfile"
	kiln build -q -t sh:1 "$CTX"
	[ "$(cfg Cmd sh:1)" = '["/bin/sh","-ec","echo $0"]' ]
}

@test "build: RUN sees ENV and ARG, runs as USER in WORKDIR, its changes are a layer" {
	cat > "$CTX/Dockerfile" <<'EOF2'
ARG WHO=world
FROM bb:1
ARG WHO
ARG OTHER=dflt
ENV E=env
WORKDIR /w
RUN echo "$WHO $OTHER $E $(pwd)" > /w/out && rm /bin/vi
RUN ["/bin/sh", "-c", "id -u > /w/uid"]
USER 1000
RUN id -u > /tmp/uid2
EOF2
	run -0 kiln build -q --build-arg OTHER=given -t run:1 "$CTX"
	run -0 kiln run --rm run:1 cat /w/out /w/uid /tmp/uid2
	[ "${lines[0]}" = "world given env /w" ]
	[ "${lines[1]}" = 0 ]
	[ "${lines[2]}" = 1000 ]
	run kiln run --rm run:1 ls /bin/vi
	[ "$status" -ne 0 ]
	run -0 kiln history --no-trunc run:1
	[[ "$output" == *'/bin/sh -c echo "$WHO $OTHER $E $(pwd)" > /w/out && rm /bin/vi'* ]]
}

@test "build: FROM scratch with COPY (files, directories, wildcards, --chown, --chmod)" {
	echo x > "$CTX/one.conf"
	echo y > "$CTX/two.conf"
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM scratch
COPY a.txt /a.txt
COPY sub /dir/
COPY *.conf /etc/
COPY --chown=5:6 --chmod=640 a.txt /owned
COPY --from=bb:1 /bin/busybox /bin/busybox
EOF2
	run -0 kiln build -q -t scr:1 "$CTX"
	run -0 kiln run --rm --entrypoint /bin/busybox scr:1 sh -c \
		'/bin/busybox cat /a.txt /dir/s.txt /etc/one.conf /etc/two.conf; /bin/busybox stat -c "%u:%g %a" /owned'
	[ "${lines[0]}" = hello ]
	[ "${lines[1]}" = nested ]
	[ "${lines[2]}" = x ]
	[ "${lines[3]}" = y ]
	[ "${lines[4]}" = "5:6 640" ]
}

@test "build: multi-stage with COPY --from, --target, -t twice, --iidfile, --label" {
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1 AS builder
RUN mkdir /out && echo built > /out/result
FROM bb:1 AS unused
RUN exit 3
FROM bb:1
COPY --from=builder /out/result /result
COPY --from=0 /out /also
EOF2
	run -0 kiln build -q -t ms:1 -t ms:2 --label built.by=kiln --iidfile "$BATS_TEST_TMPDIR/iid" "$CTX"
	[ "$output" = "$(cat "$BATS_TEST_TMPDIR/iid")" ]
	[ "$(kiln inspect --format '{{.Id}}' ms:2)" = "$output" ]
	[ "$(cfg Labels ms:1)" = '{"built.by":"kiln"}' ]
	run -0 kiln run --rm ms:1 cat /result /also/result
	[ "$output" = "built
built" ]
	run -0 kiln build -q --target builder -t ms:b "$CTX"
	run -0 kiln run --rm ms:b cat /out/result
	run ! kiln build -q --target nope "$CTX"
	[[ "$output" == *'target stage "nope" could not be found'* ]]
}

@test "build: a failing RUN names the line and exit code, stores nothing" {
	kiln run --rm bb:1 true   # base layers unpacked (a cache, as kiln run does)
	printf 'FROM bb:1\nRUN echo one > /x\nRUN exit 7\n' > "$CTX/Dockerfile"
	before=$(store_state)
	run -1 kiln build -t fail:1 "$CTX"
	[[ "${lines[-1]}" == *'Dockerfile:3: RUN exit 7: process "/bin/sh -c exit 7" did not complete successfully: exit code: 7' ]]
	[ "$(store_state)" = "$before" ]
	run ! kiln inspect fail:1
}

@test "build: a COPY source outside the context or missing is an error" {
	ln -s /etc/passwd "$CTX/out"
	printf 'FROM bb:1\nCOPY ../etc/passwd /x\n' > "$CTX/Dockerfile"
	run -1 kiln build -q -t bad:1 "$CTX"
	[[ "$output" == *'Dockerfile:2: COPY ../etc/passwd /x:'*'outside the build context'* ]]
	printf 'FROM bb:1\nCOPY missing /x\n' > "$CTX/Dockerfile"
	run -1 kiln build -q -t bad:1 "$CTX"
	[[ "$output" == *'Dockerfile:2: COPY missing /x:'* ]]
	run ! kiln inspect bad:1
}

@test "build: .dockerignore applies to COPY of a directory" {
	printf 'sub/s.txt\n' > "$CTX/.dockerignore"
	echo keep > "$CTX/sub/k.txt"
	printf 'FROM bb:1\nCOPY . /c/\n' > "$CTX/Dockerfile"
	run -0 kiln build -q -t ign:1 "$CTX"
	run -0 kiln run --rm ign:1 ls /c/sub
	[ "$output" = k.txt ]
}

@test "build: not-yet-supported features fail with one clear line" {
	printf 'FROM bb:1\nADD git@github.com:x/y.git /x\n' > "$CTX/Dockerfile"
	run -1 kiln build -q "$CTX"
	[ "$output" = 'Error: Dockerfile:2: ADD git@github.com:x/y.git /x: ADD from git repositories is not supported' ]
	printf 'FROM bb:1\nADD --keep-git-dir https://127.0.0.1:1/x.git /x\n' > "$CTX/Dockerfile"
	run -1 kiln build -q "$CTX"
	[[ "$output" == *'not supported yet'* ]]
}

@test "build: the context as a tar on stdin" {
	printf 'FROM bb:1\nCOPY a.txt /a\n' > "$CTX/Dockerfile"
	run -0 bash -c "tar -C '$CTX' -c . | '$KILN' build -q -t tar:1 -"
	run -0 kiln run --rm tar:1 cat /a
	[ "$output" = hello ]
}

# ---- RUN --mount and --network ----

@test "build: RUN --mount=type=cache persists across builds, stays out of the layer" {
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1
RUN --mount=type=cache,target=/var/cache/app echo run >> /var/cache/app/log && wc -l < /var/cache/app/log > /count
RUN --mount=type=cache,id=shared,target=/c1,sharing=locked echo x > /c1/f
RUN --mount=type=cache,id=shared,target=/c2,sharing=private,mode=0700,uid=5 cat /c2/f > /fromc2
RUN --mount=type=cache,target=/ro,ro sh -c 'if touch /ro/x 2>/dev/null; then exit 1; fi'
EOF
	run -0 kiln build -q -t cache:1 "$CTX"
	run -0 --separate-stderr kiln run --rm cache:1 cat /count /fromc2
	[ "${lines[0]}" = 1 ]
	[ "${lines[1]}" = x ]
	# (--no-cache: else the build cache reuses the RUN and nothing runs)
	run -0 kiln build -q --no-cache -t cache:2 "$CTX"
	run -0 --separate-stderr kiln run --rm cache:2 cat /count
	[ "$output" = 2 ]
	# the mount points were made by the build and are not in the image
	run -0 kiln run --rm cache:2 sh -c 'ls -d /var/cache/app /c1 /c2 /ro 2>&1; true'
	[ "$(grep -c 'No such file' <<<"$output")" -eq 4 ]
	[ -d "$KILN_ROOT/build-cache-mounts" ]
	grep -rqx shared "$KILN_ROOT"/build-cache-mounts/*/id
	printf 'FROM bb:1\nRUN --mount=type=cache,target=/c,sharing=weird true\n' > "$CTX/Dockerfile"
	run -1 kiln build -q "$CTX"
	[[ "$output" == *'Dockerfile:2: '*'unrecognized sharing mode "weird"'* ]]
}

@test "build: RUN --mount=type=secret from --secret src= and env=, never stored" {
	echo 'TOPSECRET-file-4242' > "$BATS_TEST_TMPDIR/s.txt"
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1
RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /len && stat -c %a /run/secrets/tok > /mode
RUN --mount=type=secret,id=envtok,target=/etc/tok,mode=0440,uid=1000 wc -c < /etc/tok > /len2 && stat -c '%a %u' /etc/tok > /mode2
RUN --mount=type=secret,id=absent ls /run/secrets/absent 2>/dev/null || echo skipped > /absent
EOF
	SECRET_ENV=TOPSECRET-env-4343 run -0 kiln build -q --secret id=tok,src="$BATS_TEST_TMPDIR/s.txt" \
		--secret id=envtok,env=SECRET_ENV -t sec:1 "$CTX"
	run -0 --separate-stderr kiln run --rm sec:1 cat /len /mode /mode2 /absent /len2
	[ "${lines[0]}" = 20 ]
	[ "${lines[1]}" = 400 ]
	[ "${lines[2]}" = "440 1000" ]
	[ "${lines[3]}" = skipped ]
	[ "${lines[4]}" = 18 ]
	run -0 kiln run --rm sec:1 sh -c 'ls -d /run/secrets /etc/tok 2>&1; true'
	[[ "$output" == *"No such file"* ]]
	# nothing in the store holds the secret (layers may be compressed: look inside)
	run grep -rl TOPSECRET "$KILN_ROOT"
	[ "$status" -ne 0 ]
	for f in $(find "$KILN_ROOT" -type f -path '*blobs*'); do
		! (zcat -f "$f" 2>/dev/null | grep -aq TOPSECRET)
	done
	run -0 kiln history --no-trunc sec:1
	[[ "$output" != *TOPSECRET* ]]
	# required and missing: one line, nothing stored
	printf 'FROM bb:1\nRUN --mount=type=secret,id=need,required=true true\n' > "$CTX/Dockerfile"
	before=$(store_state)
	run -1 kiln build -q -t sec:2 "$CTX"
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *'Dockerfile:2: '*'secret need: not provided'* ]]
	[ "$(store_state)" = "$before" ]
}

@test "build: RUN --mount=type=bind from the context and from a stage, ro unless rw" {
	echo ignored > "$CTX/ign.txt"
	printf 'ign.txt\n' > "$CTX/.dockerignore"
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1 AS other
RUN mkdir /out && echo from-stage > /out/f
FROM bb:1
WORKDIR /w
RUN --mount=type=bind,target=/src cat /src/a.txt /src/sub/s.txt > /got && (ls /src/ign.txt 2>/dev/null || echo noign >> /got)
RUN --mount=type=bind,source=sub,target=sub cat sub/s.txt >> /got && (touch sub/new 2>/dev/null || echo ro >> /got)
RUN --mount=type=bind,from=other,source=/out,target=/o cat /o/f >> /got
RUN --mount=type=bind,source=a.txt,target=/one.txt,rw echo changed > /one.txt && cat /one.txt >> /got
EOF
	run -0 kiln build -q -t bind:1 "$CTX"
	run -0 --separate-stderr kiln run --rm bind:1 cat /got
	[ "$output" = "hello
nested
noign
nested
ro
from-stage
changed" ]
	[ "$(cat "$CTX/a.txt")" = hello ]
	run -0 kiln run --rm bind:1 sh -c 'ls -d /src /w/sub /o /one.txt 2>&1; true'
	[ "$(grep -c 'No such file' <<<"$output")" -eq 4 ]
}

@test "build: RUN --mount=type=tmpfs, several mounts, an unknown key is one line" {
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1
RUN --mount=type=tmpfs,target=/scratch,size=1m --mount=type=tmpfs,target=/tmp/t \
	echo x > /scratch/f && grep -q ' /scratch tmpfs' /proc/mounts && touch /tmp/t/y && echo ok > /done
EOF
	run -0 kiln build -q -t tmpfs:1 "$CTX"
	run -0 --separate-stderr kiln run --rm tmpfs:1 sh -c 'cat /done; ls -d /scratch 2>&1; ls -A /tmp'
	[ "${lines[0]}" = ok ]
	[[ "${lines[1]}" == *"No such file"* ]]
	[ "${#lines[@]}" -eq 2 ]
	printf 'FROM bb:1\nRUN --mount=type=tmpfs,target=/x,bogus=1 true\n' > "$CTX/Dockerfile"
	run -1 kiln build -q "$CTX"
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"Dockerfile:2: "*"unexpected key 'bogus'"* ]]
	printf 'FROM bb:1\nRUN --mount=type=ssh true\n' > "$CTX/Dockerfile"
	run -1 kiln build -q "$CTX"
	[[ "$output" == *'Dockerfile:2: '*'type=ssh is not supported yet'* ]]
}

@test "build: RUN --network=none has only loopback, host shares the host's, default has its own" {
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1
RUN --network=none readlink /proc/self/ns/net > /none && ls /sys/class/net > /ifs && cat /sys/class/net/lo/operstate > /lo
RUN --network=host readlink /proc/self/ns/net > /host
RUN --network=default readlink /proc/self/ns/net > /default
EOF
	run -0 kiln build -q -t net:1 "$CTX"
	hostns=$(readlink /proc/self/ns/net)
	run -0 --separate-stderr kiln run --rm net:1 cat /none /ifs /host /default /lo
	[ "${lines[0]}" != "$hostns" ]
	[ "${lines[1]}" = lo ]
	[ "${lines[2]}" = "$hostns" ]
	# default: a namespace of its own on kiln's bridge (build-net.bats)
	[ "${lines[3]}" != "$hostns" ]
	[ "${lines[3]}" != "${lines[0]}" ]
	[ "${lines[4]}" != down ]
	printf 'FROM bb:1\nRUN --network=bridge true\n' > "$CTX/Dockerfile"
	run -1 kiln build -q "$CTX"
	[[ "$output" == *'Dockerfile:2: '*'expected none, host or default'* ]]
}

@test "build: RUN --mount leaves no mount points in the layer (the empty tar's diff_id)" {
	echo s > "$BATS_TEST_TMPDIR/s.txt"
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1
RUN --mount=type=cache,target=/var/cache/app --mount=type=secret,id=s --mount=type=tmpfs,target=/etc/x/y \
	--mount=type=bind,source=a.txt,target=/new/dir/a.txt --mount=type=bind,target=/tmp/ctx true
EOF
	run -0 kiln build -q --secret id=s,src="$BATS_TEST_TMPDIR/s.txt" -t empty:1 "$CTX"
	run -0 kiln inspect --format '{{json .RootFS.Layers}}' empty:1
	# the diff_id of an empty layer tar, as BuildKit's for such a RUN
	[[ "$output" == *',"sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"]' ]]
}

# ---- the build cache ----

cache_dockerfile() {
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
ARG V=one
ENV E=1
WORKDIR /app
COPY a.txt /app/
RUN echo "$V" > /app/v && cat /app/a.txt > /app/copy
COPY sub /app/sub
RUN ls /app > /app/list
CMD ["cat", "/app/v"]
EOF2
}

@test "build cache: an unchanged rebuild is all CACHED with the same image ID; mtimes do not count" {
	cache_dockerfile
	run -0 kiln build -t c:1 "$CTX"
	[[ "$output" != *CACHED* ]]
	id1="${lines[-1]}"
	run -0 kiln build -t c:1 "$CTX"
	id2="${lines[-1]}"
	[ "$id1" = "$id2" ]
	# every step after FROM says CACHED
	[ "$(grep -c ' CACHED$' <<<"$output")" -eq 8 ]
	touch -d '2001-01-01' "$CTX/a.txt" "$CTX/sub/s.txt" "$CTX/sub"
	run -0 kiln build -t c:1 "$CTX"
	[ "$(grep -c ' CACHED$' <<<"$output")" -eq 8 ]
	[ "${lines[-1]}" = "$id1" ]
	run -0 kiln run --rm c:1
	[ "$output" = one ]
	run -0 kiln fsck
}

@test "build cache: a changed COPY source reruns that step and the later ones only" {
	cache_dockerfile
	run -0 kiln build -t c:1 "$CTX"
	echo changed > "$CTX/sub/s.txt"
	run -0 kiln build -t c:2 "$CTX"
	[[ "$output" == *'COPY a.txt /app/ CACHED'* ]]
	[[ "$output" == *'RUN echo "$V" > /app/v && cat /app/a.txt > /app/copy CACHED'* ]]
	[[ "$output" != *'COPY sub /app/sub CACHED'* ]]
	[[ "$output" != *'RUN ls /app > /app/list CACHED'* ]]
	[[ "$output" != *'CMD ["cat", "/app/v"] CACHED'* ]]
	run -0 kiln run --rm --entrypoint cat c:2 /app/sub/s.txt
	[ "$output" = changed ]
	# a changed file the first COPY reads reruns from there
	echo other > "$CTX/a.txt"
	run -0 kiln build -t c:3 "$CTX"
	[[ "$output" == *'WORKDIR /app CACHED'* ]]
	[[ "$output" != *'COPY a.txt /app/ CACHED'* ]]
	run -0 kiln run --rm --entrypoint cat c:3 /app/copy
	[ "$output" = other ]
}

@test "build cache: a changed --build-arg misses the RUN that sees it; --no-cache runs everything" {
	cache_dockerfile
	run -0 kiln build -t c:1 "$CTX"
	run -0 kiln build --build-arg V=two -t c:2 "$CTX"
	[[ "$output" == *'COPY a.txt /app/ CACHED'* ]]
	[[ "$output" != *'RUN echo "$V" > /app/v && cat /app/a.txt > /app/copy CACHED'* ]]
	run -0 kiln run --rm c:2
	[ "$output" = two ]
	run -0 kiln build --build-arg V=two -t c:2 "$CTX"
	[ "$(grep -c ' CACHED$' <<<"$output")" -eq 8 ]
	run -0 kiln build --no-cache -t c:3 "$CTX"
	[[ "$output" != *CACHED* ]]
	run -0 kiln run --rm c:3
	[ "$output" = one ]
	run -0 kiln fsck
}

@test "build cache: multi-stage, the cache is in the store, builder prune removes it, gc keeps it" {
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1 AS build
RUN echo built > /out && echo x > /junk
FROM bb:1
COPY --from=build /out /out
EOF2
	run -0 kiln build -t m:1 "$CTX"
	id1="${lines[-1]}"
	# gc keeps the cached layers, also those of the build stage no image uses
	run -0 kiln rmi m:1
	run -0 kiln system prune -f
	run -0 kiln build -t m:1 "$CTX"
	[[ "$output" == *'RUN echo built > /out && echo x > /junk CACHED'* ]]
	[[ "$output" == *'COPY --from=build /out /out CACHED'* ]]
	[ "${lines[-1]}" = "$id1" ]
	run -0 kiln run --rm --entrypoint cat m:1 /out
	[ "$output" = built ]
	run -0 kiln fsck
	# without -a only entries no image uses go (the build stage's RUN)
	run -0 kiln builder prune -f
	[[ "$output" == *'Deleted build cache entries: 1'* ]]
	[[ "$output" == *'Total reclaimed space: '* ]]
	[[ "$output" != *'Total reclaimed space: 0B'* ]]
	run -0 kiln builder prune -a -f
	[[ "$output" == *'Total reclaimed space: '* ]]
	run -0 kiln fsck
	run -0 kiln build -t m:1 "$CTX"
	[[ "$output" != *CACHED* ]]
	run -0 kiln fsck
	run -0 kiln run --rm --entrypoint cat m:1 /out
	[ "$output" = built ]
}

@test "build cache: a failed build records nothing" {
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
RUN echo one > /one
RUN false
EOF2
	run -1 kiln build -t f:1 "$CTX"
	run -1 kiln build -t f:1 "$CTX"
	[[ "$output" != *CACHED* ]]
	run -0 kiln fsck
}

@test "build cache: the content of a RUN bind mount from the context is part of the key" {
	echo one > "$CTX/f"
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
RUN --mount=type=bind,source=f,target=/m cat /m > /out
EOF2
	run -0 kiln build -t bm:1 "$CTX"
	run -0 kiln build -t bm:1 "$CTX"
	[[ "$output" == *"RUN --mount"*CACHED* ]]
	echo two > "$CTX/f"
	run -0 kiln build -t bm:1 "$CTX"
	[[ "$output" != *"RUN --mount"*CACHED* ]]
	run -0 kiln run --rm bm:1 cat /out
	[ "$output" = two ]
}

@test "build: ADD extracts local tar archives (detected by content) into the destination" {
	mkdir -p "$BATS_TEST_TMPDIR/t/d"
	echo in-tar > "$BATS_TEST_TMPDIR/t/d/f"
	tar -C "$BATS_TEST_TMPDIR/t" --owner=7 --group=8 -cf "$CTX/plain.tar" d
	for c in gzip bzip2 xz zstd; do
		$c -c < "$CTX/plain.tar" > "$CTX/a.$c"
	done
	cp "$CTX/a.gzip" "$CTX/noext"                 # by content, not by name
	echo "not a tar" | gzip > "$CTX/fake.tar.gz"  # not a tar: copied as a file
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
ADD plain.tar /x/plain
ADD a.gzip a.bzip2 /x/many/
ADD a.xz /x/xz
ADD a.zstd /etc/
ADD noext /x/noext
ADD --chown=3:4 plain.tar /x/owned
ADD fake.tar.gz /x/fake/
EOF2
	run -0 kiln build -q -t add:1 "$CTX"
	run -0 kiln run --rm add:1 sh -c 'cat /x/plain/d/f /x/many/d/f /x/xz/d/f /etc/d/f /x/noext/d/f
		stat -c "%u:%g" /x/plain/d/f /x/owned/d/f /x/owned/d; test -f /etc/passwd && echo merged
		gunzip -c /x/fake/fake.tar.gz'
	[ "${lines[0]}" = in-tar ]
	[ "${lines[4]}" = in-tar ]
	[ "${lines[5]}" = "7:8" ]
	[ "${lines[6]}" = "3:4" ]
	[ "${lines[7]}" = "3:4" ]
	[ "${lines[8]}" = merged ]
	[ "${lines[9]}" = "not a tar" ]
}

@test "build: ADD refuses an archive entry that leaves the destination, stores nothing" {
	python3 - "$CTX/evil.tar" <<'EOF2'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    i = tarfile.TarInfo("../../evil"); data = b"x\n"; i.size = len(data)
    t.addfile(i, io.BytesIO(data))
EOF2
	kiln run --rm bb:1 true   # base layers unpacked
	printf 'FROM bb:1\nADD evil.tar /x/\n' > "$CTX/Dockerfile"
	before=$(store_state)
	run -1 kiln build -q -t evil:1 "$CTX"
	[[ "$output" == *'Dockerfile:2: ADD evil.tar /x/: evil.tar: '*'leaves the root'* ]]
	[ "$(store_state)" = "$before" ]
}

@test "build: RUN heredocs (script through SHELL, shebang, several, <<-, quoted delimiter)" {
	printf 'FROM bb:1\nENV V=val\n' > "$CTX/Dockerfile"
	cat >> "$CTX/Dockerfile" <<'EOF2'
RUN <<EOF
echo one > /r1
echo "$V $0" >> /r1
EOF
RUN <<EOF
#!/bin/sh
echo "script $0" > /r2
EOF
RUN cat <<A > /r3 && cat <<-B >> /r3 && cat <<'C' >> /r3
a $V
A
		b $V
	B
c $V
C
EOF2
	run -0 kiln build -q -t hd:1 "$CTX"
	run -0 kiln run --rm hd:1 cat /r1 /r2 /r3
	[ "${lines[0]}" = one ]
	[ "${lines[1]}" = "val /bin/sh" ]
	[ "${lines[2]}" = "script /dev/pipes/EOF" ]
	[ "${lines[3]}" = "a val" ]
	[ "${lines[4]}" = "b val" ]
	[ "${lines[5]}" = 'c $V' ]
	[ -z "$(kiln run --rm hd:1 sh -c 'ls /dev/pipes 2>/dev/null')" ]
}

@test "build: COPY heredocs (files 0644, expansion unless quoted, several into a dir)" {
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
ARG W=world
COPY <<EOF /hello
hello $W
EOF
COPY <<A <<'B' /d/
a $W
A
b $W
B
COPY --chown=5:6 --chmod=600 <<EOF /owned
x
EOF
EOF2
	run -0 kiln build -q -t chd:1 "$CTX"
	run -0 kiln run --rm chd:1 sh -c 'cat /hello /d/A /d/B; stat -c "%a %u:%g" /hello /d/A /owned'
	[ "${lines[0]}" = "hello world" ]
	[ "${lines[1]}" = "a world" ]
	[ "${lines[2]}" = 'b $W' ]
	[ "${lines[3]}" = "644 0:0" ]
	[ "${lines[4]}" = "644 0:0" ]
	[ "${lines[5]}" = "600 5:6" ]
	printf 'FROM bb:1\nCOPY <<A <<B /d\na\nA\nb\nB\n' > "$CTX/Dockerfile"
	run -1 kiln build -q "$CTX"
	[[ "$output" == *'Dockerfile:2: COPY <<A <<B /d: When using COPY with more than one source file, the destination must be a directory and end with a /'* ]]
}

@test "build: ONBUILD triggers fire after a later FROM, in order, and are not kept" {
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
ENV E=base
ONBUILD ENV T=trig
ONBUILD RUN echo "$E $T" > /ob
ONBUILD COPY a.txt /ob-a
ONBUILD RUN <<EOF
echo heredoc >> /ob
EOF
EOF2
	run -0 kiln build -q --format docker -t obbase:1 "$CTX"
	[[ "$(cfg OnBuild obbase:1)" == '["ENV T=trig","RUN echo \"$E $T\" > /ob","COPY a.txt /ob-a",'* ]]
	run -0 kiln run --rm obbase:1 sh -c 'ls /ob 2>&1; true'
	[[ "$output" == *'No such file'* ]]
	printf 'FROM obbase:1\nRUN cat /ob /ob-a > /res\n' > "$CTX/Dockerfile"
	run -0 kiln build -t obchild:1 "$CTX"
	[[ "$output" == *'ONBUILD RUN echo "$E $T" > /ob'* ]]
	run -0 kiln run --rm obchild:1 cat /res
	[ "$output" = "base trig
heredoc
hello" ]
	[ "$(cfg OnBuild obchild:1)" = null ]
	[ "$(cfg Env obchild:1)" = "$(cfg Env obbase:1 | sed 's/]$/,"T=trig"]/')" ]
}

@test "build: a failing ONBUILD trigger names the FROM line, stores nothing" {
	printf 'FROM bb:1\nONBUILD RUN exit 4\n' > "$CTX/Dockerfile"
	kiln build -q --format docker -t obfail:1 "$CTX"
	kiln run --rm bb:1 true   # base layers unpacked
	printf '# c\nFROM obfail:1\nRUN true\n' > "$CTX/Dockerfile"
	before=$(store_state)
	run -1 kiln build -q -t obfail:2 "$CTX"
	[[ "$output" == *'Dockerfile:2: FROM obfail:1: ONBUILD RUN exit 4: '*'exit code: 4'* ]]
	[ "$(store_state)" = "$before" ]
}

@test "build: --format oci drops HEALTHCHECK, SHELL, ONBUILD (buildah's warnings); docker keeps them" {
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
SHELL ["/bin/sh", "-ec"]
HEALTHCHECK --interval=5s CMD true
ONBUILD RUN true
RUN echo "$0 $-" > /shell
EOF2
	run -0 kiln build -t fmt:oci "$CTX"
	[[ "$output" == *'HEALTHCHECK is not supported for OCI image format and will be ignored. Must use `docker` format'* ]]
	[[ "$output" == *'SHELL is not supported for OCI image format, [/bin/sh -ec] will be ignored. Must use `docker` format'* ]]
	[[ "$output" == *'ONBUILD is not supported for OCI image format, RUN true will be ignored. Must use `docker` format'* ]]
	[ "$(cfg Healthcheck fmt:oci)" = null ]
	[ "$(cfg Shell fmt:oci)" = null ]
	[ "$(cfg OnBuild fmt:oci)" = null ]
	run -0 kiln run --rm fmt:oci cat /shell
	[[ "$output" == "/bin/sh "*e* ]]     # SHELL still applies to the build
	run -0 kiln build -q --format docker -t fmt:docker "$CTX"
	[ "$(cfg Shell fmt:docker)" = '["/bin/sh","-ec"]' ]
	[ "$(cfg OnBuild fmt:docker)" = '["RUN true"]' ]
	[[ "$(cfg Healthcheck fmt:docker)" == *'"Test":["CMD-SHELL","true"]'* ]]
	run -0 kiln inspect --format '{{.ManifestMediaType}}' fmt:docker
	[ "$output" = application/vnd.docker.distribution.manifest.v2+json ]
	run -0 kiln inspect --format '{{.ManifestMediaType}}' fmt:oci
	[ "$output" = application/vnd.oci.image.manifest.v1+json ]
	run -125 kiln build -q --format v2s2 "$CTX"
	[[ "$output" == *'--format v2s2: expected oci or docker'* ]]
}

@test "build: SOURCE_DATE_EPOCH / --source-date-epoch give byte-identical images" {
	mkdir -p "$BATS_TEST_TMPDIR/t/d" && echo t > "$BATS_TEST_TMPDIR/t/d/f"
	tar -C "$BATS_TEST_TMPDIR/t" -czf "$CTX/t.tgz" d
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
ENV A=b
WORKDIR /w
RUN echo run > /w/r && mkdir -p /new/dir && echo x > /new/dir/now
COPY a.txt sub /c/
ADD t.tgz /x/
COPY <<EOF /h
heredoc
EOF
EOF2
	run -0 env SOURCE_DATE_EPOCH=1700000000 "$KILN" build -q -t rep:1 "$CTX"
	id1=$output
	sleep 1.1
	run -0 env SOURCE_DATE_EPOCH=1700000000 "$KILN" build -q -t rep:2 "$CTX"
	[ "$output" = "$id1" ]
	run -0 kiln build -q --source-date-epoch 1700000000 -t rep:3 "$CTX"
	[ "$output" = "$id1" ]
	# every step run again (not from the cache), and after the cache is pruned
	run -0 kiln build -q --no-cache --source-date-epoch 1700000000 "$CTX"
	[ "$output" = "$id1" ]
	run -0 kiln builder prune -a -f
	run -0 kiln build -q --source-date-epoch 1700000000 "$CTX"
	[ "$output" = "$id1" ]
	[ "$(kiln inspect --format '{{.Id}}' rep:2)" = "$id1" ]
	[ "$(kiln inspect --format '{{.Created}}' rep:1)" = "2023-11-14T22:13:20Z" ] ||
		[[ "$(kiln inspect --format '{{.Created}}' rep:1)" == 2023-11-14*22:13:20* ]]
	run -0 kiln run --rm rep:1 stat -c %Y /new/dir/now /new/dir /w/r
	[ "$output" = "1700000000
1700000000
1700000000" ]
	# without it the times are now's: another ID
	run -0 kiln build -q -t rep:4 "$CTX"
	[ "$output" != "$id1" ]
	run -125 kiln build -q --source-date-epoch soon "$CTX"
	[[ "$output" == *'--source-date-epoch soon: expected a number of seconds since 1970'* ]]
}

@test "build --compression: new layers are uncompressed tars by default, gzip and zstd on request; a bad one is one line" {
	printf 'FROM bb:1\nRUN echo z > /z\n' > "$CTX/Dockerfile"
	run -0 kiln build -q --no-cache --compression zstd -t cz:1 "$CTX"
	run -0 kiln build -q --no-cache --compression gzip -t cg:1 "$CTX"
	run -0 kiln build -q --no-cache -t cn:1 "$CTX"
	for t in cz cg cn; do
		run -0 kiln run --rm $t:1 cat /z
		[ "$output" = z ]
	done
	# the base's layer keeps its own type; the new one is as asked
	run -0 kiln inspect --format '{{json .Layers}}' cz:1
	[[ "$output" == *'"application/vnd.oci.image.layer.v1.tar+zstd"'* ]]
	run -0 kiln inspect --format '{{json .Layers}}' cg:1
	[[ "$output" == *'"application/vnd.oci.image.layer.v1.tar+gzip"'* ]]
	run -0 kiln inspect --format '{{json .Layers}}' cn:1
	[[ "$output" == *'"application/vnd.oci.image.layer.v1.tar"'* ]]
	# uncompressed, the blob is the tar: its digest is the diff_id
	digest=$(kiln inspect --format '{{json .Layers}}' cn:1 | grep -o 'sha256:[0-9a-f]*' | tail -1)
	diffid=$(kiln inspect --format '{{json .RootFS.Layers}}' cn:1 | grep -o 'sha256:[0-9a-f]*' | tail -1)
	[ "$digest" = "$diffid" ]
	tar -tf "$KILN_ROOT/oci/blobs/sha256/${digest#sha256:}" | grep -qx z
	run -125 kiln build -q --compression lz4 "$CTX"
	[[ "$output" == *"invalid --compression 'lz4'"* ]]
}

@test "build cache: a file rewritten with the same size and mtime is still seen as changed" {
	echo aaaa > "$CTX/same.txt"
	printf 'FROM bb:1\nCOPY same.txt /same.txt\n' > "$CTX/Dockerfile"
	run -0 kiln build -q -t same:1 "$CTX"
	touch -r "$CTX/same.txt" "$BATS_TEST_TMPDIR/stamp"
	echo bbbb > "$CTX/same.txt"
	touch -r "$BATS_TEST_TMPDIR/stamp" "$CTX/same.txt"
	run -0 kiln build -t same:1 "$CTX"
	[[ "$output" != *"COPY same.txt /same.txt CACHED"* ]]
	run -0 kiln run --rm same:1 cat /same.txt
	[ "$output" = bbbb ]
	# unchanged: from the cache, without reading the file again
	run -0 kiln build -t same:1 "$CTX"
	[[ "$output" == *"COPY same.txt /same.txt CACHED"* ]]
	[ -f "$KILN_ROOT/build-checksums.json" ]
}

@test "build: concurrent builds on one store all succeed, share the cache, and leave it consistent" {
	# (the loops use k: bats 1.8's run clobbers a global i)
	for k in 1 2 3; do
		mkdir -p "$CTX/c$k"
		echo "file $k" > "$CTX/c$k/f"
		cat > "$CTX/c$k/Dockerfile" <<EOF2
FROM bb:1
RUN echo common > /common
COPY f /f
RUN cat /f > /copy && echo $k > /which
EOF2
	done
	# three different builds and two of the same one, all at once
	pids=()
	for k in 1 2 3; do
		"$KILN" build -q --source-date-epoch 1700000000 -t conc:$k "$CTX/c$k" > "$BATS_TEST_TMPDIR/out.$k" 2>&1 &
		pids+=($!)
	done
	"$KILN" build -q --source-date-epoch 1700000000 -t conc:1b "$CTX/c1" > "$BATS_TEST_TMPDIR/out.1b" 2>&1 &
	pids+=($!)
	for p in "${pids[@]}"; do
		wait "$p" || { cat "$BATS_TEST_TMPDIR"/out.*; false; }
	done
	for k in 1 2 3; do
		run -0 kiln run --rm --network none conc:$k cat /common /copy /which
		[ "$output" = "common
file $k
$k" ]
	done
	[ "$(kiln inspect --format '{{.Id}}' conc:1)" = "$(kiln inspect --format '{{.Id}}' conc:1b)" ]
	run -0 kiln fsck
	# a rebuild of each is fully cached
	for k in 1 2 3; do
		run -0 kiln build --progress plain --source-date-epoch 1700000000 -t conc:$k "$CTX/c$k"
		[ "$(grep -c CACHED <<<"$output")" -eq 3 ]
	done
}

@test "build: a base image not in the store is one line; --pull=missing|never build from the store, pulling is refused" {
	printf 'FROM nothere:1\nRUN true\n' > "$CTX/Dockerfile"
	before=$(store_state)
	run -1 --separate-stderr kiln build -q "$CTX"
	[ "$stderr" = "Error: Dockerfile:1: FROM nothere:1: no such image: nothere:1 (kiln does not pull images yet: kiln import or kiln build it first)" ]
	[ "$(store_state)" = "$before" ]
	printf 'FROM bb:1\nRUN true\n' > "$CTX/Dockerfile"
	run -0 kiln build -q --pull=missing "$CTX"
	run -0 kiln build -q --pull=never "$CTX"
	for p in --pull --pull=always --pull=true --pull=newer; do
		run -125 --separate-stderr kiln build -q "$p" "$CTX"
		[[ "${stderr_lines[0]}" == "Error: --pull"*": kiln does not pull images yet"* ]]
	done
	run -125 --separate-stderr kiln build -q --pull=sometimes "$CTX"
	[ "${stderr_lines[0]}" = "Error: invalid --pull 'sometimes': expected always, missing, never or newer" ]
}

@test "build: Ctrl-C or SIGTERM during a RUN ends the build at once (the command's PID 1 ignores them), stores nothing" {
	printf 'FROM bb:1\nRUN echo started; sleep 60\n' > "$CTX/Dockerfile"
	kiln run --rm --network none bb:1 true # the base's layers unpacked, as the build does
	before=$(store_state)
	for sig in INT TERM; do
		# python starts kiln with SIGINT at its default (bash's background jobs ignore it)
		run python3 - "$sig" "$KILN" "$CTX" <<'PY'
import signal, subprocess, sys, time
sig, kiln, ctx = sys.argv[1:]
p = subprocess.Popen([kiln, "build", "--progress", "plain", "-t", "intr:1", ctx],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
out = b""
t = time.time()
while b"#2 started" not in out and time.time() - t < 30:
    out += p.stdout.read1(4096)
p.send_signal(getattr(signal, "SIG" + sig))
out += p.communicate(timeout=20)[0]
print(out.decode(), end="")
print("rc=%d elapsed=%d" % (p.returncode, time.time() - t))
PY
		[ "$status" -eq 0 ]
		[[ "$output" == *"rc=1 elapsed="* ]]
		elapsed=${output##*elapsed=}
		[ "$elapsed" -lt 20 ]
		[[ "$output" == *"Error: Dockerfile:2: RUN echo started; sleep 60: interrupted by "* ]]
		run kiln inspect intr:1
		[ "$status" -ne 0 ]
	done
	[ "$(store_state)" = "$before" ]
	# no container state (the runtime's seccomp cache aside), no mount left
	[ -z "$(ls "$KILN_RUNTIME_ROOT" 2>/dev/null)" ]
	! grep -q "$KILN_ROOT" /proc/self/mountinfo
}
