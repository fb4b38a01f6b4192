#!/usr/bin/env bats
# kiln run --network bridge: the kiln0 bridge (10.88.0.0/16), addresses
# from the store's lease file, -p/--publish through nftables, kiln port,
# and the cleanup when a container stops or is removed. Only loopback and
# the addresses of kiln0's own subnet are ever contacted.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_store
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	command -v ip >/dev/null || skip "ip (iproute2) is not installed"
	command -v nft >/dev/null || skip "nft (nftables) is not installed"
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	import_busybox bb:1 >/dev/null
}

teardown() {
	for id in $("$KILN" ps -aq --no-trunc 2>/dev/null); do
		"$KILN" rm -f "$id" >/dev/null 2>&1 || true
	done
}

# GET a URL from the host: curl, else busybox wget.
http_get() {
	if command -v curl >/dev/null; then
		curl -sS -m 5 "$1"
	else
		busybox wget -T 5 -qO- "$1"
	fi
}

# Wait until a URL answers (a detached httpd needs a moment).
wait_http() {
	for _ in $(seq 50); do
		http_get "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

WEB='mkdir -p /www && echo hello-from-kiln > /www/index.html && exec httpd -f -p 80 -h /www'

@test "bridge: two containers get their own addresses and reach each other" {
	kiln run -d --name ca --network bridge bb:1 sh -c "$WEB"
	kiln run -d --name cb --network bridge bb:1 sleep 60
	ipa=$(kiln inspect --format '{{.NetworkSettings.IPAddress}}' ca)
	ipb=$(kiln inspect --format '{{.NetworkSettings.IPAddress}}' cb)
	[[ "$ipa" == 10.88.* ]]
	[[ "$ipb" == 10.88.* ]]
	[ "$ipa" != "$ipb" ]
	run kiln inspect --format '{{.NetworkSettings.Gateway}}' ca
	[ "$output" = "10.88.0.1" ]
	# the container's view: eth0 with the address, the default route, /etc/hosts
	run kiln exec cb ip -o -4 addr show dev eth0
	[[ "$output" == *"inet $ipb/16"* ]]
	run kiln exec cb ip route
	[[ "$output" == *"default via 10.88.0.1"* ]]
	run kiln exec cb cat /etc/hosts
	[[ "$output" == *"$ipb"* ]]
	run kiln exec cb ping -c 1 -W 3 "$ipa"
	[ "$status" -eq 0 ]
	run kiln exec cb sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 $ipa 80"
	[ "$status" -eq 0 ]
	[[ "$output" == *hello-from-kiln* ]]
	# the leases name both
	run cat "$KILN_ROOT/network/kiln0/leases"
	[[ "$output" == *"\"$ipa\""* ]]
	[[ "$output" == *"\"$ipb\""* ]]
}

@test "bridge: -p 127.0.0.1:18080:80 reaches the container from the host; kiln port" {
	kiln run -d --name web --network bridge -p 127.0.0.1:18080:80 bb:1 sh -c "$WEB"
	wait_http http://127.0.0.1:18080/
	run http_get http://127.0.0.1:18080/
	[ "$status" -eq 0 ]
	[ "$output" = "hello-from-kiln" ]
	run kiln port web
	[ "$status" -eq 0 ]
	[ "$output" = "80/tcp -> 127.0.0.1:18080" ]
	run kiln port web 80/tcp
	[ "$output" = "127.0.0.1:18080" ]
	run kiln port web 81
	[ "$status" -ne 0 ]
	run kiln inspect --format '{{json .HostConfig.PortBindings}}' web
	[[ "$output" == *'"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"18080"}]'* ]]
}

@test "bridge: -p HOSTPORT:CTRPORT (all addresses) works on loopback too" {
	kiln run -d --name web --network bridge -p 18081:80/tcp bb:1 sh -c "$WEB"
	wait_http http://127.0.0.1:18081/
	run http_get http://127.0.0.1:18081/
	[ "$output" = "hello-from-kiln" ]
	run kiln port web
	[ "$output" = "80/tcp -> 0.0.0.0:18081" ]
}

@test "bridge: stop and rm remove the veth, the netns, the lease and the nft rules" {
	kiln run -d --name web --network bridge -p 127.0.0.1:18082:80 bb:1 sh -c "$WEB"
	id=$(kiln inspect --format '{{.Id}}' web)
	ip link show "kv${id:0:12}" >/dev/null
	[ -e "/run/kiln/netns/$id" ]
	run nft list table ip kiln
	[[ "$output" == *"kiln:${id:0:12}"* ]]
	grep -q "$id" "$KILN_ROOT/network/kiln0/leases"

	kiln stop -t 1 web
	run ! ip link show "kv${id:0:12}"
	[ ! -e "/run/kiln/netns/$id" ]
	run nft list table ip kiln
	[[ "$output" != *"kiln:${id:0:12}"* ]]
	run ! grep -q "$id" "$KILN_ROOT/network/kiln0/leases"
	run kiln port web
	[ -z "$output" ]

	# a second start sets it all up again
	kiln start web
	wait_http http://127.0.0.1:18082/
	run kiln port web
	[ "$output" = "80/tcp -> 127.0.0.1:18082" ]
	kiln rm -f web
	run ! ip link show "kv${id:0:12}"
	[ ! -e "/run/kiln/netns/$id" ]
	run nft list table ip kiln
	[[ "$output" != *"kiln:${id:0:12}"* ]]
	run ! grep -q "$id" "$KILN_ROOT/network/kiln0/leases"
}

@test "bridge: --rm cleans up after a foreground run" {
	run kiln run --rm --network bridge bb:1 sh -c 'ip -o -4 addr show dev eth0; cat /etc/hostname'
	[ "$status" -eq 0 ]
	[[ "$output" == *"inet 10.88."* ]]
	host=$(echo "$output" | tail -1)
	run ! grep -q "$host" "$KILN_ROOT/network/kiln0/leases"
	run ip -o link
	[[ "$output" != *" kv$host"* ]]
}

@test "--network none and the default have only lo; -p needs bridge" {
	run kiln run --rm --network none bb:1 sh -c 'ls /sys/class/net'
	[ "$output" = "lo" ]
	run kiln run --rm bb:1 sh -c 'ls /sys/class/net'
	[ "$output" = "lo" ]
	run kiln run --rm -p 8080:80 bb:1 true
	[ "$status" -eq 125 ]
	[[ "$output" == *"needs --network bridge"* ]]
	run kiln run --rm --network bridge -p 80 bb:1 true
	[ "$status" -eq 125 ]
	[[ "$output" == *"invalid -p '80'"* ]]
	run kiln run --rm --network bridge -p 1:2:3:4 bb:1 true
	[ "$status" -eq 125 ]
	run kiln run --rm --network bridge -p 8080:80/sctp bb:1 true
	[ "$status" -eq 125 ]
	run kiln run --rm --network nosuch bb:1 true
	[ "$status" -ne 0 ]
}

@test "bridge: a host that already uses 10.88.0.0/16 is refused clearly" {
	command -v unshare >/dev/null || skip "unshare is not installed"
	# a network namespace of our own, with a link of its own in the subnet
	run unshare -n sh -c '
		ip link add d0 type bridge && ip addr add 10.88.5.1/24 dev d0 && ip link set d0 up &&
		"$0" run --rm --network bridge bb:1 true' "$KILN"
	[ "$status" -ne 0 ]
	[[ "$output" == *"already uses 10.88.5.1/24 on d0"* ]]
}
