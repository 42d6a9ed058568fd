#!/usr/bin/env bash
# The deployment's tests: ansible-lint (production profile) and a syntax check of each playbook; then, as root, a
# real apply of probe.yml onto this machine (connection: local), pointed at a collector on loopback:
# the unit is checked with systemd-analyze, the probe runs check-config and one cycle as the unit's user with the
# unit's capability (setpriv stands in for systemd, which is not running here), uploads to the collector, and a
# second apply changes nothing. Everything the apply created is removed afterwards.
# Needs the release binaries (cargo build --release --bins; the probe as shipped: cargo build --profile probe-release
# -p vigil-probe). Touches only loopback.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)

venv=$root/target/ansible-venv
if ! "$venv/bin/ansible-lint" --version >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r requirements.txt
fi
export PATH=$venv/bin:$PATH ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

echo "== ansible-lint (production profile)"
ansible-lint --nocolor -q
for playbook in probe.yml collector.yml; do
  echo "== syntax check: $playbook"
  ansible-playbook -i inventory/example/hosts.yml --syntax-check "$playbook"
done

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIPPED: the apply test installs the probe on this machine and needs root (sudo -E ansible/test.sh)"
  exit 0
fi
for leftover in /etc/systemd/system/vigil-probe.service /usr/local/bin/vigil-probe /etc/vigil-probe /etc/vigil-collector \
  /etc/systemd/system/vigil-collector.service /usr/local/bin/vigil-collector /var/lib/vigil-collector; do
  if [ -e "$leftover" ]; then
    echo "this machine already has a Vigil probe ($leftover): the apply test runs only where there is none" >&2
    exit 1
  fi
done
for account in vigil-probe vigil-collector; do
  if id "$account" >/dev/null 2>&1; then
    echo "this machine already has a $account user: the apply test runs only where there is none" >&2
    exit 1
  fi
done

work=$(mktemp -d)
collector_pid=""
stack_pids=()
backup=$work/backup
mkdir -p "$backup"
# The stack apply rewrites Debian's Prometheus configuration: keep the machine's own to put back.
for f in /etc/prometheus/prometheus.yml /etc/default/prometheus; do [ -e "$f" ] && cp -p "$f" "$backup/$(basename "$f")"; done
grafana_group_made=""
cleanup() {
  if [ -n "$collector_pid" ]; then kill "$collector_pid" 2>/dev/null || true; wait "$collector_pid" 2>/dev/null || true; fi
  # Under errexit: every command here must not fail, or the rest of the cleanup is skipped.
  if [ -n "${ch_http:-}" ]; then
    curl -s "http://127.0.0.1:$ch_http/" --data-binary 'DROP DATABASE IF EXISTS vigil' >/dev/null 2>&1 || true
  fi
  for pid in "${stack_pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if [ -e "$backup/prometheus.yml" ]; then cp -p "$backup/prometheus.yml" /etc/prometheus/prometheus.yml; fi
  if [ -e "$backup/prometheus" ]; then cp -p "$backup/prometheus" /etc/default/prometheus; fi
  rm -f /etc/clickhouse-server/config.d/vigil-listen.xml /etc/clickhouse-server/users.d/vigil.xml
  rmdir /etc/clickhouse-server/config.d /etc/clickhouse-server/users.d 2>/dev/null || true
  rm -rf /etc/grafana/provisioning/datasources/vigil.yaml /etc/grafana/provisioning/dashboards/vigil.yaml /var/lib/grafana/dashboards/vigil
  if [ -n "$grafana_group_made" ]; then rm -rf /etc/grafana /var/lib/grafana; groupdel grafana 2>/dev/null || true; fi
  for account in vigil-probe vigil-collector; do
    pkill -KILL -u "$account" 2>/dev/null || true
    for _ in $(seq 50); do pgrep -u "$account" >/dev/null || break; sleep 0.1; done
    userdel "$account" 2>/dev/null || true
    groupdel "$account" 2>/dev/null || true
  done
  rm -f /etc/systemd/system/vigil-probe.service /usr/local/bin/vigil-probe
  rm -f /etc/systemd/system/vigil-collector.service /usr/local/bin/vigil-collector
  rm -rf /etc/vigil-probe /etc/vigil-collector /var/lib/vigil-probe /var/lib/vigil-collector
  rm -rf "$work"
}
trap cleanup EXIT

echo "== the probe's key first (--tags key: no token needed yet)"
collector=$root/target/release/vigil-collector
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
store=sqlite:$work/collector.db
cat > "$work/vars.yml" <<VARS
vigil_probe_binary_src: $root/target/probe-release/vigil-probe
vigil_probe_key_dir: $work/keys
vigil_probe_collector_url: http://127.0.0.1:$port
vigil_probe_cycle_secs: 5
vigil_probe_anchors:
  - target: http://127.0.0.1:$port/healthz
    scope: domestic
vigil_probe_resolvers: []
vigil_probe_dns_include_system: false
vigil_probe_service_enabled: false
vigil_probe_during_isolation: other_uplinks
vigil_probe_uplinks:
  - name: loop
    interface: lo
    access: fixed
VARS
ansible-playbook -i tests/inventory.yml probe.yml --tags key -e "@$work/vars.yml" > "$work/key.log" || { cat "$work/key.log"; exit 1; } >&2
pubkey=$(cat "$work/keys/localhost.pubkey")
[ "$(stat -c '%U %a' /var/lib/vigil-probe/signing.key)" = "vigil-probe 600" ] || { echo "the signing key must be 0600 and the probe's" >&2; exit 1; }
[ ! -e /etc/vigil-probe/probe.toml ] || { echo "--tags key went beyond the key" >&2; exit 1; }

echo "== a collector on loopback that requires signatures, the probe registered with its key"
token=$("$collector" probe add --name ansible-test --country XL --asn 64500 --pubkey "$pubkey" --json --store "$store" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
printf '[ingest]\nrequire_signatures = true\n' > "$work/collector.toml"
"$collector" --config "$work/collector.toml" serve --listen "127.0.0.1:$port" --store "$store" > "$work/collector.log" 2>&1 &
collector_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
echo "vigil_probe_collector_token: $token" >> "$work/vars.yml"

apply() { ansible-playbook -i tests/inventory.yml probe.yml -e "@$work/vars.yml" | tee "$work/apply.log"; }
recap() { sed -n 's/^localhost *: \(.*\)$/\1/p' "$work/apply.log"; }
echo "== first apply"
apply
recap | grep -q 'failed=0' || { echo "the first apply failed" >&2; exit 1; }
recap | grep -Eq 'changed=[1-9]' || { echo "the first apply changed nothing" >&2; exit 1; }

echo "== what the apply left"
stat -c '%U:%G %a %n' /usr/local/bin/vigil-probe /etc/vigil-probe/ /etc/vigil-probe/probe.toml /var/lib/vigil-probe
[ "$(stat -c '%U:%G %a' /etc/vigil-probe/probe.toml)" = "root:vigil-probe 640" ] || { echo "probe.toml must be 0640 root:vigil-probe" >&2; exit 1; }
[ "$(getent passwd vigil-probe | cut -d: -f7)" = /usr/sbin/nologin ] || { echo "the probe's user must not log in" >&2; exit 1; }
unit=/etc/systemd/system/vigil-probe.service
for directive in AmbientCapabilities=CAP_NET_RAW CapabilityBoundingSet=CAP_NET_RAW NoNewPrivileges=yes \
  ProtectSystem=strict ProtectHome=yes PrivateTmp=yes StateDirectory=vigil-probe Restart=on-failure TimeoutStopSec=90; do
  grep -qx "$directive" "$unit" || { echo "the unit lacks $directive" >&2; exit 1; }
done
if command -v systemd-analyze >/dev/null; then
  echo "== systemd-analyze verify"
  systemd-analyze verify "$unit"
fi

unit_privileges=(--reuid=vigil-probe --regid=vigil-probe --init-groups --inh-caps=-all,+net_raw
  --ambient-caps=-all,+net_raw --bounding-set=-all,+net_raw --no-new-privs)
as_unit() { setpriv "${unit_privileges[@]}" -- "$@"; }
echo "== check-config as the unit's user"
as_unit /usr/local/bin/vigil-probe check-config /etc/vigil-probe/probe.toml | tee "$work/check-config.txt"
grep -q "uplink loop: lo (fixed), measures and uploads, bound to the device" "$work/check-config.txt" \
  || { echo "check-config does not describe the rendered [[uplinks]]" >&2; exit 1; }
echo "== one cycle as the unit's user"
as_unit /usr/local/bin/vigil-probe once --config /etc/vigil-probe/probe.toml > "$work/once.ndjson"
python3 - "$work/once.ndjson" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
kinds = {l["kind"] for l in lines}
missing = {"vitals", "tcp", "http", "icmp"} - kinds
assert not missing, f"one cycle lacks {missing}: {kinds}"
uplinks = {(l.get("uplink") or {}).get("name") for l in lines}
assert uplinks == {"loop"}, f"every measurement names the rendered uplink: {uplinks}"
ok = [l for l in lines if l["kind"] in ("tcp", "http") and l["result"]["outcome"] == "ok"]
assert ok, "the anchor on loopback answered nothing"
print(f"one cycle: {len(lines)} measurements, kinds {sorted(kinds)}")
PY
echo "== the agent uploads as the unit's user"
setpriv "${unit_privileges[@]}" -- /usr/local/bin/vigil-probe run --config /etc/vigil-probe/probe.toml > "$work/probe.log" 2>&1 &
probe_pid=$!
uploaded=""
for _ in $(seq 120); do
  if curl -sf "http://127.0.0.1:$port/api/v1/probes" | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[0]["last_seen"] else 1)'; then
    uploaded=yes; break
  fi
  sleep 0.5
done
kill -TERM "$probe_pid"
wait "$probe_pid" || true
if pgrep -u vigil-probe >/dev/null; then echo "the probe outlived SIGTERM" >&2; exit 1; fi
[ -n "$uploaded" ] || { echo "the probe never uploaded:"; tail -20 "$work/probe.log"; exit 1; } >&2
ls /var/lib/vigil-probe >/dev/null
echo "== every stored batch is signed by the probe's key"
"$collector" verify --store "$store" | tee "$work/verify.log"
grep -Eq '^[1-9][0-9]* signed batches, [1-9][0-9]* measurements checked; 0 problems$' "$work/verify.log" \
  || { echo "no signed batch was stored" >&2; exit 1; }

echo "== second apply: nothing changes"
apply
recap | grep -q 'changed=0' || { echo "the second apply changed something: $(recap)" >&2; exit 1; }
recap | grep -q 'failed=0' || { echo "the second apply failed" >&2; exit 1; }
echo "== the collector playbook (embedded store, two probes registered)"
port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/collector-vars.yml" <<VARS
vigil_collector_binary_src: $root/target/release/vigil-collector
vigil_collector_listen: 127.0.0.1:$port2
vigil_collector_token_dir: $work/tokens
vigil_collector_key_dir: $work/keys
vigil_collector_service_enabled: false
vigil_prometheus_enabled: false
vigil_collector_probes:
  - {name: pi-test-1, country: XL, asn: 64501, region: north, access: fixed, ups: true}
  - {name: pi-test-2, country: XL, asn: 64502, access: mobile}
VARS
mkdir -p "$work/tokens"
# pi-test-1's key is known before registration; pi-test-2's arrives later.
cp "$work/keys/localhost.pubkey" "$work/keys/pi-test-1.pubkey"
apply_collector() { ansible-playbook -i tests/inventory.yml collector.yml -e "@$work/collector-vars.yml" | tee "$work/apply.log"; }
apply_collector
recap | grep -q 'failed=0' || { echo "the collector apply failed" >&2; exit 1; }
for name in pi-test-1 pi-test-2; do
  [ "$(stat -c '%a' "$work/tokens/$name.token")" = 600 ] || { echo "no private token file for $name" >&2; exit 1; }
done
if command -v systemd-analyze >/dev/null; then systemd-analyze verify /etc/systemd/system/vigil-collector.service; fi
[ "$(stat -c '%U' /var/lib/vigil-collector/vigil.db)" = vigil-collector ] || { echo "the store must belong to the collector's user" >&2; exit 1; }
setpriv --reuid=vigil-collector --regid=vigil-collector --init-groups --inh-caps=-all --bounding-set=-all --no-new-privs \
  -- /usr/local/bin/vigil-collector --config /etc/vigil-collector/collector.toml serve > "$work/collector2.log" 2>&1 &
collector2_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port2/healthz" >/dev/null && break; sleep 0.1; done
post_as() {
  curl -s -o "$work/answer.json" -w '%{http_code}' "http://127.0.0.1:$port2/api/v1/measurements" \
    -H "Authorization: Bearer $(cat "$work/tokens/$1.token")" -H 'Content-Type: application/x-ndjson' \
    --data-binary @"$root/measurement/tests/fixtures/icmp_ok.json"
}
# An unsigned batch: refused for the probe registered with a key, and for the one without (signatures required).
for name in pi-test-1 pi-test-2; do
  status=$(post_as "$name")
  [ "$status" = 401 ] && grep -q signature_required "$work/answer.json" \
    || { echo "$name's unsigned batch was not refused ($status): $(cat "$work/answer.json")" >&2; cat "$work/collector2.log" >&2; exit 1; }
done
kill "$collector2_pid"; wait "$collector2_pid" 2>/dev/null || true
rm -f "$work"/tokens/*.token
apply_collector
recap | grep -q 'changed=0' || { echo "the second collector apply changed something: $(recap)" >&2; exit 1; }
[ -z "$(ls "$work/tokens")" ] || { echo "registered probes were registered again" >&2; exit 1; }
echo "== a key that arrives later is recorded once"
cp "$work/keys/localhost.pubkey" "$work/keys/pi-test-2.pubkey"
apply_collector
recap | grep -q 'changed=1' || { echo "pi-test-2's key was not recorded: $(recap)" >&2; exit 1; }
runuser -u vigil-collector -- /usr/local/bin/vigil-collector --config /etc/vigil-collector/collector.toml probe list --json \
  | python3 -c 'import json,sys; keys={p["name"]: p["public_key"] for p in json.load(sys.stdin)}; assert keys["pi-test-1"] and keys["pi-test-1"] == keys["pi-test-2"], keys'
apply_collector
recap | grep -q 'changed=0' || { echo "the key was recorded again: $(recap)" >&2; exit 1; }

echo "== the whole collector stack: clickhouse, vigil_collector, prometheus and grafana roles"
# Grafana's package comes from Grafana's own repository, which this machine cannot reach: every task of the role
# but the package install runs (grafana_install_package: false), over the group the package would have made.
if ! getent group grafana >/dev/null; then groupadd --system grafana; grafana_group_made=yes; fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ch_http=$(free_port); ch_tcp=$(free_port); prom_port=$(free_port)
reader_password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
cat > "$work/stack-vars.yml" <<VARS
vigil_collector_binary_src: $root/target/release/vigil-collector
vigil_collector_listen: 127.0.0.1:$port2
vigil_collector_store: clickhouse://127.0.0.1:$ch_http/vigil
vigil_collector_service_enabled: false
vigil_collector_probes: []
clickhouse_http_port: $ch_http
clickhouse_tcp_port: $ch_tcp
clickhouse_reader_password: $reader_password
vigil_prometheus_enabled: true
prometheus_listen: 127.0.0.1:$prom_port
prometheus_scrape_interval: 1s
prometheus_collector_targets: ["127.0.0.1:$port2"]
vigil_grafana_enabled: true
grafana_install_package: false
grafana_clickhouse_port: $ch_tcp
grafana_clickhouse_password: $reader_password
grafana_prometheus_url: http://127.0.0.1:$prom_port
VARS
apply_stack() { ansible-playbook -i tests/inventory.yml collector.yml -e "@$work/stack-vars.yml" | tee "$work/apply.log"; }
apply_stack
recap | grep -q 'failed=0' || { echo "the stack apply failed" >&2; exit 1; }
for role in clickhouse prometheus grafana vigil_collector; do
  grep -q "TASK \[$role :" "$work/apply.log" || { echo "the $role role did not run" >&2; exit 1; }
done

echo "== ClickHouse as the role configured it: its ports, the collector's schema, a read-only reader"
runuser -u clickhouse -- /usr/sbin/clickhouse-server --config-file=/etc/clickhouse-server/config.xml > "$work/clickhouse.log" 2>&1 &
stack_pids+=($!)
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$ch_http/ping" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$ch_http/ping" >/dev/null || { echo "ClickHouse does not answer on the role's port $ch_http"; tail -20 "$work/clickhouse.log"; exit 1; } >&2
setpriv --reuid=vigil-collector --regid=vigil-collector --init-groups --inh-caps=-all --bounding-set=-all --no-new-privs \
  -- /usr/local/bin/vigil-collector --config /etc/vigil-collector/collector.toml serve > "$work/collector3.log" 2>&1 &
stack_pids+=($!)
for _ in $(seq 150); do curl -sf "http://127.0.0.1:$port2/healthz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$port2/healthz" >/dev/null || { echo "the collector on ClickHouse did not start"; cat "$work/collector3.log"; exit 1; } >&2
reader() { curl -s -o "$work/reader.out" -w '%{http_code}' "http://127.0.0.1:$ch_http/?user=vigil_reader&password=$reader_password" --data-binary "$1"; }
[ "$(reader 'SELECT count() FROM vigil.measurements')" = 200 ] || { echo "Grafana's reader cannot read: $(cat "$work/reader.out")" >&2; exit 1; }
[ "$(reader 'INSERT INTO vigil.vigil_schema VALUES (99, 0)')" != 200 ] || { echo "Grafana's reader could write" >&2; exit 1; }
[ "$(reader 'DROP TABLE vigil.vigil_schema')" != 200 ] || { echo "Grafana's reader could drop a table" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ch_http/?user=vigil_reader&password=wrong" --data-binary 'SELECT 1')" != 200 ] \
  || { echo "the reader account took a wrong password" >&2; exit 1; }

echo "== Prometheus as the role configured it scrapes the collector"
# shellcheck disable=SC1091
. /etc/default/prometheus
chmod 755 "$work"   # the prometheus user must reach its data directory inside
mkdir -p "$work/prometheus-data" && chown prometheus "$work/prometheus-data"
# shellcheck disable=SC2086
runuser -u prometheus -- /usr/bin/prometheus --config.file=/etc/prometheus/prometheus.yml $ARGS \
  --storage.tsdb.path="$work/prometheus-data" > "$work/prometheus.log" 2>&1 &
stack_pids+=($!)
scraped=""
for _ in $(seq 150); do
  if curl -sf "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query=up{job="vigil"}' \
    | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; sys.exit(0 if r and r[0]["value"][1]=="1" else 1)' 2>/dev/null; then
    scraped=yes; break
  fi
  sleep 0.2
done
[ -n "$scraped" ] || { echo "Prometheus never scraped the collector"; tail -20 "$work/prometheus.log"; exit 1; } >&2

echo "== Grafana's provisioning as the role rendered it"
# PyYAML comes with ansible-core, in the venv.
"$venv/bin/python" - "$ch_tcp" "$reader_password" "$prom_port" <<'PY'
import pathlib, sys
import yaml
ch_tcp, password, prom_port = sys.argv[1:]
def load(path):
    return yaml.safe_load(pathlib.Path(path).read_text())
ds = {d["uid"]: d for d in load("/etc/grafana/provisioning/datasources/vigil.yaml")["datasources"]}
assert set(ds) == {"vigil-prometheus", "vigil-clickhouse"}, ds.keys()
assert ds["vigil-prometheus"]["url"] == f"http://127.0.0.1:{prom_port}", ds["vigil-prometheus"]
ch = ds["vigil-clickhouse"]
assert ch["type"] == "grafana-clickhouse-datasource" and ch["jsonData"]["port"] == int(ch_tcp), ch
assert ch["jsonData"]["username"] == "vigil_reader" and ch["secureJsonData"]["password"] == password
provider = load("/etc/grafana/provisioning/dashboards/vigil.yaml")["providers"][0]
assert provider["options"]["path"] == "/var/lib/grafana/dashboards/vigil", provider
print("grafana provisioning: both data sources (uids, ports, the reader's password) and the dashboard folder")
PY
diff -r "$root/dashboards/json" /var/lib/grafana/dashboards/vigil || { echo "the dashboards were not copied as they are" >&2; exit 1; }
[ "$(stat -c '%G %a' /etc/grafana/provisioning/datasources/vigil.yaml)" = "grafana 640" ] \
  || { echo "the data source file (it holds a password) must be 0640 root:grafana" >&2; exit 1; }
apply_stack
recap | grep -q 'changed=0' || { echo "the second stack apply changed something: $(recap)" >&2; exit 1; }

echo "ansible: lint, syntax, all five roles applied (Grafana but its package), probe as the unit's user, ClickHouse,
Prometheus and Grafana provisioning checked against what the roles wrote, idempotence — ok"
