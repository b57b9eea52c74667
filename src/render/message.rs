//! What a channel is sent, as rendered: a Slack payload or an email.

use serde::{Deserialize, Serialize};

use super::EmailMessage;

/// A message rendered at ingest time, so what is delivered is what the
/// event said when it arrived, whatever changes in the config afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Message {
    Slack { payload: serde_json::Value },
    Email(EmailMessage),
}
