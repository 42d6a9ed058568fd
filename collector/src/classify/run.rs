//! A classification run over the store: read the registry and the window's measurements (by effective time,
//! so re-timed and late data land where they were taken), classify, save with revisions.

use chrono::{DateTime, Utc};

use super::aggregate::{Placed, build_input};
use super::{ClassifierSettings, DisruptionEvent, ProbeInfo, classify};
use crate::store::{EventSaveSummary, MeasurementQuery, Store, StoreError};

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// The events of the window.
    pub events: Vec<DisruptionEvent>,
    /// What saving them changed.
    pub saved: EventSaveSummary,
    /// Measurements read.
    pub measurements: usize,
}

/// The classifier's input for `[from, to)` from the store: the registry and the measurements by effective time.
pub async fn load_input(
    store: &dyn Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket_secs: i64,
) -> Result<(super::ClassifierInput, usize), StoreError> {
    let probes: Vec<ProbeInfo> = store
        .probes()
        .await?
        .into_iter()
        .map(|p| ProbeInfo {
            probe_id: p.probe_id,
            country: p.profile.country,
            asn: p.profile.asn,
            region: p.profile.region,
            access: p.profile.access,
            ups: p.profile.ups,
        })
        .collect();
    let rows = store
        .measurements(MeasurementQuery {
            from: Some(from),
            to: Some(to),
            ..Default::default()
        })
        .await?;
    let placed = rows.iter().filter_map(|r| {
        r.started_at.map(|t| Placed {
            probe_id: &r.probe_id,
            started_at: t,
            measurement: &r.measurement,
        })
    });
    let mut input = build_input(probes, placed, bucket_secs.max(1), from, to);
    // Pseudo-probes (RIPE Atlas): a bucket with the probe connected counts as reporting, nothing more.
    for (probe, connected_ms, disconnected_ms) in store.presence(from.timestamp_millis(), to.timestamp_millis()).await?
    {
        let first = (connected_ms / 1000)
            .div_euclid(input.bucket_secs)
            .max(input.buckets.start);
        let last = disconnected_ms
            .map_or(input.buckets.end, |d| (d / 1000).div_euclid(input.bucket_secs))
            .min(input.buckets.end);
        let per = input.observed.entry(probe).or_default();
        for b in first..last {
            per.entry(b).or_default();
        }
    }
    Ok((input, rows.len()))
}

/// Classifies `[from, to)` and saves the events. The window is widened backwards by the classifier's expect
/// window, so probes that went dark at its start are still expected.
pub async fn classify_window(
    store: &dyn Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket_secs: i64,
    settings: &ClassifierSettings,
) -> Result<RunReport, StoreError> {
    let bucket_secs = bucket_secs.max(1);
    let lead = chrono::Duration::seconds(bucket_secs * settings.expect_window);
    let read_from = from - lead;
    let (input, measurements) = load_input(store, read_from, to, bucket_secs).await?;
    let start = from.timestamp().div_euclid(bucket_secs) * bucket_secs;
    let events: Vec<DisruptionEvent> = classify(&input, settings)
        .into_iter()
        .filter(|e| e.ended_at.is_none_or(|end| end > start))
        .collect();
    let saved = store.save_events(start, to.timestamp(), events.clone()).await?;
    Ok(RunReport {
        events,
        saved,
        measurements,
    })
}
