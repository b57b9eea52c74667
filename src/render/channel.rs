//! What one channel is sent: its templates when it has them, the built-in
//! message otherwise (and whenever a template fails at run time).

use std::time::SystemTime;

use serde_json::json;

use crate::config::ChannelKind;
use crate::store::Message;

use super::digest::{Item, render_digest_email, render_digest_slack};
use super::email::{EmailMessage, render_email};
use super::escape::{html_escape, truncate};
use super::facts::Facts;
use super::slack::render_slack;
use super::template::{Context, Medium, Template};

/// Slack shows at most this much `text` in a message.
const SLACK_TEXT_MAX: usize = 40_000;

pub fn message_for(kind: &ChannelKind, facts: &Facts) -> Message {
    let context = || Context::of(facts);
    match kind {
        ChannelKind::Slack(slack) => slack_message(slack.template.as_ref(), context, || render_slack(facts)),
        ChannelKind::Email(email) => {
            let built = render_email(facts);
            Message::Email(templated_email(
                built,
                email.subject_template.as_ref(),
                email.body_template.as_ref(),
                context,
            ))
        }
    }
}

pub fn digest_for(kind: &ChannelKind, items: &[Item], max_items: usize, now: SystemTime) -> Message {
    let context = || Context::digest(items, max_items, now);
    match kind {
        ChannelKind::Slack(slack) => slack_message(slack.template.as_ref(), context, || {
            render_digest_slack(items, max_items)
        }),
        ChannelKind::Email(email) => Message::Email(templated_email(
            render_digest_email(items, max_items),
            email.subject_template.as_ref(),
            email.body_template.as_ref(),
            context,
        )),
    }
}

/// The templated text when the channel has a template that renders, the
/// built-in message otherwise.
fn slack_message(
    template: Option<&Template>,
    context: impl Fn() -> Context,
    built_in: impl Fn() -> serde_json::Value,
) -> Message {
    let templated = template
        .and_then(|t| t.render(&context(), Medium::Slack))
        .map(|text| json!({ "text": truncate(&text, SLACK_TEXT_MAX) }));
    Message::Slack {
        payload: templated.unwrap_or_else(built_in),
    }
}

/// The built-in email with the templated subject and body put in; the
/// HTML part then shows the templated text as it is.
fn templated_email(
    mut email: EmailMessage,
    subject: Option<&Template>,
    body: Option<&Template>,
    context: impl Fn() -> Context,
) -> EmailMessage {
    if let Some(text) = subject.and_then(|t| t.render(&context(), Medium::Subject)) {
        email.subject = truncate(&text, 200);
    }
    if let Some(text) = body.and_then(|t| t.render(&context(), Medium::Text)) {
        email.html = format!(
            "<!DOCTYPE html>\n<html><body><pre style=\"font-family:sans-serif;white-space:pre-wrap\">{}</pre></body></html>\n",
            html_escape(&text)
        );
        email.text = text;
    }
    email
}
