//! The raw TCP SYN check (needs CAP_NET_RAW): send one SYN, see what comes back — `syn_ack`, `rst`, an ICMP
//! error, or nothing — with the reply's TTL and IP-ID.
//!
//! A **likely injected RST** is flagged when the RST's TTL differs by more than 2 from the SYN-ACKs the same host
//! sent (on this try or an earlier one, remembered per host), or when a RST and a SYN-ACK both answer the same
//! SYN (an on-path injector racing the real server). The kernel, which knows nothing of our raw SYN, answers a
//! SYN-ACK with its own RST; that is harmless for the measurement (the SYN-ACK was already seen).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigil_measurement::result::TcpResult;
use vigil_measurement::{Measurement, MeasurementResult, Outcome, Target};

use super::envelope;
use crate::net::{Egress, PacketSocket, RawSocket, source_address_for};
use crate::packet::icmp::{self, IcmpMessage};
use crate::packet::tcp;

/// How long to keep listening after the first answer, for a second one racing it.
const RACE_WINDOW: Duration = Duration::from_millis(300);

/// TTLs of SYN-ACKs seen per host, shared across checks.
#[derive(Debug, Clone, Default)]
pub struct SynAckTtls(Arc<Mutex<HashMap<Ipv4Addr, u8>>>);

impl SynAckTtls {
    fn get(&self, host: Ipv4Addr) -> Option<u8> {
        self.0.lock().ok()?.get(&host).copied()
    }

    fn remember(&self, host: Ipv4Addr, ttl: u8) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(host, ttl);
        }
    }
}

/// Sends a SYN to `ip:port`, out by `egress` when given; never fails (a failure is the result).
pub async fn check(
    ip: IpAddr,
    port: u16,
    timeout: Duration,
    ttls: SynAckTtls,
    egress: Option<Egress>,
    target: Target,
) -> Measurement {
    let started_at = chrono::Utc::now();
    let clock = Instant::now();
    let result = match ip {
        IpAddr::V4(v4) => tokio::task::spawn_blocking(move || probe(v4, port, timeout, &ttls, egress.as_ref()))
            .await
            .unwrap_or_else(|e| empty(ip, port, Outcome::Error, Some(e.to_string()))),
        IpAddr::V6(_) => empty(
            ip,
            port,
            Outcome::Error,
            Some("raw SYN checks measure IPv4 only".to_owned()),
        ),
    };
    envelope(target, started_at, clock.elapsed(), MeasurementResult::Tcp(result))
}

#[derive(Debug, Clone, Copy)]
struct Reply {
    ttl: u8,
    ip_id: u16,
    at: Duration,
}

/// The blocking SYN exchange, out by `egress` when given.
pub fn probe(dst: Ipv4Addr, port: u16, timeout: Duration, ttls: &SynAckTtls, egress: Option<&Egress>) -> TcpResult {
    let ip = IpAddr::V4(dst);
    let sockets = RawSocket::tcp(egress).and_then(|t| RawSocket::icmp(egress).map(|i| (t, i)));
    let (tcp_socket, icmp_socket) = match sockets {
        Ok(s) => s,
        Err(err) => return empty(ip, port, Outcome::Error, Some(super::error_detail(&err))),
    };
    let src = match source_address_for(dst, egress) {
        Ok(src) => src,
        Err(err) => return empty(ip, port, super::tcp::connect_failure(&err).0, None),
    };
    let sport = fastrand::u16(32768..61000);
    let seq = fastrand::u32(..);
    let sent = Instant::now();
    if let Err(err) = tcp_socket.send_to(&tcp::syn(src, dst, sport, port, seq), dst) {
        let (outcome, detail) = super::tcp::connect_failure(&err);
        return empty(ip, port, outcome, detail);
    }
    let (mut syn_ack, mut rst, mut icmp_error): (Option<Reply>, Option<Reply>, Option<(u8, u8)>) = (None, None, None);
    let mut deadline = sent + timeout;
    let slice = Duration::from_millis(10);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let wait = left.min(slice);
        if let Ok(Some(packet)) = tcp_socket.recv(wait)
            && packet.from == dst
            && let (Some(header), Some(seg)) = (packet.ip, tcp::parse(&packet.payload))
            && seg.source == port
            && seg.destination == sport
        {
            let reply = Reply {
                ttl: header.ttl,
                ip_id: header.identification,
                at: sent.elapsed(),
            };
            if seg.is_syn_ack() && seg.ack == seq.wrapping_add(1) {
                syn_ack.get_or_insert(reply);
            } else if seg.is_rst() {
                rst.get_or_insert(reply);
            }
        }
        if let Ok(Some(packet)) = icmp_socket.recv(Duration::from_millis(1))
            && let Some(IcmpMessage::Error {
                icmp_type,
                code,
                quoted,
            }) = icmp::parse(&packet.payload)
            && quoted.destination == dst
            && quoted.ports == Some((sport, port))
        {
            icmp_error.get_or_insert((icmp_type, code));
        }
        if syn_ack.is_some() || rst.is_some() || icmp_error.is_some() {
            // Keep listening briefly for a second answer racing the first.
            deadline = deadline.min(sent + sent.elapsed() + RACE_WINDOW);
            if syn_ack.is_some() && rst.is_some() {
                break;
            }
        }
    }
    if let Some(reply) = syn_ack {
        ttls.remember(dst, reply.ttl);
    }
    let known_ttl = syn_ack.map(|r| r.ttl).or_else(|| ttls.get(dst));
    let injected = match (rst, syn_ack) {
        (Some(_), Some(_)) => Some(true),
        (Some(r), None) => known_ttl.map(|t| t.abs_diff(r.ttl) > 2),
        _ => None,
    };
    let (outcome, reply_kind, reply) = match (syn_ack, rst, icmp_error) {
        // Both answered: whichever came first decides what a client would have seen.
        (Some(sa), Some(r), _) if r.at <= sa.at => (Outcome::Reset, "rst", Some(r)),
        (Some(sa), _, _) => (Outcome::Ok, "syn_ack", Some(sa)),
        (None, Some(r), _) => (Outcome::Refused, "rst", Some(r)),
        (None, None, Some(_)) => (Outcome::Unreachable, "icmp", None),
        (None, None, None) => (Outcome::Timeout, "no_reply", None),
    };
    TcpResult {
        outcome,
        ip,
        port,
        method: Some("syn".to_owned()),
        reply: Some(reply_kind.to_owned()),
        reply_ttl: reply.map(|r| r.ttl),
        reply_ip_id: reply.map(|r| r.ip_id),
        injected_rst: injected,
        rtt_ms: reply.map(|r| r.at.as_secs_f64() * 1000.0),
        error_detail: icmp_error.map(|(t, c)| format!("ICMP type {t} code {c}")),
    }
}

fn empty(ip: IpAddr, port: u16, outcome: Outcome, detail: Option<String>) -> TcpResult {
    TcpResult {
        outcome,
        ip,
        port,
        method: Some("syn".to_owned()),
        reply: None,
        reply_ttl: None,
        reply_ip_id: None,
        injected_rst: None,
        rtt_ms: None,
        error_detail: detail,
    }
}
