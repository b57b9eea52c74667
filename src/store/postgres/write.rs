//! The ingest transaction, and the absence checks that share its shape:
//! take the connection's lock, read its alerts and row, run the lifecycle,
//! write back what changed. The lock is what makes instances agree: two
//! events of one connection taken by two instances move its alerts one
//! after the other, so `after: 2` counts both, and a redelivery waits for
//! the first copy's commit and then finds its key.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use deadpool_postgres::Transaction;
use futures_util::future::{try_join_all, try_join4};
use tokio_postgres::Error;
use tokio_postgres::types::ToSql;

use crate::absence::{Check, KnownConnection, watches};
use crate::alerts::AlertKey;
use crate::config::Config;
use crate::event::Status;
use crate::lifecycle::{AlertInput, Notification, Phase, apply, apply_absence};
use crate::quiet::Silence;
use crate::store::sqlite::{AbsenceOutcome, Checked};

use super::super::model::{Ingest, IngestOutcome};
use super::super::time::millis;
use super::rows::{self, AlertParams};
use super::staged::Staged;

/// Serialises everything that moves one connection's alerts, across
/// instances, until the transaction ends.
pub const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";

/// The lock key of a connection's alerts ("-" holds events that name none).
pub fn connection_lock(connection: &str) -> String {
    format!("connection:{connection}")
}

// One connection's rows by equality, not `= ANY`: a plan the server can
// reuse for every webhook that still uses the primary key.
const ALERTS_OF_ONE: &str = "SELECT rule, connection, data_type, state, since, firing_since, resolved_at, matches, streak, clean, last_notified, notified, muted_by
     FROM alerts WHERE connection = $1";
const KNOWN_ONE: &str = "SELECT id, first_seen, last_event, last_event_name, last_sync, status, expected_since, service, business, environment
     FROM connections WHERE id = $1";
const SEEN: &str = "SELECT 1 FROM events WHERE dedup_key = $1";
const KNOWN: &str = "SELECT id, first_seen, last_event, last_event_name, last_sync, status, expected_since, service, business, environment
     FROM connections WHERE id = ANY($1)";
/// Everything an accepted event writes, in one statement: the server
/// parses and plans one statement per webhook instead of one per row, and
/// the rows travel as JSON arrays (alerts, deliveries, connection, day).
const RECORD: &str = "WITH event AS (
    INSERT INTO events (dedup_key, request_id, received_at, event, connection, environment, body, fired, suppressed, transitions)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id
), alert_rows AS (
    INSERT INTO alerts (rule, connection, data_type, state, since, firing_since, resolved_at, matches, streak, clean, last_notified, notified, muted_by)
    SELECT * FROM jsonb_to_recordset($11::jsonb) AS x (rule text, connection text, data_type text, state text,
        since bigint, firing_since bigint, resolved_at bigint, matches bigint, streak integer, clean integer,
        last_notified bigint, notified text, muted_by text)
    ON CONFLICT (connection, rule, data_type) DO UPDATE SET state = excluded.state, since = excluded.since,
    firing_since = excluded.firing_since, resolved_at = excluded.resolved_at, matches = excluded.matches,
    streak = excluded.streak, clean = excluded.clean, last_notified = excluded.last_notified,
    notified = excluded.notified, muted_by = excluded.muted_by
), queued AS (
    INSERT INTO deliveries (event_id, request_id, rule, channel, message, status, created_at, due_at, item)
    SELECT event.id, $2, x.rule, x.channel, x.message, 'pending', $3, $3, x.item
    FROM event, jsonb_to_recordset($12::jsonb) AS x (rule text, channel text, message text, item text)
), known AS (
    INSERT INTO connections (id, first_seen, last_event, last_event_name, last_sync, status, expected_since, service, business, environment)
    SELECT * FROM jsonb_to_recordset($13::jsonb) AS x (id text, first_seen bigint, last_event bigint,
        last_event_name text, last_sync bigint, status text, expected_since bigint, service text, business text,
        environment text)
    ON CONFLICT (id) DO UPDATE SET first_seen = excluded.first_seen, last_event = excluded.last_event,
    last_event_name = excluded.last_event_name, last_sync = excluded.last_sync, status = excluded.status,
    expected_since = excluded.expected_since, service = excluded.service, business = excluded.business,
    environment = excluded.environment
), day AS (
    INSERT INTO connection_days (connection, day, clean, failed, empty)
    SELECT * FROM jsonb_to_recordset($14::jsonb) AS x (connection text, day bigint, clean bigint, failed bigint, empty bigint)
    ON CONFLICT (connection, day) DO UPDATE SET clean = connection_days.clean + excluded.clean,
    failed = connection_days.failed + excluded.failed, empty = connection_days.empty + excluded.empty
)
SELECT id FROM event";
const INSERT_DELIVERY: &str =
    "INSERT INTO deliveries (event_id, request_id, rule, channel, message, status, created_at, due_at, item)
     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6, $7)";

/// Records the event, moves its alerts and queues what they send; `None`
/// when the event is a redelivery (the caller rolls back).
pub async fn ingest(tx: &Transaction<'_>, ingest: &Ingest) -> Result<IngestOutcome, Error> {
    let event = &ingest.alerts.event;
    let connection = event.connection_id.clone().unwrap_or_else(|| "-".into());
    let lock_key = connection_lock(&connection);
    let (lock, seen, alerts, known) = (
        tx.prepare_cached(LOCK).await?,
        tx.prepare_cached(SEEN).await?,
        tx.prepare_cached(ALERTS_OF_ONE).await?,
        tx.prepare_cached(KNOWN_ONE).await?,
    );
    // Sent together: the server runs them in order, the lock first, so
    // the reads see whatever the previous holder committed.
    let (_, seen, alerts, known) = try_join4(
        tx.execute(&lock, &[&lock_key]),
        tx.query_opt(&seen, &[&ingest.dedup_key]),
        tx.query(&alerts, &[&connection]),
        tx.query_opt(&known, &[&connection]),
    )
    .await?;
    if seen.is_some() {
        return Ok(IngestOutcome::Duplicate);
    }
    let mut states = Staged::new(alerts.iter().map(rows::alert));
    let Ok(applied) = apply(&mut states, &ingest.alerts);
    let notified: Vec<AlertKey> = applied.notified().cloned().collect();
    let transitions: Vec<String> = applied.transitions.iter().map(|t| t.describe()).collect();
    let before = known.as_ref().map(rows::connection);
    let after = event
        .connection_id
        .as_ref()
        .and_then(|_| KnownConnection::observe(before.as_ref(), event, ingest.environment(), ingest.received_at()));
    let mut channels = Vec::new();
    let alerts: Vec<serde_json::Value> = states.changed().map(|(key, state)| alert_json(key, state)).collect();
    let mut deliveries = Vec::new();
    for notification in &applied.notifications {
        for delivery in &notification.deliveries {
            deliveries.push(serde_json::json!({
                "rule": notification.key.rule,
                "channel": delivery.channel,
                "message": serde_json::to_string(&delivery.message).unwrap_or_default(),
                "item": delivery.item.as_ref().and_then(|item| serde_json::to_string(item).ok()),
            }));
            if !channels.contains(&delivery.channel) {
                channels.push(delivery.channel.clone());
            }
        }
    }
    let changed = after.as_ref().filter(|after| before.as_ref() != Some(*after));
    let connections: Vec<serde_json::Value> = changed.into_iter().map(connection_json).collect();
    let days: Vec<serde_json::Value> = day_of(&ingest.alerts)
        .into_iter()
        .map(|(connection, day, [clean, failed, empty])| {
            serde_json::json!({ "connection": connection, "day": day, "clean": clean, "failed": failed, "empty": empty })
        })
        .collect();
    let record = tx.prepare_cached(RECORD).await?;
    let recorded = tx
        .execute(
            &record,
            &[
                &ingest.dedup_key,
                &ingest.request_id(),
                &millis(ingest.received_at()),
                &event.event,
                &event.connection_id,
                &ingest.environment().as_str(),
                &&ingest.body[..],
                &rule_list(&notified),
                &rule_list(&applied.quiet),
                &json_list(&transitions),
                &serde_json::Value::Array(alerts),
                &serde_json::Value::Array(deliveries),
                &serde_json::Value::Array(connections),
                &serde_json::Value::Array(days),
            ],
        )
        .await;
    match recorded {
        Ok(_) => {}
        // A copy that raced past the lock (same key, another connection).
        Err(err) if err.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
            return Ok(IngestOutcome::Duplicate);
        }
        Err(err) => return Err(err),
    }
    Ok(IngestOutcome::Accepted {
        notified,
        suppressed: applied.quiet,
        channels,
        transitions,
        known: after.map(Box::new),
    })
}

/// The rows one step writes, sent to the server together.
#[derive(Default)]
struct Writes {
    alerts: Vec<AlertParams>,
    deliveries: Vec<DeliveryParams>,
}

impl Writes {
    /// Queues one delivery per channel of `notification`.
    fn queue(
        &mut self,
        event_id: i64,
        request_id: Option<&str>,
        at: SystemTime,
        notification: &Notification,
        channels: &mut Vec<String>,
    ) {
        for delivery in &notification.deliveries {
            self.deliveries.push(DeliveryParams {
                event_id,
                request_id: request_id.map(str::to_owned),
                rule: notification.key.rule.clone(),
                channel: delivery.channel.clone(),
                message: serde_json::to_string(&delivery.message).unwrap_or_default(),
                created_at: millis(at),
                item: delivery.item.as_ref().and_then(|item| serde_json::to_string(item).ok()),
            });
            if !channels.contains(&delivery.channel) {
                channels.push(delivery.channel.clone());
            }
        }
    }

    async fn run(&self, tx: &Transaction<'_>) -> Result<(), Error> {
        let put_alert = tx.prepare_cached(rows::PUT_ALERT).await?;
        let insert_delivery = tx.prepare_cached(INSERT_DELIVERY).await?;
        let alerts: Vec<_> = self.alerts.iter().map(AlertParams::params).collect();
        let deliveries: Vec<_> = self.deliveries.iter().map(DeliveryParams::params).collect();
        let mut statements = Vec::new();
        statements.extend(alerts.iter().map(|p| tx.execute(&put_alert, &p[..])));
        statements.extend(deliveries.iter().map(|p| tx.execute(&insert_delivery, &p[..])));
        try_join_all(statements).await?;
        Ok(())
    }
}

struct DeliveryParams {
    event_id: i64,
    request_id: Option<String>,
    rule: String,
    channel: String,
    message: String,
    created_at: i64,
    item: Option<String>,
}

impl DeliveryParams {
    fn params(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.event_id,
            &self.request_id,
            &self.rule,
            &self.channel,
            &self.message,
            &self.created_at,
            &self.item,
        ]
    }
}

/// The sync counted in its connection's day: failed if any data type
/// failed, else empty if any came back empty, else clean.
fn day_of(alerts: &AlertInput) -> Option<(String, i64, [i64; 3])> {
    let event = &alerts.event;
    let connection = event.connection_id.as_deref().filter(|_| event.is_sync())?;
    let counts = if event.count(&Status::Failed) > 0 {
        [0, 1, 0]
    } else if event.count(&Status::Empty) > 0 {
        [0, 0, 1]
    } else {
        [1, 0, 0]
    };
    Some((connection.to_owned(), millis(alerts.received_at) / 86_400_000, counts))
}

fn rule_list(keys: &[AlertKey]) -> String {
    let rules: Vec<&str> = keys.iter().map(|k| k.rule.as_str()).collect();
    json_list(&rules)
}

fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// A firing absence alert is checked again after its repeat_interval, but
/// not more often than this.
const MIN_RECHECK: Duration = Duration::from_secs(60);

/// Runs due absence checks of a few connections in one transaction, each
/// against the stored connection under its lock (taken in one order, so
/// two instances checking the same connections wait, never deadlock):
/// whichever instance checks first notifies, the other finds the alert
/// firing.
pub async fn check_absence(
    tx: &Transaction<'_>,
    config: &Config,
    checks: &[Check],
    (now, floor): (SystemTime, Option<SystemTime>),
    silences: &Arc<Vec<Silence>>,
) -> Result<AbsenceOutcome, Error> {
    let mut ids: Vec<String> = checks.iter().map(|(_, id)| id.to_string()).collect();
    ids.sort();
    ids.dedup();
    let lock = tx.prepare_cached(LOCK).await?;
    for id in &ids {
        tx.execute(&lock, &[&connection_lock(id)]).await?;
    }
    let known = tx.prepare_cached(KNOWN).await?;
    let alerts = tx.prepare_cached(rows::ALERTS_OF).await?;
    let known: Vec<KnownConnection> = tx.query(&known, &[&ids]).await?.iter().map(rows::connection).collect();
    let mut states = Staged::new(tx.query(&alerts, &[&ids]).await?.iter().map(rows::alert));
    let mut outcome = AbsenceOutcome::default();
    let mut writes = Writes::default();
    for check in checks {
        let connection = known.iter().find(|k| *k.id == *check.1);
        let next = match connection {
            Some(connection) => {
                check_one(
                    tx,
                    config,
                    check,
                    connection,
                    (now, floor),
                    silences,
                    &mut states,
                    &mut writes,
                    &mut outcome,
                )
                .await?
            }
            None => None,
        };
        outcome.checked.push(Checked {
            check: check.clone(),
            next,
        });
    }
    writes.alerts = states
        .changed()
        .map(|(key, state)| AlertParams::new(key, state))
        .collect();
    writes.run(tx).await?;
    Ok(outcome)
}

#[allow(clippy::too_many_arguments)]
async fn check_one(
    tx: &Transaction<'_>,
    config: &Config,
    (rule, _): &Check,
    known: &KnownConnection,
    (now, floor): (SystemTime, Option<SystemTime>),
    silences: &Arc<Vec<Silence>>,
    states: &mut Staged,
    writes: &mut Writes,
    outcome: &mut AbsenceOutcome,
) -> Result<Option<SystemTime>, Error> {
    let Some((rule, silence)) = config.rules.get(*rule).and_then(|r| Some((r, r.absence?))) else {
        return Ok(None);
    };
    let Some(start) = known.clock_start(floor) else {
        return Ok(None);
    };
    if !watches(rule, &known.as_event(), known.environment) {
        return Ok(None);
    }
    let deadline = start + silence;
    if deadline > now {
        return Ok(Some(deadline));
    }
    let silent_since = known.last_sync.unwrap_or(known.first_seen);
    let Ok((applied, state)) = apply_absence(states, config, rule, known, silent_since, now, silences.clone());
    let transitions: Vec<String> = applied.transitions.iter().map(|t| t.describe()).collect();
    if !applied.notifications.is_empty() {
        let event_id = record_check(tx, &rule.name, known, now, &transitions).await?;
        for notification in &applied.notifications {
            writes.queue(event_id, None, now, notification, &mut outcome.channels);
        }
    }
    outcome.transitions.extend(transitions);
    Ok(match state.map(|s| s.phase) {
        Some(Phase::Firing) => Some(now + rule.repeat_interval.max(MIN_RECHECK)),
        Some(Phase::Pending) => Some(now + silence),
        _ => Some(deadline.max(now + MIN_RECHECK)),
    })
}

/// An absence check that notified is recorded as an event of its own.
async fn record_check(
    tx: &Transaction<'_>,
    rule: &str,
    known: &KnownConnection,
    now: SystemTime,
    transitions: &[String],
) -> Result<i64, Error> {
    let dedup_key = format!("absence:{rule}:{}:{}", known.id, millis(now));
    let body = serde_json::json!({ "absence": rule, "connectionId": known.id }).to_string();
    let row = tx
        .query_one(
            "INSERT INTO events (dedup_key, request_id, received_at, event, connection, environment, body, fired, suppressed, transitions)
             VALUES ($1, NULL, $2, 'absence', $3, $4, $5, $6, '[]', $7)
             ON CONFLICT (dedup_key) DO UPDATE SET transitions = excluded.transitions RETURNING id",
            &[
                &dedup_key,
                &millis(now),
                &known.id,
                &known.environment.as_str(),
                &body.as_bytes(),
                &serde_json::json!([rule]).to_string(),
                &json_list(transitions),
            ],
        )
        .await?;
    Ok(row.get(0))
}

fn alert_json(key: &AlertKey, state: &crate::lifecycle::AlertState) -> serde_json::Value {
    serde_json::json!({
        "rule": key.rule,
        "connection": key.connection,
        "data_type": key.data_type.as_deref().unwrap_or(""),
        "state": state.phase.as_str(),
        "since": millis(state.since),
        "firing_since": state.firing_since.map(millis),
        "resolved_at": state.resolved_at.map(millis),
        "matches": state.matches.min(i64::MAX as u64),
        "streak": state.streak.min(i32::MAX as u32),
        "clean": state.clean.min(i32::MAX as u32),
        "last_notified": state.last_notified.map(millis),
        "notified": serde_json::to_string(&state.notified).unwrap_or_else(|_| "[]".into()),
        "muted_by": state.muted_by,
    })
}

fn connection_json(known: &KnownConnection) -> serde_json::Value {
    serde_json::json!({
        "id": known.id,
        "first_seen": millis(known.first_seen),
        "last_event": millis(known.last_event),
        "last_event_name": known.last_event_name,
        "last_sync": known.last_sync.map(millis),
        "status": known.status,
        "expected_since": known.expected_since.map(millis),
        "service": known.service,
        "business": known.business,
        "environment": known.environment.as_str(),
    })
}
