//! The spool: a crash-safe, bounded, on-disk queue between the checks and the uploader. A shutdown must never
//! lose measurements, so everything a check produces lands here first and leaves only after the collector's
//! `200`.
//!
//! # Design
//!
//! One SQLite file, `spool.db`, in the probe's state directory, in WAL mode with `synchronous = FULL`.
//!
//! - **Records**: `records(seq, class, created_ms, bytes, crc, line)`. `seq` is `AUTOINCREMENT`: it grows with
//!   every append and is never reused, even after deletions. `line` is one measurement's JSON; `crc` is its
//!   CRC-32.
//! - **Invariants**:
//!   1. `append` returns only after its transaction is durable: a record it accepted survives a crash or a power
//!      cut at any instant.
//!   2. A record leaves the spool only by `ack` (after the collector's `200`), `quarantine` (after a `400`
//!      naming it, copied first to `quarantine.ndjson`), or eviction when the byte bound is exceeded.
//!   3. The total of stored line bytes stays at or below the bound after every append. Eviction drops test-list
//!      results first, then anchors, then vitals, oldest first within a class ([`RecordClass`]).
//!   4. One process at a time: `spool.lock` is held with `flock` for the spool's lifetime; a second probe on the
//!      same directory refuses to start with a clear message.
//! - **Torn writes**: a crash mid-commit leaves a WAL frame without a valid commit record; SQLite discards it on
//!   the next open, so the spool is exactly as of the last completed `append`, `ack` or `quarantine`.
//! - **Damage**: a record whose CRC does not match is skipped, deleted and counted (`corrupt_skipped`), never
//!   sent and never a crash. A file that fails SQLite's `quick_check`, or cannot be opened as a database (a
//!   truncated SD-card write, bit rot), is moved aside to `spool.db.damaged`, a fresh spool is created, and every
//!   record that can still be read with a valid CRC is copied over; the rest are counted.
//! - **Upload order**: [`Spool::next_batch`] puts the newest vitals first, then the backlog oldest first, so a
//!   probe back after days offline reports its present state at once and drains its history in order.

mod error;
mod record;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

pub use error::SpoolError;
pub use record::{NewRecord, RecordClass, SpooledRecord};

use record::checksum;

/// File names inside the state directory.
const DB_FILE: &str = "spool.db";
const LOCK_FILE: &str = "spool.lock";
const QUARANTINE_FILE: &str = "quarantine.ndjson";
/// Where a full quarantine file goes (the one before it is deleted).
const QUARANTINE_ROTATED: &str = "quarantine.ndjson.1";
const DAMAGED_SUFFIX: &str = ".damaged";

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS records (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    class      INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    crc        INTEGER NOT NULL,
    line       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_class ON records(class, seq);
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// Cumulative counters kept in the spool itself.
const COUNTERS: [&str; 5] = [
    "corrupt_skipped",
    "evicted",
    "quarantined",
    "salvaged",
    "quarantine_rotated",
];

/// How big the spool may grow.
#[derive(Debug, Clone, Copy)]
pub struct SpoolOptions {
    /// Bound on the stored line bytes (the file is somewhat larger: indexes and pages).
    pub max_bytes: u64,
    /// Bound on `quarantine.ndjson`: past it the file is rotated to `quarantine.ndjson.1` (the previous one is
    /// deleted), so the quarantine never holds more than twice this.
    pub quarantine_max_bytes: u64,
}

/// The default bound on the quarantine file: records refused by the collector are rare (a bug, a schema
/// mismatch); 4 MiB keeps thousands for an operator to read without filling a Pi's card.
pub const DEFAULT_QUARANTINE_MAX_BYTES: u64 = 4 << 20;

impl Default for SpoolOptions {
    fn default() -> Self {
        SpoolOptions {
            max_bytes: 128 << 20,
            quarantine_max_bytes: DEFAULT_QUARANTINE_MAX_BYTES,
        }
    }
}

/// What an append did besides storing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Records evicted to stay within the bound.
    pub evicted: u64,
}

/// A snapshot of the spool for `vigil-probe spool stats` and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SpoolStats {
    /// Records waiting.
    pub records: u64,
    /// Their line bytes.
    pub bytes: u64,
    /// The bound on line bytes.
    pub max_bytes: u64,
    /// Records waiting per class.
    pub vitals: u64,
    /// Anchor records waiting.
    pub anchor: u64,
    /// Test-list records waiting.
    pub list: u64,
    /// When the oldest waiting record was spooled (epoch ms).
    pub oldest_created_ms: Option<i64>,
    /// Records skipped because their CRC did not match (ever).
    pub corrupt_skipped: u64,
    /// Records evicted by the byte bound (ever).
    pub evicted: u64,
    /// Records moved to the quarantine file (ever).
    pub quarantined: u64,
    /// Times a damaged spool file was moved aside and salvaged (ever).
    pub salvaged: u64,
    /// Times the quarantine file was full and rotated (ever).
    pub quarantine_rotated: u64,
    /// Bytes in the quarantine files (current and rotated).
    pub quarantine_bytes: u64,
}

/// A spool shared by the checks (appending) and the uploader (taking and acknowledging). Each operation holds
/// the mutex only for its own short transaction, never across network I/O.
#[derive(Debug, Clone)]
pub struct SharedSpool(std::sync::Arc<std::sync::Mutex<Spool>>);

impl SharedSpool {
    /// Shares an open spool.
    pub fn new(spool: Spool) -> Self {
        SharedSpool(std::sync::Arc::new(std::sync::Mutex::new(spool)))
    }

    /// Runs `f` with the spool locked.
    pub fn with<T>(&self, f: impl FnOnce(&mut Spool) -> T) -> T {
        // A panic while appending leaves SQLite's transaction rolled back: the spool itself is consistent.
        let mut guard = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }
}

/// The open spool. Holds the lock until dropped.
pub struct Spool {
    dir: PathBuf,
    conn: Connection,
    options: SpoolOptions,
    bytes: u64,
    _lock: File,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.dir)
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl Spool {
    /// Opens (creating) the spool in `dir`, taking its lock; salvages a damaged file.
    pub fn open(dir: &Path, options: SpoolOptions) -> Result<Self, SpoolError> {
        std::fs::create_dir_all(dir).map_err(|e| SpoolError::io(format!("creating {}", dir.display()), e))?;
        let lock = take_lock(dir)?;
        let db_path = dir.join(DB_FILE);
        let conn = match open_checked(&db_path) {
            Ok(conn) => conn,
            Err(reason) => {
                tracing::error!(path = %db_path.display(), %reason, "spool file is damaged; moving it aside and salvaging");
                salvage(&db_path)?
            }
        };
        let bytes: i64 = conn.query_row("SELECT COALESCE(SUM(bytes), 0) FROM records", [], |r| r.get(0))?;
        Ok(Spool {
            dir: dir.to_path_buf(),
            conn,
            options,
            bytes: u64::try_from(bytes).unwrap_or(0),
            _lock: lock,
        })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores records durably in one transaction, evicting to stay within the bound.
    pub fn append(&mut self, records: &[NewRecord]) -> Result<AppendOutcome, SpoolError> {
        let now = chrono::Utc::now().timestamp_millis();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut bytes = self.bytes;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO records (class, created_ms, bytes, crc, line) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in records {
                insert.execute(params![
                    r.class.code(),
                    now,
                    r.line.len() as i64,
                    checksum(&r.line),
                    r.line
                ])?;
                bytes += r.line.len() as u64;
            }
        }
        let mut evicted = 0u64;
        while bytes > self.options.max_bytes {
            let victims: Vec<(i64, i64)> = tx
                .prepare_cached("SELECT seq, bytes FROM records ORDER BY class DESC, seq ASC LIMIT 256")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            if victims.is_empty() {
                break;
            }
            let mut delete = tx.prepare_cached("DELETE FROM records WHERE seq = ?1")?;
            for (seq, size) in victims {
                if bytes <= self.options.max_bytes {
                    break;
                }
                delete.execute(params![seq])?;
                bytes = bytes.saturating_sub(u64::try_from(size).unwrap_or(0));
                evicted += 1;
            }
        }
        if evicted > 0 {
            bump(&tx, "evicted", evicted)?;
            tracing::warn!(evicted, "spool full: evicted the oldest lowest-priority records");
        }
        tx.commit()?;
        self.bytes = bytes;
        Ok(AppendOutcome { evicted })
    }

    /// The next upload batch: the newest vitals first, then the oldest records, within both limits (at least one
    /// record when any is waiting). Records whose CRC fails are deleted and counted, not returned.
    pub fn next_batch(&mut self, max_records: usize, max_bytes: usize) -> Result<Vec<SpooledRecord>, SpoolError> {
        let max_records = max_records.max(1);
        let mut batch = Vec::new();
        let mut damaged = Vec::new();
        let mut size = 0usize;
        let newest_vitals = self
            .conn
            .prepare_cached("SELECT seq, class, crc, line FROM records WHERE class = ?1 ORDER BY seq DESC LIMIT 1")?
            .query_row(params![RecordClass::Vitals.code()], row_to_raw)
            .optional()?;
        if let Some(raw) = newest_vitals {
            take(raw, &mut batch, &mut damaged, &mut size);
        }
        let first_seq = batch.first().map(|r: &SpooledRecord| r.seq);
        {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT seq, class, crc, line FROM records WHERE seq > ?1 ORDER BY seq ASC LIMIT ?2")?;
            let mut after = 0i64;
            'scan: loop {
                let rows: Vec<RawRow> = stmt
                    .query_map(params![after, 512], row_to_raw)?
                    .collect::<Result<_, _>>()?;
                if rows.is_empty() {
                    break;
                }
                for raw in rows {
                    after = raw.seq;
                    if Some(raw.seq) == first_seq {
                        continue;
                    }
                    if batch.len() >= max_records || (!batch.is_empty() && size + raw.line.len() > max_bytes) {
                        break 'scan;
                    }
                    take(raw, &mut batch, &mut damaged, &mut size);
                }
            }
        }
        if !damaged.is_empty() {
            self.drop_damaged(&damaged)?;
        }
        Ok(batch)
    }

    /// Deletes records the collector acknowledged.
    pub fn ack(&mut self, seqs: &[i64]) -> Result<(), SpoolError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut freed = 0u64;
        {
            let mut delete = tx.prepare_cached("DELETE FROM records WHERE seq = ?1 RETURNING bytes")?;
            for seq in seqs {
                let size: Option<i64> = delete.query_row(params![seq], |r| r.get(0)).optional()?;
                freed += size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
            }
        }
        tx.commit()?;
        self.bytes = self.bytes.saturating_sub(freed);
        Ok(())
    }

    /// Moves one record the collector refused to `quarantine.ndjson` with the reason, then deletes it. The file
    /// is written and synced first: a crash in between leaves the record in both places, never in neither.
    pub fn quarantine(&mut self, seq: i64, reason: &str) -> Result<bool, SpoolError> {
        let Some((line, size)): Option<(String, i64)> = self
            .conn
            .query_row("SELECT line, bytes FROM records WHERE seq = ?1", params![seq], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?
        else {
            return Ok(false);
        };
        let path = self.dir.join(QUARANTINE_FILE);
        let entry = serde_json::json!({
            "quarantined_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "reason": reason,
            "line": line,
        });
        let entry = format!("{entry}\n");
        let held = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let rotate = held > 0 && held + entry.len() as u64 > self.options.quarantine_max_bytes;
        if rotate {
            let rotated = self.dir.join(QUARANTINE_ROTATED);
            std::fs::rename(&path, &rotated)
                .map_err(|e| SpoolError::io(format!("rotating {} to {}", path.display(), rotated.display()), e))?;
            tracing::warn!(file = %path.display(), max_bytes = self.options.quarantine_max_bytes,
                "quarantine file full: rotated (the older rotated file is gone)");
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| SpoolError::io(format!("opening {}", path.display()), e))?;
        file.write_all(entry.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| SpoolError::io(format!("writing {}", path.display()), e))?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM records WHERE seq = ?1", params![seq])?;
        bump(&tx, "quarantined", 1)?;
        if rotate {
            bump(&tx, "quarantine_rotated", 1)?;
        }
        tx.commit()?;
        self.bytes = self.bytes.saturating_sub(u64::try_from(size).unwrap_or(0));
        tracing::warn!(seq, %reason, file = %path.display(), "the collector refused a spooled record; quarantined it");
        Ok(true)
    }

    /// Counts and sizes.
    pub fn stats(&self) -> Result<SpoolStats, SpoolError> {
        let mut stats = SpoolStats {
            bytes: self.bytes,
            max_bytes: self.options.max_bytes,
            ..SpoolStats::default()
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT class, COUNT(*) FROM records GROUP BY class")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
            let (class, count) = row?;
            let count = u64::try_from(count).unwrap_or(0);
            stats.records += count;
            match RecordClass::from_code(class) {
                Some(RecordClass::Vitals) => stats.vitals = count,
                Some(RecordClass::Anchor) => stats.anchor = count,
                Some(RecordClass::List) | None => stats.list += count,
            }
        }
        stats.oldest_created_ms = self
            .conn
            .query_row("SELECT MIN(created_ms) FROM records", [], |r| r.get(0))?;
        stats.corrupt_skipped = counter(&self.conn, "corrupt_skipped")?;
        stats.evicted = counter(&self.conn, "evicted")?;
        stats.quarantined = counter(&self.conn, "quarantined")?;
        stats.salvaged = counter(&self.conn, "salvaged")?;
        stats.quarantine_rotated = counter(&self.conn, "quarantine_rotated")?;
        stats.quarantine_bytes = [QUARANTINE_FILE, QUARANTINE_ROTATED]
            .iter()
            .filter_map(|name| std::fs::metadata(self.dir.join(name)).ok())
            .map(|m| m.len())
            .sum();
        Ok(stats)
    }

    /// Records waiting (for the vitals' `spool_depth`).
    pub fn depth(&self) -> Result<u64, SpoolError> {
        let n: i64 = self.conn.query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Writes every waiting record's line, oldest first, one per line (damaged records are skipped).
    pub fn export(&self, out: &mut dyn Write) -> Result<u64, SpoolError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, class, crc, line FROM records ORDER BY seq")?;
        let mut written = 0;
        for raw in stmt.query_map([], row_to_raw)? {
            let raw = raw?;
            if checksum(&raw.line) == raw.crc {
                writeln!(out, "{}", raw.line).map_err(|e| SpoolError::io("writing the export", e))?;
                written += 1;
            }
        }
        Ok(written)
    }

    fn drop_damaged(&mut self, seqs: &[(i64, usize)]) -> Result<(), SpoolError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (seq, _) in seqs {
            tx.execute("DELETE FROM records WHERE seq = ?1", params![seq])?;
        }
        bump(&tx, "corrupt_skipped", seqs.len() as u64)?;
        tx.commit()?;
        let freed: usize = seqs.iter().map(|(_, n)| n).sum();
        self.bytes = self.bytes.saturating_sub(freed as u64);
        tracing::error!(records = seqs.len(), "skipped spooled records whose checksum failed");
        Ok(())
    }
}

struct RawRow {
    seq: i64,
    class: i64,
    crc: i64,
    line: String,
}

fn row_to_raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        seq: r.get(0)?,
        class: r.get(1)?,
        crc: r.get(2)?,
        line: r.get(3)?,
    })
}

/// Adds a row to the batch if its CRC and class are sound, else to the damaged list.
fn take(raw: RawRow, batch: &mut Vec<SpooledRecord>, damaged: &mut Vec<(i64, usize)>, size: &mut usize) {
    match RecordClass::from_code(raw.class) {
        Some(class) if checksum(&raw.line) == raw.crc => {
            *size += raw.line.len();
            batch.push(SpooledRecord {
                seq: raw.seq,
                class,
                line: raw.line,
            });
        }
        _ => damaged.push((raw.seq, raw.line.len())),
    }
}

fn take_lock(dir: &Path) -> Result<File, SpoolError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| SpoolError::io(format!("opening {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(SpoolError::Locked {
            dir: dir.to_path_buf(),
            lock: path,
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(SpoolError::io(format!("locking {}", path.display()), e)),
    }
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Opens the file and proves it sound, or says why not.
fn open_checked(path: &Path) -> Result<Connection, String> {
    let conn = connect(path).map_err(|e| e.to_string())?;
    let verdict: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if verdict != "ok" {
        return Err(format!("quick_check: {verdict}"));
    }
    conn.execute_batch(SCHEMA).map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Moves a damaged spool aside, creates a fresh one and copies every record still readable with a valid CRC.
fn salvage(path: &Path) -> Result<Connection, SpoolError> {
    let damaged = PathBuf::from(format!("{}{DAMAGED_SUFFIX}", path.display()));
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", path.display()));
        let to = PathBuf::from(format!("{}{suffix}", damaged.display()));
        let _ = std::fs::remove_file(&to);
        if from.exists() {
            std::fs::rename(&from, &to).map_err(|e| SpoolError::io(format!("moving {} aside", from.display()), e))?;
        }
    }
    let mut fresh = connect(path)?;
    fresh.execute_batch(SCHEMA)?;
    let (copied, skipped) = copy_readable(&damaged, &mut fresh);
    let tx = fresh.transaction()?;
    bump(&tx, "salvaged", 1)?;
    bump(&tx, "corrupt_skipped", skipped)?;
    tx.commit()?;
    tracing::error!(copied, skipped, kept_at = %damaged.display(), "salvaged the damaged spool");
    Ok(fresh)
}

/// A row of `records` as read from a damaged file.
type RowFields = (i64, i64, i64, i64, i64, String);

/// Copies sound records from a damaged file, stopping at the first unreadable page. Returns (copied, skipped).
fn copy_readable(damaged: &Path, fresh: &mut Connection) -> (u64, u64) {
    let (rows, mut skipped) = read_rows(damaged);
    let Ok(tx) = fresh.transaction() else {
        return (0, skipped + rows.len() as u64);
    };
    let mut copied = 0u64;
    for (seq, class, created, bytes, crc, line) in rows {
        let sound = checksum(&line) == crc && RecordClass::from_code(class).is_some();
        let inserted = sound
            && tx
                .execute(
                    "INSERT INTO records (seq, class, created_ms, bytes, crc, line) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![seq, class, created, bytes, crc, line],
                )
                .is_ok();
        if inserted {
            copied += 1;
        } else {
            skipped += 1;
        }
    }
    match tx.commit() {
        Ok(()) => (copied, skipped),
        Err(_) => (0, copied + skipped),
    }
}

/// Every row readable before the first error, and 1 if reading stopped at an error.
fn read_rows(damaged: &Path) -> (Vec<RowFields>, u64) {
    let mut rows = Vec::new();
    let read = (|| -> rusqlite::Result<()> {
        let old = Connection::open_with_flags(damaged, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let mut stmt = old.prepare("SELECT seq, class, created_ms, bytes, crc, line FROM records ORDER BY seq")?;
        let mut cursor = stmt.query([])?;
        while let Some(row) = cursor.next()? {
            rows.push((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ));
        }
        Ok(())
    })();
    (rows, u64::from(read.is_err()))
}

fn bump(tx: &rusqlite::Transaction<'_>, name: &str, by: u64) -> Result<(), SpoolError> {
    debug_assert!(COUNTERS.contains(&name));
    tx.prepare_cached(
        "INSERT INTO counters (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
    )?
    .execute(params![name, by as i64])?;
    Ok(())
}

fn counter(conn: &Connection, name: &str) -> Result<u64, SpoolError> {
    let v: Option<i64> = conn
        .query_row("SELECT value FROM counters WHERE name = ?1", params![name], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
}
