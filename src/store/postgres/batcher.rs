//! Group commit on PostgreSQL: webhooks waiting at the same moment share
//! one transaction (one round of locks and reads, one commit and its WAL
//! flush), as they share one with the SQLite writer. A few batches run at
//! once, each on its own session, so one waiting on a lock or a flush does
//! not hold back the others.

use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::super::model::{Ingest, IngestOutcome, StoreError};
use super::locked::Locked;
use super::{db_error, write};

/// Batches in flight at once, per instance. Measured with 32 clients: one
/// connection id does best with 2 (one batch commits while the next waits
/// on its lock), a new connection per event with 4 (batches do not wait
/// for each other); 3 is within the noise of both.
const WRITERS: usize = 3;
/// Webhooks in one transaction at most.
const MAX_BATCH: usize = 64;

type Reply = oneshot::Sender<Result<IngestOutcome, StoreError>>;

/// Where ingests wait for a writer. Dropping it ends the writers.
pub struct Batcher {
    queue: mpsc::UnboundedSender<(Ingest, Reply)>,
}

impl Batcher {
    pub fn start(pool: Pool) -> Batcher {
        let (queue, waiting) = mpsc::unbounded_channel();
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..WRITERS {
            tokio::spawn(run(pool.clone(), waiting.clone()));
        }
        Batcher { queue }
    }

    /// Records `ingest` with whatever else is waiting; answers once it is
    /// committed (or failed).
    pub async fn ingest(&self, ingest: Ingest) -> Result<IngestOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        if self.queue.send((ingest, reply)).is_err() {
            return Err(StoreError::Unavailable("the database writers have stopped".into()));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the database writers have stopped".into())))
    }
}

async fn run(pool: Pool, waiting: Arc<Mutex<mpsc::UnboundedReceiver<(Ingest, Reply)>>>) {
    while let Some(batch) = next_batch(&waiting).await {
        let (ingests, replies): (Vec<Ingest>, Vec<Reply>) = batch.into_iter().unzip();
        let all: Vec<&Ingest> = ingests.iter().collect();
        match commit(&pool, &all).await {
            Ok(outcomes) => answer(replies, outcomes.into_iter().map(Ok)),
            // One event may have spoiled the batch (a redelivery racing on
            // another instance, say): each is tried on its own, with its
            // own answer.
            Err(_) if all.len() > 1 => {
                for (ingest, reply) in all.into_iter().zip(replies) {
                    let outcome = commit(&pool, &[ingest]).await.map(|mut one| one.remove(0));
                    let _ = reply.send(outcome);
                }
            }
            Err(err) => answer(replies, std::iter::repeat_with(|| Err(err.clone()))),
        }
    }
}

fn answer(replies: Vec<Reply>, outcomes: impl Iterator<Item = Result<IngestOutcome, StoreError>>) {
    for (reply, outcome) in replies.into_iter().zip(outcomes) {
        // A dropped receiver (the request went away) needs no answer.
        let _ = reply.send(outcome);
    }
}

/// Waits for one ingest, then takes whatever else is already waiting.
async fn next_batch(waiting: &Mutex<mpsc::UnboundedReceiver<(Ingest, Reply)>>) -> Option<Vec<(Ingest, Reply)>> {
    let mut waiting = waiting.lock().await;
    let first = waiting.recv().await?;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match waiting.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    Some(batch)
}

async fn commit(pool: &Pool, batch: &[&Ingest]) -> Result<Vec<IngestOutcome>, StoreError> {
    let locks = write::locks(batch.iter().map(|ingest| write::connection_of(ingest)));
    let tx = Locked::begin(pool, locks).await?;
    match write::ingest(tx.client(), batch).await {
        Ok(outcomes) => {
            tx.commit().await.map_err(db_error)?;
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
