//! Measurements: the durable write of validated batches (and the signed bodies they came in), and reads by
//! effective time.
//!
//! Guarantees: `write_batches` returns only after every row it reports is durable, and on `Err` nothing of the
//! call is visible; a measurement id is stored at most once, across calls and within one call (the later copy is a
//! duplicate).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use vigil_measurement::signature::PublicKey;
use vigil_measurement::{Kind, Measurement, Outcome};

use super::StoreError;
use crate::model::ProbeRecord;

/// Stores measurements durably and reads them back.
#[async_trait::async_trait]
pub trait MeasurementStore: Send + Sync {
    /// Signed batches matching `query`, by receipt time. A batch received twice (a retry) is kept once.
    async fn signed_batches(&self, query: SignedBatchQuery) -> Result<Vec<SignedBatchRecord>, StoreError>;

    /// Stores several validated batches in one durable commit; one outcome per batch, in order. A signed
    /// batch's body and signature are stored in the same commit.
    async fn write_batches(&self, batches: Vec<IngestBatch>) -> Result<Vec<WriteOutcome>, StoreError>;

    /// Whether [`MeasurementStore::prepare_write`] does work worth running while the previous write commits.
    fn prepares_writes(&self) -> bool {
        false
    }

    /// The part of a write that may run while the previous write commits (ClickHouse: which of its ids are
    /// stored already, and the summary change log). Its result goes to [`MeasurementStore::write_prepared`] once every
    /// earlier write has returned; after an earlier write failed, prepare again.
    async fn prepare_write(&self, _batches: &[IngestBatch]) -> Result<PreparedWrite, StoreError> {
        Ok(PreparedWrite::default())
    }

    /// Commits batches prepared by [`MeasurementStore::prepare_write`] while at most the write just before was committing:
    /// the same guarantees as [`MeasurementStore::write_batches`].
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
}

/// One accepted batch from one authenticated probe, validated and ready to store.
#[derive(Debug, Clone)]
pub struct IngestBatch {
    /// The probe the token belongs to: the only identity the rows get.
    pub probe: ProbeRecord,
    /// When the collector received the batch.
    pub received_at: DateTime<Utc>,
    /// The measurements, in line order.
    measurements: Vec<Measurement>,
    /// Each measurement's canonical line (`Measurement::to_json_line`), the body a store keeps.
    lines: Vec<String>,
    /// The body exactly as signed, when the probe signed it with its registered key.
    pub signed: Option<SignedBody>,
    /// How the batch reached the collector.
    pub arrival: Arrival,
}

/// How a batch reached the collector: never its address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arrival {
    /// The uplink that carried it (`Vigil-Uplink`), `None` for the probe's registered line.
    pub carrier: Option<String>,
    /// The network it arrived from (`[ingest] asn_table`), when known.
    pub asn: Option<u32>,
    /// The country that network is registered in (the table's country column), when the table places it.
    pub network_country: Option<String>,
}

impl Arrival {
    /// Whether it says anything worth keeping (a carrier named, or a network known).
    pub fn is_known(&self) -> bool {
        self.carrier.is_some() || self.asn.is_some()
    }

    /// The network it arrived from, when it came over the probe's registered line and that network is not the one
    /// `profile` registers: the registry, which every network scope is built on, is then out of date (the probe
    /// moved, or its line changed hands). The registered line is the upload with no carrier named, or a carrier
    /// whose measurements declared the registered access (`carrier_access`); a carrier of unknown access (a dish
    /// carrying only its line's spooled measurements) is not judged.
    pub fn off_network(&self, carrier_access: Option<&str>, profile: &crate::model::ProbeProfile) -> Option<u32> {
        let asn = self.asn?;
        let on_line = carried_by_line(self.carrier.as_deref(), carrier_access, profile.access);
        // AS 0 registers no network (a pseudo-probe's unknown one): nothing to compare with.
        (on_line && profile.asn != 0 && asn != profile.asn).then_some(asn)
    }
}

/// Whether uploads came over a probe's registered line (of access `registered`): no carrier named, or a carrier
/// whose measurements declared the registered access (`carrier_access`); a carrier of unknown access (a dish
/// carrying only its line's spooled measurements) is not the line.
pub(crate) fn carried_by_line(
    carrier: Option<&str>,
    carrier_access: Option<&str>,
    registered: crate::model::AccessType,
) -> bool {
    match (carrier, carrier_access) {
        (None, _) => true,
        (Some(_), Some(access)) => access == registered.as_str(),
        (Some(_), None) => false,
    }
}

impl IngestBatch {
    /// A batch of `measurements` from `probe`. Each measurement's stored line is made here, by whoever decoded the
    /// batch (the ingest path: on its decoding thread, one per upload), so that the store's single writer does
    /// not serialise every measurement of every group itself.
    pub fn new(
        probe: ProbeRecord,
        received_at: DateTime<Utc>,
        measurements: Vec<Measurement>,
        signed: Option<SignedBody>,
    ) -> Self {
        let lines = measurements.iter().map(Measurement::to_json_line).collect();
        IngestBatch {
            probe,
            received_at,
            measurements,
            lines,
            signed,
            arrival: Arrival::default(),
        }
    }

    /// The same batch, saying how it reached the collector.
    pub fn arriving(mut self, arrival: Arrival) -> Self {
        self.arrival = arrival;
        self
    }

    /// The access its carrier declared (`uplink.access` of its measurements taken on the carrier), if any.
    pub fn carrier_access(&self) -> Option<&'static str> {
        let carrier = self.arrival.carrier.as_deref()?;
        self.measurements
            .iter()
            .filter_map(|m| m.uplink.as_ref())
            .find(|u| u.name == carrier)
            .map(|u| u.access.as_str())
    }

    /// The measurements, in line order.
    pub fn measurements(&self) -> &[Measurement] {
        &self.measurements
    }

    /// Each measurement with the line a store keeps as its body, in line order.
    pub fn with_lines(&self) -> impl Iterator<Item = (&Measurement, &str)> {
        self.measurements.iter().zip(self.lines.iter().map(String::as_str))
    }
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
