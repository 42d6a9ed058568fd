//! The address a probe uploads from, and the check that keeps it out of storage. The probe withholds its own
//! addresses from what it sends; this is the collector's half: the one address it can be sure of is the one the
//! probe connects from, and a batch that writes it anywhere is refused with that address, so the probe learns it,
//! withholds it and sends again (the batch stays in its spool meanwhile).

use std::net::{IpAddr, SocketAddr};

/// The probe's address: the connection's peer, or behind a trusted reverse proxy the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy. `None` when it cannot be known (a trusted proxy
/// that sent no usable header) or says nothing about the probe (loopback, unspecified).
pub fn client_address(peer: Option<SocketAddr>, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?.ip().to_canonical();
    let client = if trusted.iter().any(|t| t.to_canonical() == peer) {
        let chain = forwarded_for?;
        let mut client = None;
        for entry in chain.rsplit(',') {
            let addr = parse_forwarded_entry(entry)?.to_canonical();
            if !trusted.iter().any(|t| t.to_canonical() == addr) {
                client = Some(addr);
                break;
            }
        }
        client?
    } else {
        peer
    };
    (!client.is_loopback() && !client.is_unspecified()).then_some(client)
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`, `[2001:db8::1]:5678`).
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(addr) = entry.parse::<IpAddr>() {
        return Some(addr);
    }
    entry.parse::<SocketAddr>().ok().map(|s| s.ip())
}

/// The 1-based number of the first line of a decoded batch that writes `address`, if any.
pub fn line_mentioning(decoded: &[u8], address: IpAddr) -> Option<usize> {
    decoded
        .split(|&b| b == b'\n')
        .position(|line| vigil_measurement::mentions_address(&String::from_utf8_lossy(line), address))
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock(s: &str) -> Option<SocketAddr> {
        Some(s.parse().expect("socket address"))
    }

    #[test]
    fn a_direct_peer_is_the_client() {
        assert_eq!(
            client_address(sock("10.88.2.2:40000"), Some("10.9.9.9"), &[]),
            Some("10.88.2.2".parse().expect("ip"))
        );
        assert_eq!(
            client_address(sock("[::ffff:10.88.2.2]:40000"), None, &[]),
            Some("10.88.2.2".parse().expect("ip"))
        );
        assert_eq!(client_address(sock("127.0.0.1:40000"), None, &[]), None);
        assert_eq!(client_address(None, Some("10.9.9.9"), &[]), None);
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_entry_is_the_client() {
        let trusted: Vec<IpAddr> = vec!["10.0.0.5".parse().expect("ip"), "10.0.0.6".parse().expect("ip")];
        assert_eq!(
            client_address(sock("10.0.0.5:1"), Some("10.1.1.1, 10.88.2.2:5555, 10.0.0.6"), &trusted),
            Some("10.88.2.2".parse().expect("ip"))
        );
        assert_eq!(client_address(sock("10.0.0.5:1"), None, &trusted), None);
        assert_eq!(client_address(sock("10.0.0.5:1"), Some("garbage"), &trusted), None);
        assert_eq!(
            client_address(sock("10.0.0.7:1"), Some("10.88.2.2"), &trusted),
            Some("10.0.0.7".parse().expect("ip")),
            "an untrusted peer's header is ignored"
        );
    }

    #[test]
    fn the_line_that_writes_the_address_is_found() {
        let body = b"{\"a\":\"10.88.2.22\"}\n{\"hops\":[{\"ip\":\"10.88.2.2\"}]}\n";
        assert_eq!(line_mentioning(body, "10.88.2.2".parse().expect("ip")), Some(2));
        assert_eq!(line_mentioning(body, "10.88.2.3".parse().expect("ip")), None);
    }
}
