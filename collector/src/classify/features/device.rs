//! Device evidence (CLASSIFICATION.md §2): reboots on return, battery, gateway and link during the cut.

use crate::model::VitalsSummary;

use super::OutageView;
use crate::classify::attribute::Feature;

/// The device features of an outage.
pub(super) fn features(v: &OutageView<'_, '_>) -> Vec<Feature> {
    let mut out = Vec::new();
    // Device: reboots on return (probes without a UPS).
    let (mut returned, mut rebooted) = (0, 0);
    for &p in v.participants.iter().filter(|&&p| !v.timelines[p].probe.ups) {
        let before = v
            .obs(p)
            .range(..v.abs(v.episode.start))
            .rev()
            .find_map(|(_, s)| s.vitals.as_ref().map(|v| v.boot_id.clone()));
        let after = v
            .obs(p)
            .range(v.abs(v.episode.end)..)
            .find_map(|(_, s)| s.vitals.as_ref().map(|v| v.boot_id.clone()));
        if let (Some(b), Some(a)) = (before, after) {
            returned += 1;
            rebooted += usize::from(a != b);
        }
    }
    if returned > 0 {
        let r = rebooted as f64 / returned as f64;
        if r >= 0.5 {
            out.push(Feature {
                family: "device",
                text: format!("{rebooted} of {returned} returning probes came back with a new boot id (rebooted)"),
                points: [-3, 4, -2],
                inside_cut: false,
            });
        } else if rebooted == 0 && returned >= 2 {
            out.push(Feature {
                family: "device",
                text: format!("all {returned} returning probes kept the same boot id: they never lost power"),
                points: [1, -3, 1],
                inside_cut: false,
            });
        }
    }
    // Device: battery from the bucket before the outage on (the switch often precedes silence); gateway and link
    // only from inside it (spooled vitals uploaded afterwards).
    let (mut with_vitals, mut battery, mut with_lan, mut lan_up, mut lan_lost) = (0, 0, 0, 0, 0);
    for &p in &v.participants {
        let around: Vec<&VitalsSummary> = v
            .obs(p)
            .range(v.abs(v.episode.start.saturating_sub(1))..v.abs(v.episode.end))
            .filter_map(|(_, s)| s.vitals.as_ref())
            .collect();
        if !around.is_empty() {
            with_vitals += 1;
            battery += usize::from(around.iter().any(|v| v.on_battery));
        }
        let inside: Vec<&VitalsSummary> = v
            .obs(p)
            .range(v.abs(v.episode.start)..v.abs(v.episode.end))
            .filter_map(|(_, s)| s.vitals.as_ref())
            .collect();
        if !inside.is_empty() {
            with_lan += 1;
            if inside.iter().any(|v| !v.gateway_reachable || !v.link_up) {
                lan_lost += 1;
            } else {
                lan_up += 1;
            }
        }
    }
    if with_vitals > 0 && battery as f64 / with_vitals as f64 >= 0.3 {
        out.push(Feature {
            family: "device",
            text: format!("{battery} of {with_vitals} probes with power telemetry switched to battery"),
            points: [-3, 5, -2],
            inside_cut: true,
        });
    }
    if with_lan > 0 && lan_up as f64 / with_lan as f64 >= 0.6 && battery == 0 {
        out.push(Feature {
            family: "device",
            text: format!("{lan_up} of {with_lan} probes kept a reachable gateway and a live link during the cut"),
            // CLASSIFICATION.md F3 gives a shutdown +3 only when, with link and gateway up, paths die first at a
            // border hop; Vigil does not locate the failing hop yet, and a gateway up alone fits an ISP's own
            // upstream failure as well as an order (issue 23, case 1: it tipped single-network failures into
            // shutdowns on the corpus). What it does rule out is a dark home: against power, and F3's +1 for a
            // technical failure.
            points: [0, -3, 1],
            inside_cut: true,
        });
    } else if with_lan > 0 && lan_lost as f64 / with_lan as f64 >= 0.6 {
        out.push(Feature {
            family: "device",
            text: format!("{lan_lost} of {with_lan} probes lost their gateway or link"),
            points: [-2, 3, -2],
            inside_cut: true,
        });
    }
    out
}
