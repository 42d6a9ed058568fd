//! Disruption events as the classifier saved them, every revision kept, and people's reviews of them.

use std::collections::HashMap;

use super::StoreError;
use crate::model::DisruptionEvent;

/// Saves classification runs' events with revisions, and reviews.
#[async_trait::async_trait]
pub trait EventStore: Send + Sync {
    /// Saves a classification run over `[from, to)` (epoch seconds): new events are opened, changed ones get a
    /// new revision (every revision is kept), and events starting in the window that the run no longer found
    /// are retracted.
    async fn save_events(
        &self,
        from: i64,
        to: i64,
        events: Vec<DisruptionEvent>,
    ) -> Result<EventSaveSummary, StoreError>;

    /// Current (not retracted) events matching `query`, by start time.
    async fn events(&self, query: EventQuery) -> Result<Vec<StoredEvent>, StoreError>;

    /// Every revision of one event, oldest first.
    async fn event_revisions(&self, id: &str) -> Result<Vec<DisruptionEvent>, StoreError>;

    /// Records a review of an event (every review is kept; the latest counts). `false` when no such event
    /// exists, nothing stored.
    async fn save_review(&self, review: EventReview) -> Result<bool, StoreError>;

    /// The latest review of each of these events that has one.
    async fn reviews(&self, ids: &[String]) -> Result<HashMap<String, EventReview>, StoreError>;
}

/// Which stored events to read.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Events overlapping `[from, to)`, epoch seconds.
    pub from: Option<i64>,
    /// See `from`.
    pub to: Option<i64>,
    /// Only this country.
    pub country: Option<String>,
    /// Only this ASN.
    pub asn: Option<u32>,
    /// Only this class (`shutdown`, …).
    pub class: Option<String>,
}

/// A person's verdict on an event's class. A shutdown is an accusation against a government: it is published
/// as such only once someone has reviewed the evidence (CLASSIFICATION.md §5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventReview {
    /// The event.
    pub event_id: String,
    /// The class the reviewer judged (a review lapses when a revision changes the class).
    pub class: String,
    /// Confirmed or rejected.
    pub verdict: ReviewVerdict,
    /// Who reviewed (an operator's chosen name or role; shown publicly).
    pub reviewer: String,
    /// Why, in a sentence (shown publicly).
    pub note: String,
    /// When, epoch milliseconds.
    pub reviewed_ms: i64,
}

/// What a reviewer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewVerdict {
    /// The evidence supports the class.
    Confirmed,
    /// It does not.
    Rejected,
}

impl ReviewVerdict {
    /// Its stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewVerdict::Confirmed => "confirmed",
            ReviewVerdict::Rejected => "rejected",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "confirmed" => Some(ReviewVerdict::Confirmed),
            "rejected" => Some(ReviewVerdict::Rejected),
            _ => None,
        }
    }
}

/// An event as stored: the classifier's event, how many revisions it has had, and each revision's body.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The event now.
    pub event: DisruptionEvent,
    /// Revisions so far (1 for an event never revised).
    pub revisions: u32,
}

/// What saving a run's events did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventSaveSummary {
    /// Events seen for the first time.
    pub opened: usize,
    /// Events whose class, confidence, end or size changed.
    pub revised: usize,
    /// Events of the window the run no longer found.
    pub retracted: usize,
}

/// An event's stored body, the same in every backend: the event as JSON.
pub(crate) fn event_body(event: &DisruptionEvent) -> Result<String, StoreError> {
    serde_json::to_string(event).map_err(|e| StoreError::Corrupt {
        context: "events.body",
        detail: e.to_string(),
    })
}

/// The event a stored body holds.
pub(crate) fn event_from_body(body: &str) -> Result<DisruptionEvent, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        context: "events.body",
        detail: e.to_string(),
    })
}
