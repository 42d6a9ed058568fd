//! The DNS check: one name, A and AAAA, asked of the system resolver and of every configured resolver (Do53
//! over UDP and TCP, DoT, DoH). Each answer is one `kind: dns` measurement with its rcode, answers, TTLs and
//! latency. Answers are then judged against each other:
//!
//! - `dns_injected` / `fingerprint`: an answer matches a known injection address.
//! - `dns_injected` / `bogon`: a public name answered with an address that never belongs to one (private,
//!   loopback, link-local, 0.0.0.0). Off in labs whose whole "internet" is private space.
//! - `dns_injected` / `control_mismatch`: no answer shares a /24 (/48) with what the control resolvers
//!   (encrypted ones by default) answered, *and* the controls agree among themselves. Controls that disagree
//!   with each other show load balancing or geo-DNS, so no call is made then.
//!
//! The resolvers run with caching off, one attempt and the hosts file ignored: the probe measures the network.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};

/// A resolver whose sockets count their bytes.
use url::Url;
use vigil_measurement::result::{DnsAnswer, DnsResult};
use vigil_measurement::{Measurement, MeasurementResult, Outcome, Target};

use super::address::{comparison_prefix, is_bogon};
use super::{envelope, error_detail};
use crate::fingerprints::Fingerprints;
use crate::net::{CountedResolver, CountingRuntime, Egress};

/// One resolver to ask, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverSpec {
    /// `system`, `udp://IP:PORT`, `tcp://IP:PORT`, `tls://HOST:PORT`, `https://HOST/PATH`.
    pub address: String,
    /// Whether its answers serve as the control; `None` means "if it is encrypted".
    pub control: Option<bool>,
}

/// Settings shared by every query.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    /// Timeout of one query.
    pub timeout: Duration,
    /// Whether a bogon answer for a public name counts as injection.
    pub flag_bogons: bool,
    /// Extra trusted roots (DER) for DoT and DoH, besides Mozilla's: a private CA, or a test's own.
    pub extra_roots: Vec<Vec<u8>>,
    /// The uplink whose interface queries leave by (the routing table's choice when `None`). A resolver on this
    /// machine (a local stub on loopback) is asked directly whatever the uplink.
    pub egress: Option<Egress>,
}

/// A resolver that cannot be set up (the others still run).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsSetupError {
    /// The address is not one of the supported forms.
    #[error("resolver `{address}`: {reason}")]
    Address {
        /// The configured address.
        address: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The resolver library refused the configuration.
    #[error("resolver `{address}`: {source}")]
    Build {
        /// The configured address.
        address: String,
        /// The library's error.
        source: NetError,
    },
}

struct NamedResolver {
    label: String,
    control: bool,
    resolver: Result<CountedResolver, String>,
    /// Where a connection-oriented resolver listens, to diagnose "no connections" failures.
    endpoint: Option<Endpoint>,
}

/// A connection-oriented resolver's address, and the name its certificate must carry when it speaks TLS.
#[derive(Debug, Clone)]
struct Endpoint {
    addr: SocketAddr,
    tls_name: Option<String>,
}

/// The resolvers a probe asks, built once and reused every cycle.
pub struct DnsResolvers {
    resolvers: Vec<NamedResolver>,
    settings: DnsSettings,
    fingerprints: Arc<Fingerprints>,
}

impl DnsResolvers {
    /// Builds every resolver. A resolver that cannot be built is kept and reports `error` each time it is
    /// asked, so its absence shows in the data; the error is also returned for logging.
    pub fn new(
        specs: &[ResolverSpec],
        settings: DnsSettings,
        fingerprints: Arc<Fingerprints>,
    ) -> (Self, Vec<DnsSetupError>) {
        let mut resolvers = Vec::new();
        let mut problems = Vec::new();
        for spec in specs {
            let built = build_resolver(&spec.address, &settings);
            let endpoint = endpoint(&spec.address);
            let encrypted = spec.address.starts_with("tls://") || spec.address.starts_with("https://");
            let resolver = built.map_err(|err| {
                let text = err.to_string();
                problems.push(err);
                text
            });
            resolvers.push(NamedResolver {
                label: spec.address.clone(),
                control: spec.control.unwrap_or(encrypted),
                resolver,
                endpoint,
            });
        }
        (
            DnsResolvers {
                resolvers,
                settings,
                fingerprints,
            },
            problems,
        )
    }

    /// How many resolvers are asked per query.
    pub fn len(&self) -> usize {
        self.resolvers.len()
    }

    /// Whether there is no resolver at all.
    pub fn is_empty(&self) -> bool {
        self.resolvers.is_empty()
    }

    /// Asks every resolver for `name`'s A and AAAA records, concurrently; one measurement per resolver and type.
    pub async fn check(&self, name: &str, target: &Target) -> Vec<Measurement> {
        let mut out = Vec::new();
        for qtype in [RecordType::A, RecordType::AAAA] {
            let queries = self.resolvers.iter().map(|r| query(r, name, qtype, &self.settings));
            let observations = futures_util::future::join_all(queries).await;
            out.extend(self.judge(name, target, observations));
        }
        out
    }

    /// Applies fingerprint, bogon and control checks and wraps each observation.
    fn judge(&self, name: &str, target: &Target, observations: Vec<Observation>) -> Vec<Measurement> {
        let control_sets: Vec<HashSet<(u8, u128)>> = observations
            .iter()
            .zip(&self.resolvers)
            .filter(|(o, r)| r.control && o.result.outcome == Outcome::Ok && !o.addresses.is_empty())
            .map(|(o, _)| o.addresses.iter().map(|ip| comparison_prefix(*ip)).collect())
            .collect();
        // Controls that share no prefix with each other reveal load balancing: then mismatch proves nothing.
        let controls_agree = !control_sets.is_empty()
            && control_sets
                .iter()
                .all(|s| control_sets.iter().all(|t| !s.is_disjoint(t)));
        let public_name = name.parse::<IpAddr>().is_err()
            && !["local", "lan", "internal", "home.arpa", "localhost"]
                .iter()
                .any(|suffix| name.trim_end_matches('.').ends_with(suffix));
        observations
            .into_iter()
            .zip(&self.resolvers)
            .map(|(mut o, resolver)| {
                if o.result.outcome == Outcome::Ok && !o.addresses.is_empty() {
                    let fingerprint = o
                        .addresses
                        .iter()
                        .find_map(|ip| self.fingerprints.match_dns(&ip.to_string()));
                    let verdict = if let Some(f) = fingerprint {
                        o.result.fingerprint = Some(f.name.clone());
                        Some("fingerprint")
                    } else if self.settings.flag_bogons && public_name && o.addresses.iter().any(|ip| is_bogon(*ip)) {
                        Some("bogon")
                    } else if !resolver.control
                        && controls_agree
                        && !o
                            .addresses
                            .iter()
                            .any(|ip| control_sets.iter().any(|s| s.contains(&comparison_prefix(*ip))))
                    {
                        Some("control_mismatch")
                    } else {
                        None
                    };
                    if let Some(reason) = verdict {
                        o.result.outcome = Outcome::DnsInjected;
                        o.result.injection_reason = Some(reason.to_owned());
                    }
                }
                envelope(
                    target.clone(),
                    o.started_at,
                    o.elapsed,
                    MeasurementResult::Dns(o.result),
                )
            })
            .collect()
    }
}

struct Observation {
    started_at: chrono::DateTime<chrono::Utc>,
    elapsed: Duration,
    addresses: Vec<IpAddr>,
    result: DnsResult,
}

async fn query(r: &NamedResolver, name: &str, qtype: RecordType, settings: &DnsSettings) -> Observation {
    let timeout = settings.timeout;
    let started_at = chrono::Utc::now();
    let clock = Instant::now();
    let fqdn = if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    };
    let mut result = DnsResult {
        outcome: Outcome::Error,
        query: name.to_owned(),
        qtype: qtype.to_string(),
        resolver: r.label.clone(),
        answers: Vec::new(),
        rcode: None,
        fingerprint: None,
        injection_reason: None,
        error_detail: None,
    };
    let mut addresses = Vec::new();
    match &r.resolver {
        Err(reason) => result.error_detail = Some(vigil_measurement::scrub_ip_addresses(reason).into_owned()),
        Ok(resolver) => {
            // The resolver has its own timeout; this bound also covers connection set-up (DoT, DoH).
            let answer = tokio::time::timeout(timeout + Duration::from_millis(500), resolver.lookup(fqdn, qtype)).await;
            match answer {
                Err(_) => result.outcome = Outcome::Timeout,
                Ok(Ok(lookup)) => {
                    result.outcome = Outcome::Ok;
                    result.rcode = Some(rcode_name(lookup.message().metadata.response_code));
                    for record in lookup.answers() {
                        let rtype = record.data.record_type();
                        match &record.data {
                            RData::A(a) => addresses.push(IpAddr::V4(a.0)),
                            RData::AAAA(a) => addresses.push(IpAddr::V6(a.0)),
                            _ => {}
                        }
                        if result.answers.len() < 32 {
                            result.answers.push(DnsAnswer {
                                rtype: rtype.to_string(),
                                data: record.data.to_string(),
                                ttl: Some(record.ttl),
                            });
                        }
                    }
                }
                Ok(Err(NetError::NoConnections)) if r.endpoint.is_some() => {
                    // The resolver library only says no connection could be made; find out why ourselves.
                    if let Some(endpoint) = &r.endpoint {
                        (result.outcome, result.error_detail) = diagnose(endpoint, settings).await;
                    }
                }
                Ok(Err(err)) => classify_error(&err, &mut result),
            }
        }
    }
    Observation {
        started_at,
        elapsed: clock.elapsed(),
        addresses,
        result,
    }
}

/// Maps a resolver failure to the closed outcome set.
fn classify_error(err: &NetError, result: &mut DnsResult) {
    match err {
        NetError::Dns(DnsError::NoRecordsFound(no)) => {
            result.rcode = Some(rcode_name(no.response_code));
            result.outcome = if no.response_code == ResponseCode::NXDomain {
                Outcome::Nxdomain
            } else {
                // NOERROR with no records of this type (NODATA) is a normal answer.
                Outcome::Ok
            };
        }
        NetError::Dns(DnsError::ResponseCode(code)) => {
            result.rcode = Some(rcode_name(*code));
            result.outcome = match *code {
                ResponseCode::ServFail => Outcome::Servfail,
                ResponseCode::Refused => Outcome::Refused,
                ResponseCode::NXDomain => Outcome::Nxdomain,
                _ => {
                    result.error_detail = Some(format!("response code {code}"));
                    Outcome::Error
                }
            };
        }
        NetError::Timeout => result.outcome = Outcome::Timeout,
        NetError::Io(io) => {
            result.outcome = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => Outcome::Refused,
                std::io::ErrorKind::NetworkUnreachable => Outcome::NoRoute,
                std::io::ErrorKind::HostUnreachable => Outcome::Unreachable,
                std::io::ErrorKind::TimedOut => Outcome::Timeout,
                _ => Outcome::Error,
            };
            if result.outcome == Outcome::Error {
                result.error_detail = Some(error_detail(err));
            }
        }
        NetError::RustlsError(_) => {
            result.outcome = Outcome::TlsError;
            result.error_detail = Some(error_detail(err));
        }
        NetError::H2(_) => {
            result.outcome = Outcome::HttpError;
            result.error_detail = Some(error_detail(err));
        }
        other => {
            result.outcome = Outcome::Error;
            result.error_detail = Some(error_detail(other));
        }
    }
}

/// The connection-oriented endpoint of a `tcp://`, `tls://` or `https://` resolver address.
fn endpoint(address: &str) -> Option<Endpoint> {
    let url = Url::parse(address).ok()?;
    let host = url.host_str()?.trim_matches(['[', ']']).to_owned();
    let (port, tls) = match url.scheme() {
        "tcp" => (url.port().unwrap_or(53), false),
        "tls" => (url.port().unwrap_or(853), true),
        "https" => (url.port().unwrap_or(443), true),
        _ => return None,
    };
    let ip = resolve_host(&host, port)?;
    Some(Endpoint {
        addr: SocketAddr::new(ip, port),
        tls_name: tls.then_some(host),
    })
}

/// Why a connection to a resolver fails: its own TCP connect, then (for DoT and DoH) a TLS handshake.
async fn diagnose(endpoint: &Endpoint, settings: &DnsSettings) -> (Outcome, Option<String>) {
    let connect = tokio::time::timeout(
        settings.timeout,
        crate::net::connect_tcp(settings.egress.as_ref(), endpoint.addr),
    )
    .await;
    let stream = match connect {
        Err(_) => return (Outcome::Timeout, None),
        Ok(Err(err)) => return super::tcp::connect_failure(&err),
        Ok(Ok(stream)) => stream,
    };
    let Some(name) = &endpoint.tls_name else {
        return (
            Outcome::Error,
            Some("connected, but the resolver did not answer over TCP".to_owned()),
        );
    };
    let config = match crate::tls::client_config_with(&settings.extra_roots) {
        Ok(c) => c,
        Err(err) => return (Outcome::Error, Some(error_detail(&err))),
    };
    let Ok(server_name) = rustls::pki_types::ServerName::try_from(name.clone()) else {
        return (
            Outcome::Error,
            Some("the resolver's host is not a valid TLS server name".to_owned()),
        );
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    match tokio::time::timeout(settings.timeout, connector.connect(server_name, stream)).await {
        Err(_) => (Outcome::Timeout, Some("TLS handshake timed out".to_owned())),
        Ok(Err(err)) => {
            let (outcome, detail) = super::tcp::connect_failure(&err);
            if err.kind() == std::io::ErrorKind::InvalidData || outcome == Outcome::Error {
                (Outcome::TlsError, Some(error_detail(&err)))
            } else {
                (outcome, detail)
            }
        }
        Ok(Ok(_)) => (
            Outcome::Error,
            Some("TLS handshake succeeded, but the resolver did not answer".to_owned()),
        ),
    }
}

/// The standard mnemonic of a response code (`NOERROR`, `NXDOMAIN`, …).
fn rcode_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".to_owned(),
        ResponseCode::FormErr => "FORMERR".to_owned(),
        ResponseCode::ServFail => "SERVFAIL".to_owned(),
        ResponseCode::NXDomain => "NXDOMAIN".to_owned(),
        ResponseCode::NotImp => "NOTIMP".to_owned(),
        ResponseCode::Refused => "REFUSED".to_owned(),
        other => format!("RCODE{}", u16::from(other)),
    }
}

fn build_resolver(address: &str, settings: &DnsSettings) -> Result<CountedResolver, DnsSetupError> {
    let bad = |reason: &str| DnsSetupError::Address {
        address: address.to_owned(),
        reason: reason.to_owned(),
    };
    let config = if address == "system" {
        let (config, _) = hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| bad(&format!("cannot read the system resolver configuration: {e}")))?;
        config
    } else {
        let url = Url::parse(address).map_err(|e| bad(&e.to_string()))?;
        let host = url
            .host_str()
            .ok_or_else(|| bad("no host"))?
            .trim_matches(['[', ']'])
            .to_owned();
        let port = url.port();
        let ip =
            resolve_host(&host, port.unwrap_or(53)).ok_or_else(|| bad("cannot resolve the resolver's host name"))?;
        let server_name: Arc<str> = Arc::from(host.as_str());
        let mut connection = match url.scheme() {
            "udp" => ConnectionConfig::udp(),
            "tcp" => ConnectionConfig::tcp(),
            "tls" => ConnectionConfig::tls(server_name),
            "https" => ConnectionConfig::https(server_name, Some(Arc::from(url.path()))),
            other => return Err(bad(&format!("unknown transport `{other}`"))),
        };
        if let Some(port) = port {
            connection.port = port;
        }
        let server = NameServerConfig::new(ip, true, vec![connection]);
        ResolverConfig::from_name_servers(vec![server])
    };
    let mut opts = ResolverOpts::default();
    opts.timeout = settings.timeout;
    opts.attempts = 1;
    opts.cache_size = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.try_tcp_on_error = false;
    opts.ndots = 0;
    let tls = crate::tls::client_config_with(&settings.extra_roots).map_err(|e| bad(&format!("TLS setup: {e}")))?;
    Resolver::builder_with_config(config, CountingRuntime::via(settings.egress.clone()))
        .with_options(opts)
        .with_tls_config(tls)
        .build()
        .map_err(|source| DnsSetupError::Build {
            address: address.to_owned(),
            source,
        })
}

/// The resolver's own address: a literal, or looked up once through the system (DoT/DoH bootstrap).
fn resolve_host(host: &str, port: u16) -> Option<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip);
    }
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .ok()?
        .map(|a: SocketAddr| a.ip())
        .next()
}
