//! The status page's reads: a page of active alerts with their
//! connection's business and service, and their counts; a page of known
//! connections with their 14-day strip; recent notifications. Counts are
//! SQL, and only a page of rows reaches Rust, so 10,000 connections or
//! alerts cost a page, not a scan in Rust (but for the silenced count
//! while a silence or window is in force: see `ReadContext`).

use std::collections::HashMap;
use std::time::SystemTime;

use rusqlite::{Connection, params};

use crate::status::{
    AlertPage, AlertRow, ConnectionPage, ConnectionRow, ConnectionState, Day, Filter, NotificationRow, Paging,
};

use super::{from_millis, millis};

pub(crate) fn time(at: i64) -> String {
    humantime::format_rfc3339_seconds(from_millis(at)).to_string()
}

/// `%text%` for LIKE, or NULL (no filter).
pub(crate) fn like(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .map(|v| format!("%{}%", v.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")))
}

/// The active alerts the filter keeps, as SQL: `a` is the alert, `c` its
/// connection; `?1`-`?5` are business, connection, service, rule and any.
const ALERTS_WHERE: &str = "a.state IN ('pending', 'firing')
    AND (?1 IS NULL OR c.business LIKE ?1 ESCAPE '\\') AND (?2 IS NULL OR a.connection LIKE ?2 ESCAPE '\\')
    AND (?3 IS NULL OR c.service LIKE ?3 ESCAPE '\\') AND (?4 IS NULL OR a.rule LIKE ?4 ESCAPE '\\')
    AND (?5 IS NULL OR c.business LIKE ?5 ESCAPE '\\' OR a.connection LIKE ?5 ESCAPE '\\'
         OR c.service LIKE ?5 ESCAPE '\\' OR a.rule LIKE ?5 ESCAPE '\\')";

const ALERT_COLUMNS: &str = "a.rule, a.state, a.connection, a.data_type, c.business, c.service,
    COALESCE(a.firing_since, a.since), a.matches, a.last_notified, a.muted_by, c.environment, c.last_event_name";

/// One page of the pending and firing alerts the filter keeps, most severe
/// first (`filter.read` says which rules are), then the oldest; with their
/// counts, and every one of them when `filter.read.every_alert`. Severity
/// and what quiets them now are the caller's.
pub fn alerts(conn: &Connection, filter: &Filter) -> rusqlite::Result<AlertPage> {
    let (page, per_page) = filter.alerts_paging();
    let filters = [
        like(&filter.business),
        like(&filter.connection),
        like(&filter.service),
        like(&filter.rule),
        like(&filter.q),
    ];
    let (firing, pending): (i64, i64) = conn
        .prepare_cached(&format!(
            "SELECT count(CASE WHEN a.state = 'firing' THEN 1 END), count(CASE WHEN a.state = 'pending' THEN 1 END)
             FROM alerts a LEFT JOIN connections c ON c.id = a.connection WHERE {ALERTS_WHERE}"
        ))?
        .query_row(rusqlite::params_from_iter(&filters), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    let [critical, warning, info] = filter.read.by_severity.each_ref().map(|rules| json(rules));
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts a LEFT JOIN connections c ON c.id = a.connection
             WHERE {ALERTS_WHERE}
             ORDER BY CASE WHEN a.rule IN (SELECT value FROM json_each(?6)) THEN 0
                           WHEN a.rule IN (SELECT value FROM json_each(?7)) THEN 1
                           WHEN a.rule IN (SELECT value FROM json_each(?8)) THEN 2 ELSE 3 END,
                      COALESCE(a.firing_since, a.since), a.rule, a.connection, a.data_type
             LIMIT ?9 OFFSET ?10"
        ))?
        .query_map(
            params![
                filters[0],
                filters[1],
                filters[2],
                filters[3],
                filters[4],
                critical,
                warning,
                info,
                per_page as i64,
                ((page - 1) * per_page) as i64
            ],
            alert_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    let every = match filter.read.every_alert {
        true => conn
            .prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts a LEFT JOIN connections c ON c.id = a.connection WHERE {ALERTS_WHERE}"
            ))?
            .query_map(rusqlite::params_from_iter(&filters), alert_row)?
            .collect::<rusqlite::Result<_>>()?,
        false => Vec::new(),
    };
    Ok(AlertPage {
        rows,
        paging: Paging {
            total: (firing + pending) as u64,
            page,
            per_page,
        },
        firing: firing as u64,
        pending: pending as u64,
        every,
    })
}

fn json(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_default()
}

fn alert_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AlertRow> {
    let data_type: String = row.get(3)?;
    Ok(AlertRow {
        rule: row.get(0)?,
        state: row.get(1)?,
        connection: row.get(2)?,
        data_type: (!data_type.is_empty()).then_some(data_type),
        business: row.get(4)?,
        service: row.get(5)?,
        since: time(row.get(6)?),
        failing_syncs: row.get::<_, i64>(7)? as u64,
        last_notified: row.get::<_, Option<i64>>(8)?.map(time),
        muted_by: row.get(9)?,
        environment: row.get(10)?,
        last_event: row.get(11)?,
        ..AlertRow::default()
    })
}

/// One page of known connections, filtered, with firing alerts and the
/// last 14 days. `absence_rules` make a connection `quiet`.
pub fn connections(
    conn: &Connection,
    filter: &Filter,
    absence_rules: &[String],
    now: SystemTime,
) -> rusqlite::Result<ConnectionPage> {
    let per_page = filter.per_page.unwrap_or(50).clamp(1, 500);
    let page = filter.page.unwrap_or(1).max(1);
    let filters = params![
        like(&filter.business),
        like(&filter.connection),
        like(&filter.service),
        like(&filter.q)
    ];
    const WHERE: &str = "(?1 IS NULL OR business LIKE ?1 ESCAPE '\\') AND (?2 IS NULL OR id LIKE ?2 ESCAPE '\\')
        AND (?3 IS NULL OR service LIKE ?3 ESCAPE '\\')
        AND (?4 IS NULL OR business LIKE ?4 ESCAPE '\\' OR id LIKE ?4 ESCAPE '\\' OR service LIKE ?4 ESCAPE '\\')";
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM connections WHERE {WHERE}"))?
        .query_row(filters, |row| row.get(0))?;
    let sql = format!(
        "SELECT id, business, service, environment, status, last_event, last_sync FROM connections WHERE {WHERE}
         ORDER BY id LIMIT ?5 OFFSET ?6"
    );
    let mut query = conn.prepare_cached(&sql)?;
    let mut rows: Vec<ConnectionRow> = query
        .query_map(
            params![
                like(&filter.business),
                like(&filter.connection),
                like(&filter.service),
                like(&filter.q),
                per_page as i64,
                ((page - 1) * per_page) as i64
            ],
            |row| {
                Ok(ConnectionRow {
                    id: row.get(0)?,
                    business: row.get(1)?,
                    service: row.get(2)?,
                    environment: row.get(3)?,
                    state: String::new(),
                    status: row.get(4)?,
                    last_event: time(row.get(5)?),
                    last_sync: row.get::<_, Option<i64>>(6)?.map(time),
                    firing: Vec::new(),
                    days: Vec::new(),
                })
            },
        )?
        .collect::<rusqlite::Result<_>>()?;
    fill(conn, &mut rows, absence_rules, now)?;
    Ok(ConnectionPage {
        total: total as u64,
        page,
        per_page,
        rows,
    })
}

/// Adds each row's firing alerts, state and 14-day strip.
fn fill(
    conn: &Connection,
    rows: &mut [ConnectionRow],
    absence_rules: &[String],
    now: SystemTime,
) -> rusqlite::Result<()> {
    let today = millis(now) / 86_400_000;
    let ids = serde_json::to_string(&rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>()).unwrap_or_default();
    let mut firing: HashMap<String, Vec<String>> = HashMap::new();
    let mut query = conn.prepare_cached(
        "SELECT connection, rule FROM alerts WHERE state = 'firing' AND connection IN (SELECT value FROM json_each(?1))",
    )?;
    for row in query.query_map([&ids], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))? {
        let (connection, rule) = row?;
        firing.entry(connection).or_default().push(rule);
    }
    let mut days: HashMap<(String, i64), &'static str> = HashMap::new();
    let mut query = conn.prepare_cached(
        "SELECT connection, day, clean, failed, empty FROM connection_days
         WHERE connection IN (SELECT value FROM json_each(?1)) AND day > ?2",
    )?;
    let found = query.query_map(params![ids, today - 14], |row| {
        let outcome = outcome_of(row.get(2)?, row.get(3)?, row.get(4)?);
        Ok(((row.get::<_, String>(0)?, row.get::<_, i64>(1)?), outcome))
    })?;
    for entry in found {
        let (key, outcome) = entry?;
        days.insert(key, outcome);
    }
    complete(rows, firing, &days, absence_rules, today);
    Ok(())
}

/// Fills each row's firing rules, state and 14-day strip from what the
/// store read (both stores).
pub(crate) fn complete(
    rows: &mut [ConnectionRow],
    mut firing: HashMap<String, Vec<String>>,
    days: &HashMap<(String, i64), &'static str>,
    absence_rules: &[String],
    today: i64,
) {
    for row in rows.iter_mut() {
        row.firing = firing.remove(&row.id).unwrap_or_default();
        let firing = row.firing.iter().map(String::as_str);
        row.state = ConnectionState::of(row.status.as_deref(), firing, absence_rules)
            .as_str()
            .to_owned();
        row.days = (today - 13..=today)
            .map(|day| Day {
                date: date_of(day),
                outcome: days.get(&(row.id.clone(), day)).copied().unwrap_or("none"),
            })
            .collect();
    }
}

/// A day's strip cell: failed if any sync failed, else empty if any came
/// back empty, else clean.
pub(crate) fn outcome_of(clean: i64, failed: i64, empty: i64) -> &'static str {
    match (failed, empty, clean) {
        (f, _, _) if f > 0 => "failed",
        (_, e, _) if e > 0 => "empty",
        _ => "clean",
    }
}

/// `YYYY-MM-DD` of a day number (days since the Unix epoch, UTC).
fn date_of(day: i64) -> String {
    let text = humantime::format_rfc3339_seconds(from_millis(day * 86_400_000)).to_string();
    text[..10].to_owned()
}

pub fn known_count(conn: &Connection) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT count(*) FROM connections")?
        .query_row([], |row| row.get::<_, i64>(0))
        .map(|n| n as u64)
}

/// Connections in the `quiet` state ([`ConnectionState`], as SQL): an
/// absence alert fires, no other does, and the last status is `active`.
pub fn quiet_count(conn: &Connection, absence_rules: &[String]) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "SELECT count(*) FROM (
             SELECT a.connection FROM alerts a JOIN connections c ON c.id = a.connection
             WHERE a.state = 'firing' AND (c.status IS NULL OR c.status = 'active')
             GROUP BY a.connection
             HAVING min(a.rule IN (SELECT value FROM json_each(?1))) = 1)",
    )?
    .query_row([json(absence_rules)], |row| row.get::<_, i64>(0))
    .map(|n| n as usize)
}

/// The most recent notifications with their delivery state.
pub fn recent_notifications(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<NotificationRow>> {
    let mut query = conn.prepare_cached(
        "SELECT d.created_at, d.rule, d.channel, e.connection, d.status, d.attempts, d.last_error, d.effect, d.is_digest
         FROM deliveries d JOIN events e ON e.id = d.event_id ORDER BY d.id DESC LIMIT ?1",
    )?;
    let rows = query.query_map([limit as i64], |row| {
        Ok(NotificationRow {
            at: time(row.get(0)?),
            kind: crate::lifecycle::Effect::kind_of(row.get::<_, Option<String>>(7)?.as_deref(), row.get(8)?),
            rule: row.get(1)?,
            channel: row.get(2)?,
            connection: row.get(3)?,
            status: row.get(4)?,
            attempts: row.get(5)?,
            last_error: row.get(6)?,
        })
    })?;
    rows.collect()
}

/// The outages firing now, for the page's banners.
pub fn firing_outages(conn: &Connection) -> rusqlite::Result<Vec<crate::status::OutageRow>> {
    let mut statement = conn.prepare_cached(
        "SELECT outage, grp, failing, synced, since FROM outage_states WHERE firing = 1 ORDER BY since, outage, grp",
    )?;
    let rows = statement.query_map([], |row| {
        Ok(crate::status::OutageRow {
            name: row.get(0)?,
            group: row.get(1)?,
            failing: row.get::<_, i64>(2)? as u64,
            synced: row.get::<_, i64>(3)? as u64,
            since: humantime::format_rfc3339_seconds(super::from_millis(row.get(4)?)).to_string(),
            holds: false,
        })
    })?;
    rows.collect()
}

/// Per service, syncs and failed syncs per hour over the 24 hours up to
/// `now`, from the hourly counters (never the events).
pub fn failure_chart(conn: &Connection, now: SystemTime) -> rusqlite::Result<Vec<crate::status::ServiceChart>> {
    let last = super::millis(now) / 3_600_000;
    let first = last - 23;
    let mut statement = conn.prepare_cached(
        "SELECT service, hour, syncs, failed FROM service_hours WHERE hour >= ?1 ORDER BY service, hour",
    )?;
    let rows: Vec<(String, i64, i64, i64)> = statement
        .query_map([first], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(crate::status::chart_of(rows, first))
}
