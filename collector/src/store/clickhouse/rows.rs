//! Rows as they cross the wire (RowBinary): field order and types match the tables in [`super::schema`].

use clickhouse::Row;
use serde::{Deserialize, Serialize};

/// A `measurements` row.
#[derive(Debug, Clone, Row, Serialize)]
pub struct MeasurementRow {
    pub day: u16,
    pub id: String,
    pub seq: i64,
    pub probe_id: String,
    pub kind: &'static str,
    pub outcome: &'static str,
    pub reported_ms: i64,
    pub clock_synced: u8,
    pub boot_id: String,
    pub mono_ms: i64,
    pub received_ms: i64,
    pub duration_ms: f64,
    pub target_name: String,
    pub target_scope: &'static str,
    pub target_list: Option<String>,
    pub country: String,
    pub asn: u32,
    pub region: Option<String>,
    pub access: &'static str,
    pub body: String,
    pub metric: Option<f64>,
    pub metric_kind: &'static str,
    pub blocking: &'static str,
    pub fingerprint: String,
    pub v_boot: String,
    pub v_on_battery: u8,
    pub v_gateway: u8,
    pub v_link: u8,
    pub v_last_gasp: u8,
    pub v_uptime_s: f64,
    pub path_end: String,
    /// The access of the uplink that took it (`''`: none declared).
    pub uplink_access: &'static str,
}

/// A `clock_anchors` row: a boot's synced reading (the earliest wins: `version` is `u64::MAX - mono_ms`).
#[derive(Debug, Clone, Row, Serialize)]
pub struct AnchorRow {
    pub probe_id: String,
    pub boot_id: String,
    pub mono_ms: i64,
    pub wall_ms: i64,
    pub version: u64,
}

/// A `probes` row (one version of a registration).
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct ProbeRow {
    pub probe_id: String,
    pub version: u64,
    pub name: String,
    pub country: String,
    pub asn: u32,
    pub region: Option<String>,
    pub access: String,
    pub ups: u8,
    pub token_hash: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
    /// Hex of the signing key; empty when none is registered.
    pub public_key: String,
}

/// A `signed_batches` row (binary fields in hex).
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct SignedBatchRow {
    pub probe_id: String,
    pub digest: String,
    pub received_ms: i64,
    pub measurements: u32,
    pub encoding: String,
    pub public_key: String,
    pub signature: String,
    pub body: String,
    /// `u64::MAX - received_ms`: the version that keeps the first receipt.
    pub first: u64,
}

/// A `probe_arrivals` row.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct ArrivalRow {
    pub probe_id: String,
    pub carrier: String,
    pub asn: u32,
    pub access: String,
    pub first_seen_ms: i64,
    pub seen_ms: i64,
    pub network_country: String,
}

/// A `probe_seen` row.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct SeenRow {
    pub probe_id: String,
    pub seen_ms: i64,
}

/// An `events` row (one version of an event).
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct EventRow {
    pub id: String,
    pub version: u64,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub class: String,
    pub country: String,
    pub asn: Option<u32>,
    pub revisions: u32,
    pub retracted_ms: Option<i64>,
    pub updated_ms: i64,
    pub body: String,
}

/// An `event_revisions` row.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct RevisionRow {
    pub id: String,
    pub revision: u32,
    pub recorded_ms: i64,
    pub class: String,
    pub body: String,
}

/// An `event_reviews` row.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct ReviewRow {
    pub id: String,
    pub reviewed_ms: i64,
    pub class: String,
    pub verdict: String,
    pub reviewer: String,
    pub note: String,
}

/// A `webhook_outbox` row.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct OutboxRow {
    pub hook: String,
    pub delivery: String,
    pub seq: i64,
    pub body: String,
    pub attempts: u32,
    pub next_attempt_ms: i64,
    pub state: String,
    pub version: u64,
}

/// A `presence` row.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct PresenceRow {
    pub source: String,
    pub probe_id: String,
    pub connected_ms: i64,
    pub disconnected_ms: Option<i64>,
    pub version: u64,
    pub controller: String,
}

/// A `presence_spans` row.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct PresenceSpanRow {
    pub source: String,
    pub from_ms: i64,
    pub to_ms: i64,
}

/// A measurement read back, with its effective time resolved against the clock anchors.
#[derive(Debug, Clone, Row, Deserialize)]
pub struct ReadRow {
    pub seq: i64,
    pub probe_id: String,
    pub effective_ms: i64,
    pub source: String,
    pub received_ms: i64,
    pub outcome: String,
    pub body: String,
}

/// One probe-bucket summary computed by ClickHouse.
#[derive(Debug, Clone, Row, Deserialize)]
pub struct SummaryRow {
    pub probe_id: String,
    pub bucket: i64,
    pub dom_ok: u64,
    pub dom_total: u64,
    pub intl_ok: u64,
    pub intl_total: u64,
    pub throughput: Vec<f64>,
    pub rtt: Vec<f64>,
    pub blocked: Vec<(String, String, String)>,
    pub reached: Vec<String>,
    pub intl_reached: Vec<String>,
    pub intl_failed: Vec<String>,
    pub path_ends: Vec<String>,
    pub vitals_n: u64,
    pub vitals: (String, u8, u8, u8, u8),
    pub vitals_at: (i64, String),
}

/// A `summary_changes` row.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct ChangeRow {
    pub seq: i64,
    pub probe_id: String,
    pub minute: i64,
}

/// A `bucket_summaries` row.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct BucketSummaryRow {
    pub bucket_secs: i64,
    pub bucket: i64,
    pub probe_id: String,
    pub version: u64,
    pub country: String,
    pub asn: u32,
    pub dom_ok: u32,
    pub dom_total: u32,
    pub intl_ok: u32,
    pub intl_total: u32,
    pub throughput: Vec<f64>,
    pub rtt: Vec<f64>,
    pub blocked_target: Vec<String>,
    pub blocked_method: Vec<String>,
    pub blocked_fingerprint: Vec<String>,
    pub reached_target: Vec<String>,
    pub intl_reached: Vec<String>,
    pub intl_failed: Vec<String>,
    pub path_ends: Vec<String>,
    pub has_vitals: u8,
    pub v_boot: String,
    pub on_battery: u8,
    pub gateway: u8,
    pub link: u8,
    pub last_gasp: u8,
    pub vitals_ms: i64,
    pub vitals_id: String,
}

/// An `aggregate_state` row.
#[derive(Debug, Clone, Row, Serialize, Deserialize)]
pub struct AggregateStateRow {
    pub bucket_secs: i64,
    pub cursor: i64,
    pub covered_from: i64,
    pub refreshed_us: i64,
    pub version: u64,
}
