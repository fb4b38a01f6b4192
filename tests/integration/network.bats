#!/usr/bin/env bats
# Container networks as root: the bridge (the default; kiln0 and
# 10.88.0.0/16 unless KILN_BRIDGE / KILN_BRIDGE_SUBNET say otherwise, a /16
# here), host-wide leases, -p/--publish and -P through nftables, kiln port,
# none, host, container:NAME, the fallback of the default, and the cleanup
# when a container stops or is removed. Only 127.0.0.1 and addresses inside
# the namespaces kiln or the test made are ever contacted.

bats_require_minimum_version 1.5.0
load helpers

BR=${KILN_BRIDGE:-kiln0}
SUBNET=${KILN_BRIDGE_SUBNET:-10.88.0.0/16}
NET16=$(echo "${SUBNET%/*}" | cut -d. -f1-2) # "10.88"
LEASES=/run/kiln/network/$BR/leases
TABLE=kiln
[ "$BR" = kiln0 ] || TABLE=kiln_${BR//[-.]/_}

setup() {
	setup_store
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	command -v ip >/dev/null || skip "ip (iproute2) is not installed"
	command -v nft >/dev/null || skip "nft (nftables) is not installed"
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	import_busybox bb:1 >/dev/null
}

teardown() {
	remove_containers
	for pid in ${BG_PIDS:-}; do
		kill "$pid" 2>/dev/null || true
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

# A free TCP port on 127.0.0.1 from a quiet range (not the ephemeral one).
free_port() {
	local p
	for p in $(shuf -i 20000-29999 -n 50); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null &&
			! nft list ruleset 2>/dev/null | grep -q "dport $p "; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

WEB='mkdir -p /www && echo hello-from-kiln > /www/index.html && exec httpd -f -p 80 -h /www'
WEB2='mkdir -p /www && echo hello-from-kiln > /www/index.html && httpd -p 81 -h /www && exec httpd -f -p 80 -h /www'

@test "the default network as root is the bridge: eth0, an address, the gateway, /etc/hosts" {
	run kiln run --rm bb:1 sh -c 'ip -o -4 addr show dev eth0; ip route; tail -1 /etc/hosts; cat /etc/hostname'
	[ "$status" -eq 0 ]
	[[ "$output" == *"inet $NET16."*"/16"* ]]
	[[ "$output" == *"default via $NET16.0.1"* ]]
	host=$(echo "$output" | tail -1)
	[[ "$output" == *"$NET16."*"	$host"* ]]
	kiln create --name c1 bb:1 true
	run kiln inspect --format '{{.HostConfig.NetworkMode}}' c1
	[ "$output" = bridge ]
	# the bridge is chosen at create (KILN_BRIDGE), the settings filled at start
	run kiln inspect --format '{{json .NetworkSettings.Ports}}' c1
	[ "$output" = "{}" ]
}

@test "bridge: two containers get their own addresses and reach each other by address" {
	kiln run -d --name ca bb:1 sh -c "$WEB"
	kiln run -d --name cb --network bridge bb:1 sleep 60
	kiln run -d --name cc bb:1 nc -l -p 7000
	ipa=$(kiln inspect --format '{{.NetworkSettings.IPAddress}}' ca)
	ipb=$(kiln inspect --format '{{.NetworkSettings.IPAddress}}' cb)
	ipc=$(kiln inspect --format '{{.NetworkSettings.Networks.bridge.IPAddress}}' cc)
	[[ "$ipa" == $NET16.* ]]
	[[ "$ipb" == $NET16.* ]]
	[ "$ipa" != "$ipb" ]
	[ "$ipb" != "$ipc" ]
	run kiln inspect --format '{{.NetworkSettings.Gateway}}' ca
	[ "$output" = "$NET16.0.1" ]
	run kiln exec cb ip -o -4 addr show dev eth0
	[[ "$output" == *"inet $ipb/16"* ]]
	run kiln exec cb ping -c 1 -W 3 "$ipa"
	[ "$status" -eq 0 ]
	run kiln exec cb sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 $ipa 80"
	[ "$status" -eq 0 ]
	[[ "$output" == *hello-from-kiln* ]]
	# nc -l in cc gets what cb sends
	for _ in $(seq 50); do
		kiln exec cb sh -c "echo over-the-bridge | nc -w 2 $ipc 7000" && break
		sleep 0.1
	done
	run kiln wait cc
	[ "$output" = 0 ]
	run kiln logs cc
	[ "$output" = over-the-bridge ]
	# the host-wide leases name them
	run cat "$LEASES"
	[[ "$output" == *"\"$ipa\""* ]]
	[[ "$output" == *"\"$ipb\""* ]]
}

@test "bridge: -p 127.0.0.1:HOSTPORT:80 reaches the container from the host; kiln port; inspect; ps" {
	hp=$(free_port)
	kiln run -d --name web -p "127.0.0.1:$hp:80" bb:1 sh -c "$WEB"
	wait_http "http://127.0.0.1:$hp/"
	run http_get "http://127.0.0.1:$hp/"
	[ "$status" -eq 0 ]
	[ "$output" = "hello-from-kiln" ]
	run kiln port web
	[ "$status" -eq 0 ]
	[ "$output" = "80/tcp -> 127.0.0.1:$hp" ]
	run kiln port web 80/tcp
	[ "$output" = "127.0.0.1:$hp" ]
	run kiln port web 81
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	run kiln inspect --format '{{json .HostConfig.PortBindings}}' web
	[ "$output" = '{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"'"$hp"'"}]}' ]
	run kiln inspect --format '{{json .NetworkSettings.Ports}}' web
	[ "$output" = '{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"'"$hp"'"}]}' ]
	run kiln ps
	[[ "$output" == *"127.0.0.1:$hp->80/tcp"* ]]
}

@test "bridge: -p HOSTPORT:CTRPORT (all addresses) works on loopback too" {
	hp=$(free_port)
	kiln run -d --name web -p "$hp:80/tcp" bb:1 sh -c "$WEB"
	wait_http "http://127.0.0.1:$hp/"
	run http_get "http://127.0.0.1:$hp/"
	[ "$output" = "hello-from-kiln" ]
	run kiln port web
	[ "$output" = "80/tcp -> 0.0.0.0:$hp" ]
	run kiln inspect --format '{{json .HostConfig.PortBindings}}' web
	[ "$output" = '{"80/tcp":[{"HostIp":"","HostPort":"'"$hp"'"}]}' ]
}

@test "bridge: -p CTRPORT and -p IP::CTRPORT get a free host port from the ephemeral range" {
	kiln run -d --name web -p 80 -p 127.0.0.1::81 bb:1 sh -c "$WEB2"
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	p80=$(kiln port web 80)
	p81=$(kiln port web 81/tcp)
	[[ "$p80" == 0.0.0.0:* ]]
	[[ "$p81" == 127.0.0.1:* ]]
	[ "${p80#*:}" -ge "$lo" ] && [ "${p80#*:}" -le "$hi" ]
	[ "${p81#*:}" -ge "$lo" ] && [ "${p81#*:}" -le "$hi" ]
	[ "${p80#*:}" != "${p81#*:}" ]
	wait_http "http://127.0.0.1:${p80#*:}/"
	run http_get "http://127.0.0.1:${p81#*:}/"
	[ "$output" = "hello-from-kiln" ]
	# the record keeps docker's empty HostPort; the settings have the port
	run kiln inspect --format '{{json .HostConfig.PortBindings}}' web
	[[ "$output" == *'"80/tcp":[{"HostIp":"","HostPort":""}]'* ]]
	[[ "$output" == *'"81/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]'* ]]
	run kiln inspect --format '{{json .NetworkSettings.Ports}}' web
	[[ "$output" == *'"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"'"${p80#*:}"'"}]'* ]]
	run kiln inspect --format '{{json .Config.ExposedPorts}}' web
	[[ "$output" == *'"80/tcp":{}'* ]]
}

@test "bridge: ranges HOST-RANGE:CTR-RANGE, a host range for one port, /udp" {
	hp=$(free_port)
	kiln run -d --name web -p "127.0.0.1:$hp-$((hp + 1)):80-81" -p "127.0.0.1:$((hp + 2))-$((hp + 5)):82" \
		-p "127.0.0.1:$((hp + 6)):9000/udp" bb:1 sh -c "$WEB2"
	run kiln port web
	[[ "$output" == *"80/tcp -> 127.0.0.1:$hp"* ]]
	[[ "$output" == *"81/tcp -> 127.0.0.1:$((hp + 1))"* ]]
	[[ "$output" == *"82/tcp -> 127.0.0.1:$((hp + 2))"* ]]
	[[ "$output" == *"9000/udp -> 127.0.0.1:$((hp + 6))"* ]]
	run kiln inspect --format '{{json .HostConfig.PortBindings}}' web
	[[ "$output" == *'"82/tcp":[{"HostIp":"127.0.0.1","HostPort":"'"$((hp + 2))-$((hp + 5))"'"}]'* ]]
	wait_http "http://127.0.0.1:$hp/"
	run http_get "http://127.0.0.1:$((hp + 1))/"
	[ "$output" = "hello-from-kiln" ]
	# udp: a datagram to the host port arrives in the container's namespace
	# (no one listens on 9000 there: its "NoPorts" counter goes up)
	noports() { kiln exec web awk '/^Udp:/ { n++; if (n == 2) print $3 }' /proc/net/snmp; }
	before=$(noports)
	echo ping >"/dev/udp/127.0.0.1/$((hp + 6))"
	sleep 0.2
	after=$(noports)
	[ "$after" -gt "$before" ]
}

@test "bridge: -P publishes every EXPOSEd port on a free host port" {
	kiln create --name ex bb:1 true >/dev/null
	kiln commit -c 'EXPOSE 80 81/udp' ex bbx:1 >/dev/null
	kiln rm ex
	kiln run -d --name web -P bbx:1 sh -c "$WEB"
	run kiln port web
	[ "${#lines[@]}" -eq 2 ]
	[[ "$output" == *"80/tcp -> 0.0.0.0:"* ]]
	[[ "$output" == *"81/udp -> 0.0.0.0:"* ]]
	p=$(kiln port web 80)
	wait_http "http://127.0.0.1:${p#*:}/"
	run kiln inspect --format '{{.HostConfig.PublishAllPorts}}' web
	[ "$output" = true ]
	# without -P an EXPOSEd port is listed unpublished (null), as docker
	kiln run -d --name web2 bbx:1 sleep 60
	run kiln inspect --format '{{json .NetworkSettings.Ports}}' web2
	[[ "$output" == *'"80/tcp":null'* ]]
	run kiln port web2
	[ -z "$output" ]
}

@test "bridge: a host port in use is refused as docker words it" {
	hp=$(free_port)
	kiln run -d --name web -p "127.0.0.1:$hp:80" bb:1 sleep 60
	run kiln run -d -p "127.0.0.1:$hp:80" bb:1 sleep 60
	[ "$status" -eq 125 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"Bind for 127.0.0.1:$hp failed: port is already allocated"* ]]
	run kiln run -d -p "$hp:80" bb:1 sleep 60
	[ "$status" -eq 125 ]
	[[ "$output" == *"Bind for 0.0.0.0:$hp failed: port is already allocated"* ]]
	# a host process listening on the port
	command -v busybox >/dev/null || skip "busybox is not installed"
	hp2=$(free_port)
	busybox nc -l -p "$hp2" >/dev/null 2>&1 </dev/null &
	BG_PIDS=$!
	sleep 0.3
	run kiln run -d -p "127.0.0.1:$hp2:80" bb:1 sleep 60
	[ "$status" -eq 125 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"listen tcp4 127.0.0.1:$hp2: bind: address already in use"* ]]
}

@test "-p errors: docker's messages, one line, exit 125" {
	check() {
		local want=$1
		shift
		run kiln run --rm "$@" bb:1 true
		[ "$status" -eq 125 ]
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" == *"$want"* ]]
	}
	check "invalid containerPort: abc" -p 8080:abc
	check "invalid hostPort: abc" -p abc:80
	check "invalid IP address: 1:2" -p 1:2:3:4
	check "invalid IP address: 300.1.1.1" -p 300.1.1.1:80:80
	check "invalid proto: sctp" -p 8080:80/sctp
	check "invalid proto: foo" -p 80/foo
	check "invalid ranges specified for container and host Ports: 80-81 and 8000-8002" -p 8000-8002:80-81
	check "invalid containerPort: 81-80" -p 81-80
	check "invalid containerPort: 70000" -p 70000
	check "no port specified: :<empty>" -p :
	check "needs the bridge network" --network none -p 80
	check "conflicting options: port publishing and the container type network mode" --network container:x -p 80
	check "network nosuch not found" --network nosuch
	run kiln run --rm --network host -p 80 bb:1 true
	[ "$status" -eq 0 ]
	[[ "$output" == *"Published ports are discarded when using host network mode"* ]]
	run kiln ps -aq
	[ -z "$output" ]
}

@test "bridge: stop and rm remove the veth, the netns, the lease and the nft rules; start sets them up again" {
	hp=$(free_port)
	kiln run -d --name web -p "127.0.0.1:$hp:80" bb:1 sh -c "$WEB"
	id=$(kiln inspect --format '{{.Id}}' web)
	ip link show "kv${id:0:12}" >/dev/null
	[ -e "/run/kiln/netns/$id" ]
	run nft list table ip "$TABLE"
	[[ "$output" == *"kiln:${id:0:12}"* ]]
	grep -q "$id" "$LEASES"

	kiln stop -t 1 web
	run ! ip link show "kv${id:0:12}"
	[ ! -e "/run/kiln/netns/$id" ]
	run nft list table ip "$TABLE"
	[[ "$output" != *"kiln:${id:0:12}"* ]]
	run ! grep -q "$id" "$LEASES"
	run kiln port web
	[ -z "$output" ]

	kiln start web
	wait_http "http://127.0.0.1:$hp/"
	run kiln port web
	[ "$output" = "80/tcp -> 127.0.0.1:$hp" ]
	kiln rm -f web
	run ! ip link show "kv${id:0:12}"
	[ ! -e "/run/kiln/netns/$id" ]
	run nft list table ip "$TABLE"
	[[ "$output" != *"kiln:${id:0:12}"* ]]
	run ! grep -q "$id" "$LEASES"
}

@test "bridge: --rm cleans up after a foreground run; addresses are given in turn" {
	run kiln run --rm bb:1 sh -c 'ip -o -4 addr show dev eth0; cat /etc/hostname'
	[ "$status" -eq 0 ]
	[[ "$output" == *"inet $NET16."* ]]
	host=$(echo "$output" | tail -1)
	run ! grep -q "$host" "$LEASES"
	# the veth pair goes with the namespace, which the kernel frees in the
	# background: gone within moments
	gone=
	for _ in $(seq 50); do
		if ! ip -o link | grep -q " kv$host"; then gone=1; break; fi
		sleep 0.1
	done
	[ -n "$gone" ]
	kiln run -d --name first bb:1 sleep 60
	ipa=$(kiln inspect --format '{{.NetworkSettings.IPAddress}}' first)
	kiln rm -f first
	kiln run -d --name second bb:1 sleep 60
	ipb=$(kiln inspect --format '{{.NetworkSettings.IPAddress}}' second)
	# the next address, not a's just released (docker's serial allocation:
	# a peer the kernel has not freed yet never holds a new container's)
	[ "$ipb" != "$ipa" ]
	[ "${ipb##*.}" -eq $(( ${ipa##*.} + 1 )) ]
}

@test "bridge: concurrent runs get distinct addresses" {
	for i in 1 2 3 4 5 6; do
		kiln run -d --name "p$i" bb:1 sleep 60 >/dev/null &
	done
	wait
	for i in 1 2 3 4 5 6; do
		kiln inspect --format '{{.NetworkSettings.IPAddress}}' "p$i"
	done >"$BATS_TEST_TMPDIR/ips"
	[ "$(grep -c "^$NET16\." "$BATS_TEST_TMPDIR/ips")" -eq 6 ]
	[ "$(sort -u "$BATS_TEST_TMPDIR/ips" | wc -l)" -eq 6 ]
	for i in 1 2 3 4 5 6; do
		id=$(kiln inspect --format '{{.Id}}' "p$i")
		ip=$(sed -n "${i}p" "$BATS_TEST_TMPDIR/ips")
		grep -q "\"$ip\":\"$id\"" "$LEASES"
	done
}

@test "--network none: lo only, and up; --network host: the host's links" {
	run kiln run --rm --network none bb:1 sh -c 'ls /sys/class/net; ip -o -4 addr show lo'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "lo" ]
	[[ "${lines[1]}" == *"inet 127.0.0.1/8"* ]]
	# the host's own links (not a count: other containers' veth pairs come
	# and go meanwhile, freed by the kernel in the background)
	run kiln run --rm --network host bb:1 ls /sys/class/net
	[ "$status" -eq 0 ]
	for dev in $(ls /sys/class/net); do
		case $dev in kv*) continue ;; esac
		[[ " $(echo $output) " == *" $dev "* ]]
	done
}

@test "--network container:NAME shares the other container's network" {
	kiln run -d --name web -h webhost bb:1 sh -c "$WEB"
	ipw=$(kiln inspect --format '{{.NetworkSettings.IPAddress}}' web)
	id=$(kiln inspect --format '{{.Id}}' web)
	run kiln run --rm --network container:web bb:1 sh -c 'ip -o -4 addr show dev eth0; hostname; wget -qO- http://127.0.0.1/'
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"inet $ipw/16"* ]]
	[ "${lines[1]}" = webhost ]
	[ "${lines[2]}" = hello-from-kiln ]
	kiln create --name joined --network "container:${id:0:12}" bb:1 true
	run kiln inspect --format '{{.HostConfig.NetworkMode}}' joined
	[ "$output" = "container:$id" ]
	run kiln run --rm --network container:web -h other bb:1 true
	[ "$status" -eq 125 ]
	[[ "$output" == *"conflicting options: hostname and the network mode"* ]]
	run kiln run --rm --network container:nosuch bb:1 true
	[ "$status" -eq 125 ]
	[[ "$output" == *"no such container: nosuch"* ]]
	kiln stop -t 1 web
	run kiln start joined
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"cannot join network of a non running container: $id"* ]]
}

@test "the default falls back to loopback only, with one warning; an explicit --network bridge fails" {
	command -v unshare >/dev/null || skip "unshare is not installed"
	# a network namespace of our own whose only link uses the subnet
	run unshare -n sh -c '
		ip link add d0 type bridge && ip addr add 10.88.5.1/24 dev d0 && ip link set d0 up &&
		export KILN_BRIDGE=kilnfb0 KILN_BRIDGE_SUBNET=10.88.0.0/16 &&
		"$0" run --rm bb:1 sh -c "ls /sys/class/net; ip -o -4 addr show lo" &&
		"$0" run -d --name fb bb:1 sleep 60 && "$0" rm -f fb >/dev/null &&
		"$0" run --rm --network bridge bb:1 true' "$KILN"
	[ "$status" -eq 125 ]
	[ "${#lines[@]}" -eq 6 ]
	[[ "${lines[0]}" == "Warning: bridge network unavailable (network: cannot create bridge kilnfb0 with 10.88.0.0/16: the host already uses 10.88.5.1/24 on d0): container "*" has loopback only" ]]
	[ "${lines[1]}" = lo ]
	[[ "${lines[2]}" == *"inet 127.0.0.1/8"* ]]
	[[ "${lines[3]}" == "Warning: bridge network unavailable"* ]] # -d shows it too
	[[ "${lines[5]}" == "Error: network: cannot create bridge kilnfb0 with 10.88.0.0/16: the host already uses 10.88.5.1/24 on d0" ]]
	run ! ip link show kilnfb0
}

@test "KILN_BRIDGE and KILN_BRIDGE_SUBNET are checked" {
	KILN_BRIDGE='bad/name' run kiln run --rm bb:1 true
	[ "$status" -eq 125 ]
	[[ "$output" == *"KILN_BRIDGE 'bad/name'"* ]]
	KILN_BRIDGE_SUBNET=10.1.2.3 run kiln run --rm bb:1 true
	[ "$status" -eq 125 ]
	[[ "$output" == *"KILN_BRIDGE_SUBNET '10.1.2.3': expected an IPv4 network"* ]]
	# --network none and host never need the bridge
	KILN_BRIDGE='bad/name' run kiln run --rm --network none bb:1 true
	[ "$status" -eq 0 ]
}

@test "run --help describes the networks and -p/-P" {
	run kiln run --help
	[[ "$output" == *"container:NAME|ID"* ]]
	[[ "$output" == *"-P, --publish-all"* ]]
	[[ "$output" == *"[IP:][HOSTPORT:]CTRPORT[/tcp|udp]"* ]]
}
