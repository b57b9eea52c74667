//! The statements of each write command, run inside the writer's
//! transaction.

use std::time::SystemTime;

use rusqlite::{Connection, params};

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::event::Status;
use crate::lifecycle::{AlertInput, AlertStates, NOTHING_TO_RESOLVE, Notification, apply, not_told};
use crate::outage;

use super::super::model::{Fallback, Ingest, IngestOutcome, Pruned, Settle};
use super::alerts::SqlStates;
use super::connections;
use super::outages::{SqlOutages, delivered_anyway};
use super::{from_millis, millis};

/// Records `ingest`, its body as `body::pack` stored it (`packed_body`).
/// Redeliveries were recognised before (see `seen`).
pub fn ingest(tx: &Connection, ingest: &Ingest, packed_body: &[u8]) -> rusqlite::Result<IngestOutcome> {
    let before = match ingest.alerts.event.connection_id.as_deref() {
        Some(id) => connections::get(tx, id)?,
        None => None,
    };
    let resolved = ingest.alerts.as_known(before.as_ref());
    let alerts = resolved.as_ref().unwrap_or(&ingest.alerts);
    let outages = outage::moves::on_event(&mut SqlOutages::new(tx), alerts)?;
    let mut applied = apply(&mut SqlStates::new(tx), alerts)?;
    // The outages' messages first: an outage's RESOLVED before the alerts
    // it releases.
    applied.notifications.splice(0..0, outages.notifications);
    let notified: Vec<AlertKey> = applied.notified().cloned().collect();
    let transitions: Vec<String> = outages.described.into_iter().chain(applied.described()).collect();
    // The event row is written once, with its verdicts.
    tx.prepare_cached(
        "INSERT INTO events (dedup_key, request_id, received_at, event, connection, environment, body, fired, suppressed, transitions, body_lz4)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1)",
    )?
    .execute(params![
        ingest.dedup_key,
        ingest.request_id(),
        millis(ingest.received_at()),
        ingest.alerts.event.event,
        ingest.alerts.event.connection_id,
        alerts.environment.as_str(),
        packed_body,
        rule_list(&notified),
        rule_list(&applied.quiet),
        json_list(&transitions),
    ])?;
    let event_id = tx.last_insert_rowid();
    let mut channels = Vec::new();
    for notification in &applied.notifications {
        let request_id = ingest.request_id();
        queue_notification(
            tx,
            event_id,
            request_id,
            ingest.received_at(),
            notification,
            &mut channels,
        )?;
    }
    let known = record_connection(tx, alerts, before)?;
    record_day(tx, alerts)?;
    Ok(IngestOutcome::Accepted {
        notified,
        suppressed: applied.quiet,
        channels,
        transitions,
        known: known.map(Box::new),
    })
}

const DAY_CLEAN: &str = "INSERT INTO connection_days (connection, day, clean) VALUES (?1, ?2, 1)
     ON CONFLICT (connection, day) DO UPDATE SET clean = clean + 1";
const DAY_FAILED: &str = "INSERT INTO connection_days (connection, day, failed) VALUES (?1, ?2, 1)
     ON CONFLICT (connection, day) DO UPDATE SET failed = failed + 1";
const DAY_EMPTY: &str = "INSERT INTO connection_days (connection, day, empty) VALUES (?1, ?2, 1)
     ON CONFLICT (connection, day) DO UPDATE SET empty = empty + 1";

/// Counts the sync in its connection's day: failed if any data type
/// failed, else empty if any came back empty, else clean.
fn record_day(tx: &Connection, alerts: &AlertInput) -> rusqlite::Result<()> {
    let event = &alerts.event;
    let Some(connection) = event.connection_id.as_deref().filter(|_| event.is_sync()) else {
        return Ok(());
    };
    let outcome = if event.count(&Status::Failed) > 0 {
        "failed"
    } else if event.count(&Status::Empty) > 0 {
        "empty"
    } else {
        "clean"
    };
    let day = millis(alerts.received_at) / 86_400_000;
    let sql = match outcome {
        "failed" => DAY_FAILED,
        "empty" => DAY_EMPTY,
        _ => DAY_CLEAN,
    };
    tx.prepare_cached(sql)?.execute(params![connection, day])?;
    Ok(())
}

/// Remembers the connection the event names, in the same transaction.
fn record_connection(
    tx: &Connection,
    alerts: &AlertInput,
    before: Option<KnownConnection>,
) -> rusqlite::Result<Option<KnownConnection>> {
    let after = KnownConnection::observe(before.as_ref(), &alerts.event, alerts.environment, alerts.received_at);
    if let Some(after) = after.as_ref().filter(|after| before.as_ref() != Some(*after)) {
        connections::save(tx, after)?;
    }
    Ok(after)
}

fn rule_list(keys: &[AlertKey]) -> String {
    let rules: Vec<&str> = keys.iter().map(|k| k.rule.as_str()).collect();
    json_list(&rules)
}

fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// Queues one delivery per channel of `notification`, for the event row
/// `event_id`, and notes the channels to wake.
pub fn queue_notification(
    tx: &Connection,
    event_id: i64,
    request_id: Option<&str>,
    at: SystemTime,
    notification: &Notification,
    channels: &mut Vec<String>,
) -> rusqlite::Result<()> {
    let received = millis(at);
    let mut insert = tx.prepare_cached(
        "INSERT INTO deliveries (event_id, request_id, rule, channel, message, status, created_at, due_at, item,
                                 alert_connection, alert_data_type, effect)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let key = &notification.key;
    for delivery in &notification.deliveries {
        let message = serde_json::to_string(&delivery.message).unwrap_or_default();
        let item = delivery.item.as_ref().and_then(|item| serde_json::to_string(item).ok());
        insert.execute(params![
            event_id,
            request_id,
            notification.key.rule,
            delivery.channel,
            message,
            received,
            item,
            key.connection,
            key.data_type.as_deref().unwrap_or(""),
            notification.effect.as_str(),
        ])?;
        if !channels.contains(&delivery.channel) {
            channels.push(delivery.channel.clone());
        }
    }
    Ok(())
}

pub fn settle(tx: &Connection, id: u64, settle: &Settle, at: SystemTime) -> rusqlite::Result<()> {
    let at = millis(at);
    let (outcome, answer) = match settle {
        Settle::Delivered { answer } => ("delivered", answer),
        Settle::Retry { error, .. } => ("retry", error),
        Settle::Failed { error } => ("failed", error),
        Settle::Expired { error } => ("expired", error),
        Settle::NotSent { reason } => ("dry_run", reason),
    };
    tx.prepare_cached("INSERT INTO attempts (delivery_id, at, outcome, answer) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![id as i64, at, outcome, answer])?;
    if outcome == "delivered" {
        delivered_anyway(tx, id)?;
    }
    match settle {
        Settle::Retry { at: due, error } => tx
            .prepare_cached(
                "UPDATE deliveries SET attempts = attempts + 1, due_at = ?2, last_error = ?3 WHERE id = ?1",
            )?
            .execute(params![id as i64, millis(*due), error])?,
        _ => {
            tx.prepare_cached(
                "UPDATE deliveries SET attempts = attempts + 1, status = ?2, settled_at = ?3,
                 last_error = CASE WHEN ?2 = 'delivered' THEN NULL ELSE ?4 END WHERE id = ?1",
            )?
            .execute(params![id as i64, outcome, at, answer])?;
            // The notifications a digest carries end as it ends.
            let members = tx
                .prepare_cached(
                    "UPDATE deliveries SET status = ?2, settled_at = ?3,
                 last_error = CASE WHEN ?2 = 'delivered' THEN NULL ELSE ?4 END WHERE digest_id = ?1",
                )?
                .execute(params![id as i64, outcome, at, answer])?;
            if outcome != "delivered" {
                untell(tx, id, at)?;
            }
            members
        }
    };
    Ok(())
}

/// Queues `fallback` beside the failed delivery `id` (its event, requestId
/// and rule), unless `id` was itself a fallback notice: about no alert and
/// in no digest.
pub fn fall_back(tx: &Connection, id: u64, fallback: &Fallback, at: SystemTime) -> rusqlite::Result<()> {
    let message = serde_json::to_string(&fallback.message)
        .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
    let at = millis(at);
    tx.prepare_cached(
        "INSERT INTO deliveries (event_id, request_id, rule, channel, message, status, created_at, due_at)
         SELECT event_id, request_id, rule, ?2, ?3, 'pending', ?4, ?4 FROM deliveries
         WHERE id = ?1 AND (effect IS NOT NULL OR is_digest)",
    )?
    .execute(params![id as i64, fallback.channel, message, at])?;
    Ok(())
}

/// A message (alone, or the ones a digest carried) that failed for good
/// or expired: each FIRING or STILL FAILING among them that was the
/// channel's first word of its alert's episode un-tells the channel (see
/// [`not_told`]), and a RESOLVED queued behind it is dropped.
fn untell(tx: &Connection, id: u64, at: i64) -> rusqlite::Result<()> {
    let mut failed = tx.prepare_cached(
        "SELECT id, rule, alert_connection, alert_data_type, channel, created_at FROM deliveries
         WHERE (id = ?1 OR digest_id = ?1) AND effect IN ('firing', 'still_failing')",
    )?;
    let failed: Vec<(i64, AlertKey, String, i64)> = failed
        .query_map([id as i64], |row| {
            let data_type: String = row.get(3)?;
            let key = AlertKey {
                rule: row.get(1)?,
                connection: row.get(2)?,
                data_type: (!data_type.is_empty()).then_some(data_type),
            };
            Ok((row.get(0)?, key, row.get(4)?, row.get(5)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut states = SqlStates::new(tx);
    for (failed_id, key, channel, created_at) in failed {
        let data_type = key.data_type.as_deref().unwrap_or("");
        let of = params![channel, key.rule, key.connection, data_type, failed_id];
        let (told, ends): (bool, Option<i64>) = tx
            .prepare_cached(EPISODE)?
            .query_row(of, |row| Ok((row.get(0)?, row.get(1)?)))?;
        if told {
            continue;
        }
        match ends {
            // The RESOLVED that ends this episode is queued: it is dropped,
            // and the alert (in a later episode, if any) is left as it is.
            Some(resolved) => {
                let dropped = params![resolved, at, NOTHING_TO_RESOLVE];
                tx.prepare_cached(
                    "INSERT INTO attempts (delivery_id, at, outcome, answer)
                     SELECT id, ?2, 'failed', ?3 FROM deliveries WHERE id = ?1 AND status = 'pending'",
                )?
                .execute(dropped)?;
                tx.prepare_cached(
                    "UPDATE deliveries SET status = 'failed', settled_at = ?2, last_error = ?3
                     WHERE id = ?1 AND status = 'pending'",
                )?
                .execute(dropped)?;
            }
            None => {
                let Some(state) = states.get(&key)? else {
                    continue;
                };
                if let Some(next) = not_told(&state, &channel, from_millis(created_at)) {
                    states.put(&key, &next)?;
                }
            }
        }
    }
    Ok(())
}

/// Of the message `?5` of an alert (`?2`-`?4`) on channel `?1`, in queue
/// order: whether the channel is told of its episode all the same (a
/// FIRING or STILL FAILING of the episode reached it before, or one queued
/// after it is still on its way and decides when it ends), and the
/// RESOLVED that ends its episode, if one is queued.
const EPISODE: &str = "WITH alert AS (
    SELECT id, effect, status FROM deliveries
    WHERE channel = ?1 AND rule = ?2 AND alert_connection = ?3 AND alert_data_type = ?4
), began AS (
    SELECT COALESCE(MAX(id), 0) AS id FROM alert WHERE effect = 'resolved' AND id < ?5
), ends AS (
    SELECT MIN(id) AS id FROM alert WHERE effect = 'resolved' AND id > ?5
)
SELECT EXISTS (SELECT 1 FROM alert, began WHERE alert.id > began.id AND alert.id < ?5
                   AND alert.status = 'delivered' AND alert.effect IN ('firing', 'still_failing'))
       OR EXISTS (SELECT 1 FROM alert, ends WHERE alert.id > ?5 AND (ends.id IS NULL OR alert.id < ends.id)
                   AND alert.status IN ('pending', 'digested') AND alert.effect IN ('firing', 'still_failing')),
       (SELECT id FROM ends)";

/// Removes settled deliveries, their attempts, and events older than
/// `cutoff` that have no delivery left; pending deliveries are never
/// pruned, so neither are their events.
pub fn prune(tx: &Connection, cutoff: SystemTime, forget_before: SystemTime) -> rusqlite::Result<Pruned> {
    let forgotten = connections::forget_older(tx, forget_before)?;
    let cutoff = millis(cutoff);
    tx.execute("DELETE FROM connection_days WHERE day < ?1", [cutoff / 86_400_000])?;
    tx.execute(
        "DELETE FROM attempts WHERE delivery_id IN
         (SELECT id FROM deliveries WHERE status <> 'pending' AND settled_at < ?1)",
        [cutoff],
    )?;
    let deliveries = tx.execute(
        "DELETE FROM deliveries WHERE status <> 'pending' AND settled_at < ?1",
        [cutoff],
    )?;
    let events = tx.execute(
        "DELETE FROM events WHERE received_at < ?1
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)",
        [cutoff],
    )?;
    // Firing alerts stay, however old: they are still true (forgetting a
    // connection, below, is what ends them).
    tx.execute(
        "DELETE FROM alerts WHERE (state = 'resolved' AND resolved_at < ?1) OR (state = 'pending' AND since < ?1)",
        [cutoff],
    )?;
    super::threads::prune(tx, cutoff)?;
    Ok(Pruned {
        events,
        deliveries,
        connections: forgotten,
    })
}

/// Settles the pending deliveries of channels not in `known` as failed,
/// with an attempt row saying why, so `history` and `explain` show it.
pub fn abandon(tx: &Connection, known: &[String], at: SystemTime) -> rusqlite::Result<Vec<(String, u64)>> {
    let known = serde_json::to_string(known).unwrap_or_else(|_| "[]".into());
    let reason = "channel no longer configured";
    let dropped = tx
        .prepare(
            "SELECT channel, count(*) FROM deliveries WHERE status = 'pending'
             AND channel NOT IN (SELECT value FROM json_each(?1)) GROUP BY channel",
        )?
        .query_map([&known], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if dropped.is_empty() {
        return Ok(dropped);
    }
    tx.execute(
        "INSERT INTO attempts (delivery_id, at, outcome, answer)
         SELECT id, ?2, 'failed', ?3 FROM deliveries WHERE status = 'pending'
         AND channel NOT IN (SELECT value FROM json_each(?1))",
        params![known, millis(at), reason],
    )?;
    tx.execute(
        "UPDATE deliveries SET status = 'failed', settled_at = ?2, last_error = ?3
         WHERE status IN ('pending', 'digested') AND channel NOT IN (SELECT value FROM json_each(?1))",
        params![known, millis(at), reason],
    )?;
    Ok(dropped)
}

/// A real write, for `/readyz`: proves the file and the disk take writes.
pub fn probe(tx: &Connection) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO health (id, at) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
        [millis(SystemTime::now())],
    )?;
    Ok(())
}
