//! ClickHouse: measurements — the prepared write (ids already stored, looked up through the sorting key), the
//! insert with its change log, and reads re-timed against each boot's earliest synced reading.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use vigil_measurement::signature::PublicKey;
use vigil_measurement::{Measurement, MeasurementResult, Outcome};

use super::rows::{AnchorRow, ArrivalRow, MeasurementRow, ReadRow, SeenRow, SignedBatchRow};
use super::{
    ArrivalKey, BindValue, ClickHouseStore, IngestBatch, PreparedWrite, SentMeasurement, SignedBatchQuery,
    SignedBatchRecord, StoredMeasurement, WriteOutcome, bind_all, day_of, hex_array, now_ms, raw_clauses, where_clause,
    with_retry,
};

use crate::model::{ANCHOR_LIST, AnchorMetric, BlockingMethod, anchor_metric, blocking_method, fingerprint, path_end};
use crate::store::{MeasurementQuery, MeasurementStore, SignedBody, StoreError, TimeSource};

#[async_trait]
impl MeasurementStore for ClickHouseStore {
    async fn signed_batches(&self, query: SignedBatchQuery) -> Result<Vec<SignedBatchRecord>, StoreError> {
        let mut clauses = vec!["1".to_owned()];
        if query.probe_id.is_some() {
            clauses.push("probe_id = ?".into());
        }
        if query.from.is_some() {
            clauses.push("received_ms >= ?".into());
        }
        if query.to.is_some() {
            clauses.push("received_ms < ?".into());
        }
        let sql = format!(
            "SELECT ?fields FROM signed_batches FINAL WHERE {} ORDER BY received_ms, digest",
            clauses.join(" AND ")
        );
        let rows: Vec<SignedBatchRow> = with_retry("read signed batches", || {
            let mut q = self.client.query(&sql);
            if let Some(p) = &query.probe_id {
                q = q.bind(p.as_str());
            }
            if let Some(from) = query.from {
                q = q.bind(from.timestamp_millis());
            }
            if let Some(to) = query.to {
                q = q.bind(to.timestamp_millis());
            }
            q.fetch_all::<SignedBatchRow>()
        })
        .await?;
        rows.into_iter().map(signed_batch_record).collect()
    }

    async fn write_batches(&self, batches: Vec<IngestBatch>) -> Result<Vec<WriteOutcome>, StoreError> {
        let prepared = self.prepare_write(&batches).await?;
        self.write_prepared(batches, prepared).await
    }

    fn prepares_writes(&self) -> bool {
        true
    }

    async fn prepare_write(&self, batches: &[IngestBatch]) -> Result<PreparedWrite, StoreError> {
        let sent: Vec<SentMeasurement<'_>> = batches
            .iter()
            .enumerate()
            .flat_map(|(batch, b)| {
                b.measurements().iter().map(move |m| SentMeasurement {
                    batch,
                    probe: &b.probe,
                    id: m.id.to_string(),
                    reported_ms: m.started_at.timestamp_millis(),
                })
            })
            .collect();
        // Every probe-minute of the call's synced measurements, new or not, is logged before any row is
        // written: logged changes without rows only cost a recomputation, rows without a logged change would be
        // missing from the materialised summaries. Logging the duplicates too lets the log run beside the id
        // lookup, and a retry of a write that failed half-way logs its changes again.
        let changed: BTreeSet<(String, i64)> = batches
            .iter()
            .flat_map(|b| {
                b.measurements()
                    .iter()
                    .filter(|m| m.clock.as_ref().is_none_or(|c| c.synced))
                    .map(|m| {
                        (
                            b.probe.probe_id.clone(),
                            m.started_at.timestamp_millis().div_euclid(60_000),
                        )
                    })
            })
            .collect();
        let (stored, ()) = futures_util::future::try_join(self.stored_ids(&sent), self.log_changes(changed)).await?;
        Ok(PreparedWrite { stored })
    }

    async fn write_prepared(
        &self,
        batches: Vec<IngestBatch>,
        prepared: PreparedWrite,
    ) -> Result<Vec<WriteOutcome>, StoreError> {
        let mut stored = prepared.stored;
        let mut outcomes = Vec::with_capacity(batches.len());
        let mut measurements = Vec::new();
        let mut anchors: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
        {
            // The lookup may have run while the write before this one committed: what that write stored counts
            // as stored too.
            let last_written = self
                .last_written
                .lock()
                .map_err(|_| StoreError::Worker("last-written ids poisoned".into()))?;
            for batch in &batches {
                let mut outcome = WriteOutcome {
                    accepted: 0,
                    duplicates: 0,
                };
                for (m, line) in batch.with_lines() {
                    let id = m.id.to_string();
                    let key = (batch.probe.probe_id.clone(), id.clone());
                    if last_written.contains(&key) || !stored.insert(key) {
                        outcome.duplicates += 1;
                        continue;
                    }
                    outcome.accepted += 1;
                    let row = measurement_row(batch, m, line, id, self.stamp());
                    if let Some(clock) = m.clock.as_ref().filter(|c| c.synced) {
                        let key = (batch.probe.probe_id.clone(), clock.boot_id.clone());
                        let mono = i64::try_from(clock.mono_ms).unwrap_or(i64::MAX);
                        let wall = m.started_at.timestamp_millis();
                        anchors
                            .entry(key)
                            .and_modify(|a| {
                                if mono < a.0 {
                                    *a = (mono, wall);
                                }
                            })
                            .or_insert((mono, wall));
                    }
                    measurements.push(row);
                }
                outcomes.push(outcome);
            }
        }
        // Only anchors earlier than the one already written for their boot.
        let new_anchors: Vec<AnchorRow> = {
            let known = self
                .anchors
                .lock()
                .map_err(|_| StoreError::Worker("anchor cache poisoned".into()))?;
            anchors
                .into_iter()
                .filter(|(key, (mono, _))| known.get(key).is_none_or(|k| mono < k))
                .map(|((probe_id, boot_id), (mono_ms, wall_ms))| AnchorRow {
                    probe_id,
                    boot_id,
                    mono_ms,
                    wall_ms,
                    version: u64::MAX - u64::try_from(mono_ms.max(0)).unwrap_or(0),
                })
                .collect()
        };
        let signed: Vec<SignedBatchRow> = batches
            .iter()
            .filter_map(|b| {
                b.signed.as_ref().map(|s| SignedBatchRow {
                    probe_id: b.probe.probe_id.clone(),
                    digest: hex::encode(s.digest),
                    received_ms: b.received_at.timestamp_millis(),
                    measurements: u32::try_from(b.measurements().len()).unwrap_or(u32::MAX),
                    encoding: s.encoding.clone(),
                    public_key: hex::encode(s.public_key.0),
                    signature: hex::encode(s.signature),
                    body: hex::encode(&s.body),
                    first: u64::MAX - u64::try_from(b.received_at.timestamp_millis().max(0)).unwrap_or(0),
                })
            })
            .collect();
        // The tables are written side by side: the call succeeds only once every insert has.
        futures_util::future::try_join3(
            self.insert("measurements", &measurements),
            self.insert("clock_anchors", &new_anchors),
            self.insert("signed_batches", &signed),
        )
        .await?;
        if let Ok(mut last) = self.last_written.lock() {
            *last = measurements
                .iter()
                .map(|m| (m.probe_id.clone(), m.id.clone()))
                .collect();
        }
        if let Ok(mut known) = self.anchors.lock() {
            for a in &new_anchors {
                known.insert((a.probe_id.clone(), a.boot_id.clone()), a.mono_ms);
            }
        }
        let now = now_ms();
        let due: Vec<SeenRow> = match self.seen.lock() {
            Ok(mut seen) => {
                let probes: BTreeSet<&str> = batches.iter().map(|b| b.probe.probe_id.as_str()).collect();
                let due: Vec<String> = probes
                    .into_iter()
                    .filter(|p| seen.get(*p).is_none_or(|t| now - t >= SEEN_EVERY_MS))
                    .map(str::to_owned)
                    .collect();
                due.into_iter()
                    .map(|probe_id| {
                        seen.insert(probe_id.clone(), now);
                        SeenRow { probe_id, seen_ms: now }
                    })
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        if let Err(err) = self.insert("probe_seen", &due).await {
            // The measurements are stored; a missed last-seen stamp is not worth failing the batch for.
            tracing::warn!(error = %err, "could not record when probes were last seen");
        }
        let arrivals = self.arrivals_due(&batches);
        if let Err(err) = self.insert("probe_arrivals", &arrivals).await {
            // As with the last-seen stamp: the rows are stored; the next write's stamp says the same.
            tracing::warn!(error = %err, "could not record how probes' uploads arrived");
        }
        Ok(outcomes)
    }

    async fn measurements(&self, query: MeasurementQuery) -> Result<Vec<StoredMeasurement>, StoreError> {
        let limit = query.limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        // A page of a long read (an export, by cursor): find where the page ends from the seq column alone, so
        // the full read (bodies, the anchor join, the sort) touches that page's rows, not all after the cursor.
        let upper = match (query.limit, query.from, query.to) {
            (Some(n), None, None) if n > 0 => {
                let (clauses, binds) = raw_clauses(&query);
                let sql = format!(
                    "SELECT seq FROM measurements{} ORDER BY seq LIMIT 1 OFFSET {}",
                    where_clause(&clauses),
                    n - 1
                );
                with_retry("page bound", || {
                    bind_all(self.client.query(&sql), &binds).fetch_optional::<i64>()
                })
                .await?
            }
            _ => None,
        };
        let (sql, binds) = measurement_sql(
            &query,
            "seq, probe_id, effective_ms, source, received_ms, outcome, body",
            &format!(" ORDER BY seq LIMIT 1 BY id{limit}"),
            upper,
        );
        let rows: Vec<ReadRow> = with_retry("read measurements", || {
            bind_all(self.client.query(&sql), &binds).fetch_all::<ReadRow>()
        })
        .await?;
        rows.into_iter().map(stored_measurement).collect()
    }

    async fn count_measurements(&self, query: MeasurementQuery) -> Result<u64, StoreError> {
        let (sql, binds) = measurement_sql(&query, "uniqExact(id)", "", None);
        with_retry("count measurements", || {
            bind_all(self.client.query(&sql), &binds).fetch_one::<u64>()
        })
        .await
    }
}

/// How often a probe's last-seen time is written (it is read for the public probe list only).
const SEEN_EVERY_MS: i64 = 60_000;

impl ClickHouseStore {
    /// The `probe_arrivals` rows `batches` make due: a key this run has not written, or one whose last written
    /// receipt is at least [`SEEN_EVERY_MS`] older (a row per run and key, stamped with the run's first sight of
    /// it).
    fn arrivals_due(&self, batches: &[IngestBatch]) -> Vec<ArrivalRow> {
        let Ok(mut written) = self.arrivals.lock() else {
            return Vec::new();
        };
        let mut due: BTreeMap<ArrivalKey, ArrivalRow> = BTreeMap::new();
        for batch in batches.iter().filter(|b| b.arrival.is_known()) {
            let key = (
                batch.probe.probe_id.clone(),
                batch.arrival.carrier.clone().unwrap_or_default(),
                batch.arrival.asn.unwrap_or(0),
            );
            let seen = batch.received_at.timestamp_millis();
            let (first, last_written) = written.get(&key).copied().unwrap_or((seen, i64::MIN));
            let access = batch.carrier_access().unwrap_or_default().to_owned();
            if let Some(row) = due.get_mut(&key) {
                row.first_seen_ms = row.first_seen_ms.min(seen);
                row.seen_ms = row.seen_ms.max(seen);
                if row.access.is_empty() {
                    row.access = access;
                }
                if row.network_country.is_empty() {
                    row.network_country = batch.arrival.network_country.clone().unwrap_or_default();
                }
                continue;
            }
            if seen.saturating_sub(last_written) < SEEN_EVERY_MS {
                continue;
            }
            due.insert(
                key.clone(),
                ArrivalRow {
                    probe_id: key.0,
                    carrier: key.1,
                    asn: key.2,
                    access,
                    first_seen_ms: first.min(seen),
                    seen_ms: seen,
                    network_country: batch.arrival.network_country.clone().unwrap_or_default(),
                },
            );
        }
        for row in due.values() {
            let key = (row.probe_id.clone(), row.carrier.clone(), row.asn);
            let first = written
                .get(&key)
                .map_or(row.first_seen_ms, |w| w.0.min(row.first_seen_ms));
            written.insert(key, (first, row.seen_ms));
        }
        due.into_values().collect()
    }
}

/// The SQL of a measurement query: the inner select resolves each row's effective time against the boot's
/// anchor; the outer one filters on it. Returns the SQL and the values to bind, in order.
fn measurement_sql(
    query: &MeasurementQuery,
    select: &str,
    tail: &str,
    seq_at_most: Option<i64>,
) -> (String, Vec<BindValue>) {
    let (mut inner, binds) = raw_clauses(query);
    inner.extend(seq_at_most.map(|s| format!("seq <= {s}")));
    let mut outer = Vec::new();
    // Synced rows can be pre-filtered through the sorting key; unsynced ones only once re-timed.
    let (from, to) = (
        query.from.map(|t| t.timestamp_millis()),
        query.to.map(|t| t.timestamp_millis()),
    );
    if from.is_some() || to.is_some() {
        let mut synced = vec!["clock_synced = 1".to_owned()];
        if let Some(f) = from {
            synced.push(format!("reported_ms >= {f}"));
        }
        if let Some(t) = to {
            synced.push(format!("reported_ms < {t}"));
        }
        inner.push(format!("(clock_synced = 0 OR ({}))", synced.join(" AND ")));
        outer.push("source != 'pending'".to_owned());
        if let Some(f) = from {
            outer.push(format!("effective_ms >= {f}"));
        }
        if let Some(t) = to {
            outer.push(format!("effective_ms < {t}"));
        }
    }
    let (where_inner, where_outer) = (where_clause(&inner), where_clause(&outer));
    let sql = format!(
        "SELECT {select} FROM (
            SELECT id, seq, probe_id, received_ms, outcome, body,
                if(clock_synced = 1, reported_ms, if(anchored = 1, mono_ms + offset, toInt64(0))) AS effective_ms,
                if(clock_synced = 1, 'probe', if(anchored = 1, 'retimed', 'pending')) AS source
            FROM measurements GLOBAL ANY LEFT JOIN (
                SELECT probe_id, boot_id, argMin(wall_ms - mono_ms, mono_ms) AS offset, toUInt8(1) AS anchored
                FROM clock_anchors GROUP BY probe_id, boot_id
            ) AS boot_anchor USING (probe_id, boot_id){where_inner}
         ){where_outer}{tail}"
    );
    (sql, binds)
}

fn measurement_row(batch: &IngestBatch, m: &Measurement, line: &str, id: String, seq: i64) -> MeasurementRow {
    let probe = &batch.probe;
    let reported_ms = m.started_at.timestamp_millis();
    let metric = anchor_metric(&m.result);
    let vitals = match &m.result {
        MeasurementResult::Vitals(v) => Some(v),
        _ => None,
    };
    let (synced, boot_id, mono_ms) = match &m.clock {
        Some(c) => (
            c.synced,
            c.boot_id.clone(),
            i64::try_from(c.mono_ms).unwrap_or(i64::MAX),
        ),
        None => (true, String::new(), 0),
    };
    MeasurementRow {
        day: day_of(reported_ms),
        id,
        seq,
        probe_id: probe.probe_id.clone(),
        kind: m.kind().as_str(),
        outcome: m.result.outcome().as_str(),
        reported_ms,
        clock_synced: u8::from(synced),
        boot_id,
        mono_ms,
        received_ms: batch.received_at.timestamp_millis(),
        duration_ms: m.duration_ms,
        target_name: m.target.name.clone(),
        target_scope: m.target.scope.as_str(),
        target_list: m.target.list.clone(),
        country: probe.profile.country.clone(),
        asn: probe.profile.asn,
        region: probe.profile.region.clone(),
        access: probe.profile.access.as_str(),
        body: line.to_owned(),
        metric: metric.map(|(_, v)| v),
        metric_kind: match metric {
            Some((AnchorMetric::Throughput, _)) => "throughput",
            Some((AnchorMetric::Rtt, _)) => "rtt",
            None => "",
        },
        // An anchor is a control, never a blocked target: its failures are outages, not methods (a shutdown's
        // timeouts would read as `ip_block`).
        blocking: blocking_method(&m.result)
            .filter(|_| m.target.list.as_deref() != Some(ANCHOR_LIST))
            .map_or("", BlockingMethod::as_str),
        fingerprint: fingerprint(&m.result).unwrap_or_default().to_owned(),
        v_boot: vitals.map(|v| v.boot_id.clone()).unwrap_or_default(),
        v_on_battery: vitals.is_some_and(|v| v.power.on_battery == Some(true)).into(),
        v_gateway: vitals.is_some_and(|v| v.gateway_reachable).into(),
        v_link: vitals.is_some_and(|v| v.link_up).into(),
        v_last_gasp: vitals.is_some_and(|v| v.last_gasp).into(),
        v_uptime_s: vitals.map_or(0.0, |v| v.uptime_s),
        path_end: path_end(&m.result).unwrap_or_default(),
        uplink_access: m.uplink.as_ref().map_or("", |u| u.access.as_str()),
    }
}

fn stored_measurement(r: ReadRow) -> Result<StoredMeasurement, StoreError> {
    let time_source = match r.source.as_str() {
        "probe" => TimeSource::Probe,
        "retimed" => TimeSource::Retimed,
        _ => TimeSource::Pending,
    };
    Ok(StoredMeasurement {
        seq: r.seq,
        probe_id: r.probe_id,
        started_at: (time_source != TimeSource::Pending)
            .then(|| chrono::DateTime::from_timestamp_millis(r.effective_ms))
            .flatten(),
        time_source,
        received_at: chrono::DateTime::from_timestamp_millis(r.received_ms).ok_or_else(|| StoreError::Corrupt {
            context: "measurements.received_ms",
            detail: r.received_ms.to_string(),
        })?,
        outcome: serde_json::from_value::<Outcome>(serde_json::Value::String(r.outcome)).map_err(|e| {
            StoreError::Corrupt {
                context: "measurements.outcome",
                detail: e.to_string(),
            }
        })?,
        measurement: Measurement::from_json_slice(r.body.as_bytes()).map_err(|e| StoreError::Corrupt {
            context: "measurements.body",
            detail: e.to_string(),
        })?,
    })
}

fn signed_batch_record(r: SignedBatchRow) -> Result<SignedBatchRecord, StoreError> {
    Ok(SignedBatchRecord {
        received_at: chrono::DateTime::from_timestamp_millis(r.received_ms).ok_or_else(|| StoreError::Corrupt {
            context: "signed_batches.received_ms",
            detail: r.received_ms.to_string(),
        })?,
        probe_id: r.probe_id,
        measurements: r.measurements,
        signed: SignedBody {
            digest: hex_array(&r.digest, "signed_batches.digest")?,
            signature: hex_array(&r.signature, "signed_batches.signature")?,
            public_key: PublicKey(hex_array(&r.public_key, "signed_batches.public_key")?),
            encoding: r.encoding,
            body: hex::decode(&r.body)
                .map_err(|e| StoreError::Corrupt {
                    context: "signed_batches.body",
                    detail: e.to_string(),
                })?
                .into(),
        },
    })
}
