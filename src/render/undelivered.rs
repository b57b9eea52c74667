//! The notice a channel's `fallback` receives when one of its messages
//! failed for good or expired: which channel, why, and what the message
//! said, worded for the fallback's own kind. A channel that people read
//! (Slack, email, Teams, PagerDuty) is the only sensible fallback.

use serde_json::{Value, json};

use super::Message;
use super::channel::message_id;
use super::email::EmailMessage;
use super::escape::{bidi_escape, html_escape, one_line, slack_escape, truncate};
use super::pagerduty::dedup_key;
use super::teams::teams_escape;
use crate::config::ChannelKind;

/// What failed, for the fallback to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelivered {
    /// The channel that could not be reached.
    pub channel: String,
    pub rule: String,
    pub request_id: Option<String>,
    /// The failed message's own first line.
    pub said: String,
    pub error: String,
    /// Given up after `delivery.max_age` rather than refused.
    pub expired: bool,
}

impl Undelivered {
    fn title(&self) -> String {
        format!("syncwatch could not deliver to {}", self.channel)
    }

    /// `refused: 404 no_service` or `gave up after ...`, one line.
    fn why(&self) -> String {
        let how = if self.expired { "expired" } else { "failed for good" };
        format!("{how}: {}", one_line(&self.error))
    }

    fn lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("It said: {}", one_line(&bidi_escape(&self.said))),
            format!("Why: {}", self.why()),
            format!("Rule: {}", self.rule),
        ];
        if let Some(id) = &self.request_id {
            lines.push(format!("requestId: {id}"));
        }
        lines.push(format!(
            "Check the channel `{}` (send-test), then `syncwatch history --status failed`.",
            self.channel
        ));
        lines
    }
}

/// The notice for a fallback of `kind`; `None` for a kind no person reads
/// (a webhook, Alertmanager), which `check` refuses as a fallback.
pub fn undelivered_for(kind: &ChannelKind, notice: &Undelivered) -> Option<Message> {
    match kind {
        ChannelKind::Slack(_) => Some(Message::Slack {
            payload: slack(notice),
            thread: None,
        }),
        ChannelKind::Email(channel) => {
            // Every email's Message-ID is at the `from` domain.
            let mut message = email(notice);
            let unique = fastrand::u64(..).to_string();
            message.message_id = Some(message_id(
                &[&notice.channel, &unique],
                "undelivered",
                channel.from.email.domain(),
            ));
            Some(Message::Email(message))
        }
        ChannelKind::Teams(_) => Some(Message::Teams { payload: teams(notice) }),
        ChannelKind::Pagerduty(_) => Some(Message::Pagerduty {
            event: pagerduty(notice),
        }),
        _ => None,
    }
}

fn slack(notice: &Undelivered) -> Value {
    let body: Vec<String> = notice.lines().iter().map(|l| slack_escape(l)).collect();
    let text = format!(":warning: *{}*\n{}", slack_escape(&notice.title()), body.join("\n"));
    json!({ "text": truncate(&text, 3000) })
}

fn email(notice: &Undelivered) -> EmailMessage {
    let lines = notice.lines();
    let html: Vec<String> = lines.iter().map(|l| format!("<p>{}</p>", html_escape(l))).collect();
    EmailMessage {
        subject: truncate(
            &format!(
                "[syncwatch] {}: {}",
                notice.title(),
                one_line(&bidi_escape(&notice.said))
            ),
            200,
        ),
        text: format!("{}\n\n{}\n\n-- \nsent by syncwatch\n", notice.title(), lines.join("\n")),
        html: format!(
            "<!DOCTYPE html>\n<html><body style=\"font-family:sans-serif\">\n<h2>{}</h2>\n{}\n</body></html>\n",
            html_escape(&notice.title()),
            html.join("\n")
        ),
        message_id: None,
        in_reply_to: None,
    }
}

fn teams(notice: &Undelivered) -> Value {
    let mut body = vec![
        json!({ "type": "TextBlock", "text": teams_escape(&notice.title()), "weight": "Bolder", "size": "Medium", "wrap": true }),
    ];
    body.extend(
        notice
            .lines()
            .iter()
            .map(|l| json!({ "type": "TextBlock", "text": teams_escape(l), "wrap": true })),
    );
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.5",
                "body": body,
            }
        }]
    })
}

/// One incident per unreachable channel: more failures re-trigger it.
fn pagerduty(notice: &Undelivered) -> Value {
    json!({
        "event_action": "trigger",
        "dedup_key": dedup_key(&format!("syncwatch-undelivered/{}", notice.channel)),
        "client": "syncwatch",
        "payload": {
            "summary": truncate(&format!("{}: {}", notice.title(), one_line(&notice.said)), 1024),
            "source": "syncwatch",
            "severity": "warning",
            "class": "undelivered",
            "component": notice.channel,
            "custom_details": { "said": notice.said, "why": notice.why(), "rule": notice.rule, "request_id": notice.request_id },
        }
    })
}

impl Message {
    /// The message's own first line, for a notice about it: the Slack
    /// fallback text, the email subject, the PagerDuty summary, the card's
    /// title, the webhook's or Alertmanager's summary.
    pub fn headline(&self) -> String {
        let pointer = |value: &Value, at: &str| value.pointer(at).and_then(Value::as_str).map(str::to_owned);
        let found = match self {
            Message::Email(email) => Some(email.subject.clone()),
            Message::Slack { payload, .. } => pointer(payload, "/text"),
            Message::Pagerduty { event } => pointer(event, "/payload/summary")
                .or_else(|| pointer(event, "/dedup_key").map(|k| format!("resolve {k}"))),
            Message::Teams { payload } => pointer(payload, "/attachments/0/content/body/0/text"),
            Message::Webhook { document } => pointer(document, "/alert/summary")
                .or_else(|| pointer(document, "/kind").map(|k| format!("a {k} document"))),
            Message::Alertmanager { alerts } => pointer(alerts, "/0/annotations/summary"),
        };
        found.unwrap_or_else(|| "(a message without a summary)".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Undelivered {
        Undelivered {
            channel: "ops-slack".into(),
            rule: "bills-failing".into(),
            request_id: Some("req-1".into()),
            said: "CRITICAL bills-failing: 1 failed for <!channel> (xero)".into(),
            error: "404 no_service".into(),
            expired: false,
        }
    }

    #[test]
    fn a_slack_fallback_names_the_channel_and_escapes_what_the_message_said() {
        let Message::Slack { payload, .. } = slack_message() else {
            unreachable!()
        };
        let text = payload["text"].as_str().unwrap();
        assert!(text.contains("syncwatch could not deliver to ops-slack"), "{text}");
        assert!(
            text.contains("&lt;!channel&gt;"),
            "no ping through the fallback: {text}"
        );
        assert!(text.contains("Why: failed for good: 404 no_service"), "{text}");
    }

    fn slack_message() -> Message {
        Message::Slack {
            payload: slack(&notice()),
            thread: None,
        }
    }

    #[test]
    fn an_email_fallback_says_it_in_the_subject() {
        let message = email(&notice());
        assert_eq!(
            message.subject,
            "[syncwatch] syncwatch could not deliver to ops-slack: CRITICAL bills-failing: 1 failed for <!channel> (xero)"
        );
        assert!(message.html.contains("&lt;!channel&gt;"));
    }

    #[test]
    fn every_kind_of_message_has_a_headline() {
        assert_eq!(slack_message().headline(), slack(&notice())["text"].as_str().unwrap());
        let pd = Message::Pagerduty {
            event: json!({ "event_action": "resolve", "dedup_key": "k" }),
        };
        assert_eq!(pd.headline(), "resolve k");
        let am = Message::Alertmanager {
            alerts: json!([{ "annotations": { "summary": "WARNING r: x" } }]),
        };
        assert_eq!(am.headline(), "WARNING r: x");
    }
}
