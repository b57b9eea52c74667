//! Where accepted events, alert state and the delivery queue live. The
//! ingest path writes an event and its deliveries in one step; the delivery
//! workers claim, send and settle them.

mod memory;
mod model;

pub use memory::MemoryStore;
pub use model::{
    Candidate, Delivery, Ingest, IngestOutcome, Message, NewDelivery, Resolution, Settle,
    StoreError,
};

use std::time::SystemTime;

/// The storage backend, chosen at start.
pub enum Store {
    Memory(MemoryStore),
}

impl Store {
    /// Whether an event with this dedup key was already accepted: lets a
    /// redelivery skip evaluation. `ingest` checks again atomically.
    pub async fn seen(&self, dedup_key: &str) -> Result<bool, StoreError> {
        match self {
            Store::Memory(store) => Ok(store.seen(dedup_key)),
        }
    }

    /// Records the event, updates alert state and queues the deliveries of
    /// the alerts that notify, all or nothing.
    pub async fn ingest(&self, ingest: Ingest) -> Result<IngestOutcome, StoreError> {
        match self {
            Store::Memory(store) => Ok(store.ingest(ingest)),
        }
    }

    /// Takes the next delivery of `channel` that is due at `now`, if any;
    /// it is not handed out again until settled.
    pub async fn claim_next(
        &self,
        channel: &str,
        now: SystemTime,
    ) -> Result<Option<Delivery>, StoreError> {
        match self {
            Store::Memory(store) => Ok(store.claim_next(channel, now)),
        }
    }

    /// When the next pending delivery of `channel` falls due.
    pub async fn next_due(&self, channel: &str) -> Result<Option<SystemTime>, StoreError> {
        match self {
            Store::Memory(store) => Ok(store.next_due(channel)),
        }
    }

    pub async fn settle(&self, id: u64, settle: Settle) -> Result<(), StoreError> {
        match self {
            Store::Memory(store) => {
                store.settle(id, settle);
                Ok(())
            }
        }
    }

    /// Whether storage accepts writes, for `/readyz`.
    pub async fn is_ready(&self) -> bool {
        match self {
            Store::Memory(_) => true,
        }
    }
}
