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

    #[test]
    fn baselines_start_at_one_percent_and_stay_bounded() {
        assert!((baseline(0, 0) - 0.01).abs() < 1e-12);
        assert_eq!(baseline(0, 100_000), 0.001);
        assert_eq!(baseline(500, 600), 0.2);
    }
}
