//! The collector's HTTP API (DESIGN.md §3). One module per resource; shared state in [`AppState`].

mod apps;
mod error;
mod events;
mod export;
mod feed;
mod measurements;
mod probes;
mod timeline;
mod window;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::json;

pub use error::ApiError;

use crate::config::IngestConfig;
use crate::ingest::IngestPipeline;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The ingest path (`POST /api/v1/measurements`).
    pub pipeline: IngestPipeline,
    /// Ingest limits.
    pub ingest: Arc<IngestConfig>,
    /// The classifier's bucket length, seconds (the timeline's default step).
    pub bucket_secs: i64,
    /// Prometheus metrics.
    pub metrics: Arc<crate::metrics::CollectorMetrics>,
}

/// The API's routes; `ingest` mounts `POST /api/v1/measurements`. The server adds the state.
pub fn routes(ingest: bool) -> Router<AppState> {
    let mut routes = Router::new();
    if ingest {
        routes = routes.route("/api/v1/measurements", post(measurements::post_measurements));
    }
    routes
        .route("/api/v1/probes", get(probes::list_probes))
        .route("/api/v1/apps", get(apps::list_apps))
        .route("/api/v1/events", get(events::list_events))
        .route("/api/v1/timeline", get(timeline::get_timeline))
        .route("/api/v1/export", get(export::get_export))
        .route("/api/v1/events.atom", get(feed::get_atom))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

/// `GET /metrics`: the Prometheus text format. Probes reporting are counted from the registry at scrape time.
async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    if let Ok(probes) = state.store.probes().await {
        let recent = chrono::Utc::now() - chrono::Duration::seconds(2 * state.bucket_secs.max(60));
        state.metrics.probes_reporting.reset();
        if let Some(last_seen) = &state.metrics.probe_last_seen {
            last_seen.reset();
            for p in probes.iter().filter(|p| p.is_active()) {
                if let Some(t) = p.last_seen {
                    last_seen.with_label_values(&[p.probe_id.as_str()]).set(t.timestamp());
                }
            }
        }
        for p in probes
            .iter()
            .filter(|p| p.is_active() && p.last_seen.is_some_and(|t| t >= recent))
        {
            state
                .metrics
                .probes_reporting
                .with_label_values(&[
                    p.profile.country.as_str(),
                    &p.profile.asn.to_string(),
                    p.profile.access.as_str(),
                ])
                .inc();
        }
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    match state.store.health().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok"}))),
        Err(err) => {
            tracing::warn!(error = %err, "health check: store unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "store_unavailable"})),
            )
        }
    }
}
