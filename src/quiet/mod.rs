//! Quiet on purpose: silences made at run time, maintenance windows and
//! inhibit rules from rules.yaml. A muted alert still moves and is recorded; only its
//! messages are held back, and the log, `explain` and `alerts` say by what.

mod inhibit;
mod silence;
mod window;

use std::sync::Arc;
use std::time::SystemTime;

use crate::alerts::AlertKey;
use crate::event::Event;
use crate::rules::{Context, Environment, Evidence};

pub use inhibit::{Equal, Inhibit};
pub use silence::{Matchers, Silence, new_id};
pub use window::{Span, WEEKDAYS, Window, parse_span, time_zone};

/// What silences and windows match an alert against.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub rule: &'a str,
    pub connection: Option<&'a str>,
    pub business: Option<&'a str>,
    pub service: Option<&'a str>,
    pub environment: Environment,
    pub data_types: Vec<&'a str>,
    /// The event behind it (for absence alerts, the connection's last).
    pub event: &'a Event,
    /// The firing alerts of its connection, itself left out: what an
    /// inhibit rule looks for (empty where none can inhibit).
    pub firing: &'a [AlertKey],
}

/// The silences and windows in force, as one snapshot.
#[derive(Debug, Clone, Default)]
pub struct Mutes {
    pub silences: Arc<Vec<Silence>>,
    pub windows: Arc<Vec<Window>>,
    /// The inhibit rules of rules.yaml.
    pub inhibit: Arc<Vec<Inhibit>>,
}

impl Mutes {
    /// What mutes `subject` at `now`, named for the log and `explain`:
    /// `silence 1a2b3c4d`, `maintenance xero-weekend` or
    /// `inhibit connection-lost/CON-1` (the inhibiting alert).
    pub fn muted_by(&self, subject: &Subject<'_>, now: SystemTime) -> Option<String> {
        if let Some(silence) = self
            .silences
            .iter()
            .find(|s| s.is_active(now) && s.matchers.matches(subject))
        {
            return Some(format!("silence {}", silence.id));
        }
        let window = self.windows.iter().find(|w| {
            w.is_open(now)
                && w.when.as_ref().is_none_or(|when| {
                    let cx = Context {
                        event: subject.event,
                        environment: subject.environment,
                    };
                    when.evaluate(&cx, &mut Evidence::default())
                })
        });
        if let Some(window) = window {
            return Some(format!("maintenance {}", window.name));
        }
        let source = self.inhibit.iter().find_map(|i| i.source(subject))?;
        Some(format!("inhibit {source}"))
    }
}
