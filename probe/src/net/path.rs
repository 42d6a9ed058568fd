//! The way a check's or an upload's connections leave the machine ([`NetPath`]): the routing table's choice with
//! the system's name lookups, or one uplink's interface with name lookups of its own made through it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use hickory_resolver::Resolver;
use hickory_resolver::config::ResolverOpts;
use tokio::net::TcpStream;

use super::counted_dns::CountingRuntime;
use super::egress::{self, Egress};

/// A resolver whose sockets are counted and, with an egress, leave by its interface.
pub type CountedResolver = Resolver<CountingRuntime>;

/// Where connections go out, and how names are looked up on the way.
#[derive(Clone, Default)]
pub struct NetPath {
    egress: Option<Egress>,
    /// Lookups through the egress (the system's resolvers from `/etc/resolv.conf`, asked over the uplink), or
    /// why they cannot be made. `None` on the system path: `getaddrinfo` decides.
    names: Option<Result<Arc<CountedResolver>, String>>,
}

impl std::fmt::Debug for NetPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetPath")
            .field("egress", &self.egress)
            .finish_non_exhaustive()
    }
}

impl NetPath {
    /// The routing table's choice and the system's name lookups: a probe with one uplink.
    pub fn system() -> Self {
        NetPath::default()
    }

    /// Out by `egress`'s interface, names looked up through it with the system's resolver configuration.
    pub fn via(egress: Egress) -> Self {
        let names = hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| format!("cannot read the system resolver configuration: {e}"))
            .and_then(|(config, mut opts)| {
                opts.cache_size = 0;
                opts.attempts = opts.attempts.max(1);
                let opts: ResolverOpts = opts;
                Resolver::builder_with_config(config, CountingRuntime::via(Some(egress.clone())))
                    .with_options(opts)
                    .build()
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            });
        NetPath {
            egress: Some(egress),
            names: Some(names),
        }
    }

    /// The uplink's egress, when the path has one.
    pub fn egress(&self) -> Option<&Egress> {
        self.egress.as_ref()
    }

    /// `host`'s addresses with `port`, IPv4 first.
    pub async fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let mut found: Vec<SocketAddr> = match &self.names {
            None => tokio::net::lookup_host((host, port)).await?.collect(),
            Some(Err(reason)) => return Err(io::Error::other(reason.clone())),
            Some(Ok(resolver)) => resolver
                .lookup_ip(host)
                .await
                .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e.to_string()))?
                .iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect(),
        };
        found.sort_by_key(SocketAddr::is_ipv6);
        Ok(found)
    }

    /// A TCP connection to `addr` along this path.
    pub async fn connect_tcp(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        egress::connect_tcp(self.egress.as_ref(), addr).await
    }
}
