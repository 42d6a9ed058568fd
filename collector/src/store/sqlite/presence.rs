//! SQLite: presence logs (spans and sessions of third-party pseudo-probes).

use async_trait::async_trait;
use rusqlite::params;

use super::{SqliteStore, with_conn};

use crate::store::{PresenceStore, StoreError};

#[async_trait]
impl PresenceStore for SqliteStore {
    async fn save_presence(
        &self,
        span: crate::model::PresenceSpan,
        sessions: Vec<crate::model::PresenceSession>,
    ) -> Result<usize, StoreError> {
        with_conn(&self.writer, move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT OR IGNORE INTO presence_spans (source, from_ms, to_ms) VALUES (?1, ?2, ?3)",
                params![span.source, span.from_ms, span.to_ms],
            )?;
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO presence_sessions (probe_id, connected_ms, disconnected_ms, source, controller)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (probe_id, connected_ms) DO UPDATE SET disconnected_ms = excluded.disconnected_ms,
                         controller = COALESCE(excluded.controller, controller)",
                )?;
                for s in &sessions {
                    upsert.execute(params![
                        s.probe_id,
                        s.connected_ms,
                        s.disconnected_ms,
                        span.source,
                        s.controller
                    ])?;
                }
            }
            tx.commit()?;
            Ok(sessions.len())
        })
        .await
    }

    async fn presence(&self, from_ms: i64, to_ms: i64) -> Result<crate::model::PresenceLog, StoreError> {
        with_conn(&self.reader, move |conn| {
            let mut spans = conn.prepare_cached(
                "SELECT source, from_ms, to_ms FROM presence_spans WHERE from_ms < ?2 AND to_ms > ?1
                 ORDER BY from_ms, source",
            )?;
            let spans = spans
                .query_map(params![from_ms, to_ms], |r| {
                    Ok(crate::model::PresenceSpan {
                        source: r.get(0)?,
                        from_ms: r.get(1)?,
                        to_ms: r.get(2)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut sessions = conn.prepare_cached(
                "SELECT probe_id, connected_ms, disconnected_ms, controller FROM presence_sessions
                 WHERE connected_ms < ?2 AND COALESCE(disconnected_ms, 9223372036854775807) > ?1
                 ORDER BY probe_id, connected_ms",
            )?;
            let sessions = sessions
                .query_map(params![from_ms, to_ms], |r| {
                    Ok(crate::model::PresenceSession {
                        probe_id: r.get(0)?,
                        connected_ms: r.get(1)?,
                        disconnected_ms: r.get(2)?,
                        controller: r.get(3)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(crate::model::PresenceLog { spans, sessions })
        })
        .await
    }
}
