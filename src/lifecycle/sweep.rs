//! A pass over the pending and firing alerts, beside the events: closing
//! the ones nothing would resolve, reminding of the ones whose condition
//! is a state. The stores run it under their locks; this says what it does
//! to each alert.

use std::time::SystemTime;

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::config::Config;
use crate::quiet::Mutes;

use super::apply::Applied;
use super::close::{Closing, close};
use super::remind::{may_remind, remind};
use super::transition::AlertState;

#[derive(Debug, Clone)]
pub enum Sweep {
    /// Close what `Closing` names, saying why.
    Close(Closing),
    /// Remind of state alerts (see [`remind`]), under the silences and
    /// windows in force.
    Remind(Mutes),
}

/// What a sweep does to one alert.
#[derive(Debug, Clone)]
pub struct Swept {
    pub state: AlertState,
    pub applied: Applied,
    /// The event it is recorded as when it notifies: `closed`, `reminder`.
    pub kind: &'static str,
    /// Why, for the log: the reason an alert was closed.
    pub note: Option<String>,
}

impl Sweep {
    /// The one connection whose alerts it is about, if it is about one.
    pub fn only(&self) -> Option<&str> {
        match self {
            Sweep::Close(closing) => closing.connection(),
            Sweep::Remind(_) => None,
        }
    }

    /// Whether a visit needs the connection's other firing alerts: a
    /// reminder under inhibit rules.
    pub fn needs_firing(&self) -> bool {
        matches!(self, Sweep::Remind(mutes) if !mutes.inhibit.is_empty())
    }

    /// Whether the alert `key` in `state` is worth a look at all (see
    /// [`may_remind`]): a closing looks at every alert it is about.
    pub fn may_visit(&self, config: &Config, alert: (&AlertKey, &AlertState), now: SystemTime) -> bool {
        match self {
            Sweep::Close(_) => true,
            Sweep::Remind(_) => may_remind(config, alert, now),
        }
    }

    /// What it does to the alert `key` in `state` (of `connection`, as
    /// known, whose other firing alerts are `firing`) under `config` at
    /// `now`; `None`: nothing.
    pub fn visit(
        &self,
        config: &Config,
        (key, state): (&AlertKey, &AlertState),
        (connection, firing): (Option<&KnownConnection>, &[AlertKey]),
        now: SystemTime,
    ) -> Option<Swept> {
        match self {
            Sweep::Close(closing) => {
                let reason = closing.reason(config, key, connection, now)?;
                let (state, applied) = close(config, key, state, connection, now, &reason);
                Some(Swept {
                    state,
                    applied,
                    kind: "closed",
                    note: Some(reason),
                })
            }
            Sweep::Remind(mutes) => {
                let (state, applied) = remind(config, (key, state), (connection, firing), mutes, now)?;
                Some(Swept {
                    state,
                    applied,
                    kind: "reminder",
                    note: None,
                })
            }
        }
    }
}
