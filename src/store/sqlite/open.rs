//! Opening the database file: WAL journal, synchronous FULL, and a busy
//! timeout, for the writer and for readers.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::schema;

/// Opens (creating it and its directory if needed) and migrates.
pub fn open_and_migrate(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|err| {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(format!("cannot create {}: {err}", dir.display())),
            )
        })?;
    }
    let mut conn = open_writer(path, busy_timeout)?;
    schema::migrate(&mut conn)?;
    Ok(conn)
}

/// The write connection. WAL lets readers (the delivery lanes, `history`,
/// `explain`) run beside it; synchronous FULL makes every commit survive a
/// power loss, not only a crash of the process, because Railz does not
/// resend an event that was answered 200. Checkpoints stay on this
/// connection (SQLite's default, every 1,000 pages): a checkpointer thread
/// beside it gave 15% more throughput but, fsyncing the database file while
/// the writer fsynced the WAL, raised the p99 at 1,000 events/s from 8 ms
/// to 30-50 ms.
pub fn open_writer(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// A connection that only reads; `query_only` guards against a mistake.
pub fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// For `history` and `explain` while the daemon runs: never writes, never
/// creates the file.
pub fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}
