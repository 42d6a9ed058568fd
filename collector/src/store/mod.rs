//! Storage behind one trait, one module per backend (the embedded SQLite default here; ClickHouse fits the same
//! trait). Callers hold an `Arc<dyn Store>` and never know which backend they talk to.
//!
//! Guarantees every backend gives:
//! - `write_batches` returns only after every row it reports is durable; on `Err` nothing of the call is visible.
//! - a measurement id is stored at most once, across calls and within one call (the later copy is a duplicate).
//! - probe tokens are stored only as hashes.

pub mod aggregates;
pub mod clickhouse;
mod spec;
mod sqlite;
mod types;

use std::sync::Arc;

use async_trait::async_trait;

pub use aggregates::{AggregateState, Changes, Placement};
pub use clickhouse::ClickHouseStore;
pub use spec::StoreSpec;
pub use sqlite::SqliteStore;
pub use types::{
    EventQuery, EventReview, EventSaveSummary, IngestBatch, MeasurementQuery, NewProbe, OutboxEntry, PreparedWrite,
    ReviewVerdict, SignedBatchQuery, SignedBatchRecord, SignedBody, StoredEvent, StoredMeasurement, TimeSource,
    TokenHash, WriteOutcome,
};

use crate::model::{
    Bucket, DisruptionEvent, Partials, PresenceLog, PresenceSession, PresenceSpan, ProbeProfile, ProbeRecord, Summaries,
};

/// A failure of the storage backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store address could not be understood.
    #[error("invalid store address `{spec}`: {reason}")]
    InvalidSpec {
        /// The address given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The backend named is not part of this build.
    #[error("store backend `{0}` is not available in this build")]
    Unsupported(String),
    /// The embedded database failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The database holds a schema newer than this binary knows.
    #[error("the store's schema version {found} is newer than this collector's {known}; upgrade the collector")]
    SchemaTooNew {
        /// Version found in the store.
        found: i64,
        /// Latest version this binary knows.
        known: i64,
    },
    /// The store needs a schema change this collector cannot make by itself (a cluster's tables).
    #[error("the store needs an upgrade first: {0}")]
    UpgradeNeeded(String),
    /// A stored value could not be read back.
    #[error("corrupt stored value in {context}: {detail}")]
    Corrupt {
        /// Where.
        context: &'static str,
        /// What.
        detail: String,
    },
    /// A probe id collided or a constraint failed on registration.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The blocking worker running the query was lost (panic or shutdown).
    #[error("store worker failed: {0}")]
    Worker(String),
    /// The ClickHouse server failed or could not be reached.
    #[error("clickhouse: {message}")]
    ClickHouse {
        /// What it said.
        message: String,
        /// Whether trying again later may succeed (unreachable, overloaded) rather than never (bad data).
        retryable: bool,
    },
}

impl StoreError {
    /// Whether trying again later may succeed (busy database, I/O hiccup) as opposed to a permanent failure.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(err, _)) => matches!(
                err.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::SystemIoFailure
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::OutOfMemory
            ),
            StoreError::Io { .. } | StoreError::Worker(_) => true,
            StoreError::ClickHouse { retryable, .. } => *retryable,
            _ => false,
        }
    }
}

/// Where measurements, probes and (later) events live.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A human-readable description of the backend and its location, for logs.
    fn describe(&self) -> String;

    /// Checks the backend answers.
    async fn health(&self) -> Result<(), StoreError>;

    /// Registers a probe. The token itself is never passed in, only its hash.
    async fn register_probe(&self, probe: NewProbe) -> Result<ProbeRecord, StoreError>;

    /// Registers many probes at once (an import's pseudo-probes): all of them, or none and an error when one
    /// conflicts. Returns how many were registered.
    async fn register_probes(&self, probes: Vec<NewProbe>) -> Result<usize, StoreError>;

    /// The probe a token hash belongs to, revoked or not.
    async fn probe_by_token(&self, token: TokenHash) -> Result<Option<ProbeRecord>, StoreError>;

    /// Every registered probe, revoked ones included, ordered by id.
    async fn probes(&self) -> Result<Vec<ProbeRecord>, StoreError>;

    /// Replaces a probe's profile (name, country, ASN, region, access, UPS) — a pseudo-probe placed by a later
    /// import; its token, key and history stay. `false` when no such probe exists.
    async fn update_probe_profile(&self, probe_id: &str, profile: ProbeProfile) -> Result<bool, StoreError>;

    /// Revokes a probe's token; returns whether a live probe of that id existed.
    async fn revoke_probe(&self, probe_id: &str) -> Result<bool, StoreError>;

    /// Records (or replaces) a probe's batch-signing key; false when no probe has that id.
    async fn set_probe_key(
        &self,
        probe_id: &str,
        key: vigil_measurement::signature::PublicKey,
    ) -> Result<bool, StoreError>;

    /// Signed batches matching `query`, by receipt time. A batch received twice (a retry) is kept once.
    async fn signed_batches(&self, query: SignedBatchQuery) -> Result<Vec<SignedBatchRecord>, StoreError>;

    /// Stores several validated batches in one durable commit; one outcome per batch, in order. A signed
    /// batch's body and signature are stored in the same commit.
    async fn write_batches(&self, batches: Vec<IngestBatch>) -> Result<Vec<WriteOutcome>, StoreError>;

    /// Whether [`Store::prepare_write`] does work worth running while the previous write commits.
    fn prepares_writes(&self) -> bool {
        false
    }

    /// The part of a write that may run while the previous write commits (ClickHouse: which of its ids are
    /// stored already, and the summary change log). Its result goes to [`Store::write_prepared`] once every
    /// earlier write has returned; after an earlier write failed, prepare again.
    async fn prepare_write(&self, _batches: &[IngestBatch]) -> Result<PreparedWrite, StoreError> {
        Ok(PreparedWrite::default())
    }

    /// Commits batches prepared by [`Store::prepare_write`] while at most the write just before was committing:
    /// the same guarantees as [`Store::write_batches`].
    async fn write_prepared(
        &self,
        batches: Vec<IngestBatch>,
        _prepared: PreparedWrite,
    ) -> Result<Vec<WriteOutcome>, StoreError> {
        self.write_batches(batches).await
    }

    /// Stored measurements matching `query`, in ingest order.
    async fn measurements(&self, query: MeasurementQuery) -> Result<Vec<StoredMeasurement>, StoreError>;

    /// How many stored measurements match `query` (its `limit` is ignored).
    async fn count_measurements(&self, query: MeasurementQuery) -> Result<u64, StoreError>;

    /// Saves a classification run over `[from, to)` (epoch seconds): new events are opened, changed ones get a
    /// new revision (every revision is kept), and events starting in the window that the run no longer found
    /// are retracted.
    async fn save_events(
        &self,
        from: i64,
        to: i64,
        events: Vec<DisruptionEvent>,
    ) -> Result<EventSaveSummary, StoreError>;

    /// Current (not retracted) events matching `query`, by start time.
    async fn events(&self, query: EventQuery) -> Result<Vec<StoredEvent>, StoreError>;

    /// Records a connection log of pseudo-probes: the span it covers and its sessions; a session already stored
    /// (same probe and start) is updated (an open session may have closed since), a span already stored is kept
    /// once. Returns the sessions written.
    async fn save_presence(&self, span: PresenceSpan, sessions: Vec<PresenceSession>) -> Result<usize, StoreError>;

    /// The spans and sessions of presence logs overlapping `[from_ms, to_ms)`.
    async fn presence(&self, from_ms: i64, to_ms: i64) -> Result<PresenceLog, StoreError>;

    /// Every revision of one event, oldest first.
    async fn event_revisions(&self, id: &str) -> Result<Vec<DisruptionEvent>, StoreError>;

    /// Records a review of an event (every review is kept; the latest counts). `false` when no such event
    /// exists, nothing stored.
    async fn save_review(&self, review: EventReview) -> Result<bool, StoreError>;

    /// The latest review of each of these events that has one.
    async fn reviews(&self, ids: &[String]) -> Result<std::collections::HashMap<String, EventReview>, StoreError>;

    /// Queues webhook deliveries, durably. A delivery already queued, delivered or dropped (same hook and id) is
    /// not queued again. When a hook's queue would hold more than `max_per_hook`, its oldest deliveries are
    /// dropped; returns how many were.
    async fn outbox_push(&self, entries: Vec<OutboxEntry>, max_per_hook: usize) -> Result<usize, StoreError>;

    /// The first `limit` deliveries still queued for `hook`, in queue order.
    async fn outbox_pending(&self, hook: &str, limit: usize) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Records a failed attempt of a queued delivery and when to try it next.
    async fn outbox_retry_at(
        &self,
        hook: &str,
        delivery: &str,
        attempts: u32,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError>;

    /// Takes a delivery off the queue (delivered, or given up); its id stays known, so it is not queued again.
    async fn outbox_finish(&self, hook: &str, delivery: &str) -> Result<(), StoreError>;

    /// Per probe and bucket of `bucket_secs`, what was measured in `[from, to)` by effective time, from the raw
    /// rows: what the materialised summaries ([`aggregates::bucket_summaries`], the classifier's and the
    /// timeline's input) must equal, and their fallback for windows they do not keep. This default folds the
    /// stored measurements a few buckets at a time, so memory holds the summaries and one slice; a backend that
    /// can aggregate by itself does so instead.
    async fn bucket_summaries(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        bucket_secs: i64,
    ) -> Result<Summaries, StoreError> {
        use crate::model::{Placed, SummaryBuilder};
        let mut builder = SummaryBuilder::new(bucket_secs, from, to);
        let slice = chrono::Duration::seconds((bucket_secs.max(1) * 4).max(60));
        let mut start = from;
        while start < to {
            let end = (start + slice).min(to);
            let rows = self
                .measurements(MeasurementQuery {
                    from: Some(start),
                    to: Some(end),
                    ..MeasurementQuery::default()
                })
                .await?;
            for r in &rows {
                if let Some(started_at) = r.started_at {
                    builder.add(Placed {
                        probe_id: &r.probe_id,
                        started_at,
                        measurement: &r.measurement,
                    });
                }
            }
            start = end;
        }
        Ok(builder.finish())
    }

    /// The bookkeeping of the summaries materialised for one bucket length, if any (see [`aggregates`]).
    async fn aggregate_state(&self, bucket_secs: i64) -> Result<Option<AggregateState>, StoreError>;

    /// Saves one bucket length's bookkeeping.
    async fn save_aggregate_state(&self, state: AggregateState) -> Result<(), StoreError>;

    /// The change log's current position: [`Store::changes_since`] from here reports what is stored later.
    async fn change_head(&self) -> Result<i64, StoreError>;

    /// The probe-minutes that received synced measurements after change-log position `cursor` (a backend whose
    /// writers stamp positions independently reports a margin before `cursor` again).
    async fn changes_since(&self, cursor: i64) -> Result<Changes, StoreError>;

    /// Partial summaries, per probe and bucket of `bucket_secs`, of the measurements placed as `placement` in
    /// `buckets` (an end of `Bucket::MAX` is open), of `probes` or of every probe — from the raw rows, each
    /// measurement once.
    async fn placed_partials(
        &self,
        bucket_secs: i64,
        buckets: std::ops::Range<Bucket>,
        placement: Placement,
        probes: Option<&[String]>,
    ) -> Result<Partials, StoreError>;

    /// Materialises partial summaries computed at `version` (µs, taken before their rows were read); a stored
    /// summary of a later version is kept.
    async fn save_partials(&self, bucket_secs: i64, version: i64, partials: &Partials) -> Result<(), StoreError>;

    /// The materialised partial summaries of `buckets`.
    async fn stored_partials(&self, bucket_secs: i64, buckets: std::ops::Range<Bucket>)
    -> Result<Partials, StoreError>;
}

/// Opens (creating on first use) the store an address names.
pub async fn open_store(spec: &StoreSpec) -> Result<Arc<dyn Store>, StoreError> {
    match spec {
        StoreSpec::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path.clone()).await?)),
        StoreSpec::ClickHouse { url, database } => Ok(Arc::new(ClickHouseStore::open(url, database).await?)),
    }
}
