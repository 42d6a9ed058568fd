//! The collector's connection loop: what `axum::serve` does, plus two defences against the hostile internet —
//! at most `max_connections` connections at once (the rest wait in the kernel's accept queue, costing nothing
//! here), and a deadline for a request's headers, so a client that opens a connection and trickles (slowloris)
//! or idles is cut off. With a certificate it serves HTTPS (the handshake has the same deadline). Request bodies have their own deadline in the ingest handler. On shutdown it stops
//! accepting, lets every open connection finish the request it is in, and returns when all are closed.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::tls::TlsSource;

/// Limits on connections.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (also how long an idle kept-alive connection stays open,
    /// and how long a TLS handshake may take).
    pub header_timeout: Duration,
    /// Serve HTTPS with this certificate source; plain HTTP when `None`.
    pub tls: Option<Arc<TlsSource>>,
}

/// Serves `app` on `listener` until `shutdown` completes, then drains open connections.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Connection tasks hold a receiver; shutdown drops the sender (they finish their request and close), and
    // the loop waits until every receiver is gone.
    let (stop_tx, stop_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => permit.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = WithPeer {
            inner: TowerToHyperService::new(app.clone()),
            peer,
        };
        let stop = stop_rx.clone();
        let header_timeout = limits.header_timeout;
        let tls = limits.tls.as_ref().map(|t| t.acceptor());
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => serve_one(TokioIo::new(stream), service, header_timeout, stop, peer).await,
                Some(acceptor) => match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => serve_one(TokioIo::new(tls), service, header_timeout, stop, peer).await,
                    Ok(Err(err)) => tracing::debug!(%peer, error = %err, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                },
            }
        });
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(());
    stop_tx.closed().await;
    Ok(())
}

/// The router as a hyper service whose requests carry the connection's peer (`ConnectInfo<SocketAddr>`), for
/// handlers that must know where a request came from.
#[derive(Clone)]
struct WithPeer {
    inner: TowerToHyperService<Router>,
    peer: SocketAddr,
}

impl hyper::service::Service<hyper::Request<Incoming>> for WithPeer {
    type Response = <TowerToHyperService<Router> as hyper::service::Service<hyper::Request<Incoming>>>::Response;
    type Error = <TowerToHyperService<Router> as hyper::service::Service<hyper::Request<Incoming>>>::Error;
    type Future = <TowerToHyperService<Router> as hyper::service::Service<hyper::Request<Incoming>>>::Future;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        self.inner.call(request)
    }
}

/// Serves HTTP/1.1 on one connection until it closes, or finishes its request and closes on shutdown.
async fn serve_one<I, S>(io: I, service: S, header_timeout: Duration, mut stop: watch::Receiver<()>, peer: SocketAddr)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let mut conn = pin!(builder.serve_connection(io, service));
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            if let Err(err) = conn.await {
                tracing::debug!(%peer, error = %err, "connection ended with an error while draining");
            }
        }
    }
}
