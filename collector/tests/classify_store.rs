//! The classifier over the real store and HTTP ingest: a national cut first seen as silence is `unknown`; when
//! the probes' spooled data arrives, the next run revises the same event to `shutdown`, and both revisions are
//! kept and served by `GET /api/v1/events`.

mod common;

use chrono::{DateTime, Duration, DurationRound, Utc};
use common::TestCollector;
use vigil_collector::ClassifierSettings;
use vigil_collector::classify_window;
use vigil_collector::register_probe;
use vigil_collector::{AccessType, ProbeProfile};

const BUCKET: i64 = 60;
const CUT: std::ops::Range<i64> = 40..70;
const WINDOW: i64 = 110;

fn line(kind: &str, at: DateTime<Utc>, scope: &str, list: &str, result: &str) -> String {
    format!(
        r#"{{"schema":1,"id":"{}","kind":"{kind}","started_at":"{}","duration_ms":5,"target":{{"name":"anchor","scope":"{scope}","list":"{list}"}},"result":{result}}}"#,
        uuid::Uuid::now_v7(),
        at.to_rfc3339()
    )
}

/// One bucket's report: vitals, a domestic and an international anchor.
fn bucket_lines(at: DateTime<Utc>, international_ok: bool) -> Vec<String> {
    let vitals = r#"{"outcome":"ok","boot_id":"boot-1","uptime_s":100,"power":{"ac_online":true,"on_battery":false,"battery_pct":null},"gateway_reachable":true,"link_up":true,"last_gasp":false,"spool_depth":0}"#;
    let tcp = |ok: bool| {
        format!(
            r#"{{"outcome":"{}","ip":"192.0.2.1","port":443}}"#,
            if ok { "ok" } else { "timeout" }
        )
    };
    vec![
        line("vitals", at, "local", "self", vitals),
        line("tcp", at, "domestic", "anchors", &tcp(true)),
        line("tcp", at, "international", "anchors", &tcp(international_ok)),
    ]
}

#[tokio::test]
async fn late_spooled_data_revises_an_unknown_cut_into_a_shutdown() {
    let c = TestCollector::start().await;
    let t0 = (Utc::now() - Duration::hours(3))
        .duration_trunc(Duration::minutes(1))
        .expect("trunc");
    let at = |b: i64| t0 + Duration::seconds(b * BUCKET + 5);
    let mut tokens = Vec::new();
    for asn in [44244u32, 58224, 197207] {
        for region in ["Tehran", "Isfahan"] {
            let issued = register_probe(
                c.store.as_ref(),
                ProbeProfile {
                    name: format!("{asn}-{region}"),
                    country: "IR".to_owned(),
                    asn,
                    region: Some(region.to_owned()),
                    access: AccessType::Fixed,
                    ups: false,
                },
            )
            .await
            .expect("register");
            tokens.push(issued.token);
        }
    }
    // Live uploads: before and after the cut, nothing during it.
    for token in &tokens {
        let body: String = (0..WINDOW)
            .filter(|b| !CUT.contains(b))
            .flat_map(|b| bucket_lines(at(b), true))
            .map(|l| l + "\n")
            .collect();
        let a = c.post(Some(token), None, body.into_bytes()).await;
        assert_eq!(a.status, 200, "{:?}", a.json);
    }
    let settings = ClassifierSettings::default();
    let (from, to) = (t0, t0 + Duration::seconds(WINDOW * BUCKET));
    let first = classify_window(c.store.as_ref(), from, to, BUCKET, &settings)
        .await
        .expect("run");
    let unknown: Vec<_> = first.events.iter().filter(|e| e.class.as_str() == "unknown").collect();
    assert_eq!(unknown.len(), 1, "{:#?}", first.events);
    assert_eq!(first.saved.opened, first.events.len());

    // The probes upload what they spooled during the cut: domestic anchors answered, international did not.
    for token in &tokens {
        let body: String = CUT.flat_map(|b| bucket_lines(at(b), false)).map(|l| l + "\n").collect();
        assert_eq!(
            c.post(Some(token), Some("gzip"), common::gzip(body.as_bytes()))
                .await
                .status,
            200
        );
    }
    let second = classify_window(c.store.as_ref(), from, to, BUCKET, &settings)
        .await
        .expect("run");
    let shutdown: Vec<_> = second
        .events
        .iter()
        .filter(|e| e.class.as_str() == "shutdown")
        .collect();
    assert_eq!(shutdown.len(), 1, "{:#?}", second.events);
    assert_eq!(shutdown[0].id, unknown[0].id, "the same disruption, revised");
    assert_eq!(second.saved.revised, 1);

    // History: unknown first, shutdown now.
    let history = c.store.event_revisions(&shutdown[0].id).await.expect("revisions");
    let classes: Vec<&str> = history.iter().map(|e| e.class.as_str()).collect();
    assert_eq!(classes, ["unknown", "shutdown"]);

    // A third run over the same data changes nothing.
    let third = classify_window(c.store.as_ref(), from, to, BUCKET, &settings)
        .await
        .expect("run");
    assert_eq!(
        (third.saved.opened, third.saved.revised, third.saved.retracted),
        (0, 0, 0)
    );

    // The API serves it per DESIGN.md §3.
    let api = c.get_json("/api/v1/events?country=ir&class=shutdown").await;
    let events = api.as_array().expect("array");
    assert_eq!(events.len(), 1, "{api}");
    let e = &events[0];
    assert_eq!(e["class"], "shutdown");
    assert_eq!(e["revisions"], 2);
    assert_eq!(e["scope"]["level"], "country");
    assert_eq!(e["affected_probes"], 6);
    assert!(e["started_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(e["ended_at"].as_str().is_some());
    assert!(["low", "medium", "high"].contains(&e["confidence_level"].as_str().unwrap_or("")));
    assert!(e["evidence"].as_array().is_some_and(|ev| {
        ev.iter()
            .any(|x| x["text"].as_str().unwrap_or("").contains("domestic anchors answered"))
    }));
    let bad = c
        .client
        .get(c.url("/api/v1/events?from=yesterday"))
        .send()
        .await
        .expect("get");
    assert_eq!(bad.status().as_u16(), 400);

    // A shutdown awaits a person's review before it is published as one; the CLI lists and records reviews.
    assert_eq!(e["review"]["required"], true);
    assert_eq!(e["review"]["status"], "pending");
    let id = e["id"].as_str().expect("id").to_owned();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigil-collector"))
            .arg("--store")
            .arg(format!("sqlite:{}", c.dir.path().join("vigil.db").display()))
            .args(args)
            .output()
            .expect("the collector binary runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, pending, _) = cli(&["events", "--pending-review", "--json"]);
    let pending: serde_json::Value = serde_json::from_str(&pending).expect("JSON");
    assert!(
        ok && pending
            .as_array()
            .is_some_and(|p| p.len() == 1 && p[0]["id"] == id.as_str()),
        "{pending}"
    );
    let (ok, _, err) = cli(&["review", &id, "--confirm"]);
    assert!(!ok && err.contains("--by"), "a review names its reviewer: {err}");
    let (ok, _, err) = cli(&["review", "evt-0000000000000000", "--confirm", "--by", "duty editor"]);
    assert!(!ok && err.contains("no event evt-0000000000000000"), "{err}");
    let (ok, out, err) = cli(&[
        "review",
        &id,
        "--confirm",
        "--by",
        "duty editor",
        "--note",
        "ISPs confirm the order",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("confirmed") && out.contains(&id), "{out}");
    let api = c.get_json("/api/v1/events?country=ir&class=shutdown").await;
    assert_eq!(api[0]["review"]["status"], "confirmed", "{api}");
    assert_eq!(api[0]["review"]["reviewer"], "duty editor");
    assert_eq!(api[0]["review"]["note"], "ISPs confirm the order");
    let (_, pending, _) = cli(&["events", "--pending-review", "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&pending).expect("JSON"),
        serde_json::json!([])
    );
    c.stop().await;
}

/// Issue 23, case 5: a cut longer than the classifier's window keeps one event and one start. Each run reads
/// only its window (and a little before it); once the start has left the input, the run sees an outage already
/// under way and must not move the start forward.
#[tokio::test]
async fn a_cut_longer_than_the_window_keeps_its_start_and_its_id() {
    let c = TestCollector::start().await;
    let t0 = (Utc::now() - Duration::hours(3))
        .duration_trunc(Duration::minutes(1))
        .expect("trunc");
    let at = |b: i64| t0 + Duration::seconds(b * BUCKET + 5);
    const CUT_FROM: i64 = 40;
    for asn in [44244u32, 58224, 197207] {
        for region in ["Tehran", "Isfahan"] {
            let issued = register_probe(
                c.store.as_ref(),
                ProbeProfile {
                    name: format!("{asn}-{region}"),
                    country: "IR".to_owned(),
                    asn,
                    region: Some(region.to_owned()),
                    access: AccessType::Fixed,
                    ups: false,
                },
            )
            .await
            .expect("register");
            // Everything, spooled data included: the intranet holds from CUT_FROM to the end.
            let body: String = (0..WINDOW)
                .flat_map(|b| bucket_lines(at(b), b < CUT_FROM))
                .map(|l| l + "\n")
                .collect();
            let a = c.post(Some(&issued.token), None, body.into_bytes()).await;
            assert_eq!(a.status, 200, "{:?}", a.json);
        }
    }
    let settings = ClassifierSettings::default();
    let window = |from: i64, to: i64| {
        (
            t0 + Duration::seconds(from * BUCKET),
            t0 + Duration::seconds(to * BUCKET),
        )
    };
    let (from, to) = window(20, 60);
    let first = classify_window(c.store.as_ref(), from, to, BUCKET, &settings)
        .await
        .expect("run");
    let cut: Vec<_> = first.events.iter().filter(|e| e.class.as_str() == "shutdown").collect();
    assert_eq!(cut.len(), 1, "{:#?}", first.events);
    let (id, start) = (cut[0].id.clone(), cut[0].started_at);
    assert!(
        (start - at(CUT_FROM).timestamp()).abs() <= BUCKET,
        "the start is the cut's: {start}"
    );
    // Much later: the run's input (its window and the expect window before it) begins inside the cut.
    assert!(80 - settings.expect_window > CUT_FROM + 1);
    let (from, to) = window(80, WINDOW);
    let later = classify_window(c.store.as_ref(), from, to, BUCKET, &settings)
        .await
        .expect("run");
    let cut: Vec<_> = later.events.iter().filter(|e| e.class.as_str() == "shutdown").collect();
    assert_eq!(cut.len(), 1, "{:#?}", later.events);
    assert_eq!((cut[0].id.as_str(), cut[0].started_at), (id.as_str(), start));
    let api = c.get_json("/api/v1/events?country=ir&class=shutdown").await;
    assert_eq!(api.as_array().map(Vec::len), Some(1), "one event: {api}");
}

/// Issue 23, case 6: probes stop being expected some time after they were last heard (three days by default), so
/// a silence longer than that used to end itself. An outage saved and still open holds its probes expected.
#[tokio::test]
async fn a_silence_longer_than_probes_are_expected_stays_an_open_event() {
    let c = TestCollector::start().await;
    let t0 = (Utc::now() - Duration::hours(3))
        .duration_trunc(Duration::minutes(1))
        .expect("trunc");
    let at = |b: i64| t0 + Duration::seconds(b * BUCKET + 5);
    const SILENT_FROM: i64 = 40;
    for asn in [44244u32, 58224, 197207] {
        for region in ["Tehran", "Isfahan"] {
            let issued = register_probe(
                c.store.as_ref(),
                ProbeProfile {
                    name: format!("{asn}-{region}"),
                    country: "IR".to_owned(),
                    asn,
                    region: Some(region.to_owned()),
                    access: AccessType::Fixed,
                    ups: false,
                },
            )
            .await
            .expect("register");
            let body: String = (0..SILENT_FROM)
                .flat_map(|b| bucket_lines(at(b), true))
                .map(|l| l + "\n")
                .collect();
            let a = c.post(Some(&issued.token), None, body.into_bytes()).await;
            assert_eq!(a.status, 200, "{:?}", a.json);
        }
    }
    // Probes are expected for 15 buckets after they were last heard (three days in production).
    let settings = ClassifierSettings {
        keep_expected_secs: 15 * BUCKET,
        ..ClassifierSettings::default()
    };
    let window = |from: i64, to: i64| {
        (
            t0 + Duration::seconds(from * BUCKET),
            t0 + Duration::seconds(to * BUCKET),
        )
    };
    let (from, to) = window(20, 50);
    let first = classify_window(c.store.as_ref(), from, to, BUCKET, &settings)
        .await
        .expect("run");
    assert_eq!(first.events.len(), 1, "{:#?}", first.events);
    let (id, start) = (first.events[0].id.clone(), first.events[0].started_at);
    assert_eq!(first.events[0].ended_at, None);
    // Long after the probes stopped being expected: still the same open event, from the same start.
    let (from, to) = window(90, WINDOW);
    assert!(90 - settings.expect_window > SILENT_FROM + 15);
    let later = classify_window(c.store.as_ref(), from, to, BUCKET, &settings)
        .await
        .expect("run");
    assert_eq!(later.events.len(), 1, "{:#?}", later.events);
    let e = &later.events[0];
    assert_eq!((e.id.as_str(), e.started_at, e.ended_at), (id.as_str(), start, None));
    assert_eq!(e.affected_probes, 6);
}
