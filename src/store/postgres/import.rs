//! Writing a SQLite store's rows into an empty PostgreSQL database, for
//! `syncwatch migrate`: each batch is one statement (the rows as arrays,
//! `unnest`ed), all of it in the caller's one transaction.
//!
//! Rows keep their ids (`OVERRIDING SYSTEM VALUE`), and the identity
//! sequences are moved past them at the end: deliveries keep pointing at
//! their events, attempts at their deliveries, digest members at their
//! digest, and one alert's messages keep their queue order (which is id
//! order) with no id map to build.

use deadpool_postgres::{Pool, Transaction};
use tokio_postgres::types::ToSql;

use crate::store::StoreError;
use crate::store::sqlite::export::{
    Alert, Attempt, Day, Delivery, Event, KnownConnection, Meta, OutageMember, OutageStateRow, Rows, ServiceHour,
    Silence, SlackThread, Table,
};

use super::{db_error, open, schema};

/// Connects to `url` and brings its schema up to date, as the daemon does
/// at start. Returns the pool and the schema version it is now at.
pub async fn connect(url: &str) -> Result<(Pool, i32), StoreError> {
    let pool = open::open_pool(url).await?;
    Ok((pool, schema::CURRENT_VERSION))
}

/// The data tables: a target with a row in any of them is not empty.
/// (`meta` is left out: a daemon started on the database once and given
/// no webhook wrote only its heartbeat there.)
const DATA: [Table; 11] = [
    Table::Events,
    Table::Deliveries,
    Table::Attempts,
    Table::Alerts,
    Table::Connections,
    Table::ConnectionDays,
    Table::Silences,
    Table::SlackThreads,
    Table::OutageMembers,
    Table::OutageStates,
    Table::ServiceHours,
];

/// Counted at most up to this, to say what a non-empty target holds
/// without reading a large table whole.
pub const COUNT_UP_TO: i64 = 10_000;

/// Takes the tables for the transaction (others may read them; a daemon
/// writing to them waits, or this gives up after `lock_timeout`), and
/// counts what each data table already holds, up to [`COUNT_UP_TO`] + 1.
pub async fn lock_and_count(tx: &Transaction<'_>) -> Result<Vec<(Table, i64)>, StoreError> {
    tx.batch_execute("SET LOCAL lock_timeout = '10s'")
        .await
        .map_err(db_error)?;
    let tables: Vec<&str> = Table::ALL.iter().map(|table| table.name()).collect();
    tx.batch_execute(&format!("LOCK TABLE {} IN EXCLUSIVE MODE", tables.join(", ")))
        .await
        .map_err(|err| match err.code() {
            Some(code) if *code == tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE => StoreError::Unavailable(
                "another session is writing to the target's tables (is a syncwatch running on it?)".into(),
            ),
            _ => db_error(err),
        })?;
    let mut found = Vec::new();
    for table in DATA {
        let sql = format!(
            "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT {}) AS found",
            table.name(),
            COUNT_UP_TO + 1
        );
        let count: i64 = tx.query_one(&sql, &[]).await.map_err(db_error)?.get(0);
        found.push((table, count));
    }
    Ok(found)
}

/// Inserts one batch; returns the rows written.
pub async fn insert(tx: &Transaction<'_>, rows: &Rows) -> Result<u64, StoreError> {
    let written = match rows {
        Rows::Events(rows) => events(tx, rows).await,
        Rows::Deliveries(rows) => deliveries(tx, rows).await,
        Rows::Attempts(rows) => attempts(tx, rows).await,
        Rows::Alerts(rows) => alerts(tx, rows).await,
        Rows::Connections(rows) => connections(tx, rows).await,
        Rows::ConnectionDays(rows) => days(tx, rows).await,
        Rows::Silences(rows) => silences(tx, rows).await,
        Rows::Meta(rows) => meta(tx, rows).await,
        Rows::SlackThreads(rows) => slack_threads(tx, rows).await,
        Rows::OutageMembers(rows) => outage_members(tx, rows).await,
        Rows::OutageStates(rows) => outage_states(tx, rows).await,
        Rows::ServiceHours(rows) => service_hours(tx, rows).await,
    };
    written.map_err(|err| {
        // A violated constraint says which row in its detail.
        let detail = err.as_db_error().and_then(|db| db.detail()).map(str::to_owned);
        match (db_error(err), detail) {
            (StoreError::Unavailable(message), Some(detail)) => {
                StoreError::Unavailable(format!("{message} ({detail})"))
            }
            (other, _) => other,
        }
    })
}

async fn run(tx: &Transaction<'_>, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, tokio_postgres::Error> {
    let statement = tx.prepare_cached(sql).await?;
    tx.execute(&statement, params).await
}

const EVENTS: &str = "INSERT INTO events (id, dedup_key, request_id, received_at, event, connection, environment, body,
    fired, suppressed, transitions) OVERRIDING SYSTEM VALUE
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[],
        $8::bytea[], $9::text[], $10::text[], $11::text[])";

async fn events(tx: &Transaction<'_>, rows: &[Event]) -> Result<u64, tokio_postgres::Error> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let keys: Vec<&str> = rows.iter().map(|r| r.dedup_key.as_str()).collect();
    let request_ids: Vec<Option<&str>> = rows.iter().map(|r| r.request_id.as_deref()).collect();
    let received: Vec<i64> = rows.iter().map(|r| r.received_at).collect();
    let names: Vec<Option<&str>> = rows.iter().map(|r| r.event.as_deref()).collect();
    let connections: Vec<Option<&str>> = rows.iter().map(|r| r.connection.as_deref()).collect();
    let environments: Vec<&str> = rows.iter().map(|r| r.environment.as_str()).collect();
    let bodies: Vec<&[u8]> = rows.iter().map(|r| r.body.as_slice()).collect();
    let fired: Vec<&str> = rows.iter().map(|r| r.fired.as_str()).collect();
    let suppressed: Vec<&str> = rows.iter().map(|r| r.suppressed.as_str()).collect();
    let transitions: Vec<&str> = rows.iter().map(|r| r.transitions.as_str()).collect();
    run(
        tx,
        EVENTS,
        &[
            &ids,
            &keys,
            &request_ids,
            &received,
            &names,
            &connections,
            &environments,
            &bodies,
            &fired,
            &suppressed,
            &transitions,
        ],
    )
    .await
}

/// Leases are left out (NULL): nobody holds a message copied from SQLite.
const DELIVERIES: &str = "INSERT INTO deliveries (id, event_id, request_id, rule, channel, message, status, created_at,
    due_at, attempts, last_error, settled_at, item, is_digest, digest_id, alert_connection, alert_data_type, effect)
    OVERRIDING SYSTEM VALUE
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::bigint[], $13::text[], $14::boolean[],
        $15::bigint[], $16::text[], $17::text[], $18::text[])";

async fn deliveries(tx: &Transaction<'_>, rows: &[Delivery]) -> Result<u64, tokio_postgres::Error> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let events: Vec<i64> = rows.iter().map(|r| r.event_id).collect();
    let request_ids: Vec<Option<&str>> = rows.iter().map(|r| r.request_id.as_deref()).collect();
    let rules: Vec<&str> = rows.iter().map(|r| r.rule.as_str()).collect();
    let channels: Vec<&str> = rows.iter().map(|r| r.channel.as_str()).collect();
    let messages: Vec<&str> = rows.iter().map(|r| r.message.as_str()).collect();
    let statuses: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
    let created: Vec<i64> = rows.iter().map(|r| r.created_at).collect();
    let due: Vec<i64> = rows.iter().map(|r| r.due_at).collect();
    let attempts: Vec<i64> = rows.iter().map(|r| r.attempts).collect();
    let errors: Vec<Option<&str>> = rows.iter().map(|r| r.last_error.as_deref()).collect();
    let settled: Vec<Option<i64>> = rows.iter().map(|r| r.settled_at).collect();
    let items: Vec<Option<&str>> = rows.iter().map(|r| r.item.as_deref()).collect();
    let digests: Vec<bool> = rows.iter().map(|r| r.is_digest).collect();
    let digest_ids: Vec<Option<i64>> = rows.iter().map(|r| r.digest_id).collect();
    let alert_connections: Vec<Option<&str>> = rows.iter().map(|r| r.alert_connection.as_deref()).collect();
    let alert_data_types: Vec<Option<&str>> = rows.iter().map(|r| r.alert_data_type.as_deref()).collect();
    let effects: Vec<Option<&str>> = rows.iter().map(|r| r.effect.as_deref()).collect();
    run(
        tx,
        DELIVERIES,
        &[
            &ids,
            &events,
            &request_ids,
            &rules,
            &channels,
            &messages,
            &statuses,
            &created,
            &due,
            &attempts,
            &errors,
            &settled,
            &items,
            &digests,
            &digest_ids,
            &alert_connections,
            &alert_data_types,
            &effects,
        ],
    )
    .await
}

const ATTEMPTS: &str = "INSERT INTO attempts (delivery_id, at, outcome, answer)
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[])";

async fn attempts(tx: &Transaction<'_>, rows: &[Attempt]) -> Result<u64, tokio_postgres::Error> {
    let deliveries: Vec<i64> = rows.iter().map(|r| r.delivery_id).collect();
    let at: Vec<i64> = rows.iter().map(|r| r.at).collect();
    let outcomes: Vec<&str> = rows.iter().map(|r| r.outcome.as_str()).collect();
    let answers: Vec<Option<&str>> = rows.iter().map(|r| r.answer.as_deref()).collect();
    run(tx, ATTEMPTS, &[&deliveries, &at, &outcomes, &answers]).await
}

const ALERTS: &str =
    "INSERT INTO alerts (rule, connection, data_type, state, since, firing_since, resolved_at, matches,
    streak, clean, last_notified, notified, muted_by)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
        $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::text[], $13::text[])";

async fn alerts(tx: &Transaction<'_>, rows: &[Alert]) -> Result<u64, tokio_postgres::Error> {
    let rules: Vec<&str> = rows.iter().map(|r| r.rule.as_str()).collect();
    let connections: Vec<&str> = rows.iter().map(|r| r.connection.as_str()).collect();
    let data_types: Vec<&str> = rows.iter().map(|r| r.data_type.as_str()).collect();
    let states: Vec<&str> = rows.iter().map(|r| r.state.as_str()).collect();
    let since: Vec<i64> = rows.iter().map(|r| r.since).collect();
    let firing_since: Vec<Option<i64>> = rows.iter().map(|r| r.firing_since).collect();
    let resolved_at: Vec<Option<i64>> = rows.iter().map(|r| r.resolved_at).collect();
    let matches: Vec<i64> = rows.iter().map(|r| r.matches).collect();
    let streaks: Vec<i64> = rows.iter().map(|r| r.streak).collect();
    let clean: Vec<i64> = rows.iter().map(|r| r.clean).collect();
    let last_notified: Vec<Option<i64>> = rows.iter().map(|r| r.last_notified).collect();
    let notified: Vec<&str> = rows.iter().map(|r| r.notified.as_str()).collect();
    let muted_by: Vec<Option<&str>> = rows.iter().map(|r| r.muted_by.as_deref()).collect();
    run(
        tx,
        ALERTS,
        &[
            &rules,
            &connections,
            &data_types,
            &states,
            &since,
            &firing_since,
            &resolved_at,
            &matches,
            &streaks,
            &clean,
            &last_notified,
            &notified,
            &muted_by,
        ],
    )
    .await
}

const CONNECTIONS: &str = "INSERT INTO connections (id, first_seen, last_event, last_event_name, last_sync, status,
    expected_since, service, business, environment, status_at)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::bigint[],
        $8::text[], $9::text[], $10::text[], $11::bigint[])";

async fn connections(tx: &Transaction<'_>, rows: &[KnownConnection]) -> Result<u64, tokio_postgres::Error> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let first_seen: Vec<i64> = rows.iter().map(|r| r.first_seen).collect();
    let last_event: Vec<i64> = rows.iter().map(|r| r.last_event).collect();
    let last_event_name: Vec<Option<&str>> = rows.iter().map(|r| r.last_event_name.as_deref()).collect();
    let last_sync: Vec<Option<i64>> = rows.iter().map(|r| r.last_sync).collect();
    let statuses: Vec<Option<&str>> = rows.iter().map(|r| r.status.as_deref()).collect();
    let expected_since: Vec<Option<i64>> = rows.iter().map(|r| r.expected_since).collect();
    let services: Vec<Option<&str>> = rows.iter().map(|r| r.service.as_deref()).collect();
    let businesses: Vec<Option<&str>> = rows.iter().map(|r| r.business.as_deref()).collect();
    let environments: Vec<&str> = rows.iter().map(|r| r.environment.as_str()).collect();
    let status_at: Vec<Option<i64>> = rows.iter().map(|r| r.status_at).collect();
    run(
        tx,
        CONNECTIONS,
        &[
            &ids,
            &first_seen,
            &last_event,
            &last_event_name,
            &last_sync,
            &statuses,
            &expected_since,
            &services,
            &businesses,
            &environments,
            &status_at,
        ],
    )
    .await
}

const DAYS: &str = "INSERT INTO connection_days (connection, day, clean, failed, empty)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])";

async fn days(tx: &Transaction<'_>, rows: &[Day]) -> Result<u64, tokio_postgres::Error> {
    let connections: Vec<&str> = rows.iter().map(|r| r.connection.as_str()).collect();
    let days: Vec<i64> = rows.iter().map(|r| r.day).collect();
    let clean: Vec<i64> = rows.iter().map(|r| r.clean).collect();
    let failed: Vec<i64> = rows.iter().map(|r| r.failed).collect();
    let empty: Vec<i64> = rows.iter().map(|r| r.empty).collect();
    run(tx, DAYS, &[&connections, &days, &clean, &failed, &empty]).await
}

const SILENCES: &str = "INSERT INTO silences (id, matchers, starts_at, ends_at, comment, created_at, expired_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[])";

async fn silences(tx: &Transaction<'_>, rows: &[Silence]) -> Result<u64, tokio_postgres::Error> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let matchers: Vec<&str> = rows.iter().map(|r| r.matchers.as_str()).collect();
    let starts: Vec<i64> = rows.iter().map(|r| r.starts_at).collect();
    let ends: Vec<i64> = rows.iter().map(|r| r.ends_at).collect();
    let comments: Vec<&str> = rows.iter().map(|r| r.comment.as_str()).collect();
    let created: Vec<i64> = rows.iter().map(|r| r.created_at).collect();
    let expired: Vec<Option<i64>> = rows.iter().map(|r| r.expired_at).collect();
    run(
        tx,
        SILENCES,
        &[&ids, &matchers, &starts, &ends, &comments, &created, &expired],
    )
    .await
}

/// The source's values win over what a daemon started on the target once
/// wrote (its heartbeat): the absence clocks then run as on the source.
const META: &str = "INSERT INTO meta (key, value) SELECT * FROM unnest($1::text[], $2::bigint[])
    ON CONFLICT (key) DO UPDATE SET value = excluded.value";

async fn meta(tx: &Transaction<'_>, rows: &[Meta]) -> Result<u64, tokio_postgres::Error> {
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    let values: Vec<i64> = rows.iter().map(|r| r.value).collect();
    run(tx, META, &[&keys, &values]).await
}

const SLACK_THREADS: &str = "INSERT INTO slack_threads (channel, alert, since, slack_channel, ts, is_digest, original,
    posted_at) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::boolean[],
        $7::text[], $8::bigint[])";

async fn slack_threads(tx: &Transaction<'_>, rows: &[SlackThread]) -> Result<u64, tokio_postgres::Error> {
    let channels: Vec<&str> = rows.iter().map(|r| r.channel.as_str()).collect();
    let alerts: Vec<&str> = rows.iter().map(|r| r.alert.as_str()).collect();
    let since: Vec<i64> = rows.iter().map(|r| r.since).collect();
    let slack_channels: Vec<&str> = rows.iter().map(|r| r.slack_channel.as_str()).collect();
    let ts: Vec<&str> = rows.iter().map(|r| r.ts.as_str()).collect();
    let digests: Vec<bool> = rows.iter().map(|r| r.is_digest).collect();
    let originals: Vec<&str> = rows.iter().map(|r| r.original.as_str()).collect();
    let posted: Vec<i64> = rows.iter().map(|r| r.posted_at).collect();
    run(
        tx,
        SLACK_THREADS,
        &[
            &channels,
            &alerts,
            &since,
            &slack_channels,
            &ts,
            &digests,
            &originals,
            &posted,
        ],
    )
    .await
}

const OUTAGE_MEMBERS: &str = "INSERT INTO outage_members (outage, grp, connection, synced_at, failed_at, failed_types)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[])";

async fn outage_members(tx: &Transaction<'_>, rows: &[OutageMember]) -> Result<u64, tokio_postgres::Error> {
    let outages: Vec<&str> = rows.iter().map(|r| r.outage.as_str()).collect();
    let groups: Vec<&str> = rows.iter().map(|r| r.grp.as_str()).collect();
    let connections: Vec<&str> = rows.iter().map(|r| r.connection.as_str()).collect();
    let synced: Vec<i64> = rows.iter().map(|r| r.synced_at).collect();
    let failed: Vec<Option<i64>> = rows.iter().map(|r| r.failed_at).collect();
    let types: Vec<&str> = rows.iter().map(|r| r.failed_types.as_str()).collect();
    run(
        tx,
        OUTAGE_MEMBERS,
        &[&outages, &groups, &connections, &synced, &failed, &types],
    )
    .await
}

const OUTAGE_STATES: &str = "INSERT INTO outage_states (outage, grp, firing, since, clear_since, last_notified, synced,
    failing) SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::bigint[], $5::bigint[], $6::bigint[],
        $7::bigint[], $8::bigint[])";

async fn outage_states(tx: &Transaction<'_>, rows: &[OutageStateRow]) -> Result<u64, tokio_postgres::Error> {
    let outages: Vec<&str> = rows.iter().map(|r| r.outage.as_str()).collect();
    let groups: Vec<&str> = rows.iter().map(|r| r.grp.as_str()).collect();
    let firing: Vec<bool> = rows.iter().map(|r| r.firing).collect();
    let since: Vec<i64> = rows.iter().map(|r| r.since).collect();
    let clear_since: Vec<Option<i64>> = rows.iter().map(|r| r.clear_since).collect();
    let last_notified: Vec<Option<i64>> = rows.iter().map(|r| r.last_notified).collect();
    let synced: Vec<i64> = rows.iter().map(|r| r.synced).collect();
    let failing: Vec<i64> = rows.iter().map(|r| r.failing).collect();
    run(
        tx,
        OUTAGE_STATES,
        &[
            &outages,
            &groups,
            &firing,
            &since,
            &clear_since,
            &last_notified,
            &synced,
            &failing,
        ],
    )
    .await
}

const SERVICE_HOURS: &str = "INSERT INTO service_hours (service, hour, syncs, failed)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])";

async fn service_hours(tx: &Transaction<'_>, rows: &[ServiceHour]) -> Result<u64, tokio_postgres::Error> {
    let services: Vec<&str> = rows.iter().map(|r| r.service.as_str()).collect();
    let hours: Vec<i64> = rows.iter().map(|r| r.hour).collect();
    let syncs: Vec<i64> = rows.iter().map(|r| r.syncs).collect();
    let failed: Vec<i64> = rows.iter().map(|r| r.failed).collect();
    run(tx, SERVICE_HOURS, &[&services, &hours, &syncs, &failed]).await
}

/// Moves the identity sequences of `events` and `deliveries` past the
/// ids copied; returns the id each will hand out next. A rollback does not
/// undo `setval`: run last, a failed commit after it only leaves the
/// sequences ahead of empty tables (ids skipped, nothing else).
pub async fn advance_sequences(tx: &Transaction<'_>) -> Result<Vec<(Table, i64)>, StoreError> {
    let mut next = Vec::new();
    for table in [Table::Events, Table::Deliveries] {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{0}', 'id'), COALESCE((SELECT max(id) FROM {0}), 0) + 1, false)",
            table.name()
        );
        let id: i64 = tx.query_one(&sql, &[]).await.map_err(db_error)?.get(0);
        next.push((table, id));
    }
    Ok(next)
}

/// The rows `table` holds now.
pub async fn count(tx: &Transaction<'_>, table: Table) -> Result<u64, StoreError> {
    let sql = format!("SELECT count(*) FROM {}", table.name());
    let count: i64 = tx.query_one(&sql, &[]).await.map_err(db_error)?.get(0);
    Ok(count.max(0) as u64)
}
