//! The one writer: a thread that owns the write connection and commits
//! whatever commands are waiting in one transaction (group commit), so a
//! burst of webhooks shares one fsync. Each command runs in its own
//! savepoint: one failing command does not undo the others.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, ErrorCode, TransactionBehavior};
use tokio::sync::oneshot;

use super::super::counts;
use super::super::model::StoreError;
use super::open::open_writer;
use super::seen::Seen;

/// Commands waiting beyond this many go into the next transaction.
const MAX_BATCH: usize = 512;

pub type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One unit of work for the writer: it runs inside the shared transaction,
/// in a savepoint of its own, and hears its result once the transaction
/// committed (or failed).
pub trait Work: Send {
    fn run(&mut self, tx: &Connection) -> rusqlite::Result<()>;
    fn finish(self: Box<Self>, result: Result<(), StoreError>);
}

pub type Command = Box<dyn Work>;

/// A closure and where its result goes.
struct Job<T, F> {
    work: Option<F>,
    result: Option<T>,
    reply: Reply<T>,
}

impl<T, F> Work for Job<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send,
{
    fn run(&mut self, tx: &Connection) -> rusqlite::Result<()> {
        let work = self.work.take().ok_or(rusqlite::Error::InvalidQuery)?;
        self.result = Some(work(tx)?);
        Ok(())
    }

    fn finish(self: Box<Self>, result: Result<(), StoreError>) {
        let Job {
            result: value, reply, ..
        } = *self;
        let answer = result
            .and_then(|()| value.ok_or_else(|| StoreError::Unavailable("internal: the write did not run".into())));
        // A dropped receiver (the request went away) needs no answer.
        let _ = reply.send(answer);
    }
}

/// Wraps `work` as a command whose result goes to `reply`.
pub fn job<T, F>(work: F, reply: Reply<T>) -> Command
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
{
    Box::new(Job {
        work: Some(work),
        result: None,
        reply,
    })
}

pub struct Writer {
    pub path: PathBuf,
    pub busy_timeout: Duration,
    /// The dedup window, told how each transaction ended.
    pub seen: Arc<Mutex<Seen>>,
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
                Ok(()) => lock(&self.seen).committed(SystemTime::now()),
                Err((err, batch)) => {
                    lock(&self.seen).rolled_back();
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

fn commit_batch(conn: &mut Connection, mut batch: Vec<Command>) -> Result<(), BatchError> {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(err) => return Err((err, batch)),
    };
    let mut results = Vec::with_capacity(batch.len());
    for command in &mut batch {
        let result = in_savepoint(&tx, |conn| command.run(conn));
        results.push(result.map_err(StoreError::from));
    }
    if let Err(err) = tx.commit() {
        return Err((err, batch));
    }
    counts::committed(batch.len());
    for (command, result) in batch.into_iter().zip(results) {
        command.finish(result);
    }
    Ok(())
}

/// Runs `work` in a savepoint of its own: if it fails, what it wrote is
/// undone and the rest of the batch goes on. The savepoint statements are
/// prepared once and reused (rusqlite's `savepoint()` parses two new
/// statements for every command, a cost paid per webhook).
fn in_savepoint(tx: &Connection, work: impl FnOnce(&Connection) -> rusqlite::Result<()>) -> rusqlite::Result<()> {
    tx.prepare_cached("SAVEPOINT command")?.execute([])?;
    let done = work(tx);
    if done.is_err() {
        tx.prepare_cached("ROLLBACK TO command")?.execute([])?;
    }
    tx.prepare_cached("RELEASE command")?.execute([])?;
    done
}

/// Locks `mutex` even if a thread panicked while holding it: what it guards
/// (the claims, the dedup window) stays consistent between calls.
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn fail_all(batch: Vec<Command>, err: &rusqlite::Error) {
    for command in batch {
        command.finish(Err(StoreError::from(clone_error(err))));
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

#[cfg(test)]
mod tests {
    use rusqlite::Connection;
    use tokio::sync::oneshot;

    use super::{Command, commit_batch, job};

    fn insert(value: i64, then_fail: bool) -> (Command, oneshot::Receiver<Result<(), super::StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let work = move |conn: &Connection| {
            conn.execute("INSERT INTO t (x) VALUES (?1)", [value])?;
            if then_fail {
                conn.execute("INSERT INTO missing (x) VALUES (1)", [])?;
            }
            Ok(())
        };
        (job(work, reply), answer)
    }

    #[test]
    fn a_failing_command_undoes_only_its_own_writes_batch_after_batch() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        for round in 0..2 {
            let base = round * 10;
            let (first, first_answer) = insert(base + 1, false);
            let (failing, failing_answer) = insert(base + 2, true);
            let (third, third_answer) = insert(base + 3, false);
            commit_batch(&mut conn, vec![first, failing, third])
                .map_err(|(err, _)| err)
                .unwrap();
            assert!(first_answer.blocking_recv().unwrap().is_ok());
            assert!(failing_answer.blocking_recv().unwrap().is_err());
            assert!(third_answer.blocking_recv().unwrap().is_ok());
        }
        let mut statement = conn.prepare("SELECT x FROM t ORDER BY x").unwrap();
        let stored: Vec<i64> = statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(stored, [1, 3, 11, 13]);
    }
}
