//! The Slack message: Block Kit blocks plus a plain `text` fallback (shown
//! in notifications and by clients that cannot draw blocks), within Slack's
//! documented limits.

use serde_json::{Value, json};

use super::escape::{bidi_escape, one_line, slack_escape, truncate};
use super::facts::Facts;
use super::notice::Notice;
use super::slack_thread::SlackThread;

/// Slack's limits: characters in a header, in a section's text, in one
/// field, fields per section, and blocks per message.
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;
const FIELDS_MAX: usize = 10;
const BLOCKS_MAX: usize = 50;
/// Slack truncates `text` past 40,000 characters; notifications show far less.
const FALLBACK_MAX: usize = 4000;

pub fn render_slack(facts: &Facts) -> Value {
    let mut blocks = vec![header(facts), summary(facts), details(facts)];
    for group in &facts.problems {
        if blocks.len() >= BLOCKS_MAX - 1 {
            break;
        }
        let title = format!("{} ({})", group.status.as_str(), group.total);
        blocks.push(section(&listing(&title, &group.lines)));
    }
    blocks.push(context(facts));
    json!({ "text": fallback(facts), "blocks": blocks })
}

/// The message's place in its alert's thread, for a channel that posts as
/// an app: what RESOLVED writes on the parent is worded here, as the
/// message is.
pub fn slack_thread_of(facts: &Facts) -> Option<SlackThread> {
    let line = facts
        .notice
        .line()
        .map(|line| slack_escape(&bidi_escape(&one_line(&line))));
    SlackThread::of(facts, &title(facts), line)
}

fn fallback(facts: &Facts) -> String {
    let mut text = format!("[{}] {}: {}", facts.environment_label(), title(facts), facts.summary());
    if let Some(line) = facts.notice.line() {
        text.push_str(&format!(" · {line}"));
    }
    truncate(&slack_escape(&bidi_escape(&one_line(&text))), FALLBACK_MAX)
}

/// `CRITICAL rule`, `CRITICAL rule · still failing`, `✅ RESOLVED rule`,
/// `⏹ CLOSED rule`: a resolution must not read like another alarm, nor a
/// closing like an all-clear. Bidirectional controls
/// are shown escaped (`\u{202e}`): they must not reverse a title.
fn title(facts: &Facts) -> String {
    let rule = bidi_escape(&one_line(&facts.rule));
    match facts.notice {
        Notice::Firing => format!("{} {rule}", facts.severity_label()),
        Notice::StillFailing { .. } => format!("{} {rule} · still failing", facts.severity_label()),
        Notice::Resolved { reason: Some(_), .. } => format!("⏹ CLOSED {rule}"),
        Notice::Resolved { .. } => format!("✅ RESOLVED {rule}"),
    }
}

fn header(facts: &Facts) -> Value {
    // plain_text is never interpreted, so it needs no escaping.
    let text = title(facts);
    json!({
        "type": "header",
        "text": { "type": "plain_text", "text": truncate(&text, HEADER_MAX), "emoji": true }
    })
}

/// A URL inside Slack's `<url|text>`: `|`, `<` and `>` would end it early.
fn slack_link(url: &str) -> String {
    url.replace('|', "%7C").replace('<', "%3C").replace('>', "%3E")
}

fn summary(facts: &Facts) -> Value {
    let mut text = format!(
        "*{}* · {}",
        facts.environment_label(),
        slack_escape(&bidi_escape(&one_line(&facts.summary())))
    );
    if let Some(line) = facts.notice.line() {
        text.push_str(&format!("\n*{}*", slack_escape(&line)));
    }
    if let Some(description) = &facts.description {
        text.push('\n');
        text.push_str(&slack_escape(description));
    }
    if let Some(runbook) = &facts.runbook {
        text.push_str(&format!("\n<{}|Runbook>", slack_link(runbook)));
    }
    section(&text)
}

fn details(facts: &Facts) -> Value {
    let fields: Vec<Value> = facts
        .details()
        .into_iter()
        .take(FIELDS_MAX)
        .map(|(label, value)| {
            let text = format!("*{label}*\n{}", slack_escape(&one_line(&value)));
            json!({ "type": "mrkdwn", "text": truncate(&text, FIELD_MAX) })
        })
        .collect();
    json!({ "type": "section", "fields": fields })
}

fn section(text: &str) -> Value {
    json!({
        "type": "section",
        "text": { "type": "mrkdwn", "text": truncate(text, SECTION_MAX) }
    })
}

/// A titled bullet list that fits one section, ending in "and N more"
/// when the lines do not all fit.
fn listing(title: &str, lines: &[String]) -> String {
    let mut text = format!("*{}*", slack_escape(&one_line(title)));
    // Room for the longest possible "and N more" line.
    let budget = SECTION_MAX - 40;
    for (shown, line) in lines.iter().enumerate() {
        let bullet = format!("\n• {}", slack_escape(&one_line(line)));
        if text.chars().count() + bullet.chars().count() > budget {
            text.push_str(&format!("\n… and {} more", lines.len() - shown));
            return text;
        }
        text.push_str(&bullet);
    }
    text
}

fn context(facts: &Facts) -> Value {
    let request_id = facts.request_id.as_deref().unwrap_or("(none)");
    let mut text = format!(
        "syncwatch · rule `{}` · requestId {} · received {}",
        slack_escape(&one_line(&facts.rule)),
        slack_escape(&one_line(request_id)),
        facts.received_at
    );
    if let Some(link) = &facts.link {
        // The link comes first in Slack's `<url|label>`: escaped, and
        // encoded where it holds the connection, so it cannot close early.
        text = format!("<{}|status page> · {text}", slack_escape(link));
    }
    json!({
        "type": "context",
        "elements": [ { "type": "mrkdwn", "text": truncate(&text, SECTION_MAX) } ]
    })
}

#[cfg(test)]
#[path = "slack_tests.rs"]
mod tests;
