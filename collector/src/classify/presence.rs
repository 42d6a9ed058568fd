//! Presence-only probes — a third-party platform's connection log (RIPE Atlas) — bucket by bucket.
//!
//! A log says when each probe was connected, over the span it covers, and nothing else: no vitals, no paths.
//! What a bucket of it means here:
//! - outside every covered span, or before the probe is first seen connected in its span, the probe is
//!   *unknown*: not expected, neither up nor down (RIPE logs changes only; a probe whose first event is a
//!   `connect` was away for an unknown time before);
//! - it is *away* when an absence that lasts at least [`SUSTAINED_BUCKETS`] buckets covers at least half of
//!   the bucket;
//! - otherwise it is *present*: shorter absences are the platform's churn, not outages. On the three RIPE Atlas
//!   dev days 10,000–20,000 disconnections a day among ~1,800 probes have a median absence of 5 minutes
//!   (EVALUATION.md), the "brief reconnect" bursts among them; CLASSIFICATION.md §5.2 likewise calls a probe
//!   down only after several missed heartbeats.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::model::Bucket;
use crate::model::PresenceLog;

/// How long an absence must last, in buckets, to count: two buckets (ten minutes at the default five) — the
/// issue's "stays away ≥ 2 buckets", and about twice the dev days' median absence of five minutes.
pub const SUSTAINED_BUCKETS: i64 = 2;

/// A presence-only probe in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceState {
    /// Not expected: outside the log, or before the probe was first seen connected in it.
    Unknown,
    /// Connected, or away only briefly.
    Present,
    /// Away for most of the bucket, in an absence of at least [`SUSTAINED_BUCKETS`].
    Away,
}

/// One presence-only probe over a window: a state per bucket, and for each absence that makes it away, the
/// platform server (controller) it was connected to when it left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbePresence {
    /// One state per bucket of the window.
    pub states: Vec<PresenceState>,
    /// Per bucket offset where an absence begins to count: the controller named at the disconnection.
    pub onsets: BTreeMap<usize, Option<String>>,
}

/// Covered spans merged into disjoint, sorted intervals (ms).
fn coverage(log: &PresenceLog) -> Vec<(i64, i64)> {
    let mut spans: Vec<(i64, i64)> = log.spans.iter().map(|s| (s.from_ms, s.to_ms)).collect();
    spans.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::new();
    for (from, to) in spans {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// Milliseconds of `[from, to)` inside `[a, b)`.
fn overlap(from: i64, to: i64, a: i64, b: i64) -> i64 {
    (to.min(b) - from.max(a)).max(0)
}

/// Each presence-only probe of `log` over `buckets`.
pub fn presence_states(log: &PresenceLog, buckets: Range<Bucket>, bucket_secs: i64) -> BTreeMap<String, ProbePresence> {
    let bucket_ms = bucket_secs.max(1) * 1000;
    let n = usize::try_from(buckets.end - buckets.start).unwrap_or(0);
    let blocks = coverage(log);
    let block_of = |t: i64| blocks.iter().copied().find(|(a, b)| *a <= t && t < *b);
    let mut by_probe: BTreeMap<&str, Vec<&crate::model::PresenceSession>> = BTreeMap::new();
    for s in &log.sessions {
        by_probe.entry(s.probe_id.as_str()).or_default().push(s);
    }
    let mut out = BTreeMap::new();
    for (probe, mut sessions) in by_probe {
        sessions.sort_by_key(|s| s.connected_ms);
        // Per covered block the probe appears in: when it is known (from its first connection on) and its
        // sustained absences within that, with the controller each began on.
        let mut known: Vec<(i64, i64)> = Vec::new();
        let mut away: Vec<(i64, i64, Option<&str>)> = Vec::new();
        let mut i = 0;
        while i < sessions.len() {
            let Some((_, block_end)) = block_of(sessions[i].connected_ms) else {
                i += 1;
                continue;
            };
            let first = sessions[i].connected_ms;
            let mut left: Option<(i64, Option<&str>)> = None;
            while i < sessions.len() && sessions[i].connected_ms < block_end {
                let s = sessions[i];
                if let Some((since, controller)) = left.take() {
                    away.push((since, s.connected_ms, controller));
                }
                if let Some(end) = s.disconnected_ms.filter(|d| *d < block_end) {
                    left = Some((end, s.controller.as_deref()));
                }
                i += 1;
            }
            // Away when the log ends: an absence of at least its length so far.
            if let Some((since, controller)) = left {
                away.push((since, block_end, controller));
            }
            known.push((first, block_end));
        }
        away.retain(|(from, to, _)| to - from >= SUSTAINED_BUCKETS * bucket_ms);
        let mut presence = ProbePresence {
            states: vec![PresenceState::Unknown; n],
            onsets: BTreeMap::new(),
        };
        for (t, state) in presence.states.iter_mut().enumerate() {
            let start = (buckets.start + t as i64) * bucket_ms;
            let end = start + bucket_ms;
            let known_ms: i64 = known.iter().map(|(a, b)| overlap(start, end, *a, *b)).sum();
            if 2 * known_ms < bucket_ms {
                continue;
            }
            let away_ms: i64 = away.iter().map(|(a, b, _)| overlap(start, end, *a, *b)).sum();
            *state = if 2 * away_ms >= bucket_ms {
                PresenceState::Away
            } else {
                PresenceState::Present
            };
        }
        for (from, _, controller) in &away {
            let first_away = (0..n).find(|&t| {
                let start = (buckets.start + t as i64) * bucket_ms;
                start + bucket_ms > *from && presence.states[t] == PresenceState::Away
            });
            if let Some(t) = first_away {
                presence.onsets.insert(t, controller.map(str::to_owned));
            }
        }
        out.insert(probe.to_owned(), presence);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PresenceSession, PresenceSpan};

    const MIN: i64 = 60_000;

    fn session(from: i64, to: Option<i64>, controller: &str) -> PresenceSession {
        PresenceSession {
            probe_id: "atlas-1".to_owned(),
            connected_ms: from * MIN,
            disconnected_ms: to.map(|t| t * MIN),
            controller: Some(controller.to_owned()),
        }
    }

    fn log(sessions: Vec<PresenceSession>) -> PresenceLog {
        PresenceLog {
            spans: vec![PresenceSpan {
                source: "ripe-atlas".to_owned(),
                from_ms: 0,
                to_ms: 120 * MIN,
            }],
            sessions,
        }
    }

    fn states(log: &PresenceLog, buckets: Range<Bucket>) -> String {
        let p = presence_states(log, buckets, 300);
        p["atlas-1"]
            .states
            .iter()
            .map(|s| match s {
                PresenceState::Unknown => '?',
                PresenceState::Present => '+',
                PresenceState::Away => '-',
            })
            .collect()
    }

    #[test]
    fn brief_absences_are_churn_and_long_ones_count_from_the_bucket_they_fill() {
        // Away 3 minutes at 10, then 22 minutes from 31 to 53; connected till the log ends at 120.
        let l = log(vec![
            session(0, Some(10), "ctr-a"),
            session(13, Some(31), "ctr-b"),
            session(53, None, "ctr-c"),
        ]);
        assert_eq!(states(&l, 0..24), "++++++-----+++++++++++++");
        let p = presence_states(&l, 0..24, 300);
        assert_eq!(p["atlas-1"].onsets, BTreeMap::from([(6, Some("ctr-b".to_owned()))]));
    }

    #[test]
    fn before_its_first_connection_and_outside_the_log_a_probe_is_unknown() {
        // First seen connecting at 40: away before for an unknown time. The log ends at 120.
        let l = log(vec![session(40, Some(100), "ctr-a")]);
        assert_eq!(states(&l, 0..26), "????????++++++++++++----??");
    }

    #[test]
    fn a_log_opening_on_a_disconnection_knows_the_probe_from_its_start() {
        // The importer gives such a probe a session from the span's start.
        let l = log(vec![session(0, Some(7), "ctr-a"), session(30, None, "ctr-a")]);
        assert_eq!(states(&l, 0..4), "+---");
    }
}
