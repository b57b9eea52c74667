//! `syncwatch history`: recent events and notifications, read-only.

use std::io::Write;
use std::time::SystemTime;

use crate::store::sqlite::audit::{EventRow, HistoryFilter, NotificationRow};

use super::{Database, EXIT_FAILED, EXIT_OK};

pub fn history(database: &Database, filter: &HistoryFilter, out: &mut dyn Write) -> std::io::Result<u8> {
    let rows = database.history(filter);
    let (events, notifications) = match rows {
        Ok(rows) => rows,
        Err(err) => {
            writeln!(out, "cannot read the database {database}: {err}")?;
            return Ok(EXIT_FAILED);
        }
    };
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
    if let Some(digest) = n.digest_id {
        writeln!(out, "    carried by digest #{digest}")?;
    }
    if let Some(error) = &n.last_error {
        writeln!(out, "    last error: {error}")?;
    }
    Ok(())
}
