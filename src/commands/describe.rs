//! The lines that describe an event, shared by `test` and `explain`.

use crate::event::Event;
use crate::render::counts_of;

/// `business … · connection … · service … · sync type …` and the counts.
pub fn event_lines(event: &Event) -> String {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    format!(
        "business {} · connection {} · service {} · sync type {}\nrequests: {}",
        dash(&event.business_name),
        dash(&event.connection_id),
        dash(&event.service),
        dash(&event.sync_type),
        counts_of(event)
    )
}
