//! The life of an alert over time: pending, firing, still failing,
//! resolved. [`transition`] is the pure state machine; [`apply`] turns one
//! event into observations of alert keys, runs them through it against the
//! states a store holds, and renders what each effect sends.

mod apply;
mod close;
mod effects;
mod hold;
mod release;
mod remind;
mod sweep;
mod told;
mod transition;

pub use apply::{
    AlertInput, AlertStates, Applied, HELD_BY, Matched, NewDelivery, Notification, Transition, apply, apply_absence,
    matches_of, policy,
};
pub use close::{Closing, close};
pub use effects::firing_besides;
pub use release::release;
pub use remind::remind;
pub use sweep::{Sweep, Swept};
pub use told::{NOTHING_TO_RESOLVE, not_told};
pub use transition::{AlertState, Effect, Observation, Phase, Policy, Step, transition};

#[cfg(test)]
mod held_tests;
#[cfg(test)]
mod inhibit_tests;
#[cfg(test)]
mod quiet_tests;
#[cfg(test)]
mod scope_tests;
#[cfg(test)]
mod test_support;
