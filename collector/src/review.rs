//! People's review of the classifier's calls. Calling something a shutdown accuses a government, so a
//! shutdown is published as one only after a person has read its evidence and confirmed it (CLASSIFICATION.md
//! §5.5). One rule, [`publication`], says how every public channel — the events API, the status page, the Atom
//! feed and webhooks — names an event: until a person confirms it, a shutdown is a *suspected* shutdown awaiting
//! review (`publication.status` = `suspected`); a rejected call is shown as rejected with the reviewer's note.
//! The API's and webhooks' `class` stays the classifier's call (the contract's closed set), beside the
//! publication that says how to present it. A review covers the class it judged: a revision that changes the
//! class makes the event pending again.

use std::collections::HashMap;

use serde::Serialize;

use crate::model::{BlockedTarget, DisruptionEvent, EventClass, EventScope, Evidence};
use crate::store::{EventReview, ReviewVerdict, Store, StoreError, StoredEvent};

/// Longest review note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// Where an event stands with review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStatus {
    /// Its class is published without review.
    NotRequired,
    /// Its class needs a review that has not happened (or judged another class).
    Pending,
    /// A reviewer confirmed its class.
    Confirmed,
    /// A reviewer rejected its class.
    Rejected,
}

impl ReviewStatus {
    /// Its API name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::NotRequired => "not_required",
            ReviewStatus::Pending => "pending",
            ReviewStatus::Confirmed => "confirmed",
            ReviewStatus::Rejected => "rejected",
        }
    }
}

/// Whether events of this class need a person's review before they are published as such.
pub fn requires_review(class: EventClass) -> bool {
    class == EventClass::Shutdown
}

/// An event's review status given its latest review.
pub fn status(event: &DisruptionEvent, review: Option<&EventReview>) -> ReviewStatus {
    match review.filter(|r| r.class == event.class.as_str()) {
        Some(r) if r.verdict == ReviewVerdict::Confirmed => ReviewStatus::Confirmed,
        Some(_) => ReviewStatus::Rejected,
        None if requires_review(event.class) => ReviewStatus::Pending,
        None => ReviewStatus::NotRequired,
    }
}

/// The review as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewView {
    /// Whether the class needs review before publication.
    pub required: bool,
    /// `not_required`, `pending`, `confirmed` or `rejected`.
    pub status: &'static str,
    /// Who reviewed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    /// When (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewed_at: Option<String>,
    /// The reviewer's note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The API view of an event's review.
pub fn view(event: &DisruptionEvent, review: Option<&EventReview>) -> ReviewView {
    let status = status(event, review);
    let applies = review.filter(|_| matches!(status, ReviewStatus::Confirmed | ReviewStatus::Rejected));
    ReviewView {
        required: requires_review(event.class),
        status: status.as_str(),
        reviewer: applies.map(|r| r.reviewer.clone()),
        reviewed_at: applies.and_then(|r| {
            chrono::DateTime::from_timestamp_millis(r.reviewed_ms)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        }),
        note: applies.map(|r| r.note.clone()),
    }
}

/// The class as public surfaces name it: "shutdown" only once confirmed (through [`publication`]).
fn public_label(event: &DisruptionEvent, status: ReviewStatus) -> String {
    let class = event.class.as_str().replace('_', " ");
    match status {
        ReviewStatus::Pending => format!("suspected {class} (awaiting review)"),
        ReviewStatus::Rejected => format!("{class} call rejected on review"),
        ReviewStatus::Confirmed | ReviewStatus::NotRequired => class,
    }
}

/// How an event is published: the one rule every public channel follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Publication {
    /// `published` (no review needed), `suspected` (needs review, not yet reviewed), `confirmed` or `rejected`.
    pub status: &'static str,
    /// What to call it in public: "suspected shutdown (awaiting review)", "power outage", …
    pub label: String,
}

/// How every public channel (API, status page, feed, webhooks) publishes `event` given its latest review.
pub fn publication(event: &DisruptionEvent, review: Option<&EventReview>) -> Publication {
    let status = status(event, review);
    Publication {
        status: match status {
            ReviewStatus::NotRequired => "published",
            ReviewStatus::Pending => "suspected",
            ReviewStatus::Confirmed => "confirmed",
            ReviewStatus::Rejected => "rejected",
        },
        label: public_label(event, status),
    }
}

/// The latest review of each of `events` that has one.
pub async fn latest_reviews<'a>(
    store: &dyn Store,
    events: impl IntoIterator<Item = &'a StoredEvent>,
) -> Result<HashMap<String, EventReview>, StoreError> {
    let ids: Vec<String> = events.into_iter().map(|e| e.event.id.clone()).collect();
    store.reviews(&ids).await
}

/// A review could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// No event has that id.
    #[error("no event {0}")]
    UnknownEvent(String),
    /// The reviewer must be named.
    #[error("a review needs the reviewer's name (--by)")]
    NoReviewer,
    /// The note is too long.
    #[error("the note is longer than {MAX_NOTE_CHARS} characters")]
    NoteTooLong,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records a reviewer's verdict on an event's current class.
pub async fn record(
    store: &dyn Store,
    event_id: &str,
    verdict: ReviewVerdict,
    reviewer: &str,
    note: &str,
) -> Result<EventReview, ReviewError> {
    let reviewer = reviewer.trim();
    if reviewer.is_empty() {
        return Err(ReviewError::NoReviewer);
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(ReviewError::NoteTooLong);
    }
    let current = store
        .event_revisions(event_id)
        .await?
        .pop()
        .ok_or_else(|| ReviewError::UnknownEvent(event_id.to_owned()))?;
    let review = EventReview {
        event_id: event_id.to_owned(),
        class: current.class.as_str().to_owned(),
        verdict,
        reviewer: reviewer.to_owned(),
        note: note.trim().to_owned(),
        reviewed_ms: chrono::Utc::now().timestamp_millis(),
    };
    if store.save_review(review.clone()).await? {
        Ok(review)
    } else {
        Err(ReviewError::UnknownEvent(event_id.to_owned()))
    }
}

/// One event as every public channel serves it (the events API, `vigil-collector events --json`): RFC 3339
/// times, its revision count, its review and how to present it.
#[derive(Debug, Serialize)]
pub struct PublishedEvent {
    id: String,
    class: &'static str,
    scope: EventScope,
    started_at: String,
    ended_at: Option<String>,
    confidence: f64,
    confidence_level: String,
    affected_probes: usize,
    probes_in_scope: usize,
    evidence: Vec<Evidence>,
    scores: std::collections::BTreeMap<String, i32>,
    revisions: u32,
    targets: Vec<BlockedTarget>,
    review: ReviewView,
    /// How to present it (the publication rule shared by every channel): a shutdown nobody has reviewed is
    /// `suspected`.
    publication: Publication,
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(crate::model::rfc3339)
        .unwrap_or_default()
}

impl PublishedEvent {
    /// The published view of a stored event and its latest review.
    pub fn new(s: StoredEvent, review: Option<&EventReview>) -> Self {
        let publication = publication(&s.event, review);
        let review = view(&s.event, review);
        let e: DisruptionEvent = s.event;
        PublishedEvent {
            id: e.id,
            class: e.class.as_str(),
            scope: e.scope,
            started_at: rfc3339(e.started_at),
            ended_at: e.ended_at.map(rfc3339),
            confidence: e.confidence,
            confidence_level: format!("{:?}", e.confidence_level).to_lowercase(),
            affected_probes: e.affected_probes,
            probes_in_scope: e.probes_in_scope,
            evidence: e.evidence,
            scores: e.scores,
            revisions: s.revisions,
            targets: e.targets,
            review,
            publication,
        }
    }
}

/// Events with their reviews, as published.
pub async fn published(store: &dyn Store, events: Vec<StoredEvent>) -> Result<Vec<PublishedEvent>, StoreError> {
    let reviews = latest_reviews(store, &events).await?;
    Ok(events
        .into_iter()
        .map(|e| {
            let review = reviews.get(&e.event.id);
            PublishedEvent::new(e, review)
        })
        .collect())
}

/// Only the events whose class awaits a review.
pub fn pending_only(events: Vec<StoredEvent>, reviews: &HashMap<String, EventReview>) -> Vec<StoredEvent> {
    events
        .into_iter()
        .filter(|e| status(&e.event, reviews.get(&e.event.id)) == ReviewStatus::Pending)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConfidenceLevel, EventScope};

    fn event(class: EventClass) -> DisruptionEvent {
        DisruptionEvent {
            id: "evt-1".to_owned(),
            class,
            scope: EventScope::default(),
            started_at: 0,
            ended_at: None,
            confidence: 0.9,
            confidence_level: ConfidenceLevel::High,
            affected_probes: 9,
            probes_in_scope: 10,
            evidence: Vec::new(),
            scores: Default::default(),
            targets: Vec::new(),
        }
    }

    fn review(class: &str, verdict: ReviewVerdict) -> EventReview {
        EventReview {
            event_id: "evt-1".to_owned(),
            class: class.to_owned(),
            verdict,
            reviewer: "duty editor".to_owned(),
            note: "checked".to_owned(),
            reviewed_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn shutdowns_wait_for_review_other_classes_do_not() {
        let shutdown = event(EventClass::Shutdown);
        assert_eq!(status(&shutdown, None), ReviewStatus::Pending);
        assert_eq!(
            public_label(&shutdown, ReviewStatus::Pending),
            "suspected shutdown (awaiting review)"
        );
        let confirmed = review("shutdown", ReviewVerdict::Confirmed);
        assert_eq!(status(&shutdown, Some(&confirmed)), ReviewStatus::Confirmed);
        assert_eq!(public_label(&shutdown, ReviewStatus::Confirmed), "shutdown");
        let rejected = review("shutdown", ReviewVerdict::Rejected);
        assert_eq!(status(&shutdown, Some(&rejected)), ReviewStatus::Rejected);
        assert_eq!(status(&event(EventClass::PowerOutage), None), ReviewStatus::NotRequired);
    }

    #[test]
    fn every_channel_publishes_an_unreviewed_shutdown_as_suspected() {
        let shutdown = event(EventClass::Shutdown);
        let pending = publication(&shutdown, None);
        assert_eq!(
            (pending.status, pending.label.as_str()),
            ("suspected", "suspected shutdown (awaiting review)")
        );
        let confirmed = publication(&shutdown, Some(&review("shutdown", ReviewVerdict::Confirmed)));
        assert_eq!((confirmed.status, confirmed.label.as_str()), ("confirmed", "shutdown"));
        let rejected = publication(&shutdown, Some(&review("shutdown", ReviewVerdict::Rejected)));
        assert_eq!(rejected.status, "rejected");
        let outage = publication(&event(EventClass::PowerOutage), None);
        assert_eq!((outage.status, outage.label.as_str()), ("published", "power outage"));
    }

    #[test]
    fn a_review_of_another_class_does_not_count() {
        // Confirmed while `unknown`; then spooled data revised it into a shutdown: pending again.
        let earlier = review("unknown", ReviewVerdict::Confirmed);
        assert_eq!(
            status(&event(EventClass::Shutdown), Some(&earlier)),
            ReviewStatus::Pending
        );
        let view = view(&event(EventClass::Shutdown), Some(&earlier));
        assert_eq!((view.required, view.status, view.reviewer), (true, "pending", None));
    }
}
