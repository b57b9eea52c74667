//! What an effect sends, and to whom: the observation's context, the
//! silence or window that mutes it, the recipients, the facts of the
//! message and its rendering for each channel.

use std::time::{Duration, SystemTime};

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::config::Config;
use crate::event::Event;
use crate::quiet::{Mutes, Subject};
use crate::render::{Alert, Facts, Item, Notice, Thread, message_for};
use crate::rules::{Environment, Evidence, Rule};

use super::apply::NewDelivery;
use super::transition::{AlertState, Effect, Phase};

/// What the observations of one step share.
pub(super) struct Cx<'a> {
    pub config: &'a Config,
    pub now: SystemTime,
    pub environment: Environment,
    /// The event observed; none for an absence check.
    pub event: Option<&'a Event>,
    pub mutes: Mutes,
}

/// Where an observation comes from: what its messages are made of.
pub(super) enum Source<'a> {
    /// The rule fired on the event, for these tallies.
    Match(&'a Evidence),
    /// The event showed the alert clean.
    Clean,
    /// The connection has been silent since `quiet_since`.
    Absence {
        connection: &'a KnownConnection,
        quiet_since: SystemTime,
    },
    /// A state the connection is still in (its status, as last known):
    /// a reminder of a connection-lost alert, on a timer.
    Lost(&'a KnownConnection),
    /// An alert an outage held, still firing when the outage resolved.
    Held(&'a KnownConnection),
}

pub(super) struct Observed<'a> {
    pub rule: &'a Rule,
    pub key: &'a AlertKey,
    pub source: Source<'a>,
}

/// The silence or window that mutes this observation's alert now. A
/// data-type matcher (of a silence, or in a window's `when`) is held
/// against the alert's own data types: those its evidence found failed or
/// empty, or its key's; not every data type the sync happened to carry.
/// `firing`: the other firing alerts of its connection (see [`firing_besides`]).
pub(super) fn muted(observed: &Observed<'_>, cx: &Cx<'_>, firing: &[AlertKey]) -> Option<String> {
    let (event, data_types): (Event, Vec<&str>) = match (&observed.source, cx.event) {
        (Source::Absence { connection, .. } | Source::Lost(connection) | Source::Held(connection), _) => {
            (connection.as_event(), Vec::new())
        }
        (Source::Match(evidence), Some(event)) => {
            let mut data_types: Vec<&str> = evidence
                .tallies()
                .iter()
                .filter_map(|&i| event.tallies.get(i)?.data_type.as_deref())
                .chain(observed.key.data_type.as_deref())
                .collect();
            data_types.sort_unstable();
            data_types.dedup();
            (event.about(&data_types), data_types)
        }
        (_, Some(event)) => {
            let data_types: Vec<&str> = observed.key.data_type.as_deref().into_iter().collect();
            (event.about(&data_types), data_types)
        }
        (_, None) => return None,
    };
    let subject = Subject {
        rule: &observed.rule.name,
        connection: Some(observed.key.connection.as_str()),
        business: event.business_name.as_deref(),
        service: event.service.as_deref(),
        environment: cx.environment,
        data_types,
        event: &event,
        firing,
    };
    cx.mutes.muted_by(&subject, cx.now)
}

/// The firing alerts among `active` (a connection's) other than `key`:
/// what an inhibit rule may be muting `key` for.
pub fn firing_besides(key: &AlertKey, active: Vec<(AlertKey, AlertState)>) -> Vec<AlertKey> {
    (active.into_iter())
        .filter(|(other, state)| other != key && state.phase == Phase::Firing)
        .map(|(other, _)| other)
        .collect()
}

/// Who is told: the rule's channels when it fires or repeats; the ones
/// that were told it fired when it resolves (and still exist). When none
/// of those exists any more (a reload renamed the channel), the rule's
/// channels now: a renamed channel must not be left with a CRITICAL as its
/// last word.
pub(super) fn recipients(effect: Effect, rule: &Rule, state: Option<&AlertState>, config: &Config) -> Vec<String> {
    let existing = |names: &[String]| -> Vec<String> {
        (names.iter())
            .filter(|name| config.channels.contains_key(*name))
            .cloned()
            .collect()
    };
    match effect {
        Effect::Firing | Effect::StillFailing => existing(&rule.notify),
        Effect::Resolved => {
            let told = state.map(|s| s.notified.as_slice()).unwrap_or_default();
            let channels = match existing(told) {
                none if none.is_empty() && !told.is_empty() => existing(&rule.notify),
                some => some,
            };
            // `send_resolved: false` spares people an all-clear; an
            // incident or an Alertmanager alert must still be closed.
            (channels.into_iter())
                .filter(|name| rule.send_resolved || must_hear_resolved(config, name))
                .collect()
        }
    }
}

/// Whether channel `name` keeps an alert open until told it is over.
fn must_hear_resolved(config: &Config, name: &str) -> bool {
    config.channels.get(name).is_some_and(|c| c.kind.must_hear_resolved())
}

/// Whether the alert in `state` must be resolved to one of the channels
/// told it fired, whatever its rule's `send_resolved` says.
pub(super) fn owes_resolved(config: &Config, state: Option<&AlertState>) -> bool {
    state.is_some_and(|s| s.notified.iter().any(|name| must_hear_resolved(config, name)))
}

pub(super) fn facts(
    effect: Effect,
    observed: &Observed<'_>,
    before: Option<&AlertState>,
    after: &AlertState,
    cx: &Cx<'_>,
) -> Facts {
    let firing_since = after.firing_since.unwrap_or(after.since);
    // An alert on a state counts checks, not failing syncs: none are said.
    let counts_syncs = !observed.rule.watches_a_state();
    let failing = |matches: u64| if counts_syncs { matches } else { 0 };
    let notice = match effect {
        Effect::Firing => Notice::Firing,
        Effect::StillFailing => Notice::StillFailing {
            since: firing_since,
            failing: failing(after.matches),
        },
        Effect::Resolved => Notice::Resolved {
            since: firing_since,
            lasted: cx.now.duration_since(firing_since).unwrap_or(Duration::ZERO),
            failing: failing(before.map_or(after.matches, |s| s.matches)),
            clean_request: cx.event.and_then(|e| e.request_id.clone()),
            reason: None,
        },
    };
    let mut facts = match (&observed.source, cx.event) {
        (Source::Match(evidence), Some(event)) => Facts::gather(&Alert {
            rule: observed.rule,
            event,
            evidence,
            environment: cx.environment,
            received_at: cx.now,
        }),
        (
            Source::Absence {
                connection,
                quiet_since,
            },
            _,
        ) => Facts::absence(observed.rule, connection, *quiet_since, cx.now),
        (Source::Held(connection), _) => {
            let mut facts = Facts::resolved(observed.rule, &connection.as_event(), cx.environment, cx.now);
            facts.headline = "still failing after the outage of its service".into();
            facts
        }
        (Source::Lost(connection), _) => {
            let mut facts = Facts::resolved(observed.rule, &connection.as_event(), cx.environment, cx.now);
            let status = connection.status.as_deref().unwrap_or("not active");
            facts.headline = format!("connection {status}");
            facts
        }
        (_, event) => {
            let fallback = Event::default();
            Facts::resolved(observed.rule, event.unwrap_or(&fallback), cx.environment, cx.now)
        }
    };
    facts.notice = notice;
    facts.thread = Some(Thread {
        key: observed.key.to_string(),
        since: firing_since,
    });
    facts
}

pub(super) fn render_for(config: &Config, channels: &[String], facts: &Facts) -> Vec<NewDelivery> {
    let facts = &facts.clone().linked(config.server.public_url.as_deref());
    channels
        .iter()
        .filter_map(|name| {
            let message = message_for(&config.channels.get(name)?.kind, facts);
            Some(NewDelivery {
                channel: name.clone(),
                message,
                item: Some(Item::of(facts)),
            })
        })
        .collect()
}
