//! Known connections in the `connections` table, and the daemon's
//! heartbeat in `meta`: written in the ingest transaction and by absence
//! checks, read at start to plan deadlines and by `syncwatch connections`.

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::absence::KnownConnection;
use crate::rules::Environment;

use super::{from_millis, millis};

macro_rules! columns {
    () => {
        "id, first_seen, last_event, last_event_name, last_sync, status, expected_since, service, business, environment, status_at"
    };
}
const GET: &str = concat!("SELECT ", columns!(), " FROM connections WHERE id = ?1");
const SAVE: &str = concat!(
    "INSERT INTO connections (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
     ON CONFLICT (id) DO UPDATE SET first_seen = excluded.first_seen, last_event = excluded.last_event,
     last_event_name = excluded.last_event_name, last_sync = excluded.last_sync, status = excluded.status,
     expected_since = excluded.expected_since, service = excluded.service, business = excluded.business,
     environment = excluded.environment, status_at = excluded.status_at"
);
const ALL: &str = concat!("SELECT ", columns!(), " FROM connections ORDER BY id");

pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<KnownConnection>> {
    conn.prepare_cached(GET)?.query_row([id], read_row).optional()
}

/// Writes a connection's row: inserted when new, updated in place
/// otherwise (an upsert is one B-tree change, where a replace would delete
/// and insert).
pub fn save(conn: &Connection, known: &KnownConnection) -> rusqlite::Result<()> {
    conn.prepare_cached(SAVE)?.execute(params![
        known.id,
        millis(known.first_seen),
        millis(known.last_event),
        known.last_event_name,
        known.last_sync.map(millis),
        known.status,
        known.expected_since.map(millis),
        known.service,
        known.business,
        known.environment.as_str(),
        known.status_at.map(millis),
    ])?;
    Ok(())
}

/// Every known connection, for planning deadlines at start and reload.
pub fn all(conn: &Connection) -> rusqlite::Result<Vec<KnownConnection>> {
    conn.prepare(ALL)?.query_map([], read_row)?.collect()
}

/// Forgets a connection and its alerts; false when it was not known.
pub fn forget(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.execute("DELETE FROM alerts WHERE connection = ?1", [id])?;
    conn.execute("DELETE FROM connection_days WHERE connection = ?1", [id])?;
    Ok(conn.execute("DELETE FROM connections WHERE id = ?1", [id])? > 0)
}

/// Forgets connections with no event since `cutoff` (`storage.forget_after`).
pub fn forget_older(conn: &Connection, cutoff: SystemTime) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM alerts WHERE connection IN (SELECT id FROM connections WHERE last_event < ?1)",
        [millis(cutoff)],
    )?;
    conn.execute("DELETE FROM connections WHERE last_event < ?1", [millis(cutoff)])
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<KnownConnection> {
    let environment: String = row.get(9)?;
    Ok(KnownConnection {
        id: row.get(0)?,
        first_seen: from_millis(row.get(1)?),
        last_event: from_millis(row.get(2)?),
        last_event_name: row.get(3)?,
        last_sync: row.get::<_, Option<i64>>(4)?.map(from_millis),
        status: row.get(5)?,
        expected_since: row.get::<_, Option<i64>>(6)?.map(from_millis),
        service: row.get(7)?,
        business: row.get(8)?,
        environment: if environment == "sandbox" {
            Environment::Sandbox
        } else {
            Environment::Production
        },
        status_at: row.get::<_, Option<i64>>(10)?.map(from_millis),
    })
}

/// A time kept in `meta` under `key`.
pub fn meta_time(conn: &Connection, key: &str) -> rusqlite::Result<Option<SystemTime>> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |row| row.get::<_, i64>(0))
        .optional()
        .map(|found| found.map(from_millis))
}

pub fn set_meta_time(conn: &Connection, key: &str, at: SystemTime) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
        .execute(params![key, millis(at)])?;
    Ok(())
}
