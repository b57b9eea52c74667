//! Alert identity and repeat_interval: which matches notify and which stay
//! quiet because the same alert was sent recently.
//!
//! An alert is keyed by rule + connection, plus the data type for
//! `dataPerType` events (each data type of a connection is its own alert).
//! It stays active until a later sync for the same key is clean: then the
//! next failure notifies at once, whatever repeat_interval says.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::event::Event;

/// The data type of a `dataPerType` event without `requestType`.
pub const UNNAMED_DATA_TYPE: &str = "(no requestType)";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AlertKey {
    pub rule: String,
    pub connection: String,
    /// Set for `dataPerType` events only.
    pub data_type: Option<String>,
}

impl AlertKey {
    pub fn of(rule: &str, event: &Event) -> AlertKey {
        // A dataPerType event that does not say its data type is still
        // about one data type, not the whole connection.
        let data_type = if event.is_data_per_type() {
            Some(
                event
                    .request_type
                    .clone()
                    .unwrap_or_else(|| UNNAMED_DATA_TYPE.to_owned()),
            )
        } else {
            None
        };
        AlertKey {
            rule: rule.to_owned(),
            connection: event.connection_id.clone().unwrap_or_else(|| "-".into()),
            data_type,
        }
    }
}

impl fmt::Display for AlertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.rule, self.connection)?;
        if let Some(data_type) = &self.data_type {
            write!(f, "/{data_type}")?;
        }
        Ok(())
    }
}

/// What is remembered of an active alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertState {
    pub last_notified: SystemTime,
}

/// Whether a match notifies, given the alert's state.
pub fn should_notify(state: Option<&AlertState>, now: SystemTime, repeat_interval: Duration) -> bool {
    match state {
        None => true,
        Some(_) if repeat_interval.is_zero() => true,
        // A clock that went backwards counts as "not yet".
        Some(state) => now
            .duration_since(state.last_notified)
            .is_ok_and(|elapsed| elapsed >= repeat_interval),
    }
}

/// Whether `event` is a sync completion, the only kind that can show a
/// connection is healthy again and so resolve its alerts.
pub fn resolves(event: &Event) -> bool {
    matches!(event.event.as_deref(), Some("data" | "dataPerType"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_new_alert_notifies() {
        assert!(should_notify(None, SystemTime::now(), HOUR));
    }

    #[test]
    fn an_active_alert_is_quiet_until_the_repeat_interval_has_passed() {
        let sent = SystemTime::UNIX_EPOCH + HOUR * 100;
        let state = AlertState { last_notified: sent };
        assert!(!should_notify(Some(&state), sent + HOUR / 2, HOUR));
        assert!(should_notify(Some(&state), sent + HOUR, HOUR));
        assert!(!should_notify(Some(&state), sent - HOUR, HOUR));
    }

    #[test]
    fn a_zero_repeat_interval_notifies_every_match() {
        let state = AlertState {
            last_notified: SystemTime::now(),
        };
        assert!(should_notify(Some(&state), SystemTime::now(), Duration::ZERO));
    }

    #[test]
    fn data_per_type_alerts_are_keyed_by_data_type_too() {
        let per_type = Event {
            event: Some("dataPerType".into()),
            connection_id: Some("CON-1".into()),
            request_type: Some("bills".into()),
            ..Event::default()
        };
        let full = Event {
            event: Some("data".into()),
            request_type: Some("bills".into()),
            ..per_type.clone()
        };
        assert_eq!(AlertKey::of("r", &per_type).to_string(), "r/CON-1/bills");
        assert_eq!(AlertKey::of("r", &full).to_string(), "r/CON-1");
        let unnamed = Event {
            request_type: None,
            ..per_type.clone()
        };
        assert_eq!(AlertKey::of("r", &unnamed).to_string(), "r/CON-1/(no requestType)");
    }
}
