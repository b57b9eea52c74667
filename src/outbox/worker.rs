//! One delivery lane per channel: it claims the channel's next due message,
//! paces sends (Slack allows about one per second per webhook), sends, and
//! settles the result. A failing channel only slows its own lane.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;
use tokio::sync::{Notify, OwnedMutexGuard, watch};
use tokio::time::Instant;

use crate::deliver::{Outcome, Sender};
use crate::metrics::Metrics;
use crate::render::{Anchor, Undelivered, groups, undelivered_for};
use crate::store::{Delivery, Fallback, Settle, Store, StoreError};

use super::backoff::{Backoff, decide, expired};
use super::senders::{Pace, SenderSlot};
use super::threads;

/// How long a lane keeps trying to record an attempt (60 × 500 ms).
const SETTLE_TRIES: u32 = 60;
const SETTLE_PAUSE: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    pub backoff: Backoff,
    /// Undelivered messages older than this are given up.
    pub max_age: Duration,
    /// Spacing between two posts to one Slack webhook.
    pub slack_interval: Duration,
    /// Longest sleep with nothing due: a safety net for missed wakeups,
    /// and how soon a lane sees what an admin command queued (`connections
    /// forget` closing alerts), which cannot wake it.
    pub idle_wait: Duration,
}

impl Default for WorkerSettings {
    fn default() -> WorkerSettings {
        WorkerSettings {
            backoff: Backoff::default(),
            max_age: Duration::from_secs(86_400),
            slack_interval: Duration::from_secs(1),
            idle_wait: Duration::from_secs(1),
        }
    }
}

/// What one call of [`Lane::try_deliver_next`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing was due.
    Idle,
    Settled(Settle),
    /// The window was full: its notifications were gathered into a digest
    /// carrying this many.
    Digested(usize),
}

/// The current digest window: when it ends, and how many went out one by
/// one in it.
#[derive(Debug, Clone, Copy)]
struct Window {
    ends: Instant,
    /// The same end on the wall clock, to compare with when a message was
    /// queued.
    ends_at: SystemTime,
    sent: u32,
}

/// Why a lane is not delivering, if it is not: shown by `/readyz`.
pub type LaneHealth = Arc<Mutex<Option<String>>>;

/// The pause before a lane that panicked goes on.
const RESTART_PAUSE: Duration = Duration::from_secs(1);

pub struct Lane {
    channel: String,
    sender: SenderSlot,
    metrics: Arc<Metrics>,
    store: Arc<Store>,
    /// Signalled by ingest when this channel gets new messages.
    wake: Arc<Notify>,
    settings: WorkerSettings,
    /// The digest window in progress, if any.
    window: Option<Window>,
    /// Set while the lane recovers from a panic.
    health: LaneHealth,
    /// Turns true at shutdown: no new send starts after it.
    stop: Option<watch::Receiver<bool>>,
}

impl Lane {
    pub fn new(
        channel: String,
        sender: SenderSlot,
        store: Arc<Store>,
        wake: Arc<Notify>,
        settings: WorkerSettings,
        metrics: Arc<Metrics>,
    ) -> Lane {
        Lane {
            channel,
            sender,
            metrics,
            store,
            wake,
            settings,
            window: None,
            health: LaneHealth::default(),
            stop: None,
        }
    }

    /// Shares the lane's health with `/readyz`.
    pub fn with_health(mut self, health: LaneHealth) -> Lane {
        self.health = health;
        self
    }

    fn stopping(&self) -> bool {
        self.stop.as_ref().is_some_and(|stop| *stop.borrow())
    }

    fn pace(&self) -> Pace {
        self.sender.read().unwrap_or_else(|p| p.into_inner()).pace.clone()
    }

    /// Takes the pacing slot of the channel's webhook and waits until it
    /// is due; `None` when shutdown came first. The slot is held until the
    /// send is over and its pause set.
    async fn wait_for_slot(&mut self) -> Option<OwnedMutexGuard<Instant>> {
        let pace = self.pace();
        let slot = match self.stop.clone() {
            Some(mut stop) => tokio::select! {
                slot = pace.lock_owned() => slot,
                _ = stop.wait_for(|stopped| *stopped) => return None,
            },
            None => pace.lock_owned().await,
        };
        self.sleep_until(*slot).await.then_some(slot)
    }

    /// Sleeps until `at`; false when shutdown came first.
    async fn sleep_until(&self, at: Instant) -> bool {
        let Some(mut stop) = self.stop.clone() else {
            tokio::time::sleep_until(at).await;
            return true;
        };
        tokio::select! {
            _ = tokio::time::sleep_until(at) => !self.stopping(),
            _ = stop.wait_for(|stopped| *stopped) => false,
        }
    }

    /// With digests on: whether this notification may go out on its own
    /// now. When the window has had its `after` ones, the lane waits for
    /// the window's end and gathers what is pending into one digest; new
    /// work wakes it meanwhile, so that a message that stands alone (an
    /// outage's, which holds the rest) does not wait for the window.
    async fn digest_step(&mut self, delivery: &Delivery) -> Result<Option<Step>, StoreError> {
        let (digest, kind, standalone) = {
            let senders = self.sender.read().unwrap_or_else(|p| p.into_inner());
            let standalone = senders.standalone.contains(&delivery.rule);
            (senders.digest, senders.kind.clone(), standalone)
        };
        let digest = digest.filter(|_| !delivery.digest && !standalone);
        let (Some(digest), Some(kind)) = (digest, kind) else {
            return Ok(None);
        };
        // A retry was counted at its first attempt: the window counts
        // notifications, not attempts (a lone alert retried twice is not a
        // "digest of 1").
        if delivery.attempts > 0 {
            return Ok(None);
        }
        let now = Instant::now();
        // A full window that ended while the lane was away (woken by new
        // work) still gathers what was queued during it.
        let full = self
            .window
            .filter(|w| w.sent >= digest.after && (w.ends > now || delivery.created_at < w.ends_at));
        if let Some(window) = full {
            self.store.release(delivery.id).await;
            if !self.wait_for_window(window.ends).await {
                return Ok(Some(Step::Idle));
            }
            self.window = None;
            let built = (self.store)
                .build_digest(
                    &self.channel,
                    kind,
                    digest.max_items,
                    self.settings.max_age,
                    SystemTime::now(),
                )
                .await?;
            let carried = built.map_or(0, |b| b.carried);
            tracing::info!(channel = %self.channel, carried, "digest queued");
            return Ok(Some(Step::Digested(carried)));
        }
        match self.window.as_mut().filter(|w| w.ends > now) {
            Some(window) => window.sent += 1,
            None => {
                self.window = Some(Window {
                    ends: now + digest.window,
                    ends_at: SystemTime::now() + digest.window,
                    sent: 1,
                })
            }
        }
        Ok(None)
    }

    /// Waits for a full digest window's end: true at its end, false when
    /// new work or shutdown came first.
    async fn wait_for_window(&self, ends: Instant) -> bool {
        if ends <= Instant::now() {
            return true;
        }
        tokio::select! {
            ended = self.sleep_until(ends) => ended,
            _ = self.wake.notified() => false,
        }
    }

    /// Several rules, one message: a notification of a kind a human reads
    /// takes with it the others its event queued for this channel, as one
    /// group (counted as one message by [`Lane::digest_step`], which saw
    /// only the claimed one). Should the group not be built, the claimed
    /// one goes alone, as it would have.
    async fn grouped(&self, delivery: Delivery) -> Delivery {
        if delivery.digest || !groups(&delivery.message) {
            return delivery;
        }
        match self.store.group(&delivery, SystemTime::now()).await {
            Ok(Some(group)) => {
                let request_id = group.request_id.as_deref().unwrap_or("-");
                tracing::info!(channel = %self.channel, request_id, carried = %group.rule, "one message for the rules of one event");
                group
            }
            Ok(None) => delivery,
            Err(err) => {
                tracing::warn!(channel = %self.channel, error = %err, "cannot group the notifications of one event; sending alone");
                delivery
            }
        }
    }

    /// Delivers the next due message, if any: one unit of work.
    pub async fn try_deliver_next(&mut self) -> Result<Step, StoreError> {
        if self.stopping() {
            return Ok(Step::Idle);
        }
        let Some(delivery) = self.store.claim_next(&self.channel, SystemTime::now()).await? else {
            return Ok(Step::Idle);
        };
        if let Some(step) = self.digest_step(&delivery).await? {
            return Ok(step);
        }
        let delivery = self.grouped(delivery).await;
        let Some(mut slot) = self.wait_for_slot().await else {
            self.store.release(delivery.id).await;
            return Ok(Step::Idle);
        };
        let (settle, anchors) = match expired(&delivery, SystemTime::now(), self.settings.max_age) {
            Some(expiry) => {
                log_expiry(&self.channel, &delivery, &expiry);
                (expiry, Vec::new())
            }
            None => self.attempt(&delivery, &mut slot).await,
        };
        drop(slot);
        // A message that failed but left a Slack message to keep (a reply
        // posted, an update refused) keeps it; only a plain failure falls
        // back.
        match self.fallback_for(&delivery, &settle).filter(|_| anchors.is_empty()) {
            Some((fallback, wake)) => {
                self.record_with_fallback(delivery.id, &settle, fallback).await?;
                wake.notify_one();
            }
            None => self.record(delivery.id, &settle, anchors).await?,
        }
        self.count(&delivery, &settle);
        Ok(Step::Settled(settle))
    }

    /// One send, paced and decided. A sender that panics is an attempt
    /// that failed for now: the message is not lost, and not claimed for
    /// ever either. Beside the settle: the Slack messages threads now hang
    /// on, to be kept with it.
    async fn attempt(&mut self, delivery: &Delivery, slot: &mut Instant) -> (Settle, Vec<Anchor>) {
        let sender = self
            .sender
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .for_message(&delivery.message);
        let sending = threads::send(&self.store, &self.metrics, &self.channel, &sender, delivery);
        let (outcome, anchors) = match AssertUnwindSafe(sending).catch_unwind().await {
            Ok(sent) => (sent.outcome, sent.anchors),
            Err(panic) => {
                let reason = format!("internal error while sending: {}", panic_message(&panic));
                let outcome = Outcome::Transient {
                    reason,
                    retry_after: None,
                };
                (outcome, Vec::new())
            }
        };
        *slot = self.pause_after(&sender, &outcome);
        let settle = decide(
            delivery,
            &outcome,
            SystemTime::now(),
            self.settings.backoff,
            self.settings.max_age,
            fastrand::f64(),
        );
        log_attempt(&self.channel, delivery, &outcome, &settle);
        (settle, anchors)
    }

    /// Stores the result of an attempt that was made. While storage refuses
    /// (a lock, a full disk), it keeps trying for a while rather than
    /// leaving the message pending, which would send it again.
    async fn record(&self, id: u64, settle: &Settle, anchors: Vec<Anchor>) -> Result<(), StoreError> {
        let mut tries = 0;
        loop {
            let anchors = anchors.clone();
            match self
                .store
                .settle_posted(id, settle.clone(), &self.channel, anchors)
                .await
            {
                Ok(()) => return Ok(()),
                Err(err) if tries >= SETTLE_TRIES => {
                    self.store.release(id).await;
                    return Err(err);
                }
                Err(err) => {
                    tries += 1;
                    tracing::warn!(channel = %self.channel, error = %err, "cannot record a delivery attempt; trying again");
                    tokio::time::sleep(SETTLE_PAUSE).await;
                }
            }
        }
    }

    /// For a message that failed for good or expired on a channel with a
    /// `fallback`: the notice for it, and its lane's wake-up.
    fn fallback_for(&self, delivery: &Delivery, settle: &Settle) -> Option<(Fallback, Arc<Notify>)> {
        let (error, expired) = match settle {
            Settle::Failed { error } => (error, false),
            Settle::Expired { error } => (error, true),
            _ => return None,
        };
        let to = self.sender.read().unwrap_or_else(|p| p.into_inner()).fallback.clone()?;
        let notice = Undelivered {
            channel: self.channel.clone(),
            rule: delivery.rule.clone(),
            request_id: delivery.request_id.clone(),
            said: delivery.message.headline(),
            error: error.clone(),
            expired,
        };
        let message = undelivered_for(&to.kind, &notice)?;
        Some((
            Fallback {
                channel: to.channel,
                message,
            },
            to.wake,
        ))
    }

    /// As [`Lane::record`], the fallback's notice queued in the same step;
    /// when that cannot be stored, the failure alone is (the log says so).
    async fn record_with_fallback(&self, id: u64, settle: &Settle, fallback: Fallback) -> Result<(), StoreError> {
        let channel = fallback.channel.clone();
        match self.store.settle_with_fallback(id, settle.clone(), fallback).await {
            Ok(()) => {
                tracing::warn!(channel = %self.channel, fallback = %channel, "a notification failed for good: its fallback is told");
                Ok(())
            }
            Err(err) => {
                tracing::error!(channel = %self.channel, fallback = %channel, error = %err, "cannot queue the fallback's notice");
                self.record(id, settle, Vec::new()).await
            }
        }
    }

    fn count(&self, delivery: &Delivery, settle: &Settle) {
        let outcome = match settle {
            Settle::Delivered { .. } => {
                let latency = SystemTime::now()
                    .duration_since(delivery.created_at)
                    .unwrap_or_default();
                self.metrics.delivery_latency.observe(latency.as_secs_f64());
                "delivered"
            }
            Settle::Retry { .. } => "retry",
            Settle::Failed { .. } => "failed",
            Settle::Expired { .. } => "expired",
            Settle::NotSent { .. } => "dry_run",
        };
        self.metrics.notification(&self.channel, outcome);
    }

    /// When the next send to this webhook may start.
    fn pause_after(&self, sender: &Sender, outcome: &Outcome) -> Instant {
        let spacing = sender.min_interval(self.settings.slack_interval);
        let pause = match outcome {
            // The limit is on the webhook: every message of the lane waits,
            // but never longer than a message may live.
            Outcome::Transient {
                retry_after: Some(wait),
                ..
            } => spacing.max((*wait).min(self.settings.max_age)),
            _ => spacing,
        };
        let now = Instant::now();
        now.checked_add(pause).unwrap_or(now)
    }

    /// Delivers until `shutdown` turns true; the message in hand is always
    /// finished and settled first. A step that panics does not end the
    /// lane: it is logged, shown by `/readyz`, and the lane goes on after a
    /// pause.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        self.stop = Some(shutdown.clone());
        while !*shutdown.borrow() {
            let step = AssertUnwindSafe(self.try_deliver_next()).catch_unwind().await;
            match step {
                Ok(Ok(Step::Settled(_) | Step::Digested(_))) => self.set_health(None),
                Ok(Ok(Step::Idle)) => {
                    self.set_health(None);
                    self.wait_for_work(&mut shutdown).await
                }
                Ok(Err(err)) => {
                    tracing::error!(channel = %self.channel, error = %err, "delivery queue unavailable");
                    pause(RESTART_PAUSE, &mut shutdown).await;
                }
                Err(panic) => {
                    let reason = format!("restarting after a panic: {}", panic_message(&panic));
                    tracing::error!(channel = %self.channel, error = %reason, "delivery lane failed");
                    self.metrics.lane_restart(&self.channel);
                    self.set_health(Some(reason));
                    pause(RESTART_PAUSE, &mut shutdown).await;
                }
            }
        }
    }

    fn set_health(&self, problem: Option<String>) {
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        if *health != problem {
            *health = problem;
        }
    }

    async fn wait_for_work(&self, shutdown: &mut watch::Receiver<bool>) {
        let due = self.store.next_due(&self.channel).await.ok().flatten();
        let until_due = due
            .map(|at| at.duration_since(SystemTime::now()).unwrap_or_default())
            .unwrap_or(self.settings.idle_wait)
            .min(self.settings.idle_wait);
        tokio::select! {
            _ = self.wake.notified() => {}
            _ = tokio::time::sleep(until_due) => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn pause(wait: Duration, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = shutdown.changed() => {}
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn log_expiry(channel: &str, delivery: &Delivery, settle: &Settle) {
    if let Settle::Expired { error } = settle {
        let request_id = delivery.request_id.as_deref().unwrap_or("-");
        tracing::error!(request_id, rule = %delivery.rule, channel, error = %error, "notification expired");
    }
}

fn log_attempt(channel: &str, delivery: &Delivery, outcome: &Outcome, settle: &Settle) {
    let request_id = delivery.request_id.as_deref().unwrap_or("-");
    let attempt = delivery.attempts + 1;
    let rule = delivery.rule.as_str();
    match (outcome, settle) {
        (Outcome::Delivered { detail }, _) => {
            tracing::info!(request_id, rule, channel, attempt, answer = %detail, "notification sent")
        }
        (_, Settle::Retry { at, error }) => {
            let retry_at = humantime::format_rfc3339_seconds(*at);
            tracing::warn!(request_id, rule, channel, attempt, error = %error, %retry_at, "notification failed, will retry")
        }
        (_, Settle::Failed { error } | Settle::Expired { error }) => {
            tracing::error!(request_id, rule, channel, attempt, error = %error, "notification failed for good")
        }
        // The dry-run sender logged the message itself.
        (_, Settle::Delivered { .. } | Settle::NotSent { .. }) => {}
    }
}
