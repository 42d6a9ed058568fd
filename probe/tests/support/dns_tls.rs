//! DNS over TLS and DNS over HTTPS (HTTP/2) test servers on loopback, with a self-signed certificate for
//! `localhost` that the test trusts explicitly.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::dns_responder::{Answer, respond, serve_framed};

/// A self-signed `localhost` certificate: (DER certificate, TLS server config factory input).
pub struct TestCert {
    /// The certificate, DER, to trust on the client side.
    pub der: Vec<u8>,
    key: Vec<u8>,
}

impl TestCert {
    /// A new certificate for `localhost` and 127.0.0.1.
    pub fn localhost() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("certificate");
        TestCert {
            der: certified.cert.der().to_vec(),
            key: certified.signing_key.serialize_der(),
        }
    }

    /// A TLS acceptor presenting this certificate and offering `alpn`.
    pub fn acceptor(&self, alpn: &[&[u8]]) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![rustls::pki_types::CertificateDer::from(self.der.clone())],
                rustls::pki_types::PrivateKeyDer::try_from(self.key.clone()).expect("key"),
            )
            .expect("server config");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsAcceptor::from(Arc::new(config))
    }
}

/// A DoT server (length-prefixed DNS over TLS) answering from `table`.
pub async fn start_dot(table: HashMap<&'static str, Answer>, cert: &TestCert) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = cert.acceptor(&[b"dot"]);
    let table = Arc::new(table);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, table) = (acceptor.clone(), Arc::clone(&table));
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve_framed(tls, table).await;
                }
            });
        }
    });
    addr
}

/// A DoH server (RFC 8484 POST and GET on any path, HTTP/2 over TLS) answering from `table`.
pub async fn start_doh(table: HashMap<&'static str, Answer>, cert: &TestCert) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = cert.acceptor(&[b"h2"]);
    let table = Arc::new(table);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, table) = (acceptor.clone(), Arc::clone(&table));
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let table = Arc::clone(&table);
                    async move { Ok::<_, hyper::Error>(doh_answer(&table, req).await) }
                });
                let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

async fn doh_answer(
    table: &HashMap<&'static str, Answer>,
    req: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let query = if req.method() == hyper::Method::GET {
        let param = req
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("dns=")))
            .unwrap_or_default()
            .to_owned();
        base64url_decode(&param)
    } else {
        req.into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default()
    };
    match respond(table, &query) {
        Some(reply) => Response::builder()
            .header("content-type", "application/dns-message")
            .body(Full::new(Bytes::from(reply)))
            .expect("response"),
        None => Response::builder()
            .status(StatusCode::GATEWAY_TIMEOUT)
            .body(Full::new(Bytes::new()))
            .expect("response"),
    }
}

fn base64url_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let Some(v) = ALPHABET.iter().position(|&a| a == c) else {
            continue;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
