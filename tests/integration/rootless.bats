#!/usr/bin/env bats
# Rootless kiln: an unprivileged user made by the test, with ranges in
# /etc/subuid and /etc/subgid, runs kiln. kiln joins (or first makes) the
# user's user and mount namespaces held by a pause process; containers run
# there with pasta as their network. Only 127.0.0.1 is contacted.

bats_require_minimum_version 1.5.0
load helpers

RLUSER=kilnrl

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to make the test user"
	command -v newuidmap >/dev/null || skip "newuidmap (uidmap) is not installed"
	if ! id "$RLUSER" >/dev/null 2>&1; then
		useradd -M -d /nonexistent -s /usr/sbin/nologin "$RLUSER"
	fi
	grep -q "^$RLUSER:" /etc/subuid || usermod --add-subuids 300000-365535 "$RLUSER"
	grep -q "^$RLUSER:" /etc/subgid || usermod --add-subgids 300000-365535 "$RLUSER"
	RLDIR=$(mktemp -d /tmp/kiln-rootless-XXXXXX)
	chmod 755 "$RLDIR"
	# the binaries where the user can reach them (the checkout may be private)
	mkdir "$RLDIR/bin"
	cp "$KILN" "$RLDIR/bin/kiln"
	cp "$(dirname "$KILN")/../monitor/kiln-monitor" "$RLDIR/bin/"
	cp "$(dirname "$KILN")/../init/kiln-init" "$RLDIR/bin/"
	chmod -R a+rX "$RLDIR/bin"
	# a busybox image as a tar of root-owned files (inside: root's)
	tar -C "$(busybox_rootfs)" --owner=0 --group=0 -cf "$RLDIR/busybox.tar" .
	chmod 644 "$RLDIR/busybox.tar"
	install -d -o "$RLUSER" -m 700 "$RLDIR/home" "$RLDIR/run"
	# pasta needs /dev/net/tun; Debian makes it 0666, this machine 0600
	TUN_MODE=$(stat -c %a /dev/net/tun 2>/dev/null || echo none)
	[ "$TUN_MODE" = none ] || chmod 666 /dev/net/tun
	export RLDIR TUN_MODE
}

teardown_file() {
	[ -n "${RLDIR:-}" ] || return 0
	for id in $(rl ps -aq --no-trunc 2>/dev/null); do
		rl rm -f "$id" >/dev/null 2>&1 || true
	done
	# the pause process the user's kiln started, by its recorded pid
	if [ -f "$RLDIR/run/kiln/pause.pid" ]; then
		kill "$(cut -d' ' -f1 "$RLDIR/run/kiln/pause.pid")" 2>/dev/null || true
	fi
	[ "${TUN_MODE:-none}" = none ] || chmod "$TUN_MODE" /dev/net/tun
	rm -rf "$RLDIR"
}

# kiln as the test user, with its own store and runtime directory
rl() {
	runuser -u "$RLUSER" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$RLDIR/home" \
		XDG_RUNTIME_DIR="$RLDIR/run" ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
		UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" "$RLDIR/bin/kiln" "$@"
}

rl_import() {
	rl images -q bb:latest | grep -q . || rl import -q "$RLDIR/busybox.tar" bb:latest >/dev/null
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

@test "rootless: the store is the user's, root inside is the user outside" {
	rl_import
	uid=$(id -u "$RLUSER")
	sub=$(grep "^$RLUSER:" /etc/subuid | head -1 | cut -d: -f2)
	run -0 rl run --rm bb sh -c 'id -u; cat /proc/self/uid_map; stat -c %u:%g /bin/busybox'
	[ "${lines[0]}" = 0 ]
	echo "$output" | grep -Eq "^ *0 +$uid +1$"
	echo "$output" | grep -Eq "^ *1 +$sub +"
	[ "${lines[-1]}" = 0:0 ]
	# the store under the user's home, owned by the user
	[ "$(stat -c %U "$RLDIR/home/.local/share/kiln/kiln.db")" = "$RLUSER" ]
	# one pause process holds the namespaces, reused by every command
	pid1=$(cut -d' ' -f1 "$RLDIR/run/kiln/pause.pid")
	rl images >/dev/null
	[ "$(cut -d' ' -f1 "$RLDIR/run/kiln/pause.pid")" = "$pid1" ]
	[ "$(stat -c %U /proc/"$pid1")" = "$RLUSER" ]
}

@test "rootless: container uids map to the user's subuid range, kept by commit" {
	rl_import
	sub=$(grep "^$RLUSER:" /etc/subuid | head -1 | cut -d: -f2)
	run -0 rl run --name owner -u 1000:1000 bb sh -c 'touch /tmp/mine; stat -c %u:%g /tmp/mine'
	[ "$output" = 1000:1000 ]
	# on the host, uid 1000 inside is subuid start + 999
	upper=$(rl inspect --format '{{.GraphDriver.Data.UpperDir}}' owner)
	[ "$(stat -c %u "$upper/tmp/mine")" = "$((sub + 999))" ]
	rl commit owner bb:owned >/dev/null
	run -0 rl run --rm bb:owned stat -c %u:%g /tmp/mine
	[ "$output" = 1000:1000 ]
	rl rm owner >/dev/null
}

@test "rootless: detached lifecycle, exec, logs, stop, rm" {
	rl_import
	run -0 rl run -d --name d1 bb sh -c 'echo started; exec sleep 100'
	run -0 rl ps --format '{{.Names}} {{.Status}}'
	[[ "$output" == *"d1 Up"* ]]
	run -0 rl logs d1
	[ "$output" = started ]
	run -0 rl exec d1 sh -c 'echo $(id -u) > /tmp/e; cat /tmp/e; ps -o pid,comm | wc -l'
	[ "${lines[0]}" = 0 ]
	run -0 rl stop -t 1 d1
	run -0 rl inspect --format '{{.State.Status}} {{.State.ExitCode}}' d1
	[ "$output" = "exited 137" ] || [ "$output" = "exited 143" ]
	run -0 rl rm d1
	run -0 rl ps -aq
	[ -z "$output" ]
}

@test "rootless: root in the container is not root of the host" {
	rl_import
	# /etc/shadow stays unreadable: its owner is not mapped (nobody inside)
	run rl run --rm -v /etc/shadow:/shadow:ro bb cat /shadow
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	run -0 rl run --rm -v /etc/shadow:/shadow:ro bb stat -c %U /shadow
	[ "$output" = nobody ]
	# no mounts, no modules, no devices
	run rl run --rm bb mount -t tmpfs t /mnt
	[ "$status" -ne 0 ]
	run -0 rl run --rm bb sh -c 'ls /dev | sort | tr "\n" " "'
	[[ "$output" != *sda* && "$output" != *vda* ]]
	# a user namespace of its own inside the user's: not yet
	run -125 rl run --rm --userns=auto bb true
	[[ "$output" == *"not supported for rootless containers"* ]]
	# no cgroup to set limits with: said, and the container still runs
	run -0 rl run --rm --memory 64m bb echo ran
	[[ "$output" == *"resource limits are not supported"* ]]
	[[ "$output" == *ran* ]]
}

@test "rootless: pasta network with -p on loopback" {
	command -v pasta >/dev/null || skip "pasta (passt) is not installed"
	rl_import
	port=$(free_port)
	run -0 rl run -d --name web -p "127.0.0.1:$port:80" bb sh -c 'echo hello-rootless > /www; mkdir /w; mv /www /w/index.html; exec httpd -f -p 80 -h /w'
	ok=
	for _ in $(seq 50); do
		if out=$(curl -sS -m 2 "http://127.0.0.1:$port/" 2>/dev/null); then ok=1; break; fi
		sleep 0.1
	done
	[ -n "$ok" ]
	[ "$out" = hello-rootless ]
	run -0 rl port web
	[ "$output" = "80/tcp -> 127.0.0.1:$port" ]
	run -0 rl inspect --format '{{.HostConfig.NetworkMode}}' web
	[ "$output" = pasta ]
	pasta_pid=$(cat "$(rl inspect --format '{{.LogPath}}' web | xargs dirname)/pasta.pid")
	run -0 rl rm -f web
	# pasta went with the container
	for _ in $(seq 30); do [ -d /proc/"$pasta_pid" ] || break; sleep 0.1; done
	[ ! -d /proc/"$pasta_pid" ]
	# the bridge is root's; none gives loopback only
	run -125 rl run --rm --network bridge bb true
	[[ "$output" == *"needs root"* ]]
	run -0 rl run --rm --network none bb sh -c 'ls /sys/class/net | tr "\n" " "'
	[ "$output" = "lo " ]
}

@test "rootless: an owner outside the mapped range is one clear error, nothing stored" {
	rl_import
	python3 - "$RLDIR/bad.tar" <<-'PY'
	import io, sys, tarfile
	with tarfile.open(sys.argv[1], "w") as t:
	    i = tarfile.TarInfo("far-owner"); i.uid = 900000; i.gid = 0; i.size = 1
	    t.addfile(i, io.BytesIO(b"x"))
	PY
	chmod 644 "$RLDIR/bad.tar"
	rl import -q "$RLDIR/bad.tar" bad:1 >/dev/null
	layers_before=$(ls "$RLDIR/home/.local/share/kiln/layers" | sort)
	# the layer is unpacked at the first run: that is where it fails
	run -125 rl run --rm bad:1 true
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"uid 900000"*"not mapped in the user namespace"* ]]
	[ "$(ls "$RLDIR/home/.local/share/kiln/layers" | sort)" = "$layers_before" ]
	run -0 rl ps -aq
	[ -z "$output" ]
}

@test "rootless: kiln build; RUN on the default network gets pasta, as kiln run, and stops it after" {
	rl_import
	mkdir -p "$RLDIR/ctx"
	cat >"$RLDIR/ctx/Dockerfile" <<'EOF2'
FROM bb
ARG TARGETARCH
RUN readlink /proc/self/ns/net > /netns && ls /sys/class/net > /ifs && cat /etc/hosts > /hosts && echo "$TARGETARCH" > /arch
RUN --network=none ls /sys/class/net > /none
RUN --network=host readlink /proc/self/ns/net > /host
EOF2
	chmod -R a+rX "$RLDIR/ctx"
	before=$(pgrep -u "$RLUSER" pasta | wc -l)
	run -0 rl build -q -t rb:1 "$RLDIR/ctx"
	# the step's pasta is gone with it (it exits on the SIGTERM it was sent)
	for _ in $(seq 50); do
		[ "$(pgrep -u "$RLUSER" pasta | wc -l)" -eq "$before" ] && break
		sleep 0.1
	done
	[ "$(pgrep -u "$RLUSER" pasta | wc -l)" -eq "$before" ]
	run -0 rl run --rm --network none rb:1 cat /netns /arch /none /host
	hostns=$(readlink /proc/self/ns/net)
	[ "${lines[0]}" != "$hostns" ]
	[ "${lines[1]}" = "$(dpkg --print-architecture)" ]
	[ "${lines[2]}" = lo ]
	[ "${lines[3]}" = "$hostns" ]
	# pasta's interface (named as the host's) beside lo; the step's name in hosts
	run -0 rl run --rm --network none rb:1 cat /ifs
	[ "${#lines[@]}" -ge 2 ]
	run -0 rl run --rm --network none rb:1 cat /hosts
	[[ "$output" == *"127.0.1.1	kiln-build-"* ]]
	# the directory that held pasta's pid file went with it
	[ ! -e "$RLDIR/home/.local/share/kiln/containers" ] || [ -z "$(ls "$RLDIR/home/.local/share/kiln/containers")" ]
}
