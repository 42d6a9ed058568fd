//! An HTTP/3 server for the lab and the QUIC test's tests, on the probe's own QUIC stack (quinn, h3): Debian's
//! nginx (1.22) has no HTTP/3. It answers every GET with one page, and reads its certificate and key at each
//! connection, so a test can swap them (an expired certificate) as it does nginx's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The server could not start, or a connection's configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum H3Error {
    /// A certificate or key file could not be read or used.
    #[error("certificate {path}: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The UDP socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The socket's error.
        source: std::io::Error,
    },
}

/// What the server serves, and with which certificate.
#[derive(Debug, Clone)]
pub struct H3Site {
    /// PEM certificate chain, read at each connection.
    pub cert: PathBuf,
    /// PEM private key, read at each connection.
    pub key: PathBuf,
    /// The page every GET gets (status 200, `text/html`).
    pub page: Bytes,
}

/// A running HTTP/3 server; stops when dropped.
pub struct H3Server {
    endpoint: quinn::Endpoint,
    task: tokio::task::JoinHandle<()>,
}

impl H3Server {
    /// Listens on `addr` (UDP) and serves `site` on the current tokio runtime.
    pub fn start(addr: SocketAddr, site: H3Site) -> Result<Self, H3Error> {
        let config = server_config(&site)?;
        let endpoint = quinn::Endpoint::server(config, addr).map_err(|source| H3Error::Listen { addr, source })?;
        let accepting = endpoint.clone();
        let site = Arc::new(site);
        let task = tokio::spawn(async move {
            while let Some(incoming) = accepting.accept().await {
                let site = Arc::clone(&site);
                tokio::spawn(async move {
                    // A connection gets the certificate on disk now (the lab swaps it to an expired one).
                    let Ok(config) = server_config(&site) else {
                        incoming.refuse();
                        return;
                    };
                    let Ok(connecting) = incoming.accept_with(Arc::new(config)) else {
                        return;
                    };
                    if let Ok(connection) = connecting.await {
                        serve(connection, &site.page).await;
                    }
                });
            }
        });
        Ok(H3Server { endpoint, task })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }
}

impl Drop for H3Server {
    fn drop(&mut self) {
        self.endpoint.close(quinn::VarInt::from_u32(0), b"stopped");
        self.task.abort();
    }
}

/// Answers each request of one connection with `page`.
async fn serve(connection: quinn::Connection, page: &Bytes) {
    let Ok(mut h3) = h3::server::Connection::<_, Bytes>::new(h3_quinn::Connection::new(connection)).await else {
        return;
    };
    while let Ok(Some(resolver)) = h3.accept().await {
        let page = page.clone();
        tokio::spawn(async move {
            let Ok((_request, mut stream)) = resolver.resolve_request().await else {
                return;
            };
            let response = http::Response::builder()
                .status(200)
                .header("content-type", "text/html")
                .header("content-length", page.len())
                .body(());
            let Ok(response) = response else { return };
            if stream.send_response(response).await.is_ok() && stream.send_data(page).await.is_ok() {
                let _ = stream.finish().await;
            }
        });
    }
}

/// A QUIC server configuration (ALPN `h3`) from the site's certificate and key files as they are now.
fn server_config(site: &H3Site) -> Result<quinn::ServerConfig, H3Error> {
    let failed = |path: &Path, reason: String| H3Error::Certificate {
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(&site.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| failed(&site.cert, e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(&site.key).map_err(|e| failed(&site.key, e.to_string()))?;
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| failed(&site.cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| failed(&site.cert, e.to_string()))?;
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto =
        quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(|e| failed(&site.cert, e.to_string()))?;
    Ok(quinn::ServerConfig::with_crypto(Arc::new(crypto)))
}
