//! The collector's Prometheus metrics: one typed struct of handles, registered once in its own registry and
//! served as text at `GET /metrics`. Labels are bounded: kinds, outcomes, reasons and classes are closed sets;
//! country/ASN/access come from the probe registry; no per-URL or per-probe labels.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Every metric the collector exports.
#[derive(Clone)]
pub struct CollectorMetrics {
    registry: Registry,
    /// Measurements in accepted batches, by kind and outcome (retries included).
    pub measurements_received: IntCounterVec,
    /// Measurements newly stored.
    pub measurements_stored: IntCounter,
    /// Measurements already stored (retries).
    pub measurements_duplicate: IntCounter,
    /// Batches refused, by reason code.
    pub batches_rejected: IntCounterVec,
    /// Batches that came over a probe's registered line from another network than the one registered
    /// (`[ingest] asn_table`), by the registered country and ASN: registrations out of date.
    pub batches_off_network: IntCounterVec,
    /// Time from request to answer for accepted batches.
    pub ingest_seconds: Histogram,
    /// How late measurements arrive (receive time minus start time, synced clocks only).
    pub measurement_age_seconds: Histogram,
    /// Store write latency per group commit.
    pub store_write_seconds: Histogram,
    /// Store write failures.
    pub store_write_errors: IntCounter,
    /// Duration of classification runs.
    pub classifier_seconds: Histogram,
    /// Ongoing events, by class and country.
    pub active_events: IntGaugeVec,
    /// Probes that reported within the last two buckets, by country, ASN and access type.
    pub probes_reporting: IntGaugeVec,
    /// Ingest latency by outcome class of the answer (`ok`, `client_error`, `overloaded`, `server_error`).
    pub answers: HistogramVec,
    /// Each probe's last upload, by pseudonymous id; only with `[metrics] per_probe = true`.
    pub probe_last_seen: Option<IntGaugeVec>,
}

/// A metric could not be registered (a programming error: duplicate names).
#[derive(Debug, thiserror::Error)]
#[error("metrics registration failed: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

impl CollectorMetrics {
    /// Creates and registers every metric; `per_probe` adds the one series per probe.
    pub fn new(per_probe: bool) -> Result<Self, MetricsError> {
        let registry = Registry::new_custom(Some("vigil".to_owned()), None)?;
        let seconds = |name: &str, help: &str, buckets: Vec<f64>| {
            Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        };
        let latency = vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
        let age = vec![
            1.0,
            10.0,
            60.0,
            300.0,
            900.0,
            3600.0,
            6.0 * 3600.0,
            86400.0,
            7.0 * 86400.0,
        ];
        let m = CollectorMetrics {
            measurements_received: IntCounterVec::new(
                Opts::new(
                    "measurements_received_total",
                    "Measurements in accepted batches, by kind and outcome.",
                ),
                &["kind", "outcome"],
            )?,
            measurements_stored: IntCounter::new("measurements_stored_total", "Measurements newly stored.")?,
            measurements_duplicate: IntCounter::new(
                "measurements_duplicate_total",
                "Measurements already stored (a retried batch).",
            )?,
            batches_rejected: IntCounterVec::new(
                Opts::new("batches_rejected_total", "Batches refused, by reason."),
                &["reason"],
            )?,
            batches_off_network: IntCounterVec::new(
                Opts::new(
                    "batches_off_network_total",
                    "Batches over a probe's registered line arriving from another network than the registered one, \
                     by registered country and ASN.",
                ),
                &["country", "asn"],
            )?,
            ingest_seconds: seconds(
                "ingest_seconds",
                "Request to answer, accepted batches.",
                latency.clone(),
            )?,
            measurement_age_seconds: seconds(
                "measurement_age_seconds",
                "How late measurements arrive: receive time minus start time (synced clocks).",
                age,
            )?,
            store_write_seconds: seconds(
                "store_write_seconds",
                "Store write latency per group commit.",
                latency.clone(),
            )?,
            store_write_errors: IntCounter::new("store_write_errors_total", "Store write failures.")?,
            classifier_seconds: seconds(
                "classifier_run_seconds",
                "Duration of classification runs.",
                vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
            )?,
            active_events: IntGaugeVec::new(
                Opts::new("active_events", "Ongoing events, by class and country."),
                &["class", "country"],
            )?,
            probes_reporting: IntGaugeVec::new(
                Opts::new("probes_reporting", "Probes that reported within the last two buckets."),
                &["country", "asn", "access"],
            )?,
            answers: HistogramVec::new(
                HistogramOpts::new("answer_seconds", "Ingest answers by class, with latency.").buckets(latency),
                &["class"],
            )?,
            probe_last_seen: per_probe
                .then(|| {
                    IntGaugeVec::new(
                        Opts::new(
                            "probe_last_seen_timestamp_seconds",
                            "Unix time of each probe's last upload (pseudonymous ids).",
                        ),
                        &["probe_id"],
                    )
                })
                .transpose()?,
            registry,
        };
        if let Some(g) = &m.probe_last_seen {
            m.registry.register(Box::new(g.clone()))?;
        }
        m.registry.register(Box::new(m.measurements_received.clone()))?;
        m.registry.register(Box::new(m.measurements_stored.clone()))?;
        m.registry.register(Box::new(m.measurements_duplicate.clone()))?;
        m.registry.register(Box::new(m.batches_rejected.clone()))?;
        m.registry.register(Box::new(m.batches_off_network.clone()))?;
        m.registry.register(Box::new(m.ingest_seconds.clone()))?;
        m.registry.register(Box::new(m.measurement_age_seconds.clone()))?;
        m.registry.register(Box::new(m.store_write_seconds.clone()))?;
        m.registry.register(Box::new(m.store_write_errors.clone()))?;
        m.registry.register(Box::new(m.classifier_seconds.clone()))?;
        m.registry.register(Box::new(m.active_events.clone()))?;
        m.registry.register(Box::new(m.probes_reporting.clone()))?;
        m.registry.register(Box::new(m.answers.clone()))?;
        Ok(m)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Sets the ongoing-event gauges from a classification run.
    pub fn set_active_events(&self, events: &[crate::model::DisruptionEvent]) {
        self.active_events.reset();
        for e in events.iter().filter(|e| e.ended_at.is_none()) {
            self.active_events
                .with_label_values(&[e.class.as_str(), e.scope.country.as_deref().unwrap_or("")])
                .inc();
        }
    }
}
