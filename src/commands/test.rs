//! `syncwatch test`: run payload files, in order, through a simulated
//! daemon and print what each rule and alert made of them and what each
//! channel would receive, sending nothing.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::{ChannelKind, Config, EmailChannel};
use crate::event::{Event, parse_event};
use crate::render::{Alert, EmailMessage, Facts, Template, TemplateUse, preview_for};
use crate::rules::{Environment, Match, explain};
use crate::store::Message;
use crate::store::sqlite::audit::Told;

use super::cases::{Simulation, as_sent};
use super::describe::event_lines;
use super::{EXIT_FAILED, EXIT_OK};

/// Payloads are posted a minute apart, in the order given.
const APART: Duration = Duration::from_secs(60);

/// Runs the payloads, in order, through a fresh simulated daemon: one
/// connection's story through the lifecycle (a first match of an
/// `after: 2` rule is pending, the second fires). Returns 1 when a payload
/// cannot be read or parsed, after trying them all.
pub fn test_payloads(config: &Config, payloads: &[PathBuf], out: &mut dyn Write) -> std::io::Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let start = SystemTime::now();
    let mut simulation = match Simulation::new(Arc::new(config.clone()), start) {
        Ok(simulation) => simulation,
        Err(err) => {
            writeln!(out, "cannot set up the simulation: {err}")?;
            return Ok(EXIT_FAILED);
        }
    };
    if payloads.len() > 1 {
        writeln!(
            out,
            "The payloads are one story, posted a minute apart in this order, to a fresh store.\n"
        )?;
    }
    let mut code = EXIT_OK;
    let mut used = HashSet::new();
    for (index, path) in payloads.iter().enumerate() {
        writeln!(out, "== {}", path.display())?;
        let body = match std::fs::read(path) {
            Ok(body) => body,
            Err(err) => {
                writeln!(out, "cannot read the file: {err}\n")?;
                code = EXIT_FAILED;
                continue;
            }
        };
        let event = match parse_event(&body) {
            Ok(event) => event,
            Err(err) => {
                writeln!(out, "not a Railz event: {err}\n")?;
                code = EXIT_FAILED;
                continue;
            }
        };
        let at = start + APART * index as u32;
        let posted = runtime.block_on(async {
            simulation.advance_to(at).await?;
            let sent = as_sent(&body, &unique_request_id(&event, index, &mut used), at);
            let moved = simulation.post(sent).await?;
            Ok::<_, String>((moved, simulation.take_told()?))
        });
        match posted {
            Ok((moved, told)) => report(config, &event, &moved, &told, out)?,
            Err(err) => {
                writeln!(out, "the simulated daemon failed: {err}\n")?;
                code = EXIT_FAILED;
            }
        }
    }
    Ok(code)
}

/// The payload's own requestId, as the messages would show it; a suffix
/// when it was posted before in this run, where it would be a redelivery.
fn unique_request_id(event: &Event, index: usize, used: &mut HashSet<String>) -> String {
    let own = event
        .request_id
        .clone()
        .unwrap_or_else(|| format!("test-{}", index + 1));
    let id = match used.contains(&own) {
        true => format!("{own}-{}", index + 1),
        false => own,
    };
    used.insert(id.clone());
    id
}

fn report(config: &Config, event: &Event, moved: &[String], told: &[Told], out: &mut dyn Write) -> std::io::Result<()> {
    let environment = Environment::of(event, config.defaults.missing_sandbox);
    describe_event(event, environment, out)?;
    let verdicts = explain(&config.rules, event, config.defaults.missing_sandbox);
    for verdict in &verdicts {
        match verdict {
            Ok(m) if m.rule.notify.is_empty() => {
                writeln!(out, "matches {} ({}), record only", m.rule.name, m.rule.severity)?
            }
            Ok(m) => writeln!(
                out,
                "matches {} ({}) -> {}",
                m.rule.name,
                m.rule.severity,
                m.rule.notify.join(", ")
            )?,
            Err(miss) => writeln!(out, "no      {}: {}", miss.rule.name, miss.reason)?,
        }
    }
    // What the lifecycle made of the matches: a first match of an
    // `after: 2` rule is pending, a repeat within repeat_interval is quiet.
    for transition in moved {
        writeln!(out, "alert   {transition}")?;
    }
    if moved.is_empty() && verdicts.iter().any(Result::is_ok) {
        writeln!(out, "alert   no alert moved")?;
    }
    let matches: Vec<&Match<'_>> = verdicts.iter().filter_map(|v| v.as_ref().ok()).collect();
    for told in told {
        show_message(config, event, environment, &matches, told, out)?;
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

/// One notification the simulated daemon sent, as the channel receives it.
fn show_message(
    config: &Config,
    event: &Event,
    environment: Environment,
    matches: &[&Match<'_>],
    told: &Told,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let Some(channel) = config.channels.get(&told.channel) else {
        return Ok(());
    };
    writeln!(
        out,
        "\n--- {} -> {} ({}){} would receive:",
        told.rule,
        told.channel,
        medium_of(&channel.kind),
        templates_of(&channel.kind)
    )?;
    // The stored message does not keep why a template failed; rendering
    // the match again with this payload's values does.
    if let Some(matched) = matches.iter().find(|m| m.rule.name == told.rule) {
        let alert = Alert::of(matched, event, environment, SystemTime::now());
        let (_, uses) = preview_for(&channel.kind, &Facts::gather(&alert));
        show_failures(&uses, out)?;
    }
    match (&channel.kind, serde_json::from_str::<Message>(&told.message)) {
        (ChannelKind::Email(email), Ok(Message::Email(message))) => show_email(email, &message, out),
        (_, Ok(Message::Slack { payload, .. })) => {
            writeln!(out, "{}", serde_json::to_string_pretty(&payload).unwrap_or_default())
        }
        (_, Ok(Message::Email(_))) => unreachable!("only an email channel is sent an email"),
        (_, Ok(other)) => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&other.json()).unwrap_or_default()
        ),
        (_, Err(_)) => writeln!(out, "{}", told.message),
    }
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
