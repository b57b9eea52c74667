//! Alert identity: an alert is keyed by rule + connection, plus the data
//! type for `dataPerType` events (each data type of a connection is its
//! own alert). What happens to it over time is [`crate::lifecycle`].

use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

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
