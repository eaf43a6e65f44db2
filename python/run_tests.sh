#!/usr/bin/env bash
# Builds the metaforest wheel with maturin into a virtual environment and runs the Python tests.
#   python/run_tests.sh            (from anywhere; VENV=path to reuse another environment)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${VENV:-$here/target/venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "maturin>=1.5,<2" "pytest>=7" numpy pandas pyarrow "scikit-learn>=1.6" "ray>=2.9"

# A release build: the estimator checks fit hundreds of small forests. It shares the repository's
# target/ so dependencies the root workspace already compiled at the same versions are reused.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(cd "$here/.." && pwd)/target}"
wheels="$here/target/wheels"
rm -rf "$wheels"
(cd "$here" && "$venv/bin/maturin" build --release --out "$wheels" --quiet)
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$wheels"/metaforest-*.whl

# The CLI binary, for the tests that exchange files with it (cargo's no-op when it is up to date).
if [ -z "${METAFOREST_BIN:-}" ]; then
    (cd "$here/.." && cargo build --release --quiet -p metaforest-cli)
    export METAFOREST_BIN="$CARGO_TARGET_DIR/release/metaforest"
fi

# Run from the tests folder so `import metaforest` finds the installed wheel, not the sources.
cd "$here/tests"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" .
