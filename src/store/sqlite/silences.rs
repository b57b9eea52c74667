//! Silences in the `silences` table. The CLI writes them beside the
//! running daemon and bumps `meta.silences_version`; the daemon reads that
//! one number each second and the table only when it changed.

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, params};

use crate::quiet::{Matchers, Silence};

use super::{from_millis, millis};

const VERSION: &str = "silences_version";

pub fn add(conn: &Connection, silence: &Silence) -> rusqlite::Result<()> {
    let matchers = serde_json::to_string(&silence.matchers).unwrap_or_else(|_| "{}".into());
    conn.execute(
        "INSERT INTO silences (id, matchers, starts_at, ends_at, comment, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            silence.id,
            matchers,
            millis(silence.starts_at),
            millis(silence.ends_at),
            silence.comment,
            millis(silence.created_at)
        ],
    )?;
    bump(conn)
}

/// Ends a silence now; false when no such silence is in force.
pub fn expire(conn: &Connection, id: &str, now: SystemTime) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE silences SET expired_at = ?2 WHERE id = ?1 AND expired_at IS NULL AND ends_at > ?2",
        params![id, millis(now)],
    )?;
    bump(conn)?;
    Ok(changed > 0)
}

/// Silences not yet over at `now` (in force, or starting later).
pub fn current(conn: &Connection, now: SystemTime) -> rusqlite::Result<Vec<Silence>> {
    conn.prepare_cached(
        "SELECT id, matchers, starts_at, ends_at, comment, created_at, expired_at FROM silences
         WHERE expired_at IS NULL AND ends_at > ?1 ORDER BY starts_at, id",
    )?
    .query_map([millis(now)], |row| {
        let matchers: String = row.get(1)?;
        Ok(Silence {
            id: row.get(0)?,
            matchers: serde_json::from_str::<Matchers>(&matchers).unwrap_or_default(),
            starts_at: from_millis(row.get(2)?),
            ends_at: from_millis(row.get(3)?),
            comment: row.get(4)?,
            created_at: from_millis(row.get(5)?),
            expired_at: row.get::<_, Option<i64>>(6)?.map(from_millis),
        })
    })?
    .collect()
}

/// Changes with every add and expire.
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([VERSION], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

fn bump(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, 1) ON CONFLICT (key) DO UPDATE SET value = value + 1",
        [VERSION],
    )?;
    Ok(())
}
