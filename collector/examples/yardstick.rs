//! The yardstick of `bench/ingest.sh`: on the same cores and in the same run as the ingest benchmark, how fast the
//! parts under the collector go on their own, so ingest figures can be read as a share of what this machine can
//! do at that moment (shared machines vary by twofold from day to day; BENCHMARKS.md records both).
//!
//! ```text
//! yardstick sqlite DIR [ROWS=200000]          raw SQLite: WAL, synchronous=FULL, 1,000-row transactions
//! yardstick clickhouse URL [ROWS=800000]      raw ClickHouse: RowBinary inserts of 100,000 rows
//! yardstick parse [LINES=200000]              NDJSON parse + validate (the collector's batch reader), one core
//! ```
//! Each prints one `key=value` line of rows (or lines) per second. The rows are the benchmark's own measurement
//! lines (`support/lines.rs`), stored as the id, probe, kind, time and line — the measurement table's core.

#[path = "support/lines.rs"]
mod lines;

use std::time::Instant;

use vigil_collector::{BatchLimits, parse_batch};

/// Lines per generated batch (the benchmark's batch size).
const BATCH_LINES: usize = 1_000;

/// The benchmark's lines as (id, kind, line) rows.
fn rows(n: usize) -> Vec<(String, String, String)> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let batch = lines::build_batch(BATCH_LINES);
        for line in String::from_utf8_lossy(&batch).lines().take(n - out.len()) {
            let json: serde_json::Value = serde_json::from_str(line).expect("the benchmark's lines are JSON");
            out.push((
                json["id"].as_str().unwrap_or_default().to_owned(),
                json["kind"].as_str().unwrap_or_default().to_owned(),
                line.to_owned(),
            ));
        }
    }
    out
}

fn sqlite(dir: &str, n: usize) -> f64 {
    let rows = rows(n);
    let path = std::path::Path::new(dir).join("yardstick.db");
    let _ = std::fs::remove_file(&path);
    let mut conn = rusqlite::Connection::open(&path).expect("opens");
    conn.pragma_update(None, "journal_mode", "WAL").expect("WAL");
    conn.pragma_update(None, "synchronous", "FULL").expect("synchronous");
    conn.execute_batch(
        "CREATE TABLE rows (id TEXT PRIMARY KEY, probe_id TEXT NOT NULL, kind TEXT NOT NULL,
         started_at_ms INTEGER NOT NULL, line TEXT NOT NULL) WITHOUT ROWID",
    )
    .expect("table");
    let now = chrono::Utc::now().timestamp_millis();
    let start = Instant::now();
    for chunk in rows.chunks(1_000) {
        let tx = conn.transaction().expect("transaction");
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO rows VALUES (?1, ?2, ?3, ?4, ?5)")
                .expect("prepares");
            for (id, kind, line) in chunk {
                insert
                    .execute(rusqlite::params![id, "prb-yardstick", kind, now, line])
                    .expect("inserts");
            }
        }
        tx.commit().expect("commits");
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    rate
}

#[derive(clickhouse::Row, serde::Serialize)]
struct Row {
    id: String,
    probe_id: String,
    kind: String,
    reported_ms: i64,
    body: String,
}

async fn clickhouse(url: &str, n: usize) -> f64 {
    let rows = rows(n);
    // No schema validation: it asks the server with a setting Debian's 18.16 does not know (as the store does).
    let root = clickhouse::Client::default().with_url(url).with_validation(false);
    root.query("CREATE DATABASE IF NOT EXISTS yardstick")
        .execute()
        .await
        .expect("database");
    let client = root.with_database("yardstick");
    client.query("DROP TABLE IF EXISTS rows").execute().await.expect("drop");
    client
        .query(
            "CREATE TABLE rows (id String, probe_id String, kind String, reported_ms Int64, body String) \
             ENGINE = MergeTree ORDER BY (probe_id, reported_ms, id)",
        )
        .execute()
        .await
        .expect("table");
    let now = chrono::Utc::now().timestamp_millis();
    let start = Instant::now();
    for chunk in rows.chunks(100_000) {
        let mut insert = client.insert::<Row>("rows").await.expect("insert");
        for (id, kind, line) in chunk {
            insert
                .write(&Row {
                    id: id.clone(),
                    probe_id: "prb-yardstick".to_owned(),
                    kind: kind.clone(),
                    reported_ms: now,
                    body: line.clone(),
                })
                .await
                .expect("writes");
        }
        insert.end().await.expect("ends");
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    client.query("DROP TABLE rows").execute().await.expect("drop");
    rate
}

fn parse(n: usize) -> f64 {
    let batches: Vec<Vec<u8>> = (0..n.div_ceil(BATCH_LINES))
        .map(|_| lines::build_batch(BATCH_LINES))
        .collect();
    // The limits `serve` uses by default.
    let ingest = vigil_collector::IngestConfig::default();
    let limits = BatchLimits {
        max_line_bytes: ingest.max_line_bytes,
        max_lines: ingest.max_lines,
        measurement: vigil_measurement::Limits::default(),
    };
    let now = chrono::Utc::now();
    let start = Instant::now();
    let mut parsed = 0;
    for body in &batches {
        parsed += parse_batch(body, now, &limits)
            .expect("the benchmark's lines are valid")
            .len();
    }
    parsed as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count = |i: usize, default: usize| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default);
    match args.get(1).map(String::as_str) {
        Some("sqlite") if args.len() > 2 => {
            println!("sqlite_raw_rows_per_s={:.0}", sqlite(&args[2], count(3, 200_000)));
        }
        Some("clickhouse") if args.len() > 2 => {
            println!(
                "clickhouse_raw_rows_per_s={:.0}",
                clickhouse(&args[2], count(3, 800_000)).await
            );
        }
        Some("parse") => println!("parse_validate_lines_per_s={:.0}", parse(count(2, 200_000))),
        _ => {
            eprintln!("usage: yardstick sqlite DIR [ROWS] | clickhouse URL [ROWS] | parse [LINES]");
            std::process::exit(2);
        }
    }
}
