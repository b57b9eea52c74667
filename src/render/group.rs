//! Several rules, one message: the notifications one event queued for one
//! channel about one connection go out together, so three rules matching
//! one failed sync make one Slack message, one email, one Teams card. Each
//! notification is a section of it, its own message as rendered at ingest
//! (a template's too), under a title that names them all. Only the kinds a
//! human reads are grouped: PagerDuty, Alertmanager and a signed webhook
//! take one document per alert. Each alert keeps its own story: the store
//! settles every notification with the group that carried it.

use serde_json::{Value, json};

use super::digest::Item;
use super::email::EmailMessage;
use super::escape::{bidi_escape, html_escape, one_line, slack_escape, truncate};
use super::message::Message;
use super::teams::{MESSAGE_MAX, teams_escape};

/// One notification a group carries: what a digest keeps of it, and its
/// own message.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub item: Item,
    pub message: Message,
}

/// At most this many notifications in one group; the rest of an event's
/// (a pathological rules file) make a group of their own after it.
pub const MAX_SECTIONS: usize = 20;

/// Whether a message like `message` goes out grouped with the others of
/// its event: the kinds a human reads.
pub fn groups(message: &Message) -> bool {
    matches!(
        message,
        Message::Slack { .. } | Message::Email(_) | Message::Teams { .. }
    )
}

/// The one message carrying `sections`, in their order; `None` for fewer
/// than two, or when they are not all of one kind that groups (a reload
/// changed the channel's kind between them).
pub fn group_message(sections: &[Section]) -> Option<Message> {
    let first = sections.first().filter(|_| sections.len() > 1)?;
    let items: Vec<&Item> = sections.iter().map(|s| &s.item).collect();
    let all = |of: fn(&Message) -> Option<&Value>| sections.iter().map(|s| of(&s.message)).collect::<Option<Vec<_>>>();
    match &first.message {
        Message::Slack { .. } => {
            let payloads = all(|m| match m {
                Message::Slack { payload, .. } => Some(payload),
                _ => None,
            })?;
            let threads = sections
                .iter()
                .filter_map(|s| s.message.slack_thread().cloned())
                .collect();
            let message = Message::Slack {
                payload: slack(&items, &payloads),
                thread: None,
            };
            Some(message.told_in_group(threads))
        }
        Message::Teams { .. } => {
            let payloads = all(|m| match m {
                Message::Teams { payload } => Some(payload),
                _ => None,
            })?;
            Some(Message::Teams {
                payload: teams(&items, &payloads),
            })
        }
        Message::Email(_) => {
            let emails = (sections.iter())
                .map(|s| match &s.message {
                    Message::Email(email) => Some(email),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Message::Email(email(&items, &emails)))
        }
        _ => None,
    }
}

/// `3 alerts for Acme (xero)`: the business and service as the first
/// notification names them (one event, one connection), as a single
/// message's summary does. Bidirectional controls are shown escaped.
fn title(items: &[&Item]) -> String {
    let first = items[0];
    let mut text = format!("{} alerts for {}", items.len(), first.business);
    if let Some(service) = &first.service {
        text.push_str(&format!(" ({service})"));
    }
    bidi_escape(&one_line(&text))
}

/// `CRITICAL production-sync-failed`, `WARNING bills-failing (still
/// failing)`, `RESOLVED empty-income`.
fn label(item: &Item) -> String {
    let text = match item.state.as_str() {
        "FIRING" => format!("{} {}", item.severity, item.rule),
        "STILL FAILING" => format!("{} {} (still failing)", item.severity, item.rule),
        state => format!("{state} {}", item.rule),
    };
    bidi_escape(&one_line(&text))
}

fn labels(items: &[&Item]) -> String {
    let labels: Vec<String> = items.iter().map(|item| label(item)).collect();
    labels.join(", ")
}

/// Slack's limits: a header, a section's text, blocks per message; and
/// how much `text` a notification shows.
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
const BLOCKS_MAX: usize = 50;
const FALLBACK_MAX: usize = 4000;

/// A header naming the rules (from `rules.yaml`: no payload value in a
/// header, as in a single message's), then each notification's blocks
/// after a divider. When the next one's blocks would not fit in Slack's
/// 50, it and those after it are one line each in a last section.
fn slack(items: &[&Item], payloads: &[&Value]) -> Value {
    let header = truncate(&format!("{} alerts: {}", items.len(), labels(items)), HEADER_MAX);
    let mut blocks = vec![json!({ "type": "header", "text": { "type": "plain_text", "text": header, "emoji": true } })];
    for (at, payload) in payloads.iter().enumerate() {
        let own = own_blocks(payload);
        // A divider and a section for those that would not fit after it.
        let rest = if at + 1 < payloads.len() { 2 } else { 0 };
        if blocks.len() + 1 + own.len() + rest > BLOCKS_MAX {
            blocks.push(json!({ "type": "divider" }));
            blocks.push(slack_section(&slack_lines(&items[at..])));
            break;
        }
        blocks.push(json!({ "type": "divider" }));
        blocks.extend(own);
    }
    let fallback = format!("[syncwatch] {}: {}", title(items), labels(items));
    json!({ "text": truncate(&slack_escape(&fallback), FALLBACK_MAX), "blocks": blocks })
}

/// A message's blocks; a template's text (no blocks) as one section.
fn own_blocks(payload: &Value) -> Vec<Value> {
    match payload["blocks"].as_array().filter(|blocks| !blocks.is_empty()) {
        Some(blocks) => blocks.clone(),
        None => vec![slack_section(payload["text"].as_str().unwrap_or_default())],
    }
}

fn slack_section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": truncate(text, SECTION_MAX) } })
}

/// One line per notification, then "and N more" past a section's length.
fn slack_lines(items: &[&Item]) -> String {
    let mut text = String::new();
    for (shown, item) in items.iter().enumerate() {
        let line = format!("• {}\n", slack_escape(&item.line()));
        if text.chars().count() + line.chars().count() > SECTION_MAX - 40 {
            text.push_str(&format!("… and {} more", items.len() - shown));
            break;
        }
        text.push_str(&line);
    }
    text
}

const SUBJECT_MAX: usize = 200;
const SIGNATURE: &str = "\n-- \nsent by syncwatch\n";
const HTML_SIGNATURE: &str = "<p style=\"color:#888\">sent by syncwatch</p>";

/// A subject naming every rule, then each email's text and HTML in turn,
/// signed once. Its `Message-ID` is the first one's; it answers every
/// FIRING the emails answered, so mail clients keep each alert's thread.
fn email(items: &[&Item], emails: &[&EmailMessage]) -> EmailMessage {
    let title = title(items);
    let subject = truncate(&format!("[syncwatch] {title}: {}", labels(items)), SUBJECT_MAX);
    let mut text = format!("{title}\n");
    let mut html = format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n<h2>{}</h2>\n<ul>\n",
        html_escape(&title)
    );
    for item in items {
        text.push_str(&format!("  - {}\n", label(item)));
        html.push_str(&format!("<li>{}</li>\n", html_escape(&label(item))));
    }
    html.push_str("</ul>\n");
    for email in emails {
        let own = email.text.strip_suffix(SIGNATURE).unwrap_or(&email.text);
        text.push_str(&format!("\n{}\n\n{}\n", "-".repeat(60), own.trim_end()));
        html.push_str(&format!("<hr>\n{}\n", own_html(email)));
    }
    text.push_str(SIGNATURE);
    html.push_str(&format!("{HTML_SIGNATURE}\n</body></html>\n"));
    let mut answered: Vec<&str> = Vec::new();
    for firing in emails.iter().filter_map(|e| e.in_reply_to.as_deref()) {
        if !answered.contains(&firing) {
            answered.push(firing);
        }
    }
    EmailMessage {
        subject,
        text,
        html,
        message_id: emails[0].message_id.clone(),
        in_reply_to: (!answered.is_empty()).then(|| answered.join(" ")),
    }
}

/// What an email's HTML shows inside its `<body>`, unsigned; its text,
/// escaped, if the HTML has no body.
fn own_html(email: &EmailMessage) -> String {
    let html = &email.html;
    let inner = html.find("<body").and_then(|start| {
        let open = start + html[start..].find('>')? + 1;
        let end = html.rfind("</body>")?;
        (open <= end).then(|| html[open..end].trim())
    });
    match inner {
        Some(inner) => inner.strip_suffix(HTML_SIGNATURE).unwrap_or(inner).trim().to_owned(),
        None => format!("<pre>{}</pre>", html_escape(&email.text)),
    }
}

/// One card: the title and the rules, then each notification's card body
/// in a container. Past Teams' size, the last ones' bodies are left out
/// (the list at the top still names them).
fn teams(items: &[&Item], payloads: &[&Value]) -> Value {
    let cards: Vec<&Value> = payloads.iter().map(|p| &p["attachments"][0]["content"]).collect();
    let mut shown = cards.len();
    loop {
        let message = teams_card(items, &cards, shown);
        if shown == 0 || message.to_string().len() <= MESSAGE_MAX {
            return message;
        }
        shown -= 1;
    }
}

fn teams_card(items: &[&Item], cards: &[&Value], shown: usize) -> Value {
    let listed: Vec<String> = items
        .iter()
        .map(|item| format!("- {}", teams_escape(&label(item))))
        .collect();
    let mut body = vec![
        json!({ "type": "TextBlock", "text": teams_escape(&title(items)), "wrap": true, "weight": "Bolder", "size": "Large" }),
        json!({ "type": "TextBlock", "text": listed.join("\r"), "wrap": true }),
    ];
    for card in &cards[..shown] {
        body.push(json!({ "type": "Container", "separator": true, "spacing": "Large", "items": card["body"] }));
    }
    if shown < cards.len() {
        let more = format!("… and {} more, listed above", cards.len() - shown);
        body.push(json!({ "type": "TextBlock", "text": more, "wrap": true, "separator": true }));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.5",
        "msteams": { "width": "Full" },
        "body": body,
    });
    // The status page link of the first: the connection's, for them all.
    if let Some(actions) = cards.first().and_then(|c| c.get("actions")) {
        card["actions"] = actions.clone();
    }
    json!({
        "type": "message",
        "attachments": [{ "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card }]
    })
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
