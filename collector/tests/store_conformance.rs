//! One conformance suite, run unchanged against every store backend: the embedded SQLite store and a real
//! ClickHouse server. Whatever the collector relies on — registry, deduplication across calls, ingest order,
//! filters, re-timing of unsynced clocks, event revisions and retraction, presence — must hold on both.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;
use vigil_collector::aggregates;
use vigil_collector::{AccessType, ProbeProfile, ProbeRecord};
use vigil_collector::{
    Arrival, EventQuery, EventReview, IngestBatch, MeasurementQuery, NewProbe, ProbeArrival, ReviewVerdict,
    SignedBatchQuery, SignedBody, TimeSource, TokenHash,
};
use vigil_collector::{ConfidenceLevel, DisruptionEvent, EventClass, EventScope};
use vigil_collector::{Placed, Summaries, SummaryBuilder};
use vigil_collector::{Store, StoreSpec, open_store};
use vigil_measurement::signature;
use vigil_measurement::{Kind, Measurement};

use common::clickhouse::ClickHouseServer;
use common::current_release;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
        .single()
        .expect("valid time")
}

/// A measurement of `kind` started at `at`, with a clock reading `(boot, mono_ms, synced)` if given.
fn measurement(kind: &str, at: DateTime<Utc>, clock: Option<(&str, u64, bool)>) -> Measurement {
    let result = match kind {
        "tcp" => r#"{"outcome":"ok","ip":"192.0.2.1","port":443,"rtt_ms":12.5}"#,
        "icmp" => r#"{"outcome":"timeout","ip":"192.0.2.1","sent":3,"received":0}"#,
        "vitals" => {
            r#"{"outcome":"ok","boot_id":"b1","uptime_s":100,"power":{"ac_online":true,"on_battery":false,"battery_pct":null},"gateway_reachable":true,"link_up":true,"last_gasp":false,"spool_depth":3}"#
        }
        other => panic!("no template for {other}"),
    };
    let clock = clock
        .map(|(boot, mono, synced)| format!(r#","clock":{{"synced":{synced},"boot_id":"{boot}","mono_ms":{mono}}}"#))
        .unwrap_or_default();
    let text = format!(
        r#"{{"schema":1,"id":"{}","kind":"{kind}","started_at":"{}","duration_ms":5,"target":{{"name":"example.org","scope":"international","list":"anchors"}}{clock},"result":{result}}}"#,
        Uuid::now_v7(),
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    Measurement::from_json_slice(text.as_bytes()).expect("valid measurement")
}

async fn register(store: &dyn Store, id: &str, token: u8) -> ProbeRecord {
    store
        .register_probe(NewProbe {
            probe_id: id.to_owned(),
            profile: ProbeProfile {
                name: format!("{id} (operator label)"),
                country: "XL".to_owned(),
                asn: 64501,
                region: Some("north".to_owned()),
                access: AccessType::Mobile,
                ups: true,
            },
            token_hash: TokenHash([token; 32]),
            public_key: None,
            created_at: t0(),
        })
        .await
        .expect("registers")
}

fn batch(probe: &ProbeRecord, measurements: Vec<Measurement>) -> IngestBatch {
    IngestBatch::new(probe.clone(), t0() + Duration::hours(1), measurements, None)
}

async fn registry(store: &dyn Store) {
    let p = register(store, "prb-registry01", 1).await;
    let found = store.probe_by_token(TokenHash([1; 32])).await.expect("reads");
    assert_eq!(found.as_ref().map(|r| r.probe_id.as_str()), Some("prb-registry01"));
    let found = found.expect("found");
    assert_eq!(found.profile, p.profile, "the profile round-trips");
    assert_eq!(found.created_at, t0());
    assert!(
        store
            .probe_by_token(TokenHash([99; 32]))
            .await
            .expect("reads")
            .is_none()
    );
    let clash = store
        .register_probe(NewProbe {
            probe_id: "prb-registry01".to_owned(),
            profile: p.profile.clone(),
            token_hash: TokenHash([2; 32]),
            public_key: None,
            created_at: t0(),
        })
        .await;
    assert!(clash.is_err(), "a taken probe id is a conflict");
    assert!(store.revoke_probe("prb-registry01").await.expect("revokes"));
    assert!(
        !store.revoke_probe("prb-registry01").await.expect("second revoke"),
        "already revoked"
    );
    assert!(!store.revoke_probe("prb-nobody").await.expect("unknown"));
    let revoked = store
        .probe_by_token(TokenHash([1; 32]))
        .await
        .expect("reads")
        .expect("still there");
    assert!(!revoked.is_active());
    let all = store.probes().await.expect("lists");
    assert!(
        all.iter()
            .any(|r| r.probe_id == "prb-registry01" && r.revoked_at.is_some())
    );
}

async fn ingest_and_queries(store: &dyn Store) {
    let p = register(store, "prb-ingest0001", 3).await;
    let q = register(store, "prb-ingest0002", 4).await;
    let a: Vec<Measurement> = (0..5)
        .map(|i| {
            measurement(
                ["tcp", "icmp", "vitals"][i % 3],
                t0() + Duration::seconds(i as i64 * 60),
                None,
            )
        })
        .collect();
    let b = vec![measurement("tcp", t0() + Duration::seconds(30), None)];
    // The same measurement twice within one call, and a batch of another probe.
    let mut first = a[..3].to_vec();
    first.push(a[0].clone());
    let out = store
        .write_batches(vec![batch(&p, first), batch(&q, b.clone())])
        .await
        .expect("writes");
    assert_eq!((out[0].accepted, out[0].duplicates), (3, 1));
    assert_eq!((out[1].accepted, out[1].duplicates), (1, 0));
    // A retry of the whole first batch plus the rest: only the rest is new.
    let out = store.write_batches(vec![batch(&p, a.clone())]).await.expect("writes");
    assert_eq!((out[0].accepted, out[0].duplicates), (2, 3));

    let mine = MeasurementQuery {
        probe_id: Some(p.probe_id.clone()),
        ..MeasurementQuery::default()
    };
    let rows = store.measurements(mine.clone()).await.expect("reads");
    let ids: Vec<Uuid> = rows.iter().map(|r| r.measurement.id).collect();
    assert_eq!(
        ids,
        a.iter().map(|m| m.id).collect::<Vec<_>>(),
        "each once, in ingest order"
    );
    assert!(rows.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(
        rows.iter()
            .all(|r| r.time_source == TimeSource::Probe && r.probe_id == p.probe_id)
    );
    assert_eq!(rows[1].started_at, Some(t0() + Duration::seconds(60)));
    assert_eq!(rows[0].measurement, a[0], "the measurement round-trips");
    assert_eq!(store.count_measurements(mine.clone()).await.expect("counts"), 5);

    let window = MeasurementQuery {
        from: Some(t0() + Duration::seconds(60)),
        to: Some(t0() + Duration::seconds(180)),
        ..mine.clone()
    };
    let got: Vec<Uuid> = store
        .measurements(window)
        .await
        .expect("reads")
        .iter()
        .map(|r| r.measurement.id)
        .collect();
    assert_eq!(got, vec![a[1].id, a[2].id], "from inclusive, to exclusive");
    let vitals = MeasurementQuery {
        kind: Some(Kind::Vitals),
        ..mine.clone()
    };
    assert_eq!(store.count_measurements(vitals).await.expect("counts"), 1);
    let by_id = MeasurementQuery {
        ids: Some(vec![a[4].id, b[0].id]),
        ..MeasurementQuery::default()
    };
    assert_eq!(store.count_measurements(by_id).await.expect("counts"), 2);
    let after = MeasurementQuery {
        after_seq: Some(rows[2].seq),
        limit: Some(1),
        ..mine
    };
    let next = store.measurements(after).await.expect("reads");
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].measurement.id, a[3].id, "a resumable cursor");
}

/// A call larger than any single lookup or statement (group commit writes up to tens of thousands at once).
async fn large_calls(store: &dyn Store) {
    let p = register(store, "prb-largecall", 9).await;
    let many: Vec<Measurement> = (0..10_000)
        .map(|i| measurement("tcp", t0() + Duration::milliseconds(i * 10), None))
        .collect();
    let halves = vec![batch(&p, many[..5_000].to_vec()), batch(&p, many[5_000..].to_vec())];
    let out = store.write_batches(halves).await.expect("writes");
    assert_eq!(out.iter().map(|o| o.accepted).sum::<u64>(), 10_000);
    let again = store.write_batches(vec![batch(&p, many)]).await.expect("writes");
    assert_eq!((again[0].accepted, again[0].duplicates), (0, 10_000));
    let q = MeasurementQuery {
        probe_id: Some(p.probe_id.clone()),
        ..MeasurementQuery::default()
    };
    assert_eq!(store.count_measurements(q).await.expect("counts"), 10_000);
}

async fn retiming(store: &dyn Store) {
    let p = register(store, "prb-retiming01", 5).await;
    // An unsynced clock: the reported time is wrong (1970), the boot's monotonic reading is not.
    let wrong = Utc.timestamp_opt(1000, 0).single().expect("valid");
    let early = measurement("tcp", wrong, Some(("boot-a", 10_000, false)));
    store
        .write_batches(vec![batch(&p, vec![early.clone()])])
        .await
        .expect("writes");
    let q = MeasurementQuery {
        probe_id: Some(p.probe_id.clone()),
        ..MeasurementQuery::default()
    };
    let rows = store.measurements(q.clone()).await.expect("reads");
    assert_eq!(rows[0].time_source, TimeSource::Pending);
    assert_eq!(rows[0].started_at, None, "no time until the boot has a synced reading");
    // The clock syncs later in the same boot: 50 s of monotonic time after the first reading.
    let synced = measurement("tcp", t0() + Duration::seconds(50), Some(("boot-a", 60_000, true)));
    store
        .write_batches(vec![batch(&p, vec![synced])])
        .await
        .expect("writes");
    let rows = store.measurements(q).await.expect("reads");
    assert_eq!(rows[0].time_source, TimeSource::Retimed);
    assert_eq!(rows[0].started_at, Some(t0()), "placed by the boot's anchor");
    let window = MeasurementQuery {
        probe_id: Some(p.probe_id.clone()),
        from: Some(t0()),
        to: Some(t0() + Duration::seconds(1)),
        ..MeasurementQuery::default()
    };
    let placed = store.measurements(window).await.expect("reads");
    assert_eq!(
        placed.len(),
        1,
        "time windows see re-timed measurements where they were taken"
    );
    assert_eq!(placed[0].measurement.id, early.id);
}

fn event(id: &str, class: EventClass, start: i64, end: Option<i64>, affected: usize) -> DisruptionEvent {
    DisruptionEvent {
        id: id.to_owned(),
        class,
        scope: EventScope {
            level: "asn".to_owned(),
            country: Some("XL".to_owned()),
            asn: Some(64501),
            ..EventScope::default()
        },
        started_at: start,
        ended_at: end,
        confidence: 0.5,
        confidence_level: ConfidenceLevel::Medium,
        affected_probes: affected,
        probes_in_scope: 4,
        evidence: Vec::new(),
        scores: Default::default(),
        targets: Vec::new(),
    }
}

async fn events(store: &dyn Store) {
    let start = t0().timestamp();
    let (from, to) = (start - 600, start + 3600);
    let a = event("evt-a", EventClass::Unknown, start, None, 3);
    let b = event("evt-b", EventClass::Censorship, start + 60, Some(start + 120), 2);
    let s = store
        .save_events(from, to, vec![a.clone(), b.clone()])
        .await
        .expect("saves");
    assert_eq!((s.opened, s.revised, s.retracted), (2, 0, 0));
    // The same call again, reworded: no revision.
    let mut reworded = a.clone();
    reworded.probes_in_scope = 5;
    let s = store
        .save_events(from, to, vec![reworded, b.clone()])
        .await
        .expect("saves");
    assert_eq!((s.opened, s.revised, s.retracted), (0, 0, 0));
    // Late data: the cut was a shutdown, and it ended; evt-b is no longer found.
    let revised = event("evt-a", EventClass::Shutdown, start, Some(start + 300), 4);
    let s = store.save_events(from, to, vec![revised.clone()]).await.expect("saves");
    assert_eq!((s.opened, s.revised, s.retracted), (0, 1, 1));
    let now = store.events(EventQuery::default()).await.expect("reads");
    assert_eq!(now.len(), 1, "retracted events are not listed");
    assert_eq!(now[0].event, revised);
    assert_eq!(now[0].revisions, 2);
    let history = store.event_revisions("evt-a").await.expect("reads");
    assert_eq!(
        history.iter().map(|e| e.class).collect::<Vec<_>>(),
        vec![EventClass::Unknown, EventClass::Shutdown]
    );
    let filtered = |q: EventQuery| async move { store.events(q).await.expect("reads").len() };
    assert_eq!(
        filtered(EventQuery {
            class: Some("shutdown".to_owned()),
            country: Some("XL".to_owned()),
            asn: Some(64501),
            ..EventQuery::default()
        })
        .await,
        1
    );
    assert_eq!(
        filtered(EventQuery {
            from: Some(start + 300),
            ..EventQuery::default()
        })
        .await,
        0,
        "an event that ended before `from` is outside the range"
    );
    assert_eq!(
        filtered(EventQuery {
            class: Some("power_outage".to_owned()),
            ..EventQuery::default()
        })
        .await,
        0
    );
    // A retracted event found again comes back as a revision.
    let s = store.save_events(from, to, vec![revised, b]).await.expect("saves");
    assert_eq!((s.opened, s.revised, s.retracted), (0, 1, 0));
    assert_eq!(store.events(EventQuery::default()).await.expect("reads").len(), 2);
}

async fn reviews(store: &dyn Store) {
    // evt-a is a shutdown by now (the events step); nothing is reviewed yet.
    let ids = vec!["evt-a".to_owned(), "evt-b".to_owned(), "evt-none".to_owned()];
    assert!(store.reviews(&ids).await.expect("reads").is_empty());
    let review = |verdict, at: i64, note: &str| EventReview {
        event_id: "evt-a".to_owned(),
        class: "shutdown".to_owned(),
        verdict,
        reviewer: "duty editor".to_owned(),
        note: note.to_owned(),
        reviewed_ms: t0().timestamp_millis() + at,
    };
    assert!(
        store
            .save_review(review(ReviewVerdict::Rejected, 1, "too few probes"))
            .await
            .expect("saves")
    );
    assert!(
        store
            .save_review(review(ReviewVerdict::Confirmed, 2, "BGP and reports agree"))
            .await
            .expect("saves")
    );
    let mut unknown = review(ReviewVerdict::Confirmed, 3, "");
    unknown.event_id = "evt-none".to_owned();
    assert!(
        !store.save_review(unknown).await.expect("answers"),
        "no such event: nothing stored"
    );
    let got = store.reviews(&ids).await.expect("reads");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got["evt-a"],
        review(ReviewVerdict::Confirmed, 2, "BGP and reports agree"),
        "the latest counts"
    );
}

async fn presence(store: &dyn Store) {
    use vigil_collector::{PresenceLog, PresenceSession, PresenceSpan};
    let base = t0().timestamp_millis();
    // Pseudo-probes are registered before their sessions are recorded (the importer does so).
    register(store, "atlas-1", 6).await;
    register(store, "atlas-2", 7).await;
    let span = PresenceSpan {
        source: "ripe-atlas".to_owned(),
        from_ms: base,
        to_ms: base + 10_000,
    };
    let session = |probe: &str, from: i64, to: Option<i64>, controller: Option<&str>| PresenceSession {
        probe_id: probe.to_owned(),
        connected_ms: from,
        disconnected_ms: to,
        controller: controller.map(str::to_owned),
    };
    let written = store
        .save_presence(
            span.clone(),
            vec![
                session("atlas-1", base, None, None),
                session("atlas-2", base, Some(base + 1000), Some("ctr-ams01")),
            ],
        )
        .await
        .expect("saves");
    assert_eq!(written, 2);
    // The open session closes; the same span saved again is kept once.
    store
        .save_presence(
            span.clone(),
            vec![session("atlas-1", base, Some(base + 5000), Some("ctr-nue02"))],
        )
        .await
        .expect("saves");
    let got = store.presence(base + 2000, base + 3000).await.expect("reads");
    assert_eq!(
        got,
        PresenceLog {
            spans: vec![span.clone()],
            sessions: vec![session("atlas-1", base, Some(base + 5000), Some("ctr-nue02"))],
        }
    );
    let got = store.presence(base, base + 3000).await.expect("reads");
    assert_eq!(got.sessions.len(), 2);
    assert_eq!(got.sessions[1].controller.as_deref(), Some("ctr-ams01"));
    assert_eq!(
        store.presence(base + 6000, base + 7000).await.expect("reads"),
        PresenceLog {
            spans: vec![span],
            sessions: vec![],
        },
        "the span covers the time; no session is in it"
    );
    assert_eq!(
        store.presence(base + 20_000, base + 30_000).await.expect("reads"),
        PresenceLog::default(),
        "outside every span nothing is known"
    );
    // A later import places a pseudo-probe: its profile is replaced, its token kept.
    let mut profile = store
        .probes()
        .await
        .expect("probes")
        .into_iter()
        .find(|p| p.probe_id == "atlas-1")
        .expect("registered")
        .profile;
    profile.country = "NL".to_owned();
    profile.asn = 3333;
    assert!(
        store
            .update_probe_profile("atlas-1", profile.clone())
            .await
            .expect("updates")
    );
    let after = store
        .probes()
        .await
        .expect("probes")
        .into_iter()
        .find(|p| p.probe_id == "atlas-1")
        .expect("registered");
    assert_eq!(after.profile, profile);
    assert!(
        !store
            .update_probe_profile("atlas-none", profile)
            .await
            .expect("answers")
    );
}

/// A measurement with an explicit target and result (JSON), started at `at`, with an optional clock reading.
fn shaped(
    kind: &str,
    target: (&str, &str, &str),
    result: &str,
    at: DateTime<Utc>,
    clock: Option<(&str, u64, bool)>,
) -> Measurement {
    let clock = clock
        .map(|(boot, mono, synced)| format!(r#","clock":{{"synced":{synced},"boot_id":"{boot}","mono_ms":{mono}}}"#))
        .unwrap_or_default();
    let text = format!(
        r#"{{"schema":1,"id":"{}","kind":"{kind}","started_at":"{}","duration_ms":5,"target":{{"name":"{}","scope":"{}","list":"{}"}}{clock},"result":{result}}}"#,
        Uuid::now_v7(),
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        target.0,
        target.1,
        target.2
    );
    Measurement::from_json_slice(text.as_bytes()).expect("valid measurement")
}

/// The per-bucket summaries a store computes are the ones folding its measurements gives — whichever way the
/// backend computes them (the embedded store folds; ClickHouse aggregates by itself).
/// The summaries a probe's stored rows in `[from, to)` fold into, one-minute buckets: what a store's own
/// aggregation must equal.
async fn folded(store: &dyn Store, probe_id: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Summaries {
    let rows = store
        .measurements(MeasurementQuery {
            probe_id: Some(probe_id.to_owned()),
            from: Some(from),
            to: Some(to),
            ..MeasurementQuery::default()
        })
        .await
        .expect("reads");
    let registered = store.probes().await.expect("registry");
    let access = registered
        .iter()
        .find(|p| p.probe_id == probe_id)
        .map(|p| p.profile.access)
        .expect("registered");
    let mut fold = SummaryBuilder::new(60, from, to);
    for r in &rows {
        fold.add(Placed {
            probe_id: &r.probe_id,
            access,
            started_at: r.started_at.expect("placed"),
            measurement: &r.measurement,
        });
    }
    fold.finish()
}

async fn bucket_summaries(store: &dyn Store) {
    let p = register(store, "prb-summaries1", 8).await;
    let at = |s: i64| t0() + Duration::seconds(s);
    let dom = ("http://10.41.0.10/", "domestic", "anchors");
    let intl = ("http://10.60.0.10/", "international", "anchors");
    let site = ("http://news.example/", "international", "citizenlab-global");
    let vitals = |boot: &str, battery: bool, gateway: bool| {
        format!(
            r#"{{"outcome":"ok","boot_id":"{boot}","uptime_s":100,"power":{{"ac_online":{},"on_battery":{battery},"battery_pct":50}},"gateway_reachable":{gateway},"link_up":true,"last_gasp":false,"spool_depth":0}}"#,
            !battery
        )
    };
    let batch_of = vec![
        // Bucket 0: two vitals (the later wins), anchors both ways, samples, blocking by DNS and by blockpage.
        shaped(
            "vitals",
            ("self", "local", "vitals"),
            &vitals("boot-1", false, true),
            at(5),
            None,
        ),
        shaped(
            "vitals",
            ("self", "local", "vitals"),
            &vitals("boot-1", true, false),
            at(50),
            None,
        ),
        shaped(
            "http",
            dom,
            r#"{"outcome":"ok","url":"http://10.41.0.10/","status":200,"throughput_bps":900000.0}"#,
            at(10),
            None,
        ),
        shaped(
            "tcp",
            dom,
            r#"{"outcome":"timeout","ip":"10.41.0.10","port":80}"#,
            at(11),
            None,
        ),
        shaped(
            "http",
            intl,
            r#"{"outcome":"ok","url":"http://10.60.0.10/","status":200,"throughput_bps":250000.5}"#,
            at(12),
            None,
        ),
        shaped(
            "http",
            intl,
            r#"{"outcome":"ok","url":"http://10.60.0.10/","status":200,"throughput_bps":125000.0}"#,
            at(13),
            None,
        ),
        shaped(
            "tcp",
            intl,
            r#"{"outcome":"ok","ip":"10.60.0.10","port":80,"rtt_ms":81.5}"#,
            at(14),
            None,
        ),
        shaped(
            "icmp",
            intl,
            r#"{"outcome":"ok","ip":"10.60.0.10","sent":3,"received":3,"rtt_avg_ms":79.0}"#,
            at(15),
            None,
        ),
        shaped(
            "tcp",
            intl,
            r#"{"outcome":"refused","ip":"10.60.0.11","port":80,"rtt_ms":1.0}"#,
            at(16),
            None,
        ),
        // Traces after failed checks: where each died (the last hop beyond the probe's own network, or home), not
        // counted again as checks.
        shaped(
            "trace",
            intl,
            r#"{"outcome":"timeout","ip":"10.60.0.11","protocol":"tcp","port":80,"stopped_at_ttl":3,"hops":[{"ttl":1,"ip":"192.168.1.1","rtt_ms":0.4,"local":true},{"ttl":2,"ip":"10.30.0.1","rtt_ms":3.1,"local":false},{"ttl":3,"ip":null,"rtt_ms":null}]}"#,
            at(17),
            None,
        ),
        shaped(
            "trace",
            intl,
            r#"{"outcome":"timeout","ip":"10.60.0.12","stopped_at_ttl":2,"hops":[{"ttl":1,"ip":"192.168.1.1","rtt_ms":0.4,"local":true},{"ttl":2,"ip":null,"rtt_ms":null}]}"#,
            at(18),
            None,
        ),
        shaped(
            "dns",
            site,
            r#"{"outcome":"dns_injected","query":"news.example","qtype":"A","resolver":"system","answers":[{"type":"A","data":"10.10.34.34","ttl":60}],"rcode":"NOERROR","fingerprint":"vigil.ir_dns_34","injection_reason":"fingerprint"}"#,
            at(20),
            None,
        ),
        shaped(
            "http",
            site,
            r#"{"outcome":"blockpage","url":"http://news.example/","status":200,"fingerprint":"vigil.ir_iframe"}"#,
            at(21),
            None,
        ),
        shaped(
            "http",
            site,
            r#"{"outcome":"timeout","url":"http://news.example/","status":null}"#,
            at(22),
            None,
        ),
        // Bucket 1: a reset, and an unsynced vitals placed by its boot's anchor (the synced tcp after it).
        shaped(
            "http",
            ("http://video.example/", "international", "citizenlab-global"),
            r#"{"outcome":"reset","url":"http://video.example/","status":null}"#,
            at(70),
            None,
        ),
        // A listed site that loaded: the control a censorship call needs.
        shaped(
            "http",
            ("http://health.example/", "international", "citizenlab-global"),
            r#"{"outcome":"ok","url":"http://health.example/","status":200}"#,
            at(75),
            None,
        ),
        // A site whose connection never opened (IP blocking, or the server down).
        shaped(
            "http",
            ("http://gone.example/", "international", "citizenlab-global"),
            r#"{"outcome":"timeout","url":"http://gone.example/","status":null,"failure_stage":"connect"}"#,
            at(77),
            None,
        ),
        // A messaging app: its chat port dropped, its web site loading — both judged under the app's name.
        shaped(
            "tcp",
            ("chat.example:5222", "international", "app:chat"),
            r#"{"outcome":"timeout","ip":"10.60.0.7","port":5222}"#,
            at(80),
            None,
        ),
        shaped(
            "http",
            ("https://chat.example/", "international", "app:chat"),
            r#"{"outcome":"ok","url":"https://chat.example/","status":200}"#,
            at(81),
            None,
        ),
        // A site that loaded over TCP while its QUIC handshake got no answer: blocked over QUIC, no control.
        shaped(
            "http",
            ("https://h3.example/", "international", "citizenlab-global"),
            r#"{"outcome":"ok","url":"https://h3.example/","status":200,"quic":{"url":"https://h3.example/","port":443,"outcome":"timeout","handshake":false}}"#,
            at(83),
            None,
        ),
        // An anchor's connect that timed out is an outage's evidence, never a blocked target.
        shaped(
            "http",
            intl,
            r#"{"outcome":"timeout","url":"http://10.60.0.10/","status":null,"failure_stage":"connect"}"#,
            at(82),
            None,
        ),
        shaped(
            "vitals",
            ("self", "local", "vitals"),
            &vitals("boot-2", false, true),
            Utc.timestamp_opt(5, 0).single().expect("t"),
            Some(("boot-2", 1_000, false)),
        ),
        shaped(
            "tcp",
            intl,
            r#"{"outcome":"ok","ip":"10.60.0.10","port":80,"rtt_ms":70.0}"#,
            at(100),
            Some(("boot-2", 31_000, true)),
        ),
        // Pending for ever: an unsynced reading of a boot never synced.
        shaped(
            "tcp",
            intl,
            r#"{"outcome":"ok","ip":"10.60.0.10","port":80,"rtt_ms":70.0}"#,
            at(30),
            Some(("boot-9", 5, false)),
        ),
    ];
    store.write_batches(vec![batch(&p, batch_of)]).await.expect("writes");
    let (from, to) = (t0(), t0() + Duration::seconds(180));
    let summaries = store.bucket_summaries(from, to, 60).await.expect("summaries");
    let expected = folded(store, &p.probe_id, from, to).await;
    let mine = summaries.get(&p.probe_id).expect("the probe has summaries");
    assert_eq!(Some(mine), expected.get(&p.probe_id));
    let b0 = &mine[&(t0().timestamp() / 60)];
    assert_eq!(
        (
            b0.domestic.ok,
            b0.domestic.total,
            b0.international.ok,
            b0.international.total
        ),
        (1, 2, 4, 5)
    );
    assert_eq!(
        b0.path_ends.iter().map(String::as_str).collect::<Vec<_>>(),
        ["10.30.0.1", "home"],
        "where the failed traces died"
    );
    assert_eq!(b0.international_throughput, vec![125000.0, 250000.5]);
    assert_eq!(b0.international_rtt, vec![79.0, 81.5]);
    assert!(
        b0.vitals.as_ref().is_some_and(|v| v.on_battery && !v.gateway_reachable),
        "the later vitals win"
    );
    assert_eq!(b0.blocked.get("http://news.example/").map(|m| m.as_str()), Some("dns"));
    assert_eq!(b0.fingerprints["http://news.example/"].len(), 2);
    let b1 = &mine[&(t0().timestamp() / 60 + 1)];
    assert_eq!(
        b1.blocked.get("http://video.example/").map(|m| m.as_str()),
        Some("tcp_reset")
    );
    assert_eq!(
        b1.vitals.as_ref().map(|v| v.boot_id.as_str()),
        Some("boot-2"),
        "re-timed into its bucket"
    );
    assert!(
        b0.reached.is_empty(),
        "a blocked or timed-out site is no control: {:?}",
        b0.reached
    );
    assert_eq!(
        b1.reached.iter().map(String::as_str).collect::<Vec<_>>(),
        ["app:chat", "http://health.example/"],
        "a listed site that loaded, and an app one of whose endpoints answered, are kept as controls"
    );
    assert_eq!(
        b1.blocked
            .iter()
            .map(|(name, method)| (name.as_str(), method.as_str()))
            .collect::<Vec<_>>(),
        [
            ("app:chat", "ip_block"),
            ("http://gone.example/", "ip_block"),
            ("http://video.example/", "tcp_reset"),
            ("https://h3.example/", "quic")
        ],
        "connections that never opened, an app's under its name; the anchor's is no blocked target; QUIC \
         dropped while TCP loaded"
    );

    // A window longer than one aggregation slice (ClickHouse aggregates two hours of buckets per query), starting
    // mid-bucket: measurements on both sides of a slice boundary and right on it come out as the fold says.
    let tcp_ok = r#"{"outcome":"ok","ip":"10.60.0.10","port":80,"rtt_ms":70.0}"#;
    let later = vec![
        shaped("tcp", intl, tcp_ok, at(2 * 3600 - 1), None),
        shaped("tcp", intl, tcp_ok, at(2 * 3600), None),
        shaped("tcp", dom, tcp_ok, at(4 * 3600 + 59), None),
        shaped(
            "vitals",
            ("self", "local", "vitals"),
            &vitals("boot-1", false, true),
            at(5 * 3600 + 1),
            None,
        ),
    ];
    store.write_batches(vec![batch(&p, later)]).await.expect("writes");
    let (from, to) = (t0() + Duration::seconds(30), t0() + Duration::hours(6));
    let long = store.bucket_summaries(from, to, 60).await.expect("summaries");
    let expected = folded(store, &p.probe_id, from, to).await;
    let long = long.get(&p.probe_id).expect("the probe has summaries");
    assert_eq!(Some(long), expected.get(&p.probe_id));
    for hours in [2, 4, 5] {
        assert!(
            long.keys().any(|b| (b * 60 - t0().timestamp()) / 3600 == hours),
            "a bucket {hours} h in: {:?}",
            long.keys().collect::<Vec<_>>()
        );
    }
}

/// A probe with several uplinks (issue 24): what it measured on an uplink of its registered access (mobile here)
/// or on none is its own timeline; what it measured on a satellite dish is the timeline `PROBE/satellite`, never mixed into
/// the probe's (the dish's answers during a shutdown would make the probe look connected) — on the raw fold and
/// the materialised summaries alike.
/// How uploads arrived: per probe, carrier and network, with the carrier's declared access, first and last seen;
/// a batch that says nothing of its arrival leaves nothing.
async fn arrivals(store: &dyn Store) {
    let p = register(store, "prb-arrivals1", 51).await;
    let t = t0() + Duration::days(6);
    let sat_line = {
        let line = measurement("tcp", t, None).to_json_line().replacen(
            r#","result":"#,
            r#","uplink":{"name":"sat","access":"satellite"},"result":"#,
            1,
        );
        Measurement::from_json_slice(line.as_bytes()).expect("valid measurement")
    };
    let sent = |m: Measurement, received: DateTime<Utc>, carrier: Option<&str>, asn: Option<u32>| {
        let mut b = batch(&p, vec![m]).arriving(Arrival {
            carrier: carrier.map(str::to_owned),
            asn,
            // The table places the satellite operator's network abroad, the line's nowhere.
            network_country: (asn == Some(14593)).then(|| "US".to_owned()),
        });
        b.received_at = received;
        b
    };
    store
        .write_batches(vec![
            sent(measurement("tcp", t, None), t, None, Some(64500)),
            sent(sat_line, t + Duration::seconds(1), Some("sat"), Some(14593)),
            sent(measurement("icmp", t, None), t + Duration::seconds(2), None, None),
        ])
        .await
        .expect("writes");
    store
        .write_batches(vec![sent(
            measurement("vitals", t, None),
            t + Duration::hours(2),
            None,
            Some(64500),
        )])
        .await
        .expect("writes");
    let arrivals: Vec<_> = store
        .probe_arrivals()
        .await
        .expect("reads")
        .into_iter()
        .filter(|a| a.probe_id == p.probe_id)
        .collect();
    assert_eq!(
        arrivals,
        vec![
            ProbeArrival {
                probe_id: p.probe_id.clone(),
                carrier: None,
                asn: Some(64500),
                access: None,
                network_country: None,
                first_seen: t,
                last_seen: t + Duration::hours(2),
            },
            ProbeArrival {
                probe_id: p.probe_id.clone(),
                carrier: Some("sat".to_owned()),
                asn: Some(14593),
                access: Some("satellite".to_owned()),
                network_country: Some("US".to_owned()),
                first_seen: t + Duration::seconds(1),
                last_seen: t + Duration::seconds(1),
            },
        ]
    );
}

async fn uplink_timelines(store: &dyn Store) {
    let p = register(store, "prb-uplinks1", 50).await;
    let t = t0() + Duration::days(5);
    let at = |s: i64| t + Duration::seconds(s);
    let intl = ("http://10.60.0.10/", "international", "anchors");
    let on = |m: Measurement, uplink: Option<(&str, &str)>| {
        let mut line = m.to_json_line();
        if let Some((name, access)) = uplink {
            line = line.replacen(
                r#","result":"#,
                &format!(r#","uplink":{{"name":"{name}","access":"{access}"}},"result":"#),
                1,
            );
        }
        Measurement::from_json_slice(line.as_bytes()).expect("valid measurement")
    };
    let ok = r#"{"outcome":"ok","ip":"10.60.0.10","port":80,"rtt_ms":20.0}"#;
    let timeout = r#"{"outcome":"timeout","ip":"10.60.0.10","port":80}"#;
    let written = vec![
        on(shaped("tcp", intl, timeout, at(1), None), None),
        on(shaped("tcp", intl, timeout, at(2), None), Some(("lte", "mobile"))),
        on(shaped("tcp", intl, ok, at(3), None), Some(("sat", "satellite"))),
        on(shaped("tcp", intl, ok, at(4), None), Some(("sat", "satellite"))),
    ];
    store.write_batches(vec![batch(&p, written)]).await.expect("writes");
    let (from, to) = (t, t + Duration::minutes(2));
    let sat = format!("{}/satellite", p.probe_id);
    let raw = store.bucket_summaries(from, to, 60).await.expect("summaries");
    let expected = folded(store, &p.probe_id, from, to).await;
    let bucket = t.timestamp() / 60;
    for summaries in [
        raw,
        aggregates::bucket_summaries(store, from, to, 60, aggregates::Reader::latest(60))
            .await
            .expect("materialised"),
    ] {
        let own = &summaries[&p.probe_id][&bucket];
        assert_eq!(
            (own.international.ok, own.international.total),
            (0, 2),
            "the terrestrial uplinks only"
        );
        let dish = &summaries[&sat][&bucket];
        assert_eq!(
            (dish.international.ok, dish.international.total),
            (2, 2),
            "the dish's own timeline"
        );
        assert_eq!(summaries.get(&p.probe_id), expected.get(&p.probe_id));
        assert_eq!(summaries.get(&sat), expected.get(&sat));
    }
}

/// The materialised summaries (`store::aggregates`) equal the fold of the raw rows over the same window, however
/// the data came: before the first read, late into buckets already materialised, retried, written by two
/// collectors at once, re-timed when its boot's anchor arrived, in buckets before the materialised ones; for
/// windows not aligned to buckets, far before the kept ones, and longer buckets merged from the kept ones. A reader
/// that accepts stale summaries is served them without a refresh.
async fn materialised_summaries(store: &dyn Store, twin: &dyn Store) {
    let t1 = t0() + Duration::days(2);
    let at = |s: i64| t1 + Duration::seconds(s);
    let (p, q) = (
        register(store, "prb-aggregate1", 20).await,
        register(store, "prb-aggregate2", 21).await,
    );
    let intl = ("http://10.60.0.10/", "international", "anchors");
    let dom = ("http://10.41.0.10/", "domestic", "anchors");
    let site = ("http://news.example/", "international", "citizenlab-global");
    let tcp = |ok: bool, rtt: f64| {
        if ok {
            format!(r#"{{"outcome":"ok","ip":"10.60.0.10","port":80,"rtt_ms":{rtt}}}"#)
        } else {
            r#"{"outcome":"timeout","ip":"10.60.0.10","port":80}"#.to_owned()
        }
    };
    let vitals = |battery: bool| {
        format!(
            r#"{{"outcome":"ok","boot_id":"boot-1","uptime_s":100,"power":{{"ac_online":{},"on_battery":{battery},"battery_pct":50}},"gateway_reachable":true,"link_up":true,"last_gasp":false,"spool_depth":0}}"#,
            !battery
        )
    };
    let blockpage =
        r#"{"outcome":"blockpage","url":"http://news.example/","status":200,"fingerprint":"vigil.ir_iframe"}"#;
    let minutes = |from: i64, n: i64| -> Vec<Measurement> {
        (from..from + n)
            .flat_map(|m| {
                vec![
                    shaped("tcp", intl, &tcp(m % 3 != 0, 70.0 + m as f64), at(m * 60 + 5), None),
                    shaped("tcp", dom, &tcp(true, 3.0), at(m * 60 + 6), None),
                    shaped(
                        "vitals",
                        ("self", "local", "vitals"),
                        &vitals(m % 2 == 0),
                        at(m * 60 + 7),
                        None,
                    ),
                    shaped("http", site, blockpage, at(m * 60 + 8), None),
                ]
            })
            .collect()
    };
    let agree = |from: DateTime<Utc>, to: DateTime<Utc>, what: &'static str| async move {
        let aggregated = aggregates::bucket_summaries(store, from, to, 60, aggregates::Reader::latest(60))
            .await
            .expect("aggregated summaries");
        let raw = store.bucket_summaries(from, to, 60).await.expect("raw fold");
        assert!(!raw.is_empty(), "{what}: the window has data");
        assert_eq!(aggregated, raw, "{what}: materialised summaries equal the raw fold");
        aggregated
    };

    // Before the first read: ten minutes of two probes.
    let first = minutes(0, 10);
    store
        .write_batches(vec![batch(&p, first.clone()), batch(&q, minutes(0, 10))])
        .await
        .expect("writes");
    agree(t1, at(600), "first read").await;
    let state = store
        .aggregate_state(60)
        .await
        .expect("state")
        .expect("a materialisation exists");
    assert_eq!(state.covered_from, t1.timestamp() / 60);
    let bucket2 = t1.timestamp() / 60 + 2;
    let stored = store.stored_partials(60, bucket2..bucket2 + 1).await.expect("stored");
    assert_eq!(stored.len(), 2, "both probes' bucket is materialised");

    // Late data into a materialised bucket and past the window, and a retry of the first batch.
    let late = vec![
        shaped("tcp", intl, &tcp(false, 0.0), at(2 * 60 + 30), None),
        shaped(
            "http",
            ("http://video.example/", "international", "citizenlab-global"),
            r#"{"outcome":"reset","url":"http://video.example/","status":null}"#,
            at(2 * 60 + 31),
            None,
        ),
        shaped("tcp", intl, &tcp(true, 99.0), at(15 * 60), None),
    ];
    let outcomes = store
        .write_batches(vec![batch(&p, late), batch(&p, first)])
        .await
        .expect("writes");
    assert_eq!(outcomes[1].accepted, 0, "the retry adds nothing");
    let summaries = agree(t1, at(20 * 60), "late data and a retry").await;
    assert_eq!(summaries[&p.probe_id][&bucket2].international.total, 2);
    let stored = store.stored_partials(60, bucket2..bucket2 + 1).await.expect("stored");
    assert_eq!(
        stored[&(p.probe_id.clone(), bucket2)].summary.international.total,
        2,
        "the refresh recomputed the bucket that received late data"
    );

    // Two collectors accept the same batch at the same moment: it is counted once.
    let twice = minutes(11, 3);
    let (a, b) = tokio::join!(
        store.write_batches(vec![batch(&q, twice.clone())]),
        twin.write_batches(vec![batch(&q, twice)])
    );
    a.expect("writes");
    b.expect("writes");
    agree(t1, at(20 * 60), "one batch through two collectors").await;

    // An unsynced clock, placed when its boot's anchor arrives later.
    let unsynced = shaped(
        "tcp",
        intl,
        &tcp(true, 55.0),
        Utc.timestamp_opt(10, 0).single().expect("t"),
        Some(("boot-u", 1_000, false)),
    );
    store
        .write_batches(vec![batch(&p, vec![unsynced])])
        .await
        .expect("writes");
    agree(t1, at(20 * 60), "pending").await;
    let anchor = shaped(
        "tcp",
        dom,
        &tcp(true, 3.0),
        at(4 * 60 + 40),
        Some(("boot-u", 31_000, true)),
    );
    store
        .write_batches(vec![batch(&p, vec![anchor])])
        .await
        .expect("writes");
    let summaries = agree(t1, at(20 * 60), "re-timed").await;
    assert_eq!(
        summaries[&p.probe_id][&(t1.timestamp() / 60 + 4)].international.total,
        2,
        "the re-timed reading landed 30 s before its anchor"
    );

    // Windows that start and end inside buckets.
    agree(at(30), at(9 * 60 + 30), "unaligned window").await;
    agree(at(61), at(119), "inside one bucket").await;

    // Buckets before the materialised ones: computed once, then kept.
    store
        .write_batches(vec![batch(&q, minutes(-8, 4))])
        .await
        .expect("writes");
    agree(at(-10 * 60), at(20 * 60), "earlier buckets").await;
    let state = store
        .aggregate_state(60)
        .await
        .expect("state")
        .expect("a materialisation exists");
    assert_eq!(state.covered_from, t1.timestamp() / 60 - 10);
    store
        .write_batches(vec![batch(
            &q,
            vec![shaped("tcp", intl, &tcp(false, 0.0), at(-7 * 60 + 50), None)],
        )])
        .await
        .expect("writes");
    agree(at(-10 * 60), at(20 * 60), "late data into earlier buckets").await;

    // Longer buckets merge the kept one-minute summaries; a length that is not a multiple folds raw rows.
    for secs in [120, 300, 90] {
        let (from, to) = (at(-10 * 60), at(20 * 60));
        let merged = aggregates::bucket_summaries(store, from, to, secs, aggregates::Reader::latest(60))
            .await
            .expect("aggregated summaries");
        assert_eq!(
            merged,
            store.bucket_summaries(from, to, secs).await.expect("raw fold"),
            "{secs} s buckets"
        );
    }
    for secs in [120, 300, 90] {
        assert!(
            store.aggregate_state(secs).await.expect("state").is_none(),
            "only the base length is materialised, not {secs} s"
        );
    }

    // A window far before the kept buckets is folded from raw rows, and the coverage stays where it was.
    let old = vec![shaped("tcp", intl, &tcp(true, 60.0), at(-3 * 3600), None)];
    store.write_batches(vec![batch(&q, old)]).await.expect("writes");
    agree(at(-3 * 3600 - 60), at(-3 * 3600 + 120), "an old window").await;
    let state = store
        .aggregate_state(60)
        .await
        .expect("state")
        .expect("a materialisation exists");
    assert_eq!(
        state.covered_from,
        t1.timestamp() / 60 - 10,
        "not extended back three hours"
    );

    // A reader that accepts stale summaries does not refresh; one that wants the latest does.
    let bucket15 = t1.timestamp() / 60 + 15;
    let fresh_data = vec![shaped("tcp", dom, &tcp(true, 3.0), at(15 * 60 + 20), None)];
    store.write_batches(vec![batch(&q, fresh_data)]).await.expect("writes");
    let patient = aggregates::Reader {
        base_secs: 60,
        max_staleness_us: 3_600_000_000,
    };
    let stale = aggregates::bucket_summaries(store, t1, at(20 * 60), 60, patient)
        .await
        .expect("summaries");
    assert!(
        !stale.get(&q.probe_id).is_some_and(|b| b.contains_key(&bucket15)),
        "a reader content with an hour-old refresh did not refresh"
    );
    let fresh = agree(t1, at(20 * 60), "after the stale read").await;
    assert_eq!(fresh[&q.probe_id][&bucket15].domestic.total, 1);
}

/// Keys round-trip through registration and replacement; a signed batch's exact bytes and signature are kept
/// once however often it is retried, and read back by time and probe.
async fn signed_batches(store: &dyn Store) {
    let key = signature::public_key_of(&[5; 32]);
    let p = store
        .register_probe(NewProbe {
            probe_id: "prb-signed0001".to_owned(),
            profile: ProbeProfile {
                name: "signer".to_owned(),
                country: "XL".to_owned(),
                asn: 64501,
                region: None,
                access: AccessType::Fixed,
                ups: false,
            },
            token_hash: TokenHash([40; 32]),
            public_key: Some(key),
            created_at: t0(),
        })
        .await
        .expect("registers");
    assert_eq!(p.public_key, Some(key));
    let found = store
        .probe_by_token(TokenHash([40; 32]))
        .await
        .expect("reads")
        .expect("found");
    assert_eq!(found.public_key, Some(key), "the key round-trips");
    let unkeyed = register(store, "prb-signed0002", 41).await;
    assert_eq!(unkeyed.public_key, None);
    let other = signature::public_key_of(&[6; 32]);
    assert!(store.set_probe_key("prb-signed0002", other).await.expect("sets"));
    assert!(!store.set_probe_key("prb-nobody", other).await.expect("unknown"));
    let found = store
        .probe_by_token(TokenHash([41; 32]))
        .await
        .expect("reads")
        .expect("found");
    assert_eq!(found.public_key, Some(other), "a key set later is read back");

    let body: &[u8] = b"\x1f\x8b binary \x00\xff body";
    let header = signature::sign(&[5; 32], body);
    let signed = SignedBody {
        digest: [9; 32],
        signature: signature::parse_signature(&header).expect("parses"),
        public_key: key,
        encoding: "gzip".to_owned(),
        body: bytes::Bytes::from_static(body),
    };
    let m = measurement("tcp", t0(), None);
    let mut first = batch(&p, vec![m]);
    first.signed = Some(signed.clone());
    store.write_batches(vec![first.clone()]).await.expect("writes");
    let mut retry = first.clone();
    retry.received_at += Duration::minutes(5);
    store.write_batches(vec![retry]).await.expect("a retry writes");
    let all = store
        .signed_batches(SignedBatchQuery {
            probe_id: Some("prb-signed0001".into()),
            ..SignedBatchQuery::default()
        })
        .await
        .expect("reads");
    assert_eq!(all.len(), 1, "a retried batch is kept once: {all:?}");
    assert_eq!(
        all[0].signed, signed,
        "bytes, digest, key and signature round-trip exactly"
    );
    assert_eq!((all[0].probe_id.as_str(), all[0].measurements), ("prb-signed0001", 1));
    assert_eq!(all[0].received_at, first.received_at, "the first receipt is kept");
    assert!(key.verify_raw(&all[0].signed.body, &all[0].signed.signature).is_ok());
    let window = |from: DateTime<Utc>, to: DateTime<Utc>| SignedBatchQuery {
        probe_id: None,
        from: Some(from),
        to: Some(to),
    };
    let later = t0() + Duration::hours(2);
    assert!(
        store
            .signed_batches(window(later, later + Duration::hours(1)))
            .await
            .expect("reads")
            .is_empty()
    );
    let around = store.signed_batches(window(t0(), later)).await.expect("reads");
    assert!(around.iter().any(|b| b.probe_id == "prb-signed0001"));
}

fn delivery(hook: &str, id: &str, seq: i64) -> vigil_collector::OutboxEntry {
    vigil_collector::OutboxEntry {
        hook: hook.to_owned(),
        delivery: id.to_owned(),
        seq,
        body: format!("{{\"delivery\":\"{id}\"}}"),
        attempts: 0,
        next_attempt_ms: 0,
    }
}

/// The webhook outbox: queue order per hook, a delivery queued once however often it is pushed (even after it
/// was delivered), attempts recorded, the bound dropping the oldest.
async fn webhook_outbox(store: &dyn Store) {
    let ids = |rows: &[vigil_collector::OutboxEntry]| rows.iter().map(|r| r.delivery.clone()).collect::<Vec<_>>();
    let (a, b) = ("http://127.0.0.1:9/a", "http://127.0.0.1:9/b");
    let dropped = store
        .outbox_push(
            vec![delivery(a, "d2", 20), delivery(a, "d1", 10), delivery(b, "x1", 5)],
            100,
        )
        .await
        .expect("pushes");
    assert_eq!(dropped, 0);
    assert_eq!(ids(&store.outbox_pending(a, 10).await.expect("reads")), ["d1", "d2"]);
    assert_eq!(ids(&store.outbox_pending(b, 10).await.expect("reads")), ["x1"]);
    assert_eq!(ids(&store.outbox_pending(a, 1).await.expect("reads")), ["d1"]);
    // The same transition computed again (a restart between queueing and saving) is not queued twice.
    store
        .outbox_push(vec![delivery(a, "d1", 30)], 100)
        .await
        .expect("pushes");
    assert_eq!(ids(&store.outbox_pending(a, 10).await.expect("reads")), ["d1", "d2"]);
    store
        .outbox_retry_at(a, "d1", 3, 1_700_000_000_000)
        .await
        .expect("records the attempt");
    let head = store.outbox_pending(a, 1).await.expect("reads").remove(0);
    assert_eq!((head.attempts, head.next_attempt_ms), (3, 1_700_000_000_000));
    assert_eq!(head.body, "{\"delivery\":\"d1\"}");
    store.outbox_finish(a, "d1").await.expect("finishes");
    assert_eq!(ids(&store.outbox_pending(a, 10).await.expect("reads")), ["d2"]);
    // Delivered, then computed again: still not queued again.
    store
        .outbox_push(vec![delivery(a, "d1", 40)], 100)
        .await
        .expect("pushes");
    assert_eq!(ids(&store.outbox_pending(a, 10).await.expect("reads")), ["d2"]);
    // Bounded: three more with room for two keeps the newest two.
    let dropped = store
        .outbox_push(
            vec![delivery(a, "d3", 50), delivery(a, "d4", 60), delivery(a, "d5", 70)],
            2,
        )
        .await
        .expect("pushes");
    assert_eq!(dropped, 2);
    assert_eq!(ids(&store.outbox_pending(a, 10).await.expect("reads")), ["d4", "d5"]);
    assert_eq!(
        ids(&store.outbox_pending(b, 10).await.expect("reads")),
        ["x1"],
        "another hook's queue is its own"
    );
}

async fn suite(store: Arc<dyn Store>, twin: Arc<dyn Store>) {
    store.health().await.expect("healthy");
    registry(&*store).await;
    ingest_and_queries(&*store).await;
    large_calls(&*store).await;
    retiming(&*store).await;
    events(&*store).await;
    reviews(&*store).await;
    presence(&*store).await;
    bucket_summaries(&*store).await;
    materialised_summaries(&*store, &*twin).await;
    uplink_timelines(&*store).await;
    arrivals(&*store).await;
    signed_batches(&*store).await;
    webhook_outbox(&*store).await;
}

#[tokio::test]
async fn the_embedded_store_conforms() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = StoreSpec::Sqlite(dir.path().join("vigil.db"));
    let store = open_store(&spec).await.expect("opens");
    let twin = open_store(&spec).await.expect("opens a second handle");
    suite(store, twin).await;
}

#[tokio::test]
async fn the_clickhouse_store_conforms() {
    let server = ClickHouseServer::start_logging_queries();
    let spec = server.spec("conformance");
    let store = open_store(&spec).await.expect("opens");
    let twin = open_store(&spec).await.expect("opens a second collector's handle");
    suite(store, twin).await;
    // What the suite ran on Debian's 18.16 must run, and read the same rows, on a current release.
    let (setup, queries) = current_release::from_log(&server);
    assert!(
        setup.len() >= 10 && queries.len() >= 40,
        "the suite's queries were logged: {} DDL, {} queries",
        setup.len(),
        queries.len()
    );
    let compared = current_release::replay(&server, "conformance", &setup, &queries);
    assert!(compared >= 30, "answers compared: {compared}");
}
