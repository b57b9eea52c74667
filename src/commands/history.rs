//! `syncwatch history`: recent events and notifications, read-only.

use std::io::Write;
use std::time::SystemTime;

use crate::store::sqlite::audit::{EventRow, HistoryFilter, NotificationRow};

use super::{Database, EXIT_FAILED, EXIT_OK, Output, json_time, print_json};

pub fn history(
    database: &Database,
    filter: &HistoryFilter,
    output: Output,
    out: &mut dyn Write,
) -> std::io::Result<u8> {
    let rows = database.history(filter);
    let (events, notifications) = match rows {
        Ok(rows) => rows,
        Err(err) => {
            writeln!(out, "cannot read the database {database}: {err}")?;
            return Ok(EXIT_FAILED);
        }
    };
    if output == Output::Json {
        let events: Vec<serde_json::Value> = events.iter().map(json_event).collect();
        let notifications: Vec<serde_json::Value> = notifications.iter().map(json_notification).collect();
        return print_json(
            out,
            &serde_json::json!({ "events": events, "notifications": notifications }),
        );
    }
    if filter.status.is_none() {
        writeln!(out, "EVENTS, newest first ({})", events.len())?;
        for event in &events {
            write_event(event, out)?;
        }
        writeln!(out)?;
    }
    writeln!(out, "NOTIFICATIONS, newest first ({})", notifications.len())?;
    for notification in &notifications {
        write_notification(notification, out)?;
    }
    Ok(EXIT_OK)
}

fn json_event(event: &EventRow) -> serde_json::Value {
    serde_json::json!({
        "received_at": json_time(event.received_at),
        "request_id": event.request_id,
        "event": event.event,
        "connection": event.connection,
        "environment": event.environment,
        "notified": event.fired,
        "kept_quiet": event.suppressed,
        "transitions": event.transitions,
    })
}

fn json_notification(n: &NotificationRow) -> serde_json::Value {
    serde_json::json!({
        "id": n.id,
        "created_at": json_time(n.created_at),
        "kind": n.kind,
        "status": n.status,
        "rule": n.rule,
        "channel": n.channel,
        "connection": n.connection,
        "request_id": n.request_id,
        "attempts": n.attempts,
        "last_error": n.last_error,
        "digest_id": n.digest_id,
    })
}

pub fn time(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

fn dash(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("-")
}

fn write_event(event: &EventRow, out: &mut dyn Write) -> std::io::Result<()> {
    let mut verdict = if event.fired.is_empty() {
        "no notification".to_owned()
    } else {
        format!("notified: {}", event.fired.join(", "))
    };
    if !event.suppressed.is_empty() {
        verdict.push_str(&format!("; quiet: {}", event.suppressed.join(", ")));
    }
    writeln!(
        out,
        "{}  {}  {}  {}  {}  {verdict}",
        time(event.received_at),
        dash(&event.request_id),
        dash(&event.event),
        event.environment,
        dash(&event.connection),
    )
}

fn write_notification(n: &NotificationRow, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{}  {:<9}  {}{} -> {}  {}  requestId {}  attempts {}",
        time(n.created_at),
        n.status,
        n.kind.map_or(String::new(), |kind| format!("{kind} ")),
        n.rule,
        n.channel,
        dash(&n.connection),
        dash(&n.request_id),
        n.attempts
    )?;
    if let Some(carrier) = n.carried_by() {
        writeln!(out, "    carried by {carrier}")?;
    }
    if let Some(error) = &n.last_error {
        writeln!(out, "    last error: {error}")?;
    }
    Ok(())
}
