//! `syncwatch send-test`: one clearly marked test message through one
//! channel, and the channel's answer (for a Slack app, `auth.test` first,
//! and what to do about Slack's error).

use std::io::Write;
use std::time::SystemTime;

use crate::config::Config;
use crate::deliver::{Outcome, Sender, SlackAnswer, SlackAppSender, install_crypto_provider};
use crate::event::Event;
use crate::render::{Alert, Facts, message_for};
use crate::rules::{Condition, Environment, Evidence, Rule, Severity};

use super::{EXIT_FAILED, EXIT_OK};

pub async fn send_test(config: &Config, channel: &str, out: &mut dyn Write) -> std::io::Result<u8> {
    let Some(found) = config.channels.get(channel) else {
        let names: Vec<&str> = config.channels.keys().map(String::as_str).collect();
        writeln!(out, "no channel is named `{channel}` (defined: {})", names.join(", "))?;
        return Ok(EXIT_FAILED);
    };
    install_crypto_provider();
    // As the channel would word a real alert: its template applied, if it
    // has one (the built-in message when the template fails, as the daemon
    // does).
    let facts = test_facts().linked(config.server.public_url.as_deref());
    let message = message_for(&found.kind, &facts);
    let sender = match Sender::of(&found.kind) {
        Ok(sender) => sender,
        Err(reason) => {
            writeln!(out, "{channel}: cannot set up the channel: {reason}")?;
            return Ok(EXIT_FAILED);
        }
    };
    if let Sender::SlackApp(app) = &sender
        && let Some(code) = check_slack_token(app, channel, out).await?
    {
        return Ok(code);
    }
    // A test is no delivery of the queue: an id of its own, so a webhook
    // receiver that drops duplicates never drops the next test.
    match sender.send(&message, fastrand::u64(1 << 40..)).await {
        Outcome::Delivered { detail } => {
            writeln!(out, "{channel}: test notification delivered ({detail})")?;
            Ok(EXIT_OK)
        }
        Outcome::Transient { reason, .. } => {
            writeln!(
                out,
                "{channel}: not delivered, temporary failure (the daemon would retry): {reason}"
            )?;
            Ok(EXIT_FAILED)
        }
        Outcome::Permanent { reason } => {
            writeln!(
                out,
                "{channel}: not delivered, permanent failure (fix the channel): {reason}"
            )?;
            Ok(EXIT_FAILED)
        }
        Outcome::NotSent { reason } => {
            writeln!(out, "{channel}: not sent ({reason}): delivery.dry_run is on")?;
            Ok(EXIT_FAILED)
        }
    }
}

/// A Slack app's `auth.test`: which app and workspace the token is,
/// or why it does not work and what to do. `Some(exit code)` when it
/// does not work, so no message is tried.
async fn check_slack_token(app: &SlackAppSender, channel: &str, out: &mut dyn Write) -> std::io::Result<Option<u8>> {
    match app.auth_test().await {
        SlackAnswer::Ok(who) => {
            let name = |key: &str| who[key].as_str().unwrap_or("?").to_owned();
            writeln!(
                out,
                "{channel}: the token works: app user {} in workspace {}",
                name("user"),
                name("team")
            )?;
            Ok(None)
        }
        // Slack's own trouble (5xx, rate limits) says nothing of the token:
        // the daemon would retry; so may the operator.
        SlackAnswer::Failed {
            outcome: Outcome::Transient { reason, .. },
            ..
        } => {
            writeln!(
                out,
                "{channel}: auth.test failed for now, Slack is in trouble or busy (the daemon retries such answers): {reason}; try again in a minute"
            )?;
            Ok(Some(EXIT_FAILED))
        }
        SlackAnswer::Failed { outcome, .. } => {
            let reason = match outcome {
                Outcome::Transient { reason, .. } | Outcome::Permanent { reason } | Outcome::NotSent { reason } => {
                    reason
                }
                Outcome::Delivered { detail } => detail,
            };
            writeln!(out, "{channel}: auth.test failed, the token does not work: {reason}")?;
            Ok(Some(EXIT_FAILED))
        }
    }
}

/// A message that cannot be mistaken for a real alert.
fn test_facts() -> Facts {
    let rule = Rule {
        name: "syncwatch-test".into(),
        runbook: None,
        description: Some(
            "TEST notification sent by `syncwatch send-test`: nothing failed, this only checks the channel.".into(),
        ),
        when: Condition::All(Vec::new()),
        severity: Severity::Info,
        notify: Vec::new(),
        repeat_interval: std::time::Duration::ZERO,
        after: 1,
        resolve_after: 1,
        send_resolved: false,
        absence: None,
    };
    let event = Event {
        event: Some("test".into()),
        business_name: Some("TEST (no real business)".into()),
        connection_id: Some("CON-test".into()),
        service: Some("test".into()),
        request_id: Some("send-test".into()),
        ..Event::default()
    };
    let evidence = Evidence::default();
    Facts::gather(&Alert {
        rule: &rule,
        event: &event,
        evidence: &evidence,
        environment: Environment::Production,
        received_at: SystemTime::now(),
    })
}
