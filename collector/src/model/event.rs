//! What the classifier outputs: disruption events with scope, class, confidence and the evidence behind them,
//! shaped as DESIGN.md §3's `/api/v1/events` answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The cause the evidence points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventClass {
    /// Connectivity cut while power and local networks stay up.
    Shutdown,
    /// Electricity lost.
    PowerOutage,
    /// Specific targets blocked.
    Censorship,
    /// A technical fault: one ISP, an upstream, a cable.
    NetworkFailure,
    /// Deliberate degradation.
    Throttling,
    /// One probe alone.
    ProbeFault,
    /// Probes everywhere at once: the collector's side.
    CollectorSide,
    /// A disruption whose cause the evidence cannot tell yet.
    Unknown,
}

impl EventClass {
    /// Which classes can describe the same disruption as the evidence changes: outage classes revise into one
    /// another (an `unknown` cut becomes a `shutdown` when spooled data arrives); the rule-based ones stand alone.
    pub fn lineage(self) -> &'static str {
        match self {
            EventClass::Shutdown | EventClass::PowerOutage | EventClass::NetworkFailure | EventClass::Unknown => {
                "outage"
            }
            other => other.as_str(),
        }
    }

    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventClass::Shutdown => "shutdown",
            EventClass::PowerOutage => "power_outage",
            EventClass::Censorship => "censorship",
            EventClass::NetworkFailure => "network_failure",
            EventClass::Throttling => "throttling",
            EventClass::ProbeFault => "probe_fault",
            EventClass::CollectorSide => "collector_side",
            EventClass::Unknown => "unknown",
        }
    }
}

/// How sure the call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfidenceLevel {
    /// Weak.
    Low,
    /// Several families agree.
    Medium,
    /// Strong score, clear margin, three or more independent families.
    High,
}

/// Where an event is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EventScope {
    /// `country`, `region`, `asn`, `access`, `probe` or `collector`.
    pub level: String,
    /// Country.
    pub country: Option<String>,
    /// Autonomous system.
    pub asn: Option<u32>,
    /// Region.
    pub region: Option<String>,
    /// Access type.
    pub access: Option<String>,
    /// Probe (for `probe` scope).
    pub probe_id: Option<String>,
}

impl EventScope {
    /// Whether a probe registered as `profile` lies in the scope: a country, or one of its networks, regions or
    /// access types (a probe's or the collector's scope holds no probe by profile).
    pub fn contains(&self, profile: &super::ProbeProfile) -> bool {
        self.contains_place(&profile.country, profile.asn, profile.region.as_deref(), profile.access)
    }

    /// Whether a probe placed in `country`, on `asn`, in `region`, on `access` lies in the scope (the rule of
    /// [`EventScope::contains`], for a probe known by its place alone).
    pub fn contains_place(&self, country: &str, asn: u32, region: Option<&str>, access: super::AccessType) -> bool {
        if self.country.as_deref() != Some(country) {
            return false;
        }
        match self.level.as_str() {
            "country" => true,
            "asn" => self.asn == Some(asn),
            "region" => region.is_some() && self.region.as_deref() == region,
            "access" => self.access.as_deref() == Some(access.as_str()),
            _ => false,
        }
    }
}

/// One piece of evidence, in plain words, with the points it gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// `device`, `path`, `access`, `timing`, `geometry`, `blocking`, `scope`.
    pub family: String,
    /// What was seen.
    pub text: String,
    /// Points given to the event's class (negative: against it).
    pub points: i32,
}

/// A blocked target of a censorship event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedTarget {
    /// The target.
    pub name: String,
    /// How it was blocked.
    pub method: String,
    /// Names of the blocking fingerprints (OONI's, or the probe's built-in ones) its answers or pages matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fingerprints: Vec<String>,
}

/// One disruption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisruptionEvent {
    /// Stable id: the same disruption gets the same id on every run.
    pub id: String,
    /// The cause.
    pub class: EventClass,
    /// Where.
    pub scope: EventScope,
    /// Start, epoch seconds (bucket start).
    pub started_at: i64,
    /// End, epoch seconds; `None` while ongoing.
    pub ended_at: Option<i64>,
    /// 0–1.
    pub confidence: f64,
    /// Level of confidence.
    pub confidence_level: ConfidenceLevel,
    /// Probes affected.
    pub affected_probes: usize,
    /// Probes expected in the scope.
    pub probes_in_scope: usize,
    /// The evidence, in plain words.
    pub evidence: Vec<Evidence>,
    /// Points per class.
    pub scores: BTreeMap<String, i32>,
    /// Blocked targets (censorship).
    pub targets: Vec<BlockedTarget>,
}

impl DisruptionEvent {
    /// What makes a new revision: a change of call, confidence, end or size — not of wording.
    pub fn revision_key(&self) -> (&'static str, ConfidenceLevel, Option<i64>, usize) {
        (
            self.class.as_str(),
            self.confidence_level,
            self.ended_at,
            self.affected_probes,
        )
    }
}
