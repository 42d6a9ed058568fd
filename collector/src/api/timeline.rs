//! `GET /api/v1/timeline?country=&asn=&from=&to=&step=` (DESIGN.md §3): per-bucket series for a scope.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::events::parse_time;
use crate::analysis::load_input;
use crate::classify::ClassifierSettings;
use crate::classify::timeline::{TimelineFilter, TimelinePoint, timeline};

/// Most buckets one request may ask for.
const MAX_POINTS: i64 = 10_000;

/// Query parameters.
#[derive(Debug, Deserialize)]
pub struct TimelineParams {
    country: Option<String>,
    asn: Option<u32>,
    from: String,
    to: String,
    /// Bucket length in seconds (default: the collector's `bucket_secs`).
    step: Option<i64>,
}

pub(super) async fn get_timeline(
    State(state): State<AppState>,
    Query(params): Query<TimelineParams>,
) -> Result<Json<Vec<TimelinePoint>>, ApiError> {
    let bad = |msg: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_parameter", msg);
    let from = parse_time("from", Some(&params.from))?.unwrap_or_default();
    let to = parse_time("to", Some(&params.to))?.unwrap_or_default();
    let step = params.step.unwrap_or(state.bucket_secs);
    if step < 1 || to <= from {
        return Err(bad("need from < to and step ≥ 1 second".to_owned()));
    }
    if (to - from) / step > MAX_POINTS {
        return Err(bad(format!("at most {MAX_POINTS} buckets per request: widen `step`")));
    }
    let (from_t, to_t) = (
        chrono::DateTime::from_timestamp(from, 0).unwrap_or_default(),
        chrono::DateTime::from_timestamp(to, 0).unwrap_or_default(),
    );
    let reader = crate::store::aggregates::Reader::public(state.bucket_secs);
    let (input, _) = load_input(state.store.as_ref(), from_t, to_t, step, reader)
        .await
        .map_err(|e| ApiError::from_store(&e, state.ingest.retry_after_secs))?;
    let filter = TimelineFilter {
        country: params.country.map(|c| c.to_ascii_uppercase()),
        asn: params.asn,
    };
    Ok(Json(timeline(&input, &filter, &ClassifierSettings::default())))
}
