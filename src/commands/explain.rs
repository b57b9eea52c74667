//! `syncwatch explain <requestId>`: why an event did or did not notify,
//! and what became of each notification.

use std::io::Write;

use crate::config::Config;
use crate::event::parse_event;
use crate::rules::{Environment, explain as explain_rules};
use crate::store::sqlite::audit::StoredEvent;

use super::describe::event_lines;
use super::history::time;
use super::{Database, EXIT_FAILED, EXIT_OK};

/// `config`, when given, explains every rule as it reads now.
pub fn explain(
    database: &Database,
    request_id: &str,
    config: Option<&Config>,
    out: &mut dyn Write,
) -> std::io::Result<u8> {
    let found = database.find_event(request_id);
    let stored = match found {
        Ok(Some(stored)) => stored,
        Ok(None) => {
            writeln!(
                out,
                "no event with requestId `{request_id}` in {} (never received, or pruned)",
                database
            )?;
            return Ok(EXIT_FAILED);
        }
        Err(err) => {
            writeln!(out, "cannot read the database {}: {err}", database)?;
            return Ok(EXIT_FAILED);
        }
    };
    write_summary(&stored, out)?;
    if let Some(config) = config {
        write_rules(&stored, config, out)?;
    }
    write_notifications(&stored, out)?;
    Ok(EXIT_OK)
}

fn write_summary(stored: &StoredEvent, out: &mut dyn Write) -> std::io::Result<()> {
    let row = &stored.row;
    writeln!(
        out,
        "event {} · {} · connection {} · received {}",
        row.event.as_deref().unwrap_or("-"),
        row.environment,
        row.connection.as_deref().unwrap_or("-"),
        time(row.received_at)
    )?;
    if let Ok(event) = parse_event(&stored.body) {
        writeln!(out, "{}", event_lines(&event))?;
    }
    writeln!(out, "\nAT INGEST")?;
    let list = |rules: &[String]| {
        if rules.is_empty() {
            "none".to_owned()
        } else {
            rules.join(", ")
        }
    };
    writeln!(out, "notified: {}", list(&row.fired))?;
    writeln!(
        out,
        "kept quiet (pending, within repeat_interval, muted or held: see the transitions): {}",
        list(&row.suppressed)
    )?;
    writeln!(out, "\nALERT TRANSITIONS ({})", row.transitions.len())?;
    for transition in &row.transitions {
        writeln!(out, "{transition}")?;
    }
    Ok(())
}

fn write_rules(stored: &StoredEvent, config: &Config, out: &mut dyn Write) -> std::io::Result<()> {
    let Ok(event) = parse_event(&stored.body) else {
        return Ok(());
    };
    writeln!(out, "\nRULES IN {} NOW", config.source.display())?;
    // As at ingest: an event without `sandbox` counted as what was stored.
    let missing_sandbox = if stored.row.environment == "sandbox" {
        Environment::Sandbox
    } else {
        Environment::Production
    };
    for verdict in explain_rules(&config.rules, &event, missing_sandbox) {
        match verdict {
            Ok(m) => writeln!(out, "FIRES   {} ({})", m.rule.name, m.rule.severity)?,
            Err(miss) => writeln!(out, "no      {}: {}", miss.rule.name, miss.reason)?,
        }
    }
    Ok(())
}

fn write_notifications(stored: &StoredEvent, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "\nNOTIFICATIONS ({})", stored.notifications.len())?;
    for (n, attempts) in &stored.notifications {
        if let Some(kind) = n.kind {
            write!(out, "{kind} ")?;
        }
        match n.carried_by() {
            Some(carrier) => writeln!(
                out,
                "{} -> {}: {}, carried by {carrier} (its attempts below)",
                n.rule, n.channel, n.status
            )?,
            None => writeln!(
                out,
                "{} -> {}: {} after {} attempt(s)",
                n.rule, n.channel, n.status, n.attempts
            )?,
        }
        for attempt in attempts {
            let answer = attempt.answer.as_deref().unwrap_or("");
            writeln!(out, "    {}  {:<9}  {answer}", time(attempt.at), attempt.outcome)?;
        }
    }
    Ok(())
}
