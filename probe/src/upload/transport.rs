//! The uploader's HTTP client: HTTP/1.1 (hyper-util's pooled client) over connections opened by
//! [`crate::connect`], so uploads — TLS handshakes included — are counted for the data budget like every check.
//! Connections are kept alive between rounds, so a probe uploading every minute pays one handshake, not one a
//! minute.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use url::Url;

use crate::connect::{ConnectError, Io};
use crate::net::NetPath;

/// Largest answer body read from the collector (its answers are small JSON objects).
const MAX_ANSWER_BYTES: usize = 64 << 10;

/// The collector's answer to one POST.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: hyper::StatusCode,
    /// `Retry-After`, when it sent one (seconds).
    pub retry_after: Option<Duration>,
    /// Its JSON body (null when it sent none or not JSON).
    pub json: serde_json::Value,
}

/// Why a POST got no answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The request could not be built (a bad header value).
    #[error("request: {0}")]
    Request(String),
    /// No connection, or the exchange broke.
    #[error("{0}")]
    Exchange(String),
    /// No answer within the upload timeout.
    #[error("timed out")]
    Timeout,
}

/// A pooled client for the collector.
#[derive(Clone)]
pub struct CollectorClient {
    client: Client<Connector, Full<Bytes>>,
    timeout: Duration,
}

impl CollectorClient {
    /// A client trusting `tls` (the collector's roots and pins), connecting along `path` within
    /// `connect_timeout` and waiting at most `timeout` for each answer.
    pub fn new(tls: rustls::ClientConfig, path: NetPath, connect_timeout: Duration, timeout: Duration) -> Self {
        let mut tls = tls;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let connector = Connector {
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            path,
            connect_timeout,
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1)
            .build(connector);
        CollectorClient { client, timeout }
    }

    /// POSTs `body` to `url` with `headers`; returns the answer, its body read up to 64 KiB.
    pub async fn post(&self, url: &Url, headers: &[(&str, &str)], body: Vec<u8>) -> Result<Answer, TransportError> {
        let mut request = hyper::Request::post(url.as_str());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .header(
                hyper::header::USER_AGENT,
                concat!("vigil-probe/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| TransportError::Request(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| TransportError::Exchange(describe(&e)))?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            Ok(Answer {
                status,
                retry_after,
                json,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(TransportError::Timeout))
    }
}

/// A transport error in a few words, without addresses: the innermost cause.
fn describe(err: &hyper_util::client::legacy::Error) -> String {
    let kind = if err.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    let mut innermost = None;
    while let Some(s) = source {
        innermost = Some(s.to_string());
        source = s.source();
    }
    let detail = innermost.unwrap_or_default();
    vigil_measurement::scrub_ip_addresses(&format!("{kind}: {detail}")).into_owned()
}

/// Opens counted connections for hyper-util's pool.
#[derive(Clone)]
struct Connector {
    tls: tokio_rustls::TlsConnector,
    path: NetPath,
    connect_timeout: Duration,
}

impl tower_service::Service<Uri> for Connector {
    type Response = Conn;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let url = Url::parse(&uri.to_string()).map_err(|e| ConnectError::Unusable(e.to_string()))?;
            let connection = crate::connect::open(&url, &this.tls, &this.path, this.connect_timeout, None).await?;
            Ok(Conn(TokioIo::new(connection.io)))
        })
    }
}

/// A pooled connection.
struct Conn(TokioIo<Box<dyn Io>>);

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
