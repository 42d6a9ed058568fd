//! Load generator for `bench/ingest.sh`: N concurrent clients POST pre-built 1,000-line batches to a collector
//! and report sustained measurements per second. Batches are built and compressed before the clock starts, so
//! the generator spends the timed part on HTTP only.
//!
//! `cargo run --release -p vigil-collector --example ingest_load -- URL TOKEN [CLIENTS] [BATCHES_PER_CLIENT] [LINES] [gzip|none]`

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use uuid::Uuid;

fn build_batch(lines: usize) -> Vec<u8> {
    let kinds = [
        (
            "dns",
            r#"{"outcome":"ok","query":"example.org","qtype":"A","resolver":"udp://192.0.2.53:53","answers":[{"type":"A","data":"192.0.2.1","ttl":60}],"rcode":"NOERROR"}"#,
        ),
        (
            "http",
            r#"{"outcome":"ok","url":"https://example.org/","status":200,"body_length":1256,"title":"Example Domain","tls_version":"TLSv1.3"}"#,
        ),
        (
            "tcp",
            r#"{"outcome":"ok","ip":"192.0.2.1","port":443,"method":"connect","rtt_ms":12.4}"#,
        ),
        (
            "icmp",
            r#"{"outcome":"ok","ip":"192.0.2.1","sent":3,"received":3,"rtt_min_ms":11.2,"rtt_avg_ms":12.0,"rtt_max_ms":13.1}"#,
        ),
        (
            "vitals",
            r#"{"outcome":"ok","boot_id":"4f3c9a52-2b1e-4c66-9d3e-0a1b2c3d4e5f","uptime_s":86400,"power":{"ac_online":true,"on_battery":false,"battery_pct":null},"gateway_reachable":true,"link_up":true,"last_gasp":false,"spool_depth":0}"#,
        ),
    ];
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut body = Vec::with_capacity(lines * 400);
    for i in 0..lines {
        let (kind, result) = kinds[i % kinds.len()];
        writeln!(
            body,
            r#"{{"schema":1,"id":"{}","kind":"{kind}","started_at":"{now}","duration_ms":12.5,"target":{{"name":"example.org","scope":"international","list":"anchors"}},"network":{{"asn":44244,"cc":"IR"}},"clock":{{"synced":true,"boot_id":"4f3c9a52-2b1e-4c66-9d3e-0a1b2c3d4e5f","mono_ms":{}}},"result":{result}}}"#,
            Uuid::now_v7(),
            1_000_000 + i
        )
        .expect("in-memory write");
    }
    body
}

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
