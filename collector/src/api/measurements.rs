//! `POST /api/v1/measurements` (DESIGN.md §2): hands the request to the ingest pipeline
//! ([`crate::ingest::IngestPipeline`]) and answers `200 {"accepted","duplicates"}` or the refusal as JSON.

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

use super::AppState;
use super::error::ApiError;

pub(super) async fn post_measurements(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = std::time::Instant::now();
    let metrics = std::sync::Arc::clone(&state.metrics);
    let retry = state.ingest.retry_after_secs;
    let answer = state
        .pipeline
        .ingest(peer.0, &headers, body)
        .await
        .map(Json)
        .map_err(|e| ApiError::from_ingest(e, retry));
    let class = match &answer {
        Ok(_) => "ok",
        Err(e) if e.status() == StatusCode::SERVICE_UNAVAILABLE => "overloaded",
        Err(e) if e.status().is_server_error() => "server_error",
        Err(_) => "client_error",
    };
    metrics
        .answers
        .with_label_values(&[class])
        .observe(started.elapsed().as_secs_f64());
    match answer {
        Ok(outcome) => {
            metrics.ingest_seconds.observe(started.elapsed().as_secs_f64());
            outcome.into_response()
        }
        Err(e) => {
            metrics.batches_rejected.with_label_values(&[e.code()]).inc();
            // A refusal may come before the body was read (auth, quota, overload): the connection cannot carry
            // another request, so say so and the client will not reuse it (instead of finding it closed).
            let mut response = e.into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, axum::http::HeaderValue::from_static("close"));
            response
        }
    }
}

/// The connection's peer, when the server recorded it (it always does; a router driven without a server, as in
/// some tests, has none).
pub(super) struct Peer(Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)))
    }
}
