#!/usr/bin/env bash
# Probe footprint: RSS and CPU of `vigil-probe run` over a period (default 600 s) with 2 anchors per scope, a
# 1,100-URL test list at concurrency 16 — 100 of them HTTPS sites that announce HTTP/3, so each is also asked over
# QUIC (vigil-lab-h3) — and five messaging apps of five endpoints each (three pages, the web server's port and a
# closed port), all against loopback servers, uploading to a local collector.
#   bench/probe_run.sh [SECONDS=600]
# With QUIC=false the probe's QUIC test is off (the HTTPS sites are fetched over TCP only), to see its cost.
# With UPLINKS=2 (root): the probe runs in a network namespace with two uplinks, veths to two namespaces that
# serve the same pages at the same address (10.79.9.9); anchors are checked through both, the test list through
# the first, and uploads go through a third, upload-only uplink on loopback. Namespaces are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
uplinks=${UPLINKS:-1}
cargo build --release -q --bins -p vigil-collector -p vigil-lab
cargo build --profile probe-release -q -p vigil-probe
probe_bin=target/probe-release/vigil-probe
work=$(mktemp -d)
chmod 755 "$work"
pids=()
ns=vglbench$$
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$uplinks" = 2 ]; then for r in p w s; do ip netns del "$ns$r" 2>/dev/null || true; done; fi
  rm -rf "$work"
}
trap cleanup EXIT
# `in_probe CMD… &` runs CMD where the probe runs (here, or in the probe namespace) as the background job itself,
# so that killing $! stops it.
in_probe() { if [ "$uplinks" = 2 ]; then exec ip netns exec "${ns}p" "$@"; else exec "$@"; fi; }
web=127.0.0.1
if [ "$uplinks" = 2 ]; then
  web=10.79.9.9
  ip netns add "${ns}p"; ip -n "${ns}p" link set lo up
  for side in w:1 s:2; do
    r=${side%%:*}; n=${side##*:}
    ip netns add "$ns$r"; ip -n "$ns$r" link set lo up
    ip link add "vb$r$$" netns "${ns}p" type veth peer name "vb${r}r$$" netns "$ns$r"
    ip -n "${ns}p" addr add "10.79.$n.2/24" dev "vb$r$$"; ip -n "$ns$r" addr add "10.79.$n.1/24" dev "vb${r}r$$"
    ip -n "${ns}p" link set "vb$r$$" up; ip -n "$ns$r" link set "vb${r}r$$" up
    ip -n "$ns$r" addr add 10.79.9.9/32 dev lo
    ip -n "${ns}p" route add default via "10.79.$n.1" dev "vb$r$$" metric "${n}00"
  done
fi

mkdir -p "$work/www"
for i in $(seq 0 999); do printf '<html><head><title>page %d</title></head><body>%s</body></html>\n' "$i" "$(head -c 2000 /dev/zero | tr '\0' x)" > "$work/www/p$i.html"; done
# The HTTPS sites' CA and certificate (for the address they are reached at), which the probe trusts.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$web" -keyout "$work/site.key" -out "$work/site.csr" 2>/dev/null
openssl x509 -req -in "$work/site.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
  -extfile <(printf 'subjectAltName=IP:%s\nbasicConstraints=CA:FALSE\n' "$web") -out "$work/site.pem" 2>/dev/null
serve() {
  (cd "$work/www" && exec "$@" python3 -m http.server 18601 --bind "$web" > /dev/null 2>&1) & pids+=($!)
  ("$@" python3 bench/https_alt_svc.py "$web" 18604 18603 "$work/site.pem" "$work/site.key" "$work/www" > /dev/null 2>&1) & pids+=($!)
  ("$@" target/release/vigil-lab-h3 --listen "$web:18603" --cert "$work/site.pem" --key "$work/site.key" --page "$work/www/p0.html" > /dev/null 2>&1) & pids+=($!)
}
if [ "$uplinks" = 2 ]; then
  for r in w s; do serve ip netns exec "$ns$r"; done
else
  serve
fi
{ echo "url,category_code,category_description,date_added,source,notes"
  for i in $(seq 0 999); do echo "http://$web:18601/p$i.html,NEWS,News,2026-01-01,bench,"; done
  for i in $(seq 0 99); do echo "https://$web:18604/p$i.html,NEWS,News,2026-01-01,bench,"; done; } > "$work/list.csv"

store="sqlite:$work/vigil.db"
token=$(target/release/vigil-collector probe add --name bench --country IR --asn 44244 --json --store "$store" 2>/dev/null | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
(RUST_LOG=warn in_probe target/release/vigil-collector serve --listen 127.0.0.1:18602 --store "$store" > /dev/null) & pids+=($!)
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
target = "http://$web:18601/p1.html"
scope = "domestic"
[[anchors]]
target = "http://$web:18601/p2.html"
scope = "domestic"
[[anchors]]
target = "http://$web:18601/p3.html"
scope = "international"
[[anchors]]
target = "http://$web:18601/p4.html"
scope = "international"
[lists]
files = ["$work/list.csv"]
ca_file = "$work/ca.pem"
quic = ${QUIC:-true}
[dns]
include_system = false
TOML
if [ "$uplinks" = 2 ]; then
  cat >> "$work/probe.toml" <<TOML
[[uplinks]]
name = "wan"
interface = "vbw$$"
access = "fixed"
upload = false
[[uplinks]]
name = "sat"
interface = "vbs$$"
access = "satellite"
upload = false
[[uplinks]]
name = "local"
interface = "lo"
access = "fixed"
measure = false
TOML
fi
for a in 1 2 3 4 5; do
  cat >> "$work/probe.toml" <<TOML
[[apps]]
name = "app$a"
endpoints = ["http://$web:18601/p1$a.html", "http://$web:18601/p2$a.html", "http://$web:18601/p3$a.html", "$web:18601", "$web:18609"]
TOML
done
(RUST_LOG=warn in_probe "$probe_bin" run --config "$work/probe.toml") & pids+=($!)
# The probe's own pid (under `ip netns exec`, a child of the launcher).
probe=""
for _ in $(seq 1 100); do
  probe=$(pgrep -f -n "$probe_bin run --config $work/probe.toml" || true)
  [ -n "$probe" ] && [ "$(readlink "/proc/$probe/exe" 2>/dev/null)" = "$(readlink -f "$probe_bin")" ] && break
  sleep 0.1
done
ticks=$(getconf CLK_TCK)
sleep "$secs"
read -r utime stime < <(awk '{print $14, $15}' "/proc/$probe/stat")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$probe/status")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$probe/status")
cpu=$(( utime + stime ))
echo "seconds=$secs cpu_seconds=$(awk "BEGIN{print $cpu/$ticks}") avg_cpu_pct_of_core=$(awk "BEGIN{printf \"%.2f\", 100*$cpu/$ticks/$secs}") peak_rss_kib=$hwm rss_now_kib=$rss"
stored=$(python3 -c "import sqlite3,sys,json; c=sqlite3.connect(sys.argv[1]); print(' '.join(f'{k}/{u}={n}' for k,u,n in c.execute(\"select target_list, coalesce(json_extract(body, '$.uplink.name'), '-'), count(*) from measurements group by 1, 2\")))" "$work/vigil.db")
echo "collector_stored: $stored"
quic=$(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(' '.join(f'{o}={n}' for o,n in c.execute(\"select json_extract(body, '$.result.quic.outcome'), count(*) from measurements where json_extract(body, '$.result.quic') is not null group by 1\")))" "$work/vigil.db")
echo "quic_tests: ${quic:-none}"
# What each failed QUIC test said, so a failure in the bench can be read, not guessed.
quic_failed=$(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print('; '.join(f'{o} handshake={h}: {d} x{n}' for o,h,d,n in c.execute(\"select json_extract(body, '$.result.quic.outcome'), json_extract(body, '$.result.quic.handshake'), json_extract(body, '$.result.quic.error_detail'), count(*) from measurements where json_extract(body, '$.result.quic.outcome') != 'ok' group by 1, 2, 3\")))" "$work/vigil.db")
echo "quic_failed: ${quic_failed:-none}"
echo "binary_bytes=$(stat -c %s "$probe_bin") profile=probe-release date=$(date -u +%F) command='UPLINKS=$uplinks QUIC=${QUIC:-true} bench/probe_run.sh $secs'"
