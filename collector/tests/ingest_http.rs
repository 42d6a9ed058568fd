//! Ingest through the real HTTP server on loopback: happy paths, retries, the bad-input matrix, auth, overload.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{Answer, TestCollector, batch, gzip, line, quiet_config, zstd};
use vigil_collector::CollectorConfig;
use vigil_collector::{MeasurementQuery, TimeSource};
use vigil_measurement::Kind;

fn small_limits() -> CollectorConfig {
    let mut config = CollectorConfig::default();
    config.ingest.max_body_bytes = 256 << 10;
    config.ingest.max_decoded_bytes = 1 << 20;
    config.ingest.max_line_bytes = 8 << 10;
    config.ingest.max_lines = 500;
    config
}

#[tokio::test]
async fn plain_gzip_and_zstd_batches_are_stored_with_the_probes_identity() {
    let c = TestCollector::start().await;
    let (probe_id, token) = c.add_probe("p1").await;
    let (ids, body) = batch(60);
    let a = c.post(Some(&token), None, body).await;
    assert_eq!(
        (a.status, a.json.clone()),
        (200, serde_json::json!({"accepted": 60, "duplicates": 0}))
    );
    let (_, body) = batch(60);
    let a = c.post(Some(&token), Some("gzip"), gzip(&body)).await;
    assert_eq!((a.status, a.json["accepted"].as_u64()), (200, Some(60)), "{:?}", a.json);
    let (_, body) = batch(60);
    let a = c.post(Some(&token), Some("zstd"), zstd(&body)).await;
    assert_eq!((a.status, a.json["accepted"].as_u64()), (200, Some(60)), "{:?}", a.json);
    assert_eq!(c.stored().await, 180);

    let first = c
        .store
        .measurements(MeasurementQuery {
            ids: Some(ids.clone()),
            ..Default::default()
        })
        .await
        .expect("read back");
    assert_eq!(first.len(), 60);
    assert!(
        first
            .iter()
            .all(|m| m.probe_id == probe_id && m.time_source == TimeSource::Probe)
    );
    for kind in Kind::ALL {
        let n = c
            .store
            .count_measurements(MeasurementQuery {
                kind: Some(kind),
                ..Default::default()
            })
            .await
            .expect("count");
        assert_eq!(n, 30, "{kind}");
    }
    c.stop().await;
}

#[tokio::test]
async fn retrying_a_batch_reports_duplicates_and_stores_nothing_twice() {
    let c = TestCollector::start().await;
    let (_, token) = c.add_probe("p1").await;
    let (_, body) = batch(40);
    assert_eq!(c.post(Some(&token), None, body.clone()).await.json["accepted"], 40);
    let again = c.post(Some(&token), Some("gzip"), gzip(&body)).await;
    assert_eq!(
        (again.status, again.json.clone()),
        (200, serde_json::json!({"accepted": 0, "duplicates": 40}))
    );
    // A batch mixing new lines, old lines and a line repeated within itself.
    let (_, fresh) = line("tcp");
    let mut mixed = body[..body.iter().position(|&b| b == b'\n').expect("a newline") + 1].to_vec();
    mixed.extend_from_slice(format!("{fresh}\n{fresh}\n").as_bytes());
    let a = c.post(Some(&token), None, mixed).await;
    assert_eq!(a.json, serde_json::json!({"accepted": 1, "duplicates": 2}));
    assert_eq!(c.stored().await, 41);
    c.stop().await;
}

#[tokio::test]
async fn one_probe_cannot_write_as_another() {
    let c = TestCollector::start().await;
    let (alice, alice_token) = c.add_probe("alice").await;
    let (bob, bob_token) = c.add_probe("bob").await;
    let (alice_ids, body) = batch(5);
    c.post(Some(&alice_token), None, body.clone()).await;
    // Bob replays Alice's exact batch: the ids exist, so nothing is stored under his name or hers twice.
    let a = c.post(Some(&bob_token), None, body).await;
    assert_eq!(a.json, serde_json::json!({"accepted": 0, "duplicates": 5}));
    let (bob_ids, body) = batch(3);
    c.post(Some(&bob_token), None, body).await;
    let rows = c.store.measurements(MeasurementQuery::default()).await.expect("read");
    for row in rows {
        let id = row.measurement.id;
        let owner = if alice_ids.contains(&id) {
            &alice
        } else {
            assert!(bob_ids.contains(&id));
            &bob
        };
        assert_eq!(&row.probe_id, owner);
    }
    c.stop().await;
}

struct BadCase {
    name: &'static str,
    token: TokenChoice,
    encoding: Option<&'static str>,
    content_type: &'static str,
    body: Vec<u8>,
    status: u16,
    reason: &'static str,
    line: Option<u64>,
}

#[derive(Clone, Copy)]
enum TokenChoice {
    Good,
    Missing,
    Unknown,
    Revoked,
}

fn with_good_first(bad: &str) -> Vec<u8> {
    let (_, good) = line("vitals");
    format!("{good}\n{bad}\n").into_bytes()
}

fn bad_cases() -> Vec<BadCase> {
    let (_, good) = line("tcp");
    let good_body = format!("{good}\n").into_bytes();
    let case = |name, body, status, reason, line| BadCase {
        name,
        token: TokenChoice::Good,
        encoding: None,
        content_type: "application/x-ndjson",
        body,
        status,
        reason,
        line,
    };
    let bomb = gzip(&vec![b' '; 32 << 20]);
    let truncated = {
        let (_, body) = batch(200);
        let gz = gzip(&body);
        gz[..gz.len() / 2].to_vec()
    };
    let long_name = "x".repeat(9000);
    vec![
        case(
            "invalid JSON",
            with_good_first(r#"{"schema":1,"id":"#),
            400,
            "malformed JSON",
            Some(2),
        ),
        case(
            "unknown kind",
            with_good_first(&good.replace(r#""kind":"tcp""#, r#""kind":"smtp""#)),
            400,
            "unknown variant `smtp`",
            Some(2),
        ),
        case(
            "wrong schema version",
            with_good_first(&good.replace(r#""schema":1"#, r#""schema":7"#)),
            400,
            "unsupported schema version 7",
            Some(2),
        ),
        case(
            "missing field",
            with_good_first(&good.replace(r#","port":443"#, "")),
            400,
            "missing field `port`",
            Some(2),
        ),
        case(
            "bad UUID",
            with_good_first(&good.replacen(r#""id":""#, r#""id":"zz"#, 1)),
            400,
            "UUID",
            Some(2),
        ),
        case(
            "UUID of version 4",
            with_good_first(&good.replacen(r#""id":""#, r#""id":"00000000-0000-4000-8000-000000000000","x":""#, 1)),
            400,
            "not a UUIDv7",
            Some(2),
        ),
        case(
            "time before 2020",
            with_good_first(&replace_time(&good, "2019-06-01T00:00:00Z")),
            400,
            "before 2020",
            Some(2),
        ),
        case(
            "time far in the future",
            with_good_first(&replace_time(&good, "2099-01-01T00:00:00Z")),
            400,
            "ahead of the collector's clock",
            Some(2),
        ),
        case(
            "oversized line",
            with_good_first(&good.replace("example.org", &long_name)),
            400,
            "line 2 is",
            Some(2),
        ),
        case("too many lines", batch(501).1, 413, "more than 500 lines", None),
        case("oversized body", gzip_free_body(300 << 10), 413, "larger than", None),
        case("empty body", Vec::new(), 400, "empty batch", None),
        BadCase {
            encoding: Some("gzip"),
            ..case("gzip bomb", bomb, 413, "decompresses to more than", None)
        },
        BadCase {
            encoding: Some("gzip"),
            ..case("truncated gzip", truncated, 400, "truncated", None)
        },
        BadCase {
            encoding: Some("br"),
            ..case(
                "unsupported encoding",
                good_body.clone(),
                415,
                "unsupported Content-Encoding",
                None,
            )
        },
        BadCase {
            content_type: "text/plain",
            ..case(
                "wrong content type",
                good_body.clone(),
                415,
                "application/x-ndjson",
                None,
            )
        },
        BadCase {
            token: TokenChoice::Missing,
            ..case("missing token", good_body.clone(), 401, "missing `Authorization", None)
        },
        BadCase {
            token: TokenChoice::Unknown,
            ..case("unknown token", good_body.clone(), 401, "unknown probe token", None)
        },
        BadCase {
            token: TokenChoice::Revoked,
            ..case("revoked token", good_body, 401, "revoked", None)
        },
    ]
}

fn replace_time(line: &str, time: &str) -> String {
    let start = line.find(r#""started_at":""#).expect("has started_at") + r#""started_at":""#.len();
    let end = start + line[start..].find('"').expect("closing quote");
    format!("{}{}{}", &line[..start], time, &line[end..])
}

/// Valid lines adding up to more than `bytes`, uncompressed.
fn gzip_free_body(bytes: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() <= bytes {
        body.extend_from_slice(line("dns").1.as_bytes());
        body.push(b'\n');
    }
    body
}

#[tokio::test]
async fn every_bad_input_gets_its_status_and_reason_and_stores_nothing() {
    let c = TestCollector::start_with(small_limits()).await;
    let (_, good) = c.add_probe("good").await;
    let (revoked_id, revoked) = c.add_probe("revoked").await;
    assert!(c.store.revoke_probe(&revoked_id).await.expect("revoke"));
    for case in bad_cases() {
        let token = match case.token {
            TokenChoice::Good => Some(good.clone()),
            TokenChoice::Missing => None,
            TokenChoice::Unknown => Some("vgl_0000".to_owned()),
            TokenChoice::Revoked => Some(revoked.clone()),
        };
        let mut req = c
            .client
            .post(c.url("/api/v1/measurements"))
            .header("content-type", case.content_type)
            .body(case.body);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        if let Some(encoding) = case.encoding {
            req = req.header("content-encoding", encoding);
        }
        let a = common::Answer::read(req.send().await.expect("request completes")).await;
        assert_eq!(a.status, case.status, "{}: {:?}", case.name, a.json);
        assert!(
            a.error().contains(case.reason),
            "{}: reason {:?} lacks {:?}",
            case.name,
            a.error(),
            case.reason
        );
        assert_eq!(a.json["line"].as_u64(), case.line, "{}: {:?}", case.name, a.json);
        assert_eq!(c.stored().await, 0, "{} stored something", case.name);
    }
    c.stop().await;
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_its_next_batch() {
    let c = TestCollector::start().await;
    let (probe_id, token) = c.add_probe("p1").await;
    assert_eq!(c.post(Some(&token), None, batch(2).1).await.status, 200);
    assert!(c.store.revoke_probe(&probe_id).await.expect("revoke"));
    let a = c.post(Some(&token), None, batch(2).1).await;
    assert_eq!(a.status, 401, "{:?}", a.json);
    assert_eq!(c.stored().await, 2);
    c.stop().await;
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after_and_the_held_batch_still_lands() {
    let mut config = CollectorConfig::default();
    config.ingest.max_inflight_batches = 1;
    config.ingest.retry_after_secs = 7;
    let c = TestCollector::start_with(config).await;
    let (_, token) = c.add_probe("p1").await;
    let (_, held_body) = batch(3);

    // Hold the only slot: send headers and half the body over a raw socket, then stall.
    let addr = c.addr;
    let head = format!(
        "POST /api/v1/measurements HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        held_body.len()
    );
    let half = held_body.len() / 2;
    let stall = || {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.write_all(head.as_bytes()).expect("send head");
        s.write_all(&held_body[..half]).expect("send half");
        s.set_nonblocking(true).expect("non-blocking");
        s
    };
    let mut stalled = stall();

    // Until the stalled request is admitted, probes still get through; once it is, the queue is full. A probe
    // holds the slot briefly too: if the stalled request came in just then, it was refused (and answered) —
    // open another.
    let deadline = Instant::now() + Duration::from_secs(20);
    let full = loop {
        let a = c.post(Some(&token), None, batch(1).1).await;
        if a.status == 503 {
            break a;
        }
        assert_eq!(a.status, 200, "{:?}", a.json);
        let mut peek = [0u8; 1];
        match stalled.read(&mut peek) {
            Ok(_) => stalled = stall(),
            Err(err) => assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "{err}"),
        }
        assert!(Instant::now() < deadline, "the queue never filled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stalled.set_nonblocking(false).expect("blocking");
    assert_eq!(full.retry_after.as_deref(), Some("7"));
    assert!(full.error().contains("queue is full"), "{:?}", full.json);
    let before = c.stored().await;

    // Finish the stalled body: it is stored and answered, and the slot is free again.
    let reply = tokio::task::spawn_blocking(move || {
        stalled.write_all(&held_body[half..]).expect("send rest");
        let mut reply = String::new();
        stalled.read_to_string(&mut reply).expect("read reply");
        reply
    })
    .await
    .expect("socket task");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains(r#"{"accepted":3,"duplicates":0}"#), "{reply}");
    assert_eq!(c.stored().await, before + 3);
    assert_eq!(c.post(Some(&token), None, batch(1).1).await.status, 200);
    c.stop().await;
}

#[tokio::test]
async fn public_probe_list_shows_placement_but_no_names_or_secrets() {
    let c = TestCollector::start().await;
    let (probe_id, token) = c.add_probe("alice-home-street-12").await;
    c.post(Some(&token), None, batch(1).1).await;
    let list = c.get_json("/api/v1/probes").await;
    let probes = list.as_array().expect("an array");
    assert_eq!(probes.len(), 1);
    let p = probes[0].as_object().expect("an object");
    let mut keys: Vec<&str> = p.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["access", "active", "asn", "country", "last_seen", "probe_id", "region"]
    );
    assert_eq!(p["probe_id"], probe_id.as_str());
    assert!(p["last_seen"].as_str().is_some_and(|t| t.ends_with('Z')));
    let text = list.to_string();
    assert!(!text.contains("alice") && !text.contains(&token[4..20]), "{text}");
    assert!(
        p["region"].is_null(),
        "a region only one volunteer is in is not named: {text}"
    );
    // Once three probes share the region, it is named.
    c.add_probe("bob").await;
    c.add_probe("carol").await;
    let list = c.get_json("/api/v1/probes").await;
    assert!(
        list.as_array().expect("array").iter().all(|p| p["region"] == "Tehran"),
        "{list}"
    );
    c.stop().await;
}

#[tokio::test]
async fn healthz_answers_ok() {
    let c = TestCollector::start().await;
    let resp = c.client.get(c.url("/healthz")).send().await.expect("get");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.json::<serde_json::Value>().await.expect("json")["status"], "ok");
    c.stop().await;
}

#[tokio::test]
async fn unsynced_measurements_wait_for_an_anchor_and_are_then_retimed() {
    let c = TestCollector::start().await;
    let (_, token) = c.add_probe("rtc-less pi").await;
    let (pending_id, pending) = line("vitals");
    let pending = replace_time(&pending, "1970-01-01T00:01:40Z").replace(
        r#""target""#,
        r#""clock":{"synced":false,"boot_id":"boot-7","mono_ms":100000},"target""#,
    );
    assert_eq!(
        c.post(Some(&token), None, format!("{pending}\n").into_bytes())
            .await
            .status,
        200
    );
    let row = |id| {
        let store = std::sync::Arc::clone(&c.store);
        async move {
            store
                .measurements(MeasurementQuery {
                    ids: Some(vec![id]),
                    ..Default::default()
                })
                .await
                .expect("read")
                .pop()
                .expect("stored")
        }
    };
    let stored = row(pending_id).await;
    assert_eq!((stored.time_source, stored.started_at), (TimeSource::Pending, None));

    // NTP catches up: a synced measurement of the same boot, 50 s later on the monotonic clock.
    let (_, anchor) = line("tcp");
    let anchor = replace_time(&anchor, "2026-11-23T09:00:50Z").replace(
        r#""target""#,
        r#""clock":{"synced":true,"boot_id":"boot-7","mono_ms":150000},"target""#,
    );
    let (late_id, late) = line("icmp");
    let late = replace_time(&late, "1970-01-01T00:03:20Z").replace(
        r#""target""#,
        r#""clock":{"synced":false,"boot_id":"boot-7","mono_ms":200000},"target""#,
    );
    let a = c
        .post(Some(&token), None, format!("{anchor}\n{late}\n").into_bytes())
        .await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    let retimed = row(pending_id).await;
    assert_eq!(retimed.time_source, TimeSource::Retimed);
    assert_eq!(
        retimed.started_at.map(|t| t.to_rfc3339()),
        Some("2026-11-23T09:00:00+00:00".to_owned())
    );
    let late = row(late_id).await;
    assert_eq!(late.time_source, TimeSource::Retimed);
    assert_eq!(
        late.started_at.map(|t| t.to_rfc3339()),
        Some("2026-11-23T09:01:40+00:00".to_owned())
    );
    c.stop().await;
}

#[tokio::test]
async fn a_probe_over_its_quota_gets_429_and_when_to_return_while_others_go_on() {
    let mut config = CollectorConfig::default();
    config.ingest.probe_batches_per_minute = 120;
    config.ingest.probe_measurements_per_minute = 0;
    let c = TestCollector::start_with(config).await;
    let (_, busy) = c.add_probe("busy").await;
    let (_, other) = c.add_probe("other").await;
    // A minute's quota may come at once (a spool draining after a cut), then the probe must pace itself. The
    // quota refills one batch every half second while the test posts, so how many more get in depends on how
    // fast this machine is: the bound is the quota plus what refilled in the time taken.
    let started = Instant::now();
    let mut accepted = 0_u64;
    let refused = loop {
        let a = c.post(Some(&busy), None, batch(1).1).await;
        if a.status != 200 {
            break a;
        }
        accepted += 1;
        let refilled = (started.elapsed().as_millis() / 500) as u64;
        assert!(
            accepted <= 120 + refilled + 1,
            "{accepted} batches accepted in {:?}",
            started.elapsed()
        );
    };
    assert!(accepted >= 120, "refused after only {accepted} batches");
    assert_eq!(refused.status, 429, "{:?}", refused.json);
    assert!(refused.error().contains("too many batches"), "{:?}", refused.json);
    let wait: u64 = refused
        .retry_after
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=2).contains(&wait), "one batch every half second: {wait}");
    assert_eq!(c.stored().await, accepted, "nothing of the refused batch was stored");
    assert_eq!(
        c.post(Some(&other), None, batch(1).1).await.status,
        200,
        "another probe is unaffected"
    );
    // Told when to come back, it is accepted then.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_secs(wait)).await;
        let a = c.post(Some(&busy), None, batch(1).1).await;
        if a.status == 200 {
            break;
        }
        assert_eq!(a.status, 429, "{:?}", a.json);
        assert!(Instant::now() < deadline, "still refused after waiting as told");
    }
    c.stop().await;
}

#[tokio::test]
async fn measurements_are_counted_against_the_probes_quota() {
    let mut config = CollectorConfig::default();
    config.ingest.probe_batches_per_minute = 0;
    config.ingest.probe_measurements_per_minute = 10;
    let c = TestCollector::start_with(config).await;
    let (_, token) = c.add_probe("p1").await;
    assert_eq!(c.post(Some(&token), None, batch(6).1).await.status, 200);
    let over = c.post(Some(&token), None, batch(6).1).await;
    assert_eq!(over.status, 429, "{:?}", over.json);
    assert!(over.retry_after.is_some());
    let huge = c.post(Some(&token), None, batch(11).1).await;
    assert_eq!(
        huge.status, 413,
        "a batch larger than a minute's quota: the probe splits it"
    );
    assert!(
        huge.error().contains("more measurements than the 10"),
        "{:?}",
        huge.json
    );
    assert_eq!(c.stored().await, 6);
    c.stop().await;
}

#[tokio::test]
async fn a_body_that_trickles_in_gets_408_and_frees_its_slot() {
    let mut config = CollectorConfig::default();
    config.ingest.body_timeout_secs = 1;
    config.ingest.max_inflight_batches = 1;
    let c = TestCollector::start_with(config).await;
    let (_, token) = c.add_probe("slow").await;
    let (_, body) = batch(3);
    let addr = c.addr;
    let reply = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
        let head = format!(
            "POST /api/v1/measurements HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).expect("send head");
        s.write_all(&body[..10]).expect("send a little");
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        (reply, token)
    })
    .await
    .expect("socket task");
    let (reply, token) = reply;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("body_timeout"), "{reply}");
    // The only ingest slot is free again.
    assert_eq!(c.post(Some(&token), None, batch(1).1).await.status, 200);
    assert_eq!(c.stored().await, 1);
    c.stop().await;
}

#[tokio::test]
async fn a_batch_carrying_the_probes_own_address_is_refused_naming_it_and_stores_nothing() {
    let mut config = quiet_config();
    // The test's client is on loopback; as if behind a reverse proxy there, the probe's address is the
    // forwarded one.
    config.ingest.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    let c = TestCollector::start_with(config).await;
    let (_, token) = c.add_probe("behind-nat").await;
    let (_, clean) = line("tcp");
    let (_, trace) = line("trace");
    let leaking = trace.replace("192.168.1.1", "10.88.2.2");
    let body = format!("{clean}\n{leaking}\n");
    let post = |body: String, forwarded: &'static str| {
        c.client
            .post(c.url("/api/v1/measurements"))
            .header("content-type", "application/x-ndjson")
            .header("authorization", format!("Bearer {token}"))
            .header("x-forwarded-for", forwarded)
            .body(body)
            .send()
    };
    let answer = Answer::read(post(body.clone(), "10.88.2.2").await.expect("post")).await;
    assert_eq!(answer.status, 422, "{:?}", answer.json);
    assert_eq!(answer.json["code"], "probe_address_in_batch");
    assert_eq!(answer.json["line"], 2);
    assert_eq!(answer.json["address"], "10.88.2.2");
    assert_eq!(c.stored().await, 0, "nothing of a refused batch is stored");
    // The same batch from a probe elsewhere carries no address of its own: stored.
    let answer = Answer::read(post(body, "10.77.0.9, 127.0.0.1").await.expect("post")).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    assert_eq!(c.stored().await, 2);
    c.stop().await;
}

#[tokio::test]
async fn each_upload_records_its_carrier_and_the_network_it_arrived_from_never_its_address() {
    // An iptoasn table (gzip, as iptoasn.com ships it). The test's client is on loopback, as if behind a reverse
    // proxy there: the probe's address is the forwarded one, in AS64501.
    let dir = tempfile::tempdir().expect("tempdir");
    let table = dir.path().join("ip2asn-combined.tsv.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(
        &mut gz,
        b"10.0.0.0\t10.255.255.255\t64501\tXA\tElsewhere\n127.0.0.0\t127.255.255.255\t64500\tXA\tLoopback Net\n",
    )
    .expect("compresses");
    std::fs::write(&table, gz.finish().expect("finishes")).expect("writes");
    let mut config = quiet_config();
    config.ingest.asn_table = Some(table);
    config.ingest.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    let c = TestCollector::start_with(config).await;
    let (probe_id, token) = c.add_probe("dual-homed").await;
    let (_, clean) = line("tcp");
    let on_dish = clean.replacen(
        r#","result":"#,
        r#","uplink":{"name":"sat","access":"satellite"},"result":"#,
        1,
    );
    let post = |carrier: Option<&'static str>, body: String| {
        let mut request = c
            .client
            .post(c.url("/api/v1/measurements"))
            .header("content-type", "application/x-ndjson")
            .header("authorization", format!("Bearer {token}"))
            .header("x-forwarded-for", "10.77.0.9")
            .body(body);
        if let Some(carrier) = carrier {
            request = request.header("vigil-uplink", carrier);
        }
        request.send()
    };
    // A label that could carry where the probe is (DESIGN.md: volunteers' safety) is no uplink name.
    let answer = Answer::read(
        post(Some("dish on the roof, Tabriz"), format!("{clean}\n"))
            .await
            .expect("post"),
    )
    .await;
    assert_eq!(answer.status, 400, "{:?}", answer.json);
    assert_eq!(answer.json["code"], "bad_uplink");
    assert_eq!(c.stored().await, 0, "nothing of a refused batch is stored");
    assert!(c.store.probe_arrivals().await.expect("reads").is_empty());
    for (carrier, body) in [(None, clean.clone()), (Some("sat"), on_dish)] {
        let answer = Answer::read(post(carrier, format!("{body}\n")).await.expect("post")).await;
        assert_eq!(answer.status, 200, "{:?}", answer.json);
    }
    let arrivals = c.store.probe_arrivals().await.expect("reads");
    let seen: Vec<(Option<&str>, Option<u32>, Option<&str>)> = arrivals
        .iter()
        .map(|a| {
            assert_eq!(a.probe_id, probe_id);
            (a.carrier.as_deref(), a.asn, a.access.as_deref())
        })
        .collect();
    assert_eq!(
        seen,
        vec![(None, Some(64501), None), (Some("sat"), Some(64501), Some("satellite"))]
    );
    // The network is kept, the address is not.
    let raw = serde_json::to_string(&arrivals).expect("serialises");
    assert!(!raw.contains("10.77.0.9"), "{raw}");
    // The probe is registered on AS44244: its line's upload arriving from AS64501 says the registration is out of
    // date; the dish's upload, from whatever network, does not.
    let metrics = c
        .client
        .get(c.url("/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    let off_network: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("vigil_batches_off_network_total{"))
        .collect();
    assert_eq!(off_network.len(), 1, "{metrics}");
    assert!(
        off_network[0].contains(r#"asn="44244""#)
            && off_network[0].contains(r#"country="IR""#)
            && off_network[0].ends_with(" 1"),
        "{off_network:?}"
    );
    c.stop().await;
}
