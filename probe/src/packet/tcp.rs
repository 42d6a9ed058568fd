//! TCP segments for the raw SYN check: a SYN to send (checksummed over the IPv4 pseudo-header) and what comes
//! back (SYN-ACK, RST).

use std::net::Ipv4Addr;

use pnet_packet::tcp::{MutableTcpPacket, TcpFlags, TcpPacket};

/// A 20-byte SYN from `src:sport` to `dst:dport` with initial sequence number `seq`.
pub fn syn(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, seq: u32) -> Vec<u8> {
    let mut buf = vec![0u8; 20];
    if let Some(mut tcp) = MutableTcpPacket::new(&mut buf) {
        tcp.set_source(sport);
        tcp.set_destination(dport);
        tcp.set_sequence(seq);
        tcp.set_data_offset(5);
        tcp.set_flags(TcpFlags::SYN);
        tcp.set_window(64240);
        let checksum = pnet_packet::tcp::ipv4_checksum(&tcp.to_immutable(), &src, &dst);
        tcp.set_checksum(checksum);
    }
    buf
}

/// The TCP fields the SYN check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Source port.
    pub source: u16,
    /// Destination port.
    pub destination: u16,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags byte.
    pub flags: u8,
}

impl Segment {
    /// A SYN-ACK: the port is open.
    pub fn is_syn_ack(&self) -> bool {
        self.flags & (TcpFlags::SYN | TcpFlags::ACK) == TcpFlags::SYN | TcpFlags::ACK
    }

    /// A reset.
    pub fn is_rst(&self) -> bool {
        self.flags & TcpFlags::RST != 0
    }
}

/// Parses a TCP segment (without IP header).
pub fn parse(bytes: &[u8]) -> Option<Segment> {
    let tcp = TcpPacket::new(bytes)?;
    Some(Segment {
        source: tcp.get_source(),
        destination: tcp.get_destination(),
        ack: tcp.get_acknowledgement(),
        flags: tcp.get_flags(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{hex, ipv4};

    #[test]
    fn a_syn_is_built_with_its_pseudo_header_checksum() {
        let bytes = syn(
            Ipv4Addr::new(10, 0, 0, 2),
            Ipv4Addr::new(10, 0, 1, 2),
            40000,
            443,
            0x01020304,
        );
        assert_eq!(bytes, hex("9c4001bb01020304000000005002faf0fdec0000"));
    }

    #[test]
    fn a_syn_ack_is_recognised_and_acknowledges_our_sequence() {
        let packet = hex("45000028424240003f06e48a0a0001020a00000201bb9c40aabbccdd010203055012fe8800000000");
        let (_, payload) = ipv4::split(&packet).expect("ipv4");
        let seg = parse(payload).expect("tcp");
        assert!(seg.is_syn_ack() && !seg.is_rst());
        assert_eq!((seg.source, seg.destination, seg.ack), (443, 40000, 0x01020305));
    }

    #[test]
    fn a_reset_is_recognised() {
        // 443 → 40000, ack 0x01020305, RST+ACK.
        let seg = hex("01bb9c40000000000102030550140000000000000000");
        let parsed = parse(&seg[..20]).expect("tcp");
        assert!(parsed.is_rst() && !parsed.is_syn_ack());
    }
}
