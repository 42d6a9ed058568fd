//! A real Prometheus server (Debian's `prometheus`) scrapes the collector's `/metrics` on loopback, and its
//! query API returns what the collector counted.

mod common;

use std::time::{Duration, Instant};

use common::prometheus::Prometheus;
use common::{TestCollector, batch};

#[tokio::test]
async fn prometheus_scrapes_the_collector_and_sees_its_counters() {
    let c = TestCollector::start().await;
    let (_, token) = c.add_probe("p1").await;
    assert_eq!(c.post(Some(&token), None, batch(12).1).await.status, 200);

    let prometheus = Prometheus::scraping(c.addr);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stored = prometheus.value(&c.client, "vigil_measurements_stored_total").await;
        if stored.as_deref() == Some("12") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never saw the collector's counters (last: {stored:?})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        prometheus.value(&c.client, "up{job=\"vigil\"}").await.as_deref(),
        Some("1")
    );
    assert_eq!(
        prometheus
            .value(&c.client, "sum(vigil_measurements_received_total{outcome=\"ok\"})")
            .await
            .as_deref(),
        Some("12")
    );
    c.stop().await;
}
