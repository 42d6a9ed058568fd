//! Running the collector's HTTP server: wire the store, the ingest queue and the API together, serve until told
//! to stop, then drain the queue so every admitted batch is answered.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::api::AppState;
use crate::config::CollectorConfig;
use crate::ingest::{IngestPipeline, IngestQueue};
use crate::store::Store;

/// The server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Accepting or serving connections failed.
    #[error("HTTP server failed: {0}")]
    Http(#[from] std::io::Error),
    /// The ingest writer task died.
    #[error("ingest writer failed: {0}")]
    Writer(String),
    /// Metrics could not be set up.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    /// The TLS certificate or key could not be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The IP-to-ASN table (`[ingest] asn_table`) could not be read.
    #[error(transparent)]
    AsnTable(#[from] crate::ingest::AsnTableError),
}

/// Serves the API on `listener` over `store` until `shutdown` completes, then drains in-flight batches.
pub async fn serve(
    store: Arc<dyn Store>,
    config: &CollectorConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    // The certificate first: a collector that cannot serve what it was told to refuses to start.
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => {
            let source = Arc::new(crate::tls::TlsSource::load(cert, key)?);
            Some((source.reload_on_sighup()?, source))
        }
        _ => None,
    };
    let ingest = &config.ingest;
    let metrics = Arc::new(crate::metrics::CollectorMetrics::new(config.metrics.per_probe)?);
    let (queue, writer) = IngestQueue::start(
        Arc::clone(&store),
        ingest.max_inflight_batches,
        ingest.max_group_measurements,
        Arc::clone(&metrics),
    );
    let store_for_classifier = Arc::clone(&store);
    let limits = Arc::new(crate::ingest::ProbeLimits::new(
        ingest.probe_batches_per_minute,
        ingest.probe_measurements_per_minute,
    ));
    let forget = {
        let limits = Arc::clone(&limits);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(300));
            loop {
                every.tick().await;
                limits.forget_idle();
            }
        })
    };
    let asn_table = match &ingest.asn_table {
        Some(path) => {
            let table = crate::ingest::AsnTable::load(path)?;
            tracing::info!(path = %path.display(), ranges = table.ranges(), "IP-to-ASN table loaded");
            Some(Arc::new(table))
        }
        None => None,
    };
    let ingest = Arc::new(ingest.clone());
    let state = AppState {
        pipeline: IngestPipeline::new(
            Arc::clone(&store),
            queue,
            Arc::clone(&ingest),
            limits,
            Arc::clone(&metrics),
        )
        .with_asn_table(asn_table),
        metrics: Arc::clone(&metrics),
        bucket_secs: i64::try_from(config.bucket_secs).unwrap_or(300),
        store,
        ingest,
    };
    // The API and the status page share one state; neither mounts the other.
    let app = crate::api::routes(config.role.ingests())
        .merge(crate::status::routes())
        .with_state(state);
    let classifier = if config.role.classifies() {
        spawn_classifier(Arc::clone(&store_for_classifier), config, metrics)
    } else {
        None
    };
    tracing::info!(role = ?config.role, "serving");
    let limits = crate::connections::ConnectionLimits {
        max_connections: config.server.max_connections,
        header_timeout: std::time::Duration::from_secs(config.server.header_timeout_secs.max(1)),
        tls: tls.as_ref().map(|(_, source)| Arc::clone(source)),
    };
    let served = crate::connections::serve_connections(listener, app, limits, shutdown).await;
    if let Some((reloader, _)) = tls {
        reloader.abort();
    }
    served?;
    if let Some(task) = classifier {
        task.abort();
    }
    forget.abort();
    // The router (and with it every queue handle) is gone: the writer finishes what is queued, then ends.
    writer.await.map_err(|e| ServeError::Writer(e.to_string()))?;
    tracing::info!("collector stopped; every admitted batch was answered");
    Ok(())
}

/// Re-classifies the recent window every `interval_secs`, so events open, revise and close as data (late data
/// included) arrives.
fn spawn_classifier(
    store: Arc<dyn Store>,
    config: &CollectorConfig,
    metrics: Arc<crate::metrics::CollectorMetrics>,
) -> Option<tokio::task::JoinHandle<()>> {
    let interval = config.classifier.interval_secs;
    if interval == 0 {
        return None;
    }
    let window = chrono::Duration::seconds(i64::try_from(config.classifier.window_secs).unwrap_or(i64::MAX / 2));
    let bucket_secs = i64::try_from(config.bucket_secs).unwrap_or(300).max(1);
    let settle = chrono::Duration::seconds(i64::try_from(config.classifier.settle_secs).unwrap_or(0));
    let notifier = crate::notify::Notifier::start(&config.notify, Arc::clone(&store));
    let classifier_settings = config.classifier.settings();
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(std::time::Duration::from_secs(interval));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let settings = classifier_settings;
        loop {
            ticker.tick().await;
            let to = complete_until(chrono::Utc::now() - settle, bucket_secs);
            let running = std::time::Instant::now();
            let run = classify_and_alert(store.as_ref(), &notifier, to - window, to, bucket_secs, &settings).await;
            metrics.classifier_seconds.observe(running.elapsed().as_secs_f64());
            if let Ok(report) = &run {
                metrics.set_active_events(&report.events);
            }
            match run {
                Ok(report) if report.saved.opened + report.saved.revised + report.saved.retracted > 0 => {
                    tracing::info!(
                        opened = report.saved.opened,
                        revised = report.saved.revised,
                        retracted = report.saved.retracted,
                        "events updated"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::error!(error = %err, "classification run failed"),
            }
        }
    }))
}

/// One classifier run: its transitions are queued in the webhook outbox before its events are saved, so a crash
/// between the two recomputes them (same delivery ids) on the next run rather than losing them.
async fn classify_and_alert(
    store: &dyn Store,
    notifier: &crate::notify::Notifier,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    bucket_secs: i64,
    settings: &crate::classify::ClassifierSettings,
) -> Result<crate::analysis::RunReport, crate::store::StoreError> {
    let plan = crate::analysis::plan_window(store, from, to, bucket_secs, settings).await?;
    if notifier.is_enabled() {
        notifier.enqueue(&plan.transitions).await?;
    }
    crate::analysis::save_plan(store, plan).await
}

/// The end of the last complete bucket at `t`.
fn complete_until(t: chrono::DateTime<chrono::Utc>, bucket_secs: i64) -> chrono::DateTime<chrono::Utc> {
    let end = t.timestamp().div_euclid(bucket_secs) * bucket_secs;
    chrono::DateTime::from_timestamp(end, 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_buckets_are_classified() {
        let t = chrono::DateTime::from_timestamp(1_000_007, 500_000_000).expect("valid");
        assert_eq!(complete_until(t, 10).timestamp(), 1_000_000);
        let edge = chrono::DateTime::from_timestamp(1_000_000, 0).expect("valid");
        assert_eq!(complete_until(edge, 10).timestamp(), 1_000_000);
    }
}
