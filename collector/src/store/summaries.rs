//! Per-bucket summaries: the fold of raw rows every backend can compute, and the bookkeeping of the materialised
//! summaries ([`super::aggregates`] drives it the same way on every backend).

use std::ops::Range;

use chrono::{DateTime, Utc};

use super::StoreError;
use super::aggregates::{AggregateState, Changes, Placement};
use super::measurements::{MeasurementQuery, MeasurementStore};
use crate::model::{AccessType, Bucket, Partials, Placed, Summaries, SummaryBuilder};

/// Computes and keeps per-bucket summaries.
#[async_trait::async_trait]
pub trait SummaryStore: Send + Sync {
    /// Per probe and bucket of `bucket_secs`, what was measured in `[from, to)` by effective time, from the raw
    /// rows: what the materialised summaries ([`super::aggregates::bucket_summaries`], the classifier's and the
    /// timeline's input) must equal, and their fallback for windows they do not keep. [`fold_raw_rows`] computes
    /// it from [`MeasurementStore::measurements`]; a backend that can aggregate by itself does so instead.
    async fn bucket_summaries(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket_secs: i64,
    ) -> Result<Summaries, StoreError>;

    /// The bookkeeping of the summaries materialised for one bucket length, if any (see [`super::aggregates`]).
    async fn aggregate_state(&self, bucket_secs: i64) -> Result<Option<AggregateState>, StoreError>;

    /// Saves one bucket length's bookkeeping.
    async fn save_aggregate_state(&self, state: AggregateState) -> Result<(), StoreError>;

    /// The change log's current position: [`SummaryStore::changes_since`] from here reports what is stored later.
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
        buckets: Range<Bucket>,
        placement: Placement,
        probes: Option<&[String]>,
    ) -> Result<Partials, StoreError>;

    /// Materialises partial summaries computed at `version` (µs, taken before their rows were read); a stored
    /// summary of a later version is kept.
    async fn save_partials(&self, bucket_secs: i64, version: i64, partials: &Partials) -> Result<(), StoreError>;

    /// The materialised partial summaries of `buckets`.
    async fn stored_partials(&self, bucket_secs: i64, buckets: Range<Bucket>) -> Result<Partials, StoreError>;
}

/// Per probe and bucket of `bucket_secs`, what was measured in `[from, to)`, folded from the raw rows a few buckets
/// at a time, so memory holds the summaries and one slice: [`SummaryStore::bucket_summaries`] for a backend that
/// cannot aggregate by itself.
pub async fn fold_raw_rows(
    store: &(impl MeasurementStore + super::ProbeRegistry + ?Sized),
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket_secs: i64,
) -> Result<Summaries, StoreError> {
    // Each probe's registered access decides which of its uplinks' measurements are its own timeline.
    let access: std::collections::HashMap<String, AccessType> = store
        .probes()
        .await?
        .into_iter()
        .map(|p| (p.probe_id, p.profile.access))
        .collect();
    let mut builder = SummaryBuilder::new(bucket_secs, from, to);
    let slice = chrono::Duration::seconds((bucket_secs.max(1) * 4).max(60));
    let mut start = from;
    while start < to {
        let end = (start + slice).min(to);
        let rows = store
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
                    access: access.get(&r.probe_id).copied().unwrap_or(AccessType::Fixed),
                    started_at,
                    measurement: &r.measurement,
                });
            }
        }
        start = end;
    }
    Ok(builder.finish())
}
