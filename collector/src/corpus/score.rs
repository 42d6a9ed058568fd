//! Scoring the classifier's events against a scenario's truth.
//!
//! A true event is matched to the events that overlap it in time and concern its place (its country, or its
//! probe); the best of them is the one at exactly its scope, else the largest. It is **right** when that event has
//! its class and its scope. Every event of the classifier that matches no true event is a **false event**. Each
//! event's stated confidence is set against whether it was right (the reliability table): a confidence that means
//! what it says is right that often.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::scenario::{ScenarioKind, Truth, TruthScope};
use crate::model::{ConfidenceLevel, DisruptionEvent, EventClass};

/// What one scenario's events scored.
#[derive(Debug, Clone, Default)]
pub struct ScenarioScore {
    /// Per true event: its class, the class called for it (`none` when nothing was), and whether class and scope
    /// were right.
    pub truths: Vec<(String, String, bool)>,
    /// Per true event (as `truths`): whether it is an outage the probes cannot tell from its look-alike
    /// ([`inseparable`]).
    pub inseparable: Vec<bool>,
    /// Start and end errors (buckets) of the true events called right.
    pub edge_errors: Vec<(i64, i64)>,
    /// Per event called: its class, its stated confidence, its level, and whether it was right.
    pub calls: Vec<Call>,
    /// Events that match no true event.
    pub false_events: usize,
    /// Per true correlated outage (shutdown, power outage, network failure): its class and the first class other
    /// than `unknown` published for it while it unfolded (the final call when none was).
    pub first_published: Vec<(String, String)>,
    /// Per true correlated outage (shutdown, power outage, network failure) called at its scope with scores: the
    /// scores per class and the true class — what the attribution model is calibrated on.
    pub attributions: Vec<(BTreeMap<String, i32>, String)>,
}

/// The country a true scope lies in, if it names one.
fn truth_country(scope: &TruthScope) -> Option<&str> {
    match scope {
        TruthScope::Country { country }
        | TruthScope::Asn { country, .. }
        | TruthScope::Region { country, .. }
        | TruthScope::Access { country, .. } => Some(country),
        TruthScope::Probe { .. } => None,
    }
}

/// Whether an event is about the place of a true event.
fn concerns(event: &DisruptionEvent, truth: &TruthScope) -> bool {
    match truth {
        TruthScope::Probe { probe_id } => event.scope.probe_id.as_deref() == Some(probe_id),
        other => event.scope.country.as_deref() == truth_country(other) && event.scope.level != "probe",
    }
}

/// The probes of a scenario, as the scorer places them in scopes.
pub type Placement = [crate::classify::ProbeInfo];

/// Whether a placed probe belongs to scopes of `level`: a probe's uplink of another access (a dish beside its line,
/// `classify::other_paths`) only to its access's — never to a country's, region's, network's or probe's, which are
/// the terrestrial ones.
fn in_scopes_of(p: &crate::classify::ProbeInfo, level: &str) -> bool {
    level == "access" || !crate::classify::beyond_the_border(p)
}

/// The level of a true scope, as an event names it.
fn truth_level(truth: &TruthScope) -> &'static str {
    match truth {
        TruthScope::Country { .. } => "country",
        TruthScope::Asn { .. } => "asn",
        TruthScope::Region { .. } => "region",
        TruthScope::Access { .. } => "access",
        TruthScope::Probe { .. } => "probe",
    }
}

/// The probes (ids) a true scope holds.
fn truth_members<'a>(truth: &TruthScope, probes: &'a Placement) -> BTreeSet<&'a str> {
    probes
        .iter()
        .filter(|p| in_scopes_of(p, truth_level(truth)))
        .filter(|p| match truth {
            TruthScope::Country { country } => p.country == *country,
            TruthScope::Asn { country, asn } => p.country == *country && p.asn == *asn,
            TruthScope::Region { country, region } => {
                p.country == *country && p.region.as_deref() == Some(region.as_str())
            }
            TruthScope::Access { country, access } => p.country == *country && p.access == *access,
            TruthScope::Probe { probe_id } => p.probe_id == *probe_id,
        })
        .map(|p| p.probe_id.as_str())
        .collect()
}

/// The probes (ids) an event's scope holds.
fn event_members<'a>(event: &DisruptionEvent, probes: &'a Placement) -> BTreeSet<&'a str> {
    probes
        .iter()
        .filter(|p| in_scopes_of(p, &event.scope.level))
        .filter(|p| match event.scope.level.as_str() {
            "probe" => event.scope.probe_id.as_deref() == Some(p.probe_id.as_str()),
            "country" => event.scope.country.as_deref() == Some(p.country.as_str()),
            "asn" => event.scope.country.as_deref() == Some(p.country.as_str()) && event.scope.asn == Some(p.asn),
            "region" => {
                event.scope.country.as_deref() == Some(p.country.as_str())
                    && event.scope.region.is_some()
                    && event.scope.region == p.region
            }
            "access" => {
                event.scope.country.as_deref() == Some(p.country.as_str())
                    && event.scope.access.as_deref() == Some(p.access.as_str())
            }
            _ => false,
        })
        .map(|p| p.probe_id.as_str())
        .collect()
}

/// Whether a true shutdown or network failure is one nothing the probes measure can tell from the other: its probes
/// are exactly one network's, and that network holds every probe of its country, or every probe of its access type
/// there; or its probes are every probe of a region, all on one network. Such a network's failure and a cut ordered for that scope look the same on every probe — the same
/// geometry (CLASSIFICATION.md F9: no other network watched beside it; F5: its access type is its own), the same
/// devices, the same paths — so `unknown`, or a call at low confidence, is the honest answer, and the report
/// gives the share right on the outages that can be told apart beside the share right on all.
pub fn inseparable(truth: &Truth, probes: &Placement) -> bool {
    if !matches!(truth.class, EventClass::Shutdown | EventClass::NetworkFailure) {
        return false;
    }
    let members = truth_members(&truth.scope, probes);
    let placed: Vec<&crate::classify::ProbeInfo> = probes
        .iter()
        .filter(|p| members.contains(p.probe_id.as_str()))
        .collect();
    let Some(first) = placed.first() else {
        return false;
    };
    if placed.iter().any(|p| p.asn != first.asn) {
        return false;
    }
    // Every probe of a region, all on one network (serving other regions too or not).
    if let Some(region) = &first.region
        && placed.iter().all(|p| p.region.as_ref() == Some(region))
        && truth_members(
            &TruthScope::Region {
                country: first.country.clone(),
                region: region.clone(),
            },
            probes,
        ) == members
    {
        return true;
    }
    let network = truth_members(
        &TruthScope::Asn {
            country: first.country.clone(),
            asn: first.asn,
        },
        probes,
    );
    let whole = |scope: TruthScope| truth_members(&scope, probes) == network;
    network == members
        && (whole(TruthScope::Country {
            country: first.country.clone(),
        }) || whole(TruthScope::Access {
            country: first.country.clone(),
            access: first.access,
        }))
}

/// Whether an event is reported at the true scope: the same probes. Scopes of different names that hold the same
/// probes are one claim — a country whose probes are all in one network and that network, a region served by one
/// network and that network: the probes cannot tell them apart, so the classifier names one (the narrower kind)
/// and either is right for the other.
pub fn same_scope(event: &DisruptionEvent, truth: &TruthScope, probes: &Placement) -> bool {
    let truth_probes = truth_members(truth, probes);
    !truth_probes.is_empty() && truth_probes == event_members(event, probes)
}

/// Scores `events` against `truth`; bucket 0 starts at `t0` (epoch seconds); `probes` places the scenario's
/// probes in scopes ([`same_scope`]).
pub fn score(
    truth: &[Truth],
    events: &[DisruptionEvent],
    (t0, bucket_secs): (i64, i64),
    probes: &Placement,
) -> ScenarioScore {
    let time = |bucket: usize| t0 + bucket as i64 * bucket_secs;
    let overlaps =
        |e: &DisruptionEvent, t: &Truth| e.started_at < time(t.end) && e.ended_at.is_none_or(|end| end > time(t.start));
    let mut out = ScenarioScore::default();
    let mut explained = vec![false; events.len()];
    let mut right_event = vec![false; events.len()];
    for t in truth {
        let related: Vec<usize> = (0..events.len())
            .filter(|&i| overlaps(&events[i], t) && concerns(&events[i], &t.scope))
            .collect();
        for &i in &related {
            explained[i] = true;
            if events[i].class == t.class && same_scope(&events[i], &t.scope, probes) {
                right_event[i] = true;
            }
        }
        let best = related
            .iter()
            .copied()
            .find(|&i| events[i].class == t.class && same_scope(&events[i], &t.scope, probes))
            .or_else(|| {
                related
                    .iter()
                    .copied()
                    .find(|&i| same_scope(&events[i], &t.scope, probes))
            })
            .or_else(|| related.iter().copied().max_by_key(|&i| events[i].affected_probes));
        if let Some(e) = best
            .map(|i| &events[i])
            .filter(|e| same_scope(e, &t.scope, probes) && e.scores.contains_key(t.class.as_str()))
        {
            out.attributions.push((e.scores.clone(), t.class.as_str().to_owned()));
        }
        let called = best.map_or("none", |i| events[i].class.as_str());
        let right = best.is_some_and(|i| right_event[i]);
        out.truths.push((t.class.as_str().to_owned(), called.to_owned(), right));
        out.inseparable.push(inseparable(t, probes));
        if let Some(i) = best.filter(|_| right) {
            let e = &events[i];
            let start_err = (e.started_at - time(t.start)).abs() / bucket_secs.max(1);
            let end = e.ended_at.unwrap_or(time(super::scenario::WINDOW_BUCKETS));
            let end_err = (end - time(t.end)).abs() / bucket_secs.max(1);
            out.edge_errors.push((start_err, end_err));
        }
    }
    for (i, e) in events.iter().enumerate() {
        // An unknown event claims no cause: its confidence is not a probability of being right.
        if e.class != EventClass::Unknown {
            out.calls.push(Call {
                class: e.class.as_str().to_owned(),
                confidence: e.confidence,
                model: e.scores.contains_key(e.class.as_str()).then(|| {
                    crate::classify::attribute::probabilities(&e.scores, crate::classify::attribute::NATS_PER_POINT)
                        .get(e.class.as_str())
                        .copied()
                        .unwrap_or(0.0)
                }),
                level: e.confidence_level,
                right: right_event[i],
            });
        }
        if !explained[i] {
            out.false_events += 1;
        }
    }
    out
}

/// The first class other than `unknown` that `runs` (the classifier's events at successive moments, earliest
/// first) published about `truth`'s place while it was under way, if any.
pub fn first_published(truth: &Truth, runs: &[&[DisruptionEvent]], t0: i64, bucket_secs: i64) -> Option<String> {
    let begun = t0 + truth.start as i64 * bucket_secs;
    runs.iter().find_map(|events| {
        events
            .iter()
            .filter(|e| concerns(e, &truth.scope) && e.ended_at.is_none_or(|end| end > begun))
            .filter(|e| e.class != EventClass::Unknown)
            .max_by_key(|e| e.affected_probes)
            .map(|e| e.class.as_str().to_owned())
    })
}

/// One event called, as the reliability tables read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The class called.
    pub class: String,
    /// Its stated confidence.
    pub confidence: f64,
    /// The attribution model's probability of the class called, when the call came from the model (a correlated
    /// outage): what the stated confidence is calibrated from.
    pub model: Option<f64>,
    /// Its level.
    pub level: ConfidenceLevel,
    /// Whether it was right (class and scope of a true event).
    pub right: bool,
}

/// The stated confidence bands of the reliability table.
const BANDS: [(f64, f64); 4] = [(0.0, 0.5), (0.5, 0.7), (0.7, 0.85), (0.85, 1.01)];

/// One row of the reliability table.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Band {
    /// Lowest stated confidence in the band.
    pub from: f64,
    /// One past the highest.
    pub to: f64,
    /// Events called in it.
    pub events: usize,
    /// Their mean stated confidence.
    pub stated: f64,
    /// The share of them that were right.
    pub right: f64,
    /// The 95 % Wilson interval of that share: how far a band of few events can be from its stated confidence
    /// by chance alone.
    pub right_interval: (f64, f64),
}

impl Band {
    /// Whether the band meets issue 23's target: its share right within 10 points of its stated confidence, or,
    /// where it holds too few events to say, its interval reaching within 10 points of it.
    pub fn within_ten_points(&self) -> bool {
        let (low, high) = self.right_interval;
        self.events == 0 || (self.stated - 0.1 <= high && low <= self.stated + 0.1)
    }
}

/// The 95 % Wilson score interval of `right` successes in `n` trials (Wilson 1927; Brown, Cai & DasGupta 2001
/// recommend it over the normal interval for small `n` and shares near 0 or 1, both the case here).
pub fn wilson_interval(right: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_964;
    let (n, p) = (n as f64, right as f64 / n as f64);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// The whole corpus's score.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EvalReport {
    /// The corpus's seed.
    pub seed: u64,
    /// Scenarios evaluated.
    pub scenarios: usize,
    /// True events.
    pub true_events: usize,
    /// True events called with the right class.
    pub right_class: usize,
    /// True events called with the right class and scope.
    pub right_class_and_scope: usize,
    /// True events the probes can tell from their look-alikes, and how many were right (class and scope).
    pub separable: (usize, usize),
    /// True outages they cannot ([`inseparable`]): how many, how many were right, how many were called `unknown`.
    pub inseparable: (usize, usize, usize),
    /// (true class, called class) → count; `none` when nothing was called.
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
    /// Per scenario kind: true events, and how many were right.
    pub by_kind: BTreeMap<String, (usize, usize)>,
    /// Median and 90th-percentile start error (buckets) of right calls.
    pub start_error: (i64, i64),
    /// Median and 90th-percentile end error (buckets) of right calls.
    pub end_error: (i64, i64),
    /// Stated confidence against the share right.
    pub reliability: Vec<Band>,
    /// The same per class called: calls, their mean stated confidence, the share right.
    pub reliability_by_class: BTreeMap<String, (usize, f64, f64)>,
    /// High-confidence calls, and how many of them were wrong.
    pub high_confidence: (usize, usize),
    /// True correlated outages; how many had the right class first published while they unfolded; for how many
    /// that were not shutdowns a shutdown was published first (the accusation a feed reader has already seen).
    pub first_published: (usize, usize, usize),
    /// Events matching no true event, over all scenarios.
    pub false_events: usize,
    /// False events per 1,000 probe-days in the quiet scenarios.
    pub quiet_false_per_1000_probe_days: f64,
    /// How well the attribution model's probabilities fit the truth, and the scale that would fit it best.
    pub calibration: Calibration,
}

/// The attribution model's fit on the corpus: scores read as log-likelihoods, `nats_per_point` of them per point
/// (the model's probability of a class is the softmax of the scaled scores, see `classify::attribute`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Calibration {
    /// True correlated outages called at their scope with scores.
    pub samples: usize,
    /// The classifier's scale, and the mean log loss (nats) of its probabilities.
    pub current: (f64, f64),
    /// The scale with the least mean log loss on this corpus, and that loss.
    pub best: (f64, f64),
    /// The model's probability against the share of its calls right, by bins of probability, with the
    /// isotonic fit of that share (what `classify::attribute::CALIBRATION` is read from).
    pub bins: Vec<CalibrationBin>,
}

/// One bin of the model's calls by its probability.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CalibrationBin {
    /// Lowest model probability in the bin.
    pub from: f64,
    /// One past the highest.
    pub to: f64,
    /// Calls in it.
    pub calls: usize,
    /// Their mean model probability.
    pub mean_model: f64,
    /// The share of them right.
    pub right: f64,
    /// The isotonic (non-decreasing in probability, least squares) fit of the share right over all bins.
    pub fitted: f64,
}

/// The edges of the bins the model's probability is read in: the model's calls start at 0.5 (below it no class
/// is called) and crowd near 1, so the bins narrow there.
const MODEL_BINS: [f64; 12] = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.96, 0.98, 0.99, 1.000_001];

/// Bins `calls` by their model probability and fits the share right isotonically (pool adjacent violators,
/// weighted by calls).
pub fn calibration_bins(calls: &[Call]) -> Vec<CalibrationBin> {
    let mut bins: Vec<CalibrationBin> = MODEL_BINS
        .windows(2)
        .map(|edge| {
            let inside: Vec<(f64, bool)> = calls
                .iter()
                .filter_map(|c| c.model.map(|p| (p, c.right)))
                .filter(|(p, _)| *p >= edge[0] && *p < edge[1])
                .collect();
            let n = inside.len();
            let mean = |v: Vec<f64>| if n == 0 { 0.0 } else { v.iter().sum::<f64>() / n as f64 };
            CalibrationBin {
                from: edge[0],
                to: edge[1].min(1.0),
                calls: n,
                mean_model: mean(inside.iter().map(|c| c.0).collect()),
                right: mean(inside.iter().map(|c| f64::from(u8::from(c.1))).collect()),
                fitted: 0.0,
            }
        })
        .filter(|b| b.calls > 0)
        .collect();
    // Pool adjacent violators: blocks of (weight, value, bins held), merged while a block's value falls below
    // the one before it.
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
    for b in &bins {
        blocks.push((b.calls as f64, b.right, 1));
        while blocks.len() >= 2 && blocks[blocks.len() - 2].1 > blocks[blocks.len() - 1].1 {
            let (w2, v2, n2) = blocks.pop().unwrap_or_default();
            let (w1, v1, n1) = blocks.pop().unwrap_or_default();
            blocks.push((w1 + w2, (w1 * v1 + w2 * v2) / (w1 + w2), n1 + n2));
        }
    }
    let fitted = blocks.iter().flat_map(|&(_, v, n)| std::iter::repeat_n(v, n));
    for (b, v) in bins.iter_mut().zip(fitted) {
        b.fitted = v;
    }
    bins
}

/// Mean log loss (nats) of the softmax of `scale` × scores against the true classes.
fn log_loss(samples: &[(BTreeMap<String, i32>, String)], scale: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let total: f64 = samples
        .iter()
        .map(|(scores, truth)| {
            let p = crate::classify::attribute::probabilities(scores, scale);
            -p.get(truth.as_str()).copied().unwrap_or(0.0).max(1e-9).ln()
        })
        .sum();
    total / samples.len() as f64
}

/// The fit of `samples` at the classifier's scale, and the best scale on a grid of 0.01 to 3 nats per point.
fn calibrate(samples: &[(BTreeMap<String, i32>, String)], calls: &[Call]) -> Calibration {
    let current = crate::classify::attribute::NATS_PER_POINT;
    let best = (1..=300)
        .map(|i| f64::from(i) / 100.0)
        .map(|scale| (scale, log_loss(samples, scale)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((current, 0.0));
    Calibration {
        samples: samples.len(),
        current: (current, log_loss(samples, current)),
        best,
        bins: calibration_bins(calls),
    }
}

/// Gathers scenario scores into the report.
#[derive(Debug, Default)]
pub struct ReportBuilder {
    report: EvalReport,
    edges: Vec<(i64, i64)>,
    calls: Vec<Call>,
    attributions: Vec<(BTreeMap<String, i32>, String)>,
    quiet: (usize, f64),
}

impl ReportBuilder {
    /// A builder for the corpus of `seed`.
    pub fn new(seed: u64) -> Self {
        ReportBuilder {
            report: EvalReport {
                seed,
                ..EvalReport::default()
            },
            ..ReportBuilder::default()
        }
    }

    /// Adds one scenario's score; `probe_days` is how much watching it held.
    pub fn add(&mut self, kind: ScenarioKind, score: ScenarioScore, probe_days: f64) {
        let r = &mut self.report;
        r.scenarios += 1;
        let kind_name = serde_json::to_value(kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let entry = r.by_kind.entry(kind_name).or_default();
        for ((truth, called, right), inseparable) in score.truths.iter().zip(&score.inseparable) {
            if *inseparable {
                r.inseparable.0 += 1;
                r.inseparable.1 += usize::from(*right);
                r.inseparable.2 += usize::from(called == "unknown");
            } else {
                r.separable.0 += 1;
                r.separable.1 += usize::from(*right);
            }
            r.true_events += 1;
            r.right_class += usize::from(truth == called);
            r.right_class_and_scope += usize::from(*right);
            *r.confusion
                .entry(truth.clone())
                .or_default()
                .entry(called.clone())
                .or_default() += 1;
            entry.0 += 1;
            entry.1 += usize::from(*right);
        }
        for (truth, first) in &score.first_published {
            r.first_published.0 += 1;
            r.first_published.1 += usize::from(truth == first);
            r.first_published.2 += usize::from(truth != "shutdown" && first == "shutdown");
        }
        r.false_events += score.false_events;
        if kind == ScenarioKind::Quiet {
            self.quiet.0 += score.false_events;
            self.quiet.1 += probe_days;
        }
        self.edges.extend(score.edge_errors);
        self.calls.extend(score.calls);
        self.attributions.extend(score.attributions);
    }

    /// The report.
    pub fn finish(mut self) -> EvalReport {
        let r = &mut self.report;
        let pct = |mut v: Vec<i64>, q: f64| -> i64 {
            if v.is_empty() {
                return 0;
            }
            v.sort_unstable();
            v[((v.len() - 1) as f64 * q).round() as usize]
        };
        let starts: Vec<i64> = self.edges.iter().map(|e| e.0).collect();
        let ends: Vec<i64> = self.edges.iter().map(|e| e.1).collect();
        r.start_error = (pct(starts.clone(), 0.5), pct(starts, 0.9));
        r.end_error = (pct(ends.clone(), 0.5), pct(ends, 0.9));
        r.reliability = BANDS
            .iter()
            .map(|&(from, to)| {
                let inside: Vec<&Call> = self
                    .calls
                    .iter()
                    .filter(|c| c.confidence >= from && c.confidence < to)
                    .collect();
                let n = inside.len();
                Band {
                    from,
                    to: to.min(1.0),
                    events: n,
                    stated: if n == 0 {
                        0.0
                    } else {
                        inside.iter().map(|c| c.confidence).sum::<f64>() / n as f64
                    },
                    right: if n == 0 {
                        0.0
                    } else {
                        inside.iter().filter(|c| c.right).count() as f64 / n as f64
                    },
                    right_interval: wilson_interval(inside.iter().filter(|c| c.right).count(), n),
                }
            })
            .collect();
        r.calibration = calibrate(&self.attributions, &self.calls);
        let high: Vec<_> = self.calls.iter().filter(|c| c.level == ConfidenceLevel::High).collect();
        r.high_confidence = (high.len(), high.iter().filter(|c| !c.right).count());
        let mut by_class: BTreeMap<String, (usize, f64, usize)> = BTreeMap::new();
        for c in &self.calls {
            let entry = by_class.entry(c.class.clone()).or_default();
            entry.0 += 1;
            entry.1 += c.confidence;
            entry.2 += usize::from(c.right);
        }
        r.reliability_by_class = by_class
            .into_iter()
            .map(|(class, (n, stated, right))| (class, (n, stated / n as f64, right as f64 / n as f64)))
            .collect();
        r.quiet_false_per_1000_probe_days = if self.quiet.1 > 0.0 {
            self.quiet.0 as f64 * 1000.0 / self.quiet.1
        } else {
            0.0
        };
        self.report
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let share = |n: usize, d: usize| if d == 0 { 0.0 } else { 100.0 * n as f64 / d as f64 };
        writeln!(
            f,
            "corpus seed {}: {} scenarios, {} true events",
            self.seed, self.scenarios, self.true_events
        )?;
        writeln!(
            f,
            "right class: {:.1} %   right class and scope: {:.1} %   (target ≥ 95 %)",
            share(self.right_class, self.true_events),
            share(self.right_class_and_scope, self.true_events)
        )?;
        let (hidden, hidden_right, hidden_unknown) = self.inseparable;
        writeln!(
            f,
            "on the {} events the probes can tell from their look-alikes: {:.1} % right; on {hidden} outages of one \
             network that is all its country's, access type's or region's probes: {:.1} % right, {:.1} % unknown",
            self.separable.0,
            share(self.separable.1, self.separable.0),
            share(hidden_right, hidden),
            share(hidden_unknown, hidden)
        )?;
        writeln!(
            f,
            "wrong high-confidence calls: {} of {} ({:.1} %; target ≤ 1 %)",
            self.high_confidence.1,
            self.high_confidence.0,
            share(self.high_confidence.1, self.high_confidence.0)
        )?;
        let (outages, first_right, first_shutdown) = self.first_published;
        writeln!(
            f,
            "first class published while an outage unfolded (3, 6, 10 min in): right for {:.1} % of {outages} \
             outages; a shutdown first for {first_shutdown} that were not shutdowns",
            share(first_right, outages)
        )?;
        writeln!(
            f,
            "false events: {} in all; {:.2} per 1,000 probe-days when nothing happened (target ≤ 0.5)",
            self.false_events, self.quiet_false_per_1000_probe_days
        )?;
        writeln!(
            f,
            "start error (buckets) median {} p90 {}; end error median {} p90 {}",
            self.start_error.0, self.start_error.1, self.end_error.0, self.end_error.1
        )?;
        writeln!(f, "\nconfusion (rows: true class; columns: class called)")?;
        let mut columns: Vec<&String> = self.confusion.values().flat_map(|row| row.keys()).collect();
        columns.sort();
        columns.dedup();
        write!(f, "{:<16}", "")?;
        for c in &columns {
            write!(f, " {:>15}", c)?;
        }
        writeln!(f)?;
        for (truth, row) in &self.confusion {
            write!(f, "{truth:<16}")?;
            for c in &columns {
                write!(f, " {:>15}", row.get(*c).copied().unwrap_or(0))?;
            }
            writeln!(f)?;
        }
        writeln!(f, "\nper scenario kind: true events, right (class and scope)")?;
        for (kind, (n, right)) in &self.by_kind {
            if *n > 0 {
                writeln!(f, "{kind:<28} {n:>5} {:>6.1} %", share(*right, *n))?;
            }
        }
        writeln!(
            f,
            "\nreliability: stated confidence against the share right (target: within 10 points)"
        )?;
        for b in &self.reliability {
            writeln!(
                f,
                "[{:.2}, {:.2})  {:>6} events  stated {:.2}  right {:.2} (95 % interval {:.2}–{:.2}){}",
                b.from,
                b.to,
                b.events,
                b.stated,
                b.right,
                b.right_interval.0,
                b.right_interval.1,
                if b.within_ten_points() { "" } else { "  MISSED" }
            )?;
        }
        writeln!(f, "per class called: calls, mean stated confidence, share right")?;
        for (class, (n, stated, right)) in &self.reliability_by_class {
            writeln!(f, "{class:<16} {n:>6} calls  stated {stated:.2}  right {right:.2}")?;
        }
        let c = &self.calibration;
        writeln!(
            f,
            "\nattribution model on {} true outages: log loss {:.3} at {:.2} nats per point (best {:.3} at {:.2})",
            c.samples, c.current.1, c.current.0, c.best.1, c.best.0
        )?;
        writeln!(
            f,
            "its probability against the share right (calls of the model; the fit is isotonic): bin, calls, mean \
             probability, right, fitted"
        )?;
        for b in &c.bins {
            writeln!(
                f,
                "[{:.2}, {:.2})  {:>6} calls  model {:.3}  right {:.3}  fitted {:.3}",
                b.from, b.to, b.calls, b.mean_model, b.right, b.fitted
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::ProbeInfo;
    use crate::model::{AccessType, EventClass, EventScope};

    fn probe(id: &str, asn: u32, region: &str) -> ProbeInfo {
        ProbeInfo {
            probe_id: id.to_owned(),
            country: "XA".to_owned(),
            asn,
            region: Some(region.to_owned()),
            access: AccessType::Fixed,
            ups: false,
            last_seen: None,
            held_since: None,
            network_country: None,
        }
    }

    fn event(scope: EventScope) -> DisruptionEvent {
        DisruptionEvent {
            id: "evt".to_owned(),
            class: EventClass::NetworkFailure,
            scope,
            started_at: 0,
            ended_at: None,
            confidence: 0.9,
            confidence_level: ConfidenceLevel::Medium,
            affected_probes: 2,
            probes_in_scope: 2,
            evidence: Vec::new(),
            scores: BTreeMap::new(),
            targets: Vec::new(),
        }
    }

    #[test]
    fn an_outage_of_the_one_network_its_country_or_access_type_has_is_inseparable() {
        let truth = |class: EventClass, scope: TruthScope| Truth {
            class,
            scope,
            start: 0,
            end: 10,
        };
        let asn = |asn: u32| TruthScope::Asn {
            country: "XA".to_owned(),
            asn,
        };
        // AS1 carries every mobile probe; AS2 and AS3 are fixed.
        let mut probes = vec![
            probe("a", 1, "north"),
            probe("b", 1, "south"),
            probe("c", 2, "north"),
            probe("d", 3, "south"),
        ];
        for p in &mut probes[..2] {
            p.access = AccessType::Mobile;
        }
        let mobile = TruthScope::Access {
            country: "XA".to_owned(),
            access: AccessType::Mobile,
        };
        assert!(inseparable(&truth(EventClass::NetworkFailure, asn(1)), &probes));
        assert!(inseparable(&truth(EventClass::Shutdown, mobile), &probes));
        // A fixed network beside another fixed one, a cut of several networks, and a blackout are told apart.
        assert!(!inseparable(&truth(EventClass::NetworkFailure, asn(2)), &probes));
        let country = TruthScope::Country {
            country: "XA".to_owned(),
        };
        assert!(!inseparable(&truth(EventClass::Shutdown, country.clone()), &probes));
        assert!(!inseparable(&truth(EventClass::PowerOutage, asn(1)), &probes));
        // A country watched through one network only: its failure and a national cut look the same.
        let alone = [probe("a", 1, "north"), probe("b", 1, "south")];
        assert!(inseparable(&truth(EventClass::Shutdown, country), &alone));
        assert!(inseparable(&truth(EventClass::NetworkFailure, asn(1)), &alone));
    }

    #[test]
    fn scopes_holding_the_same_probes_are_one_claim_and_others_are_not() {
        // Region "north" is served by AS1 alone; region "south" by AS2 and AS3.
        let probes = [
            probe("a", 1, "north"),
            probe("b", 1, "north"),
            probe("c", 2, "south"),
            probe("d", 3, "south"),
        ];
        let asn = |asn: u32| {
            event(EventScope {
                level: "asn".to_owned(),
                country: Some("XA".to_owned()),
                asn: Some(asn),
                ..EventScope::default()
            })
        };
        let north = TruthScope::Region {
            country: "XA".to_owned(),
            region: "north".to_owned(),
        };
        let south = TruthScope::Region {
            country: "XA".to_owned(),
            region: "south".to_owned(),
        };
        assert!(same_scope(&asn(1), &north, &probes));
        assert!(!same_scope(&asn(2), &south, &probes));
        assert!(!same_scope(&asn(1), &south, &probes));
        let country = event(EventScope {
            level: "country".to_owned(),
            country: Some("XA".to_owned()),
            ..EventScope::default()
        });
        assert!(!same_scope(&country, &north, &probes));
        assert!(same_scope(
            &country,
            &TruthScope::Country {
                country: "XA".to_owned()
            },
            &probes
        ));
        // A scope holding no probe matches nothing.
        assert!(!same_scope(
            &asn(9),
            &TruthScope::Asn {
                country: "XA".to_owned(),
                asn: 9
            },
            &probes
        ));
    }

    fn call(model: f64, right: bool) -> Call {
        Call {
            class: "shutdown".to_owned(),
            confidence: model,
            model: Some(model),
            level: ConfidenceLevel::Medium,
            right,
        }
    }

    #[test]
    fn a_band_of_few_events_is_judged_by_its_interval() {
        // Wilson's interval for 8 of 10: about 0.49 to 0.94 (Brown, Cai & DasGupta 2001, table values).
        let (low, high) = wilson_interval(8, 10);
        assert!(
            (low - 0.490).abs() < 0.002 && (high - 0.943).abs() < 0.002,
            "{low} {high}"
        );
        assert_eq!(wilson_interval(0, 0), (0.0, 1.0));
        let band = |events: usize, right: usize, stated: f64| Band {
            from: 0.7,
            to: 0.85,
            events,
            stated,
            right: right as f64 / events as f64,
            right_interval: wilson_interval(right, events),
        };
        // 2 of 2 right at a stated 0.66: too few to say it missed.
        assert!(band(2, 2, 0.66).within_ten_points());
        // 200 of 200 right at a stated 0.66: it missed.
        assert!(!band(200, 200, 0.66).within_ten_points());
        // 160 of 200 at 0.80: met.
        assert!(band(200, 160, 0.80).within_ten_points());
    }

    #[test]
    fn the_calibration_fit_never_falls_as_the_model_grows_surer() {
        // 0.55: 3 of 4 right; 0.65: 1 of 2 (below the bin before it: pooled with it to 4 of 6); 0.97: 2 of 2.
        let calls = [
            call(0.55, true),
            call(0.55, true),
            call(0.55, true),
            call(0.55, false),
            call(0.65, true),
            call(0.65, false),
            call(0.97, true),
            call(0.97, true),
        ];
        let bins = calibration_bins(&calls);
        let shape: Vec<(usize, f64)> = bins.iter().map(|b| (b.calls, b.right)).collect();
        assert_eq!(shape, vec![(4, 0.75), (2, 0.5), (2, 1.0)]);
        let fitted: Vec<f64> = bins.iter().map(|b| b.fitted).collect();
        assert!((fitted[0] - 4.0 / 6.0).abs() < 1e-9 && (fitted[1] - 4.0 / 6.0).abs() < 1e-9);
        assert!((fitted[2] - 1.0).abs() < 1e-9);
        // Calls not from the model are not binned.
        let mut other = call(0.9, false);
        other.model = None;
        assert_eq!(calibration_bins(&[other]), Vec::new());
    }
}
