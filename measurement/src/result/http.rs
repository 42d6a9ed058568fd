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
    /// When an HTTPS fetch failed in its TLS handshake: the same address asked again with the real server name and
    /// with a control name, to tell a filter on the name (SNI) from a server that is down or broken. Optional in
    /// schema 1 (older collectors ignore it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<SniTest>,
    /// When the site announced HTTP/3 (`alt-svc: h3`): the same site asked over QUIC in the same check, to tell a
    /// block of QUIC (UDP) from the site itself. Optional in schema 1 (older collectors ignore it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quic: Option<Box<QuicTest>>,
}

/// Two TLS handshakes to the address an HTTPS fetch failed its handshake with, over the same path: one naming the
/// target (`server_name`), one naming a control (`control_name`) — the control first, as a censor that remembers a
/// blocked name may block the address for a while after it. A filter on the name lets the control's handshake
/// through and stops the target's: `answered` false, `control_answered` true. A server down or broken answers
/// neither, or both the same (an expired certificate is answered to both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SniTest {
    /// The target's name, as the fetch sent it.
    pub server_name: String,
    /// How the handshake naming the target ended (`ok`, `reset`, `timeout`, `tls_error`, …).
    pub outcome: Outcome,
    /// Whether the server's side of that handshake came back: its certificate (valid or not) or a TLS alert.
    pub answered: bool,
    /// The control name (the probe's `[lists] sni_control`).
    pub control_name: String,
    /// How the handshake naming the control ended; a certificate for another name is still an answer.
    pub control_outcome: Outcome,
    /// Whether the server's side of the control's handshake came back.
    pub control_answered: bool,
    /// What the target's handshake failed with, scrubbed of IP addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
}

impl SniTest {
    /// Whether the pair shows a filter on the server name: the control was answered, the target was not.
    pub fn name_filtered(&self) -> bool {
        self.control_answered && !self.answered
    }
}

/// One HTTP/3 GET over QUIC to a site that announced it (`alt-svc: h3=":PORT"`), made right after its fetch over
/// TCP and TLS, along the same path. QUIC failing while the fetch over TCP loaded is how a block of QUIC (a censor
/// dropping UDP to port 443, Iran before its June 2025 shutdown) shows; OONI's `http3` test compares the same pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuicTest {
    /// The URL asked over HTTP/3: the fetch's last URL, or its first when no response came back.
    pub url: String,
    /// The UDP port the site announced.
    pub port: u16,
    /// How it ended: `ok` (a response came back), `timeout` (the handshake got no answer: UDP dropped),
    /// `tls_error`, `unreachable`, `refused`, `http_error` (QUIC up, HTTP/3 failed), `error`.
    pub outcome: Outcome,
    /// Whether the QUIC handshake completed (TLS 1.3 inside QUIC, ALPN `h3`).
    pub handshake: bool,
    /// The HTTP status that came back over HTTP/3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Bytes of body read (at most the test's cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_length: Option<u64>,
    /// What it failed with, scrubbed of IP addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
}

impl QuicTest {
    /// Whether HTTP/3 failed: no response came back over QUIC.
    pub fn failed(&self) -> bool {
        self.outcome != Outcome::Ok
    }
}
