//! The `syncwatch serve` process, for tests that need a real process: a
//! kill -9, a restart, signals.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Daemon {
    child: Child,
    pub port: u16,
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Daemon {
    /// Starts `syncwatch serve` and waits until `/healthz` answers.
    pub async fn start(config: &Path, port: u16) -> Daemon {
        Daemon::spawn(config, port, Stdio::null(), &[]).await
    }

    /// Like `start`, with stderr (the log) written to `log` and more
    /// environment variables.
    pub async fn start_logging(config: &Path, port: u16, log: &Path, env: &[(&str, &str)]) -> Daemon {
        let file = std::fs::File::create(log).unwrap();
        Daemon::spawn(config, port, Stdio::from(file), env).await
    }

    async fn spawn(config: &Path, port: u16, output: Stdio, env: &[(&str, &str)]) -> Daemon {
        let child = Command::new(env!("CARGO_BIN_EXE_syncwatch"))
            .args(["serve", "--config", config.to_str().unwrap()])
            // Debug level: the secrets test checks the most verbose output.
            .env("RUST_LOG", "debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(output)
            .spawn()
            .expect("syncwatch starts");
        let daemon = Daemon { child, port };
        let client = super::client::client();
        for _ in 0..200 {
            if client.get(daemon.url("/healthz")).send().await.is_ok() {
                return daemon;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("syncwatch did not answer /healthz within 5 s");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGKILL: no shutdown, no flush, as in a crash or an OOM kill.
    pub fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends a signal by name (`HUP`, `TERM`).
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        Command::new("kill").args([&format!("-{name}"), &pid]).status().unwrap();
    }

    /// SIGTERM, then waits for the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        self.signal("TERM");
        self.child.wait().unwrap().code()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
