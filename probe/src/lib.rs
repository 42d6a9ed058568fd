//! The Vigil probe: measures reachability from a volunteer's network and keeps every result in a crash-safe
//! spool until the collector acknowledges it.
//!
//! Every module is private; this root is the public API. Inside: `agent` (what `run` and `once` do), `checks`
//! (DNS, HTTP with its SNI and QUIC tests, TCP, ICMP, SYN, trace — failures are outcomes, not errors; exported as one namespace each),
//! `vitals` and `clock` (the evidence that tells a power cut from a shutdown), `packet` and `net` (pure packet
//! code; sockets and privileges), `spool` (crash-safe queue), `upload` (delivery to the collector),
//! `own_addresses` (the addresses it never sends), `signing` (the probe's Ed25519 key that signs every upload),
//! `fingerprints`, `test_lists` and `apps` (inputs: the messaging apps' endpoints), `budget`, `metrics`, `config`, `uplinks` (the ways out: `[[uplinks]]` bound to their interfaces).
//! ARCHITECTURE.md maps them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = vigil_probe::ProbeConfig::load(std::path::Path::new("probe.toml"))?;
//! let (measurements, _warnings) = vigil_probe::run_once(config).await?;
//! for m in &measurements {
//!     println!("{}", m.to_json_line());
//! }
//! # Ok(()) }
//! ```

mod agent;
mod apps;
mod budget;
mod checks;
mod clock;
mod config;
mod connect;
mod fingerprints;
mod host_name;
mod metrics;
mod net;
mod own_addresses;
mod packet;
mod signing;
mod spool;
mod sys;
mod test_lists;
mod tls;
mod traffic;
mod uplinks;
mod upload;
mod vitals;

// Running the probe.
pub use agent::{LIST_URL_CAP, run, run_once};
pub use config::{AppEntry, ConfigError, ProbeConfig, UplinkEntry};
pub use metrics::ProbeMetrics;
pub use signing::ProbeKey;
pub use uplinks::describe_uplinks;

// The checks, one namespace each.
pub use checks::{dns, http, icmp, quic, syn, tcp, trace};

// Packet parsing of raw-socket replies (hostile input: the fuzz targets drive these), and packet privileges.
pub use net::{BindMethod, Egress, NetPath, PacketMode, detect_packet_mode};
pub use packet::icmp::parse as parse_icmp;
pub use packet::ipv4::split as split_ipv4;
pub use packet::tcp::parse as parse_tcp;

// The spool and the uploader.
pub use spool::{NewRecord, RecordClass, SharedSpool, Spool, SpoolError, SpoolOptions, SpooledRecord};
pub use upload::{DuringIsolation, IsolationState, RoundOutcome, Uploader, judge_isolation};

// Inputs, vitals and traffic accounting.
pub use apps::{DEFAULT_APPS, Endpoint as AppEndpoint};
pub use fingerprints::{Fingerprints, Location, PatternType};
pub use test_lists::TestLists;
pub use traffic::CheckMeter;
pub use vitals::{VitalsSources, read_local};

/// The schema version of the measurements this probe writes.
pub const WRITES_SCHEMA: u32 = vigil_measurement::SCHEMA_VERSION;
