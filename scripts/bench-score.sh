#!/usr/bin/env bash
# Scoring benchmark, ours and the Python peers in one run: the audiobooks model on 1.9 M seeded
# synthetic customers (100 MB of CSV), CSV → CSV and Parquet → Parquet, rows/s and peak memory
# (/usr/bin/time -v), then peak memory for a 1 GB CSV (and with BENCH_10G=1 a 10 GB one) against the
# 100 MB one.
# Usage: PEER_PYTHON=/path/to/python bash scripts/bench-score.sh [WORKDIR]
#   PEER_PYTHON needs torch, polars, pandas and pyarrow; the peers are ../shared/anchors/score_polars.py
#   and score_pandas.py (skipped when absent) and scripts/score_polars_parquet.py.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
py=${PEER_PYTHON:-python3}
anchors=../shared/anchors
cargo build --release -q -p propensity-cli
cp target/release/propensity "$work/propensity-csv"       # the default build: the streaming CSV scorer
cargo build --release -q -p propensity-cli --features arrow
cp target/release/propensity "$work/propensity"           # with --features arrow: score_batch
P=$work/propensity
$P audiobooks --out "$work/ab" --no-record > /dev/null
$P generate audiobooks --rows 1900000 --seed 1 --output "$work/ab100.csv" > /dev/null
"$py" -c "
import pyarrow.csv as c, pyarrow.parquet as pq, sys
t = c.read_csv(sys.argv[1]); t = t.rename_columns([n.strip() for n in t.column_names])
pq.write_table(t, sys.argv[2])" "$work/ab100.csv" "$work/ab100.parquet"
model=$work/ab/model.json
# the peers read the scaler at preprocessing.scaler (the anchors' layout); ours keeps it in the pipeline
python3 -c "
import json, sys
m = json.load(open(sys.argv[1])); s = m['preprocessing']['pipeline']['scaler']
json.dump({'preprocessing': {'scaler': s}}, open(sys.argv[2], 'w'))" "$model" "$work/peer-model.json"
rate() { # label, command...: wall time, rows/s and peak memory
    local label=$1; shift
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$work/mem" "$@" > "$work/said"
    t1=$(date +%s.%N)
    python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'{sys.argv[3]:<44} {s:6.2f} s {1.9e6/s/1e6:6.2f} M rows/s  peak {int(sys.argv[4])//1024:5d} MB')" "$t0" "$t1" "$label" "$(cat "$work/mem")"
    # a peer's own timer leaves out Python's start and its imports (~2 s for torch): shown too
    case "$label" in *PyTorch*) echo "    its own timer: $(tail -1 "$work/said")" ;; esac
}
echo "--- 1,900,000 rows: ab100.csv $(du -h "$work/ab100.csv" | cut -f1), ab100.parquet $(du -h "$work/ab100.parquet" | cut -f1)"
for round in 1 2; do
    echo "round $round"
    rate "propensity CSV → CSV (score_batch)" $P score --model "$model" --input "$work/ab100.csv" --output "$work/o.csv"
    rate "propensity CSV → CSV (default build)" "$work/propensity-csv" score --model "$model" --input "$work/ab100.csv" --output "$work/o2.csv"
    rate "propensity Parquet → Parquet" $P score --model "$model" --input "$work/ab100.parquet" --output "$work/o.parquet"
    [ -f $anchors/score_polars.py ] && rate "polars + PyTorch CSV → CSV" "$py" $anchors/score_polars.py "$work/peer-model.json" "$work/ab100.csv" "$work/p.csv"
    [ -f $anchors/score_pandas.py ] && rate "pandas + PyTorch CSV → CSV" "$py" $anchors/score_pandas.py "$work/peer-model.json" "$work/ab100.csv" "$work/p2.csv"
    rate "polars + PyTorch Parquet → Parquet" "$py" scripts/score_polars_parquet.py "$work/peer-model.json" "$work/ab100.parquet" "$work/p.parquet"
done
cmp "$work/o.csv" "$work/o2.csv" && echo "both builds wrote the same bytes"
rm -f "$work"/o*.csv "$work"/p*.csv "$work"/*.parquet
# peak memory against input size: 1 GB always, 10 GB with BENCH_10G=1 (15 GB of disk, ~4 min)
sizes="19000000"
[ -n "${BENCH_10G:-}" ] && sizes="$sizes 190000000"
for rows in $sizes; do
    $P generate audiobooks --rows "$rows" --seed 2 --output "$work/big.csv" > /dev/null
    echo "--- $rows rows: $(du -h "$work/big.csv" | cut -f1)"
    /usr/bin/time -f "peak %M KB, %e s" $P score --model "$model" --input "$work/big.csv" --output "$work/o.csv"
    rm -f "$work"/big.csv "$work"/o.csv
done
rm -f "$work"/*.csv
