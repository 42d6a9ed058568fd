//! `GET /api/v1/apps?from=&to=[&country=][&asn=][&app=]`: what each probe saw of each messaging app in the window
//! — reachable, blocked by a method, or partly (`model::app_verdicts`). A probe's view, not a call: the censorship
//! events (`/api/v1/events`) are the calls.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::window::window;
use crate::model::{AppFilter, AppVerdict, app_verdicts};

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
    let window = window(&params.from, &params.to, state.bucket_secs, "narrow the window")?;
    let store_error = |e: crate::store::StoreError| ApiError::from_store(&e, state.ingest.retry_after_secs);
    let summaries = state
        .store
        .bucket_summaries(window.from, window.to, state.bucket_secs)
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
