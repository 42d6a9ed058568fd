//! `kind: icmp` — a run of echo requests to one address.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::Outcome;

/// The result of one ICMP echo run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IcmpResult {
    /// How the run ended (`ok` when at least one reply came back).
    pub outcome: Outcome,
    /// The address pinged.
    pub ip: IpAddr,
    /// Echo requests sent.
    pub sent: u32,
    /// Echo replies received.
    pub received: u32,
    /// Fastest round trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_min_ms: Option<f64>,
    /// Mean round trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_avg_ms: Option<f64>,
    /// Slowest round trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_max_ms: Option<f64>,
    /// ICMP type of an error that came back instead of a reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    /// ICMP code of that error (13 = administratively prohibited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    /// `raw` or `dgram` (unprivileged socket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Failure text outside the closed set, scrubbed of IP addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
}
