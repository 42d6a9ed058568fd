//! Ingest: from an HTTP body to durably stored measurements.
//!
//! `pipeline` runs one upload through every step below and says why it refused one; `body` decodes (bounded
//! decompression), `batch` parses and validates all-or-nothing, `client_address` keeps the address a probe
//! connects from out of storage, `queue` admits a bounded number of batches and commits them in groups through
//! the store, `limits` holds each probe to its quotas, `asn_table` names the network an upload arrived from and
//! `off_network` reports uploads over a probe's line from another network than the registered one.

mod asn_table;
mod batch;
mod body;
mod client_address;
mod limits;
mod off_network;
mod pipeline;
mod queue;

pub use asn_table::{AsnTable, AsnTableError};
pub use batch::{BatchError, BatchLimits, parse_batch, parse_signed_batch};
pub use body::{BodyError, ContentEncoding, decode_body};
pub use client_address::{client_address, line_mentioning};
pub use limits::{Exceeded, ProbeLimits};
pub use pipeline::{IngestError, IngestPipeline};
pub use queue::{IngestQueue, SubmitError};
