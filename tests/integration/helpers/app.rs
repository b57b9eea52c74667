//! The daemon in-process on port 0, its database in a temporary directory,
//! with short retry waits so that tests of backoff take milliseconds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use syncwatch::config::{Secret, load_str};
use syncwatch::ingress::{App, Settings};
use syncwatch::outbox::{Backoff, WorkerSettings};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestApp {
    pub addr: SocketAddr,
    /// Holds the database; removed when the TestApp is dropped.
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    pub path: String,
    /// Dropping it (with the TestApp) stops the app.
    stop: oneshot::Sender<()>,
    /// The running daemon's state, for reloads.
    state: std::sync::Arc<syncwatch::ingress::AppState>,
    /// Where it listens and stores: what a reload keeps.
    storage: syncwatch::config::Storage,
    task: JoinHandle<()>,
}

/// Fast settings: retries after 50 ms doubling to 400 ms, Slack pacing 10 ms.
pub fn fast_settings() -> Settings {
    Settings {
        worker: WorkerSettings {
            backoff: Backoff {
                base: Duration::from_millis(50),
                cap: Duration::from_millis(400),
            },
            slack_interval: Duration::from_millis(10),
            idle_wait: Duration::from_millis(200),
            ..WorkerSettings::default()
        },
        shutdown_grace: Duration::from_secs(2),
        busy_timeout: Duration::from_millis(200),
        remind_every: Duration::from_millis(200),
        ..Settings::default()
    }
}

/// Starts the app on `rules_yaml`, with `server.listen` forced to port 0
/// and the database in a new temporary directory.
pub async fn spawn_app(rules_yaml: &str) -> TestApp {
    spawn_app_with(rules_yaml, fast_settings()).await
}

pub async fn spawn_app_with(rules_yaml: &str, settings: Settings) -> TestApp {
    spawn_app_in(tempfile::tempdir().unwrap(), rules_yaml, settings).await
}

/// Where a test app keeps its state.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A SQLite file in the app's temporary directory.
    Sqlite,
    /// A database on the test PostgreSQL server, which several apps may share.
    Postgres(String),
}

impl Backend {
    /// A new, empty database on the test PostgreSQL server.
    pub fn postgres() -> Backend {
        Backend::Postgres(super::postgres::postgres_url())
    }
}

/// Starts the app on `backend`.
pub async fn spawn_app_on(backend: &Backend, rules_yaml: &str, settings: Settings) -> TestApp {
    spawn(tempfile::tempdir().unwrap(), backend, rules_yaml, settings).await
}

/// Starts the app with its database in `dir`, as a restart would.
pub async fn spawn_app_in(dir: tempfile::TempDir, rules_yaml: &str, settings: Settings) -> TestApp {
    spawn(dir, &Backend::Sqlite, rules_yaml, settings).await
}

async fn spawn(dir: tempfile::TempDir, backend: &Backend, rules_yaml: &str, settings: Settings) -> TestApp {
    syncwatch::deliver::install_crypto_provider();
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("debug")
            .try_init();
    }
    let mut config = load_str(rules_yaml, Path::new("rules.yaml"), &|_| None).expect("test rules are valid");
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.storage.path = database(&dir);
    if let Backend::Postgres(url) = backend {
        config.storage.postgres = Some(Secret::new(url.clone()));
        config.storage.claim_lease = Duration::from_secs(2);
    }
    let path = config.server.path.clone();
    let storage = config.storage.clone();
    let app = App::build(config, settings).await.expect("app builds");
    let addr = app.addr();
    let state = app.state();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    TestApp {
        addr,
        dir,
        client: super::client::client(),
        path,
        stop,
        task,
        state,
        storage,
    }
}

pub fn database(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("syncwatch.db")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the app as SIGTERM would and waits for it; returns the
    /// directory of its database for a restart.
    pub async fn stop(self) -> tempfile::TempDir {
        let _ = self.stop.send(());
        let _ = self.task.await;
        self.dir
    }

    pub async fn post_webhook(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url(&self.path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the app answers")
    }

    /// Posts and returns the status and the JSON answer.
    pub async fn post_json(&self, body: impl Into<reqwest::Body>) -> (u16, serde_json::Value) {
        let response = self.post_webhook(body).await;
        let status = response.status().as_u16();
        let json = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    /// Posts and asserts the event was accepted (200).
    pub async fn post_ok(&self, body: impl Into<reqwest::Body>) {
        let (status, answer) = self.post_json(body).await;
        assert_eq!(status, 200, "{answer}");
    }

    /// The `/metrics` page as text.
    /// `/api/status` (with `query`, e.g. `?q=con-1`) as JSON.
    pub async fn status(&self, query: &str) -> serde_json::Value {
        let url = self.url(&format!("/api/status{query}"));
        self.client.get(url).send().await.unwrap().json().await.unwrap()
    }

    /// Reloads the daemon with `rules_yaml` (its listener and storage
    /// kept), as SIGHUP does.
    pub async fn reload(&self, rules_yaml: &str) {
        let mut config = load_str(rules_yaml, Path::new("rules.yaml"), &|_| None).expect("test rules are valid");
        config.storage = self.storage.clone();
        self.state.reload(config).await.expect("the reload is accepted");
    }

    pub async fn metrics(&self) -> String {
        let response = self.client.get(self.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    }

    pub async fn readyz(&self) -> u16 {
        let response = self.client.get(self.url("/readyz")).send().await.unwrap();
        response.status().as_u16()
    }

    /// The page at `path` as headless Chromium shows it, after its script ran.
    pub async fn dom(&self, path: &str) -> String {
        let url = self.url(path);
        tokio::task::spawn_blocking(move || {
            let output = std::process::Command::new("chromium")
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--virtual-time-budget=5000",
                    "--dump-dom",
                    &url,
                ])
                .output()
                .expect("chromium runs (apt-get install chromium; .ci/run installs it)");
            String::from_utf8_lossy(&output.stdout).into_owned()
        })
        .await
        .unwrap()
    }
}

/// The files SQLite keeps for the database at `path` (WAL mode).
pub fn database_files(path: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", path.display())))
        .filter(|p| p.exists())
        .collect()
}
