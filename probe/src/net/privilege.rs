//! Which packet-level methods this process may use, found by trying (the only reliable test: capabilities,
//! user namespaces and sysctls all play a part).

use socket2::{Domain, Protocol, Socket, Type};

/// What the probe can do at the packet level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketMode {
    /// Raw sockets (CAP_NET_RAW): ICMP, raw TCP SYN, traces.
    Raw,
    /// No raw sockets. `dgram_icmp`: whether unprivileged ICMP sockets work.
    Unprivileged {
        /// Whether the kernel's ping sockets are open to this process's group.
        dgram_icmp: bool,
    },
}

impl PacketMode {
    /// Whether raw sockets are available.
    pub fn is_raw(self) -> bool {
        self == PacketMode::Raw
    }

    /// Whether any ICMP method is available.
    pub fn can_ping(self) -> bool {
        matches!(self, PacketMode::Raw | PacketMode::Unprivileged { dgram_icmp: true })
    }
}

/// Tries a raw ICMP socket, then an unprivileged ICMP socket; logs once what is missing and how to fix it.
pub fn detect_packet_mode() -> PacketMode {
    if Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).is_ok() {
        return PacketMode::Raw;
    }
    let dgram_icmp = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4)).is_ok();
    tracing::warn!(
        dgram_icmp,
        "no CAP_NET_RAW: ICMP uses unprivileged ping sockets{}, TCP checks use connect() (no TTLs, no injected-RST \
         detection), and there are no traces. To enable them: `sudo setcap cap_net_raw+ep $(command -v vigil-probe)`, \
         or in the systemd unit `AmbientCapabilities=CAP_NET_RAW`.",
        if dgram_icmp {
            ""
        } else {
            " — which this system does not allow either (widen net.ipv4.ping_group_range to include the probe's group), \
             so there is no ICMP"
        }
    );
    PacketMode::Unprivileged { dgram_icmp }
}
