//! The ClickHouse backend: the same [`Store`] contract as the embedded one, for deployments one SQLite file cannot
//! carry. Writes are acknowledged only after ClickHouse accepted them; retryable failures (network, overload) are
//! retried with jittered backoff and then reported as retryable, so ingest answers 503 and probes keep their
//! spools; bad data is a permanent failure.
//!
//! Deduplication on measurement id holds across retries: before a batch is inserted, the ids it carries are
//! looked up by the sorting key (country, ASN, probe, reported time), and copies that slip through concurrent
//! writers are merged by `ReplacingMergeTree` and skipped on read (`LIMIT 1 BY id`). Unsynced clocks are re-timed
//! on read, against each boot's earliest synced reading.

pub mod schema;

mod aggregates;
mod outbox;
mod rows;

use schema::{SCHEMA_VERSION, UPTIME_COLUMN_FOR_OLD_ROWS};

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use clickhouse::Client;
use vigil_measurement::{Measurement, MeasurementResult, Outcome};

use rows::{
    AnchorRow, EventRow, MeasurementRow, PresenceRow, PresenceSpanRow, ProbeRow, ReadRow, ReviewRow, RevisionRow,
    SeenRow, SignedBatchRow,
};
use vigil_measurement::signature::PublicKey;

use super::{
    EventQuery, EventReview, EventSaveSummary, IngestBatch, MeasurementQuery, NewProbe, PreparedWrite, ReviewVerdict,
    SignedBatchQuery, SignedBatchRecord, SignedBody, Store, StoreError, StoredEvent, StoredMeasurement, TimeSource,
    TokenHash, WriteOutcome,
};
use crate::model::{AccessType, ProbeProfile, ProbeRecord};
use crate::model::{AnchorMetric, Summaries, anchor_metric, blocking_method, fingerprint};
use crate::model::{BlockingMethod, DisruptionEvent};

/// Attempts per operation before a retryable failure is reported.
const ATTEMPTS: u32 = 3;
/// Longest a single request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Window of measurements aggregated by one bucket-summary query (rounded down to whole buckets).
const SUMMARY_SLICE_MS: i64 = 2 * 3600 * 1000;
/// Ids per lookup query (each quoted id is 40 bytes; a query may be 256 KiB).
const ID_LOOKUP_CHUNK: usize = 4000;
/// Longest a schema statement may take (`ON CLUSTER` waits for every server).
const DDL_TIMEOUT: Duration = Duration::from_secs(180);
/// How often a probe's last-seen time is written (it is read for the public probe list only).
const SEEN_EVERY_MS: i64 = 60_000;

/// A store on a ClickHouse server.
pub struct ClickHouseStore {
    client: Client,
    url: String,
    database: String,
    server_version: String,
    /// Strictly increasing microsecond stamps: ingest sequence numbers and row versions.
    clock: AtomicI64,
    /// Earliest anchor written per (probe, boot), so each boot's anchor is written once, not per batch.
    anchors: Mutex<HashMap<(String, String), i64>>,
    /// Last-seen time written per probe.
    seen: Mutex<HashMap<String, i64>>,
    /// The (probe id, measurement id) pairs the last successful write stored: the next write's lookup may have
    /// run before they were.
    last_written: Mutex<HashSet<(String, String)>>,
}

impl ClickHouseStore {
    /// Connects to `url` (`http://host:port`), creates `database` and the tables if missing.
    pub async fn open(url: &str, database: &str) -> Result<Self, StoreError> {
        // Inserts into a cluster's distributed tables return once every shard has the rows, so an acknowledged
        // batch is stored, not queued (no effect on a single server's plain tables).
        let root = Client::default()
            .with_url(url)
            .with_validation(false)
            .with_setting("insert_distributed_sync", "1");
        let create = format!("CREATE DATABASE IF NOT EXISTS {database}");
        with_retry("create database", || root.query(&create).execute()).await?;
        let client = root.clone().with_database(database);
        for ddl in schema::single_server_tables() {
            with_retry("create table", || client.query(&ddl).execute()).await?;
        }
        let server_version: String = with_retry("server version", || {
            client.query("SELECT version()").fetch_one::<String>()
        })
        .await?;
        let applied: u32 = with_retry("schema version", || {
            client
                .query("SELECT toUInt32(max(version)) FROM vigil_schema")
                .fetch_one::<u32>()
        })
        .await?;
        if applied > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: i64::from(applied),
                known: i64::from(SCHEMA_VERSION),
            });
        }
        // Version 3 added probes' signing keys: a table made by an older binary gains the column.
        if !has_column(&client, "probes", "public_key").await? {
            tracing::info!("adding probes.public_key (schema 3)");
            with_retry("add probes.public_key", || {
                client
                    .query("ALTER TABLE probes ADD COLUMN public_key String DEFAULT ''")
                    .execute()
            })
            .await?;
        }
        // Version 5 folded the vitals table into measurements: a table made by an older binary gains the uptime
        // column, computed from the stored bodies for the rows it already holds (the old `vitals` table is no
        // longer written).
        // On a cluster an ALTER or RENAME would reach this server's distributed table only: the operator upgrades
        // every server first (docs/deploy/clickhouse.md, "Upgrading a cluster").
        let on_cluster = engine_of(&client, "measurements").await?.as_deref() == Some("Distributed");
        let upgrade_cluster = |what: &str| {
            StoreError::UpgradeNeeded(format!(
                "{what} (schema 5): upgrade every server of the cluster first, see docs/deploy/clickhouse.md, \
                 \"Upgrading a cluster\""
            ))
        };
        if !has_column(&client, "measurements", "v_uptime_s").await? {
            if on_cluster {
                return Err(upgrade_cluster("measurements has no v_uptime_s column"));
            }
            tracing::info!("adding measurements.v_uptime_s (schema 5)");
            with_retry("add measurements.v_uptime_s", || {
                client
                    .query(&format!(
                        "ALTER TABLE measurements ADD COLUMN {UPTIME_COLUMN_FOR_OLD_ROWS}"
                    ))
                    .execute()
            })
            .await?;
        }
        // Version 6 records the controller each presence session ended on; the spans table is created above.
        if !has_column(&client, "presence", "controller").await? {
            if on_cluster {
                return Err(StoreError::UpgradeNeeded(
                    "presence has no controller column (schema 6): upgrade every server of the cluster first, see \
                     docs/deploy/clickhouse.md, \"Upgrading a cluster\""
                        .to_owned(),
                ));
            }
            tracing::info!("adding presence.controller (schema 6)");
            with_retry("add presence.controller", || {
                client
                    .query("ALTER TABLE presence ADD COLUMN controller String DEFAULT ''")
                    .execute()
            })
            .await?;
            // Logs imported before keep the span their sessions show.
            with_retry("presence spans of older imports", || {
                client
                    .query(
                        "INSERT INTO presence_spans (source, from_ms, to_ms) \
                         SELECT source, min(connected_ms), max(ifNull(disconnected_ms, connected_ms)) + 1 \
                         FROM presence FINAL GROUP BY source",
                    )
                    .execute()
            })
            .await?;
        }
        // Schema 5 also made `vitals` a view over measurements: an older database's vitals table is set aside.
        if let Some(engine) = engine_of(&client, "vitals").await?.filter(|e| e != "View") {
            if on_cluster {
                return Err(upgrade_cluster("vitals is still a table"));
            }
            tracing::info!(%engine, "renaming the vitals table to vitals_before_schema_5 (schema 5)");
            with_retry("set the vitals table aside", || {
                client.query("RENAME TABLE vitals TO vitals_before_schema_5").execute()
            })
            .await?;
        }
        for ddl in schema::views(None) {
            with_retry("create view", || client.query(&ddl).execute()).await?;
        }
        if applied < SCHEMA_VERSION {
            let now = now_ms();
            with_retry("record schema version", || {
                client
                    .query("INSERT INTO vigil_schema (version, applied_ms) VALUES (?, ?)")
                    .bind(SCHEMA_VERSION)
                    .bind(now)
                    .execute()
            })
            .await?;
        }
        // Sequence numbers continue after the highest stored one (another collector may be writing too: they
        // are microsecond stamps, so they interleave in time order).
        let max_seq: i64 = with_retry("max seq", || {
            client.query("SELECT max(seq) FROM measurements").fetch_one::<i64>()
        })
        .await?;
        tracing::info!(%url, %database, version = %server_version, "clickhouse store open");
        Ok(ClickHouseStore {
            client,
            url: url.to_owned(),
            database: database.to_owned(),
            server_version,
            clock: AtomicI64::new(max_seq.max(now_ms() * 1000)),
            anchors: Mutex::new(HashMap::new()),
            seen: Mutex::new(HashMap::new()),
            last_written: Mutex::new(HashSet::new()),
        })
    }

    /// The server's version, as it reports it.
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// The next stamp: now in microseconds, or one more than the last.
    fn stamp(&self) -> i64 {
        let now = now_ms() * 1000;
        let mut last = self.clock.load(Ordering::SeqCst);
        loop {
            let next = now.max(last + 1);
            match self
                .clock
                .compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// Which of the sent measurements are already stored for the probe that sent them, as (probe id, measurement
    /// id): one query per chunk of ids for all the call's probes, narrowed by the sorting key (country, ASN,
    /// probe, time) to the time spans of the batches sent.
    async fn stored_ids(&self, sent: &[SentMeasurement<'_>]) -> Result<BTreeSet<(String, String)>, StoreError> {
        let mut found = BTreeSet::new();
        for chunk in sent.chunks(ID_LOOKUP_CHUNK) {
            let countries: BTreeSet<&str> = chunk.iter().map(|m| m.probe.profile.country.as_str()).collect();
            let asns: BTreeSet<u32> = chunk.iter().map(|m| m.probe.profile.asn).collect();
            let probes: BTreeSet<&str> = chunk.iter().map(|m| m.probe.probe_id.as_str()).collect();
            let ids: Vec<&str> = chunk.iter().map(|m| m.id.as_str()).collect();
            // Lists go in as bound arrays the server unpacks: parsing thousands of literals in an `IN (…)` list
            // costs the server more than the lookup itself. One thread: the lookup reads a few granules.
            let sql = format!(
                "SELECT probe_id, id FROM measurements PREWHERE id IN (SELECT arrayJoin(?)) \
                 WHERE country IN (SELECT arrayJoin(?)) AND asn IN (SELECT toUInt32(arrayJoin(?))) \
                 AND probe_id IN (SELECT arrayJoin(?)) AND ({})",
                time_spans(chunk.iter().map(|m| (m.batch, m.reported_ms)))
            );
            let stored: Vec<(String, String)> = with_retry("look up ids", || {
                self.client
                    .query(&sql)
                    .with_setting("max_threads", "1")
                    .bind(&ids)
                    .bind(&countries)
                    .bind(&asns)
                    .bind(&probes)
                    .fetch_all::<(String, String)>()
            })
            .await?;
            found.extend(stored);
        }
        Ok(found)
    }

    /// Inserts rows, retrying retryable failures (a retried insert is deduplicated on read and by merges).
    async fn insert<T>(&self, table: &str, rows: &[T]) -> Result<(), StoreError>
    where
        T: clickhouse::Row + clickhouse::RowWrite + serde::Serialize + Sync,
        for<'a> T: clickhouse::Row<Value<'a> = T>,
    {
        if rows.is_empty() {
            return Ok(());
        }
        with_retry(table, || async {
            let mut insert = self.client.insert::<T>(table).await?;
            for row in rows {
                insert.write(row).await?;
            }
            insert.end().await
        })
        .await
    }

    async fn probe_rows(&self, filter: &str, value: Option<&str>) -> Result<Vec<ProbeRow>, StoreError> {
        let sql = format!("SELECT ?fields FROM probes FINAL {filter} ORDER BY probe_id");
        with_retry("read probes", || {
            let mut q = self.client.query(&sql);
            if let Some(v) = value {
                q = q.bind(v);
            }
            q.fetch_all::<ProbeRow>()
        })
        .await
    }

    async fn event_rows(&self, ids: &[String]) -> Result<Vec<EventRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT ?fields FROM events FINAL WHERE id IN ({})", quoted_list(ids));
        with_retry("read events", || self.client.query(&sql).fetch_all::<EventRow>()).await
    }
}

/// Runs DDL statements (from [`schema`]) on a server, in order; `ON CLUSTER` ones reach the whole cluster.
pub async fn apply_statements(url: &str, statements: &[String]) -> Result<(), StoreError> {
    let client = Client::default().with_url(url).with_validation(false);
    for statement in statements {
        // ON CLUSTER statements wait for every server of the cluster to run them.
        with_retry_within("apply schema", DDL_TIMEOUT, || client.query(statement).execute()).await?;
    }
    Ok(())
}

/// The SQL of a measurement query: the inner select resolves each row's effective time against the boot's
/// anchor; the outer one filters on it. Returns the SQL and the values to bind, in order.
fn measurement_sql(
    query: &MeasurementQuery,
    select: &str,
    tail: &str,
    seq_at_most: Option<i64>,
) -> (String, Vec<BindValue>) {
    let (mut inner, binds) = raw_clauses(query);
    inner.extend(seq_at_most.map(|s| format!("seq <= {s}")));
    let mut outer = Vec::new();
    // Synced rows can be pre-filtered through the sorting key; unsynced ones only once re-timed.
    let (from, to) = (
        query.from.map(|t| t.timestamp_millis()),
        query.to.map(|t| t.timestamp_millis()),
    );
    if from.is_some() || to.is_some() {
        let mut synced = vec!["clock_synced = 1".to_owned()];
        if let Some(f) = from {
            synced.push(format!("reported_ms >= {f}"));
        }
        if let Some(t) = to {
            synced.push(format!("reported_ms < {t}"));
        }
        inner.push(format!("(clock_synced = 0 OR ({}))", synced.join(" AND ")));
        outer.push("source != 'pending'".to_owned());
        if let Some(f) = from {
            outer.push(format!("effective_ms >= {f}"));
        }
        if let Some(t) = to {
            outer.push(format!("effective_ms < {t}"));
        }
    }
    let (where_inner, where_outer) = (where_clause(&inner), where_clause(&outer));
    let sql = format!(
        "SELECT {select} FROM (
            SELECT id, seq, probe_id, received_ms, outcome, body,
                if(clock_synced = 1, reported_ms, if(anchored = 1, mono_ms + offset, toInt64(0))) AS effective_ms,
                if(clock_synced = 1, 'probe', if(anchored = 1, 'retimed', 'pending')) AS source
            FROM measurements GLOBAL ANY LEFT JOIN (
                SELECT probe_id, boot_id, argMin(wall_ms - mono_ms, mono_ms) AS offset, toUInt8(1) AS anchored
                FROM clock_anchors GROUP BY probe_id, boot_id
            ) AS boot_anchor USING (probe_id, boot_id){where_inner}
         ){where_outer}{tail}"
    );
    (sql, binds)
}

/// The conditions of a measurement query on stored columns alone (no time: that needs the anchor join), with
/// the values they bind.
fn raw_clauses(query: &MeasurementQuery) -> (Vec<String>, Vec<BindValue>) {
    let mut clauses = Vec::new();
    let mut binds = Vec::new();
    if let Some(probe_id) = &query.probe_id {
        clauses.push("probe_id = ?".to_owned());
        binds.push(BindValue::Text(probe_id.clone()));
    }
    if let Some(kind) = query.kind {
        clauses.push("kind = ?".to_owned());
        binds.push(BindValue::Text(kind.as_str().to_owned()));
    }
    if let Some(after) = query.after_seq {
        clauses.push("seq > ?".to_owned());
        binds.push(BindValue::Int(after));
    }
    if let Some(ids) = &query.ids {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        clauses.push(if ids.is_empty() {
            "0".to_owned()
        } else {
            format!("id IN ({})", quoted_list(&ids))
        });
    }
    (clauses, binds)
}

/// ` WHERE a AND b`, or nothing.
fn where_clause(clauses: &[String]) -> String {
    if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    }
}

/// A value bound into a query.
#[derive(Debug, Clone)]
enum BindValue {
    Text(String),
    Int(i64),
}

fn bind_all(mut q: clickhouse::query::Query, binds: &[BindValue]) -> clickhouse::query::Query {
    for b in binds {
        q = match b {
            BindValue::Text(s) => q.bind(s.as_str()),
            BindValue::Int(i) => q.bind(*i),
        };
    }
    q
}

#[async_trait]
impl Store for ClickHouseStore {
    fn describe(&self) -> String {
        format!(
            "clickhouse {} database {} (server {})",
            self.url, self.database, self.server_version
        )
    }

    async fn health(&self) -> Result<(), StoreError> {
        with_retry("health", || self.client.query("SELECT 1").fetch_one::<u8>())
            .await
            .map(drop)
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

    async fn signed_batches(&self, query: SignedBatchQuery) -> Result<Vec<SignedBatchRecord>, StoreError> {
        let mut clauses = vec!["1".to_owned()];
        if query.probe_id.is_some() {
            clauses.push("probe_id = ?".into());
        }
        if query.from.is_some() {
            clauses.push("received_ms >= ?".into());
        }
        if query.to.is_some() {
            clauses.push("received_ms < ?".into());
        }
        let sql = format!(
            "SELECT ?fields FROM signed_batches FINAL WHERE {} ORDER BY received_ms, digest",
            clauses.join(" AND ")
        );
        let rows: Vec<SignedBatchRow> = with_retry("read signed batches", || {
            let mut q = self.client.query(&sql);
            if let Some(p) = &query.probe_id {
                q = q.bind(p.as_str());
            }
            if let Some(from) = query.from {
                q = q.bind(from.timestamp_millis());
            }
            if let Some(to) = query.to {
                q = q.bind(to.timestamp_millis());
            }
            q.fetch_all::<SignedBatchRow>()
        })
        .await?;
        rows.into_iter().map(signed_batch_record).collect()
    }

    async fn write_batches(&self, batches: Vec<IngestBatch>) -> Result<Vec<WriteOutcome>, StoreError> {
        let prepared = self.prepare_write(&batches).await?;
        self.write_prepared(batches, prepared).await
    }

    fn prepares_writes(&self) -> bool {
        true
    }

    async fn prepare_write(&self, batches: &[IngestBatch]) -> Result<PreparedWrite, StoreError> {
        let sent: Vec<SentMeasurement<'_>> = batches
            .iter()
            .enumerate()
            .flat_map(|(batch, b)| {
                b.measurements.iter().map(move |m| SentMeasurement {
                    batch,
                    probe: &b.probe,
                    id: m.id.to_string(),
                    reported_ms: m.started_at.timestamp_millis(),
                })
            })
            .collect();
        // Every probe-minute of the call's synced measurements, new or not, is logged before any row is
        // written: logged changes without rows only cost a recomputation, rows without a logged change would be
        // missing from the materialised summaries. Logging the duplicates too lets the log run beside the id
        // lookup, and a retry of a write that failed half-way logs its changes again.
        let changed: BTreeSet<(String, i64)> = batches
            .iter()
            .flat_map(|b| {
                b.measurements
                    .iter()
                    .filter(|m| m.clock.as_ref().is_none_or(|c| c.synced))
                    .map(|m| {
                        (
                            b.probe.probe_id.clone(),
                            m.started_at.timestamp_millis().div_euclid(60_000),
                        )
                    })
            })
            .collect();
        let (stored, ()) = futures_util::future::try_join(self.stored_ids(&sent), self.log_changes(changed)).await?;
        Ok(PreparedWrite { stored })
    }

    async fn write_prepared(
        &self,
        batches: Vec<IngestBatch>,
        prepared: PreparedWrite,
    ) -> Result<Vec<WriteOutcome>, StoreError> {
        let mut stored = prepared.stored;
        let mut outcomes = Vec::with_capacity(batches.len());
        let mut measurements = Vec::new();
        let mut anchors: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
        {
            // The lookup may have run while the write before this one committed: what that write stored counts
            // as stored too.
            let last_written = self
                .last_written
                .lock()
                .map_err(|_| StoreError::Worker("last-written ids poisoned".into()))?;
            for batch in &batches {
                let mut outcome = WriteOutcome {
                    accepted: 0,
                    duplicates: 0,
                };
                for m in &batch.measurements {
                    let id = m.id.to_string();
                    let key = (batch.probe.probe_id.clone(), id.clone());
                    if last_written.contains(&key) || !stored.insert(key) {
                        outcome.duplicates += 1;
                        continue;
                    }
                    outcome.accepted += 1;
                    let row = measurement_row(batch, m, id, self.stamp());
                    if let Some(clock) = m.clock.as_ref().filter(|c| c.synced) {
                        let key = (batch.probe.probe_id.clone(), clock.boot_id.clone());
                        let mono = i64::try_from(clock.mono_ms).unwrap_or(i64::MAX);
                        let wall = m.started_at.timestamp_millis();
                        anchors
                            .entry(key)
                            .and_modify(|a| {
                                if mono < a.0 {
                                    *a = (mono, wall);
                                }
                            })
                            .or_insert((mono, wall));
                    }
                    measurements.push(row);
                }
                outcomes.push(outcome);
            }
        }
        // Only anchors earlier than the one already written for their boot.
        let new_anchors: Vec<AnchorRow> = {
            let known = self
                .anchors
                .lock()
                .map_err(|_| StoreError::Worker("anchor cache poisoned".into()))?;
            anchors
                .into_iter()
                .filter(|(key, (mono, _))| known.get(key).is_none_or(|k| mono < k))
                .map(|((probe_id, boot_id), (mono_ms, wall_ms))| AnchorRow {
                    probe_id,
                    boot_id,
                    mono_ms,
                    wall_ms,
                    version: u64::MAX - u64::try_from(mono_ms.max(0)).unwrap_or(0),
                })
                .collect()
        };
        let signed: Vec<SignedBatchRow> = batches
            .iter()
            .filter_map(|b| {
                b.signed.as_ref().map(|s| SignedBatchRow {
                    probe_id: b.probe.probe_id.clone(),
                    digest: hex::encode(s.digest),
                    received_ms: b.received_at.timestamp_millis(),
                    measurements: u32::try_from(b.measurements.len()).unwrap_or(u32::MAX),
                    encoding: s.encoding.clone(),
                    public_key: hex::encode(s.public_key.0),
                    signature: hex::encode(s.signature),
                    body: hex::encode(&s.body),
                    first: u64::MAX - u64::try_from(b.received_at.timestamp_millis().max(0)).unwrap_or(0),
                })
            })
            .collect();
        // The tables are written side by side: the call succeeds only once every insert has.
        futures_util::future::try_join3(
            self.insert("measurements", &measurements),
            self.insert("clock_anchors", &new_anchors),
            self.insert("signed_batches", &signed),
        )
        .await?;
        if let Ok(mut last) = self.last_written.lock() {
            *last = measurements
                .iter()
                .map(|m| (m.probe_id.clone(), m.id.clone()))
                .collect();
        }
        if let Ok(mut known) = self.anchors.lock() {
            for a in &new_anchors {
                known.insert((a.probe_id.clone(), a.boot_id.clone()), a.mono_ms);
            }
        }
        let now = now_ms();
        let due: Vec<SeenRow> = match self.seen.lock() {
            Ok(mut seen) => {
                let probes: BTreeSet<&str> = batches.iter().map(|b| b.probe.probe_id.as_str()).collect();
                let due: Vec<String> = probes
                    .into_iter()
                    .filter(|p| seen.get(*p).is_none_or(|t| now - t >= SEEN_EVERY_MS))
                    .map(str::to_owned)
                    .collect();
                due.into_iter()
                    .map(|probe_id| {
                        seen.insert(probe_id.clone(), now);
                        SeenRow { probe_id, seen_ms: now }
                    })
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        if let Err(err) = self.insert("probe_seen", &due).await {
            // The measurements are stored; a missed last-seen stamp is not worth failing the batch for.
            tracing::warn!(error = %err, "could not record when probes were last seen");
        }
        Ok(outcomes)
    }

    async fn measurements(&self, query: MeasurementQuery) -> Result<Vec<StoredMeasurement>, StoreError> {
        let limit = query.limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        // A page of a long read (an export, by cursor): find where the page ends from the seq column alone, so
        // the full read (bodies, the anchor join, the sort) touches that page's rows, not all after the cursor.
        let upper = match (query.limit, query.from, query.to) {
            (Some(n), None, None) if n > 0 => {
                let (clauses, binds) = raw_clauses(&query);
                let sql = format!(
                    "SELECT seq FROM measurements{} ORDER BY seq LIMIT 1 OFFSET {}",
                    where_clause(&clauses),
                    n - 1
                );
                with_retry("page bound", || {
                    bind_all(self.client.query(&sql), &binds).fetch_optional::<i64>()
                })
                .await?
            }
            _ => None,
        };
        let (sql, binds) = measurement_sql(
            &query,
            "seq, probe_id, effective_ms, source, received_ms, outcome, body",
            &format!(" ORDER BY seq LIMIT 1 BY id{limit}"),
            upper,
        );
        let rows: Vec<ReadRow> = with_retry("read measurements", || {
            bind_all(self.client.query(&sql), &binds).fetch_all::<ReadRow>()
        })
        .await?;
        rows.into_iter().map(stored_measurement).collect()
    }

    async fn count_measurements(&self, query: MeasurementQuery) -> Result<u64, StoreError> {
        let (sql, binds) = measurement_sql(&query, "uniqExact(id)", "", None);
        with_retry("count measurements", || {
            bind_all(self.client.query(&sql), &binds).fetch_one::<u64>()
        })
        .await
    }

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
            let body = event_json(e)?;
            let revision = match existing.get(&e.id) {
                None => {
                    summary.opened += 1;
                    1
                }
                Some(old) => {
                    let changed =
                        old.retracted_ms.is_some() || event_from_json(&old.body)?.revision_key() != e.revision_key();
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
                    event: event_from_json(&r.body)?,
                    revisions: r.revisions,
                })
            })
            .collect()
    }

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

    async fn bucket_summaries(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        bucket_secs: i64,
    ) -> Result<Summaries, StoreError> {
        // A long window is aggregated a slice of whole buckets at a time, so each query stays well inside the
        // request timeout however long the window (a day at 10,000 probes is 14 M rows); slices never split a
        // bucket, so their summaries are disjoint and merge by insertion.
        let bucket_ms = bucket_secs.max(1) * 1000;
        let slice_ms = (SUMMARY_SLICE_MS / bucket_ms).max(1) * bucket_ms;
        let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
        let mut out = Summaries::new();
        let mut start = from_ms;
        while start < to_ms {
            let end = ((start.div_euclid(bucket_ms) * bucket_ms) + slice_ms).min(to_ms);
            for (probe, buckets) in self.bucket_summaries_between(start, end, bucket_ms).await? {
                out.entry(probe).or_default().extend(buckets);
            }
            start = end;
        }
        Ok(out)
    }

    async fn event_revisions(&self, id: &str) -> Result<Vec<DisruptionEvent>, StoreError> {
        let rows: Vec<RevisionRow> = with_retry("read revisions", || {
            self.client
                .query("SELECT ?fields FROM event_revisions FINAL WHERE id = ? ORDER BY revision")
                .bind(id)
                .fetch_all::<RevisionRow>()
        })
        .await?;
        rows.iter().map(|r| event_from_json(&r.body)).collect()
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

    async fn outbox_push(&self, entries: Vec<super::OutboxEntry>, max_per_hook: usize) -> Result<usize, StoreError> {
        self.outbox_push_of(entries, max_per_hook).await
    }

    async fn outbox_pending(&self, hook: &str, limit: usize) -> Result<Vec<super::OutboxEntry>, StoreError> {
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

    async fn aggregate_state(&self, bucket_secs: i64) -> Result<Option<super::AggregateState>, StoreError> {
        self.aggregate_state_of(bucket_secs).await
    }

    async fn save_aggregate_state(&self, state: super::AggregateState) -> Result<(), StoreError> {
        self.save_aggregate_state_of(state).await
    }

    async fn change_head(&self) -> Result<i64, StoreError> {
        self.change_head_of().await
    }

    async fn changes_since(&self, cursor: i64) -> Result<super::Changes, StoreError> {
        self.changes_since_of(cursor).await
    }

    async fn placed_partials(
        &self,
        bucket_secs: i64,
        buckets: std::ops::Range<crate::model::Bucket>,
        placement: super::Placement,
        probes: Option<&[String]>,
    ) -> Result<crate::model::Partials, StoreError> {
        self.placed_partials_of(bucket_secs, buckets, placement, probes).await
    }

    async fn save_partials(
        &self,
        bucket_secs: i64,
        version: i64,
        partials: &crate::model::Partials,
    ) -> Result<(), StoreError> {
        self.save_partials_of(bucket_secs, version, partials).await
    }

    async fn stored_partials(
        &self,
        bucket_secs: i64,
        buckets: std::ops::Range<crate::model::Bucket>,
    ) -> Result<crate::model::Partials, StoreError> {
        self.stored_partials_of(bucket_secs, buckets).await
    }
}

impl ClickHouseStore {
    /// Per-bucket summaries of measurements placed in `[from_ms, to_ms)`, in one query.
    async fn bucket_summaries_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Summaries, StoreError> {
        let sql = aggregates::partials_sql(bucket_ms, None, from_ms, Some(to_ms), None);
        let mut out = Summaries::new();
        for ((probe_id, bucket), partial) in self.partials(&sql).await? {
            out.entry(probe_id).or_default().insert(bucket, partial.summary);
        }
        Ok(out)
    }
}

fn measurement_row(batch: &IngestBatch, m: &Measurement, id: String, seq: i64) -> MeasurementRow {
    let probe = &batch.probe;
    let reported_ms = m.started_at.timestamp_millis();
    let metric = anchor_metric(&m.result);
    let vitals = match &m.result {
        MeasurementResult::Vitals(v) => Some(v),
        _ => None,
    };
    let (synced, boot_id, mono_ms) = match &m.clock {
        Some(c) => (
            c.synced,
            c.boot_id.clone(),
            i64::try_from(c.mono_ms).unwrap_or(i64::MAX),
        ),
        None => (true, String::new(), 0),
    };
    MeasurementRow {
        day: day_of(reported_ms),
        id,
        seq,
        probe_id: probe.probe_id.clone(),
        kind: m.kind().as_str(),
        outcome: m.result.outcome().as_str(),
        reported_ms,
        clock_synced: u8::from(synced),
        boot_id,
        mono_ms,
        received_ms: batch.received_at.timestamp_millis(),
        duration_ms: m.duration_ms,
        target_name: m.target.name.clone(),
        target_scope: m.target.scope.as_str(),
        target_list: m.target.list.clone(),
        country: probe.profile.country.clone(),
        asn: probe.profile.asn,
        region: probe.profile.region.clone(),
        access: probe.profile.access.as_str(),
        body: m.to_json_line(),
        metric: metric.map(|(_, v)| v),
        metric_kind: match metric {
            Some((AnchorMetric::Throughput, _)) => "throughput",
            Some((AnchorMetric::Rtt, _)) => "rtt",
            None => "",
        },
        blocking: blocking_method(&m.result).map_or("", BlockingMethod::as_str),
        fingerprint: fingerprint(&m.result).unwrap_or_default().to_owned(),
        v_boot: vitals.map(|v| v.boot_id.clone()).unwrap_or_default(),
        v_on_battery: vitals.is_some_and(|v| v.power.on_battery == Some(true)).into(),
        v_gateway: vitals.is_some_and(|v| v.gateway_reachable).into(),
        v_link: vitals.is_some_and(|v| v.link_up).into(),
        v_last_gasp: vitals.is_some_and(|v| v.last_gasp).into(),
        v_uptime_s: vitals.map_or(0.0, |v| v.uptime_s),
    }
}

/// Days since 1970-01-01 (ClickHouse `Date`), clamped to its range.
fn day_of(ms: i64) -> u16 {
    u16::try_from(ms.div_euclid(86_400_000).clamp(0, i64::from(u16::MAX))).unwrap_or(0)
}

fn stored_measurement(r: ReadRow) -> Result<StoredMeasurement, StoreError> {
    let time_source = match r.source.as_str() {
        "probe" => TimeSource::Probe,
        "retimed" => TimeSource::Retimed,
        _ => TimeSource::Pending,
    };
    Ok(StoredMeasurement {
        seq: r.seq,
        probe_id: r.probe_id,
        started_at: (time_source != TimeSource::Pending)
            .then(|| chrono::DateTime::from_timestamp_millis(r.effective_ms))
            .flatten(),
        time_source,
        received_at: chrono::DateTime::from_timestamp_millis(r.received_ms).ok_or_else(|| StoreError::Corrupt {
            context: "measurements.received_ms",
            detail: r.received_ms.to_string(),
        })?,
        outcome: serde_json::from_value::<Outcome>(serde_json::Value::String(r.outcome)).map_err(|e| {
            StoreError::Corrupt {
                context: "measurements.outcome",
                detail: e.to_string(),
            }
        })?,
        measurement: Measurement::from_json_slice(r.body.as_bytes()).map_err(|e| StoreError::Corrupt {
            context: "measurements.body",
            detail: e.to_string(),
        })?,
    })
}

fn probe_record(r: ProbeRow, last_seen_ms: Option<i64>) -> Result<ProbeRecord, StoreError> {
    let time = |ms: i64, context: &'static str| {
        chrono::DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt {
            context,
            detail: ms.to_string(),
        })
    };
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

/// Fixed-size bytes from a hex column.
fn hex_array<const N: usize>(text: &str, context: &'static str) -> Result<[u8; N], StoreError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|e| StoreError::Corrupt {
        context,
        detail: e.to_string(),
    })?;
    Ok(out)
}

fn signed_batch_record(r: SignedBatchRow) -> Result<SignedBatchRecord, StoreError> {
    Ok(SignedBatchRecord {
        received_at: chrono::DateTime::from_timestamp_millis(r.received_ms).ok_or_else(|| StoreError::Corrupt {
            context: "signed_batches.received_ms",
            detail: r.received_ms.to_string(),
        })?,
        probe_id: r.probe_id,
        measurements: r.measurements,
        signed: SignedBody {
            digest: hex_array(&r.digest, "signed_batches.digest")?,
            signature: hex_array(&r.signature, "signed_batches.signature")?,
            public_key: PublicKey(hex_array(&r.public_key, "signed_batches.public_key")?),
            encoding: r.encoding,
            body: hex::decode(&r.body)
                .map_err(|e| StoreError::Corrupt {
                    context: "signed_batches.body",
                    detail: e.to_string(),
                })?
                .into(),
        },
    })
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

fn event_json(e: &DisruptionEvent) -> Result<String, StoreError> {
    serde_json::to_string(e).map_err(|err| StoreError::Corrupt {
        context: "events.body",
        detail: err.to_string(),
    })
}

fn event_from_json(body: &str) -> Result<DisruptionEvent, StoreError> {
    serde_json::from_str(body).map_err(|err| StoreError::Corrupt {
        context: "events.body",
        detail: err.to_string(),
    })
}

/// The engine of `table` in the client's database, if it exists.
async fn engine_of(client: &Client, table: &str) -> Result<Option<String>, StoreError> {
    let engines: Vec<String> = with_retry("table engine", || {
        client
            .query("SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = ?")
            .bind(table)
            .fetch_all::<String>()
    })
    .await?;
    Ok(engines.into_iter().next())
}

/// Whether `table` of the client's database has `column`.
async fn has_column(client: &Client, table: &str, column: &str) -> Result<bool, StoreError> {
    let found: u64 = with_retry("table columns", || {
        client
            .query("SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = ? AND name = ?")
            .bind(table)
            .bind(column)
            .fetch_one::<u64>()
    })
    .await?;
    Ok(found > 0)
}

/// One measurement of a write, as the id lookup needs it.
struct SentMeasurement<'a> {
    /// Index of its batch in the write.
    batch: usize,
    probe: &'a ProbeRecord,
    id: String,
    reported_ms: i64,
}

/// The time condition of an id lookup: each batch's span of reported times, overlapping spans joined, so the
/// server reads the granules of those spans only (one batch's span is usually seconds, a whole write's can be
/// days when a probe uploads what it kept offline).
fn time_spans(sent: impl Iterator<Item = (usize, i64)>) -> String {
    let mut per_batch: BTreeMap<usize, (i64, i64)> = BTreeMap::new();
    for (batch, at) in sent {
        per_batch
            .entry(batch)
            .and_modify(|(low, high)| {
                *low = (*low).min(at);
                *high = (*high).max(at);
            })
            .or_insert((at, at));
    }
    let mut spans: Vec<(i64, i64)> = per_batch.into_values().collect();
    spans.sort_unstable();
    let mut joined: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for (low, high) in spans {
        match joined.last_mut() {
            Some(last) if low <= last.1 => last.1 = last.1.max(high),
            _ => joined.push((low, high)),
        }
    }
    joined
        .iter()
        .map(|(low, high)| format!("reported_ms >= {low} AND reported_ms <= {high}"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// `'a', 'b'` — for values that are ours and contain no quote (UUIDs, event ids), checked all the same.
fn quoted_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("'{}'", v.replace(['\\', '\''], "")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs a ClickHouse operation, retrying retryable failures with full-jitter backoff.
async fn with_retry<T, F, Fut>(what: &str, op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, clickhouse::error::Error>>,
{
    with_retry_within(what, REQUEST_TIMEOUT, op).await
}

/// [`with_retry`] with its own time limit per attempt.
async fn with_retry_within<T, F, Fut>(what: &str, limit: Duration, mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, clickhouse::error::Error>>,
{
    let mut ceiling = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        let result = match tokio::time::timeout(limit, op()).await {
            Ok(r) => r.map_err(classify_error),
            Err(_) => Err(StoreError::ClickHouse {
                message: format!("no answer within {} s", limit.as_secs()),
                retryable: true,
            }),
        };
        match result {
            Ok(v) => return Ok(v),
            Err(err) if err.is_retryable() && attempt < ATTEMPTS => {
                tracing::warn!(operation = what, attempt, error = %err, "clickhouse: retrying");
                tokio::time::sleep(ceiling.mul_f64(fastrand::f64())).await;
                ceiling *= 4;
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// ClickHouse server error codes worth retrying: timeouts, overload, network trouble between replicas.
const RETRYABLE_CODES: &[u32] = &[
    159, // TIMEOUT_EXCEEDED
    164, // READONLY (replica temporarily read-only)
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    203, // NO_FREE_CONNECTION
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY
    252, // TOO_MANY_PARTS
    279, // ALL_CONNECTION_TRIES_FAILED
    319, // UNKNOWN_STATUS_OF_INSERT
    425, // SYSTEM_ERROR
    999, // KEEPER_EXCEPTION
];

/// A client error as a store error: transport failures and the codes above are retryable, the rest (bad data,
/// unknown columns, syntax) permanent.
fn classify_error(err: clickhouse::error::Error) -> StoreError {
    use clickhouse::error::Error;
    let retryable = match &err {
        Error::Network(_) | Error::TimedOut => true,
        Error::BadResponse(text) => server_code(text).is_some_and(|c| RETRYABLE_CODES.contains(&c)),
        _ => false,
    };
    StoreError::ClickHouse {
        message: err.to_string(),
        retryable,
    }
}

/// The `Code: N` of a server exception.
fn server_code(text: &str) -> Option<u32> {
    let rest = &text[text.find("Code: ")? + 6..];
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_codes_decide_what_is_retried() {
        assert_eq!(
            server_code("Code: 252, e.displayText() = DB::Exception: Too many parts"),
            Some(252)
        );
        assert_eq!(server_code("no code here"), None);
        let permanent = classify_error(clickhouse::error::Error::BadResponse(
            "Code: 27, e.displayText() = DB::Exception: Cannot parse input".to_owned(),
        ));
        assert!(!permanent.is_retryable());
        let overload = classify_error(clickhouse::error::Error::BadResponse(
            "Code: 202, e.displayText() = DB::Exception: Too many simultaneous queries".to_owned(),
        ));
        assert!(overload.is_retryable());
        assert!(classify_error(clickhouse::error::Error::TimedOut).is_retryable());
    }

    #[test]
    fn an_id_lookup_reads_each_batch_span_with_overlaps_joined() {
        let sent = [(0, 500), (0, 100), (1, 300), (1, 700), (2, 900), (3, 2000), (3, 2000)];
        assert_eq!(
            time_spans(sent.into_iter()),
            "reported_ms >= 100 AND reported_ms <= 700 OR reported_ms >= 900 AND reported_ms <= 900 \
             OR reported_ms >= 2000 AND reported_ms <= 2000"
        );
    }

    #[test]
    fn days_and_quoting() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(86_400_000 * 20_000 + 5), 20_000);
        assert_eq!(day_of(-5), 0);
        assert_eq!(quoted_list(&["a'b".to_owned(), "c".to_owned()]), "'ab', 'c'");
    }
}
