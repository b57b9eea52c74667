//! Outage counters and states in SQLite, read and written inside the
//! ingest transaction: one row per connection and group (its latest
//! outcome), counted through the `(outage, grp, synced_at)` index; never a
//! scan of events. Failing syncs per service and hour feed the page. What
//! an outage's moves do with the alerts is `outage::moves`; this file is
//! its SQL.

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, params};

use super::alerts::SqlStates;
use super::connections;
use super::{from_millis, millis};
use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::event::{Event, Status};
use crate::outage::moves::OutageStore;
use crate::outage::{Counts, Member, OutageState, OutageStates};
use crate::rules::Environment;

// A clean sync keeps the last failure (the connection "had a failed sync"
// while it is within the window).
const RECORD: &str = "INSERT INTO outage_members (outage, grp, connection, synced_at, failed_at, failed_types)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (outage, grp, connection) DO UPDATE SET synced_at = excluded.synced_at,
     failed_at = COALESCE(excluded.failed_at, failed_at),
     failed_types = CASE WHEN excluded.failed_at IS NULL THEN failed_types ELSE excluded.failed_types END";
const COUNTS: &str = "SELECT count(*), count(*) FILTER (WHERE failed_at >= ?3) FROM outage_members
     WHERE outage = ?1 AND grp = ?2 AND synced_at >= ?3";
const FAILING: &str = "SELECT connection, synced_at, failed_at, failed_types FROM outage_members
     WHERE outage = ?1 AND grp = ?2 AND synced_at >= ?3 AND failed_at >= ?3 ORDER BY connection";
const GET: &str = "SELECT firing, since, clear_since, last_notified, synced, failing FROM outage_states
     WHERE outage = ?1 AND grp = ?2";
const PUT: &str = "INSERT INTO outage_states (outage, grp, firing, since, clear_since, last_notified, synced, failing)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
     ON CONFLICT (outage, grp) DO UPDATE SET firing = excluded.firing, since = excluded.since,
     clear_since = excluded.clear_since, last_notified = excluded.last_notified,
     synced = excluded.synced, failing = excluded.failing";
const HOUR: &str = "INSERT INTO service_hours (service, hour, syncs, failed) VALUES (?1, ?2, 1, ?3)
     ON CONFLICT (service, hour) DO UPDATE SET syncs = syncs + 1, failed = failed + excluded.failed";
const FIRING_FOR: &str = "SELECT outage FROM outage_states WHERE grp = ?1 AND firing = 1 ORDER BY outage LIMIT 1";

const FIRING: &str = "SELECT outage, grp FROM outage_states WHERE firing = 1 ORDER BY outage, grp";
const END: &str = "UPDATE outage_states SET firing = 0, clear_since = NULL WHERE outage = ?1 AND grp = ?2";
// A FIRING already told on another channel is not held: its alert keeps
// its normal life, and every channel hears it (the outage's end releases
// only alerts nobody heard of).
const HOLD: &str = "UPDATE deliveries SET status = 'held', settled_at = ?1, last_error = ?2
     WHERE status = 'pending' AND is_digest = 0 AND effect = 'firing' AND rule <> ?3
       AND alert_connection IN (SELECT connection FROM outage_members WHERE outage = ?3 AND grp = ?4)
       AND NOT EXISTS (SELECT 1 FROM deliveries t WHERE t.event_id = deliveries.event_id AND t.rule = deliveries.rule
           AND t.alert_connection = deliveries.alert_connection AND t.alert_data_type = deliveries.alert_data_type
           AND t.effect = 'firing' AND t.status IN ('delivered', 'digested'))
     RETURNING rule, alert_connection, alert_data_type, channel";
const HELD: &str = "SELECT a.rule, a.connection, a.data_type FROM alerts a JOIN connections c ON c.id = a.connection
     WHERE a.state = 'firing' AND a.muted_by = ?1 AND c.service = ?2 ORDER BY a.connection, a.rule";
const FIRING_CONNECTIONS: &str =
    "SELECT count(DISTINCT a.connection) FROM alerts a JOIN connections c ON c.id = a.connection
     WHERE a.state = 'firing' AND c.service = ?1 AND (?2 IS NULL OR c.environment = ?2)";
// The copies of a FIRING delivered anyway that were held on other
// channels go out after all.
const UNHOLD: &str = "UPDATE deliveries SET status = 'pending', settled_at = NULL, last_error = NULL
     WHERE status = 'held' AND id <> ?1 AND event_id = (SELECT event_id FROM deliveries WHERE id = ?1)
       AND rule = ?2 AND alert_connection = ?3 AND alert_data_type = ?4 AND effect = 'firing'
     RETURNING channel";
const TOLD: &str = "SELECT DISTINCT channel FROM deliveries
     WHERE rule = ?1 AND alert_connection = ?2 AND effect IN ('firing', 'still_failing')
       AND status IN ('delivered', 'pending') AND created_at >= ?3 ORDER BY channel";
const WAS_HELD: &str = "SELECT rule, alert_connection, alert_data_type, channel, created_at FROM deliveries
     WHERE id = ?1 AND status = 'held'";

/// The outage counters of one transaction, and its alert states.
pub struct SqlOutages<'t> {
    conn: &'t Connection,
    alerts: SqlStates<'t>,
}

impl<'t> SqlOutages<'t> {
    pub fn new(conn: &'t Connection) -> SqlOutages<'t> {
        SqlOutages {
            conn,
            alerts: SqlStates::new(conn),
        }
    }
}

/// An alert key from its `rule`, connection and data type columns (`''`
/// for none).
fn key_of(rule: String, connection: String, data_type: String) -> AlertKey {
    AlertKey {
        rule,
        connection,
        data_type: (!data_type.is_empty()).then_some(data_type),
    }
}

impl<'t> OutageStore for SqlOutages<'t> {
    type Alerts = SqlStates<'t>;

    fn alerts(&mut self) -> &mut SqlStates<'t> {
        &mut self.alerts
    }

    fn record_hour(&mut self, event: &Event, at: SystemTime) -> rusqlite::Result<()> {
        record_hour(self.conn, event, at)
    }

    fn hold_queued(
        &mut self,
        outage: &str,
        group: &str,
        note: &str,
        now: SystemTime,
    ) -> rusqlite::Result<Vec<(AlertKey, String)>> {
        (self.conn.prepare_cached(HOLD)?)
            .query_map(params![millis(now), note, outage, group], |row| {
                Ok((key_of(row.get(0)?, row.get(1)?, row.get(2)?), row.get(3)?))
            })?
            .collect()
    }

    fn held_alerts(&mut self, held_by: &str, group: &str) -> rusqlite::Result<Vec<AlertKey>> {
        (self.conn.prepare_cached(HELD)?)
            .query_map(params![held_by, group], |row| {
                Ok(key_of(row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect()
    }

    fn connection(&mut self, id: &str) -> rusqlite::Result<Option<KnownConnection>> {
        connections::get(self.conn, id)
    }

    fn firing_connections(&mut self, group: &str, environment: Option<Environment>) -> rusqlite::Result<usize> {
        let environment = environment.map(Environment::as_str);
        let count: i64 =
            (self.conn.prepare_cached(FIRING_CONNECTIONS)?).query_row(params![group, environment], |row| row.get(0))?;
        Ok(count as usize)
    }

    fn told_channels(&mut self, outage: &str, group: &str, since: SystemTime) -> rusqlite::Result<Vec<String>> {
        (self.conn.prepare_cached(TOLD)?)
            .query_map(params![outage, group, millis(since)], |row| row.get(0))?
            .collect()
    }

    fn firing_outages(&mut self) -> rusqlite::Result<Vec<(String, String)>> {
        (self.conn.prepare_cached(FIRING)?)
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect()
    }

    fn end(&mut self, outage: &str, group: &str) -> rusqlite::Result<()> {
        self.conn.prepare_cached(END)?.execute(params![outage, group])?;
        Ok(())
    }
}

/// A FIRING held while its lane was already sending it, and delivered all
/// the same (see `outage::moves::delivered_anyway`).
pub fn delivered_anyway(tx: &Connection, id: u64) -> rusqlite::Result<()> {
    let row = (tx.prepare_cached(WAS_HELD)?)
        .query_row([id as i64], |row| {
            let key = key_of(row.get(0)?, row.get(1)?, row.get(2)?);
            Ok((key, row.get::<_, String>(3)?, row.get::<_, i64>(4)?))
        })
        .optional()?;
    let Some((key, channel, created_at)) = row else {
        return Ok(());
    };
    let mut channels = vec![channel];
    let data_type = key.data_type.as_deref().unwrap_or("");
    let mut unhold = tx.prepare_cached(UNHOLD)?;
    for channel in unhold.query_map(params![id as i64, key.rule, key.connection, data_type], |row| {
        row.get(0)
    })? {
        channels.push(channel?);
    }
    crate::outage::moves::delivered_anyway(&mut SqlStates::new(tx), (&key, &channels), from_millis(created_at))
}

impl OutageStates for SqlOutages<'_> {
    type Error = rusqlite::Error;

    fn record(&mut self, outage: &str, group: &str, member: &Member) -> rusqlite::Result<()> {
        let types = serde_json::to_string(&member.failed_types).unwrap_or_else(|_| "[]".into());
        self.conn.prepare_cached(RECORD)?.execute(params![
            outage,
            group,
            member.connection,
            millis(member.synced_at),
            member.failed_at.map(millis),
            types
        ])?;
        Ok(())
    }

    fn counts(&mut self, outage: &str, group: &str, since: SystemTime) -> rusqlite::Result<Counts> {
        let (synced, failing): (i64, i64) = (self.conn.prepare_cached(COUNTS)?)
            .query_row(params![outage, group, millis(since)], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
        Ok(Counts {
            synced: synced as u64,
            failing: failing as u64,
        })
    }

    fn failing(&mut self, outage: &str, group: &str, since: SystemTime) -> rusqlite::Result<Vec<Member>> {
        let mut statement = self.conn.prepare_cached(FAILING)?;
        let rows = statement.query_map(params![outage, group, millis(since)], |row| {
            let types: String = row.get(3)?;
            Ok(Member {
                connection: row.get(0)?,
                synced_at: from_millis(row.get(1)?),
                failed_at: row.get::<_, Option<i64>>(2)?.map(from_millis),
                failed_types: serde_json::from_str(&types).unwrap_or_default(),
            })
        })?;
        rows.collect()
    }

    fn get(&mut self, outage: &str, group: &str) -> rusqlite::Result<Option<OutageState>> {
        (self.conn.prepare_cached(GET)?)
            .query_row(params![outage, group], |row| {
                Ok(OutageState {
                    firing: row.get(0)?,
                    since: from_millis(row.get(1)?),
                    clear_since: row.get::<_, Option<i64>>(2)?.map(from_millis),
                    last_notified: row.get::<_, Option<i64>>(3)?.map(from_millis),
                    counts: Counts {
                        synced: row.get::<_, i64>(4)? as u64,
                        failing: row.get::<_, i64>(5)? as u64,
                    },
                })
            })
            .optional()
    }

    fn put(&mut self, outage: &str, group: &str, state: &OutageState) -> rusqlite::Result<()> {
        self.conn.prepare_cached(PUT)?.execute(params![
            outage,
            group,
            state.firing,
            millis(state.since),
            state.clear_since.map(millis),
            state.last_notified.map(millis),
            state.counts.synced as i64,
            state.counts.failing as i64
        ])?;
        Ok(())
    }
}

/// The outage firing for `service` (or data type), if any: what holds the
/// new alerts of its connections.
pub fn firing_for(conn: &Connection, group: &str) -> rusqlite::Result<Option<String>> {
    (conn.prepare_cached(FIRING_FOR)?)
        .query_row([group], |row| row.get(0))
        .optional()
}

/// Counts a sync in its service's hour (the page's chart).
pub fn record_hour(conn: &Connection, event: &Event, at: SystemTime) -> rusqlite::Result<()> {
    let Some(service) = event.service.as_deref().filter(|_| event.is_sync()) else {
        return Ok(());
    };
    let failed = i64::from(event.count(&Status::Failed) > 0);
    let hour = millis(at) / 3_600_000;
    conn.prepare_cached(HOUR)?.execute(params![service, hour, failed])?;
    Ok(())
}
