//! The simulated country: its networks, probes and servers, and every address in the lab (all in 10.0.0.0/8,
//! and only inside the lab's own namespaces).
//!
//! ```text
//!  probe ── home router ── ISP (AS64501 | AS64502 | AS64503, each with its resolver) ──┐
//!    └─ (dish) ──────────────────────────────────────────── satellite network ──┐      border ── international
//!                               domestic servers (web, national blockpage 10.10.34.34) ─┘        (web, resolver,
//!  three probes abroad ── home router ───────────────────────────────────────────────────────────  collector)
//! ```
//!
//! The satellite network reaches the international side without crossing the border, with a satellite's delay,
//! jitter and loss (`net::SATELLITE_NETEM`). Four probes in the north have a dish beside their line, used in the
//! scenarios that ask for it ([`Sky`]); a probe in the south has only a dish.

use std::net::Ipv4Addr;

/// The lab country's (user-assigned) ISO code.
pub const HOME_COUNTRY: &str = "XL";
/// The country of the probes abroad, which keep reporting when the lab country is cut off.
pub const ABROAD_COUNTRY: &str = "XF";
/// Every namespace the lab creates starts with this.
pub const NS_PREFIX: &str = "vgl-";

/// Where a probe's home router connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// One of the country's ISPs (1-based).
    Isp(u8),
    /// Straight to the international side.
    Abroad,
    /// A dish, and nothing else: the satellite network.
    Satellite,
}

/// A probe's dish beside its line (issue 24), and what its uploads do while the line is cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dish {
    /// No dish.
    None,
    /// A dish; uploads go through it while the line is isolated (`during_isolation = "other_uplinks"`): live
    /// reports from inside a cut.
    Live,
    /// A dish; uploads wait while the line is isolated (`during_isolation = "hold"`).
    Hold,
}

/// Which of the country's satellite ways out a scenario uses (issue 24); the rest of the time the probes run as
/// single-line probes and the satellite-only probe is off, so every other scenario reads as before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sky {
    /// None.
    Ground,
    /// The dishes beside the lines of the probes that have one ([`ProbeSpec::dish`]).
    Dishes,
    /// The probes whose only way out is a dish ([`SATELLITE_ONLY`]).
    SatelliteOnly,
}

/// One probe as registered with the collector.
#[derive(Debug, Clone, Copy)]
pub struct ProbeSpec {
    /// Lab name (`p01` …), also the operator label.
    pub name: &'static str,
    /// Country code.
    pub country: &'static str,
    /// Autonomous system.
    pub asn: u32,
    /// Region, in the lab country.
    pub region: Option<&'static str>,
    /// `fixed` or `mobile`.
    pub access: &'static str,
    /// Runs on a UPS (survives a power cut, on battery).
    pub ups: bool,
    /// Its upstream.
    pub upstream: Upstream,
    /// A dish beside its line.
    pub dish: Dish,
}

const fn home(name: &'static str, isp: u8, region: &'static str, access: &'static str, ups: bool) -> ProbeSpec {
    ProbeSpec {
        name,
        country: HOME_COUNTRY,
        asn: isp_asn(isp),
        region: Some(region),
        access,
        ups,
        upstream: Upstream::Isp(isp),
        dish: Dish::None,
    }
}

const fn with_dish(spec: ProbeSpec, dish: Dish) -> ProbeSpec {
    ProbeSpec { dish, ..spec }
}

const fn abroad(name: &'static str, asn: u32) -> ProbeSpec {
    ProbeSpec {
        name,
        country: ABROAD_COUNTRY,
        asn,
        region: None,
        access: "fixed",
        ups: false,
        upstream: Upstream::Abroad,
        dish: Dish::None,
    }
}

/// The ISPs' AS numbers (documentation range).
pub const fn isp_asn(isp: u8) -> u32 {
    64500 + isp as u32
}

/// Number of ISPs in the country.
pub const ISPS: u8 = 3;

/// The probes: ten in the country (three ISPs, two regions, fixed and mobile, three on a UPS) and three abroad.
/// AS64501 serves the north only (an ISP in one region, issue 23 case 1); the other two serve both regions.
/// Four in the north, one on each network and one more, have a dish beside their line: three report through it
/// while their line is cut, one holds its reports. A probe's number is its position plus one; its addresses
/// derive from it.
pub const PROBES: [ProbeSpec; 13] = [
    home("p01", 1, "north", "fixed", false),
    with_dish(home("p02", 1, "north", "fixed", true), Dish::Live),
    home("p03", 1, "north", "fixed", false),
    with_dish(home("p04", 2, "north", "fixed", false), Dish::Live),
    home("p05", 2, "south", "fixed", true),
    home("p06", 2, "south", "mobile", false),
    with_dish(home("p07", 3, "north", "mobile", false), Dish::Live),
    home("p08", 3, "south", "mobile", false),
    with_dish(home("p09", 3, "north", "mobile", false), Dish::Hold),
    home("p10", 2, "south", "fixed", true),
    abroad("a11", 64598),
    abroad("a12", 64598),
    abroad("a13", 64599),
];

/// The satellite operator's AS number (documentation range), as AS14593 is Starlink's.
pub const SATELLITE_ASN: u32 = 64510;

/// The country the satellite operator is registered in, as Starlink is in the US: neither the lab country nor its
/// neighbour (user-assigned), so the collector judges the satellite-only probe beside the lines, not among them.
pub const SATELLITE_COUNTRY: &str = "XS";

/// Probes whose only way out is a dish, numbered after [`PROBES`]; they run in the scenarios with
/// [`Sky::SatelliteOnly`].
pub const SATELLITE_ONLY: [ProbeSpec; 1] = [ProbeSpec {
    name: "s14",
    country: HOME_COUNTRY,
    asn: SATELLITE_ASN,
    region: Some("south"),
    access: "satellite",
    ups: false,
    upstream: Upstream::Satellite,
    dish: Dish::None,
}];

/// Every probe the lab has a place for, by number − 1: [`PROBES`], then [`SATELLITE_ONLY`].
pub fn all_probes() -> impl Iterator<Item = ProbeSpec> {
    PROBES.into_iter().chain(SATELLITE_ONLY)
}

/// The probe numbered `n`.
pub fn spec(n: usize) -> Option<ProbeSpec> {
    all_probes().nth(n.checked_sub(1)?)
}

/// Probe numbers (1-based) of the probes of [`PROBES`] matching `keep`.
pub fn probes_where(keep: impl Fn(&ProbeSpec) -> bool) -> Vec<usize> {
    (1..=PROBES.len()).filter(|&n| keep(&PROBES[n - 1])).collect()
}

/// The probes a scenario with `sky` runs, by number.
pub fn running(sky: Sky) -> Vec<usize> {
    let mut out: Vec<usize> = (1..=PROBES.len()).collect();
    if sky == Sky::SatelliteOnly {
        out.extend(PROBES.len() + 1..=PROBES.len() + SATELLITE_ONLY.len());
    }
    out
}

/// Probes in the lab country.
pub fn home_probes() -> Vec<usize> {
    probes_where(|p| p.country == HOME_COUNTRY)
}

/// The probe's own address.
pub fn probe_addr(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 100, octet(n), 2)
}

/// The home router's LAN address (the probe's gateway).
pub fn home_lan(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 100, octet(n), 1)
}

/// The home router's WAN address.
pub fn home_wan(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 101, octet(n), 2)
}

/// The upstream's address on the home router's WAN link.
pub fn home_upstream(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 101, octet(n), 1)
}

fn octet(n: usize) -> u8 {
    u8::try_from(n).expect("fewer than 256 probes")
}

/// The lab's IP-to-ASN table in the iptoasn format the collector reads (`[ingest] asn_table`): each line probe's
/// home network in its registered ISP's (or foreign network's) AS, every dish link in the satellite operator's
/// (registered abroad) — so the collector names the network each upload arrived from, and where that network is
/// registered, as it would with the real table.
pub fn asn_table() -> String {
    let mut ranges: Vec<(Ipv4Addr, Ipv4Addr, u32, &str)> = all_probes()
        .enumerate()
        .filter(|(_, spec)| spec.upstream != Upstream::Satellite)
        .map(|(i, spec)| {
            let n = octet(i + 1);
            (
                Ipv4Addr::new(10, 100, n, 0),
                Ipv4Addr::new(10, 100, n, 255),
                spec.asn,
                spec.country,
            )
        })
        .collect();
    ranges.push((
        Ipv4Addr::new(10, 110, 0, 0),
        Ipv4Addr::new(10, 110, 255, 255),
        SATELLITE_ASN,
        SATELLITE_COUNTRY,
    ));
    ranges.sort();
    ranges
        .into_iter()
        .map(|(start, end, asn, country)| format!("{start}\t{end}\t{asn}\t{country}\tLAB-AS{asn}\n"))
        .collect()
}

/// A probe's address on its dish's link (a dual-homed probe's second interface, a satellite-only probe's only one).
pub fn dish_probe_addr(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 110, octet(n), 2)
}

/// The dish's address (the gateway on that link; the satellite network's side of it).
pub fn dish_addr(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 110, octet(n), 1)
}

/// The probe's interface towards its dish.
pub const DISH_IF: &str = "sat0";

/// The satellite network's interface towards probe `n`'s dish.
pub fn dish_link(n: usize) -> String {
    format!("d{n:02}")
}

/// Whether probe `n` has a dish (beside a line, or alone).
pub fn has_dish(spec: &ProbeSpec) -> bool {
    spec.dish != Dish::None || spec.upstream == Upstream::Satellite
}

/// The satellite network's address on its link to the international side.
pub const SATELLITE_LINK: Ipv4Addr = Ipv4Addr::new(10, 80, 0, 2);
/// The international side's address on that link.
pub const INTL_TO_SATELLITE: Ipv4Addr = Ipv4Addr::new(10, 80, 0, 1);
/// Every dish link's addresses.
pub const DISH_PREFIX: &str = "10.110.0.0/16";

/// An ISP's address on its uplink (also where its resolver listens).
pub fn isp_uplink(isp: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 30, isp, 2)
}

/// The border router's address towards an ISP.
pub fn border_to_isp(isp: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 30, isp, 1)
}

/// The border's own address, which it answers traces from (`net::build`).
pub const BORDER_LOOPBACK: Ipv4Addr = Ipv4Addr::new(10, 30, 0, 1);

/// Domestic servers' link: the server side.
pub const DOM_LINK: Ipv4Addr = Ipv4Addr::new(10, 40, 0, 2);
/// Domestic servers' link: the border side.
pub const BORDER_TO_DOM: Ipv4Addr = Ipv4Addr::new(10, 40, 0, 1);
/// The domestic web server (a domestic anchor).
pub const DOMESTIC_WEB: Ipv4Addr = Ipv4Addr::new(10, 41, 0, 10);
/// The national blockpage server (the address Iran's filter uses; the probe's built-in fingerprints know it).
pub const BLOCKPAGE: Ipv4Addr = Ipv4Addr::new(10, 10, 34, 34);
/// International link: the international side.
pub const INTL_LINK: Ipv4Addr = Ipv4Addr::new(10, 50, 0, 2);
/// International link: the border side.
pub const BORDER_TO_INTL: Ipv4Addr = Ipv4Addr::new(10, 50, 0, 1);
/// International anchors.
pub const INTL_ANCHORS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 60, 0, 10), Ipv4Addr::new(10, 60, 0, 11)];
/// The public-style resolver abroad (the probes' control resolver).
pub const PUBLIC_RESOLVER: Ipv4Addr = Ipv4Addr::new(10, 60, 0, 53);
/// The collector's address.
pub const COLLECTOR: Ipv4Addr = Ipv4Addr::new(10, 70, 0, 2);
/// The collector's gateway.
pub const COLLECTOR_GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 70, 0, 1);
/// The collector's port.
pub const COLLECTOR_PORT: u16 = 8080;

/// The test-list sites, all hosted abroad: (host name, address).
pub const SITES: [(&str, Ipv4Addr); 5] = [
    ("news.vigil.test", Ipv4Addr::new(10, 60, 0, 21)),
    ("video.vigil.test", Ipv4Addr::new(10, 60, 0, 22)),
    ("social.vigil.test", Ipv4Addr::new(10, 60, 0, 23)),
    ("open.vigil.test", Ipv4Addr::new(10, 60, 0, 24)),
    (TLS_SITE, Ipv4Addr::new(10, 60, 0, 25)),
];

/// The one site served over HTTPS, with a certificate from the lab's own CA (which the probes trust).
pub const TLS_SITE: &str = "bank.vigil.test";

/// The lab's messaging app, which every probe measures as `[[apps]]` (issue 25): its name.
pub const APP: &str = "chat";
/// The app's web site: (host name, address), abroad.
pub const APP_WEB: (&str, Ipv4Addr) = ("chat.vigil.test", Ipv4Addr::new(10, 60, 0, 26));
/// The app's chat server: (address, port), abroad — an address, as Telegram's clients have theirs built in.
pub const APP_SERVER: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 60, 0, 27), 5222);

/// The app's endpoints, as a probe's `[[apps]]` lists them.
pub fn app_endpoints() -> [String; 2] {
    [
        format!("http://{}/", APP_WEB.0),
        format!("{}:{}", APP_SERVER.0, APP_SERVER.1),
    ]
}

/// A site's address.
pub fn site_addr(host: &str) -> Option<Ipv4Addr> {
    SITES.iter().find(|(h, _)| *h == host).map(|(_, a)| *a)
}

/// The URL a probe's test list holds for a site.
pub fn site_url(host: &str) -> String {
    let scheme = if host == TLS_SITE { "https" } else { "http" };
    format!("{scheme}://{host}/")
}

/// Namespace of a probe.
pub fn ns_probe(n: usize) -> String {
    format!("{NS_PREFIX}p{n:02}")
}

/// Namespace of a probe's home router.
pub fn ns_home(n: usize) -> String {
    format!("{NS_PREFIX}h{n:02}")
}

/// Namespace of an ISP.
pub fn ns_isp(isp: u8) -> String {
    format!("{NS_PREFIX}isp{isp}")
}

/// The border router.
pub const NS_BORDER: &str = "vgl-border";
/// Domestic servers.
pub const NS_DOMESTIC: &str = "vgl-dom";
/// The international side (web servers, public resolver, transit to the collector and the probes abroad).
pub const NS_INTL: &str = "vgl-intl";
/// The collector.
pub const NS_COLLECTOR: &str = "vgl-coll";
/// The satellite network (the dishes' side, and its ground station abroad).
pub const NS_SATELLITE: &str = "vgl-sat";

/// Every namespace of the lab.
pub fn namespaces() -> Vec<String> {
    let mut all: Vec<String> = all_probes()
        .enumerate()
        .flat_map(|(i, spec)| {
            let n = i + 1;
            match spec.upstream {
                Upstream::Satellite => vec![ns_probe(n)],
                _ => vec![ns_probe(n), ns_home(n)],
            }
        })
        .collect();
    all.extend((1..=ISPS).map(ns_isp));
    all.extend([NS_BORDER, NS_DOMESTIC, NS_INTL, NS_COLLECTOR, NS_SATELLITE].map(str::to_owned));
    all
}

/// The namespace a probe's home router connects to.
pub fn upstream_ns(spec: &ProbeSpec) -> String {
    match spec.upstream {
        Upstream::Isp(isp) => ns_isp(isp),
        Upstream::Abroad => NS_INTL.to_owned(),
        Upstream::Satellite => NS_SATELLITE.to_owned(),
    }
}

/// The resolver a probe's system configuration names: its ISP's, or the public one abroad.
pub fn system_resolver(spec: &ProbeSpec) -> Ipv4Addr {
    match spec.upstream {
        Upstream::Isp(isp) => isp_uplink(isp),
        Upstream::Abroad | Upstream::Satellite => PUBLIC_RESOLVER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_country_meets_the_labs_brief() {
        let home = home_probes();
        assert!(home.len() >= 9);
        let regions: std::collections::BTreeSet<_> = home.iter().filter_map(|&n| PROBES[n - 1].region).collect();
        assert!(regions.len() >= 2);
        assert!(home.iter().any(|&n| PROBES[n - 1].ups));
        assert!(home.iter().any(|&n| PROBES[n - 1].access == "mobile"));
        let names: std::collections::BTreeSet<_> = namespaces().into_iter().collect();
        assert_eq!(names.len(), namespaces().len(), "namespace names are unique");
        assert!(names.iter().all(|n| n.starts_with(NS_PREFIX) && n.len() <= 15));
        let dishes: Vec<&ProbeSpec> = PROBES.iter().filter(|p| p.dish != Dish::None).collect();
        assert!(
            dishes.iter().filter(|p| p.dish == Dish::Live).count() >= 2,
            "two dual-homed probes report live"
        );
        assert!(dishes.iter().any(|p| p.dish == Dish::Hold));
        assert!(
            SATELLITE_ONLY
                .iter()
                .all(|p| p.region.is_some() && p.access == "satellite")
        );
    }
}
