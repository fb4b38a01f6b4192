#!/usr/bin/env bats
# kiln run --init: kiln-init as PID 1 (docker's --init, tini at /dev/init):
# it runs the command as its child, forwards signals, reaps zombies and
# passes the exit status through.

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

@test "--init: PID 1 is /dev/init and the command runs under it" {
	run kiln run --rm --init bb:1 ps -o pid,args
	[ "$status" -eq 0 ]
	[[ "$output" == *"    1 /dev/init -- ps -o pid,args"* ]]
	# the command itself is not PID 1
	run kiln run --rm --init bb:1 sh -c 'echo $$'
	[ "$status" -eq 0 ]
	[ "$output" -ge 2 ]
	# bind-mounted read-only
	run kiln run --rm --init bb:1 sh -c 'echo x > /dev/init'
	[ "$status" -ne 0 ]
	# without --init the command is PID 1
	run kiln run --rm bb:1 sh -c 'echo $$'
	[ "$output" = 1 ]
}

@test "--init: the record keeps the command; HostConfig.Init is set" {
	id=$(kiln create --init bb:1 sleep 5)
	run kiln inspect --format '{{.Path}} {{.Args}} {{.HostConfig.Init}}' "$id"
	[ "$status" -eq 0 ]
	[ "$output" = "sleep [5] true" ]
	run kiln ps -a --format '{{.Command}}'
	[[ "$output" != *"/dev/init"* ]]
	kiln rm "$id"
	id=$(kiln create bb:1 true)
	run kiln inspect --format '{{.HostConfig.Init}}' "$id"
	[ "$output" = "false" ]
	kiln rm "$id"
}

@test "--init: zombies are reaped" {
	# the subshell's sleep is orphaned, reparented to PID 1, and exits
	run kiln run --rm --init bb:1 sh -c '(sleep 0.1 &) ; (sleep 0.1 &) ; sleep 1; ps -o stat,comm'
	[ "$status" -eq 0 ]
	[[ "$output" == *"init"* ]]
	! grep -q '^Z' <<<"$output"
}

@test "--init: exit codes pass through, 128+N for a signal" {
	run kiln run --rm --init bb:1 sh -c 'exit 7'
	[ "$status" -eq 7 ]
	run kiln run --rm --init bb:1 true
	[ "$status" -eq 0 ]
	# the command is not PID 1 now, so it can be killed by its own signal
	run kiln run --rm --init bb:1 sh -c 'kill -9 $$'
	[ "$status" -eq 137 ]
	run kiln run --rm --init bb:1 sh -c 'kill -TERM $$'
	[ "$status" -eq 143 ]
	run kiln run --init --name ex bb:1 sh -c 'exit 9'
	[ "$status" -eq 9 ]
	run kiln inspect --format '{{.State.ExitCode}}' ex
	[ "$output" = 9 ]
}

@test "--init: command not found or not runnable gives 127 / 126" {
	run -127 kiln run --rm --init bb:1 /no/such/command
	[[ "$output" == *"kiln-init: exec /no/such/command"* ]]
	run -126 kiln run --rm --init bb:1 /etc/passwd
}

@test "--init: kiln stop reaches the command at once" {
	id=$(kiln run -d --init bb:1 sleep 100)
	start=$(date +%s%N)
	kiln stop "$id"
	end=$(date +%s%N)
	# SIGTERM forwarded to sleep ends it: no wait for the 10 s timeout
	[ $(((end - start) / 1000000)) -lt 5000 ]
	run kiln inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$id"
	[ "$output" = "exited 143" ]
	kiln rm "$id"
}

@test "--init: other signals are forwarded to the command" {
	id=$(kiln run -d --init bb:1 sh -c 'trap "echo got-usr1; exit 5" USR1; while :; do sleep 0.1; done')
	sleep 0.5
	kiln kill -s USR1 "$id"
	run kiln wait "$id"
	[ "$output" = 5 ]
	run kiln logs "$id"
	[[ "$output" == *got-usr1* ]]
	kiln rm "$id"
}

@test "--init: a stopped container starts again with its init" {
	id=$(kiln create --init bb:1 sh -c 'echo pid $$')
	run kiln start -a "$id"
	[ "$output" = "pid 2" ]
	run kiln start -a "$id"
	[ "$output" = "pid 2" ]
	kiln rm "$id"
}

@test "--init: kiln-init missing is a clear error" {
	for d in /usr/local/libexec/kiln /usr/libexec/kiln; do
		[ ! -e "$d/kiln-init" ] || skip "kiln-init is installed in $d"
	done
	bin="$BATS_TEST_TMPDIR/bin"
	mkdir -p "$bin"
	cp "$KILN" "$bin/kiln"
	run -125 "$bin/kiln" run --rm --init bb:1 true
	[[ "$output" == *"--init: kiln-init not found next to kiln or in $bin/kiln-init"* ]]
	run "$bin/kiln" ps -aq
	[ -z "$output" ]
}

@test "kiln-init on its own: usage, -- and exit status" {
	init="$(dirname "$KILN")/../init/kiln-init"
	[ -x "$init" ] || skip "no kiln-init beside $KILN"
	run -2 "$init"
	[[ "$output" == *"no command given"* ]]
	run -0 "$init" --help
	[[ "$output" == *"Usage: kiln-init"* ]]
	run -7 "$init" -- sh -c 'exit 7'
	run -130 "$init" sh -c 'kill -INT $$'
	run -127 "$init" /no/such/command
	# statically linked: it runs in an image without a libc
	command -v file >/dev/null || skip "no file(1)"
	run file -L "$init"
	[[ "$output" == *"statically linked"* || "$output" == *"static-pie linked"* ]]
}
