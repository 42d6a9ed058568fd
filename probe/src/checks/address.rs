//! Address classification: bogons (addresses that never belong to a public name) and the prefixes used to
//! compare DNS answers without being fooled by load balancing.

use std::net::IpAddr;

/// Whether an address can never be a public name's real answer: unspecified, loopback, private (RFC 1918 and
/// ULA), link-local, shared (RFC 6598), documentation-free reserved ranges, multicast, broadcast.
pub fn is_bogon(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_bogon(IpAddr::V4(v4)))
        }
    }
}

/// The network an answer belongs to for comparison: its /24 (IPv4) or /48 (IPv6).
pub fn comparison_prefix(ip: IpAddr) -> (u8, u128) {
    match ip {
        IpAddr::V4(v4) => (4, u128::from(u32::from(v4) >> 8)),
        IpAddr::V6(v6) => (6, u128::from(v6) >> 80),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bogons_and_public_addresses_are_told_apart() {
        for bogon in [
            "0.0.0.0",
            "127.0.0.1",
            "10.10.34.34",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_bogon(bogon.parse().expect("ip")), "{bogon}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "100.128.0.1"] {
            assert!(!is_bogon(public.parse().expect("ip")), "{public}");
        }
    }

    #[test]
    fn prefixes_group_neighbours() {
        let p = |s: &str| comparison_prefix(s.parse().expect("ip"));
        assert_eq!(p("192.0.2.1"), p("192.0.2.200"));
        assert_ne!(p("192.0.2.1"), p("192.0.3.1"));
        assert_eq!(p("2001:db8:1::1"), p("2001:db8:1:ffff::9"));
        assert_ne!(p("2001:db8:1::1"), p("2001:db8:2::1"));
    }
}
