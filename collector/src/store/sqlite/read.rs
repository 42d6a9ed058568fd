//! The read path: probes and stored measurements back into typed values.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};
use vigil_measurement::signature::PublicKey;
use vigil_measurement::{Measurement, Outcome};

use super::time::{from_ms, to_ms};
use crate::model::{AccessType, ProbeProfile, ProbeRecord};
use crate::store::{
    MeasurementQuery, SignedBatchQuery, SignedBatchRecord, SignedBody, StoreError, StoredMeasurement, TimeSource,
};

/// Columns [`probe_from_row`] reads, in order.
pub(super) const PROBE_COLUMNS: &str =
    "probe_id, name, country, asn, region, access, ups, created_at_ms, revoked_at_ms, last_seen_ms, public_key";

/// Reads one `probes` row selected with [`PROBE_COLUMNS`].
pub(super) fn probe_from_row(row: &Row<'_>) -> Result<Result<ProbeRecord, StoreError>, rusqlite::Error> {
    let access: String = row.get(5)?;
    let created: i64 = row.get(7)?;
    let revoked: Option<i64> = row.get(8)?;
    let seen: Option<i64> = row.get(9)?;
    let probe_id: String = row.get(0)?;
    let name: String = row.get(1)?;
    let country: String = row.get(2)?;
    let asn: u32 = row.get(3)?;
    let region: Option<String> = row.get(4)?;
    let ups: bool = row.get(6)?;
    let public_key: Option<Vec<u8>> = row.get(10)?;
    Ok((|| {
        Ok(ProbeRecord {
            probe_id,
            profile: ProbeProfile {
                name,
                country,
                asn,
                region,
                access: AccessType::parse(&access).ok_or_else(|| StoreError::Corrupt {
                    context: "probes.access",
                    detail: access.clone(),
                })?,
                ups,
            },
            created_at: from_ms(created, "probes.created_at_ms")?,
            revoked_at: revoked.map(|ms| from_ms(ms, "probes.revoked_at_ms")).transpose()?,
            last_seen: seen.map(|ms| from_ms(ms, "probes.last_seen_ms")).transpose()?,
            public_key: public_key
                .map(|bytes| {
                    <[u8; 32]>::try_from(bytes.as_slice())
                        .map(PublicKey)
                        .map_err(|_| StoreError::Corrupt {
                            context: "probes.public_key",
                            detail: format!("{} bytes", bytes.len()),
                        })
                })
                .transpose()?,
        })
    })())
}

/// Builds the WHERE clause and parameters for a measurement query.
fn filter(query: &MeasurementQuery) -> (String, Vec<Value>) {
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    if let Some(probe_id) = &query.probe_id {
        values.push(Value::Text(probe_id.clone()));
        clauses.push(format!("probe_id = ?{}", values.len()));
    }
    if let Some(kind) = query.kind {
        values.push(Value::Text(kind.as_str().to_owned()));
        clauses.push(format!("kind = ?{}", values.len()));
    }
    if let Some(from) = query.from {
        values.push(Value::Integer(to_ms(from)));
        clauses.push(format!("started_at_ms >= ?{}", values.len()));
    }
    if let Some(to) = query.to {
        values.push(Value::Integer(to_ms(to)));
        clauses.push(format!("started_at_ms < ?{}", values.len()));
    }
    if let Some(after) = query.after_seq {
        values.push(Value::Integer(after));
        clauses.push(format!("seq > ?{}", values.len()));
    }
    if let Some(ids) = &query.ids {
        let mut marks = Vec::with_capacity(ids.len());
        for id in ids {
            values.push(Value::Blob(id.as_bytes().to_vec()));
            marks.push(format!("?{}", values.len()));
        }
        clauses.push(format!("id IN ({})", marks.join(", ")));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (sql, values)
}

/// Stored measurements matching the query, in ingest order.
pub(super) fn measurements(conn: &Connection, query: &MeasurementQuery) -> Result<Vec<StoredMeasurement>, StoreError> {
    let (filter_sql, values) = filter(query);
    let limit = query.limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
    let sql = format!(
        "SELECT seq, probe_id, started_at_ms, time_source, received_at_ms, outcome, body FROM measurements{filter_sql} ORDER BY seq{limit}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let started: Option<i64> = row.get(2)?;
        let source: String = row.get(3)?;
        let outcome: String = row.get(5)?;
        let body: String = row.get(6)?;
        out.push(StoredMeasurement {
            seq: row.get(0)?,
            probe_id: row.get(1)?,
            started_at: started
                .map(|ms| from_ms(ms, "measurements.started_at_ms"))
                .transpose()?,
            time_source: match source.as_str() {
                "probe" => TimeSource::Probe,
                "retimed" => TimeSource::Retimed,
                "pending" => TimeSource::Pending,
                other => {
                    return Err(StoreError::Corrupt {
                        context: "measurements.time_source",
                        detail: other.to_owned(),
                    });
                }
            },
            received_at: from_ms(row.get(4)?, "measurements.received_at_ms")?,
            outcome: serde_json::from_value::<Outcome>(serde_json::Value::String(outcome)).map_err(|e| {
                StoreError::Corrupt {
                    context: "measurements.outcome",
                    detail: e.to_string(),
                }
            })?,
            measurement: Measurement::from_json_slice(body.as_bytes()).map_err(|e| StoreError::Corrupt {
                context: "measurements.body",
                detail: e.to_string(),
            })?,
        });
    }
    Ok(out)
}

/// How many stored measurements match the query.
pub(super) fn count_measurements(conn: &Connection, query: &MeasurementQuery) -> Result<u64, StoreError> {
    let (filter_sql, values) = filter(query);
    let sql = format!("SELECT COUNT(*) FROM measurements{filter_sql}");
    let count: i64 = conn.query_row(&sql, params_from_iter(values), |row| row.get(0))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Signed batches matching the query, by receipt time.
pub(super) fn signed_batches(
    conn: &Connection,
    query: &SignedBatchQuery,
) -> Result<Vec<SignedBatchRecord>, StoreError> {
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    if let Some(probe_id) = &query.probe_id {
        values.push(Value::Text(probe_id.clone()));
        clauses.push(format!("probe_id = ?{}", values.len()));
    }
    if let Some(from) = query.from {
        values.push(Value::Integer(to_ms(from)));
        clauses.push(format!("received_at_ms >= ?{}", values.len()));
    }
    if let Some(to) = query.to {
        values.push(Value::Integer(to_ms(to)));
        clauses.push(format!("received_at_ms < ?{}", values.len()));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let sql = format!(
        "SELECT probe_id, received_at_ms, measurements, encoding, public_key, signature, body, digest
         FROM signed_batches{filter} ORDER BY received_at_ms, digest"
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let corrupt = |context: &'static str, bytes: &[u8]| StoreError::Corrupt {
            context,
            detail: format!("{} bytes", bytes.len()),
        };
        let key: Vec<u8> = row.get(4)?;
        let signature: Vec<u8> = row.get(5)?;
        let digest: Vec<u8> = row.get(7)?;
        let body: Vec<u8> = row.get(6)?;
        let count: i64 = row.get(2)?;
        out.push(SignedBatchRecord {
            probe_id: row.get(0)?,
            received_at: from_ms(row.get(1)?, "signed_batches.received_at_ms")?,
            measurements: u32::try_from(count).unwrap_or(u32::MAX),
            signed: SignedBody {
                digest: <[u8; 32]>::try_from(digest.as_slice())
                    .map_err(|_| corrupt("signed_batches.digest", &digest))?,
                signature: <[u8; 64]>::try_from(signature.as_slice())
                    .map_err(|_| corrupt("signed_batches.signature", &signature))?,
                public_key: PublicKey(
                    <[u8; 32]>::try_from(key.as_slice()).map_err(|_| corrupt("signed_batches.public_key", &key))?,
                ),
                encoding: row.get(3)?,
                body: body.into(),
            },
        });
    }
    Ok(out)
}
