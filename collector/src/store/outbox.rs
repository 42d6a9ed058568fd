//! The webhook outbox: deliveries kept until the receiver acknowledges them, so a restart loses no alert.

use super::StoreError;

/// A durable queue of webhook deliveries per hook.
#[async_trait::async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues webhook deliveries, durably. A delivery already queued, delivered or dropped (same hook and id) is
    /// not queued again. When a hook's queue would hold more than `max_per_hook`, its oldest deliveries are
    /// dropped; returns how many were.
    async fn outbox_push(&self, entries: Vec<OutboxEntry>, max_per_hook: usize) -> Result<usize, StoreError>;

    /// The first `limit` deliveries still queued for `hook`, in queue order.
    async fn outbox_pending(&self, hook: &str, limit: usize) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Records a failed attempt of a queued delivery and when to try it next.
    async fn outbox_retry_at(
        &self,
        hook: &str,
        delivery: &str,
        attempts: u32,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError>;

    /// Takes a delivery off the queue (delivered, or given up); its id stays known, so it is not queued again.
    async fn outbox_finish(&self, hook: &str, delivery: &str) -> Result<(), StoreError>;
}

/// One webhook delivery waiting in the outbox (`webhook_outbox`): kept in the store until the receiver answers
/// 2xx, so a restart loses no alert (at least once; the receiver drops a repeat by `delivery`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The webhook's URL (each webhook has its own queue, delivered in order).
    pub hook: String,
    /// The stable delivery id (`X-Vigil-Delivery`): the same transition always has the same id.
    pub delivery: String,
    /// Order within the hook's queue (epoch microseconds when queued, then the transition's place in its run).
    pub seq: i64,
    /// The JSON body to POST.
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before this time (epoch milliseconds): the backoff after a failed attempt.
    pub next_attempt_ms: i64,
}
