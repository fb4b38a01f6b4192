#!/usr/bin/env bats
# Healthchecks: --health-* flags, the image's HEALTHCHECK, `kiln healthcheck
# run`, State.Health, ps's health suffix, and the monitor's periodic checks.

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

health() {
	kiln inspect --format '{{json .State.Health}}' "$1" | jq -r "$2"
}

@test "a healthy check: exit 0, nothing printed, State.Health healthy with a Log" {
	kiln run -d --name h1 --health-cmd 'echo ok; true' bb:1 sleep 100
	run kiln inspect --format '{{json .Config.Healthcheck}}' h1
	[ "$(jq -c .Test <<<"$output")" = '["CMD-SHELL","echo ok; true"]' ]
	[ "$(health h1 .Status)" = starting ]
	run kiln ps
	[[ "$output" == *"(health: starting)"* ]]
	run kiln healthcheck run h1
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(health h1 .Status)" = healthy ]
	[ "$(health h1 .FailingStreak)" = 0 ]
	[ "$(health h1 '.Log | length')" = 1 ]
	[ "$(health h1 '.Log[0].ExitCode')" = 0 ]
	[ "$(health h1 '.Log[0].Output | @json')" = '"ok\n"' ]
	[ "$(health h1 '.Log[0].Start | length > 0')" = true ]
	run kiln ps
	[[ "$output" == *"(healthy)"* ]]
}

@test "an unhealthy check after --health-retries failures; the Log keeps 5" {
	kiln run -d --name u1 --health-cmd 'echo bad >&2; exit 2' --health-retries 2 bb:1 sleep 100
	run kiln healthcheck run u1
	[ "$status" -eq 1 ]
	[ "$output" = unhealthy ]
	[ "$(health u1 .Status)" = starting ]
	[ "$(health u1 .FailingStreak)" = 1 ]
	run kiln healthcheck run u1
	[ "$status" -eq 1 ]
	[ "$(health u1 .Status)" = unhealthy ]
	[ "$(health u1 '.Log[1].ExitCode')" = 2 ]
	[ "$(health u1 '.Log[1].Output | @json')" = '"bad\n"' ]
	run kiln ps
	[[ "$output" == *"(unhealthy)"* ]]
	for i in 1 2 3 4; do kiln healthcheck run u1 || true; done
	[ "$(health u1 '.Log | length')" = 5 ]
	[ "$(health u1 .FailingStreak)" = 6 ]
}

@test "success resets the failing streak" {
	kiln run -d --name r1 --health-cmd 'test -e /tmp/ok' --health-retries 1 bb:1 sleep 100
	run kiln healthcheck run r1
	[ "$status" -eq 1 ]
	[ "$(health r1 .Status)" = unhealthy ]
	kiln exec r1 touch /tmp/ok
	kiln healthcheck run r1
	[ "$(health r1 .Status)" = healthy ]
	[ "$(health r1 .FailingStreak)" = 0 ]
}

@test "failures within --health-start-period do not count" {
	kiln run -d --name s1 --health-cmd false --health-retries 1 --health-start-period 1m bb:1 sleep 100
	run kiln healthcheck run s1
	[ "$status" -eq 1 ]
	[ "$(health s1 .Status)" = starting ]
	[ "$(health s1 .FailingStreak)" = 0 ]
}

@test "a check running past --health-timeout is killed and fails" {
	kiln run -d --name t1 --health-cmd 'sleep 30' --health-timeout 500ms --health-retries 1 bb:1 sleep 100
	SECONDS=0
	run kiln healthcheck run t1
	[ "$status" -eq 1 ]
	[ "$SECONDS" -lt 5 ]
	[ "$(health t1 .Status)" = unhealthy ]
	[ "$(health t1 '.Log[0].ExitCode')" = -1 ]
	[[ "$(health t1 '.Log[0].Output')" == *"exceeded timeout"* ]]
}

@test "output is capped at 4 KiB" {
	kiln run -d --name o1 --health-cmd 'yes x | head -c 10000' bb:1 sleep 100
	kiln healthcheck run o1
	[ "$(health o1 '.Log[0].Output | length')" = 4096 ]
}

@test "the image's HEALTHCHECK is inherited; flags override it; --no-healthcheck drops it" {
	kiln create --name base bb:1 true >/dev/null
	kiln commit -c 'HEALTHCHECK --interval=5m --timeout=3s --retries=4 CMD ["test","-d","/"]' base hc:1
	run kiln image inspect --format '{{json .Config.Healthcheck}}' hc:1
	[ "$(jq -c . <<<"$output")" = '{"Interval":300000000000,"Timeout":3000000000,"Retries":4,"Test":["CMD","test","-d","/"]}' ]
	kiln run -d --name i1 hc:1 sleep 100
	run kiln inspect --format '{{json .Config.Healthcheck}}' i1
	[ "$(jq -c .Test <<<"$output")" = '["CMD","test","-d","/"]' ]
	kiln healthcheck run i1
	[ "$(health i1 .Status)" = healthy ]
	kiln run -d --name i2 --health-cmd false --health-retries 1 hc:1 sleep 100
	run kiln inspect --format '{{json .Config.Healthcheck}}' i2
	[ "$(jq -c .Test <<<"$output")" = '["CMD-SHELL","false"]' ]
	[ "$(jq -c .Interval <<<"$output")" = 300000000000 ]
	run kiln healthcheck run i2
	[ "$status" -eq 1 ]
	kiln run -d --name i3 --no-healthcheck hc:1 sleep 100
	run kiln healthcheck run i3
	[ "$status" -eq 125 ]
	[[ "$output" == *"container i3 has no defined healthcheck"* ]]
	run kiln inspect --format '{{json .State.Health}}' i3
	[ "$output" = null ]
	run kiln ps
	[[ "$(grep -w i3 <<<"$output")" != *health* ]]
	[[ "$(grep -w i1 <<<"$output")" == *"(healthy)"* ]]
	kiln commit -c 'HEALTHCHECK NONE' base hc:2
	run kiln image inspect --format '{{json .Config.Healthcheck.Test}}' hc:2
	[ "$output" = '["NONE"]' ]
	run kiln commit -c 'HEALTHCHECK --bogus=1 CMD true' base hc:3
	[ "$status" -ne 0 ]
}

@test "healthcheck run errors: no healthcheck, not running, no such container" {
	kiln run -d --name n1 bb:1 sleep 100
	run kiln healthcheck run n1
	[ "$status" -eq 125 ]
	[[ "$output" == *"container n1 has no defined healthcheck"* ]]
	kiln create --name n2 --health-cmd true bb:1 true >/dev/null
	run kiln healthcheck run n2
	[ "$status" -eq 125 ]
	[[ "$output" == *"not running"* ]]
	run kiln healthcheck run nosuch
	[ "$status" -eq 125 ]
	run kiln run --health-interval 10 bb:1 true
	[ "$status" -eq 125 ]
	[[ "$output" == *"invalid duration"* ]]
}

@test "the monitor runs checks every --health-interval" {
	kiln run -d --name p1 --health-cmd true --health-interval 1s bb:1 sleep 100
	for i in $(seq 50); do
		[ "$(health p1 .Status)" = healthy ] && break
		sleep 0.2
	done
	[ "$(health p1 .Status)" = healthy ]
	sleep 2.5
	[ "$(health p1 '.Log | length')" -ge 2 ]
	# a container that goes unhealthy
	kiln run -d --name p2 --health-cmd false --health-interval 1s --health-retries 2 bb:1 sleep 100
	for i in $(seq 50); do
		[ "$(health p2 .Status)" = unhealthy ] && break
		sleep 0.2
	done
	[ "$(health p2 .Status)" = unhealthy ]
	# stopping keeps the record's exit
	kiln stop -t 1 p1
	run kiln inspect --format '{{.State.Status}}' p1
	[ "$output" = exited ]
}
