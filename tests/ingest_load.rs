//! The collector under a hostile load from this (second) process on loopback: 200 concurrent clients sending a
//! random mix of valid batches, broken JSON, invalid values, oversized bodies, compression bombs, corrupt gzip
//! and unknown tokens. The collector must stay up with its memory under a bound, answer every bad request with
//! its reason, and — after a SIGKILL — hold every measurement it acknowledged and nothing from a refused batch.
//!
//! `VIGIL_LOAD_CLIENTS` and `VIGIL_LOAD_SECS` (default 200 clients, 20 s) scale it; `bench/load.sh` runs the
//! full minute on release binaries and prints the report recorded in BENCHMARKS.md.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::time::Duration;

use vigil_lab::CollectorProcess;
use vigil_lab::load::{Case, LoadPlan, run};

/// The body and decoded limits the collector runs with here (small, so bad requests are cheap to make).
const MAX_BODY: usize = 256 * 1024;
const MAX_DECODED: usize = 2 * 1024 * 1024;
const MAX_INFLIGHT: usize = 16;
/// The collector's memory bound at these limits: admitted batches (body, decoded text and parsed lines each),
/// the connections' buffers, SQLite's page cache and the binary itself, with room to spare. Exceeding it means
/// something holds memory per request that the limits do not bound.
const RSS_BOUND_KIB: u64 = 256 * 1024;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Resident memory of a process, kB, from a `/proc/PID/status` field (`VmRSS`, `VmHWM`).
fn memory_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
}

#[test]
fn hostile_clients_get_their_reasons_and_every_acknowledged_measurement_survives_a_kill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("collector.toml");
    std::fs::write(
        &config,
        format!(
            "[ingest]\nmax_body_bytes = {MAX_BODY}\nmax_decoded_bytes = {MAX_DECODED}\n\
             max_inflight_batches = {MAX_INFLIGHT}\nprobe_batches_per_minute = 0\nprobe_measurements_per_minute = 0\n\
             \n[server]\nmax_connections = 256\n\n[classifier]\ninterval_secs = 0\n"
        ),
    )
    .expect("config");
    let mut collector = CollectorProcess::start_with_config(dir.path(), 0, Some(&config));
    let pid = collector.pid().expect("collector pid");
    let tokens: Vec<String> = (0..20).map(|i| collector.add_probe(&format!("load-{i}")).1).collect();
    let plan = LoadPlan {
        url: collector.url.clone(),
        tokens,
        clients: usize::try_from(env_number("VIGIL_LOAD_CLIENTS", 200)).expect("clients"),
        duration: Duration::from_secs(env_number("VIGIL_LOAD_SECS", 20)),
        max_body_bytes: MAX_BODY,
        max_decoded_bytes: MAX_DECODED,
    };
    let report = run(&plan);
    let peak_kib = memory_kib(pid, "VmHWM").expect("the collector is still running");
    println!(
        "{}",
        serde_json::json!({
            "clients": plan.clients,
            "seconds": plan.duration.as_secs(),
            "report": &report,
            "measurements_acked_per_s": (report.measurements_acked as f64 / report.elapsed_secs).round(),
            "collector_peak_rss_kib": peak_kib,
        })
    );

    // Up, and answering.
    let mut health = std::net::TcpStream::connect(("127.0.0.1", collector.port())).expect("connect");
    health
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: vigil\r\n\r\n")
        .expect("send");
    let mut answer = String::new();
    health.read_to_string(&mut answer).expect("read");
    assert!(
        answer.starts_with("HTTP/1.0 200"),
        "the collector answers /healthz after the load: {answer}"
    );
    assert!(
        peak_kib < RSS_BOUND_KIB,
        "peak RSS {peak_kib} KiB over the bound {RSS_BOUND_KIB} KiB"
    );
    for (case, _) in Case::MIX {
        let tally = report.cases.get(&format!("{case:?}")).cloned().unwrap_or_default();
        assert!(tally.sent > 0, "{case:?} was never sent: {report:?}");
        assert_eq!(
            tally.unexpected, 0,
            "{case:?} got unexpected answers: {:?}",
            tally.examples
        );
        assert_eq!(tally.as_expected + tally.cut_off, tally.sent, "{case:?}");
    }
    assert!(report.measurements_acked > 0);

    // Power cut: whatever was acknowledged is on disk.
    collector.kill();
    let db = rusqlite::Connection::open(dir.path().join("vigil.db")).expect("the store opens after a kill");
    let mut select = db.prepare("SELECT id FROM measurements").expect("select");
    let stored: HashSet<Vec<u8>> = select
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .expect("ids")
        .collect::<Result<_, _>>()
        .expect("ids");
    let lost = report
        .acked
        .iter()
        .filter(|id| !stored.contains(id.as_bytes().as_slice()))
        .count();
    assert_eq!(
        lost,
        0,
        "{lost} of {} acknowledged measurements are missing",
        report.acked.len()
    );
    let sneaked = report
        .refused
        .iter()
        .filter(|id| stored.contains(id.as_bytes().as_slice()))
        .count();
    assert_eq!(sneaked, 0, "{sneaked} measurements from refused batches were stored");
}
