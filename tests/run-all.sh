#!/bin/bash
# Run every suite (unit, integration, interop, fuzz) and print one summary:
# the last line is "N passed, N failed" summed over all suites.
#   tests/run-all.sh ASAN_BUILD_DIR FUZZ_BUILD_DIR
set -uo pipefail
cd "$(dirname "$0")/.."
ASAN_BUILD=${1:-build-asan}
FUZZ_BUILD=${2:-build-fuzz}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export KILN="$PWD/$ASAN_BUILD/cli/kiln"
passed=0
failed=0
out=$(mktemp -d /tmp/kiln-check-XXXXXX)

echo "=== unit tests (cmocka, ASan+UBSan) ==="
meson test -C "$ASAN_BUILD" --suite unit --print-errorlogs >"$out/unit.log" 2>&1
tail -n 15 "$out/unit.log"
read -r up uf < <(python3 - "$ASAN_BUILD/meson-logs/testlog.json" <<'PY'
import json, re, sys
p = f = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    out = t.get("stdout", "") + t.get("stderr", "")
    ok = sum(int(n) for n in re.findall(r"\[  PASSED  \] (\d+) test", out))
    bad = sum(int(n) for n in re.findall(r"\[  FAILED  \] (\d+) test", out))
    if t.get("result") != "OK" and bad == 0:
        bad = 1
    p += ok
    f += bad
print(p, f)
PY
)
echo "unit: $up passed, $uf failed"
passed=$((passed + up)); failed=$((failed + uf))

echo "=== integration and interop tests (bats, ASan+UBSan kiln) ==="
bats --tap tests/integration >"$out/bats.log" 2>&1
grep -E '^(not ok|ok)' "$out/bats.log" | grep -E '^not ok' -A0 || true
grep -E '^# ' "$out/bats.log" | head -n 60 || true
bp=$(grep -cE '^ok ' "$out/bats.log")
bf=$(grep -cE '^not ok ' "$out/bats.log")
if [ "$bp" -eq 0 ] && [ "$bf" -eq 0 ]; then
	tail -n 20 "$out/bats.log"
	bf=1
fi
echo "integration: $bp passed, $bf failed"
passed=$((passed + bp)); failed=$((failed + bf))

echo "=== fuzzers (libFuzzer, ${FUZZ_SECONDS:-20}s each) ==="
FUZZ_SECONDS=${FUZZ_SECONDS:-20} tests/fuzz/run.sh "$FUZZ_BUILD" >"$out/fuzz.log" 2>&1
grep -E '^fuzz' "$out/fuzz.log" || tail -n 20 "$out/fuzz.log"
fp=$(grep -cE '^fuzz .*: ok' "$out/fuzz.log")
ff=$(grep -cE '^fuzz .*: FAILED' "$out/fuzz.log")
echo "fuzz: $fp passed, $ff failed"
passed=$((passed + fp)); failed=$((failed + ff))

rm -rf "$out"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
