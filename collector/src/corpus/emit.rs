//! From a plan to what probes send: per probe and bucket it is not silent, its vitals, a domestic and two
//! international anchors' checks (and a trace of each anchor a check of which failed, as the probe traces what
//! failed), and every fifth bucket a check of the test list's site — wire-format measurements with UUIDv7 ids,
//! drawn from the scenario's own generator so a seed gives the same bytes.

use chrono::{DateTime, Duration, Utc};
use vigil_measurement::result::{
    DnsAnswer, DnsResult, HttpResult, Power, QuicTest, TcpResult, TraceHop, TraceResult, VitalsResult,
};
use vigil_measurement::{Measurement, MeasurementResult, Outcome, SCHEMA_VERSION, Scope, Target};

use super::scenario::{Condition, PathDies, Plan, SITE, SiteAnswer, WINDOW_BUCKETS};
use super::topology::ProbeSpec;
use crate::model::{ANCHOR_LIST, BlockingMethod};

/// The test list the site is on.
pub const SITE_LIST: &str = "citizenlab-global";

/// One measurement and the probe that sent it.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The probe.
    pub probe_id: String,
    /// The measurement, as on the wire.
    pub measurement: Measurement,
}

/// Every measurement of a plan, bucket 0 starting at `t0`.
pub fn emit(plan: &Plan, rng: &mut fastrand::Rng, t0: DateTime<Utc>, bucket_secs: i64) -> Vec<Sent> {
    let mut out = Vec::new();
    for (c, (country, rows)) in plan.countries.iter().zip(&plan.conditions).enumerate() {
        // Most countries route every network's international traffic through one gateway (Iran's TIC, a single
        // landing station); the rest leave it to each network's upstream.
        let gateway = rng.f64() < CENTRALISED_SHARE;
        // The satellite-only probes abroad send from a generator of their own (`emit_satellites_abroad`).
        let on_this_side = |(p, _): &(&ProbeSpec, &Vec<Condition>)| !country.isp_of(p).abroad;
        for (probe, row) in country.probes.iter().zip(rows).filter(on_this_side) {
            // Each probe checks at its own second of the bucket.
            let phase = rng.i64(0..bucket_secs.max(1));
            for (bucket, condition) in row.iter().enumerate().take(WINDOW_BUCKETS) {
                if condition.silent {
                    continue;
                }
                let at = t0 + Duration::seconds(bucket as i64 * bucket_secs + phase);
                let mut send = |measurement| {
                    out.push(Sent {
                        probe_id: probe.probe_id.clone(),
                        measurement,
                    })
                };
                send(measurement(rng, at, local(), vitals(condition)));
                let domestic_ok = rng.f64() < condition.domestic;
                send(measurement(
                    rng,
                    at,
                    anchor(DOMESTIC_ANCHOR, Scope::Domestic),
                    tcp(domestic_ok),
                ));
                for name in INTERNATIONAL_ANCHORS {
                    let chance = if condition.allowlisted && name == INTERNATIONAL_ANCHORS[0] {
                        HEALTHY_INTERNATIONAL
                    } else {
                        condition.international
                    };
                    let mut failed = false;
                    for _ in 0..CHECKS_PER_ANCHOR {
                        let ok = rng.f64() < chance;
                        failed |= !ok;
                        send(measurement(rng, at, anchor(name, Scope::International), tcp(ok)));
                    }
                    if failed {
                        let path = Path {
                            country: c,
                            gateway,
                            probe,
                        };
                        let dies = condition.path_dies.filter(|_| chance < HEALTHY_INTERNATIONAL);
                        send(measurement(
                            rng,
                            at,
                            anchor(name, Scope::International),
                            trace(&path, dies),
                        ));
                    }
                }
                if (bucket + probe.isp) % 5 == 0 {
                    send(measurement(rng, at, site_target(), site_result(condition.site)));
                }
            }
        }
    }
    out
}

/// The uplink a dual-homed probe's dish measurements are labelled with.
fn dish_uplink() -> vigil_measurement::Uplink {
    vigil_measurement::Uplink {
        name: "sat".to_owned(),
        access: vigil_measurement::UplinkAccess::Satellite,
    }
}

/// What the dishes of the dual-homed probes send (issue 24), from a generator of their own so that the lines'
/// measurements are the bytes they were: per bucket the probe is not silent, the vitals and anchor checks it takes
/// through its dish, labelled with that uplink ([`satellite_path`]).
pub fn emit_dishes(plan: &Plan, rng: &mut fastrand::Rng, t0: DateTime<Utc>, bucket_secs: i64) -> Vec<Sent> {
    satellite_paths(plan, rng, t0, bucket_secs, SatellitePath::Dish)
}

/// What the home country's satellite-only probes on an operator registered abroad send (issue 24), from a generator
/// of their own: per bucket they are not silent, their vitals and anchor checks, over their one path
/// ([`satellite_path`]).
pub fn emit_satellites_abroad(plan: &Plan, rng: &mut fastrand::Rng, t0: DateTime<Utc>, bucket_secs: i64) -> Vec<Sent> {
    satellite_paths(plan, rng, t0, bucket_secs, SatellitePath::Abroad)
}

/// Whose satellite paths [`satellite_paths`] emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SatellitePath {
    /// The dishes beside the lines of dual-homed probes: their measurements labelled with the dish's uplink; a
    /// last gasp is the line's vitals' to send.
    Dish,
    /// The satellite-only probes on an operator registered abroad: their own one path, unlabelled.
    Abroad,
}

/// A satellite path's measurements. A dish has no UPS: with its probe on battery it is dark (gateway and link
/// lost, nothing passes). Jammed, it still answers its probe and passes nothing. Otherwise its path runs to a
/// ground station abroad, never through the country's border — except to reach the domestic anchor, which it
/// enters the country for, so a national shutdown (the border closed) fails that check.
fn satellite_paths(
    plan: &Plan,
    rng: &mut fastrand::Rng,
    t0: DateTime<Utc>,
    bucket_secs: i64,
    which: SatellitePath,
) -> Vec<Sent> {
    let mut out = Vec::new();
    for (country, rows) in plan.countries.iter().zip(&plan.conditions) {
        let border_closed = |bucket: usize| {
            plan.truth.iter().any(|t| {
                t.class == crate::model::EventClass::Shutdown
                    && matches!(&t.scope, super::TruthScope::Country { country: c } if *c == country.code)
                    && (t.start..t.end).contains(&bucket)
            })
        };
        let chosen = |p: &ProbeSpec| match which {
            SatellitePath::Dish => p.dish,
            SatellitePath::Abroad => country.isp_of(p).abroad,
        };
        for (probe, row) in country.probes.iter().zip(rows).filter(|(p, _)| chosen(p)) {
            let phase = rng.i64(0..bucket_secs.max(1));
            for (bucket, condition) in row.iter().enumerate().take(WINDOW_BUCKETS) {
                if condition.silent {
                    continue;
                }
                let at = t0 + Duration::seconds(bucket as i64 * bucket_secs + phase);
                let powered = !condition.battery;
                let passes = powered && !condition.dish_jammed;
                let mut send = |mut measurement: Measurement| {
                    if which == SatellitePath::Dish {
                        measurement.uplink = Some(dish_uplink());
                    }
                    out.push(Sent {
                        probe_id: probe.probe_id.clone(),
                        measurement,
                    })
                };
                let dish = Condition {
                    gateway: powered,
                    link: powered,
                    last_gasp: which == SatellitePath::Abroad && condition.last_gasp,
                    ..*condition
                };
                send(measurement(rng, at, local(), vitals(&dish)));
                let domestic = if passes && !border_closed(bucket) { 0.995 } else { 0.0 };
                let domestic_ok = rng.f64() < domestic;
                send(measurement(
                    rng,
                    at,
                    anchor(DOMESTIC_ANCHOR, Scope::Domestic),
                    tcp(domestic_ok),
                ));
                let international = if passes { HEALTHY_INTERNATIONAL } else { 0.0 };
                for name in INTERNATIONAL_ANCHORS {
                    for _ in 0..CHECKS_PER_ANCHOR {
                        let ok = rng.f64() < international;
                        send(measurement(rng, at, anchor(name, Scope::International), tcp(ok)));
                    }
                }
            }
        }
    }
    out
}

fn measurement(rng: &mut fastrand::Rng, at: DateTime<Utc>, target: Target, result: MeasurementResult) -> Measurement {
    let mut random = [0u8; 10];
    rng.fill(&mut random);
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    Measurement {
        schema: SCHEMA_VERSION,
        id: uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid(),
        started_at: at,
        duration_ms: 20.0,
        target,
        network: None,
        clock: None,
        uplink: None,
        result,
    }
}

fn local() -> Target {
    Target {
        name: "self".to_owned(),
        scope: Scope::Local,
        list: None,
    }
}

/// Every probe's domestic anchor.
const DOMESTIC_ANCHOR: &str = "anchor.domestic.example";
/// Every probe's two international anchors, the same in both countries (as the sample configuration has them),
/// one check each per bucket.
const INTERNATIONAL_ANCHORS: [&str; 2] = ["https://anchor-a.example/", "https://anchor-b.example/"];
/// Checks of each international anchor per bucket: a probe pings, connects to and fetches each anchor every
/// cycle (`probe::agent::Checks::anchor_cycle`), so one lost packet never makes an anchor unreachable.
const CHECKS_PER_ANCHOR: usize = 3;
/// Chance an allowlisted anchor's check succeeds: a healthy path's.
const HEALTHY_INTERNATIONAL: f64 = 0.99;

fn anchor(name: &str, scope: Scope) -> Target {
    Target {
        name: name.to_owned(),
        scope,
        list: Some(ANCHOR_LIST.to_owned()),
    }
}

fn site_target() -> Target {
    Target {
        name: format!("https://{SITE}/"),
        scope: Scope::International,
        list: Some(SITE_LIST.to_owned()),
    }
}

fn vitals(c: &Condition) -> MeasurementResult {
    MeasurementResult::Vitals(VitalsResult {
        outcome: Outcome::Ok,
        boot_id: format!("boot-{}", c.boot),
        uptime_s: 3_600.0,
        power: Power {
            ac_online: Some(!c.battery),
            on_battery: Some(c.battery),
            battery_pct: c.battery.then_some(80.0),
        },
        gateway_reachable: c.gateway,
        link_up: c.link,
        last_gasp: c.last_gasp,
        spool_depth: 0,
        seq: None,
        gateway_rtt_ms: Some(1.5),
        error_detail: None,
    })
}

/// Share of countries whose networks reach abroad through one national gateway.
const CENTRALISED_SHARE: f64 = 0.6;

/// Where a probe's path to an international anchor runs: home router, its network's regional and core routers,
/// then the country's gateway (when it has one) or its network's upstream, then abroad.
struct Path<'a> {
    /// Index of the probe's country in the plan.
    country: usize,
    /// Whether the country has one international gateway.
    gateway: bool,
    /// The probe.
    probe: &'a ProbeSpec,
}

impl Path<'_> {
    /// The hops that answer, in order, up to where a cut at `dies` stops them (all of them when not cut).
    fn hops(&self, dies: Option<PathDies>) -> Vec<std::net::IpAddr> {
        // Network octet: country and ISP (at most eight ISPs a country).
        let net = u8::try_from(self.country * 16 + self.probe.isp).unwrap_or(u8::MAX);
        let region = u8::try_from(self.probe.region).unwrap_or(u8::MAX);
        let home = [192, 168, 1, 1];
        let inside = [[10, net, region, 1], [10, net, 0, 1]];
        let border = if self.gateway {
            [10, 255, u8::try_from(self.country).unwrap_or(u8::MAX), 1]
        } else {
            [10, net, 255, 1]
        };
        let abroad = [[198, 51, 100, 1], [192, 0, 2, 1]];
        let all: Vec<[u8; 4]> = std::iter::once(home)
            .chain(inside)
            .chain(std::iter::once(border))
            .chain(abroad)
            .collect();
        let reached = match dies {
            None => all.len(),
            Some(PathDies::Home) => 1,
            Some(PathDies::Inside) => 3,
            Some(PathDies::Border) => 4,
        };
        all[..reached].iter().map(|a| std::net::IpAddr::from(*a)).collect()
    }
}

/// A trace to an anchor: arrived when the path is not cut, else stopped where `dies` says.
fn trace(path: &Path<'_>, dies: Option<PathDies>) -> MeasurementResult {
    let answered = path.hops(dies);
    let arrived = dies.is_none();
    let mut hops: Vec<TraceHop> = answered
        .iter()
        .enumerate()
        .map(|(i, ip)| TraceHop {
            ttl: u8::try_from(i + 1).unwrap_or(u8::MAX),
            ip: Some(*ip),
            rtt_ms: Some(1.0 + 5.0 * i as f64),
            local: Some(i == 0),
        })
        .collect();
    let stopped = u8::try_from(answered.len() + 1).unwrap_or(u8::MAX);
    if !arrived {
        hops.push(TraceHop {
            ttl: stopped,
            ip: None,
            rtt_ms: None,
            local: None,
        });
    }
    MeasurementResult::Trace(TraceResult {
        outcome: if arrived { Outcome::Ok } else { Outcome::Timeout },
        ip: std::net::IpAddr::from([192, 0, 2, 1]),
        hops,
        protocol: Some("tcp".to_owned()),
        port: Some(443),
        stopped_at_ttl: (!arrived).then_some(stopped),
        error_detail: None,
    })
}

fn tcp(ok: bool) -> MeasurementResult {
    MeasurementResult::Tcp(TcpResult {
        outcome: if ok { Outcome::Ok } else { Outcome::Timeout },
        ip: std::net::IpAddr::from([192, 0, 2, 1]),
        port: 443,
        method: None,
        reply: None,
        reply_ttl: None,
        reply_ip_id: None,
        injected_rst: None,
        rtt_ms: ok.then_some(40.0),
        error_detail: None,
    })
}

fn site_result(answer: SiteAnswer) -> MeasurementResult {
    if answer == SiteAnswer::Blocked(BlockingMethod::Dns) {
        return MeasurementResult::Dns(DnsResult {
            outcome: Outcome::DnsInjected,
            query: SITE.to_owned(),
            qtype: "A".to_owned(),
            resolver: "system".to_owned(),
            answers: vec![DnsAnswer {
                rtype: "A".to_owned(),
                data: "10.10.34.35".to_owned(),
                ttl: Some(60),
            }],
            rcode: Some("NOERROR".to_owned()),
            fingerprint: Some("corpus_dns".to_owned()),
            injection_reason: Some("fingerprint".to_owned()),
            error_detail: None,
        });
    }
    let (outcome, status, stage, fingerprint) = match answer {
        SiteAnswer::Ok | SiteAnswer::Blocked(BlockingMethod::Quic) => (Outcome::Ok, Some(200), None, None),
        SiteAnswer::Blocked(BlockingMethod::HttpBlockpage) => {
            (Outcome::Blockpage, Some(200), None, Some("corpus_blockpage"))
        }
        SiteAnswer::Blocked(BlockingMethod::TcpReset) => (Outcome::Reset, None, Some("tls_handshake"), None),
        SiteAnswer::Blocked(BlockingMethod::IpBlock) => (Outcome::Timeout, None, Some("connect"), None),
        SiteAnswer::Blocked(_) | SiteAnswer::CertificateExpired => {
            (Outcome::TlsError, None, Some("tls_handshake"), None)
        }
        SiteAnswer::Down => (Outcome::Timeout, None, Some("connect"), None),
    };
    MeasurementResult::Http(HttpResult {
        outcome,
        url: format!("https://{SITE}/"),
        status,
        redirects: Vec::new(),
        headers: Default::default(),
        body_length: status.map(|_| 20_000),
        body_sha256: None,
        title: None,
        fingerprint: fingerprint.map(str::to_owned),
        failure_stage: stage.map(str::to_owned),
        tls_version: None,
        server_ip: None,
        throughput_bps: None,
        error_detail: None,
        sni: None,
        quic: quic_test(answer).map(Box::new),
    })
}

/// The QUIC test of a fetch that loaded: the site announces HTTP/3, which answers unless QUIC is dropped. A fetch
/// that failed over TCP carries none (what it says is the TCP failure's).
fn quic_test(answer: SiteAnswer) -> Option<QuicTest> {
    let dropped = match answer {
        SiteAnswer::Ok => false,
        SiteAnswer::Blocked(BlockingMethod::Quic) => true,
        _ => return None,
    };
    Some(QuicTest {
        url: format!("https://{SITE}/"),
        port: 443,
        outcome: if dropped { Outcome::Timeout } else { Outcome::Ok },
        handshake: !dropped,
        status: (!dropped).then_some(200),
        body_length: (!dropped).then_some(20_000),
        error_detail: None,
    })
}
