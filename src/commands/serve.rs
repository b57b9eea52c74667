//! `syncwatch serve`: the daemon, until SIGTERM or SIGINT.

use std::path::Path;

use anyhow::Context;

use crate::config::load_file;
use crate::ingress::{App, Settings};

pub fn serve(config_path: &Path, dry_run: bool, in_memory: bool) -> anyhow::Result<()> {
    let config = load_file(config_path).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let settings = Settings {
            dry_run,
            in_memory,
            ..Settings::default()
        };
        let app = App::build(config, settings).await?;
        tracing::info!(addr = %app.addr(), config = %config_path.display(), dry_run, "syncwatch listening");
        app.run(shutdown_signal()).await;
        tracing::info!("syncwatch stopped");
        Ok(())
    })
}

/// Completes on the first SIGTERM (systemd's stop) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: finishing requests and deliveries in flight"),
        _ = int.recv() => tracing::info!("SIGINT: finishing requests and deliveries in flight"),
    }
}
