//! Read-only queries behind `syncwatch history` and `syncwatch explain`:
//! safe to run beside the daemon (WAL readers never block the writer).

use std::time::SystemTime;

use crate::lifecycle::Effect;
use rusqlite::{Connection, OptionalExtension, params};

use super::{body, from_millis};

#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub connection: Option<String>,
    pub rule: Option<String>,
    /// `pending`, `delivered`, `failed` or `expired`.
    pub status: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub received_at: SystemTime,
    pub request_id: Option<String>,
    pub event: Option<String>,
    pub connection: Option<String>,
    pub environment: String,
    pub fired: Vec<String>,
    pub suppressed: Vec<String>,
    /// The alert transitions the event made, described.
    pub transitions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    pub id: i64,
    pub created_at: SystemTime,
    pub request_id: Option<String>,
    pub rule: String,
    pub channel: String,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub connection: Option<String>,
    /// The digest (or group) that carried it, if one did.
    pub digest_id: Option<i64>,
    /// What it says: FIRING, STILL FAILING, RESOLVED, DIGEST, GROUP.
    pub kind: Option<&'static str>,
    /// Carried by a group (several rules of one event in one message)
    /// rather than a digest.
    pub in_group: bool,
}

impl NotificationRow {
    /// What carried it, `digest #12` or `group #12`, if anything did.
    pub fn carried_by(&self) -> Option<String> {
        let carrier = if self.in_group { "group" } else { "digest" };
        self.digest_id.map(|id| format!("{carrier} #{id}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub at: SystemTime,
    pub outcome: String,
    pub answer: Option<String>,
}

/// One stored event with everything `explain` shows.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub row: EventRow,
    pub body: Vec<u8>,
    pub notifications: Vec<(NotificationRow, Vec<AttemptRow>)>,
}

fn rules(json: String) -> Vec<String> {
    serde_json::from_str(&json).unwrap_or_default()
}

fn event_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        received_at: from_millis(row.get(0)?),
        request_id: row.get(1)?,
        event: row.get(2)?,
        connection: row.get(3)?,
        environment: row.get(4)?,
        fired: rules(row.get(5)?),
        suppressed: rules(row.get(6)?),
        transitions: rules(row.get(7)?),
    })
}

// An event without a requestId (an absence check, a closing, a body
// without one) is named by its key, which `explain` takes; a digest by
// nothing (its members are listed), a group by its event's requestId.
// Last, whether what carried it is a group.
const NOTIFICATION_COLUMNS: &str = "d.id, d.created_at, CASE WHEN d.is_digest THEN d.request_id ELSE COALESCE(d.request_id, e.dedup_key) END, d.rule, d.channel, d.status, d.attempts, d.last_error, e.connection, d.digest_id, d.effect, d.is_digest,
     (SELECT g.effect = 'group' FROM deliveries g WHERE g.id = d.digest_id)";

fn notification_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<NotificationRow> {
    Ok(NotificationRow {
        id: row.get(0)?,
        created_at: from_millis(row.get(1)?),
        request_id: row.get(2)?,
        rule: row.get(3)?,
        channel: row.get(4)?,
        status: row.get(5)?,
        attempts: row.get(6)?,
        last_error: row.get(7)?,
        connection: row.get(8)?,
        digest_id: row.get(9)?,
        kind: Effect::kind_of(row.get::<_, Option<String>>(10)?.as_deref(), row.get(11)?),
        in_group: row.get::<_, Option<bool>>(12)?.unwrap_or(false),
    })
}

/// Recent events, newest first. With a rule filter, only events on which
/// that rule fired (notified or kept quiet).
pub fn recent_events(conn: &Connection, filter: &HistoryFilter) -> rusqlite::Result<Vec<EventRow>> {
    // Spelled out per case: behind `?1 IS NULL OR connection = ?1` the
    // planner cannot use `events_connection`, and walked every event, newest
    // first, to find a quiet connection's few.
    let by_connection = match filter.connection {
        Some(_) => "connection = ?1",
        None => "?1 IS NULL",
    };
    let mut statement = conn.prepare(&format!(
        "SELECT received_at, COALESCE(request_id, dedup_key), event, connection, environment, fired, suppressed, transitions
         FROM events e WHERE {by_connection}
           AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(e.fired) WHERE value = ?2)
                          OR EXISTS (SELECT 1 FROM json_each(e.suppressed) WHERE value = ?2))
         ORDER BY received_at DESC, id DESC LIMIT ?3"
    ))?;
    let rows = statement.query_map(params![filter.connection, filter.rule, filter.limit as i64], event_row)?;
    rows.collect()
}

/// Recent notifications, newest first.
pub fn recent_notifications(conn: &Connection, filter: &HistoryFilter) -> rusqlite::Result<Vec<NotificationRow>> {
    let sql = format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
         WHERE (?1 IS NULL OR e.connection = ?1) AND (?2 IS NULL OR d.rule = ?2) AND (?3 IS NULL OR d.status = ?3)
         ORDER BY d.id DESC LIMIT ?4"
    );
    let mut statement = conn.prepare(&sql)?;
    let rows = statement.query_map(
        params![filter.connection, filter.rule, filter.status, filter.limit as i64],
        notification_row,
    )?;
    rows.collect()
}

/// The event with this requestId (or dedup key), if still stored; the
/// latest, should Railz have sent the id again after the dedup window. No
/// index leads to it (see `seen`): the scan starts at the newest event,
/// where `explain` is mostly asked about.
pub fn find_event(conn: &Connection, request_id: &str) -> rusqlite::Result<Option<StoredEvent>> {
    let found = conn
        .query_row(
            "SELECT received_at, COALESCE(request_id, dedup_key), event, connection, environment, fired, suppressed,
             transitions, body, id, body_lz4 FROM events WHERE request_id = ?1 OR dedup_key = ?1 ORDER BY id DESC LIMIT 1",
            [request_id],
            |row| {
                let body = body::unpack(row.get(8)?, row.get(10)?)?;
                Ok((event_row(row)?, body, row.get::<_, i64>(9)?))
            },
        )
        .optional()?;
    let Some((row, body, id)) = found else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.event_id = ?1 ORDER BY d.id"
    );
    let mut statement = conn.prepare(&sql)?;
    let notifications: Vec<NotificationRow> = statement.query_map([id], notification_row)?.collect::<Result<_, _>>()?;
    let mut with_attempts = Vec::new();
    for notification in notifications {
        // A notification carried by a digest shows the digest's attempts.
        let attempts = attempts(conn, notification.digest_id.unwrap_or(notification.id))?;
        with_attempts.push((notification, attempts));
    }
    Ok(Some(StoredEvent {
        row,
        body,
        notifications: with_attempts,
    }))
}

fn attempts(conn: &Connection, delivery: i64) -> rusqlite::Result<Vec<AttemptRow>> {
    let mut statement = conn.prepare("SELECT at, outcome, answer FROM attempts WHERE delivery_id = ?1 ORDER BY at")?;
    let rows = statement.query_map([delivery], |row| {
        Ok(AttemptRow {
            at: from_millis(row.get(0)?),
            outcome: row.get(1)?,
            answer: row.get(2)?,
        })
    })?;
    rows.collect()
}

/// A delivered notification, as `syncwatch test --cases` compares it with
/// what a case expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Told {
    pub id: i64,
    pub rule: String,
    pub channel: String,
    pub connection: Option<String>,
    /// FIRING, STILL FAILING or RESOLVED (a CLOSED is a RESOLVED with a reason).
    pub state: &'static str,
    /// What the channel was sent, as stored.
    pub message: String,
}

/// The notifications delivered with an id above `after`, oldest first.
pub fn delivered_since(conn: &Connection, after: i64) -> rusqlite::Result<Vec<Told>> {
    let mut statement = conn.prepare(
        "SELECT id, rule, channel, alert_connection, effect, message FROM deliveries
         WHERE id > ?1 AND status = 'delivered' AND NOT is_digest ORDER BY id",
    )?;
    let rows = statement.query_map(params![after], |row| {
        let effect: Option<String> = row.get(4)?;
        Ok(Told {
            id: row.get(0)?,
            rule: row.get(1)?,
            channel: row.get(2)?,
            connection: row.get::<_, Option<String>>(3)?.filter(|c| !c.is_empty()),
            state: Effect::kind_of(effect.as_deref(), false).unwrap_or("?"),
            message: row.get(5)?,
        })
    })?;
    rows.collect()
}
