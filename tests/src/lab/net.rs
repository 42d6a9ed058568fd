//! Commands the lab runs (`ip`, `nft`, `tc`, all inside its namespaces), the topology they build, and the
//! teardown that leaves nothing behind.

use std::io::Write;
use std::process::{Command, Stdio};

use super::LabError;
use super::country::{
    APP_SERVER, APP_WEB, BLOCKPAGE, BORDER_LOOPBACK, BORDER_TO_DOM, BORDER_TO_INTL, COLLECTOR, COLLECTOR_GATEWAY,
    DISH_IF, DISH_PREFIX, DOM_LINK, DOMESTIC_WEB, INTL_ANCHORS, INTL_LINK, INTL_TO_SATELLITE, ISPS, NS_BORDER,
    NS_COLLECTOR, NS_DOMESTIC, NS_INTL, NS_PREFIX, NS_SATELLITE, PUBLIC_RESOLVER, SATELLITE_LINK, SITES, Upstream,
    all_probes, border_to_isp, dish_addr, dish_link, dish_probe_addr, has_dish, home_lan, home_upstream, home_wan,
    isp_uplink, namespaces, ns_home, ns_isp, ns_probe, probe_addr, system_resolver, upstream_ns,
};

/// The capacity of the country's international link, in `tc` units. A real probe's speed samples are bound by its
/// own access line (`ACCESS_RATE`), and a country's international capacity dwarfs what its probes fetch. Here the
/// link is 20 access lines wide: the ten probes at home and their test-list passes, all ticking together, rarely
/// fill it, so a probe's sample is slowed by its own line, not by its neighbours' list pages (on a link of two
/// lines they put three-fold dips into every probe's baseline).
pub const INTL_RATE: &str = "1gbit";

/// The capacity of each probe's access line towards it (its home's WAN link), in `tc` units: a common fixed line.
/// Every probe's speed samples are bound by a link of its own — the probes abroad too, whose samples were otherwise
/// bound by the lab's CPU (three-fold dips under load read as their network throttled; a spool draining after a
/// cut slowed unaffected probes' samples to a tenth). At this rate a 64 KiB anchor page takes about 10 ms, so
/// scheduling noise of a millisecond or two moves a sample little.
pub const ACCESS_RATE: &str = "50mbit";

/// The satellite network's forward chain hands what it forwards to `vigil-lab-sky` (NFQUEUE: queue 0 going up, 1
/// coming down), which holds each packet for a satellite's delay and drops some coming down; a queue nobody listens
/// to is bypassed. With iptables: nftables' own `queue` needs `CONFIG_NFT_QUEUE`, which kernels may lack while
/// having the xtables NFQUEUE target.
const SATELLITE_PATH: [[&str; 10]; 2] = [
    [
        "-A",
        "FORWARD",
        "-o",
        "ground",
        "-j",
        "NFQUEUE",
        "--queue-num",
        "0",
        "--queue-bypass",
        "-w",
    ],
    [
        "-A",
        "FORWARD",
        "-i",
        "ground",
        "-j",
        "NFQUEUE",
        "--queue-num",
        "1",
        "--queue-bypass",
        "-w",
    ],
];

/// Caps traffic from abroad into the country at `rate` (a token bucket on the international side of the border).
pub fn shape_international(rate: &str) -> Result<(), LabError> {
    shape(NS_INTL, "uplink", rate)
}

/// Caps what leaves `dev` in namespace `ns` at `rate` (`tc` units: `kbit`, `mbit`, `gbit`), with up to 300 ms of
/// queue, through a token bucket of [`burst_of`] the rate.
fn shape(ns: &str, dev: &str, rate: &str) -> Result<(), LabError> {
    let burst = format!("{}b", burst_of(rate)?);
    run(
        "tc",
        &[
            "-n", ns, "qdisc", "replace", "dev", dev, "root", "tbf", "rate", rate, "burst", &burst, "latency", "300ms",
        ],
    )
    .map(drop)
}

/// A token bucket for `rate`: a millisecond of it, and at least 16 KiB. Smaller than a timer tick's worth, a
/// bucket holds the rate below what is set; much larger, it lets a whole anchor page through a throttle at once.
fn burst_of(rate: &str) -> Result<u64, LabError> {
    let unit = |suffix: &str, bits: u64| {
        rate.strip_suffix(suffix)
            .and_then(|n| n.parse::<u64>().ok())
            .map(|n| n * bits)
    };
    let bits_per_sec = unit("gbit", 1_000_000_000)
        .or_else(|| unit("mbit", 1_000_000))
        .or_else(|| unit("kbit", 1_000))
        .ok_or_else(|| LabError::Setup(format!("not a tc rate: {rate}")))?;
    Ok((bits_per_sec / 8 / 1000).max(16 << 10))
}

/// Runs a program; its stdout on success, else an error with its stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String, LabError> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::Command {
            command: format!("{program} {}", args.join(" ")),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(LabError::Command {
            command: format!("{program} {}", args.join(" ")),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip ARGS` (use `-n NS` to act inside a namespace).
pub fn ip(args: &[&str]) -> Result<String, LabError> {
    run("ip", args)
}

/// Runs a program inside a namespace.
pub fn in_ns(ns: &str, program: &str, args: &[&str]) -> Result<String, LabError> {
    let mut all = vec!["netns", "exec", ns, program];
    all.extend_from_slice(args);
    run("ip", &all)
}

/// Loads an nftables script inside a namespace.
pub fn nft(ns: &str, script: &str) -> Result<(), LabError> {
    let command = format!("ip netns exec {ns} nft -f -");
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes()).map_err(|e| LabError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    }
    let out = child.wait_with_output().map_err(|e| LabError::Command {
        command: command.clone(),
        detail: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(LabError::Command {
            command,
            detail: format!("{}\n{script}", String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    Ok(())
}

/// The lab's namespaces that exist now (from an earlier run too).
pub fn existing_namespaces() -> Vec<String> {
    ip(&["netns", "list"])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(NS_PREFIX))
        .map(str::to_owned)
        .collect()
}

/// Kills every process in the lab's namespaces, deletes the namespaces and their `/etc/netns` files. Safe to
/// run at any time, any number of times; touches nothing outside the lab's own names.
pub fn teardown() {
    let namespaces = existing_namespaces();
    for ns in &namespaces {
        let pids = ip(&["netns", "pids", ns]).unwrap_or_default();
        for pid in pids.split_whitespace() {
            let _ = run("kill", &["-KILL", pid]);
        }
    }
    for ns in &namespaces {
        let _ = ip(&["netns", "del", ns]);
    }
    if let Ok(entries) = std::fs::read_dir("/etc/netns") {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(NS_PREFIX) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    // Remove /etc/netns itself only if the lab created it and left it empty.
    let _ = std::fs::remove_dir("/etc/netns");
}

fn veth(a_ns: &str, a_if: &str, b_ns: &str, b_if: &str) -> Result<(), LabError> {
    ip(&[
        "link", "add", a_if, "netns", a_ns, "type", "veth", "peer", "name", b_if, "netns", b_ns,
    ])?;
    ip(&["-n", a_ns, "link", "set", "dev", a_if, "up"])?;
    ip(&["-n", b_ns, "link", "set", "dev", b_if, "up"])?;
    Ok(())
}

fn addr(ns: &str, dev: &str, cidr: &str) -> Result<(), LabError> {
    ip(&["-n", ns, "addr", "add", cidr, "dev", dev]).map(drop)
}

fn route(ns: &str, dest: &str, via: &str) -> Result<(), LabError> {
    ip(&["-n", ns, "route", "replace", dest, "via", via]).map(drop)
}

fn forwarding(ns: &str) -> Result<(), LabError> {
    in_ns(ns, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]).map(drop)
}

/// Server addresses, held on the namespace's loopback (local to it, routed to it from outside).
fn servers(ns: &str, addresses: &[String]) -> Result<(), LabError> {
    for a in addresses {
        addr(ns, "lo", &format!("{a}/32"))?;
    }
    Ok(())
}

/// Builds the whole topology (after a teardown of any leftovers).
pub fn build() -> Result<(), LabError> {
    teardown();
    for ns in namespaces() {
        ip(&["netns", "add", &ns])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
    }
    // Border, domestic servers, international side, collector.
    veth(NS_DOMESTIC, "eth0", NS_BORDER, "dom")?;
    addr(NS_DOMESTIC, "eth0", &format!("{DOM_LINK}/24"))?;
    addr(NS_BORDER, "dom", &format!("{BORDER_TO_DOM}/24"))?;
    route(NS_DOMESTIC, "default", &BORDER_TO_DOM.to_string())?;
    servers(NS_DOMESTIC, &[DOMESTIC_WEB.to_string(), BLOCKPAGE.to_string()])?;
    route(NS_BORDER, &format!("{DOMESTIC_WEB}/32"), &DOM_LINK.to_string())?;
    route(NS_BORDER, &format!("{BLOCKPAGE}/32"), &DOM_LINK.to_string())?;

    veth(NS_INTL, "uplink", NS_BORDER, "intl")?;
    addr(NS_INTL, "uplink", &format!("{INTL_LINK}/24"))?;
    addr(NS_BORDER, "intl", &format!("{BORDER_TO_INTL}/24"))?;
    route(NS_BORDER, "default", &INTL_LINK.to_string())?;
    route(NS_INTL, "default", &BORDER_TO_INTL.to_string())?;
    shape_international(INTL_RATE)?;
    let mut intl_servers: Vec<String> = INTL_ANCHORS.iter().map(ToString::to_string).collect();
    intl_servers.extend(SITES.iter().map(|(_, a)| a.to_string()));
    intl_servers.extend([APP_WEB.1.to_string(), APP_SERVER.0.to_string()]);
    intl_servers.push(PUBLIC_RESOLVER.to_string());
    servers(NS_INTL, &intl_servers)?;

    veth(NS_COLLECTOR, "eth0", NS_INTL, "coll")?;
    addr(NS_COLLECTOR, "eth0", &format!("{COLLECTOR}/24"))?;
    addr(NS_INTL, "coll", &format!("{COLLECTOR_GATEWAY}/24"))?;
    route(NS_COLLECTOR, "default", &COLLECTOR_GATEWAY.to_string())?;

    for isp in 1..=ISPS {
        let ns = ns_isp(isp);
        veth(&ns, "uplink", NS_BORDER, &format!("isp{isp}"))?;
        addr(&ns, "uplink", &format!("{}/24", isp_uplink(isp)))?;
        addr(NS_BORDER, &format!("isp{isp}"), &format!("{}/24", border_to_isp(isp)))?;
        route(&ns, "default", &border_to_isp(isp).to_string())?;
        forwarding(&ns)?;
    }
    for ns in [NS_BORDER, NS_INTL] {
        forwarding(ns)?;
    }
    // The border answers traces from one address whichever ISP's link they came in on, as a national gateway
    // answering from its loopback does: the hop where every network's paths die is the same hop to the collector.
    ip(&[
        "-n",
        NS_BORDER,
        "addr",
        "add",
        &format!("{BORDER_LOOPBACK}/32"),
        "dev",
        "lo",
    ])?;

    // The satellite network: its ground station abroad, reached without the border, at a satellite's pace.
    veth(NS_SATELLITE, "ground", NS_INTL, "sat")?;
    addr(NS_SATELLITE, "ground", &format!("{SATELLITE_LINK}/24"))?;
    addr(NS_INTL, "sat", &format!("{INTL_TO_SATELLITE}/24"))?;
    route(NS_SATELLITE, "default", &INTL_TO_SATELLITE.to_string())?;
    route(NS_INTL, DISH_PREFIX, &SATELLITE_LINK.to_string())?;
    forwarding(NS_SATELLITE)?;
    for rule in SATELLITE_PATH {
        in_ns(NS_SATELLITE, "iptables", &rule)?;
    }

    // Probes, their home routers and their dishes.
    for (i, spec) in all_probes().enumerate() {
        let n = i + 1;
        let probe = ns_probe(n);
        if has_dish(&spec) {
            // The probe's link to its dish: the dish is its gateway there, the satellite network behind it. Beside
            // a line it is the second default route (a higher metric): a probe without `[[uplinks]]` keeps to its
            // line, one with them binds each check to its interface.
            veth(&probe, DISH_IF, NS_SATELLITE, &dish_link(n))?;
            addr(&probe, DISH_IF, &format!("{}/24", dish_probe_addr(n)))?;
            addr(NS_SATELLITE, &dish_link(n), &format!("{}/24", dish_addr(n)))?;
            let metric = if spec.upstream == Upstream::Satellite {
                "0"
            } else {
                "100"
            };
            ip(&[
                "-n",
                &probe,
                "route",
                "add",
                "default",
                "via",
                &dish_addr(n).to_string(),
                "dev",
                DISH_IF,
                "metric",
                metric,
            ])?;
        }
        write_resolv_conf(&probe, system_resolver(&spec))?;
        if spec.upstream == Upstream::Satellite {
            continue;
        }
        let (home, up) = (ns_home(n), upstream_ns(&spec));
        veth(&probe, "eth0", &home, "lan")?;
        addr(&probe, "eth0", &format!("{}/24", probe_addr(n)))?;
        addr(&home, "lan", &format!("{}/24", home_lan(n)))?;
        route(&probe, "default", &home_lan(n).to_string())?;
        let up_if = format!("c{n:02}");
        veth(&home, "wan", &up, &up_if)?;
        addr(&home, "wan", &format!("{}/24", home_wan(n)))?;
        addr(&up, &up_if, &format!("{}/24", home_upstream(n)))?;
        shape(&up, &up_if, ACCESS_RATE)?;
        route(&home, "default", &home_upstream(n).to_string())?;
        forwarding(&home)?;
        let lan = format!("10.100.{n}.0/24");
        route(&up, &lan, &home_wan(n).to_string())?;
        if let Upstream::Isp(isp) = spec.upstream {
            for prefix in [lan, format!("10.101.{n}.0/24")] {
                ip(&[
                    "-n",
                    NS_BORDER,
                    "route",
                    "replace",
                    &prefix,
                    "via",
                    &isp_uplink(isp).to_string(),
                    "src",
                    &BORDER_LOOPBACK.to_string(),
                ])?;
            }
        }
    }
    Ok(())
}

/// Names a probe's system resolver: `ip netns exec` puts /etc/netns/NS/resolv.conf in place of /etc/resolv.conf
/// for what runs there.
fn write_resolv_conf(probe_ns: &str, resolver: std::net::Ipv4Addr) -> Result<(), LabError> {
    let etc = std::path::Path::new("/etc/netns").join(probe_ns);
    std::fs::create_dir_all(&etc).map_err(|e| LabError::io(&etc, e))?;
    let resolv = etc.join("resolv.conf");
    std::fs::write(
        &resolv,
        format!("nameserver {resolver}\noptions timeout:1 attempts:1\n"),
    )
    .map_err(|e| LabError::io(&resolv, e))
}

/// Sets a link up or down inside a namespace.
pub fn link(ns: &str, dev: &str, up: bool) -> Result<(), LabError> {
    ip(&["-n", ns, "link", "set", "dev", dev, if up { "up" } else { "down" }]).map(drop)
}

/// Restores the collector's default route (a link going down drops it).
pub fn collector_route() -> Result<(), LabError> {
    route(NS_COLLECTOR, "default", &COLLECTOR_GATEWAY.to_string())
}
