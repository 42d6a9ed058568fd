//! The HTTP check: fetch one URL, following redirects by hand so the whole chain is recorded; status, a bounded
//! set of headers, and body length, SHA-256 and `<title>` of at most 512 KiB of body. Every response in the
//! chain is matched against the blocking fingerprints (blockpages often arrive as a redirect). Failures are
//! classified by stage (`dns`, `connect`, `tls`, `request`, `response`) into the closed outcome set.
//!
//! The fetch is HTTP/1.1 over hyper on connections the check makes itself — name lookup, TCP connect, TLS
//! (rustls) — each wrapped in a [`Counted`] stream, so every byte of it (handshakes, redirects, bodies) is
//! counted for the data budget, and a fetch stops reading once it has used [`FETCH_CAP`] bytes on the wire.
//!
//! Two tests may follow a fetch: the SNI test when its TLS handshake failed ([`super::sni`]), and the QUIC test
//! when the site announced HTTP/3 in an `alt-svc` header ([`super::alt_svc`], [`super::quic`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use url::{Position, Url};
use vigil_measurement::result::{HttpResult, QuicTest};
use vigil_measurement::{Measurement, MeasurementResult, Outcome, Target};

use super::alt_svc::Announced;
use super::quic::QuicChecker;
use super::{AbortOnDrop, USER_AGENT, envelope};
use crate::fingerprints::Fingerprints;
use crate::net::NetPath;
use crate::traffic::CheckMeter;

/// Most body bytes read per response.
pub const BODY_CAP: usize = 512 << 10;
/// Most bytes on the wire one fetch may use, redirects included: the body cap of one response and 128 KiB for
/// handshakes, headers and the bodies of redirects. A fetch stops reading when it reaches this; it can pass it by
/// at most one read (a TLS record, [`READ_SLACK`]).
pub const FETCH_CAP: u64 = (BODY_CAP as u64) + (128 << 10);
/// How far one read can carry a fetch past [`FETCH_CAP`]: one TLS record and its segments' headers.
pub const READ_SLACK: u64 = 20 << 10;
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
    /// The control name of the SNI test that follows a failed TLS handshake ([`super::sni`]); none: no test.
    pub sni_control: Option<String>,
    /// Whether sites that announced HTTP/3 are also asked over QUIC ([`super::quic`]).
    pub quic: bool,
}

/// A reusable HTTP checker (one TLS configuration; a new connection per request, so each fetch sees the
/// network as it is now).
#[derive(Clone)]
pub struct HttpChecker {
    tls: tokio_rustls::TlsConnector,
    path: NetPath,
    settings: HttpSettings,
    fingerprints: Arc<Fingerprints>,
    /// The QUIC test, when enabled, and the origins that announced HTTP/3.
    quic: Option<QuicChecker>,
    announced: Announced,
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
        let mut tls = crate::tls::client_config_with(extra_roots).map_err(|e| HttpSetupError(e.to_string()))?;
        let quic = settings
            .quic
            .then(|| QuicChecker::new(tls.clone(), settings.connect_timeout))
            .transpose()
            .map_err(|e| HttpSetupError(e.to_string()))?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(HttpChecker {
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            path: NetPath::system(),
            settings,
            fingerprints,
            quic,
            announced: Announced::new(),
        })
    }

    /// The same checker, its connections along `path` (an uplink's interface and name lookups).
    pub fn along(mut self, path: NetPath) -> Self {
        self.path = path;
        self
    }

    /// Fetches `url`; never fails (a failure is the result).
    pub async fn check(&self, url: &Url, target: Target) -> Measurement {
        self.check_metered(url, target, &CheckMeter::new()).await
    }

    /// Fetches `url`, counting its bytes on the wire into `meter` (and the process's total). When the fetch fails
    /// in a TLS handshake and a control name is set, the SNI test follows ([`super::sni`]), each of its two
    /// handshakes within the connect timeout. When the site announced HTTP/3 (now or earlier) and the QUIC test is
    /// on, the QUIC test follows ([`super::quic`]): the fetch's last URL, or its first when no response came.
    pub async fn check_metered(&self, url: &Url, target: Target, meter: &CheckMeter) -> Measurement {
        self.check_with_quic(url, target, None, meter).await
    }

    /// As [`Self::check_metered`], for a host its app reaches over QUIC at `quic_port`: the QUIC test follows the
    /// fetch whether or not the host announced HTTP/3 (when the QUIC test is on). An announcement of the URL the
    /// fetch ended on still decides where that URL is asked; without one, `url` itself is asked at `quic_port`.
    pub async fn check_with_quic(
        &self,
        url: &Url,
        target: Target,
        quic_port: Option<u16>,
        meter: &CheckMeter,
    ) -> Measurement {
        let started_at = chrono::Utc::now();
        let clock = Instant::now();
        let (mut result, tls_failed) = match tokio::time::timeout(self.settings.timeout, self.fetch(url, meter)).await {
            Ok(fetched) => fetched,
            Err(_) => (failure(url, Outcome::Timeout, "response", None), None),
        };
        if let (Some((peer, name)), Some(control)) = (tls_failed, &self.settings.sni_control) {
            result.server_ip = Some(peer.ip());
            let timeout = self.settings.connect_timeout;
            result.sni = Some(super::sni::test(peer, &name, control, &self.tls, &self.path, timeout, meter).await);
        }
        if let Some(quic) = &self.quic {
            result.quic = self.quic_test(quic, url, &result, quic_port, meter).await.map(Box::new);
        }
        envelope(target, started_at, clock.elapsed(), MeasurementResult::Http(result))
    }

    /// The QUIC test of the URL the fetch ended on, when its origin announced HTTP/3 — else of `first` at
    /// `declared`, the port its app speaks QUIC to — to the address that answered over TCP for that URL, or the
    /// host's first address when none did (none found: no test).
    async fn quic_test(
        &self,
        quic: &QuicChecker,
        first: &Url,
        fetched: &HttpResult,
        declared: Option<u16>,
        meter: &CheckMeter,
    ) -> Option<QuicTest> {
        let answered = fetched.status.is_some();
        let last = match fetched.redirects.last().filter(|_| answered) {
            Some(last) => Url::parse(last).ok()?,
            None => first.clone(),
        };
        // The address that answered over TCP is the last URL's host's.
        let answered_by = last.host_str().map(str::to_owned);
        let (url, port) = match (self.announced.port(&last), declared) {
            (Some(port), _) => (last, port),
            (None, Some(port)) => (first.clone(), port),
            (None, None) => return None,
        };
        let same_host = url.host_str() == answered_by.as_deref();
        let ip = match fetched.server_ip.filter(|_| answered && same_host) {
            Some(ip) => ip,
            None => {
                let host = url.host_str()?.trim_start_matches('[').trim_end_matches(']');
                self.path.lookup(host, port).await.ok()?.first()?.ip()
            }
        };
        let within = self.settings.connect_timeout;
        Some(
            quic.test(&url, SocketAddr::new(ip, port), &self.path, within, meter)
                .await,
        )
    }

    /// Looks the host up, connects (TLS for https) and sends one GET; the response's body is still to be read.
    async fn request(&self, url: &Url, meter: &CheckMeter) -> Result<Exchange, FetchError> {
        let connection = crate::connect::open(url, &self.tls, &self.path, self.settings.connect_timeout, Some(meter))
            .await
            .map_err(|e| {
                let mut failed = FetchError::connect(&e);
                failed.tls_failed = e.tls_peer().zip(url.domain().map(str::to_owned));
                failed
            })?;
        let (io, addr, tls_version) = (connection.io, connection.peer, connection.tls_version);
        // Reads of at most 16 KiB, so no read carries the fetch far past its cap (hyper's buffer would grow).
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .read_buf_exact_size(Some(16 << 10))
            .handshake::<_, http_body_util::Empty<bytes::Bytes>>(hyper_util::rt::TokioIo::new(io))
            .await
            .map_err(|e| FetchError::hyper("request", &e))?;
        let connection = AbortOnDrop(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let request = hyper::Request::get(&url[Position::BeforePath..Position::AfterQuery])
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, USER_AGENT)
            .header(hyper::header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
            .header(hyper::header::CONNECTION, "close")
            .body(http_body_util::Empty::new())
            .map_err(|e| FetchError::new(Outcome::Error, "request", Some(e.to_string())))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| FetchError::hyper("request", &e))?;
        Ok(Exchange {
            response,
            server_ip: addr.ip(),
            tls_version,
            _connection: connection,
        })
    }

    /// Fetches `first`, following redirects; with the result, the address and name of a TLS handshake that
    /// failed, if that is how it ended.
    async fn fetch(&self, first: &Url, meter: &CheckMeter) -> (HttpResult, Option<(SocketAddr, String)>) {
        let mut url = first.clone();
        let mut redirects = Vec::new();
        loop {
            let exchange = match self.request(&url, meter).await {
                Ok(e) => e,
                Err(err) => {
                    let mut result = failure(first, err.outcome, err.stage, err.detail);
                    result.redirects = redirects;
                    return (result, err.tls_failed);
                }
            };
            let Exchange {
                response,
                server_ip,
                tls_version,
                _connection,
            } = exchange;
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
            let alt_svc = headers.iter().filter(|(k, _)| k == "alt-svc").map(|(_, v)| v.as_str());
            self.announced.note(&url, alt_svc);
            let location = status
                .is_redirection()
                .then(|| response.headers().get(hyper::header::LOCATION))
                .flatten()
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| url.join(loc).ok());
            let read_started = Instant::now();
            let body = read_body(response.into_body(), meter).await;
            let read_secs = read_started.elapsed().as_secs_f64();
            let (body, body_error) = match body {
                Ok(b) => (b, None),
                Err(err) => (Vec::new(), Some(err)),
            };
            let fingerprint = self
                .fingerprints
                .match_http(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), &body)
                .map(|f| f.name.clone());
            // A redirect is followed only while the fetch has bytes left under its cap.
            let next = location
                .filter(|_| fingerprint.is_none() && redirects.len() < MAX_REDIRECTS && meter.bytes() < FETCH_CAP);
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
            result.server_ip = Some(server_ip);
            result.tls_version = tls_version;
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
            return (result, None);
        }
    }
}

/// Reads at most [`BODY_CAP`] bytes of body, and nothing once the fetch has used [`FETCH_CAP`] on the wire.
async fn read_body(mut body: hyper::body::Incoming, meter: &CheckMeter) -> Result<Vec<u8>, (Outcome, Option<String>)> {
    let mut out = Vec::new();
    while out.len() < BODY_CAP && meter.bytes() < FETCH_CAP {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(chunk) = frame.into_data() {
                    let room = BODY_CAP - out.len();
                    out.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
            }
            None => break,
            Some(Err(err)) => {
                let err = FetchError::hyper("response", &err);
                return Err((
                    if err.outcome == Outcome::Error {
                        Outcome::HttpError
                    } else {
                        err.outcome
                    },
                    err.detail,
                ));
            }
        }
    }
    Ok(out)
}

/// A response whose body is still to be read, and the connection it came on.
struct Exchange {
    response: hyper::Response<hyper::body::Incoming>,
    server_ip: IpAddr,
    tls_version: Option<String>,
    _connection: AbortOnDrop,
}

/// Why a fetch produced no response, and at which stage.
#[derive(Debug)]
struct FetchError {
    outcome: Outcome,
    stage: &'static str,
    detail: Option<String>,
    /// The address and server name a TLS handshake failed with: what the SNI test asks again.
    tls_failed: Option<(SocketAddr, String)>,
}

impl FetchError {
    fn new(outcome: Outcome, stage: &'static str, detail: Option<String>) -> Self {
        FetchError {
            outcome,
            stage,
            detail,
            tls_failed: None,
        }
    }

    /// A socket error at `stage`, by its kind.
    fn io(stage: &'static str, err: &std::io::Error) -> Self {
        let outcome = super::io_outcome(err.kind());
        let detail = matches!(outcome, Outcome::Error | Outcome::HttpError).then(|| super::error_detail(err));
        FetchError::new(outcome, stage, detail)
    }

    /// A connection that could not be opened, by its stage.
    fn connect(err: &crate::connect::ConnectError) -> Self {
        use crate::connect::ConnectError;
        match err {
            ConnectError::Unusable(why) => FetchError::new(Outcome::Error, "request", Some(why.clone())),
            ConnectError::Lookup(e) => FetchError::new(Outcome::Nxdomain, "dns", Some(super::error_detail(e))),
            ConnectError::NoAddress => FetchError::new(Outcome::Nxdomain, "dns", Some("no address".to_owned())),
            ConnectError::Connect(e) => FetchError::io("connect", e),
            ConnectError::Tls(_, e) => FetchError::tls(e),
            ConnectError::TlsTimeout(_) => FetchError::new(Outcome::Timeout, "tls", None),
            ConnectError::Timeout(stage) => FetchError::new(Outcome::Timeout, stage, None),
        }
    }

    /// A failed TLS handshake ([`super::tls_outcome`]), with its detail when it is a TLS error.
    fn tls(err: &std::io::Error) -> Self {
        let outcome = super::tls_outcome(err);
        FetchError::new(
            outcome,
            "tls",
            (outcome == Outcome::TlsError).then(|| super::error_detail(err)),
        )
    }

    /// An HTTP exchange error: the socket's error when there is one in its causes, else an HTTP error.
    fn hyper(stage: &'static str, err: &hyper::Error) -> Self {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = source {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                let kind = io.kind();
                if kind != std::io::ErrorKind::Other {
                    return FetchError::io(stage, io);
                }
            }
            source = e.source();
        }
        let outcome = if err.is_timeout() {
            Outcome::Timeout
        } else {
            Outcome::HttpError
        };
        FetchError::new(outcome, stage, Some(super::error_detail(err)))
    }
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
        sni: None,
        quic: None,
    }
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
