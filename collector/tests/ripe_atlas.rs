//! RIPE Atlas connection logs as presence-only pseudo-probes, on a synthetic log: a burst of disconnections in
//! one ASN is an event scoped to that ASN (never a shutdown: presence says nothing about paths or power), and
//! disconnections across many ASNs and countries at once are the collector's (controller's) side.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use common::TestCollector;
use vigil_collector::classify::run::classify_window;
use vigil_collector::classify::{ClassifierSettings, EventClass};
use vigil_collector::import::ripe_atlas::import;

const MIN: i64 = 60;

struct Log {
    entries: Vec<String>,
}

impl Log {
    fn event(&mut self, event: &str, prb: u64, asn: &str, at: DateTime<Utc>) {
        self.entries.push(format!(
            r#"{{"type":"connection","event":"{event}","prb_id":{prb},"asn":{asn},"prefix":"192.0.2.0/24","controller":"ctr-ams01","timestamp":{},"msm_id":7000}}"#,
            at.timestamp()
        ));
    }

    fn json(&self) -> Vec<u8> {
        format!("[{}]", self.entries.join(",\n")).into_bytes()
    }
}

fn t0() -> DateTime<Utc> {
    (Utc::now() - Duration::hours(3))
        .duration_trunc(Duration::minutes(1))
        .expect("trunc")
}

#[tokio::test]
async fn a_burst_of_disconnections_in_one_asn_is_an_event_scoped_to_that_asn() {
    let c = TestCollector::start().await;
    let t0 = t0();
    let mut log = Log { entries: Vec::new() };
    let mut places = BTreeMap::new();
    for (i, asn) in [64500u32, 64501, 64502].iter().enumerate() {
        for j in 0..6u64 {
            let prb = 1000 + i as u64 * 10 + j;
            // The ASN comes as a number, a string or null, varying from event to event as in real logs.
            let forms = [asn.to_string(), format!("\"{asn}\""), "null".to_owned()];
            log.event("connect", prb, &forms[j as usize % 3], t0);
            if *asn == 64500 {
                log.event(
                    "disconnect",
                    prb,
                    &forms[(j as usize + 1) % 3],
                    t0 + Duration::seconds(40 * MIN + j as i64 * 20),
                );
                log.event(
                    "connect",
                    prb,
                    &forms[(j as usize + 2) % 3],
                    t0 + Duration::seconds(70 * MIN),
                );
            }
            places.insert(
                prb,
                (
                    "IR".to_owned(),
                    Some(if j % 2 == 0 { "Tehran" } else { "Isfahan" }.to_owned()),
                ),
            );
        }
    }
    // A duplicate and an unsorted entry change nothing.
    log.event("connect", 1000, "64500", t0);
    log.entries.swap(0, 5);
    let report = import(c.store.as_ref(), &log.json(), &places).await.expect("imports");
    assert_eq!((report.new_probes, report.skipped), (18, 0));
    let again = import(c.store.as_ref(), &log.json(), &places).await.expect("re-import");
    assert_eq!(again.new_probes, 0, "a re-import registers nobody twice");

    let run = classify_window(
        c.store.as_ref(),
        t0,
        t0 + Duration::seconds(110 * MIN),
        MIN,
        &ClassifierSettings::default(),
    )
    .await
    .expect("classifies");
    assert_eq!(run.events.len(), 1, "{:#?}", run.events);
    let e = &run.events[0];
    assert_eq!((e.scope.level.as_str(), e.scope.asn), ("asn", Some(64500)), "{e:#?}");
    assert_ne!(
        e.class,
        EventClass::Shutdown,
        "presence alone never makes a shutdown call"
    );
    assert_eq!(e.affected_probes, 6);
    c.stop().await;
}

#[tokio::test]
async fn disconnections_across_many_asns_and_countries_at_once_are_the_collector_side() {
    let c = TestCollector::start().await;
    let t0 = t0();
    let mut log = Log { entries: Vec::new() };
    let mut places = BTreeMap::new();
    for (i, country) in ["IR", "VE", "MM"].iter().enumerate() {
        for j in 0..4u64 {
            let prb = 2000 + i as u64 * 10 + j;
            let asn = (64600 + i * 2 + (j as usize % 2)).to_string();
            log.event("connect", prb, &asn, t0);
            log.event("disconnect", prb, &asn, t0 + Duration::seconds(40 * MIN));
            log.event("connect", prb, &asn, t0 + Duration::seconds(48 * MIN));
            places.insert(prb, ((*country).to_owned(), None));
        }
    }
    import(c.store.as_ref(), &log.json(), &places).await.expect("imports");
    let run = classify_window(
        c.store.as_ref(),
        t0,
        t0 + Duration::seconds(90 * MIN),
        MIN,
        &ClassifierSettings::default(),
    )
    .await
    .expect("classifies");
    let classes: Vec<EventClass> = run.events.iter().map(|e| e.class).collect();
    assert_eq!(classes, [EventClass::CollectorSide], "{:#?}", run.events);
    assert_eq!(run.events[0].affected_probes, 12);
    c.stop().await;
}
