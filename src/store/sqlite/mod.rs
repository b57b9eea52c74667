//! The durable store: one SQLite file in WAL mode. Writes go through one
//! writer thread that commits waiting commands together; reads use their
//! own connections. Claims live in memory only: after a crash every
//! pending delivery is simply due again.

mod absence;
pub mod alerts;
pub mod audit;
mod body;
pub mod connections;
mod digest;
pub mod export;
mod group;
mod open;
pub mod outages;
mod read;
pub mod schema;
mod seen;
pub mod silences;
pub mod status;
mod store;
mod threads;
mod write;
mod writer;

pub use super::time::{from_millis, millis};
pub use absence::{AbsenceOutcome, Checked, sweep};
pub use digest::{Built, slack_thread_of, unknown_item};
pub use group::{Row as GroupRow, sections as group_sections};
pub use open::{open_and_migrate, open_read_only};
pub use store::{SqliteStore, downtime};

#[cfg(test)]
mod tests;
