//! `syncwatch check`: validate rules.yaml and report every error at once.

use std::io::Write;
use std::path::Path;

use crate::config::{ChannelKind, load_file};

use super::{EXIT_FAILED, EXIT_OK};

pub fn check(path: &Path, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<u8> {
    match load_file(path) {
        Ok(config) => {
            let channels: Vec<String> = config
                .channels
                .values()
                .map(|c| match c.kind {
                    ChannelKind::Slack(_) => format!("{} (slack)", c.name),
                    ChannelKind::Email(_) => format!("{} (email)", c.name),
                })
                .collect();
            writeln!(
                out,
                "{}: OK, {} rules, {} channels: {}",
                path.display(),
                config.rules.len(),
                channels.len(),
                channels.join(", ")
            )?;
            Ok(EXIT_OK)
        }
        Err(errors) => {
            writeln!(err, "{errors}")?;
            let n = errors.0.len();
            writeln!(err, "{}: {n} error{}", path.display(), if n == 1 { "" } else { "s" })?;
            Ok(EXIT_FAILED)
        }
    }
}
