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

cargo build --release -q -p vigil-collector --bin vigil-collector --example ingest_load
bin=$PWD/target/release/vigil-collector
load=$PWD/target/release/examples/ingest_load
work=$(mktemp -d)
chmod 755 "$work"   # the clickhouse user must reach its directory inside
pids=()
cleanup() {
  [ -f "$work/clickhouse/pid" ] && pids+=("$(cat "$work/clickhouse/pid")")
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$0")/clickhouse.sh"   # free_port, start_clickhouse DIR

for kind in $stores; do
  case $kind in
    sqlite) store="sqlite:$work/vigil.db" ;;
    clickhouse) store=$(start_clickhouse "$work/clickhouse") ;;
    *) echo "unknown store $kind" >&2; exit 2 ;;
  esac
  token=$("$bin" probe add --name bench --country IR --asn 44244 --region Tehran --json --store "$store" 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  RUST_LOG=warn "$bin" serve --listen 127.0.0.1:0 --store "$store" > "$work/serve-$kind.out" &
  pid=$!; pids+=($pid)
  for _ in $(seq 100); do grep -q listening "$work/serve-$kind.out" 2>/dev/null && break; sleep 0.05; done
  url=$(sed -n 's/^vigil-collector listening on //p' "$work/serve-$kind.out")
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
echo "date=$(date -u +%F) machine=$(nproc)cores command='bench/export.sh $rows'"
