//! The socket implementations. Sockets are created with socket2 (which exposes raw and ping sockets) and then
//! driven through std's datagram API, which works for any datagram-style socket and needs no unsafe code.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::egress::Egress;
use crate::packet::ipv4::{self, Ipv4Header};

/// One packet received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Who sent it.
    pub from: Ipv4Addr,
    /// Its IPv4 header, when the socket delivers headers (raw sockets do, ping sockets do not).
    pub ip: Option<Ipv4Header>,
    /// The ICMP or TCP message.
    pub payload: Vec<u8>,
}

/// What the packet-level checks need from a socket.
pub trait PacketSocket: Send {
    /// Sends one ICMP or TCP message to `dst` (the kernel adds the IP header).
    fn send_to(&self, message: &[u8], dst: Ipv4Addr) -> io::Result<()>;
    /// Waits up to `timeout` for one packet; `Ok(None)` when none came.
    fn recv(&self, timeout: Duration) -> io::Result<Option<Received>>;
    /// Sets the TTL of packets sent from now on.
    fn set_ttl(&self, ttl: u32) -> io::Result<()>;
}

/// A raw IPv4 socket for one protocol (ICMP or TCP); receives with IP headers.
pub struct RawSocket {
    socket: UdpSocket,
}

impl RawSocket {
    /// A raw ICMP socket (needs CAP_NET_RAW), out by `egress` when given.
    pub fn icmp(egress: Option<&Egress>) -> io::Result<Self> {
        Self::open(Protocol::ICMPV4, egress)
    }

    /// A raw TCP socket (needs CAP_NET_RAW), out by `egress` when given. It receives a copy of every TCP segment
    /// to this host (to the egress's interface, when bound to its device).
    pub fn tcp(egress: Option<&Egress>) -> io::Result<Self> {
        Self::open(Protocol::TCP, egress)
    }

    fn open(protocol: Protocol, egress: Option<&Egress>) -> io::Result<Self> {
        let socket = Socket::new(Domain::IPV4, Type::RAW, Some(protocol))?;
        if let Some(egress) = egress {
            egress.bind(&socket, false)?;
        }
        Ok(RawSocket { socket: socket.into() })
    }
}

impl PacketSocket for RawSocket {
    fn send_to(&self, message: &[u8], dst: Ipv4Addr) -> io::Result<()> {
        let sent = self.socket.send_to(message, SocketAddrV4::new(dst, 0))?;
        crate::traffic::count_wire(sent as u64 + crate::traffic::IP_HEADER);
        Ok(())
    }

    fn recv(&self, timeout: Duration) -> io::Result<Option<Received>> {
        let mut buf = [0u8; 2048];
        let Some((n, from)) = recv_within(&self.socket, &mut buf, timeout)? else {
            return Ok(None);
        };
        // A raw socket sees every packet of its protocol, the probe's or not: counting them all errs high.
        crate::traffic::count_wire(n as u64);
        let IpAddr::V4(from) = from.ip() else { return Ok(None) };
        Ok(ipv4::split(&buf[..n]).map(|(header, payload)| Received {
            from,
            ip: Some(header),
            payload: payload.to_vec(),
        }))
    }

    fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.socket.set_ttl(ttl)
    }
}

/// An unprivileged ICMP ("ping") socket, connected to one destination. The kernel chooses the echo identifier
/// and delivers only replies to it, without IP headers; ICMP errors surface as errors on receive.
pub struct DgramIcmpSocket {
    socket: UdpSocket,
    peer: Ipv4Addr,
}

impl DgramIcmpSocket {
    /// Opens a ping socket connected to `peer`, out by `egress` when given.
    pub fn connect(peer: Ipv4Addr, egress: Option<&Egress>) -> io::Result<Self> {
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4))?;
        if let Some(egress) = egress {
            egress.bind(&socket, false)?;
        }
        socket.connect(&SocketAddr::V4(SocketAddrV4::new(peer, 0)).into())?;
        Ok(DgramIcmpSocket {
            socket: socket.into(),
            peer,
        })
    }
}

impl PacketSocket for DgramIcmpSocket {
    fn send_to(&self, message: &[u8], _dst: Ipv4Addr) -> io::Result<()> {
        let sent = self.socket.send(message)?;
        crate::traffic::count_wire(sent as u64 + crate::traffic::IP_HEADER);
        Ok(())
    }

    fn recv(&self, timeout: Duration) -> io::Result<Option<Received>> {
        let mut buf = [0u8; 2048];
        let Some((n, _)) = recv_within(&self.socket, &mut buf, timeout)? else {
            return Ok(None);
        };
        crate::traffic::count_wire(n as u64 + crate::traffic::IP_HEADER);
        Ok(Some(Received {
            from: self.peer,
            ip: None,
            payload: buf[..n].to_vec(),
        }))
    }

    fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.socket.set_ttl(ttl)
    }
}

fn recv_within(socket: &UdpSocket, buf: &mut [u8], timeout: Duration) -> io::Result<Option<(usize, SocketAddr)>> {
    socket.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
    match socket.recv_from(buf) {
        Ok(got) => Ok(Some(got)),
        Err(err) if matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The local address the kernel would use to reach `dst`, out by `egress` when given (no packet is sent:
/// connecting a UDP socket only consults the routing table).
pub fn source_address_for(dst: Ipv4Addr, egress: Option<&Egress>) -> io::Result<Ipv4Addr> {
    let probe = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    if let Some(egress) = egress {
        egress.bind(&probe, false)?;
    }
    probe.connect(&SocketAddr::V4(SocketAddrV4::new(dst, 9)).into())?;
    let local = probe
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("no socket address"))?;
    match local.ip() {
        IpAddr::V4(v4) => Ok(v4),
        IpAddr::V6(_) => Err(io::Error::other("no IPv4 source address")),
    }
}
