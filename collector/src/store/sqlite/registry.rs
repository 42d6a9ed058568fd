//! SQLite: the probe registry (tokens stored as hashes; a batch registration is one transaction).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use vigil_measurement::signature::PublicKey;

use super::read::{PROBE_COLUMNS, probe_from_row};
use super::time::to_ms;
use super::{NewProbe, SqliteStore, TokenHash, with_conn};

use crate::model::ProbeRecord;
use crate::store::{ProbeArrival, ProbeRegistry, StoreError};

#[async_trait]
impl ProbeRegistry for SqliteStore {
    async fn probe_arrivals(&self) -> Result<Vec<ProbeArrival>, StoreError> {
        with_conn(&self.reader, |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT probe_id, carrier, asn, access, first_seen_ms, last_seen_ms, network_country
                 FROM probe_arrivals ORDER BY probe_id, carrier, asn",
            )?;
            let rows = stmt.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, u32>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, i64>(5)?,
                    row.get::<_, Option<String>>(6)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (probe_id, carrier, asn, access, first, last, network_country) = row?;
                out.push(ProbeArrival {
                    probe_id,
                    carrier: (!carrier.is_empty()).then_some(carrier),
                    asn: (asn != 0).then_some(asn),
                    access,
                    network_country,
                    first_seen: super::time::from_ms(first, "probe_arrivals.first_seen_ms")?,
                    last_seen: super::time::from_ms(last, "probe_arrivals.last_seen_ms")?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn register_probes(&self, probes: Vec<NewProbe>) -> Result<usize, StoreError> {
        with_conn(&self.writer, move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(INSERT_PROBE)?;
                for probe in &probes {
                    insert_probe(&mut insert, probe)?;
                }
            }
            tx.commit()?;
            Ok(probes.len())
        })
        .await
    }

    async fn register_probe(&self, probe: NewProbe) -> Result<ProbeRecord, StoreError> {
        with_conn(&self.writer, move |conn| {
            insert_probe(&mut conn.prepare_cached(INSERT_PROBE)?, &probe)?;
            Ok(ProbeRecord {
                probe_id: probe.probe_id,
                profile: probe.profile,
                created_at: probe.created_at,
                revoked_at: None,
                last_seen: None,
                public_key: probe.public_key,
            })
        })
        .await
    }

    async fn probe_by_token(&self, token: TokenHash) -> Result<Option<ProbeRecord>, StoreError> {
        with_conn(&self.reader, move |conn| {
            conn.prepare_cached(&format!("SELECT {PROBE_COLUMNS} FROM probes WHERE token_hash = ?1"))?
                .query_row(params![token.0.as_slice()], probe_from_row)
                .optional()?
                .transpose()
        })
        .await
    }

    async fn probes(&self) -> Result<Vec<ProbeRecord>, StoreError> {
        with_conn(&self.reader, |conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {PROBE_COLUMNS} FROM probes ORDER BY probe_id"))?;
            let rows = stmt.query_map([], probe_from_row)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row??);
            }
            Ok(out)
        })
        .await
    }

    async fn update_probe_profile(
        &self,
        probe_id: &str,
        profile: crate::model::ProbeProfile,
    ) -> Result<bool, StoreError> {
        let probe_id = probe_id.to_owned();
        with_conn(&self.writer, move |conn| {
            let changed = conn.execute(
                "UPDATE probes SET name = ?1, country = ?2, asn = ?3, region = ?4, access = ?5, ups = ?6
                 WHERE probe_id = ?7",
                params![
                    profile.name,
                    profile.country,
                    profile.asn,
                    profile.region,
                    profile.access.as_str(),
                    profile.ups,
                    probe_id
                ],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    async fn revoke_probe(&self, probe_id: &str) -> Result<bool, StoreError> {
        let probe_id = probe_id.to_owned();
        with_conn(&self.writer, move |conn| {
            let changed = conn.execute(
                "UPDATE probes SET revoked_at_ms = ?1 WHERE probe_id = ?2 AND revoked_at_ms IS NULL",
                params![to_ms(chrono::Utc::now()), probe_id],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    async fn set_probe_key(&self, probe_id: &str, key: PublicKey) -> Result<bool, StoreError> {
        let probe_id = probe_id.to_owned();
        with_conn(&self.writer, move |conn| {
            let changed = conn.execute(
                "UPDATE probes SET public_key = ?1 WHERE probe_id = ?2",
                params![key.0.as_slice(), probe_id],
            )?;
            Ok(changed > 0)
        })
        .await
    }
}

/// A new probe's row.
const INSERT_PROBE: &str = "INSERT INTO probes (probe_id, name, country, asn, region, access, ups, token_hash,
    created_at_ms, public_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// Inserts a new probe; a probe id or token already stored is a conflict.
fn insert_probe(insert: &mut rusqlite::CachedStatement<'_>, probe: &NewProbe) -> Result<(), StoreError> {
    let inserted = insert.execute(params![
        probe.probe_id,
        probe.profile.name,
        probe.profile.country,
        probe.profile.asn,
        probe.profile.region,
        probe.profile.access.as_str(),
        probe.profile.ups,
        probe.token_hash.0.as_slice(),
        to_ms(probe.created_at),
        probe.public_key.map(|k| k.0.to_vec()),
    ]);
    match inserted {
        Err(rusqlite::Error::SqliteFailure(err, _)) if err.code == rusqlite::ErrorCode::ConstraintViolation => Err(
            StoreError::Conflict(format!("probe id {} or its token exists", probe.probe_id)),
        ),
        other => other.map(|_| ()).map_err(StoreError::from),
    }
}
