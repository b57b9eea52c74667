//! Alertmanager's v2 API: POST the alerts to `<url>/api/v2/alerts`. 200
//! taken; 400 alerts it cannot read (permanent); 5xx and an Alertmanager
//! that cannot be reached are retried. The same client re-posts firing
//! alerts (see `outbox::resend`).

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::config::AlertmanagerChannel;

use super::http::{classify_refusal, client, describe_error};
use super::sender::Outcome;

pub struct AlertmanagerSender {
    client: reqwest::Client,
    /// `<url>/api/v2/alerts`.
    endpoint: String,
}

impl AlertmanagerSender {
    pub fn new(channel: &AlertmanagerChannel) -> Result<AlertmanagerSender, String> {
        Ok(AlertmanagerSender {
            client: client()?,
            endpoint: format!("{}/api/v2/alerts", channel.url),
        })
    }

    pub async fn send(&self, alerts: &Value) -> Outcome {
        let body = serde_json::to_vec(alerts).unwrap_or_default();
        let request = (self.client.post(&self.endpoint))
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        match request.send().await {
            Ok(response) => classify(response).await,
            Err(err) if err.is_connect() || err.is_timeout() => Outcome::Transient {
                reason: format!(
                    "{} (Alertmanager is not reachable at {}: is it running, and is `url` its address?)",
                    describe_error(err),
                    self.endpoint
                ),
                retry_after: None,
            },
            Err(err) => Outcome::Transient {
                reason: describe_error(err),
                retry_after: None,
            },
        }
    }
}

async fn classify(response: reqwest::Response) -> Outcome {
    classify_refusal(response, None, |status, _, answer| match status {
        StatusCode::NOT_FOUND => {
            format!("{answer} (no /api/v2/alerts there: is `url` an Alertmanager, v0.16 or later?)")
        }
        _ => answer,
    })
    .await
}
