//! The subcommands of the `syncwatch` binary, as library functions that
//! write to the given output and return the process exit code.

mod check;
mod test;

pub use check::check;
pub use test::test_payloads;

/// Exit codes shared by every subcommand.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
