//! From stored measurements to bucket summaries: each measurement placed in the bucket of its effective
//! start time (re-timed ones included), whatever order it arrived in. Ties are broken by time and id, never by
//! arrival, so the input — and the events — depend only on the measurements.
//!
//! [`SummaryBuilder`] folds measurements one at a time (so a store can stream them in slices); a store that can
//! aggregate by itself (ClickHouse) computes the same summaries with [`blocking_method`] and [`fingerprint`]
//! evaluated at ingest.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use vigil_measurement::{Measurement, MeasurementResult, Outcome, Scope};

use super::summary::{BlockingMethod, Bucket, BucketSummary, VitalsSummary};

/// One measurement with its probe and effective start time.
#[derive(Debug, Clone, Copy)]
pub struct Placed<'a> {
    /// The probe that took it.
    pub probe_id: &'a str,
    /// The access the probe was registered with: a measurement taken on an uplink of another access goes to
    /// that uplink's own timeline ([`super::timeline_id`]).
    pub access: super::AccessType,
    /// Effective start time (the collector's, after re-timing).
    pub started_at: DateTime<Utc>,
    /// The measurement.
    pub measurement: &'a Measurement,
}

/// The list name that marks anchor measurements.
pub const ANCHOR_LIST: &str = "anchors";

/// Per probe, per bucket: what it measured.
pub type Summaries = BTreeMap<String, BTreeMap<Bucket, BucketSummary>>;

/// When the vitals a summary holds were taken, and their id: the later (time, id) wins when summaries merge.
pub type VitalsStamp = (i64, uuid::Uuid);

/// A probe-bucket's summary of part of its measurements, mergeable with the summaries of the rest (in any
/// order): what stores materialise and merge back.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Partial {
    /// The summary of these measurements.
    pub summary: BucketSummary,
    /// Effective time (ms) and id of the vitals the summary holds, if any.
    pub vitals_at: Option<VitalsStamp>,
}

/// Partial summaries by probe and bucket.
pub type Partials = BTreeMap<(String, Bucket), Partial>;

/// The bucket range covering `[from, to)`.
pub fn bucket_range(bucket_secs: i64, from: DateTime<Utc>, to: DateTime<Utc>) -> std::ops::Range<Bucket> {
    let bucket_secs = bucket_secs.max(1);
    let bucket_of = |t: DateTime<Utc>| t.timestamp().div_euclid(bucket_secs);
    bucket_of(from)..bucket_of(to - chrono::Duration::milliseconds(1)) + 1
}

/// Folds measurements into per-bucket summaries, in any order.
#[derive(Debug)]
pub struct SummaryBuilder {
    bucket_secs: i64,
    buckets: std::ops::Range<Bucket>,
    observed: Summaries,
    /// The latest vitals per probe and bucket, by (time in ms, id).
    latest: BTreeMap<(String, Bucket), VitalsStamp>,
}

impl SummaryBuilder {
    /// A builder for buckets `[from, to)` of `bucket_secs` seconds.
    pub fn new(bucket_secs: i64, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        SummaryBuilder {
            bucket_secs: bucket_secs.max(1),
            buckets: bucket_range(bucket_secs, from, to),
            observed: BTreeMap::new(),
            latest: BTreeMap::new(),
        }
    }

    /// A builder for the buckets `buckets` of `bucket_secs` seconds.
    pub fn for_buckets(bucket_secs: i64, buckets: std::ops::Range<Bucket>) -> Self {
        SummaryBuilder {
            bucket_secs: bucket_secs.max(1),
            buckets,
            observed: BTreeMap::new(),
            latest: BTreeMap::new(),
        }
    }

    /// Adds one measurement (ignored outside the window).
    pub fn add(&mut self, p: Placed<'_>) {
        let bucket = p.started_at.timestamp().div_euclid(self.bucket_secs);
        if !self.buckets.contains(&bucket) {
            return;
        }
        let m = p.measurement;
        let timeline = super::timeline_id(p.probe_id, p.access, m.uplink.as_ref());
        let summary = self
            .observed
            .entry(timeline.clone().into_owned())
            .or_default()
            .entry(bucket)
            .or_default();
        match &m.result {
            MeasurementResult::Vitals(v) => {
                let key = (timeline.into_owned(), bucket);
                let stamp = (p.started_at.timestamp_millis(), m.id);
                if self.latest.get(&key).is_none_or(|seen| stamp > *seen) {
                    self.latest.insert(key, stamp);
                    summary.vitals = Some(VitalsSummary {
                        boot_id: v.boot_id.clone(),
                        on_battery: v.power.on_battery == Some(true),
                        gateway_reachable: v.gateway_reachable,
                        link_up: v.link_up,
                        last_gasp: v.last_gasp,
                    });
                }
            }
            // A trace follows a failed check (the probe traces only what failed): it tells where the path died,
            // and is not counted again as a check.
            MeasurementResult::Trace(_) if m.target.list.as_deref() == Some(ANCHOR_LIST) => {
                if let Some(end) = path_end(&m.result).filter(|_| m.target.scope == Scope::International) {
                    summary.path_ends.insert(end);
                }
            }
            result if m.target.list.as_deref() == Some(ANCHOR_LIST) => {
                let ok = result.outcome() == Outcome::Ok;
                match m.target.scope {
                    Scope::Domestic => summary.domestic.add(ok),
                    Scope::International => {
                        summary.international.add(ok);
                        let names = if ok {
                            &mut summary.international_reached
                        } else {
                            &mut summary.international_failed
                        };
                        if !names.contains(&m.target.name) {
                            names.insert(m.target.name.clone());
                        }
                        if let Some((metric, value)) = anchor_metric(result).filter(|_| ok) {
                            match metric {
                                AnchorMetric::Throughput => summary.international_throughput.push(value),
                                AnchorMetric::Rtt => summary.international_rtt.push(value),
                            }
                        }
                    }
                    Scope::Local => {}
                }
            }
            result => {
                let name = judged_name(&m.target);
                if let Some(method) = blocking_method(result) {
                    summary.note_blocked(name, method, fingerprint(result));
                } else if loaded(result) {
                    summary.reached.insert(name.to_owned());
                }
            }
        }
    }

    /// Merges a partial summary of a probe-bucket (ignored outside the window): tallies add, samples join,
    /// blocked targets, fingerprints and reached targets unite (the lowest method wins), and the later vitals win.
    pub fn merge(&mut self, probe_id: &str, bucket: Bucket, partial: Partial) {
        if !self.buckets.contains(&bucket) {
            return;
        }
        let summary = self
            .observed
            .entry(probe_id.to_owned())
            .or_default()
            .entry(bucket)
            .or_default();
        let part = partial.summary;
        summary.domestic.ok += part.domestic.ok;
        summary.domestic.total += part.domestic.total;
        summary.international.ok += part.international.ok;
        summary.international.total += part.international.total;
        summary.international_throughput.extend(part.international_throughput);
        summary.international_rtt.extend(part.international_rtt);
        summary.reached.extend(part.reached);
        summary.international_reached.extend(part.international_reached);
        summary.international_failed.extend(part.international_failed);
        summary.path_ends.extend(part.path_ends);
        for (target, method) in part.blocked {
            let names = part.fingerprints.get(&target);
            summary.note_blocked(&target, method, None);
            for name in names.into_iter().flatten() {
                summary.note_blocked(&target, method, Some(name));
            }
        }
        if let (Some(vitals), Some(stamp)) = (part.vitals, partial.vitals_at) {
            let key = (probe_id.to_owned(), bucket);
            if self.latest.get(&key).is_none_or(|seen| stamp > *seen) {
                self.latest.insert(key, stamp);
                summary.vitals = Some(vitals);
            }
        }
    }

    /// The summaries as partials, keyed by probe and bucket, each with the stamp of its vitals.
    pub fn finish_partials(self) -> Partials {
        let latest = self.latest;
        let mut out = Partials::new();
        for (probe_id, per_bucket) in self.observed {
            for (bucket, mut summary) in per_bucket {
                normalize(&mut summary);
                let key = (probe_id.clone(), bucket);
                let vitals_at = latest.get(&key).copied();
                out.insert(key, Partial { summary, vitals_at });
            }
        }
        out
    }

    /// The summaries, with samples sorted (their order carries no meaning).
    pub fn finish(self) -> Summaries {
        let mut observed = self.observed;
        for per_bucket in observed.values_mut() {
            for s in per_bucket.values_mut() {
                normalize(s);
            }
        }
        observed
    }
}

/// Puts a summary's samples in a canonical order.
pub fn normalize(s: &mut BucketSummary) {
    s.international_throughput.sort_by(f64::total_cmp);
    s.international_rtt.sort_by(f64::total_cmp);
}

/// What an anchor's sample measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorMetric {
    /// Body bytes per second (HTTP).
    Throughput,
    /// Round trip in ms (TCP, ICMP).
    Rtt,
}

/// The sample an anchor result carries for throttling detection, if any.
pub fn anchor_metric(result: &MeasurementResult) -> Option<(AnchorMetric, f64)> {
    match result {
        MeasurementResult::Http(h) => h.throughput_bps.map(|v| (AnchorMetric::Throughput, v)),
        MeasurementResult::Tcp(t) => t.rtt_ms.map(|v| (AnchorMetric::Rtt, v)),
        MeasurementResult::Icmp(i) => i.rtt_avg_ms.map(|v| (AnchorMetric::Rtt, v)),
        _ => None,
    }
}

/// The blocking method a test-list result shows, if any.
pub fn blocking_method(result: &MeasurementResult) -> Option<BlockingMethod> {
    match result {
        MeasurementResult::Dns(d) if d.outcome == Outcome::DnsInjected => Some(BlockingMethod::Dns),
        // The SNI test speaks for itself: a reset, a timeout or a TLS failure of the target's handshake while the
        // control's was answered (a timeout alone is no blocking method; with the control answered, it is).
        MeasurementResult::Http(h) if h.outcome != Outcome::Ok && h.sni.as_ref().is_some_and(|t| t.name_filtered()) => {
            Some(BlockingMethod::Sni)
        }
        MeasurementResult::Http(h) if quic_blocked(h) => Some(BlockingMethod::Quic),
        MeasurementResult::Http(h) => match h.outcome {
            Outcome::DnsInjected => Some(BlockingMethod::Dns),
            Outcome::Blockpage => Some(BlockingMethod::HttpBlockpage),
            Outcome::Reset => Some(BlockingMethod::TcpReset),
            Outcome::TlsError => Some(BlockingMethod::Tls),
            // No connection at all: dropped (timeout), refused or rejected (ICMP) on the way to the address.
            Outcome::Timeout | Outcome::Refused | Outcome::Unreachable
                if h.failure_stage.as_deref() == Some("connect") =>
            {
                Some(BlockingMethod::IpBlock)
            }
            _ => None,
        },
        MeasurementResult::Tcp(t) if t.injected_rst == Some(true) || t.outcome == Outcome::Reset => {
            Some(BlockingMethod::TcpReset)
        }
        // A connect (an app's port) that never opened.
        MeasurementResult::Tcp(t)
            if matches!(t.outcome, Outcome::Timeout | Outcome::Refused | Outcome::Unreachable) =>
        {
            Some(BlockingMethod::IpBlock)
        }
        _ => None,
    }
}

/// Whether a fetch shows QUIC blocked: it loaded over TCP and TLS, and the QUIC test that followed (the site
/// announced HTTP/3) got no QUIC handshake. A handshake that completed carried QUIC over the path, whatever HTTP/3
/// did after it (a server's fault, not the path's).
fn quic_blocked(h: &vigil_measurement::result::HttpResult) -> bool {
    h.outcome == Outcome::Ok && h.quic.as_ref().is_some_and(|q| q.failed() && !q.handshake)
}

/// Where a trace that did not reach its target died, as [`BucketSummary::path_ends`] keeps it: the address of
/// the last hop that answered beyond the probe's own network, or [`PATH_END_HOME`] when nothing beyond it
/// answered. `None` for other results and for traces that arrived.
pub fn path_end(result: &MeasurementResult) -> Option<String> {
    let MeasurementResult::Trace(trace) = result else {
        return None;
    };
    if trace.outcome == Outcome::Ok {
        return None;
    }
    let last = trace
        .hops
        .iter()
        .rev()
        .find(|hop| hop.local != Some(true) && hop.ip.is_some_and(|ip| !ip.is_unspecified() && ip != trace.ip));
    Some(match last.and_then(|hop| hop.ip) {
        Some(ip) => ip.to_string(),
        None => PATH_END_HOME.to_owned(),
    })
}

/// [`path_end`] of a trace that died before any hop beyond the probe's own network answered: at home, or at the
/// access network's first hop.
pub const PATH_END_HOME: &str = "home";

/// Whether a result reached its target: a fetch whose DNS, TCP and TLS all worked and whose page came back (and,
/// when it was also asked over QUIC, whose QUIC handshake did too), or a connect that opened (an app's port). The
/// control for every blocking method.
pub fn loaded(result: &MeasurementResult) -> bool {
    match result {
        MeasurementResult::Http(h) => h.outcome == Outcome::Ok && !quic_blocked(h),
        MeasurementResult::Tcp(t) => t.outcome == Outcome::Ok,
        _ => false,
    }
}

/// `target.list` of a messaging app's measurements: this prefix and the app's name (docs/wire.md).
pub const APP_LIST_PREFIX: &str = "app:";

/// The name a target is judged under: a messaging app's endpoints all under the app (`app:whatsapp`), whichever
/// of them a censor blocks; any other target under its own name.
pub fn judged_name(target: &vigil_measurement::Target) -> &str {
    target
        .list
        .as_deref()
        .filter(|list| list.starts_with(APP_LIST_PREFIX) && list.len() > APP_LIST_PREFIX.len())
        .unwrap_or(&target.name)
}

/// The name of the blocking fingerprint a result matched, if any.
pub fn fingerprint(result: &MeasurementResult) -> Option<&str> {
    match result {
        MeasurementResult::Dns(d) => d.fingerprint.as_deref(),
        MeasurementResult::Http(h) => h.fingerprint.as_deref(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(json: &str) -> MeasurementResult {
        let line = format!(
            r#"{{"schema":1,"id":"0190a0c4-0000-7000-8000-000000000001","kind":"trace","started_at":"2026-01-01T00:00:00Z","duration_ms":5,"target":{{"name":"a","scope":"international","list":"anchors"}},"result":{json}}}"#
        );
        Measurement::from_json_slice(line.as_bytes())
            .expect("a valid trace")
            .result
    }

    fn http(json: &str) -> MeasurementResult {
        let line = format!(
            r#"{{"schema":1,"id":"0190a0c4-0000-7000-8000-000000000002","kind":"http","started_at":"2026-01-01T00:00:00Z","duration_ms":5,"target":{{"name":"https://a.example/","scope":"international","list":"l"}},"result":{json}}}"#
        );
        Measurement::from_json_slice(line.as_bytes())
            .expect("a valid fetch")
            .result
    }

    #[test]
    fn a_handshake_stopped_for_its_name_alone_is_sni_filtering_and_one_both_names_fail_is_not() {
        let sni = |outcome: &str, answered: bool, control_answered: bool| {
            http(&format!(
                r#"{{"outcome":"{outcome}","url":"https://a.example/","status":null,"failure_stage":"tls","sni":{{"server_name":"a.example","outcome":"{outcome}","answered":{answered},"control_name":"example.com","control_outcome":"tls_error","control_answered":{control_answered}}}}}"#
            ))
        };
        // Reset, or dropped until it timed out, while the control's handshake was answered: the name.
        assert_eq!(blocking_method(&sni("reset", false, true)), Some(BlockingMethod::Sni));
        assert_eq!(blocking_method(&sni("timeout", false, true)), Some(BlockingMethod::Sni));
        // Neither answered: the address or the server, as before (a reset is still a reset; a timeout nothing).
        assert_eq!(
            blocking_method(&sni("reset", false, false)),
            Some(BlockingMethod::TcpReset)
        );
        assert_eq!(blocking_method(&sni("timeout", false, false)), None);
        // Both answered (an expired certificate): a TLS failure, not the name.
        assert_eq!(
            blocking_method(&sni("tls_error", true, true)),
            Some(BlockingMethod::Tls)
        );
    }

    #[test]
    fn a_connection_that_never_opened_is_ip_blocking_and_a_failure_after_it_is_not() {
        let fetch = |outcome: &str, stage: &str| {
            http(&format!(
                r#"{{"outcome":"{outcome}","url":"https://a.example/","status":null,"failure_stage":"{stage}"}}"#
            ))
        };
        for outcome in ["timeout", "refused", "unreachable"] {
            assert_eq!(
                blocking_method(&fetch(outcome, "connect")),
                Some(BlockingMethod::IpBlock),
                "{outcome} at connect"
            );
        }
        // The connection opened: a slow response, a slow handshake or a local lack of route are not the address.
        assert_eq!(blocking_method(&fetch("timeout", "response")), None);
        assert_eq!(blocking_method(&fetch("timeout", "tls")), None);
        assert_eq!(blocking_method(&fetch("no_route", "connect")), None);
        // A reset at connect keeps its own method.
        assert_eq!(
            blocking_method(&fetch("reset", "connect")),
            Some(BlockingMethod::TcpReset)
        );
    }

    #[test]
    fn quic_is_blocked_only_when_the_fetch_over_tcp_loaded_and_no_quic_handshake_completed() {
        let fetch = |outcome: &str, quic: &str| {
            let status = if outcome == "ok" { "200" } else { "null" };
            http(&format!(
                r#"{{"outcome":"{outcome}","url":"https://a.example/","status":{status},"quic":{quic}}}"#
            ))
        };
        let quic = |outcome: &str, handshake: bool| {
            format!(r#"{{"url":"https://a.example/","port":443,"outcome":"{outcome}","handshake":{handshake}}}"#)
        };
        for outcome in ["timeout", "tls_error", "reset", "error"] {
            let dropped = fetch("ok", &quic(outcome, false));
            assert_eq!(blocking_method(&dropped), Some(BlockingMethod::Quic), "{outcome}");
            assert!(!loaded(&dropped), "a site blocked over QUIC is no control: {outcome}");
        }
        // QUIC carried the handshake: HTTP/3 failing after it is the server's, and the site loaded.
        let served_badly = fetch("ok", &quic("http_error", true));
        assert_eq!(blocking_method(&served_badly), None);
        assert!(loaded(&served_badly));
        let both = fetch("ok", &quic("ok", true));
        assert_eq!(blocking_method(&both), None);
        assert!(loaded(&both));
        // Over TCP the site failed too: its own method speaks (a reset), QUIC adds nothing.
        assert_eq!(
            blocking_method(&fetch("reset", &quic("timeout", false))),
            Some(BlockingMethod::TcpReset)
        );
    }

    #[test]
    fn a_failed_trace_ends_at_its_last_hop_beyond_the_probes_own_network() {
        let died = trace(
            r#"{"outcome":"timeout","ip":"192.0.2.1","hops":[{"ttl":1,"ip":"192.168.1.1","rtt_ms":0.4,"local":true},{"ttl":2,"ip":"10.30.0.1","rtt_ms":2.0},{"ttl":3,"ip":"10.30.0.9","rtt_ms":3.0,"local":false},{"ttl":4,"ip":null,"rtt_ms":null}]}"#,
        );
        assert_eq!(path_end(&died).as_deref(), Some("10.30.0.9"));
        let at_home = trace(
            r#"{"outcome":"timeout","ip":"192.0.2.1","hops":[{"ttl":1,"ip":"192.168.1.1","rtt_ms":0.4,"local":true},{"ttl":2,"ip":null,"rtt_ms":null}]}"#,
        );
        assert_eq!(path_end(&at_home).as_deref(), Some(PATH_END_HOME));
        let nothing = trace(r#"{"outcome":"timeout","ip":"192.0.2.1","hops":[]}"#);
        assert_eq!(path_end(&nothing).as_deref(), Some(PATH_END_HOME));
        let arrived = trace(
            r#"{"outcome":"ok","ip":"192.0.2.1","hops":[{"ttl":1,"ip":"10.30.0.1","rtt_ms":2.0},{"ttl":2,"ip":"192.0.2.1","rtt_ms":9.0}]}"#,
        );
        assert_eq!(path_end(&arrived), None, "a trace that arrived died nowhere");
    }
}
