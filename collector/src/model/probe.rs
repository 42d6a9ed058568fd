//! Probes as everyone sees them: where a probe sits and how it reaches the internet, and its registry record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vigil_measurement::signature::PublicKey;

/// How a probe reaches the internet; shapes what an outage on it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum AccessType {
    /// A fixed line (DSL, fibre, cable).
    Fixed,
    /// A mobile network.
    Mobile,
    /// A satellite link.
    Satellite,
}

impl AccessType {
    /// The stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessType::Fixed => "fixed",
            AccessType::Mobile => "mobile",
            AccessType::Satellite => "satellite",
        }
    }

    /// Reads the stable text form.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "fixed" => Some(AccessType::Fixed),
            "mobile" => Some(AccessType::Mobile),
            "satellite" => Some(AccessType::Satellite),
            _ => None,
        }
    }
}

/// What describes a probe: who labels it and where it sits. Given at registration, copied onto every row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeProfile {
    /// Operator's label (private: never in public views).
    pub name: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// Autonomous system the probe sits in.
    pub asn: u32,
    /// Region within the country, if given.
    pub region: Option<String>,
    /// Access type.
    pub access: AccessType,
    /// Whether the probe runs on a UPS (power loss does not silence it at once).
    pub ups: bool,
}

/// A registered probe as the store knows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeRecord {
    /// Pseudonymous public id.
    pub probe_id: String,
    /// Label and placement.
    #[serde(flatten)]
    pub profile: ProbeProfile,
    /// Registration time.
    pub created_at: DateTime<Utc>,
    /// When the token was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last accepted upload.
    pub last_seen: Option<DateTime<Utc>>,
    /// The batch-signing key, when one is registered.
    pub public_key: Option<PublicKey>,
}

impl ProbeRecord {
    /// Whether the probe's token still works.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}
