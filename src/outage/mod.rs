//! Provider outages: when many connections of one service (or data type)
//! fail at once, that is one problem, told once. [`count`] says whether a
//! group's connections breach an outage's threshold; [`state`] is the
//! outage's own pure lifecycle (FIRING, STILL FAILING, RESOLVED with
//! hysteresis); [`observe`] runs one event through them against the
//! counters a store keeps; [`moves`] holds and releases the alerts of the
//! service; [`message`] words it.

mod count;
mod memory;
mod message;
mod model;
pub mod moves;
mod notify;
mod observe;
mod state;

pub use count::{Counts, Member};
pub use memory::MemoryOutages;
pub use message::{facts, headline};
pub use model::{By, Outage};
pub use notify::{key_of, notification};
pub use observe::{OutageStates, Told, describe, evaluate, group_of, observe};
pub use state::{OutageState, step};

#[cfg(test)]
mod observe_tests;
