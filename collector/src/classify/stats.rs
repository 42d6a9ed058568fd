//! The correlated-failure test (CLASSIFICATION.md §5.3): how unlikely it is that `k` or more of a scope's probes
//! are down together if each fails independently at its own baseline rate.

/// Work budget (probes × k) for the exact computation; beyond it the Chernoff bound is used.
const EXACT_BUDGET: usize = 4_000_000;

/// `P(X ≥ k)` for `X` the number of successes of independent Bernoulli(`p[i]`) trials (Poisson-binomial).
///
/// Exact (dynamic programming truncated at `k`) within [`EXACT_BUDGET`]; beyond it the Chernoff bound
/// `e^{-μ} (eμ/k)^k`, which never underestimates the tail, so the test can only become more conservative.
/// (A normal approximation, the textbook shortcut, underestimates far tails by an order of magnitude when the
/// mean is small — exactly the case here — and would raise false alarms.)
pub fn tail_at_least(p: &[f64], k: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > p.len() {
        return 0.0;
    }
    let mean: f64 = p.iter().sum();
    if p.len().saturating_mul(k) <= EXACT_BUDGET {
        // dist[j] = P(exactly j successes so far) for j < k; dist[k] = P(at least k).
        let mut dist = vec![0.0f64; k + 1];
        dist[0] = 1.0;
        for &pi in p {
            dist[k] += dist[k - 1] * pi;
            for j in (1..k).rev() {
                dist[j] = dist[j] * (1.0 - pi) + dist[j - 1] * pi;
            }
            dist[0] *= 1.0 - pi;
        }
        return dist[k].clamp(0.0, 1.0);
    }
    let k = k as f64;
    if k <= mean {
        return 1.0;
    }
    (-mean + k * (std::f64::consts::E * mean / k).ln())
        .exp()
        .clamp(0.0, 1.0)
}

/// A probe's baseline probability of being down in a bucket: its record so far with a prior of 1 in 100,
/// kept within [0.001, 0.2] so neither a perfect nor a flaky history dominates the test.
pub fn baseline(down_buckets: u32, observed_buckets: u32) -> f64 {
    ((f64::from(down_buckets) + 1.0) / (f64::from(observed_buckets) + 100.0)).clamp(0.001, 0.2)
}

/// The chance, before any record, that a probe down on its own in one bucket is still down in the next: 0.9, a
/// run of ten buckets on average. A volunteer's probe goes down on its own for as long as a router's reboot or
/// a night's maintenance; the prior leans to long runs, so that a run of buckets down together is evidence only
/// where the probes' own records show their lone failures end sooner.
const PRIOR_STAY: f64 = 0.9;
/// How many buckets' worth of record the prior [`PRIOR_STAY`] weighs: ten, so that a probe's first few flaps
/// move it without deciding it.
const PRIOR_STAY_WEIGHT: f64 = 10.0;
/// The most a probe's record may make of its chance to stay down: never certain.
const MAX_STAY: f64 = 0.99;

/// A probe's record outside correlated outages, bucket by bucket: its baseline chance of being down in a bucket
/// and of staying down into the next are read from it, as it stands now or as it stood before a given bucket. A
/// bucket later found to belong to an outage (a run of buckets down together, which the test sees only once it
/// has lasted) is taken out again.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Per bucket so far: whether it was counted, and if so whether the probe was down.
    counted: Vec<Option<bool>>,
    /// `totals[t]`: the tally of the buckets before `t`.
    totals: Vec<Tally>,
}

/// Counts over a span of a probe's record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    down: u32,
    observed: u32,
    /// Counted buckets down whose next bucket was counted too, and how many of those stayed down.
    pairs: u32,
    stays: u32,
}

impl Tally {
    /// The tally with bucket `down` added, `before` being how the bucket before it was counted.
    fn and(self, down: Option<bool>, before: Option<bool>) -> Tally {
        let Some(down) = down else { return self };
        let pair = before == Some(true);
        Tally {
            down: self.down + u32::from(down),
            observed: self.observed + 1,
            pairs: self.pairs + u32::from(pair),
            stays: self.stays + u32::from(pair && down),
        }
    }
}

impl History {
    /// An empty record.
    pub fn new() -> Self {
        History {
            counted: Vec::new(),
            totals: vec![Tally::default()],
        }
    }

    /// Adds the next bucket: `Some(down)` when it counts, `None` when it does not (the probe not expected, or in
    /// an outage).
    pub fn push(&mut self, down: Option<bool>) {
        let before = self.counted.last().copied().flatten();
        let last = self.totals.last().copied().unwrap_or_default();
        self.totals.push(last.and(down, before));
        self.counted.push(down);
    }

    /// Takes bucket `t` out of the record (it belonged to an outage after all).
    pub fn uncount(&mut self, t: usize) {
        if self.counted.get_mut(t).and_then(Option::take).is_none() {
            return;
        }
        let mut tally = Tally::default();
        self.totals = vec![tally];
        for (i, &down) in self.counted.iter().enumerate() {
            let before = i.checked_sub(1).and_then(|b| self.counted[b]);
            tally = tally.and(down, before);
            self.totals.push(tally);
        }
    }

    fn tally_before(&self, t: usize) -> Tally {
        self.totals[t.min(self.totals.len() - 1)]
    }

    /// The chance of being down in a bucket ([`baseline`]), from the whole record.
    pub fn down_rate(&self) -> f64 {
        let t = self.tally_before(usize::MAX);
        baseline(t.down, t.observed)
    }

    /// The chance of being down on its own in each of `run` consecutive buckets, from the record before bucket
    /// `since` (a run under test must not make itself look usual): down in the first, and staying down `run − 1`
    /// times (a two-state Markov chain, the probes independent of each other); the chance of staying down is the
    /// record's with the prior [`PRIOR_STAY`].
    pub fn down_for(&self, run: usize, since: usize) -> f64 {
        let t = self.tally_before(since);
        let stay = ((f64::from(t.stays) + PRIOR_STAY * PRIOR_STAY_WEIGHT) / (f64::from(t.pairs) + PRIOR_STAY_WEIGHT))
            .min(MAX_STAY);
        let stays = i32::try_from(run.saturating_sub(1)).unwrap_or(i32::MAX);
        baseline(t.down, t.observed) * stay.powi(stays)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_tail_matches_the_binomial() {
        // Three probes at 1%: all three down is 1e-6, at least two is about 3e-4.
        let p = [0.01; 3];
        assert!((tail_at_least(&p, 3) - 1e-6).abs() < 1e-12);
        assert!((tail_at_least(&p, 2) - 2.98e-4).abs() < 1e-6);
        assert_eq!(tail_at_least(&p, 0), 1.0);
        assert_eq!(tail_at_least(&p, 4), 0.0);
    }

    #[test]
    fn the_bound_used_for_large_scopes_never_underestimates_the_exact_tail() {
        let p: Vec<f64> = (0..2000).map(|i| 0.01 + 0.0001 * f64::from(i % 7)).collect();
        for k in [25, 40, 60] {
            let exact = tail_at_least(&p, k);
            let mean: f64 = p.iter().sum();
            let kf = k as f64;
            let bound = (-mean + kf * (std::f64::consts::E * mean / kf).ln()).exp();
            assert!(bound >= exact, "k={k}: bound {bound} < exact {exact}");
        }
        // And a scope too large for the exact computation still gets a sensible answer.
        let big = vec![0.01; 20_000];
        assert!(tail_at_least(&big, 400) < 1e-20);
        assert!(
            tail_at_least(&big, 100) > 0.99,
            "k below the mean is no evidence at all"
        );
    }

    fn record(downs: impl IntoIterator<Item = Option<bool>>) -> History {
        let mut h = History::new();
        for d in downs {
            h.push(d);
        }
        h
    }

    #[test]
    fn a_record_of_short_lone_failures_makes_a_long_run_down_unlikely() {
        // Down one bucket in ten, each time for one bucket only.
        let flappy = record((0..200).map(|t| Some(t % 10 == 0)));
        let rate = 21.0 / 300.0;
        assert!((flappy.down_rate() - rate).abs() < 1e-12);
        assert!((flappy.down_for(1, 200) - rate).abs() < 1e-12);
        // 20 pairs starting down, none stayed: (0 + 9) / (20 + 10) = 0.3 a bucket.
        assert!((flappy.down_for(3, 200) - rate * 0.09).abs() < 1e-12);
        // With no record the prior speaks: long runs are expected.
        let fresh = record([]);
        assert!((fresh.down_for(2, 0) - 0.01 * PRIOR_STAY).abs() < 1e-12);
        // A record of long lone outages keeps a long run likelier than the prior does.
        let sleepy = record((0..100).map(|t| Some((20..60).contains(&t))));
        assert!(sleepy.down_for(5, 100) / sleepy.down_for(4, 100) > PRIOR_STAY);
        assert!(sleepy.down_for(5, 100) / sleepy.down_for(4, 100) <= MAX_STAY);
    }

    #[test]
    fn a_run_is_judged_on_the_record_from_before_it() {
        // Up 50 buckets, then down 30 and still down: the record before the run knows no failure.
        let h = record((0..80).map(|t| Some(t >= 50)));
        let quiet = record((0..50).map(|_| Some(false)));
        assert!((h.down_for(30, 50) - quiet.down_for(30, 50)).abs() < 1e-15);
        assert!(h.down_for(30, 80) > 100.0 * h.down_for(30, 50));
    }

    #[test]
    fn a_bucket_taken_out_of_the_record_leaves_it_as_if_never_counted() {
        let mut taken = record([false, true, true, true, false, false].map(Some));
        let never = record([Some(false), Some(true), None, Some(true), Some(false), Some(false)]);
        taken.uncount(2);
        assert_eq!(taken.totals, never.totals);
        // Taking out a bucket never counted changes nothing.
        taken.uncount(2);
        assert_eq!(taken.totals, never.totals);
    }

    #[test]
    fn baselines_start_at_one_percent_and_stay_bounded() {
        assert!((baseline(0, 0) - 0.01).abs() < 1e-12);
        assert_eq!(baseline(0, 100_000), 0.001);
        assert_eq!(baseline(500, 600), 0.2);
    }
}
