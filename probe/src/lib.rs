//! The Vigil probe: measures reachability from a volunteer's network and keeps every result in a crash-safe
//! spool until the collector acknowledges it.
//!
//! Layout: [`agent`] (what `run` and `once` do), [`checks`] (DNS, HTTP, TCP, ICMP, SYN, trace — failures are
//! outcomes, not errors), [`vitals`] and [`clock`] (the evidence that tells a power cut from a shutdown),
//! [`packet`] and [`net`] (pure packet code; sockets and privileges), [`spool`] (crash-safe queue), [`upload`]
//! (delivery to the collector), [`own_addresses`] (the addresses it never sends), [`signing`] (the probe's Ed25519 key that signs every upload), [`fingerprints`] and [`test_lists`] (inputs), [`budget`], [`metrics`], [`config`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = vigil_probe::config::ProbeConfig::load(std::path::Path::new("probe.toml"))?;
//! let (measurements, _warnings) = vigil_probe::agent::run_once(config).await?;
//! for m in &measurements {
//!     println!("{}", m.to_json_line());
//! }
//! # Ok(()) }
//! ```

pub mod agent;
pub mod budget;
pub mod checks;
pub mod clock;
pub mod config;
pub mod connect;
pub mod fingerprints;
pub mod metrics;
pub mod net;
pub mod own_addresses;
pub mod packet;
pub mod signing;
pub mod spool;
mod sys;
pub mod test_lists;
pub mod tls;
pub mod traffic;
pub mod upload;
pub mod vitals;

/// The schema version of the measurements this probe writes.
pub const WRITES_SCHEMA: u32 = vigil_measurement::SCHEMA_VERSION;
