//! The rule engine: validated rules, and their evaluation against an event.
//! Pure: no clock, no I/O; an event goes in, the matches come out.

mod condition;
mod count;
mod engine;
mod field;
mod pattern;

pub use condition::{Condition, Context, Environment, Evidence, Verdict};
pub use count::{CountCondition, Threshold};
pub use engine::{Match, Miss, Rule, Severity, evaluate, evaluate_in, explain};
pub use field::{Field, FieldMatcher};
pub use pattern::Pattern;
