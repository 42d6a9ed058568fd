//! Harness for end-to-end tests: locate the workspace's release or debug binaries, run a real collector on
//! loopback, register probes through its command line, and build valid measurements.
//!
//! The binaries are the ones `cargo test --workspace` builds (or `cargo build --workspace --bins`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use chrono::Utc;
use uuid::Uuid;
use vigil_measurement::result::{TcpResult, VitalsResult};
use vigil_measurement::{Measurement, MeasurementResult, Outcome, SCHEMA_VERSION, Scope, Target};

pub mod h3;
pub mod lab;
pub mod load;

/// Path of a workspace binary built next to the running test executable.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it first with `cargo build --workspace --bins`",
        path.display()
    );
    path
}

/// A `vigil-collector serve` process on loopback over an embedded store.
pub struct CollectorProcess {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The `--store` address.
    pub store: String,
}

impl CollectorProcess {
    /// Starts a collector on `127.0.0.1:port` (0 for any free port) with its store in `dir`.
    pub fn start(dir: &Path, port: u16) -> Self {
        Self::start_with_config(dir, port, None)
    }

    /// The same with a configuration file (`--config`).
    pub fn start_with_config(dir: &Path, port: u16, config: Option<&Path>) -> Self {
        let store = format!("sqlite:{}", dir.join("vigil.db").display());
        let config_args = config.map(|c| ["--config".to_owned(), c.display().to_string()]);
        let mut child = Command::new(binary("vigil-collector"))
            .args(config_args.into_iter().flatten())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--store", &store])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("vigil-collector starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reads the listen line");
        let url = line
            .trim()
            .strip_prefix("vigil-collector listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the collector: {line:?}"))
            .to_owned();
        CollectorProcess {
            child: Some(child),
            url,
            store,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the URL ends with a port")
    }

    /// Registers a probe with `vigil-collector probe add --json`; returns (probe id, token).
    pub fn add_probe(&self, name: &str) -> (String, String) {
        self.add_probe_with_key(name, None)
    }

    /// Registers a probe, with its signing key (`--pubkey`) when given; returns (probe id, token).
    pub fn add_probe_with_key(&self, name: &str, public_key: Option<&str>) -> (String, String) {
        let out = Command::new(binary("vigil-collector"))
            .args([
                "probe",
                "add",
                "--name",
                name,
                "--country",
                "IR",
                "--asn",
                "44244",
                "--json",
            ])
            .args(public_key.map(|k| ["--pubkey", k]).into_iter().flatten())
            .args(["--store", &self.store])
            .env("RUST_LOG", "warn")
            .output()
            .expect("probe add runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        (
            json["probe_id"].as_str().expect("id").to_owned(),
            json["token"].as_str().expect("token").to_owned(),
        )
    }

    /// Runs `vigil-collector verify` on the store; returns whether it passed and what it printed.
    pub fn verify(&self) -> (bool, String) {
        let out = Command::new(binary("vigil-collector"))
            .args(["verify", "--store", &self.store])
            .env("RUST_LOG", "warn")
            .output()
            .expect("verify runs");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    /// Revokes a probe with `vigil-collector probe revoke`.
    pub fn revoke(&self, probe_id: &str) {
        let status = Command::new(binary("vigil-collector"))
            .args(["probe", "revoke", probe_id, "--store", &self.store])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .status()
            .expect("probe revoke runs");
        assert!(status.success());
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the process at once (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for CollectorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `vigil-probe` process.
pub struct ProbeProcess {
    child: Option<Child>,
    /// Lines the probe logged on stderr, collected by a reader thread.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ProbeProcess {
    /// Starts `vigil-probe run --config FILE`.
    pub fn run(config: &Path) -> Self {
        Self::run_with(config, &[])
    }

    /// Starts `vigil-probe run --config FILE` with extra arguments.
    pub fn run_with(config: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(binary("vigil-probe"))
            .args(["run", "--config"])
            .arg(config)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vigil-probe starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("log lock").push(line);
            }
        });
        ProbeProcess {
            child: Some(child),
            log,
        }
    }

    /// How many logged lines contain `text`.
    pub fn logged(&self, text: &str) -> usize {
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .filter(|l| l.contains(text))
            .count()
    }

    /// Sends SIGTERM and waits (at most `within`) for a clean exit; returns whether it exited successfully.
    pub fn terminate(&mut self, within: std::time::Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for ProbeProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls `condition` every 50 ms until it holds or `within` passes; returns whether it held.
pub fn wait_until(within: std::time::Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    condition()
}

/// Serves one static HTML page on 127.0.0.1 from a background thread; returns its address.
pub fn serve_page(body: &'static str) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes());
            });
        }
    });
    addr
}

/// A valid anchor TCP measurement line, started now.
pub fn tcp_line() -> (Uuid, String) {
    measurement_line(MeasurementResult::Tcp(TcpResult {
        outcome: Outcome::Ok,
        ip: std::net::IpAddr::from([192, 0, 2, 1]),
        port: 443,
        method: Some("connect".to_owned()),
        reply: None,
        reply_ttl: None,
        reply_ip_id: None,
        injected_rst: None,
        rtt_ms: Some(12.0),
        error_detail: None,
    }))
}

/// A valid vitals line, started now.
pub fn vitals_line() -> (Uuid, String) {
    measurement_line(MeasurementResult::Vitals(VitalsResult {
        outcome: Outcome::Ok,
        boot_id: "b-lab".to_owned(),
        uptime_s: 100.0,
        power: vigil_measurement::result::Power::default(),
        gateway_reachable: true,
        link_up: true,
        last_gasp: false,
        spool_depth: 0,
        seq: None,
        gateway_rtt_ms: None,
        error_detail: None,
    }))
}

fn measurement_line(result: MeasurementResult) -> (Uuid, String) {
    let id = Uuid::now_v7();
    let m = Measurement {
        schema: SCHEMA_VERSION,
        id,
        started_at: Utc::now(),
        duration_ms: 12.0,
        target: Target {
            name: "example.org".to_owned(),
            scope: Scope::International,
            list: Some("anchors".to_owned()),
        },
        network: None,
        clock: None,
        uplink: None,
        result,
    };
    (id, m.to_json_line())
}
