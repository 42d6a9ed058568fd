//! Access evidence: mobile versus fixed probes where the outage was.

use crate::model::AccessType;

use super::{OutageView, ScopeLevel};
use crate::classify::attribute::Feature;

/// The access features of an outage.
pub(super) fn features(v: &OutageView<'_, '_>) -> Vec<Feature> {
    let mut out = Vec::new();
    // Access: mobile versus fixed where the outage was — in its region for a regional one (across the country a
    // region's own mix of access types would read as a split), in the country otherwise. One network has one
    // access type: its outage splits nothing (else one fixed ISP's failure read "fixed first, mobile held").
    let pool: &[usize] = match v.level {
        ScopeLevel::Region => v.members,
        ScopeLevel::Country | ScopeLevel::Access => &v.country_members,
        ScopeLevel::Asn | ScopeLevel::Other => return out,
    };
    // Down in this outage, or down through most of its buckets in another that began with it: where one onset was
    // split into outages by network (`apart_by_place`), the fixed networks' own part is not this one's, yet their
    // lines were down — "fixed ones did not" would be false (seed 20261231, scenario 738: a transit cut of two fixed
    // and three mobile networks, the mobile part called a shutdown on "fixed ones did not (0%)" while 45 of the 58
    // fixed probes were down with it).
    let span = v.episode.end.saturating_sub(v.episode.start).max(1);
    let down = |i: usize| {
        v.episode.participants.contains(&i)
            || (v.episode.start..v.episode.end)
                .filter(|&t| v.timelines[i].states.get(t).is_some_and(|s| s.is_down()))
                .count()
                * 2
                >= span
    };
    let down_share = |access: AccessType| {
        let group: Vec<usize> = pool
            .iter()
            .copied()
            .filter(|&i| v.timelines[i].probe.access == access)
            .collect();
        (!group.is_empty()).then(|| group.iter().filter(|&&i| down(i)).count() as f64 / group.len() as f64)
    };
    // Mobile networks down together say "an order" only when there are several: with one mobile operator down,
    // the split by access is the split by network, already weighed as geometry (and an operator's own failure
    // looks the same; issue 23, case 1).
    // A mobile network counts as down when most of its probes are (a probe flapping elsewhere does not count).
    let mut mobile_networks: std::collections::BTreeMap<u32, (usize, usize)> = std::collections::BTreeMap::new();
    for &i in pool {
        if v.timelines[i].probe.access == AccessType::Mobile {
            let entry = mobile_networks.entry(v.timelines[i].probe.asn).or_default();
            entry.0 += usize::from(down(i));
            entry.1 += 1;
        }
    }
    let mobile_networks_down: Vec<u32> = mobile_networks
        .into_iter()
        .filter(|(_, (down, all))| down * 2 > *all)
        .map(|(asn, _)| asn)
        .collect();
    if let (Some(m), Some(f)) = (down_share(AccessType::Mobile), down_share(AccessType::Fixed)) {
        if m - f >= 0.5 && mobile_networks_down.len() >= 2 {
            out.push(Feature {
                family: "access",
                text: format!(
                    "mobile probes went down ({:.0}%), fixed ones did not ({:.0}%)",
                    m * 100.0,
                    f * 100.0
                ),
                // F5: +4 shutdown, −3 power, −1 cable cut, 0 technical.
                points: [4, -3, 0],
                inside_cut: false,
            });
        } else if f - m >= 0.3 {
            out.push(Feature {
                family: "access",
                text: format!(
                    "fixed probes went down first ({:.0}%) while mobile ones held ({:.0}%)",
                    f * 100.0,
                    m * 100.0
                ),
                points: [-2, 3, 0],
                inside_cut: false,
            });
        }
    }
    out
}
