//! Transactions committed and the writes they carried, by whichever store
//! runs, for `/metrics`: their ratio is the group commit's batch size.

use std::sync::atomic::{AtomicU64, Ordering};

static COMMITS: AtomicU64 = AtomicU64::new(0);
static WRITES: AtomicU64 = AtomicU64::new(0);

/// Counts one committed transaction that carried `writes` writes.
pub fn committed(writes: usize) {
    COMMITS.fetch_add(1, Ordering::Relaxed);
    WRITES.fetch_add(writes as u64, Ordering::Relaxed);
}

/// (transactions committed, writes committed) since start.
pub fn commit_counts() -> (u64, u64) {
    (COMMITS.load(Ordering::Relaxed), WRITES.load(Ordering::Relaxed))
}
