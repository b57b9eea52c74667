//! What a channel is sent, as rendered: a Slack payload, an email, a
//! PagerDuty event, a Teams card, a webhook document or Alertmanager
//! alerts.

use serde::{Deserialize, Serialize};

use super::EmailMessage;
use super::slack_thread::SlackThread;

/// A message rendered at ingest time, so what is delivered is what the
/// event said when it arrived, whatever changes in the config afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Message {
    Slack {
        payload: serde_json::Value,
        /// Its place in its alert's thread, used when the channel posts as
        /// an app; absent in messages queued before threads existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<SlackThread>,
    },
    Email(EmailMessage),
    /// An Events API v2 event without its routing key (a credential is
    /// added when sending, never stored in the queue).
    Pagerduty {
        event: serde_json::Value,
    },
    Teams {
        payload: serde_json::Value,
    },
    /// The signed document; its signature is made at each attempt.
    Webhook {
        document: serde_json::Value,
    },
    /// The alerts array posted to `/api/v2/alerts`.
    Alertmanager {
        alerts: serde_json::Value,
    },
}

impl Message {
    /// The JSON body, for the kinds that are one (all but email).
    pub fn json(&self) -> Option<&serde_json::Value> {
        match self {
            Message::Slack { payload, .. } | Message::Teams { payload } => Some(payload),
            Message::Pagerduty { event } => Some(event),
            Message::Webhook { document } => Some(document),
            Message::Alertmanager { alerts } => Some(alerts),
            Message::Email(_) => None,
        }
    }

    /// A Slack message with its place in its alert's thread; any other
    /// message as it is.
    pub fn in_thread(self, place: Option<SlackThread>) -> Message {
        match self {
            Message::Slack { payload, .. } => Message::Slack { payload, thread: place },
            other => other,
        }
    }

    /// A Slack digest carrying messages of these places in their threads
    /// (see [`SlackThread::digest_of`]); any other message as it is.
    pub fn told_in_digest(self, carried: Vec<SlackThread>) -> Message {
        self.in_thread(Some(SlackThread::digest_of(carried)))
    }

    /// A Slack group carrying messages of these places in their threads
    /// (see [`SlackThread::group_of`]); any other message as it is.
    pub fn told_in_group(self, carried: Vec<SlackThread>) -> Message {
        self.in_thread(Some(SlackThread::group_of(carried)))
    }

    /// A Slack message's place in its alert's thread, if it has one.
    pub fn slack_thread(&self) -> Option<&SlackThread> {
        match self {
            Message::Slack { thread, .. } => thread.as_ref(),
            _ => None,
        }
    }
}
