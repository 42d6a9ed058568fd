//! Timing evidence: how synchronously probes returned (F8), and an onset on the hour or half hour (F6).

use super::super::bucket_time;

use super::OutageView;
use crate::classify::attribute::Feature;

/// How the outage's probes came back (F8).
pub(super) fn recovery(v: &OutageView<'_, '_>) -> Vec<Feature> {
    let mut out = Vec::new();
    // Timing: recovery synchrony.
    let recoveries: Vec<i64> = v
        .participants
        .iter()
        .filter_map(|&p| {
            (v.episode.end..v.timelines[p].states.len())
                .find(|&t| !v.timelines[p].states[t].is_down())
                .map(|t| bucket_time(v.input, t))
        })
        .collect();
    if recoveries.len() >= 2 {
        let spread = recoveries.iter().max().unwrap_or(&0) - recoveries.iter().min().unwrap_or(&0);
        if spread <= v.input.bucket_secs.max(300) {
            out.push(Feature {
                family: "timing",
                text: format!("{} probes came back within {spread} s of each other", recoveries.len()),
                points: [2, -2, 1],
                inside_cut: false,
            });
        } else if spread > 3600 {
            out.push(Feature {
                family: "timing",
                text: format!("recovery was staggered over {} minutes", spread / 60),
                // F8: −2 shutdown, +3 power, +1 cable cut (re-routing), 0 technical.
                points: [-2, 3, 1],
                inside_cut: false,
            });
        }
    }
    out
}

/// When the outage began (F6): an order's round hours are not a failure's.
pub(super) fn onset(v: &OutageView<'_, '_>) -> Vec<Feature> {
    let mut out = Vec::new();
    // Onset on the hour or half hour (meaningful with buckets of a few minutes at most).
    let onset = bucket_time(v.input, v.episode.start);
    if v.input.bucket_secs <= 300 && v.input.bucket_secs >= 60 && onset.rem_euclid(1800) < 120 {
        out.push(Feature {
            family: "timing",
            text: "the outage began on the hour or half hour".to_owned(),
            points: [2, 0, 1],
            inside_cut: false,
        });
    }
    out
}
