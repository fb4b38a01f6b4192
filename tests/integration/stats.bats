#!/usr/bin/env bats
# kiln stats: docker's columns and formats, CPU % from two samples, the
# live stream (redrawn on a terminal, a block an interval otherwise) and
# how it ends. No test asserts a duration or a rate beyond "some" and "none".

bats_require_minimum_version 1.5.0
load helpers

PTYDRIVE="$BATS_TEST_DIRNAME/ptydrive.py"

setup() {
	setup_store
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	import_busybox bb:1 >/dev/null
}

teardown() {
	if [ -n "${STATS_PID:-}" ]; then
		kill "$STATS_PID" 2>/dev/null || true
		wait "$STATS_PID" 2>/dev/null || true
	fi
	remove_containers
}

# wait (up to 20 s) until FILE's last block (from its last header line on)
# matches the extended regex; every block starts with CONTAINER ID
wait_last_block() {
	local file=$1 want=$2 nowant=${3:-}
	for _ in $(seq 1 200); do
		local last
		last=$(awk '/^CONTAINER ID/ {b=""} {b=b $0 "\n"} END {printf "%s", b}' "$file")
		# a complete block: header and rows (the next header proves it)
		if [ "$(grep -c '^CONTAINER ID' "$file")" -ge 2 ] && [[ "$last" =~ $want ]] &&
			{ [ -z "$nowant" ] || ! [[ "$last" =~ $nowant ]]; }; then
			return 0
		fi
		sleep 0.1
	done
	echo "last block of $file:"; cat "$file"
	return 1
}

@test "stats --no-stream: docker's columns, sizes and a row per running container" {
	kiln run -d --name s1 -m 64m bb:1 sleep 300 >/dev/null
	kiln create --name s2 bb:1 true >/dev/null
	run kiln stats --no-stream
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^CONTAINER\ ID\ +NAME\ +CPU\ %\ +MEM\ USAGE\ /\ LIMIT\ +MEM\ %\ +NET\ I/O\ +BLOCK\ I/O\ +PIDS$ ]]
	[ "${#lines[@]}" -eq 2 ]
	id=$(kiln inspect --format '{{.Id}}' s1)
	[[ "${lines[1]}" =~ ^${id:0:12}\ +s1\ +[0-9]+\.[0-9]{2}%\ +[0-9.]+[KMG]?i?B\ /\ 64MiB\ +[0-9]+\.[0-9]{2}%\ +[0-9.]+[kMG]?B\ /\ [0-9.]+[kMG]?B\ +[0-9.]+[kMG]?B\ /\ [0-9.]+[kMG]?B\ +1$ ]]
	# -a: also the ones not running, with docker's zeros
	run kiln stats --no-stream -a
	[ "${#lines[@]}" -eq 3 ]
	[[ "$output" =~ s2\ +0\.00%\ +0B\ /\ 0B\ +0\.00%\ +0B\ /\ 0B\ +0B\ /\ 0B\ +0 ]]
	# a container named explicitly is shown whatever its state
	run kiln stats --no-stream s2
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" == *s2* ]]
	run kiln stats --no-stream nosuch
	[ "$status" -eq 1 ]
	[ "$output" = "Error: no such container: nosuch" ]
}

@test "stats: CPU % is a rate between two samples, not the CPU time so far" {
	# a container that burns CPU first and then sleeps
	kiln run -d --name burn bb:1 sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; exec sleep 300' >/dev/null
	kiln run -d --name spin bb:1 sh -c 'while :; do :; done' >/dev/null
	# (the shell's own command line ends with "sleep 300" too: match the TIME column)
	for _ in $(seq 1 300); do
		kiln top burn | grep -qE ':[0-9]{2} +sleep 300$' && break
		sleep 0.1
	done
	kiln top burn | grep -qE ':[0-9]{2} +sleep 300$'
	run kiln stats --no-stream --format '{{.Name}} {{.CPUPerc}}' burn spin
	echo "$output"
	[ "$status" -eq 0 ]
	# burn has used CPU, but none between the two samples
	[ "${lines[0]}" = "burn 0.00%" ]
	# spin uses some (how much depends on the machine)
	[[ "${lines[1]}" =~ ^spin\ ([0-9]+)\.([0-9]{2})%$ ]]
	[ "${BASH_REMATCH[1]}${BASH_REMATCH[2]}" -gt 0 ]
}

@test "stats --format: json lines, a table template, a plain template, --no-trunc" {
	kiln run -d --name f1 bb:1 sleep 300 >/dev/null
	id=$(kiln inspect --format '{{.Id}}' f1)
	run kiln stats --no-stream --format json
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	echo "$output" | jq -e --arg id "${id:0:12}" '
		(keys == ["BlockIO","CPUPerc","Container","ID","MemPerc","MemUsage","Name","NetIO","PIDs"])
		and .ID == $id and .Container == $id and .Name == "f1" and .PIDs == "1"'
	# the name given is .Container
	run kiln stats --no-stream --format '{{json .}}' f1
	echo "$output" | jq -e '.Container == "f1"'
	run kiln stats --no-stream --format 'table {{.Name}}\t{{.PIDs}}'
	[ "${lines[0]}" = "NAME      PIDS" ]
	[ "${lines[1]}" = "f1        1" ]
	run kiln stats --no-stream --format '{{.ID}}:{{.Name}}'
	[ "$output" = "${id:0:12}:f1" ]
	run kiln stats --no-stream --no-trunc --format '{{.ID}}'
	[ "$output" = "$id" ]
	for f in '{{.ID' 'table {{.ID'; do
		run kiln stats --format "$f"   # (a stream: it must fail before it starts)
		[ "$status" -eq 1 ]
		[[ "$output" == "Error: template: "* ]]
		[ "${#lines[@]}" -eq 1 ]
	done
}

@test "stats streams a block an interval when not on a terminal; SIGTERM and SIGINT end it with 0" {
	kiln run -d --name a1 bb:1 sleep 300 >/dev/null
	kiln run -d --name a2 bb:1 sleep 300 >/dev/null
	out="$BATS_TEST_TMPDIR/stats.out"
	"$KILN" stats >"$out" 2>&1 &
	STATS_PID=$!
	wait_last_block "$out" 'a1.*a2|a2.*a1'
	# no terminal: no escape sequences
	! grep -q $'\033' "$out"
	# a container that exits drops out of the stream
	kiln kill a2 >/dev/null
	wait_last_block "$out" 'a1' 'a2'
	kill -TERM "$STATS_PID"
	st=0
	wait "$STATS_PID" || st=$?
	STATS_PID=
	[ "$st" -eq 0 ]

	# with -a it stays, with zeros; SIGINT ends it as Ctrl-C does
	"$KILN" stats -a >"$out.a" 2>&1 &
	STATS_PID=$!
	wait_last_block "$out.a" 'a2 +0\.00% +0B / 0B'
	kill -INT "$STATS_PID"
	st=0
	wait "$STATS_PID" || st=$?
	STATS_PID=
	[ "$st" -eq 0 ]
}

@test "stats of named containers ends by itself once they are all removed" {
	kiln run -d --name n1 bb:1 sleep 300 >/dev/null
	out="$BATS_TEST_TMPDIR/stats.out"
	"$KILN" stats --format 'table {{.Name}}\t{{.PIDs}}' n1 >"$out" 2>&1 &
	STATS_PID=$!
	for _ in $(seq 1 200); do
		grep -q '^n1' "$out" && break
		sleep 0.1
	done
	grep -q '^n1 ' "$out"
	kiln rm -f n1 >/dev/null
	st=0
	wait "$STATS_PID" || st=$?
	STATS_PID=
	[ "$st" -eq 0 ]
}

@test "stats on a terminal redraws the table in place; Ctrl-C ends it with 0" {
	kiln run -d --name t1 bb:1 sleep 300 >/dev/null
	# the first frame clears the screen, the next ones go back to the top
	# left; every line is erased to its end, and the rest of the screen after it
	run python3 "$PTYDRIVE" 'expect:\x1b\[2J\x1b\[HCONTAINER ID.*\x1b\[K\r?\n.*t1 .*\x1b\[K\r?\n\x1b\[J' \
		'expect:\x1b\[HCONTAINER ID.*\x1b\[K\r?\n.*t1 .*\x1b\[K\r?\n\x1b\[J' 'send:\x03' -- "$KILN" stats
	echo "$output"
	[ "$status" -eq 0 ]
	# --no-stream prints once, plainly
	run python3 "$PTYDRIVE" -- "$KILN" stats --no-stream
	[ "$status" -eq 0 ]
	[[ "$output" != *$'\033'* ]]
	[[ "$output" == *t1* ]]
}

@test "stats --help documents the stream and the formats" {
	run kiln stats --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--no-stream"* ]]
	[[ "$output" == *"--no-trunc"* ]]
	[[ "$output" == *"--format"* ]]
	[[ "$output" == *"-a, --all"* ]]
}
