//! The daily data budget (`[probe] daily_budget_mb`): volunteers on metered links must never be surprised by a
//! bill. It spends what the probe's sockets really carried ([`crate::traffic`]: every check, anchors and vitals
//! included, TLS handshakes, redirects, traces and uploads), counted per UTC day and kept in `budget.json` in the
//! state directory — saved as it is spent (at most a second behind), so neither a restart nor a crash resets it.
//!
//! Only test lists pause: a list check starts only when the day's spent bytes, plus the cap of every list check
//! already in flight and of this one, stay within the budget ([`DataBudget::can_start`]), so the lists never take
//! the day past its budget by more than what checks already running had reserved. Vitals and anchors are
//! counted against it and never paused.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// How often the usage is written while bytes are being spent.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Bytes spent today, and the limit.
#[derive(Debug, Clone)]
pub struct DataBudget {
    path: Option<PathBuf>,
    limit: u64,
    state: Usage,
    /// The process's traffic total when `state` was last brought up to date.
    counted_at: u64,
    saved_at: Option<Instant>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Usage {
    day: NaiveDate,
    bytes: u64,
}

impl DataBudget {
    /// A budget of `limit_bytes` a day, persisted in `state_dir/budget.json` (loaded if present and for today).
    /// It counts the process's traffic from now on.
    pub fn open(state_dir: &Path, limit_bytes: u64) -> Self {
        let path = state_dir.join("budget.json");
        let today = Utc::now().date_naive();
        let state = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Usage>(&b).ok())
            .filter(|u| u.day == today)
            .unwrap_or(Usage { day: today, bytes: 0 });
        DataBudget {
            path: Some(path),
            limit: limit_bytes,
            state,
            counted_at: crate::traffic::total(),
            saved_at: None,
        }
    }

    /// A budget kept in memory only (for `vigil-probe once`).
    pub fn in_memory(limit_bytes: u64) -> Self {
        DataBudget {
            path: None,
            limit: limit_bytes,
            state: Usage {
                day: Utc::now().date_naive(),
                bytes: 0,
            },
            counted_at: crate::traffic::total(),
            saved_at: None,
        }
    }

    /// Brings the usage up to date with the traffic counted since, on `day` (a new day starts afresh).
    fn sync_on(&mut self, day: NaiveDate) {
        let total = crate::traffic::total();
        let new = total.saturating_sub(self.counted_at);
        self.counted_at = total;
        if self.state.day != day {
            self.state = Usage { day, bytes: 0 };
        }
        self.state.bytes = self.state.bytes.saturating_add(new);
    }

    /// Whether today's budget is spent.
    #[cfg(test)]
    pub fn exhausted(&mut self) -> bool {
        self.exhausted_on(Utc::now().date_naive())
    }

    /// Whether the budget is spent on `day` (a new day starts afresh).
    #[cfg(test)]
    pub fn exhausted_on(&mut self, day: NaiveDate) -> bool {
        self.sync_on(day);
        self.state.bytes >= self.limit
    }

    /// Whether one more check capped at `cap` bytes may start while `in_flight` others of the same cap run:
    /// only if all of them, at their caps, stay within today's budget.
    pub fn can_start(&mut self, cap: u64, in_flight: u64) -> bool {
        self.sync_on(Utc::now().date_naive());
        let reserved = cap.saturating_mul(in_flight.saturating_add(1));
        self.state.bytes.saturating_add(reserved) <= self.limit
    }

    /// Counts bytes the traffic counter did not see.
    #[cfg(test)]
    pub fn spend(&mut self, bytes: u64) {
        self.sync_on(Utc::now().date_naive());
        self.state.bytes = self.state.bytes.saturating_add(bytes);
    }

    /// Bytes spent today.
    pub fn spent(&mut self) -> u64 {
        self.sync_on(Utc::now().date_naive());
        self.state.bytes
    }

    /// The day's limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Writes the usage to disk (atomically: a temporary file renamed over the old one).
    pub fn save(&mut self) -> std::io::Result<()> {
        self.sync_on(Utc::now().date_naive());
        self.saved_at = Some(Instant::now());
        let Some(path) = &self.path else { return Ok(()) };
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&self.state).map_err(std::io::Error::other)?)?;
        std::fs::rename(tmp, path)
    }

    /// Saves when the last save is more than a second old (called as bytes are spent).
    pub fn save_if_due(&mut self) -> std::io::Result<()> {
        if self.saved_at.is_none_or(|t| t.elapsed() >= SAVE_EVERY) {
            self.save()
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spending_survives_a_restart_and_resets_the_next_day() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut budget = DataBudget::open(dir.path(), 1_000_000_000);
        budget.spend(600_000_000);
        assert!(!budget.exhausted());
        budget.save().expect("save");
        let mut again = DataBudget::open(dir.path(), 1_000_000_000);
        assert!(again.spent() >= 600_000_000);
        again.spend(400_000_000);
        assert!(again.exhausted());
        let tomorrow = Utc::now().date_naive().succ_opt().expect("a next day");
        assert!(!again.exhausted_on(tomorrow));
        assert!(again.spent() < 1_000_000);
    }

    #[test]
    fn a_check_starts_only_if_every_check_in_flight_fits_at_its_cap() {
        let mut budget = DataBudget::in_memory(1_000_000_000);
        budget.spend(100_000_000);
        assert!(budget.can_start(400_000_000, 0));
        assert!(budget.can_start(400_000_000, 1));
        assert!(
            !budget.can_start(400_000_000, 2),
            "three at their caps would pass the budget"
        );
    }

    #[test]
    fn the_traffic_counter_is_what_is_spent() {
        let mut budget = DataBudget::in_memory(u64::MAX);
        let before = budget.spent();
        crate::traffic::count_wire(12_345);
        assert!(budget.spent() >= before + 12_345);
    }
}
