//! Told means delivered. A FIRING is queued to a channel and counted as
//! told there (so its RESOLVED follows it, in order, on the same lane);
//! when it fails for good or expires instead, the alert forgets that the
//! channel was told: the channel gets no RESOLVED for a FIRING it never
//! saw, and an alert that reached nobody notifies again at its next match.

use std::time::SystemTime;

use super::transition::{AlertState, Phase};

/// What a FIRING or STILL FAILING sent to `channel` at `sent_at` that
/// never arrived does to the alert in `state`: the new state, or `None`
/// when nothing changes (another episode, or the channel was not counted).
/// The caller has checked that no earlier message of this episode reached
/// the channel.
pub fn not_told(state: &AlertState, channel: &str, sent_at: SystemTime) -> Option<AlertState> {
    let same_episode = sent_at >= state.since;
    if state.phase != Phase::Firing || !same_episode || !state.notified.iter().any(|c| c == channel) {
        return None;
    }
    let mut next = state.clone();
    next.notified.retain(|c| c != channel);
    if next.notified.is_empty() {
        // Nobody heard of it: its next match tells them, as after a silence.
        next.last_notified = None;
    }
    Some(next)
}

/// Why a RESOLVED queued behind a FIRING that never arrived is dropped.
pub const NOTHING_TO_RESOLVE: &str = "not sent: the FIRING it resolves never reached this channel";

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(minutes: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + minutes * 60)
    }

    fn firing(notified: &[&str]) -> AlertState {
        AlertState {
            phase: Phase::Firing,
            since: at(10),
            firing_since: Some(at(10)),
            resolved_at: None,
            matches: 1,
            streak: 1,
            clean: 0,
            last_notified: Some(at(10)),
            notified: notified.iter().map(|c| c.to_string()).collect(),
            muted_by: None,
        }
    }

    #[test]
    fn a_channel_whose_firing_failed_is_no_longer_told() {
        let next = not_told(&firing(&["slack", "mail"]), "slack", at(10)).unwrap();
        assert_eq!(next.notified, ["mail"]);
        assert_eq!(next.last_notified, Some(at(10)), "mail was told");
        let nobody = not_told(&next, "mail", at(10)).unwrap();
        assert!(nobody.notified.is_empty());
        assert_eq!(nobody.last_notified, None, "the next match notifies again");
    }

    #[test]
    fn a_failure_from_an_earlier_episode_changes_nothing() {
        assert_eq!(not_told(&firing(&["slack"]), "slack", at(5)), None);
        let resolved = AlertState {
            phase: Phase::Resolved,
            ..firing(&["slack"])
        };
        assert_eq!(not_told(&resolved, "slack", at(10)), None);
        assert_eq!(not_told(&firing(&["mail"]), "slack", at(10)), None);
    }
}
