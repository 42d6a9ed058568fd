//! ICMPv4: echo requests to send, and what comes back — echo replies, and errors (destination unreachable,
//! time exceeded) that quote the datagram they are about, so a check can tell its own probes from the rest of
//! the namespace's traffic (a raw socket sees every ICMP packet).

use std::net::Ipv4Addr;

use pnet_packet::Packet;
use pnet_packet::icmp::{IcmpPacket, IcmpTypes, MutableIcmpPacket};

use super::ipv4;

/// ICMP type of a destination-unreachable error.
pub const DEST_UNREACHABLE: u8 = 3;
/// ICMP type of a time-exceeded error (a router dropped a TTL-expired probe).
pub const TIME_EXCEEDED: u8 = 11;

/// Unreachable codes that mean a filter refused the packet (RFC 1812: net/host prohibited, communication
/// administratively prohibited).
#[cfg(test)]
pub fn is_admin_prohibited(code: u8) -> bool {
    matches!(code, 9 | 10 | 13)
}

/// An echo request with identifier, sequence number and payload, checksummed.
pub fn echo_request(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 8 + payload.len()];
    buf[4..6].copy_from_slice(&id.to_be_bytes());
    buf[6..8].copy_from_slice(&seq.to_be_bytes());
    buf[8..].copy_from_slice(payload);
    if let Some(mut packet) = MutableIcmpPacket::new(&mut buf) {
        packet.set_icmp_type(IcmpTypes::EchoRequest);
        let checksum = pnet_packet::icmp::checksum(&packet.to_immutable());
        packet.set_checksum(checksum);
    }
    buf
}

/// The datagram an ICMP error is about, as far as it is quoted (IP header and the first 8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    /// Where the original datagram was going.
    pub destination: Ipv4Addr,
    /// Its protocol (1 ICMP, 6 TCP).
    pub protocol: u8,
    /// For a quoted echo request: (identifier, sequence).
    pub echo: Option<(u16, u16)>,
    /// For a quoted TCP segment: (source port, destination port).
    pub ports: Option<(u16, u16)>,
}

/// An ICMP message, as far as the checks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpMessage {
    /// An echo reply.
    EchoReply {
        /// Identifier.
        id: u16,
        /// Sequence number.
        seq: u16,
    },
    /// Destination unreachable or time exceeded, about a quoted datagram.
    Error {
        /// 3 or 11.
        icmp_type: u8,
        /// The code (for unreachable: 0 net, 1 host, 3 port, 13 administratively prohibited, …).
        code: u8,
        /// The datagram it is about.
        quoted: Quoted,
    },
    /// Anything else.
    Other {
        /// Type.
        icmp_type: u8,
        /// Code.
        code: u8,
    },
}

/// Parses an ICMP message (without IP header).
pub fn parse(bytes: &[u8]) -> Option<IcmpMessage> {
    let packet = IcmpPacket::new(bytes)?;
    let icmp_type = packet.get_icmp_type().0;
    let code = packet.get_icmp_code().0;
    let rest = packet.payload();
    match icmp_type {
        0 if rest.len() >= 4 => Some(IcmpMessage::EchoReply {
            id: u16::from_be_bytes([rest[0], rest[1]]),
            seq: u16::from_be_bytes([rest[2], rest[3]]),
        }),
        DEST_UNREACHABLE | TIME_EXCEEDED => {
            // Four unused bytes, then the original IP header and at least 8 bytes of its payload.
            let (header, inner) = ipv4::split(rest.get(4..)?).or_else(|| quoted_header(rest.get(4..)?))?;
            let echo = (header.protocol == 1 && inner.len() >= 8 && inner[0] == 8).then(|| {
                (
                    u16::from_be_bytes([inner[4], inner[5]]),
                    u16::from_be_bytes([inner[6], inner[7]]),
                )
            });
            let ports = (header.protocol == 6 && inner.len() >= 4).then(|| {
                (
                    u16::from_be_bytes([inner[0], inner[1]]),
                    u16::from_be_bytes([inner[2], inner[3]]),
                )
            });
            Some(IcmpMessage::Error {
                icmp_type,
                code,
                quoted: Quoted {
                    destination: header.destination,
                    protocol: header.protocol,
                    echo,
                    ports,
                },
            })
        }
        _ => Some(IcmpMessage::Other { icmp_type, code }),
    }
}

/// A quoted header whose total-length field claims more than was quoted: take the header length only.
fn quoted_header(bytes: &[u8]) -> Option<(ipv4::Ipv4Header, &[u8])> {
    let header_len = usize::from(bytes.first()? & 0x0f) * 4;
    if header_len < 20 || bytes.len() < header_len {
        return None;
    }
    let mut copy = bytes.to_vec();
    let total = u16::try_from(bytes.len()).ok()?.to_be_bytes();
    copy[2] = total[0];
    copy[3] = total[1];
    let (header, _) = ipv4::split(&copy)?;
    Some((header, &bytes[header_len..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::hex;

    #[test]
    fn echo_requests_are_built_with_their_checksum() {
        assert_eq!(echo_request(0x1234, 1, b"vigil"), hex("08009bf712340001766967696c"));
    }

    #[test]
    fn echo_replies_give_their_id_and_sequence() {
        let mut reply = echo_request(0x1234, 9, b"x");
        reply[0] = 0;
        assert_eq!(parse(&reply), Some(IcmpMessage::EchoReply { id: 0x1234, seq: 9 }));
    }

    #[test]
    fn time_exceeded_quotes_our_echo() {
        let msg = parse(&hex(
            "0b007fa2000000004500001c00010000010100000a0000020a0001020800000012340007",
        ))
        .expect("icmp");
        assert_eq!(
            msg,
            IcmpMessage::Error {
                icmp_type: TIME_EXCEEDED,
                code: 0,
                quoted: Quoted {
                    destination: Ipv4Addr::new(10, 0, 1, 2),
                    protocol: 1,
                    echo: Some((0x1234, 7)),
                    ports: None,
                },
            }
        );
    }

    #[test]
    fn admin_prohibited_quotes_our_syn_ports() {
        let msg = parse(&hex(
            "030dc0bc000000004500002800020000400600000a0000020a0001029c4001bb01020304",
        ))
        .expect("icmp");
        let IcmpMessage::Error {
            icmp_type,
            code,
            quoted,
        } = msg
        else {
            panic!("{msg:?}")
        };
        assert_eq!(
            (icmp_type, code, quoted.ports),
            (DEST_UNREACHABLE, 13, Some((40000, 443)))
        );
        assert!(is_admin_prohibited(code));
    }

    #[test]
    fn truncated_messages_do_not_panic() {
        for len in 0..36 {
            let bytes = hex("030dc0bc000000004500002800020000400600000a0000020a0001029c4001bb01020304");
            let _ = parse(&bytes[..len]);
        }
    }
}
