//! The collector serving HTTPS itself, and the probe pinning it: uploads through a private CA, through a pinned
//! certificate, refused for a wrong pin or an untrusted issuer; a renewed certificate is served after SIGHUP.

use std::path::Path;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use sha2::Digest;
use vigil_lab::{CollectorProcess, tcp_line};
use vigil_probe::ProbeConfig;
use vigil_probe::{NewRecord, RecordClass, SharedSpool, Spool, SpoolOptions};
use vigil_probe::{RoundOutcome, Uploader};

/// A certificate for 127.0.0.1 as PEM (chain, key) and the SHA-256 of its DER.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    sha256: String,
}

fn ca() -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("CA");
    (cert.pem(), Issuer::new(params, key))
}

fn leaf(issuer: Option<&Issuer<'static, KeyPair>>) -> Leaf {
    let params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("params");
    let key = KeyPair::generate().expect("key");
    let cert = match issuer {
        Some(issuer) => params.signed_by(&key, issuer).expect("signed"),
        None => params.self_signed(&key).expect("self-signed"),
    };
    Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        sha256: hex::encode(sha2::Sha256::digest(cert.der())),
    }
}

fn install(dir: &Path, leaf: &Leaf) {
    std::fs::write(dir.join("cert.pem"), &leaf.cert_pem).expect("write cert");
    std::fs::write(dir.join("key.pem"), &leaf.key_pem).expect("write key");
}

fn uploader(dir: &Path, url: &str, token: &str, trust: &str) -> Uploader {
    let text = format!(
        "[probe]\nstate_dir = \"{}\"\n[collector]\nurl = \"{url}\"\ntoken = \"{token}\"\n{trust}\n[timeouts]\nconnect_secs = 2.0\nupload_secs = 10.0\n",
        dir.join("probe-state").display()
    );
    let config: ProbeConfig = toml::from_str(&text).expect("a valid probe config");
    Uploader::new(&config).expect("uploader")
}

fn spool_one(spool: &SharedSpool) {
    let (_, line) = tcp_line();
    spool
        .with(|s| {
            s.append(&[NewRecord {
                class: RecordClass::Anchor,
                line,
            }])
        })
        .expect("append");
}

/// One round with one measurement waiting: its outcome.
async fn try_upload(spool: &SharedSpool, uploader: &mut Uploader) -> RoundOutcome {
    if spool.with(|s| s.depth()).expect("depth") == 0 {
        spool_one(spool);
    }
    uploader.upload_once(spool).await.expect("round")
}

#[tokio::test]
async fn the_probe_uploads_over_https_only_to_the_collector_it_trusts_and_follows_a_reload() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca_pem, issuer) = ca();
    std::fs::write(dir.path().join("ca.pem"), &ca_pem).expect("write CA");
    let first = leaf(Some(&issuer));
    install(dir.path(), &first);
    let config = dir.path().join("collector.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            dir.path().join("cert.pem").display(),
            dir.path().join("key.pem").display()
        ),
    )
    .expect("write config");
    let collector = CollectorProcess::start_with_config(dir.path(), 0, Some(&config));
    assert!(collector.url.starts_with("https://127.0.0.1:"), "{}", collector.url);
    let (_, token) = collector.add_probe("tls");
    let spool = SharedSpool::new(Spool::open(&dir.path().join("probe-state"), SpoolOptions::default()).expect("spool"));
    let ca_file = format!("ca_file = \"{}\"", dir.path().join("ca.pem").display());

    // The private CA: delivered. The public roots alone: the issuer is unknown, nothing leaves the spool.
    let mut by_ca = uploader(dir.path(), &collector.url, &token, &ca_file);
    assert!(matches!(
        try_upload(&spool, &mut by_ca).await,
        RoundOutcome::Delivered { .. }
    ));
    let mut public_roots = uploader(dir.path(), &collector.url, &token, "");
    let outcome = try_upload(&spool, &mut public_roots).await;
    assert!(matches!(&outcome, RoundOutcome::Failed { .. }), "{outcome:?}");
    // Pinned by fingerprint (with and without the CA); a wrong pin is refused even with the right CA.
    let pin = |sha: &str| format!("cert_sha256 = [\"{sha}\"]");
    let mut pinned = uploader(dir.path(), &collector.url, &token, &pin(&first.sha256));
    assert!(matches!(
        try_upload(&spool, &mut pinned).await,
        RoundOutcome::Delivered { .. }
    ));
    let both = format!("{ca_file}\n{}", pin(&first.sha256));
    let mut pinned_and_chained = uploader(dir.path(), &collector.url, &token, &both);
    assert!(matches!(
        try_upload(&spool, &mut pinned_and_chained).await,
        RoundOutcome::Delivered { .. }
    ));
    let renewed = leaf(None);
    let wrong = format!("{ca_file}\n{}", pin(&renewed.sha256));
    let mut wrong_pin = uploader(dir.path(), &collector.url, &token, &wrong);
    let outcome = try_upload(&spool, &mut wrong_pin).await;
    assert!(matches!(&outcome, RoundOutcome::Failed { .. }), "{outcome:?}");

    // A renewed (here self-signed) certificate is served after SIGHUP, without a restart.
    install(dir.path(), &renewed);
    let pid = collector.pid().expect("running");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let mut on_renewed = uploader(dir.path(), &collector.url, &token, &pin(&renewed.sha256));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match try_upload(&spool, &mut on_renewed).await {
            RoundOutcome::Delivered { .. } => break,
            other => assert!(
                Instant::now() < deadline,
                "the renewed certificate was never served: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut old_pin = uploader(dir.path(), &collector.url, &token, &pin(&first.sha256));
    let outcome = try_upload(&spool, &mut old_pin).await;
    assert!(
        matches!(&outcome, RoundOutcome::Failed { .. }),
        "the old certificate is gone: {outcome:?}"
    );
}
