//! Reminders on a timer for alerts whose condition is a state, not an
//! event: a lost connection, a connection that stopped syncing. No further
//! matching event comes to remind anyone, so the timer does, as
//! Alertmanager's `repeat_interval` does; and when the silence or window
//! that held such an alert back ends, its channels are told at once.

use std::time::SystemTime;

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::config::Config;
use crate::quiet::Mutes;

use super::apply::{Applied, HELD_BY, Notification, Transition, policy};
use super::effects::{Cx, Observed, Source, facts, muted, recipients, render_for};
use super::transition::{AlertState, Effect, Phase, repeat_due};

/// Whether [`remind`] could have anything to do for `key` in `state` at
/// `now`, judged without its connection or the silences: the sweep runs
/// every few seconds over every active alert, and only these are worth
/// reading the connection (and, on PostgreSQL, taking its lock) for.
pub fn may_remind(config: &Config, (key, state): (&AlertKey, &AlertState), now: SystemTime) -> bool {
    let Some(rule) = config.rules.iter().find(|r| r.name == key.rule) else {
        return false;
    };
    let lost = rule.watches_connection();
    // Held by an outage: told when the outage resolves, not before.
    if state.muted_by.as_deref().is_some_and(|by| by.starts_with(HELD_BY)) {
        return false;
    }
    let held = state.muted_by.is_some() || state.last_notified.is_none();
    state.phase == Phase::Firing && rule.watches_a_state() && (held || (lost && repeat_due(state, &policy(rule), now)))
}

/// What is due for the firing alert `key` of a state rule at `now`: its
/// new state and what to queue; `None` when nothing is.
///
/// - Held back (a silence or window muted its last message) or never told:
///   told now, if nothing mutes it now.
/// - A connection-lost alert told longer than `repeat_interval` ago: a
///   STILL FAILING. (An absence alert's repeats come from its own check,
///   which also sees whether the connection synced meanwhile.)
///
/// `firing`: the other firing alerts of its connection, for the inhibit
/// rules (an absence alert muted while its connection was lost is told
/// once that alert resolves).
pub fn remind(
    config: &Config,
    (key, state): (&AlertKey, &AlertState),
    (connection, firing): (Option<&KnownConnection>, &[AlertKey]),
    mutes: &Mutes,
    now: SystemTime,
) -> Option<(AlertState, Applied)> {
    if !may_remind(config, (key, state), now) {
        return None;
    }
    let rule = config.rules.iter().find(|r| r.name == key.rule)?;
    let connection = connection?;
    let lost = rule.watches_connection();
    // Back, but not yet resolved by the event that says so: not a reminder.
    if lost && connection.is_expected_to_sync() {
        return None;
    }
    let effect = match state.last_notified {
        None => Effect::Firing,
        Some(_) => Effect::StillFailing,
    };
    let channels = recipients(effect, rule, Some(state), config);
    let source = match lost {
        true => Source::Lost(connection),
        false => Source::Absence {
            connection,
            quiet_since: connection.last_sync.unwrap_or(connection.first_seen),
        },
    };
    let observed = Observed { rule, key, source };
    let cx = Cx {
        config,
        now,
        environment: connection.environment,
        event: None,
        mutes: mutes.clone(),
    };
    if channels.is_empty() || muted(&observed, &cx, firing).is_some() {
        return None;
    }
    let mut next = state.clone();
    next.last_notified = Some(now);
    next.notified = channels.clone();
    next.muted_by = None;
    let facts = facts(effect, &observed, Some(state), &next, &cx);
    let mut applied = Applied::default();
    applied.notifications.push(Notification {
        key: key.clone(),
        effect,
        deliveries: render_for(config, &channels, &facts),
    });
    applied.transitions.push(Transition {
        key: key.clone(),
        from: Some(Phase::Firing),
        to: Phase::Firing,
        effect: Some(effect),
        channels,
        muted_by: None,
    });
    Some((next, applied))
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::config::load_str;
    use crate::quiet::{Matchers, Silence};
    use crate::rules::Environment;

    const RULES: &str = "channels:
  ops:
    slack: { webhook_url: 'https://hooks.slack.com/services/T0/B0/x' }
defaults:
  notify: [ops]
  repeat_interval: 1h
rules:
  - name: lost
    when: { event: connectionStatus, connection_status: [disconnected] }
  - name: quiet
    when: { no_sync_for: 2h }
  - name: failed
    when: { failed: { above: 0 } }
inhibit:
  - when_firing: { rule: lost }
    mute: { rule: quiet }
    equal: [connection]
";

    fn at(minutes: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + minutes * 60)
    }

    fn key(rule: &str) -> AlertKey {
        AlertKey {
            rule: rule.into(),
            connection: "CON-1".into(),
            data_type: None,
        }
    }

    fn connection(status: &str) -> KnownConnection {
        KnownConnection {
            id: "CON-1".into(),
            first_seen: at(0),
            last_event: at(0),
            last_event_name: Some("connectionStatus".into()),
            last_sync: Some(at(0)),
            status: Some(status.into()),
            expected_since: None,
            status_at: Some(at(0)),
            service: Some("xero".into()),
            business: Some("Acme".into()),
            environment: Environment::Production,
        }
    }

    fn told_at(minutes: u64) -> AlertState {
        AlertState {
            phase: Phase::Firing,
            since: at(0),
            firing_since: Some(at(0)),
            resolved_at: None,
            matches: 1,
            streak: 1,
            clean: 0,
            last_notified: Some(at(minutes)),
            notified: vec!["ops".into()],
            muted_by: None,
        }
    }

    fn remind_at(rule: &str, state: &AlertState, status: &str, mutes: &Mutes, minutes: u64) -> Option<Effect> {
        let config = load_str(RULES, Path::new("rules.yaml"), &|_| None).unwrap();
        let (_, applied) = remind(
            &config,
            (&key(rule), state),
            (Some(&connection(status)), &[]),
            mutes,
            at(minutes),
        )?;
        Some(applied.notifications[0].effect)
    }

    #[test]
    fn a_lost_connection_is_reminded_after_repeat_interval_without_an_event() {
        let none = Mutes::default();
        assert_eq!(remind_at("lost", &told_at(0), "disconnected", &none, 30), None);
        assert_eq!(
            remind_at("lost", &told_at(0), "disconnected", &none, 61),
            Some(Effect::StillFailing)
        );
        assert_eq!(remind_at("lost", &told_at(0), "active", &none, 61), None, "it is back");
        assert_eq!(
            remind_at("failed", &told_at(0), "disconnected", &none, 61),
            None,
            "events remind"
        );
        assert_eq!(
            remind_at("quiet", &told_at(0), "active", &none, 61),
            None,
            "its check reminds"
        );
    }

    #[test]
    fn a_state_alert_held_by_a_silence_is_told_when_it_ends() {
        let held = AlertState {
            muted_by: Some("silence 5113ce00".into()),
            ..told_at(0)
        };
        let silence = Silence {
            id: "5113ce00".into(),
            matchers: Matchers {
                connection: Some("CON-1".into()),
                ..Matchers::default()
            },
            starts_at: at(0),
            ends_at: at(20),
            comment: "maintenance".into(),
            created_at: at(0),
            expired_at: None,
        };
        let silenced = Mutes {
            silences: Arc::new(vec![silence]),
            ..Mutes::default()
        };
        assert_eq!(
            remind_at("quiet", &held, "active", &silenced, 10),
            None,
            "still silenced"
        );
        assert_eq!(
            remind_at("quiet", &held, "active", &silenced, 21),
            Some(Effect::StillFailing)
        );
        let never_told = AlertState {
            last_notified: None,
            notified: Vec::new(),
            ..held
        };
        assert_eq!(
            remind_at("lost", &never_told, "disconnected", &silenced, 21),
            Some(Effect::Firing)
        );
    }

    #[test]
    fn an_absence_alert_muted_by_a_lost_connection_is_told_once_that_alert_resolves() {
        let config = load_str(RULES, Path::new("rules.yaml"), &|_| None).unwrap();
        let mutes = Mutes {
            inhibit: config.inhibit.clone(),
            ..Mutes::default()
        };
        let held = AlertState {
            muted_by: Some("inhibit lost/CON-1".into()),
            ..told_at(0)
        };
        let remind_with = |firing: &[AlertKey]| {
            let reminded = remind(
                &config,
                (&key("quiet"), &held),
                (Some(&connection("active")), firing),
                &mutes,
                at(5),
            );
            reminded.map(|(_, applied)| applied.notifications[0].effect)
        };
        assert_eq!(remind_with(&[key("lost")]), None, "still lost");
        assert_eq!(remind_with(&[]), Some(Effect::StillFailing));
    }

    #[test]
    fn an_alert_held_by_an_outage_is_not_reminded_before_the_outage_ends() {
        let held = AlertState {
            muted_by: Some("held by outage provider-outage".into()),
            last_notified: None,
            notified: Vec::new(),
            ..told_at(0)
        };
        let none = Mutes::default();
        assert_eq!(remind_at("quiet", &held, "active", &none, 61), None);
        assert_eq!(remind_at("lost", &held, "disconnected", &none, 61), None);
    }
}
