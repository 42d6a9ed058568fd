//! The built-in status page in a real browser: headless Chromium (Debian's `chromium`) loads `/` from a
//! collector holding a small country's data; the shutdown appears with its class, scope and evidence, the charts
//! are inline SVG, the same-origin script runs under the page's policy, and a screenshot is saved as a CI
//! artifact (`target/artifacts/status-page.png`). The page as served, before any script, already holds all of
//! it (readable without JavaScript), and shows no probe address and no region a lone volunteer could be found in.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TestCollector;
use vigil_collector::{AccessType, ProbeProfile};
use vigil_collector::{CollectorConfig, register_probe};

fn chromium() -> &'static str {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("Debian's chromium is needed for this test: `apt-get install chromium` (scripts/test.sh does)")
}

/// Runs headless Chromium with `args` on `url`, killing it after a deadline; returns standard output.
fn headless(profile: &Path, args: &[&str], url: &str) -> String {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().expect("reader")
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_page_shows_the_shutdown_in_a_real_browser() {
    // The page's buckets match the data's; the server's own classifier stays off so the events are the test's.
    let mut config = CollectorConfig {
        bucket_secs: common::country::BUCKET as u64,
        ..CollectorConfig::default()
    };
    config.classifier.interval_secs = 0;
    let c = TestCollector::start_with(config).await;
    let loaded = common::country::load(&c).await;
    let shutdown = loaded
        .events
        .iter()
        .find(|e| e.class.as_str() == "shutdown" && e.scope.country.as_deref() == Some("XL"))
        .unwrap_or_else(|| panic!("the scenario makes a shutdown: {:#?}", loaded.events));
    // A volunteer alone in their region: the page must not name it.
    register_probe(
        c.store.as_ref(),
        ProbeProfile {
            name: "lonely".to_owned(),
            country: "XF".to_owned(),
            asn: 64511,
            region: Some("lonely-island".to_owned()),
            access: AccessType::Satellite,
            ups: false,
        },
    )
    .await
    .expect("register");

    // As served.
    let resp = c.client.get(c.url("/")).send().await.expect("GET /");
    assert_eq!(resp.status(), 200);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        header("content-type").starts_with("text/html"),
        "{}",
        header("content-type")
    );
    let policy = header("content-security-policy");
    assert!(
        policy.contains("default-src 'none'") && policy.contains("script-src 'self'"),
        "{policy}"
    );
    let html = resp.text().await.expect("body");
    for needle in [
        format!("id=\"event-{}\"", shutdown.id),
        "national (XL)".to_owned(),
        "<svg".to_owned(),
        "id=\"country-XL\"".to_owned(),
        "id=\"country-XF\"".to_owned(),
    ] {
        assert!(html.contains(&needle), "the page lacks {needle}");
    }
    for secret in ["10.20.0.1", "10.10.34.34", "lonely-island", "volunteer-"] {
        assert!(!html.contains(secret), "the page reveals {secret}");
    }
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "nothing loaded from elsewhere"
    );
    for asset in ["/static/status.css", "/static/status.js"] {
        let r = c.client.get(c.url(asset)).send().await.expect("asset");
        assert_eq!(r.status(), 200, "{asset}");
    }

    let url = c.url("/");
    let profile = tempfile::tempdir().expect("profile dir");
    let evidence_phrase = shutdown.evidence.first().map(|e| e.text.clone()).unwrap_or_default();
    let shot = artifacts().join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    let dom = tokio::task::spawn_blocking({
        let url = url.clone();
        let shot = shot.clone();
        move || {
            let dom = headless(profile.path(), &["--dump-dom"], &url);
            headless(
                profile.path(),
                &[
                    &format!("--screenshot={}", shot.display()),
                    "--window-size=1280,2400",
                    "--hide-scrollbars",
                ],
                &url,
            );
            dom
        }
    })
    .await
    .expect("browser thread");

    // The browser's DOM: the event row with its class, scope and evidence; both countries' charts.
    assert!(
        dom.contains(&format!("id=\"event-{}\"", shutdown.id)) && dom.contains("data-class=\"shutdown\""),
        "the shutdown row is missing:\n{dom}"
    );
    assert!(dom.contains("national (XL)"), "scope missing");
    assert!(dom.contains(&evidence_phrase), "evidence missing ({evidence_phrase})");
    assert!(dom.matches("<svg").count() >= 4, "two charts for each of XL and XF");
    // The same-origin script ran under the page's policy.
    assert!(dom.contains("data-live=\"on\""), "the refresh script did not run");

    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    assert!(
        png.len() > 20_000,
        "a screenshot of a rendered page, not a blank one ({} bytes)",
        png.len()
    );
    println!("screenshot: {}", shot.display());

    // Until a person reviews it, the page calls it a suspected shutdown; then a confirmed one, with the verdict.
    let row = |html: &str| {
        let id = html.find(&format!("id=\"event-{}\"", shutdown.id)).expect("row");
        let start = html[..id].rfind("<tr").expect("row start");
        html[start..id + html[id..].find("</tr>").expect("row end")].to_owned()
    };
    assert!(
        row(&html).contains("suspected shutdown (awaiting review)"),
        "{}",
        row(&html)
    );
    assert!(row(&html).contains("data-review=\"pending\""));
    vigil_collector::record_review(
        c.store.as_ref(),
        &shutdown.id,
        vigil_collector::ReviewVerdict::Confirmed,
        "duty editor",
        "ISPs confirm the order",
    )
    .await
    .expect("reviewed");
    let after = c
        .client
        .get(c.url("/"))
        .send()
        .await
        .expect("GET /")
        .text()
        .await
        .expect("body");
    let confirmed = row(&after);
    assert!(confirmed.contains("data-review=\"confirmed\""), "{confirmed}");
    assert!(
        confirmed.contains("confirmed by duty editor: ISPs confirm the order") && !confirmed.contains("suspected"),
        "{confirmed}"
    );
    c.stop().await;
}
