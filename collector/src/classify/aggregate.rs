//! From stored measurements to the classifier's input: each measurement placed in the bucket of its effective
//! start time (re-timed ones included), whatever order it arrived in. Ties are broken by time and id, never by
//! arrival, so the input — and the events — depend only on the measurements.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use vigil_measurement::{Measurement, MeasurementResult, Outcome, Scope};

use super::input::{BlockingMethod, Bucket, BucketSummary, ClassifierInput, ProbeInfo, VitalsSummary};

/// One measurement with its probe and effective start time.
#[derive(Debug, Clone, Copy)]
pub struct Placed<'a> {
    /// The probe that took it.
    pub probe_id: &'a str,
    /// Effective start time (the collector's, after re-timing).
    pub started_at: DateTime<Utc>,
    /// The measurement.
    pub measurement: &'a Measurement,
}

/// The list name that marks anchor measurements.
pub const ANCHOR_LIST: &str = "anchors";

/// Builds the input for buckets `[from, to)` of `bucket_secs` seconds.
pub fn build_input<'a>(
    probes: Vec<ProbeInfo>,
    placed: impl IntoIterator<Item = Placed<'a>>,
    bucket_secs: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ClassifierInput {
    let bucket_secs = bucket_secs.max(1);
    let bucket_of = |t: DateTime<Utc>| t.timestamp().div_euclid(bucket_secs);
    let buckets = bucket_of(from)..bucket_of(to - chrono::Duration::milliseconds(1)) + 1;
    let mut observed: BTreeMap<String, BTreeMap<Bucket, BucketSummary>> = BTreeMap::new();
    // The latest vitals per probe and bucket, by (time, id).
    let mut latest: BTreeMap<(String, Bucket), (DateTime<Utc>, uuid::Uuid)> = BTreeMap::new();
    for p in placed {
        let bucket = bucket_of(p.started_at);
        if !buckets.contains(&bucket) {
            continue;
        }
        let summary = observed
            .entry(p.probe_id.to_owned())
            .or_default()
            .entry(bucket)
            .or_default();
        let m = p.measurement;
        match &m.result {
            MeasurementResult::Vitals(v) => {
                let key = (p.probe_id.to_owned(), bucket);
                let stamp = (p.started_at, m.id);
                if latest.get(&key).is_none_or(|seen| stamp > *seen) {
                    latest.insert(key, stamp);
                    summary.vitals = Some(VitalsSummary {
                        boot_id: v.boot_id.clone(),
                        on_battery: v.power.on_battery == Some(true),
                        gateway_reachable: v.gateway_reachable,
                        link_up: v.link_up,
                        last_gasp: v.last_gasp,
                    });
                }
            }
            result if m.target.list.as_deref() == Some(ANCHOR_LIST) => {
                let ok = result.outcome() == Outcome::Ok;
                match m.target.scope {
                    Scope::Domestic => summary.domestic.add(ok),
                    Scope::International => {
                        summary.international.add(ok);
                        match result {
                            MeasurementResult::Http(h) if ok => {
                                summary.international_throughput.extend(h.throughput_bps);
                            }
                            MeasurementResult::Tcp(t) if ok => summary.international_rtt.extend(t.rtt_ms),
                            MeasurementResult::Icmp(i) if ok => summary.international_rtt.extend(i.rtt_avg_ms),
                            _ => {}
                        }
                    }
                    Scope::Local => {}
                }
            }
            result => {
                if let Some(method) = blocking_method(result) {
                    summary
                        .blocked
                        .entry(m.target.name.clone())
                        .and_modify(|seen| *seen = (*seen).min(method))
                        .or_insert(method);
                    if let Some(name) = fingerprint(result) {
                        summary
                            .fingerprints
                            .entry(m.target.name.clone())
                            .or_default()
                            .insert(name.to_owned());
                    }
                }
            }
        }
    }
    ClassifierInput {
        bucket_secs,
        buckets,
        probes,
        observed,
    }
}

/// The blocking method a test-list result shows, if any.
fn blocking_method(result: &MeasurementResult) -> Option<BlockingMethod> {
    match result {
        MeasurementResult::Dns(d) if d.outcome == Outcome::DnsInjected => Some(BlockingMethod::Dns),
        MeasurementResult::Http(h) => match h.outcome {
            Outcome::DnsInjected => Some(BlockingMethod::Dns),
            Outcome::Blockpage => Some(BlockingMethod::HttpBlockpage),
            Outcome::Reset => Some(BlockingMethod::TcpReset),
            Outcome::TlsError => Some(BlockingMethod::Tls),
            _ => None,
        },
        MeasurementResult::Tcp(t) if t.injected_rst == Some(true) || t.outcome == Outcome::Reset => {
            Some(BlockingMethod::TcpReset)
        }
        _ => None,
    }
}

/// The name of the blocking fingerprint a result matched, if any.
fn fingerprint(result: &MeasurementResult) -> Option<&str> {
    match result {
        MeasurementResult::Dns(d) => d.fingerprint.as_deref(),
        MeasurementResult::Http(h) => h.fingerprint.as_deref(),
        _ => None,
    }
}
