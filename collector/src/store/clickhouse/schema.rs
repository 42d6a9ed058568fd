//! The ClickHouse tables. The DDL sticks to what ClickHouse 18.16 (Debian's) and current releases share: no
//! `DateTime64`, `LowCardinality`, `Map`, `Bool`, IP types or TTL; `Nullable` only outside sorting keys.
//!
//! Measurements and vitals are partitioned by the day the probe reported taking them (a retry of a batch has the
//! same days, so `ReplacingMergeTree` merges its copies) and sorted by country, ASN, probe and time — the order
//! the classifier and dashboards read in. Small mutable tables (probes, events, presence) are versioned
//! `ReplacingMergeTree`s read with `FINAL`.

/// Schema version this binary writes (recorded in `vigil_schema`).
pub const SCHEMA_VERSION: u32 = 1;

/// `CREATE TABLE IF NOT EXISTS` statements, in order.
pub const TABLES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS vigil_schema (version UInt32, applied_ms Int64)
     ENGINE = ReplacingMergeTree ORDER BY version",
    "CREATE TABLE IF NOT EXISTS measurements (
        day Date, id String, seq Int64, probe_id String, kind String, outcome String,
        reported_ms Int64, clock_synced UInt8, boot_id String, mono_ms Int64, received_ms Int64,
        duration_ms Float64, target_name String, target_scope String, target_list Nullable(String),
        country String, asn UInt32, region Nullable(String), access String, body String
     ) ENGINE = ReplacingMergeTree PARTITION BY day ORDER BY (country, asn, probe_id, reported_ms, id)",
    "CREATE TABLE IF NOT EXISTS vitals (
        day Date, id String, probe_id String, reported_ms Int64, boot_id String, uptime_s Float64,
        ac_online Nullable(UInt8), on_battery Nullable(UInt8), battery_pct Nullable(Float64),
        gateway_reachable UInt8, link_up UInt8, last_gasp UInt8, spool_depth UInt64,
        country String, asn UInt32, region Nullable(String), access String
     ) ENGINE = ReplacingMergeTree PARTITION BY day ORDER BY (country, asn, probe_id, reported_ms, id)",
    "CREATE TABLE IF NOT EXISTS clock_anchors (probe_id String, boot_id String, mono_ms Int64, wall_ms Int64,
        version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY (probe_id, boot_id)",
    "CREATE TABLE IF NOT EXISTS probes (
        probe_id String, version UInt64, name String, country String, asn UInt32, region Nullable(String),
        access String, ups UInt8, token_hash String, created_ms Int64, revoked_ms Nullable(Int64)
     ) ENGINE = ReplacingMergeTree(version) ORDER BY probe_id",
    "CREATE TABLE IF NOT EXISTS probe_seen (probe_id String, seen_ms Int64)
     ENGINE = ReplacingMergeTree(seen_ms) ORDER BY probe_id",
    "CREATE TABLE IF NOT EXISTS events (
        id String, version UInt64, started_ms Int64, ended_ms Nullable(Int64), class String, country String,
        asn Nullable(UInt32), revisions UInt32, retracted_ms Nullable(Int64), updated_ms Int64, body String
     ) ENGINE = ReplacingMergeTree(version) ORDER BY id",
    "CREATE TABLE IF NOT EXISTS event_revisions (id String, revision UInt32, recorded_ms Int64, class String,
        body String) ENGINE = ReplacingMergeTree ORDER BY (id, revision)",
    "CREATE TABLE IF NOT EXISTS presence (source String, probe_id String, connected_ms Int64,
        disconnected_ms Nullable(Int64), version UInt64) ENGINE = ReplacingMergeTree(version)
     ORDER BY (probe_id, connected_ms)",
];
