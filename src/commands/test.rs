//! `syncwatch test`: evaluate payload files against the rules and print
//! what would be sent on each channel, sending nothing.

use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::config::{ChannelKind, Config, EmailChannel};
use crate::event::{Event, parse_event};
use crate::render::{Alert, EmailMessage, Facts, render_email, render_slack};
use crate::rules::{Environment, Match, explain};

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
        match &channel.kind {
            ChannelKind::Slack(_) => {
                writeln!(out, "\n--- {} -> {name} (slack) would receive:", matched.rule.name)?;
                let json = serde_json::to_string_pretty(&render_slack(&facts)).unwrap_or_default();
                writeln!(out, "{json}")?;
            }
            ChannelKind::Email(email) => {
                writeln!(out, "\n--- {} -> {name} (email) would receive:", matched.rule.name)?;
                show_email(email, &render_email(&facts), out)?;
            }
        }
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
