#!/usr/bin/env bats
# kiln build: stages that do not need each other are built at once (--jobs).

bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_store
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	import_busybox bb:1 >/dev/null
	CTX="$BATS_TEST_TMPDIR/ctx"
	mkdir -p "$CTX"
}

teardown() {
	remove_containers
}

# A free TCP port on 127.0.0.1 (RUN --network=host shares the host's).
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	return 1
}

# Nothing of a build is left: no RUN container, no mount, no temp dir.
nothing_left() {
	[ -z "$(find "$KILN_RUNTIME_ROOT" -mindepth 1 -maxdepth 1 ! -name .seccomp-cache 2>/dev/null)" ]
	[ "$(grep -c " $KILN_ROOT/" /proc/mounts)" -eq 0 ]
	[ -z "$(find "$KILN_ROOT/tmp" -mindepth 1 -maxdepth 1 -name 'build-*' 2>/dev/null)" ]
}

# A listener and a client in two stages: it builds only when both RUNs run
# at the same time (no timing asserted: with one job the listener gives up).
# The listener reads the line with -e (a plain `nc -l` with stdin at EOF
# half-closes at once, and the client may then quit before it sent).
rendezvous_dockerfile() {
	cat > "$CTX/Dockerfile" <<'EOF'
ARG PORT
FROM bb:1 AS server
ARG PORT
RUN --network=host timeout 15 nc -l -p "$PORT" -e sh -c 'read l && echo "$l" > /got' && grep -q hello /got
FROM bb:1 AS client
ARG PORT
RUN --network=host i=0; until echo hello | nc 127.0.0.1 "$PORT"; do \
	i=$((i+1)); [ $i -lt 150 ] || exit 1; sleep 0.1; done
FROM bb:1
COPY --from=server /got /got
COPY --from=client /etc/hostname /client
EOF
}

@test "build --jobs: independent stages run at the same time (a listener and its client meet)" {
	rendezvous_dockerfile
	port=$(free_port)
	run --separate-stderr timeout 120 "$KILN" build --build-arg PORT="$port" -t meet:1 "$CTX"
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	# progress lines stay whole while stages write between each other's
	# (a step line, its DONE line, or a line of a RUN's output: "#N text"),
	# never two steps' lines run together
	for line in "${stderr_lines[@]}"; do
		if [[ "$line" == \#* ]]; then
			[[ "$line" =~ ^\#[0-9]+\  ]]
			[[ ! "${line#\#}" =~ \#[0-9]+\ \[(server|client|stage-2)\  ]]
			[[ ! "$line" =~ DONE\ [0-9]+\.[0-9]s.*DONE ]]
		fi
	done
	[[ "$stderr" =~ \#[0-9]+\ \[server\ 2/3\]\  ]]
	[[ "$stderr" =~ \#[0-9]+\ \[client\ 2/3\]\  ]]
	run -0 kiln run --rm meet:1 cat /got
	[ "$output" = hello ]
	nothing_left
}

@test "build --jobs 1: one stage after the other, so the listener and its client never meet" {
	rendezvous_dockerfile
	port=$(free_port)
	run -1 timeout 120 "$KILN" build --jobs 1 --build-arg PORT="$port" -t meet:1 "$CTX"
	[[ "$output" == *'Dockerfile:4: RUN --network=host timeout 15 nc'* ]]
	[[ "$output" == *'did not complete successfully'* ]]
	# the order of today: the target's FROM, then each stage it needs in turn
	[[ "$output" == *'#1 [stage-2 1/3] FROM bb:1'* ]]
	[[ "$output" == *'#2 [server 1/3] FROM bb:1'* ]]
	[[ "$output" != *'[client '* ]]
	run -1 kiln inspect meet:1
	nothing_left
}

@test "build --jobs: the image ID does not depend on how many stages ran at once" {
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1 AS one
RUN sleep 1; echo one > /one; mkdir /d && echo x > /d/x
FROM bb:1 AS two
RUN echo two > /two
FROM bb:1
COPY --from=one /one /d /out/
COPY --from=two /two /out/
RUN cat /out/one /out/two /out/x > /out/all
CMD ["cat", "/out/all"]
EOF
	export SOURCE_DATE_EPOCH=1700000000
	run -0 kiln build -q --no-cache --jobs 1 "$CTX"
	serial=$output
	run -0 kiln build -q --no-cache "$CTX"
	[ "$output" = "$serial" ]
	run -0 kiln build -q --no-cache --jobs 0 -t det:1 "$CTX"
	[ "$output" = "$serial" ]
	run -0 kiln run --rm det:1
	[ "$output" = "$(printf 'one\ntwo\nx')" ]
	# fully cached: every step CACHED, the same ID
	run -0 --separate-stderr kiln build "$CTX"
	[ "$output" = "$serial" ]
	[[ "$stderr" == *'RUN echo two > /two CACHED'* ]]
	[[ "$stderr" == *'RUN cat /out/one /out/two /out/x > /out/all CACHED'* ]]
}

@test "build --jobs: a failing stage stops its sibling at once, kills its RUN, stores nothing" {
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1 AS slow
RUN sleep 47
RUN echo never > /never
FROM bb:1 AS bad
RUN sleep 1; echo failing; exit 3
FROM bb:1
COPY --from=slow /etc/hostname /a
COPY --from=bad /etc/hostname /b
EOF
	kiln run --rm bb:1 true   # base layers unpacked (a cache, as kiln run does)
	before=$(store_state)
	start=$(date +%s)
	run -1 timeout 60 "$KILN" build -t fail:1 "$CTX"
	end=$(date +%s)
	[ $((end - start)) -lt 20 ]
	# the failing stage's error, not the killed sibling's
	[[ "$output" == *'Error: Dockerfile:5: RUN sleep 1; echo failing; exit 3: process "/bin/sh -c sleep 1; echo failing; exit 3" did not complete successfully: exit code: 3'* ]]
	[[ "$output" == *failing* ]]
	[[ "$output" != *'RUN echo never'* ]]
	[[ "$output" != *'exit code: 137'* ]]
	[ "$(store_state)" = "$before" ]
	nothing_left
	# the sibling's container process is gone
	[ "$(ps -eo args= | grep -cx 'sleep 47')" -eq 0 ]
}

@test "build --jobs: SIGTERM stops the stages, kills their RUNs and cleans up" {
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1 AS a
RUN sleep 48
FROM bb:1 AS b
RUN sleep 48
FROM bb:1
COPY --from=a /etc/hostname /a
COPY --from=b /etc/hostname /b
EOF
	kiln run --rm bb:1 true
	before=$(store_state)
	"$KILN" build -t term:1 "$CTX" 2> "$BATS_TEST_TMPDIR/err" &
	pid=$!
	# both RUNs started
	for _ in $(seq 100); do
		[ "$(grep -c 'RUN sleep 48' "$BATS_TEST_TMPDIR/err")" -eq 2 ] && break
		sleep 0.1
	done
	sleep 0.5
	start=$(date +%s)
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	end=$(date +%s)
	[ "$rc" -eq 1 ]
	[ $((end - start)) -lt 20 ]
	grep -q 'Error: build interrupted by Terminated' "$BATS_TEST_TMPDIR/err"
	[ "$(store_state)" = "$before" ]
	nothing_left
	[ "$(ps -eo args= | grep -cx 'sleep 48')" -eq 0 ]
}

@test "build --jobs: only the stages the target needs, each once" {
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1 AS base
RUN echo base >> /log
FROM base AS a
RUN echo a >> /log
FROM bb:1 AS unused
RUN exit 1
FROM base AS b
RUN echo b >> /log
FROM bb:1
COPY --from=a /log /a.log
COPY --from=b /log /b.log
EOF
	run -0 --separate-stderr kiln build -t needed:1 "$CTX"
	[[ "$stderr" != *'[unused '* ]]
	[ "$(grep -c '\[base 2/2\] RUN' <<<"$stderr")" -eq 1 ]
	run -0 kiln run --rm needed:1 cat /a.log /b.log
	[ "$output" = "$(printf 'base\na\nbase\nb')" ]
}

@test "build --jobs: a stage named through a base image's ENV is waited for, or built when reached" {
	# the graph cannot see RUN --mount from=\$SRC when SRC is the base image's ENV
	printf 'FROM bb:1\nENV SRC=hidden\n' > "$CTX/Dockerfile"
	kiln build -q -t envbase:1 "$CTX"
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1 AS hidden
RUN sleep 1; echo hidden > /h
FROM bb:1 AS a
COPY --from=hidden /h /h
FROM envbase:1 AS c
RUN --mount=from=$SRC,target=/m cat /m/h > /c
FROM bb:1
COPY --from=a /h /a
COPY --from=c /c /c
EOF
	run -0 --separate-stderr kiln build -t hidden:1 "$CTX"
	[ "$(grep -c '\[hidden 2/2\] RUN' <<<"$stderr")" -eq 1 ]
	run -0 kiln run --rm hidden:1 cat /a /c
	[ "$output" = "$(printf 'hidden\nhidden')" ]
	# not needed by anything the graph sees: built by the stage that reaches it
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1 AS hidden
RUN echo hidden2 > /h
FROM bb:1 AS a
RUN echo a > /a
FROM envbase:1 AS c
RUN --mount=from=$SRC,target=/m cat /m/h > /c
FROM bb:1
COPY --from=a /a /a
COPY --from=c /c /c
EOF
	run -0 kiln build -t hidden:2 "$CTX"
	run -0 kiln run --rm hidden:2 cat /c
	[ "$output" = hidden2 ]
}

@test "build --jobs: two stages wait for each other's sharing=locked cache mount without a deadlock" {
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1 AS a
RUN --mount=type=cache,id=shared,target=/c,sharing=locked echo a >> /c/log; sleep 1; cp /c/log /seen
FROM bb:1 AS b
RUN --mount=type=cache,id=shared,target=/c,sharing=locked echo b >> /c/log; sleep 1; cp /c/log /seen
FROM bb:1
COPY --from=a /seen /a
COPY --from=b /seen /b
EOF
	run -0 timeout 60 "$KILN" build -t locked:1 "$CTX"
	# one ran after the other: the second saw the first's line
	run -0 kiln run --rm locked:1 sh -c 'wc -l < /a; wc -l < /b'
	[ "$(sort <<<"$output" | tr '\n' ' ')" = "1 2 " ]
}

@test "build --jobs: RUNs of stages at once each get their own bind and secret mounts" {
	echo ctx-file > "$CTX/f.txt"
	echo s3cret > "$BATS_TEST_TMPDIR/secret"
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1 AS a
RUN --mount=type=bind,source=f.txt,target=/m/f --mount=type=secret,id=s \
	sleep 1; cat /m/f /run/secrets/s > /out
FROM bb:1 AS b
RUN --mount=type=bind,source=f.txt,target=/m/f --mount=type=secret,id=s \
	sleep 1; cat /m/f /run/secrets/s > /out
FROM bb:1
COPY --from=a /out /a
COPY --from=b /out /b
EOF
	run -0 kiln build --secret id=s,src="$BATS_TEST_TMPDIR/secret" -t mounts:1 "$CTX"
	run -0 kiln run --rm mounts:1 cat /a /b
	[ "$output" = "$(printf 'ctx-file\ns3cret\nctx-file\ns3cret')" ]
	nothing_left
}

@test "build --jobs: stages COPY from the context and from each other at once" {
	mkdir -p "$CTX/tree/sub" "$CTX/tree/skip"
	for i in $(seq 300); do echo "f$i" > "$CTX/tree/sub/f$i"; done
	echo no > "$CTX/tree/skip/x"
	printf 'tree/skip\n' > "$CTX/.dockerignore"
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1 AS a
COPY tree /t/
RUN ls /t/sub | wc -l > /count
FROM bb:1 AS b
COPY tree/sub /s/
COPY --exclude=f1* tree/sub /e/
FROM bb:1
COPY --from=a /t /a/
COPY --from=b /s /b/
COPY --from=b /e /e/
COPY --from=a /count /count
EOF
	run -0 kiln build -t copies:1 "$CTX"
	run -0 kiln run --rm copies:1 sh -c 'cat /count; ls /a/sub | wc -l; ls /b | wc -l; ls /e | wc -l; ls /a; cat /b/f300'
	[ "$output" = "$(printf '300\n300\n300\n189\nsub\nf300')" ]
	nothing_left
}

# Wait (up to 5 s) until the host has no link with index $1 (the kernel
# deletes a veth pair in the background once its namespace is gone).
link_gone() {
	for _ in $(seq 50); do
		ip -o link | grep -q "^$1:" || return 0
		sleep 0.1
	done
	return 1
}

@test "build --jobs: RUNs of stages at once on the default network, each its own address, all released" {
	command -v ip >/dev/null && command -v nft >/dev/null || skip "needs iproute2 and nftables"
	leases=/run/kiln/network/kiln0/leases
	cat > "$CTX/Dockerfile" <<'EOF'
FROM bb:1 AS a
RUN ip -o -4 addr show eth0 > /addr; ip -o link show eth0 > /link; sleep 2
FROM bb:1 AS b
RUN ip -o -4 addr show eth0 > /addr; ip -o link show eth0 > /link; sleep 2
FROM bb:1
COPY --from=a /addr /a.addr
COPY --from=a /link /a.link
COPY --from=b /addr /b.addr
COPY --from=b /link /b.link
EOF
	run -0 kiln build -t nets:1 "$CTX"
	[[ "$output" == *'Warning'* ]] && skip "no bridge here: $output"
	run -0 kiln run --rm --network none nets:1 cat /a.addr /b.addr /a.link /b.link
	a=$(echo "${lines[0]}" | sed 's|.*inet \([0-9.]*\)/.*|\1|')
	b=$(echo "${lines[1]}" | sed 's|.*inet \([0-9.]*\)/.*|\1|')
	[[ "$a" == 10.88.* && "$b" == 10.88.* && "$a" != "$b" ]]
	for l in "${lines[2]}" "${lines[3]}"; do
		link_gone "$(echo "$l" | sed 's|.*eth0@if\([0-9]*\):.*|\1|')"
	done
	[ "$(grep -c -e "\"$a\"" -e "\"$b\"" "$leases" 2>/dev/null)" = 0 ]
	# a stage killed because another failed gives its address and veth back
	printf 'FROM bb:1 AS bad\nRUN ip -o -4 addr show eth0; ip -o link show eth0; sleep 47\nFROM bb:1 AS worse\nRUN sleep 3; exit 4\nFROM bb:1\nCOPY --from=bad /etc/hostname /x\nCOPY --from=worse /etc/hostname /y\n' > "$CTX/Dockerfile"
	start=$SECONDS
	run -1 timeout 60 "$KILN" build -t nets:2 "$CTX"
	[ $((SECONDS - start)) -lt 20 ]
	[[ "$output" == *'Dockerfile:4: RUN sleep 3; exit 4'* ]]
	addr=$(grep -o 'inet 10\.88\.[0-9.]*' <<<"$output" | head -1 | cut -d' ' -f2)
	peer=$(grep -o 'eth0@if[0-9]*' <<<"$output" | head -1 | sed 's/eth0@if//')
	[ -n "$addr" ] && [ -n "$peer" ]
	[ "$(grep -c "\"$addr\"" "$leases" 2>/dev/null)" = 0 ]
	link_gone "$peer"
	nothing_left
}

@test "build --jobs: invalid values are usage errors" {
	echo 'FROM bb:1' > "$CTX/Dockerfile"
	run -125 kiln build --jobs x "$CTX"
	[[ "$output" == *"invalid --jobs 'x'"* ]]
	run -125 kiln build --jobs -1 "$CTX"
	run -0 kiln build -q --jobs 3 "$CTX"
}
