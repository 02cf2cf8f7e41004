#!/usr/bin/env bash
# Scoring benchmark: throughput (rows/s, MB/s) of the audiobooks and shopping models on seeded
# synthetic CSVs, and peak memory (/usr/bin/time -v) for a 1 GB input against a 100 MB input.
# Usage: bash scripts/bench-score.sh [WORKDIR]   (needs ~2.5 GB free in WORKDIR)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
cargo build --release -q -p propensity-cli
P=target/release/propensity
$P audiobooks --out "$work/ab" --no-record > /dev/null
$P shopping --out "$work/sh" --no-record > /dev/null
$P generate audiobooks --rows 1900000 --seed 1 --output "$work/ab100.csv"
$P generate audiobooks --rows 19000000 --seed 2 --output "$work/ab1g.csv"
$P generate shopping --rows 1200000 --seed 3 --output "$work/sh100.csv"
for run in "ab/model.json ab100" "ab/model.json ab1g" "sh/model.json sh100"; do
    set -- $run
    echo "--- $2.csv ($(du -h "$work/$2.csv" | cut -f1))"
    /usr/bin/time -v $P score --model "$work/$1" --input "$work/$2.csv" --output "$work/$2.scores.csv" 2> "$work/$2.time"
    grep -E "Maximum resident set size|Elapsed" "$work/$2.time"
done
rm -f "$work"/*.csv
