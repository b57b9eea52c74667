//! Moving the WAL into the database file off the write path: every second
//! a PASSIVE checkpoint, on a connection of its own, copies what is
//! committed without blocking the writer. Under a steady load it never
//! quite catches up, so when the WAL passes [`TRUNCATE_AT`] a TRUNCATE
//! checkpoint briefly holds the writer back, finishes, and empties the file.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use super::open::open_writer;

const EVERY: Duration = Duration::from_secs(1);
/// WAL frames (pages of 4 KiB): 64 MiB.
const TRUNCATE_AT: i64 = 16_384;

/// Runs until `stop`'s sender is dropped (the store is gone).
pub fn run(path: PathBuf, stop: Receiver<()>) {
    let mut conn = None;
    loop {
        match stop.recv_timeout(EVERY) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        if conn.is_none() {
            conn = open_writer(&path, Duration::from_millis(100)).ok();
        }
        let Some(open) = &conn else { continue };
        // Columns: busy flag, frames in the WAL, frames checkpointed.
        let frames = |mode: &str| {
            open.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
                row.get::<_, i64>(1)
            })
        };
        let result = frames("PASSIVE").and_then(|log| if log > TRUNCATE_AT { frames("TRUNCATE") } else { Ok(log) });
        if let Err(err) = result {
            tracing::debug!(error = %err, "checkpoint skipped; trying again in a second");
            conn = None;
        }
    }
}
