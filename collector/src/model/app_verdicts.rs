//! What each probe saw of each messaging app (issue 25, item 3): in each bucket an app was measured, reachable
//! (every endpoint that said anything answered), blocked by a method (none answered), or partly (some answered,
//! some were blocked) — from the bucket summaries every store already keeps (`app:NAME` judged as one target).
//! A probe's view, not a call: censorship of an app in a network is an event, which needs two probes there and a
//! control elsewhere (`classify`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::fold::{APP_LIST_PREFIX, Summaries};
use super::probe::ProbeRecord;
use super::public_view::rfc3339;
use super::summary::{BlockingMethod, Bucket};
use super::timeline::split_timeline;

/// How an app fared on one probe in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppReach {
    /// Its endpoints answered; none showed a blocking method.
    Reachable,
    /// Some endpoints answered, others showed a blocking method.
    Partly,
    /// Endpoints showed a blocking method, and none answered.
    Blocked,
}

/// Buckets of the window in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AppBuckets {
    /// Buckets where it was reachable.
    pub reachable: u32,
    /// Buckets where it was partly blocked.
    pub partly: u32,
    /// Buckets where it was blocked.
    pub blocked: u32,
}

/// One probe's view of one app over a window, as the public API gives it (pseudonymous id, country and ASN only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppVerdict {
    /// Pseudonymous probe id.
    pub probe_id: String,
    /// The probe's access when the measurements came over an uplink of another access (`satellite`), else none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uplink_access: Option<&'static str>,
    /// Country.
    pub country: String,
    /// Autonomous system number.
    pub asn: u32,
    /// The app's name (`whatsapp`), as the probe's configuration names it.
    pub app: String,
    /// Its state in the latest bucket of the window it was measured in.
    pub state: AppReach,
    /// The blocking method of that bucket, when blocked or partly.
    pub method: Option<&'static str>,
    /// Start of that bucket, RFC 3339 UTC.
    pub at: String,
    /// Buckets of the window in each state.
    pub buckets: AppBuckets,
}

/// What [`app_verdicts`] keeps.
#[derive(Debug, Clone, Default)]
pub struct AppFilter {
    /// Only probes of this country.
    pub country: Option<String>,
    /// Only probes of this ASN.
    pub asn: Option<u32>,
    /// Only this app.
    pub app: Option<String>,
}

/// Each probe's view of each app it measured in `summaries` (buckets of `bucket_secs`), for registered probes that
/// pass `filter`; ordered by country, ASN, probe and app.
pub fn app_verdicts(
    summaries: &Summaries,
    probes: &[ProbeRecord],
    bucket_secs: i64,
    filter: &AppFilter,
) -> Vec<AppVerdict> {
    let registry: BTreeMap<&str, &ProbeRecord> = probes.iter().map(|p| (p.probe_id.as_str(), p)).collect();
    let mut out = Vec::new();
    for (timeline, buckets) in summaries {
        let (probe_id, uplink_access) = split_timeline(timeline);
        let Some(probe) = registry.get(probe_id) else {
            continue;
        };
        if filter.country.as_ref().is_some_and(|c| *c != probe.profile.country)
            || filter.asn.is_some_and(|a| a != probe.profile.asn)
        {
            continue;
        }
        // App → (its latest bucket, state and method there; the tallies).
        let mut seen: BTreeMap<&str, (Bucket, AppReach, Option<BlockingMethod>, AppBuckets)> = BTreeMap::new();
        for (bucket, s) in buckets {
            let blocked = s.blocked.iter().map(|(name, method)| (name, Some(*method)));
            let reached = s
                .reached
                .iter()
                .filter(|n| !s.blocked.contains_key(*n))
                .map(|n| (n, None));
            for (name, method) in blocked.chain(reached) {
                let Some(app) = name.strip_prefix(APP_LIST_PREFIX).filter(|a| !a.is_empty()) else {
                    continue;
                };
                if filter.app.as_ref().is_some_and(|wanted| wanted != app) {
                    continue;
                }
                let state = match method {
                    None => AppReach::Reachable,
                    Some(_) if s.reached.contains(name) => AppReach::Partly,
                    Some(_) => AppReach::Blocked,
                };
                let entry = seen
                    .entry(app)
                    .or_insert((*bucket, state, method, AppBuckets::default()));
                if *bucket >= entry.0 {
                    (entry.0, entry.1, entry.2) = (*bucket, state, method);
                }
                match state {
                    AppReach::Reachable => entry.3.reachable += 1,
                    AppReach::Partly => entry.3.partly += 1,
                    AppReach::Blocked => entry.3.blocked += 1,
                }
            }
        }
        for (app, (bucket, state, method, tallies)) in seen {
            out.push(AppVerdict {
                probe_id: probe.probe_id.clone(),
                uplink_access: uplink_access.map(|a| a.as_str()),
                country: probe.profile.country.clone(),
                asn: probe.profile.asn,
                app: app.to_owned(),
                state,
                method: method.map(BlockingMethod::as_str),
                at: chrono::DateTime::from_timestamp(bucket * bucket_secs, 0)
                    .map(rfc3339)
                    .unwrap_or_default(),
                buckets: tallies,
            });
        }
    }
    out.sort_by(|a, b| {
        (&a.country, a.asn, &a.probe_id, a.uplink_access, &a.app).cmp(&(
            &b.country,
            b.asn,
            &b.probe_id,
            b.uplink_access,
            &b.app,
        ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccessType, BucketSummary, ProbeProfile};

    fn probe(id: &str, asn: u32) -> ProbeRecord {
        ProbeRecord {
            probe_id: id.to_owned(),
            profile: ProbeProfile {
                name: format!("volunteer {id}"),
                country: "IR".to_owned(),
                asn,
                region: None,
                access: AccessType::Fixed,
                ups: false,
            },
            created_at: chrono::DateTime::UNIX_EPOCH,
            revoked_at: None,
            last_seen: None,
            public_key: None,
        }
    }

    fn bucket(blocked: &[(&str, BlockingMethod)], reached: &[&str]) -> BucketSummary {
        BucketSummary {
            blocked: blocked.iter().map(|(n, m)| ((*n).to_owned(), *m)).collect(),
            reached: reached.iter().map(|n| (*n).to_owned()).collect(),
            ..BucketSummary::default()
        }
    }

    #[test]
    fn each_probe_gets_its_latest_state_of_each_app_and_the_tallies_of_the_window() {
        let mut summaries = Summaries::new();
        summaries.insert(
            "p1".to_owned(),
            BTreeMap::from([
                (10, bucket(&[], &["app:chat", "https://news.example/"])),
                (11, bucket(&[("app:chat", BlockingMethod::IpBlock)], &["app:chat"])),
                (12, bucket(&[("app:chat", BlockingMethod::IpBlock)], &[])),
            ]),
        );
        summaries.insert("p2".to_owned(), BTreeMap::from([(12, bucket(&[], &["app:chat"]))]));
        summaries.insert(
            "ghost".to_owned(),
            BTreeMap::from([(12, bucket(&[("app:chat", BlockingMethod::Dns)], &[]))]),
        );
        let probes = [probe("p1", 1), probe("p2", 2)];
        let all = app_verdicts(&summaries, &probes, 60, &AppFilter::default());
        assert_eq!(
            all.len(),
            2,
            "an unregistered timeline and plain sites are left out: {all:?}"
        );
        let p1 = &all[0];
        assert_eq!((p1.probe_id.as_str(), p1.app.as_str()), ("p1", "chat"));
        assert_eq!((p1.state, p1.method), (AppReach::Blocked, Some("ip_block")));
        assert_eq!(p1.at, "1970-01-01T00:12:00.000Z");
        assert_eq!(
            p1.buckets,
            AppBuckets {
                reachable: 1,
                partly: 1,
                blocked: 1
            }
        );
        assert_eq!((all[1].state, all[1].method), (AppReach::Reachable, None));
        let only_asn_2 = AppFilter {
            asn: Some(2),
            ..AppFilter::default()
        };
        assert_eq!(app_verdicts(&summaries, &probes, 60, &only_asn_2).len(), 1);
        let other_app = AppFilter {
            app: Some("whatsapp".to_owned()),
            ..AppFilter::default()
        };
        assert!(app_verdicts(&summaries, &probes, 60, &other_app).is_empty());
    }
}
