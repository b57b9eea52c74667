//! An outage as rules.yaml defines it, validated.

use std::time::Duration;

use crate::event::Event;
use crate::rules::{Condition, Environment, Rule};

/// What one outage is counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// `serviceName`: one outage per provider (the default).
    Service,
    /// The data type: one outage per data type, whatever the provider.
    DataType,
}

impl By {
    pub const ALL: [(&'static str, By); 2] = [("service", By::Service), ("data_type", By::DataType)];
}

/// One `outages:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
    /// The outage as a rule: its name, description, severity, channels,
    /// `repeat_interval`, `send_resolved`, and `when` (which connections
    /// count). Messages, silences and templates read it as any rule's.
    pub rule: Rule,
    pub by: By,
    /// At least this many connections failing...
    pub at_least: u64,
    /// ... and at least this share (0 to 1) of those that synced.
    pub share: f64,
    /// Connections count when they synced within it; the outage resolves
    /// once the share stays under half `share` for a whole window.
    pub window: Duration,
}

impl Outage {
    pub fn name(&self) -> &str {
        &self.rule.name
    }

    /// Whether a sync `event` from a connection in `environment` counts.
    pub fn counts(&self, event: &Event, environment: Environment) -> bool {
        event.is_sync() && self.applies(event, environment)
    }

    /// Whether the connection `event` is from (in `environment`) is one the
    /// outage is about (`when`): its alerts are the ones it holds.
    pub fn applies(&self, event: &Event, environment: Environment) -> bool {
        let cx = crate::rules::Context { event, environment };
        self.rule.when.evaluate(&cx, &mut Default::default())
    }

    /// `production`, when the outage's `when` names one environment: what
    /// its message calls the connections.
    pub fn environment(&self) -> Option<Environment> {
        match &self.rule.when {
            Condition::All(all) => all.iter().find_map(|c| match c {
                Condition::Environment(e) => Some(*e),
                _ => None,
            }),
            Condition::Environment(e) => Some(*e),
            _ => None,
        }
    }
}
