//! The Vigil probe. This crate is a skeleton until the probe issue lands: it fixes the crate boundary
//! (`measurement` ← `probe`) and the binary's name; the checks, spool and uploader come next.

/// The schema version of the measurements this probe writes.
pub const WRITES_SCHEMA: u32 = vigil_measurement::SCHEMA_VERSION;
