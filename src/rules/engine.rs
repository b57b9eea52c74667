//! A rule set evaluated against one event: cost linear in the rules, no
//! allocation for rules that do not fire.

use std::fmt;
use std::time::Duration;

use crate::event::Event;

use super::condition::{Condition, Context, Environment, Evidence};
use super::field::Field;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [(&'static str, Severity); 3] = [
        ("critical", Severity::Critical),
        ("warning", Severity::Warning),
        ("info", Severity::Info),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One validated rule from rules.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub description: Option<String>,
    /// A link shown in every message of the rule's alerts: what to do.
    pub runbook: Option<String>,
    /// The keys of `when`, all of which must hold.
    pub when: Condition,
    pub severity: Severity,
    /// Channel names, each checked at load to exist; empty records only.
    pub notify: Vec<String>,
    /// How long a firing alert stays quiet; zero notifies every match.
    pub repeat_interval: Duration,
    /// Consecutive matching syncs before the alert fires (1 or more).
    pub after: u32,
    /// Consecutive clean syncs before a firing alert resolves (1 or more).
    pub resolve_after: u32,
    /// Whether the channels that were told it fired are told it resolved.
    pub send_resolved: bool,
    /// `no_sync_for`: an absence rule, checked on a timer against each
    /// known connection (its `when` then holds only matchers on the
    /// connection's last event); it never fires on an event.
    pub absence: Option<Duration>,
}

impl Rule {
    /// A connection-lost rule: it matches `connectionStatus` events by
    /// `connection_status` or `disconnect_reason`, and its alert is over
    /// when the connection is back (a sync, `auth`, or `newStatus:
    /// active`) rather than when a sync is clean.
    pub fn watches_connection(&self) -> bool {
        self.when
            .names_field(&[Field::ConnectionStatus, Field::DisconnectReason])
    }

    /// Whether its alerts are about a state (a lost connection, no sync
    /// for a while) rather than about syncs: no sync ever matches them, so
    /// they count checks, not failing syncs, and remind on a timer.
    pub fn watches_a_state(&self) -> bool {
        self.absence.is_some() || self.watches_connection()
    }
}

/// A rule that fired, with the tallies that made it fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match<'r> {
    pub rule: &'r Rule,
    pub evidence: Evidence,
}

/// A rule that did not fire, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss<'r> {
    pub rule: &'r Rule,
    pub reason: String,
}

/// The rules that fire for `event`, in file order.
pub fn evaluate<'r>(rules: &'r [Rule], event: &Event, missing_sandbox: Environment) -> Vec<Match<'r>> {
    evaluate_in(rules, event, Environment::of(event, missing_sandbox))
}

/// The rules that fire for `event` from a connection in `environment`.
pub fn evaluate_in<'r>(rules: &'r [Rule], event: &Event, environment: Environment) -> Vec<Match<'r>> {
    let cx = Context { event, environment };
    let mut matches = Vec::new();
    let mut evidence = Evidence::default();
    for rule in rules.iter().filter(|r| r.absence.is_none()) {
        if rule.when.evaluate(&cx, &mut evidence) {
            let evidence = std::mem::take(&mut evidence).sorted();
            matches.push(Match { rule, evidence });
        } else {
            evidence = Evidence::default();
        }
    }
    matches
}

/// Every rule with its verdict, for `syncwatch test` and `explain`: slower
/// than [`evaluate`] because it writes a reason for each miss.
pub fn explain<'r>(rules: &'r [Rule], event: &Event, missing_sandbox: Environment) -> Vec<Result<Match<'r>, Miss<'r>>> {
    let cx = Context {
        event,
        environment: Environment::of(event, missing_sandbox),
    };
    rules
        .iter()
        .map(|rule| {
            if let Some(silence) = rule.absence {
                let reason = format!(
                    "an absence rule (no_sync_for {}): checked against each known connection, not on events",
                    crate::config::format_duration(silence)
                );
                return Err(Miss { rule, reason });
            }
            let mut evidence = Evidence::default();
            if rule.when.evaluate(&cx, &mut evidence) {
                return Ok(Match {
                    rule,
                    evidence: evidence.sorted(),
                });
            }
            let reason = rule.when.explain_miss(&cx).unwrap_or_default();
            Err(Miss { rule, reason })
        })
        .collect()
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
