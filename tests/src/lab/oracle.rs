//! The spool oracle: what each probe measured, from its own journal (one debug line per spooled measurement),
//! against what the collector holds — every measurement there, once, in the bucket it was taken in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use vigil_collector::{MeasurementQuery, StoreSpec, StoredMeasurement, open_store};

use super::LabError;

/// One measurement a probe journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journaled {
    /// Its id.
    pub id: Uuid,
    /// When the probe took it.
    pub started_at: DateTime<Utc>,
}

/// The measurements a probe's log journaled (`vigil_probe::journal` at debug).
pub fn journal(log: &Path) -> Result<Vec<Journaled>, LabError> {
    let text = std::fs::read_to_string(log).map_err(|e| LabError::io(log, e))?;
    Ok(text
        .lines()
        .filter(|l| l.contains("vigil_probe::journal"))
        .filter_map(|line| {
            let mut id = None;
            let mut started = None;
            for token in line.split_whitespace() {
                if let Some(v) = token.strip_prefix("id=") {
                    id = Uuid::parse_str(v).ok();
                } else if let Some(v) = token.strip_prefix("started_at=") {
                    started = DateTime::parse_from_rfc3339(v).ok().map(|t| t.with_timezone(&Utc));
                }
            }
            Some(Journaled {
                id: id?,
                started_at: started?,
            })
        })
        .collect())
}

/// What the comparison found for one probe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// Measurements journaled in the period.
    pub taken: usize,
    /// Of those, not in the store.
    pub missing: Vec<Uuid>,
    /// Ids stored more than once.
    pub duplicated: Vec<Uuid>,
    /// Stored in another bucket than the one they were taken in.
    pub misplaced: Vec<Uuid>,
}

impl Reconciliation {
    /// Nothing lost, nothing twice, nothing moved.
    pub fn is_exact(&self) -> bool {
        self.missing.is_empty() && self.duplicated.is_empty() && self.misplaced.is_empty()
    }
}

/// Compares what a probe journaled in `[from, to)` with what `store` holds for it.
pub fn reconcile(
    store: &str,
    probe_id: &str,
    journaled: &[Journaled],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket_secs: i64,
) -> Result<Reconciliation, LabError> {
    let rows = stored_measurements(
        store,
        MeasurementQuery {
            probe_id: Some(probe_id.to_owned()),
            ..MeasurementQuery::default()
        },
    )?;
    let mut stored: BTreeMap<Uuid, Vec<Option<DateTime<Utc>>>> = BTreeMap::new();
    for row in rows {
        stored.entry(row.measurement.id).or_default().push(row.started_at);
    }
    let bucket = |t: DateTime<Utc>| t.timestamp().div_euclid(bucket_secs);
    let mut out = Reconciliation::default();
    let mut seen = BTreeSet::new();
    for m in journaled.iter().filter(|m| m.started_at >= from && m.started_at < to) {
        if !seen.insert(m.id) {
            continue;
        }
        out.taken += 1;
        match stored.get(&m.id).map(Vec::as_slice) {
            None | Some([]) => out.missing.push(m.id),
            Some([at]) => {
                if at.is_none_or(|t| bucket(t) != bucket(m.started_at)) {
                    out.misplaced.push(m.id);
                }
            }
            Some(_) => out.duplicated.push(m.id),
        }
    }
    Ok(out)
}

/// When a probe's log first said something containing `needle` at or after `after` (its lines start with an
/// RFC 3339 time).
pub fn first_said(log: &Path, needle: &str, after: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, LabError> {
    let text = std::fs::read_to_string(log).map_err(|e| LabError::io(log, e))?;
    Ok(text
        .lines()
        .filter(|l| l.contains(needle))
        .filter_map(|l| DateTime::parse_from_rfc3339(l.split_whitespace().next()?).ok())
        .map(|t| t.with_timezone(&Utc))
        .find(|&t| t >= after))
}

/// How many measurements taken in `[from, to)` by `probe_id` (on any of its uplinks) `store` holds now.
pub fn taken_between(store: &str, probe_id: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<usize, LabError> {
    let rows = stored_measurements(
        store,
        MeasurementQuery {
            probe_id: Some(probe_id.to_owned()),
            from: Some(from),
            to: Some(to),
            ..MeasurementQuery::default()
        },
    )?;
    Ok(rows.len())
}

/// The probes that measured `target` with outcome `outcome` (as the wire names it) in `[from, to)`: what makes a
/// verdict of "nothing happened" a verdict on something measured.
pub fn probes_measuring(
    store: &str,
    target: &str,
    outcome: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<BTreeSet<String>, LabError> {
    let rows = stored_measurements(
        store,
        MeasurementQuery {
            from: Some(from),
            to: Some(to),
            ..MeasurementQuery::default()
        },
    )?;
    Ok(rows
        .into_iter()
        .filter(|r| r.measurement.target.name == target && r.outcome.as_str() == outcome)
        .map(|r| r.probe_id)
        .collect())
}

/// The measurements the collector's store (`store`, as its config names it) holds for `query`, read directly.
fn stored_measurements(store: &str, query: MeasurementQuery) -> Result<Vec<StoredMeasurement>, LabError> {
    let spec: StoreSpec = store
        .parse()
        .map_err(|e| LabError::Setup(format!("store {store}: {e}")))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LabError::Setup(e.to_string()))?;
    runtime
        .block_on(async { open_store(&spec).await?.measurements(query).await })
        .map_err(|e| LabError::Setup(format!("reading the store: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_lines_are_parsed_and_other_lines_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("probe.log");
        std::fs::write(
            &log,
            "2026-11-23T10:00:00.1Z  INFO vigil_probe::agent: probe running\n\
             2026-11-23T10:00:00.2Z DEBUG vigil_probe::journal: spooled id=0193a1b2-0000-7000-8000-000000000001 \
             started_at=2026-11-23T10:00:00.150+00:00 kind=Vitals\n\
             2026-11-23T10:00:00.3Z DEBUG vigil_probe::journal: spooled id=not-a-uuid started_at=x kind=Tcp\n",
        )
        .expect("write");
        let entries = journal(&log).expect("reads");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].id.to_string(), "0193a1b2-0000-7000-8000-000000000001");
        assert_eq!(entries[0].started_at.timestamp_subsec_millis(), 150);
    }
}
