//! The one writer: a thread that owns the write connection and commits
//! whatever commands are waiting in one transaction (group commit), so a
//! burst of webhooks shares one fsync. Each command runs in its own
//! savepoint: one failing command does not undo the others.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, ErrorCode, TransactionBehavior};
use tokio::sync::oneshot;

use super::super::model::{Ingest, IngestOutcome, Pruned, Settle, StoreError};
use super::open::open_writer;
use super::write;

/// Commands waiting beyond this many go into the next transaction.
const MAX_BATCH: usize = 512;

pub type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub enum Command {
    Ingest {
        ingest: Box<Ingest>,
        reply: Reply<IngestOutcome>,
    },
    Settle {
        id: u64,
        settle: Settle,
        at: SystemTime,
        reply: Reply<()>,
    },
    Prune {
        cutoff: SystemTime,
        reply: Reply<Pruned>,
    },
    Abandon {
        known: Vec<String>,
        at: SystemTime,
        reply: Reply<Vec<(String, u64)>>,
    },
    Probe {
        reply: Reply<()>,
    },
}

/// What a command produced inside the transaction, sent once it commits.
enum Done {
    Ingested(IngestOutcome),
    Unit,
    Pruned(Pruned),
    Abandoned(Vec<(String, u64)>),
}

pub struct Writer {
    pub path: PathBuf,
    pub busy_timeout: Duration,
}

impl Writer {
    /// Runs until every sender is gone. `conn` is the connection opened
    /// (and migrated) at start; after an I/O error it is reopened.
    pub fn run(self, conn: Connection, commands: Receiver<Command>) {
        let mut conn = Some(conn);
        while let Some(batch) = next_batch(&commands) {
            let result = match conn.as_mut() {
                Some(conn) => commit_batch(conn, batch),
                None => match open_writer(&self.path, self.busy_timeout) {
                    Ok(opened) => commit_batch(conn.insert(opened), batch),
                    Err(err) => Err((err, batch)),
                },
            };
            match result {
                Ok(()) => {}
                Err((err, batch)) => {
                    tracing::error!(error = %err, "storage write failed");
                    if needs_reopen(&err) {
                        conn = None;
                    }
                    fail_all(batch, &err);
                }
            }
        }
    }
}

/// Blocks for one command, then takes whatever else is already waiting.
fn next_batch(commands: &Receiver<Command>) -> Option<Vec<Command>> {
    let first = commands.recv().ok()?;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match commands.try_recv() {
            Ok(command) => batch.push(command),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
        }
    }
    Some(batch)
}

type BatchError = (rusqlite::Error, Vec<Command>);

fn commit_batch(conn: &mut Connection, batch: Vec<Command>) -> Result<(), BatchError> {
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(err) => return Err((err, batch)),
    };
    let mut results = Vec::with_capacity(batch.len());
    for command in &batch {
        let result = tx.savepoint().and_then(|mut sp| {
            let done = apply(&mut sp, command)?;
            sp.commit()?;
            Ok(done)
        });
        results.push(result);
    }
    if let Err(err) = tx.commit() {
        return Err((err, batch));
    }
    for (command, result) in batch.into_iter().zip(results) {
        reply(command, result.map_err(StoreError::from));
    }
    Ok(())
}

fn apply(tx: &mut rusqlite::Savepoint<'_>, command: &Command) -> rusqlite::Result<Done> {
    match command {
        Command::Ingest { ingest, .. } => write::ingest(tx, ingest).map(Done::Ingested),
        Command::Settle { id, settle, at, .. } => write::settle(tx, *id, settle, *at).map(|()| Done::Unit),
        Command::Prune { cutoff, .. } => write::prune(tx, *cutoff).map(Done::Pruned),
        Command::Probe { .. } => write::probe(tx).map(|()| Done::Unit),
        Command::Abandon { known, at, .. } => write::abandon(tx, known, *at).map(Done::Abandoned),
    }
}

fn reply(command: Command, result: Result<Done, StoreError>) {
    // A dropped receiver (the request went away) needs no answer, hence
    // the ignored send results.
    match (command, result) {
        (Command::Ingest { reply, .. }, Ok(Done::Ingested(outcome))) => {
            let _ = reply.send(Ok(outcome));
        }
        (Command::Settle { reply, .. } | Command::Probe { reply }, Ok(Done::Unit)) => {
            let _ = reply.send(Ok(()));
        }
        (Command::Prune { reply, .. }, Ok(Done::Pruned(pruned))) => {
            let _ = reply.send(Ok(pruned));
        }
        (Command::Abandon { reply, .. }, Ok(Done::Abandoned(dropped))) => {
            let _ = reply.send(Ok(dropped));
        }
        (command, Err(err)) => fail(command, err),
        (command, Ok(_)) => fail(command, StoreError::Unavailable("internal: mismatched reply".into())),
    }
}

fn fail_all(batch: Vec<Command>, err: &rusqlite::Error) {
    for command in batch {
        fail(command, StoreError::from(clone_error(err)));
    }
}

fn fail(command: Command, err: StoreError) {
    match command {
        Command::Ingest { reply, .. } => {
            let _ = reply.send(Err(err));
        }
        Command::Settle { reply, .. } | Command::Probe { reply } => {
            let _ = reply.send(Err(err));
        }
        Command::Prune { reply, .. } => {
            let _ = reply.send(Err(err));
        }
        Command::Abandon { reply, .. } => {
            let _ = reply.send(Err(err));
        }
    }
}

fn clone_error(err: &rusqlite::Error) -> rusqlite::Error {
    match err.sqlite_error() {
        Some(code) => rusqlite::Error::SqliteFailure(*code, Some(err.to_string())),
        None => rusqlite::Error::InvalidQuery,
    }
}

/// Errors after which the connection itself is suspect (the file was
/// replaced, made read-only, the disk failed): reopen before the next try.
fn needs_reopen(err: &rusqlite::Error) -> bool {
    !matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::DiskFull)
    )
}
