//! The whole ingest path of one upload (DESIGN.md §2), from the request's headers and body to a durable write:
//! authenticate the probe, check its signing key, hold it to its quotas, admit the batch to the queue, read the
//! bounded body in time, check the signature over the bytes as received, decode, validate every line, refuse a
//! batch that writes the probe's own address, then commit through the queue and count what was stored.
//!
//! Every refusal is an [`IngestError`] that says why; nothing of a refused batch is stored. The HTTP layer only
//! maps these to answers.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::HeaderMap;
use hyper::header::{self, HeaderName};
use sha2::{Digest, Sha256};
use vigil_measurement::signature::{PublicKey, SIGNATURE_HEADER};

use super::off_network::{OffNetwork, OffNetworkLog};
use super::{
    AsnTable, BatchError, BatchLimits, BodyError, ContentEncoding, Exceeded, IngestQueue, ProbeLimits, SubmitError,
    client_address, decode_body, line_mentioning, parse_batch, parse_signed_batch,
};
use crate::config::IngestConfig;
use crate::metrics::CollectorMetrics;
use crate::model::ProbeRecord;
use crate::store::{Arrival, IngestBatch, SignedBody, Store, StoreError, WriteOutcome};
use crate::token::hash_token;

/// The request header naming the uplink that carried a batch (docs/wire.md).
const UPLINK_HEADER: &str = "vigil-uplink";

/// Media types accepted for a batch.
const NDJSON_TYPES: [&str; 2] = ["application/x-ndjson", "application/jsonl"];

/// Why an upload was refused. Nothing of it was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// A header the pipeline reads is not visible ASCII.
    #[error("header {0} is not visible ASCII")]
    BadHeader(HeaderName),
    /// No probe token, a malformed one, an unknown one, or a revoked one.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The probe must sign its batches and this one is not signed.
    #[error("{0}")]
    SignatureRequired(String),
    /// The batch's signature does not verify against the probe's key.
    #[error("{0}")]
    BadSignature(String),
    /// The probe is over one of its quotas.
    #[error("quota exceeded: {0:?}")]
    Quota(Exceeded),
    /// Every ingest slot is taken.
    #[error("ingest queue is full; nothing was stored, retry later")]
    Overloaded,
    /// The body is not NDJSON.
    #[error("Content-Type must be application/x-ndjson, not `{0}`")]
    UnsupportedMediaType(String),
    /// The body did not arrive in time.
    #[error("the body did not arrive within {0} s")]
    BodyTimeout(u64),
    /// The body is larger than allowed as sent.
    #[error("body is larger than {0} bytes")]
    BodyTooLarge(usize),
    /// The body could not be read.
    #[error("could not read the body: {0}")]
    BodyRead(String),
    /// The `Vigil-Uplink` header is not an uplink's name.
    #[error("Vigil-Uplink: {0}")]
    BadUplink(String),
    /// The body could not be decoded (encoding, size once decoded, corruption).
    #[error(transparent)]
    Body(#[from] BodyError),
    /// A line of the batch is invalid, or the batch is empty or too long.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// Line `line` carries the address the probe connects from.
    #[error("line {line} carries the address this probe connects from")]
    OwnAddress {
        /// The line (1-based).
        line: usize,
        /// The address.
        address: IpAddr,
    },
    /// The store failed while authenticating.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The batch was admitted but not stored.
    #[error(transparent)]
    Submit(#[from] SubmitError),
    /// The decoding worker was lost.
    #[error("decoder failed: {0}")]
    Internal(String),
}

/// What the ingest path runs on; one per server, cloned into every request.
#[derive(Clone)]
pub struct IngestPipeline {
    /// The store (probe tokens are looked up in it).
    store: Arc<dyn Store>,
    /// The queue in front of the store's writes.
    queue: IngestQueue,
    /// The ingest limits.
    config: Arc<IngestConfig>,
    /// Per-probe quotas.
    limits: Arc<ProbeLimits>,
    /// Counters of what was received and stored.
    metrics: Arc<CollectorMetrics>,
    /// The IP-to-ASN table, when configured: the network each upload arrived from.
    asn_table: Option<Arc<AsnTable>>,
    /// Uploads over a probe's line from another network than the registered one, said once each.
    off_network: Arc<OffNetworkLog>,
}

impl IngestPipeline {
    /// A pipeline over `store` and `queue`, with the quotas and limits `config` sets.
    pub fn new(
        store: Arc<dyn Store>,
        queue: IngestQueue,
        config: Arc<IngestConfig>,
        limits: Arc<ProbeLimits>,
        metrics: Arc<CollectorMetrics>,
    ) -> Self {
        IngestPipeline {
            store,
            queue,
            config,
            limits,
            metrics,
            asn_table: None,
            off_network: Arc::new(OffNetworkLog::default()),
        }
    }

    /// The same pipeline, looking up the network each upload arrived from in `table`.
    pub fn with_asn_table(mut self, table: Option<Arc<AsnTable>>) -> Self {
        self.asn_table = table;
        self
    }

    /// Batch parsing limits derived from the configuration.
    fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            max_line_bytes: self.config.max_line_bytes,
            max_lines: self.config.max_lines,
            measurement: vigil_measurement::Limits {
                max_future_secs: self.config.max_future_secs,
                ..vigil_measurement::Limits::default()
            },
        }
    }

    /// Runs one upload from `peer` (the connection's address, when known) through the whole path; returns what
    /// the durable write stored.
    pub async fn ingest<B>(
        &self,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
        body: B,
    ) -> Result<WriteOutcome, IngestError>
    where
        B: hyper::body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let client = client_address(
            peer,
            header_text(headers, HeaderName::from_static("x-forwarded-for"))?,
            &self.config.trusted_proxies,
        );
        let probe = self.authenticate(headers).await?;
        let network = self
            .asn_table
            .as_ref()
            .zip(client)
            .and_then(|(table, address)| table.lookup(address));
        let arrival = Arrival {
            carrier: carrier(headers)?,
            asn: network.map(|n| n.asn),
            network_country: network.and_then(|n| n.country().map(str::to_owned)),
        };
        let signer = self.signing_key(&probe, headers)?;
        self.limits.batch(&probe.probe_id).map_err(IngestError::Quota)?;
        let admission = self.queue.admit().map_err(|_| IngestError::Overloaded)?;
        check_content_type(headers)?;
        let encoding = ContentEncoding::from_header(header_text(headers, header::CONTENT_ENCODING)?)?;
        let raw = self.read_body(body).await?;
        let received_at = Utc::now();
        let batch = self
            .decode(probe, raw, encoding, signer, client, received_at)
            .await?
            .arriving(arrival);
        let count = batch.measurements().len();
        let received: Vec<(&'static str, &'static str, Option<f64>)> = batch
            .measurements()
            .iter()
            .map(|m| {
                let age =
                    (!m.clock_unsynced()).then(|| (received_at - m.started_at).num_milliseconds() as f64 / 1000.0);
                (m.kind().as_str(), m.result.outcome().as_str(), age)
            })
            .collect();
        let off_network = OffNetwork::of(&batch);
        let outcome = self.queue.submit(admission, batch).await?;
        if let Some(mismatch) = off_network {
            self.off_network.report(mismatch, &self.metrics);
        }
        tracing::debug!(
            lines = count,
            accepted = outcome.accepted,
            duplicates = outcome.duplicates,
            "batch stored"
        );
        for (kind, result, age) in received {
            self.metrics
                .measurements_received
                .with_label_values(&[kind, result])
                .inc();
            if let Some(age) = age.filter(|a| *a >= 0.0) {
                self.metrics.measurement_age_seconds.observe(age);
            }
        }
        self.metrics.measurements_stored.inc_by(outcome.accepted);
        self.metrics.measurements_duplicate.inc_by(outcome.duplicates);
        Ok(outcome)
    }

    /// The body as sent, at most `max_body_bytes`, within `body_timeout_secs`.
    async fn read_body<B>(&self, body: B) -> Result<bytes::Bytes, IngestError>
    where
        B: hyper::body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let max_body = self.config.max_body_bytes;
        let timeout = Duration::from_secs(self.config.body_timeout_secs.max(1));
        let collected = tokio::time::timeout(timeout, Limited::new(body, max_body).collect())
            .await
            .map_err(|_| IngestError::BodyTimeout(timeout.as_secs()))?
            .map_err(|err| {
                if err.downcast_ref::<LengthLimitError>().is_some() {
                    IngestError::BodyTooLarge(max_body)
                } else {
                    IngestError::BodyRead(err.to_string())
                }
            })?;
        Ok(collected.to_bytes())
    }

    /// Checks the signature over the bytes as received (before they are decompressed or parsed), decodes and
    /// validates every line, refuses a batch that writes `client`'s address, holds the probe to its measurement
    /// quota, and makes `probe`'s batch with each measurement's stored line. CPU work: off the async threads.
    async fn decode(
        &self,
        probe: ProbeRecord,
        raw: bytes::Bytes,
        encoding: ContentEncoding,
        signer: Option<(PublicKey, String)>,
        client: Option<IpAddr>,
        received_at: DateTime<Utc>,
    ) -> Result<IngestBatch, IngestError> {
        let limits = self.batch_limits();
        let max_decoded = self.config.max_decoded_bytes;
        let quotas = Arc::clone(&self.limits);
        tokio::task::spawn_blocking(move || {
            let signed = match signer {
                Some((public_key, header)) => {
                    let signature = public_key
                        .verify(&raw, &header)
                        .map_err(|e| IngestError::BadSignature(e.to_string()))?;
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
                return Err(IngestError::OwnAddress { line, address });
            }
            // The probe's measurement quota, before each line's stored form is made: a refused batch costs its
            // parsing only.
            quotas
                .measurements(&probe.probe_id, measurements.len())
                .map_err(IngestError::Quota)?;
            Ok(IngestBatch::new(probe, received_at, measurements, signed))
        })
        .await
        .map_err(|e| IngestError::Internal(e.to_string()))?
    }

    /// The key a batch must be signed with and the signature sent, `None` for a probe registered without a key
    /// (accepted on its token alone unless the collector requires signatures).
    fn signing_key(
        &self,
        probe: &ProbeRecord,
        headers: &HeaderMap,
    ) -> Result<Option<(PublicKey, String)>, IngestError> {
        let signature = header_text(headers, HeaderName::from_static("vigil-signature"))?;
        match (probe.public_key, signature) {
            (Some(key), Some(signature)) => Ok(Some((key, signature.to_owned()))),
            (Some(_), None) => Err(IngestError::SignatureRequired(format!(
                "this probe is registered with a signing key: every batch must carry a {SIGNATURE_HEADER} header"
            ))),
            (None, _) if self.config.require_signatures => Err(IngestError::SignatureRequired(
                "this collector accepts signed batches only, and this probe has no signing key registered \
                 (vigil-probe register; vigil-collector probe set-key)"
                    .to_owned(),
            )),
            (None, _) => Ok(None),
        }
    }

    /// The probe behind the bearer token.
    async fn authenticate(&self, headers: &HeaderMap) -> Result<ProbeRecord, IngestError> {
        let value = header_text(headers, header::AUTHORIZATION)?.ok_or(IngestError::Unauthorized(
            "missing `Authorization: Bearer <probe token>` header",
        ))?;
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or(IngestError::Unauthorized(
                "the Authorization header must be `Bearer <probe token>`",
            ))?;
        let probe = self
            .store
            .probe_by_token(hash_token(token))
            .await?
            .ok_or(IngestError::Unauthorized("unknown probe token"))?;
        if !probe.is_active() {
            return Err(IngestError::Unauthorized("this probe's token was revoked"));
        }
        Ok(probe)
    }
}

/// The uplink that carried the batch (`Vigil-Uplink`, docs/wire.md), `None` for the probe's registered line.
fn carrier(headers: &HeaderMap) -> Result<Option<String>, IngestError> {
    let Some(name) = header_text(headers, HeaderName::from_static(UPLINK_HEADER))? else {
        return Ok(None);
    };
    match vigil_measurement::Uplink::name_problem(name) {
        Some(problem) => Err(IngestError::BadUplink(problem.to_owned())),
        None => Ok(Some(name.to_owned())),
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), IngestError> {
    let value = header_text(headers, header::CONTENT_TYPE)?.unwrap_or("");
    let media = value.split(';').next().unwrap_or("").trim();
    if NDJSON_TYPES.iter().any(|t| media.eq_ignore_ascii_case(t)) {
        Ok(())
    } else {
        Err(IngestError::UnsupportedMediaType(media.to_owned()))
    }
}

fn header_text(headers: &HeaderMap, name: HeaderName) -> Result<Option<&str>, IngestError> {
    headers
        .get(&name)
        .map(|v| v.to_str().map_err(|_| IngestError::BadHeader(name.clone())))
        .transpose()
}
