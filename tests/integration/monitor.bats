#!/usr/bin/env bats
# The detached monitor: kiln-monitor (monitor/kiln-monitor.c), the small
# program a detached container's monitor execs into. Its size, the log it
# writes, the exit it records (through `kiln container cleanup`, or the
# exit file when that could not run) and what happens when it is killed.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_store
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	import_busybox bb:1 >/dev/null
}

teardown() {
	remove_containers
}

# wait (up to 10 s) until the container's record says it is not running
wait_exited() {
	for _ in $(seq 1 200); do
		[ "$(kiln inspect --format '{{.State.Running}}' "$1")" = "false" ] && return 0
		sleep 0.05
	done
	return 1
}

@test "a detached container's monitor is kiln-monitor, under 2 MiB RSS" {
	id=$(kiln run -d bb:1 sleep 30)
	mon=$(kiln inspect --format '{{.State.MonitorPid}}' "$id")
	[ "$mon" -gt 0 ]
	[ "$(cat /proc/$mon/comm)" = "kiln-monitor" ]
	[ "$(basename "$(readlink /proc/$mon/exe)")" = "kiln-monitor" ]
	# the init is the monitor's child
	pid=$(kiln inspect --format '{{.State.Pid}}' "$id")
	[ "$(awk '{print $4}' /proc/$pid/stat)" = "$mon" ]
	rss=$(awk '/^VmRSS:/ {print $2}' /proc/$mon/status)
	echo "kiln-monitor VmRSS: $rss kB" >&3
	[ "$rss" -lt 2048 ]
	# it keeps nothing of kiln's open: stdio, the signalfd, the pipes and the log
	run ls /proc/$mon/fd
	[ "${#lines[@]}" -le 7 ]
	kiln rm -f "$id"
}

@test "kiln-monitor's log: streams, JSON escaping, invalid UTF-8, 16 KiB split" {
	id=$(kiln run -d bb:1 sh -c '
		echo out1; echo err1 >&2
		printf "q\"uote b\\\\ack\ttab cr\r end\n"
		printf "ctl\001\037 bin\377\376 utf8 \303\251\n"
		head -c 20000 /dev/zero | tr "\0" x; echo
		head -c 16383 /dev/zero | tr "\0" y; printf "\303\251\n"
		printf "no newline at the end"')
	kiln wait "$id"
	log=$(kiln inspect --format '{{.LogPath}}' "$id")
	# every line is valid JSON with the three fields
	jq -e -s 'length == 9 and all(.[]; (.log|type) == "string" and (.stream == "stdout" or .stream == "stderr") and (.time|test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{9}Z$")))' "$log"
	# stdout and stderr are separate pipes: their relative order is not kept
	jq -e -s '[.[] | select(.stream == "stderr")] == [.[] | select(.log == "err1\n")] and
		([.[] | select(.stream == "stderr")] | length) == 1' "$log"
	out=$(jq -c -s '[.[] | select(.stream == "stdout") | .log]' "$log")
	echo "$out" | jq -e '.[0] == "out1\n"'
	echo "$out" | jq -e '.[1] == "q\"uote b\\ack\ttab cr\r end\n"'
	# control characters as \u00XX, invalid bytes as \ufffd, valid UTF-8 kept
	grep -qF '"log":"ctl\u0001\u001f bin\ufffd\ufffd utf8 é\n"' "$log"
	# docker's 16 KiB partial entries: the first without its "\n"
	echo "$out" | jq -e '(.[3] | length) == 16384 and (.[3] | test("^x+$"))'
	echo "$out" | jq -e '(.[4] | length) == 3617 and (.[4] | endswith("x\n"))'
	# a cut never splits a UTF-8 sequence: it moves back before "é"
	echo "$out" | jq -e '(.[5] | length) == 16383 and (.[5] | test("^y+$")) and .[6] == "é\n"'
	echo "$out" | jq -e '.[7] == "no newline at the end"'
	run kiln logs "$id"
	[[ "$output" == *"out1"* ]]
	[[ "$output" == *"err1"* ]]
	[[ "$output" == *"$(head -c 20000 /dev/zero | tr '\0' x)"* ]]
}

@test "kiln-monitor with a terminal: the pty's output is logged" {
	id=$(kiln run -d -t bb:1 sh -c 'echo on a tty; exit 2')
	run kiln wait "$id"
	[ "$output" = "2" ]
	log=$(kiln inspect --format '{{.LogPath}}' "$id")
	jq -e -s '.[0].log == "on a tty\r\n" and .[0].stream == "stdout"' "$log"
}

@test "the exit code, OOMKilled and FinishedAt are recorded when the container ends by itself" {
	id=$(kiln run -d bb:1 sh -c 'sleep 0.3; exit 7')
	run kiln wait "$id"
	[ "$output" = "7" ]
	run kiln inspect --format '{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}} {{.State.Error}}' "$id"
	[ "$output" = "exited 7 false " ]
	started=$(kiln inspect --format '{{.State.StartedAt}}' "$id")
	finished=$(kiln inspect --format '{{.State.FinishedAt}}' "$id")
	[[ "$finished" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z$ ]]
	[[ "$finished" > "$started" ]]
	run kiln ps -a
	[[ "$output" == *"Exited (7)"* ]]
	# cleaned up: no exit file left, the rootfs unmounted, no runtime state
	dir="$KILN_ROOT/containers/$id"
	[ ! -e "$dir/exit" ]
	! grep -qF "$dir/rootfs" /proc/self/mountinfo
	[ -z "$(ls "$KILN_RUNTIME_ROOT")" ]
	# and it starts again, under a new monitor
	kiln start "$id"
	run kiln wait "$id"
	[ "$output" = "7" ]

	id=$(kiln run -d -m 32m --memory-swap 32m bb:1 sh -c 'head -c 300m /dev/zero | tail')
	run kiln wait "$id"
	[ "$output" = "137" ]
	run kiln inspect --format '{{.State.ExitCode}} {{.State.OOMKilled}}' "$id"
	[ "$output" = "137 true" ]
}

@test "-d --rm: the container is removed after it exits" {
	id=$(kiln run -d --rm bb:1 sh -c 'sleep 0.2; exit 3')
	run kiln wait "$id"
	[ "$status" -eq 0 ]
	for _ in $(seq 1 100); do
		[ -z "$(kiln ps -aq)" ] && break
		sleep 0.05
	done
	[ -z "$(kiln ps -aq)" ]
	[ ! -e "$KILN_ROOT/containers/$id" ]
}

@test "a killed monitor: the container's end is still recorded" {
	id=$(kiln run -d bb:1 sh -c 'sleep 1; exit 4')
	mon=$(kiln inspect --format '{{.State.MonitorPid}}' "$id")
	kill -9 "$mon"
	wait_exited "$id"
	run kiln ps -a
	[[ "$output" == *"Exited (255)"* ]]
	run kiln inspect --format '{{.State.ExitCode}} {{.State.Error}}' "$id"
	[ "$output" = "255 the container monitor exited unexpectedly" ]
	! grep -qF "$KILN_ROOT/containers/$id/rootfs" /proc/self/mountinfo
}

@test "the exit file is read when the exit command did not run" {
	id=$(kiln run -d bb:1 sh -c 'sleep 1; exit 4')
	mon=$(kiln inspect --format '{{.State.MonitorPid}}' "$id")
	kill -9 "$mon"
	# what kiln-monitor leaves when `kiln container cleanup` fails
	echo '{"ExitCode":4,"OOMKilled":false,"FinishedAt":"2026-01-02T03:04:05.000000006Z"}' \
		> "$KILN_ROOT/containers/$id/exit"
	wait_exited "$id"
	run kiln inspect --format '{{.State.ExitCode}} {{.State.FinishedAt}} {{.State.Error}}' "$id"
	[ "$output" = "4 2026-01-02T03:04:05.000000006Z " ]
	[ ! -e "$KILN_ROOT/containers/$id/exit" ]
}

@test "container cleanup is hidden; KILN_MONITOR=none monitors in-process" {
	run kiln --help
	[[ "$output" != *cleanup* ]]
	KILN_MONITOR=none run kiln run -d bb:1 sh -c 'echo inproc; sleep 0.5; exit 6'
	id=$output
	mon=$(kiln inspect --format '{{.State.MonitorPid}}' "$id")
	# kiln itself: run from its sealed in-memory copy (memfd "kiln")
	exe=$(readlink /proc/$mon/exe)
	[[ "$exe" == "/memfd:kiln (deleted)" || "$(basename "$exe")" = "$(basename "$KILN")" ]]
	grep -q "monitoring in-process" "$KILN_ROOT/containers/$id/monitor.log"
	run kiln wait "$id"
	[ "$output" = "6" ]
	run kiln logs "$id"
	[ "$output" = "inproc" ]
}
