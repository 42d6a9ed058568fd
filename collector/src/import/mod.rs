//! Third-party data the classifier can use, and the replay that judges the classifier on it.

pub mod replay;
pub mod ripe_atlas;
