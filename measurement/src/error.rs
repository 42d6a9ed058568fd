//! Why a line was not accepted as a schema-1 measurement.

use uuid::Uuid;

use crate::{Kind, Outcome};

/// A measurement line that cannot be accepted. The `Display` text is the reason the collector returns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MeasurementError {
    /// The line is not well-formed JSON.
    #[error("malformed JSON: {detail}")]
    Json {
        /// serde_json's description, with its position.
        detail: String,
    },
    /// Well-formed JSON that is not a schema-1 measurement: a missing field, a wrong type, an unknown kind.
    #[error("not a schema-1 measurement: {detail}")]
    Shape {
        /// serde_json's description, with its position.
        detail: String,
    },
    /// The `schema` field names a version this reader does not know.
    #[error("unsupported schema version {found} (this reader knows schema 1)")]
    UnsupportedSchema {
        /// The value found, as JSON text.
        found: String,
    },
    /// The id is a UUID of another version.
    #[error("`id` {id} is not a UUIDv7")]
    IdNotV7 {
        /// The id found.
        id: Uuid,
    },
    /// `started_at` lies before 2020 on a synced clock.
    #[error(
        "`started_at` {started_at} is before 2020-01-01; a probe whose clock is not set must send clock.synced=false"
    )]
    StartedTooEarly {
        /// The time found, RFC 3339.
        started_at: String,
    },
    /// `started_at` lies too far ahead of the receiver's clock, on a synced clock.
    #[error(
        "`started_at` {started_at} is {ahead_s} s ahead of the collector's clock (at most {max_s} s allowed); a probe whose clock is not set must send clock.synced=false"
    )]
    StartedInFuture {
        /// The time found, RFC 3339.
        started_at: String,
        /// How far ahead, seconds.
        ahead_s: i64,
        /// The allowance, seconds.
        max_s: i64,
    },
    /// A string is longer than allowed.
    #[error("`{field}` is {len} bytes long; at most {max} allowed")]
    TooLong {
        /// Path of the field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A list has more entries than allowed.
    #[error("`{field}` has {len} entries; at most {max} allowed")]
    TooMany {
        /// Path of the field.
        field: &'static str,
        /// Its entry count.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The outcome is outside the set this kind may report.
    #[error("outcome `{outcome}` is not one a `{kind}` measurement may report (allowed: {allowed})")]
    OutcomeNotAllowed {
        /// The outcome found.
        outcome: Outcome,
        /// The measurement's kind.
        kind: Kind,
        /// The allowed outcomes, comma-separated.
        allowed: String,
    },
    /// A field has a value outside its range or form.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// Path of the field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl MeasurementError {
    /// Classifies a serde_json failure as malformed JSON or a shape mismatch.
    pub(crate) fn from_json(err: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        match err.classify() {
            Category::Data => MeasurementError::Shape {
                detail: err.to_string(),
            },
            Category::Syntax | Category::Eof | Category::Io => MeasurementError::Json {
                detail: err.to_string(),
            },
        }
    }

    /// Whether the line was not well-formed JSON at all.
    pub fn is_json(&self) -> bool {
        matches!(self, MeasurementError::Json { .. })
    }

    /// Whether the line speaks another schema version.
    pub fn is_unsupported_schema(&self) -> bool {
        matches!(self, MeasurementError::UnsupportedSchema { .. })
    }

    /// Whether the line was rejected for its timestamp.
    pub fn is_time(&self) -> bool {
        matches!(
            self,
            MeasurementError::StartedTooEarly { .. } | MeasurementError::StartedInFuture { .. }
        )
    }

    /// A short stable label for metrics and logs (`json`, `shape`, `schema`, `id`, `time`, `size`, `outcome`, `value`).
    pub fn reason_label(&self) -> &'static str {
        match self {
            MeasurementError::Json { .. } => "json",
            MeasurementError::Shape { .. } => "shape",
            MeasurementError::UnsupportedSchema { .. } => "schema",
            MeasurementError::IdNotV7 { .. } => "id",
            MeasurementError::StartedTooEarly { .. } | MeasurementError::StartedInFuture { .. } => "time",
            MeasurementError::TooLong { .. } | MeasurementError::TooMany { .. } => "size",
            MeasurementError::OutcomeNotAllowed { .. } => "outcome",
            MeasurementError::Invalid { .. } => "value",
        }
    }
}
