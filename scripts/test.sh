#!/usr/bin/env bash
# The whole test suite, one command: the Rust workspace, then the Python package (python/run_tests.sh
# builds the wheel in a virtual environment, installing what it needs with pip, and runs its tests).
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --release
# The CLI binary the workspace tests just built: the Python tests exchange files with it.
export METAFOREST_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/metaforest"
bash python/run_tests.sh
