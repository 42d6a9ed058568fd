//! The embedded store's schema and its migrations, tracked in `PRAGMA user_version`.
//!
//! Migrations only ever append: a released step is never edited. Each runs in its own transaction.

use rusqlite::Connection;

use crate::store::StoreError;

/// Ordered migration steps; step `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: probes, measurements, vitals, clock anchors.
    r#"
    CREATE TABLE probes (
        probe_id      TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        country       TEXT NOT NULL,
        asn           INTEGER NOT NULL,
        region        TEXT,
        access        TEXT NOT NULL,
        ups           INTEGER NOT NULL,
        token_hash    BLOB NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL,
        revoked_at_ms INTEGER,
        last_seen_ms  INTEGER
    );

    -- One row per accepted measurement. `seq` is ingest order (a cursor for exports and for re-classifying
    -- late data); `started_at_ms` is the effective time, NULL while an unsynced measurement waits for an anchor.
    -- Country, ASN, region and access are the probe's registered values at ingest time.
    CREATE TABLE measurements (
        seq                    INTEGER PRIMARY KEY,
        id                     BLOB NOT NULL UNIQUE,
        probe_id               TEXT NOT NULL REFERENCES probes(probe_id),
        kind                   TEXT NOT NULL,
        outcome                TEXT NOT NULL,
        started_at_ms          INTEGER,
        time_source            TEXT NOT NULL,
        reported_started_at_ms INTEGER NOT NULL,
        received_at_ms         INTEGER NOT NULL,
        duration_ms            REAL NOT NULL,
        target_name            TEXT NOT NULL,
        target_scope           TEXT NOT NULL,
        target_list            TEXT,
        country                TEXT NOT NULL,
        asn                    INTEGER NOT NULL,
        region                 TEXT,
        access                 TEXT NOT NULL,
        boot_id                TEXT,
        mono_ms                INTEGER,
        body                   TEXT NOT NULL
    );
    CREATE INDEX measurements_by_probe_time ON measurements(probe_id, started_at_ms);
    CREATE INDEX measurements_by_scope_time ON measurements(country, asn, started_at_ms);
    CREATE INDEX measurements_pending ON measurements(probe_id, boot_id) WHERE time_source = 'pending';

    -- The vitals' hot fields, for the classifier; time comes from the measurement row.
    CREATE TABLE vitals (
        seq               INTEGER PRIMARY KEY REFERENCES measurements(seq),
        boot_id           TEXT NOT NULL,
        uptime_s          REAL NOT NULL,
        ac_online         INTEGER,
        on_battery        INTEGER,
        battery_pct       REAL,
        gateway_reachable INTEGER NOT NULL,
        link_up           INTEGER NOT NULL,
        last_gasp         INTEGER NOT NULL,
        spool_depth       INTEGER NOT NULL
    );

    -- Per probe boot, the synced measurement with the lowest monotonic reading: wall = mono + (wall_ms - mono_ms).
    CREATE TABLE clock_anchors (
        probe_id TEXT NOT NULL,
        boot_id  TEXT NOT NULL,
        mono_ms  INTEGER NOT NULL,
        wall_ms  INTEGER NOT NULL,
        PRIMARY KEY (probe_id, boot_id)
    ) WITHOUT ROWID;
    "#,
    // 2: classified events and every revision of them.
    r#"
    -- The current state of each event; `retracted_at_ms` is set when a re-run no longer finds it (late data
    -- showed the probes were fine). `body` is the event as the API serves it.
    CREATE TABLE events (
        id               TEXT PRIMARY KEY,
        class            TEXT NOT NULL,
        scope_level      TEXT NOT NULL,
        country          TEXT,
        asn              INTEGER,
        started_at_ms    INTEGER NOT NULL,
        ended_at_ms      INTEGER,
        confidence_level TEXT NOT NULL,
        revisions        INTEGER NOT NULL,
        retracted_at_ms  INTEGER,
        updated_at_ms    INTEGER NOT NULL,
        body             TEXT NOT NULL
    );
    CREATE INDEX events_by_time ON events(started_at_ms);
    CREATE TABLE event_revisions (
        event_id       TEXT NOT NULL,
        revision       INTEGER NOT NULL,
        recorded_at_ms INTEGER NOT NULL,
        class          TEXT NOT NULL,
        body           TEXT NOT NULL,
        PRIMARY KEY (event_id, revision)
    ) WITHOUT ROWID;
    "#,
    // 3: presence of third-party pseudo-probes (RIPE Atlas connection logs).
    r#"
    CREATE TABLE presence_sessions (
        probe_id        TEXT NOT NULL REFERENCES probes(probe_id),
        connected_ms    INTEGER NOT NULL,
        disconnected_ms INTEGER,
        source          TEXT NOT NULL,
        PRIMARY KEY (probe_id, connected_ms)
    ) WITHOUT ROWID;
    "#,
    // 4: people's reviews of events (a shutdown is published as one only once reviewed).
    r#"
    CREATE TABLE event_reviews (
        event_id    TEXT NOT NULL,
        reviewed_ms INTEGER NOT NULL,
        class       TEXT NOT NULL,
        verdict     TEXT NOT NULL CHECK (verdict IN ('confirmed', 'rejected')),
        reviewer    TEXT NOT NULL,
        note        TEXT NOT NULL,
        PRIMARY KEY (event_id, reviewed_ms)
    ) WITHOUT ROWID;
    "#,
    // 5: probes' signing keys, and signed batches exactly as received (re-checked by `vigil-collector verify`).
    r#"
    ALTER TABLE probes ADD COLUMN public_key BLOB;
    CREATE TABLE signed_batches (
        digest         BLOB PRIMARY KEY,
        probe_id       TEXT NOT NULL REFERENCES probes(probe_id),
        received_at_ms INTEGER NOT NULL,
        measurements   INTEGER NOT NULL,
        encoding       TEXT NOT NULL,
        public_key     BLOB NOT NULL,
        signature      BLOB NOT NULL,
        body           BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX signed_batches_by_time ON signed_batches(received_at_ms);
    "#,
    // 6: materialised per-bucket summaries of synced measurements (see `store::aggregates`), their bookkeeping,
    // and an index for the re-timed measurements folded on every read.
    r#"
    CREATE TABLE bucket_summaries (
        bucket_secs INTEGER NOT NULL,
        bucket      INTEGER NOT NULL,
        probe_id    TEXT NOT NULL,
        version     INTEGER NOT NULL,
        summary     TEXT NOT NULL,
        PRIMARY KEY (bucket_secs, bucket, probe_id)
    ) WITHOUT ROWID;
    CREATE TABLE aggregate_state (
        bucket_secs  INTEGER PRIMARY KEY,
        cursor       INTEGER NOT NULL,
        covered_from INTEGER NOT NULL,
        refreshed_us INTEGER NOT NULL
    );
    CREATE INDEX measurements_retimed ON measurements(started_at_ms) WHERE time_source = 'retimed';
    "#,
    // 7: the webhook outbox (see `notify`): deliveries wait here until the receiver answers 2xx. A finished
    // delivery keeps its row (state 'done' or 'dropped', body emptied) so the same transition is never queued
    // twice.
    r#"
    CREATE TABLE webhook_outbox (
        seq             INTEGER NOT NULL,
        hook            TEXT NOT NULL,
        delivery        TEXT NOT NULL,
        body            TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL DEFAULT 0,
        state           TEXT NOT NULL DEFAULT 'pending',
        PRIMARY KEY (hook, delivery)
    ) WITHOUT ROWID;
    CREATE INDEX webhook_outbox_queue ON webhook_outbox(hook, seq) WHERE state = 'pending';
    "#,
    // 8: what a connection log covers (outside it a pseudo-probe is unknown, not away) and the controller each
    // session ended on. Logs imported before keep the span their sessions show.
    r#"
    CREATE TABLE presence_spans (
        source  TEXT NOT NULL,
        from_ms INTEGER NOT NULL,
        to_ms   INTEGER NOT NULL,
        PRIMARY KEY (source, from_ms, to_ms)
    ) WITHOUT ROWID;
    ALTER TABLE presence_sessions ADD COLUMN controller TEXT;
    INSERT INTO presence_spans (source, from_ms, to_ms)
        SELECT source, MIN(connected_ms), MAX(COALESCE(disconnected_ms, connected_ms)) + 1
        FROM presence_sessions GROUP BY source;
    "#,
    // 9: how each probe's uploads arrive: per carrier (the uplink named in `Vigil-Uplink`, '' for the registered
    // line) and network (AS 0: not known), the carrier's access when its measurements declared one, first and
    // last seen. Never an address.
    r#"
    CREATE TABLE probe_arrivals (
        probe_id      TEXT NOT NULL REFERENCES probes(probe_id),
        carrier       TEXT NOT NULL,
        asn           INTEGER NOT NULL,
        access        TEXT,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms  INTEGER NOT NULL,
        PRIMARY KEY (probe_id, carrier, asn)
    ) WITHOUT ROWID;
    "#,
    // 10: the country each arrival's network is registered in (the IP-to-ASN table's country column), when the
    // table places it: a satellite operator registered abroad carries a probe's path past the border (issue 24).
    r#"
    ALTER TABLE probe_arrivals ADD COLUMN network_country TEXT;
    "#,
];

/// The schema version this binary writes.
pub(super) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`LATEST`], refusing one written by a newer binary.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > LATEST {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known: LATEST,
        });
    }
    for (index, step) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
        tracing::info!(version = index + 1, "store schema migrated");
    }
    Ok(())
}
