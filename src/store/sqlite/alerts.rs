//! Alert states in the `alerts` table: the lifecycle reads and writes them
//! inside the ingest transaction, and `syncwatch alerts` lists them.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::alerts::AlertKey;
use crate::lifecycle::{AlertState, AlertStates, Phase};

use super::{from_millis, millis};

// The statements of the hot path are constants: built once, found in
// rusqlite's statement cache without formatting a string per event.
macro_rules! columns {
    () => {
        "rule, connection, data_type, state, since, firing_since, resolved_at, matches, streak, clean, last_notified, notified, muted_by"
    };
}
const GET: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM alerts WHERE rule = ?1 AND connection = ?2 AND data_type = ?3"
);
const PUT: &str = concat!(
    "INSERT OR REPLACE INTO alerts (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
);
const ACTIVE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM alerts WHERE state IN ('pending', 'firing') ORDER BY since, rule, connection, data_type"
);
// Its own statement, so that SQLite uses the `alerts_active` index: with
// `?1 IS NULL OR connection = ?1` it scanned every alert on each webhook.
const ACTIVE_OF: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM alerts WHERE connection = ?1 AND state IN ('pending', 'firing')
     ORDER BY since, rule, connection, data_type"
);

/// The alert states of one transaction.
pub struct SqlStates<'t> {
    pub conn: &'t Connection,
}

impl AlertStates for SqlStates<'_> {
    type Error = rusqlite::Error;

    fn get(&mut self, key: &AlertKey) -> rusqlite::Result<Option<AlertState>> {
        self.conn
            .prepare_cached(GET)?
            .query_row(params![key.rule, key.connection, stored(&key.data_type)], |row| {
                Ok(read_row(row)?.1)
            })
            .optional()
    }

    fn active(&mut self, connection: &str) -> rusqlite::Result<Vec<(AlertKey, AlertState)>> {
        active_of(self.conn, Some(connection))
    }

    fn put(&mut self, key: &AlertKey, state: &AlertState) -> rusqlite::Result<()> {
        let notified = serde_json::to_string(&state.notified).unwrap_or_else(|_| "[]".into());
        self.conn.prepare_cached(PUT)?.execute(params![
            key.rule,
            key.connection,
            stored(&key.data_type),
            state.phase.as_str(),
            millis(state.since),
            state.firing_since.map(millis),
            state.resolved_at.map(millis),
            state.matches as i64,
            state.streak,
            state.clean,
            state.last_notified.map(millis),
            notified,
            state.muted_by,
        ])?;
        Ok(())
    }
}

/// Pending and firing alerts, of one connection or of all, oldest first.
pub fn active_of(conn: &Connection, connection: Option<&str>) -> rusqlite::Result<Vec<(AlertKey, AlertState)>> {
    match connection {
        Some(connection) => conn
            .prepare_cached(ACTIVE_OF)?
            .query_map([connection], read_row)?
            .collect(),
        None => conn.prepare_cached(ACTIVE)?.query_map([], read_row)?.collect(),
    }
}

/// The empty string stands for "no data type" in the key's column.
fn stored(data_type: &Option<String>) -> &str {
    data_type.as_deref().unwrap_or("")
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<(AlertKey, AlertState)> {
    let data_type: String = row.get(2)?;
    let key = AlertKey {
        rule: row.get(0)?,
        connection: row.get(1)?,
        data_type: (!data_type.is_empty()).then_some(data_type),
    };
    let notified: String = row.get(11)?;
    let state = AlertState {
        phase: Phase::parse(&row.get::<_, String>(3)?),
        since: from_millis(row.get(4)?),
        firing_since: row.get::<_, Option<i64>>(5)?.map(from_millis),
        resolved_at: row.get::<_, Option<i64>>(6)?.map(from_millis),
        matches: row.get::<_, i64>(7)? as u64,
        streak: row.get(8)?,
        clean: row.get(9)?,
        last_notified: row.get::<_, Option<i64>>(10)?.map(from_millis),
        notified: serde_json::from_str(&notified).unwrap_or_default(),
        muted_by: row.get(12)?,
    };
    Ok((key, state))
}
