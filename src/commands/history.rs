//! `syncwatch history`: recent events and notifications, read-only.

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use crate::store::sqlite::audit::{EventRow, HistoryFilter, NotificationRow, recent_events, recent_notifications};
use crate::store::sqlite::open_read_only;

use super::{EXIT_FAILED, EXIT_OK};

pub fn history(database: &Path, filter: &HistoryFilter, out: &mut dyn Write) -> std::io::Result<u8> {
    let conn = match open_read_only(database) {
        Ok(conn) => conn,
        Err(err) => {
            writeln!(out, "cannot open the database {}: {err}", database.display())?;
            return Ok(EXIT_FAILED);
        }
    };
    let rows = recent_events(&conn, filter).and_then(|events| Ok((events, recent_notifications(&conn, filter)?)));
    let (events, notifications) = match rows {
        Ok(rows) => rows,
        Err(err) => {
            writeln!(out, "cannot read the database {}: {err}", database.display())?;
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
        "{}  {:<9}  {} -> {}  {}  requestId {}  attempts {}",
        time(n.created_at),
        n.status,
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
