//! The lab's scenarios: each a named case — a fault, how long it lasts, and the verdict the collector must reach
//! (class, scope, start and end within a stated number of buckets, the key evidence) — and the runner that plays
//! one against the real binaries and judges the collector's events through its API.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::Value;

use super::country::{ABROAD_COUNTRY, Dish, HOME_COUNTRY, INTL_ANCHORS, Sky, TLS_SITE, Upstream, isp_asn, site_url};
use super::faults::Fault;
use super::nodes::TIMING;
use super::oracle::{first_said, journal, probes_measuring, reconcile, taken_between};
use super::{DEFAULT_WINDOW_SECS, Lab, LabError};

/// Which scope an expected event must have.
#[derive(Debug, Clone, Copy)]
pub struct ScopeMatch {
    /// `country`, `asn`, `region`, `access`, `probe` or `collector`.
    pub level: &'static str,
    /// The ASN, for `asn`.
    pub asn: Option<u32>,
    /// The region, for `region`.
    pub region: Option<&'static str>,
    /// The access type, for `access`.
    pub access: Option<&'static str>,
    /// The probe number, for `probe`.
    pub probe: Option<usize>,
}

const fn level(level: &'static str) -> ScopeMatch {
    ScopeMatch {
        level,
        asn: None,
        region: None,
        access: None,
        probe: None,
    }
}

const fn asn(isp: u8) -> ScopeMatch {
    ScopeMatch {
        asn: Some(isp_asn(isp)),
        ..level("asn")
    }
}

/// An event the collector must show once the fault is over.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    /// Its class.
    pub class: &'static str,
    /// Its scope.
    pub scope: ScopeMatch,
    /// Its start, in buckets from the fault's start (either way).
    pub start_within: i64,
    /// Its end, in buckets from the fault's end (either way).
    pub end_within: i64,
    /// Phrases its evidence must contain.
    pub evidence: &'static [&'static str],
    /// For censorship: exactly these (site, method) targets.
    pub targets: &'static [(&'static str, &'static str)],
    /// For censorship: a fingerprint one of the targets matched.
    pub fingerprint: Option<&'static str>,
}

const fn expect(class: &'static str, scope: ScopeMatch) -> Expect {
    Expect {
        class,
        scope,
        start_within: 1,
        end_within: 2,
        evidence: &[],
        targets: &[],
        fingerprint: None,
    }
}

/// What must be visible while the fault lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum During {
    /// Nothing is checked.
    Nothing,
    /// An `unknown` event for the country (its probes are silent, their evidence is in their spools); after the
    /// fault the same event must be revised into the expected class.
    Unknown,
    /// A `collector_side` event (every probe everywhere went silent).
    CollectorSide,
    /// A shutdown of the country, open, citing the probes that report through their dishes while their lines are
    /// cut, at most [`LIVE_WITHIN_BUCKETS`] after the onset; after the fault the same event, ended. The probes set
    /// to hold send nothing they measured during the cut.
    Live,
}

/// How soon after a cut's onset live reports must have opened its event, in buckets (issue 24, scenario a).
pub const LIVE_WITHIN_BUCKETS: i64 = 3;

/// One named case.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Its name (the test's name).
    pub name: &'static str,
    /// What happens, and why the verdict is the right one.
    pub story: &'static str,
    /// The fault.
    pub fault: Fault,
    /// Complete healthy buckets before it.
    pub baseline_buckets: i64,
    /// Buckets it lasts.
    pub hold_buckets: i64,
    /// What must be seen during it.
    pub during: During,
    /// The events the collector must end with — and no others.
    pub expect: &'static [Expect],
    /// Whether every measurement the probes journaled must be in the store, once, in its bucket.
    pub spool_oracle: bool,
    /// The collector's classifier window, seconds.
    pub window_secs: u64,
    /// What the probes must have measured while the fault lasted.
    pub measured: Option<Measured>,
    /// The satellite ways out the run uses.
    pub sky: Sky,
}

/// Measurements the store must hold from the fault's time: (site, outcome, from how many networks at least).
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// The test-list site (host name).
    pub site: &'static str,
    /// The outcome, as the wire names it (`tls_error`).
    pub outcome: &'static str,
    /// From at least this many networks.
    pub networks: usize,
}

/// The scenarios, in the order they run.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "national_shutdown_with_intranet",
        story: "The border drops all international traffic; the national intranet keeps working. Probes cannot \
                upload during the cut, so the collector first sees only silence (`unknown`); when the cut ends their \
                spools deliver measurements showing domestic anchors up, international down, gateways up and the \
                same boot ids, and traces of the failed checks dying at the border every ISP's paths cross; the event \
                is revised to a shutdown. Every measurement arrives once, in its bucket.",
        fault: Fault::NationalShutdown,
        baseline_buckets: 2,
        hold_buckets: 5,
        during: During::Unknown,
        expect: &[Expect {
            evidence: &[
                "a national intranet",
                "kept the same boot id",
                "kept a reachable gateway",
                "a border they share",
            ],
            ..expect("shutdown", level("country"))
        }],
        spool_oracle: true,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "isp_upstream_cut",
        story: "One ISP (AS64502, probes in both regions) loses its upstream; the other ISPs work. Gateways stay up \
                and nothing beyond the ISP answers — domestic or international — so there is no intranet evidence \
                of a government order, and a single network failing across regions while its neighbours work is \
                what an upstream failure looks like: `network_failure`, scoped to the ASN. Its traces die at its \
                upstream, a hop no other network's paths died at.",
        fault: Fault::IspCut(2),
        baseline_buckets: 2,
        hold_buckets: 4,
        during: During::Nothing,
        expect: &[Expect {
            evidence: &[
                "only AS64502 failed",
                "kept a reachable gateway",
                "of their network's paths",
            ],
            ..expect("network_failure", asn(2))
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "single_region_isp_upstream_cut",
        story: "AS64501, which serves the north only, loses its upstream; the other ISPs in the north work. Gateways \
                stay up and nothing beyond the ISP answers, domestic or international. Issue 23, case 1: this used \
                to score as a shutdown (an ISP in one region has no 'across regions' geometry); it is a network \
                failure of the ASN, not of the region.",
        fault: Fault::IspCut(1),
        baseline_buckets: 2,
        hold_buckets: 4,
        during: During::Nothing,
        expect: &[Expect {
            evidence: &["kept a reachable gateway"],
            ..expect("network_failure", asn(1))
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "isp_transit_cut",
        story: "AS64502 (both regions) loses its international transit; its domestic peering still works, so its \
                probes reach the domestic servers and anchors and nothing abroad — the national intranet's pattern, \
                in one network while the other networks of the same regions reach abroad. Issue 23, case 1: a \
                transit or cable failure of one network, `network_failure` of the ASN, never a shutdown. Its \
                probes cannot reach the collector abroad during the cut; their spools deliver it afterwards.",
        fault: Fault::TransitCut(2),
        baseline_buckets: 2,
        hold_buckets: 4,
        during: During::Nothing,
        expect: &[Expect {
            evidence: &[
                "only AS64502 failed",
                "AS64502 lost its international paths and kept its domestic ones",
                "kept a reachable gateway",
            ],
            ..expect("network_failure", asn(2))
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "shutdown_with_allowlisted_address",
        story: "The border drops all international traffic but one international anchor's, as an allowlist does \
                (Iran 2025). Every probe in the country still reaches that anchor each cycle, so one international \
                anchor in two answers — the leak must not hide the cut (issue 23, case 2). The other anchor answers \
                the probes abroad, which is what shows it was up. Probes cannot reach the collector during the cut; \
                their spools deliver it afterwards, and the event seen as `unknown` is revised to a shutdown of the \
                country that names the leak.",
        fault: Fault::AllowlistShutdown {
            allowed: INTL_ANCHORS[0],
        },
        baseline_buckets: 2,
        hold_buckets: 5,
        during: During::Unknown,
        expect: &[Expect {
            evidence: &[
                "a national intranet",
                "an allowlist's leak",
                "kept a reachable gateway",
                "a border they share",
            ],
            ..expect("shutdown", level("country"))
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "shutdown_longer_than_the_window",
        story: "A national shutdown outlasts the collector's classifier window (here six buckets; in production half \
                an hour against shutdowns of days, as Iran 2019's week). Each run sees only the window, so the \
                event's start lies before what it reads: the event must keep its start and its id through every \
                run, stay one event, and be revised to a shutdown when the spools deliver (issue 23, cases 5 \
                and 6).",
        fault: Fault::NationalShutdown,
        baseline_buckets: 2,
        hold_buckets: 10,
        during: During::Unknown,
        expect: &[Expect {
            evidence: &["a national intranet", "kept a reachable gateway"],
            ..expect("shutdown", level("country"))
        }],
        spool_oracle: false,
        window_secs: 6 * TIMING.bucket_secs,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "mobile_only_shutdown",
        story: "At a bucket boundary every ISP drops its mobile subscribers (two networks); fixed lines work. \
                Mobile gateways stay up: a shutdown scoped to mobile access.",
        fault: Fault::MobileCut,
        baseline_buckets: 2,
        hold_buckets: 4,
        during: During::Nothing,
        expect: &[Expect {
            evidence: &["mobile probes went down", "kept a reachable gateway"],
            ..expect(
                "shutdown",
                ScopeMatch {
                    access: Some("mobile"),
                    ..level("access")
                },
            )
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "national_shutdown_reported_live",
        story: "The border drops all international traffic, as in the first scenario; four probes in the north have a \
                satellite dish beside their line (issue 24, scenarios a and d). Three send their reports through it \
                while their lines are cut (`during_isolation = \"other_uplinks\"`): their lines' measurements — \
                gateway up, the same boot, domestic anchors answering, nothing abroad — reach the collector during \
                the cut, and the shutdown is called while it lasts, naming them. The fourth holds \
                (`\"hold\"`): nothing it measured during the cut is sent during it, and everything arrives once \
                afterwards, as from every other probe.",
        fault: Fault::NationalShutdown,
        baseline_buckets: 2,
        hold_buckets: 5,
        during: During::Live,
        expect: &[Expect {
            evidence: &[
                // The network the dishes' uploads arrived from (`[ingest] asn_table`): not the country's.
                "through another uplink (satellite, arriving from AS64510)",
                "a national intranet",
                "kept a reachable gateway",
            ],
            ..expect("shutdown", level("country"))
        }],
        spool_oracle: true,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Dishes,
    },
    Scenario {
        name: "satellite_jamming",
        story: "The dishes of the north are jammed: each still answers its probe, nothing passes it, while every \
                line beside them and every probe's power work (issue 24, scenario c). The satellite path's own \
                failure, scoped to satellite access — never a terrestrial event, and no shutdown.",
        fault: Fault::SatelliteJamming("north"),
        baseline_buckets: 2,
        hold_buckets: 4,
        during: During::Nothing,
        expect: &[Expect {
            // The operator is named only once the dishes have carried uploads (their network is read from those):
            // here the lines carry every batch, so either sentence may come.
            evidence: &["only the probes' satellite uplinks"],
            ..expect(
                "network_failure",
                ScopeMatch {
                    access: Some("satellite"),
                    ..level("access")
                },
            )
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Dishes,
    },
    Scenario {
        name: "regional_power_outage",
        story: "The south's mains fail, probe by probe over seconds: home routers go dark, probes without a UPS die \
                (SIGKILL), UPS probes report battery power and a dead LAN. Power returns probe by probe; the dead ones \
                boot with new boot ids. A power outage scoped to the region. A probe whose only way out is a dish \
                (s14, on an operator the collector's IP-to-ASN table registers abroad) goes dark with its neighbours: \
                no cut reaches its path, so the event names it (issue 24, scenario b).",
        fault: Fault::RegionalPower("south"),
        baseline_buckets: 2,
        hold_buckets: 4,
        during: During::Nothing,
        expect: &[Expect {
            evidence: &[
                "new boot id",
                "switched to battery",
                "lost their gateway or link",
                "1 satellite-only probe on an operator registered abroad went dark",
            ],
            ..expect(
                "power_outage",
                ScopeMatch {
                    region: Some("south"),
                    ..level("region")
                },
            )
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::SatelliteOnly,
    },
    Scenario {
        name: "single_probe_power_loss",
        story: "One probe (p01, no UPS) loses power while its peers work: a probe fault, no regional event.",
        fault: Fault::ProbePower(1),
        baseline_buckets: 2,
        hold_buckets: 4,
        during: During::Nothing,
        expect: &[Expect {
            evidence: &["peers in XL kept working"],
            ..expect(
                "probe_fault",
                ScopeMatch {
                    probe: Some(1),
                    ..level("probe")
                },
            )
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "dns_censorship",
        story: "AS64501's resolver answers the national blockpage address (10.10.34.34) for two listed names while \
                the control resolver abroad answers truly: censorship by DNS on those two targets.",
        fault: Fault::DnsInjection {
            isp: 1,
            hosts: &["news.vigil.test", "social.vigil.test"],
        },
        baseline_buckets: 1,
        hold_buckets: 3,
        during: During::Nothing,
        expect: &[Expect {
            targets: &[("news.vigil.test", "dns"), ("social.vigil.test", "dns")],
            fingerprint: Some("vigil.ir_dns_34"),
            ..expect("censorship", asn(1))
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "http_blockpage",
        story: "AS64502 sends web traffic for one listed site to the national blockpage server: censorship by \
                blockpage, with the blockpage's fingerprint.",
        fault: Fault::Blockpage {
            isp: 2,
            host: "video.vigil.test",
        },
        baseline_buckets: 1,
        hold_buckets: 3,
        during: During::Nothing,
        expect: &[Expect {
            targets: &[("video.vigil.test", "http_blockpage")],
            fingerprint: Some("vigil.ir_iframe"),
            ..expect("censorship", asn(2))
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "tcp_reset_injection",
        story: "AS64503 lets the handshake to one listed site through and resets the connection when the request \
                is sent, as DPI middleboxes do: censorship by TCP reset.",
        fault: Fault::RstInjection {
            isp: 3,
            host: "social.vigil.test",
        },
        baseline_buckets: 1,
        hold_buckets: 3,
        during: During::Nothing,
        expect: &[Expect {
            targets: &[("social.vigil.test", "tcp_reset")],
            ..expect("censorship", asn(3))
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "ip_blocking",
        story: "AS64502 drops everything sent to one listed site's address, as addresses are blocked: the probes' \
                connections to it never open, as to a server that is down — but the other networks load the site \
                meanwhile: censorship by IP blocking, in that network only.",
        fault: Fault::IpBlock {
            isp: 2,
            host: "open.vigil.test",
        },
        baseline_buckets: 1,
        hold_buckets: 3,
        during: During::Nothing,
        expect: &[Expect {
            targets: &[("open.vigil.test", "ip_block")],
            ..expect("censorship", asn(2))
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "app_blocking",
        story: "AS64501 drops everything sent to the lab's messaging app's chat server (an address, as Telegram's \
                data centres are blocked); the app's web site still loads there, and the app works in the other \
                networks and abroad: censorship of the app — one target, `app:chat`, whichever endpoint failed — \
                partly, in that network only.",
        fault: Fault::AppBlock(1),
        baseline_buckets: 1,
        hold_buckets: 3,
        during: During::Nothing,
        expect: &[Expect {
            targets: &[("app:chat", "ip_block")],
            evidence: &["app:chat (ip_block, partly: other endpoints answered)"],
            ..expect("censorship", asn(1))
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "sni_filtering",
        story: "AS64503 resets every TLS connection whose ClientHello names the lab's HTTPS site (iptables' string \
                match on the server name, as Iran filters): the probes' SNI test finds a handshake naming a control \
                answered by the same address: censorship by SNI, in that network only, while the others load the \
                site.",
        fault: Fault::SniFilter { isp: 3, host: TLS_SITE },
        baseline_buckets: 1,
        hold_buckets: 3,
        during: During::Nothing,
        expect: &[Expect {
            targets: &[(TLS_SITE, "sni")],
            ..expect("censorship", asn(3))
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "quic_blocking",
        story: "AS64502 drops UDP to the lab's HTTPS site's port 443, as Iran blocked QUIC before its June 2025 \
                shutdown. The site announces HTTP/3 (alt-svc), so every probe also asks it over QUIC: there it \
                loads over TCP and TLS while no QUIC handshake completes; the other networks and the probes abroad \
                load it over both: censorship by QUIC, in that network only.",
        fault: Fault::QuicBlock { isp: 2, host: TLS_SITE },
        baseline_buckets: 1,
        hold_buckets: 3,
        during: During::Nothing,
        expect: &[Expect {
            targets: &[(TLS_SITE, "quic")],
            ..expect("censorship", asn(2))
        }],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "expired_certificate",
        story: "The lab's one HTTPS site (bank.vigil.test, abroad) starts serving a certificate that expired in \
                2021, signed by the CA the probes trust. Every probe in every network now fails its TLS handshake \
                with the site — the signature a TLS-filtering censor leaves, but the same everywhere and matching no \
                blockpage: no network is censored (issue 23, case 4), and nothing else happens.",
        fault: Fault::CertificateExpires,
        baseline_buckets: 2,
        hold_buckets: 4,
        during: During::Nothing,
        expect: &[],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: Some(Measured {
            site: TLS_SITE,
            outcome: "tls_error",
            networks: 3,
        }),
        sky: Sky::Ground,
    },
    Scenario {
        name: "site_down_everywhere",
        story: "The server of one listed site (video.vigil.test, abroad) goes dark: its address answers nothing. \
                Every probe in every network, and every probe abroad, now times out on it — from any one network \
                the signature of a censor dropping its traffic, but with no other network loading it meanwhile (the \
                control every blocking method needs) the site is down, no network is censored (issue 25, item 4), \
                and nothing else happens.",
        fault: Fault::SiteDown("video.vigil.test"),
        baseline_buckets: 2,
        hold_buckets: 4,
        during: During::Nothing,
        expect: &[],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: Some(Measured {
            site: "video.vigil.test",
            outcome: "timeout",
            networks: 5,
        }),
        sky: Sky::Ground,
    },
    Scenario {
        name: "international_throttling",
        story: "International traffic into the country, usually 1 Gbit/s, is capped at 16 Mbit/s with tbf: \
                international anchors still answer, far slower than each probe's own baseline, while domestic ones \
                are normal — throttling, in every network.",
        fault: Fault::Throttle { rate: "16mbit" },
        baseline_buckets: 7,
        hold_buckets: 4,
        during: During::Nothing,
        expect: &[
            Expect {
                evidence: &["of their usual speed"],
                ..expect("throttling", asn(1))
            },
            Expect {
                evidence: &["of their usual speed"],
                ..expect("throttling", asn(2))
            },
            Expect {
                evidence: &["of their usual speed"],
                ..expect("throttling", asn(3))
            },
        ],
        spool_oracle: false,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
    Scenario {
        name: "collector_unreachable",
        story: "The collector's own link goes down. Every probe, at home and abroad, goes silent at once without \
                reporting isolation: `collector_side`, never a regional event. When the link returns the spools \
                deliver everything measured meanwhile, exactly once, and the buckets show the probes were fine all \
                along, so nothing remains.",
        fault: Fault::CollectorCut,
        baseline_buckets: 2,
        hold_buckets: 4,
        during: During::CollectorSide,
        expect: &[],
        spool_oracle: true,
        window_secs: DEFAULT_WINDOW_SECS,
        measured: None,
        sky: Sky::Ground,
    },
];

/// What a scenario run found (printed for the reader).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One line per matched event, and the oracle's count.
    pub lines: Vec<String>,
}

/// How often the lab's collector classifies (`nodes::CollectorNode::start`): the slack on a latency bound.
const CLASSIFIER_INTERVAL_SECS: f64 = 2.0;

fn bucket_secs() -> i64 {
    i64::try_from(TIMING.bucket_secs).unwrap_or(8)
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_else(Utc::now)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Sleeps until `t` (a bucket boundary the scenario is scheduled on).
fn sleep_until(t: DateTime<Utc>) {
    if let Ok(d) = (t - Utc::now()).to_std() {
        std::thread::sleep(d);
    }
}

/// Polls `check` every 500 ms until it returns `Ok(Some(_))` or `within` passes; the last error explains a
/// timeout.
fn poll<T>(
    within: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<Option<T>, LabError>,
) -> Result<T, LabError> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let last = match check() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => "not yet".to_owned(),
            Err(e) => e.to_string(),
        };
        if std::time::Instant::now() >= deadline {
            return Err(LabError::Verdict(format!(
                "{what}: not reached within {} s: {last}",
                within.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Waits until every probe on a line, in both countries, was online in each of the last `buckets` complete buckets.
/// A country's timeline is its lines' view: the satellite-only probe, on an operator the lab's IP-to-ASN table
/// registers abroad, is judged beyond the border and is not in it (the scenario that runs it names it in its
/// evidence, which needs it heard before the fault).
fn wait_healthy(lab: &Lab, buckets: i64) -> Result<(), LabError> {
    let b = bucket_secs();
    let within = Duration::from_secs(u64::try_from((buckets + 6) * b).unwrap_or(60) + 30);
    poll(within, "every probe online", || {
        let now = Utc::now().timestamp() - 2;
        let end = now.div_euclid(b) * b;
        let start = end - buckets * b;
        let running = |country: &str| {
            lab.probes
                .iter()
                .filter(|p| p.spec.country == country && p.spec.upstream != Upstream::Satellite)
                .count()
        };
        for (country, count) in [
            (HOME_COUNTRY, running(HOME_COUNTRY)),
            (ABROAD_COUNTRY, running(ABROAD_COUNTRY)),
        ] {
            let points = lab.api().get(&format!(
                "/api/v1/timeline?country={country}&from={}&to={}",
                rfc3339(at(start)),
                rfc3339(at(end))
            ))?;
            let points = points.as_array().cloned().unwrap_or_default();
            let healthy = points.len() == usize::try_from(buckets).unwrap_or(0)
                && points.iter().all(|p| {
                    p["reporting"].as_u64() == Some(count as u64) && p["online"].as_u64() == Some(count as u64)
                });
            if !healthy {
                return Err(LabError::Verdict(format!("{country}: {points:?}")));
            }
        }
        Ok(Some(()))
    })
}

fn is_outage(class: &str) -> bool {
    matches!(class, "shutdown" | "power_outage" | "network_failure" | "unknown")
}

/// Plays a scenario from a fresh run and judges the collector's events.
pub fn run(lab: &mut Lab, s: &Scenario) -> Result<Report, LabError> {
    let b = bucket_secs();
    let run_started = Utc::now();
    lab.fresh_run(s.name, s.window_secs, s.sky)?;
    wait_healthy(lab, s.baseline_buckets)?;
    let fault_at = at((Utc::now().timestamp() / b + 1) * b);
    sleep_until(fault_at);
    lab.apply(s.fault)?;
    let lift_at = fault_at + chrono::Duration::seconds(s.hold_buckets * b);
    let hold = Duration::from_secs(u64::try_from(s.hold_buckets * b).unwrap_or(30));
    let mut latency = Vec::new();
    let seen_during = match s.during {
        During::Nothing => None,
        During::Unknown => {
            let id = poll(hold, "an `unknown` event while the country is cut off", || {
                Ok(lab.api().events()?.into_iter().find_map(|e| {
                    (e["class"] == "unknown" && e["scope"]["country"] == HOME_COUNTRY)
                        .then(|| e["id"].as_str().unwrap_or_default().to_owned())
                }))
            })?;
            latency.push(format!(
                "detection latency: the country's silence was an `unknown` event {:.1} s after the onset",
                (Utc::now() - fault_at).num_milliseconds() as f64 / 1000.0
            ));
            Some(id)
        }
        During::Live => {
            let within = Duration::from_secs(u64::try_from((LIVE_WITHIN_BUCKETS + 1) * b).unwrap_or(32));
            let id = poll(within, "a shutdown called from live reports during the cut", || {
                Ok(lab.api().events()?.into_iter().find_map(|e| {
                    let live = e["class"] == "shutdown"
                        && e["scope"]["country"] == HOME_COUNTRY
                        && e["ended_at"].is_null()
                        && e["evidence"].as_array().is_some_and(|ev| {
                            ev.iter()
                                .any(|x| x["text"].as_str().is_some_and(|t| t.contains("another uplink")))
                        });
                    live.then(|| e["id"].as_str().unwrap_or_default().to_owned())
                }))
            })?;
            let after = (Utc::now() - fault_at).num_milliseconds() as f64 / 1000.0;
            if after > (LIVE_WITHIN_BUCKETS * b) as f64 + CLASSIFIER_INTERVAL_SECS {
                return Err(LabError::Verdict(format!(
                    "the live shutdown opened {after:.1} s after the onset, more than {LIVE_WITHIN_BUCKETS} buckets"
                )));
            }
            latency.push(format!(
                "detection latency: the shutdown was called {after:.1} s after the onset, while the cut lasted, from \
                 live reports"
            ));
            Some(id)
        }
        During::CollectorSide => Some(poll(
            hold,
            "a `collector_side` event while the collector is cut off",
            || {
                let events = lab.api().events()?;
                if let Some(regional) = events.iter().find(|e| e["class"] != "collector_side") {
                    return Err(LabError::Verdict(format!(
                        "a regional event while the collector is cut off: {regional}"
                    )));
                }
                Ok(events
                    .iter()
                    .find(|e| e["class"] == "collector_side")
                    .map(|e| e["id"].as_str().unwrap_or_default().to_owned()))
            },
        )?),
    };
    if s.sky == Sky::Dishes && s.during == During::Live {
        latency.extend(check_holding(lab, fault_at, lift_at)?);
    }
    sleep_until(lift_at);
    lab.lift(s.fault)?;
    if let Some(gone) = lab.casualties().first() {
        return Err(LabError::Setup(format!("{gone} stopped during the scenario")));
    }
    let probe_ids: Vec<String> = lab.probes.iter().map(|p| p.probe_id.clone()).collect();
    let verdict_within = Duration::from_secs(u64::try_from(12 * b).unwrap_or(96) + 30);
    let mut report = poll(verdict_within, &format!("the verdict of {}", s.name), || {
        let events = lab.api().events()?;
        let first =
            judge(s, &events, fault_at, lift_at, seen_during.as_deref(), &probe_ids).map_err(LabError::Verdict)?;
        // The same verdict two classifier runs later: settled, not passing through.
        std::thread::sleep(Duration::from_secs(5));
        let events = lab.api().events()?;
        judge(s, &events, fault_at, lift_at, seen_during.as_deref(), &probe_ids).map_err(LabError::Verdict)?;
        Ok(Some(first))
    })?;
    if let Some(first) = s.expect.first() {
        latency.push(format!(
            "detection latency: {} settled {:.1} s after the onset ({:.1} s after the fault ended)",
            first.class,
            (Utc::now() - fault_at).num_milliseconds() as f64 / 1000.0 - 5.0,
            (Utc::now() - lift_at).num_milliseconds() as f64 / 1000.0 - 5.0
        ));
    }
    report.lines.extend(latency);
    if let Some(want) = s.measured {
        let store = lab.collector()?.store.clone();
        let probes = probes_measuring(&store, &site_url(want.site), want.outcome, fault_at, lift_at)?;
        let networks: BTreeSet<u32> = lab
            .probes
            .iter()
            .filter(|p| probes.contains(&p.probe_id))
            .map(|p| p.spec.asn)
            .collect();
        if networks.len() < want.networks {
            return Err(LabError::Verdict(format!(
                "{} {} from {} networks during the fault ({} probes), expected {}",
                want.site,
                want.outcome,
                networks.len(),
                probes.len(),
                want.networks
            )));
        }
        report.lines.push(format!(
            "{} probes in {} networks measured {} as {} during the fault",
            probes.len(),
            networks.len(),
            want.site,
            want.outcome
        ));
    }
    if s.spool_oracle {
        let store = lab.collector()?.store.clone();
        let until = lift_at + chrono::Duration::seconds(2 * b);
        sleep_until(until);
        let lines = poll(
            Duration::from_secs(60),
            "every journaled measurement stored once",
            || {
                let mut lines = Vec::new();
                for node in &lab.probes {
                    let taken = journal(&node.log_path())?;
                    let r = reconcile(&store, &node.probe_id, &taken, run_started, until, b)?;
                    if !r.is_exact() {
                        return Err(LabError::Verdict(format!(
                            "{}: {} taken, {} missing, {} duplicated, {} in the wrong bucket",
                            node.spec.name,
                            r.taken,
                            r.missing.len(),
                            r.duplicated.len(),
                            r.misplaced.len()
                        )));
                    }
                    lines.push((node.spec.name, r.taken));
                }
                Ok(Some(lines))
            },
        )?;
        let total: usize = lines.iter().map(|(_, n)| n).sum();
        report.lines.push(format!(
            "spool oracle: all {total} measurements the {} probes took are stored once, each in its bucket",
            lines.len()
        ));
    }
    Ok(report)
}

/// `during_isolation = "hold"` (issue 24, scenario d): each holding probe judges its line isolated during the cut
/// (at the end of its line's first cycle after the onset, timeouts and traces included: a probe cannot know sooner),
/// and from then until the cut ends nothing it measures is sent, through the line or its dish (checked just before
/// the cut ends, in the store); it keeps measuring meanwhile. The spool oracle then finds everything delivered once.
fn check_holding(lab: &Lab, fault_at: DateTime<Utc>, lift_at: DateTime<Utc>) -> Result<Vec<String>, LabError> {
    let b = bucket_secs();
    let mut lines = Vec::new();
    let store = lab.collector()?.store.clone();
    for node in lab.probes.iter().filter(|p| p.spec.dish == Dish::Hold) {
        let notice = (lift_at - chrono::Duration::seconds(b) - Utc::now())
            .to_std()
            .unwrap_or_default();
        let judged = poll(notice, &format!("{} judging its line cut", node.spec.name), || {
            first_said(&node.log_path(), "isolated: the gateway answers", fault_at)
        })?;
        sleep_until(lift_at - chrono::Duration::seconds(1));
        let sent = taken_between(&store, &node.probe_id, judged, lift_at)?;
        let measured = journal(&node.log_path())?
            .iter()
            .filter(|m| m.started_at >= judged && m.started_at < lift_at)
            .count();
        if sent > 0 || measured == 0 {
            return Err(LabError::Verdict(format!(
                "{} holds during a cut: of {measured} measurements taken after it judged its line cut, {sent} \
                 arrived during the cut",
                node.spec.name
            )));
        }
        lines.push(format!(
            "{} (hold) judged its line cut {:.1} s after the onset; of the {measured} measurements it took from then \
             until the cut ended, none was sent during it",
            node.spec.name,
            (judged - fault_at).num_milliseconds() as f64 / 1000.0
        ));
    }
    Ok(lines)
}

/// Whether the events are exactly the expected ones; the report on success, what is wrong otherwise.
fn judge(
    s: &Scenario,
    events: &[Value],
    fault_at: DateTime<Utc>,
    lift_at: DateTime<Utc>,
    seen_during: Option<&str>,
    probe_ids: &[String],
) -> Result<Report, String> {
    let b = bucket_secs();
    let mut report = Report::default();
    let mut matched = vec![false; events.len()];
    for want in s.expect {
        let found = events.iter().enumerate().find(|(i, e)| {
            !matched[*i] && e["class"] == want.class && scope_matches(&e["scope"], &want.scope, probe_ids)
        });
        let Some((i, e)) = found else {
            return Err(format!(
                "no {} event scoped {:?}; events: {}",
                want.class,
                want.scope,
                summary(events)
            ));
        };
        matched[i] = true;
        let start = time(&e["started_at"]).ok_or_else(|| format!("no start: {e}"))?;
        if (start - fault_at.timestamp()).abs() > want.start_within * b {
            return Err(format!(
                "{} starts {} s from the fault (tolerance {} buckets): {e}",
                want.class,
                start - fault_at.timestamp(),
                want.start_within
            ));
        }
        let end = time(&e["ended_at"]).ok_or_else(|| format!("{} has not ended yet", want.class))?;
        if (end - lift_at.timestamp()).abs() > want.end_within * b {
            return Err(format!(
                "{} ends {} s from the fault's end (tolerance {} buckets): {e}",
                want.class,
                end - lift_at.timestamp(),
                want.end_within
            ));
        }
        let evidence: Vec<&str> = e["evidence"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["text"].as_str()).collect())
            .unwrap_or_default();
        for phrase in want.evidence {
            if !evidence.iter().any(|t| t.contains(phrase)) {
                return Err(format!("{} evidence lacks {phrase:?}: {evidence:?}", want.class));
            }
        }
        if !want.targets.is_empty() {
            let mut got: Vec<(String, String)> = e["targets"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|t| {
                            (
                                t["name"].as_str().unwrap_or_default().to_owned(),
                                t["method"].as_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            got.sort();
            let mut wanted: Vec<(String, String)> = want
                .targets
                .iter()
                .map(|(h, m)| {
                    // An app is its own target (`app:NAME`); a site is its URL.
                    let name = if h.starts_with("app:") {
                        (*h).to_owned()
                    } else {
                        site_url(h)
                    };
                    (name, (*m).to_owned())
                })
                .collect();
            wanted.sort();
            if got != wanted {
                return Err(format!("censorship targets {got:?}, expected {wanted:?}"));
            }
        }
        if let Some(fp) = want.fingerprint {
            let has = e["targets"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|t| t["fingerprints"].as_array().is_some_and(|f| f.iter().any(|n| n == fp)))
            });
            if !has {
                return Err(format!("no target matched fingerprint {fp}: {e}"));
            }
        }
        if s.during == During::Unknown && is_outage(want.class) {
            let id = e["id"].as_str().unwrap_or_default();
            if seen_during != Some(id) || e["revisions"].as_u64().unwrap_or(0) == 0 {
                return Err(format!(
                    "the event seen during the cut ({seen_during:?}) was not revised into this one: {e}"
                ));
            }
        }
        if s.during == During::Live && is_outage(want.class) && seen_during != e["id"].as_str() {
            return Err(format!(
                "the shutdown called during the cut ({seen_during:?}) is not this one: {e}"
            ));
        }
        report.lines.push(format!(
            "{} / {} / {} confidence {:.2} ({}), {} of {} probes, {} → {}, {} revision(s); evidence: {}",
            e["class"].as_str().unwrap_or_default(),
            scope_text(&e["scope"]),
            e["confidence_level"].as_str().unwrap_or_default(),
            e["confidence"].as_f64().unwrap_or_default(),
            e["id"].as_str().unwrap_or_default(),
            e["affected_probes"],
            e["probes_in_scope"],
            e["started_at"].as_str().unwrap_or_default(),
            e["ended_at"].as_str().unwrap_or_default(),
            e["revisions"],
            evidence.join(" | ")
        ));
    }
    let unexpected: Vec<&Value> = events
        .iter()
        .zip(&matched)
        .filter(|(_, m)| !**m)
        .map(|(e, _)| e)
        .collect();
    if !unexpected.is_empty() {
        return Err(format!(
            "unexpected events: {}",
            unexpected.iter().map(|e| one(e)).collect::<Vec<_>>().join("; ")
        ));
    }
    Ok(report)
}

fn time(v: &Value) -> Option<i64> {
    DateTime::parse_from_rfc3339(v.as_str()?).ok().map(|t| t.timestamp())
}

fn scope_matches(scope: &Value, want: &ScopeMatch, probe_ids: &[String]) -> bool {
    let country_ok = want.level == "collector" || scope["country"] == HOME_COUNTRY;
    scope["level"] == want.level
        && country_ok
        && want.asn.is_none_or(|a| scope["asn"].as_u64() == Some(u64::from(a)))
        && want.region.is_none_or(|r| scope["region"] == r)
        && want.access.is_none_or(|a| scope["access"] == a)
        && want
            .probe
            .is_none_or(|n| probe_ids.get(n - 1).is_some_and(|id| scope["probe_id"] == id.as_str()))
}

fn scope_text(scope: &Value) -> String {
    ["level", "country", "asn", "region", "access", "probe_id"]
        .iter()
        .filter_map(|k| {
            let v = &scope[*k];
            (!v.is_null()).then(|| v.to_string().trim_matches('"').to_owned())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn one(e: &Value) -> String {
    format!(
        "{} [{}] {} → {}",
        e["class"].as_str().unwrap_or_default(),
        scope_text(&e["scope"]),
        e["started_at"].as_str().unwrap_or_default(),
        e["ended_at"].as_str().unwrap_or("…")
    )
}

fn summary(events: &[Value]) -> String {
    if events.is_empty() {
        "none".to_owned()
    } else {
        events.iter().map(one).collect::<Vec<_>>().join("; ")
    }
}
