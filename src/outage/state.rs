//! An outage's own lifecycle, as a pure function of the counts at `now`:
//!
//! - quiet → firing when the counts breach the threshold: FIRING;
//! - firing, `repeat_interval` after it last told: STILL FAILING;
//! - firing → quiet when the share has stayed under half the threshold
//!   for a whole window: RESOLVED.

use std::time::SystemTime;

use crate::lifecycle::Effect;

use super::count::Counts;
use super::model::Outage;

/// What is kept of one outage and group between events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutageState {
    pub firing: bool,
    /// When it started firing (or last resolved, when quiet).
    pub since: SystemTime,
    /// Since when the share has been under half the threshold, while
    /// firing: the window of hysteresis runs from it.
    pub clear_since: Option<SystemTime>,
    pub last_notified: Option<SystemTime>,
    /// The counts when it was last evaluated, for the page.
    pub counts: Counts,
}

/// The next state and what to send. `None` state: nothing to store (quiet
/// and staying quiet).
pub fn step(
    state: Option<&OutageState>,
    counts: &Counts,
    outage: &Outage,
    now: SystemTime,
) -> (Option<OutageState>, Option<Effect>) {
    let firing = state.filter(|s| s.firing);
    let Some(state) = firing else {
        if !counts.breaches(outage) {
            return (None, None);
        }
        let state = OutageState {
            firing: true,
            since: now,
            clear_since: None,
            last_notified: Some(now),
            counts: counts.clone(),
        };
        return (Some(state), Some(Effect::Firing));
    };
    let mut next = state.clone();
    next.counts = counts.clone();
    if !counts.is_clear(outage) {
        next.clear_since = None;
        let repeat = outage.rule.repeat_interval;
        let due = (state.last_notified)
            .and_then(|last| now.duration_since(last).ok())
            .is_some_and(|elapsed| !repeat.is_zero() && elapsed >= repeat);
        if due {
            next.last_notified = Some(now);
            return (Some(next), Some(Effect::StillFailing));
        }
        return (Some(next), None);
    }
    let clear_since = *next.clear_since.get_or_insert(now);
    let clear_for = now.duration_since(clear_since).unwrap_or_default();
    if clear_for < outage.window {
        return (Some(next), None);
    }
    next.firing = false;
    next.clear_since = None;
    let told = outage.rule.send_resolved;
    (Some(next), told.then_some(Effect::Resolved))
}
