//! Connections the probe makes itself — name lookup, TCP connect and TLS (rustls), within one deadline, along one
//! [`NetPath`] (an uplink's interface, or the routing table's choice) — each carried by a [`Counted`] stream, so
//! the data budget sees every byte (the HTTP check and the uploader use them).
//! Failures keep their stage (lookup, connect, TLS) so a check can report where it failed.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use url::{Host, Url};

use crate::net::NetPath;
use crate::traffic::{CheckMeter, Counted, DATAGRAM_HEADERS};

/// What one name lookup through the system resolver is counted as: its A and AAAA queries and answers. The
/// system resolver's sockets are not the probe's, so this is an upper estimate of a typical exchange.
pub const SYSTEM_LOOKUP_BYTES: u64 = 2 * (DATAGRAM_HEADERS + 64) + 2 * (DATAGRAM_HEADERS + 256);

/// A byte stream a connection runs over: plain TCP or TLS over it.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open connection.
pub struct Connection {
    /// The stream (TLS for `https`).
    pub io: Box<dyn Io>,
    /// The address connected to.
    pub peer: SocketAddr,
    /// The TLS version negotiated (`TLSv1.3`), for `https`.
    pub tls_version: Option<String>,
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL cannot be connected to (no host, an unknown scheme, no port).
    #[error("{0}")]
    Unusable(String),
    /// The name did not resolve.
    #[error("name lookup failed: {0}")]
    Lookup(io::Error),
    /// The lookup gave no address.
    #[error("name lookup gave no address")]
    NoAddress,
    /// TCP connect failed.
    #[error("connect failed: {0}")]
    Connect(io::Error),
    /// The TLS handshake with this address failed.
    #[error("TLS handshake failed: {1}")]
    Tls(SocketAddr, io::Error),
    /// The deadline passed during the TLS handshake with this address.
    #[error("timed out at tls")]
    TlsTimeout(SocketAddr),
    /// The deadline passed at this stage (`dns`, `connect`).
    #[error("timed out at {0}")]
    Timeout(&'static str),
}

impl ConnectError {
    /// The address a TLS handshake failed with, when that is where the connection failed.
    pub fn tls_peer(&self) -> Option<SocketAddr> {
        match self {
            ConnectError::Tls(peer, _) | ConnectError::TlsTimeout(peer) => Some(*peer),
            _ => None,
        }
    }
}

/// Opens a connection to `url`'s host and port (TLS with `tls` for `https`) along `path` within `within`,
/// counting its bytes into the process's total and, when given, a check's `meter`.
pub async fn open(
    url: &Url,
    tls: &tokio_rustls::TlsConnector,
    path: &NetPath,
    within: Duration,
    meter: Option<&CheckMeter>,
) -> Result<Connection, ConnectError> {
    let count_lookup = |bytes| match meter {
        Some(m) => m.add_wire(bytes),
        None => crate::traffic::count_wire(bytes),
    };
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        other => return Err(ConnectError::Unusable(format!("unsupported scheme {other}"))),
    };
    let port = url
        .port_or_known_default()
        .ok_or_else(|| ConnectError::Unusable("no port".to_owned()))?;
    let deadline = tokio::time::Instant::now() + within;
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(Host::Domain(name)) => {
            count_lookup(SYSTEM_LOOKUP_BYTES);
            match tokio::time::timeout_at(deadline, path.lookup(name, port)).await {
                Ok(Ok(found)) => found,
                Ok(Err(err)) => return Err(ConnectError::Lookup(err)),
                Err(_) => return Err(ConnectError::Timeout("dns")),
            }
        }
        None => return Err(ConnectError::Unusable("no host".to_owned())),
    };
    let mut last = ConnectError::NoAddress;
    let mut connected = None;
    for addr in addrs {
        match tokio::time::timeout_at(deadline, path.connect_tcp(addr)).await {
            Ok(Ok(stream)) => {
                connected = Some((stream, addr));
                break;
            }
            Ok(Err(err)) => last = ConnectError::Connect(err),
            Err(_) => return Err(ConnectError::Timeout("connect")),
        }
    }
    let Some((stream, peer)) = connected else {
        return Err(last);
    };
    let _ = stream.set_nodelay(true);
    let stream = Counted::new(stream, meter.cloned());
    if !https {
        return Ok(Connection {
            io: Box::new(stream),
            peer,
            tls_version: None,
        });
    }
    let name = match url.host() {
        Some(Host::Domain(d)) => rustls::pki_types::ServerName::try_from(d.to_owned())
            .map_err(|e| ConnectError::Unusable(format!("server name: {e}")))?,
        _ => rustls::pki_types::ServerName::IpAddress(peer.ip().into()),
    };
    let tls = match tokio::time::timeout_at(deadline, tls.connect(name, stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(err)) => return Err(ConnectError::Tls(peer, err)),
        Err(_) => return Err(ConnectError::TlsTimeout(peer)),
    };
    // rustls names versions `TLSv1_3`; the schema writes `TLSv1.3`.
    let tls_version = tls
        .get_ref()
        .1
        .protocol_version()
        .and_then(|v| v.as_str())
        .map(|v| v.replace('_', "."));
    Ok(Connection {
        io: Box::new(tls),
        peer,
        tls_version,
    })
}
