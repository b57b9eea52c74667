//! The outages' store on PostgreSQL ([`OutageStore`]): `outage::moves`
//! holds and releases the alerts of an outage's group as on SQLite, in
//! memory, over what the transaction read under its locks (see [`Moving`]).
//! What a move needs that was not read (the queue, the held alerts, the
//! failing connections a message lists, the connections still failing) it
//! asks for in [`Fetched`], and the transaction reads it, under the locks
//! of the connections involved, and runs again from what it first read.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::convert::Infallible;
use std::time::SystemTime;

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::Error;

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::event::Event;
use crate::lifecycle::{HELD_BY, Phase};
use crate::outage::moves::OutageStore;
use crate::outage::{Counts, Member, OutageState, OutageStates};
use crate::rules::Environment;

use super::super::time::{from_millis, millis};
use super::locked::{LOCK, connection_lock};
use super::outages::{GroupKey, StagedOutages};
use super::record::Batch;
use super::rows::{self, ALERT_COLUMNS};
use super::staged::Staged;

/// Rows read for a move, by outage and group; a group missing was not read.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// The FIRINGs of the group's connections that were waiting in the
    /// queue, held (by this transaction, as it read them): alert and
    /// channel.
    queued: HashMap<GroupKey, Vec<(AlertKey, String)>>,
    /// How to hold each group's: the note, when, and the transaction's
    /// own connections that are members.
    holds: HashMap<GroupKey, Hold>,
    /// The alerts the group's outage holds, as stored.
    held: HashMap<GroupKey, Vec<AlertKey>>,
    /// Per service and environment: the connections with a firing alert,
    /// besides the ones the transaction holds.
    firing: HashMap<(String, Option<&'static str>), usize>,
    wants_queued: BTreeMap<GroupKey, Hold>,
    wants_held: BTreeSet<GroupKey>,
    wants_firing: BTreeSet<(String, Option<&'static str>)>,
    /// Per outage, group and episode start: the channels told of it.
    told: HashMap<(GroupKey, i64), Vec<String>>,
    wants_told: BTreeSet<(GroupKey, i64)>,
    /// The connections whose events the transaction takes: their outage
    /// rows are the ones it recorded, not the stored ones.
    own: HashSet<String>,
}

impl Fetched {
    /// Nothing read yet, for a transaction taking the events of `own`.
    pub fn new(own: &[String]) -> Fetched {
        Fetched {
            own: own.iter().cloned().collect(),
            ..Fetched::default()
        }
    }

    /// Whether a move asked for something not read.
    pub fn wants(&self, outages: &StagedOutages) -> bool {
        !(self.wants_queued.is_empty()
            && self.wants_held.is_empty()
            && self.wants_firing.is_empty()
            && self.wants_told.is_empty()
            && outages.wants_failing().is_empty())
    }
}

/// What holding a group's queued FIRINGs writes on them, and which of the
/// transaction's own connections are members (as it recorded them).
#[derive(Debug, Clone)]
struct Hold {
    note: String,
    at: i64,
    members: Vec<String>,
}

/// The [`OutageStore`] of one PostgreSQL transaction: what it read under
/// its locks, moved in memory; what it writes goes to `batch`.
pub struct Moving<'a> {
    pub states: &'a mut Staged,
    pub known: &'a HashMap<String, KnownConnection>,
    pub outages: &'a mut StagedOutages,
    pub fetched: &'a mut Fetched,
    pub batch: &'a mut Batch,
    /// The outages the timer may move: those whose locks it holds.
    pub ticking: &'a [GroupKey],
}

fn group_key(outage: &str, group: &str) -> GroupKey {
    (outage.to_owned(), group.to_owned())
}

impl OutageStates for Moving<'_> {
    type Error = Infallible;

    fn record(&mut self, outage: &str, group: &str, member: &Member) -> Result<(), Infallible> {
        self.outages.record(outage, group, member)
    }

    fn counts(&mut self, outage: &str, group: &str, since: SystemTime) -> Result<Counts, Infallible> {
        self.outages.counts(outage, group, since)
    }

    fn failing(&mut self, outage: &str, group: &str, since: SystemTime) -> Result<Vec<Member>, Infallible> {
        self.outages.failing(outage, group, since)
    }

    fn get(&mut self, outage: &str, group: &str) -> Result<Option<OutageState>, Infallible> {
        self.outages.get(outage, group)
    }

    fn put(&mut self, outage: &str, group: &str, state: &OutageState) -> Result<(), Infallible> {
        self.outages.put(outage, group, state)
    }
}

impl OutageStore for Moving<'_> {
    type Alerts = Staged;

    fn alerts(&mut self) -> &mut Staged {
        self.states
    }

    fn record_hour(&mut self, event: &Event, at: SystemTime) -> Result<(), Infallible> {
        self.batch.hour(event, at);
        Ok(())
    }

    /// The stored FIRINGs held for the group (see [`Fetched::read`]), and
    /// those this transaction queued for its members.
    fn hold_queued(
        &mut self,
        outage: &str,
        group: &str,
        note: &str,
        now: SystemTime,
    ) -> Result<Vec<(AlertKey, String)>, Infallible> {
        let key = group_key(outage, group);
        let outages = &*self.outages;
        // The transaction's own connections are members as it recorded
        // them; the others as stored.
        let is_member = |connection: &str| outages.is_member((outage, group), connection);
        let Some(stored) = self.fetched.queued.get(&key) else {
            let hold = Hold {
                note: note.to_owned(),
                at: millis(now),
                members: (self.fetched.own.iter()).filter(|c| is_member(c)).cloned().collect(),
            };
            self.fetched.wants_queued.insert(key, hold);
            return Ok(Vec::new());
        };
        let mut held = stored.clone();
        held.extend(self.batch.hold_queued(outage, note, now, is_member));
        Ok(held)
    }

    /// The stored ones read for the group, and those of the transaction's
    /// connections as it moved them (held by it, not stored yet).
    fn held_alerts(&mut self, held_by: &str, group: &str) -> Result<Vec<AlertKey>, Infallible> {
        let key = group_key(held_by.strip_prefix(HELD_BY).unwrap_or(held_by), group);
        let Some(stored) = self.fetched.held.get(&key) else {
            self.fetched.wants_held.insert(key);
            return Ok(Vec::new());
        };
        let known = self.known;
        let mut keys: Vec<AlertKey> = stored.clone();
        keys.extend(self.states.keys_where(|key, state| {
            state.phase == Phase::Firing
                && state.muted_by.as_deref() == Some(held_by)
                && (known.get(&key.connection)).is_some_and(|k| k.service.as_deref() == Some(group))
        }));
        keys.sort_by(|a, b| (&a.connection, &a.rule, &a.data_type).cmp(&(&b.connection, &b.rule, &b.data_type)));
        keys.dedup();
        Ok(keys)
    }

    fn connection(&mut self, id: &str) -> Result<Option<KnownConnection>, Infallible> {
        Ok(self.known.get(id).cloned())
    }

    /// The count read for the others, and the transaction's connections
    /// as it moved them.
    fn firing_connections(&mut self, group: &str, environment: Option<Environment>) -> Result<usize, Infallible> {
        let key = (group.to_owned(), environment.map(Environment::as_str));
        let Some(others) = self.fetched.firing.get(&key).copied() else {
            self.fetched.wants_firing.insert(key);
            return Ok(0);
        };
        let known = self.known;
        let of_group = |connection: &str| {
            known
                .get(connection)
                .is_some_and(|k| k.service.as_deref() == Some(group) && environment.is_none_or(|e| k.environment == e))
        };
        let mut mine: Vec<String> = (self.states)
            .keys_where(|key, state| state.phase == Phase::Firing && of_group(&key.connection))
            .into_iter()
            .map(|key| key.connection)
            .collect();
        mine.sort();
        mine.dedup();
        Ok(others + mine.len())
    }

    fn told_channels(&mut self, outage: &str, group: &str, since: SystemTime) -> Result<Vec<String>, Infallible> {
        let key = (group_key(outage, group), millis(since));
        let Some(told) = self.fetched.told.get(&key) else {
            self.fetched.wants_told.insert(key);
            return Ok(Vec::new());
        };
        Ok(told.clone())
    }

    fn firing_outages(&mut self) -> Result<Vec<(String, String)>, Infallible> {
        let firing = self.outages.firing();
        Ok(firing.into_iter().filter(|key| self.ticking.contains(key)).collect())
    }

    fn end(&mut self, outage: &str, group: &str) -> Result<(), Infallible> {
        self.outages.end(outage, group);
        Ok(())
    }
}

// A FIRING already told on another channel is not held (see SQLite's).
// Held as read, in one statement: a lane settling one of them waits for
// the transaction, then finds it held (see `delivered_anyway`); one it
// settled first is not held.
const HOLD: &str = "UPDATE deliveries SET status = 'held', settled_at = $4, last_error = $5
     WHERE status = 'pending' AND NOT is_digest AND effect = 'firing' AND rule <> $1
       AND (alert_connection = ANY($3)
            OR alert_connection IN (SELECT connection FROM outage_members WHERE outage = $1 AND grp = $2))
       AND NOT EXISTS (SELECT 1 FROM deliveries t WHERE t.event_id = deliveries.event_id AND t.rule = deliveries.rule
           AND t.alert_connection = deliveries.alert_connection AND t.alert_data_type = deliveries.alert_data_type
           AND t.effect = 'firing' AND t.status IN ('delivered', 'digested'))
     RETURNING rule, alert_connection, alert_data_type, channel";
const HELD: &str = "SELECT a.rule, a.connection, a.data_type FROM alerts a JOIN connections c ON c.id = a.connection
     WHERE a.state = 'firing' AND a.muted_by = $1 AND c.service = $2 ORDER BY a.connection, a.rule";
const TOLD: &str = "SELECT DISTINCT channel FROM deliveries
     WHERE rule = $1 AND alert_connection = $2 AND effect IN ('firing', 'still_failing')
       AND status IN ('delivered', 'pending') AND created_at >= $3 ORDER BY channel";
const FIRING_CONNECTIONS: &str =
    "SELECT count(DISTINCT a.connection) FROM alerts a JOIN connections c ON c.id = a.connection
     WHERE a.state = 'firing' AND c.service = $1 AND ($2::text IS NULL OR c.environment = $2)
       AND a.connection <> ALL($3)";

fn alert_key(rule: String, connection: String, data_type: String) -> AlertKey {
    AlertKey {
        rule,
        connection,
        data_type: (!data_type.is_empty()).then_some(data_type),
    }
}

impl Fetched {
    /// Reads what the last run asked for (holding the queued FIRINGs it
    /// asked to hold). Returns the connections, besides the transaction's
    /// own, those rows are about: the transaction must hold their locks and
    /// read their alerts, then call this again (more may have been queued
    /// before the locks).
    pub async fn read(&mut self, client: &Client) -> Result<Vec<String>, Error> {
        let hold = client.prepare_cached(HOLD).await?;
        let held = client.prepare_cached(HELD).await?;
        let mut others = BTreeSet::new();
        self.holds.extend(std::mem::take(&mut self.wants_queued));
        for (key, how) in &self.holds {
            let rows = client
                .query(&hold, &[&key.0, &key.1, &how.members, &how.at, &how.note])
                .await?;
            let queued = self.queued.entry(key.clone()).or_default();
            for row in rows {
                let alert = alert_key(row.get(0), row.get(1), row.get(2));
                others.insert(alert.connection.clone());
                queued.push((alert, row.get(3)));
            }
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
        self.wants_held.clear();
        Ok(others.into_iter().filter(|c| !self.own.contains(c)).collect())
    }

    /// Counts the connections with a firing alert asked for, besides
    /// `locked` (whose alerts the transaction read), and reads the
    /// channels told of each outage episode asked for: call it once every
    /// lock is taken.
    pub async fn read_firing(&mut self, client: &Client, locked: &[String]) -> Result<(), Error> {
        let statement = client.prepare_cached(FIRING_CONNECTIONS).await?;
        let wanted: BTreeSet<_> = self.wants_firing.iter().chain(self.firing.keys()).cloned().collect();
        for (group, environment) in wanted {
            let row = client.query_one(&statement, &[&group, &environment, &locked]).await?;
            self.firing
                .insert((group, environment), row.get::<_, i64>(0).max(0) as usize);
        }
        self.wants_firing.clear();
        let told = client.prepare_cached(TOLD).await?;
        for key in std::mem::take(&mut self.wants_told) {
            let rows = client.query(&told, &[&key.0.0, &key.0.1, &key.1]).await?;
            self.told.insert(key, rows.iter().map(|row| row.get(0)).collect());
        }
        Ok(())
    }
}

// Locked first: a transaction holding this message (see HOLD) may not have
// committed yet; once it has, the row read is the held one.
// The copies of a FIRING delivered anyway that were held on other
// channels go out after all.
const UNHOLD: &str = "UPDATE deliveries SET status = 'pending', settled_at = NULL, last_error = NULL
     WHERE status = 'held' AND id <> $1 AND event_id = (SELECT event_id FROM deliveries WHERE id = $1)
       AND rule = $2 AND alert_connection = $3 AND alert_data_type = $4 AND effect = 'firing'
     RETURNING channel";
const WAS_HELD: &str = "SELECT rule, alert_connection, alert_data_type, channel, created_at, status FROM deliveries
     WHERE id = $1 FOR UPDATE";

/// A FIRING held while its lane was already sending it, and delivered all
/// the same (see `outage::moves::delivered_anyway`): under the lock of the
/// alert's connection, as ingest moves it.
pub async fn delivered_anyway(tx: &Transaction<'_>, id: i64) -> Result<(), Error> {
    let Some(row) = tx.query_opt(WAS_HELD, &[&id]).await? else {
        return Ok(());
    };
    if row.get::<_, &str>(5) != "held" {
        return Ok(());
    }
    let (rule, connection, data_type, channel, created_at): (String, String, String, String, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    tx.execute(LOCK, &[&connection_lock(&connection)]).await?;
    let alert = tx
        .query_opt(
            &format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE connection = $1 AND rule = $2 AND data_type = $3"),
            &[&connection, &rule, &data_type],
        )
        .await?;
    let Some((key, state)) = alert.as_ref().map(rows::alert) else {
        return Ok(());
    };
    let unheld = tx.query(UNHOLD, &[&id, &rule, &connection, &data_type]).await?;
    let mut channels = vec![channel];
    channels.extend(unheld.iter().map(|row| row.get::<_, String>(0)));
    let mut staged = Staged::new([(key.clone(), state)]);
    let Ok(()) = crate::outage::moves::delivered_anyway(&mut staged, (&key, &channels), from_millis(created_at));
    for (_, state) in staged.changed() {
        let notified = serde_json::to_string(&state.notified).unwrap_or_else(|_| "[]".into());
        let last_notified = state.last_notified.map(super::super::time::millis);
        tx.execute(
            "UPDATE alerts SET notified = $4, last_notified = $5, muted_by = $6
             WHERE connection = $1 AND rule = $2 AND data_type = $3",
            &[
                &connection,
                &rule,
                &data_type,
                &notified,
                &last_notified,
                &state.muted_by,
            ],
        )
        .await?;
    }
    Ok(())
}
