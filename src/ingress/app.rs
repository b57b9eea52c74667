//! Building the daemon (listener, store, shared state) and running it
//! until a shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::outbox::WorkerSettings;
use crate::store::{MemoryStore, PgStore, SqliteStore, Store, StoreError};

use super::background::{
    check_absence, follow_connections, heartbeat, plan_absence, prune_periodically, remind_periodically,
    resend_periodically, watch_silences,
};
use super::listener::{self, Limits};
use super::monitor::call_heartbeat;
use super::state::AppState;

/// Tuning that is not in rules.yaml: tests shorten the waits.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub worker: WorkerSettings,
    /// How long deliveries may go on after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Log messages instead of sending them (`serve --dry-run`).
    pub dry_run: bool,
    /// Keep state in memory instead of `storage.path`: lost on exit. For
    /// the benchmark that measures what durability costs.
    pub in_memory: bool,
    /// How long a write waits for a database locked by another process
    /// before the webhook is answered 503.
    pub busy_timeout: Duration,
    /// How often old events and settled deliveries are pruned.
    pub prune_every: Duration,
    /// How often state alerts (a lost connection, one that stopped
    /// syncing) are looked at for reminders and for the end of a silence
    /// that held them back.
    pub remind_every: Duration,
    /// Connection limits and timeouts of the HTTP side.
    pub limits: Limits,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            worker: WorkerSettings::default(),
            shutdown_grace: Duration::from_secs(10),
            dry_run: false,
            in_memory: false,
            busy_timeout: Duration::from_secs(5),
            prune_every: Duration::from_secs(3600),
            remind_every: Duration::from_secs(5),
            limits: Limits::default(),
        }
    }
}

/// On a shared database, the longest a lane sleeps before it looks for
/// messages left by an instance that died.
const SHARED_IDLE_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot listen on {addr}: {source} (is another syncwatch, or another program, using the port?)")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("channel {0}")]
    Channel(String),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

pub struct App {
    listener: TcpListener,
    state: Arc<AppState>,
    settings: Settings,
}

impl App {
    /// Binds `server.listen` (port 0 picks a free port) and prepares the
    /// store and one delivery lane per channel. Nothing runs yet.
    pub async fn build(config: Config, mut settings: Settings) -> Result<App, BuildError> {
        let addr = config.server.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| BuildError::Bind { addr, source })?;
        settings.worker.max_age = config.delivery.max_age;
        let starting = crate::systemd::starting("opening the database (a schema upgrade can take minutes)");
        // A dry run must leave the database as a real run would find it:
        // no dedup keys, no alert state, no queue marked "sent".
        let store = Arc::new(if settings.in_memory || settings.dry_run {
            Store::Memory(MemoryStore::default())
        } else if let Some(url) = &config.storage.postgres {
            // Other instances queue messages this one must take over if
            // they die: lanes look for them at least this often.
            settings.worker.idle_wait = settings.worker.idle_wait.min(SHARED_IDLE_WAIT);
            Store::Postgres(PgStore::open(url.expose(), config.storage.claim_lease).await?)
        } else {
            Store::Sqlite(SqliteStore::open(&config.storage.path, settings.busy_timeout)?)
        });
        let absence = Arc::new(plan_absence(&config, &store).await?);
        drop(starting);
        let state =
            AppState::new(config, store, absence, settings.worker, settings.dry_run).map_err(BuildError::Channel)?;
        Ok(App {
            listener,
            state: Arc::new(state),
            settings,
        })
    }

    /// The shared state, for reloading the configuration while running.
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes. Then, at once, no new request is
    /// accepted and no lane starts a new send; requests and sends in flight
    /// get `shutdown_grace` together to finish, so the whole stop stays
    /// within systemd's stop timeout. A send cut off stays pending and goes
    /// out after the restart.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        self.state.abandon_unknown_channels().await;
        self.state.close_unresolvable_alerts().await;
        let (stop, stopped) = watch::channel(false);
        let lanes = self.state.start_lanes(stopped.clone());
        let pruner = tokio::spawn(prune_periodically(
            self.state.clone(),
            self.settings.prune_every,
            stopped.clone(),
        ));
        let heartbeat = tokio::spawn(heartbeat(self.state.clone(), stopped.clone()));
        let monitor = tokio::spawn(call_heartbeat(self.state.clone(), stopped.clone()));
        let absence = tokio::spawn(check_absence(self.state.clone(), stopped.clone()));
        let silences = tokio::spawn(watch_silences(self.state.clone(), stopped.clone()));
        let reminders = tokio::spawn(remind_periodically(
            self.state.clone(),
            self.settings.remind_every,
            stopped.clone(),
        ));
        // Alertmanager's turns are looked at as often as reminders.
        let resends = tokio::spawn(resend_periodically(
            self.state.clone(),
            self.settings.remind_every,
            stopped.clone(),
        ));
        let follow = self
            .state
            .store
            .is_shared()
            .then(|| tokio::spawn(follow_connections(self.state.clone(), stopped.clone())));
        let signalled = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let grace = self.settings.shutdown_grace;
        listener::serve(
            self.listener,
            self.state.clone(),
            self.settings.limits,
            signalled,
            grace,
        )
        .await;
        let _ = tokio::join!(pruner, heartbeat, monitor, absence, silences, reminders, resends);
        if let Some(follow) = follow {
            let _ = follow.await;
        }
        // Lanes added by a reload are not in `lanes`; they stop on the same
        // signal, and the runtime's end collects them.
        let drained = tokio::time::timeout(grace, futures_util::future::join_all(lanes)).await;
        if drained.is_err() {
            tracing::warn!("deliveries still running at the end of the shutdown grace period were stopped");
        }
    }
}
