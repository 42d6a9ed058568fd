//! `POST /api/v1/measurements` (DESIGN.md §2): authenticate, admit, read the bounded body, decode, validate all
//! lines, store durably, then answer `200 {"accepted","duplicates"}`.

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::net::SocketAddr;

use super::AppState;
use super::error::ApiError;
use sha2::{Digest, Sha256};
use vigil_measurement::signature::{PublicKey, SIGNATURE_HEADER};

use crate::ingest::{ContentEncoding, client_address, decode_body, line_mentioning, parse_batch, parse_signed_batch};
use crate::model::ProbeRecord;
use crate::store::{IngestBatch, SignedBody, WriteOutcome};
use crate::token::hash_token;

/// Media types accepted for a batch.
const NDJSON_TYPES: [&str; 2] = ["application/x-ndjson", "application/jsonl"];

pub(super) async fn post_measurements(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = std::time::Instant::now();
    let metrics = std::sync::Arc::clone(&state.metrics);
    let answer = ingest(state, peer, headers, body).await;
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

async fn ingest(state: AppState, peer: Peer, headers: HeaderMap, body: Body) -> Result<Json<WriteOutcome>, ApiError> {
    let retry = state.ingest.retry_after_secs;
    let client = client_address(
        peer.0,
        header_text(&headers, header::HeaderName::from_static("x-forwarded-for"))?,
        &state.ingest.trusted_proxies,
    );
    let probe = authenticate(&state, &headers).await?;
    let signer = signing_key(&state, &probe, &headers)?;
    state.limits.batch(&probe.probe_id).map_err(too_many)?;
    let admission = state.queue.admit().map_err(|_| {
        ApiError::unavailable(
            "overloaded",
            "ingest queue is full; nothing was stored, retry later",
            retry,
        )
    })?;
    check_content_type(&headers)?;
    let encoding = ContentEncoding::from_header(header_text(&headers, header::CONTENT_ENCODING)?)?;
    let max_body = state.ingest.max_body_bytes;
    let timeout = std::time::Duration::from_secs(state.ingest.body_timeout_secs.max(1));
    let raw = tokio::time::timeout(timeout, Limited::new(body, max_body).collect())
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!("the body did not arrive within {} s", timeout.as_secs()),
            )
        })?
        .map_err(|err| {
            if err.downcast_ref::<LengthLimitError>().is_some() {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("body is larger than {max_body} bytes"),
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "body_read_failed",
                    format!("could not read the body: {err}"),
                )
            }
        })?;
    let raw = raw.to_bytes();
    let received_at = chrono::Utc::now();
    let limits = state.batch_limits.clone();
    let max_decoded = state.ingest.max_decoded_bytes;
    let (measurements, signed) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        // The signature is checked over the bytes as received, before they are decompressed or parsed.
        let signed = match signer {
            Some((public_key, header)) => {
                let signature = public_key
                    .verify(&raw, &header)
                    .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string()))?;
                Some(SignedBody {
                    digest: Sha256::digest(&raw).into(),
                    signature,
                    public_key,
                    encoding: encoding.as_str().to_owned(),
                    body: raw.clone(),
                })
            }
            None => None,
        };
        let decoded = decode_body(&raw, encoding, max_decoded)?;
        let measurements = if signed.is_some() {
            parse_signed_batch(&decoded, received_at, &limits)?
        } else {
            parse_batch(&decoded, received_at, &limits)?
        };
        if let Some(address) = client
            && let Some(line) = line_mentioning(&decoded, address)
        {
            return Err(ApiError::own_address_in_batch(line, address));
        }
        Ok((measurements, signed))
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("decoder failed: {e}"),
        )
    })??;
    let count = measurements.len();
    state.limits.measurements(&probe.probe_id, count).map_err(too_many)?;
    let received: Vec<(&'static str, &'static str, Option<f64>)> = measurements
        .iter()
        .map(|m| {
            let age = (!m.clock_unsynced()).then(|| (received_at - m.started_at).num_milliseconds() as f64 / 1000.0);
            (m.kind().as_str(), m.result.outcome().as_str(), age)
        })
        .collect();
    let outcome = state
        .queue
        .submit(
            admission,
            IngestBatch {
                probe,
                received_at,
                measurements,
                signed,
            },
        )
        .await
        .map_err(|e| ApiError::from_submit(e, retry))?;
    tracing::debug!(
        lines = count,
        accepted = outcome.accepted,
        duplicates = outcome.duplicates,
        "batch stored"
    );
    for (kind, result, age) in received {
        state
            .metrics
            .measurements_received
            .with_label_values(&[kind, result])
            .inc();
        if let Some(age) = age.filter(|a| *a >= 0.0) {
            state.metrics.measurement_age_seconds.observe(age);
        }
    }
    state.metrics.measurements_stored.inc_by(outcome.accepted);
    state.metrics.measurements_duplicate.inc_by(outcome.duplicates);
    Ok(Json(outcome))
}

/// The key a batch must be signed with and the signature sent, `None` for a probe registered without a key
/// (accepted on its token alone unless the collector requires signatures), or 401 with the reason.
fn signing_key(
    state: &AppState,
    probe: &ProbeRecord,
    headers: &HeaderMap,
) -> Result<Option<(PublicKey, String)>, ApiError> {
    let signature = header_text(headers, header::HeaderName::from_static("vigil-signature"))?;
    match (probe.public_key, signature) {
        (Some(key), Some(signature)) => Ok(Some((key, signature.to_owned()))),
        (Some(_), None) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "signature_required",
            format!("this probe is registered with a signing key: every batch must carry a {SIGNATURE_HEADER} header"),
        )),
        (None, _) if state.ingest.require_signatures => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "signature_required",
            "this collector accepts signed batches only, and this probe has no signing key registered \
             (vigil-probe register; vigil-collector probe set-key)",
        )),
        (None, _) => Ok(None),
    }
}

/// The probe behind the bearer token, or 401 with the reason.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<ProbeRecord, ApiError> {
    let value = header_text(headers, header::AUTHORIZATION)?
        .ok_or_else(|| ApiError::unauthorized("missing `Authorization: Bearer <probe token>` header"))?;
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <probe token>`"))?;
    let probe = state
        .store
        .probe_by_token(hash_token(token))
        .await
        .map_err(|e| ApiError::from_store(&e, state.ingest.retry_after_secs))?
        .ok_or_else(|| ApiError::unauthorized("unknown probe token"))?;
    if !probe.is_active() {
        return Err(ApiError::unauthorized("this probe's token was revoked"));
    }
    Ok(probe)
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let value = header_text(headers, header::CONTENT_TYPE)?.unwrap_or("");
    let media = value.split(';').next().unwrap_or("").trim();
    if NDJSON_TYPES.iter().any(|t| media.eq_ignore_ascii_case(t)) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Type must be application/x-ndjson, not `{media}`"),
        ))
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Result<Option<&str>, ApiError> {
    headers
        .get(&name)
        .map(|v| {
            v.to_str().map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_header",
                    format!("header {name} is not visible ASCII"),
                )
            })
        })
        .transpose()
}

/// The answer to a probe over its quota: 429 and when to come back (its spool keeps the data).
fn too_many(exceeded: crate::ingest::Exceeded) -> ApiError {
    use crate::ingest::Exceeded;
    let seconds = |wait: std::time::Duration| wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    match exceeded {
        Exceeded::Batches { wait } => {
            ApiError::rate_limited("too many batches from this probe this minute", seconds(wait))
        }
        Exceeded::Measurements { wait } => ApiError::rate_limited(
            "too many measurements from this probe this minute; nothing was stored",
            seconds(wait),
        ),
        Exceeded::BatchLargerThanQuota { quota } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_over_quota",
            format!("the batch holds more measurements than the {quota} a probe may send in a minute"),
        ),
    }
}
