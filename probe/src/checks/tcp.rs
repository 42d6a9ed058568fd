//! The TCP check (kernel `connect()`): does a handshake to ip:port complete? `ok`, `refused`, `reset`,
//! `timeout`, `unreachable`, `no_route`. The raw-SYN variant, which also sees TTLs and injected resets, needs
//! CAP_NET_RAW and lives with the packet-level checks.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use vigil_measurement::result::TcpResult;
use vigil_measurement::{Measurement, MeasurementResult, Outcome, Target};

use super::envelope;
use crate::net::Egress;

/// Connects once to `ip:port` within `timeout`, out by `egress` when given.
pub async fn check(ip: IpAddr, port: u16, timeout: Duration, egress: Option<&Egress>, target: Target) -> Measurement {
    let started_at = chrono::Utc::now();
    let clock = Instant::now();
    let attempt = tokio::time::timeout(timeout, crate::net::connect_tcp(egress, SocketAddr::new(ip, port))).await;
    // No payload: the handshake and close are the check's bytes (a refused or lost SYN counts the same, erring high).
    crate::traffic::count_wire(crate::traffic::CONNECTION_OVERHEAD);
    let elapsed = clock.elapsed();
    let (outcome, error_detail) = match attempt {
        Err(_) => (Outcome::Timeout, None),
        Ok(Ok(_stream)) => (Outcome::Ok, None),
        Ok(Err(err)) => connect_failure(&err),
    };
    let result = TcpResult {
        outcome,
        ip,
        port,
        method: Some("connect".to_owned()),
        reply: None,
        reply_ttl: None,
        reply_ip_id: None,
        injected_rst: None,
        rtt_ms: (outcome == Outcome::Ok).then_some(elapsed.as_secs_f64() * 1000.0),
        error_detail,
    };
    envelope(target, started_at, elapsed, MeasurementResult::Tcp(result))
}

/// The outcome of a failed connect (or of any socket error), with detail when it is not in the closed set.
pub fn connect_failure(err: &std::io::Error) -> (Outcome, Option<String>) {
    use std::io::ErrorKind;
    let outcome = match err.kind() {
        ErrorKind::ConnectionRefused => Outcome::Refused,
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => Outcome::Reset,
        ErrorKind::TimedOut => Outcome::Timeout,
        ErrorKind::HostUnreachable => Outcome::Unreachable,
        ErrorKind::NetworkUnreachable => Outcome::NoRoute,
        _ => return (Outcome::Error, Some(super::error_detail(err))),
    };
    (outcome, None)
}
