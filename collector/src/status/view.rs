//! What the status page shows, read from the store: ongoing and recent events, a per-country timeline over the
//! chosen window, and the public probe table (pseudonymous ids, regions shared by too few probes not named).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::analysis::load_input;
use crate::classify::ClassifierSettings;
use crate::classify::timeline::{TimelineFilter, TimelinePoint, timeline};
use crate::model::{PublicProbe, public_list};
use crate::store::{EventQuery, Store, StoreError, StoredEvent};

/// Most points one chart draws; longer windows use wider buckets.
const MAX_POINTS: i64 = 288;
/// Countries charted when none is chosen.
const MAX_COUNTRIES: usize = 8;
/// Recent (ended) events listed.
const MAX_RECENT: usize = 50;

/// The page's query string: `?hours=24&country=XL`.
#[derive(Debug, Default, Deserialize)]
pub struct StatusParams {
    /// Window length in hours (1–168, default 24).
    pub hours: Option<i64>,
    /// Only this country (ISO 3166-1 alpha-2).
    pub country: Option<String>,
}

/// One country's series.
#[derive(Debug)]
pub struct CountryView {
    /// ISO code.
    pub country: String,
    /// Active probes registered there.
    pub probes: usize,
    /// Per-bucket series.
    pub points: Vec<TimelinePoint>,
    /// Intervals of that country's events in the window, for shading.
    pub spans: Vec<(i64, i64)>,
}

/// Everything the page renders.
#[derive(Debug)]
pub struct StatusView {
    /// When the page was made.
    pub generated_at: DateTime<Utc>,
    /// Window start, epoch seconds.
    pub from: i64,
    /// Window end (the end of the last complete bucket).
    pub to: i64,
    /// Bucket length of the charts.
    pub step: i64,
    /// Window length in hours.
    pub hours: i64,
    /// The country chosen, if any.
    pub country: Option<String>,
    /// Ongoing events, most confident first.
    pub active: Vec<StoredEvent>,
    /// Events that ended within the window, newest first.
    pub recent: Vec<StoredEvent>,
    /// Charted countries.
    pub countries: Vec<CountryView>,
    /// Countries with probes, for the chooser.
    pub all_countries: Vec<String>,
    /// The public probe table.
    pub probes: Vec<PublicProbe>,
    /// The latest review of each listed event that has one.
    pub reviews: std::collections::HashMap<String, crate::store::EventReview>,
}

/// The chart bucket for a window: the collector's bucket, widened so a chart has at most [`MAX_POINTS`].
fn chart_step(window_secs: i64, bucket_secs: i64) -> i64 {
    let bucket = bucket_secs.max(1);
    let buckets = (window_secs + bucket - 1) / bucket;
    bucket * ((buckets + MAX_POINTS - 1) / MAX_POINTS).max(1)
}

/// Reads what the page shows.
pub async fn load(
    store: &dyn Store,
    params: &StatusParams,
    bucket_secs: i64,
    now: DateTime<Utc>,
) -> Result<StatusView, StoreError> {
    let hours = params.hours.unwrap_or(24).clamp(1, 168);
    let country = params
        .country
        .as_deref()
        .map(str::trim)
        .filter(|c| c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()))
        .map(str::to_ascii_uppercase);
    let step = chart_step(hours * 3600, bucket_secs);
    let to = now.timestamp().div_euclid(step) * step;
    let from = to - hours * 3600;

    let mut events = store
        .events(EventQuery {
            from: Some(from),
            to: Some(now.timestamp() + 1),
            country: country.clone(),
            ..EventQuery::default()
        })
        .await?;
    events.sort_by(|a, b| {
        b.event
            .confidence
            .total_cmp(&a.event.confidence)
            .then(b.event.started_at.cmp(&a.event.started_at))
    });
    let (active, mut recent): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| e.event.ended_at.is_none());
    recent.sort_by_key(|e| std::cmp::Reverse(e.event.ended_at));
    recent.truncate(MAX_RECENT);
    let reviews = crate::review::latest_reviews(store, active.iter().chain(&recent)).await?;

    let registry = store.probes().await?;
    let mut per_country: BTreeMap<&str, usize> = BTreeMap::new();
    for p in registry.iter().filter(|p| p.is_active()) {
        *per_country.entry(p.profile.country.as_str()).or_default() += 1;
    }
    let all_countries: Vec<String> = per_country.keys().map(|c| (*c).to_owned()).collect();
    let mut charted: Vec<(&str, usize)> = match &country {
        Some(c) => per_country
            .get_key_value(c.as_str())
            .map(|(k, v)| (*k, *v))
            .into_iter()
            .collect(),
        None => per_country.iter().map(|(k, v)| (*k, *v)).collect(),
    };
    charted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    charted.truncate(MAX_COUNTRIES);

    let mut countries = Vec::new();
    if !charted.is_empty() {
        let (input, _) = load_input(
            store,
            DateTime::from_timestamp(from, 0).unwrap_or_default(),
            DateTime::from_timestamp(to, 0).unwrap_or_default(),
            step,
            crate::store::aggregates::Reader::public(bucket_secs),
        )
        .await?;
        let settings = ClassifierSettings::default();
        for (c, probes) in charted {
            let filter = TimelineFilter {
                country: Some(c.to_owned()),
                asn: None,
            };
            let spans = active
                .iter()
                .chain(&recent)
                .filter(|e| e.event.scope.country.as_deref() == Some(c))
                .map(|e| (e.event.started_at, e.event.ended_at.unwrap_or(to)))
                .collect();
            countries.push(CountryView {
                country: c.to_owned(),
                probes,
                points: timeline(&input, &filter, &settings),
                spans,
            });
        }
    }

    let probes = public_list(&registry)
        .into_iter()
        .filter(|p| country.as_deref().is_none_or(|c| c == p.country))
        .collect();

    Ok(StatusView {
        generated_at: now,
        from,
        to,
        step,
        hours,
        country,
        active,
        recent,
        countries,
        all_countries,
        probes,
        reviews,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_buckets_widen_to_keep_charts_small() {
        assert_eq!(chart_step(24 * 3600, 300), 300);
        assert_eq!(chart_step(168 * 3600, 300), 2100);
        assert_eq!(chart_step(3600, 5), 15);
        assert!((168 * 3600) / chart_step(168 * 3600, 1) <= MAX_POINTS);
    }
}
