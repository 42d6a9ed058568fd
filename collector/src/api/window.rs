//! A series request's window: `from` and `to` as RFC 3339 times, `from < to`, cut into at most [`MAX_BUCKETS`]
//! buckets of `step` seconds — one rule for the timeline and the apps endpoints.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};

use super::error::ApiError;
use super::events::parse_time;

/// Most buckets one request may span.
const MAX_BUCKETS: i64 = 10_000;

/// A request's window `[from, to)`, whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    /// The first second of the window.
    pub from: DateTime<Utc>,
    /// One past the window's last second.
    pub to: DateTime<Utc>,
}

/// Parses `from` and `to` and checks the window against buckets of `step` seconds; `step_hint` says what the
/// caller can change when the window has too many buckets (e.g. "widen `step`").
pub(super) fn window(from: &str, to: &str, step: i64, step_hint: &str) -> Result<Window, ApiError> {
    let bad = |msg: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_parameter", msg);
    let from = parse_time("from", Some(from))?.unwrap_or_default();
    let to = parse_time("to", Some(to))?.unwrap_or_default();
    if step < 1 {
        return Err(bad(format!("a bucket must be at least 1 second long, not {step}")));
    }
    if to <= from {
        return Err(bad("need from < to".to_owned()));
    }
    if (to - from) / step > MAX_BUCKETS {
        return Err(bad(format!("at most {MAX_BUCKETS} buckets per request: {step_hint}")));
    }
    let at = |secs: i64| DateTime::from_timestamp(secs, 0).ok_or_else(|| bad(format!("{secs} s is out of range")));
    Ok(Window {
        from: at(from)?,
        to: at(to)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(from: &str, to: &str, step: i64) -> String {
        let err = window(from, to, step, "narrow the window").expect_err("refused");
        format!("{err:?}")
    }

    #[test]
    fn a_window_is_parsed_to_whole_seconds() {
        let w = window("2026-12-01T00:00:00.750Z", "2026-12-01T02:00:00+01:00", 60, "").expect("parses");
        assert_eq!(w.from.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!((w.to - w.from).num_seconds(), 3_600);
    }

    #[test]
    fn empty_reversed_or_oversized_windows_and_bad_steps_are_refused_with_a_reason() {
        let t = "2026-12-01T00:00:00Z";
        assert!(refused(t, t, 60).contains("need from < to"));
        assert!(refused("2026-12-02T00:00:00Z", t, 60).contains("need from < to"));
        assert!(refused(t, "2026-12-02T00:00:00Z", 0).contains("at least 1 second"));
        // 10,001 one-second buckets.
        let err = refused(t, "2026-12-01T02:46:41Z", 1);
        assert!(
            err.contains("at most 10000 buckets") && err.contains("narrow the window"),
            "{err}"
        );
        assert!(window(t, "2026-12-01T02:46:40Z", 1, "").is_ok());
        assert!(refused("yesterday", t, 60).contains("RFC 3339"));
    }
}
