//! A RIPE Atlas day replayed and judged: import a connection log into a store, classify the span it covers, and
//! compare the events with what a reader of the log can see in it and with Disco's own detections
//! (InternetHealthReport/disco's top events, Fontugne et al., TMA 2017).
//!
//! What a reader can see ([`reference_bursts`]), by the definition the replay is held to: a burst is ≥ 10
//! probes of one ASN disconnecting within two buckets of each other. It is an *outage* when ≥ 10 of them stay
//! away ≥ 2 buckets, and then an ASN-scope event must start within one bucket of its median disconnection and
//! end within one bucket of its median return; otherwise it is a *brief reconnect burst*, which may be reported
//! at low confidence at most.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use super::ripe_atlas::{self, ConnectionEvent, ImportError, ProbePlace};
use crate::analysis::classify_window;
use crate::classify::ClassifierSettings;
use crate::model::{ConfidenceLevel, DisruptionEvent};
use crate::store::{Store, StoreError};

/// Fewest probes of one ASN leaving together for a burst.
pub const BURST_PROBES: usize = 10;

/// A burst a reader of the log can see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferenceBurst {
    /// The network.
    pub asn: u32,
    /// Unix time of the median disconnection of the probes that stayed away (of all, for a brief burst).
    pub start: i64,
    /// Unix time of their median return; `None` when the median probe had not returned when the log ends.
    pub end: Option<i64>,
    /// Probes that left in the burst.
    pub probes: usize,
    /// Of them, probes that stayed away two buckets or more.
    pub stayed: usize,
    /// Whether it is an outage (≥ [`BURST_PROBES`] stayed) rather than a brief reconnect burst.
    pub outage: bool,
}

/// The bursts of a log (sorted by time), for buckets of `bucket_secs`.
pub fn reference_bursts(events: &[ConnectionEvent], bucket_secs: i64) -> Vec<ReferenceBurst> {
    let bucket_secs = bucket_secs.max(1);
    // Per probe: its events in order; per disconnection, when it came back.
    let mut by_probe: BTreeMap<u64, Vec<&ConnectionEvent>> = BTreeMap::new();
    for e in events {
        by_probe.entry(e.prb_id).or_default().push(e);
    }
    let mut asn_of: BTreeMap<u64, u32> = BTreeMap::new();
    // (asn) → [(left, back)]
    let mut leaves: BTreeMap<u32, Vec<(i64, Option<i64>, u64)>> = BTreeMap::new();
    for (prb, list) in &by_probe {
        for e in list {
            if let Some(a) = e.asn {
                asn_of.insert(*prb, a);
            }
        }
        let Some(&asn) = asn_of.get(prb) else { continue };
        for (i, e) in list.iter().enumerate() {
            if e.connect {
                continue;
            }
            // A repeated disconnection is the same absence.
            if i > 0 && !list[i - 1].connect {
                continue;
            }
            let back = list[i + 1..].iter().find(|n| n.connect).map(|n| n.timestamp);
            leaves.entry(asn).or_default().push((e.timestamp, back, *prb));
        }
    }
    let log_end = events.iter().map(|e| e.timestamp).max().unwrap_or(0);
    let mut out = Vec::new();
    for (asn, mut list) in leaves {
        list.sort_unstable();
        let mut i = 0;
        while i < list.len() {
            let window_end = list[i].0 + 2 * bucket_secs;
            let j = list[i..].iter().take_while(|l| l.0 < window_end).count() + i;
            let probes: BTreeSet<u64> = list[i..j].iter().map(|l| l.2).collect();
            if probes.len() < BURST_PROBES {
                i += 1;
                continue;
            }
            let stayed: Vec<&(i64, Option<i64>, u64)> = list[i..j]
                .iter()
                .filter(|(left, back, _)| back.unwrap_or(log_end.max(*left)) - left >= 2 * bucket_secs)
                .collect();
            let outage = stayed.iter().map(|l| l.2).collect::<BTreeSet<u64>>().len() >= BURST_PROBES;
            let timing: Vec<&(i64, Option<i64>, u64)> = if outage {
                stayed.clone()
            } else {
                list[i..j].iter().collect()
            };
            let mut lefts: Vec<i64> = timing.iter().map(|l| l.0).collect();
            lefts.sort_unstable();
            let mut backs: Vec<i64> = timing.iter().map(|l| l.1.unwrap_or(i64::MAX)).collect();
            backs.sort_unstable();
            let end = backs.get(backs.len() / 2).copied().filter(|b| *b != i64::MAX);
            out.push(ReferenceBurst {
                asn,
                start: lefts
                    .get(lefts.len().saturating_sub(1) / 2)
                    .copied()
                    .unwrap_or(list[i].0),
                end,
                probes: probes.len(),
                stayed: stayed.len(),
                outage,
            });
            i = j;
        }
    }
    out.sort_by_key(|b| (b.start, b.asn));
    out
}

/// One of Disco's detections: `id|start|end|set([probe ids])|[streams]|[burst levels]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiscoEvent {
    /// Disco's id.
    pub id: String,
    /// Unix time it began.
    pub start: i64,
    /// Unix time it ended.
    pub end: i64,
    /// Its streams: ASNs, countries, `pid-N`.
    pub streams: Vec<String>,
    /// Probes in it.
    pub probes: usize,
}

/// Reads Disco's top-events file; lines that do not parse are skipped.
pub fn parse_disco_events(text: &str) -> Vec<DiscoEvent> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.trim().split('|').collect();
            if f.len() < 5 {
                return None;
            }
            let time = |s: &str| s.trim().parse::<f64>().ok().map(|t| t as i64);
            let streams = f[4]
                .trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .map(|s| s.trim().trim_matches('\'').to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            Some(DiscoEvent {
                id: f[0].trim().to_owned(),
                start: time(f[1])?,
                end: time(f[2])?,
                streams,
                probes: f[3].matches(',').count() + 1,
            })
        })
        .collect()
}

/// One event of the replay at ASN scope or wider, and what it matches.
#[derive(Debug, Clone, Serialize)]
pub struct JudgedEvent {
    /// The event.
    pub event: DisruptionEvent,
    /// The reference burst it matches (same ASN, start within one bucket).
    pub burst: Option<ReferenceBurst>,
    /// Whether its start and end are both within one bucket of the burst's.
    pub timed: bool,
    /// Disco's detections it overlaps (same ASN or country among their streams).
    pub disco: Vec<String>,
}

/// A replayed day.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    /// Connection events and pseudo-probes of the log.
    pub events_read: usize,
    /// Pseudo-probes of the log.
    pub probes: usize,
    /// The window classified.
    pub from: DateTime<Utc>,
    /// Its end.
    pub to: DateTime<Utc>,
    /// Events by (class, scope level, confidence).
    pub by_class: BTreeMap<String, usize>,
    /// Events at ASN scope or wider, judged.
    pub judged: Vec<JudgedEvent>,
    /// Every burst of the log, with the id of the event that matches it.
    pub bursts: Vec<(ReferenceBurst, Option<String>)>,
    /// Outage bursts no event matches.
    pub missed: Vec<ReferenceBurst>,
    /// Brief reconnect bursts reported above low confidence.
    pub brief_above_low: Vec<ReferenceBurst>,
    /// Disco's detections within the window that no event overlaps.
    pub disco_unmatched: Vec<DiscoEvent>,
    /// Events at ASN scope or wider per 1,000 probes (the day's false-alarm rate when it had no outage).
    pub wide_events_per_1000_probes: f64,
}

/// A replay that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The import failed.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// Classifying or reading events failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Imports `log` into `store` (which should be fresh), classifies the buckets its span covers, and judges the
/// events against the log's bursts and `disco`'s detections.
pub async fn replay_day(
    store: &dyn Store,
    log: &[u8],
    places: &BTreeMap<u64, ProbePlace>,
    disco: &[DiscoEvent],
    bucket_secs: i64,
    settings: &ClassifierSettings,
) -> Result<ReplayReport, ReplayError> {
    let bucket_secs = bucket_secs.max(1);
    let (events, skipped) = ripe_atlas::parse(log).map_err(ImportError::from)?;
    let report = ripe_atlas::import_events(store, &events, skipped, places).await?;
    let first = events.iter().map(|e| e.timestamp).min().unwrap_or(0);
    let last = events.iter().map(|e| e.timestamp).max().unwrap_or(0);
    let from_s = first.div_euclid(bucket_secs) * bucket_secs;
    let to_s = (last.div_euclid(bucket_secs) + 1) * bucket_secs;
    let (from, to) = (
        Utc.timestamp_opt(from_s, 0).single().unwrap_or_default(),
        Utc.timestamp_opt(to_s, 0).single().unwrap_or_default(),
    );
    let run = classify_window(store, from, to, bucket_secs, settings).await?;
    let bursts = reference_bursts(&events, bucket_secs);
    let probes = events.iter().map(|e| e.prb_id).collect::<BTreeSet<u64>>().len();
    let mut by_class: BTreeMap<String, usize> = BTreeMap::new();
    for e in &run.events {
        *by_class
            .entry(format!(
                "{} {} {}",
                e.class.as_str(),
                e.scope.level,
                level_name(e.confidence_level)
            ))
            .or_default() += 1;
    }
    let near = |a: i64, b: i64| (a - b).abs() <= bucket_secs;
    let bucket_of = |t: i64| t.div_euclid(bucket_secs) * bucket_secs;
    let judged: Vec<JudgedEvent> = run
        .events
        .iter()
        .filter(|e| e.scope.level != "probe")
        .map(|e| {
            let burst = bursts
                .iter()
                .find(|b| e.scope.asn == Some(b.asn) && near(e.started_at, bucket_of(b.start)))
                .cloned();
            let timed = burst.as_ref().is_some_and(|b| match (e.ended_at, b.end) {
                (Some(x), Some(y)) => near(e.started_at, bucket_of(b.start)) && near(x, bucket_of(y)),
                (None, None) => true,
                _ => false,
            });
            let end = e.ended_at.unwrap_or(to_s);
            let disco_ids = disco
                .iter()
                .filter(|d| d.start <= end + bucket_secs && e.started_at <= d.end + bucket_secs)
                .filter(|d| {
                    d.streams.iter().any(|s| {
                        e.scope.asn.is_some_and(|a| *s == a.to_string())
                            || e.scope.country.as_deref().is_some_and(|c| s == c)
                    })
                })
                .map(|d| d.id.clone())
                .collect();
            JudgedEvent {
                event: e.clone(),
                burst,
                timed,
                disco: disco_ids,
            }
        })
        .collect();
    let missed = bursts
        .iter()
        .filter(|b| b.outage && !judged.iter().any(|j| j.burst.as_ref() == Some(*b)))
        .cloned()
        .collect();
    let brief_above_low = bursts
        .iter()
        .filter(|b| !b.outage)
        .filter(|b| {
            judged
                .iter()
                .any(|j| j.burst.as_ref() == Some(*b) && j.event.confidence_level > ConfidenceLevel::Low)
        })
        .cloned()
        .collect();
    let disco_unmatched = disco
        .iter()
        .filter(|d| d.start < to_s && d.end > from_s)
        .filter(|d| !judged.iter().any(|j| j.disco.contains(&d.id)))
        .cloned()
        .collect();
    let matched = bursts
        .iter()
        .map(|b| {
            let id = judged
                .iter()
                .find(|j| j.burst.as_ref() == Some(b))
                .map(|j| j.event.id.clone());
            (b.clone(), id)
        })
        .collect();
    let wide = judged.len() as f64;
    Ok(ReplayReport {
        events_read: report.events,
        probes,
        from,
        to,
        by_class,
        wide_events_per_1000_probes: if probes == 0 {
            0.0
        } else {
            wide * 1000.0 / probes as f64
        },
        judged,
        bursts: matched,
        missed,
        brief_above_low,
        disco_unmatched,
    })
}

fn level_name(level: ConfidenceLevel) -> &'static str {
    match level {
        ConfidenceLevel::Low => "low",
        ConfidenceLevel::Medium => "medium",
        ConfidenceLevel::High => "high",
    }
}

fn hhmm(t: i64) -> String {
    Utc.timestamp_opt(t, 0)
        .single()
        .map_or_else(|| "?".to_owned(), |d| d.format("%H:%M").to_string())
}

impl std::fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "window {} – {}: {} connection events, {} probes",
            self.from.to_rfc3339(),
            self.to.to_rfc3339(),
            self.events_read,
            self.probes
        )?;
        writeln!(f, "events by class, scope, confidence:")?;
        for (k, n) in &self.by_class {
            writeln!(f, "  {k:<40} {n}")?;
        }
        writeln!(
            f,
            "events at ASN scope or wider: {} ({:.2} per 1,000 probes)",
            self.judged.len(),
            self.wide_events_per_1000_probes
        )?;
        writeln!(
            f,
            "  {:<8} {:<16} {:<5} {:<5} {:<16} {:<7} {:>9}  what it is",
            "scope", "where", "start", "end", "class", "conf", "affected"
        )?;
        for j in &self.judged {
            let e = &j.event;
            let place = match (e.scope.asn, e.scope.country.as_deref()) {
                (Some(a), Some(c)) => format!("AS{a} {c}"),
                (Some(a), None) => format!("AS{a}"),
                (None, Some(c)) => c.to_owned(),
                (None, None) => e.scope.level.clone(),
            };
            let what = match &j.burst {
                Some(b) if b.outage => format!(
                    "outage burst: {} probes left at {}, {} stayed ≥ 2 buckets, median back {}{}",
                    b.probes,
                    hhmm(b.start),
                    b.stayed,
                    b.end.map_or_else(|| "after the log".to_owned(), hhmm),
                    if j.timed {
                        " — start and end within one bucket"
                    } else {
                        " — timing off"
                    }
                ),
                Some(b) => format!(
                    "brief reconnect burst: {} probes left at {}, {} stayed ≥ 2 buckets",
                    b.probes,
                    hhmm(b.start),
                    b.stayed
                ),
                None => format!(
                    "no burst of ≥ {BURST_PROBES} probes: {}",
                    e.evidence.first().map_or("", |ev| ev.text.as_str())
                ),
            };
            let disco = if j.disco.is_empty() {
                String::new()
            } else {
                format!("; Disco {}", j.disco.join(", "))
            };
            writeln!(
                f,
                "  {:<8} {:<16} {:<5} {:<5} {:<16} {:<7} {:>4}/{:<4}  {what}{disco}",
                e.scope.level,
                place,
                hhmm(e.started_at),
                e.ended_at.map_or_else(|| "-".to_owned(), hhmm),
                e.class.as_str(),
                level_name(e.confidence_level),
                e.affected_probes,
                e.probes_in_scope
            )?;
        }
        writeln!(
            f,
            "bursts in the log (≥ {BURST_PROBES} probes of one ASN leaving within two buckets):"
        )?;
        for (b, id) in &self.bursts {
            writeln!(
                f,
                "  AS{:<7} {} {:<6} {:>3} left, {:>3} stayed ≥ 2 buckets, median back {:<5}  → {}",
                b.asn,
                hhmm(b.start),
                if b.outage { "outage" } else { "brief" },
                b.probes,
                b.stayed,
                b.end.map_or_else(|| "-".to_owned(), hhmm),
                id.as_deref().unwrap_or("no event")
            )?;
        }
        for b in &self.missed {
            writeln!(
                f,
                "MISSED outage burst: AS{} at {}, {} probes left, {} stayed",
                b.asn,
                hhmm(b.start),
                b.probes,
                b.stayed
            )?;
        }
        for b in &self.brief_above_low {
            writeln!(
                f,
                "ABOVE LOW: brief reconnect burst AS{} at {} reported above low confidence",
                b.asn,
                hhmm(b.start)
            )?;
        }
        for d in &self.disco_unmatched {
            writeln!(
                f,
                "Disco {} ({} – {}, {} probes, streams {}) matches no event",
                d.id,
                hhmm(d.start),
                hhmm(d.end),
                d.probes,
                d.streams.join(" ")
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leave(prb: u64, asn: u32, left: i64, back: Option<i64>) -> Vec<ConnectionEvent> {
        let mut v = vec![ConnectionEvent {
            timestamp: left,
            prb_id: prb,
            connect: false,
            asn: Some(asn),
            controller: None,
        }];
        if let Some(b) = back {
            v.push(ConnectionEvent {
                timestamp: b,
                prb_id: prb,
                connect: true,
                asn: Some(asn),
                controller: None,
            });
        }
        v
    }

    #[test]
    fn bursts_are_outages_when_ten_stay_two_buckets_and_brief_otherwise() {
        let mut events = Vec::new();
        for p in 0..12 {
            events.extend(leave(p, 64500, 1000 + p as i64 * 20, Some(1000 + 900 + p as i64 * 60)));
            events.extend(leave(100 + p, 64501, 5000 + p as i64 * 5, Some(5000 + 120)));
        }
        for p in 0..5 {
            events.extend(leave(200 + p, 64502, 9000, None));
        }
        events.sort();
        let bursts = reference_bursts(&events, 300);
        assert_eq!(bursts.len(), 2, "{bursts:#?}");
        assert!(bursts[0].outage && bursts[0].asn == 64500 && bursts[0].stayed == 12);
        assert_eq!(bursts[0].start, 1100);
        assert!(!bursts[1].outage && bursts[1].asn == 64501);
    }

    #[test]
    fn disco_lines_are_read() {
        let d = parse_disco_events(
            "0|1475493935.0|1475499110.0|set([18790, 18727, 6089])|['38229']|['1']\n5|1418472330.0|1418475394.0|set([14419])|['BJ', 'pid-3']|['1']\nbad line",
        );
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].start, d[0].probes, d[0].streams.clone()),
            (1475493935, 3, vec!["38229".to_owned()])
        );
        assert_eq!(d[1].streams, ["BJ", "pid-3"]);
    }
}
