//! The ClickHouse tables, for one server or for a sharded, replicated cluster. The DDL sticks to what ClickHouse
//! 18.16 (Debian's) and current releases share: no `DateTime64`, `LowCardinality`, `Map`, `Bool`, IP types or TTL;
//! `Nullable` only outside sorting keys.
//!
//! Measurements (vitals included) are partitioned by the day the probe reported taking them (a retry of a batch
//! has the same days, so `ReplacingMergeTree` merges its copies) and sorted by country, ASN, probe and time — the
//! order the classifier and dashboards read in. The fields the classifier and dashboards aggregate (an anchor's
//! throughput or round trip, a blocking method and fingerprint, the vitals' flags and uptime) are columns beside the
//! JSON body, so per-bucket summaries are computed by ClickHouse without reading bodies. Vitals have no table of
//! their own (a second table would double the inserts and the merges of every write); the `vitals` view shows
//! them. Small mutable tables (probes, events, presence) are versioned `ReplacingMergeTree`s read with `FINAL`.
//!
//! On a cluster each table is a `Replicated…MergeTree` named `<table>_local` on every server, and `<table>` is a
//! `Distributed` table over them, sharded so that every version of one key (a probe, an event) lands on the same
//! shard — `FINAL` and deduplication work per shard. The collector reads and writes `<table>` either way.

/// Schema version this binary writes (recorded in `vigil_schema`).
pub const SCHEMA_VERSION: u32 = 12;

/// The uptime column as a database made before schema 5 gains it: its rows already stored read their uptime from
/// the body (vitals bodies hold `"uptime_s":…`; other kinds read 0), rows written since carry it.
pub const UPTIME_COLUMN_FOR_OLD_ROWS: &str = "v_uptime_s Float64 DEFAULT visitParamExtractFloat(body, 'uptime_s')";

/// One table.
struct Table {
    name: &'static str,
    columns: &'static str,
    /// `ReplacingMergeTree`'s version column.
    version: Option<&'static str>,
    partition: Option<&'static str>,
    order: &'static str,
    /// The `Distributed` sharding key.
    shard_by: &'static str,
}

const TABLES: &[Table] = &[
    Table {
        name: "vigil_schema",
        columns: "version UInt32, applied_ms Int64",
        version: None,
        partition: None,
        order: "version",
        shard_by: "version",
    },
    Table {
        name: "measurements",
        columns: "day Date, id String, seq Int64, probe_id String, kind String, outcome String, reported_ms Int64, \
                  clock_synced UInt8, boot_id String, mono_ms Int64, received_ms Int64, duration_ms Float64, \
                  target_name String, target_scope String, target_list Nullable(String), country String, asn UInt32, \
                  region Nullable(String), access String, body String, metric Nullable(Float64), metric_kind String, \
                  blocking String, fingerprint String, v_boot String, v_on_battery UInt8, v_gateway UInt8, \
                  v_link UInt8, v_last_gasp UInt8, v_uptime_s Float64, path_end String, uplink_access String",
        version: None,
        partition: Some("day"),
        order: "country, asn, probe_id, reported_ms, id",
        shard_by: "cityHash64(probe_id)",
    },
    Table {
        name: "clock_anchors",
        columns: "probe_id String, boot_id String, mono_ms Int64, wall_ms Int64, version UInt64",
        version: Some("version"),
        partition: None,
        order: "probe_id, boot_id",
        shard_by: "cityHash64(probe_id)",
    },
    Table {
        name: "probes",
        columns: "probe_id String, version UInt64, name String, country String, asn UInt32, region Nullable(String), \
                  access String, ups UInt8, token_hash String, created_ms Int64, revoked_ms Nullable(Int64), \
                  public_key String",
        version: Some("version"),
        partition: None,
        order: "probe_id",
        shard_by: "cityHash64(probe_id)",
    },
    Table {
        // Signed batches exactly as received (hex), kept once per digest, so `vigil-collector verify` can re-check.
        name: "signed_batches",
        columns: "probe_id String, digest String, received_ms Int64, measurements UInt32, encoding String, \
                  public_key String, signature String, body String, first UInt64",
        // The earliest receipt wins: `first` is larger the earlier the batch came.
        version: Some("first"),
        partition: None,
        order: "probe_id, digest",
        shard_by: "cityHash64(probe_id)",
    },
    Table {
        name: "probe_seen",
        columns: "probe_id String, seen_ms Int64",
        version: Some("seen_ms"),
        partition: None,
        order: "probe_id",
        shard_by: "cityHash64(probe_id)",
    },
    Table {
        // How each probe's uploads arrive (schema 11): per carrier ('' for the registered line) and network (0:
        // not known), with the country the network is registered in ('' when not placed, schema 12). A row per
        // collector run and key, replaced by its latest stamp; read with min and max.
        name: "probe_arrivals",
        columns: "probe_id String, carrier String, asn UInt32, access String, first_seen_ms Int64, seen_ms Int64, \
                  network_country String DEFAULT ''",
        version: Some("seen_ms"),
        partition: None,
        order: "probe_id, carrier, asn, first_seen_ms",
        shard_by: "cityHash64(probe_id)",
    },
    Table {
        name: "events",
        columns: "id String, version UInt64, started_ms Int64, ended_ms Nullable(Int64), class String, \
                  country String, asn Nullable(UInt32), revisions UInt32, retracted_ms Nullable(Int64), \
                  updated_ms Int64, body String",
        version: Some("version"),
        partition: None,
        order: "id",
        shard_by: "cityHash64(id)",
    },
    Table {
        name: "event_revisions",
        columns: "id String, revision UInt32, recorded_ms Int64, class String, body String",
        version: None,
        partition: None,
        order: "id, revision",
        shard_by: "cityHash64(id)",
    },
    Table {
        name: "event_reviews",
        columns: "id String, reviewed_ms Int64, class String, verdict String, reviewer String, note String",
        version: None,
        partition: None,
        order: "id, reviewed_ms",
        shard_by: "cityHash64(id)",
    },
    Table {
        // Which probe-minutes received synced measurements, stamped like `seq`: what a refresh of the
        // materialised summaries recomputes. Day partitions, dropped after three days.
        name: "summary_changes",
        columns: "seq Int64, probe_id String, minute Int64",
        version: None,
        partition: Some("intDiv(seq, 86400000000)"),
        order: "seq, probe_id, minute",
        shard_by: "cityHash64(probe_id)",
    },
    Table {
        // One summary per bucket length, bucket and probe of its synced measurements (the latest version
        // wins), every field a column: blocked targets as parallel arrays (target, method, fingerprint), the
        // targets loaded (schema 7), the international anchors reached and failed (schema 8), where failed traces to them died (schema 9), the vitals with the
        // time and id that decide which vitals win when summaries merge.
        name: "bucket_summaries",
        columns: "bucket_secs Int64, bucket Int64, probe_id String, version UInt64, country String, asn UInt32, \
                  dom_ok UInt32, dom_total UInt32, intl_ok UInt32, intl_total UInt32, throughput Array(Float64), \
                  rtt Array(Float64), blocked_target Array(String), blocked_method Array(String), \
                  blocked_fingerprint Array(String), reached_target Array(String), intl_reached Array(String), \
                  intl_failed Array(String), path_ends Array(String), has_vitals UInt8, \
                  v_boot String, on_battery UInt8, \
                  gateway UInt8, link UInt8, last_gasp UInt8, vitals_ms Int64, vitals_id String",
        version: Some("version"),
        partition: Some("intDiv(bucket * bucket_secs, 2592000)"),
        order: "bucket_secs, bucket, probe_id",
        shard_by: "cityHash64(probe_id)",
    },
    Table {
        name: "aggregate_state",
        columns: "bucket_secs Int64, cursor Int64, covered_from Int64, refreshed_us Int64, version UInt64",
        version: Some("version"),
        partition: None,
        order: "bucket_secs",
        shard_by: "bucket_secs",
    },
    Table {
        // The webhook outbox (see `notify`): one row per hook and delivery, the latest version wins; a finished
        // delivery keeps a row (state 'done' or 'dropped', body emptied) so it is never queued twice.
        name: "webhook_outbox",
        columns: "hook String, delivery String, seq Int64, body String, attempts UInt32, next_attempt_ms Int64, \
                  state String, version UInt64",
        version: Some("version"),
        partition: None,
        order: "hook, delivery",
        shard_by: "cityHash64(hook)",
    },
    Table {
        name: "presence",
        columns: "source String, probe_id String, connected_ms Int64, disconnected_ms Nullable(Int64), version UInt64, \
                  controller String DEFAULT ''",
        version: Some("version"),
        partition: None,
        order: "probe_id, connected_ms",
        shard_by: "cityHash64(probe_id)",
    },
    Table {
        // What each connection log covers (schema 6): outside it a pseudo-probe is unknown, not away.
        name: "presence_spans",
        columns: "source String, from_ms Int64, to_ms Int64",
        version: None,
        partition: None,
        order: "source, from_ms, to_ms",
        shard_by: "cityHash64(source)",
    },
];

fn tail(t: &Table) -> String {
    let partition = t.partition.map(|p| format!(" PARTITION BY {p}")).unwrap_or_default();
    format!("{partition} ORDER BY ({})", t.order)
}

/// What the `vitals` view shows of each vitals measurement: its flags and uptime from their columns, its spool
/// depth from the body. Raw rows, like the table it replaced: a copy two collectors raced to store shows until
/// merged.
const VITALS_VIEW: &str = "SELECT day, id, probe_id, reported_ms, v_boot AS boot_id, v_uptime_s AS uptime_s, \
                           v_on_battery AS on_battery, v_gateway AS gateway_reachable, v_link AS link_up, \
                           v_last_gasp AS last_gasp, visitParamExtractUInt(body, 'spool_depth') AS spool_depth, \
                           country, asn, region, access FROM {db}measurements WHERE kind = 'vitals'";

/// The statements for one server, in order: tables, then views.
pub fn single_server() -> Vec<String> {
    let mut out = single_server_tables();
    out.extend(views(None));
    out
}

/// The views over the tables: on one server, or on every server of `(cluster, database)` over its distributed
/// tables. Vitals are rows of `measurements` (schema 5), shown as `vitals` for whoever queries by hand.
pub fn views(cluster: Option<(&str, &str)>) -> Vec<String> {
    vec![match cluster {
        None => format!(
            "CREATE VIEW IF NOT EXISTS vitals AS {}",
            VITALS_VIEW.replace("{db}", "")
        ),
        Some((cluster, database)) => format!(
            "CREATE VIEW IF NOT EXISTS {database}.vitals ON CLUSTER {cluster} AS {}",
            VITALS_VIEW.replace("{db}", &format!("{database}."))
        ),
    }]
}

/// `CREATE TABLE IF NOT EXISTS` statements for one server, in order.
pub fn single_server_tables() -> Vec<String> {
    TABLES
        .iter()
        .map(|t| {
            let engine = match t.version {
                Some(v) => format!("ReplacingMergeTree({v})"),
                None => "ReplacingMergeTree".to_owned(),
            };
            format!(
                "CREATE TABLE IF NOT EXISTS {} ({}) ENGINE = {engine}{}",
                t.name,
                t.columns,
                tail(t)
            )
        })
        .collect()
}

/// The statements that create `database` on every server of `cluster` (as named in the servers'
/// `remote_servers`): replicated local tables and the distributed tables the collector uses. The servers need
/// ZooKeeper, `distributed_ddl`, and `shard` and `replica` macros.
pub fn cluster(cluster: &str, database: &str) -> Vec<String> {
    let mut out = vec![format!("CREATE DATABASE IF NOT EXISTS {database} ON CLUSTER {cluster}")];
    for t in TABLES {
        let path = format!("'/clickhouse/tables/{{shard}}/{database}/{}', '{{replica}}'", t.name);
        let engine = match t.version {
            Some(v) => format!("ReplicatedReplacingMergeTree({path}, {v})"),
            None => format!("ReplicatedReplacingMergeTree({path})"),
        };
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS {database}.{name}_local ON CLUSTER {cluster} ({columns}) ENGINE = {engine}{tail}",
            name = t.name,
            columns = t.columns,
            tail = tail(t)
        ));
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS {database}.{name} ON CLUSTER {cluster} AS {database}.{name}_local \
             ENGINE = Distributed({cluster}, {database}, {name}_local, {shard})",
            name = t.name,
            shard = t.shard_by
        ));
    }
    out.extend(views(Some((cluster, database))));
    out
}

/// Whether a name can be spliced into DDL (clusters and databases: letters, digits, underscores).
pub fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_a_local_and_a_distributed_form_on_a_cluster() {
        let ddl = cluster("vigil", "vigil");
        assert_eq!(ddl.len(), 1 + 2 * TABLES.len() + 1);
        assert!(ddl.iter().any(
            |s| s.starts_with("CREATE VIEW IF NOT EXISTS vigil.vitals ON CLUSTER vigil AS")
                && s.contains("FROM vigil.measurements WHERE kind = 'vitals'")
        ));
        assert!(
            ddl.iter()
                .any(|s| s.contains("vigil.measurements_local ON CLUSTER vigil")
                    && s.contains(
                        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/vigil/measurements', '{replica}')"
                    ))
        );
        assert!(
            ddl.iter()
                .any(|s| s.contains("Distributed(vigil, vigil, events_local, cityHash64(id))"))
        );
        assert_eq!(single_server().len(), TABLES.len() + 1);
        assert!(is_identifier("vigil_1") && !is_identifier("x; DROP") && !is_identifier("1x"));
    }
}
