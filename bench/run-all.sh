#!/bin/bash
# Run every benchmark in bench/ against the build in BUILD_DIR (default build).
# Results print to stdout; record them in docs/performance.md with the command.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
bench/layer.sh "$BUILD/cli/kiln"
bench/run.sh "$BUILD/cli/kiln"
