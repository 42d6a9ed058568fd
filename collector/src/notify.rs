//! Webhook alerts: every event transition (opened, revised, closed, retracted) POSTed as JSON to the configured
//! URLs, in order per webhook, retried with jittered exponential backoff until the receiver answers 2xx. Each
//! delivery carries a stable `X-Vigil-Delivery` id (also in the body), so a receiver that answered but whose
//! answer was lost can drop the repeat.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::classify::run::Transition;

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

/// `[notify]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Webhooks.
    #[serde(default)]
    pub webhook: Vec<WebhookConfig>,
}

impl WebhookConfig {
    fn wants(&self, t: &Transition) -> bool {
        let country = t.event.scope.country.as_deref().unwrap_or_default();
        (self.countries.is_empty() || self.countries.iter().any(|c| c.eq_ignore_ascii_case(country)))
            && (self.classes.is_empty() || self.classes.iter().any(|c| c == t.event.class.as_str()))
    }
}

/// Hands transitions to one delivery task per webhook.
#[derive(Clone)]
pub struct Notifier {
    hooks: Arc<Vec<(WebhookConfig, mpsc::UnboundedSender<Transition>)>>,
}

/// A delivery failed (and may be retried).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct DeliveryError(String);

impl Notifier {
    /// Starts a delivery task per configured webhook.
    pub fn start(config: &NotifyConfig) -> Self {
        let client = client();
        let hooks = config
            .webhook
            .iter()
            .map(|hook| {
                let (tx, mut rx) = mpsc::unbounded_channel::<Transition>();
                let (hook_task, client) = (hook.clone(), client.clone());
                tokio::spawn(async move {
                    while let Some(t) = rx.recv().await {
                        deliver(&client, &hook_task, &t).await;
                    }
                });
                (hook.clone(), tx)
            })
            .collect();
        Notifier { hooks: Arc::new(hooks) }
    }

    /// Queues a run's transitions for every webhook that wants them.
    pub fn send(&self, transitions: &[Transition]) {
        for (hook, tx) in self.hooks.iter() {
            for t in transitions.iter().filter(|t| hook.wants(t)) {
                let _ = tx.send(t.clone());
            }
        }
    }
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

/// POSTs one transition until the receiver takes it or the attempts run out.
async fn deliver(client: &reqwest::Client, hook: &WebhookConfig, t: &Transition) {
    let delivery = t.delivery_id();
    let body = serde_json::json!({
        "delivery": delivery,
        "change": t.change.as_str(),
        "event": t.event,
        // A shutdown call is published only after a person confirms it (`vigil-collector review`).
        "review_required": crate::review::requires_review(t.event.class),
    });
    let attempt = || async {
        let response = client
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("x-vigil-delivery", &delivery)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| DeliveryError(e.to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(DeliveryError(format!("answered {}", response.status())))
        }
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(hook.max_backoff_secs.max(1)))
        .with_max_times(hook.max_attempts.saturating_sub(1))
        .with_jitter();
    let result = attempt
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .notify(|err, wait| {
            tracing::warn!(url = %hook.url, %delivery, error = %err, wait_ms = wait.as_millis() as u64, "webhook: retrying");
        })
        .await;
    match result {
        Ok(()) => tracing::info!(url = %hook.url, %delivery, "webhook delivered"),
        Err(err) => tracing::error!(url = %hook.url, %delivery, error = %err, "webhook: gave up"),
    }
}
