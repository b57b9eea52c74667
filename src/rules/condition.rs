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

/// A condition's word on one event, for the lifecycle (see
/// [`Condition::verdict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It holds: the rule fires.
    Fires,
    /// It applies to the event and does not hold: the problem it looks for
    /// is not there.
    Clean,
    /// It says nothing of this event: a matcher on the event's kind, sync
    /// type or data types does not hold, or the event lacks the data a
    /// count is narrowed to (a manual sync of other data types).
    Out,
    /// It can never apply to this connection: a matcher on what does not
    /// change between a connection's events (service, business,
    /// connection, environment). Inside `any` such a branch is left out
    /// rather than leaving the verdict open for ever.
    Never,
}

impl Verdict {
    /// Every part must apply; then any clean part makes the whole clean.
    fn all(parts: impl Iterator<Item = Verdict>) -> Verdict {
        let mut whole = Verdict::Fires;
        for part in parts {
            whole = match (whole, part) {
                (Verdict::Never, _) | (_, Verdict::Never) => Verdict::Never,
                (Verdict::Out, _) | (_, Verdict::Out) => Verdict::Out,
                (Verdict::Clean, _) | (_, Verdict::Clean) => Verdict::Clean,
                (Verdict::Fires, Verdict::Fires) => Verdict::Fires,
            };
        }
        whole
    }

    /// Fires when a branch fires; clean only when every branch that can
    /// apply to the connection is clean: a sync that carries only the data
    /// of the branch that did not fire says nothing of the one that did.
    fn any(branches: impl Iterator<Item = Verdict>) -> Verdict {
        let mut whole = Verdict::Never;
        for branch in branches {
            whole = match (whole, branch) {
                (Verdict::Fires, _) | (_, Verdict::Fires) => Verdict::Fires,
                (other, Verdict::Never) | (Verdict::Never, other) => other,
                (Verdict::Out, _) | (_, Verdict::Out) => Verdict::Out,
                (Verdict::Clean, Verdict::Clean) => Verdict::Clean,
            };
        }
        whole
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

    /// What this condition says of the event for an alert's lifecycle:
    /// whether it fires, is clean, or does not apply. Agrees with
    /// [`Condition::evaluate`] on when it fires.
    pub fn verdict(&self, cx: &Context<'_>) -> Verdict {
        match self {
            Condition::Field(matcher) if matcher.evaluate(cx.event) => Verdict::Fires,
            Condition::Field(matcher) if matcher.field.is_of_connection() => Verdict::Never,
            Condition::Field(_) => Verdict::Out,
            Condition::Environment(wanted) if *wanted == cx.environment => Verdict::Fires,
            Condition::Environment(_) => Verdict::Never,
            Condition::Count(count) if !count.observes(cx.event) => Verdict::Out,
            Condition::Count(count) if count.evaluate(cx.event, &mut Evidence::default()) => Verdict::Fires,
            Condition::Count(_) => Verdict::Clean,
            Condition::All(all) => Verdict::all(all.iter().map(|c| c.verdict(cx))),
            Condition::Any(any) => Verdict::any(any.iter().map(|c| c.verdict(cx))),
            // `not` narrows the scope: an event its inner condition holds
            // for is one the rule does not apply to.
            Condition::Not(inner) => match inner.verdict(cx) {
                Verdict::Fires => Verdict::Out,
                Verdict::Clean | Verdict::Out | Verdict::Never => Verdict::Fires,
            },
        }
    }

    /// Whether `cx`'s event is a clean sync for this rule: one the rule
    /// applies to (its field matchers, environment and `not` hold, and the
    /// event carries the data its count conditions narrow to) and on which
    /// it does not fire. Only such a sync moves a firing alert towards
    /// RESOLVED or resets a pending one's `after` streak.
    pub fn is_clean(&self, cx: &Context<'_>) -> bool {
        self.verdict(cx) == Verdict::Clean
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
