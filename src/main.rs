//! The `syncwatch` binary: parses the command line and calls the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use syncwatch::commands::{self, Database};
use syncwatch::config::{Config, load_file, load_file_for_replay, load_file_read_only};
use syncwatch::logging::{LineWriter, Paced};
use syncwatch::store::sqlite::audit::HistoryFilter;

/// glibc's malloc was a sixth of the CPU time of a webhook (parsing
/// allocates many small values); mimalloc halves that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long a log line may wait to be written with the ones after it.
const LOG_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);

const DEFAULT_CONFIG: &str = "/etc/syncwatch/rules.yaml";

#[derive(Parser)]
#[command(name = "syncwatch", version, about = "Alerts on Railz data-sync webhooks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as text (default) or as JSON objects.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct ConfigArg {
    /// The rules file. Accepted before or after a subcommand's own
    /// subcommand (`silence add ... --config F`), as operators type it.
    #[arg(long, short, global = true, env = "SYNCWATCH_CONFIG", default_value = DEFAULT_CONFIG)]
    config: PathBuf,
}

/// Where the database is: `--db`, or `storage.path` (or `storage.postgres`)
/// of the rules file.
#[derive(clap::Args)]
struct DatabaseArg {
    #[command(flatten)]
    config: ConfigArg,
    /// The database file; when given, the rules file is not read.
    #[arg(long, global = true)]
    db: Option<PathBuf>,
}

/// `-o json`: one JSON document with stable field names, for scripts.
#[derive(clap::Args)]
struct OutputArg {
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

impl OutputArg {
    fn format(&self) -> commands::Output {
        match self.output {
            OutputFormat::Text => commands::Output::Text,
            OutputFormat::Json => commands::Output::Json,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: receive webhooks and deliver notifications.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// Log each notification instead of sending it.
        #[arg(long)]
        dry_run: bool,
        /// Keep state in memory, not in storage.path: everything is lost on
        /// exit. Only for measuring what durability costs.
        #[arg(long, hide = true)]
        in_memory: bool,
    },
    /// Validate the rules file; exit 0 when valid, 1 with every error.
    Check(ConfigArg),
    /// Evaluate payload files: which rules fire and what each channel would
    /// receive, the payloads taken in order as one connection's story.
    /// With --cases, run rule tests over time. Sends nothing.
    Test {
        #[command(flatten)]
        config: ConfigArg,
        /// Rule tests (YAML): steps on a simulated clock, each posting
        /// payloads and expecting notifications. Exit 0 when all hold.
        #[arg(long, value_name = "FILE", conflicts_with = "payloads")]
        cases: Option<PathBuf>,
        /// Webhook bodies (JSON files) to evaluate.
        #[arg(required_unless_present = "cases")]
        payloads: Vec<PathBuf>,
    },
    /// Recent events and notifications, newest first (read-only; safe while
    /// the daemon runs).
    History {
        #[command(flatten)]
        database: DatabaseArg,
        /// Only this connection.
        #[arg(long)]
        connection: Option<String>,
        /// Only this rule.
        #[arg(long)]
        rule: Option<String>,
        /// Only notifications in this state.
        #[arg(long, value_parser = ["pending", "digested", "delivered", "failed", "expired", "dry_run", "held"])]
        status: Option<String>,
        /// At most this many of each.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        output: OutputArg,
    },
    /// The pending and firing alerts, one line each (read-only; safe while
    /// the daemon runs).
    Alerts {
        #[command(flatten)]
        database: DatabaseArg,
        /// Only alerts in this state.
        #[arg(long, value_parser = ["pending", "firing"])]
        state: Option<String>,
        #[command(flatten)]
        output: OutputArg,
    },
    /// The known connections: last event, last sync, status, firing
    /// alerts; `connections forget ID` forgets one.
    Connections {
        #[command(flatten)]
        database: DatabaseArg,
        /// Only connections in this state.
        #[arg(long, value_parser = commands::CONNECTION_STATES)]
        state: Option<String>,
        #[command(flatten)]
        output: OutputArg,
        #[command(subcommand)]
        action: Option<ConnectionsAction>,
    },
    /// Silences: keep matching alerts from notifying for a while, beside
    /// the running daemon (it sees them within a second).
    Silence {
        #[command(flatten)]
        database: DatabaseArg,
        #[command(subcommand)]
        action: SilenceAction,
    },
    /// Why an event did or did not notify, and every delivery attempt.
    Explain {
        #[command(flatten)]
        database: DatabaseArg,
        /// The Railz requestId of the event.
        request_id: String,
    },
    /// Print a Railz-Signature header for a payload file, signed with the
    /// first signing secret, to replay a payload by hand with curl.
    Sign {
        #[command(flatten)]
        config: ConfigArg,
        /// The webhook body (JSON file) to sign.
        payload: PathBuf,
    },
    /// Sign payload files as Railz would and post them to the configured
    /// endpoint (server.listen, server.path), one line per answer.
    Replay {
        #[command(flatten)]
        config: ConfigArg,
        /// Webhook bodies (JSON files).
        #[arg(required = true)]
        payloads: Vec<PathBuf>,
    },
    /// Send a test notification through one channel and show its answer.
    SendTest {
        #[command(flatten)]
        config: ConfigArg,
        /// The channel's name in rules.yaml.
        #[arg(long)]
        channel: String,
    },
    /// Copy the SQLite store (storage.path, or --db) into an empty
    /// PostgreSQL database, with the daemon stopped: events, alerts,
    /// connections, the queue, silences. Prints what it copied.
    Migrate {
        #[command(flatten)]
        database: DatabaseArg,
        /// The PostgreSQL URL to copy into (postgres://user:password@host/db);
        /// never printed with its password. `ps` shows arguments: prefer
        /// --to-file, or SYNCWATCH_MIGRATE_TO in the environment.
        #[arg(long)]
        to: Option<String>,
        /// A file holding the URL, as storage.postgres_file does.
        #[arg(long)]
        to_file: Option<PathBuf>,
        /// Copy even though the daemon's heartbeat is recent (it seems to
        /// be running).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum SilenceAction {
    /// Add a silence; prints its id.
    Add {
        /// Only alerts of this rule (`*` wildcards, as in rules).
        #[arg(long)]
        rule: Option<String>,
        #[arg(long)]
        connection: Option<String>,
        #[arg(long)]
        business: Option<String>,
        #[arg(long)]
        service: Option<String>,
        /// production or sandbox.
        #[arg(long, value_parser = ["production", "sandbox"])]
        environment: Option<String>,
        #[arg(long)]
        data_type: Option<String>,
        /// When a planned silence starts (RFC 3339: 2026-12-01T02:00Z);
        /// default now.
        #[arg(long, value_parser = commands::silence::parse_until)]
        start: Option<std::time::SystemTime>,
        /// For how long, from its start (2h, 1d).
        #[arg(long = "for", value_parser = parse_for, conflicts_with = "until", required_unless_present = "until")]
        duration: Option<std::time::Duration>,
        /// Until when (RFC 3339: 2026-12-01T09:00Z).
        #[arg(long, value_parser = commands::silence::parse_until)]
        until: Option<std::time::SystemTime>,
        /// Why: shown in `silence list`.
        #[arg(long, required = true)]
        comment: String,
    },
    /// The silences in force or to come.
    List {
        #[command(flatten)]
        output: OutputArg,
    },
    /// End a silence now.
    Expire { id: String },
}

fn parse_for(text: &str) -> Result<std::time::Duration, String> {
    syncwatch::config::parse_duration(text).ok_or_else(|| format!("`{text}` is not a duration (30s, 5m, 2h, 1d)"))
}

#[derive(Subcommand)]
enum ConnectionsAction {
    /// Forget a connection and its alerts until its next event.
    Forget {
        /// The connection id (connectionId or connectionUuid).
        id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Held until main returns: dropping it flushes the last log lines.
    // `test` prints its own report; the daemon's lines of the simulated
    // events would bury it (RUST_LOG=info shows them).
    let level = match cli.command {
        Command::Test { .. } => "warn",
        _ => "info",
    };
    let _log_writer = init_logging(cli.log_format, level);
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let result = match cli.command {
        Command::Serve {
            config,
            dry_run,
            in_memory,
        } => {
            return match commands::serve(&config.config, dry_run, in_memory) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("syncwatch: {error:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Check(args) => commands::check(&args.config, &mut out, &mut err),
        Command::Test {
            config,
            cases,
            payloads,
        } => with_config_from(load_file_read_only, &config, |loaded| match &cases {
            Some(cases) => commands::test_cases(loaded, cases, &mut out),
            None => commands::test_payloads(loaded, &payloads, &mut out),
        }),
        Command::History {
            database,
            connection,
            rule,
            status,
            limit,
            output,
        } => {
            let filter = HistoryFilter {
                connection,
                rule,
                status,
                limit,
            };
            with_database(&database, |path, _| {
                commands::history(path, &filter, output.format(), &mut out)
            })
        }
        Command::Alerts {
            database,
            state,
            output,
        } => with_database(&database, |path, config| {
            commands::alerts(path, state.as_deref(), config, output.format(), &mut out)
        }),
        Command::Connections {
            database,
            state,
            output,
            action,
        } => with_database(&database, |path, config| match action {
            Some(ConnectionsAction::Forget { id }) => commands::forget_connection(path, &id, config, &mut out),
            None => commands::connections(path, state.as_deref(), config, output.format(), &mut out),
        }),
        Command::Silence { database, action } => with_database(&database, |path, config| match action {
            SilenceAction::Add {
                rule,
                connection,
                business,
                service,
                environment,
                data_type,
                start,
                duration,
                until,
                comment,
            } => {
                let matchers = syncwatch::quiet::Matchers {
                    rule,
                    connection,
                    business,
                    service,
                    environment,
                    data_type,
                };
                let until = match (duration, until) {
                    (Some(duration), _) => commands::silence::Until::For(duration),
                    (None, Some(at)) => commands::silence::Until::At(at),
                    (None, None) => unreachable!("clap requires --for or --until"),
                };
                let request = commands::silence::Request {
                    matchers,
                    start,
                    until,
                    comment,
                };
                // An outage is silenced by its name, as a rule.
                let rules: Option<Vec<String>> = config.map(|c| {
                    let outages = c.outages.iter().map(|o| o.name().to_owned());
                    c.rules.iter().map(|r| r.name.clone()).chain(outages).collect()
                });
                commands::silence::add(path, request, rules.as_deref(), &mut out, &mut err)
            }
            SilenceAction::List { output } => commands::silence::list(path, output.format(), &mut out),
            SilenceAction::Expire { id } => commands::silence::expire(path, &id, &mut out, &mut err),
        }),
        Command::Explain { database, request_id } => with_database(&database, |path, config| {
            commands::explain(path, &request_id, config, &mut out)
        }),
        Command::Sign { config, payload } => {
            with_config(&config, |loaded| commands::sign(loaded, &payload, &mut out, &mut err))
        }
        Command::Replay { config, payloads } => with_config_from(load_file_for_replay, &config, |loaded| {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(commands::replay(loaded, &payloads, &mut out))
        }),
        Command::SendTest { config, channel } => with_config(&config, |loaded| {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(commands::send_test(loaded, &channel, &mut out))
        }),
        Command::Migrate {
            database,
            to,
            to_file,
            force,
        } => {
            let args = commands::MigrateArgs {
                db: database.db,
                config: database.config.config,
                to,
                to_file,
                force,
            };
            commands::migrate(&args, &mut out, &mut err)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        // `syncwatch test ... | head` closes the pipe early; that is not a failure.
        Err(io) if io.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(io) => {
            eprintln!("syncwatch: {io}");
            ExitCode::FAILURE
        }
    }
}

fn with_config(args: &ConfigArg, run: impl FnOnce(&Config) -> std::io::Result<u8>) -> std::io::Result<u8> {
    with_config_from(load_file, args, run)
}

/// As [`with_config`], with the loader that reads only the secrets the
/// command uses.
fn with_config_from(
    load: fn(&std::path::Path) -> Result<Config, syncwatch::config::ConfigErrors>,
    args: &ConfigArg,
    run: impl FnOnce(&Config) -> std::io::Result<u8>,
) -> std::io::Result<u8> {
    match load(&args.config) {
        Ok(config) => run(&config),
        Err(errors) => {
            eprintln!("{errors}");
            Ok(commands::EXIT_FAILED)
        }
    }
}

/// Runs `run` on the database path, with the config when it was read.
fn with_database(
    args: &DatabaseArg,
    run: impl FnOnce(&Database, Option<&Config>) -> std::io::Result<u8>,
) -> std::io::Result<u8> {
    if let Some(db) = &args.db {
        return run(
            &Database::Sqlite(db.clone()),
            load_file_read_only(&args.config.config).ok().as_ref(),
        );
    }
    match load_file_read_only(&args.config.config) {
        Ok(config) => run(&Database::of(&config), Some(&config)),
        Err(errors) => {
            eprintln!("{errors}");
            Ok(commands::EXIT_FAILED)
        }
    }
}

/// Lines on stderr; `RUST_LOG` (e.g. `syncwatch=debug`) changes the level.
/// Under journald (JOURNAL_STREAM set) the journal adds its own timestamps,
/// and reads each line's level from its `<N>` prefix.
/// Lines are written by a background thread, gathered for up to
/// `LOG_PAUSE` (see `Paced`), so a webhook never waits on a
/// write to the journal; when that thread falls behind, loggers wait rather
/// than drop lines.
fn init_logging(format: LogFormat, level: &str) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(Paced::new(std::io::stderr(), LOG_PAUSE));
    let escape = matches!(format, LogFormat::Text);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LineWriter::new(writer, journald, escape))
        .with_ansi(std::io::stderr().is_terminal());
    match (format, journald) {
        (LogFormat::Json, _) => builder.json().init(),
        (LogFormat::Text, true) => builder.without_time().init(),
        (LogFormat::Text, false) => builder.init(),
    }
    guard
}
