//! Count conditions: `failed`, `empty`, `success` with `above`, `at_least`,
//! `below`, narrowed by `data_types` and `report_frequency`.

use std::fmt;

use crate::event::{Event, Frequency, Status};

use super::condition::Evidence;
use super::pattern::{self, Pattern};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    Above(u64),
    AtLeast(u64),
    Below(u64),
}

impl Threshold {
    pub fn holds(self, count: u64) -> bool {
        match self {
            Threshold::Above(n) => count > n,
            Threshold::AtLeast(n) => count >= n,
            Threshold::Below(n) => count < n,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Above(n) => write!(f, "above {n}"),
            Threshold::AtLeast(n) => write!(f, "at least {n}"),
            Threshold::Below(n) => write!(f, "below {n}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountCondition {
    pub status: Status,
    /// All must hold (`{ at_least: 1, below: 5 }` is a range).
    pub thresholds: Vec<Threshold>,
    /// Empty means every data type.
    pub data_types: Vec<Pattern>,
    /// Empty means every frequency, and requests without one.
    pub frequencies: Vec<Frequency>,
}

impl CountCondition {
    fn narrowed(&self) -> bool {
        !self.data_types.is_empty() || !self.frequencies.is_empty()
    }

    fn selects(&self, data_type: Option<&str>, frequency: Option<&Frequency>) -> bool {
        let type_ok =
            self.data_types.is_empty() || data_type.is_some_and(|t| Pattern::any_matches(&self.data_types, t));
        let frequency_ok = self.frequencies.is_empty() || frequency.is_some_and(|f| self.frequencies.contains(f));
        type_ok && frequency_ok
    }

    /// The number of requests with this status among the selected ones, or
    /// `None` when the narrowing selects no request at all.
    fn tally(&self, event: &Event) -> Option<u64> {
        let mut selected_any = false;
        let mut count = 0;
        for tally in &event.tallies {
            if self.selects(tally.data_type.as_deref(), tally.frequency.as_ref()) {
                selected_any = true;
                if tally.status == self.status {
                    // Counts come from the payload: a huge one saturates
                    // rather than wrapping round to a small number.
                    count = tally.count.saturating_add(count);
                }
            }
        }
        (selected_any || !self.narrowed()).then_some(count)
    }

    /// False when the narrowing selects no request of `event`.
    pub fn observes(&self, event: &Event) -> bool {
        self.tally(event).is_some()
    }

    pub fn evaluate(&self, event: &Event, evidence: &mut Evidence) -> bool {
        let Some(count) = self.tally(event) else {
            return false;
        };
        if !self.thresholds.iter().all(|t| t.holds(count)) {
            return false;
        }
        for (index, tally) in event.tallies.iter().enumerate() {
            let selected = self.selects(tally.data_type.as_deref(), tally.frequency.as_ref());
            if selected && tally.status == self.status && tally.count > 0 {
                evidence.add(index);
            }
        }
        true
    }

    pub fn explain_miss(&self, event: &Event) -> String {
        let what = self.describe_selection();
        match self.tally(event) {
            None => format!("{}: the event has no requests{what}", self.status),
            Some(count) => {
                let wanted: Vec<String> = self.thresholds.iter().map(|t| t.to_string()).collect();
                format!(
                    "{} count{what} is {count}, rule wants {}",
                    self.status,
                    wanted.join(" and ")
                )
            }
        }
    }

    fn describe_selection(&self) -> String {
        let mut parts = Vec::new();
        if !self.data_types.is_empty() {
            parts.push(format!("of data type {}", pattern::list(&self.data_types)));
        }
        if !self.frequencies.is_empty() {
            let names: Vec<&str> = self.frequencies.iter().map(Frequency::as_str).collect();
            parts.push(format!("with report frequency {}", names.join(" or ")));
        }
        parts.iter().map(|p| format!(" {p}")).collect()
    }
}
