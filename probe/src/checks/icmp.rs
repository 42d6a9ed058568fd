//! The ICMP check: `count` echo requests to one IPv4 address, matched to their replies by identifier and
//! sequence (a raw socket sees every ICMP packet in the namespace), with loss, RTT min/avg/max, and ICMP errors
//! that quote our own requests (unreachable codes, administratively prohibited) reported as outcomes.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use vigil_measurement::result::IcmpResult;
use vigil_measurement::{Measurement, MeasurementResult, Outcome, Target};

use super::envelope;
use crate::net::{DgramIcmpSocket, Egress, PacketMode, PacketSocket, RawSocket};
use crate::packet::icmp::{self, IcmpMessage};

/// Settings of one ICMP run.
#[derive(Debug, Clone, Copy)]
pub struct IcmpSettings {
    /// Echo requests sent.
    pub count: u16,
    /// Wait for each reply.
    pub timeout: Duration,
}

impl Default for IcmpSettings {
    fn default() -> Self {
        IcmpSettings {
            count: 3,
            timeout: Duration::from_secs(1),
        }
    }
}

/// Pings `ip`, out by `egress` when given; never fails (a failure is the result).
pub async fn check(
    ip: IpAddr,
    settings: IcmpSettings,
    mode: PacketMode,
    egress: Option<Egress>,
    target: Target,
) -> Measurement {
    let started_at = chrono::Utc::now();
    let clock = Instant::now();
    let result = match ip {
        IpAddr::V4(v4) => tokio::task::spawn_blocking(move || ping(v4, settings, mode, egress.as_ref()))
            .await
            .unwrap_or_else(|e| failed(ip, settings, mode, Outcome::Error, Some(e.to_string()))),
        IpAddr::V6(_) => failed(
            ip,
            settings,
            mode,
            Outcome::Error,
            Some("ICMP checks measure IPv4 only".to_owned()),
        ),
    };
    envelope(target, started_at, clock.elapsed(), MeasurementResult::Icmp(result))
}

/// The blocking ping itself, out by `egress` when given.
pub fn ping(dst: Ipv4Addr, settings: IcmpSettings, mode: PacketMode, egress: Option<&Egress>) -> IcmpResult {
    let ip = IpAddr::V4(dst);
    let socket: io::Result<Box<dyn PacketSocket>> = match mode {
        PacketMode::Raw => RawSocket::icmp(egress).map(|s| Box::new(s) as Box<dyn PacketSocket>),
        PacketMode::Unprivileged { dgram_icmp: true } => {
            DgramIcmpSocket::connect(dst, egress).map(|s| Box::new(s) as Box<dyn PacketSocket>)
        }
        PacketMode::Unprivileged { dgram_icmp: false } => {
            return failed(
                ip,
                settings,
                mode,
                Outcome::Error,
                Some("no ICMP method is permitted".to_owned()),
            );
        }
    };
    let socket = match socket {
        Ok(s) => s,
        Err(err) => return failed(ip, settings, mode, Outcome::Error, Some(super::error_detail(&err))),
    };
    let id = fastrand::u16(1..);
    let mut rtts = Vec::new();
    let mut error: Option<(u8, Option<u8>)> = None;
    let mut local_failure: Option<Outcome> = None;
    for seq in 1..=settings.count {
        let sent = Instant::now();
        if let Err(err) = socket.send_to(&icmp::echo_request(id, seq, b"vigil-probe"), dst) {
            local_failure = Some(io_outcome(&err));
            break;
        }
        let deadline = sent + settings.timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match socket.recv(left) {
                Ok(None) => break,
                Ok(Some(packet)) => match icmp::parse(&packet.payload) {
                    // Ping sockets rewrite the identifier: match on the sequence alone there.
                    Some(IcmpMessage::EchoReply { id: got, seq: s })
                        if s == seq && (got == id || !mode.is_raw()) && packet.from == dst =>
                    {
                        rtts.push(sent.elapsed().as_secs_f64() * 1000.0);
                        break;
                    }
                    Some(IcmpMessage::Error {
                        icmp_type,
                        code,
                        quoted,
                    }) if quoted.echo == Some((id, seq)) && quoted.destination == dst => {
                        error = Some((icmp_type, Some(code)));
                        break;
                    }
                    _ => {}
                },
                // A ping socket reports ICMP errors as receive errors.
                Err(err) => {
                    error = Some((icmp::DEST_UNREACHABLE, None));
                    local_failure = match err.kind() {
                        io::ErrorKind::NetworkUnreachable => Some(Outcome::NoRoute),
                        io::ErrorKind::HostUnreachable | io::ErrorKind::ConnectionRefused => None,
                        _ => Some(io_outcome(&err)),
                    };
                    break;
                }
            }
        }
        if error.is_some() || local_failure.is_some() {
            break;
        }
    }
    let received = rtts.len() as u32;
    let outcome = if received > 0 {
        Outcome::Ok
    } else if let Some(o) = local_failure {
        o
    } else if error.is_some() {
        Outcome::Unreachable
    } else {
        Outcome::Timeout
    };
    let sent = if local_failure.is_some() || error.is_some() {
        (received + 1).min(u32::from(settings.count))
    } else {
        u32::from(settings.count)
    };
    let (icmp_type, icmp_code) = error.map_or((None, None), |(t, c)| (Some(t), c));
    IcmpResult {
        outcome,
        ip,
        sent,
        received,
        rtt_min_ms: rtts.iter().copied().reduce(f64::min),
        rtt_avg_ms: (!rtts.is_empty()).then(|| rtts.iter().sum::<f64>() / rtts.len() as f64),
        rtt_max_ms: rtts.iter().copied().reduce(f64::max),
        icmp_type,
        icmp_code,
        method: Some(method(mode).to_owned()),
        error_detail: None,
    }
}

fn io_outcome(err: &io::Error) -> Outcome {
    match err.kind() {
        io::ErrorKind::NetworkUnreachable => Outcome::NoRoute,
        io::ErrorKind::HostUnreachable => Outcome::Unreachable,
        _ => Outcome::Error,
    }
}

fn method(mode: PacketMode) -> &'static str {
    if mode.is_raw() { "raw" } else { "dgram" }
}

fn failed(
    ip: IpAddr,
    settings: IcmpSettings,
    mode: PacketMode,
    outcome: Outcome,
    detail: Option<String>,
) -> IcmpResult {
    let _ = settings;
    IcmpResult {
        outcome,
        ip,
        sent: 0,
        received: 0,
        rtt_min_ms: None,
        rtt_avg_ms: None,
        rtt_max_ms: None,
        icmp_type: None,
        icmp_code: None,
        method: Some(method(mode).to_owned()),
        error_detail: detail,
    }
}

/// Pings the gateway once or twice (out by `egress`, the gateway's interface, when given): the vitals'
/// `gateway_reachable`.
pub fn gateway_answers(gateway: Ipv4Addr, mode: PacketMode, egress: Option<&Egress>) -> (bool, Option<f64>) {
    if !mode.can_ping() {
        return (false, None);
    }
    let r = ping(
        gateway,
        IcmpSettings {
            count: 2,
            timeout: Duration::from_millis(800),
        },
        mode,
        egress,
    );
    (r.received > 0, r.rtt_min_ms)
}
