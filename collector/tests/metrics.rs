//! `GET /metrics`: the counters move as the collector works (the hickory-dns style of asserting metrics).

mod common;

use common::{TestCollector, batch, line};

/// The value of the first sample of `name` carrying every `label="value"` given.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .find(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// `GET /metrics` as Prometheus's text format.
async fn scrape(c: &TestCollector) -> String {
    let resp = c.client.get(c.url("/metrics")).send().await.expect("scrape");
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("text/plain"), "{ct}");
    resp.text().await.expect("text")
}

#[tokio::test]
async fn ingest_counters_latencies_and_probes_reporting_move_as_batches_arrive() {
    let c = TestCollector::start().await;
    let (_, token) = c.add_probe("p1").await;
    let scrape = || scrape(&c);
    let before = scrape().await;
    assert_eq!(sample(&before, "vigil_measurements_stored_total", &[]), Some(0.0));

    let (_, body) = batch(12);
    assert_eq!(c.post(Some(&token), None, body.clone()).await.status, 200);
    assert_eq!(c.post(Some(&token), None, body).await.status, 200);
    let (_, good) = line("tcp");
    let bad = format!("{good}\n{}\n", good.replace(r#""kind":"tcp""#, r#""kind":"smtp""#));
    assert_eq!(c.post(Some(&token), None, bad.into_bytes()).await.status, 400);
    assert_eq!(c.post(Some("vgl_nobody"), None, b"{}".to_vec()).await.status, 401);

    let text = scrape().await;
    assert_eq!(sample(&text, "vigil_measurements_stored_total", &[]), Some(12.0));
    assert_eq!(sample(&text, "vigil_measurements_duplicate_total", &[]), Some(12.0));
    for kind in ["dns", "http", "tcp", "icmp", "trace", "vitals"] {
        assert_eq!(
            sample(
                &text,
                "vigil_measurements_received_total",
                &[("kind", kind), ("outcome", "ok")]
            ),
            Some(4.0),
            "{kind}"
        );
    }
    assert_eq!(
        sample(&text, "vigil_batches_rejected_total", &[("reason", "invalid_line")]),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "vigil_batches_rejected_total", &[("reason", "unauthorized")]),
        Some(1.0)
    );
    assert_eq!(sample(&text, "vigil_ingest_seconds_count", &[]), Some(2.0));
    assert!(sample(&text, "vigil_store_write_seconds_count", &[]).is_some_and(|n| n >= 1.0));
    assert_eq!(sample(&text, "vigil_measurement_age_seconds_count", &[]), Some(24.0));
    assert_eq!(
        sample(&text, "vigil_answer_seconds_count", &[("class", "client_error")]),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            "vigil_probes_reporting",
            &[("country", "IR"), ("asn", "44244"), ("access", "fixed")]
        ),
        Some(1.0)
    );
    // Bounded labels: no probe ids, tokens or URLs in any label.
    assert!(!text.contains("prb-") && !text.contains("vgl_") && !text.contains("example.org"));
    c.stop().await;
}

#[tokio::test]
async fn per_probe_series_appear_only_when_asked_for_and_carry_pseudonymous_ids() {
    let mut config = vigil_collector::CollectorConfig::default();
    config.metrics.per_probe = true;
    let c = TestCollector::start_with(config).await;
    let (probe_id, token) = c.add_probe("volunteer-label").await;
    c.add_probe("never-uploads").await;
    let before = chrono::Utc::now().timestamp();
    assert_eq!(c.post(Some(&token), None, batch(3).1).await.status, 200);
    let text = scrape(&c).await;
    let seen = sample(
        &text,
        "vigil_probe_last_seen_timestamp_seconds",
        &[("probe_id", probe_id.as_str())],
    )
    .expect("the uploading probe has a series");
    assert!(seen >= before as f64 - 1.0, "{seen} vs {before}");
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("vigil_probe_last_seen_timestamp_seconds{"))
            .count(),
        1,
        "a probe that never uploaded has no series"
    );
    assert!(!text.contains("volunteer-label"), "operator labels stay private");
    c.stop().await;

    // Off by default.
    let c = TestCollector::start().await;
    let (_, token) = c.add_probe("p").await;
    assert_eq!(c.post(Some(&token), None, batch(3).1).await.status, 200);
    assert!(!scrape(&c).await.contains("vigil_probe_last_seen_timestamp_seconds"));
    c.stop().await;
}
