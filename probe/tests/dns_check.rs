//! The DNS check against in-process responders on loopback: normal answers, NXDOMAIN, SERVFAIL, timeouts,
//! and the three kinds of injection (fingerprint, bogon, control mismatch) — and no false call on load
//! balancing.

mod support;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use support::dns_responder::{Answer, Responder};
use vigil_measurement::{Limits, Measurement, MeasurementResult, Outcome, Scope, Target, validate};
use vigil_probe::Fingerprints;
use vigil_probe::dns::{DnsResolvers, DnsSettings, ResolverSpec};

fn ips(list: &[&str]) -> Answer {
    Answer::Addresses(list.iter().map(|s| s.parse::<IpAddr>().expect("ip")).collect())
}

/// An ISP resolver that censors, and two controls that answer honestly (one over TCP).
async fn setup(flag_bogons: bool) -> DnsResolvers {
    let isp = Responder::start(HashMap::from([
        ("normal.test", ips(&["192.0.2.10", "2001:db8::10"])),
        ("blocked.test", ips(&["10.10.34.34"])),
        ("bogon.test", ips(&["127.0.0.1"])),
        ("redirected.test", ips(&["198.51.100.66"])),
        ("cdn.test", ips(&["203.0.113.5"])),
        ("broken.test", Answer::ServFail),
        ("slow.test", Answer::Silent),
    ]))
    .await;
    let control = |cdn: &'static str| {
        HashMap::from([
            ("normal.test", ips(&["192.0.2.10", "2001:db8::10"])),
            ("blocked.test", ips(&["192.0.2.20"])),
            ("bogon.test", ips(&["192.0.2.30"])),
            ("redirected.test", ips(&["192.0.2.40"])),
            ("cdn.test", ips(&[cdn])),
            ("broken.test", ips(&["192.0.2.50"])),
            ("slow.test", ips(&["192.0.2.60"])),
        ])
    };
    let control_a = Responder::start(control("192.0.2.77")).await;
    let control_b = Responder::start(control("198.18.0.77")).await;
    let specs = vec![
        ResolverSpec {
            address: format!("udp://{}", isp.addr),
            control: Some(false),
        },
        ResolverSpec {
            address: format!("udp://{}", control_a.addr),
            control: Some(true),
        },
        ResolverSpec {
            address: format!("tcp://{}", control_b.addr),
            control: Some(true),
        },
    ];
    let settings = DnsSettings {
        timeout: Duration::from_millis(700),
        flag_bogons,
        extra_roots: Vec::new(),
        egress: None,
    };
    let (resolvers, problems) = DnsResolvers::new(&specs, settings, Arc::new(Fingerprints::builtin()));
    assert!(problems.is_empty(), "{problems:?}");
    resolvers
}

fn target(name: &str) -> Target {
    Target {
        name: name.to_owned(),
        scope: Scope::International,
        list: Some("test".to_owned()),
    }
}

/// The ISP resolver's A-record measurement for `name`.
async fn isp_a(
    resolvers: &DnsResolvers,
    name: &str,
) -> (Outcome, vigil_measurement::result::DnsResult, Vec<Measurement>) {
    let all = resolvers.check(name, &target(name)).await;
    assert_eq!(all.len(), 6, "3 resolvers × A and AAAA");
    let now = chrono::Utc::now();
    for m in &all {
        validate(m, now, &Limits::default()).expect("every measurement is valid schema 1");
    }
    let MeasurementResult::Dns(first) = all[0].result.clone() else {
        panic!("not dns")
    };
    assert_eq!(first.qtype, "A");
    (first.outcome, first, all)
}

#[tokio::test]
async fn a_normal_name_is_ok_with_answers_ttls_and_rcode() {
    let resolvers = setup(true).await;
    let (outcome, result, all) = isp_a(&resolvers, "normal.test").await;
    assert_eq!(outcome, Outcome::Ok);
    assert_eq!(result.rcode.as_deref(), Some("NOERROR"));
    assert_eq!(result.answers.len(), 1);
    assert_eq!(
        (result.answers[0].rtype.as_str(), result.answers[0].data.as_str()),
        ("A", "192.0.2.10")
    );
    assert_eq!(result.answers[0].ttl, Some(60));
    let MeasurementResult::Dns(aaaa) = &all[3].result else {
        panic!("not dns")
    };
    assert_eq!(
        (aaaa.qtype.as_str(), aaaa.answers[0].data.as_str()),
        ("AAAA", "2001:db8::10")
    );
    assert!(all.iter().all(|m| m.result.outcome() == Outcome::Ok));
}

#[tokio::test]
async fn nxdomain_servfail_and_silence_have_their_outcomes() {
    let resolvers = setup(true).await;
    let (outcome, result, _) = isp_a(&resolvers, "missing.test").await;
    assert_eq!(
        (outcome, result.rcode.as_deref()),
        (Outcome::Nxdomain, Some("NXDOMAIN"))
    );
    let (outcome, result, _) = isp_a(&resolvers, "broken.test").await;
    assert_eq!(
        (outcome, result.rcode.as_deref()),
        (Outcome::Servfail, Some("SERVFAIL"))
    );
    let (outcome, _, all) = isp_a(&resolvers, "slow.test").await;
    assert_eq!(outcome, Outcome::Timeout);
    assert!(all[0].duration_ms < 2000.0, "{}", all[0].duration_ms);
}

#[tokio::test]
async fn an_answer_matching_a_fingerprint_is_injected() {
    let resolvers = setup(true).await;
    let (outcome, result, all) = isp_a(&resolvers, "blocked.test").await;
    assert_eq!(outcome, Outcome::DnsInjected);
    assert_eq!(result.injection_reason.as_deref(), Some("fingerprint"));
    assert_eq!(result.fingerprint.as_deref(), Some("vigil.ir_dns_34"));
    assert_eq!(
        all[1].result.outcome(),
        Outcome::Ok,
        "the controls are not judged injected"
    );
}

#[tokio::test]
async fn a_bogon_for_a_public_name_is_injected_unless_bogons_are_allowed() {
    let resolvers = setup(true).await;
    let (outcome, result, _) = isp_a(&resolvers, "bogon.test").await;
    assert_eq!(
        (outcome, result.injection_reason.as_deref()),
        (Outcome::DnsInjected, Some("bogon"))
    );
    // In a lab whose whole internet is private space, bogons prove nothing, but the controls still catch it.
    let resolvers = setup(false).await;
    let (_, result, _) = isp_a(&resolvers, "bogon.test").await;
    assert_eq!(result.injection_reason.as_deref(), Some("control_mismatch"));
}

#[tokio::test]
async fn an_answer_no_agreeing_control_shares_a_prefix_with_is_injected() {
    let resolvers = setup(true).await;
    let (outcome, result, _) = isp_a(&resolvers, "redirected.test").await;
    assert_eq!(
        (outcome, result.injection_reason.as_deref()),
        (Outcome::DnsInjected, Some("control_mismatch"))
    );
}

#[tokio::test]
async fn controls_that_disagree_with_each_other_make_no_call() {
    let resolvers = setup(true).await;
    let (outcome, result, _) = isp_a(&resolvers, "cdn.test").await;
    assert_eq!(outcome, Outcome::Ok, "{result:?}");
}

#[tokio::test]
async fn dot_and_doh_resolvers_answer_and_serve_as_controls() {
    use support::dns_tls::{TestCert, start_doh, start_dot};
    let cert = TestCert::localhost();
    let honest = || {
        HashMap::from([
            ("normal.test", ips(&["192.0.2.10"])),
            ("redirected.test", ips(&["192.0.2.40"])),
        ])
    };
    let dot = start_dot(honest(), &cert).await;
    let doh = start_doh(honest(), &cert).await;
    let isp = Responder::start(HashMap::from([
        ("normal.test", ips(&["192.0.2.10"])),
        ("redirected.test", ips(&["198.51.100.66"])),
    ]))
    .await;
    // No `control` given: the encrypted resolvers are the controls by default.
    let specs = vec![
        ResolverSpec {
            address: format!("udp://{}", isp.addr),
            control: None,
        },
        ResolverSpec {
            address: format!("tls://localhost:{}", dot.port()),
            control: None,
        },
        ResolverSpec {
            address: format!("https://localhost:{}/dns-query", doh.port()),
            control: None,
        },
    ];
    let settings = DnsSettings {
        timeout: Duration::from_secs(3),
        flag_bogons: true,
        extra_roots: vec![cert.der.clone()],
        egress: None,
    };
    let (resolvers, problems) = DnsResolvers::new(&specs, settings, Arc::new(Fingerprints::builtin()));
    assert!(problems.is_empty(), "{problems:?}");
    let all = resolvers.check("normal.test", &target("normal.test")).await;
    let a: Vec<(String, Outcome, Vec<String>)> = all[..3]
        .iter()
        .map(|m| match &m.result {
            MeasurementResult::Dns(d) => (
                d.resolver.clone(),
                d.outcome,
                d.answers.iter().map(|a| a.data.clone()).collect(),
            ),
            other => panic!("not dns: {other:?}"),
        })
        .collect();
    for (resolver, outcome, answers) in &a {
        assert_eq!(
            (*outcome, answers.as_slice()),
            (Outcome::Ok, ["192.0.2.10".to_owned()].as_slice()),
            "{resolver}"
        );
    }
    let (outcome, result, _) = isp_a(&resolvers, "redirected.test").await;
    assert_eq!(
        (outcome, result.injection_reason.as_deref()),
        (Outcome::DnsInjected, Some("control_mismatch"))
    );
}

#[tokio::test]
async fn a_dot_server_with_an_untrusted_certificate_is_a_tls_error() {
    use support::dns_tls::{TestCert, start_dot};
    let cert = TestCert::localhost();
    let dot = start_dot(HashMap::from([("normal.test", ips(&["192.0.2.10"]))]), &cert).await;
    let specs = vec![ResolverSpec {
        address: format!("tls://localhost:{}", dot.port()),
        control: None,
    }];
    let settings = DnsSettings {
        timeout: Duration::from_secs(3),
        flag_bogons: true,
        extra_roots: Vec::new(),
        egress: None,
    };
    let (resolvers, _) = DnsResolvers::new(&specs, settings, Arc::new(Fingerprints::builtin()));
    let all = resolvers.check("normal.test", &target("normal.test")).await;
    let MeasurementResult::Dns(d) = &all[0].result else {
        panic!("not dns")
    };
    assert_eq!(d.outcome, Outcome::TlsError, "{d:?}");
}
