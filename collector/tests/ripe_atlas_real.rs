//! The classifier on real RIPE Atlas connection logs (`../shared/data/ripe-atlas/`, never committed here; set
//! `VIGIL_SHARED_DATA` to point elsewhere): a slice of a real day is read as presence, not silence, and the
//! three development days give the ASN outages that happened in them — found at ASN scope, timed within a bucket
//! — and no country-wide or platform-wide event, the same on SQLite and ClickHouse. Without the files each test
//! is reported *ignored* with the reason (a failure under `VIGIL_REQUIRE_ALL=1`, as in CI).

// The probe's tests hold the one copy of the "ignored with its reason, failed in CI" rule.
#[path = "../../probe/tests/support/precondition.rs"]
#[allow(dead_code)]
mod precondition;

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use common::clickhouse::ClickHouseServer;
use libtest_mimic::{Arguments, Completion, Trial};
use vigil_collector::classify_window;
use vigil_collector::replay::{ReplayReport, replay_day};
use vigil_collector::ripe_atlas::import;
use vigil_collector::{ClassifierSettings, UNPLACED_COUNTRY};
use vigil_collector::{ConfidenceLevel, DisruptionEvent};
use vigil_collector::{Store, StoreSpec, open_store};

const BUCKET: i64 = 300;

/// A test body, given the shared data folder.
type DataTest = fn(&Path);

fn main() {
    let args = Arguments::from_args();
    let tests: [(&str, DataTest); 3] = [
        (
            "a_slice_of_a_real_day_is_read_as_presence_not_silence",
            a_slice_of_a_real_day_is_read_as_presence_not_silence,
        ),
        (
            "a_new_user_imports_with_the_probe_archive_classifies_and_lists_events",
            a_new_user_imports_with_the_probe_archive_classifies_and_lists_events,
        ),
        (
            "the_dev_days_give_their_asn_outages_and_nothing_country_wide_on_both_stores",
            the_dev_days_give_their_asn_outages_and_nothing_country_wide_on_both_stores,
        ),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            Trial::ignorable_test(name, move || match precondition::shared_data() {
                Ok(data) => {
                    // A panic is the runner's failure, with its message.
                    test(&data.join("ripe-atlas"));
                    Ok(Completion::Completed)
                }
                Err(reason) => precondition::unmet(&reason),
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).expect("time").with_timezone(&Utc)
}

fn hhmm(t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .single()
        .expect("time")
        .format("%H:%M")
        .to_string()
}

/// The log's entries between `from` and `to` (Unix seconds), as a log of their own.
fn slice(log: &[u8], from: i64, to: i64) -> Vec<u8> {
    let entries: Vec<serde_json::Value> = serde_json::from_slice(log).expect("a JSON array");
    let kept: Vec<serde_json::Value> = entries
        .into_iter()
        .filter(|e| e["timestamp"].as_i64().is_some_and(|t| from <= t && t < to))
        .collect();
    serde_json::to_vec(&kept).expect("serialises")
}

/// The regression for "classified 0 probe-buckets" and the never-ending event over ~95 % of all probes: five
/// hours of 2016-04-29, cut from the real file, around AS38229's outage at 08:30.
fn a_slice_of_a_real_day_is_read_as_presence_not_silence(dir: &Path) {
    let log = std::fs::read(dir.join("connections-2016-04-29.json")).expect("the 2016-04-29 log");
    let (from, to) = (utc("2016-04-29T06:00:00Z"), utc("2016-04-29T11:00:00Z"));
    let part = slice(&log, from.timestamp(), to.timestamp());
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_store(&StoreSpec::Sqlite(dir.path().join("vigil.db")))
            .await
            .expect("opens");
        let report = import(store.as_ref(), &part, &BTreeMap::new()).await.expect("imports");
        assert!(report.events > 1000 && report.new_probes > 500, "{report:?}");
        let run = classify_window(store.as_ref(), from, to, BUCKET, &ClassifierSettings::default())
            .await
            .expect("classifies");
        // Presence is read: most probes of the slice are known in most of its 60 buckets.
        assert!(
            run.probe_buckets > report.new_probes * 60 / 2,
            "{} probe-buckets read for {} probes",
            run.probe_buckets,
            report.new_probes
        );
        let wide: Vec<&DisruptionEvent> = run.events.iter().filter(|e| e.scope.level != "probe").collect();
        assert!(
            wide.iter()
                .all(|e| e.scope.level == "asn" && e.affected_probes * 10 < report.new_probes),
            "only network-sized events: {wide:#?}"
        );
        let as38229 = wide
            .iter()
            .find(|e| e.scope.asn == Some(38229))
            .unwrap_or_else(|| panic!("AS38229's outage at 08:30 is found: {wide:#?}"));
        assert_eq!(hhmm(as38229.started_at), "08:30", "{as38229:#?}");
        let end = as38229.ended_at.map(hhmm);
        assert!(
            matches!(end.as_deref(), Some("08:40" | "08:45" | "08:50")),
            "back 08:40–08:50: {as38229:#?}"
        );
        // Nobody is down at the start of the log: a probe whose first event is a connection is not known before
        // it, one whose first event is a disconnection was connected before it — so only a probe that left in
        // the first bucket itself can be away from the first bucket on.
        let (events, _) = vigil_collector::ripe_atlas::parse(&part).expect("parses");
        let first_bucket_end = from.timestamp() + BUCKET;
        for e in run.events.iter().filter(|e| e.started_at <= from.timestamp()) {
            let probe = e
                .scope
                .probe_id
                .as_deref()
                .unwrap_or_else(|| panic!("a probe's event: {e:#?}"));
            let first = events
                .iter()
                .find(|c| format!("atlas-{}", c.prb_id) == probe)
                .expect("the probe is in the log");
            assert!(
                !first.connect && first.timestamp < first_bucket_end,
                "{probe} is away from the first bucket although it did not leave then: {e:#?}"
            );
        }
    });
}

/// The journey through the binary: `import ripe-atlas-connections FILE --probe-archive ARCHIVE`,
/// `classify --from --to`, `events --json`, on the slice of 2016-04-29 with an archive in RIPE's format (written
/// here: the real archive is not in the shared data) placing AS38229's probes and one in fifty of the others in
/// BD, the rest in NL.
fn a_new_user_imports_with_the_probe_archive_classifies_and_lists_events(dir: &Path) {
    let log = std::fs::read(dir.join("connections-2016-04-29.json")).expect("the 2016-04-29 log");
    let (from, to) = (utc("2016-04-29T06:00:00Z"), utc("2016-04-29T11:00:00Z"));
    let part = slice(&log, from.timestamp(), to.timestamp());
    let (events, _) = vigil_collector::ripe_atlas::parse(&part).expect("parses");
    let asn_of: BTreeMap<u64, u32> = events.iter().filter_map(|e| Some((e.prb_id, e.asn?))).collect();
    let archive = serde_json::json!({
        "objects": asn_of.iter().map(|(id, asn)| serde_json::json!({
            "id": id, "asn_v4": asn, "asn_v6": null, "country_code": if *asn == 38229 || id % 50 == 0 { "BD" } else { "NL" },
            "status": 1, "status_name": "Connected", "address_v4": "192.0.2.1", "prefix_v4": "192.0.2.0/24",
            "latitude": 52.35, "longitude": 4.95, "is_anchor": false, "is_public": true
        })).collect::<Vec<_>>()
    });
    let temp = tempfile::tempdir().expect("temp dir");
    let (log_path, archive_path) = (temp.path().join("log.json"), temp.path().join("archive.json"));
    std::fs::write(&log_path, &part).expect("writes");
    std::fs::write(&archive_path, archive.to_string()).expect("writes");
    let store = format!("sqlite:{}", temp.path().join("vigil.db").display());
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigil-collector"))
            .args(args)
            .args(["--store", &store])
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {}{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let imported = run(&[
        "import",
        "ripe-atlas-connections",
        log_path.to_str().expect("path"),
        "--probe-archive",
        archive_path.to_str().expect("path"),
    ]);
    assert!(imported.contains(" 0 without a country"), "{imported}");
    let classified = run(&[
        "classify",
        "--from",
        "2016-04-29T06:00:00Z",
        "--to",
        "2016-04-29T11:00:00Z",
    ]);
    assert!(!classified.contains("classified 0 probe-buckets"), "{classified}");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&run(&["events", "--json"])).expect("JSON events");
    let wide: Vec<&serde_json::Value> = listed.iter().filter(|e| e["scope"]["level"] != "probe").collect();
    let as38229: Vec<&&serde_json::Value> = wide.iter().filter(|e| e["scope"]["asn"] == 38229).collect();
    assert_eq!(as38229.len(), 1, "{wide:#?}");
    assert_eq!(as38229[0]["scope"]["level"], "asn");
    assert_eq!(as38229[0]["scope"]["country"], "BD", "placed by the archive");
    assert!(
        wide.iter().all(|e| e["scope"]["level"] == "asn"),
        "no country-wide event in the Netherlands' ~{} probes: {wide:#?}",
        asn_of.len()
    );
    let text = serde_json::to_string(&listed).expect("serialises");
    assert!(
        !text.contains("192.0.2.1") && !text.contains("52.35"),
        "nothing of the archive's addresses or positions"
    );
}

/// What the replay must show of each development day: the outages named (ASN, start bucket), and the brief
/// reconnect bursts that may be reported at low confidence at most (ASN, hour).
struct Day {
    file: &'static str,
    outages: &'static [(u32, &'static str)],
    brief: &'static [(u32, &'static str)],
}

const DAYS: [Day; 3] = [
    Day {
        file: "connections-2015-02-10.json",
        outages: &[(6939, "22:35")],
        brief: &[(6830, "01:00")],
    },
    Day {
        file: "connections-2016-04-29.json",
        outages: &[(38229, "08:30")],
        brief: &[],
    },
    Day {
        file: "connections-2016-07-26.json",
        outages: &[],
        brief: &[(31334, "00:20")],
    },
];

fn the_dev_days_give_their_asn_outages_and_nothing_country_wide_on_both_stores(dir: &Path) {
    let disco = vigil_collector::replay::parse_disco_events(
        &std::fs::read_to_string(dir.join("disco-top-events-2011-2016.txt")).expect("Disco's events"),
    );
    let server = ClickHouseServer::start();
    runtime().block_on(async {
        for (n, day) in DAYS.iter().enumerate() {
            let log = std::fs::read(dir.join(day.file)).expect("a dev day");
            let temp = tempfile::tempdir().expect("temp dir");
            let sqlite = open_store(&StoreSpec::Sqlite(temp.path().join("vigil.db")))
                .await
                .expect("opens");
            let clickhouse = open_store(&server.spec(&format!("replay{n}"))).await.expect("opens");
            let mut reports = Vec::new();
            for store in [&sqlite, &clickhouse] {
                reports.push(replay(store.as_ref(), &log, &disco).await);
            }
            let [on_sqlite, on_clickhouse] = [&reports[0], &reports[1]];
            judge(day, on_sqlite);
            let key = |r: &ReplayReport| {
                r.judged
                    .iter()
                    .map(|j| {
                        let e = &j.event;
                        (e.class, e.scope.clone(), e.started_at, e.ended_at, e.affected_probes)
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                key(on_sqlite),
                key(on_clickhouse),
                "{}: the same events on both stores",
                day.file
            );
            assert_eq!(on_sqlite.by_class, on_clickhouse.by_class, "{}", day.file);
        }
    });
}

async fn replay(store: &dyn Store, log: &[u8], disco: &[vigil_collector::replay::DiscoEvent]) -> ReplayReport {
    replay_day(
        store,
        log,
        &BTreeMap::new(),
        disco,
        BUCKET,
        &ClassifierSettings::default(),
    )
    .await
    .expect("replays")
}

fn judge(day: &Day, report: &ReplayReport) {
    let table = report.to_string();
    assert!(
        report.missed.is_empty(),
        "{}: every outage burst found\n{table}",
        day.file
    );
    assert!(
        report.brief_above_low.is_empty(),
        "{}: brief bursts at most low confidence\n{table}",
        day.file
    );
    for (asn, start) in day.outages {
        let found = report.judged.iter().find(|j| j.event.scope.asn == Some(*asn));
        let j = found.unwrap_or_else(|| panic!("{}: AS{asn}'s outage found\n{table}", day.file));
        assert_eq!(j.event.scope.level, "asn", "{table}");
        assert_eq!(hhmm(j.event.started_at), *start, "{}: AS{asn}\n{table}", day.file);
        assert!(
            j.timed,
            "{}: AS{asn} starts and ends within one bucket of the burst\n{table}",
            day.file
        );
    }
    for (asn, hour) in day.brief {
        for j in report
            .judged
            .iter()
            .filter(|j| j.event.scope.asn == Some(*asn) && hhmm(j.event.started_at)[..2] == hour[..2])
        {
            assert_eq!(
                j.event.confidence_level,
                ConfidenceLevel::Low,
                "{}: AS{asn}\n{table}",
                day.file
            );
        }
    }
    for j in &report.judged {
        assert_eq!(
            j.event.scope.level, "asn",
            "{}: nothing wider than a network\n{table}",
            day.file
        );
        assert!(
            j.event.scope.country.as_deref() == Some(UNPLACED_COUNTRY),
            "{}: probes without an archive have no country\n{table}",
            day.file
        );
        assert!(
            !matches!(
                j.event.class,
                vigil_collector::EventClass::Shutdown | vigil_collector::EventClass::PowerOutage
            ) || j.event.confidence_level == ConfidenceLevel::Low,
            "{}: presence is never a confident shutdown or blackout\n{table}",
            day.file
        );
    }
    if day.outages.is_empty() {
        assert!(
            report.wide_events_per_1000_probes <= 1.0,
            "{}: a day without an outage stays quiet (≤ 1 event at ASN scope or wider per 1,000 probes)\n{table}",
            day.file
        );
    }
}
