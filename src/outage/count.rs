//! What a store counts for an outage and one group (a service): among the
//! connections that synced within the window, how many had a failed sync.

use std::time::SystemTime;

use super::model::Outage;

/// The latest outcome of one connection in a group: what the store keeps
/// per connection (one row each), so counting never reads events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub connection: String,
    pub synced_at: SystemTime,
    /// Its last failed sync, if any.
    pub failed_at: Option<SystemTime>,
    /// The data types that failed in that sync.
    pub failed_types: Vec<String>,
}

/// One group's connections within the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Connections that synced within the window.
    pub synced: u64,
    /// Of those, the ones with a failed sync within the window.
    pub failing: u64,
}

impl Counts {
    /// The failing share, 0 when nobody synced.
    pub fn share(&self) -> f64 {
        match self.synced {
            0 => 0.0,
            synced => self.failing as f64 / synced as f64,
        }
    }

    /// At least `at_least` and at least `share` failing: an outage.
    pub fn breaches(&self, outage: &Outage) -> bool {
        self.failing >= outage.at_least.max(1) && self.share() >= outage.share
    }

    /// Under half the threshold share (hysteresis: a flapping provider
    /// does not fire and resolve on every other sync).
    pub fn is_clear(&self, outage: &Outage) -> bool {
        self.share() < outage.share / 2.0
    }
}
