#!/bin/bash
# Run each libFuzzer target for FUZZ_SECONDS on a copy of its seed corpus.
# Prints "fuzz NAME: ok" or "fuzz NAME: FAILED" per target.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build-fuzz}
SECS=${FUZZ_SECONDS:-20}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
for name in reference manifest layer_apply dockerignore dockerfile; do
	bin="$BUILD/tests/fuzz/fuzz-${name//_/-}"
	if [ ! -x "$bin" ]; then
		echo "fuzz $name: FAILED (no binary $bin)"
		continue
	fi
	work=$(mktemp -d /tmp/kiln-fuzz-XXXXXX)
	cp -r "tests/fuzz/corpus/$name/." "$work/" 2>/dev/null || true
	if (cd "$work" && "$OLDPWD/$bin" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 \
		-artifact_prefix="$work/" . >"$work.log" 2>&1); then
		echo "fuzz $name: ok ($(grep -oE 'Done [0-9]+ runs' "$work.log" | tail -1))"
	else
		echo "fuzz $name: FAILED"
		tail -n 40 "$work.log"
		ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null
	fi
	rm -rf "$work" "$work.log"
done
