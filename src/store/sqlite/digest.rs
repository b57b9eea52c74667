//! Building a digest in one transaction: the channel's pending
//! notifications become one queued message that carries them. Each is
//! carried by at most one digest and settled when it is, so a crash
//! between building and sending resends the same digest, never a second
//! one with the same notifications.

use std::time::{Duration, SystemTime};

use rusqlite::{Connection, params};

use crate::config::ChannelKind;
use crate::render::{Item, Message, SlackThread, digest_for};
use crate::store::Settle;

use super::millis;
use super::write::settle;

/// A digest that was queued: its delivery id and how many it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Built {
    pub id: u64,
    pub carried: usize,
}

/// Gathers `channel`'s pending notifications into one digest, queued now.
/// Ones older than `max_age` are expired instead (never sent late).
pub fn build(
    tx: &Connection,
    channel: &str,
    kind: &ChannelKind,
    max_items: usize,
    max_age: Duration,
    now: SystemTime,
) -> rusqlite::Result<Option<Built>> {
    // Expired first: expiring a FIRING drops the RESOLVED queued behind it
    // (told means delivered), which must then not be read as pending.
    let oldest_allowed = millis(now.checked_sub(max_age).unwrap_or(SystemTime::UNIX_EPOCH));
    let too_old: Vec<i64> = tx
        .prepare_cached(
            "SELECT id FROM deliveries WHERE status = 'pending' AND channel = ?1 AND is_digest = 0 AND created_at < ?2
             ORDER BY id",
        )?
        .query_map(params![channel, oldest_allowed], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in too_old {
        let error = "not sent: older than delivery.max_age when its digest was built".to_owned();
        settle(tx, id as u64, &Settle::Expired { error }, now)?;
    }
    let rows: Vec<(i64, Option<String>, Option<AlertOf>, String)> = tx
        .prepare_cached(
            "SELECT id, item, rule, alert_connection, alert_data_type, effect, message FROM deliveries
             WHERE status = 'pending' AND channel = ?1 AND is_digest = 0
               AND rule NOT IN (SELECT outage FROM outage_states) ORDER BY id",
        )?
        .query_map([channel], |row| {
            let alert = alert_of(row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?);
            Ok((row.get(0)?, row.get(1)?, alert, row.get(6)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut members = Vec::new();
    let mut items = Vec::new();
    let mut threads = Vec::new();
    for (id, item, alert, message) in rows {
        members.push(id);
        if matches!(kind, ChannelKind::Slack(_)) {
            threads.extend(slack_thread_of(&message));
        }
        let item = item
            .and_then(|json| serde_json::from_str::<Item>(&json).ok())
            .unwrap_or_else(unknown_item);
        items.push((alert, item));
    }
    if members.is_empty() {
        return Ok(None);
    }
    // One line per alert; every member is still carried (and settled) below.
    let message = digest_for(kind, &Item::latest_per_alert(items), max_items, now).told_in_digest(threads);
    let first = members[0];
    tx.prepare_cached(
        "INSERT INTO deliveries (event_id, request_id, rule, channel, message, status, created_at, due_at, is_digest)
         SELECT event_id, NULL, ?1, ?2, ?3, 'pending', ?4, ?4, 1 FROM deliveries WHERE id = ?5",
    )?
    .execute(params![
        format!("digest of {}", members.len()),
        channel,
        serde_json::to_string(&message).unwrap_or_default(),
        millis(now),
        first
    ])?;
    let id = tx.last_insert_rowid();
    let ids = serde_json::to_string(&members).unwrap_or_else(|_| "[]".into());
    tx.prepare_cached(
        "UPDATE deliveries SET status = 'digested', digest_id = ?1 WHERE id IN (SELECT value FROM json_each(?2))",
    )?
    .execute(params![id, ids])?;
    Ok(Some(Built {
        id: id as u64,
        carried: members.len(),
    }))
}

/// The alert a queued notification speaks of: rule, connection, data type
/// (`''` for none).
type AlertOf = (String, String, String);

/// The alert of a queued row, from its `rule`, `alert_connection`,
/// `alert_data_type` and `effect`; `None` for a row queued by a version
/// that did not name it (no `effect`): a digest shows it as an alert of
/// its own.
fn alert_of(
    rule: String,
    connection: Option<String>,
    data_type: Option<String>,
    effect: Option<String>,
) -> Option<AlertOf> {
    effect?;
    Some((rule, connection?, data_type.unwrap_or_default()))
}

/// A queued Slack message's place in its alert's thread: the digest that
/// carries it is the thread its later messages go in, when it has no
/// message of its own, and ends its episode when it is a RESOLVED.
pub fn slack_thread_of(message: &str) -> Option<SlackThread> {
    let message: Message = serde_json::from_str(message).ok()?;
    message.slack_thread().cloned()
}

/// A notification queued before digests existed carries no item.
pub fn unknown_item() -> Item {
    Item {
        state: "FIRING".into(),
        rule: "(queued before the upgrade)".into(),
        severity: "WARNING".into(),
        business: "unknown business".into(),
        connection: None,
        service: None,
        data_types: Vec::new(),
        reason: None,
        headline: "see `syncwatch history`".into(),
    }
}
