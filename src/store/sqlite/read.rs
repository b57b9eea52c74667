//! The reads of the delivery lanes' hot path: the next message due. They
//! run on reader connections, beside the writer.

use std::collections::HashSet;
use std::time::SystemTime;

use rusqlite::{Connection, params};

use super::super::model::{Delivery, Message};
use super::{from_millis, millis};

/// The first due pending delivery of `channel` not already in a worker's
/// hands. One alert's messages go out in the order they were queued: a
/// message waits while an earlier one of its alert on the channel is
/// pending (retrying, or in a digest not yet sent), so a RESOLVED never
/// overtakes the FIRING it ends.
pub fn next_unclaimed(
    conn: &Connection,
    channel: &str,
    now: SystemTime,
    claimed: &HashSet<u64>,
) -> rusqlite::Result<Option<Delivery>> {
    let mut statement = conn.prepare_cached(
        "SELECT id, request_id, rule, channel, message, created_at, attempts, is_digest FROM deliveries d
         WHERE status = 'pending' AND channel = ?1 AND due_at <= ?2 AND NOT EXISTS (SELECT 1 FROM deliveries e
             WHERE e.channel = d.channel AND e.status IN ('pending', 'digested') AND e.rule = d.rule
             AND e.alert_connection = d.alert_connection AND e.alert_data_type = d.alert_data_type AND e.id < d.id)
         ORDER BY due_at, id LIMIT ?3",
    )?;
    let limit = claimed.len() as i64 + 1;
    let mut rows = statement.query(params![channel, millis(now), limit])?;
    while let Some(row) = rows.next()? {
        let id = row.get::<_, i64>(0)? as u64;
        if claimed.contains(&id) {
            continue;
        }
        let message: String = row.get(4)?;
        let message: Message = serde_json::from_str(&message)
            .map_err(|err| rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(err)))?;
        return Ok(Some(Delivery {
            id,
            request_id: row.get(1)?,
            rule: row.get(2)?,
            channel: row.get(3)?,
            message,
            created_at: from_millis(row.get(5)?),
            attempts: row.get(6)?,
            digest: row.get(7)?,
        }));
    }
    Ok(None)
}

pub fn next_due(conn: &Connection, channel: &str) -> rusqlite::Result<Option<SystemTime>> {
    let due: Option<i64> = conn
        .prepare_cached(
            "SELECT MIN(due_at) FROM deliveries d WHERE status = 'pending' AND channel = ?1 AND NOT EXISTS (
                 SELECT 1 FROM deliveries e WHERE e.channel = d.channel AND e.status IN ('pending', 'digested')
                 AND e.rule = d.rule AND e.alert_connection = d.alert_connection
                 AND e.alert_data_type = d.alert_data_type AND e.id < d.id)",
        )?
        .query_row([channel], |row| row.get(0))?;
    Ok(due.map(from_millis))
}

/// Firing alerts by rule, for `/metrics`.
pub fn firing_by_rule(conn: &Connection) -> rusqlite::Result<Vec<(String, u64)>> {
    let mut statement =
        conn.prepare_cached("SELECT rule, COUNT(*) FROM alerts WHERE state = 'firing' GROUP BY rule")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64)))?;
    rows.collect()
}

pub fn pending_count(conn: &Connection) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")?
        .query_row([], |row| row.get::<_, i64>(0))
        .map(|n| n as u64)
}
