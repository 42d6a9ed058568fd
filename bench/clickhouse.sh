# Shared by the benchmark scripts (sourced): a free loopback port, and Debian's clickhouse-server started on one
# with its own config under DIR (printed: the store address; the server's pid is in DIR/pid).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_clickhouse() {
  local dir=$1 port
  port=$(free_port)
  mkdir -p "$dir/log"
  cat > "$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$port</http_port><tcp_port>$(free_port)</tcp_port><interserver_http_port>$(free_port)</interserver_http_port>
  <path>$dir/data/</path><tmp_path>$dir/tmp/</tmp_path><user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
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

