//! Per-bucket series for a scope (DESIGN.md §3 `/api/v1/timeline`): how many probes were expected, reporting,
//! online, isolated, dark and on battery, and how often domestic and international anchors answered. Uses the
//! same states as the classifier, so the chart and the events never disagree. It is the terrestrial view: a probe's
//! uplinks of another access (a dish beside its line, issue 24) are left out.

use serde::Serialize;

use super::input::ClassifierInput;
use super::state::ProbeState;
use super::{ClassifierSettings, probe_timeline};
use crate::model::Tally;

/// One bucket of the series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelinePoint {
    /// Bucket start, epoch seconds.
    pub t: i64,
    /// Probes expected (reported in the recent past).
    pub expected: usize,
    /// Probes with data for this bucket.
    pub reporting: usize,
    /// Online (including on battery and just rebooted).
    pub online: usize,
    /// Isolated from the world, or from everything beyond the gateway.
    pub isolated: usize,
    /// Expected but silent.
    pub dark: usize,
    /// On battery power.
    pub on_battery: usize,
    /// Gateway or link lost.
    pub lan_down: usize,
    /// Share of domestic anchor checks that succeeded (`null` without checks).
    pub domestic_reachability: Option<f64>,
    /// Share of international anchor checks that succeeded.
    pub international_reachability: Option<f64>,
}

/// Which probes a series covers.
#[derive(Debug, Clone, Default)]
pub struct TimelineFilter {
    /// Country.
    pub country: Option<String>,
    /// Autonomous system.
    pub asn: Option<u32>,
}

/// The series over the input's window for the probes the filter selects.
pub fn timeline(input: &ClassifierInput, filter: &TimelineFilter, settings: &ClassifierSettings) -> Vec<TimelinePoint> {
    let n = usize::try_from(input.buckets.end - input.buckets.start).unwrap_or(0);
    let mut points: Vec<TimelinePoint> = (0..n)
        .map(|i| TimelinePoint {
            t: (input.buckets.start + i as i64) * input.bucket_secs,
            expected: 0,
            reporting: 0,
            online: 0,
            isolated: 0,
            dark: 0,
            on_battery: 0,
            lan_down: 0,
            domestic_reachability: None,
            international_reachability: None,
        })
        .collect();
    let mut domestic = vec![Tally::default(); n];
    let mut international = vec![Tally::default(); n];
    let empty = Default::default();
    let controls = super::controls::AnchorControls::of(input);
    for probe in input
        .probes
        .iter()
        // The terrestrial view: a probe's uplinks of another access (a dish beside its line) are not its country's
        // network, and their answers during a cut would read as the country's reachability.
        .filter(|p| !super::other_paths::beyond_the_border(p))
        .filter(|p| filter.country.as_ref().is_none_or(|c| *c == p.country) && filter.asn.is_none_or(|a| a == p.asn))
    {
        let observed = input.observed.get(&probe.probe_id).unwrap_or(&empty);
        let (states, expected_in, _) = probe_timeline(probe, input, settings, &controls);
        for (i, b) in input.buckets.clone().enumerate() {
            let summary = observed.get(&b);
            let state = states[i];
            if let Some(s) = summary {
                domestic[i].ok += s.domestic.ok;
                domestic[i].total += s.domestic.total;
                international[i].ok += s.international.ok;
                international[i].total += s.international.total;
                if let Some(v) = &s.vitals {
                    points[i].on_battery += usize::from(v.on_battery);
                }
            }
            let expected = expected_in[i];
            let p = &mut points[i];
            if expected || state != ProbeState::Silent {
                p.expected += 1;
            }
            match state {
                ProbeState::Silent if expected => p.dark += 1,
                ProbeState::Silent => {}
                ProbeState::Online | ProbeState::OnBattery | ProbeState::RebootedOnReturn | ProbeState::Degraded => {
                    p.reporting += 1;
                    p.online += 1;
                }
                ProbeState::IsolatedInternational | ProbeState::IsolatedAll => {
                    p.reporting += 1;
                    p.isolated += 1;
                }
                ProbeState::LanDown => {
                    p.reporting += 1;
                    p.lan_down += 1;
                }
            }
        }
    }
    for (i, p) in points.iter_mut().enumerate() {
        p.domestic_reachability = domestic[i].ratio();
        p.international_reachability = international[i].ratio();
    }
    points
}
