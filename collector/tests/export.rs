//! Researcher exports through the API and the library: every dataset in every format, read back by independent
//! readers (serde_json, Python's csv module), anonymised (an address planted in a probe's error text appears
//! nowhere; a lone probe's region is not named; no token or operator label), streamed in bounded pages, and
//! resumable from the last row's `seq` — on the embedded store and on ClickHouse alike.

mod common;

use std::collections::BTreeSet;

use chrono::{SecondsFormat, Utc};
use uuid::Uuid;
use vigil_collector::{AccessType, ProbeProfile};
use vigil_collector::{ConfidenceLevel, DisruptionEvent, EventClass, EventScope};
use vigil_collector::{Dataset, ExportRequest, Format, export};
use vigil_collector::{Store, StoreSpec, register_probe};

use common::TestCollector;

const PLANTED: &str = "203.0.113.77";

fn profile(name: &str, region: &str) -> ProbeProfile {
    ProbeProfile {
        name: format!("secret operator label {name}"),
        country: "XL".to_owned(),
        asn: 64501,
        region: Some(region.to_owned()),
        access: AccessType::Fixed,
        ups: false,
    }
}

/// Three lines: a refused TCP check whose error text names the probe's own address, vitals, and a DNS check.
fn lines() -> (Vec<Uuid>, Vec<u8>) {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let results = [
        ("tcp", format!(r#"{{"outcome":"refused","ip":"192.0.2.1","port":443,"error_detail":"connect from {PLANTED}:51234 refused"}}"#)),
        ("vitals", r#"{"outcome":"ok","boot_id":"b1","uptime_s":100,"power":{"ac_online":true,"on_battery":false,"battery_pct":null},"gateway_reachable":true,"link_up":true,"last_gasp":false,"spool_depth":0}"#.to_owned()),
        ("dns", r#"{"outcome":"ok","query":"example.org","qtype":"A","resolver":"system","answers":[{"type":"A","data":"192.0.2.1","ttl":60}]}"#.to_owned()),
    ];
    let mut ids = Vec::new();
    let mut body = Vec::new();
    for (kind, result) in results {
        let id = Uuid::now_v7();
        ids.push(id);
        body.extend(
            format!(
                r#"{{"schema":1,"id":"{id}","kind":"{kind}","started_at":"{now}","duration_ms":5,"target":{{"name":"example.org","scope":"international","list":"anchors"}},"result":{result}}}"#
            )
            .into_bytes(),
        );
        body.push(b'\n');
    }
    (ids, body)
}

async fn get(c: &TestCollector, query: &str) -> String {
    let resp = c
        .client
        .get(c.url(&format!("/api/v1/export?{query}")))
        .send()
        .await
        .expect("export answers");
    assert_eq!(resp.status(), 200, "{query}");
    resp.text().await.expect("body")
}

/// Rows of a CSV document as Python's csv module reads them.
fn python_csv(text: &str) -> Vec<Vec<String>> {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .args([
            "-c",
            "import csv, json, sys; print(json.dumps(list(csv.reader(sys.stdin))))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/test.sh installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("writes");
    let out = child.wait_with_output().expect("python3 finishes");
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("python's rows as JSON")
}

/// A Parquet file as pyarrow reads it: column names, their types, and the rows as JSON.
fn pyarrow_read(bytes: &[u8]) -> serde_json::Value {
    use std::io::Write;
    // Single-threaded, and out through os._exit once the answer is flushed: Arrow's thread pool can abort the
    // interpreter's teardown ("terminate called without an active exception", apache/arrow#34314).
    let script = "import io, json, os, sys; import pyarrow.parquet as pq; \
        t = pq.read_table(io.BytesIO(sys.stdin.buffer.read()), use_threads=False); \
        print(json.dumps({'columns': t.column_names, \
        'types': {n: str(t.schema.field(n).type) for n in t.column_names}, \
        'rows': t.to_pylist()}, default=str)); \
        sys.stdout.flush(); os._exit(0)";
    let mut child = std::process::Command::new(common::python::with_module("pyarrow.parquet"))
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    child.stdin.take().expect("stdin").write_all(bytes).expect("writes");
    let out = child.wait_with_output().expect("python finishes");
    assert!(
        out.status.success(),
        "pyarrow could not read the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("pyarrow's view as JSON")
}

#[tokio::test]
async fn exports_from_the_embedded_store() {
    exports_read_back_anonymised_streamed_and_resumable(None).await;
}

#[tokio::test]
async fn exports_from_clickhouse() {
    let server = common::clickhouse::ClickHouseServer::start();
    exports_read_back_anonymised_streamed_and_resumable(Some(server.spec("export"))).await;
}

async fn exports_read_back_anonymised_streamed_and_resumable(store: Option<StoreSpec>) {
    let c = TestCollector::start_on(common::quiet_config(), store).await;
    let mut probes = Vec::new();
    for (name, region) in [("a", "north"), ("b", "north"), ("c", "north"), ("d", "island")] {
        probes.push(
            register_probe(c.store.as_ref(), profile(name, region))
                .await
                .expect("registers"),
        );
    }
    let mut sent = BTreeSet::new();
    for p in &probes {
        for _ in 0..4 {
            let (ids, body) = lines();
            sent.extend(ids);
            assert_eq!(c.post(Some(&p.token), None, body).await.status, 200);
        }
    }
    let lone = probes[3].probe.probe_id.clone();
    let fault = |class, end, affected| DisruptionEvent {
        id: "evt-export".to_owned(),
        class,
        scope: EventScope {
            level: "probe".to_owned(),
            country: Some("XL".to_owned()),
            asn: Some(64501),
            probe_id: Some(lone.clone()),
            ..EventScope::default()
        },
        started_at: Utc::now().timestamp() - 600,
        ended_at: end,
        confidence: 0.8,
        confidence_level: ConfidenceLevel::High,
        affected_probes: affected,
        probes_in_scope: 1,
        evidence: Vec::new(),
        scores: Default::default(),
        targets: Vec::new(),
    };
    let window = (Utc::now().timestamp() - 3600, Utc::now().timestamp() + 60);
    c.store
        .save_events(window.0, window.1, vec![fault(EventClass::Unknown, None, 1)])
        .await
        .expect("saves");
    c.store
        .save_events(
            window.0,
            window.1,
            vec![fault(EventClass::ProbeFault, Some(Utc::now().timestamp()), 1)],
        )
        .await
        .expect("saves");

    // Parquet, read by pyarrow: typed columns, every row, nothing identifying once decoded.
    for (dataset, rows) in [("measurements", sent.len()), ("vitals", 16), ("events", 1)] {
        let bytes = c
            .client
            .get(c.url(&format!("/api/v1/export?dataset={dataset}&format=parquet")))
            .send()
            .await
            .expect("answers")
            .bytes()
            .await
            .expect("body");
        let table = pyarrow_read(&bytes);
        assert_eq!(table["rows"].as_array().map(Vec::len), Some(rows), "{dataset}: {table}");
        let text = table.to_string();
        assert!(
            !text.contains(PLANTED) && !text.contains("secret operator label"),
            "{dataset} parquet leaks"
        );
        if dataset != "events" {
            assert_eq!(table["types"]["seq"], "int64");
            assert_eq!(table["types"]["started_at"], "timestamp[ms, tz=UTC]");
            assert_eq!(table["types"]["asn"], "int64");
        }
        if dataset == "vitals" {
            assert_eq!(table["types"]["gateway_reachable"], "bool");
        }
    }

    // Every dataset, every text format: nothing that identifies a volunteer.
    let mut bodies = Vec::new();
    for dataset in ["measurements", "vitals", "events"] {
        for format in ["csv", "jsonl"] {
            let body = get(&c, &format!("dataset={dataset}&format={format}")).await;
            assert!(!body.contains(PLANTED), "{dataset}/{format} leaks the planted address");
            assert!(
                !body.contains("secret operator label"),
                "{dataset}/{format} leaks an operator label"
            );
            for p in &probes {
                assert!(!body.contains(&p.token), "{dataset}/{format} leaks a token");
            }
            bodies.push(((dataset, format), body));
        }
    }
    let body = |d: &str, f: &str| {
        bodies
            .iter()
            .find(|((bd, bf), _)| *bd == d && *bf == f)
            .map(|(_, b)| b.as_str())
            .unwrap_or("")
    };

    // JSON Lines: every measurement once; the lone island probe's region is not named.
    let rows: Vec<serde_json::Value> = body("measurements", "jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let ids: BTreeSet<Uuid> = rows
        .iter()
        .map(|r| r["id"].as_str().expect("id").parse().expect("uuid"))
        .collect();
    assert_eq!((rows.len(), &ids), (sent.len(), &sent));
    for r in &rows {
        let region = &r["region"];
        if r["probe_id"] == lone.as_str() {
            assert!(
                region.is_null(),
                "a lone probe's region is coarsened to its country: {r}"
            );
        } else {
            assert_eq!(region, "north");
        }
        assert_eq!(r["country"], "XL");
    }
    assert!(rows.iter().any(|r| {
        r["result"]["error_detail"]
            .as_str()
            .is_some_and(|d| d.contains("refused"))
    }));

    // CSV, read by Python's csv module: the header, then one row per measurement.
    let table = python_csv(body("measurements", "csv"));
    assert_eq!(table[0][..3], ["seq", "id", "probe_id"]);
    assert_eq!(table.len(), sent.len() + 1);
    let vitals = python_csv(body("vitals", "csv"));
    assert_eq!(vitals.len(), 16 + 1, "one vitals row per batch");
    assert!(vitals[0].contains(&"gateway_reachable".to_owned()));

    // Events: with their revision history.
    let events: Vec<serde_json::Value> = body("events", "jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["class"], "probe_fault");
    let history: Vec<&str> = events[0]["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["class"].as_str())
        .collect();
    assert_eq!(history, ["unknown", "probe_fault"]);

    // Filters: a hidden region matches nothing; a kind narrows.
    assert_eq!(
        get(&c, "region=island").await,
        "",
        "filtering on a coarsened region reveals nothing"
    );
    assert_eq!(get(&c, "kind=dns").await.lines().count(), 16);
    let bad = c
        .client
        .get(c.url("/api/v1/export?format=xlsx"))
        .send()
        .await
        .expect("answers");
    assert_eq!(bad.status(), 400);

    // Streamed in bounded pages, and resumable from any row's seq.
    let store: &dyn Store = c.store.as_ref();
    let paged = ExportRequest {
        dataset: Dataset::Measurements,
        format: Format::Jsonl,
        page_rows: 7,
        ..ExportRequest::default()
    };
    let chunks = std::sync::Mutex::new(Vec::<Vec<u8>>::new());
    let summary = export(store, &paged, |chunk| {
        chunks.lock().expect("lock").push(chunk);
        async { Ok(()) }
    })
    .await
    .expect("exports");
    let chunks = chunks.into_inner().expect("lock");
    assert_eq!(summary.rows as usize, sent.len());
    assert!(
        chunks.iter().all(|c| c.iter().filter(|b| **b == b'\n').count() <= 7),
        "never more than a page held"
    );
    assert_eq!(chunks.len(), sent.len().div_ceil(7));
    let all: Vec<serde_json::Value> = chunks
        .concat()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("JSON"))
        .collect();
    let cut = all[20]["seq"].as_i64().expect("seq");
    let rest = std::sync::Mutex::new(Vec::new());
    export(
        store,
        &ExportRequest {
            after: Some(cut),
            ..paged
        },
        |chunk| {
            rest.lock().expect("lock").extend(chunk);
            async { Ok(()) }
        },
    )
    .await
    .expect("resumes");
    let rest = rest.into_inner().expect("lock");
    let resumed: Vec<&[u8]> = rest.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(resumed.len(), all.len() - 21, "exactly the rows after the cursor");
}
