#!/usr/bin/env bash
# Ingest benchmark: N concurrent clients post LINES-line batches to a release collector, first on the embedded
# store, then on a ClickHouse server on loopback (Debian's clickhouse-server, started here), in the same run.
# Prints measurements/s for each store, their ratio, and the collector's peak RSS (VmHWM). Loopback only.
#   bench/ingest.sh [CLIENTS=4] [BATCHES_PER_CLIENT=50] [LINES=1000] [gzip|none] [STORES="sqlite clickhouse"]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-4}; per_client=${2:-50}; lines=${3:-1000}; encoding=${4:-gzip}; stores=${5:-"sqlite clickhouse"}

cargo build --release -q -p vigil-collector --bin vigil-collector --example ingest_load
bin=$PWD/target/release/vigil-collector
load=$PWD/target/release/examples/ingest_load
work=$(mktemp -d)
chmod 755 "$work"   # the clickhouse user must reach its directory inside
pids=()
cleanup() {
  [ -f "$work/clickhouse/pid" ] && pids+=("$(cat "$work/clickhouse/pid")")
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "${VIGIL_BENCH_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

source "$(dirname "$0")/clickhouse.sh"   # free_port, start_clickhouse DIR

declare -A rate
for kind in $stores; do
  case $kind in
    sqlite) store="sqlite:$work/vigil.db" ;;
    clickhouse) store=$(start_clickhouse "$work/clickhouse") ;;
    *) echo "unknown store $kind" >&2; exit 2 ;;
  esac
  token=$("$bin" probe add --name bench --country IR --asn 44244 --json --store "$store" 2>"$work/add-$kind.err" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  RUST_LOG=warn "$bin" serve --listen 127.0.0.1:0 --store "$store" > "$work/serve-$kind.out" &
  pid=$!; pids+=($pid)
  for _ in $(seq 100); do grep -q listening "$work/serve-$kind.out" 2>/dev/null && break; sleep 0.05; done
  url=$(sed -n 's/^vigil-collector listening on //p' "$work/serve-$kind.out")
  out=$("$load" "$url" "$token" "$clients" "$per_client" "$lines" "$encoding")
  echo "store=$kind $out collector_peak_rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
  rate[$kind]=$(sed -n 's/.*measurements_per_s=\([0-9.]*\).*/\1/p' <<<"$out")
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
if [ -n "${rate[sqlite]:-}" ] && [ -n "${rate[clickhouse]:-}" ]; then
  echo "clickhouse/sqlite=$(python3 -c "print(round(${rate[clickhouse]}/${rate[sqlite]}, 2))")"
fi
echo "date=$(date -u +%F) machine=$(nproc)cores command='bench/ingest.sh $clients $per_client $lines $encoding'"
