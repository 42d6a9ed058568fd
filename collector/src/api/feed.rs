//! `GET /api/v1/events.atom?country=&class=`: the current events as an Atom feed, newest first, for people who
//! want alerts in a feed reader. An entry's `updated` moves when the event ends, so readers show the change.

use atom_syndication::{Category, Entry, Feed, FixedDateTime, Link, Person, Text};
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use crate::model::DisruptionEvent;
use crate::store::{EventQuery, EventReview};

/// Entries in the feed at most.
const MAX_ENTRIES: usize = 200;

/// Query parameters.
#[derive(Debug, Default, Deserialize)]
pub struct FeedParams {
    country: Option<String>,
    class: Option<String>,
}

fn time(secs: i64) -> FixedDateTime {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .fixed_offset()
}

fn scope_text(e: &DisruptionEvent) -> String {
    let s = &e.scope;
    let place = s.country.clone().unwrap_or_else(|| "all countries".to_owned());
    match s.level.as_str() {
        "asn" => format!("AS{} in {place}", s.asn.unwrap_or(0)),
        "region" => format!("{} ({place})", s.region.as_deref().unwrap_or("a region")),
        "access" => format!("{} access in {place}", s.access.as_deref().unwrap_or("one type of")),
        "probe" => format!("one probe in {place}"),
        "collector" => "the collector".to_owned(),
        _ => place,
    }
}

/// When an entry last changed: its end, or a later review.
fn updated(e: &DisruptionEvent, review: Option<&EventReview>) -> i64 {
    let changed = e.ended_at.unwrap_or(e.started_at);
    review.map_or(changed, |r| changed.max(r.reviewed_ms / 1000))
}

fn entry(e: &DisruptionEvent, revisions: u32, review: Option<&EventReview>) -> Entry {
    let status = crate::review::status(e, review);
    let mut entry = Entry::default();
    entry.set_id(format!("urn:vigil:event:{}", e.id));
    entry.set_title(Text::plain(format!(
        "{}: {}",
        crate::review::publication(e, review).label,
        scope_text(e)
    )));
    entry.set_published(Some(time(e.started_at)));
    entry.set_updated(time(updated(e, review)));
    let when = match e.ended_at {
        Some(end) => format!("from {} to {}", time(e.started_at).to_rfc3339(), time(end).to_rfc3339()),
        None => format!("since {} (ongoing)", time(e.started_at).to_rfc3339()),
    };
    let evidence: Vec<&str> = e.evidence.iter().map(|x| x.text.as_str()).collect();
    let reviewed = match (status, review) {
        (crate::review::ReviewStatus::Pending, _) => " Not yet reviewed by a person.".to_owned(),
        (crate::review::ReviewStatus::Confirmed | crate::review::ReviewStatus::Rejected, Some(r)) => format!(
            " Review: {} by {}{}.",
            r.verdict.as_str(),
            r.reviewer,
            if r.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.note)
            }
        ),
        _ => String::new(),
    };
    entry.set_summary(Some(Text::plain(format!(
        "{} confidence ({:.2}); {} of {} probes; {when}; revision {revisions}. Evidence: {}.{reviewed}",
        format!("{:?}", e.confidence_level).to_lowercase(),
        e.confidence,
        e.affected_probes,
        e.probes_in_scope,
        evidence.join(" | ")
    ))));
    let mut categories = vec![Category {
        term: e.class.as_str().to_owned(),
        ..Category::default()
    }];
    if let Some(country) = &e.scope.country {
        categories.push(Category {
            term: country.clone(),
            ..Category::default()
        });
    }
    entry.set_categories(categories);
    entry
}

pub(super) async fn get_atom(
    State(state): State<AppState>,
    uri: Uri,
    Query(params): Query<FeedParams>,
) -> Result<Response, ApiError> {
    let country = params.country.map(|c| c.to_ascii_uppercase());
    let mut events = state
        .store
        .events(EventQuery {
            country: country.clone(),
            class: params.class.clone(),
            ..EventQuery::default()
        })
        .await
        .map_err(|e| ApiError::from_store(&e, state.ingest.retry_after_secs))?;
    events.sort_by(|a, b| (b.event.started_at, &b.event.id).cmp(&(a.event.started_at, &a.event.id)));
    events.truncate(MAX_ENTRIES);
    let mut feed = Feed::default();
    let filter: Vec<String> = [country, params.class].into_iter().flatten().collect();
    feed.set_id(format!("urn:vigil:events:{}", filter.join(":")));
    feed.set_title(Text::plain(if filter.is_empty() {
        "Vigil: internet disruptions".to_owned()
    } else {
        format!("Vigil: internet disruptions ({})", filter.join(", "))
    }));
    let reviews = crate::review::latest_reviews(state.store.as_ref(), &events)
        .await
        .map_err(|e| ApiError::from_store(&e, state.ingest.retry_after_secs))?;
    let newest = events
        .iter()
        .map(|e| updated(&e.event, reviews.get(&e.event.id)))
        .max()
        .unwrap_or(0);
    feed.set_updated(time(newest));
    // RFC 4287 §4.1.1: an author (for the feed, so every entry has one) and a link to the feed itself, relative
    // to where it was fetched (a reverse proxy may put it under another host name).
    feed.set_authors(vec![Person {
        name: "Vigil collector".to_owned(),
        ..Person::default()
    }]);
    feed.set_links(vec![Link {
        href: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned()),
        rel: "self".to_owned(),
        mime_type: Some("application/atom+xml".to_owned()),
        ..Link::default()
    }]);
    feed.set_entries(
        events
            .iter()
            .map(|e| entry(&e.event, e.revisions, reviews.get(&e.event.id)))
            .collect::<Vec<_>>(),
    );
    let body = feed
        .write_to(Vec::new())
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "feed_error", e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], body).into_response())
}
