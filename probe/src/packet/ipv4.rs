//! IPv4 headers as raw sockets deliver them: who sent it, with which TTL and identification.

use std::net::Ipv4Addr;

use pnet_packet::Packet;
use pnet_packet::ipv4::Ipv4Packet;

/// The IPv4 header fields the checks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Sender.
    pub source: Ipv4Addr,
    /// Receiver.
    pub destination: Ipv4Addr,
    /// TTL on arrival: what is left tells how many hops away the sender (or an injector) is.
    pub ttl: u8,
    /// Identification field.
    pub identification: u16,
    /// Protocol number of the payload (1 ICMP, 6 TCP).
    pub protocol: u8,
}

/// Splits an IPv4 packet into its header fields and payload; `None` for anything that is not IPv4.
pub fn split(packet: &[u8]) -> Option<(Ipv4Header, &[u8])> {
    let ip = Ipv4Packet::new(packet)?;
    if ip.get_version() != 4 {
        return None;
    }
    let header_len = usize::from(ip.get_header_length()) * 4;
    if header_len < 20 || packet.len() < header_len {
        return None;
    }
    let total = usize::from(ip.get_total_length()).clamp(header_len, packet.len());
    let header = Ipv4Header {
        source: ip.get_source(),
        destination: ip.get_destination(),
        ttl: ip.get_ttl(),
        identification: ip.get_identification(),
        protocol: ip.get_next_level_protocol().0,
    };
    // Keep pnet's view honest: the payload it sees starts where we say it does.
    debug_assert!(ip.payload().len() <= packet.len() - header_len);
    Some((header, &packet[header_len..total]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::hex;

    #[test]
    fn a_syn_ack_header_gives_its_ttl_and_id() {
        let bytes = hex("45000028424240003f06e48a0a0001020a00000201bb9c40aabbccdd010203055012fe8800000000");
        let (h, payload) = split(&bytes).expect("ipv4");
        assert_eq!(h.source, Ipv4Addr::new(10, 0, 1, 2));
        assert_eq!((h.ttl, h.identification, h.protocol), (63, 0x4242, 6));
        assert_eq!(payload.len(), 20);
    }

    #[test]
    fn garbage_and_ipv6_are_refused() {
        assert!(split(&[0x60, 0, 0, 0]).is_none());
        assert!(split(&hex("4f00")).is_none());
        assert!(split(&[]).is_none());
    }
}
