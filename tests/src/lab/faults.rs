//! What the lab does to the country: each fault is applied and lifted with real tools (nftables rules, iptables'
//! `string` match for the server name in a ClientHello, links going down, `tbf` rate limits, dnsmasq answers,
//! killed processes and rewritten vitals files).

use std::time::Duration;

use super::country::{
    APP_SERVER, BLOCKPAGE, HOME_COUNTRY, ISPS, NS_BORDER, NS_COLLECTOR, NS_INTL, NS_SATELLITE, Upstream, all_probes,
    dish_link, has_dish, namespaces, ns_home, ns_isp, probes_where, site_addr,
};
use super::net::{INTL_RATE, collector_route, in_ns, link, nft, run, shape_international};
use super::nodes::PowerState;
use super::{Lab, LabError};

/// The lab's nftables table (created by a fault, deleted when it is lifted).
const TABLE: &str = "vigil_lab";

/// One thing that goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The border drops everything international; domestic traffic flows (a national intranet).
    NationalShutdown,
    /// The border drops everything international but traffic to and from one address abroad, as an allowlist
    /// does (Iran's 2025 shutdown let a few addresses through).
    AllowlistShutdown {
        /// The address let through.
        allowed: std::net::Ipv4Addr,
    },
    /// The border drops everything of one ISP.
    IspCut(u8),
    /// The border drops one ISP's international traffic; its domestic peering (domestic servers, the other
    /// ISPs) still carries traffic: a transit or cable failure of one network.
    TransitCut(u8),
    /// Every ISP drops its mobile subscribers' traffic beyond the ISP.
    MobileCut,
    /// A region's mains fail: home routers go dark, probes without a UPS die, UPS probes run on battery.
    RegionalPower(&'static str),
    /// One probe's mains fail.
    ProbePower(usize),
    /// An ISP's resolver answers the national blockpage's address for these names.
    DnsInjection {
        /// The ISP.
        isp: u8,
        /// Names it lies about.
        hosts: &'static [&'static str],
    },
    /// An ISP sends a site's web traffic to the national blockpage server.
    Blockpage {
        /// The ISP.
        isp: u8,
        /// The site.
        host: &'static str,
    },
    /// An ISP answers requests to a site with a TCP reset (after the handshake, as DPI does).
    RstInjection {
        /// The ISP.
        isp: u8,
        /// The site.
        host: &'static str,
    },
    /// An ISP drops everything sent to a site's address (IP blocking, as Telegram's and many sites' addresses are
    /// blocked): the connection never opens, as to a server that is down — but only in that network.
    IpBlock {
        /// The ISP.
        isp: u8,
        /// The site.
        host: &'static str,
    },
    /// An ISP drops everything sent to the lab app's chat server (`country::APP_SERVER`), as messaging apps' servers
    /// are blocked by address; the app's web site still loads there.
    AppBlock(u8),
    /// An ISP resets every connection whose ClientHello names a site (its SNI), as Iran's filter does: the
    /// handshake naming anything else to the same address goes through.
    SniFilter {
        /// The ISP.
        isp: u8,
        /// The server name filtered.
        host: &'static str,
    },
    /// An ISP drops UDP to a site's port 443 (QUIC), as Iran did before its June 2025 shutdown: the site loads over
    /// TCP and TLS there, and HTTP/3 never completes a handshake.
    QuicBlock {
        /// The ISP.
        isp: u8,
        /// The site.
        host: &'static str,
    },
    /// The HTTPS site's certificate expires: it fails TLS for every network alike, which no censor did.
    CertificateExpires,
    /// A site's server goes dark (a host powered off): its address answers nothing, to every network alike,
    /// abroad included — what a censor dropping its traffic looks like from any one network.
    SiteDown(&'static str),
    /// International traffic into the country capped with a token bucket.
    Throttle {
        /// The cap, in `tc` units (`16mbit`).
        rate: &'static str,
    },
    /// The collector's own link goes down.
    CollectorCut,
    /// The dishes of a region are jammed: each still answers its probe (the dish is up), nothing passes it.
    SatelliteJamming(&'static str),
}

/// Pause between probes when a fault (or its end) is staggered, as real power cuts and returns are.
const STAGGER: Duration = Duration::from_millis(700);

impl Lab {
    /// Applies a fault.
    pub fn apply(&mut self, fault: Fault) -> Result<(), LabError> {
        match fault {
            Fault::NationalShutdown => nft(
                NS_BORDER,
                &forward_rules(&[
                    "iifname \"isp*\" oifname \"intl\" drop",
                    "iifname \"intl\" oifname \"isp*\" drop",
                ]),
            ),
            Fault::AllowlistShutdown { allowed } => nft(
                NS_BORDER,
                &forward_rules(&[
                    &format!("iifname \"isp*\" oifname \"intl\" ip daddr != {allowed} drop"),
                    &format!("iifname \"intl\" oifname \"isp*\" ip saddr != {allowed} drop"),
                ]),
            ),
            Fault::IspCut(isp) => nft(
                NS_BORDER,
                &forward_rules(&[
                    &format!("iifname \"isp{isp}\" drop"),
                    &format!("oifname \"isp{isp}\" drop"),
                ]),
            ),
            Fault::TransitCut(isp) => nft(
                NS_BORDER,
                &forward_rules(&[
                    &format!("iifname \"isp{isp}\" oifname \"intl\" drop"),
                    &format!("iifname \"intl\" oifname \"isp{isp}\" drop"),
                ]),
            ),
            Fault::MobileCut => {
                for isp in 1..=ISPS {
                    let mobile = probes_where(|p| p.upstream == Upstream::Isp(isp) && p.access == "mobile");
                    if mobile.is_empty() {
                        continue;
                    }
                    let set = mobile
                        .iter()
                        .flat_map(|n| [format!("10.100.{n}.0/24"), format!("10.101.{n}.0/24")])
                        .collect::<Vec<_>>()
                        .join(", ");
                    nft(
                        &ns_isp(isp),
                        &forward_rules(&[
                            &format!("ip saddr {{ {set} }} drop"),
                            &format!("ip daddr {{ {set} }} drop"),
                        ]),
                    )?;
                }
                Ok(())
            }
            Fault::RegionalPower(region) => {
                let hit = self.running_in(region);
                self.power_off(&hit)
            }
            Fault::ProbePower(n) => self.power_off(&[n]),
            Fault::SatelliteJamming(region) => {
                let links = dish_links_in(region).join("\", \"");
                nft(
                    NS_SATELLITE,
                    &forward_rules(&[
                        &format!("iifname {{ \"{links}\" }} drop"),
                        &format!("oifname {{ \"{links}\" }} drop"),
                    ]),
                )
            }
            Fault::DnsInjection { isp, hosts } => self.servers.set_isp_answers(isp, hosts, BLOCKPAGE),
            Fault::Blockpage { isp, host } => {
                let addr = site(host)?;
                nft(
                    &ns_isp(isp),
                    &format!(
                        "table ip {TABLE} {{\n chain prerouting {{ type nat hook prerouting priority -100;\n  \
                         ip daddr {addr} tcp dport 80 dnat to {BLOCKPAGE}:80\n }}\n}}\n"
                    ),
                )
            }
            Fault::RstInjection { isp, host } => {
                let addr = site(host)?;
                // The handshake passes; the first data segment (the request) is answered with a reset.
                nft(
                    &ns_isp(isp),
                    &forward_rules(&[&format!(
                        "ip daddr {addr} tcp dport 80 tcp flags & psh == psh reject with tcp reset"
                    )]),
                )
            }
            Fault::IpBlock { isp, host } => {
                let addr = site(host)?;
                nft(&ns_isp(isp), &forward_rules(&[&format!("ip daddr {addr} drop")]))
            }
            Fault::AppBlock(isp) => nft(
                &ns_isp(isp),
                &forward_rules(&[&format!("ip daddr {} drop", APP_SERVER.0)]),
            ),
            Fault::SniFilter { isp, host } => in_ns(&ns_isp(isp), "iptables", &sni_rule("-A", host)).map(drop),
            Fault::QuicBlock { isp, host } => {
                let addr = site(host)?;
                nft(
                    &ns_isp(isp),
                    &forward_rules(&[&format!("ip daddr {addr} udp dport 443 drop")]),
                )
            }
            Fault::CertificateExpires => self.servers.set_tls_site_expired(true),
            Fault::SiteDown(host) => {
                let addr = site(host)?;
                // The sites live in the international namespace: what is addressed to this one goes no further.
                nft(
                    NS_INTL,
                    &format!(
                        "table inet {TABLE} {{\n chain input {{ type filter hook input priority 0;\n  \
                         ip daddr {addr} drop\n }}\n}}\n"
                    ),
                )
            }
            Fault::Throttle { rate } => shape_international(rate),
            Fault::CollectorCut => link(NS_COLLECTOR, "eth0", false),
        }
    }

    /// Lifts a fault.
    pub fn lift(&mut self, fault: Fault) -> Result<(), LabError> {
        match fault {
            Fault::NationalShutdown | Fault::AllowlistShutdown { .. } | Fault::IspCut(_) | Fault::TransitCut(_) => {
                drop_table(NS_BORDER)
            }
            Fault::MobileCut => {
                for isp in 1..=ISPS {
                    drop_table(&ns_isp(isp))?;
                }
                Ok(())
            }
            Fault::Blockpage { isp, .. }
            | Fault::RstInjection { isp, .. }
            | Fault::IpBlock { isp, .. }
            | Fault::QuicBlock { isp, .. }
            | Fault::AppBlock(isp) => drop_table(&ns_isp(isp)),
            Fault::RegionalPower(region) => {
                let hit = self.running_in(region);
                self.power_on(&hit)
            }
            Fault::SatelliteJamming(_) => drop_table(NS_SATELLITE),
            Fault::ProbePower(n) => self.power_on(&[n]),
            Fault::DnsInjection { isp, .. } => self.servers.set_isp_answers(isp, &[], BLOCKPAGE),
            Fault::SniFilter { isp, host } => in_ns(&ns_isp(isp), "iptables", &sni_rule("-D", host)).map(drop),
            Fault::CertificateExpires => self.servers.set_tls_site_expired(false),
            Fault::SiteDown(_) => drop_table(NS_INTL),
            Fault::Throttle { .. } => shape_international(INTL_RATE),
            Fault::CollectorCut => {
                link(NS_COLLECTOR, "eth0", true)?;
                collector_route()
            }
        }
    }

    /// Undoes anything a fault may have left (between scenarios, and after a failed one).
    pub fn clear_faults(&mut self) -> Result<(), LabError> {
        for ns in namespaces() {
            let _ = run("ip", &["netns", "exec", &ns, "nft", "delete", "table", "inet", TABLE]);
            let _ = run("ip", &["netns", "exec", &ns, "nft", "delete", "table", "ip", TABLE]);
        }
        shape_international(INTL_RATE)?;
        link(NS_COLLECTOR, "eth0", true)?;
        collector_route()?;
        for (i, spec) in all_probes().enumerate() {
            let n = i + 1;
            if spec.upstream != Upstream::Satellite {
                link(&ns_home(n), "lan", true)?;
            }
            if has_dish(&spec) {
                link(NS_SATELLITE, &dish_link(n), true)?;
            }
        }
        for isp in 1..=ISPS {
            self.servers.set_isp_answers(isp, &[], BLOCKPAGE)?;
            // The ISPs' iptables rules are only ever the SNI filter's.
            let _ = in_ns(&ns_isp(isp), "iptables", &["-F", "FORWARD", "-w"]);
        }
        self.servers.set_tls_site_expired(false)
    }

    /// The running probes of a region of the lab country.
    fn running_in(&self, region: &str) -> Vec<usize> {
        self.probes
            .iter()
            .filter(|p| p.spec.country == HOME_COUNTRY && p.spec.region == Some(region))
            .map(|p| p.n)
            .collect()
    }

    /// Mains off for these probes, one after another: the home router and the dish go dark, a probe on a UPS
    /// switches to battery, one without dies on the spot.
    fn power_off(&mut self, probes: &[usize]) -> Result<(), LabError> {
        for (i, &n) in probes.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(STAGGER);
            }
            home_links(self.probe_mut(n)?.spec, n, false)?;
            let node = self.probe_mut(n)?;
            if node.spec.ups {
                node.set_power(PowerState::Battery)?;
            } else {
                node.kill();
            }
        }
        Ok(())
    }

    /// Mains back, one after another: routers come up, dead probes boot (a new boot id) and start again.
    fn power_on(&mut self, probes: &[usize]) -> Result<(), LabError> {
        let bins = self.bins.clone();
        for (i, &n) in probes.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(STAGGER);
            }
            home_links(self.probe_mut(n)?.spec, n, true)?;
            let node = self.probe_mut(n)?;
            if node.spec.ups {
                node.set_power(PowerState::Mains)?;
            } else {
                node.boot()?;
                node.start(&bins)?;
            }
        }
        Ok(())
    }
}

/// A probe's home router and dish, on or off with the mains.
fn home_links(spec: super::country::ProbeSpec, n: usize, up: bool) -> Result<(), LabError> {
    if spec.upstream != Upstream::Satellite {
        link(&ns_home(n), "lan", up)?;
    }
    if has_dish(&spec) {
        link(NS_SATELLITE, &dish_link(n), up)?;
    }
    Ok(())
}

/// The satellite network's links to the dishes of a region of the lab country.
fn dish_links_in(region: &str) -> Vec<String> {
    all_probes()
        .enumerate()
        .filter(|(_, p)| p.country == HOME_COUNTRY && p.region == Some(region) && has_dish(p))
        .map(|(i, _)| dish_link(i + 1))
        .collect()
}

/// The SNI filter's iptables rule, appended (`-A`) or deleted (`-D`): a TLS segment whose payload carries the
/// name (in clear in the ClientHello) is answered with a reset and goes no further.
fn sni_rule<'a>(op: &'a str, host: &'a str) -> [&'a str; 16] {
    [
        op,
        "FORWARD",
        "-p",
        "tcp",
        "--dport",
        "443",
        "-m",
        "string",
        "--string",
        host,
        "--algo",
        "bm",
        "-j",
        "REJECT",
        "--reject-with",
        "tcp-reset",
    ]
}

fn forward_rules(rules: &[&str]) -> String {
    let body: String = rules.iter().map(|r| format!("  {r}\n")).collect();
    format!("table inet {TABLE} {{\n chain forward {{ type filter hook forward priority 0;\n{body} }}\n}}\n")
}

fn drop_table(ns: &str) -> Result<(), LabError> {
    for family in ["inet", "ip"] {
        let listed = run("ip", &["netns", "exec", ns, "nft", "list", "tables"])?;
        if listed.lines().any(|l| l.trim() == format!("table {family} {TABLE}")) {
            run("ip", &["netns", "exec", ns, "nft", "delete", "table", family, TABLE])?;
        }
    }
    Ok(())
}

fn site(host: &str) -> Result<std::net::Ipv4Addr, LabError> {
    site_addr(host).ok_or_else(|| LabError::Setup(format!("{host} is not a lab site")))
}
