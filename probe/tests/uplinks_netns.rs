//! A probe with two uplinks, on a real kernel, in network namespaces this test creates (10.78.x addresses inside
//! them only; torn down at the end, pass or fail). Both sides answer at the *same* addresses, each in its own way,
//! so every check shows which interface it really left by:
//!
//! ```text
//!                 ┌─ wan ── 10.78.1.1  W ns: 10.78.9.9 web "via wan", 10.78.9.53 DNS (TTL 111), nft counters
//!  probe ns ──────┤        (default route, metric 100)
//!  10.78.1.2      └─ sat ── 10.78.2.1  S ns: 10.78.9.9 web "via sat", 10.78.9.53 DNS (TTL 222), nft counters
//!  10.78.2.2               (default route, metric 200)
//! ```
//!
//! The real `vigil-probe once` runs in the probe namespace: as root (each uplink bound to its device), with the
//! wan side's link down (the satellite side still measures, the wan vitals say the link is down), and as
//! `nobody` (no CAP_NET_RAW: bound to the source address, with the policy routing the warning asks for). Needs
//! root: without it the runner reports the test *ignored* with the reason (a failure under `VIGIL_REQUIRE_ALL=1`).

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Completion, Trial};
use vigil_measurement::{Measurement, MeasurementResult, Outcome};

#[path = "support/precondition.rs"]
#[allow(dead_code)]
mod precondition;

fn main() {
    let args = Arguments::from_args();
    let trials = vec![Trial::ignorable_test(
        "each_uplink_measures_through_its_own_interface",
        || {
            if !precondition::is_root() {
                return precondition::unmet("needs root (network namespaces, raw sockets)");
            }
            each_uplink_measures_through_its_own_interface();
            Ok(Completion::Completed)
        },
    )];
    libtest_mimic::run(&args, trials).exit();
}

fn run(cmd: &str) {
    let status = Command::new("sh").args(["-c", cmd]).status().expect("sh runs");
    assert!(status.success(), "failed: {cmd}");
}

/// The namespaces, servers and the probe namespace's resolv.conf; removed on drop.
struct Lab {
    id: String,
    children: Vec<std::process::Child>,
    dir: tempfile::TempDir,
}

impl Lab {
    fn ns(&self, role: &str) -> String {
        format!("vgu{role}{}", self.id)
    }

    /// The probe's interface towards `side` (`w` or `s`), and the side's end of it.
    fn dev(&self, side: &str) -> String {
        format!("vu{side}{}", self.id)
    }

    fn peer(&self, side: &str) -> String {
        format!("vu{side}r{}", self.id)
    }

    fn build() -> Self {
        let id = format!("{}", std::process::id() % 100_000);
        let dir = tempfile::tempdir().expect("temp dir");
        let mut lab = Lab {
            id,
            children: Vec::new(),
            dir,
        };
        let p = lab.ns("p");
        run(&format!("ip netns add {p} && ip -n {p} link set lo up"));
        for (side, subnet, label, ttl) in [("w", 1, "wan", 111), ("s", 2, "sat", 222)] {
            let ns = lab.ns(side);
            let (dev, peer) = (lab.dev(side), lab.peer(side));
            run(&format!("ip netns add {ns} && ip -n {ns} link set lo up"));
            run(&format!(
                "ip link add {dev} netns {p} type veth peer name {peer} netns {ns}"
            ));
            run(&format!("ip -n {p} addr add 10.78.{subnet}.2/24 dev {dev}"));
            run(&format!("ip -n {ns} addr add 10.78.{subnet}.1/24 dev {peer}"));
            run(&format!("ip -n {p} link set {dev} up && ip -n {ns} link set {peer} up"));
            run(&format!(
                "ip -n {ns} addr add 10.78.9.9/32 dev lo && ip -n {ns} addr add 10.78.9.53/32 dev lo"
            ));
            run(&format!(
                "ip -n {p} route add default via 10.78.{subnet}.1 dev {dev} metric {}",
                subnet * 100
            ));
            let rules = "table inet vigil_count {\n chain input {\n  type filter hook input priority 0; policy accept;\n  \
                         ip daddr 10.78.9.9 icmp type echo-request counter\n  \
                         ip daddr 10.78.9.9 tcp dport 8080 tcp flags syn / syn,ack counter\n  \
                         ip daddr 10.78.9.53 udp dport 53 counter\n }\n}\n";
            let mut nft = Command::new("ip")
                .args(["netns", "exec", &ns, "nft", "-f", "-"])
                .stdin(Stdio::piped())
                .spawn()
                .expect("nft runs");
            std::io::Write::write_all(nft.stdin.as_mut().expect("stdin"), rules.as_bytes()).expect("rules");
            assert!(nft.wait().expect("nft").success(), "nft rules");
            let web = lab.dir.path().join(label);
            std::fs::create_dir_all(&web).expect("web dir");
            std::fs::write(
                web.join("index.html"),
                format!("<html><head><title>via {label}</title></head><body>{label}</body></html>"),
            )
            .expect("page");
            let server = Command::new("ip")
                .args(["netns", "exec", &ns, "/usr/bin/python3", "-m", "http.server", "8080"])
                .args(["--bind", "10.78.9.9", "--directory"])
                .arg(&web)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("web server starts");
            lab.children.push(server);
            let dns = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &ns,
                    "dnsmasq",
                    "--keep-in-foreground",
                    "--no-resolv",
                    "--no-hosts",
                ])
                .args([
                    "--listen-address=10.78.9.53",
                    "--bind-interfaces",
                    "--port=53",
                    "--user=root",
                ])
                .arg(format!("--host-record=anchor.test,10.78.9.9,{ttl}"))
                .arg(format!(
                    "--pid-file={}",
                    lab.dir.path().join(format!("{label}.pid")).display()
                ))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("dnsmasq starts");
            lab.children.push(dns);
            wait_listening(&ns, "10.78.9.9:8080", "-ltn");
            wait_listening(&ns, "10.78.9.53:53", "-lun");
        }
        // The probe namespace's resolv.conf (`ip netns exec` mounts it over /etc/resolv.conf).
        let etc = format!("/etc/netns/{p}");
        std::fs::create_dir_all(&etc).expect("/etc/netns");
        std::fs::write(format!("{etc}/resolv.conf"), "nameserver 10.78.9.53\n").expect("resolv.conf");
        // Unprivileged ping sockets for every group, in the probe namespace only.
        run(&format!(
            "ip netns exec {p} sysctl -qw net.ipv4.ping_group_range='0 2147483647'"
        ));
        lab
    }

    /// The nft counters of `side`: ICMP echo requests, TCP SYNs to the web server, DNS queries.
    fn counters(&self, side: &str) -> [u64; 3] {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns(side),
                "nft",
                "list",
                "chain",
                "inet",
                "vigil_count",
                "input",
            ])
            .output()
            .expect("nft lists");
        let text = String::from_utf8_lossy(&out.stdout);
        let packets: Vec<u64> = text
            .split("counter packets ")
            .skip(1)
            .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
            .collect();
        packets
            .try_into()
            .unwrap_or_else(|p| panic!("three counters in {text}: {p:?}"))
    }

    /// The counters of `side` since `before`.
    fn counted_since(&self, side: &str, before: [u64; 3]) -> [u64; 3] {
        let now = self.counters(side);
        [now[0] - before[0], now[1] - before[1], now[2] - before[2]]
    }

    /// Runs `vigil-probe once` with both uplinks in the probe namespace, as `user` when given; its measurements
    /// and its log.
    fn probe_once(&self, user: Option<&str>, bind: &str) -> (Vec<Measurement>, String) {
        let state = self.dir.path().join(format!("state-{}", user.unwrap_or("root")));
        let config = self.dir.path().join(format!("probe-{}.toml", user.unwrap_or("root")));
        std::fs::write(
            &config,
            format!(
                "[collector]\nurl = \"http://127.0.0.1:9\"\ntoken = \"vgl_unused\"\n[probe]\nstate_dir = \"{}\"\n\
                 [[anchors]]\ntarget = \"http://anchor.test:8080/\"\nscope = \"international\"\n\
                 [dns]\nflag_bogon_answers = false\n\
                 [timeouts]\ndns_secs = 1.5\nconnect_secs = 1.5\nhttp_secs = 2.0\n\
                 [[uplinks]]\nname = \"wan\"\ninterface = \"{}\"\naccess = \"fixed\"\nbind = \"{bind}\"\n\
                 [[uplinks]]\nname = \"sat\"\ninterface = \"{}\"\naccess = \"satellite\"\nbind = \"{bind}\"\n",
                state.display(),
                self.dev("w"),
                self.dev("s"),
            ),
        )
        .expect("config");
        run(&format!(
            "chmod 755 {0} && chmod 644 {1}",
            self.dir.path().display(),
            config.display()
        ));
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.ns("p")]);
        if let Some(user) = user {
            command.args(["runuser", "-u", user, "--"]);
        }
        let out = command
            .arg(env!("CARGO_BIN_EXE_vigil-probe"))
            .args(["once", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .output()
            .expect("vigil-probe runs");
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{log}");
        let measurements = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| Measurement::from_json_slice(l.as_bytes()).expect("schema-1 line"))
            .collect();
        (measurements, log)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for role in ["p", "w", "s"] {
            let _ = Command::new("ip").args(["netns", "del", &self.ns(role)]).status();
        }
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.ns("p")));
    }
}

fn wait_listening(ns: &str, address: &str, flags: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "ss", flags])
            .output()
            .expect("ss");
        if String::from_utf8_lossy(&out.stdout).contains(address) {
            return;
        }
        assert!(Instant::now() < deadline, "nothing listens on {address} in {ns}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What one uplink's measurements of a `once` run say.
#[derive(Debug, Default)]
struct Seen {
    vitals: Vec<(bool, bool)>,
    http: Vec<(Outcome, Option<String>)>,
    dns_a_ttls: Vec<Option<u32>>,
    icmp: Vec<Outcome>,
    tcp: Vec<Outcome>,
}

fn by_uplink(measurements: &[Measurement]) -> HashMap<String, Seen> {
    let mut out: HashMap<String, Seen> = HashMap::new();
    for m in measurements {
        let name = m.uplink.as_ref().map_or("(none)".to_owned(), |u| u.name.clone());
        let seen = out.entry(name).or_default();
        match &m.result {
            MeasurementResult::Vitals(v) => seen.vitals.push((v.link_up, v.gateway_reachable)),
            MeasurementResult::Http(h) => seen.http.push((h.outcome, h.title.clone())),
            MeasurementResult::Dns(d) if d.qtype == "A" => {
                seen.dns_a_ttls.push(d.answers.first().and_then(|a| a.ttl));
            }
            MeasurementResult::Icmp(i) => seen.icmp.push(i.outcome),
            MeasurementResult::Tcp(t) => seen.tcp.push(t.outcome),
            _ => {}
        }
    }
    out
}

fn each_uplink_measures_through_its_own_interface() {
    let lab = Lab::build();

    // Both sides up, as root: each uplink bound to its device.
    let (measurements, log) = lab.probe_once(None, "auto");
    let seen = by_uplink(&measurements);
    assert!(
        !seen.contains_key("(none)"),
        "every measurement names its uplink: {seen:?}"
    );
    assert!(
        measurements
            .iter()
            .filter_map(|m| m.uplink.as_ref())
            .all(|u| (u.name == "wan") == (u.access == vigil_measurement::UplinkAccess::Fixed)),
        "each uplink's declared access travels with it"
    );
    for (name, ttl) in [("wan", 111), ("sat", 222)] {
        let s = &seen[name];
        assert_eq!(
            s.vitals,
            [(true, true)],
            "{name}: its link up, its gateway answering; {log}"
        );
        assert_eq!(s.http, [(Outcome::Ok, Some(format!("via {name}")))], "{name}: {log}");
        assert_eq!(s.dns_a_ttls, [Some(ttl)], "{name}'s resolver answered its DNS check");
        assert_eq!(s.icmp, [Outcome::Ok], "{name}");
        assert_eq!(s.tcp, [Outcome::Ok], "{name}");
    }
    // Each side's counters saw exactly one uplink's share: 3 echo requests, a raw SYN and the HTTP connect's SYN,
    // and DNS queries (the check's and the name lookup's).
    let (wan, sat) = (lab.counters("w"), lab.counters("s"));
    assert_eq!(wan[..2], [3, 2], "wan side: {wan:?}");
    assert_eq!(sat[..2], [3, 2], "sat side: {sat:?}");
    assert!(wan[2] >= 2 && sat[2] >= 2, "DNS on both sides: {wan:?} {sat:?}");

    // The wan side's link goes down: the satellite uplink still measures; the wan vitals say why wan is silent.
    run(&format!("ip -n {} link set {} down", lab.ns("w"), lab.peer("w")));
    let before = lab.counters("w");
    let (measurements, log) = lab.probe_once(None, "auto");
    let seen = by_uplink(&measurements);
    assert_eq!(
        seen["wan"].vitals,
        [(false, false)],
        "wan: no carrier, no gateway; {log}"
    );
    assert!(
        seen["wan"].http.iter().all(|(o, _)| *o != Outcome::Ok),
        "{:?}",
        seen["wan"]
    );
    assert_eq!(seen["sat"].vitals, [(true, true)]);
    assert_eq!(seen["sat"].http, [(Outcome::Ok, Some("via sat".to_owned()))], "{log}");
    assert_eq!(
        lab.counted_since("w", before),
        [0, 0, 0],
        "nothing reached the wan side"
    );
    run(&format!("ip -n {} link set {} up", lab.ns("w"), lab.peer("w")));

    // As `nobody`, `auto` binds the device too (Linux 5.7 and later allow an unprivileged socket one binding).
    let (measurements, log) = lab.probe_once(Some("nobody"), "auto");
    let seen = by_uplink(&measurements);
    for name in ["wan", "sat"] {
        assert_eq!(
            seen[name].http,
            [(Outcome::Ok, Some(format!("via {name}")))],
            "{name}: {log}"
        );
    }
    assert!(!log.contains("policy routing"), "no fallback needed: {log}");

    // As `nobody`, bound to each interface's address (`bind = "address"`, which is also what `auto` falls back to
    // where the kernel refuses an unprivileged device binding, before Linux 5.7): it leaves by its interface with
    // the policy routing the probe's warning asks for.
    let p = lab.ns("p");
    for (subnet, dev) in [(1, lab.dev("w")), (2, lab.dev("s"))] {
        let table = 100 + subnet;
        run(&format!("ip -n {p} rule add from 10.78.{subnet}.2 table {table}"));
        run(&format!(
            "ip -n {p} route add default via 10.78.{subnet}.1 dev {dev} table {table}"
        ));
    }
    wait_carrier(&lab);
    let before = (lab.counters("w"), lab.counters("s"));
    let (measurements, log) = lab.probe_once(Some("nobody"), "address");
    let seen = by_uplink(&measurements);
    for (name, ttl) in [("wan", 111), ("sat", 222)] {
        let s = &seen[name];
        assert_eq!(s.http, [(Outcome::Ok, Some(format!("via {name}")))], "{name}: {log}");
        assert_eq!(s.dns_a_ttls, [Some(ttl)], "{name}");
        assert_eq!(s.icmp, [Outcome::Ok], "{name}: ping socket by source address");
    }
    let (wan, sat) = (lab.counted_since("w", before.0), lab.counted_since("s", before.1));
    assert_eq!((wan[0], sat[0]), (3, 3), "echo requests: {wan:?} {sat:?}");
}

/// Waits until the wan interface has its carrier back (its routes are usable again).
fn wait_carrier(lab: &Lab) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new("ip")
            .args(["-n", &lab.ns("p"), "link", "show", &lab.dev("w")])
            .output()
            .expect("ip link");
        if !String::from_utf8_lossy(&out.stdout).contains("NO-CARRIER") {
            return;
        }
        assert!(Instant::now() < deadline, "the wan link did not come back");
        std::thread::sleep(Duration::from_millis(50));
    }
}
