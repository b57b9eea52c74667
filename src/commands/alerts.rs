//! `syncwatch alerts`: the pending and firing alerts, one line each,
//! read-only beside the running daemon.

use std::collections::HashMap;
use std::io::Write;
use std::time::SystemTime;

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::config::Config;
use crate::lifecycle::{AlertState, HELD_BY, Phase};
use crate::quiet::Silence;
use crate::rules::Rule;
use crate::status::{AlertFacts, Cover, OutageRow, Quiet};
use crate::store::sqlite::{open_read_only, silences};

use super::history::time;
use super::{Database, EXIT_FAILED, EXIT_OK, Output, json_time, print_json};

type Read = (
    Vec<KnownConnection>,
    Vec<(AlertKey, AlertState)>,
    Vec<Silence>,
    Vec<OutageRow>,
);

/// `state`: `pending` or `firing`; `None` lists both. With the rules file
/// (`config`), the maintenance windows open now count too.
pub fn alerts(
    database: &Database,
    state: Option<&str>,
    config: Option<&Config>,
    output: Output,
    out: &mut dyn Write,
) -> std::io::Result<u8> {
    let now = SystemTime::now();
    let read: Result<Read, String> = database
        .connections()
        .and_then(|(known, alerts)| Ok((known, alerts, silences_of(database, now)?, database.outages()?)));
    let (known, rows, silences, outages) = match read {
        Ok(read) => read,
        Err(err) => {
            writeln!(out, "cannot read the database {database}: {err}")?;
            return Ok(EXIT_FAILED);
        }
    };
    // What quiets an alert is matched now, as the status page does; the
    // windows are in rules.yaml, read unless `--db` alone was given.
    let windows = config.map(|c| c.maintenance.as_slice());
    // Every active alert is read: an `inhibit KEY` is judged against them all.
    let firing = (rows.iter())
        .filter(|(_, s)| s.phase == Phase::Firing)
        .map(|(key, _)| key.to_string());
    let quiet = Quiet::new(&silences, windows, now).with_firing(firing, true);
    let known: HashMap<&str, &KnownConnection> = known.iter().map(|c| (c.id.as_str(), c)).collect();
    let shown: Vec<&(AlertKey, AlertState)> = rows
        .iter()
        .filter(|(_, s)| state.is_none_or(|wanted| s.phase.as_str() == wanted))
        .collect();
    let firing = shown.iter().filter(|(_, s)| s.phase == Phase::Firing).count();
    if output == Output::Json {
        let rows: Vec<serde_json::Value> = (shown.iter())
            .map(|(key, alert)| {
                let connection = known.get(key.connection.as_str()).copied();
                let rule = rule_of(config, &key.rule);
                json_row(
                    key,
                    alert,
                    rule,
                    connection,
                    &quiet.cover(&facts(key, alert, connection)),
                )
            })
            .collect();
        let outages: Vec<serde_json::Value> = outages.iter().map(|o| outage_json(o, config)).collect();
        let document = serde_json::json!({
            "firing": firing,
            "pending": shown.len() - firing,
            "outages": outages,
            "alerts": rows,
        });
        return print_json(out, &document);
    }
    // An outage is an alert of its own (its name the rule, the service
    // its subject), listed first: it stands for the alerts it holds.
    if !outages.is_empty() {
        writeln!(out, "OUTAGES ({} firing)", outages.len())?;
        for outage in &outages {
            writeln!(out, "{}", outage_line(outage, config))?;
        }
    }
    writeln!(out, "ALERTS ({} firing, {} pending)", firing, shown.len() - firing)?;
    for (key, alert) in shown {
        let connection = known.get(key.connection.as_str()).copied();
        let cover = quiet.cover(&facts(key, alert, connection));
        writeln!(
            out,
            "{}",
            line(key, alert, rule_of(config, &key.rule), connection, &cover)
        )?;
    }
    Ok(EXIT_OK)
}

/// The outage's severity, as rules.yaml says now.
fn outage_severity(outage: &OutageRow, config: Option<&Config>) -> Option<String> {
    let defined = config?.outages.iter().find(|o| o.name() == outage.name)?;
    Some(defined.rule.severity.to_string())
}

/// `firing   critical provider-outage  quickbooks  37 of 120 connections failing  since ...`
fn outage_line(outage: &OutageRow, config: Option<&Config>) -> String {
    // Its connections went quiet: nothing to count until it resolves.
    let counts = match outage.synced {
        0 => "no connections synced in its window".to_owned(),
        synced => format!("{} of {synced} connections failing", outage.failing),
    };
    format!(
        "firing   {:<8} {}  {}  {counts}  since {}",
        outage_severity(outage, config).unwrap_or_else(|| "-".into()),
        outage.name,
        outage.group,
        outage.since
    )
}

fn outage_json(outage: &OutageRow, config: Option<&Config>) -> serde_json::Value {
    serde_json::json!({
        "state": "firing",
        "outage": outage.name,
        "group": outage.group,
        "failing": outage.failing,
        "synced": outage.synced,
        "since": outage.since,
        "severity": outage_severity(outage, config),
    })
}

/// The silences not yet over, read without taking locks.
fn silences_of(database: &Database, now: SystemTime) -> Result<Vec<Silence>, String> {
    match database {
        Database::Sqlite(path) => open_read_only(path)
            .and_then(|conn| silences::current(&conn, now))
            .map_err(|err| err.to_string()),
        Database::Postgres(_) => database.silences(now),
    }
}

fn facts<'a>(key: &'a AlertKey, alert: &'a AlertState, connection: Option<&'a KnownConnection>) -> AlertFacts<'a> {
    AlertFacts {
        rule: &key.rule,
        connection: &key.connection,
        data_type: key.data_type.as_deref(),
        business: connection.and_then(|c| c.business.as_deref()),
        service: connection.and_then(|c| c.service.as_deref()),
        environment: connection.map(|c| c.environment.as_str()),
        last_event: connection.and_then(|c| c.last_event_name.as_deref()),
        muted_by: alert.muted_by.as_deref(),
    }
}

/// The alert's rule as rules.yaml says now; `None` without the file, or
/// for a rule since removed.
fn rule_of<'c>(config: Option<&'c Config>, name: &str) -> Option<&'c Rule> {
    config?.rules.iter().find(|rule| rule.name == name)
}

/// Failing syncs, for an alert about syncs; `None` for one about a state
/// (a lost connection, no sync for a while), which counts checks.
fn failing_syncs(alert: &AlertState, rule: Option<&Rule>) -> Option<u64> {
    match rule {
        Some(rule) if rule.watches_a_state() => None,
        _ => Some(alert.matches),
    }
}

/// One alert in `-o json`.
fn json_row(
    key: &AlertKey,
    alert: &AlertState,
    rule: Option<&Rule>,
    connection: Option<&KnownConnection>,
    cover: &Cover,
) -> serde_json::Value {
    let muted_by = match cover {
        Cover::By(by) | Cover::Unchecked(by) => Some(by.clone()),
        Cover::Not { .. } => None,
    };
    serde_json::json!({
        "state": alert.phase.as_str(),
        "rule": key.rule,
        "connection": key.connection,
        "data_type": key.data_type,
        "since": json_time(alert.firing_since.unwrap_or(alert.since)),
        "failing_syncs": failing_syncs(alert, rule),
        "severity": rule.map(|r| r.severity.to_string()),
        "business": connection.and_then(|c| c.business.clone()),
        "service": connection.and_then(|c| c.service.clone()),
        "last_notified": alert.last_notified.map(json_time),
        "notified": alert.notified,
        "muted_by": muted_by,
    })
}

/// `firing   critical  rule  CON-1 (bills)  Acme · xero  since 2026-11-27T10:00:00Z  3 failing syncs  last notified ...`
fn line(
    key: &AlertKey,
    alert: &AlertState,
    rule: Option<&Rule>,
    connection: Option<&KnownConnection>,
    cover: &Cover,
) -> String {
    let mut subject = key.connection.clone();
    if let Some(data_type) = &key.data_type {
        subject.push_str(&format!(" ({data_type})"));
    }
    let who: Vec<&str> = connection
        .into_iter()
        .flat_map(|c| [c.business.as_deref(), c.service.as_deref()])
        .flatten()
        .collect();
    if !who.is_empty() {
        subject.push_str(&format!("  {}", who.join(" · ")));
    }
    let severity = rule.map_or_else(|| "-".to_owned(), |r| r.severity.to_string());
    let since = alert.firing_since.unwrap_or(alert.since);
    let notified = alert.last_notified.map_or_else(|| "never".to_owned(), time);
    let failing = match failing_syncs(alert, rule) {
        Some(1) => "  1 failing sync".to_owned(),
        Some(n) => format!("  {n} failing syncs"),
        None => String::new(),
    };
    let mut text = format!(
        "{:<8} {:<8} {}  {}  since {}{failing}  last notified {}",
        alert.phase.as_str(),
        severity,
        key.rule,
        subject,
        time(since),
        notified
    );
    match cover {
        Cover::By(by) | Cover::Unchecked(by) if by.starts_with(HELD_BY) => text.push_str(&format!("  {by}")),
        Cover::By(by) => text.push_str(&format!("  muted by {by}")),
        Cover::Unchecked(by) => text.push_str(&format!(
            "  muted by {by} at its last match (this command does not read the windows: see /ui)"
        )),
        Cover::Not { .. } => {}
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_whose_connections_went_quiet_is_not_0_of_0() {
        let mut outage = OutageRow {
            name: "provider-outage".into(),
            group: "xero".into(),
            failing: 12,
            synced: 40,
            since: "2026-11-30T09:12:00Z".into(),
            holds: true,
        };
        assert_eq!(
            outage_line(&outage, None),
            "firing   -        provider-outage  xero  12 of 40 connections failing  since 2026-11-30T09:12:00Z"
        );
        (outage.failing, outage.synced) = (0, 0);
        assert!(outage_line(&outage, None).contains("xero  no connections synced in its window  since"));
    }
}
