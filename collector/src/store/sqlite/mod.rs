//! The embedded default store: one SQLite file in WAL mode, no server needed.
//!
//! Durability: `synchronous = FULL`, so a commit that returned has reached the disk and survives a crash or a
//! power cut at any instant; the collector acknowledges a batch only after that commit. One writer connection
//! serialises writes (SQLite allows one writer anyway) and the ingest queue groups concurrent batches into one
//! commit, so the fsync cost is shared. A separate reader connection serves queries alongside the writer, and a
//! thread of the store's own copies the write-ahead log back into the database while the writer goes on
//! (`checkpoint.rs`).

mod checkpoint;
mod error;
mod events;
mod measurements;
mod outbox;
mod presence;
mod read;
mod registry;
mod schema;
mod summaries;
mod time;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags};

use super::WriteOutcome;
use super::{
    IngestBatch, NewProbe, SignedBatchQuery, SignedBatchRecord, Store, StoreError, StoredMeasurement, TokenHash,
};

/// The embedded SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens the database at `path`, creating it and its parent directory on first use, and migrates it.
    pub async fn open(path: PathBuf) -> Result<Self, StoreError> {
        let open_path = path.clone();
        let (writer, reader) = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            if let Some(parent) = open_path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                    context: format!("creating {}", parent.display()),
                    source,
                })?;
            }
            let mut writer = connect(&open_path, false)?;
            schema::migrate(&mut writer)?;
            checkpoint::checkpoint_in_background(&mut writer, &open_path, checkpoint::WalLimits::default(), |p| {
                connect(p, false)
            })?;
            let reader = connect(&open_path, true)?;
            Ok((writer, reader))
        })
        .await
        .map_err(|e| StoreError::Worker(e.to_string()))??;
        Ok(SqliteStore {
            path,
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Opens one connection with the store's settings.
fn connect(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    if read_only {
        // A read-write handle kept read-only by pragma: a read-only open of a WAL file needs its -shm to exist.
        conn.pragma_update(None, "query_only", "ON")?;
    } else {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Runs `job` on a blocking thread with the connection locked.
async fn with_conn<T, F>(conn: &Arc<Mutex<Connection>>, job: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
{
    let conn = Arc::clone(conn);
    tokio::task::spawn_blocking(move || {
        // A panic while holding the lock leaves no half-written state: SQLite rolls back the open transaction.
        let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        job(&mut guard)
    })
    .await
    .map_err(|e| StoreError::Worker(e.to_string()))?
}

#[async_trait]
impl Store for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    async fn health(&self) -> Result<(), StoreError> {
        with_conn(&self.reader, |conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }
}
