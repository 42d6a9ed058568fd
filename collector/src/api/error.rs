//! API errors as JSON: `{"error": reason, "code": label, "line": N, "address": A}` with the right status and headers.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::ingest::{BatchError, BodyError, Exceeded, IngestError, SubmitError};
use crate::store::StoreError;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    line: Option<usize>,
    address: Option<std::net::IpAddr>,
    retry_after_secs: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<std::net::IpAddr>,
}

impl ApiError {
    /// An error with a status, a stable code and a reason.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            line: None,
            address: None,
            retry_after_secs: None,
        }
    }

    /// 401 with a reason.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(code: &'static str, message: impl Into<String>, retry_after_secs: u64) -> Self {
        let mut err = Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message);
        err.retry_after_secs = Some(retry_after_secs);
        err
    }

    /// 429: a probe over its quota, told when to come back.
    pub fn rate_limited(message: impl Into<String>, retry_after_secs: u64) -> Self {
        let mut err = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
        err.retry_after_secs = Some(retry_after_secs.max(1));
        err
    }

    /// 422: line `line` of a batch writes the address the probe connects from, which is never stored. The
    /// answer names the address (to the probe itself, over its own connection) so the probe can withhold it.
    pub fn own_address_in_batch(line: usize, address: std::net::IpAddr) -> Self {
        let mut err = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "probe_address_in_batch",
            format!(
                "line {line} carries the address this probe connects from; nothing was stored: withhold that \
                 address and send the batch again"
            ),
        );
        err.line = Some(line);
        err.address = Some(address);
        err
    }

    /// A store failure while serving a read: 503 if it may pass, 500 otherwise.
    pub fn from_store(err: &StoreError, retry_after_secs: u64) -> Self {
        tracing::error!(error = %err, "store error");
        if err.is_retryable() {
            Self::unavailable(
                "store_unavailable",
                "storage is temporarily unavailable",
                retry_after_secs,
            )
        } else {
            Self::new(StatusCode::INTERNAL_SERVER_ERROR, "store_error", "storage failed")
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable error code (also the metrics' rejection reason).
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<BodyError> for ApiError {
    fn from(err: BodyError) -> Self {
        let (status, code) = match &err {
            BodyError::UnsupportedEncoding(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding"),
            BodyError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            BodyError::Corrupt { .. } => (StatusCode::BAD_REQUEST, "corrupt_body"),
        };
        ApiError::new(status, code, err.to_string())
    }
}

impl From<BatchError> for ApiError {
    fn from(err: BatchError) -> Self {
        let (status, code) = if err.is_too_large() {
            (StatusCode::PAYLOAD_TOO_LARGE, "too_many_lines")
        } else if err.line().is_some() {
            (StatusCode::BAD_REQUEST, "invalid_line")
        } else {
            (StatusCode::BAD_REQUEST, "empty_batch")
        };
        let mut api = ApiError::new(status, code, err.to_string());
        api.line = err.line();
        api
    }
}

impl ApiError {
    /// A failed submission: 503 + `Retry-After` when a retry may work, 500 otherwise.
    pub fn from_submit(err: SubmitError, retry_after_secs: u64) -> Self {
        match err {
            SubmitError::Store { retryable: false, .. } => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store_error",
                "storage refused the batch; nothing was stored",
            ),
            SubmitError::Store { .. } => Self::unavailable(
                "store_unavailable",
                "storage is temporarily unavailable; nothing was stored, retry later",
                retry_after_secs,
            ),
            SubmitError::ShuttingDown => Self::unavailable(
                "shutting_down",
                "the collector is shutting down; nothing was stored, retry later",
                retry_after_secs,
            ),
        }
    }
}

impl ApiError {
    /// A refused upload: its status, stable code and reason.
    pub fn from_ingest(err: IngestError, retry_after_secs: u64) -> Self {
        match err {
            IngestError::BadHeader(_) => Self::new(StatusCode::BAD_REQUEST, "bad_header", err.to_string()),
            IngestError::BadUplink(_) => Self::new(StatusCode::BAD_REQUEST, "bad_uplink", err.to_string()),
            IngestError::Unauthorized(reason) => Self::unauthorized(reason),
            IngestError::SignatureRequired(reason) => Self::new(StatusCode::UNAUTHORIZED, "signature_required", reason),
            IngestError::BadSignature(reason) => Self::new(StatusCode::UNAUTHORIZED, "bad_signature", reason),
            IngestError::Quota(exceeded) => too_many(exceeded),
            IngestError::Overloaded => Self::unavailable("overloaded", err.to_string(), retry_after_secs),
            IngestError::UnsupportedMediaType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                err.to_string(),
            ),
            IngestError::BodyTimeout(_) => Self::new(StatusCode::REQUEST_TIMEOUT, "body_timeout", err.to_string()),
            IngestError::BodyTooLarge(_) => Self::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", err.to_string()),
            IngestError::BodyRead(_) => Self::new(StatusCode::BAD_REQUEST, "body_read_failed", err.to_string()),
            IngestError::Body(e) => e.into(),
            IngestError::Batch(e) => e.into(),
            IngestError::OwnAddress { line, address } => Self::own_address_in_batch(line, address),
            IngestError::Store(e) => Self::from_store(&e, retry_after_secs),
            IngestError::Submit(e) => Self::from_submit(e, retry_after_secs),
            IngestError::Internal(_) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", err.to_string()),
        }
    }
}

/// The answer to a probe over its quota: 429 and when to come back (its spool keeps the data).
fn too_many(exceeded: Exceeded) -> ApiError {
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
            code: self.code,
            line: self.line,
            address: self.address,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"vigil\""),
            );
        }
        response
    }
}
