//! `GET /api/v1/apps?from=&to=[&country=][&asn=][&app=]`: what each probe saw of each messaging app in the window
//! — reachable, blocked by a method, or partly (`model::app_verdicts`). A probe's view, not a call: the censorship
//! events (`/api/v1/events`) are the calls.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::events::parse_time;
use crate::model::{AppFilter, AppVerdict, app_verdicts};

/// Most buckets one request may span (as the timeline's).
const MAX_BUCKETS: i64 = 10_000;

/// Query parameters.
#[derive(Debug, Deserialize)]
pub struct AppsParams {
    from: String,
    to: String,
    country: Option<String>,
    asn: Option<u32>,
    /// An app's name (`whatsapp`), without the `app:` prefix.
    app: Option<String>,
}

pub(super) async fn list_apps(
    State(state): State<AppState>,
    Query(params): Query<AppsParams>,
) -> Result<Json<Vec<AppVerdict>>, ApiError> {
    let bad = |msg: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_parameter", msg);
    let from = parse_time("from", Some(&params.from))?.unwrap_or_default();
    let to = parse_time("to", Some(&params.to))?.unwrap_or_default();
    if to <= from {
        return Err(bad("need from < to".to_owned()));
    }
    if (to - from) / state.bucket_secs.max(1) > MAX_BUCKETS {
        return Err(bad(format!(
            "at most {MAX_BUCKETS} buckets per request: narrow the window"
        )));
    }
    let store_error = |e: crate::store::StoreError| ApiError::from_store(&e, state.ingest.retry_after_secs);
    let (from_t, to_t) = (
        chrono::DateTime::from_timestamp(from, 0).unwrap_or_default(),
        chrono::DateTime::from_timestamp(to, 0).unwrap_or_default(),
    );
    let summaries = state
        .store
        .bucket_summaries(from_t, to_t, state.bucket_secs)
        .await
        .map_err(store_error)?;
    let probes = state.store.probes().await.map_err(store_error)?;
    let filter = AppFilter {
        country: params.country.map(|c| c.to_ascii_uppercase()),
        asn: params.asn,
        app: params
            .app
            .map(|a| a.strip_prefix(crate::model::APP_LIST_PREFIX).unwrap_or(&a).to_owned()),
    };
    Ok(Json(app_verdicts(&summaries, &probes, state.bucket_secs, &filter)))
}
