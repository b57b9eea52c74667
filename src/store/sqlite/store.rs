//! [`SqliteStore`]: the writer thread for writes, pooled reader
//! connections for reads, and the claims of the delivery lanes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::super::model::{Delivery, Fallback, Ingest, IngestOutcome, Pruned, Settle, StoreError};
use super::absence::{self, AbsenceOutcome};
use super::digest::{self, Built};
use super::group;
use super::open::{self, open_and_migrate};
use super::seen::{self, Seen};
use super::writer::{Command, Writer, job, lock};
use super::{body, connections, silences, status};
use super::{read, threads, write};
use crate::absence::{Check, Downtime, KnownConnection};
use crate::alerts::AlertKey;
use crate::config::{ChannelKind, Config};
use crate::lifecycle::AlertState;
use crate::lifecycle::Sweep;
use crate::quiet::Silence;
use crate::render::{Anchor, Episode};

/// `meta` keys: the last heartbeat, and where absence clocks start after
/// the last downtime.
const HEARTBEAT: &str = "heartbeat";
const CLOCK_FLOOR: &str = "clock_floor";
/// When the last downtime began (the heartbeat before it).
const CLOCK_FLOOR_FROM: &str = "clock_floor_from";

pub struct SqliteStore {
    path: PathBuf,
    /// To the writer thread; dropping the store ends it.
    commands: Mutex<mpsc::Sender<Command>>,
    /// Idle reader connections, reused so a read does not reopen the file.
    readers: Mutex<Vec<Connection>>,
    /// Deliveries handed to a worker and not settled yet.
    claimed: Mutex<HashSet<u64>>,
    /// The request ids of the last day, shared with the writer thread.
    seen: Arc<Mutex<Seen>>,
}

impl SqliteStore {
    /// Opens (creating and migrating) the database and starts the writer.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<SqliteStore, StoreError> {
        let conn = open_and_migrate(path, busy_timeout).map_err(|err| cannot_open(path, err))?;
        SqliteStore::start(conn, path, busy_timeout)
    }

    /// A store for a simulation (`syncwatch test --cases`): nothing in it
    /// outlives the run, so commits are not flushed to disk.
    pub fn open_scratch(path: &Path) -> Result<SqliteStore, StoreError> {
        let busy_timeout = Duration::from_secs(5);
        let conn = open_and_migrate(path, busy_timeout)
            .and_then(|conn| conn.pragma_update(None, "synchronous", "OFF").map(|()| conn))
            .map_err(|err| cannot_open(path, err))?;
        SqliteStore::start(conn, path, busy_timeout)
    }

    /// Starts the writer thread on `conn`, the database at `path`.
    fn start(conn: Connection, path: &Path, busy_timeout: Duration) -> Result<SqliteStore, StoreError> {
        let seen = Seen::load(&conn, SystemTime::now())
            .map_err(|err| StoreError::Unavailable(format!("cannot read the recent request ids: {err}")))?;
        let seen = Arc::new(Mutex::new(seen));
        let (commands, receiver) = mpsc::channel();
        let writer = Writer {
            path: path.to_owned(),
            busy_timeout,
            seen: seen.clone(),
        };
        std::thread::Builder::new()
            .name("syncwatch-db-writer".into())
            .spawn(move || writer.run(conn, receiver))
            .map_err(|err| StoreError::Unavailable(format!("cannot start the database writer: {err}")))?;
        Ok(SqliteStore {
            path: path.to_owned(),
            commands: Mutex::new(commands),
            readers: Mutex::new(Vec::new()),
            claimed: Mutex::new(HashSet::new()),
            seen,
        })
    }

    /// The notifications delivered with an id above `after`, oldest first.
    pub fn delivered_since(&self, after: i64) -> Result<Vec<super::audit::Told>, StoreError> {
        self.read(|conn| super::audit::delivered_since(conn, after))
    }

    /// Runs `work` in the writer's next transaction.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let sent = lock(&self.commands).send(job(work, reply));
        if sent.is_err() {
            return Err(StoreError::Unavailable("the database writer has stopped".into()));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the database writer has stopped".into())))
    }

    fn read<T>(&self, query: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let conn = match lock(&self.readers).pop() {
            Some(conn) => conn,
            None => open::open_reader(&self.path)?,
        };
        let result = query(&conn);
        // A connection that failed may be broken; let it go.
        if result.is_ok() {
            lock(&self.readers).push(conn);
        }
        Ok(result?)
    }

    pub async fn ingest(&self, ingest: Ingest) -> Result<IngestOutcome, StoreError> {
        // Compressed here, on the caller's task: the one writer thread is
        // what every webhook waits for.
        let body = body::pack(&ingest.body);
        let key = seen::key(&ingest.dedup_key);
        let seen = self.seen.clone();
        // On the writer thread, so admitting a key and committing its event
        // are one serial step.
        self.write(move |tx| {
            if !lock(&seen).admit(key, ingest.received_at()) {
                return Ok(IngestOutcome::Duplicate);
            }
            let written = write::ingest(tx, &ingest, &body);
            if written.is_err() {
                lock(&seen).forget(&key);
            }
            written
        })
        .await
    }

    /// How many request ids the dedup window holds.
    pub fn dedup_window(&self) -> usize {
        lock(&self.seen).len()
    }

    /// Gives back a claim without settling it: the row is due again.
    pub fn release(&self, id: u64) {
        lock(&self.claimed).remove(&id);
    }

    pub fn claim_next(&self, channel: &str, now: SystemTime) -> Result<Option<Delivery>, StoreError> {
        let mut claimed = lock(&self.claimed);
        let next = self.read(|conn| read::next_unclaimed(conn, channel, now, &claimed))?;
        if let Some(delivery) = &next {
            claimed.insert(delivery.id);
        }
        Ok(next)
    }

    pub fn firing_by_rule(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.read(read::firing_by_rule)
    }

    pub fn pending_count(&self) -> Result<u64, StoreError> {
        self.read(read::pending_count)
    }

    pub fn next_due(&self, channel: &str) -> Result<Option<SystemTime>, StoreError> {
        self.read(|conn| read::next_due(conn, channel))
    }

    pub async fn settle(&self, id: u64, settle: Settle) -> Result<(), StoreError> {
        self.settle_posted(id, settle, String::new(), Vec::new()).await
    }

    /// Settles delivery `id` of `channel` and keeps, in the same
    /// transaction, the Slack messages its threads now hang on.
    pub async fn settle_posted(
        &self,
        id: u64,
        settle: Settle,
        channel: String,
        anchors: Vec<Anchor>,
    ) -> Result<(), StoreError> {
        let at = SystemTime::now();
        self.write(move |tx| {
            write::settle(tx, id, &settle, at)?;
            threads::keep(tx, &channel, &anchors, at)
        })
        .await?;
        lock(&self.claimed).remove(&id);
        Ok(())
    }

    pub async fn settle_with_fallback(
        &self,
        id: u64,
        settle: Settle,
        fallback: Fallback,
        at: SystemTime,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            write::settle(tx, id, &settle, at)?;
            write::fall_back(tx, id, &fallback, at)
        })
        .await?;
        lock(&self.claimed).remove(&id);
        Ok(())
    }

    /// The Slack message `episode`'s thread hangs on in `channel`.
    pub fn slack_parent(&self, channel: &str, episode: &Episode) -> Result<Option<Anchor>, StoreError> {
        self.read(|conn| threads::parent(conn, channel, episode))
    }

    pub async fn abandon(&self, known: Vec<String>) -> Result<Vec<(String, u64)>, StoreError> {
        let at = SystemTime::now();
        self.write(move |tx| write::abandon(tx, &known, at)).await
    }

    pub async fn prune(&self, cutoff: SystemTime, forget_before: SystemTime) -> Result<Pruned, StoreError> {
        self.write(move |tx| write::prune(tx, cutoff, forget_before)).await
    }

    /// Writes a probe row: true when the database takes writes now.
    pub async fn is_ready(&self) -> bool {
        self.write(write::probe).await.is_ok()
    }

    /// Gathers `channel`'s pending notifications into one queued digest.
    pub async fn build_digest(
        &self,
        channel: &str,
        kind: ChannelKind,
        max_items: usize,
        max_age: Duration,
        now: SystemTime,
    ) -> Result<Option<Built>, StoreError> {
        let channel = channel.to_owned();
        self.write(move |tx| digest::build(tx, &channel, &kind, max_items, max_age, now))
            .await
    }

    /// Gathers with the claimed `delivery` the others of its event that
    /// may go with it into one group, claimed in its place.
    pub async fn group(&self, delivery: &Delivery, now: SystemTime) -> Result<Option<Delivery>, StoreError> {
        let id = delivery.id;
        let others: Vec<u64> = lock(&self.claimed).iter().copied().filter(|c| *c != id).collect();
        // A read first: most notifications are alone, and need no write.
        if self.read(|conn| group::members(conn, id, now, &others, 2))?.len() < 2 {
            return Ok(None);
        }
        let grouped = self.write(move |tx| group::build(tx, id, now, &others)).await?;
        if let Some(group) = &grouped {
            let mut claimed = lock(&self.claimed);
            claimed.remove(&id);
            claimed.insert(group.id);
        }
        Ok(grouped)
    }

    /// Records that the daemon is alive now.
    pub async fn heartbeat(&self, at: SystemTime) -> Result<(), StoreError> {
        self.write(move |tx| connections::set_meta_time(tx, HEARTBEAT, at))
            .await
    }

    /// Runs due absence checks against the stored connections.
    pub async fn check_absence(
        &self,
        config: Arc<Config>,
        checks: Vec<Check>,
        now: SystemTime,
        floor: Option<Downtime>,
        silences: Arc<Vec<Silence>>,
    ) -> Result<AbsenceOutcome, StoreError> {
        self.write(move |tx| absence::check(tx, &config, &checks, now, floor, &silences))
            .await
    }

    /// Whether the turn `name` is due at `now` (see the PostgreSQL
    /// store's): kept in `meta`, so a restart does not take it early.
    pub async fn take_turn(&self, name: &str, every: Duration, now: SystemTime) -> Result<bool, StoreError> {
        let key = format!("turn:{name}");
        self.write(move |tx| {
            let last = connections::meta_time(tx, &key)?;
            if last.is_some_and(|last| !super::super::time::turn_due(last, every, now)) {
                return Ok(false);
            }
            connections::set_meta_time(tx, &key, now)?;
            Ok(true)
        })
        .await
    }

    /// Pending and firing alerts, oldest first (`syncwatch alerts`).
    pub fn active_alerts(&self) -> Result<Vec<(AlertKey, AlertState)>, StoreError> {
        self.read(|conn| super::alerts::active_of(conn, None))
    }

    /// Runs `sweep` over the active alerts (closing, reminding).
    pub async fn sweep(
        &self,
        config: Arc<Config>,
        sweep: Sweep,
        now: SystemTime,
    ) -> Result<AbsenceOutcome, StoreError> {
        self.write(move |tx| absence::sweep(tx, &config, &sweep, now)).await
    }

    /// The silences not yet over, and the version they were read at.
    pub fn silences(&self, now: SystemTime) -> Result<(i64, Vec<Silence>), StoreError> {
        self.read(|conn| Ok((silences::version(conn)?, silences::current(conn, now)?)))
    }

    /// Changes whenever a silence is added or expired.
    pub fn silences_version(&self) -> Result<i64, StoreError> {
        self.read(silences::version)
    }

    /// The status page's reads, on one reader connection.
    pub fn status(
        &self,
        filter: &crate::status::Filter,
        absence_rules: &[String],
        recent: usize,
        now: SystemTime,
    ) -> Result<crate::status::Status, StoreError> {
        self.read(|conn| {
            let mut status = crate::status::Status {
                alerts: status::alerts(conn, filter)?,
                connections: status::connections(conn, filter, absence_rules, now)?,
                notifications: status::recent_notifications(conn, recent)?,
                ..Default::default()
            };
            status.totals.known_connections = status::known_count(conn)?;
            status.totals.quiet_connections = status::quiet_count(conn, absence_rules)?;
            status.totals.outbox_depth = read::pending_count(conn)?;
            status.outages = status::firing_outages(conn)?;
            status.failure_chart = status::failure_chart(conn, now)?;
            Ok(status)
        })
    }

    /// Every known connection.
    pub fn connections(&self) -> Result<Vec<KnownConnection>, StoreError> {
        self.read(connections::all)
    }

    /// At start: when the last heartbeat is more than `gap` old, syncwatch
    /// was down and webhooks may have been lost, so absence clocks start
    /// again now (the floor, kept for later restarts). Returns the floor
    /// and the downtime found, if any.
    pub async fn downtime(
        &self,
        now: SystemTime,
        gap: Duration,
    ) -> Result<(Option<Downtime>, Option<Duration>), StoreError> {
        self.write(move |tx| {
            let heartbeat = connections::meta_time(tx, HEARTBEAT)?;
            let down = heartbeat
                .and_then(|at| now.duration_since(at).ok())
                .filter(|down| *down > gap);
            if let Some(from) = heartbeat.filter(|_| down.is_some()) {
                connections::set_meta_time(tx, CLOCK_FLOOR_FROM, from)?;
                connections::set_meta_time(tx, CLOCK_FLOOR, now)?;
            }
            connections::set_meta_time(tx, HEARTBEAT, now)?;
            let to = connections::meta_time(tx, CLOCK_FLOOR)?;
            let from = connections::meta_time(tx, CLOCK_FLOOR_FROM)?;
            Ok((downtime(from, to), down))
        })
        .await
    }
}

/// The last downtime, from the two times kept for it. A database of an
/// earlier version kept only its end: every clock due before it then
/// starts again there, as it did.
fn cannot_open(path: &Path, err: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot open the database {}: {err}", path.display()))
}

pub fn downtime(from: Option<SystemTime>, to: Option<SystemTime>) -> Option<Downtime> {
    Some(Downtime {
        from: from.unwrap_or(SystemTime::UNIX_EPOCH),
        to: to?,
    })
}
