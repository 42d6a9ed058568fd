//! Per-probe ingest rate limits: batches and measurements per minute, each a GCRA limiter keyed by probe id
//! (`governor`), bursting up to a minute's quota. A probe over its quota gets 429 with the seconds until it may
//! send again; its spool keeps the data. Quotas are generous enough for a probe draining days of spooled
//! measurements after a cut, and stop one stolen token from flooding the store.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Why a probe must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// Too many batches this minute.
    Batches {
        /// Until the next batch is allowed.
        wait: Duration,
    },
    /// Too many measurements this minute.
    Measurements {
        /// Until this batch's measurements fit.
        wait: Duration,
    },
    /// The batch alone holds more measurements than a minute allows.
    BatchLargerThanQuota {
        /// The per-minute quota.
        quota: u32,
    },
}

/// The limiters; `None` where the limit is off (0 in the configuration).
pub struct ProbeLimits {
    batches: Option<DefaultKeyedRateLimiter<String>>,
    measurements: Option<(DefaultKeyedRateLimiter<String>, u32)>,
    clock: DefaultClock,
}

impl std::fmt::Debug for ProbeLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeLimits")
            .field("batches", &self.batches.is_some())
            .field("measurements", &self.measurements.as_ref().map(|m| m.1))
            .finish()
    }
}

impl ProbeLimits {
    /// Limits of `batches_per_minute` and `measurements_per_minute` per probe (0: unlimited).
    pub fn new(batches_per_minute: u32, measurements_per_minute: u32) -> Self {
        ProbeLimits {
            batches: NonZeroU32::new(batches_per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            measurements: NonZeroU32::new(measurements_per_minute)
                .map(|n| (RateLimiter::keyed(Quota::per_minute(n)), n.get())),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one batch from `probe`.
    pub fn batch(&self, probe: &str) -> Result<(), Exceeded> {
        let Some(limiter) = &self.batches else {
            return Ok(());
        };
        limiter
            .check_key(&probe.to_owned())
            .map_err(|not_until| Exceeded::Batches {
                wait: not_until.wait_time_from(self.clock.now()),
            })
    }

    /// Counts `count` measurements from `probe`.
    pub fn measurements(&self, probe: &str, count: usize) -> Result<(), Exceeded> {
        let (Some((limiter, quota)), Some(n)) = (
            &self.measurements,
            NonZeroU32::new(u32::try_from(count).unwrap_or(u32::MAX)),
        ) else {
            return Ok(());
        };
        match limiter.check_key_n(&probe.to_owned(), n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Exceeded::Measurements {
                wait: not_until.wait_time_from(self.clock.now()),
            }),
            Err(_) => Err(Exceeded::BatchLargerThanQuota { quota: *quota }),
        }
    }

    /// Forgets probes idle long enough to be back at full quota (bounds the limiters' memory).
    pub fn forget_idle(&self) {
        if let Some(l) = &self.batches {
            l.retain_recent();
        }
        if let Some((l, _)) = &self.measurements {
            l.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_probe_has_its_own_quota() {
        let limits = ProbeLimits::new(2, 0);
        assert!(limits.batch("a").is_ok() && limits.batch("a").is_ok());
        let Err(Exceeded::Batches { wait }) = limits.batch("a") else {
            panic!("the third batch in a minute is over the quota");
        };
        assert!(
            wait > Duration::from_secs(20) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert!(limits.batch("b").is_ok(), "another probe is not affected");
    }

    #[test]
    fn measurements_are_counted_by_the_batch() {
        let limits = ProbeLimits::new(0, 100);
        assert!(limits.measurements("a", 60).is_ok());
        assert!(matches!(
            limits.measurements("a", 60),
            Err(Exceeded::Measurements { .. })
        ));
        assert!(
            limits.measurements("a", 40).is_ok(),
            "what is left of the minute's quota"
        );
        assert_eq!(
            limits.measurements("b", 101),
            Err(Exceeded::BatchLargerThanQuota { quota: 100 })
        );
    }

    #[test]
    fn zero_means_unlimited() {
        let limits = ProbeLimits::new(0, 0);
        for _ in 0..1000 {
            assert!(limits.batch("a").is_ok() && limits.measurements("a", 10_000).is_ok());
        }
    }
}
