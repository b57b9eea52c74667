//! Alert states in the `alerts` table: the lifecycle reads and writes them
//! inside the ingest transaction, and `syncwatch alerts` lists them.

use std::collections::HashMap;

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
// An alert's row is updated in place, its key and (when the phase stays)
// its state left as they are: SQLite then rewrites only the row's page.
// `INSERT OR REPLACE` deleted and reinserted it, rewriting a page of each
// of the table's three indexes on every event.
const PUT: &str = concat!(
    "INSERT INTO alerts (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
     ON CONFLICT (rule, connection, data_type) DO UPDATE SET state = excluded.state, since = excluded.since,
     firing_since = excluded.firing_since, resolved_at = excluded.resolved_at, matches = excluded.matches,
     streak = excluded.streak, clean = excluded.clean, last_notified = excluded.last_notified,
     notified = excluded.notified, muted_by = excluded.muted_by"
);
// The same phase as read: `state` (in the `alerts_active` index's
// condition) is not in the SET list, so the index is not touched. It
// takes PUT's parameters; the phase only checks the row still has it.
const KEEP_PHASE: &str = "UPDATE alerts SET since = ?5, firing_since = ?6, resolved_at = ?7, matches = ?8, streak = ?9,
     clean = ?10, last_notified = ?11, notified = ?12, muted_by = ?13
     WHERE rule = ?1 AND connection = ?2 AND data_type = ?3 AND state = ?4";
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
    conn: &'t Connection,
    /// The phase each alert read had in its row.
    read: HashMap<AlertKey, Phase>,
}

impl<'t> SqlStates<'t> {
    pub fn new(conn: &'t Connection) -> SqlStates<'t> {
        SqlStates {
            conn,
            read: HashMap::new(),
        }
    }

    fn remember(&mut self, key: &AlertKey, state: &AlertState) {
        self.read.insert(key.clone(), state.phase);
    }
}

impl AlertStates for SqlStates<'_> {
    type Error = rusqlite::Error;

    fn outage_of(&mut self, service: &str) -> rusqlite::Result<Option<String>> {
        super::outages::firing_for(self.conn, service)
    }

    fn get(&mut self, key: &AlertKey) -> rusqlite::Result<Option<AlertState>> {
        let state = self
            .conn
            .prepare_cached(GET)?
            .query_row(params![key.rule, key.connection, stored(&key.data_type)], |row| {
                Ok(read_row(row)?.1)
            })
            .optional()?;
        if let Some(state) = &state {
            self.remember(key, state);
        }
        Ok(state)
    }

    fn active(&mut self, connection: &str) -> rusqlite::Result<Vec<(AlertKey, AlertState)>> {
        let active = active_of(self.conn, Some(connection))?;
        for (key, state) in &active {
            self.remember(key, state);
        }
        Ok(active)
    }

    fn put(&mut self, key: &AlertKey, state: &AlertState) -> rusqlite::Result<()> {
        let notified = serde_json::to_string(&state.notified).unwrap_or_else(|_| "[]".into());
        let row = params![
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
        ];
        if self.read.get(key) == Some(&state.phase) && self.conn.prepare_cached(KEEP_PHASE)?.execute(row)? == 1 {
            return Ok(());
        }
        self.read.insert(key.clone(), state.phase);
        self.conn.prepare_cached(PUT)?.execute(row)?;
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
