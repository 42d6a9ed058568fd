//! The webhook outbox on ClickHouse: a versioned `ReplacingMergeTree` read with `FINAL`, one row per hook and
//! delivery. Only the classifying instance delivers (`--role classify`), so the read-then-write of a row's next
//! version has a single writer.

use async_trait::async_trait;

use super::rows::OutboxRow;
use super::{ClickHouseStore, quoted_list, with_retry};

use crate::store::{OutboxEntry, OutboxStore, StoreError};

/// Deliveries per id lookup.
const LOOKUP_CHUNK: usize = 1_000;

fn now_us() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0)
}

fn entry(r: OutboxRow) -> OutboxEntry {
    OutboxEntry {
        hook: r.hook,
        delivery: r.delivery,
        seq: r.seq,
        body: r.body,
        attempts: r.attempts,
        next_attempt_ms: r.next_attempt_ms,
    }
}

impl ClickHouseStore {
    async fn outbox_rows(&self, hook: &str, filter: &str, tail: &str) -> Result<Vec<OutboxRow>, StoreError> {
        let sql = format!("SELECT ?fields FROM webhook_outbox FINAL WHERE hook = ? {filter} {tail}");
        with_retry("read webhook_outbox", || {
            self.client.query(&sql).bind(hook).fetch_all::<OutboxRow>()
        })
        .await
    }

    /// The row of one delivery, in any state.
    async fn outbox_row(&self, hook: &str, delivery: &str) -> Result<Option<OutboxRow>, StoreError> {
        let filter = format!("AND delivery = {}", quoted_list(&[delivery.to_owned()]));
        Ok(self.outbox_rows(hook, &filter, "LIMIT 1").await?.pop())
    }

    /// Writes the next version of `row` with `state` (and an emptied body once finished).
    async fn outbox_next_version(&self, mut row: OutboxRow, state: &str) -> Result<(), StoreError> {
        row.version = now_us().max(row.version + 1);
        row.state = state.to_owned();
        if state != "pending" {
            row.body.clear();
        }
        self.insert("webhook_outbox", &[row]).await
    }

    pub(super) async fn outbox_push_of(
        &self,
        entries: Vec<OutboxEntry>,
        max_per_hook: usize,
    ) -> Result<usize, StoreError> {
        let mut hooks: Vec<String> = entries.iter().map(|e| e.hook.clone()).collect();
        hooks.sort();
        hooks.dedup();
        let mut dropped = 0;
        for hook in hooks {
            let mine: Vec<&OutboxEntry> = entries.iter().filter(|e| e.hook == hook).collect();
            let mut known = std::collections::HashSet::new();
            for chunk in mine.chunks(LOOKUP_CHUNK) {
                let ids: Vec<String> = chunk.iter().map(|e| e.delivery.clone()).collect();
                let filter = format!("AND delivery IN ({})", quoted_list(&ids));
                known.extend(
                    self.outbox_rows(&hook, &filter, "")
                        .await?
                        .into_iter()
                        .map(|r| r.delivery),
                );
            }
            let version = now_us();
            let rows: Vec<OutboxRow> = mine
                .into_iter()
                .filter(|e| !known.contains(&e.delivery))
                .map(|e| OutboxRow {
                    hook: e.hook.clone(),
                    delivery: e.delivery.clone(),
                    seq: e.seq,
                    body: e.body.clone(),
                    attempts: e.attempts,
                    next_attempt_ms: e.next_attempt_ms,
                    state: "pending".to_owned(),
                    version,
                })
                .collect();
            self.insert("webhook_outbox", &rows).await?;
            let over = self
                .outbox_rows(
                    &hook,
                    "AND state = 'pending'",
                    &format!("ORDER BY seq DESC, delivery DESC LIMIT {max_per_hook}, 1000000000"),
                )
                .await?;
            dropped += over.len();
            for row in over {
                self.outbox_next_version(row, "dropped").await?;
            }
        }
        Ok(dropped)
    }

    pub(super) async fn outbox_pending_of(&self, hook: &str, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = self
            .outbox_rows(
                hook,
                "AND state = 'pending'",
                &format!("ORDER BY seq, delivery LIMIT {limit}"),
            )
            .await?;
        Ok(rows.into_iter().map(entry).collect())
    }

    pub(super) async fn outbox_retry_at_of(
        &self,
        hook: &str,
        delivery: &str,
        attempts: u32,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError> {
        if let Some(mut row) = self.outbox_row(hook, delivery).await?.filter(|r| r.state == "pending") {
            row.attempts = attempts;
            row.next_attempt_ms = next_attempt_ms;
            self.outbox_next_version(row, "pending").await?;
        }
        Ok(())
    }

    pub(super) async fn outbox_finish_of(&self, hook: &str, delivery: &str) -> Result<(), StoreError> {
        if let Some(row) = self.outbox_row(hook, delivery).await?.filter(|r| r.state == "pending") {
            self.outbox_next_version(row, "done").await?;
        }
        Ok(())
    }
}

#[async_trait]
impl OutboxStore for ClickHouseStore {
    async fn outbox_push(
        &self,
        entries: Vec<crate::store::OutboxEntry>,
        max_per_hook: usize,
    ) -> Result<usize, StoreError> {
        self.outbox_push_of(entries, max_per_hook).await
    }

    async fn outbox_pending(&self, hook: &str, limit: usize) -> Result<Vec<crate::store::OutboxEntry>, StoreError> {
        self.outbox_pending_of(hook, limit).await
    }

    async fn outbox_retry_at(
        &self,
        hook: &str,
        delivery: &str,
        attempts: u32,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError> {
        self.outbox_retry_at_of(hook, delivery, attempts, next_attempt_ms).await
    }

    async fn outbox_finish(&self, hook: &str, delivery: &str) -> Result<(), StoreError> {
        self.outbox_finish_of(hook, delivery).await
    }
}
