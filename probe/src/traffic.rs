//! Bytes on the wire, counted where the probe's own sockets read and write — the data budget
//! (`[probe] daily_budget_mb`, [`crate::budget`]) spends what this counts, not an estimate per check.
//!
//! - Streams (the HTTP check's TCP and TLS connections, DNS over TCP, TLS and HTTPS) are wrapped in [`Counted`],
//!   under TLS, so handshakes, records and redirects count as the ciphertext they are.
//! - Datagrams (DNS over UDP, the packet checks' raw and ping sockets) count each packet's size plus its IP (and
//!   UDP) header.
//! - What the kernel adds to a stream is not visible to a process: IP and TCP headers are counted as
//!   [`SEGMENT_HEADERS`] per [`SEGMENT_PAYLOAD`] bytes or part of them, and a connection's handshake and close as
//!   [`CONNECTION_OVERHEAD`]. Both err on the side of counting more than was sent.
//!
//! Every count goes to the process-wide total ([`total`]); a check that must stay within a cap of its own counts
//! into a [`CheckMeter`] as well.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// TCP payload of one full segment on a 1500-byte link (1500 − 20 IP − 20 TCP − 12 timestamp option).
pub const SEGMENT_PAYLOAD: u64 = 1448;
/// IPv4 and TCP headers of one segment, with the timestamp option.
pub const SEGMENT_HEADERS: u64 = 52;
/// A TCP connection's handshake and close: SYN, SYN-ACK, ACK, FIN, ACK, FIN, ACK, with options.
pub const CONNECTION_OVERHEAD: u64 = 7 * 60;
/// IPv4 and UDP headers of one datagram.
pub const DATAGRAM_HEADERS: u64 = 28;
/// IPv4 header a raw socket's payload is sent with.
pub const IP_HEADER: u64 = 20;

static TOTAL: AtomicU64 = AtomicU64::new(0);

/// Bytes this process has sent and received since it started, as counted here.
pub fn total() -> u64 {
    TOTAL.load(Ordering::Relaxed)
}

/// Counts `bytes` on the wire (headers included) into the total.
pub fn count_wire(bytes: u64) {
    TOTAL.fetch_add(bytes, Ordering::Relaxed);
}

/// The bytes on the wire of `payload` stream bytes: the payload and its segments' headers.
pub fn stream_wire_bytes(payload: usize) -> u64 {
    let payload = payload as u64;
    payload + payload.div_ceil(SEGMENT_PAYLOAD) * SEGMENT_HEADERS
}

/// One check's bytes (everything it counts also goes to the total), so it can stop at its own cap.
#[derive(Debug, Clone, Default)]
pub struct CheckMeter(Arc<AtomicU64>);

impl CheckMeter {
    /// A meter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts `bytes` on the wire.
    pub fn add_wire(&self, bytes: u64) {
        self.0.fetch_add(bytes, Ordering::Relaxed);
        count_wire(bytes);
    }

    /// Bytes counted so far.
    pub fn bytes(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A stream whose reads and writes are counted (and, for a check, into its meter).
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    meter: Option<CheckMeter>,
}

impl<S> Counted<S> {
    /// Counts `inner`'s traffic into the total and, when given, a check's meter; the connection's handshake is
    /// counted now.
    pub fn new(inner: S, meter: Option<CheckMeter>) -> Self {
        let counted = Counted { inner, meter };
        counted.count(CONNECTION_OVERHEAD);
        counted
    }

    fn count(&self, bytes: u64) {
        match &self.meter {
            Some(meter) => meter.add_wire(bytes),
            None => count_wire(bytes),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        if read > 0 {
            self.count(stream_wire_bytes(read));
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &polled
            && *n > 0
        {
            self.count(stream_wire_bytes(*n));
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn stream_bytes_carry_their_segment_headers() {
        assert_eq!(stream_wire_bytes(0), 0);
        assert_eq!(stream_wire_bytes(1), 1 + SEGMENT_HEADERS);
        assert_eq!(stream_wire_bytes(1448), 1448 + SEGMENT_HEADERS);
        assert_eq!(stream_wire_bytes(1449), 1449 + 2 * SEGMENT_HEADERS);
    }

    #[tokio::test]
    async fn a_counted_stream_counts_what_it_reads_and_writes_into_its_check_and_the_total() {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let meter = CheckMeter::new();
        let before = total();
        let mut counted = Counted::new(a, Some(meter.clone()));
        counted.write_all(&[7; 3000]).await.expect("writes");
        let mut got = vec![0; 3000];
        b.read_exact(&mut got).await.expect("reads");
        b.write_all(&[9; 100]).await.expect("writes back");
        let mut back = [0; 100];
        counted.read_exact(&mut back).await.expect("reads back");
        assert!(meter.bytes() >= CONNECTION_OVERHEAD + 3100, "{}", meter.bytes());
        assert!(total() - before >= meter.bytes());
    }
}
