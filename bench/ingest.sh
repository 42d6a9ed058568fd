#!/usr/bin/env bash
# Ingest benchmark: N concurrent clients post LINES-line batches to a release collector, first on the embedded
# store, then on a ClickHouse server on loopback (Debian's clickhouse-server, started here), in the same run.
# Prints measurements/s for each store, their ratio, and the collector's peak RSS (VmHWM). Loopback only.
# Each figure carries its yardstick, measured in the same run on the same cores right after the store's ingest
# run: the store's raw insert rate (raw_rows_per_s; bench/common.sh `yardstick`) and the NDJSON parse + validate
# rate on one core, and the ingest rate as a ratio to each (goals: ≥ 0.5 of raw SQLite, ≥ 0.3 of raw ClickHouse).
#   bench/ingest.sh [CLIENTS=4] [BATCHES_PER_CLIENT=50] [LINES=1000] [gzip|none] [STORES="sqlite clickhouse"]
# ClickHouse wants a journaled filesystem for its files: TMPDIR=$(bench/journaled_tmp.sh) bench/ingest.sh … (BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-4}; per_client=${2:-50}; lines=${3:-1000}; encoding=${4:-gzip}; stores=${5:-"sqlite clickhouse"}

source bench/common.sh   # bin, load, work, cleanup, open_store, serve_store

declare -A rate
for kind in $stores; do
  store=$(open_store "$kind")
  serve_store "$kind" "$store"
  out=$("$load" "$url" "$token" "$clients" "$per_client" "$lines" "$encoding")
  echo "store=$kind $out collector_peak_rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
  rate[$kind]=$(sed -n 's/.*measurements_per_s=\([0-9.]*\).*/\1/p' <<<"$out")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  raw=$(yardstick "$kind" "$store")
  goal=$([ "$kind" = sqlite ] && echo 0.5 || echo 0.3)
  echo "store=$kind raw_rows_per_s=$raw ingest/raw=$(ratio "${rate[$kind]}" "$raw") (goal >= $goal)"
done
parse=$(yardstick parse)
for kind in $stores; do
  echo "store=$kind parse_validate_lines_per_s_one_core=$parse ingest/parse=$(ratio "${rate[$kind]}" "$parse")"
done
if [ -n "${rate[sqlite]:-}" ] && [ -n "${rate[clickhouse]:-}" ]; then
  echo "clickhouse/sqlite=$(python3 -c "print(round(${rate[clickhouse]}/${rate[sqlite]}, 2))")"
fi
echo "date=$(date -u +%F) machine=$(nproc)cores command='bench/ingest.sh $clients $per_client $lines $encoding'"
