//! What a channel is sent, as rendered: a Slack payload, an email, a
//! PagerDuty event, a Teams card, a webhook document or Alertmanager
//! alerts.

use serde::{Deserialize, Serialize};

use super::EmailMessage;

/// A message rendered at ingest time, so what is delivered is what the
/// event said when it arrived, whatever changes in the config afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Message {
    Slack {
        payload: serde_json::Value,
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
            Message::Slack { payload } | Message::Teams { payload } => Some(payload),
            Message::Pagerduty { event } => Some(event),
            Message::Webhook { document } => Some(document),
            Message::Alertmanager { alerts } => Some(alerts),
            Message::Email(_) => None,
        }
    }
}
