//! `kind: vitals` — the probe's own health, the evidence that tells a power cut from a shutdown.

use serde::{Deserialize, Serialize};

use crate::Outcome;

/// The probe's vital signs at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VitalsResult {
    /// `ok`, or `error` when the vitals could not be read at all.
    pub outcome: Outcome,
    /// The kernel's boot id; a new one means the probe rebooted.
    pub boot_id: String,
    /// Seconds since boot.
    pub uptime_s: f64,
    /// Power supply state.
    pub power: Power,
    /// Whether the default gateway answered.
    pub gateway_reachable: bool,
    /// Whether the default interface has carrier.
    pub link_up: bool,
    /// Sent on shutdown (SIGTERM) or low battery: the probe expects to go dark.
    pub last_gasp: bool,
    /// Records waiting in the probe's spool.
    pub spool_depth: u64,
    /// Monotonic sequence number of vitals within this probe's lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Round trip to the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_rtt_ms: Option<f64>,
    /// Failure text outside the closed set, scrubbed of IP addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
}

/// Power supply state; each field is `null` when the hardware does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Power {
    /// Mains power present.
    #[serde(default)]
    pub ac_online: Option<bool>,
    /// Running on battery.
    #[serde(default)]
    pub on_battery: Option<bool>,
    /// Battery charge, 0–100.
    #[serde(default)]
    pub battery_pct: Option<f64>,
}
