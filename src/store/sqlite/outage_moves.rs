//! What an outage's moves do to the alerts of its service, in SQLite,
//! inside the transaction that moved it: on FIRING the queued FIRINGs of
//! the service are held; on RESOLVED the held alerts still firing are
//! told. The outage is moved by each event (`on_event`) and by the
//! reminder timer (`tick`).

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, params};

use crate::alerts::AlertKey;
use crate::config::Config;
use crate::lifecycle::{AlertInput, AlertStates, Applied, Effect, HELD_BY, Notification, Phase, release};
use crate::outage::{Outage, Told, describe, evaluate, notification, observe};
use crate::quiet::Mutes;

use super::alerts::SqlStates;
use super::connections;
use super::outages::{SqlOutages, record_hour};
use super::{from_millis, millis};

/// What the outages did with one event: messages to queue, and each move
/// described for `explain`.
#[derive(Debug, Default)]
pub struct Moved {
    pub notifications: Vec<Notification>,
    pub described: Vec<String>,
}

/// Runs `input`'s event through the outages, inside the ingest
/// transaction: before the alerts, so that the event that makes an outage
/// fire is held with the others.
pub fn on_event(tx: &Connection, input: &AlertInput) -> rusqlite::Result<Moved> {
    let mut moved = Moved::default();
    record_hour(tx, &input.event, input.received_at)?;
    let config = &input.config;
    if config.outages.is_empty() || input.stale {
        return Ok(moved);
    }
    let now = input.received_at;
    let (told, described) = observe(
        &mut SqlOutages(tx),
        &config.outages,
        (&input.event, input.environment),
        now,
    )?;
    moved.described = described;
    let mutes = Mutes {
        silences: input.silences.clone(),
        windows: config.maintenance.clone(),
        inhibit: config.inhibit.clone(),
    };
    for told in told {
        settle_told(tx, config, &told, &mutes, now, &mut moved)?;
    }
    Ok(moved)
}

/// Holds (on FIRING) or releases (on RESOLVED) the group's alerts, and
/// queues the outage's own message.
fn settle_told(
    tx: &Connection,
    config: &Config,
    told: &Told,
    mutes: &Mutes,
    now: SystemTime,
    moved: &mut Moved,
) -> rusqlite::Result<()> {
    let outage = &config.outages[told.outage];
    match told.effect {
        Effect::Firing => hold(tx, outage, &told.group, now)?,
        Effect::Resolved => moved.extend(release_held(tx, config, (outage.name(), &told.group), mutes, now)?),
        Effect::StillFailing => {}
    }
    match notification(config, outage, told, mutes, now) {
        Ok(notification) => moved.notifications.push(notification),
        Err(by) => (moved.described).push(format!("outage {}/{}: muted by {by}", outage.name(), told.group)),
    }
    Ok(())
}

const FIRING: &str = "SELECT outage, grp FROM outage_states WHERE firing = 1 ORDER BY outage, grp";
const END: &str = "UPDATE outage_states SET firing = 0, clear_since = NULL WHERE outage = ?1 AND grp = ?2";

/// Ends a firing outage that the rules no longer define, releasing what it held.
fn end_removed(
    tx: &Connection,
    config: &Config,
    (name, group): (&str, &str),
    mutes: &Mutes,
    now: SystemTime,
) -> rusqlite::Result<Applied> {
    tx.prepare_cached(END)?.execute(params![name, group])?;
    release_held(tx, config, (name, group), mutes, now)
}

/// Re-evaluates every firing outage at `now`, on the reminder timer: an
/// outage whose connections stopped syncing altogether still repeats and
/// resolves (and releases what it held), with no event to move it. Each
/// move comes with its outage's name and group (what it is recorded as).
pub fn tick(
    tx: &Connection,
    config: &Config,
    mutes: &Mutes,
    now: SystemTime,
) -> rusqlite::Result<Vec<(String, String, Moved)>> {
    let firing: Vec<(String, String)> = (tx.prepare_cached(FIRING)?)
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut all = Vec::new();
    for (name, group) in firing {
        // An outage removed by a reload ends without a word of its own,
        // but what it held is told: nothing else would ever tell it.
        let Some(index) = config.outages.iter().position(|o| o.name() == name) else {
            let mut moved = Moved::default();
            moved.described.push(format!(
                "outage {name}/{group}: removed from the rules, what it held is told"
            ));
            moved.extend(end_removed(tx, config, (&name, &group), mutes, now)?);
            all.push((name, group, moved));
            continue;
        };
        let Some(told) = evaluate(&mut SqlOutages(tx), (index, &config.outages[index]), &group, now)? else {
            continue;
        };
        let mut moved = Moved::default();
        moved.described.push(describe(&config.outages[index], &told));
        settle_told(tx, config, &told, mutes, now, &mut moved)?;
        all.push((name, group, moved));
    }
    Ok(all)
}

impl Moved {
    fn extend(&mut self, applied: Applied) {
        self.described.extend(applied.described());
        self.notifications.extend(applied.notifications);
    }
}

const HOLD: &str = "UPDATE deliveries SET status = 'held', settled_at = ?1, last_error = ?2
     WHERE status = 'pending' AND is_digest = 0 AND effect = 'firing' AND rule <> ?3
       AND alert_connection IN (SELECT connection FROM outage_members WHERE outage = ?3 AND grp = ?4)
     RETURNING rule, alert_connection, alert_data_type, channel";

/// The FIRING messages of the group's alerts still waiting in the queue
/// (for their turn, or for a digest) are held when the outage fires: its
/// one message says it for all of them. Their alerts are marked held, so
/// that the outage's end tells those still failing.
fn hold(tx: &Connection, outage: &Outage, group: &str, now: SystemTime) -> rusqlite::Result<()> {
    let held_by = format!("{HELD_BY}{}", outage.name());
    let note = format!("not sent: {held_by}");
    let rows: Vec<(AlertKey, String)> = (tx.prepare_cached(HOLD)?)
        .query_map(params![millis(now), note, outage.name(), group], |row| {
            let data_type: String = row.get(2)?;
            let key = AlertKey {
                rule: row.get(0)?,
                connection: row.get(1)?,
                data_type: (!data_type.is_empty()).then_some(data_type),
            };
            Ok((key, row.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut states = SqlStates::new(tx);
    for (key, channel) in rows {
        let Some(mut state) = states.get(&key)?.filter(|s| s.phase == Phase::Firing) else {
            continue;
        };
        state.notified.retain(|c| *c != channel);
        if state.notified.is_empty() {
            state.last_notified = None;
            state.muted_by = Some(held_by.clone());
        }
        states.put(&key, &state)?;
    }
    Ok(())
}

const HELD: &str = "SELECT a.rule, a.connection, a.data_type FROM alerts a JOIN connections c ON c.id = a.connection
     WHERE a.state = 'firing' AND a.muted_by = ?1 AND c.service = ?2 ORDER BY a.connection, a.rule";

/// The outage resolved: the alerts it held that still fire are told.
fn release_held(
    tx: &Connection,
    config: &Config,
    (outage, group): (&str, &str),
    mutes: &Mutes,
    now: SystemTime,
) -> rusqlite::Result<Applied> {
    let held_by = format!("{HELD_BY}{outage}");
    let keys: Vec<AlertKey> = (tx.prepare_cached(HELD)?)
        .query_map(params![held_by, group], |row| {
            let data_type: String = row.get(2)?;
            Ok(AlertKey {
                rule: row.get(0)?,
                connection: row.get(1)?,
                data_type: (!data_type.is_empty()).then_some(data_type),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut states = SqlStates::new(tx);
    let mut applied = Applied::default();
    for key in keys {
        let (Some(state), Some(known)) = (states.get(&key)?, connections::get(tx, &key.connection)?) else {
            continue;
        };
        let Some((next, released)) = release(config, (&key, &state), (&known, outage), mutes, now) else {
            continue;
        };
        states.put(&key, &next)?;
        applied.notifications.extend(released.notifications);
        applied.transitions.extend(released.transitions);
    }
    Ok(applied)
}

const WAS_HELD: &str = "SELECT rule, alert_connection, alert_data_type, channel, created_at FROM deliveries
     WHERE id = ?1 AND status = 'held'";

/// A FIRING held while its lane was already sending it, and delivered all
/// the same: its alert was told after all, so it keeps its normal life
/// (its RESOLVED goes out), and the outage's end does not tell it again.
pub fn delivered_anyway(tx: &Connection, id: u64) -> rusqlite::Result<()> {
    let row = (tx.prepare_cached(WAS_HELD)?)
        .query_row([id as i64], |row| {
            let data_type: String = row.get(2)?;
            let key = AlertKey {
                rule: row.get(0)?,
                connection: row.get(1)?,
                data_type: (!data_type.is_empty()).then_some(data_type),
            };
            Ok((key, row.get::<_, String>(3)?, row.get::<_, i64>(4)?))
        })
        .optional()?;
    let Some((key, channel, created_at)) = row else {
        return Ok(());
    };
    let mut states = SqlStates::new(tx);
    let Some(mut state) = states.get(&key)?.filter(|s| s.phase == Phase::Firing) else {
        return Ok(());
    };
    if !state.notified.contains(&channel) {
        state.notified.push(channel);
    }
    state.last_notified = state.last_notified.or(Some(from_millis(created_at)));
    state.muted_by = None;
    states.put(&key, &state)
}
