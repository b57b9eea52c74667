//! The PostgreSQL schema, as numbered migrations. Instances that start
//! together take turns through an advisory lock, so each migration runs
//! once; the version lives in `schema_version`.

use tokio_postgres::Client;

/// The advisory lock key instances migrate under ("syncwatch" in ASCII,
/// as a number no other application is likely to pick).
const MIGRATION_LOCK: i64 = 0x7379_6e63_7761_7463;

/// Each entry upgrades from its index to its index + 1. Never edit a
/// released migration: add one. Times are milliseconds since the Unix
/// epoch, as in the SQLite file, so both stores read alike.
const MIGRATIONS: &[&str] = &[
    // 1: everything the SQLite store holds at its version 7, plus the
    // claim lease each queued delivery carries (which instance holds it,
    // until when). Written per webhook, so indexed sparingly: alert and
    // connection rows leave room on their pages for in-place (HOT)
    // updates, and bodies are stored as they came (not compressed: they
    // are read only by `explain`).
    "
    CREATE TABLE events (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        dedup_key   TEXT NOT NULL UNIQUE,
        request_id  TEXT,
        received_at BIGINT NOT NULL,
        event       TEXT,
        connection  TEXT,
        environment TEXT NOT NULL,
        body        BYTEA NOT NULL,
        fired       TEXT NOT NULL DEFAULT '[]',
        suppressed  TEXT NOT NULL DEFAULT '[]',
        transitions TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX events_received ON events (received_at);
    ALTER TABLE events ALTER COLUMN body SET STORAGE EXTERNAL;
    CREATE INDEX events_connection ON events (connection, received_at);
    CREATE TABLE alerts (
        rule          TEXT NOT NULL,
        connection    TEXT NOT NULL,
        data_type     TEXT NOT NULL,
        state         TEXT NOT NULL,
        since         BIGINT NOT NULL,
        firing_since  BIGINT,
        resolved_at   BIGINT,
        matches       BIGINT NOT NULL,
        streak        INTEGER NOT NULL,
        clean         INTEGER NOT NULL,
        last_notified BIGINT,
        notified      TEXT NOT NULL DEFAULT '[]',
        muted_by      TEXT,
        PRIMARY KEY (connection, rule, data_type)
    ) WITH (fillfactor = 80);
    CREATE TABLE deliveries (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id    BIGINT NOT NULL REFERENCES events (id),
        request_id  TEXT,
        rule        TEXT NOT NULL,
        channel     TEXT NOT NULL,
        message     TEXT NOT NULL,
        status      TEXT NOT NULL,
        created_at  BIGINT NOT NULL,
        due_at      BIGINT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT,
        settled_at  BIGINT,
        item        TEXT,
        is_digest   BOOLEAN NOT NULL DEFAULT false,
        digest_id   BIGINT REFERENCES deliveries (id),
        leased_by   TEXT,
        lease_until BIGINT
    );
    CREATE INDEX deliveries_pending ON deliveries (channel, due_at) WHERE status = 'pending';
    CREATE INDEX deliveries_event ON deliveries (event_id);
    CREATE INDEX deliveries_settled ON deliveries (settled_at) WHERE status <> 'pending';
    CREATE INDEX deliveries_digest ON deliveries (digest_id) WHERE digest_id IS NOT NULL;
    CREATE TABLE attempts (
        delivery_id BIGINT NOT NULL REFERENCES deliveries (id),
        at          BIGINT NOT NULL,
        outcome     TEXT NOT NULL,
        answer      TEXT
    );
    CREATE INDEX attempts_delivery ON attempts (delivery_id);
    CREATE TABLE health (id INTEGER PRIMARY KEY CHECK (id = 1), at BIGINT NOT NULL);
    CREATE TABLE connections (
        id              TEXT PRIMARY KEY,
        first_seen      BIGINT NOT NULL,
        last_event      BIGINT NOT NULL,
        last_event_name TEXT,
        last_sync       BIGINT,
        status          TEXT,
        expected_since  BIGINT,
        service         TEXT,
        business        TEXT,
        environment     TEXT NOT NULL
    ) WITH (fillfactor = 80);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
    CREATE TABLE silences (
        id         TEXT PRIMARY KEY,
        matchers   TEXT NOT NULL,
        starts_at  BIGINT NOT NULL,
        ends_at    BIGINT NOT NULL,
        comment    TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expired_at BIGINT
    );
    CREATE TABLE connection_days (
        connection TEXT NOT NULL,
        day        BIGINT NOT NULL,
        clean      BIGINT NOT NULL DEFAULT 0,
        failed     BIGINT NOT NULL DEFAULT 0,
        empty      BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (connection, day)
    );
    ",
    // 2: each queued message names its alert and what it says, as in the
    // SQLite file's version 10: one alert's messages go out in order on a
    // channel, and a FIRING that never arrived is not counted as told.
    "
    ALTER TABLE deliveries ADD COLUMN alert_connection TEXT;
    ALTER TABLE deliveries ADD COLUMN alert_data_type TEXT;
    ALTER TABLE deliveries ADD COLUMN effect TEXT;
    ALTER TABLE connections ADD COLUMN status_at BIGINT;
    CREATE INDEX deliveries_alert ON deliveries (channel, rule, alert_connection, alert_data_type)
        WHERE status IN ('pending', 'digested');
    ",
    // 3: the Slack message each alert episode's thread hangs on, per
    // channel posting as an app, as in the SQLite file's version 11: any
    // instance that sends a reply or a RESOLVED finds the FIRING's `ts`.
    "
    CREATE TABLE slack_threads (
        channel       TEXT NOT NULL,
        alert         TEXT NOT NULL,
        since         BIGINT NOT NULL,
        slack_channel TEXT NOT NULL,
        ts            TEXT NOT NULL,
        is_digest     BOOLEAN NOT NULL DEFAULT false,
        original      TEXT NOT NULL,
        posted_at     BIGINT NOT NULL,
        PRIMARY KEY (channel, alert)
    );
    ",
    // 4: provider outages, as in the SQLite file's version 12: each
    // connection's latest outcome per outage and group (what is counted,
    // never the events), each outage's state, and syncs and failed syncs
    // per service and hour (the page's chart).
    "
    CREATE TABLE outage_members (
        outage       TEXT NOT NULL,
        grp          TEXT NOT NULL,
        connection   TEXT NOT NULL,
        synced_at    BIGINT NOT NULL,
        failed_at    BIGINT,
        failed_types TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (outage, grp, connection)
    );
    CREATE INDEX outage_members_synced ON outage_members (outage, grp, synced_at);
    CREATE TABLE outage_states (
        outage        TEXT NOT NULL,
        grp           TEXT NOT NULL,
        firing        BOOLEAN NOT NULL,
        since         BIGINT NOT NULL,
        clear_since   BIGINT,
        last_notified BIGINT,
        synced        BIGINT NOT NULL,
        failing       BIGINT NOT NULL,
        PRIMARY KEY (outage, grp)
    );
    CREATE TABLE service_hours (
        service TEXT NOT NULL,
        hour    BIGINT NOT NULL,
        syncs   BIGINT NOT NULL DEFAULT 0,
        failed  BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (service, hour)
    );
    ",
];

pub const CURRENT_VERSION: i32 = MIGRATIONS.len() as i32;

/// Brings the database to [`CURRENT_VERSION`] under the migration lock;
/// returns the version found.
pub async fn migrate(client: &mut Client) -> Result<i32, tokio_postgres::Error> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = migrate_locked(client).await;
    // Closing the session would release it too; a pooled one stays open.
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    result
}

async fn migrate_locked(client: &mut Client) -> Result<i32, tokio_postgres::Error> {
    // Looked up first: `CREATE TABLE IF NOT EXISTS` on an existing table
    // makes the server send a NOTICE, which every read-only command
    // printed on stderr.
    let exists: bool = (client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .await?)
        .get(0);
    if !exists {
        client
            .batch_execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            .await?;
    }
    let found: i32 = client
        .query_opt("SELECT version FROM schema_version", &[])
        .await?
        .map_or(0, |row| row.get(0));
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute("DELETE FROM schema_version", &[]).await?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&(index as i32 + 1)],
        )
        .await?;
        tx.commit().await?;
    }
    Ok(found)
}
