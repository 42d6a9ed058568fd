//! Golden fixtures: schema-1 lines that must keep parsing, validating and round-tripping forever.
//! A fixture that has to change is a schema break (DESIGN.md: a new schema version, not an edit).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use vigil_measurement::{Kind, Limits, Measurement, MeasurementResult, Outcome, Scope, Uplink, UplinkAccess, validate};

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures directory exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().expect("a file name").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("readable fixture"))
        })
        .collect()
}

fn receiver_clock() -> DateTime<Utc> {
    "2026-11-23T10:05:00Z".parse().expect("a valid time")
}

fn fixture(name: &str) -> Measurement {
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("fixture {name} exists"));
    Measurement::from_json_slice(bytes.trim_ascii()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_fixture_parses_validates_and_round_trips() {
    let all = fixtures();
    assert!(all.len() >= 15, "fixtures went missing: {}", all.len());
    for (name, bytes) in all {
        let parsed = Measurement::from_json_slice(bytes.trim_ascii()).unwrap_or_else(|e| panic!("{name}: {e}"));
        validate(&parsed, receiver_clock(), &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let line = parsed.to_json_line();
        let reparsed = Measurement::from_json_slice(line.as_bytes()).unwrap_or_else(|e| panic!("{name} re-read: {e}"));
        assert_eq!(parsed, reparsed, "{name} changed through a round trip");
        assert_eq!(line, reparsed.to_json_line(), "{name} serialization is not stable");
    }
}

#[test]
fn every_kind_has_a_fixture() {
    let kinds: std::collections::BTreeSet<Kind> = fixtures()
        .iter()
        .map(|(name, bytes)| {
            Measurement::from_json_slice(bytes.trim_ascii())
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .kind()
        })
        .collect();
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), Kind::ALL.to_vec());
}

#[test]
fn dns_fixture_keeps_its_answer_and_fingerprint() {
    let m = fixture("dns_injected.json");
    assert_eq!(m.target.scope, Scope::International);
    assert_eq!(m.network.as_ref().and_then(|n| n.asn), Some(44244));
    let MeasurementResult::Dns(dns) = &m.result else {
        panic!("not dns: {:?}", m.result)
    };
    assert_eq!(dns.outcome, Outcome::DnsInjected);
    assert_eq!(dns.answers.len(), 1);
    assert_eq!(dns.answers[0].data, "10.10.34.34");
    assert_eq!(dns.answers[0].ttl, Some(60));
    assert_eq!(dns.fingerprint.as_deref(), Some("dns.ir.10_10_34_34"));
}

#[test]
fn bare_string_answers_read_as_data() {
    let MeasurementResult::Dns(dns) = fixture("dns_bare_answers.json").result else {
        panic!("not dns")
    };
    assert_eq!(dns.answers[0].data, "2001:db8::10");
    assert_eq!(dns.answers[0].rtype, "");
}

#[test]
fn offset_times_are_read_as_utc() {
    let m = fixture("http_blockpage.json");
    assert_eq!(m.started_at.to_rfc3339(), "2026-11-23T06:30:02.500+00:00");
}

#[test]
fn http_status_null_means_no_response() {
    let MeasurementResult::Http(http) = fixture("http_no_response.json").result else {
        panic!("not http")
    };
    assert_eq!(http.status, None);
    assert_eq!(http.failure_stage.as_deref(), Some("tls"));
}

#[test]
fn an_apps_endpoint_is_an_ordinary_line_whose_list_names_the_app() {
    let m = fixture("tcp_app_endpoint.json");
    assert_eq!(
        (m.target.name.as_str(), m.target.list.as_deref()),
        ("149.154.167.51:443", Some("app:telegram"))
    );
    assert_eq!(m.result.outcome(), Outcome::Timeout);
}

#[test]
fn a_quic_test_says_http3_failed_while_the_fetch_over_tcp_loaded() {
    let m = fixture("http_quic_blocked.json");
    let MeasurementResult::Http(h) = &m.result else {
        panic!("an http result")
    };
    assert_eq!((h.outcome, h.status), (Outcome::Ok, Some(200)));
    let quic = h.quic.as_ref().expect("the QUIC test");
    assert_eq!(
        (quic.url.as_str(), quic.port, quic.outcome, quic.handshake, quic.status),
        ("https://www.example.org/", 443, Outcome::Timeout, false, None)
    );
    assert!(quic.failed());
    let MeasurementResult::Http(plain) = fixture("http_sni_filtered.json").result else {
        panic!("an http result")
    };
    assert!(plain.quic.is_none(), "no alt-svc, no QUIC test");
}

#[test]
fn an_sni_test_says_the_name_was_filtered_and_an_http_result_without_one_has_none() {
    let m = fixture("http_sni_filtered.json");
    let MeasurementResult::Http(h) = &m.result else {
        panic!("an http result")
    };
    let sni = h.sni.as_ref().expect("the SNI pair");
    assert_eq!(
        (
            sni.server_name.as_str(),
            sni.outcome,
            sni.control_name.as_str(),
            sni.control_outcome
        ),
        ("www.example.org", Outcome::Reset, "example.com", Outcome::TlsError)
    );
    assert!(
        sni.name_filtered(),
        "control answered, target not: a filter on the name"
    );
    let MeasurementResult::Http(plain) = fixture("http_blockpage.json").result else {
        panic!("an http result")
    };
    assert!(plain.sni.is_none());
}

#[test]
fn trace_hops_keep_nulls_and_local_marks() {
    let MeasurementResult::Trace(trace) = fixture("trace_dies_at_border.json").result else {
        panic!("not trace")
    };
    assert_eq!(trace.hops.len(), 3);
    assert_eq!(trace.hops[0].local, Some(true));
    assert_eq!(trace.hops[2].ip, None);
    assert_eq!(trace.hops[2].rtt_ms, None);
    assert_eq!(trace.stopped_at_ttl, Some(3));
}

#[test]
fn vitals_fixture_keeps_power_and_last_gasp() {
    let MeasurementResult::Vitals(v) = fixture("vitals_on_battery_last_gasp.json").result else {
        panic!("not vitals")
    };
    assert_eq!(v.power.on_battery, Some(true));
    assert_eq!(v.power.battery_pct, Some(7.5));
    assert!(v.last_gasp);
    assert_eq!(v.spool_depth, 1204);
}

#[test]
fn unsynced_clock_from_1970_is_accepted() {
    let m = fixture("vitals_unsynced_clock.json");
    assert!(m.clock_unsynced());
    assert_eq!(m.clock.as_ref().map(|c| c.mono_ms), Some(65_000));
}

#[test]
fn unknown_fields_from_newer_probes_are_ignored() {
    let m = fixture("vitals_future_fields.json");
    let line = m.to_json_line();
    assert!(!line.contains("cpu_temp_c") && !line.contains("added_later") && !line.contains("probe_build"));
    assert_eq!(m.result.outcome(), Outcome::Ok);
}

#[test]
fn a_measurement_says_which_uplink_took_it_and_one_without_says_nothing() {
    let m = fixture("tcp_over_satellite_uplink.json");
    assert_eq!(
        m.uplink,
        Some(Uplink {
            name: "sat".to_owned(),
            access: UplinkAccess::Satellite,
        })
    );
    assert!(
        m.to_json_line()
            .contains(r#""uplink":{"name":"sat","access":"satellite"}"#)
    );
    // A probe with one uplink sends what it sent before the field existed.
    let single = fixture("tcp_injected_rst.json");
    assert_eq!(single.uplink, None);
    assert!(!single.to_json_line().contains("uplink"));
}
