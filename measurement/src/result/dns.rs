//! `kind: dns` — one query to one resolver.

use serde::{Deserialize, Serialize};

use crate::Outcome;

/// The result of one DNS query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsResult {
    /// How the query ended.
    pub outcome: Outcome,
    /// The name asked for.
    pub query: String,
    /// The record type asked for (`A`, `AAAA`, …).
    pub qtype: String,
    /// Which resolver answered: `system`, or a resolver URL such as `udp://9.9.9.9:53`.
    pub resolver: String,
    /// The records in the answer section (empty on failure or for an empty answer).
    pub answers: Vec<DnsAnswer>,
    /// The response code as text (`NOERROR`, `NXDOMAIN`, …), when a response came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rcode: Option<String>,
    /// Name of the blocking fingerprint an answer matched, when `outcome` is `dns_injected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Why the answer was judged injected (`fingerprint`, `bogon`, `control_mismatch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injection_reason: Option<String>,
    /// Failure text outside the closed set, scrubbed of IP addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
}

/// One answer record. On the wire an object `{"type","data","ttl"}`; a bare string is read as `data` alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "DnsAnswerWire")]
pub struct DnsAnswer {
    /// Record type (`A`, `AAAA`, `CNAME`, …); empty when the sender gave only the data.
    #[serde(rename = "type")]
    pub rtype: String,
    /// The record's data in presentation form (an address, a target name).
    pub data: String,
    /// Time to live in seconds, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DnsAnswerWire {
    Record {
        #[serde(rename = "type", default)]
        rtype: String,
        data: String,
        #[serde(default)]
        ttl: Option<u32>,
    },
    Bare(String),
}

impl From<DnsAnswerWire> for DnsAnswer {
    fn from(wire: DnsAnswerWire) -> Self {
        match wire {
            DnsAnswerWire::Record { rtype, data, ttl } => DnsAnswer { rtype, data, ttl },
            DnsAnswerWire::Bare(data) => DnsAnswer {
                rtype: String::new(),
                data,
                ttl: None,
            },
        }
    }
}
