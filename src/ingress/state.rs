//! What the request handlers, the delivery lanes and the reload share: the
//! running configuration, the store, the metrics, and one lane per channel.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use tokio::sync::{Notify, watch};

use crate::absence::Absence;
use crate::config::Config;
use crate::deliver::{Sender, senders};
use crate::lifecycle::{Closing, Sweep};
use crate::metrics::Metrics;
use crate::outbox::{FallbackTo, Lane, LaneHealth, Pace, SenderSlot, Senders, WorkerSettings};
use crate::quiet::Silence;
use crate::store::Store;

use super::background::replan_absence;

/// A channel's lane as the rest of the daemon sees it.
struct LaneHandle {
    /// Wakes the lane when deliveries are queued.
    wake: Arc<Notify>,
    /// The channel's current sender; a reload replaces it in place, so
    /// pending deliveries go out through the channel as it is now defined.
    sender: SenderSlot,
    /// Set while the lane recovers from a panic.
    health: LaneHealth,
}

pub struct AppState {
    /// The running configuration; a reload swaps the Arc, and requests in
    /// flight finish on the one they started with.
    config: RwLock<Arc<Config>>,
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    /// The planned absence checks: ingest re-plans a connection after each
    /// event, a reload re-plans all.
    pub absence: Arc<Absence>,
    /// The silences not yet over, refreshed when `syncwatch silence`
    /// changes them (see `background::watch_silences`).
    silences: RwLock<Arc<Vec<Silence>>>,
    lanes: Mutex<HashMap<String, LaneHandle>>,
    /// Lanes not yet running: `App::run` starts them.
    unstarted: Mutex<Vec<Lane>>,
    worker: WorkerSettings,
    dry_run: bool,
    /// Pacing by Slack webhook URL (or channel): shared by lanes on one URL.
    paces: Mutex<HashMap<String, Pace>>,
    /// Set once running: lanes created by a reload start at once.
    stop: Mutex<Option<watch::Receiver<bool>>>,
}

impl AppState {
    pub fn new(
        config: Config,
        store: Arc<Store>,
        absence: Arc<Absence>,
        worker: WorkerSettings,
        dry_run: bool,
    ) -> Result<AppState, String> {
        let senders = senders(&config, dry_run)?;
        let metrics = Metrics::new();
        if let Some(down) = absence.downtime {
            metrics.downtime(down);
        }
        metrics.absence_planned.set(absence.planned() as i64);
        let state = AppState {
            config: RwLock::new(Arc::new(config)),
            store,
            metrics: Arc::new(metrics),
            absence,
            lanes: Mutex::new(HashMap::new()),
            unstarted: Mutex::new(Vec::new()),
            worker,
            dry_run,
            stop: Mutex::new(None),
            paces: Mutex::new(HashMap::new()),
            silences: RwLock::new(Arc::new(Vec::new())),
        };
        state.install_senders(&state.config(), senders);
        Ok(state)
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether nothing is to be sent (`serve --dry-run`, `dry_run: true`).
    pub fn dry_run(&self) -> bool {
        self.dry_run || self.config().delivery.dry_run
    }

    pub fn silences(&self) -> Arc<Vec<Silence>> {
        self.silences.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_silences(&self, silences: Vec<Silence>) {
        *self.silences.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(silences);
    }

    pub fn wake(&self, channels: &[String]) {
        let lanes = lock(&self.lanes);
        for channel in channels {
            if let Some(lane) = lanes.get(channel) {
                lane.wake.notify_one();
            }
        }
    }

    /// Starts the lanes built so far; later ones start as they are added.
    pub fn start_lanes(&self, stop: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
        *lock(&self.stop) = Some(stop.clone());
        let lanes: Vec<Lane> = lock(&self.unstarted).drain(..).collect();
        lanes
            .into_iter()
            .map(|lane| tokio::spawn(lane.run(stop.clone())))
            .collect()
    }

    /// Swaps in a validated configuration: rules at once, each channel's
    /// sender in place, new channels with a new lane; what is still queued
    /// for a channel that is no longer defined is settled as failed.
    pub async fn reload(&self, config: Config) -> Result<(), String> {
        let senders = senders(&config, self.dry_run)?;
        warn_about_restart_only_changes(&self.config(), &config);
        self.install_senders(&config, senders);
        let config = Arc::new(config);
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = config.clone();
        self.abandon_unknown_channels().await;
        self.close_unresolvable_alerts().await;
        replan_absence(&self.absence, &config, &self.store).await;
        Ok(())
    }

    /// At start and at each reload: the alerts that nothing would resolve
    /// any more (their rule was removed or renamed; an absence rule that no
    /// longer holds) are closed, the channels that were told they fired
    /// are told why, and the log says how many.
    pub async fn close_unresolvable_alerts(&self) {
        let sweep = Sweep::Close(Closing::Unresolvable);
        match self.store.sweep(self.config(), sweep, SystemTime::now()).await {
            Ok(outcome) => {
                for transition in &outcome.transitions {
                    tracing::info!(alert = %transition, "alert closed");
                }
                if !outcome.transitions.is_empty() {
                    tracing::warn!(
                        count = outcome.transitions.len(),
                        "closed the alerts no event would resolve under the current rules"
                    );
                }
                self.wake(&outcome.channels);
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot close the alerts of removed rules; will try at the next reload")
            }
        }
    }

    /// At start and at each reload: pending deliveries of a channel that
    /// was removed or renamed would wait for ever, so they are settled as
    /// failed, and the log names the channel and the count.
    pub async fn abandon_unknown_channels(&self) {
        let known: Vec<String> = self.config().channels.keys().cloned().collect();
        match self.store.abandon(known).await {
            Ok(dropped) => {
                for (channel, count) in dropped {
                    tracing::warn!(
                        channel,
                        count,
                        "pending notifications of a channel that is no longer configured settled as failed"
                    );
                }
            }
            Err(err) => tracing::error!(error = %err, "cannot settle the notifications of removed channels"),
        }
    }

    /// Lanes that are not delivering, and why: for `/readyz`.
    pub fn lane_problems(&self) -> BTreeMap<String, String> {
        lock(&self.lanes)
            .iter()
            .filter_map(|(name, lane)| {
                let problem = lane.health.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
                Some((name.clone(), problem))
            })
            .collect()
    }

    /// The pacing of `sender`'s webhook, shared by every channel on it.
    fn pace_for(&self, channel: &str, sender: &Sender) -> Pace {
        lock(&self.paces)
            .entry(sender.pace_key(channel))
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(tokio::time::Instant::now())))
            .clone()
    }

    fn install_senders(&self, config: &Config, senders: HashMap<String, Sender>) {
        let standalone: Arc<HashSet<String>> = Arc::new(config.outages.iter().map(|o| o.name().to_owned()).collect());
        let mut lanes = lock(&self.lanes);
        for (name, sender) in senders {
            let digest = config.channels.get(&name).and_then(|c| c.digest);
            let kind = config.channels.get(&name).map(|c| c.kind.clone());
            let pace = self.pace_for(&name, &sender);
            if let Some(lane) = lanes.get(&name) {
                let mut slot = lane.sender.write().unwrap_or_else(|p| p.into_inner());
                slot.replace(sender, digest, pace);
                slot.kind = kind;
                slot.standalone = standalone.clone();
                lane.wake.notify_one();
                continue;
            }
            let wake = Arc::new(Notify::new());
            let mut senders = Senders::new(sender, digest, pace).with_kind(kind);
            senders.standalone = standalone.clone();
            let slot: SenderSlot = Arc::new(RwLock::new(senders));
            let health = LaneHealth::default();
            let lane = Lane::new(
                name.clone(),
                slot.clone(),
                self.store.clone(),
                wake.clone(),
                self.worker,
                self.metrics.clone(),
            )
            .with_health(health.clone());
            match lock(&self.stop).clone() {
                Some(stop) => drop(tokio::spawn(lane.run(stop))),
                None => lock(&self.unstarted).push(lane),
            }
            lanes.insert(
                name,
                LaneHandle {
                    wake,
                    sender: slot,
                    health,
                },
            );
        }
        set_fallbacks(config, &lanes);
    }
}

/// The listener, the webhook path and the database are opened once:
/// changing them needs a restart, which the log says.
fn warn_about_restart_only_changes(old: &Config, new: &Config) {
    if old.server.listen != new.server.listen || old.server.path != new.server.path {
        tracing::warn!("server.listen and server.path take effect at the next restart");
    }
    if old.server.max_body != new.server.max_body {
        tracing::warn!("server.max_body takes effect at the next restart");
    }
    if old.storage.path != new.storage.path || old.storage.retention != new.storage.retention {
        tracing::warn!("storage.path and storage.retention take effect at the next restart");
    }
    let database = |storage: &crate::config::Storage| storage.postgres.as_ref().map(|url| url.expose().to_owned());
    if database(&old.storage) != database(&new.storage) || old.storage.claim_lease != new.storage.claim_lease {
        tracing::warn!("storage.postgres and storage.claim_lease take effect at the next restart");
    }
    if old.delivery.max_age != new.delivery.max_age {
        tracing::warn!("delivery.max_age takes effect at the next restart");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Gives each lane its channel's `fallback` as configured now: the
/// fallback's kind and wake-up, known once every lane exists.
fn set_fallbacks(config: &Config, lanes: &HashMap<String, LaneHandle>) {
    for (name, lane) in lanes {
        let fallback = (config.channels.get(name))
            .and_then(|channel| channel.fallback.as_ref())
            .and_then(|target| {
                let kind = config.channels.get(target)?.kind.clone();
                let wake = lanes.get(target)?.wake.clone();
                Some(FallbackTo {
                    channel: target.clone(),
                    kind,
                    wake,
                })
            });
        lane.sender.write().unwrap_or_else(|p| p.into_inner()).fallback = fallback;
    }
}
