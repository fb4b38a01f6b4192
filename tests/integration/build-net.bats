#!/usr/bin/env bats
# kiln build: RUN's networks (default on kiln's bridge, host, none), the
# predefined platform and proxy ARGs, --platform and FROM --platform.
# Only addresses of namespaces kiln or the test made are ever contacted.

bats_require_minimum_version 1.5.0
load helpers

LEASES=/run/kiln/network/kiln0/leases

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

needs_net_tools() {
	command -v ip >/dev/null || skip "ip (iproute2) is not installed"
	command -v nft >/dev/null || skip "nft (nftables) is not installed"
}

# The files of an image's top layer (its blob, listed with tar).
# (any compression: GNU tar detects it; builds store uncompressed layers by default)
top_layer_files() {
	local m l
	m=$(kiln inspect --format '{{.Digest}}' "$1")
	l=$(jq -r '.layers[-1].digest' "$KILN_ROOT/oci/blobs/sha256/${m#sha256:}")
	tar -tf "$KILN_ROOT/oci/blobs/sha256/${l#sha256:}"
}

# Wait (up to 5 s) until the host has no link with index $1: the kernel
# deletes a veth pair in the background once its namespace is gone.
link_gone() {
	for _ in $(seq 50); do
		ip -o link | grep -q "^$1:" || return 0
		sleep 0.1
	done
	return 1
}

@test "RUN on the default network: eth0 on kiln0, reaches a container by address; lease and veth released" {
	needs_net_tools
	kiln run -d --name web bb:1 sh -c 'mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www'
	ip=$(kiln inspect --format '{{.NetworkSettings.IPAddress}}' web)
	[[ "$ip" == 10.88.* ]]
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
ARG WEB
RUN ip -o -4 addr show eth0 > /addr && ip -o link show eth0 > /link && \
    for i in 1 2 3 4 5 6 7 8 9 10; do \
      printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 "$WEB" 80 | tail -n 1 > /got; grep -q . /got && break; sleep 0.2; \
    done && cat /got
EOF2
	run -0 kiln build --build-arg WEB="$ip" -t net:1 "$CTX"
	[[ "$output" == *hello-from-web* ]]
	run -0 kiln run --rm --network none net:1 cat /addr /link /got
	[[ "${lines[0]}" == *"inet 10.88."* ]]
	addr=$(echo "${lines[0]}" | sed 's|.*inet \([0-9.]*\)/.*|\1|')
	[ "$addr" != "$ip" ]
	[ "${lines[2]}" = hello-from-web ]
	peer=$(echo "${lines[1]}" | sed 's|.*eth0@if\([0-9]*\):.*|\1|')
	# the step's lease is gone, its veth too (the host end's index follows "eth0@if")
	run ! grep -q "\"$addr\"" "$LEASES"
	[ -n "$peer" ]
	link_gone "$peer"
}

@test "RUN on the default network: /etc/hosts and resolv.conf are bind-mounted, never in the layer" {
	needs_net_tools
	printf '192.0.2.7\tcustom-host\n' > "$CTX/hosts"
	printf 'FROM bb:1\nCOPY hosts /etc/hosts\n' > "$CTX/Dockerfile"
	kiln build -q -t withhosts:1 "$CTX" >/dev/null
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM withhosts:1
RUN cat /etc/hosts > /seen-hosts && cat /etc/resolv.conf > /seen-resolv && \
    echo "10.9.9.9 added-by-run" >> /etc/hosts && mkdir -p /d && echo x > /d/f
EOF2
	run -0 kiln build -t hosts:1 "$CTX"
	run -0 top_layer_files hosts:1
	[[ "$output" == *seen-hosts* ]]
	[[ "$output" == *d/f* ]]
	[[ "$output" != *etc* ]]
	# the RUN saw kiln's hosts file (its own address and name), not the image's
	run -0 kiln run --rm --network none hosts:1 cat /seen-hosts
	[[ "$output" == *"127.0.0.1	localhost"* ]]
	[[ "$output" == *"10.88."*"	kiln-build-"* ]]
	[[ "$output" != *custom-host* ]]
	# resolv.conf: the host's, without loopback resolvers
	run -0 kiln run --rm --network none hosts:1 cat /seen-resolv
	grep -v '^nameserver.*\(127\.\|::1\)' /etc/resolv.conf | grep . > "$BATS_TEST_TMPDIR/want" || true
	[ "$output" = "$(cat "$BATS_TEST_TMPDIR/want")" ]
	# an image without the files: their mount points do not stay either
	printf 'FROM bb:1\nRUN --network=none rm /etc/hosts /etc/resolv.conf\nRUN cat /etc/hosts >/dev/null && touch /ran\n' > "$CTX/Dockerfile"
	run -0 kiln build -t nohosts:1 "$CTX"
	run -0 top_layer_files nohosts:1
	[ "$output" = ran ]
	# symlinks are followed inside the root: Ubuntu's dangling
	# /etc/resolv.conf -> ../run/systemd/resolve/stub-resolv.conf, and a
	# hosts link climbing above the root
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
RUN --network=none rm /etc/resolv.conf /etc/hosts && \
    ln -s ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf && \
    ln -s ../../../../../etc/myhosts /etc/hosts
RUN test -f /etc/resolv.conf && grep -q kiln-build- /etc/hosts && touch /ran2
EOF2
	run -0 kiln build -t links:1 "$CTX"
	run -0 top_layer_files links:1
	[ "$output" = ran2 ]
}

@test "RUN --network=host and none, kiln build --network, and the cache key" {
	needs_net_tools
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
RUN --network=none ls /sys/class/net > /none
RUN --network=host readlink /proc/self/ns/net > /host
RUN ls /sys/class/net > /dflt
EOF2
	run -0 kiln build -t modes:1 "$CTX"
	run -0 kiln run --rm --network none modes:1 cat /none
	[ "$output" = lo ]
	hostns=$(readlink /proc/self/ns/net)
	run -0 kiln run --rm --network none modes:1 cat /host
	[ "$output" = "$hostns" ]
	run -0 kiln run --rm --network none modes:1 cat /dflt
	[ "$output" = "$(printf 'eth0\nlo')" ]
	# the build's --network is in the key of the RUN steps that do not say
	run -0 kiln build --network none -t modes:2 "$CTX"
	[[ "$output" == *"RUN --network=none ls /sys/class/net > /none CACHED"* ]]
	[[ "$output" == *"RUN --network=host readlink /proc/self/ns/net > /host CACHED"* ]]
	[[ "$output" != *"RUN ls /sys/class/net > /dflt CACHED"* ]]
	run -0 kiln run --rm --network none modes:2 cat /dflt
	[ "$output" = lo ]
	run -0 kiln build --network host -t modes:3 "$CTX"
	run -0 kiln run --rm --network none modes:3 cat /dflt
	[[ "$output" == *kiln0* ]] # the host's links
	run -0 kiln build --network default -t modes:4 "$CTX"
	[[ "$output" == *"RUN ls /sys/class/net > /dflt CACHED"* ]]
	run -125 kiln build --network bridge "$CTX"
	[[ "$output" == *"--network bridge: expected default, host or none"* ]]
	printf 'FROM bb:1\nRUN --network=bridge true\n' > "$CTX/Dockerfile"
	run -1 kiln build "$CTX"
	[[ "$output" == *"Dockerfile:2: RUN --network=bridge true: RUN --network=bridge: expected none, host or default"* ]]
}

@test "RUN on the default network: a failing or interrupted RUN releases its address and namespace" {
	needs_net_tools
	printf 'FROM bb:1\nRUN ip -o -4 addr show eth0; exit 3\n' > "$CTX/Dockerfile"
	run -1 kiln build "$CTX"
	[[ "$output" == *"exit code: 3"* ]]
	addr=$(echo "$output" | sed -n 's|.*inet \(10\.88\.[0-9.]*\)/.*|\1|p')
	[ -n "$addr" ]
	run ! grep -q "\"$addr\"" "$LEASES"
	# Ctrl-C: kiln build kills the RUN's container, then the step's network
	# is undone before the build fails. (Sent again until kiln exits.)
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
RUN trap 'exit 9' INT; ip -o -4 addr show eth0; sleep 30 & echo ready; wait
EOF2
	# (a background job of a script starts with SIGINT ignored: reset it)
	env --default-signal=INT "$KILN" build "$CTX" > "$BATS_TEST_TMPDIR/out" 2>&1 &
	pid=$!
	for _ in $(seq 100); do grep -q ready "$BATS_TEST_TMPDIR/out" && break; sleep 0.1; done
	grep -q ready "$BATS_TEST_TMPDIR/out"
	for _ in $(seq 50); do
		kill -INT "$pid" 2>/dev/null || break
		sleep 0.3
	done
	st=0
	wait "$pid" || st=$?
	run cat "$BATS_TEST_TMPDIR/out"
	[ "$st" -eq 1 ]
	[[ "$output" == *"interrupted by Interrupt"* ]]
	addr=$(echo "$output" | sed -n 's|.*inet \(10\.88\.[0-9.]*\)/.*|\1|p')
	[ -n "$addr" ]
	run ! grep -q "\"$addr\"" "$LEASES"
}

@test "RUN on the default network falls back to loopback only, with one warning a build" {
	needs_net_tools
	command -v unshare >/dev/null || skip "unshare is not installed"
	printf 'FROM bb:1\nRUN ls /sys/class/net\nRUN ls /sys/class/net\n' > "$CTX/Dockerfile"
	# a network namespace of our own whose only link uses the bridge's subnet
	run unshare -n sh -c '
		ip link add d0 type bridge && ip addr add 10.88.5.1/24 dev d0 && ip link set d0 up &&
		KILN_BRIDGE=kilnfb1 "$0" build "$1"' "$KILN" "$CTX"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'warning: bridge network unavailable' <<<"$output")" -eq 1 ]
	[[ "$output" == *"warning: bridge network unavailable (network: cannot create bridge kilnfb1 with 10.88.0.0/16: the host already uses 10.88.5.1/24 on d0): RUN steps have loopback only"* ]]
	[ "$(grep -cx "#[0-9]* lo" <<<"$output")" -eq 2 ]
	run ! grep -qx "#[0-9]* eth0" <<<"$output"
}

@test "platform ARGs: set in the global scope, in a stage only after ARG NAME" {
	kiln tag bb:1 bb:amd64
	cat > "$CTX/Dockerfile" <<'EOF2'
ARG TARGETARCH
FROM bb:$TARGETARCH AS first
RUN echo "before=[$TARGETPLATFORM]" > /before
ARG TARGETPLATFORM
ARG TARGETOS
ARG TARGETARCH
ARG TARGETVARIANT
ARG BUILDPLATFORM
ARG BUILDOS
ARG BUILDARCH
ARG BUILDVARIANT
RUN echo "$TARGETPLATFORM $TARGETOS $TARGETARCH [$TARGETVARIANT] $BUILDPLATFORM $BUILDOS $BUILDARCH [$BUILDVARIANT]" > /after
FROM --platform=$BUILDPLATFORM bb:1
ARG BUILDARCH=mine
COPY --from=first /before /after /
RUN echo "$BUILDARCH" > /own
EOF2
	run -0 kiln build -t plat:1 "$CTX"
	run -0 kiln run --rm plat:1 cat /before /after /own
	[ "${lines[0]}" = "before=[]" ]
	[ "${lines[1]}" = "linux/amd64 linux amd64 [] linux/amd64 linux amd64 []" ]
	[ "${lines[2]}" = mine ]
	# --build-arg overrides one, as in BuildKit
	printf 'FROM bb:1\nARG TARGETOS\nRUN echo $TARGETOS > /os\n' > "$CTX/Dockerfile"
	run -0 kiln build -t plat:2 --build-arg TARGETOS=other "$CTX"
	run -0 kiln run --rm plat:2 cat /os
	[ "$output" = other ]
}

@test "proxy ARGs reach RUN without ARG, stay out of history and cache key; unused build-args warn" {
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
RUN env | grep -i '_proxy=' | sort > /proxies
EOF2
	run -0 kiln build -t px:1 --build-arg HTTP_PROXY=http://proxy.invalid:3128 \
		--build-arg no_proxy=localhost --build-arg all_proxy=socks5://proxy.invalid "$CTX"
	[[ "$output" != *"not consumed"* ]]
	run -0 kiln run --rm px:1 cat /proxies
	[ "$output" = "$(printf 'HTTP_PROXY=http://proxy.invalid:3128\nall_proxy=socks5://proxy.invalid\nno_proxy=localhost')" ]
	run -0 kiln history --no-trunc px:1
	[[ "$output" != *proxy.invalid* ]]
	run -0 kiln inspect px:1
	[[ "$output" != *proxy.invalid* ]]
	# another proxy value: the same key (a cache hit); declared with ARG it counts
	run -0 kiln build -t px:2 --build-arg HTTP_PROXY=http://other.invalid:1 "$CTX"
	[[ "$output" == *"RUN env | grep -i '_proxy=' | sort > /proxies CACHED"* ]]
	printf 'FROM bb:1\nARG HTTP_PROXY\nRUN echo "$HTTP_PROXY" > /p\n' > "$CTX/Dockerfile"
	run -0 kiln build -t px:3 --build-arg HTTP_PROXY=http://a.invalid "$CTX"
	run -0 kiln build -t px:4 --build-arg HTTP_PROXY=http://b.invalid "$CTX"
	[[ "$output" == *'RUN echo "$HTTP_PROXY" > /p'* ]]
	[[ "$output" != *'RUN echo "$HTTP_PROXY" > /p CACHED'* ]]
	run -0 kiln run --rm px:4 cat /p
	[ "$output" = http://b.invalid ]
	# Docker's warning for a --build-arg no ARG declared
	run -0 kiln build -t px:5 --build-arg ZED=1 --build-arg ALPHA=2 --build-arg HTTP_PROXY=x "$CTX"
	[[ "$output" == *"[Warning] One or more build-args [ALPHA ZED] were not consumed"* ]]
}

@test "--platform and FROM --platform: the host platform in its forms; any other is one clear error" {
	printf 'FROM bb:1\nRUN touch /ok\n' > "$CTX/Dockerfile"
	for p in linux/amd64 linux/x86_64 LINUX/AMD64 x86_64 amd64 linux linux/amd64/v1 linux/x86-64; do
		run -0 kiln build -q --platform "$p" "$CTX"
	done
	run -1 kiln build --platform linux/arm64 "$CTX"
	[ "${#lines[@]}" -eq 1 ]
	[ "$output" = "Error: platform linux/arm64 is not supported: kiln builds for the host platform linux/amd64 only" ]
	run -1 kiln build --platform linux/aarch64 "$CTX"
	[[ "$output" == *"platform linux/arm64 is not supported"* ]]
	run -1 kiln build --platform 'linux/am d64' "$CTX"
	[[ "$output" == *"linux/am d64: invalid platform specifier"* ]]
	run -1 kiln build --platform nosuch "$CTX"
	[[ "$output" == *"nosuch: unknown operating system or architecture"* ]]
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM --platform=$BUILDPLATFORM bb:1 AS a
FROM --platform=${TARGETPLATFORM} bb:1 AS b
FROM --platform=linux/x86_64 a
RUN touch /ok
EOF2
	run -0 kiln build -t fp:1 "$CTX"
	# checked for every stage before anything runs
	cat > "$CTX/Dockerfile" <<'EOF2'
FROM bb:1
RUN touch /first
FROM --platform=linux/arm64/v8 bb:1 AS unused
FROM bb:1
RUN touch /last
EOF2
	run -1 kiln build "$CTX"
	[ "$output" = "Error: Dockerfile:3: FROM --platform=linux/arm64/v8: platform linux/arm64/v8 is not supported: kiln builds for the host platform linux/amd64 only" ]
}

@test "build --help: the networks and --platform" {
	run -0 kiln build --help
	[[ "$output" == *"--network string    Network for RUN steps that do not say: default"* ]]
	[[ "$output" == *"--platform string   Target platform: only the host's"* ]]
}
