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

mod events;
mod measurements;
mod outbox;
mod presence;
mod registry;
mod rows;
mod summaries;

use schema::{SCHEMA_VERSION, UPTIME_COLUMN_FOR_OLD_ROWS};

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use clickhouse::Client;

use rows::{EventRow, ProbeRow};

use super::{
    EventQuery, EventReview, EventSaveSummary, IngestBatch, MeasurementQuery, NewProbe, PreparedWrite, ReviewVerdict,
    SignedBatchQuery, SignedBatchRecord, Store, StoreError, StoredEvent, StoredMeasurement, TokenHash, WriteOutcome,
};
use crate::model::ProbeRecord;
use crate::model::Summaries;

/// Attempts per operation before a retryable failure is reported.
const ATTEMPTS: u32 = 3;
/// Longest a single request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Ids per lookup query (each quoted id is 40 bytes; a query may be 256 KiB).
const ID_LOOKUP_CHUNK: usize = 4000;
/// Longest a schema statement may take (`ON CLUSTER` waits for every server).
const DDL_TIMEOUT: Duration = Duration::from_secs(180);

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
    /// Per (probe, carrier, network) this run has seen arrive: when first, and the receipt last written.
    arrivals: Mutex<HashMap<ArrivalKey, (i64, i64)>>,
    /// The (probe id, measurement id) pairs the last successful write stored: the next write's lookup may have
    /// run before they were.
    last_written: Mutex<HashSet<(String, String)>>,
}

/// A `probe_arrivals` key: probe, carrier ('' for the registered line), ASN (0: not known).
type ArrivalKey = (String, String, u32);

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
        add_column(
            &client,
            on_cluster,
            "measurements",
            "v_uptime_s",
            UPTIME_COLUMN_FOR_OLD_ROWS,
            5,
        )
        .await?;
        // Version 9 keeps where each failed trace died, a column of measurements: traces stored before it keep no
        // path end (their summaries lack one; the bodies still hold the hops).
        add_column(
            &client,
            on_cluster,
            "measurements",
            "path_end",
            "path_end String DEFAULT ''",
            9,
        )
        .await?;
        // Version 10 keeps the access of the uplink that took each measurement (issue 24): a probe's other
        // uplinks are timelines of their own. Rows stored before it were taken on no declared uplink.
        let uplink_access = "uplink_access String DEFAULT ''";
        add_column(&client, on_cluster, "measurements", "uplink_access", uplink_access, 10).await?;
        // Version 12 keeps the country each arrival's network is registered in (issue 24). Rows stored before it
        // place no network.
        let network_country = "network_country String DEFAULT ''";
        add_column(
            &client,
            on_cluster,
            "probe_arrivals",
            "network_country",
            network_country,
            12,
        )
        .await?;
        // Version 7 keeps the targets each summary loaded (the censorship controls); version 8 the international
        // anchors each reached and failed (a cut leaking through an allowlist); version 9 where failed traces to
        // them died. Summaries are recomputed from the measurements, so older rows only lack these until their
        // buckets are refreshed.
        for (column, after, version) in [
            ("reached_target", "blocked_fingerprint", 7),
            ("intl_reached", "reached_target", 8),
            ("intl_failed", "intl_reached", 8),
            ("path_ends", "intl_failed", 9),
        ] {
            let definition = format!("{column} Array(String) AFTER {after}");
            add_column(&client, on_cluster, "bucket_summaries", column, &definition, version).await?;
        }
        // Version 6 records the controller each presence session ended on; the spans table is created above. Logs
        // imported before keep the span their sessions show.
        if add_column(
            &client,
            on_cluster,
            "presence",
            "controller",
            "controller String DEFAULT ''",
            6,
        )
        .await?
        {
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
            arrivals: Mutex::new(HashMap::new()),
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
}

impl ClickHouseStore {
    /// Per-bucket summaries of measurements placed in `[from_ms, to_ms)`, in one query.
    async fn bucket_summaries_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Summaries, StoreError> {
        let sql = summaries::partials_sql(bucket_ms, None, from_ms, Some(to_ms), None);
        let mut out = Summaries::new();
        for ((probe_id, bucket), partial) in self.partials(&sql).await? {
            out.entry(probe_id).or_default().insert(bucket, partial.summary);
        }
        Ok(out)
    }
}

/// Days since 1970-01-01 (ClickHouse `Date`), clamped to its range.
fn day_of(ms: i64) -> u16 {
    u16::try_from(ms.div_euclid(86_400_000).clamp(0, i64::from(u16::MAX))).unwrap_or(0)
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
/// Adds an `Array(String)` column of schema `version` to `bucket_summaries` unless it is there; on a cluster the
/// operator upgrades every server first.
/// Adds `column` (declared as `definition`) to `table` when a database made before schema `version` lacks it;
/// returns whether it did. On a cluster an ALTER would reach this server's distributed table only, so there the
/// operator is asked to upgrade every server first.
async fn add_column(
    client: &Client,
    on_cluster: bool,
    table: &str,
    column: &str,
    definition: &str,
    version: u32,
) -> Result<bool, StoreError> {
    if has_column(client, table, column).await? {
        return Ok(false);
    }
    if on_cluster {
        return Err(StoreError::UpgradeNeeded(format!(
            "{table} has no {column} column (schema {version}): upgrade every server of the cluster first, see \
             docs/deploy/clickhouse.md, \"Upgrading a cluster\""
        )));
    }
    tracing::info!("adding {table}.{column} (schema {version})");
    let ddl = format!("ALTER TABLE {table} ADD COLUMN {definition}");
    with_retry("add a column", || client.query(&ddl).execute()).await?;
    Ok(true)
}

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
            Err(_) => Err(StoreError::Backend {
                backend: "clickhouse",
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
    StoreError::Backend {
        backend: "clickhouse",
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
