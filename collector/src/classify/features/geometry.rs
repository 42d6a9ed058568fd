//! Geometry: which networks and regions failed together, for the scope the outage was reported at.

use std::collections::BTreeSet;

use super::{OutageView, ScopeLevel};
use crate::classify::ProbeState;
use crate::classify::attribute::Feature;

/// The geometry features of an outage.
pub(super) fn features(v: &OutageView<'_, '_>) -> Vec<Feature> {
    let mut out = Vec::new();
    let asn_of = |p: usize| v.timelines[p].probe.asn;
    let affected_asns: BTreeSet<u32> = v.participants.iter().map(|&p| asn_of(p)).collect();
    let country_asns: BTreeSet<u32> = v.country_members.iter().map(|&p| asn_of(p)).collect();
    match v.level {
        ScopeLevel::Country if affected_asns.len() >= 2 && affected_asns.len() == country_asns.len() => {
            out.push(Feature {
                family: "geometry",
                text: format!(
                    "all {} networks in {} went down together",
                    country_asns.len(),
                    v.scope_name
                ),
                // F9: +3 shutdown, +1 grid collapse, +1 cable cut (−2 technical).
                points: [3, 1, 1],
                inside_cut: false,
            })
        }
        ScopeLevel::Asn => {
            // Every region the network failed in, shared probes included: geometry is where, not why.
            let regions: BTreeSet<&str> = v
                .episode
                .participants
                .iter()
                .filter(|p| v.members.contains(p))
                .filter_map(|&p| v.timelines[p].probe.region.as_deref())
                .collect();
            // Fine: at most a tenth of their probes caught up in the outage (a lossy link or a flapping probe in
            // the same region fails now and then; a failure of theirs would take most of them).
            let others: Vec<usize> = v
                .country_members
                .iter()
                .copied()
                .filter(|&p| asn_of(p) != v.scope.asn.unwrap_or(0))
                .collect();
            let others_down = others.iter().filter(|p| v.episode.participants.contains(p)).count();
            let others_fine = !others.is_empty() && others_down * 10 <= others.len();
            // The other networks must be watched where this one failed: across two regions a blackout would have
            // taken them too; in one region, only if another network's probes there kept working (else a local
            // blackout or a regional order could look the same). CLASSIFICATION.md §3 row 11: one network alone
            // is the geometry of a technical failure; an order takes a country or a set of operators.
            // Only a probe that kept working counts, and one that kept working on its battery watched the region's
            // power fail, not its network keep it (seed 1, scenario 297: a blackout that took every probe of the
            // region read as one network's failure, because the other network's two probes there, dark too, were
            // counted as watching).
            let on_mains = |p: usize| {
                !v.obs(p)
                    .range(v.abs(v.episode.start)..v.abs(v.episode.end))
                    .any(|(_, s)| s.vitals.as_ref().is_some_and(|x| x.on_battery || x.last_gasp))
            };
            let watched_here = v.country_members.iter().any(|&p| {
                asn_of(p) != v.scope.asn.unwrap_or(0)
                    && v.timelines[p]
                        .probe
                        .region
                        .as_deref()
                        .is_some_and(|r| regions.contains(r))
                    && !v.episode.participants.contains(&p)
                    && on_mains(p)
            });
            if others_fine && regions.len() >= 2 {
                out.push(Feature {
                    family: "geometry",
                    text: format!(
                        "only {} failed, across {} regions; the other networks there kept working",
                        v.scope_name,
                        regions.len()
                    ),
                    points: [-1, -3, 3],
                    inside_cut: false,
                });
            } else if others_fine && watched_here {
                out.push(Feature {
                    family: "geometry",
                    text: format!(
                        "only {} failed; other networks' probes in the same region kept working",
                        v.scope_name
                    ),
                    points: [-1, -3, 3],
                    inside_cut: false,
                });
            }
        }
        // A region's outage is "one region" only where the rest of the country is watched and stayed up: with no
        // probe elsewhere, it may as well be the country's.
        ScopeLevel::Region if affected_asns.len() >= 2 && watched_elsewhere(v) => out.push(Feature {
            family: "geometry",
            text: format!("one region, {}, across {} networks", v.scope_name, affected_asns.len()),
            points: [1, 2, -1],
            inside_cut: false,
        }),
        _ => {}
    }
    out
}

/// The geometry beyond the outage's country: networks abroad that lost their international paths with it. It speaks
/// of the cause whatever the scope's own probes can tell (F9: an order stops at its border; a cable does not).
pub(super) fn across_borders(v: &OutageView<'_, '_>) -> Vec<Feature> {
    let mut out = Vec::new();
    if let Some(cut) = cut_across_a_border(v) {
        let (networks, its) = if cut.asns.len() == 1 {
            (format!("a network in {} lost its", cut.country), "its")
        } else {
            (
                format!("{} networks in {} lost their", cut.asns.len(), cut.country),
                "their",
            )
        };
        out.push(Feature {
            family: "geometry",
            text: format!(
                "{networks} international paths at the same time ({} of {its} {} probes, still powered and \
                 reporting): a cable or transit failure across borders",
                cut.probes, cut.expected
            ),
            // CLASSIFICATION.md §5.5 F9: two or more countries failing together (a shared cable system, S14)
            // is −3 for a shutdown, −1 for power and +4 for a cable cut (a network failure here).
            points: [-3, -1, 4],
            inside_cut: false,
        });
    }
    out
}

/// Why the scope's probes cannot tell an order from a failure, when they are one network that holds every probe of
/// its country, or every probe of its access type there (`every probe in XL is on AS64501: …`), or when they are
/// every probe of a region and all on one network: then nothing they measure can tell that network's failure
/// from a cut ordered for the country, the access type or the region — no other network was watched beside
/// it (CLASSIFICATION.md F9) and its access type is its own (F5). The corpus's scorer sets such outages apart
/// (`corpus::score::inseparable`); a quarter of them were called the wrong one of the two, many at high
/// confidence, before this was read (seed 1: 254 such outages, 48 % right).
pub(super) fn one_network_is_all_watched(v: &OutageView<'_, '_>) -> Option<String> {
    let country = &v.episode.country;
    let asn_of = |p: usize| v.timelines[p].probe.asn;
    let access_of = |p: usize| v.timelines[p].probe.access;
    let country_members_where = |keep: &dyn Fn(usize) -> bool| -> BTreeSet<usize> {
        v.country_members.iter().copied().filter(|&p| keep(p)).collect()
    };
    let first = *v.members.first()?;
    let asn = asn_of(first);
    // AS 0 is no network, so there is no network's failure to confuse with a cut. A probe's other uplinks (a dish
    // beside its line, `input::with_other_paths`) are never a cut's: their paths do not cross the border, so one
    // network holding all of them (every dish on one operator) confuses nothing.
    if asn == 0 || crate::classify::other_paths::beyond_the_border(v.timelines[first].probe) {
        return None;
    }
    let network = country_members_where(&|p| asn_of(p) == asn);
    let members: BTreeSet<usize> = v.members.iter().copied().collect();
    // A region whose probes are all on one network (that network may serve other regions too): a cut ordered
    // for the region and the network's failure there put the same probes down.
    let region_of = |p: usize| v.timelines[p].probe.region.as_deref();
    if let Some(region) = region_of(first)
        && members
            .iter()
            .all(|&p| asn_of(p) == asn && region_of(p) == Some(region))
        && country_members_where(&|p| region_of(p) == Some(region)) == members
    {
        return Some(format!(
            "every probe in {region} ({country}) is on AS{asn}: a cut ordered for {region} and a failure of \
             AS{asn} there look the same to them"
        ));
    }
    if members != network {
        return None;
    }
    if v.country_members.iter().all(|&p| network.contains(&p)) {
        return Some(format!(
            "every probe in {country} is on AS{asn}: a cut ordered for {country} and a failure of AS{asn} look the \
             same to them"
        ));
    }
    let access = access_of(first);
    let same_access = country_members_where(&|p| access_of(p) == access);
    let access = access.as_str();
    (same_access == network).then(|| {
        format!(
            "every {access} probe in {country} is on AS{asn}: a cut ordered for {access} access in {country} and a \
             failure of AS{asn} look the same to them"
        )
    })
}

/// Whether probes of the country outside the scope were expected and most of them stayed up.
fn watched_elsewhere(v: &OutageView<'_, '_>) -> bool {
    let outside: Vec<usize> = v
        .country_members
        .iter()
        .copied()
        .filter(|p| !v.members.contains(p))
        .collect();
    let down = outside.iter().filter(|p| v.episode.participants.contains(p)).count();
    !outside.is_empty() && down * 2 < outside.len()
}

/// How many buckets apart two onsets may be and still count as one failure.
const ONSET_SLACK: usize = 2;

/// What was lost in one country abroad at this outage's onset ([`cut_across_a_border`],
/// [`silent_across_a_border`]).
pub(super) struct LostAbroad {
    /// The country.
    pub(super) country: String,
    /// Its networks that were lost (at least half of each one's probes expected).
    pub(super) asns: Vec<u32>,
    /// Their probes lost.
    pub(super) probes: usize,
    /// Their probes expected.
    pub(super) expected: usize,
}

impl LostAbroad {
    /// "AS64500 in XB", or "3 networks in XB".
    pub(super) fn networks(&self) -> String {
        match self.asns.as_slice() {
            [asn] => format!("AS{asn} in {}", self.country),
            asns => format!("{} networks in {}", asns.len(), self.country),
        }
    }
}

/// The country abroad (placed) whose networks lost their international paths within [`ONSET_SLACK`] buckets of this
/// outage's onset while still reporting (isolated, not silent: a power cut there says nothing of cables), as
/// [`lost_in_a_country_abroad`] counts them.
fn cut_across_a_border(v: &OutageView<'_, '_>) -> Option<LostAbroad> {
    let isolated = |s: ProbeState| matches!(s, ProbeState::IsolatedInternational | ProbeState::IsolatedAll);
    lost_in_a_country_abroad(v, &isolated)
}

/// The country abroad whose networks' probes went silent (two buckets running) within [`ONSET_SLACK`] buckets of
/// this outage's onset, as [`lost_in_a_country_abroad`] counts them. Silence abroad says nothing yet: those probes
/// may be cut off and spooling (a cable's cut reaching them too), or dark.
pub(super) fn silent_across_a_border(v: &OutageView<'_, '_>) -> Option<LostAbroad> {
    let silent = |s: ProbeState| s == ProbeState::Silent;
    lost_in_a_country_abroad(v, &silent)
}

/// The country abroad (placed) with the most probes lost, as [`lost_abroad_by_network`] counts them: each network
/// counted with at least half of its probes expected lost, and two or more probes lost in all. Counted by network,
/// not by country: a cable or transit provider serves some operators of each country it reaches, not all (issue
/// 23, case 1), while an order stops at its own border. Summed over networks: a neighbour watched by one probe on
/// each of three networks, all three cut together, says as much as one network's three probes (seed 20270105,
/// scenario 1435: a transit cut of two networks that were one region's every probe, called a regional shutdown at
/// high confidence while the neighbour's three networks, a probe each, were cut with them).
fn lost_in_a_country_abroad(v: &OutageView<'_, '_>, lost: &dyn Fn(ProbeState) -> bool) -> Option<LostAbroad> {
    let mut by_country: std::collections::BTreeMap<&str, LostAbroad> = std::collections::BTreeMap::new();
    for ((country, asn), (cut, expected)) in lost_abroad_by_network(v, lost) {
        if cut == 0 || cut * 2 < expected {
            continue;
        }
        let entry = by_country.entry(country).or_insert_with(|| LostAbroad {
            country: country.to_owned(),
            asns: Vec::new(),
            probes: 0,
            expected: 0,
        });
        entry.asns.push(asn);
        entry.probes += cut;
        entry.expected += expected;
    }
    by_country
        .into_values()
        .filter(|c| c.probes >= 2)
        .max_by_key(|c| c.probes)
}

/// For each network abroad (placed), its probes expected at this outage's onset, and how many of them were up before
/// it and, within [`ONSET_SLACK`] buckets of it, in a state `lost` accepts two buckets running (a lossy link fails
/// one now and then): (country, network) → (lost, expected).
fn lost_abroad_by_network<'a>(
    v: &OutageView<'a, '_>,
    lost: &dyn Fn(ProbeState) -> bool,
) -> std::collections::BTreeMap<(&'a str, u32), (usize, usize)> {
    let start = v.episode.start;
    let window = start.saturating_sub(ONSET_SLACK)..=start + ONSET_SLACK;
    let mut by_network: std::collections::BTreeMap<(&str, u32), (usize, usize)> = std::collections::BTreeMap::new();
    for tl in v.timelines {
        let country = tl.probe.country.as_str();
        if country == v.episode.country || country == crate::classify::UNPLACED_COUNTRY {
            continue;
        }
        if !tl.expected.get(start).copied().unwrap_or(false) {
            continue;
        }
        let entry = by_network.entry((country, tl.probe.asn)).or_default();
        entry.1 += 1;
        let up_before = start
            .checked_sub(ONSET_SLACK + 1)
            .and_then(|t| tl.states.get(t))
            .is_some_and(|s| !s.is_down());
        let lost_at = |t: usize| tl.states.get(t).is_some_and(|s| lost(*s));
        let cut = window.clone().any(|t| lost_at(t) && lost_at(t + 1));
        entry.0 += usize::from(up_before && cut);
    }
    by_network
}
