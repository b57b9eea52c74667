//! The daemon's periodic work beside the requests: pruning, the heartbeat
//! that lets a restart know how long it was down, the absence timer, and
//! posting firing alerts to Alertmanager again.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use crate::absence::Absence;
use crate::config::Config;
use crate::deliver::Outcome;
use crate::lifecycle::{Closing, Sweep};
use crate::outbox::{Resent, alertmanager_channels, resend};
use crate::quiet::Mutes;
use crate::store::{Store, StoreError};

use super::state::AppState;

/// How often the heartbeat is written.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(20);
/// A heartbeat older than this at start means syncwatch was down (a plain
/// restart takes seconds): webhooks may have been lost meanwhile.
const DOWNTIME: Duration = Duration::from_secs(60);
/// After a failed absence check, when to try again.
const RETRY: Duration = Duration::from_secs(5);

/// At start: finds a downtime, then plans every known connection.
pub async fn plan_absence(config: &Config, store: &Store) -> Result<Absence, StoreError> {
    let (floor, down) = store.downtime(SystemTime::now(), DOWNTIME).await?;
    if let Some(down) = down {
        let down_for = crate::config::format_duration(Duration::from_secs(down.as_secs()));
        tracing::warn!(
            %down_for,
            "syncwatch was not running: webhooks sent meanwhile were lost, so absence clocks start again now"
        );
    }
    let absence = Absence::new(floor, down);
    absence.replan(config, &store.connections().await?);
    Ok(absence)
}

/// Removes events and settled deliveries older than `storage.retention`
/// and forgets connections quiet for `storage.forget_after`, at start and
/// then every `every`, so the database does not grow without bound.
pub async fn prune_periodically(state: Arc<AppState>, every: Duration, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let storage = state.config().storage.clone();
        let now = SystemTime::now();
        close_forgotten(&state, now, storage.forget_after).await;
        match state
            .store
            .prune(now - storage.retention, now - storage.forget_after)
            .await
        {
            Ok(pruned) if pruned.events + pruned.deliveries + pruned.connections > 0 => {
                tracing::info!(
                    events = pruned.events,
                    deliveries = pruned.deliveries,
                    connections = pruned.connections,
                    "pruned old records"
                )
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "pruning failed; will try again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Before connections quiet for `forget_after` are forgotten, their
/// firing alerts are closed: the channels that were told hear that the
/// connection is no longer watched, rather than nothing ever again.
async fn close_forgotten(state: &AppState, now: SystemTime, forget_after: Duration) {
    let closing = Closing::Forgotten {
        before: now - forget_after,
        quiet_for: forget_after,
    };
    match state.store.sweep(state.config(), Sweep::Close(closing), now).await {
        Ok(outcome) => {
            for transition in &outcome.transitions {
                tracing::info!(alert = %transition, "alert closed");
            }
            state.wake(&outcome.channels);
        }
        Err(err) => tracing::warn!(error = %err, "cannot close the alerts of forgotten connections; will try again"),
    }
}

/// Every `every`: the state alerts whose reminder is due, or whose silence
/// or window ended, are told (see [`crate::lifecycle::remind`]). A silence
/// that ends by its time changes nothing an event would see, so a timer
/// has to look.
pub async fn remind_periodically(state: Arc<AppState>, every: Duration, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let config = state.config();
        let mutes = Mutes {
            silences: state.silences(),
            windows: config.maintenance.clone(),
            inhibit: config.inhibit.clone(),
        };
        match state.store.sweep(config, Sweep::Remind(mutes), SystemTime::now()).await {
            Ok(outcome) => {
                for transition in &outcome.transitions {
                    tracing::info!(alert = %transition, "alert reminded");
                }
                state.wake(&outcome.channels);
            }
            Err(err) => tracing::warn!(error = %err, "cannot look at state alerts for reminders; will try again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Every `every`: each Alertmanager channel whose `resend` turn is due
/// posts its firing alerts again (see [`crate::outbox::resend`]).
pub async fn resend_periodically(state: Arc<AppState>, every: Duration, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let config = state.config();
        for channel in alertmanager_channels(&config).into_iter().filter(|_| !state.dry_run()) {
            match resend(&state.store, &config, channel, SystemTime::now()).await {
                Ok(Resent::Posted {
                    alerts,
                    outcome: Outcome::Delivered { .. },
                }) => {
                    tracing::debug!(channel = channel.0, alerts, "firing alerts posted again")
                }
                Ok(Resent::Posted { alerts, outcome }) => {
                    tracing::warn!(channel = channel.0, alerts, outcome = ?outcome, "cannot post firing alerts again; will at the next turn")
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(channel = channel.0, error = %err, "cannot read the firing alerts to post again")
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}

pub async fn heartbeat(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if let Err(err) = state.store.heartbeat(SystemTime::now()).await {
            tracing::warn!(error = %err, "cannot record the heartbeat");
        }
        tokio::select! {
            _ = tokio::time::sleep(HEARTBEAT_EVERY) => {}
            _ = stop.changed() => {}
        }
    }
}

/// The absence timer: sleeps until the earliest deadline, checks what is
/// due in one transaction, plans each check again from the answer.
pub async fn check_absence(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    let absence = state.absence.clone();
    while !*stop.borrow() {
        tokio::select! {
            _ = absence.wait() => {}
            _ = stop.changed() => continue,
        }
        let now = SystemTime::now();
        let due = absence.take_due(now);
        if due.is_empty() {
            continue;
        }
        let checked = state
            .store
            .check_absence(state.config(), due.clone(), now, absence.floor(), state.silences())
            .await;
        match checked {
            Ok(outcome) => {
                for transition in &outcome.transitions {
                    tracing::info!(alert = %transition, "alert moved");
                }
                state.wake(&outcome.channels);
                absence.after_check(outcome.checked.into_iter().map(|c| (c.check, c.next)));
            }
            Err(err) => {
                tracing::error!(error = %err, checks = due.len(), "absence checks failed; trying again");
                absence.after_check(due.into_iter().map(|check| (check, Some(now + RETRY))));
            }
        }
    }
}

/// How often an instance on a shared database looks for connections that
/// other instances took events of, and how far back each look reaches
/// beyond the previous one (commits that were still in flight).
const FOLLOW_EVERY: Duration = Duration::from_secs(5);
const FOLLOW_OVERLAP: Duration = Duration::from_secs(10);

/// On a shared database: plans absence checks for the connections whose
/// events other instances took, so each instance would notice a silence
/// if the others stopped. (On one host every event passes through here.)
pub async fn follow_connections(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    let mut since = SystemTime::now();
    while !*stop.borrow() {
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
            _ = stop.changed() => continue,
        }
        let now = SystemTime::now();
        match state.store.connections_since(since - FOLLOW_OVERLAP).await {
            Ok(changed) => {
                let config = state.config();
                for known in &changed {
                    state.absence.seen(&config, known);
                }
                since = now;
            }
            Err(err) => tracing::warn!(error = %err, "cannot read the connections other instances saw"),
        }
    }
}

/// How often the silences' version is read.
const SILENCES_EVERY: Duration = Duration::from_millis(500);

/// Keeps the daemon's silences in step with the table that `syncwatch
/// silence` writes: one small read each half second, the table itself
/// only when its version moved. A silence that simply ends needs no
/// re-read: each one is checked against the clock when used.
pub async fn watch_silences(state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    let mut seen = None;
    while !*stop.borrow() {
        match state.store.silences_version().await {
            Ok(version) if Some(version) != seen => match state.store.silences(SystemTime::now()).await {
                Ok((version, silences)) => {
                    tracing::info!(silences = silences.len(), "silences loaded");
                    state.set_silences(silences);
                    seen = Some(version);
                }
                Err(err) => tracing::warn!(error = %err, "cannot read the silences"),
            },
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "cannot read the silences' version"),
        }
        tokio::select! {
            _ = tokio::time::sleep(SILENCES_EVERY) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Keeps the absence plan in step with a new configuration.
pub async fn replan_absence(absence: &Absence, config: &Arc<Config>, store: &Store) {
    match store.connections().await {
        Ok(connections) => absence.replan(config, &connections),
        Err(err) => tracing::error!(error = %err, "cannot re-plan absence checks after the reload"),
    }
}
