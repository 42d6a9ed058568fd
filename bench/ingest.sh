#!/usr/bin/env bash
# Ingest benchmark: N concurrent clients post 1,000-line batches to a release collector on the embedded store.
# Prints measurements/s and the collector's peak RSS (VmHWM). Loopback only.
#   bench/ingest.sh [CLIENTS=4] [BATCHES_PER_CLIENT=50] [LINES=1000] [gzip|none]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-4}; per_client=${2:-50}; lines=${3:-1000}; encoding=${4:-gzip}

cargo build --release -q -p vigil-collector --bin vigil-collector --example ingest_load
bin=target/release/vigil-collector
load=target/release/examples/ingest_load
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
store="sqlite:$work/vigil.db"

token=$("$bin" probe add --name bench --country IR --asn 44244 --json --store "$store" 2>/dev/null \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
RUST_LOG=warn "$bin" serve --listen 127.0.0.1:0 --store "$store" > "$work/serve.out" &
pid=$!
for _ in $(seq 100); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^vigil-collector listening on //p' "$work/serve.out")

"$load" "$url" "$token" "$clients" "$per_client" "$lines" "$encoding"
echo "collector_peak_rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status") store_bytes=$(du -cb "$work"/vigil.db* | tail -1 | cut -f1)"
echo "date=$(date -u +%F) machine=$(nproc)cores command='bench/ingest.sh $clients $per_client $lines $encoding'"
