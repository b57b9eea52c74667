use std::time::{Duration, SystemTime};

use proptest::prelude::*;

use super::*;

const MINUTE: Duration = Duration::from_secs(60);

fn t(minutes: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + MINUTE * minutes as u32
}

/// Runs `observations` (one a minute) through the machine as the store
/// would, notifying `channels` on each effect; returns the effects.
fn run(policy: &Policy, observations: &[Observation]) -> (Option<AlertState>, Vec<Option<Effect>>) {
    let mut state: Option<AlertState> = None;
    let mut effects = Vec::new();
    for (minute, observation) in observations.iter().enumerate() {
        let now = t(minute as u64);
        let step = transition(state.as_ref(), *observation, policy, now);
        if let Some(mut next) = step.state {
            if matches!(step.effect, Some(Effect::Firing | Effect::StillFailing)) {
                next.last_notified = Some(now);
                next.notified = vec!["ops".into()];
            }
            state = Some(next);
        }
        effects.push(step.effect);
    }
    (state, effects)
}

use Effect::{Firing, Resolved, StillFailing};
use Observation::{Clean, Match};

#[test]
fn with_after_one_the_first_match_fires() {
    let (state, effects) = run(&Policy::default(), &[Match]);
    assert_eq!(effects, [Some(Firing)]);
    assert_eq!(state.unwrap().phase, Phase::Firing);
}

#[test]
fn after_two_fires_on_the_second_consecutive_match_and_a_clean_sync_resets_the_count() {
    let policy = Policy {
        after: 2,
        ..Policy::default()
    };
    let (state, effects) = run(&policy, &[Match, Clean, Match, Match]);
    assert_eq!(effects, [None, None, None, Some(Firing)]);
    let state = state.unwrap();
    assert_eq!((state.matches, state.since, state.firing_since), (2, t(2), Some(t(3))));
}

#[test]
fn a_firing_alert_repeats_only_after_the_repeat_interval() {
    let policy = Policy {
        repeat_interval: MINUTE * 2,
        ..Policy::default()
    };
    let (state, effects) = run(&policy, &[Match, Match, Match, Match]);
    assert_eq!(effects, [Some(Firing), None, Some(StillFailing), None]);
    assert_eq!(state.unwrap().matches, 4);
}

#[test]
fn a_zero_repeat_interval_repeats_every_match() {
    let policy = Policy {
        repeat_interval: Duration::ZERO,
        ..Policy::default()
    };
    let (_, effects) = run(&policy, &[Match, Match]);
    assert_eq!(effects, [Some(Firing), Some(StillFailing)]);
}

#[test]
fn resolve_after_two_needs_two_clean_syncs_in_a_row() {
    let policy = Policy {
        resolve_after: 2,
        ..Policy::default()
    };
    let (state, effects) = run(&policy, &[Match, Clean, Match, Clean, Clean]);
    assert_eq!(effects, [Some(Firing), None, None, None, Some(Resolved)]);
    let state = state.unwrap();
    assert_eq!(
        (state.phase, state.matches, state.resolved_at),
        (Phase::Resolved, 2, Some(t(4)))
    );
}

#[test]
fn without_send_resolved_or_anyone_told_a_resolution_is_silent() {
    let quiet = Policy {
        send_resolved: false,
        ..Policy::default()
    };
    assert_eq!(run(&quiet, &[Match, Clean]).1, [Some(Firing), None]);
    // Nobody told: the store notified no channel.
    let step = transition(None, Match, &Policy::default(), t(0));
    let state = step.state.unwrap();
    let step = transition(Some(&state), Clean, &Policy::default(), t(1));
    assert_eq!(step.effect, None);
    assert_eq!(step.state.unwrap().phase, Phase::Resolved);
}

#[test]
fn a_pending_alert_cleared_by_a_clean_sync_sends_nothing() {
    let policy = Policy {
        after: 3,
        ..Policy::default()
    };
    let (state, effects) = run(&policy, &[Match, Match, Clean]);
    assert_eq!(effects, [None, None, None]);
    let state = state.unwrap();
    assert_eq!((state.phase, state.firing_since), (Phase::Resolved, None));
}

#[test]
fn a_firing_alert_nobody_was_told_about_notifies_at_its_next_match() {
    let step = transition(None, Match, &Policy::default(), t(0));
    let untold = step.state.unwrap();
    let step = transition(Some(&untold), Match, &Policy::default(), t(1));
    assert_eq!(step.effect, Some(Firing));
}

#[test]
fn after_resolving_a_new_match_starts_a_new_episode() {
    let (state, effects) = run(&Policy::default(), &[Match, Clean, Match]);
    assert_eq!(effects, [Some(Firing), Some(Resolved), Some(Firing)]);
    let state = state.unwrap();
    assert_eq!((state.since, state.matches, state.resolved_at), (t(2), 1, None));
}

fn observations() -> impl Strategy<Value = Vec<Observation>> {
    prop::collection::vec(prop_oneof![Just(Match), Just(Clean)], 0..60)
}

proptest! {
    /// Whatever the sequence, the messages alternate: a RESOLVED only
    /// after a FIRING, never two FIRINGs without a RESOLVED between them,
    /// and STILL FAILING only while firing.
    #[test]
    fn messages_alternate_and_never_resolve_what_never_fired(
        observed in observations(),
        after in 1u32..4,
        resolve_after in 1u32..4,
        repeat in 0u64..3,
    ) {
        let policy = Policy { after, resolve_after, repeat_interval: MINUTE * repeat as u32, send_resolved: true };
        let (_, effects) = run(&policy, &observed);
        let mut firing = false;
        for effect in effects.into_iter().flatten() {
            match effect {
                Firing => { prop_assert!(!firing, "fired twice"); firing = true; }
                StillFailing => prop_assert!(firing, "still failing while not firing"),
                Resolved => { prop_assert!(firing, "resolved what never fired"); firing = false; }
            }
        }
    }

    /// It fires exactly when `after` matches come in a row.
    #[test]
    fn it_fires_on_the_after_th_consecutive_match(observed in observations(), after in 1u32..5) {
        let policy = Policy { after, ..Policy::default() };
        let (_, effects) = run(&policy, &observed);
        let mut streak = 0;
        let mut firing = false;
        for (observation, effect) in observed.iter().zip(effects) {
            match observation {
                Match => streak += 1,
                Clean => { streak = 0; firing = false; }
            }
            let fires = !firing && streak >= after;
            prop_assert_eq!(effect == Some(Firing), fires);
            if fires { firing = true; }
        }
    }
}

#[test]
fn a_queued_row_says_what_it_is_a_group_apart_from_a_digest() {
    assert_eq!(Effect::kind_of(Some("firing"), false), Some("FIRING"));
    assert_eq!(Effect::kind_of(Some("still_failing"), false), Some("STILL FAILING"));
    assert_eq!(Effect::kind_of(None, true), Some("DIGEST"));
    assert_eq!(Effect::kind_of(Some("group"), true), Some("GROUP"));
    assert_eq!(Effect::kind_of(None, false), None, "a row of an older version");
}
