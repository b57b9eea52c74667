//! Group commit on PostgreSQL: webhooks waiting at the same moment share
//! one transaction (one round of locks and reads, one commit and its WAL
//! flush), as they share one with the SQLite writer. A few batches run at
//! once, each on its own session, so one waiting on a flush does not hold
//! back the others.
//!
//! A batch never takes a webhook whose connection another batch of this
//! instance holds: that webhook would only wait on the lock, in a batch
//! formed too early to include what arrives meanwhile. It waits here
//! instead, and goes with everything of its connection that arrived by the
//! time the lock is free: one connection's burst commits in a few large
//! transactions, not many small ones in a queue on its lock.

use std::collections::{HashMap, HashSet, VecDeque};

use deadpool_postgres::Pool;
use futures_util::future::join;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{Id, JoinSet};

use super::super::counts;
use super::super::model::{Ingest, IngestOutcome, StoreError};
use super::locked::{Locked, connection_lock};
use super::outages::outage_lock;
use super::{db_error, outage_runs, write};

/// Batches in flight at once, per instance, each on its own session. With
/// a new connection per event and 32 clients, 1, 2, 3 and 6 were within
/// the machine's noise in throughput, but the server's CPU per webhook
/// grew with each more (about 110, 150, 180 and 250 µs: more sessions
/// contend for the same index pages and WAL): 2 still overlaps one
/// batch's flush with the next batch's work.
const WRITERS: usize = 2;
/// Webhooks in one transaction at most.
const MAX_BATCH: usize = 64;
/// Runs of one batch through the lifecycle at most (see `commit`).
const MAX_RUNS: usize = 4;

type Reply = oneshot::Sender<Result<IngestOutcome, StoreError>>;
/// A webhook waiting for its batch, with the lock of its connection
/// (computed once, on its way in).
type Waiting = ((Ingest, Reply), i64);

/// Where ingests wait for a writer. Dropping it ends the dispatcher once
/// the batches in flight have answered.
pub struct Batcher {
    queue: mpsc::UnboundedSender<Waiting>,
}

impl Batcher {
    pub fn start(pool: Pool) -> Batcher {
        let (queue, arrivals) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(pool, arrivals));
        Batcher { queue }
    }

    /// Records `ingest` with whatever else is waiting; answers once it is
    /// committed (or failed).
    pub async fn ingest(&self, ingest: Ingest) -> Result<IngestOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        let lock = connection_lock(write::connection_of(&ingest));
        if self.queue.send(((ingest, reply), lock)).is_err() {
            return Err(StoreError::Unavailable("the database writers have stopped".into()));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the database writers have stopped".into())))
    }
}

/// Forms batches from what is waiting whenever a writer is free, and
/// starts each on a task of its own.
async fn dispatch(pool: Pool, mut arrivals: mpsc::UnboundedReceiver<Waiting>) {
    let mut waiting = VecDeque::new();
    let mut held: HashSet<i64> = HashSet::new();
    // The locks of each running batch, by task: released however the
    // task ends, a panic included, or its connections would wait forever.
    let mut holding: HashMap<Id, Vec<i64>> = HashMap::new();
    let mut running: JoinSet<()> = JoinSet::new();
    let mut open = true;
    while open || !running.is_empty() {
        tokio::select! {
            arrived = arrivals.recv(), if open => match arrived {
                Some(first) => {
                    waiting.push_back(first);
                    while let Ok(next) = arrivals.try_recv() {
                        waiting.push_back(next);
                    }
                }
                None => open = false,
            },
            Some(done) = running.join_next_with_id() => {
                let id = done.map_or_else(|err| err.id(), |(id, ())| id);
                for lock in holding.remove(&id).unwrap_or_default() {
                    held.remove(&lock);
                }
            }
        }
        while running.len() < WRITERS {
            let batch = take_batch(&mut waiting, &held);
            if batch.is_empty() {
                break;
            }
            let locks: Vec<i64> = batch.iter().map(|(_, lock)| *lock).collect();
            held.extend(locks.iter().copied());
            let pool = pool.clone();
            let task = running.spawn(async move { run(&pool, batch).await });
            holding.insert(task.id(), locks);
        }
    }
}

/// Takes, in arrival order, up to [`MAX_BATCH`] waiting webhooks whose
/// connections no running batch holds, each with its connection's lock.
/// Those left behind keep their order.
fn take_batch<T>(waiting: &mut VecDeque<(T, i64)>, held: &HashSet<i64>) -> Vec<(T, i64)> {
    let mut batch = Vec::new();
    let mut left = VecDeque::new();
    while let Some(next) = waiting.pop_front() {
        if batch.len() == MAX_BATCH {
            waiting.push_front(next);
            break;
        }
        if held.contains(&next.1) {
            left.push_back(next);
        } else {
            batch.push(next);
        }
    }
    left.append(waiting);
    *waiting = left;
    batch
}

async fn run(pool: &Pool, batch: Vec<Waiting>) {
    let (waiting, locks): (Vec<(Ingest, Reply)>, Vec<i64>) = batch.into_iter().unzip();
    let (ingests, replies): (Vec<Ingest>, Vec<Reply>) = waiting.into_iter().unzip();
    let all: Vec<&Ingest> = ingests.iter().collect();
    match commit(pool, &all, locks.clone()).await {
        Ok(outcomes) => answer(replies, outcomes.into_iter().map(Ok)),
        // One event may have spoiled the batch (a redelivery racing on
        // another instance, say): each is tried on its own, with its
        // own answer.
        Err(_) if all.len() > 1 => {
            for ((ingest, reply), lock) in all.into_iter().zip(replies).zip(locks) {
                let outcome = commit(pool, &[ingest], vec![lock]).await.map(|mut one| one.remove(0));
                let _ = reply.send(outcome);
            }
        }
        Err(err) => answer(replies, std::iter::repeat_with(|| Err(err.clone()))),
    }
}

fn answer(replies: Vec<Reply>, outcomes: impl Iterator<Item = Result<IngestOutcome, StoreError>>) {
    for (reply, outcome) in replies.into_iter().zip(outcomes) {
        // A dropped receiver (the request went away) needs no answer.
        let _ = reply.send(outcome);
    }
}

/// One batch, holding `locks` (its connections'), in two round trips: the
/// locks with the reads behind them, then the write with the commit
/// behind it.
async fn commit(pool: &Pool, batch: &[&Ingest], locks: Vec<i64>) -> Result<Vec<IngestOutcome>, StoreError> {
    let tx = Locked::session(pool).await?;
    let groups = outage_runs::outage_groups(batch);
    let outages = groups.iter().map(|group| outage_lock(&group.key)).collect();
    // The locks are polled first, so the reads run after them, under them.
    let (locked, found) = join(
        tx.lock_tiers(outages, locks),
        write::read_batch(tx.client(), batch, &groups),
    )
    .await;
    let mut found = locked.and(found).map_err(db_error)?;
    // An outage that fires or resolves asks for the rows it holds or
    // releases: read, and run again (a few times at most: each read
    // answers what was asked).
    let mut runs = 0;
    let (outcomes, writes, alerts) = loop {
        match write::apply_batch(batch, &found) {
            Ok(done) => break done,
            Err(wants) if runs < MAX_RUNS => {
                outage_runs::fetch(&tx, &mut found, wants).await.map_err(db_error)?;
                runs += 1;
            }
            Err(_) => {
                return Err(StoreError::Unavailable("an outage's move kept asking for rows".into()));
            }
        }
    };
    match writes.commit(tx, &alerts).await {
        Ok(()) => {
            counts::committed(batch.len());
            Ok(outcomes)
        }
        // A copy that raced past the locks (same key, another connection)
        // is a duplicate, as the unique key says.
        Err(err) if batch.len() == 1 && err.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
            Ok(vec![IngestOutcome::Duplicate])
        }
        Err(err) => Err(db_error(err)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashSet, VecDeque};

    use super::{MAX_BATCH, take_batch};

    /// Webhooks as (arrival number, connection lock).
    fn queue(locks: &[i64]) -> VecDeque<(usize, i64)> {
        (0..).zip(locks.iter().copied()).collect()
    }

    fn arrivals(batch: &[(usize, i64)]) -> Vec<usize> {
        batch.iter().map(|(n, _)| *n).collect()
    }

    #[test]
    fn a_batch_leaves_the_connections_held_by_others_waiting_in_order() {
        let mut waiting = queue(&[1, 2, 1, 3, 2]);
        let held = HashSet::from([2]);
        let batch = take_batch(&mut waiting, &held);
        assert_eq!(arrivals(&batch), [0, 2, 3]);
        assert_eq!(batch.iter().map(|(_, lock)| *lock).collect::<Vec<_>>(), [1, 1, 3]);
        assert_eq!(
            waiting,
            queue(&[1, 2, 1, 3, 2])
                .into_iter()
                .filter(|(_, lock)| *lock == 2)
                .collect::<VecDeque<_>>()
        );
    }

    #[test]
    fn a_batch_stops_at_its_size_and_keeps_the_rest_in_arrival_order() {
        let mut waiting = queue(&vec![7; MAX_BATCH + 3]);
        waiting.push_front((1000, 9));
        let held = HashSet::from([9]);
        let batch = take_batch(&mut waiting, &held);
        assert_eq!(batch.len(), MAX_BATCH);
        let left: Vec<usize> = waiting.iter().map(|(n, _)| *n).collect();
        assert_eq!(left, [1000, MAX_BATCH, MAX_BATCH + 1, MAX_BATCH + 2]);
    }

    #[test]
    fn nothing_is_taken_while_every_waiting_connection_is_held() {
        let mut waiting = queue(&[4, 4]);
        let batch = take_batch(&mut waiting, &HashSet::from([4]));
        assert!(batch.is_empty());
        assert_eq!(waiting.len(), 2);
    }
}
