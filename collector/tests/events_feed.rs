//! Alerts: the Atom feed of events, read by a feed reader no one here wrote (Python's feedparser) and checked for
//! RFC 4287's required elements; webhook deliveries.

mod common;

use chrono::Utc;
use vigil_collector::{ConfidenceLevel, DisruptionEvent, EventClass, EventScope, Evidence};

use common::TestCollector;

fn event(id: &str, class: EventClass, country: &str, ended: bool) -> DisruptionEvent {
    let start = Utc::now().timestamp() - 1800;
    DisruptionEvent {
        id: id.to_owned(),
        class,
        scope: EventScope {
            level: "country".to_owned(),
            country: Some(country.to_owned()),
            ..EventScope::default()
        },
        started_at: start,
        ended_at: ended.then_some(start + 600),
        confidence: 0.9,
        confidence_level: ConfidenceLevel::High,
        affected_probes: 9,
        probes_in_scope: 10,
        evidence: vec![Evidence {
            family: "path".to_owned(),
            text: "domestic anchors answered, international anchors did not & <nothing> else".to_owned(),
            points: 3,
        }],
        scores: Default::default(),
        targets: Vec::new(),
    }
}

/// The feed as a real feed reader (Python's feedparser) sees it, after checking RFC 4287's required elements
/// (`support/atom_check.py`): (feed id, [(entry id, title, summary, categories)]).
fn parse_atom(xml: &str) -> serde_json::Value {
    use std::io::Write;
    let python = common::python::with_module("feedparser");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/atom_check.py");
    let mut child = std::process::Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(xml.as_bytes())
        .expect("writes");
    let out = child.wait_with_output().expect("python finishes");
    assert!(
        out.status.success(),
        "not a valid Atom feed:\n{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[tokio::test]
async fn the_atom_feed_lists_current_events_filtered_and_valid() {
    let c = TestCollector::start().await;
    let (from, to) = (Utc::now().timestamp() - 7200, Utc::now().timestamp() + 60);
    c.store
        .save_events(
            from,
            to,
            vec![
                event("evt-xl-shutdown", EventClass::Shutdown, "XL", true),
                event("evt-xl-censor", EventClass::Censorship, "XL", false),
                event("evt-xf-power", EventClass::PowerOutage, "XF", false),
            ],
        )
        .await
        .expect("saves");
    let fetch = |query: &'static str| {
        let client = c.client.clone();
        let url = c.url(&format!("/api/v1/events.atom{query}"));
        async move {
            let resp = client.get(url).send().await.expect("answers");
            assert_eq!(resp.status(), 200);
            assert!(
                resp.headers()["content-type"]
                    .to_str()
                    .is_ok_and(|t| t.starts_with("application/atom+xml"))
            );
            resp.text().await.expect("body")
        }
    };
    let all = parse_atom(&fetch("").await);
    assert_eq!(all["entries"].as_array().map(Vec::len), Some(3));
    let xl = parse_atom(&fetch("?country=xl").await);
    let ids: Vec<&str> = xl["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"urn:vigil:event:evt-xl-shutdown") && ids.contains(&"urn:vigil:event:evt-xl-censor"));
    let shutdown = xl["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["id"] == "urn:vigil:event:evt-xl-shutdown")
        .expect("the shutdown");
    // A shutdown is published as one only once a person has confirmed it.
    assert_eq!(shutdown["title"], "suspected shutdown (awaiting review): XL");
    assert!(
        shutdown["summary"]
            .as_str()
            .is_some_and(|s| s.contains("Not yet reviewed"))
    );
    assert!(
        shutdown["summary"]
            .as_str()
            .is_some_and(|s| s.contains("international anchors did not & <nothing> else")),
        "text is escaped, not broken: {shutdown}"
    );
    assert_eq!(shutdown["categories"], serde_json::json!(["shutdown", "XL"]));
    let censorship = parse_atom(&fetch("?class=censorship").await);
    assert_eq!(censorship["entries"].as_array().map(Vec::len), Some(1));
    assert_eq!(censorship["entries"][0]["title"], "censorship: XL", "no review needed");

    vigil_collector::record_review(
        c.store.as_ref(),
        "evt-xl-shutdown",
        vigil_collector::ReviewVerdict::Confirmed,
        "duty editor",
        "routes withdrawn; ISPs confirm the order",
    )
    .await
    .expect("reviewed");
    let reviewed = parse_atom(&fetch("?class=shutdown").await);
    let entry = &reviewed["entries"][0];
    assert_eq!(entry["title"], "shutdown: XL");
    assert!(
        entry["summary"]
            .as_str()
            .is_some_and(|s| s.contains("Review: confirmed by duty editor (routes withdrawn; ISPs confirm the order)")),
        "{entry}"
    );
    assert!(
        entry["updated"].as_str() > shutdown["updated"].as_str(),
        "the review moves the entry's update time, so readers see it"
    );
}

/// A webhook receiver that refuses the first attempt of every delivery, and records what it accepted.
async fn flaky_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>) {
    use axum::http::{HeaderMap, StatusCode};
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::<String>::new()));
    let (acc, seen2) = (accepted.clone(), seen.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (acc, seen) = (acc.clone(), seen2.clone());
            async move {
                let delivery = headers
                    .get("x-vigil-delivery")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                if seen.lock().expect("lock").insert(delivery.clone()) {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let json: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
                assert_eq!(json["delivery"], delivery.as_str());
                assert_eq!(
                    json["review_required"].as_bool(),
                    Some(json["event"]["class"] == "shutdown"),
                    "shutdown calls are flagged for review: {json}"
                );
                // One publication rule for every channel: an unreviewed shutdown is only suspected.
                let expected = if json["event"]["class"] == "shutdown" {
                    ("suspected", "suspected shutdown (awaiting review)")
                } else {
                    ("published", json["event"]["class"].as_str().unwrap_or_default())
                };
                assert_eq!(
                    (
                        json["publication"]["status"].as_str().unwrap_or_default(),
                        json["publication"]["label"].as_str().unwrap_or_default()
                    ),
                    expected,
                    "{json}"
                );
                acc.lock().expect("lock").push((
                    json["event"]["id"].as_str().unwrap_or_default().to_owned(),
                    json["change"].as_str().unwrap_or_default().to_owned(),
                ));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), accepted)
}

#[tokio::test]
async fn each_transition_reaches_the_webhook_once_in_order_despite_a_failed_first_try() {
    use vigil_collector::transitions;
    use vigil_collector::{Notifier, NotifyConfig, WebhookConfig};
    let (url, accepted) = flaky_receiver().await;
    let hook = |url: &str, classes: Vec<String>| WebhookConfig {
        url: url.to_owned(),
        countries: vec!["XL".to_owned()],
        classes,
        max_attempts: 5,
        max_backoff_secs: 1,
    };
    let c = TestCollector::start().await;
    let notifier = Notifier::start(
        &NotifyConfig {
            webhook: vec![hook(&url, Vec::new())],
            ..NotifyConfig::default()
        },
        c.store.clone(),
    );
    // Three runs: a cut opens as unknown; late data makes it a shutdown; it ends. An event elsewhere is not ours.
    let unknown = event("evt-cut", EventClass::Unknown, "XL", false);
    let shutdown = event("evt-cut", EventClass::Shutdown, "XL", false);
    let over = event("evt-cut", EventClass::Shutdown, "XL", true);
    let elsewhere = event("evt-far", EventClass::PowerOutage, "XF", false);
    let runs = [
        transitions(&[], &[unknown.clone(), elsewhere.clone()], 0),
        transitions(&[unknown, elsewhere.clone()], &[shutdown.clone(), elsewhere.clone()], 0),
        transitions(&[shutdown, elsewhere.clone()], &[over, elsewhere], 0),
    ];
    for run in &runs {
        notifier.enqueue(run).await.expect("queued in the store");
    }
    let expected = vec![
        ("evt-cut".to_owned(), "opened".to_owned()),
        ("evt-cut".to_owned(), "revised".to_owned()),
        ("evt-cut".to_owned(), "closed".to_owned()),
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while accepted.lock().expect("lock").len() < expected.len() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        *accepted.lock().expect("lock"),
        expected,
        "each transition once, in order, XL only"
    );
}
