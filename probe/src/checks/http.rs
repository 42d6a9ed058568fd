//! The HTTP check: fetch one URL, following redirects by hand so the whole chain is recorded; status, a bounded
//! set of headers, and body length, SHA-256 and `<title>` of at most 512 KiB of body. Every response in the
//! chain is matched against the blocking fingerprints (blockpages often arrive as a redirect). Failures are
//! classified by stage (`dns`, `connect`, `tls`, `request`, `response`) into the closed outcome set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::redirect::Policy;
use sha2::{Digest, Sha256};
use url::Url;
use vigil_measurement::result::HttpResult;
use vigil_measurement::{Measurement, MeasurementResult, Outcome, Target};

use super::envelope;
use crate::fingerprints::Fingerprints;

/// Most body bytes read per response.
pub const BODY_CAP: usize = 512 << 10;
/// Most redirects followed.
pub const MAX_REDIRECTS: usize = 10;
/// Response headers recorded (lower-case); all headers are still matched against fingerprints.
const RECORDED_HEADERS: [&str; 8] = [
    "server",
    "content-type",
    "content-length",
    "location",
    "via",
    "x-cache",
    "cf-ray",
    "x-app-url",
];

/// Settings of the HTTP check.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// The whole fetch, redirects included.
    pub timeout: Duration,
}

/// A reusable HTTP checker (one connection pool, one TLS configuration).
#[derive(Clone)]
pub struct HttpChecker {
    client: reqwest::Client,
    settings: HttpSettings,
    fingerprints: Arc<Fingerprints>,
}

/// The checker could not be built.
#[derive(Debug, thiserror::Error)]
#[error("HTTP check setup failed: {0}")]
pub struct HttpSetupError(String);

impl HttpChecker {
    /// Builds a checker trusting Mozilla's roots plus `extra_roots` (DER certificates; tests and private CAs).
    pub fn new(
        settings: HttpSettings,
        fingerprints: Arc<Fingerprints>,
        extra_roots: &[Vec<u8>],
    ) -> Result<Self, HttpSetupError> {
        let tls = crate::tls::client_config_with(extra_roots).map_err(|e| HttpSetupError(e.to_string()))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(Policy::none())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .pool_max_idle_per_host(0)
            .no_proxy()
            .user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
            .build()
            .map_err(|e| HttpSetupError(e.to_string()))?;
        Ok(HttpChecker {
            client,
            settings,
            fingerprints,
        })
    }

    /// Fetches `url`; never fails (a failure is the result).
    pub async fn check(&self, url: &Url, target: Target) -> Measurement {
        let started_at = chrono::Utc::now();
        let clock = Instant::now();
        let result = match tokio::time::timeout(self.settings.timeout, self.fetch(url)).await {
            Ok(result) => result,
            Err(_) => failure(url, Outcome::Timeout, "response", None),
        };
        envelope(target, started_at, clock.elapsed(), MeasurementResult::Http(result))
    }

    async fn fetch(&self, first: &Url) -> HttpResult {
        let mut url = first.clone();
        let mut redirects = Vec::new();
        loop {
            let response = match self.client.get(url.clone()).send().await {
                Ok(r) => r,
                Err(err) => {
                    let (outcome, stage, detail) = classify(&err);
                    let mut result = failure(first, outcome, stage, detail);
                    result.redirects = redirects;
                    return result;
                }
            };
            let status = response.status();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let server_ip = response.remote_addr().map(|a| a.ip());
            let location = status
                .is_redirection()
                .then(|| response.headers().get(reqwest::header::LOCATION))
                .flatten()
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| url.join(loc).ok());
            let read_started = Instant::now();
            let body = read_body(response).await;
            let read_secs = read_started.elapsed().as_secs_f64();
            let (body, body_error) = match body {
                Ok(b) => (b, None),
                Err(err) => (Vec::new(), Some(err)),
            };
            let fingerprint = self
                .fingerprints
                .match_http(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), &body)
                .map(|f| f.name.clone());
            let next = location.filter(|_| fingerprint.is_none() && redirects.len() < MAX_REDIRECTS);
            if let Some(next) = next {
                redirects.push(next.to_string());
                url = next;
                continue;
            }
            let mut result = failure(first, Outcome::Ok, "", None);
            result.failure_stage = None;
            result.status = Some(status.as_u16());
            result.redirects = redirects;
            result.headers = headers
                .iter()
                .filter(|(k, _)| RECORDED_HEADERS.contains(&k.as_str()))
                .take(16)
                .map(|(k, v)| (k.clone(), v.chars().take(512).collect()))
                .collect();
            result.server_ip = server_ip;
            result.body_length = Some(body.len() as u64);
            result.body_sha256 = Some(hex_lower(&Sha256::digest(&body)));
            result.title = page_title(&body);
            if read_secs > 0.0 && !body.is_empty() {
                result.throughput_bps = Some(body.len() as f64 / read_secs);
            }
            if let Some(name) = fingerprint {
                result.outcome = Outcome::Blockpage;
                result.fingerprint = Some(name);
            } else if let Some((outcome, detail)) = body_error {
                result.outcome = outcome;
                result.failure_stage = Some("response".to_owned());
                result.error_detail = detail;
            }
            return result;
        }
    }
}

/// Reads at most [`BODY_CAP`] bytes of body.
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, (Outcome, Option<String>)> {
    let mut body = Vec::new();
    while body.len() < BODY_CAP {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = BODY_CAP - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => break,
            Err(err) => {
                let (outcome, _, detail) = classify(&err);
                return Err((
                    if outcome == Outcome::Error {
                        Outcome::HttpError
                    } else {
                        outcome
                    },
                    detail,
                ));
            }
        }
    }
    Ok(body)
}

/// A result for a fetch that produced no response.
fn failure(url: &Url, outcome: Outcome, stage: &str, detail: Option<String>) -> HttpResult {
    HttpResult {
        outcome,
        url: url.to_string(),
        status: None,
        redirects: Vec::new(),
        headers: Default::default(),
        body_length: None,
        body_sha256: None,
        title: None,
        fingerprint: None,
        failure_stage: (!stage.is_empty()).then(|| stage.to_owned()),
        tls_version: None,
        server_ip: None,
        throughput_bps: None,
        error_detail: detail,
    }
}

/// Outcome, stage and (for `error`) detail of a failed request, read from the error's cause chain.
fn classify(err: &reqwest::Error) -> (Outcome, &'static str, Option<String>) {
    let mut io_kind = None;
    let mut tls = false;
    let mut dns = false;
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        // io::Error hides a wrapped error from source(): descend through get_ref() by hand.
        let mut io = e.downcast_ref::<std::io::Error>();
        while let Some(err) = io {
            if err.kind() != std::io::ErrorKind::Other {
                io_kind = io_kind.or(Some(err.kind()));
            }
            let inner = err.get_ref();
            tls |= inner.is_some_and(|i| i.is::<rustls::Error>());
            io = inner.and_then(|i| i.downcast_ref::<std::io::Error>());
        }
        if e.downcast_ref::<rustls::Error>().is_some() {
            tls = true;
        }
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            dns = true;
        }
        source = e.source();
    }
    let stage = if dns {
        "dns"
    } else if tls {
        "tls"
    } else if err.is_connect() {
        "connect"
    } else if err.is_body() || err.is_decode() {
        "response"
    } else {
        "request"
    };
    use std::io::ErrorKind;
    let outcome = if err.is_timeout() || io_kind == Some(ErrorKind::TimedOut) {
        Outcome::Timeout
    } else if dns {
        Outcome::Nxdomain
    } else if tls {
        Outcome::TlsError
    } else {
        match io_kind {
            Some(ErrorKind::ConnectionRefused) => Outcome::Refused,
            Some(ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe) => Outcome::Reset,
            Some(ErrorKind::HostUnreachable) => Outcome::Unreachable,
            Some(ErrorKind::NetworkUnreachable) => Outcome::NoRoute,
            Some(ErrorKind::UnexpectedEof) => Outcome::HttpError,
            _ if err.is_request() || err.is_body() || err.is_decode() => Outcome::HttpError,
            _ => Outcome::Error,
        }
    };
    let detail =
        matches!(outcome, Outcome::Error | Outcome::TlsError | Outcome::HttpError).then(|| super::error_detail(err));
    (outcome, stage, detail)
}

/// The text of the first `<title>` element, whitespace collapsed, at most 256 characters.
pub fn page_title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 << 10)]);
    let lower = text.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title: String = text[start..end].split_whitespace().collect::<Vec<_>>().join(" ");
    (!title.is_empty()).then(|| title.chars().take(256).collect())
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_found_case_insensitively_and_trimmed() {
        assert_eq!(
            page_title(b"<html><HEAD><Title lang=en>\n  Access   denied </TITLE>"),
            Some("Access denied".to_owned())
        );
        assert_eq!(page_title(b"<html><body>no title</body></html>"), None);
        assert_eq!(page_title(b"<title></title>"), None);
    }
}
