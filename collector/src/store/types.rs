//! Values that cross the [`super::Store`] boundary.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use vigil_measurement::signature::PublicKey;
use vigil_measurement::{Kind, Measurement, Outcome};

use crate::model::{DisruptionEvent, ProbeProfile, ProbeRecord};

/// SHA-256 of a probe token. Tokens carry 256 random bits, so a fast hash is enough to make a leaked store
/// useless for impersonation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({}…)", hex::encode(&self.0[..4]))
    }
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
    pub event: DisruptionEvent,
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
