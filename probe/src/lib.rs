//! The Vigil probe: measures reachability from a volunteer's network and keeps every result in a crash-safe
//! spool until the collector acknowledges it.
//!
//! Built so far: the [`spool`]. The checks, scheduler and uploader come next (see the probe issue).

pub mod config;
pub mod spool;

/// The schema version of the measurements this probe writes.
pub const WRITES_SCHEMA: u32 = vigil_measurement::SCHEMA_VERSION;
