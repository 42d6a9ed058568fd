//! The probe's ways out ([`WayOut`]), shared by the checks and the uploader: each `[[uplinks]]` entry made into a path bound to its interface, or — with
//! none declared — one way out along the routing table's choice, unlabelled, as a probe with one line has always
//! measured.

use vigil_measurement::Uplink;

use crate::config::{BindChoice, UplinkEntry};
use crate::net::{BindMethod, Egress, NetPath};

/// One way out of the machine.
#[derive(Debug, Clone)]
pub struct WayOut {
    /// Its label on the wire; `None` for the single, undeclared way out.
    pub label: Option<Uplink>,
    /// Its interface, when declared.
    pub interface: Option<String>,
    /// Where its connections go and how it looks names up.
    pub path: NetPath,
    /// Whether vitals and anchors are measured through it.
    pub measure: bool,
    /// Whether batches may be uploaded through it.
    pub upload: bool,
}

/// The ways out `entries` declare (one along the routing table when none are), and a warning for each interface
/// the probe cannot bind to its device or that does not exist yet.
pub fn ways_out(entries: &[UplinkEntry]) -> (Vec<WayOut>, Vec<String>) {
    if entries.is_empty() {
        let only = WayOut {
            label: None,
            interface: None,
            path: NetPath::system(),
            measure: true,
            upload: true,
        };
        return (vec![only], Vec::new());
    }
    let mut warnings = Vec::new();
    let ways = entries
        .iter()
        .map(|entry| {
            let egress = match entry.bind {
                BindChoice::Auto => {
                    let (egress, warning) = Egress::detect(&entry.interface);
                    warnings.extend(warning);
                    egress
                }
                BindChoice::Device => Egress::new(&entry.interface, BindMethod::Device),
                BindChoice::Address => Egress::new(&entry.interface, BindMethod::SourceAddress),
            };
            WayOut {
                label: Some(entry.label()),
                interface: Some(entry.interface.clone()),
                path: NetPath::via(egress),
                measure: entry.measure,
                upload: entry.upload,
            }
        })
        .collect();
    (ways, warnings)
}

/// One line per declared uplink for `check-config` — its interface, access, roles and how it is bound here — then
/// each warning (a binding the kernel refuses, an interface that is not there).
pub fn describe_uplinks(entries: &[UplinkEntry]) -> Vec<String> {
    let (ways, warnings) = ways_out(entries);
    let mut lines: Vec<String> = entries
        .iter()
        .zip(&ways)
        .map(|(entry, way)| {
            let roles = match (entry.measure, entry.upload) {
                (true, true) => "measures and uploads",
                (true, false) => "measures",
                (false, true) => "uploads",
                (false, false) => "unused",
            };
            let bound = match way.path.egress().map(Egress::method) {
                Some(BindMethod::Device) => "bound to the device",
                Some(BindMethod::SourceAddress) => "bound to its address (needs policy routing)",
                None => "along the routing table",
            };
            format!(
                "uplink {}: {} ({}), {roles}, {bound}",
                entry.name,
                entry.interface,
                entry.access.as_str()
            )
        })
        .collect();
    lines.extend(warnings.into_iter().map(|w| format!("warning: {w}")));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_measurement::UplinkAccess;

    #[test]
    fn no_declared_uplink_is_one_unlabelled_way_along_the_routing_table() {
        let (ways, warnings) = ways_out(&[]);
        assert!(warnings.is_empty());
        assert_eq!(ways.len(), 1);
        assert!(ways[0].label.is_none() && ways[0].path.egress().is_none() && ways[0].measure && ways[0].upload);
    }

    #[test]
    fn each_declared_uplink_is_a_labelled_way_bound_to_its_interface() {
        let entry = |name: &str, interface: &str, access| UplinkEntry {
            name: name.to_owned(),
            interface: interface.to_owned(),
            access,
            measure: true,
            upload: name == "sat",
            bind: BindChoice::Auto,
        };
        let (ways, warnings) = ways_out(&[
            entry("wan", "lo", UplinkAccess::Fixed),
            entry("sat", "vgl-absent0", UplinkAccess::Satellite),
        ]);
        assert_eq!(ways.len(), 2);
        assert_eq!(ways[1].label.as_ref().map(|l| l.access), Some(UplinkAccess::Satellite));
        assert_eq!(ways[0].path.egress().map(Egress::interface), Some("lo"));
        assert!(!ways[0].upload && ways[1].upload);
        // An interface that is not there yet is named in a warning, whatever the privileges.
        assert!(warnings.iter().any(|w| w.contains("vgl-absent0")), "{warnings:?}");
    }

    #[test]
    fn check_config_describes_each_uplink_and_its_binding() {
        let entry = UplinkEntry {
            name: "sat".to_owned(),
            interface: "lo".to_owned(),
            access: UplinkAccess::Satellite,
            measure: false,
            upload: true,
            bind: BindChoice::Address,
        };
        assert_eq!(
            describe_uplinks(&[entry]),
            ["uplink sat: lo (satellite), uploads, bound to its address (needs policy routing)"]
        );
    }
}
