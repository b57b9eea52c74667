//! `syncwatch check`: validate rules.yaml and report every error at once.

use std::io::Write;
use std::path::Path;

use crate::config::load_file;

use super::{EXIT_FAILED, EXIT_OK};

pub fn check(path: &Path, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<u8> {
    match load_file(path) {
        Ok(config) => {
            let channels: Vec<String> = config
                .channels
                .values()
                .map(|c| format!("{} ({})", c.name, c.kind.name()))
                .collect();
            writeln!(
                out,
                "{}: OK, {}, {}: {}",
                path.display(),
                super::counted(config.rules.len(), "rule"),
                super::counted(channels.len(), "channel"),
                channels.join(", ")
            )?;
            // What is valid but can never work as meant: said, exit 0.
            for warning in super::lint::warnings(&config) {
                writeln!(out, "{warning}")?;
            }
            Ok(EXIT_OK)
        }
        Err(errors) => {
            // Run by systemd (ExecStartPre, ExecReload), each line goes to
            // the journal at priority err, so `journalctl -p err` shows why.
            let prefix = if std::env::var_os("JOURNAL_STREAM").is_some() {
                "<3>"
            } else {
                ""
            };
            for line in errors.to_string().lines() {
                writeln!(err, "{prefix}{line}")?;
            }
            let n = errors.0.len();
            writeln!(
                err,
                "{prefix}{}: {n} error{}",
                path.display(),
                if n == 1 { "" } else { "s" }
            )?;
            Ok(EXIT_FAILED)
        }
    }
}
