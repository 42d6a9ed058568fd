#!/usr/bin/env bash
# Classifier benchmark through a real store: fills it with PROBES probes × 288 five-minute buckets (vitals and
# four anchor checks per probe per bucket, through the store's batch writer: examples/fill_store.rs), then runs
# `vigil-collector classify` over the whole day (the batch re-analysis) and over the last 6 hours (what `serve`
# re-classifies each minute), each under GNU time: wall seconds and the classifying process's peak RSS (%M).
# The first run materialises the day's per-bucket summaries from the raw rows; the 6-hour run reads them (and
# recomputes the probe-buckets of the fill's last minutes, still inside the change log's re-read margin); after
# that margin, once more ("6h-settled"); then one more bucket of 10,000 probes arrives and the 6-hour run again
# ("6h+1": the refresh recomputes only the changed probe-buckets) — what `serve` does every minute.
#   bench/classify_store.sh [PROBES=10000] [STORES="sqlite clickhouse"]
set -euo pipefail
cd "$(dirname "$0")/.."
probes=${1:-10000}; stores=${2:-"sqlite clickhouse"}

source bench/common.sh   # bin, work, cleanup, open_store
cargo build --release -q -p vigil-collector --example fill_store
fill=$PWD/target/release/examples/fill_store

start=$(date -u -d "$(date -u +%F) -2 days" +%FT00:00:00Z)
end=$(date -u -d "$start +1 day" +%FT%TZ)
recent=$(date -u -d "$end -6 hours" +%FT%TZ)
declare -A store_of
for kind in $stores; do
  store=$(open_store "$kind")
  store_of[$kind]=$store
  "$fill" "$store" "$probes" 288 "$start"
  for range in "$start $end day" "$recent $end 6h" "$recent $end 6h-settled" "$recent $end 6h+1"; do
    read -r from to label <<<"$range"
    if [ "$label" = "6h-settled" ]; then
      # A refresh re-reads the changes of the 3 minutes before the previous one: once that margin has passed
      # since the bulk fill, a run recomputes the fill's tail one last time.
      sleep 180
    elif [ "$label" = "6h+1" ]; then
      # Then one more bucket from 10,000 probes arrives, as it does every bucket in operation.
      "$fill" "$store" "$probes" 1 "$end" > /dev/null
    fi
    if ! RUST_LOG=info,vigil_collector::store::aggregates=debug /usr/bin/time -o "$work/time" -f "%e %M" "$bin" classify --from "$from" --to "$to" --store "$store" \
      > "$work/classify.out" 2> "$work/classify.err"; then
      echo "store=$kind probes=$probes window=$label FAILED: $(grep -m1 -A2 "^Error" "$work/classify.err")"
      continue
    fi
    out=$(tail -1 "$work/time")
    summary=$("$bin" events --from "$from" --to "$to" --store "$store" | awk 'NR>1 && $1 ~ /^evt-/ {print $2"/"$4}' \
      | sort | uniq -c | tr -s ' ' | paste -sd, -)
    read -r secs rss <<<"$out"
    echo "store=$kind probes=$probes window=$label seconds=$secs peak_rss_kib=$rss events=[$summary]"
    # Where the time went: refresh (changed probe-buckets recomputed), cover (first materialisation), read.
    grep -ho 'changes=[0-9]* groups=[0-9]*\|stored=[0-9]* retimed=[0-9]* refresh_ms=[0-9]* cover_ms=[0-9]* read_ms=[0-9]*' \
      "$work/classify.err" | paste -sd' ' - | sed 's/^/  /' || true
  done
done
# The yardstick, measured in the same run on the same cores: read the figures above against what the machine's
# parts do on their own now (bench/common.sh `yardstick`; BENCHMARKS.md records both).
for kind in $stores; do
  echo "yardstick store=$kind raw_rows_per_s=$(yardstick "$kind" "${store_of[$kind]}")"
done
echo "yardstick parse_validate_lines_per_s_one_core=$(yardstick parse)"
echo "date=$(date -u +%F) machine=$(nproc)cores command='bench/classify_store.sh $probes'"
