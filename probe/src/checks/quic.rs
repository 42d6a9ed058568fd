//! The QUIC test: one HTTP/3 GET over QUIC (quinn, h3; rustls with the HTTP check's roots) to a site that announced
//! HTTP/3, right after its fetch over TCP and TLS, along the same path (uplink). Censors that block QUIC drop UDP to
//! port 443 — Iran did before its June 2025 shutdown — or the QUIC Initial naming a blocked site, so the site loads
//! over TCP and not over QUIC; a site whose QUIC is down fails the same from every network, which the collector's
//! control separates. OONI compares the same pair (its `urlgetter` with HTTP/3 beside the TCP fetch).
//!
//! Every datagram the test sends and receives is counted into the check's meter (and the process's total) by the
//! socket it runs on, handshake and close included; the flow-control windows bound what a server can send at all,
//! and the body is read up to [`BODY_CAP`].

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Buf;
use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use url::Url;
use vigil_measurement::Outcome;
use vigil_measurement::result::QuicTest;

use super::{AbortOnDrop, USER_AGENT};
use crate::net::NetPath;
use crate::traffic::{CheckMeter, DATAGRAM_HEADERS};

/// Most body bytes read: a page's status and first bytes say it loaded; the fetch over TCP measured the rest.
pub const BODY_CAP: u64 = 32 << 10;
/// The receive window of the request's stream and of the whole connection: a server cannot send more body than
/// this before the test reads it, and the test stops reading at [`BODY_CAP`].
const STREAM_WINDOW: u32 = 64 << 10;
const CONNECTION_WINDOW: u32 = 96 << 10;
/// What the test may use on the wire, for the data budget: the connection's window, the handshake (a padded
/// ClientHello and the server's flight, whose certificates rustls bounds at 64 KiB), acknowledgements, HTTP/3's
/// control streams and packet headers, well within another 64 KiB.
pub const MOST_BYTES: u64 = CONNECTION_WINDOW as u64 + (128 << 10);
/// The largest UDP payload the test receives: a 1,500-byte MTU less the IPv6 and UDP headers (RFC 9000 §14 asks
/// for at least 1,200).
const MAX_UDP_PAYLOAD: u16 = 1452;

/// Most QUIC tests at once, whatever the test lists' concurrency: each holds an endpoint, a connection and its
/// TLS state, and the probe's peak RSS grew with them (`bench/probe_run.sh 60`, 100 HTTP/3 sites: 14.2 MiB one at
/// a time, 14.6 MiB four, 15.3 MiB sixteen, against a 16 MiB target; BENCHMARKS.md). The others wait their turn.
pub const MOST_AT_ONCE: usize = 4;

/// A reusable QUIC tester (one TLS configuration, ALPN `h3`; a new endpoint and socket per test; clones share the
/// turns of [`MOST_AT_ONCE`]).
#[derive(Clone)]
pub struct QuicChecker {
    config: quinn::ClientConfig,
    turns: Arc<tokio::sync::Semaphore>,
}

/// The tester could not be built.
#[derive(Debug, thiserror::Error)]
#[error("QUIC test setup failed: {0}")]
pub struct QuicSetupError(String);

impl QuicChecker {
    /// A tester trusting `tls`'s roots (the HTTP check's configuration; its ALPN is replaced by `h3`), each stage
    /// of a test — the handshake, then the response — within `within`.
    pub fn new(mut tls: rustls::ClientConfig, within: Duration) -> Result<Self, QuicSetupError> {
        tls.alpn_protocols = vec![b"h3".to_vec()];
        let crypto =
            quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(|e| QuicSetupError(e.to_string()))?;
        let mut transport = quinn::TransportConfig::default();
        transport
            .stream_receive_window(quinn::VarInt::from_u32(STREAM_WINDOW))
            .receive_window(quinn::VarInt::from_u32(CONNECTION_WINDOW))
            .max_idle_timeout(quinn::IdleTimeout::try_from(within).ok())
            .max_concurrent_uni_streams(quinn::VarInt::from_u32(8));
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        config.transport_config(Arc::new(transport));
        Ok(QuicChecker {
            config,
            turns: Arc::new(tokio::sync::Semaphore::new(MOST_AT_ONCE)),
        })
    }

    /// GETs `url` over HTTP/3 from `peer` (the site's address, the announced UDP port) along `path`, the handshake
    /// and then the response each within `within` (once its turn came), counting every datagram into `meter`. Never
    /// fails: a failure is the result.
    pub async fn test(
        &self,
        url: &Url,
        peer: SocketAddr,
        path: &NetPath,
        within: Duration,
        meter: &CheckMeter,
    ) -> QuicTest {
        let mut result = QuicTest {
            url: url.to_string(),
            port: peer.port(),
            outcome: Outcome::Error,
            handshake: false,
            status: None,
            body_length: None,
            error_detail: None,
        };
        // The semaphore is never closed; without a turn the test would still run, only not counted among them.
        let _turn = self.turns.acquire().await.ok();
        let endpoint = match endpoint(peer, path, meter).await {
            Ok(e) => e,
            Err(err) => {
                result.outcome = super::io_outcome(err.kind());
                result.error_detail = Some(super::error_detail(&err));
                return result;
            }
        };
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let connecting = match endpoint.connect_with(self.config.clone(), peer, host) {
            Ok(c) => c,
            Err(err) => {
                result.error_detail = Some(super::error_detail(&err));
                return result;
            }
        };
        let connection = match tokio::time::timeout(within, connecting).await {
            Ok(Ok(c)) => c,
            Ok(Err(err)) => {
                (result.outcome, result.error_detail) = (connection_outcome(&err), Some(super::error_detail(&err)));
                endpoint.close(quinn::VarInt::from_u32(0), b"");
                return result;
            }
            Err(_) => {
                (result.outcome, result.error_detail) = (Outcome::Timeout, Some("QUIC handshake timed out".to_owned()));
                endpoint.close(quinn::VarInt::from_u32(0), b"");
                return result;
            }
        };
        result.handshake = true;
        match tokio::time::timeout(within, get(url, connection.clone(), meter)).await {
            Ok(Ok((status, body_length))) => {
                result.outcome = Outcome::Ok;
                result.status = Some(status);
                result.body_length = Some(body_length);
            }
            Ok(Err(detail)) => {
                result.outcome = connection
                    .close_reason()
                    .as_ref()
                    .map_or(Outcome::HttpError, connection_outcome);
                if result.outcome == Outcome::Error {
                    result.outcome = Outcome::HttpError;
                }
                result.error_detail = Some(vigil_measurement::scrub_ip_addresses(&detail).into_owned());
            }
            Err(_) => {
                (result.outcome, result.error_detail) =
                    (Outcome::Timeout, Some("HTTP/3 response timed out".to_owned()));
            }
        }
        // The close goes out from the endpoint's task after this returns, and is counted like the rest.
        connection.close(quinn::VarInt::from_u32(0), b"");
        endpoint.close(quinn::VarInt::from_u32(0), b"");
        result
    }
}

/// The HTTP/3 exchange on an open connection: the status and the body bytes read.
async fn get(url: &Url, connection: quinn::Connection, meter: &CheckMeter) -> Result<(u16, u64), String> {
    let (mut driver, mut sender) = h3::client::new(h3_quinn::Connection::new(connection))
        .await
        .map_err(|e| format!("HTTP/3 setup: {e}"))?;
    let drive = tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    let _stop = AbortOnDrop(drive);
    let request = http::Request::get(url.as_str())
        .header(http::header::USER_AGENT, USER_AGENT)
        .header(http::header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .body(())
        .map_err(|e| format!("request: {e}"))?;
    let mut stream = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    // A server may answer before it has read the request's end and stop the request's sending side (RFC 9114
    // §4.1), and a client "MUST NOT discard complete responses" for that: a finish that fails is the result only
    // when no response comes. (The bench's one `http_error` in a hundred, "Remote reset: 0x0", was this.)
    let finished = stream.finish().await;
    let response = match stream.recv_response().await {
        Ok(response) => response,
        Err(e) => {
            return Err(match finished {
                Err(f) => format!("request: {f}"),
                Ok(()) => format!("response: {e}"),
            });
        }
    };
    let mut read = 0u64;
    while read < BODY_CAP && meter.bytes() < MOST_BYTES {
        match stream.recv_data().await.map_err(|e| format!("body: {e}"))? {
            Some(mut chunk) => {
                read += chunk.remaining() as u64;
                chunk.advance(chunk.remaining());
            }
            None => break,
        }
    }
    Ok((response.status().as_u16(), read.min(BODY_CAP)))
}

/// The outcome a QUIC connection's end stands for: no answer in time (UDP dropped) is a timeout; a handshake the
/// TLS inside QUIC refused (transport error codes 0x100-0x1ff, RFC 9001 §4.8) a TLS error; a stateless reset a
/// reset; anything else an error.
fn connection_outcome(err: &quinn::ConnectionError) -> Outcome {
    use quinn::ConnectionError;
    let crypto = |code: u64| (0x100..0x200).contains(&code);
    match err {
        ConnectionError::TimedOut => Outcome::Timeout,
        ConnectionError::Reset => Outcome::Reset,
        ConnectionError::TransportError(e) if crypto(u64::from(e.code)) => Outcome::TlsError,
        ConnectionError::ConnectionClosed(close) if crypto(u64::from(close.error_code)) => Outcome::TlsError,
        _ => Outcome::Error,
    }
}

/// A client endpoint on a fresh UDP socket along `path`, its datagrams counted into `meter`.
async fn endpoint(peer: SocketAddr, path: &NetPath, meter: &CheckMeter) -> io::Result<quinn::Endpoint> {
    let unspecified = match peer.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let socket = crate::net::bind_udp(path.egress(), SocketAddr::new(unspecified, 0))
        .await?
        .into_std()?;
    let runtime: Arc<dyn quinn::Runtime> = Arc::new(quinn::TokioRuntime);
    let same_socket = socket.try_clone()?;
    let inner = runtime.wrap_udp_socket(socket)?;
    // quinn sizes an endpoint's receive buffer as the largest UDP payload × the datagrams one read may carry (64
    // with GRO, which quinn-udp turns on) × its batch (32): 128 MiB of address space per endpoint by default, which
    // the allocator zeroes — tens of MiB of RSS with a few tests in flight. One test needs neither: GRO off (one
    // datagram per read, `CountedUdp::max_receive_segments`) and datagrams of a 1,500-byte path make it 46 KB.
    crate::sys::disable_udp_gro(&same_socket)?;
    drop(same_socket);
    let counted = Arc::new(CountedUdp {
        inner,
        meter: meter.clone(),
    });
    let mut config = quinn::EndpointConfig::default();
    config
        .max_udp_payload_size(MAX_UDP_PAYLOAD)
        .map_err(|e| io::Error::other(e.to_string()))?;
    quinn::Endpoint::new_with_abstract_socket(config, None, counted, runtime)
}

/// A UDP socket whose datagrams are counted, each with its IP and UDP headers.
#[derive(Debug)]
struct CountedUdp {
    inner: Arc<dyn AsyncUdpSocket>,
    meter: CheckMeter,
}

impl AsyncUdpSocket for CountedUdp {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        self.inner.try_send(transmit)?;
        let size = transmit.contents.len();
        let datagrams = size.div_ceil(transmit.segment_size.unwrap_or(size).max(1)) as u64;
        self.meter.add_wire(size as u64 + datagrams * DATAGRAM_HEADERS);
        Ok(())
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let polled = self.inner.poll_recv(cx, bufs, meta);
        if let Poll::Ready(Ok(n)) = &polled {
            for m in meta.iter().take(*n) {
                let datagrams = m.len.div_ceil(m.stride.max(1)) as u64;
                self.meter.add_wire(m.len as u64 + datagrams * DATAGRAM_HEADERS);
            }
        }
        polled
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    /// One: GRO is off on the socket ([`endpoint`]).
    fn max_receive_segments(&self) -> usize {
        1
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}
