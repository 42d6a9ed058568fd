//! The Vigil probe: measures reachability from a volunteer's network and keeps every result in a crash-safe
//! spool until the collector acknowledges it.
//!
//! Built so far: [`config`], the [`spool`] and the [`upload`]er. The checks and scheduler come next.

pub mod agent;
pub mod budget;
pub mod checks;
pub mod clock;
pub mod config;
pub mod fingerprints;
pub mod metrics;
pub mod net;
pub mod packet;
pub mod spool;
mod sys;
pub mod test_lists;
pub mod tls;
pub mod upload;
pub mod vitals;

/// The schema version of the measurements this probe writes.
pub const WRITES_SCHEMA: u32 = vigil_measurement::SCHEMA_VERSION;
