//! A third-party platform's own faults: many of its presence-only probes leaving one of its servers (a RIPE
//! Atlas controller) in the same bucket, across many networks. CLASSIFICATION.md §5.4 A1 calls such a burst a
//! platform artefact when the affected probes share one collector endpoint; Disco groups disconnections by
//! controller for the same reason. A burst across many networks *without* that concentration is not called the
//! platform's: it stays with the outage tests, where each network is judged on its own.

use std::collections::{BTreeMap, BTreeSet};

use super::{ClassifierInput, ClassifierSettings, Timeline, bucket_time, end_time, ruled_event, stats, window_len};
use crate::model::{ConfidenceLevel, DisruptionEvent, EventClass, EventScope, Evidence};

/// Fewest probes leaving one controller in one bucket for a platform fault: ten, the size of the smallest
/// network outage the RIPE Atlas replay must find (EVALUATION.md), so that a controller fault is held to the
/// same bar as a network's.
const MIN_PROBES: usize = 10;

/// Fewest networks those probes must span: five. Fewer is as likely one network's outage seen through the
/// controller most of its probes use; CLASSIFICATION.md §5.4 A1 asks for a burst across many networks.
const MIN_ASNS: usize = 5;

/// Probes of one controller that left it together.
#[derive(Debug, Clone)]
pub(super) struct PlatformFault {
    /// The controller.
    pub controller: String,
    /// First bucket (offset in the window).
    pub start: usize,
    /// One past the last bucket in which most of them were still away.
    pub end: usize,
    /// The probes (timeline indices).
    pub participants: BTreeSet<usize>,
    /// Absences that began in that bucket, all controllers.
    pub onsets: usize,
    /// The controller's share of all absences of the window.
    pub usual_share: f64,
}

/// The platform faults of a window.
pub(super) fn faults(
    timelines: &[Timeline<'_>],
    input: &ClassifierInput,
    settings: &ClassifierSettings,
) -> Vec<PlatformFault> {
    let n = window_len(input);
    // Per bucket: (probe, controller) of each absence beginning there.
    let mut onsets: Vec<Vec<(usize, &str)>> = vec![Vec::new(); n];
    let mut usual: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, tl) in timelines.iter().enumerate() {
        let Some(presence) = input.presence.get(&tl.probe.probe_id) else {
            continue;
        };
        for (&t, controller) in &presence.onsets {
            let Some(controller) = controller.as_deref() else {
                continue;
            };
            if t < n {
                onsets[t].push((i, controller));
                *usual.entry(controller).or_default() += 1;
            }
        }
    }
    let total: usize = usual.values().sum();
    if total == 0 {
        return Vec::new();
    }
    // Every controller in every bucket is a test: one family, as in the outage tests.
    let level = settings.alpha / (usual.len() * n).max(1) as f64;
    let mut out = Vec::new();
    for (t, here) in onsets.iter().enumerate() {
        let mut by_controller: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        for (p, c) in here {
            by_controller.entry(c).or_default().insert(*p);
        }
        for (controller, probes) in by_controller {
            let asns: BTreeSet<u32> = probes.iter().map(|&p| timelines[p].probe.asn).collect();
            if probes.len() < MIN_PROBES || asns.len() < MIN_ASNS {
                continue;
            }
            let share = usual.get(controller).copied().unwrap_or(0) as f64 / total as f64;
            if stats::tail_at_least(&vec![share; here.len()], probes.len()) >= level {
                continue;
            }
            let away = |u: usize| probes.iter().filter(|&&p| timelines[p].states[u].is_down()).count();
            let end = (t + 1..n).find(|&u| 2 * away(u) < probes.len()).unwrap_or(n);
            out.push(PlatformFault {
                controller: controller.to_owned(),
                start: t,
                end,
                participants: probes,
                onsets: here.len(),
                usual_share: share,
            });
        }
    }
    out
}

/// The event of a platform fault.
pub(super) fn event(fault: &PlatformFault, timelines: &[Timeline<'_>], input: &ClassifierInput) -> DisruptionEvent {
    let asns: BTreeSet<u32> = fault.participants.iter().map(|&p| timelines[p].probe.asn).collect();
    let countries: BTreeSet<&str> = fault
        .participants
        .iter()
        .map(|&p| timelines[p].probe.country.as_str())
        .collect();
    let start = bucket_time(input, fault.start);
    ruled_event(
        EventClass::CollectorSide,
        EventScope {
            level: "collector".to_owned(),
            ..EventScope::default()
        },
        start,
        end_time(input, fault.end, window_len(input)),
        (0.7, ConfidenceLevel::Medium),
        (
            fault.participants.len(),
            timelines
                .iter()
                .filter(|t| t.presence_only && t.expected.get(fault.start).copied().unwrap_or(false))
                .count(),
        ),
        Evidence {
            family: "platform".to_owned(),
            text: format!(
                "{} probes in {} networks and {} countries left the platform's controller {} in the same bucket: \
                 {} of the {} absences that began then, against {:.0}% of the window's — the platform's fault, \
                 not the networks' (presence only: no device or path evidence)",
                fault.participants.len(),
                asns.len(),
                countries.len(),
                fault.controller,
                fault.participants.len(),
                fault.onsets,
                fault.usual_share * 100.0
            ),
            points: 5,
        },
        Vec::new(),
    )
}
