//! One result type per kind. Each check versions its own result within schema 1: new optional fields may be
//! added, required ones never change.

mod dns;
mod http;
mod icmp;
mod tcp;
mod trace;
mod vitals;

pub use dns::{DnsAnswer, DnsResult};
pub use http::{HttpResult, QuicTest, SniTest};
pub use icmp::IcmpResult;
pub use tcp::TcpResult;
pub use trace::{TraceHop, TraceResult};
pub use vitals::{Power, VitalsResult};

use serde::Serialize;

use crate::{Kind, Outcome};

/// The kind-specific `result` of a measurement; its variant is the envelope's `kind`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MeasurementResult {
    /// `kind: dns`.
    Dns(DnsResult),
    /// `kind: http`.
    Http(HttpResult),
    /// `kind: tcp`.
    Tcp(TcpResult),
    /// `kind: icmp`.
    Icmp(IcmpResult),
    /// `kind: trace`.
    Trace(TraceResult),
    /// `kind: vitals`.
    Vitals(VitalsResult),
}

impl MeasurementResult {
    /// Parses the `result` object of the given kind.
    pub fn from_json(kind: Kind, json: &str) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            Kind::Dns => Self::Dns(serde_json::from_str(json)?),
            Kind::Http => Self::Http(serde_json::from_str(json)?),
            Kind::Tcp => Self::Tcp(serde_json::from_str(json)?),
            Kind::Icmp => Self::Icmp(serde_json::from_str(json)?),
            Kind::Trace => Self::Trace(serde_json::from_str(json)?),
            Kind::Vitals => Self::Vitals(serde_json::from_str(json)?),
        })
    }

    /// The kind this result belongs to.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Dns(_) => Kind::Dns,
            Self::Http(_) => Kind::Http,
            Self::Tcp(_) => Kind::Tcp,
            Self::Icmp(_) => Kind::Icmp,
            Self::Trace(_) => Kind::Trace,
            Self::Vitals(_) => Kind::Vitals,
        }
    }

    /// How the measurement ended.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Dns(r) => r.outcome,
            Self::Http(r) => r.outcome,
            Self::Tcp(r) => r.outcome,
            Self::Icmp(r) => r.outcome,
            Self::Trace(r) => r.outcome,
            Self::Vitals(r) => r.outcome,
        }
    }

    /// The free-text failure detail, if any.
    pub fn error_detail(&self) -> Option<&str> {
        self.error_detail_slot().as_deref()
    }

    pub(crate) fn error_detail_slot(&self) -> &Option<String> {
        match self {
            Self::Dns(r) => &r.error_detail,
            Self::Http(r) => &r.error_detail,
            Self::Tcp(r) => &r.error_detail,
            Self::Icmp(r) => &r.error_detail,
            Self::Trace(r) => &r.error_detail,
            Self::Vitals(r) => &r.error_detail,
        }
    }

    pub(crate) fn error_detail_mut(&mut self) -> &mut Option<String> {
        match self {
            Self::Dns(r) => &mut r.error_detail,
            Self::Http(r) => &mut r.error_detail,
            Self::Tcp(r) => &mut r.error_detail,
            Self::Icmp(r) => &mut r.error_detail,
            Self::Trace(r) => &mut r.error_detail,
            Self::Vitals(r) => &mut r.error_detail,
        }
    }
}
