#!/usr/bin/env bash
# Probe footprint: RSS and CPU of `vigil-probe run` over a period (default 600 s) with 2 anchors per scope and a
# 1,000-URL test list at concurrency 16, all against loopback web servers, uploading to a local collector.
#   bench/probe_run.sh [SECONDS=600]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
cargo build --release -q --bins -p vigil-collector
cargo build --profile probe-release -q -p vigil-probe
probe_bin=target/probe-release/vigil-probe
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT

mkdir -p "$work/www"
for i in $(seq 0 999); do printf '<html><head><title>page %d</title></head><body>%s</body></html>\n' "$i" "$(head -c 2000 /dev/zero | tr '\0' x)" > "$work/www/p$i.html"; done
(cd "$work/www" && exec python3 -m http.server 18601 --bind 127.0.0.1 > /dev/null 2>&1) & pids+=($!)
{ echo "url,category_code,category_description,date_added,source,notes"
  for i in $(seq 0 999); do echo "http://127.0.0.1:18601/p$i.html,NEWS,News,2026-01-01,bench,"; done; } > "$work/list.csv"

store="sqlite:$work/vigil.db"
token=$(target/release/vigil-collector probe add --name bench --country IR --asn 44244 --json --store "$store" 2>/dev/null | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
RUST_LOG=warn target/release/vigil-collector serve --listen 127.0.0.1:18602 --store "$store" > /dev/null & pids+=($!)
sleep 1
cat > "$work/probe.toml" <<TOML
[collector]
url = "http://127.0.0.1:18602"
token = "$token"
[probe]
state_dir = "$work/state"
cycle_secs = 60
list_cycle_secs = 600
concurrency = 16
daily_budget_mb = 500
[[anchors]]
target = "http://127.0.0.1:18601/p1.html"
scope = "domestic"
[[anchors]]
target = "http://127.0.0.1:18601/p2.html"
scope = "domestic"
[[anchors]]
target = "http://127.0.0.1:18601/p3.html"
scope = "international"
[[anchors]]
target = "http://127.0.0.1:18601/p4.html"
scope = "international"
[lists]
files = ["$work/list.csv"]
[dns]
include_system = false
TOML
RUST_LOG=warn "$probe_bin" run --config "$work/probe.toml" & probe=$!; pids+=($probe)
ticks=$(getconf CLK_TCK)
sleep "$secs"
read -r utime stime < <(awk '{print $14, $15}' "/proc/$probe/stat")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$probe/status")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$probe/status")
cpu=$(( utime + stime ))
echo "seconds=$secs cpu_seconds=$(awk "BEGIN{print $cpu/$ticks}") avg_cpu_pct_of_core=$(awk "BEGIN{printf \"%.2f\", 100*$cpu/$ticks/$secs}") peak_rss_kib=$hwm rss_now_kib=$rss"
stored=$(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(' '.join(f'{k}={n}' for k,n in c.execute('select target_list, count(*) from measurements group by target_list')))" "$work/vigil.db")
echo "collector_stored: $stored"
echo "binary_bytes=$(stat -c %s "$probe_bin") profile=probe-release date=$(date -u +%F) command='bench/probe_run.sh $secs'"
