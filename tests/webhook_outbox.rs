//! Webhook alerts survive a crash: the real `vigil-collector serve` queues a run's transitions in its store's
//! outbox; it is SIGKILLed while its first delivery is in flight (the receiver holds the request open); started
//! again on the same store, it delivers that alert again with the same delivery id, then the rest, in order —
//! at least once, nothing lost. Loopback only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vigil_collector::{ConfidenceLevel, DisruptionEvent, EventClass, EventScope};
use vigil_collector::{StoreSpec, open_store};
use vigil_lab::{CollectorProcess, wait_until};

/// What the receiver saw: (delivery id, answered 2xx, body).
type Seen = Arc<Mutex<Vec<(String, bool, serde_json::Value)>>>;

/// A webhook receiver on loopback. While `hold` is set it reads a request and never answers (a delivery in
/// flight when the collector dies); otherwise it answers 204.
fn receiver(hold: Arc<AtomicBool>) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (hold, record) = (Arc::clone(&hold), Arc::clone(&record));
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let (mut delivery, mut length) = (String::new(), 0usize);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        match name.to_ascii_lowercase().as_str() {
                            "x-vigil-delivery" => delivery = value.trim().to_owned(),
                            "content-length" => length = value.trim().parse().unwrap_or(0),
                            _ => {}
                        }
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                let held = hold.load(Ordering::SeqCst);
                record.lock().expect("lock").push((delivery, !held, json));
                if held {
                    // Keep the connection open, unanswered, until the collector is gone.
                    std::thread::sleep(Duration::from_secs(120));
                    return;
                }
                let mut stream = stream;
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            });
        }
    });
    (url, seen)
}

fn event(id: &str, class: EventClass, started_at: i64) -> DisruptionEvent {
    DisruptionEvent {
        id: id.to_owned(),
        class,
        scope: EventScope {
            level: "country".to_owned(),
            country: Some("XL".to_owned()),
            ..EventScope::default()
        },
        started_at,
        ended_at: None,
        confidence: 0.4,
        confidence_level: ConfidenceLevel::Low,
        affected_probes: 3,
        probes_in_scope: 4,
        evidence: Vec::new(),
        scores: Default::default(),
        targets: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_in_flight_when_the_collector_is_killed_is_delivered_after_the_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Three saved events the classifier will not find again (no probe reports): its first run retracts them, three
    // transitions for the webhook.
    let now = chrono::Utc::now().timestamp();
    let store = open_store(&StoreSpec::Sqlite(dir.path().join("vigil.db")))
        .await
        .expect("opens");
    let saved = vec![
        event("evt-a", EventClass::Shutdown, now - 300),
        event("evt-b", EventClass::PowerOutage, now - 200),
        event("evt-c", EventClass::Unknown, now - 100),
    ];
    store.save_events(now - 600, now, saved).await.expect("saves");
    drop(store);

    let hold = Arc::new(AtomicBool::new(true));
    let (url, seen) = receiver(Arc::clone(&hold));
    let config = dir.path().join("collector.toml");
    std::fs::write(
        &config,
        format!(
            "bucket_secs = 2\n[classifier]\ninterval_secs = 1\nwindow_secs = 3600\nsettle_secs = 0\n\
             [[notify.webhook]]\nurl = \"{url}\"\nmax_attempts = 50\nmax_backoff_secs = 1\n"
        ),
    )
    .expect("config");
    let mut collector = CollectorProcess::start_with_config(dir.path(), 0, Some(&config));
    assert!(
        wait_until(Duration::from_secs(30), || !seen.lock().expect("lock").is_empty()),
        "no delivery reached the receiver"
    );
    let in_flight = seen.lock().expect("lock")[0].0.clone();
    collector.kill();

    // Still queued in the store: nothing was acknowledged.
    let store = open_store(&StoreSpec::Sqlite(dir.path().join("vigil.db")))
        .await
        .expect("opens");
    let queued: Vec<String> = store
        .outbox_pending(&url, 10)
        .await
        .expect("reads the outbox")
        .into_iter()
        .map(|e| e.delivery)
        .collect();
    assert_eq!(queued.len(), 3, "{queued:?}");
    assert_eq!(queued[0], in_flight, "the unanswered delivery heads the queue");
    drop(store);

    hold.store(false, Ordering::SeqCst);
    let _collector = CollectorProcess::start_with_config(dir.path(), 0, Some(&config));
    let answered = || {
        seen.lock()
            .expect("lock")
            .iter()
            .filter(|(_, ok, _)| *ok)
            .map(|(id, _, _)| id.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        wait_until(Duration::from_secs(60), || answered().len() >= 3),
        "after the restart only {:?} were delivered",
        answered()
    );
    assert_eq!(answered(), queued, "every queued alert delivered once, in queue order");
    let seen = seen.lock().expect("lock");
    assert_eq!(
        seen.iter().filter(|(id, _, _)| *id == in_flight).count(),
        2,
        "the alert in flight was sent again, under the same id (at least once)"
    );
    for (_, _, body) in seen.iter() {
        assert_eq!(body["change"], "retracted", "{body}");
        let publication = body["publication"]["status"].as_str().unwrap_or_default();
        if body["event"]["class"] == "shutdown" {
            assert_eq!(
                publication, "suspected",
                "an unreviewed shutdown is published as suspected: {body}"
            );
        } else {
            assert_eq!(publication, "published", "{body}");
        }
    }
}
