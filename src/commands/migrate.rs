//! `syncwatch migrate`: copies a SQLite store (events with their bodies,
//! alerts, known connections, the delivery queue with its attempts and
//! digests, silences, the status page's days, the heartbeat and clock
//! floor) into an empty PostgreSQL database, in one transaction: a
//! failure leaves the target as empty as it was.
//!
//! The SQLite file is read in one snapshot by a thread of its own while
//! the batches before go into PostgreSQL, 1,000 rows per statement. Rows
//! keep their ids (see `store::postgres::import`).

use std::collections::HashMap;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use crate::config::{Secret, load_file_read_only};
use crate::store::StoreError;
use crate::store::postgres::import;
use crate::store::sqlite::export::{Limits, Rows, Source, Table};

use super::{EXIT_FAILED, EXIT_OK};

/// What `syncwatch migrate` was given.
#[derive(Debug, Clone, Default)]
pub struct MigrateArgs {
    /// `--db`: the SQLite file; else the rules file's `storage.path`.
    pub db: Option<PathBuf>,
    /// `--config`: the rules file the daemon ran with.
    pub config: PathBuf,
    /// `--to`: the PostgreSQL URL (else `--to-file`, else [`TARGET_ENV`]).
    pub to: Option<String>,
    /// `--to-file`: a file holding the URL.
    pub to_file: Option<PathBuf>,
    /// `--force`: copy even though the daemon's heartbeat is recent.
    pub force: bool,
}

/// Rows per statement, and bytes of bodies (and messages) per statement:
/// a body may be as large as `server.max_body`.
const LIMITS: Limits = Limits {
    rows: 1_000,
    bytes: 16 << 20,
};

/// The daemon writes its heartbeat every 20 s while it runs: one younger
/// than this says it may still be running.
const RUNNING_WITHIN: Duration = Duration::from_secs(30);

/// A progress line at most this often within a large table.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// What the reading thread hands over.
enum Chunk {
    Rows(Rows),
    /// Every row of the table was handed over.
    End(Table),
    Failed(String),
    /// The read is over; `changed` when the file was written meanwhile.
    Finished {
        changed: bool,
    },
}

pub fn migrate(args: &MigrateArgs, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<u8> {
    let url = match target_url(args) {
        Ok(url) => url,
        Err(reason) => {
            writeln!(err, "syncwatch migrate: {reason}")?;
            return Ok(EXIT_FAILED);
        }
    };
    let shown = match shown_url(&url) {
        Ok(shown) => shown,
        Err(reason) => {
            writeln!(err, "syncwatch migrate: {reason}")?;
            return Ok(EXIT_FAILED);
        }
    };
    let (path, listen) = match source_path(args) {
        Ok(found) => found,
        Err(reason) => {
            writeln!(err, "syncwatch migrate: {reason}")?;
            return Ok(EXIT_FAILED);
        }
    };
    let source = match Source::open(&path) {
        Ok(source) => source,
        Err(reason) if !path.exists() => {
            writeln!(
                err,
                "syncwatch migrate: nothing to copy: {reason}; give the rules file the daemon ran with \
                 (--config, its storage.path) or the SQLite file (--db FILE)"
            )?;
            return Ok(EXIT_FAILED);
        }
        Err(reason) => {
            writeln!(err, "syncwatch migrate: {reason}")?;
            return Ok(EXIT_FAILED);
        }
    };
    let prepared = match prepare(&source, (args.force, listen), out) {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(refusal)) => {
            writeln!(err, "syncwatch migrate: {refusal}")?;
            return Ok(EXIT_FAILED);
        }
        Err(read) => {
            writeln!(err, "syncwatch migrate: cannot read {}: {read}", path.display())?;
            return Ok(EXIT_FAILED);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let copied = runtime.block_on(copy(source, prepared, &url, &shown, out));
    match copied {
        Ok(()) => Ok(EXIT_OK),
        Err(Stop::Refused(reason)) => {
            writeln!(err, "syncwatch migrate: {reason}")?;
            Ok(EXIT_FAILED)
        }
        Err(Stop::Io(io)) => Err(io),
    }
}

/// The environment variable that may hold the URL, when neither `--to`
/// nor `--to-file` is given.
pub const TARGET_ENV: &str = "SYNCWATCH_MIGRATE_TO";

/// The URL from `--to` or `--to-file`, else from [`TARGET_ENV`].
fn target_url(args: &MigrateArgs) -> Result<Secret, String> {
    let url = match (&args.to, &args.to_file) {
        (Some(_), Some(_)) => return Err("give --to or --to-file, not both".into()),
        (Some(url), None) => url.trim().to_owned(),
        (None, Some(file)) => std::fs::read_to_string(file)
            .map_err(|err| format!("cannot read --to-file {}: {err}", file.display()))?
            .trim()
            .to_owned(),
        (None, None) => match std::env::var(TARGET_ENV) {
            Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ => {
                return Err(format!(
                    "give the PostgreSQL database to copy into: --to-file FILE (a file holding its URL), \
                     --to URL, or {TARGET_ENV}"
                ));
            }
        },
    };
    // The value is never echoed: it may carry a password.
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("the target must be a URL starting with postgres:// or postgresql://".into());
    }
    Ok(Secret::new(url))
}

/// The target as it may be shown: user, hosts, ports and database, never
/// the password (nor any other parameter of the URL).
fn shown_url(url: &Secret) -> Result<String, String> {
    let config: tokio_postgres::Config = url
        .expose()
        .parse()
        .map_err(|err| format!("the target is not a valid PostgreSQL URL: {err}"))?;
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(n, host)| {
            let name = match host {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(dir) => dir.display().to_string(),
            };
            match ports.get(n).or(ports.first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let user = config.get_user().map(|user| format!("{user}@")).unwrap_or_default();
    let database = config.get_dbname().unwrap_or_default();
    Ok(format!("postgres://{user}{}/{database}", hosts.join(",")))
}

/// `--db`, or the `storage.path` of the rules file; with the daemon's
/// `server.listen` when the rules file could be read.
fn source_path(args: &MigrateArgs) -> Result<(PathBuf, Option<SocketAddr>), String> {
    if let Some(db) = &args.db {
        let listen = load_file_read_only(&args.config)
            .ok()
            .map(|config| config.server.listen);
        return Ok((db.clone(), listen));
    }
    let config = load_file_read_only(&args.config).map_err(|errors| errors.to_string())?;
    if config.storage.postgres.is_some() {
        return Err(format!(
            "{} names a PostgreSQL database (storage.postgres), not the SQLite file to copy: \
             give the rules file the daemon ran with on SQLite, or --db FILE",
            args.config.display()
        ));
    }
    Ok((config.storage.path, Some(config.server.listen)))
}

/// Whether something accepts connections at the daemon's listen address
/// (the daemon, most likely).
fn answers(listen: SocketAddr) -> bool {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// What was learnt of the source before the copy.
struct Prepared {
    counts: HashMap<Table, u64>,
    pending: u64,
    shared: HashMap<String, i64>,
}

/// Reads what the source holds and checks it can be copied now: the
/// daemon stopped (`--force` and its listen address help tell), no row
/// referring to one that is gone. `Ok(Err(_))` is a refusal.
fn prepare(
    source: &Source,
    (force, listen): (bool, Option<SocketAddr>),
    out: &mut dyn Write,
) -> rusqlite::Result<Result<Prepared, String>> {
    let path = source.path().display().to_string();
    let recent = source
        .heartbeat()?
        .map(|beat| SystemTime::now().duration_since(beat).unwrap_or_default())
        .filter(|age| *age < RUNNING_WITHIN);
    if let Some(age) = recent {
        let age = crate::config::format_duration(Duration::from_secs(age.as_secs()));
        match (force, listen) {
            (true, _) => {
                let _ = writeln!(
                    out,
                    "warning: syncwatch wrote its heartbeat {age} ago; copying anyway (--force)"
                );
            }
            // Stopped a moment ago: the heartbeat is fresh, the port closed.
            (false, Some(listen)) if !answers(listen) => {
                let _ = writeln!(
                    out,
                    "syncwatch wrote its heartbeat {age} ago, and nothing answers on {listen}: it has stopped"
                );
            }
            (false, listen) => {
                let answering = match listen {
                    Some(listen) => format!(" and something answers on {listen} (server.listen)"),
                    None => String::new(),
                };
                return Ok(Err(format!(
                    "syncwatch wrote its heartbeat into {path} {age} ago{answering}: the daemon seems to be \
                     running, and what it takes during the copy would not be copied. Stop it first \
                     (systemctl stop syncwatch). It writes a heartbeat every 20 s while it runs: this check \
                     passes once it has been stopped for {} s, or at once with the rules file it ran with \
                     (--config) when nothing answers on its server.listen. --force skips this check",
                    RUNNING_WITHIN.as_secs()
                )));
            }
        }
    }
    let broken = source.broken_references()?;
    if !broken.is_empty() {
        let list: Vec<String> = broken
            .iter()
            .map(|(table, parent, count)| format!("{count} rows of {table} refer to {parent} rows that are gone"))
            .collect();
        return Ok(Err(format!(
            "{path} is not consistent ({}); PostgreSQL would refuse those rows: nothing was copied",
            list.join("; ")
        )));
    }
    let counts: HashMap<Table, u64> = source.counts()?.into_iter().collect();
    let pending = source.pending()?;
    let shared = source.shared_dedup_keys()?;
    let _ = writeln!(
        out,
        "from {path}: {} ({pending} notifications pending)",
        listing(&counts)
    );
    if !shared.is_empty() {
        let _ = writeln!(
            out,
            "note: {} requestIds were received more than once, a day or more apart (after the 24-hour \
             dedup window); on PostgreSQL a requestId stays unique, so each earlier event keeps its requestId \
             but its dedup key becomes KEY#ID",
            shared.len()
        );
    }
    Ok(Ok(Prepared {
        counts,
        pending,
        shared,
    }))
}

enum Stop {
    /// Nothing was committed; the reason.
    Refused(String),
    Io(std::io::Error),
}

impl From<std::io::Error> for Stop {
    fn from(io: std::io::Error) -> Stop {
        Stop::Io(io)
    }
}

impl From<StoreError> for Stop {
    fn from(err: StoreError) -> Stop {
        Stop::Refused(format!("{}; nothing was committed", reason(err)))
    }
}

/// The store's message, without its "storage unavailable" prefix.
fn reason(err: StoreError) -> String {
    match err {
        StoreError::Unavailable(message) => message,
    }
}

async fn copy(source: Source, prepared: Prepared, url: &Secret, shown: &str, out: &mut dyn Write) -> Result<(), Stop> {
    let started = Instant::now();
    let (pool, version) = import::connect(url.expose())
        .await
        .map_err(|err| Stop::Refused(format!("cannot open {shown}: {}", reason(err))))?;
    let mut client = pool
        .get()
        .await
        .map_err(|err| Stop::Refused(format!("cannot open {shown}: {err}")))?;
    let tx = client
        .transaction()
        .await
        .map_err(|err| Stop::Refused(format!("cannot begin a transaction on {shown}: {err}")))?;
    let found = import::lock_and_count(&tx).await?;
    let held: Vec<String> = found
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(table, count)| match *count > import::COUNT_UP_TO {
            true => format!("over {} {}", import::COUNT_UP_TO, table.name()),
            false => format!("{count} {}", table.name()),
        })
        .collect();
    if !held.is_empty() {
        return Err(Stop::Refused(format!(
            "{shown} is not empty: it holds {}. migrate copies into an empty database only; \
             nothing was changed",
            held.join(", ")
        )));
    }
    writeln!(out, "into {shown} (schema version {version}, empty)")?;

    let (sender, mut receiver) = mpsc::channel(4);
    let shared = prepared.shared;
    let reader = std::thread::Builder::new()
        .name("syncwatch-migrate-read".into())
        .spawn(move || read(source, &shared, &sender))?;
    let mut copied: HashMap<Table, u64> = HashMap::new();
    let mut table_started = Instant::now();
    let mut last_line = Instant::now();
    let finished = loop {
        let Some(chunk) = receiver.recv().await else {
            break Err(Stop::Refused("the SQLite reader stopped; nothing was committed".into()));
        };
        match chunk {
            Chunk::Rows(rows) => {
                let table = rows.table();
                let written = import::insert(&tx, &rows).await?;
                let total = copied.entry(table).or_default();
                *total += written;
                if last_line.elapsed() >= PROGRESS_EVERY {
                    let of = prepared.counts.get(&table).copied().unwrap_or_default();
                    writeln!(out, "{}: {total} of {of} copied", table.name())?;
                    out.flush()?;
                    last_line = Instant::now();
                }
            }
            Chunk::End(table) => {
                let total = copied.get(&table).copied().unwrap_or_default();
                let seconds = table_started.elapsed().as_secs_f64();
                writeln!(out, "{}: {total} copied ({seconds:.1} s)", table.name())?;
                out.flush()?;
                table_started = Instant::now();
                last_line = Instant::now();
            }
            Chunk::Failed(reason) => break Err(Stop::Refused(format!("{reason}; nothing was committed"))),
            Chunk::Finished { changed: true } => {
                break Err(Stop::Refused(
                    "the SQLite file was written to during the copy (is the daemon still running?): \
                     what was copied may be out of date, so nothing was committed; stop the daemon and run this again"
                        .into(),
                ));
            }
            Chunk::Finished { changed: false } => break Ok(()),
        }
    };
    drop(receiver);
    let _ = reader.join();
    finished?;

    for table in Table::ALL {
        let want = prepared.counts.get(&table).copied().unwrap_or_default();
        let have = copied.get(&table).copied().unwrap_or_default();
        // meta may hold more: what a daemon once started on the target wrote.
        let stored = import::count(&tx, table).await?;
        if have != want || (table != Table::Meta && stored != want) {
            return Err(Stop::Refused(format!(
                "{} has {want} rows in the SQLite file, but {have} were written and the target holds {stored}; \
                 nothing was committed",
                table.name()
            )));
        }
    }
    let next = import::advance_sequences(&tx).await?;
    tx.commit()
        .await
        .map_err(|err| Stop::Refused(format!("the commit failed, nothing was copied: {err}")))?;

    let seconds = started.elapsed().as_secs_f64();
    let rows: u64 = copied.values().sum();
    writeln!(
        out,
        "copied {rows} rows in {seconds:.1} s ({:.0} rows/s): {}",
        rows as f64 / seconds.max(0.001),
        listing(&copied)
    )?;
    let next: Vec<String> = next
        .iter()
        .map(|(table, id)| format!("{} from {id}", table.name()))
        .collect();
    writeln!(
        out,
        "the {} pending notifications go out once syncwatch runs on PostgreSQL; new ids: {}",
        prepared.pending,
        next.join(", ")
    )?;
    writeln!(
        out,
        "next: point storage at the database (storage.postgres_file) in rules.yaml and start syncwatch; \
         keep the SQLite file until you no longer need to go back"
    )?;
    Ok(())
}

/// The reading thread: every table in order, then the end of the read.
fn read(source: Source, shared: &HashMap<String, i64>, sender: &mpsc::Sender<Chunk>) {
    let mut each = |rows: Rows| sender.blocking_send(Chunk::Rows(rows)).is_ok();
    for table in Table::ALL {
        let read = match table {
            Table::Events => source.events(shared, LIMITS, &mut each),
            Table::Deliveries => source.deliveries(LIMITS, &mut each),
            Table::Attempts => source.attempts(LIMITS, &mut each),
            Table::Alerts => source.alerts(LIMITS, &mut each),
            Table::Connections => source.connections(LIMITS, &mut each),
            Table::ConnectionDays => source.connection_days(LIMITS, &mut each),
            Table::Silences => source.silences(LIMITS, &mut each),
            Table::Meta => source.meta(LIMITS, &mut each),
            Table::SlackThreads => source.slack_threads(LIMITS, &mut each),
            Table::OutageMembers => source.outage_members(LIMITS, &mut each),
            Table::OutageStates => source.outage_states(LIMITS, &mut each),
            Table::ServiceHours => source.service_hours(LIMITS, &mut each),
        };
        let next = match read {
            Ok(()) => Chunk::End(table),
            Err(err) => Chunk::Failed(format!(
                "cannot read {} from {}: {err}",
                table.name(),
                source.path().display()
            )),
        };
        let failed = matches!(next, Chunk::Failed(_));
        if sender.blocking_send(next).is_err() || failed {
            return;
        }
    }
    let path = source.path().display().to_string();
    let finished = match source.finish() {
        Ok(changed) => Chunk::Finished { changed },
        Err(err) => Chunk::Failed(format!("cannot end the read of {path}: {err}")),
    };
    let _ = sender.blocking_send(finished);
}

/// `12 events, 3 deliveries, ...` in copy order.
fn listing(counts: &HashMap<Table, u64>) -> String {
    let parts: Vec<String> = Table::ALL
        .iter()
        .map(|table| format!("{} {}", counts.get(table).copied().unwrap_or_default(), table.name()))
        .collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::{MigrateArgs, shown_url, target_url};
    use crate::config::Secret;

    #[test]
    fn the_target_is_shown_without_its_password() {
        let shown = shown_url(&Secret::new(
            "postgres://sw:s3cret@db.example.com:5433/syncwatch?sslmode=require&password=other".into(),
        ))
        .unwrap();
        assert_eq!(shown, "postgres://sw@db.example.com:5433/syncwatch");
        let bad = shown_url(&Secret::new("postgres://sw:s3cret@db:notaport/x".into())).unwrap_err();
        assert!(!bad.contains("s3cret"), "{bad}");
    }

    #[test]
    fn the_url_comes_from_one_place_and_is_never_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("database-url");
        std::fs::write(&file, "postgres://sw:s3cret@db/syncwatch\n").unwrap();
        let args = MigrateArgs {
            to_file: Some(file.clone()),
            ..MigrateArgs::default()
        };
        assert_eq!(target_url(&args).unwrap().expose(), "postgres://sw:s3cret@db/syncwatch");
        let both = MigrateArgs {
            to: Some("postgres://db/x".into()),
            to_file: Some(file),
            ..MigrateArgs::default()
        };
        assert!(target_url(&both).is_err());
        let wrong = MigrateArgs {
            to: Some("mysql://root:hunter2@db/x".into()),
            ..MigrateArgs::default()
        };
        let reason = target_url(&wrong).unwrap_err();
        assert!(!reason.contains("hunter2"), "{reason}");
        assert!(target_url(&MigrateArgs::default()).is_err());
    }
}
