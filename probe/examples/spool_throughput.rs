//! Spool write throughput for BENCHMARKS.md: records/s appended with `synchronous = FULL` (every append is
//! durable before it returns), one record per append and a cycle's worth (50) per append.
//!
//! `cargo run --release -p vigil-probe --example spool_throughput -- [RECORDS=5000] [DIR]`

use std::time::Instant;

use vigil_probe::{NewRecord, RecordClass, Spool, SpoolOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(5000);
    let base = args
        .get(2)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let line = format!("{{\"schema\":1,\"kind\":\"http\",\"pad\":\"{}\"}}", "x".repeat(450));
    for per_append in [1usize, 50] {
        let dir = base.join(format!("vigil-spool-bench-{}-{per_append}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut spool = Spool::open(&dir, SpoolOptions::default()).expect("spool opens");
        let batch: Vec<NewRecord> = (0..per_append)
            .map(|_| NewRecord {
                class: RecordClass::List,
                line: line.clone(),
            })
            .collect();
        let appends = total / per_append;
        let started = Instant::now();
        for _ in 0..appends {
            spool.append(&batch).expect("append");
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "records_per_append={per_append} records={} seconds={secs:.2} records_per_s={:.0} appends_per_s={:.0} fsync=FULL",
            appends * per_append,
            (appends * per_append) as f64 / secs,
            appends as f64 / secs
        );
        drop(spool);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
