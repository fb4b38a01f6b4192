#!/usr/bin/env bats
# kiln run and the container lifecycle: exit codes, flags, logs, ps, stop,
# kill, rm, exec, and the isolation a container gets by default.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_store
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	import_busybox bb:1 >/dev/null
}

teardown() {
	# stop whatever a failed test left running (by its own IDs, never by name)
	remove_containers
}

@test "run prints the output and returns the exit code" {
	run kiln run --rm bb:1 echo hello
	[ "$status" -eq 0 ]
	[ "$output" = "hello" ]
	run kiln run --rm bb:1 sh -c 'exit 3'
	[ "$status" -eq 3 ]
	# a signal that ends the process: 128+N (pid 1 ignores its own kill -9, so a child)
	run kiln run --rm bb:1 sh -c 'sh -c "kill -9 \$\$"; exit $?'
	[ "$status" -eq 137 ]
}

@test "exit codes 125, 126, 127 as docker" {
	run kiln run --rm nosuchimage true
	[ "$status" -eq 125 ]
	[[ "$output" == *"no such image"* ]]
	run -127 kiln run --rm bb:1 /no/such/command
	[ "$status" -eq 127 ]
	run kiln run --rm bb:1 /etc/passwd
	[ "$status" -eq 126 ]
	run kiln run --bogus bb:1 true
	[ "$status" -eq 125 ]
}

@test "--rm removes the container; without it ps -a shows it exited" {
	kiln run --rm bb:1 true
	run kiln ps -aq
	[ -z "$output" ]
	kiln run --name keep bb:1 sh -c 'exit 4' || true
	run kiln ps -a
	[[ "$output" == *"Exited (4)"* ]]
	[[ "$output" == *keep* ]]
	run kiln inspect --format '{{.State.ExitCode}} {{.State.Status}}' keep
	[ "$output" = "4 exited" ]
	run kiln rm keep
	[ "$status" -eq 0 ]
	run kiln ps -aq
	[ -z "$output" ]
}

@test "env, env-file, workdir, user, hostname, entrypoint" {
	echo 'FROMFILE=yes' > "$BATS_TEST_TMPDIR/env"
	echo '# comment' >> "$BATS_TEST_TMPDIR/env"
	export INHERITED=fromhost
	run kiln run --rm -e A=1 -e INHERITED --env-file "$BATS_TEST_TMPDIR/env" bb:1 env
	[[ "$output" == *"A=1"* ]]
	[[ "$output" == *"INHERITED=fromhost"* ]]
	[[ "$output" == *"FROMFILE=yes"* ]]
	[[ "$output" == *"PATH="* ]]
	run kiln run --rm -w /tmp/new/dir bb:1 pwd
	[ "$output" = "/tmp/new/dir" ]
	run kiln run --rm -u 1000:1001 bb:1 id
	[[ "$output" == "uid=1000 gid=1001"* ]]
	run kiln run --rm -u daemon bb:1 id -un
	[ "$output" = "daemon" ]
	run kiln run --rm -u nosuchuser bb:1 id
	[ "$status" -eq 125 ]
	[[ "$output" == *"nosuchuser"* ]]
	run kiln run --rm -h myhost bb:1 hostname
	[ "$output" = "myhost" ]
	run kiln run --rm -h myhost bb:1 cat /etc/hosts
	[[ "$output" == *myhost* ]]
	run kiln run --rm --entrypoint echo bb:1 from entrypoint
	[ "$output" = "from entrypoint" ]
}

@test "the image's CMD runs when no command is given" {
	kiln import -c 'CMD ["echo","from","cmd"]' "$(busybox_rootfs)" withcmd:1 >/dev/null
	run kiln run --rm withcmd:1
	[ "$output" = "from cmd" ]
	run kiln run --rm withcmd:1 echo override
	[ "$output" = "override" ]
}

@test "detached: ps, logs, exec, stop, wait, kill, rm -f" {
	run kiln run -d --name bg bb:1 sh -c 'echo started; echo oops >&2; trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done'
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^[0-9a-f]{64}$ ]]
	id=$output
	sleep 0.5
	run kiln ps
	[[ "$output" == *"Up "* ]]
	[[ "$output" == *bg* ]]
	run kiln ps -q
	[ "$output" = "${id:0:12}" ]
	run kiln logs bg
	[[ "$output" == *started* ]]
	[[ "$output" == *oops* ]]
	run kiln exec bg cat /etc/hostname
	[ "$output" = "${id:0:12}" ]
	run kiln exec bg sh -c 'exit 5'
	[ "$status" -eq 5 ]
	run kiln stop bg
	[ "$status" -eq 0 ]
	run kiln logs bg
	[[ "$output" == *bye* ]]
	run kiln wait bg
	[ "$output" = "0" ]
	run kiln start bg
	[ "$status" -eq 0 ]
	sleep 0.3
	run kiln kill bg
	[ "$status" -eq 0 ]
	run kiln wait bg
	[ "$output" = "137" ]
	kiln start bg
	run kiln rm bg
	[ "$status" -eq 1 ]
	[[ "$output" == *"is running"* ]]
	run kiln rm -f bg
	[ "$status" -eq 0 ]
	run kiln ps -aq
	[ -z "$output" ]
}

@test "logs --tail and -t; logs survive the container's exit" {
	kiln run --name lg bb:1 sh -c 'for i in 1 2 3 4 5; do echo line$i; done'
	run kiln logs --tail 2 lg
	[ "${lines[0]}" = "line4" ]
	[ "${lines[1]}" = "line5" ]
	run kiln logs -t lg
	[[ "${lines[0]}" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z\ line1$ ]]
	log=$(kiln inspect --format '{{.LogPath}}' lg)
	head -1 "$log" | jq -e '.stream == "stdout" and .log == "line1\n"'
}

@test "isolation: own pid namespace, hostname, minimal /dev, default capabilities" {
	run kiln run --rm bb:1 ps -o pid,comm
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" =~ ^\ *1\ +ps$ ]]
	run kiln run --rm bb:1 sh -c 'grep CapEff /proc/self/status'
	[[ "$output" == *"00000000a80425fb"* ]]
	run kiln run --rm bb:1 ls /dev
	for d in null zero full random urandom tty ptmx pts shm mqueue; do
		[[ "$output" == *"$d"* ]]
	done
	[[ "$output" != *sda* && "$output" != *vda* && "$output" != *mem* ]]
	run kiln run --rm bb:1 mount -t tmpfs none /mnt
	[ "$status" -ne 0 ]
	run kiln run --rm bb:1 sh -c 'echo x > /sys/kernel/test'
	[ "$status" -ne 0 ]
	run kiln run --rm bb:1 cat /proc/kcore
	[ -z "$output" ] || [ "$status" -ne 0 ]
	run kiln run --rm --privileged bb:1 sh -c 'grep CapEff /proc/self/status'
	[[ "$output" != *"00000000a80425fb"* ]]
	run kiln run --rm --cap-drop ALL bb:1 sh -c 'grep CapEff /proc/self/status'
	[[ "$output" == *"0000000000000000"* ]]
}

@test "--read-only, --tmpfs and -v bind mounts" {
	run kiln run --rm --read-only bb:1 touch /file
	[ "$status" -ne 0 ]
	run kiln run --rm --read-only --tmpfs /scratch bb:1 sh -c 'touch /scratch/x && echo ok'
	[ "$output" = "ok" ]
	mkdir -p "$BATS_TEST_TMPDIR/vol"
	echo host > "$BATS_TEST_TMPDIR/vol/f"
	run kiln run --rm -v "$BATS_TEST_TMPDIR/vol:/data" bb:1 sh -c 'cat /data/f; echo ctr > /data/g'
	[ "$output" = "host" ]
	[ "$(cat "$BATS_TEST_TMPDIR/vol/g")" = "ctr" ]
	run kiln run --rm -v "$BATS_TEST_TMPDIR/vol:/data:ro" bb:1 sh -c 'echo no > /data/h'
	[ "$status" -ne 0 ]
	[ ! -e "$BATS_TEST_TMPDIR/vol/h" ]
	run kiln run --rm --mount "type=bind,source=$BATS_TEST_TMPDIR/vol,target=/m,readonly" bb:1 cat /m/f
	[ "$output" = "host" ]
}

@test "changes stay in the container, the image is untouched" {
	kiln run --name wr bb:1 sh -c 'echo changed > /etc/motd; rm /bin/vi'
	run kiln run --rm bb:1 sh -c 'test -e /etc/motd || echo clean; test -e /bin/vi && echo vi'
	[ "${lines[0]}" = "clean" ]
	[ "${lines[1]}" = "vi" ]
	run kiln start -a wr
	[ "$status" -eq 1 ]   # rm of a missing file now fails: the container kept its changes
	kiln rm wr
}

@test "memory limit: a memory hog is OOM-killed and inspect says so" {
	run kiln run --name hog -m 32m --memory-swap 32m bb:1 sh -c 'head -c 300m /dev/zero | tail'
	[ "$status" -eq 137 ]
	run kiln inspect --format '{{.State.OOMKilled}}' hog
	[ "$output" = "true" ]
}

@test "pids limit stops a fork bomb" {
	run kiln run --rm --pids-limit 10 bb:1 sh -c 'for i in $(seq 1 30); do sleep 2 & done 2>&1; wait'
	[[ "$output" == *"fork"* ]] || [[ "$output" == *"Resource temporarily unavailable"* ]]
}

@test "a container cannot overwrite the runtime binary through /proc" {
	before=$(sha256sum "$KILN" | cut -d' ' -f1)
	kiln run --rm bb:1 sh -c 'echo x > /proc/self/exe; echo x > /proc/1/exe; true' || true
	[ "$(sha256sum "$KILN" | cut -d' ' -f1)" = "$before" ]
	run kiln run --rm bb:1 ls /proc/self/fd
	[ "$output" = "$(printf '0\n1\n2\n3')" ]
	run kiln run --rm bb:1 pwd
	[ "$output" = "/" ]
}

@test "kiln runs containers from a sealed copy of itself; /proc/self/exe leads nowhere (CVE-2019-5736)" {
	before=$(sha256sum "$KILN" | cut -d' ' -f1)
	# the image's command is a link to /proc/self/exe: the runtime itself, in
	# the container, if the kernel let it through
	kiln run --name evil bb:1 sh -c 'ln -s /proc/self/exe /evil; printf "#!/proc/self/exe\n" >/evil.sh; chmod +x /evil.sh'
	kiln commit evil bb:evil >/dev/null
	run -127 kiln run --rm bb:evil /evil version
	run -127 kiln run --rm bb:evil /evil.sh
	kiln run -d --name target bb:evil sleep 60 >/dev/null
	run -127 kiln exec target /evil version
	[ "$(sha256sum "$KILN" | cut -d' ' -f1)" = "$before" ]
	# an attached kiln run is a sealed memfd, not the file on disk
	"$KILN" run --rm bb:1 sleep 3 &
	bg=$!
	exe=
	for _ in $(seq 50); do
		exe=$(readlink /proc/$bg/exe 2>/dev/null || true)
		[[ "$exe" == /memfd:* ]] && break
		sleep 0.05
	done
	wait "$bg"
	[[ "$exe" == /memfd:* ]]
}

@test "rmi refuses an image a container uses; ps and container ls agree" {
	kiln create --name c1 bb:1 true >/dev/null
	run kiln rmi bb:1
	[ "$status" -eq 1 ]
	[[ "$output" == *"container"* ]]
	run kiln container ls -a -q
	[ "${#lines[@]}" -eq 1 ]
	run kiln container prune -f
	[[ "$output" == *"Deleted Containers"* ]]
	run kiln rmi bb:1
	[ "$status" -eq 0 ]
}

@test "exec -t gives the command a terminal and returns its exit code" {
	command -v script >/dev/null || skip "script (bsdutils) missing"
	kiln run -d --name tt bb:1 sleep 60 >/dev/null
	run script -eqc "$KILN exec -t tt sh -c 'tty; exit 6'" /dev/null
	[ "$status" -eq 6 ]
	[[ "$output" == *"/dev/pts/"* ]]
	run kiln exec -t tt sh -c 'exit 5'
	[ "$status" -eq 5 ]
	kiln rm -f tt >/dev/null
}

@test "attached logs keep lines with invalid UTF-8, escaped as kiln-monitor does" {
	kiln run --name u8 bb:1 sh -c 'printf "a\377b \"q\"\tt\n"' >/dev/null
	log=$(kiln inspect --format '{{.LogPath}}' u8)
	run jq -r '.log' "$log"
	[ "$output" = "$(printf 'a\xef\xbf\xbdb "q"\tt')" ]
	kiln rm u8 >/dev/null
}

@test "run --rm: a container whose command cannot start is removed too" {
	run -127 kiln run --rm bb:1 no-such-command
	[[ "$output" == *"no-such-command"* ]]
	run -126 kiln run --rm bb:1 /etc/passwd
	run -0 kiln ps -aq
	[ -z "$output" ]
	# without --rm it stays, created, as docker's
	run -127 kiln run --name kept bb:1 no-such-command
	run -0 kiln ps -aq
	[ -n "$output" ]
}

@test "an image whose /etc/resolv.conf is a dangling symlink runs (Ubuntu's), the target made inside the rootfs" {
	local root="$BATS_TEST_TMPDIR/ub"
	cp -a "$(busybox_rootfs)" "$root"
	rm -f "$root/etc/resolv.conf" "$root/etc/hosts"
	ln -s ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
	ln -s /nonexistent/hosts "$root/etc/hosts"
	kiln import "$root" ub:1 >/dev/null
	run -0 kiln run --rm --network none ub:1 sh -c 'cat /etc/resolv.conf >/dev/null && readlink /etc/resolv.conf && grep -c localhost /etc/hosts'
	[ "${lines[0]}" = "../run/systemd/resolve/stub-resolv.conf" ]
	[ "${lines[1]}" -ge 1 ]
	run -0 kiln run --rm ub:1 sh -c 'test -s /run/systemd/resolve/stub-resolv.conf && echo ok'
	[ "$output" = ok ]
}
