//! Kill loop: a child process appends to (and acknowledges from) the spool as fast as it can and is SIGKILLed
//! many times at arbitrary points. Afterwards the spool opens and holds every record the child reported as
//! appended and not acknowledged — none lost, none twice.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vigil_probe::{NewRecord, RecordClass, Spool, SpoolOptions};

const CHILD_DIR: &str = "VIGIL_SPOOL_KILL_DIR";
const CHILD_START: &str = "VIGIL_SPOOL_KILL_START";

fn number(line: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(line).expect("a spooled JSON line");
    v["n"].as_u64().expect("an n")
}

/// The child: runs only when the parent starts it (`--ignored --exact`), with the spool directory in the env.
#[test]
#[ignore = "run by spool_survives_repeated_sigkill as its child process"]
fn spool_kill_child() {
    let dir = std::env::var(CHILD_DIR).expect("the parent sets the spool directory");
    let mut n: u64 = std::env::var(CHILD_START).expect("start").parse().expect("a number");
    let mut spool = Spool::open(std::path::Path::new(&dir), SpoolOptions::default()).expect("child opens");
    let mut out = std::io::stdout().lock();
    let classes = RecordClass::ALL;
    for round in 0u64.. {
        let records: Vec<NewRecord> = (0..1 + round % 4)
            .map(|i| NewRecord {
                class: classes[((n + i) % 3) as usize],
                line: format!("{{\"n\":{},\"pad\":\"{}\"}}", n + i, "z".repeat(64)),
            })
            .collect();
        spool.append(&records).expect("append");
        for i in 0..records.len() as u64 {
            writeln!(out, "A {}", n + i).expect("stdout");
        }
        out.flush().expect("flush");
        n += records.len() as u64;
        if round % 5 == 4 {
            let batch = spool.next_batch(3, 1 << 20).expect("batch");
            let seqs: Vec<i64> = batch.iter().map(|r| r.seq).collect();
            // Announce the ack first: killed between the ack and its report, these are neither lost nor kept.
            for r in &batch {
                writeln!(out, "B {}", number(&r.line)).expect("stdout");
            }
            out.flush().expect("flush");
            spool.ack(&seqs).expect("ack");
            for r in &batch {
                writeln!(out, "K {}", number(&r.line)).expect("stdout");
            }
            out.flush().expect("flush");
        }
    }
}

#[test]
fn spool_survives_repeated_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exe = std::env::current_exe().expect("test binary path");
    let mut appended = BTreeSet::new();
    let mut acked = BTreeSet::new();
    let mut acking = BTreeSet::new();
    let mut next = 0u64;
    for round in 0..25u64 {
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "spool_kill_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_START, next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("child starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Let it run for a varying number of appends, then kill it wherever it is.
        let want = 20 + (round * 37) % 200;
        let mut seen = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while seen < want {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the child keeps appending");
            seen += u64::from(record(&line, &mut appended, &mut acking, &mut acked));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        reader.join().expect("reader ends at EOF");
        for line in rx.try_iter() {
            record(&line, &mut appended, &mut acking, &mut acked);
        }
        next = appended.iter().next_back().map_or(0, |n| n + 1000);
    }
    assert!(appended.len() > 1000, "{}", appended.len());

    let spool = Spool::open(dir.path(), SpoolOptions::default()).expect("the spool opens after 25 SIGKILLs");
    let mut out = Vec::new();
    spool.export(&mut out).expect("export");
    let lines: Vec<u64> = String::from_utf8(out).expect("utf-8").lines().map(number).collect();
    let present: BTreeSet<u64> = lines.iter().copied().collect();
    assert_eq!(present.len(), lines.len(), "a record is stored twice");
    let lost: Vec<&u64> = appended
        .iter()
        .filter(|n| !acking.contains(*n) && !present.contains(*n))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged appends lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    let resurrected: Vec<&u64> = acked.intersection(&present).collect();
    assert!(
        resurrected.is_empty(),
        "acknowledged records came back: {resurrected:?}"
    );
    assert_eq!(spool.stats().expect("stats").corrupt_skipped, 0);
}

/// Notes one line of child output (`A` appended, `B` about to be acked, `K` acked); true for an append.
fn record(line: &str, appended: &mut BTreeSet<u64>, acking: &mut BTreeSet<u64>, acked: &mut BTreeSet<u64>) -> bool {
    match line.split_once(' ') {
        Some(("A", n)) => {
            appended.insert(n.parse().expect("a number"));
            true
        }
        Some(("B", n)) => {
            acking.insert(n.parse().expect("a number"));
            false
        }
        Some(("K", n)) => {
            acked.insert(n.parse().expect("a number"));
            false
        }
        _ => false,
    }
}
