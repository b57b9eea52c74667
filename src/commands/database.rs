//! Where the commands read and write: the SQLite file (`--db` or
//! `storage.path`) or the shared PostgreSQL database (`storage.postgres`),
//! behind the few operations the commands need.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::absence::KnownConnection;
use crate::alerts::AlertKey;
use crate::config::{Config, Secret};
use crate::lifecycle::AlertState;
use crate::lifecycle::{Closing, Sweep};
use crate::quiet::Silence;
use crate::status::OutageRow;
use crate::store::sqlite::audit::{self, EventRow, HistoryFilter, NotificationRow, StoredEvent};
use crate::store::sqlite::{alerts, connections, open_and_migrate, open_read_only, silences, status, sweep};
use crate::store::{PgStore, StoreError};

pub enum Database {
    Sqlite(PathBuf),
    Postgres(Secret),
}

type Alerts = Vec<(AlertKey, AlertState)>;

impl Database {
    /// The database `config` names.
    pub fn of(config: &Config) -> Database {
        match &config.storage.postgres {
            Some(url) => Database::Postgres(url.clone()),
            None => Database::Sqlite(config.storage.path.clone()),
        }
    }

    pub fn active_alerts(&self) -> Result<Alerts, String> {
        match self {
            Database::Sqlite(path) => sqlite(open_read_only(path).and_then(|conn| alerts::active_of(&conn, None))),
            Database::Postgres(url) => postgres(url, async |store| store.active_alerts().await),
        }
    }

    /// The outages firing now (each holds its service's new alerts).
    pub fn outages(&self) -> Result<Vec<OutageRow>, String> {
        match self {
            Database::Sqlite(path) => sqlite(open_read_only(path).and_then(|conn| status::firing_outages(&conn))),
            Database::Postgres(url) => postgres(url, async |store| {
                let filter = crate::status::Filter::default();
                Ok(store.status(&filter, &[], 0, SystemTime::now()).await?.outages)
            }),
        }
    }

    /// Every known connection, and the active alerts.
    pub fn connections(&self) -> Result<(Vec<KnownConnection>, Alerts), String> {
        match self {
            Database::Sqlite(path) => sqlite(
                open_read_only(path).and_then(|conn| Ok((connections::all(&conn)?, alerts::active_of(&conn, None)?))),
            ),
            Database::Postgres(url) => postgres(url, async |store| {
                Ok((store.connections().await?, store.active_alerts().await?))
            }),
        }
    }

    /// Forgets `id`, first closing its alerts when `config` can word the
    /// RESOLVED of each (queued for the daemon to send).
    pub fn forget_connection(&self, id: &str, config: Option<&Config>) -> Result<bool, String> {
        let closing = Closing::Connection(id.to_owned());
        let now = SystemTime::now();
        match self {
            Database::Sqlite(path) => {
                existing(path)?;
                sqlite(open_and_migrate(path, Duration::from_secs(5)).and_then(|mut conn| {
                    let tx = conn.transaction()?;
                    if let Some(config) = config {
                        sweep(&tx, config, &Sweep::Close(closing), now)?;
                    }
                    let forgotten = connections::forget(&tx, id)?;
                    tx.commit()?;
                    Ok(forgotten)
                }))
            }
            Database::Postgres(url) => postgres(url, async |store| {
                if let Some(config) = config {
                    store
                        .sweep(Arc::new(config.clone()), Sweep::Close(closing), now)
                        .await?;
                }
                store.forget_connection(id).await
            }),
        }
    }

    pub fn add_silence(&self, silence: &Silence) -> Result<(), String> {
        match self {
            Database::Sqlite(path) => {
                existing(path)?;
                sqlite(open_and_migrate(path, Duration::from_secs(5)).and_then(|conn| silences::add(&conn, silence)))
            }
            Database::Postgres(url) => postgres(url, async |store| store.add_silence(silence).await),
        }
    }

    /// Silences not yet over at `now`.
    pub fn silences(&self, now: SystemTime) -> Result<Vec<Silence>, String> {
        match self {
            Database::Sqlite(path) => {
                existing(path)?;
                sqlite(open_and_migrate(path, Duration::from_secs(5)).and_then(|conn| silences::current(&conn, now)))
            }
            Database::Postgres(url) => postgres(url, async |store| Ok(store.silences(now).await?.1)),
        }
    }

    pub fn expire_silence(&self, id: &str, now: SystemTime) -> Result<bool, String> {
        match self {
            Database::Sqlite(path) => {
                existing(path)?;
                sqlite(open_and_migrate(path, Duration::from_secs(5)).and_then(|conn| silences::expire(&conn, id, now)))
            }
            Database::Postgres(url) => postgres(url, async |store| store.expire_silence(id, now).await),
        }
    }

    pub fn history(&self, filter: &HistoryFilter) -> Result<(Vec<EventRow>, Vec<NotificationRow>), String> {
        match self {
            Database::Sqlite(path) => sqlite(open_read_only(path).and_then(|conn| {
                Ok((
                    audit::recent_events(&conn, filter)?,
                    audit::recent_notifications(&conn, filter)?,
                ))
            })),
            Database::Postgres(url) => postgres(url, async |store| store.history(filter).await),
        }
    }

    pub fn find_event(&self, request_id: &str) -> Result<Option<StoredEvent>, String> {
        match self {
            Database::Sqlite(path) => {
                sqlite(open_read_only(path).and_then(|conn| audit::find_event(&conn, request_id)))
            }
            Database::Postgres(url) => postgres(url, async |store| store.find_event(request_id).await),
        }
    }
}

/// The file's path, or the URL without its password.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            Database::Postgres(url) => f.write_str(&without_password(url.expose())),
        }
    }
}

fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_owned(),
    }
}

/// A command never creates the daemon's database: a silence written into
/// a new file beside the shell's working directory would silence nothing,
/// while the command said it did.
fn existing(path: &Path) -> Result<(), String> {
    match path.exists() {
        true => Ok(()),
        false => Err(
            "it does not exist (refusing to create one): `syncwatch serve` creates it at storage.path; \
             give the daemon's --config (or --db) so that this command reads and writes where the daemon does"
                .to_owned(),
        ),
    }
}

fn sqlite<T>(result: rusqlite::Result<T>) -> Result<T, String> {
    result.map_err(|err| err.to_string())
}

/// Runs `work` on a store connected for this one command.
fn postgres<T>(url: &Secret, work: impl AsyncFnOnce(&PgStore) -> Result<T, StoreError>) -> Result<T, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| err.to_string())?;
    runtime.block_on(async {
        let store = PgStore::open(url.expose(), Duration::from_secs(60))
            .await
            .map_err(|err| err.to_string())?;
        work(&store).await.map_err(|err| err.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn the_password_is_not_shown() {
        assert_eq!(
            without_password("postgres://sw:s3cret@db.example.com:5432/syncwatch"),
            "postgres://sw@db.example.com:5432/syncwatch"
        );
        assert_eq!(without_password("postgres://db/x"), "postgres://db/x");
    }
}
