//! What the store keeps: rendered messages waiting for delivery, and what
//! an ingest writes in one step.

use std::time::SystemTime;

use bytes::Bytes;

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::lifecycle::AlertInput;
use crate::rules::Environment;

// The plain types the layers below produce, named here too: what the store
// keeps is theirs.
pub use crate::lifecycle::NewDelivery;
pub use crate::render::Message;

/// Everything one accepted webhook writes.
#[derive(Debug, Clone)]
pub struct Ingest {
    /// The `requestId`, or a hash of the body when there is none.
    pub dedup_key: String,
    /// The raw body, kept for `syncwatch explain` until pruned.
    pub body: Bytes,
    /// The event and what it means for alert state (the lifecycle runs it
    /// in the same transaction); the event row's columns come from it.
    pub alerts: AlertInput,
}

impl Ingest {
    pub fn request_id(&self) -> Option<&str> {
        self.alerts.event.request_id.as_deref()
    }

    pub fn received_at(&self) -> SystemTime {
        self.alerts.received_at
    }

    pub fn environment(&self) -> Environment {
        self.alerts.environment
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    Duplicate,
    Accepted {
        /// Alerts that queued deliveries.
        notified: Vec<AlertKey>,
        /// Matched alerts that sent nothing: pending, or within
        /// repeat_interval.
        suppressed: Vec<AlertKey>,
        /// Channels that got new deliveries, to wake their workers.
        channels: Vec<String>,
        /// Every alert this event moved, described for the log.
        transitions: Vec<String>,
        /// The connection the event names, as now known: the absence
        /// scheduler plans it afresh.
        known: Option<Box<KnownConnection>>,
    },
}

/// A queued notification as a worker sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: u64,
    pub channel: String,
    pub rule: String,
    pub request_id: Option<String>,
    pub message: Message,
    pub created_at: SystemTime,
    /// Attempts made before this one.
    pub attempts: u32,
    /// A digest: settling it settles the notifications it carries.
    pub digest: bool,
}

/// A notice for a channel's `fallback`, queued in the same step as the
/// failure it tells of, so neither is recorded without the other.
#[derive(Debug, Clone, PartialEq)]
pub struct Fallback {
    pub channel: String,
    pub message: Message,
}

/// How a delivery attempt ended, as the outbox decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// `answer` is what the channel said, kept for the audit trail.
    Delivered {
        answer: String,
    },
    Retry {
        at: SystemTime,
        error: String,
    },
    Failed {
        error: String,
    },
    Expired {
        error: String,
    },
    /// Not sent on purpose (`delivery.dry_run`): settled as `dry_run`, and
    /// the channel is not counted as told, as after a failure.
    NotSent {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> StoreError {
        StoreError::Unavailable(err.to_string())
    }
}

/// What a pruning pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub events: usize,
    pub deliveries: usize,
    /// Connections forgotten after `storage.forget_after` without events.
    pub connections: usize,
}
