//! The DNS sockets, counted for the data budget ([`crate::traffic`]): hickory's Tokio runtime with every UDP
//! datagram and TCP stream (DNS over TCP, TLS and HTTPS alike) passing through a counter, and kept on an uplink's
//! interface ([`Egress`]) when the runtime has one.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hickory_resolver::net::runtime::iocompat::AsyncIoTokioAsStd;
use hickory_resolver::net::runtime::{DnsUdpSocket, RuntimeProvider, TokioHandle, TokioRuntimeProvider, TokioTime};
use tokio::net::{TcpStream, UdpSocket};

use super::egress::{self, Egress};
use crate::traffic::{Counted, DATAGRAM_HEADERS, count_wire};

/// hickory's Tokio runtime whose sockets count their bytes and, with an egress, leave by its interface.
#[derive(Clone, Default)]
pub struct CountingRuntime {
    tokio: TokioRuntimeProvider,
    egress: Option<Egress>,
}

impl CountingRuntime {
    /// A runtime whose sockets leave by `egress` (the routing table's choice when `None`).
    pub fn via(egress: Option<Egress>) -> Self {
        CountingRuntime {
            tokio: TokioRuntimeProvider::default(),
            egress,
        }
    }
}

impl RuntimeProvider for CountingRuntime {
    type Handle = TokioHandle;
    type Timer = TokioTime;
    type Udp = CountedUdp;
    type Tcp = AsyncIoTokioAsStd<Counted<TcpStream>>;

    fn create_handle(&self) -> Self::Handle {
        self.tokio.create_handle()
    }

    fn connect_tcp(
        &self,
        server_addr: SocketAddr,
        bind_addr: Option<SocketAddr>,
        timeout: Option<Duration>,
    ) -> Pin<Box<dyn Send + Future<Output = Result<Self::Tcp, io::Error>>>> {
        // A resolver on this machine (a local stub) is reached over loopback whatever the uplink.
        let egress = self.egress.clone().filter(|_| !server_addr.ip().is_loopback());
        let Some(egress) = egress else {
            let connecting = self.tokio.connect_tcp(server_addr, bind_addr, timeout);
            return Box::pin(async move {
                let AsyncIoTokioAsStd(stream) = connecting.await?;
                Ok(AsyncIoTokioAsStd(Counted::new(stream, None)))
            });
        };
        // hickory's own connect, with the egress's binding instead of `bind_addr` (never set by this probe).
        Box::pin(async move {
            let connecting = egress::connect_tcp(Some(&egress), server_addr);
            let stream = match tokio::time::timeout(timeout.unwrap_or(Duration::from_secs(5)), connecting).await {
                Ok(connected) => connected?,
                Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "TCP connect timed out")),
            };
            let _ = stream.set_nodelay(true);
            Ok(AsyncIoTokioAsStd(Counted::new(stream, None)))
        })
    }

    fn bind_udp(
        &self,
        local_addr: SocketAddr,
        server_addr: SocketAddr,
    ) -> Pin<Box<dyn Send + Future<Output = Result<Self::Udp, io::Error>>>> {
        let egress = self.egress.clone().filter(|_| !server_addr.ip().is_loopback());
        let Some(egress) = egress else {
            let binding = self.tokio.bind_udp(local_addr, server_addr);
            return Box::pin(async move { Ok(CountedUdp(binding.await?)) });
        };
        Box::pin(async move { Ok(CountedUdp(egress::bind_udp(Some(&egress), local_addr).await?)) })
    }
}

/// A UDP socket counting each datagram and its IP and UDP headers.
pub struct CountedUdp(UdpSocket);

impl DnsUdpSocket for CountedUdp {
    type Time = TokioTime;

    fn poll_recv_from(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<(usize, SocketAddr)>> {
        let (n, from) = ready!(DnsUdpSocket::poll_recv_from(&self.0, cx, buf))?;
        count_wire(n as u64 + DATAGRAM_HEADERS);
        Poll::Ready(Ok((n, from)))
    }

    fn poll_send_to(&self, cx: &mut Context<'_>, buf: &[u8], target: SocketAddr) -> Poll<io::Result<usize>> {
        let n = ready!(DnsUdpSocket::poll_send_to(&self.0, cx, buf, target))?;
        count_wire(n as u64 + DATAGRAM_HEADERS);
        Poll::Ready(Ok(n))
    }
}
