//! When an outage resolves, the alerts it held that are still firing are
//! told (as FIRING): their connections are still broken, for their own
//! reasons. The ones that recovered meanwhile were resolved without a word
//! (nobody had heard of them).

use std::time::SystemTime;

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::config::Config;
use crate::quiet::Mutes;

use super::apply::{Applied, HELD_BY, Notification, Transition};
use super::effects::{Cx, Observed, Source, facts, muted, recipients, render_for};
use super::transition::{AlertState, Effect, Phase};

/// The FIRING of `key`, held by `outage` and still firing at `now`, its
/// new state and what to queue; `None` when it is not such an alert. A
/// silence or window in force keeps it muted (it is told at its next match
/// after that, as any muted alert). `firing`: the other firing alerts of
/// its connection, for `inhibit`.
pub fn release(
    config: &Config,
    (key, state): (&AlertKey, &AlertState),
    firing: &[AlertKey],
    (connection, outage): (&KnownConnection, &str),
    mutes: &Mutes,
    now: SystemTime,
) -> Option<(AlertState, Applied)> {
    let held = state.muted_by.as_deref() == Some(&format!("{HELD_BY}{outage}"));
    if state.phase != Phase::Firing || !held {
        return None;
    }
    let rule = config.rules.iter().find(|r| r.name == key.rule)?;
    let observed = Observed {
        rule,
        key,
        source: Source::Held(connection),
    };
    let cx = Cx {
        config,
        now,
        environment: connection.environment,
        event: None,
        mutes: mutes.clone(),
    };
    let mut next = state.clone();
    let channels = recipients(Effect::Firing, rule, Some(state), config);
    let muted_by = muted(&observed, &cx, firing);
    let mut applied = Applied::default();
    next.muted_by = muted_by.clone();
    if muted_by.is_none() && !channels.is_empty() {
        next.last_notified = Some(now);
        next.notified = channels.clone();
        let facts = facts(Effect::Firing, &observed, Some(state), &next, &cx);
        applied.notifications.push(Notification {
            key: key.clone(),
            effect: Effect::Firing,
            deliveries: render_for(config, &channels, &facts),
        });
    }
    applied.transitions.push(Transition {
        key: key.clone(),
        from: Some(Phase::Firing),
        to: Phase::Firing,
        effect: Some(Effect::Firing),
        channels,
        muted_by,
    });
    Some((next, applied))
}
