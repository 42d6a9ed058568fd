//! A real Prometheus server (Debian's `prometheus`) scrapes the collector's `/metrics` on loopback, and its
//! query API returns what the collector counted.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestCollector, batch};

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[tokio::test]
async fn prometheus_scrapes_the_collector_and_sees_its_counters() {
    let binary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .expect("Debian's prometheus is needed for this test: `apt-get install prometheus` (scripts/test.sh does)");
    let c = TestCollector::start().await;
    let (_, token) = c.add_probe("p1").await;
    assert_eq!(c.post(Some(&token), None, batch(12).1).await.status, 200);

    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: vigil\n    \
             static_configs:\n      - targets: ['{}']\n",
            c.addr
        ),
    )
    .expect("config");
    let port = free_port();
    let _prometheus = Prometheus(
        Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    let query = |q: &'static str| {
        let client = c.client.clone();
        async move {
            let resp = client
                .get(format!("http://127.0.0.1:{port}/api/v1/query"))
                .query(&[("query", q)])
                .send()
                .await
                .ok()?;
            let json: serde_json::Value = resp.json().await.ok()?;
            json["data"]["result"][0]["value"][1].as_str().map(str::to_owned)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stored = query("vigil_measurements_stored_total").await;
        if stored.as_deref() == Some("12") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never saw the collector's counters (last: {stored:?})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(query("up{job=\"vigil\"}").await.as_deref(), Some("1"));
    assert_eq!(
        query("sum(vigil_measurements_received_total{outcome=\"ok\"})")
            .await
            .as_deref(),
        Some("12")
    );
    c.stop().await;
}
