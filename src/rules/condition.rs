//! The conditions of a rule's `when`, as one enum: each variant evaluates
//! itself, and can say in one line why it did not hold.

use crate::event::Event;

use super::count::CountCondition;
use super::field::{Field, FieldMatcher};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Production,
    Sandbox,
}

impl Environment {
    pub const ALL: [(&'static str, Environment); 2] = [
        ("production", Environment::Production),
        ("sandbox", Environment::Sandbox),
    ];

    pub fn of(event: &Event, missing_sandbox: Environment) -> Environment {
        match event.sandbox {
            Some(true) => Environment::Sandbox,
            Some(false) => Environment::Production,
            None => missing_sandbox,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Sandbox => "sandbox",
        }
    }
}

/// The tallies (indices into `Event::tallies`) that made count conditions
/// hold: what the message lists as failed or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence(Vec<usize>);

impl Evidence {
    /// Duplicates are removed once, by [`Evidence::sorted`]: checking on
    /// each add made a payload of 100,000 data types cost seconds.
    pub fn add(&mut self, tally: usize) {
        self.0.push(tally);
    }

    fn extend(&mut self, other: Evidence) {
        self.0.extend(other.0);
    }

    pub fn tallies(&self) -> &[usize] {
        &self.0
    }

    pub fn sorted(mut self) -> Evidence {
        self.0.sort_unstable();
        self.0.dedup();
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Field(FieldMatcher),
    Environment(Environment),
    Count(CountCondition),
    /// Every condition holds (the keys of one `when` mapping).
    All(Vec<Condition>),
    /// At least one holds.
    Any(Vec<Condition>),
    /// The inner condition does not hold.
    Not(Box<Condition>),
}

/// Every branch is evaluated so that the message can cite each one that
/// held, and only those: a branch that failed is no reason to notify.
fn evaluate_any(branches: &[Condition], cx: &Context<'_>, evidence: &mut Evidence) -> bool {
    let mut held = false;
    for branch in branches {
        let mut own = Evidence::default();
        if branch.evaluate(cx, &mut own) {
            held = true;
            evidence.extend(own);
        }
    }
    held
}

/// What evaluation reads besides the event.
#[derive(Debug, Clone, Copy)]
pub struct Context<'e> {
    pub event: &'e Event,
    pub environment: Environment,
}

impl Condition {
    pub fn evaluate(&self, cx: &Context<'_>, evidence: &mut Evidence) -> bool {
        match self {
            Condition::Field(matcher) => matcher.evaluate(cx.event),
            Condition::Environment(wanted) => *wanted == cx.environment,
            Condition::Count(count) => count.evaluate(cx.event, evidence),
            Condition::All(all) => all.iter().all(|c| c.evaluate(cx, evidence)),
            Condition::Any(any) => evaluate_any(any, cx, evidence),
            // What makes a negated condition hold is no reason to notify.
            Condition::Not(inner) => !inner.evaluate(cx, &mut Evidence::default()),
        }
    }

    /// Whether a matcher on one of `fields` is among the conditions that
    /// must hold (not under `not`).
    pub fn names_field(&self, fields: &[Field]) -> bool {
        match self {
            Condition::Field(matcher) => fields.contains(&matcher.field),
            Condition::All(all) => all.iter().any(|c| c.names_field(fields)),
            Condition::Any(any) => !any.is_empty() && any.iter().all(|c| c.names_field(fields)),
            Condition::Environment(_) | Condition::Count(_) | Condition::Not(_) => false,
        }
    }

    /// Whether this condition can say anything about `event`: false when a
    /// count condition narrowed to data types or a report frequency finds
    /// no such request in it. A sync that carries nothing a rule looks at
    /// is no sign that the rule's problem is over.
    pub fn observes(&self, event: &Event) -> bool {
        match self {
            Condition::Count(count) => count.observes(event),
            Condition::All(all) => all.iter().all(|c| c.observes(event)),
            Condition::Any(any) => any.iter().any(|c| c.observes(event)),
            Condition::Not(inner) => inner.observes(event),
            Condition::Field(_) | Condition::Environment(_) => true,
        }
    }

    /// `None` when the condition holds, else why not, in one line.
    pub fn explain_miss(&self, cx: &Context<'_>) -> Option<String> {
        if self.evaluate(cx, &mut Evidence::default()) {
            return None;
        }
        Some(match self {
            Condition::Field(matcher) => matcher.explain_miss(cx.event),
            Condition::Environment(wanted) => format!(
                "environment is {}, rule wants {}",
                cx.environment.as_str(),
                wanted.as_str()
            ),
            Condition::Count(count) => count.explain_miss(cx.event),
            Condition::All(all) => all.iter().find_map(|c| c.explain_miss(cx))?,
            Condition::Any(any) => {
                let reasons: Vec<String> = any.iter().filter_map(|c| c.explain_miss(cx)).collect();
                format!("no `any` branch holds: {}", reasons.join("; "))
            }
            Condition::Not(_) => "the `not` conditions hold".to_owned(),
        })
    }
}
