#!/usr/bin/env bash
# Export benchmark: fills each store with ROWS measurements through a release collector (the ingest load
# generator, loopback only), then exports them with `vigil-collector export` in every format to /dev/null,
# recording rows/s and the exporting process's peak RSS (GNU time's %M). The peak should not grow with ROWS:
# exports hold one page at a time.
#   bench/export.sh [ROWS=1000000] [STORES="sqlite clickhouse"]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}; stores=${2:-"sqlite clickhouse"}
per_client=$((rows / 8 / 1000))

source bench/common.sh   # bin, load, work, cleanup, open_store, serve_store

declare -A store_of
for kind in $stores; do
  store=$(open_store "$kind")
  store_of[$kind]=$store
  serve_store "$kind" "$store"
  "$load" "$url" "$token" 8 "$per_client" 1000 gzip > /dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
  for format in csv jsonl parquet; do
    out=$( { /usr/bin/time -f "%e %M" "$bin" export --dataset measurements --format "$format" --store "$store" \
      --out /dev/null 2>&1 >/dev/null; } 2>&1 | tail -2)
    exported=$(sed -n 's/^exported \([0-9]*\) rows.*/\1/p' <<<"$out")
    read -r secs rss <<<"$(tail -1 <<<"$out")"
    echo "store=$kind format=$format rows=$exported seconds=$secs rows_per_s=$(python3 -c "print(round($exported/$secs))") peak_rss_kib=$rss"
  done
done
# The yardstick, measured in the same run on the same cores: read the figures above against what the machine's
# parts do on their own now (bench/common.sh `yardstick`; BENCHMARKS.md records both).
for kind in $stores; do
  echo "yardstick store=$kind raw_rows_per_s=$(yardstick "$kind" "${store_of[$kind]}")"
done
echo "yardstick parse_validate_lines_per_s_one_core=$(yardstick parse)"
echo "date=$(date -u +%F) machine=$(nproc)cores command='bench/export.sh $rows'"
