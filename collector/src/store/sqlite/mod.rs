//! The embedded default store: one SQLite file in WAL mode, no server needed.
//!
//! Durability: `synchronous = FULL`, so a commit that returned has reached the disk and survives a crash or a
//! power cut at any instant; the collector acknowledges a batch only after that commit. One writer connection
//! serialises writes (SQLite allows one writer anyway) and the ingest queue groups concurrent batches into one
//! commit, so the fsync cost is shared. A separate reader connection serves queries alongside the writer.

mod aggregates;
mod events;
mod outbox;
mod read;
mod schema;
mod time;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};

use self::read::{PROBE_COLUMNS, probe_from_row};
use self::time::to_ms;
use super::WriteOutcome;
use super::{
    IngestBatch, MeasurementQuery, NewProbe, SignedBatchQuery, SignedBatchRecord, Store, StoreError, StoredMeasurement,
    TokenHash,
};
use crate::model::ProbeRecord;
use vigil_measurement::signature::PublicKey;

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

/// A new probe's row.
const INSERT_PROBE: &str = "INSERT INTO probes (probe_id, name, country, asn, region, access, ups, token_hash,
    created_at_ms, public_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// Inserts a new probe; a probe id or token already stored is a conflict.
fn insert_probe(insert: &mut rusqlite::CachedStatement<'_>, probe: &NewProbe) -> Result<(), StoreError> {
    let inserted = insert.execute(params![
        probe.probe_id,
        probe.profile.name,
        probe.profile.country,
        probe.profile.asn,
        probe.profile.region,
        probe.profile.access.as_str(),
        probe.profile.ups,
        probe.token_hash.0.as_slice(),
        to_ms(probe.created_at),
        probe.public_key.map(|k| k.0.to_vec()),
    ]);
    match inserted {
        Err(rusqlite::Error::SqliteFailure(err, _)) if err.code == ErrorCode::ConstraintViolation => Err(
            StoreError::Conflict(format!("probe id {} or its token exists", probe.probe_id)),
        ),
        other => other.map(|_| ()).map_err(StoreError::from),
    }
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

    async fn register_probes(&self, probes: Vec<NewProbe>) -> Result<usize, StoreError> {
        with_conn(&self.writer, move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(INSERT_PROBE)?;
                for probe in &probes {
                    insert_probe(&mut insert, probe)?;
                }
            }
            tx.commit()?;
            Ok(probes.len())
        })
        .await
    }

    async fn register_probe(&self, probe: NewProbe) -> Result<ProbeRecord, StoreError> {
        with_conn(&self.writer, move |conn| {
            insert_probe(&mut conn.prepare_cached(INSERT_PROBE)?, &probe)?;
            Ok(ProbeRecord {
                probe_id: probe.probe_id,
                profile: probe.profile,
                created_at: probe.created_at,
                revoked_at: None,
                last_seen: None,
                public_key: probe.public_key,
            })
        })
        .await
    }

    async fn probe_by_token(&self, token: TokenHash) -> Result<Option<ProbeRecord>, StoreError> {
        with_conn(&self.reader, move |conn| {
            conn.prepare_cached(&format!("SELECT {PROBE_COLUMNS} FROM probes WHERE token_hash = ?1"))?
                .query_row(params![token.0.as_slice()], probe_from_row)
                .optional()?
                .transpose()
        })
        .await
    }

    async fn probes(&self) -> Result<Vec<ProbeRecord>, StoreError> {
        with_conn(&self.reader, |conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {PROBE_COLUMNS} FROM probes ORDER BY probe_id"))?;
            let rows = stmt.query_map([], probe_from_row)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row??);
            }
            Ok(out)
        })
        .await
    }

    async fn update_probe_profile(&self, probe_id: &str, profile: super::ProbeProfile) -> Result<bool, StoreError> {
        let probe_id = probe_id.to_owned();
        with_conn(&self.writer, move |conn| {
            let changed = conn.execute(
                "UPDATE probes SET name = ?1, country = ?2, asn = ?3, region = ?4, access = ?5, ups = ?6
                 WHERE probe_id = ?7",
                params![
                    profile.name,
                    profile.country,
                    profile.asn,
                    profile.region,
                    profile.access.as_str(),
                    profile.ups,
                    probe_id
                ],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    async fn revoke_probe(&self, probe_id: &str) -> Result<bool, StoreError> {
        let probe_id = probe_id.to_owned();
        with_conn(&self.writer, move |conn| {
            let changed = conn.execute(
                "UPDATE probes SET revoked_at_ms = ?1 WHERE probe_id = ?2 AND revoked_at_ms IS NULL",
                params![to_ms(chrono::Utc::now()), probe_id],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    async fn set_probe_key(&self, probe_id: &str, key: PublicKey) -> Result<bool, StoreError> {
        let probe_id = probe_id.to_owned();
        with_conn(&self.writer, move |conn| {
            let changed = conn.execute(
                "UPDATE probes SET public_key = ?1 WHERE probe_id = ?2",
                params![key.0.as_slice(), probe_id],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    async fn signed_batches(&self, query: SignedBatchQuery) -> Result<Vec<SignedBatchRecord>, StoreError> {
        with_conn(&self.reader, move |conn| read::signed_batches(conn, &query)).await
    }

    async fn write_batches(&self, batches: Vec<IngestBatch>) -> Result<Vec<WriteOutcome>, StoreError> {
        with_conn(&self.writer, move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let outcomes = write::write_batches(&tx, &batches)?;
            tx.commit()?;
            Ok(outcomes)
        })
        .await
    }

    async fn measurements(&self, query: MeasurementQuery) -> Result<Vec<StoredMeasurement>, StoreError> {
        with_conn(&self.reader, move |conn| read::measurements(conn, &query)).await
    }

    async fn count_measurements(&self, query: MeasurementQuery) -> Result<u64, StoreError> {
        with_conn(&self.reader, move |conn| read::count_measurements(conn, &query)).await
    }

    async fn save_events(
        &self,
        from: i64,
        to: i64,
        events: Vec<crate::model::DisruptionEvent>,
    ) -> Result<crate::store::EventSaveSummary, StoreError> {
        with_conn(&self.writer, move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let summary = events::save(&tx, from, to, &events, to_ms(chrono::Utc::now()))?;
            tx.commit()?;
            Ok(summary)
        })
        .await
    }

    async fn events(&self, query: crate::store::EventQuery) -> Result<Vec<crate::store::StoredEvent>, StoreError> {
        with_conn(&self.reader, move |conn| events::query(conn, &query)).await
    }

    async fn save_presence(
        &self,
        span: super::PresenceSpan,
        sessions: Vec<super::PresenceSession>,
    ) -> Result<usize, StoreError> {
        with_conn(&self.writer, move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT OR IGNORE INTO presence_spans (source, from_ms, to_ms) VALUES (?1, ?2, ?3)",
                params![span.source, span.from_ms, span.to_ms],
            )?;
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO presence_sessions (probe_id, connected_ms, disconnected_ms, source, controller)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (probe_id, connected_ms) DO UPDATE SET disconnected_ms = excluded.disconnected_ms,
                         controller = COALESCE(excluded.controller, controller)",
                )?;
                for s in &sessions {
                    upsert.execute(params![
                        s.probe_id,
                        s.connected_ms,
                        s.disconnected_ms,
                        span.source,
                        s.controller
                    ])?;
                }
            }
            tx.commit()?;
            Ok(sessions.len())
        })
        .await
    }

    async fn presence(&self, from_ms: i64, to_ms: i64) -> Result<super::PresenceLog, StoreError> {
        with_conn(&self.reader, move |conn| {
            let mut spans = conn.prepare_cached(
                "SELECT source, from_ms, to_ms FROM presence_spans WHERE from_ms < ?2 AND to_ms > ?1
                 ORDER BY from_ms, source",
            )?;
            let spans = spans
                .query_map(params![from_ms, to_ms], |r| {
                    Ok(super::PresenceSpan {
                        source: r.get(0)?,
                        from_ms: r.get(1)?,
                        to_ms: r.get(2)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut sessions = conn.prepare_cached(
                "SELECT probe_id, connected_ms, disconnected_ms, controller FROM presence_sessions
                 WHERE connected_ms < ?2 AND COALESCE(disconnected_ms, 9223372036854775807) > ?1
                 ORDER BY probe_id, connected_ms",
            )?;
            let sessions = sessions
                .query_map(params![from_ms, to_ms], |r| {
                    Ok(super::PresenceSession {
                        probe_id: r.get(0)?,
                        connected_ms: r.get(1)?,
                        disconnected_ms: r.get(2)?,
                        controller: r.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(super::PresenceLog { spans, sessions })
        })
        .await
    }

    async fn event_revisions(&self, id: &str) -> Result<Vec<crate::model::DisruptionEvent>, StoreError> {
        let id = id.to_owned();
        with_conn(&self.reader, move |conn| events::revisions(conn, &id)).await
    }

    async fn save_review(&self, review: crate::store::EventReview) -> Result<bool, StoreError> {
        with_conn(&self.writer, move |conn| events::save_review(conn, &review)).await
    }

    async fn reviews(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, crate::store::EventReview>, StoreError> {
        let ids = ids.to_vec();
        with_conn(&self.reader, move |conn| events::reviews(conn, &ids)).await
    }

    async fn outbox_push(&self, entries: Vec<super::OutboxEntry>, max_per_hook: usize) -> Result<usize, StoreError> {
        with_conn(&self.writer, move |conn| outbox::push(conn, &entries, max_per_hook)).await
    }

    async fn outbox_pending(&self, hook: &str, limit: usize) -> Result<Vec<super::OutboxEntry>, StoreError> {
        let hook = hook.to_owned();
        with_conn(&self.writer, move |conn| outbox::pending(conn, &hook, limit)).await
    }

    async fn outbox_retry_at(
        &self,
        hook: &str,
        delivery: &str,
        attempts: u32,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError> {
        let (hook, delivery) = (hook.to_owned(), delivery.to_owned());
        with_conn(&self.writer, move |conn| {
            outbox::retry_at(conn, &hook, &delivery, attempts, next_attempt_ms)
        })
        .await
    }

    async fn outbox_finish(&self, hook: &str, delivery: &str) -> Result<(), StoreError> {
        let (hook, delivery) = (hook.to_owned(), delivery.to_owned());
        with_conn(&self.writer, move |conn| outbox::finish(conn, &hook, &delivery)).await
    }

    async fn aggregate_state(&self, bucket_secs: i64) -> Result<Option<super::AggregateState>, StoreError> {
        with_conn(&self.reader, move |conn| aggregates::state(conn, bucket_secs)).await
    }

    async fn save_aggregate_state(&self, state: super::AggregateState) -> Result<(), StoreError> {
        with_conn(&self.writer, move |conn| aggregates::save_state(conn, &state)).await
    }

    async fn change_head(&self) -> Result<i64, StoreError> {
        with_conn(&self.reader, |conn| aggregates::head(conn)).await
    }

    async fn changes_since(&self, cursor: i64) -> Result<super::Changes, StoreError> {
        with_conn(&self.reader, move |conn| aggregates::changes_since(conn, cursor)).await
    }

    async fn placed_partials(
        &self,
        bucket_secs: i64,
        buckets: std::ops::Range<crate::model::Bucket>,
        placement: super::Placement,
        probes: Option<&[String]>,
    ) -> Result<crate::model::Partials, StoreError> {
        let probes = probes.map(<[String]>::to_vec);
        with_conn(&self.reader, move |conn| {
            aggregates::placed_partials(conn, bucket_secs, buckets, placement, probes.as_deref())
        })
        .await
    }

    async fn save_partials(
        &self,
        bucket_secs: i64,
        version: i64,
        partials: &crate::model::Partials,
    ) -> Result<(), StoreError> {
        if partials.is_empty() {
            return Ok(());
        }
        let partials = partials.clone();
        with_conn(&self.writer, move |conn| {
            aggregates::save_partials(conn, bucket_secs, version, &partials)
        })
        .await
    }

    async fn stored_partials(
        &self,
        bucket_secs: i64,
        buckets: std::ops::Range<crate::model::Bucket>,
    ) -> Result<crate::model::Partials, StoreError> {
        with_conn(&self.reader, move |conn| {
            aggregates::stored_partials(conn, bucket_secs, buckets)
        })
        .await
    }
}
