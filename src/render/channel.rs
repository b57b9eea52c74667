//! What one channel is sent: its templates when it has them, the built-in
//! message otherwise (and whenever a template fails at run time).

use std::path::PathBuf;
use std::time::SystemTime;

use serde_json::json;

use super::Message;
use crate::config::ChannelKind;

use super::alertmanager::render_alertmanager;
use super::digest::{Item, render_digest_email, render_digest_slack};
use super::email::{EmailMessage, render_email};
use super::escape::{html_escape, truncate};
use super::facts::Facts;
use super::notice::Notice;
use super::pagerduty::render_pagerduty;
use super::slack::{render_slack, slack_thread_of};
use super::teams::{render_teams, render_teams_digest};
use super::template::{Context, Medium, Template};
use super::webhook::{render_webhook, render_webhook_digest};

/// Slack shows at most this much `text` in a message.
const SLACK_TEXT_MAX: usize = 40_000;

pub fn message_for(kind: &ChannelKind, facts: &Facts) -> Message {
    message_with(kind, facts, &mut |template, medium| {
        template.render(&Context::of(facts), medium)
    })
}

/// What became of one of a channel's templates, for `syncwatch test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateUse {
    pub path: PathBuf,
    /// Why it failed, when it did: the built-in message (or subject, or
    /// body) went instead.
    pub failure: Option<String>,
}

/// `message_for`, and what became of each of the channel's templates:
/// `syncwatch test` says a template failed where the daemon only logs it.
pub fn preview_for(kind: &ChannelKind, facts: &Facts) -> (Message, Vec<TemplateUse>) {
    let mut uses = Vec::new();
    let message = message_with(kind, facts, &mut |template, medium| {
        let outcome = template.outcome(&Context::of(facts), medium);
        uses.push(TemplateUse {
            path: template.path.clone(),
            failure: outcome.as_ref().err().cloned(),
        });
        outcome.ok()
    });
    (message, uses)
}

/// Renders one template for one medium; `None` keeps the built-in text.
type Render<'a> = dyn FnMut(&Template, Medium) -> Option<String> + 'a;

fn message_with(kind: &ChannelKind, facts: &Facts, render: &mut Render<'_>) -> Message {
    match kind {
        ChannelKind::Slack(slack) => {
            slack_message(slack.template.as_ref(), render, || render_slack(facts)).in_thread(slack_thread_of(facts))
        }
        ChannelKind::Email(email) => {
            let message = templated_email(
                render_email(facts),
                email.subject_template.as_ref(),
                email.body_template.as_ref(),
                render,
            );
            Message::Email(threaded(message, email.from.email.domain(), facts))
        }
        // No templates for the machine-read kinds: their shape is the
        // receiver's contract.
        ChannelKind::Pagerduty(_) => Message::Pagerduty {
            event: render_pagerduty(facts),
        },
        ChannelKind::Teams(_) => Message::Teams {
            payload: render_teams(facts),
        },
        ChannelKind::Webhook(_) => Message::Webhook {
            document: render_webhook(facts),
        },
        ChannelKind::Alertmanager(_) => Message::Alertmanager {
            alerts: render_alertmanager(facts),
        },
    }
}

/// Gives an email its `Message-ID` at the `from` domain, and a STILL
/// FAILING, RESOLVED or CLOSED the FIRING's as `In-Reply-To`. The FIRING's
/// id is made from the alert episode alone (its key and when it started
/// firing), so the messages that follow it can name it without storing it.
fn threaded(mut message: EmailMessage, domain: &str, facts: &Facts) -> EmailMessage {
    let Some(thread) = &facts.thread else {
        message.message_id = Some(message_id(&[&fastrand::u64(..).to_string()], "digest", domain));
        return message;
    };
    let since = (thread.since.duration_since(std::time::UNIX_EPOCH))
        .map_or(0, |d| d.as_millis())
        .to_string();
    let firing = message_id(&[&thread.key, &since], "firing", domain);
    if matches!(facts.notice, Notice::Firing) {
        message.message_id = Some(firing);
        return message;
    }
    let unique = fastrand::u64(..).to_string();
    let label = facts.notice.label().to_lowercase().replace(' ', "-");
    message.message_id = Some(message_id(&[&thread.key, &since, &unique], &label, domain));
    message.in_reply_to = Some(firing);
    message
}

/// `<syncwatch.firing.1f2e3d4c5b6a79880f1e2d3c@example.com>`: 96 bits of
/// the SHA-256 of `parts`.
pub(super) fn message_id(parts: &[&str], kind: &str, domain: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let hex: String = hash.finalize()[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("<syncwatch.{kind}.{hex}@{domain}>")
}

pub fn digest_for(kind: &ChannelKind, items: &[Item], max_items: usize, now: SystemTime) -> Message {
    let render = &mut |template: &Template, medium| template.render(&Context::digest(items, max_items, now), medium);
    match kind {
        ChannelKind::Slack(slack) => slack_message(slack.template.as_ref(), render, || {
            render_digest_slack(items, max_items)
        }),
        ChannelKind::Email(email) => Message::Email(templated_email(
            render_digest_email(items, max_items),
            email.subject_template.as_ref(),
            email.body_template.as_ref(),
            render,
        )),
        ChannelKind::Teams(_) => Message::Teams {
            payload: render_teams_digest(items, max_items),
        },
        // PagerDuty and Alertmanager have no digests (`check` refuses
        // one): should one be asked for anyway, the webhook document says
        // it, and their sender refuses it as rendered for another kind.
        ChannelKind::Webhook(_) | ChannelKind::Pagerduty(_) | ChannelKind::Alertmanager(_) => Message::Webhook {
            document: render_webhook_digest(items, max_items, now),
        },
    }
}

/// The templated text when the channel has a template that renders, the
/// built-in message otherwise.
pub(super) fn slack_message(
    template: Option<&Template>,
    render: &mut Render<'_>,
    built_in: impl Fn() -> serde_json::Value,
) -> Message {
    let templated = template
        .and_then(|t| render(t, Medium::Slack))
        .map(|text| json!({ "text": truncate(&text, SLACK_TEXT_MAX) }));
    Message::Slack {
        payload: templated.unwrap_or_else(built_in),
        thread: None,
    }
}

/// The built-in email with the templated subject and body put in; the
/// HTML part then shows the templated text as it is.
pub(super) fn templated_email(
    mut email: EmailMessage,
    subject: Option<&Template>,
    body: Option<&Template>,
    render: &mut Render<'_>,
) -> EmailMessage {
    if let Some(text) = subject.and_then(|t| render(t, Medium::Subject)) {
        email.subject = truncate(&text, 200);
    }
    // The HTML part escapes the whole text, payload values and all: a
    // `<script>` in a business name arrives as text, never as markup.
    if let Some(text) = body.and_then(|t| render(t, Medium::Text)) {
        email.html = format!(
            "<!DOCTYPE html>\n<html><body><pre style=\"font-family:sans-serif;white-space:pre-wrap\">{}</pre></body></html>\n",
            html_escape(&text)
        );
        email.text = text;
    }
    email
}
