//! The schema-1 envelope shared by every kind (DESIGN.md §2).
//!
//! Reading is two-step: the envelope first, with `result` kept as raw JSON, then `result` parsed as the type
//! its `kind` names. That keeps error messages precise ("result: missing field `query`") and avoids serde's
//! buffered internally-tagged path on the hot ingest loop.

use chrono::{DateTime, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::{Kind, MeasurementError, MeasurementResult};

/// The wire schema version this crate reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// One measurement as a probe sends it: one NDJSON line.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Wire schema version; always [`SCHEMA_VERSION`] for a value this crate accepted.
    pub schema: u32,
    /// UUIDv7 made by the probe; the collector deduplicates on it.
    pub id: Uuid,
    /// When the check started, by the probe's wall clock (see [`Clock`] for how far to trust it).
    pub started_at: DateTime<Utc>,
    /// How long the check took.
    pub duration_ms: f64,
    /// What was measured.
    pub target: Target,
    /// What network the probe believes it is on; the collector's registry is authoritative.
    pub network: Option<ObservedNetwork>,
    /// The probe's clock state, so unsynced measurements can be re-timed.
    pub clock: Option<Clock>,
    /// Which of the probe's uplinks took the measurement; absent on a probe with one uplink.
    pub uplink: Option<Uplink>,
    /// The kind-specific result; its variant is the `kind`.
    pub result: MeasurementResult,
}

/// One of a probe's ways out (`[[uplinks]]` in probe.toml): a measurement taken through it says so, so that the
/// collector reads a satellite path apart from the terrestrial network it does not cross.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uplink {
    /// Its name in the probe's configuration: 1–32 ASCII letters, digits, `-` or `_` (a label, never a place).
    pub name: String,
    /// How it reaches the internet.
    pub access: UplinkAccess,
}

impl Uplink {
    /// Longest name, bytes.
    pub const MAX_NAME: usize = 32;

    /// What is wrong with `name` as an uplink's name, if anything. A name is a short label (`sat`, `wan-2`): 1–32
    /// ASCII letters, digits, `-` or `_`, so that it can carry neither an address nor a description of where the
    /// probe is.
    pub fn name_problem(name: &str) -> Option<&'static str> {
        if name.is_empty() || name.len() > Self::MAX_NAME {
            return Some("must be 1 to 32 bytes");
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Some("may hold only ASCII letters, digits, '-' and '_'");
        }
        None
    }
}

/// How an uplink reaches the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UplinkAccess {
    /// A fixed line (DSL, fibre, cable) through a terrestrial ISP.
    Fixed,
    /// A mobile network.
    Mobile,
    /// A satellite network: its path leaves the country without crossing the national border's routers.
    Satellite,
}

impl UplinkAccess {
    /// Its wire name (`fixed`, `mobile`, `satellite`).
    pub fn as_str(self) -> &'static str {
        match self {
            UplinkAccess::Fixed => "fixed",
            UplinkAccess::Mobile => "mobile",
            UplinkAccess::Satellite => "satellite",
        }
    }
}

/// What a measurement was aimed at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Host name, URL or address as configured.
    pub name: String,
    /// Which side of the border the target is on.
    pub scope: Scope,
    /// Which test list it came from (`anchors`, `citizenlab-global`, a custom name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<String>,
}

/// Which side of the border a target sits on: what lets the classifier tell a national cut from a dark house.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Inside the probe's country.
    Domestic,
    /// Outside the probe's country.
    International,
    /// The probe's own LAN or gateway.
    Local,
}

impl Scope {
    /// The stable wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Domestic => "domestic",
            Scope::International => "international",
            Scope::Local => "local",
        }
    }
}

/// The network the probe observed itself on. Never its IP address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ObservedNetwork {
    /// Autonomous system number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cc: Option<String>,
}

/// The probe's clock when it took the measurement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Whether the kernel reported the wall clock synchronised (NTP) at the time.
    pub synced: bool,
    /// Boot id the monotonic reading belongs to.
    pub boot_id: String,
    /// Milliseconds on the boot's monotonic clock when the check started.
    pub mono_ms: u64,
}

impl Measurement {
    /// The measurement's kind.
    pub fn kind(&self) -> Kind {
        self.result.kind()
    }

    /// Whether `started_at` comes from a clock the probe did not trust (`clock.synced == false`).
    pub fn clock_unsynced(&self) -> bool {
        self.clock.as_ref().is_some_and(|c| !c.synced)
    }

    /// Reads one NDJSON line. Checks the shape and the schema version; call [`crate::validate`] for the rest.
    pub fn from_json_slice(line: &[u8]) -> Result<Self, MeasurementError> {
        match serde_json::from_slice::<Measurement>(line) {
            Ok(m) if m.schema == SCHEMA_VERSION => Ok(m),
            Ok(m) => Err(MeasurementError::UnsupportedSchema {
                found: m.schema.to_string(),
            }),
            Err(err) => Err(unsupported_schema(line).unwrap_or_else(|| MeasurementError::from_json(&err))),
        }
    }

    /// The measurement as one JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        // A Measurement holds only maps with string keys and finite numbers after validation; the fallback
        // covers a non-finite f64 built by hand, which serde_json renders as null rather than failing.
        serde_json::to_string(self).unwrap_or_else(|err| format!("{{\"error\":\"{err}\"}}"))
    }
}

/// When a line failed to parse, tells whether it was because it speaks another schema.
fn unsupported_schema(line: &[u8]) -> Option<MeasurementError> {
    #[derive(Deserialize)]
    struct SchemaOnly {
        schema: Option<serde_json::Value>,
    }
    let sniffed: SchemaOnly = serde_json::from_slice(line).ok()?;
    match sniffed.schema? {
        serde_json::Value::Number(n) if n.as_u64() == Some(u64::from(SCHEMA_VERSION)) => None,
        other => Some(MeasurementError::UnsupportedSchema {
            found: other.to_string(),
        }),
    }
}

#[derive(Serialize)]
struct WireRef<'a> {
    schema: u32,
    id: &'a Uuid,
    kind: Kind,
    started_at: &'a DateTime<Utc>,
    duration_ms: f64,
    target: &'a Target,
    #[serde(skip_serializing_if = "Option::is_none")]
    network: &'a Option<ObservedNetwork>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clock: &'a Option<Clock>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uplink: &'a Option<Uplink>,
    result: &'a MeasurementResult,
}

impl Serialize for Measurement {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireRef {
            schema: self.schema,
            id: &self.id,
            kind: self.kind(),
            started_at: &self.started_at,
            duration_ms: self.duration_ms,
            target: &self.target,
            network: &self.network,
            clock: &self.clock,
            uplink: &self.uplink,
            result: &self.result,
        }
        .serialize(serializer)
    }
}

#[derive(Deserialize)]
struct WireOwned {
    schema: u32,
    id: Uuid,
    kind: Kind,
    started_at: DateTime<Utc>,
    duration_ms: f64,
    target: Target,
    #[serde(default)]
    network: Option<ObservedNetwork>,
    #[serde(default)]
    clock: Option<Clock>,
    #[serde(default)]
    uplink: Option<Uplink>,
    result: Box<RawValue>,
}

impl<'de> Deserialize<'de> for Measurement {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireOwned::deserialize(deserializer)?;
        let result = MeasurementResult::from_json(wire.kind, wire.result.get()).map_err(|err| {
            D::Error::custom(format_args!(
                "in `result` of kind {}: {}",
                wire.kind,
                strip_position(&err)
            ))
        })?;
        Ok(Measurement {
            schema: wire.schema,
            id: wire.id,
            started_at: wire.started_at,
            duration_ms: wire.duration_ms,
            target: wire.target,
            network: wire.network,
            clock: wire.clock,
            uplink: wire.uplink,
            result,
        })
    }
}

/// serde_json's message without its " at line L column C" suffix, which would point inside `result` only.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}
