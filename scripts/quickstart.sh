#!/usr/bin/env bash
# Vigil on one machine: a collector on the embedded store (vigil-data/vigil.db) and a local probe registered
# to it, measuring the sample anchors and a small test list. Prints the status of both every 15 s; Ctrl-C
# stops both. On a machine that cannot reach the internet it says so and keeps measuring (that is the point).
#
# Environment (all optional):
#   VIGIL_LISTEN   collector address            (127.0.0.1:8080)
#   VIGIL_COUNTRY  this machine's country code  (ZZ: unknown)
#   VIGIL_ASN      this machine's AS number     (64512: unknown)
#   VIGIL_ANCHORS  space-separated anchor URLs  (https://example.org/ https://example.com/)
#   VIGIL_LIST     a Citizen Lab format list    (probe/lists/sample.csv)
#   VIGIL_QUICKSTART_SECONDS  stop by itself after this many seconds (default: run until Ctrl-C)
set -euo pipefail
cd "$(dirname "$0")/.."

listen=${VIGIL_LISTEN:-127.0.0.1:8080}
country=${VIGIL_COUNTRY:-ZZ}
asn=${VIGIL_ASN:-64512}
anchors=${VIGIL_ANCHORS:-"https://example.org/ https://example.com/"}
list=$(realpath "${VIGIL_LIST:-probe/lists/sample.csv}")
data=$(realpath -m vigil-data)
store="sqlite:$data/vigil.db"

echo "== building (release; the probe as volunteers get it, the size-optimised probe-release profile)"
cargo build --release -q --bins -p vigil-collector
cargo build --profile probe-release -q -p vigil-probe
collector=target/release/vigil-collector
probe=target/probe-release/vigil-probe
mkdir -p "$data"

if [ ! -f "$data/probe.toml" ]; then
  echo "== registering a local probe"
  # The probe's signing key first: the collector then accepts only batches signed with it.
  pubkey=$("$probe" register --state-dir "$data/probe-state" --json | sed -n 's/.*"public_key":"\([^"]*\)".*/\1/p')
  registered=$("$collector" probe add --name quickstart-probe --country "$country" --asn "$asn" --pubkey "$pubkey" \
    --json --store "$store")
  token=$(printf '%s' "$registered" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  {
    printf '[collector]\nurl = "http://%s"\ntoken = "%s"\n\n' "$listen" "$token"
    printf '[probe]\nstate_dir = "%s/probe-state"\ncycle_secs = 30\nlist_cycle_secs = 600\n\n' "$data"
    for a in $anchors; do printf '[[anchors]]\ntarget = "%s"\nscope = "international"\n\n' "$a"; done
    printf '[lists]\nfiles = ["%s"]\n' "$list"
  } > "$data/probe.toml"
fi
"$probe" check-config "$data/probe.toml"

pids=()
stop() {
  echo
  echo "== stopping (the probe makes one last upload)"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "stopped. Data: $data (collector store, probe spool, logs). Run this script again to resume."
}
trap 'stop; exit 0' INT TERM

RUST_LOG=info "$collector" serve --listen "$listen" --store "$store" > "$data/collector.out" 2> "$data/collector.log" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$data/collector.out" 2>/dev/null && break; sleep 0.1; done
if ! grep -q listening "$data/collector.out" 2>/dev/null; then
  echo "the collector did not start; see $data/collector.log"; tail -n 5 "$data/collector.log"; stop; exit 1
fi
echo "== collector: $(cat "$data/collector.out")  (log: $data/collector.log)"
RUST_LOG=info "$probe" run --config "$data/probe.toml" 2> "$data/probe.log" &
pids+=($!)
echo "== probe running (log: $data/probe.log). Press Ctrl-C to stop both."

status() {
  local cycle
  cycle=$(grep 'anchor cycle done' "$data/probe.log" | tail -n 1 || true)
  echo "-- $(date -u +%FT%TZ)"
  "$collector" probe list --store "$store" 2>/dev/null | sed 's/^/   /'
  if [ -z "$cycle" ]; then
    echo "   probe: first cycle still running"
  else
    ok=$(printf '%s' "$cycle" | sed -n 's/.* ok=\([0-9]*\).*/\1/p')
    total=$(printf '%s' "$cycle" | sed -n 's/.*measurements=\([0-9]*\).*/\1/p')
    echo "   probe: last anchor cycle $ok of $total checks ok"
    if [ "${ok:-0}" = 0 ]; then
      echo "   NO ANCHOR ANSWERED: this machine cannot reach the internet (or the anchors are blocked)."
      echo "   The probe keeps measuring and keeps its results in its spool; that is what it is for."
    fi
  fi
}

started=$(date +%s)
while true; do
  for _ in $(seq 15); do
    sleep 1
    for pid in "${pids[@]}"; do
      if ! kill -0 "$pid" 2>/dev/null; then echo "a process exited; see the logs in $data"; stop; exit 1; fi
    done
    if [ -n "${VIGIL_QUICKSTART_SECONDS:-}" ] && [ $(( $(date +%s) - started )) -ge "$VIGIL_QUICKSTART_SECONDS" ]; then
      status; stop; exit 0
    fi
  done
  status
done
