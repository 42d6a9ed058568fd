//! The Vigil collector: authenticated ingest of probe measurements, durable storage, the disruption classifier,
//! and the public API.
//!
//! Every module is private; this root is the public API. Arrows run one way (ARCHITECTURE.md has the picture):
//! `model` (shared values, no I/O) ← `classify` (pure) ← `analysis` (runs over a `store`); `ingest` (body →
//! durable write) and the HTTP layers (`api`, `status`, wired by `server`) sit on top.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use vigil_collector::{CollectorConfig, open_store, serve};
//! let config = CollectorConfig::default();
//! let store = open_store(&config.store).await?;
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! serve(store, &config, listener, std::future::pending()).await?;
//! # Ok(()) }
//! ```

mod analysis;
mod api;
mod classify;
mod config;
mod connections;
mod corpus;
mod export;
mod import;
mod ingest;
mod metrics;
mod model;
mod notify;
mod registry;
mod review;
mod server;
mod status;
mod store;
mod tls;
mod token;
mod verify;

// Values shared by everyone: probes, buckets and their summaries, presence, events, the public view.
pub use model::{
    AccessType, AppBuckets, AppReach, AppVerdict, BlockedTarget, BlockingMethod, Bucket, BucketSummary,
    ConfidenceLevel, DisruptionEvent, EventClass, EventScope, Evidence, MIN_REGION_PROBES, Partial, Partials, Placed,
    PresenceLog, PresenceSession, PresenceSpan, ProbeProfile, ProbeRecord, PublicProbe, Summaries, SummaryBuilder,
    Tally, VitalsSummary,
};

// The classifier (pure) and its runs over a store.
pub use analysis::{Change, RunReport, Transition, classify_window, transitions};
pub use classify::{ClassifierInput, ClassifierSettings, ProbeInfo, UNPLACED_COUNTRY, build_input, classify};

// Storage: one trait per concern, gathered in `Store`; the materialised summaries; ClickHouse administration.
pub use store::clickhouse::{apply_statements as apply_clickhouse_statements, schema as clickhouse_schema};
pub use store::{
    Arrival, ClickHouseStore, EventQuery, EventReview, EventSaveSummary, EventStore, IngestBatch, MeasurementQuery,
    MeasurementStore, NewProbe, OutboxEntry, OutboxStore, PresenceStore, ProbeArrival, ProbeRegistry, ReviewVerdict,
    SignedBatchQuery, SignedBatchRecord, SignedBody, SqliteStore, Store, StoreError, StoreSpec, StoredEvent,
    StoredMeasurement, SummaryStore, TimeSource, TokenHash, WriteOutcome, aggregates, open_store,
};

// Ingest: parsing and decoding a batch (the fuzz targets drive these directly).
pub use ingest::{BatchError, BatchLimits, BodyError, ContentEncoding, decode_body, parse_batch, parse_signed_batch};

// The scenario corpus (random countries through known events, with ground truth) and the classifier's score on it.
pub use corpus::{
    BUCKET_SECS as CORPUS_BUCKET_SECS, CorpusOptions, Country as CorpusCountry, EvalReport as CorpusReport,
    Scenario as CorpusScenario, ScenarioKind, Truth, TruthScope, evaluate as evaluate_corpus, judge as judge_scenario,
    scenario as corpus_scenario, scenario_with as corpus_scenario_with,
};

// Third-party vantage: RIPE Atlas connection logs, and their replay against Disco's detections.
pub use import::{replay, ripe_atlas};

// Probe credentials, reviews, exports, alerts, verification.
pub use export::{Dataset, ExportError, ExportRequest, ExportSummary, Format, export};
pub use notify::{Notifier, NotifyConfig, WebhookConfig};
pub use registry::{IssuedProbe, KeyChange, RegistryError, register_probe, register_probe_with_key, set_key};
pub use review::{
    MAX_NOTE_CHARS, Publication, PublishedEvent, ReviewError, ReviewStatus, ReviewView, latest_reviews, pending_only,
    publication, published, record as record_review, requires_review, status as review_status,
};
pub use verify::{Finding, Report as VerifyReport, verify};

// Configuration and the server.
pub use config::{ClassifierConfig, CollectorConfig, ConfigError, IngestConfig, MetricsConfig, Role, ServerConfig};
pub use server::{ServeError, serve};
