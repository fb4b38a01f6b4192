#!/usr/bin/env bats
# Ctrl-C and signals on an attached container, on a real terminal: kiln
# runs on a fresh pty (tests/integration/ptydrive.py), as under a user's
# shell. Docker's behaviour is the reference:
#  - with -it, Ctrl-C is a byte for the container's terminal, whose line
#    discipline interrupts the container's foreground process;
#  - without -t, kiln forwards SIGINT (and TERM, HUP, QUIT, USR1, USR2) to
#    the container's process (sig-proxy). That process is PID 1 of its
#    namespace, which the kernel spares signals it has no handler for: a
#    bare `sleep` does not die of Ctrl-C, a shell's trap or --init's
#    kiln-init (which passes it on to its child) does.
# Nothing here asserts a duration; waits are bounded ($PTYDRIVE_TIMEOUT).

bats_require_minimum_version 1.5.0
load helpers

PTYDRIVE="$BATS_TEST_DIRNAME/ptydrive.py"

setup() {
	setup_store
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	command -v python3 >/dev/null || skip "python3 missing"
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	import_busybox bb:1 >/dev/null
}

teardown() {
	remove_containers
}

pty() {
	python3 "$PTYDRIVE" "$@"
}

@test "run -it: Ctrl-C interrupts the shell's foreground command, the shell goes on" {
	# RE""ADY: the echo of the typed line must not match; the command prints
	# READY from within the foreground job, so the job has the terminal then
	run pty 'expect:/ # ' "send:sh -c 'echo RE\"\"ADY; exec sleep 100'\r" 'expect:READY' \
		'send:\x03' 'expect:/ # ' 'send:echo rc=$?\r' 'expect:rc=130' 'expect:/ # ' \
		'send:exit 7\r' -- "$KILN" run -it --rm bb:1 sh
	echo "$output"
	[ "$status" -eq 7 ]
	run kiln ps -aq
	[ -z "$output" ]
}

@test "run -it: the container's terminal is the pty kiln copies; ours is restored after" {
	# kiln puts our terminal in raw mode (the container's terminal does the
	# line editing and echo) and gives it back as it was
	run pty 'expect:/ # ' 'send:tty; stty size\r' 'expect:/dev/pts/[0-9]+' 'expect:24 80' \
		'send:exit\r' 'expect:AFTER .*icanon.*' -- \
		sh -c "stty -a | grep -o ' -*icanon ' >\"$BATS_TEST_TMPDIR/before\";
		       \"$KILN\" run -it --rm bb:1 sh; echo AFTER \$(stty -a | grep -o ' -*icanon ')"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"AFTER icanon"* ]]
	[ "$(tr -d ' ' <"$BATS_TEST_TMPDIR/before")" = "icanon" ]
}

@test "run without -t: Ctrl-C is forwarded as SIGINT; the container's trap decides the exit" {
	run pty 'expect:READY' 'send:\x03' 'expect:got INT' -- \
		"$KILN" run --rm bb:1 sh -c 'trap "echo got INT; exit 42" INT; echo READY; while :; do sleep 0.1; done'
	echo "$output"
	[ "$status" -eq 42 ]
	# SIGTERM sent to kiln (not by the terminal) goes the same way
	run pty 'expect:READY' 'signal:TERM' 'expect:got TERM' -- \
		"$KILN" run --rm bb:1 sh -c 'trap "echo got TERM; exit 43" TERM; echo READY; while :; do sleep 0.1; done'
	[ "$status" -eq 43 ]
}

@test "run without -t: a PID 1 without a handler survives Ctrl-C, as in docker" {
	# (sleep 1 only gives a wrong exit its chance; it asserts no duration)
	run pty 'expect:READY' 'send:\x03' 'sleep:1' 'alive' 'signal:INT' 'sleep:1' 'alive' \
		"sh:\"$KILN\" kill bare" -- \
		"$KILN" run --name bare bb:1 sh -c 'echo READY; exec sleep 100'
	echo "$output"
	[ "$status" -eq 137 ]
	run kiln inspect --format '{{.State.ExitCode}}' bare
	[ "$output" = "137" ]
}

@test "run --init without -t: Ctrl-C ends the command through kiln-init, exit 130" {
	run pty 'expect:READY' 'send:\x03' -- \
		"$KILN" run --rm --init bb:1 sh -c 'echo READY; exec sleep 100'
	echo "$output"
	[ "$status" -eq 130 ]
	run kiln ps -aq
	[ -z "$output" ]
}

@test "a SIGINT while kiln is still starting the container is not lost, and ends nothing half done" {
	# kiln blocks the signals it forwards before it creates the container:
	# one sent from then on reaches the container once its init takes it
	run pty 'blocked:INT' 'signal:INT' -- "$KILN" run --rm --init bb:1 sleep 100
	echo "$output"
	[ "$status" -eq 130 ]
	run pty 'blocked:INT' 'signal:INT' -- \
		"$KILN" run --rm bb:1 sh -c 'trap "exit 42" INT; while :; do sleep 0.1; done'
	# delivered either way: to the trap (42), or to sh before its trap is
	# set, when busybox sh already catches SIGINT and exits on it (130)
	[ "$status" -eq 42 ] || [ "$status" -eq 130 ]
	# and kiln itself was not the one it killed: no half-made container
	run kiln ps -aq
	[ -z "$output" ]
	# a second Ctrl-C after the container exited does not cut kiln's cleanup short
	run pty 'expect:READY' 'signal:INT' 'signal:INT' 'signal:INT' -- \
		"$KILN" run --rm --init bb:1 sh -c 'echo READY; exec sleep 100'
	[ "$status" -eq 130 ]
	run kiln ps -aq
	[ -z "$output" ]
}

@test "start -a forwards Ctrl-C as run does" {
	kiln create --name sa --init bb:1 sh -c 'echo READY; exec sleep 100' >/dev/null
	run pty 'expect:READY' 'send:\x03' -- "$KILN" start -a sa
	echo "$output"
	[ "$status" -eq 130 ]
	run kiln inspect --format '{{.State.ExitCode}} {{.State.Status}}' sa
	[ "$output" = "130 exited" ]
}
