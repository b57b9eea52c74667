//! Reading a whole SQLite store out, for `syncwatch migrate`: every table
//! the daemon needs, as plain rows in batches, from one read transaction
//! (one snapshot), with the bodies as received (decompressed).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, Row};

use super::{body, from_millis, open_read_only, schema};

/// The tables copied, in the order they are copied: what a row refers to
/// comes before it (deliveries name events; attempts name deliveries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Events,
    Deliveries,
    Attempts,
    Alerts,
    Connections,
    ConnectionDays,
    Silences,
    Meta,
    SlackThreads,
    OutageMembers,
    OutageStates,
    ServiceHours,
}

impl Table {
    pub const ALL: [Table; 12] = [
        Table::Events,
        Table::Deliveries,
        Table::Attempts,
        Table::Alerts,
        Table::Connections,
        Table::ConnectionDays,
        Table::Silences,
        Table::Meta,
        Table::SlackThreads,
        Table::OutageMembers,
        Table::OutageStates,
        Table::ServiceHours,
    ];

    /// The table's name, the same in both stores.
    pub fn name(self) -> &'static str {
        match self {
            Table::Events => "events",
            Table::Deliveries => "deliveries",
            Table::Attempts => "attempts",
            Table::Alerts => "alerts",
            Table::Connections => "connections",
            Table::ConnectionDays => "connection_days",
            Table::Silences => "silences",
            Table::Meta => "meta",
            Table::SlackThreads => "slack_threads",
            Table::OutageMembers => "outage_members",
            Table::OutageStates => "outage_states",
            Table::ServiceHours => "service_hours",
        }
    }
}

/// An `events` row, its body as received.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub dedup_key: String,
    pub request_id: Option<String>,
    pub received_at: i64,
    pub event: Option<String>,
    pub connection: Option<String>,
    pub environment: String,
    pub body: Vec<u8>,
    pub fired: String,
    pub suppressed: String,
    pub transitions: String,
}

/// A `deliveries` row; claims live in memory on SQLite, so none is held.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub event_id: i64,
    pub request_id: Option<String>,
    pub rule: String,
    pub channel: String,
    pub message: String,
    pub status: String,
    pub created_at: i64,
    pub due_at: i64,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub settled_at: Option<i64>,
    pub item: Option<String>,
    pub is_digest: bool,
    pub digest_id: Option<i64>,
    pub alert_connection: Option<String>,
    pub alert_data_type: Option<String>,
    pub effect: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub delivery_id: i64,
    pub at: i64,
    pub outcome: String,
    pub answer: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Alert {
    pub rule: String,
    pub connection: String,
    pub data_type: String,
    pub state: String,
    pub since: i64,
    pub firing_since: Option<i64>,
    pub resolved_at: Option<i64>,
    pub matches: i64,
    pub streak: i64,
    pub clean: i64,
    pub last_notified: Option<i64>,
    pub notified: String,
    pub muted_by: Option<String>,
}

#[derive(Debug, Clone)]
pub struct KnownConnection {
    pub id: String,
    pub first_seen: i64,
    pub last_event: i64,
    pub last_event_name: Option<String>,
    pub last_sync: Option<i64>,
    pub status: Option<String>,
    pub expected_since: Option<i64>,
    pub service: Option<String>,
    pub business: Option<String>,
    pub environment: String,
    pub status_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Day {
    pub connection: String,
    pub day: i64,
    pub clean: i64,
    pub failed: i64,
    pub empty: i64,
}

#[derive(Debug, Clone)]
pub struct Silence {
    pub id: String,
    pub matchers: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub comment: String,
    pub created_at: i64,
    pub expired_at: Option<i64>,
}

/// A `meta` row: the heartbeat, where absence clocks start after the last
/// downtime, the silences' version.
#[derive(Debug, Clone)]
pub struct Meta {
    pub key: String,
    pub value: i64,
}

/// A `slack_threads` row: the Slack message an alert episode's thread
/// hangs on.
#[derive(Debug, Clone)]
pub struct SlackThread {
    pub channel: String,
    pub alert: String,
    pub since: i64,
    pub slack_channel: String,
    pub ts: String,
    pub is_digest: bool,
    pub original: String,
    pub posted_at: i64,
}

/// An `outage_members` row: one connection's latest outcome in an
/// outage's group.
#[derive(Debug, Clone)]
pub struct OutageMember {
    pub outage: String,
    pub grp: String,
    pub connection: String,
    pub synced_at: i64,
    pub failed_at: Option<i64>,
    pub failed_types: String,
}

/// An `outage_states` row: one outage and group's state (firing or not).
#[derive(Debug, Clone)]
pub struct OutageStateRow {
    pub outage: String,
    pub grp: String,
    pub firing: bool,
    pub since: i64,
    pub clear_since: Option<i64>,
    pub last_notified: Option<i64>,
    pub synced: i64,
    pub failing: i64,
}

/// A `service_hours` row: one service's syncs and failed syncs in an hour.
#[derive(Debug, Clone)]
pub struct ServiceHour {
    pub service: String,
    pub hour: i64,
    pub syncs: i64,
    pub failed: i64,
}

/// A batch of rows of one table.
#[derive(Debug)]
pub enum Rows {
    Events(Vec<Event>),
    Deliveries(Vec<Delivery>),
    Attempts(Vec<Attempt>),
    Alerts(Vec<Alert>),
    Connections(Vec<KnownConnection>),
    ConnectionDays(Vec<Day>),
    Silences(Vec<Silence>),
    Meta(Vec<Meta>),
    SlackThreads(Vec<SlackThread>),
    OutageMembers(Vec<OutageMember>),
    OutageStates(Vec<OutageStateRow>),
    ServiceHours(Vec<ServiceHour>),
}

impl Rows {
    pub fn table(&self) -> Table {
        match self {
            Rows::Events(_) => Table::Events,
            Rows::Deliveries(_) => Table::Deliveries,
            Rows::Attempts(_) => Table::Attempts,
            Rows::Alerts(_) => Table::Alerts,
            Rows::Connections(_) => Table::Connections,
            Rows::ConnectionDays(_) => Table::ConnectionDays,
            Rows::Silences(_) => Table::Silences,
            Rows::Meta(_) => Table::Meta,
            Rows::SlackThreads(_) => Table::SlackThreads,
            Rows::OutageMembers(_) => Table::OutageMembers,
            Rows::OutageStates(_) => Table::OutageStates,
            Rows::ServiceHours(_) => Table::ServiceHours,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Rows::Events(rows) => rows.len(),
            Rows::Deliveries(rows) => rows.len(),
            Rows::Attempts(rows) => rows.len(),
            Rows::Alerts(rows) => rows.len(),
            Rows::Connections(rows) => rows.len(),
            Rows::ConnectionDays(rows) => rows.len(),
            Rows::Silences(rows) => rows.len(),
            Rows::Meta(rows) => rows.len(),
            Rows::SlackThreads(rows) => rows.len(),
            Rows::OutageMembers(rows) => rows.len(),
            Rows::OutageStates(rows) => rows.len(),
            Rows::ServiceHours(rows) => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How big a batch may grow: rows, and bytes of bodies and messages (a
/// body may be up to `server.max_body`, 4 MiB by default).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub rows: usize,
    pub bytes: usize,
}

/// The store being read: a read-only connection inside one read
/// transaction, so every table is read at the same moment.
pub struct Source {
    conn: Connection,
    path: PathBuf,
    /// `PRAGMA data_version` before the read began: another connection
    /// committing changes it.
    data_version: i64,
}

/// The SQLite store's `meta` key of the daemon's heartbeat.
const HEARTBEAT: &str = "heartbeat";

impl Source {
    /// Opens `path` without writing to it (nor creating it) and begins
    /// the read. Its schema must be this syncwatch's: a read-only reader
    /// cannot upgrade it.
    pub fn open(path: &Path) -> Result<Source, String> {
        if !path.exists() {
            return Err(format!("{} does not exist", path.display()));
        }
        let conn = open_read_only(path).map_err(|err| format!("cannot open {}: {err}", path.display()))?;
        let read = |err: rusqlite::Error| format!("cannot read {}: {err}", path.display());
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(read)?;
        if version != schema::CURRENT_VERSION {
            let how = if version > schema::CURRENT_VERSION {
                "upgrade syncwatch, then run this again"
            } else {
                "start this syncwatch's daemon on it once (it upgrades the file at start), stop it, then run this again"
            };
            return Err(format!(
                "{} has schema version {version}; this syncwatch copies version {}: {how}",
                path.display(),
                schema::CURRENT_VERSION
            ));
        }
        let data_version: i64 = conn
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .map_err(read)?;
        // A deferred transaction takes its snapshot at its first read.
        conn.execute_batch("BEGIN").map_err(read)?;
        Ok(Source {
            conn,
            path: path.to_owned(),
            data_version,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number of rows of each table.
    pub fn counts(&self) -> rusqlite::Result<Vec<(Table, u64)>> {
        Table::ALL
            .iter()
            .map(|table| {
                let sql = format!("SELECT count(*) FROM {}", table.name());
                let count: i64 = self.conn.query_row(&sql, [], |row| row.get(0))?;
                Ok((*table, count.max(0) as u64))
            })
            .collect()
    }

    /// Pending deliveries (not yet sent, digests included).
    pub fn pending(&self) -> rusqlite::Result<u64> {
        let count: i64 =
            self.conn
                .query_row("SELECT count(*) FROM deliveries WHERE status = 'pending'", [], |row| {
                    row.get(0)
                })?;
        Ok(count.max(0) as u64)
    }

    /// When the daemon last wrote its heartbeat (every 20 s while it runs).
    pub fn heartbeat(&self) -> rusqlite::Result<Option<SystemTime>> {
        let value: Option<i64> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [HEARTBEAT], |row| row.get(0))
            .optional()?;
        Ok(value.map(from_millis))
    }

    /// Rows that refer to a row that is gone, as `(table, parent, count)`:
    /// PostgreSQL would refuse them.
    pub fn broken_references(&self) -> rusqlite::Result<Vec<(String, String, u64)>> {
        self.conn
            .prepare(r#"SELECT "table", parent, count(*) FROM pragma_foreign_key_check GROUP BY 1, 2 ORDER BY 1, 2"#)?
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)?.max(0) as u64))
            })?
            .collect()
    }

    /// Dedup keys that more than one event carries (a redelivery that came
    /// after the 24-hour window), each with the id of its latest event.
    /// PostgreSQL keeps dedup keys unique.
    pub fn shared_dedup_keys(&self) -> rusqlite::Result<HashMap<String, i64>> {
        self.conn
            .prepare("SELECT dedup_key, max(id) FROM events GROUP BY dedup_key HAVING count(*) > 1")?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect()
    }

    /// Every event in id order, in batches handed to `each` (which returns
    /// false to stop). An event whose dedup key a later one shares (see
    /// [`Source::shared_dedup_keys`], given as `shared`) gets `KEY#ID`.
    pub fn events(
        &self,
        shared: &HashMap<String, i64>,
        limits: Limits,
        each: &mut dyn FnMut(Rows) -> bool,
    ) -> rusqlite::Result<()> {
        let sql = "SELECT id, dedup_key, request_id, received_at, event, connection, environment, body, body_lz4,
                          fired, suppressed, transitions FROM events ORDER BY id";
        let read = |row: &Row<'_>| {
            let id: i64 = row.get(0)?;
            let mut dedup_key: String = row.get(1)?;
            if shared.get(&dedup_key).is_some_and(|latest| *latest != id) {
                dedup_key = format!("{dedup_key}#{id}");
            }
            let body = body::unpack(row.get(7)?, row.get(8)?)?;
            let event = Event {
                id,
                dedup_key,
                request_id: row.get(2)?,
                received_at: row.get(3)?,
                event: row.get(4)?,
                connection: row.get(5)?,
                environment: row.get(6)?,
                body,
                fired: row.get(9)?,
                suppressed: row.get(10)?,
                transitions: row.get(11)?,
            };
            let weight = event.body.len() + event.transitions.len();
            Ok((event, weight))
        };
        self.batches(sql, limits, read, Rows::Events, each)
    }

    /// Every delivery: first those no digest carries (digests among them),
    /// then the ones a digest carries, so each digest is copied before the
    /// rows that name it.
    pub fn deliveries(&self, limits: Limits, each: &mut dyn FnMut(Rows) -> bool) -> rusqlite::Result<()> {
        for carried in ["digest_id IS NULL", "digest_id IS NOT NULL"] {
            let sql = format!(
                "SELECT id, event_id, request_id, rule, channel, message, status, created_at, due_at, attempts,
                        last_error, settled_at, item, is_digest, digest_id, alert_connection, alert_data_type, effect
                 FROM deliveries WHERE {carried} ORDER BY id"
            );
            let read = |row: &Row<'_>| {
                let delivery = Delivery {
                    id: row.get(0)?,
                    event_id: row.get(1)?,
                    request_id: row.get(2)?,
                    rule: row.get(3)?,
                    channel: row.get(4)?,
                    message: row.get(5)?,
                    status: row.get(6)?,
                    created_at: row.get(7)?,
                    due_at: row.get(8)?,
                    attempts: row.get(9)?,
                    last_error: row.get(10)?,
                    settled_at: row.get(11)?,
                    item: row.get(12)?,
                    is_digest: row.get(13)?,
                    digest_id: row.get(14)?,
                    alert_connection: row.get(15)?,
                    alert_data_type: row.get(16)?,
                    effect: row.get(17)?,
                };
                let weight = delivery.message.len() + delivery.item.as_ref().map_or(0, String::len);
                Ok((delivery, weight))
            };
            let mut go_on = true;
            self.batches(&sql, limits, read, Rows::Deliveries, &mut |rows| {
                go_on = each(rows);
                go_on
            })?;
            if !go_on {
                break;
            }
        }
        Ok(())
    }

    pub fn attempts(&self, limits: Limits, each: &mut dyn FnMut(Rows) -> bool) -> rusqlite::Result<()> {
        let sql = "SELECT delivery_id, at, outcome, answer FROM attempts ORDER BY rowid";
        let read = |row: &Row<'_>| {
            let attempt = Attempt {
                delivery_id: row.get(0)?,
                at: row.get(1)?,
                outcome: row.get(2)?,
                answer: row.get(3)?,
            };
            let weight = attempt.answer.as_ref().map_or(0, String::len);
            Ok((attempt, weight))
        };
        self.batches(sql, limits, read, Rows::Attempts, each)
    }

    pub fn alerts(&self, limits: Limits, each: &mut dyn FnMut(Rows) -> bool) -> rusqlite::Result<()> {
        let sql = "SELECT rule, connection, data_type, state, since, firing_since, resolved_at, matches, streak, clean,
                          last_notified, notified, muted_by FROM alerts ORDER BY rowid";
        let read = |row: &Row<'_>| {
            let alert = Alert {
                rule: row.get(0)?,
                connection: row.get(1)?,
                data_type: row.get(2)?,
                state: row.get(3)?,
                since: row.get(4)?,
                firing_since: row.get(5)?,
                resolved_at: row.get(6)?,
                matches: row.get(7)?,
                streak: row.get(8)?,
                clean: row.get(9)?,
                last_notified: row.get(10)?,
                notified: row.get(11)?,
                muted_by: row.get(12)?,
            };
            Ok((alert, 0))
        };
        self.batches(sql, limits, read, Rows::Alerts, each)
    }

    pub fn connections(&self, limits: Limits, each: &mut dyn FnMut(Rows) -> bool) -> rusqlite::Result<()> {
        let sql = "SELECT id, first_seen, last_event, last_event_name, last_sync, status, expected_since, service,
                          business, environment, status_at FROM connections ORDER BY id";
        let read = |row: &Row<'_>| {
            let known = KnownConnection {
                id: row.get(0)?,
                first_seen: row.get(1)?,
                last_event: row.get(2)?,
                last_event_name: row.get(3)?,
                last_sync: row.get(4)?,
                status: row.get(5)?,
                expected_since: row.get(6)?,
                service: row.get(7)?,
                business: row.get(8)?,
                environment: row.get(9)?,
                status_at: row.get(10)?,
            };
            Ok((known, 0))
        };
        self.batches(sql, limits, read, Rows::Connections, each)
    }

    pub fn connection_days(&self, limits: Limits, each: &mut dyn FnMut(Rows) -> bool) -> rusqlite::Result<()> {
        let sql = "SELECT connection, day, clean, failed, empty FROM connection_days ORDER BY connection, day";
        let read = |row: &Row<'_>| {
            let day = Day {
                connection: row.get(0)?,
                day: row.get(1)?,
                clean: row.get(2)?,
                failed: row.get(3)?,
                empty: row.get(4)?,
            };
            Ok((day, 0))
        };
        self.batches(sql, limits, read, Rows::ConnectionDays, each)
    }

    pub fn silences(&self, limits: Limits, each: &mut dyn FnMut(Rows) -> bool) -> rusqlite::Result<()> {
        let sql =
            "SELECT id, matchers, starts_at, ends_at, comment, created_at, expired_at FROM silences ORDER BY rowid";
        let read = |row: &Row<'_>| {
            let silence = Silence {
                id: row.get(0)?,
                matchers: row.get(1)?,
                starts_at: row.get(2)?,
                ends_at: row.get(3)?,
                comment: row.get(4)?,
                created_at: row.get(5)?,
                expired_at: row.get(6)?,
            };
            Ok((silence, 0))
        };
        self.batches(sql, limits, read, Rows::Silences, each)
    }

    pub fn meta(&self, limits: Limits, each: &mut dyn FnMut(Rows) -> bool) -> rusqlite::Result<()> {
        let sql = "SELECT key, value FROM meta ORDER BY key";
        let read = |row: &Row<'_>| {
            let meta = Meta {
                key: row.get(0)?,
                value: row.get(1)?,
            };
            Ok((meta, 0))
        };
        self.batches(sql, limits, read, Rows::Meta, each)
    }

    pub fn slack_threads(&self, limits: Limits, each: &mut dyn FnMut(Rows) -> bool) -> rusqlite::Result<()> {
        let sql = "SELECT channel, alert, since, slack_channel, ts, is_digest, original, posted_at FROM slack_threads
                   ORDER BY channel, alert";
        let read = |row: &Row<'_>| {
            let thread = SlackThread {
                channel: row.get(0)?,
                alert: row.get(1)?,
                since: row.get(2)?,
                slack_channel: row.get(3)?,
                ts: row.get(4)?,
                is_digest: row.get(5)?,
                original: row.get(6)?,
                posted_at: row.get(7)?,
            };
            let weight = thread.original.len();
            Ok((thread, weight))
        };
        self.batches(sql, limits, read, Rows::SlackThreads, each)
    }

    pub fn outage_members(&self, limits: Limits, each: &mut dyn FnMut(Rows) -> bool) -> rusqlite::Result<()> {
        let sql = "SELECT outage, grp, connection, synced_at, failed_at, failed_types FROM outage_members
                   ORDER BY outage, grp, connection";
        let read = |row: &Row<'_>| {
            let member = OutageMember {
                outage: row.get(0)?,
                grp: row.get(1)?,
                connection: row.get(2)?,
                synced_at: row.get(3)?,
                failed_at: row.get(4)?,
                failed_types: row.get(5)?,
            };
            Ok((member, 0))
        };
        self.batches(sql, limits, read, Rows::OutageMembers, each)
    }

    pub fn outage_states(&self, limits: Limits, each: &mut dyn FnMut(Rows) -> bool) -> rusqlite::Result<()> {
        let sql = "SELECT outage, grp, firing, since, clear_since, last_notified, synced, failing FROM outage_states
                   ORDER BY outage, grp";
        let read = |row: &Row<'_>| {
            let state = OutageStateRow {
                outage: row.get(0)?,
                grp: row.get(1)?,
                firing: row.get(2)?,
                since: row.get(3)?,
                clear_since: row.get(4)?,
                last_notified: row.get(5)?,
                synced: row.get(6)?,
                failing: row.get(7)?,
            };
            Ok((state, 0))
        };
        self.batches(sql, limits, read, Rows::OutageStates, each)
    }

    pub fn service_hours(&self, limits: Limits, each: &mut dyn FnMut(Rows) -> bool) -> rusqlite::Result<()> {
        let sql = "SELECT service, hour, syncs, failed FROM service_hours ORDER BY service, hour";
        let read = |row: &Row<'_>| {
            let hour = ServiceHour {
                service: row.get(0)?,
                hour: row.get(1)?,
                syncs: row.get(2)?,
                failed: row.get(3)?,
            };
            Ok((hour, 0))
        };
        self.batches(sql, limits, read, Rows::ServiceHours, each)
    }

    /// Ends the read. True when another connection (a daemon still
    /// running) committed to the file since [`Source::open`]: what was
    /// read may already be out of date.
    pub fn finish(self) -> rusqlite::Result<bool> {
        self.conn.execute_batch("COMMIT")?;
        let now: i64 = self.conn.query_row("PRAGMA data_version", [], |row| row.get(0))?;
        Ok(now != self.data_version)
    }

    /// Runs `sql`, reading each row with `read` (the row and its weight in
    /// bytes), and hands the rows to `each` in batches within `limits`.
    fn batches<T>(
        &self,
        sql: &str,
        limits: Limits,
        read: impl Fn(&Row<'_>) -> rusqlite::Result<(T, usize)>,
        wrap: impl Fn(Vec<T>) -> Rows,
        each: &mut dyn FnMut(Rows) -> bool,
    ) -> rusqlite::Result<()> {
        let mut statement = self.conn.prepare(sql)?;
        let mut rows = statement.query([])?;
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(row) = rows.next()? {
            let (value, weight) = read(row)?;
            batch.push(value);
            bytes += weight;
            if batch.len() >= limits.rows.max(1) || bytes >= limits.bytes {
                if !each(wrap(std::mem::take(&mut batch))) {
                    return Ok(());
                }
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            each(wrap(batch));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::{Limits, Rows, Source, Table};
    use crate::store::sqlite::{body, open_and_migrate};

    fn store() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("syncwatch.db");
        let conn = open_and_migrate(&path, Duration::from_secs(1)).unwrap();
        let packed = body::pack(b"{\"requestId\":\"r-1\"}");
        conn.execute(
            "INSERT INTO events (id, dedup_key, request_id, received_at, environment, body, body_lz4)
             VALUES (1, 'r-1', 'r-1', 1000, 'production', ?1, 1), (2, 'r-2', 'r-2', 2000, 'production', ?2, 0),
                    (3, 'r-1', 'r-1', 3000, 'production', ?2, 0)",
            rusqlite::params![packed, b"{}".to_vec()],
        )
        .unwrap();
        conn.execute_batch(
            "INSERT INTO deliveries (id, event_id, rule, channel, message, status, created_at, due_at, is_digest)
             VALUES (2, 1, 'digest of 1', 'ops', '{}', 'pending', 2, 2, 1);
             INSERT INTO deliveries (id, event_id, rule, channel, message, status, created_at, due_at, digest_id)
             VALUES (1, 1, 'r', 'ops', '{}', 'digested', 1, 1, 2);
             INSERT INTO meta (key, value) VALUES ('heartbeat', 5000);",
        )
        .unwrap();
        (dir, path)
    }

    fn all(source: &Source, table: Table, limits: Limits) -> Vec<Rows> {
        let mut got = Vec::new();
        let mut each = |rows: Rows| {
            got.push(rows);
            true
        };
        let shared = source.shared_dedup_keys().unwrap();
        match table {
            Table::Events => source.events(&shared, limits, &mut each),
            Table::Deliveries => source.deliveries(limits, &mut each),
            Table::Meta => source.meta(limits, &mut each),
            _ => unreachable!(),
        }
        .unwrap();
        got
    }

    #[test]
    fn bodies_come_out_as_received_and_a_shared_key_is_kept_by_the_latest_event() {
        let (_dir, path) = store();
        let source = Source::open(&path).unwrap();
        let limits = Limits {
            rows: 2,
            bytes: 1 << 20,
        };
        let batches = all(&source, Table::Events, limits);
        assert_eq!(batches.iter().map(Rows::len).collect::<Vec<_>>(), [2, 1]);
        let events: Vec<_> = batches
            .into_iter()
            .flat_map(|rows| match rows {
                Rows::Events(events) => events,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(events[0].body, b"{\"requestId\":\"r-1\"}");
        assert_eq!(events[1].body, b"{}");
        let keys: Vec<&str> = events.iter().map(|e| e.dedup_key.as_str()).collect();
        assert_eq!(keys, ["r-1#1", "r-2", "r-1"]);
        assert_eq!(events[0].request_id.as_deref(), Some("r-1"));
        assert!(!source.finish().unwrap(), "nobody wrote meanwhile");
    }

    #[test]
    fn a_digest_comes_before_the_rows_it_carries() {
        let (_dir, path) = store();
        let source = Source::open(&path).unwrap();
        let limits = Limits {
            rows: 1000,
            bytes: 1 << 20,
        };
        let ids: Vec<i64> = all(&source, Table::Deliveries, limits)
            .into_iter()
            .flat_map(|rows| match rows {
                Rows::Deliveries(rows) => rows.into_iter().map(|d| d.id).collect::<Vec<_>>(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(ids, [2, 1]);
        let counts: HashMap<Table, u64> = source.counts().unwrap().into_iter().collect();
        assert_eq!(counts[&Table::Events], 3);
        assert_eq!(counts[&Table::Deliveries], 2);
        assert_eq!(source.pending().unwrap(), 1);
        assert!(source.heartbeat().unwrap().is_some());
        assert!(source.broken_references().unwrap().is_empty());
    }

    #[test]
    fn a_write_during_the_read_is_noticed() {
        let (_dir, path) = store();
        let source = Source::open(&path).unwrap();
        assert_eq!(all(&source, Table::Meta, Limits { rows: 10, bytes: 10 }).len(), 1);
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer.execute("UPDATE meta SET value = 6000", []).unwrap();
        assert!(source.finish().unwrap(), "the daemon wrote during the copy");
    }

    #[test]
    fn a_missing_file_is_named_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nothing.db");
        let err = Source::open(&path).err().unwrap();
        assert!(err.contains("nothing.db does not exist"), "{err}");
        assert!(!path.exists());
    }
}
