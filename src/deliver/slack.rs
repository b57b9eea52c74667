//! Slack incoming webhooks: POST the Block Kit JSON, and read Slack's
//! answer as it documents it (200 `ok`; 400 `invalid_payload`; 403
//! `action_prohibited`; 404 `no_service`; 410 `channel_is_archived`;
//! 429 with Retry-After; 5xx).

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;

use crate::config::Secret;

use super::http::{classify, client, describe_error};
use super::sender::Outcome;

pub struct SlackSender {
    client: reqwest::Client,
    url: Secret,
    /// The channel's own `min_interval`, if set.
    pub min_interval: Option<Duration>,
}

impl SlackSender {
    pub fn new(url: &Secret, min_interval: Option<Duration>) -> Result<SlackSender, String> {
        Ok(SlackSender {
            client: client()?,
            url: url.clone(),
            min_interval,
        })
    }

    /// The webhook URL: channels that share one share its rate limit.
    pub fn url(&self) -> &str {
        self.url.expose()
    }

    pub async fn send(&self, payload: &serde_json::Value) -> Outcome {
        let body = serde_json::to_vec(payload).unwrap_or_default();
        let request = self
            .client
            .post(self.url.expose())
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        match request.send().await {
            Ok(response) => classify(response).await,
            Err(err) => Outcome::Transient {
                reason: describe_error(err),
                retry_after: None,
            },
        }
    }
}
