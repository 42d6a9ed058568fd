//! The probe's uploader against the real collector binary: delivery, quarantine of a refused line, a collector
//! that goes away and comes back, fallback URLs, and a revoked token.

use std::path::Path;
use std::time::Duration;

use uuid::Uuid;
use vigil_collector::MeasurementQuery;
use vigil_collector::{StoreSpec, open_store};
use vigil_lab::{CollectorProcess, tcp_line, vitals_line};
use vigil_probe::ProbeConfig;
use vigil_probe::{NewRecord, RecordClass, SharedSpool, Spool, SpoolOptions};
use vigil_probe::{RoundOutcome, Uploader};

/// A probe configuration whose state directory (spool, signing key) is `dir/probe-state`.
fn probe_config(dir: &Path, url: &str, token: &str, fallbacks: &[String]) -> ProbeConfig {
    let fallbacks: Vec<String> = fallbacks.iter().map(|u| format!("\"{u}\"")).collect();
    let text = format!(
        "[probe]\nstate_dir = \"{}\"\n[collector]\nurl = \"{url}\"\ntoken = \"{token}\"\nfallback_urls = [{}]\n[timeouts]\nconnect_secs = 2.0\nupload_secs = 10.0\n[upload]\nmax_batch_records = 40\n",
        dir.join("probe-state").display(),
        fallbacks.join(", ")
    );
    toml::from_str(&text).expect("a valid probe config")
}

/// Spools `n` measurements (every fifth a vitals record); returns their ids.
fn spool_measurements(spool: &SharedSpool, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    let records: Vec<NewRecord> = (0..n)
        .map(|i| {
            let ((id, line), class) = if i % 5 == 0 {
                (vitals_line(), RecordClass::Vitals)
            } else {
                (tcp_line(), RecordClass::Anchor)
            };
            ids.push(id);
            NewRecord { class, line }
        })
        .collect();
    spool.with(|s| s.append(&records)).expect("append");
    ids
}

async fn stored(store: &str, ids: &[Uuid]) -> usize {
    let spec: StoreSpec = store.parse().expect("store spec");
    let store = open_store(&spec).await.expect("store opens");
    store
        .measurements(MeasurementQuery {
            ids: Some(ids.to_vec()),
            ..Default::default()
        })
        .await
        .expect("read")
        .len()
}

fn spool_in(dir: &Path) -> SharedSpool {
    SharedSpool::new(Spool::open(&dir.join("probe-state"), SpoolOptions::default()).expect("spool opens"))
}

fn depth(spool: &SharedSpool) -> u64 {
    spool.with(|s| s.depth()).expect("depth")
}

#[tokio::test]
async fn spooled_measurements_reach_the_store_and_leave_the_spool() {
    let dir = tempfile::tempdir().expect("temp dir");
    let collector = CollectorProcess::start(dir.path(), 0);
    let (_, token) = collector.add_probe("p1");
    let spool = spool_in(dir.path());
    let ids = spool_measurements(&spool, 100);
    let mut uploader = Uploader::new(&probe_config(dir.path(), &collector.url, &token, &[])).expect("uploader");
    let (summary, last) = uploader.drain(&spool).await.expect("drain");
    assert_eq!(last, RoundOutcome::Empty);
    assert_eq!((summary.records, summary.batches), (100, 3), "batches of at most 40");
    assert_eq!(depth(&spool), 0);
    assert_eq!(stored(&collector.store, &ids).await, 100);
}

/// A probe registered with its key: every batch arrives signed and is stored with its signature;
/// `vigil-collector verify` passes, and finds a measurement altered in the store afterwards.
#[tokio::test]
async fn signed_batches_are_stored_verifiable_and_tampering_is_found() {
    let dir = tempfile::tempdir().expect("temp dir");
    let collector = CollectorProcess::start(dir.path(), 0);
    let key = vigil_probe::ProbeKey::load_or_create(&dir.path().join("probe-state")).expect("key");
    let (_, token) = collector.add_probe_with_key("p1", Some(&key.public_key().to_string()));
    let spool = spool_in(dir.path());
    let ids = spool_measurements(&spool, 100);
    let mut uploader = Uploader::new(&probe_config(dir.path(), &collector.url, &token, &[])).expect("uploader");
    let (summary, last) = uploader.drain(&spool).await.expect("drain");
    assert_eq!((summary.records, last), (100, RoundOutcome::Empty));
    assert_eq!(stored(&collector.store, &ids).await, 100);
    let (passed, report) = collector.verify();
    assert!(passed, "{report}");
    assert!(
        report.contains("3 signed batches, 100 measurements checked; 0 problems"),
        "{report}"
    );

    // Someone with write access to the store turns a failure into a success.
    let db = rusqlite::Connection::open(dir.path().join("vigil.db")).expect("open the store");
    let victim = ids[1];
    let changed = db
        .execute(
            "UPDATE measurements SET body = replace(body, '\"port\":443', '\"port\":8443') WHERE id = ?1",
            [victim.as_bytes().as_slice()],
        )
        .expect("update");
    assert_eq!(changed, 1);
    let (passed, report) = collector.verify();
    assert!(!passed, "{report}");
    assert!(
        report.contains(&format!(
            "measurement {victim}: stored measurement differs from the signed one"
        )),
        "{report}"
    );
    assert!(report.contains("1 problems"), "{report}");
}

#[tokio::test]
async fn a_refused_line_is_quarantined_and_the_rest_are_delivered() {
    let dir = tempfile::tempdir().expect("temp dir");
    let collector = CollectorProcess::start(dir.path(), 0);
    let (_, token) = collector.add_probe("p1");
    let spool = spool_in(dir.path());
    let mut ids = spool_measurements(&spool, 10);
    let (_, good) = tcp_line();
    let bad = good.replace(r#""kind":"tcp""#, r#""kind":"smtp""#);
    spool
        .with(|s| {
            s.append(&[NewRecord {
                class: RecordClass::Anchor,
                line: bad.clone(),
            }])
        })
        .expect("append");
    ids.extend(spool_measurements(&spool, 10));
    let mut uploader = Uploader::new(&probe_config(dir.path(), &collector.url, &token, &[])).expect("uploader");
    let (summary, last) = uploader.drain(&spool).await.expect("drain");
    assert_eq!(last, RoundOutcome::Empty);
    assert_eq!((summary.records, summary.quarantined), (20, 1));
    assert_eq!(stored(&collector.store, &ids).await, 20);
    let quarantine = std::fs::read_to_string(dir.path().join("probe-state/quarantine.ndjson")).expect("quarantine");
    let entry: serde_json::Value = serde_json::from_str(quarantine.trim()).expect("one entry");
    assert_eq!(entry["line"], bad.as_str());
    assert!(
        entry["reason"]
            .as_str()
            .is_some_and(|r| r.contains("unknown variant `smtp`")),
        "{entry}"
    );
}

#[tokio::test]
async fn a_collector_that_goes_away_gets_everything_once_when_it_returns() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut collector = CollectorProcess::start(dir.path(), 0);
    let (_, token) = collector.add_probe("p1");
    let port = collector.port();
    collector.kill();

    let spool = spool_in(dir.path());
    let ids = spool_measurements(&spool, 70);
    let config = probe_config(dir.path(), &format!("http://127.0.0.1:{port}"), &token, &[]);
    let mut uploader = Uploader::new(&config).expect("uploader");
    for _ in 0..3 {
        let outcome = uploader.upload_once(&spool).await.expect("round");
        assert!(matches!(outcome, RoundOutcome::Failed { .. }), "{outcome:?}");
        assert!(uploader.wait_after(&outcome) <= std::time::Duration::from_secs(4));
    }
    assert_eq!(
        depth(&spool),
        70,
        "nothing leaves the spool while the collector is away"
    );

    // A batch that reached the collector but whose 200 was lost (the probe crashed before deleting it)
    // comes back into the spool as well.
    let collector = CollectorProcess::start(dir.path(), port);
    let replay = spool.with(|s| s.next_batch(10, 1 << 20)).expect("batch");
    let (summary, last) = uploader.drain(&spool).await.expect("drain");
    assert_eq!((summary.records, last), (70, RoundOutcome::Empty));
    let again: Vec<NewRecord> = replay
        .iter()
        .map(|r| NewRecord {
            class: r.class,
            line: r.line.clone(),
        })
        .collect();
    spool.with(|s| s.append(&again)).expect("append the replay");
    let outcome = uploader.upload_once(&spool).await.expect("round");
    assert_eq!(
        outcome,
        RoundOutcome::Delivered {
            records: 10,
            accepted: 0,
            duplicates: 10
        }
    );
    assert_eq!(stored(&collector.store, &ids).await, 70);
    let total = open_store(&collector.store.parse::<StoreSpec>().expect("spec"))
        .await
        .expect("store")
        .count_measurements(MeasurementQuery::default())
        .await
        .expect("count");
    assert_eq!(total, 70, "nothing stored twice");
}

#[tokio::test]
async fn fallback_urls_are_tried_in_order_when_the_collector_cannot_be_reached() {
    let dir = tempfile::tempdir().expect("temp dir");
    let collector = CollectorProcess::start(dir.path(), 0);
    let (_, token) = collector.add_probe("p1");
    // A port nothing listens on: bind one, learn it, let it go.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    let spool = spool_in(dir.path());
    let ids = spool_measurements(&spool, 15);
    let config = probe_config(dir.path(), &dead_url, &token, std::slice::from_ref(&collector.url));
    let mut uploader = Uploader::new(&config).expect("uploader");
    let (summary, _) = uploader.drain(&spool).await.expect("drain");
    assert_eq!(summary.records, 15);
    assert_eq!(stored(&collector.store, &ids).await, 15);
}

#[tokio::test]
async fn a_revoked_token_keeps_the_spool_and_is_asked_again_after_a_long_backoff() {
    let dir = tempfile::tempdir().expect("temp dir");
    let collector = CollectorProcess::start(dir.path(), 0);
    let (probe_id, token) = collector.add_probe("p1");
    collector.revoke(&probe_id);
    let spool = spool_in(dir.path());
    spool_measurements(&spool, 5);
    let mut uploader = Uploader::new(&probe_config(dir.path(), &collector.url, &token, &[])).expect("uploader");
    let mut waits = Vec::new();
    for _ in 0..3 {
        // Every round asks the collector again (no permanent stop), and deletes nothing.
        let outcome = uploader.upload_once(&spool).await.expect("round");
        assert!(
            matches!(&outcome, RoundOutcome::Unauthorized { reason } if reason.contains("revoked")),
            "{outcome:?}"
        );
        waits.push(uploader.wait_after(&outcome));
        assert_eq!(depth(&spool), 5);
    }
    // A refused token is fixed by a person: the waits start at a minute and double.
    assert!(waits[0] >= Duration::from_secs(60), "{waits:?}");
    assert!(
        waits[1] >= Duration::from_secs(120) && waits[2] >= Duration::from_secs(240),
        "{waits:?}"
    );
}

#[tokio::test]
async fn a_url_that_refuses_the_token_does_not_stop_delivery_through_the_next() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The first URL is a collector that does not know this probe (401 unknown token); the fallback does.
    for sub in ["stranger", "home"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("dir");
    }
    let stranger = CollectorProcess::start(&dir.path().join("stranger"), 0);
    let home = CollectorProcess::start(&dir.path().join("home"), 0);
    let (_, token) = home.add_probe("p1");
    let spool = spool_in(dir.path());
    let ids = spool_measurements(&spool, 7);
    let mut uploader = Uploader::new(&probe_config(
        dir.path(),
        &stranger.url,
        &token,
        std::slice::from_ref(&home.url),
    ))
    .expect("uploader");
    let (summary, last) = uploader.drain(&spool).await.expect("drain");
    assert_eq!(summary.records, 7, "{last:?}");
    assert_eq!(stored(&home.store, &ids).await, 7);
    assert_eq!(depth(&spool), 0);
}

/// `[[uplinks]]` are tried in order: an uplink whose interface is missing (a modem not plugged in) fails, and the
/// batch goes through the next one; with no working uplink the failure names each one tried.
#[tokio::test]
async fn uploads_go_through_the_next_uplink_when_one_cannot_connect() {
    let dir = tempfile::tempdir().expect("temp dir");
    let collector = CollectorProcess::start(dir.path(), 0);
    let (_, token) = collector.add_probe("p1");
    let spool = spool_in(dir.path());
    let ids = spool_measurements(&spool, 30);
    let uplink = |name: &str, interface: &str, upload: bool| {
        format!("[[uplinks]]\nname = \"{name}\"\ninterface = \"{interface}\"\naccess = \"fixed\"\nupload = {upload}\n")
    };
    let with_uplinks = |uplinks: &str| {
        let mut config = probe_config(dir.path(), &collector.url, &token, &[]);
        let parsed: ProbeConfig = toml::from_str(&format!(
            "[collector]\nurl = \"{}\"\ntoken = \"{token}\"\n{uplinks}",
            collector.url
        ))
        .expect("uplinks parse");
        config.uplinks = parsed.uplinks;
        assert!(config.problems().is_empty(), "{:?}", config.problems());
        config
    };

    let only_missing = with_uplinks(&(uplink("modem", "vgl-nomodem0", true) + &uplink("lan", "lo", false)));
    let mut uploader = Uploader::new(&only_missing).expect("uploader");
    let outcome = uploader.upload_once(&spool).await.expect("round");
    let RoundOutcome::Failed { error, .. } = outcome else {
        panic!("no working upload uplink: {outcome:?}")
    };
    assert!(error.contains("via modem"), "names the uplink tried: {error}");
    assert!(
        !error.contains("via lan"),
        "an uplink with upload = false carries nothing: {error}"
    );
    assert_eq!(depth(&spool), 30, "nothing is lost");

    let missing_then_loopback = with_uplinks(&(uplink("modem", "vgl-nomodem0", true) + &uplink("lan", "lo", true)));
    let mut uploader = Uploader::new(&missing_then_loopback).expect("uploader");
    let (summary, last) = uploader.drain(&spool).await.expect("drain");
    assert_eq!((summary.records, last), (30, RoundOutcome::Empty));
    assert_eq!(stored(&collector.store, &ids).await, 30);
}

/// `[upload] during_isolation`: `hold` sends nothing while a line is isolated and everything once it is not (a
/// jammed dish is no reason to hold);
/// `other_uplinks` keeps batches off the isolated uplink and holds when no other can carry them. Nothing is lost.
#[tokio::test]
async fn during_isolation_holds_or_keeps_batches_off_the_isolated_uplink() {
    let dir = tempfile::tempdir().expect("temp dir");
    let collector = CollectorProcess::start(dir.path(), 0);
    let (_, token) = collector.add_probe("p1");
    let spool = spool_in(dir.path());
    let ids = spool_measurements(&spool, 20);
    let config_with = |policy: &str, uplinks: &str| {
        let mut config = probe_config(dir.path(), &collector.url, &token, &[]);
        let parsed: ProbeConfig = toml::from_str(&format!(
            "[collector]\nurl = \"{}\"\ntoken = \"{token}\"\n[upload]\nduring_isolation = \"{policy}\"\n{uplinks}",
            collector.url
        ))
        .expect("parses");
        config.uplinks = parsed.uplinks;
        config.upload.during_isolation = parsed.upload.during_isolation;
        config
    };
    let wan_then_modem = "[[uplinks]]\nname = \"wan\"\ninterface = \"lo\"\naccess = \"fixed\"\n\
                          [[uplinks]]\nname = \"modem\"\ninterface = \"vgl-nomodem0\"\naccess = \"mobile\"\n";

    let label = |name: &str, access| vigil_measurement::Uplink {
        name: name.to_owned(),
        access,
    };
    let (wan, modem) = (
        label("wan", vigil_measurement::UplinkAccess::Fixed),
        label("modem", vigil_measurement::UplinkAccess::Mobile),
    );

    // hold: nothing leaves while wan is isolated, then everything, once.
    let mut uploader = Uploader::new(&config_with("hold", wan_then_modem)).expect("uploader");
    let isolation = uploader.isolation();
    isolation.set(Some(&wan), true);
    for _ in 0..3 {
        let outcome = uploader.upload_once(&spool).await.expect("round");
        assert!(
            matches!(&outcome, RoundOutcome::Held { reason } if reason.contains("hold")),
            "{outcome:?}"
        );
    }
    assert_eq!(
        (depth(&spool), stored(&collector.store, &ids).await),
        (20, 0),
        "held, not lost"
    );
    isolation.set(Some(&wan), false);
    let (summary, last) = uploader.drain(&spool).await.expect("drain");
    assert_eq!((summary.records, last), (20, RoundOutcome::Empty));
    assert_eq!(stored(&collector.store, &ids).await, 20);

    // hold does not wait for a dish that reaches nothing (jammed) while the line works: the line is not cut.
    let after_jam = spool_measurements(&spool, 3);
    let wan_then_dish = "[[uplinks]]\nname = \"wan\"\ninterface = \"lo\"\naccess = \"fixed\"\n\
                         [[uplinks]]\nname = \"dish\"\ninterface = \"vgl-nodish0\"\naccess = \"satellite\"\n";
    let mut uploader = Uploader::new(&config_with("hold", wan_then_dish)).expect("uploader");
    uploader
        .isolation()
        .set(Some(&label("dish", vigil_measurement::UplinkAccess::Satellite)), true);
    let (summary, last) = uploader.drain(&spool).await.expect("drain");
    assert_eq!((summary.records, last), (3, RoundOutcome::Empty));
    assert_eq!(stored(&collector.store, &after_jam).await, 3);

    // other_uplinks: with wan isolated only the modem may carry the batch (and it is not plugged in).
    let more = spool_measurements(&spool, 5);
    let mut uploader = Uploader::new(&config_with("other_uplinks", wan_then_modem)).expect("uploader");
    let isolation = uploader.isolation();
    isolation.set(Some(&wan), true);
    let outcome = uploader.upload_once(&spool).await.expect("round");
    let RoundOutcome::Failed { error, .. } = &outcome else {
        panic!("only the modem was tried: {outcome:?}")
    };
    assert!(error.contains("via modem") && !error.contains("via wan"), "{error}");
    isolation.set(Some(&modem), true);
    let outcome = uploader.upload_once(&spool).await.expect("round");
    assert!(
        matches!(outcome, RoundOutcome::Held { .. }),
        "no uplink left: {outcome:?}"
    );
    isolation.set(Some(&wan), false);
    let (summary, _) = uploader.drain(&spool).await.expect("drain");
    assert_eq!(summary.records, 5);
    assert_eq!(stored(&collector.store, &more).await, 5);
}
