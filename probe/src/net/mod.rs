//! Sockets: for the packet-level checks, behind one small trait ([`PacketSocket`]) so the checks see only send
//! and receive, with the privilege question answered once at start ([`PacketMode`]); and the way every socket
//! leaves the machine — one uplink's interface ([`Egress`]) and its name lookups ([`NetPath`]).
//!
//! With CAP_NET_RAW the probe uses raw IPv4 sockets (ICMP and TCP), which see every packet of their protocol
//! in the network namespace, TTLs and IP-IDs included. Without it, ICMP goes through the kernel's unprivileged
//! "ping" datagram sockets (when `net.ipv4.ping_group_range` admits the probe's group), TCP through connect(),
//! and there is no trace.

mod counted_dns;
mod egress;
mod path;
mod privilege;
mod socket;

pub use counted_dns::CountingRuntime;
pub use egress::{BindMethod, Egress, bind_udp, connect_tcp};
pub use path::{CountedResolver, NetPath};
pub use privilege::{PacketMode, detect_packet_mode};
pub use socket::{DgramIcmpSocket, PacketSocket, RawSocket, source_address_for};
