//! The checks. Every check has the same anatomy: a module with its settings, a `run` that never fails (a
//! network failure is a result with an outcome, not an `Err`), and a result of its kind wrapped in the schema-1
//! envelope by [`envelope`].

pub mod address;
pub mod alt_svc;
pub mod dns;
pub mod http;
pub mod icmp;
pub mod quic;
pub mod sni;
pub mod syn;
pub mod tcp;
pub mod trace;

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use vigil_measurement::{Measurement, MeasurementResult, SCHEMA_VERSION, Target};

/// The User-Agent the HTTP check and the QUIC test send: a common browser's, so sites and censors treat them as
/// they treat people.
pub(crate) const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// The task driving a connection (HTTP/1.1 or HTTP/3), stopped when the check is done with it (a capped body is
/// not read to its end).
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Wraps a result in the schema-1 envelope with a fresh UUIDv7 and the clock stamp of the check's start.
pub fn envelope(
    target: Target,
    started_at: DateTime<Utc>,
    elapsed: Duration,
    result: MeasurementResult,
) -> Measurement {
    Measurement {
        schema: SCHEMA_VERSION,
        id: Uuid::now_v7(),
        started_at,
        duration_ms: elapsed.as_secs_f64() * 1000.0,
        target,
        network: None,
        clock: crate::clock::stamp(elapsed),
        uplink: None,
        result,
    }
}

/// Failure text for `error_detail`: the innermost cause, scrubbed of IP addresses, bounded.
pub fn error_detail(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    let mut clean = vigil_measurement::scrub_ip_addresses(&text).into_owned();
    if clean.len() > 1024 {
        let mut cut = 1024;
        while !clean.is_char_boundary(cut) {
            cut -= 1;
        }
        clean.truncate(cut);
    }
    clean
}

/// The outcome a socket error stands for (a close mid-exchange is an HTTP error; the TLS checks read it as theirs).
pub(crate) fn io_outcome(kind: std::io::ErrorKind) -> vigil_measurement::Outcome {
    use std::io::ErrorKind;
    use vigil_measurement::Outcome;
    match kind {
        ErrorKind::TimedOut => Outcome::Timeout,
        ErrorKind::ConnectionRefused => Outcome::Refused,
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => Outcome::Reset,
        ErrorKind::HostUnreachable => Outcome::Unreachable,
        ErrorKind::NetworkUnreachable => Outcome::NoRoute,
        ErrorKind::UnexpectedEof => Outcome::HttpError,
        _ => Outcome::Error,
    }
}

/// The outcome of a failed TLS handshake: a TLS error when rustls refused it or the peer closed mid-handshake,
/// else what the socket saw (a reset, a timeout), a TLS error for anything outside the closed set.
pub(crate) fn tls_outcome(err: &std::io::Error) -> vigil_measurement::Outcome {
    use vigil_measurement::Outcome;
    if err.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        return Outcome::TlsError;
    }
    match io_outcome(err.kind()) {
        Outcome::Error | Outcome::HttpError => Outcome::TlsError,
        other => other,
    }
}
