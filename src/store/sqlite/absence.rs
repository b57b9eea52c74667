//! Absence checks inside the writer's transaction: each due (rule,
//! connection) is checked against the stored connection, not the
//! scheduler's copy, so a sync committed meanwhile always wins.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, params};

use crate::absence::{Check, Downtime, watches};
use crate::config::Config;
use crate::lifecycle::{AlertStates, Phase, Sweep, apply_absence, firing_besides};
use crate::quiet::Silence;

use super::alerts::{self, SqlStates};
use super::connections;
use super::millis;
use super::outages::SqlOutages;
use super::write::queue_notification;

/// A firing absence alert is checked again after its repeat_interval, but
/// not more often than this (`repeat_interval: 0s` would mean every tick).
const MIN_RECHECK: Duration = Duration::from_secs(60);

/// What became of one check: when to check it again, if ever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub check: Check,
    pub next: Option<SystemTime>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AbsenceOutcome {
    pub checked: Vec<Checked>,
    /// Channels that got new deliveries, to wake their lanes.
    pub channels: Vec<String>,
    /// The alert transitions made, described for the log.
    pub transitions: Vec<String>,
}

pub fn check(
    tx: &Connection,
    config: &Config,
    checks: &[Check],
    now: SystemTime,
    floor: Option<Downtime>,
    silences: &Arc<Vec<Silence>>,
) -> rusqlite::Result<AbsenceOutcome> {
    let mut outcome = AbsenceOutcome::default();
    for check in checks {
        let next = check_one(tx, config, check, (now, floor), silences, &mut outcome)?;
        outcome.checked.push(Checked {
            check: check.clone(),
            next,
        });
    }
    Ok(outcome)
}

fn check_one(
    tx: &Connection,
    config: &Config,
    (rule, id): &Check,
    (now, floor): (SystemTime, Option<Downtime>),
    silences: &Arc<Vec<Silence>>,
    outcome: &mut AbsenceOutcome,
) -> rusqlite::Result<Option<SystemTime>> {
    let Some((rule, silence)) = config.rules.get(*rule).and_then(|r| Some((r, r.absence?))) else {
        return Ok(None);
    };
    let Some(known) = connections::get(tx, id)? else {
        return Ok(None);
    };
    let Some(start) = known.clock_start(silence, floor) else {
        return Ok(None);
    };
    if !watches(rule, &known.as_event(), known.environment) {
        return Ok(None);
    }
    let deadline = start + silence;
    if deadline > now {
        return Ok(Some(deadline));
    }
    // The message says how long it has really been silent, even when its
    // clock started later (it came back, or syncwatch was down).
    let silent_since = known.last_sync.unwrap_or(known.first_seen);
    let states = &mut SqlStates::new(tx);
    let (applied, state) = apply_absence(states, config, rule, &known, silent_since, now, silences.clone())?;
    let transitions: Vec<String> = applied.transitions.iter().map(|t| t.describe()).collect();
    // Every move is recorded, a muted one too: `history` and `explain`
    // show it with what muted it.
    if !applied.transitions.is_empty() {
        let what = ("absence", rule.name.as_str(), known.id.as_str());
        let event_id = record_event(tx, what, known.environment.as_str(), now, &transitions)?;
        for notification in &applied.notifications {
            queue_notification(tx, event_id, None, now, notification, &mut outcome.channels)?;
        }
    }
    outcome.transitions.extend(transitions);
    Ok(match state.map(|s| s.phase) {
        Some(Phase::Firing) => Some(now + rule.repeat_interval.max(MIN_RECHECK)),
        Some(Phase::Pending) => Some(now + silence),
        _ => Some(deadline.max(now + MIN_RECHECK)),
    })
}

/// An absence check (`absence`) or a closing (`closed`) that notified is
/// recorded as an event of its own, so `history` and `explain
/// absence:...` show it like any other.
fn record_event(
    tx: &Connection,
    (kind, rule, connection): (&str, &str, &str),
    environment: &str,
    now: SystemTime,
    transitions: &[String],
) -> rusqlite::Result<i64> {
    let dedup_key = format!("{kind}:{rule}:{connection}:{}", millis(now));
    let body = serde_json::json!({ kind: rule, "connectionId": connection }).to_string();
    tx.prepare_cached(
        "INSERT INTO events (dedup_key, request_id, received_at, event, connection, environment, body, fired, suppressed, transitions)
         VALUES (?1, NULL, ?2, ?8, ?3, ?4, ?5, ?6, '[]', ?7)",
    )?
    .execute(params![
        dedup_key,
        millis(now),
        connection,
        environment,
        body.as_bytes(),
        serde_json::json!([rule]).to_string(),
        serde_json::to_string(transitions).unwrap_or_else(|_| "[]".into()),
        kind,
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Runs `sweep` over the pending and firing alerts (see [`Sweep`]):
/// each alert it moves is written, and what it queues is recorded as an
/// event of its own (`closed`, `reminder`).
pub fn sweep(tx: &Connection, config: &Config, sweep: &Sweep, now: SystemTime) -> rusqlite::Result<AbsenceOutcome> {
    let mut outcome = AbsenceOutcome::default();
    for (key, state) in alerts::active_of(tx, sweep.only())? {
        if !sweep.may_visit(config, (&key, &state), now) {
            continue;
        }
        let known = connections::get(tx, &key.connection)?;
        let firing = match sweep.needs_firing() {
            true => firing_besides(&key, alerts::active_of(tx, Some(&key.connection))?),
            false => Vec::new(),
        };
        let Some(swept) = sweep.visit(config, (&key, &state), (known.as_ref(), &firing), now) else {
            continue;
        };
        SqlStates::new(tx).put(&key, &swept.state)?;
        let note = swept.note.as_deref().map_or(String::new(), |n| format!(" ({n})"));
        let transitions: Vec<String> = (swept.applied.transitions.iter())
            .map(|t| format!("{}{note}", t.describe()))
            .collect();
        if !swept.applied.transitions.is_empty() {
            let environment = known.as_ref().map_or("production", |k| k.environment.as_str());
            let what = (swept.kind, key.rule.as_str(), key.connection.as_str());
            let event_id = record_event(tx, what, environment, now, &transitions)?;
            for notification in &swept.applied.notifications {
                queue_notification(tx, event_id, None, now, notification, &mut outcome.channels)?;
            }
        }
        outcome.transitions.extend(transitions);
    }
    if let Sweep::Remind(mutes) = sweep {
        for (name, group, moved) in crate::outage::moves::tick(&mut SqlOutages::new(tx), config, mutes, now)? {
            // One event per outage and group: its own dedup key.
            let event_id = record_event(tx, ("outage", &name, &group), "production", now, &moved.described)?;
            for notification in &moved.notifications {
                queue_notification(tx, event_id, None, now, notification, &mut outcome.channels)?;
            }
            outcome.transitions.extend(moved.described);
        }
    }
    Ok(outcome)
}
