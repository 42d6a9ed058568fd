//! ClickHouse's side of the materialised bucket summaries: a change log written at ingest (`summary_changes`),
//! summaries computed by the server from the hot columns, and `bucket_summaries` read by the latest version.
//!
//! Change positions are microsecond stamps taken by each collector before it inserts a batch's rows, so a
//! position can become visible after a later one from another collector. A refresh's cursor is the time its read
//! started, and the next refresh re-reads [`CHANGE_OVERLAP_US`] before it (recomputing a probe-bucket twice is
//! harmless).

use std::collections::BTreeSet;
use std::ops::Range;

use async_trait::async_trait;

use super::rows::{AggregateStateRow, BucketSummaryRow, ChangeRow, SummaryRow};
use super::{ClickHouseStore, quoted_list, with_retry};

use crate::model::{BlockingMethod, Bucket, BucketSummary, Partial, Partials, Summaries, Tally, VitalsSummary};
use crate::store::aggregates::CHANGE_LOG_KEEP_US;
use crate::store::{AggregateState, Changes, Placement, StoreError, SummaryStore};

/// How far (µs) before its cursor a refresh re-reads the change log. A change is stamped just before its row is
/// inserted, and the measurements follow; each insert gives up after three attempts of at most 15 s, so a
/// change's measurements are visible (or refused) within about 95 s of its stamp. Re-reading three minutes covers
/// that plus clock skew between collectors.
pub const CHANGE_OVERLAP_US: i64 = 3 * 60 * 1_000_000;
/// Probe ids per aggregation query.
const PROBES_PER_QUERY: usize = 2_000;
/// Days are partitions of the change log.
const DAY_US: i64 = 86_400_000_000;

/// The aggregate columns of a summary query over rows exposing `effective_ms` and the hot columns, grouped by
/// probe and bucket. Arrays are sorted, so the answer does not depend on the order rows were read in.
fn summary_select(bucket_ms: i64) -> String {
    let intl_ok = "anchor = 1 AND target_scope = 'international' AND outcome = 'ok'";
    format!(
        "SELECT timeline AS probe_id, intDiv(effective_ms, {bucket_ms}) AS bucket,
            countIf(anchor = 1 AND target_scope = 'domestic' AND outcome = 'ok') AS dom_ok,
            countIf(anchor = 1 AND target_scope = 'domestic') AS dom_total,
            countIf({intl_ok}) AS intl_ok,
            countIf(anchor = 1 AND target_scope = 'international') AS intl_total,
            arraySort(groupArrayIf(assumeNotNull(metric), {intl_ok} AND metric_kind = 'throughput')) AS throughput,
            arraySort(groupArrayIf(assumeNotNull(metric), {intl_ok} AND metric_kind = 'rtt')) AS rtt,
            arraySort(groupArrayIf(tuple(judged_name, blocking, fingerprint), anchor = 0 AND kind != 'vitals'
                AND blocking != '')) AS blocked,
            arraySort(groupUniqArrayIf(judged_name, anchor = 0 AND kind IN ('http', 'tcp') AND outcome = 'ok'
                AND blocking != 'quic')) AS reached,
            arraySort(groupUniqArrayIf(target_name, {intl_ok})) AS intl_reached,
            arraySort(groupUniqArrayIf(target_name, anchor = 1 AND target_scope = 'international'
                AND outcome != 'ok')) AS intl_failed,
            arraySort(groupUniqArrayIf(path_end, traced_anchor = 1 AND target_scope = 'international'
                AND path_end != '')) AS path_ends,
            countIf(kind = 'vitals') AS vitals_n,
            argMaxIf(tuple(v_boot, v_on_battery, v_gateway, v_link, v_last_gasp), tuple(effective_ms, id),
                kind = 'vitals') AS vitals,
            argMaxIf(tuple(effective_ms, id), tuple(effective_ms, id), kind = 'vitals') AS vitals_at"
    )
}

/// The hot columns every summary query reads, besides the time. `timeline` is the probe's id, or for a measurement
/// taken on an uplink of another access than the probe's registered one, `PROBE/ACCESS` (`model::timeline_id`).
const HOT_COLUMNS: &str = "id, \
    if(uplink_access = '' OR uplink_access = access, probe_id, concat(probe_id, '/', uplink_access)) AS timeline, \
    kind, outcome, target_name, target_scope, metric, metric_kind, blocking, \
    fingerprint, v_boot, v_on_battery, v_gateway, v_link, v_last_gasp, path_end, \
    toUInt8(ifNull(target_list, '') = 'anchors' AND kind NOT IN ('vitals', 'trace')) AS anchor, \
    toUInt8(ifNull(target_list, '') = 'anchors' AND kind = 'trace') AS traced_anchor, \
    if(substring(ifNull(target_list, ''), 1, 4) = 'app:' AND length(ifNull(target_list, '')) > 4, \
        ifNull(target_list, ''), target_name) AS judged_name";

/// `YYYY-MM-DD` of a time in ms (for partition pruning on `day`), clamped to ClickHouse's `Date` range.
fn day_literal(ms: i64) -> String {
    chrono::DateTime::from_timestamp(i64::from(super::day_of(ms)) * 86_400, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "1970-01-01".to_owned())
}

/// The query summarising the measurements placed as `placement` in `[from_ms, to_ms)` (`None`: open), of
/// `probes` or of all, one row per probe and bucket, each measurement counted once.
pub(super) fn partials_sql(
    bucket_ms: i64,
    placement: Option<Placement>,
    from_ms: i64,
    to_ms: Option<i64>,
    probes: Option<&[String]>,
) -> String {
    let select = summary_select(bucket_ms);
    let until = to_ms.map(|t| format!(" AND effective_ms < {t}")).unwrap_or_default();
    let of_probes = probes
        .map(|p| format!(" AND probe_id IN ({})", quoted_list(p)))
        .unwrap_or_default();
    match placement {
        Some(Placement::Synced) => {
            let days = match to_ms {
                Some(t) => format!("day >= '{}' AND day <= '{}'", day_literal(from_ms), day_literal(t)),
                None => format!("day >= '{}'", day_literal(from_ms)),
            };
            format!(
                "{select} FROM (
                    SELECT {HOT_COLUMNS}, reported_ms AS effective_ms FROM measurements
                    WHERE {days} AND clock_synced = 1 AND reported_ms >= {from_ms}
                        {reported_until}{of_probes}
                    LIMIT 1 BY id
                 ) GROUP BY timeline, bucket",
                reported_until = to_ms.map(|t| format!(" AND reported_ms < {t}")).unwrap_or_default(),
            )
        }
        placement => {
            // Every measurement (the raw path) or only re-timed ones: both need each boot's anchor.
            let rows = match placement {
                Some(_) => "clock_synced = 0".to_owned(),
                None => {
                    let reported_until = to_ms.map(|t| format!(" AND reported_ms < {t}")).unwrap_or_default();
                    format!("(clock_synced = 0 OR (reported_ms >= {from_ms}{reported_until}))")
                }
            };
            format!(
                "{select} FROM (
                    SELECT * FROM (
                        SELECT {HOT_COLUMNS},
                            if(clock_synced = 1, reported_ms, if(anchored = 1, mono_ms + offset, toInt64(0))) AS effective_ms,
                            clock_synced = 1 OR anchored = 1 AS placed
                        FROM measurements GLOBAL ANY LEFT JOIN (
                            SELECT probe_id, boot_id, argMin(wall_ms - mono_ms, mono_ms) AS offset, toUInt8(1) AS anchored
                            FROM clock_anchors GROUP BY probe_id, boot_id
                        ) AS boot_anchor USING (probe_id, boot_id)
                        WHERE {rows}{of_probes}
                    ) WHERE placed AND effective_ms >= {from_ms}{until}
                    LIMIT 1 BY id
                 ) GROUP BY timeline, bucket"
            )
        }
    }
}

/// Counts from the server as a tally (saturating: a bucket never holds 4 billion checks).
fn tally(ok: u64, total: u64) -> Tally {
    Tally {
        ok: u32::try_from(ok).unwrap_or(u32::MAX),
        total: u32::try_from(total).unwrap_or(u32::MAX),
    }
}

/// A summary row as a partial summary of its probe-bucket.
pub(super) fn partial_of(r: SummaryRow) -> Result<((String, Bucket), Partial), StoreError> {
    let mut summary = BucketSummary {
        vitals: (r.vitals_n > 0).then(|| VitalsSummary {
            boot_id: r.vitals.0.clone(),
            on_battery: r.vitals.1 != 0,
            gateway_reachable: r.vitals.2 != 0,
            link_up: r.vitals.3 != 0,
            last_gasp: r.vitals.4 != 0,
        }),
        domestic: tally(r.dom_ok, r.dom_total),
        international: tally(r.intl_ok, r.intl_total),
        international_throughput: r.throughput,
        international_rtt: r.rtt,
        ..BucketSummary::default()
    };
    for (target, method, fingerprint) in r.blocked {
        if let Some(method) = BlockingMethod::parse(&method) {
            summary.note_blocked(&target, method, Some(&fingerprint));
        }
    }
    summary.reached.extend(r.reached);
    summary.international_reached.extend(r.intl_reached);
    summary.international_failed.extend(r.intl_failed);
    summary.path_ends.extend(r.path_ends);
    crate::model::normalize(&mut summary);
    let vitals_at = if r.vitals_n > 0 {
        let id = uuid::Uuid::parse_str(&r.vitals_at.1).map_err(|e| StoreError::Corrupt {
            context: "measurements.id",
            detail: format!("{}: {e}", r.vitals_at.1),
        })?;
        Some((r.vitals_at.0, id))
    } else {
        None
    };
    Ok(((r.probe_id, r.bucket), Partial { summary, vitals_at }))
}

impl ClickHouseStore {
    /// Runs a summary query.
    pub(super) async fn partials(&self, sql: &str) -> Result<Partials, StoreError> {
        let rows: Vec<SummaryRow> =
            with_retry("bucket summaries", || self.client.query(sql).fetch_all::<SummaryRow>()).await?;
        rows.into_iter().map(partial_of).collect()
    }

    /// Logs the probe-minutes of synced measurements about to be inserted, at one stamp.
    pub(super) async fn log_changes(&self, probe_minutes: BTreeSet<(String, i64)>) -> Result<(), StoreError> {
        if probe_minutes.is_empty() {
            return Ok(());
        }
        let seq = self.stamp();
        let rows: Vec<ChangeRow> = probe_minutes
            .into_iter()
            .map(|(probe_id, minute)| ChangeRow { seq, probe_id, minute })
            .collect();
        self.insert("summary_changes", &rows).await
    }

    /// Drops change-log days older than [`CHANGE_LOG_KEEP_US`] (on one server; a cluster's local tables are
    /// pruned by `ALTER … ON CLUSTER`, see ARCHITECTURE.md).
    async fn prune_changes(&self) -> Result<(), StoreError> {
        let oldest_kept = (super::now_ms() * 1000 - CHANGE_LOG_KEEP_US).div_euclid(DAY_US);
        let sql = format!(
            "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() \
             AND table = 'summary_changes' AND active AND toInt64(partition) < {oldest_kept}"
        );
        let old: Vec<String> =
            with_retry("old change-log days", || self.client.query(&sql).fetch_all::<String>()).await?;
        for day in old {
            let drop = format!(
                "ALTER TABLE summary_changes DROP PARTITION {}",
                day.parse::<i64>().unwrap_or(i64::MAX)
            );
            with_retry("drop change-log day", || self.client.query(&drop).execute()).await?;
        }
        Ok(())
    }

    pub(super) async fn aggregate_state_of(&self, bucket_secs: i64) -> Result<Option<AggregateState>, StoreError> {
        let rows: Vec<AggregateStateRow> = with_retry("aggregate state", || {
            self.client
                .query("SELECT ?fields FROM aggregate_state FINAL WHERE bucket_secs = ?")
                .bind(bucket_secs)
                .fetch_all::<AggregateStateRow>()
        })
        .await?;
        Ok(rows.into_iter().next().map(|r| AggregateState {
            bucket_secs: r.bucket_secs,
            cursor: r.cursor,
            covered_from: r.covered_from,
            refreshed_us: r.refreshed_us,
        }))
    }

    pub(super) async fn save_aggregate_state_of(&self, state: AggregateState) -> Result<(), StoreError> {
        let row = AggregateStateRow {
            bucket_secs: state.bucket_secs,
            cursor: state.cursor,
            covered_from: state.covered_from,
            refreshed_us: state.refreshed_us,
            version: u64::try_from(self.stamp()).unwrap_or(0),
        };
        self.insert("aggregate_state", &[row]).await
    }

    pub(super) async fn change_head_of(&self) -> Result<i64, StoreError> {
        with_retry("change head", || {
            self.client
                .query("SELECT max(seq) FROM summary_changes")
                .fetch_one::<i64>()
        })
        .await
    }

    pub(super) async fn changes_since_of(&self, cursor: i64) -> Result<Changes, StoreError> {
        if let Err(err) = self.prune_changes().await {
            tracing::warn!(error = %err, "could not prune the summary change log");
        }
        // The cursor is when the previous read started: every change stamped more than the overlap before it
        // was visible then and has been applied.
        let read_at = super::now_ms() * 1000;
        let from = cursor.saturating_sub(CHANGE_OVERLAP_US);
        let rows: Vec<ChangeRow> = with_retry("read changes", || {
            self.client
                .query("SELECT max(seq) AS last_seq, probe_id, minute FROM summary_changes WHERE seq > ? GROUP BY probe_id, minute")
                .bind(from)
                .fetch_all::<ChangeRow>()
        })
        .await?;
        let next = read_at.max(cursor);
        Ok(Changes {
            probe_minutes: rows.into_iter().map(|r| (r.probe_id, r.minute)).collect(),
            next,
        })
    }

    pub(super) async fn placed_partials_of(
        &self,
        bucket_secs: i64,
        buckets: Range<Bucket>,
        placement: Placement,
        probes: Option<&[String]>,
    ) -> Result<Partials, StoreError> {
        let bucket_ms = bucket_secs.max(1) * 1000;
        let from_ms = buckets.start.saturating_mul(bucket_ms);
        let to_ms = buckets.end.checked_mul(bucket_ms);
        let mut out = Partials::new();
        match probes {
            None => out.extend(
                self.partials(&partials_sql(bucket_ms, Some(placement), from_ms, to_ms, None))
                    .await?,
            ),
            Some(list) => {
                for chunk in list.chunks(PROBES_PER_QUERY) {
                    let sql = partials_sql(bucket_ms, Some(placement), from_ms, to_ms, Some(chunk));
                    out.extend(self.partials(&sql).await?);
                }
            }
        }
        Ok(out)
    }

    pub(super) async fn save_partials_of(
        &self,
        bucket_secs: i64,
        version: i64,
        partials: &Partials,
    ) -> Result<(), StoreError> {
        if partials.is_empty() {
            return Ok(());
        }
        let registry: std::collections::HashMap<String, (String, u32)> = self
            .probe_rows("", None)
            .await?
            .into_iter()
            .map(|p| (p.probe_id, (p.country, p.asn)))
            .collect();
        let version = u64::try_from(version).unwrap_or(0);
        let mut rows = Vec::with_capacity(partials.len());
        for ((probe_id, bucket), partial) in partials {
            let s = &partial.summary;
            // A probe's other timeline (`prb-x/satellite`) is filed under the probe's country; its network is not
            // the registered one, and unknown.
            let (country, asn) = match crate::model::split_timeline(probe_id) {
                (probe, None) => registry.get(probe).cloned().unwrap_or_default(),
                (probe, Some(_)) => (registry.get(probe).map(|r| r.0.clone()).unwrap_or_default(), 0),
            };
            let (mut blocked_target, mut blocked_method, mut blocked_fingerprint) =
                (Vec::new(), Vec::new(), Vec::new());
            for (target, method) in &s.blocked {
                let names = s.fingerprints.get(target);
                // One entry per fingerprint matched, or one with none: what the summary query yields.
                let fingerprints: Vec<&str> = match names {
                    Some(set) if !set.is_empty() => set.iter().map(String::as_str).collect(),
                    _ => vec![""],
                };
                for name in fingerprints {
                    blocked_target.push(target.clone());
                    blocked_method.push(method.as_str().to_owned());
                    blocked_fingerprint.push(name.to_owned());
                }
            }
            let vitals = s.vitals.as_ref();
            rows.push(BucketSummaryRow {
                bucket_secs,
                bucket: *bucket,
                probe_id: probe_id.clone(),
                version,
                country,
                asn,
                dom_ok: s.domestic.ok,
                dom_total: s.domestic.total,
                intl_ok: s.international.ok,
                intl_total: s.international.total,
                throughput: s.international_throughput.clone(),
                rtt: s.international_rtt.clone(),
                blocked_target,
                blocked_method,
                blocked_fingerprint,
                reached_target: s.reached.iter().cloned().collect(),
                intl_reached: s.international_reached.iter().cloned().collect(),
                intl_failed: s.international_failed.iter().cloned().collect(),
                path_ends: s.path_ends.iter().cloned().collect(),
                has_vitals: u8::from(vitals.is_some()),
                v_boot: vitals.map(|v| v.boot_id.clone()).unwrap_or_default(),
                on_battery: u8::from(vitals.is_some_and(|v| v.on_battery)),
                gateway: u8::from(vitals.is_some_and(|v| v.gateway_reachable)),
                link: u8::from(vitals.is_some_and(|v| v.link_up)),
                last_gasp: u8::from(vitals.is_some_and(|v| v.last_gasp)),
                vitals_ms: partial.vitals_at.map_or(0, |(ms, _)| ms),
                vitals_id: partial.vitals_at.map(|(_, id)| id.to_string()).unwrap_or_default(),
            });
        }
        self.insert("bucket_summaries", &rows).await
    }

    pub(super) async fn stored_partials_of(
        &self,
        bucket_secs: i64,
        buckets: Range<Bucket>,
    ) -> Result<Partials, StoreError> {
        // The latest version of each probe-bucket, read in the shape of a summary query's rows.
        let sql = format!(
            "SELECT probe_id, bucket, toUInt64(dom_ok), toUInt64(dom_total), toUInt64(intl_ok), toUInt64(intl_total),
                throughput, rtt, arrayMap((t, m, f) -> tuple(t, m, f), blocked_target, blocked_method,
                    blocked_fingerprint),
                reached_target, intl_reached, intl_failed, path_ends,
                toUInt64(has_vitals), tuple(v_boot, on_battery, gateway, link, last_gasp), tuple(vitals_ms, vitals_id)
             FROM bucket_summaries FINAL
             WHERE bucket_secs = {bucket_secs} AND bucket >= {} AND bucket < {}",
            buckets.start, buckets.end
        );
        self.partials(&sql).await
    }
}

#[async_trait]
impl SummaryStore for ClickHouseStore {
    async fn bucket_summaries(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        bucket_secs: i64,
    ) -> Result<Summaries, StoreError> {
        // A long window is aggregated a slice of whole buckets at a time, so each query stays well inside the
        // request timeout however long the window (a day at 10,000 probes is 14 M rows); slices never split a
        // bucket, so their summaries are disjoint and merge by insertion.
        let bucket_ms = bucket_secs.max(1) * 1000;
        let slice_ms = (SUMMARY_SLICE_MS / bucket_ms).max(1) * bucket_ms;
        let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
        let mut out = Summaries::new();
        let mut start = from_ms;
        while start < to_ms {
            let end = ((start.div_euclid(bucket_ms) * bucket_ms) + slice_ms).min(to_ms);
            for (probe, buckets) in self.bucket_summaries_between(start, end, bucket_ms).await? {
                out.entry(probe).or_default().extend(buckets);
            }
            start = end;
        }
        Ok(out)
    }

    async fn aggregate_state(&self, bucket_secs: i64) -> Result<Option<crate::store::AggregateState>, StoreError> {
        self.aggregate_state_of(bucket_secs).await
    }

    async fn save_aggregate_state(&self, state: crate::store::AggregateState) -> Result<(), StoreError> {
        self.save_aggregate_state_of(state).await
    }

    async fn change_head(&self) -> Result<i64, StoreError> {
        self.change_head_of().await
    }

    async fn changes_since(&self, cursor: i64) -> Result<crate::store::Changes, StoreError> {
        self.changes_since_of(cursor).await
    }

    async fn placed_partials(
        &self,
        bucket_secs: i64,
        buckets: std::ops::Range<crate::model::Bucket>,
        placement: crate::store::Placement,
        probes: Option<&[String]>,
    ) -> Result<crate::model::Partials, StoreError> {
        self.placed_partials_of(bucket_secs, buckets, placement, probes).await
    }

    async fn save_partials(
        &self,
        bucket_secs: i64,
        version: i64,
        partials: &crate::model::Partials,
    ) -> Result<(), StoreError> {
        self.save_partials_of(bucket_secs, version, partials).await
    }

    async fn stored_partials(
        &self,
        bucket_secs: i64,
        buckets: std::ops::Range<crate::model::Bucket>,
    ) -> Result<crate::model::Partials, StoreError> {
        self.stored_partials_of(bucket_secs, buckets).await
    }
}

/// Window of measurements aggregated by one bucket-summary query (rounded down to whole buckets).
const SUMMARY_SLICE_MS: i64 = 2 * 3600 * 1000;
