//! Keeping a socket on one uplink's interface ([`Egress`]): `SO_BINDTODEVICE` when the probe may (CAP_NET_RAW,
//! which the systemd unit grants), else binding the interface's own address — which leaves the machine by that
//! interface only where policy routing sends traffic from that address there (`ip rule from ADDR table N`).
//!
//! With the device bound, the kernel looks routes up among those through that interface only (a second default
//! route with a higher metric is enough), and assumes the destination is on the link when there is none.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::{TcpSocket, TcpStream, UdpSocket};

/// How an uplink's sockets are kept on its interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindMethod {
    /// `SO_BINDTODEVICE`: every packet leaves by the interface, whatever the routing table prefers.
    Device,
    /// The interface's address as the source: needs policy routing to leave by the interface.
    SourceAddress,
}

/// Where a check's or an upload's sockets leave the machine: one uplink's interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Egress {
    interface: Arc<str>,
    method: BindMethod,
}

impl Egress {
    /// An egress by `interface`, bound as `method` says.
    pub fn new(interface: &str, method: BindMethod) -> Self {
        Egress {
            interface: Arc::from(interface),
            method,
        }
    }

    /// An egress by `interface`, by device when this process may bind one (tried once, on a socket that sends
    /// nothing: Linux 5.7 and later allow it to anyone, older kernels need CAP_NET_RAW), else by source address,
    /// with a warning saying what the volunteer must then set up.
    pub fn detect(interface: &str) -> (Self, Option<String>) {
        let probe = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)
            .and_then(|s| s.bind_device(Some(interface.as_bytes())));
        match probe {
            Ok(()) => (Egress::new(interface, BindMethod::Device), None),
            Err(err) if err.kind() == io::ErrorKind::PermissionDenied => (
                Egress::new(interface, BindMethod::SourceAddress),
                Some(format!(
                    "uplink interface {interface}: binding to the device needs CAP_NET_RAW on this kernel ({err}); \
                     binding its address instead, so its traffic leaves by {interface} only with policy routing \
                     (`ip rule add from ADDR table N` and a default route in table N)"
                )),
            ),
            // No such device yet (a modem not plugged in): bind by device; each check says it failed.
            Err(err) => (
                Egress::new(interface, BindMethod::Device),
                Some(format!(
                    "uplink interface {interface}: {err}; its checks fail until the interface appears"
                )),
            ),
        }
    }

    /// The interface's name.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// How its sockets are bound.
    pub fn method(&self) -> BindMethod {
        self.method
    }

    /// The interface's current address of `dst`'s family (addresses change with DHCP: read at each use).
    pub fn source_address(&self, v6: bool) -> io::Result<IpAddr> {
        crate::sys::named_interface_addresses()
            .into_iter()
            .filter(|(name, ip)| **name == *self.interface && ip.is_ipv6() == v6)
            .map(|(_, ip)| ip)
            .find(|ip| !matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local()))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::AddrNotAvailable,
                    format!(
                        "interface {} has no IPv{} address",
                        self.interface,
                        if v6 { 6 } else { 4 }
                    ),
                )
            })
    }

    /// Keeps `socket` (not yet connected) on the interface; for a socket of `v6` family.
    pub fn bind(&self, socket: &socket2::Socket, v6: bool) -> io::Result<()> {
        match self.method {
            BindMethod::Device => socket.bind_device(Some(self.interface.as_bytes())),
            BindMethod::SourceAddress => socket.bind(&SocketAddr::new(self.source_address(v6)?, 0).into()),
        }
    }
}

/// A TCP connection to `addr`, through `egress` when given.
pub async fn connect_tcp(egress: Option<&Egress>, addr: SocketAddr) -> io::Result<TcpStream> {
    let Some(egress) = egress else {
        return TcpStream::connect(addr).await;
    };
    let socket = if addr.is_ipv6() {
        TcpSocket::new_v6()?
    } else {
        TcpSocket::new_v4()?
    };
    match egress.method {
        BindMethod::Device => socket.bind_device(Some(egress.interface.as_bytes()))?,
        BindMethod::SourceAddress => socket.bind(SocketAddr::new(egress.source_address(addr.is_ipv6())?, 0))?,
    }
    socket.connect(addr).await
}

/// A UDP socket bound to `local` (an unspecified address and port, usually), through `egress` when given.
pub async fn bind_udp(egress: Option<&Egress>, local: SocketAddr) -> io::Result<UdpSocket> {
    let Some(egress) = egress else {
        return UdpSocket::bind(local).await;
    };
    match egress.method {
        BindMethod::Device => {
            let socket = UdpSocket::bind(local).await?;
            socket.bind_device(Some(egress.interface.as_bytes()))?;
            Ok(socket)
        }
        BindMethod::SourceAddress => {
            let source = egress.source_address(local.is_ipv6())?;
            UdpSocket::bind(SocketAddr::new(source, local.port())).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn unspecified(v6: bool) -> IpAddr {
        if v6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        }
    }

    #[test]
    fn the_source_address_is_the_interface_own() {
        let lo = Egress::new("lo", BindMethod::SourceAddress);
        assert_eq!(
            lo.source_address(false).expect("lo has 127.0.0.1"),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        let missing = Egress::new("vgl-none0", BindMethod::SourceAddress);
        let err = missing.source_address(false).expect_err("no such interface");
        assert_eq!(err.kind(), io::ErrorKind::AddrNotAvailable);
        assert!(err.to_string().contains("vgl-none0"), "{err}");
    }

    #[tokio::test]
    async fn a_connection_by_source_address_leaves_from_it() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
        let addr = listener.local_addr().expect("addr");
        let lo = Egress::new("lo", BindMethod::SourceAddress);
        let stream = connect_tcp(Some(&lo), addr).await.expect("connects");
        assert_eq!(
            stream.local_addr().expect("local").ip(),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        let udp = bind_udp(Some(&lo), SocketAddr::new(unspecified(false), 0))
            .await
            .expect("binds");
        assert_eq!(udp.local_addr().expect("local").ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
}
