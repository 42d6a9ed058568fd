//! The DNS check's sockets, counted for the data budget ([`crate::traffic`]): hickory's Tokio runtime with every
//! UDP datagram and TCP stream (DNS over TCP, TLS and HTTPS alike) passing through a counter.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hickory_resolver::net::runtime::iocompat::AsyncIoTokioAsStd;
use hickory_resolver::net::runtime::{DnsUdpSocket, RuntimeProvider, TokioHandle, TokioRuntimeProvider, TokioTime};
use tokio::net::{TcpStream, UdpSocket};

use crate::traffic::{Counted, DATAGRAM_HEADERS, count_wire};

/// hickory's Tokio runtime whose sockets count their bytes.
#[derive(Clone, Default)]
pub struct CountingRuntime(TokioRuntimeProvider);

impl RuntimeProvider for CountingRuntime {
    type Handle = TokioHandle;
    type Timer = TokioTime;
    type Udp = CountedUdp;
    type Tcp = AsyncIoTokioAsStd<Counted<TcpStream>>;

    fn create_handle(&self) -> Self::Handle {
        self.0.create_handle()
    }

    fn connect_tcp(
        &self,
        server_addr: SocketAddr,
        bind_addr: Option<SocketAddr>,
        timeout: Option<Duration>,
    ) -> Pin<Box<dyn Send + Future<Output = Result<Self::Tcp, io::Error>>>> {
        let connecting = self.0.connect_tcp(server_addr, bind_addr, timeout);
        Box::pin(async move {
            let AsyncIoTokioAsStd(stream) = connecting.await?;
            Ok(AsyncIoTokioAsStd(Counted::new(stream, None)))
        })
    }

    fn bind_udp(
        &self,
        local_addr: SocketAddr,
        server_addr: SocketAddr,
    ) -> Pin<Box<dyn Send + Future<Output = Result<Self::Udp, io::Error>>>> {
        let binding = self.0.bind_udp(local_addr, server_addr);
        Box::pin(async move { Ok(CountedUdp(binding.await?)) })
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
