//! Microsoft Teams (a Workflows webhook): one Adaptive Card 1.5 per
//! message, sent as the attachment of a `message`. Payload values are
//! escaped for the card's markdown, so a business named `[x](http://evil)`
//! shows as text, not as a link; the card stays under Teams' 28 KB
//! message limit by listing fewer lines and saying how many more.

use serde_json::{Value, json};

use super::digest::Item;
use super::escape::{bidi_escape, one_line, truncate};
use super::facts::Facts;
use super::notice::Notice;

/// Teams refuses messages over 28 KB; leave room for its own envelope.
pub(super) const MESSAGE_MAX: usize = 26 * 1024;
/// One value of the card, before "…".
const VALUE_MAX: usize = 500;

pub fn render_teams(facts: &Facts) -> Value {
    // Fewer lines until it fits: a storm of 5,000 failed requests is
    // still one readable card.
    let most = facts.problems.iter().map(|g| g.lines.len()).max().unwrap_or(0);
    let mut shown = most.min(100);
    loop {
        let card = message(card(facts, shown), facts.link.as_deref());
        if shown == 0 || card.to_string().len() <= MESSAGE_MAX {
            return card;
        }
        shown /= 2;
    }
}

pub fn render_teams_digest(items: &[Item], max_items: usize) -> Value {
    let mut shown = items.len().min(max_items);
    loop {
        let card = message(digest_card(items, shown), None);
        if shown == 0 || card.to_string().len() <= MESSAGE_MAX {
            return card;
        }
        shown /= 2;
    }
}

/// Escapes what the card's markdown would read as syntax: emphasis,
/// links (`[` and `]`: without them `(...)` is plain text), code, strike,
/// the `{{DATE(...)}}` functions of Adaptive Cards, and a list, heading or
/// quote marker at the start. Bidirectional controls are shown escaped,
/// line breaks flattened. The fewer characters escaped, the less a client
/// that shows a backslash would spoil.
pub fn teams_escape(text: &str) -> String {
    let text = bidi_escape(&one_line(text));
    let mut out = String::with_capacity(text.len() + 8);
    let numbered = text
        .find(|c: char| !c.is_ascii_digit())
        .filter(|&at| at > 0 && text[at..].starts_with('.'));
    for (at, c) in text.char_indices() {
        let marker = at == 0 && matches!(c, '-' | '+' | '#' | '>');
        if marker || Some(at) == numbered || matches!(c, '\\' | '*' | '_' | '[' | ']' | '`' | '~' | '{' | '}') {
            out.push('\\');
        }
        out.push(c);
    }
    truncate(&out, VALUE_MAX)
}

fn message(card: Value, link: Option<&str>) -> Value {
    let mut card = card;
    if let Some(link) = link {
        card["actions"] = json!([{ "type": "Action.OpenUrl", "title": "Open on the status page", "url": link }]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }]
    })
}

fn card(facts: &Facts, lines_shown: usize) -> Value {
    let mut body = vec![
        text_block(&title(facts), true, color(facts)),
        text_block(
            &format!("**{}** · {}", facts.environment_label(), teams_escape(&facts.summary())),
            false,
            None,
        ),
    ];
    if let Some(line) = facts.notice.line() {
        body.push(text_block(&teams_escape(&line), false, None));
    }
    if let Some(description) = &facts.description {
        body.push(text_block(&teams_escape(description), false, None));
    }
    body.push(fact_set(facts));
    for group in &facts.problems {
        let title = format!("**{} ({})**", teams_escape(group.status.as_str()), group.total);
        body.push(text_block(&title, false, None));
        body.push(text_block(&listing(&group.lines, lines_shown), false, None));
    }
    json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.5",
        "msteams": { "width": "Full" },
        "body": body,
    })
}

/// `CRITICAL rule · FIRING`, `CRITICAL rule · STILL FAILING`,
/// `RESOLVED rule`, `CLOSED rule`: severity and state at a glance.
fn title(facts: &Facts) -> String {
    let rule = teams_escape(&facts.rule);
    match facts.notice {
        Notice::Firing | Notice::StillFailing { .. } => {
            format!("{} {rule} · {}", facts.severity_label(), facts.notice.label())
        }
        Notice::Resolved { .. } => format!("{} {rule}", facts.notice.label()),
    }
}

fn color(facts: &Facts) -> Option<&'static str> {
    match facts.notice {
        Notice::Resolved { reason: None, .. } => Some("Good"),
        Notice::Resolved { .. } => None,
        _ => Some(match facts.severity {
            crate::rules::Severity::Critical => "Attention",
            _ => "Warning",
        }),
    }
}

fn fact_set(facts: &Facts) -> Value {
    let mut details = facts.details();
    // The FactSet leads with what the SPEC names; `since` comes from the
    // alert's story.
    if let Some(since) = facts.thread.as_ref().map(|t| super::notice::rfc3339(t.since)) {
        details.insert(2, ("Since", since));
    }
    let facts: Vec<Value> = details
        .into_iter()
        .map(|(label, value)| json!({ "title": label, "value": teams_escape(&value) }))
        .collect();
    json!({ "type": "FactSet", "facts": facts })
}

/// A markdown list of the first `shown` lines, then "and N more".
fn listing(lines: &[String], shown: usize) -> String {
    let mut items: Vec<String> = lines
        .iter()
        .take(shown)
        .map(|l| format!("- {}", teams_escape(l)))
        .collect();
    if lines.len() > shown {
        items.push(format!("- … and {} more", lines.len() - shown));
    }
    items.join("\r")
}

fn text_block(text: &str, title: bool, color: Option<&str>) -> Value {
    let mut block = json!({ "type": "TextBlock", "text": text, "wrap": true });
    if title {
        block["weight"] = json!("Bolder");
        block["size"] = json!("Large");
    }
    if let Some(color) = color {
        block["color"] = json!(color);
    }
    block
}

fn digest_card(items: &[Item], shown: usize) -> Value {
    let lines: Vec<String> = items.iter().map(item_line).collect();
    let body = vec![
        text_block(&format!("DIGEST · {} alerts", items.len()), true, Some("Warning")),
        text_block(&listing(&lines, shown), false, None),
    ];
    json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.5",
        "msteams": { "width": "Full" },
        "body": body,
    })
}

/// `CRITICAL rule · Acme · CON-1 (xero) · 2 failed`.
fn item_line(item: &Item) -> String {
    let state = match item.state.as_str() {
        "FIRING" => item.severity.clone(),
        other => other.to_owned(),
    };
    let mut text = format!("{state} {}", item.rule);
    if !item.business.is_empty() {
        text.push_str(&format!(" · {}", item.business));
    }
    if let Some(connection) = &item.connection {
        text.push_str(&format!(" · {connection}"));
    }
    if let Some(service) = &item.service {
        text.push_str(&format!(" ({service})"));
    }
    text.push_str(&format!(" · {}", item.headline));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_in_a_value_is_shown_as_text() {
        assert_eq!(teams_escape("[x](http://evil)"), r"\[x\](http://evil)");
        assert_eq!(teams_escape("1. first"), r"1\. first");
        assert_eq!(teams_escape("# big"), r"\# big");
        assert_eq!(teams_escape("**bold** _it_"), r"\*\*bold\*\* \_it\_");
        assert_eq!(teams_escape("- not a list"), r"\- not a list");
        assert_eq!(teams_escape("{{DATE(x)}}"), r"\{\{DATE(x)\}\}");
        assert_eq!(
            teams_escape("BIZ-1 2018-04-01..2018-04-30"),
            "BIZ-1 2018-04-01..2018-04-30"
        );
    }

    #[test]
    fn a_digest_of_a_storm_is_one_card_within_the_limit() {
        let items: Vec<Item> = (0..2000)
            .map(|i| Item {
                state: "FIRING".into(),
                rule: "production-sync-failed".into(),
                severity: "CRITICAL".into(),
                business: format!("[Biz {i}](http://evil) {}", "x".repeat(100)),
                connection: Some(format!("CON-{i}")),
                service: Some("xero".into()),
                data_types: vec!["bills".into()],
                reason: None,
                headline: "1 failed".into(),
            })
            .collect();
        let card = render_teams_digest(&items, 2000).to_string();
        assert!(card.len() <= MESSAGE_MAX, "{} bytes", card.len());
        assert!(card.contains("DIGEST · 2000 alerts"), "{card}");
        assert!(card.contains("more"), "{card}");
        assert!(!card.contains("[Biz 0](http"), "{card}");
    }
}
