//! The real `vigil-probe` binary end to end, on loopback only: `once` prints valid measurements and uploads
//! nothing; `run` delivers to the real collector, keeps measuring while the collector is away, delivers the
//! backlog when it returns, and stops cleanly on SIGTERM.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[path = "../collector/tests/common/prometheus.rs"]
#[allow(dead_code)]
mod prometheus;

use vigil_collector::{MeasurementQuery, Store};
use vigil_collector::{StoreSpec, open_store};
use vigil_lab::{CollectorProcess, ProbeProcess, binary, serve_page, wait_until};
use vigil_measurement::result::VitalsResult;
use vigil_measurement::{Kind, Limits, Measurement, Outcome, validate};

/// A probe config measuring a loopback page (anchor) and a loopback test list, with no DNS resolvers.
fn write_config(dir: &Path, collector_url: &str, token: &str, page: std::net::SocketAddr) -> std::path::PathBuf {
    write_config_with(dir, collector_url, token, page, 50)
}

fn write_config_with(
    dir: &Path,
    collector_url: &str,
    token: &str,
    page: std::net::SocketAddr,
    budget_mb: u64,
) -> std::path::PathBuf {
    let list = dir.join("list.csv");
    std::fs::write(
        &list,
        format!("url,category_code,category_description,date_added,source,notes\nhttp://{page}/news,NEWS,News Media,2026-01-01,vigil-test,\n"),
    )
    .expect("write list");
    let config = dir.join("probe.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[collector]
url = "{collector_url}"
token = "{token}"
[probe]
state_dir = "{state}"
cycle_secs = 5
list_cycle_secs = 3600
daily_budget_mb = {budget_mb}
[[anchors]]
target = "http://{page}/"
scope = "international"
[lists]
files = ["{list}"]
[vitals]
power_supply_dir = "{power}"
[dns]
include_system = false
[timeouts]
connect_secs = 2.0
http_secs = 3.0
upload_secs = 5.0
[upload]
max_backoff_secs = 2
"#,
            state = dir.join("state").display(),
            power = dir.join("power").display(),
            list = list.display()
        ),
    )
    .expect("write config");
    config
}

/// Runs `vigil-probe once` and parses its NDJSON output.
fn probe_once(config: &Path) -> Vec<Measurement> {
    let out = Command::new(binary("vigil-probe"))
        .args(["once", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .output()
        .expect("once runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| Measurement::from_json_slice(l.as_bytes()).expect("schema-1 line"))
        .collect()
}

async fn count(store: &dyn Store, kind: Option<Kind>) -> u64 {
    store
        .count_measurements(MeasurementQuery {
            kind,
            ..Default::default()
        })
        .await
        .expect("count")
}

#[tokio::test]
async fn once_prints_valid_measurements_and_uploads_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let collector = CollectorProcess::start(dir.path(), 0);
    let (_, token) = collector.add_probe("once");
    let page = serve_page("<html><head><title>Anchor</title></head><body>ok</body></html>");
    let config = write_config(dir.path(), &collector.url, &token, page);
    let lines = probe_once(&config);
    let now = chrono::Utc::now();
    for m in &lines {
        validate(m, now, &Limits::default()).expect("valid");
    }
    let kinds: Vec<(Kind, Outcome, Option<&str>)> = lines
        .iter()
        .map(|m| (m.kind(), m.result.outcome(), m.target.list.as_deref()))
        .collect();
    // What the anchor gets depends on this process's privileges (the child inherits them).
    let mode = vigil_probe::detect_packet_mode();
    let mut expected = vec![(Kind::Vitals, Outcome::Ok, None)];
    if mode.can_ping() {
        expected.push((Kind::Icmp, Outcome::Ok, Some("anchors")));
    }
    expected.extend([
        (Kind::Tcp, Outcome::Ok, Some("anchors")),
        (Kind::Http, Outcome::Ok, Some("anchors")),
        (Kind::Http, Outcome::Ok, Some("citizenlab-list")),
    ]);
    assert_eq!(kinds, expected);
    let tcp = lines.iter().find(|m| m.kind() == Kind::Tcp).expect("a tcp check");
    let vigil_measurement::MeasurementResult::Tcp(tcp) = &tcp.result else {
        panic!("not tcp")
    };
    assert_eq!(
        tcp.method.as_deref(),
        Some(if mode.is_raw() { "syn" } else { "connect" })
    );
    assert!(
        lines
            .iter()
            .all(|m| m.clock.as_ref().is_some_and(|c| !c.boot_id.is_empty())),
        "every measurement has a clock stamp"
    );
    let store = open_store(&collector.store.parse::<StoreSpec>().expect("spec"))
        .await
        .expect("store");
    assert_eq!(count(store.as_ref(), None).await, 0, "once uploads nothing");
}

#[tokio::test]
async fn an_apps_endpoints_are_measured_on_the_list_cadence_under_its_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let collector = CollectorProcess::start(dir.path(), 0);
    let (_, token) = collector.add_probe("apps");
    let page = serve_page("<html><head><title>Chat</title></head><body>ok</body></html>");
    let config = write_config(dir.path(), &collector.url, &token, page);
    // The app's web site, a port that listens, and a port nobody listens on (refused, as a rejecting filter does).
    let open = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!(
        "[[apps]]\nname = \"chat\"\nendpoints = [\"http://{page}/web\", \"{}\", \"{closed}\"]\n",
        open.local_addr().expect("address")
    ));
    std::fs::write(&config, text).expect("config");
    let lines = probe_once(&config);
    // In the order they finish (`concurrency` at a time): sorted by name.
    let mut app: Vec<(Kind, Outcome, &str)> = lines
        .iter()
        .filter(|m| m.target.list.as_deref() == Some("app:chat"))
        .map(|m| (m.kind(), m.result.outcome(), m.target.name.as_str()))
        .collect();
    app.sort_by_key(|(_, _, name)| *name);
    let open_name = open.local_addr().expect("address").to_string();
    let closed_name = closed.to_string();
    let web = format!("http://{page}/web");
    let mut expected = [
        (Kind::Http, Outcome::Ok, web.as_str()),
        (Kind::Tcp, Outcome::Ok, open_name.as_str()),
        (Kind::Tcp, Outcome::Refused, closed_name.as_str()),
    ];
    expected.sort_by_key(|(_, _, name)| *name);
    assert_eq!(app, expected, "each endpoint measured once, by its kind");
    let now = chrono::Utc::now();
    for m in &lines {
        validate(m, now, &Limits::default()).expect("valid");
    }
}

#[tokio::test]
async fn a_spent_data_budget_pauses_test_lists_but_not_anchors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let page = serve_page("<html><head><title>Anchor</title></head><body>ok</body></html>");
    let config = write_config_with(dir.path(), "http://127.0.0.1:9", "vgl_unused", page, 0);
    let lists: Vec<Option<String>> = probe_once(&config).into_iter().map(|m| m.target.list).collect();
    assert!(
        lists.iter().all(|l| l.as_deref() != Some("citizenlab-list")),
        "no test-list check with no budget: {lists:?}"
    );
    assert!(
        lists.iter().filter(|l| l.as_deref() == Some("anchors")).count() >= 2,
        "anchors still run: {lists:?}"
    );
}

#[tokio::test]
async fn run_delivers_keeps_measuring_through_an_outage_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut collector = CollectorProcess::start(dir.path(), 0);
    let port = collector.port();
    let (_, token) = collector.add_probe("runner");
    let page = serve_page("<html><head><title>Anchor</title></head><body>ok</body></html>");
    let config = write_config(dir.path(), &collector.url, &token, page);
    // A battery nearly spent: the first vitals is a last gasp.
    let battery = dir.path().join("power/BAT0");
    std::fs::create_dir_all(&battery).expect("mkdir");
    for (file, value) in [("type", "Battery"), ("status", "Discharging"), ("capacity", "5")] {
        std::fs::write(battery.join(file), format!("{value}\n")).expect("write");
    }
    let mut probe = ProbeProcess::run(&config);
    let store = open_store(&collector.store.parse::<StoreSpec>().expect("spec"))
        .await
        .expect("store");

    // First cycle: the anchor's TCP and HTTP checks and the list URL arrive.
    let mut delivered = 0;
    for _ in 0..300 {
        delivered = count(store.as_ref(), None).await;
        if delivered >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        delivered >= 3,
        "only {delivered} measurements arrived; log: {:?}",
        probe.log.lock().expect("log")
    );

    // The collector goes away for two cycles: the probe keeps measuring into its spool.
    collector.kill();
    let cycles_before = probe.logged("anchor cycle done");
    assert!(
        wait_until(Duration::from_secs(20), || probe.logged("anchor cycle done")
            >= cycles_before + 2),
        "the probe stopped measuring while the collector was away"
    );
    assert!(probe.logged("collector not reachable") >= 1);
    let before_outage = count(store.as_ref(), Some(Kind::Tcp)).await;

    // It comes back on the same address: the backlog arrives.
    let _collector = CollectorProcess::start(dir.path(), port);
    let mut tcp = before_outage;
    for _ in 0..300 {
        tcp = count(store.as_ref(), Some(Kind::Tcp)).await;
        if tcp >= before_outage + 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        tcp >= before_outage + 2,
        "the outage's measurements did not arrive ({before_outage} → {tcp})"
    );

    assert!(
        probe.terminate(Duration::from_secs(20)),
        "the probe did not exit cleanly on SIGTERM"
    );
    assert!(probe.logged("one last upload") >= 1);

    // Vitals: the low battery's last gasp came first; the SIGTERM's last gasp came last and was delivered.
    let vitals: Vec<VitalsResult> = store
        .measurements(MeasurementQuery {
            kind: Some(Kind::Vitals),
            ..Default::default()
        })
        .await
        .expect("read")
        .into_iter()
        .filter_map(|m| match m.measurement.result {
            vigil_measurement::MeasurementResult::Vitals(v) => Some(v),
            _ => None,
        })
        .collect();
    let first = vitals
        .iter()
        .find(|v| v.seq == Some(0))
        .expect("the first vitals arrived");
    assert!(first.last_gasp, "a battery at 5% on battery is a last gasp");
    assert_eq!(
        (first.power.on_battery, first.power.battery_pct),
        (Some(true), Some(5.0))
    );
    let last = vitals.iter().max_by_key(|v| v.seq).expect("vitals");
    assert!(
        last.last_gasp && last.seq > Some(1),
        "the SIGTERM last gasp was delivered: {last:?}"
    );
    assert!(vitals.iter().filter(|v| v.last_gasp).count() >= 2);
}

#[tokio::test]
async fn run_serves_its_metrics_when_asked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let collector = CollectorProcess::start(dir.path(), 0);
    let (_, token) = collector.add_probe("metrics");
    let page = serve_page("<html><head><title>Anchor</title></head><body>ok</body></html>");
    let config = write_config(dir.path(), &collector.url, &token, page);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut probe = ProbeProcess::run_with(&config, &["--metrics-listen", &listen]);
    // reqwest has rustls without a built-in provider in this workspace: install ring for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let mut text = String::new();
    for _ in 0..300 {
        if let Ok(resp) = client.get(format!("http://{listen}/metrics")).send().await {
            text = resp.text().await.unwrap_or_default();
            if text.contains("vigil_probe_last_upload_success_timestamp_seconds")
                && !text.contains("vigil_probe_last_upload_success_timestamp_seconds 0\n")
                && text.contains("vigil_probe_uploaded_records_total")
                && text.contains("vigil_probe_check_outcomes_total{kind=\"http\"")
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let value = |name: &str, labels: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains(labels))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    assert!(
        value("vigil_probe_last_upload_success_timestamp_seconds", "").is_some_and(|t| t > 1.7e9),
        "{text}"
    );
    assert!(
        value("vigil_probe_uploaded_records_total", "").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        value("vigil_probe_check_outcomes_total", "kind=\"http\"").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        value("vigil_probe_check_seconds_count", "kind=\"tcp\"").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(value("vigil_probe_spool_depth", "").is_some(), "{text}");
    assert!(
        value("vigil_probe_uploads_total", "result=\"delivered\"").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(probe.terminate(Duration::from_secs(20)));
}

#[tokio::test]
async fn prometheus_scrapes_the_probes_metrics_and_sees_its_uploads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let collector = CollectorProcess::start(dir.path(), 0);
    let (_, token) = collector.add_probe("scraped");
    let page = serve_page("<html><head><title>Anchor</title></head><body>ok</body></html>");
    let config = write_config(dir.path(), &collector.url, &token, page);
    let listen: std::net::SocketAddr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let mut probe = ProbeProcess::run_with(&config, &["--metrics-listen", &listen.to_string()]);
    let prometheus = prometheus::Prometheus::scraping_as(listen, "vigil-probe");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let uploaded = loop {
        let uploaded = prometheus.value(&client, "vigil_probe_uploaded_records_total").await;
        if uploaded
            .as_deref()
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(|n| n >= 1.0)
        {
            break uploaded;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Prometheus never saw the probe's uploads (last: {uploaded:?})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        prometheus.value(&client, "up{job=\"vigil-probe\"}").await.as_deref(),
        Some("1")
    );
    // Every series the probe documents is there, typed as Prometheus parsed it (a histogram has its buckets).
    for expr in [
        "vigil_probe_spool_depth",
        "vigil_probe_spool_bytes",
        "vigil_probe_last_upload_success_timestamp_seconds > 1.7e9",
        "sum(vigil_probe_uploads_total{result=\"delivered\"})",
        "sum(vigil_probe_check_outcomes_total{kind=\"http\"})",
        "sum(vigil_probe_check_seconds_bucket{kind=\"tcp\",le=\"+Inf\"})",
        // The collector takes the token: not refused. Nothing quarantined. The budget counts the anchors' bytes.
        "vigil_probe_upload_auth_refused == 0",
        "vigil_probe_quarantined_records == 0",
        "vigil_probe_quarantine_bytes == 0",
        "vigil_probe_budget_spent_bytes > 0",
    ] {
        assert!(
            prometheus.value(&client, expr).await.is_some(),
            "Prometheus has no {expr} (uploaded: {uploaded:?})"
        );
    }
    assert!(probe.terminate(Duration::from_secs(20)));
}

/// What a counting web server on loopback has served: bytes read and written on its sockets, when each request
/// came, and from when to when each was served (request read → response written).
#[derive(Default)]
struct Served {
    bytes: u64,
    requests: Vec<std::time::Instant>,
    spans: Vec<(std::time::Instant, std::time::Instant)>,
}

/// A web server on loopback answering every GET with `body_len` bytes, counting every byte it reads and writes.
async fn counting_server(body_len: usize) -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<Served>>) {
    paced_server(body_len, Duration::ZERO).await
}

/// [`counting_server`], each response taking `pace` (half before the headers, half before the body) as on a
/// slower link.
async fn paced_server(
    body_len: usize,
    pace: Duration,
) -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<Served>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let served = std::sync::Arc::new(std::sync::Mutex::new(Served::default()));
    let record = std::sync::Arc::clone(&served);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let record = std::sync::Arc::clone(&record);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut chunk = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&chunk[..n]),
                    }
                }
                let came = std::time::Instant::now();
                record.lock().expect("lock").requests.push(came);
                tokio::time::sleep(pace / 2).await;
                let mut reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n"
                )
                .into_bytes();
                reply.extend(std::iter::repeat_n(b'v', body_len));
                let mut written = 0;
                for (i, piece) in reply.chunks(16 << 10).enumerate() {
                    if i == 1 {
                        tokio::time::sleep(pace / 2).await;
                    }
                    if stream.write_all(piece).await.is_err() {
                        break;
                    }
                    written += piece.len();
                }
                let mut record = record.lock().expect("lock");
                record.bytes += (head.len() + written) as u64;
                record.spans.push((came, std::time::Instant::now()));
            });
        }
    });
    (addr, served)
}

/// A probe config measuring one international anchor at `anchor` and a test list of 40 pages at `lists`, both
/// every 5 s, with `probe_keys` added to its `[probe]` section; the list and state live under `dir`.
fn forty_page_config(
    dir: &Path,
    collector_url: &str,
    token: &str,
    lists: std::net::SocketAddr,
    anchor: std::net::SocketAddr,
    probe_keys: &str,
) -> std::path::PathBuf {
    let list = dir.join("list.csv");
    let mut rows = String::from("url,category_code,category_description,date_added,source,notes\n");
    for i in 0..40 {
        rows.push_str(&format!(
            "http://{lists}/page{i},NEWS,News Media,2026-01-01,vigil-test,\n"
        ));
    }
    std::fs::write(&list, rows).expect("list");
    let config = dir.join("probe.toml");
    std::fs::write(
        &config,
        format!(
            "[collector]\nurl = \"{collector_url}\"\ntoken = \"{token}\"\n[probe]\nstate_dir = \"{state}\"\ncycle_secs = 5\n\
             list_cycle_secs = 5\n{probe_keys}\n[[anchors]]\ntarget = \"http://{anchor}/\"\nscope = \"international\"\n\
             [lists]\nfiles = [\"{list}\"]\n[vitals]\npower_supply_dir = \"{power}\"\n[dns]\ninclude_system = false\n\
             [timeouts]\nconnect_secs = 2.0\nhttp_secs = 5.0\nupload_secs = 5.0\n",
            state = dir.join("state").display(),
            list = list.display(),
            power = dir.join("power").display(),
        ),
    )
    .expect("config");
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn the_data_budget_counts_real_bytes_and_stops_test_lists_within_one_check_of_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let collector = CollectorProcess::start(dir.path(), 0);
    let (_, token) = collector.add_probe("metered");
    // The test list: 40 pages of 200 KiB (8 MB in all) against a budget of 2 MB a day (one URL's reservation at
    // its cap — fetch, SNI and QUIC tests, DNS — is over 1 MB).
    let (lists, list_served) = counting_server(200 << 10).await;
    let (anchor, anchor_served) = counting_server(2 << 10).await;
    let state = dir.path().join("state");
    let config = forty_page_config(dir.path(), &collector.url, &token, lists, anchor, "daily_budget_mb = 2");
    let mut probe = ProbeProcess::run(&config);
    // The lists stop for the day once the budget has no room for one more URL at its cap.
    assert!(
        wait_until(Duration::from_secs(90), || probe.logged("daily data budget spent") > 0),
        "the lists never paused; list server served {} bytes",
        list_served.lock().expect("lock").bytes
    );
    let (list_bytes, list_requests) = {
        let s = list_served.lock().expect("lock");
        (s.bytes, s.requests.len())
    };
    assert!(list_requests >= 1, "no list URL ran at all");
    let one_check = vigil_probe::LIST_URL_CAP;
    assert!(
        list_bytes <= (2 << 20) + one_check,
        "the lists took {list_bytes} bytes against a budget of 2 MiB (+ one check's cap, {one_check})"
    );
    // The budget is saved as it is spent, and counts at least what the servers sent and received.
    let saved = || -> u64 {
        std::fs::read(state.join("budget.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["bytes"].as_u64())
            .unwrap_or(0)
    };
    let anchors_then = anchor_served.lock().expect("lock").requests.len();
    assert!(
        wait_until(Duration::from_secs(30), || saved() >= list_bytes
            && anchor_served.lock().expect("lock").requests.len() >= anchors_then + 3),
        "budget.json holds {} bytes for {list_bytes} served to the lists; anchors {} → {}",
        saved(),
        anchors_then,
        anchor_served.lock().expect("lock").requests.len()
    );
    // Anchors went on; the lists did not come back.
    assert_eq!(list_served.lock().expect("lock").requests.len(), list_requests);
    assert!(probe.terminate(Duration::from_secs(20)));
    // A restart does not reset the day: the lists stay paused.
    let mut again = ProbeProcess::run(&config);
    assert!(
        wait_until(Duration::from_secs(30), || again.logged("daily data budget spent") > 0),
        "after a restart the lists did not stay paused"
    );
    assert_eq!(list_served.lock().expect("lock").requests.len(), list_requests);
    assert!(again.terminate(Duration::from_secs(20)));
}

#[tokio::test(flavor = "multi_thread")]
async fn list_urls_never_share_the_link_with_an_anchor_cycle() {
    let dir = tempfile::tempdir().expect("temp dir");
    let collector = CollectorProcess::start(dir.path(), 0);
    let (_, token) = collector.add_probe("turns");
    // Lists busy most of each cycle: 40 URLs of 300 ms, 4 at a time, every 5 s. Anchors of 200 ms, every 5 s.
    let (lists, list_served) = paced_server(64 << 10, Duration::from_millis(300)).await;
    let (anchor, anchor_served) = paced_server(64 << 10, Duration::from_millis(200)).await;
    let config = forty_page_config(
        dir.path(),
        &collector.url,
        &token,
        lists,
        anchor,
        "concurrency = 4\ndaily_budget_mb = 1000",
    );
    let mut probe = ProbeProcess::run(&config);
    assert!(
        wait_until(Duration::from_secs(60), || anchor_served
            .lock()
            .expect("lock")
            .spans
            .len()
            >= 5
            && list_served.lock().expect("lock").spans.len() >= 80),
        "5 anchor cycles and 2 list passes did not run: {} anchor fetches, {} list fetches",
        anchor_served.lock().expect("lock").spans.len(),
        list_served.lock().expect("lock").spans.len()
    );
    assert!(probe.terminate(Duration::from_secs(20)));
    let anchors = anchor_served.lock().expect("lock").spans.clone();
    let urls = list_served.lock().expect("lock").spans.clone();
    let shared: Vec<_> = anchors
        .iter()
        .filter(|a| urls.iter().any(|u| u.0 < a.1 && a.0 < u.1))
        .collect();
    assert!(
        shared.is_empty(),
        "{} of {} anchor fetches were served while a list URL was",
        shared.len(),
        anchors.len()
    );
    // And none had to go ahead beside them: every list URL here finishes within the grace.
    assert_eq!(probe.logged("shared_link=true"), 0);
}
