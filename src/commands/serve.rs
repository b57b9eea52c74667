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
        let database = match in_memory {
            true => "memory (lost at exit)".to_owned(),
            false => super::database::Database::of(&config).to_string(),
        };
        let app = App::build(config, settings).await?;
        tracing::info!(addr = %app.addr(), config = %config_path.display(), database, dry_run, "syncwatch listening");
        tokio::spawn(reload_on_hangup(hangup, app.state(), config_path.to_owned()));
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

/// Each SIGHUP re-reads and validates the file: a good one replaces the
/// rules and channels at once, a broken one is logged and the running set
/// stays.
async fn reload_on_hangup(mut hangup: tokio::signal::unix::Signal, state: Arc<AppState>, path: PathBuf) {
    while hangup.recv().await.is_some() {
        systemd::reloading();
        let result = match load_file(&path) {
            Ok(config) => {
                let rules = config.rules.len();
                state.reload(config).await.map(|()| rules)
            }
            Err(errors) => Err(errors.to_string()),
        };
        state.metrics.reload(result.is_ok());
        match result {
            Ok(rules) => {
                tracing::info!(config = %path.display(), rules, "configuration reloaded");
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
