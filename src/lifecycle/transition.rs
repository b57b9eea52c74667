//! The alert state machine, as a pure function: what one observation does
//! to one alert key. No clock, no store, no channels: the caller passes the
//! time, persists the new state and queues the effect, in one transaction.
//!
//! ```text
//!            match (streak < after)        match (streak = after)
//!   (none) ─────────────────────▶ pending ───────────────────────▶ firing ──▶ FIRING
//!     ▲  ▲                          │                               │  │
//!     │  └──────── clean ───────────┘        match, repeat due ─────┘  │──▶ STILL FAILING
//!     │                                                                │
//!     └──────────── resolve_after clean syncs in a row ────────────────┘──▶ RESOLVED
//! ```

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// Where an alert key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Matching, but fewer than `after` times in a row: nothing sent.
    Pending,
    Firing,
    /// Over: cleared while pending, or resolved after firing.
    Resolved,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Firing => "firing",
            Phase::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Phase {
        match text {
            "pending" => Phase::Pending,
            "firing" => Phase::Firing,
            _ => Phase::Resolved,
        }
    }
}

/// What is remembered of one alert key between events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertState {
    pub phase: Phase,
    /// The first match of this episode.
    pub since: SystemTime,
    /// When it started firing; `None` while pending, and for an episode
    /// that was cleared without firing.
    pub firing_since: Option<SystemTime>,
    /// When the episode ended.
    pub resolved_at: Option<SystemTime>,
    /// Matching observations (failing syncs) in this episode.
    pub matches: u64,
    /// Consecutive matches: what `after` counts.
    pub streak: u32,
    /// Consecutive clean syncs while firing: what `resolve_after` counts.
    pub clean: u32,
    pub last_notified: Option<SystemTime>,
    /// The channels that were sent the firing notification: the ones that
    /// get the RESOLVED message.
    pub notified: Vec<String>,
    /// The silence or maintenance window that held back its last message,
    /// until one is sent again.
    pub muted_by: Option<String>,
}

/// What the store saw of an alert key in one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// The rule fired.
    Match,
    /// A sync (or, for a connection-lost alert, a sign of life) that
    /// carries what the rule looks at, and on which it did not fire.
    Clean,
}

/// A rule's lifecycle settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub after: u32,
    pub resolve_after: u32,
    pub repeat_interval: Duration,
    pub send_resolved: bool,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            after: 1,
            resolve_after: 1,
            repeat_interval: Duration::from_secs(4 * 3600),
            send_resolved: true,
        }
    }
}

/// What a transition asks to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Firing,
    StillFailing,
    Resolved,
}

impl Effect {
    /// As stored with each queued delivery.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Firing => "firing",
            Effect::StillFailing => "still_failing",
            Effect::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Effect> {
        match text {
            "firing" => Some(Effect::Firing),
            "still_failing" => Some(Effect::StillFailing),
            "resolved" => Some(Effect::Resolved),
            _ => None,
        }
    }

    /// What the message says, as messages and `history` spell it.
    pub fn label(self) -> &'static str {
        match self {
            Effect::Firing => "FIRING",
            Effect::StillFailing => "STILL FAILING",
            Effect::Resolved => "RESOLVED",
        }
    }

    /// What a queued delivery says, from its stored columns: FIRING, STILL
    /// FAILING, RESOLVED, DIGEST, GROUP (several rules of one event, one
    /// message: a carrier whose effect is `group`), or `None` for a row of
    /// an older version.
    pub fn kind_of(effect: Option<&str>, is_digest: bool) -> Option<&'static str> {
        match (is_digest, effect) {
            (true, Some("group")) => Some("GROUP"),
            (true, _) => Some("DIGEST"),
            (false, _) => effect.and_then(Effect::parse).map(Effect::label),
        }
    }

    /// FIRING or STILL FAILING: a message that says the alert is on.
    pub fn says_firing(self) -> bool {
        matches!(self, Effect::Firing | Effect::StillFailing)
    }
}

/// The outcome of one observation: the state to store (`None`: unchanged)
/// and what to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub state: Option<AlertState>,
    pub effect: Option<Effect>,
}

impl Step {
    fn unchanged() -> Step {
        Step {
            state: None,
            effect: None,
        }
    }

    fn to(state: AlertState, effect: Option<Effect>) -> Step {
        Step {
            state: Some(state),
            effect,
        }
    }
}

/// What `observation` does to an alert in `state` at `now`. The caller
/// records who was notified (see [`AlertState::notified`]).
pub fn transition(state: Option<&AlertState>, observation: Observation, policy: &Policy, now: SystemTime) -> Step {
    let active = state.filter(|s| s.phase != Phase::Resolved);
    match (active, observation) {
        (None, Observation::Match) => begin(policy, now),
        (None, Observation::Clean) => Step::unchanged(),
        (Some(state), Observation::Match) => matched(state, policy, now),
        (Some(state), Observation::Clean) => cleaned(state, policy, now),
    }
}

fn begin(policy: &Policy, now: SystemTime) -> Step {
    let state = AlertState {
        phase: Phase::Pending,
        since: now,
        firing_since: None,
        resolved_at: None,
        matches: 0,
        streak: 0,
        clean: 0,
        last_notified: None,
        notified: Vec::new(),
        muted_by: None,
    };
    matched(&state, policy, now)
}

fn matched(state: &AlertState, policy: &Policy, now: SystemTime) -> Step {
    let mut next = state.clone();
    next.matches = next.matches.saturating_add(1);
    next.streak = next.streak.saturating_add(1);
    next.clean = 0;
    match state.phase {
        Phase::Pending if next.streak >= policy.after.max(1) => {
            next.phase = Phase::Firing;
            next.firing_since = Some(now);
            Step::to(next, Some(Effect::Firing))
        }
        // Firing, but nobody was told (it was silenced, or its channels
        // were all record-only): the next match tells them.
        Phase::Firing if state.last_notified.is_none() => Step::to(next, Some(Effect::Firing)),
        // Told before, then a message was held back by a silence or
        // window: the next match says it is still failing, and since when.
        Phase::Firing if state.muted_by.is_some() => Step::to(next, Some(Effect::StillFailing)),
        Phase::Firing if repeat_due(state, policy, now) => Step::to(next, Some(Effect::StillFailing)),
        _ => Step::to(next, None),
    }
}

/// A firing alert that keeps matching notifies again once
/// `repeat_interval` has passed since it last did; `0s` repeats every
/// match. A clock that went backwards counts as "not yet".
pub(super) fn repeat_due(state: &AlertState, policy: &Policy, now: SystemTime) -> bool {
    let Some(last) = state.last_notified else {
        return false;
    };
    policy.repeat_interval.is_zero()
        || now
            .duration_since(last)
            .is_ok_and(|elapsed| elapsed >= policy.repeat_interval)
}

fn cleaned(state: &AlertState, policy: &Policy, now: SystemTime) -> Step {
    let mut next = state.clone();
    next.streak = 0;
    if state.phase == Phase::Pending {
        next.phase = Phase::Resolved;
        next.resolved_at = Some(now);
        return Step::to(next, None);
    }
    next.clean = next.clean.saturating_add(1);
    if next.clean < policy.resolve_after.max(1) {
        return Step::to(next, None);
    }
    next.phase = Phase::Resolved;
    next.resolved_at = Some(now);
    let told = policy.send_resolved && !state.notified.is_empty();
    Step::to(next, told.then_some(Effect::Resolved))
}

#[cfg(test)]
#[path = "transition_tests.rs"]
mod tests;
