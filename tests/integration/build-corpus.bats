#!/usr/bin/env bats
# The Dockerfile corpus (tests/build-corpus/, one directory a case): each
# case is built by kiln and its config fields, history and file tree (minus
# the base image's) must be the case's expected.json and expected.tree; an
# error case must fail with the one line of expected.err and leave the store
# as it was. tests/build-corpus/update.sh regenerates the expected files and
# adds the @test line of a new case at the end of this file.

bats_require_minimum_version 1.5.0
load helpers
source "$REPO_ROOT/tests/build-corpus/corpus.sh"

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	local d="$BATS_FILE_TMPDIR"
	export KILN_ROOT="$d/base-store" KILN_RUNTIME_ROOT="$d/rt"
	corpus_base_tar "$d/bb.tar"
	kiln_import_base "$d/bb.tar"
	kiln_config "$CORPUS_BASE" "$d/base.cfg"
	kiln_rootfs "$CORPUS_BASE" "$d/base.root"
}

setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	setup_store
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	kiln_import_base "$BATS_FILE_TMPDIR/bb.tar"
}

teardown() {
	remove_containers
}

# case_base CASE: the base the case's tree and history are relative to, in
# BASE_ROOT and BASE_CFG; the Debian one is imported first (skipped when
# Debian's mirror is not reachable)
case_base() {
	local fd="$BATS_FILE_TMPDIR" t rc=0
	BASE_ROOT="$fd/base.root" BASE_CFG="$fd/base.cfg"
	corpus_needs_debian "$1" || return 0
	t=$(corpus_debian_rootfs 2>"$BATS_TEST_TMPDIR/debian.why") || rc=$?
	[ "$rc" -ne 2 ] || skip "no Debian base image: $(cat "$BATS_TEST_TMPDIR/debian.why")"
	[ "$rc" -eq 0 ]
	kiln import -q "$t" "$CORPUS_DEBIAN" >/dev/null
	BASE_ROOT="$fd/debian.root" BASE_CFG="$fd/debian.cfg"
	if [ ! -f "$BASE_CFG" ]; then
		kiln_config "$CORPUS_DEBIAN" "$BASE_CFG"
		kiln_rootfs "$CORPUS_DEBIAN" "$BASE_ROOT"
	fi
}

corpus_check() {
	local case=$1 d="$BATS_TEST_TMPDIR"
	local dir="$CORPUS_DIR/$case"
	case_base "$case"
	corpus_ctx "$case" "$d/ctx"
	if [ -f "$dir/expected.err" ]; then
		local before c
		# the base's layers unpacked first (a cache, as kiln run would make)
		c=$(kiln create "$CORPUS_BASE" true) && kiln rm "$c" >/dev/null
		before=$(store_state)
		if kiln_case_build "$case" "$d/ctx" "corpus/$case:out"; then
			echo "$case: the build succeeded, expected: $(cat "$dir/expected.err")"
			false
		fi
		[ "$(corpus_error_line "$d/ctx.err")" = "$(cat "$dir/expected.err")" ] || {
			echo "$case: error differs:"; diff <(cat "$dir/expected.err") <(corpus_error_line "$d/ctx.err"); false; }
		# nothing half-stored: no image, no blob, no layer, no temporary
		[ "$(store_state)" = "$before" ] || { echo "$case: the failed build changed the store"; false; }
		run -1 kiln inspect "corpus/$case:out"
		return
	fi
	kiln_case_build "$case" "$d/ctx" "corpus/$case:out" || { cat "$d/ctx.err"; false; }
	kiln_describe "corpus/$case:out" "$BASE_ROOT" "$BASE_CFG" "$d/out"
	diff -u --label "$case/expected.json" --label built "$dir/expected.json" "$d/out.json"
	diff -u --label "$case/expected.tree" --label built "$dir/expected.tree" "$d/out.tree"
}

@test "corpus: every case has a test and expected files" {
	local bad=""
	for c in $(corpus_cases); do
		grep -q "^@test \"corpus: $c\" " "$BATS_TEST_FILENAME" || bad+=" $c(no @test)"
		[ -f "$CORPUS_DIR/$c/expected.err" ] ||
			{ [ -f "$CORPUS_DIR/$c/expected.json" ] && [ -f "$CORPUS_DIR/$c/expected.tree" ]; } ||
			bad+=" $c(no expected files)"
	done
	[ -z "$bad" ] || { echo "corpus cases incomplete:$bad (tests/build-corpus/update.sh)"; false; }
}

@test "corpus: add-archives" { corpus_check add-archives; }

@test "corpus: args" { corpus_check args; }

@test "corpus: cmd-reset" { corpus_check cmd-reset; }

@test "corpus: copy-attrs" { corpus_check copy-attrs; }

@test "corpus: copy-chown-chmod" { corpus_check copy-chown-chmod; }

@test "corpus: copy-from" { corpus_check copy-from; }

@test "corpus: copy-rules" { corpus_check copy-rules; }

@test "corpus: dockerignore" { corpus_check dockerignore; }

@test "corpus: err-copy-from-missing-stage" { corpus_check err-copy-from-missing-stage; }

@test "corpus: err-copy-missing" { corpus_check err-copy-missing; }

@test "corpus: err-copy-parent" { corpus_check err-copy-parent; }

@test "corpus: err-copy-several-to-file" { corpus_check err-copy-several-to-file; }

@test "corpus: err-copy-symlink-escape" { corpus_check err-copy-symlink-escape; }

@test "corpus: err-from-missing" { corpus_check err-from-missing; }

@test "corpus: err-bad-duration" { corpus_check err-bad-duration; }

@test "corpus: err-run-fails" { corpus_check err-run-fails; }

@test "corpus: err-syntax" { corpus_check err-syntax; }

@test "corpus: err-unknown-instruction" { corpus_check err-unknown-instruction; }

@test "corpus: escape-directive" { corpus_check escape-directive; }

@test "corpus: expand" { corpus_check expand; }

@test "corpus: from-scratch" { corpus_check from-scratch; }

@test "corpus: healthcheck-none" { corpus_check healthcheck-none; }

@test "corpus: healthcheck-shell" { corpus_check healthcheck-shell; }

@test "corpus: healthcheck" { corpus_check healthcheck; }

@test "corpus: heredoc-copy" { corpus_check heredoc-copy; }

@test "corpus: heredoc-run" { corpus_check heredoc-run; }

@test "corpus: metadata" { corpus_check metadata; }

@test "corpus: onbuild-fire" { corpus_check onbuild-fire; }

@test "corpus: onbuild-store" { corpus_check onbuild-store; }

@test "corpus: run-env-user" { corpus_check run-env-user; }

@test "corpus: run-forms" { corpus_check run-forms; }

@test "corpus: run-mounts" { corpus_check run-mounts; }

@test "corpus: shell-forms" { corpus_check shell-forms; }

@test "corpus: stages-target" { corpus_check stages-target; }

@test "corpus: workdir" { corpus_check workdir; }

@test "corpus: run-secret" { corpus_check run-secret; }

@test "corpus: named-dockerfile" { corpus_check named-dockerfile; }

@test "corpus: cli-flags" { corpus_check cli-flags; }

@test "corpus: env-override" { corpus_check env-override; }

@test "corpus: label-inherit" { corpus_check label-inherit; }

@test "corpus: volume-run" { corpus_check volume-run; }

@test "corpus: add-chown" { corpus_check add-chown; }

@test "corpus: healthcheck-start-interval" { corpus_check healthcheck-start-interval; }

@test "corpus: run-network" { corpus_check run-network; }

@test "corpus: copy-exclude" { corpus_check copy-exclude; }

@test "corpus: copy-parents" { corpus_check copy-parents; }

@test "corpus: copy-link" { corpus_check copy-link; }

@test "corpus: copy-from-wildcard" { corpus_check copy-from-wildcard; }

@test "corpus: debian-app" { corpus_check debian-app; }

@test "corpus: platform-args" { corpus_check platform-args; }

@test "corpus: cmd-entrypoint" { corpus_check cmd-entrypoint; }

@test "corpus: cmd-reset-stage" { corpus_check cmd-reset-stage; }

@test "corpus: squash" { corpus_check squash; }

@test "corpus: squash-all" { corpus_check squash-all; }
