//! Materialised per-bucket summaries: what the classifier and the dashboards read instead of rescanning raw rows.
//!
//! The store keeps, per bucket length, one summary per probe-bucket of its clock-synced measurements (a synced
//! measurement's bucket is fixed when it arrives). A change log records which probe-minutes received synced
//! measurements; a refresh recomputes exactly the probe-buckets changed since its cursor from their raw rows
//! (deduplicated, so a retry accepted twice counts once) and saves them with a version stamped before the read,
//! so a slower, older computation never overwrites a newer one. Re-timed measurements (unsynced clocks) can move
//! when an earlier anchor arrives, so they are never materialised: they are few, and folded from raw rows on
//! every read. Partial buckets at the edges of a window not aligned to buckets are folded from raw rows too.
//!
//! Coverage: a bucket length's summaries are kept from `covered_from` on. A read of earlier buckets adjacent to
//! them computes those from raw rows once and extends the coverage (one far before is folded from raw rows
//! without being kept); a materialisation not refreshed for
//! [`STALE_AFTER_US`] starts over (the change log is pruned after [`CHANGE_LOG_KEEP_US`]). The result is the
//! same as folding the raw rows (`Store::bucket_summaries`): the conformance suite checks it on every backend.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use chrono::{DateTime, Utc};

use super::{Store, StoreError};
use crate::model::Bucket;
use crate::model::{Summaries, SummaryBuilder};

/// Shortest bucket length that is materialised (shorter ones are folded from raw rows on every read).
pub const MIN_BUCKET_SECS: i64 = 60;
/// A bucket length's materialisation not refreshed for this long (µs) starts over.
pub const STALE_AFTER_US: i64 = 2 * 86_400 * 1_000_000;
/// How long (µs) the change log keeps entries; longer than [`STALE_AFTER_US`], so a live cursor never points
/// into pruned entries.
pub const CHANGE_LOG_KEEP_US: i64 = 3 * 86_400 * 1_000_000;
/// How recent (µs) the summaries public readers (the timeline API, the status page) see must be: one refresh per
/// this long at most, however many requests come.
pub const PUBLIC_STALENESS_US: i64 = 5_000_000;
/// Buckets recomputed by one query at most, when late data touches scattered buckets.
const RECOMPUTE_SPAN: Bucket = 24;
/// Probes per recompute query at most.
const RECOMPUTE_PROBES: usize = 4_000;
/// Buckets folded per query when coverage is extended backwards.
const COVER_SLICE_SECS: i64 = 2 * 3600;

/// Bookkeeping of one bucket length's materialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregateState {
    /// Bucket length in seconds.
    pub bucket_secs: i64,
    /// Change-log position up to which changes have been applied.
    pub cursor: i64,
    /// First bucket the materialisation covers (`Bucket::MAX`: none yet).
    pub covered_from: Bucket,
    /// When it was last refreshed (µs since the epoch).
    pub refreshed_us: i64,
}

/// Probe-minutes that received synced measurements after a change-log position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// `(probe id, minute since the epoch)` pairs, in no particular order.
    pub probe_minutes: Vec<(String, i64)>,
    /// The position to ask from next time.
    pub next: i64,
}

/// Which measurements a partial summary folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Those the probe timed with a synced clock (fixed buckets; materialised).
    Synced,
    /// Those re-timed against their boot's anchor (folded on every read).
    Retimed,
}

/// How a reader uses the materialised summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    /// The bucket length summaries are kept at (the collector's `bucket_secs`).
    pub base_secs: i64,
    /// The refresh is skipped when the last one is at most this old (µs); 0 reads everything stored so far.
    pub max_staleness_us: i64,
}

impl Reader {
    /// A reader that sees everything stored so far (the classifier).
    pub fn latest(base_secs: i64) -> Self {
        Reader {
            base_secs,
            max_staleness_us: 0,
        }
    }

    /// A public reader: at most [`PUBLIC_STALENESS_US`] behind.
    pub fn public(base_secs: i64) -> Self {
        Reader {
            base_secs,
            max_staleness_us: PUBLIC_STALENESS_US,
        }
    }
}

/// Microseconds since the epoch, now.
fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}

/// Per probe and bucket of `bucket_secs`, what was measured in `[from, to)` by effective time — equal to
/// [`Store::bucket_summaries`]'s fold of the raw rows. Summaries are materialised at `base_secs` only (the
/// collector's bucket length, so readers choosing other lengths cannot make the store keep more): a bucket length
/// that is a multiple of it merges the base buckets it spans; any other is folded from the raw rows.
pub async fn bucket_summaries(
    store: &dyn Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket_secs: i64,
    reader: Reader,
) -> Result<Summaries, StoreError> {
    let base_secs = reader.base_secs;
    if base_secs < MIN_BUCKET_SECS || bucket_secs % base_secs != 0 || to <= from {
        return store.bucket_summaries(from, to, bucket_secs).await;
    }
    let (bucket_ms, per_bucket) = (bucket_secs * 1000, bucket_secs / base_secs);
    let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
    // Whole buckets inside the window come from the materialisation; partial ones at its edges from raw rows.
    let whole = (from_ms + bucket_ms - 1).div_euclid(bucket_ms)..to_ms.div_euclid(bucket_ms);
    if whole.is_empty() {
        return store.bucket_summaries(from, to, bucket_secs).await;
    }
    let base = whole.start * per_bucket..whole.end * per_bucket;
    let began = std::time::Instant::now();
    let mut state = refresh(store, base_secs, reader.max_staleness_us).await?;
    let refreshed = began.elapsed();
    if base.start < state.covered_from {
        if state.covered_from != Bucket::MAX && base.end < state.covered_from {
            // Entirely before the materialised buckets, and not adjacent: materialising would compute every bucket
            // in between (an old window can be far back), so this read folds the raw rows instead.
            return store.bucket_summaries(from, to, bucket_secs).await;
        }
        cover(store, &mut state, base.clone()).await?;
    }
    let covered = began.elapsed();
    let stored = store.stored_partials(base_secs, base.clone()).await?;
    let retimed = store
        .placed_partials(base_secs, base.clone(), Placement::Retimed, None)
        .await?;
    tracing::debug!(
        bucket_secs,
        base_secs,
        stored = stored.len(),
        retimed = retimed.len(),
        refresh_ms = refreshed.as_millis(),
        cover_ms = (covered - refreshed).as_millis(),
        read_ms = (began.elapsed() - covered).as_millis(),
        "bucket summaries read"
    );
    let mut builder = SummaryBuilder::new(bucket_secs, from, to);
    for ((probe_id, bucket), partial) in stored.into_iter().chain(retimed) {
        builder.merge(&probe_id, bucket.div_euclid(per_bucket), partial);
    }
    let mut out = builder.finish();
    let at = |bucket: Bucket| DateTime::from_timestamp_millis(bucket * bucket_ms).unwrap_or(from);
    for (edge_from, edge_to) in [(from, at(whole.start)), (at(whole.end), to)] {
        if edge_from < edge_to {
            for (probe_id, buckets) in store.bucket_summaries(edge_from, edge_to, bucket_secs).await? {
                out.entry(probe_id).or_default().extend(buckets);
            }
        }
    }
    Ok(out)
}

/// Applies the changes logged since the state's cursor: every changed, covered probe-bucket is recomputed from
/// its raw rows, unless the last refresh is at most `max_staleness_us` old. Returns the state after the refresh
/// (saved).
pub async fn refresh(store: &dyn Store, bucket_secs: i64, max_staleness_us: i64) -> Result<AggregateState, StoreError> {
    let now = now_us();
    let mut state = match store.aggregate_state(bucket_secs).await? {
        Some(state) if now - state.refreshed_us < STALE_AFTER_US => state,
        stale => {
            if stale.is_some() {
                tracing::info!(
                    bucket_secs,
                    "bucket summaries not refreshed for two days: starting over"
                );
            }
            AggregateState {
                bucket_secs,
                cursor: store.change_head().await?,
                covered_from: Bucket::MAX,
                refreshed_us: now,
            }
        }
    };
    if state.covered_from != Bucket::MAX && (0..=max_staleness_us).contains(&(now - state.refreshed_us)) {
        // Refreshed recently enough for this reader: what changed since is applied by the next refresh.
        return Ok(state);
    }
    let changes = store.changes_since(state.cursor).await?;
    if state.covered_from != Bucket::MAX {
        let groups = recompute_groups(&changes.probe_minutes, bucket_secs, state.covered_from);
        tracing::debug!(
            bucket_secs,
            changes = changes.probe_minutes.len(),
            groups = groups.len(),
            "refreshing bucket summaries"
        );
        for (buckets, probes) in groups {
            let partials = store
                .placed_partials(bucket_secs, buckets, Placement::Synced, Some(&probes))
                .await?;
            store.save_partials(bucket_secs, now, &partials).await?;
        }
    }
    state.cursor = changes.next.max(state.cursor);
    state.refreshed_us = now;
    store.save_aggregate_state(state).await?;
    Ok(state)
}

/// Extends the coverage back to `wanted.start`: every bucket from there up to the old coverage (or, with none
/// yet, every later bucket) is computed from raw rows.
async fn cover(store: &dyn Store, state: &mut AggregateState, wanted: Range<Bucket>) -> Result<(), StoreError> {
    let version = now_us();
    let slice = (COVER_SLICE_SECS / state.bucket_secs).max(1);
    let until = if state.covered_from == Bucket::MAX {
        wanted.end
    } else {
        state.covered_from
    };
    let mut start = wanted.start;
    while start < until {
        let end = (start + slice).min(until);
        let partials = store
            .placed_partials(state.bucket_secs, start..end, Placement::Synced, None)
            .await?;
        store.save_partials(state.bucket_secs, version, &partials).await?;
        start = end;
    }
    if state.covered_from == Bucket::MAX {
        // Nothing covered yet: the buckets after the window (a clock ahead, the bucket in progress) too.
        let partials = store
            .placed_partials(state.bucket_secs, wanted.end..Bucket::MAX, Placement::Synced, None)
            .await?;
        store.save_partials(state.bucket_secs, version, &partials).await?;
    }
    state.covered_from = wanted.start;
    store.save_aggregate_state(*state).await
}

/// The changed probe-buckets at or after `covered_from`, grouped into bucket ranges of at most
/// [`RECOMPUTE_SPAN`] buckets with the probes changed in them (a probe changed in one bucket of a range is
/// recomputed over the whole range: harmless, and far fewer queries).
fn recompute_groups(
    probe_minutes: &[(String, i64)],
    bucket_secs: i64,
    covered_from: Bucket,
) -> Vec<(Range<Bucket>, Vec<String>)> {
    let mut by_bucket: BTreeMap<Bucket, BTreeSet<&str>> = BTreeMap::new();
    for (probe_id, minute) in probe_minutes {
        let first = (minute * 60).div_euclid(bucket_secs);
        let last = (minute * 60 + 59).div_euclid(bucket_secs);
        for bucket in first.max(covered_from)..=last {
            by_bucket.entry(bucket).or_default().insert(probe_id);
        }
    }
    let mut groups: Vec<(Range<Bucket>, BTreeSet<&str>)> = Vec::new();
    for (bucket, probes) in by_bucket {
        match groups.last_mut() {
            Some((range, members)) if bucket - range.start < RECOMPUTE_SPAN => {
                range.end = bucket + 1;
                members.extend(probes);
            }
            _ => groups.push((bucket..bucket + 1, probes)),
        }
    }
    let mut out = Vec::new();
    for (range, members) in groups {
        let members: Vec<String> = members.into_iter().map(str::to_owned).collect();
        for chunk in members.chunks(RECOMPUTE_PROBES) {
            out.push((range.clone(), chunk.to_vec()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_minutes_map_to_every_bucket_they_touch_and_group_by_span() {
        let minutes = vec![
            ("a".to_owned(), 10),  // 600 s: bucket 2 of 300 s
            ("b".to_owned(), 14),  // 840..900 s: bucket 2
            ("a".to_owned(), 100), // 6000 s: bucket 20
            ("c".to_owned(), 1),   // 60 s: bucket 0, before coverage
        ];
        let groups = recompute_groups(&minutes, 300, 1);
        assert_eq!(
            groups,
            vec![(2..21, vec!["a".to_owned(), "b".to_owned()])],
            "one range up to bucket 20 (within the span), bucket 0 left out"
        );
        let far = vec![("a".to_owned(), 10), ("b".to_owned(), 10 + 5 * 30)];
        assert_eq!(
            recompute_groups(&far, 300, 0),
            vec![(2..3, vec!["a".to_owned()]), (32..33, vec!["b".to_owned()])]
        );
        // A minute straddling two 90-second buckets touches both.
        assert_eq!(
            recompute_groups(&[("a".to_owned(), 1)], 90, 0),
            vec![(0..2, vec!["a".to_owned()])]
        );
    }
}
