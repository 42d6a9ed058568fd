//! Events and their revisions in the embedded store.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Transaction, params};

use super::time::to_ms;
use super::{SqliteStore, with_conn};

use crate::model::DisruptionEvent;
use crate::store::events::{event_body, event_from_body};
use crate::store::{EventQuery, EventReview, EventSaveSummary, EventStore, ReviewVerdict, StoreError, StoredEvent};

pub(super) fn save(
    tx: &Transaction<'_>,
    from: i64,
    to: i64,
    events: &[DisruptionEvent],
    now_ms: i64,
) -> Result<EventSaveSummary, StoreError> {
    let mut summary = EventSaveSummary::default();
    for e in events {
        let body = event_body(e)?;
        let existing: Option<(String, u32, Option<i64>)> = tx
            .prepare_cached("SELECT body, revisions, retracted_at_ms FROM events WHERE id = ?1")?
            .query_row(params![e.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let revision = match existing {
            None => {
                summary.opened += 1;
                1
            }
            Some((old, revisions, retracted)) => {
                let changed = retracted.is_some() || event_from_body(&old)?.revision_key() != e.revision_key();
                if !changed {
                    // Same call: refresh the wording and evidence, keep the revision count.
                    tx.execute(
                        "UPDATE events SET body = ?2, updated_at_ms = ?3 WHERE id = ?1",
                        params![e.id, body, now_ms],
                    )?;
                    continue;
                }
                summary.revised += 1;
                revisions + 1
            }
        };
        tx.execute(
            "INSERT INTO events (id, class, scope_level, country, asn, started_at_ms, ended_at_ms, confidence_level,
                revisions, retracted_at_ms, updated_at_ms, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, ?10, ?11)
             ON CONFLICT (id) DO UPDATE SET class = excluded.class, ended_at_ms = excluded.ended_at_ms,
                confidence_level = excluded.confidence_level, revisions = excluded.revisions,
                retracted_at_ms = NULL, updated_at_ms = excluded.updated_at_ms, body = excluded.body",
            params![
                e.id,
                e.class.as_str(),
                e.scope.level,
                e.scope.country,
                e.scope.asn,
                e.started_at * 1000,
                e.ended_at.map(|t| t * 1000),
                format!("{:?}", e.confidence_level).to_lowercase(),
                revision,
                now_ms,
                body,
            ],
        )?;
        tx.execute(
            "INSERT INTO event_revisions (event_id, revision, recorded_at_ms, class, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![e.id, revision, now_ms, e.class.as_str(), body],
        )?;
    }
    // Events of this window the run did not find again are retracted (kept, with their history).
    let ids: std::collections::BTreeSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let stale: Vec<String> = tx
        .prepare_cached(
            "SELECT id FROM events WHERE started_at_ms >= ?1 AND started_at_ms < ?2 AND retracted_at_ms IS NULL",
        )?
        .query_map(params![from * 1000, to * 1000], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in stale.iter().filter(|id| !ids.contains(id.as_str())) {
        tx.execute(
            "UPDATE events SET retracted_at_ms = ?2, updated_at_ms = ?2 WHERE id = ?1",
            params![id, now_ms],
        )?;
        summary.retracted += 1;
    }
    Ok(summary)
}

pub(super) fn query(conn: &rusqlite::Connection, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT body, revisions FROM events WHERE retracted_at_ms IS NULL
           AND (?1 IS NULL OR COALESCE(ended_at_ms, 9223372036854775807) > ?1)
           AND (?2 IS NULL OR started_at_ms < ?2)
           AND (?3 IS NULL OR country = ?3)
           AND (?4 IS NULL OR asn = ?4)
           AND (?5 IS NULL OR class = ?5)
         ORDER BY started_at_ms, id",
    )?;
    let rows = stmt.query_map(
        params![
            q.from.map(|t| t * 1000),
            q.to.map(|t| t * 1000),
            q.country,
            q.asn,
            q.class
        ],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)),
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (body, revisions) = row?;
        out.push(StoredEvent {
            event: event_from_body(&body)?,
            revisions,
        });
    }
    Ok(out)
}

pub(super) fn revisions(conn: &rusqlite::Connection, id: &str) -> Result<Vec<DisruptionEvent>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT body FROM event_revisions WHERE event_id = ?1 ORDER BY revision")?;
    let rows = stmt.query_map(params![id], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(event_from_body(&row?)?);
    }
    Ok(out)
}

/// Stores a review if the event exists (retracted or not: a reviewer may reject what the classifier dropped).
pub(super) fn save_review(conn: &mut rusqlite::Connection, r: &EventReview) -> Result<bool, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let exists: bool = tx
        .prepare_cached("SELECT 1 FROM events WHERE id = ?1")?
        .exists(params![r.event_id])?;
    if exists {
        tx.execute(
            "INSERT INTO event_reviews (event_id, reviewed_ms, class, verdict, reviewer, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (event_id, reviewed_ms) DO UPDATE SET class = excluded.class, verdict = excluded.verdict,
               reviewer = excluded.reviewer, note = excluded.note",
            params![
                r.event_id,
                r.reviewed_ms,
                r.class,
                r.verdict.as_str(),
                r.reviewer,
                r.note
            ],
        )?;
    }
    tx.commit()?;
    Ok(exists)
}

/// The latest review of each event in `ids`.
pub(super) fn reviews(
    conn: &rusqlite::Connection,
    ids: &[String],
) -> Result<std::collections::HashMap<String, EventReview>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT event_id, reviewed_ms, class, verdict, reviewer, note FROM event_reviews
         WHERE event_id = ?1 ORDER BY reviewed_ms DESC LIMIT 1",
    )?;
    let mut out = std::collections::HashMap::new();
    for id in ids {
        let row = stmt
            .query_row(params![id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .optional()?;
        if let Some((event_id, reviewed_ms, class, verdict, reviewer, note)) = row {
            let verdict = ReviewVerdict::parse(&verdict).ok_or_else(|| StoreError::Corrupt {
                context: "event_reviews",
                detail: format!("review of {event_id}: verdict {verdict:?}"),
            })?;
            out.insert(
                event_id.clone(),
                EventReview {
                    event_id,
                    class,
                    verdict,
                    reviewer,
                    note,
                    reviewed_ms,
                },
            );
        }
    }
    Ok(out)
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn save_events(
        &self,
        from: i64,
        to: i64,
        events: Vec<crate::model::DisruptionEvent>,
    ) -> Result<crate::store::EventSaveSummary, StoreError> {
        with_conn(&self.writer, move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let summary = self::save(&tx, from, to, &events, to_ms(chrono::Utc::now()))?;
            tx.commit()?;
            Ok(summary)
        })
        .await
    }

    async fn events(&self, query: crate::store::EventQuery) -> Result<Vec<crate::store::StoredEvent>, StoreError> {
        with_conn(&self.reader, move |conn| self::query(conn, &query)).await
    }

    async fn event_revisions(&self, id: &str) -> Result<Vec<crate::model::DisruptionEvent>, StoreError> {
        let id = id.to_owned();
        with_conn(&self.reader, move |conn| self::revisions(conn, &id)).await
    }

    async fn save_review(&self, review: crate::store::EventReview) -> Result<bool, StoreError> {
        with_conn(&self.writer, move |conn| self::save_review(conn, &review)).await
    }

    async fn reviews(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, crate::store::EventReview>, StoreError> {
        let ids = ids.to_vec();
        with_conn(&self.reader, move |conn| self::reviews(conn, &ids)).await
    }
}
