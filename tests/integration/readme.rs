//! The README's shell blocks, run as a reader would run them, with the
//! binary the tests built; and every relative link of the README and
//! `docs/` leading somewhere.
//!
//! Every ```sh / ```bash / ```console block of README.md and of the pages
//! of docs/ in `PAGES` has a verdict in `VERDICTS`, keyed by its page and
//! first line: a block without one, or a verdict whose block is gone, fails
//! the test, so a new command in the documentation is either run here or
//! skipped with a reason written down.
//!
//! What a run changes, and only that (see `rewrite`):
//! - `cargo run --release --` is the built `syncwatch` (first on `PATH`);
//! - `sudo` is dropped: the test owns the files the commands touch;
//! - `/etc/syncwatch` is a temporary folder holding a copy of
//!   `rules.example.yaml` (as the install step puts it there) and the env
//!   file, and `SYNCWATCH_CONFIG` points at its rules.yaml, the default
//!   `/etc/syncwatch/rules.yaml` of the commands given no `--config`;
//! - the commands run in a temporary folder shaped like a fresh clone
//!   (`examples/`, `tests/fixtures/`), in an empty environment;
//! - `127.0.0.1:9650` (the example files' `server.listen`) becomes a free
//!   port, in the files and in the blocks, since tests run side by side.
//!
//! A whole-line comment in a block that runs is output the reader is told
//! to expect: each must be a line of what the block printed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::helpers::{SlackStandIn, SmtpServer, client, eventually, free_port, repo_file};

/// What the test does with a block.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    /// Run it; it must exit 0 and print its expected lines.
    Run,
    /// Run it and expect these strings in its output too.
    RunExpecting(&'static [&'static str]),
    /// A daemon: started in the background (one command, `exec`uted),
    /// ready once `/healthz` answers, stopped at the end.
    Serve,
    /// Not run, for this reason.
    Skip(&'static str),
    /// Not run, for this reason; the test does what the block does, by
    /// other means, so that the blocks after it have what they need.
    Instead(&'static str, Stand),
}

/// What the test does in place of a block it cannot run.
#[derive(Debug, Clone, Copy)]
enum Stand {
    /// Writes the env file and points the example's channels at the local
    /// Slack and SMTP stand-ins, as the reader's editor would.
    EditSecretsAndChannels,
    /// Starts `syncwatch serve` as the unit does (the env file, and
    /// `STATE_DIRECTORY`), then posts the fixtures to it as Railz would.
    StartServiceAndPost,
}

/// The requestId of tests/fixtures/data-full.json.
const DATA_FULL: &str = "a3b4fc83-3e24-41aa-ba99-13cab09b0b7a";

/// The pages whose blocks are run, in the order a reader meets them. Pages
/// other changes own (benchmarks, fuzzing, receivers) have their own tests.
const PAGES: &[&str] = &[
    "README.md",
    "docs/rules.md",
    "docs/channels.md",
    "docs/lifecycle.md",
    "docs/operations.md",
    "docs/http.md",
    "docs/postgresql.md",
    "docs/troubleshooting.md",
    "docs/development.md",
    "docs/testing.md",
];

const BUILDS: Verdict = Verdict::Skip("builds or installs; the test uses the binary cargo built for it");
const SYSTEMD: Verdict = Verdict::Skip("systemctl needs systemd; the test stands in for the service");
const TUNNEL: Verdict = Verdict::Skip("an SSH tunnel to a remote host");
const ITSELF: Verdict = Verdict::Skip("this test is part of `cargo test`: it would run itself");

/// (page, the block's first line, verdict).
const VERDICTS: &[(&str, &str, Verdict)] = &[
    (
        "docs/testing.md",
        "syncwatch test --config rules.example.yaml examples/rule-tests/payloads/sync-bills-empty.json examples/rule-tests/payloads/sync-bills-empty.json",
        Verdict::RunExpecting(&["new → pending", "pending → firing, FIRING to ops-slack"]),
    ),
    (
        "docs/testing.md",
        "syncwatch test --config rules.example.yaml --cases examples/rule-tests/cases.yaml",
        Verdict::RunExpecting(&["4 cases: 4 passed, 0 failed"]),
    ),
    (
        "README.md",
        "cargo run --release -- serve --config examples/dev.yaml",
        Verdict::Serve,
    ),
    (
        "README.md",
        "cargo run --release -- replay --config examples/dev.yaml tests/fixtures/*.json",
        Verdict::Run,
    ),
    (
        "README.md",
        "cargo run --release -- test --config examples/dev.yaml tests/fixtures/data-full.json",
        Verdict::RunExpecting(&["matches production-sync-failed (critical) -> ops-slack"]),
    ),
    ("README.md", "cargo test", ITSELF),
    ("README.md", "cargo build --release --locked", BUILDS),
    (
        "README.md",
        "sudo install -m 600 /dev/null /etc/syncwatch/syncwatch.env",
        Verdict::Instead("sudoedit opens an editor", Stand::EditSecretsAndChannels),
    ),
    (
        "README.md",
        "sudo sh -c 'set -a; . /etc/syncwatch/syncwatch.env; syncwatch check --config /etc/syncwatch/rules.yaml'",
        Verdict::RunExpecting(&["rules.yaml: OK, 6 rules, 2 channels"]),
    ),
    (
        "README.md",
        "sudo sh -c 'set -a; . /etc/syncwatch/syncwatch.env; syncwatch send-test --config /etc/syncwatch/rules.yaml --channel ops-slack'",
        Verdict::RunExpecting(&[
            "ops-slack: test notification delivered",
            "finance-email: test notification delivered",
        ]),
    ),
    (
        "README.md",
        "sudo systemctl enable --now syncwatch",
        Verdict::Instead("systemctl and journalctl need systemd", Stand::StartServiceAndPost),
    ),
    (
        "README.md",
        "sudo syncwatch history --limit 10",
        Verdict::RunExpecting(&[DATA_FULL, "FIRING production-sync-failed"]),
    ),
    ("README.md", "ssh -N -L 9650:127.0.0.1:9650 alerts.example.com", TUNNEL),
    (
        "docs/lifecycle.md",
        "sudo syncwatch silence add --service quickbooks --for 2h --comment \"QuickBooks outage\"",
        Verdict::Skip("its ids are examples: `expire` takes the id that `add` printed"),
    ),
    (
        "docs/operations.md",
        "cargo install cargo-deb && cargo deb --strip  # builds target/debian/syncwatch_<version>_amd64.deb",
        BUILDS,
    ),
    ("docs/operations.md", "cargo build --release --locked", BUILDS),
    (
        "docs/operations.md",
        "sudoedit /etc/syncwatch/rules.yaml             # rules and channels",
        Verdict::Skip("sudoedit opens an editor; its check and send-test lines run from the README"),
    ),
    (
        "docs/operations.md",
        "sudo syncwatch alerts",
        Verdict::RunExpecting(&["production-sync-failed", DATA_FULL]),
    ),
    (
        "docs/operations.md",
        "ssh -N -L 9650:127.0.0.1:9650 alerts.example.com",
        TUNNEL,
    ),
    (
        "docs/operations.md",
        "sudo sqlite3 /var/lib/syncwatch/syncwatch.db \".backup /root/syncwatch-$(date +%F).db\"",
        Verdict::Skip("writes into /root with the sqlite3 shell, which the tests do not need"),
    ),
    (
        "docs/postgresql.md",
        "# on the database server, once, as its superuser",
        Verdict::Skip("creates a PostgreSQL role and database, then systemctl"),
    ),
    (
        "docs/postgresql.md",
        "sudo systemctl stop syncwatch            # the daemon must not run during the move",
        SYSTEMD,
    ),
    (
        "docs/troubleshooting.md",
        "sudo syncwatch history                       # recent events and notifications",
        Verdict::RunExpecting(&[
            "production-sync-failed/CON-0a4e97aa-7a77-bbbb-00aa-b1b1001aa00: new → firing, FIRING to ops-slack, finance-email",
        ]),
    ),
    (
        "docs/development.md",
        "cargo build --release          # the binary is target/release/syncwatch",
        BUILDS,
    ),
    ("docs/development.md", "cargo test", ITSELF),
];

/// A fenced block of a Markdown file.
struct Block {
    lang: String,
    text: String,
    /// 1-based line of the opening fence.
    line: usize,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<(String, usize, usize, Vec<String>)> = None;
    for (index, raw) in markdown.lines().enumerate() {
        let trimmed = raw.trim_start();
        let indent = raw.len() - trimmed.len();
        match open.take() {
            None => {
                if let Some(lang) = trimmed.strip_prefix("```") {
                    open = Some((lang.trim().to_owned(), indent, index + 1, Vec::new()));
                }
            }
            Some((lang, fence_indent, line, mut lines)) => {
                if trimmed == "```" {
                    found.push(Block {
                        lang,
                        text: lines.join("\n"),
                        line,
                    });
                } else {
                    // A block inside a list item is indented with it.
                    let cut = indent.min(fence_indent);
                    lines.push(raw[cut..].to_owned());
                    open = Some((lang, fence_indent, line, lines));
                }
            }
        }
    }
    assert!(open.is_none(), "an unclosed code fence");
    found
}

fn is_shell(lang: &str) -> bool {
    matches!(lang, "sh" | "bash" | "console" | "shell")
}

/// The commands of a block (a console block's `$ ` lines) and the output
/// lines it tells the reader to expect (whole-line comments; a console
/// block's other lines).
fn script_of(block: &Block) -> (String, Vec<String>) {
    let mut commands = Vec::new();
    let mut expected = Vec::new();
    for line in block.text.lines() {
        if block.lang == "console" {
            match line.strip_prefix("$ ") {
                Some(command) => commands.push(command.to_owned()),
                None if !line.trim().is_empty() => expected.push(line.trim().to_owned()),
                None => {}
            }
        } else if let Some(comment) = line.trim_start().strip_prefix("# ") {
            expected.push(comment.trim().to_owned());
        } else {
            commands.push(line.to_owned());
        }
    }
    (commands.join("\n"), expected)
}

/// The temporary machine the blocks run on.
struct Machine {
    /// Kept: the folders live as long as the machine.
    _root: tempfile::TempDir,
    /// `PATH`'s first folder: `syncwatch`.
    bin: PathBuf,
    /// The fresh clone the blocks run in.
    clone: PathBuf,
    /// What `/etc/syncwatch` is.
    etc: PathBuf,
    /// What `/var/lib/syncwatch` is.
    state: PathBuf,
    /// The port of examples/dev.yaml, and of /etc/syncwatch/rules.yaml.
    dev_port: u16,
    service_port: u16,
}

impl Machine {
    fn new() -> Machine {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("bin");
        let clone = root.path().join("clone");
        let etc = root.path().join("etc/syncwatch");
        let state = root.path().join("var/lib/syncwatch");
        for dir in [
            &bin,
            &clone.join("examples"),
            &clone.join("tests/fixtures"),
            &etc,
            &state,
        ] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_syncwatch"), bin.join("syncwatch")).unwrap();
        let (dev_port, service_port) = (free_port(), free_port());
        let dev = std::fs::read_to_string(repo_file("examples/dev.yaml")).unwrap();
        std::fs::write(clone.join("examples/dev.yaml"), with_port(&dev, dev_port)).unwrap();
        for entry in std::fs::read_dir(repo_file("tests/fixtures")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                std::fs::copy(&path, clone.join("tests/fixtures").join(path.file_name().unwrap())).unwrap();
            }
        }
        // docs/testing.md runs the shipped rule tests from the clone.
        std::fs::copy(repo_file("rules.example.yaml"), clone.join("rules.example.yaml")).unwrap();
        let rule_tests = clone.join("examples/rule-tests/payloads");
        std::fs::create_dir_all(&rule_tests).unwrap();
        std::fs::copy(
            repo_file("examples/rule-tests/cases.yaml"),
            clone.join("examples/rule-tests/cases.yaml"),
        )
        .unwrap();
        for entry in std::fs::read_dir(repo_file("examples/rule-tests/payloads")).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, rule_tests.join(path.file_name().unwrap())).unwrap();
        }
        // The install step: rules.example.yaml as /etc/syncwatch/rules.yaml.
        let example = std::fs::read_to_string(repo_file("rules.example.yaml")).unwrap();
        let example = replace_once(
            &with_port(&example, service_port),
            "/var/lib/syncwatch",
            &state.display().to_string(),
        );
        std::fs::write(etc.join("rules.yaml"), example).unwrap();
        Machine {
            _root: root,
            bin,
            clone,
            etc,
            state,
            dev_port,
            service_port,
        }
    }

    fn rules(&self) -> PathBuf {
        self.etc.join("rules.yaml")
    }

    /// The block's text as it runs here.
    fn rewrite(&self, script: &str) -> String {
        let port = |p: u16| format!("{p}:127.0.0.1:{p}");
        script
            .replace("cargo run --release -- ", "syncwatch ")
            .replace("sudo ", "")
            .replace("/etc/syncwatch", &self.etc.display().to_string())
            .replace(&port(9650), &port(self.dev_port))
    }

    /// A shell command in the clone, in an empty environment.
    fn command(&self, lang: &str, script: &str) -> Command {
        let shell = if lang == "bash" { "bash" } else { "sh" };
        let mut command = Command::new(shell);
        command
            .args(["-e", "-c", script])
            .current_dir(&self.clone)
            .env_clear()
            .env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display()))
            .env("SYNCWATCH_CONFIG", self.rules())
            .stdin(Stdio::null());
        command
    }

    /// The env file's variables, as systemd's `EnvironmentFile=` reads them.
    fn env_file(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(self.etc.join("syncwatch.env"))
            .expect("the env file was written")
            .lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (key, value) = line.split_once('=').unwrap();
                (key.to_owned(), value.to_owned())
            })
            .collect()
    }
}

fn with_port(text: &str, port: u16) -> String {
    replace_once(text, "listen: 127.0.0.1:9650", &format!("listen: 127.0.0.1:{port}"))
}

/// `text` with `from` replaced, which must be there: a change to the
/// example files that this test relies on fails here, not later.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "`{from}` is no longer in the file");
    text.replacen(from, to, 1)
}

/// A daemon started by the test; stopped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_ready(port: u16, running: &mut Running, what: &str) {
    let client = client();
    for _ in 0..400 {
        if client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok()
        {
            return;
        }
        if let Some(status) = running.0.try_wait().unwrap() {
            panic!("{what} exited with {status} before it answered /healthz");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what} did not answer /healthz within 10 s");
}

/// Runs a command off the async runtime that serves the stand-ins.
async fn output_of(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("the shell runs"))
        .await
        .unwrap()
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// What the reader's editor does at the env-file step: the secrets, and
/// the example's channels pointed at Slack and SMTP servers that exist.
fn edit_secrets_and_channels(machine: &Machine, slack: &SlackStandIn, smtp: &SmtpServer) {
    let env = format!(
        "RAILZ_SIGNING_SECRET=first-day-secret\nSLACK_WEBHOOK_URL={}\nSMTP_PASSWORD=first-day-password\n",
        slack.url()
    );
    std::fs::write(machine.etc.join("syncwatch.env"), env).unwrap();
    let mut rules = std::fs::read_to_string(machine.rules()).unwrap();
    for (from, to) in [
        ("host: smtp.example.com", "host: 127.0.0.1".to_owned()),
        ("port: 587", format!("port: {}", smtp.addr.port())),
        ("tls: starttls ", "tls: none ".to_owned()),
        // A relay on the host that needs no login.
        ("      username: alerts@example.com\n", String::new()),
        ("      password: ${SMTP_PASSWORD}\n", String::new()),
    ] {
        rules = replace_once(&rules, from, &to);
    }
    std::fs::write(machine.rules(), rules).unwrap();
}

/// What `systemctl enable --now` starts: `serve` with the env file and
/// `STATE_DIRECTORY`; then Railz's first webhooks.
async fn start_service(machine: &Machine) -> Running {
    let env = machine.env_file();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_syncwatch"));
    serve
        .args(["serve", "--config"])
        .arg(machine.rules())
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("STATE_DIRECTORY", &machine.state)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut running = Running(serve.spawn().unwrap());
    wait_ready(machine.service_port, &mut running, "the service").await;
    let mut replay = Command::new(env!("CARGO_BIN_EXE_syncwatch"));
    replay
        .args(["replay", "--config"])
        .arg(machine.rules())
        .arg(machine.clone.join("tests/fixtures/data-full.json"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)));
    let posted = output_of(replay).await;
    assert!(
        posted.status.success() && said(&posted).contains(r#"200 {"status":"accepted"}"#),
        "{}",
        said(&posted)
    );
    running
}

/// A shell block of a page, and its verdict.
struct Found<'a> {
    page: &'static str,
    block: Block,
    key: String,
    verdict: &'a Verdict,
}

impl Found<'_> {
    fn at(&self) -> String {
        format!("{}:{}", self.page, self.block.line)
    }
}

/// Every shell block of `PAGES`, each with its verdict; the verdicts all
/// still have their block.
fn found() -> Vec<Found<'static>> {
    let mut found = Vec::new();
    for page in PAGES {
        let text = std::fs::read_to_string(repo_file(page)).unwrap();
        for block in blocks(&text).into_iter().filter(|b| is_shell(&b.lang)) {
            let key = block.text.lines().next().unwrap_or_default().trim().to_owned();
            let verdict = VERDICTS
                .iter()
                .find(|(p, k, _)| p == page && *k == key)
                .map(|(_, _, v)| v)
                .unwrap_or_else(|| {
                    panic!(
                        "{page}:{}: a ```{} block starting `{key}` has no verdict: run it or skip it, with a reason, in VERDICTS",
                        block.line, block.lang
                    )
                });
            found.push(Found {
                page,
                block,
                key,
                verdict,
            });
        }
    }
    for (page, key, _) in VERDICTS {
        assert!(
            found.iter().any(|f| f.page == *page && f.key == *key),
            "no block of {page} starts with `{key}` any more: update VERDICTS"
        );
    }
    found
}

/// The blocks' run: the machine, the stand-ins, the daemons started.
struct Reader {
    machine: Machine,
    slack: SlackStandIn,
    smtp: SmtpServer,
    daemons: Vec<Running>,
    ran: Vec<String>,
    skipped: Vec<String>,
}

impl Reader {
    async fn follow(&mut self, found: &Found<'_>) {
        let (script, expected) = script_of(&found.block);
        let script = self.machine.rewrite(&script);
        let extra: &[&str] = match *found.verdict {
            Verdict::Skip(reason) => {
                self.skipped.push(format!("{} `{}`: {reason}", found.at(), found.key));
                return;
            }
            Verdict::Instead(reason, stand) => {
                let line = format!("{} `{}`: {reason} (done by the test instead)", found.at(), found.key);
                self.skipped.push(line);
                match stand {
                    Stand::EditSecretsAndChannels => edit_secrets_and_channels(&self.machine, &self.slack, &self.smtp),
                    Stand::StartServiceAndPost => self.daemons.push(start_service(&self.machine).await),
                }
                return;
            }
            Verdict::Serve => return self.serve(found, &script).await,
            Verdict::Run => &[],
            Verdict::RunExpecting(strings) => strings,
        };
        let output = output_of(self.machine.command(&found.block.lang, &script)).await;
        let printed = said(&output);
        let at = found.at();
        assert!(
            output.status.success(),
            "{at}: the block failed ({}):\n{script}\n---\n{printed}",
            output.status
        );
        for line in &expected {
            assert!(
                printed.lines().any(|l| l.trim() == line),
                "{at}: the page says it prints `{line}`; it printed:\n{printed}"
            );
        }
        for wanted in extra {
            assert!(printed.contains(wanted), "{at}: expected `{wanted}` in:\n{printed}");
        }
        self.ran.push(format!("{at} `{}`", found.key));
    }

    /// A daemon block: started in the background, `exec`uted so that
    /// stopping the shell stops it.
    async fn serve(&mut self, found: &Found<'_>, script: &str) {
        assert_eq!(
            script.lines().count(),
            1,
            "{}: a daemon block is one command",
            found.at()
        );
        let mut command = self.machine.command(&found.block.lang, &format!("exec {script}"));
        let mut running = Running(command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
        wait_ready(self.machine.dev_port, &mut running, &found.at()).await;
        self.daemons.push(running);
        self.ran.push(format!("{} `{}`", found.at(), found.key));
    }
}

#[tokio::test]
async fn every_shell_block_of_the_readme_and_the_docs_runs_as_written_or_is_skipped_for_a_reason() {
    let found = found();
    let mut reader = Reader {
        machine: Machine::new(),
        slack: SlackStandIn::start().await,
        smtp: SmtpServer::start(),
        daemons: Vec::new(),
        ran: Vec::new(),
        skipped: Vec::new(),
    };
    for block in &found {
        reader.follow(block).await;
    }
    // The send-tests reached the stand-ins, and the service told Slack of
    // the sync that failed, through the env file's webhook URL.
    assert!(!reader.smtp.accepted().is_empty(), "the email send-test");
    let slack = &reader.slack;
    let told = || (slack.delivered().iter()).any(|message| message.to_string().contains("production-sync-failed"));
    assert!(
        eventually(Duration::from_secs(10), told).await,
        "{:#?}",
        slack.delivered()
    );
    assert!(reader.ran.len() >= 8, "ran: {:#?}", reader.ran);
    println!(
        "ran:\n  {}\nskipped:\n  {}",
        reader.ran.join("\n  "),
        reader.skipped.join("\n  ")
    );
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces
/// as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings, outside code blocks.
fn anchors(markdown: &str) -> Vec<String> {
    let mut in_code = false;
    let mut found = Vec::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            found.push(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

/// The relative link targets of a Markdown file, outside code blocks.
fn links(markdown: &str) -> Vec<(usize, String)> {
    let mut in_code = false;
    let mut found = Vec::new();
    for (index, line) in markdown.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            let target = &after[..end];
            if !target.contains("://") && !target.starts_with("mailto:") {
                found.push((index + 1, target.to_owned()));
            }
            rest = &after[end..];
        }
    }
    found
}

/// Pages other changes bring; linked to before they arrive.
const COMING: &[&str] = &["docs/testing.md", "docs/receivers.md"];

#[test]
fn every_relative_link_of_the_readme_and_the_docs_leads_somewhere() {
    let root = repo_file("");
    let mut pages = vec![repo_file("README.md")];
    for entry in std::fs::read_dir(repo_file("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        let name = page.strip_prefix(&root).unwrap().display().to_string();
        for (line, target) in links(&text) {
            let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let file: PathBuf = if path.is_empty() {
                page.clone()
            } else {
                normalise(&page.parent().unwrap().join(path))
            };
            let relative = file.strip_prefix(&root).map(Path::to_path_buf).unwrap_or(file.clone());
            if !file.exists() {
                if !COMING.iter().any(|c| Path::new(c) == relative) {
                    broken.push(format!("{name}:{line}: {target}: no such file"));
                }
                continue;
            }
            if !fragment.is_empty() && file.extension().is_some_and(|e| e == "md") {
                let headings = anchors(&std::fs::read_to_string(&file).unwrap());
                if !headings.iter().any(|h| h == fragment) {
                    broken.push(format!("{name}:{line}: {target}: no such heading"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
