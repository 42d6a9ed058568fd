//! The daily data budget for test-list checks (`[probe] daily_budget_mb`): volunteers on metered links must
//! never be surprised by a bill. Usage is counted per UTC day and kept in `budget.json` in the state directory,
//! so a restart does not reset it. Vitals and anchors are never counted against it and never paused.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Bytes spent today by test-list checks, and the limit.
#[derive(Debug, Clone)]
pub struct DataBudget {
    path: Option<PathBuf>,
    limit: u64,
    state: Usage,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Usage {
    day: NaiveDate,
    bytes: u64,
}

impl DataBudget {
    /// A budget of `limit_bytes` a day, persisted in `state_dir/budget.json` (loaded if present and for today).
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
        }
    }

    fn roll_over(&mut self, today: NaiveDate) {
        if self.state.day != today {
            self.state = Usage { day: today, bytes: 0 };
        }
    }

    /// Whether today's budget is spent.
    pub fn exhausted(&mut self) -> bool {
        self.exhausted_on(Utc::now().date_naive())
    }

    /// Whether the budget is spent on `day` (a new day starts afresh).
    pub fn exhausted_on(&mut self, day: NaiveDate) -> bool {
        self.roll_over(day);
        self.state.bytes >= self.limit
    }

    /// Counts bytes spent today.
    pub fn spend(&mut self, bytes: u64) {
        self.roll_over(Utc::now().date_naive());
        self.state.bytes = self.state.bytes.saturating_add(bytes);
    }

    /// Bytes spent today.
    pub fn spent(&self) -> u64 {
        self.state.bytes
    }

    /// Writes the usage to disk (atomically: a temporary file renamed over the old one).
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&self.state).map_err(std::io::Error::other)?)?;
        std::fs::rename(tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spending_survives_a_restart_and_resets_the_next_day() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut budget = DataBudget::open(dir.path(), 1000);
        budget.spend(600);
        assert!(!budget.exhausted());
        budget.save().expect("save");
        let mut again = DataBudget::open(dir.path(), 1000);
        assert_eq!(again.spent(), 600);
        again.spend(400);
        assert!(again.exhausted());
        let tomorrow = Utc::now().date_naive().succ_opt().expect("a next day");
        assert!(!again.exhausted_on(tomorrow));
        assert_eq!(again.spent(), 0);
    }
}
