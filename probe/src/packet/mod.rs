//! Packet building and parsing for the packet-level checks: pure functions over bytes, no sockets, tested with
//! hex fixtures. IPv4 only (the packet-level checks measure IPv4 paths; DNS and HTTP cover IPv6).

pub mod icmp;
pub mod ipv4;
pub mod tcp;

/// Decodes a hex string (fixtures in tests).
#[cfg(test)]
pub(crate) fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}
