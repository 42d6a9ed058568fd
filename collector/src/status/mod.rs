//! The built-in status page at `/` for deployments without Grafana: ongoing and recent events with class,
//! confidence and evidence, per-country timelines drawn as SVG by the collector, and the public probe table.
//! Same-origin only (a strict Content-Security-Policy); a small script refreshes it, and it reads the same
//! without one.

mod chart;
mod page;
mod view;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use view::StatusParams;

use crate::api::{ApiError, AppState};

/// Only this origin, no framing, no plugins.
const POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const STYLE: &str = include_str!("assets/status.css");
const SCRIPT: &str = include_str!("assets/status.js");

fn with_headers(mut response: Response, content_type: &'static str, cache: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The page and its two static files; the server adds the state.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(status_page))
        .route("/static/status.css", get(style))
        .route("/static/status.js", get(script))
}

/// `GET /?hours=&country=`: the page.
async fn status_page(State(state): State<AppState>, Query(params): Query<StatusParams>) -> Response {
    match view::load(state.store.as_ref(), &params, state.bucket_secs, chrono::Utc::now()).await {
        Ok(view) => with_headers(
            page::render(&view).into_string().into_response(),
            "text/html; charset=utf-8",
            "no-cache",
        ),
        Err(e) => ApiError::from_store(&e, state.ingest.retry_after_secs).into_response(),
    }
}

/// `GET /static/status.css`.
async fn style() -> Response {
    with_headers(STYLE.into_response(), "text/css; charset=utf-8", "max-age=3600")
}

/// `GET /static/status.js`.
async fn script() -> Response {
    with_headers(SCRIPT.into_response(), "text/javascript; charset=utf-8", "max-age=3600")
}
