//! The probe's optional Prometheus metrics (`vigil-probe run --metrics-listen 127.0.0.1:9464`): spool depth and
//! bytes, uploads by result, the last successful upload, and check durations and outcomes by kind. Labels are
//! closed sets (kinds, outcomes, results); no targets or URLs.

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// Every metric the probe exports.
#[derive(Clone)]
pub struct ProbeMetrics {
    registry: Registry,
    /// Records waiting in the spool.
    pub spool_depth: IntGauge,
    /// Line bytes waiting in the spool.
    pub spool_bytes: IntGauge,
    /// Upload rounds by result (`delivered`, `quarantined`, `failed`, `unauthorized`, `held`).
    pub uploads: IntCounterVec,
    /// Records delivered to the collector.
    pub uploaded_records: IntCounter,
    /// Unix time of the last delivered batch.
    pub last_upload_success: Gauge,
    /// Check durations by kind.
    pub check_seconds: HistogramVec,
    /// Check outcomes by kind and outcome.
    pub check_outcomes: IntCounterVec,
    /// 1 while every collector URL refuses the probe's token (uploads back off and retry), else 0.
    pub upload_auth_refused: IntGauge,
    /// Records the collector refused and the spool moved to the quarantine file (ever).
    pub quarantined: IntGauge,
    /// Bytes in the quarantine files (bounded: rotated once past `quarantine_max_kb`).
    pub quarantine_bytes: IntGauge,
    /// Bytes on the wire today, as the data budget counts them.
    pub budget_spent: IntGauge,
}

/// A metric could not be registered (duplicate names: a programming error).
#[derive(Debug, thiserror::Error)]
#[error("metrics registration failed: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

impl ProbeMetrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new_custom(Some("vigil_probe".to_owned()), None)?;
        let m = ProbeMetrics {
            spool_depth: IntGauge::new("spool_depth", "Records waiting in the spool.")?,
            spool_bytes: IntGauge::new("spool_bytes", "Line bytes waiting in the spool.")?,
            uploads: IntCounterVec::new(Opts::new("uploads_total", "Upload rounds by result."), &["result"])?,
            uploaded_records: IntCounter::new("uploaded_records_total", "Records delivered to the collector.")?,
            last_upload_success: Gauge::new(
                "last_upload_success_timestamp_seconds",
                "Unix time of the last delivered batch.",
            )?,
            check_seconds: HistogramVec::new(
                HistogramOpts::new("check_seconds", "Check durations by kind.")
                    .buckets(vec![0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
                &["kind"],
            )?,
            check_outcomes: IntCounterVec::new(
                Opts::new("check_outcomes_total", "Check outcomes by kind and outcome."),
                &["kind", "outcome"],
            )?,
            upload_auth_refused: IntGauge::new(
                "upload_auth_refused",
                "1 while every collector URL refuses the probe's token (uploads back off and retry).",
            )?,
            quarantined: IntGauge::new(
                "quarantined_records",
                "Records the collector refused, moved to the quarantine file (ever).",
            )?,
            quarantine_bytes: IntGauge::new("quarantine_bytes", "Bytes in the quarantine files.")?,
            budget_spent: IntGauge::new(
                "budget_spent_bytes",
                "Bytes on the wire today (UTC), as the data budget counts them.",
            )?,
            registry,
        };
        m.registry.register(Box::new(m.spool_depth.clone()))?;
        m.registry.register(Box::new(m.spool_bytes.clone()))?;
        m.registry.register(Box::new(m.uploads.clone()))?;
        m.registry.register(Box::new(m.uploaded_records.clone()))?;
        m.registry.register(Box::new(m.last_upload_success.clone()))?;
        m.registry.register(Box::new(m.check_seconds.clone()))?;
        m.registry.register(Box::new(m.check_outcomes.clone()))?;
        m.registry.register(Box::new(m.upload_auth_refused.clone()))?;
        m.registry.register(Box::new(m.quarantined.clone()))?;
        m.registry.register(Box::new(m.quarantine_bytes.clone()))?;
        m.registry.register(Box::new(m.budget_spent.clone()))?;
        Ok(m)
    }

    /// Records the checks of a cycle.
    pub fn observe_checks(&self, measurements: &[vigil_measurement::Measurement]) {
        for m in measurements {
            let kind = m.kind().as_str();
            self.check_seconds
                .with_label_values(&[kind])
                .observe(m.duration_ms / 1000.0);
            self.check_outcomes
                .with_label_values(&[kind, m.result.outcome().as_str()])
                .inc();
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Serves `GET /metrics` on `listener` until the task is dropped.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = self.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        metrics.render(),
                    )
                }
            }),
        );
        axum::serve(listener, app).await
    }
}
