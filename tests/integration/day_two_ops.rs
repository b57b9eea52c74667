//! Day-two surprises, as an operator meets them: an SMTP server that does
//! not match the channel's settings, a reload after editing the secrets,
//! the start line of a dry run, and `sign` used with curl.

use std::net::{IpAddr, TcpListener};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use mailin_embedded::response::{AUTH_OK, OK};
use mailin_embedded::{AuthMechanism, Handler, Response, Server, SslConfig};

use crate::helpers::{
    Daemon, RulesFile, SlackStandIn, SmtpServer, database, eventually, fixture, free_port, spawn_app, stderr, stdout,
    sync, syncwatch_async,
};

const WAIT: Duration = Duration::from_secs(10);

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// An email channel `mail` to `127.0.0.1:port` (or `localhost`, for a
/// certificate) with the given extra keys, and a rule that notifies it.
fn email_rules(host: &str, port: u16, extra: &str) -> String {
    format!(
        "channels:\n  mail:\n    email:\n      host: {host}\n      port: {port}\n{extra}      from: a@example.com\n      to: ops@example.com\ndefaults:\n  notify: [mail]\nrules:\n  - name: bills-failing\n    when: {{ failed: {{ above: 0 }} }}\n"
    )
}

async fn send_test(rules: &RulesFile) -> std::process::Output {
    syncwatch_async(owned(&[
        "send-test",
        "--config",
        rules.path.to_str().unwrap(),
        "--channel",
        "mail",
    ]))
    .await
}

const NO_STARTTLS: &str = "STARTTLS is not supported on this server";

#[tokio::test]
async fn a_server_without_starttls_is_a_permanent_error_said_once_with_what_to_change() {
    let smtp = SmtpServer::start(); // offers no STARTTLS
    let port = smtp.addr.port();
    let rules = RulesFile::new(&email_rules("127.0.0.1", port, "      tls: starttls\n"));
    let output = send_test(&rules).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let said = stdout(&output);
    assert!(
        said.contains(&format!(
            "mail: not delivered, permanent failure (fix the channel): {NO_STARTTLS}: port {port} offers no STARTTLS: use `tls: none` on a trusted network, or `tls: tls` if the server takes TLS from the first byte (usually port 465)"
        )),
        "{said}"
    );
    assert_eq!(said.matches(NO_STARTTLS).count(), 1, "the error is said once: {said}");
    assert!(!said.contains("internal client error"), "{said}");
    assert_eq!(smtp.attempts(), 0, "nothing was sent in the clear");
}

#[tokio::test]
async fn the_daemon_gives_up_at_once_on_a_server_without_starttls() {
    let smtp = SmtpServer::start();
    let app = spawn_app(&email_rules("127.0.0.1", smtp.addr.port(), "      tls: starttls\n")).await;
    assert_eq!(app.post_json(sync("CON-1", "no-starttls", "failed")).await.0, 200);
    let db = database(&app.dir);
    let history = || async {
        stdout(&syncwatch_async(owned(&["history", "--db", db.to_str().unwrap(), "--status", "failed"])).await)
    };
    let mut failed = String::new();
    for _ in 0..100 {
        failed = history().await;
        if failed.contains("FIRING bills-failing -> mail") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        failed.contains("attempts 1"),
        "settled as failed on the first attempt: {failed}"
    );
    // Retries start after 50 ms in these tests: a transient error would
    // have been tried again several times by now.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let later = history().await;
    assert!(later.contains("attempts 1"), "not retried: {later}");
    assert_eq!(later.matches(NO_STARTTLS).count(), 1, "{later}");
    assert!(later.contains("use `tls: none` on a trusted network"), "{later}");
}

/// Accepts any login; the server offers AUTH only once the session is
/// encrypted, as most submission servers do.
#[derive(Clone)]
struct Submission;

impl Handler for Submission {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        OK
    }

    fn auth_plain(&mut self, _authorization_id: &str, _authentication_id: &str, _password: &str) -> Response {
        AUTH_OK
    }
}

/// A server with STARTTLS (a certificate for `localhost` from the test CA)
/// that offers AUTH PLAIN after it only.
fn submission_server() -> u16 {
    syncwatch::deliver::install_crypto_provider();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut server = Server::new(Submission);
    server
        .with_name("smtp.test")
        .with_ssl(SslConfig::SelfSigned {
            cert_path: format!("{dir}/smtp.pem"),
            key_path: format!("{dir}/smtp.key"),
        })
        .unwrap()
        .with_auth(AuthMechanism::Plain)
        .with_tcp_listener(listener);
    // The server blocks its thread forever; the test process ends it.
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    port
}

#[tokio::test]
async fn a_login_without_tls_where_auth_needs_starttls_says_to_use_starttls_and_that_works() {
    let port = submission_server();
    let login = "      username: alerts@example.com\n      password: pw\n";
    let plain = RulesFile::new(&email_rules("localhost", port, &format!("      tls: none\n{login}")));
    let output = send_test(&plain).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let said = stdout(&output);
    let mechanism = "No compatible authentication mechanism was found";
    assert!(
        said.contains(&format!(
            "permanent failure (fix the channel): {mechanism}: the server offers no AUTH before encryption (most offer it only after STARTTLS): use `tls: starttls` (or `tls: tls` on port 465), or drop username/password if it needs no login"
        )),
        "{said}"
    );
    assert_eq!(said.matches(mechanism).count(), 1, "{said}");

    // What the message says to do.
    let ca = format!(
        "      ca_file: {}/tests/fixtures/tls/ca.pem\n",
        env!("CARGO_MANIFEST_DIR")
    );
    let fixed = RulesFile::new(&email_rules(
        "localhost",
        port,
        &format!("      tls: starttls\n{ca}{login}"),
    ));
    let output = send_test(&fixed).await;
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("mail: test notification delivered (250"),
        "{}",
        stdout(&output)
    );
}

fn slack_rules(port: u16, state: &Path, webhook_file: &Path) -> String {
    format!(
        "server:\n  listen: 127.0.0.1:{port}\nstorage:\n  path: {}/db\nchannels:\n  ops:\n    slack: {{ webhook_url_file: {}, min_interval: 0s }}\n  env:\n    slack: {{ webhook_url: \"${{SYNCWATCH_TEST_WEBHOOK}}\", min_interval: 0s }}\ndefaults:\n  notify: [ops]\nrules:\n  - name: bills-failing\n    when: {{ failed: {{ above: 0 }} }}\n",
        state.display(),
        webhook_file.display()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_reads_secret_files_again_and_says_the_environment_is_kept() {
    let (before, after) = (SlackStandIn::start().await, SlackStandIn::start().await);
    let state = tempfile::tempdir().unwrap();
    let webhook = state.path().join("webhook-url");
    std::fs::write(&webhook, format!("{}\n", before.url())).unwrap();
    let port = free_port();
    let rules = RulesFile::new(&slack_rules(port, state.path(), &webhook));
    let log = state.path().join("log");
    let env = [("SYNCWATCH_TEST_WEBHOOK", "http://127.0.0.1:9/unused")];
    let daemon = Daemon::start_logging(&rules.path, port, &log, &env).await;
    let read = || std::fs::read_to_string(&log).unwrap();

    std::fs::write(&webhook, format!("{}\n", after.url())).unwrap();
    daemon.signal("HUP");
    assert!(eventually(WAIT, || read().contains("configuration reloaded")).await);
    assert!(eventually(WAIT, || read().contains("restart to change them")).await);
    let text = read();
    assert!(
        text.contains(
            "environment variables (${NAME} in rules.yaml) keep the values syncwatch started with: systemd does not pass a changed EnvironmentFile= to a running daemon, so restart to change them; `<key>_file` secrets, ca_file and templates were read again"
        ),
        "{text}"
    );

    // What the line says of `_file` holds: the new URL is used.
    let response = crate::helpers::client()
        .post(daemon.url("/webhooks/railz"))
        .body(sync("CON-1", "after-reload", "failed"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(eventually(WAIT, || after.delivered().len() == 1).await);
    assert!(before.received().is_empty(), "the old webhook URL is no longer used");
    assert_eq!(daemon.terminate(), Some(0));
}

/// Runs `syncwatch serve` with `args` until it logs its start line, then
/// stops it; returns that line.
async fn start_line(rules: &str, args: &[&str]) -> String {
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let text = format!(
        "server:\n  listen: 127.0.0.1:{port}\nstorage:\n  path: {}/db\n{rules}",
        state.path().display()
    );
    let file = RulesFile::new(&text);
    let log = state.path().join("log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_syncwatch"))
        .args(["serve", "--config", file.path.to_str().unwrap()])
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let started = eventually(WAIT, || read().contains("syncwatch listening")).await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(started, "{}", read());
    let text = read();
    text.lines()
        .find(|line| line.contains("syncwatch listening"))
        .unwrap()
        .to_owned()
}

const CHANNEL_AND_RULE: &str = "channels:\n  ops:\n    slack: { webhook_url: \"http://127.0.0.1:9/h\" }\ndefaults:\n  notify: [ops]\nrules:\n  - name: bills-failing\n    when: { failed: { above: 0 } }\n";

#[tokio::test(flavor = "multi_thread")]
async fn the_start_line_says_dry_run_when_the_file_or_the_flag_asks_for_it() {
    let by_file = start_line(&format!("delivery:\n  dry_run: true\n{CHANNEL_AND_RULE}"), &[]).await;
    assert!(by_file.contains("dry_run=true"), "{by_file}");
    assert!(by_file.contains("dry_run_by=\"delivery.dry_run\""), "{by_file}");
    assert!(
        by_file.contains("/db"),
        "delivery.dry_run keeps state as usual: {by_file}"
    );
    assert!(
        by_file.contains("rules=1") && by_file.contains("channels=1") && by_file.contains("windows=0"),
        "{by_file}"
    );

    let by_flag = start_line(CHANNEL_AND_RULE, &["--dry-run"]).await;
    assert!(by_flag.contains("dry_run=true"), "{by_flag}");
    assert!(by_flag.contains("dry_run_by=\"--dry-run\""), "{by_flag}");
    assert!(
        by_flag.contains("database=\"memory"),
        "--dry-run keeps state in memory: {by_flag}"
    );

    let real = start_line(CHANNEL_AND_RULE, &[]).await;
    assert!(real.contains("dry_run=false"), "{real}");
    assert!(!real.contains("dry_run_by"), "{real}");
}

#[tokio::test]
async fn sign_prints_a_header_line_that_curl_posts_as_is() {
    let app = spawn_app("security:\n  signing_secret: whsec-ops\n").await;
    let rules = RulesFile::new("security:\n  signing_secret: whsec-ops\n");
    let payload = fixture("data-full.json");
    let output = syncwatch_async(owned(&[
        "sign",
        "--config",
        rules.path.to_str().unwrap(),
        payload.to_str().unwrap(),
    ]))
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let line = stdout(&output);
    let header = line.trim_end();
    assert!(header.starts_with("Railz-Signature: t="), "{line}");
    assert!(header.contains(",v="), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");

    // docs/operations.md's line: curl -H "$(syncwatch sign ...)" --data-binary @payload.json URL
    let mut curl = Command::new("curl");
    curl.args([
        "-sS",
        "-H",
        header,
        "-H",
        "Content-Type: application/json",
        "--data-binary",
    ])
    .arg(format!("@{}", payload.display()))
    .arg(app.url(&app.path));
    // Off the runtime that serves the app.
    let curl = tokio::task::spawn_blocking(move || curl.output()).await.unwrap();
    let answer = match curl {
        Ok(curl) => String::from_utf8_lossy(&curl.stdout).into_owned(),
        // Without curl, the same request as curl sends it.
        Err(_) => {
            let (name, value) = header.split_once(": ").unwrap();
            let response = app
                .client
                .post(app.url(&app.path))
                .header(name, value)
                .header("content-type", "application/json")
                .body(std::fs::read(&payload).unwrap())
                .send()
                .await
                .unwrap();
            response.text().await.unwrap()
        }
    };
    assert_eq!(answer.trim(), r#"{"status":"accepted"}"#);
}
