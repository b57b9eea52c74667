//! The absence timer: one task sleeps until the earliest deadline, hands
//! what is due to the store (which checks it against the stored
//! connection, in a transaction, and queues the messages), and plans each
//! check again from the answer. Ingest re-plans a connection after each
//! of its events; a reload re-plans everything.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;

use crate::config::Config;

use super::deadlines::{Check, Deadlines};
use super::known::{Downtime, KnownConnection};

/// Checks handed to the store in one transaction at most.
pub const BATCH: usize = 5_000;

/// The planned absence checks of the running daemon.
pub struct Absence {
    deadlines: Mutex<Deadlines>,
    /// Woken when a deadline may have moved earlier, or all were re-planned.
    wake: Notify,
    /// The last downtime: clocks whose deadline fell inside it start again
    /// at its end.
    floor: Option<Downtime>,
    /// The downtime found at start, for `/metrics`.
    pub downtime: Option<Duration>,
}

impl Absence {
    pub fn new(floor: Option<Downtime>, downtime: Option<Duration>) -> Absence {
        Absence {
            deadlines: Mutex::new(Deadlines::default()),
            wake: Notify::new(),
            floor,
            downtime,
        }
    }

    pub fn floor(&self) -> Option<Downtime> {
        self.floor
    }

    fn lock(&self) -> MutexGuard<'_, Deadlines> {
        self.deadlines.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Plans `known` afresh after one of its events.
    pub fn seen(&self, config: &Config, known: &KnownConnection) {
        let mut deadlines = self.lock();
        let before = deadlines.next();
        deadlines.plan(config, known, self.floor);
        if deadlines.next() < before || before.is_none() {
            self.wake.notify_one();
        }
    }

    /// Plans every connection afresh (start, reload).
    pub fn replan(&self, config: &Config, connections: &[KnownConnection]) {
        let mut fresh = Deadlines::default();
        for known in connections {
            fresh.plan(config, known, self.floor);
        }
        *self.lock() = fresh;
        self.wake.notify_one();
    }

    pub fn planned(&self) -> usize {
        self.lock().len()
    }

    pub fn next(&self) -> Option<SystemTime> {
        self.lock().next()
    }

    pub fn take_due(&self, now: SystemTime) -> Vec<Check> {
        self.lock()
            .take_due(now, BATCH)
            .into_iter()
            .map(|(check, _)| check)
            .collect()
    }

    /// Plans each check again as the store answered: `None` drops it.
    pub fn after_check(&self, checked: impl IntoIterator<Item = (Check, Option<SystemTime>)>) {
        let mut deadlines = self.lock();
        for (check, next) in checked {
            match next {
                Some(at) => deadlines.set(check, at),
                None => deadlines.drop_check(&check),
            }
        }
    }

    /// Waits until the earliest deadline, or a wake-up, whichever is first.
    pub async fn wait(&self) {
        let until = self
            .next()
            .map(|at| at.duration_since(SystemTime::now()).unwrap_or_default());
        match until {
            Some(wait) => {
                tokio::select! {
                    _ = tokio::time::sleep(wait.min(MAX_SLEEP)) => {}
                    _ = self.wake.notified() => {}
                }
            }
            None => self.wake.notified().await,
        }
    }
}

/// The longest single sleep: the wall clock may jump (NTP, suspend), and
/// a deadline is a wall-clock time.
const MAX_SLEEP: Duration = Duration::from_secs(60);
