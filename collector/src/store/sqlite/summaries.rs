//! The embedded store's side of the materialised bucket summaries: its change log is the measurements' own
//! ingest order (`seq`; one writer, so positions commit in order), summaries are JSON in `bucket_summaries`.

use std::ops::Range;

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use vigil_measurement::Measurement;

use super::time::from_ms;
use super::{SqliteStore, with_conn};

use crate::model::{AccessType, Bucket, Partial, Partials, Placed, SummaryBuilder};
use crate::store::{AggregateState, Changes, Placement, StoreError, SummaryStore};

/// Probe ids per query (SQLite binds at most a few thousand values on older builds).
const PROBES_PER_QUERY: usize = 500;

/// The bookkeeping of one bucket length.
pub(super) fn state(conn: &Connection, bucket_secs: i64) -> Result<Option<AggregateState>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT cursor, covered_from, refreshed_us FROM aggregate_state WHERE bucket_secs = ?1")?
        .query_row(params![bucket_secs], |row| {
            Ok(AggregateState {
                bucket_secs,
                cursor: row.get(0)?,
                covered_from: row.get(1)?,
                refreshed_us: row.get(2)?,
            })
        })
        .optional()?)
}

/// Saves one bucket length's bookkeeping.
pub(super) fn save_state(conn: &Connection, state: &AggregateState) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO aggregate_state (bucket_secs, cursor, covered_from, refreshed_us) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (bucket_secs) DO UPDATE SET cursor = excluded.cursor, covered_from = excluded.covered_from,
            refreshed_us = excluded.refreshed_us",
    )?
    .execute(params![
        state.bucket_secs,
        state.cursor,
        state.covered_from,
        state.refreshed_us
    ])?;
    Ok(())
}

/// The highest ingest position.
pub(super) fn head(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM measurements", [], |row| row.get(0))?)
}

/// Probe-minutes of synced measurements stored after `cursor`.
pub(super) fn changes_since(conn: &Connection, cursor: i64) -> Result<Changes, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT probe_id, started_at_ms / 60000 - (started_at_ms % 60000 < 0) FROM measurements
         WHERE seq > ?1 AND time_source = 'probe'",
    )?;
    let probe_minutes = stmt
        .query_map(params![cursor], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<Vec<(String, i64)>, _>>()?;
    let next: i64 = conn.query_row(
        "SELECT COALESCE(MAX(seq), ?1) FROM measurements WHERE seq > ?1",
        params![cursor],
        |row| row.get(0),
    )?;
    Ok(Changes { probe_minutes, next })
}

/// Folds the raw rows placed as `placement` in `buckets`, of `probes` or of all.
pub(super) fn placed_partials(
    conn: &Connection,
    bucket_secs: i64,
    buckets: Range<Bucket>,
    placement: Placement,
    probes: Option<&[String]>,
) -> Result<Partials, StoreError> {
    let bucket_ms = bucket_secs.max(1) * 1000;
    let source = match placement {
        Placement::Synced => "probe",
        Placement::Retimed => "retimed",
    };
    let mut base = vec![
        Value::Text(source.to_owned()),
        Value::Integer(buckets.start.saturating_mul(bucket_ms)),
    ];
    let mut sql =
        "SELECT probe_id, started_at_ms, body, access FROM measurements WHERE time_source = ?1 AND started_at_ms >= ?2"
            .to_owned();
    if let Some(end) = buckets.end.checked_mul(bucket_ms) {
        base.push(Value::Integer(end));
        sql.push_str(" AND started_at_ms < ?3");
    }
    let mut builder = SummaryBuilder::for_buckets(bucket_secs, buckets);
    let all = [None];
    let chunks: Vec<Option<&[String]>> = match probes {
        Some(list) => list.chunks(PROBES_PER_QUERY).map(Some).collect(),
        None => all.to_vec(),
    };
    for chunk in chunks {
        let mut values = base.clone();
        let mut query = sql.clone();
        if let Some(ids) = chunk {
            let marks: Vec<String> = (0..ids.len()).map(|i| format!("?{}", base.len() + 1 + i)).collect();
            query.push_str(&format!(" AND probe_id IN ({})", marks.join(", ")));
            values.extend(ids.iter().map(|id| Value::Text(id.clone())));
        }
        let mut stmt = conn.prepare(&query)?;
        let mut rows = stmt.query(params_from_iter(values))?;
        while let Some(row) = rows.next()? {
            let probe_id: String = row.get(0)?;
            let started_at = from_ms(row.get(1)?, "measurements.started_at_ms")?;
            let body: String = row.get(2)?;
            let measurement = Measurement::from_json_slice(body.as_bytes()).map_err(|e| StoreError::Corrupt {
                context: "measurements.body",
                detail: e.to_string(),
            })?;
            let access: String = row.get(3)?;
            builder.add(Placed {
                probe_id: &probe_id,
                access: AccessType::parse(&access).ok_or_else(|| StoreError::Corrupt {
                    context: "measurements.access",
                    detail: format!("unknown access type {access}"),
                })?,
                started_at,
                measurement: &measurement,
            });
        }
    }
    Ok(builder.finish_partials())
}

/// Upserts partials; a stored one of a later version stays.
pub(super) fn save_partials(
    conn: &mut Connection,
    bucket_secs: i64,
    version: i64,
    partials: &Partials,
) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO bucket_summaries (bucket_secs, bucket, probe_id, version, summary) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (bucket_secs, bucket, probe_id) DO UPDATE SET version = excluded.version,
                summary = excluded.summary WHERE excluded.version >= bucket_summaries.version",
        )?;
        for ((probe_id, bucket), partial) in partials {
            let summary = serde_json::to_string(partial).map_err(|e| StoreError::Corrupt {
                context: "bucket_summaries.summary",
                detail: e.to_string(),
            })?;
            upsert.execute(params![bucket_secs, bucket, probe_id, version, summary])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// The materialised partials of `buckets`.
pub(super) fn stored_partials(
    conn: &Connection,
    bucket_secs: i64,
    buckets: Range<Bucket>,
) -> Result<Partials, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT probe_id, bucket, summary FROM bucket_summaries WHERE bucket_secs = ?1 AND bucket >= ?2 AND bucket < ?3",
    )?;
    let mut rows = stmt.query(params![bucket_secs, buckets.start, buckets.end])?;
    let mut out = Partials::new();
    while let Some(row) = rows.next()? {
        let text: String = row.get(2)?;
        let partial: Partial = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            context: "bucket_summaries.summary",
            detail: e.to_string(),
        })?;
        out.insert((row.get(0)?, row.get(1)?), partial);
    }
    Ok(out)
}

#[async_trait]
impl SummaryStore for SqliteStore {
    async fn bucket_summaries(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        bucket_secs: i64,
    ) -> Result<crate::model::Summaries, StoreError> {
        crate::store::fold_raw_rows(self, from, to, bucket_secs).await
    }

    async fn aggregate_state(&self, bucket_secs: i64) -> Result<Option<crate::store::AggregateState>, StoreError> {
        with_conn(&self.reader, move |conn| state(conn, bucket_secs)).await
    }

    async fn save_aggregate_state(&self, state: crate::store::AggregateState) -> Result<(), StoreError> {
        with_conn(&self.writer, move |conn| save_state(conn, &state)).await
    }

    async fn change_head(&self) -> Result<i64, StoreError> {
        with_conn(&self.reader, |conn| head(conn)).await
    }

    async fn changes_since(&self, cursor: i64) -> Result<crate::store::Changes, StoreError> {
        with_conn(&self.reader, move |conn| changes_since(conn, cursor)).await
    }

    async fn placed_partials(
        &self,
        bucket_secs: i64,
        buckets: std::ops::Range<crate::model::Bucket>,
        placement: crate::store::Placement,
        probes: Option<&[String]>,
    ) -> Result<crate::model::Partials, StoreError> {
        let probes = probes.map(<[String]>::to_vec);
        with_conn(&self.reader, move |conn| {
            placed_partials(conn, bucket_secs, buckets, placement, probes.as_deref())
        })
        .await
    }

    async fn save_partials(
        &self,
        bucket_secs: i64,
        version: i64,
        partials: &crate::model::Partials,
    ) -> Result<(), StoreError> {
        if partials.is_empty() {
            return Ok(());
        }
        let partials = partials.clone();
        with_conn(&self.writer, move |conn| {
            save_partials(conn, bucket_secs, version, &partials)
        })
        .await
    }

    async fn stored_partials(
        &self,
        bucket_secs: i64,
        buckets: std::ops::Range<crate::model::Bucket>,
    ) -> Result<crate::model::Partials, StoreError> {
        with_conn(&self.reader, move |conn| stored_partials(conn, bucket_secs, buckets)).await
    }
}
