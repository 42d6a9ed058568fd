//! RIPE Atlas connection logs: `[{"type":"connection","event":"connect"|"disconnect","prb_id":N,
//! "asn":N|"N"|null,"prefix":"a.b.c.d/n","controller":"ctr-…","timestamp":UNIX,"msm_id":7000}, …]`.
//!
//! Each Atlas probe becomes a pseudo-probe (`atlas-N`) whose presence — connected or not — feeds the classifier
//! with the weaker evidence that implies: no vitals, no paths, so presence alone never makes a confident shutdown
//! or power-outage call. What a log says, and only that:
//! - it covers the time from its first event to its last ([`PresenceSpan`]); outside it a probe is unknown;
//! - a probe whose first event is `disconnect` was connected from the start of the log; one whose first event is
//!   `connect` was away before it, for how long nobody can tell, so it is expected only from that connect on;
//! - a probe with no event at all is not in the log (RIPE logs changes only), and so not known to the import.
//!
//! Events may come unsorted and duplicated; `asn` may be a number, a string or null. Countries are not in the
//! logs: RIPE publishes them in its daily probe archive ([`parse_probe_archive`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use crate::model::{PresenceSession, PresenceSpan};

/// The `source` of presence rows imported from RIPE Atlas.
pub const SOURCE: &str = "ripe-atlas";

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
    /// The Atlas controller the event was logged by, when given.
    pub controller: Option<String>,
}

/// A log that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AtlasError {
    /// Not a JSON array of objects.
    #[error("not a RIPE Atlas connection log: {0}")]
    Format(String),
    /// No connection event in it: nothing to import, and no span it could cover.
    #[error("the RIPE Atlas connection log holds no connection event")]
    Empty,
    /// Not a RIPE Atlas probe archive.
    #[error("not a RIPE Atlas probe archive: {0}")]
    Archive(String),
    /// A probe-countries CSV that cannot be read.
    #[error("probe countries: {0}")]
    Countries(String),
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
    #[serde(default)]
    controller: Option<Value>,
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().trim_start_matches("AS").parse().ok(),
        _ => None,
    }
}

fn asn(v: Option<&Value>) -> Option<u32> {
    v.and_then(number)
        .and_then(|a| u32::try_from(a).ok())
        .filter(|a| *a != 0)
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
                asn: asn(r.asn.as_ref()),
                controller: r
                    .controller
                    .as_ref()
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
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
    // At one instant a disconnect sorts before a connect: a probe that reconnects within the second was away.
    sorted.sort_by_key(|e| (e.timestamp, e.prb_id, e.connect));
    Ok((sorted, skipped))
}

/// What a log shows of one probe: the ASN it was last seen in and its sessions (times in ms).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbePresence {
    /// The probe's last ASN in the log.
    pub asn: Option<u32>,
    /// Its sessions, in order; `probe_id` is `atlas-N`.
    pub sessions: Vec<PresenceSession>,
}

/// The span a log covers: from its first event to one past its last (ms). `None` for a log without events.
pub fn span_of(events: &[ConnectionEvent]) -> Option<PresenceSpan> {
    let first = events.iter().map(|e| e.timestamp).min()?;
    let last = events.iter().map(|e| e.timestamp).max()?;
    Some(PresenceSpan {
        source: SOURCE.to_owned(),
        from_ms: first * 1000,
        to_ms: last * 1000 + 1,
    })
}

/// Per probe: its sessions within `span`, by the rules in this module's header.
pub fn sessions(events: &[ConnectionEvent], span: &PresenceSpan) -> BTreeMap<u64, ProbePresence> {
    let mut out: BTreeMap<u64, ProbePresence> = BTreeMap::new();
    // Per probe: connected since (ms), or away; absent before its first event.
    let mut open: BTreeMap<u64, Option<i64>> = BTreeMap::new();
    for e in events {
        let entry = out.entry(e.prb_id).or_default();
        if e.asn.is_some() {
            entry.asn = e.asn;
        }
        let at = e.timestamp * 1000;
        let state = open.entry(e.prb_id).or_insert_with(|| {
            // First sight: a disconnect means it was connected since the log began.
            (!e.connect).then_some(span.from_ms)
        });
        match (e.connect, *state) {
            (true, None) => *state = Some(at),
            (true, Some(_)) => {} // a repeated connect: still connected
            (false, Some(since)) => {
                entry.sessions.push(PresenceSession {
                    probe_id: probe_id(e.prb_id),
                    connected_ms: since,
                    disconnected_ms: Some(at),
                    controller: e.controller.clone(),
                });
                *state = None;
            }
            (false, None) => {} // a repeated disconnect: still away
        }
    }
    for (prb, since) in open {
        if let (Some(since), Some(entry)) = (since, out.get_mut(&prb)) {
            entry.sessions.push(PresenceSession {
                probe_id: probe_id(prb),
                connected_ms: since,
                disconnected_ms: None,
                controller: None,
            });
        }
    }
    out
}

/// The pseudo-probe id of an Atlas probe.
pub fn probe_id(prb: u64) -> String {
    format!("atlas-{prb}")
}

/// Where an Atlas probe is, as far as the registry needs it: country, optional region, and its registered
/// ASN (used when the connection log gives none). Never an address or a position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbePlace {
    /// ISO country code, upper case.
    pub country: String,
    /// Region, when known.
    pub region: Option<String>,
    /// ASN registered with RIPE (IPv4, else IPv6).
    pub asn: Option<u32>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ArchiveShape {
    /// `https://ftp.ripe.net/ripe/atlas/probes/archive/YYYY/MM/YYYYMMDD.json`: `{"objects": [...]}`.
    Objects { objects: Vec<Value> },
    /// The API's archive (`/api/v2/probes/archive/?date=`): `{"results": [...]}`.
    Results { results: Vec<Value> },
    /// A bare list of probes.
    List(Vec<Value>),
}

/// Reads RIPE Atlas's probe archive (the daily JSON of every probe: `id`, `asn_v4`, `asn_v6`, `country_code`,
/// `status`, …) into places by probe id. Probes without a two-letter country are left out and counted; nothing
/// else of a probe (address, prefix, coordinates, description) is kept.
pub fn parse_probe_archive(json: &[u8]) -> Result<(BTreeMap<u64, ProbePlace>, usize), AtlasError> {
    let shape: ArchiveShape = serde_json::from_slice(json).map_err(|e| AtlasError::Archive(e.to_string()))?;
    let probes = match shape {
        ArchiveShape::Objects { objects } => objects,
        ArchiveShape::Results { results } => results,
        ArchiveShape::List(list) => list,
    };
    let mut places = BTreeMap::new();
    let mut unplaced = 0;
    for p in probes {
        let Some(id) = p.get("id").and_then(number) else {
            unplaced += 1;
            continue;
        };
        let country = p
            .get("country_code")
            .and_then(Value::as_str)
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()));
        let Some(country) = country else {
            unplaced += 1;
            continue;
        };
        places.insert(
            id,
            ProbePlace {
                country,
                region: None,
                asn: asn(p.get("asn_v4")).or_else(|| asn(p.get("asn_v6"))),
            },
        );
    }
    if places.is_empty() && unplaced == 0 {
        return Err(AtlasError::Archive("it lists no probe".to_owned()));
    }
    Ok((places, unplaced))
}

/// Reads a CSV of `prb_id,country[,region]` (a header line starting `prb_id` is skipped).
pub fn parse_probe_countries(text: &str) -> Result<BTreeMap<u64, ProbePlace>, AtlasError> {
    let mut places = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("prb_id") {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let bad = |why: &str| AtlasError::Countries(format!("line {}: {why}", n + 1));
        let prb: u64 = fields[0].parse().map_err(|_| bad("bad prb_id"))?;
        let country = fields.get(1).map(|c| c.to_ascii_uppercase()).unwrap_or_default();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(bad("country must be two letters"));
        }
        places.insert(
            prb,
            ProbePlace {
                country,
                region: fields.get(2).filter(|r| !r.is_empty()).map(|r| (*r).to_owned()),
                asn: None,
            },
        );
    }
    Ok(places)
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
    /// Pseudo-probes registered before whose country or ASN the import corrected.
    pub updated_probes: usize,
    /// Pseudo-probes of the log without a country (registered as `ZZ`, which is no country).
    pub unplaced: usize,
    /// Presence sessions written.
    pub sessions: usize,
}

/// Imports a log into the store: registers `atlas-N` pseudo-probes (country, region and fallback ASN from
/// `places`, keyed by Atlas probe id; `ZZ` when unknown), corrects those registered before with another country
/// or ASN, and records the log's span and sessions.
pub async fn import(
    store: &dyn crate::store::Store,
    json: &[u8],
    places: &BTreeMap<u64, ProbePlace>,
) -> Result<ImportReport, ImportError> {
    let (events, skipped) = parse(json)?;
    import_events(store, &events, skipped, places).await
}

/// [`import`] of a log already parsed (`skipped` entries of it were not connection events).
pub async fn import_events(
    store: &dyn crate::store::Store,
    events: &[ConnectionEvent],
    skipped: usize,
    places: &BTreeMap<u64, ProbePlace>,
) -> Result<ImportReport, ImportError> {
    let span = span_of(events).ok_or(AtlasError::Empty)?;
    let known: BTreeMap<String, crate::model::ProbeRecord> = store
        .probes()
        .await?
        .into_iter()
        .map(|p| (p.probe_id.clone(), p))
        .collect();
    let mut report = ImportReport {
        events: events.len(),
        skipped,
        ..ImportReport::default()
    };
    let mut rows = Vec::new();
    let mut fresh = Vec::new();
    for (prb, presence) in sessions(events, &span) {
        let id = probe_id(prb);
        let place = places.get(&prb);
        let profile = crate::model::ProbeProfile {
            name: format!("RIPE Atlas probe {prb}"),
            country: place.map_or_else(|| "ZZ".to_owned(), |p| p.country.clone()),
            asn: presence.asn.or(place.and_then(|p| p.asn)).unwrap_or(0),
            region: place.and_then(|p| p.region.clone()),
            access: crate::model::AccessType::Fixed,
            ups: false,
        };
        report.unplaced += usize::from(place.is_none());
        match known.get(&id) {
            None => {
                // A pseudo-probe never uploads: its token is random and thrown away.
                let unusable = crate::token::new_token()
                    .map_err(|e| ImportError::Store(crate::store::StoreError::Worker(e.to_string())))?;
                fresh.push(crate::store::NewProbe {
                    probe_id: id.clone(),
                    profile,
                    token_hash: crate::token::hash_token(&unusable),
                    public_key: None,
                    created_at: chrono::Utc::now(),
                });
            }
            // A later import with an archive places a probe an earlier one could not (or that moved).
            Some(old)
                if place.is_some() && (old.profile.country != profile.country || old.profile.asn != profile.asn) =>
            {
                store.update_probe_profile(&id, profile).await?;
                report.updated_probes += 1;
            }
            Some(_) => {}
        }
        rows.extend(presence.sessions);
    }
    report.new_probes = store.register_probes(fresh).await?;
    report.sessions = store.save_presence(span, rows).await?;
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

    fn session(prb: u64, from: i64, to: Option<i64>, controller: Option<&str>) -> PresenceSession {
        PresenceSession {
            probe_id: probe_id(prb),
            connected_ms: from * 1000,
            disconnected_ms: to.map(|t| t * 1000),
            controller: controller.map(str::to_owned),
        }
    }

    #[test]
    fn asn_forms_unsorted_and_duplicate_events_are_handled() {
        let log = br#"[
            {"type":"connection","event":"disconnect","prb_id":7,"asn":"64500","prefix":"192.0.2.0/24","controller":"ctr-a","timestamp":300,"msm_id":7000},
            {"type":"connection","event":"connect","prb_id":7,"asn":64500,"prefix":"192.0.2.0/24","controller":"ctr-a","timestamp":100,"msm_id":7000},
            {"type":"connection","event":"connect","prb_id":7,"asn":64500,"prefix":"192.0.2.0/24","controller":"ctr-a","timestamp":100,"msm_id":7000},
            {"type":"connection","event":"connect","prb_id":7,"asn":null,"prefix":"192.0.2.0/24","controller":"ctr-b","timestamp":600,"msm_id":7000},
            {"type":"connection","event":"disconnect","prb_id":9,"asn":"AS64501","timestamp":200,"msm_id":7000},
            {"type":"other","event":"connect","prb_id":9,"timestamp":250},
            {"event":"connect","timestamp":260}
        ]"#;
        let (events, skipped) = parse(log).expect("parses");
        assert_eq!((events.len(), skipped), (4, 2));
        let span = span_of(&events).expect("a span");
        assert_eq!((span.from_ms, span.to_ms), (100_000, 600_001));
        let s = sessions(&events, &span);
        assert_eq!(s[&7].asn, Some(64500));
        assert_eq!(
            s[&7].sessions,
            [session(7, 100, Some(300), Some("ctr-a")), session(7, 600, None, None)]
        );
        // Its first event a disconnect: connected since the log began, not since some earlier event of its own.
        assert_eq!(s[&9].sessions, [session(9, 100, Some(200), None)]);
    }

    #[test]
    fn a_probe_that_connects_first_was_away_before_and_is_not_given_a_session_before_it() {
        let log = br#"[
            {"type":"connection","event":"connect","prb_id":1,"asn":64500,"timestamp":1000},
            {"type":"connection","event":"connect","prb_id":2,"asn":64500,"timestamp":5000},
            {"type":"connection","event":"disconnect","prb_id":2,"asn":64500,"timestamp":6000},
            {"type":"connection","event":"disconnect","prb_id":2,"asn":64500,"timestamp":6500},
            {"type":"connection","event":"connect","prb_id":2,"asn":64500,"timestamp":7000}
        ]"#;
        let (events, _) = parse(log).expect("parses");
        let span = span_of(&events).expect("a span");
        let s = sessions(&events, &span);
        assert_eq!(s[&1].sessions, [session(1, 1000, None, None)]);
        assert_eq!(
            s[&2].sessions,
            [session(2, 5000, Some(6000), None), session(2, 7000, None, None)],
            "a repeated disconnect changes nothing"
        );
    }

    #[test]
    fn a_file_that_is_not_a_log_is_refused_and_an_empty_log_has_no_span() {
        assert!(parse(b"{\"not\":\"an array\"}").is_err());
        let (events, _) = parse(b"[]").expect("parses");
        assert!(span_of(&events).is_none());
    }

    #[test]
    fn the_probe_archive_gives_countries_and_asns_in_both_published_shapes_and_nothing_else() {
        // The shape of ftp.ripe.net's daily archive (status as a number) and of the API's (status as an object).
        let ftp = br#"{"objects": [
            {"id": 6001, "asn_v4": 3333, "asn_v6": 3333, "country_code": "NL", "status": 1, "status_name": "Connected",
             "address_v4": "193.0.0.78", "prefix_v4": "193.0.0.0/21", "latitude": 52.3, "longitude": 4.9,
             "is_anchor": true, "is_public": true, "tags": ["system-anchor"]},
            {"id": 7, "asn_v4": null, "asn_v6": "AS6939", "country_code": "us", "status": 2},
            {"id": 8, "asn_v4": 64500, "asn_v6": null, "country_code": null, "status": 3}
        ]}"#;
        let (places, unplaced) = parse_probe_archive(ftp).expect("parses");
        assert_eq!(unplaced, 1);
        assert_eq!(
            places[&6001],
            ProbePlace {
                country: "NL".to_owned(),
                region: None,
                asn: Some(3333)
            }
        );
        assert_eq!((places[&7].country.as_str(), places[&7].asn), ("US", Some(6939)));
        let api = br#"{"count": 1, "next": null, "results": [
            {"id": 12, "asn_v4": 38229, "country_code": "BD", "status": {"id": 1, "name": "Connected", "since": "2016-04-01T00:00:00Z"}}
        ]}"#;
        let (places, _) = parse_probe_archive(api).expect("parses");
        assert_eq!(places[&12].country, "BD");
        assert!(parse_probe_archive(b"{\"objects\": 3}").is_err());
        assert!(parse_probe_archive(b"[]").is_err());
    }
}
