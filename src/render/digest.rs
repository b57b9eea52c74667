//! A digest: many notifications of one channel in one message, so a storm
//! stays readable. One line per alert in its latest state (an alert that
//! fired and resolved in the window is one RESOLVED, not two alerts).
//! Counted by rule, service, data type and disconnect reason (firing,
//! still failing and resolved apart), then the first `max_items` alerts
//! and "and N more". Slack within its limits; email with a subject that
//! counts, and a table.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::email::EmailMessage;
use super::escape::{bidi_escape, html_escape, one_line, slack_escape, truncate};
use super::facts::Facts;

/// What a digest needs of one notification, kept beside it in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// `FIRING`, `STILL FAILING` or `RESOLVED`.
    pub state: String,
    pub rule: String,
    pub severity: String,
    pub business: String,
    pub connection: Option<String>,
    pub service: Option<String>,
    pub data_types: Vec<String>,
    pub reason: Option<String>,
    /// What happened, in a few words: `2 failed`, `no sync for 1d`.
    pub headline: String,
}

impl Item {
    pub fn of(facts: &Facts) -> Item {
        let mut data_types: Vec<String> = facts
            .problems
            .iter()
            .flat_map(|group| group.lines.iter())
            .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
            .chain(facts.data_type.clone())
            .collect();
        data_types.sort();
        data_types.dedup();
        Item {
            state: facts.notice.label().to_owned(),
            rule: facts.rule.clone(),
            severity: facts.severity_label(),
            business: facts.business.clone(),
            connection: facts.connection.clone(),
            service: facts.service.clone(),
            data_types,
            reason: facts.disconnect_reason.clone(),
            headline: facts.headline.clone(),
        }
    }

    /// One item per alert, in its latest state: `items` are a digest's
    /// notifications in queue order, each with the alert it speaks of
    /// (rule, connection, data type), so the last of an alert is its
    /// latest state. An alert keeps the place of its first notification.
    /// A notification without a key (queued by an older version) is an
    /// alert of its own. Only the rendering merges: the store still
    /// settles every notification the digest carries.
    pub fn latest_per_alert<K: Eq + Hash>(items: impl IntoIterator<Item = (Option<K>, Item)>) -> Vec<Item> {
        let mut alerts: Vec<Item> = Vec::new();
        let mut places: HashMap<K, usize> = HashMap::new();
        for (key, item) in items {
            match key.map(|key| places.entry(key)) {
                Some(Entry::Occupied(place)) => alerts[*place.get()] = item,
                Some(Entry::Vacant(place)) => {
                    place.insert(alerts.len());
                    alerts.push(item);
                }
                None => alerts.push(item),
            }
        }
        alerts
    }

    /// `CRITICAL production-sync-failed · Acme · CON-1 (xero) · 2 failed: bills`
    pub(super) fn line(&self) -> String {
        let mut text = match self.state.as_str() {
            "FIRING" => format!("{} {}", self.severity, self.rule),
            state => format!("{state} {}", self.rule),
        };
        if !self.business.is_empty() {
            text.push_str(&format!(" · {}", self.business));
        }
        if let Some(connection) = &self.connection {
            text.push_str(&format!(" · {connection}"));
        }
        if let Some(service) = &self.service {
            text.push_str(&format!(" ({service})"));
        }
        text.push_str(&format!(" · {}", self.headline));
        if !self.data_types.is_empty() {
            text.push_str(&format!(": {}", self.data_types.join(", ")));
        }
        one_line(&text)
    }
}

/// Counts of one dimension, largest first: `35 production-sync-failed, 2 connection-lost`.
fn counted<'a>(values: impl Iterator<Item = &'a str>) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for value in values {
        *counts.entry(value).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

fn listed(counts: &[(String, usize)]) -> String {
    let parts: Vec<String> = counts.iter().map(|(name, n)| format!("{n} {name}")).collect();
    parts.join(", ")
}

/// The tallies a digest opens with, one line each.
fn summary(items: &[Item]) -> Vec<(&'static str, String)> {
    let mut lines = vec![
        ("By state", listed(&counted(items.iter().map(|i| i.state.as_str())))),
        ("By rule", listed(&counted(items.iter().map(|i| i.rule.as_str())))),
    ];
    let services = counted(items.iter().filter_map(|i| i.service.as_deref()));
    if !services.is_empty() {
        lines.push(("By service", listed(&services)));
    }
    let types = counted(items.iter().flat_map(|i| i.data_types.iter().map(String::as_str)));
    if !types.is_empty() {
        lines.push(("By data type", listed(&types)));
    }
    let reasons = counted(items.iter().filter_map(|i| i.reason.as_deref()));
    if !reasons.is_empty() {
        lines.push(("By disconnect reason", listed(&reasons)));
    }
    lines
}

/// `37 alerts: 35 production-sync-failed, 2 connection-lost`, and how many
/// of them are over when some are: `2 alerts, 1 resolved: 2 bills-failing`.
/// `items` are alerts, one each ([`Item::latest_per_alert`]). Bidirectional
/// controls are shown escaped: the title is the digest's subject and header.
fn title(items: &[Item]) -> String {
    let noun = if items.len() == 1 { "alert" } else { "alerts" };
    let resolved = items.iter().filter(|i| i.state == "RESOLVED").count();
    let over = match resolved {
        0 => String::new(),
        n => format!(", {n} resolved"),
    };
    bidi_escape(&format!(
        "{} {noun}{over}: {}",
        items.len(),
        listed(&counted(items.iter().map(|i| i.rule.as_str())))
    ))
}

const SECTION_MAX: usize = 3000;
const HEADER_MAX: usize = 150;
/// Blocks: a header, the summary, the item sections, the closing context.
const ITEM_BLOCKS_MAX: usize = 45;

pub fn render_digest_slack(items: &[Item], max_items: usize) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": truncate(&format!("syncwatch digest · {}", one_line(&title(items))), HEADER_MAX) }
    })];
    let summary: Vec<String> = summary(items)
        .into_iter()
        .map(|(label, text)| format!("*{label}:* {}", slack_escape(&text)))
        .collect();
    blocks.push(section(&summary.join("\n")));
    let shown = &items[..items.len().min(max_items)];
    let mut current = String::new();
    let mut listed = 0;
    for item in shown {
        let line = format!("• {}\n", slack_escape(&item.line()));
        if current.chars().count() + line.chars().count() > SECTION_MAX - 100 {
            if blocks.len() >= ITEM_BLOCKS_MAX {
                break;
            }
            blocks.push(section(&current));
            current.clear();
        }
        current.push_str(&line);
        listed += 1;
    }
    if !current.is_empty() {
        blocks.push(section(&current));
    }
    let more = items.len() - listed;
    let closing = match more {
        0 => "syncwatch · every alert of this window is listed above".to_owned(),
        n => format!("… and {n} more · `syncwatch history` lists every one"),
    };
    blocks.push(json!({ "type": "context", "elements": [ { "type": "mrkdwn", "text": closing } ] }));
    let fallback = format!("[syncwatch digest] {}", one_line(&title(items)));
    json!({ "text": truncate(&slack_escape(&fallback), 4000), "blocks": blocks })
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": truncate(text, SECTION_MAX) } })
}

pub fn render_digest_email(items: &[Item], max_items: usize) -> EmailMessage {
    let subject = truncate(&one_line(&format!("[syncwatch] {}", title(items))), 200);
    let shown = &items[..items.len().min(max_items)];
    let more = items.len() - shown.len();
    let mut text = format!("{}\n\n", title(items));
    for (label, line) in summary(items) {
        text.push_str(&format!("{label}: {line}\n"));
    }
    text.push('\n');
    for item in shown {
        text.push_str(&format!("  - {}\n", item.line()));
    }
    if more > 0 {
        text.push_str(&format!("  … and {more} more (`syncwatch history` lists every one)\n"));
    }
    text.push_str("\n-- \nsent by syncwatch\n");
    EmailMessage {
        subject,
        text,
        html: html_table(items, shown, more),
        message_id: None,
        in_reply_to: None,
    }
}

fn html_table(items: &[Item], shown: &[Item], more: usize) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n<h2>{}</h2>\n<ul>\n",
        html_escape(&title(items))
    );
    for (label, line) in summary(items) {
        out.push_str(&format!("<li><strong>{label}:</strong> {}</li>\n", html_escape(&line)));
    }
    out.push_str("</ul>\n<table border=\"1\" cellpadding=\"4\" style=\"border-collapse:collapse\">\n");
    out.push_str("<tr><th>State</th><th>Severity</th><th>Rule</th><th>Business</th><th>Connection</th><th>Service</th><th>What</th></tr>\n");
    for item in shown {
        let what = match item.data_types.is_empty() {
            true => item.headline.clone(),
            false => format!("{}: {}", item.headline, item.data_types.join(", ")),
        };
        let cells = [
            item.state.as_str(),
            item.severity.as_str(),
            item.rule.as_str(),
            item.business.as_str(),
            item.connection.as_deref().unwrap_or("-"),
            item.service.as_deref().unwrap_or("-"),
            what.as_str(),
        ];
        let row: Vec<String> = cells.iter().map(|c| format!("<td>{}</td>", html_escape(c))).collect();
        out.push_str(&format!("<tr>{}</tr>\n", row.join("")));
    }
    out.push_str("</table>\n");
    if more > 0 {
        out.push_str(&format!(
            "<p>… and {more} more (<code>syncwatch history</code> lists every one)</p>\n"
        ));
    }
    out.push_str("<p style=\"color:#888\">sent by syncwatch</p>\n</body></html>\n");
    out
}

#[cfg(test)]
#[path = "digest_tests.rs"]
mod tests;
