//! Third-party data the classifier can use.

pub mod ripe_atlas;
