//! The disruption classifier: from probes' bucketed measurements to explained events (DESIGN.md §4,
//! CLASSIFICATION.md §5).
//!
//! A run is a pure function of its input — the probe registry and what each probe measured per bucket over a
//! window — so the events depend only on the measurements, never on the order or batches in which they arrived;
//! re-running over a window after late data lands revises the events. Steps:
//!
//! 1. a state per probe and bucket ([`state::bucket_state`]);
//! 2. per country and bucket, the correlated-failure test on the country and each of its ASNs, regions and
//!    access types ([`stats`]): at least 2 probes down and `P(X ≥ k) < alpha` under each probe's baseline;
//! 3. consecutive firing buckets form an episode; its scope is the smallest one covering most of its probes;
//! 4. episodes in several countries at once whose probes are all silent are the collector's side;
//! 5. the rest are attributed by evidence families ([`attribute`]);
//! 6. separately: censorship (a target blocked on ≥ 2 online probes of one ASN), and single-probe faults.

pub mod attribute;
mod controls;
mod features;
pub mod input;
mod other_paths;
mod platform;
pub mod presence;
pub mod state;
pub mod stats;
pub mod timeline;

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use attribute::{Feature, decide};
pub use input::{ClassifierInput, ProbeInfo, build_input};
pub(crate) use other_paths::beyond_the_border;
use presence::PresenceState;
pub use state::{ProbeState, bucket_state};

use crate::model::{
    AccessType, BlockedTarget, BlockingMethod, Bucket, BucketSummary, ConfidenceLevel, DisruptionEvent, EventClass,
    EventScope, Evidence, median,
};

/// Tunables of a run.
#[derive(Debug, Clone)]
pub struct ClassifierSettings {
    /// Significance of the correlated-failure test.
    pub alpha: f64,
    /// Buckets before a window that a run also reads, so that probes heard just before it are expected in it.
    pub expect_window: i64,
    /// A probe stays expected this long after it was last heard (in the window, or its last upload before it):
    /// a shutdown or blackout lasting days stays an event, not a probe that stopped counting.
    pub keep_expected_secs: i64,
    /// Share of an episode's probes a scope must hold to be its scope.
    pub cover_share: f64,
    /// Shortest trouble of one probe reported as a probe fault, seconds (and never under two buckets). Shorter
    /// silences are flaps: a home router reboots in 1–3 minutes, and the median absence of a RIPE Atlas probe
    /// from its platform is 5 minutes (EVALUATION.md); reporting each as an event buried real ones (on the
    /// scenario corpus, flaps of 1–3 minutes were most false events at the default of two 1-minute buckets).
    pub probe_fault_min_secs: i64,
}

impl Default for ClassifierSettings {
    fn default() -> Self {
        ClassifierSettings {
            alpha: 1e-4,
            expect_window: 12,
            keep_expected_secs: 3 * 86_400,
            cover_share: 0.8,
            probe_fault_min_secs: 600,
        }
    }
}

/// Per-probe states over the window, and which buckets the probe was expected in.
struct Timeline<'a> {
    probe: &'a ProbeInfo,
    states: Vec<ProbeState>,
    expected: Vec<bool>,
    /// Judged by a third-party connection log alone: no vitals, no paths.
    presence_only: bool,
}

/// The country of probes whose country is not known — ISO 3166's user-assigned "unknown", which the RIPE Atlas
/// import gives probes it cannot place. It is no country: never tested or reported as one.
pub const UNPLACED_COUNTRY: &str = "ZZ";

/// Classifies a window.
pub fn classify(input: &ClassifierInput, settings: &ClassifierSettings) -> Vec<DisruptionEvent> {
    // A probe's uplinks of another access (a satellite dish beside a fixed line, issue 24) do not cross the
    // border its terrestrial line crosses: they are judged apart, never in the terrestrial scopes, and what they
    // show is then read against the terrestrial events (`other_paths`).
    let mut events = classify_among(input, settings, |p| !other_paths::beyond_the_border(p));
    for access in [AccessType::Satellite, AccessType::Mobile, AccessType::Fixed] {
        let of_access = |p: &ProbeInfo| other_paths::beyond_the_border(p) && p.access == access;
        if input.probes.iter().any(of_access) {
            events = other_paths::merge(
                events,
                classify_among(input, settings, of_access),
                access,
                &input.probes,
            );
        }
    }
    events
}

/// Classifies the probes `among` accepts, as one population.
fn classify_among(
    input: &ClassifierInput,
    settings: &ClassifierSettings,
    among: impl Fn(&ProbeInfo) -> bool,
) -> Vec<DisruptionEvent> {
    let n = window_len(input);
    let controls = controls::AnchorControls::of(input);
    let mut timelines: Vec<Timeline<'_>> = input
        .probes
        .iter()
        .filter(|probe| among(probe))
        .map(|probe| {
            let (states, expected, presence_only) = probe_timeline(probe, input, settings, &controls);
            Timeline {
                probe,
                states,
                expected,
                presence_only,
            }
        })
        .collect();
    // A platform's own fault (many presence-only probes leaving one of its servers at once) explains those
    // probes' absence: it is reported as such and kept out of the outage tests.
    // Each event is made before its probes are masked, so that it counts them among the probes in scope.
    let mut events = Vec::new();
    let mut covered: BTreeSet<(String, usize)> = BTreeSet::new();
    for fault in platform::faults(&timelines, input, settings) {
        events.push(platform::event(&fault, &timelines, input));
        for &p in &fault.participants {
            for t in fault.start..fault.end {
                covered.insert((timelines[p].probe.probe_id.clone(), t));
                timelines[p].expected[t] = false;
            }
        }
    }
    let episodes: Vec<Episode> = correlated_episodes(&timelines, n, settings)
        .into_iter()
        .filter(|e| is_burst_if_presence_only(e, &timelines))
        .collect();
    let (collector_side, episodes) = split_collector_side(episodes, &timelines);
    if let Some(e) = collector_side {
        for p in &e.participants {
            for t in e.start..e.end {
                covered.insert((timelines[*p].probe.probe_id.clone(), t));
            }
        }
        events.push(collector_event(&e, &timelines, input));
    }
    for e in &episodes {
        for p in &e.participants {
            for t in e.start..e.end {
                covered.insert((timelines[*p].probe.probe_id.clone(), t));
            }
        }
        events.extend(outage_events(e, &timelines, input, settings));
    }
    events.extend(probe_faults(&timelines, &covered, input, settings));
    events.extend(censorship(&timelines, input));
    events.extend(throttling(&timelines, input));
    events.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
    events
}

/// A probe's state and whether it was expected, in each bucket of the window, and whether it is judged by
/// presence alone (a third-party connection log: away is silent, present is online, unknown is not expected).
pub(crate) fn probe_timeline(
    probe: &ProbeInfo,
    input: &ClassifierInput,
    settings: &ClassifierSettings,
    controls: &controls::AnchorControls<'_>,
) -> (Vec<ProbeState>, Vec<bool>, bool) {
    let n = window_len(input);
    if let Some(presence) = input.presence.get(&probe.probe_id) {
        let at = |t: usize| presence.states.get(t).copied().unwrap_or(PresenceState::Unknown);
        let states = (0..n)
            .map(|t| match at(t) {
                PresenceState::Present => ProbeState::Online,
                PresenceState::Away | PresenceState::Unknown => ProbeState::Silent,
            })
            .collect();
        let expected = (0..n).map(|t| at(t) != PresenceState::Unknown).collect();
        return (states, expected, true);
    }
    let empty = BTreeMap::new();
    let observed = input.observed.get(&probe.probe_id).unwrap_or(&empty);
    let mut states = probe_states(observed, input.buckets.clone());
    cut_where_leaking(&mut states, observed, input, &probe.country, controls);
    let expected = expected_buckets(&states, input, probe, settings);
    (states, expected, false)
}

/// A probe's state in each bucket of `buckets`, each judged against the boot id it reported before.
pub(crate) fn probe_states(
    observed: &BTreeMap<Bucket, BucketSummary>,
    buckets: std::ops::Range<Bucket>,
) -> Vec<ProbeState> {
    let mut boot: Option<&str> = None;
    let mut states: Vec<ProbeState> = buckets
        .clone()
        .map(|b| {
            let summary = observed.get(&b);
            let state = bucket_state(summary, boot);
            if let Some(v) = summary.and_then(|s| s.vitals.as_ref()) {
                boot = Some(v.boot_id.as_str());
            }
            state
        })
        .collect();
    let unmeasured: Vec<bool> = buckets
        .clone()
        .map(|b| observed.get(&b).is_some_and(state::reach_unmeasured))
        .collect();
    carry_over_unmeasured(&mut states, &unmeasured);
    let leaky: Vec<bool> = buckets
        .map(|b| observed.get(&b).is_some_and(state::leak_through_a_cut))
        .collect();
    close_leaks(&mut states, &leaky);
    states
}

/// A bucket in which the probe reported but measured nothing of its reach ([`state::reach_unmeasured`]) keeps the
/// path state of the bucket before it — isolated stays isolated — instead of reading as online and splitting one
/// cut into two events (the lab's `shutdown_longer_than_the_window`, a cut of ten buckets seen as two). Vitals
/// still speak for themselves: a bucket whose vitals show the LAN down, a battery or a reboot keeps that state.
fn carry_over_unmeasured(states: &mut [ProbeState], unmeasured: &[bool]) {
    let path_state = |s: ProbeState| {
        matches!(
            s,
            ProbeState::IsolatedInternational | ProbeState::IsolatedAll | ProbeState::Degraded
        )
    };
    for t in 1..states.len() {
        if unmeasured.get(t) == Some(&true) && states[t] == ProbeState::Online && path_state(states[t - 1]) {
            states[t] = states[t - 1];
        }
    }
}

/// Issue 23, case 2, with the leak lasting: buckets in which an allowlisted anchor answered while the others,
/// working from elsewhere, did not ([`controls::AnchorControls::cut_with_a_leak`]) are cut off — when two or more
/// such buckets run together. A cut lasts; one anchor check lost on a lossy link does not.
fn cut_where_leaking(
    states: &mut [ProbeState],
    observed: &BTreeMap<Bucket, BucketSummary>,
    input: &ClassifierInput,
    country: &str,
    controls: &controls::AnchorControls<'_>,
) {
    let cut: Vec<Option<ProbeState>> = input
        .buckets
        .clone()
        .enumerate()
        .map(|(t, b)| {
            let s = observed.get(&b)?;
            let reporting = matches!(
                states.get(t),
                Some(ProbeState::Online | ProbeState::Degraded | ProbeState::OnBattery)
            );
            (reporting && controls.cut_with_a_leak(t, country, s)).then_some(if s.domestic.ok > 0 {
                ProbeState::IsolatedInternational
            } else {
                ProbeState::IsolatedAll
            })
        })
        .collect();
    for t in 0..cut.len().min(states.len()) {
        let lasting = t.checked_sub(1).is_some_and(|p| cut[p].is_some()) || cut.get(t + 1).is_some_and(Option::is_some);
        if let Some(state) = cut[t].filter(|_| lasting) {
            states[t] = state;
        }
    }
}

/// The longest run of buckets a leak may fill (CLASSIFICATION.md: Iran's 2025 shutdown let ~0.02 % of addresses
/// through, so an anchor on the allowlist answers now and then, not for long).
const LEAK_MAX_BUCKETS: usize = 3;

/// Issue 23, case 2: a probe cut off from the world whose international checks mostly fail but now and then pass
/// (a cached answer, an address on the censor's allowlist) is still cut off. A run of at most
/// [`LEAK_MAX_BUCKETS`] buckets that could be a leak (`leaky`: some international check failed, home paths fine)
/// between buckets isolated from the world on both sides takes their state.
fn close_leaks(states: &mut [ProbeState], leaky: &[bool]) {
    let isolated = |s: ProbeState| matches!(s, ProbeState::IsolatedInternational | ProbeState::IsolatedAll);
    let mut t = 0;
    while t < states.len() {
        let is_candidate = |t: usize| leaky[t] && !states[t].is_down();
        if !is_candidate(t) {
            t += 1;
            continue;
        }
        let start = t;
        while t < states.len() && is_candidate(t) {
            t += 1;
        }
        let before = start.checked_sub(1).map(|b| states[b]);
        let after = states.get(t).copied();
        if t - start <= LEAK_MAX_BUCKETS
            && let (Some(b), Some(a)) = (before, after)
            && isolated(b)
            && isolated(a)
        {
            let fill = if b == ProbeState::IsolatedInternational || a == ProbeState::IsolatedInternational {
                ProbeState::IsolatedInternational
            } else {
                ProbeState::IsolatedAll
            };
            for s in &mut states[start..t] {
                *s = fill;
            }
        }
    }
}

/// Whether a probe is expected in each bucket of the window: heard (any data) within `keep_expected_secs`
/// before it — in the window, or, before its first data there, its last upload as the registry recorded it — or
/// from the start of an open outage that holds it ([`ProbeInfo::held_since`]).
pub(crate) fn expected_buckets(
    states: &[ProbeState],
    input: &ClassifierInput,
    probe: &ProbeInfo,
    settings: &ClassifierSettings,
) -> Vec<bool> {
    let held = |at: i64| probe.held_since.is_some_and(|since| at + input.bucket_secs > since);
    let keep = settings
        .keep_expected_secs
        .max(settings.expect_window * input.bucket_secs);
    let mut heard: Option<i64> = probe.last_seen;
    states
        .iter()
        .enumerate()
        .map(|(t, state)| {
            let at = bucket_time(input, t);
            let expected = held(at) || heard.is_some_and(|h| h < at + input.bucket_secs && at - h <= keep);
            if *state != ProbeState::Silent {
                heard = Some(at);
            }
            expected
        })
        .collect()
}

/// Consecutive buckets in which a country's probes fail together.
#[derive(Debug, Clone)]
struct Episode {
    country: String,
    start: usize,
    end: usize,
    participants: BTreeSet<usize>,
    /// Participants that are also in a concurrent independent outage (a cut ISP's probe in a blacked-out
    /// region): counted as affected, left out of the evidence, which they cannot tell apart.
    shared: BTreeSet<usize>,
}

fn correlated_episodes(timelines: &[Timeline<'_>], n: usize, settings: &ClassifierSettings) -> Vec<Episode> {
    let countries: BTreeSet<&str> = timelines.iter().map(|t| t.probe.country.as_str()).collect();
    // Running baselines per probe, over expected buckets so far outside correlated outages.
    let mut record: Vec<stats::History> = (0..timelines.len()).map(|_| stats::History::new()).collect();
    // Per probe: how many buckets in a row it has been down, up to the one tested.
    let mut run = vec![0usize; timelines.len()];
    // Per country and bucket: the probes down in each scope whose test fired.
    let mut fired: BTreeMap<&str, Vec<Vec<BTreeSet<usize>>>> =
        countries.iter().map(|c| (*c, vec![Vec::new(); n])).collect();
    for t in 0..n {
        for (i, tl) in timelines.iter().enumerate() {
            run[i] = if tl.expected[t] && tl.states[t].is_down() {
                run[i] + 1
            } else {
                0
            };
        }
        // Per country: its members (tested as the country when placed) and its sub-scopes, each with enough
        // expected probes to be tested (`min_scope`).
        let mut plans: Vec<CountryTests<'_>> = Vec::new();
        for country in &countries {
            let members: Vec<usize> = (0..timelines.len())
                .filter(|&i| timelines[i].probe.country == *country && timelines[i].expected[t])
                .filter(|&i| !away_alone(timelines, i, t, &fired))
                .collect();
            let testable = |scope: &Vec<usize>| scope.len() >= min_scope(scope, timelines);
            let whole = (*country != UNPLACED_COUNTRY && testable(&members)).then(|| members.clone());
            let parts = if *country == UNPLACED_COUNTRY {
                networks_of(&members, timelines)
            } else {
                sub_scopes(&members, timelines).into_iter().map(|(_, s)| s).collect()
            };
            plans.push((*country, whole, parts.into_iter().filter(testable).collect()));
        }
        // One bucket's tests are one family: `alpha` bounds the chance that any of them fires by chance
        // (Bonferroni). A handful of scopes, as in a small deployment, changes little; the thousands of networks
        // of a RIPE Atlas day would otherwise give false outages every day (EVALUATION.md).
        // A scope with probes of Vigil's own is tested twice: the probes down in this bucket, and the run of
        // buckets they have been down together (`significant`).
        let runs_testable = |scope: &Vec<usize>| scope.iter().any(|&i| !timelines[i].presence_only);
        let tests: usize = plans
            .iter()
            .flat_map(|(_, whole, parts)| whole.iter().chain(parts))
            .map(|scope| 1 + usize::from(runs_testable(scope)))
            .sum();
        let level = settings.alpha / tests.max(1) as f64;
        let down_in = |scope: &[usize]| -> Vec<usize> {
            scope
                .iter()
                .copied()
                .filter(|&i| timelines[i].states[t].is_down())
                .collect()
        };
        // Whether `down` of `scope`'s probes down now is an outage, and if so for how many buckets back: this one
        // (1) when that many down at once is unlikely by chance; else the run of buckets they have all been down
        // together, when that many down for that long is. The run test finds what one bucket cannot — two or
        // three probes, all a small country or network has, down together for many buckets — and asks each
        // probe's record how long its lone failures last (`stats::History::down_for`): a run of a probe that
        // flaps briefly is rare, one of a probe that naps for hours is not. Presence-only probes get no credit
        // for runs: a RIPE Atlas probe away for the day is the platform's churn.
        let significant = |scope: &[usize], down: &[usize]| -> Option<usize> {
            if down.len() < 2 {
                return None;
            }
            let now: Vec<f64> = scope.iter().map(|&i| record[i].down_rate()).collect();
            if stats::tail_at_least(&now, down.len()) < level {
                return Some(1);
            }
            let together = down.iter().map(|&i| run[i]).min().unwrap_or(0);
            if together < 2 || scope.iter().all(|&i| timelines[i].presence_only) {
                return None;
            }
            let sustained: Vec<f64> = scope
                .iter()
                .map(|&i| {
                    if timelines[i].presence_only {
                        record[i].down_rate()
                    } else {
                        record[i].down_for(together, t + 1 - together)
                    }
                })
                .collect();
            (stats::tail_at_least(&sustained, down.len()) < level).then_some(together)
        };
        // Outages found by their run: their earlier buckets are theirs too (marked after this bucket's tests).
        let mut runs_found: Vec<(&str, BTreeSet<usize>, usize)> = Vec::new();
        for (country, whole, parts) in plans {
            let mut sets: Vec<BTreeSet<usize>> = Vec::new();
            let mut explained: BTreeSet<usize> = BTreeSet::new();
            for scope in &parts {
                let down = down_in(scope);
                if let Some(buckets) = significant(scope, &down) {
                    explained.extend(scope.iter().copied());
                    if buckets > 1 {
                        runs_found.push((country, down.iter().copied().collect(), buckets));
                    }
                    sets.push(down.into_iter().collect());
                }
            }
            // The country as a whole: an outage of its own only beyond what its failing networks, regions and
            // access types explain — else one big network's outage plus the country's usual churn would read as
            // country-wide — or when those failing scopes make up most of it (a cut of every network or region).
            if let Some(members) = whole {
                let down = down_in(&members);
                let residual: Vec<usize> = members.iter().copied().filter(|i| !explained.contains(i)).collect();
                let residual_down = down_in(&residual).len();
                let most = explained.len() as f64 >= settings.cover_share * members.len() as f64;
                // The rest mostly down with them: the same outage reaching scopes too small to be tested alone
                // (one or two probes cannot reach the test's level), not churn, which leaves most of it up.
                let rest_too = residual_down * 2 > residual.len();
                let beyond = || significant(&residual, &down_in(&residual)).is_some();
                if let Some(buckets) = significant(&members, &down)
                    && (explained.is_empty() || most || rest_too || beyond())
                {
                    if buckets > 1 {
                        runs_found.push((country, down.iter().copied().collect(), buckets));
                    }
                    sets.push(down.into_iter().collect());
                }
            }
            if let Some(per_bucket) = fired.get_mut(country) {
                per_bucket[t].extend(sets);
            }
        }
        // Baselines count buckets outside correlated outages only (CLASSIFICATION.md §5.2): a long outage must
        // not make failure look normal and end its own event early.
        for (i, tl) in timelines.iter().enumerate() {
            let in_outage = fired
                .get(tl.probe.country.as_str())
                .is_some_and(|f| f[t].iter().any(|set| set.contains(&i)));
            record[i].push((tl.expected[t] && !in_outage).then(|| tl.states[t].is_down()));
        }
        // An outage found by its run began when the run did: its probes were in it in the buckets before, which
        // leave their records.
        for (country, set, buckets) in runs_found {
            let Some(per_bucket) = fired.get_mut(country) else {
                continue;
            };
            let first = t + 1 - buckets;
            for (before, sets) in per_bucket.iter_mut().enumerate().take(t).skip(first) {
                for &i in &set {
                    record[i].uncount(before);
                }
                if !sets.contains(&set) {
                    sets.push(set.clone());
                }
            }
        }
    }
    let mut episodes = Vec::new();
    for (country, per_bucket) in fired {
        for chain in chains(&per_bucket).into_iter().map(without_passers_by) {
            let episode = Episode {
                country: country.to_owned(),
                start: chain.start,
                end: chain.start + chain.sets.len(),
                participants: chain.sets.iter().flatten().copied().collect(),
                shared: BTreeSet::new(),
            };
            episodes.extend(split_independent(episode, &chain, timelines, settings));
        }
    }
    episodes
}

/// A presence-only probe that was already away in the bucket before, outside any outage then: its absence is
/// its own (a probe unplugged, retired, or away for hours), and presence says nothing more about it. Such a probe
/// is left out of the tests until it returns, as Disco counts only disconnections inside a burst; otherwise
/// every probe gone for the day would stay "down" in its network's count, and a few of them with a chance
/// coincidence would make an outage of nothing (EVALUATION.md). Vigil's own probes keep being counted: their
/// evidence tells more than presence.
fn away_alone(
    timelines: &[Timeline<'_>],
    i: usize,
    t: usize,
    fired: &BTreeMap<&str, Vec<Vec<BTreeSet<usize>>>>,
) -> bool {
    let tl = &timelines[i];
    let Some(before) = t.checked_sub(1) else {
        return false;
    };
    tl.presence_only
        && tl.states[t].is_down()
        && tl.expected[before]
        && tl.states[before].is_down()
        && !fired
            .get(tl.probe.country.as_str())
            .is_some_and(|f| f[before].iter().any(|set| set.contains(&i)))
}

/// Fewest expected probes a scope needs to be tested: two, or ten when all of them are presence-only —
/// Disco's `minimumProbesInUnit=10` (InternetHealthReport/disco, `conf/discoLive.conf`) for the same RIPE Atlas
/// signal, where a few probes of one network leaving together is the platform's daily churn (EVALUATION.md).
fn min_scope(scope: &[usize], timelines: &[Timeline<'_>]) -> usize {
    if scope.iter().all(|&i| timelines[i].presence_only) {
        PRESENCE_MIN_PROBES
    } else {
        2
    }
}

/// See [`min_scope`].
const PRESENCE_MIN_PROBES: usize = 10;

/// Presence alone shows an outage only as a burst — a scope's probes leaving together, as Disco defines its
/// events (Shah et al., TMA 2017): at least half of an episode's presence-only probes must go away within
/// [`presence::SUSTAINED_BUCKETS`] buckets of its first. Absences that pile up one by one over hours are the
/// platform's churn (or probes retiring), which the level test alone would call an outage once enough of them
/// coincide. Episodes with any probe of Vigil's own are judged on their evidence as before.
fn is_burst_if_presence_only(e: &Episode, timelines: &[Timeline<'_>]) -> bool {
    if !e.participants.iter().all(|&p| timelines[p].presence_only) {
        return true;
    }
    // Probes already away before the episode (a probe gone for hours) left with no burst.
    let fresh: Vec<usize> = e
        .participants
        .iter()
        .copied()
        .filter(|&p| !down_before(e, p, timelines))
        .collect();
    let onsets = onsets(e, &fresh, timelines);
    let Some(&first) = onsets.iter().min() else {
        return false;
    };
    let window = usize::try_from(presence::SUSTAINED_BUCKETS).unwrap_or(2);
    let together = onsets.iter().filter(|&&t| t <= first + window).count();
    2 * together >= onsets.len()
}

/// One country's tests in a bucket: the country, its members when it is tested as a whole, and its sub-scopes.
type CountryTests<'a> = (&'a str, Option<Vec<usize>>, Vec<Vec<usize>>);

/// One outage's probes down in each of its consecutive buckets, from `start` on.
#[derive(Debug, Clone, Default)]
struct Chain {
    start: usize,
    sets: Vec<BTreeSet<usize>>,
}

impl Chain {
    /// The probes down at bucket `t` (none outside the chain).
    fn at(&self, t: usize) -> Option<&BTreeSet<usize>> {
        t.checked_sub(self.start).and_then(|i| self.sets.get(i))
    }
}

/// Groups one country's firing scopes into outages: in each bucket the scopes whose down probes overlap are one
/// outage (a network and the region it fails in), and an outage goes on into the next bucket while the two share
/// a probe. Unrelated networks failing at the same time in one country stay apart; a country-wide cut, whose
/// country scope holds every probe down, is one.
fn chains(per_bucket: &[Vec<BTreeSet<usize>>]) -> Vec<Chain> {
    let mut done: Vec<Chain> = Vec::new();
    // Chains whose last bucket is the one before `t`, and those already carried into `t`.
    let mut open: Vec<Chain> = Vec::new();
    for (t, sets) in per_bucket.iter().enumerate() {
        let mut clusters: Vec<BTreeSet<usize>> = Vec::new();
        for set in sets {
            let mut merged = set.clone();
            clusters.retain(|c| {
                let apart = c.is_disjoint(&merged);
                if !apart {
                    merged.extend(c.iter().copied());
                }
                apart
            });
            clusters.push(merged);
        }
        let mut carried: Vec<Chain> = Vec::new();
        for cluster in clusters {
            let mut chain = Chain {
                start: t,
                sets: vec![cluster],
            };
            let touches = |c: &Chain, chain: &Chain| {
                t.checked_sub(1)
                    .and_then(|before| c.at(before))
                    .is_some_and(|set| chain.sets.last().is_some_and(|now| !set.is_disjoint(now)))
            };
            for pool in [&mut open, &mut carried] {
                let mut i = 0;
                while i < pool.len() {
                    if touches(&pool[i], &chain) {
                        chain = merge_chains(chain, pool.remove(i));
                    } else {
                        i += 1;
                    }
                }
            }
            carried.push(chain);
        }
        done.append(&mut open);
        open = carried;
    }
    done.extend(open);
    done.sort_by_key(|c| c.start);
    done
}

/// A chain without the probes that were down for only a small part of it: a probe whose link flaps, or a lossy
/// one failing its checks for a bucket, is caught in the outage's tests (its region's or country's) while the
/// outage lasts, but it is not part of it, and counting it drags the outage's scope wider than what failed
/// (issue 23: an ISP's failure read as its region's or country's). A probe stays when it was down for at least
/// a third of the buckets the median participant was down for ([`PASSER_BY_SHARE`]).
fn without_passers_by(mut chain: Chain) -> Chain {
    let mut down: BTreeMap<usize, usize> = BTreeMap::new();
    for set in &chain.sets {
        for &p in set {
            *down.entry(p).or_default() += 1;
        }
    }
    let mut counts: Vec<usize> = down.values().copied().collect();
    counts.sort_unstable();
    let median = counts.get(counts.len() / 2).copied().unwrap_or(0);
    let passers: BTreeSet<usize> = down
        .into_iter()
        .filter(|(_, n)| (*n as f64) < PASSER_BY_SHARE * median as f64)
        .map(|(p, _)| p)
        .collect();
    if !passers.is_empty() {
        for set in &mut chain.sets {
            set.retain(|p| !passers.contains(p));
        }
        while chain.sets.last().is_some_and(BTreeSet::is_empty) {
            chain.sets.pop();
        }
        let lead = chain.sets.iter().take_while(|s| s.is_empty()).count();
        chain.sets.drain(..lead);
        chain.start += lead;
    }
    chain
}

/// See [`without_passers_by`]: a third, so that a flap of one to three buckets is a passer-by in an outage of ten
/// buckets or more (the corpus's shortest), while a probe of a blackout back a few buckets early, or gone a few
/// late, stays.
const PASSER_BY_SHARE: f64 = 1.0 / 3.0;

/// Two chains as one, bucket by bucket.
fn merge_chains(a: Chain, b: Chain) -> Chain {
    let start = a.start.min(b.start);
    let end = (a.start + a.sets.len()).max(b.start + b.sets.len());
    let sets = (start..end)
        .map(|t| {
            let mut set = a.at(t).cloned().unwrap_or_default();
            set.extend(b.at(t).into_iter().flatten().copied());
            set
        })
        .collect();
    Chain { start, sets }
}

/// Splits an episode that is really several independent outages at once into one episode per scope, each timed
/// by its own probes: outages of different kinds of scope that began apart ([`apart_by_onset`]: a region's
/// blackout and a network's failure beside it, however much of the country they cover together), or scopes (an
/// ASN, a region, an access type) each almost wholly down, the union far from the whole country
/// ([`apart_by_place`]). A probe in two such scopes (a cut ISP's probe in a blacked-out region) belongs to both.
/// An episode neither explains stays whole.
fn split_independent(
    e: Episode,
    chain: &Chain,
    timelines: &[Timeline<'_>],
    settings: &ClassifierSettings,
) -> Vec<Episode> {
    let empty = BTreeSet::new();
    let fired = |t: usize| chain.at(t).unwrap_or(&empty);
    let in_country: Vec<usize> = (0..timelines.len())
        .filter(|&i| timelines[i].probe.country == e.country && (e.start..e.end).any(|t| timelines[i].expected[t]))
        .collect();
    let scopes = sub_scopes(&in_country, timelines);
    let Some(chosen) = apart_by_onset(&e, &fired, &scopes, settings)
        .or_else(|| apart_by_place(&e, &in_country, scopes.clone(), settings))
        .or_else(|| apart_by_power(&e, timelines, &scopes, settings))
    else {
        return vec![e];
    };
    // Each part lasts while its own probes — those in no other part — are down; shared probes join every part
    // they belong to for as long as it lasts.
    let mut parts = Vec::new();
    for (k, group) in chosen.iter().enumerate() {
        let own: BTreeSet<usize> = group
            .iter()
            .copied()
            .filter(|p| chosen.iter().enumerate().all(|(j, other)| j == k || !other.contains(p)))
            .collect();
        let timing = if own.is_empty() { group } else { &own };
        let mut t = e.start;
        while t < e.end {
            if fired(t).is_disjoint(timing) {
                t += 1;
                continue;
            }
            let start = t;
            let mut participants = BTreeSet::new();
            while t < e.end && !fired(t).is_disjoint(timing) {
                participants.extend(fired(t).intersection(group).copied());
                t += 1;
            }
            if participants.len() >= 2 {
                let shared = participants.difference(&own).copied().collect();
                parts.push(Episode {
                    country: e.country.clone(),
                    start,
                    end: t,
                    participants,
                    shared,
                });
            }
        }
    }
    if parts.is_empty() { vec![e] } else { parts }
}

/// The parts of outage `e` told apart by when they began: its probes grouped by onset (a group starts more than
/// [`ONSET_GAP`] buckets after the one before), each group explained by the scope of `scopes` that fits it best
/// among those holding most of it (a scope already explaining an earlier group first: a blackout's UPS probes go
/// dark later, in the same region). Two outages of different kinds of scope that began apart — a region's blackout and
/// a network's failure beside it — are two, however much of the country they cover together; parts all of one
/// kind (networks cut one after another, regions one after another) are one outage unfolding, left to
/// [`apart_by_place`]. At most one probe may be left unexplained.
fn apart_by_onset<'s>(
    e: &Episode,
    fired: &dyn Fn(usize) -> &'s BTreeSet<usize>,
    scopes: &[(String, Vec<usize>)],
    settings: &ClassifierSettings,
) -> Option<Vec<BTreeSet<usize>>> {
    let mut onset: BTreeMap<usize, usize> = BTreeMap::new();
    for t in e.start..e.end {
        for &p in fired(t).intersection(&e.participants) {
            onset.entry(p).or_insert(t);
        }
    }
    let mut order: Vec<(usize, usize)> = onset.into_iter().map(|(p, t)| (t, p)).collect();
    order.sort_unstable();
    // Groups of probes by onset, each with the last onset in it.
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for (t, p) in order {
        match groups.last_mut() {
            Some((last, group)) if t <= *last + ONSET_GAP => {
                *last = t;
                group.push(p);
            }
            _ => groups.push((t, vec![p])),
        }
    }
    if groups.len() < 2 {
        return None;
    }
    let groups: Vec<Vec<usize>> = groups.into_iter().map(|(_, group)| group).collect();
    explained_apart(e, &groups, scopes, Kinds::Mixed, settings)
}

/// Whether the scopes that explain the parts of an outage may all be of one kind.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kinds {
    /// Only parts of different kinds of scope are two outages: networks cut one after another are one outage
    /// unfolding ([`apart_by_onset`]).
    Mixed,
    /// Parts told apart by their causes' own evidence may be of any kind ([`apart_by_power`]).
    Any,
}

/// The parts of outage `e` when each group of its probes (at most one probe left out) is explained by a scope of
/// `scopes` — the one that fits it best among those holding most of it, a scope already explaining an earlier
/// group first — and, with [`Kinds::Mixed`], the scopes chosen are not all of one kind. Each part is its scope's
/// probes among the participants.
fn explained_apart(
    e: &Episode,
    groups: &[Vec<usize>],
    scopes: &[(String, Vec<usize>)],
    kinds_allowed: Kinds,
    settings: &ClassifierSettings,
) -> Option<Vec<BTreeSet<usize>>> {
    let mut chosen: Vec<usize> = Vec::new();
    let mut unexplained = 0;
    for group in groups {
        if group.len() < 2 {
            unexplained += group.len();
            continue;
        }
        let held = |i: usize| group.iter().filter(|p| scopes[i].1.contains(p)).count();
        let holds = |i: usize| held(i) as f64 >= settings.cover_share * group.len() as f64;
        if chosen.iter().any(|&i| holds(i)) {
            continue;
        }
        // The scope that fits the group best: the fewest of its probes left out plus the fewest of the scope's
        // probes outside it; it must fit better than no scope at all.
        let misfit = |i: usize| (group.len() - held(i)) + (scopes[i].1.len() - held(i));
        match (0..scopes.len())
            .filter(|&i| holds(i) && misfit(i) < group.len())
            .min_by_key(|&i| (misfit(i), scopes[i].1.len()))
        {
            Some(i) => chosen.push(i),
            None => unexplained += group.len(),
        }
    }
    // The kinds of scope that hold exactly a part's probes (a region served by one network is both).
    let kinds = |i: usize| -> BTreeSet<&str> {
        scopes
            .iter()
            .filter(|(_, members)| *members == scopes[i].1)
            .filter_map(|(key, _)| key.split(':').next())
            .collect()
    };
    let one_kind = chosen
        .iter()
        .map(|&i| kinds(i))
        .reduce(|a, b| a.intersection(&b).copied().collect())
        .is_some_and(|common| !common.is_empty());
    if chosen.len() < 2 || unexplained >= 2 || (one_kind && kinds_allowed == Kinds::Mixed) {
        return None;
    }
    Some(
        chosen
            .into_iter()
            .map(|i| {
                scopes[i]
                    .1
                    .iter()
                    .copied()
                    .filter(|p| e.participants.contains(p))
                    .collect()
            })
            .collect(),
    )
}

/// See [`apart_by_onset`]: a blackout's devices go dark within a bucket or two of the power (the corpus draws
/// them within one; the lab's within seconds), and a network's failure takes its probes at once; three buckets
/// keep a part's stragglers with it while two outages that begin minutes apart stay two.
const ONSET_GAP: usize = 3;

/// The parts of outage `e` told apart by what its probes' devices went through: those that lost power (on
/// battery, back with a new boot id, or their home's gateway dark while down) and those that kept it (their
/// gateway answering while they were down, or back without a reboot and with no battery to have ridden it out
/// on), each explained by a scope of its own, of any kind: two causes, not one outage unfolding. A region's
/// blackout and a failure of a network that spans the country can begin within minutes of each other and together
/// cover the country, so neither onsets nor places part them; left as one, the blackout's reboots carried the
/// whole country to a power outage at high confidence and the network's failure went unnamed (corpus seed
/// 20261231, `two_events`: three of its four wrong high-confidence calls). At least [`POWER_GROUP_MIN`] probes on
/// each side.
fn apart_by_power(
    e: &Episode,
    timelines: &[Timeline<'_>],
    scopes: &[(String, Vec<usize>)],
    settings: &ClassifierSettings,
) -> Option<Vec<BTreeSet<usize>>> {
    let (mut lost, mut held) = (Vec::new(), Vec::new());
    for &p in &e.participants {
        match power_through(e, &timelines[p]) {
            Some(false) => lost.push(p),
            Some(true) => held.push(p),
            None => {}
        }
    }
    if lost.len() < POWER_GROUP_MIN || held.len() < POWER_GROUP_MIN {
        return None;
    }
    explained_apart(e, &[lost, held], scopes, Kinds::Any, settings)
}

/// Probes on each side of [`apart_by_power`]: three, so that one probe's reboot or one home on a UPS does not
/// make an outage two (a scope needs two probes to be tested at all).
const POWER_GROUP_MIN: usize = 3;

/// Whether a probe's power held through outage `e` (`Some(true)`), failed (`Some(false)`), or its states do not
/// say: from the bucket before the outage to three after it (a return is seen in the bucket the probe is back).
fn power_through(e: &Episode, tl: &Timeline<'_>) -> Option<bool> {
    let last = (e.end + 3).min(tl.states.len());
    let around = &tl.states[e.start.saturating_sub(1).min(last)..last];
    if around.iter().any(|s| {
        matches!(
            s,
            ProbeState::OnBattery | ProbeState::RebootedOnReturn | ProbeState::LanDown
        )
    }) {
        return Some(false);
    }
    let during = &tl.states[e.start.min(last)..e.end.min(last)];
    let gateway_up = during
        .iter()
        .any(|s| matches!(s, ProbeState::IsolatedAll | ProbeState::IsolatedInternational));
    // Back on mains without a reboot: only a probe with no battery to ride an outage out on says so.
    let back_unrebooted = !tl.probe.ups
        && around
            .windows(2)
            .any(|w| w[0] == ProbeState::Silent && w[1] == ProbeState::Online);
    (gateway_up || back_unrebooted).then_some(true)
}

/// The parts of outage `e` told apart by where they are: scopes almost wholly down, the union far from the whole
/// country (`in_country`, of whose groups `scopes` are).
fn apart_by_place(
    e: &Episode,
    in_country: &[usize],
    scopes: Vec<(String, Vec<usize>)>,
    settings: &ClassifierSettings,
) -> Option<Vec<BTreeSet<usize>>> {
    if e.participants.len() as f64 >= settings.cover_share * in_country.len() as f64 {
        return None;
    }
    // Scopes almost wholly down, largest share of the episode first (the tighter scope on ties), chosen greedily
    // while each explains two more probes: the parts, and the probes none explains.
    let explain = |scopes: Vec<Vec<usize>>| -> (Vec<BTreeSet<usize>>, BTreeSet<usize>) {
        let mut down: Vec<(usize, BTreeSet<usize>)> = scopes
            .into_iter()
            .map(|members| {
                let hit: BTreeSet<usize> = members.iter().copied().filter(|p| e.participants.contains(p)).collect();
                (members.len(), hit)
            })
            .filter(|(size, hit)| hit.len() >= 2 && hit.len() as f64 >= settings.cover_share * *size as f64)
            .collect();
        down.sort_by_key(|(size, hit)| (std::cmp::Reverse(hit.len()), *size));
        let mut unexplained = e.participants.clone();
        let mut chosen: Vec<BTreeSet<usize>> = Vec::new();
        for (_, hit) in down {
            let new = hit.intersection(&unexplained).count();
            if new >= 2 {
                unexplained.retain(|p| !hit.contains(p));
                chosen.push(hit);
            }
        }
        (chosen, unexplained)
    };
    // One kind of scope explaining the outage on its own — several networks, several regions — says more than a
    // mix: a transit cut of three networks is three network failures, not a region and an access type. The kind
    // with the fewest parts wins; a single part is the episode itself. Mixed kinds (a blackout beside an ISP's
    // failure) come last.
    let explains =
        |(chosen, unexplained): &(Vec<BTreeSet<usize>>, BTreeSet<usize>)| chosen.len() >= 2 && unexplained.len() < 2;
    let kinds = ["asn:", "region:", "access:"].map(|kind| {
        explain(
            scopes
                .iter()
                .filter(|(key, _)| key.starts_with(kind))
                .map(|(_, members)| members.clone())
                .collect(),
        )
    });
    if kinds
        .iter()
        .any(|(chosen, unexplained)| chosen.len() == 1 && unexplained.len() < 2)
    {
        return None;
    }
    let single_kind = kinds
        .into_iter()
        .filter(explains)
        .min_by_key(|(chosen, _)| chosen.len());
    let (chosen, unexplained) =
        single_kind.unwrap_or_else(|| explain(scopes.into_iter().map(|(_, members)| members).collect()));
    (chosen.len() >= 2 && unexplained.len() < 2).then_some(chosen)
}

/// The scopes tested for probes of no known country: their networks only. They form no country scope, and their
/// regions and access types mean nothing across countries.
fn networks_of(members: &[usize], timelines: &[Timeline<'_>]) -> Vec<Vec<usize>> {
    let mut by: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for &i in members {
        by.entry(timelines[i].probe.asn).or_default().push(i);
    }
    by.into_values().collect()
}

/// `members` grouped by ASN, region and access type, leaving out a group that is all of them; each keyed by its
/// kind and name (`asn:64500`, `region:…`, `access:mobile`).
fn sub_scopes(members: &[usize], timelines: &[Timeline<'_>]) -> Vec<(String, Vec<usize>)> {
    let mut by: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &i in members {
        let p = timelines[i].probe;
        by.entry(format!("asn:{}", p.asn)).or_default().push(i);
        if let Some(r) = &p.region {
            by.entry(format!("region:{r}")).or_default().push(i);
        }
        by.entry(format!("access:{}", p.access.as_str())).or_default().push(i);
    }
    by.into_iter().filter(|(_, s)| s.len() < members.len()).collect()
}

/// The share of the probes expected at once that must fall silent together for the collector's side: a collector
/// that cannot be reached hears no one (the lab's collector outage silences all 13 probes), while real outages
/// leave other places heard; 0.8 is the share the classifier already asks of a scope (`cover_share`).
const COLLECTOR_SILENT_SHARE: f64 = 0.8;

/// Episodes in two or more countries at once, all of whose probes are silent (not isolated: silent), covering
/// most of the probes expected then ([`COLLECTOR_SILENT_SHARE`]), are the collector's side; they are merged into one event. Presence-only probes never count here: their silence is
/// the platform's to explain, with evidence about the platform ([`platform`]).
fn split_collector_side(episodes: Vec<Episode>, timelines: &[Timeline<'_>]) -> (Option<Episode>, Vec<Episode>) {
    let all_silent = |e: &Episode| {
        e.participants.iter().all(|&p| {
            !timelines[p].presence_only
                && (e.start..e.end)
                    .all(|t| timelines[p].states[t] == ProbeState::Silent || !timelines[p].states[t].is_down())
        })
    };
    let silent: Vec<&Episode> = episodes.iter().filter(|e| all_silent(e)).collect();
    let overlapping: Vec<&Episode> = silent
        .iter()
        .copied()
        .filter(|e| {
            silent
                .iter()
                .any(|o| o.country != e.country && o.start < e.end && e.start < o.end)
        })
        .collect();
    let countries: BTreeSet<&str> = overlapping.iter().map(|e| e.country.as_str()).collect();
    let asns: BTreeSet<u32> = overlapping
        .iter()
        .flat_map(|e| e.participants.iter().map(|&p| timelines[p].probe.asn))
        .collect();
    if countries.len() < 2 || asns.len() < 3 {
        return (None, episodes);
    }
    // The evidence about the collector: it heard from almost no one. Two blackouts in neighbouring countries at
    // once also silence two countries and several networks, but the rest of the world is still heard (issue 23,
    // case 3); so most of every probe expected then must be silent.
    let silent_probes: BTreeSet<usize> = overlapping
        .iter()
        .flat_map(|e| e.participants.iter().copied())
        .collect();
    let onset = overlapping.iter().map(|e| e.start).min().unwrap_or(0);
    let expected = timelines
        .iter()
        .filter(|tl| !tl.presence_only && tl.expected.get(onset).copied().unwrap_or(false))
        .count();
    if (silent_probes.len() as f64) < COLLECTOR_SILENT_SHARE * expected as f64 {
        return (None, episodes);
    }
    let merged = Episode {
        country: String::new(),
        start: overlapping.iter().map(|e| e.start).min().unwrap_or(0),
        end: overlapping.iter().map(|e| e.end).max().unwrap_or(0),
        participants: overlapping
            .iter()
            .flat_map(|e| e.participants.iter().copied())
            .collect(),
        shared: BTreeSet::new(),
    };
    let taken: BTreeSet<(String, usize)> = overlapping.iter().map(|e| (e.country.clone(), e.start)).collect();
    let rest = episodes
        .into_iter()
        .filter(|e| !taken.contains(&(e.country.clone(), e.start)))
        .collect();
    (Some(merged), rest)
}

fn event_id(parts: &[&str]) -> String {
    let digest = Sha256::digest(parts.join("\u{1f}").as_bytes());
    format!("evt-{}", hex::encode(&digest[..8]))
}

fn bucket_time(input: &ClassifierInput, offset: usize) -> i64 {
    (input.buckets.start + offset as i64) * input.bucket_secs
}

fn end_time(input: &ClassifierInput, end: usize, n: usize) -> Option<i64> {
    (end < n).then(|| bucket_time(input, end))
}

fn window_len(input: &ClassifierInput) -> usize {
    usize::try_from(input.buckets.end - input.buckets.start).unwrap_or(0)
}

fn collector_event(e: &Episode, timelines: &[Timeline<'_>], input: &ClassifierInput) -> DisruptionEvent {
    let countries: BTreeSet<&str> = e
        .participants
        .iter()
        .map(|&p| timelines[p].probe.country.as_str())
        .collect();
    let asns: BTreeSet<u32> = e.participants.iter().map(|&p| timelines[p].probe.asn).collect();
    let start = bucket_time(input, e.start);
    ruled_event(
        EventClass::CollectorSide,
        EventScope {
            level: "collector".to_owned(),
            ..EventScope::default()
        },
        start,
        end_time(input, e.end, window_len(input)),
        (0.7, ConfidenceLevel::Medium),
        (
            e.participants.len(),
            timelines
                .iter()
                .filter(|t| t.expected.get(e.start).copied().unwrap_or(false))
                .count(),
        ),
        Evidence {
            family: "scope".to_owned(),
            text: format!(
                "{} probes in {} countries and {} networks went silent in the same bucket, none reporting isolation: \
                 the collector or its network failed, not the regions",
                e.participants.len(),
                countries.len(),
                asns.len()
            ),
            points: 5,
        },
        Vec::new(),
    )
}

/// Which scopes an outage may be reported at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScopeKinds {
    /// Networks, regions, access types and the country.
    Any,
    /// Places only — regions and the country: a blackout strikes an area, whatever network or access type its
    /// probes use (the probes it left up, on a UPS or a mobile mast's battery, are where the power held, not
    /// another scope).
    Places,
}

/// The scope of an episode: the smallest ASN, region or access group (of `kinds`) holding most of its probes,
/// else the country.
fn choose_scope(
    e: &Episode,
    timelines: &[Timeline<'_>],
    settings: &ClassifierSettings,
    kinds: ScopeKinds,
) -> (EventScope, Vec<usize>) {
    let in_country: Vec<usize> = (0..timelines.len())
        .filter(|&i| {
            timelines[i].probe.country == e.country && timelines[i].expected.get(e.start).copied().unwrap_or(false)
        })
        .collect();
    let need = (e.participants.len() as f64 * settings.cover_share).ceil() as usize;
    let placed = e.country != UNPLACED_COUNTRY;
    // A country whose probes are all in one network: an outage of them is that network's, the narrower claim —
    // its probes cannot tell the country from the network.
    let single_network = in_country.iter().all(|&i| {
        in_country
            .first()
            .is_some_and(|&f| timelines[i].probe.asn == timelines[f].probe.asn)
    });
    let mut best: Option<(usize, usize, EventScope, Vec<usize>)> = None;
    // Probes of no known country: the network holding most of the episode's probes, whatever its share.
    let mut most: Option<(usize, EventScope, Vec<usize>)> = None;
    let mut consider = |scope: EventScope, members: Vec<usize>| {
        if kinds == ScopeKinds::Places && matches!(scope.level.as_str(), "asn" | "access") {
            return;
        }
        let covered = e.participants.iter().filter(|p| members.contains(p)).count();
        // A part of the country is the outage's scope only if most of the rest stayed up: a national shutdown
        // seen mostly on fixed probes is not a fixed-access one when the few mobile probes went down with them.
        let outside: Vec<usize> = in_country.iter().copied().filter(|i| !members.contains(i)).collect();
        let outside_down = outside.iter().filter(|i| e.participants.contains(i)).count();
        if placed && !outside.is_empty() && outside_down * 2 > outside.len() {
            return;
        }
        if !placed && scope.level == "asn" && most.as_ref().is_none_or(|(n, _, _)| covered > *n) {
            most = Some((covered, scope.clone(), members.clone()));
        }
        // Of the scopes holding most of the outage, the one that fits it best: the fewest of the outage's probes
        // left out plus the fewest of the scope's probes that stayed up; the smaller scope on ties. A region whose
        // probes all went down is the outage's scope rather than the network holding most of them.
        let misfit = (e.participants.len() - covered) + (members.len() - covered);
        if covered >= need
            && (members.len() < in_country.len() || (scope.level == "asn" && (!placed || single_network)))
            && best
                .as_ref()
                .is_none_or(|(fit, n, _, _)| (misfit, members.len()) < (*fit, *n))
        {
            best = Some((misfit, members.len(), scope, members));
        }
    };
    let asns: BTreeSet<u32> = in_country.iter().map(|&i| timelines[i].probe.asn).collect();
    for asn in asns {
        let members = in_country
            .iter()
            .copied()
            .filter(|&i| timelines[i].probe.asn == asn)
            .collect();
        consider(
            EventScope {
                level: "asn".to_owned(),
                country: Some(e.country.clone()),
                asn: Some(asn),
                ..EventScope::default()
            },
            members,
        );
    }
    let regions: BTreeSet<String> = in_country
        .iter()
        .filter_map(|&i| timelines[i].probe.region.clone())
        .collect();
    for region in regions {
        let members = in_country
            .iter()
            .copied()
            .filter(|&i| timelines[i].probe.region.as_deref() == Some(region.as_str()))
            .collect();
        consider(
            EventScope {
                level: "region".to_owned(),
                country: Some(e.country.clone()),
                region: Some(region),
                ..EventScope::default()
            },
            members,
        );
    }
    for access in [AccessType::Mobile, AccessType::Fixed, AccessType::Satellite] {
        let members = in_country
            .iter()
            .copied()
            .filter(|&i| timelines[i].probe.access == access)
            .collect();
        consider(
            EventScope {
                level: "access".to_owned(),
                country: Some(e.country.clone()),
                access: Some(access.as_str().to_owned()),
                ..EventScope::default()
            },
            members,
        );
    }
    match best.map(|(_, n, scope, members)| (n, scope, members)).or(most) {
        Some((_, scope, members)) => (scope, members),
        None => (
            EventScope {
                level: "country".to_owned(),
                country: Some(e.country.clone()),
                ..EventScope::default()
            },
            in_country,
        ),
    }
}

/// The events of one outage: one at the scope [`choose_scope`] finds, or — for a network failure at a place
/// made of whole networks that failed while another network there kept working — one per network
/// ([`whole_networks`]).
fn outage_events(
    e: &Episode,
    timelines: &[Timeline<'_>],
    input: &ClassifierInput,
    settings: &ClassifierSettings,
) -> Vec<DisruptionEvent> {
    let event = outage_event(e, timelines, input, settings);
    if event.class != EventClass::NetworkFailure || event.scope.level == "asn" {
        return vec![event];
    }
    let Some(split) = whole_networks(e, timelines, settings) else {
        return vec![event];
    };
    let names = split
        .parts
        .iter()
        .map(|(asn, _, _)| format!("AS{asn}"))
        .collect::<Vec<_>>()
        .join(", ");
    let kept = split
        .kept
        .iter()
        .map(|asn| format!("AS{asn}"))
        .collect::<Vec<_>>()
        .join(", ");
    split
        .parts
        .into_iter()
        .map(|(asn, part, members)| {
            let scope = asn_scope(&e.country, asn);
            let features = features::features(&part, &scope, &members, timelines, input);
            let mut event = event_at(&part, scope, &members, &features, timelines, input);
            event.evidence.push(Evidence {
                family: "scope".to_owned(),
                text: format!(
                    "{names} failed together, each with all its probes, while {kept} kept working: a failure of \
                     networks, reported network by network"
                ),
                points: 0,
            });
            event
        })
        .collect()
}

/// A country's outage read as failures of whole networks: each network with probes in it, and the networks of
/// the country that kept working.
struct WholeNetworks {
    /// Per network failed: its ASN, its part of the outage, and its probes in the country.
    parts: Vec<(u32, Episode, Vec<usize>)>,
    /// ASNs of the country's networks that stayed mostly up.
    kept: Vec<u32>,
}

/// Whether outage `e` is two or more networks failing whole: every probe down is in a network at least
/// `cover_share` of whose probes are down (two or more of them; one stray probe is allowed, as in
/// [`split_independent`]), and another network of the country stayed mostly up. A
/// network failure is a failure of networks: it is reported at a place (a region's fibre, a country's only
/// gateway) when every network there failed, and network by network when some network beside them kept working —
/// an analyst would name the networks a cable cut took down, not the country (CLASSIFICATION.md F9).
fn whole_networks(e: &Episode, timelines: &[Timeline<'_>], settings: &ClassifierSettings) -> Option<WholeNetworks> {
    if e.country == UNPLACED_COUNTRY {
        return None;
    }
    let mut networks: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, tl) in timelines.iter().enumerate() {
        if tl.probe.country == e.country && tl.expected.get(e.start).copied().unwrap_or(false) {
            networks.entry(tl.probe.asn).or_default().push(i);
        }
    }
    let mut parts = Vec::new();
    let mut kept = Vec::new();
    let mut stray = 0;
    for (asn, members) in networks {
        let down: BTreeSet<usize> = members.iter().copied().filter(|p| e.participants.contains(p)).collect();
        if down.len() >= 2 && down.len() as f64 >= settings.cover_share * members.len() as f64 {
            let shared = down.intersection(&e.shared).copied().collect();
            let part = Episode {
                country: e.country.clone(),
                start: e.start,
                end: e.end,
                participants: down,
                shared,
            };
            parts.push((asn, part, members));
        } else {
            stray += down.len();
            if down.len() * 2 < members.len() {
                kept.push(asn);
            }
        }
    }
    (parts.len() >= 2 && stray < 2 && !kept.is_empty()).then_some(WholeNetworks { parts, kept })
}

fn outage_event(
    e: &Episode,
    timelines: &[Timeline<'_>],
    input: &ClassifierInput,
    settings: &ClassifierSettings,
) -> DisruptionEvent {
    let (mut scope, mut members) = choose_scope(e, timelines, settings, ScopeKinds::Any);
    let mut features = features::features(e, &scope, &members, timelines, input);
    // A power outage is reported at a place: when the evidence reads power at a network's or an access type's
    // scope, the outage is read again at the smallest place holding it, and reported there if it still reads
    // power.
    // Not for probes of no known country (their only scopes are networks), nor from presence alone (which says
    // nothing of power).
    let placed = e.country != UNPLACED_COUNTRY;
    let presence_only = e.participants.iter().all(|&p| timelines[p].presence_only);
    if placed
        && !presence_only
        && matches!(scope.level.as_str(), "asn" | "access")
        && decide(&features, ConfidenceLevel::High).class == EventClass::PowerOutage
    {
        let (place, place_members) = choose_scope(e, timelines, settings, ScopeKinds::Places);
        let place_features = features::features(e, &place, &place_members, timelines, input);
        if decide(&place_features, ConfidenceLevel::High).class == EventClass::PowerOutage {
            (scope, members, features) = (place, place_members, place_features);
        }
    }
    event_at(e, scope, &members, &features, timelines, input)
}

/// The event of outage `e` at `scope`, whose probes are `members`, decided on `features`.
fn event_at(
    e: &Episode,
    scope: EventScope,
    members: &[usize],
    features: &[Feature],
    timelines: &[Timeline<'_>],
    input: &ClassifierInput,
) -> DisruptionEvent {
    let presence_only = e.participants.iter().all(|&p| timelines[p].presence_only);
    // Scope minimums for anything above low confidence (CLASSIFICATION.md §5.3): 8 probes for a country
    // (Disco's unit minimum), 3 for anything smaller.
    let min_probes = match scope.level.as_str() {
        "country" => 8,
        _ => 3,
    };
    let max_level = if members.len() < min_probes {
        ConfidenceLevel::Low
    } else {
        ConfidenceLevel::High
    };
    let mut decision = decide(features, max_level);
    // Presence alone says nothing of power or paths: never more than a low-confidence shutdown or blackout.
    if presence_only
        && matches!(decision.class, EventClass::Shutdown | EventClass::PowerOutage)
        && decision.level > ConfidenceLevel::Low
    {
        decision.level = ConfidenceLevel::Low;
        decision.confidence = decision.confidence.min(0.45);
    }
    let (start_bucket, end_bucket) = edges(e, timelines);
    let start = bucket_time(input, start_bucket);
    let key = [
        scope.level.as_str(),
        scope.country.as_deref().unwrap_or(""),
        &scope.asn.map(|a| a.to_string()).unwrap_or_default(),
        scope.region.as_deref().unwrap_or(""),
        scope.access.as_deref().unwrap_or(""),
        &start.to_string(),
    ];
    DisruptionEvent {
        id: event_id(&key),
        class: decision.class,
        scope,
        started_at: start,
        ended_at: end_bucket.and_then(|t| end_time(input, t, window_len(input))),
        confidence: decision.confidence,
        confidence_level: decision.level,
        affected_probes: e.participants.iter().filter(|p| members.contains(p)).count(),
        probes_in_scope: members.len(),
        evidence: decision.evidence,
        scores: decision.scores,
        targets: Vec::new(),
    }
}

/// Whether probe `p` was already down in the bucket before episode `e` began.
fn down_before(e: &Episode, p: usize, timelines: &[Timeline<'_>]) -> bool {
    e.start
        .checked_sub(1)
        .is_some_and(|b| timelines[p].expected[b] && timelines[p].states[b].is_down())
}

/// The first bucket of episode `e` in which each of `probes` was down.
fn onsets(e: &Episode, probes: &[usize], timelines: &[Timeline<'_>]) -> Vec<usize> {
    probes
        .iter()
        .filter_map(|&p| (e.start..e.end).find(|&t| timelines[p].states[t].is_down()))
        .collect()
}

/// When an outage began and ended, as its probes saw it (CLASSIFICATION.md §5.3, as Disco does): the median
/// bucket in which its probes went down and the median bucket in which they came back; `None` for an end while
/// the median probe is still down at the window's end. Probes already down before the episode began (a probe
/// dead for hours, caught up in a network's outage) say nothing of its timing and are left out when others
/// remain.
fn edges(e: &Episode, timelines: &[Timeline<'_>]) -> (usize, Option<usize>) {
    let mut timing: Vec<usize> = e
        .participants
        .iter()
        .copied()
        .filter(|&p| !down_before(e, p, timelines))
        .collect();
    if timing.is_empty() {
        timing = e.participants.iter().copied().collect();
    }
    let mut onsets = onsets(e, &timing, timelines);
    // A return is the first bucket up after the probe's last bucket down within the episode.
    let mut returns: Vec<Option<usize>> = timing
        .iter()
        .map(|&p| {
            let tl = &timelines[p];
            let last_down = (e.start..e.end).rev().find(|&t| tl.states[t].is_down())?;
            (last_down + 1..tl.states.len()).find(|&t| tl.expected[t] && !tl.states[t].is_down())
        })
        .collect();
    onsets.sort_unstable();
    // `None` (not back) sorts after every return.
    returns.sort_by_key(|r| r.unwrap_or(usize::MAX));
    let start = onsets
        .get(onsets.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(e.start);
    let end = returns
        .get(returns.len() / 2)
        .copied()
        .unwrap_or(Some(e.end))
        .map(|t| t.max(start + 1));
    (start, end)
}

/// A probe down on its own for two or more buckets while peers in its network (or country) kept working.
fn probe_faults(
    timelines: &[Timeline<'_>],
    covered: &BTreeSet<(String, usize)>,
    input: &ClassifierInput,
    settings: &ClassifierSettings,
) -> Vec<DisruptionEvent> {
    let mut out = Vec::new();
    let min_buckets = usize::try_from(settings.probe_fault_min_secs.div_euclid(input.bucket_secs.max(1)))
        .unwrap_or(usize::MAX)
        .max(2);
    for tl in timelines {
        let n = tl.states.len();
        let mut t = 0;
        while t < n {
            let faulty = |t: usize| {
                tl.expected[t]
                    && (tl.states[t].is_down() || tl.states[t] == ProbeState::Degraded)
                    && !covered.contains(&(tl.probe.probe_id.clone(), t))
            };
            if !faulty(t) {
                t += 1;
                continue;
            }
            let start = t;
            while t < n && faulty(t) {
                t += 1;
            }
            if t - start < min_buckets {
                continue;
            }
            let peers_up = timelines
                .iter()
                .filter(|o| o.probe.probe_id != tl.probe.probe_id && o.probe.country == tl.probe.country)
                .filter(|o| (start..t).all(|u| o.expected[u] && !o.states[u].is_down()))
                .count();
            if peers_up < 2 {
                continue;
            }
            // CLASSIFICATION.md L1 asks for peers in the same network and region up (issue 23, case 8): a probe
            // of the same network, or of the same region, down for half the span or more makes it that network's
            // or that region's outage, too small to test, not this probe's fault.
            let network_down = timelines.iter().any(|o| {
                o.probe.probe_id != tl.probe.probe_id
                    && o.probe.country == tl.probe.country
                    && (o.probe.asn == tl.probe.asn || (o.probe.region.is_some() && o.probe.region == tl.probe.region))
                    && (start..t).filter(|&u| o.expected[u] && o.states[u].is_down()).count() * 2 >= t - start
            });
            if network_down {
                continue;
            }
            let started = bucket_time(input, start);
            // A third-party probe's absence says nothing of the device: low confidence, and only once it lasts
            // beyond the platform's churn.
            let (confidence, text) = if tl.presence_only {
                (
                    (0.3, ConfidenceLevel::Low),
                    format!(
                        "one probe was away from its platform for {} buckets while {peers_up} peers in {} stayed \
                         connected (presence only: no device evidence)",
                        t - start,
                        tl.probe.country
                    ),
                )
            } else {
                // CLASSIFICATION.md L1–L3: a lone probe down is a local fault at medium level (a reboot on
                // return says it lost power, still medium); high when it logged the switch to battery (L1) or kept
                // reporting while its checks failed (L3). The confidences are the shares right on the corpus
                // (seed 1, 2,040 scenarios: 97 % of probe-fault calls; EVALUATION.md), the high one above it.
                let (why, high) = local_cause(tl, start, t, input);
                (
                    if high {
                        (0.97, ConfidenceLevel::High)
                    } else {
                        (0.9, ConfidenceLevel::Medium)
                    },
                    format!(
                        "one probe was {} for {} buckets while {peers_up} peers in {} kept working{why}",
                        tl.states[start].as_str(),
                        t - start,
                        tl.probe.country
                    ),
                )
            };
            if tl.presence_only && t - start < PRESENCE_FAULT_BUCKETS {
                continue;
            }
            out.push(ruled_event(
                EventClass::ProbeFault,
                EventScope {
                    level: "probe".to_owned(),
                    country: Some(tl.probe.country.clone()),
                    asn: Some(tl.probe.asn),
                    probe_id: Some(tl.probe.probe_id.clone()),
                    ..EventScope::default()
                },
                started,
                end_time(input, t, n),
                confidence,
                (1, 1),
                Evidence {
                    family: "scope".to_owned(),
                    text,
                    points: 4,
                },
                Vec::new(),
            ));
        }
    }
    out
}

/// What a lone probe's own data says of its trouble over buckets `[start, end)`: a clause for the evidence, and
/// whether it is enough for high confidence (CLASSIFICATION.md L1, L3). A battery logged wins over a reboot.
fn local_cause(tl: &Timeline<'_>, start: usize, end: usize, input: &ClassifierInput) -> (String, bool) {
    let empty = BTreeMap::new();
    let observed = input.observed.get(&tl.probe.probe_id).unwrap_or(&empty);
    let abs = |offset: usize| input.buckets.start + offset as i64;
    let boot = |range: std::ops::Range<Bucket>, last: bool| {
        let mut boots = observed
            .range(range)
            .filter_map(|(_, s)| s.vitals.as_ref().map(|v| v.boot_id.clone()));
        if last { boots.next_back() } else { boots.next() }
    };
    let before = boot(input.buckets.start - 1..abs(start), true);
    let after = boot(abs(end)..input.buckets.end, false);
    let on_battery = observed
        .range(abs(start.saturating_sub(1))..abs(end))
        .any(|(_, s)| s.vitals.as_ref().is_some_and(|v| v.on_battery));
    if on_battery {
        return ("; it reported running on battery".to_owned(), true);
    }
    if before.is_some() && after.is_some() && before != after {
        return ("; it came back with a new boot id (lost power)".to_owned(), false);
    }
    if tl.states[start] == ProbeState::Degraded {
        return ("; it kept reporting while its checks failed".to_owned(), true);
    }
    (String::new(), false)
}

/// Buckets a presence-only probe must stay away to be reported on its own: twelve (an hour at the default five
/// minutes). Shorter absences are the platform's churn: on the RIPE Atlas dev days 90 % of absences end within
/// about 20 minutes (EVALUATION.md), and each probe has several a day.
const PRESENCE_FAULT_BUCKETS: usize = 12;

/// Where and how one target was seen blocked in one network.
#[derive(Debug, Default)]
struct Sightings {
    probes: BTreeSet<String>,
    buckets: BTreeSet<i64>,
    methods: BTreeMap<BlockingMethod, usize>,
    fingerprints: BTreeSet<String>,
    /// Probe-buckets in which the target was also reached: an app some of whose endpoints answered.
    partial: usize,
}

/// Targets blocked on at least two online probes of one ASN, whose anchors (controls) kept working.
fn censorship(timelines: &[Timeline<'_>], input: &ClassifierInput) -> Vec<DisruptionEvent> {
    // (country, asn) → target → where and how it was seen blocked.
    type Seen = BTreeMap<String, Sightings>;
    let mut by_network: BTreeMap<(String, u32), Seen> = BTreeMap::new();
    let mut network_size: BTreeMap<(String, u32), usize> = BTreeMap::new();
    for tl in timelines {
        *network_size
            .entry((tl.probe.country.clone(), tl.probe.asn))
            .or_default() += 1;
        let Some(observed) = input.observed.get(&tl.probe.probe_id) else {
            continue;
        };
        for (bucket, s) in observed.range(input.buckets.clone()) {
            let controls_ok = [s.domestic.ratio(), s.international.ratio()]
                .iter()
                .flatten()
                .all(|r| *r >= 0.9);
            if !controls_ok || s.blocked.is_empty() {
                continue;
            }
            let seen = by_network.entry((tl.probe.country.clone(), tl.probe.asn)).or_default();
            for (target, method) in &s.blocked {
                let entry = seen.entry(target.clone()).or_default();
                entry.probes.insert(tl.probe.probe_id.clone());
                entry.buckets.insert(*bucket);
                *entry.methods.entry(*method).or_default() += 1;
                if s.reached.contains(target) {
                    entry.partial += 1;
                }
                if let Some(names) = s.fingerprints.get(target) {
                    entry.fingerprints.extend(names.iter().cloned());
                }
            }
        }
    }
    // Control measurements: target → network → the buckets where it loaded.
    let mut reached: BTreeMap<&str, BTreeMap<(&str, u32), BTreeSet<Bucket>>> = BTreeMap::new();
    for tl in timelines {
        let Some(observed) = input.observed.get(&tl.probe.probe_id) else {
            continue;
        };
        for (bucket, s) in observed.range(input.buckets.clone()) {
            for target in &s.reached {
                reached
                    .entry(target.as_str())
                    .or_default()
                    .entry((tl.probe.country.as_str(), tl.probe.asn))
                    .or_default()
                    .insert(*bucket);
            }
        }
    }
    let mut out = Vec::new();
    for ((country, asn), targets) in &by_network {
        let (country, asn) = (country.as_str(), *asn);
        // A block is confirmed on two probes of the network, and either by a blocking fingerprint (a known
        // blockpage or injected answer names the censor, OONI's confirmed blocking) or by a control: another
        // network where the same target loaded while it was blocked here — in more buckets of that time than it
        // failed there. A reset, a TLS failure or an address that answers nothing without one is an anomaly
        // that fits the site itself just as well (an expired certificate, an origin down; issue 23, case 4;
        // CLASSIFICATION.md §4). Counting the other network's failures too keeps the edge of a site's own
        // outage from passing for a control: in the bucket it went down one network may still have loaded it
        // before another failed it, but every bucket after fails everywhere (issue 25, item 4).
        let controls = |name: &str, seen: &Sightings| -> BTreeSet<(&str, u32)> {
            let (Some(first), Some(last)) = (seen.buckets.first(), seen.buckets.last()) else {
                return BTreeSet::new();
            };
            let during = first..=last;
            reached
                .get(name)
                .into_iter()
                .flatten()
                .filter(|((c, a), _)| (*c, *a) != (country, asn))
                .filter(|((c, a), loaded)| {
                    let loaded = loaded.iter().filter(|b| during.contains(b)).count();
                    let failed = by_network
                        .get(&((*c).to_owned(), *a))
                        .and_then(|t| t.get(name))
                        .map_or(0, |there| there.buckets.iter().filter(|b| during.contains(b)).count());
                    loaded > failed
                })
                .map(|(network, _)| *network)
                .collect()
        };
        // Without a fingerprint the block must also hold here: in the time it was seen, the target failed in at
        // least as many buckets as it loaded cleanly (loaded, and seen blocked by no probe of the network). A
        // congested or flaky path drops a connection now and then, to a site that loads in most buckets in between;
        // a censor's block is there bucket after bucket.
        let holds_here = |name: &str, seen: &Sightings| -> bool {
            let (Some(first), Some(last)) = (seen.buckets.first(), seen.buckets.last()) else {
                return false;
            };
            let loaded_cleanly = reached
                .get(name)
                .and_then(|networks| networks.get(&(country, asn)))
                .map_or(0, |loaded| {
                    loaded.range(first..=last).filter(|b| !seen.buckets.contains(b)).count()
                });
            seen.buckets.len() >= loaded_cleanly
        };
        let confirmed: Vec<(&String, &Sightings)> = targets
            .iter()
            .filter(|(name, seen)| {
                seen.probes.len() >= 2
                    && (!seen.fingerprints.is_empty() || (holds_here(name, seen) && !controls(name, seen).is_empty()))
            })
            .collect();
        if confirmed.is_empty() {
            continue;
        }
        let probes: BTreeSet<&String> = confirmed.iter().flat_map(|(_, seen)| seen.probes.iter()).collect();
        let first = confirmed
            .iter()
            .filter_map(|(_, seen)| seen.buckets.first())
            .min()
            .copied()
            .unwrap_or(input.buckets.start);
        let last = confirmed
            .iter()
            .filter_map(|(_, seen)| seen.buckets.last())
            .max()
            .copied()
            .unwrap_or(first);
        let repeated = confirmed.iter().any(|(_, seen)| seen.buckets.len() >= 2);
        let targets: Vec<BlockedTarget> = confirmed
            .iter()
            .map(|(name, seen)| BlockedTarget {
                name: (*name).clone(),
                method: seen
                    .methods
                    .iter()
                    .max_by_key(|(m, n)| (**n, std::cmp::Reverse(**m)))
                    .map_or("dns", |(m, _)| m.as_str())
                    .to_owned(),
                fingerprints: seen.fingerprints.iter().cloned().collect(),
            })
            .collect();
        let started = first * input.bucket_secs;
        let level = if repeated {
            ConfidenceLevel::High
        } else {
            ConfidenceLevel::Medium
        };
        let control_networks: BTreeSet<(&str, u32)> =
            confirmed.iter().flat_map(|(name, seen)| controls(name, seen)).collect();
        let text = format!(
            "{} target(s) blocked on {} probes in AS{asn} while their anchors answered: {}; {}",
            targets.len(),
            probes.len(),
            targets
                .iter()
                .zip(&confirmed)
                .map(|(t, (_, seen))| {
                    // An app blocked on some endpoints while others answered, on the same probes.
                    let partly = if seen.partial > 0 {
                        ", partly: other endpoints answered"
                    } else {
                        ""
                    };
                    match t.fingerprints.as_slice() {
                        [] => format!("{} ({}{partly})", t.name, t.method),
                        names => format!("{} ({}{partly}, fingerprint {})", t.name, t.method, names.join(", ")),
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
            match control_networks.len() {
                0 => "no other network loaded them in that time (confirmed by fingerprint)".to_owned(),
                n => format!("{n} other network(s) loaded them in that time"),
            }
        );
        out.push(ruled_event(
            EventClass::Censorship,
            asn_scope(country, asn),
            started,
            (last + 1 < input.buckets.end).then(|| (last + 1) * input.bucket_secs),
            (if repeated { 0.9 } else { 0.7 }, level),
            (
                probes.len(),
                network_size.get(&(country.to_owned(), asn)).copied().unwrap_or(0),
            ),
            Evidence {
                family: "blocking".to_owned(),
                text,
                points: 5,
            },
            targets,
        ));
    }
    out
}

/// An event resting on one piece of evidence (the rule-based classes), with an id from its kind, scope and start.
#[allow(clippy::too_many_arguments)]
fn ruled_event(
    class: EventClass,
    scope: EventScope,
    started_at: i64,
    ended_at: Option<i64>,
    (confidence, confidence_level): (f64, ConfidenceLevel),
    (affected_probes, probes_in_scope): (usize, usize),
    evidence: Evidence,
    targets: Vec<BlockedTarget>,
) -> DisruptionEvent {
    let key = [
        class.as_str(),
        scope.level.as_str(),
        scope.country.as_deref().unwrap_or(""),
        &scope.asn.map(|a| a.to_string()).unwrap_or_default(),
        scope.probe_id.as_deref().unwrap_or(""),
        &started_at.to_string(),
    ];
    DisruptionEvent {
        id: event_id(&key),
        class,
        scope,
        started_at,
        ended_at,
        confidence,
        confidence_level,
        affected_probes,
        probes_in_scope,
        evidence: vec![evidence],
        scores: BTreeMap::new(),
        targets,
    }
}

/// The scope of one network.
fn asn_scope(country: &str, asn: u32) -> EventScope {
    EventScope {
        level: "asn".to_owned(),
        country: Some(country.to_owned()),
        asn: Some(asn),
        ..EventScope::default()
    }
}

/// Buckets of a probe's own history a throttling baseline needs.
const THROTTLE_BASELINE_BUCKETS: usize = 6;

/// Throttling (CLASSIFICATION.md §5.4 C2): international anchors still answer, but their throughput falls to
/// ≤ 0.3× or their round trip rises to ≥ 3× the probe's own earlier median, on ≥ 60 % (and ≥ 2) of an ASN's
/// reporting probes, in ≥ 2 consecutive buckets, while domestic anchors stay normal.
fn throttling(timelines: &[Timeline<'_>], input: &ClassifierInput) -> Vec<DisruptionEvent> {
    let n = window_len(input);
    let empty = BTreeMap::new();
    // Per probe and bucket: Some(slowed?) when the probe had comparable data, None otherwise.
    let slowed: Vec<Vec<Option<(bool, f64)>>> = timelines
        .iter()
        .map(|tl| {
            let observed = input.observed.get(&tl.probe.probe_id).unwrap_or(&empty);
            let (mut speeds, mut rtts) = (Vec::new(), Vec::new());
            (0..n)
                .map(|t| {
                    let s = observed.get(&(input.buckets.start + t as i64))?;
                    let speed = median(&s.international_throughput);
                    let rtt = median(&s.international_rtt);
                    let reachable = s.international.ratio().is_some_and(|r| r >= 0.9)
                        && s.domestic.ratio().is_none_or(|r| r >= 0.9);
                    let verdict = if !reachable {
                        None
                    } else {
                        let by_speed = speed
                            .zip(median(&speeds))
                            .filter(|_| speeds.len() >= THROTTLE_BASELINE_BUCKETS);
                        let by_rtt = rtt
                            .zip(median(&rtts))
                            .filter(|_| rtts.len() >= THROTTLE_BASELINE_BUCKETS);
                        match (by_speed, by_rtt) {
                            (Some((now, usual)), _) if usual > 0.0 && now <= 0.3 * usual => Some((true, now / usual)),
                            (_, Some((now, usual))) if usual > 0.0 && now >= 3.0 * usual => Some((true, usual / now)),
                            (Some((now, usual)), _) if usual > 0.0 => Some((false, now / usual)),
                            (_, Some((now, usual))) if now > 0.0 => Some((false, usual / now)),
                            _ => None,
                        }
                    };
                    // Only normal buckets feed the baseline, so a long slowdown does not become the norm.
                    if verdict.is_none_or(|(slow, _)| !slow) {
                        speeds.extend(speed);
                        rtts.extend(rtt);
                    }
                    verdict
                })
                .collect()
        })
        .collect();
    let mut networks: BTreeMap<(String, u32), Vec<usize>> = BTreeMap::new();
    for (i, tl) in timelines.iter().enumerate() {
        networks
            .entry((tl.probe.country.clone(), tl.probe.asn))
            .or_default()
            .push(i);
    }
    let mut out = Vec::new();
    for ((country, asn), members) in networks {
        let fires: Vec<Option<(usize, usize, f64)>> = (0..n)
            .map(|t| {
                let judged: Vec<(bool, f64)> = members.iter().filter_map(|&i| slowed[i][t]).collect();
                let slow: Vec<f64> = judged.iter().filter(|(s, _)| *s).map(|(_, r)| *r).collect();
                (slow.len() >= 2 && slow.len() as f64 >= 0.6 * judged.len() as f64)
                    .then(|| (slow.len(), judged.len(), median(&slow).unwrap_or(0.0)))
            })
            .collect();
        let mut t = 0;
        while t < n {
            if fires[t].is_none() {
                t += 1;
                continue;
            }
            let start = t;
            let (mut worst, mut slow_max, mut judged_max) = (1.0f64, 0, 0);
            while t < n {
                let Some((slow, judged, ratio)) = fires[t] else { break };
                worst = worst.min(ratio);
                slow_max = slow_max.max(slow);
                judged_max = judged_max.max(judged);
                t += 1;
            }
            if t - start < 2 {
                continue;
            }
            let started = bucket_time(input, start);
            let level = if t - start >= 3 {
                ConfidenceLevel::Medium
            } else {
                ConfidenceLevel::Low
            };
            out.push(ruled_event(
                EventClass::Throttling,
                asn_scope(&country, asn),
                started,
                end_time(input, t, n),
                (if level == ConfidenceLevel::Medium { 0.6 } else { 0.4 }, level),
                (slow_max, members.len()),
                Evidence {
                    family: "path".to_owned(),
                    text: format!(
                        "international anchors still answered but ran at {:.0}% of their usual speed on {slow_max} of \
                         {judged_max} probes in AS{asn}, for {} buckets; domestic anchors were normal",
                        worst * 100.0,
                        t - start
                    ),
                    points: 3,
                },
                Vec::new(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_leak_between_isolated_buckets_is_closed_and_a_return_is_not() {
        use ProbeState::{IsolatedAll, IsolatedInternational as Cut, Online};
        let leaky = |states: &[ProbeState], leaks: &[usize]| {
            let flags: Vec<bool> = (0..states.len()).map(|t| leaks.contains(&t)).collect();
            let mut out = states.to_vec();
            close_leaks(&mut out, &flags);
            out
        };
        // One allowlisted check passing mid-cut: still cut.
        assert_eq!(leaky(&[Cut, Online, Cut], &[1]), [Cut, Cut, Cut]);
        // Three in a row, between a total cut and an intranet: the intranet (the milder) is kept.
        assert_eq!(
            leaky(&[IsolatedAll, Online, Online, Online, Cut], &[1, 2, 3]),
            [IsolatedAll, Cut, Cut, Cut, Cut]
        );
        // Four in a row is no leak, and neither is a bucket with every international check passing.
        let long = [Cut, Online, Online, Online, Online, Cut];
        assert_eq!(leaky(&long, &[1, 2, 3, 4]), long);
        assert_eq!(leaky(&[Cut, Online, Cut], &[]), [Cut, Online, Cut]);
        // A return after the cut is not filled: nothing isolated after it.
        assert_eq!(leaky(&[Cut, Online, Online], &[1, 2]), [Cut, Online, Online]);
    }

    #[test]
    fn a_bucket_that_measured_no_reach_keeps_the_cut_before_it() {
        use crate::model::BucketSummary;
        use state::tests::summary;
        let cut = summary((2, 2), (0, 2), true, "b");
        // Only test-list checks, every one timing out: no anchor, no vitals, no site loaded.
        let busy = BucketSummary::default();
        let mut loaded = BucketSummary::default();
        loaded.reached.insert("http://news.example/".to_owned());
        let lan_down = summary((0, 0), (0, 0), false, "b");
        let states = |buckets: &[&BucketSummary]| {
            let observed: BTreeMap<Bucket, BucketSummary> = buckets
                .iter()
                .enumerate()
                .map(|(t, s)| (t as Bucket, (*s).clone()))
                .collect();
            probe_states(&observed, 0..buckets.len() as Bucket)
        };
        use ProbeState::{IsolatedInternational as Cut, LanDown, Online};
        assert_eq!(states(&[&cut, &busy, &busy, &cut]), [Cut, Cut, Cut, Cut]);
        // A site that loaded is reach measured: the probe was online.
        assert_eq!(states(&[&cut, &loaded, &cut]), [Cut, Online, Cut]);
        // Vitals showing the LAN down speak for themselves, and nothing is carried into a working probe's buckets.
        assert_eq!(states(&[&cut, &lan_down]), [Cut, LanDown]);
        let fine = summary((2, 2), (2, 2), true, "b");
        assert_eq!(states(&[&fine, &busy, &fine]), [Online, Online, Online]);
    }
}
