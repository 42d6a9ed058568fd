//! The spool under damage and misuse: corrupt and truncated records, a truncated file, a second process,
//! eviction priorities, quarantine.

use std::io::{Seek, SeekFrom, Write};

use vigil_probe::{NewRecord, RecordClass, Spool, SpoolOptions};

fn records(class: RecordClass, n: usize, tag: &str) -> Vec<NewRecord> {
    (0..n)
        .map(|i| NewRecord {
            class,
            line: format!("{{\"tag\":\"{tag}\",\"i\":{i},\"pad\":\"{}\"}}", "y".repeat(100)),
        })
        .collect()
}

fn all_lines(spool: &Spool) -> Vec<String> {
    let mut out = Vec::new();
    spool.export(&mut out).expect("export");
    String::from_utf8(out)
        .expect("utf-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_second_probe_on_the_same_spool_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = Spool::open(dir.path(), SpoolOptions::default()).expect("first opens");
    let err = Spool::open(dir.path(), SpoolOptions::default()).expect_err("second is refused");
    assert!(err.is_locked(), "{err}");
    assert!(
        err.to_string().contains("another vigil-probe is using the spool"),
        "{err}"
    );
    drop(first);
    Spool::open(dir.path(), SpoolOptions::default()).expect("opens once the first is gone");
}

#[test]
fn eviction_drops_list_results_first_and_vitals_last() {
    let dir = tempfile::tempdir().expect("temp dir");
    let line_len = records(RecordClass::List, 1, "list00")[0].line.len() as u64;
    let mut spool = Spool::open(
        dir.path(),
        SpoolOptions {
            max_bytes: line_len * 10,
            ..SpoolOptions::default()
        },
    )
    .expect("opens");
    spool
        .append(&records(RecordClass::Vitals, 4, "vital1"))
        .expect("append");
    spool.append(&records(RecordClass::List, 4, "list00")).expect("append");
    spool
        .append(&records(RecordClass::Anchor, 4, "anchor"))
        .expect("append");
    // Every line has the same length: 12 records for room for 10: the two oldest list results go.
    let stats = spool.stats().expect("stats");
    assert_eq!((stats.vitals, stats.anchor, stats.list, stats.evicted), (4, 4, 2, 2));
    let lines = all_lines(&spool);
    assert!(!lines.iter().any(|l| l.contains(r#""tag":"list00","i":0,"#)));
    assert!(lines.iter().any(|l| l.contains(r#""tag":"list00","i":3,"#)));
    // Four more vitals: the remaining list results go, then the oldest anchors.
    spool
        .append(&records(RecordClass::Vitals, 4, "vital2"))
        .expect("append");
    let stats = spool.stats().expect("stats");
    assert_eq!((stats.vitals, stats.anchor, stats.list, stats.evicted), (8, 2, 0, 6));
}

#[test]
fn newest_vitals_go_first_then_the_backlog_oldest_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut spool = Spool::open(dir.path(), SpoolOptions::default()).expect("opens");
    spool.append(&records(RecordClass::List, 3, "old")).expect("append");
    spool.append(&records(RecordClass::Vitals, 2, "v")).expect("append");
    let batch = spool.next_batch(3, 1 << 20).expect("batch");
    let tags: Vec<&str> = batch.iter().map(|r| r.line.as_str()).collect();
    assert!(tags[0].contains(r#""tag":"v","i":1,"#), "{tags:?}");
    assert!(
        tags[1].contains(r#""tag":"old","i":0,"#) && tags[2].contains(r#""tag":"old","i":1,"#),
        "{tags:?}"
    );
}

#[test]
fn a_record_whose_bytes_rotted_is_skipped_and_counted_not_sent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut spool = Spool::open(dir.path(), SpoolOptions::default()).expect("opens");
    spool.append(&records(RecordClass::Anchor, 5, "a")).expect("append");
    drop(spool);
    // Rot one record's bytes behind the spool's back (as a failing SD card would).
    let conn = rusqlite::Connection::open(dir.path().join("spool.db")).expect("open raw");
    conn.execute(
        "UPDATE records SET line = replace(line, '\"i\":2', '\"i\":9') WHERE line LIKE '%\"i\":2,%'",
        [],
    )
    .expect("rot");
    drop(conn);
    let mut spool = Spool::open(dir.path(), SpoolOptions::default()).expect("reopens");
    let batch = spool.next_batch(100, 1 << 20).expect("batch");
    assert_eq!(batch.len(), 4);
    assert!(batch.iter().all(|r| !r.line.contains(r#""i":9"#)));
    let stats = spool.stats().expect("stats");
    assert_eq!((stats.records, stats.corrupt_skipped), (4, 1));
}

#[test]
fn a_truncated_spool_file_is_salvaged_and_the_probe_keeps_going() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut spool = Spool::open(dir.path(), SpoolOptions::default()).expect("opens");
    for i in 0..40 {
        spool
            .append(&records(RecordClass::Anchor, 10, &format!("b{i}")))
            .expect("append");
    }
    drop(spool); // closing checkpoints the WAL into the main file
    let path = dir.path().join("spool.db");
    let len = std::fs::metadata(&path).expect("metadata").len();
    let file = std::fs::OpenOptions::new().write(true).open(&path).expect("open");
    file.set_len(len / 2).expect("truncate");
    drop(file);

    let mut spool = Spool::open(dir.path(), SpoolOptions::default()).expect("a damaged spool still opens");
    let stats = spool.stats().expect("stats");
    assert_eq!(stats.salvaged, 1);
    assert!(stats.records < 400, "{stats:?}");
    assert!(dir.path().join("spool.db.damaged").exists());
    // Whatever was salvaged is intact, and the spool takes new records.
    for line in all_lines(&spool) {
        serde_json::from_str::<serde_json::Value>(&line).expect("salvaged lines are whole");
    }
    spool
        .append(&records(RecordClass::Vitals, 1, "after"))
        .expect("append after salvage");
    assert_eq!(spool.stats().expect("stats").records, stats.records + 1);
}

#[test]
fn garbage_in_place_of_the_spool_file_is_moved_aside() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut f = std::fs::File::create(dir.path().join("spool.db")).expect("create");
    f.write_all(&[0x5a; 8192]).expect("garbage");
    drop(f);
    let mut spool = Spool::open(dir.path(), SpoolOptions::default()).expect("opens over garbage");
    assert_eq!(spool.stats().expect("stats").salvaged, 1);
    spool.append(&records(RecordClass::Vitals, 2, "v")).expect("append");
    assert_eq!(spool.depth().expect("depth"), 2);
}

#[test]
fn a_torn_wal_tail_loses_only_the_unfinished_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut spool = Spool::open(dir.path(), SpoolOptions::default()).expect("opens");
    spool.append(&records(RecordClass::Anchor, 3, "kept")).expect("append");
    // Keep the WAL: copy the files while the spool is open (as a crash would leave them), then tear the tail.
    let copy = tempfile::tempdir().expect("temp dir");
    for name in ["spool.db", "spool.db-wal"] {
        std::fs::copy(dir.path().join(name), copy.path().join(name)).expect("copy");
    }
    drop(spool);
    let wal = copy.path().join("spool.db-wal");
    let mut f = std::fs::OpenOptions::new().append(true).open(&wal).expect("open wal");
    f.write_all(&[0xab; 1000]).expect("torn frame");
    f.seek(SeekFrom::End(0)).expect("seek");
    drop(f);
    let spool = Spool::open(copy.path(), SpoolOptions::default()).expect("opens after a torn write");
    let lines = all_lines(&spool);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(spool.stats().expect("stats").salvaged, 0);
}

#[test]
fn the_quarantine_file_is_rotated_at_its_bound_and_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut spool = Spool::open(
        dir.path(),
        SpoolOptions {
            quarantine_max_bytes: 2_000,
            ..SpoolOptions::default()
        },
    )
    .expect("opens");
    let batch = records(RecordClass::List, 40, "refused");
    spool.append(&batch).expect("append");
    for record in spool.next_batch(40, usize::MAX).expect("batch") {
        assert!(spool.quarantine(record.seq, "line 1: refused").expect("quarantine"));
    }
    let current = std::fs::metadata(dir.path().join("quarantine.ndjson"))
        .expect("current")
        .len();
    let rotated = std::fs::metadata(dir.path().join("quarantine.ndjson.1"))
        .expect("rotated")
        .len();
    assert!(current <= 2_000 && rotated <= 2_000, "{current} {rotated}");
    let stats = spool.stats().expect("stats");
    assert_eq!(stats.quarantined, 40);
    assert!(stats.quarantine_rotated >= 3, "{stats:?}");
    assert_eq!(stats.quarantine_bytes, current + rotated);
    // Every line of both files is a whole quarantine entry.
    for name in ["quarantine.ndjson", "quarantine.ndjson.1"] {
        let text = std::fs::read_to_string(dir.path().join(name)).expect("reads");
        for l in text.lines() {
            let entry: serde_json::Value = serde_json::from_str(l).expect("a whole JSON entry");
            assert!(entry["line"].as_str().is_some_and(|s| s.contains("refused")), "{entry}");
        }
    }
}

#[test]
fn quarantine_keeps_the_line_and_its_reason_in_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut spool = Spool::open(dir.path(), SpoolOptions::default()).expect("opens");
    spool.append(&records(RecordClass::List, 3, "q")).expect("append");
    let batch = spool.next_batch(10, 1 << 20).expect("batch");
    assert!(
        spool
            .quarantine(batch[1].seq, "line 2: unknown variant `smtp`")
            .expect("quarantine")
    );
    let text = std::fs::read_to_string(dir.path().join("quarantine.ndjson")).expect("quarantine file");
    let entry: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
    assert_eq!(entry["reason"], "line 2: unknown variant `smtp`");
    assert_eq!(entry["line"], batch[1].line.as_str());
    let left: Vec<i64> = spool
        .next_batch(10, 1 << 20)
        .expect("batch")
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(left, vec![batch[0].seq, batch[2].seq]);
}
