#!/usr/bin/env bats
# The command line itself: help, version, usage errors and exit codes.

load helpers

setup() { setup_store; }

@test "kiln --help lists the commands" {
	run kiln --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage:  kiln [OPTIONS] COMMAND"* ]]
	for c in import images tag rmi inspect history image system fsck version layer; do
		[[ "$output" == *"  $c "* ]]
	done
}

@test "every command has --help" {
	for c in import images tag rmi inspect history fsck version "image prune" "image unpack" \
		"system df" "system prune" "layer create" "layer diff" "layer apply" image system layer; do
		run kiln $c --help
		[ "$status" -eq 0 ]
		[[ "$output" == *"Usage:  kiln $c"* ]]
	done
}

@test "kiln version prints the version and libraries" {
	run kiln version
	[ "$status" -eq 0 ]
	[[ "$output" == "kiln version "* ]]
	[[ "$output" == *"libarchive"* ]]
	run kiln version --format json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.Version and .OsArch'
	run kiln version --format '{{.Version}}'
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "an unknown command exits 125 with one clear line" {
	run kiln frobnicate
	[ "$status" -eq 125 ]
	[[ "${lines[0]}" == 'Error: unknown command "frobnicate" for "kiln"' ]]
}

@test "an unknown flag exits 125" {
	run kiln images --bogus
	[ "$status" -eq 125 ]
	[[ "${lines[0]}" == "Error: unknown flag: --bogus" ]]
	[[ "$output" == *"See 'kiln images --help'."* ]]
}

@test "missing arguments exit 125" {
	run kiln tag onlyone
	[ "$status" -eq 125 ]
	run kiln import
	[ "$status" -eq 125 ]
	run kiln rmi
	[ "$status" -eq 125 ]
}

@test "--root and KILN_ROOT choose the store" {
	other="$BATS_TEST_TMPDIR/other"
	run kiln --root "$other" images
	[ "$status" -eq 0 ]
	[ -f "$other/oci/oci-layout" ]
	[ -f "$other/oci/index.json" ]
	[ -f "$other/kiln.db" ]
	run kiln --root="$other" images -q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "the default root is under XDG_DATA_HOME for a non-root user" {
	if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
		skip "needs root to switch to an unprivileged user"
	fi
	home=$(mktemp -d /tmp/kiln-home-XXXXXX)
	chown 65534:65534 "$home"
	if ! setpriv --reuid 65534 --regid 65534 --clear-groups test -x "$KILN"; then
		rm -rf "$home"
		skip "the kiln binary is not reachable for an unprivileged user here"
	fi
	install -d -o 65534 -g 65534 -m 700 "$home/run"
	run env -u KILN_ROOT HOME="$home" XDG_DATA_HOME="$home/data" XDG_RUNTIME_DIR="$home/run" \
		setpriv --reuid 65534 --regid 65534 --clear-groups "$KILN" images
	# rootless kiln made its pause process (the user's namespaces): ours to stop
	if [ -f "$home/run/kiln/pause.pid" ]; then
		kill "$(cut -d' ' -f1 "$home/run/kiln/pause.pid")" 2>/dev/null || true
	fi
	[ "$status" -eq 0 ]
	[ -f "$home/data/kiln/oci/index.json" ]
	rm -rf "$home"
}
