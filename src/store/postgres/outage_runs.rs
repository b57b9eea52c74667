//! The runs of a transaction that moves outages, on PostgreSQL: which
//! outages' groups a batch locks and reads ([`outage_groups`]); the rows a
//! move asked for, read under the locks of the connections they involve,
//! for the next run ([`fetch`]); and the timer's own transaction, which
//! re-evaluates the firing outages ([`read_tick`], [`tick`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::SystemTime;

use deadpool_postgres::Client;
use tokio_postgres::Error;

use crate::alerts::AlertKey;
use crate::config::Config;
use crate::lifecycle::AlertState;
use crate::outage::{self, group_of};
use crate::quiet::Mutes;
use crate::store::sqlite::AbsenceOutcome;

use super::super::model::Ingest;
use super::super::time::millis;
use super::locked::Locked;
use super::outage_moves::{Fetched, Moving};
use super::outages::{GroupKey, StagedOutages, Wanted};
use super::record::{Batch, NewEvent};
use super::staged::Staged;
use super::write::{Found, locks, read};

/// The groups of the outages `ingests` count in, each with the earliest and
/// latest start of the windows its events count (a superset: an event's
/// `when` is checked as it is applied).
pub fn outage_groups(ingests: &[&Ingest]) -> Vec<Wanted> {
    let mut groups: BTreeMap<GroupKey, (SystemTime, SystemTime)> = BTreeMap::new();
    for ingest in ingests {
        let event = &ingest.alerts.event;
        if !event.is_sync() || event.connection_id.is_none() {
            continue;
        }
        for outage in ingest.alerts.config.outages.iter() {
            let start = (ingest.received_at().checked_sub(outage.window)).unwrap_or(SystemTime::UNIX_EPOCH);
            for (group, _, _) in group_of(outage.by, event) {
                let (from, to) = groups
                    .entry((outage.name().to_owned(), group))
                    .or_insert((start, start));
                *from = (*from).min(start);
                *to = (*to).max(start);
            }
        }
    }
    (groups.into_iter())
        .map(|(key, (from, to))| Wanted { key, from, to })
        .collect()
}

/// A run that asked for rows not read yet: the outages' moves, with what
/// they asked for.
pub struct Wants {
    pub(super) fetched: Box<Fetched>,
    pub(super) failing: Vec<GroupKey>,
}

/// Reads what a run asked for into `found`, under the locks of the
/// connections it involves (taken here, inside `tx`), for the next run.
pub async fn fetch(tx: &Locked, found: &mut Found, wants: Wants) -> Result<(), Error> {
    let client = tx.client();
    found.fetched = *wants.fetched;
    for group in &wants.failing {
        let from = found.windows.get(group).copied().unwrap_or(SystemTime::UNIX_EPOCH);
        (found.outages).read_failing(client, group, from, &found.own).await?;
    }
    loop {
        let others = found.fetched.read(client).await?;
        let new: Vec<String> = others.into_iter().filter(|c| !found.locked.contains(c)).collect();
        if new.is_empty() {
            let locked: Vec<String> = found.locked.iter().cloned().collect();
            return found.fetched.read_firing(client, &locked).await;
        }
        tx.lock_more(locks(new.iter().map(String::as_str))).await?;
        let (states, known) = read(client, &new).await?;
        found.states.extend(states.into_rows());
        found.known.extend(known);
        found.locked.extend(new);
    }
}

/// What the outages' timer reads (see [`tick`]): the states, and the
/// counts of `groups` (whose locks the transaction holds).
pub async fn read_tick(client: &Client, groups: &[Wanted]) -> Result<Found, Error> {
    Ok(Found {
        states: Staged::default(),
        known: HashMap::new(),
        seen: HashSet::new(),
        outages: StagedOutages::read(client, groups, &[]).await?,
        fetched: Fetched::default(),
        own: Vec::new(),
        locked: HashSet::new(),
        windows: groups.iter().map(|g| (g.key.clone(), g.from)).collect(),
    })
}

/// Re-evaluates the firing outages of `groups` at `now`: what to write
/// (each move recorded as an event of its own, `outage`), the alerts that
/// moved, and the channels to wake; or what to read first ([`fetch`]).
#[allow(clippy::type_complexity)]
pub fn tick(
    found: &Found,
    (config, mutes): (&Config, &Mutes),
    groups: &[GroupKey],
    now: SystemTime,
) -> Result<(AbsenceOutcome, Batch, Vec<(AlertKey, AlertState)>), Wants> {
    let Found {
        mut states,
        known,
        mut outages,
        mut fetched,
        ..
    } = found.clone();
    let mut batch = Batch::default();
    let mut moving = Moving {
        states: &mut states,
        known: &known,
        outages: &mut outages,
        fetched: &mut fetched,
        batch: &mut batch,
        ticking: groups,
    };
    let Ok(moves) = outage::moves::tick(&mut moving, config, mutes, now);
    if fetched.wants(&outages) {
        let failing = outages.wants_failing().iter().cloned().collect();
        return Err(Wants {
            fetched: Box::new(fetched),
            failing,
        });
    }
    let mut outcome = AbsenceOutcome::default();
    for (name, group, moved) in moves {
        // One event per outage and group: its own dedup key.
        let dedup_key = format!("outage:{name}:{group}:{}", millis(now));
        let body = serde_json::json!({ "outage": name, "connectionId": group }).to_string();
        let fired = [AlertKey {
            rule: name.clone(),
            connection: group.clone(),
            data_type: None,
        }];
        let event = NewEvent {
            dedup_key: &dedup_key,
            request_id: None,
            received_at: now,
            event: Some("outage"),
            connection: Some(&group),
            environment: "production",
            body: body.into(),
            fired: &fired,
            suppressed: &[],
            transitions: &moved.described,
        };
        batch.event(event, &moved.notifications, &mut outcome.channels);
        outcome.transitions.extend(moved.described);
    }
    batch.outages(&outages);
    Ok((outcome, batch, states.changed()))
}
