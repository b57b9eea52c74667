//! Holding by an outage: while an outage of its service fires, an alert
//! nobody has heard of yet is recorded as held instead of notifying (see
//! [`super::release`] for its end).

use crate::outage::By;

use super::apply::{AlertStates, HELD_BY};
use super::effects::{Cx, Observed, Source};
use super::transition::{AlertState, Phase};

/// Whether an outage may hold this alert's message: nobody has heard of
/// it yet. An alert told before the outage fired keeps its normal life.
pub(super) fn held_back(state: Option<&AlertState>) -> bool {
    state.is_none_or(|s| s.phase != Phase::Firing || s.last_notified.is_none())
}

/// `held by outage NAME` when an outage of the alert's service fires: the
/// outage's one message says it for every connection.
pub(super) fn held<S: AlertStates>(
    states: &mut S,
    observed: &Observed<'_>,
    cx: &Cx<'_>,
) -> Result<Option<String>, S::Error> {
    let known;
    let event = match (&observed.source, cx.event) {
        (Source::Absence { connection, .. } | Source::Lost(connection) | Source::Held(connection), _) => {
            known = connection.as_event();
            &known
        }
        (_, Some(event)) => event,
        (_, None) => return Ok(None),
    };
    let Some(service) = event.service.as_deref().filter(|_| !cx.config.outages.is_empty()) else {
        return Ok(None);
    };
    let Some(name) = states.outage_of(service)? else {
        return Ok(None);
    };
    // Only the connections the outage counts (its `when`: production, say)
    // are held; a sandbox connection of that service speaks for itself.
    let outage = cx.config.outages.iter().find(|o| o.name() == name);
    // A data type's outage holds nothing (its group is no service).
    let applies = outage.is_some_and(|o| o.by == By::Service && o.applies(event, cx.environment));
    Ok(applies.then(|| format!("{HELD_BY}{name}")))
}
