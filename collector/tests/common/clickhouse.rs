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
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

const SERVER: &str = "/usr/sbin/clickhouse-server";

impl ClickHouseServer {
    /// Starts a server and waits until it answers.
    pub fn start() -> Self {
        assert!(
            Path::new(SERVER).is_file(),
            "Debian's clickhouse-server is needed for this test: `apt-get install clickhouse-server` \
             (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = ClickHouseServer {
            child: None,
            http_port: free_port(),
            dir,
        };
        server.launch();
        server
    }

    fn launch(&mut self) {
        let d = self.dir.path().display().to_string();
        let (tcp, interserver) = (free_port(), free_port());
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
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mlock_executable>false</mlock_executable>
</yandex>
"#,
            http = self.http_port,
        );
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

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
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

/// Whether `GET /ping` answers `Ok.`.
fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.ends_with("Ok.\n")
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
