//! Presence logs of third-party pseudo-probes (RIPE Atlas connection logs): the spans they cover and the
//! sessions in them.

use super::StoreError;
use crate::model::{PresenceLog, PresenceSession, PresenceSpan};

/// Stores and reads presence logs.
#[async_trait::async_trait]
pub trait PresenceStore: Send + Sync {
    /// Records a connection log of pseudo-probes: the span it covers and its sessions; a session already stored
    /// (same probe and start) is updated (an open session may have closed since), a span already stored is kept
    /// once. Returns the sessions written.
    async fn save_presence(&self, span: PresenceSpan, sessions: Vec<PresenceSession>) -> Result<usize, StoreError>;

    /// The spans and sessions of presence logs overlapping `[from_ms, to_ms)`.
    async fn presence(&self, from_ms: i64, to_ms: i64) -> Result<PresenceLog, StoreError>;
}
