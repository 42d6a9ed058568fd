//! `GET /api/v1/events` (DESIGN.md §3): current events, filtered, with RFC 3339 times and revision counts.

use axum::Json;
use axum::extract::{Query, State};
use chrono::DateTime;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use crate::model::{BlockedTarget, DisruptionEvent, EventScope, Evidence};
use crate::store::{EventQuery, StoredEvent};

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

/// One event as the API serves it.
#[derive(Debug, Serialize)]
pub struct ApiEvent {
    id: String,
    class: &'static str,
    scope: EventScope,
    started_at: String,
    ended_at: Option<String>,
    confidence: f64,
    confidence_level: String,
    affected_probes: usize,
    probes_in_scope: usize,
    evidence: Vec<Evidence>,
    scores: std::collections::BTreeMap<String, i32>,
    revisions: u32,
    targets: Vec<BlockedTarget>,
    review: crate::review::ReviewView,
    /// How to present it (the publication rule shared by every channel): a shutdown nobody has reviewed is
    /// `suspected`.
    publication: crate::review::Publication,
}

fn rfc3339(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(crate::model::rfc3339)
        .unwrap_or_default()
}

impl ApiEvent {
    /// The API's view of a stored event and its latest review.
    pub fn new(s: StoredEvent, review: Option<&crate::store::EventReview>) -> Self {
        let publication = crate::review::publication(&s.event, review);
        let review = crate::review::view(&s.event, review);
        let e: DisruptionEvent = s.event;
        ApiEvent {
            id: e.id,
            class: e.class.as_str(),
            scope: e.scope,
            started_at: rfc3339(e.started_at),
            ended_at: e.ended_at.map(rfc3339),
            confidence: e.confidence,
            confidence_level: format!("{:?}", e.confidence_level).to_lowercase(),
            affected_probes: e.affected_probes,
            probes_in_scope: e.probes_in_scope,
            evidence: e.evidence,
            scores: e.scores,
            revisions: s.revisions,
            targets: e.targets,
            review,
            publication,
        }
    }
}

/// Events with their reviews, for the API and the CLI.
pub async fn with_reviews(
    store: &dyn crate::store::Store,
    events: Vec<StoredEvent>,
) -> Result<Vec<ApiEvent>, crate::store::StoreError> {
    let reviews = crate::review::latest_reviews(store, &events).await?;
    Ok(events
        .into_iter()
        .map(|e| {
            let review = reviews.get(&e.event.id);
            ApiEvent::new(e, review)
        })
        .collect())
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
) -> Result<Json<Vec<ApiEvent>>, ApiError> {
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
    let events = with_reviews(state.store.as_ref(), events)
        .await
        .map_err(|e| ApiError::from_store(&e, state.ingest.retry_after_secs))?;
    Ok(Json(events))
}
