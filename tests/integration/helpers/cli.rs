//! Running the `syncwatch` binary as a user would, with fixtures and temporary rules files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// A rules file in a temporary directory that lives as long as the value.
pub struct RulesFile {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl RulesFile {
    pub fn new(text: &str) -> RulesFile {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("rules.yaml");
        std::fs::write(&path, text).expect("write rules");
        RulesFile { dir, path }
    }
}

/// Runs `syncwatch ARGS` with a clean environment plus `env`.
pub fn syncwatch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_syncwatch"));
    command.args(args).env_remove("SYNCWATCH_CONFIG");
    // What the caller's shell exported must not change what a test sees.
    for (name, _) in EXAMPLE_ENV {
        command.env_remove(name);
    }
    command.env_remove("RAILZ_BEARER_TOKEN");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run syncwatch")
}

/// Runs `syncwatch ARGS` off the async runtime, so that the stand-ins it
/// talks to (served by that runtime) can answer meanwhile.
pub async fn syncwatch_async(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        syncwatch(&args, &[])
    })
    .await
    .expect("the blocking task runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// What the example rules need to pass `check`.
pub const EXAMPLE_ENV: &[(&str, &str)] = &[
    ("RAILZ_SIGNING_SECRET", "example-signing-secret"),
    ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/XXXX"),
    ("SMTP_PASSWORD", "example-smtp-password"),
];
