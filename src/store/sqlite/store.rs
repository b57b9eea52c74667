//! [`SqliteStore`]: the writer thread for writes, pooled reader
//! connections for reads, and the claims of the delivery lanes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, SystemTime};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::super::model::{Delivery, Ingest, IngestOutcome, Pruned, Settle, StoreError};
use super::open::{self, open_and_migrate};
use super::read;
use super::writer::{Command, Reply, Writer};

pub struct SqliteStore {
    path: PathBuf,
    /// To the writer thread; dropping the store ends it.
    commands: Mutex<mpsc::Sender<Command>>,
    /// Idle reader connections, reused so a read does not reopen the file.
    readers: Mutex<Vec<Connection>>,
    /// Deliveries handed to a worker and not settled yet.
    claimed: Mutex<HashSet<u64>>,
}

impl SqliteStore {
    /// Opens (creating and migrating) the database and starts the writer.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<SqliteStore, StoreError> {
        let conn = open_and_migrate(path, busy_timeout)
            .map_err(|err| StoreError::Unavailable(format!("cannot open the database {}: {err}", path.display())))?;
        let (commands, receiver) = mpsc::channel();
        let writer = Writer {
            path: path.to_owned(),
            busy_timeout,
        };
        std::thread::Builder::new()
            .name("syncwatch-db-writer".into())
            .spawn(move || writer.run(conn, receiver))
            .map_err(|err| StoreError::Unavailable(format!("cannot start the database writer: {err}")))?;
        Ok(SqliteStore {
            path: path.to_owned(),
            commands: Mutex::new(commands),
            readers: Mutex::new(Vec::new()),
            claimed: Mutex::new(HashSet::new()),
        })
    }

    async fn send<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let sent = lock(&self.commands).send(command(reply));
        if sent.is_err() {
            return Err(StoreError::Unavailable("the database writer has stopped".into()));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the database writer has stopped".into())))
    }

    fn read<T>(&self, query: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let conn = match lock(&self.readers).pop() {
            Some(conn) => conn,
            None => open::open_reader(&self.path)?,
        };
        let result = query(&conn);
        // A connection that failed may be broken; let it go.
        if result.is_ok() {
            lock(&self.readers).push(conn);
        }
        Ok(result?)
    }

    pub fn seen(&self, dedup_key: &str) -> Result<bool, StoreError> {
        self.read(|conn| read::seen(conn, dedup_key))
    }

    pub async fn ingest(&self, ingest: Ingest) -> Result<IngestOutcome, StoreError> {
        self.send(|reply| Command::Ingest {
            ingest: Box::new(ingest),
            reply,
        })
        .await
    }

    /// Gives back a claim without settling it: the row is due again.
    pub fn release(&self, id: u64) {
        lock(&self.claimed).remove(&id);
    }

    pub fn claim_next(&self, channel: &str, now: SystemTime) -> Result<Option<Delivery>, StoreError> {
        let mut claimed = lock(&self.claimed);
        let next = self.read(|conn| read::next_unclaimed(conn, channel, now, &claimed))?;
        if let Some(delivery) = &next {
            claimed.insert(delivery.id);
        }
        Ok(next)
    }

    pub fn pending_count(&self) -> Result<u64, StoreError> {
        self.read(read::pending_count)
    }

    pub fn next_due(&self, channel: &str) -> Result<Option<SystemTime>, StoreError> {
        self.read(|conn| read::next_due(conn, channel))
    }

    pub async fn settle(&self, id: u64, settle: Settle) -> Result<(), StoreError> {
        let at = SystemTime::now();
        self.send(|reply| Command::Settle { id, settle, at, reply }).await?;
        lock(&self.claimed).remove(&id);
        Ok(())
    }

    pub async fn abandon(&self, known: Vec<String>) -> Result<Vec<(String, u64)>, StoreError> {
        let at = SystemTime::now();
        self.send(|reply| Command::Abandon { known, at, reply }).await
    }

    pub async fn prune(&self, cutoff: SystemTime) -> Result<Pruned, StoreError> {
        self.send(|reply| Command::Prune { cutoff, reply }).await
    }

    /// Writes a probe row: true when the database takes writes now.
    pub async fn is_ready(&self) -> bool {
        self.send(|reply| Command::Probe { reply }).await.is_ok()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
