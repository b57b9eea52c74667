//! What an outage's moves do to the alerts of its service, the same on
//! every store, inside the transaction that moved it: on FIRING the queued
//! FIRINGs of the service are held; on RESOLVED the outage's own message is
//! queued first, then the held alerts still firing are told. The outage is
//! moved by each event ([`on_event`]) and by the reminder timer
//! ([`tick`]). A store supplies the few reads and writes in
//! [`OutageStore`].

use std::time::SystemTime;

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::config::Config;
use crate::event::Event;
use crate::lifecycle::{
    AlertInput, AlertState, AlertStates, Applied, Effect, HELD_BY, Notification, Phase, close, firing_besides, release,
};
use crate::quiet::Mutes;

use crate::rules::Environment;

use super::model::{By, Outage};
use super::notify::notification;
use super::observe::{OutageStates, Told, describe, evaluate, observe};

/// What a store does for the outages, besides counting
/// ([`OutageStates`]), inside one transaction.
pub trait OutageStore: OutageStates {
    type Alerts: AlertStates<Error = Self::Error>;

    /// The alert states of the same transaction.
    fn alerts(&mut self) -> &mut Self::Alerts;
    /// Counts a sync in its service's hour (the page's chart).
    fn record_hour(&mut self, event: &Event, at: SystemTime) -> Result<(), Self::Error>;
    /// Marks held (with `note` as the reason) the queued FIRING messages,
    /// not yet in a digest, of the connections counted in `group`, except
    /// the outage's own; returns each one's alert and channel.
    fn hold_queued(
        &mut self,
        outage: &str,
        group: &str,
        note: &str,
        now: SystemTime,
    ) -> Result<Vec<(AlertKey, String)>, Self::Error>;
    /// The firing alerts of service `group` whose `muted_by` is `held_by`.
    fn held_alerts(&mut self, held_by: &str, group: &str) -> Result<Vec<AlertKey>, Self::Error>;
    fn connection(&mut self, id: &str) -> Result<Option<KnownConnection>, Self::Error>;
    /// How many connections of service `group` (in `environment`, when
    /// given) have a firing alert.
    fn firing_connections(&mut self, group: &str, environment: Option<Environment>) -> Result<usize, Self::Error>;
    /// The channels told of the outage's episode that started at `since`:
    /// its FIRING or a STILL FAILING delivered, or still being sent. Its
    /// RESOLVED goes to them only.
    fn told_channels(&mut self, outage: &str, group: &str, since: SystemTime) -> Result<Vec<String>, Self::Error>;
    /// Every firing outage, as (name, group).
    fn firing_outages(&mut self) -> Result<Vec<(String, String)>, Self::Error>;
    /// Marks a firing outage quiet, without a word (the rules dropped it).
    fn end(&mut self, outage: &str, group: &str) -> Result<(), Self::Error>;
}

/// What the outages did: messages to queue, and each move described for
/// `explain`.
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

/// Runs `input`'s event through the outages, inside the ingest
/// transaction: before the alerts, so that the event that makes an outage
/// fire is held with the others.
pub fn on_event<S: OutageStore>(store: &mut S, input: &AlertInput) -> Result<Moved, S::Error> {
    let mut moved = Moved::default();
    store.record_hour(&input.event, input.received_at)?;
    let config = &input.config;
    if config.outages.is_empty() || input.stale {
        return Ok(moved);
    }
    let now = input.received_at;
    let (told, described) = observe(store, &config.outages, (&input.event, input.environment), now)?;
    moved.described = described;
    let mutes = mutes_of(input);
    for told in told {
        settle_told(store, config, told, &mutes, now, &mut moved)?;
    }
    Ok(moved)
}

fn mutes_of(input: &AlertInput) -> Mutes {
    Mutes {
        silences: input.silences.clone(),
        windows: input.config.maintenance.clone(),
        inhibit: input.config.inhibit.clone(),
    }
}

/// Re-evaluates every firing outage at `now`, on the reminder timer: an
/// outage whose connections stopped syncing altogether still repeats and
/// resolves (and releases what it held), with no event to move it. Each
/// move comes with its outage's name and group (what it is recorded as).
pub fn tick<S: OutageStore>(
    store: &mut S,
    config: &Config,
    mutes: &Mutes,
    now: SystemTime,
) -> Result<Vec<(String, String, Moved)>, S::Error> {
    let mut all = Vec::new();
    for (name, group) in store.firing_outages()? {
        let mut moved = Moved::default();
        // An outage removed by a reload is closed (its channels hear why),
        // and what it held is told: nothing else would ever tell it.
        let Some(index) = config.outages.iter().position(|o| o.name() == name) else {
            (moved.described).push(format!(
                "outage {name}/{group}: removed from the rules, what it held is told"
            ));
            moved.extend(close_removed(store, config, (&name, &group), now)?);
            store.end(&name, &group)?;
            moved.extend(release_held(store, config, (&name, &group), mutes, now)?);
            all.push((name, group, moved));
            continue;
        };
        let Some(told) = evaluate(store, (index, &config.outages[index]), &group, now)? else {
            continue;
        };
        moved.described.push(describe(&config.outages[index], &told));
        settle_told(store, config, told, mutes, now, &mut moved)?;
        all.push((name, group, moved));
    }
    Ok(all)
}

/// An outage removed from the rules while it fires is closed as a removed
/// rule's alert is: the channels told it fired hear that it is over, and
/// why (nothing is left firing for ever).
fn close_removed<S: OutageStore>(
    store: &mut S,
    config: &Config,
    (name, group): (&str, &str),
    now: SystemTime,
) -> Result<Applied, S::Error> {
    let Some(since) = store.get(name, group)?.map(|s| s.since) else {
        return Ok(Applied::default());
    };
    let state = AlertState {
        phase: Phase::Firing,
        since,
        firing_since: Some(since),
        resolved_at: None,
        matches: 0,
        streak: 0,
        clean: 0,
        last_notified: Some(since),
        notified: store.told_channels(name, group, since)?,
        muted_by: None,
    };
    let reason = format!("outage `{name}` was removed from rules.yaml");
    let key = AlertKey {
        rule: name.to_owned(),
        connection: group.to_owned(),
        data_type: None,
    };
    Ok(close(config, &key, &state, None, now, &reason).1)
}

/// Holds (on FIRING) or releases (on RESOLVED) the group's alerts, and
/// queues the outage's own message. On RESOLVED the outage's message goes
/// first: the all-clear of the provider, then the connections still
/// broken for their own reasons (which a digest may gather, not the other
/// way round).
fn settle_told<S: OutageStore>(
    store: &mut S,
    config: &Config,
    mut told: Told,
    mutes: &Mutes,
    now: SystemTime,
    moved: &mut Moved,
) -> Result<(), S::Error> {
    let outage = &config.outages[told.outage];
    let released = match told.effect {
        // An alert is a connection's, not a data type's: a data type's
        // outage tells its one message and holds nothing.
        Effect::Firing if outage.by == By::Service => {
            hold(store, outage, &told.group, now)?;
            Applied::default()
        }
        Effect::Firing => Applied::default(),
        Effect::Resolved => release_held(store, config, (outage.name(), &told.group), mutes, now)?,
        Effect::StillFailing => Applied::default(),
    };
    if told.effect == Effect::Resolved {
        told.still_failing = still_failing(store, outage, &told)?;
    }
    let told_channels = match told.effect {
        Effect::Resolved => Some(store.told_channels(outage.name(), &told.group, told.state.since)?),
        _ => None,
    };
    match notification(config, outage, &told, mutes, now) {
        // No RESOLVED for a FIRING nobody saw (muted, or failed for good).
        Ok(mut notification) => {
            if let Some(told_channels) = &told_channels {
                (notification.deliveries).retain(|d| told_channels.contains(&d.channel));
            }
            if notification.deliveries.is_empty() && told_channels.is_some() {
                (moved.described).push(format!(
                    "outage {}/{}: RESOLVED not sent: no channel was told it fired",
                    outage.name(),
                    told.group
                ));
            } else {
                moved.notifications.push(notification);
            }
        }
        Err(by) => (moved.described).push(format!("outage {}/{}: muted by {by}", outage.name(), told.group)),
    }
    moved.extend(released);
    Ok(())
}

/// How many of the group's connections are still failing as the outage
/// ends: with a firing alert (the released ones included) for a service;
/// whose latest sync failed, for a data type (an alert is a connection's,
/// not a data type's).
fn still_failing<S: OutageStore>(store: &mut S, outage: &Outage, told: &Told) -> Result<usize, S::Error> {
    match outage.by {
        By::Service => store.firing_connections(&told.group, outage.environment()),
        By::DataType => Ok((told.failing.iter())
            .filter(|m| m.failed_at == Some(m.synced_at))
            .count()),
    }
}

/// The FIRING messages of the group's alerts still waiting in the queue
/// (for their turn, or for a digest) are held when the outage fires: its
/// one message says it for all of them. Their alerts are marked held, so
/// that the outage's end tells those still failing.
fn hold<S: OutageStore>(store: &mut S, outage: &Outage, group: &str, now: SystemTime) -> Result<(), S::Error> {
    let held_by = format!("{HELD_BY}{}", outage.name());
    let note = format!("not sent: {held_by}");
    for (key, channel) in store.hold_queued(outage.name(), group, &note, now)? {
        let alerts = store.alerts();
        let Some(mut state) = alerts.get(&key)?.filter(|s| s.phase == Phase::Firing) else {
            continue;
        };
        state.notified.retain(|c| *c != channel);
        if state.notified.is_empty() {
            state.last_notified = None;
            state.muted_by = Some(held_by.clone());
        }
        alerts.put(&key, &state)?;
    }
    Ok(())
}

/// The outage resolved: the alerts it held that still fire are told.
fn release_held<S: OutageStore>(
    store: &mut S,
    config: &Config,
    (outage, group): (&str, &str),
    mutes: &Mutes,
    now: SystemTime,
) -> Result<Applied, S::Error> {
    let held_by = format!("{HELD_BY}{outage}");
    let mut applied = Applied::default();
    for key in store.held_alerts(&held_by, group)? {
        let (Some(state), Some(known)) = (store.alerts().get(&key)?, store.connection(&key.connection)?) else {
            continue;
        };
        // A lost connection's inhibit mutes its released sync alerts too.
        let firing = firing_besides(&key, store.alerts().active(&key.connection)?);
        let Some((next, released)) = release(config, (&key, &state), &firing, (&known, outage), mutes, now) else {
            continue;
        };
        store.alerts().put(&key, &next)?;
        applied.notifications.extend(released.notifications);
        applied.transitions.extend(released.transitions);
    }
    Ok(applied)
}

/// A FIRING held while its lane was already sending it (queued at
/// `queued_at`), and delivered all the same: its alert was told after
/// all, so it keeps its normal life (its RESOLVED goes out), and the
/// outage's end does not tell it again. `channels`: the one it reached,
/// and those whose held copy the store queued again (every channel hears
/// an alert that is told).
pub fn delivered_anyway<S: AlertStates>(
    alerts: &mut S,
    (key, channels): (&AlertKey, &[String]),
    queued_at: SystemTime,
) -> Result<(), S::Error> {
    let Some(mut state) = alerts.get(key)?.filter(|s| s.phase == Phase::Firing) else {
        return Ok(());
    };
    for channel in channels {
        if !state.notified.contains(channel) {
            state.notified.push(channel.clone());
        }
    }
    state.last_notified = state.last_notified.or(Some(queued_at));
    state.muted_by = None;
    alerts.put(key, &state)
}
