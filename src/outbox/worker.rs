//! One delivery lane per channel: it claims the channel's next due message,
//! paces sends (Slack allows about one per second per webhook), sends, and
//! settles the result. A failing channel only slows its own lane.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::deliver::{Outcome, Sender};
use crate::metrics::Metrics;
use crate::store::{Delivery, Message, Settle, Store, StoreError};

use super::backoff::{Backoff, decide, expired};

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

/// A channel's senders, replaceable while its lane runs (reload).
pub type SenderSlot = Arc<RwLock<Senders>>;

/// The channel's sender as configured now and, when a reload changed the
/// channel's kind (Slack to email, say), the one of the old kind: messages
/// queued before the reload were rendered for it and still go through it.
pub struct Senders {
    pub current: Arc<Sender>,
    pub previous: Option<Arc<Sender>>,
}

impl Senders {
    pub fn new(sender: Sender) -> Senders {
        Senders {
            current: Arc::new(sender),
            previous: None,
        }
    }

    /// Puts `sender` in place; the one it replaces stays for the messages
    /// of its kind when the kind changed.
    pub fn replace(&mut self, sender: Sender) {
        let old = std::mem::replace(&mut self.current, Arc::new(sender));
        if !self.current.same_kind(&old) {
            self.previous = Some(old);
        }
    }

    fn for_message(&self, message: &Message) -> Arc<Sender> {
        match &self.previous {
            Some(previous) if !self.current.takes(message) && previous.takes(message) => previous.clone(),
            _ => self.current.clone(),
        }
    }
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
    /// No send before this instant: pacing, or a 429's Retry-After.
    next_send: Instant,
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
            next_send: Instant::now(),
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

    /// Waits for the pacing slot; false when shutdown came first.
    async fn wait_for_slot(&mut self) -> bool {
        let Some(mut stop) = self.stop.clone() else {
            tokio::time::sleep_until(self.next_send).await;
            return true;
        };
        tokio::select! {
            _ = tokio::time::sleep_until(self.next_send) => !self.stopping(),
            _ = stop.wait_for(|stopped| *stopped) => false,
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
        if !self.wait_for_slot().await {
            self.store.release(delivery.id);
            return Ok(Step::Idle);
        }
        let settle = match expired(&delivery, SystemTime::now(), self.settings.max_age) {
            Some(expiry) => {
                log_expiry(&self.channel, &delivery, &expiry);
                expiry
            }
            None => self.attempt(&delivery).await,
        };
        self.record(delivery.id, &settle).await?;
        self.count(&delivery, &settle);
        Ok(Step::Settled(settle))
    }

    /// One send, paced and decided. A sender that panics is an attempt
    /// that failed for now: the message is not lost, and not claimed for
    /// ever either.
    async fn attempt(&mut self, delivery: &Delivery) -> Settle {
        let sender = self
            .sender
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .for_message(&delivery.message);
        let outcome = match AssertUnwindSafe(sender.send(&delivery.message)).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(panic) => Outcome::Transient {
                reason: format!("internal error while sending: {}", panic_message(&panic)),
                retry_after: None,
            },
        };
        self.pace(&sender, &outcome);
        let settle = decide(
            delivery,
            &outcome,
            SystemTime::now(),
            self.settings.backoff,
            self.settings.max_age,
            fastrand::f64(),
        );
        log_attempt(&self.channel, delivery, &outcome, &settle);
        settle
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
            // The limit is on the webhook: every message of the lane waits,
            // but never longer than a message may live.
            Outcome::Transient {
                retry_after: Some(wait),
                ..
            } => spacing.max((*wait).min(self.settings.max_age)),
            _ => spacing,
        };
        let now = Instant::now();
        self.next_send = now.checked_add(pause).unwrap_or(now);
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
                Ok(Ok(Step::Settled(_))) => self.set_health(None),
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
        (_, Settle::Delivered { .. }) => {}
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::load_str;
    use crate::deliver::senders;
    use crate::render::EmailMessage;

    /// The sender of channel `ops` defined as `kind`.
    fn sender(kind: &str) -> Sender {
        let text = format!("channels:\n  ops:\n    {kind}\n");
        let config = load_str(&text, Path::new("t.yaml"), &|_| None).unwrap();
        senders(&config, false).unwrap().remove("ops").unwrap()
    }

    #[tokio::test]
    async fn after_a_change_of_kind_queued_messages_keep_a_sender_of_their_kind() {
        let mut senders = Senders::new(sender("slack: { webhook_url: 'http://127.0.0.1:9/hook' }"));
        senders.replace(sender("email: { host: 127.0.0.1, tls: none, from: a@b.c, to: d@e.f }"));
        let queued = Message::Slack {
            payload: serde_json::json!({"text": "x"}),
        };
        assert!(matches!(*senders.for_message(&queued), Sender::Slack(_)));
        let email = Message::Email(EmailMessage {
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
        });
        assert!(matches!(*senders.for_message(&email), Sender::Email(_)));
    }
}
