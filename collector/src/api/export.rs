//! `GET /api/v1/export` (DESIGN.md §3): the same exports as `vigil-collector export`, streamed chunk by chunk
//! as pages are read, so neither side holds the whole export.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use vigil_measurement::Kind;

use super::AppState;
use super::error::ApiError;
use super::events::parse_time;
use crate::export::{Dataset, ExportRequest, Format, export};

/// Query parameters.
#[derive(Debug, Default, Deserialize)]
pub struct ExportParams {
    dataset: Option<String>,
    format: Option<String>,
    from: Option<String>,
    to: Option<String>,
    country: Option<String>,
    asn: Option<String>,
    region: Option<String>,
    kind: Option<String>,
    outcome: Option<String>,
    class: Option<String>,
    after: Option<String>,
}

fn bad(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_parameter", message)
}

/// Parses a value of a `snake_case` enum, naming the parameter and the choices when it is wrong.
fn choice<T: serde::de::DeserializeOwned>(name: &str, value: &str, choices: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|_| bad(format!("`{name}` must be one of {choices}, not {value:?}")))
}

impl ExportParams {
    fn request(self) -> Result<ExportRequest, ApiError> {
        let number = |name: &str, v: Option<String>| -> Result<Option<i64>, ApiError> {
            v.map(|v| {
                v.parse::<i64>()
                    .map_err(|_| bad(format!("`{name}` must be an integer, not {v:?}")))
            })
            .transpose()
        };
        let time = |name: &'static str, v: Option<&str>| -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
            Ok(parse_time(name, v)?.and_then(|s| chrono::DateTime::from_timestamp(s, 0)))
        };
        Ok(ExportRequest {
            dataset: self
                .dataset
                .as_deref()
                .map(|d| choice::<Dataset>("dataset", d, "measurements, vitals, events"))
                .transpose()?
                .unwrap_or(Dataset::Measurements),
            format: self
                .format
                .as_deref()
                .map(|f| choice::<Format>("format", f, "csv, jsonl, parquet"))
                .transpose()?
                .unwrap_or(Format::Jsonl),
            from: time("from", self.from.as_deref())?,
            to: time("to", self.to.as_deref())?,
            country: self.country.map(|c| c.to_ascii_uppercase()),
            asn: number("asn", self.asn)?
                .map(|a| u32::try_from(a).map_err(|_| bad(format!("`asn` out of range: {a}"))))
                .transpose()?,
            region: self.region,
            kind: self
                .kind
                .as_deref()
                .map(|k| choice::<Kind>("kind", k, "dns, http, tcp, icmp, trace, vitals"))
                .transpose()?,
            outcome: self.outcome,
            class: self.class,
            after: number("after", self.after)?,
            ..ExportRequest::default()
        })
    }
}

pub(super) async fn get_export(
    State(state): State<AppState>,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let request = params.request()?;
    let content_type = request.format.content_type();
    // A small channel: the export reads the next page only when the client has taken the previous ones.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let store = state.store.clone();
    tokio::spawn(async move {
        let sink = |chunk: Vec<u8>| {
            let tx = tx.clone();
            async move {
                tx.send(Ok(Bytes::from(chunk)))
                    .await
                    .map_err(|_| "the client went away".to_owned())
            }
        };
        if let Err(err) = export(store.as_ref(), &request, sink).await {
            tracing::warn!(error = %err, "export stopped");
            // Abort the body so the client sees an incomplete transfer, not a short but valid-looking file.
            let _ = tx.send(Err(std::io::Error::other(err.to_string()))).await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "export_error", e.to_string()))
}
