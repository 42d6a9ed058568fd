//! `GET /api/v1/events` (DESIGN.md §3): current events, filtered, with RFC 3339 times and revision counts.

use axum::Json;
use axum::extract::{Query, State};
use chrono::DateTime;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use crate::review::{PublishedEvent, published};
use crate::store::EventQuery;

/// Query parameters.
#[derive(Debug, Default, Deserialize)]
pub struct EventParams {
    /// RFC 3339 start of the window.
    pub from: Option<String>,
    /// RFC 3339 end of the window.
    pub to: Option<String>,
    /// Country filter.
    pub country: Option<String>,
    /// ASN filter.
    pub asn: Option<u32>,
    /// Class filter.
    pub class: Option<String>,
}

/// Parses an RFC 3339 parameter into epoch seconds.
pub(crate) fn parse_time(name: &'static str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v).map(|t| t.timestamp()).map_err(|e| {
                ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "bad_parameter",
                    format!("`{name}` must be an RFC 3339 time: {e}"),
                )
            })
        })
        .transpose()
}

pub(super) async fn list_events(
    State(state): State<AppState>,
    Query(params): Query<EventParams>,
) -> Result<Json<Vec<PublishedEvent>>, ApiError> {
    let query = EventQuery {
        from: parse_time("from", params.from.as_deref())?,
        to: parse_time("to", params.to.as_deref())?,
        country: params.country.map(|c| c.to_ascii_uppercase()),
        asn: params.asn,
        class: params.class,
    };
    let events = state
        .store
        .events(query)
        .await
        .map_err(|e| ApiError::from_store(&e, state.ingest.retry_after_secs))?;
    let events = published(state.store.as_ref(), events)
        .await
        .map_err(|e| ApiError::from_store(&e, state.ingest.retry_after_secs))?;
    Ok(Json(events))
}
