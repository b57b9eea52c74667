//! One event's effect on the outages: its connection's latest outcome is
//! recorded in each group it counts in, the group is counted (from the
//! store's per-connection rows, never from events), and the outage moves.

use std::time::SystemTime;

use crate::event::{Event, Status};
use crate::lifecycle::Effect;
use crate::rules::Environment;

use super::count::{Counts, Member};
use super::model::{By, Outage};
use super::state::{OutageState, step};

/// The outage counters and states a store keeps.
pub trait OutageStates {
    type Error;
    /// Stores `member` as the latest outcome of its connection in `group`.
    fn record(&mut self, outage: &str, group: &str, member: &Member) -> Result<(), Self::Error>;
    /// The group's connections that synced at or after `since`.
    fn counts(&mut self, outage: &str, group: &str, since: SystemTime) -> Result<Counts, Self::Error>;
    /// The group's connections that failed at or after `since`: what a
    /// message lists (read only when one is sent).
    fn failing(&mut self, outage: &str, group: &str, since: SystemTime) -> Result<Vec<Member>, Self::Error>;
    fn get(&mut self, outage: &str, group: &str) -> Result<Option<OutageState>, Self::Error>;
    fn put(&mut self, outage: &str, group: &str, state: &OutageState) -> Result<(), Self::Error>;
}

/// An outage that moved and asks for a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Told {
    /// Index into the outages.
    pub outage: usize,
    /// The service (or data type).
    pub group: String,
    pub effect: Effect,
    pub state: OutageState,
    /// The connections that failed within the window.
    pub failing: Vec<Member>,
    /// On RESOLVED: how many of its connections are still failing (have a
    /// firing alert), each told on its own.
    pub still_failing: usize,
}

/// The groups `event` counts in for `by`, each with whether it failed
/// there and the data types that failed: its service; or each data type it
/// carries.
pub fn group_of(by: By, event: &Event) -> Vec<(String, bool, Vec<String>)> {
    let failed_types = |only: Option<&str>| -> Vec<String> {
        let mut types: Vec<String> = (event.tallies.iter())
            .filter(|t| t.status == Status::Failed && t.count > 0)
            .filter_map(|t| t.data_type.clone())
            .filter(|t| only.is_none_or(|only| only == t))
            .collect();
        types.sort();
        types.dedup();
        types
    };
    match by {
        By::Service => (event.service.clone().into_iter())
            .map(|service| (service, event.count(&Status::Failed) > 0, failed_types(None)))
            .collect(),
        By::DataType => {
            let mut types: Vec<String> = event.tallies.iter().filter_map(|t| t.data_type.clone()).collect();
            types.sort();
            types.dedup();
            (types.into_iter())
                .map(|t| {
                    let failed = failed_types(Some(&t));
                    (t, !failed.is_empty(), failed)
                })
                .collect()
        }
    }
}

/// Records a sync `event` (of `connection`, in `environment`, at `now`) in
/// every outage it counts for, and moves those outages. Returns what is
/// to be told, and each move described for `explain`.
pub fn observe<S: OutageStates>(
    states: &mut S,
    outages: &[Outage],
    (event, environment): (&Event, Environment),
    now: SystemTime,
) -> Result<(Vec<Told>, Vec<String>), S::Error> {
    let mut told = Vec::new();
    let mut described = Vec::new();
    let Some(connection) = event.connection_id.as_deref() else {
        return Ok((told, described));
    };
    for (index, outage) in outages.iter().enumerate() {
        if !outage.counts(event, environment) {
            continue;
        }
        for (group, failed, failed_types) in group_of(outage.by, event) {
            let member = Member {
                connection: connection.to_owned(),
                synced_at: now,
                failed_at: failed.then_some(now),
                failed_types,
            };
            states.record(outage.name(), &group, &member)?;
            if let Some(moved) = evaluate(states, (index, outage), &group, now)? {
                described.push(describe(outage, &moved));
                told.push(moved);
            }
        }
    }
    Ok((told, described))
}

/// Counts `group` and moves its outage at `now`: what a timer runs too,
/// so an outage whose connections stopped syncing still resolves.
pub fn evaluate<S: OutageStates>(
    states: &mut S,
    (index, outage): (usize, &Outage),
    group: &str,
    now: SystemTime,
) -> Result<Option<Told>, S::Error> {
    let since = now.checked_sub(outage.window).unwrap_or(SystemTime::UNIX_EPOCH);
    let counts = states.counts(outage.name(), group, since)?;
    let before = states.get(outage.name(), group)?;
    let (next, effect) = step(before.as_ref(), &counts, outage, now);
    let Some(next) = next else {
        return Ok(None);
    };
    states.put(outage.name(), group, &next)?;
    let Some(effect) = effect else {
        return Ok(None);
    };
    Ok(Some(Told {
        outage: index,
        group: group.to_owned(),
        effect,
        failing: states.failing(outage.name(), group, since)?,
        state: next,
        still_failing: 0,
    }))
}

/// `outage provider-outage/quickbooks: FIRING (37 of 120 failing)`.
pub fn describe(outage: &Outage, told: &Told) -> String {
    let counts = &told.state.counts;
    format!(
        "outage {}/{}: {} ({} of {} failing)",
        outage.name(),
        told.group,
        told.effect.label(),
        counts.failing,
        counts.synced
    )
}
