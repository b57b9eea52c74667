//! Several rules, one message: the notifications one event queued for one
//! channel about one connection become one queued message that carries
//! them, as a digest carries its members (`is_digest`, the members
//! `digested` with its `digest_id` until it settles, and settled with its
//! outcome). The group's `effect` is `group`, which tells it from a
//! digest in `history`.

use std::time::SystemTime;

use rusqlite::{Connection, params};

use crate::render::{Item, MAX_SECTIONS, Message, Section, group_message};
use crate::store::Delivery;

use super::digest::unknown_item;
use super::millis;

/// The notifications that may go out with the claimed one (`?1`, among
/// them) now: pending, of its event, channel and connection, about an
/// alert, due, not in another worker's hands (`?3`), and each the first
/// of its alert on the channel, as a claim requires.
const MEMBERS: &str = "SELECT o.id, o.item, o.message FROM deliveries d JOIN deliveries o
    ON o.event_id = d.event_id AND o.channel = d.channel AND o.alert_connection = d.alert_connection
    WHERE d.id = ?1 AND d.status = 'pending' AND d.is_digest = 0 AND d.effect IS NOT NULL
    AND o.status = 'pending' AND o.is_digest = 0 AND o.effect IS NOT NULL AND o.due_at <= ?2
    AND o.id NOT IN (SELECT value FROM json_each(?3))
    AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.channel = o.channel AND e.status IN ('pending', 'digested')
        AND e.rule = o.rule AND e.alert_connection = o.alert_connection AND e.alert_data_type = o.alert_data_type
        AND e.id < o.id)
    ORDER BY o.id LIMIT ?4";

/// A notification a group may carry: its id, its item, its message.
pub type Row = (i64, Option<String>, String);

/// Up to `limit` of the notifications that may go out with `id` (itself
/// included), leaving out those in `others` (claimed by other workers).
pub fn members(
    conn: &Connection,
    id: u64,
    now: SystemTime,
    others: &[u64],
    limit: usize,
) -> rusqlite::Result<Vec<Row>> {
    let others = serde_json::to_string(others).unwrap_or_else(|_| "[]".into());
    conn.prepare_cached(MEMBERS)?
        .query_map(params![id as i64, millis(now), others, limit as i64], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect()
}

/// The ids and sections of `rows`; a row whose message cannot be read
/// is left out (it goes alone, as it would have).
pub fn sections(rows: Vec<Row>) -> (Vec<i64>, Vec<Section>) {
    let mut ids = Vec::new();
    let mut sections = Vec::new();
    for (id, item, message) in rows {
        let Ok(message) = serde_json::from_str::<Message>(&message) else {
            continue;
        };
        let item = item
            .and_then(|json| serde_json::from_str::<Item>(&json).ok())
            .unwrap_or_else(unknown_item);
        ids.push(id);
        sections.push(Section { item, message });
    }
    (ids, sections)
}

/// Gathers with the claimed notification `id` the others that may go
/// with it into one queued group, due now: `None` when it goes alone.
pub fn build(tx: &Connection, id: u64, now: SystemTime, others: &[u64]) -> rusqlite::Result<Option<Delivery>> {
    let (members, sections) = sections(self::members(tx, id, now, others, MAX_SECTIONS)?);
    if !members.contains(&(id as i64)) {
        return Ok(None);
    }
    let Some(message) = group_message(&sections) else {
        return Ok(None);
    };
    let rule = format!("group of {}", members.len());
    let json = serde_json::to_string(&message).map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
    // It keeps the event's requestId and when its notifications were
    // queued: `history` names the event, and it expires as they would.
    let (group, request_id, channel, created_at): (i64, Option<String>, String, i64) = tx
        .prepare_cached(
            "INSERT INTO deliveries (event_id, request_id, rule, channel, message, status, created_at, due_at,
                                     is_digest, effect)
             SELECT event_id, request_id, ?1, channel, ?2, 'pending', created_at, ?3, 1, 'group' FROM deliveries
             WHERE id = ?4
             RETURNING id, request_id, channel, created_at",
        )?
        .query_row(params![rule, json, millis(now), id as i64], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?;
    let ids = serde_json::to_string(&members).unwrap_or_else(|_| "[]".into());
    tx.prepare_cached(
        "UPDATE deliveries SET status = 'digested', digest_id = ?1 WHERE id IN (SELECT value FROM json_each(?2))",
    )?
    .execute(params![group, ids])?;
    Ok(Some(Delivery {
        id: group as u64,
        channel,
        rule,
        request_id,
        message,
        created_at: super::from_millis(created_at),
        attempts: 0,
        digest: true,
    }))
}
