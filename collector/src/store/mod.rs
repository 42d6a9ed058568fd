//! Storage: one trait per concern (the registry, measurements, events and reviews, presence logs, the webhook
//! outbox, per-bucket summaries), gathered in [`Store`]; one module per backend, laid out alike (the embedded
//! SQLite default, `sqlite/`; ClickHouse for scale, `clickhouse/`), each implementing every concern in the file of
//! that name. Callers hold an `Arc<dyn Store>` and never know which backend they talk to; a backend's own errors
//! become [`StoreError::Backend`] inside the backend.
//!
//! Guarantees every backend gives:
//! - `write_batches` returns only after every row it reports is durable; on `Err` nothing of the call is visible.
//! - a measurement id is stored at most once, across calls and within one call (the later copy is a duplicate).
//! - probe tokens are stored only as hashes.
//!
//! The conformance suite (`collector/tests/store_conformance.rs`) runs every guarantee on every backend.

pub mod aggregates;
pub mod clickhouse;
mod events;
mod measurements;
mod outbox;
mod presence;
mod registry;
mod spec;
mod sqlite;
mod summaries;

use std::sync::Arc;

use async_trait::async_trait;

pub use aggregates::{AggregateState, Changes, Placement};
pub use clickhouse::ClickHouseStore;
pub use events::{EventQuery, EventReview, EventSaveSummary, EventStore, ReviewVerdict, StoredEvent};
pub use measurements::{
    Arrival, IngestBatch, MeasurementQuery, MeasurementStore, PreparedWrite, SignedBatchQuery, SignedBatchRecord,
    SignedBody, StoredMeasurement, TimeSource, WriteOutcome,
};
pub use outbox::{OutboxEntry, OutboxStore};
pub use presence::PresenceStore;
pub use registry::{NewProbe, ProbeArrival, ProbeRegistry, TokenHash};
pub use spec::StoreSpec;
pub use sqlite::SqliteStore;
pub use summaries::{SummaryStore, fold_raw_rows};

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
    /// The backend failed or could not be reached (its own error, as text).
    #[error("{backend}: {message}")]
    Backend {
        /// Which backend (`sqlite`, `clickhouse`).
        backend: &'static str,
        /// What it said.
        message: String,
        /// Whether trying again later may succeed (busy, unreachable, overloaded) rather than never (bad data).
        retryable: bool,
    },
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
}

impl StoreError {
    /// Whether trying again later may succeed (busy database, I/O hiccup) as opposed to a permanent failure.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Io { .. } | StoreError::Worker(_) => true,
            StoreError::Backend { retryable, .. } => *retryable,
            _ => false,
        }
    }
}

/// Where everything the collector keeps lives: every concern's trait, and what a store says about itself.
/// Callers hold an `Arc<dyn Store>`; a function that needs one concern only may take that trait.
#[async_trait]
pub trait Store:
    ProbeRegistry + MeasurementStore + EventStore + PresenceStore + OutboxStore + SummaryStore + Send + Sync + 'static
{
    /// A human-readable description of the backend and its location, for logs.
    fn describe(&self) -> String;

    /// Checks the backend answers.
    async fn health(&self) -> Result<(), StoreError>;
}

/// Opens (creating on first use) the store an address names.
pub async fn open_store(spec: &StoreSpec) -> Result<Arc<dyn Store>, StoreError> {
    match spec {
        StoreSpec::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path.clone()).await?)),
        StoreSpec::ClickHouse { url, database } => Ok(Arc::new(ClickHouseStore::open(url, database).await?)),
    }
}
