//! The HTTP and TCP checks against loopback servers: pages, redirect chains, blockpages, resets, stalls, refusals
//! and TLS failures. (A page carrying a real published fingerprint is in `inputs_real_files.rs`, with the other
//! tests that need the shared data.)

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use support::web::{Route, closed_port, plaintext_talker, resetting, serve, stalling};
use url::Url;
use vigil_measurement::result::HttpResult;
use vigil_measurement::{Limits, Measurement, MeasurementResult, Outcome, Scope, Target, validate};
use vigil_probe::Fingerprints;
use vigil_probe::http::{HttpChecker, HttpSettings};
use vigil_probe::tcp;

fn target(name: &str) -> Target {
    Target {
        name: name.to_owned(),
        scope: Scope::International,
        list: Some("test".to_owned()),
    }
}

fn checker(fingerprints: Fingerprints) -> HttpChecker {
    HttpChecker::new(
        HttpSettings {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_millis(1500),
            sni_control: None,
            quic: false,
        },
        Arc::new(fingerprints),
        &[],
    )
    .expect("checker")
}

fn http(m: &Measurement) -> HttpResult {
    validate(m, chrono::Utc::now(), &Limits::default()).expect("valid schema 1");
    match &m.result {
        MeasurementResult::Http(h) => h.clone(),
        other => panic!("not http: {other:?}"),
    }
}

async fn fetch(c: &HttpChecker, url: &str) -> HttpResult {
    let url = Url::parse(url).expect("url");
    http(&c.check(&url, target(url.as_str())).await)
}

fn page(body: &str) -> Route {
    Route::Page(
        200,
        vec![("Content-Type", "text/html".to_owned())],
        body.as_bytes().to_vec(),
    )
}

#[tokio::test]
async fn a_normal_page_is_ok_with_status_title_hash_and_headers() {
    let body = "<html><head><title>Example Domain</title></head><body>hello</body></html>";
    let addr = serve(HashMap::from([("/".to_owned(), page(body))])).await;
    let r = fetch(&checker(Fingerprints::builtin()), &format!("http://{addr}/")).await;
    assert_eq!((r.outcome, r.status), (Outcome::Ok, Some(200)));
    assert_eq!(r.title.as_deref(), Some("Example Domain"));
    assert_eq!(r.body_length, Some(body.len() as u64));
    assert_eq!(r.body_sha256.as_deref().map(str::len), Some(64));
    assert_eq!(r.headers.get("server").map(String::as_str), Some("test-nginx"));
    assert!(r.throughput_bps.is_some_and(|bps| bps > 0.0));
    assert_eq!(r.server_ip, Some(addr.ip()));
    assert!(r.failure_stage.is_none() && r.error_detail.is_none());
}

#[tokio::test]
async fn redirects_are_followed_and_recorded() {
    let addr = serve(HashMap::from([
        (
            "/a".to_owned(),
            Route::Page(301, vec![("Location", "/b".to_owned())], vec![]),
        ),
        (
            "/b".to_owned(),
            Route::Page(302, vec![("Location", "/final".to_owned())], vec![]),
        ),
        ("/final".to_owned(), page("<title>end</title>")),
    ]))
    .await;
    let r = fetch(&checker(Fingerprints::builtin()), &format!("http://{addr}/a")).await;
    assert_eq!(
        (r.outcome, r.status, r.title.as_deref()),
        (Outcome::Ok, Some(200), Some("end"))
    );
    assert_eq!(
        r.redirects,
        vec![format!("http://{addr}/b"), format!("http://{addr}/final")]
    );
    assert_eq!(r.url, format!("http://{addr}/a"));
}

#[tokio::test]
async fn a_redirect_to_a_fingerprinted_location_is_a_blockpage_and_not_followed() {
    let addr = serve(HashMap::from([(
        "/site".to_owned(),
        Route::Page(302, vec![("Location", "/blocked-notice?site=x".to_owned())], vec![]),
    )]))
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("fingerprints_http.csv"),
        "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes\n\
         test.redirect,isp,,header.location,prefix,/blocked-notice,5,XX,vigil-test,,\n",
    )
    .expect("write csv");
    let (fingerprints, report) = Fingerprints::load_dir(dir.path()).expect("loads");
    assert_eq!(report.loaded, 1);
    let r = fetch(&checker(fingerprints), &format!("http://{addr}/site")).await;
    assert_eq!((r.outcome, r.status), (Outcome::Blockpage, Some(302)));
    assert_eq!(r.fingerprint.as_deref(), Some("test.redirect"));
    assert!(r.redirects.is_empty(), "a blockpage redirect is not followed");
}

#[tokio::test]
async fn the_builtin_iranian_iframe_is_recognised() {
    let body = r#"<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1256"><title>M1-6</title></head><body><iframe src="http://10.10.34.34?type=Invalid Site&policy=MainPolicy" style="width: 100%; height: 100%" scrolling="no" marginwidth="0" marginheight="0" frameborder="0" vspace="0" hspace="0"></iframe></body></html>"#;
    let addr = serve(HashMap::from([("/".to_owned(), page(body))])).await;
    let r = fetch(&checker(Fingerprints::builtin()), &format!("http://{addr}/")).await;
    assert_eq!(
        (r.outcome, r.fingerprint.as_deref()),
        (Outcome::Blockpage, Some("vigil.ir_iframe"))
    );
}

#[tokio::test]
async fn a_reset_after_the_request_is_a_reset() {
    let addr = resetting().await;
    let r = fetch(&checker(Fingerprints::builtin()), &format!("http://{addr}/")).await;
    assert_eq!((r.outcome, r.status), (Outcome::Reset, None), "{r:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    let addr = stalling().await;
    let r = fetch(&checker(Fingerprints::builtin()), &format!("http://{addr}/")).await;
    assert_eq!((r.outcome, r.status), (Outcome::Timeout, None), "{r:?}");
}

#[tokio::test]
async fn a_closed_port_is_refused_at_connect() {
    let addr = closed_port();
    let r = fetch(&checker(Fingerprints::builtin()), &format!("http://{addr}/")).await;
    assert_eq!(
        (r.outcome, r.failure_stage.as_deref()),
        (Outcome::Refused, Some("connect")),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_tls_handshake_that_fails_is_a_tls_error_with_its_stage() {
    let addr = plaintext_talker().await;
    let r = fetch(
        &checker(Fingerprints::builtin()),
        &format!("https://localhost:{}/", addr.port()),
    )
    .await;
    assert_eq!(
        (r.outcome, r.failure_stage.as_deref()),
        (Outcome::TlsError, Some("tls")),
        "{r:?}"
    );
    assert!(r.error_detail.is_some_and(|d| !d.contains("127.0.0.1")));
}

#[tokio::test]
async fn tcp_connect_is_ok_to_an_open_port_and_refused_at_a_closed_one() {
    let open = serve(HashMap::new()).await;
    let m = tcp::check(open.ip(), open.port(), Duration::from_secs(2), None, target("open")).await;
    validate(&m, chrono::Utc::now(), &Limits::default()).expect("valid");
    let MeasurementResult::Tcp(ok) = &m.result else {
        panic!("not tcp")
    };
    assert_eq!((ok.outcome, ok.method.as_deref()), (Outcome::Ok, Some("connect")));
    assert!(ok.rtt_ms.is_some());
    let closed = closed_port();
    let m = tcp::check(
        closed.ip(),
        closed.port(),
        Duration::from_secs(2),
        None,
        target("closed"),
    )
    .await;
    assert_eq!(m.result.outcome(), Outcome::Refused);
}

/// An HTTPS server on loopback (a self-signed `localhost` certificate) answering every request with `body`.
async fn serve_tls(cert: &support::dns_tls::TestCert, body: Vec<u8>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let acceptor = cert.acceptor(&[b"http/1.1"]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let body = Arc::new(body);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, body) = (acceptor.clone(), Arc::clone(&body));
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(&body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

fn tls_checker(cert: &support::dns_tls::TestCert) -> HttpChecker {
    sni_checker(std::slice::from_ref(&cert.der), None)
}

/// A checker trusting `roots`, running the SNI test with `control` after a failed handshake.
fn sni_checker(roots: &[Vec<u8>], control: Option<&str>) -> HttpChecker {
    HttpChecker::new(
        HttpSettings {
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            sni_control: control.map(str::to_owned),
            quic: false,
        },
        Arc::new(Fingerprints::builtin()),
        roots,
    )
    .expect("checker")
}

#[tokio::test]
async fn a_filter_on_the_server_name_is_told_from_a_server_that_is_down_or_broken() {
    use support::web::{SniVerdict, sni_filter};
    let cert = support::dns_tls::TestCert::localhost();
    let server = serve_tls(&cert, b"<html><title>Site</title></html>".to_vec()).await;
    let checker = sni_checker(std::slice::from_ref(&cert.der), Some("example.com"));
    let via = |addr: std::net::SocketAddr| format!("https://localhost:{}/", addr.port());

    // The name is filtered, by a reset and by dropping: the control's handshake is answered (a certificate for
    // another name), the target's is not.
    for (verdict, outcome) in [
        (SniVerdict::Reset, Outcome::Reset),
        (SniVerdict::Drop, Outcome::Timeout),
    ] {
        let filter = sni_filter(server, "localhost", verdict).await;
        let meter = vigil_probe::CheckMeter::new();
        let url = Url::parse(&via(filter)).expect("url");
        let r = http(&checker.check_metered(&url, target(url.as_str()), &meter).await);
        assert_eq!((r.outcome, r.failure_stage.as_deref()), (outcome, Some("tls")), "{r:?}");
        let sni = r
            .sni
            .as_ref()
            .unwrap_or_else(|| panic!("no SNI test after a failed handshake: {r:?}"));
        assert_eq!(
            (sni.server_name.as_str(), sni.outcome, sni.answered),
            ("localhost", outcome, false),
            "{verdict:?}: {sni:?}"
        );
        assert_eq!(
            (sni.control_name.as_str(), sni.control_outcome, sni.control_answered),
            ("example.com", Outcome::TlsError, true),
            "{verdict:?}: {sni:?}"
        );
        assert!(sni.name_filtered());
        assert_eq!(r.server_ip, Some(filter.ip()));
        // The server's certificate came back to the control's handshake, and it was counted.
        assert!(meter.bytes() > cert.der.len() as u64, "{} bytes counted", meter.bytes());
    }

    // Without the filter the page loads and there is no test.
    let r = fetch(&checker, &via(server)).await;
    assert_eq!((r.outcome, r.sni), (Outcome::Ok, None));

    // A server whose certificate fails (here, one nobody vouches for; an expired one alike): both handshakes are
    // answered, so no filter on the name.
    let untrusting = sni_checker(&[], Some("example.com"));
    let r = fetch(&untrusting, &via(server)).await;
    let sni = r.sni.expect("a test after the failed handshake");
    assert_eq!(
        (r.outcome, sni.answered, sni.control_answered),
        (Outcome::TlsError, true, true)
    );
    assert!(!sni.name_filtered());

    // Something that does not speak TLS answers neither; a closed port fails before TLS: no test.
    let r = fetch(&checker, &via(plaintext_talker().await)).await;
    let sni = r.sni.expect("a test after the failed handshake");
    assert!(
        !sni.answered && !sni.control_answered && !sni.name_filtered(),
        "{sni:?}"
    );
    let r = fetch(&checker, &via(closed_port())).await;
    assert_eq!((r.outcome, r.sni), (Outcome::Refused, None));

    // With the test turned off, a filtered name is a reset and nothing more.
    let filter = sni_filter(server, "localhost", SniVerdict::Reset).await;
    let r = fetch(&tls_checker(&cert), &via(filter)).await;
    assert_eq!((r.outcome, r.sni), (Outcome::Reset, None));
}

#[tokio::test]
async fn an_https_page_is_fetched_over_tls_and_every_byte_is_counted() {
    let cert = support::dns_tls::TestCert::localhost();
    let body = b"<html><head><title>Secure</title></head><body>hello</body></html>".to_vec();
    let addr = serve_tls(&cert, body.clone()).await;
    let meter = vigil_probe::CheckMeter::new();
    let url = Url::parse(&format!("https://localhost:{}/", addr.port())).expect("url");
    let m = tls_checker(&cert)
        .check_metered(&url, target(url.as_str()), &meter)
        .await;
    let r = http(&m);
    assert_eq!((r.outcome, r.status), (Outcome::Ok, Some(200)), "{r:?}");
    assert_eq!(r.title.as_deref(), Some("Secure"));
    assert_eq!(r.tls_version.as_deref(), Some("TLSv1.3"));
    // The handshake (certificates included) and the records count, not only the body.
    assert!(
        meter.bytes() > body.len() as u64 + cert.der.len() as u64,
        "{} bytes counted",
        meter.bytes()
    );
}

#[tokio::test]
async fn a_huge_page_stops_the_fetch_at_its_byte_cap() {
    use vigil_probe::http::{BODY_CAP, FETCH_CAP, READ_SLACK};
    let cert = support::dns_tls::TestCert::localhost();
    let addr = serve_tls(&cert, vec![b'x'; 4 << 20]).await;
    let meter = vigil_probe::CheckMeter::new();
    let url = Url::parse(&format!("https://localhost:{}/big", addr.port())).expect("url");
    let r = http(
        &tls_checker(&cert)
            .check_metered(&url, target(url.as_str()), &meter)
            .await,
    );
    assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
    assert!(r.body_length.is_some_and(|n| n <= BODY_CAP as u64), "{r:?}");
    assert!(
        meter.bytes() <= FETCH_CAP + READ_SLACK,
        "{} bytes on the wire for one fetch",
        meter.bytes()
    );
}

#[tokio::test]
async fn a_redirect_chain_with_heavy_bodies_stays_within_one_fetch_cap() {
    use vigil_probe::http::{FETCH_CAP, READ_SLACK};
    let heavy = vec![b'r'; 300 << 10];
    let mut routes = HashMap::new();
    for i in 0..8 {
        routes.insert(
            format!("/hop{i}"),
            Route::Page(302, vec![("Location", format!("/hop{}", i + 1))], heavy.clone()),
        );
    }
    routes.insert("/hop8".to_owned(), page("<title>end</title>"));
    let addr = serve(routes).await;
    let meter = vigil_probe::CheckMeter::new();
    let url = Url::parse(&format!("http://{addr}/hop0")).expect("url");
    let _ = http(
        &checker(Fingerprints::builtin())
            .check_metered(&url, target(url.as_str()), &meter)
            .await,
    );
    assert!(
        meter.bytes() <= FETCH_CAP + READ_SLACK,
        "{} bytes on the wire over the chain",
        meter.bytes()
    );
}
