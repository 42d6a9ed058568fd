#!/usr/bin/env bash
# Hostile ingest load (issue: trust and hardening): CLIENTS concurrent clients for SECS seconds from a second
# process on loopback, against a release collector on the embedded store — valid batches mixed with broken JSON,
# invalid values, oversized bodies, compression bombs, corrupt gzip and unknown tokens. The same test CI runs
# (tests/ingest_load.rs, 200 clients for 20 s on debug binaries), here on release binaries for as long as asked;
# it fails if any answer is not the expected one, if the collector's peak RSS passes its bound, or if after a
# SIGKILL an acknowledged measurement is missing or a refused one is stored. Prints the report as JSON.
#   bench/load.sh [CLIENTS=200] [SECS=60]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-200}; secs=${2:-60}
cargo build --release --locked --bins -p vigil-collector
VIGIL_LOAD_CLIENTS=$clients VIGIL_LOAD_SECS=$secs \
  cargo test --release --locked -p vigil-lab --test ingest_load -- --nocapture --test-threads 1 2>&1 | grep -oE '\{"clients".*|test result.*'
echo "date=$(date -u +%F) machine=$(nproc)cores command='bench/load.sh $clients $secs'"
