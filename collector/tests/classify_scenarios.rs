//! The classifier on synthetic measurement streams, one per class and the look-alikes that must not be
//! confused with them; plus the invariant that the events depend only on the measurements, not on their order.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;
use vigil_collector::AccessType;
use vigil_collector::Placed;
use vigil_collector::{ClassifierInput, ClassifierSettings, ProbeInfo, build_input, classify};
use vigil_collector::{ConfidenceLevel, DisruptionEvent, EventClass};
use vigil_measurement::result::{DnsResult, Power, TcpResult, VitalsResult};
use vigil_measurement::{Measurement, MeasurementResult, Outcome, SCHEMA_VERSION, Scope, Target};

const BUCKET: i64 = 60;
const WINDOW: i64 = 120;

fn t0() -> DateTime<Utc> {
    // 10:07 UTC: deliberately not on the hour, so onset timing adds nothing unless a scenario asks for it.
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 7, 0).single().expect("a time")
}

fn at(bucket: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(bucket * BUCKET + 5)
}

/// A registered probe with no UPS that has not been heard from yet.
fn probe_info(probe_id: &str, country: &str, asn: u32, region: &str, access: AccessType) -> ProbeInfo {
    ProbeInfo {
        probe_id: probe_id.to_owned(),
        country: country.to_owned(),
        asn,
        region: Some(region.to_owned()),
        access,
        ups: false,
        last_seen: None,
        held_since: None,
        network_country: None,
    }
}

/// The events of `all` when the probes `cut` accepts lose their international paths during `CUT`, keeping their
/// domestic ones, and everything else stays healthy.
fn events_with_transit_cut(all: Vec<ProbeInfo>, cut: impl Fn(&ProbeInfo) -> bool) -> Vec<DisruptionEvent> {
    let s = Scenario::of(&all, |p, b| {
        Some(Report {
            international_ok: !(cut(p) && CUT.contains(&b)),
            ..HEALTHY
        })
    });
    s.events_for(all)
}

/// `count` fixed probes of `asn` in `region` of `country`, named `{prefix}-{asn}-{i}`.
fn fixed_probes(prefix: &str, country: &str, asn: u32, region: &str, count: usize) -> Vec<ProbeInfo> {
    (0..count)
        .map(|i| probe_info(&format!("{prefix}-{asn}-{i}"), country, asn, region, AccessType::Fixed))
        .collect()
}

/// 12 probes in IR: 3 ASNs × 2 regions × (fixed, mobile).
fn probes() -> Vec<ProbeInfo> {
    let mut out = Vec::new();
    for asn in [44244u32, 58224, 197207] {
        for region in ["Tehran", "Isfahan"] {
            for access in [AccessType::Fixed, AccessType::Mobile] {
                out.push(probe_info(
                    &format!("p-{asn}-{region}-{}", access.as_str()),
                    "IR",
                    asn,
                    region,
                    access,
                ));
            }
        }
    }
    out
}

/// What a probe reports in one bucket.
#[derive(Clone, Copy, Debug)]
struct Report {
    boot: u32,
    battery: bool,
    gateway: bool,
    domestic_ok: bool,
    international_ok: bool,
    /// Body throughput of an international HTTP anchor, when one is fetched.
    speed: Option<f64>,
}

const HEALTHY: Report = Report {
    boot: 1,
    battery: false,
    gateway: true,
    domestic_ok: true,
    international_ok: true,
    speed: None,
};

fn measurement(started: DateTime<Utc>, target: Target, result: MeasurementResult) -> Measurement {
    Measurement {
        schema: SCHEMA_VERSION,
        id: Uuid::now_v7(),
        started_at: started,
        duration_ms: 5.0,
        target,
        network: None,
        clock: None,
        uplink: None,
        result,
    }
}

fn tcp(ok: bool) -> MeasurementResult {
    MeasurementResult::Tcp(TcpResult {
        outcome: if ok { Outcome::Ok } else { Outcome::Timeout },
        ip: "192.0.2.1".parse().expect("ip"),
        port: 443,
        method: None,
        reply: None,
        reply_ttl: None,
        reply_ip_id: None,
        injected_rst: None,
        rtt_ms: None,
        error_detail: None,
    })
}

/// The measurements of one bucket's report: vitals and one anchor check per scope.
fn report(bucket: i64, r: Report) -> Vec<(DateTime<Utc>, Measurement)> {
    let t = at(bucket);
    let vitals = MeasurementResult::Vitals(VitalsResult {
        outcome: Outcome::Ok,
        boot_id: format!("boot-{}", r.boot),
        uptime_s: 100.0,
        power: Power {
            ac_online: Some(!r.battery),
            on_battery: Some(r.battery),
            battery_pct: Some(80.0),
        },
        gateway_reachable: r.gateway,
        link_up: true,
        last_gasp: false,
        spool_depth: 0,
        seq: None,
        gateway_rtt_ms: None,
        error_detail: None,
    });
    let anchor = |scope| Target {
        name: "anchor".to_owned(),
        scope,
        list: Some("anchors".to_owned()),
    };
    let mut out = vec![
        (
            t,
            measurement(
                t,
                Target {
                    name: "self".to_owned(),
                    scope: Scope::Local,
                    list: None,
                },
                vitals,
            ),
        ),
        (t, measurement(t, anchor(Scope::Domestic), tcp(r.domestic_ok))),
        (t, measurement(t, anchor(Scope::International), tcp(r.international_ok))),
    ];
    if let Some(speed) = r.speed {
        let http = MeasurementResult::Http(vigil_measurement::result::HttpResult {
            outcome: Outcome::Ok,
            url: "https://anchor.example/".to_owned(),
            status: Some(200),
            redirects: Vec::new(),
            headers: Default::default(),
            body_length: Some(100_000),
            body_sha256: None,
            title: None,
            fingerprint: None,
            failure_stage: None,
            tls_version: None,
            server_ip: None,
            throughput_bps: Some(speed),
            error_detail: None,
            sni: None,
            quic: None,
        });
        out.push((t, measurement(t, anchor(Scope::International), http)));
    }
    out
}

/// A scenario: per probe, per bucket, a report or silence.
struct Scenario {
    measurements: Vec<(String, DateTime<Utc>, Measurement)>,
}

impl Scenario {
    fn new(shape: impl FnMut(&ProbeInfo, i64) -> Option<Report>) -> Self {
        Self::of(&probes(), shape)
    }

    /// What `probes` report, each bucket shaped by `shape` (nothing when it gives `None`).
    fn of(probes: &[ProbeInfo], mut shape: impl FnMut(&ProbeInfo, i64) -> Option<Report>) -> Self {
        let mut measurements = Vec::new();
        for p in probes {
            for b in 0..WINDOW {
                if let Some(r) = shape(p, b) {
                    measurements.extend(report(b, r).into_iter().map(|(t, m)| (p.probe_id.clone(), t, m)));
                }
            }
        }
        Scenario { measurements }
    }

    /// Adds what the satellite dishes of the `dual` probes (their second uplink, issue 24) report, each bucket
    /// shaped by `shape`: the probe's measurements taken through the dish, labelled so.
    fn with_dishes(mut self, dual: &[ProbeInfo], mut shape: impl FnMut(&ProbeInfo, i64) -> Option<Report>) -> Self {
        let dish = vigil_measurement::Uplink {
            name: "sat".to_owned(),
            access: vigil_measurement::UplinkAccess::Satellite,
        };
        for p in dual {
            for b in 0..WINDOW {
                for (t, mut m) in shape(p, b).map(|r| report(b, r)).unwrap_or_default() {
                    m.uplink = Some(dish.clone());
                    self.measurements.push((p.probe_id.clone(), t, m));
                }
            }
        }
        self
    }

    /// The events of these measurements, for `probes`.
    fn events_for(&self, probes: Vec<ProbeInfo>) -> Vec<DisruptionEvent> {
        let order: Vec<usize> = (0..self.measurements.len()).collect();
        self.events_in(&order, probes)
    }

    fn add(&mut self, probe: &str, bucket: i64, target: Target, result: MeasurementResult) {
        let t = at(bucket);
        self.measurements
            .push((probe.to_owned(), t, measurement(t, target, result)));
    }

    fn events_in(&self, order: &[usize], probes: Vec<ProbeInfo>) -> Vec<DisruptionEvent> {
        classify(&self.input(order, probes), &ClassifierSettings::default())
    }

    fn input(&self, order: &[usize], probes: Vec<ProbeInfo>) -> ClassifierInput {
        let access: std::collections::HashMap<String, AccessType> =
            probes.iter().map(|p| (p.probe_id.clone(), p.access)).collect();
        let placed = order.iter().map(|&i| {
            let (p, t, m) = &self.measurements[i];
            Placed {
                probe_id: p,
                access: access.get(p).copied().unwrap_or(AccessType::Fixed),
                started_at: *t,
                measurement: m,
            }
        });
        build_input(probes, placed, BUCKET, t0(), t0() + Duration::seconds(WINDOW * BUCKET))
    }

    fn events(&self) -> Vec<DisruptionEvent> {
        let order: Vec<usize> = (0..self.measurements.len()).collect();
        self.events_in(&order, probes())
    }

    /// The events when the dishes' uploads arrived from `network` (the collector's `[ingest] asn_table` read it
    /// from their addresses, and a run gives each uplink's timeline that network).
    fn events_with_dishes_on(&self, network: u32) -> Vec<DisruptionEvent> {
        let order: Vec<usize> = (0..self.measurements.len()).collect();
        let mut input = self.input(&order, probes());
        let mut dishes = 0;
        for p in input.probes.iter_mut().filter(|p| p.probe_id.ends_with("/satellite")) {
            p.asn = network;
            dishes += 1;
        }
        assert!(dishes > 0, "the scenario has dishes");
        classify(&input, &ClassifierSettings::default())
    }
}

const CUT: std::ops::Range<i64> = 40..70;

/// Every probe cut off from the world during `CUT`, reporting (late) that domestic anchors still answered.
fn national_intranet_cut() -> Scenario {
    Scenario::new(|_, b| {
        Some(if CUT.contains(&b) {
            Report {
                international_ok: false,
                ..HEALTHY
            }
        } else {
            HEALTHY
        })
    })
}

/// Asserts that the event's evidence mentions every phrase.
fn assert_evidence(e: &DisruptionEvent, phrases: &[&str]) {
    let text: Vec<&str> = e.evidence.iter().map(|ev| ev.text.as_str()).collect();
    for phrase in phrases {
        assert!(text.iter().any(|t| t.contains(phrase)), "no {phrase:?} in {text:?}");
    }
}

fn only(events: &[DisruptionEvent], class: EventClass) -> &DisruptionEvent {
    let matching: Vec<&DisruptionEvent> = events.iter().filter(|e| e.class == class).collect();
    assert_eq!(matching.len(), 1, "expected one {class:?} event: {events:#?}");
    matching[0]
}

#[test]
fn a_national_shutdown_with_a_domestic_intranet_is_a_high_confidence_shutdown() {
    // During the cut the probes keep measuring (spooled, uploaded later): gateway up, same boot, domestic
    // anchors answer, international ones do not. All come back in the same bucket.
    let s = national_intranet_cut();
    let events = s.events();
    let e = only(&events, EventClass::Shutdown);
    assert_eq!(
        (e.scope.level.as_str(), e.scope.country.as_deref()),
        ("country", Some("IR"))
    );
    assert_eq!(e.confidence_level, ConfidenceLevel::High, "{e:#?}");
    assert_eq!((e.affected_probes, e.probes_in_scope), (12, 12));
    assert_eq!(e.started_at, (t0() + Duration::seconds(CUT.start * BUCKET)).timestamp());
    assert_eq!(
        e.ended_at,
        Some((t0() + Duration::seconds(CUT.end * BUCKET)).timestamp())
    );
    assert_evidence(
        e,
        &[
            "kept the same boot id",
            "domestic anchors answered",
            "all 3 networks in IR",
        ],
    );
    assert!(events.iter().all(|e| e.class != EventClass::ProbeFault), "{events:#?}");
}

#[test]
fn a_country_whose_probes_are_all_one_network_cannot_tell_a_cut_from_that_networks_failure() {
    // The same intranet cut, but every probe of IR is on one network: its failure (transit lost, domestic peering
    // kept) and an order look the same on every probe: nothing leans either way (the onset is not on the hour),
    // so nothing is called, and the event names both readings.
    let one_network: Vec<ProbeInfo> = probes().into_iter().map(|p| ProbeInfo { asn: 44244, ..p }).collect();
    let s = national_intranet_cut();
    let order: Vec<usize> = (0..s.measurements.len()).collect();
    let events = s.events_in(&order, one_network);
    let e = both_readings(&events, 12);
    assert_evidence(
        e,
        &[
            "every probe in IR is on AS44244: a cut ordered for IR and a failure of AS44244 look the same",
            "only a cut beyond the country at the same time could tell them apart",
            "domestic anchors answered",
        ],
    );
}

/// The one outage event of `events`, checked to be `unknown` with equal shutdown and network-failure scores.
fn both_readings(events: &[DisruptionEvent], probes: usize) -> &DisruptionEvent {
    let e = only(events, EventClass::Unknown);
    assert!(
        events
            .iter()
            .all(|e| !matches!(e.class, EventClass::Shutdown | EventClass::NetworkFailure)),
        "{events:#?}"
    );
    assert_eq!(e.affected_probes, probes, "{e:#?}");
    assert_eq!(e.scores["shutdown"], e.scores["network_failure"], "{e:#?}");
    e
}

/// The events when Tabriz — five probes of AS64997 (which has one more, up, in Isfahan) and `more` — loses every
/// path during `CUT`, gateways up, beside the probes of [`probes`].
fn tabriz_cut(more: &[ProbeInfo]) -> Vec<DisruptionEvent> {
    let mut all = probes();
    all.extend(fixed_probes("tbz", "IR", 64997, "Tabriz", 5));
    all.push(probe_info("isf-64997", "IR", 64997, "Isfahan", AccessType::Fixed));
    all.extend_from_slice(more);
    let s = Scenario::of(&all, |p, b| {
        let cut = p.region.as_deref() == Some("Tabriz") && CUT.contains(&b);
        Some(Report {
            domestic_ok: !cut,
            international_ok: !cut,
            ..HEALTHY
        })
    });
    s.events_for(all)
}

#[test]
fn a_region_whose_probes_are_all_one_network_names_both_readings() {
    // Tabriz's five probes are all on AS64997, which has one more probe, up, in Isfahan. They lose every path at
    // once, gateways up: a cut ordered for Tabriz and AS64997's failure there put the same probes down.
    let events = tabriz_cut(&[]);
    let e = both_readings(&events, 5);
    assert_eq!(e.scope.region.as_deref(), Some("Tabriz"), "{e:#?}");
    assert_evidence(
        e,
        &[
            "every probe in Tabriz (IR) is on AS64997: a cut ordered for Tabriz and a failure of AS64997 there look the same",
        ],
    );
}

#[test]
fn a_mobile_cut_where_one_operator_carries_every_mobile_probe_names_both_readings() {
    // Fixed lines on three networks work; every mobile probe is on one mobile-only operator, and all of them are
    // cut off from abroad. A mobile shutdown and that operator's failure look the same.
    let mobile_on_one: Vec<ProbeInfo> = probes()
        .into_iter()
        .map(|p| match p.access {
            AccessType::Mobile => ProbeInfo { asn: 64999, ..p },
            _ => p,
        })
        .collect();
    let s = Scenario::new(|p, b| {
        Some(if CUT.contains(&b) && p.access == AccessType::Mobile {
            Report {
                international_ok: false,
                ..HEALTHY
            }
        } else {
            HEALTHY
        })
    });
    let order: Vec<usize> = (0..s.measurements.len()).collect();
    let events = s.events_in(&order, mobile_on_one);
    let e = both_readings(&events, 6);
    assert_evidence(
        e,
        &["every mobile probe in IR is on AS64999: a cut ordered for mobile access in IR and a failure of AS64999"],
    );
}

/// IR's twelve probes, and two in TM on two networks: all a small deployment there has.
fn with_two_in_tm() -> Vec<ProbeInfo> {
    let mut all = probes();
    for (i, asn) in [20661u32, 51495].into_iter().enumerate() {
        all.push(probe_info(&format!("tm-{i}"), "TM", asn, "Ashgabat", AccessType::Fixed));
    }
    all
}

/// The events when TM's two probes fall silent together during `silent` and IR stays healthy.
fn both_tm_probes_silent(silent: std::ops::Range<i64>) -> Vec<DisruptionEvent> {
    let mut s = Scenario::new(|_, _| Some(HEALTHY));
    for probe in ["tm-0", "tm-1"] {
        for b in (0..WINDOW).filter(|b| !silent.contains(b)) {
            s.measurements
                .extend(report(b, HEALTHY).into_iter().map(|(t, m)| (probe.to_owned(), t, m)));
        }
    }
    let order: Vec<usize> = (0..s.measurements.len()).collect();
    s.events_in(&order, with_two_in_tm())
}

#[test]
fn two_probes_all_a_country_has_down_together_for_long_are_an_outage_from_its_first_bucket() {
    // Two probes down in one bucket is not rare enough to call (1 in 10,000 at their baseline, against a level
    // shared by every scope tested); two down together for 30 buckets when neither has ever failed alone is.
    let events = both_tm_probes_silent(CUT);
    let tm: Vec<&DisruptionEvent> = events
        .iter()
        .filter(|e| e.scope.country.as_deref() == Some("TM"))
        .collect();
    assert_eq!(tm.len(), 1, "{events:#?}");
    let e = tm[0];
    assert_ne!(e.class, EventClass::ProbeFault, "{e:#?}");
    assert_eq!(e.scope.level, "country", "{e:#?}");
    assert_eq!((e.affected_probes, e.probes_in_scope), (2, 2), "{e:#?}");
    // Found once it had lasted, dated from when it began.
    assert_eq!(e.started_at, (t0() + Duration::seconds(CUT.start * BUCKET)).timestamp());
    assert_eq!(
        e.ended_at,
        Some((t0() + Duration::seconds(CUT.end * BUCKET)).timestamp())
    );
    // Two probes are too few for more than a low-confidence call.
    assert_eq!(e.confidence_level, ConfidenceLevel::Low, "{e:#?}");
    assert!(
        events.iter().all(|e| e.scope.country.as_deref() != Some("IR")),
        "{events:#?}"
    );
}

#[test]
fn two_probes_down_together_for_a_few_buckets_are_no_outage() {
    let events = both_tm_probes_silent(CUT.start..CUT.start + 3);
    assert!(events.is_empty(), "{events:#?}");
}

#[test]
fn a_regional_blackout_is_a_power_outage_in_that_region() {
    // Isfahan goes dark: its probes switch to battery, then fall silent; they come back rebooted, staggered.
    let s = Scenario::new(|p, b| {
        let isfahan = p.region.as_deref() == Some("Isfahan");
        let back = CUT.end + (p.asn % 7) as i64 * 4;
        match (isfahan, b) {
            (true, b) if b == CUT.start - 1 => Some(Report {
                battery: true,
                ..HEALTHY
            }),
            (true, b) if b >= CUT.start && b < back => None,
            (true, b) if b >= back => Some(Report { boot: 2, ..HEALTHY }),
            _ => Some(HEALTHY),
        }
    });
    let events = s.events();
    let e = only(&events, EventClass::PowerOutage);
    assert_eq!(
        (e.scope.level.as_str(), e.scope.region.as_deref()),
        ("region", Some("Isfahan")),
        "{e:#?}"
    );
    assert!(e.confidence_level >= ConfidenceLevel::Medium, "{e:#?}");
    assert_evidence(e, &["new boot id", "switched to battery"]);
    assert!(events.iter().all(|e| e.class != EventClass::Shutdown), "{events:#?}");
}

#[test]
fn one_isp_failing_across_regions_is_a_network_failure_of_that_asn() {
    let s = Scenario::new(|p, b| {
        Some(if p.asn == 58224 && CUT.contains(&b) {
            Report {
                domestic_ok: false,
                international_ok: false,
                ..HEALTHY
            }
        } else {
            HEALTHY
        })
    });
    let events = s.events();
    let e = only(&events, EventClass::NetworkFailure);
    assert_eq!((e.scope.level.as_str(), e.scope.asn), ("asn", Some(58224)), "{e:#?}");
    assert_eq!(e.affected_probes, 4);
    assert!(
        e.evidence
            .iter()
            .any(|ev| ev.text.contains("only AS58224 failed, across 2 regions")),
        "{e:#?}"
    );
}

#[test]
fn two_independent_outages_at_once_in_one_country_are_two_events() {
    // AS58224 fails across both regions during CUT while, overlapping it, Isfahan loses power (all networks):
    // two causes in two scopes, not one national event of mixed evidence.
    const BLACKOUT: std::ops::Range<i64> = 55..85;
    let s = Scenario::new(|p, b| {
        let isfahan = p.region.as_deref() == Some("Isfahan");
        if isfahan && BLACKOUT.contains(&b) {
            return None;
        }
        let cut = p.asn == 58224 && CUT.contains(&b);
        Some(Report {
            boot: if isfahan && b >= BLACKOUT.end { 2 } else { 1 },
            battery: isfahan && b == BLACKOUT.start - 1,
            domestic_ok: !cut,
            international_ok: !cut,
            ..HEALTHY
        })
    });
    let events = s.events();
    let failure = only(&events, EventClass::NetworkFailure);
    assert_eq!(
        (failure.scope.level.as_str(), failure.scope.asn),
        ("asn", Some(58224)),
        "{events:#?}"
    );
    assert_eq!(
        failure.started_at,
        (t0() + Duration::seconds(CUT.start * BUCKET)).timestamp()
    );
    let power = only(&events, EventClass::PowerOutage);
    assert_eq!(
        (power.scope.level.as_str(), power.scope.region.as_deref()),
        ("region", Some("Isfahan")),
        "{events:#?}"
    );
    assert_eq!(
        power.started_at,
        (t0() + Duration::seconds(BLACKOUT.start * BUCKET)).timestamp()
    );
    assert_eq!(
        power.ended_at,
        Some((t0() + Duration::seconds(BLACKOUT.end * BUCKET)).timestamp())
    );
    assert!(
        events.iter().all(|e| e.scope.level != "country"),
        "no national event: {events:#?}"
    );
}

#[test]
fn networks_losing_their_transit_together_while_another_works_are_each_a_network_failure() {
    // AS44244 and AS58224 lose their international paths and keep their domestic ones, while AS197207, in the
    // same regions, keeps both: failures of two networks (a shared cable or transit), reported network by
    // network, not an outage of the country. AS197207 has one probe here, so the two hold 8 of the country's 9
    // probes: most of it, which alone reads as one outage of the country. A network across the border, in AM,
    // loses its international paths at the same time: a cable's reach, not an order (CLASSIFICATION.md F9).
    let mut all: Vec<ProbeInfo> = probes()
        .into_iter()
        .filter(|p| p.asn != 197207 || p.probe_id == "p-197207-Tehran-fixed")
        .collect();
    all.extend(fixed_probes("am", "AM", 12297, "Yerevan", 3));
    let events = events_with_transit_cut(all, |p| p.asn != 197207);
    let failures: Vec<&DisruptionEvent> = events
        .iter()
        .filter(|e| e.class == EventClass::NetworkFailure)
        .collect();
    let mut scopes: Vec<(&str, Option<u32>, usize)> = failures
        .iter()
        .filter(|e| e.scope.country.as_deref() == Some("IR"))
        .map(|e| (e.scope.level.as_str(), e.scope.asn, e.affected_probes))
        .collect();
    scopes.sort();
    assert_eq!(
        scopes,
        [("asn", Some(44244), 4), ("asn", Some(58224), 4)],
        "{events:#?}"
    );
    for e in failures.iter().filter(|e| e.scope.country.as_deref() == Some("IR")) {
        assert_evidence(e, &["AS44244, AS58224 failed together", "while AS197207 kept working"]);
    }
    assert!(
        events
            .iter()
            .all(|e| e.class != EventClass::Shutdown && e.scope.level != "country"),
        "{events:#?}"
    );
}

#[test]
fn two_networks_that_are_a_regions_every_probe_losing_transit_with_a_neighbours_networks_fail_not_by_order() {
    // Isfahan's every probe is on AS64998 or AS64999 (neither anywhere else), and both lose their international
    // paths, keeping their domestic ones, while Tehran's networks keep both: alone, the geometry of a regional
    // order. But three networks across the border, in AM, a probe each, lose their international paths at the same
    // minute: a cable's or transit's reach, which an order in IR does not have (CLASSIFICATION.md F9). One probe a
    // network abroad is counted with the others of its country, not set aside as a lossy link.
    let mut all: Vec<ProbeInfo> = probes()
        .into_iter()
        .filter(|p| p.region.as_deref() == Some("Tehran"))
        .collect();
    for asn in [64998u32, 64999] {
        all.extend(fixed_probes("isf", "IR", asn, "Isfahan", 4));
    }
    for asn in [12297u32, 44395, 49800] {
        all.extend(fixed_probes("am", "AM", asn, "Yerevan", 1));
    }
    let events = events_with_transit_cut(all, |p| p.region.as_deref() == Some("Isfahan") || p.country == "AM");
    assert!(
        events.iter().all(|e| e.class != EventClass::Shutdown),
        "no shutdown: {events:#?}"
    );
    let mut failures: Vec<(Option<&str>, &str, Option<u32>, usize)> = events
        .iter()
        .filter(|e| e.class == EventClass::NetworkFailure)
        .map(|e| {
            (
                e.scope.country.as_deref(),
                e.scope.level.as_str(),
                e.scope.asn,
                e.affected_probes,
            )
        })
        .collect();
    failures.sort();
    assert_eq!(
        failures,
        [
            (Some("AM"), "country", None, 3),
            (Some("IR"), "asn", Some(64998), 4),
            (Some("IR"), "asn", Some(64999), 4)
        ],
        "{events:#?}"
    );
    for e in events.iter().filter(|e| e.scope.country.as_deref() == Some("IR")) {
        assert_evidence(
            e,
            &["3 networks in AM lost their international paths at the same time (3 of their 3 probes"],
        );
    }
}

#[test]
fn a_transit_cut_of_every_mobile_network_and_most_fixed_ones_is_no_mobile_shutdown() {
    // Two fixed networks of three and all three mobile ones lose their international paths at the same minute,
    // with a network across the border: a cable's or transit's reach. The outage is split network by network, and
    // the mobile networks' part must not read "mobile probes went down, fixed ones did not" — two fixed networks
    // of three were down with them, in parts of their own.
    // The shape of seed 20261231's scenario 738: satellite networks beside them kept working too.
    let mut all = Vec::new();
    for (asn, count) in [(64990u32, 21), (64991, 24), (64992, 13)] {
        all.extend(fixed_probes("fix", "IR", asn, "Tehran", count));
    }
    for (asn, count, access) in [
        (64993u32, 37, AccessType::Mobile),
        (64994, 29, AccessType::Mobile),
        (64995, 10, AccessType::Mobile),
        (64996, 42, AccessType::Satellite),
        (64997, 45, AccessType::Satellite),
    ] {
        all.extend(
            (0..count).map(|i| probe_info(&format!("{}-{asn}-{i}", access.as_str()), "IR", asn, "Tehran", access)),
        );
    }
    all.extend(fixed_probes("am", "AM", 12297, "Yerevan", 3));
    let events = events_with_transit_cut(all, |p| ![64992, 64996, 64997].contains(&p.asn));
    assert!(
        events.iter().all(|e| e.class != EventClass::Shutdown),
        "no shutdown: {events:#?}"
    );
    assert!(
        events
            .iter()
            .flat_map(|e| &e.evidence)
            .all(|ev| !ev.text.contains("fixed ones did not")),
        "{events:#?}"
    );
    let mut failed: Vec<u32> = events
        .iter()
        .filter(|e| e.class == EventClass::NetworkFailure && e.scope.country.as_deref() == Some("IR"))
        .filter_map(|e| e.scope.asn)
        .collect();
    failed.sort_unstable();
    assert_eq!(failed, [64990, 64991, 64993, 64994, 64995], "{events:#?}");
}

/// The six Tehran probes of [`probes`], three of AS64999 in Isfahan, and one of AS44244 in Isfahan.
fn tehran_and_a_network_in_isfahan() -> Vec<ProbeInfo> {
    let mut all: Vec<ProbeInfo> = probes()
        .into_iter()
        .filter(|p| p.region.as_deref() == Some("Tehran"))
        .collect();
    all.extend(fixed_probes("isf", "IR", 64999, "Isfahan", 3));
    all.push(probe_info("isf-44244", "IR", 44244, "Isfahan", AccessType::Fixed));
    all
}

#[test]
fn a_blackout_and_a_networks_failure_that_began_apart_are_two_outages_even_covering_most_of_the_country() {
    // Tehran loses power at bucket 40; AS64999, all in Isfahan, loses its upstream at 50 while Tehran is still
    // dark. Together they take 9 of the country's 10 probes — most of it, which alone reads as one outage — but
    // they began ten buckets apart, in a region and in a network: two outages.
    const BLACKOUT: std::ops::Range<i64> = 40..60;
    const FAILURE: std::ops::Range<i64> = 50..80;
    let all = tehran_and_a_network_in_isfahan();
    let s = Scenario::of(&all, |p, b| {
        let tehran = p.region.as_deref() == Some("Tehran");
        if tehran && BLACKOUT.contains(&b) {
            return None;
        }
        let cut = p.asn == 64999 && FAILURE.contains(&b);
        Some(Report {
            boot: if tehran && b >= BLACKOUT.end { 2 } else { 1 },
            battery: tehran && b == BLACKOUT.start - 1,
            domestic_ok: !cut,
            international_ok: !cut,
            ..HEALTHY
        })
    });
    let events = s.events_for(all);
    let power = only(&events, EventClass::PowerOutage);
    assert_eq!(
        (
            power.scope.level.as_str(),
            power.scope.region.as_deref(),
            power.affected_probes
        ),
        ("region", Some("Tehran"), 6),
        "{events:#?}"
    );
    assert_eq!(power.started_at, at(BLACKOUT.start).timestamp() - 5);
    let failure = only(&events, EventClass::NetworkFailure);
    assert_eq!(
        (failure.scope.level.as_str(), failure.scope.asn, failure.affected_probes),
        ("asn", Some(64999), 3),
        "{events:#?}"
    );
    assert_eq!(failure.started_at, at(FAILURE.start).timestamp() - 5);
    assert!(events.iter().all(|e| e.scope.level != "country"), "{events:#?}");
}

#[test]
fn a_blackout_and_a_failure_of_a_network_across_the_country_beginning_together_are_told_apart_by_power() {
    // Tehran loses power at bucket 40; AS64999 — three probes in Isfahan, two in Tehran — loses its upstream a
    // bucket later. Together they take every probe of the country, and they began together, so neither places nor
    // onsets part them. Their devices do: Tehran's probes come back rebooted (one on battery first), AS64999's in
    // Isfahan keep a working gateway all along. Read as one, Tehran's reboots made the whole country a power
    // outage at high confidence and the network's failure went unnamed (corpus seed 20261231, `two_events`).
    const BLACKOUT: std::ops::Range<i64> = 40..60;
    const FAILURE: std::ops::Range<i64> = 41..80;
    let mut all = tehran_and_a_network_in_isfahan();
    all.retain(|p| p.asn == 64999 || p.region.as_deref() == Some("Tehran"));
    all.extend(fixed_probes("thr", "IR", 64999, "Tehran", 2));
    let s = Scenario::of(&all, |p, b| {
        let tehran = p.region.as_deref() == Some("Tehran");
        if tehran && BLACKOUT.contains(&b) {
            return None;
        }
        let cut = p.asn == 64999 && FAILURE.contains(&b);
        Some(Report {
            boot: if tehran && b >= BLACKOUT.end { 2 } else { 1 },
            battery: tehran && b == BLACKOUT.start - 1,
            domestic_ok: !cut,
            international_ok: !cut,
            ..HEALTHY
        })
    });
    let events = s.events_for(all);
    let power = only(&events, EventClass::PowerOutage);
    assert_eq!(
        (power.scope.level.as_str(), power.scope.region.as_deref()),
        ("region", Some("Tehran")),
        "{events:#?}"
    );
    assert!(
        events.iter().all(|e| e.scope.level != "country"),
        "no country-wide event: {events:#?}"
    );
    // The network's failure is named where its probes could see it (Isfahan, where it is the only network):
    // never a blackout, never an accusation.
    let failure = events
        .iter()
        .find(|e| e.class != EventClass::PowerOutage && e.affected_probes >= 3)
        .unwrap_or_else(|| panic!("the network's failure: {events:#?}"));
    assert!(
        matches!(failure.class, EventClass::NetworkFailure | EventClass::Unknown),
        "{failure:#?}"
    );
    assert!(
        failure.scope.asn == Some(64999) || failure.scope.region.as_deref() == Some("Isfahan"),
        "{failure:#?}"
    );
}

#[test]
fn a_region_whose_probes_all_went_down_is_the_scope_rather_than_the_network_holding_most_of_them() {
    // Tabriz: five probes of AS64997 (which has one more, up, in Isfahan) and one of AS64998. All six lose
    // every path at once. AS64997 holds as many probes as Tabriz and five of the six down; Tabriz holds all six.
    let events = tabriz_cut(&[probe_info("tbz-64998", "IR", 64998, "Tabriz", AccessType::Mobile)]);
    let outages: Vec<&DisruptionEvent> = events.iter().filter(|e| e.scope.level != "probe").collect();
    assert_eq!(outages.len(), 1, "{events:#?}");
    let e = outages[0];
    assert_eq!(
        (
            e.scope.level.as_str(),
            e.scope.region.as_deref(),
            e.affected_probes,
            e.probes_in_scope
        ),
        ("region", Some("Tabriz"), 6, 6),
        "{e:#?}"
    );
}

#[test]
fn a_cut_that_began_before_the_window_is_still_an_ongoing_event() {
    // serve classifies the last hours only: a nationwide silence that began before them must stay an event
    // (the probes were last heard, per the registry, half an hour before the window), not fade away.
    let heard = (t0() - Duration::minutes(30)).timestamp();
    let probes: Vec<ProbeInfo> = probes()
        .into_iter()
        .map(|p| ProbeInfo {
            last_seen: Some(heard),
            ..p
        })
        .collect();
    let s = Scenario::new(|_, _| None);
    let events = s.events_in(&[], probes);
    let e = only(&events, EventClass::Unknown);
    assert_eq!(
        (e.scope.level.as_str(), e.scope.country.as_deref()),
        ("country", Some("IR")),
        "{e:#?}"
    );
    assert_eq!((e.started_at, e.ended_at), (t0().timestamp(), None), "{e:#?}");
    assert_eq!(e.affected_probes, 12);

    // Probes heard longer ago than the classifier keeps expecting them are not an outage.
    let stale: Vec<ProbeInfo> = crate::probes()
        .into_iter()
        .map(|p| ProbeInfo {
            last_seen: Some((t0() - Duration::days(4)).timestamp()),
            ..p
        })
        .collect();
    assert!(s.events_in(&[], stale.clone()).is_empty());
    // Unless an outage saved and still open holds them: a shutdown lasting longer than the probes are expected
    // stays one (issue 23, case 6).
    let held: Vec<ProbeInfo> = stale
        .into_iter()
        .map(|p| ProbeInfo {
            held_since: Some(t0().timestamp() - 86_400 * 3),
            ..p
        })
        .collect();
    let events = s.events_in(&[], held.clone());
    let e = only(&events, EventClass::Unknown);
    assert_eq!((e.scope.level.as_str(), e.affected_probes), ("country", 12), "{e:#?}");
    // Held from the outage's start only: before it they are expected as usual (here: not at all).
    let since = t0() + Duration::seconds(60 * BUCKET);
    let held_later: Vec<ProbeInfo> = held
        .into_iter()
        .map(|p| ProbeInfo {
            held_since: Some(since.timestamp()),
            ..p
        })
        .collect();
    let events = s.events_in(&[], held_later);
    let e = only(&events, EventClass::Unknown);
    assert_eq!(e.started_at, since.timestamp(), "{e:#?}");
}

#[test]
fn a_target_blocked_on_several_online_probes_is_censorship_with_its_method() {
    let mut s = Scenario::new(|_, _| Some(HEALTHY));
    let blocked = Target {
        name: "https://blocked.example/".to_owned(),
        scope: Scope::International,
        list: Some("citizenlab-ir".to_owned()),
    };
    for probe in [
        "p-44244-Tehran-fixed",
        "p-44244-Isfahan-mobile",
        "p-44244-Tehran-mobile",
    ] {
        for b in [50, 51, 52] {
            s.add(
                probe,
                b,
                blocked.clone(),
                MeasurementResult::Dns(DnsResult {
                    outcome: Outcome::DnsInjected,
                    query: "blocked.example".to_owned(),
                    qtype: "A".to_owned(),
                    resolver: "system".to_owned(),
                    answers: vec![],
                    rcode: None,
                    fingerprint: Some("vigil.ir_dns_34".to_owned()),
                    injection_reason: Some("fingerprint".to_owned()),
                    error_detail: None,
                }),
            );
        }
    }
    // One probe in another network sees it once: not enough for that network.
    s.add(
        "p-58224-Tehran-fixed",
        50,
        blocked.clone(),
        MeasurementResult::Dns(DnsResult {
            outcome: Outcome::DnsInjected,
            query: "blocked.example".to_owned(),
            qtype: "A".to_owned(),
            resolver: "system".to_owned(),
            answers: vec![],
            rcode: None,
            fingerprint: None,
            injection_reason: Some("bogon".to_owned()),
            error_detail: None,
        }),
    );
    let events = s.events();
    let e = only(&events, EventClass::Censorship);
    assert_eq!(
        (e.scope.level.as_str(), e.scope.asn, e.affected_probes),
        ("asn", Some(44244), 3)
    );
    assert_eq!(e.confidence_level, ConfidenceLevel::High);
    assert_eq!(e.targets.len(), 1);
    assert_eq!(
        (e.targets[0].name.as_str(), e.targets[0].method.as_str()),
        ("https://blocked.example/", "dns")
    );
}

/// A fetch of `https://site.example/` ending in `outcome` (a TLS failure, or a page that loaded).
fn site_fetch(outcome: Outcome) -> MeasurementResult {
    let ok = outcome == Outcome::Ok;
    MeasurementResult::Http(vigil_measurement::result::HttpResult {
        outcome,
        url: "https://site.example/".to_owned(),
        status: ok.then_some(200),
        redirects: Vec::new(),
        headers: Default::default(),
        body_length: ok.then_some(20_000),
        body_sha256: None,
        title: None,
        fingerprint: None,
        failure_stage: (!ok).then(|| "tls_handshake".to_owned()),
        tls_version: None,
        server_ip: None,
        throughput_bps: None,
        error_detail: None,
        sni: None,
        quic: None,
    })
}

#[test]
fn a_tls_failure_is_censorship_only_where_other_networks_load_the_site() {
    let site = Target {
        name: "https://site.example/".to_owned(),
        scope: Scope::International,
        list: Some("citizenlab-global".to_owned()),
    };
    // Issue 23, case 4: an expired certificate fails the same in every network. Without a fingerprint and with
    // no network loading the site, nothing says a censor did it.
    let mut everywhere = Scenario::new(|_, _| Some(HEALTHY));
    for p in probes() {
        for b in [50, 55, 60] {
            everywhere.add(&p.probe_id, b, site.clone(), site_fetch(Outcome::TlsError));
        }
    }
    let events = everywhere.events();
    assert!(
        events.iter().all(|e| e.class != EventClass::Censorship),
        "a site failing for everyone is not censored: {events:#?}"
    );

    // The same failure in one network while the others load the site: censorship by TLS there, with the control.
    let mut one_network = Scenario::new(|_, _| Some(HEALTHY));
    for p in probes() {
        let outcome = if p.asn == 58224 { Outcome::TlsError } else { Outcome::Ok };
        for b in [50, 55, 60] {
            one_network.add(&p.probe_id, b, site.clone(), site_fetch(outcome));
        }
    }
    let events = one_network.events();
    let e = only(&events, EventClass::Censorship);
    assert_eq!((e.scope.asn, e.affected_probes), (Some(58224), 4), "{e:#?}");
    assert_eq!(e.targets[0].method, "tls");
    assert!(
        e.evidence[0].text.contains("2 other network(s) loaded them"),
        "the control is named: {}",
        e.evidence[0].text
    );
}

/// A fetch of `https://site.example/` whose connection never opened: the address answered nothing.
fn site_unanswered() -> MeasurementResult {
    let MeasurementResult::Http(mut fetch) = site_fetch(Outcome::Timeout) else {
        unreachable!("site_fetch is a fetch")
    };
    fetch.failure_stage = Some("connect".to_owned());
    MeasurementResult::Http(fetch)
}

#[test]
fn an_address_answering_nothing_is_ip_blocking_only_where_the_site_loads_from_other_networks() {
    let site = Target {
        name: "https://site.example/".to_owned(),
        scope: Scope::International,
        list: Some("citizenlab-global".to_owned()),
    };
    // One network drops the site's address while the others load it: censorship by IP there, with the control.
    let mut one_network = Scenario::new(|_, _| Some(HEALTHY));
    for p in probes() {
        for b in [50, 55, 60] {
            let fetch = if p.asn == 58224 {
                site_unanswered()
            } else {
                site_fetch(Outcome::Ok)
            };
            one_network.add(&p.probe_id, b, site.clone(), fetch);
        }
    }
    let events = one_network.events();
    let e = only(&events, EventClass::Censorship);
    assert_eq!((e.scope.asn, e.affected_probes), (Some(58224), 4), "{e:#?}");
    assert_eq!(e.targets[0].method, "ip_block");

    // The site's server goes dark between two fetches of one bucket: the other networks still loaded it in that
    // bucket before this one failed it, and from then on it fails everywhere. The edge is no control.
    let mut went_down = Scenario::new(|_, _| Some(HEALTHY));
    for p in probes() {
        for b in [40, 45] {
            went_down.add(&p.probe_id, b, site.clone(), site_fetch(Outcome::Ok));
        }
        let first = if p.asn == 58224 {
            site_unanswered()
        } else {
            site_fetch(Outcome::Ok)
        };
        went_down.add(&p.probe_id, 50, site.clone(), first);
        for b in [51, 55, 60] {
            went_down.add(&p.probe_id, b, site.clone(), site_unanswered());
        }
    }
    let events = went_down.events();
    assert!(
        events.iter().all(|e| e.class != EventClass::Censorship),
        "a site down for everyone is not censored, its first bucket included: {events:#?}"
    );

    // A congested path in one network drops a connection now and then — on two of its probes, in two buckets —
    // while the site loads there in the buckets between, as it does everywhere else: no block holds there.
    let flaky_probes: Vec<String> = probes()
        .into_iter()
        .filter(|p| p.asn == 58224)
        .map(|p| p.probe_id)
        .take(2)
        .collect();
    let mut flaky = Scenario::new(|_, _| Some(HEALTHY));
    for p in probes() {
        for b in [50, 55, 60, 65, 70] {
            let dropped = (b == 50 && p.probe_id == flaky_probes[0]) || (b == 70 && p.probe_id == flaky_probes[1]);
            let fetch = if dropped {
                site_unanswered()
            } else {
                site_fetch(Outcome::Ok)
            };
            flaky.add(&p.probe_id, b, site.clone(), fetch);
        }
    }
    let events = flaky.events();
    assert!(
        events.iter().all(|e| e.class != EventClass::Censorship),
        "connections lost now and then on a site that loads in between are no block: {events:#?}"
    );
}

/// A fetch that loaded over TCP and TLS, its QUIC test (the site announced HTTP/3) handshaking or not.
fn site_fetch_with_quic(quic_ok: bool) -> MeasurementResult {
    let mut fetch = site_fetch(Outcome::Ok);
    if let MeasurementResult::Http(h) = &mut fetch {
        h.quic = Some(Box::new(vigil_measurement::result::QuicTest {
            url: h.url.clone(),
            port: 443,
            outcome: if quic_ok { Outcome::Ok } else { Outcome::Timeout },
            handshake: quic_ok,
            status: quic_ok.then_some(200),
            body_length: quic_ok.then_some(1024),
            error_detail: None,
        }));
    }
    fetch
}

#[test]
fn quic_dropped_in_one_network_is_censorship_by_quic_there_and_quic_broken_everywhere_is_none() {
    let site = Target {
        name: "https://site.example/".to_owned(),
        scope: Scope::International,
        list: Some("citizenlab-global".to_owned()),
    };
    // One network drops QUIC (UDP 443): there the site loads over TCP and not over QUIC; elsewhere both load.
    let mut one_network = Scenario::new(|_, _| Some(HEALTHY));
    for p in probes() {
        for b in [50, 55, 60] {
            one_network.add(&p.probe_id, b, site.clone(), site_fetch_with_quic(p.asn != 58224));
        }
    }
    let events = one_network.events();
    let e = only(&events, EventClass::Censorship);
    assert_eq!((e.scope.asn, e.affected_probes), (Some(58224), 4), "{e:#?}");
    assert_eq!(e.targets[0].method, "quic");
    assert_eq!(e.targets[0].name, "https://site.example/");

    // The site's QUIC is broken for everyone (its HTTP/3 server down, TCP fine): no network is a control.
    let mut broken = Scenario::new(|_, _| Some(HEALTHY));
    for p in probes() {
        for b in [50, 55, 60] {
            broken.add(&p.probe_id, b, site.clone(), site_fetch_with_quic(false));
        }
    }
    let events = broken.events();
    assert!(
        events.iter().all(|e| e.class != EventClass::Censorship),
        "a site whose QUIC fails everywhere is not censored: {events:#?}"
    );
}

/// A connect to an app's port: opened, or timed out.
fn port_connect(ok: bool) -> MeasurementResult {
    MeasurementResult::Tcp(TcpResult {
        outcome: if ok { Outcome::Ok } else { Outcome::Timeout },
        ip: std::net::IpAddr::from([192, 0, 2, 7]),
        port: 5222,
        method: None,
        reply: None,
        reply_ttl: None,
        reply_ip_id: None,
        injected_rst: None,
        rtt_ms: ok.then_some(40.0),
        error_detail: None,
    })
}

#[test]
fn an_app_whose_chat_servers_one_network_drops_is_censored_there_under_the_apps_name() {
    let endpoint = |name: &str| Target {
        name: name.to_owned(),
        scope: Scope::International,
        list: Some("app:chat".to_owned()),
    };
    // AS58224 drops the chat servers' addresses; the app's web site still loads there, and everything loads
    // everywhere else.
    let mut s = Scenario::new(|_, _| Some(HEALTHY));
    for p in probes() {
        for b in [50, 55, 60] {
            s.add(
                &p.probe_id,
                b,
                endpoint("https://chat.example/"),
                site_fetch(Outcome::Ok),
            );
            s.add(
                &p.probe_id,
                b,
                endpoint("chat.example:5222"),
                port_connect(p.asn != 58224),
            );
        }
    }
    let events = s.events();
    let e = only(&events, EventClass::Censorship);
    assert_eq!((e.scope.asn, e.affected_probes), (Some(58224), 4), "{e:#?}");
    assert_eq!(e.targets.len(), 1, "one target, the app: {:?}", e.targets);
    assert_eq!(
        (e.targets[0].name.as_str(), e.targets[0].method.as_str()),
        ("app:chat", "ip_block")
    );
    assert!(
        e.evidence[0]
            .text
            .contains("app:chat (ip_block, partly: other endpoints answered)"),
        "{}",
        e.evidence[0].text
    );
}

#[test]
fn an_app_whose_quic_one_network_drops_is_censored_there_by_quic_under_the_apps_name() {
    let endpoint = |name: &str| Target {
        name: name.to_owned(),
        scope: Scope::International,
        list: Some("app:chat".to_owned()),
    };
    // The app's media host, which its app reaches over QUIC (an `h3://` endpoint: fetched over TCP and asked over
    // QUIC every cycle): AS58224 drops its UDP, while the page loads over TCP there and the chat port opens; every
    // other network loads it over both.
    let mut s = Scenario::new(|_, _| Some(HEALTHY));
    for p in probes() {
        for b in [50, 55, 60] {
            s.add(
                &p.probe_id,
                b,
                endpoint("https://media.chat.example/"),
                site_fetch_with_quic(p.asn != 58224),
            );
            s.add(&p.probe_id, b, endpoint("chat.example:5222"), port_connect(true));
        }
    }
    let events = s.events();
    let e = only(&events, EventClass::Censorship);
    assert_eq!((e.scope.asn, e.affected_probes), (Some(58224), 4), "{e:#?}");
    assert_eq!(
        e.targets
            .iter()
            .map(|t| (t.name.as_str(), t.method.as_str()))
            .collect::<Vec<_>>(),
        [("app:chat", "quic")],
        "one target, the app, blocked by QUIC"
    );
    assert!(
        e.evidence[0]
            .text
            .contains("app:chat (quic, partly: other endpoints answered)"),
        "{}",
        e.evidence[0].text
    );
}

#[test]
fn everyone_falling_silent_across_countries_is_the_collector_side() {
    let mut all = probes();
    for asn in [8048u32, 21826] {
        all.extend(fixed_probes("ve", "VE", asn, "Caracas", 3));
    }
    let mut measurements = Vec::new();
    for p in &all {
        for b in 0..WINDOW {
            if !(50..55).contains(&b) {
                measurements.extend(report(b, HEALTHY).into_iter().map(|(t, m)| (p.probe_id.clone(), t, m)));
            }
        }
    }
    let s = Scenario { measurements };
    let order: Vec<usize> = (0..s.measurements.len()).collect();
    let events = s.events_in(&order, all);
    let e = only(&events, EventClass::CollectorSide);
    assert_eq!(e.scope.level.as_str(), "collector");
    assert_eq!(e.affected_probes, 18);
    assert!(
        events.iter().all(|e| e.class == EventClass::CollectorSide),
        "{events:#?}"
    );
}

#[test]
fn two_blackouts_in_neighbouring_countries_are_not_the_collector_side() {
    // Issue 23, case 3: Isfahan (IR) and Caracas (VE) lose power at once; Tehran keeps reporting, so the collector
    // hears the world and the silences are two outages, not its own.
    let mut all = probes();
    for asn in [8048u32, 21826] {
        all.extend(fixed_probes("ve", "VE", asn, "Caracas", 3));
    }
    let mut measurements = Vec::new();
    for p in &all {
        let dark = p.country == "VE" || p.region.as_deref() == Some("Isfahan");
        for b in 0..WINDOW {
            let report_of = if dark && CUT.contains(&b) {
                continue;
            } else if dark && b >= CUT.end {
                Report { boot: 2, ..HEALTHY }
            } else {
                HEALTHY
            };
            measurements.extend(
                report(b, report_of)
                    .into_iter()
                    .map(|(t, m)| (p.probe_id.clone(), t, m)),
            );
        }
    }
    let s = Scenario { measurements };
    let order: Vec<usize> = (0..s.measurements.len()).collect();
    let events = s.events_in(&order, all);
    assert!(
        events.iter().all(|e| e.class != EventClass::CollectorSide),
        "{events:#?}"
    );
    let countries: Vec<&str> = events.iter().filter_map(|e| e.scope.country.as_deref()).collect();
    assert!(countries.contains(&"IR") && countries.contains(&"VE"), "{events:#?}");
}

#[test]
fn one_probe_going_dark_alone_is_a_probe_fault_not_an_outage() {
    let s = Scenario::new(|p, b| {
        if p.probe_id == "p-197207-Tehran-fixed" && CUT.contains(&b) {
            None
        } else {
            Some(HEALTHY)
        }
    });
    let events = s.events();
    let e = only(&events, EventClass::ProbeFault);
    assert_eq!(e.scope.probe_id.as_deref(), Some("p-197207-Tehran-fixed"));
    assert_eq!(events.len(), 1, "{events:#?}");
}

#[test]
fn a_cut_seen_only_as_silence_is_unknown_until_spooled_data_arrives_then_a_shutdown() {
    let full = national_intranet_cut();
    // Before the probes upload what they spooled: silence during the cut, and they are back afterwards.
    let early = Scenario::new(|_, b| if CUT.contains(&b) { None } else { Some(HEALTHY) });
    let before = early.events();
    let provisional = only(&before, EventClass::Unknown);
    let after = full.events();
    let revised = only(&after, EventClass::Shutdown);
    assert_eq!(
        provisional.id, revised.id,
        "the same disruption keeps its id across the revision"
    );
    assert_eq!(provisional.scope, revised.scope);
}

fn scenario_for_order_test() -> Scenario {
    let mut s = Scenario::new(|p, b| {
        let isfahan = p.region.as_deref() == Some("Isfahan");
        match b {
            b if CUT.contains(&b) && p.asn == 58224 => Some(Report {
                international_ok: false,
                ..HEALTHY
            }),
            b if (30..45).contains(&b) && isfahan && p.asn == 44244 => None,
            b if b >= 45 && isfahan && p.asn == 44244 => Some(Report { boot: 2, ..HEALTHY }),
            _ => Some(HEALTHY),
        }
    });
    s.add(
        "p-197207-Isfahan-fixed",
        20,
        Target {
            name: "https://x.example/".to_owned(),
            scope: Scope::International,
            list: Some("l".to_owned()),
        },
        tcp(false),
    );
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    #[test]
    fn events_depend_only_on_the_measurements_not_their_order(seed in any::<u64>()) {
        let s = scenario_for_order_test();
        let reference = s.events();
        let mut order: Vec<usize> = (0..s.measurements.len()).collect();
        fastrand::Rng::with_seed(seed).shuffle(&mut order);
        let shuffled = s.events_in(&order, probes());
        prop_assert_eq!(&reference, &shuffled);
        // Batch boundaries: feeding the same measurements as two halves in reverse is still the same input.
        let (a, b) = order.split_at(order.len() / 2);
        let rebatched: Vec<usize> = b.iter().chain(a).copied().collect();
        prop_assert_eq!(&reference, &s.events_in(&rebatched, probes()));
        prop_assert!(!reference.is_empty());
    }
}

#[test]
fn a_synchronous_national_blackout_is_not_called_a_shutdown() {
    // The grid collapses everywhere at once: a third of the probes report battery as it goes, all fall silent,
    // and all come back together — rebooted. Synchrony and national scope fit a shutdown too; the device
    // evidence must win.
    let s = Scenario::new(|p, b| {
        let with_battery = p.probe_id.len() % 3 == 0;
        match b {
            b if b == CUT.start - 1 => Some(Report {
                battery: with_battery,
                ..HEALTHY
            }),
            b if CUT.contains(&b) => None,
            b if b >= CUT.end => Some(Report { boot: 2, ..HEALTHY }),
            _ => Some(HEALTHY),
        }
    });
    let events = s.events();
    assert!(events.iter().all(|e| e.class != EventClass::Shutdown), "{events:#?}");
    let e = only(&events, EventClass::PowerOutage);
    assert_eq!(e.scope.level, "country");
    assert!(e.confidence_level >= ConfidenceLevel::Medium, "{e:#?}");
}

#[test]
fn a_shutdown_during_a_blackout_is_not_called_a_power_outage() {
    // Half the probes run on battery during the cut, yet domestic anchors answer and international ones do not.
    let s = Scenario::new(|p, b| {
        let battery = p.access == AccessType::Mobile;
        Some(if CUT.contains(&b) {
            Report {
                battery,
                international_ok: false,
                ..HEALTHY
            }
        } else {
            HEALTHY
        })
    });
    let events = s.events();
    assert!(events.iter().all(|e| e.class != EventClass::PowerOutage), "{events:#?}");
    let e = events
        .iter()
        .find(|e| matches!(e.class, EventClass::Shutdown | EventClass::Unknown))
        .expect("the cut is reported");
    assert!(e.scores.contains_key("power_outage"), "both causes are scored: {e:#?}");
    assert!(
        e.evidence
            .iter()
            .any(|ev| ev.text.contains("switched to battery") && ev.points < 0),
        "the battery evidence is shown, counting against the call: {e:#?}"
    );
}

#[test]
fn an_isps_nightly_maintenance_seen_as_silence_is_a_network_failure_not_a_shutdown() {
    let s = Scenario::new(|p, b| {
        if p.asn == 197207 && (40..50).contains(&b) {
            None
        } else {
            Some(HEALTHY)
        }
    });
    let events = s.events();
    assert!(events.iter().all(|e| e.class != EventClass::Shutdown), "{events:#?}");
    let e = only(&events, EventClass::NetworkFailure);
    assert_eq!((e.scope.level.as_str(), e.scope.asn), ("asn", Some(197207)));
}

#[test]
fn probes_that_reconnect_once_a_day_with_a_short_gap_make_no_event() {
    // Each probe misses one bucket at its own time (an ISP's forced reconnection with a new address).
    let s = Scenario::new(|p, b| {
        let gap = 20 + (p.probe_id.bytes().map(u64::from).sum::<u64>() % 80) as i64;
        if b == gap { None } else { Some(HEALTHY) }
    });
    let events = s.events();
    assert!(events.is_empty(), "{events:#?}");
}

#[test]
fn international_speed_collapsing_on_most_of_an_asn_without_loss_is_throttling() {
    let s = Scenario::new(|p, b| {
        let throttled = p.asn == 58224 && (60..66).contains(&b) && p.access == AccessType::Fixed
            || p.asn == 58224 && (60..66).contains(&b) && p.region.as_deref() == Some("Tehran");
        // One other probe has a single slow bucket: noise, not throttling.
        let blip = p.probe_id == "p-44244-Tehran-fixed" && b == 62;
        let speed = if throttled || blip {
            80_000.0
        } else {
            1_000_000.0 + (b % 5) as f64 * 10_000.0
        };
        Some(Report {
            speed: Some(speed),
            ..HEALTHY
        })
    });
    let events = s.events();
    let e = only(&events, EventClass::Throttling);
    assert_eq!((e.scope.level.as_str(), e.scope.asn), ("asn", Some(58224)), "{e:#?}");
    assert_eq!(e.affected_probes, 3);
    assert_eq!(e.ended_at, Some((t0() + Duration::seconds(66 * BUCKET)).timestamp()));
    assert!(e.evidence[0].text.contains("8% of their usual speed"), "{e:#?}");
    assert_eq!(events.len(), 1, "no outage, no other event: {events:#?}");
}

/// The six Tehran probes of [`probes`], each with a satellite dish beside its line (issue 24).
fn tehran_dual_homed() -> Vec<ProbeInfo> {
    probes()
        .into_iter()
        .filter(|p| p.region.as_deref() == Some("Tehran"))
        .collect()
}

fn outages(events: &[DisruptionEvent]) -> Vec<&DisruptionEvent> {
    events.iter().filter(|e| e.class.lineage() == "outage").collect()
}

#[test]
fn a_shutdown_is_read_on_the_lines_while_the_dishes_beside_them_keep_working() {
    // Every line is cut from abroad (the intranet works) and reports so; six probes' dishes reach everything.
    let cut = |b: i64| (40..70).contains(&b);
    let s = Scenario::new(|_, b| {
        Some(Report {
            international_ok: !cut(b),
            ..HEALTHY
        })
    })
    .with_dishes(&tehran_dual_homed(), |_, _| Some(HEALTHY));
    let events = s.events();
    let found = outages(&events);
    assert_eq!(found.len(), 1, "{events:#?}");
    let e = found[0];
    assert_eq!(
        (e.class, e.scope.level.as_str()),
        (EventClass::Shutdown, "country"),
        "{e:#?}"
    );
    assert_eq!(e.affected_probes, 12, "the lines, not the dishes: {e:#?}");
}

#[test]
fn dishes_failing_while_the_lines_beside_them_work_are_a_satellite_failure_not_a_terrestrial_verdict() {
    // Jamming in Tehran: the dishes' checks fail (nothing answers through them) while every line works.
    let jammed = |b: i64| (40..70).contains(&b);
    let s = Scenario::new(|_, _| Some(HEALTHY)).with_dishes(&tehran_dual_homed(), |_, b| {
        Some(Report {
            domestic_ok: !jammed(b),
            international_ok: !jammed(b),
            ..HEALTHY
        })
    });
    let events = s.events();
    let found = outages(&events);
    assert_eq!(found.len(), 1, "{events:#?}");
    let e = found[0];
    assert_eq!(
        (e.class, e.scope.level.as_str(), e.scope.access.as_deref()),
        (EventClass::NetworkFailure, "access", Some("satellite")),
        "{e:#?}"
    );
    assert!(
        e.evidence
            .iter()
            .any(|ev| ev.text.contains("only the probes' satellite uplinks failed")),
        "{e:#?}"
    );
    // With the network the dishes' uploads arrived from known, the satellite operator is named, and one operator
    // holding every dish is no reason to doubt a cut (there is none to doubt: their paths do not cross the border).
    let events = s.events_with_dishes_on(14593);
    let found = outages(&events);
    assert_eq!(found.len(), 1, "{events:#?}");
    let e = found[0];
    assert_eq!(
        (e.class, e.scope.level.as_str(), e.scope.access.as_deref(), e.scope.asn),
        (EventClass::NetworkFailure, "access", Some("satellite"), Some(14593)),
        "{e:#?}"
    );
    assert!(
        e.evidence
            .iter()
            .any(|ev| ev.text.contains("only the probes' satellite uplinks on AS14593 failed")),
        "{e:#?}"
    );
    assert!(e.evidence.iter().all(|ev| !ev.text.contains("look the same")), "{e:#?}");
}

#[test]
fn dishes_going_dark_with_their_region_are_power_evidence_in_the_blackout_not_an_event_of_their_own() {
    // A blackout in Tehran: lines and dishes silent together; back with a new boot.
    let dark = |p: &ProbeInfo, b: i64| p.region.as_deref() == Some("Tehran") && (40..70).contains(&b);
    let shape = |p: &ProbeInfo, b: i64| {
        (!dark(p, b)).then_some(Report {
            boot: if b >= 70 && p.region.as_deref() == Some("Tehran") {
                2
            } else {
                1
            },
            ..HEALTHY
        })
    };
    let s = Scenario::new(shape).with_dishes(&tehran_dual_homed(), shape);
    let events = s.events();
    let found = outages(&events);
    assert_eq!(found.len(), 1, "one outage, the terrestrial one: {events:#?}");
    let e = found[0];
    assert_ne!(e.scope.level, "access", "{e:#?}");
    assert!(
        e.evidence
            .iter()
            .any(|ev| ev.text.contains("satellite paths beyond the border")),
        "{e:#?}"
    );
    assert_evidence(e, &["6 of the probes' satellite dishes went dark with their lines"]);
}

#[test]
fn lines_and_dishes_going_dark_together_are_read_as_power_while_the_blackout_lasts() {
    // A blackout in Tehran under way at the end of the window: nothing has come back to say it rebooted, and the
    // lines' silence alone could be a cut whose reports wait in the spools. The dishes beside six of the lines
    // went dark too — a cut at the border does not reach them.
    let dark = |p: &ProbeInfo, b: i64| p.region.as_deref() == Some("Tehran") && b >= 90;
    let shape = |p: &ProbeInfo, b: i64| (!dark(p, b)).then_some(HEALTHY);
    let with_dishes = Scenario::new(shape).with_dishes(&tehran_dual_homed(), shape).events();
    let found = outages(&with_dishes);
    assert_eq!(found.len(), 1, "{with_dishes:#?}");
    let e = found[0];
    assert_eq!((e.class, e.ended_at), (EventClass::PowerOutage, None), "{e:#?}");
    assert_evidence(e, &["satellite dishes went dark with their lines"]);
    // Without the dishes the same silence is read as power by its geometry alone (one region across three
    // networks), less surely.
    let without = Scenario::new(shape).events();
    let alone = outages(&without);
    assert_eq!(alone.len(), 1, "{without:#?}");
    assert_eq!(alone[0].class, EventClass::PowerOutage, "{without:#?}");
    assert!(
        alone[0].confidence < e.confidence && alone[0].confidence_level < e.confidence_level,
        "{without:#?}"
    );
}

#[test]
fn a_dual_homed_probe_going_silent_alone_is_one_probe_fault_its_dish_silent_with_it() {
    // One Tehran probe dies, line and dish together, while every other probe and dish works.
    let dead = |p: &ProbeInfo, b: i64| p.probe_id == tehran_dual_homed()[0].probe_id && (40..70).contains(&b);
    let shape = |p: &ProbeInfo, b: i64| (!dead(p, b)).then_some(HEALTHY);
    let s = Scenario::new(shape).with_dishes(&tehran_dual_homed(), shape);
    let events = s.events();
    assert_eq!(
        events.len(),
        1,
        "one event, the probe's, none of its dish's own: {events:#?}"
    );
    let e = &events[0];
    assert_eq!(
        (e.class, e.scope.probe_id.as_deref()),
        (EventClass::ProbeFault, Some(tehran_dual_homed()[0].probe_id.as_str())),
        "{e:#?}"
    );
    assert_evidence(e, &["satellite uplink went silent with it"]);
}

#[test]
fn a_cut_reported_live_by_dual_homed_probes_is_a_shutdown_while_it_lasts() {
    // A national cut under way at the end of the window: the probes with only a line are silent (their evidence
    // is in their spools); three probes with a dish beside their line upload their lines' measurements live over
    // it — gateway up, the same boot, domestic anchors answering, nothing abroad.
    let live: Vec<ProbeInfo> = probes()
        .into_iter()
        .filter(|p| p.region.as_deref() == Some("Tehran") && p.access == AccessType::Fixed)
        .collect();
    let live_ids: Vec<String> = live.iter().map(|p| p.probe_id.clone()).collect();
    let s = Scenario::new(|p, b| {
        if b < 90 {
            Some(HEALTHY)
        } else if live_ids.contains(&p.probe_id) {
            Some(Report {
                international_ok: false,
                ..HEALTHY
            })
        } else {
            None
        }
    })
    .with_dishes(&live, |_, _| Some(HEALTHY));
    let events = s.events();
    let found = outages(&events);
    assert_eq!(found.len(), 1, "{events:#?}");
    let e = found[0];
    assert_eq!(
        (e.class, e.scope.level.as_str(), e.ended_at),
        (EventClass::Shutdown, "country", None),
        "{e:#?}"
    );
    assert!(
        e.evidence.iter().any(|ev| ev.text.contains("live")),
        "the live reports are named: {e:#?}"
    );
    let reporting = "kept reporting through another uplink (satellite";
    assert!(e.evidence.iter().any(|ev| ev.text.contains(reporting)), "{e:#?}");
    // The network those reports arrived from, when the collector knows it: they did not cross the border.
    let events = s.events_with_dishes_on(14593);
    let found = outages(&events);
    assert_eq!(found.len(), 1, "{events:#?}");
    let e = found[0];
    assert_eq!((e.class, e.ended_at), (EventClass::Shutdown, None), "{e:#?}");
    assert!(
        e.evidence
            .iter()
            .any(|ev| ev.text.contains("(satellite, arriving from AS14593)")),
        "{e:#?}"
    );
}

#[test]
fn a_satellite_probe_going_dark_with_its_region_is_named_in_the_blackout() {
    // Isfahan's blackout also silences a probe whose only way out is a dish (registered as satellite access).
    let mut all = probes();
    all.push(probe_info(
        "p-dish-Isfahan",
        "IR",
        14593,
        "Isfahan",
        AccessType::Satellite,
    ));
    let s = Scenario::of(&all, |p, b| {
        let isfahan = p.region.as_deref() == Some("Isfahan");
        match (isfahan, b) {
            (true, b) if b == CUT.start - 1 && p.access != AccessType::Satellite => Some(Report {
                battery: true,
                ..HEALTHY
            }),
            (true, b) if CUT.contains(&b) => None,
            (true, b) if b >= CUT.end => Some(Report { boot: 2, ..HEALTHY }),
            _ => Some(HEALTHY),
        }
    });
    let events = s.events_for(all);
    let e = only(&events, EventClass::PowerOutage);
    assert_eq!(e.scope.region.as_deref(), Some("Isfahan"), "{e:#?}");
    assert_evidence(e, &["1 of them on satellite access went dark too"]);
}

/// [`probes`] and two satellite-only probes in each region on an operator whose network the collector's IP-to-ASN
/// table places abroad (as AS14593, Starlink's, is registered in the US).
fn with_satellites_abroad() -> Vec<ProbeInfo> {
    let mut all = probes();
    for region in ["Tehran", "Isfahan"] {
        for n in 0..2 {
            all.push(ProbeInfo {
                network_country: Some("US".to_owned()),
                ..probe_info(
                    &format!("p-sky-{region}-{n}"),
                    "IR",
                    14593,
                    region,
                    AccessType::Satellite,
                )
            });
        }
    }
    all
}

#[test]
fn satellite_only_probes_abroad_going_dark_with_their_region_are_power_evidence() {
    // Isfahan's mains fail: its line probes (no UPS) and its two satellite-only probes go silent and come back
    // rebooted. No cut reaches a path to a ground station abroad, so the satellite probes' silence is power.
    let all = with_satellites_abroad();
    let s = Scenario::of(&all, |p, b| match (p.region.as_deref() == Some("Isfahan"), b) {
        (true, b) if CUT.contains(&b) => None,
        (true, b) if b >= CUT.end => Some(Report { boot: 2, ..HEALTHY }),
        _ => Some(HEALTHY),
    });
    let events = s.events_for(all.clone());
    let e = only(&events, EventClass::PowerOutage);
    assert_eq!(e.scope.region.as_deref(), Some("Isfahan"), "{e:#?}");
    let dark = "2 satellite-only probes on an operator registered abroad went dark or onto battery";
    assert!(
        e.evidence.iter().any(|ev| ev.text.contains(dark) && ev.points > 0),
        "counted for a power outage: {e:#?}"
    );
    // The region's scope is its lines: the satellite probes are judged apart, never among its probes.
    assert_eq!(e.affected_probes, 6, "{e:#?}");
    // With their operator not known, they are judged as lines and named without points.
    let unplaced: Vec<ProbeInfo> = all
        .into_iter()
        .map(|p| ProbeInfo {
            network_country: None,
            ..p
        })
        .collect();
    let events = s.events_for(unplaced);
    let e = only(&events, EventClass::PowerOutage);
    assert!(!e.evidence.iter().any(|ev| ev.text.contains(dark)), "{e:#?}");
    assert_evidence(e, &["2 of them on satellite access went dark too"]);
}

#[test]
fn satellite_only_probes_abroad_working_through_a_national_cut_neither_end_it_nor_join_it() {
    // Every line is cut from the world (domestic anchors answer); the satellite-only probes abroad keep working —
    // only their domestic anchor, which their path reaches through the border, fails.
    let all = with_satellites_abroad();
    let s = Scenario::of(&all, |p, b| {
        Some(match (p.access == AccessType::Satellite, CUT.contains(&b)) {
            (false, true) => Report {
                international_ok: false,
                ..HEALTHY
            },
            (true, true) => Report {
                domestic_ok: false,
                ..HEALTHY
            },
            _ => HEALTHY,
        })
    });
    let events = s.events_for(all);
    let e = only(&events, EventClass::Shutdown);
    assert_eq!(e.scope.level, "country", "{e:#?}");
    assert_eq!(e.affected_probes, 12, "the lines only: {e:#?}");
    assert_evidence(
        e,
        &["4 satellite-only probes on an operator registered abroad, beside the outage, kept working"],
    );
    assert!(
        events.iter().all(|ev| ev.scope.access.as_deref() != Some("satellite")),
        "nothing of the satellite paths on their own: {events:#?}"
    );
}
