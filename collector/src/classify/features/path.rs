//! Path evidence: domestic versus international anchors during the outage (a national intranet), and where the
//! traces of failed checks died (at home, inside each network, or at a border the networks share).

use std::collections::{BTreeMap, BTreeSet};

use super::{OutageView, ScopeLevel};
use crate::classify::attribute::Feature;
use crate::model::PATH_END_HOME;

/// The path features of an outage.
pub(super) fn features(v: &OutageView<'_, '_>) -> Vec<Feature> {
    let mut out: Vec<Feature> = where_paths_died_said(v).into_iter().collect();
    // Path: domestic versus international anchors during the outage.
    // Each probe's checks from the buckets it was itself down in (a probe back early in a staggered recovery
    // answers everything, which says nothing of the cut), from enough of the outage's probes to speak for it.
    let anchors = v.anchors_while_down();
    if !v.enough_witnesses(anchors.witnesses) {
        return out;
    }
    // An allowlist's leak, when there was one, is named: a reader sees why the probes still reached something.
    let leak = if anchors.leaked_buckets > 0 {
        format!(
            "; in {} probe-buckets one anchor answered while the others, reached from abroad, did not — an \
             allowlist's leak",
            anchors.leaked_buckets
        )
    } else {
        String::new()
    };
    if let (Some(d), Some(i)) = (anchors.domestic.ratio(), anchors.international.ratio()) {
        if d >= 0.7 && i <= 0.2 {
            // One network cut off from abroad with its domestic peering working is the same pattern, but not a
            // national intranet: its transit (or an order to it alone) failed, which the geometry weighs.
            let reading = if v.level == ScopeLevel::Asn {
                format!(
                    "{} lost its international paths and kept its domestic ones",
                    v.scope_name
                )
            } else {
                "a national intranet".to_owned()
            };
            out.push(Feature {
                family: "path",
                text: format!(
                    "domestic anchors answered ({:.0}% of checks), international anchors did not ({:.0}%): \
                     {reading}{leak}",
                    d * 100.0,
                    i * 100.0
                ),
                // F4: +3 shutdown, −2 power, +2 cable cut (0 technical): network failure takes the cable cut's.
                points: [3, -2, 2],
                inside_cut: true,
            });
        } else if d <= 0.2 && i <= 0.2 {
            out.push(Feature {
                family: "path",
                text: format!("neither domestic nor international anchors answered{leak}"),
                points: [1, 1, 1],
                inside_cut: true,
            });
        }
    }
    out
}

/// Share of the traced probes whose paths must die in one place for the place to be evidence: CLASSIFICATION.md
/// §5.5, F3 ("failure first at a border hop on ≥ 60 % of probes with buffered logs").
const PLACE_SHARE: f64 = 0.6;

/// Where the paths of an outage died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    /// Nothing beyond the probes' own networks answered.
    Home,
    /// Inside their own networks: at hops no other network's paths died at.
    Inside,
    /// Past their networks, at a hop where paths of two or more networks died.
    Border,
}

/// What the failed traces of an outage's participants say ([`where_paths_died`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct PathsDied {
    /// Where most of them died.
    pub place: Place,
    /// Probes whose traces died there.
    pub probes: usize,
    /// Probes with failed traces.
    pub traced: usize,
    /// Networks whose paths died at the shared hop (`Border`), or whose paths died inside them (`Inside`).
    pub networks: usize,
    /// Distinct hops they died at (`Inside`).
    pub hops: usize,
}

/// The probe's path ends while it was down (its failed traces' last answering hops, or `home`).
pub(super) fn ends_while_down<'v>(v: &'v OutageView<'_, '_>, p: usize) -> BTreeSet<&'v str> {
    v.while_down(p)
        .flat_map(|s| s.path_ends.iter().map(String::as_str))
        .collect()
}

/// Where the failed traces of the outage's participants died, while each was down (CLASSIFICATION.md §3 row 5,
/// §5.5 F3), when two or more traced and at least 60 % of them died in one place. A hop is a
/// border when paths from two or more networks died at it — past each network, at a gateway or an upstream they
/// share — which is how a national cut and a cut cable look, and never a blackout, whose probes still running see
/// their paths die at home (the street cabinets dark). Paths that died at hops of their own network only say
/// where but not why: an ISP's failure and its order to cut die at the same hops.
pub(super) fn where_paths_died(v: &OutageView<'_, '_>) -> Option<PathsDied> {
    let asn_of = |p: usize| v.timelines[p].probe.asn;
    let ends: BTreeMap<usize, BTreeSet<&str>> = v
        .participants
        .iter()
        .map(|&p| (p, ends_while_down(v, p)))
        .filter(|(_, ends)| !ends.is_empty())
        .collect();
    if ends.len() < 2 {
        return None;
    }
    let mut networks_at: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
    for (&p, probe_ends) in &ends {
        for &end in probe_ends.iter().filter(|&&e| e != PATH_END_HOME) {
            networks_at.entry(end).or_default().insert(asn_of(p));
        }
    }
    let shared: BTreeMap<&str, usize> = networks_at
        .iter()
        .filter(|(_, asns)| asns.len() >= 2)
        .map(|(end, asns)| (*end, asns.len()))
        .collect();
    let traced = ends.len();
    let enough = |n: usize| n as f64 >= PLACE_SHARE * traced as f64;
    let at_border = ends
        .values()
        .filter(|e| e.iter().any(|end| shared.contains_key(end)))
        .count();
    // A border argues for a cut ordered there: only from enough witnesses inside it (`enough_witnesses`). A dark
    // access network is reported by the probes a blackout left alive, on a battery, which may be few.
    if enough(at_border) && v.enough_witnesses(traced) {
        return Some(PathsDied {
            place: Place::Border,
            probes: at_border,
            traced,
            networks: shared.values().copied().max().unwrap_or(0),
            hops: shared.len(),
        });
    }
    let at_home = ends
        .values()
        .filter(|e| e.iter().all(|&end| end == PATH_END_HOME))
        .count();
    if enough(at_home) {
        return Some(PathsDied {
            place: Place::Home,
            probes: at_home,
            traced,
            networks: 0,
            hops: 0,
        });
    }
    let inside: Vec<(usize, &BTreeSet<&str>)> = ends
        .iter()
        .filter(|(_, e)| e.iter().any(|&end| end != PATH_END_HOME) && e.iter().all(|end| !shared.contains_key(end)))
        .map(|(&p, e)| (p, e))
        .collect();
    if enough(inside.len()) {
        let networks: BTreeSet<u32> = inside.iter().map(|(p, _)| asn_of(*p)).collect();
        let hops: BTreeSet<&str> = inside
            .iter()
            .flat_map(|(_, e)| e.iter().copied())
            .filter(|&e| e != PATH_END_HOME)
            .collect();
        return Some(PathsDied {
            place: Place::Inside,
            probes: inside.len(),
            traced,
            networks: networks.len(),
            hops: hops.len(),
        });
    }
    None
}

/// Where the paths died, said: evidence of where, weighed by the device family's F3 (which reads it to place the
/// failure), so it carries no points of its own.
fn where_paths_died_said(v: &OutageView<'_, '_>) -> Option<Feature> {
    let d = where_paths_died(v)?;
    let (probes, traced) = (d.probes, d.traced);
    let text = match d.place {
        Place::Border => format!(
            "traces of {probes} of {traced} probes died past their networks, at a hop where paths of {} networks \
             died: a border they share",
            d.networks
        ),
        Place::Home => {
            format!(
                "traces of {probes} of {traced} probes died at home: nothing beyond the probe's own network answered"
            )
        }
        Place::Inside if d.networks >= 2 => format!(
            "traces of {probes} of {traced} probes died at {} hops, each on one of the {} networks' paths only \
             (inside each network, or at its own upstream)",
            d.hops, d.networks
        ),
        Place::Inside => format!(
            "traces of {probes} of {traced} probes died past their homes, at {} hop{} of their network's paths \
             (inside it, or at its upstream)",
            d.hops,
            if d.hops == 1 { "" } else { "s" }
        ),
    };
    Some(Feature {
        family: "path",
        text,
        points: [0, 0, 0],
        inside_cut: true,
    })
}
