//! [`PgStore`]: the store several instances share. Each operation takes a
//! pooled session; the writes that must agree across instances lock what
//! they move (see `write` and `queue`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use deadpool_postgres::{Client, Pool, Transaction};

use crate::absence::{Check, Downtime, KnownConnection};
use crate::alerts::AlertKey;
use crate::config::{ChannelKind, Config};
use crate::lifecycle::AlertState;
use crate::lifecycle::Sweep;
use crate::quiet::{Mutes, Silence};
use crate::render::{Anchor, Episode};
use crate::store::sqlite::{AbsenceOutcome, Built};
use crate::store::{Delivery, Fallback, Ingest, IngestOutcome, Pruned, Sessions, Settle, StoreError};

use super::super::time::{from_millis, millis};
use super::batcher::Batcher;
use super::locked::{LOCK, Locked, connection_lock, lock_key};
use super::outages::{GroupKey, Wanted, outage_lock};
use super::rows::{self, ALERT_COLUMNS, CONNECTION_COLUMNS, SILENCE_COLUMNS};
use super::{audit, db_error, group, open, outage_runs, queue, status, threads, write};
use crate::store::sqlite::audit::{EventRow, HistoryFilter, NotificationRow, StoredEvent};

/// `meta` keys, as in the SQLite store.
const HEARTBEAT: &str = "heartbeat";
const CLOCK_FLOOR: &str = "clock_floor";
/// When the last downtime began (the heartbeat before it).
const CLOCK_FLOOR_FROM: &str = "clock_floor_from";
const SILENCES_VERSION: &str = "silences_version";

/// The outages' timer runs on one instance at most this often.
const OUTAGE_TICK: Duration = Duration::from_secs(1);

/// Absence checks run in transactions of at most this many connections,
/// so their locks are held briefly.
const CHECK_CHUNK: usize = 64;

pub struct PgStore {
    pool: Pool,
    /// Where webhooks wait to be written together.
    batcher: Batcher,
    /// Names this instance in the leases it writes.
    holder: String,
    /// How long a claim stays with its instance: after that, another
    /// instance takes the message (its holder is presumed dead).
    lease: Duration,
}

impl PgStore {
    /// Connects, migrates, and names this instance for its leases.
    pub async fn open(url: &str, lease: Duration) -> Result<PgStore, StoreError> {
        let pool = open::open_pool(url).await?;
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        let holder = format!("{}:{}:{:08x}", host.trim(), std::process::id(), fastrand::u32(..));
        Ok(PgStore {
            batcher: Batcher::start(pool.clone()),
            pool,
            holder,
            lease,
        })
    }

    /// Runs `work` in a transaction on a pooled session and commits it.
    /// Dropped on an error, the transaction rolls back.
    async fn in_transaction<T>(
        &self,
        work: impl AsyncFnOnce(&Transaction<'_>) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let done = work(&tx).await.map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(done)
    }

    async fn client(&self) -> Result<Client, StoreError> {
        self.pool.get().await.map_err(super::pool_error)
    }

    pub async fn ingest(&self, ingest: Ingest) -> Result<IngestOutcome, StoreError> {
        self.batcher.ingest(ingest).await
    }

    pub async fn claim_next(&self, channel: &str, now: SystemTime) -> Result<Option<Delivery>, StoreError> {
        let client = self.client().await?;
        let claimed = queue::claim(&client, channel, now, &self.holder, self.lease)
            .await
            .map_err(db_error)?;
        claimed.transpose().map_err(StoreError::Unavailable)
    }

    pub async fn next_due(&self, channel: &str) -> Result<Option<SystemTime>, StoreError> {
        queue::next_due(&self.client().await?, channel).await.map_err(db_error)
    }

    pub async fn settle(&self, id: u64, settle: Settle) -> Result<(), StoreError> {
        self.in_transaction(async |tx| queue::settle(tx, id, &settle, SystemTime::now()).await)
            .await
    }

    pub async fn settle_with_fallback(
        &self,
        id: u64,
        settle: Settle,
        fallback: Fallback,
        at: SystemTime,
    ) -> Result<(), StoreError> {
        self.in_transaction(async |tx| {
            queue::settle(tx, id, &settle, at).await?;
            queue::fall_back(tx, id, &fallback, at).await
        })
        .await
    }

    /// Settles delivery `id` of `channel` and keeps, in the same
    /// transaction, the Slack messages its threads now hang on.
    pub async fn settle_posted(
        &self,
        id: u64,
        settle: Settle,
        channel: &str,
        anchors: Vec<Anchor>,
    ) -> Result<(), StoreError> {
        let at = SystemTime::now();
        self.in_transaction(async |tx| {
            queue::settle(tx, id, &settle, at).await?;
            threads::keep(tx, channel, &anchors, at).await
        })
        .await
    }

    /// The Slack message `episode`'s thread hangs on in `channel`.
    pub async fn slack_parent(&self, channel: &str, episode: &Episode) -> Result<Option<Anchor>, StoreError> {
        let client = self.client().await?;
        threads::parent(&client, channel, episode).await.map_err(db_error)
    }

    pub async fn release(&self, id: u64) {
        let released = match self.client().await {
            Ok(client) => queue::release(&client, id, &self.holder).await.map_err(db_error),
            Err(err) => Err(err),
        };
        // Not released, it is taken again when its lease runs out.
        if let Err(err) = released {
            tracing::warn!(error = %err, id, "could not give back a claimed delivery");
        }
    }

    pub async fn abandon(&self, known: Vec<String>) -> Result<Vec<(String, u64)>, StoreError> {
        self.in_transaction(async |tx| queue::abandon(tx, &known, SystemTime::now()).await)
            .await
    }

    pub async fn prune(&self, cutoff: SystemTime, forget_before: SystemTime) -> Result<Pruned, StoreError> {
        self.in_transaction(async |tx| queue::prune(tx, cutoff, forget_before).await)
            .await
    }

    /// Gathers with the claimed `delivery` the others of its event that
    /// may go with it into one group, leased to this instance in its place.
    pub async fn group(&self, delivery: &Delivery, now: SystemTime) -> Result<Option<Delivery>, StoreError> {
        let client = self.client().await?;
        let company = group::has_company(&client, delivery.id, now, &self.holder).await;
        if !company.map_err(db_error)? {
            return Ok(None);
        }
        drop(client);
        self.in_transaction(async |tx| group::build(tx, delivery.id, now, (&self.holder, self.lease)).await)
            .await
    }

    pub async fn build_digest(
        &self,
        channel: &str,
        kind: ChannelKind,
        max_items: usize,
        max_age: Duration,
        now: SystemTime,
    ) -> Result<Option<Built>, StoreError> {
        self.in_transaction(async |tx| {
            queue::build_digest(tx, (channel, &kind), (max_items, max_age), now, &self.holder).await
        })
        .await
    }

    pub fn sessions(&self) -> Sessions {
        let status = self.pool.status();
        Sessions {
            open: status.size,
            idle: status.available,
            waiting: status.waiting,
        }
    }

    pub async fn heartbeat(&self, at: SystemTime) -> Result<(), StoreError> {
        let client = self.client().await?;
        set_meta(&client, HEARTBEAT, millis(at)).await.map_err(db_error)
    }

    /// As the SQLite store's: a downtime is a gap in the heartbeat that
    /// every instance writes, so one instance restarting while another
    /// runs is no downtime.
    pub async fn downtime(
        &self,
        now: SystemTime,
        gap: Duration,
    ) -> Result<(Option<Downtime>, Option<Duration>), StoreError> {
        self.in_transaction(async |tx| {
            tx.execute(LOCK, &[&lock_key("heartbeat")]).await?;
            let heartbeat = meta(tx, HEARTBEAT).await?.map(from_millis);
            let down = heartbeat
                .and_then(|at| now.duration_since(at).ok())
                .filter(|down| *down > gap);
            if let Some(from) = heartbeat.filter(|_| down.is_some()) {
                set_meta(tx, CLOCK_FLOOR_FROM, millis(from)).await?;
                set_meta(tx, CLOCK_FLOOR, millis(now)).await?;
            }
            set_meta(tx, HEARTBEAT, millis(now)).await?;
            let to = meta(tx, CLOCK_FLOOR).await?.map(from_millis);
            let from = meta(tx, CLOCK_FLOOR_FROM).await?.map(from_millis);
            Ok((crate::store::sqlite::downtime(from, to), down))
        })
        .await
    }

    pub async fn status(
        &self,
        filter: &crate::status::Filter,
        absence_rules: &[String],
        recent: usize,
        now: SystemTime,
    ) -> Result<crate::status::Status, StoreError> {
        let client = self.client().await?;
        status::status(&client, filter, absence_rules, recent, now)
            .await
            .map_err(db_error)
    }

    pub async fn connections(&self) -> Result<Vec<KnownConnection>, StoreError> {
        self.connections_since(None).await
    }

    /// Connections with an event received at or after `since` (all without one):
    /// how an instance learns of connections another instance took.
    pub async fn connections_since(&self, since: Option<SystemTime>) -> Result<Vec<KnownConnection>, StoreError> {
        let client = self.client().await?;
        // Found through the events' time index: the connections table has
        // none on last_event, which every webhook would rewrite.
        let found = match since {
            None => {
                let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections ORDER BY id");
                client.query(&sql, &[]).await
            }
            Some(since) => {
                let sql = format!(
                    "SELECT {CONNECTION_COLUMNS} FROM connections WHERE id IN
                     (SELECT DISTINCT connection FROM events WHERE received_at >= $1) ORDER BY id"
                );
                client.query(&sql, &[&millis(since)]).await
            }
        }
        .map_err(db_error)?;
        Ok(found.iter().map(rows::connection).collect())
    }

    pub async fn check_absence(
        &self,
        config: Arc<Config>,
        mut checks: Vec<Check>,
        now: SystemTime,
        floor: Option<Downtime>,
        silences: Arc<Vec<Silence>>,
    ) -> Result<AbsenceOutcome, StoreError> {
        checks.sort_by(|a, b| a.1.cmp(&b.1));
        let mut outcome = AbsenceOutcome::default();
        for chunk in chunk_by_connection(&checks, CHECK_CHUNK) {
            let tx = Locked::begin(&self.pool, write::locks(chunk.iter().map(|(_, id)| &**id))).await?;
            let done = write::check_absence(tx.client(), &config, chunk, (now, floor), &silences)
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            outcome.checked.extend(done.checked);
            outcome.transitions.extend(done.transitions);
            for channel in done.channels {
                if !outcome.channels.contains(&channel) {
                    outcome.channels.push(channel);
                }
            }
        }
        Ok(outcome)
    }

    /// Runs `sweep` over the active alerts, a few connections per
    /// transaction, each under its lock: two instances sweeping at once
    /// move each alert once (the second finds it moved).
    pub async fn sweep(
        &self,
        config: Arc<Config>,
        sweep: Sweep,
        now: SystemTime,
    ) -> Result<AbsenceOutcome, StoreError> {
        // Only the connections with an alert worth a look are locked: the
        // reminder sweep runs every few seconds beside ingest.
        let mut connections: Vec<String> = (self.active_alerts().await?.into_iter())
            .filter(|(key, state)| sweep.may_visit(&config, (key, state), now))
            .map(|(key, _)| key.connection)
            .filter(|c| sweep.only().is_none_or(|only| only == c))
            .collect();
        connections.sort();
        connections.dedup();
        let mut outcome = AbsenceOutcome::default();
        for chunk in connections.chunks(CHECK_CHUNK) {
            let tx = Locked::begin(&self.pool, write::locks(chunk.iter().map(String::as_str))).await?;
            let done = write::sweep(tx.client(), &config, chunk, (&sweep, now))
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            outcome.transitions.extend(done.transitions);
            for channel in done.channels {
                if !outcome.channels.contains(&channel) {
                    outcome.channels.push(channel);
                }
            }
        }
        if let Sweep::Remind(mutes) = &sweep {
            let done = self.tick_outages(&config, mutes, now).await?;
            outcome.transitions.extend(done.transitions);
            for channel in done.channels {
                if !outcome.channels.contains(&channel) {
                    outcome.channels.push(channel);
                }
            }
        }
        Ok(outcome)
    }

    /// Re-evaluates the firing outages on the reminder timer (see
    /// `outage_moves::tick`), on one instance at a time and at most once
    /// every [`OUTAGE_TICK`], each under its lock: an outage whose
    /// connections stopped syncing still repeats and resolves.
    async fn tick_outages(
        &self,
        config: &Config,
        mutes: &Mutes,
        now: SystemTime,
    ) -> Result<AbsenceOutcome, StoreError> {
        let firing = self
            .client()
            .await?
            .query(
                "SELECT outage, grp FROM outage_states WHERE firing ORDER BY outage, grp",
                &[],
            )
            .await
            .map_err(db_error)?;
        let groups: Vec<GroupKey> = firing.iter().map(|row| (row.get(0), row.get(1))).collect();
        if groups.is_empty() || !self.take_turn("outages", OUTAGE_TICK, now).await? {
            return Ok(AbsenceOutcome::default());
        }
        let wanted: Vec<Wanted> = (groups.iter())
            .map(|key| {
                let window = config.outages.iter().find(|o| o.name() == key.0).map(|o| o.window);
                let start = now
                    .checked_sub(window.unwrap_or_default())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                Wanted {
                    key: key.clone(),
                    from: start,
                    to: start,
                }
            })
            .collect();
        let tx = Locked::begin_tiers(&self.pool, groups.iter().map(outage_lock).collect(), Vec::new()).await?;
        let mut found = outage_runs::read_tick(tx.client(), &wanted).await.map_err(db_error)?;
        let mut runs = 0;
        let (outcome, batch, alerts) = loop {
            match outage_runs::tick(&found, (config, mutes), &groups, now) {
                Ok(done) => break done,
                Err(wants) if runs < 4 => {
                    outage_runs::fetch(&tx, &mut found, wants).await.map_err(db_error)?;
                    runs += 1;
                }
                Err(_) => return Err(StoreError::Unavailable("an outage's move kept asking for rows".into())),
            }
        };
        batch.commit(tx, &alerts).await.map_err(db_error)?;
        Ok(outcome)
    }

    pub async fn silences(&self, now: SystemTime) -> Result<(i64, Vec<Silence>), StoreError> {
        let client = self.client().await?;
        let version = meta(&client, SILENCES_VERSION).await.map_err(db_error)?.unwrap_or(0);
        let sql = format!(
            "SELECT {SILENCE_COLUMNS} FROM silences WHERE expired_at IS NULL AND ends_at > $1 ORDER BY starts_at, id"
        );
        let found = client.query(&sql, &[&millis(now)]).await.map_err(db_error)?;
        Ok((version, found.iter().map(rows::silence).collect()))
    }

    pub async fn silences_version(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        Ok(meta(&client, SILENCES_VERSION).await.map_err(db_error)?.unwrap_or(0))
    }

    pub async fn add_silence(&self, silence: &Silence) -> Result<(), StoreError> {
        let matchers = serde_json::to_string(&silence.matchers).unwrap_or_else(|_| "{}".into());
        self.in_transaction(async |tx| {
            tx.execute(
                "INSERT INTO silences (id, matchers, starts_at, ends_at, comment, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &silence.id,
                    &matchers,
                    &millis(silence.starts_at),
                    &millis(silence.ends_at),
                    &silence.comment,
                    &millis(silence.created_at),
                ],
            )
            .await?;
            bump_silences(tx).await
        })
        .await
    }

    /// Ends a silence now; false when no such silence is in force.
    pub async fn expire_silence(&self, id: &str, now: SystemTime) -> Result<bool, StoreError> {
        self.in_transaction(async |tx| {
            let changed = tx
                .execute(
                    "UPDATE silences SET expired_at = $2 WHERE id = $1 AND expired_at IS NULL AND ends_at > $2",
                    &[&id, &millis(now)],
                )
                .await?;
            bump_silences(tx).await?;
            Ok(changed > 0)
        })
        .await
    }

    /// Whether this instance takes the turn `name` at `now`: true for one
    /// instance at most once every `every`. The advisory lock makes the
    /// instances take turns as the absence checks take their connections:
    /// the second to look finds the turn taken.
    pub async fn take_turn(&self, name: &str, every: Duration, now: SystemTime) -> Result<bool, StoreError> {
        let key = format!("turn:{name}");
        self.in_transaction(async |tx| {
            tx.execute(LOCK, &[&lock_key(&key)]).await?;
            let last = meta(tx, &key).await?.map(from_millis);
            if last.is_some_and(|last| !super::super::time::turn_due(last, every, now)) {
                return Ok(false);
            }
            set_meta(tx, &key, millis(now)).await?;
            Ok(true)
        })
        .await
    }

    /// Pending and firing alerts, oldest first (`syncwatch alerts`).
    pub async fn active_alerts(&self) -> Result<Vec<(AlertKey, AlertState)>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE state IN ('pending', 'firing')
             ORDER BY since, rule, connection, data_type"
        );
        let found = client.query(&sql, &[]).await.map_err(db_error)?;
        Ok(found.iter().map(rows::alert).collect())
    }

    /// Forgets a connection and its alerts; false when it was not known.
    pub async fn forget_connection(&self, id: &str) -> Result<bool, StoreError> {
        self.in_transaction(async |tx| {
            tx.execute(LOCK, &[&connection_lock(id)]).await?;
            tx.execute("DELETE FROM alerts WHERE connection = $1", &[&id]).await?;
            tx.execute("DELETE FROM connection_days WHERE connection = $1", &[&id])
                .await?;
            let forgotten = tx.execute("DELETE FROM connections WHERE id = $1", &[&id]).await?;
            Ok(forgotten > 0)
        })
        .await
    }

    pub async fn pending_count(&self) -> Result<u64, StoreError> {
        queue::pending_count(&self.client().await?).await.map_err(db_error)
    }

    pub async fn firing_by_rule(&self) -> Result<Vec<(String, u64)>, StoreError> {
        queue::firing_by_rule(&self.client().await?).await.map_err(db_error)
    }

    /// A real write, for `/readyz`: the database is reachable and takes
    /// writes (not a read-only standby).
    pub async fn is_ready(&self) -> bool {
        let Ok(client) = self.client().await else {
            return false;
        };
        let probe = client
            .execute(
                "INSERT INTO health (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
                &[&millis(SystemTime::now())],
            )
            .await;
        probe.is_ok()
    }

    /// Recent events and notifications (`syncwatch history`).
    pub async fn history(&self, filter: &HistoryFilter) -> Result<(Vec<EventRow>, Vec<NotificationRow>), StoreError> {
        let client = self.client().await?;
        let events = audit::recent_events(&client, filter).await.map_err(db_error)?;
        let notifications = audit::recent_notifications(&client, filter).await.map_err(db_error)?;
        Ok((events, notifications))
    }

    /// The event with this requestId or dedup key (`syncwatch explain`).
    pub async fn find_event(&self, request_id: &str) -> Result<Option<StoredEvent>, StoreError> {
        audit::find_event(&self.client().await?, request_id)
            .await
            .map_err(db_error)
    }
}

/// Consecutive runs of checks, none split across two runs by connection.
fn chunk_by_connection(checks: &[Check], size: usize) -> Vec<&[Check]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < checks.len() {
        let mut end = (start + size).min(checks.len());
        while end < checks.len() && checks[end].1 == checks[end - 1].1 {
            end += 1;
        }
        chunks.push(&checks[start..end]);
        start = end;
    }
    chunks
}

async fn meta(client: &impl deadpool_postgres::GenericClient, key: &str) -> Result<Option<i64>, tokio_postgres::Error> {
    let row = client
        .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
        .await?;
    Ok(row.map(|row| row.get(0)))
}

async fn set_meta(
    client: &impl deadpool_postgres::GenericClient,
    key: &str,
    value: i64,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )
        .await?;
    Ok(())
}

async fn bump_silences(client: &impl deadpool_postgres::GenericClient) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO meta (key, value) VALUES ($1, 1) ON CONFLICT (key) DO UPDATE SET value = meta.value + 1",
            &[&SILENCES_VERSION],
        )
        .await?;
    Ok(())
}
