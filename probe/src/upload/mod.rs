//! The uploader: moves spooled measurements to the collector (DESIGN.md §2) and deletes them only after a `200`.
//!
//! Each round takes one batch from the spool, withholds the probe's own addresses from it ([`crate::own_addresses`]), (newest vitals first, then the backlog oldest first), sends it as
//! gzip-compressed NDJSON to the collector URL and, when that cannot be reached, to each fallback URL in turn —
//! through each upload-capable uplink in the order `[[uplinks]]` lists them (every URL through the first, then
//! through the next; the `Vigil-Uplink` header names the one that carried it) — and acts on the answer:
//!
//! | answer | action |
//! |---|---|
//! | `200` | acknowledge (delete) the batch |
//! | `400` naming line N | move that one record to the quarantine file with the reason; the rest go next round |
//! | `413` | halve the batch size and try again; a single record too large is quarantined |
//! | `401`, `403` | try the next URL (a relay may know the token when one endpoint does not); refused by every URL: say so loudly, back off (1 min doubling to 1 h) and try again — measuring goes on, nothing is deleted, and uploads resume by themselves when the collector accepts the token again |
//! | `422` naming an address | the collector sees the probe connect from it: remember it, withhold it, resend |
//! | `429`, `503` | wait at least `Retry-After` |
//! | anything else, or no answer | back off (exponential, full jitter) and try again |
//!
//! Before each round, `[upload] during_isolation` ([`DuringIsolation`]) may hold the batch, or keep it off an
//! isolated uplink, while the agent judges an uplink isolated (`isolation.rs`); held batches stay in the spool.

mod backoff;
mod isolation;
mod transport;

use std::io::Write;
use std::time::Duration;

use hyper::StatusCode;
use url::Url;

pub use backoff::Backoff;
pub use isolation::{DuringIsolation, IsolationState, judge as judge_isolation};
use transport::{Answer, CollectorClient};

use crate::config::ProbeConfig;
use crate::spool::{SharedSpool, SpoolError, SpooledRecord};

/// What one upload round did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoundOutcome {
    /// Nothing was waiting.
    Empty,
    /// A batch was stored by the collector and deleted from the spool.
    Delivered {
        /// Records sent.
        records: usize,
        /// Newly stored by the collector.
        accepted: u64,
        /// Already stored (an earlier attempt had landed).
        duplicates: u64,
    },
    /// The collector refused one record; it was moved to the quarantine file.
    Quarantined {
        /// Its spool position.
        seq: i64,
        /// The collector's reason.
        reason: String,
    },
    /// The collector found the batch too large; the next one will be smaller.
    Shrunk {
        /// The new most records per batch.
        max_records: usize,
    },
    /// The collector saw the probe connect from an address the batch carried; it is withheld from now on and
    /// the batch goes again.
    LearntOwnAddress,
    /// Every URL refused the token (unknown or revoked): the spool is kept, and the uploader backs off before it
    /// asks again.
    Unauthorized {
        /// The collector's reason (per URL).
        reason: String,
    },
    /// Uploads wait while an uplink is isolated (`[upload] during_isolation`); the spool keeps everything.
    Held {
        /// Which uplinks are isolated and the policy that holds.
        reason: String,
    },
    /// Could not deliver; try again later.
    Failed {
        /// What went wrong (per URL tried).
        error: String,
        /// The collector's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
}

impl RoundOutcome {
    /// Whether another round may go at once (progress was made and more may wait).
    pub fn made_progress(&self) -> bool {
        matches!(
            self,
            RoundOutcome::Delivered { .. }
                | RoundOutcome::Quarantined { .. }
                | RoundOutcome::Shrunk { .. }
                | RoundOutcome::LearntOwnAddress
        )
    }
}

/// An uploader that cannot be built or that lost its spool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The TLS configuration could not be built.
    #[error("TLS setup failed: {0}")]
    Tls(#[from] crate::tls::CollectorTlsError),
    /// A collector URL is unusable.
    #[error("collector URL `{url}`: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The spool failed.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The signing key could not be loaded or made.
    #[error(transparent)]
    Key(#[from] crate::signing::KeyError),
}

/// Totals of a drain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainSummary {
    /// Batches delivered.
    pub batches: usize,
    /// Records delivered.
    pub records: usize,
    /// Records quarantined.
    pub quarantined: usize,
}

/// A client for the collector along one way out.
struct Route {
    /// The uplink's name, sent as `Vigil-Uplink`; `None` along the routing table's choice.
    uplink: Option<String>,
    client: CollectorClient,
}

/// The header naming the uplink that carried a batch (how the bytes travelled; not signed, not stored as data).
pub const UPLINK_HEADER: &str = "vigil-uplink";

/// Sends spooled batches to the collector.
pub struct Uploader {
    routes: Vec<Route>,
    during_isolation: DuringIsolation,
    isolation: IsolationState,
    endpoints: Vec<Url>,
    token: String,
    key: crate::signing::ProbeKey,
    own: crate::own_addresses::OwnAddresses,
    max_records: usize,
    max_bytes: usize,
    backoff: Backoff,
    /// The backoff while the token is refused: long, since only an operator fixes it.
    auth_backoff: Backoff,
}

impl Uploader {
    /// Builds an uploader from the probe's configuration.
    pub fn new(config: &ProbeConfig) -> Result<Self, UploadError> {
        let mut endpoints = Vec::new();
        for base in std::iter::once(&config.collector.url).chain(&config.collector.fallback_urls) {
            endpoints.push(measurements_url(base)?);
        }
        let tls =
            crate::tls::collector_client_config(config.collector.ca_file.as_deref(), &config.collector.cert_sha256)?;
        // The checks' set-up says what is wrong with an uplink's interface; the uploader only uses the paths.
        let (ways, _warnings) = crate::uplinks::ways_out(&config.uplinks);
        let routes = ways
            .into_iter()
            .filter(|way| way.upload)
            .map(|way| Route {
                uplink: way.label.map(|label| label.name),
                client: CollectorClient::new(
                    tls.clone(),
                    way.path,
                    Duration::from_secs_f64(config.timeouts.connect_secs),
                    Duration::from_secs_f64(config.timeouts.upload_secs),
                ),
            })
            .collect();
        Ok(Uploader {
            routes,
            during_isolation: config.upload.during_isolation,
            isolation: IsolationState::default(),
            endpoints,
            token: config.collector.token.clone(),
            key: crate::signing::ProbeKey::load_or_create(&config.probe.state_dir)?,
            own: crate::own_addresses::OwnAddresses::load(&config.probe.state_dir),
            max_records: config.upload.max_batch_records,
            max_bytes: config.upload.max_batch_bytes,
            backoff: Backoff::new(
                Duration::from_secs(1),
                Duration::from_secs(config.upload.max_backoff_secs),
            ),
            auth_backoff: Backoff::new(Duration::from_secs(60), Duration::from_secs(3600)),
        })
    }

    /// The isolation state this uploader obeys: the agent records its judgement of each cycle in it.
    pub fn isolation(&self) -> IsolationState {
        self.isolation.clone()
    }

    /// The routes a batch may take now, or why none may (`during_isolation` holds).
    fn open_routes(&self) -> Result<Vec<&Route>, String> {
        let isolated = |route: &&Route| self.isolation.is_isolated(route.uplink.as_deref());
        match self.during_isolation {
            DuringIsolation::Send => Ok(self.routes.iter().collect()),
            DuringIsolation::Hold if self.isolation.border_cut() => {
                Err("an uplink crossing the border is isolated and during_isolation = \"hold\"".to_owned())
            }
            DuringIsolation::Hold => Ok(self.routes.iter().collect()),
            DuringIsolation::OtherUplinks => {
                let open: Vec<&Route> = self.routes.iter().filter(|r| !isolated(r)).collect();
                if open.is_empty() {
                    Err("every upload uplink is isolated and during_isolation = \"other_uplinks\"".to_owned())
                } else {
                    Ok(open)
                }
            }
        }
    }

    /// One round: one batch, one answer, one action.
    pub async fn upload_once(&mut self, spool: &SharedSpool) -> Result<RoundOutcome, UploadError> {
        let batch = spool.with(|s| s.next_batch(self.max_records, self.max_bytes))?;
        if batch.is_empty() {
            return Ok(RoundOutcome::Empty);
        }
        let routes = match self.open_routes() {
            Ok(routes) => routes,
            Err(reason) => return Ok(RoundOutcome::Held { reason }),
        };
        let own = self.own.current();
        let body = gzip_ndjson(
            batch
                .iter()
                .map(|r| crate::own_addresses::withhold_in_line(&r.line, &own)),
        );
        let signature = self.key.sign(&body);
        let mut errors = Vec::new();
        let mut refusals = Vec::new();
        let bearer = format!("Bearer {}", self.token);
        let mut answer = None;
        'routes: for route in routes {
            let mut headers = vec![
                ("authorization", bearer.as_str()),
                ("content-type", "application/x-ndjson"),
                ("content-encoding", "gzip"),
                (vigil_measurement::signature::SIGNATURE_HEADER, signature.as_str()),
            ];
            let via = match &route.uplink {
                Some(name) => {
                    headers.push((UPLINK_HEADER, name.as_str()));
                    format!(" via {name}")
                }
                None => String::new(),
            };
            for endpoint in &self.endpoints {
                let host = endpoint.host_str().unwrap_or("?");
                let response = match route.client.post(endpoint, &headers, body.clone()).await {
                    Ok(r) => r,
                    Err(err) => {
                        errors.push(format!("{host}{via}: {err}"));
                        continue;
                    }
                };
                let status = response.status;
                if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
                    errors.push(format!("{host}{via}: HTTP {status}"));
                    continue;
                }
                if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                    let reason = response.json["error"].as_str().unwrap_or("no reason given");
                    refusals.push(format!("{host}{via}: HTTP {status}: {reason}"));
                    continue;
                }
                answer = Some(response);
                break 'routes;
            }
        }
        if let Some(response) = answer {
            return self.act(spool, &batch, response).await;
        }
        if !refusals.is_empty() {
            let reason = refusals.join("; ");
            tracing::error!(
                %reason,
                "THE COLLECTOR REFUSED THIS PROBE'S TOKEN: measurements stay in the spool and uploads are retried with \
                 backoff. Ask the operator to check the probe's registration (a new token goes in probe.toml)."
            );
            return Ok(RoundOutcome::Unauthorized { reason });
        }
        Ok(RoundOutcome::Failed {
            error: errors.join("; "),
            retry_after: None,
        })
    }

    /// Rounds until the spool is empty or a round makes no progress; returns totals and the last outcome.
    pub async fn drain(&mut self, spool: &SharedSpool) -> Result<(DrainSummary, RoundOutcome), UploadError> {
        let mut summary = DrainSummary::default();
        loop {
            let outcome = self.upload_once(spool).await?;
            match &outcome {
                RoundOutcome::Delivered { records, .. } => {
                    summary.batches += 1;
                    summary.records += records;
                }
                RoundOutcome::Quarantined { .. } => summary.quarantined += 1,
                RoundOutcome::Shrunk { .. } | RoundOutcome::LearntOwnAddress => {}
                _ => return Ok((summary, outcome)),
            }
        }
    }

    /// How long to wait after an outcome before the next round (zero after progress).
    pub fn wait_after(&mut self, outcome: &RoundOutcome) -> Duration {
        match outcome {
            RoundOutcome::Failed { retry_after, .. } => self.backoff.fail(*retry_after),
            RoundOutcome::Unauthorized { .. } => {
                // Not jittered down to nothing: a refused token is fixed by a person, not by asking again soon.
                let floor = self.auth_backoff.bound();
                self.auth_backoff.fail(Some(floor))
            }
            // Held rounds wait for the next cycle's judgement (the agent wakes the uploader after each).
            RoundOutcome::Empty | RoundOutcome::Held { .. } => Duration::ZERO,
            _ => {
                self.backoff.succeed();
                self.auth_backoff.succeed();
                Duration::ZERO
            }
        }
    }

    async fn act(
        &mut self,
        spool: &SharedSpool,
        batch: &[SpooledRecord],
        response: Answer,
    ) -> Result<RoundOutcome, UploadError> {
        let Answer {
            status,
            retry_after,
            json: answer,
        } = response;
        let reason = answer["error"].as_str().unwrap_or("no reason given").to_owned();
        match status {
            StatusCode::OK => {
                let seqs: Vec<i64> = batch.iter().map(|r| r.seq).collect();
                spool.with(|s| s.ack(&seqs))?;
                Ok(RoundOutcome::Delivered {
                    records: batch.len(),
                    accepted: answer["accepted"].as_u64().unwrap_or(0),
                    duplicates: answer["duplicates"].as_u64().unwrap_or(0),
                })
            }
            StatusCode::BAD_REQUEST => {
                let line = answer["line"].as_u64().and_then(|n| usize::try_from(n).ok());
                match line.and_then(|n| n.checked_sub(1)).and_then(|i| batch.get(i)) {
                    Some(record) => {
                        spool.with(|s| s.quarantine(record.seq, &reason))?;
                        Ok(RoundOutcome::Quarantined {
                            seq: record.seq,
                            reason,
                        })
                    }
                    None => {
                        tracing::error!(%reason, "the collector refused a whole batch; will retry");
                        Ok(RoundOutcome::Failed {
                            error: format!("HTTP 400: {reason}"),
                            retry_after: None,
                        })
                    }
                }
            }
            StatusCode::PAYLOAD_TOO_LARGE if batch.len() > 1 => {
                self.max_records = (batch.len() / 2).max(1);
                Ok(RoundOutcome::Shrunk {
                    max_records: self.max_records,
                })
            }
            StatusCode::PAYLOAD_TOO_LARGE => {
                spool.with(|s| s.quarantine(batch[0].seq, &format!("too large for the collector: {reason}")))?;
                Ok(RoundOutcome::Quarantined {
                    seq: batch[0].seq,
                    reason,
                })
            }
            StatusCode::UNPROCESSABLE_ENTITY if answer["code"] == "probe_address_in_batch" => {
                self.own_address_refused(spool, batch, &answer, reason)
            }
            other => Ok(RoundOutcome::Failed {
                error: format!("HTTP {other}: {reason}"),
                retry_after,
            }),
        }
    }
}

impl Uploader {
    /// The collector refused a batch that carries the address it sees this probe connect from. A new address
    /// is learnt (and withheld from then on); one already known means a field the probe cannot withhold it
    /// from, so that line goes to quarantine rather than block the spool.
    fn own_address_refused(
        &mut self,
        spool: &SharedSpool,
        batch: &[SpooledRecord],
        answer: &serde_json::Value,
        reason: String,
    ) -> Result<RoundOutcome, UploadError> {
        let address = answer["address"]
            .as_str()
            .and_then(|a| a.parse::<std::net::IpAddr>().ok());
        let Some(address) = address else {
            return Ok(RoundOutcome::Failed {
                error: format!("HTTP 422 without an address: {reason}"),
                retry_after: None,
            });
        };
        match self.own.learn(address) {
            Ok(true) => {
                // The address itself stays out of the log: logs get pasted into bug reports.
                tracing::info!("the collector sees this probe from an address it had not withheld; withholding it");
                return Ok(RoundOutcome::LearntOwnAddress);
            }
            Ok(false) => {}
            Err(err) => {
                return Ok(RoundOutcome::Failed {
                    error: format!("cannot record the probe's own address: {err}"),
                    retry_after: None,
                });
            }
        }
        let line = answer["line"].as_u64().and_then(|n| usize::try_from(n).ok());
        match line.and_then(|n| n.checked_sub(1)).and_then(|i| batch.get(i)) {
            Some(record) => {
                let reason = "carries the probe's own address where it cannot be withheld".to_owned();
                spool.with(|s| s.quarantine(record.seq, &reason))?;
                Ok(RoundOutcome::Quarantined {
                    seq: record.seq,
                    reason,
                })
            }
            None => Ok(RoundOutcome::Failed {
                error: format!("HTTP 422: {reason}"),
                retry_after: None,
            }),
        }
    }
}

/// `BASE/api/v1/measurements`.
fn measurements_url(base: &str) -> Result<Url, UploadError> {
    let mut url = Url::parse(base).map_err(|e| UploadError::Url {
        url: base.to_owned(),
        reason: e.to_string(),
    })?;
    let path = format!("{}/api/v1/measurements", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url)
}

fn gzip_ndjson<L: AsRef<str>>(lines: impl Iterator<Item = L>) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for line in lines {
        // Writing to a Vec cannot fail.
        let _ = encoder.write_all(line.as_ref().as_bytes());
        let _ = encoder.write_all(b"\n");
    }
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measurements_url_keeps_a_base_path() {
        assert_eq!(
            measurements_url("https://c.example.org").expect("url").as_str(),
            "https://c.example.org/api/v1/measurements"
        );
        assert_eq!(
            measurements_url("https://relay.example.org/vigil/")
                .expect("url")
                .as_str(),
            "https://relay.example.org/vigil/api/v1/measurements"
        );
    }
}
