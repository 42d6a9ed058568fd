//! Vigil's wire format, schema 1: the envelope every probe sends and the collector reads (DESIGN.md §2).
//!
//! Pure data and checks, no I/O. A line is read with [`Measurement::from_json_slice`] (shape and schema
//! version), then checked with [`validate`] (values, sizes, time).
//!
//! ```
//! use vigil_measurement::{Measurement, Limits, validate, Kind};
//!
//! let line = br#"{"schema":1,"id":"0192f3c4-7a1e-7cc0-9a7b-3f1d2e4c5b6a","kind":"tcp",
//!   "started_at":"2026-11-23T10:00:00.123Z","duration_ms":12.5,
//!   "target":{"name":"example.org","scope":"international","list":"anchors"},
//!   "result":{"outcome":"ok","ip":"192.0.2.10","port":443}}"#;
//! let m = Measurement::from_json_slice(line).expect("a schema-1 line");
//! assert_eq!(m.kind(), Kind::Tcp);
//! let now = "2026-11-23T10:00:01Z".parse().expect("a time");
//! validate(&m, now, &Limits::default()).expect("a valid measurement");
//! ```

mod envelope;
mod error;
mod kind;
mod nullable;
mod outcome;
mod own_address;
pub mod result;
mod scrub;
pub mod signature;
mod validate;

pub use envelope::{Clock, Measurement, ObservedNetwork, SCHEMA_VERSION, Scope, Target, Uplink, UplinkAccess};
pub use error::MeasurementError;
pub use kind::{Kind, UnknownKind};
pub use outcome::Outcome;
pub use own_address::mentions_address;
pub use result::MeasurementResult;
pub use scrub::{SCRUBBED, scrub_ip_addresses};
pub use validate::{Limits, validate};
