//! Webhook alerts: every event transition (opened, revised, closed, retracted) POSTed as JSON to the configured
//! URLs, in order per webhook, retried with jittered exponential backoff until the receiver answers 2xx.
//!
//! Deliveries go through an outbox in the store (`webhook_outbox`, both backends): a run's transitions are queued
//! before its events are saved, each delivery is taken off the queue only after a 2xx, and its attempts and next
//! try are stored, so a restart — even a crash mid-delivery — loses no alert and keeps the order. Delivery is *at
//! least once*: each carries a stable `X-Vigil-Delivery` id (also in the body), the same for the same transition
//! after a restart, so a receiver whose answer was lost drops the repeat. The queue is bounded per webhook
//! (`[notify] outbox_max_per_hook`): past it the oldest deliveries are dropped, and that is logged as an error.
//!
//! Every body carries the event as the API shows it and its `publication` — the one rule every channel follows
//! (`review::publication`): a shutdown nobody has reviewed is `suspected`.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Notify;

use crate::analysis::Transition;
use crate::store::{OutboxEntry, Store, StoreError};

/// `[[notify.webhook]]`: where to POST transitions, and which.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The receiver.
    pub url: String,
    /// Only events in these countries (all when empty).
    #[serde(default)]
    pub countries: Vec<String>,
    /// Only these classes (all when empty).
    #[serde(default)]
    pub classes: Vec<String>,
    /// Attempts per delivery before it is given up (logged).
    #[serde(default = "default_attempts")]
    pub max_attempts: usize,
    /// Longest wait between attempts, seconds.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_secs: u64,
}

fn default_attempts() -> usize {
    12
}

fn default_max_backoff() -> u64 {
    300
}

fn default_outbox_max() -> usize {
    10_000
}

/// `[notify]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Webhooks.
    #[serde(default)]
    pub webhook: Vec<WebhookConfig>,
    /// Deliveries kept queued per webhook at most; past it the oldest are dropped (an error in the log).
    #[serde(default = "default_outbox_max")]
    pub outbox_max_per_hook: usize,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            webhook: Vec::new(),
            outbox_max_per_hook: default_outbox_max(),
        }
    }
}

impl WebhookConfig {
    fn wants(&self, t: &Transition) -> bool {
        let country = t.event.scope.country.as_deref().unwrap_or_default();
        (self.countries.is_empty() || self.countries.iter().any(|c| c.eq_ignore_ascii_case(country)))
            && (self.classes.is_empty() || self.classes.iter().any(|c| c == t.event.class.as_str()))
    }
}

/// Queues transitions in the store's outbox and runs one delivery task per webhook over it.
#[derive(Clone)]
pub struct Notifier {
    store: Arc<dyn Store>,
    hooks: Arc<Vec<(WebhookConfig, Arc<Notify>)>>,
    max_per_hook: usize,
}

/// A delivery attempt failed (and may be retried).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct DeliveryError(String);

/// How often an idle delivery task looks at the outbox without being woken (a delivery queued by another
/// process, a store that was down).
const IDLE_POLL: Duration = Duration::from_secs(5);

impl Notifier {
    /// Starts a delivery task per configured webhook, over what the outbox already holds (deliveries left by a
    /// previous run are sent first, in order).
    pub fn start(config: &NotifyConfig, store: Arc<dyn Store>) -> Self {
        let client = client();
        let hooks: Vec<(WebhookConfig, Arc<Notify>)> = config
            .webhook
            .iter()
            .map(|hook| (hook.clone(), Arc::new(Notify::new())))
            .collect();
        for (hook, wake) in &hooks {
            tokio::spawn(deliver_queue(
                client.clone(),
                Arc::clone(&store),
                hook.clone(),
                Arc::clone(wake),
            ));
        }
        Notifier {
            store,
            hooks: Arc::new(hooks),
            max_per_hook: config.outbox_max_per_hook.max(1),
        }
    }

    /// Whether any webhook is configured.
    pub fn is_enabled(&self) -> bool {
        !self.hooks.is_empty()
    }

    /// Queues a run's transitions, durably, for every webhook that wants them, then wakes their tasks.
    pub async fn enqueue(&self, transitions: &[Transition]) -> Result<(), StoreError> {
        let queued_us = chrono::Utc::now().timestamp_micros();
        let mut entries = Vec::new();
        for (hook, _) in self.hooks.iter() {
            for (n, t) in transitions.iter().filter(|t| hook.wants(t)).enumerate() {
                entries.push(OutboxEntry {
                    hook: hook.url.clone(),
                    delivery: t.delivery_id(),
                    seq: queued_us.saturating_add(i64::try_from(n).unwrap_or(i64::MAX)),
                    body: body(t).to_string(),
                    attempts: 0,
                    next_attempt_ms: 0,
                });
            }
        }
        if entries.is_empty() {
            return Ok(());
        }
        let dropped = self.store.outbox_push(entries, self.max_per_hook).await?;
        if dropped > 0 {
            tracing::error!(
                dropped,
                max = self.max_per_hook,
                "webhook outbox full: the oldest undelivered alerts were dropped"
            );
        }
        for (_, wake) in self.hooks.iter() {
            wake.notify_one();
        }
        Ok(())
    }
}

/// The JSON POSTed for a transition.
fn body(t: &Transition) -> serde_json::Value {
    serde_json::json!({
        "delivery": t.delivery_id(),
        "change": t.change.as_str(),
        "event": t.event,
        // The publication rule every channel follows: a shutdown is `suspected` until a person confirms it.
        "publication": crate::review::publication(&t.event, None),
        "review_required": crate::review::requires_review(t.event.class),
    })
}

fn client() -> reqwest::Client {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.with_root_certificates(rustls::RootCertStore::from_iter(
                webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
            ))
            .with_no_client_auth()
        });
    let builder = reqwest::Client::builder().timeout(Duration::from_secs(15)).no_proxy();
    let builder = match tls {
        Ok(tls) => builder.tls_backend_preconfigured(tls),
        Err(err) => {
            tracing::error!(error = %err, "webhooks: no TLS configuration; https receivers will fail");
            builder
        }
    };
    builder.build().unwrap_or_else(|err| {
        tracing::error!(error = %err, "webhooks: client setup failed");
        reqwest::Client::new()
    })
}

/// The wait before attempt `attempts + 1`: exponential from 0.5 s, capped at `max_backoff_secs`, with jitter
/// (a random point in the upper half), so receivers coming back are not hit by every collector at once.
fn backoff(attempts: u32, max_backoff_secs: u64) -> Duration {
    let cap = Duration::from_secs(max_backoff_secs.max(1));
    let full = Duration::from_millis(500)
        .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(20)))
        .min(cap);
    full / 2 + full.mul_f64(fastrand::f64() / 2.0)
}

/// One webhook's delivery task: sends the head of its queue until the receiver takes it, then the next.
async fn deliver_queue(client: reqwest::Client, store: Arc<dyn Store>, hook: WebhookConfig, wake: Arc<Notify>) {
    loop {
        let head = match store.outbox_pending(&hook.url, 1).await {
            Ok(mut rows) => rows.pop(),
            Err(err) => {
                tracing::warn!(url = %hook.url, error = %err, "webhook: outbox unreadable; trying again");
                let _ = tokio::time::timeout(IDLE_POLL, wake.notified()).await;
                continue;
            }
        };
        let Some(entry) = head else {
            let _ = tokio::time::timeout(IDLE_POLL, wake.notified()).await;
            continue;
        };
        let wait_ms = entry.next_attempt_ms - chrono::Utc::now().timestamp_millis();
        if wait_ms > 0 {
            tokio::time::sleep(Duration::from_millis(wait_ms.unsigned_abs())).await;
        }
        let result = match attempt(&client, &hook, &entry).await {
            Ok(()) => {
                tracing::info!(url = %hook.url, delivery = %entry.delivery, "webhook delivered");
                store.outbox_finish(&hook.url, &entry.delivery).await
            }
            Err(err) => {
                let attempts = entry.attempts.saturating_add(1);
                if usize::try_from(attempts).unwrap_or(usize::MAX) >= hook.max_attempts.max(1) {
                    tracing::error!(url = %hook.url, delivery = %entry.delivery, error = %err, attempts, "webhook: gave up");
                    store.outbox_finish(&hook.url, &entry.delivery).await
                } else {
                    let wait = backoff(attempts, hook.max_backoff_secs);
                    tracing::warn!(url = %hook.url, delivery = %entry.delivery, error = %err,
                        wait_ms = wait.as_millis() as u64, "webhook: retrying");
                    let next = chrono::Utc::now().timestamp_millis() + i64::try_from(wait.as_millis()).unwrap_or(0);
                    store.outbox_retry_at(&hook.url, &entry.delivery, attempts, next).await
                }
            }
        };
        if let Err(err) = result {
            tracing::warn!(url = %hook.url, error = %err, "webhook: could not record the attempt; trying again");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// POSTs one queued delivery once.
async fn attempt(client: &reqwest::Client, hook: &WebhookConfig, entry: &OutboxEntry) -> Result<(), DeliveryError> {
    let response = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("x-vigil-delivery", &entry.delivery)
        .body(entry.body.clone())
        .send()
        .await
        .map_err(|e| DeliveryError(e.to_string()))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(DeliveryError(format!("answered {}", response.status())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter_in_the_upper_half() {
        for attempts in 1..30 {
            let wait = backoff(attempts, 300);
            let full = Duration::from_millis(500)
                .saturating_mul(2u32.saturating_pow((attempts - 1).min(20)))
                .min(Duration::from_secs(300));
            assert!(wait >= full / 2 && wait <= full, "{attempts}: {wait:?} vs {full:?}");
        }
    }
}
