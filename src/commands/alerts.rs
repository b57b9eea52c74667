//! `syncwatch alerts`: the pending and firing alerts, one line each,
//! read-only beside the running daemon.

use std::io::Write;

use crate::alerts::AlertKey;
use crate::lifecycle::{AlertState, Phase};

use super::history::time;
use super::{Database, EXIT_FAILED, EXIT_OK};

/// `state`: `pending` or `firing`; `None` lists both.
pub fn alerts(database: &Database, state: Option<&str>, out: &mut dyn Write) -> std::io::Result<u8> {
    let rows = database.active_alerts();
    let rows = match rows {
        Ok(rows) => rows,
        Err(err) => {
            writeln!(out, "cannot read the database {database}: {err}")?;
            return Ok(EXIT_FAILED);
        }
    };
    let shown: Vec<&(AlertKey, AlertState)> = rows
        .iter()
        .filter(|(_, s)| state.is_none_or(|wanted| s.phase.as_str() == wanted))
        .collect();
    let firing = shown.iter().filter(|(_, s)| s.phase == Phase::Firing).count();
    writeln!(out, "ALERTS ({} firing, {} pending)", firing, shown.len() - firing)?;
    for (key, alert) in shown {
        writeln!(out, "{}", line(key, alert))?;
    }
    Ok(EXIT_OK)
}

/// `firing   rule  CON-1 (bills)  since 2026-11-27T10:00:00Z  3 failing syncs  last notified ...`
fn line(key: &AlertKey, alert: &AlertState) -> String {
    let mut connection = key.connection.clone();
    if let Some(data_type) = &key.data_type {
        connection.push_str(&format!(" ({data_type})"));
    }
    let since = alert.firing_since.unwrap_or(alert.since);
    let notified = alert.last_notified.map_or_else(|| "never".to_owned(), time);
    let mut text = format!(
        "{:<8} {}  {}  since {}  {} failing {}  last notified {}",
        alert.phase.as_str(),
        key.rule,
        connection,
        time(since),
        alert.matches,
        if alert.matches == 1 { "sync" } else { "syncs" },
        notified
    );
    if let Some(by) = &alert.muted_by {
        text.push_str(&format!("  muted by {by}"));
    }
    text
}
