//! Ingest over HTTP into a real ClickHouse server: a batch is acknowledged only once ClickHouse holds it, a retry
//! is a duplicate, and while ClickHouse is down the collector answers 503 with Retry-After — never 200 for data
//! it did not store — and accepts the same batch once ClickHouse is back.

mod common;

use vigil_collector::store::MeasurementQuery;
use vigil_collector::{CollectorConfig, StoreSpec};

use common::clickhouse::ClickHouseServer;
use common::{TestCollector, batch};

#[tokio::test]
async fn acknowledged_only_when_stored_and_503_while_clickhouse_is_down() {
    let mut server = ClickHouseServer::start();
    let spec = StoreSpec::ClickHouse {
        url: server.url(),
        database: "ingest".to_owned(),
    };
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
