//! The storage backend the daemon was started with, behind one interface:
//! callers do not know whether SQLite or memory is underneath.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::absence::{Check, Downtime, KnownConnection};
use crate::alerts::AlertKey;
use crate::config::{ChannelKind, Config};
use crate::lifecycle::{AlertState, Phase, Sweep};
use crate::quiet::Silence;
use crate::render::{Anchor, Episode};

use super::memory::MemoryStore;
use super::model::{Delivery, Fallback, Ingest, IngestOutcome, Pruned, Settle, StoreError};
use super::postgres::PgStore;
use super::sqlite::{AbsenceOutcome, Built, SqliteStore};

/// The storage backend, chosen at start.
pub enum Store {
    /// State lost on restart: the baseline for benchmarks, and tests.
    Memory(MemoryStore),
    /// The durable store the daemon runs on.
    Sqlite(SqliteStore),
    /// One database shared by several instances (`storage.postgres`).
    Postgres(PgStore),
}

impl Store {
    /// Records the event, updates alert state and queues the deliveries of
    /// the alerts that notify, all or nothing.
    pub async fn ingest(&self, ingest: Ingest) -> Result<IngestOutcome, StoreError> {
        match self {
            Store::Memory(store) => Ok(store.ingest(ingest)),
            Store::Sqlite(store) => store.ingest(ingest).await,
            Store::Postgres(store) => store.ingest(ingest).await,
        }
    }

    /// Takes the next delivery of `channel` that is due at `now`, if any;
    /// it is not handed out again until settled.
    pub async fn claim_next(&self, channel: &str, now: SystemTime) -> Result<Option<Delivery>, StoreError> {
        match self {
            Store::Memory(store) => Ok(store.claim_next(channel, now)),
            Store::Sqlite(store) => store.claim_next(channel, now),
            Store::Postgres(store) => store.claim_next(channel, now).await,
        }
    }

    /// When the next pending delivery of `channel` falls due.
    pub async fn next_due(&self, channel: &str) -> Result<Option<SystemTime>, StoreError> {
        match self {
            Store::Memory(store) => Ok(store.next_due(channel)),
            Store::Sqlite(store) => store.next_due(channel),
            Store::Postgres(store) => store.next_due(channel).await,
        }
    }

    pub async fn settle(&self, id: u64, settle: Settle) -> Result<(), StoreError> {
        match self {
            Store::Memory(store) => {
                store.settle(id, settle);
                Ok(())
            }
            Store::Sqlite(store) => store.settle(id, settle).await,
            Store::Postgres(store) => store.settle(id, settle).await,
        }
    }

    /// Settles a message that failed for good or expired and, in the same
    /// step, queues `fallback` on its channel's fallback. Nothing falls
    /// back from a fallback notice itself (a message about no alert and in
    /// no digest), so two broken channels cannot bounce notices for ever.
    pub async fn settle_with_fallback(&self, id: u64, settle: Settle, fallback: Fallback) -> Result<(), StoreError> {
        let now = SystemTime::now();
        match self {
            Store::Memory(store) => {
                store.settle_with_fallback(id, settle, fallback, now);
                Ok(())
            }
            Store::Sqlite(store) => store.settle_with_fallback(id, settle, fallback, now).await,
            Store::Postgres(store) => store.settle_with_fallback(id, settle, fallback, now).await,
        }
    }

    /// Settles delivery `id` of `channel` and keeps, in the same
    /// transaction, the Slack messages its alerts' threads now hang on.
    pub async fn settle_posted(
        &self,
        id: u64,
        settle: Settle,
        channel: &str,
        anchors: Vec<Anchor>,
    ) -> Result<(), StoreError> {
        if anchors.is_empty() {
            return self.settle(id, settle).await;
        }
        match self {
            Store::Memory(store) => {
                store.keep_threads(channel, anchors);
                store.settle(id, settle);
                Ok(())
            }
            Store::Sqlite(store) => store.settle_posted(id, settle, channel.to_owned(), anchors).await,
            Store::Postgres(store) => store.settle_posted(id, settle, channel, anchors).await,
        }
    }

    /// The Slack message `episode`'s thread hangs on in `channel`, if its
    /// FIRING (or a digest that told it) was posted there.
    pub async fn slack_parent(&self, channel: &str, episode: &Episode) -> Result<Option<Anchor>, StoreError> {
        match self {
            Store::Memory(store) => Ok(store.slack_parent(channel, episode)),
            Store::Sqlite(store) => store.slack_parent(channel, episode),
            Store::Postgres(store) => store.slack_parent(channel, episode).await,
        }
    }

    /// Gives back a claimed delivery whose result could not be stored: it
    /// is due again (a duplicate is better than a lost alert).
    pub async fn release(&self, id: u64) {
        match self {
            Store::Memory(store) => store.release(id),
            Store::Sqlite(store) => store.release(id),
            Store::Postgres(store) => store.release(id).await,
        }
    }

    /// Settles as failed ("channel no longer configured") the pending
    /// deliveries of every channel not in `known`: after a channel was
    /// removed or renamed they could never be sent. Returns the count per
    /// channel.
    pub async fn abandon(&self, known: Vec<String>) -> Result<Vec<(String, u64)>, StoreError> {
        match self {
            Store::Memory(store) => Ok(store.abandon(&known)),
            Store::Sqlite(store) => store.abandon(known).await,
            Store::Postgres(store) => store.abandon(known).await,
        }
    }

    /// Removes what is older than `cutoff` and no longer needed, and
    /// forgets connections without an event since `forget_before`.
    pub async fn prune(&self, cutoff: SystemTime, forget_before: SystemTime) -> Result<Pruned, StoreError> {
        match self {
            Store::Memory(_) => Ok(Pruned::default()),
            Store::Sqlite(store) => store.prune(cutoff, forget_before).await,
            Store::Postgres(store) => store.prune(cutoff, forget_before).await,
        }
    }

    /// Several rules, one message: gathers with the claimed `delivery` the
    /// other notifications its event queued for the channel about the
    /// same connection that may go now into one queued group (see
    /// [`crate::render::group_message`]), claimed in its place. `None`:
    /// it goes alone.
    pub async fn group(&self, delivery: &Delivery, now: SystemTime) -> Result<Option<Delivery>, StoreError> {
        match self {
            Store::Memory(store) => Ok(store.group(delivery, now)),
            Store::Sqlite(store) => store.group(delivery, now).await,
            Store::Postgres(store) => store.group(delivery, now).await,
        }
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
        match self {
            Store::Memory(store) => Ok(store.build_digest(channel, &kind, max_items, now)),
            Store::Sqlite(store) => store.build_digest(channel, kind, max_items, max_age, now).await,
            Store::Postgres(store) => store.build_digest(channel, kind, max_items, max_age, now).await,
        }
    }

    /// Runs `sweep` over the pending and firing alerts: closing the ones
    /// nothing would resolve (a removed rule, an absence rule that no
    /// longer holds, a forgotten connection), reminding of state alerts.
    /// What it queues is for the channels, as after an event.
    pub async fn sweep(
        &self,
        config: Arc<Config>,
        sweep: Sweep,
        now: SystemTime,
    ) -> Result<AbsenceOutcome, StoreError> {
        match self {
            Store::Memory(_) => Ok(AbsenceOutcome::default()),
            Store::Sqlite(store) => store.sweep(config, sweep, now).await,
            Store::Postgres(store) => store.sweep(config, sweep, now).await,
        }
    }

    /// Records that the daemon is alive (absence rules learn from the gap
    /// after a downtime).
    pub async fn heartbeat(&self, at: SystemTime) -> Result<(), StoreError> {
        match self {
            Store::Memory(_) => Ok(()),
            Store::Sqlite(store) => store.heartbeat(at).await,
            Store::Postgres(store) => store.heartbeat(at).await,
        }
    }

    /// The last downtime (absence clocks due inside it start again at its
    /// end), and the one found at start, if any.
    pub async fn downtime(
        &self,
        now: SystemTime,
        gap: Duration,
    ) -> Result<(Option<Downtime>, Option<Duration>), StoreError> {
        match self {
            Store::Memory(_) => Ok((None, None)),
            Store::Sqlite(store) => store.downtime(now, gap).await,
            Store::Postgres(store) => store.downtime(now, gap).await,
        }
    }

    /// What the status page shows from storage (severity, silences and
    /// windows are added by the caller).
    pub async fn status(
        &self,
        filter: &crate::status::Filter,
        absence_rules: &[String],
        recent: usize,
        now: SystemTime,
    ) -> Result<crate::status::Status, StoreError> {
        match self {
            Store::Memory(_) => Ok(crate::status::Status::default()),
            Store::Sqlite(store) => store.status(filter, absence_rules, recent, now),
            Store::Postgres(store) => store.status(filter, absence_rules, recent, now).await,
        }
    }

    /// Every known connection.
    pub async fn connections(&self) -> Result<Vec<KnownConnection>, StoreError> {
        match self {
            Store::Memory(store) => Ok(store.connections()),
            Store::Sqlite(store) => store.connections(),
            Store::Postgres(store) => store.connections().await,
        }
    }

    /// Connections with an event at or after `since`, when other instances
    /// may have taken them (a shared database); none otherwise.
    pub async fn connections_since(&self, since: SystemTime) -> Result<Vec<KnownConnection>, StoreError> {
        match self {
            Store::Memory(_) | Store::Sqlite(_) => Ok(Vec::new()),
            Store::Postgres(store) => store.connections_since(Some(since)).await,
        }
    }

    /// Whether this instance takes the periodic turn `name` now: on
    /// PostgreSQL, one instance in each `every`, whichever asks first.
    /// Never on memory, which has nothing to repeat.
    pub async fn take_turn(&self, name: &str, every: Duration, now: SystemTime) -> Result<bool, StoreError> {
        match self {
            Store::Memory(_) => Ok(false),
            Store::Sqlite(store) => store.take_turn(name, every, now).await,
            Store::Postgres(store) => store.take_turn(name, every, now).await,
        }
    }

    /// The firing alerts whose FIRING went to `channel`, from storage: what
    /// is still open there after a restart.
    pub async fn firing_told(&self, channel: &str) -> Result<Vec<(AlertKey, AlertState)>, StoreError> {
        let active = match self {
            Store::Memory(_) => Vec::new(),
            Store::Sqlite(store) => store.active_alerts()?,
            Store::Postgres(store) => store.active_alerts().await?,
        };
        let told = |state: &AlertState| state.phase == Phase::Firing && state.notified.iter().any(|c| c == channel);
        Ok(active.into_iter().filter(|(_, state)| told(state)).collect())
    }

    /// Whether other instances share this store.
    pub fn is_shared(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// Runs due absence checks.
    pub async fn check_absence(
        &self,
        config: Arc<Config>,
        checks: Vec<Check>,
        now: SystemTime,
        floor: Option<Downtime>,
        silences: Arc<Vec<Silence>>,
    ) -> Result<AbsenceOutcome, StoreError> {
        match self {
            Store::Memory(_) => Ok(AbsenceOutcome::default()),
            Store::Sqlite(store) => store.check_absence(config, checks, now, floor, silences).await,
            Store::Postgres(store) => store.check_absence(config, checks, now, floor, silences).await,
        }
    }

    /// The silences not yet over, with the version they were read at.
    pub async fn silences(&self, now: SystemTime) -> Result<(i64, Vec<Silence>), StoreError> {
        match self {
            Store::Memory(_) => Ok((0, Vec::new())),
            Store::Sqlite(store) => store.silences(now),
            Store::Postgres(store) => store.silences(now).await,
        }
    }

    /// Changes whenever a silence is added or expired.
    pub async fn silences_version(&self) -> Result<i64, StoreError> {
        match self {
            Store::Memory(_) => Ok(0),
            Store::Sqlite(store) => store.silences_version(),
            Store::Postgres(store) => store.silences_version().await,
        }
    }

    /// Notifications waiting for delivery, for `/metrics`.
    pub async fn pending_count(&self) -> Result<u64, StoreError> {
        match self {
            Store::Memory(store) => Ok(store.pending_count()),
            Store::Sqlite(store) => store.pending_count(),
            Store::Postgres(store) => store.pending_count().await,
        }
    }

    /// Firing alerts by rule, for `/metrics`.
    pub async fn firing_by_rule(&self) -> Result<Vec<(String, u64)>, StoreError> {
        match self {
            Store::Memory(store) => Ok(store.firing_by_rule()),
            Store::Sqlite(store) => store.firing_by_rule(),
            Store::Postgres(store) => store.firing_by_rule().await,
        }
    }

    /// The database sessions of a PostgreSQL store's pool; None for the
    /// others, which have no pool.
    pub fn sessions(&self) -> Option<Sessions> {
        match self {
            Store::Memory(_) | Store::Sqlite(_) => None,
            Store::Postgres(store) => Some(store.sessions()),
        }
    }

    /// How many request ids the SQLite store holds in memory to recognise
    /// redeliveries; None for the others, which ask their tables.
    pub fn dedup_window(&self) -> Option<usize> {
        match self {
            Store::Memory(_) | Store::Postgres(_) => None,
            Store::Sqlite(store) => Some(store.dedup_window()),
        }
    }

    /// Whether storage accepts writes, for `/readyz`.
    pub async fn is_ready(&self) -> bool {
        match self {
            Store::Memory(_) => true,
            Store::Sqlite(store) => store.is_ready().await,
            Store::Postgres(store) => store.is_ready().await,
        }
    }
}

/// A pool's sessions: open (idle or in use), idle, and callers waiting for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sessions {
    pub open: usize,
    pub idle: usize,
    pub waiting: usize,
}
