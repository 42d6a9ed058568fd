//! The webhook outbox on the embedded store: one row per (hook, delivery); pending rows are the queue, finished
//! ones stay (body emptied) so a transition computed again after a restart is not delivered twice by the queue.

use async_trait::async_trait;
use rusqlite::{Connection, params};

use super::{SqliteStore, with_conn};

use crate::store::{OutboxEntry, OutboxStore, StoreError};

/// Queues `entries` (skipping those already known), then drops each touched hook's oldest pending rows beyond
/// `max_per_hook`; returns how many were dropped. One transaction.
pub(super) fn push(conn: &mut Connection, entries: &[OutboxEntry], max_per_hook: usize) -> Result<usize, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut hooks: Vec<&str> = Vec::new();
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO webhook_outbox (seq, hook, delivery, body, attempts, next_attempt_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (hook, delivery) DO NOTHING",
        )?;
        for e in entries {
            insert.execute(params![
                e.seq,
                e.hook,
                e.delivery,
                e.body,
                e.attempts,
                e.next_attempt_ms
            ])?;
            if !hooks.contains(&e.hook.as_str()) {
                hooks.push(&e.hook);
            }
        }
    }
    let keep = i64::try_from(max_per_hook).unwrap_or(i64::MAX);
    let mut dropped = 0;
    for hook in hooks {
        dropped += tx.execute(
            "UPDATE webhook_outbox SET state = 'dropped', body = '' WHERE hook = ?1 AND state = 'pending' AND seq IN
               (SELECT seq FROM webhook_outbox WHERE hook = ?1 AND state = 'pending' ORDER BY seq DESC LIMIT -1 OFFSET ?2)",
            params![hook, keep],
        )?;
    }
    tx.commit()?;
    Ok(dropped)
}

/// The first `limit` pending deliveries of `hook`, in queue order.
pub(super) fn pending(conn: &Connection, hook: &str, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, delivery, body, attempts, next_attempt_ms FROM webhook_outbox
         WHERE hook = ?1 AND state = 'pending' ORDER BY seq, delivery LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![hook, i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
        Ok(OutboxEntry {
            hook: hook.to_owned(),
            seq: r.get(0)?,
            delivery: r.get(1)?,
            body: r.get(2)?,
            attempts: r.get(3)?,
            next_attempt_ms: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records a failed attempt.
pub(super) fn retry_at(
    conn: &Connection,
    hook: &str,
    delivery: &str,
    attempts: u32,
    next_attempt_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE webhook_outbox SET attempts = ?3, next_attempt_ms = ?4 WHERE hook = ?1 AND delivery = ?2",
        params![hook, delivery, attempts, next_attempt_ms],
    )?;
    Ok(())
}

/// Takes a delivery off the queue.
pub(super) fn finish(conn: &Connection, hook: &str, delivery: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE webhook_outbox SET state = 'done', body = '' WHERE hook = ?1 AND delivery = ?2",
        params![hook, delivery],
    )?;
    Ok(())
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn outbox_push(
        &self,
        entries: Vec<crate::store::OutboxEntry>,
        max_per_hook: usize,
    ) -> Result<usize, StoreError> {
        with_conn(&self.writer, move |conn| self::push(conn, &entries, max_per_hook)).await
    }

    async fn outbox_pending(&self, hook: &str, limit: usize) -> Result<Vec<crate::store::OutboxEntry>, StoreError> {
        let hook = hook.to_owned();
        with_conn(&self.writer, move |conn| self::pending(conn, &hook, limit)).await
    }

    async fn outbox_retry_at(
        &self,
        hook: &str,
        delivery: &str,
        attempts: u32,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError> {
        let (hook, delivery) = (hook.to_owned(), delivery.to_owned());
        with_conn(&self.writer, move |conn| {
            self::retry_at(conn, &hook, &delivery, attempts, next_attempt_ms)
        })
        .await
    }

    async fn outbox_finish(&self, hook: &str, delivery: &str) -> Result<(), StoreError> {
        let (hook, delivery) = (hook.to_owned(), delivery.to_owned());
        with_conn(&self.writer, move |conn| self::finish(conn, &hook, &delivery)).await
    }
}
