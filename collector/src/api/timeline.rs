//! `GET /api/v1/timeline?country=&asn=&from=&to=&step=` (DESIGN.md §3): per-bucket series for a scope.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::window::window;
use crate::analysis::load_input;
use crate::classify::ClassifierSettings;
use crate::classify::timeline::{TimelineFilter, TimelinePoint, timeline};

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
    let step = params.step.unwrap_or(state.bucket_secs);
    let window = window(&params.from, &params.to, step, "widen `step`")?;
    let reader = crate::store::aggregates::Reader::public(state.bucket_secs);
    let (input, _) = load_input(state.store.as_ref(), window.from, window.to, step, reader)
        .await
        .map_err(|e| ApiError::from_store(&e, state.ingest.retry_after_secs))?;
    let filter = TimelineFilter {
        country: params.country.map(|c| c.to_ascii_uppercase()),
        asn: params.asn,
    };
    Ok(Json(timeline(&input, &filter, &ClassifierSettings::default())))
}
