//! The default route from `/proc/net/route` (IPv4): which interface, which gateway.

use std::net::Ipv4Addr;

/// The default route's interface and gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultRoute {
    /// Interface name.
    pub interface: String,
    /// Gateway address (None for a point-to-point default route without a gateway).
    pub gateway: Option<Ipv4Addr>,
}

const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;

/// Parses `/proc/net/route` text; the up default route with the lowest metric wins.
pub fn default_route(table: &str) -> Option<DefaultRoute> {
    default_route_where(table, |_| true)
}

/// The up default route through `interface` with the lowest metric (an uplink's own gateway, while another
/// interface's route may be the one the table prefers).
pub fn default_route_on(table: &str, interface: &str) -> Option<DefaultRoute> {
    default_route_where(table, |name| name == interface)
}

fn default_route_where(table: &str, interface_wanted: impl Fn(&str) -> bool) -> Option<DefaultRoute> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 || f[1] != "00000000" || f[7] != "00000000" || !interface_wanted(f[0]) {
                return None;
            }
            let flags = u32::from_str_radix(f[3], 16).ok()?;
            if flags & RTF_UP == 0 {
                return None;
            }
            let metric: u32 = f[6].parse().ok()?;
            // The file shows addresses as host-order hex of a network-order u32: little-endian bytes here.
            let gw = u32::from_str_radix(f[2], 16).ok()?;
            let gateway = (flags & RTF_GATEWAY != 0 && gw != 0).then(|| Ipv4Addr::from(gw.to_le_bytes()));
            Some((
                metric,
                DefaultRoute {
                    interface: f[0].to_owned(),
                    gateway,
                },
            ))
        })
        .min_by_key(|(metric, _)| *metric)
        .map(|(_, route)| route)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
        eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
        eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";

    #[test]
    fn the_lowest_metric_default_route_wins_and_the_gateway_is_decoded() {
        assert_eq!(
            default_route(TABLE),
            Some(DefaultRoute {
                interface: "eth0".to_owned(),
                gateway: Some(Ipv4Addr::new(10, 0, 0, 1)),
            })
        );
    }

    #[test]
    fn an_uplink_has_its_own_interface_default_route() {
        assert_eq!(
            default_route_on(TABLE, "wlan0"),
            Some(DefaultRoute {
                interface: "wlan0".to_owned(),
                gateway: Some(Ipv4Addr::new(192, 168, 1, 1)),
            })
        );
        assert_eq!(default_route_on(TABLE, "wwan0"), None);
    }

    #[test]
    fn no_default_route_is_none() {
        let only_lan = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
                        eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\n";
        assert_eq!(default_route(only_lan), None);
        assert_eq!(default_route(""), None);
    }
}
