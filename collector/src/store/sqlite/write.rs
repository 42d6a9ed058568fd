//! The write path: several batches in one transaction (group commit), deduplicated on measurement id, with
//! unsynced measurements re-timed against their boot's clock anchor.

use std::collections::BTreeMap;

use rusqlite::{CachedStatement, OptionalExtension, Transaction, params};
use vigil_measurement::{Measurement, MeasurementResult};

use super::time::to_ms;
use crate::store::{IngestBatch, StoreError, TimeSource, WriteOutcome};

/// Writes every batch inside `tx`; the caller commits.
pub(super) fn write_batches(tx: &Transaction<'_>, batches: &[IngestBatch]) -> Result<Vec<WriteOutcome>, StoreError> {
    // The group's clock anchors first, one per probe boot: the earliest synced reading of each boot in the group.
    // A boot's anchor is the minimum over every synced reading ever sent, so recording a copy's reading again
    // changes nothing, and recording them before the rows lets an unsynced reading of the same group be re-timed
    // at once — what recording each reading as its row is written did, with one statement per boot instead of
    // one per measurement.
    for ((probe_id, boot_id), (mono_ms, wall_ms)) in earliest_synced_readings(batches) {
        record_anchor(tx, probe_id, boot_id, mono_ms, wall_ms)?;
    }
    let mut rows = RowStatements::prepare(tx)?;
    let mut outcomes = Vec::with_capacity(batches.len());
    for batch in batches {
        let mut outcome = WriteOutcome {
            accepted: 0,
            duplicates: 0,
        };
        for (m, line) in batch.with_lines() {
            if insert_measurement(&mut rows, batch, m, line)? {
                outcome.accepted += 1;
            } else {
                outcome.duplicates += 1;
            }
        }
        if let Some(signed) = &batch.signed {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO signed_batches (digest, probe_id, received_at_ms, measurements, encoding,
                    public_key, signature, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                signed.digest.as_slice(),
                batch.probe.probe_id,
                to_ms(batch.received_at),
                batch.measurements().len() as i64,
                signed.encoding,
                signed.public_key.0.as_slice(),
                signed.signature.as_slice(),
                signed.body.as_ref(),
            ])?;
        }
        tx.prepare_cached("UPDATE probes SET last_seen_ms = MAX(COALESCE(last_seen_ms, 0), ?1) WHERE probe_id = ?2")?
            .execute(params![to_ms(batch.received_at), batch.probe.probe_id])?;
        if batch.arrival.is_known() {
            tx.prepare_cached(
                "INSERT INTO probe_arrivals
                    (probe_id, carrier, asn, access, first_seen_ms, last_seen_ms, network_country)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
                 ON CONFLICT (probe_id, carrier, asn) DO UPDATE SET
                    access = COALESCE(excluded.access, access),
                    network_country = COALESCE(excluded.network_country, network_country),
                    first_seen_ms = MIN(first_seen_ms, excluded.first_seen_ms),
                    last_seen_ms = MAX(last_seen_ms, excluded.last_seen_ms)",
            )?
            .execute(params![
                batch.probe.probe_id,
                batch.arrival.carrier.as_deref().unwrap_or(""),
                batch.arrival.asn.unwrap_or(0),
                batch.carrier_access(),
                to_ms(batch.received_at),
                batch.arrival.network_country,
            ])?;
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// The statements run for every measurement, prepared once per group rather than looked up per row.
struct RowStatements<'tx> {
    /// The measurement row.
    insert: CachedStatement<'tx>,
    /// The vitals' hot fields.
    vitals: CachedStatement<'tx>,
    /// The offset of a boot's clock anchor.
    anchor_offset: CachedStatement<'tx>,
    /// The transaction, for the rowid of each insert.
    tx: &'tx Transaction<'tx>,
}

impl<'tx> RowStatements<'tx> {
    fn prepare(tx: &'tx Transaction<'tx>) -> Result<Self, StoreError> {
        Ok(RowStatements {
            insert: tx.prepare_cached(
                "INSERT OR IGNORE INTO measurements (id, probe_id, kind, outcome, started_at_ms, time_source,
                    reported_started_at_ms, received_at_ms, duration_ms, target_name, target_scope, target_list,
                    country, asn, region, access, boot_id, mono_ms, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
            )?,
            vitals: tx.prepare_cached(
                "INSERT INTO vitals (seq, boot_id, uptime_s, ac_online, on_battery, battery_pct, gateway_reachable,
                    link_up, last_gasp, spool_depth) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?,
            anchor_offset: tx
                .prepare_cached("SELECT wall_ms - mono_ms FROM clock_anchors WHERE probe_id = ?1 AND boot_id = ?2")?,
            tx,
        })
    }
}

/// Inserts one measurement with `line` as its body; false when its id was already stored.
fn insert_measurement(
    rows: &mut RowStatements<'_>,
    batch: &IngestBatch,
    m: &Measurement,
    line: &str,
) -> Result<bool, StoreError> {
    let probe = &batch.probe;
    let (boot_id, mono_ms) = match &m.clock {
        Some(clock) => (Some(clock.boot_id.as_str()), Some(clock.mono_ms as i64)),
        None => (None, None),
    };
    let (started_at_ms, time_source) = effective_time(&mut rows.anchor_offset, &probe.probe_id, m)?;
    let inserted = rows.insert.execute(params![
        m.id.as_bytes().as_slice(),
        probe.probe_id,
        m.kind().as_str(),
        m.result.outcome().as_str(),
        started_at_ms,
        time_source_str(time_source),
        to_ms(m.started_at),
        to_ms(batch.received_at),
        m.duration_ms,
        m.target.name,
        m.target.scope.as_str(),
        m.target.list,
        probe.profile.country,
        probe.profile.asn,
        probe.profile.region,
        probe.profile.access.as_str(),
        boot_id,
        mono_ms,
        line,
    ])?;
    if inserted == 0 {
        return Ok(false);
    }
    if let MeasurementResult::Vitals(v) = &m.result {
        rows.vitals.execute(params![
            rows.tx.last_insert_rowid(),
            v.boot_id,
            v.uptime_s,
            v.power.ac_online,
            v.power.on_battery,
            v.power.battery_pct,
            v.gateway_reachable,
            v.link_up,
            v.last_gasp,
            i64::try_from(v.spool_depth).unwrap_or(i64::MAX),
        ])?;
    }
    Ok(true)
}

/// Per probe boot, the synced reading with the lowest monotonic time among `batches`: (mono_ms, wall_ms).
fn earliest_synced_readings(batches: &[IngestBatch]) -> BTreeMap<(&str, &str), (i64, i64)> {
    let mut earliest: BTreeMap<(&str, &str), (i64, i64)> = BTreeMap::new();
    for batch in batches {
        for m in batch.measurements() {
            let Some(clock) = m.clock.as_ref().filter(|c| c.synced) else {
                continue;
            };
            let reading = (clock.mono_ms as i64, to_ms(m.started_at));
            earliest
                .entry((batch.probe.probe_id.as_str(), clock.boot_id.as_str()))
                .and_modify(|kept| *kept = (*kept).min(reading))
                .or_insert(reading);
        }
    }
    earliest
}

/// The effective start time: the probe's own when its clock was synced, else re-timed from the boot's anchor
/// (`anchor_offset`), else none yet (pending).
fn effective_time(
    anchor_offset: &mut CachedStatement<'_>,
    probe_id: &str,
    m: &Measurement,
) -> Result<(Option<i64>, TimeSource), StoreError> {
    let Some(clock) = m.clock.as_ref().filter(|c| !c.synced) else {
        return Ok((Some(to_ms(m.started_at)), TimeSource::Probe));
    };
    let offset: Option<i64> = anchor_offset
        .query_row(params![probe_id, clock.boot_id], |row| row.get(0))
        .optional()?;
    Ok(match offset {
        Some(offset) => (Some(clock.mono_ms as i64 + offset), TimeSource::Retimed),
        None => (None, TimeSource::Pending),
    })
}

/// Keeps the boot's earliest synced reading as its anchor; when the anchor is new or earlier, places every
/// measurement of that boot still waiting for one.
fn record_anchor(
    tx: &Transaction<'_>,
    probe_id: &str,
    boot_id: &str,
    mono_ms: i64,
    wall_ms: i64,
) -> Result<(), StoreError> {
    let changed = tx
        .prepare_cached(
            "INSERT INTO clock_anchors (probe_id, boot_id, mono_ms, wall_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (probe_id, boot_id) DO UPDATE SET mono_ms = excluded.mono_ms, wall_ms = excluded.wall_ms
             WHERE excluded.mono_ms < clock_anchors.mono_ms",
        )?
        .execute(params![probe_id, boot_id, mono_ms, wall_ms])?;
    if changed > 0 {
        tx.prepare_cached(
            "UPDATE measurements SET started_at_ms = mono_ms + ?3, time_source = 'retimed'
             WHERE probe_id = ?1 AND boot_id = ?2 AND time_source = 'pending'",
        )?
        .execute(params![probe_id, boot_id, wall_ms - mono_ms])?;
    }
    Ok(())
}

pub(super) fn time_source_str(source: TimeSource) -> &'static str {
    match source {
        TimeSource::Probe => "probe",
        TimeSource::Retimed => "retimed",
        TimeSource::Pending => "pending",
    }
}
