//! `syncwatch send-test` and `syncwatch serve` as processes.

use std::time::Duration;

use crate::helpers::{RulesFile, SlackReply, SlackStandIn, SmtpServer, eventually, stderr, stdout, syncwatch_async};

fn rules_for(slack: &SlackStandIn, smtp: &SmtpServer) -> RulesFile {
    RulesFile::new(&format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\" }}\n  mail:\n    email: {{ host: 127.0.0.1, port: {}, tls: none, from: a@example.com, to: b@example.com }}\n",
        slack.url(),
        smtp.addr.port()
    ))
}

/// Runs the blocking binary off the async runtime that serves the stand-ins.
fn args(rules: &RulesFile, channel: &str) -> Vec<String> {
    [
        "send-test",
        "--config",
        rules.path.to_str().unwrap(),
        "--channel",
        channel,
    ]
    .map(String::from)
    .to_vec()
}

#[tokio::test]
async fn send_test_delivers_a_marked_test_message_to_slack() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let rules = rules_for(&slack, &smtp);
    let output = syncwatch_async(args(&rules, "ops")).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("ops: test notification delivered (200 ok)"),
        "{}",
        stdout(&output)
    );
    let message = slack.delivered()[0].to_string();
    assert!(
        message.contains("TEST notification sent by `syncwatch send-test`"),
        "{message}"
    );
}

#[tokio::test]
async fn send_test_delivers_an_email() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let rules = rules_for(&slack, &smtp);
    let output = syncwatch_async(args(&rules, "mail")).await;
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("mail: test notification delivered (250"),
        "{}",
        stdout(&output)
    );
    assert!(
        smtp.accepted()[0]
            .text()
            .contains("Subject: [syncwatch] INFO syncwatch-test")
    );
}

#[tokio::test]
async fn send_test_reports_the_channels_refusal_and_exits_1() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    slack.script(&[SlackReply::status(410, "channel_is_archived")]);
    let rules = rules_for(&slack, &smtp);
    let output = syncwatch_async(args(&rules, "ops")).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("ops: not delivered, permanent failure (fix the channel): 410 channel_is_archived"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn send_test_names_the_channels_when_the_name_is_wrong() {
    let (slack, smtp) = (SlackStandIn::start().await, SmtpServer::start());
    let rules = rules_for(&slack, &smtp);
    let output = syncwatch_async(args(&rules, "pager")).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("no channel is named `pager` (defined: mail, ops)"),
        "{}",
        stdout(&output)
    );
}

#[tokio::test]
async fn serve_on_a_taken_port_fails_with_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let rules = RulesFile::new(&format!(
        "server:\n  listen: 127.0.0.1:{port}\nstorage:\n  path: /nonexistent/never-opened.db\n"
    ));
    let output = syncwatch_async(
        ["serve", "--config", rules.path.to_str().unwrap()]
            .map(String::from)
            .to_vec(),
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}: Address already in use")),
        "{err}"
    );
}

#[tokio::test]
async fn serve_runs_the_example_flow_and_stops_on_sigterm() {
    let slack = SlackStandIn::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let state = tempfile::tempdir().unwrap();
    let rules = RulesFile::new(&format!(
        "server:\n  listen: 127.0.0.1:{port}\nstorage:\n  path: {}/db\nchannels:\n  ops:\n    slack: {{ webhook_url: \"{}\" }}\ndefaults:\n  notify: [ops]\nrules:\n  - name: failed\n    when: {{ failed: {{ above: 0 }} }}\n",
        state.path().display(),
        slack.url()
    ));
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_syncwatch"))
        .args(["serve", "--config", rules.path.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = crate::helpers::client();
    let url = format!("http://127.0.0.1:{port}/webhooks/railz");
    let body = std::fs::read(crate::helpers::fixture("data-full.json")).unwrap();
    let mut answered = false;
    for _ in 0..100 {
        if let Ok(response) = client.post(&url).body(body.clone()).send().await {
            assert_eq!(response.status().as_u16(), 200);
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "the daemon never answered");
    assert!(eventually(Duration::from_secs(10), || slack.delivered().len() == 1).await);
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("event received") && log.contains("notification sent"),
        "{log}"
    );
    assert!(
        !log.contains("/services/T000/B000/XXXX"),
        "the webhook URL is a secret: {log}"
    );
}

#[tokio::test]
async fn send_test_renders_the_channels_template() {
    let slack = SlackStandIn::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("slack.j2"), "our own words: {{ state }} {{ rule }}").unwrap();
    let rules = RulesFile::new(&format!(
        "channels:\n  ops:\n    slack: {{ webhook_url: \"{}\", template: {} }}\n",
        slack.url(),
        dir.path().join("slack.j2").display()
    ));
    let output = syncwatch_async(args(&rules, "ops")).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = slack.texts()[0].clone();
    assert!(text.starts_with("our own words: FIRING "), "{text}");
}
