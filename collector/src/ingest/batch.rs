//! NDJSON batches: split into lines, parse and validate each, all or nothing. The first bad line is reported
//! by its 1-based number so a probe can quarantine exactly that line and resend the rest.

use chrono::{DateTime, Utc};
use vigil_measurement::{Limits, Measurement, MeasurementError, validate};

/// Bounds on a batch's shape.
#[derive(Debug, Clone)]
pub struct BatchLimits {
    /// Longest line, bytes.
    pub max_line_bytes: usize,
    /// Most non-blank lines.
    pub max_lines: usize,
    /// Per-measurement validation bounds.
    pub measurement: Limits,
}

/// Why a batch was refused. Nothing from a refused batch is stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// No measurement in the body.
    #[error("empty batch: the body holds no NDJSON line")]
    Empty,
    /// More lines than allowed.
    #[error("batch has more than {max} lines; split it")]
    TooManyLines {
        /// The limit.
        max: usize,
    },
    /// One line is too long.
    #[error("line {line} is {len} bytes long; at most {max} allowed")]
    LineTooLong {
        /// 1-based line number.
        line: usize,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A line of a signed batch carries an IP address in free text. Signed data is stored exactly as signed,
    /// so the collector cannot scrub it; the probe must.
    #[error("line {line}: free text carries an IP address; a signed batch must arrive already scrubbed")]
    UnscrubbedSigned {
        /// 1-based line number.
        line: usize,
    },
    /// One line is not a valid measurement.
    #[error("line {line}: {error}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        error: MeasurementError,
    },
}

impl BatchError {
    /// The 1-based number of the offending line, when one line is to blame.
    pub fn line(&self) -> Option<usize> {
        match self {
            BatchError::LineTooLong { line, .. }
            | BatchError::BadLine { line, .. }
            | BatchError::UnscrubbedSigned { line } => Some(*line),
            BatchError::Empty | BatchError::TooManyLines { .. } => None,
        }
    }

    /// Whether the batch as a whole is too big (HTTP 413) rather than malformed (400).
    pub fn is_too_large(&self) -> bool {
        matches!(self, BatchError::TooManyLines { .. })
    }

    /// A short stable label for metrics (`empty`, `too_many_lines`, `line_too_long`, or the line's reason).
    pub fn reason_label(&self) -> &'static str {
        match self {
            BatchError::Empty => "empty",
            BatchError::TooManyLines { .. } => "too_many_lines",
            BatchError::LineTooLong { .. } => "line_too_long",
            BatchError::UnscrubbedSigned { .. } => "unscrubbed_signed",
            BatchError::BadLine { error, .. } => error.reason_label(),
        }
    }
}

/// Parses and validates a whole NDJSON body against the receiver's clock `now`. Blank lines are skipped but
/// counted, so line numbers match the body. Free text in accepted measurements is scrubbed of IP addresses.
pub fn parse_batch(body: &[u8], now: DateTime<Utc>, limits: &BatchLimits) -> Result<Vec<Measurement>, BatchError> {
    parse(body, now, limits, false)
}

/// Like [`parse_batch`] for a signed body, which is stored as signed: a line whose free text would need
/// scrubbing is refused instead of altered.
pub fn parse_signed_batch(
    body: &[u8],
    now: DateTime<Utc>,
    limits: &BatchLimits,
) -> Result<Vec<Measurement>, BatchError> {
    parse(body, now, limits, true)
}

fn parse(body: &[u8], now: DateTime<Utc>, limits: &BatchLimits, signed: bool) -> Result<Vec<Measurement>, BatchError> {
    let newlines = body.iter().filter(|&&b| b == b'\n').count();
    // A cheap upper bound first: more newlines than allowed lines plus one trailing newline is surely too many
    // unless some are blank; count exactly only then.
    if newlines > limits.max_lines {
        let non_blank = body
            .split(|&b| b == b'\n')
            .filter(|l| !l.trim_ascii().is_empty())
            .count();
        if non_blank > limits.max_lines {
            return Err(BatchError::TooManyLines { max: limits.max_lines });
        }
    }
    let mut measurements = Vec::with_capacity(newlines + 1);
    for (index, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        let text = raw.strip_suffix(b"\r").unwrap_or(raw);
        if text.trim_ascii().is_empty() {
            continue;
        }
        if text.len() > limits.max_line_bytes {
            return Err(BatchError::LineTooLong {
                line,
                len: text.len(),
                max: limits.max_line_bytes,
            });
        }
        if measurements.len() == limits.max_lines {
            return Err(BatchError::TooManyLines { max: limits.max_lines });
        }
        let mut m = Measurement::from_json_slice(text).map_err(|error| BatchError::BadLine { line, error })?;
        validate(&m, now, &limits.measurement).map_err(|error| BatchError::BadLine { line, error })?;
        if signed {
            let mut scrubbed = m.clone();
            scrubbed.scrub_free_text();
            if scrubbed != m {
                return Err(BatchError::UnscrubbedSigned { line });
            }
        } else {
            m.scrub_free_text();
        }
        measurements.push(m);
    }
    if measurements.is_empty() {
        return Err(BatchError::Empty);
    }
    Ok(measurements)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"schema":1,"id":"0192f3c4-7a1e-7cc0-9a7b-3f1d2e4c5b6a","kind":"tcp","started_at":"2026-11-23T10:00:00Z","duration_ms":3,"target":{"name":"example.org","scope":"international"},"result":{"outcome":"ok","ip":"192.0.2.1","port":443}}"#;

    fn limits() -> BatchLimits {
        BatchLimits {
            max_line_bytes: 4096,
            max_lines: 3,
            measurement: Limits::default(),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T10:01:00Z".parse().expect("a time")
    }

    #[test]
    fn blank_lines_and_crlf_are_tolerated_and_counted() {
        let body = format!("{LINE}\r\n\n{LINE}\n");
        assert_eq!(parse_batch(body.as_bytes(), now(), &limits()).expect("valid").len(), 2);
        let body = format!("{LINE}\n\n{{\"schema\":1}}\n");
        let err = parse_batch(body.as_bytes(), now(), &limits()).expect_err("line 3 is bad");
        assert_eq!(err.line(), Some(3), "{err}");
    }

    #[test]
    fn a_signed_batch_with_an_address_in_free_text_is_refused_not_altered() {
        let dirty = LINE.replace(r#""port":443}"#, r#""port":443,"error_detail":"reset by 10.1.2.3"}"#);
        let body = format!("{LINE}\n{dirty}\n");
        let unsigned = parse_batch(body.as_bytes(), now(), &limits()).expect("scrubbed");
        assert!(unsigned[1].to_json_line().contains("[scrubbed]"));
        let err = parse_signed_batch(body.as_bytes(), now(), &limits()).expect_err("refused");
        assert!(matches!(err, BatchError::UnscrubbedSigned { line: 2 }), "{err}");
        assert_eq!(
            parse_signed_batch(format!("{LINE}\n").as_bytes(), now(), &limits())
                .expect("clean")
                .len(),
            1
        );
    }

    #[test]
    fn too_many_lines_is_a_size_error() {
        let body = format!("{LINE}\n").repeat(4);
        let err = parse_batch(body.as_bytes(), now(), &limits()).expect_err("4 > 3");
        assert!(err.is_too_large(), "{err}");
    }

    #[test]
    fn empty_and_whitespace_bodies_are_empty_batches() {
        for body in ["", "\n\n", "  \r\n"] {
            assert!(matches!(
                parse_batch(body.as_bytes(), now(), &limits()),
                Err(BatchError::Empty)
            ));
        }
    }
}
