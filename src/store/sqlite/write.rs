//! The statements of each write command, run inside the writer's
//! transaction.

use std::time::SystemTime;

use rusqlite::{OptionalExtension, Savepoint, params};

use crate::alerts::{AlertState, should_notify};

use super::super::model::{Candidate, Ingest, IngestOutcome, Pruned, Resolution, Settle};
use super::{from_millis, millis};

pub fn ingest(tx: &Savepoint<'_>, ingest: &Ingest) -> rusqlite::Result<IngestOutcome> {
    let seen = tx
        .prepare_cached("SELECT 1 FROM events WHERE dedup_key = ?1")?
        .exists([&ingest.dedup_key])?;
    if seen {
        return Ok(IngestOutcome::Duplicate);
    }
    if let Some(resolution) = &ingest.resolve {
        resolve(tx, resolution)?;
    }
    let (mut notified, mut suppressed) = (Vec::new(), Vec::new());
    for candidate in &ingest.candidates {
        if notifies(tx, candidate, ingest.received_at)? {
            notified.push(candidate);
        } else {
            suppressed.push(candidate);
        }
    }
    // The event row is written once, with its verdicts.
    tx.prepare_cached(
        "INSERT INTO events (dedup_key, request_id, received_at, event, connection, environment, body, fired, suppressed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        ingest.dedup_key,
        ingest.request_id,
        millis(ingest.received_at),
        ingest.event,
        ingest.connection,
        ingest.environment.as_str(),
        &ingest.body[..],
        rule_list(&notified),
        rule_list(&suppressed),
    ])?;
    let event_id = tx.last_insert_rowid();
    let mut channels = Vec::new();
    for candidate in &notified {
        queue(tx, event_id, ingest, candidate, &mut channels)?;
    }
    let keys = |candidates: Vec<&Candidate>| candidates.into_iter().map(|c| c.key.clone()).collect();
    Ok(IngestOutcome::Accepted {
        notified: keys(notified),
        suppressed: keys(suppressed),
        channels,
    })
}

fn rule_list(candidates: &[&Candidate]) -> String {
    let rules: Vec<&str> = candidates.iter().map(|c| c.key.rule.as_str()).collect();
    serde_json::to_string(&rules).unwrap_or_else(|_| "[]".into())
}

fn resolve(tx: &Savepoint<'_>, resolution: &Resolution) -> rusqlite::Result<()> {
    let firing = serde_json::to_string(&resolution.still_firing).unwrap_or_else(|_| "[]".into());
    tx.prepare_cached(
        "DELETE FROM alerts WHERE connection = ?1 AND data_type = ?2
         AND rule NOT IN (SELECT value FROM json_each(?3))",
    )?
    .execute(params![
        resolution.connection,
        resolution.data_type.as_deref().unwrap_or(""),
        firing
    ])?;
    Ok(())
}

/// Decides by the stored alert state, and records the notification.
fn notifies(tx: &Savepoint<'_>, candidate: &Candidate, now: SystemTime) -> rusqlite::Result<bool> {
    let key = &candidate.key;
    let data_type = key.data_type.as_deref().unwrap_or("");
    let last: Option<i64> = tx
        .prepare_cached("SELECT last_notified FROM alerts WHERE rule = ?1 AND connection = ?2 AND data_type = ?3")?
        .query_row(params![key.rule, key.connection, data_type], |row| row.get(0))
        .optional()?;
    let state = last.map(|ms| AlertState {
        last_notified: from_millis(ms),
    });
    if !should_notify(state.as_ref(), now, candidate.repeat_interval) {
        return Ok(false);
    }
    tx.prepare_cached(
        "INSERT INTO alerts (rule, connection, data_type, last_notified) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (rule, connection, data_type) DO UPDATE SET last_notified = excluded.last_notified",
    )?
    .execute(params![key.rule, key.connection, data_type, millis(now)])?;
    Ok(true)
}

fn queue(
    tx: &Savepoint<'_>,
    event_id: i64,
    ingest: &Ingest,
    candidate: &Candidate,
    channels: &mut Vec<String>,
) -> rusqlite::Result<()> {
    let received = millis(ingest.received_at);
    let mut insert = tx.prepare_cached(
        "INSERT INTO deliveries (event_id, request_id, rule, channel, message, status, created_at, due_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
    )?;
    for delivery in &candidate.deliveries {
        let message = serde_json::to_string(&delivery.message).unwrap_or_default();
        insert.execute(params![
            event_id,
            ingest.request_id,
            candidate.key.rule,
            delivery.channel,
            message,
            received
        ])?;
        if !channels.contains(&delivery.channel) {
            channels.push(delivery.channel.clone());
        }
    }
    Ok(())
}

pub fn settle(tx: &Savepoint<'_>, id: u64, settle: &Settle, at: SystemTime) -> rusqlite::Result<()> {
    let at = millis(at);
    let (outcome, answer) = match settle {
        Settle::Delivered { answer } => ("delivered", answer),
        Settle::Retry { error, .. } => ("retry", error),
        Settle::Failed { error } => ("failed", error),
        Settle::Expired { error } => ("expired", error),
    };
    tx.prepare_cached("INSERT INTO attempts (delivery_id, at, outcome, answer) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![id as i64, at, outcome, answer])?;
    match settle {
        Settle::Retry { at: due, error } => tx
            .prepare_cached(
                "UPDATE deliveries SET attempts = attempts + 1, due_at = ?2, last_error = ?3 WHERE id = ?1",
            )?
            .execute(params![id as i64, millis(*due), error])?,
        _ => tx
            .prepare_cached(
                "UPDATE deliveries SET attempts = attempts + 1, status = ?2, settled_at = ?3,
                 last_error = CASE WHEN ?2 = 'delivered' THEN NULL ELSE ?4 END WHERE id = ?1",
            )?
            .execute(params![id as i64, outcome, at, answer])?,
    };
    Ok(())
}

/// Removes settled deliveries, their attempts, and events older than
/// `cutoff` that have no delivery left; pending deliveries are never
/// pruned, so neither are their events.
pub fn prune(tx: &Savepoint<'_>, cutoff: SystemTime) -> rusqlite::Result<Pruned> {
    let cutoff = millis(cutoff);
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
    tx.execute("DELETE FROM alerts WHERE last_notified < ?1", [cutoff])?;
    Ok(Pruned { events, deliveries })
}

/// Settles the pending deliveries of channels not in `known` as failed,
/// with an attempt row saying why, so `history` and `explain` show it.
pub fn abandon(tx: &Savepoint<'_>, known: &[String], at: SystemTime) -> rusqlite::Result<Vec<(String, u64)>> {
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
         WHERE status = 'pending' AND channel NOT IN (SELECT value FROM json_each(?1))",
        params![known, millis(at), reason],
    )?;
    Ok(dropped)
}

/// A real write, for `/readyz`: proves the file and the disk take writes.
pub fn probe(tx: &Savepoint<'_>) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO health (id, at) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
        [millis(SystemTime::now())],
    )?;
    Ok(())
}
