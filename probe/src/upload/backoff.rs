//! Waiting between failed uploads: exponential backoff with full jitter (a uniformly random wait between zero
//! and the exponential bound), so thousands of probes coming back after a cut do not hit the collector in step.
//! A collector's `Retry-After` is honoured as the floor.

use std::time::Duration;

/// Backoff state for one uploader.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    /// Starts at `base`, doubling per failure up to `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap: cap.max(base),
            failures: 0,
        }
    }

    /// The bound for the next wait: `min(cap, base × 2^failures)`.
    pub fn bound(&self) -> Duration {
        let factor = 1u32.checked_shl(self.failures.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Records a failure and returns how long to wait: uniform in `[0, bound]`, at least `retry_after`.
    pub fn fail(&mut self, retry_after: Option<Duration>) -> Duration {
        let bound = self.bound();
        self.failures = self.failures.saturating_add(1);
        let jittered = bound.mul_f64(fastrand::f64());
        match retry_after {
            // Spread the retries of probes told the same Retry-After over up to one more second.
            Some(floor) => floor.min(self.cap) + Duration::from_millis(fastrand::u64(0..1000)),
            None => jittered,
        }
    }

    /// Records a success: the next failure starts from `base` again.
    pub fn succeed(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failures so far.
    #[cfg(test)]
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_stay_within_a_doubling_capped_bound() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        for expected_bound in [1, 2, 4, 8, 16, 32, 60, 60, 60] {
            assert_eq!(b.bound(), Duration::from_secs(expected_bound));
            let wait = b.fail(None);
            assert!(wait <= Duration::from_secs(expected_bound), "{wait:?}");
        }
        b.succeed();
        assert_eq!((b.bound(), b.failures()), (Duration::from_secs(1), 0));
    }

    #[test]
    fn full_jitter_spreads_waits_over_the_whole_range() {
        let mut low = false;
        let mut high = false;
        for _ in 0..200 {
            let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(10));
            let wait = b.fail(None);
            low |= wait < Duration::from_secs(3);
            high |= wait > Duration::from_secs(7);
        }
        assert!(low && high, "200 draws never left the middle of the range");
    }

    #[test]
    fn retry_after_is_a_floor_within_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(600));
        let wait = b.fail(Some(Duration::from_secs(30)));
        assert!(
            wait >= Duration::from_secs(30) && wait < Duration::from_secs(31),
            "{wait:?}"
        );
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(20));
        assert!(b.fail(Some(Duration::from_secs(3600))) < Duration::from_secs(21));
    }
}
