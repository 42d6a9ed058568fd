//! Device evidence (CLASSIFICATION.md §2): reboots on return, battery, gateway and link during the cut.

use crate::classify::ProbeState;
use crate::model::{AccessType, PATH_END_HOME, VitalsSummary};

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
    // Device: battery (F2) among the scope's probes that can run on one — registered on a UPS, or seen on battery
    // — from the bucket before the outage on (the switch often precedes silence), up or down: a probe on a UPS
    // that rode out a blackout is still a witness of it, and a probe without a battery says nothing of power
    // by staying off it.
    // A last gasp (the battery about to run out, sent only on battery) counts as on battery, and is named: it
    // also says why a probe on a UPS went dark.
    let (mut with_battery, mut battery, mut gasped) = (0, 0, 0);
    for &p in v.members {
        let around: Vec<&VitalsSummary> = v
            .obs(p)
            .range(v.abs(v.episode.start.saturating_sub(1))..v.abs(v.episode.end))
            .filter_map(|(_, s)| s.vitals.as_ref())
            .collect();
        let last_gasp = around.iter().any(|v| v.last_gasp);
        let on_battery = last_gasp || around.iter().any(|v| v.on_battery);
        if !around.is_empty() && (v.timelines[p].probe.ups || on_battery) {
            with_battery += 1;
            battery += usize::from(on_battery);
            gasped += usize::from(last_gasp);
        }
    }
    // Gateway and link (F3) from the buckets each probe was itself down in (spooled vitals uploaded afterwards):
    // a probe back early in a staggered recovery reports a working home, which says nothing of the cut.
    let (mut with_lan, mut lan_up, mut lan_lost) = (0, 0, 0);
    // A probe whose traces died at home saw its access network dark even with its own router answering (a
    // blackout's street cabinets, with the home on a UPS): F3's "gateway dark" one hop further out.
    for &p in &v.participants {
        let inside: Vec<&VitalsSummary> = v.while_down(p).filter_map(|s| s.vitals.as_ref()).collect();
        let ends = super::path::ends_while_down(v, p);
        let dark_beyond_home = !ends.is_empty() && ends.iter().all(|&e| e == PATH_END_HOME);
        if !inside.is_empty() || dark_beyond_home {
            with_lan += 1;
            if dark_beyond_home || inside.iter().any(|v| !v.gateway_reachable || !v.link_up) {
                lan_lost += 1;
            } else {
                lan_up += 1;
            }
        }
    }
    out.extend(satellite_gone_dark(v));
    out.extend(satellites_abroad_with_it(v));
    out.extend(dishes_dark_with_their_lines(v));
    if with_battery > 0 && battery as f64 / with_battery as f64 >= 0.3 {
        out.push(Feature {
            family: "device",
            text: if gasped > 0 {
                format!(
                    "{battery} of {with_battery} probes with a battery or UPS switched to battery; {gasped} sent a \
                     last gasp as it ran out"
                )
            } else {
                format!("{battery} of {with_battery} probes with a battery or UPS switched to battery")
            },
            points: [-3, 5, -2],
            inside_cut: true,
        });
    }
    // A home up during the cut argues for a shutdown only from enough witnesses (`enough_witnesses`); a dark home
    // is reported by the probes a blackout left alive, on a battery, which may be few of its probes.
    let lan_heard = v.enough_witnesses(with_lan);
    if lan_heard && lan_up as f64 / with_lan as f64 >= 0.6 && battery == 0 {
        // CLASSIFICATION.md F3: link and gateway up with the path failing first at the border is +3 shutdown, −3
        // power, +2 cable cut (+1 technical). Where the failure lies is read from the anchors: domestic ones
        // answering while international ones do not puts it at the border. Without that, a gateway up alone fits
        // an ISP's own upstream failure as well as an order (issue 23, case 1: it tipped single-network failures
        // into shutdowns on the corpus); what it does rule out is a dark home: against power, and F3's +1 for a
        // technical failure.
        let at_border = failed_at_the_border(v);
        out.push(Feature {
            family: "device",
            text: if at_border {
                format!(
                    "{lan_up} of {with_lan} probes kept a reachable gateway and a live link during the cut, and \
                     their paths failed only at the border"
                )
            } else {
                format!("{lan_up} of {with_lan} probes kept a reachable gateway and a live link during the cut")
            },
            points: if at_border { [3, -3, 2] } else { [0, -3, 1] },
            inside_cut: true,
        });
    } else if with_lan > 0 && lan_lost as f64 / with_lan as f64 >= 0.6 {
        out.push(Feature {
            family: "device",
            text: format!("{lan_lost} of {with_lan} probes lost their gateway or link"),
            // F3 (carrier lost): −2 shutdown, +3 power, −2 cable cut, 0 technical.
            points: [-2, 3, 0],
            inside_cut: true,
        });
    }
    out
}

/// The outage's dual-homed probes whose satellite dish went dark while their line was down (issue 24): silent, or
/// reporting its gateway or link lost, in every bucket the line was down — weighed against those whose dish kept
/// working then (their live reports). A cut at the border cannot reach a path that does not cross it, so a dish
/// dark beside a dark line is the device's doing or its power's, and this is known at once, while the line's
/// own measurements may still wait in its spool. Points: those of a reboot on return (the same fact, a device
/// that lost its power, seen from outside the line: CLASSIFICATION.md's device rows); called when two dishes or
/// more went dark and they are the greater part of the dual-homed probes heard from (one dish is one device: on the
/// corpus's seed 1 a single dark dish made two events at once — a blackout and a network's failure — one
/// high-confidence blackout).
fn dishes_dark_with_their_lines(v: &OutageView<'_, '_>) -> Option<Feature> {
    let (mut dark, mut alive) = (0, 0);
    for &p in &v.participants {
        let line = &v.timelines[p];
        let Some(dish) = v.input.observed.get(&crate::model::other_timeline(
            &line.probe.probe_id,
            AccessType::Satellite,
        )) else {
            continue;
        };
        // A dish heard before the outage: one that worked.
        if dish.range(..v.abs(v.episode.start)).next().is_none() {
            continue;
        }
        let down: Vec<usize> = (v.episode.start..v.episode.end)
            .filter(|&t| line.states.get(t).is_some_and(|s| s.is_down()))
            .collect();
        let dark_in = |t: &usize| match dish.get(&v.abs(*t)) {
            None => true,
            Some(s) => s.vitals.as_ref().is_some_and(|x| !x.gateway_reachable || !x.link_up),
        };
        if down.is_empty() {
            continue;
        }
        if down.iter().all(dark_in) {
            dark += 1;
        } else {
            alive += 1;
        }
    }
    (dark >= 2 && dark > alive).then(|| Feature {
        family: "device",
        text: format!(
            "{dark} of the probes' satellite dishes went dark with their lines{}: a cut at the border cannot reach \
             a dish's path, so the devices or their power failed",
            if alive > 0 {
                format!(" ({alive} kept working)")
            } else {
                String::new()
            }
        ),
        points: [-3, 4, -2],
        inside_cut: true,
    })
}

/// The outage's probes on satellite access whose operator the collector cannot place (no `[ingest] asn_table`, or
/// a network the table does not know) that fell silent with the rest, named. Points: none — a foreign operator's
/// dish is beyond a cut's reach, a domestic VSAT operator's gateway is not, and which this is is not known.
fn satellite_gone_dark(v: &OutageView<'_, '_>) -> Option<Feature> {
    let dark = v
        .participants
        .iter()
        .filter(|&&p| {
            let t = &v.timelines[p];
            t.probe.access == AccessType::Satellite
                && t.probe.network_country.is_none()
                && (v.episode.start..v.episode.end).any(|b| t.states.get(b) == Some(&ProbeState::Silent))
        })
        .count();
    (dark > 0).then(|| Feature {
        family: "device",
        text: format!(
            "{dark} of them on satellite access went dark too: a dish on an operator abroad would be beyond a cut's \
             reach, one on a domestic operator is not, and the collector does not know whose network it is on \
             (`[ingest] asn_table`)"
        ),
        points: [0, 0, 0],
        inside_cut: false,
    })
}

/// How the satellite-only probes on an operator registered abroad (`other_paths::beyond_the_border`) near an
/// outage — in its country, in a region one of its participants is in — lived through it, among those heard
/// before it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct SatellitesAbroad {
    /// Dark (silent, or their gateway or link lost) in half of the outage's buckets or more, or on battery.
    lost_power: usize,
    /// Heard with their gateway and link up in more than half of its buckets, never on battery.
    kept_power: usize,
}

/// The satellite-only probes abroad near the outage ([`SatellitesAbroad`]). Half of the buckets, not all: the
/// devices come back staggered, each within minutes of the power, as the lines' do.
fn satellites_abroad(v: &OutageView<'_, '_>) -> SatellitesAbroad {
    let regions: std::collections::BTreeSet<Option<&str>> = v
        .participants
        .iter()
        .map(|&p| v.timelines[p].probe.region.as_deref())
        .collect();
    let buckets: Vec<crate::model::Bucket> = (v.episode.start..v.episode.end).map(|t| v.abs(t)).collect();
    let mut out = SatellitesAbroad::default();
    for probe in v.input.probes.iter().filter(|p| {
        p.country == v.episode.country
            && regions.contains(&p.region.as_deref())
            && crate::classify::other_paths::beyond_the_border(p)
            && !crate::classify::other_paths::is_other_path(p)
    }) {
        let Some(observed) = v.input.observed.get(&probe.probe_id) else {
            continue;
        };
        let Some(&first) = buckets.first() else {
            continue;
        };
        if observed.range(..first).next().is_none() {
            continue;
        }
        let (mut dark, mut up, mut battery) = (0, 0, false);
        for b in &buckets {
            match observed.get(b).and_then(|s| s.vitals.as_ref()) {
                None if !observed.contains_key(b) => dark += 1,
                Some(x) if !x.gateway_reachable || !x.link_up => dark += 1,
                Some(x) if x.on_battery => battery = true,
                _ => up += 1,
            }
        }
        if battery || 2 * dark >= buckets.len() {
            out.lost_power += 1;
        } else if 2 * up > buckets.len() {
            out.kept_power += 1;
        }
    }
    out
}

/// What the satellite-only probes abroad near the outage say of its power (issue 24). A cut at the border cannot
/// reach their paths (their operator's ground stations are abroad), so their going dark is their devices' power
/// failing and their working is their power holding — the same fact a reboot on return or a device heard through
/// the cut states, seen from outside the lines: the points of CLASSIFICATION.md's F1 rows (R ≥ 0.5: −3, +4, −2,
/// as the dishes beside the lines have, [`dishes_dark_with_their_lines`]; R ≤ 0.1: its −3 against power only — the
/// row's +1 for a shutdown and for a technical failure, given on seed 1 of the corpus, tipped two interim calls of
/// a network's failure, scenarios 619 and 1098, into a shutdown published first: a place's power holding says
/// nothing of which other cause it is). Called from two such probes or more that are the greater part of those
/// heard (one device is one device); one gone dark alone is named without points.
fn satellites_abroad_with_it(v: &OutageView<'_, '_>) -> Option<Feature> {
    let SatellitesAbroad { lost_power, kept_power } = satellites_abroad(v);
    let others = |n: usize, what: &str| {
        if n > 0 { format!(" ({n} {what})") } else { String::new() }
    };
    if (lost_power >= 2 && lost_power > kept_power) || (lost_power == 1 && kept_power == 0) {
        return Some(Feature {
            family: "device",
            text: format!(
                "{lost_power} satellite-only probe{} on an operator registered abroad went dark or onto battery with \
                 the outage{}: no cut at the border reaches {}",
                if lost_power == 1 { "" } else { "s" },
                others(kept_power, "kept working"),
                if lost_power == 1 {
                    "its path, so its power failed"
                } else {
                    "their paths, so their power failed"
                },
            ),
            points: if lost_power >= 2 { [-3, 4, -2] } else { [0, 0, 0] },
            inside_cut: true,
        });
    }
    (kept_power >= 2 && kept_power > lost_power).then(|| Feature {
        family: "device",
        text: format!(
            "{kept_power} satellite-only probes on an operator registered abroad, beside the outage, kept working on \
             mains power{}: the place had power",
            others(lost_power, "went dark"),
        ),
        points: [0, -3, 0],
        inside_cut: true,
    })
}

/// Whether the outage's paths failed at the border: where their failed traces died when enough of them traced
/// and died at a hop networks share, or at home ([`super::path::where_paths_died`]); else whether the probes, in the buckets they were down, still reached
/// domestic anchors (70 % of checks or more) but not international ones (20 % or fewer): CLASSIFICATION.md F4's
/// thresholds, read as where the path failed.
fn failed_at_the_border(v: &OutageView<'_, '_>) -> bool {
    match super::path::where_paths_died(v).map(|d| d.place) {
        Some(super::path::Place::Border) => return true,
        Some(super::path::Place::Home) => return false,
        // Each network's paths dying at hops of their own may be each network's border (a country without one
        // gateway) or deeper inside: the anchors tell.
        Some(super::path::Place::Inside) | None => {}
    }
    let anchors = v.anchors_while_down();
    matches!((anchors.domestic.ratio(), anchors.international.ratio()), (Some(d), Some(i)) if d >= 0.7 && i <= 0.2)
}
