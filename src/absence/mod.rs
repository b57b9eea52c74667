//! Silence is a signal: known connections, and absence rules
//! (`no_sync_for`) that fire when a connection stops syncing. [`known`]
//! is what is remembered of each connection; [`deadlines`] orders the
//! checks so one timer waits for the earliest; [`scheduler`] runs it.

mod deadlines;
mod known;
mod scheduler;

pub use deadlines::{Check, Deadlines, watches};
pub use known::{Downtime, KnownConnection, STATUS_GRACE, status_time};
pub use scheduler::Absence;
