#!/bin/bash
# Regenerate the expected files of corpus cases from what kiln builds, for a
# human to review with `git diff` (check each change against Docker's and
# buildah's behaviour before committing it: the corpus is only worth what
# its expected files are). Also adds a missing @test line for a new case to
# tests/integration/build-corpus.bats and build-buildah.bats.
#   tests/build-corpus/update.sh [KILN] [CASE...]   (root; KILN defaults to build/cli/kiln)
set -euo pipefail
cd "$(dirname "$0")/../.."
KILN=$(realpath "${1:-build/cli/kiln}")
shift || true
export KILN
source tests/build-corpus/corpus.sh
W=$(mktemp -d /tmp/kiln-corpus-update.XXXXXX)
trap 'rm -rf "$W"' EXIT
export KILN_RUNTIME_ROOT="$W/rt"

cases=("$@")
[ ${#cases[@]} -gt 0 ] || mapfile -t cases < <(corpus_cases)

corpus_base_tar "$W/bb.tar"
export KILN_ROOT="$W/base-store"
kiln_import_base "$W/bb.tar"
kiln_config "$CORPUS_BASE" "$W/base.cfg"
kiln_rootfs "$CORPUS_BASE" "$W/base.root"

for case in "${cases[@]}"; do
	d="tests/build-corpus/$case"
	[ -f "$d/Dockerfile" ] || { echo "$case: no $d/Dockerfile" >&2; exit 1; }
	export KILN_ROOT="$W/store-$case"
	kiln_import_base "$W/bb.tar"
	base_root="$W/base.root" base_cfg="$W/base.cfg"
	if corpus_needs_debian "$case"; then
		t=$(corpus_debian_rootfs) || { echo "$case: no Debian base image, left as it was" >&2; continue; }
		"$KILN" import -q "$t" "$CORPUS_DEBIAN" >/dev/null
		base_root="$W/debian.root" base_cfg="$W/debian.cfg"
		if [ ! -f "$base_cfg" ]; then
			kiln_config "$CORPUS_DEBIAN" "$base_cfg"
			kiln_rootfs "$CORPUS_DEBIAN" "$base_root"
		fi
	fi
	corpus_ctx "$case" "$W/ctx-$case"
	rm -f "$d/expected.json" "$d/expected.tree"
	if kiln_case_build "$case" "$W/ctx-$case" "corpus/$case:out"; then
		[ ! -f "$d/expected.err" ] || echo "$case: builds now; removing expected.err" >&2
		rm -f "$d/expected.err"
		kiln_describe "corpus/$case:out" "$base_root" "$base_cfg" "$W/out-$case"
		cp "$W/out-$case.json" "$d/expected.json"
		cp "$W/out-$case.tree" "$d/expected.tree"
		echo "$case: ok"
	else
		corpus_error_line "$W/ctx-$case.err" >"$d/expected.err"
		echo "$case: error: $(cat "$d/expected.err")"
	fi
	for bats in tests/integration/build-corpus.bats tests/integration/build-buildah.bats; do
		[ -f "$bats" ] || continue
		grep -q "^@test \"corpus: $case\" " "$bats" ||
			printf '\n@test "corpus: %s" { %s %s; }\n' "$case" \
				"$([ "${bats##*/}" = build-corpus.bats ] && echo corpus_check || echo buildah_check)" "$case" >>"$bats"
	done
	rm -rf "$W/store-$case" "$W/ctx-$case" "$W/out-$case".*
done
