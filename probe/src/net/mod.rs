//! Sockets for the packet-level checks, behind one small trait ([`PacketSocket`]) so the checks see only
//! send and receive, and the privilege question answered once at start ([`PacketMode`]).
//!
//! With CAP_NET_RAW the probe uses raw IPv4 sockets (ICMP and TCP), which see every packet of their protocol
//! in the network namespace, TTLs and IP-IDs included. Without it, ICMP goes through the kernel's unprivileged
//! "ping" datagram sockets (when `net.ipv4.ping_group_range` admits the probe's group), TCP through connect(),
//! and there is no trace.

mod privilege;
mod socket;

pub use privilege::{PacketMode, detect_packet_mode};
pub use socket::{DgramIcmpSocket, PacketSocket, RawSocket, source_address_for};
