//! `syncwatch send-test`: one clearly marked test message through one
//! channel, and the channel's answer.

use std::io::Write;
use std::time::SystemTime;

use crate::config::{ChannelKind, Config};
use crate::deliver::{EmailSender, Outcome, Sender, SlackSender, install_crypto_provider};
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
    let message = message_for(&found.kind, &test_facts());
    let built = match &found.kind {
        ChannelKind::Slack(slack) => SlackSender::new(slack).map(|s| (Sender::Slack(s), message)),
        ChannelKind::Email(email) => EmailSender::new(email).map(|s| (Sender::Email(s), message)),
    };
    let (sender, message) = match built {
        Ok(built) => built,
        Err(reason) => {
            writeln!(out, "{channel}: cannot set up the channel: {reason}")?;
            return Ok(EXIT_FAILED);
        }
    };
    match sender.send(&message).await {
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
