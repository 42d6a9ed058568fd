//! Load generator for `bench/ingest.sh`: N concurrent clients POST pre-built 1,000-line batches to a collector
//! and report sustained measurements per second. Batches are built and compressed before the clock starts, so
//! the generator spends the timed part on HTTP only.
//!
//! `cargo run --release -p vigil-collector --example ingest_load -- URL TOKEN [CLIENTS] [BATCHES_PER_CLIENT] [LINES] [gzip|none]`

use std::io::Write;
use std::time::{Duration, Instant};

#[path = "support/lines.rs"]
mod lines;

use lines::build_batch;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("in-memory write");
    enc.finish().expect("in-memory finish")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: ingest_load URL TOKEN [CLIENTS=4] [BATCHES_PER_CLIENT=50] [LINES=1000] [gzip|none]");
        std::process::exit(2);
    }
    let url = format!("{}/api/v1/measurements", args[1].trim_end_matches('/'));
    let token = args[2].clone();
    let arg = |i: usize, default: usize| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (clients, per_client, lines) = (arg(3, 4), arg(4, 50), arg(5, 1000));
    let compress = args.get(6).map(String::as_str) != Some("none");

    let prepared: Vec<Vec<Vec<u8>>> = (0..clients)
        .map(|_| {
            (0..per_client)
                .map(|_| {
                    let body = build_batch(lines);
                    if compress { gzip(&body) } else { body }
                })
                .collect()
        })
        .collect();
    let bytes: usize = prepared.iter().flatten().map(Vec::len).sum();

    // Built inside the workspace, reqwest may have rustls without a provider: install ring for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    let started = Instant::now();
    let tasks: Vec<_> = prepared
        .into_iter()
        .map(|batches| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            tokio::spawn(async move {
                let (mut accepted, mut retried) = (0u64, 0u64);
                for body in batches {
                    loop {
                        let mut req = client
                            .post(&url)
                            .header("authorization", format!("Bearer {token}"))
                            .header("content-type", "application/x-ndjson")
                            .body(body.clone());
                        if compress {
                            req = req.header("content-encoding", "gzip");
                        }
                        let resp = req.send().await.expect("collector answers");
                        match resp.status().as_u16() {
                            200 => {
                                let json: serde_json::Value = resp.json().await.expect("json");
                                accepted += json["accepted"].as_u64().unwrap_or(0);
                                break;
                            }
                            503 => {
                                retried += 1;
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            other => panic!("unexpected status {other}: {}", resp.text().await.unwrap_or_default()),
                        }
                    }
                }
                (accepted, retried)
            })
        })
        .collect();
    let (mut accepted, mut retried) = (0, 0);
    for task in tasks {
        let (a, r) = task.await.expect("client task");
        accepted += a;
        retried += r;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "clients={clients} batches={} lines_per_batch={lines} encoding={} wire_bytes={bytes} accepted={accepted} retried_503={retried} seconds={secs:.2} measurements_per_s={:.0}",
        clients * per_client,
        if compress { "gzip" } else { "identity" },
        accepted as f64 / secs
    );
}
