//! The write-ahead log's checkpoints, off the writer's thread.
//!
//! By default SQLite copies the log back into the database inside the commit that takes the log past 1,000
//! pages, on the committing thread. With one writer, every batch queued behind that commit waits for the copy:
//! a fifth of the writer's time in `bench/ingest.sh` (BENCHMARKS.md). Here the writer's commit only nudges a
//! thread of the store's own, which checkpoints on its own connection in PASSIVE mode (it never blocks the writer
//! or a reader) while the writer goes on with the next group.
//!
//! A PASSIVE checkpoint copies what was committed when it began. Under a writer that never pauses it ends behind
//! the log's end, and SQLite starts the log over from its beginning only when a checkpoint has caught up before
//! the next write transaction begins. So the log is bounded by the writer itself: past
//! [`WalLimits::writer_pages`] it checkpoints after its commit (copying only what the thread has not copied yet),
//! and its next transaction starts the log over. Checkpoints never decide durability: a commit is durable when
//! it returns (`synchronous = FULL`), copied back or not.

use std::path::Path;
use std::sync::mpsc::{Receiver, TrySendError, sync_channel};

use rusqlite::Connection;
use rusqlite::wal::CheckpointMode;

use crate::store::StoreError;

/// When the log is copied back into the database, in pages of the log.
#[derive(Debug, Clone, Copy)]
pub(super) struct WalLimits {
    /// A commit that leaves at least this many pages in the log nudges the background checkpoint.
    pub background_pages: i32,
    /// A commit that leaves at least this many pages in the log checkpoints on the writer's own thread.
    pub writer_pages: i32,
}

impl Default for WalLimits {
    fn default() -> Self {
        WalLimits {
            // SQLite's own autocheckpoint threshold (`SQLITE_DEFAULT_WAL_AUTOCHECKPOINT`): the log stays as short
            // as it would without this module while the writer has pauses.
            background_pages: 1_000,
            // 16,384 pages of 4 KiB: at most 64 MiB of log under a writer that never pauses. The writer copies
            // back only the pages the background checkpoint has not reached, a few groups' worth.
            writer_pages: 16_384,
        }
    }
}

/// Moves the writer's checkpoints to a thread of their own: installs the writer's commit hook and starts the
/// thread, which checkpoints on a connection opened with `open` and ends when the writer connection is closed.
pub(super) fn checkpoint_in_background(
    writer: &mut Connection,
    path: &Path,
    limits: WalLimits,
    open: impl FnOnce(&Path) -> Result<Connection, StoreError>,
) -> Result<(), StoreError> {
    let connection = open(path)?;
    // One pending nudge is enough: a checkpoint copies everything committed before it starts.
    let (nudge, nudges) = sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("vigil-sqlite-checkpoint".into())
        .spawn(move || run(connection, nudges))
        .map_err(|source| StoreError::Io {
            context: "starting the SQLite checkpoint thread".into(),
            source,
        })?;
    // The hook replaces SQLite's autocheckpoint on this connection.
    writer.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: i32| {
        if pages >= limits.writer_pages {
            // Busy when the background checkpoint is running: the next commit tries again.
            if let Err(err) = wal.checkpoint_v2(CheckpointMode::PASSIVE) {
                tracing::debug!(%err, pages, "the writer's own checkpoint did not run");
            }
        } else if pages >= limits.background_pages {
            match nudge.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => {
                    tracing::warn!(
                        pages,
                        "the SQLite checkpoint thread has stopped; the writer copies the log back past its own limit"
                    )
                }
            }
        }
        // Never an error: the commit that called this hook has already succeeded.
        Ok(())
    }))?;
    Ok(())
}

/// The checkpoint thread: one PASSIVE checkpoint per nudge, until the writer's hook is gone.
fn run(connection: Connection, nudges: Receiver<()>) {
    while nudges.recv().is_ok() {
        let checkpoint = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        });
        match checkpoint {
            Ok((log_pages, copied)) => tracing::trace!(log_pages, copied, "checkpoint"),
            Err(err) => tracing::warn!(%err, "SQLite checkpoint failed; the next commit will ask again"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    // Nothing here may ask SQLite for the log's state: `PRAGMA wal_checkpoint` would copy it back itself. The
    // files say it instead: the log file never shrinks (it keeps its largest size), and the database file grows
    // only when pages are copied back into it.

    /// Bytes of one log frame: a 4 KiB page and its 24-byte header.
    const FRAME: u64 = 4096 + 24;

    fn open(path: &Path) -> Connection {
        let conn = Connection::open(path).expect("opens");
        conn.pragma_update(None, "journal_mode", "WAL").expect("WAL");
        conn
    }

    fn writer_with(path: &Path, limits: WalLimits) -> Connection {
        let mut writer = open(path);
        writer
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
            .expect("table");
        checkpoint_in_background(&mut writer, path, limits, |p| Ok(open(p))).expect("installs");
        writer
    }

    /// One transaction of `n` rows of about a page each.
    fn write_rows(conn: &Connection, n: usize) {
        let tx = conn.unchecked_transaction().expect("transaction");
        for _ in 0..n {
            tx.execute("INSERT INTO t (body) VALUES (randomblob(3000))", [])
                .expect("insert");
        }
        tx.commit().expect("commit");
    }

    fn size(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    #[test]
    fn the_log_stays_within_the_writers_limit_under_a_writer_that_never_pauses() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.db");
        // The background thread is never nudged (its threshold is out of reach): only the writer's own
        // checkpoint can keep the log short.
        let limits = WalLimits {
            background_pages: i32::MAX,
            writer_pages: 200,
        };
        let writer = writer_with(&path, limits);
        for _ in 0..100 {
            write_rows(&writer, 20);
        }
        // 2,000 pages were written in commits of about 20; the log restarts once past 200.
        let log = size(&dir.path().join("store.db-wal"));
        assert!(log < 300 * FRAME, "the log file reached {} frames", log / FRAME);
        let rows: i64 = writer
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 2_000);
    }

    #[test]
    fn a_nudged_background_checkpoint_copies_the_log_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.db");
        // The writer never checkpoints itself and its hook replaced SQLite's autocheckpoint: only the thread can
        // copy the log back.
        let limits = WalLimits {
            background_pages: 10,
            writer_pages: i32::MAX,
        };
        let writer = writer_with(&path, limits);
        let before = size(&path);
        write_rows(&writer, 50);
        let deadline = Instant::now() + Duration::from_secs(30);
        while size(&path) < before + 50 * 3000 {
            assert!(
                Instant::now() < deadline,
                "the database file is {} bytes: the log was not copied back",
                size(&path)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn without_the_thread_nothing_copies_the_log_back() {
        // The control of the test above, past SQLite's own autocheckpoint threshold (1,000 pages): the hook
        // replaced it, and with no nudge the database file stays as it was.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.db");
        let limits = WalLimits {
            background_pages: i32::MAX,
            writer_pages: i32::MAX,
        };
        let writer = writer_with(&path, limits);
        let before = size(&path);
        write_rows(&writer, 1_200);
        assert!(size(&path) < before + 3000, "something else copied the log back");
        drop(writer);
    }
}
