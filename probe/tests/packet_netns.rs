//! Packet-level checks on a real kernel, in network namespaces this test creates (10.77.x addresses inside
//! them only; torn down at the end, pass or fail):
//!
//! ```text
//!  probe ns  10.77.0.2 ── 10.77.0.1  router ns  10.77.1.1 ── 10.77.1.2  server ns (TTL 128, web on :8080)
//!                                    nft: :8082 dropped, :8083 RST injected (TTL 64),
//!                                         10.77.1.4 admin-prohibited, 10.77.1.5 dropped,
//!                                         10.77.9.0/24 unreachable
//! ```
//!
//! The checks run in-process inside the probe namespace (this test binary re-executed under `ip netns exec`),
//! and the real `vigil-probe` binary runs there as `nobody` for the unprivileged fallback. Needs root: without it
//! the runner reports the test *ignored* with the reason (a failure under `VIGIL_REQUIRE_ALL=1`, as in CI).

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vigil_measurement::Outcome;
use vigil_measurement::result::{IcmpResult, TcpResult, TraceResult};
use vigil_probe::icmp::{IcmpSettings, ping};
use vigil_probe::syn::{SynAckTtls, probe};
use vigil_probe::trace::{TraceProtocol, TraceSettings, trace};
use vigil_probe::{PacketMode, detect_packet_mode};

#[path = "support/precondition.rs"]
#[allow(dead_code)]
mod precondition;

use libtest_mimic::{Arguments, Completion, Trial};

const CHILD: &str = "VIGIL_NETNS_CHILD";

fn main() {
    let args = Arguments::from_args();
    let trials = vec![
        Trial::ignorable_test("packet_checks_in_namespaces", || {
            if !precondition::is_root() {
                return precondition::unmet("needs root (network namespaces, raw sockets)");
            }
            packet_checks_in_namespaces();
            Ok(Completion::Completed)
        }),
        // Run by packet_checks_in_namespaces inside the probe namespace, never on its own.
        Trial::test("netns_child", || {
            netns_child();
            Ok(())
        })
        .with_ignored_flag(true),
    ];
    libtest_mimic::run(&args, trials).exit();
}

fn run(cmd: &str) {
    let status = Command::new("sh").args(["-c", cmd]).status().expect("sh runs");
    assert!(status.success(), "failed: {cmd}");
}

/// The namespaces; deleted on drop.
struct Lab {
    id: String,
    server: Option<std::process::Child>,
}

impl Lab {
    fn ns(&self, role: &str) -> String {
        format!("vgl{role}{}", self.id)
    }

    fn build() -> Self {
        let id = format!("{}", std::process::id() % 100_000);
        let mut lab = Lab { id, server: None };
        let (p, r, s) = (lab.ns("p"), lab.ns("r"), lab.ns("s"));
        let v = |end: &str| format!("v{end}{}", lab.id);
        for ns in [&p, &r, &s] {
            run(&format!("ip netns add {ns}"));
            run(&format!("ip -n {ns} link set lo up"));
        }
        run(&format!(
            "ip link add {} netns {p} type veth peer name {} netns {r}",
            v("pa"),
            v("ra")
        ));
        run(&format!(
            "ip link add {} netns {s} type veth peer name {} netns {r}",
            v("sa"),
            v("rb")
        ));
        run(&format!("ip -n {p} addr add 10.77.0.2/24 dev {}", v("pa")));
        run(&format!("ip -n {r} addr add 10.77.0.1/24 dev {}", v("ra")));
        run(&format!("ip -n {r} addr add 10.77.1.1/24 dev {}", v("rb")));
        run(&format!("ip -n {s} addr add 10.77.1.2/24 dev {}", v("sa")));
        for (ns, dev) in [(&p, v("pa")), (&r, v("ra")), (&r, v("rb")), (&s, v("sa"))] {
            run(&format!("ip -n {ns} link set {dev} up"));
        }
        run(&format!("ip -n {p} route add default via 10.77.0.1"));
        run(&format!("ip -n {s} route add default via 10.77.1.1"));
        run(&format!("ip -n {r} route add unreachable 10.77.9.0/24"));
        run(&format!("ip netns exec {r} sysctl -qw net.ipv4.ip_forward=1"));
        // A server whose packets start at TTL 128, so a router-forged RST (TTL 64) stands out.
        run(&format!("ip netns exec {s} sysctl -qw net.ipv4.ip_default_ttl=128"));
        // Unprivileged ping sockets for every group, in the probe namespace only.
        run(&format!(
            "ip netns exec {p} sysctl -qw net.ipv4.ping_group_range='0 2147483647'"
        ));
        let rules = "table inet vigil_test {\n chain forward {\n  type filter hook forward priority 0; policy accept;\n  \
                     ip daddr 10.77.1.2 tcp dport 8082 drop\n  ip daddr 10.77.1.2 tcp dport 8083 reject with tcp reset\n  \
                     ip daddr 10.77.1.4 reject with icmp type admin-prohibited\n  ip daddr 10.77.1.5 drop\n }\n}\n";
        let mut nft = Command::new("ip")
            .args(["netns", "exec", &r, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft runs");
        std::io::Write::write_all(nft.stdin.as_mut().expect("stdin"), rules.as_bytes()).expect("rules");
        assert!(nft.wait().expect("nft").success(), "nft rules");
        let server = Command::new("ip")
            .args([
                "netns",
                "exec",
                &s,
                "/usr/bin/python3",
                "-m",
                "http.server",
                "8080",
                "--bind",
                "10.77.1.2",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("web server starts");
        lab.server = Some(server);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = Command::new("ip")
                .args(["netns", "exec", &s, "ss", "-ltn"])
                .output()
                .expect("ss");
            if String::from_utf8_lossy(&out.stdout).contains("10.77.1.2:8080") {
                break;
            }
            assert!(Instant::now() < deadline, "the web server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        for role in ["p", "r", "s"] {
            let _ = Command::new("ip").args(["netns", "del", &self.ns(role)]).status();
        }
    }
}

/// The child: runs the checks inside the probe namespace and prints one `NAME JSON` line each.
fn netns_child() {
    assert!(std::env::var_os(CHILD).is_some(), "run by the parent test");
    let mode = detect_packet_mode();
    assert_eq!(mode, PacketMode::Raw, "the child runs as root");
    let v4 = |s: &str| s.parse::<Ipv4Addr>().expect("ip");
    let icmp = IcmpSettings {
        count: 2,
        timeout: Duration::from_millis(700),
    };
    let out = |name: &str, json: String| println!("RESULT {name} {json}");
    out("icmp_ok", json(&ping(v4("10.77.1.2"), icmp, mode, None)));
    out("icmp_unreachable", json(&ping(v4("10.77.9.9"), icmp, mode, None)));
    out("icmp_prohibited", json(&ping(v4("10.77.1.4"), icmp, mode, None)));
    let ttls = SynAckTtls::default();
    let t = Duration::from_millis(1500);
    out("syn_open", json(&probe(v4("10.77.1.2"), 8080, t, &ttls, None)));
    out("syn_closed", json(&probe(v4("10.77.1.2"), 8081, t, &ttls, None)));
    out("syn_filtered", json(&probe(v4("10.77.1.2"), 8082, t, &ttls, None)));
    out("syn_injected", json(&probe(v4("10.77.1.2"), 8083, t, &ttls, None)));
    let settings = TraceSettings {
        max_hops: 6,
        hop_timeout: Duration::from_millis(500),
        give_up_after: 2,
        ..TraceSettings::default()
    };
    out(
        "trace_reached",
        json(&trace(v4("10.77.1.2"), TraceProtocol::Icmp, &settings)),
    );
    out(
        "trace_dropped",
        json(&trace(v4("10.77.1.5"), TraceProtocol::Icmp, &settings)),
    );
    out(
        "trace_tcp_filtered",
        json(&trace(v4("10.77.1.2"), TraceProtocol::Tcp(8082), &settings)),
    );
    let local = vigil_probe::read_local(&vigil_probe::VitalsSources::default());
    out("gateway", serde_json::json!({"route": local.route.as_ref().and_then(|r| r.gateway).map(|g| g.to_string()), "link_up": local.link_up, "answers": vigil_probe::icmp::gateway_answers(v4("10.77.0.1"), mode, None).0}).to_string());
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("serializes")
}

fn results(stdout: &[u8]) -> std::collections::HashMap<String, serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.find("RESULT ").map(|at| &l[at + 7..]))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, json)| (name.to_owned(), serde_json::from_str(json).expect("json")))
        .collect()
}

fn icmp(v: &serde_json::Value) -> IcmpResult {
    serde_json::from_value(v.clone()).expect("icmp result")
}

fn tcp(v: &serde_json::Value) -> TcpResult {
    serde_json::from_value(v.clone()).expect("tcp result")
}

fn trace_of(v: &serde_json::Value) -> TraceResult {
    serde_json::from_value(v.clone()).expect("trace result")
}

fn packet_checks_in_namespaces() {
    let lab = Lab::build();
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.ns("p")])
        .arg(&exe)
        .args(["--ignored", "--exact", "netns_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("child runs");
    assert!(
        out.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let r = results(&out.stdout);

    // ICMP: reachable, unreachable (router's unreachable route), administratively prohibited (nft reject).
    let ok = icmp(&r["icmp_ok"]);
    assert_eq!(
        (ok.outcome, ok.sent, ok.received, ok.method.as_deref()),
        (Outcome::Ok, 2, 2, Some("raw"))
    );
    assert!(ok.rtt_min_ms.is_some() && ok.rtt_avg_ms.is_some() && ok.rtt_max_ms.is_some());
    let unreachable = icmp(&r["icmp_unreachable"]);
    assert_eq!(
        (unreachable.outcome, unreachable.icmp_type),
        (Outcome::Unreachable, Some(3))
    );
    let prohibited = icmp(&r["icmp_prohibited"]);
    assert_eq!(
        (prohibited.outcome, prohibited.icmp_type, prohibited.icmp_code),
        (Outcome::Unreachable, Some(3), Some(13))
    );

    // SYN: open, closed (the server's own RST), filtered (silence), injected RST (router-forged, TTL 64).
    let open = tcp(&r["syn_open"]);
    assert_eq!(
        (open.outcome, open.reply.as_deref(), open.reply_ttl),
        (Outcome::Ok, Some("syn_ack"), Some(127))
    );
    let closed = tcp(&r["syn_closed"]);
    assert_eq!(
        (closed.outcome, closed.reply.as_deref(), closed.injected_rst),
        (Outcome::Refused, Some("rst"), Some(false))
    );
    let filtered = tcp(&r["syn_filtered"]);
    assert_eq!(
        (filtered.outcome, filtered.reply.as_deref()),
        (Outcome::Timeout, Some("no_reply"))
    );
    let injected = tcp(&r["syn_injected"]);
    assert_eq!(
        (injected.reply.as_deref(), injected.reply_ttl, injected.injected_rst),
        (Some("rst"), Some(64), Some(true))
    );

    // Trace: the server is two hops away; the dropped address dies right after the router.
    let reached = trace_of(&r["trace_reached"]);
    assert_eq!(reached.outcome, Outcome::Ok);
    let hops: Vec<Option<IpAddr>> = reached.hops.iter().map(|h| h.ip).collect();
    assert_eq!(
        hops,
        [
            Some("10.77.0.1".parse().expect("ip")),
            Some("10.77.1.2".parse().expect("ip"))
        ]
    );
    assert_eq!(reached.hops[0].local, Some(true));
    let dropped = trace_of(&r["trace_dropped"]);
    assert_eq!((dropped.outcome, dropped.stopped_at_ttl), (Outcome::Timeout, Some(2)));
    assert_eq!(dropped.hops[0].ip, Some("10.77.0.1".parse().expect("ip")));
    assert!(dropped.hops[1..].iter().all(|h| h.ip.is_none()));
    let tcp_trace = trace_of(&r["trace_tcp_filtered"]);
    assert_eq!(
        (tcp_trace.protocol.as_deref(), tcp_trace.port, tcp_trace.stopped_at_ttl),
        (Some("tcp"), Some(8082), Some(2))
    );

    // Vitals read the namespace's own route and link, and the gateway answers.
    assert_eq!(r["gateway"]["route"], "10.77.0.1");
    assert_eq!(r["gateway"]["link_up"], true);
    assert_eq!(r["gateway"]["answers"], true);

    unprivileged_fallback_works_as_nobody(&lab);
}

/// The real binary as `nobody` in the probe namespace: ping sockets for ICMP, connect() for TCP, no trace.
fn unprivileged_fallback_works_as_nobody(lab: &Lab) {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(|d| d.join("vigil-probe")))
        .filter(|p| p.is_file());
    let Some(binary) = binary else {
        panic!("vigil-probe is not built next to the tests: run `cargo build --workspace --bins` first");
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("probe.toml");
    std::fs::write(
        &config,
        "[collector]\nurl = \"http://127.0.0.1:9\"\ntoken = \"vgl_unused\"\n[probe]\nstate_dir = \"/tmp\"\n\
         [[anchors]]\ntarget = \"http://10.77.1.2:8080/\"\nscope = \"international\"\n\
         [[anchors]]\ntarget = \"http://10.77.1.2:8082/\"\nscope = \"international\"\n\
         [dns]\ninclude_system = false\n[timeouts]\nconnect_secs = 1.5\nhttp_secs = 2.0\n",
    )
    .expect("config");
    run(&format!(
        "chmod 755 {} && chmod 644 {}",
        dir.path().display(),
        config.display()
    ));
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.ns("p"), "runuser", "-u", "nobody", "--"])
        .arg(&binary)
        .args(["once", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .output()
        .expect("vigil-probe runs as nobody");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("no CAP_NET_RAW") && stderr.contains("setcap cap_net_raw+ep"),
        "says so once, with the fix: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("\"uplink\""),
        "a probe without [[uplinks]] writes what it always wrote: no uplink field"
    );
    let lines: Vec<vigil_measurement::Measurement> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| vigil_measurement::Measurement::from_json_slice(l.as_bytes()).expect("schema-1 line"))
        .collect();
    let icmp_methods: Vec<(Outcome, Option<String>)> = lines
        .iter()
        .filter_map(|m| match &m.result {
            vigil_measurement::MeasurementResult::Icmp(i) => Some((i.outcome, i.method.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        icmp_methods,
        [
            (Outcome::Ok, Some("dgram".to_owned())),
            (Outcome::Ok, Some("dgram".to_owned()))
        ]
    );
    let tcp: Vec<(u16, Outcome, Option<String>)> = lines
        .iter()
        .filter_map(|m| match &m.result {
            vigil_measurement::MeasurementResult::Tcp(t) => Some((t.port, t.outcome, t.method.clone())),
            _ => None,
        })
        .collect();
    assert!(
        tcp.contains(&(8080, Outcome::Ok, Some("connect".to_owned()))),
        "{tcp:?}"
    );
    assert!(
        tcp.contains(&(8082, Outcome::Timeout, Some("connect".to_owned()))),
        "{tcp:?}"
    );
    assert!(
        !lines.iter().any(|m| m.kind() == vigil_measurement::Kind::Trace),
        "no trace without CAP_NET_RAW"
    );
}
