//! The six kinds of measurement a probe makes.

use serde::{Deserialize, Serialize};

/// Which check produced a measurement; selects the shape of its `result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A DNS query to one resolver.
    Dns,
    /// An HTTP(S) fetch of one URL.
    Http,
    /// A TCP handshake to one address and port.
    Tcp,
    /// ICMP echo requests to one address.
    Icmp,
    /// A TTL-limited path trace to one address.
    Trace,
    /// The probe's own health: boot, power, gateway, link, spool.
    Vitals,
}

impl Kind {
    /// Every kind, in wire order.
    pub const ALL: [Kind; 6] = [Kind::Dns, Kind::Http, Kind::Tcp, Kind::Icmp, Kind::Trace, Kind::Vitals];

    /// The stable wire string of this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dns => "dns",
            Kind::Http => "http",
            Kind::Tcp => "tcp",
            Kind::Icmp => "icmp",
            Kind::Trace => "trace",
            Kind::Vitals => "vitals",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of the six kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown measurement kind `{0}` (expected dns, http, tcp, icmp, trace or vitals)")]
pub struct UnknownKind(pub String);

impl std::str::FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}
