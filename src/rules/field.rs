//! Matchers on the event's own fields: `event`, `service`, `business`,
//! `connection`, `sync_type`, `data_type`.

use crate::event::Event;

use super::pattern::{self, Pattern};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Event,
    Service,
    Business,
    Connection,
    SyncType,
    /// `requestType`, or the data type of any request.
    DataType,
    /// `newStatus` of a `connectionStatus` event.
    ConnectionStatus,
    /// `disconnectReason` of a `connectionStatus` event.
    DisconnectReason,
}

impl Field {
    pub const ALL: [(&'static str, Field); 8] = [
        ("event", Field::Event),
        ("service", Field::Service),
        ("business", Field::Business),
        ("connection", Field::Connection),
        ("sync_type", Field::SyncType),
        ("data_type", Field::DataType),
        ("connection_status", Field::ConnectionStatus),
        ("disconnect_reason", Field::DisconnectReason),
    ];

    pub fn key(self) -> &'static str {
        Field::ALL.iter().find(|(_, f)| *f == self).map_or("?", |(k, _)| k)
    }

    /// Whether the field names what stays the same across a connection's
    /// events (its service, business, id), as opposed to what each event
    /// says of itself (its kind, sync type, data types, status).
    pub fn is_of_connection(self) -> bool {
        matches!(self, Field::Service | Field::Business | Field::Connection)
    }

    fn single(self, event: &Event) -> Option<&str> {
        match self {
            Field::Event => event.event.as_deref(),
            Field::Service => event.service.as_deref(),
            Field::Business => event.business_name.as_deref(),
            Field::Connection => event.connection_id.as_deref(),
            Field::SyncType => event.sync_type.as_deref(),
            Field::ConnectionStatus => event.new_status.as_deref(),
            Field::DisconnectReason => event.disconnect_reason.as_deref(),
            Field::DataType => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMatcher {
    pub field: Field,
    pub patterns: Vec<Pattern>,
}

impl FieldMatcher {
    pub fn evaluate(&self, event: &Event) -> bool {
        match self.field {
            Field::DataType => event.data_types().any(|t| Pattern::any_matches(&self.patterns, t)),
            field => field
                .single(event)
                .is_some_and(|value| Pattern::any_matches(&self.patterns, value)),
        }
    }

    /// Why the matcher did not hold, in one line.
    pub fn explain_miss(&self, event: &Event) -> String {
        let wanted = pattern::list(&self.patterns);
        let key = self.field.key();
        match self.field {
            Field::DataType => {
                let mut seen: Vec<&str> = event.data_types().collect();
                seen.dedup();
                if seen.is_empty() {
                    format!("{key}: the event names no data type, rule wants {wanted}")
                } else {
                    format!("{key}: none of {} is {wanted}", seen.join(", "))
                }
            }
            field => match field.single(event) {
                Some(value) => format!("{key} is `{value}`, rule wants {wanted}"),
                None => format!("{key}: the event has none, rule wants {wanted}"),
            },
        }
    }
}
