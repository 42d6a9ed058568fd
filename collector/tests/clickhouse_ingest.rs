//! Ingest over HTTP into a real ClickHouse server: a batch is acknowledged only once ClickHouse holds it, a retry
//! is a duplicate, and while ClickHouse is down the collector answers 503 with Retry-After — never 200 for data
//! it did not store — and accepts the same batch once ClickHouse is back.

mod common;

use vigil_collector::CollectorConfig;
use vigil_collector::MeasurementQuery;

use common::clickhouse::ClickHouseServer;
use common::{TestCollector, batch};

#[tokio::test]
async fn acknowledged_only_when_stored_and_503_while_clickhouse_is_down() {
    let mut server = ClickHouseServer::start();
    let spec = server.spec("ingest");
    let c = TestCollector::start_on(CollectorConfig::default(), Some(spec)).await;
    let (_, token) = c.add_probe("p1").await;

    let (first_ids, first) = batch(60);
    let ok = c.post(Some(&token), None, first.clone()).await;
    assert_eq!(ok.status, 200, "{:?}", ok.json);
    assert_eq!(
        (ok.json["accepted"].as_u64(), ok.json["duplicates"].as_u64()),
        (Some(60), Some(0))
    );
    let again = c.post(Some(&token), None, first).await;
    assert_eq!(
        (again.json["accepted"].as_u64(), again.json["duplicates"].as_u64()),
        (Some(0), Some(60))
    );

    server.stop();
    let (second_ids, second) = batch(40);
    let refused = c.post(Some(&token), None, second.clone()).await;
    assert_eq!(refused.status, 503, "ClickHouse is down: {:?}", refused.json);
    assert!(refused.retry_after.is_some(), "the probe is told when to come back");

    server.restart();
    let accepted = c.post(Some(&token), None, second).await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.json);
    assert_eq!(accepted.json["accepted"].as_u64(), Some(40));

    let all: Vec<_> = first_ids.iter().chain(&second_ids).copied().collect();
    let stored = c
        .store
        .count_measurements(MeasurementQuery {
            ids: Some(all),
            ..MeasurementQuery::default()
        })
        .await
        .expect("counts");
    assert_eq!(stored, 100, "every acknowledged measurement is stored, once");
}

/// Schema 5 folded the vitals table into `measurements`: a database written by an older collector gains the
/// uptime column, its stored vitals read their uptime from their bodies, new vitals carry it, and its old vitals
/// table is set aside for a `vitals` view over measurements.
#[tokio::test]
async fn a_database_from_before_schema_5_is_upgraded() {
    let server = ClickHouseServer::start();
    let spec = server.spec("upgrade");
    let uptimes = |server: &ClickHouseServer| {
        server
            .run_in(
                "upgrade",
                "SELECT kind, v_uptime_s FROM measurements ORDER BY kind, reported_ms FORMAT TSV",
            )
            .expect("reads uptimes")
    };

    let old = TestCollector::start_on(CollectorConfig::default(), Some(spec.clone())).await;
    let (_, token) = old.add_probe("p1").await;
    let (_, vitals) = common::line("vitals");
    let (_, tcp) = common::line("tcp");
    let answer = old
        .post(Some(&token), None, format!("{vitals}\n{tcp}\n").into_bytes())
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    old.stop().await;
    // The tables as schema 4 had them: no uptime column (the uptime only in the stored body), vitals a table.
    server
        .run_in("upgrade", "ALTER TABLE measurements DROP COLUMN v_uptime_s")
        .expect("drops the column");
    for sql in [
        "DROP TABLE vitals",
        "CREATE TABLE vitals (id String, uptime_s Float64) ENGINE = MergeTree ORDER BY id",
        "INSERT INTO vitals VALUES ('old', 100)",
    ] {
        server.run_in("upgrade", sql).expect("an old vitals table");
    }
    assert!(
        server.run_in("upgrade", "SELECT v_uptime_s FROM measurements").is_err(),
        "the column is gone"
    );

    let new = TestCollector::start_on(CollectorConfig::default(), Some(spec)).await;
    assert_eq!(
        uptimes(&server),
        "tcp\t0\nvitals\t100\n",
        "stored rows read their uptime from their bodies"
    );
    let (_, later) = common::line("vitals");
    let later = later.replace(r#""uptime_s":100"#, r#""uptime_s":7"#);
    let answer = new.post(Some(&token), None, format!("{later}\n").into_bytes()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    let after = uptimes(&server);
    assert_eq!(
        after, "tcp\t0\nvitals\t100\nvitals\t7\n",
        "new vitals carry their uptime"
    );
    assert_eq!(
        server.run_in("upgrade", "SELECT id, uptime_s FROM vitals_before_schema_5 FORMAT TSV"),
        Ok("old\t100\n".to_owned()),
        "the old table is set aside, not dropped"
    );
    assert_eq!(
        server.run_in(
            "upgrade",
            "SELECT boot_id, uptime_s, on_battery, gateway_reachable, link_up, last_gasp, spool_depth FROM vitals \
             ORDER BY reported_ms FORMAT TSV"
        ),
        Ok("b1\t100\t0\t1\t1\t0\t0\nb1\t7\t0\t1\t1\t0\t0\n".to_owned()),
        "vitals is a view over measurements"
    );
    new.stop().await;
}

/// Schema 7 keeps the targets each summary loaded (censorship controls): a summaries table made before it gains
/// the column on start.
#[tokio::test]
async fn a_database_from_before_schema_7_gains_the_summaries_controls() {
    let server = ClickHouseServer::start();
    let spec = server.spec("upgrade7");
    let old = TestCollector::start_on(CollectorConfig::default(), Some(spec.clone())).await;
    old.stop().await;
    server
        .run_in("upgrade7", "ALTER TABLE bucket_summaries DROP COLUMN reached_target")
        .expect("drops the column");
    let has_column = |server: &ClickHouseServer| {
        server
            .run_in(
                "upgrade7",
                "SELECT count() FROM system.columns WHERE database = currentDatabase() \
                 AND table = 'bucket_summaries' AND name = 'reached_target' FORMAT TSV",
            )
            .expect("reads the columns")
    };
    assert_eq!(has_column(&server), "0\n", "the table is as schema 6 made it");
    let new = TestCollector::start_on(CollectorConfig::default(), Some(spec)).await;
    assert_eq!(has_column(&server), "1\n", "the column is added on start");
    new.stop().await;
}

/// Schema 9 keeps where failed traces died: a database made before it gains the measurements column and the
/// summaries column on start, and a failed trace stored afterwards keeps its path end.
#[tokio::test]
async fn a_database_from_before_schema_9_gains_path_ends() {
    let server = ClickHouseServer::start();
    let spec = server.spec("upgrade9");
    let old = TestCollector::start_on(CollectorConfig::default(), Some(spec.clone())).await;
    let (_, token) = old.add_probe("p1").await;
    old.stop().await;
    for sql in [
        "ALTER TABLE measurements DROP COLUMN path_end",
        "ALTER TABLE bucket_summaries DROP COLUMN path_ends",
    ] {
        server.run_in("upgrade9", sql).expect("drops the column");
    }
    let columns = |server: &ClickHouseServer| {
        server
            .run_in(
                "upgrade9",
                "SELECT table, name FROM system.columns WHERE database = currentDatabase() \
                 AND name IN ('path_end', 'path_ends') ORDER BY table FORMAT TSV",
            )
            .expect("reads the columns")
    };
    assert_eq!(columns(&server), "", "the tables are as schema 8 made them");
    let new = TestCollector::start_on(CollectorConfig::default(), Some(spec)).await;
    assert_eq!(
        columns(&server),
        "bucket_summaries\tpath_ends\nmeasurements\tpath_end\n",
        "both columns are added on start"
    );
    let (_, trace) = common::line("trace");
    let failed = trace.replace(
        r#"{"outcome":"ok","ip":"192.0.2.1","hops":[{"ttl":1,"ip":"192.168.1.1","rtt_ms":0.4}]}"#,
        r#"{"outcome":"timeout","ip":"192.0.2.1","hops":[{"ttl":1,"ip":"192.168.1.1","rtt_ms":0.4,"local":true},{"ttl":2,"ip":"10.30.0.1","rtt_ms":2.0},{"ttl":3,"ip":null,"rtt_ms":null}]}"#,
    );
    assert_ne!(failed, trace, "the template changed");
    let answer = new.post(Some(&token), None, format!("{failed}\n").into_bytes()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    assert_eq!(
        server.run_in("upgrade9", "SELECT path_end FROM measurements FORMAT TSV"),
        Ok("10.30.0.1\n".to_owned()),
        "the failed trace keeps where it died"
    );
    new.stop().await;
}

/// `name` and a newline when `table` of `database` has that column, else nothing.
fn column_named(server: &ClickHouseServer, database: &str, table: &str, name: &str) -> String {
    server
        .run_in(
            database,
            &format!(
                "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '{table}' \
                 AND name = '{name}' FORMAT TSV"
            ),
        )
        .expect("reads the columns")
}

/// A database made before schema 10 gains `measurements.uplink_access` on start; a measurement taken on a
/// probe's satellite uplink is then stored with it.
#[tokio::test]
async fn a_database_from_before_schema_10_gains_uplink_access() {
    let server = ClickHouseServer::start();
    let spec = server.spec("upgrade10");
    let old = TestCollector::start_on(CollectorConfig::default(), Some(spec.clone())).await;
    let (_, token) = old.add_probe("p1").await;
    old.stop().await;
    server
        .run_in("upgrade10", "ALTER TABLE measurements DROP COLUMN uplink_access")
        .expect("drops the column");
    let column = |server: &ClickHouseServer| column_named(server, "upgrade10", "measurements", "uplink_access");
    assert_eq!(column(&server), "", "the table is as schema 9 made it");
    let new = TestCollector::start_on(CollectorConfig::default(), Some(spec)).await;
    assert_eq!(column(&server), "uplink_access\n", "the column is added on start");
    let (_, tcp) = common::line("tcp");
    let on_dish = tcp.replacen(
        r#","result":"#,
        r#","uplink":{"name":"sat","access":"satellite"},"result":"#,
        1,
    );
    assert_ne!(on_dish, tcp, "the template changed");
    let answer = new.post(Some(&token), None, format!("{on_dish}\n").into_bytes()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    assert_eq!(
        server.run_in("upgrade10", "SELECT uplink_access FROM measurements FORMAT TSV"),
        Ok("satellite\n".to_owned())
    );
    new.stop().await;
}

/// A database made before schema 12 gains `probe_arrivals.network_country` on start; the arrivals it held read
/// as placing their network nowhere.
#[tokio::test]
async fn a_database_from_before_schema_12_gains_the_arrivals_network_country() {
    let server = ClickHouseServer::start();
    let spec = server.spec("upgrade12");
    let old = TestCollector::start_on(CollectorConfig::default(), Some(spec.clone())).await;
    let (probe_id, _) = old.add_probe("p1").await;
    old.stop().await;
    server
        .run_in("upgrade12", "ALTER TABLE probe_arrivals DROP COLUMN network_country")
        .expect("drops the column");
    server
        .run_in(
            "upgrade12",
            &format!(
                "INSERT INTO probe_arrivals (probe_id, carrier, asn, access, first_seen_ms, seen_ms) \
                 VALUES ('{probe_id}', '', 64500, '', 1000, 2000)"
            ),
        )
        .expect("an arrival as schema 11 wrote it");
    let column = |server: &ClickHouseServer| column_named(server, "upgrade12", "probe_arrivals", "network_country");
    assert_eq!(column(&server), "", "the table is as schema 11 made it");
    let new = TestCollector::start_on(CollectorConfig::default(), Some(spec)).await;
    assert_eq!(column(&server), "network_country\n", "the column is added on start");
    let arrivals = new.store.probe_arrivals().await.expect("reads");
    assert_eq!(arrivals.len(), 1, "{arrivals:?}");
    assert_eq!(
        (arrivals[0].asn, arrivals[0].network_country.as_deref()),
        (Some(64500), None)
    );
    new.stop().await;
}

/// A batch sent again while its first copy is being written (a probe that timed out and retried) is stored once
/// and reported as duplicates, whether the copies share a write or land in consecutive ones — the second looked up
/// its ids while the first was committing.
#[tokio::test]
async fn copies_racing_each_other_are_stored_once() {
    let server = ClickHouseServer::start();
    let spec = server.spec("racing");
    let c = TestCollector::start_on(CollectorConfig::default(), Some(spec)).await;
    let (_, token) = c.add_probe("p1").await;
    const ROUNDS: u64 = 20;
    const COPIES: usize = 3;
    const LINES: usize = 200;
    for round in 0..ROUNDS {
        let (_, body) = batch(LINES);
        let answers =
            futures_util::future::join_all((0..COPIES).map(|_| c.post(Some(&token), None, body.clone()))).await;
        let (mut accepted, mut duplicates) = (0, 0);
        for answer in &answers {
            assert_eq!(answer.status, 200, "round {round}: {:?}", answer.json);
            accepted += answer.json["accepted"].as_u64().unwrap_or_default();
            duplicates += answer.json["duplicates"].as_u64().unwrap_or_default();
        }
        assert_eq!(
            (accepted, duplicates),
            (LINES as u64, (LINES * (COPIES - 1)) as u64),
            "round {round}: each measurement accepted once"
        );
    }
    let rows = server
        .run_in("racing", "SELECT count(), uniqExact(id) FROM measurements FORMAT TSV")
        .expect("counts rows");
    let expected = ROUNDS * LINES as u64;
    assert_eq!(rows, format!("{expected}\t{expected}\n"), "no row was written twice");
    c.stop().await;
}
