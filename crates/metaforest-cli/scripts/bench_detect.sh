#!/usr/bin/env bash
# Throughput of `metaforest detect` (rows/s, standard input → standard output) and single-flow latency
# (--batch 1: every flow scored and flushed on its own), on the NF-ToN-IoT-v2 file after meta-training on
# the three other NF-v2 data sets. Usage: bench_detect.sh [path/to/metaforest] (default: release build).
# Needs the NF-v2 data (METAFOREST_DATA or ../shared/data from the workspace root).
set -eu
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
BIN="${1:-${CARGO_TARGET_DIR:-$ROOT/target}/release/metaforest}"
DATA="${METAFOREST_DATA:-$ROOT/../shared/data}"
TON="$DATA/nf-v2/NF-ToN-IoT-v2.sample.csv.gz"
[ -f "$TON" ] || { echo "skipped: no data at $DATA"; exit 0; }
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT

"$BIN" --data "$DATA" train --domains UNSW,CSE,BoT --episodes 120 --trees 30 --max-rows 8000 \
  --no-progress -o "$TMP/model.mf" >/dev/null
# Support: 20 benign + 20 attack flows from the head of the file; the stream: the whole file.
zcat "$TON" | head -1 > "$TMP/support.csv"
zcat "$TON" | tail -n +2 | awk -F, '$42==0' | head -20 >> "$TMP/support.csv"
zcat "$TON" | tail -n +2 | awk -F, '$42==1' | head -20 >> "$TMP/support.csv"
"$BIN" adapt "$TMP/model.mf" --support "$TMP/support.csv" -o "$TMP/det.mfd" >/dev/null
zcat "$TON" > "$TMP/stream.csv"
ROWS=$(($(wc -l < "$TMP/stream.csv") - 1))

t() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
echo "rows: $ROWS"
for b in 256 1024; do
  secs=$(t sh -c "\"$BIN\" detect \"$TMP/det.mfd\" - --batch $b < \"$TMP/stream.csv\" > /dev/null 2>\"$TMP/err\"")
  echo "batch $b: $(printf %.2f "$secs") s, $(echo "$ROWS / $secs" | bc) rows/s  ($(tail -2 "$TMP/err" | head -1))"
done
# The raw forest side by side, through the same reader and writer: a 100-tree plain forest on the stream's first
# 20,000 rows, scoring the whole stream (`forest predict` scores row by row).
head -20001 "$TMP/stream.csv" > "$TMP/mid.csv"
"$BIN" forest fit "$TMP/mid.csv" --trees 100 -o "$TMP/raw.mff" >/dev/null 2>&1
secs=$(t sh -c "\"$BIN\" forest predict \"$TMP/raw.mff\" \"$TMP/stream.csv\" > /dev/null 2>/dev/null")
echo "raw 100-tree forest (forest predict): $(printf %.2f "$secs") s, $(echo "$ROWS / $secs" | bc) rows/s"
head -2001 "$TMP/stream.csv" > "$TMP/small.csv"
secs=$(t sh -c "\"$BIN\" detect \"$TMP/det.mfd\" - --batch 1 < \"$TMP/small.csv\" > /dev/null 2>/dev/null")
echo "batch 1 (single-flow latency): 2000 rows in $(printf %.2f "$secs") s = $(echo "scale=1; $secs * 1000000 / 2000" | bc) µs per flow (incl. process start and model load)"
head -2 "$TMP/stream.csv" > "$TMP/one.csv"
secs=$(t sh -c "\"$BIN\" detect \"$TMP/det.mfd\" - --batch 1 < \"$TMP/one.csv\" > /dev/null 2>/dev/null")
echo "one flow end to end (process start + model load + score): $(printf %.3f "$secs") s"
secs=$(t sh -c "\"$BIN\" detect \"$TMP/det.mfd\" - --reasons 3 < \"$TMP/small.csv\" > /dev/null 2>/dev/null")
echo "with --reasons 3: 2000 rows in $(printf %.2f "$secs") s"
secs=$(t sh -c "\"$BIN\" detect \"$TMP/det.mfd\" - --batch 1024 --reasons 3 < \"$TMP/stream.csv\" > /dev/null 2>/dev/null")
echo "with --reasons 3, batch 1024: $(printf %.2f "$secs") s, $(echo "$ROWS / $secs" | bc) rows/s"
