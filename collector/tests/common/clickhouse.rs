//! A real ClickHouse server (Debian's `clickhouse-server`) for tests: a self-contained config in a temp directory,
//! loopback only, ports chosen here, run as the `clickhouse` user when the test runs as root.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server; killed on drop.
pub struct ClickHouseServer {
    child: Option<Child>,
    /// Its HTTP port on 127.0.0.1.
    pub http_port: u16,
    /// Its native-protocol port (what other servers of a cluster connect to).
    pub tcp_port: u16,
    cluster: Option<ClusterRole>,
    /// Every query is written to `system.query_log` (to replay them on another ClickHouse release).
    log_queries: bool,
    dir: tempfile::TempDir,
}

/// A server's place in a cluster named `vigil`: one replica per shard, every shard listed by its native port.
#[derive(Debug, Clone)]
pub struct ClusterRole {
    /// This server's shard (1-based).
    pub shard: usize,
    /// Native ports of every shard's server, in shard order.
    pub shards: Vec<u16>,
    /// ZooKeeper's client port.
    pub zookeeper: u16,
}

/// A free port on loopback.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

const SERVER: &str = "/usr/sbin/clickhouse-server";

impl ClickHouseServer {
    /// Starts a server and waits until it answers.
    pub fn start() -> Self {
        Self::start_with(free_port(), None)
    }

    /// Starts a server on these ports, in a cluster if `cluster` says so.
    pub fn start_with(tcp_port: u16, cluster: Option<ClusterRole>) -> Self {
        assert!(
            Path::new(SERVER).is_file(),
            "Debian's clickhouse-server is needed for this test: `apt-get install clickhouse-server` \
             (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = ClickHouseServer {
            child: None,
            http_port: free_port(),
            tcp_port,
            cluster,
            log_queries: false,
            dir,
        };
        server.launch();
        server
    }

    /// Starts a server that logs every query it runs in `system.query_log` ([`Self::logged_queries`]).
    pub fn start_logging_queries() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = ClickHouseServer {
            child: None,
            http_port: free_port(),
            tcp_port: free_port(),
            cluster: None,
            log_queries: true,
            dir,
        };
        server.launch();
        server
    }

    /// The distinct texts of the queries that completed, in first-run order (needs
    /// [`Self::start_logging_queries`]).
    pub fn logged_queries(&self) -> Vec<String> {
        assert!(self.log_queries, "the server was not started to log queries");
        query(self.http_port, "SYSTEM FLUSH LOGS").expect("flushes its logs");
        let rows = query(
            self.http_port,
            "SELECT query FROM system.query_log WHERE type = 2 GROUP BY query ORDER BY min(event_time), query \
             FORMAT JSONEachRow",
        )
        .expect("reads its query log");
        rows.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|row| row["query"].as_str().map(str::to_owned))
            .collect()
    }

    /// A query's answer (the body) in `database`, or the server's error text.
    pub fn run_in(&self, database: &str, sql: &str) -> Result<String, String> {
        query_or_error(self.http_port, &format!("/?database={database}"), sql)
    }

    fn cluster_config(&self) -> String {
        let Some(c) = &self.cluster else {
            return String::new();
        };
        let shards: String = c
            .shards
            .iter()
            .map(|port| {
                format!(
                    "<shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host>\
                     <port>{port}</port></replica></shard>"
                )
            })
            .collect();
        format!(
            "<remote_servers><vigil>{shards}</vigil></remote_servers>\n\
             <zookeeper><node><host>127.0.0.1</host><port>{zk}</port></node></zookeeper>\n\
             <macros><shard>{shard:02}</shard><replica>replica-{shard:02}</replica></macros>\n\
             <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>\n",
            zk = c.zookeeper,
            shard = c.shard
        )
    }

    fn launch(&mut self) {
        let d = self.dir.path().display().to_string();
        let (tcp, interserver) = (self.tcp_port, free_port());
        let cluster = self.cluster_config();
        let config = format!(
            r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/log/server.log</log><errorlog>{d}/log/error.log</errorlog><size>10M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <interserver_http_port>{interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <max_connections>256</max_connections>
  <max_concurrent_queries>100</max_concurrent_queries>
  <mark_cache_size>268435456</mark_cache_size>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{users}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mlock_executable>false</mlock_executable>
  {cluster}
</yandex>
"#,
            http = self.http_port,
            users = if self.log_queries {
                self.dir.path().join("users.xml").display().to_string()
            } else {
                "/etc/clickhouse-server/users.xml".to_owned()
            },
        );
        if self.log_queries {
            std::fs::write(self.dir.path().join("users.xml"), LOGGING_USERS).expect("users config");
        }
        std::fs::create_dir_all(self.dir.path().join("log")).expect("log dir");
        let config_path = self.dir.path().join("config.xml");
        std::fs::write(&config_path, config).expect("config");
        let root = is_root();
        if root {
            let status = Command::new("chown")
                .args(["-R", "clickhouse:clickhouse"])
                .arg(self.dir.path())
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown to the clickhouse user failed");
        }
        // setpriv execs the server in place (unlike runuser), so killing the child kills the server.
        let mut command = if root {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=clickhouse",
                "--regid=clickhouse",
                "--clear-groups",
                "--",
                SERVER,
            ]);
            c
        } else {
            Command::new(SERVER)
        };
        let child = command
            .arg(format!("--config-file={}", config_path.display()))
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("clickhouse-server starts");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if ping(self.http_port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir.path().join("log/error.log")).unwrap_or_default();
        panic!("clickhouse-server did not answer within 30 s:\n{log}");
    }

    /// Waits until the server holds a ZooKeeper session (it connects in the background, and retries slowly
    /// after a failed first attempt).
    pub fn wait_for_zookeeper(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if query(self.http_port, "SELECT count() FROM system.zookeeper WHERE path = '/'")
                .is_some_and(|r| r.trim().parse::<u64>().is_ok())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "clickhouse-server has no ZooKeeper session after 60 s:\n{}",
            self.error_log()
        );
    }

    /// The server's error log so far (for failure messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/error.log")).unwrap_or_default()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The collector's store address for `database` on this server.
    pub fn spec(&self, database: &str) -> vigil_collector::StoreSpec {
        vigil_collector::StoreSpec::ClickHouse {
            url: self.url(),
            database: database.to_owned(),
        }
    }

    /// Stops the server (SIGKILL), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for ClickHouseServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The default user on loopback, with every query logged.
const LOGGING_USERS: &str = r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><log_queries>1</log_queries></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#;

/// A query's body over HTTP/1.0, `None` unless the server answered 200.
fn query(port: u16, sql: &str) -> Option<String> {
    query_or_error(port, "/", sql).ok()
}

/// A query's body over HTTP/1.0, or the server's answer when it was not 200.
fn query_or_error(port: u16, path: &str, sql: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let failed = |e: std::io::Error| e.to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(failed)?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(failed)?;
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{sql}",
        sql.len()
    );
    stream.write_all(request.as_bytes()).map_err(failed)?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).map_err(failed)?;
    let reply = String::from_utf8_lossy(&reply);
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .ok_or_else(|| "no HTTP answer".to_owned())?;
    if head.starts_with("HTTP/1.0 200") {
        Ok(body.to_owned())
    } else {
        Err(body.trim().to_owned())
    }
}

/// Whether the server answers queries.
fn ping(port: u16) -> bool {
    query(port, "SELECT 1").is_some_and(|r| r.trim() == "1")
}

fn is_root() -> bool {
    // The effective uid, from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}
