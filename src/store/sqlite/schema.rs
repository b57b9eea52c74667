//! The database schema, as numbered migrations applied at open. The
//! version is SQLite's `user_version`; each migration runs in its own
//! transaction, so an interrupted upgrade leaves the previous version.

use rusqlite::{Connection, Transaction};

/// Each entry upgrades from its index to its index + 1. Never edit a
/// released migration: add one.
const MIGRATIONS: &[&str] = &[
    // 1: events, alert state and the delivery queue.
    "
    CREATE TABLE events (
        id          INTEGER PRIMARY KEY,
        dedup_key   TEXT NOT NULL UNIQUE,
        request_id  TEXT,
        received_at INTEGER NOT NULL,
        event       TEXT,
        connection  TEXT,
        environment TEXT NOT NULL,
        body        BLOB NOT NULL
    );
    CREATE INDEX events_received ON events (received_at);
    CREATE TABLE alerts (
        rule          TEXT NOT NULL,
        connection    TEXT NOT NULL,
        data_type     TEXT NOT NULL,
        last_notified INTEGER NOT NULL,
        PRIMARY KEY (rule, connection, data_type)
    );
    CREATE TABLE deliveries (
        id          INTEGER PRIMARY KEY,
        event_id    INTEGER NOT NULL REFERENCES events (id),
        request_id  TEXT,
        rule        TEXT NOT NULL,
        channel     TEXT NOT NULL,
        message     TEXT NOT NULL,
        status      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        due_at      INTEGER NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT,
        settled_at  INTEGER
    );
    CREATE INDEX deliveries_pending ON deliveries (channel, due_at) WHERE status = 'pending';
    ",
    // 2: the audit trail: which rules fired (and which were kept quiet),
    // every delivery attempt with the channel's answer, and the indexes
    // that `history` and pruning need.
    "
    ALTER TABLE events ADD COLUMN fired TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE events ADD COLUMN suppressed TEXT NOT NULL DEFAULT '[]';
    CREATE TABLE attempts (
        delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
        at          INTEGER NOT NULL,
        outcome     TEXT NOT NULL,
        answer      TEXT
    );
    CREATE INDEX attempts_delivery ON attempts (delivery_id);
    CREATE INDEX deliveries_event ON deliveries (event_id);
    CREATE INDEX deliveries_settled ON deliveries (settled_at) WHERE status <> 'pending';
    CREATE INDEX alerts_scope ON alerts (connection, data_type);
    CREATE INDEX events_connection ON events (connection, received_at);
    CREATE TABLE health (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL);
    ",
    // 3: the alert lifecycle. An alert is pending, firing or resolved, with
    // its episode's counts and the channels told it fired; alerts of the
    // previous schema were active, so they become firing ones, told on the
    // channels their deliveries went to. Each event records the
    // transitions it made, for `explain`.
    "
    CREATE TABLE alerts_lifecycle (
        rule          TEXT NOT NULL,
        connection    TEXT NOT NULL,
        data_type     TEXT NOT NULL,
        state         TEXT NOT NULL,
        since         INTEGER NOT NULL,
        firing_since  INTEGER,
        resolved_at   INTEGER,
        matches       INTEGER NOT NULL,
        streak        INTEGER NOT NULL,
        clean         INTEGER NOT NULL,
        last_notified INTEGER,
        notified      TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (rule, connection, data_type)
    );
    INSERT INTO alerts_lifecycle
    SELECT a.rule, a.connection, a.data_type, 'firing', a.last_notified, a.last_notified, NULL, 1, 1, 0,
           a.last_notified,
           (SELECT json_group_array(channel) FROM (
                SELECT DISTINCT d.channel FROM deliveries d JOIN events e ON e.id = d.event_id
                WHERE d.rule = a.rule AND e.connection = a.connection))
    FROM alerts a;
    DROP TABLE alerts;
    ALTER TABLE alerts_lifecycle RENAME TO alerts;
    CREATE INDEX alerts_active ON alerts (connection) WHERE state IN ('pending', 'firing');
    ALTER TABLE events ADD COLUMN transitions TEXT NOT NULL DEFAULT '[]';
    ",
    // 4: known connections, for absence rules and `syncwatch connections`;
    // `meta` holds the daemon's heartbeat and where absence clocks start
    // after a downtime. Connections already seen in events are known from
    // their last event.
    "
    CREATE TABLE connections (
        id              TEXT PRIMARY KEY,
        first_seen      INTEGER NOT NULL,
        last_event      INTEGER NOT NULL,
        last_event_name TEXT,
        last_sync       INTEGER,
        status          TEXT,
        expected_since  INTEGER,
        service         TEXT,
        business        TEXT,
        environment     TEXT NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO connections (id, first_seen, last_event, last_event_name, last_sync, environment)
    SELECT connection, MIN(received_at), MAX(received_at),
           (SELECT e2.event FROM events e2 WHERE e2.connection = e.connection ORDER BY e2.received_at DESC LIMIT 1),
           MAX(CASE WHEN event IN ('data', 'dataPerType') THEN received_at END),
           (SELECT e2.environment FROM events e2 WHERE e2.connection = e.connection ORDER BY e2.received_at DESC LIMIT 1)
    FROM events e WHERE connection IS NOT NULL GROUP BY connection;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    ",
    // 5: digests. Each queued notification keeps what a digest shows of it
    // (`item`); a digest is a queued message of its own (`is_digest`), and
    // the notifications it carries wait as `digested` until it settles.
    "
    ALTER TABLE deliveries ADD COLUMN item TEXT;
    ALTER TABLE deliveries ADD COLUMN is_digest INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE deliveries ADD COLUMN digest_id INTEGER REFERENCES deliveries (id);
    CREATE INDEX deliveries_digest ON deliveries (digest_id) WHERE digest_id IS NOT NULL;
    ",
    // 6: silences, made at run time by `syncwatch silence`; each alert
    // remembers what last muted it.
    "
    CREATE TABLE silences (
        id         TEXT PRIMARY KEY,
        matchers   TEXT NOT NULL,
        starts_at  INTEGER NOT NULL,
        ends_at    INTEGER NOT NULL,
        comment    TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expired_at INTEGER
    );
    ALTER TABLE alerts ADD COLUMN muted_by TEXT;
    ",
    // 7: per connection and day (UTC), how its syncs ended: the status
    // page's 14-day strip.
    "
    CREATE TABLE connection_days (
        connection TEXT NOT NULL,
        day        INTEGER NOT NULL,
        clean      INTEGER NOT NULL DEFAULT 0,
        failed     INTEGER NOT NULL DEFAULT 0,
        empty      INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (connection, day)
    ) WITHOUT ROWID;
    ",
    // 8: bodies stored compressed from now on (see `body`); older rows
    // keep theirs as received.
    "
    ALTER TABLE events ADD COLUMN body_lz4 INTEGER NOT NULL DEFAULT 0;
    ",
    // 9: redeliveries are recognised in memory (see `seen`), so the events
    // table loses the unique index on `dedup_key`, which cost every event a
    // random page write. SQLite cannot drop a column's UNIQUE: the table is
    // rebuilt, rows and ids as they were.
    "
    CREATE TABLE events_v9 (
        id          INTEGER PRIMARY KEY,
        dedup_key   TEXT NOT NULL,
        request_id  TEXT,
        received_at INTEGER NOT NULL,
        event       TEXT,
        connection  TEXT,
        environment TEXT NOT NULL,
        body        BLOB NOT NULL,
        fired       TEXT NOT NULL DEFAULT '[]',
        suppressed  TEXT NOT NULL DEFAULT '[]',
        transitions TEXT NOT NULL DEFAULT '[]',
        body_lz4    INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO events_v9 (id, dedup_key, request_id, received_at, event, connection, environment, body,
                           fired, suppressed, transitions, body_lz4)
    SELECT id, dedup_key, request_id, received_at, event, connection, environment, body,
           fired, suppressed, transitions, body_lz4 FROM events;
    DROP TABLE events;
    ALTER TABLE events_v9 RENAME TO events;
    CREATE INDEX events_received ON events (received_at);
    CREATE INDEX events_connection ON events (connection, received_at);
    ",
    // 10: each queued message names its alert (rule, connection, data
    // type) and what it says (firing, still_failing, resolved), so that
    // one alert's messages go out in order on a channel, and a FIRING that
    // never arrived is not counted as told. Older rows keep NULL: they are
    // sent as before. A connection's status keeps when it took effect, so
    // that an older one delivered late is not applied.
    "
    ALTER TABLE deliveries ADD COLUMN alert_connection TEXT;
    ALTER TABLE deliveries ADD COLUMN alert_data_type TEXT;
    ALTER TABLE deliveries ADD COLUMN effect TEXT;
    ALTER TABLE connections ADD COLUMN status_at INTEGER;
    CREATE INDEX deliveries_alert ON deliveries (channel, rule, alert_connection, alert_data_type)
        WHERE status IN ('pending', 'digested');
    ",
    // 11: the Slack message each alert episode's thread hangs on, per
    // channel posting as an app: the channel id and `ts` Slack gave its
    // FIRING (or the digest that told it), and the payload as posted, so
    // that RESOLVED can update it in place. One row per channel and alert:
    // a new episode's message replaces the last one.
    "
    CREATE TABLE slack_threads (
        channel       TEXT NOT NULL,
        alert         TEXT NOT NULL,
        since         INTEGER NOT NULL,
        slack_channel TEXT NOT NULL,
        ts            TEXT NOT NULL,
        is_digest     INTEGER NOT NULL DEFAULT 0,
        original      TEXT NOT NULL,
        posted_at     INTEGER NOT NULL,
        PRIMARY KEY (channel, alert)
    ) WITHOUT ROWID;
    ",
    // 12: provider outages: each connection's latest outcome per outage
    // and group (what is counted, never the events), each outage's state,
    // and failing syncs per service and hour (the page's chart).
    "
    CREATE TABLE outage_members (
        outage       TEXT NOT NULL,
        grp          TEXT NOT NULL,
        connection   TEXT NOT NULL,
        synced_at    INTEGER NOT NULL,
        failed_at    INTEGER,
        failed_types TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (outage, grp, connection)
    );
    CREATE INDEX outage_members_synced ON outage_members (outage, grp, synced_at);
    CREATE TABLE outage_states (
        outage        TEXT NOT NULL,
        grp           TEXT NOT NULL,
        firing        INTEGER NOT NULL,
        since         INTEGER NOT NULL,
        clear_since   INTEGER,
        last_notified INTEGER,
        synced        INTEGER NOT NULL,
        failing       INTEGER NOT NULL,
        PRIMARY KEY (outage, grp)
    );
    CREATE TABLE service_hours (
        service TEXT NOT NULL,
        hour    INTEGER NOT NULL,
        syncs   INTEGER NOT NULL DEFAULT 0,
        failed  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (service, hour)
    );
    ",
];

pub const CURRENT_VERSION: usize = MIGRATIONS.len();

/// Brings the database to [`CURRENT_VERSION`]; returns the version found.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<usize> {
    migrate_to(conn, CURRENT_VERSION)
}

/// Applies migrations up to `target` (tests build older schemas with it).
pub fn migrate_to(conn: &mut Connection, target: usize) -> rusqlite::Result<usize> {
    let found: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > CURRENT_VERSION {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "the database has schema version {found}, newer than this syncwatch ({CURRENT_VERSION}): upgrade syncwatch"
            )),
        ));
    }
    if found >= target {
        return Ok(found);
    }
    // Rebuilding a table that others reference (migration 9) needs foreign
    // key enforcement off, and that only changes outside a transaction;
    // each migration checks the references itself before it commits.
    let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |row| row.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let migrated = MIGRATIONS
        .iter()
        .enumerate()
        .take(target)
        .skip(found)
        .try_for_each(|(index, sql)| {
            let tx = conn.transaction()?;
            apply(&tx, sql, index + 1)?;
            tx.commit()
        });
    conn.pragma_update(None, "foreign_keys", enforced)?;
    migrated.map(|()| found)
}

fn apply(tx: &Transaction<'_>, sql: &str, version: usize) -> rusqlite::Result<()> {
    tx.execute_batch(sql)?;
    let broken: i64 = tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| row.get(0))?;
    if broken > 0 {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
            Some(format!(
                "migration {version} would leave {broken} rows referring to rows that are gone"
            )),
        ));
    }
    tx.pragma_update(None, "user_version", version)
}
