//! `kind: http` — one fetch of one URL, redirects followed.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::Outcome;

/// The result of one HTTP(S) fetch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpResult {
    /// How the fetch ended.
    pub outcome: Outcome,
    /// The URL first requested.
    pub url: String,
    /// Final HTTP status, or `null` when no response came back. Must be present.
    #[serde(deserialize_with = "crate::nullable::required")]
    pub status: Option<u16>,
    /// Every URL visited after the first, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<String>,
    /// A bounded selection of the final response's headers (lower-case names).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Bytes of body read (at most the probe's body cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_length: Option<u64>,
    /// Hex SHA-256 of the body bytes read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
    /// The page's `<title>`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Name of the blockpage fingerprint matched, when `outcome` is `blockpage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Where a failure happened: `dns`, `connect`, `tls`, `request`, `response`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_stage: Option<String>,
    /// The negotiated TLS version (`TLSv1.3`), for HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_version: Option<String>,
    /// Address of the server that answered (a target's address, never the probe's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_ip: Option<IpAddr>,
    /// Body throughput in bytes per second, sampled for anchors so throttling can be seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_bps: Option<f64>,
    /// Failure text outside the closed set, scrubbed of IP addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
}
