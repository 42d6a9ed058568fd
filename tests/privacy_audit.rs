//! Privacy audit: a probe behind a home router (NAT) whose public address is known, measuring targets that echo
//! that address back — a web server that puts it in a redirect, a header and a title (also as ISPs' host names
//! write it, `c-10-88-2-2.isp.example`), a resolver whose answer
//! is that address, and a home router that answers traces from it — uploads signed batches to a real collector;
//! then every byte of the store (embedded and ClickHouse, every table, signed bodies decompressed), every export
//! (CSV, JSON Lines, Parquet; measurements, vitals, events; from the CLI and the API) and every public API
//! answer is searched for the probe's addresses: zero hits, while the evidence around them is still there.
//!
//! Needs root, `ip`, `nft`, `nginx`, `dnsmasq` and Debian's `clickhouse-server`:
//! `cargo test -p vigil-lab --features lab --test privacy_audit`. Everything it creates is named `vgp-…` and uses
//! 10.88.x addresses inside those namespaces only.

#[path = "../collector/tests/common/clickhouse.rs"]
#[allow(dead_code)]
mod clickhouse;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vigil_lab::lab::net::{in_ns, ip, nft, run};
use vigil_lab::lab::{preflight, servers};
use vigil_lab::wait_until;

const NS_PROBE: &str = "vgp-probe";
const NS_HOME: &str = "vgp-home";
const NS_NET: &str = "vgp-net";
/// The probe's own (LAN) address.
const PROBE_LAN: &str = "10.88.1.2";
/// The home router's LAN address: the probe's gateway.
const HOME_LAN: &str = "10.88.1.1";
/// The home router's WAN address: the probe's public address, what every server sees.
const PUBLIC: &str = "10.88.2.2";
/// The far side: web server, resolver, collector.
const NET: &str = "10.88.2.1";
const COLLECTOR_PORT: u16 = 8080;

/// The addresses that must never be found, in every form a store or export might write them.
fn needles() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for text in [PUBLIC, PROBE_LAN] {
        let addr: std::net::Ipv4Addr = text.parse().expect("address");
        out.push((text.to_owned(), text.as_bytes().to_vec()));
        let as_number = u32::from(addr).to_string();
        out.push((format!("{text} as the number {as_number}"), as_number.into_bytes()));
        out.push((
            format!("{text} mapped into IPv6"),
            format!("::ffff:{text}").into_bytes(),
        ));
        let dashed = text.replace('.', "-");
        out.push((format!("{text} as a host name writes it"), dashed.into_bytes()));
    }
    out
}

/// The namespaces, removed with everything running in them on drop.
struct Topology;

impl Topology {
    fn build() -> Self {
        teardown();
        let topology = Topology;
        for ns in [NS_PROBE, NS_HOME, NS_NET] {
            ip(&["netns", "add", ns]).expect("netns add");
            ip(&["-n", ns, "link", "set", "lo", "up"]).expect("lo up");
        }
        veth(NS_PROBE, "eth0", NS_HOME, "lan0");
        veth(NS_HOME, "wan0", NS_NET, "eth0");
        ip(&["-n", NS_PROBE, "addr", "add", &format!("{PROBE_LAN}/24"), "dev", "eth0"]).expect("addr");
        ip(&["-n", NS_PROBE, "route", "add", "default", "via", HOME_LAN]).expect("route");
        ip(&["-n", NS_HOME, "addr", "add", &format!("{HOME_LAN}/24"), "dev", "lan0"]).expect("addr");
        ip(&["-n", NS_HOME, "addr", "add", &format!("{PUBLIC}/24"), "dev", "wan0"]).expect("addr");
        ip(&["-n", NS_NET, "addr", "add", &format!("{NET}/24"), "dev", "eth0"]).expect("addr");
        in_ns(NS_HOME, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]).expect("forwarding");
        // Like many home routers, this one answers from its public address: the ICMP errors it sends the LAN
        // (a trace's first hop) carry the WAN address as their source. ARP keeps using the LAN address.
        ip(&[
            "-n",
            NS_HOME,
            "route",
            "replace",
            "10.88.1.0/24",
            "dev",
            "lan0",
            "src",
            PUBLIC,
        ])
        .expect("route src");
        in_ns(NS_HOME, "sysctl", &["-qw", "net.ipv4.conf.lan0.arp_announce=2"]).expect("arp_announce");
        nft(
            NS_HOME,
            "table ip nat {\n chain post {\n  type nat hook postrouting priority 100;\n  oifname \"wan0\" masquerade\n }\n}\n",
        )
        .expect("masquerade");
        let etc = Path::new("/etc/netns").join(NS_PROBE);
        std::fs::create_dir_all(&etc).expect("/etc/netns");
        std::fs::write(etc.join("resolv.conf"), format!("nameserver {NET}\n")).expect("resolv.conf");
        topology
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        teardown();
    }
}

fn veth(a_ns: &str, a_if: &str, b_ns: &str, b_if: &str) {
    ip(&[
        "link", "add", a_if, "netns", a_ns, "type", "veth", "peer", "name", b_if, "netns", b_ns,
    ])
    .expect("veth");
    ip(&["-n", a_ns, "link", "set", a_if, "up"]).expect("up");
    ip(&["-n", b_ns, "link", "set", b_if, "up"]).expect("up");
}

fn teardown() {
    for ns in [NS_PROBE, NS_HOME, NS_NET] {
        for pid in ip(&["netns", "pids", ns]).unwrap_or_default().split_whitespace() {
            let _ = run("kill", &["-KILL", pid]);
        }
        let _ = ip(&["netns", "del", ns]);
    }
    let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(NS_PROBE));
    let _ = std::fs::remove_dir("/etc/netns");
}

/// A child process killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// SIGTERM, then wait for it to exit (SIGKILL after 20 s).
    fn terminate(mut self) {
        let _ = run("kill", &["-TERM", &self.0.id().to_string()]);
        let exited = wait_until(Duration::from_secs(20), || matches!(self.0.try_wait(), Ok(Some(_))));
        assert!(exited, "process {} did not stop on SIGTERM", self.0.id());
    }
}

/// The far side's servers: nginx echoing the client's address, dnsmasq answering the public address for
/// `whoami.vigil.test`.
fn start_servers(dir: &Path) -> Vec<Process> {
    let web = dir.join("nginx");
    for sub in ["tmp", "logs"] {
        std::fs::create_dir_all(web.join(sub)).expect("nginx dirs");
    }
    let r = web.display();
    let conf = format!(
        "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\npid {r}/nginx.pid;\n\
         error_log {r}/logs/error.log warn;\nevents {{ worker_connections 64; }}\nhttp {{\n\
         access_log {r}/logs/access.log;\nclient_body_temp_path {r}/tmp/body;\nproxy_temp_path {r}/tmp/proxy;\n\
         fastcgi_temp_path {r}/tmp/fastcgi;\nuwsgi_temp_path {r}/tmp/uwsgi;\nscgi_temp_path {r}/tmp/scgi;\n\
         map $remote_addr $dashed {{ \"~^(\\d+)\\.(\\d+)\\.(\\d+)\\.(\\d+)$\" \"$1-$2-$3-$4\"; default \"\"; }}\n\
         server {{\n listen {NET}:80;\n\
          location = / {{ add_header X-Client-Address $remote_addr always;\n\
            return 302 http://echo.vigil.test/landing?client=$remote_addr; }}\n\
          location = /landing {{ add_header X-Client-Address $remote_addr always; default_type text/html;\n\
            return 200 \"<html><head><title>You are $remote_addr, host c-$dashed.isp.example</title></head><body>hello $remote_addr</body></html>\"; }}\n\
         }}\n}}\n"
    );
    std::fs::write(web.join("nginx.conf"), conf).expect("nginx.conf");
    let conf_arg = web.join("nginx.conf").display().to_string();
    let prefix = format!("{r}/");
    let nginx = servers::spawn(
        NS_NET,
        "nginx",
        &["-c", &conf_arg, "-p", &prefix],
        &web.join("stderr.log"),
    )
    .expect("nginx starts");
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, format!("{NET} echo.vigil.test\n{PUBLIC} whoami.vigil.test\n")).expect("hosts");
    let dnsmasq = servers::spawn(
        NS_NET,
        "dnsmasq",
        &[
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            &format!("--addn-hosts={}", hosts.display()),
            &format!("--listen-address={NET}"),
            "--bind-interfaces",
            "--local-ttl=0",
            "--user=root",
            "--group=root",
            &format!("--pid-file={}", dir.join("dnsmasq.pid").display()),
        ],
        &dir.join("dnsmasq.log"),
    )
    .expect("dnsmasq starts");
    let up = wait_until(Duration::from_secs(10), || {
        let tcp = in_ns(NS_NET, "ss", &["-H", "-ltn"]).unwrap_or_default();
        let udp = in_ns(NS_NET, "ss", &["-H", "-lun"]).unwrap_or_default();
        tcp.contains(&format!("{NET}:80")) && udp.contains(&format!("{NET}:53"))
    });
    assert!(up, "nginx and dnsmasq listen in {NS_NET}");
    vec![Process(nginx), Process(dnsmasq)]
}

/// A plain HTTP/1.0 request from this thread (inside the far side's namespace); status and body.
fn http(method: &str, port: u16, path: &str, body: &str) -> (u16, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect((NET, port))
        .or_else(|_| std::net::TcpStream::connect(("127.0.0.1", port)))
        .expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: vigil\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("read");
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP answer");
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, reply[split + 4..].to_vec())
}

/// Which needles `bytes` holds, looking inside gzip and zstd data and hex-encoded text too.
fn hits(bytes: &[u8], depth: u8) -> Vec<String> {
    let mut found: Vec<String> = needles()
        .into_iter()
        .filter(|(_, n)| bytes.windows(n.len()).any(|w| w == n.as_slice()))
        .map(|(name, _)| name)
        .collect();
    if depth == 0 {
        return found;
    }
    let mut inner = Vec::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let _ = flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut inner);
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        inner = zstd::decode_all(bytes).unwrap_or_default();
    } else if bytes.len() >= 8 && bytes.len().is_multiple_of(2) && bytes.iter().all(u8::is_ascii_hexdigit) {
        inner = hex::decode(bytes).unwrap_or_default();
    }
    if !inner.is_empty() {
        found.extend(hits(&inner, depth - 1).into_iter().map(|h| format!("{h} (encoded)")));
    }
    found
}

/// Every string and blob in a JSON value, searched.
fn json_hits(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.extend(hits(s.as_bytes(), 3)),
        serde_json::Value::Number(n) => out.extend(hits(n.to_string().as_bytes(), 0)),
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_hits(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| json_hits(v, out)),
        _ => {}
    }
}

/// The rows of a Parquet file, as text.
fn parquet_rows(bytes: Vec<u8>) -> Vec<String> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    if bytes.is_empty() {
        return Vec::new();
    }
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).expect("a Parquet file");
    reader
        .get_row_iter(None)
        .expect("rows")
        .map(|row| row.expect("a row").to_string())
        .collect()
}

/// Searches one export (any format); returns (rows, hits).
fn audit_export(format: &str, bytes: Vec<u8>) -> (usize, Vec<String>) {
    let mut found = hits(&bytes, 3);
    let rows = match format {
        "parquet" => {
            let rows = parquet_rows(bytes);
            rows.iter().for_each(|r| found.extend(hits(r.as_bytes(), 3)));
            rows.len()
        }
        "jsonl" => String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.is_empty())
            .count(),
        _ => String::from_utf8_lossy(&bytes).lines().count().saturating_sub(1),
    };
    (rows, found)
}

/// One backend's run.
enum Backend {
    Embedded,
    ClickHouse(clickhouse::ClickHouseServer),
}

impl Backend {
    fn store(&self, dir: &Path) -> String {
        match self {
            Backend::Embedded => format!("sqlite:{}", dir.join("vigil.db").display()),
            Backend::ClickHouse(server) => format!("clickhouse://127.0.0.1:{}/vigil_audit", server.http_port),
        }
    }

    /// Every stored byte searched: (what was searched, hits).
    fn audit_store(&self, dir: &Path) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        match self {
            Backend::Embedded => {
                for entry in std::fs::read_dir(dir).expect("store dir").flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.starts_with("vigil.db") {
                        let bytes = std::fs::read(entry.path()).expect("store file");
                        out.push((format!("file {name} ({} bytes)", bytes.len()), hits(&bytes, 0)));
                    }
                }
                let db = rusqlite::Connection::open(dir.join("vigil.db")).expect("open store");
                let mut tables = db
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .expect("tables");
                let names: Vec<String> = tables
                    .query_map([], |r| r.get(0))
                    .expect("tables")
                    .collect::<Result<_, _>>()
                    .expect("names");
                for table in names {
                    let mut found = Vec::new();
                    let mut rows = 0usize;
                    let mut select = db.prepare(&format!("SELECT * FROM \"{table}\"")).expect("select");
                    let columns = select.column_count();
                    let mut cursor = select.query([]).expect("query");
                    while let Some(row) = cursor.next().expect("row") {
                        rows += 1;
                        for i in 0..columns {
                            match row.get_ref(i).expect("cell") {
                                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                                    found.extend(hits(t, 3));
                                }
                                rusqlite::types::ValueRef::Integer(n) => {
                                    found.extend(hits(n.to_string().as_bytes(), 0))
                                }
                                _ => {}
                            }
                        }
                    }
                    out.push((format!("table {table} ({rows} rows)"), found));
                }
            }
            Backend::ClickHouse(server) => {
                let (status, list) = http("POST", server.http_port, "/", "SHOW TABLES FROM vigil_audit");
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&list));
                let tables: Vec<String> = String::from_utf8_lossy(&list).lines().map(str::to_owned).collect();
                assert!(tables.iter().any(|t| t == "signed_batches"), "{tables:?}");
                for table in tables {
                    let (status, body) = http(
                        "POST",
                        server.http_port,
                        "/",
                        &format!("SELECT * FROM vigil_audit.`{table}` FORMAT JSONEachRow"),
                    );
                    assert_eq!(status, 200, "{table}: {}", String::from_utf8_lossy(&body));
                    let mut found = hits(&body, 0);
                    let mut rows = 0usize;
                    for line in String::from_utf8_lossy(&body).lines() {
                        rows += 1;
                        let row: serde_json::Value = serde_json::from_str(line).expect("a JSON row");
                        json_hits(&row, &mut found);
                    }
                    out.push((format!("table {table} ({rows} rows)"), found));
                }
            }
        }
        out
    }
}

/// Runs `vigil-collector ARGS` inside the far side's namespace.
fn collector_cli(bin: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("ip")
        .args(["netns", "exec", NS_NET])
        .arg(bin)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("vigil-collector runs");
    assert!(
        out.status.success(),
        "vigil-collector {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .map(|a| a.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is missing: run `cargo build --workspace --bins` first"))
}

/// One full flow on one backend: measure, upload, then search everything.
fn flow(backend: &Backend, dir: &Path) {
    std::fs::create_dir_all(dir).expect("run dir");
    let collector_bin = workspace_binary("vigil-collector");
    let probe_bin = workspace_binary("vigil-probe");
    let store = backend.store(dir);
    let config = dir.join("collector.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{NET}:{COLLECTOR_PORT}\"\nstore = \"{store}\"\nbucket_secs = 10\n\n[classifier]\n\
             interval_secs = 2\nwindow_secs = 1800\nsettle_secs = 2\n\n[ingest]\nrequire_signatures = true\n"
        ),
    )
    .expect("collector config");
    let log = std::fs::File::create(dir.join("collector.log")).expect("log");
    let mut child = Command::new("ip")
        .args(["netns", "exec", NS_NET])
        .arg(&collector_bin)
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("collector starts");
    let mut first = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut first);
    }
    let collector = Process(child);
    assert!(first.contains("listening"), "collector did not start: {first:?}");

    // The probe: a signing key, registered with it.
    let state = dir.join("probe-state");
    std::fs::create_dir_all(&state).expect("state dir");
    let key = Command::new(&probe_bin)
        .args(["register", "--json", "--state-dir"])
        .arg(&state)
        .output()
        .expect("vigil-probe register");
    let key: serde_json::Value = serde_json::from_slice(&key.stdout).expect("register prints JSON");
    let public_key = key["public_key"].as_str().expect("a public key").to_owned();
    let added = collector_cli(
        &collector_bin,
        &[
            "probe",
            "add",
            "--name",
            "volunteer-home",
            "--country",
            "XL",
            "--asn",
            "64501",
            "--region",
            "north",
            "--pubkey",
            &public_key,
            "--store",
            &store,
            "--json",
        ],
    );
    let added: serde_json::Value = serde_json::from_slice(&added.stdout).expect("probe add prints JSON");
    let token = added["token"].as_str().expect("token");
    let probe_config = dir.join("probe.toml");
    std::fs::write(
        &probe_config,
        format!(
            "[collector]\nurl = \"http://{NET}:{COLLECTOR_PORT}\"\ntoken = \"{token}\"\n\n\
             [probe]\nstate_dir = \"{}\"\ncycle_secs = 5\nlist_cycle_secs = 5\ndaily_budget_mb = 10000\nconcurrency = 4\n\n\
             [[anchors]]\ntarget = \"http://echo.vigil.test/\"\nscope = \"international\"\n\n\
             [[anchors]]\ntarget = \"http://whoami.vigil.test:81/\"\nscope = \"international\"\n\n\
             [[anchors]]\ntarget = \"http://{NET}:81/\"\nscope = \"international\"\n\n\
             [[resolvers]]\naddress = \"udp://{NET}:53\"\ncontrol = true\n\n\
             [dns]\ninclude_system = true\nflag_bogon_answers = false\n\n[lists]\nfiles = []\n\n\
             [vitals]\ntrust_wall_clock = true\n\n\
             [timeouts]\ndns_secs = 1.0\nconnect_secs = 1.5\nhttp_secs = 3.0\nupload_secs = 4.0\n\n\
             [upload]\nmax_backoff_secs = 2\n",
            state.display()
        ),
    )
    .expect("probe config");
    let probe = Process(
        servers::spawn(
            NS_PROBE,
            &probe_bin.display().to_string(),
            &["run", "--config", &probe_config.display().to_string()],
            &dir.join("probe.log"),
        )
        .expect("probe starts"),
    );

    // Wait until the evidence that carried the public address is stored — withheld.
    let export = |kind: &str| -> Vec<serde_json::Value> {
        let (status, body) = http(
            "GET",
            COLLECTOR_PORT,
            &format!("/api/v1/export?dataset=measurements&format=jsonl&kind={kind}"),
            "",
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        String::from_utf8_lossy(&body)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let withheld_hop = |row: &serde_json::Value| {
        row["result"]["hops"].as_array().is_some_and(|hops| {
            hops.iter()
                .any(|h| h["ip"].is_null() && h["local"] == true && h["rtt_ms"].is_number())
        })
    };
    let evidence = wait_until(Duration::from_secs(120), || {
        let traces = export("trace");
        let dns = export("dns");
        let web = export("http");
        traces.iter().filter(|r| withheld_hop(r)).count() >= 2
            && dns.iter().any(|r| {
                r["result"]["query"] == "whoami.vigil.test"
                    && r["result"]["answers"][0]["data"] == vigil_measurement::SCRUBBED
            })
            && web.iter().any(|r| {
                r["result"]["title"]
                    .as_str()
                    .is_some_and(|t| t.contains("host c-[scrubbed].isp.example"))
            })
            && web.iter().any(|r| {
                r["result"]["status"] == 200
                    && r["result"]["redirects"]
                        .as_array()
                        .is_some_and(|rd| rd.iter().any(|u| u.as_str().is_some_and(|u| u.contains("client="))))
            })
    });
    let probe_log_text = std::fs::read_to_string(dir.join("probe.log")).unwrap_or_default();
    assert!(
        evidence,
        "the withheld evidence did not arrive within 120 s; traces: {:?}\nprobe log:\n{probe_log_text}",
        export("trace")
    );
    // The address really was in what the probe measured, and the collector caught it: at least one batch was
    // refused naming it, and the probe learnt it.
    let (_, metrics) = http("GET", COLLECTOR_PORT, "/metrics", "");
    let metrics = String::from_utf8_lossy(&metrics).into_owned();
    assert!(
        metrics.lines().any(|l| l.contains("batches_rejected_total")
            && l.contains("probe_address_in_batch")
            && !l.ends_with(" 0")),
        "no batch was refused for carrying the probe's address:\n{metrics}"
    );
    let learnt = std::fs::read_to_string(state.join("own_addresses")).expect("the probe learnt its address");
    assert!(learnt.lines().any(|l| l == PUBLIC), "{learnt}");
    let access_log = std::fs::read(dir.parent().expect("parent").join("servers/nginx/logs/access.log")).expect("log");
    assert!(
        hits(&access_log, 0).iter().any(|h| h == PUBLIC),
        "the web server saw the probe's public address (the audit can find it where it is)"
    );
    probe.terminate();

    // Every public API answer.
    let mut findings: Vec<(String, Vec<String>)> = Vec::new();
    let api_paths = [
        "/".to_owned(),
        "/api/v1/probes".to_owned(),
        "/api/v1/events".to_owned(),
        "/api/v1/events.atom".to_owned(),
        format!(
            "/api/v1/timeline?country=XL&from={}&to={}",
            (chrono::Utc::now() - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ"),
            (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ")
        ),
        "/metrics".to_owned(),
    ];
    for path in api_paths {
        let (status, body) = http("GET", COLLECTOR_PORT, &path, "");
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        findings.push((format!("GET {path}"), hits(&body, 3)));
    }
    let mut exported_rows = 0;
    for dataset in ["measurements", "vitals", "events"] {
        for format in ["csv", "jsonl", "parquet"] {
            let path = format!("/api/v1/export?dataset={dataset}&format={format}");
            let (status, body) = http("GET", COLLECTOR_PORT, &path, "");
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
            let (rows, found) = audit_export(format, body);
            exported_rows += rows;
            findings.push((format!("GET {path} ({rows} rows)"), found));
        }
    }
    collector.terminate();

    // Exports from the command line, and the signed archive re-verified (stored exactly as signed).
    for dataset in ["measurements", "vitals", "events"] {
        for format in ["csv", "jsonl", "parquet"] {
            let out = dir.join(format!("export-{dataset}.{format}"));
            collector_cli(
                &collector_bin,
                &[
                    "export",
                    "--store",
                    &store,
                    "--dataset",
                    dataset,
                    "--format",
                    format,
                    "--out",
                    &out.display().to_string(),
                ],
            );
            let (rows, found) = audit_export(format, std::fs::read(&out).expect("export file"));
            exported_rows += rows;
            findings.push((
                format!("vigil-collector export --dataset {dataset} --format {format} ({rows} rows)"),
                found,
            ));
        }
    }
    assert!(exported_rows > 0, "the exports are not empty");
    let verified = collector_cli(&collector_bin, &["verify", "--store", &store, "--json"]);
    let verified: serde_json::Value = serde_json::from_slice(&verified.stdout).expect("verify prints JSON");
    assert!(verified["batches"].as_u64().unwrap_or(0) > 0, "{verified}");
    assert_eq!(verified["findings"], serde_json::json!([]), "{verified}");

    findings.extend(backend.audit_store(dir));
    for (what, found) in &findings {
        eprintln!("searched {what}: {} hits", found.len());
    }
    assert!(findings.len() > 20, "the audit searched everything: {findings:?}");
    let leaks: Vec<_> = findings.iter().filter(|(_, found)| !found.is_empty()).collect();
    assert!(leaks.is_empty(), "the probe's addresses were found: {leaks:#?}");
}

#[test]
fn no_store_export_or_api_answer_reveals_the_probes_address() {
    preflight().expect("the privacy audit needs root and the lab's tools");
    let work = tempfile::Builder::new()
        .prefix("vigil-privacy-")
        .tempdir()
        .expect("work dir");
    let _topology = Topology::build();
    let servers_dir = work.path().join("servers");
    std::fs::create_dir_all(&servers_dir).expect("servers dir");
    let _servers = start_servers(&servers_dir);
    // The rest runs from a thread inside the far side's namespace: ClickHouse and the API on its addresses.
    let dir = work.path().to_owned();
    let audit = std::thread::spawn(move || {
        let netns = std::fs::File::open(format!("/run/netns/{NS_NET}")).expect("the namespace");
        rustix::thread::move_into_link_name_space(netns.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network))
            .expect("setns");
        flow(&Backend::Embedded, &dir.join("embedded"));
        let server = clickhouse::ClickHouseServer::start();
        flow(&Backend::ClickHouse(server), &dir.join("clickhouse"));
    });
    if let Err(panic) = audit.join() {
        eprintln!("logs kept in {}", work.keep().display());
        std::panic::resume_unwind(panic);
    }
}
