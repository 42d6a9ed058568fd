//! `kind: tcp` — one TCP handshake (connect() or a raw SYN).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::Outcome;

/// The result of one TCP reachability test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TcpResult {
    /// How the handshake ended.
    pub outcome: Outcome,
    /// The address tried.
    pub ip: IpAddr,
    /// The port tried.
    pub port: u16,
    /// `connect` (kernel socket) or `syn` (raw packet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// What came back to a raw SYN: `syn_ack`, `rst`, `no_reply`, `icmp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// IP TTL of the reply packet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_ttl: Option<u8>,
    /// IP identification field of the reply packet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_ip_id: Option<u16>,
    /// Whether the RST looks injected (its TTL or IP-ID differs from the host's own SYN-ACKs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injected_rst: Option<bool>,
    /// Handshake round-trip time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Failure text outside the closed set, scrubbed of IP addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
}
