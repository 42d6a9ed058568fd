//! ClickHouse: presence logs (spans and sessions of third-party pseudo-probes).

use async_trait::async_trait;

use super::rows::{PresenceRow, PresenceSpanRow};
use super::{ClickHouseStore, with_retry};

use crate::store::{PresenceStore, StoreError};

#[async_trait]
impl PresenceStore for ClickHouseStore {
    async fn save_presence(
        &self,
        span: crate::model::PresenceSpan,
        sessions: Vec<crate::model::PresenceSession>,
    ) -> Result<usize, StoreError> {
        let version = u64::try_from(self.stamp()).unwrap_or(0);
        let rows: Vec<PresenceRow> = sessions
            .into_iter()
            .map(|s| PresenceRow {
                source: span.source.clone(),
                probe_id: s.probe_id,
                connected_ms: s.connected_ms,
                disconnected_ms: s.disconnected_ms,
                version,
                controller: s.controller.unwrap_or_default(),
            })
            .collect();
        self.insert("presence", &rows).await?;
        // A span is stored once: a re-import of the same log finds it there.
        let known: u64 = with_retry("presence span", || {
            self.client
                .query("SELECT count() FROM presence_spans WHERE source = ? AND from_ms = ? AND to_ms = ?")
                .bind(span.source.as_str())
                .bind(span.from_ms)
                .bind(span.to_ms)
                .fetch_one::<u64>()
        })
        .await?;
        if known == 0 {
            let row = PresenceSpanRow {
                source: span.source,
                from_ms: span.from_ms,
                to_ms: span.to_ms,
            };
            self.insert("presence_spans", &[row]).await?;
        }
        Ok(rows.len())
    }

    async fn presence(&self, from_ms: i64, to_ms: i64) -> Result<crate::model::PresenceLog, StoreError> {
        let spans: Vec<PresenceSpanRow> = with_retry("read presence spans", || {
            self.client
                .query(
                    "SELECT ?fields FROM presence_spans WHERE from_ms < ? AND to_ms > ? \
                     ORDER BY from_ms, source",
                )
                .bind(to_ms)
                .bind(from_ms)
                .fetch_all::<PresenceSpanRow>()
        })
        .await?;
        let rows: Vec<PresenceRow> = with_retry("read presence", || {
            self.client
                .query(
                    "SELECT ?fields FROM presence FINAL \
                     WHERE connected_ms < ? AND ifNull(disconnected_ms, toInt64(9223372036854775807)) > ? \
                     ORDER BY probe_id, connected_ms",
                )
                .bind(to_ms)
                .bind(from_ms)
                .fetch_all::<PresenceRow>()
        })
        .await?;
        let mut spans: Vec<crate::model::PresenceSpan> = spans
            .into_iter()
            .map(|r| crate::model::PresenceSpan {
                source: r.source,
                from_ms: r.from_ms,
                to_ms: r.to_ms,
            })
            .collect();
        spans.dedup();
        Ok(crate::model::PresenceLog {
            spans,
            sessions: rows
                .into_iter()
                .map(|r| crate::model::PresenceSession {
                    probe_id: r.probe_id,
                    connected_ms: r.connected_ms,
                    disconnected_ms: r.disconnected_ms,
                    controller: (!r.controller.is_empty()).then_some(r.controller),
                })
                .collect(),
        })
    }
}
