//! Microsoft Teams Workflows webhooks: POST the card message. The flow
//! answers 202 once it has taken it; 429 with Retry-After when the flow is
//! throttled; 5xx retried; any other 4xx (a deleted or turned-off flow, a
//! URL whose signature no longer holds) will not work without a human.

use reqwest::header::CONTENT_TYPE;

use crate::config::{Secret, TeamsChannel};

use super::http::{classify, client, describe_error};
use super::sender::Outcome;

pub struct TeamsSender {
    client: reqwest::Client,
    url: Secret,
}

impl TeamsSender {
    pub fn new(channel: &TeamsChannel) -> Result<TeamsSender, String> {
        Ok(TeamsSender {
            client: client()?,
            url: channel.webhook_url.clone(),
        })
    }

    /// The workflow URL: channels that share one share its throttling.
    pub fn url(&self) -> &str {
        self.url.expose()
    }

    pub async fn send(&self, payload: &serde_json::Value) -> Outcome {
        let body = serde_json::to_vec(payload).unwrap_or_default();
        let request = (self.client.post(self.url.expose()))
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        match request.send().await {
            Ok(response) => explained(classify(response).await),
            Err(err) => Outcome::Transient {
                reason: describe_error(err),
                retry_after: None,
            },
        }
    }
}

/// A refusal says what usually causes it.
fn explained(outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Permanent { reason } => Outcome::Permanent {
            reason: format!(
                "{reason} (Teams refused the message: the Workflows URL is wrong, its flow was deleted or turned off, or its signature no longer holds)"
            ),
        },
        other => other,
    }
}
