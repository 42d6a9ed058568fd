//! Semantic checks on a parsed measurement: id version, plausible time, bounded sizes, ranges, allowed outcome.
//!
//! Parsing ([`crate::Measurement::from_json_slice`]) guarantees the shape; this module guarantees the values are
//! sane enough to store. Every check names the field it rejects.

use chrono::{DateTime, TimeZone, Utc};

use crate::result::{DnsResult, HttpResult, IcmpResult, TcpResult, TraceResult, VitalsResult};
use crate::{Measurement, MeasurementError, MeasurementResult};

/// Bounds applied by [`validate`]. The defaults are what the collector enforces.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Longest short text field (names, types, boot ids, titles, header values), bytes.
    pub max_text_bytes: usize,
    /// Longest URL, bytes.
    pub max_url_bytes: usize,
    /// Longest `error_detail`, bytes.
    pub max_error_detail_bytes: usize,
    /// Most entries in any list (answers, hops, redirects, headers).
    pub max_list_entries: usize,
    /// Earliest `started_at` accepted from a synced clock.
    pub earliest_start: DateTime<Utc>,
    /// How far ahead of the receiver's clock a synced `started_at` may be, seconds.
    pub max_future_secs: i64,
    /// Longest `duration_ms` accepted.
    pub max_duration_ms: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_text_bytes: 1024,
            max_url_bytes: 4096,
            max_error_detail_bytes: 2048,
            max_list_entries: 64,
            earliest_start: Utc
                .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            max_future_secs: 600,
            max_duration_ms: 86_400_000.0,
        }
    }
}

fn uplink_name(name: &str) -> Result<(), MeasurementError> {
    match crate::Uplink::name_problem(name) {
        Some(problem) => invalid("uplink.name", problem),
        None => Ok(()),
    }
}
/// Checks a parsed measurement against `limits`, judging time against the receiver's clock `now`.
pub fn validate(m: &Measurement, now: DateTime<Utc>, limits: &Limits) -> Result<(), MeasurementError> {
    if m.id.get_version_num() != 7 {
        return Err(MeasurementError::IdNotV7 { id: m.id });
    }
    check_time(m, now, limits)?;
    finite_in("duration_ms", m.duration_ms, 0.0, limits.max_duration_ms)?;
    text("target.name", &m.target.name, limits.max_url_bytes)?;
    if m.target.name.is_empty() {
        return invalid("target.name", "must not be empty");
    }
    opt_text("target.list", &m.target.list, limits.max_text_bytes)?;
    if let Some(cc) = m.network.as_ref().and_then(|n| n.cc.as_deref()) {
        country_code("network.cc", cc)?;
    }
    if let Some(clock) = &m.clock {
        text("clock.boot_id", &clock.boot_id, limits.max_text_bytes)?;
    }
    if let Some(uplink) = &m.uplink {
        uplink_name(&uplink.name)?;
    }
    let kind = m.kind();
    let outcome = m.result.outcome();
    if !outcome.allowed_for(kind) {
        return Err(MeasurementError::OutcomeNotAllowed {
            outcome,
            kind,
            allowed: kind
                .allowed_outcomes()
                .iter()
                .map(|o| o.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    opt_text(
        "result.error_detail",
        &m.result.error_detail_slot().clone(),
        limits.max_error_detail_bytes,
    )?;
    match &m.result {
        MeasurementResult::Dns(r) => check_dns(r, limits),
        MeasurementResult::Http(r) => check_http(r, limits),
        MeasurementResult::Tcp(r) => check_tcp(r),
        MeasurementResult::Icmp(r) => check_icmp(r),
        MeasurementResult::Trace(r) => check_trace(r, limits),
        MeasurementResult::Vitals(r) => check_vitals(r, limits),
    }
}

fn check_time(m: &Measurement, now: DateTime<Utc>, limits: &Limits) -> Result<(), MeasurementError> {
    if m.clock_unsynced() {
        // DESIGN.md §2: an unsynced clock's wall time is not judged; the collector re-times it from mono_ms.
        return Ok(());
    }
    if m.started_at < limits.earliest_start {
        return Err(MeasurementError::StartedTooEarly {
            started_at: m.started_at.to_rfc3339(),
        });
    }
    let ahead_s = (m.started_at - now).num_seconds();
    if ahead_s > limits.max_future_secs {
        return Err(MeasurementError::StartedInFuture {
            started_at: m.started_at.to_rfc3339(),
            ahead_s,
            max_s: limits.max_future_secs,
        });
    }
    Ok(())
}

fn check_dns(r: &DnsResult, limits: &Limits) -> Result<(), MeasurementError> {
    text("result.query", &r.query, limits.max_text_bytes)?;
    text("result.qtype", &r.qtype, 16)?;
    if r.qtype.is_empty() || !r.qtype.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return invalid("result.qtype", "must be a record type such as A or AAAA");
    }
    text("result.resolver", &r.resolver, limits.max_url_bytes)?;
    list("result.answers", r.answers.len(), limits)?;
    for answer in &r.answers {
        text("result.answers[].type", &answer.rtype, 16)?;
        text("result.answers[].data", &answer.data, limits.max_text_bytes)?;
    }
    opt_text("result.rcode", &r.rcode, 32)?;
    opt_text("result.fingerprint", &r.fingerprint, limits.max_text_bytes)?;
    opt_text("result.injection_reason", &r.injection_reason, limits.max_text_bytes)
}

fn check_http(r: &HttpResult, limits: &Limits) -> Result<(), MeasurementError> {
    text("result.url", &r.url, limits.max_url_bytes)?;
    if let Some(status) = r.status
        && !(100..=999).contains(&status)
    {
        return invalid("result.status", "must be an HTTP status code (100-999) or null");
    }
    list("result.redirects", r.redirects.len(), limits)?;
    for url in &r.redirects {
        text("result.redirects[]", url, limits.max_url_bytes)?;
    }
    list("result.headers", r.headers.len(), limits)?;
    for (name, value) in &r.headers {
        text("result.headers{name}", name, 128)?;
        text("result.headers{value}", value, limits.max_text_bytes)?;
    }
    opt_text("result.body_sha256", &r.body_sha256, 64)?;
    opt_text("result.title", &r.title, limits.max_text_bytes)?;
    opt_text("result.fingerprint", &r.fingerprint, limits.max_text_bytes)?;
    opt_text("result.failure_stage", &r.failure_stage, 32)?;
    opt_text("result.tls_version", &r.tls_version, 32)?;
    if let Some(bps) = r.throughput_bps {
        finite_in("result.throughput_bps", bps, 0.0, f64::MAX)?;
    }
    if let Some(sni) = &r.sni {
        // A DNS name is at most 253 bytes.
        text("result.sni.server_name", &sni.server_name, 253)?;
        text("result.sni.control_name", &sni.control_name, 253)?;
        opt_text("result.sni.error_detail", &sni.error_detail, limits.max_text_bytes)?;
    }
    if let Some(quic) = &r.quic {
        text("result.quic.url", &quic.url, limits.max_url_bytes)?;
        if quic.port == 0 {
            return invalid("result.quic.port", "must be a UDP port (1-65535)");
        }
        if let Some(status) = quic.status
            && !(100..=999).contains(&status)
        {
            return invalid("result.quic.status", "must be an HTTP status code (100-999)");
        }
        opt_text("result.quic.error_detail", &quic.error_detail, limits.max_text_bytes)?;
    }
    Ok(())
}

fn check_tcp(r: &TcpResult) -> Result<(), MeasurementError> {
    opt_text("result.method", &r.method, 16)?;
    opt_text("result.reply", &r.reply, 16)?;
    opt_rtt("result.rtt_ms", r.rtt_ms)
}

fn check_icmp(r: &IcmpResult) -> Result<(), MeasurementError> {
    if r.sent > 10_000 {
        return invalid("result.sent", "at most 10000 echo requests per measurement");
    }
    if r.received > r.sent {
        return invalid("result.received", "cannot exceed `sent`");
    }
    opt_text("result.method", &r.method, 16)?;
    opt_rtt("result.rtt_min_ms", r.rtt_min_ms)?;
    opt_rtt("result.rtt_avg_ms", r.rtt_avg_ms)?;
    opt_rtt("result.rtt_max_ms", r.rtt_max_ms)
}

fn check_trace(r: &TraceResult, limits: &Limits) -> Result<(), MeasurementError> {
    list("result.hops", r.hops.len(), limits)?;
    for hop in &r.hops {
        if hop.ttl == 0 {
            return invalid("result.hops[].ttl", "must be at least 1");
        }
        opt_rtt("result.hops[].rtt_ms", hop.rtt_ms)?;
    }
    opt_text("result.protocol", &r.protocol, 16)
}

fn check_vitals(r: &VitalsResult, limits: &Limits) -> Result<(), MeasurementError> {
    text("result.boot_id", &r.boot_id, limits.max_text_bytes)?;
    finite_in("result.uptime_s", r.uptime_s, 0.0, f64::MAX)?;
    if let Some(pct) = r.power.battery_pct {
        finite_in("result.power.battery_pct", pct, 0.0, 100.0)?;
    }
    opt_rtt("result.gateway_rtt_ms", r.gateway_rtt_ms)
}

fn invalid(field: &'static str, reason: &str) -> Result<(), MeasurementError> {
    Err(MeasurementError::Invalid {
        field,
        reason: reason.to_owned(),
    })
}

fn text(field: &'static str, value: &str, max: usize) -> Result<(), MeasurementError> {
    if value.len() > max {
        return Err(MeasurementError::TooLong {
            field,
            len: value.len(),
            max,
        });
    }
    Ok(())
}

fn opt_text(field: &'static str, value: &Option<String>, max: usize) -> Result<(), MeasurementError> {
    value.as_deref().map_or(Ok(()), |v| text(field, v, max))
}

fn list(field: &'static str, len: usize, limits: &Limits) -> Result<(), MeasurementError> {
    if len > limits.max_list_entries {
        return Err(MeasurementError::TooMany {
            field,
            len,
            max: limits.max_list_entries,
        });
    }
    Ok(())
}

fn finite_in(field: &'static str, value: f64, min: f64, max: f64) -> Result<(), MeasurementError> {
    if !value.is_finite() || value < min || value > max {
        return Err(MeasurementError::Invalid {
            field,
            reason: format!("{value} is outside {min}..={max}"),
        });
    }
    Ok(())
}

fn opt_rtt(field: &'static str, value: Option<f64>) -> Result<(), MeasurementError> {
    value.map_or(Ok(()), |v| finite_in(field, v, 0.0, 3_600_000.0))
}

fn country_code(field: &'static str, cc: &str) -> Result<(), MeasurementError> {
    if cc.len() == 2 && cc.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        invalid(field, "must be an ISO 3166-1 alpha-2 code in capitals, such as IR")
    }
}
