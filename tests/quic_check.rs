//! The probe's QUIC test against real servers on loopback: an HTTPS site over TCP that announces HTTP/3
//! (`alt-svc`), and the lab's HTTP/3 server (`vigil_lab::h3`, quinn and h3) on a UDP port — a site that loads over
//! both, one whose UDP goes unanswered (a censor dropping QUIC), one whose QUIC certificate is for another name, a
//! page larger than the test reads, a site that stops answering over TCP after announcing HTTP/3, and an app's
//! `h3://` endpoint, asked over QUIC though it announced nothing (its TCP answering, then refused).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use url::Url;
use vigil_lab::h3::{H3Server, H3Site};
use vigil_measurement::result::{HttpResult, QuicTest};
use vigil_measurement::{Limits, MeasurementResult, Outcome, Scope, Target, validate};
use vigil_probe::http::{FETCH_CAP, HttpChecker, HttpSettings, READ_SLACK};
use vigil_probe::{CheckMeter, Fingerprints};

/// A CA and, signed by it, a certificate and key for each name asked, as PEM files in a directory.
struct Certificates {
    dir: tempfile::TempDir,
    ca_der: Vec<u8>,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Certificates {
    fn new() -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().expect("CA key");
        let ca = params.self_signed(&key).expect("CA certificate");
        Certificates {
            dir: tempfile::tempdir().expect("temp dir"),
            ca_der: ca.der().to_vec(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// The (certificate, key) PEM files of a certificate for `name`.
    fn pair(&self, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let params = rcgen::CertificateParams::new(vec![name.to_owned()]).expect("params");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        let paths = (
            self.dir.path().join(format!("{name}.crt")),
            self.dir.path().join(format!("{name}.key")),
        );
        std::fs::write(&paths.0, cert.pem()).expect("write certificate");
        std::fs::write(&paths.1, key.serialize_pem()).expect("write key");
        paths
    }
}

/// An HTTPS/1.1 server on 127.0.0.1 answering every request with `page`, and with `alt_svc` when given; it stops
/// accepting (connections refused) once `stop` is set and a last connection wakes it.
fn https_site(
    pair: &(std::path::PathBuf, std::path::PathBuf),
    page: &'static [u8],
    alt_svc: Option<String>,
) -> (SocketAddr, Arc<AtomicBool>) {
    use rustls::pki_types::pem::PemObject;
    let chain: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(&pair.0)
        .expect("chain")
        .map(|c| c.expect("certificate"))
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&pair.1).expect("key");
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server config"),
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stopped.load(Ordering::SeqCst) {
                return;
            }
            let Ok(stream) = stream else { continue };
            let (config, alt_svc) = (Arc::clone(&config), alt_svc.clone());
            std::thread::spawn(move || {
                let Ok(connection) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    match tls.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let alt_svc = alt_svc.map(|v| format!("Alt-Svc: {v}\r\n")).unwrap_or_default();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n{alt_svc}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    page.len()
                );
                let _ = tls.write_all(reply.as_bytes());
                let _ = tls.write_all(page);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (addr, stop)
}

fn checker(ca_der: &[u8]) -> HttpChecker {
    HttpChecker::new(
        HttpSettings {
            connect_timeout: Duration::from_millis(1500),
            timeout: Duration::from_secs(3),
            sni_control: None,
            quic: true,
        },
        Arc::new(Fingerprints::default()),
        &[ca_der.to_vec()],
    )
    .expect("checker")
}

/// Fetches `https://localhost:PORT/`, with the bytes it counted.
async fn fetch(checker: &HttpChecker, site: SocketAddr) -> (HttpResult, u64) {
    let url = Url::parse(&format!("https://localhost:{}/", site.port())).expect("url");
    let target = Target {
        name: url.to_string(),
        scope: Scope::International,
        list: Some("test".to_owned()),
    };
    let meter = CheckMeter::new();
    let m = checker.check_metered(&url, target, &meter).await;
    validate(&m, chrono::Utc::now(), &Limits::default()).expect("valid schema 1");
    match m.result {
        MeasurementResult::Http(h) => (h, meter.bytes()),
        other => panic!("not http: {other:?}"),
    }
}

fn quic(h: &HttpResult) -> &QuicTest {
    h.quic.as_ref().unwrap_or_else(|| panic!("a QUIC test: {h:?}"))
}

const PAGE: &[u8] = b"<!doctype html><html><head><title>Over QUIC</title></head><body>HTTP/3 works.</body></html>";

fn h3_site(pair: &(std::path::PathBuf, std::path::PathBuf), page: &[u8]) -> H3Server {
    let site = H3Site {
        cert: pair.0.clone(),
        key: pair.1.clone(),
        page: bytes::Bytes::copy_from_slice(page),
    };
    H3Server::start("127.0.0.1:0".parse().expect("addr"), site).expect("HTTP/3 server")
}

fn announce(port: u16) -> Option<String> {
    Some(format!(r#"h3=":{port}"; ma=3600, h3-29=":{port}""#))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_that_announces_http3_is_asked_over_quic_and_its_bytes_are_counted() {
    let certs = Certificates::new();
    let pair = certs.pair("localhost");
    let h3 = h3_site(&pair, PAGE);
    let udp = h3.local_addr().expect("addr").port();
    let (announcing, _) = https_site(&pair, PAGE, announce(udp));
    let (silent, _) = https_site(&pair, PAGE, None);
    let checker = checker(&certs.ca_der);

    let (plain, plain_bytes) = fetch(&checker, silent).await;
    assert_eq!(plain.outcome, Outcome::Ok);
    assert!(plain.quic.is_none(), "no alt-svc, no QUIC test: {plain:?}");

    let (h, bytes) = fetch(&checker, announcing).await;
    assert_eq!(h.outcome, Outcome::Ok, "{h:?}");
    let q = quic(&h);
    assert_eq!(
        (q.outcome, q.handshake, q.status, q.body_length, q.port),
        (Outcome::Ok, true, Some(200), Some(PAGE.len() as u64), udp),
        "{q:?}"
    );
    // The QUIC exchange crossed the wire and was counted: its handshake (a padded Initial of at least 1,200
    // bytes each way) and the page, on top of what the same fetch over TCP alone counts.
    assert!(
        bytes >= plain_bytes + 2 * 1200 + PAGE.len() as u64,
        "QUIC's datagrams counted: {bytes} vs {plain_bytes} over TCP alone"
    );
    assert!(
        bytes <= FETCH_CAP + READ_SLACK + vigil_probe::quic::MOST_BYTES,
        "{bytes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_dropped_on_the_way_is_a_timeout_while_the_fetch_over_tcp_loads() {
    let certs = Certificates::new();
    let pair = certs.pair("localhost");
    // A UDP port that takes datagrams and never answers: what a censor dropping UDP to 443 leaves.
    let sink = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let (site, _) = https_site(&pair, PAGE, announce(sink.local_addr().expect("addr").port()));
    let (h, bytes) = fetch(&checker(&certs.ca_der), site).await;
    assert_eq!(h.outcome, Outcome::Ok, "{h:?}");
    let q = quic(&h);
    assert_eq!(
        (q.outcome, q.handshake, q.status),
        (Outcome::Timeout, false, None),
        "{q:?}"
    );
    assert!(q.failed());
    // The Initial datagrams it sent count, though nothing came back.
    let mut buf = [0u8; 2048];
    sink.set_read_timeout(Some(Duration::from_secs(1))).expect("timeout");
    let got = sink.recv(&mut buf).expect("the sink got the QUIC Initial");
    assert!(got >= 1200, "a QUIC Initial is padded to 1,200 bytes: {got}");
    assert!(bytes > PAGE.len() as u64 + 1200, "{bytes}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quic_certificate_for_another_name_is_a_tls_error_without_a_handshake() {
    let certs = Certificates::new();
    let h3 = h3_site(&certs.pair("other.example"), PAGE);
    let (site, _) = https_site(
        &certs.pair("localhost"),
        PAGE,
        announce(h3.local_addr().expect("addr").port()),
    );
    let (h, _) = fetch(&checker(&certs.ca_der), site).await;
    assert_eq!(h.outcome, Outcome::Ok, "{h:?}");
    let q = quic(&h);
    assert_eq!((q.outcome, q.handshake), (Outcome::TlsError, false), "{q:?}");
    assert!(q.error_detail.as_deref().is_some_and(|d| !d.is_empty()), "{q:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_page_over_quic_is_read_up_to_the_cap_and_the_test_stays_within_its_bytes() {
    let certs = Certificates::new();
    let pair = certs.pair("localhost");
    let big = vec![b'x'; 600 << 10];
    let h3 = h3_site(&pair, &big);
    let (site, _) = https_site(&pair, PAGE, announce(h3.local_addr().expect("addr").port()));
    let (h, bytes) = fetch(&checker(&certs.ca_der), site).await;
    let q = quic(&h);
    assert_eq!((q.outcome, q.status), (Outcome::Ok, Some(200)), "{q:?}");
    assert_eq!(q.body_length, Some(vigil_probe::quic::BODY_CAP));
    assert!(
        bytes <= FETCH_CAP + READ_SLACK + vigil_probe::quic::MOST_BYTES,
        "the flow-control windows bound what the server could send: {bytes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_that_stops_answering_over_tcp_is_still_asked_over_quic_as_announced() {
    let certs = Certificates::new();
    let pair = certs.pair("localhost");
    let h3 = h3_site(&pair, PAGE);
    let (site, stop) = https_site(&pair, PAGE, announce(h3.local_addr().expect("addr").port()));
    let checker = checker(&certs.ca_der);
    let (first, _) = fetch(&checker, site).await;
    assert_eq!(quic(&first).outcome, Outcome::Ok);
    // The TCP site goes away (its listener closes): the fetch fails, the announcement it made still holds.
    stop.store(true, Ordering::SeqCst);
    let _ = std::net::TcpStream::connect(site);
    assert!(wait_refused(site), "the TCP site stopped listening within the deadline");
    let (h, _) = fetch(&checker, site).await;
    assert_eq!(h.outcome, Outcome::Refused, "{h:?}");
    let q = quic(&h);
    assert_eq!((q.outcome, q.status), (Outcome::Ok, Some(200)), "{q:?}");
}

/// Fetches `https://localhost:PORT/` as an app's `h3://` endpoint whose app speaks QUIC at `quic_port`.
async fn fetch_app_host(checker: &HttpChecker, site: SocketAddr, quic_port: u16) -> HttpResult {
    let url = Url::parse(&format!("https://localhost:{}/", site.port())).expect("url");
    let target = Target {
        name: url.to_string(),
        scope: Scope::International,
        list: Some("app:chat".to_owned()),
    };
    let m = checker
        .check_with_quic(&url, target, Some(quic_port), &CheckMeter::new())
        .await;
    validate(&m, chrono::Utc::now(), &Limits::default()).expect("valid schema 1");
    match m.result {
        MeasurementResult::Http(h) => h,
        other => panic!("not http: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_its_app_reaches_over_quic_is_asked_over_quic_though_it_announced_nothing() {
    let certs = Certificates::new();
    let pair = certs.pair("localhost");
    let h3 = h3_site(&pair, PAGE);
    let udp = h3.local_addr().expect("addr").port();
    let (silent, _) = https_site(&pair, PAGE, None);
    let checker = checker(&certs.ca_der);
    let h = fetch_app_host(&checker, silent, udp).await;
    assert_eq!(h.outcome, Outcome::Ok, "{h:?}");
    let q = quic(&h);
    assert_eq!(
        (q.outcome, q.handshake, q.status, q.port),
        (Outcome::Ok, true, Some(200), udp),
        "{q:?}"
    );
    // The declaration is the endpoint's alone: the same site fetched as a test-list URL is not asked over QUIC.
    let (plain, _) = fetch(&checker, silent).await;
    assert!(plain.quic.is_none(), "{plain:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_its_app_reaches_over_quic_is_asked_over_quic_while_its_tcp_is_blocked_from_the_start() {
    let certs = Certificates::new();
    let pair = certs.pair("localhost");
    let h3 = h3_site(&pair, PAGE);
    let udp = h3.local_addr().expect("addr").port();
    // A TCP port nobody listens on: no fetch ever answered, so no announcement was ever read.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    assert!(wait_refused(closed), "the port is closed");
    let h = fetch_app_host(&checker(&certs.ca_der), closed, udp).await;
    assert_eq!(h.outcome, Outcome::Refused, "{h:?}");
    let q = quic(&h);
    assert_eq!(
        (q.outcome, q.status),
        (Outcome::Ok, Some(200)),
        "QUIC still works: {q:?}"
    );

    // And a censor dropping its UDP as well: the test times out, its Initial sent.
    let sink = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let dropped = sink.local_addr().expect("addr").port();
    let h = fetch_app_host(&checker(&certs.ca_der), closed, dropped).await;
    let q = quic(&h);
    assert_eq!((q.outcome, q.handshake), (Outcome::Timeout, false), "{q:?}");
}

/// Whether connections to `addr` are refused within a few seconds.
fn wait_refused(addr: SocketAddr) -> bool {
    vigil_lab::wait_until(Duration::from_secs(5), || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))
            .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}
