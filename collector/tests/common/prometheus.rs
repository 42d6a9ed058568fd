//! A real Prometheus server (Debian's `prometheus`) for tests: a temp config that scrapes one target on loopback
//! every second, its own temp storage, a free port; killed on drop. Self-contained, so the end-to-end tests in
//! `tests/` include it too (`#[path]`) to scrape the probe.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A running Prometheus; killed on drop.
pub struct Prometheus {
    child: Child,
    /// Its HTTP port on 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` as job `vigil` every second.
    pub fn scraping(target: SocketAddr) -> Self {
        Self::scraping_as(target, "vigil")
    }

    /// Starts Prometheus scraping `target` as job `job` every second.
    pub fn scraping_as(target: SocketAddr, job: &str) -> Self {
        let binary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file())
            .expect("Debian's prometheus is needed for this test: `apt-get install prometheus` (scripts/test.sh does)");
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: {job}\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("config");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        Prometheus { child, port, _dir: dir }
    }

    /// The result of an instant query (`data.result`), `None` while Prometheus is not answering; an error
    /// answer (a bad expression) is returned as `Err` with Prometheus's message.
    pub async fn query(&self, client: &reqwest::Client, expr: &str) -> Option<Result<Vec<serde_json::Value>, String>> {
        let resp = client
            .get(format!("http://127.0.0.1:{}/api/v1/query", self.port))
            .query(&[("query", expr)])
            .send()
            .await
            .ok()?;
        let json: serde_json::Value = resp.json().await.ok()?;
        Some(match json["status"].as_str() {
            Some("success") => Ok(json["data"]["result"].as_array().cloned().unwrap_or_default()),
            _ => Err(format!("{}: {}", json["errorType"], json["error"])),
        })
    }

    /// The first sample's value of an instant query, as Prometheus prints it.
    pub async fn value(&self, client: &reqwest::Client, expr: &str) -> Option<String> {
        match self.query(client, expr).await? {
            Ok(result) => result.first()?["value"][1].as_str().map(str::to_owned),
            Err(_) => None,
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
