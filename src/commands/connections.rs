//! `syncwatch connections`: the known connections, one line each, and
//! `syncwatch connections forget ID`.

use std::collections::HashMap;
use std::io::Write;

use crate::absence::{Deadlines, KnownConnection};
use crate::alerts::AlertKey;
use crate::config::Config;
use crate::lifecycle::{AlertState, Phase};
use crate::status::ConnectionState;

use super::history::time;
use super::{Database, EXIT_FAILED, EXIT_OK, Output, json_time, print_json};

/// The states `--state` filters by.
pub const STATES: [&str; 4] = ConnectionState::NAMES;

/// `state`: one of [`STATES`]; `None` lists all. With the rules file
/// (`config`): its absence rules, whose alerts make a connection `quiet`
/// (when no other fires; the state is [`ConnectionState::of`], as on the
/// status page), and each connection's next absence deadline.
pub fn connections(
    database: &Database,
    state: Option<&str>,
    config: Option<&Config>,
    output: Output,
    out: &mut dyn Write,
) -> std::io::Result<u8> {
    let absence_rules: Vec<String> = (config.map(|c| c.rules.as_slice()).unwrap_or_default().iter())
        .filter(|r| r.absence.is_some())
        .map(|r| r.name.clone())
        .collect();
    let absence_rules = absence_rules.as_slice();
    let read = database.connections();
    let (known, alerts) = match read {
        Ok(read) => read,
        Err(err) => {
            writeln!(out, "cannot read the database {database}: {err}")?;
            return Ok(EXIT_FAILED);
        }
    };
    let mut firing: HashMap<&str, Vec<(&AlertKey, &AlertState)>> = HashMap::new();
    for (key, alert) in alerts.iter().filter(|(_, a)| a.phase == Phase::Firing) {
        firing.entry(key.connection.as_str()).or_default().push((key, alert));
    }
    let rows: Vec<(&KnownConnection, &'static str)> = known
        .iter()
        .map(|c| {
            let firing = firing.get(c.id.as_str()).map_or(&[][..], Vec::as_slice);
            let rules = firing.iter().map(|(key, _)| key.rule.as_str());
            (
                c,
                ConnectionState::of(c.status.as_deref(), rules, absence_rules).as_str(),
            )
        })
        .filter(|(_, s)| state.is_none_or(|wanted| *s == wanted))
        .collect();
    if output == Output::Json {
        let rows: Vec<serde_json::Value> = (rows.iter())
            .map(|(known, state)| {
                let alerts = firing.get(known.id.as_str()).map_or(&[][..], Vec::as_slice);
                let deadline = config.and_then(|config| next_deadline(config, known));
                json_row(known, state, alerts, deadline)
            })
            .collect();
        return print_json(out, &serde_json::json!({ "connections": rows }));
    }
    writeln!(out, "CONNECTIONS ({})", rows.len())?;
    for (known, state) in rows {
        let alerts = firing.get(known.id.as_str()).map_or(&[][..], Vec::as_slice);
        let mut text = line(known, state, alerts);
        if let Some(deadline) = config.and_then(|config| next_deadline(config, known)) {
            text.push_str(&format!("  next deadline {}", time(deadline)));
        }
        writeln!(out, "{text}")?;
    }
    Ok(EXIT_OK)
}

/// When the first absence rule watching `known` would fire if it does not
/// sync, from its last sync (a downtime since may start its clock again).
fn next_deadline(config: &Config, known: &KnownConnection) -> Option<std::time::SystemTime> {
    let mut deadlines = Deadlines::default();
    deadlines.plan(config, known, None);
    deadlines.next()
}

/// One connection in `-o json`.
fn json_row(
    known: &KnownConnection,
    state: &str,
    firing: &[(&AlertKey, &AlertState)],
    next_deadline: Option<std::time::SystemTime>,
) -> serde_json::Value {
    let firing: Vec<String> = firing.iter().map(|(key, _)| key.to_string()).collect();
    serde_json::json!({
        "id": known.id,
        "state": state,
        "business": known.business,
        "service": known.service,
        "environment": known.environment.as_str(),
        "status": known.status,
        "last_event": json_time(known.last_event),
        "last_event_name": known.last_event_name,
        "last_sync": known.last_sync.map(json_time),
        "firing": firing,
        "next_deadline": next_deadline.map(json_time),
    })
}

fn line(known: &KnownConnection, state: &str, firing: &[(&AlertKey, &AlertState)]) -> String {
    let last_sync = known.last_sync.map_or_else(|| "never".to_owned(), time);
    let rules: Vec<String> = firing.iter().map(|(key, _)| key.to_string()).collect();
    let status = known.status.as_deref().unwrap_or("-");
    let mut text = format!(
        "{:<12} {}  last event {} ({})  last sync {}  status {}",
        state,
        known.id,
        time(known.last_event),
        known.last_event_name.as_deref().unwrap_or("-"),
        last_sync,
        status
    );
    if !rules.is_empty() {
        text.push_str(&format!("  firing: {}", rules.join(", ")));
    }
    text
}

/// Forgets a connection and its alerts: the daemon stops expecting it to
/// sync. It is known again at its next event. Its firing alerts are first
/// closed, with a RESOLVED to the channels that were told (when the rules
/// file was read: without it, nothing can be worded).
pub fn forget(database: &Database, id: &str, config: Option<&Config>, out: &mut dyn Write) -> std::io::Result<u8> {
    // Without the rules file no RESOLVED can be worded: say what is dropped.
    let unworded = match config {
        Some(_) => 0,
        None => (database.active_alerts().unwrap_or_default().iter())
            .filter(|(key, _)| key.connection == id)
            .count(),
    };
    let forgotten = database.forget_connection(id, config);
    match forgotten {
        Ok(true) => {
            writeln!(out, "forgot {id}")?;
            if unworded > 0 {
                writeln!(
                    out,
                    "its {unworded} active alerts were dropped without a RESOLVED: give --config to tell the channels"
                )?;
            }
            Ok(EXIT_OK)
        }
        Ok(false) => {
            writeln!(out, "no known connection `{id}`")?;
            Ok(EXIT_FAILED)
        }
        Err(err) => {
            writeln!(out, "cannot write the database {database}: {err}")?;
            Ok(EXIT_FAILED)
        }
    }
}
