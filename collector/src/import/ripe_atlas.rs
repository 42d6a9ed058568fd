//! RIPE Atlas connection logs: `[{"type":"connection","event":"connect"|"disconnect","prb_id":N,
//! "asn":N|"N"|null,"prefix":"a.b.c.d/n","controller":"ctr-…","timestamp":UNIX,"msm_id":7000}, …]`.
//!
//! Each Atlas probe becomes a pseudo-probe (`atlas-N`) whose presence — connected or not — feeds the same
//! classifier as Vigil's probes, with the weaker evidence that implies: no vitals, no paths, so silence alone
//! never makes a shutdown call. Events may come unsorted and duplicated; `asn` may be a number, a string or null.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

/// One connection event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConnectionEvent {
    /// Unix time.
    pub timestamp: i64,
    /// Atlas probe id.
    pub prb_id: u64,
    /// Connected (true) or disconnected.
    pub connect: bool,
    /// AS number, when given.
    pub asn: Option<u32>,
}

/// A period an Atlas probe was connected: `[connected, disconnected)`, open-ended while still connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PresenceSession {
    /// Unix time of connection (or the log's first event when the probe was already connected).
    pub connected: i64,
    /// Unix time of disconnection.
    pub disconnected: Option<i64>,
}

/// A log that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AtlasError {
    /// Not a JSON array of objects.
    #[error("not a RIPE Atlas connection log: {0}")]
    Format(String),
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    event: Option<String>,
    prb_id: Option<Value>,
    #[serde(default)]
    asn: Option<Value>,
    timestamp: Option<Value>,
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().trim_start_matches("AS").parse().ok(),
        _ => None,
    }
}

/// Parses a log; entries that are not connection events, or lack a probe, event or time, are skipped and
/// counted. Duplicates are dropped; the result is sorted by time.
pub fn parse(json: &[u8]) -> Result<(Vec<ConnectionEvent>, usize), AtlasError> {
    let raw: Vec<Raw> = serde_json::from_slice(json).map_err(|e| AtlasError::Format(e.to_string()))?;
    let mut skipped = 0;
    let mut events = BTreeSet::new();
    for r in raw {
        let parsed = (|| {
            if r.kind.as_deref().is_some_and(|k| k != "connection") {
                return None;
            }
            let connect = match r.event.as_deref()? {
                "connect" => true,
                "disconnect" => false,
                _ => return None,
            };
            Some(ConnectionEvent {
                timestamp: i64::try_from(number(r.timestamp.as_ref()?)?).ok()?,
                prb_id: number(r.prb_id.as_ref()?)?,
                connect,
                asn: r
                    .asn
                    .as_ref()
                    .and_then(number)
                    .and_then(|a| u32::try_from(a).ok())
                    .filter(|a| *a != 0),
            })
        })();
        match parsed {
            Some(e) => {
                events.insert(e);
            }
            None => skipped += 1,
        }
    }
    let mut sorted: Vec<ConnectionEvent> = events.into_iter().collect();
    sorted.sort_by_key(|e| (e.timestamp, e.prb_id, e.connect));
    Ok((sorted, skipped))
}

/// Per probe: its sessions and the ASN it was last seen in.
pub fn sessions(events: &[ConnectionEvent]) -> BTreeMap<u64, (Option<u32>, Vec<PresenceSession>)> {
    let first_time = events.first().map_or(0, |e| e.timestamp);
    let mut out: BTreeMap<u64, (Option<u32>, Vec<PresenceSession>)> = BTreeMap::new();
    let mut open: BTreeMap<u64, Option<i64>> = BTreeMap::new();
    for e in events {
        let entry = out.entry(e.prb_id).or_default();
        if e.asn.is_some() {
            entry.0 = e.asn;
        }
        let state = open.entry(e.prb_id).or_insert(None);
        match (e.connect, *state) {
            (true, None) => *state = Some(e.timestamp),
            (true, Some(_)) => {} // a repeated connect: still connected
            (false, Some(since)) => {
                entry.1.push(PresenceSession {
                    connected: since,
                    disconnected: Some(e.timestamp),
                });
                *state = None;
            }
            // A disconnect with no connect before it: connected since the log began.
            (false, None) if entry.1.is_empty() => entry.1.push(PresenceSession {
                connected: first_time,
                disconnected: Some(e.timestamp),
            }),
            (false, None) => {}
        }
    }
    for (prb, since) in open {
        if let (Some(since), Some(entry)) = (since, out.get_mut(&prb)) {
            entry.1.push(PresenceSession {
                connected: since,
                disconnected: None,
            });
        }
    }
    out
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Connection events read.
    pub events: usize,
    /// Entries skipped (not connection events, or incomplete).
    pub skipped: usize,
    /// Pseudo-probes newly registered.
    pub new_probes: usize,
    /// Presence sessions written.
    pub sessions: usize,
}

/// Imports a log into the store: registers `atlas-N` pseudo-probes (country and region from `places`, keyed by
/// Atlas probe id; `ZZ` when unknown) and records their presence sessions.
pub async fn import(
    store: &dyn crate::store::Store,
    json: &[u8],
    places: &BTreeMap<u64, (String, Option<String>)>,
) -> Result<ImportReport, ImportError> {
    let (events, skipped) = parse(json)?;
    let known: BTreeSet<String> = store.probes().await?.into_iter().map(|p| p.probe_id).collect();
    let mut report = ImportReport {
        events: events.len(),
        skipped,
        ..ImportReport::default()
    };
    let mut rows = Vec::new();
    for (prb, (asn, list)) in sessions(&events) {
        let probe_id = format!("atlas-{prb}");
        if !known.contains(&probe_id) {
            let (country, region) = places.get(&prb).cloned().unwrap_or_else(|| ("ZZ".to_owned(), None));
            // A pseudo-probe never uploads: its token is random and thrown away.
            let unusable = crate::token::new_token()
                .map_err(|e| ImportError::Store(crate::store::StoreError::Worker(e.to_string())))?;
            store
                .register_probe(crate::store::NewProbe {
                    probe_id: probe_id.clone(),
                    profile: crate::store::ProbeProfile {
                        name: format!("RIPE Atlas probe {prb}"),
                        country,
                        asn: asn.unwrap_or(0),
                        region,
                        access: crate::store::AccessType::Fixed,
                        ups: false,
                    },
                    token_hash: crate::token::hash_token(&unusable),
                    public_key: None,
                    created_at: chrono::Utc::now(),
                })
                .await?;
            report.new_probes += 1;
        }
        rows.extend(
            list.into_iter()
                .map(|s| (probe_id.clone(), s.connected * 1000, s.disconnected.map(|d| d * 1000))),
        );
    }
    report.sessions = store.save_presence("ripe-atlas", rows).await?;
    Ok(report)
}

/// An import that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The log is unreadable.
    #[error(transparent)]
    Log(#[from] AtlasError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn_forms_unsorted_and_duplicate_events_are_handled() {
        let log = br#"[
            {"type":"connection","event":"disconnect","prb_id":7,"asn":"64500","prefix":"192.0.2.0/24","controller":"ctr-a","timestamp":300,"msm_id":7000},
            {"type":"connection","event":"connect","prb_id":7,"asn":64500,"prefix":"192.0.2.0/24","controller":"ctr-a","timestamp":100,"msm_id":7000},
            {"type":"connection","event":"connect","prb_id":7,"asn":64500,"prefix":"192.0.2.0/24","controller":"ctr-a","timestamp":100,"msm_id":7000},
            {"type":"connection","event":"connect","prb_id":7,"asn":null,"prefix":"192.0.2.0/24","controller":"ctr-a","timestamp":600,"msm_id":7000},
            {"type":"connection","event":"disconnect","prb_id":9,"asn":"AS64501","timestamp":200,"msm_id":7000},
            {"type":"other","event":"connect","prb_id":9,"timestamp":250},
            {"event":"connect","timestamp":260}
        ]"#;
        let (events, skipped) = parse(log).expect("parses");
        assert_eq!((events.len(), skipped), (4, 2));
        let s = sessions(&events);
        assert_eq!(
            s[&7],
            (
                Some(64500),
                vec![
                    PresenceSession {
                        connected: 100,
                        disconnected: Some(300)
                    },
                    PresenceSession {
                        connected: 600,
                        disconnected: None
                    },
                ]
            )
        );
        assert_eq!(
            s[&9],
            (
                Some(64501),
                vec![PresenceSession {
                    connected: 100,
                    disconnected: Some(200)
                }]
            )
        );
    }

    #[test]
    fn a_file_that_is_not_a_log_is_refused() {
        assert!(parse(b"{\"not\":\"an array\"}").is_err());
    }
}
