//! The trace (needs CAP_NET_RAW): probes with TTL 1, 2, … towards a target, ICMP echo or TCP SYN, recording
//! who answers at each hop, where responses stop, and which hops lie inside the probe's own network. This is
//! what places a cut: at the home router, inside the ISP, or at the border.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use vigil_measurement::result::{TraceHop, TraceResult};
use vigil_measurement::{Measurement, MeasurementResult, Outcome, Target};

use super::envelope;
use crate::net::{Egress, PacketSocket, RawSocket, source_address_for};
use crate::packet::icmp::{self, IcmpMessage};
use crate::packet::tcp;

/// The probe packets a trace sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceProtocol {
    /// ICMP echo requests.
    Icmp,
    /// TCP SYNs to this port.
    Tcp(u16),
}

/// Settings of one trace.
#[derive(Debug, Clone)]
pub struct TraceSettings {
    /// Highest TTL tried.
    pub max_hops: u8,
    /// Wait per hop.
    pub hop_timeout: Duration,
    /// Silent hops in a row after which the trace stops.
    pub give_up_after: u8,
    /// Prefixes that belong to the probe's own network, besides private ranges when `private_is_local`.
    pub local_prefixes: Vec<ipnet::Ipv4Net>,
    /// Whether private addresses count as the probe's own network.
    pub private_is_local: bool,
    /// The uplink whose interface the trace leaves by (the routing table's choice when `None`).
    pub egress: Option<Egress>,
}

impl Default for TraceSettings {
    fn default() -> Self {
        TraceSettings {
            max_hops: 20,
            hop_timeout: Duration::from_millis(800),
            give_up_after: 3,
            local_prefixes: Vec::new(),
            private_is_local: true,
            egress: None,
        }
    }
}

/// Traces towards `ip`; never fails (a failure is the result).
pub async fn check(ip: IpAddr, protocol: TraceProtocol, settings: TraceSettings, target: Target) -> Measurement {
    let started_at = chrono::Utc::now();
    let clock = Instant::now();
    let result = match ip {
        IpAddr::V4(v4) => tokio::task::spawn_blocking(move || trace(v4, protocol, &settings))
            .await
            .unwrap_or_else(|e| failed(ip, protocol, e.to_string())),
        IpAddr::V6(_) => failed(ip, protocol, "traces measure IPv4 only".to_owned()),
    };
    envelope(target, started_at, clock.elapsed(), MeasurementResult::Trace(result))
}

/// The blocking trace.
pub fn trace(dst: Ipv4Addr, protocol: TraceProtocol, settings: &TraceSettings) -> TraceResult {
    let ip = IpAddr::V4(dst);
    let icmp_socket = match RawSocket::icmp(settings.egress.as_ref()) {
        Ok(s) => s,
        Err(err) => return failed(ip, protocol, super::error_detail(&err)),
    };
    let tcp_socket = match protocol {
        TraceProtocol::Icmp => None,
        TraceProtocol::Tcp(_) => match RawSocket::tcp(settings.egress.as_ref()) {
            Ok(s) => Some(s),
            Err(err) => return failed(ip, protocol, super::error_detail(&err)),
        },
    };
    let src = match source_address_for(dst, settings.egress.as_ref()) {
        Ok(s) => s,
        Err(err) => return failed(ip, protocol, super::error_detail(&err)),
    };
    let id = fastrand::u16(1..);
    let sport = fastrand::u16(32768..61000);
    let mut hops = Vec::new();
    let mut reached = false;
    let mut unreachable = false;
    let mut silent = 0u8;
    for ttl in 1..=settings.max_hops {
        let sent = Instant::now();
        let send = match (protocol, &tcp_socket) {
            (TraceProtocol::Tcp(port), Some(socket)) => socket
                .set_ttl(u32::from(ttl))
                .and_then(|()| socket.send_to(&tcp::syn(src, dst, sport, port, u32::from(ttl)), dst)),
            _ => icmp_socket
                .set_ttl(u32::from(ttl))
                .and_then(|()| icmp_socket.send_to(&icmp::echo_request(id, u16::from(ttl), b"vigil-trace"), dst)),
        };
        if let Err(err) = send {
            return TraceResult {
                error_detail: Some(super::error_detail(&err)),
                ..finish(ip, protocol, hops, Outcome::NoRoute)
            };
        }
        let answer = wait_hop(
            &icmp_socket,
            tcp_socket.as_ref(),
            protocol,
            dst,
            id,
            sport,
            ttl,
            sent,
            settings.hop_timeout,
        );
        let hop = TraceHop {
            ttl,
            ip: answer.map(|a| IpAddr::V4(a.from)),
            rtt_ms: answer.map(|a| a.rtt.as_secs_f64() * 1000.0),
            local: answer.map(|a| is_local(a.from, settings)),
        };
        hops.push(hop);
        match answer {
            Some(a) if a.from == dst && a.kind != AnswerKind::Unreachable => {
                reached = true;
                break;
            }
            Some(a) if a.kind == AnswerKind::Unreachable => {
                unreachable = true;
                break;
            }
            Some(_) => silent = 0,
            None => {
                silent += 1;
                if silent >= settings.give_up_after {
                    break;
                }
            }
        }
    }
    let outcome = if reached {
        Outcome::Ok
    } else if unreachable {
        Outcome::Unreachable
    } else {
        Outcome::Timeout
    };
    let mut result = finish(ip, protocol, hops, outcome);
    if !reached {
        let last_answer = result.hops.iter().rev().find(|h| h.ip.is_some()).map_or(0, |h| h.ttl);
        result.stopped_at_ttl = Some(last_answer.saturating_add(1));
    }
    result
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AnswerKind {
    TimeExceeded,
    Unreachable,
    Target,
}

#[derive(Debug, Clone, Copy)]
struct HopAnswer {
    from: Ipv4Addr,
    rtt: Duration,
    kind: AnswerKind,
}

#[allow(clippy::too_many_arguments)]
fn wait_hop(
    icmp_socket: &RawSocket,
    tcp_socket: Option<&RawSocket>,
    protocol: TraceProtocol,
    dst: Ipv4Addr,
    id: u16,
    sport: u16,
    ttl: u8,
    sent: Instant,
    timeout: Duration,
) -> Option<HopAnswer> {
    let deadline = sent + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let slice = left.min(Duration::from_millis(10));
        if let Ok(Some(packet)) = icmp_socket.recv(slice) {
            let ours = |quoted: &icmp::Quoted| match protocol {
                TraceProtocol::Icmp => quoted.echo == Some((id, u16::from(ttl))),
                TraceProtocol::Tcp(port) => quoted.ports == Some((sport, port)),
            };
            match icmp::parse(&packet.payload) {
                Some(IcmpMessage::EchoReply { id: got, seq })
                    if protocol == TraceProtocol::Icmp && got == id && seq == u16::from(ttl) && packet.from == dst =>
                {
                    return Some(HopAnswer {
                        from: packet.from,
                        rtt: sent.elapsed(),
                        kind: AnswerKind::Target,
                    });
                }
                Some(IcmpMessage::Error { icmp_type, quoted, .. }) if quoted.destination == dst && ours(&quoted) => {
                    let kind = if icmp_type == icmp::TIME_EXCEEDED {
                        AnswerKind::TimeExceeded
                    } else {
                        AnswerKind::Unreachable
                    };
                    return Some(HopAnswer {
                        from: packet.from,
                        rtt: sent.elapsed(),
                        kind,
                    });
                }
                _ => {}
            }
        }
        if let (TraceProtocol::Tcp(port), Some(socket)) = (protocol, tcp_socket)
            && let Ok(Some(packet)) = socket.recv(Duration::from_millis(1))
            && packet.from == dst
            && let Some(seg) = tcp::parse(&packet.payload)
            && seg.source == port
            && seg.destination == sport
        {
            return Some(HopAnswer {
                from: dst,
                rtt: sent.elapsed(),
                kind: AnswerKind::Target,
            });
        }
    }
    None
}

fn is_local(ip: Ipv4Addr, settings: &TraceSettings) -> bool {
    settings.local_prefixes.iter().any(|p| p.contains(&ip))
        || (settings.private_is_local && (ip.is_private() || ip.is_link_local() || ip.is_loopback()))
}

fn finish(ip: IpAddr, protocol: TraceProtocol, hops: Vec<TraceHop>, outcome: Outcome) -> TraceResult {
    let (name, port) = match protocol {
        TraceProtocol::Icmp => ("icmp", None),
        TraceProtocol::Tcp(p) => ("tcp", Some(p)),
    };
    TraceResult {
        outcome,
        ip,
        hops,
        protocol: Some(name.to_owned()),
        port,
        stopped_at_ttl: None,
        error_detail: None,
    }
}

fn failed(ip: IpAddr, protocol: TraceProtocol, detail: String) -> TraceResult {
    TraceResult {
        error_detail: Some(vigil_measurement::scrub_ip_addresses(&detail).into_owned()),
        ..finish(ip, protocol, Vec::new(), Outcome::Error)
    }
}
