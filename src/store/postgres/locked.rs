//! Transactions that move alert state: begun together with their locks in
//! one round trip, the locks taken in one order by every instance, so two
//! transactions wanting the same connections wait for each other and
//! never deadlock.

use std::future::Future;

use deadpool_postgres::{Client, Object, Pool};
use futures_util::future::join;
use sha2::{Digest, Sha256};
use tokio_postgres::{Error, Statement};

use super::super::model::StoreError;
use super::{db_error, pool_error};

/// Serialises what `key` names (a connection's alerts, a channel's
/// digests, the heartbeat) across instances until the transaction ends.
pub const LOCK: &str = "SELECT pg_advisory_xact_lock($1)";

/// Takes every lock of an array, in the array's order.
pub const LOCK_ALL: &str = "SELECT count(pg_advisory_xact_lock(key)) FROM unnest($1::bigint[]) AS key";

/// Opens every transaction that moves alert state. Its statements run
/// with the plans prepared once: left to choose, the server planned the
/// per-key reads anew for every batch (their array's length changes the
/// estimate): a fifth of the statements' time per batch.
const BEGIN: &str = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan";

/// The advisory lock number of `name`: the same on every instance.
pub fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut first = [0; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// The lock of a connection's alerts ("-" holds events that name none).
pub fn connection_lock(connection: &str) -> i64 {
    lock_key(&format!("connection:{connection}"))
}

/// An open transaction holding its locks. Dropped without `commit`, its
/// session leaves the pool and closes, so the server rolls it back and no
/// other user finds itself inside it.
pub struct Locked {
    client: Option<Client>,
    lock_all: Statement,
}

impl Locked {
    /// Begins a transaction on a pooled session and takes `keys`, all in
    /// one round trip.
    pub async fn begin(pool: &Pool, keys: Vec<i64>) -> Result<Locked, StoreError> {
        let locked = Locked::session(pool).await?;
        locked.lock(keys).await.map_err(db_error)?;
        Ok(locked)
    }

    /// A pooled session for a transaction that [`lock`](Self::lock) begins.
    /// The lock statement is prepared here (once per session), so that
    /// `lock` sends everything at its first poll.
    pub async fn session(pool: &Pool) -> Result<Locked, StoreError> {
        let client = pool.get().await.map_err(pool_error)?;
        let lock_all = client.prepare_cached(LOCK_ALL).await.map_err(db_error)?;
        Ok(Locked {
            client: Some(client),
            lock_all,
        })
    }

    /// Begins a transaction that takes the locks of `outages` (its outages'
    /// groups) first, then those of `connections`: see
    /// [`lock_tiers`](Self::lock_tiers).
    pub async fn begin_tiers(pool: &Pool, outages: Vec<i64>, connections: Vec<i64>) -> Result<Locked, StoreError> {
        let locked = Locked::session(pool).await?;
        locked.lock_tiers(outages, connections).await.map_err(db_error)?;
        Ok(locked)
    }

    /// As [`lock`](Self::lock), the outages' locks before the connections'
    /// (each tier in one order): a transaction holding an outage's lock may
    /// then take more connections' locks (those whose alerts the outage
    /// holds or releases) without a deadlock against ingest, which never
    /// holds a connection's lock while it waits for an outage's.
    pub fn lock_tiers(&self, outages: Vec<i64>, connections: Vec<i64>) -> impl Future<Output = Result<(), Error>> + '_ {
        let mut keys = tier(outages);
        keys.extend(tier(connections));
        self.lock_ordered(keys)
    }

    /// Takes more locks inside the open transaction, in one order.
    pub async fn lock_more(&self, keys: Vec<i64>) -> Result<(), Error> {
        self.client().query_one(&self.lock_all, &[&tier(keys)]).await.map(drop)
    }

    /// Begins the transaction and takes `keys` (sorted here). The request
    /// goes out when this is first polled: whatever is polled after it on
    /// this session (tokio-postgres sends in that order) runs inside the
    /// transaction, once the locks are held, without waiting for a round
    /// trip of its own.
    pub fn lock(&self, keys: Vec<i64>) -> impl Future<Output = Result<(), Error>> + '_ {
        self.lock_ordered(tier(keys))
    }

    async fn lock_ordered(&self, keys: Vec<i64>) -> Result<(), Error> {
        let client = self.client();
        let (begun, locked) = join(client.batch_execute(BEGIN), client.query_one(&self.lock_all, &[&keys])).await;
        begun.and(locked).map(drop)
    }

    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("a Locked holds its session until it ends")
    }

    pub async fn commit(self) -> Result<(), Error> {
        self.commit_after(async |_: &Client| Ok(())).await
    }

    /// Runs `last` and commits, in one round trip: `last` must send its
    /// request when first polled (an execute of a prepared statement), as
    /// the COMMIT is sent right after that. A failed `last` fails the
    /// whole: the server ends the failed transaction without committing.
    pub async fn commit_after(mut self, last: impl AsyncFnOnce(&Client) -> Result<(), Error>) -> Result<(), Error> {
        let client = self.client.take().expect("a Locked holds its session until it ends");
        let (done, committed) = join(last(&client), client.batch_execute("COMMIT")).await;
        let result = done.and(committed);
        if result.is_err() {
            // The session's state is unknown: it does not go back.
            let _ = Object::take(client);
        }
        result
    }
}

/// Sorted, each once.
fn tier(mut keys: Vec<i64>) -> Vec<i64> {
    keys.sort_unstable();
    keys.dedup();
    keys
}

impl Drop for Locked {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(lock_key("connection:CON-1"), lock_key("connection:CON-1"));
        assert_ne!(lock_key("connection:CON-1"), lock_key("connection:CON-2"));
        assert_ne!(lock_key("connection:CON-1"), lock_key("digest:CON-1"));
    }
}
