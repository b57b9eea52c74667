//! One delivery lane per channel: it claims the channel's next due message,
//! paces sends (Slack allows about one per second per webhook), sends, and
//! settles the result. A failing channel only slows its own lane.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::deliver::{Outcome, Sender};
use crate::metrics::Metrics;
use crate::store::{Delivery, Settle, Store, StoreError};

use super::backoff::{Backoff, decide};

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
    /// Longest sleep with nothing due, as a safety net for missed wakeups.
    pub idle_wait: Duration,
}

impl Default for WorkerSettings {
    fn default() -> WorkerSettings {
        WorkerSettings {
            backoff: Backoff::default(),
            max_age: Duration::from_secs(86_400),
            slack_interval: Duration::from_secs(1),
            idle_wait: Duration::from_secs(30),
        }
    }
}

/// What one call of [`Lane::try_deliver_next`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing was due.
    Idle,
    Settled(Settle),
}

/// A channel's sender, replaceable while its lane runs (reload).
pub type SenderSlot = Arc<RwLock<Arc<Sender>>>;

pub struct Lane {
    channel: String,
    sender: SenderSlot,
    metrics: Arc<Metrics>,
    store: Arc<Store>,
    /// Signalled by ingest when this channel gets new messages.
    wake: Arc<Notify>,
    settings: WorkerSettings,
    /// No send before this instant: pacing, or a 429's Retry-After.
    next_send: Instant,
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
            next_send: Instant::now(),
        }
    }

    /// Delivers the next due message, if any: one unit of work.
    pub async fn try_deliver_next(&mut self) -> Result<Step, StoreError> {
        let Some(delivery) = self.store.claim_next(&self.channel, SystemTime::now()).await? else {
            return Ok(Step::Idle);
        };
        tokio::time::sleep_until(self.next_send).await;
        let sender = self.sender.read().unwrap_or_else(|p| p.into_inner()).clone();
        let outcome = sender.send(&delivery.message).await;
        self.pace(&sender, &outcome);
        let settle = decide(
            &delivery,
            &outcome,
            SystemTime::now(),
            self.settings.backoff,
            self.settings.max_age,
            fastrand::f64(),
        );
        log_attempt(&self.channel, &delivery, &outcome, &settle);
        self.record(delivery.id, &settle).await?;
        self.count(&delivery, &settle);
        Ok(Step::Settled(settle))
    }

    /// Stores the result of an attempt that was made. While storage refuses
    /// (a lock, a full disk), it keeps trying for a while rather than
    /// leaving the message pending, which would send it again.
    async fn record(&self, id: u64, settle: &Settle) -> Result<(), StoreError> {
        let mut tries = 0;
        loop {
            match self.store.settle(id, settle.clone()).await {
                Ok(()) => return Ok(()),
                Err(err) if tries >= SETTLE_TRIES => {
                    self.store.release(id);
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
        };
        self.metrics.notification(&self.channel, outcome);
    }

    fn pace(&mut self, sender: &Sender, outcome: &Outcome) {
        let spacing = sender.min_interval(self.settings.slack_interval);
        let pause = match outcome {
            // The limit is on the webhook: every message of the lane waits.
            Outcome::Transient {
                retry_after: Some(wait),
                ..
            } => spacing.max(*wait),
            _ => spacing,
        };
        self.next_send = Instant::now() + pause;
    }

    /// Delivers until `shutdown` turns true; the message in hand is always
    /// finished and settled first.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            match self.try_deliver_next().await {
                Ok(Step::Settled(_)) => continue,
                Ok(Step::Idle) => self.wait_for_work(&mut shutdown).await,
                Err(err) => {
                    tracing::error!(channel = %self.channel, error = %err, "delivery queue unavailable");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
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
        (_, Settle::Delivered { .. }) => {}
    }
}
