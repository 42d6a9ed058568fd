//! RIPE Atlas connection logs as presence-only pseudo-probes, on logs written here in the real format (the real
//! days are replayed in `ripe_atlas_real.rs`): a burst of disconnections in one network is an event scoped to
//! that network, never a confident shutdown or blackout; a brief reconnect burst is no outage; a burst of many
//! networks from one controller is the platform's side, and the same burst spread over controllers is not.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use common::TestCollector;
use vigil_collector::ClassifierSettings;
use vigil_collector::classify_window;
use vigil_collector::ripe_atlas::{ProbePlace, import};
use vigil_collector::{ConfidenceLevel, EventClass};

const MIN: i64 = 60;

struct Log {
    entries: Vec<String>,
}

impl Log {
    fn event(&mut self, event: &str, prb: u64, asn: &str, controller: &str, at: DateTime<Utc>) {
        self.entries.push(format!(
            r#"{{"type":"connection","event":"{event}","prb_id":{prb},"asn":{asn},"prefix":"192.0.2.0/24","controller":"{controller}","timestamp":{},"msm_id":7000}}"#,
            at.timestamp()
        ));
    }

    fn json(&self) -> Vec<u8> {
        format!("[{}]", self.entries.join(",\n")).into_bytes()
    }
}

fn t0() -> DateTime<Utc> {
    (Utc::now() - Duration::hours(5))
        .duration_trunc(Duration::minutes(5))
        .expect("trunc")
}

fn at(t0: DateTime<Utc>, minutes: f64) -> DateTime<Utc> {
    t0 + Duration::seconds((minutes * MIN as f64) as i64)
}

fn place(country: &str) -> ProbePlace {
    ProbePlace {
        country: country.to_owned(),
        region: None,
        asn: None,
    }
}

#[tokio::test]
async fn a_burst_of_disconnections_in_one_asn_is_an_event_of_that_asn_and_a_brief_one_is_none() {
    let c = TestCollector::start().await;
    let t0 = t0();
    let mut log = Log { entries: Vec::new() };
    let mut places = BTreeMap::new();
    for (i, asn) in [64500u32, 64501, 64502].iter().enumerate() {
        for j in 0..12u64 {
            let prb = 1000 + i as u64 * 100 + j;
            // The ASN comes as a number, a string or null, varying from event to event as in real logs.
            let forms = [asn.to_string(), format!("\"{asn}\""), "null".to_owned()];
            let form = |k: u64| forms[((j + k) % 3) as usize].clone();
            // Connected before the log: the log opens with a disconnection for some, a short blip for others.
            if j % 2 == 0 {
                log.event("disconnect", prb, &form(0), "ctr-ams01", at(t0, 1.0 + j as f64 / 10.0));
                log.event("connect", prb, &form(1), "ctr-ams02", at(t0, 2.5 + j as f64 / 10.0));
            } else {
                log.event("connect", prb, &form(1), "ctr-ams02", t0);
            }
            if *asn == 64500 {
                // The outage: all twelve leave within two minutes and stay away 25 to 35 minutes.
                log.event("disconnect", prb, &form(2), "ctr-nue01", at(t0, 60.0 + j as f64 / 6.0));
                log.event("connect", prb, &form(0), "ctr-nue01", at(t0, 87.0 + j as f64 / 1.5));
            }
            if *asn == 64501 {
                // A brief reconnect burst: everyone back within three minutes.
                log.event(
                    "disconnect",
                    prb,
                    &form(2),
                    "ctr-ams03",
                    at(t0, 120.0 + j as f64 / 12.0),
                );
                log.event("connect", prb, &form(0), "ctr-ams03", at(t0, 122.0 + j as f64 / 12.0));
            }
            // The log runs to 4 hours.
            if j == 0 {
                log.event("disconnect", prb, &form(0), "ctr-ams01", at(t0, 239.0));
                log.event("connect", prb, &form(0), "ctr-ams01", at(t0, 240.0));
            }
            places.insert(prb, place("IR"));
        }
    }
    // A duplicate and an unsorted entry change nothing.
    log.event("connect", 1001, "64500", "ctr-ams02", t0);
    log.entries.swap(0, 5);
    let report = import(c.store.as_ref(), &log.json(), &places).await.expect("imports");
    assert_eq!((report.new_probes, report.skipped, report.unplaced), (36, 0, 0));
    let again = import(c.store.as_ref(), &log.json(), &places).await.expect("re-import");
    assert_eq!(again.new_probes, 0, "a re-import registers nobody twice");

    let run = classify_window(
        c.store.as_ref(),
        t0,
        t0 + Duration::hours(4),
        5 * MIN,
        &ClassifierSettings::default(),
    )
    .await
    .expect("classifies");
    let outages: Vec<_> = run.events.iter().filter(|e| e.scope.level != "probe").collect();
    assert_eq!(outages.len(), 1, "{:#?}", run.events);
    let e = outages[0];
    assert_eq!((e.scope.level.as_str(), e.scope.asn), ("asn", Some(64500)), "{e:#?}");
    assert_eq!(e.scope.country.as_deref(), Some("IR"));
    assert!(
        !matches!(e.class, EventClass::Shutdown | EventClass::PowerOutage)
            || e.confidence_level == ConfidenceLevel::Low,
        "presence alone is never a confident shutdown or blackout: {e:#?}"
    );
    assert!(
        e.evidence
            .iter()
            .any(|ev| ev.text.contains("presence only: no device or path evidence")),
        "{e:#?}"
    );
    assert_eq!(e.affected_probes, 12);
    // From the bucket of the burst (60 min) to the median return (about 87 + 5.5 min: the 90-minute bucket).
    assert_eq!(e.started_at, (t0 + Duration::minutes(60)).timestamp(), "{e:#?}");
    assert_eq!(e.ended_at, Some((t0 + Duration::minutes(90)).timestamp()), "{e:#?}");
    c.stop().await;
}

/// Thirty probes in ten networks and three countries leave at once and stay away 20 minutes; forty other probes
/// leave now and then through the window, on other controllers.
fn platform_log(t0: DateTime<Utc>, burst_controller: impl Fn(u64) -> String) -> (Log, BTreeMap<u64, ProbePlace>) {
    let mut log = Log { entries: Vec::new() };
    let mut places = BTreeMap::new();
    for j in 0..30u64 {
        let prb = 2000 + j;
        let asn = (64600 + j % 10).to_string();
        log.event("connect", prb, &asn, "ctr-x", t0);
        log.event(
            "disconnect",
            prb,
            &asn,
            &burst_controller(j),
            at(t0, 100.0 + j as f64 / 20.0),
        );
        log.event("connect", prb, &asn, "ctr-y", at(t0, 120.0 + j as f64 / 20.0));
        places.insert(prb, place(["IR", "VE", "MM"][(j % 3) as usize]));
    }
    for j in 0..40u64 {
        let prb = 3000 + j;
        let asn = (64700 + j % 20).to_string();
        let leave = 10.0 + j as f64 * 5.0;
        log.event("connect", prb, &asn, "ctr-x", t0);
        log.event("disconnect", prb, &asn, &format!("ctr-bg{}", j % 4), at(t0, leave));
        log.event("connect", prb, &asn, "ctr-y", at(t0, leave + 15.0));
        places.insert(prb, place(["IR", "VE", "MM"][(j % 3) as usize]));
    }
    log.event("disconnect", 3000, "64700", "ctr-bg0", at(t0, 239.0));
    (log, places)
}

#[tokio::test]
async fn many_networks_leaving_one_controller_at_once_are_the_platforms_side_and_spread_over_controllers_are_not() {
    for concentrated in [true, false] {
        let c = TestCollector::start().await;
        let t0 = t0();
        let (log, places) = platform_log(t0, |j| {
            if concentrated {
                "ctr-ams01".to_owned()
            } else {
                format!("ctr-bg{}", j % 4)
            }
        });
        import(c.store.as_ref(), &log.json(), &places).await.expect("imports");
        let run = classify_window(
            c.store.as_ref(),
            t0,
            t0 + Duration::hours(4),
            5 * MIN,
            &ClassifierSettings::default(),
        )
        .await
        .expect("classifies");
        let platform: Vec<_> = run
            .events
            .iter()
            .filter(|e| e.class == EventClass::CollectorSide)
            .collect();
        assert!(
            run.events
                .iter()
                .all(|e| !matches!(e.class, EventClass::Shutdown | EventClass::PowerOutage)
                    || e.confidence_level == ConfidenceLevel::Low),
            "{:#?}",
            run.events
        );
        if concentrated {
            assert_eq!(platform.len(), 1, "{:#?}", run.events);
            let e = platform[0];
            assert_eq!(e.affected_probes, 30);
            assert_eq!(e.probes_in_scope, 70, "its own probes are in its scope: {e:#?}");
            assert!(e.evidence[0].text.contains("ctr-ams01"), "{e:#?}");
            assert_eq!(e.started_at, (t0 + Duration::minutes(100)).timestamp());
            assert!(
                run.events
                    .iter()
                    .all(|e| e.scope.level == "collector" || e.scope.level == "probe"),
                "the probes the platform explains make no outage of their networks or countries: {:#?}",
                run.events
            );
        } else {
            assert!(
                platform.is_empty(),
                "no platform evidence, no platform call: {:#?}",
                run.events
            );
        }
        c.stop().await;
    }
}

#[tokio::test]
async fn an_archive_import_places_probes_an_earlier_import_left_unplaced() {
    let c = TestCollector::start().await;
    let t0 = t0();
    let mut log = Log { entries: Vec::new() };
    log.event("connect", 7, "64500", "ctr-a", t0);
    log.event("disconnect", 8, "null", "ctr-a", at(t0, 3.0));
    let first = import(c.store.as_ref(), &log.json(), &BTreeMap::new())
        .await
        .expect("imports");
    assert_eq!((first.new_probes, first.unplaced), (2, 2));
    let archive = br#"{"objects": [
        {"id": 7, "asn_v4": 64500, "asn_v6": null, "country_code": "VE", "status": 1},
        {"id": 8, "asn_v4": null, "asn_v6": 64511, "country_code": "IR", "status": 2}
    ]}"#;
    let (places, _) = vigil_collector::ripe_atlas::parse_probe_archive(archive).expect("parses");
    let second = import(c.store.as_ref(), &log.json(), &places).await.expect("imports");
    assert_eq!((second.new_probes, second.updated_probes, second.unplaced), (0, 2, 0));
    let probes: BTreeMap<String, (String, u32)> = c
        .store
        .probes()
        .await
        .expect("probes")
        .into_iter()
        .map(|p| (p.probe_id, (p.profile.country, p.profile.asn)))
        .collect();
    assert_eq!(probes["atlas-7"], ("VE".to_owned(), 64500));
    assert_eq!(
        probes["atlas-8"],
        ("IR".to_owned(), 64511),
        "the archive's ASN where the log has none"
    );
    c.stop().await;
}

/// Five networks of 20 probes in one country, each probe leaving now and then on its own (churn); then either
/// 15 probes of one network leave together, or every network's probes do.
fn country_log(t0: DateTime<Utc>, all_networks: bool) -> (Log, BTreeMap<u64, ProbePlace>) {
    let mut log = Log { entries: Vec::new() };
    let mut places = BTreeMap::new();
    for n in 0..5u64 {
        let asn = (64800 + n).to_string();
        for j in 0..20u64 {
            let prb = 4000 + n * 100 + j;
            places.insert(prb, place("NL"));
            log.event("connect", prb, &asn, "ctr-a", t0);
            // Churn: one 15-minute absence per probe, spread over the whole log (the burst's time included).
            let own = 5.0 + ((n * 20 + j) as f64 * 2.47) % 240.0;
            log.event("disconnect", prb, &asn, "ctr-b", at(t0, own));
            log.event("connect", prb, &asn, "ctr-b", at(t0, own + 15.0));
            if (all_networks || n == 0) && j < 15 {
                log.event(
                    "disconnect",
                    prb,
                    &asn,
                    &format!("ctr-{}", j % 5),
                    at(t0, 200.0 + j as f64 / 10.0),
                );
                log.event("connect", prb, &asn, "ctr-c", at(t0, 225.0 + j as f64 / 10.0));
            }
        }
    }
    log.event("disconnect", 4000, "64800", "ctr-a", at(t0, 259.0));
    (log, places)
}

#[tokio::test]
async fn one_networks_outage_in_a_country_stays_that_networks_and_every_networks_is_the_countrys() {
    for all_networks in [false, true] {
        let c = TestCollector::start().await;
        let t0 = t0();
        let (log, places) = country_log(t0, all_networks);
        import(c.store.as_ref(), &log.json(), &places).await.expect("imports");
        let run = classify_window(
            c.store.as_ref(),
            t0,
            t0 + Duration::minutes(260),
            5 * MIN,
            &ClassifierSettings::default(),
        )
        .await
        .expect("classifies");
        let outages: Vec<_> = run.events.iter().filter(|e| e.scope.level != "probe").collect();
        assert_eq!(outages.len(), 1, "all networks: {all_networks}: {outages:#?}");
        let e = outages[0];
        if all_networks {
            assert_eq!(
                (e.scope.level.as_str(), e.scope.country.as_deref()),
                ("country", Some("NL")),
                "{e:#?}"
            );
            // 75 left together; a probe already away on its own then is not counted in.
            assert!((70..=80).contains(&e.affected_probes), "{e:#?}");
        } else {
            assert_eq!((e.scope.level.as_str(), e.scope.asn), ("asn", Some(64800)), "{e:#?}");
            assert_eq!(e.affected_probes, 15, "{e:#?}");
        }
        assert_eq!(e.started_at, (t0 + Duration::minutes(200)).timestamp(), "{e:#?}");
        c.stop().await;
    }
}
