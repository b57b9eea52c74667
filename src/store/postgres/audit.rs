//! The reads behind `syncwatch history` and `explain` on PostgreSQL: the
//! same rows as the SQLite store's.

use deadpool_postgres::Client;
use tokio_postgres::{Error, Row};

use crate::lifecycle::Effect;
use crate::store::sqlite::audit::{AttemptRow, EventRow, HistoryFilter, NotificationRow, StoredEvent};

use super::super::time::from_millis;

// As in the SQLite store: an event without a requestId is named by its key.
const NOTIFICATION_COLUMNS: &str = "d.id, d.created_at, CASE WHEN d.is_digest THEN d.request_id ELSE COALESCE(d.request_id, e.dedup_key) END, d.rule, d.channel, d.status, d.attempts, d.last_error, e.connection, d.digest_id, d.effect, d.is_digest,
     (SELECT g.effect = 'group' FROM deliveries g WHERE g.id = d.digest_id)";

fn list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn event_row(row: &Row) -> EventRow {
    EventRow {
        received_at: from_millis(row.get(0)),
        request_id: row.get(1),
        event: row.get(2),
        connection: row.get(3),
        environment: row.get(4),
        fired: list(row.get(5)),
        suppressed: list(row.get(6)),
        transitions: list(row.get(7)),
    }
}

fn notification_row(row: &Row) -> NotificationRow {
    NotificationRow {
        id: row.get(0),
        created_at: from_millis(row.get(1)),
        request_id: row.get(2),
        rule: row.get(3),
        channel: row.get(4),
        status: row.get(5),
        attempts: row.get::<_, i32>(6).max(0) as u32,
        last_error: row.get(7),
        connection: row.get(8),
        digest_id: row.get(9),
        kind: Effect::kind_of(row.get::<_, Option<&str>>(10), row.get(11)),
        in_group: row.get::<_, Option<bool>>(12).unwrap_or(false),
    }
}

pub async fn recent_events(client: &Client, filter: &HistoryFilter) -> Result<Vec<EventRow>, Error> {
    let rows = client
        .query(
            "SELECT received_at, COALESCE(request_id, dedup_key), event, connection, environment, fired, suppressed,
             transitions FROM events WHERE ($1::text IS NULL OR connection = $1)
               AND ($2::text IS NULL OR fired::jsonb ? $2 OR suppressed::jsonb ? $2)
             ORDER BY received_at DESC, id DESC LIMIT $3",
            &[&filter.connection, &filter.rule, &(filter.limit as i64)],
        )
        .await?;
    Ok(rows.iter().map(event_row).collect())
}

pub async fn recent_notifications(client: &Client, filter: &HistoryFilter) -> Result<Vec<NotificationRow>, Error> {
    let sql = format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
         WHERE ($1::text IS NULL OR e.connection = $1) AND ($2::text IS NULL OR d.rule = $2)
           AND ($3::text IS NULL OR d.status = $3)
         ORDER BY d.id DESC LIMIT $4"
    );
    let rows = client
        .query(
            &sql,
            &[&filter.connection, &filter.rule, &filter.status, &(filter.limit as i64)],
        )
        .await?;
    Ok(rows.iter().map(notification_row).collect())
}

pub async fn find_event(client: &Client, request_id: &str) -> Result<Option<StoredEvent>, Error> {
    let found = client
        .query_opt(
            "SELECT received_at, COALESCE(request_id, dedup_key), event, connection, environment, fired, suppressed,
             transitions, body, id FROM events WHERE request_id = $1 OR dedup_key = $1 ORDER BY id LIMIT 1",
            &[&request_id],
        )
        .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    let id: i64 = found.get(9);
    let sql = format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.event_id = $1 ORDER BY d.id"
    );
    let mut notifications = Vec::new();
    for row in client.query(&sql, &[&id]).await? {
        let notification = notification_row(&row);
        // A notification carried by a digest shows the digest's attempts.
        let attempts = client
            .query(
                "SELECT at, outcome, answer FROM attempts WHERE delivery_id = $1 ORDER BY at",
                &[&notification.digest_id.unwrap_or(notification.id)],
            )
            .await?
            .iter()
            .map(|row| AttemptRow {
                at: from_millis(row.get(0)),
                outcome: row.get(1),
                answer: row.get(2),
            })
            .collect();
        notifications.push((notification, attempts));
    }
    Ok(Some(StoredEvent {
        row: event_row(&found),
        body: found.get(8),
        notifications,
    }))
}
