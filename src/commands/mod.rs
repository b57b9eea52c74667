//! The subcommands of the `syncwatch` binary, as library functions that
//! write to the given output and return the process exit code.

mod alerts;
mod cases;
mod check;
mod connections;
mod database;
mod describe;
mod explain;
mod history;
mod lint;
mod migrate;
mod replay;
mod send_test;
mod serve;
mod sign;
pub mod silence;
mod test;

pub use alerts::alerts;
pub use cases::test_cases;
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

/// How the listing commands print: lines for a person, or one JSON
/// document with stable field names for a script (`-o json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    #[default]
    Text,
    Json,
}

/// `value` as one JSON document on its own line.
fn print_json(out: &mut dyn std::io::Write, value: &serde_json::Value) -> std::io::Result<u8> {
    writeln!(out, "{}", serde_json::to_string_pretty(value).unwrap_or_default())?;
    Ok(EXIT_OK)
}

/// A time as the JSON documents give it: RFC 3339, UTC, to the second.
fn json_time(at: std::time::SystemTime) -> serde_json::Value {
    serde_json::Value::String(humantime::format_rfc3339_seconds(at).to_string())
}

/// Exit codes shared by every subcommand.
pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;

/// `1 rule`, `2 rules`: a count with its noun.
pub fn counted(count: usize, noun: &str) -> String {
    match count {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}
