//! ClickHouse: the probe registry (`ReplacingMergeTree` rows by probe; the latest version of a probe wins).

use std::collections::HashMap;

use async_trait::async_trait;
use vigil_measurement::signature::PublicKey;

use super::rows::{ArrivalRow, ProbeRow, SeenRow};
use super::{ClickHouseStore, NewProbe, TokenHash, hex_array, now_ms, with_retry};

use crate::model::{AccessType, ProbeProfile, ProbeRecord};
use crate::store::{ProbeArrival, ProbeRegistry, StoreError};

#[async_trait]
impl ProbeRegistry for ClickHouseStore {
    async fn probe_arrivals(&self) -> Result<Vec<ProbeArrival>, StoreError> {
        let rows: Vec<ArrivalRow> = with_retry("read probe arrivals", || {
            self.client
                .query(
                    "SELECT probe_id, carrier, asn, max(access) AS access, min(first_seen_ms) AS first_seen_ms, \
                     max(seen_ms) AS seen_ms, max(network_country) AS network_country FROM probe_arrivals \
                     GROUP BY probe_id, carrier, asn \
                     ORDER BY probe_id, carrier, asn",
                )
                .fetch_all::<ArrivalRow>()
        })
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ProbeArrival {
                    first_seen: time(r.first_seen_ms, "probe_arrivals.first_seen_ms")?,
                    last_seen: time(r.seen_ms, "probe_arrivals.seen_ms")?,
                    probe_id: r.probe_id,
                    carrier: (!r.carrier.is_empty()).then_some(r.carrier),
                    asn: (r.asn != 0).then_some(r.asn),
                    access: (!r.access.is_empty()).then_some(r.access),
                    network_country: (!r.network_country.is_empty()).then_some(r.network_country),
                })
            })
            .collect()
    }

    async fn register_probes(&self, probes: Vec<NewProbe>) -> Result<usize, StoreError> {
        // One conflict check and one insert for all of them (an import registers thousands).
        if probes.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = probes.iter().map(|p| p.probe_id.clone()).collect();
        let hashes: Vec<String> = probes.iter().map(|p| hex::encode(p.token_hash.0)).collect();
        let unique_ids: std::collections::BTreeSet<&String> = ids.iter().collect();
        let unique_hashes: std::collections::BTreeSet<&String> = hashes.iter().collect();
        if unique_ids.len() < ids.len() || unique_hashes.len() < hashes.len() {
            return Err(StoreError::Conflict("a probe id or token appears twice".to_owned()));
        }
        let clash: u64 = with_retry("probe conflict", || {
            self.client
                .query("SELECT count() FROM probes FINAL WHERE has(?, probe_id) OR has(?, token_hash)")
                .bind(ids.as_slice())
                .bind(hashes.as_slice())
                .fetch_one::<u64>()
        })
        .await?;
        if clash > 0 {
            return Err(StoreError::Conflict("a probe id or its token exists".to_owned()));
        }
        let version = u64::try_from(self.stamp()).unwrap_or(0);
        let rows: Vec<ProbeRow> = probes
            .into_iter()
            .zip(hashes)
            .map(|(probe, hash)| ProbeRow {
                probe_id: probe.probe_id,
                version,
                name: probe.profile.name,
                country: probe.profile.country,
                asn: probe.profile.asn,
                region: probe.profile.region,
                access: probe.profile.access.as_str().to_owned(),
                ups: u8::from(probe.profile.ups),
                token_hash: hash,
                created_ms: probe.created_at.timestamp_millis(),
                revoked_ms: None,
                public_key: probe.public_key.map(|k| hex::encode(k.0)).unwrap_or_default(),
            })
            .collect();
        self.insert("probes", &rows).await?;
        Ok(rows.len())
    }

    async fn register_probe(&self, probe: NewProbe) -> Result<ProbeRecord, StoreError> {
        let hash = hex::encode(probe.token_hash.0);
        let clash: u64 = with_retry("probe conflict", || {
            self.client
                .query("SELECT count() FROM probes FINAL WHERE probe_id = ? OR token_hash = ?")
                .bind(probe.probe_id.as_str())
                .bind(hash.as_str())
                .fetch_one::<u64>()
        })
        .await?;
        if clash > 0 {
            return Err(StoreError::Conflict(format!(
                "probe id {} or its token exists",
                probe.probe_id
            )));
        }
        let row = ProbeRow {
            probe_id: probe.probe_id.clone(),
            version: u64::try_from(self.stamp()).unwrap_or(0),
            name: probe.profile.name.clone(),
            country: probe.profile.country.clone(),
            asn: probe.profile.asn,
            region: probe.profile.region.clone(),
            access: probe.profile.access.as_str().to_owned(),
            ups: u8::from(probe.profile.ups),
            token_hash: hash,
            created_ms: probe.created_at.timestamp_millis(),
            revoked_ms: None,
            public_key: probe.public_key.map(|k| hex::encode(k.0)).unwrap_or_default(),
        };
        self.insert("probes", &[row]).await?;
        Ok(ProbeRecord {
            probe_id: probe.probe_id,
            profile: probe.profile,
            created_at: probe.created_at,
            revoked_at: None,
            last_seen: None,
            public_key: probe.public_key,
        })
    }

    async fn probe_by_token(&self, token: TokenHash) -> Result<Option<ProbeRecord>, StoreError> {
        let hash = hex::encode(token.0);
        let rows = self.probe_rows("WHERE token_hash = ?", Some(&hash)).await?;
        rows.into_iter().next().map(|r| probe_record(r, None)).transpose()
    }

    async fn probes(&self) -> Result<Vec<ProbeRecord>, StoreError> {
        let rows = self.probe_rows("", None).await?;
        let seen: Vec<SeenRow> = with_retry("read last seen", || {
            self.client
                .query("SELECT probe_id, max(seen_ms) AS seen_ms FROM probe_seen GROUP BY probe_id")
                .fetch_all::<SeenRow>()
        })
        .await?;
        let seen: HashMap<String, i64> = seen.into_iter().map(|s| (s.probe_id, s.seen_ms)).collect();
        rows.into_iter()
            .map(|r| {
                let last = seen.get(&r.probe_id).copied();
                probe_record(r, last)
            })
            .collect()
    }

    async fn update_probe_profile(
        &self,
        probe_id: &str,
        profile: crate::model::ProbeProfile,
    ) -> Result<bool, StoreError> {
        let rows = self.probe_rows("WHERE probe_id = ?", Some(probe_id)).await?;
        let Some(mut row) = rows.into_iter().next() else {
            return Ok(false);
        };
        row.version = u64::try_from(self.stamp()).unwrap_or(0);
        row.name = profile.name;
        row.country = profile.country;
        row.asn = profile.asn;
        row.region = profile.region;
        row.access = profile.access.as_str().to_owned();
        row.ups = u8::from(profile.ups);
        self.insert("probes", &[row]).await?;
        Ok(true)
    }

    async fn revoke_probe(&self, probe_id: &str) -> Result<bool, StoreError> {
        let rows = self.probe_rows("WHERE probe_id = ?", Some(probe_id)).await?;
        let Some(mut row) = rows.into_iter().find(|r| r.revoked_ms.is_none()) else {
            return Ok(false);
        };
        row.version = u64::try_from(self.stamp()).unwrap_or(0);
        row.revoked_ms = Some(now_ms());
        self.insert("probes", &[row]).await?;
        Ok(true)
    }

    async fn set_probe_key(&self, probe_id: &str, key: PublicKey) -> Result<bool, StoreError> {
        let rows = self.probe_rows("WHERE probe_id = ?", Some(probe_id)).await?;
        let Some(mut row) = rows.into_iter().next() else {
            return Ok(false);
        };
        row.version = u64::try_from(self.stamp()).unwrap_or(0);
        row.public_key = hex::encode(key.0);
        self.insert("probes", &[row]).await?;
        Ok(true)
    }
}

/// The time stored as epoch milliseconds in `context`.
fn time(ms: i64, context: &'static str) -> Result<chrono::DateTime<chrono::Utc>, StoreError> {
    chrono::DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt {
        context,
        detail: ms.to_string(),
    })
}

fn probe_record(r: ProbeRow, last_seen_ms: Option<i64>) -> Result<ProbeRecord, StoreError> {
    Ok(ProbeRecord {
        probe_id: r.probe_id,
        profile: ProbeProfile {
            name: r.name,
            country: r.country,
            asn: r.asn,
            region: r.region,
            access: AccessType::parse(&r.access).ok_or_else(|| StoreError::Corrupt {
                context: "probes.access",
                detail: r.access.clone(),
            })?,
            ups: r.ups != 0,
        },
        created_at: time(r.created_ms, "probes.created_ms")?,
        revoked_at: r.revoked_ms.map(|ms| time(ms, "probes.revoked_ms")).transpose()?,
        last_seen: last_seen_ms.map(|ms| time(ms, "probe_seen.seen_ms")).transpose()?,
        public_key: match r.public_key.as_str() {
            "" => None,
            text => Some(PublicKey(hex_array(text, "probes.public_key")?)),
        },
    })
}
