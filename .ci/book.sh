#!/usr/bin/env bash
# The book and the examples, for CI (called by .ci/run; also runnable alone: `bash .ci/book.sh`).
#
# 1. installs mdbook with `cargo install mdbook --locked` if it is missing (about 1m40s on 2 cores);
# 2. builds the book (`mdbook build book`), failing on any mdbook warning or error;
# 3. builds every example in release, then runs each with a time limit: on the data under
#    METAFOREST_DATA (an example that falls back to the synthetic networks fails when
#    METAFOREST_REQUIRE_DATA=1), then again on the synthetic networks (BOOK_SYNTHETIC=0 skips that);
#    example 07 also writes its smoke report into the built site, where chapter 7 shows its plot;
# 4. checks every internal link of the built site (.ci/book_links.py; external links are not fetched).
#
# Knobs: BOOK_EXAMPLE_TIMEOUT (seconds per example run, default 120), BOOK_SYNTHETIC (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
limit="${BOOK_EXAMPLE_TIMEOUT:-120}"
start=$(date +%s)
step() { echo "== book: $1 ($(( $(date +%s) - start )) s)"; }

if ! command -v mdbook >/dev/null 2>&1; then
    step "installing mdbook (cargo install mdbook --locked)"
    t=$(date +%s)
    cargo install mdbook --locked
    echo "mdbook installed in $(( $(date +%s) - t )) s"
fi

step "mdbook build book ($(mdbook --version))"
rm -rf book/book
log=$(mktemp)
trap 'rm -f "$log"' EXIT
mdbook build book 2>&1 | tee "$log"
if grep -Eq '(WARN|ERROR)' "$log"; then
    echo "mdbook reported warnings or errors (above)" >&2
    exit 1
fi

step "cargo build --release --examples -p metaforest"
cargo build --release --examples -p metaforest
bin_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/examples"

run_examples() { # $1 = label; the environment selects the data
    local label="$1" total=0 ex name args t secs out
    for ex in examples/[0-9][0-9]_*.rs; do
        name=$(basename "$ex" .rs)
        args=()
        if [[ "$name" == 07_* && "$label" == "data" ]]; then
            args=(book/book/example-07)
        fi
        t=$(date +%s%N)
        # The binaries built above, run directly: the time limit measures the example, not a rebuild.
        if ! out=$(timeout "$limit" "$bin_dir/$name" "${args[@]}" 2>&1); then
            echo "$out"
            echo "example $name ($label) failed or exceeded ${limit} s" >&2
            return 1
        fi
        secs=$(( ($(date +%s%N) - t) / 1000000 ))
        total=$(( total + secs ))
        if [[ "$label" == "data" && "${METAFOREST_REQUIRE_DATA:-}" == "1" ]] && grep -q "no data" <<<"$out"; then
            echo "$out"
            echo "example $name ran without the real data but METAFOREST_REQUIRE_DATA=1" >&2
            return 1
        fi
        printf '   %-36s %6s s  (%s)\n' "$name" "$(( secs / 1000 )).$(( secs % 1000 / 100 ))" "$label"
    done
    printf '   %-36s %6s s  (%s)\n' "all examples" "$(( total / 1000 )).$(( total % 1000 / 100 ))" "$label"
}

step "examples on the data at ${METAFOREST_DATA:-../shared/data (default)}"
run_examples data

if [[ "${BOOK_SYNTHETIC:-1}" == "1" ]]; then
    step "examples on the synthetic networks"
    METAFOREST_DATA=/nonexistent-metaforest-data METAFOREST_REQUIRE_DATA=0 run_examples synthetic
fi

step "internal links of book/book"
python3 .ci/book_links.py book/book

step "done"
