//! Building the daemon (listener, store, one delivery lane per channel)
//! and running it until a shutdown signal.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::config::Config;
use crate::deliver::senders;
use crate::outbox::{Lane, WorkerSettings};
use crate::store::{MemoryStore, SqliteStore, Store, StoreError};

use super::routes::routes;

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
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot listen on {addr}: {source} (is another syncwatch, or another program, using the port?)")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("channel {0}")]
    Channel(String),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// What the request handlers share.
pub struct AppState {
    /// The running configuration; a reload swaps the Arc, and requests in
    /// flight finish on the one they started with.
    config: RwLock<Arc<Config>>,
    pub store: Arc<Store>,
    /// One per channel, to wake its lane when deliveries are queued.
    wakers: HashMap<String, Arc<Notify>>,
}

impl AppState {
    pub fn config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn wake(&self, channels: &[String]) {
        for channel in channels {
            if let Some(waker) = self.wakers.get(channel) {
                waker.notify_one();
            }
        }
    }
}

pub struct App {
    listener: TcpListener,
    state: Arc<AppState>,
    lanes: Vec<Lane>,
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
        let store = Arc::new(if settings.in_memory {
            Store::Memory(MemoryStore::default())
        } else {
            Store::Sqlite(SqliteStore::open(&config.storage.path, settings.busy_timeout)?)
        });
        let mut wakers = HashMap::new();
        let mut lanes = Vec::new();
        for (name, sender) in senders(&config, settings.dry_run).map_err(BuildError::Channel)? {
            let waker = Arc::new(Notify::new());
            wakers.insert(name.clone(), waker.clone());
            lanes.push(Lane::new(name, sender, store.clone(), waker, settings.worker));
        }
        let state = Arc::new(AppState {
            config: RwLock::new(Arc::new(config)),
            store,
            wakers,
        });
        Ok(App {
            listener,
            state,
            lanes,
            settings,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then lets requests in flight
    /// finish and gives deliveries `shutdown_grace` to settle.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stop, stopped) = watch::channel(false);
        let lanes: Vec<_> = self
            .lanes
            .into_iter()
            .map(|lane| tokio::spawn(lane.run(stopped.clone())))
            .collect();
        let retention = self.state.config().storage.retention;
        let pruner = tokio::spawn(prune_periodically(
            self.state.store.clone(),
            retention,
            self.settings.prune_every,
            stopped.clone(),
        ));
        warp::serve(routes(self.state))
            .incoming(self.listener)
            .graceful(shutdown)
            .run()
            .await;
        let _ = stop.send(true);
        let _ = pruner.await;
        let drained = tokio::time::timeout(self.settings.shutdown_grace, futures_util::future::join_all(lanes)).await;
        if drained.is_err() {
            tracing::warn!("deliveries still running at the end of the shutdown grace period were stopped");
        }
    }
}

/// Removes events and settled deliveries older than `retention`, at start
/// and then every `every`, so the database does not grow without bound.
async fn prune_periodically(store: Arc<Store>, retention: Duration, every: Duration, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let cutoff = std::time::SystemTime::now() - retention;
        match store.prune(cutoff).await {
            Ok(pruned) if pruned.events + pruned.deliveries > 0 => {
                tracing::info!(
                    events = pruned.events,
                    deliveries = pruned.deliveries,
                    "pruned old records"
                )
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "pruning failed; will try again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}
