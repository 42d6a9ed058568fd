//! A sharded, replicated ClickHouse cluster: ZooKeeper and two ClickHouse servers (two shards), the schema created
//! with `schema --cluster`, two ingest-only collectors writing into the distributed tables (a batch retried
//! through the other collector included). Every measurement is stored exactly once across the shards, and the
//! queries and the classifier give what a single server gives for the same measurements.

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use vigil_collector::ClassifierSettings;
use vigil_collector::aggregates;
use vigil_collector::classify_window;
use vigil_collector::{AccessType, ProbeProfile};
use vigil_collector::{CollectorConfig, Role, StoreSpec, open_store, register_probe};
use vigil_collector::{IngestBatch, MeasurementQuery, NewProbe, StoreError, TokenHash};
use vigil_collector::{apply_clickhouse_statements as apply_statements, clickhouse_schema as schema};
use vigil_measurement::Measurement;

use common::TestCollector;
use common::clickhouse::{ClickHouseServer, ClusterRole, free_port};
use common::zookeeper::ZooKeeper;

const BUCKET: i64 = 300;
const BUCKETS: i64 = 24;
/// Probes, sharded by their random ids: with twelve, all on one shard has odds of 1 in 2,048.
const PROBES: usize = 12;

/// What probe `p` measured in bucket `b`: vitals and two anchors — except the first half, dark in buckets 12–15.
fn measurements(p: usize, b: i64, start: DateTime<Utc>) -> Vec<Measurement> {
    if p < PROBES / 2 && (12..16).contains(&b) {
        return Vec::new();
    }
    let at = start + Duration::seconds(b * BUCKET + 10 + p as i64);
    let mono = 1_000_000 + (b * BUCKET * 1000) as u64;
    let results = [
        (
            "vitals",
            "local",
            r#"{"outcome":"ok","boot_id":"boot","uptime_s":1000,"power":{"ac_online":true,"on_battery":false,"battery_pct":null},"gateway_reachable":true,"link_up":true,"last_gasp":false,"spool_depth":0}"#,
        ),
        (
            "tcp",
            "domestic",
            r#"{"outcome":"ok","ip":"192.0.2.1","port":443,"rtt_ms":9.5}"#,
        ),
        (
            "tcp",
            "international",
            r#"{"outcome":"ok","ip":"198.51.100.1","port":443,"rtt_ms":80.0}"#,
        ),
    ];
    results
        .iter()
        .map(|(kind, scope, result)| {
            let text = format!(
                r#"{{"schema":1,"id":"{}","kind":"{kind}","started_at":"{}","duration_ms":5,"target":{{"name":"anchor","scope":"{scope}","list":"anchors"}},"clock":{{"synced":true,"boot_id":"boot-{p}","mono_ms":{mono}}},"result":{result}}}"#,
                Uuid::now_v7(),
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            );
            Measurement::from_json_slice(text.as_bytes()).expect("valid")
        })
        .collect()
}

fn ndjson(ms: &[Measurement]) -> Vec<u8> {
    ms.iter()
        .flat_map(|m| format!("{}\n", m.to_json_line()).into_bytes())
        .collect()
}

fn profile(i: usize) -> ProbeProfile {
    ProbeProfile {
        name: format!("probe {i}"),
        country: "XL".to_owned(),
        asn: 64501 + (i % 2) as u32,
        region: Some("north".to_owned()),
        access: AccessType::Fixed,
        ups: false,
    }
}

/// `SELECT count()` on one server, over HTTP.
async fn count_on(server: &ClickHouseServer, sql: &str) -> u64 {
    let client = reqwest::Client::new();
    let text = client
        .post(server.url())
        .body(sql.to_owned())
        .send()
        .await
        .expect("clickhouse answers")
        .text()
        .await
        .expect("body");
    text.trim().parse().unwrap_or_else(|_| panic!("{sql}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_shard_cluster_stores_each_measurement_once_and_classifies_like_one_server() {
    common::install_crypto_provider();
    let zk = ZooKeeper::start();
    let ports = vec![free_port(), free_port()];
    let role = |shard| ClusterRole {
        shard,
        shards: ports.clone(),
        zookeeper: zk.port,
    };
    let shard1 = ClickHouseServer::start_with(ports[0], Some(role(1)));
    let shard2 = ClickHouseServer::start_with(ports[1], Some(role(2)));
    shard1.wait_for_zookeeper();
    shard2.wait_for_zookeeper();
    if let Err(err) = apply_statements(&shard1.url(), &schema::cluster("vigil", "vigil")).await {
        panic!(
            "the cluster schema does not apply: {err}\nshard 1:\n{}\nshard 2:\n{}",
            shard1.error_log(),
            shard2.error_log()
        );
    }

    let on = |s: &ClickHouseServer| s.spec("vigil");
    let ingest = CollectorConfig {
        role: Role::Ingest,
        ..CollectorConfig::default()
    };
    let c1 = TestCollector::start_on(ingest.clone(), Some(on(&shard1))).await;
    let c2 = TestCollector::start_on(ingest, Some(on(&shard2))).await;
    let classify_only = TestCollector::start_on(
        CollectorConfig {
            role: Role::Classify,
            ..CollectorConfig::default()
        },
        Some(on(&shard2)),
    )
    .await;
    let reference_dir = tempfile::tempdir().expect("temp dir");
    let reference = open_store(&StoreSpec::Sqlite(reference_dir.path().join("vigil.db")))
        .await
        .expect("reference store");

    let mut tokens = Vec::new();
    for i in 0..PROBES {
        let issued = register_probe(c1.store.as_ref(), profile(i)).await.expect("registers");
        reference
            .register_probe(NewProbe {
                probe_id: issued.probe.probe_id.clone(),
                profile: issued.probe.profile.clone(),
                token_hash: TokenHash([i as u8; 32]),
                public_key: None,
                created_at: issued.probe.created_at,
            })
            .await
            .expect("reference registers");
        tokens.push((issued.probe, issued.token));
    }

    let now = Utc::now().timestamp();
    let start = DateTime::from_timestamp((now / BUCKET - BUCKETS - 1) * BUCKET, 0).expect("valid");
    let mut sent = BTreeSet::new();
    for b in 0..BUCKETS {
        for (i, (probe, token)) in tokens.iter().enumerate() {
            let batch = measurements(i, b, start);
            if batch.is_empty() {
                continue;
            }
            sent.extend(batch.iter().map(|m| m.id));
            let (first, other) = if (i + b as usize).is_multiple_of(2) {
                (&c1, &c2)
            } else {
                (&c2, &c1)
            };
            let answer = first.post(Some(token), None, ndjson(&batch)).await;
            assert_eq!(answer.status, 200, "{:?}", answer.json);
            if b % 7 == 0 {
                // The acknowledgement was lost: the probe retries through the other collector.
                let again = other.post(Some(token), None, ndjson(&batch)).await;
                assert_eq!(
                    again.json["duplicates"].as_u64(),
                    Some(batch.len() as u64),
                    "{:?}",
                    again.json
                );
            }
            reference
                .write_batches(vec![IngestBatch::new(probe.clone(), Utc::now(), batch, None)])
                .await
                .expect("reference writes");
        }
    }
    let n = sent.len() as u64;

    // Exactly once across the shards, and both shards hold some.
    let local_rows = "SELECT count() FROM vigil.measurements_local";
    let local = [count_on(&shard1, local_rows).await, count_on(&shard2, local_rows).await];
    assert_eq!(
        local.iter().sum::<u64>(),
        n,
        "every measurement once across shards: {local:?}"
    );
    assert!(
        local.iter().all(|c| *c > 0),
        "sharded by probe over both shards: {local:?}"
    );
    assert_eq!(
        count_on(&shard2, "SELECT uniqExact(id) FROM vigil.measurements").await,
        n
    );

    // Queries: the same measurements, in the same places, through either server.
    let window = MeasurementQuery {
        from: Some(start),
        to: Some(start + Duration::seconds(BUCKETS * BUCKET)),
        ..MeasurementQuery::default()
    };
    let placed = |rows: Vec<vigil_collector::StoredMeasurement>| -> BTreeSet<(Uuid, Option<DateTime<Utc>>)> {
        rows.into_iter().map(|r| (r.measurement.id, r.started_at)).collect()
    };
    let from_cluster = placed(c2.store.measurements(window.clone()).await.expect("reads"));
    let from_reference = placed(reference.measurements(window.clone()).await.expect("reads"));
    assert_eq!(from_cluster.len() as u64, n);
    assert_eq!(from_cluster, from_reference);
    assert_eq!(c1.store.count_measurements(window).await.expect("counts"), n);

    // The classifier: the same events from the cluster as from one server.
    let (from, to) = (start, start + Duration::seconds(BUCKETS * BUCKET));
    let settings = ClassifierSettings::default();
    let cluster_run = classify_window(classify_only.store.as_ref(), from, to, BUCKET, &settings)
        .await
        .expect("classifies the cluster");
    let reference_run = classify_window(reference.as_ref(), from, to, BUCKET, &settings)
        .await
        .expect("classifies the reference");
    assert!(!reference_run.events.is_empty(), "the dark probes make an event");
    assert_eq!(cluster_run.events, reference_run.events);

    // What those runs read: the materialised summaries, kept on both shards, equal to the raw fold of the
    // cluster's rows and of the reference's.
    let aggregated =
        aggregates::bucket_summaries(c1.store.as_ref(), from, to, BUCKET, aggregates::Reader::latest(BUCKET))
            .await
            .expect("aggregated summaries");
    let raw = c2.store.bucket_summaries(from, to, BUCKET).await.expect("raw fold");
    assert!(!raw.is_empty());
    assert_eq!(aggregated, raw);
    assert_eq!(
        aggregated,
        aggregates::bucket_summaries(reference.as_ref(), from, to, BUCKET, aggregates::Reader::latest(BUCKET))
            .await
            .expect("reference summaries")
    );
    let kept = "SELECT count() FROM vigil.bucket_summaries_local";
    let kept = [count_on(&shard1, kept).await, count_on(&shard2, kept).await];
    assert!(kept.iter().all(|c| *c > 0), "summaries on both shards: {kept:?}");

    // A classify-only instance takes no measurements; ingest-only ones do.
    let refused = classify_only
        .post(Some(&tokens[0].1), None, ndjson(&measurements(0, 0, start)))
        .await;
    assert_eq!(refused.status, 404, "a classify-only instance has no ingest route");

    // A cluster from before schema 5 (no uptime column) is not half-upgraded through one server's distributed
    // table: the collector refuses to start and says what to do.
    shard1
        .run_in("vigil", "ALTER TABLE measurements DROP COLUMN v_uptime_s")
        .expect("drops the column from shard 1's distributed table");
    match vigil_collector::ClickHouseStore::open(&shard1.url(), "vigil").await {
        Err(StoreError::UpgradeNeeded(why)) => assert!(why.contains("every server"), "{why}"),
        Err(other) => panic!("wrong refusal: {other}"),
        Ok(_) => panic!("a cluster without the uptime column was opened"),
    }
}
