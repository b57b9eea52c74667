//! One case run as the daemon would live it, on a simulated clock: a
//! scratch store, the absence timer, reminders, and channels that take
//! every notification at once. The clock moves in ticks, so what the
//! daemon's timers would do between two steps happens between them here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::absence::Absence;
use crate::config::Config;
use crate::ingress::{Running, ingest};
use crate::lifecycle::{Closing, Sweep};
use crate::metrics::Metrics;
use crate::quiet::{Mutes, Silence};
use crate::store::sqlite::audit::Told;
use crate::store::{Settle, SqliteStore, Store};

/// The coarsest tick; finer when a rule reminds more often.
const MAX_TICK: Duration = Duration::from_secs(60);
/// How often the daemon's upkeep (closing forgotten connections, pruning)
/// runs, in simulated time.
const UPKEEP_EVERY: Duration = Duration::from_secs(3600);

pub struct Simulation {
    store: Store,
    config: Arc<Config>,
    absence: Absence,
    metrics: Metrics,
    silences: Arc<Vec<Silence>>,
    now: SystemTime,
    tick: Duration,
    next_upkeep: SystemTime,
    /// The last delivery already reported.
    reported: i64,
    /// Removed with the simulation.
    _scratch: ScratchFolder,
}

impl Simulation {
    /// A fresh daemon at `start` with nothing stored.
    pub fn new(config: Arc<Config>, start: SystemTime) -> Result<Simulation, String> {
        let folder = ScratchFolder::new()?;
        let store = SqliteStore::open_scratch(&folder.0.join("cases.db")).map_err(|err| err.to_string())?;
        Ok(Simulation {
            store: Store::Sqlite(store),
            absence: Absence::new(None, None),
            metrics: Metrics::new(),
            silences: Arc::new(Vec::new()),
            now: start,
            tick: tick_for(&config),
            next_upkeep: start + UPKEEP_EVERY,
            reported: 0,
            config,
            _scratch: folder,
        })
    }

    /// Moves the clock to `until`, doing on the way what the daemon's
    /// timers would.
    pub async fn advance_to(&mut self, until: SystemTime) -> Result<(), String> {
        while self.now < until {
            let mut next = (self.now + self.tick).min(until);
            if let Some(deadline) = self.absence.next().filter(|d| *d > self.now) {
                next = next.min(deadline);
            }
            self.now = next;
            self.run_timers().await?;
        }
        Ok(())
    }

    /// Posts one webhook body now, as Railz would; the alerts it moved,
    /// described.
    pub async fn post(&mut self, body: Vec<u8>) -> Result<Vec<String>, String> {
        let running = Running {
            config: self.config.clone(),
            silences: self.silences.clone(),
        };
        let ingested = ingest(running, &self.store, &self.metrics, Bytes::from(body), self.now)
            .await
            .map_err(|err| err.to_string())?;
        if let Some(known) = ingested.known {
            self.absence.seen(&self.config, &known);
        }
        self.deliver_due().await?;
        Ok(ingested.transitions)
    }

    /// What was delivered since the last call, oldest first.
    pub fn take_told(&mut self) -> Result<Vec<Told>, String> {
        let Store::Sqlite(store) = &self.store else {
            unreachable!("a simulation runs on its scratch SQLite store")
        };
        let told = store.delivered_since(self.reported).map_err(|err| err.to_string())?;
        if let Some(last) = told.last() {
            self.reported = last.id;
        }
        Ok(told)
    }

    async fn run_timers(&mut self) -> Result<(), String> {
        self.check_absence().await?;
        let mutes = Mutes {
            silences: self.silences.clone(),
            windows: self.config.maintenance.clone(),
            inhibit: self.config.inhibit.clone(),
        };
        self.sweep(Sweep::Remind(mutes)).await?;
        if self.now >= self.next_upkeep {
            self.upkeep().await?;
            self.next_upkeep = self.now + UPKEEP_EVERY;
        }
        self.deliver_due().await
    }

    async fn check_absence(&mut self) -> Result<(), String> {
        loop {
            let due = self.absence.take_due(self.now);
            if due.is_empty() {
                return Ok(());
            }
            let outcome = self
                .store
                .check_absence(self.config.clone(), due, self.now, None, self.silences.clone())
                .await
                .map_err(|err| err.to_string())?;
            self.absence
                .after_check(outcome.checked.into_iter().map(|c| (c.check, c.next)));
        }
    }

    /// Closes the alerts of forgotten connections, then forgets them, as
    /// the daemon's hourly upkeep does.
    async fn upkeep(&mut self) -> Result<(), String> {
        let storage = self.config.storage.clone();
        let closing = Closing::Forgotten {
            before: self.now - storage.forget_after,
            quiet_for: storage.forget_after,
        };
        self.sweep(Sweep::Close(closing)).await?;
        self.store
            .prune(self.now - storage.retention, self.now - storage.forget_after)
            .await
            .map_err(|err| err.to_string())?;
        Ok(())
    }

    async fn sweep(&mut self, sweep: Sweep) -> Result<(), String> {
        self.store
            .sweep(self.config.clone(), sweep, self.now)
            .await
            .map(drop)
            .map_err(|err| err.to_string())
    }

    /// Every channel takes what is due at once: a case tests the rules,
    /// not a receiver (digests are not formed: each notification counts).
    async fn deliver_due(&mut self) -> Result<(), String> {
        for channel in self.config.channels.keys() {
            while let Some(delivery) = self
                .store
                .claim_next(channel, self.now)
                .await
                .map_err(|e| e.to_string())?
            {
                let delivered = Settle::Delivered {
                    answer: "simulated".into(),
                };
                self.store
                    .settle(delivery.id, delivered)
                    .await
                    .map_err(|err| err.to_string())?;
            }
        }
        Ok(())
    }
}

/// A quarter of the shortest `repeat_interval`, so no reminder is skipped,
/// between one second and a minute.
fn tick_for(config: &Config) -> Duration {
    let shortest = config
        .rules
        .iter()
        .map(|rule| rule.repeat_interval)
        .chain([config.defaults.repeat_interval])
        .min()
        .unwrap_or(MAX_TICK);
    (shortest / 4).clamp(Duration::from_secs(1), MAX_TICK)
}

/// A folder under the system's temporary directory, removed on drop.
struct ScratchFolder(PathBuf);

impl ScratchFolder {
    fn new() -> Result<ScratchFolder, String> {
        let name = format!("syncwatch-cases-{}-{}", std::process::id(), fastrand::u64(..));
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).map_err(|err| format!("cannot create {}: {err}", path.display()))?;
        Ok(ScratchFolder(path))
    }
}

impl Drop for ScratchFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
