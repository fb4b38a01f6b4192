#!/usr/bin/env bats
# The differential test: every case of tests/build-corpus built by kiln and
# by `buildah bud` (Debian's buildah 1.28, a private overlay store under the
# test's temp dir, --layers, chroot isolation), then the config fields,
# history and file trees compared. A case buildah does not support carries
# buildah.skip (the reason); a difference kiln keeps on purpose is the
# case's buildah.diff (the exact diff, each one explained in
# docs/guide/build-compat.md), so a new difference, or one that went away,
# fails the test. Error cases: both must fail.
# One @test line per case at the end (tests/build-corpus/update.sh adds it).
# BUILDAH_DIFF_UPDATE=1 writes each case's difference to its buildah.diff
# (review it with git diff, and explain it in build-compat.md).

bats_require_minimum_version 1.5.0
load helpers
source "$REPO_ROOT/tests/build-corpus/corpus.sh"

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	command -v buildah >/dev/null || return 0
	local d="$BATS_FILE_TMPDIR"
	export BUILDAH_ROOT="$d/buildah"
	export KILN_ROOT="$d/base-store" KILN_RUNTIME_ROOT="$d/rt"
	corpus_base_tar "$d/bb.tar"
	kiln_import_base "$d/bb.tar"
	kiln_config "$CORPUS_BASE" "$d/base.cfg"
	kiln_rootfs "$CORPUS_BASE" "$d/kiln-base.root"
	buildah_import_base
	buildah_rootfs "$CORPUS_BASE" "$d/buildah-base.root"
}

teardown_file() {
	[ -n "${BUILDAH_ROOT:-}" ] && [ -d "$BUILDAH_ROOT" ] || return 0
	buildah_cleanup
}

setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	command -v buildah >/dev/null || skip "buildah is not installed (make deps)"
	setup_store
	export KILN_RUNTIME_ROOT="$BATS_TEST_TMPDIR/rt"
	kiln_import_base "$BATS_FILE_TMPDIR/bb.tar"
}

teardown() {
	remove_containers
}

# case_base CASE: the base the case's tree and history are relative to, in
# KBASE_ROOT, BBASE_ROOT (kiln's and buildah's view) and BASE_CFG; the Debian
# one is imported into both stores first (skipped, with the reason, when it
# cannot be made here)
case_base() {
	local fd="$BATS_FILE_TMPDIR" t rc=0
	KBASE_ROOT="$fd/kiln-base.root" BBASE_ROOT="$fd/buildah-base.root" BASE_CFG="$fd/base.cfg"
	corpus_needs_debian "$1" || return 0
	t=$(corpus_debian_rootfs 2>"$BATS_TEST_TMPDIR/debian.why") || rc=$?
	[ "$rc" -ne 2 ] || skip "no Debian base image: $(cat "$BATS_TEST_TMPDIR/debian.why")"
	[ "$rc" -eq 0 ]
	"$KILN" import -q "$t" "$CORPUS_DEBIAN" >/dev/null
	KBASE_ROOT="$fd/kiln-debian.root" BBASE_ROOT="$fd/buildah-debian.root" BASE_CFG="$fd/debian.cfg"
	if [ ! -f "$BASE_CFG" ]; then
		kiln_config "$CORPUS_DEBIAN" "$BASE_CFG"
		kiln_rootfs "$CORPUS_DEBIAN" "$KBASE_ROOT"
		buildah_import_base "$CORPUS_DEBIAN"
		buildah_rootfs "$CORPUS_DEBIAN" "$BBASE_ROOT"
	fi
}

buildah_check() {
	local case=$1 d="$BATS_TEST_TMPDIR" fd="$BATS_FILE_TMPDIR"
	local dir="$CORPUS_DIR/$case"
	[ ! -f "$dir/buildah.skip" ] || skip "buildah: $(head -n 1 "$dir/buildah.skip")"
	case_base "$case"
	corpus_ctx "$case" "$d/ctx"
	local krc=0 brc=0
	kiln_case_build "$case" "$d/ctx" "corpus/$case:out" || krc=1
	buildah_case_build "$case" "$d/ctx" "corpus/$case:out" || brc=1
	if [ -f "$dir/expected.err" ]; then
		echo "kiln: $(corpus_error_line "$d/ctx.err")"
		echo "buildah: $(grep -i 'error' "$d/ctx.berr" | tail -n 1)"
		[ "$krc" -eq 1 ] && [ "$brc" -eq 1 ]
		return
	fi
	[ "$krc" -eq 0 ] || { cat "$d/ctx.err"; false; }
	[ "$brc" -eq 0 ] || { cat "$d/ctx.berr"; false; }
	kiln_describe "corpus/$case:out" "$KBASE_ROOT" "$BASE_CFG" "$d/kiln" --buildah
	buildah_describe "corpus/$case:out" "$BBASE_ROOT" "$BASE_CFG" "$d/buildah"
	{
		diff -u --label kiln.json --label buildah.json "$d/kiln.json" "$d/buildah.json"
		diff -u --label kiln.tree --label buildah.tree "$d/kiln.tree" "$d/buildah.tree"
	} >"$d/diff" || true
	if [ -n "${BUILDAH_DIFF_UPDATE:-}" ]; then # record the difference, for review
		if [ -s "$d/diff" ]; then cp "$d/diff" "$dir/buildah.diff"; else rm -f "$dir/buildah.diff"; fi
	fi
	local want=/dev/null
	[ ! -f "$dir/buildah.diff" ] || want="$dir/buildah.diff"
	if ! cmp -s "$d/diff" "$want"; then
		echo "kiln and buildah differ from what $case/buildah.diff records:"
		diff -u --label recorded --label now "$want" "$d/diff" || true
		false
	fi
}

@test "corpus: every case has a test in this file" {
	local missing=""
	for c in $(corpus_cases); do
		grep -q "^@test \"corpus: $c\" " "$BATS_TEST_FILENAME" || missing+=" $c"
	done
	[ -z "$missing" ] || { echo "no @test for:$missing (tests/build-corpus/update.sh adds it)"; false; }
}

@test "corpus: add-archives" { buildah_check add-archives; }

@test "corpus: args" { buildah_check args; }

@test "corpus: cmd-reset" { buildah_check cmd-reset; }

@test "corpus: copy-attrs" { buildah_check copy-attrs; }

@test "corpus: copy-chown-chmod" { buildah_check copy-chown-chmod; }

@test "corpus: copy-from" { buildah_check copy-from; }

@test "corpus: copy-rules" { buildah_check copy-rules; }

@test "corpus: dockerignore" { buildah_check dockerignore; }

@test "corpus: err-copy-from-missing-stage" { buildah_check err-copy-from-missing-stage; }

@test "corpus: err-copy-missing" { buildah_check err-copy-missing; }

@test "corpus: err-copy-parent" { buildah_check err-copy-parent; }

@test "corpus: err-copy-several-to-file" { buildah_check err-copy-several-to-file; }

@test "corpus: err-copy-symlink-escape" { buildah_check err-copy-symlink-escape; }

@test "corpus: err-from-missing" { buildah_check err-from-missing; }

@test "corpus: err-bad-duration" { buildah_check err-bad-duration; }

@test "corpus: err-run-fails" { buildah_check err-run-fails; }

@test "corpus: err-syntax" { buildah_check err-syntax; }

@test "corpus: err-unknown-instruction" { buildah_check err-unknown-instruction; }

@test "corpus: escape-directive" { buildah_check escape-directive; }

@test "corpus: expand" { buildah_check expand; }

@test "corpus: from-scratch" { buildah_check from-scratch; }

@test "corpus: healthcheck-none" { buildah_check healthcheck-none; }

@test "corpus: healthcheck-shell" { buildah_check healthcheck-shell; }

@test "corpus: healthcheck" { buildah_check healthcheck; }

@test "corpus: heredoc-copy" { buildah_check heredoc-copy; }

@test "corpus: heredoc-run" { buildah_check heredoc-run; }

@test "corpus: metadata" { buildah_check metadata; }

@test "corpus: onbuild-fire" { buildah_check onbuild-fire; }

@test "corpus: onbuild-store" { buildah_check onbuild-store; }

@test "corpus: run-env-user" { buildah_check run-env-user; }

@test "corpus: run-forms" { buildah_check run-forms; }

@test "corpus: run-mounts" { buildah_check run-mounts; }

@test "corpus: shell-forms" { buildah_check shell-forms; }

@test "corpus: stages-target" { buildah_check stages-target; }

@test "corpus: workdir" { buildah_check workdir; }

@test "corpus: run-secret" { buildah_check run-secret; }

@test "corpus: named-dockerfile" { buildah_check named-dockerfile; }

@test "corpus: cli-flags" { buildah_check cli-flags; }

@test "corpus: env-override" { buildah_check env-override; }

@test "corpus: label-inherit" { buildah_check label-inherit; }

@test "corpus: volume-run" { buildah_check volume-run; }

@test "corpus: add-chown" { buildah_check add-chown; }

@test "corpus: healthcheck-start-interval" { buildah_check healthcheck-start-interval; }

@test "corpus: run-network" { buildah_check run-network; }

@test "corpus: copy-exclude" { buildah_check copy-exclude; }

@test "corpus: copy-parents" { buildah_check copy-parents; }

@test "corpus: copy-link" { buildah_check copy-link; }

@test "corpus: copy-from-wildcard" { buildah_check copy-from-wildcard; }

@test "corpus: debian-app" { buildah_check debian-app; }

@test "corpus: platform-args" { buildah_check platform-args; }

@test "corpus: cmd-entrypoint" { buildah_check cmd-entrypoint; }

@test "corpus: cmd-reset-stage" { buildah_check cmd-reset-stage; }

@test "corpus: squash" { buildah_check squash; }

@test "corpus: squash-all" { buildah_check squash-all; }
