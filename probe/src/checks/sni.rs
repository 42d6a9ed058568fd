//! The SNI test: when an HTTPS fetch fails in its TLS handshake, the same address is asked twice more over the
//! same path — once naming a control (`[lists] sni_control`, by default `example.com`, a name reserved by RFC 2606
//! that no censor has a reason to block), then naming the target. A filter on the server name (Iran's main method)
//! lets the control's handshake through and stops the target's; a server that is down answers neither, and a broken
//! one (an expired certificate) answers both. The control goes first: censors that see a blocked name may block the
//! address itself for a while after (OONI's `sni_blocking`, ts-024, runs the two in either order for this reason).
//!
//! A handshake is *answered* when the server's side of it came back: a certificate, valid or not (the control's
//! is for another name), or a TLS alert. A reset, a timeout, a close or bytes that are not TLS are not answers.

use std::net::SocketAddr;
use std::time::Duration;

use vigil_measurement::Outcome;
use vigil_measurement::result::SniTest;

use crate::net::NetPath;
use crate::traffic::{CheckMeter, Counted};

/// The control name when the configuration names none: reserved for examples by RFC 2606, served by IANA.
pub const DEFAULT_CONTROL: &str = "example.com";

/// What the test may use on the wire, for the data budget: two handshakes, each a ClientHello (a few hundred
/// bytes) and the server's first flight, whose largest message (the certificate chain) rustls bounds at 64 KiB.
pub const MOST_BYTES: u64 = 2 * (72 << 10);

/// What one handshake came to.
#[derive(Debug)]
struct Handshake {
    outcome: Outcome,
    answered: bool,
    detail: Option<String>,
}

/// Runs the pair against `peer` along `path`, each handshake within `within`, counting their bytes into `meter`:
/// the control (`control_name`) first, then the target (`server_name`).
pub async fn test(
    peer: SocketAddr,
    server_name: &str,
    control_name: &str,
    tls: &tokio_rustls::TlsConnector,
    path: &NetPath,
    within: Duration,
    meter: &CheckMeter,
) -> SniTest {
    let control = handshake(peer, control_name, tls, path, within, meter).await;
    let target = handshake(peer, server_name, tls, path, within, meter).await;
    SniTest {
        server_name: server_name.to_owned(),
        outcome: target.outcome,
        answered: target.answered,
        control_name: control_name.to_owned(),
        control_outcome: control.outcome,
        control_answered: control.answered,
        error_detail: target.detail,
    }
}

/// One TLS handshake to `peer` naming `name`.
async fn handshake(
    peer: SocketAddr,
    name: &str,
    tls: &tokio_rustls::TlsConnector,
    path: &NetPath,
    within: Duration,
    meter: &CheckMeter,
) -> Handshake {
    let failed = |outcome, detail: Option<String>| Handshake {
        outcome,
        answered: false,
        detail,
    };
    let server_name = match rustls::pki_types::ServerName::try_from(name.to_owned()) {
        Ok(n) => n,
        Err(e) => return failed(Outcome::Error, Some(format!("server name: {e}"))),
    };
    let deadline = tokio::time::Instant::now() + within;
    let stream = match tokio::time::timeout_at(deadline, path.connect_tcp(peer)).await {
        Ok(Ok(s)) => s,
        Ok(Err(err)) => return failed(super::io_outcome(err.kind()), Some(super::error_detail(&err))),
        Err(_) => return failed(Outcome::Timeout, Some("connect timed out".to_owned())),
    };
    let stream = Counted::new(stream, Some(meter.clone()));
    match tokio::time::timeout_at(deadline, tls.connect(server_name, stream)).await {
        Ok(Ok(_)) => Handshake {
            outcome: Outcome::Ok,
            answered: true,
            detail: None,
        },
        Ok(Err(err)) => Handshake {
            outcome: super::tls_outcome(&err),
            // The server's certificate or alert came back: it was reached, whatever it said. Any other rustls
            // refusal is bytes that are not the server's TLS: something on the path spoke instead of it.
            answered: matches!(
                err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()),
                Some(rustls::Error::InvalidCertificate(_) | rustls::Error::AlertReceived(_))
            ),
            detail: Some(super::error_detail(&err)),
        },
        Err(_) => failed(Outcome::Timeout, Some("TLS handshake timed out".to_owned())),
    }
}
