//! `syncwatch serve`: the daemon, until SIGTERM or SIGINT; SIGHUP re-reads
//! the rules file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

use crate::config::{Config, load_file};
use crate::ingress::{App, AppState, Settings};
use crate::systemd;

pub fn serve(config_path: &Path, dry_run: bool, in_memory: bool) -> anyhow::Result<()> {
    let config = load_file(config_path).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let runtime = runtime().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let settings = Settings {
            dry_run,
            in_memory,
            ..Settings::default()
        };
        // Handlers first: a signal between READY=1 and here would kill us.
        let hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
        let shutdown = shutdown_signal()?;
        warn_if_open(&config);
        // The admin commands must find this same database: say which.
        // `--dry-run` keeps its state in memory too (see `App::build`).
        let database = match (in_memory, dry_run) {
            (true, _) => "memory (lost at exit)".to_owned(),
            (false, true) => "memory (--dry-run: the database is not touched)".to_owned(),
            (false, false) => super::database::Database::of(&config).to_string(),
        };
        let (rules, channels, windows) = (config.rules.len(), config.channels.len(), config.maintenance.len());
        let effective_dry_run = dry_run_mode(dry_run, &config);
        let app = App::build(config, settings).await?;
        tracing::info!(
            addr = %app.addr(),
            config = %config_path.display(),
            database,
            rules,
            channels,
            windows,
            dry_run = effective_dry_run.is_some(),
            dry_run_by = effective_dry_run,
            "syncwatch listening"
        );
        tokio::spawn(reload_on_hangup(hangup, app.state(), config_path.to_owned(), dry_run));
        systemd::spawn_watchdog();
        systemd::ready();
        app.run(shutdown).await;
        tracing::info!("syncwatch stopped");
        Ok(())
    })
}

/// The async runtime, with a bounded number of threads: one worker per CPU
/// would exceed the unit's `TasksMax` on a large host, and a webhook
/// daemon gains nothing from dozens of workers.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers(cpus))
        .max_blocking_threads(MAX_BLOCKING)
        .enable_all()
        .build()
}

fn workers(cpus: usize) -> usize {
    cpus.clamp(1, MAX_WORKERS)
}

/// Async workers at most.
pub const MAX_WORKERS: usize = 4;
/// Threads for blocking work (large payloads, SMTP name lookups) at most.
pub const MAX_BLOCKING: usize = 8;

/// Whether notifications are only logged, and what says so: the
/// `--dry-run` flag or the file's `delivery.dry_run` (either is enough,
/// as `deliver::senders` decides).
fn dry_run_mode(flag: bool, config: &Config) -> Option<&'static str> {
    match (flag, config.delivery.dry_run) {
        (true, _) => Some("--dry-run"),
        (false, true) => Some("delivery.dry_run"),
        (false, false) => None,
    }
}

/// Beyond loopback, without a signature or a token, anyone who can reach
/// the port can post events.
fn warn_if_open(config: &Config) {
    let security = &config.security;
    let unprotected = security.signing_secrets.is_empty() && security.bearer_token.is_none();
    if unprotected && !config.server.listen.ip().is_loopback() {
        tracing::warn!(
            listen = %config.server.listen,
            "listening beyond loopback with neither security.signing_secret nor security.bearer_token: anyone can post events"
        );
    }
}

/// Completes on the first SIGTERM (systemd's stop) or SIGINT (Ctrl-C).
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        systemd::stopping();
        tracing::info!(signal = name, "stopping: finishing requests and deliveries in flight");
    })
}

/// Said at each reload: what a reload cannot change.
const RELOAD_ENVIRONMENT: &str = "environment variables (${NAME} in rules.yaml) keep the values syncwatch started with: systemd does not pass a changed EnvironmentFile= to a running daemon, so restart to change them; `<key>_file` secrets, ca_file and templates were read again";

/// Each SIGHUP re-reads and validates the file: a good one replaces the
/// rules and channels at once, a broken one is logged and the running set
/// stays.
async fn reload_on_hangup(mut hangup: tokio::signal::unix::Signal, state: Arc<AppState>, path: PathBuf, flag: bool) {
    while hangup.recv().await.is_some() {
        systemd::reloading();
        let result = match load_file(&path) {
            Ok(config) => {
                let rules = config.rules.len();
                let mode = dry_run_mode(flag, &config);
                state.reload(config).await.map(|()| (rules, mode))
            }
            Err(errors) => Err(errors.to_string()),
        };
        state.metrics.reload(result.is_ok());
        match result {
            Ok((rules, mode)) => {
                tracing::info!(
                    config = %path.display(),
                    rules,
                    dry_run = mode.is_some(),
                    "configuration reloaded"
                );
                // systemd reads EnvironmentFile= for each command it starts
                // (ExecReload's `check` sees a new value) but never into the
                // running process; `load_file` reads each `_file` again.
                tracing::info!("{RELOAD_ENVIRONMENT}");
                systemd::reloaded("serving");
            }
            Err(errors) => {
                for line in errors.lines() {
                    tracing::error!(config = %path.display(), error = line, "reload rejected; the running rules stay");
                }
                systemd::reloaded("serving; last reload rejected, see the log");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_host_gets_a_bounded_number_of_workers() {
        assert_eq!(workers(64), MAX_WORKERS);
        assert_eq!(workers(2), 2);
        // With the writer, the log writer and the main thread, within the
        // unit's TasksMax=128 with room to spare.
        const { assert!(MAX_WORKERS + MAX_BLOCKING + 3 < 64) };
    }
}
