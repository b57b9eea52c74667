//! The dedup window: the request ids of the last [`WINDOW`] of events,
//! kept in memory by the writer thread.
//!
//! They used to be a unique index on disk. Railz's request ids are random
//! UUIDs, so every event's entry landed on an index page of its own, and
//! every commit wrote one more 4 KiB page per event to the WAL and again at
//! the checkpoint: about a third of the writer's CPU per webhook. Railz retries
//! within minutes, so a day covers every redelivery; the set is rebuilt
//! from the events table at start, so a restart forgets nothing.
//!
//! A key is admitted while its transaction is still open: a redelivery in
//! the same batch is already a duplicate. If the event's own writes fail,
//! or the whole transaction does, its key is let go again.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::millis;

/// How long a request id is recognised as a redelivery.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// How often keys older than the window are let go.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);

/// At most this many keys (about 50 MB); past it, the oldest quarter is let
/// go and the window is shorter than a day until the rate falls. That takes
/// 21 events a second for a whole day; memory stays bounded whatever comes.
const MAX_KEYS: usize = 1_800_000;

/// 128 bits of the key's SHA-256: a sixth of a UUID's text in memory, and
/// no two of a lifetime's request ids share one (2^-128 per pair).
pub type Key = [u8; 16];

pub fn key(dedup_key: &str) -> Key {
    let digest = Sha256::digest(dedup_key.as_bytes());
    let mut key = [0; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

pub struct Seen {
    /// Each key with when its event was received (Unix ms).
    keys: HashMap<Key, i64>,
    /// Admitted in the transaction still open.
    open: Vec<Key>,
    /// When keys were last expired (Unix ms).
    expired_at: i64,
    /// [`MAX_KEYS`], smaller in tests.
    limit: usize,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen {
            keys: HashMap::new(),
            open: Vec::new(),
            expired_at: 0,
            limit: MAX_KEYS,
        }
    }
}

impl Seen {
    /// The keys of the events received within the window before `now`.
    pub fn load(conn: &Connection, now: SystemTime) -> rusqlite::Result<Seen> {
        let since = millis(now) - WINDOW.as_millis() as i64;
        // Sized first and read without copying each key: at start, with a
        // busy day behind, growing the map and allocating every key held
        // twice the window's memory.
        let count: i64 = conn.query_row("SELECT count(*) FROM events WHERE received_at >= ?1", [since], |row| {
            row.get(0)
        })?;
        let mut keys = HashMap::with_capacity(count.max(0) as usize);
        let mut statement = conn.prepare("SELECT dedup_key, received_at FROM events WHERE received_at >= ?1")?;
        let mut rows = statement.query([since])?;
        while let Some(row) = rows.next()? {
            keys.insert(key(row.get_ref(0)?.as_str()?), row.get(1)?);
        }
        let mut seen = Seen {
            keys,
            expired_at: millis(now),
            ..Seen::default()
        };
        seen.bound(millis(now));
        Ok(seen)
    }

    /// False when `key` is a redelivery; else remembers it, received at
    /// `received_at`, as part of the open transaction.
    pub fn admit(&mut self, key: Key, received_at: SystemTime) -> bool {
        if self.keys.contains_key(&key) {
            return false;
        }
        self.keys.insert(key, millis(received_at));
        self.open.push(key);
        true
    }

    /// The event admitted with `key` was not written after all.
    pub fn forget(&mut self, key: &Key) {
        self.keys.remove(key);
        self.open.retain(|k| k != key);
    }

    /// The open transaction committed; now and then, keys older than the
    /// window are let go.
    pub fn committed(&mut self, now: SystemTime) {
        self.open.clear();
        let now = millis(now);
        if now - self.expired_at >= EXPIRE_EVERY.as_millis() as i64 {
            let since = now - WINDOW.as_millis() as i64;
            self.keys.retain(|_, at| *at >= since);
            if self.keys.capacity() > 4 * self.keys.len().max(1024) {
                self.keys.shrink_to_fit();
            }
            self.expired_at = now;
        }
        self.bound(now);
    }

    /// Keeps the newest three quarters of [`MAX_KEYS`] once there are more.
    fn bound(&mut self, now: i64) {
        if self.keys.len() <= self.limit {
            return;
        }
        let mut times: Vec<i64> = self.keys.values().copied().collect();
        let drop = self.keys.len() - self.limit * 3 / 4;
        let (_, &mut cutoff, _) = times.select_nth_unstable(drop);
        self.keys.retain(|_, at| *at >= cutoff);
        let minutes = (now - cutoff).max(0) / 60_000;
        tracing::warn!(
            kept = self.keys.len(),
            "more request ids arrived within 24 hours than the {} kept in memory; \
             redeliveries are recognised for the last {minutes} minutes only",
            self.limit
        );
    }

    /// The open transaction failed: none of its events were written.
    pub fn rolled_back(&mut self) {
        for key in self.open.drain(..) {
            self.keys.remove(&key);
        }
    }

    /// How many keys the window holds, for `/metrics`.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    #[test]
    fn a_key_is_a_redelivery_from_its_own_batch_on_until_the_window_ends() {
        let mut seen = Seen::default();
        assert!(seen.admit(key("a"), at(0)));
        assert!(!seen.admit(key("a"), at(0)), "the same batch");
        seen.committed(at(0));
        assert!(!seen.admit(key("a"), at(3600)), "an hour later");
        seen.committed(at(WINDOW.as_secs() - 1));
        assert!(!seen.admit(key("a"), at(WINDOW.as_secs() - 1)), "inside the window");
        seen.committed(at(WINDOW.as_secs() + 60));
        assert!(seen.admit(key("a"), at(WINDOW.as_secs() + 60)), "after the window");
    }

    #[test]
    fn keys_of_a_failed_transaction_or_command_are_let_go() {
        let mut seen = Seen::default();
        assert!(seen.admit(key("kept"), at(0)));
        seen.committed(at(0));
        assert!(seen.admit(key("lost"), at(1)));
        assert!(seen.admit(key("failed"), at(1)));
        seen.forget(&key("failed"));
        assert!(
            seen.admit(key("failed"), at(1)),
            "its command failed, so it was not written"
        );
        seen.rolled_back();
        assert!(seen.admit(key("lost"), at(2)), "its transaction failed");
        assert!(seen.admit(key("failed"), at(2)));
        assert!(!seen.admit(key("kept"), at(2)));
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn past_its_limit_the_window_keeps_the_newest_keys() {
        let mut seen = Seen {
            limit: 8,
            ..Seen::default()
        };
        for n in 0..9 {
            assert!(seen.admit(key(&n.to_string()), at(n)));
        }
        seen.committed(at(9));
        assert_eq!(seen.len(), 6);
        assert!(seen.admit(key("2"), at(10)), "among the oldest, let go");
        assert!(!seen.admit(key("3"), at(10)), "among the newest, kept");
        assert!(!seen.admit(key("8"), at(10)));
    }

    #[test]
    fn loads_the_keys_of_the_events_received_within_the_window() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE events (dedup_key TEXT NOT NULL, received_at INTEGER NOT NULL)")
            .unwrap();
        let now = at(WINDOW.as_secs() + 100);
        for (dedup_key, received) in [("old", at(0)), ("recent", at(WINDOW.as_secs() + 50))] {
            conn.execute(
                "INSERT INTO events (dedup_key, received_at) VALUES (?1, ?2)",
                rusqlite::params![dedup_key, millis(received)],
            )
            .unwrap();
        }
        let mut seen = Seen::load(&conn, now).unwrap();
        assert!(!seen.admit(key("recent"), now));
        assert!(seen.admit(key("old"), now));
    }
}
