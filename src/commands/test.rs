//! `syncwatch test`: evaluate payload files against the rules and print
//! what would be sent on each channel, sending nothing.

use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::config::{ChannelKind, Config, EmailChannel};
use crate::event::{Event, parse_event};
use crate::render::{Alert, EmailMessage, Facts, Template, TemplateUse, preview_for};
use crate::rules::{Environment, Match, explain};
use crate::store::Message;

use super::describe::event_lines;
use super::{EXIT_FAILED, EXIT_OK};

/// Returns 1 when a payload cannot be read or parsed, after trying them all.
pub fn test_payloads(config: &Config, payloads: &[PathBuf], out: &mut dyn Write) -> std::io::Result<u8> {
    let mut code = EXIT_OK;
    for path in payloads {
        writeln!(out, "== {}", path.display())?;
        let body = match std::fs::read(path) {
            Ok(body) => body,
            Err(err) => {
                writeln!(out, "cannot read the file: {err}\n")?;
                code = EXIT_FAILED;
                continue;
            }
        };
        match parse_event(&body) {
            Ok(event) => report(config, &event, out)?,
            Err(err) => {
                writeln!(out, "not a Railz event: {err}\n")?;
                code = EXIT_FAILED;
            }
        }
    }
    Ok(code)
}

fn report(config: &Config, event: &Event, out: &mut dyn Write) -> std::io::Result<()> {
    let environment = Environment::of(event, config.defaults.missing_sandbox);
    describe_event(event, environment, out)?;
    let verdicts = explain(&config.rules, event, config.defaults.missing_sandbox);
    for verdict in &verdicts {
        match verdict {
            Ok(m) if m.rule.notify.is_empty() => {
                writeln!(out, "FIRES   {} ({}), record only", m.rule.name, m.rule.severity)?
            }
            Ok(m) => writeln!(
                out,
                "FIRES   {} ({}) -> {}",
                m.rule.name,
                m.rule.severity,
                m.rule.notify.join(", ")
            )?,
            Err(miss) => writeln!(out, "no      {}: {}", miss.rule.name, miss.reason)?,
        }
    }
    let received_at = SystemTime::now();
    for matched in verdicts.iter().filter_map(|v| v.as_ref().ok()) {
        show_messages(config, event, matched, environment, received_at, out)?;
    }
    writeln!(out)
}

fn describe_event(event: &Event, environment: Environment, out: &mut dyn Write) -> std::io::Result<()> {
    let assumed = if event.sandbox.is_none() {
        " (no `sandbox` field: defaults.missing_sandbox)"
    } else {
        ""
    };
    writeln!(
        out,
        "event {} · {}{assumed} · requestId {}\n{}\n",
        event.event.as_deref().unwrap_or("-"),
        environment.as_str(),
        event.request_id.as_deref().unwrap_or("-"),
        event_lines(event)
    )
}

fn show_messages(
    config: &Config,
    event: &Event,
    matched: &Match<'_>,
    environment: Environment,
    received_at: SystemTime,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let alert = Alert::of(matched, event, environment, received_at);
    let facts = Facts::gather(&alert);
    for name in &matched.rule.notify {
        let Some(channel) = config.channels.get(name) else {
            continue;
        };
        // The message the daemon would queue, templates applied: the
        // built-in one is only what a channel without templates receives.
        let (message, uses) = preview_for(&channel.kind, &facts);
        writeln!(
            out,
            "\n--- {} -> {name} ({}){} would receive:",
            matched.rule.name,
            medium_of(&channel.kind),
            templates_of(&channel.kind)
        )?;
        show_failures(&uses, out)?;
        match (&channel.kind, &message) {
            (ChannelKind::Email(email), Message::Email(message)) => show_email(email, message, out)?,
            (_, Message::Slack { payload }) => {
                writeln!(out, "{}", serde_json::to_string_pretty(payload).unwrap_or_default())?
            }
            (_, Message::Email(_)) => unreachable!("only an email channel is sent an email"),
            (_, other) => writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&other.json()).unwrap_or_default()
            )?,
        }
    }
    Ok(())
}

fn medium_of(kind: &ChannelKind) -> &'static str {
    kind.name()
}

/// ` (template /etc/syncwatch/slack.j2)`, or nothing for a channel that
/// sends the built-in message.
fn templates_of(kind: &ChannelKind) -> String {
    let named = |label: &str, template: &Option<Template>| {
        template.as_ref().map(|t| format!(" ({label} {})", t.path.display()))
    };
    let parts = match kind {
        ChannelKind::Slack(slack) => vec![named("template", &slack.template)],
        ChannelKind::Email(email) => vec![
            named("subject template", &email.subject_template),
            named("body template", &email.body_template),
        ],
        _ => Vec::new(),
    };
    parts.into_iter().flatten().collect()
}

/// A template that fails at run time: the daemon logs it and sends the
/// built-in message (or subject, or body), so that is what is shown.
fn show_failures(uses: &[TemplateUse], out: &mut dyn Write) -> std::io::Result<()> {
    for failure in uses.iter().filter_map(|u| u.failure.as_ref()) {
        writeln!(
            out,
            "template failed: {failure}\n  the daemon would log it and send the built-in text instead, as shown here"
        )?;
    }
    Ok(())
}

fn show_email(channel: &EmailChannel, message: &EmailMessage, out: &mut dyn Write) -> std::io::Result<()> {
    let to: Vec<String> = channel.to.iter().map(ToString::to_string).collect();
    writeln!(
        out,
        "From: {}\nTo: {}\nSubject: {}\n",
        channel.from,
        to.join(", "),
        message.subject
    )?;
    write!(out, "{}", message.text)?;
    writeln!(
        out,
        "[plus an HTML part of {} bytes with the same content]",
        message.html.len()
    )
}
