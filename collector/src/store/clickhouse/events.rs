//! ClickHouse: events with every revision kept, retraction, and reviews.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;

use super::rows::{EventRow, ReviewRow, RevisionRow};
use super::{
    BindValue, ClickHouseStore, EventQuery, EventReview, EventSaveSummary, ID_LOOKUP_CHUNK, ReviewVerdict, StoredEvent,
    bind_all, now_ms, quoted_list, with_retry,
};

use crate::model::DisruptionEvent;
use crate::store::events::{event_body, event_from_body};
use crate::store::{EventStore, StoreError};

#[async_trait]
impl EventStore for ClickHouseStore {
    async fn save_events(
        &self,
        from: i64,
        to: i64,
        events: Vec<DisruptionEvent>,
    ) -> Result<EventSaveSummary, StoreError> {
        let now = now_ms();
        let mut summary = EventSaveSummary::default();
        let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
        let existing: HashMap<String, EventRow> = self
            .event_rows(&ids)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let mut rows = Vec::new();
        let mut revisions = Vec::new();
        for e in &events {
            let body = event_body(e)?;
            let revision = match existing.get(&e.id) {
                None => {
                    summary.opened += 1;
                    1
                }
                Some(old) => {
                    let changed =
                        old.retracted_ms.is_some() || event_from_body(&old.body)?.revision_key() != e.revision_key();
                    if !changed {
                        // Same call: refresh wording and evidence, keep the revision count.
                        rows.push(event_row(e, body, old.revisions, None, now, self.stamp()));
                        continue;
                    }
                    summary.revised += 1;
                    old.revisions + 1
                }
            };
            revisions.push(RevisionRow {
                id: e.id.clone(),
                revision,
                recorded_ms: now,
                class: e.class.as_str().to_owned(),
                body: body.clone(),
            });
            rows.push(event_row(e, body, revision, None, now, self.stamp()));
        }
        // Events of the window the run did not find again are retracted (kept, with their history).
        let stale: Vec<EventRow> = with_retry("read window events", || {
            self.client
                .query(
                    "SELECT ?fields FROM events FINAL WHERE started_ms >= ? AND started_ms < ? \
                     AND retracted_ms IS NULL",
                )
                .bind(from * 1000)
                .bind(to * 1000)
                .fetch_all::<EventRow>()
        })
        .await?;
        let found: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        for mut row in stale.into_iter().filter(|r| !found.contains(r.id.as_str())) {
            row.version = u64::try_from(self.stamp()).unwrap_or(0);
            row.retracted_ms = Some(now);
            row.updated_ms = now;
            rows.push(row);
            summary.retracted += 1;
        }
        // Revisions first: an event row never points at a revision that is not there.
        self.insert("event_revisions", &revisions).await?;
        self.insert("events", &rows).await?;
        Ok(summary)
    }

    async fn events(&self, query: EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let mut clauses = vec!["retracted_ms IS NULL".to_owned()];
        let mut q_binds: Vec<BindValue> = Vec::new();
        if let Some(from) = query.from {
            clauses.push(format!(
                "ifNull(ended_ms, toInt64(9223372036854775807)) > {}",
                from * 1000
            ));
        }
        if let Some(to) = query.to {
            clauses.push(format!("started_ms < {}", to * 1000));
        }
        if let Some(country) = &query.country {
            clauses.push("country = ?".to_owned());
            q_binds.push(BindValue::Text(country.clone()));
        }
        if let Some(asn) = query.asn {
            clauses.push(format!("asn = {asn}"));
        }
        if let Some(class) = &query.class {
            clauses.push("class = ?".to_owned());
            q_binds.push(BindValue::Text(class.clone()));
        }
        let sql = format!(
            "SELECT ?fields FROM events FINAL WHERE {} ORDER BY started_ms, id",
            clauses.join(" AND ")
        );
        let rows: Vec<EventRow> = with_retry("read events", || {
            bind_all(self.client.query(&sql), &q_binds).fetch_all::<EventRow>()
        })
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredEvent {
                    event: event_from_body(&r.body)?,
                    revisions: r.revisions,
                })
            })
            .collect()
    }

    async fn event_revisions(&self, id: &str) -> Result<Vec<DisruptionEvent>, StoreError> {
        let rows: Vec<RevisionRow> = with_retry("read revisions", || {
            self.client
                .query("SELECT ?fields FROM event_revisions FINAL WHERE id = ? ORDER BY revision")
                .bind(id)
                .fetch_all::<RevisionRow>()
        })
        .await?;
        rows.iter().map(|r| event_from_body(&r.body)).collect()
    }

    async fn save_review(&self, review: EventReview) -> Result<bool, StoreError> {
        if self
            .event_rows(std::slice::from_ref(&review.event_id))
            .await?
            .is_empty()
        {
            return Ok(false);
        }
        let row = ReviewRow {
            id: review.event_id,
            reviewed_ms: review.reviewed_ms,
            class: review.class,
            verdict: review.verdict.as_str().to_owned(),
            reviewer: review.reviewer,
            note: review.note,
        };
        self.insert("event_reviews", &[row]).await?;
        Ok(true)
    }

    async fn reviews(&self, ids: &[String]) -> Result<HashMap<String, EventReview>, StoreError> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(ID_LOOKUP_CHUNK) {
            let sql = format!(
                "SELECT ?fields FROM event_reviews FINAL WHERE id IN ({}) ORDER BY id, reviewed_ms DESC LIMIT 1 BY id",
                quoted_list(chunk)
            );
            let rows: Vec<ReviewRow> =
                with_retry("read reviews", || self.client.query(&sql).fetch_all::<ReviewRow>()).await?;
            for r in rows {
                let verdict = ReviewVerdict::parse(&r.verdict).ok_or_else(|| StoreError::Corrupt {
                    context: "event_reviews",
                    detail: format!("review of {}: verdict {:?}", r.id, r.verdict),
                })?;
                out.insert(
                    r.id.clone(),
                    EventReview {
                        event_id: r.id,
                        class: r.class,
                        verdict,
                        reviewer: r.reviewer,
                        note: r.note,
                        reviewed_ms: r.reviewed_ms,
                    },
                );
            }
        }
        Ok(out)
    }
}

fn event_row(
    e: &DisruptionEvent,
    body: String,
    revisions: u32,
    retracted: Option<i64>,
    now: i64,
    stamp: i64,
) -> EventRow {
    EventRow {
        id: e.id.clone(),
        version: u64::try_from(stamp).unwrap_or(0),
        started_ms: e.started_at * 1000,
        ended_ms: e.ended_at.map(|t| t * 1000),
        class: e.class.as_str().to_owned(),
        country: e.scope.country.clone().unwrap_or_default(),
        asn: e.scope.asn,
        revisions,
        retracted_ms: retracted,
        updated_ms: now,
        body,
    }
}
