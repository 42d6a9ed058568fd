//! Lines that must be rejected, each with a reason that names what is wrong.

use chrono::{DateTime, Utc};
use vigil_measurement::{Limits, Measurement, MeasurementError, validate};

const GOOD: &str = r#"{"schema":1,"id":"0192f3c4-7a1e-7cc0-9a7b-3f1d2e4c5b6a","kind":"tcp","started_at":"2026-11-23T10:00:00Z","duration_ms":3,"target":{"name":"example.org","scope":"international"},"result":{"outcome":"ok","ip":"192.0.2.1","port":443}}"#;

fn now() -> DateTime<Utc> {
    "2026-11-23T10:00:30Z".parse().expect("a time")
}

fn check(line: &str) -> Result<Measurement, MeasurementError> {
    let m = Measurement::from_json_slice(line.as_bytes())?;
    validate(&m, now(), &Limits::default())?;
    Ok(m)
}

fn rejected(line: &str) -> MeasurementError {
    match check(line) {
        Ok(m) => panic!("accepted: {m:?}"),
        Err(e) => e,
    }
}

#[test]
fn the_base_line_is_accepted() {
    check(GOOD).expect("the base line is valid");
}

#[test]
fn malformed_json_is_a_json_error() {
    let err = rejected(&GOOD[..40]);
    assert!(err.is_json(), "{err}");
    assert!(err.to_string().contains("malformed JSON"), "{err}");
}

#[test]
fn unknown_kind_names_the_kind() {
    let err = rejected(&GOOD.replace(r#""kind":"tcp""#, r#""kind":"smtp""#));
    assert!(err.to_string().contains("unknown variant `smtp`"), "{err}");
}

#[test]
fn other_schema_versions_are_refused_even_if_they_parse() {
    let err = rejected(&GOOD.replace(r#""schema":1"#, r#""schema":2"#));
    assert!(err.is_unsupported_schema(), "{err}");
    assert!(err.to_string().contains("unsupported schema version 2"), "{err}");
}

#[test]
fn other_schema_versions_with_another_shape_say_schema_not_shape() {
    let err = rejected(r#"{"schema":"2.0","payload":{}}"#);
    assert!(err.is_unsupported_schema(), "{err}");
}

#[test]
fn missing_result_field_is_named() {
    let err = rejected(&GOOD.replace(r#","port":443"#, ""));
    let text = err.to_string();
    assert!(
        text.contains("missing field `port`") && text.contains("result"),
        "{text}"
    );
}

#[test]
fn missing_http_status_is_an_error_not_null() {
    let line = GOOD
        .replace(r#""kind":"tcp""#, r#""kind":"http""#)
        .replace(r#""ip":"192.0.2.1","port":443"#, r#""url":"https://example.org/""#);
    let err = rejected(&line);
    assert!(err.to_string().contains("missing field `status`"), "{err}");
}

#[test]
fn uuid_of_another_version_is_refused() {
    let err = rejected(&GOOD.replace("0192f3c4-7a1e-7cc0", "0192f3c4-7a1e-4cc0"));
    assert!(matches!(err, MeasurementError::IdNotV7 { .. }), "{err}");
}

#[test]
fn malformed_uuid_is_a_shape_error() {
    let err = rejected(&GOOD.replace("0192f3c4-7a1e-7cc0", "not-a-uuid"));
    assert!(err.to_string().contains("UUID"), "{err}");
}

#[test]
fn far_future_and_pre_2020_times_are_refused_on_a_synced_clock() {
    let future = rejected(&GOOD.replace("2026-11-23T10:00:00Z", "2026-11-23T10:20:00Z"));
    assert!(future.is_time() && future.to_string().contains("ahead"), "{future}");
    let past = rejected(&GOOD.replace("2026-11-23T10:00:00Z", "2019-12-31T23:59:59Z"));
    assert!(past.is_time() && past.to_string().contains("before 2020"), "{past}");
}

#[test]
fn nine_minutes_ahead_is_within_allowance() {
    check(&GOOD.replace("2026-11-23T10:00:00Z", "2026-11-23T10:09:00Z")).expect("within 10 minutes");
}

#[test]
fn absurd_time_is_accepted_when_the_probe_says_its_clock_is_unsynced() {
    let line = GOOD.replace("2026-11-23T10:00:00Z", "1970-01-01T00:00:10Z").replace(
        r#""target""#,
        r#""clock":{"synced":false,"boot_id":"b1","mono_ms":10000},"target""#,
    );
    check(&line).expect("unsynced clocks are re-timed, not refused");
}

#[test]
fn outcome_outside_the_kind_set_is_refused() {
    let err = rejected(&GOOD.replace(r#""outcome":"ok""#, r#""outcome":"blockpage""#));
    assert!(matches!(err, MeasurementError::OutcomeNotAllowed { .. }), "{err}");
}

#[test]
fn unknown_outcome_is_refused() {
    let err = rejected(&GOOD.replace(r#""outcome":"ok""#, r#""outcome":"filtered""#));
    assert!(err.to_string().contains("unknown variant `filtered`"), "{err}");
}

#[test]
fn oversized_strings_are_refused_with_their_field() {
    let long = "a".repeat(5000);
    let err = rejected(&GOOD.replace(r#""name":"example.org""#, &format!(r#""name":"{long}""#)));
    assert!(
        matches!(
            err,
            MeasurementError::TooLong {
                field: "target.name",
                len: 5000,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn negative_or_huge_duration_is_refused() {
    let err = rejected(&GOOD.replace(r#""duration_ms":3"#, r#""duration_ms":-1"#));
    assert!(err.to_string().contains("duration_ms"), "{err}");
}

#[test]
fn lowercase_country_code_is_refused() {
    let err = rejected(&GOOD.replace(r#""target""#, r#""network":{"cc":"ir"},"target""#));
    assert!(err.to_string().contains("network.cc"), "{err}");
}

#[test]
fn icmp_received_above_sent_is_refused() {
    let line = GOOD
        .replace(r#""kind":"tcp""#, r#""kind":"icmp""#)
        .replace(r#""port":443"#, r#""sent":2,"received":3"#);
    let err = rejected(&line);
    assert!(err.to_string().contains("result.received"), "{err}");
}

#[test]
fn scrubbing_removes_addresses_from_error_detail_and_title() {
    let line = GOOD.replace(
        r#""port":443}"#,
        r#""port":443,"error_detail":"bind 203.0.113.7:5353 failed"}"#,
    );
    let mut m = check(&line).expect("valid");
    m.scrub_free_text();
    assert_eq!(m.result.error_detail(), Some("bind [scrubbed]:5353 failed"));
}

#[test]
fn an_uplink_name_is_a_short_label() {
    let with = |uplink: &str| GOOD.replace(r#""result""#, &format!(r#""uplink":{uplink},"result""#));
    check(&with(r#"{"name":"wan-2_b","access":"mobile"}"#)).expect("a label is accepted");
    for (uplink, why) in [
        (r#"{"name":"","access":"fixed"}"#, "must be 1 to 32 bytes"),
        (
            r#"{"name":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","access":"fixed"}"#,
            "must be 1 to 32 bytes",
        ),
        (
            r#"{"name":"near 10.0.0.1","access":"fixed"}"#,
            "may hold only ASCII letters",
        ),
    ] {
        let err = rejected(&with(uplink));
        assert!(
            err.to_string().contains("uplink.name") && err.to_string().contains(why),
            "{uplink}: {err}"
        );
    }
    let err = rejected(&with(r#"{"name":"sat","access":"balloon"}"#));
    assert!(err.to_string().contains("unknown variant `balloon`"), "{err}");
}

#[test]
fn an_sni_test_with_an_overlong_name_or_a_missing_answer_is_named() {
    let http = |sni: &str| {
        format!(
            r#"{{"schema":1,"id":"0192f3c4-7a1e-7cc0-9a7b-3f1d2e4c5b6a","kind":"http","started_at":"2026-11-23T10:00:00Z","duration_ms":3,"target":{{"name":"https://a.example/","scope":"international"}},"result":{{"outcome":"reset","url":"https://a.example/","status":null,"sni":{sni}}}}}"#
        )
    };
    let good = r#"{"server_name":"a.example","outcome":"reset","answered":false,"control_name":"example.com","control_outcome":"ok","control_answered":true}"#;
    check(&http(good)).expect("a valid SNI test");
    let long = good.replace("a.example", &"a".repeat(254));
    let err = rejected(&http(&long));
    assert!(err.to_string().contains("result.sni.server_name"), "{err}");
    let err = rejected(&http(&good.replace(r#","answered":false"#, "")));
    assert!(err.to_string().contains("answered"), "{err}");
}

#[test]
fn a_quic_test_with_port_zero_a_bad_status_or_no_handshake_flag_is_named() {
    let http = |quic: &str| {
        format!(
            r#"{{"schema":1,"id":"0192f3c4-7a1e-7cc0-9a7b-3f1d2e4c5b6a","kind":"http","started_at":"2026-11-23T10:00:00Z","duration_ms":3,"target":{{"name":"https://a.example/","scope":"international"}},"result":{{"outcome":"ok","url":"https://a.example/","status":200,"quic":{quic}}}}}"#
        )
    };
    let good = r#"{"url":"https://a.example/","port":443,"outcome":"ok","handshake":true,"status":200}"#;
    check(&http(good)).expect("a valid QUIC test");
    let err = rejected(&http(&good.replace(r#""port":443"#, r#""port":0"#)));
    assert!(err.to_string().contains("result.quic.port"), "{err}");
    let err = rejected(&http(&good.replace(r#""status":200"#, r#""status":42"#)));
    assert!(err.to_string().contains("result.quic.status"), "{err}");
    let err = rejected(&http(&good.replace(r#","handshake":true"#, "")));
    assert!(err.to_string().contains("handshake"), "{err}");
}
