//! What the spool holds: one NDJSON measurement line, its priority class and a CRC.

use serde::Serialize;

/// How long a record deserves to survive when the spool is full. Eviction drops the lowest priority first
/// (test-list results), oldest first within a class; vitals go last, because they are what tells a power cut
/// from a shutdown after the fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordClass {
    /// The probe's vitals: kept longest.
    Vitals,
    /// Anchor checks (domestic/international reachability every cycle).
    Anchor,
    /// Test-list URL checks: evicted first.
    List,
}

impl RecordClass {
    /// Every class, from the longest kept to the first evicted.
    pub const ALL: [RecordClass; 3] = [RecordClass::Vitals, RecordClass::Anchor, RecordClass::List];

    /// The stored code (0 = vitals, 1 = anchor, 2 = list); higher codes are evicted first.
    pub(crate) fn code(self) -> i64 {
        match self {
            RecordClass::Vitals => 0,
            RecordClass::Anchor => 1,
            RecordClass::List => 2,
        }
    }

    pub(crate) fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(RecordClass::Vitals),
            1 => Some(RecordClass::Anchor),
            2 => Some(RecordClass::List),
            _ => None,
        }
    }

    /// The class's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordClass::Vitals => "vitals",
            RecordClass::Anchor => "anchor",
            RecordClass::List => "list",
        }
    }
}

/// A record handed to the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    /// Priority class.
    pub class: RecordClass,
    /// One measurement as a JSON line, without the newline.
    pub line: String,
}

/// A record read back from the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledRecord {
    /// Position in the spool: increases with every append, never reused.
    pub seq: i64,
    /// Priority class.
    pub class: RecordClass,
    /// The measurement line.
    pub line: String,
}

/// CRC-32 of a line, as stored beside it.
pub(crate) fn checksum(line: &str) -> i64 {
    i64::from(crc32fast::hash(line.as_bytes()))
}
