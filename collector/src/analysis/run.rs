//! A classification run over the store: read the registry and the window's measurements (by effective time,
//! so re-timed and late data land where they were taken), classify, save with revisions.

use chrono::{DateTime, Utc};

use std::collections::BTreeMap;

use crate::classify::input::OtherPathNetworks;
use crate::classify::{ClassifierSettings, ProbeInfo, classify};
use crate::model::{AccessType, DisruptionEvent, bucket_range, other_timeline};
use crate::store::aggregates::Reader;
use crate::store::{EventQuery, EventSaveSummary, ProbeArrival, Store, StoreError};

/// How an event changed in a run (what alerts are about).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Seen for the first time.
    Opened,
    /// Its class, confidence or size changed.
    Revised,
    /// It ended.
    Closed,
    /// Late data showed it was not a disruption.
    Retracted,
}

impl Change {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Opened => "opened",
            Change::Revised => "revised",
            Change::Closed => "closed",
            Change::Retracted => "retracted",
        }
    }
}

/// One event's change.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Transition {
    /// What happened to it.
    pub change: Change,
    /// The event after the change (before it, for a retraction).
    pub event: DisruptionEvent,
}

impl Transition {
    /// A stable id of this transition, for receivers to drop a repeated delivery.
    pub fn delivery_id(&self) -> String {
        let (class, level, ended, affected) = self.event.revision_key();
        format!(
            "{}/{}/{class}/{level:?}/{}/{affected}",
            self.event.id,
            self.change.as_str(),
            ended.map(|t| t.to_string()).unwrap_or_default()
        )
    }
}

/// The transitions from the saved events to a run's events over the window starting at `start`.
pub fn transitions(saved: &[DisruptionEvent], now: &[DisruptionEvent], start: i64) -> Vec<Transition> {
    let mut out = Vec::new();
    for e in now {
        match saved.iter().find(|s| s.id == e.id) {
            None => out.push(Transition {
                change: Change::Opened,
                event: e.clone(),
            }),
            Some(old) if old.revision_key() != e.revision_key() => out.push(Transition {
                change: if old.ended_at.is_none() && e.ended_at.is_some() {
                    Change::Closed
                } else {
                    Change::Revised
                },
                event: e.clone(),
            }),
            Some(_) => {}
        }
    }
    for old in saved
        .iter()
        .filter(|s| s.started_at >= start && !now.iter().any(|e| e.id == s.id))
    {
        out.push(Transition {
            change: Change::Retracted,
            event: old.clone(),
        });
    }
    out
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// How events changed, for alerts.
    pub transitions: Vec<Transition>,
    /// The events of the window.
    pub events: Vec<DisruptionEvent>,
    /// What saving them changed.
    pub saved: EventSaveSummary,
    /// Probe-buckets read (one per probe and bucket with data).
    pub probe_buckets: usize,
}

/// The network each probe's uplink of a given access last arrived from, by that uplink's timeline id
/// (`model::other_timeline`): the uploads a carrier brought declared its access (`ProbeArrival::access`), and the
/// table named the network they came from. A carrier seen on two networks (a dish moved to another operator)
/// counts by the latest.
pub fn other_path_networks(arrivals: &[ProbeArrival]) -> OtherPathNetworks {
    let mut latest: BTreeMap<String, (DateTime<Utc>, u32)> = BTreeMap::new();
    for a in arrivals {
        let (Some(asn), Some(access)) = (a.asn, a.access.as_deref().and_then(AccessType::parse)) else {
            continue;
        };
        let timeline = other_timeline(&a.probe_id, access);
        if latest.get(&timeline).is_none_or(|&(seen, _)| a.last_seen > seen) {
            latest.insert(timeline, (a.last_seen, asn));
        }
    }
    latest.into_iter().map(|(timeline, (_, asn))| (timeline, asn)).collect()
}

/// The country each probe's registered line arrived from, by probe id, for the probes `access` registers: the
/// network its uploads over that line (`ProbeArrival::on_line`) last arrived from, when the IP-to-ASN table placed it. A satellite-only probe's
/// operator registered abroad is known so (issue 24).
pub fn line_network_countries(
    arrivals: &[ProbeArrival],
    access: &BTreeMap<String, AccessType>,
) -> BTreeMap<String, String> {
    let mut latest: BTreeMap<&str, (DateTime<Utc>, Option<&str>)> = BTreeMap::new();
    for a in arrivals.iter().filter(|a| a.asn.is_some()) {
        let Some(&registered) = access.get(&a.probe_id) else {
            continue;
        };
        if a.on_line(registered)
            && latest
                .get(a.probe_id.as_str())
                .is_none_or(|&(seen, _)| a.last_seen > seen)
        {
            latest.insert(&a.probe_id, (a.last_seen, a.network_country.as_deref()));
        }
    }
    latest
        .into_iter()
        .filter_map(|(probe, (_, country))| Some((probe.to_owned(), country?.to_owned())))
        .collect()
}

/// The classifier's input for `[from, to)` from the store: the registry and, per probe and bucket, what was
/// measured (by effective time, through the materialised summaries as `reader` uses them); returns it with the
/// number of probe-buckets read.
pub async fn load_input(
    store: &dyn Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket_secs: i64,
    reader: Reader,
) -> Result<(crate::classify::ClassifierInput, usize), StoreError> {
    // Outages saved and still open hold their probes expected (issue 23, case 6).
    let open: Vec<DisruptionEvent> = store
        .events(EventQuery {
            from: Some(from.timestamp()),
            to: Some(to.timestamp()),
            ..EventQuery::default()
        })
        .await?
        .into_iter()
        .map(|s| s.event)
        .filter(|e| e.ended_at.is_none() && e.class.lineage() == "outage")
        .collect();
    let probes: Vec<ProbeInfo> = store
        .probes()
        .await?
        .into_iter()
        .map(|p| {
            // From the start of the earliest outage holding it: before it, the probe is expected as usual.
            let held_since = open
                .iter()
                .filter(|e| e.scope.contains(&p.profile))
                .map(|e| e.started_at)
                .min();
            ProbeInfo {
                probe_id: p.probe_id,
                country: p.profile.country,
                asn: p.profile.asn,
                region: p.profile.region,
                access: p.profile.access,
                ups: p.profile.ups,
                last_seen: p.last_seen.map(|t| t.timestamp()),
                held_since,
                network_country: None,
            }
        })
        .collect();
    let bucket_secs = bucket_secs.max(1);
    let observed = crate::store::aggregates::bucket_summaries(store, from, to, bucket_secs, reader).await?;
    let arrivals = store.probe_arrivals().await?;
    let access: BTreeMap<String, AccessType> = probes.iter().map(|p| (p.probe_id.clone(), p.access)).collect();
    let mut countries = line_network_countries(&arrivals, &access);
    let probes = probes
        .into_iter()
        .map(|p| ProbeInfo {
            network_country: countries.remove(&p.probe_id),
            ..p
        })
        .collect();
    let probes = crate::classify::input::with_other_paths(probes, &observed, &other_path_networks(&arrivals));
    let read: usize = observed.values().map(BTreeMap::len).sum();
    let buckets = bucket_range(bucket_secs, from, to);
    // Pseudo-probes (RIPE Atlas): judged by their presence alone, and only where their log covers the window.
    let log = store.presence(from.timestamp_millis(), to.timestamp_millis()).await?;
    let presence = crate::classify::presence::presence_states(&log, buckets.clone(), bucket_secs);
    // A presence-only probe's known buckets are read too.
    let read = read
        + presence
            .values()
            .map(|p| {
                p.states
                    .iter()
                    .filter(|s| **s != crate::classify::presence::PresenceState::Unknown)
                    .count()
            })
            .sum::<usize>();
    let input = crate::classify::ClassifierInput {
        bucket_secs,
        buckets,
        probes,
        observed,
        presence,
    };
    Ok((input, read))
}

/// A run's events and transitions, computed and not yet saved: alerts are queued from it before the save, so a
/// crash between the two re-computes the same transitions (same delivery ids) on the next run.
#[derive(Debug, Clone)]
pub struct WindowPlan {
    /// The first bucket's start of the window that is saved.
    start: i64,
    /// The window's end.
    to: i64,
    /// The events of the window, with saved identities kept.
    pub events: Vec<DisruptionEvent>,
    /// How they differ from what is saved.
    pub transitions: Vec<Transition>,
    /// Probe-buckets read.
    pub probe_buckets: usize,
}

/// Classifies `[from, to)` without saving. The window is widened backwards by the classifier's expect window, so
/// probes that went dark at its start are still expected.
pub async fn plan_window(
    store: &dyn Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket_secs: i64,
    settings: &ClassifierSettings,
) -> Result<WindowPlan, StoreError> {
    let bucket_secs = bucket_secs.max(1);
    let lead = chrono::Duration::seconds(bucket_secs * settings.expect_window);
    let read_from = from - lead;
    let (input, probe_buckets) = load_input(store, read_from, to, bucket_secs, Reader::latest(bucket_secs)).await?;
    let start = from.timestamp().div_euclid(bucket_secs) * bucket_secs;
    let mut events: Vec<DisruptionEvent> = classify(&input, settings)
        .into_iter()
        .filter(|e| e.ended_at.is_none_or(|end| end > start))
        .collect();
    let saved: Vec<DisruptionEvent> = store
        .events(EventQuery {
            from: Some(start),
            to: Some(to.timestamp()),
            ..EventQuery::default()
        })
        .await?
        .into_iter()
        .map(|s| s.event)
        .collect();
    let seen_from = read_from.timestamp().div_euclid(bucket_secs) * bucket_secs;
    keep_identities(&mut events, &saved, seen_from + bucket_secs);
    let transitions = transitions(&saved, &events, start);
    Ok(WindowPlan {
        start,
        to: to.timestamp(),
        events,
        transitions,
        probe_buckets,
    })
}

/// Saves a plan's events with revisions.
pub async fn save_plan(store: &dyn Store, plan: WindowPlan) -> Result<RunReport, StoreError> {
    let saved = store.save_events(plan.start, plan.to, plan.events.clone()).await?;
    Ok(RunReport {
        transitions: plan.transitions,
        events: plan.events,
        saved,
        probe_buckets: plan.probe_buckets,
    })
}

/// Classifies `[from, to)` and saves the events ([`plan_window`], then [`save_plan`]).
pub async fn classify_window(
    store: &dyn Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket_secs: i64,
    settings: &ClassifierSettings,
) -> Result<RunReport, StoreError> {
    let plan = plan_window(store, from, to, bucket_secs, settings).await?;
    save_plan(store, plan).await
}

/// Keeps an event's identity when late data moves its edges: a new event overlapping a saved one of the same
/// lineage and scope takes the saved one's id, so the saved event is revised (`unknown` → `shutdown`, start one
/// bucket earlier) instead of being retracted and replaced by a stranger. An event that starts at or before
/// `unseen_before` (the first bucket or two of the classifier's input) was already under way when the input began,
/// so its start is not in view: it keeps the saved event's earlier start (issue 23, case 5: the start of an event
/// longer than the window no longer moves forward with every run).
pub fn keep_identities(events: &mut [DisruptionEvent], saved: &[DisruptionEvent], unseen_before: i64) {
    let mut taken: std::collections::BTreeSet<String> = events
        .iter()
        .filter(|e| saved.iter().any(|s| s.id == e.id))
        .map(|e| e.id.clone())
        .collect();
    let overlaps = |a: &DisruptionEvent, b: &DisruptionEvent| {
        a.started_at < b.ended_at.unwrap_or(i64::MAX) && b.started_at < a.ended_at.unwrap_or(i64::MAX)
    };
    for e in events.iter_mut() {
        if taken.contains(&e.id) {
            continue;
        }
        let heir = saved.iter().find(|s| {
            !taken.contains(&s.id) && s.class.lineage() == e.class.lineage() && s.scope == e.scope && overlaps(s, e)
        });
        if let Some(s) = heir {
            e.id = s.id.clone();
            taken.insert(s.id.clone());
            if e.started_at <= unseen_before && s.started_at < e.started_at {
                e.started_at = s.started_at;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConfidenceLevel, EventClass, EventScope};

    fn event(id: &str, class: EventClass, start: i64, end: Option<i64>) -> DisruptionEvent {
        DisruptionEvent {
            id: id.to_owned(),
            class,
            scope: EventScope {
                level: "country".to_owned(),
                country: Some("XL".to_owned()),
                ..EventScope::default()
            },
            started_at: start,
            ended_at: end,
            confidence: 0.2,
            confidence_level: ConfidenceLevel::Low,
            affected_probes: 9,
            probes_in_scope: 9,
            evidence: Vec::new(),
            scores: Default::default(),
            targets: Vec::new(),
        }
    }

    #[test]
    fn an_uplinks_timeline_takes_the_network_its_uploads_last_arrived_from() {
        let at = |secs: i64| DateTime::<Utc>::from_timestamp(secs, 0).expect("in range");
        let arrival =
            |probe: &str, carrier: Option<&str>, asn: Option<u32>, access: Option<&str>, last: i64| ProbeArrival {
                probe_id: probe.to_owned(),
                carrier: carrier.map(str::to_owned),
                asn,
                access: access.map(str::to_owned),
                network_country: None,
                first_seen: at(0),
                last_seen: at(last),
            };
        let networks = other_path_networks(&[
            // The line: its timeline is the probe's own, named by the registry.
            arrival("prb-1", None, Some(44244), None, 50),
            // A dish that moved from one operator to another: the latest counts, whatever the order read.
            arrival("prb-1", Some("sat"), Some(14593), Some("satellite"), 90),
            arrival("prb-1", Some("sat"), Some(64501), Some("satellite"), 40),
            // A second modem with no table entry, and a carrier whose access no measurement declared.
            arrival("prb-2", Some("lte"), None, Some("mobile"), 90),
            arrival("prb-2", Some("spare"), Some(64502), None, 90),
        ]);
        assert_eq!(
            networks.into_iter().collect::<Vec<_>>(),
            [(other_timeline("prb-1", AccessType::Satellite), 14593)]
        );
    }

    #[test]
    fn a_probes_line_is_placed_in_the_country_its_network_last_arrived_from_is_registered_in() {
        let at = |secs: i64| DateTime::<Utc>::from_timestamp(secs, 0).expect("in range");
        let arrival =
            |probe: &str, carrier: Option<&str>, access: Option<&str>, country: Option<&str>, last: i64| ProbeArrival {
                probe_id: probe.to_owned(),
                carrier: carrier.map(str::to_owned),
                asn: Some(64500),
                access: access.map(str::to_owned),
                network_country: country.map(str::to_owned),
                first_seen: at(0),
                last_seen: at(last),
            };
        let access: BTreeMap<String, AccessType> = [
            ("sky-1", AccessType::Satellite),
            ("sky-2", AccessType::Satellite),
            ("line-1", AccessType::Fixed),
        ]
        .into_iter()
        .map(|(p, a)| (p.to_owned(), a))
        .collect();
        let countries = line_network_countries(
            &[
                // A satellite-only probe whose operator moved its registration: the latest counts.
                arrival("sky-1", None, None, Some("XA"), 10),
                arrival("sky-1", None, None, Some("US"), 20),
                // One whose uploads are carried by a named uplink of its registered access.
                arrival("sky-2", Some("sat"), Some("satellite"), Some("US"), 20),
                // A line's dish is another path, not the line; the line's own network is not placed.
                arrival("line-1", Some("sat"), Some("satellite"), Some("US"), 30),
                arrival("line-1", None, None, None, 20),
                // A probe no longer registered.
                arrival("gone", None, None, Some("US"), 20),
            ],
            &access,
        );
        assert_eq!(
            countries.into_iter().collect::<Vec<_>>(),
            [
                ("sky-1".to_owned(), "US".to_owned()),
                ("sky-2".to_owned(), "US".to_owned())
            ]
        );
    }

    #[test]
    fn transitions_name_what_changed() {
        let open = event("evt-1", EventClass::Unknown, 100, None);
        let gone = event("evt-2", EventClass::Unknown, 100, None);
        let saved = [open.clone(), gone.clone()];
        let closed = event("evt-1", EventClass::Shutdown, 100, Some(200));
        let new = event("evt-3", EventClass::Shutdown, 150, None);
        let t = transitions(&saved, &[closed, new], 0);
        let changes: Vec<(&str, Change)> = t.iter().map(|t| (t.event.id.as_str(), t.change)).collect();
        assert_eq!(
            changes,
            [
                ("evt-1", Change::Closed),
                ("evt-3", Change::Opened),
                ("evt-2", Change::Retracted)
            ]
        );
        assert!(transitions(&saved, &saved, 0).is_empty(), "no change, no transition");
        let revised = event("evt-1", EventClass::Shutdown, 100, None);
        assert_eq!(transitions(&[open], &[revised], 0)[0].change, Change::Revised);
        assert_ne!(t[0].delivery_id(), t[1].delivery_id());
    }

    #[test]
    fn a_revised_outage_keeps_its_id_when_late_data_moves_its_start() {
        let saved = [event("evt-old", EventClass::Unknown, 100, None)];
        let mut now = [event("evt-new", EventClass::Shutdown, 90, Some(200))];
        keep_identities(&mut now, &saved, 0);
        assert_eq!(now[0].id, "evt-old");
        assert_eq!(now[0].started_at, 90, "a start in view is the new one");
    }

    #[test]
    fn an_outage_under_way_when_the_input_began_keeps_its_saved_start() {
        let saved = [event("evt-old", EventClass::Shutdown, 100, None)];
        // The input began at 1,000: the outage was already under way, and the run sees it start there.
        let mut now = [event("evt-new", EventClass::Shutdown, 1_000, None)];
        keep_identities(&mut now, &saved, 1_060);
        assert_eq!((now[0].id.as_str(), now[0].started_at), ("evt-old", 100));
        // Starting well inside the input, the start is the run's.
        let mut later = [event("evt-new", EventClass::Shutdown, 2_000, None)];
        keep_identities(&mut later, &saved, 1_060);
        assert_eq!((later[0].id.as_str(), later[0].started_at), ("evt-old", 2_000));
    }

    #[test]
    fn other_lineages_scopes_and_disjoint_times_keep_their_own_ids() {
        let saved = [event("evt-old", EventClass::Unknown, 100, Some(150))];
        let mut now = [
            event("evt-censor", EventClass::Censorship, 100, None),
            event("evt-later", EventClass::Shutdown, 150, None),
        ];
        keep_identities(&mut now, &saved, 0);
        assert_eq!((now[0].id.as_str(), now[1].id.as_str()), ("evt-censor", "evt-later"));
        let mut elsewhere = [DisruptionEvent {
            scope: EventScope {
                level: "asn".to_owned(),
                asn: Some(64501),
                ..EventScope::default()
            },
            ..event("evt-asn", EventClass::Shutdown, 100, None)
        }];
        keep_identities(&mut elsewhere, &saved, 0);
        assert_eq!(elsewhere[0].id, "evt-asn");
    }
}
