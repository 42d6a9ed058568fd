//! `kind: trace` — a TTL-limited path trace.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::Outcome;

/// The result of one path trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceResult {
    /// How the trace ended (`ok` when the target answered).
    pub outcome: Outcome,
    /// The target address.
    pub ip: IpAddr,
    /// One entry per TTL tried, in order.
    pub hops: Vec<TraceHop>,
    /// `icmp` or `tcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Destination port, for TCP traces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The first TTL after which nothing answered, when responses stopped before the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at_ttl: Option<u8>,
    /// Failure text outside the closed set, scrubbed of IP addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
}

/// One hop of a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceHop {
    /// The TTL sent.
    pub ttl: u8,
    /// Who answered at this TTL, or `null`. Must be present.
    #[serde(deserialize_with = "crate::nullable::required")]
    pub ip: Option<IpAddr>,
    /// Round trip to that hop, or `null`. Must be present.
    #[serde(deserialize_with = "crate::nullable::required")]
    pub rtt_ms: Option<f64>,
    /// Whether the hop lies inside the probe's own network (private range or configured local prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<bool>,
}
