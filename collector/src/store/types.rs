//! Values that cross the [`super::Store`] boundary.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_measurement::signature::PublicKey;
use vigil_measurement::{Kind, Measurement, Outcome};

/// How a probe reaches the internet; shapes what an outage on it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum AccessType {
    /// A fixed line (DSL, fibre, cable).
    Fixed,
    /// A mobile network.
    Mobile,
    /// A satellite link.
    Satellite,
}

impl AccessType {
    /// The stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessType::Fixed => "fixed",
            AccessType::Mobile => "mobile",
            AccessType::Satellite => "satellite",
        }
    }

    /// Reads the stable text form.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "fixed" => Some(AccessType::Fixed),
            "mobile" => Some(AccessType::Mobile),
            "satellite" => Some(AccessType::Satellite),
            _ => None,
        }
    }
}

/// SHA-256 of a probe token. Tokens carry 256 random bits, so a fast hash is enough to make a leaked store
/// useless for impersonation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({}…)", hex::encode(&self.0[..4]))
    }
}

/// What describes a probe: who labels it and where it sits. Given at registration, copied onto every row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeProfile {
    /// Operator's label (private: never in public views).
    pub name: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// Autonomous system the probe sits in.
    pub asn: u32,
    /// Region within the country, if given.
    pub region: Option<String>,
    /// Access type.
    pub access: AccessType,
    /// Whether the probe runs on a UPS (power loss does not silence it at once).
    pub ups: bool,
}

/// A probe to register.
#[derive(Debug, Clone)]
pub struct NewProbe {
    /// Pseudonymous public id, e.g. `prb-3f9a1c0e7b2d`.
    pub probe_id: String,
    /// Label and placement.
    pub profile: ProbeProfile,
    /// Hash of the token handed to the volunteer.
    pub token_hash: TokenHash,
    /// The probe's batch-signing key, when registered with one: every upload must then be signed by it.
    pub public_key: Option<PublicKey>,
    /// Registration time.
    pub created_at: DateTime<Utc>,
}

/// A registered probe as the store knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeRecord {
    /// Pseudonymous public id.
    pub probe_id: String,
    /// Label and placement.
    #[serde(flatten)]
    pub profile: ProbeProfile,
    /// Registration time.
    pub created_at: DateTime<Utc>,
    /// When the token was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last accepted upload.
    pub last_seen: Option<DateTime<Utc>>,
    /// The batch-signing key, when one is registered.
    pub public_key: Option<PublicKey>,
}

impl ProbeRecord {
    /// Whether the probe's token still works.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// One accepted batch from one authenticated probe, validated and ready to store.
#[derive(Debug, Clone)]
pub struct IngestBatch {
    /// The probe the token belongs to: the only identity the rows get.
    pub probe: ProbeRecord,
    /// When the collector received the batch.
    pub received_at: DateTime<Utc>,
    /// The measurements, in line order.
    pub measurements: Vec<Measurement>,
    /// The body exactly as signed, when the probe signed it with its registered key.
    pub signed: Option<SignedBody>,
}

/// An upload body as received and its verified signature, kept so the batch can be re-checked later.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedBody {
    /// SHA-256 of `body`.
    pub digest: [u8; 32],
    /// The Ed25519 signature over `body`.
    pub signature: [u8; 64],
    /// The key it verified with.
    pub public_key: PublicKey,
    /// The body's `Content-Encoding` (`identity`, `gzip` or `zstd`).
    pub encoding: String,
    /// The exact bytes received.
    pub body: bytes::Bytes,
}

/// A stored signed batch.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedBatchRecord {
    /// The probe that sent it.
    pub probe_id: String,
    /// When it was first received.
    pub received_at: DateTime<Utc>,
    /// How many measurements it held.
    pub measurements: u32,
    /// The body and its signature.
    pub signed: SignedBody,
}

/// Which signed batches to read.
#[derive(Debug, Clone, Default)]
pub struct SignedBatchQuery {
    /// Only this probe's.
    pub probe_id: Option<String>,
    /// Received at or after.
    pub from: Option<DateTime<Utc>>,
    /// Received before.
    pub to: Option<DateTime<Utc>>,
}

/// What storing one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WriteOutcome {
    /// Measurements newly stored.
    pub accepted: u64,
    /// Measurements already stored (a retry), not stored again.
    pub duplicates: u64,
}

/// What a write found out before it commits ([`super::Store::prepare_write`]): for ClickHouse, which of its
/// measurements (probe id, measurement id) are already stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreparedWrite {
    pub(crate) stored: std::collections::BTreeSet<(String, String)>,
}

/// Which stored measurements to read.
#[derive(Debug, Clone, Default)]
pub struct MeasurementQuery {
    /// Only this probe's.
    pub probe_id: Option<String>,
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only these ids.
    pub ids: Option<Vec<Uuid>>,
    /// Effective start time at or after this.
    pub from: Option<DateTime<Utc>>,
    /// Effective start time before this.
    pub to: Option<DateTime<Utc>>,
    /// Only rows ingested after this sequence number (a resumable cursor).
    pub after_seq: Option<i64>,
    /// At most this many rows.
    pub limit: Option<usize>,
}

/// Where a stored measurement's effective time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// The probe's synced wall clock.
    Probe,
    /// Re-timed from the monotonic clock against the boot's first synced measurement.
    Retimed,
    /// Unsynced and no anchor yet: kept aside, no effective time.
    Pending,
}

/// A measurement as stored, with what the collector added.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMeasurement {
    /// Ingest order; a resumable cursor.
    pub seq: i64,
    /// The probe that sent it.
    pub probe_id: String,
    /// Effective start time (None while pending re-timing).
    pub started_at: Option<DateTime<Utc>>,
    /// Where `started_at` came from.
    pub time_source: TimeSource,
    /// When the collector received it.
    pub received_at: DateTime<Utc>,
    /// Its outcome, for quick filtering.
    pub outcome: Outcome,
    /// The measurement as the probe sent it (known fields only, free text scrubbed).
    pub measurement: Measurement,
}

/// Which stored events to read.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Events overlapping `[from, to)`, epoch seconds.
    pub from: Option<i64>,
    /// See `from`.
    pub to: Option<i64>,
    /// Only this country.
    pub country: Option<String>,
    /// Only this ASN.
    pub asn: Option<u32>,
    /// Only this class (`shutdown`, …).
    pub class: Option<String>,
}

/// A person's verdict on an event's class. A shutdown is an accusation against a government: it is published
/// as such only once someone has reviewed the evidence (CLASSIFICATION.md §5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventReview {
    /// The event.
    pub event_id: String,
    /// The class the reviewer judged (a review lapses when a revision changes the class).
    pub class: String,
    /// Confirmed or rejected.
    pub verdict: ReviewVerdict,
    /// Who reviewed (an operator's chosen name or role; shown publicly).
    pub reviewer: String,
    /// Why, in a sentence (shown publicly).
    pub note: String,
    /// When, epoch milliseconds.
    pub reviewed_ms: i64,
}

/// One webhook delivery waiting in the outbox (`webhook_outbox`): kept in the store until the receiver answers
/// 2xx, so a restart loses no alert (at least once; the receiver drops a repeat by `delivery`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The webhook's URL (each webhook has its own queue, delivered in order).
    pub hook: String,
    /// The stable delivery id (`X-Vigil-Delivery`): the same transition always has the same id.
    pub delivery: String,
    /// Order within the hook's queue (epoch microseconds when queued, then the transition's place in its run).
    pub seq: i64,
    /// The JSON body to POST.
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before this time (epoch milliseconds): the backoff after a failed attempt.
    pub next_attempt_ms: i64,
}

/// What a reviewer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewVerdict {
    /// The evidence supports the class.
    Confirmed,
    /// It does not.
    Rejected,
}

impl ReviewVerdict {
    /// Its stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewVerdict::Confirmed => "confirmed",
            ReviewVerdict::Rejected => "rejected",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "confirmed" => Some(ReviewVerdict::Confirmed),
            "rejected" => Some(ReviewVerdict::Rejected),
            _ => None,
        }
    }
}

/// An event as stored: the classifier's event, how many revisions it has had, and each revision's body.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The event now.
    pub event: crate::classify::DisruptionEvent,
    /// Revisions so far (1 for an event never revised).
    pub revisions: u32,
}

/// What saving a run's events did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventSaveSummary {
    /// Events seen for the first time.
    pub opened: usize,
    /// Events whose class, confidence, end or size changed.
    pub revised: usize,
    /// Events of the window the run no longer found.
    pub retracted: usize,
}

/// One period a third-party pseudo-probe (a RIPE Atlas probe) was connected to its platform, as its connection
/// log shows it. Outside the log's [`PresenceSpan`] nothing is known of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PresenceSession {
    /// The pseudo-probe.
    pub probe_id: String,
    /// Connected at (ms): the span's start when the log opens with the probe already connected.
    pub connected_ms: i64,
    /// Disconnected at (ms); `None` while still connected at the end of the log.
    pub disconnected_ms: Option<i64>,
    /// The platform's server (RIPE Atlas controller) the probe was connected to when the session ended, if
    /// the log names it: a burst of disconnections from one controller is the platform's fault.
    pub controller: Option<String>,
}

/// The time a third-party connection log covers: inside it a pseudo-probe not connected was away; outside it,
/// unknown.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PresenceSpan {
    /// Where the log came from (`ripe-atlas`).
    pub source: String,
    /// First covered instant (ms).
    pub from_ms: i64,
    /// One past the last covered instant (ms).
    pub to_ms: i64,
}

/// The presence logs overlapping a window: the spans they cover and the sessions in them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresenceLog {
    /// Spans overlapping the window.
    pub spans: Vec<PresenceSpan>,
    /// Sessions overlapping the window.
    pub sessions: Vec<PresenceSession>,
}
