//! Closing an alert that no event will ever resolve: its rule was removed
//! or renamed by a reload, an absence rule no longer holds after a reload,
//! or its connection was forgotten. The channels that were told it fired
//! are told it is over, and why; nothing is left firing for ever.

use std::time::{Duration, SystemTime};

use crate::absence::{KnownConnection, watches};
use crate::alerts::AlertKey;
use crate::config::Config;
use crate::event::Event;
use crate::render::{Facts, Notice, Thread};
use crate::rules::{Condition, Environment, Rule, Severity};

use super::apply::{Applied, NO_LONGER_APPLIES, Notification, Transition, no_longer_applies};
use super::effects::{owes_resolved, recipients, render_for};
use super::transition::{AlertState, Effect, Phase};

/// Which pending and firing alerts a store closes, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closing {
    /// Those nothing would resolve under the configuration in force (at
    /// start and at each reload): their rule was removed or renamed, or an
    /// absence rule no longer holds for their connection.
    Unresolvable,
    /// Those of the connections without an event since `before`, about to
    /// be forgotten after `storage.forget_after` (`quiet_for`).
    Forgotten { before: SystemTime, quiet_for: Duration },
    /// Those of one connection an operator forgets.
    Connection(String),
}

impl Closing {
    /// Whether the alert `key` (of `connection`, as known) is closed, and
    /// why, under `config` at `now`.
    pub fn reason(
        &self,
        config: &Config,
        key: &AlertKey,
        connection: Option<&KnownConnection>,
        now: SystemTime,
    ) -> Option<String> {
        match self {
            Closing::Unresolvable => unresolvable(config, key, connection, now),
            Closing::Forgotten { before, quiet_for } => connection.filter(|c| c.last_event < *before).map(|_| {
                format!(
                    "no longer watched: no event for {}",
                    crate::config::format_duration(*quiet_for)
                )
            }),
            Closing::Connection(id) => (key.connection == *id)
                .then(|| "its connection was forgotten (`syncwatch connections forget`)".to_owned()),
        }
    }

    /// The one connection it is about, if it is about one.
    pub fn connection(&self) -> Option<&str> {
        match self {
            Closing::Connection(id) => Some(id),
            _ => None,
        }
    }
}

/// Why an alert nothing would resolve under `config` must be closed: its
/// rule is gone, or it is an absence alert whose rule no longer holds for
/// its connection, judged by its real last sync (a restart is no sign
/// that a silent connection synced).
fn unresolvable(
    config: &Config,
    key: &AlertKey,
    connection: Option<&KnownConnection>,
    now: SystemTime,
) -> Option<String> {
    let Some(rule) = config.rules.iter().find(|r| r.name == key.rule) else {
        return Some(format!("rule `{}` was removed from rules.yaml", key.rule));
    };
    if connection.is_some_and(|k| no_longer_applies(rule, &k.as_event(), k.environment)) {
        return Some(NO_LONGER_APPLIES.to_owned());
    }
    let limit = rule.absence?;
    let Some(connection) = connection else {
        return Some("its connection is no longer known".to_owned());
    };
    if !watches(rule, &connection.as_event(), connection.environment) {
        return Some("the rule no longer watches this connection".to_owned());
    }
    let Some(start) = connection.clock_start(limit, None) else {
        return Some("the connection is not expected to sync (its status is not active)".to_owned());
    };
    (start + limit > now).then(|| {
        let silent = now.duration_since(start).unwrap_or_default();
        format!(
            "it no longer holds: no sync for {}, and the rule now says no_sync_for {}",
            crate::render::rounded(silent),
            crate::config::format_duration(limit)
        )
    })
}

/// Closes the alert `key` in `state`: resolved at `now`, with a RESOLVED
/// saying `reason` to the channels that were told it fired (those still
/// configured). Returns the new state and what to queue.
pub fn close(
    config: &Config,
    key: &AlertKey,
    state: &AlertState,
    connection: Option<&KnownConnection>,
    now: SystemTime,
    reason: &str,
) -> (AlertState, Applied) {
    let mut next = state.clone();
    next.phase = Phase::Resolved;
    next.resolved_at = Some(now);
    next.streak = 0;
    next.clean = 0;
    let rule = config.rules.iter().find(|r| r.name == key.rule).cloned();
    let rule = rule.unwrap_or_else(|| removed(&key.rule));
    let told = state.phase == Phase::Firing && (rule.send_resolved || owes_resolved(config, Some(state)));
    let channels: Vec<String> = match told {
        true => recipients(Effect::Resolved, &rule, Some(state), config),
        false => Vec::new(),
    };
    let mut applied = Applied::default();
    let effect = (!channels.is_empty()).then_some(Effect::Resolved);
    if effect.is_some() {
        let facts = facts(&rule, key, state, connection, now, reason);
        applied.notifications.push(Notification {
            key: key.clone(),
            effect: Effect::Resolved,
            deliveries: render_for(config, &channels, &facts),
        });
    }
    applied.transitions.push(Transition {
        key: key.clone(),
        from: Some(state.phase),
        to: Phase::Resolved,
        effect,
        channels,
        muted_by: None,
    });
    (next, applied)
}

fn facts(
    rule: &Rule,
    key: &AlertKey,
    state: &AlertState,
    connection: Option<&KnownConnection>,
    now: SystemTime,
    reason: &str,
) -> Facts {
    let event = connection.map(KnownConnection::as_event).unwrap_or_else(|| Event {
        connection_id: Some(key.connection.clone()),
        request_type: key.data_type.clone(),
        ..Event::default()
    });
    let environment = connection.map_or(Environment::Production, |c| c.environment);
    let mut facts = Facts::resolved(rule, &event, environment, now);
    facts.headline = format!("closed: {reason}");
    let since = state.firing_since.unwrap_or(state.since);
    facts.notice = Notice::Resolved {
        since,
        lasted: now.duration_since(since).unwrap_or(Duration::ZERO),
        // An alert on a state counts checks, not failing syncs.
        failing: match rule.watches_a_state() {
            true => 0,
            false => state.matches,
        },
        clean_request: None,
        reason: Some(reason.to_owned()),
    };
    facts.thread = Some(Thread {
        key: key.to_string(),
        since,
    });
    facts
}

/// What stands for a rule that is no longer in rules.yaml.
fn removed(name: &str) -> Rule {
    Rule {
        name: name.to_owned(),
        description: None,
        runbook: None,
        when: Condition::All(Vec::new()),
        severity: Severity::Warning,
        notify: Vec::new(),
        repeat_interval: Duration::ZERO,
        after: 1,
        resolve_after: 1,
        send_resolved: true,
        absence: None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::load_str;

    fn at(hours: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + hours * 3600)
    }

    fn config(rules: &str) -> Config {
        let text = format!(
            "channels:\n  ops:\n    slack: {{ webhook_url: 'https://hooks.slack.com/services/T0/B0/x' }}\ndefaults:\n  notify: [ops]\nrules:\n{rules}"
        );
        load_str(&text, Path::new("rules.yaml"), &|_| None).unwrap()
    }

    fn key(rule: &str) -> AlertKey {
        AlertKey {
            rule: rule.into(),
            connection: "CON-1".into(),
            data_type: None,
        }
    }

    fn connection(last_sync: u64) -> KnownConnection {
        KnownConnection {
            id: "CON-1".into(),
            first_seen: at(0),
            last_event: at(last_sync),
            last_event_name: Some("data".into()),
            last_sync: Some(at(last_sync)),
            status: None,
            expected_since: None,
            status_at: None,
            service: Some("xero".into()),
            business: Some("Acme".into()),
            environment: Environment::Production,
        }
    }

    fn firing() -> AlertState {
        AlertState {
            phase: Phase::Firing,
            since: at(1),
            firing_since: Some(at(1)),
            resolved_at: None,
            matches: 3,
            streak: 3,
            clean: 0,
            last_notified: Some(at(1)),
            notified: vec!["ops".into(), "removed-channel".into()],
            muted_by: None,
        }
    }

    #[test]
    fn an_alert_of_a_removed_rule_or_a_loosened_absence_rule_is_closed() {
        let config = config("  - name: quiet\n    when: { no_sync_for: 26h }\n");
        let (known, now) = (connection(0), at(3));
        let gone = Closing::Unresolvable.reason(&config, &key("bills"), Some(&known), now);
        assert_eq!(gone.as_deref(), Some("rule `bills` was removed from rules.yaml"));
        let loosened = Closing::Unresolvable
            .reason(&config, &key("quiet"), Some(&known), now)
            .unwrap();
        assert!(loosened.starts_with("it no longer holds: no sync for 3h"), "{loosened}");
        let still = Closing::Unresolvable.reason(&config, &key("quiet"), Some(&known), at(27));
        assert_eq!(still, None, "26h without a sync: it still holds");
    }

    #[test]
    fn a_forgotten_connection_closes_its_alerts_and_a_recent_one_does_not() {
        let config = config("  - name: bills\n    when: { failed: { above: 0 } }\n");
        let closing = Closing::Forgotten {
            before: at(10),
            quiet_for: Duration::from_secs(30 * 86_400),
        };
        let reason = closing.reason(&config, &key("bills"), Some(&connection(2)), at(40));
        assert_eq!(reason.as_deref(), Some("no longer watched: no event for 30d"));
        assert_eq!(
            closing.reason(&config, &key("bills"), Some(&connection(12)), at(40)),
            None
        );
    }

    #[test]
    fn closing_tells_the_channels_still_configured_that_were_told() {
        let config = config("  - name: bills\n    when: { failed: { above: 0 } }\n");
        let (next, applied) = close(&config, &key("bills"), &firing(), Some(&connection(0)), at(5), "why");
        assert_eq!(next.phase, Phase::Resolved);
        assert_eq!(applied.notifications.len(), 1);
        assert_eq!(applied.notifications[0].effect, Effect::Resolved);
        let to: Vec<&str> = (applied.notifications[0].deliveries.iter())
            .map(|d| d.channel.as_str())
            .collect();
        assert_eq!(to, ["ops"]);
        let pending = AlertState {
            phase: Phase::Pending,
            ..firing()
        };
        let (_, quiet) = close(&config, &key("bills"), &pending, None, at(5), "why");
        assert!(quiet.notifications.is_empty(), "nobody was told of a pending alert");
    }
}
