//! Where accepted events, alert state and the delivery queue live. The
//! ingest path writes an event and its deliveries in one step; the delivery
//! workers claim, send and settle them.

mod backend;
mod counts;
mod memory;
mod model;
pub mod postgres;
pub mod sqlite;
mod time;

pub use backend::{Sessions, Store};
pub use counts::commit_counts;
pub use memory::MemoryStore;
pub use model::{Delivery, Fallback, Ingest, IngestOutcome, Message, NewDelivery, Pruned, Settle, StoreError};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
