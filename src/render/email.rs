//! The email: a subject that reads in an inbox list, a text part and an
//! HTML part. Values are escaped for HTML, and nothing from the payload can
//! put a line break into a header. The subject and the parts' titles show
//! bidirectional controls escaped (`\u{202e}`), so a name cannot reverse
//! what they read.

use super::escape::{bidi_escape, html_escape, one_line, truncate};
use super::facts::Facts;
use super::notice::{Notice, rfc3339, rounded};

/// Long subjects are cut by mail clients anyway; keep the useful start.
const SUBJECT_MAX: usize = 200;
/// Lines of one problem group shown before "and N more".
const LINES_MAX: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmailMessage {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// `Message-ID` (`<...@from-domain>`), fixed when the message is
    /// queued, so each retry of it carries the same. Messages queued by an
    /// older version have none: the SMTP client then makes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// A STILL FAILING, RESOLVED or CLOSED: the `Message-ID` of its
    /// alert's FIRING, sent as `In-Reply-To` and `References`, so mail
    /// clients show one conversation per alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
}

pub fn render_email(facts: &Facts) -> EmailMessage {
    EmailMessage {
        subject: subject(facts),
        text: text_part(facts),
        html: html_part(facts),
        message_id: None,
        in_reply_to: None,
    }
}

/// `[syncwatch] CRITICAL production-sync-failed: 2 failed for BIZ-1 (quickbooks)`;
/// `[syncwatch] CRITICAL ...: still failing since <time>: ...`;
/// `[syncwatch] RESOLVED production-sync-failed: BIZ-1 (quickbooks) back to normal after 2h`.
fn subject(facts: &Facts) -> String {
    let subject = match &facts.notice {
        Notice::Firing => format!(
            "[syncwatch] {} {}: {}",
            facts.severity_label(),
            facts.rule,
            facts.summary()
        ),
        Notice::StillFailing { since, .. } => format!(
            "[syncwatch] {} {}: still failing since {}: {}",
            facts.severity_label(),
            facts.rule,
            rfc3339(*since),
            facts.summary()
        ),
        Notice::Resolved { lasted, .. } => format!(
            "[syncwatch] {} {}: {} after {}",
            facts.notice.label(),
            facts.rule,
            facts.summary(),
            rounded(*lasted)
        ),
    };
    truncate(&bidi_escape(&one_line(&subject)), SUBJECT_MAX)
}

fn title(facts: &Facts) -> String {
    let title = match facts.notice {
        Notice::Firing => format!("{} {}", facts.severity_label(), facts.rule),
        Notice::StillFailing { .. } => format!("{} {} (STILL FAILING)", facts.severity_label(), facts.rule),
        Notice::Resolved { .. } => format!("{} {}", facts.notice.label(), facts.rule),
    };
    bidi_escape(&title)
}

fn text_part(facts: &Facts) -> String {
    let mut out = format!(
        "{} ({})\n{}\n",
        title(facts),
        facts.environment_label(),
        bidi_escape(&facts.summary())
    );
    if let Some(line) = facts.notice.line() {
        out.push_str(&format!("{line}\n"));
    }
    if let Some(description) = &facts.description {
        out.push_str(&format!("{description}\n"));
    }
    if let Some(runbook) = &facts.runbook {
        out.push_str(&format!("Runbook: {runbook}\n"));
    }
    out.push('\n');
    for (label, value) in facts.details() {
        out.push_str(&format!("{label}: {}\n", one_line(&value)));
    }
    for group in &facts.problems {
        out.push_str(&format!("\n{} ({}):\n", group.status, group.total));
        for line in shown(&group.lines) {
            out.push_str(&format!("  - {}\n", one_line(line)));
        }
        if let Some(more) = more(&group.lines) {
            out.push_str(&format!("  … and {more} more\n"));
        }
    }
    if let Some(link) = &facts.link {
        out.push_str(&format!("\nStatus page: {link}\n"));
    }
    out.push_str("\n-- \nsent by syncwatch\n");
    out
}

fn html_part(facts: &Facts) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n");
    out.push_str(&format!(
        "<h2>{} <small>({})</small></h2>\n<p><strong>{}</strong></p>\n",
        html_escape(&title(facts)),
        facts.environment_label(),
        html_escape(&bidi_escape(&facts.summary()))
    ));
    if let Some(line) = facts.notice.line() {
        out.push_str(&format!("<p>{}</p>\n", html_escape(&line)));
    }
    if let Some(description) = &facts.description {
        out.push_str(&format!("<p>{}</p>\n", html_escape(description)));
    }
    if let Some(runbook) = &facts.runbook {
        let url = html_escape(runbook);
        out.push_str(&format!("<p><a href=\"{url}\">Runbook</a>: {url}</p>\n"));
    }
    out.push_str("<table>\n");
    for (label, value) in facts.details() {
        out.push_str(&format!(
            "<tr><th align=\"left\">{label}</th><td>{}</td></tr>\n",
            html_escape(&value)
        ));
    }
    out.push_str("</table>\n");
    for group in &facts.problems {
        out.push_str(&format!(
            "<h3>{} ({})</h3>\n<ul>\n",
            html_escape(group.status.as_str()),
            group.total
        ));
        for line in shown(&group.lines) {
            out.push_str(&format!("<li>{}</li>\n", html_escape(line)));
        }
        if let Some(more) = more(&group.lines) {
            out.push_str(&format!("<li>… and {more} more</li>\n"));
        }
        out.push_str("</ul>\n");
    }
    if let Some(link) = &facts.link {
        let link = html_escape(link);
        out.push_str(&format!("<p><a href=\"{link}\">Open on the status page</a></p>\n"));
    }
    out.push_str("<p style=\"color:#888\">sent by syncwatch</p>\n</body></html>\n");
    out
}

fn shown(lines: &[String]) -> &[String] {
    &lines[..lines.len().min(LINES_MAX)]
}

fn more(lines: &[String]) -> Option<usize> {
    (lines.len() > LINES_MAX).then(|| lines.len() - LINES_MAX)
}

#[cfg(test)]
#[path = "email_tests.rs"]
mod tests;
