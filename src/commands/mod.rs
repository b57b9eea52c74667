//! The subcommands of the `syncwatch` binary, as library functions that
//! write to the given output and return the process exit code.

mod alerts;
mod check;
mod connections;
mod database;
mod describe;
mod explain;
mod history;
mod migrate;
mod replay;
mod send_test;
mod serve;
mod sign;
pub mod silence;
mod test;

pub use alerts::alerts;
pub use check::check;
pub use connections::{STATES as CONNECTION_STATES, connections, forget as forget_connection};
pub use database::Database;
pub use explain::explain;
pub use history::history;
pub use migrate::{MigrateArgs, migrate};
pub use replay::replay;
pub use send_test::send_test;
pub use serve::serve;
pub use sign::sign;
pub use test::test_payloads;

/// Exit codes shared by every subcommand.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
