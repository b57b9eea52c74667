//! One event's effect on alert state: which keys it matched, which it
//! showed clean, what each transition sends. Runs inside the store's
//! transaction, against the states the store holds, so an event and the
//! state it moved are committed together.

use std::sync::Arc;
use std::time::SystemTime;

use crate::absence::{KnownConnection, status_time};
use crate::alerts::AlertKey;
use crate::config::Config;
use crate::event::Event;
use crate::quiet::{Mutes, Silence};
use crate::render::{Item, Message};
use crate::rules::{Context, Environment, Evidence, Rule, Verdict, evaluate_in};

use super::close::close;
use super::effects::{Cx, Observed, Source, facts, firing_besides, muted, owes_resolved, recipients, render_for};
use super::hold::{held, held_back};
use super::transition::{AlertState, Effect, Observation, Phase, Policy, transition};

/// A rule that fired on the event.
#[derive(Debug, Clone)]
pub struct Matched {
    /// Index into `config.rules`.
    pub rule: usize,
    pub key: AlertKey,
    pub evidence: Evidence,
}

/// What the lifecycle needs of one event.
#[derive(Debug, Clone)]
pub struct AlertInput {
    /// The configuration the event was evaluated with: rules and channels.
    pub config: Arc<Config>,
    pub event: Arc<Event>,
    pub environment: Environment,
    pub received_at: SystemTime,
    pub matches: Vec<Matched>,
    /// The silences in force when the event arrived.
    pub silences: Arc<Vec<Silence>>,
    /// A `connectionStatus` older than the status applied to its
    /// connection (see [`AlertInput::as_known`]): it moves no alert.
    pub stale: bool,
}

/// The rules that fire on `event` from a connection in `environment`,
/// each with its alert key.
pub fn matches_of(config: &Config, event: &Event, environment: Environment) -> Vec<Matched> {
    evaluate_in(&config.rules, event, environment)
        .into_iter()
        .map(|m| Matched {
            rule: rule_index(config, m.rule),
            key: AlertKey::of(&m.rule.name, event),
            evidence: m.evidence,
        })
        .collect()
}

/// Where `rule` (borrowed from `config.rules`) sits in the list.
fn rule_index(config: &Config, rule: &Rule) -> usize {
    config
        .rules
        .iter()
        .position(|r| std::ptr::eq(r, rule))
        .expect("a match borrows its rule from the config")
}

impl AlertInput {
    /// The input as the store knows the event's connection, when that
    /// changes it: `None` otherwise.
    ///
    /// - An event without `sandbox` (Railz's `auth` and `connectionStatus`
    ///   carry none) is evaluated in the connection's known environment: a
    ///   sandbox connection stays sandbox.
    /// - A `connectionStatus` older (by `effectiveOn`) than the status
    ///   applied to the connection is stale: Railz retried it after a
    ///   newer one. It fires nothing and resolves nothing.
    pub fn as_known(&self, known: Option<&KnownConnection>) -> Option<AlertInput> {
        let known = known?;
        let environment = match self.event.sandbox {
            None => known.environment,
            Some(_) => self.environment,
        };
        let effective = status_time(&self.event, self.received_at);
        let stale = self.event.new_status.is_some() && known.is_stale(effective);
        if environment == self.environment && !stale {
            return None;
        }
        let matches = match stale {
            true => Vec::new(),
            false => matches_of(&self.config, &self.event, environment),
        };
        Some(AlertInput {
            environment,
            matches,
            stale,
            ..self.clone()
        })
    }
}

/// Alert states as a store keeps them.
pub trait AlertStates {
    type Error;
    fn get(&mut self, key: &AlertKey) -> Result<Option<AlertState>, Self::Error>;
    /// The pending and firing alerts of `connection`.
    fn active(&mut self, connection: &str) -> Result<Vec<(AlertKey, AlertState)>, Self::Error>;
    fn put(&mut self, key: &AlertKey, state: &AlertState) -> Result<(), Self::Error>;
    /// The outage firing for `service`, if any (see [`HELD_BY`]); a store
    /// that keeps no outages has none.
    fn outage_of(&mut self, _service: &str) -> Result<Option<String>, Self::Error> {
        Ok(None)
    }
}

/// What a held alert's `muted_by` starts with: `held by outage NAME`.
pub const HELD_BY: &str = "held by outage ";

/// One channel's message to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub channel: String,
    pub message: Message,
    /// What a digest shows of it, should it go out in one.
    pub item: Option<Item>,
}

/// A message to queue, and the alert it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub key: AlertKey,
    pub effect: Effect,
    pub deliveries: Vec<NewDelivery>,
}

/// One key's move, for the audit trail (`explain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub key: AlertKey,
    pub from: Option<Phase>,
    pub to: Phase,
    pub effect: Option<Effect>,
    /// The channels the effect was queued for.
    pub channels: Vec<String>,
    /// What held the effect back: `silence 1a2b3c4d`, `maintenance w`.
    pub muted_by: Option<String>,
}

impl Transition {
    /// `bills-keep-failing/CON-1: pending → firing, FIRING to ops`.
    pub fn describe(&self) -> String {
        let from = self.from.map_or("new", Phase::as_str);
        let mut text = format!("{}: {from} → {}", self.key, self.to.as_str());
        let told = match self.effect {
            Some(Effect::Firing) => "FIRING",
            Some(Effect::StillFailing) => "STILL FAILING",
            Some(Effect::Resolved) => "RESOLVED",
            None => return text,
        };
        if let Some(by) = self.muted_by.as_deref().filter(|by| by.starts_with(HELD_BY)) {
            text.push_str(&format!(", {told} {by}"));
            return text;
        }
        if let Some(by) = &self.muted_by {
            text.push_str(&format!(", {told} muted by {by}"));
            return text;
        }
        match self.channels.is_empty() {
            true => text.push_str(&format!(", {told} not sent (no channel)")),
            false => text.push_str(&format!(", {told} to {}", self.channels.join(", "))),
        }
        text
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    pub notifications: Vec<Notification>,
    pub transitions: Vec<Transition>,
    /// Matched keys that sent nothing: pending, or firing within
    /// `repeat_interval`.
    pub quiet: Vec<AlertKey>,
    /// What the event did not do, and why (a stale `connectionStatus`).
    pub notes: Vec<String>,
}

impl Applied {
    /// Each transition described, then each note: what the event row
    /// keeps for `history` and `explain`.
    pub fn described(&self) -> Vec<String> {
        let transitions = self.transitions.iter().map(Transition::describe);
        transitions.chain(self.notes.iter().cloned()).collect()
    }

    /// Keys that queued messages.
    pub fn notified(&self) -> impl Iterator<Item = &AlertKey> {
        self.notifications.iter().map(|n| &n.key)
    }
}

pub fn policy(rule: &Rule) -> Policy {
    Policy {
        after: rule.after,
        resolve_after: rule.resolve_after,
        repeat_interval: rule.repeat_interval,
        send_resolved: rule.send_resolved,
    }
}

/// Runs the event's observations through the state machine against
/// `states`, storing each new state; returns what to queue.
pub fn apply<S: AlertStates>(states: &mut S, input: &AlertInput) -> Result<Applied, S::Error> {
    let mut applied = Applied::default();
    if input.stale {
        let status = input.event.new_status.as_deref().unwrap_or("-");
        let on = input.event.effective_on.as_deref().unwrap_or("(none)");
        applied.notes.push(format!(
            "connectionStatus {status} (effectiveOn {on}) ignored: older than the status already applied to the connection"
        ));
    }
    let cx = Cx {
        config: &input.config,
        now: input.received_at,
        environment: input.environment,
        event: Some(&input.event),
        mutes: Mutes {
            silences: input.silences.clone(),
            windows: input.config.maintenance.clone(),
            inhibit: input.config.inhibit.clone(),
        },
    };
    for matched in &input.matches {
        let rule = &input.config.rules[matched.rule];
        let state = states.get(&matched.key)?;
        let observed = Observed {
            rule,
            key: &matched.key,
            source: Source::Match(&matched.evidence),
        };
        let quiet = record(states, &cx, &observed, state.as_ref(), Observation::Match, &mut applied)?;
        if quiet {
            applied.quiet.push(matched.key.clone());
        }
        if input.event.connection_id.is_none() {
            end_at_once(states, &matched.key, cx.now)?;
        }
    }
    let Some(connection) = input.event.connection_id.as_deref() else {
        return Ok(applied);
    };
    if input.stale || !(input.event.is_sync() || input.event.shows_connection_back()) {
        return Ok(applied);
    }
    for (key, state) in states.active(connection)? {
        if input.matches.iter().any(|m| m.key == key) {
            continue;
        }
        // A rule removed by a reload can no longer say what clean means
        // (the reload closed its alerts).
        let Some(rule) = input.config.rules.iter().find(|r| r.name == key.rule) else {
            continue;
        };
        match seen(rule, &key, &input.event, input.environment) {
            Seen::Nothing => continue,
            Seen::NoLongerApplies => {
                let about = KnownConnection::observe(None, &input.event, input.environment, cx.now);
                let (next, closed) = close(&input.config, &key, &state, about.as_ref(), cx.now, NO_LONGER_APPLIES);
                states.put(&key, &next)?;
                applied.notifications.extend(closed.notifications);
                applied.transitions.extend(closed.transitions);
                continue;
            }
            Seen::Clean => {}
        }
        let observed = Observed {
            rule,
            key: &key,
            source: Source::Clean,
        };
        record(states, &cx, &observed, Some(&state), Observation::Clean, &mut applied)?;
    }
    Ok(applied)
}

/// Why an alert is closed when its rule can never apply to its connection.
pub const NO_LONGER_APPLIES: &str =
    "the rule no longer applies to this connection (its service, business or environment)";

/// Whether `rule` can never apply to the connection `event` is from any
/// more: a matcher on its service, business, id or environment says no (a
/// reload narrowed the rule, or the connection moved to sandbox). Its
/// alert would otherwise wait for ever for a clean sync.
pub fn no_longer_applies(rule: &Rule, event: &Event, environment: Environment) -> bool {
    rule.absence.is_none() && rule.when.verdict(&Context { event, environment }) == Verdict::Never
}

/// An event that names no connection (`login`, ...) is a notice of its
/// own, not a lasting condition: no sync of its connection will ever come
/// to resolve it, so once firing it ends at once, silently, and the next
/// such event fires anew. (`after` still counts consecutive ones.)
fn end_at_once<S: AlertStates>(states: &mut S, key: &AlertKey, now: SystemTime) -> Result<(), S::Error> {
    let Some(mut state) = states.get(key)?.filter(|s| s.phase == Phase::Firing) else {
        return Ok(());
    };
    state.phase = Phase::Resolved;
    state.resolved_at = Some(now);
    states.put(key, &state)
}

/// An absence rule's deadline passed for `connection`, silent since
/// `quiet_since`: a match of its alert key (rule + connection).
pub fn apply_absence<S: AlertStates>(
    states: &mut S,
    config: &Config,
    rule: &Rule,
    connection: &KnownConnection,
    quiet_since: SystemTime,
    now: SystemTime,
    silences: Arc<Vec<Silence>>,
) -> Result<(Applied, Option<AlertState>), S::Error> {
    let mut applied = Applied::default();
    let key = AlertKey {
        rule: rule.name.clone(),
        connection: connection.id.clone(),
        data_type: None,
    };
    let cx = Cx {
        config,
        now,
        environment: connection.environment,
        event: None,
        mutes: Mutes {
            silences,
            windows: config.maintenance.clone(),
            inhibit: config.inhibit.clone(),
        },
    };
    let state = states.get(&key)?;
    let observed = Observed {
        rule,
        key: &key,
        source: Source::Absence {
            connection,
            quiet_since,
        },
    };
    record(states, &cx, &observed, state.as_ref(), Observation::Match, &mut applied)?;
    let after = states.get(&key)?;
    Ok((applied, after))
}

/// What one event says of an active alert that it did not match.
enum Seen {
    /// The problem is not there (see [`seen`]).
    Clean,
    /// Nothing: not a sync of it, or out of the rule's scope.
    Nothing,
    /// The rule can never apply to this connection any more (see
    /// [`no_longer_applies`]).
    NoLongerApplies,
}

/// What `event` says of `rule`'s alert `key`. A connection-lost alert is
/// over when the connection is back; an absence alert when the connection
/// syncs; any other on a sync of its connection (and data type) that the
/// rule applies to and on which it does not fire (see
/// [`crate::rules::Condition::is_clean`]). A full sync speaks for the
/// per-type alerts of the data types it carries, as if each had arrived as
/// its own `dataPerType` event. The rule's verdict on the event is taken
/// once: it also says when the rule can no longer apply at all.
fn seen(rule: &Rule, key: &AlertKey, event: &Event, environment: Environment) -> Seen {
    let clean_if = |yes: bool| if yes { Seen::Clean } else { Seen::Nothing };
    if rule.watches_connection() {
        return clean_if(event.shows_connection_back());
    }
    if rule.absence.is_some() {
        return clean_if(event.is_sync());
    }
    if !event.is_sync() {
        return Seen::Nothing;
    }
    let verdict = |event: &Event| rule.when.verdict(&Context { event, environment });
    let whole = verdict(event);
    if whole == Verdict::Never {
        return Seen::NoLongerApplies;
    }
    match (&key.data_type, AlertKey::of("", event).data_type) {
        (Some(data_type), None) => {
            let narrowed = event.narrowed_to(data_type);
            clean_if(narrowed.is_some_and(|narrowed| verdict(&narrowed) == Verdict::Clean))
        }
        (ours, theirs) => clean_if(*ours == theirs && whole == Verdict::Clean),
    }
}

/// Moves one key and queues its effect; true when a match sent nothing.
fn record<S: AlertStates>(
    states: &mut S,
    cx: &Cx<'_>,
    observed: &Observed<'_>,
    state: Option<&AlertState>,
    observation: Observation,
    applied: &mut Applied,
) -> Result<bool, S::Error> {
    let mut policy = policy(observed.rule);
    policy.send_resolved |= owes_resolved(cx.config, state);
    let step = transition(state, observation, &policy, cx.now);
    let Some(mut next) = step.state else {
        return Ok(false);
    };
    let mut channels = Vec::new();
    let mut deliveries = Vec::new();
    let mut muted_by = None;
    if let Some(effect) = step.effect {
        channels = recipients(effect, observed.rule, state, cx.config);
        // A RESOLVED goes out whatever mutes the alert now: a silence
        // means "stop paging me", not "never tell me it is over", and the
        // channels it goes to were told it fired.
        let mutable = effect != Effect::Resolved && !channels.is_empty();
        // Inhibit rules look at the connection's other firing alerts, as
        // they stand now in this transaction; read only when there are any.
        let firing = match mutable && !cx.mutes.inhibit.is_empty() {
            true => firing_besides(observed.key, states.active(&observed.key.connection)?),
            false => Vec::new(),
        };
        muted_by = mutable.then(|| muted(observed, cx, &firing)).flatten();
        if muted_by.is_none() && mutable && held_back(state) {
            muted_by = held(states, observed, cx)?;
        }
        if muted_by.is_some() {
            // Held back: whoever should hear of it hears at its next match
            // after the silence or window, and of nothing meanwhile. When
            // it was last told stays true (`alerts`, the page).
            next.muted_by = muted_by.clone();
        } else if !channels.is_empty() {
            let facts = facts(effect, observed, state, &next, cx);
            deliveries = render_for(cx.config, &channels, &facts);
        }
        if matches!(effect, Effect::Firing | Effect::StillFailing) && !deliveries.is_empty() {
            next.last_notified = Some(cx.now);
            next.notified = channels.clone();
            next.muted_by = None;
        }
    }
    states.put(observed.key, &next)?;
    let from = state.filter(|s| s.phase != Phase::Resolved).map(|s| s.phase);
    // A firing alert that matches again within repeat_interval moves
    // nothing worth telling (the event lists it as kept quiet).
    let moved = from != Some(Phase::Firing) || next.phase != Phase::Firing || step.effect.is_some();
    if moved {
        applied.transitions.push(Transition {
            key: observed.key.clone(),
            from,
            to: next.phase,
            effect: step.effect,
            channels: channels.clone(),
            muted_by,
        });
    }
    let quiet = deliveries.is_empty();
    if let Some(effect) = step.effect.filter(|_| !quiet) {
        applied.notifications.push(Notification {
            key: observed.key.clone(),
            effect,
            deliveries,
        });
    }
    Ok(quiet)
}
