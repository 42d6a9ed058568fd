//! An acknowledged measurement is never lost: the real `vigil-collector` binary is SIGKILLed while clients are
//! posting, restarted on the same store, and every id that got a `200` is found.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;
use vigil_collector::MeasurementQuery;
use vigil_collector::{StoreSpec, open_store};

const BIN: &str = env!("CARGO_BIN_EXE_vigil-collector");

struct Running {
    child: Child,
    base: String,
}

fn start(store: &str) -> Running {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--store", store])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("collector starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("reads the listen line");
    let base = first
        .trim()
        .strip_prefix("vigil-collector listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    Running { child, base }
}

fn register(store: &str) -> String {
    let out = Command::new(BIN)
        .args([
            "probe",
            "add",
            "--name",
            "durable",
            "--country",
            "VE",
            "--asn",
            "8048",
            "--json",
            "--store",
            store,
        ])
        .env("RUST_LOG", "warn")
        .output()
        .expect("probe add runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert!(
        json["probe_id"].as_str().is_some_and(|id| id.starts_with("prb-")),
        "{json}"
    );
    json["token"].as_str().expect("a token").to_owned()
}

/// Posts batches until told to stop; records the ids of every batch answered 200.
async fn poster(
    base: String,
    token: String,
    acked: Arc<Mutex<HashSet<Uuid>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let (ids, body) = common::batch(25);
        let sent = client
            .post(format!("{base}/api/v1/measurements"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().as_u16() == 200 => {
                // Count only answers whose body arrived whole: that is what a probe acts on.
                if let Ok(json) = resp.json::<serde_json::Value>().await
                    && json["accepted"].as_u64() == Some(25)
                {
                    acked.lock().expect("lock").extend(ids);
                }
            }
            Ok(resp) => panic!("unexpected status {}", resp.status()),
            Err(_) => break, // the collector was killed
        }
    }
}

async fn count(store: &str) -> u64 {
    let spec: StoreSpec = store.parse().expect("spec");
    let s = open_store(&spec).await.expect("store reopens after SIGKILL");
    s.count_measurements(MeasurementQuery::default()).await.expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_measurement_survives_sigkill_and_restart() {
    common::install_crypto_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = format!("sqlite:{}", dir.path().join("vigil.db").display());
    let token = register(&store);
    let acked = Arc::new(Mutex::new(HashSet::new()));
    for round in 0..4 {
        let mut running = start(&store);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let before = acked.lock().expect("lock").len();
        let posters: Vec<_> = (0..4)
            .map(|_| {
                tokio::spawn(poster(
                    running.base.clone(),
                    token.clone(),
                    Arc::clone(&acked),
                    Arc::clone(&stop),
                ))
            })
            .collect();
        // Kill while batches are in flight, once this round has had some acknowledged.
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.lock().expect("lock").len() < before + 25 * 20 {
            assert!(Instant::now() < deadline, "round {round}: too few acknowledgements");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        running.child.kill().expect("SIGKILL");
        running.child.wait().expect("reaped");
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for p in posters {
            p.await.expect("poster ends");
        }
    }
    let acked: Vec<Uuid> = acked.lock().expect("lock").iter().copied().collect();
    assert!(acked.len() >= 4 * 500, "{}", acked.len());

    // Reopen the store directly (recovering the WAL) and look for every acknowledged id.
    let stored = count(&store).await;
    assert!(
        stored >= acked.len() as u64,
        "stored {stored} < acknowledged {}",
        acked.len()
    );
    let spec: StoreSpec = store.parse().expect("spec");
    let s = open_store(&spec).await.expect("reopen");
    for chunk in acked.chunks(500) {
        let found = s
            .measurements(MeasurementQuery {
                ids: Some(chunk.to_vec()),
                ..Default::default()
            })
            .await
            .expect("read");
        assert_eq!(found.len(), chunk.len(), "acknowledged measurements were lost");
    }
    drop(s);

    // Right after a 200, SIGKILL; the restarted binary finds the batch: its retry is all duplicates.
    let client = reqwest::Client::new();
    let (_, body) = common::batch(25);
    let post = |base: String, body: Vec<u8>| {
        let client = client.clone();
        let token = token.clone();
        async move {
            client
                .post(format!("{base}/api/v1/measurements"))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/x-ndjson")
                .body(body)
                .send()
                .await
                .expect("post")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    let mut running = start(&store);
    assert_eq!(
        post(running.base.clone(), body.clone()).await,
        serde_json::json!({"accepted": 25, "duplicates": 0})
    );
    running.child.kill().expect("SIGKILL");
    running.child.wait().expect("reaped");
    let mut running = start(&store);
    assert_eq!(
        post(running.base.clone(), body).await,
        serde_json::json!({"accepted": 0, "duplicates": 25})
    );
    running.child.kill().expect("SIGKILL");
    running.child.wait().expect("reaped");
    assert_eq!(count(&store).await, stored + 25);
}
