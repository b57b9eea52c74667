//! What an outage's moves do to the alerts of its group on PostgreSQL, as
//! `store::sqlite::outage_moves` does on SQLite: on FIRING the queued
//! FIRINGs of the group are held; on RESOLVED the held alerts still firing
//! are told. They run in memory, over what the transaction read under its
//! locks (see [`Moving`]); what a move needs that was not read (the queue,
//! the held alerts, the failing connections a message lists) it asks for in
//! [`Fetched`], and the transaction reads it, under the locks of the
//! connections involved, and runs again from what it first read.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::SystemTime;

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::Error;

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::config::Config;
use crate::lifecycle::{AlertInput, AlertStates, Applied, Effect, HELD_BY, Notification, Phase, release};
use crate::outage::{Outage, Told, describe, evaluate, notification, observe};
use crate::quiet::Mutes;

use super::super::time::millis;
use super::locked::{LOCK, connection_lock};
use super::outages::{GroupKey, StagedOutages};
use super::record::Batch;
use super::rows::{self, ALERT_COLUMNS};
use super::staged::Staged;

/// What the outages did with one event (or one tick of one outage):
/// messages to queue, and each move described for `explain`.
#[derive(Debug, Default)]
pub struct Moved {
    pub notifications: Vec<Notification>,
    pub described: Vec<String>,
}

impl Moved {
    fn extend(&mut self, applied: Applied) {
        self.described.extend(applied.described());
        self.notifications.extend(applied.notifications);
    }
}

/// Rows read for a move, by outage and group; a group missing was not read.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// The FIRINGs of the group's connections waiting in the queue: id,
    /// alert and channel.
    queued: HashMap<GroupKey, Vec<(i64, AlertKey, String)>>,
    /// The alerts the group's outage holds, as stored.
    held: HashMap<GroupKey, Vec<AlertKey>>,
    wants_queued: BTreeSet<GroupKey>,
    wants_held: BTreeSet<GroupKey>,
    /// The connections whose events the transaction takes: their outage
    /// rows are the ones it recorded, not the stored ones.
    own: HashSet<String>,
}

impl Fetched {
    /// Whether a move asked for something not read.
    pub fn wants(&self, outages: &StagedOutages) -> bool {
        !(self.wants_queued.is_empty() && self.wants_held.is_empty() && outages.wants_failing().is_empty())
    }
}

/// What one transaction moves in memory.
pub struct Moving<'a> {
    pub states: &'a mut Staged,
    pub known: &'a HashMap<String, KnownConnection>,
    pub outages: &'a mut StagedOutages,
    pub fetched: &'a mut Fetched,
    pub batch: &'a mut Batch,
}

fn group_key(outage: &str, group: &str) -> GroupKey {
    (outage.to_owned(), group.to_owned())
}

/// Runs `input`'s event through the outages: before the alerts, so that
/// the event that makes an outage fire is held with the others.
pub fn on_event(moving: &mut Moving<'_>, input: &AlertInput) -> Moved {
    let mut moved = Moved::default();
    moving.batch.hour(&input.event, input.received_at);
    let config = &input.config;
    if config.outages.is_empty() || input.stale {
        return moved;
    }
    let now = input.received_at;
    let event = (&*input.event, input.environment);
    let Ok((told, described)) = observe(moving.outages, &config.outages, event, now);
    moved.described = described;
    let mutes = Mutes {
        silences: input.silences.clone(),
        windows: config.maintenance.clone(),
        inhibit: config.inhibit.clone(),
    };
    for told in told {
        settle_told(moving, config, &told, &mutes, now, &mut moved);
    }
    moved
}

/// Holds (on FIRING) or releases (on RESOLVED) the group's alerts, and
/// queues the outage's own message.
fn settle_told(
    moving: &mut Moving<'_>,
    config: &Config,
    told: &Told,
    mutes: &Mutes,
    now: SystemTime,
    moved: &mut Moved,
) {
    let outage = &config.outages[told.outage];
    match told.effect {
        Effect::Firing => hold(moving, outage, &told.group, now),
        Effect::Resolved => moved.extend(release_held(moving, config, (outage.name(), &told.group), mutes, now)),
        Effect::StillFailing => {}
    }
    match notification(config, outage, told, mutes, now) {
        Ok(notification) => moved.notifications.push(notification),
        Err(by) => (moved.described).push(format!("outage {}/{}: muted by {by}", outage.name(), told.group)),
    }
}

/// Re-evaluates the outages of `groups` (whose locks the transaction
/// holds) that still fire at `now`, on the reminder timer (see the SQLite
/// store's `tick`). Each move comes with its outage's name and group.
pub fn tick(
    moving: &mut Moving<'_>,
    (config, mutes): (&Config, &Mutes),
    groups: &[GroupKey],
    now: SystemTime,
) -> Vec<(String, String, Moved)> {
    let mut all = Vec::new();
    let firing = moving.outages.firing();
    for (name, group) in groups.iter().filter(|key| firing.contains(key)).cloned() {
        let mut moved = Moved::default();
        // An outage removed by a reload ends without a word of its own,
        // but what it held is told: nothing else would ever tell it.
        let Some(index) = config.outages.iter().position(|o| o.name() == name) else {
            moved.described.push(format!(
                "outage {name}/{group}: removed from the rules, what it held is told"
            ));
            moving.outages.end(&name, &group);
            moved.extend(release_held(moving, config, (&name, &group), mutes, now));
            all.push((name, group, moved));
            continue;
        };
        let Ok(Some(told)) = evaluate(moving.outages, (index, &config.outages[index]), &group, now) else {
            continue;
        };
        moved.described.push(describe(&config.outages[index], &told));
        settle_told(moving, config, &told, mutes, now, &mut moved);
        all.push((name, group, moved));
    }
    all
}

/// The FIRING messages of the group's alerts still waiting in the queue
/// (stored, or queued by this transaction) are held when the outage fires;
/// their alerts are marked held, so that the outage's end tells those
/// still failing.
fn hold(moving: &mut Moving<'_>, outage: &Outage, group: &str, now: SystemTime) {
    let key = group_key(outage.name(), group);
    let Some(queued) = moving.fetched.queued.get(&key) else {
        moving.fetched.wants_queued.insert(key);
        return;
    };
    let held_by = format!("{HELD_BY}{}", outage.name());
    let note = format!("not sent: {held_by}");
    let own = &moving.fetched.own;
    let is_member = |connection: &str| {
        // The transaction's own connections are members as it recorded
        // them; the others as stored.
        !own.contains(connection) || moving.outages.is_member((outage.name(), group), connection)
    };
    let mut rows = Vec::new();
    for (id, alert, channel) in queued.iter().filter(|(_, alert, _)| is_member(&alert.connection)) {
        moving.batch.hold_stored(*id, &note, now);
        rows.push((alert.clone(), channel.clone()));
    }
    let outages = &*moving.outages;
    rows.extend((moving.batch).hold_queued(outage.name(), &note, now, |c| {
        outages.is_member((outage.name(), group), c)
    }));
    for (key, channel) in rows {
        let Ok(Some(mut state)) = moving.states.get(&key) else {
            continue;
        };
        if state.phase != Phase::Firing {
            continue;
        }
        state.notified.retain(|c| *c != channel);
        if state.notified.is_empty() {
            state.last_notified = None;
            state.muted_by = Some(held_by.clone());
        }
        let Ok(()) = moving.states.put(&key, &state);
    }
}

/// The outage resolved (or was removed): the alerts it held that still
/// fire are told.
fn release_held(
    moving: &mut Moving<'_>,
    config: &Config,
    (outage, group): (&str, &str),
    mutes: &Mutes,
    now: SystemTime,
) -> Applied {
    let key = group_key(outage, group);
    let Some(stored) = moving.fetched.held.get(&key) else {
        moving.fetched.wants_held.insert(key);
        return Applied::default();
    };
    let held_by = format!("{HELD_BY}{outage}");
    let known = moving.known;
    // Those this transaction held are not stored yet; their states here
    // are the ones that count.
    let mut keys: Vec<AlertKey> = stored.clone();
    keys.extend(moving.states.keys_where(|key, state| {
        state.phase == Phase::Firing
            && state.muted_by.as_deref() == Some(held_by.as_str())
            && (known.get(&key.connection)).is_some_and(|k| k.service.as_deref() == Some(group))
    }));
    keys.sort_by(|a, b| (&a.connection, &a.rule, &a.data_type).cmp(&(&b.connection, &b.rule, &b.data_type)));
    keys.dedup();
    let mut applied = Applied::default();
    for key in keys {
        let (Ok(Some(state)), Some(connection)) = (moving.states.get(&key), known.get(&key.connection)) else {
            continue;
        };
        let Some((next, released)) = release(config, (&key, &state), (connection, outage), mutes, now) else {
            continue;
        };
        let Ok(()) = moving.states.put(&key, &next);
        applied.notifications.extend(released.notifications);
        applied.transitions.extend(released.transitions);
    }
    applied
}

const QUEUED: &str = "SELECT id, rule, alert_connection, alert_data_type, channel FROM deliveries
     WHERE status = 'pending' AND NOT is_digest AND effect = 'firing' AND rule <> $1
       AND (alert_connection = ANY($3)
            OR alert_connection IN (SELECT connection FROM outage_members WHERE outage = $1 AND grp = $2))
     ORDER BY id";
const HELD: &str = "SELECT a.rule, a.connection, a.data_type FROM alerts a JOIN connections c ON c.id = a.connection
     WHERE a.state = 'firing' AND a.muted_by = $1 AND c.service = $2 ORDER BY a.connection, a.rule";

fn alert_key(rule: String, connection: String, data_type: String) -> AlertKey {
    AlertKey {
        rule,
        connection,
        data_type: (!data_type.is_empty()).then_some(data_type),
    }
}

impl Fetched {
    /// Reads what the last run asked for, `own` being the connections the
    /// transaction holds. Returns the other connections those rows are
    /// about: the transaction must hold their locks and read their alerts,
    /// then call this again (the rows may have moved before the locks).
    pub async fn read(&mut self, client: &Client, own: &[String]) -> Result<Vec<String>, Error> {
        let queued = client.prepare_cached(QUEUED).await?;
        let held = client.prepare_cached(HELD).await?;
        let mut others = BTreeSet::new();
        self.own = own.iter().cloned().collect();
        for key in self
            .wants_queued
            .iter()
            .chain(self.queued.keys())
            .cloned()
            .collect::<BTreeSet<_>>()
        {
            let rows = client.query(&queued, &[&key.0, &key.1, &own]).await?;
            let rows: Vec<(i64, AlertKey, String)> = (rows.iter())
                .map(|row| (row.get(0), alert_key(row.get(1), row.get(2), row.get(3)), row.get(4)))
                .collect();
            others.extend(rows.iter().map(|(_, key, _)| key.connection.clone()));
            self.queued.insert(key, rows);
        }
        for key in self
            .wants_held
            .iter()
            .chain(self.held.keys())
            .cloned()
            .collect::<BTreeSet<_>>()
        {
            let rows = client.query(&held, &[&format!("{HELD_BY}{}", key.0), &key.1]).await?;
            let rows: Vec<AlertKey> = (rows.iter())
                .map(|row| alert_key(row.get(0), row.get(1), row.get(2)))
                .collect();
            others.extend(rows.iter().map(|key| key.connection.clone()));
            self.held.insert(key, rows);
        }
        self.wants_queued.clear();
        self.wants_held.clear();
        Ok(others.into_iter().filter(|c| !self.own.contains(c)).collect())
    }
}

const WAS_HELD: &str = "SELECT rule, alert_connection, alert_data_type, channel, created_at FROM deliveries
     WHERE id = $1 AND status = 'held'";

/// A FIRING held while its lane was already sending it, and delivered all
/// the same: its alert was told after all, so it keeps its normal life
/// (its RESOLVED goes out), and the outage's end does not tell it again.
/// Under the lock of the alert's connection, as ingest moves it.
pub async fn delivered_anyway(tx: &Transaction<'_>, id: i64) -> Result<(), Error> {
    let Some(row) = tx.query_opt(WAS_HELD, &[&id]).await? else {
        return Ok(());
    };
    let (rule, connection, data_type, channel, created_at): (String, String, String, String, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    tx.execute(LOCK, &[&connection_lock(&connection)]).await?;
    let alert = tx
        .query_opt(
            &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE connection = $1 AND rule = $2 AND data_type = $3"),
            &[&connection, &rule, &data_type],
        )
        .await?;
    let Some((_, mut state)) = alert.as_ref().map(rows::alert) else {
        return Ok(());
    };
    if state.phase != Phase::Firing {
        return Ok(());
    }
    if !state.notified.contains(&channel) {
        state.notified.push(channel);
    }
    let last_notified = state.last_notified.map_or(created_at, millis);
    let notified = serde_json::to_string(&state.notified).unwrap_or_else(|_| "[]".into());
    tx.execute(
        "UPDATE alerts SET notified = $4, last_notified = $5, muted_by = NULL
         WHERE connection = $1 AND rule = $2 AND data_type = $3",
        &[&connection, &rule, &data_type, &notified, &last_notified],
    )
    .await?;
    Ok(())
}
