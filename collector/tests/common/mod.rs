//! Shared test harness: a collector on a temporary embedded store, served in-process on 127.0.0.1:0, a
//! registered probe, and builders for measurement lines.

#![allow(dead_code)]

pub mod clickhouse;
pub mod country;
pub mod current_release;
pub mod prometheus;
pub mod python;
pub mod zookeeper;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;
use vigil_collector::MeasurementQuery;
use vigil_collector::{AccessType, ProbeProfile};
use vigil_collector::{CollectorConfig, Store, StoreSpec, open_store, register_probe, serve};

/// Installs ring as rustls' process-wide provider: in a workspace build reqwest has rustls without one.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A running in-process collector.
pub struct TestCollector {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// The default configuration with the server's own classifier off: tests that save or classify events
/// themselves must not race a background run that re-classifies (and retracts) them.
pub fn quiet_config() -> CollectorConfig {
    let mut config = CollectorConfig::default();
    config.classifier.interval_secs = 0;
    config
}

impl TestCollector {
    /// A collector on a fresh embedded store, its classifier off ([`quiet_config`]).
    pub async fn start() -> Self {
        Self::start_with(quiet_config()).await
    }

    pub async fn start_with(config: CollectorConfig) -> Self {
        Self::start_on(config, None).await
    }

    /// A collector on `store` (a fresh embedded store when `None`).
    pub async fn start_on(mut config: CollectorConfig, store: Option<StoreSpec>) -> Self {
        install_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        config.store = store.unwrap_or_else(|| StoreSpec::Sqlite(dir.path().join("vigil.db")));
        let store = open_store(&config.store).await.expect("store opens");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let served = Arc::clone(&store);
        let task = tokio::spawn(async move {
            serve(served, &config, listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        TestCollector {
            addr,
            store,
            dir,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn add_probe(&self, name: &str) -> (String, String) {
        let issued = register_probe(
            self.store.as_ref(),
            ProbeProfile {
                name: name.to_owned(),
                country: "IR".to_owned(),
                asn: 44244,
                region: Some("Tehran".to_owned()),
                access: AccessType::Fixed,
                ups: false,
            },
        )
        .await
        .expect("probe registers");
        (issued.probe.probe_id, issued.token)
    }

    /// POSTs a body with the given token and encoding; returns status, headers and JSON body.
    pub async fn post(&self, token: Option<&str>, encoding: Option<&str>, body: Vec<u8>) -> Answer {
        let mut req = self
            .client
            .post(self.url("/api/v1/measurements"))
            .header("content-type", "application/x-ndjson")
            .body(body);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        if let Some(encoding) = encoding {
            req = req.header("content-encoding", encoding);
        }
        let resp = req.send().await.expect("request completes");
        Answer::read(resp).await
    }

    /// GETs `path` and parses the JSON answer.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json")
    }

    pub async fn stored(&self) -> u64 {
        self.store
            .count_measurements(MeasurementQuery::default())
            .await
            .expect("count")
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task ends cleanly");
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub json: serde_json::Value,
}

impl Answer {
    pub async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Answer {
            status,
            retry_after,
            json,
        }
    }

    pub fn error(&self) -> String {
        self.json["error"].as_str().unwrap_or_default().to_owned()
    }
}

/// A valid measurement line of the given kind with a fresh UUIDv7, started now.
pub fn line(kind: &str) -> (Uuid, String) {
    let id = Uuid::now_v7();
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let result = match kind {
        "dns" => {
            r#"{"outcome":"ok","query":"example.org","qtype":"A","resolver":"system","answers":[{"type":"A","data":"192.0.2.1","ttl":60}]}"#
        }
        "http" => r#"{"outcome":"ok","url":"https://example.org/","status":200}"#,
        "tcp" => r#"{"outcome":"ok","ip":"192.0.2.1","port":443}"#,
        "icmp" => r#"{"outcome":"ok","ip":"192.0.2.1","sent":3,"received":3}"#,
        "trace" => r#"{"outcome":"ok","ip":"192.0.2.1","hops":[{"ttl":1,"ip":"192.168.1.1","rtt_ms":0.4}]}"#,
        "vitals" => {
            r#"{"outcome":"ok","boot_id":"b1","uptime_s":100,"power":{"ac_online":true,"on_battery":false,"battery_pct":null},"gateway_reachable":true,"link_up":true,"last_gasp":false,"spool_depth":0}"#
        }
        other => panic!("no template for kind {other}"),
    };
    let text = format!(
        r#"{{"schema":1,"id":"{id}","kind":"{kind}","started_at":"{now}","duration_ms":5,"target":{{"name":"example.org","scope":"international","list":"anchors"}},"result":{result}}}"#
    );
    (id, text)
}

/// A batch of `n` lines cycling through every kind; returns ids and the NDJSON body.
pub fn batch(n: usize) -> (Vec<Uuid>, Vec<u8>) {
    let kinds = ["dns", "http", "tcp", "icmp", "trace", "vitals"];
    let mut ids = Vec::with_capacity(n);
    let mut body = Vec::new();
    for i in 0..n {
        let (id, text) = line(kinds[i % kinds.len()]);
        ids.push(id);
        body.extend_from_slice(text.as_bytes());
        body.push(b'\n');
    }
    (ids, body)
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("in-memory");
    enc.finish().expect("in-memory")
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("in-memory")
}
