# Shared by the benchmark scripts (sourced from the repository root): the release collector and load generator
# built, a work directory removed on exit (kept with VIGIL_BENCH_KEEP=1) with every process started here stopped,
# Debian's clickhouse-server on a free loopback port, and a collector serving a store with one probe registered.
# VIGIL_BENCH_NO_BUILD=1 uses the binaries already built (e.g. with symbols, to profile).

[ -n "${VIGIL_BENCH_NO_BUILD:-}" ] || cargo build --release -q -p vigil-collector --bin vigil-collector --example ingest_load \
  --example yardstick
bin=$PWD/target/release/vigil-collector
load=$PWD/target/release/examples/ingest_load
yardstick=$PWD/target/release/examples/yardstick
work=$(mktemp -d)
chmod 755 "$work"   # the clickhouse user must reach its directory inside
pids=()
cleanup() {
  [ -f "$work/clickhouse/pid" ] && pids+=("$(cat "$work/clickhouse/pid")")
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "${VIGIL_BENCH_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_clickhouse() {
  local dir=$1 port
  port=$(free_port)
  mkdir -p "$dir/log"
  # VIGIL_BENCH_QUERY_LOG=1 keeps every query in system.query_log (with VIGIL_BENCH_KEEP=1, to profile a run).
  local users=/etc/clickhouse-server/users.xml query_log=
  if [ -n "${VIGIL_BENCH_QUERY_LOG:-}" ]; then
    users=$dir/users.xml
    # The first <default> element is the default profile.
    sed '0,/<default>/s//<default><log_queries>1<\/log_queries>/' /etc/clickhouse-server/users.xml > "$users"
    query_log='<query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>500</flush_interval_milliseconds></query_log><part_log><database>system</database><table>part_log</table></part_log>'
  fi
  cat > "$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$port</http_port><tcp_port>$(free_port)</tcp_port><interserver_http_port>$(free_port)</interserver_http_port>
  <path>$dir/data/</path><tmp_path>$dir/tmp/</tmp_path><user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>$users</users_config>$query_log
  <default_profile>default</default_profile><default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size><mlock_executable>false</mlock_executable>
</yandex>
XML
  if [ "$(id -u)" -eq 0 ]; then
    chown -R clickhouse:clickhouse "$dir"
    setpriv --reuid=clickhouse --regid=clickhouse --clear-groups -- /usr/sbin/clickhouse-server --config-file="$dir/config.xml" >/dev/null 2>&1 &
  else
    /usr/sbin/clickhouse-server --config-file="$dir/config.xml" >/dev/null 2>&1 &
  fi
  echo $! > "$dir/pid"
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/ping" >/dev/null && break; sleep 0.1; done
  echo "clickhouse://127.0.0.1:$port/bench"
}


# open_store KIND (sqlite | clickhouse): prints the store address, starting ClickHouse if needed.
open_store() {
  case $1 in
    sqlite) echo "sqlite:$work/vigil.db" ;;
    clickhouse) start_clickhouse "$work/clickhouse" ;;
    *) echo "unknown store $1" >&2; exit 2 ;;
  esac
}

# yardstick KIND STORE: the raw rate of the store under the collector, measured now on these cores (rows/s): SQLite
# in 1,000-row WAL transactions with synchronous=FULL beside the store's file, ClickHouse in 100,000-row RowBinary
# inserts into the same server. `yardstick parse` is NDJSON parse + validate on one core (lines/s).
yardstick() {
  case $1 in
    sqlite) "$yardstick" sqlite "$work" | sed -n 's/^sqlite_raw_rows_per_s=//p' ;;
    clickhouse) "$yardstick" clickhouse "$(sed 's|^clickhouse://\([^/]*\)/.*|http://\1|' <<<"$2")" | sed -n 's/^clickhouse_raw_rows_per_s=//p' ;;
    parse) "$yardstick" parse | sed -n 's/^parse_validate_lines_per_s=//p' ;;
  esac
}

# ratio A B: A/B to two places.
ratio() { python3 -c "print(round($1/$2, 2))"; }

# serve_store KIND STORE: registers a probe and starts a collector on STORE; sets token, url and pid.
serve_store() {
  token=$("$bin" probe add --name bench --country IR --asn 44244 --region Tehran --json --store "$2" \
    2>"$work/add-$1.err" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  # One probe sends the whole load, so the per-probe quotas (meant for real probes) are off here.
  printf '[ingest]\nprobe_batches_per_minute = 0\nprobe_measurements_per_minute = 0\n' > "$work/bench.toml"
  RUST_LOG=warn "$bin" --config "$work/bench.toml" serve --listen 127.0.0.1:0 --store "$2" > "$work/serve-$1.out" &
  pid=$!; pids+=($pid)
  for _ in $(seq 100); do grep -q listening "$work/serve-$1.out" 2>/dev/null && break; sleep 0.05; done
  url=$(sed -n 's/^vigil-collector listening on //p' "$work/serve-$1.out")
}
