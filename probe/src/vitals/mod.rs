//! Vitals: the probe's own health every cycle (`kind: vitals`) — boot id and uptime (did it reboot?), power
//! (mains, battery), default gateway and whether it answers, link carrier, spool depth, a sequence number. With
//! the clock stamp on every measurement, this is what tells a power cut from a shutdown.
//!
//! Every source is a configurable path, so tests and the lab can give each probe its own fake `/proc` and
//! `/sys` trees.

mod link;
mod power;
mod route;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub use link::carrier;
pub use power::read_power;
pub use route::{DefaultRoute, default_route, default_route_on};
use vigil_measurement::result::{Power, VitalsResult};
use vigil_measurement::{Outcome, Scope, Target};

/// Where the vitals come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VitalsSources {
    /// The kernel's boot id.
    pub boot_id_path: PathBuf,
    /// `/proc/uptime`.
    pub uptime_path: PathBuf,
    /// `/sys/class/power_supply`.
    pub power_supply_dir: PathBuf,
    /// `/proc/net/route`.
    pub route_path: PathBuf,
    /// `/sys/class/net`.
    pub net_dir: PathBuf,
    /// `/proc/net/arp`.
    pub arp_path: PathBuf,
}

impl Default for VitalsSources {
    fn default() -> Self {
        VitalsSources {
            boot_id_path: PathBuf::from(crate::clock::DEFAULT_BOOT_ID_PATH),
            uptime_path: PathBuf::from("/proc/uptime"),
            power_supply_dir: PathBuf::from("/sys/class/power_supply"),
            route_path: PathBuf::from("/proc/net/route"),
            net_dir: PathBuf::from("/sys/class/net"),
            arp_path: PathBuf::from("/proc/net/arp"),
        }
    }
}

/// What the files say, before the gateway is probed.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalState {
    /// Boot id (empty when unreadable).
    pub boot_id: String,
    /// Seconds since boot (0 when unreadable).
    pub uptime_s: f64,
    /// Power supply state.
    pub power: Power,
    /// The default route, if any.
    pub route: Option<DefaultRoute>,
    /// Carrier of the default route's interface.
    pub link_up: Option<bool>,
    /// Problems reading the sources, for `error_detail`.
    pub problems: Vec<String>,
}

/// Reads every file source; the route and link are the routing table's preferred default route's.
pub fn read_local(sources: &VitalsSources) -> LocalState {
    read_local_on(sources, None)
}

/// Reads every file source; the route and link are `interface`'s (an uplink's) when given, else the routing
/// table's preferred default route's.
pub fn read_local_on(sources: &VitalsSources, interface: Option<&str>) -> LocalState {
    let mut problems = Vec::new();
    let boot_id = match std::fs::read_to_string(&sources.boot_id_path) {
        Ok(text) => text.trim().to_owned(),
        Err(err) => {
            problems.push(format!("boot id: {err}"));
            String::new()
        }
    };
    let uptime_s = match std::fs::read_to_string(&sources.uptime_path) {
        Ok(text) => text
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0),
        Err(err) => {
            problems.push(format!("uptime: {err}"));
            0.0
        }
    };
    let table = std::fs::read_to_string(&sources.route_path).ok();
    let (route, link_up) = match interface {
        None => {
            let route = table.as_deref().and_then(default_route);
            let link_up = route.as_ref().and_then(|r| carrier(&sources.net_dir, &r.interface));
            (route, link_up)
        }
        Some(name) => (
            table.as_deref().and_then(|t| default_route_on(t, name)),
            carrier(&sources.net_dir, name),
        ),
    };
    LocalState {
        boot_id,
        uptime_s,
        power: read_power(&sources.power_supply_dir),
        route,
        link_up,
        problems,
    }
}

/// Whether the kernel holds a complete ARP entry for `ip` (a gateway that answered ARP recently), on `device`
/// when given (two uplinks' gateways often share an address, such as 192.168.1.1).
pub fn arp_complete(arp_path: &Path, ip: Ipv4Addr, device: Option<&str>) -> bool {
    let Ok(table) = std::fs::read_to_string(arp_path) else {
        return false;
    };
    table.lines().skip(1).any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() >= 4
            && f[0].parse::<Ipv4Addr>().ok() == Some(ip)
            && u32::from_str_radix(f[2].trim_start_matches("0x"), 16).is_ok_and(|flags| flags & 0x2 != 0)
            && f[3] != "00:00:00:00:00:00"
            && device.is_none_or(|d| f.get(5) == Some(&d))
    })
}

/// Everything else a vitals measurement reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VitalsExtras {
    /// Whether the gateway answered (ICMP, else a complete ARP entry).
    pub gateway_reachable: bool,
    /// Round trip to the gateway, when ICMP answered.
    pub gateway_rtt_ms: Option<f64>,
    /// Records waiting in the spool.
    pub spool_depth: u64,
    /// This process's vitals counter.
    pub seq: u64,
    /// The probe expects to go dark (shutdown, low battery).
    pub last_gasp: bool,
}

/// Builds the vitals result.
pub fn result(local: &LocalState, extras: VitalsExtras) -> VitalsResult {
    let outcome = if local.boot_id.is_empty() {
        Outcome::Error
    } else {
        Outcome::Ok
    };
    VitalsResult {
        outcome,
        boot_id: if local.boot_id.is_empty() {
            "unknown".to_owned()
        } else {
            local.boot_id.clone()
        },
        uptime_s: local.uptime_s,
        power: local.power,
        gateway_reachable: extras.gateway_reachable,
        link_up: local.link_up.unwrap_or(false),
        last_gasp: extras.last_gasp,
        spool_depth: extras.spool_depth,
        seq: Some(extras.seq),
        gateway_rtt_ms: extras.gateway_rtt_ms,
        error_detail: (!local.problems.is_empty()).then(|| local.problems.join("; ")),
    }
}

/// The target a vitals measurement names: the probe itself.
pub fn target() -> Target {
    Target {
        name: "self".to_owned(),
        scope: Scope::Local,
        list: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_tree(dir: &Path) -> VitalsSources {
        std::fs::write(dir.join("boot_id"), "4f3c9a52-2b1e-4c66-9d3e-0a1b2c3d4e5f\n").expect("write");
        std::fs::write(dir.join("uptime"), "12345.67 40000.00\n").expect("write");
        std::fs::write(
            dir.join("route"),
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\nveth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\n",
        )
        .expect("write");
        std::fs::create_dir_all(dir.join("net/veth0")).expect("mkdir");
        std::fs::write(dir.join("net/veth0/carrier"), "1\n").expect("write");
        std::fs::write(
            dir.join("arp"),
            "IP address       HW type     Flags       HW address            Mask     Device\n10.0.0.1         0x1         0x2         02:00:0a:00:00:01     *        veth0\n",
        )
        .expect("write");
        std::fs::create_dir_all(dir.join("power/BAT0")).expect("mkdir");
        std::fs::write(dir.join("power/BAT0/type"), "Battery\n").expect("write");
        std::fs::write(dir.join("power/BAT0/status"), "Discharging\n").expect("write");
        std::fs::write(dir.join("power/BAT0/capacity"), "42\n").expect("write");
        VitalsSources {
            boot_id_path: dir.join("boot_id"),
            uptime_path: dir.join("uptime"),
            power_supply_dir: dir.join("power"),
            route_path: dir.join("route"),
            net_dir: dir.join("net"),
            arp_path: dir.join("arp"),
        }
    }

    #[test]
    fn a_fake_tree_gives_every_vital() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sources = fake_tree(dir.path());
        let local = read_local(&sources);
        assert_eq!(local.boot_id, "4f3c9a52-2b1e-4c66-9d3e-0a1b2c3d4e5f");
        assert_eq!(local.uptime_s, 12345.67);
        assert_eq!(
            local.route.as_ref().and_then(|r| r.gateway),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(local.link_up, Some(true));
        assert_eq!(
            (local.power.on_battery, local.power.battery_pct),
            (Some(true), Some(42.0))
        );
        assert!(arp_complete(&sources.arp_path, Ipv4Addr::new(10, 0, 0, 1), None));
        assert!(arp_complete(
            &sources.arp_path,
            Ipv4Addr::new(10, 0, 0, 1),
            Some("veth0")
        ));
        assert!(!arp_complete(
            &sources.arp_path,
            Ipv4Addr::new(10, 0, 0, 1),
            Some("wwan0")
        ));
        assert!(!arp_complete(&sources.arp_path, Ipv4Addr::new(10, 0, 0, 9), None));
        assert_eq!(read_local_on(&sources, Some("veth0")).route, local.route);
        let elsewhere = read_local_on(&sources, Some("wwan0"));
        assert_eq!((elsewhere.route, elsewhere.link_up), (None, None));
        let r = result(
            &local,
            VitalsExtras {
                gateway_reachable: true,
                gateway_rtt_ms: Some(0.4),
                spool_depth: 7,
                seq: 3,
                last_gasp: false,
            },
        );
        assert_eq!(
            (r.outcome, r.link_up, r.spool_depth, r.seq),
            (Outcome::Ok, true, 7, Some(3))
        );
        assert!(r.error_detail.is_none());
    }

    #[test]
    fn missing_sources_are_reported_not_fatal() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sources = VitalsSources {
            boot_id_path: dir.path().join("nope"),
            uptime_path: dir.path().join("nope"),
            power_supply_dir: dir.path().join("nope"),
            route_path: dir.path().join("nope"),
            net_dir: dir.path().join("nope"),
            arp_path: dir.path().join("nope"),
        };
        let local = read_local(&sources);
        let r = result(
            &local,
            VitalsExtras {
                gateway_reachable: false,
                gateway_rtt_ms: None,
                spool_depth: 0,
                seq: 0,
                last_gasp: false,
            },
        );
        assert_eq!(
            (r.outcome, r.boot_id.as_str(), r.link_up),
            (Outcome::Error, "unknown", false)
        );
        assert!(
            r.error_detail
                .is_some_and(|d| d.contains("boot id") && d.contains("uptime"))
        );
        assert_eq!(r.power, Power::default());
    }
}
