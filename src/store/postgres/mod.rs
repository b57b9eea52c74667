//! The shared store: one PostgreSQL database behind several instances.
//! Same operations and rows as the SQLite store; what SQLite gets from
//! having one writer, this store gets from the database: a unique dedup
//! key, a lock per connection around alert state, a lock per outage and
//! group around its counting (taken before the connections'), leases on
//! claims, a lock per channel around digests, and one around migrations.

mod audit;
mod batcher;
mod group;
pub mod import;
mod locked;
mod open;
mod outage_moves;
mod outage_runs;
mod outages;
mod queue;
mod record;
mod rows;
mod schema;
mod staged;
mod status;
mod store;
mod threads;
mod write;

pub use store::PgStore;

use super::model::StoreError;

fn db_error(err: tokio_postgres::Error) -> StoreError {
    // The driver's Display says "db error" for server errors; the server's
    // own message is the useful part.
    match err.as_db_error() {
        Some(db) => StoreError::Unavailable(format!("PostgreSQL: {}", db.message())),
        None => StoreError::Unavailable(format!("PostgreSQL: {}", describe(&err))),
    }
}

fn pool_error(err: deadpool_postgres::PoolError) -> StoreError {
    match err {
        deadpool_postgres::PoolError::Backend(err) => db_error(err),
        other => StoreError::Unavailable(format!("PostgreSQL: {other}")),
    }
}

/// The error and its causes, on one line.
fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
